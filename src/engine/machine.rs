//! What an adapter's state machine is to the [`engine`](crate::engine): the [`Machine`] trait,
//! and what the engine hands it: an item's [`Arrival`], a [`Run`] of items, why the inner
//! stream went [`Idle`].

use std::time::{Duration, Instant};

use super::run::Run;
use crate::clock::Clock;

/// `now + d`, or `None` ("never") when that lies past the range of [`Instant`].
#[inline]
pub(crate) fn checked_deadline(now: Instant, d: Duration) -> Option<Instant> {
    now.checked_add(d)
}

/// The instant of clock `to` that lies as far from `to` as `t` lies from `from` on another
/// clock: `None` past the range of [`Instant`]. Used to move a deadline to a new clock.
pub(crate) fn rebase(t: Instant, from: Instant, to: Instant) -> Option<Instant> {
    if t >= from {
        to.checked_add(t - from)
    } else {
        Some(to.checked_sub(from - t).unwrap_or(to))
    }
}

/// Why the inner stream stopped giving items within one `poll_next` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idle {
    /// It returned `Pending`.
    Pending,
    /// It is still ready, but the poll budget is spent.
    BudgetSpent,
}

/// The arrival time of an item, as its machine asks for it.
pub(crate) struct Arrival<'a, C> {
    pub(crate) clock: &'a C,
    /// The reading taken for this item, if any.
    pub(crate) reading: Option<Instant>,
    /// The instant before the alarm's, when the alarm is tight: the item arrived after the
    /// latest reading and before this, which lies within one timer resolution of it.
    pub(crate) close: Option<Instant>,
    /// What [`latest`](Arrival::latest) gives when neither of the above is known.
    pub(crate) latest: Instant,
    /// The latest reading of the clock, before this arrival.
    pub(crate) last_reading: Instant,
}

impl<C: Clock> Arrival<'_, C> {
    /// The arrival time, from a reading taken for this item (once).
    pub(crate) fn exact(&mut self) -> Instant {
        *self.reading.get_or_insert_with(|| self.clock.now())
    }

    /// The arrival time, or an instant after it by at most twice the clock's timer resolution
    /// (the latest instant the item can have arrived at): from a tight alarm if there is one,
    /// else from a reading taken for this item. A date from the alarm holds only if its timer
    /// keeps its resolution: the next reading confirms it, and moves what was set from it
    /// (see [`Machine::restamp`]).
    pub(crate) fn time(&mut self) -> Instant {
        match (self.reading, self.close) {
            (Some(now), _) | (None, Some(now)) => now,
            (None, None) => *self.reading.insert(self.clock.now()),
        }
    }

    /// Whether the machine may have dated this arrival by the alarm (`close`) rather than by a
    /// reading: a date later than the latest reading, which the next reading confirms (see
    /// [`Machine::restamp`]).
    pub(crate) fn dated_by_alarm(&self) -> bool {
        self.reading.is_none() && self.close.is_some_and(|close| close > self.last_reading)
    }

    /// What [`time`](Arrival::time) would give if it is known without a reading, else the
    /// instant the runs of the machine are handed (for a machine that keeps an instant it
    /// does not use).
    pub(crate) fn latest(&self) -> Instant {
        self.reading.or(self.close).unwrap_or(self.latest)
    }
}

/// The state machine of one adapter, driven by [`Engine::poll`](crate::engine::Engine::poll).
pub(crate) trait Machine {
    /// What the machine takes from the inner stream (the `Ok` side, for `try_` adapters).
    type Item;
    /// What the machine yields.
    type Output;

    /// Acts on every deadline reached at `now`; returns what that yields, if anything.
    fn on_deadlines(&mut self, now: Instant) -> Option<Self::Output>;

    /// Takes an item, after every deadline it reached was acted on. It must not leave a
    /// deadline reached at its arrival: a zero duration acts at once, or at a pause. A
    /// deadline set from the item's arrival counts from [`Arrival::exact`] (or from
    /// [`Arrival::time`], to within the timer's resolution).
    fn on_item<C: Clock>(
        &mut self,
        item: Self::Item,
        at: &mut Arrival<'_, C>,
    ) -> Option<Self::Output>;

