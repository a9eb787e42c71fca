//! The machine of the keyed adapters (`batch_by`, `throttle_by`, `debounce_by`): one plain
//! machine per active key, every key's deadline in one heap, and one alarm for them all.
//!
//! How it keeps the plain rules per key:
//! - Each active key has its own state, made from a *template* with the adapter's settings:
//!   the very machine of the plain adapter ([`PerKey`]), so per key the rules are the plain
//!   ones. A key whose state holds nothing and runs no window is forgotten.
//! - Every active key has one live entry in a binary heap, ordered by its deadline (a key
//!   without one comes last), then by the arrival of the first item of what it holds: its
//!   batch, its debounce run, or its throttle window (renewed by the first item after an
//!   output that a deadline yielded).
//!   An entry may lie *earlier* than the key's deadline (a debounce's quiet period moved on):
//!   when it comes up, it is put back at the deadline, so keys are still served in deadline
//!   order; a key whose deadline moves on therefore costs one heap operation per deadline, not
//!   per item. Entries of forgotten keys are skipped as they come up (lazy deletion). An
//!   entry holds its deadline as integer nanoseconds from the adapter's first reading (see
//!   [`Tick`]), which compare faster than instants.
//! - The engine sees one machine: its next deadline is the heap's first, so its one alarm is
//!   armed for the earliest deadline of all keys, and every key whose deadline has passed is
//!   served before the next inner poll. Outputs wait in a queue, in time order, and are
//!   yielded one per call, without a reading of the clock ([`Machine::queued`]); while any
//!   waits, the inner stream is not polled.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::time::Instant;

use crate::clock::Clock;
use crate::drop_hook::DropHook;
use crate::engine::{Arrival, Idle, Machine, Run};

/// A key handed to [`PerKey::label`]: moved out of a key that was just forgotten, or
/// borrowed from one that stays.
pub(crate) enum Key<'a, K> {
    Gone(K),
    Kept(&'a K),
}

impl<K: Clone> Key<'_, K> {
    pub(crate) fn into_owned(self) -> K {
        match self {
            Key::Gone(key) => key,
            Key::Kept(key) => key.clone(),
        }
    }
}

/// What a plain machine adds to serve one key of a keyed adapter.
pub(crate) trait PerKey<K>: Machine + Sized {
    /// What the keyed adapter's engine gets for an output of this key.
    type Labeled;

    /// Makes the keyed output (with the key, for batches; without, for the others).
    fn label(key: Key<'_, K>, out: Self::Output) -> Self::Labeled;

    /// A new key's state, with this one's settings; `origin` is any instant of the clock.
    fn fresh(&self, origin: Instant) -> Self;

    /// The state holds nothing and runs no window: the key may be forgotten.
    fn is_idle(&self) -> bool;

    /// The keys bound is reached and this key goes: what it still holds, handed out now.
    fn evict(&mut self) -> Option<Self::Output>;

    /// The item the latest call dropped, if any, for the user's drop hook.
    fn take_dropped(&mut self) -> Option<Self::Item> {
        None
    }

    /// Whether a pause or a spent budget can make the state yield (zero durations).
    fn acts_on_idle(&self) -> bool;
}

/// Where a key stands: at its deadline, or last for a key without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum When {
    At(Instant),
    Never,
}

impl When {
    fn of(deadline: Option<Instant>) -> When {
        deadline.map_or(When::Never, When::At)
    }
}

/// A [`When`] in the heap: nanoseconds from the machine's `base` to the deadline, or [`NEVER`].
/// Every deadline lies at or after `base` (the adapter's first reading, or where `with_clock`
/// moved it), so ticks are in the order of the deadlines, and compare faster than instants.
/// A `u128` holds the nanoseconds of any [`Duration`](std::time::Duration), so no two
/// deadlines share a tick (a `u64` would run out after 584 years, of virtual time or of a
/// latency).
type Tick = u128;

const NEVER: Tick = u128::MAX;

/// A heap entry: the key in `slot`, whose state opened as the `opened`-th, at `tick`; live
/// while the slot's `gen` is still `gen`.
struct Entry {
    tick: Tick,
    opened: u64,
    slot: u32,
    gen: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Entry {}

impl Ord for Entry {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // `BinaryHeap` is a max-heap: the earliest entry is the greatest.
        (other.tick, other.opened, other.slot).cmp(&(self.tick, self.opened, self.slot))
    }
}

