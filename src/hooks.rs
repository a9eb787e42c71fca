//! The third type parameter of the adapters: how a batch weighs its items
//! ([`Batch::max_weight`](crate::Batch::max_weight)), and what a throttle or debounce does
//! with the items it drops ([`Throttle::on_drop`](crate::Throttle::on_drop)).

use std::fmt;

use crate::edge::Edge;
use crate::run::Run;

/// How a batch weighs its items. Implemented by [`Unweighted`] (the default) and
/// [`Weighted`], made by [`Batch::max_weight`](crate::Batch::max_weight).
pub trait Weigh<T> {
    /// Whether weights count at all.
    const ACTIVE: bool;

    /// The weight of `item`.
    fn weigh(&mut self, item: &T) -> usize;

    /// The most a batch may weigh.
    fn max_weight(&self) -> usize;
}

/// Batches count items only (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unweighted;

impl<T> Weigh<T> for Unweighted {
    const ACTIVE: bool = false;

    #[inline]
    fn weigh(&mut self, _item: &T) -> usize {
        0
    }

    #[inline]
    fn max_weight(&self) -> usize {
        usize::MAX
    }
}

/// Batches bounded in weight too: made by [`Batch::max_weight`](crate::Batch::max_weight).
#[derive(Clone)]
pub struct Weighted<F> {
    pub(crate) max_weight: usize,
    pub(crate) weigh: F,
}

impl<F> fmt::Debug for Weighted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Weighted")
            .field("max_weight", &self.max_weight)
            .finish_non_exhaustive()
    }
}

impl<T, F: FnMut(&T) -> usize> Weigh<T> for Weighted<F> {
    const ACTIVE: bool = true;

    #[inline]
    fn weigh(&mut self, item: &T) -> usize {
        (self.weigh)(item)
    }

    #[inline]
    fn max_weight(&self) -> usize {
        self.max_weight
    }
}

/// What a throttle or debounce does with an item it drops. Implemented by [`Discard`] (the
/// default) and [`OnDrop`], made by [`Throttle::on_drop`](crate::Throttle::on_drop) and
/// [`Debounce::on_drop`](crate::Debounce::on_drop).
pub trait DropHook<T> {
    /// Whether [`dropped`](DropHook::dropped) does nothing: then the adapter need not look
    /// at its timer again after calling it.
    const DOES_NOTHING: bool = false;

    /// Receives an item the adapter drops.
    fn dropped(&mut self, item: T);
}

/// Dropped items are just dropped (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Discard;

impl<T> DropHook<T> for Discard {
    const DOES_NOTHING: bool = true;

    #[inline]
    fn dropped(&mut self, _item: T) {}
}

/// Dropped items go to a closure: made by [`Throttle::on_drop`](crate::Throttle::on_drop) and
/// [`Debounce::on_drop`](crate::Debounce::on_drop).
#[derive(Clone)]
pub struct OnDrop<F>(pub(crate) F);

impl<F> fmt::Debug for OnDrop<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnDrop(..)")
    }
}

impl<T, F: FnMut(T)> DropHook<T> for OnDrop<F> {
    #[inline]
    fn dropped(&mut self, item: T) {
        (self.0)(item)
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
        return run.run(!D::DOES_NOTHING, |item| hook.dropped(item));
    }
    let latest = slot.take();
    let mut held = Held { slot, latest };
    run.run(!D::DOES_NOTHING, |item| {
        if let Some(replaced) = held.latest.replace(item) {
            hook.dropped(replaced);
        }
    })
}
