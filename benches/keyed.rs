//! The keyed adapters (`batch_by`, `throttle_by`, `debounce_by`): their speed against a
//! hand-written `HashMap` + `tokio_util::time::DelayQueue` and against the plain adapter, their
//! memory per active key, the deadline structure they use (a binary heap with lazy deletion)
//! against a hashed timing wheel, and their lateness on the real clock with 10,000 deadlines
//! close together.
//!
//! Sections, chosen by the arguments (all of them when none is named; a number sets the rounds
//! of the timed sections):
//! - `hold`: speed, 1,000,000 `(key, value)` items over 10,000 keys (uniform, and Zipf with
//!   s = 1.0), with periods of 10 s: no deadline passes during a run, so every contender does
//!   the same work and yields the same outputs (checked before timing). Every contender is
//!   polled by the same loop with a no-op waker (`support::drive`), inside the same tokio
//!   current-thread runtime context (`Runtime::enter`; the `DelayQueue` needs it).
//! - `fire`: the same items with periods of 10 ms on the real clock, so deadlines pass during a
//!   run. Every contender runs as the future of a tokio current-thread runtime's `block_on`
//!   (with `enable_time`), over a source that is always ready but takes one unit of tokio's
//!   cooperative budget per item, as tokio's own channels do: every 128 items it returns
//!   `Pending` and wakes its task, and the runtime then turns its timer (without that, no
//!   `DelayQueue` entry could expire while the source is ready). Outputs then depend on timing:
//!   their counts are printed.
//! - `memory`: live heap bytes per active key (a counting global allocator): with N keys each
//!   holding one item (throttle: an open window), minus with none, divided by N.
//! - `wheel`: the crate's deadline structure against a hashed timing wheel, on the access
//!   pattern of the keyed machine, simulated without the adapters.
//! - `lateness`: 10,000 items of distinct keys, as fast as they come, into
//!   `batch_by(.., 1000, 20ms).with_reasons()` and `debounce_by(.., 20ms)` on `SystemClock`;
//!   each output's receipt minus its deadline (the source's stamp of the item + 20 ms), with
//!   diagnostics; then, on `ManualClock`, the cost per key of taking the keys in and of serving
//!   them once all are due.
//!
//! The contenders of `hold` and `fire`, with the same parameters (10 s or 10 ms):
//! - keyed: `batch_by(|x| x.0, 100, d)`, `throttle_by(|x| x.0, d)` (leading edge),
//!   `debounce_by(|x| x.0, d)` (trailing edge), on their default `SystemClock`;
//! - dq: a hand-written `Stream` over a `HashMap` of per-key state and a `DelayQueue` of keys,
//!   which polls its source first and then the `DelayQueue`, once each per loop turn (so a
//!   deadline is acted on between two items, as the keyed adapters do): a batch per key of at
//!   most 100 items whose deadline is set at its first item (`insert`, and `remove` when it
//!   leaves full); a leading throttle per key (`insert` as a window opens); a trailing debounce
//!   per key whose entry moves with each item (`reset`);
//! - plain: `batch(100, d)`, `throttle(d)`, `debounce(d)` over the same items, as if all had
//!   one key: what the keys cost;
//! - map (`hold` only): dq without its `DelayQueue`, the per-key `HashMap` work alone with no
//!   timing at all (`entry` and `push`, `insert`), the floor of any keyed design that keeps
//!   its per-key state in std's `HashMap`; its share of dq bounds what keyed ÷ dq can reach.
//!
//! Each round times every contender of a scenario once, in an order that rotates from round to
//! round; the minimum and the median per item are reported, with their ratios.
//!
//! Run: `cargo bench --bench keyed` (every section, about 65 s), or e.g. `cargo bench --bench
//! keyed -- hold 15` (one section, 15 rounds); `-- profile=batch/uniform/keyed` runs one
//! contender of `hold` over and over, for a profiler. Built without the crate's `tokio`
//! feature, the keyed and plain adapters run on futures-timer in `fire` too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{self, Stream, StreamExt};
use futures::task::noop_waker;
use streamz::{FlushReason, ManualClock, StreamzExt};
use tokio::runtime::Runtime;
use tokio_util::time::{delay_queue, DelayQueue};

mod support;

// ---------------------------------------------------------------------------------------------
// A global allocator that counts live bytes.

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counter neither allocates nor
// touches the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live_bytes() -> i64 {
    LIVE.load(Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Workloads.

const ITEMS: usize = 1_000_000;
const KEYS: u32 = 10_000;
const MAX_SIZE: usize = 100;
/// `hold`'s period: far longer than a run.
const HOLD: Duration = Duration::from_secs(10);
/// `fire`'s period.
const FIRE: Duration = Duration::from_millis(10);

/// `(key, value)`; the value is the item's index.
type Item = (u32, u64);

/// xorshift64*: deterministic and good enough for a benchmark's keys.
struct XorShift(u64);

impl XorShift {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn uniform_keys(n: usize, keys: u32, seed: u64) -> Vec<u32> {
    let mut rng = XorShift(seed);
    (0..n)
        .map(|_| (rng.next_u64() % keys as u64) as u32)
        .collect()
}

/// Key `r` (0-based rank) with probability proportional to `1 / (r + 1)^s`, by inverting the
/// cumulative distribution (a binary search per sample).
fn zipf_keys(n: usize, keys: u32, s: f64, seed: u64) -> Vec<u32> {
    let mut cdf = Vec::with_capacity(keys as usize);
    let mut total = 0.0;
    for rank in 1..=keys {
        total += 1.0 / f64::from(rank).powf(s);
        cdf.push(total);
    }
    let mut rng = XorShift(seed);
    (0..n)
        .map(|_| {
            let u = rng.next_f64() * total;
            cdf.partition_point(|&c| c < u).min(keys as usize - 1) as u32
        })
        .collect()
}

fn items_of(keys: &[u32]) -> Vec<Item> {
    keys.iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u64))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What came out: order-independent, so that contenders that yield the same outputs in another
// order compare equal.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    outputs: u64,
    items: u64,
    sum: u64,
}

trait Output {
    fn tally(self, tally: &mut Tally);
}

impl Output for Item {
    fn tally(self, tally: &mut Tally) {
        tally.outputs += 1;
        tally.items += 1;
        tally.sum = tally.sum.wrapping_add(black_box(self).1);
    }
}

impl Output for Vec<Item> {
    fn tally(self, tally: &mut Tally) {
        tally.outputs += 1;
        tally.items += self.len() as u64;
        for item in black_box(self) {
            tally.sum = tally.sum.wrapping_add(item.1);
        }
    }
}

impl Output for (u32, Vec<Item>) {
    fn tally(self, tally: &mut Tally) {
        self.1.tally(tally);
    }
}

// ---------------------------------------------------------------------------------------------
// The hand-written baselines: a `HashMap` of per-key state and a `DelayQueue` of keys.

