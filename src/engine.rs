//! The poll loop every adapter runs, and the rules it keeps.
//!
//! Words used here:
//! - *machine*: an adapter's own rules ([`Machine`]): what an item, a deadline, a pause or the
//!   end does to its state, and what it yields.
//! - *reading*: one call of [`Clock::now`].
//! - *alarm*: the adapter's one timer ([`Alarm`](alarm::Alarm)); its firing raises a flag.
//! - *horizon*: the earliest instant at which the machine needs to know the time: one timer
//!   resolution before its next deadline (the alarm may fire that late); and while items
//!   arrive *densely* (less than 2 µs apart on average between the latest two readings
//!   after which items were counted, see `watch.rs`), one timer resolution after the latest
//!   reading. A horizon already passed is watched by readings, not by the alarm.
//! - *watched*: items arrive densely, fewer items (or errors) arrived since the latest
//!   reading than may arrive unread, and the alarm is armed for the horizon or earlier and has
//!   not fired: so an item that arrives now arrived before every deadline of the machine, if
//!   the timer keeps its resolution. At most 4096 may arrive unread; at the items' pace
//!   (measured over 64 items or more and four timer resolutions), three quarters of those
//!   due before the machine's next deadline; none within 16 items of it (`Watch::unread`).
//!   (Items further apart each get a reading, so a timer that fires later than its
//!   resolution delays no deadline on them; on dense items of a steady pace, the readings
//!   close in on the deadline, so it delays none either, or, items that come in bursts, by
//!   less than a burst; before their pace is measured, and on dense items that slow down,
//!   it delays one by at most 4096 items.)
//! - *tight*: watched by an alarm armed within one resolution of the latest reading, which so
//!   tells an item's arrival time to within twice that resolution (the alarm may fire one
//!   resolution late), without a reading.
//! - *run*: items taken in a tight loop, each only kept or dropped (a batch opening and
//!   filling up, items in an open throttle window); *room*: how many the machine can take
//!   that way. A run's last item may leave the machine due (a full batch): that leaves at once.
//! - *split*: turns an inner item into a machine item, or an error into an output at once.
//!
//! The rules:
//! 1. An item arrives when the inner `poll_next` returns it. Events are handled in time order:
//!    before an item, an error, a pause or the end is handed to the machine, every deadline
//!    it reached is acted on. If both yield, the later output waits in `ready` for the next
//!    call, which yields it before anything else.
//! 2. Timer first: before every poll of the inner stream, a fired alarm is acted on.
//! 3. Time is seen through the alarm. The clock is read when the alarm has fired, when an
//!    event arrives unwatched, and when a machine asks for an item's arrival time
//!    ([`Arrival::time`]) while the alarm is not tight; for a machine that asks for every
//!    item's ([`Machine::dates_items`]) and holds a deadline, the engine takes that reading
//!    before it hands the machine the item, deadlines first. While items arrive densely, the alarm
//!    is armed for the horizon after each item (unless it is armed for that or earlier); a
//!    slower source gets a reading per item while the machine holds a deadline, which costs
//!    little next to its items. A date
//!    taken from a tight alarm (later than the latest reading) is provisional: a timer can
//!    fire later than its resolution says. The next reading confirms it (or the reading the
//!    alarm's firing took, if earlier: [`Clock::reader`]), and the
//!    machine moves to it whatever it set from a date before it ([`Machine::restamp`]).
//!    Such a reading is taken at the latest when the inner stream pauses or the call
//!    returns. A reading past the alarm's latest instant while it has not fired shows a late
//!    timer: the alarm is not tight until it fires.
//! 4. A clock whose timers may not fire while the task is busy
//!    ([`Clock::timer_resolution`] is `None`) is read as every event arrives while the machine
//!    holds a deadline.
//! 5. After [`BUDGET`] inner items without output, the task wakes itself and returns `Pending`.
//! 6. Before returning `Pending`, the alarm is set to wake the task at the machine's earliest
//!    deadline that will yield something; when nothing is due, it wakes nobody. An alarm
//!    armed for an earlier instant is kept rather than re-armed (re-arming a timer costs more
//!    than one early wake-up), so the task may be woken once before the deadline. A keyed
//!    machine (`keyed.rs`) may wake it for a key's deadline that yields nothing.
//! 7. User code (a drop hook, a weigher) may take time: the time is looked at again after it,
//!    before the next poll. An output due before an item is held in `ready` while the item
//!    is handled, so user code that panics loses nothing.
//! 8. The inner stream is never polled after it returned `None`.
//!
//! Where the parts are: [`Machine`] and what the engine hands it ([`Arrival`], [`Idle`]) in
//! `engine/machine.rs`; the tight loop of a run in `engine/run.rs`; an item's arrival and the
//! dates the alarm gave in `engine/dates.rs`; how a call ends waiting (rule 6) in
//! `engine/wait.rs`; what the adapter knows of time (readings, the alarm, the horizon) in
//! `engine/watch.rs`; the alarm in `engine/alarm.rs`; what an adapter asks of the engine
//! besides a poll (its clock, `with_clock`, `size_hint`) in `engine/outside.rs`. Each
//! adapter's machine is in the adapter's own file (`batch.rs`, `throttle.rs`, `debounce.rs`;
//! the keyed one in `keyed.rs`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;

