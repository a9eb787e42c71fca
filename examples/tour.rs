//! A tour of streamz on the real clock: one generated, bursty event stream through `batch`,
//! printed as a timeline of what came in and what went out.
//!
//! Run with `cargo run --example tour`. It takes about a second and a half.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, Stream, StreamExt};
use futures_timer::Delay;
use streamz::StreamzExt;

/// One input event: when it is sent (ms from the start) and its label.
type Event = (u64, char);

/// An irregular schedule of bursts and gaps, from a small fixed-seed generator so every run
/// sends the same events.
fn schedule() -> Vec<Event> {
    let mut seed: u32 = 0x2545_f491;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        u64::from(seed) % bound
    };
    let labels = ('a'..='z').chain('A'..='Z');
    let mut events = Vec::new();
    let mut t = 0;
    let mut labels = labels.peekable();
    while t < 1100 && labels.peek().is_some() {
        // A burst of 1 to 6 items, 2 to 15 ms apart, then a quiet gap of 60 to 250 ms.
        for _ in 0..=next(6) {
            if let Some(label) = labels.next() {
                events.push((t, label));
            }
            t += 2 + next(14);
        }
        t += 60 + next(191);
    }
    events
}

/// The schedule as a stream on the real clock, logging each item as it is sent.
fn source(events: Vec<Event>, start: Instant, log: Log) -> impl Stream<Item = char> {
    stream::unfold(events.into_iter(), move |mut events| {
        let log = log.clone();
        async move {
            let (at, label) = events.next()?;
            let due = start + Duration::from_millis(at);
            Delay::new(due.saturating_duration_since(Instant::now())).await;
            log.record(start, Line::In(label));
            Some((label, events))
        }
    })
}

enum Line {
    In(char),
    Out(String),
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(u64, Line)>>>);

impl Log {
    fn record(&self, start: Instant, line: Line) {
        let ms = start.elapsed().as_millis() as u64;
        self.0.lock().unwrap().push((ms, line));
    }

    fn print(&self, title: &str) {
        println!("{title}");
        println!("  {:>7}  {:<4} out", "time", "in");
        for (ms, line) in self.0.lock().unwrap().iter() {
            match line {
                Line::In(label) => println!("  {ms:>4} ms  {label}"),
                Line::Out(text) => println!("  {ms:>4} ms  {:<4} {text}", ""),
            }
        }
        println!();
    }
}

fn main() {
    let events = schedule();
    let start = Instant::now();
    let log = Log::default();

    let batches = source(events, start, log.clone())
        .batch(4, Duration::from_millis(50))
        .for_each(|batch| {
            let text: String = batch.iter().collect();
            log.record(start, Line::Out(format!("[{text}]")));
            async {}
        });
    futures::executor::block_on(batches);

    log.print("batch(4, 50ms): a batch leaves when it holds 4 items, 50 ms after its first item, or at the end");
}
