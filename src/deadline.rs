//! The deadline, timer and poll-budget handling shared by every adapter.
//!
//! An adapter keeps one [`Deadline`]. It compares the deadline with the clock before every
//! inner poll ([`Deadline::passed`], a plain comparison), and arms the one timer behind it only
//! when it is about to return `Pending` ([`Deadline::poll_wait`]).

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::clock::{Clock, Timer};

/// How many inner items one `poll_next` call may take without yielding anything before it
/// wakes its own task and returns `Pending`, so that an always-ready source cannot starve the
/// executor.
pub(crate) const BUDGET: u32 = 128;

/// `now + d`, or `None` ("no time bound") when that lies past the range of [`Instant`].
#[inline]
pub(crate) fn after(now: Instant, d: Duration) -> Option<Instant> {
    now.checked_add(d)
}

/// A deadline and the single reusable timer that wakes the task when it is reached.
#[derive(Debug)]
pub(crate) struct Deadline<T> {
    /// The deadline, if one is set. `None` also stands for a deadline too far away to represent.
    at: Option<Instant>,
    timer: Option<T>,
    /// The deadline `timer` is armed for, until it fires and that firing is consumed.
    armed: Option<Instant>,
}

impl<T: Timer> Deadline<T> {
    pub(crate) fn new() -> Self {
        Deadline {
            at: None,
            timer: None,
            armed: None,
        }
    }

    #[inline]
    pub(crate) fn get(&self) -> Option<Instant> {
        self.at
    }

    /// Sets (or with `None` clears) the deadline. The timer is not touched here: it is re-armed
    /// lazily by [`poll_wait`](Self::poll_wait), and only when the task is about to wait.
    #[inline]
    pub(crate) fn set(&mut self, at: Option<Instant>) {
        self.at = at;
    }

    /// Whether the deadline is set and has been reached at `now` (deadlines are inclusive).
    #[inline]
    pub(crate) fn passed(&self, now: Instant) -> bool {
        matches!(self.at, Some(at) if now >= at)
    }

    /// Registers the task to be woken when the deadline is reached: `Ready` if it already is.
    ///
    /// Without a deadline this returns `Pending` and registers nothing; the caller must then
    /// rely on the inner stream's waker registration.
    ///
    /// A timer still armed for an *earlier* deadline is kept rather than re-armed (re-arming
    /// costs more than a spurious early wake-up); when it fires, it is re-armed for the
    /// current deadline here.
    pub(crate) fn poll_wait<C>(&mut self, clock: &C, cx: &mut Context<'_>) -> Poll<()>
    where
        C: Clock<Timer = T>,
    {
        let Some(at) = self.at else {
            return Poll::Pending;
        };
        loop {
            match &mut self.timer {
                None => {
                    self.timer = Some(clock.timer(at));
                    self.armed = Some(at);
                }
                Some(timer) => {
                    if !matches!(self.armed, Some(armed) if armed <= at) {
                        timer.reset(at);
                        self.armed = Some(at);
                    }
                }
            }
            if let Some(timer) = &mut self.timer {
                match timer.poll_fired(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        if self.armed.take() == Some(at) {
                            return Poll::Ready(());
                        }
                        // An earlier arming fired; loop to re-arm for `at`.
                    }
                }
            }
        }
    }
}

/// Counts the inner items taken by one `poll_next` call.
#[derive(Debug)]
pub(crate) struct Budget(u32);

impl Budget {
    #[inline]
    pub(crate) fn new() -> Self {
        Budget(BUDGET)
    }

    /// Takes one unit; `false` when the budget is spent.
    #[inline]
    pub(crate) fn take(&mut self) -> bool {
        if self.0 == 0 {
            false
        } else {
            self.0 -= 1;
            true
        }
    }
}

/// Wakes the task so the executor polls it again soon, and returns `Pending`: the way out of a
/// `poll_next` call whose budget is spent.
#[inline]
pub(crate) fn yield_now<R>(cx: &mut Context<'_>) -> Poll<R> {
    cx.waker().wake_by_ref();
    Poll::Pending
}
