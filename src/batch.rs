//! [`Batch`] and [`TryBatch`]: items gathered into `Vec`s, each bounded in size and in
//! latency.
//!
//! The adapters hand every poll to the [`Engine`], which keeps the rules of time (timer
//! first, time order, the poll budget). What a batch does with each item, deadline and pause
//! is [`BatchState`], at the end of this file.

use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::stream::{FusedStream, Stream, TryStream};
use pin_project::pin_project;

use crate::clock::Clock;
use crate::engine::{self, Arrival, Engine, Idle, Machine, Run};
use crate::flushed::{BatchOutput, FlushReason, Flushed};
use crate::keyed::{Key, PerKey};
use crate::macros::inner_accessors;
use crate::system_clock::SystemClock;
use crate::weigh::{Unweighted, Weigh, Weighted};

mod by_key;

pub use by_key::{BatchBy, TryBatchBy};

/// Stream for the [`batch`](crate::StreamzExt::batch) method.
///
/// The third type parameter says how items are weighed: [`Unweighted`] unless
/// [`max_weight`](Batch::max_weight) was called. The fourth is what each batch comes out as:
/// its items (a `Vec`), or a [`Flushed`] with why it left, after
/// [`with_reasons`](Batch::with_reasons). To keep the pending items when taking the inner
/// stream back, call [`take_pending`](Batch::take_pending) before
/// [`into_inner`](Batch::into_inner).
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct Batch<
    S: Stream,
    C: Clock = SystemClock,
    W: Weigh<S::Item> = Unweighted,
    O: BatchOutput<S::Item> = Vec<<S as Stream>::Item>,
> {
    #[pin]
    stream: S,
    state: BatchState<S::Item, W>,
    engine: Engine<C, Flushed<S::Item>>,
    output: PhantomData<fn() -> O>,
}

/// Stream for the [`try_batch`](crate::TryStreamzExt::try_batch) method.
///
/// The type parameters are those of [`Batch`], for the `Ok` values.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct TryBatch<
    S: TryStream,
    C: Clock = SystemClock,
    W: Weigh<S::Ok> = Unweighted,
    O: BatchOutput<S::Ok> = Vec<<S as TryStream>::Ok>,
> {
    #[pin]
    stream: S,
    state: BatchState<S::Ok, W>,
    engine: Engine<C, Result<Flushed<S::Ok>, S::Error>>,
    output: PhantomData<fn() -> O>,
}

impl<S: Stream> Batch<S> {
    #[track_caller]
    pub(crate) fn new(stream: S, max_size: usize, max_latency: Duration) -> Self {
        let engine = Engine::new(SystemClock);
        Batch {
            stream,
            state: BatchState::new(max_size, max_latency, engine.last_reading()),
            engine,
            output: PhantomData,
        }
    }
}

impl<S: Stream, C: Clock, O: BatchOutput<S::Item>> Batch<S, C, Unweighted, O> {
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
    pub fn max_weight<F>(self, max_weight: usize, weigh: F) -> Batch<S, C, Weighted<F>, O>
    where
        F: FnMut(&S::Item) -> usize,
    {
        Batch {
            stream: self.stream,
            state: self.state.with_weigher(Weighted { max_weight, weigh }),
            engine: self.engine,
            output: PhantomData,
        }
    }
}

impl<S: Stream, C: Clock, W: Weigh<S::Item>> Batch<S, C, W> {
    /// Yields each batch as a [`Flushed`]: its items, why it left ([`FlushReason`]: full,
    /// weight, deadline, paused, end) and when its first item arrived (the instant its
    /// deadline counts from), by the adapter's clock. Without this call the reason is not
    /// kept, and costs nothing.
    ///
    /// With a zero `max_latency`, the clock is read for each batch's first item (which a
    /// plain zero-latency batch does without).
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::{FlushReason, StreamzExt};
    ///
    /// let batches: Vec<_> = block_on(
    ///     stream::iter(1..=5)
    ///         .batch(2, Duration::from_secs(1))
    ///         .with_reasons()
    ///         .collect(),
    /// );
    /// let reasons: Vec<FlushReason> = batches.iter().map(|b| b.reason).collect();
    /// assert_eq!(
    ///     reasons,
    ///     [FlushReason::Full, FlushReason::Full, FlushReason::End]
    /// );
    /// assert_eq!(batches[2].items, vec![5]);
    /// ```
    pub fn with_reasons(mut self) -> Batch<S, C, W, Flushed<S::Item>> {
        self.state.records_opening = true;
        Batch {
            stream: self.stream,
            state: self.state,
            engine: self.engine,
            output: PhantomData,
        }
    }
}

