//! `--state-backend`, `--state-dir` and `--state-cache-mb`: where a job's keyed state
//! lives, the same flags on every command that runs a stateful job.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use strom::prelude::StateBackendConfig;

/// The state backend flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct StateBackendArgs {
    /// Where keyed state (windows, patterns, per-key state) lives: `heap` (in memory) or
    /// `disk` (an embedded on-disk store, for state larger than memory). Default: what
    /// the environment variable STROM_STATE_BACKEND names, else `heap`.
    #[arg(long, value_enum)]
    state_backend: Option<StateBackendKind>,
    /// Working directory of the disk backend (one sub-directory per stateful subtask,
    /// removed when the job ends; checkpoints do not go here). Default: `strom-state` in
    /// the system's temporary directory ($TMPDIR or /tmp).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Memory of the disk backend for caches and write buffers, per stateful subtask, MiB.
    #[arg(long, default_value_t = 64)]
    state_cache_mb: u64,
}

/// `--state-backend`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateBackendKind {
    /// Every state object in memory.
    Heap,
    /// An embedded on-disk store.
    Disk,
}

impl StateBackendArgs {
    /// The configuration these flags ask for, `None` when they name no backend (the job
    /// then follows STROM_STATE_BACKEND); `--state-dir` without `disk` is an error.
    pub(crate) fn config(&self) -> anyhow::Result<Option<StateBackendConfig>> {
        Ok(match self.state_backend {
            None | Some(StateBackendKind::Heap) => {
                anyhow::ensure!(
                    self.state_dir.is_none(),
                    "--state-dir is for --state-backend disk"
                );
                self.state_backend.map(|_| StateBackendConfig::Heap)
            }
            Some(StateBackendKind::Disk) => Some(StateBackendConfig::Disk {
                dir: self
                    .state_dir
                    .clone()
                    .unwrap_or_else(|| std::env::temp_dir().join("strom-state")),
                cache_bytes: self.state_cache_mb.max(1).saturating_mul(1 << 20),
            }),
        })
    }
}
