//! [`StreamzExt`] and [`TryStreamzExt`]: the methods that build every adapter.

use std::hash::Hash;
use std::time::Duration;

use futures_core::stream::{Stream, TryStream};

use crate::batch::{Batch, BatchBy, TryBatch, TryBatchBy};
use crate::debounce::{Debounce, DebounceBy, TryDebounce, TryDebounceBy};
use crate::throttle::{Throttle, ThrottleBy, TryThrottle, TryThrottleBy};

/// Time-aware adapters for every [`Stream`].
///
/// Every adapter uses [`SystemClock`](crate::SystemClock) until `.with_clock(clock)` swaps it,
/// for example for a [`ManualClock`](crate::ManualClock) in tests.
pub trait StreamzExt: Stream {
    /// Groups items into batches of at most `max_size` items, each yielded no later than
    /// `max_latency` after its first item arrived.
    ///
    /// An item arrives when the inner stream's `poll_next` returns it. A batch opens when its
    /// first item arrives; its deadline is that arrival time plus `max_latency`. The pending
    /// batch is yielded, as a `Vec` in arrival order, when (whichever comes first):
    ///
    /// 1. it holds `max_size` items — at once;
    /// 2. its deadline has been reached — checked before *every* poll of the inner stream and
    ///    as every item arrives, so the bound holds even when the inner stream is always
    ///    ready, and an item that arrives at or after the deadline goes into the next batch
    ///    (see [timing precision](crate#timing-precision));
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
    /// - One `poll_next` call takes at most 512 items from the inner stream without yielding a
    ///   batch; then it wakes its task and returns `Pending`, so that an always-ready source
    ///   cannot starve the executor.
    ///
    /// Dropping the adapter drops the pending items;
    /// [`Batch::take_pending`] takes them out first.
    ///
    /// See also [`throttle`](StreamzExt::throttle) and [`debounce`](StreamzExt::debounce),
    /// which thin a stream out instead of grouping it, and
    /// [`try_batch`](TryStreamzExt::try_batch) for streams of `Result`s.
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

    /// Lets at most one item through per `period`: a rate limit that drops the surplus.
    ///
    /// An item that arrives while no window is open passes and opens a window of `period` from
    /// its arrival. What happens to the items that arrive while the window is open depends on
    /// the [`edge`](Throttle::edge):
    ///
    /// 1. [`Edge::Leading`](crate::Edge::Leading) (the default): they are dropped. An item
    ///    arriving exactly at the window's end passes (the end is inclusive). Dropped items
    ///    never extend the window.
    /// 2. [`Edge::Trailing`](crate::Edge::Trailing): the first item opens the window silently;
    ///    when the window ends, the latest item received in it is yielded, and that emission
    ///    opens the next window (if no item was received, the window just closes).
    /// 3. [`Edge::Both`](crate::Edge::Both): the first item passes at once, and at the end of
    ///    the window the latest item received *during* it (if any) is yielded and opens the
    ///    next window. A lone item is never yielded twice.
    ///
    /// Two yields are never closer than `period` apart: a window opened by a trailing emission
    /// starts at the moment of that emission. This holds to the end: when the inner stream ends
    /// with a trailing item pending, the item leaves when its window ends, and then the stream
    /// ends.
    ///
    /// ```text
    /// input:     ab-c----d-e---|          (one character = 10 ms; throttle(30ms))
    /// Leading:   a--c----d-----|
    /// Trailing:  ---b--c--d--e-|
    /// Both:      a--b--c--d--e-|
    /// ```
    ///
    /// - `Duration::ZERO`: every item passes.
    /// - A `period` past the range of [`Instant`](std::time::Instant) is a window that never
    ///   ends: only the first item passes (`Leading`, `Both`); a trailing item pending at the
    ///   end of the stream is dropped.
    /// - Like every adapter here, the window's end is checked before each poll of the inner
    ///   stream ([timing precision](crate#timing-precision)), and one `poll_next` call takes at
    ///   most 512 items from it without yielding.
    ///
    /// # Data loss
    ///
    /// Throttling drops items by design: every item that arrives in an open window and is not
    /// the window's trailing item is dropped, as soon as it is replaced or arrives. A pending
    /// trailing item is dropped if the adapter is dropped.
    ///
    /// See also [`debounce`](StreamzExt::debounce), which waits for a pause instead of
    /// keeping a steady rate, and [`try_throttle`](TryStreamzExt::try_throttle).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::StreamzExt;
    ///
    /// // Items that are all ready at once fall into one window: only the first passes.
    /// let out: Vec<u32> = block_on(
    ///     stream::iter(1..=5).throttle(Duration::from_secs(1)).collect(),
    /// );
    /// assert_eq!(out, vec![1]);
    /// ```
    fn throttle(self, period: Duration) -> Throttle<Self>
    where
        Self: Sized,
    {
        Throttle::new(self, period)
    }

