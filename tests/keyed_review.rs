//! Attacks on the keyed adapters (`batch_by`, `throttle_by`, `debounce_by`): hostile sources,
//! odd poll orders, many keys, bad user code, and a comparison with the plain adapters run
//! per key on the same clock.

mod support;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream, StreamExt as _};
use streamz::testing::WakeCounter;
use streamz::{Edge, ManualClock, StreamzExt, TryStreamzExt};
use support::{ms, source, Driver, Event, Rng, Source};

/// Items `(time in ms, value)`; the key of a value is `value % KEYS`.
const KEYS: u32 = 3;

fn schedule(rng: &mut Rng, len: usize, span: u64) -> Vec<(u64, u32)> {
    let mut times: Vec<u64> = (0..len).map(|_| rng.below(span)).collect();
    times.sort_unstable();
    // Bursts: several items in one instant now and then.
    times
        .into_iter()
        .enumerate()
        .map(|(n, t)| (t, n as u32 * KEYS + rng.below(u64::from(KEYS)) as u32))
        .collect()
}

/// Per key, what came out and when (ms).
type PerKey<X> = BTreeMap<u32, Vec<(u64, X)>>;

/// What a comparison saw: per key, what the keyed adapter and the plain ones yielded; the
/// keyed adapter's outputs in the order it yielded them; when each ended.
struct Seen<X> {
    keyed: PerKey<X>,
    plain: PerKey<X>,
    order: Vec<(u64, u32)>,
    keyed_end: Option<u64>,
    plain_end: Option<u64>,
}

/// Runs `keyed` over the schedule, and `plain` over each key's part of it, on two clocks moved
/// together, millisecond by millisecond until `until`. Along the way it checks that the keyed
/// adapter holds at most one timer, that its `size_hint` holds what is still to come, and
/// that it is terminated once it ended.
fn compare<SK, SP, X>(
    items: &[(u64, u32)],
    end: Option<u64>,
    until: u64,
    keyed: impl FnOnce(Source<u32>, ManualClock) -> SK,
    plain: impl Fn(Source<u32>, ManualClock) -> SP,
    label: impl Fn(&SK::Item) -> (u32, X),
) -> Seen<X>
where
    SK: FusedStream,
    SP: Stream<Item = X>,
    X: Clone,
{
    let clock = ManualClock::new();
    let other = ManualClock::new();
    let (feed, input) = source();
    let mut keyed_driver = Driver::new(keyed(input, clock.clone()), &clock);
    let mut feeds = Vec::new();
    let mut plains = Vec::new();
    for _ in 0..KEYS {
        let (feed, input) = source();
        feeds.push(feed);
        plains.push(Driver::new(plain(input, other.clone()), &other));
    }
    let mut next = 0;
    let mut seen = Seen {
        keyed: BTreeMap::new(),
        plain: BTreeMap::new(),
        order: Vec::new(),
        keyed_end: None,
        plain_end: None,
    };
    // (outputs so far, size_hint) before each run.
    let mut hints = Vec::new();
    for t in 0..=until {
        if t > 0 {
            clock.advance(ms(1));
            other.advance(ms(1));
        }
        while next < items.len() && items[next].0 == t {
            let v = items[next].1;
            feed.push(v);
            feeds[(v % KEYS) as usize].push(v);
            next += 1;
        }
        if end == Some(t) {
            feed.end();
            for f in &feeds {
                f.end();
            }
        }
        hints.push((seen.order.len(), keyed_driver.get().size_hint()));
        keyed_driver.run();
        assert!(clock.timers() <= 1, "{} timers at {t}", clock.timers());
        for ev in keyed_driver.take() {
            match ev {
                Event::Item(at, out) => {
                    assert!(seen.keyed_end.is_none(), "an output after the end");
                    let (k, x) = label(&out);
                    seen.order.push((at, k));
                    seen.keyed.entry(k).or_default().push((at, x));
                }
                Event::End(at) => seen.keyed_end = Some(at),
            }
        }
        if seen.keyed_end.is_some() {
            assert!(
                keyed_driver.get().is_terminated(),
                "not terminated after the end"
            );
            assert_eq!(clock.timers(), 0, "a timer after the end");
        }
        for (k, driver) in plains.iter_mut().enumerate() {
            driver.run();
            for ev in driver.take() {
                match ev {
                    Event::Item(at, x) => seen.plain.entry(k as u32).or_default().push((at, x)),
                    Event::End(at) => {
                        seen.plain_end = Some(seen.plain_end.map_or(at, |e: u64| e.max(at)))
                    }
                }
            }
        }
    }
    let total = seen.order.len();
    for (done, (lower, upper)) in hints {
        let left = total - done;
        let ended = seen.keyed_end.is_some();
        assert!(
            lower <= left,
            "size_hint lower {lower} > {left} still to come"
        );
        if ended {
            assert!(
                upper.map_or(true, |u| left <= u),
                "size_hint upper {upper:?} < {left}"
            );
        }
    }
    drop(keyed_driver);
    assert_eq!(clock.timers(), 0);
    seen
}

