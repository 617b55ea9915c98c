//! Windows with Apache Flink's semantics: assigners (tumbling, sliding, session, global,
//! in event or processing time), triggers, evictors, allowed lateness with late side
//! output, and window functions (reduce, aggregate, process, and combinations), run by
//! [`WindowOperator`].
//!
//! Every operator here checkpoints its state as keyed state cut by key group (windows,
//! contents, trigger state, timers, function state; the interval join's buffers), so a job
//! restores exactly-once at any parallelism: see [`operator`], [`slicing`] and
//! [`interval_join`] for what each keeps.

pub mod assigner;
pub mod evictor;
pub mod function;
pub mod interval_join;
pub mod operator;
pub mod slicing;
mod state;
pub mod trigger;
pub mod window;

pub use assigner::{
    EventTimeSessionWindows, GlobalWindows, ProcessingTimeSessionWindows, SlidingEventTimeWindows,
    SlidingProcessingTimeWindows, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
    WindowAssigner,
};
pub use evictor::{CountEvictor, Evictor, NoEvictor, TimeEvictor};
pub use function::{AggregateFunction, ProcessWindowFunction, WindowContext, WindowElements};
pub use interval_join::{
    Either, IntervalBounds, IntervalJoinContext, IntervalJoinOperator, ProcessJoinFunction,
};
pub use operator::{WindowOperator, WindowSettings};
pub use slicing::SlicingWindowOperator;
pub use trigger::{
    ContinuousEventTimeTrigger, CountTrigger, EventTimeTrigger, NeverTrigger,
    ProcessingTimeTrigger, PurgingTrigger, Trigger, TriggerContext, TriggerResult,
};
pub use window::{GlobalWindow, TimeWindow, Window};
