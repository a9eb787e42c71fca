//! Cases from a review of the confirmation of arrival times taken from the timer.
//!
//! A timer that fires late, as `futures-timer`'s thread does when it waits for a core: the
//! adapters must never act early because of it; and on a punctual timer, the confirmation must
//! not make them act late by a gap in which the item did not arrive.

mod support;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::stream::{Stream, StreamExt};
use streamz::{ManualClock, StreamzExt, TryStreamzExt};

use support::late::*;
use support::ms;

// ---------------------------------------------------------------------------------------------
// An overdue alarm (armed, not fired, and a reading past `armed + lag`: the timer is late)
// tells nothing of an arrival: the alarm is then not tight, and items get readings of their
// own until it fires. Before that rule, items after such a reading were dated at the reading
// itself, before they arrived, and nothing confirmed them. The reading here is the one a pause
// takes to confirm earlier dates. Sources come in bursts of dense items (1 µs each) with a
// pause after each.
// ---------------------------------------------------------------------------------------------

#[test]
fn debounce_bursts_after_a_confirming_pause_are_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = bursts(&clock, 2_000, 100)
        .debounce(ms(20))
        .with_clock(late(&clock, 5));
    let out = run(&mut s, &clock, start, ms(60));
    // Observed: [(20300, 3900)]: left 20.3 ms, the last item came at 3.9 ms.
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("debounce", &out, 20_000);
}

#[test]
fn debounce_max_wait_bursts_are_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = bursts(&clock, 2_000, 100)
        .debounce(ms(20))
        .max_wait(ms(30))
        .with_clock(late(&clock, 5));
    let out = run(&mut s, &clock, start, ms(60));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("debounce max_wait", &out, 20_000);
}

#[test]
fn try_debounce_bursts_are_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = bursts(&clock, 2_000, 100)
        .map(Ok::<u64, ()>)
        .try_debounce(ms(20))
        .with_clock(late(&clock, 5));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(60))
        .into_iter()
        .map(|(at, r)| (at, r.unwrap()))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("try_debounce", &out, 20_000);
}

#[test]
fn batch_bursts_after_a_confirming_pause_are_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = bursts(&clock, 2_030, 75)
        .batch(50, ms(10))
        .with_clock(late(&clock, 5));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(60))
        .into_iter()
        .filter(|(_, b)| b.len() < 50)
        .map(|(at, b)| (at, b[0]))
        .collect();
    // Observed: [(10430, 4601)]: the last batch left at 10.43 ms; its first item came at
    // 4.601 ms, so it was due at 14.601 ms.
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch", &out, 10_000);
}

#[test]
fn try_batch_bursts_are_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = bursts(&clock, 2_030, 75)
        .map(Ok::<u64, ()>)
        .try_batch(50, ms(10))
        .with_clock(late(&clock, 5));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(60))
        .into_iter()
        .map(|(at, b)| (at, b.unwrap()))
        .filter(|(_, b)| b.len() < 50)
        .map(|(at, b)| (at, b[0]))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("try_batch", &out, 10_000);
}

#[test]
fn keyed_debounce_bursts_are_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = bursts(&clock, 2_000, 100)
        .debounce_by(|n| n % 2, ms(20))
        .with_clock(late(&clock, 5));
    let out = run(&mut s, &clock, start, ms(60));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_not_early("debounce_by", &out, 20_000);
}

#[test]
fn keyed_batch_bursts_are_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = bursts(&clock, 2_030, 75)
        .batch_by(|n| n % 2, 25, ms(10))
        .with_clock(late(&clock, 5));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(60))
        .into_iter()
        .filter(|(_, (_, b))| b.len() < 25)
        .map(|(at, (_, b))| (at, b[0]))
        .collect();
    assert!(!out.is_empty());
    assert_not_early("batch_by", &out, 10_000);
}

// ---------------------------------------------------------------------------------------------
// The cost of confirming dates on a clock with a resolution but no reader (`Clock::reader`),
// here with punctual timers: a date from the timer is confirmed by the adapter's next reading,
// and if the next poll of the inner stream is slow (a slow `Pending`, a slow next item), that
// reading comes after it: the date moves by that poll's time (`Machine::restamp` cannot tell
// it from a late timer). Documented with `Clock::reader`; these tests hold the bound: never
// early, and late by at most the slow poll (5 ms) plus the timer's precision and the
// driver's steps. The same scenarios with a reader are at the end of this file.
// ---------------------------------------------------------------------------------------------

