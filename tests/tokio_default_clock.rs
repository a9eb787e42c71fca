//! With the `tokio` feature, the default clock follows tokio's paused time inside a tokio
//! runtime: every adapter, with no `with_clock`.

use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use streamz::{Edge, StreamzExt, TryStreamzExt};
use tokio::time::{timeout, Instant};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// More than any deadline below: a `timeout` that would expire if the adapter slept on the
/// real clock while tokio's stands still.
const PATIENCE: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn batch_follows_paused_time_by_default() {
    let (tx, rx) = mpsc::unbounded();
    let mut batches = rx.batch(10, Duration::from_secs(60));
    let start = Instant::now();
    tx.unbounded_send(1).unwrap();
    // Nothing else is ready: tokio moves its clock straight to the deadline.
    let next = timeout(Duration::from_secs(61), batches.next()).await;
    assert_eq!(next, Ok(Some(vec![1])));
    assert_eq!(start.elapsed(), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn try_batch_follows_paused_time_by_default() {
    let (tx, rx) = mpsc::unbounded::<Result<u8, &str>>();
    let mut batches = rx.try_batch(10, ms(100));
    let start = Instant::now();
    tx.unbounded_send(Ok(1)).unwrap();
    tx.unbounded_send(Err("e")).unwrap();
    assert_eq!(timeout(PATIENCE, batches.next()).await, Ok(Some(Err("e"))));
    assert_eq!(
        timeout(PATIENCE, batches.next()).await,
        Ok(Some(Ok(vec![1])))
    );
    assert_eq!(start.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn throttle_and_try_throttle_follow_paused_time_by_default() {
    let (tx, rx) = mpsc::unbounded();
    let mut out = rx.throttle(ms(100)).edge(Edge::Trailing);
    let start = Instant::now();
    tx.unbounded_send('a').unwrap();
    tx.unbounded_send('b').unwrap();
    assert_eq!(timeout(PATIENCE, out.next()).await, Ok(Some('b')));
    assert_eq!(start.elapsed(), ms(100));

    let (tx, rx) = mpsc::unbounded::<Result<char, ()>>();
    let mut out = rx.try_throttle(ms(100)).edge(Edge::Trailing);
    let start = Instant::now();
    tx.unbounded_send(Ok('a')).unwrap();
    assert_eq!(timeout(PATIENCE, out.next()).await, Ok(Some(Ok('a'))));
    assert_eq!(start.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn debounce_and_try_debounce_follow_paused_time_by_default() {
    let (tx, rx) = mpsc::unbounded();
    let mut out = rx.debounce(ms(50));
    let start = Instant::now();
    tx.unbounded_send(1).unwrap();
    tx.unbounded_send(2).unwrap();
    assert_eq!(timeout(PATIENCE, out.next()).await, Ok(Some(2)));
    assert_eq!(start.elapsed(), ms(50));

    let (tx, rx) = mpsc::unbounded::<Result<u8, ()>>();
    let mut out = rx.try_debounce(ms(50));
    let start = Instant::now();
    tx.unbounded_send(Ok(1)).unwrap();
    assert_eq!(timeout(PATIENCE, out.next()).await, Ok(Some(Ok(1))));
    assert_eq!(start.elapsed(), ms(50));
}

#[tokio::test(start_paused = true)]
async fn the_default_clock_waits_for_advance() {
    let (tx, rx) = mpsc::unbounded();
    let mut batches = rx.batch(10, ms(100));
    tx.unbounded_send(1).unwrap();
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(batches.poll_next_unpin(&mut cx).is_pending());
    tokio::time::advance(ms(99)).await;
    assert!(batches.poll_next_unpin(&mut cx).is_pending());
    tokio::time::advance(ms(1)).await;
    assert_eq!(batches.next().await, Some(vec![1]));
}

#[test]
fn outside_a_tokio_runtime_the_default_clock_is_real_time() {
    // futures-timer's thread fires the deadline: no runtime is needed.
    let (tx, rx) = mpsc::unbounded();
    let mut batches = rx.batch(10, ms(20));
    tx.unbounded_send(1).unwrap();
    let start = std::time::Instant::now();
    assert_eq!(futures::executor::block_on(batches.next()), Some(vec![1]));
    assert!(start.elapsed() >= ms(20));
}
