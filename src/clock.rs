//! Time sources: the [`Clock`] trait, the real [`SystemClock`] and the virtual [`ManualClock`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_timer::Delay;

/// A source of time for the adapters of this crate.
///
/// An adapter reads [`now`](Clock::now) to stamp arrivals and to check its deadline before
/// every poll of its inner stream, so `now` should be cheap. It creates at most one
/// [`Timer`] (with [`timer`](Clock::timer)), only when it is about to return
/// [`Poll::Pending`] while holding a deadline, and re-arms that same timer afterwards.
///
/// Two implementations ship with the crate: [`SystemClock`] (the default, real time) and
/// [`ManualClock`] (virtual time for tests). Implement the trait to plug in another time
/// source, for example a runtime's own timer.
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
    /// that much late, and may take an arrival time that much early. With `None`, it reads
    /// the clock as each item arrives while it holds a deadline, so its timer only wakes the
    /// task.
    fn timer_resolution(&self) -> Option<Duration> {
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

/// Real time: [`Instant::now`] and timers from [`futures-timer`](futures_timer).
///
/// It needs no particular async runtime: `futures-timer` runs its own helper thread, so the
/// adapters work the same on tokio, smol, async-std or a plain
/// [`futures::executor`](https://docs.rs/futures/latest/futures/executor/). This is the default
/// clock of every adapter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    type Timer = SystemTimer;

    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn timer(&self, deadline: Instant) -> SystemTimer {
        SystemTimer {
            delay: Delay::new(deadline.saturating_duration_since(Instant::now())),
        }
    }

    /// A tenth of a millisecond: `futures-timer` fires from a thread of its own, so its
    /// timers keep time while the task is busy, about 0.1 ms late (measured on Linux, on a
    /// machine with a core to spare; later when every core is busy).
    fn timer_resolution(&self) -> Option<Duration> {
        Some(SYSTEM_TIMER_RESOLUTION)
    }
}

/// [`SystemClock`]'s [`timer_resolution`](Clock::timer_resolution).
const SYSTEM_TIMER_RESOLUTION: Duration = Duration::from_micros(100);

/// The [`Timer`] of [`SystemClock`], a [`futures_timer::Delay`].
#[derive(Debug)]
pub struct SystemTimer {
    delay: Delay,
}

impl Timer for SystemTimer {
    fn reset(&mut self, deadline: Instant) {
        self.delay
            .reset(deadline.saturating_duration_since(Instant::now()));
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.delay).poll(cx)
    }
}

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
        let now = timeline.now;
        match timeline.timers.get_mut(&self.id) {
            Some(slot) if !slot.fired && slot.deadline > now => {
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

/// Tokio's time: [`tokio::time::Instant::now`] and [`tokio::time::Sleep`] timers.
///
/// With it, adapters follow tokio's clock, so tests that pause time
/// (`#[tokio::test(start_paused = true)]`,
/// [`tokio::time::pause`](https://docs.rs/tokio/latest/tokio/time/fn.pause.html),
/// [`tokio::time::advance`](https://docs.rs/tokio/latest/tokio/time/fn.advance.html))
/// drive them too. It needs a tokio runtime with time enabled, like any tokio timer.
///
/// Tokio's timers fire only when the runtime gets control, not while the task is inside
/// `poll_next`, so an adapter on this clock reads it as each item arrives while it holds a
/// deadline ([`timer_resolution`](Clock::timer_resolution) is `None`): its deadlines are as
/// exact as on the other clocks, for about 25 ns per item.
///
/// Choose it for tokio applications whose tests already use paused time; choose
/// [`SystemClock`] (the default) for code that must run on any executor, and [`ManualClock`]
/// for tests that step time by hand, on any executor.
///
/// ```
/// # async fn demo() {
/// use std::time::Duration;
/// use futures::StreamExt;
/// use streamz::{StreamzExt, TokioClock};
///
/// let (tx, rx) = futures::channel::mpsc::unbounded();
/// let mut batches = rx.batch(10, Duration::from_secs(60)).with_clock(TokioClock);
/// tx.unbounded_send(1).unwrap();
/// // In a `start_paused` test, this returns at once: tokio jumps its clock to the deadline.
/// assert_eq!(batches.next().await, Some(vec![1]));
/// # }
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true)
/// #     .build().unwrap().block_on(demo());
/// ```
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioClock;

#[cfg(feature = "tokio")]
impl Clock for TokioClock {
    type Timer = TokioTimer;

    #[inline]
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn timer(&self, deadline: Instant) -> TokioTimer {
        TokioTimer {
            sleep: Box::pin(tokio::time::sleep_until(deadline.into())),
        }
    }
}

/// The [`Timer`] of [`TokioClock`], a [`tokio::time::Sleep`].
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug)]
pub struct TokioTimer {
    sleep: Pin<Box<tokio::time::Sleep>>,
}

#[cfg(feature = "tokio")]
impl Timer for TokioTimer {
    fn reset(&mut self, deadline: Instant) {
        self.sleep.as_mut().reset(deadline.into());
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.sleep.as_mut().poll(cx)
    }
}
