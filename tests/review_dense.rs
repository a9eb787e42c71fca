//! Review of the rule "the alarm watches a deadline only while items arrive densely": sources
//! whose pace flips between dense and sparse, timers that fire later than their resolution,
//! wakers that change between polls. Every item's value is its arrival, in µs from the start;
//! outputs are checked against exact models of those arrivals.
#![allow(clippy::type_complexity, dead_code)]

mod support;

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures::stream::{Stream, StreamExt};
use streamz::{Clock, Edge, ManualClock, ManualTimer, StreamzExt, Timer};

use support::late::*;

// ---------------------------------------------------------------------------------------
// A source that spends `gaps[i]` µs of virtual time producing item i, and returns `Pending`
// once (waking its task) before each item whose index is in `pauses`; then stays pending.

struct Paced {
    clock: ManualClock,
    start: Instant,
    gaps: Vec<u64>,
    pauses: HashSet<usize>,
    sent: usize,
    paused: bool,
}

impl Stream for Paced {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        let this = &mut *self;
        if this.sent == this.gaps.len() {
            return Poll::Pending;
        }
        if this.pauses.contains(&this.sent) && !this.paused {
            this.paused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.paused = false;
        this.clock.advance(us(this.gaps[this.sent]));
        this.sent += 1;
        Poll::Ready(Some((this.clock.now() - this.start).as_micros() as u64))
    }
}

fn paced(clock: &ManualClock, gaps: Vec<u64>, pauses: impl IntoIterator<Item = usize>) -> Paced {
    Paced {
        clock: clock.clone(),
        start: clock.now(),
        gaps,
        pauses: pauses.into_iter().collect(),
        sent: 0,
        paused: false,
    }
}

/// Arrivals of `gaps` (cumulative sums), for sources without pauses.
fn arrivals(gaps: &[u64]) -> Vec<u64> {
    let mut t = 0;
    gaps.iter()
        .map(|g| {
            t += g;
            t
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Models on exact arrivals (µs).

fn batch_model(arr: &[u64], max: usize, lat: u64) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = Vec::new();
    let mut open = false;
    for &at in arr {
        match out.last_mut() {
            Some(b) if open && at < b[0] + lat && b.len() < max => b.push(at),
            _ => {
                out.push(vec![at]);
                open = true;
            }
        }
        if out.last().unwrap().len() == max {
            open = false;
        }
    }
    out
}

fn throttle_leading_model(arr: &[u64], period: u64) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for &at in arr {
        if out.last().map_or(true, |&l| at >= l + period) {
            out.push(at);
        }
    }
    out
}

/// Trailing debounce with max_wait, on a source that then stays pending for good (the last
/// pending item leaves by its quiet period).
fn debounce_max_wait_model(arr: &[u64], quiet: u64, max_wait: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut pending: Option<u64> = None;
    let mut run_start = 0;
    for &at in arr {
        if let Some(p) = pending {
            if at >= p + quiet || at >= run_start + max_wait {
                out.push(p);
                pending = None;
            }
        }
        if pending.is_none() {
            run_start = at;
        }
        pending = Some(at);
    }
    out.extend(pending);
    out
}

fn items<T>(out: Vec<(u64, T)>) -> Vec<T> {
    out.into_iter().map(|(_, x)| x).collect()
}

/// Gaps: the first item after 10 µs, the second 1 µs later (dense), then `n` items `gap` µs
/// apart.
fn dense_then_slow(n: usize, gap: u64) -> Vec<u64> {
    let mut g = vec![10, 1];
    g.extend(std::iter::repeat(gap).take(n));
    g
}

// ---------------------------------------------------------------------------------------
// A source that turns from dense to sparse while the timer fires nothing for a long while
// (later than its resolution, as a timer thread waiting for a core). Without a reading, the
// adapter cannot see the pace change: it takes the items on the timer's word until it reads
// the clock, which it does once 4096 items arrived since its latest reading, at the latest
// (sooner as the timer's latest instant nears, by the items' pace before the change). That
// reading shows the items sparse; from then on each gets a reading of its own,
// and every deadline acts at its exact item. (Found by this review: `dense` used to change
// only at readings taken for arrivals, so it stayed set after the pace changed, and every
// later deadline waited for the timer.)

/// Items arriving while the adapter may still take the source to be dense: the first two,
/// then 4096 items.
const SETTLED: usize = 2 + BUDGET;
const BUDGET: usize = 4096;

/// Checks an adapter's choices (`got`, an index into the arrivals) against the exact ones
/// (`due`), for a choice made from a state set at index `from`: exact once the adapter has
/// settled, else late by at most a budget of items, never early.
fn check_choice(what: &str, from: usize, got: usize, due: usize) {
    if from >= SETTLED {
        assert_eq!(got, due, "{what}: from item {from}");
    } else {
        assert!(
            (due..=due + BUDGET).contains(&got),
            "{what}: from item {from}, item {got} where {due} was due"
        );
    }
}

/// The index of the first arrival at or after `at`.
fn first_at(arr: &[u64], at: u64) -> usize {
    arr.partition_point(|&a| a < at)
}

fn check_throttle(arr: &[u64], passed: &[u64]) {
    let index = |at: u64| arr.binary_search(&at).unwrap();
    assert!(passed.len() >= 10, "{} passed", passed.len());
    assert_eq!(passed[0], arr[0]);
    for pair in passed.windows(2) {
        let from = index(pair[0]);
        check_choice(
            "throttle",
            from,
            index(pair[1]),
            first_at(arr, pair[0] + 1_000),
        );
    }
}

/// Runs a throttle made by `make` over the dense pair and 12,000 items 10 µs apart, with a
/// timer that fires nothing for 1 s, and checks its passes.
fn check_late_throttle<A>(make: impl FnOnce(Pin<Box<dyn Stream<Item = u64>>>, Late) -> A)
where
    A: Stream<Item = u64> + Unpin,
{
    let clock = ManualClock::new();
    let start = clock.now();
    let (source, arr) = recorded(paced(&clock, dense_then_slow(12_000, 10), []));
    let mut s = make(Box::pin(source), late(&clock, 1_000));
    let out = items(run(&mut s, &clock, start, Duration::from_millis(150)));
    let arr = arr.lock().unwrap().clone();
    assert_eq!(arr.len(), 12_002);
    check_throttle(&arr, &out);
}

#[test]
fn dense_pair_then_sparse_items_with_a_late_timer_throttle() {
    check_late_throttle(|source, clock| {
        source.throttle(Duration::from_millis(1)).with_clock(clock)
    });
}

#[test]
fn dense_pair_then_sparse_items_with_a_late_timer_keyed_throttle() {
    check_late_throttle(|source, clock| {
        source
            .throttle_by(|_| 0u8, Duration::from_millis(1))
            .with_clock(clock)
    });
}

fn check_batches(arr: &[u64], batches: &[Vec<u64>]) {
    assert!(batches.len() >= 10, "{} batches", batches.len());
    let index = |at: u64| arr.binary_search(&at).unwrap();
    for pair in batches.windows(2) {
        let from = index(pair[0][0]);
        check_choice(
            "batch",
            from,
            index(pair[1][0]),
            first_at(arr, pair[0][0] + 1_000),
        );
    }
}

/// Runs `batch(100_000, 1ms)` over the dense pair and 12,000 items 10 µs apart, returning
/// `Pending` once before each item in `pauses`, with a timer that fires nothing for 1 s, until
/// `until` ms; checks its batches.
fn check_late_batch(pauses: impl IntoIterator<Item = usize>, until: u64) {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = paced(&clock, dense_then_slow(12_000, 10), pauses)
        .batch(100_000, Duration::from_millis(1))
        .with_clock(late(&clock, 1_000));
    let out = items(run(&mut s, &clock, start, Duration::from_millis(until)));
    let arr = out.concat();
    assert_eq!(arr.len(), 12_002);
    check_batches(&arr, &out);
}

#[test]
fn dense_pair_then_sparse_items_with_a_late_timer_batch() {
    check_late_batch([], 150);
}

/// As above, with a pause after every 5 items: each call ends with the timer armed and
/// watching, so no call takes a budget; the reading comes at a pause.
#[test]
fn dense_pair_then_sparse_items_with_pauses_and_a_late_timer_batch() {
    check_late_batch((5..12_002).step_by(5), 400);
}

/// A debounce with `max_wait` on a clock with a reader (the alarm dates dense items, so no
/// reading is taken for them). Its quiet period never ends between items; `max_wait` cuts.
#[test]
fn dense_pair_then_sparse_items_with_a_late_stamped_timer_debounce_max_wait() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (source, arr) = recorded(paced(&clock, dense_then_slow(12_000, 10), []));
    let mut s = source
        .debounce(Duration::from_millis(1))
        .max_wait(Duration::from_millis(2))
        .with_clock(stamped(&clock, 1_000));
    let out = items(run(&mut s, &clock, start, Duration::from_millis(150)));
    let arr = arr.lock().unwrap().clone();
    assert_eq!(arr.len(), 12_002);
    let index = |at: u64| arr.binary_search(&at).unwrap();
    assert!(out.len() >= 5, "{out:?}");
    assert_eq!(*out.last().unwrap(), *arr.last().unwrap());
    let mut from = 0;
    for &cut in &out[..out.len() - 1] {
        let due = first_at(&arr, arr[from] + 2_000) - 1;
        check_choice("max_wait", from, index(cut), due);
        from = index(cut) + 1;
    }
}

