//! Runs an adapter through a whole schedule of input events, for comparison with its reference
//! model (`models.rs`).

use std::task::{Context, Poll};

use futures::stream::{FusedStream, Stream};
use streamz::ManualClock;

use super::models::{Ev, Out};
use super::{drive, ms, Driver, End, Feed, Item, Source};

/// A schedule of input events (instants in ms, in order; items numbered in order), and the
/// instants at which the source is busy.
///
/// At a busy instant (never the first), the source has been producing the instant's first
/// event since the instant before: its events are queued with those of the instant before, and
/// the poll that returns the first of them moves the clock to its instant. So the adapter sees
/// no pause in between, and time moves inside the source's `poll_next`.
#[derive(Clone, Debug)]
pub struct Workload {
    pub schedule: Vec<(u64, Ev)>,
    /// In order.
    pub busy: Vec<u64>,
}

impl Workload {
    /// Runs `op` on a source of the schedule's items (a schedule without errors), and returns
    /// its outputs with their times; see [`run`] for what is checked along the way.
    pub fn run_plain<S, X>(&self, op: impl FnOnce(Source<u32>, ManualClock) -> S) -> Vec<Out<X>>
    where
        S: Stream<Item = X> + FusedStream,
    {
        let (clock, feed, driver) = drive(op);
        run(self, driver, &clock, &feed, plain, Out::Item)
    }

    /// Runs `op` on a source of `Ok` items and `Err` errors, and returns its outputs with
    /// their times (each `Err` as [`Out::Err`]); see [`run`] for what is checked along the way.
    pub fn run_fallible<S, X>(
        &self,
        op: impl FnOnce(Source<Result<u32, u32>>, ManualClock) -> S,
    ) -> Vec<Out<X>>
    where
        S: Stream<Item = Result<X, u32>> + FusedStream,
    {
        let (clock, feed, driver) = drive(op);
        run(self, driver, &clock, &feed, fallible, from_result)
    }
}

fn plain(ev: Ev) -> u32 {
    match ev {
        Ev::Item(x) => x,
        other => unreachable!("{other:?} in a plain schedule"),
    }
}

fn fallible(ev: Ev) -> Result<u32, u32> {
    match ev {
        Ev::Item(x) => Ok(x),
        Ev::Err(e) => Err(e),
        Ev::End => unreachable!(),
    }
}

fn from_result<T>(t: u64, item: Result<T, u32>) -> Out<T> {
    match item {
        Ok(x) => Out::Item(t, x),
        Err(e) => Out::Err(t, e),
    }
}

/// Drives `d` through `workload` on `clock` (fed by `feed`, each event made an item by
/// `input`), visiting every instant of the schedule and every timer deadline, until the stream
/// ends or nothing is left to happen. Returns the outputs, each made by `output`.
///
/// Also checks, for a stream that ended, that every `size_hint` seen along the way contained
/// the number of items that followed, and that the stream stays ended; and, for every stream,
/// that once dropped it holds no timer.
fn run<S, I, X>(
    workload: &Workload,
    mut d: Driver<S>,
    clock: &ManualClock,
    feed: &Feed<I>,
    input: impl Fn(Ev) -> I,
    output: impl Fn(u64, S::Item) -> Out<X>,
) -> Vec<Out<X>>
where
    S: Stream + FusedStream,
{
    let Workload { schedule, busy } = workload;
    let start = d.start;
    let deadline_ms = |clock: &ManualClock| {
        clock.next_deadline().map(|at| {
            let nanos = at.saturating_duration_since(start).as_nanos();
            ((nanos + 999_999) / 1_000_000) as u64
        })
    };
    let mut kept = Vec::new();
    let mut hints: Vec<(usize, (usize, Option<usize>))> = Vec::new();
    let mut seen = 0;
    let mut note = |d: &mut Driver<S>, hints: &mut Vec<_>| {
        let events = d.take();
        seen += events.iter().filter(|e| matches!(e, Item(..))).count();
        kept.extend(events);
        hints.push((seen, d.get().size_hint()));
    };
    d.run();
    note(&mut d, &mut hints);
    let first = schedule.first().map(|&(t, _)| t);
    let is_busy = |t: u64| Some(t) != first && busy.binary_search(&t).is_ok();
    let mut i = 0;
    while i < schedule.len() && !d.inner.is_ended() {
        let t = schedule[i].0;
        while let Some(at) = deadline_ms(clock).filter(|&at| at < t) {
            d.at(at);
            note(&mut d, &mut hints);
        }
        let now = d.now_ms();
        clock.advance(ms(t - now));
        // This instant's events, and those of the busy instants that follow it.
        let mut instant = t;
        while i < schedule.len() && (schedule[i].0 == instant || is_busy(schedule[i].0)) {
            let (at, ev) = schedule[i];
            let busy_at = (at != t).then(|| start + ms(at));
            match (ev, busy_at) {
                (Ev::End, None) => feed.end(),
                (Ev::End, Some(at)) => feed.end_busy(clock, at),
                (ev, None) => feed.push(input(ev)),
                (ev, Some(at)) => feed.push_busy(input(ev), clock, at),
            }
            instant = at;
            i += 1;
        }
        d.run();
        note(&mut d, &mut hints);
    }
    let mut rounds = 0;
    while !d.inner.is_ended() {
        let Some(at) = deadline_ms(clock) else { break };
        rounds += 1;
        assert!(rounds < 100_000, "timers keep firing without end");
        let at = at.max(d.now_ms() + 1);
        d.at(at);
        note(&mut d, &mut hints);
    }
    if d.inner.is_ended() {
        let total = seen;
        for (before, (lower, upper)) in hints {
            let rest = total - before;
            assert!(
                lower <= rest,
                "size_hint lower bound {lower} > {rest} items that followed"
            );
            if let Some(upper) = upper {
                assert!(
                    rest <= upper,
                    "size_hint upper bound {upper} < {rest} items that followed"
                );
            }
        }
        assert!(d.get().is_terminated(), "ended but not terminated");
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..2 {
            assert!(
                matches!(d.stream().poll_next(&mut cx), Poll::Ready(None)),
                "None must be final"
            );
        }
    }
    drop(d);
    assert_eq!(clock.timers(), 0, "the dropped adapter still holds a timer");
    kept.into_iter()
        .map(|event| match event {
            Item(t, item) => output(t, item),
            End(t) => Out::End(t),
        })
        .collect()
}
