//! Clocks whose timers fire late (or on time) on virtual time, sources that spend virtual time
//! inside `poll_next`, and drivers that poll with gaps: for the tests of arrival times taken
//! from the timer (`late_timer.rs`, `review_late.rs`, `review_reader.rs`, `review_pace.rs`,
//! `review_pace4.rs`).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::stream::{self, Stream, StreamExt};
use streamz::{Clock, ManualClock, ManualTimer, Timer};

/// `ManualClock`, whose timers say they fire within 0.1 ms, but do not fire before `until`
/// (as if the thread that fires them could not run until then); after it, they are on time.
#[derive(Debug, Clone)]
pub struct Late {
    clock: ManualClock,
    until: Instant,
}

pub struct LateTimer {
    timer: ManualTimer,
    until: Instant,
}

impl Clock for Late {
    type Timer = LateTimer;

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn timer(&self, deadline: Instant) -> LateTimer {
        LateTimer {
            timer: self.clock.timer(deadline.max(self.until)),
            until: self.until,
        }
    }

    fn timer_resolution(&self) -> Option<Duration> {
        Some(Duration::from_micros(100))
    }
}

impl Timer for LateTimer {
    fn reset(&mut self, deadline: Instant) {
        self.timer.reset(deadline.max(self.until));
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.timer.poll_fired(cx)
    }
}

/// A [`Late`] clock on `clock`, whose timers fire from `ms` ms after now on.
pub fn late(clock: &ManualClock, ms: u64) -> Late {
    Late {
        clock: clock.clone(),
        until: clock.now() + Duration::from_millis(ms),
    }
}

/// `ManualClock`, whose timers say they fire within 0.1 ms, and do fire 0.1 ms after their
/// deadline, the latest they may (as futures-timer's thread on a machine with a core to spare).
#[derive(Debug, Clone)]
pub struct Lagging(pub ManualClock);

pub struct LaggingTimer(ManualTimer);

impl Clock for Lagging {
    type Timer = LaggingTimer;

    fn now(&self) -> Instant {
        self.0.now()
    }

    fn timer(&self, deadline: Instant) -> LaggingTimer {
        LaggingTimer(self.0.timer(deadline + Duration::from_micros(100)))
    }

    fn timer_resolution(&self) -> Option<Duration> {
        Some(Duration::from_micros(100))
    }
}

impl Timer for LaggingTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0.reset(deadline + Duration::from_micros(100));
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_fired(cx)
    }
}

/// `n` items, each produced in 1 µs of virtual time (dense), then a source that stays pending.
/// The arrival of each item, in µs from the start, is its value.
pub fn dense(clock: &ManualClock, n: u64) -> impl Stream<Item = u64> + Unpin {
    let clock = clock.clone();
    let start = clock.now();
    stream::iter(0..n)
        .map(move |_| {
            clock.advance(Duration::from_micros(1));
            (clock.now() - start).as_micros() as u64
        })
        .chain(stream::pending())
}

/// Polls `s` with a no-op waker until it is pending, then moves the clock 100 µs and polls
/// again, until `until`; returns each output with the time it came, in µs from `start`.
pub fn run<S: Stream + Unpin>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    until: Duration,
) -> Vec<(u64, S::Item)> {
    run_moving(s, clock, start, until, |_| us(100))
}

/// Like [`run`], but the clock moves to its next timer's deadline (or 100 µs if none): each
/// output comes at the instant its timer fired.
pub fn run_to_deadlines<S: Stream + Unpin>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    until: Duration,
) -> Vec<(u64, S::Item)> {
    run_moving(s, clock, start, until, |clock| {
        match clock.next_deadline() {
            Some(at) if at > clock.now() => at - clock.now(),
            _ => us(100),
        }
    })
}

/// [`run`], with the clock moved by `step` after each `Pending`.
fn run_moving<S: Stream + Unpin>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    until: Duration,
    step: impl Fn(&ManualClock) -> Duration,
) -> Vec<(u64, S::Item)> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    while clock.now() - start < until {
        loop {
            match Pin::new(&mut *s).poll_next(&mut cx) {
                Poll::Ready(Some(item)) => {
                    out.push(((clock.now() - start).as_micros() as u64, item))
                }
                Poll::Ready(None) => return out,
                Poll::Pending => break,
            }
        }
        clock.advance(step(clock));
    }
    out
}

/// Like [`run`], but while `busy()` holds, the clock moves `gap` (not 100 µs) after a
/// `Pending` (the task comes back only after other tasks ran) and after an output for which
/// `slow` holds (the consumer takes that long over it).
pub fn run_with_gaps<S: Stream + Unpin>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    until: Duration,
    gap_by: Duration,
    busy: impl Fn() -> bool,
    slow: impl Fn(&S::Item) -> bool,
) -> Vec<(u64, S::Item)> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    while clock.now() - start < until {
        match Pin::new(&mut *s).poll_next(&mut cx) {
            Poll::Ready(Some(item)) => {
                let gap = busy() && slow(&item);
                out.push(((clock.now() - start).as_micros() as u64, item));
                if gap {
                    clock.advance(gap_by);
                }
            }
            Poll::Ready(None) => return out,
            Poll::Pending => clock.advance(if busy() {
                gap_by
            } else {
                Duration::from_micros(100)
            }),
        }
    }
    out
}

