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
//! * [`heap`] and `disk`: the two backends.
//! * [`namespace`]: [`Namespaced`] keys, `(key, window)` as Flink's window operators keep
//!   their state, in the key's key group.
//! * [`handle`]: [`ValueState`], [`ListState`], [`MapState`], [`ReducingState`],
//!   [`AggregatingState`]: what a function gets from its context for the current key.
//!
//! **Cargo features.** `disk` (default) builds the disk backend on the embedded store fjall.
//! Without it only the heap backend exists: a job configured with
//! [`StateBackendConfig::Disk`](strom_core::checkpoint::StateBackendConfig::Disk) fails
//! before it runs, with the error of [`disk_unavailable`] ([`DISK_BACKEND`] tells whether
//! this build has it).
//!
//! Expired TTL values are never returned; they are removed when read and by
//! [`KeyedStateStore::cleanup_expired`], which the runtime calls in the background.

pub mod backend;
// Parts of the codec only the disk backend writes with.
#[cfg_attr(not(feature = "disk"), allow(dead_code))]
mod codec;
pub mod descriptor;
#[cfg(feature = "disk")]
pub mod disk;
pub mod handle;
pub mod heap;
pub mod namespace;

pub use backend::{HeapBackend, KeyedStateBackend, KeyedStateStore, StateName};
pub use descriptor::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    StateTtlConfig, TtlUpdate, ValueStateDescriptor,
};
#[cfg(feature = "disk")]
pub use disk::DiskBackend;
pub use handle::{AggregatingState, ListState, MapState, ReducingState, StateAccess, ValueState};
pub use namespace::Namespaced;
/// Operator (non-keyed) list state lives in `strom-core` (functions reach it through their
/// context); re-exported here with the rest of the state API.
pub use strom_core::operator_state::{
    OperatorListStateDescriptor, OperatorStateStore, Redistribution, redistribute,
};

/// Whether this build has the disk state backend (cargo feature `disk`).
pub const DISK_BACKEND: bool = cfg!(feature = "disk");

/// The error for a job that asks for the disk state backend in a build without it.
pub fn disk_unavailable() -> strom_core::StromError {
    strom_core::StromError::InvalidJob(
        "the disk state backend (StateBackendConfig::Disk) is not available: Strom was built \
         without the `disk` cargo feature (enable feature `disk` of `strom`, or use \
         StateBackendConfig::Heap)"
            .into(),
    )
}