/// A batch of at most `max_size` items per key, leaving when full, `latency` after its first
/// item, or at the end (the rest in the map's order).
struct DqBatch<S> {
    source: S,
    max_size: usize,
    latency: Duration,
    map: HashMap<u32, (Vec<Item>, delay_queue::Key)>,
    queue: DelayQueue<u32>,
    rest: Option<std::collections::hash_map::IntoIter<u32, (Vec<Item>, delay_queue::Key)>>,
}

impl<S> DqBatch<S> {
    fn new(source: S, max_size: usize, latency: Duration) -> Self {
        DqBatch {
            source,
            max_size,
            latency,
            map: HashMap::new(),
            queue: DelayQueue::new(),
            rest: None,
        }
    }
}

impl<S: Stream<Item = Item> + Unpin> Stream for DqBatch<S> {
    type Item = (u32, Vec<Item>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(rest) = &mut this.rest {
                return Poll::Ready(rest.next().map(|(key, (batch, _))| (key, batch)));
            }
            let mut source_pending = false;
            match Pin::new(&mut this.source).poll_next(cx) {
                Poll::Ready(Some(item)) => match this.map.entry(item.0) {
                    MapEntry::Occupied(mut entry) => {
                        entry.get_mut().0.push(item);
                        if entry.get().0.len() >= this.max_size {
                            let (key, (batch, timer)) = entry.remove_entry();
                            this.queue.remove(&timer);
                            return Poll::Ready(Some((key, batch)));
                        }
                    }
                    MapEntry::Vacant(entry) => {
                        let timer = this.queue.insert(item.0, this.latency);
                        // The capacity that a first push gives a `Vec` of these items, as
                        // in the keyed adapter's batches; further pushes grow it alike.
                        let mut batch = Vec::with_capacity(4);
                        batch.push(item);
                        entry.insert((batch, timer));
                    }
                },
                Poll::Ready(None) => {
                    this.queue.clear();
                    this.rest = Some(std::mem::take(&mut this.map).into_iter());
                    continue;
                }
                Poll::Pending => source_pending = true,
            }
            if let Poll::Ready(Some(expired)) = this.queue.poll_expired(cx) {
                let key = expired.into_inner();
                if let Some((batch, _)) = this.map.remove(&key) {
                    return Poll::Ready(Some((key, batch)));
                }
            }
            if source_pending {
                return Poll::Pending;
            }
        }
    }
}

/// A leading throttle per key: a key's first item passes and opens a window of `period`, in
/// which its other items are dropped.
struct DqThrottle<S> {
    source: S,
    period: Duration,
    open: HashSet<u32>,
    queue: DelayQueue<u32>,
}

impl<S> DqThrottle<S> {
    fn new(source: S, period: Duration) -> Self {
        DqThrottle {
            source,
            period,
            open: HashSet::new(),
            queue: DelayQueue::new(),
        }
    }
}

impl<S: Stream<Item = Item> + Unpin> Stream for DqThrottle<S> {
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let this = self.get_mut();
        loop {
            let mut source_pending = false;
            match Pin::new(&mut this.source).poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    if this.open.insert(item.0) {
                        this.queue.insert(item.0, this.period);
                        return Poll::Ready(Some(item));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => source_pending = true,
            }
            if let Poll::Ready(Some(expired)) = this.queue.poll_expired(cx) {
                this.open.remove(expired.get_ref());
            }
            if source_pending {
                return Poll::Pending;
            }
        }
    }
}

/// A trailing debounce per key: a key's latest item leaves `quiet` after it arrived, unless
/// another item of the key came first (which moves the key's entry: `reset`); at the end,
/// every pending item leaves (in the map's order).
struct DqDebounce<S> {
    source: S,
    quiet: Duration,
    map: HashMap<u32, (Item, delay_queue::Key)>,
    queue: DelayQueue<u32>,
    rest: Option<std::collections::hash_map::IntoValues<u32, (Item, delay_queue::Key)>>,
}

impl<S> DqDebounce<S> {
    fn new(source: S, quiet: Duration) -> Self {
        DqDebounce {
            source,
            quiet,
            map: HashMap::new(),
            queue: DelayQueue::new(),
            rest: None,
        }
    }
}

impl<S: Stream<Item = Item> + Unpin> Stream for DqDebounce<S> {
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let this = self.get_mut();
        loop {
            if let Some(rest) = &mut this.rest {
                return Poll::Ready(rest.next().map(|(item, _)| item));
            }
            let mut source_pending = false;
            match Pin::new(&mut this.source).poll_next(cx) {
                Poll::Ready(Some(item)) => match this.map.entry(item.0) {
                    MapEntry::Occupied(mut entry) => {
                        let (latest, timer) = entry.get_mut();
                        *latest = item;
                        this.queue.reset(timer, this.quiet);
                    }
                    MapEntry::Vacant(entry) => {
                        let timer = this.queue.insert(item.0, this.quiet);
                        entry.insert((item, timer));
                    }
                },
                Poll::Ready(None) => {
                    this.queue.clear();
                    this.rest = Some(std::mem::take(&mut this.map).into_values());
                    continue;
                }
                Poll::Pending => source_pending = true,
            }
            if let Poll::Ready(Some(expired)) = this.queue.poll_expired(cx) {
                if let Some((item, _)) = this.map.remove(expired.get_ref()) {
                    return Poll::Ready(Some(item));
                }
            }
            if source_pending {
                return Poll::Pending;
            }
        }
    }
}

/// The map work of a `Dq*` baseline alone, without its `DelayQueue`: what any contender that
/// keeps each key's state in a std `HashMap` (SipHash) does per item, with no timing at all.
/// Only for `hold`, where no deadline passes, so its outputs are those of the others.
struct MapOnly<S> {
    source: S,
    adapter: &'static str,
    batches: HashMap<u32, Vec<Item>>,
    open: HashSet<u32>,
    latest: HashMap<u32, Item>,
    rest: Option<std::vec::IntoIter<(u32, Vec<Item>)>>,
}

impl<S> MapOnly<S> {
    fn new(source: S, adapter: &'static str) -> Self {
        MapOnly {
            source,
            adapter,
            batches: HashMap::new(),
            open: HashSet::new(),
            latest: HashMap::new(),
            rest: None,
        }
    }
}

/// An output of `MapOnly`: a batch, or one item (throttle, debounce).
enum MapOut {
    Batch((u32, Vec<Item>)),
    One(Item),
}

impl Output for MapOut {
    fn tally(self, tally: &mut Tally) {
        match self {
            MapOut::Batch(batch) => batch.tally(tally),
            MapOut::One(item) => item.tally(tally),
        }
    }
}

