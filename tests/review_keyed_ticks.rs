//! Review of the keyed machine's integer ticks, per-slot generations, the cached first
//! deadline, and outputs queued by one reading and yielded without another (`src/keyed.rs`,
//! `Machine::queued` in `src/engine`).
//!
//! - A keyed batch against a model computed from the arrival log alone (per key the plain
//!   batch's rules; outputs of one check in deadline order, ties by first arrival; `max_keys`
//!   evicts the first in that order), under hostile poll orders: single polls with time moving
//!   while outputs wait, drains, errors, clock swaps to earlier and later clocks. After every
//!   `Pending` the adapter has yielded exactly what the model has up to now, and holds a timer
//!   no later than the earliest open deadline (or woke itself).
//! - Throttle and debounce by key under the same hostile orders: no item lost or duplicated
//!   (yielded or handed to the drop hook, exactly once), per key in arrival order, no hang.
//! - Fixed cases: keys due at one reading across time that moves between polls, an error
//!   arriving with several keys due, clock swaps with queued outputs and never-ending windows,
//!   eviction ties, zero durations, a panicking `key_fn` / weigher / hook with several keys
//!   due, many re-arms of one key.
//! - Deadlines more than 2^64 ns after the adapter's first reading (of virtual time, or of a
//!   latency): a 64-bit tick saturated there, which hung or misordered; ticks are 128-bit now.

mod support;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::stream::{FusedStream, Stream};
use streamz::{Edge, FlushReason, ManualClock, StreamzExt, TryStreamzExt};
use support::{ms, poll_once, source, Feed, Rng, Source};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Counts its wakes.
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Poller {
    counter: Arc<Counter>,
    waker: Waker,
}

impl Poller {
    fn new() -> Self {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        Poller {
            waker: Waker::from(counter.clone()),
            counter,
        }
    }

    fn wakes(&self) -> usize {
        self.counter.0.load(Ordering::SeqCst)
    }

    /// One poll; also whether the task was woken during it.
    fn poll<S: Stream + Unpin>(&self, s: &mut S) -> (Poll<Option<S::Item>>, bool) {
        let before = self.wakes();
        let mut cx = Context::from_waker(&self.waker);
        let p = Pin::new(s).poll_next(&mut cx);
        (p, self.wakes() != before)
    }
}

/// Runs `f` on its own thread; fails if it does not finish within `secs` (a hang inside
/// `poll_next`). A hung thread is left spinning.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: poll_next did not return within {secs} s (a hang)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the run panicked"),
    }
}

/// Everything ready now (polls until `Pending` or the end).
fn ready<S: Stream + Unpin>(s: &mut S) -> Vec<S::Item> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        match poll_once(s) {
            Poll::Ready(Some(x)) => out.push(x),
            _ => return out,
        }
    }
    panic!("never pending");
}

/// About 634 years: more nanoseconds than a `u64` holds, well inside `Instant`'s range.
const FAR: Duration = Duration::from_secs(20_000_000_000);

// ---------------------------------------------------------------------------------------------
// Deadlines more than 2^64 ns after the adapter's first reading

/// The adapter's clock is a virtual one that has run for 634 years before the items come
/// (`base` stays at the adapter's first reading). With 64-bit ticks, every deadline's tick
/// saturated, so the heap ordered all keys by opening alone, and `pop_exact` took every entry
/// as due (`until` saturated too): key 1's batch was served at +100 ms; then key 2's entry
/// (deadline +110 ms, not reached) was popped as due, its state yielded nothing, it was pushed
/// back at the same tick and popped again, and `on_deadlines` never returned.
#[test]
fn batch_by_after_584_years_of_virtual_time_serves_each_key_at_its_deadline() {
    let out = within(10, "batch_by after FAR", || {
        let clock = ManualClock::new();
        let (feed, src) = source::<u32>();
        let mut s = src
            .batch_by(|x: &u32| x % 10, 10, ms(100))
            .with_clock(clock.clone());
        clock.advance(FAR);
        feed.push(1);
        assert!(poll_once(&mut s).is_pending());
        clock.advance(ms(10));
        feed.push(2);
        assert!(poll_once(&mut s).is_pending());
        clock.advance(ms(90));
        ready(&mut s)
    });
    assert_eq!(out, vec![(1, vec![1])]);
}

/// The same with an ordinary clock and a long latency: `batch_by(.., 634 years)`, keys 1 and
/// 2 opened 10 ms apart. With 64-bit ticks, at key 1's deadline, key 2's entry (the same
/// saturated tick) was taken as due and `on_deadlines` looped for good.
#[test]
fn batch_by_with_a_634_year_latency_serves_the_first_deadline_without_a_hang() {
    let out = within(10, "batch_by(FAR)", || {
        let clock = ManualClock::new();
        let (feed, src) = source::<u32>();
        let mut s = src
            .batch_by(|x: &u32| x % 10, 10, FAR)
            .with_clock(clock.clone());
        feed.push(1);
        assert!(poll_once(&mut s).is_pending());
        clock.advance(ms(10));
        feed.push(2);
        assert!(poll_once(&mut s).is_pending());
        clock.advance(FAR - ms(10));
        ready(&mut s)
    });
    assert_eq!(out, vec![(1, vec![1])]);
}

/// Deadline order broken by saturated ticks, without a hang: after 634 virtual years, key 1
/// at +0, key 2 at +10 ms, key 1 again at +20 ms under `debounce_by(100 ms)`: key 2's quiet
/// period ends at +110, key 1's at +120. Both have passed by the one reading at +200, so they
/// must come in deadline order: 2 then 21. With 64-bit ticks, the saturated ticks tied, and
/// key 1 (opened first) came first.
#[test]
fn debounce_by_after_584_years_serves_keys_in_deadline_order() {
    let out = within(10, "debounce_by after FAR", || {
        let clock = ManualClock::new();
        let (feed, src) = source::<u32>();
        let mut s = src
            .debounce_by(|x: &u32| x % 10, ms(100))
            .with_clock(clock.clone());
        clock.advance(FAR);
        for (dt, x) in [(0, 1), (10, 2), (10, 21)] {
            clock.advance(ms(dt));
            feed.push(x);
            assert!(poll_once(&mut s).is_pending());
        }
        // Nobody polls while the timers fire: one reading at +200 sees both deadlines.
        clock.advance(ms(180));
        ready(&mut s)
    });
    assert_eq!(
        out,
        vec![2, 21],
        "deadline order (key 2 at +110 ms, key 1 at +120 ms)"
    );
}

