//! How late each adapter acts on its deadlines, on the real clock, when the source spends time
//! inside its own `poll_next` and changes pace.
//!
//! The source is always ready. Item `i` costs `cost(i)` of CPU inside `poll_next` (a busy spin
//! on `Instant::now`, never a sleep; a fast item costs only a counter increment), and the source
//! records `Instant::now()` right before it returns `Ready(Some(i))`: the item's *arrival*
//! (README, "Timing precision"). The consumer records `Instant::now()` as each output comes
//! out of `next().await`: its *receipt*. Shapes: `N` fast items then slow ones (N in 50, 100,
//! 1000, 100 000; slow items of 100 µs, 1 ms, 5 ms); alternating bursts (1000 fast, then 10
//! slow of 1 ms, over and over); slow then fast (50 items of 1 ms, then fast ones). A run
//! stops once a few outputs ([`AFTER_CHANGE`]) have been received after the pace change, or
//! [`SLOW_PHASE`] after it (alternating bursts: only the latter).
//!
//! From the recorded arrivals, a plain reference computes when each output was due:
//! - `batch(10_000, 10ms)`: a batch is due at the arrival of its first item + 10 ms. *late* =
//!   receipt − due, for batches that are not full; *bad* = most items in one batch that
//!   arrived at or after its due time; *order* = runs in which the batches, put end to end, were
//!   not the items in order (lost, duplicated or reordered).
//! - `throttle(10ms)` (leading): each passed item opens a window of 10 ms from its arrival; the
//!   next passed item must be the first item arriving at or after the window end. *late* =
//!   receipt of the next passed item − window end; *bad* = windows whose next passed item is
//!   not that one (or a first output other than item 0), "wrongly dropped"; *gap* = smallest
//!   time between two receipts (must be >= 10 ms).
//! - `debounce(5ms).max_wait(10ms)` (trailing): a run starts at item 0 and at the item after
//!   each output (the adapter's own runs: one cut that differs shifts nothing after it); an
//!   item arriving at or after the previous item's arrival + 5 ms, or at or after the run's
//!   first arrival + 10 ms, first yields the previous one (due then; when both hold, the
//!   earlier due time counts); an output after which nothing arrived is due at whichever of
//!   the two comes first. *late* = receipt − due for each output that is its run's expected
//!   item; *bad* = outputs that are not ("mismatches"), plus a cut that the arrivals after the
//!   last output call for; *early* also covers a mismatched output that left before its own
//!   run's due time; *order* = runs whose outputs were not in item order.
//!
//! Each (adapter, clock, shape) row is 10 runs: the worst and the best lateness over all their
//! outputs, the worst *bad* of one run, the smallest throttle gap. Three diagnostics help read
//! a miss: *excess* is the lateness beyond the arrival of the first item arriving at or after
//! the due time (what the adapter adds to the source's production time); *off* is how far in
//! time the wrong decisions behind *bad* were; *item* is the longest time between two arrivals
//! (more than a slow item's cost when the thread was preempted). A throttle or debounce
//! decision that differs from the reference only about an item that arrived within 2 µs of
//! the deadline ([`NEAR`]) is counted as *near*, not *bad*: the source stamps an item before it
//! returns it, and the adapter reads the clock once it has it, so by their two clocks such an
//! item is on either side (on a busy source a deadline always falls that close to some item). Clocks: `SystemClock` (the
//! default, futures-timer) under `futures::executor::block_on`; `TokioClock` in a tokio
//! multi-thread runtime (2 workers) and in a current-thread runtime, both through
//! `Runtime::block_on`. The goal for `SystemClock`: late by at most one slow item + 1 ms, and
//! (batch) at most one item past the deadline; the `goal` column checks it (and the rest of
//! the contract: no wrong drop, no mismatch, gap >= 10 ms, order) on every row.
//!
//! Run: `cargo bench --bench lateness --all-features` (about 65 s). The
//! `TokioClock` rows need the crate's `tokio` feature; without it (`cargo bench --bench
//! lateness`) they are skipped.

use std::cell::{Cell, RefCell};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::stream::{Stream, StreamExt};
use streamz::StreamzExt;
#[cfg(feature = "tokio")]
use streamz::TokioClock;

