//! Per-operator counters, shared by all subtasks of an operator and readable while the job
//! runs (for the CLI, the REST API and the dashboard) and in the job result.

use std::sync::atomic::{AtomicU64, Ordering};

/// Record counters of one operator, summed over its subtasks. Updated once per batch.
#[derive(Debug, Default)]
pub struct OperatorMetrics {
    records_in: AtomicU64,
    records_out: AtomicU64,
}

impl OperatorMetrics {
    /// Count `n` records received.
    #[inline]
    pub fn add_in(&self, n: usize) {
        self.records_in.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Count `n` records emitted.
    #[inline]
    pub fn add_out(&self, n: usize) {
        self.records_out.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Records received so far.
    pub fn records_in(&self) -> u64 {
        self.records_in.load(Ordering::Relaxed)
    }
    /// Records emitted so far.
    pub fn records_out(&self) -> u64 {
        self.records_out.load(Ordering::Relaxed)
    }
}

/// One operator's figures in a [`crate::JobResult`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorStats {
    /// The operator's name.
    pub name: String,
    /// Its uid, if set.
    pub uid: Option<String>,
    /// Its parallelism.
    pub parallelism: usize,
    /// The task (operator chain) it ran in, by head operator name.
    pub task: String,
    /// Records it received, over all subtasks.
    pub records_in: u64,
    /// Records it emitted on its main output, over all subtasks.
    pub records_out: u64,
}