impl PartialOrd for Entry {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One active key.
struct Slot<K, M> {
    key: K,
    state: M,
    /// The order in which this key's state opened, among all keys (the tie-break).
    opened: u64,
    /// Where this key's live heap entry stands (at or before its deadline), if it has one.
    queued: Option<When>,
    /// Counts the entries made for this key: the live one carries the latest count. (Entries
    /// left behind go when they come up, or when the heap is rebuilt, long before the count
    /// wraps.)
    gen: u32,
    /// The key yielded by a deadline and stays: its next item takes a new place in the order
    /// of ties (see `Keyed::place`).
    renew: bool,
    /// The key's state took an arrival dated by the alarm that no reading has confirmed yet
    /// (it is listed in `Keyed::stamped`).
    stamped: bool,
}

/// Opens a slot for `key` with `state`, in a free place of `slots` or a new one; returns where.
fn open<K, M>(
    slots: &mut Vec<Option<Slot<K, M>>>,
    free: &mut Vec<u32>,
    opened: &mut u64,
    key: K,
    state: M,
) -> u32 {
    let slot = Slot {
        key,
        state,
        opened: *opened,
        queued: None,
        gen: 0,
        renew: false,
        stamped: false,
    };
    *opened += 1;
    match free.pop() {
        Some(idx) => {
            slots[idx as usize] = Some(slot);
            idx
        }
        None => {
            slots.push(Some(slot));
            (slots.len() - 1) as u32
        }
    }
}

/// Queues an output with a copy of its key if it is still held when dropped: while the key
/// leaves the index (see `Keyed::forget`).
struct Held<'a, K: Clone, M: PerKey<K>> {
    out: &'a mut VecDeque<M::Labeled>,
    key: &'a K,
    pending: Option<M::Output>,
}

impl<K: Clone, M: PerKey<K>> Drop for Held<'_, K, M> {
    fn drop(&mut self) {
        if let Some(out) = self.pending.take() {
            self.out.push_back(M::label(Key::Kept(self.key), out));
        }
    }
}

/// Places a key whose state's `on_item` panicked (see `Keyed::on_item`).
struct Placing<'a, K, M, F, D>
where
    K: Hash + Eq + Clone,
    M: PerKey<K>,
    F: FnMut(&M::Item) -> K,
    D: DropHook<M::Item>,
{
    keyed: &'a mut Keyed<K, M, F, D>,
    idx: u32,
    done: bool,
}

impl<K, M, F, D> Drop for Placing<'_, K, M, F, D>
where
    K: Hash + Eq + Clone,
    M: PerKey<K>,
    F: FnMut(&M::Item) -> K,
    D: DropHook<M::Item>,
{
    fn drop(&mut self) {
        if !self.done {
            // A dropped item goes with the panic: the hook is not called while unwinding.
            let _ = self.keyed.place(self.idx, None, false);
            self.keyed.settle();
        }
    }
}

/// The machine of a keyed adapter: `M` per key, `F` makes the keys, `D` takes dropped items.
pub(crate) struct Keyed<K, M: PerKey<K>, F, D> {
    key_fn: F,
    /// The settings every new key's state starts from.
    pub(crate) template: M,
    hook: D,
    max_keys: usize,
    index: HashMap<K, u32>,
    slots: Vec<Option<Slot<K, M>>>,
    free: Vec<u32>,
    heap: BinaryHeap<Entry>,
    /// The instant the heap's ticks count from (see [`Tick`]).
    base: Instant,
    out: VecDeque<M::Labeled>,
    opened: u64,
    /// The inner stream has ended: a key with nothing left to yield is forgotten.
    ended: bool,
    /// Keys whose state is due whatever the time (a weighted batch's item too heavy to share
    /// a batch): served first by the next `on_deadlines`.
    due: Vec<u32>,
    /// Dropped items not yet handed to the hook, last first: left by a hook that panicked
    /// while several keys ended at once, and handed over by the next call.
    unhooked: Vec<M::Item>,
    /// Keys whose state took an arrival dated by the alarm since the latest reading (see
    /// [`Machine::restamp`]).
    stamped: Vec<u32>,
}

