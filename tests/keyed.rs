//! The keyed adapters (`batch_by`, `throttle_by`, `debounce_by`) on virtual time: per key the
//! plain rules, outputs in time order (deadline order, then first arrival, for outputs due by
//! the same check), one timer for all keys, the keys bound, and bad input.
//!
//! In the marble tests the key of a character is its lower case: `a` and `A` share key `a`.

mod support;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures::stream::{self, StreamExt};
use streamz::testing::Marbles;
use streamz::{assert_marbles, Edge, FlushReason, ManualClock, StreamzExt, TryStreamzExt};
use support::{drive, ms, panic_site, poll_once, Item, Timeline};

fn key(c: &char) -> char {
    c.to_ascii_lowercase()
}

#[test]
fn batch_by_keeps_a_batch_and_a_deadline_per_key() {
    // a opens key a's batch at 0 (deadline 100), b opens key b's at 10 (deadline 110).
    assert_marbles!(
        input:  "a 9ms (Ab) 9ms B",
        op:     |s, clock| s.batch_by(key, 10, ms(100)).with_clock(clock),
        output: "100ms x 9ms y",
        values: { x => ('a', vec!['a', 'A']), y => ('b', vec!['b', 'B']) },
    );
}

#[test]
fn batch_by_flushes_a_full_key_at_once_and_the_rest_at_the_end() {
    assert_marbles!(
        input:  "(abAcB|)",
        op:     |s, clock| s.batch_by(key, 2, ms(100)).with_clock(clock),
        output: "(xyz|)",
        values: {
            x => ('a', vec!['a', 'A']),
            y => ('b', vec!['b', 'B']),
            z => ('c', vec!['c']),
        },
    );
}

#[test]
fn batch_by_item_at_its_keys_deadline_opens_the_next_batch() {
    assert_marbles!(
        input:  "a 99ms A",
        op:     |s, clock| s.batch_by(key, 10, ms(100)).with_clock(clock),
        output: "100ms x 99ms y",
        values: { x => ('a', vec!['a']), y => ('a', vec!['A']) },
    );
}

#[test]
fn keys_due_by_the_same_check_come_in_deadline_order_then_first_arrival() {
    // b opens at 0, then c and a at 5 (c first). The source is busy until 300 ms producing
    // its next item, so every deadline passes before the adapter sees the time again.
    let (clock, feed, mut driver) =
        drive(|s, clock| s.batch_by(key, 10, ms(100)).with_clock(clock));
    let start = clock.now();
    feed.push('b');
    driver.run();
    driver.at(5);
    feed.push('c');
    feed.push('a');
    driver.run();
    feed.push_busy('d', &clock, start + ms(300));
    driver.run();
    assert_eq!(
        driver.take(),
        [
            Item(300, ('b', vec!['b'])),
            Item(300, ('c', vec!['c'])),
            Item(300, ('a', vec!['a'])),
        ]
    );
    // d arrived after all three deadlines: it opened a batch of its own.
    driver.at(400);
    assert_eq!(driver.take(), [Item(400, ('d', vec!['d']))]);
}

