//! Marble tests: timelines drawn as text, run on virtual time.
//!
//! A marble diagram draws a stream over time, one character per *frame* of virtual time (the
//! tick, 1 ms unless set otherwise). [`Marbles`] turns an input diagram into a stream, hands it
//! with a [`ManualClock`] to the operator under test, drives the result frame by frame the way
//! an executor would — polling only after a wake, so a missing waker registration shows up as
//! a wrong diagram — and records the frame of every output. The recording is then compared
//! with an expected diagram, and a mismatch prints both diagrams aligned, with the first frame
//! where they differ.
//!
//! It works for any `Stream`, not only this crate's adapters, and never reads the real clock
//! (but for the origin of the virtual one, read once).
//!
//! # Syntax
//!
//! | text | meaning |
//! |---|---|
//! | `-` | one frame in which nothing happens |
//! | `a`, `Z`, `7` | a value (a letter or digit), in a frame of its own |
//! | `(ab)` | several events in one frame, in order; the whole group takes **one** frame |
//! | `\|` | the end of the stream |
//! | `#` | an error (`Err`) for streams of `Result`s; the stream goes on after it |
//! | space | nothing: spaces only align diagrams |
//! | `100ms`, `2s`, `1.5s` | as many empty frames as that span holds; written as a word of its own, between spaces |
//!
//! Two differences from RxJS: a group takes one frame whatever its length, and `#` does not end
//! the stream (a `Result` stream carries on after an `Err`, and so do the `try_` adapters).
//! A span must be a whole number of ticks; nothing may follow `|`.
//!
//! Output values are given by a values map (`x => vec!['a', 'b']`) or, for types that
//! implement [`Marble`] (characters, digits, `Result`s of those), drawn directly.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use streamz::{assert_marbles, StreamzExt};
//!
//! let ms = Duration::from_millis;
//! assert_marbles!(
//!     input:  "a-b-c---|",
//!     op:     |s, clock| s.batch(2, ms(3)).with_clock(clock),
//!     output: "--x----y|",
//!     values: { x => vec!['a', 'b'], y => vec!['c'] },
//! );
//! assert_marbles!(
//!     input:  "ab-c----d-e---|",
//!     tick:   ms(10),
//!     op:     |s, clock| s.debounce(ms(30)).with_clock(clock),
//!     output: "------c------e|",
//! );
//! ```
//!
//! The same without the macro, with `Result` items:
//!
//! ```
//! use std::time::Duration;
//! use streamz::testing::Marbles;
//! use streamz::TryStreamzExt;
//!
//! let recording = Marbles::new().run_try("a-#-b|", "boom", |s, clock| {
//!     s.try_throttle(Duration::from_millis(10)).with_clock(clock)
//! });
//! recording.assert_diagram("a-#--|");
//! ```

use std::collections::VecDeque;
use std::error::Error;
use std::fmt::{self, Debug, Write as _};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_core::Stream;

use crate::ManualClock;

/// One event of a diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mark {
    /// A value, drawn as this character.
    Value(char),
    /// An error, drawn `#`.
    Error,
    /// The end of the stream, drawn `|`.
    End,
}

impl Mark {
    fn symbol(self) -> char {
        match self {
            Mark::Value(c) => c,
            Mark::Error => '#',
            Mark::End => '|',
        }
    }
}

/// A parsed marble diagram: the events of each frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagram {
    frames: Vec<Vec<Mark>>,
}

/// A malformed diagram: what is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    diagram: String,
    /// 1-based column (in characters) of the offending text.
    column: usize,
    message: String,
}

impl ParseError {
    /// The 1-based column (in characters) of the offending text.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bad marble diagram: {} (column {})",
            self.message, self.column
        )?;
        writeln!(f, "  {}", self.diagram)?;
        write!(f, "  {}^", " ".repeat(self.column - 1))
    }
}

impl Error for ParseError {}

