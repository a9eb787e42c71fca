//! [`Batch`] and [`TryBatch`].

use std::convert::Infallible;
use std::fmt;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream, TryStream};
use pin_project::pin_project;

use crate::clock::{Clock, SystemClock};
use crate::deadline::{self, Budget, Deadline};

/// Stream for the [`batch`](crate::StreamzExt::batch) method.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct Batch<S: Stream, C: Clock = SystemClock> {
    #[pin]
    stream: S,
    core: Core<S::Item, C>,
}

/// Stream for the [`try_batch`](crate::TryStreamzExt::try_batch) method.
#[must_use = "streams do nothing unless polled"]
#[pin_project]
pub struct TryBatch<S: TryStream, C: Clock = SystemClock> {
    #[pin]
    stream: S,
    core: Core<S::Ok, C>,
}

/// The state machine shared by [`Batch`] and [`TryBatch`].
struct Core<T, C: Clock> {
    items: Vec<T>,
    max_size: usize,
    max_latency: Duration,
    clock: C,
    /// The deadline of the pending batch; unset while no batch is open, or when the latency is
    /// zero or too long to represent.
    deadline: Deadline<C::Timer>,
    /// Length of the last batch yielded: the capacity guess for the next one, so that a steady
    /// source costs one allocation per batch without reserving `max_size` up front.
    last_len: usize,
    /// The inner stream has ended; it is never polled again.
    done: bool,
}

impl<T, C: Clock> Core<T, C> {
    fn new(max_size: usize, max_latency: Duration, clock: C) -> Self {
        Core {
            items: Vec::new(),
            max_size,
            max_latency,
            clock,
            deadline: Deadline::new(),
            last_len: 0,
            done: false,
        }
    }

    fn with_clock<C2: Clock>(self, clock: C2) -> Core<T, C2> {
        let mut core = Core {
            items: self.items,
            max_size: self.max_size,
            max_latency: self.max_latency,
            clock,
            deadline: Deadline::new(),
            last_len: self.last_len,
            done: self.done,
        };
        // A deadline read on another clock means nothing on this one: a pending batch gets a
        // full `max_latency` on the new clock, from the moment of the swap.
        if !core.items.is_empty() {
            core.open_deadline();
        }
        core
    }

    fn open_deadline(&mut self) {
        if self.max_latency != Duration::ZERO {
            let now = self.clock.now();
            self.deadline.set(deadline::after(now, self.max_latency));
        }
    }

    /// Whether the pending batch's deadline has been reached. Reads the clock only while a
    /// deadline is set.
    #[inline]
    fn deadline_passed(&self) -> bool {
        self.deadline.get().is_some() && self.deadline.passed(self.clock.now())
    }

    /// Opens a batch with its first item, arriving now.
    fn push_first(&mut self, item: T) {
        if self.items.capacity() == 0 {
            self.items
                .reserve_exact(self.last_len.clamp(1, self.max_size));
        }
        self.items.push(item);
        self.open_deadline();
    }

    /// Hands out the pending batch and closes its deadline.
    fn flush(&mut self) -> Vec<T> {
        self.deadline.set(None);
        self.last_len = self.items.len();
        mem::take(&mut self.items)
    }

    fn take_pending(&mut self) -> Vec<T> {
        self.deadline.set(None);
        mem::take(&mut self.items)
    }

    fn poll<S, E>(
        &mut self,
        mut stream: Pin<&mut S>,
        cx: &mut Context<'_>,
        split: impl Fn(S::Item) -> Result<T, E>,
    ) -> Poll<Option<Result<Vec<T>, E>>>
    where
        S: Stream,
    {
        if self.done {
            return Poll::Ready(None);
        }
        // Timer first: a deadline that passed while the task waited closes the batch before
        // another item can join it.
        if self.deadline_passed() {
            return Poll::Ready(Some(Ok(self.flush())));
        }
        let mut budget = Budget::new();
        loop {
            if !budget.take() {
                if self.max_latency == Duration::ZERO && !self.items.is_empty() {
                    return Poll::Ready(Some(Ok(self.flush())));
                }
                return deadline::yield_now(cx);
            }
            match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => match split(item) {
                    Ok(item) => {
                        // The clock is read once per item: for its arrival time, and for the
                        // deadline check that must come before the next inner poll. An item
                        // that arrives at or after the deadline opens the next batch.
                        if self.deadline_passed() {
                            let batch = self.flush();
                            self.push_first(item);
                            return Poll::Ready(Some(Ok(batch)));
                        }
                        if self.items.is_empty() {
                            self.push_first(item);
                        } else {
                            self.items.push(item);
                        }
                        if self.items.len() >= self.max_size {
                            return Poll::Ready(Some(Ok(self.flush())));
                        }
                    }
                    // An error overtakes the pending batch and leaves it, and its deadline, as
                    // they are.
                    Err(e) => return Poll::Ready(Some(Err(e))),
                },
                Poll::Ready(None) => {
                    self.done = true;
                    if self.items.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(self.flush())));
                }
                Poll::Pending => {
                    if self.items.is_empty() {
                        return Poll::Pending;
                    }
                    if self.max_latency == Duration::ZERO {
                        return Poll::Ready(Some(Ok(self.flush())));
                    }
                    // The inner stream has registered the waker; the timer registers it for the
                    // deadline too (or, without a representable deadline, nothing needs to).
                    return match self.deadline.poll_wait(&self.clock, cx) {
                        Poll::Ready(()) => Poll::Ready(Some(Ok(self.flush()))),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }

    fn size_hint(&self, (lower, upper): (usize, Option<usize>)) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let pending = self.items.len();
        // Every batch holds at most `max_size` items, and at least one item or one error.
        let lower = lower.saturating_add(pending);
        let lower = lower / self.max_size + usize::from(lower % self.max_size != 0);
        let upper = upper.and_then(|upper| upper.checked_add(pending));
        (lower, upper)
    }
}

