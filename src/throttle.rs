//! [`Throttle`] and [`TryThrottle`]: at most one item per window of `period`.
//!
//! The adapters hand every poll to the [`Engine`], which keeps the rules of time (timer
//! first, time order, the poll budget). What a throttle does with each item and window end is
//! [`ThrottleState`], at the end of this file.

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

pub use by_key::{ThrottleBy, TryThrottleBy};

/// Stream for the [`throttle`](crate::StreamzExt::throttle) method.
///
/// The third type parameter is what is done with dropped items: [`Discard`] unless
/// [`on_drop`](Throttle::on_drop) was called.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct Throttle<S: Stream, C: Clock = SystemClock, D: DropHook<S::Item> = Discard> {
    #[pin]
    stream: S,
    state: ThrottleState<S::Item, D>,
    engine: Engine<C, S::Item>,
}

/// Stream for the [`try_throttle`](crate::TryStreamzExt::try_throttle) method.
///
/// The third type parameter is what is done with dropped `Ok` values: [`Discard`] unless
/// [`on_drop`](TryThrottle::on_drop) was called.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct TryThrottle<S: TryStream, C: Clock = SystemClock, D: DropHook<S::Ok> = Discard> {
    #[pin]
    stream: S,
    state: ThrottleState<S::Ok, D>,
    engine: Engine<C, Result<S::Ok, S::Error>>,
}

impl<S: Stream> Throttle<S> {
    pub(crate) fn new(stream: S, period: Duration) -> Self {
        Throttle {
            stream,
            state: ThrottleState::new(period),
            engine: Engine::new(SystemClock),
        }
    }
}

impl<S: Stream, C: Clock> Throttle<S, C> {
    /// Hands every item that the throttle drops to `hook`, once, in the order they are
    /// dropped: items arriving in an open window (`Leading`), trailing candidates replaced
    /// by a newer one (`Trailing`, `Both`), and a trailing item that can never leave at the
    /// end of the stream. To count or log them:
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Duration;
    /// use futures::{executor::block_on, stream, StreamExt};
    /// use streamz::StreamzExt;
    ///
    /// let dropped = AtomicUsize::new(0);
    /// let passed: Vec<u32> = block_on(
    ///     stream::iter(1..=5)
    ///         .throttle(Duration::from_secs(1))
    ///         .on_drop(|_item| {
    ///             dropped.fetch_add(1, Ordering::Relaxed);
    ///         })
    ///         .collect(),
    /// );
    /// assert_eq!(passed, vec![1]);
    /// assert_eq!(dropped.load(Ordering::Relaxed), 4);
    /// ```
    ///
    /// Items still held when the adapter itself is dropped are dropped without the hook.
    pub fn on_drop<F: FnMut(S::Item)>(self, hook: F) -> Throttle<S, C, OnDrop<F>> {
        Throttle {
            stream: self.stream,
            state: self.state.with_hook(OnDrop(hook)),
            engine: self.engine,
        }
    }
}

impl<S: Stream, C: Clock, D: DropHook<S::Item>> Throttle<S, C, D> {
    /// Chooses which items of a window pass: [`Edge::Leading`] (the default), the first;
    /// [`Edge::Trailing`], the latest, at window end; [`Edge::Both`], both.
    ///
    /// Meant for use before the first poll. If called later, it applies to the items that
    /// arrive from then on; a trailing item already pending still leaves at the end of its
    /// window.
    pub fn edge(mut self, edge: Edge) -> Self {
        self.state.edge = edge;
        self
    }

    /// Replaces the clock, keeping every setting.
    ///
    /// Meant for use before the first poll. If called later, a pending trailing item is kept,
    /// and the open window keeps the time it had left on the old clock: a window whose end was
    /// already reached ends at the next poll.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Throttle<S, C2, D> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        Throttle {
            stream: self.stream,
            state,
            engine,
        }
    }

    inner_accessors!();
}