impl Diagram {
    /// Parses `text` with one frame per `tick` (the tick converts time spans into frames).
    pub fn parse(text: &str, tick: Duration) -> Result<Diagram, ParseError> {
        Parser {
            text,
            chars: text.chars().collect(),
            tick,
            frames: Vec::new(),
            group: None,
            ended: false,
        }
        .parse()
    }

    /// The events of each frame, frame 0 first; the length is the number of frames drawn.
    pub fn frames(&self) -> &[Vec<Mark>] {
        &self.frames
    }

    /// Every event with its frame, in order.
    pub fn events(&self) -> impl Iterator<Item = (u64, Mark)> + '_ {
        self.frames
            .iter()
            .enumerate()
            .flat_map(|(frame, marks)| marks.iter().map(move |&mark| (frame as u64, mark)))
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    tick: Duration,
    frames: Vec<Vec<Mark>>,
    /// An open group: its column and its events so far.
    group: Option<(usize, Vec<Mark>)>,
    ended: bool,
}

impl Parser<'_> {
    fn error(&self, index: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            diagram: self.text.to_string(),
            column: index + 1,
            message: message.into(),
        }
    }

    fn parse(mut self) -> Result<Diagram, ParseError> {
        let mut i = 0;
        while i < self.chars.len() {
            let c = self.chars[i];
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            let word_start = i == 0 || self.chars[i - 1].is_whitespace();
            if word_start && c.is_ascii_digit() && self.group.is_none() {
                let end = (i..self.chars.len())
                    .find(|&j| self.chars[j].is_whitespace())
                    .unwrap_or(self.chars.len());
                let word: String = self.chars[i..end].iter().collect();
                if let Some(span) = parse_span(&word) {
                    self.span(i, span)?;
                    i = end;
                    continue;
                }
            }
            match c {
                '-' => {
                    if self.group.is_some() {
                        return Err(self.error(i, "`-` inside a group"));
                    }
                    self.frame(i, Vec::new())?;
                }
                '(' => {
                    if self.group.is_some() {
                        return Err(self.error(i, "groups cannot be nested"));
                    }
                    self.group = Some((i, Vec::new()));
                }
                ')' => match self.group.take() {
                    None => return Err(self.error(i, "`)` without a `(`")),
                    Some((_, marks)) if marks.is_empty() => {
                        return Err(self.error(i, "empty group `()`: use `-` for an empty frame"))
                    }
                    Some((_, marks)) => {
                        self.frames.push(marks);
                    }
                },
                '|' => self.mark(i, Mark::End)?,
                '#' => self.mark(i, Mark::Error)?,
                c if c.is_alphanumeric() => self.mark(i, Mark::Value(c))?,
                c => {
                    return Err(self.error(
                        i,
                        format!("unexpected character `{c}` (values are letters and digits)"),
                    ))
                }
            }
            i += 1;
        }
        if let Some((start, _)) = self.group {
            return Err(self.error(start, "group `(` is never closed"));
        }
        Ok(Diagram {
            frames: self.frames,
        })
    }

    fn check_not_ended(&self, i: usize) -> Result<(), ParseError> {
        if self.ended {
            return Err(self.error(i, "nothing may follow the end `|`"));
        }
        Ok(())
    }

    fn mark(&mut self, i: usize, mark: Mark) -> Result<(), ParseError> {
        self.check_not_ended(i)?;
        if mark == Mark::End {
            self.ended = true;
        }
        match &mut self.group {
            Some((_, marks)) => marks.push(mark),
            None => self.frames.push(vec![mark]),
        }
        Ok(())
    }

    fn frame(&mut self, i: usize, marks: Vec<Mark>) -> Result<(), ParseError> {
        self.check_not_ended(i)?;
        self.frames.push(marks);
        Ok(())
    }

    fn span(&mut self, i: usize, span: Result<Duration, String>) -> Result<(), ParseError> {
        self.check_not_ended(i)?;
        let span = span.map_err(|message| self.error(i, message))?;
        let tick = self.tick.as_nanos();
        let nanos = span.as_nanos();
        if nanos % tick != 0 {
            return Err(self.error(
                i,
                format!(
                    "time span {span:?} is not a whole number of ticks ({:?})",
                    self.tick
                ),
            ));
        }
        let frames = nanos / tick;
        if frames > 100_000_000 {
            return Err(self.error(i, format!("time span {span:?} is too long for this tick")));
        }
        self.frames
            .extend(std::iter::repeat_with(Vec::new).take(frames as usize));
        Ok(())
    }
}

