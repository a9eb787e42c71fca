//! The input side of a run: the stream built from a diagram ([`Input`]), and how its events
//! become items ([`InputMap`], [`Chars`], [`TryChars`]).

use std::collections::VecDeque;
use std::fmt::{self, Debug};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use super::Mark;

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
            _ => panic!(
                "the input diagram has a `#`, but its items are `char`s: \
                 give an error value to make them `Result`s"
            ),
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

/// The runner's end of an [`Input`]: hands it the events of each frame.
pub(super) struct InputFeed<I> {
    shared: Arc<Mutex<InputState<I>>>,
}

struct InputState<I> {
    queue: VecDeque<I>,
    ended: bool,
    waker: Option<Waker>,
}

/// A new input stream, empty and not ended, and the feed that fills it.
pub(super) fn channel<I>() -> (InputFeed<I>, Input<I>) {
    let shared = Arc::new(Mutex::new(InputState {
        queue: VecDeque::new(),
        ended: false,
        waker: None,
    }));
    (
        InputFeed {
            shared: shared.clone(),
        },
        Input { shared },
    )
}

impl<I> InputFeed<I> {
    /// Queues the items of one frame's `marks` (made by `map`), ends the input at a
    /// [`Mark::End`], and wakes the stream's consumer if the frame had any event.
    #[track_caller]
    pub(super) fn frame<M: InputMap<Item = I>>(&self, marks: &[Mark], map: &mut M) {
        let mut state = lock(&self.shared);
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
