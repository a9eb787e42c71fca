//! streamz against the limit and the peers, one criterion group per scenario.
//!
//! Every contender in a group runs on the same source and the same driver: [`drive`], a
//! hand-rolled poll loop with a no-op waker that polls again at once whenever the stream
//! returns `Pending`. It adds no executor bookkeeping, so the numbers are the adapters' own
//! cost per item. Contenders that need a tokio runtime (`tokio-stream`'s `chunks_timeout`
//! creates a `tokio::time::Sleep`) run the very same loop inside `rt.block_on`, on a
//! current-thread runtime built once, outside the measured closure, and wrapped in
//! `tokio::task::unconstrained` so that tokio's cooperative budget (which the loop never
//! returns to the runtime to refill) does not change what `Sleep::poll` does.
//!
//! Timed adapters use the default clock (the real one), which is what users get. The
//! deadlines (1 s) are far longer than one iteration, so no timer fires while measuring.
//!
//! Criterion reports time per iteration and, through `Throughput::Elements(N)`, items per
//! second; the ratios that matter are between contenders of the same group in the same run.
//!
//! Each scenario's source is plain (`stream::iter(0..N)`, or the bursty source of
//! `support`): the compiler sees through it, and where an adapter only drops or keeps items
//! (a throttle's open window, a debounce's quiet period) it may reduce a run of items to
//! little more than advancing the source. The `_opaque` groups repeat the scenarios with each
//! item passed through [`black_box`] as it is produced, as a source the
//! compiler cannot see through would (a channel, a socket): there every contender pays for
//! every item.
//!
//! Run: `cargo bench --bench peers`

use std::future::ready;
use std::hint::black_box;
use std::pin::Pin;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use futures::stream::{self, Stream, StreamExt};
use streamz::StreamzExt;
use support::{drive, never, Bursty};

mod support;

/// Items per iteration.
const N: u64 = 100_000;
/// The batch size of every batching contender.
const BATCH: usize = 100;
/// Every timed adapter's period: long enough never to fire during an iteration.
const SECOND: Duration = Duration::from_secs(1);

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread tokio runtime")
}

/// Runs `f` (which calls [`drive`]) inside the tokio runtime, without cooperative budgeting.
fn in_tokio<R>(rt: &tokio::runtime::Runtime, f: impl FnOnce() -> R) -> R {
    rt.block_on(tokio::task::unconstrained(async move { f() }))
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .throughput(Throughput::Elements(N))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group
}

/// Sum of batch lengths: each batching contender must account for every item.
fn count_batched<S: Stream<Item = Vec<u64>>>(batches: S, drained: impl Fn() -> bool) -> usize {
    let mut items = 0;
    drive(batches, drained, |batch| items += black_box(batch).len());
    items
}

/// The batch contenders of `batch_hot` and `batch_bursty`; `source` builds a fresh source.
fn batch_group<S, F>(c: &mut Criterion, name: &str, source: F)
where
    S: Stream<Item = u64> + Unpin,
    F: Fn() -> S + Copy,
{
    use futures_batch::ChunksTimeoutStreamExt as _;

    let rt = tokio_runtime();
    // Not measured: every contender yields all N items.
    assert_eq!(
        count_batched(source().batch(BATCH, SECOND), never),
        N as usize
    );
    assert_eq!(
        count_batched(source().ready_chunks(BATCH), never),
        N as usize
    );
    assert_eq!(
        in_tokio(&rt, || count_batched(
            tokio_stream::StreamExt::chunks_timeout(source(), BATCH, SECOND),
            never
        )),
        N as usize
    );
    assert_eq!(
        count_batched(source().chunks_timeout(BATCH, SECOND), never),
        N as usize
    );

    let mut group = configure(c, name);
    group.bench_function("streamz batch(100, 1s)", |b| {
        b.iter(|| count_batched(source().batch(BATCH, SECOND), never))
    });
    group.bench_function("limit: futures ready_chunks(100)", |b| {
        b.iter(|| count_batched(source().ready_chunks(BATCH), never))
    });
    group.bench_function("peer: tokio-stream chunks_timeout(100, 1s)", |b| {
        b.iter(|| {
            in_tokio(&rt, || {
                count_batched(
                    tokio_stream::StreamExt::chunks_timeout(source(), BATCH, SECOND),
                    never,
                )
            })
        })
    });
    group.bench_function("peer: futures-batch chunks_timeout(100, 1s)", |b| {
        b.iter(|| count_batched(source().chunks_timeout(BATCH, SECOND), never))
    });
    group.finish();
}

/// (a) An always-ready source.
fn batch_hot(c: &mut Criterion) {
    batch_group(c, "batch_hot", || stream::iter(0..N));
}

/// (b) A source that returns `Pending` (self-waking) every 10 items.
fn batch_bursty(c: &mut Criterion) {
    batch_group(c, "batch_bursty", || Bursty::new(N, 10));
}

/// (a) again, with every item passed through `black_box` as it is produced: the compiler can
/// no longer see through the source; see the head of this file.
fn batch_hot_opaque(c: &mut Criterion) {
    batch_group(c, "batch_hot_opaque", || {
        stream::iter((0..N).map(black_box::<u64>))
    });
}

