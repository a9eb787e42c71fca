//! A timer that fires late, as `futures-timer`'s thread does when it waits for a core: the
//! adapters must never act early because of it. While items come densely, an adapter dates
//! them from its timer (they arrived before it fired) rather than reading the clock for each;
//! a timer that fires later than its resolution says must not make those dates early.

mod support;

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::stream::{Stream, StreamExt};
use streamz::{FlushReason, ManualClock, StreamzExt, TryStreamzExt};

use support::late::*;
use support::ms;

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

#[test]
fn a_timer_date_is_confirmed_before_a_budget_gap() {
    // Timers keep time here. Items come 10 ns apart, so no timer fires within a call; a call
    // that spends its budget returns, and the task comes back 5 ms later. The second batch
    // opens (dated by the timer) in a call that ends so: the gap must not move its deadline.
    let clock = ManualClock::new();
    let start = clock.now();
    let (source, count) = dense_counted(&clock, 1_600, Duration::from_nanos(10));
    let mut s = source
        .batch(1_000, Duration::from_millis(10))
        .with_clock(late(&clock, 0));
    let busy = move || count.load(Ordering::Relaxed) < 1_600;
    let out = run_with_gaps(
        &mut s,
        &clock,
        start,
        Duration::from_millis(80),
        ms(5),
        busy,
        |_| false,
    );
    assert_eq!(out.len(), 2, "{out:?}");
    let (at, batch) = &out[1];
    assert_eq!(batch.len(), 600);
    let first = batch[0];
    assert!(
        *at >= first + 10_000,
        "left at {at} µs, first item at {first} µs"
    );
    assert!(
        *at <= first + 10_000 + 300,
        "left at {at} µs, first item at {first} µs"
    );
}

/// `n` items `step` apart, the one at index `error` an `Err`, through `adapter`; the consumer
/// takes 3 ms over the error before it polls again. Returns the last output, a batch, with
/// the time it came (both in µs from the start: an item is its arrival).
fn last_batch_after_an_error<S>(
    clock: &ManualClock,
    n: u64,
    step: Duration,
    error: usize,
    adapter: impl FnOnce(Box<dyn Stream<Item = Result<u64, u64>> + Unpin>) -> S,
) -> (u64, Vec<u64>)
where
    S: Stream<Item = Result<Vec<u64>, u64>> + Unpin,
{
    let start = clock.now();
    let (source, count) = dense_counted(clock, n, step);
    let source = source
        .enumerate()
        .map(move |(i, x)| if i == error { Err(x) } else { Ok(x) });
    let mut s = adapter(Box::new(source));
    let busy = move || count.load(Ordering::Relaxed) < n;
    let out = run_with_gaps(&mut s, clock, start, ms(60), ms(3), busy, Result::is_err);
    match out.last() {
        Some((at, Ok(batch))) => (*at, batch.clone()),
        _ => panic!("{out:?}"),
    }
}

/// Asserts that a batch whose first item came at `first` µs left by its 10 ms deadline at
/// `at` µs, late only by the timer's precision and the driver's steps.
fn assert_left_by_deadline(at: u64, first: u64) {
    assert!(
        at >= first + 10_000,
        "left at {at} µs, first item at {first} µs"
    );
    assert!(
        at <= first + 10_000 + 300,
        "left at {at} µs, first item at {first} µs"
    );
}

#[test]
fn a_timer_date_is_confirmed_before_an_output_leaves() {
    // Batches of 100 fill up while items come densely (10 ns apart, so that no timer fires
    // between the second batch's opening and the error); its deadline counts from
    // its first item, dated by the timer. An error passes at once, 4 items after the second
    // batch opened, and the consumer takes 3 ms over it before it polls again: that must not
    // move the deadline of the batch opened just before the error.
    let clock = ManualClock::new();
    let (at, batch) = last_batch_after_an_error(&clock, 150, Duration::from_nanos(10), 104, |s| {
        s.try_batch(100, ms(10)).with_clock(late(&clock, 0))
    });
    assert!(batch.len() < 100, "{batch:?}");
    assert_left_by_deadline(at, batch[0]);
}

#[test]
fn a_late_timer_date_is_confirmed_before_an_output_leaves() {
    // No timer fires before 5 ms. Batches of 300 fill up while items come 1 µs apart; the
    // second batch opens with an item dated by the timer, 0.1 ms before it arrived (the
    // timer's instant plus its 0.1 ms, counted from a reading 0.3 ms back). An error passes
    // at once, and the consumer takes 3 ms over it: the call must confirm the date first.
    // Neither the consumer's 3 ms count, nor do dates the timer gives after them.
    let clock = ManualClock::new();
    let (at, batch) = last_batch_after_an_error(&clock, 400, Duration::from_micros(1), 304, |s| {
        s.try_batch(300, ms(10)).with_clock(late(&clock, 5))
    });
    assert!(batch.len() < 300, "{batch:?}");
    assert_left_by_deadline(at, batch[0]);
}

