//! Time order on sources that spend time inside their own `poll_next` (they move a
//! `ManualClock` before they return): an item arrives when its poll returns, every deadline
//! reached by then is acted on first, and an output is late only by the production time of
//! the item during which it came due. Also the faults of the sampling engine this replaced.

mod support;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{self, Stream, StreamExt};
use streamz::{Edge, ManualClock, StreamzExt, TryStreamzExt};
use support::ms;

/// Items `0..` whose item `i` costs `cost(i)` of virtual time inside the poll that returns it;
/// the arrival of each (the clock as its poll returns) is logged.
fn costly(
    clock: &ManualClock,
    cost: impl Fn(u64) -> Duration + 'static,
) -> (impl Stream<Item = u64>, Rc<RefCell<Vec<Instant>>>) {
    let ticking = clock.clone();
    let arrivals = Rc::new(RefCell::new(Vec::new()));
    let log = arrivals.clone();
    let source = stream::iter(0u64..).map(move |i| {
        ticking.advance(cost(i));
        log.borrow_mut().push(ticking.now());
        i
    });
    (source, arrivals)
}

/// Polls `s` with a no-op waker until it has yielded `n` items, each with the virtual time it
/// was yielded at. The source is always ready, so the adapter never waits for its timer.
fn take<S: Stream + Unpin>(s: &mut S, clock: &ManualClock, n: usize) -> Vec<(Instant, S::Item)> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    let mut polls = 0;
    while out.len() < n {
        polls += 1;
        assert!(polls < 1_000_000, "no output");
        if let Poll::Ready(Some(item)) = s.poll_next_unpin(&mut cx) {
            out.push((clock.now(), item));
        }
    }
    out
}

/// 30 items of 1 ms, 970 free ones, then items of 100 µs, then free ones again.
fn changing_pace(i: u64) -> Duration {
    match i {
        0..=29 => ms(1),
        30..=999 => Duration::ZERO,
        1000..=1199 => Duration::from_micros(100),
        _ => Duration::ZERO,
    }
}

#[test]
fn throttle_leading_passes_the_first_item_at_or_after_each_window_end() {
    let clock = ManualClock::new();
    let (source, arrivals) = costly(&clock, changing_pace);
    let mut s = Box::pin(source.throttle(ms(10)).with_clock(clock.clone()));
    let out = take(&mut s, &clock, 4);
    let arrivals = arrivals.borrow();
    // The reference: a window opens at each passed item's arrival; the next item to pass is
    // the first to arrive at or after its end.
    let mut expected = vec![0u64];
    while expected.len() < 4 {
        let end = arrivals[*expected.last().unwrap() as usize] + ms(10);
        let next = (0..arrivals.len()).find(|&i| arrivals[i] >= end).unwrap();
        expected.push(next as u64);
    }
    let passed: Vec<u64> = out.iter().map(|&(_, i)| i).collect();
    assert_eq!(passed, expected);
    // Each leaves as it arrives, so yields are a period apart at least.
    for &(at, i) in &out {
        assert_eq!(at, arrivals[i as usize]);
    }
    for pair in out.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= ms(10), "{out:?}");
    }
}

#[test]
fn throttle_yields_stay_a_period_apart_when_the_source_changes_pace() {
    for edge in [Edge::Leading, Edge::Trailing, Edge::Both] {
        let clock = ManualClock::new();
        let (source, _) = costly(&clock, changing_pace);
        let mut s = Box::pin(source.throttle(ms(10)).edge(edge).with_clock(clock.clone()));
        let out = take(&mut s, &clock, 4);
        for pair in out.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= ms(10), "{edge:?}: {out:?}");
        }
    }
}