/// Reads a time span word (`100ms`, `2s`, `1.5s`): `None` if the word is not one.
fn parse_span(word: &str) -> Option<Result<Duration, String>> {
    let (number, nanos_per_unit) = if let Some(number) = word.strip_suffix("ms") {
        (number, 1_000_000u128)
    } else if let Some(number) = word.strip_suffix('s') {
        (number, 1_000_000_000u128)
    } else {
        return None;
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: u128 = match whole.parse() {
        Ok(whole) => whole,
        Err(_) => return Some(Err(format!("time span `{word}` is too long"))),
    };
    let mut nanos = whole.checked_mul(nanos_per_unit);
    let mut scale = nanos_per_unit;
    for digit in fraction.chars() {
        scale /= 10;
        if scale == 0 {
            return Some(Err(format!(
                "time span `{word}` is finer than a nanosecond"
            )));
        }
        nanos = nanos.map(|n| n + u128::from(digit.to_digit(10).unwrap_or(0)) * scale);
    }
    match nanos.and_then(|n| u64::try_from(n).ok()) {
        Some(n) => Some(Ok(Duration::from_nanos(n))),
        None => Some(Err(format!("time span `{word}` is too long"))),
    }
}

/// Draws a value as one marble character.
///
/// Implemented for `char`, `&str` and `String` of one character, unsigned and signed integers
/// from 0 to 9, `bool` (`t`/`f`), and `Result` of those (an `Err` draws as `#`). Types that
/// cannot be drawn in one character (batches, say) are compared through a values map instead.
pub trait Marble {
    /// The character this value draws as, or `None` if it has none.
    fn marble(&self) -> Option<char>;
}

impl Marble for char {
    fn marble(&self) -> Option<char> {
        Some(*self)
    }
}

impl Marble for bool {
    fn marble(&self) -> Option<char> {
        Some(if *self { 't' } else { 'f' })
    }
}

impl Marble for str {
    fn marble(&self) -> Option<char> {
        let mut chars = self.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }
}

impl Marble for String {
    fn marble(&self) -> Option<char> {
        self.as_str().marble()
    }
}

impl<T: Marble + ?Sized> Marble for &T {
    fn marble(&self) -> Option<char> {
        (**self).marble()
    }
}

impl<T: Marble, E> Marble for Result<T, E> {
    fn marble(&self) -> Option<char> {
        match self {
            Ok(value) => value.marble(),
            Err(_) => Some('#'),
        }
    }
}

macro_rules! digit_marbles {
    ($($int:ty),*) => {$(
        impl Marble for $int {
            fn marble(&self) -> Option<char> {
                u32::try_from(*self).ok().and_then(|d| char::from_digit(d, 10))
            }
        }
    )*};
}
digit_marbles!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// Turns the events of an input diagram into stream items.
pub trait InputMap {
    /// The input stream's item.
    type Item;

    /// The item for a value or an error mark (never [`Mark::End`]).
    fn item(&mut self, mark: Mark) -> Self::Item;
}

/// Input items are the diagram's characters; a `#` in the diagram is a mistake.
#[derive(Clone, Copy, Debug, Default)]
pub struct Chars;

impl Chars {
    /// Makes the input a stream of `Result<char, E>`: values are `Ok(c)`, and every `#` is
    /// `Err(error.clone())`.
    pub fn with_error<E: Clone>(self, error: E) -> TryChars<E> {
        TryChars(error)
    }
}

impl InputMap for Chars {
    type Item = char;

    #[track_caller]
    fn item(&mut self, mark: Mark) -> char {
        match mark {
            Mark::Value(c) => c,
            _ => panic!("the input diagram has a `#`, but its items are `char`s: give an error value to make them `Result`s"),
        }
    }
}

/// Input items are `Ok(c)` for the diagram's characters and `Err` for each `#`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TryChars<E>(pub E);

impl<E: Clone> InputMap for TryChars<E> {
    type Item = Result<char, E>;

    fn item(&mut self, mark: Mark) -> Result<char, E> {
        match mark {
            Mark::Value(c) => Ok(c),
            _ => Err(self.0.clone()),
        }
    }
}

impl<F: FnMut(Mark) -> I, I> InputMap for F {
    type Item = I;

    fn item(&mut self, mark: Mark) -> I {
        self(mark)
    }
}

/// The input stream built from a diagram: each item becomes ready in its frame.
pub struct Input<I> {
    shared: Arc<Mutex<InputState<I>>>,
}

struct InputState<I> {
    queue: VecDeque<I>,
    ended: bool,
    waker: Option<Waker>,
}

impl<I> Debug for Input<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared);
        f.debug_struct("Input")
            .field("ready", &state.queue.len())
            .field("ended", &state.ended)
            .finish()
    }
}

