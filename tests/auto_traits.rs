//! `Send`, `Sync` and `Unpin` of every adapter follow its inner stream, its items and its clock.

use std::cell::Cell;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::stream::{self, Stream};
use static_assertions::{assert_impl_all, assert_not_impl_any};
use streamz::{
    Batch, BatchBy, Debounce, DebounceBy, Flushed, ManualClock, SystemClock, Throttle, ThrottleBy,
    TryBatch, TryBatchBy, TryDebounce, TryDebounceBy, TryThrottle, TryThrottleBy, Unweighted,
};

type Ready<T> = stream::Iter<std::vec::IntoIter<T>>;

/// A stream that is `Send + Sync` but not `Unpin`.
struct Pinned(PhantomPinned);

impl Stream for Pinned {
    type Item = u8;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u8>> {
        Poll::Ready(None)
    }
}

struct PinnedTry(PhantomPinned);

impl Stream for PinnedTry {
    type Item = Result<u8, ()>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(None)
    }
}

macro_rules! check {
    ($plain:ident, $try:ident) => {
        // Everything allows it: all three, on either clock.
        assert_impl_all!($plain<Ready<u8>>: Send, Sync, Unpin);
        assert_impl_all!($plain<Ready<u8>, ManualClock>: Send, Sync, Unpin);
        assert_impl_all!($try<Ready<Result<u8, String>>, SystemClock>: Send, Sync, Unpin);
        // Items that are neither `Send` nor `Sync`.
        assert_not_impl_any!($plain<Ready<Rc<u8>>>: Send, Sync);
        assert_not_impl_any!($try<Ready<Result<Rc<u8>, ()>>>: Send, Sync);
        // Items that are `Send` but not `Sync`: the adapter is `Send` but not `Sync`.
        assert_impl_all!($plain<Ready<Cell<u8>>>: Send, Unpin);
        assert_not_impl_any!($plain<Ready<Cell<u8>>>: Sync);
        // An inner stream that is not `Unpin`: neither is the adapter, and it stays `Send`.
        assert_impl_all!($plain<Pinned>: Send, Sync);
        assert_not_impl_any!($plain<Pinned>: Unpin);
        assert_not_impl_any!($try<PinnedTry>: Unpin);
    };
}

#[test]
fn batch_auto_traits() {
    check!(Batch, TryBatch);
    // With reasons: the same as without.
    type Why<T> = Flushed<T>;
    assert_impl_all!(Batch<Ready<u8>, SystemClock, Unweighted, Why<u8>>: Send, Sync, Unpin);
    assert_not_impl_any!(Batch<Ready<Rc<u8>>, SystemClock, Unweighted, Why<Rc<u8>>>: Send, Sync);
    assert_not_impl_any!(Batch<Pinned, SystemClock, Unweighted, Why<u8>>: Unpin);
}

#[test]
fn throttle_auto_traits() {
    check!(Throttle, TryThrottle);
}

#[test]
fn debounce_auto_traits() {
    check!(Debounce, TryDebounce);
}

#[test]
fn clocks_auto_traits() {
    assert_impl_all!(SystemClock: Send, Sync, Unpin, Copy, Default);
    assert_impl_all!(ManualClock: Send, Sync, Unpin, Clone, Default, std::fmt::Debug);
    assert_impl_all!(streamz::SystemTimer: Send, Sync, Unpin);
    assert_impl_all!(streamz::ManualTimer: Send, Sync, Unpin);
}

/// A key function, as a plain function pointer (`Send + Sync + Unpin`).
type KeyOf<T> = fn(&T) -> u8;

macro_rules! check_keyed {
    ($plain:ident, $try:ident) => {
        assert_impl_all!($plain<Ready<u8>, u8, KeyOf<u8>>: Send, Sync, Unpin);
        assert_impl_all!($plain<Ready<u8>, u8, KeyOf<u8>, ManualClock>: Send, Sync, Unpin);
        assert_impl_all!(
            $try<Ready<Result<u8, String>>, u8, KeyOf<u8>, SystemClock>: Send, Sync, Unpin
        );
        // Items, or keys, that are neither `Send` nor `Sync`.
        assert_not_impl_any!($plain<Ready<Rc<u8>>, u8, KeyOf<Rc<u8>>>: Send, Sync);
        assert_not_impl_any!($plain<Ready<u8>, Rc<u8>, fn(&u8) -> Rc<u8>>: Send, Sync);
        // A key function that is neither.
        assert_not_impl_any!($plain<Ready<u8>, u8, Rc<dyn Fn(&u8) -> u8>>: Send, Sync);
        // An inner stream that is not `Unpin`.
        assert_impl_all!($plain<Pinned, u8, KeyOf<u8>>: Send, Sync);
        assert_not_impl_any!($plain<Pinned, u8, KeyOf<u8>>: Unpin);
        assert_not_impl_any!($try<PinnedTry, u8, KeyOf<u8>>: Unpin);
    };
}

#[test]
fn keyed_auto_traits() {
    check_keyed!(BatchBy, TryBatchBy);
    check_keyed!(ThrottleBy, TryThrottleBy);
    check_keyed!(DebounceBy, TryDebounceBy);
}
