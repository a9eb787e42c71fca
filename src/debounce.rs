//! [`Debounce`] and [`TryDebounce`]: the items of a burst held back until it has been quiet
//! for `quiet`.
//!
//! The adapters hand every poll to the [`Engine`], which keeps the rules of time (timer
//! first, time order, the poll budget). What a debounce does with each item, quiet period and
//! pause is [`DebounceState`], at the end of this file.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::stream::{FusedStream, Stream, TryStream};
use pin_project::pin_project;

use crate::clock::Clock;
use crate::drop_hook::{Discard, DropHook, OnDrop, Stash};
use crate::edge::{self, Edge};
use crate::engine::{self, Arrival, Engine, Idle, Machine, Run};
use crate::keyed::{Key, PerKey};
use crate::macros::inner_accessors;
use crate::system_clock::SystemClock;

mod by_key;

pub use by_key::{DebounceBy, TryDebounceBy};

/// Stream for the [`debounce`](crate::StreamzExt::debounce) method.
///
/// The third type parameter is what is done with dropped items: [`Discard`] unless
/// [`on_drop`](Debounce::on_drop) was called.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct Debounce<S: Stream, C: Clock = SystemClock, D: DropHook<S::Item> = Discard> {
    #[pin]
    stream: S,
    state: DebounceState<S::Item, D>,
    engine: Engine<C, S::Item>,
}

/// Stream for the [`try_debounce`](crate::TryStreamzExt::try_debounce) method.
///
/// The third type parameter is what is done with dropped `Ok` values: [`Discard`] unless
/// [`on_drop`](TryDebounce::on_drop) was called.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct TryDebounce<S: TryStream, C: Clock = SystemClock, D: DropHook<S::Ok> = Discard> {
    #[pin]
    stream: S,
    state: DebounceState<S::Ok, D>,
    engine: Engine<C, Result<S::Ok, S::Error>>,
}

impl<S: Stream> Debounce<S> {
    pub(crate) fn new(stream: S, quiet: Duration) -> Self {
        Debounce {
            stream,
            state: DebounceState::new(quiet),
            engine: Engine::new(SystemClock),
        }
    }
}

impl<S: Stream, C: Clock> Debounce<S, C> {
    /// Hands every item that the debounce drops to `hook`, once, in the order they are
    /// dropped: pending items replaced by a newer one (`Trailing`, `Both`), and items
    /// arriving while a quiet period runs (`Leading`). To count or log them:
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::StreamzExt;
    ///
    /// let mut dropped = Vec::new();
    /// let passed: Vec<u32> = block_on(
    ///     stream::iter(1..=4)
    ///         .debounce(Duration::from_secs(1))
    ///         .on_drop(|item| dropped.push(item))
    ///         .collect(),
    /// );
    /// assert_eq!(passed, vec![4]);
    /// assert_eq!(dropped, vec![1, 2, 3]);
    /// ```
    ///
    /// Items still held when the adapter itself is dropped are dropped without the hook.
    pub fn on_drop<F: FnMut(S::Item)>(self, hook: F) -> Debounce<S, C, OnDrop<F>> {
        Debounce {
            stream: self.stream,
            state: self.state.with_hook(OnDrop(hook)),
            engine: self.engine,
        }
    }
}

impl<S: Stream, C: Clock, D: DropHook<S::Item>> Debounce<S, C, D> {
    /// Chooses which items of a run pass: [`Edge::Trailing`] (the default), the latest,
    /// once `quiet` has passed; [`Edge::Leading`], the first, at once; [`Edge::Both`], both
    /// (the latest only if it is not also the first).
    ///
    /// Meant for use before the first poll. If called later, it applies to the items that
    /// arrive from then on; a trailing item already pending still leaves when its quiet
    /// period ends.
    pub fn edge(mut self, edge: Edge) -> Self {
        self.state.edge = edge;
        self
    }

