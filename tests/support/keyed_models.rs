//! Reference models of the keyed adapters (`batch_by`, `throttle_by`, `debounce_by`): a plain
//! loop over a schedule's instants that keeps one plain state per active key, with no timers
//! and no polling, in whole milliseconds (as `models.rs`).
//!
//! Two ways to get what a keyed adapter must yield:
//! - [`key_view`]: one key's view of a schedule, for the plain models of `models.rs`. The items
//!   of the other keys become errors tagged with [`MARKER`]: an error of a `try_` adapter
//!   passes at once and changes nothing, so the view keeps the instants of the whole schedule
//!   and when the source is busy or paused. This is the contract of the keyed adapters (split
//!   by key, run the plain adapter on each part, merge in time order), but it says nothing of
//!   the order of several keys' outputs at one instant, of the poll budget shared by all keys
//!   (a tagged error ends a `poll_next` call, an item of another key does not), nor of the keys
//!   bound.
//! - [`keyed`]: the whole keyed adapter, one [`KeyModel`] per active key: every key whose
//!   deadline has passed by a check is served in deadline order (a key without one counts as
//!   latest), ties broken by the order in which the keys became active (a key's first item
//!   after an output that a deadline yielded renews its place); the poll budget counts
//!   every key's items; and under a keys bound, a new key first evicts the key that comes
//!   first in that order.

#![allow(dead_code)]

use std::time::Duration;

use streamz::{Edge, FlushReason};

use super::models::{millis, Ev, Out, BUDGET};

/// Tags an error that stands for another key's item in a [`key_view`].
pub const MARKER: u32 = 1 << 31;

/// Key `key`'s view of `schedule` (the key of an item is `item % nkeys`): every item of
/// another key becomes `Ev::Err(MARKER | item)`; errors and the end stay.
pub fn key_view(schedule: &[(u64, Ev)], nkeys: u32, key: u32) -> Vec<(u64, Ev)> {
    schedule
        .iter()
        .map(|&(t, ev)| match ev {
            Ev::Item(x) if x % nkeys != key => {
                assert_eq!(x & MARKER, 0, "item {x} too large to be tagged");
                (t, Ev::Err(MARKER | x))
            }
            ev => (t, ev),
        })
        .collect()
}

/// A plain model's output for a [`key_view`], without the errors that stand for other keys.
pub fn unmarked<T>(out: Vec<Out<T>>) -> Vec<Out<T>> {
    out.into_iter()
        .filter(|out| !matches!(out, Out::Err(_, e) if e & MARKER != 0))
        .collect()
}

/// One key's state in the keyed model: the rules of the plain adapter, in milliseconds, with
/// what the keyed adapter asks of it. A new key starts as a clone of the template.
pub trait KeyModel: Clone {
    type Out;

    /// The earliest deadline at which anything changes, if any.
    fn next_deadline(&self) -> Option<u64>;
    /// Whether a deadline will yield something: after the end, a key without one is
    /// forgotten.
    fn holds_output(&self) -> bool;
    /// Acts on every deadline of this key reached at `now`.
    fn on_deadlines(&mut self, now: u64) -> Option<Self::Out>;
    /// An item of this key arrives at `t`; an item the rules drop goes to `dropped`.
    fn on_item(&mut self, t: u64, x: u32, dropped: &mut Vec<u32>) -> Option<Self::Out>;
    /// Whether a pause or a spent budget may make it yield (zero durations).
    fn acts_on_idle(&self) -> bool;
    /// The source paused (`pause`) or the poll budget ran out.
    fn on_idle(&mut self, pause: bool) -> Option<Self::Out>;
    fn on_end(&mut self, dropped: &mut Vec<u32>) -> Option<Self::Out>;
    /// Holds nothing and runs no window: the key is forgotten.
    fn is_idle(&self) -> bool;
    /// The keys bound makes room: what the key holds, handed out now.
    fn evict(&mut self) -> Option<Self::Out>;
}

