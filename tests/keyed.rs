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
    let mut s = rx.batch_by(|n| n % 1000, 10, ms(100)).with_clock(clock.clone());
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
