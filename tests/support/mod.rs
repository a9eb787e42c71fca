//! Test support: a source stream fed by the test, and a driver that polls like an executor.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::Stream;
use streamz::ManualClock;

pub mod models;

/// `n` milliseconds: the unit in which the tests write their times.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct SourceState<T> {
    /// Each item, with the instant it arrives at if the source is busy until then (see
    /// [`Feed::push_busy`]).
    queue: VecDeque<(T, Option<Instant>)>,
    ended: bool,
    /// With `ended`: the instant the end arrives at, if the source is busy until then.
    end_at: Option<Instant>,
    /// The clock a busy source moves.
    clock: Option<ManualClock>,
    returned_none: bool,
    waker: Option<Waker>,
    polls: usize,
}

/// The test's end of a [`Source`]: pushes items and ends the stream, waking the consumer.
pub struct Feed<T> {
    shared: Arc<Mutex<SourceState<T>>>,
}

impl<T> Clone for Feed<T> {
    fn clone(&self) -> Self {
        Feed {
            shared: self.shared.clone(),
        }
    }
}

/// A stream that yields what its [`Feed`] pushed, returns `Pending` (registering the waker)
/// when there is nothing, and panics if it is polled after it returned `None`.
pub struct Source<T> {
    shared: Arc<Mutex<SourceState<T>>>,
}

pub fn source<T>() -> (Feed<T>, Source<T>) {
    let shared = Arc::new(Mutex::new(SourceState {
        queue: VecDeque::new(),
        ended: false,
        end_at: None,
        clock: None,
        returned_none: false,
        waker: None,
        polls: 0,
    }));
    (
        Feed {
            shared: shared.clone(),
        },
        Source { shared },
    )
}

impl<T> Feed<T> {
    pub fn push(&self, item: T) {
        self.push_at(item, None);
    }

    /// Pushes an item that the source spends time producing: the poll that returns it first
    /// moves `clock` to `at` (if it is not there yet), as a source busy until then would.
    pub fn push_busy(&self, item: T, clock: &ManualClock, at: Instant) {
        self.shared.lock().unwrap().clock = Some(clock.clone());
        self.push_at(item, Some(at));
    }

    fn push_at(&self, item: T, at: Option<Instant>) {
        let waker = {
            let mut state = self.shared.lock().unwrap();
            assert!(!state.ended, "pushed after end");
            state.queue.push_back((item, at));
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub fn end(&self) {
        self.end_at(None);
    }

    /// Ends the stream, the poll that returns `None` first moving `clock` to `at`.
    pub fn end_busy(&self, clock: &ManualClock, at: Instant) {
        self.shared.lock().unwrap().clock = Some(clock.clone());
        self.end_at(Some(at));
    }

    fn end_at(&self, at: Option<Instant>) {
        let waker = {
            let mut state = self.shared.lock().unwrap();
            state.ended = true;
            state.end_at = at;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// How many times the stream has been polled.
    pub fn polls(&self) -> usize {
        self.shared.lock().unwrap().polls
    }

    /// Items pushed and not yet taken by the consumer.
    pub fn queued(&self) -> usize {
        self.shared.lock().unwrap().queue.len()
    }
}

impl<T> Stream for Source<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.shared.lock().unwrap();
        assert!(!state.returned_none, "source polled after it returned None");
        state.polls += 1;
        let (out, busy_until) = if let Some((item, at)) = state.queue.pop_front() {
            (Poll::Ready(Some(item)), at)
        } else if state.ended {
            state.returned_none = true;
            (Poll::Ready(None), state.end_at)
        } else {
            state.waker = Some(cx.waker().clone());
            return Poll::Pending;
        };
        let clock = state.clock.clone();
        drop(state);
        // Busy until `at`: time moves inside this poll, before it returns.
        if let (Some(at), Some(clock)) = (busy_until, clock) {
            let now = clock.now();
            if at > now {
                clock.advance(at - now);
            }
        }
        out
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let state = self.shared.lock().unwrap();
        let queued = state.queue.len();
        (queued, if state.ended { Some(queued) } else { None })
    }
}

impl<T> Unpin for Source<T> {}

/// One observed event of the driven stream: an item or the end, at a virtual time in ms.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Event<T> {
    Item(u64, T),
    End(u64),
}

pub use Event::{End, Item};

/// Drives a stream with [`streamz::testing::Driver`] (polled the way an executor does: once at
/// the start, again right after each `Ready(Some)`, and otherwise only after its waker was
/// woken) on a [`ManualClock`], recording each output with its time in ms since the start.
pub struct Driver<S: Stream> {
    inner: streamz::testing::Driver<S>,
    clock: ManualClock,
    start: Instant,
    events: Vec<Event<S::Item>>,
    /// Events already taken from `events` by [`run_schedule`].
    kept: Vec<Event<S::Item>>,
}

impl<S: Stream> Driver<S> {
    /// Drives `stream` on `clock`; times are measured from now on `clock`.
    pub fn new(stream: S, clock: &ManualClock) -> Self {
        Driver {
            inner: streamz::testing::Driver::new(stream).max_polls(100_000),
            clock: clock.clone(),
            start: clock.now(),
            events: Vec::new(),
            kept: Vec::new(),
        }
    }

