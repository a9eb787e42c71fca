//! Property tests: random schedules and parameters, each adapter against its reference model
//! (`support/models.rs`), on virtual time. In about half the instants of a schedule, time moves
//! inside the source: the source is busy producing the instant's first event from the end of
//! the previous instant on, and the adapter sees no pause in between (see
//! `support::schedule::Workload`).
//!
//! `PROPTEST_CASES` sets the number of cases per property (2,000 by default).

mod support;

use std::time::Duration;

use proptest::prelude::*;
use streamz::{Edge, StreamzExt, TryStreamzExt};
use support::models::{self, Ev, Out};
use support::ms;
use support::schedule::Workload;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// A schedule: instants in order, each with one or more events; items are numbered in order;
/// errors (if `errors`) are numbered too; it may end with `End`.
fn schedule(errors: bool) -> impl Strategy<Value = Vec<(u64, Ev)>> {
    let gap = prop_oneof![3 => Just(0u64), 3 => 1u64..5, 3 => 5u64..60, 1 => 60u64..400];
    // Events per instant: mostly a few, sometimes a burst past the poll budget. Each event is
    // an error with probability 1/7 when `errors` is set.
    let frame = prop_oneof![
        8 => 1usize..4,
        1 => 4usize..20,
        1 => 400usize..1200,
    ]
    .prop_flat_map(move |n| {
        prop::collection::vec(any::<u8>().prop_map(move |b| errors && b % 7 == 0), n)
    });
    (
        prop::collection::vec((gap, frame), 0..30),
        any::<bool>(),
        0u64..200,
    )
        .prop_map(|(frames, end, end_gap)| {
            let mut t = 0;
            let mut n = 0;
            let mut out = Vec::new();
            for (gap, events) in frames {
                t += gap;
                for is_error in events {
                    n += 1;
                    out.push((t, if is_error { Ev::Err(n) } else { Ev::Item(n) }));
                }
            }
            if end {
                out.push((t + end_gap, Ev::End));
            }
            out
        })
}