/// The keys bound evicts the key with the earliest deadline: after 634 virtual years, key 1
/// (re-armed, deadline +120 ms) and key 2 (deadline +110 ms) are held; key 3 must evict key 2.
/// With 64-bit ticks saturated, key 1 (opened first) was evicted.
#[test]
fn max_keys_after_584_years_evicts_the_earliest_deadline() {
    let out = within(10, "max_keys after FAR", || {
        let clock = ManualClock::new();
        let (feed, src) = source::<u32>();
        let mut s = src
            .debounce_by(|x: &u32| x % 10, ms(100))
            .max_keys(2)
            .with_clock(clock.clone());
        clock.advance(FAR);
        let mut out = Vec::new();
        for (dt, x) in [(0, 1), (10, 2), (10, 21), (10, 3)] {
            clock.advance(ms(dt));
            feed.push(x);
            out.extend(ready(&mut s));
        }
        out
    });
    assert_eq!(
        out,
        vec![2],
        "key 2 (deadline +110 ms) is evicted, not key 1 (+120 ms)"
    );
}

/// The same eviction on an ordinary time scale: the rule the 64-bit ticks broke after 584
/// years.
#[test]
fn max_keys_evicts_the_earliest_deadline_when_the_first_opened_was_re_armed() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let mut s = src
        .debounce_by(|x: &u32| x % 10, ms(100))
        .max_keys(2)
        .with_clock(clock.clone());
    let mut out = Vec::new();
    for (dt, x) in [(0, 1), (10, 2), (10, 21), (10, 3)] {
        clock.advance(ms(dt));
        feed.push(x);
        out.extend(ready(&mut s));
    }
    assert_eq!(out, vec![2]);
    clock.advance(ms(200));
    out.extend(ready(&mut s));
    assert_eq!(out, vec![2, 21, 3]);
}

// ---------------------------------------------------------------------------------------------
// The arrival log, on a timeline that continues across clock swaps

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arr {
    Item(u32),
    Err(u32),
    End,
}

trait Tag {
    fn tag(&self) -> Arr;
}

impl Tag for u32 {
    fn tag(&self) -> Arr {
        Arr::Item(*self)
    }
}

impl Tag for Result<u32, u32> {
    fn tag(&self) -> Arr {
        match self {
            Ok(x) => Arr::Item(*x),
            Err(e) => Arr::Err(*e),
        }
    }
}

/// Virtual time that goes on across `with_clock`: a deadline keeps the time it had left.
struct Timeline {
    clock: ManualClock,
    origin: Instant,
    vt0: Duration,
    arrivals: Vec<(Arr, Duration)>,
}

impl Timeline {
    fn vt(&self) -> Duration {
        self.vt0 + (self.clock.now() - self.origin)
    }

    /// The instant of the current clock at virtual time `vt` (not before its origin).
    fn instant(&self, vt: Duration) -> Instant {
        self.origin + vt.saturating_sub(self.vt0)
    }

    fn swap(&mut self, clock: ManualClock) {
        self.vt0 = self.vt();
        self.origin = clock.now();
        self.clock = clock;
    }
}

type SharedLine = Rc<RefCell<Timeline>>;

/// The source, logging each arrival at the virtual time its poll returns it.
struct Logged<S> {
    inner: S,
    line: SharedLine,
}

impl<S: Stream + Unpin> Stream for Logged<S>
where
    S::Item: Tag,
{
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let p = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(x) = &p {
            let tag = x.as_ref().map_or(Arr::End, Tag::tag);
            let mut line = self.line.borrow_mut();
            let vt = line.vt();
            line.arrivals.push((tag, vt));
        }
        p
    }
}

impl<S: Stream + Unpin> Unpin for Logged<S> {}

// ---------------------------------------------------------------------------------------------
// The batch model, from the arrival log

#[derive(Clone, Debug, PartialEq, Eq)]
enum MOut {
    Batch(u32, Vec<u32>, FlushReason),
    Err(u32),
}

#[derive(Clone, Debug)]
struct OpenBatch {
    key: u32,
    items: Vec<u32>,
    first: Duration,
    opened: u64,
}

/// `batch_by(key, max_size, latency)` with a keys bound, per the contract: before each event,
/// every batch whose deadline is at or before it leaves, in (deadline, opening) order.
#[derive(Clone, Debug)]
struct BatchModel {
    nkeys: u32,
    max_size: usize,
    latency: Duration,
    max_keys: usize,
    open: Vec<OpenBatch>,
    opened: u64,
    out: Vec<MOut>,
    applied: usize,
}

impl BatchModel {
    fn rank(&self, b: &OpenBatch) -> (Duration, u64) {
        (b.first + self.latency, b.opened)
    }

    fn first_in_order(&self, due_by: Option<Duration>) -> Option<usize> {
        (0..self.open.len())
            .filter(|&i| due_by.map_or(true, |t| self.open[i].first + self.latency <= t))
            .min_by_key(|&i| self.rank(&self.open[i]))
    }

    fn serve(&mut self, t: Duration) {
        while let Some(i) = self.first_in_order(Some(t)) {
            let b = self.open.remove(i);
            self.out
                .push(MOut::Batch(b.key, b.items, FlushReason::Deadline));
        }
    }

    fn earliest(&self) -> Option<Duration> {
        self.open.iter().map(|b| b.first + self.latency).min()
    }

    fn event(&mut self, a: Arr, t: Duration) {
        self.serve(t);
        match a {
            Arr::Err(e) => self.out.push(MOut::Err(e)),
            Arr::Item(x) => {
                let key = x % self.nkeys;
                let i = match self.open.iter().position(|b| b.key == key) {
                    Some(i) => i,
                    None => {
                        if self.open.len() >= self.max_keys {
                            let v = self.first_in_order(None).unwrap();
                            let b = self.open.remove(v);
                            self.out
                                .push(MOut::Batch(b.key, b.items, FlushReason::MaxKeys));
                        }
                        self.open.push(OpenBatch {
                            key,
                            items: Vec::new(),
                            first: t,
                            opened: self.opened,
                        });
                        self.opened += 1;
                        self.open.len() - 1
                    }
                };
                self.open[i].items.push(x);
                if self.open[i].items.len() >= self.max_size {
                    let b = self.open.remove(i);
                    self.out
                        .push(MOut::Batch(b.key, b.items, FlushReason::Full));
                }
            }
            Arr::End => {
                while let Some(i) = self.first_in_order(None) {
                    let b = self.open.remove(i);
                    self.out.push(MOut::Batch(b.key, b.items, FlushReason::End));
                }
            }
        }
    }

    fn catch_up(&mut self, log: &[(Arr, Duration)]) {
        for &(a, t) in &log[self.applied..] {
            self.event(a, t);
        }
        self.applied = log.len();
    }
}