    pub fn now_ms(&self) -> u64 {
        (self.clock.now() - self.start).as_millis() as u64
    }

    /// Polls until the stream returns `Pending` and nobody has woken it since.
    pub fn run(&mut self) {
        let (clock, start, events) = (&self.clock, self.start, &mut self.events);
        self.inner.run(|output| {
            let t = (clock.now() - start).as_millis() as u64;
            events.push(match output {
                Some(item) => Item(t, item),
                None => End(t),
            });
        });
    }

    /// Advances the clock to `t` ms after the start, running the stream after the move.
    pub fn at(&mut self, t: u64) {
        let now = self.now_ms();
        assert!(t >= now, "time goes forward only: {t} < {now}");
        self.clock.advance(ms(t - now));
        self.run();
    }

    /// Advances the clock to `t` one millisecond at a time, running the stream after each step.
    pub fn step_to(&mut self, t: u64) {
        while self.now_ms() < t {
            self.clock.advance(ms(1));
            self.run();
        }
    }

    /// Plays a schedule millisecond by millisecond up to `until` (inclusive): at each instant
    /// the clock moves first (waking due timers), then the items due then are pushed (and the
    /// end, if `end_at` is then), then the stream runs. Returns what it yielded, with times.
    pub fn play<T: Clone>(
        &mut self,
        feed: &Feed<T>,
        items: &[(u64, T)],
        end_at: Option<u64>,
        until: u64,
    ) -> Vec<Event<S::Item>> {
        let mut t = self.now_ms();
        loop {
            for (_, item) in items.iter().filter(|(at, _)| *at == t) {
                feed.push(item.clone());
            }
            if end_at == Some(t) {
                feed.end();
            }
            self.run();
            if t >= until {
                break;
            }
            self.clock.advance(ms(1));
            t += 1;
        }
        self.take()
    }

    /// Takes the events recorded so far.
    pub fn take(&mut self) -> Vec<Event<S::Item>> {
        std::mem::take(&mut self.events)
    }

    pub fn wakes(&self) -> usize {
        self.inner.wakes()
    }

    pub fn stream(&mut self) -> Pin<&mut S> {
        self.inner.get_pin_mut()
    }

    pub fn get(&self) -> &S {
        self.inner.get_ref()
    }
}

/// Runs `f` and returns the panic message and the file:line the panic was reported at.
pub fn panic_site(f: impl FnOnce() + std::panic::UnwindSafe) -> (String, String) {
    use std::sync::OnceLock;
    static LOCK: Mutex<()> = Mutex::new(());
    static SITE: OnceLock<Mutex<Option<String>>> = OnceLock::new();
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let site = SITE.get_or_init(|| Mutex::new(None));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *site.lock().unwrap() = Some(loc);
    }));
    let result = std::panic::catch_unwind(f);
    std::panic::set_hook(previous);
    let payload = result.expect_err("expected a panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    let loc = site.lock().unwrap().take().unwrap_or_default();
    (message, loc)
}

/// Drives `stream` through `schedule` on `clock` (fed by `feed`), visiting every instant of the
/// schedule and every timer deadline, until the stream ends or nothing is left to happen.
///
/// Also checks, for a stream that ended, that every `size_hint` seen along the way contained
/// the number of items that followed, and that the stream stays ended.
pub fn run_schedule<S, I, X>(
    stream: S,
    clock: &ManualClock,
    feed: &Feed<I>,
    schedule: &[(u64, models::Ev)],
    input: impl Fn(models::Ev) -> I,
    output: impl Fn(u64, S::Item) -> models::Out<X>,
) -> Vec<models::Out<X>>
where
    S: Stream + futures::stream::FusedStream,
{
    run_schedule_busy(stream, clock, feed, schedule, &[], input, output)
}

