//! Behaviour of `debounce` and `try_debounce`, on virtual time.

mod support;

use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream, StreamExt};
use streamz::testing::{Marbles, WakeCounter};
use streamz::{assert_marbles, Debounce, Edge, ManualClock, StreamzExt, TryStreamzExt};
use support::{drive, ms, panic_site, source, Driver, End, Feed, Item, Source, Timeline};

type DebounceDriver = Driver<Debounce<Source<char>, ManualClock>>;

/// A `debounce(quiet).edge(edge)` (with `max_wait`, if given) of a source of `char`s.
fn debounce_on(
    quiet: Duration,
    edge: Edge,
    max_wait: Option<Duration>,
) -> (ManualClock, Feed<char>, DebounceDriver) {
    drive(|s, clock| {
        let mut s = s.debounce(quiet).edge(edge);
        if let Some(max_wait) = max_wait {
            s = s.max_wait(max_wait);
        }
        s.with_clock(clock)
    })
}

#[test]
fn debounce_defaults_to_trailing() {
    assert_marbles!(
        input:  "a 49ms b",
        op:     |s, clock| s.debounce(ms(100)).with_clock(clock),
        output: "150ms b",
    );
}

#[test]
fn debounce_quiet_period_is_inclusive_and_restarts_with_each_item() {
    // 'c' leaves at 298 exactly; 'd', arriving then, is a new run.
    assert_marbles!(
        input:  "a 98ms b 98ms c 99ms d",
        op:     |s, clock| s.debounce(ms(100)).with_clock(clock),
        output: "298ms c 99ms d",
    );
}

#[test]
fn debounce_a_ready_burst_costs_one_quiet_period() {
    let (clock, feed, mut d) = debounce_on(ms(100), Edge::Trailing, None);
    for c in 'a'..='z' {
        feed.push(c);
    }
    d.run();
    assert_eq!(feed.queued(), 0, "the whole burst is taken in one go");
    assert_eq!(clock.timers(), 1);
    d.step_to(99);
    assert_eq!(d.take(), vec![]);
    d.step_to(100);
    assert_eq!(d.take(), vec![Item(100, 'z')]);
}

#[test]
fn debounce_trailing_max_wait_next_item_starts_a_new_run() {
    // An item every 50 ms: runs start at 0 (a), 200 (e), 400 (i), each cut at its start + 200
    // with the item pending just before the cut.
    assert_marbles!(
        input:  "abcdefghijkl",
        tick:   ms(50),
        op:     |s, clock| s.debounce(ms(100)).max_wait(ms(200)).with_clock(clock),
        output: "----d---h---l",
    );
}

#[test]
fn debounce_leading_yields_the_first_item_and_drops_the_run() {
    // 'c' arrives within 100 ms of 'b', so the quiet period still runs: dropped.
    assert_marbles!(
        input:  "a 49ms b 89ms c 159ms d 19ms |",
        op:     |s, clock| s.debounce(ms(100)).edge(Edge::Leading).with_clock(clock),
        output: "a 299ms d 19ms |",
    );
}

#[test]
fn debounce_leading_item_exactly_at_quiet_end_leads() {
    assert_marbles!(
        input:  "a 99ms b",
        op:     |s, clock| s.debounce(ms(100)).edge(Edge::Leading).with_clock(clock),
        output: "a 99ms b",
    );
}

