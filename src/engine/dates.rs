//! When an item arrived, and the dates the alarm gave: an arrival it told without a reading is
//! provisional until a reading confirms it (rule 3 of the [`engine`](crate::engine)).

use std::time::Instant;

use super::{Arrival, Engine, Machine};
use crate::clock::Clock;

impl<C: Clock, O> Engine<C, O> {
    /// Hands `machine` an item that arrived now, after every deadline it reached was acted on:
    /// with the reading taken for it, if any, else with the alarm's date for it if the alarm
    /// is `watched` and tight.
    #[inline]
    pub(super) fn arrive<M: Machine>(
        &mut self,
        machine: &mut M,
        item: M::Item,
        reading: Option<Instant>,
        watched: bool,
    ) -> Option<M::Output> {
        let mut at = Arrival {
            clock: &self.watch.clock,
            reading,
            close: (watched && self.watch.tight()).then_some(self.watch.latest),
            latest: self.watch.latest,
            last_reading: self.watch.last_reading(),
        };
        let out = machine.on_item(item, &mut at);
        match (at.reading, at.close) {
            (Some(now), _) => {
                self.watch.observe(now);
                self.confirm(machine, now);
            }
            (None, Some(date)) => self.note_provisional(date),
            (None, None) => {}
        }
        if self.watch.dense {
            self.watch.watch(machine.next_deadline());
        }
        out
    }

    /// As a call ends (an output, or the budget spent) with dates the alarm gave that no
    /// reading has confirmed: a reading is taken now if the machine still holds what it set
    /// from them, before the consumer's time, or other tasks', passes.
    #[inline]
    pub(super) fn settle<M: Machine>(&mut self, machine: &mut M) {
        let Some(from) = self.provisional else {
            return;
        };
        if machine.holds_dated(from) {
            let now = self.watch.clock.now();
            // Dates the alarm gives later count from this reading.
            self.watch.observe(now);
            self.confirm(machine, now);
        } else {
            self.provisional = None;
            machine.confirmed();
        }
    }

    /// Reads the clock, and confirms to `machine` the dates the alarm gave since the latest
    /// reading (see [`Machine::restamp`]).
    pub(super) fn read<M: Machine>(&mut self, machine: &mut M) -> Instant {
        let now = self.watch.read();
        self.confirm(machine, now);
        now
    }

    /// A reading `now` was taken, after every arrival the alarm dated: it confirms those dates,
    /// and so does the reading its firing took, if it has fired and the clock has a reader
    /// (every such arrival was seen with the flag down). A date before the earlier of the two
    /// moves to it; one at or after it stands.
    pub(super) fn confirm<M: Machine>(&mut self, machine: &mut M, now: Instant) {
        if let Some(from) = self.provisional.take() {
            let to = self.watch.bound(now);
            if from < to {
                machine.restamp(from, to);
            }
            machine.confirmed();
        }
    }

    /// The alarm dated something at `date`, without a reading. A date no later than the latest
    /// reading is one (a timer of no lateness dates by the reading it was armed from).
    #[inline]
    pub(super) fn note_provisional(&mut self, date: Instant) {
        note(&mut self.provisional, self.watch.last_reading(), date);
    }
}

/// [`Engine::note_provisional`], on the engine's parts (for a caller that holds a borrow of
/// the watch).
#[inline]
pub(super) fn note(provisional: &mut Option<Instant>, last_reading: Instant, date: Instant) {
    if date > last_reading {
        *provisional = Some(provisional.map_or(date, |from| from.min(date)));
    }
}