const RUNS: usize = 10;
const BATCH_SIZE: usize = 10_000;
const LATENCY: Duration = Duration::from_millis(10);
const PERIOD: Duration = Duration::from_millis(10);
const QUIET: Duration = Duration::from_millis(5);
const MAX_WAIT: Duration = Duration::from_millis(10);
/// Outputs received after the pace change before a run stops.
const AFTER_CHANGE: usize = 4;
/// A run stops at the first output this long after the pace change.
const SLOW_PHASE: Duration = Duration::from_millis(150);
/// The source ends (`None`) this long after its first item, in case an adapter never yields.
const GIVE_UP: Duration = Duration::from_secs(3);
/// Arrivals of one run, kept (and their capacity reused) across runs.
const ARRIVALS_CAPACITY: usize = 4 << 20;

const US: Duration = Duration::from_micros(1);
/// A wrong decision about an item that arrived this close to the deadline, by the source's
/// stamp, is counted as *near*, not *bad*: the source stamps an item before it returns it, and
/// the adapter reads the clock after it has it, so such an item is on either side.
const NEAR: Duration = Duration::from_micros(2);
const MS: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `fast` fast items, then slow items of `slow` each.
    FastThenSlow { fast: u64, slow: Duration },
    /// 1000 fast items, then 10 slow of 1 ms, over and over.
    Alternating,
    /// 50 items of 1 ms, then fast items.
    SlowThenFast,
}

impl Shape {
    #[inline]
    fn cost(self, i: u64) -> Duration {
        match self {
            Shape::FastThenSlow { fast, slow } if i >= fast => slow,
            Shape::FastThenSlow { .. } => Duration::ZERO,
            Shape::Alternating if i % 1010 >= 1000 => MS,
            Shape::Alternating => Duration::ZERO,
            Shape::SlowThenFast if i < 50 => MS,
            Shape::SlowThenFast => Duration::ZERO,
        }
    }

    /// The first item of the new pace.
    fn change(self) -> usize {
        match self {
            Shape::FastThenSlow { fast, .. } => fast as usize,
            Shape::Alternating => 1000,
            Shape::SlowThenFast => 50,
        }
    }

    fn slow(self) -> Duration {
        match self {
            Shape::FastThenSlow { slow, .. } => slow,
            Shape::Alternating | Shape::SlowThenFast => MS,
        }
    }

    fn name(self) -> String {
        match self {
            Shape::FastThenSlow { fast, .. } => format!("{fast}>slow"),
            Shape::Alternating => "alt".to_string(),
            Shape::SlowThenFast => "slow>fast".to_string(),
        }
    }
}

type Arrivals = Rc<RefCell<Vec<Instant>>>;

/// The always-ready source: item `i` costs `shape.cost(i)` of CPU, its arrival is recorded.
struct Paced {
    next: u64,
    shape: Shape,
    arrivals: Arrivals,
    gave_up: Rc<Cell<bool>>,
}

impl Stream for Paced {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<u64>> {
        let item = self.next;
        let cost = self.shape.cost(item);
        if !cost.is_zero() {
            let start = Instant::now();
            while start.elapsed() < cost {
                std::hint::spin_loop();
            }
        }
        self.next += 1;
        let mut arrivals = self.arrivals.borrow_mut();
        let now = Instant::now();
        if arrivals.first().is_some_and(|&first| now - first > GIVE_UP) {
            self.gave_up.set(true);
            return Poll::Ready(None);
        }
        arrivals.push(now);
        Poll::Ready(Some(item))
    }
}

/// When a run stops: [`AFTER_CHANGE`] outputs after the pace change, or [`SLOW_PHASE`] after it.
struct Stop {
    shape: Shape,
    arrivals: Arrivals,
}

impl Stop {
    fn done(&self, receipt: Instant, after_change: &mut usize) -> bool {
        let arrivals = self.arrivals.borrow();
        let change = self.shape.change();
        if arrivals.len() < change {
            return false;
        }
        // The new pace starts when the last item of the old pace has arrived.
        let changed = arrivals[change - 1];
        if receipt <= changed {
            return false;
        }
        *after_change += 1;
        let enough = !matches!(self.shape, Shape::Alternating) && *after_change >= AFTER_CHANGE;
        enough || receipt - changed >= SLOW_PHASE
    }
}

/// Takes outputs with `next().await` until `stop` says so (or the stream ends), each with the
/// instant it was received.
async fn collect<S: Stream>(stream: S, stop: &Stop) -> Vec<(S::Item, Instant)> {
    let mut stream = pin!(stream);
    let mut outputs = Vec::new();
    let mut after_change = 0;
    while let Some(output) = stream.next().await {
        let receipt = Instant::now();
        outputs.push((output, receipt));
        if stop.done(receipt, &mut after_change) {
            break;
        }
    }
    outputs
}