/// `batch(max_size, latency)` per key: each batch as its items, why it left and when its
/// first item arrived.
#[derive(Clone, Debug)]
pub struct BatchKey {
    max_size: usize,
    /// `None`: no deadline (a latency past the range of `Instant`, or zero).
    latency: Option<u64>,
    zero: bool,
    items: Vec<u32>,
    opened: u64,
    deadline: Option<u64>,
}

impl BatchKey {
    pub fn new(max_size: usize, latency: Duration) -> Self {
        let zero = latency == Duration::ZERO;
        BatchKey {
            max_size,
            latency: if zero { None } else { millis(latency) },
            zero,
            items: Vec::new(),
            opened: 0,
            deadline: None,
        }
    }

    fn flush(&mut self, reason: FlushReason) -> (Vec<u32>, FlushReason, u64) {
        self.deadline = None;
        (std::mem::take(&mut self.items), reason, self.opened)
    }
}

impl KeyModel for BatchKey {
    type Out = (Vec<u32>, FlushReason, u64);

    fn next_deadline(&self) -> Option<u64> {
        self.deadline
    }

    fn holds_output(&self) -> bool {
        self.deadline.is_some()
    }

    fn on_deadlines(&mut self, now: u64) -> Option<Self::Out> {
        match self.deadline {
            Some(d) if d <= now => Some(self.flush(FlushReason::Deadline)),
            _ => None,
        }
    }

    fn on_item(&mut self, t: u64, x: u32, _dropped: &mut Vec<u32>) -> Option<Self::Out> {
        if self.items.is_empty() {
            self.opened = t;
            self.deadline = self.latency.map(|l| t + l);
        }
        self.items.push(x);
        (self.items.len() >= self.max_size).then(|| self.flush(FlushReason::Full))
    }

    fn acts_on_idle(&self) -> bool {
        self.zero
    }

    fn on_idle(&mut self, _pause: bool) -> Option<Self::Out> {
        (self.zero && !self.items.is_empty()).then(|| self.flush(FlushReason::Paused))
    }

    fn on_end(&mut self, _dropped: &mut Vec<u32>) -> Option<Self::Out> {
        (!self.items.is_empty()).then(|| self.flush(FlushReason::End))
    }

    fn is_idle(&self) -> bool {
        self.items.is_empty()
    }

    fn evict(&mut self) -> Option<Self::Out> {
        (!self.items.is_empty()).then(|| self.flush(FlushReason::MaxKeys))
    }
}

/// An item that neither passes nor leads: dropped with `Leading`, else the trailing candidate
/// (the one it replaces is dropped).
fn keep_or_drop(edge: Edge, pending: &mut Option<u32>, x: u32, dropped: &mut Vec<u32>) {
    if edge == Edge::Leading {
        dropped.push(x);
    } else if let Some(old) = pending.replace(x) {
        dropped.push(old);
    }
}

/// `throttle(period).edge(edge)` per key.
#[derive(Clone, Debug)]
pub struct ThrottleKey {
    /// `None`: past the range of `Instant` (a window open for good).
    period: Option<u64>,
    zero: bool,
    edge: Edge,
    /// `Some(end)`: a window is open until `end` (`None` inside: for good).
    window: Option<Option<u64>>,
    pending: Option<u32>,
}

impl ThrottleKey {
    pub fn new(period: Duration, edge: Edge) -> Self {
        ThrottleKey {
            period: millis(period),
            zero: period == Duration::ZERO,
            edge,
            window: None,
            pending: None,
        }
    }
}

impl KeyModel for ThrottleKey {
    type Out = u32;

    fn next_deadline(&self) -> Option<u64> {
        self.window.flatten()
    }

    fn holds_output(&self) -> bool {
        self.pending.is_some() && self.next_deadline().is_some()
    }

    fn on_deadlines(&mut self, now: u64) -> Option<u32> {
        match self.window {
            Some(Some(end)) if end <= now => match self.pending.take() {
                Some(x) => {
                    // The emission opens the next window.
                    self.window = Some(self.period.map(|p| now + p));
                    Some(x)
                }
                None => {
                    self.window = None;
                    None
                }
            },
            _ => None,
        }
    }

