//! Process functions on keyed streams (Flink's `KeyedProcessFunction`): per element a
//! context with the key, the element's timestamp, the watermark, processing time, side
//! outputs, keyed state and a timer service; `on_timer` when a timer fires.

pub mod co;
pub mod keyed;
pub mod timer;

pub use co::{CoProcessFunction, KeyedCoProcessFunction};
pub use keyed::{KeyedContext, KeyedProcessFunction, KeyedProcessOperator};
pub use timer::{TimeDomain, TimerQueue, TimerService};
