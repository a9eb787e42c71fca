//! A timer that fires late, as `futures-timer`'s thread does when it waits for a core: the
//! adapters must never act early because of it. While items come densely, an adapter dates
//! them from its timer (they arrived before it fired) rather than reading the clock for each;
//! a timer that fires later than its resolution says must not make those dates early.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{self, Stream, StreamExt};
use streamz::{Clock, FlushReason, ManualClock, ManualTimer, StreamzExt, Timer};

/// `ManualClock`, whose timers say they fire within 0.1 ms, but do not fire before `until`
/// (as if the thread that fires them could not run until then); after it, they are on time.
#[derive(Debug, Clone)]
struct Late {
    clock: ManualClock,
    until: Instant,
}

struct LateTimer {
    timer: ManualTimer,
    until: Instant,
}

impl Clock for Late {
    type Timer = LateTimer;

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn timer(&self, deadline: Instant) -> LateTimer {
        LateTimer {
            timer: self.clock.timer(deadline.max(self.until)),
            until: self.until,
        }
    }

    fn timer_resolution(&self) -> Option<Duration> {
        Some(Duration::from_micros(100))
    }
}

impl Timer for LateTimer {
    fn reset(&mut self, deadline: Instant) {
        self.timer.reset(deadline.max(self.until));
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.timer.poll_fired(cx)
    }
}

/// A [`Late`] clock on `clock`, whose timers fire from `ms` ms after now on.
fn late(clock: &ManualClock, ms: u64) -> Late {
    Late {
        clock: clock.clone(),
        until: clock.now() + Duration::from_millis(ms),
    }
}

/// `n` items, each produced in 1 µs of virtual time (dense), then a source that stays pending.
/// The arrival of each item, in µs from the start, is its value.
fn dense(clock: &ManualClock, n: u64) -> impl Stream<Item = u64> + Unpin {
    let clock = clock.clone();
    let start = clock.now();
    stream::iter(0..n)
        .map(move |_| {
            clock.advance(Duration::from_micros(1));
            (clock.now() - start).as_micros() as u64
        })
        .chain(stream::pending())
}

/// Polls `s` with a no-op waker until it is pending, then moves the clock 100 µs and polls
/// again, until `until`; returns each output with the time it came, in µs from `start`.
fn run<S: Stream + Unpin>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    until: Duration,
) -> Vec<(u64, S::Item)> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    while clock.now() - start < until {
        loop {
            match Pin::new(&mut *s).poll_next(&mut cx) {
                Poll::Ready(Some(item)) => {
                    out.push(((clock.now() - start).as_micros() as u64, item))
                }
                Poll::Ready(None) => return out,
                Poll::Pending => break,
            }
        }
        clock.advance(Duration::from_micros(100));
    }
    out
}

#[test]
fn a_late_timer_does_not_make_a_debounce_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = dense(&clock, 3_000)
        .debounce(Duration::from_millis(20))
        .with_clock(late(&clock, 5));
    let out = run(&mut s, &clock, start, Duration::from_millis(60));
    // The last item arrived at `item` µs (a little after 3 ms: the clock also moves between
    // calls): its quiet period ends 20 ms later. No timer fires before 5 ms.
    assert_eq!(out.len(), 1, "{out:?}");
    let (at, item) = out[0];
    assert!(
        at >= item + 20_000,
        "left at {at} µs, before {} µs",
        item + 20_000
    );
    assert!(at <= item + 20_000 + 200, "left at {at} µs");
}

#[test]
fn a_late_timer_does_not_make_a_batch_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    // Batches fill up every 500 items (about 0.5 ms); the last one, opened after a full one
    // while items come densely, leaves by its deadline. No timer fires before 5 ms.
    let mut s = dense(&clock, 2_800)
        .batch(500, Duration::from_millis(10))
        .with_reasons()
        .with_clock(late(&clock, 5));
    let out = run(&mut s, &clock, start, Duration::from_millis(30));
    assert_eq!(out.len(), 6, "{out:?}");
    assert_eq!(out[5].1.reason, FlushReason::Deadline);
    for (at, batch) in &out {
        let first = batch.items[0];
        let opened = (batch.opened_at - start).as_micros() as u64;
        assert!(
            opened >= first,
            "opened at {opened} µs, its first item came at {first} µs"
        );
        if batch.reason == FlushReason::Deadline {
            assert!(
                at >= &(first + 10_000),
                "left at {at} µs, first item at {first} µs"
            );
        }
    }
}

#[test]
fn a_late_timer_does_not_make_a_batch_deadline_early() {
    // As above, without the opening instants recorded (which are read from the clock): the
    // last batch's deadline counts from a date the timer gave, confirmed by a later reading.
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = dense(&clock, 2_800)
        .batch(500, Duration::from_millis(10))
        .with_clock(late(&clock, 5));
    let out = run(&mut s, &clock, start, Duration::from_millis(30));
    assert_eq!(out.len(), 6, "{out:?}");
    let (at, batch) = &out[5];
    assert!(batch.len() < 500);
    let first = batch[0];
    assert!(
        *at >= first + 10_000,
        "left at {at} µs, first item at {first} µs"
    );
    // Late only by the reading that confirmed the date (the source's pause).
    assert!(*at <= 2_800 + 1_000 + 10_000, "left at {at} µs");
}

#[test]
fn a_late_timer_does_not_make_a_keyed_debounce_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = dense(&clock, 3_000)
        .debounce_by(|n| n % 2, Duration::from_millis(20))
        .with_clock(late(&clock, 5));
    let out = run(&mut s, &clock, start, Duration::from_millis(60));
    assert_eq!(out.len(), 2, "{out:?}");
    for (at, item) in out {
        assert!(
            at >= item + 20_000,
            "{item} left at {at} µs, before {} µs",
            item + 20_000
        );
    }
}
