//! [`Batch`] and [`TryBatch`]: items gathered into `Vec`s, each bounded in size and in
//! latency.
//!
//! The adapters hand every poll to the [`Engine`], which keeps the rules of time (timer
//! first, time order, the poll budget). What a batch does with each item, deadline and pause
//! is [`BatchState`], at the end of this file.

use std::fmt;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::stream::{FusedStream, Stream, TryStream};
use pin_project::pin_project;

use crate::clock::Clock;
use crate::engine::{self, Arrival, Engine, Idle, Machine, Run};
use crate::macros::inner_accessors;
use crate::system_clock::SystemClock;
use crate::weigh::{Unweighted, Weigh, Weighted};

/// Stream for the [`batch`](crate::StreamzExt::batch) method.
///
/// The third type parameter says how items are weighed: [`Unweighted`] unless
/// [`max_weight`](Batch::max_weight) was called. To keep the pending items when taking the
/// inner stream back, call [`take_pending`](Batch::take_pending) before
/// [`into_inner`](Batch::into_inner).
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct Batch<S: Stream, C: Clock = SystemClock, W: Weigh<S::Item> = Unweighted> {
    #[pin]
    stream: S,
    state: BatchState<S::Item, W>,
    engine: Engine<C, Vec<S::Item>>,
}

/// Stream for the [`try_batch`](crate::TryStreamzExt::try_batch) method.
///
/// The third type parameter says how `Ok` values are weighed: [`Unweighted`] unless
/// [`max_weight`](TryBatch::max_weight) was called.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct TryBatch<S: TryStream, C: Clock = SystemClock, W: Weigh<S::Ok> = Unweighted> {
    #[pin]
    stream: S,
    state: BatchState<S::Ok, W>,
    engine: Engine<C, Result<Vec<S::Ok>, S::Error>>,
}

impl<S: Stream> Batch<S> {
    #[track_caller]
    pub(crate) fn new(stream: S, max_size: usize, max_latency: Duration) -> Self {
        Batch {
            stream,
            state: BatchState::new(max_size, max_latency),
            engine: Engine::new(SystemClock),
        }
    }
}

impl<S: Stream, C: Clock> Batch<S, C> {
    /// Bounds each batch's total weight too, as `weigh` measures each item (bytes, say).
    ///
    /// Besides the count and the deadline, a batch is yielded when the next item would take
    /// its weight over `max_weight`: that item opens the next batch, whose deadline starts at
    /// its arrival. An item heavier than `max_weight` on its own is yielded alone, at once. A
    /// batch of exactly `max_weight` waits for the next item (or its deadline, or the end), as
    /// an item of weight 0 could still join it. Weights add up without overflow (saturating).
    ///
    /// Meant for use before the first poll; the pending batch, if any, counts as weightless.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::StreamzExt;
    ///
    /// // Lines in batches of at most 10 bytes (and 100 lines, and 50 ms).
    /// let lines = stream::iter(["alpha", "beta", "gamma", "a-very-long-line", "end"]);
    /// let batches: Vec<Vec<&str>> = block_on(
    ///     lines
    ///         .batch(100, Duration::from_millis(50))
    ///         .max_weight(10, |line: &&str| line.len())
    ///         .collect(),
    /// );
    /// assert_eq!(
    ///     batches,
    ///     vec![vec!["alpha", "beta"], vec!["gamma"], vec!["a-very-long-line"], vec!["end"]]
    /// );
    /// ```
    pub fn max_weight<F>(self, max_weight: usize, weigh: F) -> Batch<S, C, Weighted<F>>
    where
        F: FnMut(&S::Item) -> usize,
    {
        Batch {
            stream: self.stream,
            state: self.state.with_weigher(Weighted { max_weight, weigh }),
            engine: self.engine,
        }
    }
}

impl<S: Stream, C: Clock, W: Weigh<S::Item>> Batch<S, C, W> {
    /// Replaces the clock, keeping every setting.
    ///
    /// Meant for use before the first poll. If called later, the pending items are kept, and
    /// the pending batch's deadline keeps the time it had left on the old clock: a deadline
    /// already reached acts at the next poll.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Batch<S, C2, W> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        Batch {
            stream: self.stream,
            state,
            engine,
        }
    }

    /// Takes the items of the pending batch, leaving the adapter with no open batch (and no
    /// deadline). Nothing is lost: the next item opens a new batch. A batch already formed and
    /// waiting to be yielded at the next poll (one that came second in time order) is taken
    /// too, its items first.
    pub fn take_pending(self: Pin<&mut Self>) -> Vec<S::Item> {
        let this = self.project();
        let mut items = this.engine.take_ready().unwrap_or_default();
        items.append(&mut this.state.take_pending());
        items
    }

    inner_accessors!();
}

impl<S: TryStream> TryBatch<S> {
    #[track_caller]
    pub(crate) fn new(stream: S, max_size: usize, max_latency: Duration) -> Self {
        TryBatch {
            stream,
            state: BatchState::new(max_size, max_latency),
            engine: Engine::new(SystemClock),
        }
    }
}

