//! [`DebounceBy`] and [`TryDebounceBy`]: a debounce per key, each with the rules of
//! [`Debounce`] (`super::DebounceState` per key), all keys on one timer (see
//! [`keyed`](crate::keyed)).

use std::fmt;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream, TryStream};
use pin_project::pin_project;

use super::DebounceState;
use crate::clock::Clock;
use crate::drop_hook::{Discard, DropHook, OnDrop, Stash};
use crate::edge::Edge;
use crate::engine::Engine;
use crate::keyed::Keyed;
use crate::macros::inner_accessors;
use crate::system_clock::SystemClock;

#[cfg(doc)]
use super::Debounce;

type KeyedDebounce<K, T, F, D> = Keyed<K, DebounceState<T, Stash<T>>, F, D>;

/// Stream for the [`debounce_by`](crate::StreamzExt::debounce_by) method.
///
/// `K` is the key type and `F` the key function. The last type parameter is what is done with
/// dropped items: [`Discard`] unless [`on_drop`](DebounceBy::on_drop) was called.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct DebounceBy<
    S: Stream,
    K: Hash + Eq + Clone,
    F,
    C: Clock = SystemClock,
    D: DropHook<S::Item> = Discard,
> {
    #[pin]
    stream: S,
    state: KeyedDebounce<K, S::Item, F, D>,
    engine: Engine<C, S::Item>,
}

/// Stream for the [`try_debounce_by`](crate::TryStreamzExt::try_debounce_by) method.
///
/// The type parameters are those of [`DebounceBy`], for the `Ok` values.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct TryDebounceBy<
    S: TryStream,
    K: Hash + Eq + Clone,
    F,
    C: Clock = SystemClock,
    D: DropHook<S::Ok> = Discard,
> {
    #[pin]
    stream: S,
    state: KeyedDebounce<K, S::Ok, F, D>,
    engine: Engine<C, Result<S::Ok, S::Error>>,
}

impl<S, K, F> DebounceBy<S, K, F>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
{
    pub(crate) fn new(stream: S, key_fn: F, quiet: Duration) -> Self {
        let template = DebounceState::new(quiet).with_hook(Stash(None));
        let engine = Engine::new(SystemClock);
        DebounceBy {
            stream,
            state: Keyed::new(key_fn, template, Discard, engine.last_reading()),
            engine,
        }
    }
}

impl<S, K, F, C> DebounceBy<S, K, F, C>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
{
    /// Hands every item that the debounce drops, of any key, to `hook`, once, in the order
    /// they are dropped (see [`Debounce::on_drop`]).
    pub fn on_drop<H: FnMut(S::Item)>(self, hook: H) -> DebounceBy<S, K, F, C, OnDrop<H>> {
        DebounceBy {
            stream: self.stream,
            state: self.state.with_hook(OnDrop(hook)),
            engine: self.engine,
        }
    }
}

impl<S, K, F, C, D> DebounceBy<S, K, F, C, D>
where
    S: Stream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Item) -> K,
    C: Clock,
    D: DropHook<S::Item>,
{
    /// Chooses which items of each key's quiet period pass (see [`Debounce::edge`]).
    pub fn edge(mut self, edge: Edge) -> Self {
        self.state.configure(|state| state.edge = edge);
        self
    }

    /// Bounds how long each key's run may hold its items back: `max_wait` after the run's
    /// first item (see [`Debounce::max_wait`]).
    ///
    /// # Panics
    ///
    /// Panics if `max_wait` is shorter than `quiet`.
    #[track_caller]
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        let quiet = self.state.template.quiet;
        assert!(
            max_wait >= quiet,
            "{}: `max_wait` ({:?}) must not be shorter than `quiet` ({:?})",
            "debounce_by",
            max_wait,
            quiet
        );
        self.state.configure(|state| state.set_max_wait(max_wait));
        self
    }

    /// Bounds the number of keys with a running quiet period. When an item of a new key
    /// arrives while `max_keys` keys have one, the quiet period that ends first (ties: the
    /// key that became active first) ends at once: its pending item, if any, is yielded now
    /// (nothing is dropped), and its key is forgotten (its next item is handled as after a
    /// quiet period), before the item is taken. Without this call there is no bound: memory
    /// follows the keys whose quiet period runs, as a key is forgotten when it ends.
    ///
    /// # Panics
    ///
    /// Panics if `max_keys` is 0.
    #[track_caller]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.state.set_max_keys(max_keys, "debounce_by");
        self
    }

    /// Replaces the clock, keeping every setting.
    ///
    /// Meant for use before the first poll. If called later, every quiet period keeps the time
    /// it had left on the old clock; one whose end was reached ends at the next poll.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> DebounceBy<S, K, F, C2, D> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        DebounceBy {
            stream: self.stream,
            state,
            engine,
        }
    }

    /// How many keys have a running quiet period.
    pub fn keys(&self) -> usize {
        self.state.keys()
    }

    inner_accessors!();
}