#[test]
fn one_timer_for_all_keys() {
    let clock = ManualClock::new();
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    let mut s = rx
        .batch_by(|n| n % 1000, 10, ms(100))
        .with_clock(clock.clone());
    for n in 0..1000 {
        tx.unbounded_send(n).unwrap();
    }
    // Two calls: one takes at most 512 items.
    assert!(poll_once(&mut s).is_pending());
    assert!(poll_once(&mut s).is_pending());
    assert_eq!(s.keys(), 1000);
    assert_eq!(clock.timers(), 1);
    clock.advance(ms(100));
    let mut out = 0;
    while let Poll::Ready(Some((k, items))) = poll_once(&mut s) {
        assert_eq!(items, vec![k]);
        out += 1;
    }
    assert_eq!(out, 1000);
    assert_eq!(s.keys(), 0);
    drop(s);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn throttle_by_keeps_a_window_per_key() {
    // Key a: a at 0 passes, A at 50 is dropped, a at 100 passes. Key b: b at 50 passes.
    assert_marbles!(
        input:  "a 49ms (Ab) 49ms a",
        op:     |s, clock| s.throttle_by(key, ms(100)).with_clock(clock),
        output: "a 49ms b 49ms a",
    );
}

#[test]
fn throttle_by_trailing_items_leave_at_their_keys_window_end() {
    assert_marbles!(
        input:  "a 9ms b 9ms A 9ms B",
        op:     |s, clock| s.throttle_by(key, ms(100)).edge(Edge::Both).with_clock(clock),
        output: "a 9ms b 89ms A 9ms B",
    );
}

#[test]
fn debounce_by_keeps_a_quiet_period_per_key() {
    // Key a's burst ends with A (quiet from 20 to 70); key b's with b (quiet from 10 to 60).
    assert_marbles!(
        input:  "a 9ms b 9ms A",
        op:     |s, clock| s.debounce_by(key, ms(50)).with_clock(clock),
        output: "60ms b 9ms A",
    );
}

#[test]
fn debounce_by_max_wait_cuts_each_keys_run() {
    // Key a's items every 20 ms keep its quiet period running; max_wait cuts its run at 50.
    // Key b is quiet from 5 on: its item leaves at 35.
    assert_marbles!(
        input:  "a 4ms b 15ms A 19ms a 19ms A",
        op:     |s, clock| s
            .debounce_by(key, ms(30))
            .max_wait(ms(50))
            .with_clock(clock),
        output: "35ms b 14ms a 40ms A",
    );
}

#[test]
fn debounce_by_leading_edge_per_key() {
    assert_marbles!(
        input:  "a 9ms b 9ms A 9ms B 99ms A",
        op:     |s, clock| s.debounce_by(key, ms(50)).edge(Edge::Leading).with_clock(clock),
        output: "a 9ms b 119ms A",
    );
}

#[test]
fn try_forms_pass_errors_at_once_and_keep_every_key() {
    let recording = Marbles::new().run_try("(ab#A)", "e", |s, clock| {
        s.try_batch_by(key, 10, ms(100)).with_clock(clock)
    });
    recording.assert_values(
        "# 99ms (xy)",
        [
            ('#', Err("e")),
            ('x', Ok(('a', vec!['a', 'A']))),
            ('y', Ok(('b', vec!['b']))),
        ],
    );
    let recording = Marbles::new().run_try("a 9ms (#A) 89ms B", "e", |s, clock| {
        s.try_throttle_by(key, ms(100)).with_clock(clock)
    });
    recording.assert_values(
        "a 9ms # 89ms B",
        [('a', Ok('a')), ('#', Err("e")), ('B', Ok('B'))],
    );
    let recording = Marbles::new().run_try("a 9ms # 9ms b", "e", |s, clock| {
        s.try_debounce_by(key, ms(50)).with_clock(clock)
    });
    recording.assert_values(
        "10ms # 39ms a 19ms b",
        [('#', Err("e")), ('a', Ok('a')), ('b', Ok('b'))],
    );
}

#[test]
fn batch_by_max_keys_flushes_the_earliest_deadline_first() {
    // Two keys may hold a batch. c arrives at 20 while a (deadline 100) and b (deadline 110)
    // do: a's batch leaves at once, with why.
    let (_clock, feed, mut driver) = drive(|s, clock| {
        s.batch_by(key, 10, ms(100))
            .max_keys(2)
            .with_reasons()
            .with_clock(clock)
    });
    let out = driver.play(
        &feed,
        Timeline::new()
            .items([(0, 'a'), (10, 'b'), (15, 'A'), (20, 'c')])
            .until(200),
    );
    let got: Vec<(u64, char, Vec<char>, FlushReason)> = out
        .into_iter()
        .map(|event| match event {
            Item(t, (k, flushed)) => (t, k, flushed.items, flushed.reason),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            (20, 'a', vec!['a', 'A'], FlushReason::MaxKeys),
            (110, 'b', vec!['b'], FlushReason::Deadline),
            (120, 'c', vec!['c'], FlushReason::Deadline),
        ]
    );
}

#[test]
fn throttle_by_max_keys_ends_the_window_that_ends_first() {
    // One key at a time. b evicts a's window (a trailing A leaves at once); a's next item then
    // passes as a leading one, evicting b's window in turn.
    assert_marbles!(
        input:  "a 9ms A 9ms b 9ms a",
        op:     |s, clock| s
            .throttle_by(key, ms(100))
            .edge(Edge::Both)
            .max_keys(1)
            .with_clock(clock),
        output: "a 19ms (Ab) 9ms a",
    );
}

#[test]
fn debounce_by_max_keys_yields_the_evicted_keys_item() {
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let seen = dropped.clone();
    assert_marbles!(
        input:  "a 9ms A 9ms b 9ms c",
        op:     move |s, clock| s
            .debounce_by(key, ms(100))
            .max_keys(2)
            .on_drop(move |c| seen.lock().unwrap().push(c))
            .with_clock(clock),
        output: "30ms A 89ms b 9ms c",
    );
    // a was replaced by A; nothing else was dropped: the evicted A left.
    assert_eq!(*dropped.lock().unwrap(), ['a']);
}

#[test]
fn bad_settings_panic_at_the_call_site() {
    let (message, site) = panic_site(|| {
        let _ = stream::iter([1]).batch_by(|n: &i32| *n, 0, ms(1));
    });
    assert!(message.contains("batch_by: `max_size`"), "{message}");
    assert!(site.starts_with(file!()), "{site}");
    let (message, site) = panic_site(|| {
        let _ = stream::iter([Ok::<i32, ()>(1)]).try_batch_by(|n: &i32| *n, 0, ms(1));
    });
    assert!(message.contains("try_batch_by: `max_size`"), "{message}");
    assert!(site.starts_with(file!()), "{site}");
    let (message, site) = panic_site(|| {
        let _ = stream::iter([1])
            .throttle_by(|n: &i32| *n, ms(1))
            .max_keys(0);
    });
    assert!(message.contains("throttle_by: `max_keys`"), "{message}");
    assert!(site.starts_with(file!()), "{site}");
    let (message, site) = panic_site(|| {
        let _ = stream::iter([1])
            .debounce_by(|n: &i32| *n, ms(10))
            .max_wait(ms(5));
    });
    assert!(message.contains("debounce_by: `max_wait`"), "{message}");
    assert!(site.starts_with(file!()), "{site}");
    let (message, site) = panic_site(|| {
        let _ = stream::iter([1])
            .batch_by(|n: &i32| *n, 1, ms(1))
            .max_keys(0);
    });
    assert!(message.contains("batch_by: `max_keys`"), "{message}");
    assert!(site.starts_with(file!()), "{site}");
}

#[test]
fn a_key_fn_that_panics_loses_nothing_already_buffered() {
    let clock = ManualClock::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let mut s = stream::iter([1u32, 2, 3, 4])
        .batch_by(
            move |n| {
                if counter.fetch_add(1, Ordering::SeqCst) == 2 {
                    panic!("key_fn failed");
                }
                n % 2
            },
            10,
            ms(100),
        )
        .with_clock(clock.clone());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut s)));
    assert!(caught.is_err());
    assert_eq!(s.keys(), 2);
    // The item being keyed (3) is lost with the panic; 1, 2 and 4 come out.
    let rest: Vec<(u32, Vec<u32>)> = futures::executor::block_on(s.collect());
    assert_eq!(rest, [(1, vec![1]), (0, vec![2, 4])]);
}

