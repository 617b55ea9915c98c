//! Strom's local runtime: it turns a [`JobGraph`] into running tasks. Jobs are written
//! against `strom-api`; this crate is for extension authors (operators, node builders,
//! connectors with their own tasks).
//!
//! * [`execute`] and [`explain`]: plan a graph and run it (one thread per subtask, until
//!   the end, a failure or a cancel), or only plan it.
//! * [`operator`] and [`operators`]: the operator interface and the built-in operators.
//! * [`downstream`]: how fused operators call each other, batch by batch.
//! * [`graph`] and [`nodes`]: the type-erased job graph and the generic node builders.
//! * [`task`] and [`source_task`]: the loops of input tasks and source tasks.
//! * [`writer`] and [`partition`]: batching into bounded channels (backpressure) and
//!   Flink's partitioners, including key-group routing.
//! * [`checkpoint`]: checkpoint configuration, storage, restore points, savepoints.
//! * [`channel`] and [`frame`]: channels between tasks through one interface, in memory or
//!   serialized into length-prefixed frames (the wire format of a network channel).
//! * [`topology`] and [`plan`]: what a job is, as serializable data with a fingerprint, and
//!   the physical plan (tasks, subtasks, slots, channels, key groups) computed from it.
//!
//! Two modules are hidden from these docs, having nothing for other crates: `executor`,
//! whose API is re-exported here ([`execute`], [`explain`], [`ExecutionConfig`],
//! [`JobResult`], [`CancelHandle`]), and `valve` (watermark merging across a task's input
//! channels, with idleness).

pub mod channel;
pub mod checkpoint;
pub mod downstream;
#[doc(hidden)]
pub mod executor;
pub mod frame;
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
#[doc(hidden)]
pub mod valve;
pub mod writer;

pub use executor::{CancelHandle, ExecutionConfig, JobResult, execute, explain};
pub use graph::{JobGraph, NodeSpec};
pub use metrics::OperatorStats;
pub use partition::Partitioning;
pub use plan::{PhysicalPlan, SlotAssignment};
pub use topology::Topology;