impl<S, K, F> TryDebounceBy<S, K, F>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
{
    pub(crate) fn new(stream: S, key_fn: F, quiet: Duration) -> Self {
        let template = DebounceState::new(quiet).with_hook(Stash(None));
        let engine = Engine::new(SystemClock);
        TryDebounceBy {
            stream,
            state: Keyed::new(key_fn, template, Discard, engine.last_reading()),
            engine,
        }
    }
}

impl<S, K, F, C> TryDebounceBy<S, K, F, C>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
    C: Clock,
{
    /// Hands every `Ok` value that the debounce drops to `hook` (see
    /// [`DebounceBy::on_drop`]).
    pub fn on_drop<H: FnMut(S::Ok)>(self, hook: H) -> TryDebounceBy<S, K, F, C, OnDrop<H>> {
        TryDebounceBy {
            stream: self.stream,
            state: self.state.with_hook(OnDrop(hook)),
            engine: self.engine,
        }
    }
}

impl<S, K, F, C, D> TryDebounceBy<S, K, F, C, D>
where
    S: TryStream,
    K: Hash + Eq + Clone,
    F: FnMut(&S::Ok) -> K,
    C: Clock,
    D: DropHook<S::Ok>,
{
    /// Chooses which `Ok` values of each key's quiet period pass (see [`Debounce::edge`]).
    pub fn edge(mut self, edge: Edge) -> Self {
        self.state.configure(|state| state.edge = edge);
        self
    }

    /// Bounds how long each key's run may hold its items back: `max_wait` after the run's
    /// first item (see [`Debounce::max_wait`]).
    ///
    /// # Panics
    ///
    /// Panics if `max_wait` is shorter than `quiet`.
    #[track_caller]
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        let quiet = self.state.template.quiet;
        assert!(
            max_wait >= quiet,
            "{}: `max_wait` ({:?}) must not be shorter than `quiet` ({:?})",
            "try_debounce_by",
            max_wait,
            quiet
        );
        self.state.configure(|state| state.set_max_wait(max_wait));
        self
    }

    /// Bounds the number of keys with a running quiet period (see [`DebounceBy::max_keys`]).
    ///
    /// # Panics
    ///
    /// Panics if `max_keys` is 0.
    #[track_caller]
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.state.set_max_keys(max_keys, "try_debounce_by");
        self
    }

    /// Replaces the clock, keeping every setting (see [`DebounceBy::with_clock`]).
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TryDebounceBy<S, K, F, C2, D> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        TryDebounceBy {
            stream: self.stream,
            state,
            engine,
        }
    }

    /// How many keys have a running quiet period.
    pub fn keys(&self) -> usize {
        self.state.keys()
    }

    inner_accessors!();
}

impl<S, K, F, C, D> Stream for DebounceBy<S, K, F, C, D>
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

impl<S, T, E, K, F, C, D> Stream for TryDebounceBy<S, K, F, C, D>
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

impl<S, K, F, C, D> FusedStream for DebounceBy<S, K, F, C, D>
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

impl<S, T, E, K, F, C, D> FusedStream for TryDebounceBy<S, K, F, C, D>
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

impl<S, K, F, C, D> fmt::Debug for DebounceBy<S, K, F, C, D>
where
    S: Stream + fmt::Debug,
    K: Hash + Eq + Clone,
    C: Clock + fmt::Debug,
    D: DropHook<S::Item> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("DebounceBy");
        out.field("stream", &self.stream)
            .field("quiet", &self.state.template.quiet)
            .field("max_wait", &self.state.template.max_wait)
            .field("edge", &self.state.template.edge);
        self.state.debug_fields(&mut out);
        out.field("on_drop", self.state.hook())
            .field("clock", self.engine.clock())
            .finish()
    }
}

impl<S, K, F, C, D> fmt::Debug for TryDebounceBy<S, K, F, C, D>
where
    S: TryStream + fmt::Debug,
    K: Hash + Eq + Clone,
    C: Clock + fmt::Debug,
    D: DropHook<S::Ok> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TryDebounceBy");
        out.field("stream", &self.stream)
            .field("quiet", &self.state.template.quiet)
            .field("max_wait", &self.state.template.max_wait)
            .field("edge", &self.state.template.edge);
        self.state.debug_fields(&mut out);
        out.field("on_drop", self.state.hook())
            .field("clock", self.engine.clock())
            .finish()
    }
}
