//! `TokioClock`: the adapters obey tokio's paused time.

mod support;

use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use streamz::{Edge, StreamzExt, TokioClock, TryStreamzExt};
use support::ms;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn batch_deadline_follows_paused_time() {
    let (tx, rx) = mpsc::unbounded();
    let mut batches = rx.batch(10, ms(100)).with_clock(TokioClock);
    let start = Instant::now();
    tx.unbounded_send(1).unwrap();
    tx.unbounded_send(2).unwrap();
    // Nothing else is ready: tokio moves its clock straight to the deadline.
    assert_eq!(batches.next().await, Some(vec![1, 2]));
    assert_eq!(start.elapsed(), ms(100));
}

#[tokio::test(start_paused = true)]
async fn batch_waits_for_advance() {
    let (tx, rx) = mpsc::unbounded();
    let mut batches = rx.batch(10, ms(100)).with_clock(TokioClock);
    tx.unbounded_send(1).unwrap();
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(batches.poll_next_unpin(&mut cx).is_pending());
    tokio::time::advance(ms(99)).await;
    assert!(batches.poll_next_unpin(&mut cx).is_pending());
    tokio::time::advance(ms(1)).await;
    assert_eq!(batches.next().await, Some(vec![1]));
}

#[tokio::test(start_paused = true)]
async fn throttle_trailing_follows_paused_time() {
    let (tx, rx) = mpsc::unbounded();
    let mut out = rx.throttle(ms(100)).edge(Edge::Both).with_clock(TokioClock);
    let start = Instant::now();
    for c in ['a', 'b', 'c'] {
        tx.unbounded_send(c).unwrap();
    }
    assert_eq!(out.next().await, Some('a'));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(out.next().await, Some('c'));
    assert_eq!(start.elapsed(), ms(100));
    drop(tx);
    assert_eq!(out.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn debounce_follows_paused_time() {
    let (tx, rx) = mpsc::unbounded();
    let mut out = rx.debounce(ms(50)).max_wait(ms(120)).with_clock(TokioClock);
    let start = Instant::now();
    let feeder = tokio::spawn(async move {
        // An item every 30 ms: only max_wait gets one out while they keep coming. Item 4 is
        // sent at 120 ms, the very instant of the deadline: timer first, it is not taken.
        for i in 0..10 {
            tx.unbounded_send(i).unwrap();
            tokio::time::sleep(ms(30)).await;
        }
    });
    assert_eq!(out.next().await, Some(3));
    assert_eq!(start.elapsed(), ms(120));
    feeder.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn try_adapters_follow_paused_time() {
    let (tx, rx) = mpsc::unbounded::<Result<u8, &str>>();
    let mut out = rx.try_batch(10, ms(100)).with_clock(TokioClock);
    let start = Instant::now();
    tx.unbounded_send(Ok(1)).unwrap();
    tx.unbounded_send(Err("e")).unwrap();
    assert_eq!(out.next().await, Some(Err("e")));
    assert_eq!(out.next().await, Some(Ok(vec![1])));
    assert_eq!(start.elapsed(), ms(100));
}