/// The same debounce on a clock without a reader: every item's arrival needs a reading, so
/// `dense` follows the pace and the late timer delays nothing (guard).
#[test]
fn debounce_max_wait_dense_pair_then_slow_items_with_a_late_timer() {
    let clock = ManualClock::new();
    let start = clock.now();
    let gaps = dense_then_slow(40, 100);
    let arr = arrivals(&gaps);
    let mut s = paced(&clock, gaps, [])
        .debounce(Duration::from_millis(1))
        .max_wait(Duration::from_millis(2))
        .with_clock(late(&clock, 8));
    let out = items(run(&mut s, &clock, start, Duration::from_millis(20)));
    assert_eq!(out, debounce_max_wait_model(&arr, 1_000, 2_000));
}

// ---------------------------------------------------------------------------------------
// An executor-like driver on virtual time whose waker changes at every poll (`will_wake`
// is false between any two): it polls only when the waker handed to the latest `Pending`
// poll was woken; otherwise it moves the clock to the next timer of the clock. A `Pending`
// that left no wake to come for a deadline that yields shows as a missing output.

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

/// Drives `s` until the clock has no timer left (or `until` µs), polling with a fresh waker
/// each time; returns each output with its time in µs from `start`, and whether it ended.
fn drive_fresh<S: Stream + Unpin>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    until: u64,
) -> (Vec<(u64, S::Item)>, bool) {
    let mut out = Vec::new();
    let mut woken = true;
    let mut spins = 0;
    loop {
        if woken {
            let (count, waker) = counting();
            let mut cx = Context::from_waker(&waker);
            match Pin::new(&mut *s).poll_next(&mut cx) {
                Poll::Ready(Some(x)) => {
                    out.push(((clock.now() - start).as_micros() as u64, x));
                    spins = 0;
                    continue;
                }
                Poll::Ready(None) => return (out, true),
                Poll::Pending => {}
            }
            drop(waker);
            // The last waker is the only one that counts from here on.
            let last = count;
            loop {
                if last.0.load(Ordering::SeqCst) > 0 {
                    woken = true;
                    spins += 1;
                    assert!(spins < 100_000, "spins without output");
                    break;
                }
                let Some(next) = clock.next_deadline() else {
                    return (out, false);
                };
                if (next.max(clock.now()) - start).as_micros() as u64 > until {
                    return (out, false);
                }
                clock.advance(next.saturating_duration_since(clock.now()));
            }
        }
    }
}

