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
//! (tokio-stream's `chunks_timeout`; 10 items, then `Pending`), `fold`, `debounce`, `filter`,
//! `throttle`. Run without a name
//! (as `cargo bench` does), it does nothing. A second argument repeats the run that many
//! times, for a sampling profiler (`perf record -e cpu-clock`).

use std::future::ready;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use streamz::StreamzExt;
use support::Bursty;

mod support;

const N: u64 = 1_000_000;

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
        Some("tokio_bursty") => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a tokio runtime");
            let _context = rt.enter();
            drive(tokio_stream::StreamExt::chunks_timeout(
                Bursty::new(N, 10),
                100,
                second,
            ))
        }
        Some("fold") => drive(stream::once(stream::iter(0..N).fold(0, |_, x| ready(x)))),
        Some("debounce") => drive(stream::iter(0..N).debounce(second)),
        Some("filter") => drive(stream::iter(0..N).filter(|x| ready(*x == 0))),
        Some("throttle") => drive(stream::iter(0..N).throttle(second)),
        _ => 0,
    }
}
