//! Writes a stream of events into a real SQLite database, one transaction per batch, and
//! compares that with one transaction per event.
//!
//! ```sh
//! cargo run --release --example sqlite_sink                   # the full comparison
//! cargo run --example sqlite_sink -- --events 2000 --seconds 1  # a quick run
//! ```
//!
//! A producer thread sends events (an id, a payload and the instant it was sent) into a
//! channel; the writer takes them through `batch(500, 20ms)` and commits each batch in one
//! transaction. For every event, the time from its send to the commit that made it durable is
//! recorded. Three scenarios, each with batches and with one transaction per event:
//!
//! 1. as fast as possible, `synchronous=NORMAL` (the usual setting with WAL);
//! 2. as fast as possible, `synchronous=FULL` (an fsync per commit);
//! 3. a steady 2,000 events per second for `--seconds` (default 5), `synchronous=FULL`.
//!
//! Per-event transactions get fewer events in the first two scenarios (`--per-row-events`,
//! default 5,000), as they are that much slower. In the third, a writer that falls behind gets
//! `--seconds` after the last send to catch up, and the rows it committed by then are reported.
//!
//! Options: `--events N` (default 200,000), `--per-row-events N`, `--seconds N`, `--rate N`
//! (events per second in scenario 3, default 2,000).

use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::executor::block_on;
use futures::StreamExt;
use rusqlite::{params, Connection};
use streamz::StreamzExt;

const MAX_SIZE: usize = 500;
const MAX_LATENCY: Duration = Duration::from_millis(20);

struct Event {
    id: u64,
    payload: String,
    sent: Instant,
}

