//! One contender over 1,000,000 always-ready items, for counting instructions with callgrind,
//! which (unlike timings on a shared machine) repeats exactly:
//!
//! ```sh
//! cargo bench --bench callgrind --no-run
//! valgrind --tool=callgrind target/release/deps/callgrind-* batch     # or any name below
//! ```
//!
//! Names: `ready_chunks`, `batch`, `fold`, `debounce`, `filter`, `throttle`. Run without a
//! name (as `cargo bench` does), it does nothing.

use std::future::ready;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use streamz::StreamzExt;

const N: u64 = 1_000_000;

/// Polls to the end with a no-op waker, polling again at once on `Pending`.
fn drive<S: Stream>(stream: S) -> usize {
    let mut stream = pin!(stream);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut n = 0;
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => {
                black_box(item);
                n += 1;
            }
            Poll::Ready(None) => return n,
            Poll::Pending => {}
        }
    }
}

fn main() {
    let second = Duration::from_secs(1);
    let outputs = match std::env::args().nth(1).as_deref() {
        Some("ready_chunks") => drive(stream::iter(0..N).ready_chunks(100)),
        Some("batch") => drive(stream::iter(0..N).batch(100, second)),
        Some("fold") => drive(stream::once(stream::iter(0..N).fold(0, |_, x| ready(x)))),
        Some("debounce") => drive(stream::iter(0..N).debounce(second)),
        Some("filter") => drive(stream::iter(0..N).filter(|x| ready(*x == 0))),
        Some("throttle") => drive(stream::iter(0..N).throttle(second)),
        _ => return,
    };
    println!("{outputs} outputs");
}
