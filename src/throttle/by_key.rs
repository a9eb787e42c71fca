//! [`ThrottleBy`] and [`TryThrottleBy`]: a throttle per key, each with the rules of
//! [`Throttle`] (`super::ThrottleState` per key), all keys on one timer (see
//! [`keyed`](crate::keyed)).

use std::fmt;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream, TryStream};
use pin_project::pin_project;

use super::ThrottleState;
use crate::clock::Clock;
use crate::drop_hook::{Discard, DropHook, OnDrop, Stash};
use crate::edge::Edge;
use crate::engine::Engine;
use crate::keyed::Keyed;
use crate::macros::inner_accessors;
use crate::system_clock::SystemClock;

#[cfg(doc)]
use super::Throttle;

type KeyedThrottle<K, T, F, D> = Keyed<K, ThrottleState<T, Stash<T>>, F, D>;

/// Stream for the [`throttle_by`](crate::StreamzExt::throttle_by) method.
///
/// `K` is the key type and `F` the key function. The last type parameter is what is done with
/// dropped items: [`Discard`] unless [`on_drop`](ThrottleBy::on_drop) was called.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct ThrottleBy<
    S: Stream,
    K: Hash + Eq + Clone,
    F,
    C: Clock = SystemClock,
    D: DropHook<S::Item> = Discard,
> {
    #[pin]
    stream: S,
    state: KeyedThrottle<K, S::Item, F, D>,
    engine: Engine<C, S::Item>,
}

/// Stream for the [`try_throttle_by`](crate::TryStreamzExt::try_throttle_by) method.
///
/// The type parameters are those of [`ThrottleBy`], for the `Ok` values.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct TryThrottleBy<
    S: TryStream,
    K: Hash + Eq + Clone,
    F,
    C: Clock = SystemClock,
    D: DropHook<S::Ok> = Discard,
> {
    #[pin]
    stream: S,
    state: KeyedThrottle<K, S::Ok, F, D>,
    engine: Engine<C, Result<S::Ok, S::Error>>,
}

impl<S, K, F> ThrottleBy<S, K, F>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
{
    pub(crate) fn new(stream: S, key_fn: F, period: Duration) -> Self {
        let template = ThrottleState::new(period).with_hook(Stash(None));
        let engine = Engine::new(SystemClock);
        ThrottleBy {
            stream,
            state: Keyed::new(key_fn, template, Discard, engine.last_reading()),
            engine,
        }
    }
}

impl<S, K, F, C> ThrottleBy<S, K, F, C>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
{
    /// Hands every item that the throttle drops, of any key, to `hook`, once, in the order
    /// they are dropped (see [`Throttle::on_drop`]).
    pub fn on_drop<H: FnMut(S::Item)>(self, hook: H) -> ThrottleBy<S, K, F, C, OnDrop<H>> {
        ThrottleBy {
            stream: self.stream,
            state: self.state.with_hook(OnDrop(hook)),
            engine: self.engine,
        }
    }
}

impl<S, K, F, C, D> ThrottleBy<S, K, F, C, D>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    D: DropHook<S::Item>,
{
    /// Chooses which items of each key's window pass (see [`Throttle::edge`]).
    pub fn edge(mut self, edge: Edge) -> Self {
        self.state.configure(|state| state.edge = edge);
        self
    }

    /// Bounds the number of keys with an open window. When an item of a new key arrives
    /// while `max_keys` keys have one, the window that ends first (ties: the one opened
    /// first) ends at once: its trailing item, if any, is yielded now, and its key is
    /// forgotten (its next item passes as if no window had been open), before the item is
    /// taken. Without this call there is no bound: memory follows the keys with an open
    /// window, as a key whose window ends with nothing pending is forgotten.
    ///
    /// # Panics
    ///
    /// Panics if `max_keys` is 0.
    #[track_caller]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.state.set_max_keys(max_keys, "throttle_by");
        self
    }

    /// Replaces the clock, keeping every setting.
    ///
    /// Meant for use before the first poll. If called later, every open window keeps the time
    /// it had left on the old clock; a window whose end was reached ends at the next poll.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> ThrottleBy<S, K, F, C2, D> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        ThrottleBy {
            stream: self.stream,
            state,
            engine,
        }
    }

    /// How many keys have an open window.
    pub fn keys(&self) -> usize {
        self.state.keys()
    }

    inner_accessors!();
}