impl<S: TryStream, C: Clock> TryBatch<S, C> {
    /// Bounds each batch's total weight too: as [`Batch::max_weight`], for the `Ok` values.
    pub fn max_weight<F>(self, max_weight: usize, weigh: F) -> TryBatch<S, C, Weighted<F>>
    where
        F: FnMut(&S::Ok) -> usize,
    {
        TryBatch {
            stream: self.stream,
            state: self.state.with_weigher(Weighted { max_weight, weigh }),
            engine: self.engine,
        }
    }
}

impl<S: TryStream, C: Clock, W: Weigh<S::Ok>> TryBatch<S, C, W> {
    /// Replaces the clock, keeping every setting: as [`Batch::with_clock`].
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TryBatch<S, C2, W> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        TryBatch {
            stream: self.stream,
            state,
            engine,
        }
    }

    /// Takes the `Ok` values of the pending batch, leaving the adapter with no open batch (and
    /// no deadline). Nothing is lost: the next value opens a new batch. A batch already formed
    /// and waiting to be yielded at the next poll is taken too, its values first (an error
    /// waiting there stays, for the next poll).
    pub fn take_pending(self: Pin<&mut Self>) -> Vec<S::Ok> {
        let this = self.project();
        let mut items = match this.engine.take_ready() {
            Some(Ok(items)) => items,
            Some(Err(e)) => {
                this.engine.put_ready(Err(e));
                Vec::new()
            }
            None => Vec::new(),
        };
        items.append(&mut this.state.take_pending());
        items
    }

    inner_accessors!();
}

impl<S, C, W> Stream for Batch<S, C, W>
where
    S: Stream,
    C: Clock,
    W: Weigh<S::Item>,
{
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.engine
            .poll(this.stream, this.state, cx, Ok, |batch| batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(&self.state, self.stream.size_hint())
    }
}

impl<S, T, E, C, W> Stream for TryBatch<S, C, W>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    C: Clock,
    W: Weigh<T>,
{
    type Item = Result<Vec<T>, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        // An error passes at once, touching nothing else.
        this.engine
            .poll(this.stream, this.state, cx, |item| item.map_err(Err), Ok)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(&self.state, self.stream.size_hint())
    }
}

impl<S: Stream, C: Clock, W: Weigh<S::Item>> FusedStream for Batch<S, C, W> {
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, T, E, C, W> FusedStream for TryBatch<S, C, W>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    C: Clock,
    W: Weigh<T>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, C, W> fmt::Debug for Batch<S, C, W>
where
    S: Stream + fmt::Debug,
    S::Item: fmt::Debug,
    C: Clock + fmt::Debug,
    W: Weigh<S::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Batch");
        out.field("stream", &self.stream);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}

impl<S, C, W> fmt::Debug for TryBatch<S, C, W>
where
    S: TryStream + fmt::Debug,
    S::Ok: fmt::Debug,
    C: Clock + fmt::Debug,
    W: Weigh<S::Ok>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TryBatch");
        out.field("stream", &self.stream);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}

/// What a batch does with items and deadlines: the machine that [`Batch`] and [`TryBatch`]
/// hand to the [`Engine`].
struct BatchState<T, W> {
    items: Vec<T>,
    max_size: usize,
    max_latency: Duration,
    /// The deadline of the pending batch: `None` while no batch is open, or when the latency
    /// is zero or too long to represent.
    deadline: Option<Instant>,
    weigher: W,
    /// The total weight of the pending batch.
    weight: usize,
    /// The pending batch must leave at once: an item too heavy to share a batch came after a
    /// batch that was just yielded.
    due: bool,
}

impl<T> BatchState<T, Unweighted> {
    #[track_caller]
    fn new(max_size: usize, max_latency: Duration) -> Self {
        assert!(max_size > 0, "batch: `max_size` must be at least 1, got 0");
        BatchState {
            items: Vec::new(),
            max_size,
            max_latency,
            deadline: None,
            weigher: Unweighted,
            weight: 0,
            due: false,
        }
    }
}

impl<T, W> BatchState<T, W> {
    /// A batch opens with an item arriving now: its deadline counts from that arrival. A
    /// zero latency needs none (the batch leaves when the inner stream pauses).
    fn open<C: Clock>(&mut self, at: &mut Arrival<'_, C>) {
        self.open_at(self.timed().then(|| at.time()));
    }

    /// A batch opens with an item that arrived at `arrival` (`None` for a zero latency).
    fn open_at(&mut self, arrival: Option<Instant>) {
        self.deadline = arrival.and_then(|t| engine::checked_deadline(t, self.max_latency));
    }

    /// Whether batches have a deadline to count from their first item's arrival.
    fn timed(&self) -> bool {
        self.max_latency != Duration::ZERO
    }

    /// Hands out the pending batch and closes its deadline. The next batch's `Vec` is
    /// allocated now, as large as this one: a steady source costs one allocation per batch,
    /// without reserving `max_size` up front, and memory stays bounded by the largest batch
    /// recently gathered.
    fn flush(&mut self) -> Vec<T> {
        let capacity = self.items.len();
        self.deadline = None;
        self.weight = 0;
        self.due = false;
        mem::replace(&mut self.items, Vec::with_capacity(capacity))
    }