fn assert_time_order(order: &[(u64, u32)]) {
    assert!(
        order.windows(2).all(|w| w[0].0 <= w[1].0),
        "outputs out of time order: {order:?}"
    );
}

fn key(v: &u32) -> u32 {
    v % KEYS
}

#[test]
fn batch_by_equals_batch_per_key() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..5000 {
        let len = 1 + rng.below(30) as usize;
        let items = schedule(&mut rng, len, 200);
        let size = 1 + rng.below(4) as usize;
        let latency = ms([0, 1, 10, 25, 50][rng.below(5) as usize]);
        let end = (rng.below(2) == 0).then(|| 200 + rng.below(50));
        let seen = compare(
            &items,
            end,
            400,
            |s, c| s.batch_by(key, size, latency).with_clock(c),
            |s, c| s.batch(size, latency).with_clock(c),
            |(k, v): &(u32, Vec<u32>)| (*k, v.clone()),
        );
        assert_eq!(
            (&seen.keyed, seen.keyed_end),
            (&seen.plain, seen.plain_end),
            "round {round}: {items:?} size {size} latency {latency:?} end {end:?}"
        );
        assert_time_order(&seen.order);
    }
}

#[test]
fn throttle_by_equals_throttle_per_key() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for round in 0..5000 {
        let len = 1 + rng.below(30) as usize;
        let items = schedule(&mut rng, len, 200);
        let period = ms([0, 1, 10, 25, 50][rng.below(5) as usize]);
        let edge = [Edge::Leading, Edge::Trailing, Edge::Both][rng.below(3) as usize];
        let end = (rng.below(2) == 0).then(|| 200 + rng.below(50));
        let seen = compare(
            &items,
            end,
            400,
            |s, c| s.throttle_by(key, period).edge(edge).with_clock(c),
            |s, c| s.throttle(period).edge(edge).with_clock(c),
            |v: &u32| (v % KEYS, *v),
        );
        assert_eq!(
            (&seen.keyed, seen.keyed_end),
            (&seen.plain, seen.plain_end),
            "round {round}: {items:?} period {period:?} {edge:?} end {end:?}"
        );
        assert_time_order(&seen.order);
    }
}

#[test]
fn debounce_by_equals_debounce_per_key() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    for round in 0..5000 {
        let len = 1 + rng.below(30) as usize;
        let items = schedule(&mut rng, len, 200);
        let quiet = [0, 1, 10, 25, 50][rng.below(5) as usize];
        let edge = [Edge::Leading, Edge::Trailing, Edge::Both][rng.below(3) as usize];
        let max_wait = match rng.below(3) {
            0 => None,
            _ => Some(quiet + rng.below(60)),
        };
        let end = (rng.below(2) == 0).then(|| 200 + rng.below(50));
        let seen = compare(
            &items,
            end,
            400,
            |s, c| {
                let s = s.debounce_by(key, ms(quiet)).edge(edge);
                match max_wait {
                    Some(d) => s.max_wait(ms(d)).with_clock(c),
                    None => s.with_clock(c),
                }
            },
            |s, c| {
                let s = s.debounce(ms(quiet)).edge(edge);
                match max_wait {
                    Some(d) => s.max_wait(ms(d)).with_clock(c),
                    None => s.with_clock(c),
                }
            },
            |v: &u32| (v % KEYS, *v),
        );
        assert_eq!(
            (&seen.keyed, seen.keyed_end),
            (&seen.plain, seen.plain_end),
            "round {round}: {items:?} quiet {quiet} {edge:?} max_wait {max_wait:?} end {end:?}"
        );
        assert_time_order(&seen.order);
    }
}

/// Polls once with a waker that does nothing.
fn poll<S: Stream + Unpin>(s: &mut S) -> Poll<Option<S::Item>> {
    support::poll_once(s)
}

