//! Real-clock smoke tests: the adapters run on any executor, because `SystemClock` needs no
//! runtime. These check content and order only; the timing margins are wide on purpose.

use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use streamz::{StreamzExt, TryStreamzExt};

const LATENCY: Duration = Duration::from_millis(20);
/// A generous bound for "the deadline woke the task": far beyond `LATENCY`.
const PATIENCE: Duration = Duration::from_secs(30);

/// Sends three items and keeps the channel open, so only the deadline can yield the batch;
/// then sends one more and closes it.
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
}

#[test]
fn runs_on_futures_executor() {
    futures::executor::block_on(deadline_and_end());
}

#[test]
fn runs_on_tokio_current_thread() {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(deadline_and_end());
}

#[test]
fn runs_on_tokio_multi_thread() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(async { tokio::spawn(deadline_and_end()).await })
        .unwrap();
}

#[test]
fn runs_on_smol() {
    smol::block_on(deadline_and_end());
}
