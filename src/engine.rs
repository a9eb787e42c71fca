//! The poll loop, deadline timer and poll budget shared by every adapter.
//!
//! Each adapter is a [`Machine`]: it says what to do with an item, with a deadline reached, with
//! an idle or ended inner stream, and when it next needs to be woken. [`Engine::poll`] runs the
//! one loop they all share, and holds the rules they all follow:
//!
//! - **timer first**: before every poll of the inner stream, every deadline reached at the
//!   latest clock reading is acted on, so a deadline holds even when the inner stream is always
//!   ready;
//! - the clock is read at the start of every call (unless a lazy machine's timer shows that
//!   nothing is due, see [`Machine::lazy_clock`]) and then every `stride` items, the stride
//!   adapting to how fast items come (see `read_clock`): before every poll when items take
//!   5 µs or more, every [`MAX_STRIDE`] items when they come faster than 40 ns;
//! - an item's arrival time is the latest clock reading before the poll that produced it; a
//!   lazy machine (a batch) may instead ask for the next reading after it
//!   ([`Machine::unstamped`]), which the engine takes before the call ends;
//! - items the machine only keeps or drops ([`Machine::room`]) are taken in a tight loop, with
//!   no look at the machine between them;
//! - after [`BUDGET`] inner items without output, the task wakes itself and returns `Pending`;
//! - before returning `Pending`, the one timer is armed for the machine's next deadline that
//!   will yield something (none is armed for deadlines that would yield nothing); it is an
//!   [`Alarm`], whose firing is seen without polling the timer again;
//! - the inner stream is never polled after it returned `None`.

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::pin::Pin;

use futures_core::Stream;

use crate::alarm::Alarm;
use crate::clock::Clock;

/// How many inner items one `poll_next` call may take without yielding anything before it
/// wakes its own task and returns `Pending`.
pub(crate) const BUDGET: u32 = 512;

/// The most inner items taken between two readings of the clock within one `poll_next` call.
pub(crate) const MAX_STRIDE: u32 = 128;

/// The time a stride of items should take: while items come faster than this in total, the
/// clock is read every [`MAX_STRIDE`] items at most; while they come slower, before every poll.
const STRIDE_TIME_NS: u64 = 5_000;

/// `now + d`, or `None` ("never") when that lies past the range of [`Instant`].
#[inline]
pub(crate) fn after(now: Instant, d: Duration) -> Option<Instant> {
    now.checked_add(d)
}

/// Why the inner stream stopped giving items within one `poll_next` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idle {
    /// It returned `Pending`.
    Pending,
    /// It is still ready, but the poll budget is spent.
    BudgetSpent,
}

/// What one poll of the inner stream gave, when it was not an item absorbed in a run.
pub(crate) enum Event<I, E> {
    Item(I),
    Error(E),
    End,
    Pending,
}

/// The loop of a run of absorbed items: it polls the inner stream and hands each item to
/// `absorb`, until the room is used up or the inner stream gives anything but an item.
pub(crate) trait Run<I> {
    /// The items left of the room, and what stopped the run early, if anything.
    type Out;

    fn run(self, absorb: impl FnMut(I)) -> Self::Out;
}

/// The engine's [`Run`].
struct Runner<'a, 'b, S, F> {
    stream: Pin<&'a mut S>,
    cx: &'a mut Context<'b>,
    split: &'a F,
    left: u32,
}

