//! [`Batch`] and [`TryBatch`].

use std::fmt;
use std::mem;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::stream::{Stream, TryStream};

use crate::clock::{Clock, SystemClock};
use crate::engine::{self, adapter, Engine, Idle, Machine};

adapter! {
    /// Stream for the [`batch`](crate::StreamzExt::batch) method.
    plain Batch,
    /// Stream for the [`try_batch`](crate::TryStreamzExt::try_batch) method.
    try TryBatch,
    state State,
    output |T| Vec<T>,
    into_inner_drops "The pending items, if any, are dropped: call [`take_pending`](Self::take_pending) first to keep them.",
}

/// The batching state shared by [`Batch`] and [`TryBatch`].
struct State<T> {
    items: Vec<T>,
    max_size: usize,
    max_latency: Duration,
    /// The deadline of the pending batch; `None` while no batch is open, or when the latency
    /// is zero or too long to represent.
    deadline: Option<Instant>,
}

impl<T> State<T> {
    #[track_caller]
    fn new(max_size: usize, max_latency: Duration) -> Self {
        assert!(max_size > 0, "batch: `max_size` must be at least 1, got 0");
        State {
            items: Vec::new(),
            max_size,
            max_latency,
            deadline: None,
        }
    }

    /// The deadline of a batch opening at `now`.
    fn deadline_from(&self, now: Instant) -> Option<Instant> {
        if self.max_latency == Duration::ZERO {
            None
        } else {
            engine::after(now, self.max_latency)
        }
    }

    /// Hands out the pending batch and closes its deadline. The next batch's `Vec` is
    /// allocated now, as large as this one: a steady source costs one allocation per batch,
    /// without reserving `max_size` up front, and memory stays bounded by the largest batch
    /// recently gathered.
    fn flush(&mut self) -> Vec<T> {
        self.deadline = None;
        let capacity = self.items.len();
        mem::replace(&mut self.items, Vec::with_capacity(capacity))
    }

    fn take_pending(&mut self) -> Vec<T> {
        self.deadline = None;
        mem::take(&mut self.items)
    }
}

impl<T> Machine for State<T> {
    type Item = T;
    type Output = Vec<T>;

    fn on_deadlines(&mut self, now: Instant) -> Option<Vec<T>> {
        match self.deadline {
            Some(deadline) if now >= deadline => Some(self.flush()),
            _ => None,
        }
    }

    #[inline]
    fn on_item(&mut self, item: T, now: Instant) -> Option<Vec<T>> {
        self.items.push(item);
        let len = self.items.len();
        if len == 1 {
            // The first item opens the batch.
            self.deadline = self.deadline_from(now);
        }
        if len >= self.max_size {
            return Some(self.flush());
        }
        None
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

    fn wake_at(&self) -> Option<Instant> {
        self.deadline
    }

    fn lazy_clock(&self) -> bool {
        true
    }

    fn needs_arrival(&self) -> bool {
        // Only the first item of a batch: it sets the deadline.
        self.items.is_empty()
    }

    fn restart(&mut self, now: Instant) {
        if !self.items.is_empty() {
            self.deadline = self.deadline_from(now);
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

    fn debug_fields(&self, out: &mut fmt::DebugStruct<'_, '_>)
    where
        T: fmt::Debug,
    {
        out.field("pending", &self.items)
            .field("max_size", &self.max_size)
            .field("max_latency", &self.max_latency)
            .field("deadline", &self.deadline);
    }
}

impl<S: Stream> Batch<S> {
    #[track_caller]
    pub(crate) fn new(stream: S, max_size: usize, max_latency: Duration) -> Self {
        Batch {
            stream,
            state: State::new(max_size, max_latency),
            engine: Engine::new(SystemClock),
        }
    }
}

impl<S: Stream, C: Clock> Batch<S, C> {
    /// Takes the items of the pending batch, leaving the adapter with no open batch (and no
    /// deadline). Nothing is lost: the next item opens a new batch.
    pub fn take_pending(self: Pin<&mut Self>) -> Vec<S::Item> {
        self.project().state.take_pending()
    }
}

impl<S: TryStream> TryBatch<S> {
    #[track_caller]
    pub(crate) fn new(stream: S, max_size: usize, max_latency: Duration) -> Self {
        TryBatch {
            stream,
            state: State::new(max_size, max_latency),
            engine: Engine::new(SystemClock),
        }
    }
}

impl<S: TryStream, C: Clock> TryBatch<S, C> {
    /// Takes the `Ok` values of the pending batch, leaving the adapter with no open batch (and
    /// no deadline). Nothing is lost: the next value opens a new batch.
    pub fn take_pending(self: Pin<&mut Self>) -> Vec<S::Ok> {
        self.project().state.take_pending()
    }
}