    /// Waits for a pause: yields the latest item once `quiet` has passed without a new one.
    ///
    /// A *run* is a sequence of items, each arriving within `quiet` of the previous one. Every
    /// item restarts the quiet period from its arrival. Which items of a run are yielded
    /// depends on the [`edge`](Debounce::edge):
    ///
    /// 1. [`Edge::Trailing`](crate::Edge::Trailing) (the default): each item replaces the
    ///    pending one; the pending item is yielded when the quiet period ends.
    /// 2. [`Edge::Leading`](crate::Edge::Leading): an item arriving when no quiet period runs is
    ///    yielded at once; the others are dropped (and still restart the quiet period).
    /// 3. [`Edge::Both`](crate::Edge::Both): leading as above, and when the quiet period ends,
    ///    the latest item is yielded if at least one arrived after the leading one.
    ///
    /// [`max_wait`](Debounce::max_wait) caps how long a busy run can hold back output.
    ///
    /// ```text
    /// input:     ab-c----d-e---|          (one character = 10 ms; debounce(30ms))
    /// Trailing:  ------c------e|
    /// Leading:   a-------d-----|
    /// Both:      a-----c-d----e|
    ///
    /// input:     abcdefg---|              debounce(30ms).max_wait(50ms)
    /// Trailing:  -----e---g|
    /// ```
    ///
    /// - A burst of items that are ready together costs one quiet period, not one per item.
    /// - When the inner stream ends, a pending item is yielded at once, then the end.
    /// - `Duration::ZERO`: a quiet period lasts while the inner stream stays ready, and ends
    ///   when it returns `Pending`; so the latest item of each ready burst is yielded then. An
    ///   always-ready source yields nothing until it pauses (unless `max_wait` is set).
    /// - A `quiet` past the range of [`Instant`](std::time::Instant) never ends: a trailing
    ///   item leaves only at `max_wait` or at the end of the stream.
    /// - Like every adapter here, deadlines are checked before each poll of the inner stream
    ///   ([timing precision](crate#timing-precision)), and one `poll_next` call takes at most
    ///   512 items from it without yielding, then wakes its task and returns `Pending`, so a
    ///   busy source cannot starve the executor.
    ///
    /// # Data loss
    ///
    /// Debouncing drops items by design: with a trailing edge, every item replaced by a newer
    /// one before its quiet period ended is dropped; with a leading edge, every item that
    /// arrives while a quiet period runs is dropped. A pending item is dropped if the adapter
    /// is dropped.
    ///
    /// See also [`throttle`](StreamzExt::throttle), which keeps a steady rate under constant
    /// input where `debounce` waits for a pause, and
    /// [`try_debounce`](TryStreamzExt::try_debounce).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::StreamzExt;
    ///
    /// // The stream ends right after its burst: the latest item leaves at once.
    /// let out: Vec<u32> = block_on(
    ///     stream::iter(1..=5).debounce(Duration::from_secs(1)).collect(),
    /// );
    /// assert_eq!(out, vec![5]);
    /// ```
    fn debounce(self, quiet: Duration) -> Debounce<Self>
    where
        Self: Sized,
    {
        Debounce::new(self, quiet)
    }

