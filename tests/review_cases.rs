//! Cases from adversarial reviews: time spent in hooks and weighers, wake-ups, outputs
//! waiting for the next poll, dense arrivals across budget gaps, `with_clock` mid-stream.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use streamz::{Edge, ManualClock, StreamzExt, TryStreamzExt};
use support::{drive, ms, poll_once, source, Driver, Feed, Item, Source, Timeline};

// ---------- A. user code (hook / weigher) that takes time: the deadline is acted on before
// ---------- the next inner poll

/// `throttle(10ms).edge(Both)` of a source of `u32`s, whose drop hook spends 20 ms on item 1.
fn throttle_with_a_slow_hook() -> (ManualClock, Feed<u32>, Driver<impl Stream<Item = u32>>) {
    drive(|s, clock| {
        let ticking = clock.clone();
        s.throttle(ms(10))
            .edge(Edge::Both)
            .on_drop(move |x| {
                if x == 1 {
                    ticking.advance(ms(20));
                }
            })
            .with_clock(clock)
    })
}

#[test]
fn throttle_both_window_end_during_on_drop_hook() {
    let (_clock, feed, mut d) = throttle_with_a_slow_hook();
    let busy = Timeline::new()
        .item(0, 0)
        .item(1, 1)
        .item(2, 2)
        .item(50, 3)
        .until(100);
    // window [0,10) ends during the hook (2ms..22ms): 2 leaves at 22 before item 3 is polled,
    // window [22,32); 3 arrives at 50 into a closed window and leads.
    assert_eq!(
        d.play_busy(&feed, busy),
        vec![Item(0, 0), Item(22, 2), Item(50, 3)]
    );
}

#[test]
fn debounce_quiet_end_during_on_drop_hook() {
    let (_clock, feed, mut d) = drive(|s: Source<u32>, clock| {
        let ticking = clock.clone();
        s.debounce(ms(10))
            .on_drop(move |x| {
                if x == 0 {
                    ticking.advance(ms(29)); // 1ms -> 30ms
                }
            })
            .with_clock(clock)
    });
    let busy = Timeline::new().item(0, 0).item(1, 1).item(50, 2).until(100);
    assert_eq!(d.play_busy(&feed, busy), vec![Item(30, 1), Item(60, 2)]);
}

#[test]
fn weighted_batch_deadline_during_weigher() {
    let (_clock, feed, mut d) = drive(|s, clock| {
        let ticking = clock.clone();
        s.batch(10, ms(10))
            .max_weight(100, move |x: &u32| {
                if *x == 1 {
                    ticking.advance(ms(20)); // 1ms -> 21ms
                }
                1
            })
            .with_clock(clock)
    });
    let busy = Timeline::new().item(0, 0).item(1, 1).item(50, 2).until(100);
    assert_eq!(
        d.play_busy(&feed, busy),
        vec![Item(21, vec![0, 1]), Item(60, vec![2])]
    );
}

// ---------- B. wakes: none for nothing due, at most one early

#[test]
fn batch_flushed_by_size_leaves_a_timer_that_wakes_nobody() {
    let (clock, feed, mut d) = drive(|s: Source<u32>, clock| s.batch(2, ms(100)).with_clock(clock));
    feed.push(1);
    d.run(); // Pending, alarm at 100 with the task registered
    assert_eq!(clock.timers(), 1);
    d.at(50);
    feed.push(2);
    d.run();
    assert_eq!(d.take(), vec![Item(50, vec![1, 2])]);
    let wakes = d.wakes();
    let timers = clock.timers();
    clock.advance(ms(60)); // past the dead deadline at 100
    assert_eq!(
        d.wakes(),
        wakes,
        "woken for a deadline that no longer exists (timers={timers})"
    );
}

/// Advances `clock` 1 ms at a time to `to_ms` (from the driver's start), counting the wakes
/// of `d`'s task before `to_ms`; runs the driver after each step.
fn wakes_until<S: Stream>(d: &mut Driver<S>, to_ms: u64) -> usize {
    let mut woken = 0;
    while d.now_ms() < to_ms - 1 {
        let before = d.wakes();
        d.step_to(d.now_ms() + 1);
        woken += d.wakes() - before;
    }
    woken
}