#[test]
fn throttle_trailing_window_end_during_an_item_is_acted_on_as_it_arrives() {
    // Items of 3 ms: the window opened by item 0 (at 3 ms) ends at 13 ms, during item 4,
    // which arrives at 15 ms. Item 3 (the latest before the end) leaves then, and its
    // emission opens the next window, at 15 ms; item 4 is its first trailing candidate.
    let clock = ManualClock::new();
    let (source, _) = costly(&clock, |_| ms(3));
    let start = clock.now();
    let mut s = Box::pin(
        source
            .throttle(ms(10))
            .edge(Edge::Trailing)
            .with_clock(clock.clone()),
    );
    let out: Vec<(Duration, u64)> = take(&mut s, &clock, 3)
        .into_iter()
        .map(|(at, i)| (at - start, i))
        .collect();
    // Window [15, 25) ends during item 8 (arriving at 27): item 7 leaves at 27, and so on.
    assert_eq!(out, vec![(ms(15), 3), (ms(27), 7), (ms(39), 11)]);
}

#[test]
fn debounce_over_items_slower_than_the_quiet_period_yields_every_item() {
    // Each item takes 6 ms to produce; each quiet period of 5 ms ends while the next item is
    // being produced, so every item comes out, as the next one arrives.
    let clock = ManualClock::new();
    let (source, arrivals) = costly(&clock, |_| ms(6));
    let mut s = Box::pin(source.debounce(ms(5)).with_clock(clock.clone()));
    let out = take(&mut s, &clock, 10);
    let arrivals = arrivals.borrow();
    for (k, &(at, i)) in out.iter().enumerate() {
        assert_eq!(i, k as u64, "{out:?}");
        // Item k leaves as item k + 1 arrives.
        assert_eq!(at, arrivals[k + 1]);
    }
}

#[test]
fn debounce_leading_leads_with_each_item_slower_than_the_quiet_period() {
    // No quiet period runs when an item arrives: each leads, and none trails (with `Both`,
    // no item came after the leading one).
    for edge in [Edge::Leading, Edge::Both] {
        let clock = ManualClock::new();
        let (source, arrivals) = costly(&clock, |_| ms(6));
        let mut s = Box::pin(source.debounce(ms(5)).edge(edge).with_clock(clock.clone()));
        let out = take(&mut s, &clock, 10);
        for (k, &(at, i)) in out.iter().enumerate() {
            assert_eq!((at, i), (arrivals.borrow()[k], k as u64), "{edge:?}");
        }
    }
}

#[test]
fn debounce_max_wait_cuts_a_busy_run_as_the_first_item_past_it_arrives() {
    // 50 free items, then items of 4 ms: each arrives within the 5 ms quiet period of the
    // one before, so the run lasts, and `max_wait` (10 ms after the run's first item) cuts it
    // as the first item at or after that arrives.
    let clock = ManualClock::new();
    let start = clock.now();
    let (source, _) = costly(&clock, |i| if i < 50 { Duration::ZERO } else { ms(4) });
    let mut s = Box::pin(
        source
            .debounce(ms(5))
            .max_wait(ms(10))
            .with_clock(clock.clone()),
    );
    let out: Vec<(Duration, u64)> = take(&mut s, &clock, 3)
        .into_iter()
        .map(|(at, i)| (at - start, i))
        .collect();
    // Run 1 starts with item 0 at 0 ms; items 50, 51, 52 arrive at 4, 8, 12 ms: the cut is
    // due at 10 ms and seen at 12 ms, with item 51 (the latest before it). Item 52 starts
    // run 2 at 12 ms: items 53 (16), 54 (20), 55 (24) -> cut due at 22, seen at 24, with 54.
    assert_eq!(out, vec![(ms(12), 51), (ms(24), 54), (ms(36), 57)]);
}