    /// The inner stream has nothing more for this call (zero durations act here).
    fn on_idle(&mut self, why: Idle) -> Option<Self::Output>;

    /// The inner stream has ended.
    fn on_end(&mut self) -> Option<Self::Output>;

    /// The earliest deadline at which anything changes, if any. It lies after the `now` of
    /// the latest `on_deadlines`.
    fn next_deadline(&self) -> Option<Instant>;

    /// The earliest deadline at which something will be yielded, if any: the task must be
    /// woken then. It may also be a deadline that turns out to yield nothing (a keyed
    /// machine gives its earliest deadline of any key): the engine then waits for the next.
    fn wake_at(&self) -> Option<Instant>;

    /// Whether `on_item` may run code of the user's (a drop hook, a weigher), which may take
    /// time: the engine then looks at the time again before the next poll.
    fn calls_out(&self) -> bool {
        false
    }

    /// An output that waits in the machine, ahead of anything a reading could make due: it
    /// is yielded without one. (A keyed machine queues what several keys yielded at once;
    /// every key left in its heap lies after them.)
    fn queued(&mut self) -> Option<Self::Output> {
        None
    }

    /// Something is to be yielded at once, whatever the time (a weighted batch's item too
    /// heavy to share a batch).
    fn due(&self) -> bool {
        false
    }

    /// Whether [`on_item`](Machine::on_item) asks for the arrival time of every item (a
    /// debounce's quiet period restarts at each): while the alarm cannot date an item, the
    /// engine then reads the clock before it hands the item over, and first acts on every
    /// deadline that reading shows reached. (Another machine asks for an item's time only
    /// when it opens something that holds no deadline yet, or for a key whose deadlines are
    /// its own.)
    fn dates_items(&self) -> bool {
        false
    }

    /// Whether the items of a run now take the `time` handed to [`room`](Machine::room) as
    /// their arrival (a debounce's quiet period restarts at each; a batch opens with the
    /// first): the engine then takes a run only while the alarm is tight, and counts `time`
    /// as a date the alarm gave (see [`restamp`](Machine::restamp)).
    fn dates_run(&self) -> bool {
        false
    }

    /// How many of the next items, each arriving before every deadline, the machine can take
    /// through [`absorb_run`](Machine::absorb_run): items for which `on_item` would yield
    /// nothing and change nothing but what the machine keeps, except that the last may leave
    /// it [`due`](Machine::due) (which the engine then yields at once). `time` is what
    /// [`Arrival::time`] would give them.
    fn room(&self, _time: Instant) -> usize {
        0
    }

    /// Drives `run`, with a step that does for each item what `on_item` would; `time` is the
    /// one handed to [`room`](Machine::room).
    fn absorb_run<R: Run<Self::Item>>(&mut self, run: R, time: Instant) -> R::Out;

    /// Confirms the dates the alarm gave: `to` is a reading taken after every item that was
    /// dated at or after `from` without a reading ([`Arrival::time`] from a tight alarm, or a
    /// run). Every instant the machine set from such a date and that lies before `to` moves
    /// to `to`. (A timer may fire later than its resolution says, when the thread that fires
    /// it waits for a core: a date from it is an upper bound only until then; this keeps a
    /// deadline from acting early, at the cost of acting late by that wait.)
    fn restamp(&mut self, _from: Instant, _to: Instant) {}

    /// Every date the alarm gave is confirmed (after the `restamp` calls it took).
    fn confirmed(&mut self) {}

    /// Whether the machine may hold an instant set from a date the alarm gave at or after
    /// `from` (else no reading is needed to confirm it).
    fn holds_dated(&self, _from: Instant) -> bool {
        true
    }

    /// Moves every instant the machine holds from a clock whose time is `from` to one whose
    /// time is `to` (see [`rebase`]): a deadline keeps the time it had left, and one already
    /// reached stays reached.
    fn rebase(&mut self, from: Instant, to: Instant);

    /// Bounds on the number of outputs still to come, given the inner stream's bounds, which
    /// are `(0, Some(0))` once it has ended.
    fn size_hint(&self, inner: (usize, Option<usize>)) -> (usize, Option<usize>);
}
