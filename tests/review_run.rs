//! Review of runs that fill a batch (it then leaves at once) and runs that open a batch
//! (dated by the tight alarm): hostile scripted sources on virtual time, checked against a
//! plain model of which items each batch holds.
#![allow(clippy::type_complexity)]

mod support;

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::FusedStream;
use futures::stream::{Stream, StreamExt};
use streamz::{FlushReason, Flushed, ManualClock, StreamzExt, TryStreamzExt};
use support::late::stamped;
use support::XorShift;

/// One step of a [`Script`]; `adv` is how far (ns) the clock moves inside that poll.
#[derive(Clone, Copy, Debug)]
enum Step {
    Item(u64),
    Err(u64),
    /// `Pending`, waking its own task if `wake`.
    Pending(u64, bool),
    Panic(u64),
    End(u64),
}
use Step::*;

/// Arrival of each item (by value), in ns from the start.
type Log = Arc<Mutex<Vec<u64>>>;

/// A source that plays `steps`, then stays pending; item values are 0, 1, 2, ...
struct Script {
    clock: ManualClock,
    start: Instant,
    steps: VecDeque<Step>,
    next: u32,
    log: Log,
    ended: bool,
}

impl Stream for Script {
    type Item = Result<u32, u32>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        assert!(!self.ended, "polled after None");
        let Some(step) = self.steps.pop_front() else {
            return Poll::Pending;
        };
        let adv = match step {
            Item(a) | Err(a) | Pending(a, _) | Panic(a) | End(a) => a,
        };
        if adv > 0 {
            self.clock.advance(Duration::from_nanos(adv));
        }
        match step {
            Item(_) => {
                let v = self.next;
                self.next += 1;
                let at = (self.clock.now() - self.start).as_nanos() as u64;
                self.log.lock().unwrap().push(at);
                Poll::Ready(Some(Ok(v)))
            }
            Err(_) => Poll::Ready(Some(Result::Err(1000 + self.next))),
            Pending(_, wake) => {
                if wake {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
            Panic(_) => panic!("source panics"),
            End(_) => {
                self.ended = true;
                Poll::Ready(None)
            }
        }
    }
}

fn script(clock: &ManualClock, steps: Vec<Step>) -> (Script, Log) {
    let log: Log = Arc::default();
    (
        Script {
            clock: clock.clone(),
            start: clock.now(),
            steps: steps.into(),
            next: 0,
            log: log.clone(),
            ended: false,
        },
        log,
    )
}

/// An output, as the test sees it: when it left (ns from start), and what.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Batch(u64, Vec<u32>, Option<(FlushReason, u64)>),
    Err(u64, u32),
    End(u64),
    Panicked(u64),
}

trait AsSeen {
    fn seen(self, t: u64, start: Instant) -> Seen;
}
impl AsSeen for Vec<u32> {
    fn seen(self, t: u64, _: Instant) -> Seen {
        Seen::Batch(t, self, None)
    }
}
impl AsSeen for Flushed<u32> {
    fn seen(self, t: u64, start: Instant) -> Seen {
        let opened = self
            .opened_at
            .checked_duration_since(start)
            .map_or(0, |d| d.as_nanos() as u64);
        Seen::Batch(t, self.items, Some((self.reason, opened)))
    }
}
impl<T: AsSeen> AsSeen for Result<T, u32> {
    fn seen(self, t: u64, start: Instant) -> Seen {
        match self {
            Ok(b) => b.seen(t, start),
            Result::Err(e) => Seen::Err(t, e),
        }
    }
}

/// Polls `s` (noop waker; a panic is caught and recorded) until it is pending; then moves
/// the clock by the next of `gaps` (ns; cycled), or to the next timer if that is sooner,
/// until `until` ns; stops at the end.
/// Fails with the count of failures per setting (max and latency), and the first three.
fn summarize(failures: &[String]) {
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for f in failures {
        let head = f.split(':').next().unwrap_or("");
        let key: Vec<&str> = head
            .split_whitespace()
            .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
            .collect();
        let key = head
            .split(" max ")
            .nth(1)
            .map_or(key.join(" "), |k| format!("max {k}"));
        *by.entry(key).or_default() += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures; by setting: {by:?}; first:\n{}",
        failures.len(),
        failures[..failures.len().min(3)].join("\n---\n")
    );
}

