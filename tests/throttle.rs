//! Behaviour of `throttle` and `try_throttle`, on virtual time.

mod support;

use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream, StreamExt};
use streamz::testing::{Marbles, WakeCounter};
use streamz::{assert_marbles, Edge, ManualClock, StreamzExt, Throttle, TryStreamzExt};
use support::{drive, ms, source, Driver, End, Feed, Item, Source, Timeline};

type ThrottleDriver = Driver<Throttle<Source<char>, ManualClock>>;

/// A `throttle(period).edge(edge)` of a source of `char`s.
fn throttle_on(period: Duration, edge: Edge) -> (ManualClock, Feed<char>, ThrottleDriver) {
    drive(|s, clock| s.throttle(period).edge(edge).with_clock(clock))
}

#[test]
fn throttle_defaults_to_leading() {
    assert_marbles!(
        input:  "a 9ms b 89ms c",
        op:     |s, clock| s.throttle(ms(100)).with_clock(clock),
        output: "a 99ms c",
    );
}

#[test]
fn throttle_leading_dropped_items_do_not_extend_the_window() {
    // An item every 5 ms: the window still ends 100 ms after 'a'.
    assert_marbles!(
        input:  "abcdefghijklmnopqrstuvw",
        tick:   ms(5),
        op:     |s, clock| s.throttle(ms(100)).with_clock(clock),
        output: "a-------------------u",
    );
}

#[test]
fn throttle_leading_window_end_wakes_nobody_and_the_stream_ends_at_once() {
    let (clock, feed, mut d) = throttle_on(ms(100), Edge::Leading);
    let out = d.play(&feed, Timeline::new().item(0, 'a').item(10, 'b').until(20));
    assert_eq!(out, vec![Item(0, 'a')]);
    // The timer watches the window's end (an item arriving after it must pass), but that end
    // yields nothing, so it does not wake the task.
    let wakes = d.wakes();
    clock.advance(ms(200));
    assert_eq!(d.wakes(), wakes);
    feed.end();
    d.run();
    assert_eq!(d.take(), vec![End(220)]);
    assert_eq!(clock.timers(), 0, "an ended adapter holds no timer");
}

#[test]
fn throttle_both_never_repeats_a_lone_item() {
    assert_marbles!(
        input:  "a 249ms b 149ms |",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Both).with_clock(clock),
        output: "a 249ms b 149ms |",
    );
}

#[test]
fn throttle_trailing_yields_a_lone_item_at_window_end() {
    assert_marbles!(
        input:  "a",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Trailing).with_clock(clock),
        output: "100ms a",
    );
}

#[test]
fn throttle_trailing_window_closes_when_nothing_arrived() {
    // 'a' leaves at 100 and opens [100, 200); nothing arrives, so it closes. 'b' at 250 opens a
    // new window silently and leaves at 350.
    assert_marbles!(
        input:  "a 249ms b",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Trailing).with_clock(clock),
        output: "100ms a 249ms b",
    );
}

#[test]
fn throttle_trailing_item_at_window_end_goes_to_the_next_window() {
    // Timer first: at 100 the window ends ('a' leaves, opening [100, 200)) before 'b' is taken.
    assert_marbles!(
        input:  "a 99ms b",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Trailing).with_clock(clock),
        output: "100ms a 99ms b",
    );
}

#[test]
fn throttle_trailing_end_of_stream_waits_for_the_window() {
    assert_marbles!(
        input:  "a 9ms b 9ms c 9ms |",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Trailing).with_clock(clock),
        output: "100ms (c|)",
    );
    assert_marbles!(
        input:  "a 9ms b 9ms c 9ms |",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Both).with_clock(clock),
        output: "a 99ms (c|)",
    );
}

#[test]
fn throttle_end_without_pending_item_ends_at_once() {
    let input = "a 149ms |";
    for (edge, output) in [
        (Edge::Leading, "a 149ms |"),
        (Edge::Trailing, "100ms a 49ms |"),
        (Edge::Both, "a 149ms |"),
    ] {
        Marbles::new()
            .run(input, |s, clock| {
                s.throttle(ms(100)).edge(edge).with_clock(clock)
            })
            .assert_diagram(output);
    }
}

