//! Property tests of the keyed adapters (`batch_by`, `throttle_by`, `debounce_by` and their
//! `try_` forms) on virtual time, with random schedules: items of one to five keys (the key of
//! an item is `item % nkeys`), errors in the `try_` forms, bursts past the poll budget, and
//! instants at which time moves inside the source (it is busy producing the instant's first
//! event from the end of the previous instant on; see `support::schedule::Workload`).
//!
//! - *Split by key*: per key, a keyed adapter yields what the plain adapter's reference model
//!   (`support/models.rs`) yields for that key's view of the schedule (`key_view`: the other
//!   keys' items become errors, which pass at once and change nothing), at the same times;
//!   every error comes once, in its place for every key; outputs come in time order; the
//!   stream ends when the last key's part does.
//! - *The keyed model* (`support/keyed_models.rs`): the whole output in order (outputs of
//!   several keys due by one check in deadline order, ties broken by the order in which the
//!   keys became active), under a keys bound (`max_keys`), with the poll budget shared by all
//!   keys; the items dropped, in order; and the number of active keys (`keys()`) whenever the
//!   adapter is at rest.
//! - *Keys due by one check*: the order rule checked directly, without a model.
//!
//! One restriction, explained where it is made: with a zero latency, the split model of
//! `batch_by` gets schedules under the poll budget (`batch_split_case`).
//!
//! `PROPTEST_CASES` sets the number of cases per property (256 by default).

mod support;

use std::cell::RefCell;
use std::fmt::Debug;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{FusedStream, Stream, StreamExt};
use proptest::prelude::*;
use streamz::{Edge, ManualClock, StreamzExt, TryStreamzExt};
use support::keyed_models::{self, key_view, unmarked, BatchKey, DebounceKey, KeyedRun};
use support::keyed_models::{KeyModel, ThrottleKey};
use support::models::{self, Ev, Out, BUDGET};
use support::ms;
use support::schedule::Workload;

// ---------------------------------------------------------------------------------------------
// Strategies

fn gap() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 3 => 1u64..5, 3 => 5u64..60, 1 => 60u64..400]
}

/// A schedule of at most `max_events` events: instants in order, each with one or more
/// events (mostly a few, sometimes a burst past the poll budget); it may end with `End`.
/// Events are numbered in order: the `n`-th is `Err(n)` (with probability 1/7, if `errors`)
/// or an item of a random key, `n * nkeys + key`, so items grow in arrival order.
fn schedule(nkeys: u32, errors: bool, max_events: usize) -> impl Strategy<Value = Vec<(u64, Ev)>> {
    let frame = prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 1..4),
        1 => prop::collection::vec(any::<u8>(), 4..20),
        1 => prop::collection::vec(any::<u8>(), 400..1200),
    ];
    (
        prop::collection::vec((gap(), frame), 0..30),
        any::<bool>(),
        0u64..200,
    )
        .prop_map(move |(frames, end, end_gap)| {
            let mut t = 0;
            let mut n = 0u32;
            let mut out = Vec::new();
            'frames: for (gap, events) in frames {
                t += gap;
                for b in events {
                    if out.len() == max_events {
                        break 'frames;
                    }
                    n += 1;
                    let ev = if errors && b % 7 == 6 {
                        Ev::Err(n)
                    } else {
                        Ev::Item(n * nkeys + u32::from(b / 7) % nkeys)
                    };
                    out.push((t, ev));
                }
            }
            if end {
                out.push((t + end_gap, Ev::End));
            }
            out
        })
}

/// The number of keys, and a schedule with the instants at which the source is busy (about
/// half of them).
fn keyed_workload(errors: bool, max_events: usize) -> impl Strategy<Value = (u32, Workload)> {
    (1u32..=5).prop_flat_map(move |nkeys| {
        (
            Just(nkeys),
            schedule(nkeys, errors, max_events),
            prop::collection::vec(any::<bool>(), 64),
        )
            .prop_map(|(nkeys, schedule, flags)| {
                let mut instants: Vec<u64> = schedule.iter().map(|&(t, _)| t).collect();
                instants.dedup();
                let busy = instants
                    .iter()
                    .enumerate()
                    .skip(1)
                    .filter(|&(i, _)| flags[i % flags.len()])
                    .map(|(_, &t)| t)
                    .collect();
                (nkeys, Workload { schedule, busy })
            })
    })
}