impl<K, M, F, D> Keyed<K, M, F, D>
where
    K: Hash + Eq + Clone,
    M: PerKey<K>,
    F: FnMut(&M::Item) -> K,
    D: DropHook<M::Item>,
{
    /// A keyed machine; `origin` is a reading of the adapter's clock taken before any item
    /// arrives.
    pub(crate) fn new(key_fn: F, template: M, hook: D, origin: Instant) -> Self {
        Keyed {
            key_fn,
            template,
            hook,
            max_keys: usize::MAX,
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            base: origin,
            out: VecDeque::new(),
            opened: 0,
            ended: false,
            due: Vec::new(),
            unhooked: Vec::new(),
            stamped: Vec::new(),
        }
    }

    /// Sets the keys bound (see the adapters' `max_keys`).
    #[track_caller]
    pub(crate) fn set_max_keys(&mut self, max_keys: usize, adapter: &str) {
        assert!(
            max_keys > 0,
            "{}: `max_keys` must be at least 1, got 0",
            adapter
        );
        self.max_keys = max_keys;
    }

    /// The same machine with another drop hook.
    pub(crate) fn with_hook<D2: DropHook<M::Item>>(self, hook: D2) -> Keyed<K, M, F, D2> {
        Keyed {
            key_fn: self.key_fn,
            template: self.template,
            hook,
            max_keys: self.max_keys,
            index: self.index,
            slots: self.slots,
            free: self.free,
            heap: self.heap,
            base: self.base,
            out: self.out,
            opened: self.opened,
            ended: self.ended,
            due: self.due,
            unhooked: self.unhooked,
            stamped: self.stamped,
        }
    }

    /// The same machine with each key's state (and the template) changed by `change`.
    pub(crate) fn map_states<M2>(self, mut change: impl FnMut(M) -> M2) -> Keyed<K, M2, F, D>
    where
        M2: PerKey<K, Item = M::Item, Labeled = M::Labeled>,
    {
        let slots: Vec<_> = self
            .slots
            .into_iter()
            .map(|slot| {
                slot.map(|slot| Slot {
                    key: slot.key,
                    state: change(slot.state),
                    opened: slot.opened,
                    queued: slot.queued,
                    gen: slot.gen,
                    renew: slot.renew,
                    stamped: slot.stamped,
                })
            })
            .collect();
        Keyed {
            key_fn: self.key_fn,
            template: change(self.template),
            hook: self.hook,
            max_keys: self.max_keys,
            index: self.index,
            slots,
            free: self.free,
            heap: self.heap,
            base: self.base,
            out: self.out,
            opened: self.opened,
            ended: self.ended,
            due: self.due,
            unhooked: self.unhooked,
            stamped: self.stamped,
        }
    }

    /// Applies a change of settings to the template and to every active key.
    pub(crate) fn configure(&mut self, mut change: impl FnMut(&mut M)) {
        change(&mut self.template);
        for slot in self.slots.iter_mut().flatten() {
            change(&mut slot.state);
        }
    }

    /// How many keys are active.
    pub(crate) fn keys(&self) -> usize {
        self.index.len()
    }

    /// Where `when` stands in the heap.
    #[inline]
    fn tick(&self, when: When) -> Tick {
        match when {
            // Below `NEVER`: a `Duration` has at most `u64::MAX` seconds.
            When::At(at) => at.saturating_duration_since(self.base).as_nanos(),
            When::Never => NEVER,
        }
    }

    /// Makes the live heap entry of the key in `idx`, at `when`.
    fn push_entry(&mut self, idx: u32, when: When) {
        let tick = self.tick(when);
        let slot = self.slot(idx);
        slot.queued = Some(when);
        slot.gen = slot.gen.wrapping_add(1);
        let entry = Entry {
            tick,
            opened: slot.opened,
            slot: idx,
            gen: slot.gen,
        };
        self.heap.push(entry);
    }

    fn slot(&mut self, idx: u32) -> &mut Slot<K, M> {
        match self.slots.get_mut(idx as usize) {
            Some(Some(slot)) => slot,
            _ => unreachable!("a key's slot is taken"),
        }
    }

    /// Where the key of `entry` stands, if `entry` is its live heap entry.
    fn standing(&self, entry: &Entry) -> Option<When> {
        match self.slots.get(entry.slot as usize) {
            Some(Some(slot)) if slot.gen == entry.gen && slot.opened == entry.opened => slot.queued,
            _ => None,
        }
    }

    fn live(&self, entry: &Entry) -> bool {
        self.standing(entry).is_some()
    }

    /// Where the heap's first entry stands, if the heap has one and it is live.
    #[inline]
    fn first(&self) -> Option<When> {
        self.standing(self.heap.peek()?)
    }

    /// Drops the entries of forgotten keys from the top of the heap, so that its first entry
    /// is a live one.
    fn settle(&mut self) {
        while let Some(top) = self.heap.peek() {
            if self.live(top) {
                break;
            }
            self.heap.pop();
        }
    }

    /// Pops the first live entry, put back first at its key's deadline if it lay earlier; so
    /// entries come up in deadline order.
    fn pop_exact(&mut self, until: When) -> Option<u32> {
        // Most calls end here, with no tick to compute: the first entry is live and not due.
        if self.first().is_some_and(|first| first > until) {
            return None;
        }
        let until = self.tick(until);
        loop {
            let top = self.heap.peek()?;
            if top.tick > until {
                return None;
            }
            let top = self.heap.pop()?;
            if !self.live(&top) {
                continue;
            }
            let slot = self.slot(top.slot);
            let when = When::of(slot.state.next_deadline());
            if slot.queued == Some(when) {
                return Some(top.slot);
            }
            self.push_entry(top.slot, when);
        }
    }

    /// The slot of `key`, opened if the key is new (after making room under the keys bound).
    /// A new key's heap entry is made once its state holds something (see `place`).
    fn find_or_open(&mut self, key: K, origin: Instant) -> u32 {
        let full = self.index.len() >= self.max_keys;
        let vacant = match self.index.entry(key) {
            MapEntry::Occupied(found) => return *found.get(),
            MapEntry::Vacant(vacant) if !full => vacant,
            MapEntry::Vacant(vacant) => {
                // Making room changes the index: the key goes in after it.
                let key = vacant.into_key();
                self.evict_one();
                let idx = self.open(key.clone(), origin);
                self.index.insert(key, idx);
                return idx;
            }
        };
        let key = vacant.key().clone();
        let state = self.template.fresh(origin);
        let idx = open(
            &mut self.slots,
            &mut self.free,
            &mut self.opened,
            key,
            state,
        );
        vacant.insert(idx);
        idx
    }

    fn open(&mut self, key: K, origin: Instant) -> u32 {
        let state = self.template.fresh(origin);
        open(
            &mut self.slots,
            &mut self.free,
            &mut self.opened,
            key,
            state,
        )
    }

    /// The keys bound is reached: the key with the earliest deadline (ties: the earliest
    /// opened) hands out what it holds and is forgotten.
    fn evict_one(&mut self) {
        let Some(idx) = self.pop_exact(When::Never) else {
            return;
        };
        let slot = self.slot(idx);
        let out = slot.state.evict();
        let dropped = slot.state.take_dropped();
        self.forget(idx, out);
        self.drop_item(dropped);
    }

    /// Forgets the key in `idx`, queuing `out`, its last output. The key leaves the index
    /// before its slot goes: should its `Hash` or `Eq` panic, `out` is queued all the same
    /// (with a copy of the key), and the slot stays, idle, to be forgotten later.
    fn forget(&mut self, idx: u32, out: Option<M::Output>) {
        let Some(Some(slot)) = self.slots.get(idx as usize) else {
            unreachable!("a key's slot is taken")
        };
        let mut held = Held::<K, M> {
            out: &mut self.out,
            key: &slot.key,
            pending: out,
        };
        self.index.remove(&slot.key);
        let out = held.pending.take();
        drop(held);
        let Some(slot) = self.slots[idx as usize].take() else {
            unreachable!("a key's slot is taken")
        };
        if let Some(out) = out {
            self.out.push_back(M::label(Key::Gone(slot.key), out));
        }
        self.free.push(idx);
        self.compact();
    }

    /// Keeps memory in line with the active keys: entries of forgotten keys that lie far ahead
    /// (or at no deadline) would otherwise stay in the heap until their time comes.
    fn compact(&mut self) {
        let active = self.index.len();
        if self.heap.len() > 2 * active + 1024 {
            let entries: Vec<Entry> = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(idx, slot)| {
                    let slot = slot.as_ref()?;
                    Some(Entry {
                        tick: self.tick(slot.queued?),
                        opened: slot.opened,
                        slot: idx as u32,
                        gen: slot.gen,
                    })
                })
                .collect();
            self.heap = BinaryHeap::from(entries);
        }
        if self.index.capacity() > 4 * active + 1024 {
            self.index.shrink_to(2 * active);
        }
    }

    /// After the state of the key in `idx` changed: queues its output, then forgets the key
    /// if it holds nothing (or, after the end, has nothing left to yield), or makes sure its
    /// heap entry lies at or before its deadline.
    /// Returns the item its state dropped, for the hook (called last, so that a hook that
    /// panics finds everything in place).
    ///
    /// `by_deadline`: `out` was yielded by a deadline. If the key stays, its next item takes
    /// a new place in the order of ties: it starts what the key holds next (a debounce's new
    /// run, the items of a throttle window opened by a trailing emission).
    fn place(&mut self, idx: u32, out: Option<M::Output>, by_deadline: bool) -> Option<M::Item> {
        let ended = self.ended;
        let slot = self.slot(idx);
        let dropped = slot.state.take_dropped();
        if slot.state.is_idle() || (ended && slot.state.wake_at().is_none()) {
            self.forget(idx, out);
            return dropped;
        }
        slot.renew |= by_deadline && out.is_some();
        let when = When::of(slot.state.next_deadline());
        let due = slot.state.due();
        let requeue = slot.queued.map_or(true, |queued| when < queued);
        if let Some(out) = out {
            let Some(Some(slot)) = self.slots.get(idx as usize) else {
                unreachable!("a key's slot is taken")
            };
            self.out.push_back(M::label(Key::Kept(&slot.key), out));
        }
        if requeue {
            self.push_entry(idx, when);
        }
        if due {
            self.due.push(idx);
        }
        dropped
    }

    fn drop_item(&mut self, dropped: Option<M::Item>) {
        if let Some(item) = dropped {
            self.hook.dropped(item);
        }
    }

    /// Every active key's slot, in heap order (deadline, then opening).
    fn in_order(&self) -> Vec<u32> {
        let mut all: Vec<(When, u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(idx, slot)| {
                let slot = slot.as_ref()?;
                Some((
                    When::of(slot.state.next_deadline()),
                    slot.opened,
                    idx as u32,
                ))
            })
            .collect();
        all.sort_unstable();
        all.into_iter().map(|(_, _, idx)| idx).collect()
    }

    /// Hands `visit` every active key, in heap order; for a pause or the end. The items
    /// dropped go to the hook once every key is done.
    fn visit_all(&mut self, mut visit: impl FnMut(&mut M) -> Option<M::Output>) {
        let mut dropped = Vec::new();
        for idx in self.in_order() {
            let out = visit(&mut self.slot(idx).state);
            dropped.extend(self.place(idx, out, false));
        }
        self.settle();
        dropped.reverse();
        dropped.append(&mut self.unhooked);
        self.unhooked = dropped;
        self.hand_unhooked();
    }

    /// Hands the hook the dropped items it has not had yet.
    fn hand_unhooked(&mut self) {
        while let Some(item) = self.unhooked.pop() {
            self.hook.dropped(item);
        }
    }
}

