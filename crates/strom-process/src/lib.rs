//! Process functions on keyed streams (Flink's `KeyedProcessFunction`): per element a
//! context with the key, the element's timestamp, the watermark, processing time, side
//! outputs, keyed state and a timer service; `on_timer` when a timer fires.

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
