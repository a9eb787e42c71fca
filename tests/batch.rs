//! Behaviour of `batch` and `try_batch`, on virtual time.

mod support;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::stream::{self, FusedStream, Stream, StreamExt};
use streamz::testing::{Marbles, WakeCounter};
use streamz::{
    assert_marbles, Batch, FlushReason, Flushed, ManualClock, StreamzExt, TryStreamzExt,
};
use support::{
    drive, ms, panic_site, poll_once, source, Driver, End, Feed, Item, Source, Timeline,
};

type BatchDriver<T> = Driver<Batch<Source<T>, ManualClock>>;

/// A `batch(max_size, max_latency)` of a source of `T`.
fn batch_on<T>(max_size: usize, max_latency: Duration) -> (ManualClock, Feed<T>, BatchDriver<T>) {
    drive(|s, clock| s.batch(max_size, max_latency).with_clock(clock))
}

#[test]
fn batch_deadline_is_inclusive() {
    assert_marbles!(
        input:  "1 98ms 2",
        op:     |s, clock| s.batch(10, ms(100)).with_clock(clock),
        output: "100ms x",
        values: { x => vec!['1', '2'] },
    );
}

#[test]
fn batch_deadline_holds_on_an_always_ready_source() {
    // Every item costs 1 ms of (virtual) production time and the source is never `Pending`:
    // only a deadline checked before each inner poll can end the batch.
    let clock = ManualClock::new();
    let ticking = clock.clone();
    let source = stream::iter(0..).map(move |i: u32| {
        ticking.advance(ms(1));
        i
    });
    let start = clock.now();
    let mut d = Driver::new(source.batch(1000, ms(10)).with_clock(clock.clone()), &clock);
    // The first `run` must come back: the first batch leaves at its deadline.
    let mut s = d.stream();
    let waker = Waker::from(std::sync::Arc::new(WakeCounter::new()));
    let mut cx = Context::from_waker(&waker);
    let first = match s.as_mut().poll_next(&mut cx) {
        Poll::Ready(Some(batch)) => batch,
        other => panic!("expected a batch, got {other:?}"),
    };
    // Item 0 arrives at 1 ms (when the poll that produced it returns), so the deadline is
    // 11 ms. Item 10 arrives at 11 ms, at the deadline: the batch leaves without it, holding
    // the 10 items that arrived before, and item 10 opens the next batch.
    assert_eq!(first, (0..10).collect::<Vec<_>>());
    assert_eq!(clock.now() - start, ms(11));
    let second = match s.as_mut().poll_next(&mut cx) {
        Poll::Ready(Some(batch)) => batch,
        other => panic!("expected a batch, got {other:?}"),
    };
    assert_eq!(second, (10..20).collect::<Vec<_>>());
    assert_eq!(clock.now() - start, ms(21));
}

#[test]
fn batch_next_deadline_starts_at_its_own_first_item() {
    assert_marbles!(
        input:  "1 149ms 2",
        op:     |s, clock| s.batch(10, ms(100)).with_clock(clock),
        output: "100ms x 149ms y",
        values: { x => vec!['1'], y => vec!['2'] },
    );
}

#[test]
fn batch_size_flush_discards_the_old_deadline() {
    // The deadline of [1, 2] (at 100) must not flush [3], whose own deadline is 150.
    assert_marbles!(
        input:  "(12) 49ms 3",
        op:     |s, clock| s.batch(2, ms(100)).with_clock(clock),
        output: "x 149ms y",
        values: { x => vec!['1', '2'], y => vec!['3'] },
    );
}