/// A source of items scheduled on `clock`: item i becomes ready `gap` µs after the previous
/// arrival and takes `prod` µs (spent inside `poll_next`) to produce; a timer of its own wakes
/// the task when the next one is ready. Each item's value is its arrival in µs.
struct Scheduled {
    clock: ManualClock,
    start: Instant,
    plan: Vec<(u64, u64)>,
    next: usize,
    ready_at: Option<Instant>,
    timer: Option<ManualTimer>,
    ends: bool,
    /// Values are `arrival * 16 + index % 16` (for keyed adapters), not the arrival alone.
    tagged: bool,
}

impl Stream for Scheduled {
    type Item = u32;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
        let this = &mut *self;
        if this.next == this.plan.len() {
            return if this.ends {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        }
        let (gap, prod) = this.plan[this.next];
        let ready = *this.ready_at.get_or_insert(this.clock.now() + us(gap));
        if this.clock.now() < ready {
            let clock = &this.clock;
            let timer = this.timer.get_or_insert_with(|| clock.timer(ready));
            timer.reset(ready);
            if timer.poll_fired(cx).is_pending() {
                return Poll::Pending;
            }
        }
        this.clock.advance(us(prod));
        let idx = this.next as u32;
        this.next += 1;
        this.ready_at = None;
        let at = (this.clock.now() - this.start).as_micros() as u32;
        Poll::Ready(Some(if this.tagged { at * 16 + idx % 16 } else { at }))
    }
}

fn scheduled(clock: &ManualClock, plan: Vec<(u64, u64)>, ends: bool) -> Scheduled {
    Scheduled {
        clock: clock.clone(),
        start: clock.now(),
        plan,
        next: 0,
        ready_at: None,
        timer: None,
        ends,
        tagged: false,
    }
}

/// A plan whose pace flips between dense (ready at once, 0 or 1 µs to produce) and sparse
/// (10 µs to 1 ms apart, idle or busy in between) every 1 to 4 items.
fn flipping_plan(rng: &mut support::XorShift, n: usize) -> Vec<(u64, u64)> {
    let mut plan = Vec::new();
    let mut dense = rng.below(2) == 0;
    while plan.len() < n {
        let len = 1 + rng.below(4) as usize;
        for _ in 0..len {
            if dense {
                plan.push((0, rng.pick(&[0, 0, 1])));
            } else {
                // Either idle until ready, or busy producing it (the model's two kinds).
                let far = rng.pick(&[10, 30, 99, 100, 101, 250, 999, 1000]);
                if rng.below(2) == 0 {
                    plan.push((far, 0));
                } else {
                    plan.push((0, far));
                }
            }
        }
        dense = !dense;
    }
    plan.truncate(n);
    plan
}

/// The model schedule of a run: each arrival (from the outputs' values is not enough: the
/// source records them) with whether the source was busy producing it.
fn schedule_of(
    arrivals: &[(u64, bool)],
    ends_at: Option<u64>,
) -> (Vec<(u64, support::models::Ev)>, Vec<u64>) {
    use support::models::Ev;
    let mut sched: Vec<(u64, Ev)> = arrivals
        .iter()
        .map(|&(t, _)| (t, Ev::Item(t as u32)))
        .collect();
    let busy: Vec<u64> = arrivals.iter().filter(|a| a.1).map(|a| a.0).collect();
    if let Some(t) = ends_at {
        sched.push((t, Ev::End));
    }
    (sched, busy)
}

/// The arrivals a plan gives when the source is polled again as soon as it returns an item
/// or its timer fires (what `drive_fresh` does, since every adapter here polls on at once):
/// (arrival µs, produced while busy).
fn plan_arrivals(plan: &[(u64, u64)]) -> Vec<(u64, bool)> {
    let mut t = 0;
    plan.iter()
        .map(|&(gap, prod)| {
            t += gap + prod;
            (t, prod > 0)
        })
        .collect()
}

use support::models::{self, Out};

fn to_outs<T>(out: Vec<(u64, T)>, ended: bool, end_time: u64) -> Vec<Out<T>> {
    let mut v: Vec<Out<T>> = out.into_iter().map(|(t, x)| Out::Item(t, x)).collect();
    if ended {
        v.push(Out::End(end_time));
    }
    v
}

/// Runs `make(source)` on a fresh `ManualClock` over a flipping plan from `seed`; compares
/// with `model(schedule, busy)` exactly (times and items).
fn check_exact<T, A>(
    seed: u64,
    n: usize,
    ends: bool,
    make: impl Fn(Scheduled, &ManualClock) -> A,
    model: impl Fn(&[(u64, models::Ev)], &[u64]) -> Vec<Out<T>>,
) where
    A: Stream<Item = T> + Unpin,
    T: PartialEq + std::fmt::Debug,
{
    let mut rng = support::XorShift(seed);
    let plan = flipping_plan(&mut rng, n);
    let arr = plan_arrivals(&plan);
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = make(scheduled(&clock, plan.clone(), ends), &clock);
    let (out, ended) = drive_fresh(&mut s, &clock, start, 1_000_000);
    let end_time = (clock.now() - start).as_micros() as u64;
    let last = arr.last().map_or(0, |a| a.0);
    let (sched, busy) = schedule_of(&arr, ends.then_some(last));
    let expected = model(&sched, &busy);
    let got = to_outs(out, ended, end_time);
    assert_eq!(
        got, expected,
        "seed {seed}, plan {plan:?}, arrivals {arr:?}"
    );
}

const SEEDS: u64 = 3000;