#[test]
fn debounce_quiet_period_ending_in_a_budget_gap_ends_at_its_time() {
    // A source of 600 ready items, then nothing. A call takes 512 of them (the budget) and
    // wakes its task; the next call comes 10 ms later. The quiet period of the latest item
    // taken ended during that gap, at 10 ms: that item leaves first (trailing), or the next
    // one leads. (`Leading` and `Both` yield item 0 at once, so their budget ends at 512.)
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    for edge in [Edge::Trailing, Edge::Leading, Edge::Both] {
        let clock = ManualClock::new();
        let start = clock.now();
        let mut s = Box::pin(
            stream::iter(0..600u32)
                .chain(stream::pending())
                .debounce(ms(10))
                .edge(edge)
                .with_clock(clock.clone()),
        );
        let mut out = Vec::new();
        for _ in 0..4 {
            while let Poll::Ready(Some(x)) = s.as_mut().poll_next(&mut cx) {
                out.push(((clock.now() - start).as_millis(), x));
            }
            clock.advance(ms(10));
        }
        let expected = match edge {
            Edge::Trailing => vec![(10, 511), (20, 599)],
            // 513 arrives 10 ms after 512, when no quiet period runs: it leads.
            Edge::Leading => vec![(0, 0), (10, 513)],
            Edge::Both => vec![(0, 0), (10, 512), (10, 513), (20, 599)],
        };
        assert_eq!(out, expected, "{edge:?}");
    }
}

/// Yields 1, 2, 3, then spends 10 ms and returns `Pending` after waking itself, then yields
/// 4, 5, 6, then nothing more.
struct PauseAfterThree {
    clock: ManualClock,
    step: u32,
}

impl Stream for PauseAfterThree {
    type Item = u32;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
        self.step += 1;
        match self.step {
            1..=3 => Poll::Ready(Some(self.step)),
            4 => {
                self.clock.advance(ms(10));
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            5..=7 => Poll::Ready(Some(self.step - 1)),
            _ => Poll::Pending,
        }
    }
}

#[test]
fn debounce_pause_that_coincides_with_max_wait_still_ends_the_quiet_period() {
    // A zero quiet period ends at the pause; `max_wait` (10 ms) passes during the same poll.
    // In time order: the cut yields 3, then the pause ends the quiet period, so 4 leads.
    let clock = ManualClock::new();
    let source = PauseAfterThree {
        clock: clock.clone(),
        step: 0,
    };
    let mut s = Box::pin(
        source
            .debounce(Duration::ZERO)
            .max_wait(ms(10))
            .edge(Edge::Both)
            .with_clock(clock.clone()),
    );
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    for _ in 0..20 {
        if let Poll::Ready(Some(x)) = s.as_mut().poll_next(&mut cx) {
            out.push(x);
        }
    }
    assert_eq!(out, vec![1, 3, 4, 6]);
}

#[test]
fn batch_deadline_passing_in_a_budget_gap_acts_before_the_next_poll() {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let clock = ManualClock::new();
    let start = clock.now();
    let mut s = Box::pin(
        stream::iter(0..2000u32)
            .chain(stream::pending())
            .batch(10_000, ms(10))
            .with_clock(clock.clone()),
    );
    // One call takes 512 items (the budget) at 0 ms; the next comes 15 ms later.
    assert!(s.as_mut().poll_next(&mut cx).is_pending());
    clock.advance(ms(15));
    let first = match s.as_mut().poll_next(&mut cx) {
        Poll::Ready(Some(batch)) => batch,
        other => panic!("{other:?}"),
    };
    // Timer first: the batch leaves before anything else is polled, with the items that
    // arrived before its deadline.
    assert_eq!(first, (0..512).collect::<Vec<_>>());
    // The rest arrive at 15 ms (in three calls) and leave at 25 ms.
    for _ in 0..5 {
        assert!(s.as_mut().poll_next(&mut cx).is_pending());
    }
    clock.advance(ms(9));
    assert!(s.as_mut().poll_next(&mut cx).is_pending());
    clock.advance(ms(1));
    let Poll::Ready(Some(rest)) = s.as_mut().poll_next(&mut cx) else {
        panic!("no batch at its deadline");
    };
    assert_eq!(clock.now() - start, ms(25));
    assert_eq!(rest, (512..2000).collect::<Vec<_>>());
}

