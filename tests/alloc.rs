//! Memory: what each adapter allocates, counted by a global allocator (per thread, so that
//! tests running in parallel do not disturb each other).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use streamz::{ManualClock, StreamzExt};
use support::Bursty;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn note(bytes: usize) {
    // `try_with`: the thread's counters may already be gone while it exits.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = BYTES.try_with(|n| n.set(n.get() + bytes));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes allocated by this thread while `f` runs.
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let (a, b) = (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get));
    let r = f();
    (
        r,
        ALLOCATIONS.with(Cell::get) - a,
        BYTES.with(Cell::get) - b,
    )
}

/// Polls to the end on this thread, with a waker that needs no allocation per poll.
fn drain<S: Stream + Unpin>(mut s: S, mut each: impl FnMut(S::Item)) {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        match Pin::new(&mut s).poll_next(&mut cx) {
            Poll::Ready(Some(item)) => each(item),
            Poll::Ready(None) => return,
            Poll::Pending => {}
        }
    }
}

#[test]
fn huge_max_size_allocates_for_the_items_only() {
    let ((), allocations, bytes) = counted(|| {
        let s = stream::iter([1u64, 2, 3])
            .batch(usize::MAX, Duration::from_secs(1))
            .with_clock(ManualClock::new());
        let mut out = Vec::new();
        drain(s, |batch| out.push(batch));
        assert_eq!(out, vec![vec![1, 2, 3]]);
    });
    // The clock, the batch's growth to three items, and `out`: no reservation of `max_size`.
    assert!(bytes < 1024, "{bytes} bytes in {allocations} allocations");
}

#[test]
fn steady_batches_cost_one_allocation_each() {
    // Allocations while `items` items of a bursty source go through `batch(100, 1s)`, and the
    // number of batches.
    let run = |items: u64, clock: Option<ManualClock>| {
        let (batches, allocations, _) = counted(|| {
            let mut batches = 0;
            let input = Bursty::new(items, 10);
            let check = |batch: Vec<u64>| {
                assert!(!batch.is_empty());
                batches += 1;
            };
            match clock {
                None => drain(input.batch(100, Duration::from_secs(1)), check),
                Some(clock) => drain(
                    input.batch(100, Duration::from_secs(1)).with_clock(clock),
                    check,
                ),
            }
            batches
        });
        (batches, allocations)
    };
    for clock in [None, Some(ManualClock::new())] {
        // The first run also starts what a process sets up once (futures-timer's thread).
        run(1_000, clock.clone());
        let (batches, allocations) = run(100_000, clock.clone());
        assert_eq!(batches, 1000);
        let (more_batches, more_allocations) = run(200_000, clock.clone());
        assert_eq!(more_batches, 2000);
        // Each further batch costs exactly one allocation, its `Vec`...
        assert_eq!(
            more_allocations - allocations,
            more_batches - batches,
            "clock: {clock:?}"
        );
        // ...and each adapter a few more: growing its first batch, arming its one timer.
        assert!(
            allocations <= batches + 16,
            "{allocations} allocations for {batches} batches (clock: {clock:?})"
        );
    }
}

#[test]
fn throttle_and_debounce_allocate_nothing_per_item() {
    let clock = ManualClock::new();
    let ((), allocations, _) = counted(|| {
        let mut n = 0;
        drain(
            Bursty::new(100_000, 1000)
                .throttle(Duration::from_secs(1))
                .with_clock(clock.clone()),
            |_| n += 1,
        );
        assert_eq!(n, 1);
        drain(
            Bursty::new(100_000, 1000)
                .debounce(Duration::from_secs(1))
                .with_clock(clock.clone()),
            |_| n += 1,
        );
        assert_eq!(n, 2);
    });
    // At most the debounce timer (armed at the first pause, then re-used).
    assert!(
        allocations <= 4,
        "{allocations} allocations for 200,000 items"
    );
}

#[test]
fn busy_stream_memory_does_not_grow() {
    let clock = ManualClock::new();
    let mut s = stream::repeat(1u8)
        .debounce(Duration::from_secs(3600))
        .with_clock(clock);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(s.poll_next_unpin(&mut cx).is_pending());
    let ((), allocations, _) = counted(|| {
        for _ in 0..1000 {
            assert!(s.poll_next_unpin(&mut cx).is_pending());
        }
    });
    assert_eq!(allocations, 0);
}