    /// Caps how long a run of items, each within `quiet` of the previous one, can
    /// hold back output: `max_wait` after the run's first item,
    ///
    /// - `Edge::Trailing`: the pending item is yielded, even if items keep coming; the
    ///   next item starts a new run;
    /// - `Edge::Leading`: the next item is yielded at once, as a leading item, though
    ///   the quiet period still runs; it starts a new run;
    /// - `Edge::Both`: the pending item (if one arrived after the leading one) is
    ///   yielded; the quiet period keeps running, so the next item is the first trailing
    ///   candidate of a new run.
    ///
    /// The deadline is literal: `max_wait(Duration::ZERO)` (with a zero `quiet`) lets
    /// every item through.
    ///
    /// # Panics
    ///
    /// Panics if `max_wait` is shorter than the `quiet` period.
    #[track_caller]
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.state.set_max_wait(max_wait);
        self
    }

    /// Replaces the clock, keeping every setting.
    ///
    /// Meant for use before the first poll. If called later, a pending trailing item is kept,
    /// and the running quiet period and `max_wait` keep the time they had left on the old
    /// clock: one already reached acts at the next poll.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Debounce<S, C2, D> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        Debounce {
            stream: self.stream,
            state,
            engine,
        }
    }

    inner_accessors!();
}

impl<S: TryStream> TryDebounce<S> {
    pub(crate) fn new(stream: S, quiet: Duration) -> Self {
        TryDebounce {
            stream,
            state: DebounceState::new(quiet),
            engine: Engine::new(SystemClock),
        }
    }
}

impl<S: TryStream, C: Clock> TryDebounce<S, C> {
    /// Hands every `Ok` value that the debounce drops to `hook`: as [`Debounce::on_drop`].
    pub fn on_drop<F: FnMut(S::Ok)>(self, hook: F) -> TryDebounce<S, C, OnDrop<F>> {
        TryDebounce {
            stream: self.stream,
            state: self.state.with_hook(OnDrop(hook)),
            engine: self.engine,
        }
    }
}

impl<S: TryStream, C: Clock, D: DropHook<S::Ok>> TryDebounce<S, C, D> {
    /// Chooses which `Ok` values of a run pass: as [`Debounce::edge`].
    pub fn edge(mut self, edge: Edge) -> Self {
        self.state.edge = edge;
        self
    }

    /// Caps how long a run of `Ok` values can hold back output: as [`Debounce::max_wait`].
    ///
    /// # Panics
    ///
    /// Panics if `max_wait` is shorter than the `quiet` period.
    #[track_caller]
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.state.set_max_wait(max_wait);
        self
    }

    /// Replaces the clock, keeping every setting: as [`Debounce::with_clock`].
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TryDebounce<S, C2, D> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        TryDebounce {
            stream: self.stream,
            state,
            engine,
        }
    }

    inner_accessors!();
}

impl<S, C, D> Stream for Debounce<S, C, D>
where
    S: Stream,
    C: Clock,
    D: DropHook<S::Item>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.engine
            .poll(this.stream, this.state, cx, Ok, |item| item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(&self.state, self.stream.size_hint())
    }
}

impl<S, T, E, C, D> Stream for TryDebounce<S, C, D>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
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

impl<S: Stream, C: Clock, D: DropHook<S::Item>> FusedStream for Debounce<S, C, D> {
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, T, E, C, D> FusedStream for TryDebounce<S, C, D>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    C: Clock,
    D: DropHook<T>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, C, D> fmt::Debug for Debounce<S, C, D>
where
    S: Stream + fmt::Debug,
    S::Item: fmt::Debug,
    C: Clock + fmt::Debug,
    D: DropHook<S::Item> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Debounce");
        out.field("stream", &self.stream);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}

impl<S, C, D> fmt::Debug for TryDebounce<S, C, D>
where
    S: TryStream + fmt::Debug,
    S::Ok: fmt::Debug,
    C: Clock + fmt::Debug,
    D: DropHook<S::Ok> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TryDebounce");
        out.field("stream", &self.stream);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}

/// What a debounce does with items, quiet periods and pauses: the machine that [`Debounce`]
/// and [`TryDebounce`] hand to the [`Engine`].
struct DebounceState<T, D> {
    quiet: Duration,
    max_wait: Option<Duration>,
    edge: Edge,
    /// While a quiet period runs, the arrival of the latest item, which started it: that item
    /// arrived less than `quiet` ago (or, for a zero `quiet`, the inner stream has not paused
    /// since).
    quiet_since: Option<Instant>,
    /// `max_wait` is zero: every item passes at once.
    passes_all: bool,
    /// The `max_wait` deadline of the current run, counted from its first item.
    run_end: Option<Instant>,
    /// `Edge::Leading` only: the run's `max_wait` has passed, so the next item leads though
    /// the quiet period still runs.
    run_over: bool,
    /// The trailing candidate: the latest item of the run that has not been yielded.
    pending: Option<T>,
    /// Receives every item dropped by the rules.
    hook: D,
}