#[test]
fn try_batch_deadline_passing_while_an_error_is_produced_comes_before_it() {
    // Ok(1) at 0 ms; the error takes 20 ms to produce. The batch's deadline (10 ms) passed
    // first: [1] is yielded first, then the error.
    let clock = ManualClock::new();
    let ticking = clock.clone();
    let source = stream::iter([Ok(1), Err("e"), Ok(2)]).map(move |item| {
        if item.is_err() {
            ticking.advance(ms(20));
        }
        item
    });
    let start = clock.now();
    let mut s = Box::pin(source.try_batch(10, ms(10)).with_clock(clock.clone()));
    let out: Vec<_> = take(&mut s, &clock, 3)
        .into_iter()
        .map(|(at, x)| ((at - start).as_millis(), x))
        .collect();
    assert_eq!(
        out,
        vec![(20, Ok(vec![1])), (20, Err("e")), (20, Ok(vec![2]))]
    );
}

#[test]
fn batch_item_arriving_at_its_deadline_joins_the_next_batch() {
    // Deadlines are inclusive: an item produced until exactly the deadline is past it.
    let clock = ManualClock::new();
    let (source, _) = costly(&clock, |i| if i == 0 { Duration::ZERO } else { ms(5) });
    let mut s = Box::pin(source.batch(100, ms(10)).with_clock(clock.clone()));
    let out = take(&mut s, &clock, 2);
    assert_eq!(out[0].1, vec![0, 1]);
    assert_eq!(out[1].1, vec![2, 3]);
}

#[test]
fn batch_weigher_that_panics_loses_no_item() {
    let clock = ManualClock::new();
    let mut s = Box::pin(
        stream::iter(1..=5u32)
            .batch(10, ms(10))
            .max_weight(100, |x: &u32| {
                assert!(*x != 3, "weigher failure");
                1
            })
            .with_clock(clock),
    );
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let result = catch_unwind(AssertUnwindSafe(|| s.as_mut().poll_next(&mut cx)));
    assert!(result.is_err(), "the panic reaches the caller");
    // Item 3 stayed in the batch, weightless; 4 and 5 follow, and the end flushes them.
    assert_eq!(
        s.as_mut().poll_next(&mut cx),
        Poll::Ready(Some(vec![1, 2, 3, 4, 5]))
    );
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(None));
}

#[test]
fn with_clock_after_a_deadline_passed_acts_at_the_next_poll() {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    // A trailing throttle item whose window ended on the old clock, and a debounced item
    // whose quiet period ended there: both leave at the next poll on the new clock.
    let old = ManualClock::new();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut throttle = rx
        .throttle(ms(100))
        .edge(Edge::Trailing)
        .with_clock(old.clone());
    tx.unbounded_send('a').unwrap();
    assert!(throttle.poll_next_unpin(&mut cx).is_pending());
    old.advance(ms(150));
    let mut throttle = throttle.with_clock(ManualClock::new());
    assert_eq!(throttle.poll_next_unpin(&mut cx), Poll::Ready(Some('a')));

    let old = ManualClock::new();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut debounce = rx.debounce(ms(100)).with_clock(old.clone());
    tx.unbounded_send('b').unwrap();
    assert!(debounce.poll_next_unpin(&mut cx).is_pending());
    old.advance(ms(150));
    let mut debounce = debounce.with_clock(ManualClock::new());
    assert_eq!(debounce.poll_next_unpin(&mut cx), Poll::Ready(Some('b')));
}

#[test]
fn weigher_time_does_not_move_the_next_batch_deadline() {
    // Item 2 arrives at 10 ms; the weigher spends 50 ms on it, and it takes the batch over its
    // weight: [1] leaves, and the next batch's deadline counts from 2's arrival, not from the
    // end of its weighing.
    let (_clock, feed, mut d) = support::drive(|s, clock| {
        let ticking = clock.clone();
        s.batch(10, ms(100))
            .max_weight(1, move |x: &u32| {
                if *x == 2 {
                    ticking.advance(ms(50));
                }
                1
            })
            .with_clock(clock)
    });
    feed.push(1);
    d.run();
    d.at(10);
    feed.push(2);
    d.run();
    d.step_to(300);
    assert_eq!(
        d.take(),
        vec![support::Item(60, vec![1]), support::Item(110, vec![2])]
    );
}