#[test]
fn a_late_timer_date_is_confirmed_before_a_keyed_output_leaves() {
    // As above, through `try_batch_by` with every item on one key.
    let clock = ManualClock::new();
    let (at, batch) = last_batch_after_an_error(&clock, 400, Duration::from_micros(1), 304, |s| {
        s.try_batch_by(|_| 0u8, 300, ms(10))
            .with_clock(late(&clock, 5))
            .map(|out| out.map(|(_, batch)| batch))
    });
    assert!(batch.len() < 300, "{batch:?}");
    assert_left_by_deadline(at, batch[0]);
}

#[test]
fn a_debounce_date_is_confirmed_before_a_budget_gap() {
    // 512 items 10 ns apart (a call's whole budget), each restarting the quiet period from a
    // date the timer gives; the call ends with its budget spent, and the task comes back
    // 5 ms later, to find the source paused. The last item's quiet period counts from its
    // arrival, not from after the gap.
    let clock = ManualClock::new();
    let start = clock.now();
    let (source, _) = dense_counted(&clock, 512, Duration::from_nanos(10));
    let mut s = source
        .debounce(Duration::from_millis(20))
        .with_clock(late(&clock, 0));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(Pin::new(&mut s).poll_next(&mut cx).is_pending());
    clock.advance(ms(5));
    let out = run(&mut s, &clock, start, ms(60));
    assert_eq!(out.len(), 1, "{out:?}");
    let (at, item) = out[0];
    assert!(at >= item + 20_000, "left at {at} µs, item at {item} µs");
    assert!(
        at <= item + 20_000 + 300,
        "left at {at} µs, item at {item} µs"
    );
}

/// Items 1 µs apart, and a timer that fires 0.1 ms after its instant, as late as its
/// resolution allows: the deadline still holds to the item.
#[test]
fn a_timer_at_its_full_lag_keeps_a_batch_deadline_exact() {
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = dense(&clock, 3_500)
        .batch(100_000, Duration::from_millis(1))
        .with_clock(Lagging(clock.clone()));
    let out = run(&mut s, &clock, start, Duration::from_millis(10));
    // Item values are their arrivals in µs (the driver's gaps included): each batch holds
    // exactly the items that arrived before its deadline, 1 ms after its first.
    let batches: Vec<Vec<u64>> = out.into_iter().map(|(_, batch)| batch).collect();
    let items: Vec<u64> = batches.concat();
    assert_eq!(items.len(), 3_500);
    let mut expected: Vec<(u64, u64)> = Vec::new(); // (first, last) of each batch
    for &at in &items {
        match expected.last_mut() {
            Some((first, last)) if at < *first + 1_000 => *last = at,
            _ => expected.push((at, at)),
        }
    }
    let got: Vec<(u64, u64)> = batches.iter().map(|b| (b[0], b[b.len() - 1])).collect();
    assert_eq!(got, expected);
    assert!(expected.len() >= 3);
}

/// The same for a throttle window: the first item at or after the window's end passes, not
/// the first after the timer fired.
#[test]
fn a_timer_at_its_full_lag_keeps_a_throttle_window_exact() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (source, arrivals) = recorded(dense(&clock, 3_500));
    let mut s = source
        .throttle(Duration::from_millis(1))
        .with_clock(Lagging(clock.clone()));
    let out = run(&mut s, &clock, start, Duration::from_millis(10));
    let passed: Vec<u64> = out.into_iter().map(|(_, item)| item).collect();
    let arrivals = arrivals.lock().unwrap().clone();
    let expected = throttle_passes(&arrivals, 1_000);
    assert_eq!(passed, expected);
    assert!(expected.len() >= 3);
}

/// And for a debounce's `max_wait`: a run is cut by the first item that arrives at or after
/// its end (its output is the item before), and that item starts the next run.
#[test]
fn a_timer_at_its_full_lag_keeps_a_max_wait_exact() {
    let clock = ManualClock::new();
    let start = clock.now();
    let (source, arrivals) = recorded(dense(&clock, 3_500));
    let mut s = source
        .debounce(Duration::from_millis(1))
        .max_wait(Duration::from_millis(2))
        .with_clock(Lagging(clock.clone()));
    let out = run(&mut s, &clock, start, Duration::from_millis(20));
    let cut: Vec<u64> = out.into_iter().map(|(_, item)| item).collect();
    let arrivals = arrivals.lock().unwrap().clone();
    // The last run ends by its quiet period, after the source stops.
    let expected = max_wait_cuts(&arrivals, 2_000);
    assert_eq!(cut, expected);
    assert!(expected.len() >= 3);
}

