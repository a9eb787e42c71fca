//! A timer-heavy batch: almost every batch leaves by its deadline.
//!
//! The source yields 3 items, then pauses: it spends [`PAUSE`] of CPU inside its `poll_next`
//! and returns `Pending` after waking its task, over and over. With `batch(1000, 100µs)` a
//! batch never fills; it leaves when its deadline is seen, after a few dozen items. So the
//! cost of an adapter is mostly its cost per deadline: setting it (a clock reading), arming
//! the timer, seeing it fire.
//!
//! For each contender this prints the batches, their mean size and how long after its
//! deadline (first item's arrival + 100 µs, as the source timed it) each batch came out, and
//! the cost: wall time minus the time the source spent in its pauses, per batch and per item.
//! Contenders: streamz on its default clock (futures-timer) under `futures::executor`, streamz
//! on `TokioClock` and tokio-stream's `chunks_timeout` in a tokio current-thread runtime
//! (tokio's timers have a 1 ms granularity, so its batches last longer). It also times the
//! pieces a deadline costs on the default clock: a reading, and re-arming a futures-timer.
//!
//! Run: `cargo bench --bench timer_heavy --all-features` (a few seconds).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{Stream, StreamExt};
use streamz::StreamzExt;

const MAX_SIZE: usize = 1000;
const LATENCY: Duration = Duration::from_micros(100);
const PAUSE: Duration = Duration::from_micros(5);
const BURST: u64 = 3;
const ITEMS: u64 = 150_000;
const RUNS: usize = 3;

/// What the source measured: each item's arrival, and the time spent in pauses.
#[derive(Default)]
struct Log {
    arrivals: RefCell<Vec<Instant>>,
    paused: Cell<Duration>,
}

/// [`BURST`] items, then a pause of [`PAUSE`] (busy, inside `poll_next`) that ends in
/// `Pending` with a self-wake; [`ITEMS`] items in all.
struct Source {
    next: u64,
    log: Rc<Log>,
}

impl Stream for Source {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        if self.next == ITEMS {
            return Poll::Ready(None);
        }
        let in_burst = self.log.arrivals.borrow().len() as u64 % (BURST + 1);
        if in_burst == BURST {
            let start = Instant::now();
            while start.elapsed() < PAUSE {
                std::hint::spin_loop();
            }
            self.log.paused.set(self.log.paused.get() + start.elapsed());
            // A pause is logged as an arrival-less slot, so the burst count restarts.
            self.log.arrivals.borrow_mut().push(start);
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let item = self.next;
        self.next += 1;
        self.log.arrivals.borrow_mut().push(Instant::now());
        Poll::Ready(Some(item))
    }
}

fn source() -> (Source, Rc<Log>) {
    let log = Rc::new(Log::default());
    let source = Source {
        next: 0,
        log: log.clone(),
    };
    (source, log)
}

/// The arrival of item `i` in a log where every pause also took a slot.
fn arrival(log: &Log, i: u64) -> Instant {
    log.arrivals.borrow()[(i + i / BURST) as usize]
}

struct Report {
    batches: usize,
    items: usize,
    cost: Duration,
    late_mean: Duration,
    late_max: Duration,
}

/// Drains `batches`, timing each batch's receipt against its deadline.
async fn measure<S: Stream<Item = Vec<u64>> + Unpin>(mut batches: S, log: Rc<Log>) -> Report {
    let start = Instant::now();
    let (mut n, mut items) = (0, 0);
    let (mut late_sum, mut late_max) = (Duration::ZERO, Duration::ZERO);
    while let Some(batch) = batches.next().await {
        let received = Instant::now();
        n += 1;
        items += batch.len();
        if batch.len() < MAX_SIZE && batch[batch.len() - 1] + 1 < ITEMS {
            let late = received.saturating_duration_since(arrival(&log, batch[0]) + LATENCY);
            late_sum += late;
            late_max = late_max.max(late);
        }
    }
    let wall = start.elapsed();
    Report {
        batches: n,
        items,
        cost: wall.saturating_sub(log.paused.get()),
        late_mean: late_sum / n.max(1) as u32,
        late_max,
    }
}

fn print(name: &str, r: &Report) {
    assert_eq!(r.items as u64, ITEMS, "{name}: items lost");
    println!(
        "{name:<40} {:>8} {:>8.1} {:>10.1} {:>10.1} {:>10.1} {:>9.1}",
        r.batches,
        r.items as f64 / r.batches as f64,
        r.late_mean.as_secs_f64() * 1e6,
        r.late_max.as_secs_f64() * 1e6,
        r.cost.as_nanos() as f64 / r.batches as f64,
        r.cost.as_nanos() as f64 / r.items as f64,
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--test" || arg == "--list") {
        return;
    }
    println!(
        "batch({MAX_SIZE}, {LATENCY:?}) over {ITEMS} items, {BURST} per pause of {PAUSE:?}; \
         {RUNS} runs each"
    );
    println!(
        "{:<40} {:>8} {:>8} {:>10} {:>10} {:>10} {:>9}",
        "contender", "batches", "size", "late µs", "late max", "ns/batch", "ns/item"
    );
    for _ in 0..RUNS {
        let (s, log) = source();
        let r = futures::executor::block_on(measure(s.batch(MAX_SIZE, LATENCY), log));
        print("streamz batch, SystemClock", &r);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    #[cfg(feature = "tokio")]
    for _ in 0..RUNS {
        let (s, log) = source();
        let batches = s.batch(MAX_SIZE, LATENCY).with_clock(streamz::TokioClock);
        let r = rt.block_on(measure(batches, log));
        print("streamz batch, TokioClock", &r);
    }
    for _ in 0..RUNS {
        let (s, log) = source();
        let batches = Box::pin(tokio_stream::StreamExt::chunks_timeout(
            s, MAX_SIZE, LATENCY,
        ));
        let r = rt.block_on(measure(batches, log));
        print("tokio-stream chunks_timeout", &r);
    }

    // The pieces of a deadline on the default clock.
    const N: u32 = 100_000;
    let start = Instant::now();
    for _ in 0..N {
        std::hint::black_box(Instant::now());
    }
    let reading = start.elapsed() / N;
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut delay = futures_timer::Delay::new(Duration::from_secs(100));
    let _ = Pin::new(&mut delay).poll(&mut cx);
    let start = Instant::now();
    for i in 0..N {
        delay.reset(Duration::from_secs(100 + u64::from(i % 7)));
        let _ = Pin::new(&mut delay).poll(&mut cx);
    }
    let rearm = start.elapsed() / N;
    println!(
        "a clock reading: {reading:?}; re-arming a futures-timer Delay (and polling it): {rearm:?}"
    );
}
