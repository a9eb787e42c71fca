//! [`BatchBy`] and [`TryBatchBy`]: a batch per key, each with the rules of [`Batch`]
//! (`super::BatchState` per key), all keys on one timer (see [`keyed`](crate::keyed)).

use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream, TryStream};
use pin_project::pin_project;

use super::BatchState;
use crate::clock::Clock;
use crate::drop_hook::Discard;
use crate::engine::Engine;
use crate::flushed::{BatchOutput, Flushed};
use crate::keyed::Keyed;
use crate::macros::inner_accessors;
use crate::system_clock::SystemClock;
use crate::weigh::{Unweighted, Weigh, Weighted};

#[cfg(doc)]
use super::Batch;

type KeyedBatch<K, T, F, W> = Keyed<K, BatchState<T, W>, F, Discard>;

/// A batch that left, with its key.
type KeyedFlushed<K, T> = (K, Flushed<T>);

/// What a `try_` keyed batch's engine yields.
type TryKeyedFlushed<K, T, E> = Result<(K, Flushed<T>), E>;

/// Stream for the [`batch_by`](crate::StreamzExt::batch_by) method: yields `(key, batch)`.
///
/// `K` is the key type and `F` the key function. The last type parameter is what each batch
/// comes out as: its items (a `Vec`), or a [`Flushed`] with why it left, after
/// [`with_reasons`](BatchBy::with_reasons).
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct BatchBy<
    S: Stream,
    K: Hash + Eq + Clone,
    F,
    C: Clock = SystemClock,
    W: Weigh<S::Item> + Clone = Unweighted,
    O: BatchOutput<S::Item> = Vec<<S as Stream>::Item>,
> {
    #[pin]
    stream: S,
    state: KeyedBatch<K, S::Item, F, W>,
    engine: Engine<C, KeyedFlushed<K, S::Item>>,
    output: PhantomData<fn() -> O>,
}

/// Stream for the [`try_batch_by`](crate::TryStreamzExt::try_batch_by) method: yields
/// `Ok((key, batch))`, and each error at once.
///
/// The type parameters are those of [`BatchBy`], for the `Ok` values.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct TryBatchBy<
    S: TryStream,
    K: Hash + Eq + Clone,
    F,
    C: Clock = SystemClock,
    W: Weigh<S::Ok> + Clone = Unweighted,
    O: BatchOutput<S::Ok> = Vec<<S as TryStream>::Ok>,
> {
    #[pin]
    stream: S,
    state: KeyedBatch<K, S::Ok, F, W>,
    engine: Engine<C, TryKeyedFlushed<K, S::Ok, S::Error>>,
    output: PhantomData<fn() -> O>,
}

#[track_caller]
fn keyed_batch<K, T, F, C>(
    key_fn: F,
    max_size: usize,
    max_latency: Duration,
    engine: &Engine<C, impl Sized>,
    name: &str,
) -> KeyedBatch<K, T, F, Unweighted>
where
    K: Hash + Eq + Clone,
    F: FnMut(&T) -> K,
    C: Clock,
{
    assert!(
        max_size > 0,
        "{}: `max_size` must be at least 1, got 0",
        name
    );
    let template = BatchState::new(max_size, max_latency, engine.last_reading());
    Keyed::new(key_fn, template, Discard, engine.last_reading())
}

impl<S, K, F> BatchBy<S, K, F>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
{
    #[track_caller]
    pub(crate) fn new(stream: S, key_fn: F, max_size: usize, max_latency: Duration) -> Self {
        let engine = Engine::new(SystemClock);
        BatchBy {
            stream,
            state: keyed_batch(key_fn, max_size, max_latency, &engine, "batch_by"),
            engine,
            output: PhantomData,
        }
    }
}

