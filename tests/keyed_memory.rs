//! Memory of the keyed adapters follows the active keys: a million keys that never repeat,
//! through each keyed adapter with `max_keys(10_000)`, never hold more than 10,000 keys' state.
//! A global allocator counts the bytes live on this thread (allocated and not yet freed) and
//! their peak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use streamz::{ManualClock, StreamzExt};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(bytes: isize) {
    // `try_with`: the thread's counters may already be gone while it exits.
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + bytes);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ITEMS: u64 = 1_000_000;
const MAX_KEYS: usize = 10_000;
/// Long enough that no deadline passes: only the keys bound makes room.
const LONG: Duration = Duration::from_secs(3600);

/// Polls `s` to the end on this thread with a waker that does nothing, checking `keys` after
/// each call; returns the outputs counted and the peak of bytes live above the start.
fn run<S: Stream + Unpin>(mut s: S, keys: impl Fn(&S) -> usize, bound: usize) -> (u64, isize) {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    let mut outputs = 0;
    loop {
        match s.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(out)) => {
                drop(out);
                outputs += 1;
            }
            Poll::Ready(None) => break,
            Poll::Pending => {}
        }
        assert!(keys(&s) <= bound, "{} keys held, bound {bound}", keys(&s));
    }
    let peak = PEAK.with(Cell::get) - base;
    eprintln!(
        "peak: {peak} bytes live, {} per key of the bound",
        peak / bound.min(1 << 20) as isize
    );
    (outputs, peak)
}

/// Bytes allowed per key held: a key's state, its index and heap entries, with room for the
/// tables' growth (which doubles them). Measured: about 430 bytes per key for `batch_by` over
/// `u64` items. Without the bound, a million keys would take hundreds of MB.
const BYTES_PER_KEY: isize = 1024;

fn items() -> impl Stream<Item = u64> + Unpin {
    stream::iter(0..ITEMS)
}

#[test]
fn a_million_keys_through_batch_by_hold_at_most_max_keys() {
    let clock = ManualClock::new();
    let s = items()
        .batch_by(|n| *n, 10, LONG)
        .max_keys(MAX_KEYS)
        .with_clock(clock);
    let (outputs, peak) = run(s, |s| s.keys(), MAX_KEYS);
    // Every item leaves: evicted one by one, the last 10,000 at the end.
    assert_eq!(outputs, ITEMS);
    assert!(
        peak < MAX_KEYS as isize * BYTES_PER_KEY,
        "peak {peak} bytes"
    );
}

#[test]
fn a_million_keys_through_throttle_by_hold_at_most_max_keys() {
    let clock = ManualClock::new();
    let s = items()
        .throttle_by(|n| *n, LONG)
        .max_keys(MAX_KEYS)
        .with_clock(clock);
    let (outputs, peak) = run(s, |s| s.keys(), MAX_KEYS);
    assert_eq!(outputs, ITEMS);
    assert!(
        peak < MAX_KEYS as isize * BYTES_PER_KEY,
        "peak {peak} bytes"
    );
}

#[test]
fn a_million_keys_through_debounce_by_hold_at_most_max_keys() {
    let clock = ManualClock::new();
    let s = items()
        .debounce_by(|n| *n, LONG)
        .max_keys(MAX_KEYS)
        .with_clock(clock);
    let (outputs, peak) = run(s, |s| s.keys(), MAX_KEYS);
    assert_eq!(outputs, ITEMS);
    assert!(
        peak < MAX_KEYS as isize * BYTES_PER_KEY,
        "peak {peak} bytes"
    );
}

#[test]
fn the_count_sees_keys_held_without_a_bound() {
    // The measure above can fail: 100,000 keys held at once take more than 10,000 keys' worth.
    let clock = ManualClock::new();
    let s = stream::iter(0..100_000u64)
        .debounce_by(|n| *n, LONG)
        .with_clock(clock);
    let (outputs, peak) = run(s, |s| s.keys(), 100_000);
    assert_eq!(outputs, 100_000);
    assert!(
        peak > MAX_KEYS as isize * BYTES_PER_KEY,
        "peak {peak} bytes"
    );
}
