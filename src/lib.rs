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
mod macros;
mod throttle;
mod weigh;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

pub use batch::{Batch, TryBatch};
pub use clock::{Clock, ManualClock, ManualTimer, SystemClock, SystemTimer, Timer};
#[cfg(feature = "tokio")]
pub use clock::{TokioClock, TokioTimer};
pub use debounce::{Debounce, TryDebounce};
pub use drop_hook::{Discard, DropHook, OnDrop};
pub use edge::Edge;
pub use ext::{StreamzExt, TryStreamzExt};
pub use throttle::{Throttle, TryThrottle};
pub use weigh::{Unweighted, Weigh, Weighted};
