//! The outputs of a run ([`Recording`]), drawn with [`Marble`] or a values map, compared with
//! an expected diagram, and the report of a difference ([`Mismatch`]).

use std::error::Error;
use std::fmt::{self, Debug, Write as _};
use std::time::Duration;

use super::{Diagram, Mark};

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
    /// An empty recording, at `tick` per frame.
    pub(super) fn new(tick: Duration) -> Self {
        Recording {
            tick,
            events: Vec::new(),
        }
    }

    /// Records an output (`None`: the end) in `frame`.
    pub(super) fn push(&mut self, frame: u64, item: Option<T>) {
        self.events.push((frame, item));
    }

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
            .frames()
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
