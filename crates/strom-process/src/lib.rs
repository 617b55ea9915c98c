//! Process functions on keyed streams (Flink's `KeyedProcessFunction`): per element a
//! context with the key, the element's timestamp, the watermark, processing time, side
//! outputs, keyed state and a timer service; `on_timer` when a timer fires.
//!
//! Every operator here takes part in exactly-once checkpoints: keyed state and timers are
//! snapshotted by key group (so a job restores at another parallelism), broadcast state as
//! one copy per subtask, async I/O's unfinished elements as operator list state; each
//! module's documentation says what it keeps. [`testkit`] snapshots and restores operators
//! by hand, to test a function's state across a failure or a rescaling.

pub mod async_io;
pub mod broadcast;
pub mod co;
pub mod keyed;
pub mod testkit;
pub mod timer;

pub use async_io::{AsyncConfig, AsyncFunction, AsyncOperator};
pub use broadcast::{
    BroadcastContext, BroadcastProcessFunction, BroadcastProcessOperator, BroadcastStates,
    KeyedBroadcastContext, KeyedBroadcastOperator, KeyedBroadcastProcessFunction,
    KeyedReadOnlyContext, ReadOnlyContext,
};
pub use co::{CoProcessFunction, KeyedCoProcessFunction};
pub use keyed::{KeyedContext, KeyedProcessFunction, KeyedProcessOperator};
pub use testkit::{KeyedHarness, OperatorHarness, ProcessHarness};
pub use timer::{TimeDomain, TimerQueue, TimerService};
