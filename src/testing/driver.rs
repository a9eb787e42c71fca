//! [`Driver`]: polls a stream the way an executor does, and [`WakeCounter`], the waker it
//! counts wakes with.

use std::fmt::{self, Debug};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;

/// A waker that counts how often it was woken.
///
/// ```
/// use std::sync::Arc;
/// use std::task::Waker;
/// use streamz::testing::WakeCounter;
///
/// let wakes = Arc::new(WakeCounter::new());
/// let waker = Waker::from(wakes.clone());
/// waker.wake_by_ref();
/// waker.wake();
/// assert_eq!(wakes.count(), 2);
/// ```
#[derive(Debug, Default)]
pub struct WakeCounter(AtomicUsize);

impl WakeCounter {
    /// A counter that has seen no wake yet.
    pub fn new() -> Self {
        WakeCounter(AtomicUsize::new(0))
    }

    /// How many times the waker was woken so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls a stream the way an executor does: once at the start, again right after each
/// `Ready(Some)`, and otherwise only after its waker was woken.
///
/// A stream that returns `Pending` without arranging a wake-up is therefore not polled again,
/// as it would not be on a real executor: a missing waker registration shows up as a missing
/// output rather than going unnoticed. [`Marbles`](crate::testing::Marbles) drives its runs
/// with it; use it directly to drive a stream step by step, moving a
/// [`ManualClock`](crate::ManualClock) in between.
///
/// ```
/// use std::task::Poll;
/// use std::time::Duration;
/// use streamz::testing::Driver;
/// use streamz::{ManualClock, StreamzExt};
///
/// let clock = ManualClock::new();
/// let (tx, rx) = futures::channel::mpsc::unbounded();
/// let debounced = rx.debounce(Duration::from_millis(100)).with_clock(clock.clone());
/// let mut driver = Driver::new(debounced);
/// let mut outputs = Vec::new();
///
/// tx.unbounded_send('a').unwrap();
/// driver.run(|output| outputs.push(output));
/// assert!(outputs.is_empty(), "the quiet period is running");
///
/// // The end of the quiet period wakes the task, so the driver polls again.
/// clock.advance(Duration::from_millis(100));
/// driver.run(|output| outputs.push(output));
/// assert_eq!(outputs, [Some('a')]);
///
/// // `None` is the end of the stream; nothing is polled after it.
/// drop(tx);
/// driver.run(|output| outputs.push(output));
/// assert_eq!(outputs, [Some('a'), None]);
/// assert!(driver.is_ended());
///
/// // A stream that returns `Pending` and never wakes its task is polled once.
/// let mut stuck = Driver::new(futures::stream::poll_fn(|_| Poll::<Option<u8>>::Pending));
/// stuck.run(|_| {});
/// stuck.run(|_| {});
/// assert_eq!(stuck.polls(), 1);
/// ```
pub struct Driver<S> {
    stream: Pin<Box<S>>,
    wakes: Arc<WakeCounter>,
    waker: Waker,
    /// The wake count at the latest poll: a higher count means a wake since.
    seen: usize,
    /// A poll is due whatever the wakes say: at the start, and after `Ready(Some)`.
    must_poll: bool,
    ended: bool,
    polls: usize,
    max_polls: usize,
}

impl<S: Stream> Driver<S> {
    /// Drives `stream`; its first poll is due.
    pub fn new(stream: S) -> Self {
        let wakes = Arc::new(WakeCounter::new());
        Driver {
            stream: Box::pin(stream),
            waker: Waker::from(wakes.clone()),
            wakes,
            seen: 0,
            must_poll: true,
            ended: false,
            polls: 0,
            max_polls: 1_000_000,
        }
    }

    /// Sets how many polls one call of [`run`](Self::run) may make (1,000,000 by default);
    /// a stream still due for a poll after that many is taken to wake itself without end.
    pub fn max_polls(mut self, max_polls: usize) -> Self {
        self.max_polls = max_polls;
        self
    }

    /// Polls the stream while a poll is due (see [`is_due`](Self::is_due)), handing each
    /// output to `output`: `Some(item)` for an item, `None` for the end of the stream.
    ///
    /// # Panics
    ///
    /// Panics if a poll is still due after [`max_polls`](Self::max_polls) polls in this call.
    #[track_caller]
    pub fn run(&mut self, mut output: impl FnMut(Option<S::Item>)) {
        let mut polls = 0;
        while self.is_due() {
            assert!(
                polls < self.max_polls,
                "the stream keeps waking itself: {polls} polls without going idle"
            );
            polls += 1;
            self.polls += 1;
            self.must_poll = false;
            self.seen = self.wakes.count();
            let mut cx = Context::from_waker(&self.waker);
            match self.stream.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(item)) => {
                    self.must_poll = true;
                    output(Some(item));
                }
                Poll::Ready(None) => {
                    self.ended = true;
                    output(None);
                }
                Poll::Pending => {}
            }
        }
    }
}

impl<S> Driver<S> {
    /// Whether a poll is due: the stream has not ended, and it was never polled, or its latest
    /// poll returned `Ready(Some)`, or its waker was woken since that poll.
    pub fn is_due(&self) -> bool {
        !self.ended && (self.must_poll || self.wakes.count() > self.seen)
    }

    /// Whether the stream has returned `None`.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// How many times the stream was polled.
    pub fn polls(&self) -> usize {
        self.polls
    }

    /// How many times the stream's waker was woken.
    pub fn wakes(&self) -> usize {
        self.wakes.count()
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, pinned, to poll it or call its methods directly (the driver does not count
    /// such polls).
    pub fn get_pin_mut(&mut self) -> Pin<&mut S> {
        self.stream.as_mut()
    }
}

impl<S> Debug for Driver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("wakes", &self.wakes.count())
            .field("polls", &self.polls)
            .field("due", &self.is_due())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
