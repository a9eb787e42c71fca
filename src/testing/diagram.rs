//! Diagrams: their events ([`Mark`]), their frames ([`Diagram`]), and the parser that reads them,
//! with time spans (`100ms`) and the column of any mistake ([`ParseError`]).

use std::error::Error;
use std::fmt;
use std::time::Duration;

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
    pub(super) fn symbol(self) -> char {
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
