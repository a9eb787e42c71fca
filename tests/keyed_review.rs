//! Attacks on the keyed adapters (`batch_by`, `throttle_by`, `debounce_by`): hostile sources,
//! odd poll orders, many keys, bad user code, and a comparison with the plain adapters run
//! per key on the same clock.

mod support;

use std::collections::BTreeMap;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream};
use streamz::{Edge, ManualClock, StreamzExt, TryStreamzExt};
use support::{ms, source, Driver, Event, Source};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

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
            assert!(keyed_driver.get().is_terminated(), "not terminated after the end");
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
        assert!(lower <= left, "size_hint lower {lower} > {left} still to come");
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

#[allow(dead_code)]
fn _unused(_: Duration) {}

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
#[ignore = "fault: a Hash that panics as a key is forgotten loses the key's flushed batch \
            and leaves the key's index entry pointing at an empty slot"]
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
#[ignore = "fault: a drop hook that panics at the end of the stream leaves the other keys \
            un-ended: their trailing items are lost without reaching the hook"]
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
        let part: Vec<(u64, u32)> = items.iter().copied().filter(|&(_, v)| v % KEYS == k).collect();
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