use crate::clock::Clock;

mod alarm;
mod dates;
mod machine;
mod outside;
mod run;
mod wait;
mod watch;

pub(crate) use machine::{checked_deadline, rebase, Arrival, Idle, Machine};
pub(crate) use run::Run;

use run::Event;
use watch::Watch;

/// How many inner items one `poll_next` call may take without yielding anything before it
/// wakes its own task and returns `Pending`.
pub(crate) const BUDGET: u32 = 512;

/// What one adapter knows of time and of its inner stream. `O` is the adapter's output.
pub(crate) struct Engine<C: Clock, O> {
    watch: Watch<C>,
    /// The inner stream has returned `None`; it is never polled again.
    done: bool,
    /// An output that came second in time order: yielded by the next call.
    ready: Option<O>,
    /// Outputs to follow `ready`, in order: only when an error arrives while a keyed machine
    /// holds several outputs that came before it. Empty whenever `ready` is.
    backlog: VecDeque<O>,
    /// The earliest date the alarm gave (an arrival it told, see [`Arrival::time`]) since the
    /// latest reading, which will confirm it (see [`Machine::restamp`]).
    provisional: Option<Instant>,
}

impl<C: Clock, O> Engine<C, O> {
    pub(crate) fn new(clock: C) -> Self {
        Engine {
            watch: Watch::new(clock),
            done: false,
            ready: None,
            backlog: VecDeque::new(),
            provisional: None,
        }
    }

    /// One `poll_next` of the adapter: drives `machine` with the items of `stream`.
    ///
    /// `split` turns an inner item into a machine item, or into an output yielded at once
    /// that touches nothing else (an error of a `try_` adapter); `wrap` turns a machine
    /// output into an adapter output.
    #[inline]
    pub(crate) fn poll<S, M>(
        &mut self,
        stream: Pin<&mut S>,
        machine: &mut M,
        cx: &mut Context<'_>,
        split: impl Fn(S::Item) -> Result<M::Item, O>,
        wrap: impl Fn(M::Output) -> O,
    ) -> Poll<Option<O>>
    where
        S: Stream,
        M: Machine,
    {
        let polled = self.drive(stream, machine, cx, split, wrap);
        self.settle(machine);
        polled
    }

