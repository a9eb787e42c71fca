//! Review of `Clock::reader` (the timer's firing reads the time, and that reading bounds the
//! confirmation of dates the alarm gave). The clocks are those of `review_late.rs`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{Stream, StreamExt};
use streamz::{Clock, ManualClock, ManualTimer, StreamzExt, Timer, TryStreamzExt};

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

fn late(clock: &ManualClock, ms: u64) -> Late {
    Late {
        clock: clock.clone(),
        until: clock.now() + Duration::from_millis(ms),
    }
}

thread_local! {
    static SHARED: std::cell::RefCell<Option<ManualClock>> = const { std::cell::RefCell::new(None) };
}

fn read_shared() -> Instant {
    SHARED.with(|c| c.borrow().as_ref().expect("a shared clock").now())
}

#[derive(Debug, Clone)]
struct Stamped(Late);

impl Clock for Stamped {
    type Timer = LateTimer;

    fn now(&self) -> Instant {
        self.0.now()
    }

    fn timer(&self, deadline: Instant) -> LateTimer {
        self.0.timer(deadline)
    }

    fn timer_resolution(&self) -> Option<Duration> {
        self.0.timer_resolution()
    }

    fn reader(&self) -> Option<fn() -> Instant> {
        Some(read_shared)
    }
}

fn stamped(clock: &ManualClock, ms: u64) -> Stamped {
    SHARED.with(|c| *c.borrow_mut() = Some(clock.clone()));
    Stamped(late(clock, ms))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
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
        clock.advance(us(100));
    }
    out
}

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

fn assert_not_early(what: &str, out: &[(u64, u64)], d: u64) {
    for &(at, arrival) in out {
        assert!(
            at >= arrival + d,
            "{what}: left at {at} µs, but counts from an item that arrived at {arrival} µs \
             (due at {} µs); outputs: {out:?}",
            arrival + d
        );
    }
}

// ---------------------------------------------------------------------------------------------
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