impl<S, C, W, O> Batch<S, C, W, O>
where
    S: Stream,
    C: Clock,
    W: Weigh<S::Item>,
    O: BatchOutput<S::Item>,
{
    /// Replaces the clock, keeping every setting.
    ///
    /// Meant for use before the first poll. If called later, the pending items are kept, and
    /// the pending batch's deadline keeps the time it had left on the old clock: a deadline
    /// already reached acts at the next poll.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Batch<S, C2, W, O> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        Batch {
            stream: self.stream,
            state,
            engine,
            output: PhantomData,
        }
    }

    /// Takes the items of the pending batch, leaving the adapter with no open batch (and no
    /// deadline). Nothing is lost: the next item opens a new batch. A batch already formed and
    /// waiting to be yielded at the next poll (one that came second in time order) is taken
    /// too, its items first.
    pub fn take_pending(self: Pin<&mut Self>) -> Vec<S::Item> {
        let this = self.project();
        let mut items = this
            .engine
            .take_ready()
            .map(|f| f.items)
            .unwrap_or_default();
        items.append(&mut this.state.take_pending());
        items
    }

    inner_accessors!();
}

impl<S: TryStream> TryBatch<S> {
    #[track_caller]
    pub(crate) fn new(stream: S, max_size: usize, max_latency: Duration) -> Self {
        let engine = Engine::new(SystemClock);
        TryBatch {
            stream,
            state: BatchState::new(max_size, max_latency, engine.last_reading()),
            engine,
            output: PhantomData,
        }
    }
}

impl<S: TryStream, C: Clock, O: BatchOutput<S::Ok>> TryBatch<S, C, Unweighted, O> {
    /// Bounds each batch's total weight too: as [`Batch::max_weight`], for the `Ok` values.
    pub fn max_weight<F>(self, max_weight: usize, weigh: F) -> TryBatch<S, C, Weighted<F>, O>
    where
        F: FnMut(&S::Ok) -> usize,
    {
        TryBatch {
            stream: self.stream,
            state: self.state.with_weigher(Weighted { max_weight, weigh }),
            engine: self.engine,
            output: PhantomData,
        }
    }
}

impl<S: TryStream, C: Clock, W: Weigh<S::Ok>> TryBatch<S, C, W> {
    /// Yields each batch as a [`Flushed`], with why it left: as [`Batch::with_reasons`].
    pub fn with_reasons(mut self) -> TryBatch<S, C, W, Flushed<S::Ok>> {
        self.state.records_opening = true;
        TryBatch {
            stream: self.stream,
            state: self.state,
            engine: self.engine,
            output: PhantomData,
        }
    }
}