struct Flag(std::sync::atomic::AtomicBool);
impl std::task::Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn msg(e: Box<dyn std::any::Any + Send>) -> String {
    let m = e
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    m.chars().take(3000).collect()
}

fn quiet() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if msg != "source panics" && (!msg.contains("seed ") || msg.contains("failures;")) {
                prev(info)
            }
        }));
    });
}

fn drive<S>(s: &mut S, clock: &ManualClock, start: Instant, gaps: &[u64], until: u64) -> Vec<Seen>
where
    S: Stream + Unpin,
    S::Item: AsSeen,
{
    drive_log(s, clock, start, gaps, until, None)
}

fn drive_log<S>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    gaps: &[u64],
    until: u64,
    log: Option<&Log>,
) -> Vec<Seen>
where
    S: Stream + Unpin,
    S::Item: AsSeen,
{
    quiet();
    let flag = Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
    let waker = std::task::Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    let mut g = 0;
    let now = |clock: &ManualClock| (clock.now() - start).as_nanos() as u64;
    let mut polls = 0;
    let mut idle = 0;
    let mut last_seen = 0;
    while now(clock) <= until {
        polls += 1;
        assert!(polls < 1_000_000, "too many polls");
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *s).poll_next(&mut cx))) {
            Ok(Poll::Ready(Some(x))) => {
                idle = 0;
                out.push(x.seen(now(clock), start))
            }
            Ok(Poll::Ready(None)) => {
                out.push(Seen::End(now(clock)));
                return out;
            }
            Ok(Poll::Pending) => {
                // Woken (by the source, or by the adapter's budget): poll again at once.
                if flag.0.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let seen = log.map_or(0, |l| l.lock().unwrap().len());
                if seen != last_seen {
                    last_seen = seen;
                    idle = 0;
                } else if clock.timers() == 0 {
                    idle += 1;
                    if idle > 50 {
                        return out;
                    }
                } else {
                    idle = 0;
                }
                let mut step = if gaps.is_empty() {
                    1_000_000
                } else {
                    gaps[g % gaps.len()]
                };
                g += 1;
                if let Some(next) = clock.next_deadline() {
                    if next > clock.now() {
                        step = step.min((next - clock.now()).as_nanos() as u64);
                    }
                }
                clock.advance(Duration::from_nanos(step.max(1)));
            }
            Result::Err(_) => out.push(Seen::Panicked(now(clock))),
        }
    }
    out
}