/// [`run_schedule`], where the source is busy until each instant listed (in order) in `busy` (but the
/// first): the events of a busy instant are queued with those of the instant before, and the
/// poll that returns the first of them moves the clock to its instant, so the adapter sees no
/// pause in between and time moves inside the source's `poll_next`.
pub fn run_schedule_busy<S, I, X>(
    stream: S,
    clock: &ManualClock,
    feed: &Feed<I>,
    schedule: &[(u64, models::Ev)],
    busy: &[u64],
    input: impl Fn(models::Ev) -> I,
    output: impl Fn(u64, S::Item) -> models::Out<X>,
) -> Vec<models::Out<X>>
where
    S: Stream + futures::stream::FusedStream,
{
    let mut d = Driver::new(stream, clock);
    let start = d.start;
    let deadline_ms = |clock: &ManualClock| {
        clock.next_deadline().map(|at| {
            let nanos = at.saturating_duration_since(start).as_nanos();
            ((nanos + 999_999) / 1_000_000) as u64
        })
    };
    let mut hints: Vec<(usize, (usize, Option<usize>))> = Vec::new();
    let mut seen = 0;
    let mut note = |d: &mut Driver<S>, hints: &mut Vec<_>| {
        seen += d.events.iter().filter(|e| matches!(e, Item(..))).count();
        let events = std::mem::take(&mut d.events);
        d.kept.extend(events);
        hints.push((seen, d.get().size_hint()));
    };
    d.run();
    note(&mut d, &mut hints);
    let first = schedule.first().map(|&(t, _)| t);
    let is_busy = |t: u64| Some(t) != first && busy.binary_search(&t).is_ok();
    let mut i = 0;
    while i < schedule.len() && !d.inner.is_ended() {
        let t = schedule[i].0;
        while let Some(at) = deadline_ms(clock).filter(|&at| at < t) {
            d.at(at);
            note(&mut d, &mut hints);
        }
        let now = d.now_ms();
        clock.advance(ms(t - now));
        // This instant's events, and those of the busy instants that follow it.
        let mut instant = t;
        while i < schedule.len() && (schedule[i].0 == instant || is_busy(schedule[i].0)) {
            let (at, ev) = schedule[i];
            let busy_at = (at != t).then(|| start + ms(at));
            match (ev, busy_at) {
                (models::Ev::End, None) => feed.end(),
                (models::Ev::End, Some(at)) => feed.end_busy(clock, at),
                (ev, None) => feed.push(input(ev)),
                (ev, Some(at)) => feed.push_busy(input(ev), clock, at),
            }
            instant = at;
            i += 1;
        }
        d.run();
        note(&mut d, &mut hints);
    }
    let mut rounds = 0;
    while !d.inner.is_ended() {
        let Some(at) = deadline_ms(clock) else { break };
        rounds += 1;
        assert!(rounds < 100_000, "timers keep firing without end");
        let at = at.max(d.now_ms() + 1);
        d.at(at);
        note(&mut d, &mut hints);
    }
    if d.inner.is_ended() {
        let total = seen;
        for (before, (lower, upper)) in hints {
            let rest = total - before;
            assert!(
                lower <= rest,
                "size_hint lower bound {lower} > {rest} items that followed"
            );
            if let Some(upper) = upper {
                assert!(
                    rest <= upper,
                    "size_hint upper bound {upper} < {rest} items that followed"
                );
            }
        }
        assert!(d.get().is_terminated(), "ended but not terminated");
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..2 {
            assert!(
                matches!(d.stream().poll_next(&mut cx), Poll::Ready(None)),
                "None must be final"
            );
        }
    }
    d.kept
        .into_iter()
        .map(|event| match event {
            Item(t, item) => output(t, item),
            End(t) => models::Out::End(t),
        })
        .collect()
}

/// Always ready but for a `Pending` (with a self-wake) every `every` items.
pub struct Bursty {
    next: u64,
    end: u64,
    every: u64,
    paused: bool,
}

impl Bursty {
    pub fn new(end: u64, every: u64) -> Self {
        Bursty {
            next: 0,
            end,
            every,
            paused: false,
        }
    }
}

impl Stream for Bursty {
    type Item = u64;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        if self.next == self.end {
            return Poll::Ready(None);
        }
        if self.next % self.every == 0 && !self.paused {
            self.paused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.paused = false;
        self.next += 1;
        Poll::Ready(Some(self.next - 1))
    }
}