impl<S: Stream<Item = Item> + Unpin> Stream for MapOnly<S> {
    type Item = MapOut;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<MapOut>> {
        let this = self.get_mut();
        loop {
            if let Some(rest) = &mut this.rest {
                return Poll::Ready(rest.next().map(|(key, batch)| match this.adapter {
                    "batch" => MapOut::Batch((key, batch)),
                    _ => MapOut::One(batch[0]),
                }));
            }
            match ready!(Pin::new(&mut this.source).poll_next(cx)) {
                Some(item) => match this.adapter {
                    "batch" => {
                        let batch = this.batches.entry(item.0).or_insert_with(|| {
                            // As the baseline's first push.
                            Vec::with_capacity(4)
                        });
                        batch.push(item);
                        if batch.len() >= MAX_SIZE {
                            let batch = this.batches.remove(&item.0).unwrap_or_default();
                            return Poll::Ready(Some(MapOut::Batch((item.0, batch))));
                        }
                    }
                    "throttle" => {
                        if this.open.insert(item.0) {
                            return Poll::Ready(Some(MapOut::One(item)));
                        }
                    }
                    _ => {
                        this.latest.insert(item.0, item);
                    }
                },
                None => {
                    let batches = std::mem::take(&mut this.batches).into_iter();
                    let latest = std::mem::take(&mut this.latest).into_iter();
                    let rest = batches.chain(latest.map(|(key, item)| (key, vec![item])));
                    this.rest = Some(rest.collect::<Vec<_>>().into_iter());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sources and drivers of the timed sections.

/// Always ready; each item passes through `black_box`, so the compiler cannot see through the
/// source.
struct Opaque<'a> {
    items: std::slice::Iter<'a, Item>,
}

impl Stream for Opaque<'_> {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Item>> {
        Poll::Ready(self.items.next().map(|&item| black_box(item)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

/// Always ready (each item through `black_box`), but takes a unit of tokio's cooperative budget
/// per item, as tokio's channels do: once the task's budget is spent it returns `Pending` (and
/// wakes the task).
struct CoopSource<'a> {
    items: std::slice::Iter<'a, Item>,
}

impl Stream for CoopSource<'_> {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let progress = ready!(tokio::task::coop::poll_proceed(cx));
        progress.made_progress();
        Poll::Ready(self.items.next().map(|&item| black_box(item)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

/// How the contenders of a timed section are fed and driven.
trait Mode {
    type Source<'a>: Stream<Item = Item> + Unpin;

    /// The period of every contender.
    const PERIOD: Duration;

    fn source<'a>(&self, items: &'a [Item]) -> Self::Source<'a>;

    fn run<S: Stream>(&self, stream: S) -> Tally
    where
        S::Item: Output;
}

/// `hold`: a no-op waker, no deadline passes.
struct Hold<'r>(&'r Runtime);

impl Mode for Hold<'_> {
    type Source<'a> = Opaque<'a>;

    const PERIOD: Duration = HOLD;

    fn source<'a>(&self, items: &'a [Item]) -> Opaque<'a> {
        Opaque {
            items: items.iter(),
        }
    }

    fn run<S: Stream>(&self, stream: S) -> Tally
    where
        S::Item: Output,
    {
        let _context = self.0.enter();
        let mut tally = Tally::default();
        support::drive(stream, support::never, |out| out.tally(&mut tally));
        tally
    }
}

/// `fire`: the task of a tokio current-thread runtime, deadlines pass during the run.
struct Fire<'r>(&'r Runtime);

impl Mode for Fire<'_> {
    type Source<'a> = CoopSource<'a>;

    const PERIOD: Duration = FIRE;

    fn source<'a>(&self, items: &'a [Item]) -> CoopSource<'a> {
        CoopSource {
            items: items.iter(),
        }
    }

    fn run<S: Stream>(&self, stream: S) -> Tally
    where
        S::Item: Output,
    {
        self.0.block_on(async {
            let mut stream = pin!(stream);
            let mut tally = Tally::default();
            while let Some(out) = stream.next().await {
                out.tally(&mut tally);
            }
            tally
        })
    }
}

type Contender<'a> = Box<dyn Fn() -> Tally + 'a>;

/// The contenders of one adapter over `items`: keyed, dq, plain, and in `hold` map.
fn contenders<'a, M: Mode>(m: &'a M, adapter: &str, items: &'a [Item]) -> Vec<Contender<'a>> {
    let d = M::PERIOD;
    let key = |item: &Item| item.0;
    let mut all: Vec<Contender<'a>> = match adapter {
        "batch" => vec![
            Box::new(move || m.run(m.source(items).batch_by(key, MAX_SIZE, d))),
            Box::new(move || m.run(DqBatch::new(m.source(items), MAX_SIZE, d))),
            Box::new(move || m.run(m.source(items).batch(MAX_SIZE, d))),
        ],
        "throttle" => vec![
            Box::new(move || m.run(m.source(items).throttle_by(key, d))),
            Box::new(move || m.run(DqThrottle::new(m.source(items), d))),
            Box::new(move || m.run(m.source(items).throttle(d))),
        ],
        "debounce" => vec![
            Box::new(move || m.run(m.source(items).debounce_by(key, d))),
            Box::new(move || m.run(DqDebounce::new(m.source(items), d))),
            Box::new(move || m.run(m.source(items).debounce(d))),
        ],
        _ => unreachable!("no adapter {adapter}"),
    };
    if M::PERIOD == HOLD {
        let adapter = ADAPTERS
            .into_iter()
            .find(|a| *a == adapter)
            .expect("an adapter");
        all.push(Box::new(move || {
            m.run(MapOnly::new(m.source(items), adapter))
        }));
    }
    all
}

const ADAPTERS: [&str; 3] = ["batch", "throttle", "debounce"];

fn min_median(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (samples[0], samples[samples.len() / 2])
}

fn time_per_item(f: &Contender<'_>, tallies: &mut Vec<Tally>) -> f64 {
    let start = Instant::now();
    let tally = f();
    let ns = start.elapsed().as_nanos() as f64 / ITEMS as f64;
    tallies.push(tally);
    ns
}