enum Driver {
    /// `SystemClock` under `futures::executor::block_on`.
    System,
    /// `TokioClock` under this runtime's `block_on`.
    #[cfg(feature = "tokio")]
    Tokio(tokio::runtime::Runtime),
}

/// Runs `$adapter` (built from the source bound to `$s`) on `$driver`'s clock and executor.
macro_rules! drive {
    ($driver:expr, $stop:expr, $source:expr, |$s:ident| $adapter:expr) => {
        match $driver {
            Driver::System => {
                let $s = $source;
                block_on(collect($adapter, $stop))
            }
            #[cfg(feature = "tokio")]
            Driver::Tokio(rt) => {
                let $s = $source;
                rt.block_on(collect(($adapter).with_clock(TokioClock), $stop))
            }
        }
    };
}

/// What one run (then one row, over its runs) measured.
#[derive(Clone, Copy, Debug)]
struct Stats {
    /// Worst and best lateness (receipt − due) over the outputs that had a due time.
    worst: Option<Duration>,
    best: Option<Duration>,
    /// Worst lateness beyond the arrival of the first item arriving at or after the due time
    /// (the item during whose production the deadline passed), when that item came before the
    /// output: what the adapter adds on top of the source's production time.
    excess: Option<Duration>,
    /// Outputs that came earlier than due: their largest earliness.
    early: Option<Duration>,
    /// Batch: items past the deadline in one batch; throttle: wrongly dropped; debounce:
    /// mismatches. Throttle and debounce: only those decided wrong by more than [`NEAR`].
    bad: usize,
    /// Throttle and debounce: the wrong decisions about an item that arrived within [`NEAR`]
    /// of the deadline.
    near: usize,
    /// How far in time the wrong decisions behind `bad` were, largest magnitude: batch: last
    /// item's arrival − deadline (signed); throttle and debounce: how far from the deadline
    /// the item put on its wrong side arrived.
    off: Option<f64>,
    /// Runs with lost, duplicated or reordered items.
    order: usize,
    /// Throttle: smallest gap between two receipts.
    gap: Option<Duration>,
    /// Longest time between two consecutive arrivals: a slow item's real production time
    /// (more than its cost when the thread was preempted).
    item: Option<Duration>,
    outputs: usize,
    gave_up: usize,
}

fn max_of(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    a.max(b)
}