// ---------------------------------------------------------------------------------------------
// The hostile run of a keyed batch

#[derive(Clone, Copy, Debug)]
struct BatchCase {
    seed: u64,
    fallible: bool,
    nkeys: u32,
    max_size: usize,
    latency: Duration,
    max_keys: Option<usize>,
    swaps: bool,
    steps: usize,
}

/// Drives an adapter made by `make` through random actions; `conv` turns an output into an
/// `MOut`, `swap` moves the adapter to another clock, `keys` gives its active keys.
#[allow(clippy::too_many_arguments)]
fn hostile_batch<T, S>(
    case: BatchCase,
    input: impl Fn(Arr) -> T,
    make: impl FnOnce(Logged<Source<T>>, ManualClock) -> S,
    conv: impl Fn(S::Item) -> MOut,
    swap: impl Fn(S, ManualClock) -> S,
    keys: impl Fn(&S) -> usize,
) where
    T: Tag,
    S: Stream + FusedStream + Unpin,
{
    let mut rng = Rng(case.seed | 1);
    let clock = ManualClock::new();
    // A clock that started earlier than the adapter's (it is not advanced with it).
    let early = ManualClock::new();
    let line: SharedLine = Rc::new(RefCell::new(Timeline {
        clock: clock.clone(),
        origin: clock.now(),
        vt0: Duration::ZERO,
        arrivals: Vec::new(),
    }));
    let (feed, src): (Feed<T>, Source<T>) = source();
    let logged = Logged {
        inner: src,
        line: line.clone(),
    };
    let mut s = Some(make(logged, clock.clone()));
    let poller = Poller::new();
    let mut model = BatchModel {
        nkeys: case.nkeys,
        max_size: case.max_size,
        latency: case.latency,
        max_keys: case.max_keys.unwrap_or(usize::MAX),
        open: Vec::new(),
        opened: 0,
        out: Vec::new(),
        applied: 0,
    };
    let mut got: Vec<MOut> = Vec::new();
    let mut seq = 0u32;
    let mut ended = false;
    let mut trace: Vec<String> = Vec::new();

    // After a `Pending`: everything due by now was yielded, and a timer will wake the task
    // by the earliest open deadline.
    let check_rest = |s: &S, woke: bool, model: &mut BatchModel, got: &[MOut], trace: &[String]| {
        let line = line.borrow();
        model.catch_up(&line.arrivals);
        let mut now = model.clone();
        let vt = line.vt();
        now.serve(vt);
        if woke {
            return;
        }
        assert_eq!(
            got,
            &now.out[..],
            "{case:?}: after Pending at {vt:?}, outputs differ from the model; trace {trace:?}"
        );
        assert_eq!(keys(s), now.open.len(), "{case:?}: active keys at {vt:?}");
        if let Some(earliest) = now.earliest() {
            let at = line.instant(earliest);
            let timer = line.clock.next_deadline();
            assert!(
                timer.is_some_and(|timer| timer <= at),
                "{case:?}: Pending at {vt:?} with a batch due at {earliest:?} and timer {:?} \
                 (a hang); trace {trace:?}",
                timer.map(|t| t.saturating_duration_since(line.origin) + line.vt0)
            );
        }
    };

    for step in 0..case.steps {
        let roll = rng.below(100);
        match roll {
            0..=34 if !ended => {
                let key = rng.below(u64::from(case.nkeys)) as u32;
                let x = seq * case.nkeys + key;
                seq += 1;
                feed.push(input(Arr::Item(x)));
                trace.push(format!("push {x}"));
            }
            35..=39 if case.fallible && !ended => {
                feed.push(input(Arr::Err(seq)));
                trace.push(format!("err {seq}"));
                seq += 1;
            }
            40..=57 => {
                let d = ms(rng.below(3) * 50 + rng.below(60));
                clock_of(&line).advance(d);
                trace.push(format!("advance {d:?}"));
            }
            58..=62 => {
                // Exactly to the next timer's deadline.
                let c = clock_of(&line);
                if let Some(at) = c.next_deadline() {
                    let now = c.now();
                    if at > now {
                        c.advance(at - now);
                    }
                    trace.push("to timer".into());
                }
            }
            63..=79 => {
                // A single poll: outputs may be left waiting while time moves on.
                let (p, woke) = poller.poll(s.as_mut().unwrap());
                match p {
                    Poll::Ready(Some(out)) => got.push(conv(out)),
                    Poll::Ready(None) => break,
                    Poll::Pending => {
                        check_rest(s.as_ref().unwrap(), woke, &mut model, &got, &trace)
                    }
                }
                trace.push("poll".into());
            }
            80..=95 => {
                trace.push("drain".into());
                if drain(&poller, s.as_mut().unwrap(), &conv, &mut got) {
                    break;
                }
                check_rest(s.as_ref().unwrap(), false, &mut model, &got, &trace);
            }
            96..=97 if case.swaps => {
                // To a clock that started earlier, or to one far later.
                let new = if rng.below(2) == 0 {
                    early.clone()
                } else {
                    let c = ManualClock::new();
                    c.advance(Duration::from_secs(36_000 + rng.below(1000)));
                    c
                };
                let old = clock_of(&line);
                let before = old.timers();
                s = Some(swap(s.take().unwrap(), new.clone()));
                line.borrow_mut().swap(new);
                assert!(old.timers() <= before, "the old clock's timer stays");
                trace.push("swap".into());
            }
            // The source may end in the last quarter; pushes stop then.
            98 if !ended && step * 4 >= case.steps * 3 => {
                feed.end();
                ended = true;
                trace.push("end".into());
            }
            _ => {}
        }
    }
    if !ended {
        feed.end();
    }
    // The rest: time moves to each timer until the end.
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 10_000, "{case:?}: no end");
        if drain(&poller, s.as_mut().unwrap(), &conv, &mut got) {
            break;
        }
        let c = clock_of(&line);
        match c.next_deadline() {
            Some(at) if at > c.now() => c.advance(at - c.now()),
            _ => c.advance(ms(1)),
        }
    }
    let line = line.borrow();
    model.catch_up(&line.arrivals);
    if std::env::var_os("REVIEW_DEBUG").is_some() {
        eprintln!("{} outputs, {} arrivals", got.len(), line.arrivals.len());
    }
    assert_eq!(
        got, model.out,
        "{case:?}: the whole output; trace {trace:?}"
    );
    drop(s);
    assert_eq!(line.clock.timers(), 0);
}

fn clock_of(line: &SharedLine) -> ManualClock {
    line.borrow().clock.clone()
}