/// Whether the source yields `Result`s (a `try_` adapter, errors in the schedule), the number
/// of keys and a workload.
fn any_workload(max_events: usize) -> impl Strategy<Value = (bool, u32, Workload)> {
    any::<bool>().prop_flat_map(move |fallible| {
        keyed_workload(fallible, max_events).prop_map(move |(n, w)| (fallible, n, w))
    })
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1 => Just(Duration::ZERO),
        1 => Just(ms(1)),
        6 => (2u64..300).prop_map(ms),
        1 => Just(Duration::from_secs(1_000_000_000)),
        1 => Just(Duration::MAX),
    ]
}

fn edge() -> impl Strategy<Value = Edge> {
    prop_oneof![Just(Edge::Leading), Just(Edge::Trailing), Just(Edge::Both)]
}

fn max_size() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), 2usize..12, Just(usize::MAX)]
}

/// `max_wait`: none, or `quiet` and more.
fn max_wait(quiet: Duration) -> impl Strategy<Value = Option<Duration>> {
    prop::option::of(duration()).prop_map(move |extra| extra.map(|e| quiet.saturating_add(e)))
}

/// The keys bound: none, or one that binds when there are more keys (about half the cases).
fn max_keys() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![1 => Just(None), 4 => (1usize..=4).prop_map(Some)]
}

/// A batch's latency and a workload for the split model. A zero latency yields what is
/// gathered when the poll budget runs out, and the budget counts every key's items; in a key's
/// view they are errors, each of which ends a `poll_next` call. So with a zero latency the
/// schedule stays under the budget (fewer than `BUDGET` events), where the two agree.
fn batch_split_case() -> impl Strategy<Value = (Duration, bool, u32, Workload)> {
    duration().prop_flat_map(|latency| {
        let max_events = if latency == Duration::ZERO {
            BUDGET - 1
        } else {
            usize::MAX
        };
        any_workload(max_events).prop_map(move |(f, n, w)| (latency, f, n, w))
    })
}

// ---------------------------------------------------------------------------------------------
// Observing the number of active keys

/// The adapter's active keys whenever it is at rest: after each poll that returns `Pending`
/// or the end while the source holds no queued event, at the clock's time in ms.
type Seen = Rc<RefCell<Vec<(u64, usize)>>>;

/// Wraps an adapter: `look` gives its active keys and the events queued in its source.
struct Observed<S, F> {
    inner: S,
    clock: ManualClock,
    start: Instant,
    look: F,
    seen: Seen,
}

fn observe<S, F>(inner: S, clock: &ManualClock, seen: &Seen, look: F) -> Observed<S, F>
where
    F: Fn(&S) -> (usize, usize),
{
    Observed {
        inner,
        clock: clock.clone(),
        start: clock.now(),
        look,
        seen: seen.clone(),
    }
}

impl<S: Stream + Unpin, F: Fn(&S) -> (usize, usize) + Unpin> Stream for Observed<S, F> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_next(cx);
        if !matches!(poll, Poll::Ready(Some(_))) {
            let (keys, queued) = (this.look)(&this.inner);
            if queued == 0 {
                let t = (this.clock.now() - this.start).as_millis() as u64;
                this.seen.borrow_mut().push((t, keys));
            }
        }
        poll
    }
}

impl<S: FusedStream + Unpin, F: Fn(&S) -> (usize, usize) + Unpin> FusedStream for Observed<S, F> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