#[test]
fn batch_dense_items_then_pending_wake_at_most_once_early() {
    // The timer, armed within a resolution of the items while they came densely, is kept
    // rather than re-armed: it may wake the task once before the deadline (documented).
    let (_clock, feed, mut d) =
        drive(|s: Source<u32>, clock| s.batch(10, ms(100)).with_clock(clock));
    feed.push(1);
    feed.push(2);
    feed.push(3);
    d.run();
    assert!(wakes_until(&mut d, 100) <= 1);
    d.step_to(100);
    assert_eq!(d.take(), vec![Item(100, vec![1, 2, 3])]);
}

#[test]
fn debounce_dense_then_pending_wakes_at_most_once_early() {
    let (_clock, feed, mut d) =
        drive(|s: Source<u32>, clock| s.debounce(ms(100)).with_clock(clock));
    feed.push(1);
    feed.push(2);
    feed.push(3);
    d.run();
    assert!(wakes_until(&mut d, 100) <= 1);
    d.step_to(100);
    assert_eq!(d.take(), vec![Item(100, 3)]);
}

#[test]
fn try_batch_error_keeps_timer() {
    let (clock, feed, mut d) =
        drive(|s: Source<Result<u32, &str>>, clock| s.try_batch(10, ms(100)).with_clock(clock));
    feed.push(Ok(1));
    d.run();
    feed.push(Err("e"));
    d.run();
    let wakes = d.wakes();
    clock.advance(ms(100));
    assert_eq!(d.wakes(), wakes + 1);
    d.run();
    assert_eq!(d.take(), vec![Item(0, Err("e")), Item(100, Ok(vec![1]))]);
}

// ---------- C. stash / panics

#[test]
fn weigher_panic_after_a_deadline_keeps_the_flushed_batch() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (feed, input) = source::<u32>();
    let mut s = Box::pin(
        input
            .batch(10, ms(10))
            .max_weight(100, |x: &u32| {
                assert!(*x != 2, "weigher failure");
                1
            })
            .with_clock(clock.clone()),
    );
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    feed.push(1);
    assert!(s.as_mut().poll_next(&mut cx).is_pending());
    feed.push_busy(2, &clock, start + ms(20)); // deadline 10 passes while 2 is produced
    feed.end();
    let r = catch_unwind(AssertUnwindSafe(|| s.as_mut().poll_next(&mut cx)));
    assert!(r.is_err());
    let mut got = Vec::new();
    loop {
        match s.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(b)) => got.push(b),
            Poll::Ready(None) => break,
            Poll::Pending => clock.advance(ms(1)),
        }
    }
    assert_eq!(got, vec![vec![1], vec![2]], "item 1 lost");
}

#[test]
fn take_pending_takes_a_batch_waiting_for_the_next_poll() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (feed, input) = source::<u32>();
    let mut s = Box::pin(
        input
            .batch(10, ms(10))
            .max_weight(5, |x: &u32| *x as usize)
            .with_clock(clock.clone()),
    );
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    feed.push(1);
    assert!(s.as_mut().poll_next(&mut cx).is_pending());
    feed.push_busy(9, &clock, start + ms(20)); // too heavy: yielded alone, behind [1]
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(vec![1])));
    let hint = s.size_hint();
    let pending = s.as_mut().take_pending();
    assert_eq!(pending, vec![9], "hint {hint:?}");
}

#[test]
fn try_batch_take_pending_leaves_an_error_waiting_for_the_next_poll() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (feed, input) = source::<Result<u32, &str>>();
    let mut s = Box::pin(input.try_batch(10, ms(10)).with_clock(clock.clone()));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    feed.push(Ok(1));
    assert!(s.as_mut().poll_next(&mut cx).is_pending());
    // The deadline passes while the error is produced: the batch comes first, and the error
    // waits for the next poll.
    feed.push_busy(Err("e"), &clock, start + ms(20));
    feed.push(Ok(2));
    assert_eq!(
        s.as_mut().poll_next(&mut cx),
        Poll::Ready(Some(Ok(vec![1])))
    );
    assert_eq!(s.as_mut().take_pending(), Vec::<u32>::new());
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(Err("e"))));
}

// ---------- D. dense mode across budget gaps (expected to hold)