/// Polls until `Pending` (not woken by itself) or the end; returns whether it ended.
fn drain<S: Stream + Unpin>(
    poller: &Poller,
    s: &mut S,
    conv: &impl Fn(S::Item) -> MOut,
    got: &mut Vec<MOut>,
) -> bool {
    let mut spins = 0;
    loop {
        match poller.poll(s) {
            (Poll::Ready(Some(out)), _) => got.push(conv(out)),
            (Poll::Ready(None), _) => return true,
            (Poll::Pending, true) => {
                spins += 1;
                // The budget wakes the task; a self-wake with nothing to take is a spin.
                assert!(
                    spins < 64,
                    "woken again and again with nothing to yield (a spin)"
                );
            }
            (Poll::Pending, false) => return false,
        }
    }
}

fn batch_cases() -> Vec<BatchCase> {
    let mut cases = Vec::new();
    let mut rng = Rng(0x5eed_cafe);
    for i in 0..160u64 {
        let max_size = [1, 2, 3, 5, usize::MAX][rng.below(5) as usize];
        let latency = ms([1, 20, 50, 100, 100, 137][rng.below(6) as usize]);
        let max_keys = [None, Some(1), Some(2), Some(3)][rng.below(4) as usize];
        cases.push(BatchCase {
            seed: 0x9e37_79b9_7f4a_7c15 ^ (i * 0x1_0000_0001),
            fallible: i % 2 == 1,
            nkeys: 1 + rng.below(6) as u32,
            max_size,
            latency,
            max_keys,
            swaps: i % 3 != 0,
            steps: 300,
        });
    }
    cases
}

fn to_mout<K: Into<u32>>((k, f): (K, streamz::Flushed<u32>)) -> MOut {
    MOut::Batch(k.into(), f.items, f.reason)
}

#[test]
fn batch_by_under_hostile_poll_orders_matches_the_model() {
    for case in batch_cases().into_iter().filter(|c| !c.fallible) {
        let n = case.nkeys;
        let max_keys = case.max_keys;
        hostile_batch(
            case,
            |a| match a {
                Arr::Item(x) => x,
                other => unreachable!("{other:?}"),
            },
            move |src, clock| {
                let s = src.batch_by(move |x: &u32| x % n, case.max_size, case.latency);
                let s = match max_keys {
                    Some(m) => s.max_keys(m),
                    None => s,
                };
                s.with_reasons().with_clock(clock)
            },
            to_mout,
            |s, c| s.with_clock(c),
            |s| s.keys(),
        );
    }
}

