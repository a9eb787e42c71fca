//! [`DropHook`]: what a throttle or a debounce does with the items it drops
//! ([`Throttle::on_drop`](crate::Throttle::on_drop)), the third type parameter of those
//! adapters.

use std::fmt;

/// What a throttle or debounce does with an item it drops. Implemented by [`Discard`] (the
/// default) and [`OnDrop`], made by [`Throttle::on_drop`](crate::Throttle::on_drop) and
/// [`Debounce::on_drop`](crate::Debounce::on_drop).
pub trait DropHook<T> {
    /// Whether [`dropped`](DropHook::dropped) does nothing: then the adapter need not look
    /// at its timer again after calling it.
    const DOES_NOTHING: bool = false;

    /// Receives an item the adapter drops.
    fn dropped(&mut self, item: T);
}

/// Dropped items are just dropped (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Discard;

impl<T> DropHook<T> for Discard {
    const DOES_NOTHING: bool = true;

    #[inline]
    fn dropped(&mut self, _item: T) {}
}

/// Dropped items go to a closure: made by [`Throttle::on_drop`](crate::Throttle::on_drop) and
/// [`Debounce::on_drop`](crate::Debounce::on_drop).
#[derive(Clone)]
pub struct OnDrop<F>(pub(crate) F);

impl<F> fmt::Debug for OnDrop<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnDrop(..)")
    }
}

impl<T, F: FnMut(T)> DropHook<T> for OnDrop<F> {
    #[inline]
    fn dropped(&mut self, item: T) {
        (self.0)(item)
    }
}

/// The drop hook of one key's state in a keyed adapter: it keeps the item its state dropped
/// until the adapter hands it to the user's hook (a state drops at most one item per call).
pub(crate) struct Stash<T>(pub(crate) Option<T>);

impl<T> DropHook<T> for Stash<T> {
    // It only keeps the item, taking no time: the keyed adapter looks at its timer after
    // handing the item to the user's hook, if that does anything.
    const DOES_NOTHING: bool = true;

    #[inline]
    fn dropped(&mut self, item: T) {
        let earlier = self.0.replace(item);
        debug_assert!(earlier.is_none(), "a state dropped two items in one call");
    }
}
