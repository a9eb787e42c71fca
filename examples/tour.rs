//! A tour of streamz on the real clock: one generated, bursty event stream through `batch`,
//! `throttle` and `debounce` (each edge) and a keyed `debounce_by`, drawn as aligned timelines.
//!
//! Run with `cargo run --example tour`. It takes about a second and a half.

use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use futures_timer::Delay;
use streamz::{Edge, StreamzExt};

/// Milliseconds per character in the drawings.
const TICK: u64 = 20;

/// An irregular schedule of bursts and gaps, as (ms from the start, label), from a small
/// fixed-seed generator so that every run sends the same events.
fn schedule() -> Vec<(u64, char)> {
    let mut seed: u32 = 0x2545_f491;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        u64::from(seed) % bound
    };
    let mut events = Vec::new();
    let mut labels = ('a'..='z').chain('A'..='Z');
    let mut t = 0;
    while t < 1000 {
        // A burst of 1 to 6 items, 20 to 39 ms apart, then a gap of 100 to 249 ms.
        for _ in 0..=next(6) {
            let Some(label) = labels.next() else {
                return events;
            };
            events.push((t, label));
            t += 20 + next(20);
        }
        t += 100 + next(150);
    }
    events
}

/// The schedule as a stream on the real clock.
fn source(events: &[(u64, char)], start: Instant) -> impl Stream<Item = char> {
    stream::iter(events.to_vec()).then(move |(at, label)| async move {
        let due = start + Duration::from_millis(at);
        Delay::new(due.saturating_duration_since(Instant::now())).await;
        label
    })
}

/// One adapter's output: when, the character to draw, and the full text.
type Output = (u64, char, String);

/// Runs `out` to its end, stamping each output with the time since `start`.
async fn record(out: BoxStream<'static, (char, String)>, start: Instant) -> Vec<Output> {
    out.map(|(mark, text)| (start.elapsed().as_millis() as u64, mark, text))
        .collect()
        .await
}

/// Draws events on a line, one character per `TICK` ms; `*` marks two events in one cell.
fn draw(events: impl Iterator<Item = (u64, char)>, len: usize) -> String {
    let mut line = vec!['·'; len];
    for (ms, mark) in events {
        let cell = ((ms + TICK / 2) / TICK) as usize;
        if cell >= line.len() {
            line.resize(cell + 1, '·');
        }
        line[cell] = if line[cell] == '·' { mark } else { '*' };
    }
    line.into_iter().collect()
}

fn main() {
    let events = schedule();
    let start = Instant::now();
    let ms = Duration::from_millis;
    let item = |c: char| (c, c.to_string());

    let adapters: Vec<(&str, BoxStream<'static, (char, String)>)> = vec![
        (
            "batch(4, 60ms)",
            source(&events, start)
                .batch(4, ms(60))
                .map(|batch| {
                    let size = char::from_digit(batch.len() as u32, 10).unwrap_or('+');
                    (size, batch.into_iter().collect())
                })
                .boxed(),
        ),
        (
            "throttle(100ms)",
            source(&events, start).throttle(ms(100)).map(item).boxed(),
        ),
        (
            "  .edge(Trailing)",
            source(&events, start)
                .throttle(ms(100))
                .edge(Edge::Trailing)
                .map(item)
                .boxed(),
        ),
        (
            "  .edge(Both)",
            source(&events, start)
                .throttle(ms(100))
                .edge(Edge::Both)
                .map(item)
                .boxed(),
        ),
        (
            "debounce(60ms)",
            source(&events, start).debounce(ms(60)).map(item).boxed(),
        ),
        (
            "  .edge(Leading)",
            source(&events, start)
                .debounce(ms(60))
                .edge(Edge::Leading)
                .map(item)
                .boxed(),
        ),
        (
            "  .edge(Both)",
            source(&events, start)
                .debounce(ms(60))
                .edge(Edge::Both)
                .map(item)
                .boxed(),
        ),
        (
            "  .max_wait(100ms)",
            source(&events, start)
                .debounce(ms(60))
                .max_wait(ms(100))
                .map(item)
                .boxed(),
        ),
        (
            // Keyed: odd and even letters each debounced on their own.
            "debounce_by(odd?,60ms)",
            source(&events, start)
                .debounce_by(|c| *c as u32 % 2, ms(60))
                .map(item)
                .boxed(),
        ),
    ];
    let names: Vec<&str> = adapters.iter().map(|(name, _)| *name).collect();
    let outputs = futures::executor::block_on(join_all(
        adapters.into_iter().map(|(_, out)| record(out, start)),
    ));

    let len = (start.elapsed().as_millis() as u64 / TICK + 2) as usize;
    println!("One bursty stream through every adapter; one character = {TICK} ms.");
    println!("batch rows show the size of each batch; `*` marks two events in one cell.\n");
    let input = draw(events.iter().map(|&(t, c)| (t, c)), len);
    println!("{:<24}{input}", "input");
    for (name, out) in names.iter().zip(&outputs) {
        println!(
            "{:<24}{}",
            name,
            draw(out.iter().map(|&(t, mark, _)| (t, mark)), len)
        );
    }

    println!("\nExact times (ms):");
    let list = |items: Vec<String>| items.join(" ");
    println!(
        "{:<24}{}",
        "input",
        list(events.iter().map(|(t, c)| format!("{c}@{t}")).collect())
    );
    for (name, out) in names.iter().zip(&outputs) {
        println!(
            "{:<24}{}",
            name,
            list(
                out.iter()
                    .map(|(t, _, text)| format!("{text}@{t}"))
                    .collect()
            )
        );
    }
}