/// `n` items, each produced in `step` of virtual time, then a source that stays pending; with
/// the count of items produced. The arrival of each item, in µs from the start, is its value.
pub fn dense_counted(
    clock: &ManualClock,
    n: u64,
    step: Duration,
) -> (impl Stream<Item = u64> + Unpin, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let clock = clock.clone();
    let start = clock.now();
    let s = stream::iter(0..n)
        .map(move |_| {
            clock.advance(step);
            counter.fetch_add(1, Ordering::Relaxed);
            (clock.now() - start).as_micros() as u64
        })
        .chain(stream::pending());
    (s, count)
}

/// `n` microseconds.
pub fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// `n` items in bursts of `burst`: each produced in 1 µs of virtual time; after each burst
/// the source returns `Pending` once (waking its task), then it stays pending for good. The
/// arrival of each item, in µs from `start`, is its value.
pub struct Bursts {
    clock: ManualClock,
    start: Instant,
    n: u64,
    burst: u64,
    sent: u64,
    paused: bool,
}

impl Stream for Bursts {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        let this = &mut *self;
        if this.sent == this.n {
            return Poll::Pending;
        }
        if this.sent > 0 && this.sent % this.burst == 0 && !this.paused {
            this.paused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.paused = false;
        this.sent += 1;
        this.clock.advance(us(1));
        Poll::Ready(Some((this.clock.now() - this.start).as_micros() as u64))
    }
}

pub fn bursts(clock: &ManualClock, n: u64, burst: u64) -> Bursts {
    Bursts {
        clock: clock.clone(),
        start: clock.now(),
        n,
        burst,
        sent: 0,
        paused: false,
    }
}

/// Asserts that no output of `out` (time, arrival of the item its deadline counts from) left
/// before that arrival plus `d`.
pub fn assert_not_early(what: &str, out: &[(u64, u64)], d: u64) {
    for &(at, arrival) in out {
        assert!(
            at >= arrival + d,
            "{what}: left at {at} µs, but counts from an item that arrived at {arrival} µs \
             (due at {} µs); outputs: {out:?}",
            arrival + d
        );
    }
}

/// Asserts that no output left later than the arrival it counts from plus `d` plus `slack`.
pub fn assert_not_late(what: &str, out: &[(u64, u64)], d: u64, slack: u64) {
    for &(at, arrival) in out {
        assert!(
            at <= arrival + d + slack,
            "{what}: left at {at} µs, but counts from an item that arrived at {arrival} µs \
             (due at {} µs, allowed until {} µs); outputs: {out:?}",
            arrival + d,
            arrival + d + slack
        );
    }
}

thread_local! {
    /// The clock `read_shared` reads: the test's own (timers fire on the test's thread).
    static SHARED: std::cell::RefCell<Option<ManualClock>> = const { std::cell::RefCell::new(None) };
}

pub fn read_shared() -> Instant {
    SHARED.with(|c| c.borrow().as_ref().expect("a shared clock").now())
}

/// A [`Late`] clock with a reader.
#[derive(Debug, Clone)]
pub struct Stamped(Late);

impl Clock for Stamped {
    type Timer = LateTimer;

    fn now(&self) -> Instant {
        self.0.now()
    }

    fn timer(&self, deadline: Instant) -> LateTimer {
        self.0.timer(deadline)
    }

    fn timer_resolution(&self) -> Option<Duration> {
        self.0.timer_resolution()
    }

    fn reader(&self) -> Option<fn() -> Instant> {
        Some(read_shared)
    }
}

/// A [`Stamped`] clock on `clock`, whose timers fire from `ms` ms after now on.
pub fn stamped(clock: &ManualClock, ms: u64) -> Stamped {
    SHARED.with(|c| *c.borrow_mut() = Some(clock.clone()));
    Stamped(late(clock, ms))
}

/// `ManualClock`, whose timers say they fire within a resolution `res` and fire `delay` after
/// their instant (within the resolution: the contract's "timer's precision", or beyond it);
/// with or without a reader ([`read_shared`]).
#[derive(Clone, Debug)]
pub struct Res {
    clock: ManualClock,
    res: Option<Duration>,
    delay: Duration,
    reader: bool,
}

pub struct ResTimer(ManualTimer, Duration);

impl Clock for Res {
    type Timer = ResTimer;

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn timer(&self, deadline: Instant) -> ResTimer {
        ResTimer(
            self.clock
                .timer(deadline.checked_add(self.delay).unwrap_or(deadline)),
            self.delay,
        )
    }

