//! The latency bound on a busy source, on the real clock.
//!
//! An always-ready source spends 1 ms of CPU on each item (a busy spin on `Instant::now`, no
//! sleep) and feeds `batch(1000, 10ms)` or a peer's `chunks_timeout(1000, 10ms)`. For each
//! contender this prints how long after the first item was produced the first batch arrived,
//! and how many items it holds. A batcher that honours its bound yields after about 10 ms with
//! about 10 items; one that looks at its timer only when the source goes idle waits for 1000
//! items, about one second. Only the first batch is taken, then the stream is dropped.
//!
//! Run: `cargo bench --bench latency`

use std::cell::Cell;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::stream::{Stream, StreamExt};
use futures_batch::ChunksTimeoutStreamExt as _;
use streamz::StreamzExt;

const MAX_SIZE: usize = 1000;
const MAX_LATENCY: Duration = Duration::from_millis(10);
const WORK_PER_ITEM: Duration = Duration::from_millis(1);
const RUNS: usize = 3;

/// Always ready; every item costs `WORK_PER_ITEM` of CPU. Records when item 0 was produced.
struct Busy {
    next: u64,
    first_produced: Rc<Cell<Option<Instant>>>,
}

impl Stream for Busy {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<u64>> {
        let start = Instant::now();
        while start.elapsed() < WORK_PER_ITEM {
            std::hint::spin_loop();
        }
        let item = self.next;
        if item == 0 {
            self.first_produced.set(Some(Instant::now()));
        }
        self.next += 1;
        Poll::Ready(Some(item))
    }
}

fn busy() -> (Busy, Rc<Cell<Option<Instant>>>) {
    let first_produced = Rc::new(Cell::new(None));
    let source = Busy {
        next: 0,
        first_produced: first_produced.clone(),
    };
    (source, first_produced)
}

/// Time from item 0's production to the first batch's arrival, and that batch's length.
fn measure(first_batch: impl FnOnce(Busy) -> Option<Vec<u64>>) -> (Duration, usize) {
    let (source, first_produced) = busy();
    let batch = first_batch(source).expect("an endless source yields a first batch");
    let arrived = Instant::now();
    let produced = first_produced.get().expect("item 0 was produced");
    assert_eq!(batch.first(), Some(&0));
    (arrived - produced, batch.len())
}

/// The first item of `stream` (pinned on the future's stack, so `!Unpin` streams work too).
async fn first<S: Stream>(stream: S) -> Option<S::Item> {
    let mut stream = pin!(stream);
    stream.next().await
}

type Contender = (&'static str, Box<dyn Fn() -> (Duration, usize)>);

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter here.
    let rt = Rc::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread tokio runtime"),
    );
    let rt2 = rt.clone();

    let contenders: Vec<Contender> = vec![
        (
            "streamz batch (futures block_on)",
            Box::new(|| measure(|s| block_on(first(s.batch(MAX_SIZE, MAX_LATENCY))))),
        ),
        (
            "streamz batch (tokio current_thread)",
            Box::new(move || measure(|s| rt.block_on(first(s.batch(MAX_SIZE, MAX_LATENCY))))),
        ),
        (
            "tokio-stream chunks_timeout (tokio)",
            Box::new(move || {
                measure(|s| {
                    rt2.block_on(first(tokio_stream::StreamExt::chunks_timeout(
                        s,
                        MAX_SIZE,
                        MAX_LATENCY,
                    )))
                })
            }),
        ),
        (
            "futures-batch chunks_timeout (block_on)",
            Box::new(|| measure(|s| block_on(first(s.chunks_timeout(MAX_SIZE, MAX_LATENCY))))),
        ),
    ];

    println!(
        "first batch of an always-ready source (1 ms CPU per item) through \
         batch({MAX_SIZE}, {}ms), real clock",
        MAX_LATENCY.as_millis()
    );
    println!(
        "{:<42} {:>4} {:>22} {:>15} {:>14}",
        "contender", "run", "first batch after (ms)", "items in it", "late by (ms)"
    );
    for (name, run) in &contenders {
        for i in 1..=RUNS {
            let (after, len) = run();
            let ms = after.as_secs_f64() * 1e3;
            let late = ms - MAX_LATENCY.as_secs_f64() * 1e3;
            println!("{name:<42} {i:>4} {ms:>22.2} {len:>15} {late:>14.2}");
        }
    }
}
