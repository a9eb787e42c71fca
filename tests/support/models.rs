//! Reference models: what each adapter must yield for a schedule, computed by a plain loop
//! over the schedule's instants, with no timers and no polling.
//!
//! Time is in whole milliseconds. A schedule lists events in order, each at an instant; the
//! events of one instant become ready together. Deadlines are acted on before anything else
//! at their instant (timer first), and checked again between the events of one instant.
//! `None` as a duration means one that cannot be represented (no time bound).

#![allow(dead_code)]

use std::time::Duration;

use streamz::Edge;

/// Inner items one `poll_next` call takes without output (the adapters' documented bound).
pub const BUDGET: usize = 512;

/// An input event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    Item(u32),
    Err(u32),
    End,
}

/// An output event of a model or a run, at its instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out<T> {
    Item(u64, T),
    Err(u64, u32),
    End(u64),
}

/// A duration in whole milliseconds, or `None` past the range of `Instant`.
pub fn millis(d: Duration) -> Option<u64> {
    // Anything beyond this many years is taken as unrepresentable by the adapter too: the
    // property strategies only produce durations far below it or `Duration::MAX`.
    if d > Duration::from_secs(1 << 40) {
        None
    } else {
        Some(d.as_millis() as u64)
    }
}

/// One instant of a schedule.
struct Moment {
    t: u64,
    /// The source was busy since the previous instant: its first event was produced by a poll
    /// that started after the previous instant's last event and returned at `t` (time moved
    /// inside it). Deadlines in between are seen only at `t`, when the event arrives.
    busy: bool,
    /// The source pauses after this instant's events (the next instant is not busy).
    pauses: bool,
    evs: Vec<Ev>,
}

impl Moment {
    /// When a deadline at `d` (at most `t`) reached before this instant's first event is acted
    /// on: at `d`, by the timer, if the source was idle; at `t` if it was busy.
    fn seen(&self, d: u64) -> u64 {
        if self.busy {
            self.t
        } else {
            d
        }
    }
}

/// Groups a schedule by instant, in order; `busy` lists the busy instants, in order (see
/// [`Moment`]).
fn instants(schedule: &[(u64, Ev)], busy: &[u64]) -> Vec<Moment> {
    let mut out: Vec<Moment> = Vec::new();
    for &(t, ev) in schedule {
        match out.last_mut() {
            Some(m) if m.t == t => m.evs.push(ev),
            _ => out.push(Moment {
                t,
                busy: !out.is_empty() && busy.binary_search(&t).is_ok(),
                pauses: true,
                evs: vec![ev],
            }),
        }
    }
    for i in 1..out.len() {
        out[i - 1].pauses = !out[i].busy;
    }
    out
}

/// `batch(max_size, latency)` / `try_batch`.
pub fn batch(schedule: &[(u64, Ev)], max_size: usize, latency: Duration) -> Vec<Out<Vec<u32>>> {
    weighted_batch(schedule, max_size, latency, None)
}

/// `batch(max_size, latency)`, with busy instants (see [`Moment`]).
pub fn batch_busy(
    schedule: &[(u64, Ev)],
    busy: &[u64],
    max_size: usize,
    latency: Duration,
) -> Vec<Out<Vec<u32>>> {
    weighted_batch_busy(schedule, busy, max_size, latency, None)
}

/// `.max_weight(max, weigh)`: the limit and the weight of each item.
pub type Weights = (usize, fn(u32) -> usize);

/// `batch(max_size, latency)`, with `.max_weight(max, weigh)` if `weights` is given.
pub fn weighted_batch(
    schedule: &[(u64, Ev)],
    max_size: usize,
    latency: Duration,
    weights: Option<Weights>,
) -> Vec<Out<Vec<u32>>> {
    weighted_batch_busy(schedule, &[], max_size, latency, weights)
}

