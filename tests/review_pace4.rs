//! Review: debounce (plain, keyed, `try_`) with `Edge::Leading` / `Edge::Both` and `max_wait`
//! on dense sources with late timers, against an exact model; `with_clock` mid-stream; clocks
//! that repeat or go backwards. Each item's value is its index; the source records arrivals
//! (ns from the start).
//!
//! Two tests are ignored: they show a known fault, older than the readings that close in on
//! a deadline (they fail on `7e97f1d` too). On a clock with a reader whose timer fires later
//! than its resolution, a debounce takes an item after a gap to have arrived at the time the
//! alarm gives it (provisional: before the timer's latest instant if it kept time), decides
//! on that date that the quiet period has not ended, and drops its pending item; the reading
//! that later confirms the date moves it, but not the drop.

mod support;

use std::time::{Duration, Instant};

use futures::stream::{Stream, StreamExt};
use streamz::{Clock, Edge, ManualClock, StreamzExt};

use support::late::*;

/// Polls as an executor on virtual time; each output with the time (ns from `start`) it came.
fn drive_at<S: Stream + Unpin>(
    s: &mut S,
    clock: &ManualClock,
    start: Instant,
    until: Duration,
) -> Vec<(u64, S::Item)> {
    drive_timed(s, clock, start, until, 2_000_000)
}

// ---------------------------------------------------------------------------------------
// The exact model of a debounce (quiet > 0), on a source that then stays pending for good:
// (time it leaves, index).

#[derive(Default)]
struct Model {
    quiet_since: Option<u64>,
    run_end: Option<u64>,
    run_over: bool,
    pending: Option<usize>,
}