/// Whenever the adapter was at rest (the last look at each instant), it had as many active
/// keys as the model, and never more than the bound.
fn check_keys<O>(
    seen: &[(u64, usize)],
    model: &KeyedRun<O>,
    max_keys: Option<usize>,
) -> Result<(), TestCaseError> {
    for (i, &(t, keys)) in seen.iter().enumerate() {
        prop_assert!(
            keys <= max_keys.unwrap_or(usize::MAX),
            "{} keys at {} ms",
            keys,
            t
        );
        if seen.get(i + 1).is_some_and(|&(next, _)| next == t) {
            continue;
        }
        if let Some(expected) = model.keys_at(t) {
            prop_assert_eq!(keys, expected, "active keys at {} ms", t);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Checks

/// `actual == expected`; if not, the first difference, with a few elements around it.
fn same<T: Debug + PartialEq>(
    actual: &[T],
    expected: &[T],
    what: &str,
) -> Result<(), TestCaseError> {
    if actual == expected {
        return Ok(());
    }
    let i = actual
        .iter()
        .zip(expected)
        .take_while(|(a, b)| a == b)
        .count();
    let around = |s: &[T]| format!("{:?}", &s[i.saturating_sub(3)..(i + 4).min(s.len())]);
    Err(TestCaseError::fail(format!(
        "{what}: first difference at {i} (lengths {} and {}):\n  got: {}\n want: {}",
        actual.len(),
        expected.len(),
        around(actual),
        around(expected),
    )))
}

fn time<T>(out: &Out<T>) -> u64 {
    match *out {
        Out::Item(t, _) | Out::Err(t, _) | Out::End(t) => t,
    }
}

/// Throttle and debounce outputs with their keys.
fn with_keys(out: Vec<Out<u32>>, nkeys: u32) -> Vec<Out<(u32, u32)>> {
    out.into_iter()
        .map(|out| match out {
            Out::Item(t, x) => Out::Item(t, (x % nkeys, x)),
            Out::Err(t, e) => Out::Err(t, e),
            Out::End(t) => Out::End(t),
        })
        .collect()
}

fn items_of(schedule: &[(u64, Ev)]) -> Vec<u32> {
    schedule
        .iter()
        .filter_map(|(_, ev)| match ev {
            Ev::Item(x) => Some(*x),
            _ => None,
        })
        .collect()
}

/// The split model: `expected[k]` is what the plain model yields for key `k`'s view. Per key,
/// the adapter's outputs of that key and its errors are those, at the same times; outputs are
/// in time order; the end comes last, when the last key's part ends.
fn check_split<O: Clone + Debug + PartialEq>(
    actual: &[Out<(u32, O)>],
    expected: &[Vec<Out<O>>],
) -> Result<(), TestCaseError> {
    prop_assert!(
        actual.windows(2).all(|w| time(&w[0]) <= time(&w[1])),
        "not in time order: {:?}",
        actual
    );
    let ends: Vec<u64> = expected
        .iter()
        .filter_map(|out| match out.last() {
            Some(Out::End(t)) => Some(*t),
            _ => None,
        })
        .collect();
    let actual_ends: Vec<usize> = (0..actual.len())
        .filter(|&i| matches!(actual[i], Out::End(_)))
        .collect();
    if ends.is_empty() {
        prop_assert!(actual_ends.is_empty(), "ended: {:?}", actual);
    } else {
        prop_assert_eq!(ends.len(), expected.len());
        prop_assert_eq!(actual_ends, vec![actual.len() - 1]);
        let last = ends.iter().copied().max();
        prop_assert_eq!(actual.last().map(time), last);
    }
    let mut outputs = 0;
    for (k, expected) in expected.iter().enumerate() {
        let got: Vec<Out<O>> = actual
            .iter()
            .filter_map(|out| match out {
                Out::Item(t, (key, x)) if *key == k as u32 => Some(Out::Item(*t, x.clone())),
                Out::Err(t, e) => Some(Out::Err(*t, *e)),
                _ => None,
            })
            .collect();
        let expected: Vec<Out<O>> = expected
            .iter()
            .filter(|out| !matches!(out, Out::End(_)))
            .cloned()
            .collect();
        outputs += expected
            .iter()
            .filter(|o| matches!(o, Out::Item(..)))
            .count();
        same(&got, &expected, &format!("key {k}"))?;
    }
    let actual_outputs = actual.iter().filter(|o| matches!(o, Out::Item(..))).count();
    prop_assert_eq!(actual_outputs, outputs, "outputs of no key");
    Ok(())
}

/// Items that the drop hook saw: each once, none also yielded, those of one key in arrival
/// order; once the stream has ended, every item was yielded or dropped.
fn check_drops(
    schedule: &[(u64, Ev)],
    nkeys: u32,
    actual: &[Out<u32>],
    dropped: &[u32],
) -> Result<(), TestCaseError> {
    for k in 0..nkeys {
        let of_key: Vec<u32> = dropped.iter().copied().filter(|x| x % nkeys == k).collect();
        prop_assert!(of_key.windows(2).all(|w| w[0] < w[1]), "{:?}", dropped);
    }
    let mut seen: Vec<u32> = actual
        .iter()
        .filter_map(|out| match out {
            Out::Item(_, x) => Some(*x),
            _ => None,
        })
        .collect();
    prop_assert!(
        !seen.iter().any(|x| dropped.contains(x)),
        "yielded and dropped"
    );
    if matches!(actual.last(), Some(Out::End(_))) {
        seen.extend_from_slice(dropped);
        seen.sort_unstable();
        prop_assert_eq!(seen, items_of(schedule));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Split by key: the keyed adapter against the plain models

/// A keys bound that never binds: none, or `nkeys` and up (`slack` above it).
fn loose(nkeys: u32, slack: Option<usize>) -> Option<usize> {
    slack.map(|slack| nkeys as usize + slack)
}

proptest! {
    #[test]
    fn batch_by_is_a_plain_batch_per_key(
        (latency, fallible, nkeys, w) in batch_split_case(),
        max_size in max_size(),
        slack in prop::option::of(0usize..3),
    ) {
        check_batch_split(&w, fallible, nkeys, max_size, latency, loose(nkeys, slack))?;
    }

    #[test]
    fn throttle_by_is_a_plain_throttle_per_key(
        (fallible, nkeys, w) in any_workload(usize::MAX),
        period in duration(),
        edge in edge(),
        slack in prop::option::of(0usize..3),
    ) {
        check_throttle_split(&w, fallible, nkeys, period, edge, loose(nkeys, slack))?;
    }

    #[test]
    fn debounce_by_is_a_plain_debounce_per_key(
        (fallible, nkeys, w) in any_workload(usize::MAX),
        (quiet, max_wait) in duration().prop_flat_map(|q| (Just(q), max_wait(q))),
        edge in edge(),
        slack in prop::option::of(0usize..3),
    ) {
        let max_keys = loose(nkeys, slack);
        check_debounce_split(&w, fallible, nkeys, quiet, edge, max_wait, max_keys)?;
    }
}

fn check_batch_split(
    w: &Workload,
    fallible: bool,
    nkeys: u32,
    max_size: usize,
    latency: Duration,
    max_keys: Option<usize>,
) -> Result<(), TestCaseError> {
    let key = move |x: &u32| x % nkeys;
    let actual: Vec<Out<(u32, Vec<u32>)>> = if fallible {
        w.run_fallible(|s, clock| {
            let s = s.try_batch_by(key, max_size, latency);
            match max_keys {
                Some(m) => s.max_keys(m),
                None => s,
            }
            .with_clock(clock)
        })
    } else {
        w.run_plain(|s, clock| {
            let s = s.batch_by(key, max_size, latency);
            match max_keys {
                Some(m) => s.max_keys(m),
                None => s,
            }
            .with_clock(clock)
        })
    };
    for out in &actual {
        if let Out::Item(_, (k, batch)) = out {
            prop_assert!(!batch.is_empty() && batch.len() <= max_size, "{:?}", batch);
            prop_assert!(batch.iter().all(|x| x % nkeys == *k), "{:?}", out);
        }
    }
    let expected: Vec<Vec<Out<Vec<u32>>>> = (0..nkeys)
        .map(|k| {
            let view = key_view(&w.schedule, nkeys, k);
            unmarked(models::batch_busy(&view, &w.busy, max_size, latency))
        })
        .collect();
    check_split(&actual, &expected)
}

fn check_throttle_split(
    w: &Workload,
    fallible: bool,
    nkeys: u32,
    period: Duration,
    edge: Edge,
    max_keys: Option<usize>,
) -> Result<(), TestCaseError> {
    let key = move |x: &u32| x % nkeys;
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let actual: Vec<Out<u32>> = if fallible {
        w.run_fallible(|s, clock| {
            let s = s
                .try_throttle_by(key, period)
                .on_drop(move |x| hook.borrow_mut().push(x))
                .edge(edge);
            match max_keys {
                Some(m) => s.max_keys(m),
                None => s,
            }
            .with_clock(clock)
        })
    } else {
        w.run_plain(|s, clock| {
            let s = s
                .throttle_by(key, period)
                .on_drop(move |x| hook.borrow_mut().push(x))
                .edge(edge);
            match max_keys {
                Some(m) => s.max_keys(m),
                None => s,
            }
            .with_clock(clock)
        })
    };
    check_drops(&w.schedule, nkeys, &actual, &dropped.borrow())?;
    let expected: Vec<Vec<Out<u32>>> = (0..nkeys)
        .map(|k| {
            let view = key_view(&w.schedule, nkeys, k);
            unmarked(models::throttle_busy(&view, &w.busy, period, edge))
        })
        .collect();
    check_split(&with_keys(actual, nkeys), &expected)
}

#[allow(clippy::too_many_arguments)]
fn check_debounce_split(
    w: &Workload,
    fallible: bool,
    nkeys: u32,
    quiet: Duration,
    edge: Edge,
    max_wait: Option<Duration>,
    max_keys: Option<usize>,
) -> Result<(), TestCaseError> {
    let key = move |x: &u32| x % nkeys;
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let actual: Vec<Out<u32>> = if fallible {
        w.run_fallible(|s, clock| {
            let mut s = s
                .try_debounce_by(key, quiet)
                .on_drop(move |x| hook.borrow_mut().push(x))
                .edge(edge);
            if let Some(max_wait) = max_wait {
                s = s.max_wait(max_wait);
            }
            if let Some(m) = max_keys {
                s = s.max_keys(m);
            }
            s.with_clock(clock)
        })
    } else {
        w.run_plain(|s, clock| {
            let mut s = s
                .debounce_by(key, quiet)
                .on_drop(move |x| hook.borrow_mut().push(x))
                .edge(edge);
            if let Some(max_wait) = max_wait {
                s = s.max_wait(max_wait);
            }
            if let Some(m) = max_keys {
                s = s.max_keys(m);
            }
            s.with_clock(clock)
        })
    };
    check_drops(&w.schedule, nkeys, &actual, &dropped.borrow())?;
    let expected: Vec<Vec<Out<u32>>> = (0..nkeys)
        .map(|k| {
            let view = key_view(&w.schedule, nkeys, k);
            unmarked(models::debounce_busy(&view, &w.busy, quiet, edge, max_wait))
        })
        .collect();
    check_split(&with_keys(actual, nkeys), &expected)
}

// ---------------------------------------------------------------------------------------------
// The keyed model: the whole output in order, the keys bound, the budget, the active keys

proptest! {
    #[test]
    fn batch_by_matches_the_keyed_model(
        (fallible, nkeys, w) in any_workload(usize::MAX),
        max_size in max_size(),
        latency in duration(),
        max_keys in max_keys(),
    ) {
        check_batch_model(&w, fallible, nkeys, max_size, latency, max_keys)?;
    }

    #[test]
    fn throttle_by_matches_the_keyed_model(
        (fallible, nkeys, w) in any_workload(usize::MAX),
        period in duration(),
        edge in edge(),
        max_keys in max_keys(),
    ) {
        check_throttle_model(&w, fallible, nkeys, period, edge, max_keys)?;
    }

    #[test]
    fn debounce_by_matches_the_keyed_model(
        (fallible, nkeys, w) in any_workload(usize::MAX),
        (quiet, max_wait) in duration().prop_flat_map(|q| (Just(q), max_wait(q))),
        edge in edge(),
        max_keys in max_keys(),
    ) {
        check_debounce_model(&w, fallible, nkeys, quiet, edge, max_wait, max_keys)?;
    }
}

/// A batch as the keyed model gives it: its items, why it left and when it opened (in ms).
type Batch = (Vec<u32>, streamz::FlushReason, u64);

fn since(start: Instant, at: Instant) -> u64 {
    (at - start).as_millis() as u64
}

/// Checks the adapter's run against the keyed model with `template` for each key.
fn check_model<M: KeyModel>(
    w: &Workload,
    nkeys: u32,
    template: M,
    max_keys: Option<usize>,
    actual: &[Out<(u32, M::Out)>],
    dropped: &[u32],
    seen: &[(u64, usize)],
) -> Result<(), TestCaseError>
where
    M::Out: Debug + PartialEq,
{
    let bound = max_keys.unwrap_or(usize::MAX);
    let model = keyed_models::keyed(&w.schedule, &w.busy, template, nkeys, bound);
    same(actual, &model.out, "outputs")?;
    same(dropped, &model.dropped, "dropped")?;
    check_keys(seen, &model, max_keys)
}

fn check_batch_model(
    w: &Workload,
    fallible: bool,
    nkeys: u32,
    max_size: usize,
    latency: Duration,
    max_keys: Option<usize>,
) -> Result<(), TestCaseError> {
    let key = move |x: &u32| x % nkeys;
    let seen: Seen = Rc::default();
    let actual: Vec<Out<(u32, Batch)>> = if fallible {
        w.run_fallible(|s, clock| {
            let start = clock.now();
            let s = s.try_batch_by(key, max_size, latency).with_reasons();
            let s = match max_keys {
                Some(m) => s.max_keys(m),
                None => s,
            };
            let s = s.with_clock(clock.clone());
            observe(s, &clock, &seen, |s| (s.keys(), s.get_ref().size_hint().0)).map(move |out| {
                out.map(|(k, f)| (k, (f.items, f.reason, since(start, f.opened_at))))
            })
        })
    } else {
        w.run_plain(|s, clock| {
            let start = clock.now();
            let s = s.batch_by(key, max_size, latency).with_reasons();
            let s = match max_keys {
                Some(m) => s.max_keys(m),
                None => s,
            };
            let s = s.with_clock(clock.clone());
            observe(s, &clock, &seen, |s| (s.keys(), s.get_ref().size_hint().0))
                .map(move |(k, f)| (k, (f.items, f.reason, since(start, f.opened_at))))
        })
    };
    let template = BatchKey::new(max_size, latency);
    let seen = seen.borrow();
    check_model(w, nkeys, template, max_keys, &actual, &[], &seen)
}

fn check_throttle_model(
    w: &Workload,
    fallible: bool,
    nkeys: u32,
    period: Duration,
    edge: Edge,
    max_keys: Option<usize>,
) -> Result<(), TestCaseError> {
    let key = move |x: &u32| x % nkeys;
    let seen: Seen = Rc::default();
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let actual: Vec<Out<u32>> = if fallible {
        w.run_fallible(|s, clock| {
            let s = s
                .try_throttle_by(key, period)
                .on_drop(move |x| hook.borrow_mut().push(x))
                .edge(edge);
            let s = match max_keys {
                Some(m) => s.max_keys(m),
                None => s,
            };
            let s = s.with_clock(clock.clone());
            observe(s, &clock, &seen, |s| (s.keys(), s.get_ref().size_hint().0))
        })
    } else {
        w.run_plain(|s, clock| {
            let s = s
                .throttle_by(key, period)
                .on_drop(move |x| hook.borrow_mut().push(x))
                .edge(edge);
            let s = match max_keys {
                Some(m) => s.max_keys(m),
                None => s,
            };
            let s = s.with_clock(clock.clone());
            observe(s, &clock, &seen, |s| (s.keys(), s.get_ref().size_hint().0))
        })
    };
    let template = ThrottleKey::new(period, edge);
    let actual = with_keys(actual, nkeys);
    let (dropped, seen) = (dropped.borrow(), seen.borrow());
    check_model(w, nkeys, template, max_keys, &actual, &dropped, &seen)
}

#[allow(clippy::too_many_arguments)]
fn check_debounce_model(
    w: &Workload,
    fallible: bool,
    nkeys: u32,
    quiet: Duration,
    edge: Edge,
    max_wait: Option<Duration>,
    max_keys: Option<usize>,
) -> Result<(), TestCaseError> {
    let key = move |x: &u32| x % nkeys;
    let seen: Seen = Rc::default();
    let dropped = Rc::new(RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let actual: Vec<Out<u32>> = if fallible {
        w.run_fallible(|s, clock| {
            let mut s = s
                .try_debounce_by(key, quiet)
                .on_drop(move |x| hook.borrow_mut().push(x))
                .edge(edge);
            if let Some(max_wait) = max_wait {
                s = s.max_wait(max_wait);
            }
            if let Some(m) = max_keys {
                s = s.max_keys(m);
            }
            let s = s.with_clock(clock.clone());
            observe(s, &clock, &seen, |s| (s.keys(), s.get_ref().size_hint().0))
        })
    } else {
        w.run_plain(|s, clock| {
            let mut s = s
                .debounce_by(key, quiet)
                .on_drop(move |x| hook.borrow_mut().push(x))
                .edge(edge);
            if let Some(max_wait) = max_wait {
                s = s.max_wait(max_wait);
            }
            if let Some(m) = max_keys {
                s = s.max_keys(m);
            }
            let s = s.with_clock(clock.clone());
            observe(s, &clock, &seen, |s| (s.keys(), s.get_ref().size_hint().0))
        })
    };
    let template = DebounceKey::new(quiet, edge, max_wait);
    let actual = with_keys(actual, nkeys);
    let (dropped, seen) = (dropped.borrow(), seen.borrow());
    check_model(w, nkeys, template, max_keys, &actual, &dropped, &seen)
}

// ---------------------------------------------------------------------------------------------
// Keys due by one check: deadline order, then first arrival

/// The key of an item in [`keys_due_by_one_busy_check_come_in_deadline_order`].
fn key10(x: &u32) -> u32 {
    x % 10
}

proptest! {
    /// Items of keys 0 to 5 in the first 40 ms, then a source busy until 1000 ms producing one
    /// more item (of key 9): every key's deadline (100 ms after an item of the first 40 ms)
    /// passes inside that one poll, and the adapter sees them all by the check as that item
    /// arrives. They come out at 1000 ms, in deadline order (a batch's and a throttle window's
    /// count from the key's first item, a quiet period from its last), ties broken by the
    /// arrival of each key's first item.
    #[test]
    fn keys_due_by_one_busy_check_come_in_deadline_order(
        arrivals in prop::collection::vec((0u64..40, 0u32..6), 1..24),
        adapter in 0..3usize,
        fallible in any::<bool>(),
    ) {
        check_keys_due(arrivals, adapter, fallible, false)?;
    }
}

/// See [`keys_due_by_one_busy_check_come_in_deadline_order`]; with `error`, the busy source
/// produces an error rather than the item, which comes out at 1000 ms after those outputs.
fn check_keys_due(
    mut arrivals: Vec<(u64, u32)>,
    adapter: usize,
    fallible: bool,
    error: bool,
) -> Result<(), TestCaseError> {
    arrivals.sort_by_key(|&(t, _)| t);
    let mut schedule: Vec<(u64, Ev)> = arrivals
        .iter()
        .enumerate()
        .map(|(n, &(t, key))| (t, Ev::Item(10 * (n as u32 + 1) + key)))
        .collect();
    schedule.push((1000, if error { Ev::Err(7) } else { Ev::Item(9) }));
    let w = Workload {
        schedule,
        busy: vec![1000],
    };

    // Each key, in order of first arrival, with its items: (time, item).
    let mut keys: Vec<(u32, Vec<(u64, u32)>)> = Vec::new();
    for (n, &(t, key)) in arrivals.iter().enumerate() {
        let x = 10 * (n as u32 + 1) + key;
        match keys.iter_mut().find(|(k, _)| *k == key) {
            Some((_, items)) => items.push((t, x)),
            None => keys.push((key, vec![(t, x)])),
        }
    }
    // (deadline, order of first arrival, output)
    type Due = (u64, usize, Out<(u32, Vec<u32>)>);
    let mut due: Vec<Due> = keys
        .iter()
        .enumerate()
        .map(|(opened, (key, items))| {
            let first = items[0].0;
            let (latest_t, latest) = items[items.len() - 1];
            let (deadline, out) = match adapter {
                0 => (first + 100, items.iter().map(|&(_, x)| x).collect()),
                1 => (first + 100, vec![latest]),
                _ => (latest_t + 100, vec![latest]),
            };
            (deadline, opened, Out::Item(1000, (*key, out)))
        })
        .collect();
    due.sort_by_key(|&(deadline, opened, _)| (deadline, opened));
    let mut expected: Vec<Out<(u32, Vec<u32>)>> = due.into_iter().map(|(.., out)| out).collect();
    if error {
        expected.push(Out::Err(1000, 7));
    }

    let single = |out: Vec<Out<u32>>| -> Vec<Out<(u32, Vec<u32>)>> {
        with_keys(out, 10)
            .into_iter()
            .map(|out| match out {
                Out::Item(t, (k, x)) => Out::Item(t, (k, vec![x])),
                Out::Err(t, e) => Out::Err(t, e),
                Out::End(t) => Out::End(t),
            })
            .collect()
    };
    let actual: Vec<Out<(u32, Vec<u32>)>> = match (adapter, fallible || error) {
        (0, false) => w.run_plain(|s, clock| s.batch_by(key10, 100, ms(100)).with_clock(clock)),
        (0, true) => {
            w.run_fallible(|s, clock| s.try_batch_by(key10, 100, ms(100)).with_clock(clock))
        }
        (1, false) => single(w.run_plain(|s, clock| {
            s.throttle_by(key10, ms(100))
                .edge(Edge::Trailing)
                .with_clock(clock)
        })),
        (1, true) => single(w.run_fallible(|s, clock| {
            s.try_throttle_by(key10, ms(100))
                .edge(Edge::Trailing)
                .with_clock(clock)
        })),
        (_, false) => {
            single(w.run_plain(|s, clock| s.debounce_by(key10, ms(100)).with_clock(clock)))
        }
        (_, true) => {
            single(w.run_fallible(|s, clock| s.try_debounce_by(key10, ms(100)).with_clock(clock)))
        }
    };
    let at_1000: Vec<_> = actual.into_iter().filter(|out| time(out) == 1000).collect();
    same(&at_1000, &expected, "outputs at 1000 ms")
}

// ---------------------------------------------------------------------------------------------
// An error that arrives by the check that finds several keys' deadlines passed comes after
// all of their outputs: per key, the split model has each of them before the error (it was
// due before the error arrived). The engine once yielded the error right after the first.

/// Keys 1 and 2 open at 0 ms; the source is busy until 300 ms producing an error, so both
/// deadlines (100 ms) pass inside that poll and are seen as the error arrives. Both keys'
/// outputs are due before the error, so both come first.
#[test]
fn an_error_after_keys_due_by_one_check_comes_after_their_outputs() {
    let w = Workload {
        schedule: vec![(0, Ev::Item(1)), (0, Ev::Item(2)), (300, Ev::Err(7))],
        busy: vec![300],
    };
    let batches: Vec<Out<(u32, Vec<u32>)>> =
        w.run_fallible(|s, clock| s.try_batch_by(key10, 10, ms(100)).with_clock(clock));
    assert_eq!(
        batches,
        [
            Out::Item(300, (1, vec![1])),
            Out::Item(300, (2, vec![2])),
            Out::Err(300, 7)
        ],
        "try_batch_by"
    );
    let expected = [Out::Item(300, 1), Out::Item(300, 2), Out::Err(300, 7)];
    let throttled: Vec<Out<u32>> = w.run_fallible(|s, clock| {
        s.try_throttle_by(key10, ms(100))
            .edge(Edge::Trailing)
            .with_clock(clock)
    });
    assert_eq!(throttled, expected, "try_throttle_by");
    let debounced: Vec<Out<u32>> =
        w.run_fallible(|s, clock| s.try_debounce_by(key10, ms(100)).with_clock(clock));
    assert_eq!(debounced, expected, "try_debounce_by");
}

proptest! {
    /// The keyed-model properties of the `try_` forms with errors anywhere, the first event of
    /// a busy instant included; and the order rule with an error as the busy source's event.
    #[test]
        fn try_forms_with_errors_anywhere_match_the_keyed_model(
        (nkeys, w) in keyed_workload(true, usize::MAX),
        adapter in 0..3usize,
        (max_size, latency_or_period) in (max_size(), duration()),
        (quiet, max_wait) in duration().prop_flat_map(|q| (Just(q), max_wait(q))),
        edge in edge(),
        max_keys in max_keys(),
        arrivals in prop::collection::vec((0u64..40, 0u32..6), 1..24),
    ) {
        match adapter {
            0 => check_batch_model(&w, true, nkeys, max_size, latency_or_period, max_keys)?,
            1 => check_throttle_model(&w, true, nkeys, latency_or_period, edge, max_keys)?,
            _ => check_debounce_model(&w, true, nkeys, quiet, edge, max_wait, max_keys)?,
        }
        check_keys_due(arrivals, adapter, true, true)?;
    }
}
