//! [`Alarm`]: a [`Timer`] whose firing is a flag, read with one atomic load.
//!
//! The timer is polled with a waker of the alarm's own, once per arming. When the timer fires,
//! that waker raises the flag and wakes the task registered with the alarm, if any. So an
//! adapter can look at its deadline before every poll of its inner stream, and as every item
//! arrives, for the price of a load; and a deadline that yields nothing can be watched without
//! waking the task.

use std::fmt;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use futures_util::task::AtomicWaker;

use crate::clock::Timer;

/// Bits of a stamp (see [`Signal::stamp`]) that hold the arming it belongs to.
const ARMING_BITS: u32 = 20;

/// What the timer wakes: it raises the flag, reads the time if it can, then passes the
/// wake-up on to the task.
#[derive(Debug)]
struct Signal {
    fired: AtomicBool,
    /// Counts the armings; each firing's stamp carries the count it saw before it raised the
    /// flag, so that a firing of an earlier arming, still under way on the timer's thread
    /// when the alarm is armed again, cannot pass its stamp off as the new arming's.
    arming: AtomicU64,
    /// When the flag was raised, at the latest: the arming (low [`ARMING_BITS`] bits) and the
    /// microseconds after `anchor`, rounded up, plus one (the others); 0 while unknown.
    stamp: AtomicU64,
    reader: Option<fn() -> Instant>,
    anchor: Instant,
    task: AtomicWaker,
}

impl Signal {
    fn new(reader: Option<fn() -> Instant>, anchor: Instant) -> Self {
        Signal {
            fired: AtomicBool::new(false),
            arming: AtomicU64::new(0),
            stamp: AtomicU64::new(0),
            reader,
            anchor,
            task: AtomicWaker::new(),
        }
    }

    fn raise(&self) {
        let Some(read) = self.reader else {
            self.fired.store(true, Ordering::Release);
            return;
        };
        let arming = self.arming.load(Ordering::SeqCst);
        self.fired.store(true, Ordering::SeqCst);
        // Read after the flag rose (the fence keeps the reading from coming before the store
        // is seen): an item seen with the flag down arrived before this.
        fence(Ordering::SeqCst);
        let since = read().saturating_duration_since(self.anchor);
        let micros = since.as_micros() + u128::from(since.subsec_nanos() % 1_000 != 0);
        if let Some(time) = u64::try_from(micros + 1)
            .ok()
            .filter(|&t| t < 1 << (64 - ARMING_BITS))
        {
            let arming = arming & ((1 << ARMING_BITS) - 1);
            self.stamp
                .store(time << ARMING_BITS | arming, Ordering::Release);
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
        let signal = Arc::new(Signal::new(reader, now));
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
        // The flag first: a firing that sees the new arming's count raises it after this.
        self.signal.fired.store(false, Ordering::SeqCst);
        self.signal.arming.fetch_add(1, Ordering::SeqCst);
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

    /// When the flag rose, at the latest, if that is known (read by a firing of the current
    /// arming).
    pub(crate) fn fired_at(&self) -> Option<Instant> {
        let stamp = self.signal.stamp.load(Ordering::Acquire);
        let mask = (1 << ARMING_BITS) - 1;
        let arming = self.signal.arming.load(Ordering::Relaxed) & mask;
        if stamp == 0 || stamp & mask != arming {
            return None;
        }
        let micros = (stamp >> ARMING_BITS) - 1;
        self.signal
            .anchor
            .checked_add(std::time::Duration::from_micros(micros))
    }

    #[cold]
    #[inline(never)]
    fn register(&mut self, cx: &mut Context<'_>) {
        self.signal.task.register(cx.waker());
        self.task = Some(cx.waker().clone());
    }

    /// Makes the firing wake no task.
    pub(crate) fn unregister(&mut self) {
        if self.task.take().is_some() {
            self.signal.task.take();
        }
    }

    /// Makes the firing wake the task of `cx` too; `Ready` if it has fired already.
    #[inline]
    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()))
        {
            self.register(cx);
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
