//! [`TokioClock`]: tokio's time, paused or not.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::clock::{Clock, Timer};

/// Tokio's time: [`tokio::time::Instant::now`] and [`tokio::time::Sleep`] timers.
///
/// With it, adapters follow tokio's clock, so tests that pause time
/// (`#[tokio::test(start_paused = true)]`,
/// [`tokio::time::pause`](https://docs.rs/tokio/latest/tokio/time/fn.pause.html),
/// [`tokio::time::advance`](https://docs.rs/tokio/latest/tokio/time/fn.advance.html))
/// drive them too.
///
/// Tokio's timers fire only when the runtime gets control, not while the task is inside
/// `poll_next`, so an adapter on this clock reads it as each item arrives while it holds a
/// deadline ([`timer_resolution`](Clock::timer_resolution) is `None`): its deadlines are as
/// exact as on the other clocks, for about 25 ns per item.
///
/// With the crate's `tokio` feature, the default [`SystemClock`](crate::SystemClock) does the
/// same inside a tokio runtime, and falls back to real time and `futures-timer` outside one.
/// Choose `TokioClock` to make tokio's time explicit, with no fallback;
/// [`ManualClock`](crate::ManualClock) for tests that step time by hand, on any executor.
///
/// It needs a tokio runtime with time enabled, as tokio's own timers do: an adapter on this
/// clock polled outside one panics at its first timer (the first time it waits for a
/// deadline).
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
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioClock;

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
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug)]
pub struct TokioTimer {
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Timer for TokioTimer {
    fn reset(&mut self, deadline: Instant) {
        self.sleep.as_mut().reset(deadline.into());
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.sleep.as_mut().poll(cx)
    }
}