    /// [`poll`](Engine::poll), but for the dates the alarm gave that are left to confirm.
    #[inline(always)]
    fn drive<S, M>(
        &mut self,
        mut stream: Pin<&mut S>,
        machine: &mut M,
        cx: &mut Context<'_>,
        split: impl Fn(S::Item) -> Result<M::Item, O>,
        wrap: impl Fn(M::Output) -> O,
    ) -> Poll<Option<O>>
    where
        S: Stream,
        M: Machine,
    {
        if let Some(out) = self.ready.take() {
            self.ready = self.backlog.pop_front();
            return Poll::Ready(Some(out));
        }
        if let Some(out) = machine.queued() {
            return Poll::Ready(Some(wrap(out)));
        }
        // Timer first: a deadline reached before this call is acted on before the first poll.
        if machine.due() || !self.watch.watches(machine.next_deadline()) {
            let now = self.read(machine);
            if let Some(out) = machine.on_deadlines(now) {
                return Poll::Ready(Some(wrap(out)));
            }
        }
        if self.done {
            return self.rest(machine, cx, &wrap);
        }
        let mut left = BUDGET;
        let mut called_out = false;
        loop {
            let look =
                self.watch.fired() || (called_out && !self.watch.watches(machine.next_deadline()));
            called_out = false;
            if look {
                let now = self.read(machine);
                if let Some(out) = machine.on_deadlines(now) {
                    return Poll::Ready(Some(wrap(out)));
                }
                self.watch.watch(machine.next_deadline());
            }
            let next = machine.next_deadline();
            let event = self.next_event(stream.as_mut(), machine, cx, &split, next, &mut left);
            if let Some(event) = event {
                if matches!(event, Event::Item(_) | Event::Error(_)) {
                    self.watch.took(1);
                }
                // Time order: the deadlines the event reached come first. At a pause, dates the
                // alarm gave are confirmed by a reading.
                let confirms = matches!(event, Event::Pending) && self.provisional.is_some();
                // (The deadline again: a run may have set one.) An item that the machine
                // dates by a reading of its own (the alarm is not tight) gets it here, so that
                // a deadline the reading shows reached is acted on before the item.
                let next = machine.next_deadline();
                let watched = !confirms
                    && self.watch.watches(next)
                    && (next.is_none()
                        || !matches!(event, Event::Item(_))
                        || !machine.dates_items()
                        || self.watch.tight());
                let reading = if watched {
                    None
                } else {
                    let now = self.read(machine);
                    // Held in `ready` at once, so that a hook that panics below loses nothing.
                    self.ready = machine.on_deadlines(now).map(&wrap);
                    Some(now)
                };
                let paused = matches!(event, Event::Pending);
                let second = match event {
                    Event::Item(item) => {
                        left -= 1;
                        // A hook or a weigher may spend time: look again before the next poll.
                        called_out = machine.calls_out();
                        self.arrive(machine, item, reading, watched).map(&wrap)
                    }
                    Event::Error(e) if machine.due() => {
                        // The machine holds outputs that came before the error (a keyed
                        // machine, several keys due at once): they leave first.
                        let now = self.watch.last_reading();
                        while let Some(out) = machine.on_deadlines(now) {
                            self.backlog.push_back(wrap(out));
                        }
                        self.backlog.push_back(e);
                        self.backlog.pop_front()
                    }
                    Event::Error(e) => Some(e),
                    Event::End => {
                        self.done = true;
                        machine.on_end().map(&wrap)
                    }
                    Event::Pending => machine.on_idle(Idle::Pending).map(&wrap),
                };
                match (self.ready.take(), second) {
                    (Some(first), second) => {
                        self.ready = second;
                        return Poll::Ready(Some(first));
                    }
                    (None, Some(second)) => {
                        self.ready = self.backlog.pop_front();
                        return Poll::Ready(Some(second));
                    }
                    // The inner stream has ended, or has registered the waker: a deadline
                    // that will yield something needs the alarm too.
                    (None, None) if self.done || paused => return self.rest(machine, cx, &wrap),
                    (None, None) => {}
                }
            } else if machine.due() {
                // The run's last item left something to yield (a full batch).
                if let Some(out) = machine.on_deadlines(self.watch.last_reading()) {
                    return Poll::Ready(Some(wrap(out)));
                }
            }
            if left == 0 {
                if let Some(out) = machine.on_idle(Idle::BudgetSpent) {
                    return Poll::Ready(Some(wrap(out)));
                }
                // Let the executor run other tasks; come back at once.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}