impl<S, K, F, C, O> BatchBy<S, K, F, C, Unweighted, O>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    O: BatchOutput<S::Item>,
{
    /// Bounds each key's batch in total weight too, as `weigh` measures each item (see
    /// [`Batch::max_weight`]). Each key's batch is weighed on its own, with a copy of `weigh`
    /// (hence `G: Clone`, as a closure that captures nothing, or only shared data, is).
    pub fn max_weight<G>(self, max_weight: usize, weigh: G) -> BatchBy<S, K, F, C, Weighted<G>, O>
    where
        G: FnMut(&S::Item) -> usize + Clone,
    {
        let weigher = Weighted { max_weight, weigh };
        BatchBy {
            stream: self.stream,
            state: self
                .state
                .map_states(|state| state.with_weigher(weigher.clone())),
            engine: self.engine,
            output: PhantomData,
        }
    }
}

impl<S, K, F, C, W> BatchBy<S, K, F, C, W>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    W: Weigh<S::Item> + Clone,
{
    /// Yields each batch as a [`Flushed`], with why it left and when its first item arrived
    /// (see [`Batch::with_reasons`]). A batch that made room for a new key under
    /// [`max_keys`](BatchBy::max_keys) says [`FlushReason::MaxKeys`](crate::FlushReason).
    pub fn with_reasons(mut self) -> BatchBy<S, K, F, C, W, Flushed<S::Item>> {
        self.state.configure(|state| state.records_opening = true);
        BatchBy {
            stream: self.stream,
            state: self.state,
            engine: self.engine,
            output: PhantomData,
        }
    }
}

impl<S, K, F, C, W, O> BatchBy<S, K, F, C, W, O>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    W: Weigh<S::Item> + Clone,
    O: BatchOutput<S::Item>,
{
    /// Bounds the number of keys with a pending batch. When an item of a new key arrives
    /// while `max_keys` keys hold a batch, the batch with the earliest deadline leaves at once
    /// (ties: the one opened first), before the item is taken; the rest keep their items and
    /// deadlines. Without this call there is no bound: memory follows the keys that hold a
    /// batch, as a key whose batch leaves is forgotten.
    ///
    /// # Panics
    ///
    /// Panics if `max_keys` is 0.
    #[track_caller]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.state.set_max_keys(max_keys, "batch_by");
        self
    }

    /// Replaces the clock, keeping every setting.
    ///
    /// Meant for use before the first poll. If called later, every pending batch is kept with
    /// the time its deadline had left on the old clock; a deadline already reached acts at the
    /// next poll.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> BatchBy<S, K, F, C2, W, O> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        BatchBy {
            stream: self.stream,
            state,
            engine,
            output: PhantomData,
        }
    }

    /// How many keys hold a pending batch.
    pub fn keys(&self) -> usize {
        self.state.keys()
    }

    inner_accessors!();
}

impl<S, K, F> TryBatchBy<S, K, F>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
{
    #[track_caller]
    pub(crate) fn new(stream: S, key_fn: F, max_size: usize, max_latency: Duration) -> Self {
        let engine = Engine::new(SystemClock);
        TryBatchBy {
            stream,
            state: keyed_batch(key_fn, max_size, max_latency, &engine, "try_batch_by"),
            engine,
            output: PhantomData,
        }
    }
}

impl<S, K, F, C, O> TryBatchBy<S, K, F, C, Unweighted, O>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
    C: Clock,
    O: BatchOutput<S::Ok>,
{
    /// Bounds each key's batch in total weight too (see [`BatchBy::max_weight`]).
    pub fn max_weight<G>(
        self,
        max_weight: usize,
        weigh: G,
    ) -> TryBatchBy<S, K, F, C, Weighted<G>, O>
    where
        G: FnMut(&S::Ok) -> usize + Clone,
    {
        let weigher = Weighted { max_weight, weigh };
        TryBatchBy {
            stream: self.stream,
            state: self
                .state
                .map_states(|state| state.with_weigher(weigher.clone())),
            engine: self.engine,
            output: PhantomData,
        }
    }
}

