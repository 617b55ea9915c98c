//! Keyed state, as in Flink: state declared by descriptors and scoped to the current key.
//!
//! * [`descriptor`]: [`ValueStateDescriptor`], [`ListStateDescriptor`],
//!   [`MapStateDescriptor`], [`ReducingStateDescriptor`], [`AggregatingStateDescriptor`],
//!   each with an optional [`StateTtlConfig`].
//! * [`backend`]: [`KeyedStateStore`], the
//!   [`KeyedStateBackend`] interface an operator's state lives behind, with snapshots and
//!   restore. Two backends implement it: [`HeapBackend`] keeps state in memory,
//!   [`DiskBackend`] in an embedded on-disk store (with incremental checkpoints); user code,
//!   which only sees handles, does not change with the backend.
//! * [`heap`] and [`disk`]: the two backends.
//! * [`handle`]: [`ValueState`], [`ListState`], [`MapState`], [`ReducingState`],
//!   [`AggregatingState`]: what a function gets from its context for the current key.
//!
//! Expired TTL values are never returned; they are removed when read and by
//! [`KeyedStateStore::cleanup_expired`], which the runtime calls in the background.

pub mod backend;
mod codec;
pub mod descriptor;
pub mod disk;
pub mod handle;
pub mod heap;

pub use backend::{HeapBackend, KeyedStateBackend, KeyedStateStore, StateName};
pub use descriptor::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    StateTtlConfig, TtlUpdate, ValueStateDescriptor,
};
pub use disk::DiskBackend;
pub use handle::{AggregatingState, ListState, MapState, ReducingState, StateAccess, ValueState};
/// Operator (non-keyed) list state lives in `strom-core` (functions reach it through their
/// context); re-exported here with the rest of the state API.
pub use strom_core::operator_state::{
    OperatorListStateDescriptor, OperatorStateStore, Redistribution, redistribute,
};