#[test]
fn debounce_dense_budget_gap_quiet_end_exact() {
    for mw in [None, Some(ms(12))] {
        let clock = ManualClock::new();
        let (feed, input) = source::<u32>();
        let mut s = input.debounce(ms(10)).with_clock(clock.clone());
        if let Some(mw) = mw {
            s = s.max_wait(mw);
        }
        for i in 0..1000 {
            feed.push(i);
        }
        assert!(poll_once(&mut s).is_pending());
        assert!(feed.queued() > 0);
        clock.advance(ms(5));
        assert!(poll_once(&mut s).is_pending());
        assert_eq!(feed.queued(), 0);
        let due = if mw.is_some() { ms(12) } else { ms(15) };
        clock.advance(due - ms(5) - Duration::from_nanos(1));
        assert!(poll_once(&mut s).is_pending());
        clock.advance(Duration::from_nanos(1));
        assert_eq!(poll_once(&mut s), Poll::Ready(Some(999)));
    }
}

#[test]
fn throttle_dense_budget_gap_window_end_inclusive() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input.throttle(ms(10)).with_clock(clock.clone());
    for i in 0..1000 {
        feed.push(i);
    }
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(0)));
    assert!(poll_once(&mut s).is_pending());
    clock.advance(ms(10));
    let r = poll_once(&mut s);
    assert!(matches!(r, Poll::Ready(Some(x)) if x > 500), "{r:?}");
}

#[test]
fn batch_dense_budget_gap_deadline_exact() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input.batch(5000, ms(10)).with_clock(clock.clone());
    for i in 0..1000 {
        feed.push(i);
    }
    assert!(poll_once(&mut s).is_pending());
    clock.advance(ms(10) - Duration::from_nanos(1));
    assert!(poll_once(&mut s).is_pending());
    let q = feed.queued();
    assert!(poll_once(&mut s).is_pending());
    clock.advance(Duration::from_nanos(1));
    for i in 1000..1010 {
        feed.push(i);
    }
    match poll_once(&mut s) {
        Poll::Ready(Some(b)) => assert_eq!(b.len(), 1000, "q={q}"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn debounce_restart_wakes_at_most_once_early() {
    // The timer armed for the old quiet end (100) is kept when 'b' moves it to 150: one wake
    // at 100, then one at 150, which yields 'b'.
    let (_clock, feed, mut d) = drive(|s, clock| s.debounce(ms(100)).with_clock(clock));
    feed.push('a');
    d.run();
    d.at(50);
    feed.push('b');
    d.run();
    assert!(wakes_until(&mut d, 150) <= 1);
    d.step_to(150);
    assert_eq!(d.take(), vec![Item(150, 'b')]);
}

#[test]
fn with_clock_keeps_stashed_error_and_remaining_time() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (feed, input) = source::<Result<u32, &'static str>>();
    let mut s = input.try_batch(10, ms(10)).with_clock(clock.clone());
    feed.push(Ok(1));
    feed.push(Ok(2));
    assert!(poll_once(&mut s).is_pending());
    feed.push_busy(Err("e"), &clock, start + ms(10));
    feed.push(Ok(3));
    feed.push(Ok(4));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(Ok(vec![1, 2]))));
    let other = ManualClock::new();
    other.advance(ms(1000));
    let mut s = s.with_clock(other.clone());
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(Err("e"))));
    assert!(poll_once(&mut s).is_pending()); // 3,4 batch opened on `other` at its now
    other.advance(ms(10) - Duration::from_nanos(1));
    assert!(poll_once(&mut s).is_pending());
    other.advance(Duration::from_nanos(1));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(Ok(vec![3, 4]))));
    assert_eq!(clock.timers(), 0);
}

#[test]
fn with_clock_mid_batch_in_dense_mode_keeps_remaining_time() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input.batch(100, ms(10)).with_clock(clock.clone());
    for i in 0..5 {
        feed.push(i);
    }
    assert!(poll_once(&mut s).is_pending());
    clock.advance(ms(4));
    let other = ManualClock::new();
    let mut s = s.with_clock(other.clone());
    assert_eq!(clock.timers(), 0);
    for i in 5..8 {
        feed.push(i);
    }
    assert!(poll_once(&mut s).is_pending());
    other.advance(ms(6) - Duration::from_nanos(1));
    assert!(poll_once(&mut s).is_pending());
    other.advance(Duration::from_nanos(1));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((0..8).collect())));
}

#[test]
fn throttle_both_window_end_during_a_hook_in_a_dense_run() {
    let (_clock, feed, mut d) = throttle_with_a_slow_hook();
    let busy = Timeline::new()
        .item(0, 0)
        .item(0, 1)
        .item(0, 2)
        .item(50, 3)
        .until(100);
    assert_eq!(
        d.play_busy(&feed, busy),
        vec![Item(0, 0), Item(20, 2), Item(50, 3)]
    );
}