    /// Like [`batch`](StreamzExt::batch), with a batch of its own for each key:
    /// `key_fn(&item)` picks the key, and each batch comes out as `(key, items)`.
    ///
    /// Per key, the rules are exactly those of `batch`: a key's batch opens at its first item,
    /// and leaves when it holds `max_size` items, when `max_latency` has passed since it
    /// opened, or when the inner stream ends. The output is what splitting the input by key,
    /// batching each part on its own and merging the results in time order would give. When
    /// several keys' deadlines have passed by the same check, their batches come out in
    /// deadline order, ties broken by the arrival of their first items; at the end of the
    /// inner stream, every pending batch leaves in that order too.
    ///
    /// All keys share one timer, armed for the earliest deadline of all, and checked before
    /// every poll of the inner stream: every key whose deadline has passed is served before
    /// another item is taken. Deadlines are kept in a binary heap, so the cost per item grows
    /// with the logarithm of the number of keys. A key is forgotten as soon as its batch
    /// leaves: memory follows the keys that hold a batch. [`max_keys`](BatchBy::max_keys)
    /// bounds them.
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
    /// let lines = stream::iter([("db", 1), ("web", 2), ("db", 3), ("db", 4), ("web", 5)]);
    /// let batches: Vec<(&str, Vec<(&str, u32)>)> = block_on(
    ///     lines
    ///         .batch_by(|line| line.0, 2, Duration::from_secs(1))
    ///         .collect(),
    /// );
    /// assert_eq!(
    ///     batches,
    ///     vec![
    ///         ("db", vec![("db", 1), ("db", 3)]),
    ///         ("web", vec![("web", 2), ("web", 5)]),
    ///         ("db", vec![("db", 4)]),
    ///     ]
    /// );
    /// ```
    #[track_caller]
    fn batch_by<K, F>(
        self,
        key_fn: F,
        max_size: usize,
        max_latency: Duration,
    ) -> BatchBy<Self, K, F>
    where
        Self: Sized,
        K: Hash + Eq + Clone,
        F: FnMut(&Self::Item) -> K,
    {
        BatchBy::new(self, key_fn, max_size, max_latency)
    }

    /// Like [`throttle`](StreamzExt::throttle), with a window of its own for each key:
    /// `key_fn(&item)` picks the key, and each key passes at most one item per `period`.
    ///
    /// Per key, the rules are exactly those of `throttle`, with the same
    /// [`edge`](ThrottleBy::edge) and [`on_drop`](ThrottleBy::on_drop). The output is what
    /// splitting the input by key, throttling each part on its own and merging the results in
    /// time order would give; trailing items of several keys whose windows ended by the same
    /// check come out in the order of the window ends, ties broken by the arrival of the item
    /// that opened each key's window (for a window opened by a trailing item's emission, the
    /// first item received in it).
    ///
    /// All keys share one timer, checked before every poll of the inner stream. A key is
    /// forgotten when its window ends with nothing pending: memory follows the keys with an
    /// open window. The task may be woken at a window's end only to forget its key.
    /// [`max_keys`](ThrottleBy::max_keys) bounds the keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::StreamzExt;
    ///
    /// // At most one alert per user per minute.
    /// let alerts = stream::iter([("ann", 1), ("bob", 2), ("ann", 3), ("bob", 4), ("cy", 5)]);
    /// let sent: Vec<(&str, u32)> = block_on(
    ///     alerts
    ///         .throttle_by(|alert| alert.0, Duration::from_secs(60))
    ///         .collect(),
    /// );
    /// assert_eq!(sent, vec![("ann", 1), ("bob", 2), ("cy", 5)]);
    /// ```
    fn throttle_by<K, F>(self, key_fn: F, period: Duration) -> ThrottleBy<Self, K, F>
    where
        Self: Sized,
        K: Hash + Eq + Clone,
        F: FnMut(&Self::Item) -> K,
    {
        ThrottleBy::new(self, key_fn, period)
    }