#[test]
fn an_error_after_several_due_keys_comes_after_all_of_them() {
    // Three keys' batches are due at 100; the source is busy producing an error until 150.
    // Time order (and the plain adapter's own rule: the deadline's output, then the error)
    // puts the three batches first.
    let (clock, feed, mut driver) =
        support::drive(|s, c| s.try_batch_by(|v: &u32| *v, 10, ms(100)).with_clock(c));
    let start = clock.now();
    for v in [1, 2, 3] {
        feed.push(Ok(v));
    }
    driver.run();
    feed.push_busy(Err(9), &clock, start + ms(150));
    driver.run();
    let got: Vec<Result<u32, u32>> = driver
        .take()
        .into_iter()
        .map(|ev| match ev {
            Event::Item(150, out) => out.map(|(k, _)| k),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(got, [Ok(1), Ok(2), Ok(3), Err(9)]);
}

thread_local! {
    /// Hashes of a [`Fragile`] key still allowed before one panics (`usize::MAX`: no limit).
    static HASHES_LEFT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// A key whose `Hash` panics once the hashes allowed by [`HASHES_LEFT`] are used up.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fragile(u32);

impl Hash for Fragile {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let left = HASHES_LEFT.with(Cell::get);
        if left == 0 {
            HASHES_LEFT.with(|l| l.set(usize::MAX));
            panic!("hash failed");
        }
        if left != usize::MAX {
            HASHES_LEFT.with(|l| l.set(left - 1));
        }
        self.0.hash(state);
    }
}

#[test]
fn a_hash_that_panics_as_a_key_is_forgotten_loses_nothing() {
    // Items are (key, arm). An armed item allows one hash: its key's look-up. The second item
    // fills key 1's batch, which is flushed, and its key forgotten: that hash panics.
    let clock = ManualClock::new();
    let mut s = stream::iter([(1u32, false), (1, true), (1, false)])
        .batch_by(
            |&(k, arm): &(u32, bool)| {
                if arm {
                    HASHES_LEFT.with(|l| l.set(1));
                }
                Fragile(k)
            },
            2,
            ms(100),
        )
        .with_clock(clock.clone());
    let caught = catch_unwind(AssertUnwindSafe(|| poll(&mut s)));
    assert!(caught.is_err(), "the hash did not panic");
    // Nothing already buffered is lost: both items of the full batch come out, and the third
    // item is taken as usual.
    let rest = catch_unwind(AssertUnwindSafe(|| {
        let mut rest = Vec::new();
        while let Poll::Ready(Some((k, items))) = poll(&mut s) {
            rest.push((k.0, items.into_iter().map(|(v, _)| v).collect::<Vec<_>>()));
        }
        rest
    }));
    let rest = rest.expect("the adapter panicked again after the hash panic");
    let items: usize = rest.iter().map(|(_, items)| items.len()).sum();
    assert_eq!(items, 3, "{rest:?}");
}

#[test]
fn a_drop_hook_that_panics_at_the_end_loses_no_other_keys_item() {
    // Windows that never end: at the end of the stream each key's trailing item is dropped,
    // through the hook. The hook panics on the first; the second must still reach it.
    let hooked = Arc::new(Mutex::new(Vec::new()));
    let seen = hooked.clone();
    let mut s = stream::iter([1u32, 2, 11, 12])
        .throttle_by(|v| v % 10, Duration::MAX)
        .edge(Edge::Trailing)
        .on_drop(move |v| {
            seen.lock().unwrap().push(v);
            if v == 11 {
                panic!("hook failed");
            }
        })
        .with_clock(ManualClock::new());
    let first = catch_unwind(AssertUnwindSafe(|| poll(&mut s)));
    assert!(first.is_err(), "the hook did not panic");
    let second = catch_unwind(AssertUnwindSafe(|| poll(&mut s)));
    assert!(matches!(second, Ok(Poll::Ready(None))), "{second:?}");
    // 1 and 2 were replaced by 11 and 12; 11 and 12 are dropped at the end.
    assert_eq!(*hooked.lock().unwrap(), [1, 2, 11, 12]);
}

/// As [`compare`], but the keyed adapter's source is busy: every item is queued at the start,
/// and the poll that hands one out first moves the clock to its time. Outputs may then leave
/// late (when the adapter next sees the time), never early, and hold the same items.
fn compare_busy<SK, SP, X>(
    items: &[(u64, u32)],
    until: u64,
    keyed: impl FnOnce(Source<u32>, ManualClock) -> SK,
    plain: impl Fn(Source<u32>, ManualClock) -> SP,
    label: impl Fn(&SK::Item) -> (u32, X),
) where
    SK: FusedStream,
    SP: Stream<Item = X>,
    X: Clone + PartialEq + std::fmt::Debug,
{
    let clock = ManualClock::new();
    let (feed, input) = source();
    let mut driver = Driver::new(keyed(input, clock.clone()), &clock);
    let start = clock.now();
    for &(t, v) in items {
        if t == 0 {
            feed.push(v);
        } else {
            feed.push_busy(v, &clock, start + ms(t));
        }
    }
    driver.run();
    assert!(clock.timers() <= 1);
    let mut got: PerKey<X> = BTreeMap::new();
    let mut order = Vec::new();
    let mut collect = |driver: &mut Driver<SK>| {
        for ev in driver.take() {
            if let Event::Item(at, out) = ev {
                let (k, x) = label(&out);
                order.push((at, k));
                got.entry(k).or_default().push((at, x));
            }
        }
    };
    collect(&mut driver);
    while driver.now_ms() < until {
        clock.advance(ms(1));
        driver.run();
        assert!(clock.timers() <= 1);
        collect(&mut driver);
    }
    assert_time_order(&order);
    // The plain adapters, per key, on a source that is never busy.
    let mut want: PerKey<X> = BTreeMap::new();
    for k in 0..KEYS {
        let other = ManualClock::new();
        let (feed, input) = source();
        let mut plain = Driver::new(plain(input, other.clone()), &other);
        let part: Vec<(u64, u32)> = items
            .iter()
            .copied()
            .filter(|&(_, v)| v % KEYS == k)
            .collect();
        let mut next = 0;
        for t in 0..=until {
            while next < part.len() && part[next].0 == t {
                feed.push(part[next].1);
                next += 1;
            }
            plain.run();
            if t < until {
                other.advance(ms(1));
            }
        }
        for ev in plain.take() {
            if let Event::Item(at, x) = ev {
                want.entry(k).or_default().push((at, x));
            }
        }
    }
    let strip = |m: &PerKey<X>| -> BTreeMap<u32, Vec<X>> {
        m.iter()
            .map(|(k, v)| (*k, v.iter().map(|(_, x)| x.clone()).collect()))
            .collect()
    };
    assert_eq!(strip(&got), strip(&want), "{items:?}");
    for (k, outs) in &got {
        for ((at, x), (want_at, _)) in outs.iter().zip(&want[k]) {
            assert!(at >= want_at, "key {k}: {x:?} at {at}, due at {want_at}");
        }
    }
    // In the order yielded, the instants at which the outputs were due never go back.
    let mut nth: BTreeMap<u32, usize> = BTreeMap::new();
    let due: Vec<u64> = order
        .iter()
        .map(|(_, k)| {
            let n = nth.entry(*k).or_default();
            *n += 1;
            want[k][*n - 1].0
        })
        .collect();
    assert!(
        due.windows(2).all(|w| w[0] <= w[1]),
        "due times out of order: {due:?}, yielded {order:?}, items {items:?}"
    );
}

#[test]
fn batch_by_on_a_busy_source_keeps_the_batches_of_batch_per_key() {
    let mut rng = Rng(0x5555_AAAA_1234_4321);
    for _ in 0..1500 {
        let len = 1 + rng.below(30) as usize;
        let items = schedule(&mut rng, len, 200);
        let size = 1 + rng.below(4) as usize;
        let latency = ms([1, 10, 25, 50][rng.below(4) as usize]);
        compare_busy(
            &items,
            300,
            |s, c| s.batch_by(key, size, latency).with_clock(c),
            |s, c| s.batch(size, latency).with_clock(c),
            |(k, v): &(u32, Vec<u32>)| (*k, v.clone()),
        );
    }
}

#[test]
fn debounce_by_on_a_busy_source_keeps_the_items_of_debounce_per_key() {
    let mut rng = Rng(0x7777_1111_2222_3333);
    for _ in 0..1500 {
        let len = 1 + rng.below(30) as usize;
        let items = schedule(&mut rng, len, 200);
        let quiet = [1, 10, 25, 50][rng.below(4) as usize];
        let edge = [Edge::Leading, Edge::Trailing, Edge::Both][rng.below(3) as usize];
        let max_wait = (rng.below(2) == 0).then(|| quiet + rng.below(60));
        let build = move |s: Source<u32>, c: ManualClock| {
            let s = s.debounce(ms(quiet)).edge(edge);
            match max_wait {
                Some(d) => s.max_wait(ms(d)).with_clock(c),
                None => s.with_clock(c),
            }
        };
        compare_busy(
            &items,
            400,
            |s, c| {
                let s = s.debounce_by(key, ms(quiet)).edge(edge);
                match max_wait {
                    Some(d) => s.max_wait(ms(d)).with_clock(c),
                    None => s.with_clock(c),
                }
            },
            build,
            |v: &u32| (v % KEYS, *v),
        );
    }
}

#[test]
fn leading_throttle_by_on_a_busy_source_keeps_the_items_of_throttle_per_key() {
    let mut rng = Rng(0x1357_9BDF_2468_ACE0);
    for _ in 0..1500 {
        let len = 1 + rng.below(30) as usize;
        let items = schedule(&mut rng, len, 200);
        let period = ms([1, 10, 25, 50][rng.below(4) as usize]);
        compare_busy(
            &items,
            300,
            |s, c| s.throttle_by(key, period).with_clock(c),
            |s, c| s.throttle(period).with_clock(c),
            |v: &u32| (v % KEYS, *v),
        );
    }
}

#[test]
fn weighted_batch_by_equals_weighted_batch_per_key() {
    let mut rng = Rng(0x0BAD_F00D_DEAD_C0DE);
    let weigh = |v: &u32| (v / KEYS % 7) as usize;
    for round in 0..1500 {
        let len = 1 + rng.below(30) as usize;
        let items = schedule(&mut rng, len, 200);
        let size = 1 + rng.below(5) as usize;
        let latency = ms([0, 1, 10, 25, 50][rng.below(5) as usize]);
        let max = rng.below(12) as usize;
        let end = (rng.below(2) == 0).then(|| 200 + rng.below(50));
        let seen = compare(
            &items,
            end,
            400,
            |s, c| {
                s.batch_by(key, size, latency)
                    .max_weight(max, weigh)
                    .with_clock(c)
            },
            |s, c| s.batch(size, latency).max_weight(max, weigh).with_clock(c),
            |(k, v): &(u32, Vec<u32>)| (*k, v.clone()),
        );
        assert_eq!(
            (&seen.keyed, seen.keyed_end),
            (&seen.plain, seen.plain_end),
            "round {round}: {items:?} size {size} latency {latency:?} max {max} end {end:?}"
        );
        assert_time_order(&seen.order);
    }
}

#[test]
fn weighted_batch_by_on_a_busy_source_keeps_the_batches_of_batch_per_key() {
    let mut rng = Rng(0x1111_2222_4444_8888);
    let weigh = |v: &u32| (v / KEYS % 7) as usize;
    for _ in 0..1500 {
        let len = 1 + rng.below(30) as usize;
        let items = schedule(&mut rng, len, 200);
        let size = 1 + rng.below(5) as usize;
        let latency = ms([1, 10, 25, 50][rng.below(4) as usize]);
        let max = rng.below(12) as usize;
        compare_busy(
            &items,
            300,
            |s, c| {
                s.batch_by(key, size, latency)
                    .max_weight(max, weigh)
                    .with_clock(c)
            },
            |s, c| s.batch(size, latency).max_weight(max, weigh).with_clock(c),
            |(k, v): &(u32, Vec<u32>)| (*k, v.clone()),
        );
    }
}

/// A weigher that panics on 13 and weighs 1 otherwise.
fn weigh_or_panic(v: &u32) -> usize {
    if *v == 13 {
        panic!("weigher failed");
    }
    1
}

#[test]
fn a_weigher_that_panics_on_a_keys_first_item_keeps_the_keys_deadline() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .batch_by(|v| v % 10, 10, ms(100))
        .max_weight(100, weigh_or_panic)
        .with_clock(clock.clone());
    feed.push(13);
    let caught = catch_unwind(AssertUnwindSafe(|| poll(&mut s)));
    assert!(caught.is_err(), "the weigher did not panic");
    // As with `batch`, the item stays in its key's batch, weightless.
    assert_eq!(s.keys(), 1);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(100));
    assert_eq!(poll(&mut s), Poll::Ready(Some((3, vec![13]))));
}

