//! [`StreamzExt`] and [`TryStreamzExt`]: the methods that build every adapter.

use std::time::Duration;

use futures_core::stream::{Stream, TryStream};

use crate::batch::{Batch, TryBatch};

/// Time-aware adapters for every [`Stream`].
///
/// Every adapter uses [`SystemClock`](crate::SystemClock) until `.with_clock(clock)` swaps it,
/// for example for a [`ManualClock`](crate::ManualClock) in tests.
pub trait StreamzExt: Stream {
    /// Groups items into batches of at most `max_size` items, each yielded no later than
    /// `max_latency` after its first item arrived.
    ///
    /// A batch opens when its first item arrives; its deadline is that arrival time plus
    /// `max_latency`. The pending batch is yielded, as a `Vec` in arrival order, when (whichever
    /// comes first):
    ///
    /// 1. it holds `max_size` items — at once;
    /// 2. its deadline has been reached — checked before *every* poll of the inner stream, so
    ///    the bound holds even when the inner stream is always ready, and an item that arrives
    ///    at or after the deadline goes into the next batch;
    /// 3. the inner stream ends — the partial batch is yielded, then `None`.
    ///
    /// Batches are never empty, and no item is lost, duplicated or reordered. The deadline of a
    /// yielded batch does not carry over: the next batch's deadline starts at its own first item.
    ///
    /// ```text
    /// input:   1-2-3-4-5---------6-----|       (one character = 10 ms)
    /// batch(3, 50ms):
    /// output:  ----A------B-----------C|       A = [1, 2, 3], B = [4, 5], C = [6]
    /// ```
    ///
    /// - `max_latency == Duration::ZERO` never waits: whenever the inner stream returns
    ///   `Pending`, the items gathered so far are yielded (like `ready_chunks`).
    /// - `Duration::MAX`, or any latency whose deadline lies past the range of
    ///   [`Instant`](std::time::Instant), means no time bound: batches leave at `max_size` or at
    ///   the end only.
    /// - Memory grows with the items actually buffered, not with `max_size`:
    ///   `batch(usize::MAX, d)` is fine.
    /// - One `poll_next` call takes at most 128 items from the inner stream without yielding a
    ///   batch; then it wakes its task and returns `Pending`, so that an always-ready source
    ///   cannot starve the executor.
    ///
    /// Dropping the adapter drops the pending items;
    /// [`Batch::take_pending`] takes them out first.
    ///
    /// See also [`try_batch`](TryStreamzExt::try_batch) for streams of `Result`s.
    ///
    /// # Panics
    ///
    /// Panics if `max_size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::StreamzExt;
    ///
    /// let batches: Vec<Vec<u32>> = block_on(
    ///     stream::iter(1..=5)
    ///         .batch(2, Duration::from_millis(10))
    ///         .collect(),
    /// );
    /// assert_eq!(batches, vec![vec![1, 2], vec![3, 4], vec![5]]);
    /// ```
    #[track_caller]
    fn batch(self, max_size: usize, max_latency: Duration) -> Batch<Self>
    where
        Self: Sized,
    {
        Batch::new(self, max_size, max_latency)
    }
}

impl<S: Stream + ?Sized> StreamzExt for S {}

/// Time-aware adapters for streams of `Result`s, in which errors pass through at once.
pub trait TryStreamzExt: TryStream {
    /// Like [`batch`](StreamzExt::batch), for a stream of `Result`s: `Ok` values are batched,
    /// and each `Err` is yielded at once.
    ///
    /// An error overtakes the pending batch and changes nothing else: the batch, its items and
    /// its deadline stay as they were, and it is yielded later by the same rules as before.
    /// The adapter does not stop at an error; it goes on until the inner stream ends.
    ///
    /// ```text
    /// input:   1-2-#-------|                   (one character = 10 ms, # = Err(e))
    /// try_batch(10, 50ms):
    /// output:  ----#A------|                   A = Ok([1, 2]), # = Err(e)
    /// ```
    ///
    /// # Panics
    ///
    /// Panics if `max_size` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::TryStreamzExt;
    ///
    /// let input = stream::iter(vec![Ok(1), Ok(2), Err("bad"), Ok(3)]);
    /// let out: Vec<Result<Vec<i32>, &str>> =
    ///     block_on(input.try_batch(10, Duration::from_secs(1)).collect());
    /// assert_eq!(out, vec![Err("bad"), Ok(vec![1, 2, 3])]);
    /// ```
    #[track_caller]
    fn try_batch(self, max_size: usize, max_latency: Duration) -> TryBatch<Self>
    where
        Self: Sized,
    {
        TryBatch::new(self, max_size, max_latency)
    }
}

impl<S: TryStream + ?Sized> TryStreamzExt for S {}
