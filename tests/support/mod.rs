//! Test support: a source stream fed by the test ([`source`], [`Feed`]), a driver that polls
//! like an executor on virtual time ([`drive`], [`Driver`], [`Timeline`]), and runs of whole
//! schedules against reference models ([`schedule`], [`models`]).
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::Stream;
use streamz::ManualClock;

pub mod keyed_models;
pub mod late;
pub mod models;
pub mod schedule;

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

/// A [`Source`] of `T` through `op`, on a new [`ManualClock`], with a [`Driver`] for the result:
/// returns the clock, the source's feed and the driver. `op` is written as in `assert_marbles!`,
/// `|s, clock| s.throttle(ms(100)).with_clock(clock)`.
pub fn drive<T, S: Stream>(
    op: impl FnOnce(Source<T>, ManualClock) -> S,
) -> (ManualClock, Feed<T>, Driver<S>) {
    let clock = ManualClock::new();
    let (feed, input) = source();
    let driver = Driver::new(op(input, clock.clone()), &clock);
    (clock, feed, driver)
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

/// What a test feeds a [`Source`] over time, played by [`Driver::play`]: items at their times
/// (in ms from the driver's start), perhaps the end of the stream, and the time to play until.
///
/// `Timeline::new().item(0, 'a').item(10, 'b').end(20).until(50)` pushes 'a' at 0 ms and 'b'
/// at 10 ms, ends the source at 20 ms, and runs the stream each millisecond up to 50 ms.
#[derive(Debug, Clone)]
pub struct Timeline<T> {
    /// Sorted by time; items of one instant keep the order they were given in.
    items: Vec<(u64, T)>,
    end: Option<u64>,
    until: Option<u64>,
}

impl<T> Timeline<T> {
    /// Nothing fed, played until the driver's present.
    pub fn new() -> Self {
        Timeline {
            items: Vec::new(),
            end: None,
            until: None,
        }
    }

    /// `item` is pushed at `t` ms.
    pub fn item(self, t: u64, item: T) -> Self {
        self.items([(t, item)])
    }

    /// Each item is pushed at its time, in ms.
    pub fn items(mut self, items: impl IntoIterator<Item = (u64, T)>) -> Self {
        self.items.extend(items);
        self.items.sort_by_key(|&(t, _)| t);
        self
    }

    /// The source ends at `t` ms, after that instant's items.
    pub fn end(mut self, t: u64) -> Self {
        self.end = Some(t);
        self
    }

    /// Plays until `t` ms, inclusive; without it, until the last item or the end.
    pub fn until(mut self, t: u64) -> Self {
        self.until = Some(t);
        self
    }
}

impl<T> Default for Timeline<T> {
    fn default() -> Self {
        Self::new()
    }
}

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
}

impl<S: Stream> Driver<S> {
    /// Drives `stream` on `clock`; times are measured from now on `clock`.
    pub fn new(stream: S, clock: &ManualClock) -> Self {
        Driver {
            inner: streamz::testing::Driver::new(stream).max_polls(100_000),
            clock: clock.clone(),
            start: clock.now(),
            events: Vec::new(),
        }
    }

    /// Virtual time since the start, in whole milliseconds.
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

    /// Plays `timeline` on `feed`, millisecond by millisecond from now until its `until`
    /// (inclusive): at each instant the clock moves first (waking due timers), then the items
    /// due then are pushed (and the end, if it is then), then the stream runs. Returns what
    /// the stream yielded, with times (and whatever it yielded before and was not taken yet).
    pub fn play<T>(&mut self, feed: &Feed<T>, timeline: Timeline<T>) -> Vec<Event<S::Item>> {
        let Timeline { items, end, until } = timeline;
        let mut t = self.now_ms();
        if let Some(&(first, _)) = items.first() {
            assert!(first >= t, "an item at {first} ms, before now ({t} ms)");
        }
        let until = until.unwrap_or_else(|| {
            items
                .iter()
                .map(|&(at, _)| at)
                .chain(end)
                .max()
                .unwrap_or(t)
        });
        let mut items = items.into_iter().peekable();
        loop {
            while let Some((_, item)) = items.next_if(|&(at, _)| at == t) {
                feed.push(item);
            }
            if end == Some(t) {
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

    /// Plays `timeline` on `feed` as a source busy producing its items one after another from
    /// now on: all are pushed at once, each but those of the present handed out by a poll that
    /// first moves the clock to the item's time (as a source busy until then would). Then the
    /// stream runs, and the clock moves millisecond by millisecond until the timeline's `until`.
    /// Returns what the stream yielded, with times.
    pub fn play_busy<T>(&mut self, feed: &Feed<T>, timeline: Timeline<T>) -> Vec<Event<S::Item>> {
        let Timeline { items, end, until } = timeline;
        let now = self.now_ms();
        let at = |t: u64| {
            assert!(t >= now, "an event at {t} ms, before now ({now} ms)");
            (t > now).then(|| self.start + ms(t))
        };
        let mut last = now;
        for (t, item) in items {
            match at(t) {
                None => feed.push(item),
                Some(instant) => feed.push_busy(item, &self.clock, instant),
            }
            last = t;
        }
        match end.map(|t| (t, at(t))) {
            None => {}
            Some((_, None)) => feed.end(),
            Some((t, Some(instant))) => {
                feed.end_busy(&self.clock, instant);
                last = t;
            }
        }
        self.run();
        self.step_to(until.unwrap_or(last));
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

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Another small deterministic generator (xorshift64), whose sequences some review tests'
/// seeds were chosen for.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Polls `stream` once, with a waker that does nothing.
pub fn poll_once<S: Stream + Unpin>(stream: &mut S) -> Poll<Option<S::Item>> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    Pin::new(stream).poll_next(&mut cx)
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
