//! The bursty source shared by the benchmarks.
#![allow(dead_code)]

use std::cell::Cell;
use std::pin::Pin;
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