#[test]
fn try_batch_by_under_hostile_poll_orders_matches_the_model() {
    for case in batch_cases().into_iter().filter(|c| c.fallible) {
        let n = case.nkeys;
        let max_keys = case.max_keys;
        hostile_batch(
            case,
            |a| match a {
                Arr::Item(x) => Ok(x),
                Arr::Err(e) => Err(e),
                Arr::End => unreachable!(),
            },
            move |src, clock| {
                let s = src.try_batch_by(move |x: &u32| x % n, case.max_size, case.latency);
                let s = match max_keys {
                    Some(m) => s.max_keys(m),
                    None => s,
                };
                s.with_reasons().with_clock(clock)
            },
            |out| match out {
                Ok(b) => to_mout(b),
                Err(e) => MOut::Err(e),
            },
            |s, c| s.with_clock(c),
            |s| s.keys(),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Throttle and debounce by key under hostile poll orders: nothing lost or duplicated

#[derive(Clone, Copy, Debug)]
struct DropCase {
    seed: u64,
    nkeys: u32,
    dur: Duration,
    edge: Edge,
    max_wait: Option<Duration>,
    max_keys: Option<usize>,
    throttle: bool,
}

fn drop_cases() -> Vec<DropCase> {
    let mut rng = Rng(0xdead_beef);
    (0..200u64)
        .map(|i| {
            let dur = [
                Duration::ZERO,
                ms(1),
                ms(30),
                ms(100),
                ms(100),
                Duration::MAX,
            ][rng.below(6) as usize];
            let throttle = i % 2 == 0;
            let max_wait = if throttle || rng.below(3) == 0 {
                None
            } else {
                Some(dur.saturating_add(ms(rng.below(200))))
            };
            DropCase {
                seed: 0x1234_5678 ^ (i << 20) ^ i,
                nkeys: 1 + rng.below(5) as u32,
                dur,
                edge: [Edge::Leading, Edge::Trailing, Edge::Both][rng.below(3) as usize],
                max_wait,
                max_keys: [None, Some(1), Some(2), Some(4)][rng.below(4) as usize],
                throttle,
            }
        })
        .collect()
}

/// Runs a throttle or debounce by key through random pushes, advances, single polls, drains
/// and clock swaps; at the end, every item was yielded or dropped, exactly once, and those
/// of one key came out in arrival order. No poll spins or hangs.
fn hostile_drops(case: DropCase) {
    let mut rng = Rng(case.seed | 1);
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let n = case.nkeys;
    enum Either<A, B> {
        T(A),
        D(B),
    }
    let mut s = if case.throttle {
        let mut t = src
            .throttle_by(move |x: &u32| x % n, case.dur)
            .edge(case.edge)
            .on_drop({
                let hook = hook.clone();
                move |x| hook.borrow_mut().push(x)
            });
        if let Some(m) = case.max_keys {
            t = t.max_keys(m);
        }
        Either::T(t.with_clock(clock.clone()))
    } else {
        let mut d = src
            .debounce_by(move |x: &u32| x % n, case.dur)
            .edge(case.edge)
            .on_drop({
                let hook = hook.clone();
                move |x| hook.borrow_mut().push(x)
            });
        if let Some(w) = case.max_wait {
            d = d.max_wait(w);
        }
        if let Some(m) = case.max_keys {
            d = d.max_keys(m);
        }
        Either::D(d.with_clock(clock.clone()))
    };
    let poller = Poller::new();
    let mut clock = clock;
    let mut got = Vec::new();
    let mut seq = 0u32;
    let mut pushed = Vec::new();
    let poll = |s: &mut Either<_, _>| -> (Poll<Option<u32>>, bool) {
        match s {
            Either::T(t) => poller.poll(t),
            Either::D(d) => poller.poll(d),
        }
    };
    let mut done = false;
    for _ in 0..300 {
        match rng.below(100) {
            0..=39 => {
                let x = seq * n + rng.below(u64::from(n)) as u32;
                seq += 1;
                feed.push(x);
                pushed.push(x);
            }
            40..=59 => clock.advance(ms(rng.below(3) * 40 + rng.below(50))),
            60..=64 => {
                if let Some(at) = clock.next_deadline() {
                    let now = clock.now();
                    clock.advance(at.saturating_duration_since(now));
                }
            }
            65..=79 => match poll(&mut s) {
                (Poll::Ready(Some(x)), _) => got.push(x),
                (Poll::Ready(None), _) => unreachable!(),
                (Poll::Pending, _) => {}
            },
            80..=97 => {
                let mut spins = 0;
                loop {
                    match poll(&mut s) {
                        (Poll::Ready(Some(x)), _) => got.push(x),
                        (Poll::Ready(None), _) => unreachable!(),
                        (Poll::Pending, true) => {
                            spins += 1;
                            assert!(spins < 64, "{case:?}: a spin");
                        }
                        (Poll::Pending, false) => break,
                    }
                }
            }
            _ => {
                // Swap to a clock that started later, keeping every deadline's time left.
                let new = ManualClock::new();
                new.advance(Duration::from_secs(rng.below(100_000)));
                s = match s {
                    Either::T(t) => Either::T(t.with_clock(new.clone())),
                    Either::D(d) => Either::D(d.with_clock(new.clone())),
                };
                assert_eq!(clock.timers(), 0, "{case:?}: the old clock keeps a timer");
                clock = new;
            }
        }
    }
    feed.end();
    let mut rounds = 0;
    while !done {
        rounds += 1;
        assert!(rounds < 10_000, "{case:?}: no end");
        loop {
            match poll(&mut s) {
                (Poll::Ready(Some(x)), _) => got.push(x),
                (Poll::Ready(None), _) => {
                    done = true;
                    break;
                }
                (Poll::Pending, _) => break,
            }
        }
        if !done {
            // Ended, and still something to yield: only a timer can bring it (a hang if none).
            let at = clock.next_deadline();
            assert!(
                at.is_some(),
                "{case:?}: pending after the end with no timer armed"
            );
            let at = at.unwrap();
            clock.advance(at.saturating_duration_since(clock.now()));
        }
    }
    let dropped = dropped.borrow();
    for k in 0..n {
        let of: Vec<u32> = got.iter().copied().filter(|x| x % n == k).collect();
        assert!(
            of.windows(2).all(|w| w[0] < w[1]),
            "{case:?}: key {k} out of order or duplicated: {of:?}"
        );
    }
    let mut all: Vec<u32> = got.iter().chain(dropped.iter()).copied().collect();
    all.sort_unstable();
    assert_eq!(all, pushed, "{case:?}: every item yielded or dropped, once");
    assert_eq!(clock.timers(), 0);
}

#[test]
fn throttle_by_and_debounce_by_lose_and_duplicate_nothing_under_hostile_polls() {
    for case in drop_cases() {
        hostile_drops(case);
    }
}

// ---------------------------------------------------------------------------------------------
// Outputs queued by one reading, while time moves on

/// Keys 1 to 4 of a trailing `throttle_by(100 ms)` open their windows at 0, 5, 10 and 15 ms.
/// Nobody polls until 112 ms: that one reading serves keys 1 to 3 (windows ended at 100, 105,
/// 110), the first leaves and the two others wait. An item of key 4 is pushed at 112 ms and
/// time moves to 130 ms (key 4's window ended at 115 ms) before the next poll. The waiting
/// outputs come first, without the inner stream being polled; then key 4's, by the next
/// reading; then the new item arrives (at 130 ms, after key 4's emission opened a window
/// until 230 ms) and leaves at 230 ms.
#[test]
fn queued_outputs_then_later_deadlines_keep_deadline_order_and_hold_the_inner_stream() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let mut s = src
        .throttle_by(|x: &u32| x % 10, ms(100))
        .edge(Edge::Trailing)
        .with_clock(clock.clone());
    for (dt, x) in [(0, 1), (5, 2), (5, 3), (5, 4)] {
        clock.advance(ms(dt));
        feed.push(x);
        assert!(poll_once(&mut s).is_pending());
    }
    clock.advance(ms(97));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(1)));
    feed.push(14);
    let polls = feed.polls();
    clock.advance(ms(18));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(2)));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(3)));
    assert_eq!(
        feed.polls(),
        polls,
        "the inner stream is polled while outputs wait"
    );
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(4)));
    assert_eq!(
        feed.polls(),
        polls,
        "key 4's deadline (115 ms) comes before the next item"
    );
    assert!(poll_once(&mut s).is_pending());
    assert_eq!(feed.queued(), 0);
    assert!(clock.timers() > 0, "key 4's new window holds 14: a timer");
    clock.advance(ms(99));
    assert!(poll_once(&mut s).is_pending());
    clock.advance(ms(1));
    assert_eq!(ready(&mut s), vec![14]);
}

/// The same across the queue boundary for `debounce_by`, and a later key due at the same
/// instant as a queued one's reading is not served before it: keys 1, 2, 3 (quiet periods end
/// at 100, 105, 110 ms), read at 110 ms; key 4 (ends at 110 ms too, but pushed at 10 ms after
/// key 3) comes in the same reading, after key 3. Key 5 (ends at 150 ms) passes while they
/// wait.
#[test]
fn debounce_by_queued_outputs_and_ties_at_the_reading() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let mut s = src
        .debounce_by(|x: &u32| x % 10, ms(100))
        .with_clock(clock.clone());
    for (dt, xs) in [(0, &[1][..]), (5, &[2]), (5, &[3, 4]), (40, &[5])] {
        clock.advance(ms(dt));
        for &x in xs {
            feed.push(x);
        }
        assert!(poll_once(&mut s).is_pending());
    }
    clock.advance(ms(60));
    let mut got = vec![];
    if let Poll::Ready(Some(x)) = poll_once(&mut s) {
        got.push(x);
    }
    clock.advance(ms(100));
    got.extend(ready(&mut s));
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
}

/// An error from a busy source (at 150 ms) with three keys due (100, 105, 110 ms), taken one
/// poll at a time while time moves on (to 250 ms), and a fourth key due in between (160 ms):
/// the three outputs, the error, then the fourth.
#[test]
fn try_debounce_by_error_with_keys_due_then_time_moves_between_polls() {
    let clock = ManualClock::new();
    let (feed, src) = source::<Result<u32, u32>>();
    let start = clock.now();
    let mut s = src
        .try_debounce_by(|x: &u32| x % 10, ms(100))
        .with_clock(clock.clone());
    for (t, x) in [(0, 1), (5, 2), (10, 3), (60, 5)] {
        clock.advance((start + ms(t)) - clock.now());
        feed.push(Ok(x));
        assert!(poll_once(&mut s).is_pending());
    }
    // 5's quiet period ends at 160 ms; the source is busy until 150 ms producing an error.
    feed.push_busy(Err(7), &clock, start + ms(150));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(Ok(1))));
    clock.advance(ms(100));
    let rest = ready(&mut s);
    assert_eq!(rest, vec![Ok(2), Ok(3), Err(7), Ok(5)]);
}

