//! Every adapter, plain and `try_`: `FusedStream::is_terminated` is false before the inner
//! stream ends and while the adapter still holds something to yield, and true once it has
//! yielded `None`; a `try_` adapter's `size_hint` is its plain twin's.

mod support;

use futures::stream::{self, FusedStream, Stream};
use streamz::{Edge, StreamzExt, TryStreamzExt};
use support::{drive, ms, End, Item, Timeline};

/// Drives `op` over one item (`'a'` at 0 ms) and the end (at 10 ms), until `until` ms,
/// checking `is_terminated` before anything, while the item is held and at the end; returns
/// what came out.
fn fused_over_one_item<S: Stream + FusedStream>(
    until: u64,
    op: impl FnOnce(support::Source<char>, streamz::ManualClock) -> S,
) -> Vec<support::Event<S::Item>> {
    let (_clock, feed, mut d) = drive(op);
    assert!(!d.get().is_terminated(), "terminated before the first poll");
    d.run();
    assert!(
        !d.get().is_terminated(),
        "terminated before the inner stream ended"
    );
    feed.push('a');
    d.run();
    assert!(
        !d.get().is_terminated(),
        "terminated with an item held or in flight"
    );
    let events = d.play(&feed, Timeline::new().end(10).until(until));
    assert!(d.get().is_terminated(), "not terminated after `None`");
    events
}

#[test]
fn batch_and_try_batch_are_fused() {
    let events = fused_over_one_item(10, |s, clock| s.batch(10, ms(100)).with_clock(clock));
    assert_eq!(events, vec![Item(10, vec!['a']), End(10)]);
    let events = fused_over_one_item(10, |s, clock| {
        stream::StreamExt::map(s, Ok::<char, ()>)
            .try_batch(10, ms(100))
            .with_clock(clock)
    });
    assert_eq!(events, vec![Item(10, Ok(vec!['a'])), End(10)]);
}

#[test]
fn throttle_and_try_throttle_are_fused() {
    // A trailing item is held until its window ends, after the inner stream ended.
    let events = fused_over_one_item(100, |s, clock| {
        s.throttle(ms(100)).edge(Edge::Trailing).with_clock(clock)
    });
    assert_eq!(events, vec![Item(100, 'a'), End(100)]);
    let events = fused_over_one_item(100, |s, clock| {
        stream::StreamExt::map(s, Ok::<char, ()>)
            .try_throttle(ms(100))
            .edge(Edge::Trailing)
            .with_clock(clock)
    });
    assert_eq!(events, vec![Item(100, Ok('a')), End(100)]);
}

#[test]
fn debounce_and_try_debounce_are_fused() {
    let events = fused_over_one_item(10, |s, clock| s.debounce(ms(100)).with_clock(clock));
    assert_eq!(events, vec![Item(10, 'a'), End(10)]);
    let events = fused_over_one_item(10, |s, clock| {
        stream::StreamExt::map(s, Ok::<char, ()>)
            .try_debounce(ms(100))
            .with_clock(clock)
    });
    assert_eq!(events, vec![Item(10, Ok('a')), End(10)]);
}

#[test]
fn try_adapters_size_hints_are_their_plain_twins() {
    let plain = || stream::iter(0..10);
    let fallible = || stream::iter((0..10).map(Ok::<i32, ()>));
    assert_eq!(
        fallible().try_batch(3, ms(1)).size_hint(),
        plain().batch(3, ms(1)).size_hint()
    );
    assert_eq!(
        fallible().try_throttle(ms(1)).size_hint(),
        plain().throttle(ms(1)).size_hint()
    );
    assert_eq!(
        fallible().try_debounce(ms(1)).size_hint(),
        plain().debounce(ms(1)).size_hint()
    );
    assert_eq!(fallible().try_debounce(ms(1)).size_hint(), (1, Some(10)));
    assert_eq!(fallible().try_throttle(ms(1)).size_hint(), (0, Some(10)));
    assert_eq!(fallible().try_batch(3, ms(1)).size_hint(), (4, Some(10)));
}