/// Items 10 µs apart (not dense), with a pause after every 5 (so that a call ends with the
/// timer armed for the next deadline), and a timer that fires nothing before 8 ms, far later
/// than its resolution: each item is looked at with a reading, so every deadline still acts at
/// the first item that arrives at or after it. The three adapters, against their exact models.
#[test]
fn a_timer_later_than_its_resolution_delays_no_deadline_on_items_further_apart() {
    // 6 ms of items and pauses, all before the timer can fire.
    let (batches, passes, cuts) = exact_with_a_dead_timer(|clock| paced(clock, 200), 200, 8, 20);
    assert!(batches >= 5 && passes >= 5 && cuts >= 2);
}

/// `n` items, each produced in 10 µs of virtual time, with a `Pending` (after waking the task)
/// after every 5; then a source that stays pending. Each item's value is its arrival, in µs.
fn paced(clock: &ManualClock, n: u64) -> impl Stream<Item = u64> + Unpin {
    let clock = clock.clone();
    let start = clock.now();
    let mut sent = 0;
    let mut paused = false;
    futures::stream::poll_fn(move |cx| {
        if sent == n {
            return std::task::Poll::Pending;
        }
        if sent % 5 == 0 && sent > 0 && !paused {
            paused = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        paused = false;
        sent += 1;
        clock.advance(us(10));
        std::task::Poll::Ready(Some((clock.now() - start).as_micros() as u64))
    })
}

/// Dense items (1 µs apart) and a timer that fires nothing before 50 ms: the adapter takes the
/// items on the timer's word, but reads the clock once 4096 items arrived since its latest
/// reading, at the latest. So a deadline acts at most that many items late, never early. (On
/// this steady pace it acts at its exact item: see the test above.)
#[test]
fn a_timer_later_than_its_resolution_delays_a_deadline_by_at_most_4096_dense_items() {
    const BUDGET: usize = 4096;
    let clock = ManualClock::new();
    let start = clock.now();
    let (source, arrivals) = recorded(dense(&clock, 30_000));
    let mut s = source
        .throttle(Duration::from_millis(1))
        .with_clock(late(&clock, 50));
    let out = run(&mut s, &clock, start, Duration::from_millis(60));
    let passed: Vec<u64> = out.into_iter().map(|(_, item)| item).collect();
    let arrivals = arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 30_000);
    let index = |at: u64| arrivals.binary_search(&at).unwrap();
    assert!(passed.len() >= 4, "{passed:?}");
    for pair in passed.windows(2) {
        // The first item at or after the end of the window that the first one opened.
        let due =
            index(pair[0]) + arrivals[index(pair[0])..].partition_point(|&a| a < pair[0] + 1_000);
        let got = index(pair[1]);
        assert!(
            (due..=due + BUDGET).contains(&got),
            "passed item {got}, the window ended at item {due}"
        );
    }

    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = dense(&clock, 30_000)
        .batch(100_000, Duration::from_millis(1))
        .with_clock(late(&clock, 50));
    let out = run(&mut s, &clock, start, Duration::from_millis(60));
    let batches: Vec<Vec<u64>> = out.into_iter().map(|(_, batch)| batch).collect();
    assert_eq!(batches.concat().len(), 30_000);
    assert!(batches.len() >= 4, "{} batches", batches.len());
    for (i, batch) in batches.iter().enumerate() {
        let past = batch.iter().filter(|&&at| at >= batch[0] + 1_000).count();
        assert!(
            past <= BUDGET,
            "batch {i} holds {past} items past its deadline"
        );
        if i + 1 < batches.len() {
            // It left at its deadline or within a budget of items after it, not before.
            assert!(
                batches[i + 1][0] >= batch[0] + 1_000,
                "batch {i} left early"
            );
        }
    }
}

/// Dense items of a steady pace (1 µs apart) and a timer that fires nothing before 50 ms:
/// the adapter reads the clock as the timer's latest instant nears, at three quarters of the
/// items the pace puts before it, and then again, closing in on it. So every deadline still
/// acts at the first item that arrives at or after it: the three adapters, against their
/// exact models. (It would wait for the 4096th unread item otherwise.)
#[test]
fn a_timer_later_than_its_resolution_delays_no_deadline_on_dense_items_of_a_steady_pace() {
    let (batches, passes, cuts) =
        exact_with_a_dead_timer(|clock| dense(clock, 30_000), 30_000, 50, 60);
    assert!(batches >= 25 && passes >= 25 && cuts >= 12);
}

