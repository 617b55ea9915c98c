//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod two_phase;

use std::time::Duration;
use strom::prelude::*;
use strom::{JobResult, Result};

/// Run the job on another thread and fail the test if it has not ended within `limit`
/// (a hang is a bug: no job may hang on a failure).
pub fn execute_within(env: &StreamEnv, name: &str, limit: Duration) -> Result<JobResult> {
    let (tx, rx) = std::sync::mpsc::channel();
    let env = env.clone();
    let name = name.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(env.execute(&name));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("job did not end within {limit:?}"))
}

/// Tag each record with the subtask that saw it.
pub fn with_subtask<T: Data>(s: DataStream<T>) -> DataStream<(usize, T)> {
    s.process(
        |v: T, ctx: &mut ProcessContext, out: &mut Collector<(usize, T)>| {
            out.collect((ctx.task_info().subtask, v));
            Ok(())
        },
    )
}

/// Sorted copy.
pub fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}
