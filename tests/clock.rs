//! `ManualClock` and `SystemClock`.

mod support;

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use streamz::{Clock, ManualClock, SystemClock, Timer};
use support::{ms, panic_site};

/// A waker that records its name in a shared log when woken.
struct Named(&'static str, Arc<Mutex<Vec<&'static str>>>);

impl Wake for Named {
    fn wake(self: Arc<Self>) {
        self.1.lock().unwrap().push(self.0);
    }
}

fn poll(timer: &mut impl Timer, waker: &Waker) -> Poll<()> {
    timer.poll_fired(&mut Context::from_waker(waker))
}

#[test]
fn manual_clock_moves_only_when_advanced() {
    let clock = ManualClock::new();
    let start = clock.now();
    std::thread::sleep(ms(2));
    assert_eq!(clock.now(), start);
    clock.advance(ms(7));
    assert_eq!(clock.now(), start + ms(7));
    let shared = clock.clone();
    shared.advance(ms(3));
    assert_eq!(clock.now(), start + ms(10), "clones share one timeline");
}

#[test]
fn manual_clock_wakes_due_timers_earliest_first() {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let t0 = clock.now();
    let mut late = clock.timer(t0 + ms(30));
    let mut early = clock.timer(t0 + ms(10));
    let mut never = clock.timer(t0 + ms(100));
    let late_w = Waker::from(Arc::new(Named("late", log.clone())));
    let early_w = Waker::from(Arc::new(Named("early", log.clone())));
    let never_w = Waker::from(Arc::new(Named("never", log.clone())));
    assert_eq!(poll(&mut late, &late_w), Poll::Pending);
    assert_eq!(poll(&mut early, &early_w), Poll::Pending);
    assert_eq!(poll(&mut never, &never_w), Poll::Pending);
    assert_eq!(clock.timers(), 3);

    assert_eq!(clock.next_deadline(), Some(t0 + ms(10)));
    clock.advance(ms(30));
    assert_eq!(*log.lock().unwrap(), vec!["early", "late"]);
    assert_eq!(clock.next_deadline(), Some(t0 + ms(100)));
    assert_eq!(clock.timers(), 1);
    assert_eq!(poll(&mut late, &late_w), Poll::Ready(()));
    assert_eq!(poll(&mut early, &early_w), Poll::Ready(()));
    assert_eq!(poll(&mut never, &never_w), Poll::Pending);
}

#[test]
fn manual_timer_deadline_is_inclusive_and_can_be_rearmed() {
    let clock = ManualClock::new();
    let waker = futures::task::noop_waker();
    let t0 = clock.now();
    let mut timer = clock.timer(t0 + ms(10));
    clock.advance(ms(9));
    assert_eq!(poll(&mut timer, &waker), Poll::Pending);
    clock.advance(ms(1));
    assert_eq!(poll(&mut timer, &waker), Poll::Ready(()));
    assert_eq!(poll(&mut timer, &waker), Poll::Ready(()), "stays fired");
    assert_eq!(clock.timers(), 0);

    timer.reset(t0 + ms(20));
    assert_eq!(clock.timers(), 1);
    assert_eq!(poll(&mut timer, &waker), Poll::Pending);
    clock.advance(ms(10));
    assert_eq!(poll(&mut timer, &waker), Poll::Ready(()));

    // A deadline in the past fires at once.
    timer.reset(t0);
    assert_eq!(poll(&mut timer, &waker), Poll::Ready(()));
}

#[test]
fn manual_timer_wakes_the_waker_of_its_latest_poll() {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let first = Waker::from(Arc::new(Named("first", log.clone())));
    let second = Waker::from(Arc::new(Named("second", log.clone())));
    let mut timer = clock.timer(clock.now() + ms(10));
    assert_eq!(poll(&mut timer, &first), Poll::Pending);
    assert_eq!(poll(&mut timer, &second), Poll::Pending);
    clock.advance(ms(10));
    assert_eq!(*log.lock().unwrap(), vec!["second"]);
}

#[test]
fn manual_timer_drop_unregisters_it() {
    let clock = ManualClock::new();
    let timer = clock.timer(clock.now() + ms(10));
    let other = clock.timer(clock.now() + ms(10));
    assert_eq!(clock.timers(), 2);
    drop(timer);
    assert_eq!(clock.timers(), 1);
    drop(other);
    assert_eq!(clock.timers(), 0);
}

#[test]
fn manual_clock_wakes_after_releasing_its_lock() {
    // A woken task may read the clock and arm timers at once, from inside `wake`.
    struct Rearm(ManualClock, Mutex<Option<streamz::ManualTimer>>);
    impl Wake for Rearm {
        fn wake(self: Arc<Self>) {
            let now = self.0.now();
            *self.1.lock().unwrap() = Some(self.0.timer(now + ms(5)));
        }
    }
    let clock = ManualClock::new();
    let rearm = Arc::new(Rearm(clock.clone(), Mutex::new(None)));
    let waker = Waker::from(rearm.clone());
    let mut timer = clock.timer(clock.now() + ms(1));
    assert_eq!(poll(&mut timer, &waker), Poll::Pending);
    clock.advance(ms(1));
    assert!(rearm.1.lock().unwrap().is_some());
    assert_eq!(clock.timers(), 1);
}

#[test]
fn manual_clock_advance_past_instant_range_panics_with_a_message() {
    let clock = ManualClock::new();
    let (message, site) = panic_site(move || clock.advance(Duration::MAX));
    assert!(message.contains("past the range of Instant"), "{message}");
    assert!(site.starts_with("tests/clock.rs:"), "reported at {site}");
}

#[test]
fn manual_clock_debug_shows_elapsed_time_and_timers() {
    let clock = ManualClock::new();
    clock.advance(ms(5));
    let _timer = clock.timer(clock.now() + ms(1));
    assert_eq!(
        format!("{clock:?}"),
        "ManualClock { elapsed: 5ms, timers: 1 }"
    );
}

#[test]
fn system_clock_timer_fires_on_real_time() {
    let clock = SystemClock;
    let before = Instant::now();
    assert!(clock.now() >= before);
    let mut timer = clock.timer(Instant::now() + ms(5));
    futures::executor::block_on(futures::future::poll_fn(|cx| timer.poll_fired(cx)));
    assert!(Instant::now() >= before + ms(5));
    // Re-armed, it fires again.
    timer.reset(Instant::now() + ms(1));
    futures::executor::block_on(futures::future::poll_fn(|cx| timer.poll_fired(cx)));
}
