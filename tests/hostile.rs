//! Hostile sources and clean-up: always-ready, panicking, waker-forgetting and lying sources;
//! timers released and pending items dropped exactly once, whenever the adapter is dropped.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use streamz::testing::WakeCounter;
use streamz::{Edge, ManualClock, StreamzExt, TryStreamzExt};
use support::{ms, source, Driver, Item};

/// An adapter under test, boxed, with every output as a `Vec`.
type Boxed<T> = Pin<Box<dyn Stream<Item = Vec<T>>>>;

/// Every adapter, boxed, on `clock`, over `input`.
fn every_adapter<S>(
    input: impl Fn() -> S,
    clock: &ManualClock,
) -> Vec<(&'static str, Boxed<S::Item>)>
where
    S: Stream + 'static,
    S::Item: 'static,
{
    let c = || clock.clone();
    let one =
        |s: Pin<Box<dyn Stream<Item = S::Item>>>| -> Pin<Box<dyn Stream<Item = Vec<S::Item>>>> {
            Box::pin(s.map(|item| vec![item]))
        };
    vec![
        (
            "batch",
            Box::pin(input().batch(1000, ms(100)).with_clock(c())),
        ),
        (
            "throttle leading",
            one(Box::pin(input().throttle(ms(100)).with_clock(c()))),
        ),
        (
            "throttle both",
            one(Box::pin(
                input().throttle(ms(100)).edge(Edge::Both).with_clock(c()),
            )),
        ),
        (
            "debounce",
            one(Box::pin(input().debounce(ms(100)).with_clock(c()))),
        ),
        (
            "debounce both max_wait",
            one(Box::pin(
                input()
                    .debounce(ms(100))
                    .edge(Edge::Both)
                    .max_wait(ms(300))
                    .with_clock(c()),
            )),
        ),
    ]
}

#[test]
fn always_ready_source_gets_bounded_polls_and_self_wakes() {
    let clock = ManualClock::new();
    for (name, mut s) in every_adapter(|| stream::repeat(7u8), &clock) {
        let wakes = Arc::new(WakeCounter::new());
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut pending = 0;
        for _ in 0..1000 {
            match s.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(out)) => assert!(!out.is_empty()),
                Poll::Ready(None) => panic!("{name}: an endless source ended"),
                Poll::Pending => pending += 1,
            }
        }
        // Every `Pending` came with a self-wake, so an executor keeps polling.
        assert!(pending > 0, "{name}");
        assert_eq!(wakes.count(), pending, "{name}");
    }
}

/// A stream of `n` items that returns `Pending` without registering any waker.
struct Forgetful(u8);

impl Stream for Forgetful {
    type Item = u8;
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<u8>> {
        if self.0 == 0 {
            return Poll::Pending;
        }
        self.0 -= 1;
        Poll::Ready(Some(self.0))
    }
}

#[test]
fn deadline_fires_even_if_the_source_never_registers_a_waker() {
    let expected = [
        ("batch", vec![Item(100, vec![1, 0])]),
        ("throttle both", vec![Item(0, vec![1]), Item(100, vec![0])]),
        ("debounce", vec![Item(100, vec![0])]),
    ];
    for (name, output) in expected {
        let clock = ManualClock::new();
        let s: Pin<Box<dyn Stream<Item = Vec<u8>>>> = match name {
            "batch" => Box::pin(Forgetful(2).batch(10, ms(100)).with_clock(clock.clone())),
            "throttle both" => Box::pin(
                Forgetful(2)
                    .throttle(ms(100))
                    .edge(Edge::Both)
                    .with_clock(clock.clone())
                    .map(|x| vec![x]),
            ),
            _ => Box::pin(
                Forgetful(2)
                    .debounce(ms(100))
                    .with_clock(clock.clone())
                    .map(|x| vec![x]),
            ),
        };
        let mut d = Driver::new(s, &clock);
        d.run();
        d.step_to(300);
        assert_eq!(d.take(), output, "{name}");
    }
}