impl<S, F, I, E> Run<I> for Runner<'_, '_, S, F>
where
    S: Stream,
    F: Fn(S::Item) -> Result<I, E>,
{
    type Out = (u32, Option<Event<I, E>>);

    #[inline]
    fn run(mut self, mut absorb: impl FnMut(I)) -> Self::Out {
        let event = loop {
            match self.stream.as_mut().poll_next(self.cx) {
                Poll::Ready(Some(item)) => match (self.split)(item) {
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

/// The state machine of one adapter, driven by [`Engine::poll`].
pub(crate) trait Machine {
    /// What the machine takes from the inner stream (the `Ok` side, for `try_` adapters).
    type Item;
    /// What the machine yields.
    type Output;

    /// Acts on every deadline reached at `now`; returns what that yields, if anything.
    fn on_deadlines(&mut self, now: Instant) -> Option<Self::Output>;

    /// Takes an item arriving at `now` (after `on_deadlines(now)`).
    ///
    /// It must not leave a deadline that is already reached at `now`: deadlines are checked
    /// only when the clock is read, so a zero duration has to act here, at once.
    fn on_item(&mut self, item: Self::Item, now: Instant) -> Option<Self::Output>;

    /// The inner stream has nothing more for this call (zero-duration settings act here).
    fn on_idle(&mut self, why: Idle) -> Option<Self::Output>;

    /// The inner stream has ended.
    fn on_end(&mut self) -> Option<Self::Output>;

    /// The earliest deadline at which something will be yielded, if any: the task must be
    /// woken then.
    fn wake_at(&self) -> Option<Instant>;

    /// Whether the machine can do without a clock reading at the start of a call: its only
    /// deadline is `wake_at` (which the timer watches), and `on_item` ignores its arrival
    /// time (an item that opens a deadline is [`unstamped`](Machine::unstamped) until the
    /// next reading).
    fn lazy_clock(&self) -> bool {
        false
    }

    /// For a lazy machine: whether an item was taken that needs a clock reading (a batch's
    /// first item, whose arrival sets the deadline). The engine reads the clock for it at the
    /// next stride, or before the call ends, whichever comes first, and hands the reading to
    /// [`on_reading`](Machine::on_reading).
    fn unstamped(&self) -> bool {
        false
    }

    /// How many of the next items, arriving at `now` (after `on_deadlines(now)`), the machine
    /// can take through [`absorb_run`](Machine::absorb_run): items for which
    /// `on_item(item, now)` would yield nothing and change nothing but what it keeps. The
    /// engine takes such a run of items in a tight loop.
    fn room(&self, _now: Instant) -> usize {
        0
    }

    /// Drives `run`, which polls the items of a run (within the room), with a step that does
    /// for each item what `on_item(item, now)` would, which yields nothing there.
    fn absorb_run<R: Run<Self::Item>>(&mut self, run: R) -> R::Out;

    /// A clock reading `now`, taken after items that were stamped with an earlier reading.
    /// Those items arrived at `now` at the latest: a machine whose deadlines must not come
    /// early (a debounce's quiet period) moves them to `now`.
    fn on_reading(&mut self, _now: Instant) {}

    /// Moves every running deadline to a new clock whose time is `now`: each restarts in full
    /// from `now` (an instant of another clock means nothing on this one).
    fn restart(&mut self, now: Instant);

    /// Bounds on the number of outputs still to come, given the inner stream's bounds, which
    /// are `(0, Some(0))` once it has ended.
    fn size_hint(&self, inner: (usize, Option<usize>)) -> (usize, Option<usize>);

    /// Adds the machine's settings and state to a `Debug` output.
    fn debug_fields(&self, out: &mut std::fmt::DebugStruct<'_, '_>)
    where
        Self::Item: std::fmt::Debug;
}

/// The clock, the single reusable timer and the end-of-stream flag of one adapter.
#[derive(Debug)]
pub(crate) struct Engine<C: Clock> {
    pub(crate) clock: C,
    timer: Option<Alarm<C::Timer>>,
    /// The deadline `timer` is armed for, until it fires and that firing is consumed.
    armed: Option<Instant>,
    /// The inner stream has returned `None`; it is never polled again.
    done: bool,
    /// How many inner items to take between readings of the clock: adapted to how fast the
    /// items come, so a hot source does not pay for a clock reading per item.
    stride: u32,
    /// Set when a call ended on its budget: the last reading, and the items taken since. The
    /// next call's first reading adapts the stride from them.
    busy: Option<(Instant, u32)>,
    /// Items were taken after the last reading of the previous call: the next reading is
    /// handed to [`Machine::on_reading`].
    unstamped: bool,
    /// A reading taken when the engine was made: what a lazy machine is handed for an item
    /// whose arrival time it does not use.
    epoch: Instant,
    /// A call is under way: still set at the start of the next one, it tells that the last
    /// one panicked.
    polling: bool,
}

impl<C: Clock> Engine<C> {
    pub(crate) fn new(clock: C) -> Self {
        Engine {
            epoch: clock.now(),
            clock,
            timer: None,
            armed: None,
            done: false,
            stride: 1,
            busy: None,
            unstamped: false,
            polling: false,
        }
    }

    /// The same state on another clock. A timer belongs to its clock, so it is dropped.
    pub(crate) fn with_clock<C2: Clock>(self, clock: C2) -> Engine<C2> {
        Engine {
            epoch: clock.now(),
            clock,
            timer: None,
            armed: None,
            done: self.done,
            stride: 1,
            busy: None,
            unstamped: false,
            polling: false,
        }
    }

    /// Whether the adapter has nothing more to yield: the inner stream has ended and no
    /// deadline is left that would yield something.
    pub(crate) fn is_terminated<M: Machine>(&self, machine: &M) -> bool {
        self.done && machine.wake_at().is_none()
    }

    /// The adapter's `size_hint`.
    pub(crate) fn size_hint<M: Machine>(
        &self,
        machine: &M,
        inner: (usize, Option<usize>),
    ) -> (usize, Option<usize>) {
        machine.size_hint(if self.done { (0, Some(0)) } else { inner })
    }

    /// One `poll_next` of the adapter: drives `machine` with the items of `stream`.
    ///
    /// `split` turns an inner item into a machine item, or into an error that is yielded at
    /// once and touches nothing else (the `try_` adapters).
    #[inline]
    pub(crate) fn poll<S, M, E>(
        &mut self,
        stream: Pin<&mut S>,
        machine: &mut M,
        cx: &mut Context<'_>,
        split: impl Fn(S::Item) -> Result<M::Item, E>,
    ) -> Poll<Option<Result<M::Output, E>>>
    where
        S: Stream,
        M: Machine,
    {
        if std::mem::replace(&mut self.polling, true) {
            // The previous call never returned: the inner stream (or a hook) panicked, maybe
            // after items that the call would have stamped with a reading before returning.
            // The next reading stamps them.
            self.unstamped = true;
        }
        let out = self.poll_items(stream, machine, cx, split);
        self.polling = false;
        out
    }

    /// The body of [`poll`](Engine::poll), which notes around it that a call is under way.
    fn poll_items<S, M, E>(
        &mut self,
        mut stream: Pin<&mut S>,
        machine: &mut M,
        cx: &mut Context<'_>,
        split: impl Fn(S::Item) -> Result<M::Item, E>,
    ) -> Poll<Option<Result<M::Output, E>>>
    where
        S: Stream,
        M: Machine,
    {
        // Timer first: before the first poll of this call, every deadline reached is acted on.
        // Usually that takes a clock reading. A lazy machine (one whose only deadline is the
        // one the timer watches) can ask the timer instead, which is cheaper: if the timer,
        // armed for that deadline or an earlier one, has not fired, nothing is due.
        let mut now: Option<Instant> = None;
        let mut timer_polled = None;
        match machine.wake_at() {
            Some(at) if machine.lazy_clock() && self.armed.is_some_and(|armed| armed <= at) => {
                match self.poll_timer(at, cx) {
                    Poll::Pending => timer_polled = Some(at),
                    Poll::Ready(()) => {
                        let reading = self.first_reading(machine).max(at);
                        if let Some(out) = machine.on_deadlines(reading) {
                            return Poll::Ready(Some(Ok(out)));
                        }
                        now = Some(reading);
                    }
                }
            }
            // (An unstamped item at the start of a call means the previous one ended in a
            // panic: the reading it missed is taken now.)
            None if machine.lazy_clock() && !machine.unstamped() => {}
            _ => {
                let reading = self.first_reading(machine);
                if let Some(out) = machine.on_deadlines(reading) {
                    return Poll::Ready(Some(Ok(out)));
                }
                now = Some(reading);
            }
        }
        if self.done {
            return self.finish(machine, cx);
        }
        let mut have_reading = now.is_some();
        // Without a reading, the machine does not use the arrival time: any instant will do.
        let mut now = now.unwrap_or(self.epoch);
        // Between readings `now` stands still, and no machine sets a deadline that is already
        // reached at the `now` it is set (zero durations work without deadlines), so checking
        // at every reading is checking before every poll. One countdown serves both the
        // readings and the budget: it runs to the next reading, or to the end of the budget if
        // that comes first.
        let mut taken = 0;
        let mut chunk = self.stride.min(BUDGET);
        let mut countdown = chunk;
        loop {
            // Items the machine can absorb without a look (a batch filling up, items dropped
            // in an open window) are taken in a tight run; any other one goes to `on_item`.
            let room = machine.room(now).min(countdown as usize) as u32;
            let event = if room > 0 {
                let (left, event) = machine.absorb_run(Runner {
                    stream: stream.as_mut(),
                    cx,
                    split: &split,
                    left: room,
                });
                countdown -= room - left;
                event
            } else {
                Some(match stream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => match split(item) {
                        Ok(item) => Event::Item(item),
                        Err(e) => Event::Error(e),
                    },
                    Poll::Ready(None) => Event::End,
                    Poll::Pending => Event::Pending,
                })
            };
            match event {
                None => {}
                Some(Event::Item(item)) => {
                    countdown -= 1;
                    if let Some(out) = machine.on_item(item, now) {
                        self.stamp(machine, true);
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Some(Event::Error(e)) => {
                    self.stamp(machine, countdown != chunk);
                    return Poll::Ready(Some(Err(e)));
                }
                Some(Event::End) => {
                    self.done = true;
                    if let Some(out) = machine.on_end() {
                        return Poll::Ready(Some(Ok(out)));
                    }
                    return self.finish(machine, cx);
                }
                Some(Event::Pending) => {
                    if machine.unstamped() || (countdown != chunk && !machine.lazy_clock()) {
                        // Items came since the last reading, and the source now pauses: a
                        // fresh reading stamps them (conservatively) before deadlines are
                        // set for the pause.
                        now = self.clock.now();
                        machine.on_reading(now);
                        if let Some(out) = machine.on_deadlines(now) {
                            return Poll::Ready(Some(Ok(out)));
                        }
                    }
                    if let Some(out) = machine.on_idle(Idle::Pending) {
                        return Poll::Ready(Some(Ok(out)));
                    }
                    // The inner stream has registered the waker; a deadline that will yield
                    // something needs the timer too (unless this call already registered it).
                    return match machine.wake_at() {
                        None => Poll::Pending,
                        Some(at) if timer_polled == Some(at) => Poll::Pending,
                        Some(at) => self.wait(machine, at, cx),
                    };
                }
            }
            if countdown == 0 {
                taken += chunk;
                if taken >= BUDGET {
                    if let Some(out) = machine.on_idle(Idle::BudgetSpent) {
                        return Poll::Ready(Some(Ok(out)));
                    }
                    if machine.lazy_clock() && machine.unstamped() {
                        // A lazy machine's unstamped item gets its reading before the call
                        // ends (the stride adapts to it here rather than at the next call).
                        now = if have_reading {
                            self.read_clock(now)
                        } else {
                            self.clock.now()
                        };
                        machine.on_reading(now);
                        if let Some(out) = machine.on_deadlines(now) {
                            return Poll::Ready(Some(Ok(out)));
                        }
                    } else {
                        self.busy = have_reading.then_some((now, chunk));
                        self.unstamped = true;
                    }
                    // Let the executor run other tasks; come back at once.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                now = if have_reading {
                    self.read_clock(now)
                } else {
                    self.clock.now()
                };
                have_reading = true;
                machine.on_reading(now);
                if let Some(out) = machine.on_deadlines(now) {
                    return Poll::Ready(Some(Ok(out)));
                }
                chunk = self.stride.min(BUDGET - taken);
                countdown = chunk;
            }
        }
    }

    /// The first reading of a call. If the previous call ran to its budget and the task woke
    /// itself at once, the time since that call's last reading went to taking items (and to
    /// the executor), not to waiting, so it tells how fast items come: the stride adapts.
    fn first_reading<M: Machine>(&mut self, machine: &mut M) -> Instant {
        let now = self.clock.now();
        if let Some((last, items)) = self.busy.take() {
            self.adapt(now.saturating_duration_since(last), items);
        }
        if std::mem::take(&mut self.unstamped) {
            machine.on_reading(now);
        }
        now
    }

    /// A call ends with an output; `taken`: items were taken since the last reading. An eager
    /// machine, or a lazy one holding an unstamped item, gets a reading for them now (the
    /// consumer may poll again much later); any other lazy one at its next reading.
    fn stamp<M: Machine>(&mut self, machine: &mut M, taken: bool) {
        if !taken {
            return;
        }
        if machine.lazy_clock() && !machine.unstamped() {
            self.unstamped = true;
        } else {
            machine.on_reading(self.clock.now());
        }
    }

    /// After the inner stream ended: only a deadline can still yield something (a throttled
    /// trailing item); without one, the adapter ends.
    fn finish<M: Machine, E>(
        &mut self,
        machine: &mut M,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<M::Output, E>>> {
        match machine.wake_at() {
            None => Poll::Ready(None),
            Some(at) => self.wait(machine, at, cx),
        }
    }

    /// Reads the clock after `self.stride` items taken since the reading `last`, and adapts
    /// the stride to them.
    #[inline]
    fn read_clock(&mut self, last: Instant) -> Instant {
        let now = self.clock.now();
        self.adapt(now.saturating_duration_since(last), self.stride);
        now
    }

    /// Sets the stride so that a stride of items takes about `STRIDE_TIME_NS`, given that
    /// `items` took `elapsed`: items that take 5 µs or more each get a reading before every
    /// poll; items faster than 40 ns get one every `MAX_STRIDE`.
    fn adapt(&mut self, elapsed: Duration, items: u32) {
        let elapsed = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let items = u64::from(items.max(1));
        // The usual case on a hot source, without a division.
        if elapsed.saturating_mul(u64::from(MAX_STRIDE)) < STRIDE_TIME_NS.saturating_mul(items) {
            self.stride = MAX_STRIDE;
            return;
        }
        let per_item = elapsed / items;
        self.stride = match STRIDE_TIME_NS.checked_div(per_item) {
            Some(stride) => stride.clamp(1, u64::from(MAX_STRIDE)) as u32,
            None => MAX_STRIDE,
        };
    }

    /// Arms the timer for `at` and returns `Pending`, or, if `at` is already reached, acts on it.
    fn wait<M: Machine, E>(
        &mut self,
        machine: &mut M,
        at: Instant,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<M::Output, E>>> {
        match self.poll_timer(at, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                // The timer says `at` is reached; trust it even if the clock reads a hair
                // earlier, so that a timer firing cannot turn into a busy loop.
                let now = self.clock.now().max(at);
                match machine.on_deadlines(now) {
                    Some(out) => Poll::Ready(Some(Ok(out))),
                    None => {
                        // `wake_at` promised an output at `at`. Should a machine break that
                        // promise, re-evaluate on the next poll rather than hang.
                        debug_assert!(false, "a machine yielded nothing at its wake_at deadline");
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                }
            }
        }
    }

    /// Registers the task to be woken at `at`: `Ready` if that is already reached.
    ///
    /// A timer still armed for an *earlier* deadline is kept rather than re-armed (re-arming
    /// costs more than an early wake-up); when it fires, it is re-armed for `at` here.
    fn poll_timer(&mut self, at: Instant, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match &mut self.timer {
                None => {
                    self.timer = Some(Alarm::new(self.clock.timer(at)));
                    self.armed = Some(at);
                }
                Some(timer) => {
                    if !matches!(self.armed, Some(armed) if armed <= at) {
                        timer.reset(at);
                        self.armed = Some(at);
                    }
                }
            }
            if let Some(timer) = &mut self.timer {
                match timer.poll_fired(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        if self.armed.take() == Some(at) {
                            return Poll::Ready(());
                        }
                        // An earlier arming fired: loop to re-arm for `at`.
                    }
                }
            }
        }
    }
}