    fn on_item(&mut self, t: u64, x: u32, dropped: &mut Vec<u32>) -> Option<u32> {
        if self.window.is_none() {
            if self.zero {
                return Some(x);
            }
            self.window = Some(self.period.map(|p| t + p));
            if self.edge != Edge::Trailing {
                return Some(x);
            }
        }
        keep_or_drop(self.edge, &mut self.pending, x, dropped);
        None
    }

    fn acts_on_idle(&self) -> bool {
        false
    }

    fn on_idle(&mut self, _pause: bool) -> Option<u32> {
        None
    }

    fn on_end(&mut self, dropped: &mut Vec<u32>) -> Option<u32> {
        // A window open for good: its trailing item could never leave.
        if self.window == Some(None) {
            dropped.extend(self.pending.take());
        }
        None
    }

    fn is_idle(&self) -> bool {
        self.window.is_none() && self.pending.is_none()
    }

    fn evict(&mut self) -> Option<u32> {
        self.window = None;
        self.pending.take()
    }
}

/// `debounce(quiet).edge(edge)`, with `max_wait` if given, per key.
#[derive(Clone, Debug)]
pub struct DebounceKey {
    /// `None`: past the range of `Instant`.
    quiet: Option<u64>,
    zero: bool,
    /// `Some(None)`: a `max_wait` past the range of `Instant`.
    max_wait: Option<Option<u64>>,
    passes_all: bool,
    edge: Edge,
    /// While the quiet period runs: the arrival of its latest item.
    quiet_since: Option<u64>,
    run_end: Option<u64>,
    /// `Leading` only: the run's `max_wait` passed, the next item leads.
    run_over: bool,
    pending: Option<u32>,
}

impl DebounceKey {
    pub fn new(quiet: Duration, edge: Edge, max_wait: Option<Duration>) -> Self {
        DebounceKey {
            quiet: millis(quiet),
            zero: quiet == Duration::ZERO,
            max_wait: max_wait.map(millis),
            passes_all: max_wait == Some(Duration::ZERO),
            edge,
            quiet_since: None,
            run_end: None,
            run_over: false,
            pending: None,
        }
    }

    fn quiet_end(&self) -> Option<u64> {
        let since = self.quiet_since?;
        if self.zero {
            return None;
        }
        self.quiet.map(|q| since + q)
    }

    fn end_quiet(&mut self) -> Option<u32> {
        self.quiet_since = None;
        self.run_end = None;
        self.run_over = false;
        self.pending.take()
    }
}

impl KeyModel for DebounceKey {
    type Out = u32;