/// `weighted_batch`, with busy instants (see [`Moment`]).
pub fn weighted_batch_busy(
    schedule: &[(u64, Ev)],
    busy: &[u64],
    max_size: usize,
    latency: Duration,
    weights: Option<Weights>,
) -> Vec<Out<Vec<u32>>> {
    let zero = latency == Duration::ZERO;
    let latency = millis(latency);
    let mut out = Vec::new();
    let mut items: Vec<u32> = Vec::new();
    let mut weight = 0usize;
    let mut deadline: Option<u64> = None;
    // Inner items taken by the current `poll_next` call: at `BUDGET` without output, the
    // call ends, and a zero latency yields what it gathered.
    let mut taken = 0;
    for moment in instants(schedule, busy) {
        let t = moment.t;
        // Deadlines that come before (or at) this instant.
        if let Some(d) = deadline {
            if d <= t {
                out.push(Out::Item(moment.seen(d), std::mem::take(&mut items)));
                deadline = None;
                weight = 0;
                taken = 0;
            }
        }
        if !moment.busy {
            // The source paused before this instant: a new call.
            taken = 0;
        }
        for ev in moment.evs {
            taken += 1;
            match ev {
                Ev::Item(x) => {
                    let (max, w) = match weights {
                        Some((max, weigh)) => (max, weigh(x)),
                        None => (usize::MAX, 0),
                    };
                    if !items.is_empty() && weight.saturating_add(w) > max {
                        // Over the weight: the batch leaves, the item opens the next one.
                        out.push(Out::Item(t, std::mem::take(&mut items)));
                        weight = 0;
                        taken = 0;
                    }
                    if items.is_empty() && !zero {
                        deadline = latency.map(|l| t + l);
                    }
                    items.push(x);
                    weight = weight.saturating_add(w);
                    if items.len() >= max_size || weight > max {
                        out.push(Out::Item(t, std::mem::take(&mut items)));
                        deadline = None;
                        weight = 0;
                        taken = 0;
                    }
                }
                Ev::Err(e) => {
                    out.push(Out::Err(t, e));
                    taken = 0;
                }
                Ev::End => {
                    if !items.is_empty() {
                        out.push(Out::Item(t, std::mem::take(&mut items)));
                    }
                    out.push(Out::End(t));
                    return out;
                }
            }
            // The call has taken `BUDGET` items without output, the last one now: it ends, and
            // a zero latency yields what it gathered.
            if taken == BUDGET {
                if zero && !items.is_empty() {
                    out.push(Out::Item(t, std::mem::take(&mut items)));
                    weight = 0;
                }
                taken = 0;
            }
        }
        // The inner stream is now `Pending`: a zero latency yields what it gathered.
        if moment.pauses && zero && !items.is_empty() {
            out.push(Out::Item(t, std::mem::take(&mut items)));
            weight = 0;
        }
    }
    if let Some(d) = deadline {
        out.push(Out::Item(d, items));
    }
    out
}

/// `throttle(period).edge(edge)` / `try_throttle`.
pub fn throttle(schedule: &[(u64, Ev)], period: Duration, edge: Edge) -> Vec<Out<u32>> {
    throttle_busy(schedule, &[], period, edge)
}

/// `throttle(period).edge(edge)`, with busy instants (see [`Moment`]).
pub fn throttle_busy(
    schedule: &[(u64, Ev)],
    busy: &[u64],
    period: Duration,
    edge: Edge,
) -> Vec<Out<u32>> {
    let period = millis(period);
    let leading = matches!(edge, Edge::Leading | Edge::Both);
    let trailing = matches!(edge, Edge::Trailing | Edge::Both);
    let mut out = Vec::new();
    // `Some(end)`: a window is open until `end` (`None` inside: forever).
    let mut window: Option<Option<u64>> = None;
    let mut pending: Option<u32> = None;

    // Acts on a window end reached at `now`; `busy`: seen only at `now`.
    let settle = |now: u64,
                  busy: bool,
                  window: &mut Option<Option<u64>>,
                  pending: &mut Option<u32>,
                  out: &mut Vec<Out<u32>>| {
        while let Some(Some(end)) = *window {
            if end > now {
                break;
            }
            match pending.take() {
                Some(x) => {
                    // The emission opens the next window.
                    let at = if busy { now } else { end };
                    out.push(Out::Item(at, x));
                    *window = Some(period.map(|p| at + p));
                }
                None => *window = None,
            }
        }
    };

    for moment in instants(schedule, busy) {
        let t = moment.t;
        let mut busy = moment.busy;
        for ev in moment.evs {
            settle(t, busy, &mut window, &mut pending, &mut out);
            busy = false;
            match ev {
                Ev::Item(x) => {
                    if window.is_none() {
                        window = Some(period.map(|p| t + p));
                        if leading {
                            out.push(Out::Item(t, x));
                            continue;
                        }
                    }
                    if trailing {
                        pending = Some(x);
                    }
                }
                Ev::Err(e) => out.push(Out::Err(t, e)),
                Ev::End => {
                    if let (Some(x), Some(Some(end))) = (pending, window) {
                        // The trailing item leaves when its window ends, then the stream ends.
                        let end = end.max(t);
                        out.push(Out::Item(end, x));
                        out.push(Out::End(end));
                    } else {
                        out.push(Out::End(t));
                    }
                    return out;
                }
            }
        }
        settle(t, false, &mut window, &mut pending, &mut out);
    }
    // No end: every window end still to come with a pending item.
    settle(u64::MAX, false, &mut window, &mut pending, &mut out);
    out
}