fn speed<M: Mode>(m: &M, name: &str, workloads: &[(&str, Vec<Item>)], rounds: usize) {
    println!(
        "\n[{name}] {rounds} rounds of {ITEMS} items, {KEYS} keys, period {:?}; ns per item",
        M::PERIOD
    );
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7}",
        "scenario",
        "key min",
        "dq min",
        "plain mn",
        "key med",
        "dq med",
        "plain md",
        "k/dq mn",
        "k/dq md",
        "k/pl mn",
        "k/pl md"
    );
    let mut counts = Vec::new();
    let mut floors = Vec::new();
    for adapter in ADAPTERS {
        for (dist, items) in workloads {
            let scenario = format!("{adapter}/{dist}");
            let all = contenders(m, adapter, items);
            if M::PERIOD == HOLD {
                check_same(adapter, items);
            }
            let n = all.len();
            let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
            let mut tallies: Vec<Vec<Tally>> = vec![Vec::new(); n];
            for round in 0..rounds {
                for i in 0..n {
                    let c = (round + i) % n;
                    samples[c].push(time_per_item(&all[c], &mut tallies[c]));
                }
            }
            if M::PERIOD == HOLD {
                // Nothing passes by time: every run gives the same outputs, and keyed, dq and
                // map give the same ones.
                for t in [&tallies[0], &tallies[3]] {
                    assert!(t.iter().all(|t| *t == tallies[1][0]), "{scenario}");
                }
            }
            let mut mm: Vec<(f64, f64)> = samples.iter_mut().map(|s| min_median(s)).collect();
            let ((k_min, k_med), (d_min, d_med), (p_min, p_med)) = (mm[0], mm[1], mm[2]);
            println!(
                "{scenario:<18} {k_min:>8.2} {d_min:>8.2} {p_min:>8.2} {k_med:>8.2} {d_med:>8.2} \
                 {p_med:>8.2} {:>6.2}x {:>6.2}x {:>6.1}x {:>6.1}x",
                k_min / d_min,
                k_med / d_med,
                k_min / p_min,
                k_med / p_med
            );
            if let Some((f_min, f_med)) = mm.pop().filter(|_| n == 4) {
                floors.push((scenario.clone(), f_min, f_med, d_min, d_med, k_min, k_med));
            }
            counts.push((scenario, tallies));
        }
    }
    if !floors.is_empty() {
        println!(
            "map: the baseline's HashMap work alone (no timer); ns per item, and its share of dq"
        );
        println!(
            "{:<18} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "scenario", "map min", "map med", "m/dq mn", "m/dq md", "k/map mn", "k/map md"
        );
        for (scenario, f_min, f_med, d_min, d_med, k_min, k_med) in floors {
            println!(
                "{scenario:<18} {f_min:>8.2} {f_med:>8.2} {:>7.2}x {:>7.2}x {:>7.2}x {:>7.2}x",
                f_min / d_min,
                f_med / d_med,
                k_min / f_min,
                k_med / f_med
            );
        }
    }
    println!("outputs per run, min..max over rounds (keyed | dq | plain)");
    for (scenario, tallies) in counts {
        let range = |t: &[Tally]| {
            let lo = t.iter().map(|t| t.outputs).min().unwrap_or(0);
            let hi = t.iter().map(|t| t.outputs).max().unwrap_or(0);
            format!("{lo}..{hi}")
        };
        println!(
            "  {scenario:<18} {:>15} | {:>15} | {:>15}",
            range(&tallies[0]),
            range(&tallies[1]),
            range(&tallies[2])
        );
    }
}

/// `hold`: keyed and dq yield the same outputs, compared whole (sorted), not only tallied.
fn check_same(adapter: &str, items: &[Item]) {
    fn collect<S: Stream>(stream: S) -> Vec<S::Item>
    where
        S::Item: Ord,
    {
        let mut out = Vec::new();
        support::drive(stream, support::never, |x| out.push(x));
        out.sort();
        out
    }
    let src = || stream::iter(items.iter().copied());
    let rt = runtime();
    let _context = rt.enter();
    let key = |item: &Item| item.0;
    let same = match adapter {
        "batch" => {
            collect(src().batch_by(key, MAX_SIZE, HOLD))
                == collect(DqBatch::new(src(), MAX_SIZE, HOLD))
        }
        "throttle" => {
            collect(src().throttle_by(key, HOLD)) == collect(DqThrottle::new(src(), HOLD))
        }
        _ => collect(src().debounce_by(key, HOLD)) == collect(DqDebounce::new(src(), HOLD)),
    };
    assert!(same, "{adapter}: keyed and dq differ");
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

// ---------------------------------------------------------------------------------------------
// Memory per active key.

/// Yields `(k, k)` for `k` in `0..n`, then returns `Pending` for good (waking nobody).
struct Held {
    next: u32,
    end: u32,
    drained: Rc<Cell<bool>>,
}

impl Stream for Held {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Item>> {
        if self.next == self.end {
            self.drained.set(true);
            return Poll::Pending;
        }
        let k = self.next;
        self.next += 1;
        Poll::Ready(Some((k, u64::from(k))))
    }
}

/// Live bytes held by the stream that `make` builds over `n` items of distinct keys, once it
/// has taken them all (its outputs are dropped as they come).
fn bytes_held<S: Stream + Unpin>(make: &dyn Fn(Held) -> S, n: u32) -> i64 {
    let drained = Rc::new(Cell::new(false));
    let source = Held {
        next: 0,
        end: n,
        drained: drained.clone(),
    };
    let before = live_bytes();
    let mut stream = make(source);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(Some(out)) => drop(out),
            Poll::Ready(None) => unreachable!("the source never ends"),
            Poll::Pending if drained.get() => break,
            Poll::Pending => {}
        }
    }
    let held = live_bytes() - before;
    drop(stream);
    held
}

fn per_key<S: Stream + Unpin>(make: &dyn Fn(Held) -> S, n: u32) -> f64 {
    // Once untimed, for process-wide state (the timer thread, the runtime's timer).
    bytes_held(make, 1000);
    (bytes_held(make, n) - bytes_held(make, 0)) as f64 / f64::from(n)
}

fn memory() {
    const LONG: Duration = Duration::from_secs(3600);
    let rt = runtime();
    let _context = rt.enter();
    let key = |item: &Item| item.0;
    println!("\n[memory] live heap bytes per active key, (with N keys - with none) / N");
    println!(
        "{:<10} {:>16} {:>16} {:>16} {:>16}",
        "adapter", "keyed N=10k", "dq N=10k", "keyed N=100k", "dq N=100k"
    );
    let row = |name: &str, keyed: [f64; 2], dq: [f64; 2]| {
        println!(
            "{name:<10} {:>16.1} {:>16.1} {:>16.1} {:>16.1}",
            keyed[0], dq[0], keyed[1], dq[1]
        );
    };
    let ns = [10_000, 100_000];
    row(
        "batch",
        ns.map(|n| per_key(&|s| s.batch_by(key, MAX_SIZE, LONG), n)),
        ns.map(|n| per_key(&|s| DqBatch::new(s, MAX_SIZE, LONG), n)),
    );
    row(
        "throttle",
        ns.map(|n| per_key(&|s| s.throttle_by(key, LONG), n)),
        ns.map(|n| per_key(&|s| DqThrottle::new(s, LONG), n)),
    );
    row(
        "debounce",
        ns.map(|n| per_key(&|s| s.debounce_by(key, LONG), n)),
        ns.map(|n| per_key(&|s| DqDebounce::new(s, LONG), n)),
    );
    println!(
        "(items are (u32, u64), 16 bytes; a batch holds one item, in a Vec of capacity 4; a \
         throttle key holds an open window and no item)"
    );
}

// ---------------------------------------------------------------------------------------------
// Heap against timing wheel.

/// A deadline entry as the keyed machine keeps it: the deadline, when the key's state opened
/// (the tie-break), and the key's slot. Ordered by all three, earliest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Deadline {
    when: Instant,
    opened: u64,
    slot: u32,
}

/// What the keyed machine needs of its deadline structure.
trait Deadlines {
    fn push(&mut self, entry: Deadline);
    /// The earliest entry.
    fn first(&mut self) -> Option<Deadline>;
    /// Takes the earliest entry.
    fn pop_first(&mut self) -> Option<Deadline>;
}

impl<Q: Deadlines> Deadlines for &mut Q {
    fn push(&mut self, entry: Deadline) {
        (**self).push(entry);
    }

    fn first(&mut self) -> Option<Deadline> {
        (**self).first()
    }

    fn pop_first(&mut self) -> Option<Deadline> {
        (**self).pop_first()
    }
}

/// The crate's structure: a binary heap, entries of forgotten keys left in place until they
/// come up.
#[derive(Default)]
struct Heap(BinaryHeap<Reverse<Deadline>>);