impl<S, C, W, O> TryBatch<S, C, W, O>
where
    S: TryStream,
    C: Clock,
    W: Weigh<S::Ok>,
    O: BatchOutput<S::Ok>,
{
    /// Replaces the clock, keeping every setting: as [`Batch::with_clock`].
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TryBatch<S, C2, W, O> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        TryBatch {
            stream: self.stream,
            state,
            engine,
            output: PhantomData,
        }
    }

    /// Takes the `Ok` values of the pending batch, leaving the adapter with no open batch (and
    /// no deadline). Nothing is lost: the next value opens a new batch. A batch already formed
    /// and waiting to be yielded at the next poll is taken too, its values first (an error
    /// waiting there stays, for the next poll).
    pub fn take_pending(self: Pin<&mut Self>) -> Vec<S::Ok> {
        let this = self.project();
        let mut items = match this.engine.take_ready() {
            Some(Ok(flushed)) => flushed.items,
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

impl<S, C, W, O> Stream for Batch<S, C, W, O>
where
    S: Stream,
    C: Clock,
    W: Weigh<S::Item>,
    O: BatchOutput<S::Item>,
{
    type Item = O;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<O>> {
        let this = self.project();
        let out = this
            .engine
            .poll(this.stream, this.state, cx, Ok, |flushed| flushed);
        out.map(|out| out.map(O::from_flushed))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(&self.state, self.stream.size_hint())
    }
}

impl<S, T, E, C, W, O> Stream for TryBatch<S, C, W, O>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    C: Clock,
    W: Weigh<T>,
    O: BatchOutput<T>,
{
    type Item = Result<O, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        // An error passes at once, touching nothing else.
        let out = this
            .engine
            .poll(this.stream, this.state, cx, |item| item.map_err(Err), Ok);
        out.map(|out| out.map(|out| out.map(O::from_flushed)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(&self.state, self.stream.size_hint())
    }
}

impl<S, C, W, O> FusedStream for Batch<S, C, W, O>
where
    S: Stream,
    C: Clock,
    W: Weigh<S::Item>,
    O: BatchOutput<S::Item>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, T, E, C, W, O> FusedStream for TryBatch<S, C, W, O>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    C: Clock,
    W: Weigh<T>,
    O: BatchOutput<T>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, C, W, O> fmt::Debug for Batch<S, C, W, O>
where
    S: Stream + fmt::Debug,
    S::Item: fmt::Debug,
    C: Clock + fmt::Debug,
    W: Weigh<S::Item>,
    O: BatchOutput<S::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Batch");
        out.field("stream", &self.stream);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}

impl<S, C, W, O> fmt::Debug for TryBatch<S, C, W, O>
where
    S: TryStream + fmt::Debug,
    S::Ok: fmt::Debug,
    C: Clock + fmt::Debug,
    W: Weigh<S::Ok>,
    O: BatchOutput<S::Ok>,
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
    /// The pending batch must leave at once, for this reason: an item too heavy to share a
    /// batch came after a batch that was just yielded (or a weigher panicked on the item that
    /// filled the batch).
    due: Option<FlushReason>,
    /// When the pending batch's first item arrived (or, for a zero latency without
    /// [`records_opening`](BatchState::records_opening), the latest instant known without a
    /// reading).
    opened: Instant,
    /// The opening instant is wanted even without a deadline to count from it
    /// ([`Batch::with_reasons`]).
    records_opening: bool,
    /// A flush allocates the next batch's `Vec` (false for a key of a keyed batch, which is
    /// forgotten once flushed).
    refill: bool,
}

impl<T> BatchState<T, Unweighted> {
    /// `origin`: any instant of the adapter's clock, for `opened` before the first batch.
    #[track_caller]
    fn new(max_size: usize, max_latency: Duration, origin: Instant) -> Self {
        assert!(max_size > 0, "batch: `max_size` must be at least 1, got 0");
        BatchState {
            items: Vec::new(),
            max_size,
            max_latency,
            deadline: None,
            weigher: Unweighted,
            weight: 0,
            due: None,
            opened: origin,
            records_opening: false,
            refill: true,
        }
    }
}

impl<T, W> BatchState<T, W> {
    /// The arrival of an item that opens a batch: its deadline counts from it. A zero latency
    /// needs none (the batch leaves when the inner stream pauses), so then no reading is
    /// taken for it unless the opening instant is recorded. A recorded opening is read from
    /// the clock (one reading per batch): a date from the alarm is confirmed only later (see
    /// `restamp`), perhaps after the batch has left.
    fn arrival<C: Clock>(&self, at: &mut Arrival<'_, C>) -> Instant {
        if self.records_opening {
            at.exact()
        } else if self.timed() {
            at.time()
        } else {
            at.latest()
        }
    }

    /// A batch opens with an item that arrived at `arrival`.
    fn open_at(&mut self, arrival: Instant) {
        self.opened = arrival;
        self.deadline = if self.timed() {
            engine::checked_deadline(arrival, self.max_latency)
        } else {
            None
        };
    }

    /// Whether batches have a deadline to count from their first item's arrival.
    fn timed(&self) -> bool {
        self.max_latency != Duration::ZERO
    }

    /// Hands out the pending batch and closes its deadline. The next batch's `Vec` is
    /// allocated now, as large as this one: a steady source costs one allocation per batch,
    /// without reserving `max_size` up front, and memory stays bounded by the largest batch
    /// recently gathered.
    fn flush(&mut self, reason: FlushReason) -> Flushed<T> {
        let capacity = if self.refill { self.items.len() } else { 0 };
        let items = mem::replace(&mut self.items, Vec::with_capacity(capacity));
        self.close(items, reason)
    }

    /// The pending batch, as it leaves for `reason`; no batch is open after it.
    fn close(&mut self, items: Vec<T>, reason: FlushReason) -> Flushed<T> {
        self.deadline = None;
        self.weight = 0;
        self.due = None;
        Flushed {
            items,
            reason,
            opened_at: self.opened,
        }
    }

    fn take_pending(&mut self) -> Vec<T> {
        self.deadline = None;
        self.weight = 0;
        self.due = None;
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
            opened: self.opened,
            records_opening: self.records_opening,
            refill: self.refill,
        }
    }
}