impl<T: fmt::Debug, C: Clock + fmt::Debug> Core<T, C> {
    fn debug(
        &self,
        name: &str,
        stream: &dyn fmt::Debug,
        f: &mut fmt::Formatter<'_>,
    ) -> fmt::Result {
        f.debug_struct(name)
            .field("stream", stream)
            .field("pending", &self.items)
            .field("max_size", &self.max_size)
            .field("max_latency", &self.max_latency)
            .field("clock", &self.clock)
            .field("deadline", &self.deadline.get())
            .field("done", &self.done)
            .finish()
    }
}

#[track_caller]
fn check_max_size(max_size: usize) {
    assert!(max_size > 0, "batch: `max_size` must be at least 1, got 0");
}

macro_rules! accessors {
    ($name:ident, $item:ty) => {
        /// A reference to the inner stream.
        pub fn get_ref(&self) -> &S {
            &self.stream
        }

        /// A mutable reference to the inner stream.
        ///
        /// Taking items from it directly bypasses the batch.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.stream
        }

        /// A pinned mutable reference to the inner stream.
        ///
        /// Taking items from it directly bypasses the batch.
        pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut S> {
            self.project().stream
        }

        /// The inner stream. The pending items, if any, are dropped: call
        /// [`take_pending`](Self::take_pending) first to keep them.
        pub fn into_inner(self) -> S {
            self.stream
        }

        /// Takes the items of the pending batch, leaving the adapter with no open batch (and no
        /// deadline). Nothing is lost: the next item opens a new batch.
        pub fn take_pending(self: Pin<&mut Self>) -> Vec<$item> {
            self.project().core.take_pending()
        }

        /// Replaces the clock, keeping every setting.
        ///
        /// Meant for use before the first poll. If a batch is pending, its items are kept and
        /// its deadline restarts on the new clock: it is yielded at the latest `max_latency`
        /// after the swap.
        pub fn with_clock<C2: Clock>(self, clock: C2) -> $name<S, C2> {
            $name {
                stream: self.stream,
                core: self.core.with_clock(clock),
            }
        }
    };
}

impl<S: Stream> Batch<S> {
    #[track_caller]
    pub(crate) fn new(stream: S, max_size: usize, max_latency: Duration) -> Self {
        check_max_size(max_size);
        Batch {
            stream,
            core: Core::new(max_size, max_latency, SystemClock),
        }
    }
}

impl<S: Stream, C: Clock> Batch<S, C> {
    accessors!(Batch, S::Item);
}

impl<S: Stream, C: Clock> Stream for Batch<S, C> {
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.core
            .poll(this.stream, cx, Ok::<_, Infallible>)
            .map(|batch| {
                batch.map(|batch| match batch {
                    Ok(batch) => batch,
                    Err(never) => match never {},
                })
            })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.core.size_hint(self.stream.size_hint())
    }
}

impl<S: Stream, C: Clock> FusedStream for Batch<S, C> {
    fn is_terminated(&self) -> bool {
        self.core.done
    }
}

impl<S, C> fmt::Debug for Batch<S, C>
where
    S: Stream + fmt::Debug,
    S::Item: fmt::Debug,
    C: Clock + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.debug("Batch", &self.stream, f)
    }
}

impl<S: TryStream> TryBatch<S> {
    #[track_caller]
    pub(crate) fn new(stream: S, max_size: usize, max_latency: Duration) -> Self {
        check_max_size(max_size);
        TryBatch {
            stream,
            core: Core::new(max_size, max_latency, SystemClock),
        }
    }
}

impl<S: TryStream, C: Clock> TryBatch<S, C> {
    accessors!(TryBatch, S::Ok);
}

impl<S, T, E, C> Stream for TryBatch<S, C>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    C: Clock,
{
    type Item = Result<Vec<T>, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.core.poll(this.stream, cx, |item| item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.core.size_hint(self.stream.size_hint())
    }
}

impl<S, T, E, C> FusedStream for TryBatch<S, C>
where
    S: TryStream<Ok = T, Error = E> + Stream<Item = Result<T, E>>,
    C: Clock,
{
    fn is_terminated(&self) -> bool {
        self.core.done
    }
}

impl<S, C> fmt::Debug for TryBatch<S, C>
where
    S: TryStream + fmt::Debug,
    S::Ok: fmt::Debug,
    C: Clock + fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.debug("TryBatch", &self.stream, f)
    }
}
