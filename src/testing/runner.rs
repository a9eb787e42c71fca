//! [`Marbles`]: runs an operator on an input diagram, frame by frame, and records its outputs.

use std::time::Duration;

use futures_core::Stream;

use super::input::channel;
use super::{Chars, Diagram, Driver, Input, InputMap, ParseError, Recording, TryChars};
use crate::ManualClock;

/// Runs operators on marble diagrams. See the [module docs](crate::testing).
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
        let (feed, stream) = channel();
        let mut driver = Driver::new(op(stream, clock.clone())).max_polls(MAX_POLLS_PER_FRAME);

        let tick = self.tick.as_nanos();
        let frames = diagram.frames();
        let input_frames = frames.len() as u64;
        let last_frame = input_frames.saturating_add((self.horizon.as_nanos() / tick) as u64);
        let mut recording = Recording::new(self.tick);
        let mut frame: u64 = 0;
        loop {
            // This frame's input, then the stream, polled like an executor would.
            if let Some(marks) = frames.get(frame as usize) {
                feed.frame(marks, &mut map);
            }
            driver.run(|output| recording.push(frame, output));
            if driver.is_ended() {
                break;
            }
            // The next frame in which something can happen: an input event or a timer.
            let next_input = frames[(frame as usize + 1).min(frames.len())..]
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
