//! The poll loop every adapter runs, and the rules it keeps.
//!
//! Words used here:
//! - *machine*: an adapter's own rules ([`Machine`]): what an item, a deadline, a pause or the
//!   end does to its state, and what it yields.
//! - *reading*: one call of [`Clock::now`].
//! - *alarm*: the adapter's one timer ([`Alarm`]); its firing raises a flag.
//! - *horizon*: the earliest instant at which the machine needs to know the time: its next
//!   deadline; and while arrival times are asked for often (*dense*), one timer resolution
//!   after the latest reading.
//! - *tight*: the alarm is watched and armed within one resolution of the latest reading,
//!   so it tells an item's arrival time to within that resolution.
//! - *watched*: the alarm is armed for the horizon or earlier and has not fired, so an item
//!   that arrives now arrived before every deadline of the machine.
//! - *run*: items taken in a tight loop, each only kept or dropped (a batch filling up, items
//!   in an open throttle window); *room*: how many the machine can take that way.
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
//!    ([`Arrival::time`]) while the alarm is not tight; after an item, the alarm is armed for
//!    the horizon unless it is armed for that or earlier.
//! 4. A clock whose timers may not fire while the task is busy
//!    ([`Clock::timer_resolution`] is `None`) is read as every event arrives while the machine
//!    holds a deadline.
//! 5. After [`BUDGET`] inner items without output, the task wakes itself and returns `Pending`.
//! 6. Before returning `Pending`, the alarm is set to wake the task at the machine's earliest
//!    deadline that will yield something. One that yields nothing wakes nobody.
//! 7. The inner stream is never polled after it returned `None`.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;

use crate::alarm::Alarm;
use crate::clock::Clock;

/// How many inner items one `poll_next` call may take without yielding anything before it
/// wakes its own task and returns `Pending`.
pub(crate) const BUDGET: u32 = 512;

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

/// What one poll of the inner stream gave, when it was not an item taken in a run.
pub(crate) enum Event<I, O> {
    Item(I),
    Error(O),
    End,
    Pending,
}

/// The arrival time of an item, as its machine asks for it.
pub(crate) struct Arrival<'a, C> {
    clock: &'a C,
    /// The reading taken for this item, if any.
    reading: Option<Instant>,
    /// The instant before the alarm's, when the alarm is tight: the item arrived after the
    /// latest reading and before this, which lies within one timer resolution of it.
    close: Option<Instant>,
    /// What [`latest`](Arrival::latest) gives when neither of the above is known.
    latest: Instant,
}

impl<C: Clock> Arrival<'_, C> {
    /// The arrival time, or an instant after it by at most the clock's timer resolution (the
    /// latest instant the item can have arrived at): from a tight alarm if there is one, else
    /// from a reading taken for this item.
    pub(crate) fn time(&mut self) -> Instant {
        match (self.reading, self.close) {
            (Some(now), _) | (None, Some(now)) => now,
            (None, None) => *self.reading.insert(self.clock.now()),
        }
    }

    /// What [`time`](Arrival::time) would give if it is known without a reading, else the
    /// instant the runs of the machine are handed (for a machine that keeps an instant it
    /// does not use).
    pub(crate) fn latest(&self) -> Instant {
        self.reading.or(self.close).unwrap_or(self.latest)
    }
}

/// The tight loop of a run: it polls the inner stream and hands each item to `absorb`, until
/// the room is used up, the alarm fires, or the inner stream gives anything but an item.
pub(crate) trait Run<I> {
    /// The items left of the room, and what stopped the run early, if anything.
    type Out;

    /// `absorb_calls_out`: `absorb` runs code of the user's (a drop hook), which may take
    /// time, so the alarm is looked at again after it, before the next poll.
    fn run(self, absorb_calls_out: bool, absorb: impl FnMut(I)) -> Self::Out;
}

/// The engine's [`Run`].
struct Runner<'a, 'b, S, F> {
    stream: Pin<&'a mut S>,
    cx: &'a mut Context<'b>,
    split: &'a F,
    left: u32,
    /// The alarm's flag (or one never raised, when the machine has no deadline).
    fired: &'a AtomicBool,
}

