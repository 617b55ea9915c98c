//! Exactly-once checkpoints: a keyed running count over a paced generator, with a failure
//! injected half-way. The job restarts from its latest checkpoint and its committed output
//! (a directory of part files) holds every count exactly once.
//!
//! ```sh
//! cargo run --release --example checkpointing
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use strom::connectors::file::CsvSink;
use strom::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("strom-checkpointing-{}", std::process::id()));
    let events = 20_000u64;
    let env = StreamEnv::new()
        .with_parallelism(2)
        .enable_checkpointing(Duration::from_millis(100), dir.join("checkpoints"))
        .with_restart_strategy(RestartStrategy::FixedDelay {
            attempts: 3,
            delay: Duration::from_millis(200),
        });
    let failed = Arc::new(AtomicBool::new(false));
    env.generate(Some(events), |i| (i % 4, i))
        .uid("generator")
        .rate_limit(20_000.0)
        .try_map(move |(key, i)| {
            // Fail once, half-way through.
            if i == events / 2 && !failed.swap(true, Ordering::SeqCst) {
                return Err(format!("injected failure at event {i}"));
            }
            Ok((key, 1u64))
        })
        .key_by(|e: &(u64, u64)| e.0)
        .sum(|e: &mut (u64, u64)| &mut e.1)
        .uid("counts")
        .sink_to(CsvSink::new(dir.join("out")), "counts")
        .uid("counts-sink");
    let result = env.execute("checkpointing example")?;
    println!(
        "{} checkpoints, {} restart(s); last checkpoint: {:?} bytes",
        result.checkpoints.len(),
        result.restarts,
        result.checkpoints.last().map(|c| c.state_bytes)
    );
    // Every running count 1..=5000 of each of the 4 keys appears exactly once.
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir.join("out"))?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("part-") {
            rows.extend(
                std::fs::read_to_string(entry.path())?
                    .lines()
                    .map(String::from),
            );
        }
    }
    let committed = rows.len();
    rows.sort();
    rows.dedup();
    println!(
        "{committed} rows committed, {} distinct (expected {events} of each)",
        rows.len()
    );
    assert_eq!((committed as u64, rows.len() as u64), (events, events));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
