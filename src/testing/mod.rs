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
//! (but for the origin of the virtual one, read once). The poll loop underneath is [`Driver`],
//! for tests that drive a stream step by step instead of through diagrams.
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
//! | `100ms`, `2s`, `1.5s` | empty frames for that span; a word of its own, between spaces |
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
//!
//! [`ManualClock`]: crate::ManualClock

mod diagram;
mod driver;
mod input;
mod macros;
mod recording;
mod runner;

pub use diagram::{Diagram, Mark, ParseError};
pub use driver::{Driver, WakeCounter};
pub use input::{Chars, Input, InputMap, TryChars};
#[doc(hidden)]
pub use macros::__key;
pub use recording::{Marble, Mismatch, Recording};
pub use runner::Marbles;