impl<S: TryStream> TryThrottle<S> {
    pub(crate) fn new(stream: S, period: Duration) -> Self {
        TryThrottle {
            stream,
            state: ThrottleState::new(period),
            engine: Engine::new(SystemClock),
        }
    }
}

impl<S: TryStream, C: Clock> TryThrottle<S, C> {
    /// Hands every `Ok` value that the throttle drops to `hook`: as [`Throttle::on_drop`].
    pub fn on_drop<F: FnMut(S::Ok)>(self, hook: F) -> TryThrottle<S, C, OnDrop<F>> {
        TryThrottle {
            stream: self.stream,
            state: self.state.with_hook(OnDrop(hook)),
            engine: self.engine,
        }
    }
}

impl<S: TryStream, C: Clock, D: DropHook<S::Ok>> TryThrottle<S, C, D> {
    /// Chooses which `Ok` values of a window pass: as [`Throttle::edge`].
    pub fn edge(mut self, edge: Edge) -> Self {
        self.state.edge = edge;
        self
    }

    /// Replaces the clock, keeping every setting: as [`Throttle::with_clock`].
    pub fn with_clock<C2: Clock>(self, clock: C2) -> TryThrottle<S, C2, D> {
        let mut state = self.state;
        let engine = self.engine.with_clock(&mut state, clock);
        TryThrottle {
            stream: self.stream,
            state,
            engine,
        }
    }

    inner_accessors!();
}

impl<S, C, D> Stream for Throttle<S, C, D>
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

impl<S, T, E, C, D> Stream for TryThrottle<S, C, D>
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

impl<S: Stream, C: Clock, D: DropHook<S::Item>> FusedStream for Throttle<S, C, D> {
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, T, E, C, D> FusedStream for TryThrottle<S, C, D>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    C: Clock,
    D: DropHook<T>,
{
    fn is_terminated(&self) -> bool {
        self.engine.is_terminated(&self.state)
    }
}

impl<S, C, D> fmt::Debug for Throttle<S, C, D>
where
    S: Stream + fmt::Debug,
    S::Item: fmt::Debug,
    C: Clock + fmt::Debug,
    D: DropHook<S::Item> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Throttle");
        out.field("stream", &self.stream);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}

impl<S, C, D> fmt::Debug for TryThrottle<S, C, D>
where
    S: TryStream + fmt::Debug,
    S::Ok: fmt::Debug,
    C: Clock + fmt::Debug,
    D: DropHook<S::Ok> + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TryThrottle");
        out.field("stream", &self.stream);
        self.state.debug_fields(&mut out);
        out.field("clock", self.engine.clock()).finish()
    }
}

/// What a throttle does with items and window ends: the machine that [`Throttle`] and
/// [`TryThrottle`] hand to the [`Engine`].
struct ThrottleState<T, D> {
    period: Duration,
    edge: Edge,
    window: Window,
    /// The trailing candidate: the latest item received in the open window.
    pending: Option<T>,
    /// Receives every item dropped by the rules.
    hook: D,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Window {
    Closed,
    /// Open until the instant given; `None`: open for good (a period past the range of
    /// `Instant`).
    Open(Option<Instant>),
}

impl<T> ThrottleState<T, Discard> {
    fn new(period: Duration) -> Self {
        ThrottleState {
            period,
            edge: Edge::Leading,
            window: Window::Closed,
            pending: None,
            hook: Discard,
        }
    }
}

impl<T, D> ThrottleState<T, D> {
    fn with_hook<D2>(self, hook: D2) -> ThrottleState<T, D2> {
        ThrottleState {
            period: self.period,
            edge: self.edge,
            window: self.window,
            pending: self.pending,
            hook,
        }
    }

    fn open_window(&mut self, now: Instant) {
        self.window = Window::Open(engine::checked_deadline(now, self.period));
    }