impl Deadlines for Heap {
    fn push(&mut self, entry: Deadline) {
        self.0.push(Reverse(entry));
    }

    fn first(&mut self) -> Option<Deadline> {
        self.0.peek().map(|e| e.0)
    }

    fn pop_first(&mut self) -> Option<Deadline> {
        self.0.pop().map(|e| e.0)
    }
}

const WHEEL_SLOTS: u64 = 64;
const TICK_NS: u64 = 1_000_000;

/// A hashed timing wheel of 64 slots of 1 ms. Every entry in the wheel lies in a tick within
/// `cur..cur + 64`; later ones wait in `overflow`. The slot that comes first is sorted when
/// it does (pdqsort: one pass over entries that came in deadline order) and kept sorted while
/// it is first, its entries leaving from `head` on; so entries leave in exact deadline order,
/// as from the heap. Entries of forgotten keys stay in place, as in the heap.
struct Wheel {
    base: Instant,
    /// No entry lies in a tick before this one.
    cur: u64,
    slots: Vec<Vec<Deadline>>,
    /// Bit `i`: slot `i` holds entries.
    occupied: u64,
    overflow: BinaryHeap<Reverse<Deadline>>,
    /// The slot that comes first and its tick, once found (and sorted), until it empties.
    front: Option<(usize, u64)>,
    /// The entries of the first slot before this index have left.
    head: usize,
}

impl Wheel {
    fn new(base: Instant) -> Self {
        Wheel {
            base,
            cur: 0,
            slots: (0..WHEEL_SLOTS).map(|_| Vec::new()).collect(),
            occupied: 0,
            overflow: BinaryHeap::new(),
            front: None,
            head: 0,
        }
    }

    fn tick(&self, when: Instant) -> u64 {
        let d = when.saturating_duration_since(self.base);
        (d.as_secs() * 1_000_000_000 + u64::from(d.subsec_nanos())) / TICK_NS
    }

    fn place(&mut self, entry: Deadline, tick: u64) {
        let i = (tick % WHEEL_SLOTS) as usize;
        match self.front {
            Some((f, _)) if f == i => {
                // The first slot stays sorted: mostly a push at its end.
                let slot = &mut self.slots[i];
                let at = self.head + slot[self.head..].partition_point(|e| *e < entry);
                slot.insert(at, entry);
            }
            Some((f, front)) if tick < front => {
                // An earlier slot, so an empty one, comes first now.
                self.slots[f].drain(..self.head);
                self.head = 0;
                self.slots[i].push(entry);
                self.front = Some((i, tick));
            }
            _ => self.slots[i].push(entry),
        }
        self.occupied |= 1u64 << i;
    }

    /// Moves entries from `overflow` whose tick now lies within the wheel.
    fn migrate(&mut self) {
        while let Some(Reverse(top)) = self.overflow.peek() {
            let tick = self.tick(top.when).max(self.cur);
            if tick >= self.cur + WHEEL_SLOTS {
                break;
            }
            let top = *top;
            self.overflow.pop();
            self.place(top, tick);
        }
    }

    /// The slot that comes first, sorted.
    #[inline]
    fn front(&mut self) -> Option<usize> {
        match self.front {
            Some((i, _)) => Some(i),
            None => self.find_front(),
        }
    }

    /// Finds the slot that comes first and sorts it.
    #[inline(never)]
    fn find_front(&mut self) -> Option<usize> {
        if self.occupied == 0 {
            let Reverse(top) = self.overflow.peek()?;
            self.cur = self.tick(top.when).max(self.cur);
            self.migrate();
        }
        let offset = self
            .occupied
            .rotate_right((self.cur % WHEEL_SLOTS) as u32)
            .trailing_zeros();
        let i = ((self.cur + u64::from(offset)) % WHEEL_SLOTS) as usize;
        self.slots[i].sort_unstable();
        self.head = 0;
        self.front = Some((i, self.cur + u64::from(offset)));
        Some(i)
    }
}

impl Deadlines for Wheel {
    fn push(&mut self, entry: Deadline) {
        let tick = self.tick(entry.when).max(self.cur);
        if tick >= self.cur + WHEEL_SLOTS {
            self.overflow.push(Reverse(entry));
        } else {
            self.place(entry, tick);
        }
    }

    fn first(&mut self) -> Option<Deadline> {
        let i = self.front()?;
        Some(self.slots[i][self.head])
    }

    fn pop_first(&mut self) -> Option<Deadline> {
        let i = self.front()?;
        let entry = self.slots[i][self.head];
        self.head += 1;
        if self.head == self.slots[i].len() {
            self.slots[i].clear();
            self.head = 0;
            self.occupied &= !(1u64 << i);
            self.front = None;
            // Every entry left lies in a later tick: the wheel turns past this slot.
            let offset = (i as u64 + WHEEL_SLOTS - self.cur % WHEEL_SLOTS) % WHEEL_SLOTS;
            self.cur += offset + 1;
            self.migrate();
        }
        Some(entry)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// A deadline when a key opens; the key leaves after 100 items or at its deadline.
    Batch,
    /// A deadline when a key opens; the key leaves at its deadline.
    Throttle,
    /// Every item moves its key's deadline; the entry stays where it was and is put back
    /// at the deadline when it comes up.
    Debounce,
}

#[derive(Clone, Copy)]
struct KeyState {
    active: bool,
    opened: u64,
    queued: Option<Instant>,
    deadline: Instant,
    count: u32,
}

/// The keyed machine's bookkeeping (`src/keyed.rs`) without the adapters: keys are slots
/// (no hashing), the time is virtual.
struct Sim<Q> {
    queue: Q,
    keys: Vec<KeyState>,
    opened: u64,
    pattern: Pattern,
    /// Order-sensitive: the keys served, in order.
    served: u64,
    pushes: u64,
}

impl<Q: Deadlines> Sim<Q> {
    fn new(queue: Q, keys: u32, pattern: Pattern, base: Instant) -> Self {
        let idle = KeyState {
            active: false,
            opened: 0,
            queued: None,
            deadline: base,
            count: 0,
        };
        Sim {
            queue,
            keys: vec![idle; keys as usize],
            opened: 0,
            pattern,
            served: 0,
            pushes: 0,
        }
    }

    fn live(&self, e: &Deadline) -> bool {
        let k = &self.keys[e.slot as usize];
        k.active && k.opened == e.opened && k.queued == Some(e.when)
    }

    fn push(&mut self, entry: Deadline) {
        self.pushes += 1;
        self.queue.push(entry);
    }

    fn forget(&mut self, slot: u32) {
        let k = &mut self.keys[slot as usize];
        k.active = false;
        k.queued = None;
        self.served = self.served.wrapping_mul(31).wrapping_add(u64::from(slot));
    }

