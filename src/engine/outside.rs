//! What an adapter asks of its engine besides a poll: its clock, another clock, the output
//! waiting for the next call, whether it is done, its `size_hint`.

use std::time::Instant;

use super::{Engine, Machine};
use crate::clock::Clock;

impl<C: Clock, O> Engine<C, O> {
    /// The adapter's clock.
    pub(crate) fn clock(&self) -> &C {
        &self.watch.clock
    }

    /// The same adapter on another clock. Every deadline of `machine` keeps the time it had
    /// left on the old clock, and one already reached acts at the next poll. The alarm
    /// belongs to the old clock, so it goes.
    pub(crate) fn with_clock<C2: Clock, M: Machine>(
        mut self,
        machine: &mut M,
        clock: C2,
    ) -> Engine<C2, O> {
        let now = self.watch.clock.now();
        // Dates the alarm gave are confirmed on the clock they came from.
        self.confirm(machine, now);
        machine.rebase(now, clock.now());
        let mut engine = Engine::new(clock);
        engine.done = self.done;
        engine.ready = self.ready;
        engine.backlog = self.backlog;
        engine
    }

    /// The latest reading of the clock (the first is taken as the engine is made).
    pub(crate) fn last_reading(&self) -> Instant {
        self.watch.last_reading()
    }

    /// Takes the output waiting for the next call, if any.
    pub(crate) fn take_ready(&mut self) -> Option<O> {
        let out = self.ready.take();
        self.ready = self.backlog.pop_front();
        out
    }

    /// Puts back an output taken by [`take_ready`](Engine::take_ready).
    pub(crate) fn put_ready(&mut self, out: O) {
        self.ready = Some(out);
    }

    /// Whether the adapter has nothing more to yield.
    pub(crate) fn is_terminated<M: Machine>(&self, machine: &M) -> bool {
        self.done && self.ready.is_none() && machine.wake_at().is_none() && !machine.due()
    }

    /// The adapter's `size_hint`.
    pub(crate) fn size_hint<M: Machine>(
        &self,
        machine: &M,
        inner: (usize, Option<usize>),
    ) -> (usize, Option<usize>) {
        let (lower, upper) = machine.size_hint(if self.done { (0, Some(0)) } else { inner });
        let ready = usize::from(self.ready.is_some()) + self.backlog.len();
        let upper = upper.and_then(|upper| upper.checked_add(ready));
        (lower.saturating_add(ready), upper)
    }
}