/// (c) A source that returns `Pending` (self-waking) every 1000 items, debounced by 1 s.
///
/// On its end streamz yields the pending item at once; `debounced` first waits out the quiet
/// period (1 s). So that the measure is the cost of taking in N items and not that final
/// second, the driver stops every contender at the first `Pending` after the source ended
/// ([`drive`]'s `drained`); streamz has yielded its one item by then, `debounced` has not.
///
/// `debounced` sleeps with `futures-timer`, so it needs no tokio runtime.
///
/// Not measured: `futures-time`'s `debounce`. It takes one item per `poll_next` and then
/// returns `Pending` on its timer, which it has just reset, without waking the task; an
/// executor that polls only when woken therefore spends about one quiet period per item
/// (on `futures::executor::block_on`, `debounce(50ms)` over `stream::iter(0..5)` took 200 ms),
/// so about 100 000 s per iteration here. This busy driver would poll again regardless and
/// hide that, so a number from it would be misleading.
fn debounce_bursty(c: &mut Criterion) {
    debounce_group(c, "debounce_bursty", |source| source);
}

/// (c) again, with every item passed through `black_box` as it is produced; see the head of
/// this file.
fn debounce_bursty_opaque(c: &mut Criterion) {
    debounce_group(c, "debounce_bursty_opaque", |source| {
        source.map(black_box::<u64>)
    });
}

/// The debounce contenders of `debounce_bursty` and its opaque variant; `wrap` turns the
/// bursty source into the source of the group.
fn debounce_group<S, W>(c: &mut Criterion, name: &str, wrap: W)
where
    S: Stream<Item = u64> + Unpin + 'static,
    W: Fn(Bursty) -> S + Copy,
{
    let source = || {
        let source = Bursty::new(N, 1000);
        let drained = source.drained.clone();
        (wrap(source), move || drained.get())
    };
    let last = |stream: Pin<Box<dyn Stream<Item = u64>>>, drained: &dyn Fn() -> bool| {
        let mut last = None;
        drive(stream, drained, |item| last = Some(black_box(item)));
        last
    };

    // Not measured: what each contender yields within the measured span.
    let (s, drained) = source();
    assert_eq!(last(Box::pin(s.debounce(SECOND)), &drained), Some(N - 1));
    let (s, drained) = source();
    assert_eq!(last(Box::pin(s), &drained), Some(N - 1));
    let (s, drained) = source();
    assert_eq!(
        last(Box::pin(debounced::debounced(s, SECOND)), &drained),
        None
    );

    let mut group = configure(c, name);
    group.bench_function("streamz debounce(1s)", |b| {
        b.iter(|| {
            let (s, drained) = source();
            let mut last = None;
            drive(s.debounce(SECOND), drained, |item| {
                last = Some(black_box(item))
            });
            last
        })
    });
    group.bench_function("limit: keep the last item", |b| {
        b.iter(|| {
            let (s, drained) = source();
            let mut last = None;
            drive(s, drained, |item| last = Some(black_box(item)));
            last
        })
    });
    group.bench_function("peer: debounced(1s)", |b| {
        b.iter(|| {
            let (s, drained) = source();
            let mut last = None;
            drive(debounced::debounced(s, SECOND), drained, |item| {
                last = Some(black_box(item))
            });
            last
        })
    });
    group.finish();
}

/// (d) An always-ready source throttled to one item per second: only item 0 passes.
fn throttle_hot(c: &mut Criterion) {
    throttle_group(c, "throttle_hot", || stream::iter(0..N));
}

/// (d) again, with every item passed through `black_box` as it is produced; see the head of
/// this file.
fn throttle_hot_opaque(c: &mut Criterion) {
    throttle_group(c, "throttle_hot_opaque", || {
        stream::iter((0..N).map(black_box::<u64>))
    });
}

/// The throttle contenders of `throttle_hot` and its opaque variant.
fn throttle_group<S, F>(c: &mut Criterion, name: &str, source: F)
where
    S: Stream<Item = u64> + Unpin + 'static,
    F: Fn() -> S + Copy,
{
    let ft_second = futures_time::time::Duration::from(SECOND);
    let passed = |stream: Pin<Box<dyn Stream<Item = u64>>>| {
        let mut passed = Vec::new();
        drive(stream, never, |item| passed.push(item));
        passed
    };
    let first_only = || {
        let mut first = true;
        move |_: &u64| ready(std::mem::replace(&mut first, false))
    };

    // Not measured: each contender lets exactly item 0 through.
    assert_eq!(passed(Box::pin(source().throttle(SECOND))), [0]);
    assert_eq!(passed(Box::pin(source().filter(first_only()))), [0]);
    assert_eq!(
        passed(Box::pin(futures_time::stream::StreamExt::throttle(
            source(),
            ft_second
        ))),
        [0]
    );

    let mut group = configure(c, name);
    group.bench_function("streamz throttle(1s)", |b| {
        b.iter(|| {
            let mut passed = 0;
            drive(source().throttle(SECOND), never, |item| {
                passed += 1 + black_box(item)
            });
            passed
        })
    });
    group.bench_function("limit: filter passing the first item", |b| {
        b.iter(|| {
            let mut passed = 0;
            drive(source().filter(first_only()), never, |item| {
                passed += 1 + black_box(item)
            });
            passed
        })
    });
    group.bench_function("peer: futures-time throttle(1s)", |b| {
        b.iter(|| {
            let mut passed = 0;
            drive(
                futures_time::stream::StreamExt::throttle(source(), ft_second),
                never,
                |item| passed += 1 + black_box(item),
            );
            passed
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    batch_hot,
    batch_bursty,
    debounce_bursty,
    throttle_hot,
    batch_hot_opaque,
    debounce_bursty_opaque,
    throttle_hot_opaque
);
criterion_main!(benches);