impl<T, K: Clone, W: Weigh<T> + Clone> PerKey<K> for BatchState<T, W> {
    type Labeled = (K, Flushed<T>);

    fn label(key: Key<'_, K>, out: Flushed<T>) -> (K, Flushed<T>) {
        (key.into_owned(), out)
    }

    fn fresh(&self, origin: Instant) -> Self {
        BatchState {
            items: Vec::new(),
            max_size: self.max_size,
            max_latency: self.max_latency,
            deadline: None,
            weigher: self.weigher.clone(),
            weight: 0,
            due: None,
            opened: origin,
            records_opening: self.records_opening,
            refill: false,
        }
    }

    fn is_idle(&self) -> bool {
        self.items.is_empty() && self.due.is_none()
    }

    fn evict(&mut self) -> Option<Flushed<T>> {
        if self.items.is_empty() {
            return None;
        }
        let items = mem::take(&mut self.items);
        Some(self.close(items, FlushReason::MaxKeys))
    }

    fn acts_on_idle(&self) -> bool {
        self.max_latency == Duration::ZERO
    }
}

/// Settles a batch after a run of items joined it, even if the inner stream panicked in the
/// run: a batch the run opened counts its deadline from `time`; a full one is due.
struct RunEnd<'a, T, W> {
    state: &'a mut BatchState<T, W>,
    /// The batch was empty as the run began.
    opens: bool,
    time: Instant,
}

impl<T, W> Drop for RunEnd<'_, T, W> {
    fn drop(&mut self) {
        let state = &mut *self.state;
        if self.opens && !state.items.is_empty() {
            state.open_at(self.time);
        }
        if state.items.len() >= state.max_size {
            state.due = Some(FlushReason::Full);
        }
    }
}

impl<T, W: Weigh<T>> Machine for BatchState<T, W> {
    type Item = T;
    type Output = Flushed<T>;

    fn on_deadlines(&mut self, now: Instant) -> Option<Flushed<T>> {
        match (self.due, self.deadline) {
            (Some(reason), _) => Some(self.flush(reason)),
            (None, Some(deadline)) if now >= deadline => Some(self.flush(FlushReason::Deadline)),
            _ => None,
        }
    }

    #[inline]
    fn on_item<C: Clock>(&mut self, item: T, at: &mut Arrival<'_, C>) -> Option<Flushed<T>> {
        if W::ACTIVE {
            return self.on_weighed_item(item, at);
        }
        if self.items.is_empty() {
            let arrival = self.arrival(at);
            self.open_at(arrival);
        }
        self.items.push(item);
        if self.items.len() >= self.max_size {
            return Some(self.flush(FlushReason::Full));
        }
        None
    }

