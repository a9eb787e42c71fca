//! Batches the lines of stdin: one JSON array of strings per batch on stdout, and a one-line
//! summary on stderr of why the batches left (as the adapter tells, with `with_reasons`).
//!
//! ```sh
//! seq 1 100000 | cargo run --example batch_lines -- --max-size 1000
//! ```
//!
//! Options (all optional):
//!
//! - `--max-size N`: lines per batch at most (default 100);
//! - `--max-bytes N`: bytes per batch at most, counting each line without its newline; a line
//!   longer than that on its own makes a batch of its own (default: no limit);
//! - `--max-latency-ms N`: how long the first line of a batch may wait (default 1000).
//!
//! Lines end at `\n` (a `\r` before it is kept, as part of the line). A line that is not valid
//! UTF-8 is an error: the batches before it are written, then the program says which line it
//! was and exits with status 65. If stdout is closed early (`| head`), the program stops
//! quietly with status 0. It streams: memory holds one batch and a small read-ahead buffer,
//! however large the input.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use futures::channel::mpsc;
use futures::executor::block_on;
use futures::{SinkExt, StreamExt};
use streamz::{FlushReason, TryStreamzExt};

/// Lines read ahead of the batcher, at most.
const READ_AHEAD: usize = 1024;

struct Options {
    max_size: usize,
    max_bytes: Option<usize>,
    max_latency: Duration,
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("batch_lines: {problem}");
    eprintln!("usage: batch_lines [--max-size N] [--max-bytes N] [--max-latency-ms N] < lines");
    ExitCode::from(2)
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        max_size: 100,
        max_bytes: None,
        max_latency: Duration::from_millis(1000),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let value = args.next().ok_or(format!("{name} needs a value"))?;
            value
                .parse()
                .map_err(|_| format!("{name} takes a whole number, not `{value}`"))
        };
        match flag.as_str() {
            "--max-size" => {
                let n = number("--max-size")?;
                if n == 0 {
                    return Err("--max-size must be at least 1".into());
                }
                options.max_size = usize::try_from(n).unwrap_or(usize::MAX);
            }
            "--max-bytes" => {
                options.max_bytes =
                    Some(usize::try_from(number("--max-bytes")?).unwrap_or(usize::MAX))
            }
            "--max-latency-ms" => {
                options.max_latency = Duration::from_millis(number("--max-latency-ms")?)
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(options)
}

/// What the reader thread sends: a line, or the number of a line that is not UTF-8.
enum Read {
    Line(String),
    NotUtf8(u64),
}

/// Reads stdin line by line into `tx`, on its own thread (stdin blocks).
fn read_lines(mut tx: mpsc::Sender<Read>) -> io::Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut buffer = Vec::new();
    let mut number = 0;
    loop {
        buffer.clear();
        if input.read_until(b'\n', &mut buffer)? == 0 {
            return Ok(());
        }
        number += 1;
        if buffer.last() == Some(&b'\n') {
            buffer.pop();
        }
        let read = match String::from_utf8(std::mem::take(&mut buffer)) {
            Ok(line) => Read::Line(line),
            Err(_) => Read::NotUtf8(number),
        };
        let stop = matches!(read, Read::NotUtf8(_));
        // The batcher is gone (stdout closed, or an error): stop reading.
        if block_on(tx.send(read)).is_err() || stop {
            return Ok(());
        }
    }
}

/// Writes `batch` as a JSON array of strings, on one line.
fn write_json(out: &mut impl Write, batch: &[String]) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, line) in batch.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"\"")?;
        for c in line.chars() {
            match c {
                '"' => out.write_all(b"\\\"")?,
                '\\' => out.write_all(b"\\\\")?,
                '\n' => out.write_all(b"\\n")?,
                '\r' => out.write_all(b"\\r")?,
                '\t' => out.write_all(b"\\t")?,
                c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
                c => write!(out, "{c}")?,
            }
        }
        out.write_all(b"\"")?;
    }
    out.write_all(b"]\n")
}

/// The batches written so far, and why each left.
#[derive(Default)]
struct Summary {
    batches: u64,
    lines: u64,
    size: u64,
    bytes: u64,
    deadline: u64,
    paused: u64,
    end: u64,
}

impl Summary {
    /// Writes `batch`, and counts why it left.
    fn emit(&mut self, out: &mut impl Write, batch: &[String], why: FlushReason) -> io::Result<()> {
        match why {
            FlushReason::Full => self.size += 1,
            FlushReason::Weight => self.bytes += 1,
            FlushReason::Deadline => self.deadline += 1,
            FlushReason::Paused => self.paused += 1,
            // The end of the input (or the line before one that is not UTF-8).
            _ => self.end += 1,
        }
        self.batches += 1;
        self.lines += batch.len() as u64;
        write_json(out, batch)?;
        out.flush()
    }
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(problem) => return usage(&problem),
    };
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let reader = std::thread::spawn(move || read_lines(tx));

    // A line that is not UTF-8 comes through as an error, ahead of the pending batch.
    let lines = rx.map(|read| match read {
        Read::Line(line) => Ok(line),
        Read::NotUtf8(number) => Err(number),
    });
    let mut batches = lines
        .try_batch(options.max_size, options.max_latency)
        .max_weight(options.max_bytes.unwrap_or(usize::MAX), |line: &String| {
            line.len()
        })
        .with_reasons();

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    let outcome: io::Result<Option<u64>> = block_on(async {
        loop {
            match batches.next().await {
                Some(Ok(batch)) => summary.emit(&mut out, &batch.items, batch.reason)?,
                None => return Ok(None),
                Some(Err(bad_line)) => {
                    // Write the lines that came before the bad one, then stop.
                    let pending = std::pin::Pin::new(&mut batches).take_pending();
                    if !pending.is_empty() {
                        summary.emit(&mut out, &pending, FlushReason::End)?;
                    }
                    return Ok(Some(bad_line));
                }
            }
        }
    });
    // Dropping the receiving end stops the reader at its next line.
    drop(batches);
    let bad_line = match outcome {
        Ok(bad_line) => bad_line,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("batch_lines: cannot write: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "batches: {}, lines: {}; left by size: {}, bytes: {}, deadline: {}, paused: {}, end: {}",
        summary.batches,
        summary.lines,
        summary.size,
        summary.bytes,
        summary.deadline,
        summary.paused,
        summary.end
    );
    if let Some(number) = bad_line {
        eprintln!("batch_lines: line {number} is not valid UTF-8; stopped there");
        return ExitCode::from(65);
    }
    if let Ok(Err(e)) = reader.join() {
        eprintln!("batch_lines: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
