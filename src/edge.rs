//! [`Edge`]: which items of a burst `throttle` and `debounce` let through, and what they do with
//! an item that does not pass at once.

use crate::drop_hook::DropHook;
use crate::engine::Run;

/// Which items of a burst a [`throttle`](crate::StreamzExt::throttle) or
/// [`debounce`](crate::StreamzExt::debounce) lets through: the `leading` and `trailing`
/// options of RxJS and lodash, as one value.
///
/// - `Leading`: the first item, at once.
/// - `Trailing`: the latest item, when the window or quiet period ends.
/// - `Both`: the first item at once, and the latest one at the end if it is another item.
///
/// `throttle` defaults to `Leading`, as RxJS's `throttleTime` does (lodash's `throttle`
/// defaults to both edges: `Both` here); `debounce` defaults to `Trailing`, as both do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edge {
    /// The first item of a burst, at once.
    Leading,
    /// The latest item of a burst, at its end.
    Trailing,
    /// The first item at once, and the latest at the end (if another item arrived after the
    /// first).
    Both,
}

impl Edge {
    pub(crate) fn trailing(self) -> bool {
        matches!(self, Edge::Trailing | Edge::Both)
    }
}

/// An item that a throttle or a debounce neither yields nor leads with: with `Edge::Leading`
/// it is dropped; otherwise it becomes the trailing candidate in `slot`, and the one it
/// replaces is dropped.
#[inline]
pub(crate) fn keep_or_drop<T, D: DropHook<T>>(
    edge: Edge,
    slot: &mut Option<T>,
    hook: &mut D,
    item: T,
) {
    if edge == Edge::Leading {
        hook.dropped(item);
    } else if let Some(replaced) = slot.replace(item) {
        hook.dropped(replaced);
    }
}

/// Drives `run` with [`keep_or_drop`], the edge looked at once per run. For a trailing
/// candidate, the latest item is held in a local while the run lasts rather than in `slot`
/// (which the compiler must otherwise write on every item); it is put back when the run ends,
/// even by a panic.
#[inline]
pub(crate) fn keep_or_drop_run<T, D, R>(
    edge: Edge,
    slot: &mut Option<T>,
    hook: &mut D,
    run: R,
) -> R::Out
where
    D: DropHook<T>,
    R: Run<T>,
{
    /// Puts the latest item back into its slot when dropped.
    struct Held<'a, T> {
        slot: &'a mut Option<T>,
        latest: Option<T>,
    }

    impl<T> Drop for Held<'_, T> {
        fn drop(&mut self) {
            *self.slot = self.latest.take();
        }
    }

    if edge == Edge::Leading {
        return run.run(|item| hook.dropped(item));
    }
    let latest = slot.take();
    let mut held = Held { slot, latest };
    run.run(|item| {
        if let Some(replaced) = held.latest.replace(item) {
            hook.dropped(replaced);
        }
    })
}