fn debounce_model(
    arr: &[u64],
    oks: &[bool],
    edge: Edge,
    quiet: u64,
    max_wait: Option<u64>,
) -> Vec<(u64, usize)> {
    let mut m = Model::default();
    let mut out = Vec::new();
    let deadlines = |m: &mut Model, now: u64, out: &mut Vec<(u64, usize)>| loop {
        let q = m.quiet_since.map(|s| s + quiet);
        let first = match (q, m.run_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(at) = first.filter(|&at| at <= now) else {
            return;
        };
        if q == Some(at) {
            m.quiet_since = None;
            m.run_end = None;
            m.run_over = false;
            if let Some(p) = m.pending.take() {
                out.push((at, p));
            }
        } else {
            m.run_end = None;
            if let Some(p) = m.pending.take() {
                out.push((at, p));
            } else {
                m.run_over = edge == Edge::Leading;
            }
        }
    };
    for (i, &at) in arr.iter().enumerate() {
        deadlines(&mut m, at, &mut out);
        if !oks[i] {
            out.push((at, i));
            continue;
        }
        let idle = m.quiet_since.is_none();
        let leads = edge != Edge::Trailing && (idle || m.run_over);
        let starts = leads || (edge != Edge::Leading && m.run_end.is_none() && max_wait.is_some());
        m.quiet_since = Some(at);
        if starts {
            m.run_end = max_wait.map(|d| at + d);
            m.run_over = false;
        }
        if leads {
            out.push((at, i));
        } else if edge != Edge::Leading {
            m.pending = Some(i);
        }
    }
    deadlines(&mut m, u64::MAX, &mut out);
    out
}

fn idx<T: Copy>(v: &[(u64, T)]) -> Vec<T> {
    v.iter().map(|&(_, x)| x).collect()
}

/// Checks outputs against the model: the same items, none before its time.
fn check(what: &str, got: &[(u64, usize)], want: &[(u64, usize)]) {
    let (g, w) = (idx(got), idx(want));
    if g != w {
        let first = g
            .iter()
            .zip(&w)
            .position(|(a, b)| a != b)
            .unwrap_or(g.len().min(w.len()));
        panic!(
            "{what}: outputs differ from the model at output {first}: got {:?}, want {:?} \
             (got {} outputs, want {})",
            &got[first.saturating_sub(2)..(first + 3).min(got.len())],
            &want[first.saturating_sub(2)..(first + 3).min(want.len())],
            g.len(),
            w.len()
        );
    }
    for (a, b) in got.iter().zip(want) {
        assert!(a.0 >= b.0, "{what}: EARLY: got {a:?}, due {b:?}");
    }
}

const EDGES: [Edge; 3] = [Edge::Leading, Edge::Both, Edge::Trailing];

/// Runs `debounce(quiet).edge(edge).max_wait(max_wait)` on the clock `mk` makes; outputs with
/// their times, and the arrivals.
fn run_debounce<C: Clock>(
    n: usize,
    gap: impl FnMut(usize) -> u64 + 'static,
    pause: impl FnMut(usize) -> bool + 'static,
    edge: Edge,
    quiet: u64,
    max_wait: Option<u64>,
    mk: impl FnOnce(&ManualClock) -> C,
) -> (Vec<(u64, usize)>, Vec<u64>) {
    let manual = ManualClock::new();
    let start = manual.now();
    let (s, arr) = indexed(&manual, n, gap, pause, |_| false);
    let mut d = s
        .map(Result::unwrap)
        .debounce(Duration::from_nanos(quiet))
        .edge(edge);
    if let Some(mw) = max_wait {
        d = d.max_wait(Duration::from_nanos(mw));
    }
    let mut d = d.with_clock(mk(&manual));
    let out = drive_at(&mut d, &manual, start, Duration::from_secs(100));
    let arr = arr.lock().unwrap().clone();
    (out, arr)
}

type Gap = fn(usize) -> u64;
type Pause = fn(usize) -> bool;

fn gaps() -> Vec<(&'static str, Gap)> {
    vec![
        ("steady 100ns", |_| 100),
        ("steady 1ns", |_| 1),
        ("bursts 64x10ns then 30us", |i| {
            if i % 64 == 63 {
                30_000
            } else {
                10
            }
        }),
        (
            "slows from 50ns to 3us",
            |i| if i < 3000 { 50 } else { 3_000 },
        ),
        (
            "speeds from 3us to 50ns",
            |i| if i < 30 { 3_000 } else { 50 },
        ),
        ("dense with 7us gaps every 1000", |i| {
            if i % 1000 == 999 {
                7_000
            } else {
                20
            }
        }),
    ]
}

fn pauses() -> Vec<(&'static str, Pause)> {
    vec![
        ("no pauses", |_| false),
        ("pause every 7", |i| i % 7 == 3),
        ("pause every 600", |i| i % 600 == 599),
    ]
}

/// On a clock whose alarm cannot date items (no reader), every debounce item gets a reading:
/// the outputs are those of the exact model, whatever the timer does.
fn exact_matrix<C: Clock>(name: &str, mk: impl Fn(&ManualClock) -> C, n: usize) {
    let mut fails = Vec::new();
    for (gname, gap) in gaps() {
        for (pname, pause) in pauses() {
            for edge in EDGES {
                for (quiet, mw) in [
                    (5_000, Some(20_000)),
                    (2_000, Some(2_000)),
                    (50_000, Some(120_000)),
                    (5_000, None),
                ] {
                    let (out, arr) = run_debounce(n, gap, pause, edge, quiet, mw, &mk);
                    let want = debounce_model(&arr, &vec![true; arr.len()], edge, quiet, mw);
                    let what = format!(
                        "{name}, {gname}, {pname}, {edge:?}, quiet {quiet}ns, max_wait {mw:?}"
                    );
                    if let Err(e) = std::panic::catch_unwind(|| check(&what, &out, &want)) {
                        let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                        fails.push(msg);
                    }
                }
            }
        }
    }
    assert!(
        fails.is_empty(),
        "{} failures:\n{}",
        fails.len(),
        fails.join("\n")
    );
}

#[test]
fn debounce_edges_exact_manual() {
    exact_matrix("manual", |c| c.clone(), 6000);
}

/// (Fails on `7e97f1d`: the debounce read the clock for an item inside `on_item`, after the
/// engine had taken the item to arrive before every deadline.)
#[test]
fn debounce_edges_exact_late_no_reader() {
    exact_matrix("late 1s", |c| late(c, 1000), 6000);
}

#[test]
fn debounce_edges_exact_lagging() {
    exact_matrix("lagging", |c| Lagging(c.clone()), 6000);
}

/// (Fails on `7e97f1d`, as above.)
#[test]
fn debounce_edges_exact_res_no_reader_late() {
    exact_matrix(
        "res 1us delay 500us",
        |c| res_clock(c, 1_000, 500_000),
        6000,
    );
}

/// Bursts of 1000 items 20 ns apart, 7 µs between bursts; the source returns `Pending` (waking
/// itself) before every 7th item. A trailing debounce of 5 µs must yield each burst's last
/// item as the 7 µs gap passes (the item after the gap arrives 7 µs after it: more than 2 µs,
/// and more than `quiet`). On a clock with a reader whose timer fires late (`stamped`), the
/// quiet period that ended inside a gap is missed: the burst's last item is dropped and the
/// next output comes a whole burst (1000 items) later, beyond "less than a burst late".
#[test]
#[ignore = "known fault: a provisional date from a late timer with a reader (module docs)"]
fn stamped_late_timer_pauses_debounce_misses_quiet_end_in_gap() {
    let gap: Gap = |i| if i % 1000 == 999 { 7_000 } else { 20 };
    let pause: Pause = |i| i % 7 == 3;
    for edge in [Edge::Trailing, Edge::Both] {
        let (out, arr) = run_debounce(6000, gap, pause, edge, 5_000, None, |c| stamped(c, 1000));
        let want = debounce_model(&arr, &vec![true; arr.len()], edge, 5_000, None);
        check(&format!("stamped 1s, {edge:?}"), &out, &want);
    }
}

/// Bursts of 64 items 10 ns apart, 30 µs between bursts (no pauses); a clock with a reader
/// whose timer has a 1 µs resolution but fires 500 µs late. Exact: each burst's last item
/// leaves 5 µs after it (items 62, 126, ...). Got: the quiet ends inside the 30 µs gaps are
/// not seen for about 8 bursts (512 items): the first output is item 511 (Trailing, with
/// `max_wait` 20 µs) at 245 µs, or item 574 at 275 µs (no `max_wait`); 7 of the first 8 trailing
/// items are dropped, and `max_wait` (20 µs) is overrun by 240 µs.
#[test]
#[ignore = "known fault: a provisional date from a late timer with a reader (module docs)"]
fn reader_clock_late_timer_bursts_debounce_many_bursts_late() {
    let gap: Gap = |i| if i % 64 == 63 { 30_000 } else { 10 };
    for edge in EDGES {
        for mw in [Some(20_000), None] {
            let (out, arr) = run_debounce(
                6000,
                gap,
                |_| false,
                edge,
                5_000,
                mw,
                |c| res_reader_clock(c, 1_000, 500_000),
            );
            let want = debounce_model(&arr, &vec![true; arr.len()], edge, 5_000, mw);
            check(
                &format!("res_reader 1us delay 500us, {edge:?}, max_wait {mw:?}"),
                &out,
                &want,
            );
        }
    }
}