/// A keyed batch moved to a clock that started earlier, then to one far later, with outputs
/// waiting and keys pending: the waiting outputs come first, every pending deadline keeps the
/// time it had left, new items count from the new clock, and the old clock keeps no timer.
#[test]
fn with_clock_earlier_and_later_with_queued_outputs_and_pending_keys() {
    let early = ManualClock::new();
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(5));
    let (feed, src) = source::<u32>();
    let mut s = src
        .batch_by(|x: &u32| x % 10, 10, ms(100))
        .with_clock(clock.clone());
    for (dt, x) in [(0, 1), (5, 2), (5, 3), (40, 4)] {
        clock.advance(ms(dt));
        feed.push(x);
        assert!(poll_once(&mut s).is_pending());
    }
    // At 120 ms keys 1..3 are due; key 4's deadline is at 150 ms.
    clock.advance(ms(70));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((1, vec![1]))));
    let mut s = s.with_clock(early.clone());
    assert_eq!(clock.timers(), 0, "the old clock keeps a timer");
    feed.push(5);
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((2, vec![2]))));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((3, vec![3]))));
    assert!(
        poll_once(&mut s).is_pending(),
        "item 5 arrives on the early clock"
    );
    assert!(early.timers() > 0);
    early.advance(ms(29));
    assert!(poll_once(&mut s).is_pending());
    early.advance(ms(1));
    assert_eq!(
        ready(&mut s),
        vec![(4, vec![4])],
        "key 4 keeps its 30 ms left"
    );
    // To a later clock with key 5 pending (70 ms left) and a queued pair.
    feed.push(6);
    feed.push(7);
    assert!(poll_once(&mut s).is_pending());
    early.advance(ms(100));
    let first = poll_once(&mut s);
    assert_eq!(first, Poll::Ready(Some((5, vec![5]))));
    let late = ManualClock::new();
    late.advance(Duration::from_secs(86_400 * 365));
    let mut s = s.with_clock(late.clone());
    assert_eq!(early.timers(), 0);
    assert_eq!(ready(&mut s), vec![(6, vec![6]), (7, vec![7])]);
    feed.push(8);
    assert!(poll_once(&mut s).is_pending());
    late.advance(ms(99));
    assert!(poll_once(&mut s).is_pending());
    late.advance(ms(1));
    assert_eq!(ready(&mut s), vec![(8, vec![8])]);
    feed.end();
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
    assert_eq!(late.timers(), 0);
}

/// Keys without a deadline (`throttle_by(Duration::MAX)`: windows open for good) stand last,
/// in order of opening, across clock swaps: the keys bound evicts the first opened, handing
/// out its trailing item.
#[test]
fn keys_without_deadlines_evict_in_opening_order_across_clock_swaps() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let mut s = src
        .throttle_by(|x: &u32| x % 10, Duration::MAX)
        .edge(Edge::Trailing)
        .on_drop(move |x| hook.borrow_mut().push(x))
        .max_keys(2)
        .with_clock(clock.clone());
    feed.push(1);
    feed.push(2);
    assert!(poll_once(&mut s).is_pending());
    clock.advance(FAR);
    assert!(poll_once(&mut s).is_pending());
    let earlier = ManualClock::new();
    let mut s = s.with_clock(earlier.clone());
    feed.push(3);
    assert_eq!(ready(&mut s), vec![1], "key 1 (opened first) makes room");
    let later = ManualClock::new();
    later.advance(FAR);
    let mut s = s.with_clock(later.clone());
    feed.push(4);
    feed.push(13);
    assert_eq!(ready(&mut s), vec![2], "then key 2");
    assert_eq!(s.keys(), 2);
    feed.end();
    assert_eq!(ready(&mut s), Vec::<u32>::new());
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
    let mut dropped = dropped.borrow().clone();
    dropped.sort_unstable();
    // 13 replaced 3; 13 and 4 are dropped at the end, their windows open for good.
    assert_eq!(dropped, vec![3, 4, 13]);
}

/// Many keys with one deadline: they leave in order of arrival, whatever their slots (a slot
/// freed by a full batch is taken by a key that arrived later); the keys bound evicts them in
/// that order too.
#[test]
fn equal_deadlines_leave_in_arrival_order_whatever_the_slots() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let mut s = src
        .batch_by(|x: &u32| x % 100, 2, ms(100))
        .with_clock(clock.clone());
    // Keys 1..=40 at 0 ms; keys 1..=20 fill up (their slots are freed), then keys 41..=60
    // take those slots, all at 0 ms.
    for k in 1..=40 {
        feed.push(k);
    }
    for k in 1..=20 {
        feed.push(100 + k);
    }
    for k in 41..=60 {
        feed.push(k);
    }
    let full = ready(&mut s);
    assert_eq!(full.len(), 20);
    clock.advance(ms(100));
    let keys: Vec<u32> = ready(&mut s).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, (21..=60).collect::<Vec<_>>());

    let (feed, src) = source::<u32>();
    let mut s = src
        .batch_by(|x: &u32| x % 100, 2, ms(100))
        .max_keys(3)
        .with_clock(clock.clone());
    for k in 1..=10 {
        feed.push(k);
    }
    let evicted: Vec<u32> = ready(&mut s).into_iter().map(|(k, _)| k).collect();
    assert_eq!(evicted, (1..=7).collect::<Vec<_>>());
    clock.advance(ms(100));
    let keys: Vec<u32> = ready(&mut s).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![8, 9, 10]);
}

/// Zero durations yield at a pause: several keys at once, queued; taken one poll at a time
/// while time moves and items wait in the source, which is not polled until they are out.
#[test]
fn zero_latency_outputs_queued_at_a_pause() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let mut s = src
        .batch_by(|x: &u32| x % 10, 10, Duration::ZERO)
        .with_clock(clock.clone());
    for x in [1, 2, 3, 11] {
        feed.push(x);
    }
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((1, vec![1, 11]))));
    feed.push(21);
    let polls = feed.polls();
    clock.advance(ms(50));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((2, vec![2]))));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((3, vec![3]))));
    assert_eq!(feed.polls(), polls);
    assert_eq!(ready(&mut s), vec![(1, vec![21])]);
    assert_eq!(clock.timers(), 0);

    let (feed, src) = source::<u32>();
    let mut s = src
        .debounce_by(|x: &u32| x % 10, Duration::ZERO)
        .with_clock(clock.clone());
    for x in [1, 2, 11, 3, 12] {
        feed.push(x);
    }
    let first = poll_once(&mut s);
    feed.push(4);
    clock.advance(ms(10));
    let mut got = vec![];
    if let Poll::Ready(Some(x)) = first {
        got.push(x);
    }
    got.extend(ready(&mut s));
    assert_eq!(got, vec![11, 12, 3, 4]);
}

