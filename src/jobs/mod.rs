//! The bundled example jobs behind `strom example …`, usable from Rust too.
//!
//! Each job module has `build(&config) -> Result<Job>`, which creates the [`StreamEnv`]
//! with the whole pipeline and runs nothing, and `run(&config)`, which is `build` then
//! [`Job::execute`]. `strom example … --explain` prints the plan of exactly the job `build`
//! made ([`Job::execution_plan`]) instead of running it.

pub mod duration;
pub mod fast_csv;
pub mod fraud;
pub mod rising;
pub mod rolling_sum;
pub mod sensors;
pub mod wordcount;

use std::path::PathBuf;
use strom::runtime::PhysicalPlan;
use strom::{JobResult, Result, StreamEnv};

/// A built job: its environment holds the whole pipeline; nothing has run yet.
pub struct Job {
    env: StreamEnv,
    name: String,
    /// The local checkpoint directory whose savepoint requests the job answers while it
    /// runs (`strom savepoint --checkpoint-dir DIR`).
    savepoint_requests: Option<PathBuf>,
}

impl Job {
    /// The job `name` as built in `env`.
    pub fn new(env: StreamEnv, name: impl Into<String>) -> Self {
        Job {
            env,
            name: name.into(),
            savepoint_requests: None,
        }
    }

    /// While the job runs, answer savepoint requests dropped in `checkpoint_dir`.
    pub fn with_savepoint_requests(mut self, checkpoint_dir: PathBuf) -> Self {
        self.savepoint_requests = Some(checkpoint_dir);
        self
    }

    /// The job's name (as `execute` reports it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The environment with the job's pipeline.
    pub fn env(&self) -> &StreamEnv {
        &self.env
    }

    /// The physical plan the job would run with; nothing runs.
    pub fn execution_plan(&self) -> Result<PhysicalPlan> {
        self.env.execution_plan()
    }

    /// Run the job and wait for it to end. Ctrl-C cancels it (the job then stops cleanly),
    /// and savepoint requests are answered while it runs.
    pub fn execute(self) -> Result<JobResult> {
        crate::cli::cancel_on_ctrl_c(&self.env);
        let _watcher = self
            .savepoint_requests
            .as_deref()
            .map(|dir| crate::cli::savepoint::serve_requests(&self.env, dir));
        self.env.execute(&self.name)
    }
}
