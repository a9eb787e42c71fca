//! [`Flushed`]: a batch with why it left ([`FlushReason`]) and when it opened, made by
//! [`Batch::with_reasons`](crate::Batch::with_reasons); and [`BatchOutput`], what a batch
//! adapter yields for each batch.

use std::time::Instant;

/// A batch, with why it left and when its first item arrived: the item type of
/// [`Batch::with_reasons`](crate::Batch::with_reasons).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flushed<T> {
    /// The items, in the order they arrived.
    pub items: Vec<T>,
    /// Why the batch left.
    pub reason: FlushReason,
    /// When the batch's first item arrived, by the adapter's clock (a reading taken as that
    /// item arrived): its deadline is
    /// `opened_at + max_latency`. For a batch that left by its deadline, the time from here to
    /// the batch's receipt is how long its first item waited.
    pub opened_at: Instant,
}

/// Why a batch left. `max_size`, `max_latency` and `max_weight` are the bounds set on the
/// adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlushReason {
    /// It held `max_size` items.
    Full,
    /// Its weight: the next item would have taken it over `max_weight`, or it weighed more
    /// than `max_weight` (an item that heavy on its own leaves alone).
    Weight,
    /// Its deadline passed: `max_latency` after its first item arrived.
    Deadline,
    /// With a zero `max_latency`: the inner stream paused (returned `Pending`), or the poll
    /// budget ran out while it stayed ready.
    Paused,
    /// The inner stream ended.
    End,
    /// A keyed batch ([`batch_by`](crate::StreamzExt::batch_by)) reached its `max_keys` bound
    /// as a new key arrived, and this key's batch had the earliest deadline.
    MaxKeys,
}

/// What a batch adapter yields for each batch: its items (`Vec<T>`, the default), or a
/// [`Flushed`] with why it left (after [`with_reasons`](crate::Batch::with_reasons)).
pub trait BatchOutput<T> {
    /// The output for a batch that left.
    fn from_flushed(flushed: Flushed<T>) -> Self;
}

impl<T> BatchOutput<T> for Vec<T> {
    #[inline]
    fn from_flushed(flushed: Flushed<T>) -> Self {
        flushed.items
    }
}

impl<T> BatchOutput<T> for Flushed<T> {
    #[inline]
    fn from_flushed(flushed: Flushed<T>) -> Self {
        flushed
    }
}