/// Counts drops of its items.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn panicking_source_leaves_the_adapter_sound() {
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = drops.clone();
    let mut produced = 0;
    let input = stream::poll_fn(move |_cx| {
        produced += 1;
        if produced == 3 {
            panic!("source failure");
        }
        Poll::Ready(Some(Counted(counter.clone())))
    });
    let clock = ManualClock::new();
    let mut s = Box::pin(input.batch(10, ms(100)).with_clock(clock.clone()));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let result = catch_unwind(AssertUnwindSafe(|| s.as_mut().poll_next(&mut cx)));
    assert!(result.is_err(), "the panic reaches the caller");
    // The two items taken before the panic are held, and dropped exactly once with the adapter.
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(s);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn batch_opened_before_a_source_panic_still_leaves_at_its_deadline() {
    // a, b, c fill a batch; the next call takes d (opening a batch, whose deadline counts
    // from d's arrival, at 0 ms) and then the source panics; from then on the source is
    // quiet. The next call must arm the timer for d's deadline.
    let mut polls = 0;
    let input = stream::poll_fn(move |_cx| {
        polls += 1;
        match polls {
            1..=4 => Poll::Ready(Some(polls)),
            5 => panic!("source failure"),
            _ => Poll::Pending,
        }
    });
    let clock = ManualClock::new();
    let mut s = Box::pin(input.batch(3, ms(100)).with_clock(clock.clone()));
    let wakes = Arc::new(WakeCounter::new());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    assert_eq!(
        s.as_mut().poll_next(&mut cx),
        Poll::Ready(Some(vec![1, 2, 3]))
    );
    let result = catch_unwind(AssertUnwindSafe(|| s.as_mut().poll_next(&mut cx)));
    assert!(result.is_err(), "the panic reaches the caller");
    clock.advance(ms(10));
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
    assert_eq!(clock.timers(), 1, "a timer watches the batch of d");
    clock.advance(ms(89));
    assert_eq!(wakes.count(), 0);
    clock.advance(ms(1));
    assert_eq!(wakes.count(), 1);
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(vec![4])));
}

#[test]
fn debounce_keeps_its_pending_item_through_a_source_panic() {
    // 1, 2, 3 come in one call (2 and 3 in a run, with the latest held aside), then the
    // source panics; the latest item must still be pending afterwards, and leave at the end.
    let mut polls = 0;
    let input = stream::poll_fn(move |_cx| {
        polls += 1;
        match polls {
            1..=3 => Poll::Ready(Some(polls)),
            4 => panic!("source failure"),
            _ => Poll::Ready(None),
        }
    });
    let dropped = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = dropped.clone();
    let clock = ManualClock::new();
    let mut s = Box::pin(
        input
            .debounce(ms(100))
            .on_drop(move |item| log.lock().unwrap().push(item))
            .with_clock(clock),
    );
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let result = catch_unwind(AssertUnwindSafe(|| s.as_mut().poll_next(&mut cx)));
    assert!(result.is_err(), "the panic reaches the caller");
    assert_eq!(*dropped.lock().unwrap(), [1, 2]);
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(3)));
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(None));
}

/// A `try_batch` source: 1, 2, 3 (a full batch), 4, a pause (the deadline of [4] is armed),
/// then, once [4] has left at its deadline (100 ms), 5 (opening a batch whose deadline is
/// 200 ms) and a panic; after that, `after(poll)`.
fn panicking_after_a_deadline(
    after: impl Fn(u32) -> Poll<Option<Result<i32, &'static str>>>,
) -> impl Stream<Item = Result<i32, &'static str>> {
    let mut polls = 0u32;
    stream::poll_fn(move |_cx| {
        polls += 1;
        match polls {
            1..=4 => Poll::Ready(Some(Ok(polls as i32))),
            5 => Poll::Pending,
            6 => Poll::Ready(Some(Ok(5))),
            7 => panic!("source failure"),
            n => after(n),
        }
    })
}

/// Drives `panicking_after_a_deadline` through `try_batch(3, 100ms)` up to its panic.
fn up_to_the_panic<S: Stream<Item = Result<Vec<i32>, &'static str>>>(
    mut s: Pin<&mut S>,
    clock: &ManualClock,
    cx: &mut Context<'_>,
) {
    assert_eq!(
        s.as_mut().poll_next(cx),
        Poll::Ready(Some(Ok(vec![1, 2, 3])))
    );
    assert_eq!(s.as_mut().poll_next(cx), Poll::Pending);
    clock.advance(ms(100));
    assert_eq!(s.as_mut().poll_next(cx), Poll::Ready(Some(Ok(vec![4]))));
    let result = catch_unwind(AssertUnwindSafe(|| s.as_mut().poll_next(cx)));
    assert!(result.is_err(), "the panic reaches the caller");
}