impl<I> Stream for Input<I> {
    type Item = I;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<I>> {
        let mut state = lock(&self.shared);
        if let Some(item) = state.queue.pop_front() {
            return Poll::Ready(Some(item));
        }
        if state.ended {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct WakeCount(AtomicUsize);

impl Wake for WakeCount {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs operators on marble diagrams. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Marbles {
    tick: Duration,
    horizon: Duration,
}

impl Default for Marbles {
    fn default() -> Self {
        Self::new()
    }
}

/// Polls in one frame beyond which a stream is taken to spin without end.
const MAX_POLLS_PER_FRAME: usize = 1_000_000;

impl Marbles {
    /// One frame per millisecond; runs at most an hour of virtual time past the input.
    pub fn new() -> Self {
        Marbles {
            tick: Duration::from_millis(1),
            horizon: Duration::from_secs(3600),
        }
    }

    /// Sets the length of one frame.
    ///
    /// # Panics
    ///
    /// Panics if `tick` is zero.
    #[track_caller]
    pub fn tick(mut self, tick: Duration) -> Self {
        assert!(tick > Duration::ZERO, "marbles: the tick must not be zero");
        self.tick = tick;
        self
    }

    /// How much virtual time past the input's last frame a run may take, at most (an hour by
    /// default). A run ends earlier when the output ends, or when nothing is left that could
    /// happen: the input is exhausted, the stream is not woken and no timer is armed.
    pub fn horizon(mut self, horizon: Duration) -> Self {
        self.horizon = horizon;
        self
    }

    /// Parses a diagram at this tick.
    pub fn parse(&self, diagram: &str) -> Result<Diagram, ParseError> {
        Diagram::parse(diagram, self.tick)
    }

    /// Runs `op` on a stream of the input diagram's characters.
    ///
    /// # Panics
    ///
    /// Panics if the diagram is malformed (with the column), or has a `#`.
    #[track_caller]
    pub fn run<S, F>(&self, input: &str, op: F) -> Recording<S::Item>
    where
        S: Stream,
        F: FnOnce(Input<char>, ManualClock) -> S,
    {
        self.run_with(input, Chars, op)
    }

    /// Runs `op` on a stream of `Result<char, E>`: `Ok(c)` for each value, `Err(error)` for
    /// each `#`.
    ///
    /// # Panics
    ///
    /// Panics if the diagram is malformed (with the column).
    #[track_caller]
    pub fn run_try<E, S, F>(&self, input: &str, error: E, op: F) -> Recording<S::Item>
    where
        E: Clone,
        S: Stream,
        F: FnOnce(Input<Result<char, E>>, ManualClock) -> S,
    {
        self.run_with(input, TryChars(error), op)
    }

    /// Runs `op` on a stream whose items `map` makes from the input diagram's events.
    ///
    /// # Panics
    ///
    /// Panics if the diagram is malformed (with the column).
    #[track_caller]
    pub fn run_with<M, S, F>(&self, input: &str, mut map: M, op: F) -> Recording<S::Item>
    where
        M: InputMap,
        S: Stream,
        F: FnOnce(Input<M::Item>, ManualClock) -> S,
    {
        let diagram = match self.parse(input) {
            Ok(diagram) => diagram,
            Err(e) => panic!("input: {e}"),
        };
        let clock = ManualClock::new();
        let start = clock.now();
        let shared = Arc::new(Mutex::new(InputState {
            queue: VecDeque::new(),
            ended: false,
            waker: None,
        }));
        let mut stream = Box::pin(op(
            Input {
                shared: shared.clone(),
            },
            clock.clone(),
        ));
        let wakes = Arc::new(WakeCount::default());
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);

        let tick = self.tick.as_nanos();
        let input_frames = diagram.frames.len() as u64;
        let last_frame = input_frames.saturating_add((self.horizon.as_nanos() / tick) as u64);
        let mut recording = Recording {
            tick: self.tick,
            events: Vec::new(),
        };
        let mut frame: u64 = 0;
        let mut seen = 0;
        let mut must_poll = true;
        'frames: loop {
            // This frame's input, then the stream, polled like an executor would.
            if let Some(marks) = diagram.frames.get(frame as usize) {
                let mut state = lock(&shared);
                for &mark in marks {
                    match mark {
                        Mark::End => state.ended = true,
                        mark => state.queue.push_back(map.item(mark)),
                    }
                }
                if !marks.is_empty() {
                    if let Some(waker) = state.waker.take() {
                        drop(state);
                        waker.wake();
                    }
                }
            }
            let mut polls = 0;
            while must_poll || wakes.0.load(Ordering::SeqCst) > seen {
                polls += 1;
                assert!(
                    polls < MAX_POLLS_PER_FRAME,
                    "marbles: the stream keeps waking itself without yielding in frame {frame}"
                );
                must_poll = false;
                seen = wakes.0.load(Ordering::SeqCst);
                match stream.as_mut().poll_next(&mut cx) {
                    Poll::Ready(Some(item)) => {
                        recording.events.push((frame, Some(item)));
                        must_poll = true;
                    }
                    Poll::Ready(None) => {
                        recording.events.push((frame, None));
                        break 'frames;
                    }
                    Poll::Pending => {}
                }
            }
            // The next frame in which something can happen: an input event or a timer.
            let next_input = diagram.frames[(frame as usize + 1).min(diagram.frames.len())..]
                .iter()
                .position(|marks| !marks.is_empty())
                .map(|offset| frame + 1 + offset as u64);
            let next_timer = clock.next_deadline().map(|deadline| {
                let nanos = deadline.saturating_duration_since(start).as_nanos();
                ((nanos + tick - 1) / tick) as u64
            });
            let next = match (next_input, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(next) => next,
                    None => break,
                },
            };
            let next = next.max(frame + 1);
            if next > last_frame {
                break;
            }
            let step = Duration::from_nanos(((next - frame) as u128 * tick) as u64);
            clock.advance(step);
            frame = next;
        }
        recording
    }
}

/// The outputs of a run: each item (or the end, `None`) with its frame.
pub struct Recording<T> {
    tick: Duration,
    events: Vec<(u64, Option<T>)>,
}

impl<T: Debug> Debug for Recording<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("tick", &self.tick)
            .field("events", &self.events)
            .finish()
    }
}

