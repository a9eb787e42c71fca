//! The [`Clock`] and [`Timer`] traits: the time source every adapter reads. The clocks that
//! ship with the crate are in files of their own: `system_clock.rs` (real time),
//! `manual_clock.rs` (virtual time) and `tokio_clock.rs` (tokio's time).

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A source of time for the adapters of this crate.
///
/// An adapter reads [`now`](Clock::now) to stamp arrivals and to check its deadline before
/// every poll of its inner stream, so `now` should be cheap. It creates at most one
/// [`Timer`] (with [`timer`](Clock::timer)), only when it is about to return
/// [`Poll::Pending`] while holding a deadline, and re-arms that same timer afterwards.
///
/// Two implementations ship with the crate: [`SystemClock`](crate::SystemClock) (the default,
/// real time) and [`ManualClock`](crate::ManualClock) (virtual time for tests). Implement the
/// trait to plug in another time source, for example a runtime's own timer.
pub trait Clock {
    /// The timer this clock hands out.
    type Timer: Timer;

    /// The current time of this clock.
    fn now(&self) -> Instant;

    /// A new timer, armed to fire at `deadline`.
    fn timer(&self, deadline: Instant) -> Self::Timer;

    /// How closely this clock's timers keep time while the task that armed them is busy
    /// inside `poll_next`: `Some(r)` if they fire, and wake their waker, within `r` after
    /// their deadline whatever that task is doing; `None` (the default) if they may have to
    /// wait until the task returns.
    ///
    /// With `Some(r)`, an adapter sees time pass by its timer alone: it reads the clock when
    /// the timer has fired, and for an item whose arrival time it needs unless its timer,
    /// armed within `r` of the latest reading, tells that time to within `2 r` (see the
    /// crate's "Timing precision"). A timer that fires later than `r` makes the adapter act
    /// that much late; an arrival time taken from it is confirmed by the next reading, so it
    /// is never early, but may be late by as much. With `None`, it reads
    /// the clock as each item arrives while it holds a deadline, so its timer only wakes the
    /// task.
    fn timer_resolution(&self) -> Option<Duration> {
        None
    }

    /// A function that reads this clock's time from any thread, if there is one (the default
    /// is `None`).
    ///
    /// With a reader and a nonzero [`timer_resolution`](Clock::timer_resolution), an adapter
    /// dates items that arrive densely by its timer (a reading saved per item), and confirms
    /// those dates by a later reading (see the crate's "Timing precision"): the timer's
    /// firing reads the time (on whatever thread fires it), which bounds the dates of the
    /// items that arrived before it. Without a reader, nothing would bound them but the
    /// adapter's next own reading, which may come after later items: such a clock's timer
    /// dates nothing, and every item whose arrival time is needed gets a reading.
    /// [`SystemClock`](crate::SystemClock) has one.
    fn reader(&self) -> Option<fn() -> Instant> {
        None
    }
}

/// A reusable one-shot timer, created by [`Clock::timer`].
///
/// A timer is armed for one deadline at a time. Once the deadline is reached it has *fired*:
/// [`poll_fired`](Timer::poll_fired) returns `Ready` until the timer is re-armed with
/// [`reset`](Timer::reset). Dropping a timer cancels it.
pub trait Timer: Unpin {
    /// Arms the timer for `deadline`, replacing the previous deadline, fired or not.
    fn reset(&mut self, deadline: Instant);

    /// `Ready` once the armed deadline has been reached; otherwise registers the waker of
    /// `cx` to be woken when it is, and returns `Pending`.
    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}