impl<T> DebounceState<T, Discard> {
    fn new(quiet: Duration) -> Self {
        DebounceState {
            quiet,
            max_wait: None,
            edge: Edge::Trailing,
            quiet_since: None,
            passes_all: false,
            run_end: None,
            run_over: false,
            pending: None,
            hook: Discard,
        }
    }
}

impl<T, D> DebounceState<T, D> {
    fn with_hook<D2>(self, hook: D2) -> DebounceState<T, D2> {
        DebounceState {
            quiet: self.quiet,
            max_wait: self.max_wait,
            edge: self.edge,
            quiet_since: self.quiet_since,
            passes_all: self.passes_all,
            run_end: self.run_end,
            run_over: self.run_over,
            pending: self.pending,
            hook,
        }
    }

    /// Sets `max_wait` (see [`Debounce::max_wait`]).
    #[track_caller]
    fn set_max_wait(&mut self, max_wait: Duration) {
        assert!(
            max_wait >= self.quiet,
            "debounce: `max_wait` ({:?}) must not be shorter than `quiet` ({:?})",
            max_wait,
            self.quiet
        );
        self.max_wait = Some(max_wait);
        self.passes_all = max_wait == Duration::ZERO;
    }

    /// When the running quiet period ends, if it ends by time: not for a zero `quiet` (it ends
    /// when the inner stream pauses) nor for one past the range of `Instant`.
    fn quiet_end(&self) -> Option<Instant> {
        let since = self.quiet_since?;
        if self.quiet == Duration::ZERO {
            return None;
        }
        engine::checked_deadline(since, self.quiet)
    }

    /// The quiet period is over: the run ends, and its trailing item (if any) leaves.
    fn end_quiet(&mut self) -> Option<T> {
        self.quiet_since = None;
        self.run_end = None;
        self.run_over = false;
        self.pending.take()
    }

    /// The settings and the state, for the adapters' `Debug`.
    fn debug_fields(&self, out: &mut fmt::DebugStruct<'_, '_>)
    where
        T: fmt::Debug,
        D: fmt::Debug,
    {
        out.field("quiet", &self.quiet)
            .field("max_wait", &self.max_wait)
            .field("edge", &self.edge)
            .field("pending", &self.pending)
            .field("on_drop", &self.hook);
    }
}

impl<T, D: DropHook<T>> Machine for DebounceState<T, D> {
    type Item = T;
    type Output = T;

    fn on_deadlines(&mut self, now: Instant) -> Option<T> {
        if matches!(self.quiet_end(), Some(end) if now >= end) {
            return self.end_quiet();
        }
        if matches!(self.run_end, Some(end) if now >= end) {
            self.run_end = None;
            if let Some(item) = self.pending.take() {
                // `max_wait` cuts the run short: its latest item leaves, the quiet period
                // keeps running, and the next item starts a new run.
                return Some(item);
            }
            // With `Edge::Leading`, the next item leads.
            self.run_over = self.edge == Edge::Leading;
        }
        None
    }

    #[inline]
    fn on_item<C: Clock>(&mut self, item: T, at: &mut Arrival<'_, C>) -> Option<T> {
        if self.passes_all {
            // `max_wait` is zero (so `quiet` is too): every run is cut as it starts, and every
            // item passes, whatever the edge.
            return Some(item);
        }
        let idle = self.quiet_since.is_none();
        let leads = self.edge != Edge::Trailing && (idle || self.run_over);
        let starts_run = leads
            || (self.edge != Edge::Leading && self.run_end.is_none() && self.max_wait.is_some());
        // From the latest instant the item can have arrived at, so that nothing ends early. (A
        // zero quiet period without `max_wait` ends at a pause: its instant is not used.)
        let now = if self.quiet == Duration::ZERO && self.max_wait.is_none() {
            at.latest()
        } else {
            at.time()
        };
        // Every item, yielded or dropped, restarts the quiet period.
        self.quiet_since = Some(now);
        if starts_run {
            self.run_end = self.max_wait.and_then(|d| engine::checked_deadline(now, d));
            self.run_over = false;
        }
        if leads {
            return Some(item);
        }
        edge::keep_or_drop(self.edge, &mut self.pending, &mut self.hook, item);
        None
    }