impl<S, K, F> TryThrottleBy<S, K, F>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
{
    pub(crate) fn new(stream: S, key_fn: F, period: Duration) -> Self {
        let template = ThrottleState::new(period).with_hook(Stash(None));
        let engine = Engine::new(SystemClock);
        TryThrottleBy {
            stream,
            state: Keyed::new(key_fn, template, Discard, engine.last_reading()),
            engine,
        }
    }
}

impl<S, K, F, C> TryThrottleBy<S, K, F, C>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
    C: Clock,
{
    /// Hands every `Ok` value that the throttle drops to `hook` (see
    /// [`ThrottleBy::on_drop`]).
    pub fn on_drop<H: FnMut(S::Ok)>(self, hook: H) -> TryThrottleBy<S, K, F, C, OnDrop<H>> {
        TryThrottleBy {
            stream: self.stream,
            state: self.state.with_hook(OnDrop(hook)),
            engine: self.engine,
        }
    }
}

impl<S, K, F, C, D> TryThrottleBy<S, K, F, C, D>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
    C: Clock,
    D: DropHook<S::Ok>,
{
    /// Chooses which `Ok` values of each key's window pass (see [`Throttle::edge`]).
    pub fn edge(mut self, edge: Edge) -> Self {
        self.state.configure(|state| state.edge = edge);
        self
    }

    /// Bounds the number of keys with an open window (see [`ThrottleBy::max_keys`]).
    ///
    /// # Panics
    ///
    /// Panics if `max_keys` is 0.
    #[track_caller]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.state.set_max_keys(max_keys, "try_throttle_by");
        self
    }

    /// Replaces the clock, keeping every setting (see [`ThrottleBy::with_clock`]).
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TryThrottleBy<S, K, F, C2, D> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        TryThrottleBy {
            stream: self.stream,
            state,
            engine,
        }
    }

    /// How many keys have an open window.
    pub fn keys(&self) -> usize {
        self.state.keys()
    }

    inner_accessors!();
}

impl<S, K, F, C, D> Stream for ThrottleBy<S, K, F, C, D>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    D: DropHook<S::Item>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        this.engine
            .poll(this.stream, this.state, cx, Ok, |item| item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(&self.state, self.stream.size_hint())
    }
}

impl<S, T, E, K, F, C, D> Stream for TryThrottleBy<S, K, F, C, D>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    K: Hash + Eq + Clone,
    F: FnMut(&T) -> K,
    C: Clock,
    D: DropHook<T>,
{
    type Item = Result<T, E>;

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

impl<S, K, F, C, D> FusedStream for ThrottleBy<S, K, F, C, D>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    D: DropHook<S::Item>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, T, E, K, F, C, D> FusedStream for TryThrottleBy<S, K, F, C, D>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    K: Hash + Eq + Clone,
    F: FnMut(&T) -> K,
    C: Clock,
    D: DropHook<T>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, K, F, C, D> fmt::Debug for ThrottleBy<S, K, F, C, D>
where
    S: Stream + fmt::Debug,
    K: Hash + Eq + Clone,
    C: Clock + fmt::Debug,
    D: DropHook<S::Item> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("ThrottleBy");
        out.field("stream", &self.stream)
            .field("period", &self.state.template.period)
            .field("edge", &self.state.template.edge);
        self.state.debug_fields(&mut out);
        out.field("on_drop", self.state.hook())
            .field("clock", self.engine.clock())
            .finish()
    }
}

impl<S, K, F, C, D> fmt::Debug for TryThrottleBy<S, K, F, C, D>
where
    S: TryStream + fmt::Debug,
    K: Hash + Eq + Clone,
    C: Clock + fmt::Debug,
    D: DropHook<S::Ok> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TryThrottleBy");
        out.field("stream", &self.stream)
            .field("period", &self.state.template.period)
            .field("edge", &self.state.template.edge);
        self.state.debug_fields(&mut out);
        out.field("on_drop", self.state.hook())
            .field("clock", self.engine.clock())
            .finish()
    }
}
