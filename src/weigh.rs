//! [`Weigh`]: how a batch weighs its items ([`Batch::max_weight`](crate::Batch::max_weight)),
//! the third type parameter of [`Batch`](crate::Batch) and [`TryBatch`](crate::TryBatch).

use std::fmt;

/// How a batch weighs its items. Implemented by [`Unweighted`] (the default) and
/// [`Weighted`], made by [`Batch::max_weight`](crate::Batch::max_weight).
pub trait Weigh<T> {
    /// Whether weights count at all.
    const ACTIVE: bool;

    /// The weight of `item`.
    fn weigh(&mut self, item: &T) -> usize;

    /// The most a batch may weigh.
    fn max_weight(&self) -> usize;
}

/// Batches count items only (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unweighted;

impl<T> Weigh<T> for Unweighted {
    const ACTIVE: bool = false;

    #[inline]
    fn weigh(&mut self, _item: &T) -> usize {
        0
    }

    #[inline]
    fn max_weight(&self) -> usize {
        usize::MAX
    }
}

/// Batches bounded in weight too: made by [`Batch::max_weight`](crate::Batch::max_weight).
#[derive(Clone)]
pub struct Weighted<F> {
    pub(crate) max_weight: usize,
    pub(crate) weigh: F,
}

impl<F> fmt::Debug for Weighted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Weighted")
            .field("max_weight", &self.max_weight)
            .finish_non_exhaustive()
    }
}

impl<T, F: FnMut(&T) -> usize> Weigh<T> for Weighted<F> {
    const ACTIVE: bool = true;

    #[inline]
    fn weigh(&mut self, item: &T) -> usize {
        (self.weigh)(item)
    }

    #[inline]
    fn max_weight(&self) -> usize {
        self.max_weight
    }
}