    fn take_pending(&mut self) -> Vec<T> {
        self.deadline = None;
        self.weight = 0;
        self.due = false;
        mem::take(&mut self.items)
    }

    fn with_weigher<W2>(self, weigher: W2) -> BatchState<T, W2> {
        BatchState {
            items: self.items,
            max_size: self.max_size,
            max_latency: self.max_latency,
            deadline: self.deadline,
            weigher,
            weight: 0,
            due: self.due,
        }
    }
}

impl<T, W: Weigh<T>> Machine for BatchState<T, W> {
    type Item = T;
    type Output = Vec<T>;

    fn on_deadlines(&mut self, now: Instant) -> Option<Vec<T>> {
        match self.deadline {
            _ if self.due => Some(self.flush()),
            Some(deadline) if now >= deadline => Some(self.flush()),
            _ => None,
        }
    }

    #[inline]
    fn on_item<C: Clock>(&mut self, item: T, at: &mut Arrival<'_, C>) -> Option<Vec<T>> {
        if W::ACTIVE {
            return self.on_weighed_item(item, at);
        }
        if self.items.is_empty() {
            self.open(at);
        }
        self.items.push(item);
        if self.items.len() >= self.max_size {
            return Some(self.flush());
        }
        None
    }

    fn room(&self, _time: Instant) -> usize {
        // Every item but the first (which opens the batch) and the last (which fills it) only
        // joins the batch.
        if W::ACTIVE || self.items.is_empty() {
            0
        } else {
            self.max_size - self.items.len() - 1
        }
    }

    #[inline]
    fn absorb_run<R: Run<T>>(&mut self, run: R) -> R::Out {
        let items = &mut self.items;
        run.run(|item| items.push(item))
    }

    fn on_idle(&mut self, _why: Idle) -> Option<Vec<T>> {
        // A zero latency never waits: whatever is gathered leaves when the inner stream pauses
        // or the budget runs out.
        if self.max_latency == Duration::ZERO && !self.items.is_empty() {
            return Some(self.flush());
        }
        None
    }

    fn on_end(&mut self) -> Option<Vec<T>> {
        // No batch follows the last one: nothing to allocate for it.
        if self.items.is_empty() {
            None
        } else {
            Some(self.take_pending())
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn wake_at(&self) -> Option<Instant> {
        self.deadline
    }

    fn due(&self) -> bool {
        self.due
    }

    fn calls_out(&self) -> bool {
        W::ACTIVE
    }

    fn rebase(&mut self, from: Instant, to: Instant) {
        if let Some(deadline) = self.deadline {
            self.deadline = engine::rebase(deadline, from, to);
        }
    }

    fn size_hint(&self, (lower, upper): (usize, Option<usize>)) -> (usize, Option<usize>) {
        let pending = self.items.len();
        // Every batch holds at most `max_size` items and at least one (an error is one output
        // on its own).
        let lower = lower.saturating_add(pending);
        let lower = lower / self.max_size + usize::from(lower % self.max_size != 0);
        let upper = upper.and_then(|upper| upper.checked_add(pending));
        (lower, upper)
    }
}

impl<T, W: Weigh<T>> BatchState<T, W> {
    /// `on_item` for weighted batches. The item joins the batch before it is weighed, so a
    /// weigher that panics loses nothing: the item stays in the batch, weightless, and a batch
    /// it filled is due at the next poll.
    fn on_weighed_item<C: Clock>(&mut self, item: T, at: &mut Arrival<'_, C>) -> Option<Vec<T>> {
        // The arrival, taken (as `open` takes it) before the weigher spends any time: this
        // item opens a batch, or may open the next one.
        let opens = self.items.is_empty();
        let arrival = self.timed().then(|| at.time());
        if opens {
            self.open_at(arrival);
        }
        self.items.push(item);
        self.due = self.items.len() >= self.max_size;
        let weight = match self.items.last() {
            Some(item) => self.weigher.weigh(item),
            None => 0,
        };
        self.due = false;
        let max = self.weigher.max_weight();
        if !opens && self.weight.saturating_add(weight) > max {
            // The item would take the batch over its weight: the batch leaves without it, and
            // it opens the next one; if it is too heavy on its own, that one is due at once.
            let item = self.items.pop();
            let out = self.flush();
            self.items.extend(item);
            self.open_at(arrival);
            self.weight = weight;
            self.due = weight > max || self.items.len() >= self.max_size;
            return Some(out);
        }
        self.weight = self.weight.saturating_add(weight);
        if self.items.len() >= self.max_size || self.weight > max {
            return Some(self.flush());
        }
        None
    }

    /// The settings and the state, for the adapters' `Debug`.
    fn debug_fields(&self, out: &mut fmt::DebugStruct<'_, '_>)
    where
        T: fmt::Debug,
    {
        out.field("pending", &self.items)
            .field("max_size", &self.max_size)
            .field("max_latency", &self.max_latency)
            .field("deadline", &self.deadline);
        if W::ACTIVE {
            out.field("weight", &self.weight)
                .field("max_weight", &self.weigher.max_weight());
        }
    }
}