    /// Like [`debounce`](StreamzExt::debounce), with a quiet period of its own for each key:
    /// `key_fn(&item)` picks the key, and each key's burst comes out as its latest item.
    ///
    /// Per key, the rules are exactly those of `debounce`, with the same
    /// [`edge`](DebounceBy::edge), [`max_wait`](DebounceBy::max_wait) and
    /// [`on_drop`](DebounceBy::on_drop). The output is what splitting the input by key,
    /// debouncing each part on its own and merging the results in time order would give;
    /// items of several keys whose quiet periods ended by the same check come out in the
    /// order of those ends, ties broken by the arrival of the first item of each key's run.
    /// At the end of the inner stream, every pending item leaves at once, in that order.
    ///
    /// All keys share one timer, checked before every poll of the inner stream. A key is
    /// forgotten when its quiet period ends: memory follows the keys whose quiet period runs.
    /// [`max_keys`](DebounceBy::max_keys) bounds them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::StreamzExt;
    ///
    /// // File events: the latest event of each path's burst.
    /// let events = stream::iter([("a.txt", 1), ("b.txt", 2), ("a.txt", 3), ("a.txt", 4)]);
    /// let out: Vec<(&str, u32)> = block_on(
    ///     events
    ///         .debounce_by(|event| event.0, Duration::from_millis(50))
    ///         .collect(),
    /// );
    /// assert_eq!(out, vec![("b.txt", 2), ("a.txt", 4)]);
    /// ```
    fn debounce_by<K, F>(self, key_fn: F, quiet: Duration) -> DebounceBy<Self, K, F>
    where
        Self: Sized,
        K: Hash + Eq + Clone,
        F: FnMut(&Self::Item) -> K,
    {
        DebounceBy::new(self, key_fn, quiet)
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

    /// Like [`throttle`](StreamzExt::throttle), for a stream of `Result`s: `Ok` values are
    /// throttled, and each `Err` is yielded at once.
    ///
    /// An error changes nothing else: it neither opens nor extends a window, and does not
    /// replace the pending trailing value.
    ///
    /// # Data loss
    ///
    /// As for [`throttle`](StreamzExt::throttle), for `Ok` values; errors are never dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::TryStreamzExt;
    ///
    /// let input = stream::iter(vec![Ok(1), Ok(2), Err("bad"), Ok(3)]);
    /// let out: Vec<Result<i32, &str>> =
    ///     block_on(input.try_throttle(Duration::from_secs(1)).collect());
    /// assert_eq!(out, vec![Ok(1), Err("bad")]);
    /// ```
    fn try_throttle(self, period: Duration) -> TryThrottle<Self>
    where
        Self: Sized,
    {
        TryThrottle::new(self, period)
    }

    /// Like [`debounce`](StreamzExt::debounce), for a stream of `Result`s: `Ok` values are
    /// debounced, and each `Err` is yielded at once.
    ///
    /// An error changes nothing else: it does not restart the quiet period, does not count
    /// towards a run, and does not replace the pending value.
    ///
    /// # Data loss
    ///
    /// As for [`debounce`](StreamzExt::debounce), for `Ok` values; errors are never dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::TryStreamzExt;
    ///
    /// let input = stream::iter(vec![Ok(1), Ok(2), Err("bad"), Ok(3)]);
    /// let out: Vec<Result<i32, &str>> =
    ///     block_on(input.try_debounce(Duration::from_secs(1)).collect());
    /// assert_eq!(out, vec![Err("bad"), Ok(3)]);
    /// ```
    fn try_debounce(self, quiet: Duration) -> TryDebounce<Self>
    where
        Self: Sized,
    {
        TryDebounce::new(self, quiet)
    }

    /// Like [`batch_by`](StreamzExt::batch_by), for a stream of `Result`s: `Ok` values are
    /// batched by key, and each `Err` is yielded at once, changing nothing else (as in
    /// [`try_batch`](TryStreamzExt::try_batch)).
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
    /// let out: Vec<Result<(bool, Vec<i32>), &str>> = block_on(
    ///     input
    ///         .try_batch_by(|n| n % 2 == 0, 10, Duration::from_secs(1))
    ///         .collect(),
    /// );
    /// assert_eq!(out, vec![Err("bad"), Ok((false, vec![1, 3])), Ok((true, vec![2]))]);
    /// ```
    #[track_caller]
    fn try_batch_by<K, F>(
        self,
        key_fn: F,
        max_size: usize,
        max_latency: Duration,
    ) -> TryBatchBy<Self, K, F>
    where
        Self: Sized,
        K: Hash + Eq + Clone,
        F: FnMut(&Self::Ok) -> K,
    {
        TryBatchBy::new(self, key_fn, max_size, max_latency)
    }

    /// Like [`throttle_by`](StreamzExt::throttle_by), for a stream of `Result`s: `Ok` values
    /// are throttled by key, and each `Err` is yielded at once, changing nothing else.
    fn try_throttle_by<K, F>(self, key_fn: F, period: Duration) -> TryThrottleBy<Self, K, F>
    where
        Self: Sized,
        K: Hash + Eq + Clone,
        F: FnMut(&Self::Ok) -> K,
    {
        TryThrottleBy::new(self, key_fn, period)
    }

    /// Like [`debounce_by`](StreamzExt::debounce_by), for a stream of `Result`s: `Ok` values
    /// are debounced by key, and each `Err` is yielded at once, changing nothing else.
    fn try_debounce_by<K, F>(self, key_fn: F, quiet: Duration) -> TryDebounceBy<Self, K, F>
    where
        Self: Sized,
        K: Hash + Eq + Clone,
        F: FnMut(&Self::Ok) -> K,
    {
        TryDebounceBy::new(self, key_fn, quiet)
    }
}

impl<S: TryStream + ?Sized> TryStreamzExt for S {}