// ---------------------------------------------------------------------------------------------
// User code that panics while several keys are due

/// Keys 1, 2, 3 are due (100, 105, 110 ms) when an item whose `key_fn` panics arrives at
/// 200 ms from a busy source: the poll panics, and the outputs already due come out after
/// it, in order; the adapter goes on.
#[test]
fn key_fn_panics_with_several_keys_due() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (feed, src) = source::<u32>();
    let mut s = src
        .batch_by(
            |x: &u32| {
                assert!(*x != 999, "key_fn refuses 999");
                x % 10
            },
            10,
            ms(100),
        )
        .with_clock(clock.clone());
    for (dt, x) in [(0, 1), (5, 2), (5, 3)] {
        clock.advance(ms(dt));
        feed.push(x);
        assert!(poll_once(&mut s).is_pending());
    }
    feed.push_busy(999, &clock, start + ms(200));
    feed.push(4);
    let r = catch_unwind(AssertUnwindSafe(|| poll_once(&mut s)));
    assert!(r.is_err(), "key_fn's panic");
    let got = ready(&mut s);
    assert_eq!(got, vec![(1, vec![1]), (2, vec![2]), (3, vec![3])]);
    assert!(clock.timers() > 0, "key 4's batch needs a timer");
    clock.advance(ms(100));
    assert_eq!(ready(&mut s), vec![(4, vec![4])]);
}

/// The same with a weigher that panics (`max_weight`).
#[test]
fn weigher_panics_with_several_keys_due() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (feed, src) = source::<u32>();
    let mut s = src
        .batch_by(|x: &u32| x % 10, 10, ms(100))
        .max_weight(100, |x: &u32| {
            assert!(*x != 999, "the weigher refuses 999");
            1
        })
        .with_clock(clock.clone());
    for (dt, x) in [(0, 1), (5, 2), (5, 3), (0, 19)] {
        clock.advance(ms(dt));
        feed.push(x);
        assert!(poll_once(&mut s).is_pending());
    }
    feed.push_busy(999, &clock, start + ms(200));
    feed.push(4);
    let r = catch_unwind(AssertUnwindSafe(|| poll_once(&mut s)));
    assert!(r.is_err(), "the weigher's panic");
    let got = ready(&mut s);
    assert_eq!(
        got,
        vec![(1, vec![1]), (2, vec![2]), (3, vec![3]), (9, vec![19])]
    );
    // The item whose weigher panicked stays in its batch (the state keeps it before weighing).
    clock.advance(ms(100));
    assert_eq!(ready(&mut s), vec![(9, vec![999]), (4, vec![4])]);
    feed.end();
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
}

/// A drop hook that panics on an item dropped as keys 1, 2, 3 are due: the outputs due come
/// after the panic, in order; the dropped item reached the hook once; nothing else is lost.
#[test]
fn drop_hook_panics_with_several_keys_due() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (feed, src) = source::<u32>();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let hook = seen.clone();
    let mut s = src
        .throttle_by(|x: &u32| x % 10, ms(100))
        .edge(Edge::Trailing)
        .on_drop(move |x| {
            hook.borrow_mut().push(x);
            assert!(x != 159, "the hook refuses 159");
        })
        .with_clock(clock.clone());
    for (t, x) in [(0, 1), (5, 2), (10, 3), (95, 159)] {
        clock.advance((start + ms(t)) - clock.now());
        feed.push(x);
        assert!(poll_once(&mut s).is_pending());
    }
    // At 150 ms 19 replaces 159 (key 9's window runs until 195 ms): 159 goes to the hook,
    // which panics, as keys 1, 2, 3 are due (100, 105, 110 ms).
    feed.push_busy(19, &clock, start + ms(150));
    let r = catch_unwind(AssertUnwindSafe(|| poll_once(&mut s)));
    assert!(r.is_err(), "the hook's panic");
    assert_eq!(ready(&mut s), vec![1, 2, 3]);
    clock.advance(ms(44));
    assert_eq!(ready(&mut s), Vec::<u32>::new());
    clock.advance(ms(1));
    assert_eq!(ready(&mut s), vec![19]);
    assert_eq!(*seen.borrow(), vec![159]);
}

/// A hook that panics at the end while several keys drop their items (windows open for
/// good): each dropped item reaches the hook once, and the stream then ends.
#[test]
fn drop_hook_panics_at_the_end_with_several_keys_dropping() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let hook = seen.clone();
    let mut s = src
        .throttle_by(|x: &u32| x % 10, Duration::MAX)
        .edge(Edge::Trailing)
        .on_drop(move |x| {
            hook.borrow_mut().push(x);
            assert!(x != 1, "the hook refuses 1");
        })
        .with_clock(clock.clone());
    for x in [1, 2, 3] {
        feed.push(x);
    }
    assert!(poll_once(&mut s).is_pending());
    feed.end();
    let r = catch_unwind(AssertUnwindSafe(|| poll_once(&mut s)));
    assert!(r.is_err(), "the hook's panic");
    let mut rest = Vec::new();
    for _ in 0..10 {
        match catch_unwind(AssertUnwindSafe(|| poll_once(&mut s))) {
            Ok(Poll::Ready(None)) => break,
            Ok(p) => rest.push(format!("{p:?}")),
            Err(_) => rest.push("panic".into()),
        }
    }
    assert!(rest.is_empty(), "{rest:?}");
    let mut seen = seen.borrow().clone();
    seen.sort_unstable();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(clock.timers(), 0);
}

// ---------------------------------------------------------------------------------------------
// Many re-arms of one key; far and no deadlines

/// Key 1's quiet period moves on 100,000 times (an item every 5 ms, quiet 12 ms): its heap
/// entry comes up and is put back each time (a new generation), while key 2, every 37th step,
/// leaves and comes back (renewed entries, stale ones left behind). Key 1 yields once, at
/// the end; key 2 each of its items; the timer is never missing.
#[test]
fn many_re_arms_of_one_key() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let mut s = src
        .debounce_by(|x: &u32| x % 10, ms(12))
        .with_clock(clock.clone());
    let mut got = Vec::new();
    let mut key2 = Vec::new();
    for i in 0..100_000u32 {
        feed.push(i * 10 + 1);
        if i % 37 == 0 {
            feed.push(i * 10 + 2);
            key2.push(i * 10 + 2);
        }
        got.extend(ready(&mut s));
        assert!(clock.timers() > 0, "step {i}: no timer");
        clock.advance(ms(5));
        got.extend(ready(&mut s));
    }
    clock.advance(ms(12));
    got.extend(ready(&mut s));
    let (ones, twos): (Vec<u32>, Vec<u32>) = got.into_iter().partition(|x| x % 10 == 1);
    assert_eq!(ones, vec![99_999 * 10 + 1]);
    assert_eq!(twos, key2);
    assert_eq!(s.keys(), 0);
}