    fn timer_resolution(&self) -> Option<Duration> {
        self.res
    }

    fn reader(&self) -> Option<fn() -> Instant> {
        self.reader.then_some(read_shared as fn() -> Instant)
    }
}

impl Timer for ResTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0
            .reset(deadline.checked_add(self.1).unwrap_or(deadline));
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_fired(cx)
    }
}

/// A [`Res`] clock on `clock`, without a reader; resolution and delay in nanoseconds.
pub fn res_clock(clock: &ManualClock, res_ns: u64, delay_ns: u64) -> Res {
    Res {
        clock: clock.clone(),
        res: Some(Duration::from_nanos(res_ns)),
        delay: Duration::from_nanos(delay_ns),
        reader: false,
    }
}

/// [`res_clock`], with a reader (as `SystemClock` has): the timer's firing reads the time.
pub fn res_reader_clock(clock: &ManualClock, res_ns: u64, delay_ns: u64) -> Res {
    SHARED.with(|c| *c.borrow_mut() = Some(clock.clone()));
    Res {
        reader: true,
        ..res_clock(clock, res_ns, delay_ns)
    }
}

/// `source`, with the list of the items it gave, in order (for a model to replay).
pub fn recorded<S: Stream<Item = u64> + Unpin>(
    source: S,
) -> (
    impl Stream<Item = u64> + Unpin,
    Arc<std::sync::Mutex<Vec<u64>>>,
) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let source = source.inspect(move |&item| log.lock().unwrap().push(item));
    (source, seen)
}

/// A waker that counts its wakes.
pub struct Woken(AtomicUsize);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `s` as an executor would on virtual time: again at once while it was woken (a spent
/// budget costs no time, so the source's pace stays steady), else the clock moves to the next
/// timer; until `until` after `start`, or no timer is left. Each output with the time it came
/// (ns from `start`). More than `spins` wakes in a row without output is a busy loop.
pub fn drive_timed<S: Stream + Unpin>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    until: Duration,
    spins: u64,
) -> Vec<(u64, S::Item)> {
    let woken = Arc::new(Woken(AtomicUsize::new(0)));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    let mut spun = 0u64;
    loop {
        let before = woken.0.load(Ordering::SeqCst);
        match Pin::new(&mut *s).poll_next(&mut cx) {
            Poll::Ready(Some(x)) => {
                out.push(((clock.now() - start).as_nanos() as u64, x));
                continue;
            }
            Poll::Ready(None) => return out,
            Poll::Pending => {}
        }
        if woken.0.load(Ordering::SeqCst) > before {
            spun += 1;
            assert!(spun < spins, "busy loop");
            continue;
        }
        let Some(next) = clock.next_deadline() else {
            return out;
        };
        if next.max(clock.now()) - start > until {
            return out;
        }
        clock.advance(next.saturating_duration_since(clock.now()));
    }
}

/// `n` items valued by their index; item `i` takes `gap(i)` ns of virtual time to produce
/// (inside `poll_next`); before item `i` with `pause(i)`, the source wakes its task and returns
/// `Pending` once; item `i` is an `Err` if `err(i)`. Then it stays pending. Every arrival is
/// recorded (ns from the start).
pub struct Indexed {
    clock: ManualClock,
    start: Instant,
    n: usize,
    gap: Box<dyn FnMut(usize) -> u64>,
    pause: Box<dyn FnMut(usize) -> bool>,
    err: Box<dyn FnMut(usize) -> bool>,
    paused: bool,
    arrivals: Arc<Mutex<Vec<u64>>>,
}

impl Stream for Indexed {
    type Item = Result<usize, usize>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let i = this.arrivals.lock().unwrap().len();
        if i == this.n {
            return Poll::Pending;
        }
        if !this.paused && (this.pause)(i) {
            this.paused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.paused = false;
        this.clock.advance(Duration::from_nanos((this.gap)(i)));
        let at = (this.clock.now() - this.start).as_nanos() as u64;
        this.arrivals.lock().unwrap().push(at);
        Poll::Ready(Some(if (this.err)(i) { Err(i) } else { Ok(i) }))
    }
}

/// An [`Indexed`] source on `clock`, and its arrivals.
pub fn indexed(
    clock: &ManualClock,
    n: usize,
    gap: impl FnMut(usize) -> u64 + 'static,
    pause: impl FnMut(usize) -> bool + 'static,
    err: impl FnMut(usize) -> bool + 'static,
) -> (Indexed, Arc<Mutex<Vec<u64>>>) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let source = Indexed {
        clock: clock.clone(),
        start: clock.now(),
        n,
        gap: Box::new(gap),
        pause: Box::new(pause),
        err: Box::new(err),
        paused: false,
        arrivals: arrivals.clone(),
    };
    (source, arrivals)
}
