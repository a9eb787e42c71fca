//! [`Alarm`]: a [`Timer`] whose firing is seen with one atomic load.
//!
//! Polling a timer registers the task's waker with it every time (for `futures-timer`, two
//! atomic read-modify-writes); an adapter over a source that pauses often checks its timer at
//! the start of every `poll_next` call, so that cost would be paid per call. Instead, the timer
//! is polled with a waker of the alarm's own, once per arming; when it fires, that waker sets
//! a flag and wakes the task. Checking the alarm is then reading the flag, plus comparing the
//! task's waker with the one it holds.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use crate::clock::Timer;

/// What the timer wakes: it records the firing and passes the wake-up on to the task.
#[derive(Debug, Default)]
struct Signal {
    /// Set when the timer wakes the signal. It may be stale (a firing from before a re-arming),
    /// so a set flag is confirmed by polling the timer itself.
    rang: AtomicBool,
    /// The task to wake.
    task: Mutex<Option<Waker>>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.rang.store(true, Ordering::Release);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// A timer and the signal it wakes.
pub(crate) struct Alarm<T> {
    timer: T,
    signal: Arc<Signal>,
    /// A waker of `signal`, handed to the timer.
    waker: Waker,
    /// The timer has been polled with `waker` since it was last armed: it will wake the signal.
    listening: bool,
    /// The task waker that `signal` holds.
    task: Option<Waker>,
}

impl<T: Timer> Alarm<T> {
    pub(crate) fn new(timer: T) -> Self {
        let signal = Arc::new(Signal::default());
        Alarm {
            timer,
            waker: Waker::from(signal.clone()),
            signal,
            listening: false,
            task: None,
        }
    }

    /// Arms the alarm for `at`, replacing the previous deadline, fired or not.
    pub(crate) fn reset(&mut self, at: Instant) {
        self.timer.reset(at);
        self.listening = false;
    }

    /// `Ready` once the armed deadline is reached; otherwise makes sure the task of `cx` is
    /// woken when it is, and returns `Pending`.
    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()))
        {
            let task = cx.waker().clone();
            *self
                .signal
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task.clone());
            self.task = Some(task);
        }
        // The task is registered before the flag is read: a firing after the read wakes it.
        if self.listening && !self.signal.rang.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        self.signal.rang.store(false, Ordering::Relaxed);
        match self.timer.poll_fired(&mut Context::from_waker(&self.waker)) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => {
                self.listening = true;
                Poll::Pending
            }
        }
    }
}

impl<T> fmt::Debug for Alarm<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alarm")
            .field("listening", &self.listening)
            .finish_non_exhaustive()
    }
}