#[test]
fn a_weigher_that_panics_on_a_keys_first_item_keeps_the_keys_bound() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .batch_by(|v| v % 10, 10, ms(100))
        .max_weight(100, weigh_or_panic)
        .max_keys(1)
        .with_clock(clock.clone());
    feed.push(13);
    let caught = catch_unwind(AssertUnwindSafe(|| poll(&mut s)));
    assert!(caught.is_err(), "the weigher did not panic");
    feed.push(4);
    assert_eq!(poll(&mut s), Poll::Ready(Some((3, vec![13]))));
    assert_eq!(s.keys(), 1);
}

#[test]
fn the_plain_batch_yields_a_batch_filled_by_an_item_whose_weigher_panicked_at_once() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .batch(2, ms(100))
        .max_weight(100, weigh_or_panic)
        .with_clock(clock.clone());
    feed.push(3);
    feed.push(13);
    let caught = catch_unwind(AssertUnwindSafe(|| poll(&mut s)));
    assert!(caught.is_err(), "the weigher did not panic");
    assert_eq!(poll(&mut s), Poll::Ready(Some(vec![3, 13])));
}

#[test]
fn a_weigher_that_panics_on_the_item_that_fills_a_keys_batch_makes_it_due_at_once() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .batch_by(|v| v % 10, 2, ms(100))
        .max_weight(100, weigh_or_panic)
        .with_clock(clock.clone());
    feed.push(3);
    feed.push(13);
    let caught = catch_unwind(AssertUnwindSafe(|| poll(&mut s)));
    assert!(caught.is_err(), "the weigher did not panic");
    assert_eq!(poll(&mut s), Poll::Ready(Some((3, vec![3, 13]))));
}