impl<S, F, I, O> Run<I> for Runner<'_, '_, S, F>
where
    S: Stream,
    F: Fn(S::Item) -> Result<I, O>,
{
    type Out = (u32, Option<Event<I, O>>);

    #[inline]
    fn run(mut self, absorb_calls_out: bool, mut absorb: impl FnMut(I)) -> Self::Out {
        let event = loop {
            // Timer first. (Otherwise the look as the last item arrived was the last thing
            // done before this poll.)
            if absorb_calls_out && self.fired.load(Ordering::Relaxed) {
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
static NEVER: AtomicBool = AtomicBool::new(false);

/// The state machine of one adapter, driven by [`Engine::poll`].
pub(crate) trait Machine {
    /// What the machine takes from the inner stream (the `Ok` side, for `try_` adapters).
    type Item;
    /// What the machine yields.
    type Output;

    /// Acts on every deadline reached at `now`; returns what that yields, if anything.
    fn on_deadlines(&mut self, now: Instant) -> Option<Self::Output>;

    /// Takes an item, after every deadline it reached was acted on. It must not leave a
    /// deadline reached at its arrival: a zero duration acts at once, or at a pause. A
    /// deadline set from the item's arrival counts from [`Arrival::time`].
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
    /// woken then.
    fn wake_at(&self) -> Option<Instant>;

    /// Something is to be yielded at once, whatever the time (a weighted batch's item too
    /// heavy to share a batch).
    fn due(&self) -> bool {
        false
    }

    /// How many of the next items, each arriving before every deadline, the machine can take
    /// through [`absorb_run`](Machine::absorb_run): items for which `on_item` would yield
    /// nothing and change nothing but what the machine keeps. `time` is what
    /// [`Arrival::time`] would give them.
    fn room(&self, _time: Instant) -> usize {
        0
    }

    /// Drives `run`, with a step that does for each item what `on_item` would.
    fn absorb_run<R: Run<Self::Item>>(&mut self, run: R) -> R::Out;

    /// Moves every instant the machine holds from a clock whose time is `from` to one whose
    /// time is `to` (see [`rebase`]): a deadline keeps the time it had left, and one already
    /// reached stays reached.
    fn rebase(&mut self, from: Instant, to: Instant);

    /// Bounds on the number of outputs still to come, given the inner stream's bounds, which
    /// are `(0, Some(0))` once it has ended.
    fn size_hint(&self, inner: (usize, Option<usize>)) -> (usize, Option<usize>);

    /// Adds the machine's settings and state to a `Debug` output.
    fn debug_fields(&self, out: &mut std::fmt::DebugStruct<'_, '_>)
    where
        Self::Item: std::fmt::Debug;
}

/// The clock, the alarm, and what one adapter knows of time and of its inner stream. `O` is
/// the adapter's output.
#[derive(Debug)]
pub(crate) struct Engine<C: Clock, O> {
    pub(crate) clock: C,
    alarm: Option<Alarm<C::Timer>>,
    /// The instant the alarm is armed for, until its firing is acted on.
    armed: Option<Instant>,
    /// [`Clock::timer_resolution`], at least a nanosecond; `None`: the alarm is not trusted
    /// while a call runs.
    resolution: Option<Duration>,
    /// The latest reading.
    now: Instant,
    /// One timer resolution after `now`, if the clock has one.
    tick: Option<Instant>,
    /// The latest instant an item arriving watched can have arrived at: the instant before
    /// `armed`, or `now` (kept up to date by `read` and `arm`).
    latest: Instant,
    /// Items arrive densely: the last two readings taken for arriving items came within one
    /// timer resolution. Only then is the alarm armed for the horizon as items arrive (a
    /// slower source gets a reading per item, which costs little next to its items), and
    /// kept tight, so that it gives arrival times without a reading.
    dense: bool,
    /// The latest reading taken for an arriving item.
    arrival_read: Option<Instant>,
    /// The inner stream has returned `None`; it is never polled again.
    done: bool,
    /// An output that came second in time order: yielded by the next call.
    ready: Option<O>,
}

impl<C: Clock, O> Engine<C, O> {
    pub(crate) fn new(clock: C) -> Self {
        let now = clock.now();
        let mut engine = Engine {
            resolution: clock
                .timer_resolution()
                .map(|r| r.max(Duration::from_nanos(1))),
            now,
            tick: None,
            latest: now,
            dense: false,
            arrival_read: None,
            clock,
            alarm: None,
            armed: None,
            done: false,
            ready: None,
        };
        engine.update_times();
        engine
    }

    /// The same state on another clock. The alarm belongs to the old clock, so it goes.
    pub(crate) fn with_clock<C2: Clock>(self, clock: C2) -> Engine<C2, O> {
        let mut engine = Engine::new(clock);
        engine.done = self.done;
        engine.ready = self.ready;
        engine
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
        let ready = usize::from(self.ready.is_some());
        (
            lower.saturating_add(ready),
            upper.and_then(|upper| upper.checked_add(ready)),
        )
    }

    /// One `poll_next` of the adapter: drives `machine` with the items of `stream`.
    ///
    /// `split` turns an inner item into a machine item, or into an output yielded at once
    /// that touches nothing else (an error of a `try_` adapter); `wrap` turns a machine
    /// output into an adapter output.
    #[inline]
    pub(crate) fn poll<S, M>(
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
            return Poll::Ready(Some(out));
        }
        // Timer first: a deadline reached before this call is acted on before the first poll.
        if machine.due() || self.fired() || !self.watches_wake(machine) {
            let now = self.read();
            if let Some(out) = machine.on_deadlines(now) {
                return Poll::Ready(Some(wrap(out)));
            }
        }
        if self.done {
            return self.finish(machine, cx, &wrap);
        }
        let mut left = BUDGET;
        loop {
            if self.fired() {
                let now = self.read();
                if let Some(out) = machine.on_deadlines(now) {
                    return Poll::Ready(Some(wrap(out)));
                }
                self.watch(machine);
            }
            let horizon = self.horizon(machine);
            let event = match self.run_flag(horizon) {
                Some(fired) if machine.room(self.latest) > 0 => {
                    let room = machine.room(self.latest).min(left as usize) as u32;
                    let (rest, event) = machine.absorb_run(Runner {
                        stream: stream.as_mut(),
                        cx,
                        split: &split,
                        left: room,
                        fired,
                    });
                    left -= room - rest;
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
            };
            match event {
                None => {}
                Some(Event::Item(item)) => {
                    left -= 1;
                    // Time order: the deadlines the item reached come first.
                    let watched = self.watched(horizon);
                    let (first, reading) = if watched {
                        (None, None)
                    } else {
                        let now = self.read();
                        (machine.on_deadlines(now), Some(now))
                    };
                    let mut at = Arrival {
                        clock: &self.clock,
                        reading,
                        close: (watched && self.tight()).then_some(self.latest),
                        latest: self.latest,
                    };
                    let second = machine.on_item(item, &mut at);
                    if let Some(now) = at.reading {
                        self.arrived(now);
                    }
                    if self.dense {
                        self.watch(machine);
                    }
                    if let Some(out) = self.in_order(first, second, &wrap) {
                        return Poll::Ready(Some(out));
                    }
                }
                Some(Event::Error(e)) => {
                    return Poll::Ready(Some(match self.catch_up(machine) {
                        Some(first) => {
                            self.ready = Some(e);
                            wrap(first)
                        }
                        None => e,
                    }));
                }
                Some(Event::End) => {
                    self.done = true;
                    let first = self.catch_up(machine);
                    let second = machine.on_end();
                    if let Some(out) = self.in_order(first, second, &wrap) {
                        return Poll::Ready(Some(out));
                    }
                    return self.finish(machine, cx, &wrap);
                }
                Some(Event::Pending) => {
                    let first = self.catch_up(machine);
                    let second = machine.on_idle(Idle::Pending);
                    if let Some(out) = self.in_order(first, second, &wrap) {
                        return Poll::Ready(Some(out));
                    }
                    // The inner stream has registered the waker; a deadline that will yield
                    // something needs the alarm too.
                    return match machine.wake_at() {
                        None => Poll::Pending,
                        Some(at) => self.wait(machine, at, cx, &wrap),
                    };
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

    /// Two outputs of one event, in time order: the first is yielded, the second waits.
    fn in_order<T>(
        &mut self,
        first: Option<T>,
        second: Option<T>,
        wrap: &impl Fn(T) -> O,
    ) -> Option<O> {
        match (first, second) {
            (Some(first), second) => {
                self.ready = second.map(wrap);
                Some(wrap(first))
            }
            (None, second) => second.map(wrap),
        }
    }

    /// An event other than an item arrived: unless watched, the deadlines it reached are
    /// acted on first.
    fn catch_up<M: Machine>(&mut self, machine: &mut M) -> Option<M::Output> {
        if self.watches(machine) {
            return None;
        }
        let now = self.read();
        machine.on_deadlines(now)
    }

    /// Whether the alarm has fired, and that is not yet acted on.
    #[inline]
    fn fired(&self) -> bool {
        self.armed.is_some() && self.alarm.as_ref().is_some_and(Alarm::fired)
    }

    /// The earliest instant at which the machine needs to know the time.
    #[inline]
    fn horizon<M: Machine>(&self, machine: &M) -> Option<Instant> {
        let next = machine.next_deadline();
        match self.tick {
            Some(tick) if self.dense => Some(next.map_or(tick, |next| next.min(tick))),
            _ => next,
        }
    }

    /// Whether the alarm watches a machine whose horizon is `horizon` (see the glossary).
    #[inline]
    fn watched(&self, horizon: Option<Instant>) -> bool {
        match horizon {
            None => true,
            Some(horizon) => {
                self.resolution.is_some()
                    && self.armed.is_some_and(|armed| armed <= horizon)
                    && !self.fired()
            }
        }
    }

    /// Whether the alarm watches the machine (see the glossary).
    fn watches<M: Machine>(&self, machine: &M) -> bool {
        self.watched(self.horizon(machine))
    }

    /// Whether the alarm, which watches, is tight (see the glossary).
    #[inline]
    fn tight(&self) -> bool {
        matches!((self.armed, self.tick), (Some(armed), Some(tick)) if armed <= tick)
    }

    /// A reading `now` was taken for an arriving item.
    fn arrived(&mut self, now: Instant) {
        if let Some(r) = self.resolution {
            self.dense = self
                .arrival_read
                .is_some_and(|last| now.saturating_duration_since(last) < r);
        }
        self.arrival_read = Some(now);
        if now > self.now {
            self.now = now;
            self.update_times();
        }
    }

    /// Whether the alarm watches the machine's next deadline that yields, if any.
    fn watches_wake<M: Machine>(&self, machine: &M) -> bool {
        match machine.wake_at() {
            None => self.resolution.is_some() || machine.next_deadline().is_none(),
            Some(at) => self.resolution.is_some() && self.armed.is_some_and(|armed| armed <= at),
        }
    }

    /// The flag a run watches, if the items can be taken in a run: the alarm watches the
    /// machine (whose horizon is `horizon`), or it has no deadline.
    #[inline]
    fn run_flag(&self, horizon: Option<Instant>) -> Option<&AtomicBool> {
        if horizon.is_none() {
            return Some(&NEVER);
        }
        if !self.watched(horizon) {
            return None;
        }
        self.alarm.as_ref().map(Alarm::flag)
    }

    /// Sets `tick` and `latest` after `now` or `armed` changed.
    fn update_times(&mut self) {
        self.tick = self.resolution.and_then(|r| checked_deadline(self.now, r));
        self.latest = match self.armed {
            Some(armed) if self.resolution.is_some() => armed
                .checked_sub(Duration::from_nanos(1))
                .unwrap_or(armed)
                .max(self.now),
            _ => self.now,
        };
    }

    /// Reads the clock. A firing of the alarm is taken as acted on; its instant is trusted
    /// even if the clock reads a hair earlier, so that a firing cannot turn into a busy loop.
    fn read(&mut self) -> Instant {
        let mut now = self.clock.now();
        if let Some(armed) = self.armed {
            if self.alarm.as_ref().is_some_and(Alarm::fired) {
                self.armed = None;
                now = now.max(armed);
            }
        }
        self.now = self.now.max(now);
        self.update_times();
        self.now
    }

    /// Arms the alarm for the machine's horizon, unless it is armed for that or earlier.
    fn watch<M: Machine>(&mut self, machine: &M) {
        if self.resolution.is_none() {
            return;
        }
        if let Some(horizon) = self.horizon(machine) {
            if !self.armed.is_some_and(|armed| armed <= horizon) {
                self.arm(horizon);
            }
        }
    }

    fn arm(&mut self, at: Instant) {
        match &mut self.alarm {
            Some(alarm) => alarm.arm(at),
            None => self.alarm = Some(Alarm::new(self.clock.timer(at))),
        }
        self.armed = Some(at);
        self.update_times();
    }

    /// After the inner stream ended: only a deadline can still yield something (a throttled
    /// trailing item); without one, the adapter ends.
    fn finish<M: Machine>(
        &mut self,
        machine: &mut M,
        cx: &mut Context<'_>,
        wrap: &impl Fn(M::Output) -> O,
    ) -> Poll<Option<O>> {
        match machine.wake_at() {
            None => {
                // Nothing more to wait for: the timer goes.
                self.alarm = None;
                self.armed = None;
                self.update_times();
                Poll::Ready(None)
            }
            Some(at) => self.wait(machine, at, cx, wrap),
        }
    }

    /// Sets the alarm to wake the task at `at` and returns `Pending`, or, if `at` is already
    /// reached, acts on it.
    fn wait<M: Machine>(
        &mut self,
        machine: &mut M,
        at: Instant,
        cx: &mut Context<'_>,
        wrap: &impl Fn(M::Output) -> O,
    ) -> Poll<Option<O>> {
        loop {
            if !self.armed.is_some_and(|armed| armed <= at) {
                self.arm(at);
            }
            let Some(alarm) = &mut self.alarm else {
                return Poll::Pending;
            };
            if alarm.poll_fired(cx).is_pending() {
                return Poll::Pending;
            }
            let now = self.read();
            if let Some(out) = machine.on_deadlines(now) {
                return Poll::Ready(Some(wrap(out)));
            }
            if now >= at {
                // `wake_at` promised an output at `at`. Should a machine break that promise,
                // look again on the next poll rather than hang.
                debug_assert!(false, "a machine yielded nothing at its wake_at deadline");
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            // An earlier arming fired: arm for `at`.
        }
    }
}
