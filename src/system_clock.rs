//! [`SystemClock`]: real time, on any executor.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_timer::Delay;

use crate::clock::{Clock, Timer};

/// Real time: [`Instant::now`] and timers from [`futures-timer`](futures_timer). This is the
/// default clock of every adapter.
///
/// It needs no particular async runtime: `futures-timer` runs its own helper thread, so the
/// adapters work the same on tokio, smol, async-std or a plain
/// [`futures::executor`](https://docs.rs/futures/latest/futures/executor/).
///
/// With the crate's `tokio` feature, it follows tokio's clock wherever there is one: it reads
/// [`tokio::time::Instant::now`] (which is real time, unless a tokio runtime of the calling
/// thread has paused its clock), and a timer made inside a tokio runtime is a tokio
/// [`Sleep`](https://docs.rs/tokio/latest/tokio/time/struct.Sleep.html), so paused time
/// (`#[tokio::test(start_paused = true)]`, `tokio::time::advance`) drives the adapters with no
/// [`with_clock`](crate::Batch::with_clock). That runtime must have its time driver enabled,
/// as for any tokio timer. Outside a tokio runtime, nothing changes. Inside one, its timers
/// are read as [`TokioClock`](crate::TokioClock)'s are: the clock is read as each item arrives
/// while a deadline is held, since tokio's timers fire only when the runtime gets control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    type Timer = SystemTimer;

    #[inline]
    fn now(&self) -> Instant {
        #[cfg(feature = "tokio")]
        return tokio::time::Instant::now().into_std();
        #[cfg(not(feature = "tokio"))]
        return Instant::now();
    }

    fn timer(&self, deadline: Instant) -> SystemTimer {
        #[cfg(feature = "tokio")]
        if in_tokio_runtime() {
            return SystemTimer {
                kind: Kind::Tokio(crate::TokioClock.timer(deadline)),
            };
        }
        SystemTimer {
            kind: Kind::Delay(Delay::new(deadline.saturating_duration_since(self.now()))),
        }
    }

    /// A tenth of a millisecond: `futures-timer` fires from a thread of its own, so its
    /// timers keep time while the task is busy, about 0.1 ms late (measured on Linux, on a
    /// machine with a core to spare; later when every core is busy). With the `tokio` feature,
    /// inside a tokio runtime: `None`, as for [`TokioClock`](crate::TokioClock).
    fn timer_resolution(&self) -> Option<Duration> {
        #[cfg(feature = "tokio")]
        if in_tokio_runtime() {
            return None;
        }
        Some(SYSTEM_TIMER_RESOLUTION)
    }

    /// [`SystemClock::now`](Clock::now), from any thread: futures-timer's thread reads it as
    /// a timer fires. (Inside a tokio runtime the adapters date no item by their timer.)
    fn reader(&self) -> Option<fn() -> Instant> {
        Some(|| SystemClock.now())
    }
}

/// Whether the calling thread runs inside a tokio runtime, whose timers then serve.
#[cfg(feature = "tokio")]
fn in_tokio_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// [`SystemClock`]'s [`timer_resolution`](Clock::timer_resolution).
const SYSTEM_TIMER_RESOLUTION: Duration = Duration::from_micros(100);

/// The [`Timer`] of [`SystemClock`]: a [`futures_timer::Delay`] (with the `tokio` feature,
/// inside a tokio runtime: a tokio timer, as [`TokioClock`](crate::TokioClock)'s).
#[derive(Debug)]
pub struct SystemTimer {
    kind: Kind,
}

/// Which timer a [`SystemTimer`] is, chosen as it is made.
#[derive(Debug)]
enum Kind {
    Delay(Delay),
    #[cfg(feature = "tokio")]
    Tokio(crate::TokioTimer),
}

impl Timer for SystemTimer {
    fn reset(&mut self, deadline: Instant) {
        match &mut self.kind {
            Kind::Delay(delay) => {
                delay.reset(deadline.saturating_duration_since(SystemClock.now()))
            }
            #[cfg(feature = "tokio")]
            Kind::Tokio(timer) => timer.reset(deadline),
        }
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.kind {
            Kind::Delay(delay) => Pin::new(delay).poll(cx),
            #[cfg(feature = "tokio")]
            Kind::Tokio(timer) => timer.poll_fired(cx),
        }
    }
}
