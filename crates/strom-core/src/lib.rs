//! The contracts between Strom's runtime and the code users write.
//!
//! * [`Data`] and [`Key`]: what may flow through a stream and what may key it.
//! * [`function`]: the user function traits ([`ProcessFunction`]) with their
//!   [`Collector`] and [`ProcessContext`].
//! * [`source`] and [`sink`]: the connector traits, modelled on Flink's split-based
//!   sources (FLIP-27) and writer-based sinks (FLIP-143).
//! * [`OutputTag`] and [`SideOutputs`]: typed side outputs.
//! * [`StromError`]: the one error type that ends a job, always naming where it happened.
//!
//! This crate does no I/O and starts no threads; the runtime drives everything here.

pub mod checkpoint;
pub mod clock;
mod data;
mod error;
pub mod function;
pub mod operator_state;
mod side_output;
pub mod sink;
pub mod source;
pub mod watermark;

pub use clock::{Clock, ManualClock, SystemClock};
/// A string stored inline up to 24 bytes: cloning a short key or id allocates nothing.
pub use compact_str::CompactString;
pub use data::{Data, Either, Key, java_string_hash, stable_hash};
pub use error::{BoxError, Result, StromError, panic_message};
pub use function::{AggregateFunction, Collector, ProcessContext, ProcessFunction, TaskInfo};
pub use side_output::{OutputTag, SideOutputs};
pub use sink::{Sink, SinkContext, SinkWriter};
pub use source::{
    Boundedness, DeadLetter, ReadStatus, Source, SourceContext, SourceOutput, SourceReader,
    SplitEvent,
};
pub use strom_types::*;