/// One step of a [`Script`]: the clock moves `us` µs inside the poll, which then returns an
/// item (its arrival in µs from the start) or, for `pause`, `Pending` (waking its task).
#[derive(Clone, Copy)]
struct Step {
    us: u64,
    pause: bool,
}

fn items(n: usize, us: u64) -> Vec<Step> {
    vec![Step { us, pause: false }; n]
}

fn pause(us: u64) -> Vec<Step> {
    vec![Step { us, pause: true }]
}

/// A source that plays `steps`, then stays pending for good.
struct Script {
    clock: ManualClock,
    start: Instant,
    steps: std::vec::IntoIter<Step>,
}

impl Stream for Script {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        let this = &mut *self;
        match this.steps.next() {
            None => Poll::Pending,
            Some(step) => {
                this.clock.advance(us(step.us));
                if step.pause {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(Some((this.clock.now() - this.start).as_micros() as u64))
                }
            }
        }
    }
}

fn script(clock: &ManualClock, steps: Vec<Vec<Step>>) -> Script {
    Script {
        clock: clock.clone(),
        start: clock.now(),
        steps: steps.concat().into_iter(),
    }
}
#[test]
fn debounce_is_late_by_at_most_a_slow_pause_on_a_punctual_timer() {
    // 300 items 1 µs apart, then the source takes 5 ms to say it has nothing (a `Pending`),
    // and stays quiet. The timer is punctual (`until` is now). The quiet period ends 20 ms after
    // the last item, long after the slow pause. Ideally it leaves then, within the timer's
    // precision (2 × 100 µs) and the 100 µs steps of the driver; the reading that confirms
    // the last item's date comes after the slow pause, so it may leave up to 5 ms later.
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(300, 1), pause(5_000)])
        .debounce(ms(20))
        .with_clock(late(&clock, 0));
    let out = run(&mut s, &clock, start, ms(60));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("debounce", &out, 20_000);
    assert_not_late("debounce", &out, 20_000, 5_000 + 400);
}

#[test]
fn batch_is_late_by_at_most_a_slow_pause_on_a_punctual_timer() {
    // A batch of 100 fills; the next opens with the 101st item (dated by the timer); then
    // the source takes 5 ms over a `Pending`, and stays quiet.
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(101, 1), pause(5_000)])
        .batch(100, ms(10))
        .with_clock(late(&clock, 0));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(60))
        .into_iter()
        .filter(|(_, b)| b.len() < 100)
        .map(|(at, b)| (at, b[0]))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch", &out, 10_000);
    assert_not_late("batch", &out, 10_000, 5_000 + 400);
}

#[test]
fn batch_is_late_by_at_most_a_slow_item_on_a_punctual_timer() {
    // As above, but the 102nd item takes 5 ms to come, and the source then pauses (quickly)
    // for good. The batch's deadline (10 ms after its first item) passes long after that item.
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(101, 1), items(1, 5_000)])
        .batch(100, ms(10))
        .with_clock(late(&clock, 0));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(60))
        .into_iter()
        .filter(|(_, b)| b.len() < 100)
        .map(|(at, b)| (at, b[0]))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch", &out, 10_000);
    assert_not_late("batch", &out, 10_000, 5_000 + 400);
}

#[test]
fn keyed_debounce_is_late_by_at_most_a_slow_pause_on_a_punctual_timer() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(300, 1), pause(5_000)])
        .debounce_by(|n| n % 2, ms(20))
        .with_clock(late(&clock, 0));
    let out = run(&mut s, &clock, start, ms(60));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_not_early("debounce_by", &out, 20_000);
    assert_not_late("debounce_by", &out, 20_000, 5_000 + 400);
}

// ---------------------------------------------------------------------------------------------
// Keyed slots freed and reused while listed in `Keyed::stamped` (eviction under `max_keys`): no
// item lost or duplicated. (This one passes.)
// ---------------------------------------------------------------------------------------------

#[test]
fn keyed_batch_reused_slots_lose_nothing() {
    for max_keys in [1usize, 2, 3] {
        let clock = ManualClock::new();
        let start = clock.now();
        let mut s = dense(&clock, 3_000)
            .batch_by(|n| n % 5, 7, ms(10))
            .max_keys(max_keys)
            .with_clock(late(&clock, 5));
        let out = run(&mut s, &clock, start, ms(60));
        let mut seen: Vec<u64> = out
            .iter()
            .flat_map(|(_, (_, b))| b.iter().copied())
            .collect();
        seen.sort_unstable();
        let expected: Vec<u64> = {
            let mut all: Vec<u64> = out
                .iter()
                .flat_map(|(_, (_, b))| b.iter().copied())
                .collect();
            all.sort_unstable();
            all.dedup();
            all
        };
        assert_eq!(
            seen, expected,
            "max_keys {max_keys}: an item came out twice"
        );
        assert_eq!(seen.len(), 3_000, "max_keys {max_keys}: items lost");
    }
}

