//! Strom's local runtime: it turns a [`JobGraph`] into running tasks.
//!
//! * [`executor`]: plans operator chains and channels, one thread per subtask, waits for
//!   the end, a failure or a cancel ([`execute`]).
//! * [`task`] and [`source_task`]: the loops of input tasks and source tasks.
//! * [`downstream`] and [`operator`]: how fused operators call each other, batch by batch.
//! * [`writer`] and [`partition`]: batching into bounded channels (backpressure) and
//!   Flink's partitioners, including key-group routing.
//! * [`valve`]: watermark merging across input channels, with idleness.
//! * [`operators`]: the built-in operators.
//! * [`graph`] and [`nodes`]: the type-erased job graph and the generic node builders.
//! * [`topology`] and [`plan`]: what a job is, as serializable data with a fingerprint, and
//!   the physical plan (tasks, subtasks, slots, channels, key groups) computed from it.

pub mod checkpoint;
pub mod downstream;
pub mod executor;
pub mod graph;
pub mod metrics;
pub mod nodes;
pub mod operator;
pub mod operators;
pub mod partition;
pub mod plan;
pub mod source_task;
pub mod task;
pub mod topology;
pub mod valve;
pub mod writer;

pub use executor::{CancelHandle, ExecutionConfig, JobResult, execute, explain};
pub use graph::{JobGraph, NodeSpec};
pub use metrics::OperatorStats;
pub use partition::Partitioning;
pub use plan::{PhysicalPlan, SlotAssignment};
pub use topology::Topology;
