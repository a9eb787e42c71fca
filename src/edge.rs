//! [`Edge`]: which items of a burst `throttle` and `debounce` let through.

/// Which items of a burst a [`throttle`](crate::StreamzExt::throttle) or
/// [`debounce`](crate::StreamzExt::debounce) lets through, following the lodash/RxJS
/// conventions.
///
/// - `Leading`: the first item, at once.
/// - `Trailing`: the latest item, when the window or quiet period ends.
/// - `Both`: the first item at once, and the latest one at the end if it is another item.
///
/// `throttle` defaults to `Leading`, `debounce` to `Trailing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edge {
    /// The first item of a burst, at once.
    Leading,
    /// The latest item of a burst, at its end.
    Trailing,
    /// The first item at once, and the latest at the end (if another item arrived after the
    /// first).
    Both,
}

impl Edge {
    pub(crate) fn trailing(self) -> bool {
        matches!(self, Edge::Trailing | Edge::Both)
    }
}