    fn room(&self, time: Instant) -> usize {
        // While the quiet period restarted at `time` runs, an item only restarts it again
        // and is dropped or kept: unless it leads or starts a `max_wait` run.
        if self.passes_all || self.quiet_since != Some(time) {
            return 0;
        }
        let absorbs = match self.edge {
            Edge::Leading => !self.run_over,
            Edge::Trailing | Edge::Both => self.run_end.is_some() || self.max_wait.is_none(),
        };
        if absorbs {
            usize::MAX
        } else {
            0
        }
    }

    fn dates_run(&self) -> bool {
        true
    }

    fn dates_items(&self) -> bool {
        true
    }

    #[inline(always)]
    fn absorb_run<R: Run<T>>(&mut self, run: R, _time: Instant) -> R::Out {
        edge::keep_or_drop_run(self.edge, &mut self.pending, &mut self.hook, run)
    }

    fn on_idle(&mut self, why: Idle) -> Option<T> {
        // A zero quiet period lasts as long as the inner stream stays ready.
        if self.quiet == Duration::ZERO && self.quiet_since.is_some() && why == Idle::Pending {
            return self.end_quiet();
        }
        None
    }

    fn on_end(&mut self) -> Option<T> {
        self.end_quiet()
    }

    fn next_deadline(&self) -> Option<Instant> {
        match (self.quiet_end(), self.run_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn calls_out(&self) -> bool {
        !D::DOES_NOTHING
    }

    fn wake_at(&self) -> Option<Instant> {
        self.pending.as_ref()?;
        self.next_deadline()
    }

    fn restamp(&mut self, from: Instant, to: Instant) {
        // The latest item, or the run's first, was dated by the alarm: it arrived before `to`.
        if self
            .quiet_since
            .is_some_and(|since| (from..to).contains(&since))
        {
            self.quiet_since = Some(to);
        }
        if let (Some(end), Some(max_wait)) = (self.run_end, self.max_wait) {
            let start = end.checked_sub(max_wait);
            if start.is_some_and(|start| (from..to).contains(&start)) {
                self.run_end = engine::checked_deadline(to, max_wait);
            }
        }
    }

    fn rebase(&mut self, from: Instant, to: Instant) {
        if let Some(since) = self.quiet_since {
            self.quiet_since = Some(engine::rebase(since, from, to).unwrap_or(to));
        }
        if let Some(end) = self.run_end {
            self.run_end = engine::rebase(end, from, to);
        }
    }

    fn size_hint(&self, (lower, upper): (usize, Option<usize>)) -> (usize, Option<usize>) {
        let pending = usize::from(self.pending.is_some());
        // With a trailing edge, the last item (or an error) always comes out.
        let lower = if self.edge.trailing() && (pending > 0 || lower > 0) {
            1
        } else {
            0
        };
        (lower, upper.and_then(|upper| upper.checked_add(pending)))
    }
}

impl<T, K> PerKey<K> for DebounceState<T, Stash<T>> {
    type Labeled = T;

    fn label(_key: Key<'_, K>, out: T) -> T {
        out
    }

    fn fresh(&self, _origin: Instant) -> Self {
        DebounceState {
            quiet: self.quiet,
            max_wait: self.max_wait,
            edge: self.edge,
            quiet_since: None,
            passes_all: self.passes_all,
            run_end: None,
            run_over: false,
            pending: None,
            hook: Stash(None),
        }
    }

    fn is_idle(&self) -> bool {
        self.quiet_since.is_none() && self.run_end.is_none() && self.pending.is_none()
    }

    fn evict(&mut self) -> Option<T> {
        self.end_quiet()
    }

    fn take_dropped(&mut self) -> Option<T> {
        self.hook.0.take()
    }

    fn acts_on_idle(&self) -> bool {
        self.quiet == Duration::ZERO
    }
}
