//! Runs: items taken in a tight loop, each only kept or dropped by the machine, with a look at
//! the alarm's flag as each arrives (see [`engine`](crate::engine)).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;

use super::dates::note;
use super::{Engine, Machine};
use crate::clock::Clock;

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
struct Runner<'a, 'b, S, F> {
    stream: Pin<&'a mut S>,
    cx: &'a mut Context<'b>,
    split: &'a F,
    left: u32,
    /// The alarm's flag (or one never raised, when the machine has no deadline).
    fired: &'a AtomicBool,
    /// `absorb` runs code of the user's (a drop hook), which may take time: the alarm is
    /// looked at again after it, before the next poll (see [`super::Machine::calls_out`]).
    calls_out: bool,
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

impl<C: Clock, O> Engine<C, O> {
    /// The next event of the inner stream that the machine does not take in a run: a run is
    /// taken first while the alarm watches the machine (whose next deadline is `next`) and the
    /// machine has room. `left` is the budget left.
    #[inline(always)]
    pub(super) fn next_event<S, M>(
        &mut self,
        mut stream: Pin<&mut S>,
        machine: &mut M,
        cx: &mut Context<'_>,
        split: &impl Fn(S::Item) -> Result<M::Item, O>,
        next: Option<Instant>,
        left: &mut u32,
    ) -> Option<Event<M::Item, O>>
    where
        S: Stream,
        M: Machine,
    {
        // A machine that dates a run's items by `latest` takes one only while that is close
        // (the alarm is tight), and watches the alarm even if it has no deadline yet: the
        // tight alarm fires before any deadline set from `latest` (a batch the run opens).
        let dates = machine.dates_run();
        let unbounded = self.watch.unbounded(next);
        let flag = if dates && unbounded {
            self.watch.tight_flag()
        } else {
            let dated = !dates || self.watch.tight();
            self.watch.run_flag(next).filter(|_| dated)
        };
        let run = flag.map(|fired| {
            let mut room = machine.room(self.watch.latest).min(*left as usize) as u32;
            if !unbounded {
                // The run ends where the clock is to be read again.
                room = room.min(self.watch.room());
            }
            (fired, room)
        });
        match run {
            Some((fired, room)) if room > 0 => {
                let date = self.watch.latest;
                // Noted as the run ends, even by a panic of the source, if it took an item.
                let mut noting = Noting {
                    provisional: &mut self.provisional,
                    last_reading: self.watch.last_reading(),
                    date: dates.then_some(date),
                };
                let run = Runner {
                    stream: stream.as_mut(),
                    cx,
                    split,
                    left: room,
                    fired,
                    calls_out: machine.calls_out(),
                };
                let (rest, event) = machine.absorb_run(run, date);
                *left -= room - rest;
                self.watch.took(room - rest);
                if rest == room {
                    noting.date = None;
                }
                event
            }
            _ => Some(match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => match split(item) {
                    Ok(item) => Event::Item(item),
                    Err(e) => Event::Error(e),
                },
                Poll::Ready(None) => Event::End,
                Poll::Pending => Event::Pending,
            }),
        }
    }
}

/// Notes the date a run gave its items as provisional (see [`Engine::note_provisional`]) when
/// dropped: as the run ends, or as a panic of the source unwinds through it.
struct Noting<'a> {
    provisional: &'a mut Option<Instant>,
    last_reading: Instant,
    /// The date, unless the run dated nothing.
    date: Option<Instant>,
}

impl Drop for Noting<'_> {
    fn drop(&mut self) {
        if let Some(date) = self.date {
            note(self.provisional, self.last_reading, date);
        }
    }
}