struct Options {
    events: u64,
    per_row_events: u64,
    seconds: u64,
    rate: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Writer {
    /// `batch(MAX_SIZE, MAX_LATENCY)`, one transaction per batch.
    Batched,
    /// One transaction per event.
    PerRow,
}

/// How events are sent: as fast as the channel takes them, or at a steady rate.
#[derive(Clone, Copy)]
enum Pace {
    Flat,
    Steady { rate: u64 },
}

/// What one run measured.
struct Report {
    sent: u64,
    committed: u64,
    elapsed: Duration,
    /// Send-to-commit times of the committed events, sorted.
    latencies: Vec<Duration>,
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("sqlite_sink: {problem}");
            eprintln!(
                "usage: sqlite_sink [--events N] [--per-row-events N] [--seconds N] [--rate N]"
            );
            return ExitCode::from(2);
        }
    };
    let dir = scratch_dir();
    println!(
        "SQLite {} (bundled), WAL; batches of batch({MAX_SIZE}, {MAX_LATENCY:?})",
        rusqlite::version()
    );
    println!(
        "{:<34} {:<9} {:>8} {:>9} {:>11} {:>9} {:>9} {:>9}",
        "scenario", "writer", "sent", "committed", "rows/s", "p50", "p99", "max"
    );
    let steady = Pace::Steady { rate: options.rate };
    let scenarios = [
        ("as fast as possible, NORMAL", "NORMAL", Pace::Flat),
        ("as fast as possible, FULL", "FULL", Pace::Flat),
        ("steady rate, FULL", "FULL", steady),
    ];
    for (number, (name, synchronous, pace)) in scenarios.into_iter().enumerate() {
        for writer in [Writer::Batched, Writer::PerRow] {
            let events = match (pace, writer) {
                (Pace::Flat, Writer::Batched) => options.events,
                (Pace::Flat, Writer::PerRow) => options.per_row_events,
                (Pace::Steady { rate }, _) => rate * options.seconds,
            };
            let path = dir.join(format!("scenario-{number}-{}.db", writer.name()));
            let report = match run(&path, synchronous, writer, pace, events, options.seconds) {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("sqlite_sink: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let name = match pace {
                Pace::Steady { rate } => format!("{rate} events/s, FULL"),
                Pace::Flat => name.to_string(),
            };
            print_row(&name, writer, &report);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    ExitCode::SUCCESS
}

/// Sends `events` events and writes them to a new database at `path`; reports what was
/// committed and when.
fn run(
    path: &PathBuf,
    synchronous: &str,
    writer: Writer,
    pace: Pace,
    events: u64,
    grace_seconds: u64,
) -> rusqlite::Result<Report> {
    let _ = std::fs::remove_file(path);
    let mut db = Connection::open(path)?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", synchronous)?;
    db.execute_batch("CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")?;

    let (tx, rx) = mpsc::unbounded::<Event>();
    let start = Instant::now();
    let producer = thread::spawn(move || {
        for id in 0..events {
            if let Pace::Steady { rate } = pace {
                let due = start + Duration::from_secs_f64(id as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
            }
            let payload = format!("event {id}");
            let event = Event {
                id,
                payload,
                sent: Instant::now(),
            };
            if tx.unbounded_send(event).is_err() {
                break;
            }
        }
    });
    // In the steady scenario, a writer that falls behind stops this long after the last send.
    let give_up = match pace {
        Pace::Steady { rate } => Some(
            start
                + Duration::from_secs_f64(events as f64 / rate as f64)
                + Duration::from_secs(grace_seconds),
        ),
        Pace::Flat => None,
    };
    let past = |now: Instant| give_up.is_some_and(|t| now >= t);

    let mut latencies = Vec::with_capacity(events as usize);
    block_on(async {
        match writer {
            Writer::Batched => {
                let mut batches = rx.batch(MAX_SIZE, MAX_LATENCY);
                while let Some(batch) = batches.next().await {
                    let done = commit(&mut db, &batch)?;
                    latencies.extend(batch.iter().map(|e| done - e.sent));
                    if past(done) {
                        break;
                    }
                }
            }
            Writer::PerRow => {
                let mut rx = rx;
                while let Some(event) = rx.next().await {
                    let done = commit(&mut db, std::slice::from_ref(&event))?;
                    latencies.push(done - event.sent);
                    if past(done) {
                        break;
                    }
                }
            }
        }
        Ok::<(), rusqlite::Error>(())
    })?;
    let elapsed = start.elapsed();
    // A writer that gave up dropped the receiver: the producer stops at its next send.
    producer.join().expect("the producer panicked");
    let committed: i64 = db.query_row("SELECT count(*) FROM events", [], |row| row.get(0))?;
    let committed = committed as u64;
    assert_eq!(
        committed,
        latencies.len() as u64,
        "every committed row was timed"
    );
    latencies.sort();
    Ok(Report {
        sent: events,
        committed,
        elapsed,
        latencies,
    })
}

/// Writes `events` in one transaction; returns the instant the commit returned.
fn commit(db: &mut Connection, events: &[Event]) -> rusqlite::Result<Instant> {
    let transaction = db.transaction()?;
    {
        let mut insert =
            transaction.prepare_cached("INSERT INTO events (id, payload) VALUES (?1, ?2)")?;
        for event in events {
            insert.execute(params![event.id as i64, event.payload])?;
        }
    }
    transaction.commit()?;
    Ok(Instant::now())
}

impl Writer {
    fn name(self) -> &'static str {
        match self {
            Writer::Batched => "batched",
            Writer::PerRow => "per-row",
        }
    }
}

fn print_row(name: &str, writer: Writer, report: &Report) {
    let writer = writer.name();
    let rate = report.committed as f64 / report.elapsed.as_secs_f64();
    let quantile = |q: f64| -> String {
        match report.latencies.len() {
            0 => "-".to_string(),
            n => {
                let i = ((n - 1) as f64 * q).round() as usize;
                format_duration(report.latencies[i])
            }
        }
    };
    println!(
        "{:<34} {:<9} {:>8} {:>9} {:>11.0} {:>9} {:>9} {:>9}",
        name,
        writer,
        report.sent,
        report.committed,
        rate,
        quantile(0.5),
        quantile(0.99),
        quantile(1.0)
    );
}

fn format_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

/// A new directory for this run's databases.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("streamz-sqlite-sink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cannot create a scratch directory");
    dir
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        events: 200_000,
        per_row_events: 5_000,
        seconds: 5,
        rate: 2_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("{flag} takes a whole number, not `{value}`"))?;
        match flag.as_str() {
            "--events" => options.events = number,
            "--per-row-events" => options.per_row_events = number,
            "--seconds" => options.seconds = number,
            "--rate" => options.rate = number,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.rate == 0 || options.seconds == 0 {
        return Err("--rate and --seconds must be at least 1".to_string());
    }
    Ok(options)
}