#[test]
fn flipping_pace_fresh_wakers_batch_exact() {
    for seed in 1..=SEEDS {
        let mut r = support::XorShift(seed * 7919);
        let max = r.pick(&[2, 3, 5, 100]);
        let lat = r.pick(&[50, 100, 300, 1000]);
        let ends = r.below(2) == 0;
        check_exact(
            seed,
            40,
            ends,
            |src, clock| src.batch(max, us(lat)).with_clock(clock.clone()),
            |sched, busy| models::batch_busy(sched, busy, max, Duration::from_millis(lat)),
        );
    }
}

#[test]
fn flipping_pace_fresh_wakers_throttle_exact() {
    for seed in 1..=SEEDS {
        let mut r = support::XorShift(seed * 104_729);
        let period = r.pick(&[50, 100, 300, 1000]);
        let edge = r.pick(&[Edge::Leading, Edge::Trailing, Edge::Both]);
        let ends = r.below(2) == 0;
        check_exact(
            seed,
            40,
            ends,
            |src, clock| {
                src.throttle(us(period))
                    .edge(edge)
                    .with_clock(clock.clone())
            },
            |sched, busy| models::throttle_busy(sched, busy, Duration::from_millis(period), edge),
        );
    }
}

/// A debounce drawn for a case: its quiet period and `max_wait` (µs) and its edge.
struct Debounced {
    quiet: u64,
    max_wait: Option<u64>,
    edge: Edge,
}

impl Debounced {
    fn pick(r: &mut support::XorShift) -> Debounced {
        let quiet = r.pick(&[50, 100, 300, 1000]);
        let max_wait = r
            .pick(&[None, Some(1), Some(2), Some(4)])
            .map(|k| quiet * k);
        let edge = r.pick(&[Edge::Leading, Edge::Trailing, Edge::Both]);
        Debounced {
            quiet,
            max_wait,
            edge,
        }
    }
}

/// The debounce model for a case of quiet period `quiet` and `max_wait` (µs, which the
/// models count as their time unit).
fn debounce_model(
    sched: &[(u64, models::Ev)],
    busy: &[u64],
    quiet: u64,
    edge: Edge,
    max_wait: Option<u64>,
) -> Vec<Out<u32>> {
    models::debounce_busy(
        sched,
        busy,
        Duration::from_millis(quiet),
        edge,
        max_wait.map(Duration::from_millis),
    )
}

#[test]
fn flipping_pace_fresh_wakers_debounce_exact() {
    for seed in 1..=SEEDS {
        let mut r = support::XorShift(seed * 15_485_863);
        let Debounced {
            quiet,
            max_wait,
            edge,
        } = Debounced::pick(&mut r);
        let ends = r.below(2) == 0;
        check_exact(
            seed,
            40,
            ends,
            |src, clock| {
                let d = src.debounce(us(quiet)).edge(edge);
                let d = match max_wait {
                    Some(m) => d.max_wait(us(m)),
                    None => d,
                };
                d.with_clock(clock.clone())
            },
            |sched, busy| debounce_model(sched, busy, quiet, edge, max_wait),
        );
    }
}

// ---------------------------------------------------------------------------------------
// A clock of resolution `res` whose timers fire `delay` after their instant (within the
// resolution: the contract's "timer's precision"): `support::late::Res`.

/// A [`Res`] clock without a reader, its resolution and delay in µs.
fn res(clock: &ManualClock, res_us: u64, delay_us: u64) -> Res {
    res_clock(clock, res_us * 1_000, delay_us * 1_000)
}

/// A resolution (1, 2, 3 or 100 µs) and a delay within it.
fn pick_res(r: &mut support::XorShift) -> (u64, u64) {
    let res = r.pick(&[1, 2, 3, 100, 100, 100]);
    let delay = r.pick(&[0, 1, res / 2, res - 1, res, res]).min(res);
    (res, delay)
}

/// As [`check_exact`], on a clock of resolution 100 µs whose timers fire `delay` µs late: the
/// items of each output must be the model's exactly, and each output may leave at most one
/// item's production plus the resolution after the model's time (never before it).
fn check_content<T, A>(
    seed: u64,
    n: usize,
    ends: bool,
    (res_us, delay): (u64, u64),
    make: impl Fn(Scheduled, Res) -> A,
    model: impl Fn(&[(u64, models::Ev)], &[u64]) -> Vec<Out<T>>,
) where
    A: Stream<Item = T> + Unpin,
    T: PartialEq + std::fmt::Debug,
{
    let mut rng = support::XorShift(seed);
    let plan = flipping_plan(&mut rng, n);
    let arr = plan_arrivals(&plan);
    let max_prod = plan.iter().map(|p| p.1).max().unwrap_or(0);
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = make(
        scheduled(&clock, plan.clone(), ends),
        res(&clock, res_us, delay),
    );
    let (out, ended) = drive_fresh(&mut s, &clock, start, 1_000_000);
    let last = arr.last().map_or(0, |a| a.0);
    let (sched, busy) = schedule_of(&arr, ends.then_some(last));
    let expected: Vec<(u64, T)> = model(&sched, &busy)
        .into_iter()
        .filter_map(|o| match o {
            Out::Item(t, x) => Some((t, x)),
            _ => None,
        })
        .collect();
    let got_items: Vec<&T> = out.iter().map(|o| &o.1).collect();
    let exp_items: Vec<&T> = expected.iter().map(|o| &o.1).collect();
    assert_eq!(
        got_items, exp_items,
        "seed {seed} res {res_us} delay {delay}, plan {plan:?}, arrivals {arr:?}, out {out:?}"
    );
    assert_eq!(ended, ends, "seed {seed}");
    for ((t, _), (e, _)) in out.iter().zip(&expected) {
        assert!(
            *t >= *e && *t <= e + res_us + max_prod,
            "seed {seed} res {res_us} delay {delay}: left at {t} µs, model {e} µs; out {out:?}, expected {expected:?}"
        );
    }
}