#[test]
fn a_late_poll_serves_moved_debounce_deadlines_in_deadline_order() {
    // Key 1's quiet period moved from 100 to 180 (its heap entry still lies at 100); key 2's
    // ends at 150. Polled again only at 500: 2, then 1.
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .debounce_by(|v| v % 10, ms(100))
        .with_clock(clock.clone());
    feed.push(1);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(50));
    feed.push(2);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(30));
    feed.push(11);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(420));
    assert_eq!(poll(&mut s), Poll::Ready(Some(2)));
    assert_eq!(poll(&mut s), Poll::Ready(Some(11)));
    assert!(poll(&mut s).is_pending());
    assert_eq!(s.keys(), 0);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn debounce_by_max_keys_evicts_the_key_whose_moved_deadline_is_earliest() {
    // Key 1: items at 0 and 90 (quiet ends at 190; its entry lies at 100). Key 2: item at 50
    // (quiet ends at 150). Key 3 at 95 evicts key 2, whose deadline is the earliest.
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .debounce_by(|v| v % 10, ms(100))
        .max_keys(2)
        .with_clock(clock.clone());
    feed.push(1);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(50));
    feed.push(2);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(40));
    feed.push(11);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(5));
    feed.push(3);
    assert_eq!(poll(&mut s), Poll::Ready(Some(2)));
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(95));
    assert_eq!(poll(&mut s), Poll::Ready(Some(11)));
    clock.advance(ms(5));
    assert_eq!(poll(&mut s), Poll::Ready(Some(3)));
}