/// The batches a plain greedy reading of the contract gives for items that arrived at
/// `arrivals` (ns): a batch opens at its first item's arrival, and holds every next item
/// that arrives before its deadline, up to `max`.
fn model(arrivals: &[u64], max: usize, latency: Option<u64>) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut cur: Vec<u32> = Vec::new();
    let mut opened = 0;
    for (i, &a) in arrivals.iter().enumerate() {
        if !cur.is_empty() && latency.is_some_and(|l| a >= opened + l) {
            out.push(std::mem::take(&mut cur));
        }
        if cur.is_empty() {
            opened = a;
        }
        cur.push(i as u32);
        if cur.len() == max {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A compact view of batches: each as `first..=last` (with the arrivals in µs).
fn brief(bs: &[Vec<u32>], arrivals: &[u64]) -> String {
    bs.iter()
        .map(|b| {
            let (f, l) = (b[0], *b.last().unwrap());
            format!(
                "{f}..={l}@{}..{}us",
                arrivals[f as usize] / 1000,
                arrivals[l as usize] / 1000
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn brief_out(out: &[Seen], arrivals: &[u64]) -> String {
    out.iter()
        .map(|s| match s {
            Seen::Batch(t, b, r) => format!(
                "[{} left {}us{}]",
                brief(std::slice::from_ref(b), arrivals),
                t / 1000,
                r.map_or(String::new(), |(r, o)| format!(
                    " {r:?} opened {}us",
                    o / 1000
                ))
            ),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks the outputs against the contract: each item once, in order; batches within
/// `max`; the same batches as the model; no deadline early; `opened_at` is the first item's
/// arrival (when recorded).
fn check(what: &str, out: &[Seen], arrivals: &[u64], max: usize, latency: Option<u64>) {
    let batches: Vec<(u64, Vec<u32>, Option<(FlushReason, u64)>)> = out
        .iter()
        .filter_map(|s| match s {
            Seen::Batch(t, b, r) => Some((*t, b.clone(), *r)),
            _ => None,
        })
        .collect();
    let all: Vec<u32> = batches.iter().flat_map(|b| b.1.clone()).collect();
    let want: Vec<u32> = (0..arrivals.len() as u32).collect();
    let out_s = brief_out(out, arrivals);
    let out_s = if out_s.len() > 4000 {
        format!("{}...", &out_s[..4000])
    } else {
        out_s
    };
    assert!(
        all == want,
        "{what}: items lost, duplicated or reordered: {} items; out: {out_s}",
        all.len()
    );
    for (_, b, _) in &batches {
        assert!(
            !b.is_empty() && b.len() <= max,
            "{what}: batch size {}; out: {out_s}",
            b.len()
        );
    }
    let expected = model(arrivals, max, latency);
    let got: Vec<Vec<u32>> = batches.iter().map(|b| b.1.clone()).collect();
    if got != expected {
        let i = got
            .iter()
            .zip(&expected)
            .take_while(|(a, b)| a == b)
            .count();
        let lo = i.saturating_sub(1);
        panic!(
            "{what}: batches differ from the model at batch {i}\n got:      {}\n expected: {}\n out: {}",
            brief(&got[lo..got.len().min(i + 3)], arrivals),
            brief(&expected[lo..expected.len().min(i + 3)], arrivals),
            brief_out(&out.iter().filter(|s| matches!(s, Seen::Batch(_, b, _) if got[lo..got.len().min(i+3)].contains(b))).cloned().collect::<Vec<_>>(), arrivals),
        );
    }
    for (t, b, r) in &batches {
        let first = arrivals[b[0] as usize];
        let last = arrivals[*b.last().unwrap() as usize];
        assert!(
            *t >= last,
            "{what}: batch left at {t} before its last item ({last}); out: {out_s}"
        );
        if let Some(l) = latency {
            for &x in b {
                assert!(
                    arrivals[x as usize] < first + l,
                    "{what}: item {x} arrived at {} ns, at or after its batch's deadline {} ns; out: {out_s}",
                    arrivals[x as usize],
                    first + l
                );
            }
        }
        if let Some((reason, opened)) = r {
            assert_eq!(
                *opened, first,
                "{what}: opened_at != first arrival; out: {out_s}"
            );
            if let (FlushReason::Deadline, Some(l)) = (reason, latency) {
                assert!(
                    *t >= first + l,
                    "{what}: deadline acted early; out: {out_s}"
                );
            }
            if *reason == FlushReason::Full {
                assert_eq!(b.len(), max, "{what}: Full but not full; out: {out_s}");
            }
        } else if let Some(l) = latency {
            if b.len() < max && !out.iter().any(|s| matches!(s, Seen::End(_))) {
                assert!(
                    *t >= first + l,
                    "{what}: partial batch left early; out: {out_s}"
                );
            }
        }
    }
}

const MS: u64 = 1_000_000;

// ---------------------------------------------------------------------------------------------
// 1. A run that opens the batch while the machine has no deadline watches the tight alarm's
//    flag; when that flag stops the run, the next item must be judged by the horizon after
//    the run (the batch's deadline). It once was by the one from before it (none), so it took
//    no reading, acted on no deadline, and joined the batch past its deadline.
// ---------------------------------------------------------------------------------------------

/// ManualClock, `batch(2, 1 ns)`: a (reading), pause (the alarm is armed for a's deadline,
/// one resolution after the reading: tight), b fills the batch in a run; then c opens the
/// next batch in a run (horizon `None`), and d takes 10 ms to come.
#[test]
fn run_opened_batch_leaves_before_an_item_past_its_deadline_manual_clock() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (src, log) = script(
        &clock,
        vec![
            Item(0),
            Pending(0, true),
            Item(0),
            Item(0),
            Item(10 * MS),
            Pending(0, false),
        ],
    );
    let mut s = src
        .map(Result::unwrap)
        .batch(2, Duration::from_nanos(1))
        .with_clock(clock.clone());
    let out = drive(&mut s, &clock, start, &[MS], 30 * MS);
    let arrivals = log.lock().unwrap().clone();
    // Expected: [0,1] at 0; [2] at its deadline (1 ns, seen when 3 arrives at 10 ms); [3].
    check("manual 1ns", &out, &arrivals, 2, Some(1));
}

/// As above, on a clock with a reader (as `SystemClock` has: the timer's firing reads the
/// time, which confirms the dates given before it), punctual, 100 µs resolution.
#[test]
fn run_opened_batch_leaves_before_an_item_past_its_deadline_timer_with_reader() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (src, log) = script(
        &clock,
        vec![
            Item(0),
            Pending(0, true),
            Item(0),
            Item(0),
            Item(10 * MS),
            Pending(0, false),
        ],
    );
    let mut s = src
        .map(Result::unwrap)
        .batch(2, Duration::from_micros(50))
        .with_clock(stamped(&clock, 0));
    let out = drive(&mut s, &clock, start, &[MS], 30 * MS);
    let arrivals = log.lock().unwrap().clone();
    check(
        "punctual 100us with reader, 50us latency",
        &out,
        &arrivals,
        2,
        Some(50_000),
    );
}

/// As above with a larger batch, which the late item would not fill: the batch must still
/// leave by its deadline without it (it once held an item that arrived 10 ms after it).
#[test]
fn run_opened_batch_of_5_leaves_before_an_item_past_its_deadline() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut steps = vec![Item(0), Pending(0, true)];
    steps.extend([Item(0); 4]); // fills [0..5)
    steps.extend([Item(0), Item(10 * MS), Item(0), Pending(0, false)]);
    let (src, log) = script(&clock, steps);
    let mut s = src
        .map(Result::unwrap)
        .batch(5, Duration::from_nanos(1))
        .with_clock(clock.clone());
    let out = drive(&mut s, &clock, start, &[MS], 30 * MS);
    let arrivals = log.lock().unwrap().clone();
    check("manual 1ns size 5", &out, &arrivals, 5, Some(1));
}

// ---------------------------------------------------------------------------------------------
// 2. A source that panics in a run that opened the batch: nothing lost, the batch keeps its
//    deadline.
// ---------------------------------------------------------------------------------------------

#[test]
fn panic_in_an_opening_run_loses_nothing_manual_clock() {
    for max in [1usize, 2, 3, 10, 600] {
        for at in [2usize, 3, 4, 7] {
            let clock = ManualClock::new();
            let start = clock.now();
            // Dense items at 0 (the run opens the third batch at 0 ms with its alarm tight),
            // a panic, then more dense items, then a pause.
            let mut steps = vec![Item(0); at];
            steps.push(Panic(0));
            steps.extend([Item(0); 5]);
            steps.push(Pending(0, false));
            steps.extend([Item(3 * MS), Item(0)]);
            let (src, log) = script(&clock, steps);
            let mut s = src
                .map(Result::unwrap)
                .batch(max, Duration::from_millis(5))
                .with_clock(clock.clone());
            let out = drive(&mut s, &clock, start, &[MS], 30 * MS);
            assert!(
                out.iter().any(|s| matches!(s, Seen::Panicked(_))),
                "{out:?}"
            );
            let arrivals = log.lock().unwrap().clone();
            check(
                &format!("panic max {max} at {at}"),
                &out,
                &arrivals,
                max,
                Some(5 * MS),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Paces: fast then slow, slow then fast, bursts; sizes 1, 2, 3, 512, 513, 1000; latencies
//    1 ns, 1 µs, 1 ms, 5 ms, huge. Against the model.
// ---------------------------------------------------------------------------------------------

fn random_steps(rng: &mut XorShift, n: usize, errors: bool, panics: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    let paces = [0u64, 0, 1, 1_000, 100_000, MS, 3 * MS, 7 * MS];
    let mut pace = paces[rng.below(paces.len() as u64) as usize];
    for _ in 0..n {
        if rng.below(40) == 0 {
            pace = paces[rng.below(paces.len() as u64) as usize];
        }
        let adv = if rng.below(3) == 0 {
            pace
        } else if rng.below(2) == 0 {
            0
        } else {
            pace / 2
        };
        match rng.below(30) {
            0 => steps.push(Pending(adv, true)),
            1 => steps.push(Pending(adv, false)),
            2 if errors => steps.push(Err(adv)),
            3 if panics => steps.push(Panic(adv)),
            _ => steps.push(Item(adv)),
        }
    }
    steps
}

fn latencies() -> Vec<Option<u64>> {
    vec![Some(1), Some(1_000), Some(MS), Some(5 * MS), None]
}

fn dur(l: Option<u64>) -> Duration {
    l.map_or(Duration::MAX, Duration::from_nanos)
}

/// Random scripts (seeds `1..=seeds`, the script's length below `len`) through every size of
/// `maxes` and every latency, each run by `run` (which builds the adapter over the script
/// and drives it), checked against the model.
fn against_the_model(
    what: &str,
    seeds: u64,
    mix: u64,
    len: u64,
    maxes: &[usize],
    errors: bool,
    run: impl Fn(Script, &ManualClock, &Log, usize, Duration) -> Vec<Seen>,
) {
    let mut failures = Vec::new();
    for seed in 1..=seeds {
        let mut rng = XorShift(seed.wrapping_mul(mix) | 1);
        let n = 20 + rng.below(len) as usize;
        let steps = random_steps(&mut rng, n, errors, true);
        for &max in maxes {
            for l in latencies() {
                let clock = ManualClock::new();
                let mut steps = steps.clone();
                steps.push(End(rng.below(2) * MS));
                let (src, log) = script(&clock, steps);
                let out = run(src, &clock, &log, max, dur(l));
                let arrivals = log.lock().unwrap().clone();
                let what = format!("{what} seed {seed} max {max} latency {l:?}");
                if let Result::Err(e) =
                    catch_unwind(AssertUnwindSafe(|| check(&what, &out, &arrivals, max, l)))
                {
                    failures.push(msg(e));
                }
            }
        }
    }
    summarize(&failures);
}

const GAPS: [u64; 4] = [0, 1, 500_000, 2 * MS];

#[test]
fn random_paces_against_the_model_plain() {
    let maxes = [1, 2, 3, 7, 512, 513, 1000];
    against_the_model(
        "plain",
        300,
        0x9E37_79B9_7F4A_7C15,
        1500,
        &maxes,
        false,
        |src, clock, log, max, l| {
            let start = clock.now();
            let mut s = src
                .map(Result::unwrap)
                .batch(max, l)
                .with_clock(clock.clone());
            drive_log(&mut s, clock, start, &GAPS, 10_000 * MS, Some(log))
        },
    );
}

#[test]
fn random_paces_against_the_model_with_reasons() {
    let maxes = [1, 2, 3, 512, 1000];
    against_the_model(
        "reasons",
        200,
        0x2545_F491_4F6C_DD1D,
        1000,
        &maxes,
        false,
        |src, clock, log, max, l| {
            let start = clock.now();
            let mut s = src
                .map(Result::unwrap)
                .batch(max, l)
                .with_reasons()
                .with_clock(clock.clone());
            drive_log(&mut s, clock, start, &GAPS, 10_000 * MS, Some(log))
        },
    );
}

#[test]
fn random_paces_against_the_model_try_batch() {
    let maxes = [1, 2, 3, 512, 1000];
    against_the_model(
        "try",
        200,
        0x1234_5678_9ABC_DEF1,
        1000,
        &maxes,
        true,
        |src, clock, log, max, l| {
            let start = clock.now();
            let mut s = src.try_batch(max, l).with_clock(clock.clone());
            drive_log(&mut s, clock, start, &GAPS, 10_000 * MS, Some(log))
        },
    );
}

#[test]
fn zero_latency_batches_follow_pauses_and_sizes() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut steps = vec![Item(0); 7];
    steps.push(Pending(0, true));
    steps.extend(vec![Item(0); 1100]);
    steps.push(Pending(0, true));
    steps.push(Item(0));
    steps.push(End(0));
    let (src, _log) = script(&clock, steps);
    let mut s = src
        .map(Result::unwrap)
        .batch(3, Duration::ZERO)
        .with_clock(clock.clone());
    let out = drive(&mut s, &clock, start, &[MS], 100 * MS);
    let sizes: Vec<usize> = out
        .iter()
        .filter_map(|s| match s {
            Seen::Batch(_, b, _) => Some(b.len()),
            _ => None,
        })
        .collect();
    let mut want = vec![3, 3, 1];
    want.extend(vec![3; 366]);
    want.extend([2, 1]);
    assert_eq!(sizes, want);
    // And with max 600 > the budget: the budget ends the first call of the 1100 items.
    let clock = ManualClock::new();
    let start = clock.now();
    let mut steps = vec![Item(0); 1100];
    steps.push(End(0));
    let (src, _log) = script(&clock, steps);
    let mut s = src
        .map(Result::unwrap)
        .batch(600, Duration::ZERO)
        .with_clock(clock.clone());
    let out = drive(&mut s, &clock, start, &[MS], 100 * MS);
    let sizes: Vec<usize> = out
        .iter()
        .filter_map(|s| match s {
            Seen::Batch(_, b, _) => Some(b.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 1100);
    assert!(sizes.iter().all(|&n| n <= 600), "{sizes:?}");
}

#[test]
fn stream_ends_right_after_the_filling_item() {
    for max in [1usize, 2, 3, 512, 513] {
        for l in [
            Duration::from_millis(5),
            Duration::ZERO,
            Duration::MAX,
            Duration::from_nanos(1),
        ] {
            let clock = ManualClock::new();
            let n = 3 * max;
            let mut s = futures::stream::iter(0..n as u32)
                .batch(max, l)
                .with_clock(clock.clone());
            let waker = futures::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            let mut got = Vec::new();
            loop {
                let (lo, hi) = s.size_hint();
                let left = n - got.iter().map(Vec::len).sum::<usize>();
                match Pin::new(&mut s).poll_next(&mut cx) {
                    Poll::Ready(Some(b)) => {
                        let produced = 1;
                        assert!(
                            lo <= produced + (left - b.len()).div_ceil(max),
                            "size_hint lower {lo}"
                        );
                        assert!(hi.is_none_or(|h| h >= 1), "size_hint upper {hi:?}");
                        got.push(b);
                        assert!(!s.is_terminated() || got.iter().map(Vec::len).sum::<usize>() == n);
                    }
                    Poll::Ready(None) => break,
                    Poll::Pending => clock.advance(Duration::from_millis(1)),
                }
            }
            if (l == Duration::ZERO || l == Duration::from_nanos(1)) && max > 512 {
                continue;
            }
            assert_eq!(
                got.len(),
                3,
                "max {max} l {l:?}: {:?}",
                got.iter().map(Vec::len).collect::<Vec<_>>()
            );
            assert!(s.is_terminated());
            assert_eq!(s.size_hint(), (0, Some(0)));
        }
    }
}

/// Size hints stay true through every output of a run-filled stream.
#[test]
fn size_hint_holds_across_runs() {
    for max in [1usize, 2, 5, 512, 600] {
        let clock = ManualClock::new();
        let n = 2000usize;
        let mut s = futures::stream::iter(0..n as u32)
            .batch(max, Duration::from_millis(5))
            .with_clock(clock.clone());
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut outputs = Vec::new();
        let mut hints = Vec::new();
        loop {
            hints.push(s.size_hint());
            match Pin::new(&mut s).poll_next(&mut cx) {
                Poll::Ready(Some(b)) => outputs.push(b.len()),
                Poll::Ready(None) => break,
                Poll::Pending => {}
            }
        }
        // The count of outputs still to come lies within each hint.
        let mut k = 0;
        let mut i = 0;
        let waker2 = futures::task::noop_waker();
        let _ = waker2;
        // Replay: hints[i] was taken before poll i; outputs remaining = total - yielded so far.
        let total = outputs.len();
        let mut yielded = 0;
        let mut s2 = futures::stream::iter(0..n as u32)
            .batch(max, Duration::from_millis(5))
            .with_clock(ManualClock::new());
        loop {
            let (lo, hi) = s2.size_hint();
            let rem = total - yielded;
            assert!(
                lo <= rem && hi.is_none_or(|h| h >= rem),
                "max {max}: hint ({lo}, {hi:?}) remaining {rem}"
            );
            match Pin::new(&mut s2).poll_next(&mut cx) {
                Poll::Ready(Some(_)) => yielded += 1,
                Poll::Ready(None) => break,
                Poll::Pending => {}
            }
            i += 1;
            k += 1;
        }
        let _ = (i, k, hints);
    }
}

/// `with_clock` mid-batch, after a run opened the batch on the first clock.
#[test]
fn with_clock_after_a_run_opened_the_batch() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut steps = vec![Item(0); 4];
    steps.push(Pending(0, false));
    let (src, log) = script(&clock, steps);
    let s = src
        .map(Result::unwrap)
        .batch(3, Duration::from_millis(5))
        .with_clock(clock.clone());
    let mut s = Box::pin(s);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    // [0,1,2] full; 3 opens the next batch (in a run?).
    match s.as_mut().poll_next(&mut cx) {
        Poll::Ready(Some(b)) => assert_eq!(b, vec![0, 1, 2]),
        other => panic!("{other:?}"),
    }
    assert!(s.as_mut().poll_next(&mut cx).is_pending());
    clock.advance(Duration::from_millis(2));
    let other = ManualClock::new();
    let ostart = other.now();
    let s = Pin::into_inner(s);
    let mut s = Box::pin(s.with_clock(other.clone()));
    assert!(s.as_mut().poll_next(&mut cx).is_pending());
    other.advance(Duration::from_millis(2));
    assert!(
        s.as_mut().poll_next(&mut cx).is_pending(),
        "left early on the new clock"
    );
    other.advance(Duration::from_millis(1));
    match s.as_mut().poll_next(&mut cx) {
        Poll::Ready(Some(b)) => assert_eq!(b, vec![3]),
        other => panic!("{other:?}"),
    }
    let _ = (start, ostart, log);
}

/// Only: each item once, in order; sizes; no batch holds an item that arrived at or after
/// its first item's arrival plus the latency.
fn check_items(what: &str, out: &[Seen], arrivals: &[u64], max: usize, latency: u64) {
    let batches: Vec<&Vec<u32>> = out
        .iter()
        .filter_map(|s| match s {
            Seen::Batch(_, b, _) => Some(b),
            _ => None,
        })
        .collect();
    let all: Vec<u32> = batches.iter().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(
        all,
        (0..arrivals.len() as u32).collect::<Vec<_>>(),
        "{what}"
    );
    for b in batches {
        assert!(b.len() <= max);
        let first = arrivals[b[0] as usize];
        for &x in b {
            assert!(
                arrivals[x as usize] < first + latency,
                "{what}: item {x} at {} ns in a batch opened at {first} ns (deadline {})",
                arrivals[x as usize],
                first + latency
            );
        }
    }
}

/// Random paces on a punctual clock with a reader and a 100 µs resolution (as
/// `SystemClock`): no batch holds an item that arrived later than its first item's arrival
/// plus the latency plus twice the resolution (the precision of a date from the timer).
#[test]
fn punctual_reader_clock_paces_hold_items_within_precision() {
    let mut failures = Vec::new();
    for seed in 1..=150u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x94D0_49BB_1331_11EB) | 1);
        let n = 50 + rng.below(2000) as usize;
        let mut steps = Vec::new();
        let paces = [0u64, 1_000, 3_000, 50_000, 200_000, 2 * MS];
        let mut pace = paces[rng.below(6) as usize];
        for _ in 0..n {
            if rng.below(60) == 0 {
                pace = paces[rng.below(6) as usize];
            }
            match rng.below(60) {
                0 => steps.push(Pending(0, true)),
                1 => steps.push(Pending(pace, false)),
                _ => steps.push(Item(if rng.below(8) == 0 { 10 * pace } else { pace })),
            }
        }
        steps.push(End(0));
        for max in [2usize, 3, 100, 10_000] {
            for lat in [50_000u64, 100_000, 300_000, MS] {
                let clock = ManualClock::new();
                let start = clock.now();
                let (src, log) = script(&clock, steps.clone());
                let mut s = src
                    .map(Result::unwrap)
                    .batch(max, Duration::from_nanos(lat))
                    .with_clock(stamped(&clock, 0));
                let out = drive_log(&mut s, &clock, start, &[100_000], 100_000 * MS, Some(&log));
                let arrivals = log.lock().unwrap().clone();
                let what = format!("reader seed {seed} max {max} latency {lat}");
                if let Result::Err(e) = catch_unwind(AssertUnwindSafe(|| {
                    check_items(&what, &out, &arrivals, max, lat + 200_000)
                })) {
                    failures.push(msg(e));
                }
            }
        }
    }
    summarize(&failures);
}

/// Found by a search over short scripts: `batch(3, 1 ms)` on a punctual clock with a reader
/// and a 100 µs resolution (as `SystemClock`). Items 9..=11 come 1 µs apart (dense: the
/// alarm is armed one resolution on), fill a batch, and 12 comes 1 µs later: the batch is
/// empty, the source no longer dense, and a run opens a batch with 12 while the tight alarm
/// watches (the machine has no deadline yet). Item 13 takes 20 ms; the alarm's firing stops
/// the run. The engine once judged 13 by the horizon from before the run (none: "watched"),
/// so 13 joined the batch opened at 0.954 ms, whose deadline was 1.954 ms: [12, 13] left at
/// 20.954 ms. Expected: [12] (by its deadline), then [13].
#[test]
fn reader_clock_1ms_batch_leaves_before_an_item_20ms_past_its_deadline() {
    let steps = vec![
        Item(50000),
        Pending(0, false),
        Item(50000),
        Item(0),
        Item(50000),
        Item(200000),
        Item(200000),
        Item(50000),
        Item(200000),
        Item(1000),
        Pending(0, true),
        Item(50000),
        Item(1000),
        Item(1000),
        Item(1000),
        Item(20000000),
        End(0),
    ];
    let clock = ManualClock::new();
    let start = clock.now();
    let (src, log) = script(&clock, steps);
    let mut s = src
        .map(Result::unwrap)
        .batch(3, Duration::from_millis(1))
        .with_clock(stamped(&clock, 0));
    let out = drive_log(&mut s, &clock, start, &[100_000], 100_000 * MS, Some(&log));
    let arrivals = log.lock().unwrap().clone();
    check_items("reader clock 1ms", &out, &arrivals, 3, MS + 200_000);
}
