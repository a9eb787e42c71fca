#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod clock;
mod debounce;
mod drop_hook;
mod edge;
mod engine;
mod ext;
mod flushed;
mod keyed;
mod macros;
mod manual_clock;
mod system_clock;
mod throttle;
#[cfg(feature = "tokio")]
mod tokio_clock;
mod weigh;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

pub use batch::{Batch, BatchBy, TryBatch, TryBatchBy};
pub use clock::{Clock, Timer};
pub use debounce::{Debounce, DebounceBy, TryDebounce, TryDebounceBy};
pub use drop_hook::{Discard, DropHook, OnDrop};
pub use edge::Edge;
pub use ext::{StreamzExt, TryStreamzExt};
pub use flushed::{BatchOutput, FlushReason, Flushed};
pub use manual_clock::{ManualClock, ManualTimer};
pub use system_clock::{SystemClock, SystemTimer};
pub use throttle::{Throttle, ThrottleBy, TryThrottle, TryThrottleBy};
#[cfg(feature = "tokio")]
pub use tokio_clock::{TokioClock, TokioTimer};
pub use weigh::{Unweighted, Weigh, Weighted};