impl<S, K, F, C, W> TryBatchBy<S, K, F, C, W>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
    C: Clock,
    W: Weigh<S::Ok> + Clone,
{
    /// Yields each batch as a [`Flushed`] (see [`BatchBy::with_reasons`]).
    pub fn with_reasons(mut self) -> TryBatchBy<S, K, F, C, W, Flushed<S::Ok>> {
        self.state.configure(|state| state.records_opening = true);
        TryBatchBy {
            stream: self.stream,
            state: self.state,
            engine: self.engine,
            output: PhantomData,
        }
    }
}

impl<S, K, F, C, W, O> TryBatchBy<S, K, F, C, W, O>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
    C: Clock,
    W: Weigh<S::Ok> + Clone,
    O: BatchOutput<S::Ok>,
{
    /// Bounds the number of keys with a pending batch (see [`BatchBy::max_keys`]).
    ///
    /// # Panics
    ///
    /// Panics if `max_keys` is 0.
    #[track_caller]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.state.set_max_keys(max_keys, "try_batch_by");
        self
    }

    /// Replaces the clock, keeping every setting (see [`BatchBy::with_clock`]).
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TryBatchBy<S, K, F, C2, W, O> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        TryBatchBy {
            stream: self.stream,
            state,
            engine,
            output: PhantomData,
        }
    }

    /// How many keys hold a pending batch.
    pub fn keys(&self) -> usize {
        self.state.keys()
    }

    inner_accessors!();
}

impl<S, K, F, C, W, O> Stream for BatchBy<S, K, F, C, W, O>
where
    W: Weigh<S::Item> + Clone,
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    O: BatchOutput<S::Item>,
{
    type Item = (K, O);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<(K, O)>> {
        let this = self.project();
        let out = this.engine.poll(this.stream, this.state, cx, Ok, |out| out);
        out.map(|out| out.map(|(key, flushed)| (key, O::from_flushed(flushed))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(&self.state, self.stream.size_hint())
    }
}

impl<S, T, E, K, F, C, W, O> Stream for TryBatchBy<S, K, F, C, W, O>
where
    W: Weigh<T> + Clone,
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    K: Hash + Eq + Clone,
    F: FnMut(&T) -> K,
    C: Clock,
    O: BatchOutput<T>,
{
    type Item = Result<(K, O), E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        // An error passes at once, touching nothing else.
        let out = this
            .engine
            .poll(this.stream, this.state, cx, |item| item.map_err(Err), Ok);
        out.map(|out| out.map(|out| out.map(|(key, flushed)| (key, O::from_flushed(flushed)))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(&self.state, self.stream.size_hint())
    }
}

impl<S, K, F, C, W, O> FusedStream for BatchBy<S, K, F, C, W, O>
where
    W: Weigh<S::Item> + Clone,
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    O: BatchOutput<S::Item>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, T, E, K, F, C, W, O> FusedStream for TryBatchBy<S, K, F, C, W, O>
where
    W: Weigh<T> + Clone,
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    K: Hash + Eq + Clone,
    F: FnMut(&T) -> K,
    C: Clock,
    O: BatchOutput<T>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, K, F, C, W, O> fmt::Debug for BatchBy<S, K, F, C, W, O>
where
    W: Weigh<S::Item> + Clone,
    S: Stream + fmt::Debug,
    K: Hash + Eq + Clone,
    C: Clock + fmt::Debug,
    O: BatchOutput<S::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("BatchBy");
        out.field("stream", &self.stream)
            .field("max_size", &self.state.template.max_size)
            .field("max_latency", &self.state.template.max_latency);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}

impl<S, K, F, C, W, O> fmt::Debug for TryBatchBy<S, K, F, C, W, O>
where
    W: Weigh<S::Ok> + Clone,
    S: TryStream + fmt::Debug,
    K: Hash + Eq + Clone,
    C: Clock + fmt::Debug,
    O: BatchOutput<S::Ok>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TryBatchBy");
        out.field("stream", &self.stream)
            .field("max_size", &self.state.template.max_size)
            .field("max_latency", &self.state.template.max_latency);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}