fn min_of(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `t − u` in seconds, signed.
fn signed(t: Instant, u: Instant) -> f64 {
    if t >= u {
        (t - u).as_secs_f64()
    } else {
        -(u - t).as_secs_f64()
    }
}

impl Stats {
    fn new() -> Self {
        Stats {
            worst: None,
            best: None,
            excess: None,
            early: None,
            bad: 0,
            near: 0,
            off: None,
            order: 0,
            gap: None,
            item: None,
            outputs: 0,
            gave_up: 0,
        }
    }

    fn lateness(&mut self, receipt: Instant, due: Instant, arrivals: &[Instant]) {
        if receipt < due {
            self.early = max_of(self.early, Some(due - receipt));
            return;
        }
        let late = receipt - due;
        self.worst = max_of(self.worst, Some(late));
        self.best = min_of(self.best, Some(late));
        let first_after = arrivals.partition_point(|&a| a < due);
        let earliest = match arrivals.get(first_after) {
            Some(&a) if a <= receipt => a,
            _ => due,
        };
        self.excess = max_of(self.excess, Some(receipt - earliest));
    }

    /// A wrong decision about an item that arrived `margin` from the deadline, on the
    /// wrong side of it: `bad`, or `near`.
    fn wrong(&mut self, margin: Duration) {
        if margin < NEAR {
            self.near += 1;
        } else {
            self.bad += 1;
            if margin != Duration::MAX {
                self.off(margin.as_secs_f64());
            }
        }
    }

    fn off(&mut self, off: f64) {
        if self.off.map_or(true, |o| off.abs() > o.abs()) {
            self.off = Some(off);
        }
    }

    fn merge(&mut self, run: Stats) {
        self.worst = max_of(self.worst, run.worst);
        self.best = min_of(self.best, run.best);
        self.excess = max_of(self.excess, run.excess);
        self.early = max_of(self.early, run.early);
        self.bad = self.bad.max(run.bad);
        self.near = self.near.max(run.near);
        if let Some(off) = run.off {
            self.off(off);
        }
        self.order += run.order;
        self.gap = min_of(self.gap, run.gap);
        self.item = max_of(self.item, run.item);
        self.outputs += run.outputs;
        self.gave_up += run.gave_up;
    }
}

fn batch_stats(outputs: &[(Vec<u64>, Instant)], arrivals: &[Instant]) -> Stats {
    let mut stats = Stats::new();
    stats.outputs = outputs.len();
    let mut next = 0u64;
    let mut in_order = true;
    for (batch, receipt) in outputs {
        for &item in batch {
            in_order &= item == next;
            next = item + 1;
        }
        let Some(&first) = batch.first() else {
            in_order = false;
            continue;
        };
        let deadline = arrivals[first as usize] + LATENCY;
        if batch.len() < BATCH_SIZE {
            stats.lateness(*receipt, deadline, arrivals);
        }
        let past: Vec<Instant> = batch
            .iter()
            .filter_map(|&item| arrivals.get(item as usize).copied())
            .filter(|&a| a >= deadline)
            .collect();
        stats.bad = stats.bad.max(past.len());
        if let Some(&last) = past.last() {
            stats.off(signed(last, deadline));
        }
    }
    stats.order = usize::from(!in_order);
    stats
}

fn throttle_stats(outputs: &[(u64, Instant)], arrivals: &[Instant]) -> Stats {
    let mut stats = Stats::new();
    stats.outputs = outputs.len();
    if let Some(&(first, _)) = outputs.first() {
        if first != 0 {
            stats.bad += 1;
            stats.off(signed(arrivals[first as usize], arrivals[0]));
        }
    }
    for pair in outputs.windows(2) {
        let (passed, received) = pair[0];
        let (next, next_received) = pair[1];
        stats.gap = min_of(
            stats.gap,
            Some(next_received.saturating_duration_since(received)),
        );
        let end = arrivals[passed as usize] + PERIOD;
        // The first item after `passed` arriving at or after the window end.
        let after = passed as usize + 1;
        let expected = after + arrivals[after..].partition_point(|&a| a < end);
        if next as usize != expected {
            // The item the adapter put on the wrong side of the window's end: the last it
            // dropped (when it passed a later one), or the one it passed too early.
            let margin = if next as usize > expected {
                arrivals[next as usize - 1].saturating_duration_since(end)
            } else {
                end.saturating_duration_since(arrivals[next as usize])
            };
            stats.wrong(margin);
        }
        stats.lateness(next_received, end, arrivals);
    }
    stats
}

fn debounce_stats(outputs: &[(u64, Instant)], arrivals: &[Instant]) -> Stats {
    let mut stats = Stats::new();
    stats.outputs = outputs.len();
    stats.order = usize::from(outputs.windows(2).any(|w| w[0].0 >= w[1].0));
    // When the run that starts at item `start` is due to end if item `k` is its latest: at
    // the end of `k`'s quiet period or at the run's `max_wait`, whichever comes first.
    let due = |start: usize, k: usize| (arrivals[k] + QUIET).min(arrivals[start] + MAX_WAIT);
    // The reference follows the adapter's own runs: each starts at the item after the
    // previous output, as the adapter's does. (A reference that chained its own runs from
    // the arrivals alone would, after one cut that differs, pair every later output with a
    // run that started elsewhere: the last output of a run stopped by the consumer then looked
    // a quiet period early.)
    let mut start = 0;
    for &(got, receipt) in outputs {
        let got = got as usize;
        if got < start || got >= arrivals.len() {
            stats.bad += 1; // lost, duplicated or reordered: `order` counts it too
            continue;
        }
        // The first item of the run arriving at or after the run's due time: the item before
        // it is the expected output.
        let cut = (start + 1..arrivals.len()).find(|&j| arrivals[j] >= due(start, j - 1));
        let own = due(start, got);
        match cut {
            Some(j) if j - 1 == got => stats.lateness(receipt, own, arrivals),
            // No later arrival shows the cut, but nothing arrived after the output either: the
            // adapter cut the run by time (its deadline seen before it polled again).
            None if got == arrivals.len() - 1 => stats.lateness(receipt, own, arrivals),
            _ => {
                let want = cut.map_or(arrivals.len() - 1, |j| j - 1);
                // The item the adapter put on the wrong side of a due time: the cut it let
                // pass (it yielded a later item), or the one it cut at too early.
                let margin = match cut {
                    Some(j) if got > want => {
                        arrivals[j].saturating_duration_since(due(start, j - 1))
                    }
                    _ if got + 1 < arrivals.len() => {
                        due(start, got).saturating_duration_since(arrivals[got + 1])
                    }
                    _ => Duration::MAX,
                };
                stats.wrong(margin);
                // Whichever item it is, no output leaves before its own run lets it go.
                if receipt < own {
                    stats.early = max_of(stats.early, Some(own - receipt));
                }
            }
        }
        start = got + 1;
    }
    // A cut that the arrivals after the last output call for, which never came.
    if let Some(j) = (start + 1..arrivals.len()).find(|&j| arrivals[j] >= due(start, j - 1)) {
        stats.wrong(arrivals[j] - due(start, j - 1));
    }
    stats
}

#[derive(Clone, Copy)]
enum Adapter {
    Batch,
    Throttle,
    Debounce,
}

impl Adapter {
    fn name(self) -> &'static str {
        match self {
            Adapter::Batch => "batch",
            Adapter::Throttle => "throttle",
            Adapter::Debounce => "debounce",
        }
    }
}