/// A schedule, and the instants at which the source is busy.
fn workload(errors: bool) -> impl Strategy<Value = Workload> {
    (schedule(errors), prop::collection::vec(any::<bool>(), 64)).prop_map(|(schedule, flags)| {
        let mut instants: Vec<u64> = schedule.iter().map(|&(t, _)| t).collect();
        instants.dedup();
        let busy = instants
            .iter()
            .enumerate()
            .skip(1)
            .filter(|&(i, _)| flags[i % flags.len()])
            .map(|(_, &t)| t)
            .collect();
        Workload { schedule, busy }
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

/// The drop hook saw each dropped item once, in order; once the stream has ended, every item
/// was either yielded or handed to the hook.
fn check_drops(
    schedule: &[(u64, Ev)],
    actual: &[Out<u32>],
    dropped: &[u32],
) -> Result<(), TestCaseError> {
    prop_assert!(dropped.windows(2).all(|w| w[0] < w[1]), "{:?}", dropped);
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

fn items_of(schedule: &[(u64, Ev)]) -> Vec<u32> {
    schedule
        .iter()
        .filter_map(|(_, ev)| match ev {
            Ev::Item(x) => Some(*x),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn batch_matches_the_model(
        w in workload(false),
        max_size in max_size(),
        latency in duration(),
    ) {
        check_batch(&w, max_size, latency)?;
    }

    #[test]
    fn weighted_batch_matches_the_model(
        w in workload(false),
        max_size in max_size(),
        latency in duration(),
        max_weight in prop_oneof![Just(0usize), 1usize..30, Just(usize::MAX)],
    ) {
        check_weighted_batch(&w, max_size, latency, max_weight)?;
    }

    #[test]
    fn try_batch_matches_the_model(
        w in workload(true),
        max_size in max_size(),
        latency in duration(),
    ) {
        check_try_batch(&w, max_size, latency)?;
    }

    #[test]
    fn throttle_matches_the_model(w in workload(false), period in duration(), edge in edge()) {
        check_throttle(&w, period, edge)?;
    }

    #[test]
    fn try_throttle_matches_the_model(w in workload(true), period in duration(), edge in edge()) {
        check_try_throttle(&w, period, edge)?;
    }

    #[test]
    fn debounce_matches_the_model(
        w in workload(false),
        quiet in duration(),
        edge in edge(),
        extra in prop::option::of(duration()),
    ) {
        check_debounce(&w, quiet, edge, extra.map(|extra| quiet.saturating_add(extra)))?;
    }

    #[test]
    fn try_debounce_matches_the_model(
        w in workload(true),
        quiet in duration(),
        edge in edge(),
        extra in prop::option::of(duration()),
    ) {
        check_try_debounce(&w, quiet, edge, extra.map(|extra| quiet.saturating_add(extra)))?;
    }
}

fn check_batch(w: &Workload, max_size: usize, latency: Duration) -> Result<(), TestCaseError> {
    let actual = w.run_plain(|s, clock| s.batch(max_size, latency).with_clock(clock));
    let expected = models::batch_busy(&w.schedule, &w.busy, max_size, latency);
    prop_assert_eq!(&actual, &expected);

    // Concatenated batches are the input, in order; no batch is empty or too big.
    let mut all = Vec::new();
    for out in &actual {
        if let Out::Item(_, batch) = out {
            prop_assert!(!batch.is_empty() && batch.len() <= max_size);
            all.extend_from_slice(batch);
        }
    }
    let ended = matches!(actual.last(), Some(Out::End(_)));
    let finite = latency == Duration::ZERO || models::millis(latency).is_some();
    if ended || finite {
        prop_assert_eq!(all, items_of(&w.schedule));
    }
    Ok(())
}

fn check_weighted_batch(
    w: &Workload,
    max_size: usize,
    latency: Duration,
    max_weight: usize,
) -> Result<(), TestCaseError> {
    let weigh: fn(u32) -> usize = |x| (x as usize * 7) % 13;
    let actual = w.run_plain(|s, clock| {
        s.batch(max_size, latency)
            .max_weight(max_weight, move |x: &u32| weigh(*x))
            .with_clock(clock)
    });
    let weights = Some((max_weight, weigh));
    let expected = models::weighted_batch_busy(&w.schedule, &w.busy, max_size, latency, weights);
    prop_assert_eq!(&actual, &expected);
    // Every batch is within its limits, or a single item.
    for out in &actual {
        if let Out::Item(_, batch) = out {
            let total: usize = batch
                .iter()
                .map(|x| weigh(*x))
                .fold(0, usize::saturating_add);
            prop_assert!(batch.len() == 1 || (batch.len() <= max_size && total <= max_weight));
        }
    }
    Ok(())
}

fn check_try_batch(w: &Workload, max_size: usize, latency: Duration) -> Result<(), TestCaseError> {
    let actual = w.run_fallible(|s, clock| s.try_batch(max_size, latency).with_clock(clock));
    let expected = models::batch_busy(&w.schedule, &w.busy, max_size, latency);
    prop_assert_eq!(actual, expected);
    Ok(())
}

fn check_throttle(w: &Workload, period: Duration, edge: Edge) -> Result<(), TestCaseError> {
    let dropped = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let actual = w.run_plain(|s, clock| {
        s.throttle(period)
            .edge(edge)
            .on_drop(move |x| hook.borrow_mut().push(x))
            .with_clock(clock)
    });
    prop_assert_eq!(
        &actual,
        &models::throttle_busy(&w.schedule, &w.busy, period, edge)
    );
    check_drops(&w.schedule, &actual, &dropped.borrow())?;

    // Outputs are never closer than `period`.
    let times: Vec<u64> = actual
        .iter()
        .filter_map(|out| match out {
            Out::Item(t, _) => Some(*t),
            _ => None,
        })
        .collect();
    if let Some(period) = models::millis(period) {
        for pair in times.windows(2) {
            prop_assert!(pair[1] - pair[0] >= period, "{:?}", times);
        }
    } else {
        prop_assert!(times.len() <= 1);
    }
    Ok(())
}

fn check_try_throttle(w: &Workload, period: Duration, edge: Edge) -> Result<(), TestCaseError> {
    let actual = w.run_fallible(|s, clock| s.try_throttle(period).edge(edge).with_clock(clock));
    prop_assert_eq!(
        actual,
        models::throttle_busy(&w.schedule, &w.busy, period, edge)
    );
    Ok(())
}

fn check_debounce(
    w: &Workload,
    quiet: Duration,
    edge: Edge,
    max_wait: Option<Duration>,
) -> Result<(), TestCaseError> {
    let dropped = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let hook = dropped.clone();
    let actual = w.run_plain(|s, clock| {
        let mut s = s.debounce(quiet).edge(edge);
        if let Some(max_wait) = max_wait {
            s = s.max_wait(max_wait);
        }
        s.on_drop(move |x| hook.borrow_mut().push(x))
            .with_clock(clock)
    });
    let expected = models::debounce_busy(&w.schedule, &w.busy, quiet, edge, max_wait);
    prop_assert_eq!(&actual, &expected);
    check_drops(&w.schedule, &actual, &dropped.borrow())?;
    Ok(())
}

fn check_try_debounce(
    w: &Workload,
    quiet: Duration,
    edge: Edge,
    max_wait: Option<Duration>,
) -> Result<(), TestCaseError> {
    let actual = w.run_fallible(|s, clock| {
        let mut s = s.try_debounce(quiet).edge(edge);
        if let Some(max_wait) = max_wait {
            s = s.max_wait(max_wait);
        }
        s.with_clock(clock)
    });
    let expected = models::debounce_busy(&w.schedule, &w.busy, quiet, edge, max_wait);
    prop_assert_eq!(actual, expected);
    Ok(())
}

/// A fixed-seed schedule of `n` events (items, and errors if `errors`), in bursts and gaps,
/// ending with `End`.
fn random_schedule(n: usize, errors: bool, mut seed: u64) -> Vec<(u64, Ev)> {
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let mut out = Vec::with_capacity(n + 1);
    let mut t = 0;
    let mut i = 0;
    while out.len() < n {
        t += match next(10) {
            0..=3 => 0,
            4..=6 => next(5),
            7..=8 => next(60),
            _ => next(400),
        };
        i += 1;
        out.push((
            t,
            if errors && next(7) == 0 {
                Ev::Err(i)
            } else {
                Ev::Item(i)
            },
        ));
    }
    out.push((t + next(200), Ev::End));
    out
}

/// Every third instant of `schedule` (at random, by `seed`), but the first: the instants at
/// which the source is busy.
fn random_busy(schedule: &[(u64, Ev)], mut seed: u64) -> Vec<u64> {
    let mut instants: Vec<u64> = schedule.iter().map(|&(t, _)| t).collect();
    instants.dedup();
    instants
        .into_iter()
        .skip(1)
        .filter(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % 3 == 0
        })
        .collect()
}

/// Every adapter through 1,000,000 random events against its model. Run it with
/// `cargo test --release --test properties -- --ignored`.
#[test]
#[ignore = "long: a million events per adapter; run in release mode"]
fn million_random_events_match_the_models() {
    const N: usize = 1_000_000;
    let schedule = random_schedule(N, false, 0x9e37_79b9_7f4a_7c15);
    let busy = random_busy(&schedule, 0x1234_5678_9abc_def1);
    let plain = Workload { schedule, busy };
    let schedule = random_schedule(N, true, 0x2545_f491_4f6c_dd1d);
    let busy = random_busy(&schedule, 0x0fed_cba9_8765_4321);
    let fallible = Workload { schedule, busy };
    let started = std::time::Instant::now();

    assert_eq!(
        plain.run_plain(|s, clock| s.batch(50, ms(40)).with_clock(clock)),
        models::batch_busy(&plain.schedule, &plain.busy, 50, ms(40)),
        "batch"
    );
    assert_eq!(
        fallible.run_fallible(|s, clock| s.try_batch(50, ms(40)).with_clock(clock)),
        models::batch_busy(&fallible.schedule, &fallible.busy, 50, ms(40)),
        "try_batch"
    );

    for edge in [Edge::Leading, Edge::Trailing, Edge::Both] {
        assert_eq!(
            plain.run_plain(|s, clock| s.throttle(ms(30)).edge(edge).with_clock(clock)),
            models::throttle_busy(&plain.schedule, &plain.busy, ms(30), edge),
            "throttle {edge:?}"
        );
        assert_eq!(
            fallible.run_fallible(|s, clock| s.try_throttle(ms(30)).edge(edge).with_clock(clock)),
            models::throttle_busy(&fallible.schedule, &fallible.busy, ms(30), edge),
            "try_throttle {edge:?}"
        );

        for max_wait in [None, Some(ms(100))] {
            let actual = plain.run_plain(|s, clock| {
                let mut s = s.debounce(ms(20)).edge(edge);
                if let Some(max_wait) = max_wait {
                    s = s.max_wait(max_wait);
                }
                s.with_clock(clock)
            });
            let expected =
                models::debounce_busy(&plain.schedule, &plain.busy, ms(20), edge, max_wait);
            assert_eq!(actual, expected, "debounce {edge:?} {max_wait:?}");

            let actual = fallible.run_fallible(|s, clock| {
                let mut s = s.try_debounce(ms(20)).edge(edge);
                if let Some(max_wait) = max_wait {
                    s = s.max_wait(max_wait);
                }
                s.with_clock(clock)
            });
            let expected =
                models::debounce_busy(&fallible.schedule, &fallible.busy, ms(20), edge, max_wait);
            assert_eq!(actual, expected, "try_debounce {edge:?} {max_wait:?}");
        }
    }
    println!(
        "20 adapter configurations x {N} events matched their models in {:?}",
        started.elapsed()
    );
}