/// `debounce(quiet).edge(edge)` (with `max_wait`) / `try_debounce`.
pub fn debounce(
    schedule: &[(u64, Ev)],
    quiet: Duration,
    edge: Edge,
    max_wait: Option<Duration>,
) -> Vec<Out<u32>> {
    debounce_busy(schedule, &[], quiet, edge, max_wait)
}

/// `debounce(quiet).edge(edge)` (with `max_wait`), with busy instants (see [`Moment`]).
pub fn debounce_busy(
    schedule: &[(u64, Ev)],
    busy: &[u64],
    quiet: Duration,
    edge: Edge,
    max_wait: Option<Duration>,
) -> Vec<Out<u32>> {
    let zero = quiet == Duration::ZERO;
    let quiet = millis(quiet);
    let max_wait = max_wait.map(millis);
    let mut out = Vec::new();
    let mut s = DebounceModel {
        edge,
        quiet_running: false,
        quiet_end: None,
        run_end: None,
        pending: None,
    };
    for moment in instants(schedule, busy) {
        let t = moment.t;
        let mut busy = moment.busy;
        for ev in moment.evs {
            s.settle(t, busy, &mut out);
            busy = false;
            match ev {
                Ev::Item(x) => {
                    let leads = match edge {
                        Edge::Leading => !s.quiet_running || s.run_end.is_some_and(|r| t >= r),
                        Edge::Both => !s.quiet_running,
                        Edge::Trailing => false,
                    };
                    s.quiet_running = true;
                    s.quiet_end = if zero { None } else { quiet.map(|q| t + q) };
                    let start_run = |s: &mut DebounceModel| {
                        s.run_end = max_wait.and_then(|m| m.map(|m| t + m));
                    };
                    if leads {
                        start_run(&mut s);
                        out.push(Out::Item(t, x));
                    } else if edge != Edge::Leading {
                        if s.run_end.is_none() {
                            start_run(&mut s);
                        }
                        s.pending = Some(x);
                    }
                }
                Ev::Err(e) => out.push(Out::Err(t, e)),
                Ev::End => {
                    if let Some(x) = s.pending.take() {
                        out.push(Out::Item(t, x));
                    }
                    out.push(Out::End(t));
                    return out;
                }
            }
        }
        s.settle(t, false, &mut out);
        // The inner stream is now `Pending`: a zero quiet period ends here.
        if moment.pauses && zero && s.quiet_running {
            s.quiet_running = false;
            s.run_end = None;
            if let Some(x) = s.pending.take() {
                out.push(Out::Item(t, x));
            }
        }
    }
    s.settle(u64::MAX, false, &mut out);
    out
}

struct DebounceModel {
    edge: Edge,
    quiet_running: bool,
    quiet_end: Option<u64>,
    run_end: Option<u64>,
    pending: Option<u32>,
}

impl DebounceModel {
    /// Acts on every deadline reached at `now`, earliest first; `busy`: they are seen only at
    /// `now`.
    fn settle(&mut self, now: u64, busy: bool, out: &mut Vec<Out<u32>>) {
        let seen = |d: u64| if busy { now } else { d };
        loop {
            let quiet = self.quiet_end.filter(|&q| self.quiet_running && q <= now);
            let run = self.run_end.filter(|&r| r <= now && self.pending.is_some());
            match (quiet, run) {
                (Some(q), r) if r.map_or(true, |r| q <= r) => {
                    // The quiet period ends: the run ends with its pending item.
                    self.quiet_running = false;
                    self.quiet_end = None;
                    self.run_end = None;
                    if let Some(x) = self.pending.take() {
                        out.push(Out::Item(seen(q), x));
                    }
                }
                (_, Some(r)) => {
                    // `max_wait` cuts the run: its pending item leaves, the quiet period runs on.
                    self.run_end = None;
                    if let Some(x) = self.pending.take() {
                        out.push(Out::Item(seen(r), x));
                    }
                }
                _ => break,
            }
        }
        // A passed `max_wait` with nothing pending: only `Leading` keeps it, to let the next
        // item lead.
        if self.edge != Edge::Leading && self.run_end.is_some_and(|r| r <= now) {
            self.run_end = None;
        }
    }
}