#[test]
fn with_clock_later_keeps_every_keys_time_left() {
    let old = ManualClock::new();
    let mut s = stream::iter([1u32, 2])
        .chain(stream::pending())
        .batch_by(|n| *n, 10, ms(100))
        .with_clock(old.clone());
    assert!(poll_once(&mut s).is_pending());
    old.advance(ms(60));
    let new = ManualClock::new();
    let mut s = s.with_clock(new.clone());
    assert_eq!(old.timers(), 0);
    new.advance(ms(39));
    assert!(poll_once(&mut s).is_pending());
    new.advance(ms(1));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((1, vec![1]))));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some((2, vec![2]))));
    assert_eq!(new.timers(), 0);
}

#[test]
fn with_clock_onto_an_earlier_clock_keeps_the_keys_in_deadline_order() {
    // The new clock starts 20 ms before the old one, and the keys have less than that left:
    // their deadlines move to instants before anything the adapter read on the old clock.
    let new = ManualClock::new();
    std::thread::sleep(ms(20));
    let old = ManualClock::new();
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    let mut s = rx.debounce_by(|n| n % 10, ms(100)).with_clock(old.clone());
    tx.unbounded_send(1).unwrap();
    assert!(poll_once(&mut s).is_pending());
    old.advance(ms(50));
    tx.unbounded_send(2).unwrap();
    tx.unbounded_send(3).unwrap();
    assert!(poll_once(&mut s).is_pending());
    old.advance(ms(10));
    tx.unbounded_send(11).unwrap();
    assert!(poll_once(&mut s).is_pending());
    old.advance(ms(85));
    assert!(poll_once(&mut s).is_pending());
    // Keys 2 and 3 are due in 5 ms; key 1, opened first, in 15 ms (its quiet period restarted
    // with 11).
    let mut s = s.with_clock(new.clone());
    new.advance(ms(4));
    assert!(poll_once(&mut s).is_pending());
    new.advance(ms(1));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(2)));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(3)));
    assert!(poll_once(&mut s).is_pending());
    new.advance(ms(9));
    assert!(poll_once(&mut s).is_pending());
    new.advance(ms(1));
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(11)));
    assert_eq!(s.keys(), 0);
}

