//! [`ManualClock`]: virtual time, moved by hand.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::clock::{Clock, Timer};

/// Virtual time for deterministic tests: time moves only when [`advance`](ManualClock::advance)
/// is called.
///
/// Clones share one timeline, so a test keeps a clone and hands another to the adapter with
/// `with_clock`. It starts at the real [`Instant::now`] of its construction and never reads
/// the real clock again.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use streamz::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_millis(250));
/// assert_eq!(clock.now() - start, Duration::from_millis(250));
/// assert_eq!(clock.timers(), 0);
/// ```
#[derive(Clone)]
pub struct ManualClock {
    shared: Arc<Mutex<Timeline>>,
}

#[derive(Debug)]
struct Timeline {
    start: Instant,
    now: Instant,
    next_id: u64,
    /// Every live timer (created and not dropped), fired or not.
    timers: BTreeMap<u64, TimerSlot>,
}

#[derive(Debug)]
struct TimerSlot {
    deadline: Instant,
    fired: bool,
    waker: Option<Waker>,
}

impl ManualClock {
    /// A new virtual clock, starting at the real current time.
    pub fn new() -> Self {
        let now = Instant::now();
        ManualClock {
            shared: Arc::new(Mutex::new(Timeline {
                start: now,
                now,
                next_id: 0,
                timers: BTreeMap::new(),
            })),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.lock().now
    }

    /// Moves time forward by `d` and wakes every timer whose deadline is now reached, earliest
    /// deadline first.
    ///
    /// Time moves in steps: to each of those deadlines in turn, whose timers are then woken,
    /// and at last to `now + d`. So a task that polls at once when woken (inside its waker)
    /// sees the clock at the deadline that woke it, with every earlier timer fired. The wakers
    /// are called after the clock's internal lock is released, so a woken task may poll (and
    /// read or arm timers on this clock) at once; a timer it arms within the step's reach
    /// fires in this call too.
    ///
    /// # Panics
    ///
    /// Panics if the new time cannot be represented by [`Instant`].
    #[track_caller]
    pub fn advance(&self, d: Duration) {
        let target = match self.lock().now.checked_add(d) {
            Some(target) => target,
            None => panic!("ManualClock::advance({d:?}) moves time past the range of Instant"),
        };
        loop {
            let mut due: Vec<Waker> = Vec::new();
            {
                let mut timeline = self.lock();
                let step = timeline
                    .timers
                    .values()
                    .filter(|slot| !slot.fired && slot.deadline <= target)
                    .map(|slot| slot.deadline)
                    .min();
                let Some(step) = step else {
                    timeline.now = timeline.now.max(target);
                    return;
                };
                timeline.now = timeline.now.max(step);
                let now = timeline.now;
                // (In the order the timers were made.)
                for slot in timeline.timers.values_mut() {
                    if !slot.fired && slot.deadline <= now {
                        slot.fired = true;
                        due.extend(slot.waker.take());
                    }
                }
            }
            for waker in due {
                waker.wake();
            }
        }
    }

    /// The earliest deadline among the timers armed on this clock, if any: the next instant
    /// at which [`advance`](Self::advance) would wake something.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lock()
            .timers
            .values()
            .filter(|slot| !slot.fired)
            .map(|slot| slot.deadline)
            .min()
    }

    /// How many timers are armed on this clock and have neither fired nor been dropped.
    pub fn timers(&self) -> usize {
        self.lock()
            .timers
            .values()
            .filter(|slot| !slot.fired)
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, Timeline> {
        // A panic while the lock is held leaves the timeline consistent (every update is a
        // single assignment), so a poisoned lock is still usable.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let timeline = self.lock();
        f.debug_struct("ManualClock")
            .field("elapsed", &(timeline.now - timeline.start))
            .field(
                "timers",
                &timeline.timers.values().filter(|slot| !slot.fired).count(),
            )
            .finish()
    }
}

impl Clock for ManualClock {
    type Timer = ManualTimer;

    fn now(&self) -> Instant {
        ManualClock::now(self)
    }

    /// Zero: [`advance`](ManualClock::advance) fires every timer it reaches before it returns,
    /// even when called from inside a `poll_next`.
    fn timer_resolution(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }

    fn timer(&self, deadline: Instant) -> ManualTimer {
        let mut timeline = self.lock();
        let id = timeline.next_id;
        timeline.next_id += 1;
        let fired = deadline <= timeline.now;
        timeline.timers.insert(
            id,
            TimerSlot {
                deadline,
                fired,
                waker: None,
            },
        );
        ManualTimer {
            clock: self.clone(),
            id,
        }
    }
}

/// The [`Timer`] of [`ManualClock`]: fires when [`ManualClock::advance`] reaches its deadline.
#[derive(Debug)]
pub struct ManualTimer {
    clock: ManualClock,
    id: u64,
}

impl Timer for ManualTimer {
    fn reset(&mut self, deadline: Instant) {
        let mut timeline = self.clock.lock();
        let now = timeline.now;
        if let Some(slot) = timeline.timers.get_mut(&self.id) {
            slot.deadline = deadline;
            slot.fired = deadline <= now;
        }
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut timeline = self.clock.lock();
        match timeline.timers.get_mut(&self.id) {
            // (A timer whose deadline is reached is fired: as it is armed, or by `advance`.)
            Some(slot) if !slot.fired => {
                match &mut slot.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    waker => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Some(slot) => {
                slot.fired = true;
                slot.waker = None;
                Poll::Ready(())
            }
            None => Poll::Ready(()),
        }
    }
}

impl Drop for ManualTimer {
    fn drop(&mut self) {
        // Take the waker out before it is dropped, outside the lock.
        let slot = self.clock.lock().timers.remove(&self.id);
        drop(slot);
    }
}