    fn next_deadline(&self) -> Option<u64> {
        match (self.quiet_end(), self.run_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn holds_output(&self) -> bool {
        self.pending.is_some() && self.next_deadline().is_some()
    }

    fn on_deadlines(&mut self, now: u64) -> Option<u32> {
        if self.quiet_end().is_some_and(|end| end <= now) {
            return self.end_quiet();
        }
        if self.run_end.is_some_and(|end| end <= now) {
            self.run_end = None;
            if let Some(x) = self.pending.take() {
                return Some(x);
            }
            self.run_over = self.edge == Edge::Leading;
        }
        None
    }

    fn on_item(&mut self, t: u64, x: u32, dropped: &mut Vec<u32>) -> Option<u32> {
        if self.passes_all {
            return Some(x);
        }
        let idle = self.quiet_since.is_none();
        let leads = self.edge != Edge::Trailing && (idle || self.run_over);
        let starts_run = leads
            || (self.edge != Edge::Leading && self.run_end.is_none() && self.max_wait.is_some());
        self.quiet_since = Some(t);
        if starts_run {
            self.run_end = self.max_wait.flatten().map(|m| t + m);
            self.run_over = false;
        }
        if leads {
            return Some(x);
        }
        keep_or_drop(self.edge, &mut self.pending, x, dropped);
        None
    }

    fn acts_on_idle(&self) -> bool {
        self.zero
    }

    fn on_idle(&mut self, pause: bool) -> Option<u32> {
        if self.zero && pause && self.quiet_since.is_some() {
            return self.end_quiet();
        }
        None
    }

    fn on_end(&mut self, _dropped: &mut Vec<u32>) -> Option<u32> {
        self.end_quiet()
    }

    fn is_idle(&self) -> bool {
        self.quiet_since.is_none() && self.run_end.is_none() && self.pending.is_none()
    }

    fn evict(&mut self) -> Option<u32> {
        self.end_quiet()
    }
}

/// What the keyed model yields for a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedRun<O> {
    /// Each output with its key, at its instant; errors and the end as in `models.rs`.
    pub out: Vec<Out<(u32, O)>>,
    /// The items the rules dropped, in the order they were dropped.
    pub dropped: Vec<u32>,
    /// The number of active keys each time the adapter comes to rest: after each instant
    /// after which the source pauses, after each deadline acted on while it is idle, and after
    /// the end (several at one instant: the last holds).
    pub keys: Vec<(u64, usize)>,
}

impl<O> KeyedRun<O> {
    /// The number of active keys once everything at `t` has been done, if the model is at rest
    /// at `t` (the source paused there, or a deadline was acted on there). At an instant where
    /// the source only spent a call's budget, or was busy, the model tells nothing.
    pub fn keys_at(&self, t: u64) -> Option<usize> {
        self.keys
            .iter()
            .take_while(|&&(at, _)| at <= t)
            .last()
            .filter(|&&(at, _)| at == t)
            .map(|&(_, n)| n)
    }
}

struct Active<M> {
    key: u32,
    /// The tie-break: the order in which the key became active, renewed by its first item
    /// after an output yielded by a deadline (it starts what the key holds next).
    opened: u64,
    /// The key's next item renews `opened`.
    renew: bool,
    state: M,
}

struct KeyedModel<M: KeyModel> {
    template: M,
    nkeys: u32,
    max_keys: usize,
    active: Vec<Active<M>>,
    opened: u64,
    ended: bool,
    run: KeyedRun<M::Out>,
}

impl<M: KeyModel> KeyedModel<M> {
    /// Where a key stands: at its deadline (a key without one last), then by activation.
    fn rank(a: &Active<M>) -> (bool, u64, u64) {
        let d = a.state.next_deadline();
        (d.is_none(), d.unwrap_or(0), a.opened)
    }

    fn position(&self, key: u32) -> Option<usize> {
        self.active.iter().position(|a| a.key == key)
    }

    /// The active keys, first to last.
    fn in_order(&self) -> Vec<u32> {
        let mut keys: Vec<_> = self.active.iter().map(|a| (Self::rank(a), a.key)).collect();
        keys.sort_unstable();
        keys.into_iter().map(|(_, key)| key).collect()
    }

    fn earliest(&self) -> Option<u64> {
        self.active
            .iter()
            .filter_map(|a| a.state.next_deadline())
            .min()
    }

    fn emit(&mut self, t: u64, key: u32, out: Option<M::Out>) {
        if let Some(out) = out {
            self.run.out.push(Out::Item(t, (key, out)));
        }
    }

    /// After the state of the key at `i` changed: it is forgotten if it holds nothing (or,
    /// after the end, has nothing left to yield).
    fn place(&mut self, i: usize) {
        let state = &self.active[i].state;
        if state.is_idle() || (self.ended && !state.holds_output()) {
            self.active.remove(i);
        }
    }

    /// Serves, at `now`, every key whose deadline has passed, first to last.
    fn serve(&mut self, now: u64) {
        loop {
            let first = self
                .active
                .iter()
                .enumerate()
                .filter(|(_, a)| a.state.next_deadline().is_some_and(|d| d <= now))
                .min_by_key(|(_, a)| Self::rank(a))
                .map(|(i, _)| i);
            let Some(i) = first else { break };
            let out = self.active[i].state.on_deadlines(now);
            let key = self.active[i].key;
            self.active[i].renew |= out.is_some();
            self.emit(now, key, out);
            self.place(i);
        }
    }

    /// Hands every active key, first to last, to `visit`.
    fn visit_all(
        &mut self,
        t: u64,
        mut visit: impl FnMut(&mut M, &mut Vec<u32>) -> Option<M::Out>,
    ) {
        for key in self.in_order() {
            let i = self.position(key).expect("an active key");
            let out = visit(&mut self.active[i].state, &mut self.run.dropped);
            self.emit(t, key, out);
            self.place(i);
        }
    }

