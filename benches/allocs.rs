//! Heap allocations of `batch(100, 1s)`, per emitted batch and per item.
//!
//! A counting global allocator (around `std::alloc::System`) counts calls to `alloc`,
//! `alloc_zeroed` and `realloc`, on all threads and on the measuring thread alone (timer
//! helper threads, such as `futures-timer`'s, allocate on their own threads). Each scenario
//! runs once untimed to warm process-wide state (timer threads, thread locals), then again
//! counted: over the whole run (building the adapter included) and in steady state, after the
//! first `WARM_BATCHES` batches. `futures`' `ready_chunks(100)` is the reference: one `Vec`
//! per batch. The batch peers are printed too, for comparison.
//!
//! Run: `cargo bench --bench allocs`

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use futures::task::noop_waker;
use futures_batch::ChunksTimeoutStreamExt as _;
use streamz::StreamzExt;
use support::Bursty;

mod support;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static LOCAL_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static LOCAL_REALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump(global: &AtomicU64, local: &'static std::thread::LocalKey<Cell<u64>>) {
    global.fetch_add(1, Relaxed);
    // `try_with`: a thread being torn down may still allocate.
    let _ = local.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded unchanged to `System`; the counters neither allocate nor
// touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS, &LOCAL_ALLOCS);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS, &LOCAL_ALLOCS);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&REALLOCS, &LOCAL_REALLOCS);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocation calls so far: (alloc + realloc on all threads, of which realloc,
/// alloc + realloc on this thread, of which realloc).
#[derive(Clone, Copy)]
struct Count {
    all: u64,
    all_realloc: u64,
    here: u64,
    here_realloc: u64,
}

fn count() -> Count {
    let all_realloc = REALLOCS.load(Relaxed);
    let here_realloc = LOCAL_REALLOCS.with(Cell::get);
    Count {
        all: ALLOCS.load(Relaxed) + all_realloc,
        all_realloc,
        here: LOCAL_ALLOCS.with(Cell::get) + here_realloc,
        here_realloc,
    }
}

impl std::ops::Sub for Count {
    type Output = Count;
    fn sub(self, o: Count) -> Count {
        Count {
            all: self.all - o.all,
            all_realloc: self.all_realloc - o.all_realloc,
            here: self.here - o.here,
            here_realloc: self.here_realloc - o.here_realloc,
        }
    }
}

const N: u64 = 100_000;
const BATCH: usize = 100;
const SECOND: Duration = Duration::from_secs(1);
const WARM_BATCHES: u64 = 10;

struct Report {
    whole: Count,
    batches: u64,
    steady: Count,
    steady_batches: u64,
    steady_items: u64,
}

/// Builds the stream with `make` and drains it with a no-op waker (polling again at once on
/// `Pending`), counting allocations.
fn run<S: Stream<Item = Vec<u64>>>(make: impl FnOnce() -> S) -> Report {
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let start = count();
    let mut stream = pin!(make());
    let (mut batches, mut items) = (0u64, 0u64);
    let mut steady_start = None;
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(batch)) => {
                batches += 1;
                items += batch.len() as u64;
                drop(batch);
                if batches == WARM_BATCHES {
                    steady_start = Some((count(), batches, items));
                }
            }
            Poll::Ready(None) => break,
            Poll::Pending => {}
        }
    }
    let end = count();
    assert_eq!(items, N, "every item is batched");
    let (steady_count, steady_b, steady_i) = steady_start.expect("more than WARM_BATCHES batches");
    Report {
        whole: end - start,
        batches,
        steady: end - steady_count,
        steady_batches: batches - steady_b,
        steady_items: items - steady_i,
    }
}

fn print(name: &str, r: &Report) {
    let per = |n: u64, d: u64| n as f64 / d as f64;
    println!("{name}");
    println!(
        concat!(
            "  whole run:    {} batches; this thread {} allocation calls ({} realloc), ",
            "all threads {} ({} realloc)"
        ),
        r.batches, r.whole.here, r.whole.here_realloc, r.whole.all, r.whole.all_realloc
    );
    println!(
        concat!(
            "  steady state: {} batches, {} items; this thread {} calls ({} realloc), ",
            "all threads {} ({} realloc)"
        ),
        r.steady_batches,
        r.steady_items,
        r.steady.here,
        r.steady.here_realloc,
        r.steady.all,
        r.steady.all_realloc
    );
    println!(
        concat!(
            "  steady state: {:.3} allocations per batch, {:.5} per item (this thread); ",
            "{:.3} per batch, {:.5} per item (all threads)"
        ),
        per(r.steady.here, r.steady_batches),
        per(r.steady.here, r.steady_items),
        per(r.steady.all, r.steady_batches),
        per(r.steady.all, r.steady_items),
    );
}

/// tokio-stream's `chunks_timeout(BATCH, SECOND)`.
fn tokio_chunks<S: Stream>(stream: S) -> impl Stream<Item = Vec<S::Item>> {
    tokio_stream::StreamExt::chunks_timeout(stream, BATCH, SECOND)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread tokio runtime");
    // tokio-stream's `chunks_timeout` creates a tokio `Sleep`: run it inside the runtime.
    let in_tokio = |f: &dyn Fn() -> Report| rt.block_on(tokio::task::unconstrained(async { f() }));

    type Scenario<'a> = (&'a str, Box<dyn Fn() -> Report + 'a>);
    let scenarios: Vec<Scenario<'_>> = vec![
        (
            "hot: streamz stream::iter(0..100_000).batch(100, 1s)",
            Box::new(|| run(|| stream::iter(0..N).batch(BATCH, SECOND))),
        ),
        (
            "hot: futures ready_chunks(100) (reference)",
            Box::new(|| run(|| stream::iter(0..N).ready_chunks(BATCH))),
        ),
        (
            "hot: tokio-stream chunks_timeout(100, 1s) (peer)",
            Box::new(|| in_tokio(&|| run(|| tokio_chunks(stream::iter(0..N))))),
        ),
        (
            "hot: futures-batch chunks_timeout(100, 1s) (peer)",
            Box::new(|| run(|| stream::iter(0..N).chunks_timeout(BATCH, SECOND))),
        ),
        (
            "bursty (Pending every 10 items): streamz batch(100, 1s)",
            Box::new(|| run(|| Bursty::new(N, 10).batch(BATCH, SECOND))),
        ),
        (
            concat!(
                "bursty (Pending every 10 items): futures ready_chunks(100) ",
                "(reference; yields 10-item chunks)"
            ),
            Box::new(|| run(|| Bursty::new(N, 10).ready_chunks(BATCH))),
        ),
        (
            "bursty (Pending every 10 items): tokio-stream chunks_timeout(100, 1s) (peer)",
            Box::new(|| in_tokio(&|| run(|| tokio_chunks(Bursty::new(N, 10))))),
        ),
        (
            "bursty (Pending every 10 items): futures-batch chunks_timeout(100, 1s) (peer)",
            Box::new(|| run(|| Bursty::new(N, 10).chunks_timeout(BATCH, SECOND))),
        ),
    ];

    for (name, scenario) in &scenarios {
        let _warm_up = scenario();
        print(name, &scenario());
    }
}