    /// Every key whose deadline is at or before `now`, in deadline order.
    fn on_deadlines(&mut self, now: Instant) {
        while let Some(top) = self.queue.first() {
            if top.when > now {
                break;
            }
            self.queue.pop_first();
            if !self.live(&top) {
                continue;
            }
            let k = &mut self.keys[top.slot as usize];
            if k.deadline != top.when {
                k.queued = Some(k.deadline);
                let entry = Deadline {
                    when: k.deadline,
                    opened: k.opened,
                    slot: top.slot,
                };
                self.push(entry);
                continue;
            }
            self.forget(top.slot);
        }
        self.settle();
    }

    fn settle(&mut self) {
        while let Some(top) = self.queue.first() {
            if self.live(&top) {
                break;
            }
            self.queue.pop_first();
        }
    }

    fn on_item(&mut self, slot: u32, now: Instant, ahead: Duration) {
        let k = &mut self.keys[slot as usize];
        if !k.active {
            k.active = true;
            k.opened = self.opened;
            k.count = 0;
            k.deadline = now + ahead;
            k.queued = Some(k.deadline);
            let entry = Deadline {
                when: k.deadline,
                opened: k.opened,
                slot,
            };
            self.opened += 1;
            self.push(entry);
        } else if self.pattern == Pattern::Debounce {
            k.deadline = now + ahead;
        }
        let k = &mut self.keys[slot as usize];
        k.count += 1;
        if self.pattern == Pattern::Batch && k.count == MAX_SIZE as u32 {
            self.forget(slot);
        }
        self.settle();
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        self.queue.first().map(|e| e.when)
    }
}

/// Virtual time between two items: 1,000,000 items span 100 ms, ten periods of 10 ms.
const SIM_STEP: Duration = Duration::from_nanos(100);

fn simulate<Q: Deadlines>(queue: Q, keys: &[u32], pattern: Pattern, base: Instant) -> (u64, u64) {
    let mut sim = Sim::new(queue, KEYS, pattern, base);
    let mut now = base;
    for &key in keys {
        now += SIM_STEP;
        if sim.next_deadline().is_some_and(|d| d <= now) {
            sim.on_deadlines(now);
        }
        sim.on_item(key, now, FIRE);
    }
    (sim.served, sim.pushes)
}

/// The calls on a deadline structure, as the simulated machine made them: one byte per call
/// (`PUSH`, `FIRST`, `POP`), and the entries pushed, in order.
#[derive(Default)]
struct Ops {
    calls: Vec<u8>,
    pushed: Vec<Deadline>,
}

const PUSH: u8 = 0;
const FIRST: u8 = 1;
const POP: u8 = 2;

/// Forwards every call to `Q` and records it.
struct Recorder<Q> {
    queue: Q,
    ops: Ops,
}

impl<Q: Deadlines> Deadlines for Recorder<Q> {
    fn push(&mut self, entry: Deadline) {
        self.ops.calls.push(PUSH);
        self.ops.pushed.push(entry);
        self.queue.push(entry);
    }

    fn first(&mut self) -> Option<Deadline> {
        self.ops.calls.push(FIRST);
        self.queue.first()
    }