    fn on_item(&mut self, t: u64, x: u32) {
        let key = x % self.nkeys;
        let i = match self.position(key) {
            Some(i) if self.active[i].renew => {
                self.active[i].renew = false;
                self.active[i].opened = self.opened;
                self.opened += 1;
                i
            }
            Some(i) => i,
            None => {
                if self.active.len() >= self.max_keys {
                    let first = self.in_order()[0];
                    let i = self.position(first).expect("an active key");
                    let mut gone = self.active.remove(i);
                    let out = gone.state.evict();
                    self.emit(t, first, out);
                }
                self.active.push(Active {
                    key,
                    opened: self.opened,
                    renew: false,
                    state: self.template.clone(),
                });
                self.opened += 1;
                self.active.len() - 1
            }
        };
        let out = self.active[i].state.on_item(t, x, &mut self.run.dropped);
        self.emit(t, key, out);
        self.place(i);
    }

    fn note_keys(&mut self, t: u64) {
        self.run.keys.push((t, self.active.len()));
    }
}

/// What a keyed adapter yields for `schedule` with busy instants `busy` (see `models.rs`):
/// the key of an item is `item % nkeys`, each new key's state starts as `template`, and at
/// most `max_keys` keys are active.
pub fn keyed<M: KeyModel>(
    schedule: &[(u64, Ev)],
    busy: &[u64],
    template: M,
    nkeys: u32,
    max_keys: usize,
) -> KeyedRun<M::Out> {
    let mut m = KeyedModel {
        template,
        nkeys,
        max_keys,
        active: Vec::new(),
        opened: 0,
        ended: false,
        run: KeyedRun {
            out: Vec::new(),
            dropped: Vec::new(),
            keys: Vec::new(),
        },
    };
    let acts_on_idle = m.template.acts_on_idle();
    // Inner items taken by the current `poll_next` call without output.
    let mut taken = 0;
    for moment in instants(schedule, busy) {
        let t = moment.t;
        if !moment.busy {
            // The source was idle: the timer acts on each deadline at its instant.
            while let Some(d) = m.earliest().filter(|&d| d < t) {
                m.serve(d);
                m.note_keys(d);
            }
            // A new call.
            taken = 0;
        }
        for ev in moment.evs {
            let before = m.run.out.len();
            // Deadlines first: by the timer at `t`, or as the busy source returns at `t`.
            m.serve(t);
            match ev {
                Ev::Item(x) => m.on_item(t, x),
                Ev::Err(e) => m.run.out.push(Out::Err(t, e)),
                Ev::End => {
                    m.ended = true;
                    m.visit_all(t, |state, dropped| state.on_end(dropped));
                    m.note_keys(t);
                    // Trailing items still to leave, each at its deadline.
                    let mut end = t;
                    while let Some(d) = m.earliest() {
                        m.serve(d);
                        m.note_keys(d);
                        end = d;
                    }
                    m.run.out.push(Out::End(end));
                    return m.run;
                }
            }
            if m.run.out.len() > before {
                // An output ends the call.
                taken = 0;
            } else {
                taken += 1;
                if taken == BUDGET {
                    // The call ends with its budget spent.
                    if acts_on_idle {
                        m.visit_all(t, |state, _| state.on_idle(false));
                    }
                    taken = 0;
                }
            }
        }
        if moment.pauses {
            if acts_on_idle {
                m.visit_all(t, |state, _| state.on_idle(true));
            }
            m.note_keys(t);
        }
    }
    // No end: every deadline still to come, at its instant.
    while let Some(d) = m.earliest() {
        m.serve(d);
        m.note_keys(d);
    }
    m.run
}

/// One instant of a schedule (as in `models.rs`).
struct Moment {
    t: u64,
    /// The source was busy since the previous instant: deadlines in between are seen at `t`.
    busy: bool,
    /// The source pauses after this instant's events.
    pauses: bool,
    evs: Vec<Ev>,
}

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