/// Items exactly 2 µs apart are not dense (the pace must be under 2 µs per item): each gets a
/// reading, so a source that then slows down to 300 µs items is seen slow at its first slow
/// item, even with a timer that fires nothing before 50 ms. Taken as dense, they would be read
/// every 75 items or so (three quarters of the 0.2 ms of items the timer covers), and the
/// change comes between two such readings: the next would wait up to 75 slow items.
#[test]
fn items_2_us_apart_get_readings_of_their_own() {
    let source = |clock: &ManualClock| {
        let clock = clock.clone();
        let start = clock.now();
        futures::stream::iter(0..3_137u32)
            .map(move |i| {
                clock.advance(Duration::from_micros(if i < 3_037 { 2 } else { 300 }));
                (clock.now() - start).as_micros() as u64
            })
            .chain(futures::stream::pending())
    };
    let (batches, passes, cuts) = exact_with_a_dead_timer(source, 3_137, 50, 60);
    assert!(batches >= 30 && passes >= 30 && cuts >= 15);
}

/// Runs `batch(100_000, 1ms)`, `throttle(1ms)` and `debounce(1ms).max_wait(2ms)` over
/// `source` (`items` items, each its arrival in µs) until `until` ms, with a timer that fires
/// nothing before `dead` ms: each must match its exact model. Returns how many batches,
/// passes and cuts the models hold.
fn exact_with_a_dead_timer<S: Stream<Item = u64> + Unpin>(
    source: impl Fn(&ManualClock) -> S,
    items: usize,
    dead: u64,
    until: u64,
) -> (usize, usize, usize) {
    let until = Duration::from_millis(until);
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = source(&clock)
        .batch(100_000, Duration::from_millis(1))
        .with_clock(late(&clock, dead));
    let out = run(&mut s, &clock, start, until);
    let batches: Vec<Vec<u64>> = out.into_iter().map(|(_, batch)| batch).collect();
    assert_eq!(batches.concat().len(), items);
    let expected = batches_by_time(&batches.concat(), 1_000);
    let firsts = |batches: &[Vec<u64>]| batches.iter().map(|b| b[0]).collect::<Vec<_>>();
    assert!(
        batches == expected,
        "batches opened at {:?}, expected at {:?}",
        firsts(&batches),
        firsts(&expected)
    );

    let clock = ManualClock::new();
    let start = clock.now();
    let (source_, arrivals) = recorded(source(&clock));
    let mut s = source_
        .throttle(Duration::from_millis(1))
        .with_clock(late(&clock, dead));
    let out = run(&mut s, &clock, start, until);
    let passed: Vec<u64> = out.into_iter().map(|(_, item)| item).collect();
    assert_eq!(arrivals.lock().unwrap().len(), items);
    let passes = throttle_passes(&arrivals.lock().unwrap(), 1_000);
    assert_eq!(passed, passes);

    let clock = ManualClock::new();
    let start = clock.now();
    let (source_, arrivals) = recorded(source(&clock));
    let mut s = source_
        .debounce(Duration::from_millis(1))
        .max_wait(Duration::from_millis(2))
        .with_clock(late(&clock, dead));
    let out = run(&mut s, &clock, start, until);
    let cut: Vec<u64> = out.into_iter().map(|(_, item)| item).collect();
    // The last run ends by its quiet period once the source stops: the timer fires by then.
    let cuts = max_wait_cuts(&arrivals.lock().unwrap(), 2_000);
    assert_eq!(cut, cuts);
    (expected.len(), passes.len(), cuts.len())
}

/// A leading throttle's passes over `arrivals` (µs): the first, then each first item at or
/// after the end of the window the previous pass opened.
fn throttle_passes(arrivals: &[u64], period: u64) -> Vec<u64> {
    let mut passed = vec![arrivals[0]];
    for &at in arrivals {
        if at >= passed[passed.len() - 1] + period {
            passed.push(at);
        }
    }
    passed
}

/// The batches of `arrivals` (µs) by time alone: each holds the items that arrived before its
/// first item's arrival + `latency`.
fn batches_by_time(arrivals: &[u64], latency: u64) -> Vec<Vec<u64>> {
    let mut batches: Vec<Vec<u64>> = Vec::new();
    for &at in arrivals {
        match batches.last_mut() {
            Some(batch) if at < batch[0] + latency => batch.push(at),
            _ => batches.push(vec![at]),
        }
    }
    batches
}

/// A trailing debounce's outputs over `arrivals` (µs) whose quiet period never ends between
/// items: each run is cut by `max_wait` (its output is the item before the first one at or
/// after the run's first + `max_wait`), and the last run's item leaves once the source stops.
fn max_wait_cuts(arrivals: &[u64], max_wait: u64) -> Vec<u64> {
    let mut cuts = Vec::new();
    let mut run_start = arrivals[0];
    for pair in arrivals.windows(2) {
        if pair[1] >= run_start + max_wait {
            cuts.push(pair[0]);
            run_start = pair[1];
        }
    }
    cuts.push(arrivals[arrivals.len() - 1]);
    cuts
}
