//! Real-clock smoke tests: the adapters run on any executor, because `SystemClock` needs no
//! runtime. These check content and order only; the timing margins are wide on purpose.

use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use streamz::{Edge, StreamzExt, TryStreamzExt};

const LATENCY: Duration = Duration::from_millis(20);
/// A generous bound for "the deadline woke the task": far beyond `LATENCY`.
const PATIENCE: Duration = Duration::from_secs(30);

/// Every adapter, on whatever executor runs this: items are sent while the channel stays open,
/// so only a deadline (a timer) can release what the adapter holds; then the channel closes.
async fn deadline_and_end() {
    let (tx, rx) = mpsc::unbounded();
    let mut batches = rx.batch(100, LATENCY);
    for i in 1..=3 {
        tx.unbounded_send(i).unwrap();
    }
    let first = futures::future::select(batches.next(), futures_timer::Delay::new(PATIENCE)).await;
    match first {
        futures::future::Either::Left((batch, _)) => assert_eq!(batch, Some(vec![1, 2, 3])),
        futures::future::Either::Right(_) => panic!("the deadline never woke the task"),
    }
    tx.unbounded_send(4).unwrap();
    drop(tx);
    assert_eq!(batches.next().await, Some(vec![4]));
    assert_eq!(batches.next().await, None);

    let out: Vec<Result<Vec<u32>, &str>> = futures::stream::iter(vec![Ok(1), Err("e"), Ok(2)])
        .try_batch(10, LATENCY)
        .collect()
        .await;
    assert_eq!(out, vec![Err("e"), Ok(vec![1, 2])]);

    // A trailing throttle and a debounce hold an item that only their timer can release.
    let (tx, rx) = mpsc::unbounded();
    let mut throttled = rx.throttle(LATENCY).edge(Edge::Both);
    tx.unbounded_send('a').unwrap();
    tx.unbounded_send('b').unwrap();
    assert_eq!(throttled.next().await, Some('a'));
    assert_eq!(within_patience(throttled.next()).await, Some('b'));
    drop(tx);
    assert_eq!(throttled.next().await, None);

    let (tx, rx) = mpsc::unbounded();
    let mut debounced = rx.debounce(LATENCY);
    for c in ['a', 'b', 'c'] {
        tx.unbounded_send(c).unwrap();
    }
    assert_eq!(within_patience(debounced.next()).await, Some('c'));
    tx.unbounded_send('d').unwrap();
    drop(tx);
    assert_eq!(debounced.next().await, Some('d'));
    assert_eq!(debounced.next().await, None);

    let out: Vec<Result<char, &str>> = futures::stream::iter(vec![Ok('a'), Err("e"), Ok('b')])
        .try_debounce(LATENCY)
        .collect()
        .await;
    assert_eq!(out, vec![Err("e"), Ok('b')]);
    let out: Vec<Result<char, &str>> = futures::stream::iter(vec![Ok('a'), Err("e"), Ok('b')])
        .try_throttle(LATENCY)
        .collect()
        .await;
    assert_eq!(out, vec![Ok('a'), Err("e")]);
}

/// Awaits `next`, failing the test if only a deadline could wake it and none did.
async fn within_patience<T>(next: impl std::future::Future<Output = T> + Unpin) -> T {
    match futures::future::select(next, futures_timer::Delay::new(PATIENCE)).await {
        futures::future::Either::Left((value, _)) => value,
        futures::future::Either::Right(_) => panic!("the deadline never woke the task"),
    }
}

#[test]
fn runs_on_futures_block_on() {
    futures::executor::block_on(deadline_and_end());
}

#[test]
fn runs_on_futures_local_pool() {
    let mut pool = futures::executor::LocalPool::new();
    futures::task::LocalSpawnExt::spawn_local(&pool.spawner(), deadline_and_end()).unwrap();
    pool.run();
}

#[test]
fn runs_on_tokio_current_thread() {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(deadline_and_end());
}

#[test]
fn runs_on_tokio_multi_thread() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
        .block_on(async { tokio::spawn(deadline_and_end()).await })
        .unwrap();
}

/// Without the `tokio` feature, the default clock's timers are futures-timer's, and a tokio
/// runtime needs no time driver for them. (With the feature, the default clock uses tokio's
/// timers inside a tokio runtime, which then needs one, as tokio's own timers do.)
#[cfg(not(feature = "tokio"))]
#[test]
fn runs_on_tokio_without_its_time_driver() {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(deadline_and_end());
}

#[test]
fn runs_on_smol() {
    smol::block_on(deadline_and_end());
}
