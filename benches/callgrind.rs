//! One contender over 1,000,000 always-ready items, for counting instructions with callgrind:
//!
//! ```sh
//! cargo bench --bench callgrind --no-run
//! valgrind --tool=callgrind target/release/deps/callgrind-* batch     # or any name below
//! ```
//!
//! The counts of `ready_chunks`, `fold` and `filter` repeat exactly. Those of the adapters do
//! not always: under valgrind a program runs tens of times slower, and an adapter whose items
//! come further apart than a few microseconds reads the clock for each of them, as it would on
//! a slow source (the engine's dense arrivals). For `batch`, runs on this machine counted 21.6M
//! instructions (items taken in runs) or 39M and more (readings for part of the items, and
//! for all of them under `--cache-sim=yes`); take the lowest of a few runs.
//!
//! Names: `ready_chunks`, `batch`, `ready_chunks_opaque`, `batch_opaque` (a source the
//! optimizer cannot see through), `ready_chunks_bursty`, `batch_bursty`, `tokio_bursty`
//! (tokio-stream's `chunks_timeout`; 10 items, then `Pending`; `tokio_hot`: always ready),
//! `batch_bursty_manual` (on
//! `ManualClock`, whose time stands still under valgrind as natively the items come densely;
//! so are `batch_manual`, `batch_opaque_manual`, `throttle_manual` and
//! `debounce_bursty_manual`),
//! `fold`, `debounce`, `filter`,
//! `throttle`; and on `ManualClock`, 10,000 items of distinct keys into
//! `batch_by(.., 1000, 20ms).with_reasons()` or `debounce_by(.., 20ms)`: taken in
//! (`batch_by_in`, `debounce_by_in`), or taken in and every key served once all deadlines
//! have passed (`batch_by_all`, `debounce_by_all`; serving costs the difference). These
//! repeat exactly: virtual time does not move under valgrind. Run without a name
//! (as `cargo bench` does), it does nothing. A second argument repeats the run that many
//! times, for a sampling profiler (`perf record -e cpu-clock`).

use std::future::ready;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use streamz::{ManualClock, StreamzExt};
use support::Bursty;

mod support;

const N: u64 = 1_000_000;

/// Runs `f` inside a current-thread tokio runtime with timers (tokio-stream's contenders).
fn in_tokio<T>(f: impl FnOnce() -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let _context = rt.enter();
    f()
}

/// Polls to the end with a no-op waker, polling again at once on `Pending`.
fn drive<S: Stream>(stream: S) -> usize {
    let mut stream = pin!(stream);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut n = 0;
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => {
                black_box(item);
                n += 1;
            }
            Poll::Ready(None) => return n,
            Poll::Pending => {}
        }
    }
}

fn main() {
    let times: usize = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let mut outputs = 0;
    for _ in 0..times {
        outputs = run(std::env::args().nth(1).as_deref());
    }
    println!("{outputs} outputs");
}

fn opaque() -> impl Stream<Item = u64> + Unpin {
    stream::iter((0..N).map(black_box::<u64>))
}

fn run(name: Option<&str>) -> usize {
    let second = Duration::from_secs(1);
    match name {
        Some("ready_chunks") => drive(stream::iter(0..N).ready_chunks(100)),
        Some("batch") => drive(stream::iter(0..N).batch(100, second)),
        Some("ready_chunks_opaque") => drive(opaque().ready_chunks(100)),
        Some("batch_opaque") => drive(opaque().batch(100, second)),
        Some("ready_chunks_bursty") => drive(Bursty::new(N, 10).ready_chunks(100)),
        Some("batch_bursty") => drive(Bursty::new(N, 10).batch(100, second)),
        Some("batch_bursty_manual") => drive(
            Bursty::new(N, 10)
                .batch(100, second)
                .with_clock(ManualClock::new()),
        ),
        Some("batch_manual") => drive(
            stream::iter(0..N)
                .batch(100, second)
                .with_clock(ManualClock::new()),
        ),
        Some("batch_opaque_manual") => {
            drive(opaque().batch(100, second).with_clock(ManualClock::new()))
        }
        Some("throttle_manual") => drive(
            stream::iter(0..N)
                .throttle(second)
                .with_clock(ManualClock::new()),
        ),
        Some("debounce_bursty_manual") => drive(
            Bursty::new(N, 10)
                .debounce(second)
                .with_clock(ManualClock::new()),
        ),
        Some("tokio_hot") => in_tokio(|| {
            drive(tokio_stream::StreamExt::chunks_timeout(
                stream::iter(0..N),
                100,
                second,
            ))
        }),
        Some("tokio_bursty") => in_tokio(|| {
            drive(tokio_stream::StreamExt::chunks_timeout(
                Bursty::new(N, 10),
                100,
                second,
            ))
        }),
        Some("fold") => drive(stream::once(stream::iter(0..N).fold(0, |_, x| ready(x)))),
        Some("debounce") => drive(stream::iter(0..N).debounce(second)),
        Some("filter") => drive(stream::iter(0..N).filter(|x| ready(*x == 0))),
        Some("throttle") => drive(stream::iter(0..N).throttle(second)),
        Some("batch_by_in") => keyed_batch(false),
        Some("batch_by_all") => keyed_batch(true),
        Some("debounce_by_in") => keyed_debounce(false),
        Some("debounce_by_all") => keyed_debounce(true),
        _ => 0,
    }
}

/// Keys for the keyed names: this many items, each of its own key.
const KEYS: u32 = 10_000;

/// Yields `(k, k)` for `k` in `0..KEYS`, then returns `Pending` for good.
fn distinct_keys() -> impl Stream<Item = (u32, u32)> + Unpin {
    stream::iter((0..KEYS).map(|k| (k, k))).chain(stream::pending())
}

/// Polls `stream` on `clock` until it waits with every item taken in (virtual time stands
/// still); then, if `serve`, moves the clock past every deadline and takes the `KEYS`
/// outputs.
fn in_then_out<S: Stream + Unpin>(mut stream: S, clock: &ManualClock, serve: bool) -> usize {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    // Each `Pending` but the last is a spent budget (512 items): 64 polls take every item in.
    for _ in 0..64 {
        if let Poll::Ready(out) = std::pin::Pin::new(&mut stream).poll_next(&mut cx) {
            unreachable!(
                "no deadline passes while the items come in: {}",
                out.is_some()
            )
        }
    }
    if !serve {
        return 0;
    }
    clock.advance(Duration::from_secs(1));
    let mut n = 0;
    while n < KEYS as usize {
        match std::pin::Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(Some(out)) => {
                black_box(out);
                n += 1;
            }
            _ => unreachable!("every deadline has passed"),
        }
    }
    n
}

/// `batch_by(.., 1000, 20ms)` with reasons, on `ManualClock`: `KEYS` items of distinct keys
/// taken in, then (`serve`) every batch yielded once all deadlines have passed.
fn keyed_batch(serve: bool) -> usize {
    let clock = ManualClock::new();
    let s = distinct_keys()
        .batch_by(|x| x.0, 1000, Duration::from_millis(20))
        .with_reasons()
        .with_clock(clock.clone());
    in_then_out(s, &clock, serve)
}

/// `debounce_by(.., 20ms)` on `ManualClock`, as `keyed_batch`.
fn keyed_debounce(serve: bool) -> usize {
    let clock = ManualClock::new();
    let s = distinct_keys()
        .debounce_by(|x| x.0, Duration::from_millis(20))
        .with_clock(clock.clone());
    in_then_out(s, &clock, serve)
}