fn run_once(adapter: Adapter, driver: &Driver, shape: Shape, arrivals: &Arrivals) -> Stats {
    arrivals.borrow_mut().clear();
    let gave_up = Rc::new(Cell::new(false));
    let source = Paced {
        next: 0,
        shape,
        arrivals: arrivals.clone(),
        gave_up: gave_up.clone(),
    };
    let stop = Stop {
        shape,
        arrivals: arrivals.clone(),
    };
    let mut stats = match adapter {
        Adapter::Batch => {
            let outputs = drive!(driver, &stop, source, |s| s.batch(BATCH_SIZE, LATENCY));
            batch_stats(&outputs, &arrivals.borrow())
        }
        Adapter::Throttle => {
            let outputs = drive!(driver, &stop, source, |s| s.throttle(PERIOD));
            throttle_stats(&outputs, &arrivals.borrow())
        }
        Adapter::Debounce => {
            let outputs = drive!(driver, &stop, source, |s| s
                .debounce(QUIET)
                .max_wait(MAX_WAIT));
            debounce_stats(&outputs, &arrivals.borrow())
        }
    };
    stats.gave_up = usize::from(gave_up.get());
    stats.item = arrivals.borrow().windows(2).map(|w| w[1] - w[0]).max();
    stats
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".to_string(), |d| format!("{:.3}", d.as_secs_f64() * 1e3))
}

