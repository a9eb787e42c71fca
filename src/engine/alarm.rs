//! [`Alarm`]: a [`Timer`] whose firing is a flag, read with one atomic load.
//!
//! The timer is polled with a waker of the alarm's own, once per arming. When the timer fires,
//! that waker raises the flag and wakes the task registered with the alarm, if any. So an
//! adapter can look at its deadline before every poll of its inner stream, and as every item
//! arrives, for the price of a load; and a deadline that yields nothing can be watched without
//! waking the task.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use futures_util::task::AtomicWaker;

use crate::clock::Timer;

/// What the timer wakes: it raises the flag, reads the time if it can, then passes the
/// wake-up on to the task.
#[derive(Debug)]
struct Signal {
    fired: AtomicBool,
    /// When the flag was raised, at the latest: nanoseconds after `anchor`, plus one; 0 while
    /// unknown (not raised, or no reader, or not stored yet).
    fired_at: AtomicU64,
    reader: Option<fn() -> Instant>,
    anchor: Instant,
    task: AtomicWaker,
}

impl Signal {
    fn raise(&self) {
        self.fired.store(true, Ordering::Release);
        // Read after the flag rose: an item seen with the flag down arrived before this.
        if let Some(read) = self.reader {
            let nanos = read().saturating_duration_since(self.anchor).as_nanos();
            let stamp = u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1;
            self.fired_at.store(stamp, Ordering::Release);
        }
    }
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.raise();
        self.task.wake();
    }
}

/// A timer and the flag it raises.
pub(crate) struct Alarm<T> {
    timer: T,
    signal: Arc<Signal>,
    /// A waker of `signal`, handed to the timer.
    waker: Waker,
    /// The task waker registered with `signal` since the last arming, if any: registering the
    /// same one again is skipped.
    task: Option<Waker>,
}

impl<T: Timer> Alarm<T> {
    /// An alarm on `timer`, which is armed already; `reader` reads the clock's time from any
    /// thread, if it can ([`Clock::reader`](crate::Clock::reader)), and `now` is that time.
    pub(crate) fn new(timer: T, reader: Option<fn() -> Instant>, now: Instant) -> Self {
        let signal = Arc::new(Signal {
            fired: AtomicBool::new(false),
            fired_at: AtomicU64::new(0),
            reader,
            anchor: now,
            task: AtomicWaker::new(),
        });
        let mut alarm = Alarm {
            timer,
            waker: Waker::from(signal.clone()),
            signal,
            task: None,
        };
        alarm.listen();
        alarm
    }

    /// Arms the alarm for `at`, lowering the flag; raises it at once if `at` is reached.
    pub(crate) fn arm(&mut self, at: Instant) {
        self.timer.reset(at);
        self.signal.fired.store(false, Ordering::Relaxed);
        self.signal.fired_at.store(0, Ordering::Relaxed);
        // A firing takes the registered waker out of `signal`.
        self.task = None;
        self.listen();
    }

    /// Hands the timer the alarm's waker, so that its firing raises the flag.
    fn listen(&mut self) {
        if self
            .timer
            .poll_fired(&mut Context::from_waker(&self.waker))
            .is_ready()
        {
            self.signal.raise();
        }
    }

    /// The flag: raised once the armed instant is reached.
    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.signal.fired
    }

    /// Whether the armed instant is reached.
    #[inline]
    pub(crate) fn fired(&self) -> bool {
        self.signal.fired.load(Ordering::Relaxed)
    }

    /// When the flag rose, at the latest, if that is known (read by the timer's firing).
    pub(crate) fn fired_at(&self) -> Option<Instant> {
        match self.signal.fired_at.load(Ordering::Acquire) {
            0 => None,
            stamp => self
                .signal
                .anchor
                .checked_add(std::time::Duration::from_nanos(stamp - 1)),
        }
    }

    /// Makes the firing wake no task.
    pub(crate) fn unregister(&mut self) {
        if self.task.take().is_some() {
            self.signal.task.take();
        }
    }

    /// Makes the firing wake the task of `cx` too; `Ready` if it has fired already.
    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()))
        {
            self.signal.task.register(cx.waker());
            self.task = Some(cx.waker().clone());
        }
        // Registered before the flag is read: a firing after the read wakes the task.
        if self.fired() {
            self.task = None;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<T> fmt::Debug for Alarm<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alarm")
            .field("fired", &self.signal.fired.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