    fn dates_run(&self) -> bool {
        self.items.is_empty() && self.timed()
    }

    fn room(&self, _time: Instant) -> usize {
        // An item only joins the batch, or opens it (at `time`, unless the opening is
        // recorded: it gets a reading of its own); the last leaves it due.
        if W::ACTIVE || (self.items.is_empty() && self.records_opening) {
            0
        } else {
            self.max_size - self.items.len()
        }
    }

    #[inline(always)]
    fn absorb_run<R: Run<T>>(&mut self, run: R, time: Instant) -> R::Out {
        let run_end = RunEnd {
            opens: self.items.is_empty(),
            time,
            state: self,
        };
        run.run(|item| run_end.state.items.push(item))
    }

    fn on_idle(&mut self, _why: Idle) -> Option<Flushed<T>> {
        // A zero latency never waits: whatever is gathered leaves when the inner stream pauses
        // or the budget runs out.
        if self.max_latency == Duration::ZERO && !self.items.is_empty() {
            return Some(self.flush(FlushReason::Paused));
        }
        None
    }

    fn on_end(&mut self) -> Option<Flushed<T>> {
        // No batch follows the last one: nothing to allocate for it.
        if self.items.is_empty() {
            None
        } else {
            let items = mem::take(&mut self.items);
            Some(self.close(items, FlushReason::End))
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn wake_at(&self) -> Option<Instant> {
        self.deadline
    }

    fn due(&self) -> bool {
        self.due.is_some()
    }

    fn calls_out(&self) -> bool {
        W::ACTIVE
    }

    fn holds_dated(&self, from: Instant) -> bool {
        !self.items.is_empty() && self.opened >= from
    }

    fn restamp(&mut self, from: Instant, to: Instant) {
        // The pending batch opened with an item dated by the alarm: it arrived before `to`.
        if !self.items.is_empty() && (from..to).contains(&self.opened) {
            self.opened = to;
            if self.deadline.is_some() {
                self.deadline = engine::checked_deadline(to, self.max_latency);
            }
        }
    }

    fn rebase(&mut self, from: Instant, to: Instant) {
        if let Some(deadline) = self.deadline {
            self.deadline = engine::rebase(deadline, from, to);
        }
        self.opened = engine::rebase(self.opened, from, to).unwrap_or(to);
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
    fn on_weighed_item<C: Clock>(
        &mut self,
        item: T,
        at: &mut Arrival<'_, C>,
    ) -> Option<Flushed<T>> {
        // The arrival, taken before the weigher spends any time: this item opens a batch, or
        // may open the next one.
        let opens = self.items.is_empty();
        let arrival = self.arrival(at);
        if opens {
            self.open_at(arrival);
        }
        self.items.push(item);
        self.due = (self.items.len() >= self.max_size).then_some(FlushReason::Full);
        let weight = match self.items.last() {
            Some(item) => self.weigher.weigh(item),
            None => 0,
        };
        self.due = None;
        let max = self.weigher.max_weight();
        if !opens && self.weight.saturating_add(weight) > max {
            // The item would take the batch over its weight: the batch leaves without it, and
            // it opens the next one; if it is too heavy on its own, that one is due at once.
            let item = self.items.pop();
            let out = self.flush(FlushReason::Weight);
            self.items.extend(item);
            self.open_at(arrival);
            self.weight = weight;
            self.due = if weight > max {
                Some(FlushReason::Weight)
            } else {
                (self.items.len() >= self.max_size).then_some(FlushReason::Full)
            };
            return Some(out);
        }
        self.weight = self.weight.saturating_add(weight);
        if self.items.len() >= self.max_size {
            return Some(self.flush(FlushReason::Full));
        }
        if self.weight > max {
            return Some(self.flush(FlushReason::Weight));
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