#[test]
fn throttle_outputs_are_never_closer_than_the_period() {
    // A dense, irregular input: check the gap between outputs for every edge.
    let items = (0..200u64)
        .filter(|t| (t * 7 + t / 3) % 5 != 0)
        .map(|t| (t * 3, 'x'));
    for edge in [Edge::Leading, Edge::Trailing, Edge::Both] {
        let (_clock, feed, mut d) = throttle_on(ms(40), edge);
        let timeline = Timeline::new().items(items.clone()).end(600).until(800);
        let out = d.play(&feed, timeline);
        let times: Vec<u64> = out
            .iter()
            .filter_map(|e| match e {
                Item(t, _) => Some(*t),
                End(_) => None,
            })
            .collect();
        assert!(times.len() > 5, "{edge:?}: {times:?}");
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= 40, "{edge:?}: {times:?}");
        }
    }
}

#[test]
fn throttle_registers_a_timer_only_for_a_pending_trailing_item() {
    let (clock, feed, mut d) = throttle_on(ms(100), Edge::Both);
    feed.push('a');
    d.run();
    assert_eq!(d.take(), vec![Item(0, 'a')]);
    assert_eq!(clock.timers(), 0, "an idle window needs no timer");
    d.at(10);
    feed.push('b');
    d.run();
    assert_eq!(clock.timers(), 1);
    let wakes = d.wakes();
    clock.advance(ms(90));
    assert_eq!(d.wakes(), wakes + 1, "the window's end wakes the task");
    d.run();
    assert_eq!(d.take(), vec![Item(100, 'b')]);
    drop(d);
    assert_eq!(clock.timers(), 0, "dropping the adapter releases its timer");
}

#[test]
fn throttle_late_poll_opens_the_next_window_at_the_emission() {
    // The task is polled 30 ms after the window ended: the trailing emission happens then, and
    // the next window runs from there.
    let (clock, feed, mut d) = throttle_on(ms(100), Edge::Trailing);
    feed.push('a');
    d.run();
    clock.advance(ms(130));
    feed.push('b');
    d.run();
    assert_eq!(d.take(), vec![Item(130, 'a')]);
    d.step_to(229);
    assert_eq!(d.take(), vec![]);
    d.step_to(230);
    assert_eq!(d.take(), vec![Item(230, 'b')]);
}

#[test]
fn throttle_zero_period_lets_every_item_pass() {
    for edge in [Edge::Leading, Edge::Trailing, Edge::Both] {
        Marbles::new()
            .run("(ab) 4ms (c|)", |s, clock| {
                s.throttle(Duration::ZERO).edge(edge).with_clock(clock)
            })
            .assert_diagram("(ab) 4ms (c|)");
    }
}

#[test]
fn throttle_endless_period_passes_the_first_item_only_and_never_panics() {
    for period in [Duration::MAX, Duration::from_secs(u64::MAX)] {
        // Both: the trailing item can never leave, so it is dropped at the end.
        for (edge, output) in [
            (Edge::Leading, "a 19ms |"),
            (Edge::Both, "a 19ms |"),
            (Edge::Trailing, "20ms |"),
        ] {
            Marbles::new()
                .run("a 9ms b 9ms |", |s, clock| {
                    s.throttle(period).edge(edge).with_clock(clock)
                })
                .assert_diagram(output);
        }
    }
}

#[test]
fn throttle_bounds_the_work_of_one_poll_on_a_busy_source() {
    let clock = ManualClock::new();
    let mut s = Box::pin(stream::repeat(1u8).throttle(ms(100)).with_clock(clock));
    let wakes = std::sync::Arc::new(WakeCounter::new());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(1)));
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
    assert_eq!(wakes.count(), 1, "the adapter wakes itself to continue");
}

#[test]
fn throttle_is_fused_and_never_polls_the_inner_stream_after_it_ended() {
    let (_clock, feed, mut d) = throttle_on(ms(100), Edge::Trailing);
    let out = d.play(&feed, Timeline::new().item(0, 'a').end(10).until(200));
    assert_eq!(out, vec![Item(100, 'a'), End(100)]);
    assert!(d.get().is_terminated());
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let polls = feed.polls();
    for _ in 0..3 {
        assert_eq!(d.stream().poll_next(&mut cx), Poll::Ready(None));
    }
    assert_eq!(feed.polls(), polls);
}