#[test]
fn a_late_poll_opens_the_next_trailing_window_at_the_emission() {
    // Key 1's window ends at 100 with 11 pending, but the adapter is polled only at 500: 11
    // leaves then, and its emission opens the next window, to 600.
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .throttle_by(|v| v % 10, ms(100))
        .edge(Edge::Trailing)
        .with_clock(clock.clone());
    feed.push(1);
    feed.push(11);
    feed.push(2);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(500));
    assert_eq!(poll(&mut s), Poll::Ready(Some(11)));
    assert_eq!(poll(&mut s), Poll::Ready(Some(2)));
    feed.push(21);
    feed.push(32);
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(99));
    assert!(poll(&mut s).is_pending());
    clock.advance(ms(1));
    assert_eq!(poll(&mut s), Poll::Ready(Some(21)));
    assert_eq!(poll(&mut s), Poll::Ready(Some(32)));
    assert!(poll(&mut s).is_pending());
}

#[test]
fn trailing_items_of_several_keys_leave_before_the_end() {
    // The stream ends at 50 with trailing items pending in three windows (ending at 100, 110
    // and 120); each leaves at its window's end, then the stream ends.
    let (clock, feed, mut driver) = support::drive(|s, c| {
        s.throttle_by(|v: &u32| v % 10, ms(100))
            .edge(Edge::Both)
            .with_clock(c)
    });
    let out = driver.play(
        &feed,
        support::Timeline::new()
            .items([(0, 1), (10, 2), (20, 3), (30, 11), (31, 12), (32, 13)])
            .end(50)
            .until(300),
    );
    use support::{End, Item};
    assert_eq!(
        out,
        [
            Item(0, 1),
            Item(10, 2),
            Item(20, 3),
            Item(100, 11),
            Item(110, 12),
            Item(120, 13),
            End(120)
        ]
    );
    assert!(driver.get().is_terminated());
    assert_eq!(clock.timers(), 0);
}

#[test]
fn polling_after_the_end_stays_at_the_end() {
    let clock = ManualClock::new();
    let mut s = stream::iter([1u32, 2, 11])
        .batch_by(|v| v % 10, 10, ms(100))
        .with_clock(clock.clone());
    assert_eq!(poll(&mut s), Poll::Ready(Some((1, vec![1, 11]))));
    assert_eq!(poll(&mut s), Poll::Ready(Some((2, vec![2]))));
    for _ in 0..3 {
        assert_eq!(poll(&mut s), Poll::Ready(None));
        assert!(s.is_terminated());
        assert_eq!(futures::Stream::size_hint(&s), (0, Some(0)));
    }
    assert_eq!(clock.timers(), 0);
}

#[test]
fn every_poll_takes_at_most_512_items_and_wakes_itself() {
    // An always-ready source of three keys, all in open windows after the first three items.
    let pulled = Arc::new(AtomicUsize::new(0));
    let count = pulled.clone();
    let clock = ManualClock::new();
    let mut s = stream::iter(0u32..)
        .inspect(move |_| {
            count.fetch_add(1, Ordering::Relaxed);
        })
        .throttle_by(|v| v % 3, ms(100))
        .on_drop(|_| {})
        .with_clock(clock.clone());
    let wakes = Arc::new(WakeCounter::new());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    let mut outs = Vec::new();
    for call in 0..20 {
        let before = pulled.load(Ordering::Relaxed);
        let woken = wakes.count();
        match Pin::new(&mut s).poll_next(&mut cx) {
            Poll::Ready(Some(v)) => outs.push(v),
            Poll::Ready(None) => panic!("ended"),
            Poll::Pending => assert_eq!(wakes.count(), woken + 1, "call {call}: no self-wake"),
        }
        let took = pulled.load(Ordering::Relaxed) - before;
        assert!(took <= 512, "call {call} took {took} items");
    }
    assert_eq!(outs, [0, 1, 2]);
    assert_eq!(clock.timers(), 1);
}