/// One cell of a rendered diagram: an expected or actual event in a frame.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Mark(char),
    End,
}

impl<T> Recording<T> {
    /// Every output with its frame; `None` is the end of the stream.
    pub fn events(&self) -> &[(u64, Option<T>)] {
        &self.events
    }

    /// The values, in order, without their frames.
    pub fn values(&self) -> Vec<&T> {
        self.events
            .iter()
            .filter_map(|(_, item)| item.as_ref())
            .collect()
    }

    /// Compares with `expected`, whose characters stand for the values given in `values`;
    /// `Err` holds a readable report of the first difference.
    pub fn check_values<I>(&self, expected: &str, values: I) -> Result<(), Mismatch>
    where
        I: IntoIterator<Item = (char, T)>,
        T: PartialEq + Debug,
    {
        let values: Vec<(char, T)> = values.into_iter().collect();
        let legend = |item: &T| values.iter().find(|(_, v)| v == item).map(|(c, _)| *c);
        let describe = |mark: char| {
            values
                .iter()
                .find(|(c, _)| *c == mark)
                .map(|(_, v)| format!("{mark} = {v:?}"))
                .unwrap_or_else(|| format!("{mark} (not in the values map)"))
        };
        self.compare(expected, legend, describe, |item| format!("{item:?}"))
    }

