//! The bursty source and the driver shared by the benchmarks.
#![allow(dead_code)]

use std::cell::Cell;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::stream::Stream;

/// Yields `0..end`, returning `Pending` after every `burst` items; it wakes its task before
/// that `Pending`, so it is correct on any executor. Once past the end it returns `None` on
/// every poll and sets the shared `drained` flag.
pub struct Bursty {
    next: u64,
    end: u64,
    burst: u64,
    run: u64,
    pub drained: Rc<Cell<bool>>,
}

impl Bursty {
    pub fn new(end: u64, burst: u64) -> Self {
        Bursty {
            next: 0,
            end,
            burst,
            run: 0,
            drained: Rc::new(Cell::new(false)),
        }
    }
}

impl Stream for Bursty {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        if self.run == self.burst {
            self.run = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.next == self.end {
            self.drained.set(true);
            return Poll::Ready(None);
        }
        let item = self.next;
        self.next += 1;
        self.run += 1;
        Poll::Ready(Some(item))
    }
}

/// Polls `stream` to its end with a no-op waker, polling again at once on `Pending`, and hands
/// every item to `sink`. It also stops at a `Pending` once `drained()` is true: the source has
/// handed out all its items and ended, and the stream only waits for a timer (a debounce's
/// quiet period).
pub fn drive<S: Stream>(stream: S, drained: impl Fn() -> bool, mut sink: impl FnMut(S::Item)) {
    let mut stream = pin!(stream);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => sink(item),
            Poll::Ready(None) => return,
            Poll::Pending if drained() => return,
            Poll::Pending => {}
        }
    }
}

/// A `drained` for [`drive`] over a stream that ends by itself.
pub fn never() -> bool {
    false
}