/// The columns of a table row, for the header and for each row.
macro_rules! row_format {
    () => {
        "{:<8} {:<8} {:<10} {:>5} {:>6} {:>6} {:>5} {:>5} {:>3} {:>4} {:>6} {:>6} {:>3} {:>6} {:>4}"
    };
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter here.
    #[cfg_attr(not(feature = "tokio"), allow(unused_mut))]
    let mut drivers: Vec<(&str, Driver)> = vec![("system", Driver::System)];
    #[cfg(feature = "tokio")]
    {
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("a multi-thread tokio runtime");
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread tokio runtime");
        drivers.push(("tokio-mt", Driver::Tokio(multi)));
        drivers.push(("tokio-ct", Driver::Tokio(current)));
    }
    #[cfg(not(feature = "tokio"))]
    println!("(TokioClock rows skipped: run with --all-features or --features tokio)");

    let mut shapes = Vec::new();
    for fast in [50, 100, 1000, 100_000] {
        for slow in [100 * US, MS, 5 * MS] {
            shapes.push(Shape::FastThenSlow { fast, slow });
        }
    }
    shapes.push(Shape::Alternating);
    shapes.push(Shape::SlowThenFast);

    println!(
        "deadline lateness on the real clock, source busy inside its poll_next, {RUNS} runs a row:"
    );
    println!(
        "batch({BATCH_SIZE}, 10ms), throttle(10ms), debounce(5ms).max_wait(10ms); times in ms"
    );
    println!(
        "  clock   system = SystemClock under futures block_on; tokio-mt / tokio-ct = TokioClock"
    );
    println!("          in a multi-thread (2 workers) / current-thread runtime");
    println!("  shape   N>slow: N fast items, then slow ones; alt: 1000 fast, 10 slow of 1ms,");
    println!("          repeated; slow>fast: 50 slow of 1ms, then fast");
    println!("  slow    CPU cost of one slow item");
    println!("  late    worst receipt - due. batch: non-full batches, due = first arrival + 10;");
    println!(
        "          throttle: receipt of the next passed item - window end; debounce: expected"
    );
    println!("          outputs that came, due from the reference");
    println!("  excess  worst receipt - max(due, arrival of the first item at/after due)");
    println!("  best    smallest lateness; early: largest (due - receipt) of outputs before due");
    println!("  bad     worst run. batch: most items in one batch arriving at/after its deadline;");
    println!(
        "          throttle: windows whose next passed item is not the first arriving at/after"
    );
    println!("          the window end (wrongly dropped); debounce: outputs that are not their");
    println!("          run's expected item (mismatches; a run starts after each output);");
    println!("          throttle, debounce: decided wrong by more than 2 us (see near)");
    println!("  near    worst run. throttle, debounce: wrong decisions about an item that arrived");
    println!("          within 2 us of the deadline: the source stamps an item before it returns");
    println!("          it, the adapter reads the clock after, so it is on either side");
    println!("  off     largest time error behind bad. batch: last item's arrival - deadline;");
    println!("          throttle, debounce: how far from the deadline the item put on its wrong");
    println!("          side arrived");
    println!("  gap     throttle: smallest time between two receipts (must be >= 10)");
    println!("  ord     runs with lost, duplicated or reordered items (batch, debounce)");
    println!("  item    longest time between two arrivals (a slow item's real production time)");
    println!("  outs    outputs over the row's runs");
    println!("  goal    late <= slow + 1; batch bad <= 1; throttle bad = 0, gap >= 10; debounce");
    println!("          bad = 0; ord = 0; nothing early (the goal is stated for system rows)");
    println!();
    println!(
        concat!(row_format!(), "  goal"),
        "adapter",
        "clock",
        "shape",
        "slow",
        "late",
        "excess",
        "best",
        "early",
        "bad",
        "near",
        "off",
        "gap",
        "ord",
        "item",
        "outs"
    );

    let arrivals: Arrivals = Rc::new(RefCell::new(Vec::with_capacity(ARRIVALS_CAPACITY)));
    let started = Instant::now();
    for adapter in [Adapter::Batch, Adapter::Throttle, Adapter::Debounce] {
        for (clock, driver) in &drivers {
            for &shape in &shapes {
                let mut row = Stats::new();
                for _ in 0..RUNS {
                    row.merge(run_once(adapter, driver, shape, &arrivals));
                }
                let slow = shape.slow();
                let mut missed = Vec::new();
                if row.worst.map_or(true, |w| w > slow + MS) {
                    missed.push("late");
                }
                if row.early.is_some() {
                    missed.push("early");
                }
                let bad_ok = match adapter {
                    Adapter::Batch => row.bad <= 1,
                    Adapter::Throttle | Adapter::Debounce => row.bad == 0,
                };
                if !bad_ok {
                    missed.push("bad");
                }
                if matches!(adapter, Adapter::Throttle) && row.gap.map_or(true, |g| g < PERIOD) {
                    missed.push("gap");
                }
                if row.order > 0 {
                    missed.push("ord");
                }
                if row.gave_up > 0 {
                    missed.push("gave-up");
                }
                let goal = if missed.is_empty() {
                    "ok".to_string()
                } else {
                    format!("MISS {}", missed.join(","))
                };
                let order = match adapter {
                    Adapter::Throttle => "-".to_string(),
                    _ => row.order.to_string(),
                };
                let off = row
                    .off
                    .map_or("-".to_string(), |o| format!("{:+.3}", o * 1e3));
                println!(
                    concat!(row_format!(), "  {}"),
                    adapter.name(),
                    clock,
                    shape.name(),
                    format!("{}", slow.as_secs_f64() * 1e3),
                    ms(row.worst),
                    ms(row.excess),
                    ms(row.best),
                    ms(row.early),
                    row.bad,
                    row.near,
                    off,
                    ms(row.gap),
                    order,
                    ms(row.item),
                    row.outputs,
                    goal,
                );
            }
        }
    }
    println!();
    println!("total {:.1} s", started.elapsed().as_secs_f64());
}