#[test]
fn batch_opened_before_a_panic_leaves_even_if_only_errors_follow() {
    let clock = ManualClock::new();
    let mut s = Box::pin(
        panicking_after_a_deadline(|_| Poll::Ready(Some(Err("e"))))
            .try_batch(3, ms(100))
            .with_clock(clock.clone()),
    );
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    up_to_the_panic(s.as_mut(), &clock, &mut cx);
    // A call every 50 ms: [5] leaves at its deadline, 200 ms, between the errors, which never
    // stop coming.
    let mut out = Vec::new();
    for _ in 0..4 {
        clock.advance(ms(50));
        out.push(s.as_mut().poll_next(&mut cx));
    }
    assert_eq!(
        out,
        [
            Poll::Ready(Some(Err("e"))),
            Poll::Ready(Some(Ok(vec![5]))),
            Poll::Ready(Some(Err("e"))),
            Poll::Ready(Some(Err("e"))),
        ]
    );
}

#[test]
fn batch_opened_before_a_panic_counts_its_deadline_from_its_first_item() {
    let clock = ManualClock::new();
    let mut s = Box::pin(
        panicking_after_a_deadline(|n| {
            if n == 8 {
                Poll::Ready(Some(Err("e")))
            } else {
                Poll::Pending
            }
        })
        .try_batch(3, ms(100))
        .with_clock(clock.clone()),
    );
    let wakes = Arc::new(WakeCounter::new());
    let waker = Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    up_to_the_panic(s.as_mut(), &clock, &mut cx);
    // The next call comes 10 ms later and yields an error; [5]'s deadline is 100 ms after 5
    // arrived, at 200 ms, whatever the panic.
    clock.advance(ms(10));
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Ready(Some(Err("e"))));
    clock.advance(ms(50));
    assert_eq!(s.as_mut().poll_next(&mut cx), Poll::Pending);
    let before = wakes.count();
    clock.advance(ms(39));
    assert_eq!(wakes.count(), before);
    clock.advance(ms(1));
    assert_eq!(wakes.count(), before + 1);
    assert_eq!(
        s.as_mut().poll_next(&mut cx),
        Poll::Ready(Some(Ok(vec![5])))
    );
}

#[test]
fn debounce_quiet_period_does_not_end_early_after_a_source_panic() {
    // Items 3..=80 come in one run while the source moves the clock 2 ms each (to 156 ms);
    // then the source pauses, or panics. Either way item 80 arrived at 156 ms at the latest
    // reading, so it may not leave before 256 ms.
    for panics in [false, true] {
        let clock = ManualClock::new();
        let ticking = clock.clone();
        let mut polls = 0;
        let input = stream::poll_fn(move |_cx| {
            polls += 1;
            match polls {
                1..=2 => Poll::Ready(Some(polls)),
                3..=80 => {
                    ticking.advance(ms(2));
                    Poll::Ready(Some(polls))
                }
                81 if panics => panic!("source failure"),
                _ => Poll::Pending,
            }
        });
        let mut s = Box::pin(input.debounce(ms(100)).with_clock(clock.clone()));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let first = catch_unwind(AssertUnwindSafe(|| s.as_mut().poll_next(&mut cx)));
        assert_eq!(first.is_err(), panics);
        assert_eq!(
            s.as_mut().poll_next(&mut cx),
            Poll::Pending,
            "panics: {panics}"
        );
        clock.advance(ms(99));
        assert_eq!(
            s.as_mut().poll_next(&mut cx),
            Poll::Pending,
            "panics: {panics}"
        );
        clock.advance(ms(1));
        assert_eq!(
            s.as_mut().poll_next(&mut cx),
            Poll::Ready(Some(80)),
            "panics: {panics}"
        );
    }
}