#[test]
fn debounce_leading_needs_no_timer() {
    let (clock, feed, mut d) = debounce_on(ms(100), Edge::Leading, Some(ms(300)));
    let out = d.play(&feed, Timeline::new().item(0, 'a').item(10, 'b').until(20));
    assert_eq!(out, vec![Item(0, 'a')]);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn debounce_both_yields_leading_and_trailing() {
    // 'c' is alone in its run: yielded once, as a leading item.
    assert_marbles!(
        input:  "a 49ms b 249ms c 199ms d 49ms e 149ms |",
        op:     |s, clock| s.debounce(ms(100)).edge(Edge::Both).with_clock(clock),
        output: "a 149ms b 149ms c 199ms d 149ms e 49ms |",
    );
}

#[test]
fn debounce_both_end_of_stream_flushes_a_pending_trailing_item() {
    assert_marbles!(
        input:  "a 9ms b 9ms |",
        op:     |s, clock| s.debounce(ms(100)).edge(Edge::Both).with_clock(clock),
        output: "a 19ms (b|)",
    );
}

#[test]
fn debounce_end_without_pending_item() {
    for (edge, output) in [
        (Edge::Trailing, "100ms a 99ms |"),
        (Edge::Leading, "a 199ms |"),
        (Edge::Both, "a 199ms |"),
    ] {
        Marbles::new()
            .run("a 199ms |", |s, clock| {
                s.debounce(ms(100)).edge(edge).with_clock(clock)
            })
            .assert_diagram(output);
    }
    assert_marbles!(
        input:  "-----|",
        op:     |s, clock| s.debounce(ms(100)).with_clock(clock),
        output: "-----|",
    );
}

#[test]
fn debounce_max_wait_shorter_than_quiet_panics_at_the_call_site() {
    let (message, site) = panic_site(|| {
        let _ = stream::iter([1]).debounce(ms(100)).max_wait(ms(99));
    });
    assert!(message.contains("max_wait"), "{message}");
    assert!(site.starts_with("tests/debounce.rs:"), "reported at {site}");
    let (message, site) = panic_site(|| {
        let _ = stream::iter([Ok::<u8, ()>(1)])
            .try_debounce(ms(100))
            .max_wait(ms(1));
    });
    assert!(message.contains("max_wait"), "{message}");
    assert!(site.starts_with("tests/debounce.rs:"), "reported at {site}");
    // Equal is fine.
    let _ = stream::iter([1]).debounce(ms(100)).max_wait(ms(100));
}

#[test]
fn debounce_zero_quiet_yields_the_latest_of_each_ready_burst() {
    let (clock, feed, mut d) = debounce_on(Duration::ZERO, Edge::Trailing, None);
    feed.push('a');
    feed.push('b');
    feed.push('c');
    d.run();
    assert_eq!(d.take(), vec![Item(0, 'c')]);
    assert_eq!(clock.timers(), 0);
    let out = d.play(&feed, Timeline::new().item(5, 'd').item(6, 'e').end(6));
    assert_eq!(out, vec![Item(5, 'd'), Item(6, 'e'), End(6)]);
}

#[test]
fn debounce_zero_quiet_yields_per_ready_burst_for_each_edge() {
    for (edge, output) in [
        (Edge::Trailing, "c-d-(e|)"),
        (Edge::Leading, "a-d-(e|)"),
        (Edge::Both, "(ac)-d-(e|)"),
    ] {
        Marbles::new()
            .run("(abc)-d-(e|)", |s, clock| {
                s.debounce(Duration::ZERO).edge(edge).with_clock(clock)
            })
            .assert_diagram(output);
    }
}

#[test]
fn debounce_zero_quiet_on_an_always_ready_source_waits_for_a_pause() {
    let clock = ManualClock::new();
    let mut s = Box::pin(
        stream::repeat('x')
            .debounce(Duration::ZERO)
            .with_clock(clock.clone()),
    );
    let wakes = std::sync::Arc::new(WakeCounter::new());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    for round in 1..=5 {
        assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
        assert_eq!(wakes.count(), round, "wakes itself after the budget");
    }
    // A literal max_wait gets items out of a busy source.
    let mut s = Box::pin(
        stream::iter(0u32..)
            .debounce(Duration::ZERO)
            .max_wait(Duration::ZERO)
            .with_clock(clock),
    );
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(0)));
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(1)));
}

#[test]
fn debounce_bounds_the_work_of_one_poll_on_a_busy_source() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    for i in 0..1000 {
        feed.push(i);
    }
    let mut s = Box::pin(input.debounce(Duration::from_secs(3600)).with_clock(clock));
    let wakes = std::sync::Arc::new(WakeCounter::new());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
    assert_eq!(feed.polls(), 512, "one poll takes at most 512 items");
    assert_eq!(wakes.count(), 1);
}

