//! How a call that took every item it could ends: the alarm set for the machine's next
//! deadline that yields something (rule 6 of the [`engine`](crate::engine)), or the end.

use std::task::{Context, Poll};
use std::time::Instant;

use super::{Engine, Machine};
use crate::clock::Clock;

impl<C: Clock, O> Engine<C, O> {
    /// The inner stream paused (it has registered the waker) or ended: a deadline that will
    /// yield something needs the alarm. Without one, a paused adapter waits for its inner
    /// stream (a timer still armed wakes nobody), and an ended one ends, and its timer goes.
    #[inline(always)]
    pub(super) fn rest<M: Machine>(
        &mut self,
        machine: &mut M,
        cx: &mut Context<'_>,
        wrap: &impl Fn(M::Output) -> O,
    ) -> Poll<Option<O>> {
        match machine.wake_at() {
            // Most often the alarm is armed for that already, and has not fired.
            Some(at) if self.watch.poll_alarm(at, cx).is_pending() => Poll::Pending,
            Some(at) => self.wait(machine, at, cx, wrap),
            None if self.done => {
                self.watch.release();
                Poll::Ready(None)
            }
            None => {
                self.watch.unregister();
                Poll::Pending
            }
        }
    }

    /// Sets the alarm to wake the task at `at` and returns `Pending`, or, if `at` is already
    /// reached, acts on it.
    #[cold]
    #[inline(never)]
    pub(super) fn wait<M: Machine>(
        &mut self,
        machine: &mut M,
        mut at: Instant,
        cx: &mut Context<'_>,
        wrap: &impl Fn(M::Output) -> O,
    ) -> Poll<Option<O>> {
        loop {
            if self.watch.poll_alarm(at, cx).is_pending() {
                return Poll::Pending;
            }
            let now = self.read(machine);
            if let Some(out) = machine.on_deadlines(now) {
                return Poll::Ready(Some(wrap(out)));
            }
            // An earlier arming fired, or the deadline yielded nothing after all (a keyed
            // machine wakes for every key's deadline): wait for the next one, if any.
            match machine.wake_at() {
                Some(next) if next > now => at = next,
                Some(_) => {
                    // A deadline reached that yields nothing and stays: look again on the
                    // next poll rather than hang.
                    debug_assert!(false, "a machine kept a reached deadline");
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                None if self.done => {
                    self.watch.release();
                    return Poll::Ready(None);
                }
                None => {
                    self.watch.unregister();
                    return Poll::Pending;
                }
            }
        }
    }
}