#[test]
fn flipping_pace_resolution_clock_batch_content() {
    for seed in 1..=SEEDS {
        let mut r = support::XorShift(seed * 7919 + 1);
        let max = r.pick(&[2, 3, 5, 100]);
        let lat = r.pick(&[50, 100, 300, 1000]);
        let ends = r.below(2) == 0;
        let rd = pick_res(&mut r);
        check_content(
            seed,
            40,
            ends,
            rd,
            |src, c| src.batch(max, us(lat)).with_clock(c),
            |sched, busy| models::batch_busy(sched, busy, max, Duration::from_millis(lat)),
        );
    }
}

#[test]
fn flipping_pace_resolution_clock_leading_throttle_content() {
    for seed in 1..=SEEDS {
        let mut r = support::XorShift(seed * 104_729 + 1);
        let period = r.pick(&[50, 100, 300, 1000]);
        let ends = r.below(2) == 0;
        let rd = pick_res(&mut r);
        check_content(
            seed,
            40,
            ends,
            rd,
            |src, c| src.throttle(us(period)).with_clock(c),
            |sched, busy| {
                models::throttle_busy(sched, busy, Duration::from_millis(period), Edge::Leading)
            },
        );
    }
}

#[test]
fn flipping_pace_resolution_clock_debounce_content() {
    for seed in 1..=SEEDS {
        let mut r = support::XorShift(seed * 15_485_863 + 1);
        let Debounced {
            quiet,
            max_wait,
            edge,
        } = Debounced::pick(&mut r);
        let ends = r.below(2) == 0;
        let rd = pick_res(&mut r);
        check_content(
            seed,
            40,
            ends,
            rd,
            |src, c| {
                let d = src.debounce(us(quiet)).edge(edge);
                let d = match max_wait {
                    Some(m) => d.max_wait(us(m)),
                    None => d,
                };
                d.with_clock(c)
            },
            |sched, busy| debounce_model(sched, busy, quiet, edge, max_wait),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Keyed forms on the same flipping sources, fresh wakers, exact keyed models.

use support::keyed_models::{self, BatchKey, DebounceKey, KeyModel, ThrottleKey};

fn tagged_schedule(arr: &[(u64, bool)], ends: bool) -> (Vec<(u64, models::Ev)>, Vec<u64>) {
    let mut sched: Vec<(u64, models::Ev)> = arr
        .iter()
        .enumerate()
        .map(|(i, &(t, _))| (t, models::Ev::Item(t as u32 * 16 + i as u32 % 16)))
        .collect();
    let busy: Vec<u64> = arr.iter().filter(|a| a.1).map(|a| a.0).collect();
    if ends {
        sched.push((arr.last().map_or(0, |a| a.0), models::Ev::End));
    }
    (sched, busy)
}

fn check_keyed<M, A>(
    seed: u64,
    ends: bool,
    nkeys: u32,
    template: M,
    make: impl Fn(Scheduled, &ManualClock) -> A,
) where
    M: KeyModel,
    M::Out: PartialEq + std::fmt::Debug,
    A: Stream<Item = (u32, M::Out)> + Unpin,
{
    let mut rng = support::XorShift(seed);
    let plan = flipping_plan(&mut rng, 40);
    let arr = plan_arrivals(&plan);
    let clock = ManualClock::new();
    let start = clock.now();
    let mut src = scheduled(&clock, plan.clone(), ends);
    src.tagged = true;
    let mut s = make(src, &clock);
    let (out, ended) = drive_fresh(&mut s, &clock, start, 1_000_000);
    let end_time = (clock.now() - start).as_micros() as u64;
    let (sched, busy) = tagged_schedule(&arr, ends);
    let model = keyed_models::keyed(&sched, &busy, template, nkeys, usize::MAX);
    let got = to_outs(out, ended, end_time);
    assert_eq!(
        got, model.out,
        "seed {seed}, plan {plan:?}, arrivals {arr:?}"
    );
}

#[test]
fn flipping_pace_fresh_wakers_keyed_exact() {
    for seed in 1..=SEEDS {
        let mut r = support::XorShift(seed * 31 + 5);
        let nkeys = r.pick(&[1, 2, 3]);
        let d = r.pick(&[50, 100, 300, 1000]);
        let ends = r.below(2) == 0;
        let key = move |x: &u32| x % nkeys;
        match r.below(3) {
            0 => {
                let max = r.pick(&[2, 3, 100]);
                check_keyed(
                    seed,
                    ends,
                    nkeys,
                    BatchKey::new(max, Duration::from_millis(d)),
                    |src, clock| {
                        let start = clock.now();
                        src.batch_by(key, max, us(d))
                            .with_reasons()
                            .with_clock(clock.clone())
                            .map(move |(k, f)| {
                                (
                                    k,
                                    (f.items, f.reason, (f.opened_at - start).as_micros() as u64),
                                )
                            })
                    },
                );
            }
            1 => {
                let edge = r.pick(&[Edge::Leading, Edge::Trailing, Edge::Both]);
                check_keyed(
                    seed,
                    ends,
                    nkeys,
                    ThrottleKey::new(Duration::from_millis(d), edge),
                    |src, clock| {
                        src.throttle_by(key, us(d))
                            .edge(edge)
                            .with_clock(clock.clone())
                            .map(move |x| (x % nkeys, x))
                    },
                );
            }
            _ => {
                let edge = r.pick(&[Edge::Leading, Edge::Trailing, Edge::Both]);
                let max_wait = r.pick(&[None, Some(2), Some(4)]).map(|k| d * k);
                check_keyed(
                    seed,
                    ends,
                    nkeys,
                    DebounceKey::new(
                        Duration::from_millis(d),
                        edge,
                        max_wait.map(Duration::from_millis),
                    ),
                    |src, clock| {
                        let s = src.debounce_by(key, us(d)).edge(edge);
                        let s = match max_wait {
                            Some(m) => s.max_wait(us(m)),
                            None => s,
                        };
                        s.with_clock(clock.clone()).map(move |x| (x % nkeys, x))
                    },
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// `try_` forms: every item whose arrival (µs) is 2 mod 5 is an error, which passes at once
// and changes nothing; on flipping sources, fresh wakers, exact models.

fn check_try<T, A>(
    seed: u64,
    ends: bool,
    make: impl Fn(futures::stream::Map<Scheduled, fn(u32) -> Result<u32, u32>>, &ManualClock) -> A,
    model: impl Fn(&[(u64, models::Ev)], &[u64]) -> Vec<Out<T>>,
) where
    A: Stream<Item = Result<T, u32>> + Unpin,
    T: PartialEq + std::fmt::Debug,
{
    fn split(x: u32) -> Result<u32, u32> {
        if x % 5 == 2 {
            Err(x)
        } else {
            Ok(x)
        }
    }
    let mut rng = support::XorShift(seed);
    let plan = flipping_plan(&mut rng, 40);
    let arr = plan_arrivals(&plan);
    let clock = ManualClock::new();
    let start = clock.now();
    let src = scheduled(&clock, plan.clone(), ends).map(split as fn(u32) -> Result<u32, u32>);
    let mut s = make(src, &clock);
    let (out, ended) = drive_fresh(&mut s, &clock, start, 1_000_000);
    let end_time = (clock.now() - start).as_micros() as u64;
    let last = arr.last().map_or(0, |a| a.0);
    let (mut sched, busy) = schedule_of(&arr, ends.then_some(last));
    for ev in &mut sched {
        if let models::Ev::Item(x) = ev.1 {
            if x % 5 == 2 {
                ev.1 = models::Ev::Err(x);
            }
        }
    }
    let expected = model(&sched, &busy);
    let mut got: Vec<Out<T>> = out
        .into_iter()
        .map(|(t, r)| match r {
            Ok(x) => Out::Item(t, x),
            Err(e) => Out::Err(t, e),
        })
        .collect();
    if ended {
        got.push(Out::End(end_time));
    }
    assert_eq!(
        got, expected,
        "seed {seed}, plan {plan:?}, arrivals {arr:?}"
    );
}

#[test]
fn flipping_pace_fresh_wakers_try_forms_exact() {
    use streamz::TryStreamzExt;
    for seed in 1..=SEEDS {
        let mut r = support::XorShift(seed * 613 + 11);
        let d = r.pick(&[50, 100, 300, 1000]);
        let ends = r.below(2) == 0;
        match r.below(3) {
            0 => {
                let max = r.pick(&[2, 3, 5, 100]);
                check_try(
                    seed,
                    ends,
                    |src, clock| src.try_batch(max, us(d)).with_clock(clock.clone()),
                    |sched, busy| models::batch_busy(sched, busy, max, Duration::from_millis(d)),
                );
            }
            1 => {
                let edge = r.pick(&[Edge::Leading, Edge::Trailing, Edge::Both]);
                check_try(
                    seed,
                    ends,
                    |src, clock| src.try_throttle(us(d)).edge(edge).with_clock(clock.clone()),
                    |sched, busy| {
                        models::throttle_busy(sched, busy, Duration::from_millis(d), edge)
                    },
                );
            }
            _ => {
                let edge = r.pick(&[Edge::Leading, Edge::Trailing, Edge::Both]);
                let max_wait = r.pick(&[None, Some(2), Some(4)]).map(|k| d * k);
                check_try(
                    seed,
                    ends,
                    |src, clock| {
                        let s = src.try_debounce(us(d)).edge(edge);
                        let s = match max_wait {
                            Some(m) => s.max_wait(us(m)),
                            None => s,
                        };
                        s.with_clock(clock.clone())
                    },
                    |sched, busy| debounce_model(sched, busy, d, edge, max_wait),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The `rest` fast path (the alarm already armed for the wake instant, not fired): a poll with
// another waker must move the wake-up to it.

fn poll_with<S: Stream + Unpin>(s: &mut S, waker: &Waker) -> Poll<Option<S::Item>> {
    Pin::new(s).poll_next(&mut Context::from_waker(waker))
}

fn woken(c: &Arc<Count>) -> usize {
    c.0.load(Ordering::SeqCst)
}

/// Three items at one instant (dense: the alarm is armed for one resolution after the
/// reading, earlier than the batch's deadline), then polls with three different wakers
/// around the early firing: only the latest waker counts, and it is woken at the deadline.
#[test]
fn a_new_waker_after_pending_is_woken_at_the_deadline_dense() {
    for clock_kind in 0..3 {
        let clock = ManualClock::new();
        let start = clock.now();
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        for i in 0..3 {
            tx.unbounded_send(i).unwrap();
        }
        let lat = Duration::from_millis(1);
        let mut s: Pin<Box<dyn Stream<Item = Vec<u32>>>> = match clock_kind {
            0 => Box::pin(rx.batch(10, lat).with_clock(clock.clone())),
            1 => Box::pin(rx.batch(10, lat).with_clock(res(&clock, 100, 0))),
            _ => Box::pin(rx.batch(10, lat).with_clock(res(&clock, 100, 100))),
        };
        let (c1, w1) = counting();
        assert!(poll_with(&mut s, &w1).is_pending());
        let (c2, w2) = counting();
        assert!(poll_with(&mut s, &w2).is_pending());
        // Up to the deadline, whatever wakes comes early; each wake is answered by a poll
        // with a fresh waker.
        let mut last = (c2, w2);
        let mut outs = Vec::new();
        while clock.now() - start < Duration::from_millis(3) && outs.is_empty() {
            match clock.next_deadline() {
                Some(at) => clock.advance(at.saturating_duration_since(clock.now())),
                None => break,
            }
            if woken(&last.0) > 0 {
                let (c, w) = counting();
                match poll_with(&mut s, &w) {
                    Poll::Ready(Some(b)) => outs.push(((clock.now() - start).as_micros(), b)),
                    Poll::Ready(None) => panic!("ended"),
                    Poll::Pending => {}
                }
                last = (c, w);
            }
        }
        let _ = c1;
        let slack = if clock_kind == 2 { 100 } else { 0 };
        assert_eq!(
            outs.len(),
            1,
            "clock {clock_kind}: no output: the latest waker was not woken"
        );
        assert_eq!(outs[0].1, vec![0, 1, 2]);
        assert!(
            outs[0].0 >= 1_000 && outs[0].0 <= 1_000 + slack,
            "clock {clock_kind}: left at {} µs",
            outs[0].0
        );
        drop(tx);
    }
}

/// A trailing throttle with a pending item: polled again with a new waker after `Pending`
/// (the fast path), then again after the alarm fired but before any poll acted on it, with
/// yet another waker: the item leaves at the window's end, and nothing hangs.
#[test]
fn repoll_with_new_wakers_before_and_after_the_firing() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    tx.unbounded_send(1).unwrap();
    tx.unbounded_send(2).unwrap();
    let mut s = rx
        .throttle(Duration::from_millis(1))
        .edge(Edge::Trailing)
        .with_clock(clock.clone());
    let (c1, w1) = counting();
    assert!(poll_with(&mut s, &w1).is_pending());
    let (c2, w2) = counting();
    assert!(poll_with(&mut s, &w2).is_pending());
    let (c3, w3) = counting();
    assert!(poll_with(&mut s, &w3).is_pending());
    // (Two items at one instant are dense: the alarm may be armed for an instant before the
    // window's end, and wake the task early; each early wake is answered by a poll with a new
    // waker, which must return `Pending`.)
    let _ = (c1, c2);
    let mut last = c3;
    let mut early = 0;
    for _ in 0..999 {
        clock.advance(Duration::from_micros(1));
        if woken(&last) > 0 {
            early += 1;
            let (c, w) = counting();
            assert!(poll_with(&mut s, &w).is_pending());
            last = c;
        }
    }
    eprintln!("early wakes: {early}");
    let before = woken(&last);
    clock.advance(Duration::from_micros(1));
    assert_eq!(
        woken(&last),
        before + 1,
        "the latest waker is woken at the window's end"
    );
    // Fired, not yet acted on: a poll with a fourth waker yields the item.
    let (_c4, w4) = counting();
    assert_eq!(poll_with(&mut s, &w4), Poll::Ready(Some(2)));
    assert_eq!((clock.now() - start).as_micros(), 1_000);
    // The emission opened a window with nothing pending: nothing to wake for; a new item in
    // it becomes pending, and the next waker is woken at its end.
    let (c5, w5) = counting();
    assert!(poll_with(&mut s, &w5).is_pending());
    tx.unbounded_send(3).unwrap();
    assert!(woken(&c5) > 0, "the source's wake");
    let (c6, w6) = counting();
    assert!(poll_with(&mut s, &w6).is_pending());
    clock.advance(Duration::from_micros(1_000));
    assert_eq!(woken(&c6), 1);
    let (_c7, w7) = counting();
    assert_eq!(poll_with(&mut s, &w7), Poll::Ready(Some(3)));
    assert_eq!((clock.now() - start).as_micros(), 2_000);
}

// ---------------------------------------------------------------------------------------
// The poll budget on an always-ready source whose pace flips (runs and single items mixed):
// at most 512 inner items per call without output, then a self-wake and `Pending`.

struct Counted {
    clock: ManualClock,
    start: Instant,
    rng: support::XorShift,
    taken: Arc<AtomicUsize>,
    dense_left: u64,
    dense: bool,
}

impl Stream for Counted {
    type Item = u32;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
        let this = &mut *self;
        if this.dense_left == 0 {
            this.dense = !this.dense;
            this.dense_left = 1 + this.rng.below(if this.dense { 300 } else { 5 });
        }
        this.dense_left -= 1;
        let step = if this.dense {
            this.rng.pick(&[0, 0, 1])
        } else {
            this.rng.pick(&[3, 10, 50])
        };
        this.clock.advance(us(step));
        this.taken.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some((this.clock.now() - this.start).as_micros() as u32))
    }
}

#[test]
fn budget_holds_on_an_always_ready_source_whose_pace_flips() {
    for seed in 1..=40u64 {
        for kind in 0..3 {
            let clock = ManualClock::new();
            let taken = Arc::new(AtomicUsize::new(0));
            let src = Counted {
                clock: clock.clone(),
                start: clock.now(),
                rng: support::XorShift(seed),
                taken: taken.clone(),
                dense_left: 0,
                dense: false,
            };
            let big = Duration::from_secs(3600);
            let mut s: Pin<Box<dyn Stream<Item = u32>>> = match kind {
                0 => Box::pin(
                    src.batch(usize::MAX, big)
                        .with_clock(res(&clock, 100, 100))
                        .map(|b| b.len() as u32),
                ),
                1 => Box::pin(src.throttle(big).with_clock(res(&clock, 100, 100))),
                _ => Box::pin(src.debounce(big).with_clock(res(&clock, 100, 100))),
            };
            let mut outs = 0;
            for call in 0..40 {
                let (c, w) = counting();
                let before = taken.load(Ordering::SeqCst);
                let p = poll_with(&mut s, &w);
                let n = taken.load(Ordering::SeqCst) - before;
                match p {
                    Poll::Ready(Some(_)) => outs += 1,
                    Poll::Ready(None) => panic!("ended"),
                    Poll::Pending => {
                        assert!(n <= 512, "seed {seed} kind {kind} call {call}: {n} items");
                        assert!(n >= 1, "seed {seed} kind {kind} call {call}: no item taken");
                        assert!(
                            woken(&c) > 0,
                            "seed {seed} kind {kind} call {call}: no self-wake"
                        );
                    }
                }
            }
            assert!(outs <= 1, "seed {seed} kind {kind}: {outs} outputs");
        }
    }
}

// ---------------------------------------------------------------------------------------
// `with_clock` mid-stream: the new clock starts with a new view of the pace (dense or not).

/// Two dense items on the plain `ManualClock`, then the same batch moved to a clock whose
/// timer fires nothing before 8 ms, and items 100 µs apart: the new engine starts sparse, so
/// every item gets a reading and the batch splits at its deadline (guard).
#[test]
fn with_clock_mid_stream_starts_sparse() {
    let clock = ManualClock::new();
    let start = clock.now();
    let gaps = dense_then_slow(30, 100);
    let arr = arrivals(&gaps);
    let (tx, rx) = futures::channel::mpsc::unbounded::<u64>();
    let mut s = rx
        .batch(1_000, Duration::from_millis(1))
        .with_clock(clock.clone());
    let noop = futures::task::noop_waker();
    let mut sent = 0;
    // The dense pair, then a pause.
    for &g in &gaps[..2] {
        clock.advance(us(g));
        tx.unbounded_send((clock.now() - start).as_micros() as u64)
            .unwrap();
        sent += 1;
    }
    assert!(poll_with(&mut s, &noop).is_pending());
    let mut s = s.with_clock(late(&clock, 8));
    let mut out = Vec::new();
    for &g in &gaps[sent..] {
        clock.advance(us(g));
        tx.unbounded_send((clock.now() - start).as_micros() as u64)
            .unwrap();
        while let Poll::Ready(Some(b)) = poll_with(&mut s, &noop) {
            out.push(b);
        }
    }
    clock.advance(Duration::from_millis(10));
    while let Poll::Ready(Some(b)) = poll_with(&mut s, &noop) {
        out.push(b);
    }
    assert_eq!(out, batch_model(&arr, 1_000, 1_000));
}

// ---------------------------------------------------------------------------------------
// Keyed forms on a timer that fires nothing before 8 ms.

/// Items 100 µs apart from the start (never dense), keys alternating: every key's batch
/// splits at its own deadline (guard of the new rule, keyed).
#[test]
fn keyed_batch_sparse_items_with_a_late_timer() {
    let clock = ManualClock::new();
    let start = clock.now();
    let gaps: Vec<u64> = std::iter::repeat(100).take(40).collect();
    let arr = arrivals(&gaps);
    let mut s = paced(&clock, gaps, [])
        .batch_by(|x| (x / 100) % 2, 1_000, Duration::from_millis(1))
        .with_clock(late(&clock, 8));
    let out = items(run(&mut s, &clock, start, Duration::from_millis(20)));
    let mut expected: Vec<(u64, Vec<u64>)> = Vec::new();
    for key in 0..2 {
        let mine: Vec<u64> = arr
            .iter()
            .copied()
            .filter(|x| (x / 100) % 2 == key)
            .collect();
        expected.extend(
            batch_model(&mine, 1_000, 1_000)
                .into_iter()
                .map(|b| (key, b)),
        );
    }
    let mut got = out.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "out {out:?}");
}

/// As above, but the first two items are 1 µs apart: the keyed batch takes a reading for
/// its items here, so `dense` follows the pace and nothing is held (guard).
#[test]
fn keyed_batch_dense_pair_then_slow_items_with_a_late_timer() {
    let clock = ManualClock::new();
    let start = clock.now();
    let gaps = dense_then_slow(40, 100);
    let arr = arrivals(&gaps);
    let key = |x: &u64| (x / 100) % 2;
    let mut s = paced(&clock, gaps, [])
        .batch_by(key, 1_000, Duration::from_millis(1))
        .with_clock(late(&clock, 8));
    let out = items(run(&mut s, &clock, start, Duration::from_millis(20)));
    let mut expected: Vec<(u64, Vec<u64>)> = Vec::new();
    for k in 0..2 {
        let mine: Vec<u64> = arr.iter().copied().filter(|x| key(x) == k).collect();
        expected.extend(batch_model(&mine, 1_000, 1_000).into_iter().map(|b| (k, b)));
    }
    let mut got = out.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "out {out:?}");
}

// ---------------------------------------------------------------------------------------
// A clock with a reader (the alarm dates dense items, provisionally): on flipping sources,
// no batch deadline acts early, a batch opens no earlier than its first item, and a batch
// holds no item that arrived at or after its deadline counted from `opened_at`.

#[test]
fn flipping_pace_reader_clock_batch_never_early() {
    use streamz::FlushReason;
    for seed in 1..=SEEDS / 3 {
        let mut r = support::XorShift(seed * 7 + 3);
        let max = r.pick(&[3, 5, 100]);
        let lat = r.pick(&[50, 100, 300, 1000]);
        let (res_us, delay) = pick_res(&mut r);
        let plan = flipping_plan(&mut r, 40);
        let clock = ManualClock::new();
        let start = clock.now();
        let c = res_reader_clock(&clock, res_us * 1_000, delay * 1_000);
        let mut s = scheduled(&clock, plan.clone(), false)
            .batch(max, us(lat))
            .with_reasons()
            .with_clock(c);
        let (out, _) = drive_fresh(&mut s, &clock, start, 1_000_000);
        let total: usize = out.iter().map(|(_, b)| b.items.len()).sum();
        assert_eq!(total, plan.len(), "seed {seed}: items lost or duplicated");
        for (t, b) in &out {
            let opened = (b.opened_at - start).as_micros() as u64;
            let first = b.items[0] as u64;
            assert!(
                opened >= first,
                "seed {seed}: opened at {opened}, first item {first}"
            );
            assert!(
                opened <= first + 2 * res_us,
                "seed {seed}: opened at {opened}, first item {first}"
            );
            for &x in &b.items {
                assert!(
                    (x as u64) < opened + lat,
                    "seed {seed}: item {x} in a batch opened at {opened}; {out:?}"
                );
            }
            if b.reason == FlushReason::Deadline {
                assert!(
                    *t >= opened + lat,
                    "seed {seed}: left at {t}, opened at {opened}"
                );
            }
        }
    }
}