/// A task that polls its stream inside its own waker: so inside `ManualClock::advance`, at
/// the instant of the timer that woke it.
struct Reentrant<S: Stream> {
    stream: Mutex<Pin<Box<S>>>,
    clock: ManualClock,
    start: std::time::Instant,
    outs: Mutex<Vec<(u64, Option<S::Item>)>>,
    again: AtomicBool,
}

impl<S: Stream + Send + 'static> Wake for Reentrant<S>
where
    S::Item: Send,
{
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        loop {
            let Ok(mut stream) = self.stream.try_lock() else {
                // Woken while polling: poll again after.
                self.again.store(true, Ordering::SeqCst);
                return;
            };
            self.again.store(false, Ordering::SeqCst);
            let waker = Waker::from(self.clone());
            let mut cx = Context::from_waker(&waker);
            loop {
                let t = (self.clock.now() - self.start).as_millis() as u64;
                match stream.as_mut().poll_next(&mut cx) {
                    Poll::Ready(Some(out)) => self.outs.lock().unwrap().push((t, Some(out))),
                    Poll::Ready(None) => {
                        self.outs.lock().unwrap().push((t, None));
                        return;
                    }
                    Poll::Pending => break,
                }
            }
            drop(stream);
            if !self.again.swap(false, Ordering::SeqCst) {
                return;
            }
        }
    }
}

#[test]
fn a_task_polled_inside_advance_sees_every_deadline_at_its_instant() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let s = input
        .throttle_by(|v| v % 10, ms(100))
        .edge(Edge::Both)
        .with_clock(clock.clone());
    let task = Arc::new(Reentrant {
        stream: Mutex::new(Box::pin(s)),
        clock: clock.clone(),
        start: clock.now(),
        outs: Mutex::new(Vec::new()),
        again: AtomicBool::new(false),
    });
    task.wake_by_ref();
    // Key 1: 1 passes at 0, 11 leaves at 100 (opening a window to 200). Key 2: 2 passes at
    // 0, 12 and 22 come at 40, 22 leaves at 100 (window to 200), after 11 (a tie: key 1's
    // first item came first). Key 3: 3 passes at 40.
    feed.push(1);
    feed.push(2);
    clock.advance(ms(40));
    feed.push(12);
    feed.push(3);
    feed.push(22);
    feed.push(11);
    // One move across every deadline: the task polls at each, inside `advance`.
    clock.advance(ms(1000));
    feed.end();
    let outs = task.outs.lock().unwrap().clone();
    assert_eq!(
        outs,
        [
            (0, Some(1)),
            (0, Some(2)),
            (40, Some(3)),
            (100, Some(11)),
            (100, Some(22)),
            (1040, None)
        ]
    );
    assert_eq!(clock.timers(), 0);
}

#[test]
fn with_clock_mid_stream_keeps_the_outputs_waiting() {
    // Three keys' batches are due at 100; the source is busy producing 4 until 150. The first
    // batch comes out; the others wait in the adapter while the clock is swapped.
    let old = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input.batch_by(|v| *v, 10, ms(100)).with_clock(old.clone());
    let start = old.now();
    for v in [1, 2, 3] {
        feed.push(v);
    }
    assert!(poll(&mut s).is_pending());
    feed.push_busy(4, &old, start + ms(150));
    assert_eq!(poll(&mut s), Poll::Ready(Some((1, vec![1]))));
    let new = ManualClock::new();
    let mut s = s.with_clock(new.clone());
    assert_eq!(old.timers(), 0);
    assert_eq!(poll(&mut s), Poll::Ready(Some((2, vec![2]))));
    assert_eq!(poll(&mut s), Poll::Ready(Some((3, vec![3]))));
    assert!(poll(&mut s).is_pending());
    assert_eq!(s.keys(), 1);
    // 4 arrived at 150 on the old clock, which read 150 when the clock was swapped: its
    // batch has all its 100 ms left.
    new.advance(ms(99));
    assert!(poll(&mut s).is_pending());
    new.advance(ms(1));
    assert_eq!(poll(&mut s), Poll::Ready(Some((4, vec![4]))));
    assert!(new.timers() <= 1);
}

#[test]
fn durations_past_instants_range_never_end_a_batch() {
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .batch_by(|v| v % 10, 3, Duration::MAX)
        .max_keys(2)
        .with_reasons()
        .with_clock(clock.clone());
    feed.push(1);
    feed.push(2);
    feed.push(11);
    assert!(poll(&mut s).is_pending());
    assert!(clock.timers() <= 1);
    clock.advance(Duration::from_secs(1 << 30));
    assert!(poll(&mut s).is_pending());
    // A third key evicts the key opened first (no deadline: ties by opening).
    feed.push(3);
    let Poll::Ready(Some((k, flushed))) = poll(&mut s) else {
        panic!("no eviction")
    };
    assert_eq!((k, flushed.items), (1, vec![1, 11]));
    assert_eq!(flushed.reason, streamz::FlushReason::MaxKeys);
    feed.end();
    let rest: Vec<(u32, Vec<u32>)> =
        futures::executor::block_on(s.map(|(k, f)| (k, f.items)).collect::<Vec<_>>());
    assert_eq!(rest, [(2, vec![2]), (3, vec![3])]);
}

