//! streamz against the limit of each scenario, measured in alternation.
//!
//! Criterion (`benches/peers.rs`) measures one contender after another, so a change in the
//! machine's load between two contenders moves their ratio. Here every round times each
//! contender once, one after the other, over many rounds; the minimum and the median per item
//! are reported, and their ratios. Being another binary, it also shows how much the code's
//! placement in memory moves a contender (the same `ready_chunks` can measure 1.0 or 1.7 ns
//! per item in two builds).
//!
//! Run: `cargo bench --bench interleaved` (about a minute); `-- ROUNDS` sets the rounds
//! (default 300), and any other argument keeps only the scenarios whose names contain it.

use std::future::ready;
use std::hint::black_box;
use std::time::{Duration, Instant};

use futures::stream::{self, Stream, StreamExt};
use streamz::StreamzExt;
use support::{drive, never, Bursty};

mod support;

/// Items per iteration, as in `peers`.
const N: u64 = 100_000;
const SECOND: Duration = Duration::from_secs(1);

fn count_batched<S: Stream<Item = Vec<u64>>>(s: S) -> u64 {
    let mut n = 0;
    drive(s, never, |batch| n += black_box(batch).len() as u64);
    n
}

fn keep_last<S: Stream<Item = u64>>(s: S, drained: impl Fn() -> bool) -> u64 {
    let mut last = 0;
    drive(s, drained, |item| last = black_box(item));
    last
}

fn sum_passed<S: Stream<Item = u64>>(s: S) -> u64 {
    let mut passed = 0;
    drive(s, never, |item| passed += 1 + black_box(item));
    passed
}

fn first_only() -> impl FnMut(&u64) -> std::future::Ready<bool> {
    let mut first = true;
    move |_| ready(std::mem::replace(&mut first, false))
}

fn bursty(burst: u64) -> (Bursty, impl Fn() -> bool) {
    let source = Bursty::new(N, burst);
    let drained = source.drained.clone();
    (source, move || drained.get())
}

fn opaque() -> impl Stream<Item = u64> + Unpin {
    stream::iter((0..N).map(black_box::<u64>))
}

type Contender = Box<dyn FnMut() -> u64>;

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(300);
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg.parse::<usize>().is_err() && !arg.starts_with('-'))
        .collect();
    let scenarios: Vec<(&str, Contender, Contender)> = vec![
        (
            "batch_hot",
            Box::new(|| count_batched(stream::iter(0..N).batch(100, SECOND))),
            Box::new(|| count_batched(stream::iter(0..N).ready_chunks(100))),
        ),
        (
            "batch_bursty",
            Box::new(|| count_batched(Bursty::new(N, 10).batch(100, SECOND))),
            Box::new(|| count_batched(Bursty::new(N, 10).ready_chunks(100))),
        ),
        (
            "debounce_bursty",
            Box::new(|| {
                let (s, drained) = bursty(1000);
                keep_last(s.debounce(SECOND), drained)
            }),
            Box::new(|| {
                let (s, drained) = bursty(1000);
                keep_last(s, drained)
            }),
        ),
        (
            "throttle_hot",
            Box::new(|| sum_passed(stream::iter(0..N).throttle(SECOND))),
            Box::new(|| sum_passed(stream::iter(0..N).filter(first_only()))),
        ),
        (
            "batch_hot_opaque",
            Box::new(|| count_batched(opaque().batch(100, SECOND))),
            Box::new(|| count_batched(opaque().ready_chunks(100))),
        ),
        (
            "debounce_bursty_opaque",
            Box::new(|| {
                let (s, drained) = bursty(1000);
                keep_last(s.map(black_box::<u64>).debounce(SECOND), drained)
            }),
            Box::new(|| {
                let (s, drained) = bursty(1000);
                keep_last(s.map(black_box::<u64>), drained)
            }),
        ),
        (
            "throttle_hot_opaque",
            Box::new(|| sum_passed(opaque().throttle(SECOND))),
            Box::new(|| sum_passed(opaque().filter(first_only()))),
        ),
    ];
    println!("{rounds} alternating rounds of {N} items; ns per item, streamz / limit");
    println!(
        "{:<24} {:>12} {:>12} {:>10} {:>12} {:>12} {:>10}",
        "scenario", "streamz min", "limit min", "ratio", "streamz med", "limit med", "ratio"
    );
    for (name, mut streamz, mut limit) in scenarios {
        if !only.is_empty() && !only.iter().any(|part| name.contains(part.as_str())) {
            continue;
        }
        // Not measured: both give the same result.
        assert_eq!(streamz(), limit(), "{name}");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            ours.push(per_item(&mut streamz));
            theirs.push(per_item(&mut limit));
        }
        let (ours_min, ours_med) = min_median(&mut ours);
        let (theirs_min, theirs_med) = min_median(&mut theirs);
        println!(
            "{name:<24} {ours_min:>12.3} {theirs_min:>12.3} {:>9.2}x {:>12.3} {:>12.3} {:>9.2}x",
            ours_min / theirs_min,
            ours_med,
            theirs_med,
            ours_med / theirs_med
        );
    }
}

fn per_item(f: &mut Contender) -> f64 {
    let start = Instant::now();
    black_box(f());
    start.elapsed().as_nanos() as f64 / N as f64
}

fn min_median(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (samples[0], samples[samples.len() / 2])
}