#[test]
fn throttle_size_hint_contains_the_true_count() {
    assert_eq!(
        stream::iter(0..10).throttle(ms(1)).size_hint(),
        (0, Some(10))
    );
    let (_clock, feed, mut d) = throttle_on(ms(100), Edge::Trailing);
    feed.push('a');
    d.run();
    assert_eq!(
        d.get().size_hint(),
        (1, None),
        "the pending item will leave"
    );
    feed.end();
    d.run();
    assert_eq!(d.get().size_hint(), (1, Some(1)));
    d.at(100);
    assert_eq!(d.take(), vec![Item(100, 'a'), End(100)]);
    assert_eq!(d.get().size_hint(), (0, Some(0)));
}

#[test]
fn throttle_with_clock_after_polling_keeps_the_time_left_in_the_window() {
    let first = ManualClock::new();
    let (feed, input) = source();
    let mut s = input
        .throttle(ms(100))
        .edge(Edge::Trailing)
        .with_clock(first.clone());
    feed.push('a');
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(std::pin::Pin::new(&mut s).poll_next(&mut cx), Poll::Pending);
    first.advance(ms(60));
    let second = ManualClock::new();
    // The new clock reads later than the old one did: the deadline keeps the 40 ms it had
    // left, counted on the new clock from the swap.
    second.advance(ms(30));
    let mut d = Driver::new(s.with_clock(second.clone()), &second);
    assert_eq!(first.timers(), 0);
    let out = d.play(&feed, Timeline::new().until(150));
    assert_eq!(out, vec![Item(40, 'a')]);
}

#[test]
fn throttle_debug_accessors() {
    let mut s = stream::iter([1, 2, 3]).throttle(ms(5)).edge(Edge::Both);
    let text = format!("{s:?}");
    assert!(text.starts_with("Throttle"), "{text}");
    assert!(text.contains("edge: Both"), "{text}");
    assert!(text.contains("on_drop: Discard"), "{text}");
    let hooked = format!("{:?}", stream::iter([1]).throttle(ms(5)).on_drop(|_| {}));
    assert!(hooked.contains("on_drop: OnDrop(..)"), "{hooked}");
    assert_eq!(s.get_ref().size_hint(), (3, Some(3)));
    assert_eq!(futures::executor::block_on(s.get_mut().next()), Some(1));
    assert_eq!(
        std::pin::Pin::new(&mut s).get_pin_mut().size_hint(),
        (2, Some(2))
    );
    assert_eq!(
        futures::executor::block_on(s.into_inner().collect::<Vec<_>>()),
        vec![2, 3]
    );
    let t = stream::iter([Ok::<u8, ()>(1)]).try_throttle(ms(5));
    assert!(format!("{t:?}").starts_with("TryThrottle"));
}

#[test]
fn try_throttle_errors_pass_at_once_and_touch_nothing() {
    let (_clock, feed, mut d) = drive(|s: Source<Result<char, u8>>, clock| {
        s.try_throttle(ms(100)).edge(Edge::Both).with_clock(clock)
    });
    let timeline = Timeline::new()
        .item(0, Ok('a'))
        .item(10, Ok('b'))
        .item(50, Err(1))
        .item(100, Err(2))
        .item(120, Ok('c'))
        .end(130)
        .until(400);
    let out = d.play(&feed, timeline);
    // The error at 50 neither replaced 'b' nor moved the window; the one at 100 came after
    // the window's end (timer first) and did not open a window: 'c' is a trailing candidate
    // of the window opened by 'b' at 100.
    assert_eq!(
        out,
        vec![
            Item(0, Ok('a')),
            Item(50, Err(1)),
            Item(100, Ok('b')),
            Item(100, Err(2)),
            Item(200, Ok('c')),
            End(200)
        ]
    );
}

#[test]
fn try_throttle_error_on_a_closed_window_opens_nothing() {
    let (_clock, feed, mut d) =
        drive(|s: Source<Result<char, u8>>, clock| s.try_throttle(ms(100)).with_clock(clock));
    let out = d.play(
        &feed,
        Timeline::new().item(0, Err(1)).item(10, Ok('a')).until(50),
    );
    assert_eq!(out, vec![Item(0, Err(1)), Item(10, Ok('a'))]);
}

