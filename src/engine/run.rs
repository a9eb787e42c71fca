//! Runs: items taken in a tight loop, each only kept or dropped by the machine, with a look at
//! the alarm's flag as each arrives (see [`engine`](crate::engine)).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_core::Stream;

/// The tight loop of a run: it polls the inner stream and hands each item to `absorb`, until
/// the room is used up, the alarm fires, or the inner stream gives anything but an item.
pub(crate) trait Run<I> {
    /// The items left of the room, and what stopped the run early, if anything.
    type Out;

    fn run(self, absorb: impl FnMut(I)) -> Self::Out;
}

/// What one poll of the inner stream gave, when it was not an item taken in a run.
pub(crate) enum Event<I, O> {
    Item(I),
    Error(O),
    End,
    Pending,
}

/// The engine's [`Run`].
pub(crate) struct Runner<'a, 'b, S, F> {
    pub(crate) stream: Pin<&'a mut S>,
    pub(crate) cx: &'a mut Context<'b>,
    pub(crate) split: &'a F,
    pub(crate) left: u32,
    /// The alarm's flag (or one never raised, when the machine has no deadline).
    pub(crate) fired: &'a AtomicBool,
    /// `absorb` runs code of the user's (a drop hook), which may take time: the alarm is
    /// looked at again after it, before the next poll (see [`super::Machine::calls_out`]).
    pub(crate) calls_out: bool,
}

impl<S, F, I, O> Run<I> for Runner<'_, '_, S, F>
where
    S: Stream,
    F: Fn(S::Item) -> Result<I, O>,
{
    type Out = (u32, Option<Event<I, O>>);

    #[inline]
    fn run(mut self, mut absorb: impl FnMut(I)) -> Self::Out {
        let event = loop {
            // Timer first. (Otherwise the look as the last item arrived was the last thing
            // done before this poll.)
            if self.calls_out && self.fired.load(Ordering::Relaxed) {
                break None;
            }
            match self.stream.as_mut().poll_next(self.cx) {
                Poll::Ready(Some(item)) => match (self.split)(item) {
                    // An item that arrived after the alarm fired goes to the engine, which
                    // acts on the deadline first.
                    Ok(item) if self.fired.load(Ordering::Relaxed) => {
                        break Some(Event::Item(item))
                    }
                    Ok(item) => {
                        absorb(item);
                        self.left -= 1;
                        if self.left == 0 {
                            break None;
                        }
                    }
                    Err(e) => break Some(Event::Error(e)),
                },
                Poll::Ready(None) => break Some(Event::End),
                Poll::Pending => break Some(Event::Pending),
            }
        };
        (self.left, event)
    }
}

/// A flag that is never raised: the run's flag while the machine has no deadline.
pub(crate) static NEVER: AtomicBool = AtomicBool::new(false);