    /// Like [`check_values`](Self::check_values), panicking with the report.
    #[track_caller]
    pub fn assert_values<I>(&self, expected: &str, values: I)
    where
        I: IntoIterator<Item = (char, T)>,
        T: PartialEq + Debug,
    {
        if let Err(mismatch) = self.check_values(expected, values) {
            panic!("{mismatch}");
        }
    }

    /// Compares with `expected`, drawing each value with [`Marble`]; `Err` holds a readable
    /// report of the first difference.
    pub fn check_diagram(&self, expected: &str) -> Result<(), Mismatch>
    where
        T: Marble + Debug,
    {
        self.compare(
            expected,
            |item: &T| item.marble(),
            |mark| mark.to_string(),
            |item| format!("{item:?}"),
        )
    }

    /// Like [`check_diagram`](Self::check_diagram), panicking with the report.
    #[track_caller]
    pub fn assert_diagram(&self, expected: &str)
    where
        T: Marble + Debug,
    {
        if let Err(mismatch) = self.check_diagram(expected) {
            panic!("{mismatch}");
        }
    }

    /// The recording drawn as a diagram, each value with [`Marble`] (`?` where it has no
    /// character).
    pub fn render(&self) -> String
    where
        T: Marble,
    {
        let actual = self.cells(|item: &T| item.marble());
        render(&[actual], self.tick).0.remove(0)
    }

    fn cells(&self, legend: impl Fn(&T) -> Option<char>) -> Vec<Vec<Cell>> {
        let mut frames: Vec<Vec<Cell>> = Vec::new();
        for (frame, item) in &self.events {
            let frame = *frame as usize;
            if frames.len() <= frame {
                frames.resize(frame + 1, Vec::new());
            }
            frames[frame].push(match item {
                Some(item) => Cell::Mark(legend(item).unwrap_or('?')),
                None => Cell::End,
            });
        }
        frames
    }

