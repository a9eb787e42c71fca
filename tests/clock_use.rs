//! How much of its clock an adapter uses: readings and timer operations, counted by a clock
//! that wraps `ManualClock`. These are the costs the adapters are built to avoid (a clock
//! reading per item, a timer re-armed or re-polled per call), checked without timing anything.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{self, Stream, StreamExt};
use streamz::{Clock, ManualClock, ManualTimer, StreamzExt, Timer};
use support::Bursty;

/// What an adapter did with its clock.
#[derive(Debug, Default)]
struct Uses {
    readings: AtomicUsize,
    timers: AtomicUsize,
    resets: AtomicUsize,
    timer_polls: AtomicUsize,
}

/// `ManualClock`, counting its uses.
#[derive(Debug, Clone)]
struct Counting {
    inner: ManualClock,
    uses: Arc<Uses>,
}

struct CountingTimer {
    inner: ManualTimer,
    uses: Arc<Uses>,
}

impl Clock for Counting {
    type Timer = CountingTimer;

    fn now(&self) -> Instant {
        self.uses.readings.fetch_add(1, Ordering::Relaxed);
        self.inner.now()
    }

    fn timer(&self, deadline: Instant) -> CountingTimer {
        self.uses.timers.fetch_add(1, Ordering::Relaxed);
        CountingTimer {
            inner: self.inner.timer(deadline),
            uses: self.uses.clone(),
        }
    }
}

impl Timer for CountingTimer {
    fn reset(&mut self, deadline: Instant) {
        self.uses.resets.fetch_add(1, Ordering::Relaxed);
        self.inner.reset(deadline);
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.uses.timer_polls.fetch_add(1, Ordering::Relaxed);
        self.inner.poll_fired(cx)
    }
}

fn counting() -> Counting {
    Counting {
        inner: ManualClock::new(),
        uses: Arc::default(),
    }
}

/// Polls to the end with a no-op waker (time stands still); returns the number of outputs.
fn drain<S: Stream + Unpin>(mut s: S) -> usize {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut outputs = 0;
    loop {
        match s.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(_)) => outputs += 1,
            Poll::Ready(None) => return outputs,
            Poll::Pending => {}
        }
    }
}

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn a_hot_batch_filled_by_size_reads_no_clock_per_batch() {
    let clock = counting();
    let batches = drain(
        stream::iter(0..100_000u32)
            .batch(100, SECOND)
            .with_clock(clock.clone()),
    );
    assert_eq!(batches, 1000);
    // A few readings learn the source's pace; after that, batches fill before the next one.
    let readings = clock.uses.readings.load(Ordering::Relaxed);
    assert!(readings < 20, "{readings} clock readings for 1000 batches");
}

#[test]
fn hot_throttle_and_debounce_read_the_clock_once_per_stride() {
    // At most every 128 items, plus the start of each call (512 items at most).
    let clock = counting();
    drain(
        stream::iter(0..100_000u32)
            .throttle(SECOND)
            .with_clock(clock.clone()),
    );
    let readings = clock.uses.readings.swap(0, Ordering::Relaxed);
    assert!(readings <= 100_000 / 100, "throttle: {readings} readings");
    drain(
        stream::iter(0..100_000u32)
            .debounce(SECOND)
            .with_clock(clock.clone()),
    );
    let readings = clock.uses.readings.load(Ordering::Relaxed);
    assert!(readings <= 100_000 / 100, "debounce: {readings} readings");
}

#[test]
fn a_batch_over_a_pausing_source_arms_one_timer_and_polls_it_once_per_batch() {
    // A pause every 10 items: 10 calls per batch of 100, each of which checks the deadline.
    // The timer is made once, re-armed at most once per batch, and polled about once per
    // arming: the calls in between see its state without polling it.
    let clock = counting();
    let batches = drain(
        Bursty::new(100_000, 10)
            .batch(100, SECOND)
            .with_clock(clock.clone()),
    );
    assert_eq!(batches, 1000);
    let uses = &clock.uses;
    assert_eq!(uses.timers.load(Ordering::Relaxed), 1);
    let resets = uses.resets.load(Ordering::Relaxed);
    let polls = uses.timer_polls.load(Ordering::Relaxed);
    assert!(
        resets <= batches,
        "{resets} re-armings for {batches} batches"
    );
    assert!(
        polls <= 2 * batches,
        "{polls} timer polls for {batches} batches"
    );
    // Nor does a batch read the clock in every call while its timer watches the deadline.
    let readings = uses.readings.load(Ordering::Relaxed);
    assert!(
        readings <= 2 * batches,
        "{readings} readings for {batches} batches"
    );
}