#[test]
fn debounce_endless_quiet_never_panics_and_flushes_at_end() {
    for quiet in [Duration::MAX, Duration::from_secs(u64::MAX)] {
        let (clock, feed, mut d) = debounce_on(quiet, Edge::Trailing, None);
        let out = d.play(&feed, Timeline::new().item(0, 'a').item(10, 'b').until(50));
        assert_eq!(out, vec![]);
        assert_eq!(
            clock.timers(),
            0,
            "a deadline that never comes needs no timer"
        );
        feed.end();
        d.run();
        assert_eq!(d.take(), vec![Item(50, 'b'), End(50)]);
        // max_wait still applies.
        let (_clock, feed, mut d) = debounce_on(quiet, Edge::Trailing, Some(Duration::MAX));
        let out = d.play(&feed, Timeline::new().item(0, 'a').until(10));
        assert_eq!(out, vec![]);
    }
}

#[test]
fn debounce_timer_wakes_the_task_and_is_released_on_drop() {
    let (clock, feed, mut d) = debounce_on(ms(100), Edge::Trailing, None);
    feed.push('a');
    d.run();
    assert_eq!(clock.timers(), 1);
    let wakes = d.wakes();
    clock.advance(ms(100));
    assert_eq!(d.wakes(), wakes + 1);
    d.run();
    assert_eq!(d.take(), vec![Item(100, 'a')]);
    feed.push('b');
    d.run();
    drop(d);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn debounce_is_fused_and_never_polls_the_inner_stream_after_it_ended() {
    let (_clock, feed, mut d) = debounce_on(ms(100), Edge::Trailing, None);
    assert_eq!(
        d.play(&feed, Timeline::new().item(0, 'a').end(10)),
        vec![Item(10, 'a'), End(10)]
    );
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
fn debounce_size_hint_contains_the_true_count() {
    assert_eq!(
        stream::iter(0..10).debounce(ms(1)).size_hint(),
        (1, Some(10))
    );
    assert_eq!(stream::iter(0..0).debounce(ms(1)).size_hint(), (0, Some(0)));
    assert_eq!(
        stream::iter(0..10)
            .debounce(ms(1))
            .edge(Edge::Leading)
            .size_hint(),
        (0, Some(10))
    );
    let (_clock, feed, mut d) = debounce_on(ms(100), Edge::Trailing, None);
    feed.push('a');
    d.run();
    assert_eq!(d.get().size_hint(), (1, None));
    feed.end();
    d.run();
    assert_eq!(d.get().size_hint(), (0, Some(0)));
}

#[test]
fn debounce_with_clock_after_polling_keeps_the_time_left_in_the_quiet_period() {
    let first = ManualClock::new();
    let (feed, input) = source();
    let mut s = input.debounce(ms(100)).with_clock(first.clone());
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
    assert_eq!(
        d.play(&feed, Timeline::new().until(150)),
        vec![Item(40, 'a')]
    );
}

#[test]
fn debounce_debug_accessors() {
    let mut s = stream::iter([1, 2, 3]).debounce(ms(5)).max_wait(ms(7));
    let text = format!("{s:?}");
    assert!(text.starts_with("Debounce"), "{text}");
    assert!(text.contains("max_wait: Some(7ms)"), "{text}");
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
    let t = stream::iter([Ok::<u8, ()>(1)]).try_debounce(ms(5));
    assert!(format!("{t:?}").starts_with("TryDebounce"));
}

#[test]
fn try_debounce_errors_pass_at_once_and_touch_nothing() {
    let (_clock, feed, mut d) =
        drive(|s: Source<Result<char, u8>>, clock| s.try_debounce(ms(100)).with_clock(clock));
    let timeline = Timeline::new()
        .item(0, Ok('a'))
        .item(50, Err(1))
        .item(120, Err(2))
        .end(200)
        .until(300);
    let out = d.play(&feed, timeline);
    // Neither error restarted the quiet period of 'a' nor replaced it.
    assert_eq!(
        out,
        vec![
            Item(50, Err(1)),
            Item(100, Ok('a')),
            Item(120, Err(2)),
            End(200)
        ]
    );
}

#[test]
fn try_debounce_error_does_not_start_a_run_or_lead() {
    let (_clock, feed, mut d) = drive(|s: Source<Result<char, u8>>, clock| {
        s.try_debounce(ms(100))
            .edge(Edge::Both)
            .max_wait(ms(150))
            .with_clock(clock)
    });
    let timeline = Timeline::new()
        .item(0, Err(1))
        .item(10, Ok('a'))
        .item(60, Ok('b'))
        .item(110, Ok('c'))
        .item(140, Err(2))
        .until(400);
    let out = d.play(&feed, timeline);
    // 'a' leads (the error before it opened no quiet period); the run's max_wait counts from
    // 'a' (10 + 150 = 160), unchanged by the error at 140.
    assert_eq!(
        out,
        vec![
            Item(0, Err(1)),
            Item(10, Ok('a')),
            Item(140, Err(2)),
            Item(160, Ok('c'))
        ]
    );
}

#[test]
fn debounce_doc_timelines_hold() {
    // The diagrams of `StreamzExt::debounce`'s docs.
    for (edge, output) in [
        (Edge::Trailing, "------c------e|"),
        (Edge::Leading, "a-------d-----|"),
        (Edge::Both, "a-----c-d----e|"),
    ] {
        Marbles::new()
            .tick(ms(10))
            .run("ab-c----d-e---|", |s, clock| {
                s.debounce(ms(30)).edge(edge).with_clock(clock)
            })
            .assert_diagram(output);
    }
    assert_marbles!(
        input:  "abcdefg---|",
        tick:   ms(10),
        op:     |s, clock| s.debounce(ms(30)).max_wait(ms(50)).with_clock(clock),
        output: "-----e---g|",
    );
}

#[test]
fn debounce_on_drop_sees_each_dropped_item_once_in_order() {
    for (edge, output, expected) in [
        (Edge::Trailing, "102ms (cd|)", vec!['a', 'b']),
        (Edge::Leading, "a 101ms (d|)", vec!['b', 'c']),
        (Edge::Both, "a 101ms (cd|)", vec!['b']),
    ] {
        let dropped = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let hook = dropped.clone();
        Marbles::new()
            .run("abc 99ms (d|)", |s, clock| {
                s.debounce(ms(100))
                    .edge(edge)
                    .on_drop(move |c| hook.borrow_mut().push(c))
                    .with_clock(clock)
            })
            .assert_diagram(output);
        assert_eq!(*dropped.borrow(), expected, "{edge:?}");
    }
}

#[test]
fn try_debounce_on_drop_never_sees_errors() {
    let dropped = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let recording = Marbles::new().run_try("a#b|", 'e', |s, clock| {
        s.try_debounce(ms(100))
            .on_drop(move |c| hook.borrow_mut().push(c))
            .with_clock(clock)
    });
    recording.assert_diagram("-#-(b|)");
    assert_eq!(*dropped.borrow(), vec!['a']);
}

#[test]
fn debounce_quiet_period_never_ends_early_when_a_fast_source_slows_down() {
    // 100 items at 10 ns each, then 20 items at 1 ms each, then a pause. The clock is read
    // only every few items on the fast part; the last item must still get a full quiet period
    // from (at the latest) the moment the source paused.
    let clock = ManualClock::new();
    let ticking = clock.clone();
    let mut produced = 0u32;
    let source = futures::stream::poll_fn(move |_cx| {
        if produced == 120 {
            return Poll::Pending;
        }
        ticking.advance(if produced < 100 {
            Duration::from_nanos(10)
        } else {
            ms(1)
        });
        produced += 1;
        Poll::Ready(Some(produced - 1))
    });
    let mut d = Driver::new(source.debounce(ms(5)).with_clock(clock.clone()), &clock);
    d.run();
    let paused_at = clock.now();
    assert!(d.take().is_empty(), "nothing before the quiet period");
    clock.advance(ms(5) - Duration::from_nanos(1));
    d.run();
    assert!(d.take().is_empty(), "the quiet period ended early");
    clock.advance(Duration::from_nanos(1));
    d.run();
    let out = d.take();
    assert!(matches!(out.as_slice(), [Item(_, 119)]), "{out:?}");
    assert!(clock.now() >= paused_at + ms(5));
}