#[test]
fn throttle_and_debounce_by_with_durations_past_instants_range() {
    let hooked = Arc::new(Mutex::new(Vec::new()));
    let seen = hooked.clone();
    let out: Vec<u32> = futures::executor::block_on(
        stream::iter([1u32, 2, 11, 12, 21])
            .throttle_by(|v| v % 10, Duration::MAX)
            .edge(Edge::Both)
            .on_drop(move |v| seen.lock().unwrap().push(v))
            .collect(),
    );
    assert_eq!(out, [1, 2]);
    // 11 was replaced by 21; 21 and 12 never leave (their windows never end).
    let mut hooked = hooked.lock().unwrap().clone();
    hooked.sort_unstable();
    assert_eq!(hooked, [11, 12, 21]);
    let out: Vec<u32> = futures::executor::block_on(
        stream::iter([1u32, 2, 11, 12, 21])
            .debounce_by(|v| v % 10, Duration::MAX)
            .collect(),
    );
    assert_eq!(out, [21, 12]);
}

#[test]
fn zero_durations_on_an_always_ready_source() {
    // batch_by(n, ZERO): batches leave as the budget runs out, each key's capped by n.
    let clock = ManualClock::new();
    let mut s = stream::iter(0u32..)
        .batch_by(|v| v % 3, 1000, Duration::ZERO)
        .with_clock(clock.clone());
    let mut seen = 0u32;
    for _ in 0..9 {
        let Poll::Ready(Some((k, items))) = poll(&mut s) else {
            panic!("no batch")
        };
        assert!(items.iter().all(|v| v % 3 == k), "{k}: {items:?}");
        seen += items.len() as u32;
    }
    // Three polls of 512 items, each flushing three keys.
    assert_eq!(seen, 3 * 512);
    // debounce_by(ZERO): an always-ready source yields nothing until it pauses.
    let mut s = stream::iter(0u32..2000)
        .chain(stream::pending())
        .debounce_by(|v| v % 3, Duration::ZERO)
        .with_clock(clock.clone());
    for _ in 0..3 {
        assert!(poll(&mut s).is_pending());
    }
    assert_eq!(s.keys(), 3);
    assert!(poll(&mut s).is_ready());
    assert_eq!(poll(&mut s), Poll::Ready(Some(1999)));
}

#[test]
fn keys_forgotten_by_the_thousand_leave_the_pending_ones_on_time() {
    // 3000 keys fill their batch (two items each) and are forgotten, leaving their heap
    // entries behind; 5 keys hold a batch each, due at 100, 101, ..., 104.
    let clock = ManualClock::new();
    let (feed, input) = source::<u32>();
    let mut s = input
        .batch_by(|v| v % 100_000, 2, ms(100))
        .with_clock(clock.clone());
    let mut full = 0;
    for p in 0..5u32 {
        feed.push(100_000 * 7 + 90_000 + p);
        for k in 0..600u32 {
            feed.push(p * 1000 + k);
            feed.push(100_000 + p * 1000 + k);
        }
        loop {
            match poll(&mut s) {
                Poll::Ready(Some((_, items))) => {
                    assert_eq!(items.len(), 2);
                    full += 1;
                }
                Poll::Ready(None) => panic!("ended"),
                Poll::Pending if feed.queued() > 0 => {}
                Poll::Pending => break,
            }
        }
        assert_eq!(s.keys(), p as usize + 1);
        clock.advance(ms(1));
    }
    assert_eq!(full, 3000);
    assert!(clock.timers() <= 1);
    clock.advance(ms(94));
    assert!(poll(&mut s).is_pending());
    for p in 0..5u32 {
        clock.advance(ms(1));
        assert_eq!(
            poll(&mut s),
            Poll::Ready(Some((90_000 + p, vec![790_000 + p]))),
            "at {}",
            100 + p
        );
        assert!(poll(&mut s).is_pending());
    }
    assert_eq!(s.keys(), 0);
}

#[test]
fn a_debounce_tie_is_broken_by_the_runs_first_item() {
    // Key 1's run is cut by max_wait at 100 (11 leaves), its quiet period runs on. At 120,
    // 2 (key 2) and then 21 (key 1) start a run each; both runs are due at 220. 2 came first.
    let (_clock, feed, mut driver) = support::drive(|s, c| {
        s.debounce_by(|v: &u32| v % 10, ms(100))
            .max_wait(ms(100))
            .with_clock(c)
    });
    let out = driver.play(
        &feed,
        support::Timeline::new()
            .items([(0, 1), (50, 11), (120, 2), (120, 21)])
            .until(300),
    );
    use support::Item;
    assert_eq!(out, [Item(100, 11), Item(220, 2), Item(220, 21)]);
}