    fn pop_first(&mut self) -> Option<Deadline> {
        self.ops.calls.push(POP);
        self.queue.pop_first()
    }
}

/// The structure alone: the recorded calls, one after the other.
fn replay<Q: Deadlines>(mut queue: Q, ops: &Ops) -> u64 {
    let mut seen = 0u64;
    let mut pushed = ops.pushed.iter();
    for &call in &ops.calls {
        match call {
            PUSH => queue.push(*pushed.next().expect("recorded")),
            FIRST => seen ^= queue.first().map_or(0, |e| u64::from(e.slot)),
            _ => {
                let slot = queue.pop_first().map_or(0, |e| u64::from(e.slot));
                seen = seen.wrapping_mul(31).wrapping_add(slot);
            }
        }
    }
    seen
}

/// `rounds` alternating timings of `a` and `b` (ns per item): (min, median) of each.
fn alternate(rounds: usize, items: usize, a: impl Fn() -> u64, b: impl Fn() -> u64) -> [f64; 4] {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let time = |f: &dyn Fn() -> u64, to: &mut Vec<f64>| {
        let start = Instant::now();
        black_box(f());
        to.push(start.elapsed().as_nanos() as f64 / items as f64);
    };
    for round in 0..rounds {
        if round % 2 == 0 {
            time(&a, &mut ta);
            time(&b, &mut tb);
        } else {
            time(&b, &mut tb);
            time(&a, &mut ta);
        }
    }
    let (a_min, a_med) = min_median(&mut ta);
    let (b_min, b_med) = min_median(&mut tb);
    [a_min, b_min, a_med, b_med]
}

fn wheel(workloads: &[(&str, Vec<u32>)], rounds: usize) {
    println!(
        "\n[wheel] {rounds} rounds of {ITEMS} items, {KEYS} keys, deadlines {FIRE:?} ahead, an \
         item every {SIM_STEP:?} (virtual time); ns per item"
    );
    println!(
        "  machine: the keyed machine's bookkeeping around the structure; structure: its \
         recorded calls alone"
    );
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} | {:>15} | {:>8} {:>8} {:>7}",
        "pattern",
        "heap mn",
        "wheel mn",
        "heap md",
        "wheel md",
        "h/w mn",
        "h/w md",
        "push/first/pop",
        "heap md",
        "wheel md",
        "h/w md"
    );
    let base = Instant::now();
    for (pattern, pname) in [
        (Pattern::Batch, "batch"),
        (Pattern::Throttle, "throttle"),
        (Pattern::Debounce, "debounce"),
    ] {
        for (dist, keys) in workloads {
            let heap = simulate(Heap::default(), keys, pattern, base);
            let wheel = simulate(Wheel::new(base), keys, pattern, base);
            assert_eq!(heap, wheel, "the same keys served in the same order");
            let machine = alternate(
                rounds,
                keys.len(),
                || simulate(Heap::default(), keys, pattern, base).0,
                || simulate(Wheel::new(base), keys, pattern, base).0,
            );
            let mut recorder = Recorder {
                queue: Heap::default(),
                ops: Ops::default(),
            };
            simulate(&mut recorder, keys, pattern, base);
            let ops = recorder.ops;
            assert_eq!(
                replay(Heap::default(), &ops),
                replay(Wheel::new(base), &ops)
            );
            let structure = alternate(
                rounds,
                keys.len(),
                || replay(Heap::default(), &ops),
                || replay(Wheel::new(base), &ops),
            );
            let per_item = |which: u8| {
                ops.calls.iter().filter(|&&call| call == which).count() as f64 / keys.len() as f64
            };
            let counts = format!(
                "{:.3}/{:.2}/{:.3}",
                per_item(PUSH),
                per_item(FIRST),
                per_item(POP)
            );
            let [h_min, w_min, h_med, w_med] = machine;
            println!(
                "{:<18} {h_min:>8.2} {w_min:>8.2} {h_med:>8.2} {w_med:>8.2} {:>6.2}x {:>6.2}x | \
                 {counts:>15} | {:>8.2} {:>8.2} {:>6.2}x",
                format!("{pname}/{dist}"),
                h_min / w_min,
                h_med / w_med,
                structure[2],
                structure[3],
                structure[2] / structure[3],
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lateness on the real clock.

const LATE_KEYS: u32 = 10_000;
const LATE_RUNS: usize = 20;
const LATE_DEADLINE: Duration = Duration::from_millis(20);

/// Yields `(k, arrival)` for `k` in `0..n`, stamping each with `Instant::now()` as it is
/// returned, then returns `Pending` for good: the adapter's timer wakes the task.
struct Stamped {
    next: u32,
    end: u32,
}

impl Stream for Stamped {
    type Item = (u32, Instant);

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.next == self.end {
            return Poll::Pending;
        }
        let k = self.next;
        self.next += 1;
        Poll::Ready(Some((k, Instant::now())))
    }
}

/// One run's outputs: (receipt, the adapter's deadline if known, the deadline by the source's
/// stamp).
type Receipts = Vec<(Instant, Option<Instant>, Instant)>;

async fn late_batch() -> Receipts {
    let source = Stamped {
        next: 0,
        end: LATE_KEYS,
    };
    let mut out = pin!(source
        .batch_by(|item| item.0, 1000, LATE_DEADLINE)
        .with_reasons());
    let mut receipts = Vec::with_capacity(LATE_KEYS as usize);
    for _ in 0..LATE_KEYS {
        let (_, flushed) = out.next().await.expect("the source never ends");
        let now = Instant::now();
        assert_eq!(flushed.reason, FlushReason::Deadline);
        assert_eq!(flushed.items.len(), 1);
        receipts.push((
            now,
            Some(flushed.opened_at + LATE_DEADLINE),
            flushed.items[0].1 + LATE_DEADLINE,
        ));
    }
    receipts
}

async fn late_debounce() -> Receipts {
    let source = Stamped {
        next: 0,
        end: LATE_KEYS,
    };
    let mut out = pin!(source.debounce_by(|item| item.0, LATE_DEADLINE));
    let mut receipts = Vec::with_capacity(LATE_KEYS as usize);
    for _ in 0..LATE_KEYS {
        let item = out.next().await.expect("the source never ends");
        receipts.push((Instant::now(), None, item.1 + LATE_DEADLINE));
    }
    receipts
}

/// Signed milliseconds from `deadline` to `at`.
fn ms_after(at: Instant, deadline: Instant) -> f64 {
    if at >= deadline {
        (at - deadline).as_secs_f64() * 1e3
    } else {
        -((deadline - at).as_secs_f64() * 1e3)
    }
}

/// The largest gap between two consecutive instants, in ms.
fn max_gap(mut at: Vec<Instant>) -> f64 {
    at.sort();
    at.windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1e3)
        .fold(0.0, f64::max)
}

fn spread_ms(run: &Receipts) -> f64 {
    let first = run.iter().map(|x| x.2).min().expect("outputs");
    let last = run.iter().map(|x| x.2).max().expect("outputs");
    (last - first).as_secs_f64() * 1e3
}

/// median, p99, max, min and how many are negative, of `v` (ms).
fn spread_stats(v: &mut [f64]) -> String {
    if v.is_empty() {
        return format!("{:>7} {:>7} {:>7} {:>7} {:>6}", "-", "-", "-", "-", "-");
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let early = v.iter().filter(|x| **x < 0.0).count();
    format!(
        "{:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>6}",
        at(0.5),
        at(0.99),
        v[v.len() - 1],
        v[0],
        early
    )
}

/// One row of each table: lateness by the source's stamps, then the diagnostics.
fn report_lateness(name: &str, runs: &[Receipts]) -> (String, String) {
    let mut by_source: Vec<f64> = runs.iter().flatten().map(|x| ms_after(x.0, x.2)).collect();
    let quick: Vec<&Receipts> = runs.iter().filter(|r| spread_ms(r) < 1.0).collect();
    let quick_max = quick
        .iter()
        .flat_map(|r| r.iter())
        .map(|x| ms_after(x.0, x.2))
        .reduce(f64::max)
        .map_or_else(|| "-".to_string(), |m| format!("{m:.3}"));
    let lateness = format!(
        "{name:<24} | {} | {:>3} {:>7}",
        spread_stats(&mut by_source),
        quick.len(),
        quick_max
    );
    let mut spreads: Vec<f64> = runs.iter().map(spread_ms).collect();
    spreads.sort_by(f64::total_cmp);
    let mut by_adapter: Vec<f64> = runs
        .iter()
        .flatten()
        .filter_map(|x| Some(ms_after(x.0, x.1?)))
        .collect();
    // How far the adapter's arrival time lies after the source's stamp (taken just before
    // the item was returned, so the true arrival is at or after it).
    let dated: Vec<f64> = runs
        .iter()
        .flatten()
        .filter_map(|x| Some(ms_after(x.1?, x.2)))
        .collect();
    let dated = match (
        dated.iter().copied().reduce(f64::min),
        dated.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => format!("{lo:>7.3} {hi:>7.3}"),
        _ => format!("{:>7} {:>7}", "-", "-"),
    };
    let arrival_gap = runs
        .iter()
        .map(|r| max_gap(r.iter().map(|x| x.2).collect()))
        .fold(0.0, f64::max);
    let receipt_gap = runs
        .iter()
        .map(|r| max_gap(r.iter().map(|x| x.0).collect()))
        .fold(0.0, f64::max);
    // The first output of a run: how late the timer woke the task at all.
    let first_late = runs
        .iter()
        .map(|r| ms_after(r[0].0, r[0].2))
        .fold(f64::MIN, f64::max);
    // From the first output to the last: µs per output, the pace at which keys are served.
    let serve: Vec<f64> = runs
        .iter()
        .map(|r| {
            let span = r[r.len() - 1].0 - r[0].0;
            span.as_secs_f64() * 1e6 / (r.len() - 1) as f64
        })
        .collect();
    let serve_min = serve.iter().copied().fold(f64::MAX, f64::min);
    let serve_max = serve.iter().copied().fold(0.0, f64::max);
    let diagnostics = format!(
        "{name:<24} | {:>6.3} {:>6.3} | {} | {dated} | {arrival_gap:>7.3} {receipt_gap:>7.3} | \
         {first_late:>7.3} | {serve_min:>5.3} {serve_max:>5.3}",
        spreads[0],
        spreads[spreads.len() - 1],
        spread_stats(&mut by_adapter),
    );
    (lateness, diagnostics)
}

/// On virtual time: ns per key to take in `LATE_KEYS` items of distinct keys, then, once
/// every deadline has passed at once, ns per key to yield them all.
fn intake_and_serve<S: Stream + Unpin>(make: impl Fn(Held, ManualClock) -> S) -> (f64, f64) {
    let clock = ManualClock::new();
    let drained = Rc::new(Cell::new(false));
    let source = Held {
        next: 0,
        end: LATE_KEYS,
        drained: drained.clone(),
    };
    let mut stream = make(source, clock.clone());
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let start = Instant::now();
    loop {
        match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(_) => unreachable!("no deadline has passed"),
            Poll::Pending if drained.get() => break,
            Poll::Pending => {}
        }
    }
    let intake = start.elapsed();
    clock.advance(LATE_DEADLINE * 2);
    let start = Instant::now();
    let mut outputs = 0;
    while outputs < LATE_KEYS {
        match Pin::new(&mut stream).poll_next(&mut cx) {
            Poll::Ready(Some(out)) => {
                black_box(out);
                outputs += 1;
            }
            Poll::Ready(None) => unreachable!("the source never ends"),
            Poll::Pending => unreachable!("every deadline has passed"),
        }
    }
    let serve = start.elapsed();
    let per_key = |d: Duration| d.as_nanos() as f64 / f64::from(LATE_KEYS);
    (per_key(intake), per_key(serve))
}

fn lateness() {
    let rt = runtime();
    // Once untimed: the timer thread.
    futures::executor::block_on(late_batch());
    let mut rows = Vec::new();
    let runs: Vec<Receipts> = (0..LATE_RUNS)
        .map(|_| futures::executor::block_on(late_batch()))
        .collect();
    rows.push(report_lateness("batch_by, futures", &runs));
    let runs: Vec<Receipts> = (0..LATE_RUNS).map(|_| rt.block_on(late_batch())).collect();
    rows.push(report_lateness("batch_by, tokio ct", &runs));
    let runs: Vec<Receipts> = (0..LATE_RUNS)
        .map(|_| futures::executor::block_on(late_debounce()))
        .collect();
    rows.push(report_lateness("debounce_by, futures", &runs));
    let runs: Vec<Receipts> = (0..LATE_RUNS)
        .map(|_| rt.block_on(late_debounce()))
        .collect();
    rows.push(report_lateness("debounce_by, tokio ct", &runs));
    println!(
        "\n[lateness] {LATE_KEYS} items of distinct keys, as fast as they come, then none; \
         {LATE_RUNS} runs per row; SystemClock; `futures` = futures::executor::block_on, \
         `tokio ct` = a tokio current-thread runtime's block_on"
    );
    println!(
        "ms from each key's deadline (the source's stamp of its item + 20 ms) to the output's \
         receipt, over all runs; early = negative; last: runs whose stamps spanned under 1 ms, \
         and the max in those"
    );
    println!(
        "{:<24} | {:>7} {:>7} {:>7} {:>7} {:>6} | {:>3} {:>7}",
        "adapter, executor", "median", "p99", "max", "min", "early", "<1", "max"
    );
    for (lateness, _) in &rows {
        println!("{lateness}");
    }
    println!(
        "diagnostics: spread of the stamps per run (min, max); lateness by the adapter's own \
         deadline (opened_at + 20 ms); opened_at - stamp (min, max); the longest gap between \
         two stamps and between two receipts; the latest first output of a run; µs per output \
         from a run's first output to its last (min, max over runs)"
    );
    println!(
        "{:<24} | {:>6} {:>6} | {:>7} {:>7} {:>7} {:>7} {:>6} | {:>7} {:>7} | {:>7} {:>7} | {:>7} \
         | {:>5} {:>5}",
        "adapter, executor",
        "spread",
        "max",
        "median",
        "p99",
        "max",
        "min",
        "early",
        "opened-",
        "stamp",
        "gap arr",
        "gap rcp",
        "1st out",
        "µs/out",
        "max"
    );
    for (_, diagnostics) in &rows {
        println!("{diagnostics}");
    }
    let key = |item: &Item| item.0;
    let mut rows: Vec<(&str, Vec<(f64, f64)>)> =
        vec![("batch_by", Vec::new()), ("debounce_by", Vec::new())];
    for _ in 0..LATE_RUNS {
        rows[0].1.push(intake_and_serve(|s, clock| {
            s.batch_by(key, 1000, LATE_DEADLINE)
                .with_reasons()
                .with_clock(clock)
        }));
        rows[1].1.push(intake_and_serve(|s, clock| {
            s.debounce_by(key, LATE_DEADLINE).with_clock(clock)
        }));
    }
    println!(
        "on ManualClock (virtual time, no timer thread): ns per key to take in {LATE_KEYS} items \
         of distinct keys, then to yield them all once every deadline has passed ({LATE_RUNS} runs)"
    );
    println!(
        "{:<24} | {:>8} {:>8} | {:>8} {:>8}",
        "adapter", "in min", "in med", "out min", "out med"
    );
    for (name, mut runs) in rows {
        let (mut intake, mut serve): (Vec<f64>, Vec<f64>) = runs.drain(..).unzip();
        let (in_min, in_med) = min_median(&mut intake);
        let (out_min, out_med) = min_median(&mut serve);
        println!("{name:<24} | {in_min:>8.1} {in_med:>8.1} | {out_min:>8.1} {out_med:>8.1}");
    }
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: Option<usize> = args.iter().find_map(|a| a.parse().ok());
    let named = |s: &str| args.iter().any(|a| a == s);
    let all = !["hold", "fire", "memory", "wheel", "lateness"]
        .iter()
        .any(|s| named(s));
    let uniform = uniform_keys(ITEMS, KEYS, 0x9e37_79b9_7f4a_7c15);
    let zipf = zipf_keys(ITEMS, KEYS, 1.0, 0x2545_f491_4f6c_dd1d);
    {
        let mut counts = vec![0u32; KEYS as usize];
        for &k in &zipf {
            counts[k as usize] += 1;
        }
        let seen = counts.iter().filter(|&&c| c > 0).count();
        println!(
            "zipf s=1.0: hottest key {} items ({:.1}%), keys seen {seen} of {KEYS}",
            counts[0],
            100.0 * f64::from(counts[0]) / ITEMS as f64
        );
    }
    let workloads = [("uniform", items_of(&uniform)), ("zipf", items_of(&zipf))];
    let rt = runtime();
    // `profile=ADAPTER/DIST/CONTENDER` (e.g. `profile=batch/zipf/keyed`): runs that contender
    // of `hold` over and over, for a profiler.
    if let Some(which) = args.iter().find_map(|a| a.strip_prefix("profile=")) {
        let parts: Vec<&str> = which.split('/').collect();
        let [adapter, dist, contender] = parts[..] else {
            panic!("profile=ADAPTER/DIST/CONTENDER")
        };
        let items = &workloads
            .iter()
            .find(|w| w.0 == dist)
            .expect("uniform or zipf")
            .1;
        let hold = Hold(&rt);
        let all = contenders(&hold, adapter, items);
        let c = ["keyed", "dq", "plain", "map"]
            .iter()
            .position(|c| *c == contender);
        let f = &all[c.expect("keyed, dq, plain or map")];
        let mut tallies = Vec::new();
        for _ in 0..rounds.unwrap_or(20) {
            println!("{:.2} ns per item", time_per_item(f, &mut tallies));
        }
        return;
    }
    if all || named("hold") {
        speed(&Hold(&rt), "hold", &workloads, rounds.unwrap_or(30));
    }
    if all || named("fire") {
        speed(&Fire(&rt), "fire", &workloads, rounds.unwrap_or(30));
    }
    if all || named("memory") {
        memory();
    }
    if all || named("wheel") {
        wheel(
            &[("uniform", uniform), ("zipf", zipf)],
            rounds.unwrap_or(30),
        );
    }
    if all || named("lateness") {
        lateness();
    }
}