#[test]
fn throttle_doc_timelines_hold() {
    // The diagrams of `StreamzExt::throttle`'s docs.
    for (edge, output) in [
        (Edge::Leading, "a--c----d-----|"),
        (Edge::Trailing, "---b--c--d--e-|"),
        (Edge::Both, "a--b--c--d--e-|"),
    ] {
        Marbles::new()
            .tick(ms(10))
            .run("ab-c----d-e---|", |s, clock| {
                s.throttle(ms(30)).edge(edge).with_clock(clock)
            })
            .assert_diagram(output);
    }
}

/// Runs `op`'s throttle with a drop hook on `input`, returning the drawing and the dropped.
fn with_drops(
    input: &str,
    edge: Edge,
    period: Duration,
) -> (streamz::testing::Recording<char>, Vec<char>) {
    let dropped = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let recording = Marbles::new().run(input, |s, clock| {
        s.throttle(period)
            .edge(edge)
            .on_drop(move |c| hook.borrow_mut().push(c))
            .with_clock(clock)
    });
    let dropped = dropped.borrow().clone();
    (recording, dropped)
}

#[test]
fn throttle_on_drop_sees_each_dropped_item_once_in_order() {
    let (out, dropped) = with_drops("abc 97ms d e|", Edge::Leading, ms(100));
    out.assert_diagram("a 99ms d-|");
    assert_eq!(dropped, vec!['b', 'c', 'e']);

    // Trailing: replaced candidates are dropped when replaced.
    let (out, dropped) = with_drops("abc 97ms d", Edge::Trailing, ms(100));
    out.assert_diagram("100ms c 99ms d");
    assert_eq!(dropped, vec!['a', 'b']);

    // A trailing item that can never leave (endless window) is dropped at the end.
    let (out, dropped) = with_drops("ab-|", Edge::Both, Duration::MAX);
    out.assert_diagram("a--|");
    assert_eq!(dropped, vec!['b']);
}

#[test]
fn try_throttle_on_drop_never_sees_errors() {
    let dropped = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let recording = Marbles::new().run_try("a#b#|", 'e', |s, clock| {
        s.try_throttle(ms(100))
            .on_drop(move |c| hook.borrow_mut().push(c))
            .with_clock(clock)
    });
    recording.assert_diagram("a#-#|");
    assert_eq!(*dropped.borrow(), vec!['b']);
}

#[test]
fn throttle_yields_stay_a_period_apart_on_an_uneven_source() {
    // An always-ready source whose items cost 1 ms or nothing: an item is stamped with the
    // reading before it, yet two yields (timed when they are handed out) are never closer
    // than `period`, even when a costly item opens a window and a free one ends it.
    for edge in [Edge::Leading, Edge::Both] {
        let clock = ManualClock::new();
        let ticking = clock.clone();
        let source = stream::iter(0u32..).map(move |i| {
            // Every tenth item costs 1 ms, the others nothing.
            if i % 10 == 0 {
                ticking.advance(ms(1));
            }
            i
        });
        let mut s = Box::pin(source.throttle(ms(10)).edge(edge).with_clock(clock.clone()));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut yields = Vec::new();
        while yields.len() < 6 {
            if let Poll::Ready(Some(_)) = s.as_mut().poll_next(&mut cx) {
                yields.push(clock.now());
            }
        }
        for pair in yields.windows(2) {
            assert!(
                pair[1] - pair[0] >= ms(10),
                "{edge:?}: {:?}",
                pair[1] - pair[0]
            );
        }
    }
}

#[test]
fn throttle_is_not_terminated_while_a_trailing_item_is_due() {
    let (_clock, feed, mut d) = throttle_on(ms(100), Edge::Trailing);
    feed.push('a');
    feed.end();
    d.run();
    assert_eq!(d.take(), vec![]);
    assert!(!d.get().is_terminated(), "'a' is still to come");
    d.at(100);
    assert_eq!(d.take(), vec![Item(100, 'a'), End(100)]);
    assert!(d.get().is_terminated());
}