#[test]
fn lying_size_hints_neither_panic_nor_overflow() {
    struct Liar(u8, (usize, Option<usize>));
    impl Stream for Liar {
        type Item = u8;
        fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<u8>> {
            if self.0 == 0 {
                return Poll::Ready(None);
            }
            self.0 -= 1;
            Poll::Ready(Some(self.0))
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            self.1
        }
    }
    for hint in [
        (usize::MAX, Some(usize::MAX)),
        (usize::MAX, Some(0)),
        (5, Some(1)),
        (0, None),
    ] {
        let clock = ManualClock::new();
        let s = Liar(3, hint).batch(2, ms(10)).with_clock(clock.clone());
        let _ = s.size_hint();
        let out: Vec<Vec<u8>> = futures::executor::block_on(s.collect());
        assert_eq!(out, vec![vec![2, 1], vec![0]]);
        let s = Liar(3, hint).throttle(ms(10)).with_clock(clock.clone());
        let _ = s.size_hint();
        assert_eq!(futures::executor::block_on(s.collect::<Vec<_>>()), vec![2]);
        let s = Liar(3, hint).debounce(ms(10)).with_clock(clock.clone());
        let _ = s.size_hint();
        assert_eq!(futures::executor::block_on(s.collect::<Vec<_>>()), vec![0]);
        // A pending item on top of a maximal hint.
        let mut s = Box::pin(
            stream::iter([1u8])
                .chain(Liar(0, hint))
                .batch(2, ms(10))
                .with_clock(clock),
        );
        let waker = futures::task::noop_waker();
        let _ = s.as_mut().poll_next(&mut Context::from_waker(&waker));
        let _ = s.size_hint();
    }
}

#[test]
fn dropping_any_adapter_at_any_point_releases_its_timer_and_items() {
    // Drive each adapter through a schedule, dropping it after each step in turn; every item
    // is dropped exactly once (by the test, or by the adapter) and no timer outlives it.
    for stop in 0..12u64 {
        for variant in 0..7 {
            let drops = Arc::new(AtomicUsize::new(0));
            let clock = ManualClock::new();
            let (feed, input) = source::<Counted>();
            let s: Pin<Box<dyn Stream<Item = Vec<Counted>>>> = match variant {
                0 => Box::pin(input.batch(3, ms(50)).with_clock(clock.clone())),
                1 => Box::pin(
                    input
                        .throttle(ms(50))
                        .with_clock(clock.clone())
                        .map(|x| vec![x]),
                ),
                2 => Box::pin(
                    input
                        .throttle(ms(50))
                        .edge(Edge::Trailing)
                        .with_clock(clock.clone())
                        .map(|x| vec![x]),
                ),
                3 => Box::pin(
                    input
                        .throttle(ms(50))
                        .edge(Edge::Both)
                        .with_clock(clock.clone())
                        .map(|x| vec![x]),
                ),
                4 => Box::pin(
                    input
                        .debounce(ms(50))
                        .with_clock(clock.clone())
                        .map(|x| vec![x]),
                ),
                5 => Box::pin(
                    input
                        .debounce(ms(50))
                        .edge(Edge::Both)
                        .max_wait(ms(80))
                        .with_clock(clock.clone())
                        .map(|x| vec![x]),
                ),
                _ => Box::pin(
                    input
                        .map(Ok::<Counted, ()>)
                        .try_batch(2, ms(50))
                        .with_clock(clock.clone())
                        .map(|batch| batch.unwrap_or_default()),
                ),
            };
            let mut d = Driver::new(s, &clock);
            let mut created = 0;
            for step in 0..stop {
                if step % 3 != 2 {
                    feed.push(Counted(drops.clone()));
                    created += 1;
                }
                d.at(step * 20);
            }
            drop(d.take());
            drop(d);
            drop(feed);
            assert_eq!(clock.timers(), 0, "variant {variant}, stop {stop}");
            assert_eq!(
                drops.load(Ordering::SeqCst),
                created,
                "variant {variant}, stop {stop}"
            );
        }
    }
}

#[test]
fn busy_source_through_throttle_and_debounce_holds_at_most_one_item() {
    // A long run of items through adapters that drop: the pending state stays one item.
    let drops = Arc::new(AtomicUsize::new(0));
    let clock = ManualClock::new();
    let counter = drops.clone();
    let input = stream::repeat_with(move || Counted(counter.clone())).take(10_000);
    let mut s = Box::pin(
        input
            .debounce(Duration::from_secs(3600))
            .with_clock(clock.clone()),
    );
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..19 {
        assert!(s.as_mut().poll_next(&mut cx).is_pending());
    }
    // 19 polls of 512 items: all but the pending one already dropped.
    assert_eq!(drops.load(Ordering::SeqCst), 19 * 512 - 1);
    drop(s);
    assert_eq!(drops.load(Ordering::SeqCst), 19 * 512);
}