    fn compare(
        &self,
        expected: &str,
        legend: impl Fn(&T) -> Option<char>,
        describe_expected: impl Fn(char) -> String,
        describe_actual: impl Fn(&T) -> String,
    ) -> Result<(), Mismatch> {
        let diagram = Diagram::parse(expected, self.tick).map_err(|e| Mismatch {
            report: format!("expected: {e}"),
        })?;
        let expected: Vec<Vec<Cell>> = diagram
            .frames
            .iter()
            .map(|marks| {
                marks
                    .iter()
                    .map(|mark| match mark {
                        Mark::End => Cell::End,
                        mark => Cell::Mark(mark.symbol()),
                    })
                    .collect()
            })
            .collect();
        // Values compare by their legend character, and an unknown value never matches.
        let actual = self.cells(&legend);
        let unknown = self.events.iter().any(|(_, item)| match item {
            Some(item) => legend(item).is_none(),
            None => false,
        });
        let frames = expected.len().max(actual.len());
        let at = |cells: &[Vec<Cell>], frame: usize| cells.get(frame).cloned().unwrap_or_default();
        let first_difference =
            (0..frames).find(|&frame| at(&expected, frame) != at(&actual, frame));
        let first_difference = match first_difference {
            None if !unknown => return Ok(()),
            None => self
                .events
                .iter()
                .find(|(_, item)| item.as_ref().is_some_and(|item| legend(item).is_none()))
                .map(|(frame, _)| *frame as usize)
                .unwrap_or(0),
            Some(frame) => frame,
        };

        let (lines, columns) = render(&[expected.clone(), actual], self.tick);
        let mut report = String::new();
        let _ = writeln!(
            report,
            "marble diagrams differ (one frame = {:?})",
            self.tick
        );
        let _ = writeln!(report, "  expected: {}", lines[0]);
        let _ = writeln!(report, "  actual:   {}", lines[1]);
        let column = columns.get(first_difference).copied().unwrap_or(0);
        let time = self.tick * first_difference as u32;
        let _ = writeln!(
            report,
            "            {}^ frame {first_difference} ({time:?})",
            " ".repeat(column)
        );
        let expected_here: Vec<String> = at(&expected, first_difference)
            .iter()
            .map(|cell| match cell {
                Cell::Mark(c) => describe_expected(*c),
                Cell::End => "| (end)".to_string(),
            })
            .collect();
        let actual_here: Vec<String> = self
            .events
            .iter()
            .filter(|(frame, _)| *frame as usize == first_difference)
            .map(|(_, item)| match item {
                Some(item) => match legend(item) {
                    Some(c) => format!("{c} = {}", describe_actual(item)),
                    None => format!("? = {} (not in the values map)", describe_actual(item)),
                },
                None => "| (end)".to_string(),
            })
            .collect();
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "nothing".to_string()
            } else {
                items.join(", ")
            }
        };
        let _ = writeln!(report, "  expected there: {}", list(expected_here));
        let _ = write!(report, "  actual there:   {}", list(actual_here));
        Err(Mismatch { report })
    }
}

/// Renders rows of cells aligned frame by frame; long stretches where every row is empty are
/// drawn as a time span. Returns the lines and the column at which each frame starts.
fn render(rows: &[Vec<Vec<Cell>>], tick: Duration) -> (Vec<String>, Vec<usize>) {
    const SPAN_FROM: usize = 12;
    let frames = rows.iter().map(Vec::len).max().unwrap_or(0);
    let cell_text = |cells: &[Cell]| -> String {
        let text: String = cells
            .iter()
            .map(|cell| match cell {
                Cell::Mark(c) => *c,
                Cell::End => '|',
            })
            .collect();
        match cells.len() {
            0 => "-".to_string(),
            1 => text,
            _ => format!("({text})"),
        }
    };
    let empty = |frame: usize| {
        rows.iter()
            .all(|row| row.get(frame).map_or(true, |cells| cells.is_empty()))
    };
    let mut lines = vec![String::new(); rows.len()];
    let mut columns = Vec::with_capacity(frames);
    let mut width = 0;
    let mut frame = 0;
    while frame < frames {
        let run = (frame..frames).take_while(|&f| empty(f)).count();
        let span = tick * run as u32;
        if run >= SPAN_FROM && span.subsec_nanos() % 1_000_000 == 0 {
            let text = if span.as_millis() % 1000 == 0 {
                format!("{}s ", span.as_secs())
            } else {
                format!("{}ms ", span.as_millis())
            };
            // A span is a word of its own: a space before it, unless it opens the line.
            let text = if frame == 0 { text } else { format!(" {text}") };
            for _ in 0..run {
                columns.push(width);
            }
            for line in &mut lines {
                line.push_str(&text);
            }
            width += text.chars().count();
            frame += run;
            continue;
        }
        // A row that is over (shorter than the others) draws nothing more.
        let texts: Vec<String> = rows
            .iter()
            .map(|row| {
                row.get(frame)
                    .map_or(String::new(), |cells| cell_text(cells))
            })
            .collect();
        let cell_width = texts.iter().map(|t| t.chars().count()).max().unwrap_or(1);
        columns.push(width);
        for (line, text) in lines.iter_mut().zip(texts) {
            let pad = cell_width - text.chars().count();
            line.push_str(&text);
            line.push_str(&" ".repeat(pad));
        }
        width += cell_width;
        frame += 1;
    }
    for line in &mut lines {
        let trimmed = line.trim_end().len();
        line.truncate(trimmed);
    }
    (lines, columns)
}

