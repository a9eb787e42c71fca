//! [`Throttle`] and [`TryThrottle`].

use std::fmt;
use std::time::{Duration, Instant};

use futures_core::stream::{Stream, TryStream};

use crate::clock::Clock;
use crate::edge::Edge;
use crate::hooks::{self, Discard, DropHook};
use crate::machine::{self, Arrival, Idle, Machine};
use crate::macros::{adapter, edge_and_drop_builders};
use crate::run::Run;

adapter! {
    /// Stream for the [`throttle`](crate::StreamzExt::throttle) method.
    plain Throttle,
    /// Stream for the [`try_throttle`](crate::TryStreamzExt::try_throttle) method.
    try TryThrottle,
    state State,
    output Output,
    hook D: DropHook = Discard,
    into_inner_drops "A pending trailing item, if any, is dropped (without the drop hook), and so is an item waiting to be yielded at the next poll.",
}

/// What a throttle yields for items of type `T`.
type Output<T> = T;

/// The throttling state shared by [`Throttle`] and [`TryThrottle`].
struct State<T, D> {
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

impl<T> State<T, Discard> {
    fn new(period: Duration) -> Self {
        State {
            period,
            edge: Edge::Leading,
            window: Window::Closed,
            pending: None,
            hook: Discard,
        }
    }
}

impl<T, D> State<T, D> {
    fn with_hook<D2>(self, hook: D2) -> State<T, D2> {
        State {
            period: self.period,
            edge: self.edge,
            window: self.window,
            pending: self.pending,
            hook,
        }
    }

    fn open_window(&mut self, now: Instant) {
        self.window = Window::Open(machine::checked_deadline(now, self.period));
    }
}

impl<T, D: DropHook<T>> Machine for State<T, D> {
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
        hooks::keep_or_drop(self.edge, &mut self.pending, &mut self.hook, item);
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

    #[inline]
    fn absorb_run<R: Run<T>>(&mut self, run: R) -> R::Out {
        hooks::keep_or_drop_run(self.edge, &mut self.pending, &mut self.hook, run)
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
            self.window = Window::Open(machine::rebase(end, from, to));
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

    fn debug_fields(&self, out: &mut fmt::DebugStruct<'_, '_>)
    where
        T: fmt::Debug,
    {
        out.field("period", &self.period)
            .field("edge", &self.edge)
            .field("window", &self.window)
            .field("pending", &self.pending);
    }
}

macro_rules! builders {
    ($Name:ident, $Bound:ident, $Assoc:ident) => {
        edge_and_drop_builders! {
            $Name, $Bound, $Assoc,
            edge:
            /// Chooses which items of a window pass: [`Edge::Leading`] (the default), the first;
            /// [`Edge::Trailing`], the latest, at window end; [`Edge::Both`], both.
            ///
            /// Meant for use before the first poll. If called later, it applies to the items that
            /// arrive from then on; a trailing item already pending still leaves at the end of its
            /// window.
            on_drop:
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
        }
    };
}

builders!(Throttle, Stream, Item);
builders!(TryThrottle, TryStream, Ok);
