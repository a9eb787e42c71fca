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
use support::{ms, Bursty};

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

    fn timer_resolution(&self) -> Option<Duration> {
        self.inner.timer_resolution()
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
fn a_hot_batch_reads_the_clock_once_per_batch() {
    let clock = counting();
    let batches = drain(
        stream::iter(0..100_000u32)
            .batch(100, SECOND)
            .with_clock(clock.clone()),
    );
    assert_eq!(batches, 1000);
    // The arrival of each batch's first item sets its deadline; the others arrive while the
    // timer, armed once for the first batch's deadline, has not fired.
    let uses = &clock.uses;
    let readings = uses.readings.load(Ordering::Relaxed);
    assert!(
        readings <= 1000 + 5,
        "{readings} clock readings for 1000 batches"
    );
    assert_eq!(uses.timers.load(Ordering::Relaxed), 1);
    assert_eq!(uses.resets.load(Ordering::Relaxed), 0);
}

#[test]
fn hot_throttle_and_debounce_read_the_clock_once_per_4096_items() {
    // Time stands still: the timer, armed once, never fires, and items arriving while it has
    // not fired need no reading, until 4096 have come without one: the next call reads the
    // clock (in case the timer fires late). (A few more as the items start.)
    let per_budget = 100_000 / 4096;
    let clock = counting();
    drain(
        stream::iter(0..100_000u32)
            .throttle(SECOND)
            .with_clock(clock.clone()),
    );
    let readings = clock.uses.readings.swap(0, Ordering::Relaxed);
    assert!(
        (per_budget..=per_budget + 5).contains(&readings),
        "throttle: {readings} readings"
    );
    drain(
        stream::iter(0..100_000u32)
            .debounce(SECOND)
            .with_clock(clock.clone()),
    );
    let readings = clock.uses.readings.load(Ordering::Relaxed);
    assert!(
        (per_budget..=per_budget + 5).contains(&readings),
        "debounce: {readings} readings"
    );
}

#[test]
fn a_clock_without_a_timer_resolution_is_read_as_every_item_arrives() {
    /// `ManualClock`, with timers that are not trusted to fire while the task is busy.
    #[derive(Debug, Clone)]
    struct Untrusted(Counting);

    impl Clock for Untrusted {
        type Timer = CountingTimer;

        fn now(&self) -> Instant {
            self.0.now()
        }

        fn timer(&self, deadline: Instant) -> CountingTimer {
            self.0.timer(deadline)
        }
    }

    let clock = counting();
    let ticking = clock.inner.clone();
    // Every item costs 1 ms inside the poll: every batch holds the 10 items that arrived
    // before its deadline, exactly as on a clock whose timer fires.
    let source = stream::iter(0..1_000u32).map(move |i| {
        ticking.advance(ms(1));
        i
    });
    let mut s = source
        .batch(1_000, ms(10))
        .with_clock(Untrusted(clock.clone()));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut batches = Vec::new();
    while batches.len() < 5 {
        if let Poll::Ready(Some(batch)) = s.poll_next_unpin(&mut cx) {
            batches.push(batch);
        }
    }
    for (i, batch) in batches.iter().enumerate() {
        let first = 10 * i as u32;
        assert_eq!(batch, &(first..first + 10).collect::<Vec<_>>());
    }
    let readings = clock.uses.readings.load(Ordering::Relaxed);
    assert!(
        (50..=60).contains(&readings),
        "{readings} readings for 50 items"
    );
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
    // Nor does a batch read the clock in every call while its timer watches the deadline:
    // once per batch, for its first item.
    let readings = uses.readings.load(Ordering::Relaxed);
    assert!(
        readings <= batches + 5,
        "{readings} readings for {batches} batches"
    );
}

/// `Counting`, on a clock whose timers claim a resolution of 1 ms (they fire on time, as
/// `ManualClock`'s do).
#[derive(Debug, Clone)]
struct Coarse(Counting);

impl Clock for Coarse {
    type Timer = CountingTimer;

    fn now(&self) -> Instant {
        self.0.now()
    }

    fn timer(&self, deadline: Instant) -> CountingTimer {
        self.0.timer(deadline)
    }

    fn timer_resolution(&self) -> Option<Duration> {
        Some(ms(1))
    }
}

/// Readings a debounce takes over 1,000 items, each produced in `gap` of (virtual) time.
fn readings_for_items_apart(gap: Duration) -> usize {
    let clock = counting();
    let ticking = clock.inner.clone();
    let source = stream::iter(0..1_000u32).map(move |i| {
        ticking.advance(gap);
        i
    });
    drain(
        source
            .debounce(Duration::from_secs(1))
            .with_clock(Coarse(clock.clone())),
    );
    clock.uses.readings.load(Ordering::Relaxed)
}

#[test]
fn a_timer_without_a_reader_dates_nothing_so_every_item_gets_a_reading() {
    // The timers claim 1 ms of resolution and the clock has no reader: a date from the timer
    // could not be bounded by anything but the adapter's next reading, which may come after
    // later items. So dense items (1 µs apart) get a reading each, as sparse ones (3 µs) do.
    // (`SystemClock` has a reader: its dense items take their time from the timer.)
    for gap in [1, 3] {
        let readings = readings_for_items_apart(Duration::from_micros(gap));
        assert!(
            readings >= 1_000,
            "{readings} readings for 1000 items {gap} µs apart"
        );
    }
}

/// A clock whose timers fire only when polled: like a runtime's timers, which fire only when
/// the runtime gets control, never while the task is busy inside `poll_next`. It keeps the
/// default [`Clock::timer_resolution`] (`None`).
#[derive(Debug, Clone)]
struct Lazy(ManualClock);

struct LazyTimer {
    clock: ManualClock,
    deadline: Instant,
}

impl Clock for Lazy {
    type Timer = LazyTimer;

    fn now(&self) -> Instant {
        self.0.now()
    }

    fn timer(&self, deadline: Instant) -> LazyTimer {
        LazyTimer {
            clock: self.0.clone(),
            deadline,
        }
    }
}

impl Timer for LazyTimer {
    fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    fn poll_fired(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.deadline {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_clock_that_does_not_say_its_timers_fire_while_busy_is_read_as_items_arrive() {
    // Items come in fours: the first of each four takes 1 ms inside the source's `poll_next`,
    // the other three no time at all. The first batch opens at 1 ms (item 0), so its
    // deadline is 11 ms: item 40, the first to arrive then, leaves it. The timer cannot tell
    // (it never fires on its own), so items that come densely must not be trusted to it.
    let clock = ManualClock::new();
    let ticking = clock.clone();
    let source = stream::iter(0..1_000u32).map(move |i| {
        if i % 4 == 0 {
            ticking.advance(ms(1));
        }
        i
    });
    let mut batches = source.batch(10_000, ms(10)).with_clock(Lazy(clock));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let first = loop {
        match std::pin::Pin::new(&mut batches).poll_next(&mut cx) {
            Poll::Ready(batch) => break batch,
            Poll::Pending => {}
        }
    };
    assert_eq!(first, Some((0..40).collect::<Vec<u32>>()));
}
