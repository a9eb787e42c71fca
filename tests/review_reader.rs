//! Review of `Clock::reader` (the timer's firing reads the time, and that reading bounds the
//! confirmation of dates the alarm gave). The clocks are in `tests/support/late.rs`.

mod support;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::stream::{Stream, StreamExt};
use streamz::{Clock, ManualClock, StreamzExt, TryStreamzExt};

use support::late::*;
use support::ms;

/// One poll of the source: the clock moves by each of `advances` µs in turn (each move
/// fires the timers it passes), then the poll returns an item (its arrival in µs from the
/// start) or, for a pause, `Pending` (waking its task).
#[derive(Clone)]
struct Step {
    advances: Vec<u64>,
    pause: bool,
}

fn item(advances: &[u64]) -> Step {
    Step {
        advances: advances.to_vec(),
        pause: false,
    }
}

fn pause() -> Step {
    Step {
        advances: vec![],
        pause: true,
    }
}

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
                for a in step.advances {
                    this.clock.advance(us(a));
                }
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

fn script(clock: &ManualClock, steps: Vec<Step>) -> Script {
    Script {
        clock: clock.clone(),
        start: clock.now(),
        steps: steps.into_iter(),
    }
}

// A batch fills (by size) shortly before its deadline, so the alarm stays armed for that
// deadline, within one resolution of the latest reading (tight), while the machine has no
// deadline (horizon `None`). The next item is then dated by the alarm (`close`) without a
// look at the flag (`Watch::watched(None)` is true). Here the source's poll for that item
// passes the armed instant (the timer fires, and its reader reads the time), then takes 2 ms
// more before it returns the item. The confirmation restamps to `bound` = the firing's
// reading, which is before the item arrived; or, as here, earlier than the `close` date, so
// the date stays at `close`, 1.95 ms before the arrival.
// ---------------------------------------------------------------------------------------------

/// Item at 1 µs opens a batch (deadline 10.001 ms); a pause arms the alarm for it; the
/// 2nd item (9.95 ms) fills it, unread; the 3rd (9.951 ms) opens the next batch and is read
/// (the alarm, armed for 10.001 ms, is now within a resolution of the latest reading); the
/// 4th (9.952 ms) fills that batch, unread: no batch is open, the alarm is tight. The 5th
/// comes from a poll that moves `first` µs (past the armed 10.001 ms: the timer fires, and
/// reads the time) then 2 ms, and arrives 2 ms after the firing.
fn spanning_steps(first: u64) -> Vec<Step> {
    vec![
        item(&[1]),
        pause(),
        item(&[9_849]),
        item(&[1]),
        item(&[1]),
        item(&[first, 2_000]),
    ]
}

fn batch_case<C: Clock + Clone + Unpin>(clock: &ManualClock, on: C, first: u64) -> Vec<(u64, u64)> {
    let start = clock.now();
    let mut s = script(clock, spanning_steps(first))
        .batch(2, ms(10))
        .with_clock(on);
    run(&mut s, clock, start, ms(40))
        .into_iter()
        .filter(|(_, b)| b.len() < 2)
        .map(|(at, b)| (at, b[0]))
        .collect()
}

#[test]
fn batch_item_whose_poll_spans_the_firing_is_not_early_with_a_reader() {
    let clock = ManualClock::new();
    let out = batch_case(&clock, stamped(&clock, 0), 100);
    // Observed: [(20152, 12052)]: the batch opened with an item that arrived at 12.052 ms
    // (due at 22.052 ms) left at 20.152 ms. Its date stayed at the alarm's `close`
    // (10.101 ms - 1 ns): the firing's reading, 10.001 ms, is earlier, so nothing moved.
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch (reader)", &out, 10_000);
}

#[test]
fn batch_item_whose_poll_spans_the_firing_is_not_early_without_a_reader() {
    // The control: the same on `Late` (no reader) confirms by the reading, after the arrival.
    let clock = ManualClock::new();
    let out = batch_case(&clock, late(&clock, 0), 100);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch (no reader)", &out, 10_000);
}

#[test]
fn try_batch_spanning_the_firing_is_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, spanning_steps(100))
        .map(Ok::<u64, ()>)
        .try_batch(2, ms(10))
        .with_clock(stamped(&clock, 0));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(40))
        .into_iter()
        .map(|(at, b)| (at, b.unwrap()))
        .filter(|(_, b)| b.len() < 2)
        .map(|(at, b)| (at, b[0]))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("try_batch", &out, 10_000);
}

#[test]
fn batch_by_spanning_the_firing_is_not_early() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, spanning_steps(100))
        .batch_by(|_| 0u8, 2, ms(10))
        .with_clock(stamped(&clock, 0));
    let out: Vec<(u64, u64)> = run(&mut s, &clock, start, ms(40))
        .into_iter()
        .filter(|(_, (_, b))| b.len() < 2)
        .map(|(at, (_, b))| (at, b[0]))
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch_by", &out, 10_000);
}

#[test]
fn batch_item_whose_poll_spans_a_late_firing_is_not_early_with_a_reader() {
    // The timer fires no earlier than 11 ms (late by 1 ms: past `close`, 10.101 ms). The 5th
    // item's poll moves 1.1 ms (the timer fires at 11 ms and reads 11 ms), then 2 ms: it
    // arrives at 13.052 ms. The confirmation moves its date from `close` to the firing's
    // reading, 11 ms, not to the reading after the arrival.
    let clock = ManualClock::new();
    let out = batch_case(&clock, stamped(&clock, 11), 1_100);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch (reader, late timer)", &out, 10_000);
}

#[test]
fn batch_item_whose_poll_spans_a_late_firing_is_not_early_without_a_reader() {
    let clock = ManualClock::new();
    let out = batch_case(&clock, late(&clock, 11), 1_100);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_not_early("batch (no reader, late timer)", &out, 10_000);
}

#[test]
fn batch_with_reasons_spanning_the_firing_is_exact() {
    // `with_reasons` records the opening instant exactly (`Arrival::exact`): not affected.
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = script(&clock, spanning_steps(100))
        .batch(2, ms(10))
        .with_reasons()
        .with_clock(stamped(&clock, 0));
    let out = run(&mut s, &clock, start, ms(40));
    let last = out.last().expect("an output");
    assert_eq!(last.1.items, vec![12_052]);
    assert!(last.0 >= 22_052, "left at {} µs", last.0);
}

#[test]
fn batch_on_a_plain_manual_clock_is_exact() {
    // Resolution zero: the same script, exact.
    let clock = ManualClock::new();
    let out = batch_case(&clock, clock.clone(), 100);
    assert_eq!(out, vec![(22_052, 12_052)]);
}