    /// The settings and the state, for the adapters' `Debug`.
    fn debug_fields(&self, out: &mut fmt::DebugStruct<'_, '_>)
    where
        T: fmt::Debug,
        D: fmt::Debug,
    {
        out.field("period", &self.period)
            .field("edge", &self.edge)
            .field("window", &self.window)
            .field("pending", &self.pending)
            .field("on_drop", &self.hook);
    }
}

impl<T, D: DropHook<T>> Machine for ThrottleState<T, D> {
    type Item = T;
    type Output = T;

    fn on_deadlines(&mut self, now: Instant) -> Option<T> {
        match self.window {
            Window::Open(Some(end)) if now >= end => match self.pending.take() {
                // The trailing item leaves, and its emission opens the next window.
                Some(item) => {
                    self.open_window(now);
                    Some(item)
                }
                None => {
                    self.window = Window::Closed;
                    None
                }
            },
            _ => None,
        }
    }

    #[inline]
    fn on_item<C: Clock>(&mut self, item: T, at: &mut Arrival<'_, C>) -> Option<T> {
        if let Window::Closed = self.window {
            if self.period == Duration::ZERO {
                // Every window ends as it opens: every item passes, whatever the edge.
                return Some(item);
            }
            self.open_window(at.exact());
            if self.edge != Edge::Trailing {
                return Some(item);
            }
        }
        edge::keep_or_drop(self.edge, &mut self.pending, &mut self.hook, item);
        None
    }

    fn room(&self, _time: Instant) -> usize {
        // In an open window, every item that arrives before its end is dropped or becomes the
        // trailing candidate.
        match self.window {
            Window::Open(_) => usize::MAX,
            Window::Closed => 0,
        }
    }

    #[inline(always)]
    fn absorb_run<R: Run<T>>(&mut self, run: R, _time: Instant) -> R::Out {
        edge::keep_or_drop_run(self.edge, &mut self.pending, &mut self.hook, run)
    }

    fn on_idle(&mut self, _why: Idle) -> Option<T> {
        None
    }

    fn on_end(&mut self) -> Option<T> {
        if self.window == Window::Open(None) {
            // The window never ends, so the trailing item could never leave.
            if let Some(item) = self.pending.take() {
                self.hook.dropped(item);
            }
        }
        None
    }

    fn next_deadline(&self) -> Option<Instant> {
        match self.window {
            Window::Open(end) => end,
            Window::Closed => None,
        }
    }

    fn calls_out(&self) -> bool {
        !D::DOES_NOTHING
    }

    fn wake_at(&self) -> Option<Instant> {
        match self.window {
            Window::Open(end) if self.pending.is_some() => end,
            _ => None,
        }
    }

    fn rebase(&mut self, from: Instant, to: Instant) {
        if let Window::Open(Some(end)) = self.window {
            self.window = Window::Open(engine::rebase(end, from, to));
        }
    }

    fn size_hint(&self, (_, upper): (usize, Option<usize>)) -> (usize, Option<usize>) {
        // Any item may be dropped, but a trailing item waiting for a window that ends is
        // yielded.
        let pending = usize::from(self.pending.is_some());
        let lower = if matches!(self.window, Window::Open(Some(_))) {
            pending
        } else {
            0
        };
        (lower, upper.and_then(|upper| upper.checked_add(pending)))
    }
}

impl<T, K> PerKey<K> for ThrottleState<T, Stash<T>> {
    type Labeled = T;

    fn label(_key: Key<'_, K>, out: T) -> T {
        out
    }

    fn fresh(&self, _origin: Instant) -> Self {
        ThrottleState {
            period: self.period,
            edge: self.edge,
            window: Window::Closed,
            pending: None,
            hook: Stash(None),
        }
    }

    fn is_idle(&self) -> bool {
        self.window == Window::Closed && self.pending.is_none()
    }

    fn evict(&mut self) -> Option<T> {
        self.window = Window::Closed;
        self.pending.take()
    }

    fn take_dropped(&mut self) -> Option<T> {
        self.hook.0.take()
    }

    fn acts_on_idle(&self) -> bool {
        false
    }
}
