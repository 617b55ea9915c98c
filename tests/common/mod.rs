//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod two_phase;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};
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

/// Lines of every committed part file (hidden in-progress files excluded), sorted.
pub fn committed(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap();
            lines.extend(text.lines().map(str::to_string));
        }
    }
    lines.sort();
    lines
}

pub fn sorted_lines(file: &Path) -> Vec<String> {
    let mut l: Vec<String> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    l.sort();
    l
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}