/// Deadlines far off but within 2^64 ns of the adapter's first reading (317 years) are exact:
/// two keys 10 ms apart leave in order, each at its own deadline.
#[test]
fn far_deadlines_within_the_tick_range_are_exact() {
    let out = within(10, "317 years", || {
        let latency = Duration::from_secs(10_000_000_000);
        let clock = ManualClock::new();
        let (feed, src) = source::<u32>();
        let mut s = src
            .batch_by(|x: &u32| x % 10, 10, latency)
            .with_clock(clock.clone());
        feed.push(1);
        assert!(poll_once(&mut s).is_pending());
        clock.advance(ms(10));
        feed.push(2);
        assert!(poll_once(&mut s).is_pending());
        clock.advance(latency - ms(11));
        let a = ready(&mut s);
        clock.advance(ms(1));
        let b = ready(&mut s);
        clock.advance(ms(10));
        let c = ready(&mut s);
        (a, b, c)
    });
    assert_eq!(out, (vec![], vec![(1, vec![1])], vec![(2, vec![2])]));
}

/// A latency past `Instant`'s range means no bound: no wake-ups, and the batches leave at the
/// end, in order of opening.
#[test]
fn latency_past_the_range_of_instant_is_no_bound() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let mut s = src
        .batch_by(|x: &u32| x % 10, 10, Duration::from_secs(u64::MAX / 2))
        .with_clock(clock.clone());
    for x in [3, 1, 2, 13] {
        feed.push(x);
    }
    // (The engine may leave a 1 ns timer from items taken densely, as it did before the
    // change; it must not keep waking the task.)
    let poller = Poller::new();
    assert!(poller.poll(&mut s).0.is_pending());
    clock.advance(FAR);
    let wakes = poller.wakes();
    assert!(wakes <= 1);
    assert!(poller.poll(&mut s).0.is_pending());
    clock.advance(FAR);
    assert!(poller.poll(&mut s).0.is_pending());
    assert_eq!(poller.wakes(), wakes, "woken with nothing due");
    assert_eq!(clock.timers(), 0);
    feed.end();
    assert_eq!(
        ready(&mut s),
        vec![(3, vec![3, 13]), (1, vec![1]), (2, vec![2])]
    );
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
}

/// Many keys that leave full (each leaves its heap entry behind, stale) make the heap rebuild
/// itself (`compact`) while outputs wait and time moves: still the model's output.
#[test]
fn churning_keys_compact_the_heap_and_match_the_model() {
    for (i, max_size) in [1usize, 2, 1, 3].into_iter().enumerate() {
        let case = BatchCase {
            seed: 0xc0ffee + i as u64,
            fallible: false,
            nkeys: 5000,
            max_size,
            latency: ms(600_000),
            max_keys: if i == 3 { Some(700) } else { None },
            swaps: i % 2 == 1,
            steps: 5000,
        };
        let n = case.nkeys;
        hostile_batch(
            case,
            |a| match a {
                Arr::Item(x) => x,
                other => unreachable!("{other:?}"),
            },
            move |src, clock| {
                let s = src.batch_by(move |x: &u32| x % n, case.max_size, case.latency);
                let s = match case.max_keys {
                    Some(m) => s.max_keys(m),
                    None => s,
                };
                s.with_reasons().with_clock(clock)
            },
            to_mout,
            |s, c| s.with_clock(c),
            |s| s.keys(),
        );
    }
}

thread_local! {
    /// Makes the next hash of a [`Touchy`] key panic.
    static HASH_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A key whose `Hash` panics once, on demand.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Touchy(u32);

impl std::hash::Hash for Touchy {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if HASH_PANICS.with(|p| p.replace(false)) {
            panic!("Hash of {self:?} panics");
        }
        self.0.hash(state);
    }
}

/// Keys 1, 2, 3 are due at one reading; forgetting key 1 (its batch left) hashes it, and the
/// hash panics in the middle of `on_deadlines`, with keys 2 and 3 not served yet and the heap
/// not settled (the cached first deadline is key 1's). Polling on: key 1's batch, then 2 and
/// 3 by the next reading, in order; no hang, no loss; later items are batched as usual.
#[test]
fn key_hash_panics_while_keys_are_served() {
    let clock = ManualClock::new();
    let (feed, src) = source::<u32>();
    let mut s = src
        .batch_by(|x: &u32| Touchy(x % 10), 10, ms(100))
        .with_clock(clock.clone());
    for (dt, x) in [(0, 1), (5, 2), (5, 3), (50, 4)] {
        clock.advance(ms(dt));
        feed.push(x);
        assert!(poll_once(&mut s).is_pending());
    }
    clock.advance(ms(60));
    HASH_PANICS.with(|p| p.set(true));
    let r = catch_unwind(AssertUnwindSafe(|| poll_once(&mut s)));
    HASH_PANICS.with(|p| p.set(false));
    let mut got: Vec<(u32, Vec<u32>)> = Vec::new();
    match r {
        Err(_) => {}
        Ok(Poll::Ready(Some((k, b)))) => got.push((k.0, b)),
        Ok(other) => panic!("{other:?}"),
    }
    let poller = Poller::new();
    loop {
        match poller.poll(&mut s) {
            (Poll::Ready(Some((k, b))), _) => got.push((k.0, b)),
            (Poll::Pending, false) => break,
            (Poll::Pending, true) => {}
            (Poll::Ready(None), _) => unreachable!(),
        }
    }
    assert_eq!(got, vec![(1, vec![1]), (2, vec![2]), (3, vec![3])]);
    assert!(clock.timers() > 0, "key 4 (due at 160 ms) needs a timer");
    clock.advance(ms(40));
    assert_eq!(
        ready(&mut s)
            .into_iter()
            .map(|(k, b)| (k.0, b))
            .collect::<Vec<_>>(),
        vec![(4, vec![4])]
    );
    feed.push(11);
    feed.push(21);
    assert!(poll_once(&mut s).is_pending());
    clock.advance(ms(100));
    assert_eq!(
        ready(&mut s)
            .into_iter()
            .map(|(k, b)| (k.0, b))
            .collect::<Vec<_>>(),
        vec![(1, vec![11, 21])]
    );
}