#[test]
fn weigher_that_panics_never_lets_a_batch_exceed_max_size() {
    // The weigher panics on item `max_size`, which fills the batch: that batch leaves at the
    // next poll, without the item after it.
    for max_size in [1, 2] {
        let (feed, input) = support::source::<u32>();
        let mut s = Box::pin(
            input
                .batch(max_size, ms(100))
                .max_weight(100, |x: &u32| {
                    assert!(*x != max_size as u32, "weigher failure");
                    1
                })
                .with_clock(ManualClock::new()),
        );
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for x in 1..=3 {
            feed.push(x);
        }
        feed.end();
        let result = catch_unwind(AssertUnwindSafe(|| s.as_mut().poll_next(&mut cx)));
        assert!(result.is_err(), "the panic reaches the caller");
        let mut batches = Vec::new();
        while let Poll::Ready(Some(batch)) = s.as_mut().poll_next(&mut cx) {
            batches.push(batch);
        }
        let expected: Vec<Vec<u32>> = if max_size == 1 {
            vec![vec![1], vec![2], vec![3]]
        } else {
            vec![vec![1, 2], vec![3]]
        };
        assert_eq!(batches, expected, "max_size {max_size}");
    }
}

/// A waker that runs a task's poll at once, inside `wake`.
struct Inline(std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl std::task::Wake for Inline {
    fn wake(self: std::sync::Arc<Self>) {
        if let Some(f) = self.0.lock().unwrap().take() {
            f()
        }
    }
}

#[test]
fn an_item_sent_by_a_task_woken_inside_advance_arrives_at_that_task_s_deadline() {
    // Another task's timer (50 ms) fires during `advance(100ms)`; that task sends item 2 and
    // polls the batch at once, inside its waker. It sees the clock at 50 ms, and so does the
    // batch: 2 arrived before the batch's deadline (100 ms) and joins it.
    use std::sync::{Arc, Mutex};
    use streamz::{Clock, Timer};
    type Shared<S> = Arc<Mutex<Pin<Box<S>>>>;
    fn poll_all<S: Stream>(s: &Shared<S>, out: &Arc<Mutex<Vec<S::Item>>>) {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut s = s.lock().unwrap();
        while let Poll::Ready(Some(x)) = s.as_mut().poll_next(&mut cx) {
            out.lock().unwrap().push(x);
        }
    }
    let clock = ManualClock::new();
    let start = clock.now();
    let (feed, input) = support::source::<u32>();
    let batches: Shared<_> = Arc::new(Mutex::new(Box::pin(
        input.batch(10, ms(100)).with_clock(clock.clone()),
    )));
    let out = Arc::new(Mutex::new(Vec::new()));
    feed.push(1);
    poll_all(&batches, &out);
    let sent_at = Arc::new(Mutex::new(None));
    let other = {
        let (batches, out, feed, clock, sent_at) = (
            batches.clone(),
            out.clone(),
            feed.clone(),
            clock.clone(),
            sent_at.clone(),
        );
        std::task::Waker::from(Arc::new(Inline(Mutex::new(Some(Box::new(move || {
            *sent_at.lock().unwrap() = Some(clock.now() - start);
            feed.push(2);
            poll_all(&batches, &out);
        }))))))
    };
    let mut timer = clock.timer(start + ms(50));
    assert!(timer
        .poll_fired(&mut Context::from_waker(&other))
        .is_pending());
    clock.advance(ms(100));
    poll_all(&batches, &out);
    assert_eq!(*sent_at.lock().unwrap(), Some(ms(50)));
    assert_eq!(*out.lock().unwrap(), vec![vec![1, 2]]);
}
