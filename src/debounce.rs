//! [`Debounce`] and [`TryDebounce`].

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
    /// Stream for the [`debounce`](crate::StreamzExt::debounce) method.
    plain Debounce,
    /// Stream for the [`try_debounce`](crate::TryStreamzExt::try_debounce) method.
    try TryDebounce,
    state State,
    output Output,
    hook D: DropHook = Discard,
    into_inner_drops "A pending trailing item, if any, is dropped (without the drop hook), and so is an item waiting to be yielded at the next poll.",
}

/// What a debounce yields for items of type `T`.
type Output<T> = T;

/// The debouncing state shared by [`Debounce`] and [`TryDebounce`].
struct State<T, D> {
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

impl<T> State<T, Discard> {
    fn new(quiet: Duration) -> Self {
        State {
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

impl<T, D> State<T, D> {
    fn with_hook<D2>(self, hook: D2) -> State<T, D2> {
        State {
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

    /// When the running quiet period ends, if it ends by time: not for a zero `quiet` (it ends
    /// when the inner stream pauses) nor for one past the range of `Instant`.
    fn quiet_end(&self) -> Option<Instant> {
        let since = self.quiet_since?;
        if self.quiet == Duration::ZERO {
            return None;
        }
        machine::checked_deadline(since, self.quiet)
    }

    /// The quiet period is over: the run ends, and its trailing item (if any) leaves.
    fn end_quiet(&mut self) -> Option<T> {
        self.quiet_since = None;
        self.run_end = None;
        self.run_over = false;
        self.pending.take()
    }
}

impl<T, D: DropHook<T>> Machine for State<T, D> {
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
            self.run_end = self
                .max_wait
                .and_then(|d| machine::checked_deadline(now, d));
            self.run_over = false;
        }
        if leads {
            return Some(item);
        }
        hooks::keep_or_drop(self.edge, &mut self.pending, &mut self.hook, item);
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

    #[inline]
    fn absorb_run<R: Run<T>>(&mut self, run: R) -> R::Out {
        hooks::keep_or_drop_run(self.edge, &mut self.pending, &mut self.hook, run)
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

    fn rebase(&mut self, from: Instant, to: Instant) {
        if let Some(since) = self.quiet_since {
            self.quiet_since = Some(machine::rebase(since, from, to).unwrap_or(to));
        }
        if let Some(end) = self.run_end {
            self.run_end = machine::rebase(end, from, to);
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

    fn debug_fields(&self, out: &mut fmt::DebugStruct<'_, '_>)
    where
        T: fmt::Debug,
    {
        out.field("quiet", &self.quiet)
            .field("max_wait", &self.max_wait)
            .field("edge", &self.edge)
            .field("pending", &self.pending);
    }
}

macro_rules! builders {
    ($Name:ident, $Bound:ident, $Assoc:ident) => {
        edge_and_drop_builders! {
            $Name, $Bound, $Assoc,
            edge:
            /// Chooses which items of a run pass: [`Edge::Trailing`] (the default), the latest,
            /// once `quiet` has passed; [`Edge::Leading`], the first, at once; [`Edge::Both`], both
            /// (the latest only if it is not also the first).
            ///
            /// Meant for use before the first poll. If called later, it applies to the items that
            /// arrive from then on; a trailing item already pending still leaves when its quiet
            /// period ends.
            on_drop:
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
        }

        impl<S: $Bound, C: Clock, D: DropHook<S::$Assoc>> $Name<S, C, D> {
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
                assert!(
                    max_wait >= self.state.quiet,
                    "debounce: `max_wait` ({:?}) must not be shorter than `quiet` ({:?})",
                    max_wait,
                    self.state.quiet
                );
                self.state.max_wait = Some(max_wait);
                self.state.passes_all = max_wait == Duration::ZERO;
                self
            }
        }
    };
}

builders!(Debounce, Stream, Item);
builders!(TryDebounce, TryStream, Ok);