#[test]
fn batch_never_yields_an_empty_batch() {
    let (clock, feed, mut d) = batch_on(10, ms(100));
    feed.push(1);
    d.run();
    d.step_to(100);
    assert_eq!(d.take(), vec![Item(100, vec![1])]);
    d.step_to(1000);
    assert_eq!(d.take(), vec![]);
    // Ending with nothing pending yields just the end.
    feed.end();
    d.run();
    assert_eq!(d.take(), vec![End(1000)]);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn batch_end_flushes_the_partial_batch_at_once() {
    assert_marbles!(
        input:  "1 29ms (2|)",
        op:     |s, clock| s.batch(10, ms(100)).with_clock(clock),
        output: "30ms (x|)",
        values: { x => vec!['1', '2'] },
    );
}

#[test]
fn batch_is_fused_and_never_polls_the_inner_stream_after_it_ended() {
    let (_clock, feed, mut d) = batch_on(10, ms(100));
    assert!(
        !d.get().is_terminated(),
        "not before the inner stream ended"
    );
    feed.push(1);
    d.run();
    assert!(!d.get().is_terminated(), "a batch is pending");
    feed.end();
    d.run();
    assert!(d.get().is_terminated());
    let polls = feed.polls();
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..3 {
        // The source panics if polled after its end; the adapter must not do that.
        assert_eq!(d.stream().poll_next(&mut cx), Poll::Ready(None));
    }
    assert_eq!(feed.polls(), polls);
}

#[test]
fn batch_arms_a_timer_when_a_batch_waits_and_it_wakes_the_task() {
    let (clock, feed, mut d) = batch_on(10, ms(100));
    d.run();
    assert_eq!(clock.timers(), 0, "nothing pending, nothing to wait for");
    feed.push(1);
    d.run();
    assert_eq!(clock.timers(), 1);
    let wakes = d.wakes();
    clock.advance(ms(100));
    assert_eq!(d.wakes(), wakes + 1, "reaching the deadline wakes the task");
    d.run();
    assert_eq!(d.take(), vec![Item(100, vec![1])]);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn batch_drop_releases_the_timer() {
    let (clock, feed, mut d) = batch_on(10, ms(100));
    feed.push(1);
    d.run();
    assert_eq!(clock.timers(), 1);
    drop(d);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn batch_zero_latency_yields_what_is_ready() {
    assert_marbles!(
        input:  "(1234) 4ms 5",
        op:     |s, clock| s.batch(3, Duration::ZERO).with_clock(clock),
        output: "(xy) 4ms z",
        values: { x => vec!['1', '2', '3'], y => vec!['4'], z => vec!['5'] },
    );
}

#[test]
fn batch_zero_latency_on_an_always_ready_source_yields_at_the_poll_budget() {
    let clock = ManualClock::new();
    let mut s = stream::iter(0u32..)
        .batch(usize::MAX, Duration::ZERO)
        .with_clock(clock);
    let first = futures::executor::block_on(s.next()).unwrap();
    assert_eq!(first, (0..512).collect::<Vec<_>>());
    let second = futures::executor::block_on(s.next()).unwrap();
    assert_eq!(second, (512..1024).collect::<Vec<_>>());
}

#[test]
fn batch_max_latency_means_no_time_bound() {
    for latency in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        let (clock, feed, mut d) = batch_on(3, latency);
        feed.push(1);
        feed.push(2);
        d.run();
        assert_eq!(clock.timers(), 0, "no deadline, no timer");
        d.at(1_000_000_000);
        assert_eq!(d.take(), vec![]);
        feed.push(3);
        feed.push(4);
        feed.end();
        d.run();
        assert_eq!(
            d.take(),
            vec![
                Item(1_000_000_000, vec![1, 2, 3]),
                Item(1_000_000_000, vec![4]),
                End(1_000_000_000)
            ]
        );
    }
}

#[test]
fn batch_memory_follows_the_buffered_items_not_max_size() {
    let clock = ManualClock::new();
    let out: Vec<Vec<u8>> = futures::executor::block_on(
        stream::iter([1u8, 2, 3])
            .batch(usize::MAX, ms(100))
            .with_clock(clock)
            .collect(),
    );
    assert_eq!(out, vec![vec![1, 2, 3]]);
    assert!(out[0].capacity() < 16, "capacity {}", out[0].capacity());
}

#[test]
fn batch_bounds_the_work_of_one_poll_and_wakes_itself() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    for i in 0..2000 {
        feed.push(i);
    }
    let mut s = Box::pin(input.batch(usize::MAX, ms(100)).with_clock(clock));
    let wakes = std::sync::Arc::new(WakeCounter::new());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
    assert_eq!(feed.polls(), 512, "one poll takes at most 512 items");
    assert_eq!(wakes.count(), 1, "and wakes its task to continue");
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
    assert_eq!(feed.polls(), 1024);
    assert_eq!(wakes.count(), 2);
}

#[test]
fn batch_zero_max_size_panics_at_the_call_site() {
    let (message, site) = panic_site(|| {
        let _ = stream::iter([1]).batch(0, ms(1));
    });
    assert!(message.contains("max_size"), "{message}");
    assert!(site.starts_with("tests/batch.rs:"), "reported at {site}");
    let (message, site) = panic_site(|| {
        let _ = stream::iter([Ok::<u8, ()>(1)]).try_batch(0, ms(1));
    });
    assert!(message.contains("max_size"), "{message}");
    assert!(site.starts_with("tests/batch.rs:"), "reported at {site}");
}

#[test]
fn batch_take_pending_recovers_the_items_and_cancels_the_deadline() {
    let (_clock, feed, mut d) = batch_on(10, ms(100));
    feed.push(1);
    feed.push(2);
    d.run();
    assert_eq!(d.stream().take_pending(), vec![1, 2]);
    d.step_to(300);
    assert_eq!(d.take(), vec![]);
    feed.push(3);
    d.run();
    d.step_to(400);
    assert_eq!(d.take(), vec![Item(400, vec![3])]);
}

/// A `batch(10, 100ms)` on `clock` that has taken item 1 and returned `Pending`.
fn batch_holding_one(clock: &ManualClock) -> Batch<Source<u32>, ManualClock> {
    let (feed, input) = source();
    let mut s = input.batch(10, ms(100)).with_clock(clock.clone());
    feed.push(1);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(Pin::new(&mut s).poll_next(&mut cx), Poll::Pending);
    s
}

#[test]
fn batch_with_clock_after_polling_keeps_items_and_the_time_left() {
    let first = ManualClock::new();
    let s = batch_holding_one(&first);
    first.advance(ms(60));

    let second = ManualClock::new();
    // The new clock reads later than the old one did: the deadline keeps the 40 ms it had
    // left, counted on the new clock from the swap.
    second.advance(ms(30));
    let mut d = Driver::new(s.with_clock(second.clone()), &second);
    assert_eq!(first.timers(), 0, "the old clock's timer is gone");
    d.run();
    d.step_to(39);
    assert_eq!(d.take(), vec![]);
    d.step_to(40);
    assert_eq!(d.take(), vec![Item(40, vec![1])]);
}

#[test]
fn batch_with_clock_after_its_deadline_passed_yields_at_the_next_poll() {
    let first = ManualClock::new();
    let s = batch_holding_one(&first);
    // Overdue by 50 ms on the old clock, which nobody polled since.
    first.advance(ms(150));
    let second = ManualClock::new();
    let mut d = Driver::new(s.with_clock(second.clone()), &second);
    d.run();
    assert_eq!(d.take(), vec![Item(0, vec![1])]);
}

#[test]
fn batch_size_hint_contains_the_true_count() {
    let s = stream::iter(0..10).batch(3, ms(1));
    assert_eq!(s.size_hint(), (4, Some(10)));
    let s = stream::iter(0..9).batch(3, ms(1));
    assert_eq!(s.size_hint(), (3, Some(9)));
    let s = stream::iter(0..0).batch(3, ms(1));
    assert_eq!(s.size_hint(), (0, Some(0)));
    let s = stream::repeat(1).batch(3, ms(1));
    assert_eq!(s.size_hint(), (usize::MAX / 3, None));

    // Pending items count too, and the end yields exactly what the hint allowed.
    let (_clock, feed, mut d) = batch_on(2, ms(100));
    feed.push(1);
    d.run();
    // The source's hint is (0, None): one pending item means at least one batch.
    assert_eq!(d.get().size_hint(), (1, None));
    feed.end();
    d.run();
    assert_eq!(d.get().size_hint(), (0, Some(0)));

    let s = stream::iter(vec![Ok::<u8, ()>(1), Err(()), Ok(2)]).try_batch(2, ms(1));
    assert_eq!(s.size_hint(), (2, Some(3)));
    let out: Vec<_> = futures::executor::block_on(s.collect());
    assert_eq!(out.len(), 2);
}

#[test]
fn batch_debug_shows_the_settings() {
    let s = stream::iter([1, 2]).batch(3, ms(5));
    let text = format!("{s:?}");
    assert!(text.starts_with("Batch"), "{text}");
    assert!(text.contains("max_size: 3"), "{text}");
    let s = stream::iter([Ok::<u8, ()>(1)]).try_batch(3, ms(5));
    assert!(format!("{s:?}").starts_with("TryBatch"));
}

#[test]
fn batch_accessors_reach_the_inner_stream() {
    let mut s = stream::iter([1, 2, 3]).batch(2, ms(5));
    assert_eq!(s.get_ref().size_hint(), (3, Some(3)));
    assert_eq!(s.get_mut().next_inner_for_test(), Some(1));
    assert_eq!(Pin::new(&mut s).get_pin_mut().size_hint(), (2, Some(2)));
    let inner = s.into_inner();
    assert_eq!(
        futures::executor::block_on(inner.collect::<Vec<_>>()),
        vec![2, 3]
    );
}

trait NextForTest: Stream + Unpin {
    fn next_inner_for_test(&mut self) -> Option<Self::Item> {
        futures::executor::block_on(self.next())
    }
}
impl<S: Stream + Unpin> NextForTest for S {}

#[test]
fn try_batch_error_keeps_the_batch_and_its_deadline() {
    // The error neither counts towards the size nor restarts the deadline; one at the end
    // still overtakes the pending batch.
    let recording = Marbles::new().run_try("1 49ms # 9ms (23) 4 9ms (#|)", 'e', |s, clock| {
        s.try_batch(3, ms(100)).with_clock(clock)
    });
    recording.assert_values(
        "50ms # 9ms x 10ms (#y|)",
        [
            ('#', Err('e')),
            ('x', Ok(vec!['1', '2', '3'])),
            ('y', Ok(vec!['4'])),
        ],
    );
}

#[test]
fn try_batch_deadline_comes_before_a_ready_error() {
    let (clock, feed, mut d) =
        drive(|s: Source<Result<u32, &str>>, clock| s.try_batch(10, ms(100)).with_clock(clock));
    feed.push(Ok(1));
    d.run();
    feed.push(Err("e"));
    clock.advance(ms(100));
    d.run();
    assert_eq!(d.take(), vec![Item(100, Ok(vec![1])), Item(100, Err("e"))]);
}

#[test]
fn batch_doc_timeline_holds() {
    // The diagram of `StreamzExt::batch`'s docs: batch(3, 50ms), one character = 10 ms.
    assert_marbles!(
        input:  "1-2-3-4-5---------6-----|",
        tick:   ms(10),
        op:     |s, clock| s.batch(3, ms(50)).with_clock(clock),
        output: "----A------B-----------C|",
        values: { A => vec!['1', '2', '3'], B => vec!['4', '5'], C => vec!['6'] },
    );
}

#[test]
fn batch_deadline_holds_when_a_fast_source_turns_slow() {
    // 300 items at no cost, then items costing 1 ms each, inside the source's poll. The
    // first batch opens at 0 ms and leaves as the first item to arrive at or after 10 ms does
    // (item 309, at 10 ms): nothing that arrived after the deadline joins it. From then on,
    // every batch holds the 10 items that arrived within 10 ms of its first.
    let clock = ManualClock::new();
    let ticking = clock.clone();
    let source = stream::iter(0u32..).map(move |i| {
        if i >= 300 {
            ticking.advance(ms(1));
        }
        i
    });
    let mut s = Box::pin(source.batch(100_000, ms(10)).with_clock(clock.clone()));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let start = clock.now();
    let mut batches = Vec::new();
    while batches.len() < 4 {
        if let Poll::Ready(Some(batch)) = s.as_mut().poll_next(&mut cx) {
            let first = batch[0];
            let last = batch[batch.len() - 1];
            batches.push(((clock.now() - start).as_millis(), first, last));
        }
    }
    assert_eq!(
        batches,
        vec![(10, 0, 308), (20, 309, 318), (30, 319, 328), (40, 329, 338)]
    );
}

#[test]
fn batch_size_hint_upper_bound_counts_the_pending_batch() {
    let (_clock, feed, mut d) = batch_on(10, ms(100));
    feed.push(1);
    d.run();
    feed.push(2);
    feed.push(3);
    // The source knows of exactly 2 more items once it has ended; one is pending here.
    feed.end();
    assert_eq!(d.get().size_hint(), (1, Some(3)));
    d.run();
    assert_eq!(d.take(), vec![Item(0, vec![1, 2, 3]), End(0)]);
}

#[test]
fn batch_deadline_wakes_the_waker_of_the_latest_poll() {
    // The timer is armed once; a later poll with another waker (the task moved) must move the
    // wake-up to that waker.
    let clock = ManualClock::new();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let mut s = rx.batch(10, ms(100)).with_clock(clock.clone());
    let first = Arc::new(WakeCounter::new());
    let second = Arc::new(WakeCounter::new());
    let (first_waker, second_waker) = (Waker::from(first.clone()), Waker::from(second.clone()));
    tx.unbounded_send(1).unwrap();
    assert!(s
        .poll_next_unpin(&mut Context::from_waker(&first_waker))
        .is_pending());
    assert_eq!(clock.timers(), 1);
    clock.advance(ms(50));
    assert!(s
        .poll_next_unpin(&mut Context::from_waker(&second_waker))
        .is_pending());
    clock.advance(ms(49));
    assert_eq!((first.count(), second.count()), (0, 0));
    clock.advance(ms(1));
    assert_eq!((first.count(), second.count()), (0, 1));
    assert_eq!(
        s.poll_next_unpin(&mut Context::from_waker(&second_waker)),
        Poll::Ready(Some(vec![1]))
    );
    // Re-armed for the next batch, the timer wakes the latest waker again. (The send wakes
    // `second`, which the channel holds.)
    tx.unbounded_send(2).unwrap();
    assert!(s
        .poll_next_unpin(&mut Context::from_waker(&first_waker))
        .is_pending());
    let before = (first.count(), second.count());
    clock.advance(ms(100));
    assert_eq!((first.count(), second.count()), (before.0 + 1, before.1));
    assert_eq!(
        s.poll_next_unpin(&mut Context::from_waker(&first_waker)),
        Poll::Ready(Some(vec![2]))
    );
}

/// Checks the exact bound on the first `batches` batches of `batch(usize::MAX, latency)` over
/// an always-ready source whose item `i` costs `cost(i)` of virtual time inside its poll:
/// every item of a batch arrived before its deadline (the first item's arrival plus
/// `latency`), and the batch left as the next item arrived, at or after the deadline. So it
/// is late by at most that one item's production time.
fn assert_exact_deadlines(
    cost: impl Fn(u64) -> Duration + 'static,
    latency: Duration,
    batches: usize,
) {
    let clock = ManualClock::new();
    let ticking = clock.clone();
    let arrivals = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = arrivals.clone();
    let source = stream::iter(0u64..).map(move |i| {
        ticking.advance(cost(i));
        log.borrow_mut().push(ticking.now());
        i
    });
    let mut s = Box::pin(source.batch(usize::MAX, latency).with_clock(clock.clone()));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut seen = 0;
    let mut next = 0;
    while seen < batches {
        if let Poll::Ready(Some(batch)) = s.as_mut().poll_next(&mut cx) {
            seen += 1;
            let arrivals = arrivals.borrow();
            assert_eq!(batch[0], next, "items lost or reordered");
            let deadline = arrivals[batch[0] as usize] + latency;
            let last = *batch.last().unwrap();
            assert_eq!(batch, (batch[0]..=last).collect::<Vec<_>>());
            assert!(
                arrivals[last as usize] < deadline,
                "an item past the deadline joined"
            );
            let crossing = arrivals[last as usize + 1];
            assert!(crossing >= deadline, "a batch left before its deadline");
            assert_eq!(
                clock.now(),
                crossing,
                "a batch left later than the crossing item"
            );
            next = last + 1;
        }
    }
}

#[test]
fn batch_deadline_is_exact_on_a_steady_busy_source() {
    for cost in [0, 10, 50, 80, 100, 1_000, 1_900, 5_000, 20_000, 1_000_000] {
        let step = Duration::from_nanos(cost.max(1));
        // A latency of a few hundred items at most (and 10 µs at least, past the 2 µs under
        // which arrivals count as dense), so that the cheap costs stay quick to run.
        let latency = (step * 400).clamp(Duration::from_micros(10), ms(1));
        // (A free item makes no progress in time: mix in one costly item in eight.)
        assert_exact_deadlines(
            move |i| {
                if cost == 0 && i % 8 != 7 {
                    Duration::ZERO
                } else {
                    step
                }
            },
            latency,
            8,
        );
    }
}

#[test]
fn batch_deadline_is_exact_when_a_source_changes_pace() {
    // One free item, then 127 items of 1 ms, over and over.
    assert_exact_deadlines(
        |i| if i % 128 == 0 { Duration::ZERO } else { ms(1) },
        ms(10),
        60,
    );
    // 100,000 free items, then 5 ms items: the deadline set by a batch's first item is seen
    // as the first slow item arrives.
    assert_exact_deadlines(
        |i| if i < 100_000 { Duration::ZERO } else { ms(5) },
        ms(10),
        20,
    );
    // Slow, then fast: 1 ms items, then items of 1 µs.
    assert_exact_deadlines(
        |i| {
            if i < 50 {
                ms(1)
            } else {
                Duration::from_micros(1)
            }
        },
        ms(10),
        20,
    );
    // Alternating bursts: 1,000 items of 10 ns, then 10 of 3 ms.
    assert_exact_deadlines(
        |i| {
            if i % 1010 < 1000 {
                Duration::from_nanos(10)
            } else {
                ms(3)
            }
        },
        ms(10),
        40,
    );
}

#[test]
fn try_batch_take_pending_recovers_the_values_and_is_fused() {
    let (_clock, feed, mut d) = drive(|s, clock| s.try_batch(10, ms(100)).with_clock(clock));
    feed.push(Ok::<u32, &str>(1));
    feed.push(Ok(2));
    d.run();
    assert!(!d.get().is_terminated(), "a batch is pending");
    assert_eq!(d.stream().take_pending(), vec![1, 2]);
    d.step_to(300);
    assert_eq!(d.take(), vec![], "the deadline went with the values");
    feed.push(Ok(3));
    feed.end();
    d.run();
    assert_eq!(d.take(), vec![Item(300, Ok(vec![3])), End(300)]);
    assert!(d.get().is_terminated());
}

/// A batch that came out with its reason: (time in ms, items, reason, opened at in ms).
type Why<T> = (u64, Vec<T>, FlushReason, u64);

/// The `Flushed` outputs of a driver, as [`Why`]s, its times counted from `start`.
fn reasons<T>(events: Vec<support::Event<Flushed<T>>>, start: Instant) -> Vec<Why<T>> {
    events
        .into_iter()
        .filter_map(|event| match event {
            Item(t, flushed) => {
                let opened = (flushed.opened_at - start).as_millis() as u64;
                Some((t, flushed.items, flushed.reason, opened))
            }
            End(_) => None,
        })
        .collect()
}

#[test]
fn batch_with_reasons_tells_why_each_batch_left_and_when_it_opened() {
    let (clock, feed, mut d) =
        drive(|s, clock| s.batch(3, ms(100)).with_reasons().with_clock(clock));
    let start = clock.now();
    let events = d.play(
        &feed,
        Timeline::new()
            .items([(0, 'a'), (0, 'b'), (0, 'c')])
            .item(10, 'd')
            .item(200, 'e')
            .end(250)
            .until(250),
    );
    assert_eq!(
        reasons(events, start),
        vec![
            (0, vec!['a', 'b', 'c'], FlushReason::Full, 0),
            (110, vec!['d'], FlushReason::Deadline, 10),
            (250, vec!['e'], FlushReason::End, 200),
        ]
    );
}

#[test]
fn batch_with_reasons_under_a_zero_latency_says_the_stream_paused() {
    let (clock, feed, mut d) =
        drive(|s, clock| s.batch(10, Duration::ZERO).with_reasons().with_clock(clock));
    let start = clock.now();
    let events = d.play(
        &feed,
        Timeline::new().items([(5, 1), (5, 2), (7, 3)]).until(10),
    );
    assert_eq!(
        reasons(events, start),
        vec![
            (5, vec![1, 2], FlushReason::Paused, 5),
            (7, vec![3], FlushReason::Paused, 7),
        ]
    );
}

#[test]
fn batch_with_reasons_tells_a_batch_that_left_by_weight() {
    let (clock, feed, mut d) = drive(|s, clock| {
        s.batch(10, ms(100))
            .max_weight(8, |line: &&str| line.len())
            .with_reasons()
            .with_clock(clock)
    });
    let start = clock.now();
    let events = d.play(
        &feed,
        Timeline::new()
            .items([(0, "aaaa"), (1, "bbbb"), (2, "cccc")])
            .item(3, "a-line-over-8")
            .end(4)
            .until(4),
    );
    assert_eq!(
        reasons(events, start),
        vec![
            // "cccc" would take the batch over 8: it opens the next one.
            (2, vec!["aaaa", "bbbb"], FlushReason::Weight, 0),
            (3, vec!["cccc"], FlushReason::Weight, 2),
            // Too heavy on its own: it leaves alone, at the next poll.
            (3, vec!["a-line-over-8"], FlushReason::Weight, 3),
        ]
    );
}

#[test]
fn try_batch_with_reasons_passes_errors_and_tells_reasons() {
    let (clock, feed, mut d) =
        drive(|s, clock| s.try_batch(2, ms(50)).with_reasons().with_clock(clock));
    let start = clock.now();
    let events = d.play(
        &feed,
        Timeline::new()
            .items([(0, Ok(1)), (1, Err("boom")), (2, Ok(2)), (3, Ok(3))])
            .end(4)
            .until(4),
    );
    let outputs: Vec<_> = events
        .into_iter()
        .filter_map(|event| match event {
            Item(t, Ok(flushed)) => {
                let opened = (flushed.opened_at - start).as_millis() as u64;
                Some(Ok((t, flushed.items, flushed.reason, opened)))
            }
            Item(t, Err(e)) => Some(Err((t, e))),
            End(_) => None,
        })
        .collect();
    assert_eq!(
        outputs,
        vec![
            Err((1, "boom")),
            Ok((2, vec![1, 2], FlushReason::Full, 0)),
            Ok((4, vec![3], FlushReason::End, 3)),
        ]
    );
}

#[test]
fn batch_with_reasons_keeps_the_opening_instant_across_with_clock() {
    // A batch opened 30 ms before the clock is replaced: it opened 30 ms before the new
    // clock's now, and leaves 70 ms later by its deadline.
    let old = ManualClock::new();
    let (feed, input) = source();
    let mut s = Box::pin(
        input
            .batch(10, ms(100))
            .with_reasons()
            .with_clock(old.clone()),
    );
    feed.push(1);
    assert!(poll_once(&mut s).is_pending());
    old.advance(ms(30));
    let new = ManualClock::new();
    let start = new.now();
    let mut s = Box::pin(Pin::into_inner(s).with_clock(new.clone()));
    assert!(poll_once(&mut s).is_pending());
    new.advance(ms(70));
    match poll_once(&mut s) {
        Poll::Ready(Some(flushed)) => {
            assert_eq!(flushed.reason, FlushReason::Deadline);
            assert_eq!(flushed.opened_at + ms(30), start);
        }
        other => panic!("expected the batch, got {other:?}"),
    }
}

#[test]
fn batch_of_an_always_ready_source_leaves_each_time_it_fills() {
    // Taken in runs (the alarm watches the deadline): each batch leaves as its last item
    // fills it, never with one more.
    for max_size in [1, 2, 3, 100] {
        let clock = ManualClock::new();
        let total = 1000;
        let batches: Vec<Vec<u32>> = futures::executor::block_on(
            stream::iter(0..total)
                .batch(max_size, ms(10))
                .with_clock(clock)
                .collect(),
        );
        let expected: Vec<Vec<u32>> = (0..total)
            .collect::<Vec<_>>()
            .chunks(max_size)
            .map(<[u32]>::to_vec)
            .collect();
        assert_eq!(batches, expected, "max_size {max_size}");
    }
}

#[test]
fn batch_opened_among_fast_items_keeps_its_deadline_when_they_turn_slow() {
    // 25 items at once, then items that each take 1 ms inside the poll. The third batch
    // opens with item 24 at 0 ms, among the fast items (it may be taken in a run and dated by
    // the alarm): its deadline is 5 ms, so it holds 24..=28 (item 28 arrives at 4 ms, item
    // 29 at 5 ms).
    let clock = ManualClock::new();
    let ticking = clock.clone();
    let source = stream::iter(0..40u32).map(move |i| {
        if i >= 25 {
            ticking.advance(ms(1));
        }
        i
    });
    let mut d = Driver::new(source.batch(12, ms(5)).with_clock(clock.clone()), &clock);
    d.run();
    let range = |r: std::ops::RangeInclusive<u32>| r.collect::<Vec<_>>();
    assert_eq!(
        d.take(),
        vec![
            Item(0, range(0..=11)),
            Item(0, range(12..=23)),
            Item(5, range(24..=28)),
            Item(10, range(29..=33)),
            Item(15, range(34..=38)),
            Item(15, range(39..=39)),
            End(15),
        ]
    );
}