#[test]
fn throttle_by_forgets_a_key_when_its_window_ends_and_ends_with_the_stream() {
    let clock = ManualClock::new();
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    let mut s = rx.throttle_by(|n| n % 3, ms(100)).with_clock(clock.clone());
    for n in 0..6 {
        tx.unbounded_send(n).unwrap();
    }
    let mut passed = Vec::new();
    while let Poll::Ready(Some(n)) = poll_once(&mut s) {
        passed.push(n);
    }
    assert_eq!(passed, [0, 1, 2]);
    assert_eq!(s.keys(), 3);
    clock.advance(ms(100));
    assert!(poll_once(&mut s).is_pending());
    assert_eq!(s.keys(), 0);
    assert_eq!(clock.timers(), 0);
    // A leading throttle ends with its stream, open windows or not.
    tx.unbounded_send(7).unwrap();
    assert_eq!(poll_once(&mut s), Poll::Ready(Some(7)));
    drop(tx);
    assert_eq!(poll_once(&mut s), Poll::Ready(None));
    assert!(futures::stream::FusedStream::is_terminated(&s));
}

#[test]
fn size_hint_holds_the_true_count() {
    let s = stream::iter(0..10u32).batch_by(|n| n % 3, 2, ms(100));
    let (lower, upper) = futures::Stream::size_hint(&s);
    let out: Vec<_> = futures::executor::block_on(s.collect());
    assert!(
        lower <= out.len() && out.len() <= upper.unwrap(),
        "{lower} {upper:?} {}",
        out.len()
    );
    let _ = Pin::new(&mut stream::iter([1]).throttle_by(|n: &i32| *n, ms(1))).get_pin_mut();
}

#[test]
fn batch_by_max_weight_weighs_each_keys_batch_on_its_own() {
    // Lines of two files, in batches of at most 10 bytes per file.
    let lines = stream::iter([
        ("a", "alpha"),
        ("b", "bb"),
        ("a", "beta"),
        ("b", "cc"),
        ("a", "gamma"),
        ("b", "a-very-long-line"),
    ]);
    let out: Vec<(&str, Vec<&str>)> = futures::executor::block_on(
        lines
            .batch_by(|line| line.0, 100, ms(50))
            .max_weight(10, |line: &(&str, &str)| line.1.len())
            .map(|(file, batch)| (file, batch.into_iter().map(|line| line.1).collect()))
            .collect(),
    );
    assert_eq!(
        out,
        [
            ("a", vec!["alpha", "beta"]),
            ("b", vec!["bb", "cc"]),
            ("b", vec!["a-very-long-line"]),
            ("a", vec!["gamma"]),
        ]
    );
}
