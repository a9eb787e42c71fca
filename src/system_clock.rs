//! [`SystemClock`]: real time, on any executor.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_timer::Delay;

use crate::clock::{Clock, Timer};

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