impl<K, M, F, D> Machine for Keyed<K, M, F, D>
where
    K: Hash + Eq + Clone,
    M: PerKey<K>,
    F: FnMut(&M::Item) -> K,
    D: DropHook<M::Item>,
{
    type Item = M::Item;
    type Output = M::Labeled;

    fn on_deadlines(&mut self, now: Instant) -> Option<M::Labeled> {
        self.hand_unhooked();
        for idx in std::mem::take(&mut self.due) {
            match self.slots.get_mut(idx as usize) {
                Some(Some(slot)) if slot.state.due() => {
                    let out = slot.state.on_deadlines(now);
                    let dropped = self.place(idx, out, true);
                    self.drop_item(dropped);
                }
                _ => {}
            }
        }
        while let Some(idx) = self.pop_exact(When::At(now)) {
            let slot = self.slot(idx);
            // Its entry is popped: `place` makes the next one.
            slot.queued = None;
            let out = slot.state.on_deadlines(now);
            let dropped = self.place(idx, out, true);
            self.drop_item(dropped);
        }
        self.settle();
        self.out.pop_front()
    }

    fn on_item<C: Clock>(&mut self, item: M::Item, at: &mut Arrival<'_, C>) -> Option<M::Labeled> {
        let key = (self.key_fn)(&item);
        let idx = self.find_or_open(key, at.latest());
        let next = self.opened;
        let slot = self.slot(idx);
        if slot.renew {
            // A new place in the order of ties: the old heap entry goes stale.
            slot.renew = false;
            slot.opened = next;
            slot.queued = None;
            self.opened += 1;
        }
        // Should the state's `on_item` panic (a weigher), its key is placed all the same.
        let mut placing = Placing {
            keyed: self,
            idx,
            done: false,
        };
        let out = placing.keyed.slot(idx).state.on_item(item, at);
        placing.done = true;
        drop(placing);
        if at.dated_by_alarm() {
            let slot = self.slot(idx);
            if !slot.stamped {
                slot.stamped = true;
                self.stamped.push(idx);
            }
        }
        let dropped = self.place(idx, out, false);
        self.settle();
        self.drop_item(dropped);
        self.out.pop_front()
    }

    fn on_idle(&mut self, why: Idle) -> Option<M::Labeled> {
        if self.template.acts_on_idle() {
            self.visit_all(|state| state.on_idle(why));
        }
        self.out.pop_front()
    }

    fn on_end(&mut self) -> Option<M::Labeled> {
        self.ended = true;
        self.visit_all(|state| state.on_end());
        self.out.pop_front()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek()?;
        match self.first() {
            Some(When::At(at)) => Some(at),
            Some(When::Never) => None,
            // Not settled: a hook panicked while keys were served. An instant at or before
            // every deadline makes the engine look at once; `on_deadlines` settles.
            None => Some(self.base),
        }
    }

    /// The earliest deadline of any key, though it may yield nothing (a window that ends with
    /// nothing to pass): the engine then just looks again.
    fn wake_at(&self) -> Option<Instant> {
        self.next_deadline()
    }

    fn calls_out(&self) -> bool {
        // The states' own drop hooks only stash; the user's is called here. A weigher is
        // called by the states.
        !D::DOES_NOTHING || self.template.calls_out()
    }

    fn dates_items(&self) -> bool {
        self.template.dates_items()
    }

    fn queued(&mut self) -> Option<M::Labeled> {
        // The outputs of keys served by one reading, in deadline order: every key still in
        // the heap, or made due since, comes after them. The inner stream is not polled
        // while any waits, so nothing else can come first.
        if self.unhooked.is_empty() {
            self.out.pop_front()
        } else {
            None
        }
    }

    fn due(&self) -> bool {
        !self.out.is_empty() || !self.due.is_empty() || !self.unhooked.is_empty()
    }

    fn absorb_run<R: Run<M::Item>>(&mut self, _run: R, _time: Instant) -> R::Out {
        // `room` is zero: every item goes through `on_item`, which finds its key.
        unreachable!("a keyed machine takes no runs")
    }

    fn restamp(&mut self, from: Instant, to: Instant) {
        // A deadline moved later: the key's heap entry may lie before it, and is taken as
        // early when popped. A place freed and taken again since holds no instant in
        // `from..to` but such dates (every reading since `from` confirmed the rest).
        for &idx in &self.stamped {
            if let Some(Some(slot)) = self.slots.get_mut(idx as usize) {
                slot.state.restamp(from, to);
            }
        }
    }

    fn holds_dated(&self, _from: Instant) -> bool {
        !self.stamped.is_empty()
    }

    fn confirmed(&mut self) {
        for idx in self.stamped.drain(..) {
            if let Some(Some(slot)) = self.slots.get_mut(idx as usize) {
                slot.stamped = false;
            }
        }
    }

    fn rebase(&mut self, from: Instant, to: Instant) {
        self.heap.clear();
        // The ticks count from an instant of the new clock at or before every deadline.
        self.base = to;
        for slot in self.slots.iter_mut().flatten() {
            slot.state.rebase(from, to);
            if let Some(deadline) = slot.state.next_deadline() {
                self.base = self.base.min(deadline);
            }
        }
        for idx in 0..self.slots.len() as u32 {
            if let Some(Some(slot)) = self.slots.get(idx as usize) {
                let when = When::of(slot.state.next_deadline());
                self.push_entry(idx, when);
            }
        }
    }

    fn size_hint(&self, (_, upper): (usize, Option<usize>)) -> (usize, Option<usize>) {
        // Each active key yields at most one output for what it holds; every later output
        // needs an item of its own.
        let held = self.out.len();
        let upper = upper
            .and_then(|upper| upper.checked_add(held))
            .and_then(|upper| upper.checked_add(self.index.len()));
        (held, upper)
    }
}

impl<K, M: PerKey<K>, F, D> Keyed<K, M, F, D> {
    /// The state, for the adapters' `Debug`.
    pub(crate) fn debug_fields(&self, out: &mut fmt::DebugStruct<'_, '_>) {
        out.field("keys", &self.index.len())
            .field("max_keys", &self.max_keys)
            .field("outputs_waiting", &self.out.len());
    }

    /// The user's drop hook, for the adapters' `Debug`.
    pub(crate) fn hook(&self) -> &D {
        &self.hook
    }
}