// ---------------------------------------------------------------------------------------------
// With a clock that has a reader (`Clock::reader`, as `SystemClock` has), the timer's firing
// reads the time, and that reading confirms the dates: a slow poll after the items no longer
// moves them. The same scenarios, on punctual timers, leave within the timer's precision.
// ---------------------------------------------------------------------------------------------
#[test]
fn with_a_reader_a_slow_pause_does_not_delay_a_debounce() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(300, 1), pause(5_000)])
        .debounce(ms(20))
        .with_clock(stamped(&clock, 0));
    let out = run(&mut s, &clock, start, ms(60));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("debounce", &out, 20_000);
    assert_not_late("debounce", &out, 20_000, 400);
}

#[test]
fn with_a_reader_a_slow_pause_does_not_delay_a_batch() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(101, 1), pause(5_000)])
        .batch(100, ms(10))
        .with_clock(stamped(&clock, 0));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(60))
        .into_iter()
        .filter(|(_, b)| b.len() < 100)
        .map(|(at, b)| (at, b[0]))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch", &out, 10_000);
    assert_not_late("batch", &out, 10_000, 400);
}

#[test]
fn with_a_reader_a_slow_item_does_not_delay_a_batch() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(101, 1), items(1, 5_000)])
        .batch(100, ms(10))
        .with_clock(stamped(&clock, 0));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(60))
        .into_iter()
        .filter(|(_, b)| b.len() < 100)
        .map(|(at, b)| (at, b[0]))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch", &out, 10_000);
    assert_not_late("batch", &out, 10_000, 400);
}

#[test]
fn with_a_reader_a_slow_pause_does_not_delay_a_keyed_debounce() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(300, 1), pause(5_000)])
        .debounce_by(|n| n % 2, ms(20))
        .with_clock(stamped(&clock, 0));
    let out = run(&mut s, &clock, start, ms(60));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_not_early("debounce_by", &out, 20_000);
    assert_not_late("debounce_by", &out, 20_000, 400);
}

#[test]
fn with_a_reader_a_late_timer_still_makes_nothing_early() {
    // Bursts of dense items with a pause after each; no timer fires before 5 ms, and its
    // firing's reading then confirms the dates given before it.
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = bursts(&clock, 2_000, 100)
        .debounce(ms(20))
        .with_clock(stamped(&clock, 5));
    let out = run(&mut s, &clock, start, ms(80));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("debounce", &out, 20_000);
    let mut s = bursts(&clock, 2_010, 75)
        .batch(50, ms(10))
        .with_clock(stamped(&clock, 5));
    let start = clock.now();
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(80))
        .into_iter()
        .filter(|(_, b)| b.len() < 50)
        .map(|(at, b)| (at, b[0]))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch", &out, 10_000);
}

#[test]
fn with_a_reader_a_late_firing_confirms_dates_at_its_own_reading() {
    // 100 items 1 µs apart, dated by the timer; then the source takes 5.1 ms over a `Pending`,
    // during which the late timer fires (at 5 ms, when it first can) and reads the time. That
    // reading, not the adapter's after the slow pause, confirms the last item's date: its
    // quiet period counts from 5 ms exactly. Without a reader, the timer dates nothing: each
    // item gets a reading, and the quiet period counts from the last item's arrival. (The
    // burst ends before the adapter reads the clock as the timer's latest instant nears, at
    // three quarters of the items its pace puts before it: a longer one would be read.)
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(100, 1), pause(5_100)])
        .debounce(ms(20))
        .with_clock(stamped(&clock, 5));
    let out = run_to_deadlines(&mut s, &clock, start, ms(60));
    assert_eq!(out, vec![(25_000, 100)]);

    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, vec![items(100, 1), pause(5_100)])
        .debounce(ms(20))
        .with_clock(late(&clock, 5));
    let out = run_to_deadlines(&mut s, &clock, start, ms(60));
    assert_eq!(out, vec![(20_100, 100)]);
}