/// A failed marble comparison: its `Display` is the report (both diagrams aligned, the first
/// differing frame, and the events there).
#[derive(Clone, PartialEq, Eq)]
pub struct Mismatch {
    report: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

impl Debug for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Shown by `unwrap` and `assert!(r.is_ok())`: the report reads better than a struct.
        write!(f, "\n{}", self.report)
    }
}

impl Error for Mismatch {}

#[doc(hidden)]
pub fn __key(text: &str) -> char {
    let inner = text.trim_matches('\'');
    let mut chars = inner.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => panic!("marble value keys are single characters, got `{text}`"),
    }
}

/// Runs an operator on an input marble diagram and asserts its output diagram.
///
/// ```
/// # use std::time::Duration;
/// # use streamz::{assert_marbles, StreamzExt, TryStreamzExt};
/// # let ms = Duration::from_millis;
/// assert_marbles!(
///     input:  "a-b-c---|",                 // items are the characters
///     op:     |s, clock| s.batch(2, ms(3)).with_clock(clock),
///     output: "--x----y|",
///     values: { x => vec!['a', 'b'], y => vec!['c'] },
/// );
/// assert_marbles!(
///     input:  "a-#-b|",
///     error:  "boom",                      // items are Result<char, &str>; `#` is Err("boom")
///     tick:   ms(10),                      // one frame = 10 ms (default 1 ms)
///     op:     |s, clock| s.try_debounce(ms(20)).with_clock(clock),
///     output: "--(a#)--(b|)",              // drawn with `Marble`: no values map needed
/// );
/// ```
///
/// The parts come in this order: `input`, then optionally `error` and `tick`, then `op` (a
/// closure taking the input stream and the [`ManualClock`]), `output`, and optionally `values`
/// (`key => value` pairs; without them the output items are drawn with [`Marble`]).
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[macro_export]
macro_rules! assert_marbles {
    (
        input: $input:expr,
        $(error: $error:expr,)?
        $(tick: $tick:expr,)?
        op: $op:expr,
        output: $output:expr
        $(, values: { $($key:tt => $value:expr),* $(,)? })?
        $(,)?
    ) => {{
        let marbles = $crate::testing::Marbles::new() $(.tick($tick))?;
        let recording = marbles.run_with(
            $input,
            $crate::testing::Chars $(.with_error($error))?,
            $op,
        );
        $crate::__assert_marbles_output!(recording, $output $(, { $($key => $value),* })?);
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __assert_marbles_output {
    ($recording:ident, $output:expr) => {
        $recording.assert_diagram($output)
    };
    ($recording:ident, $output:expr, { $($key:tt => $value:expr),* }) => {
        $recording.assert_values(
            $output,
            ::std::vec![$(($crate::testing::__key(stringify!($key)), $value)),*],
        )
    };
}
