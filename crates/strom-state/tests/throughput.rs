//! A rough throughput measurement of both backends (ignored by default; run with
//! `cargo test --release -p strom-state --test throughput -- --ignored --nocapture`).

#![allow(clippy::unwrap_used)]

use std::time::Instant;
use strom_core::TaskInfo;
use strom_core::checkpoint::{CheckpointKind, SnapshotContext, StateBackendConfig, StateSnapshot};
use strom_state::handle::StateAccess;
use strom_state::*;

fn ctx(id: u64, base: Option<u64>) -> SnapshotContext {
    SnapshotContext {
        checkpoint_id: id,
        timestamp_ms: 0,
        kind: CheckpointKind::Checkpoint,
        incremental_base: base,
        max_parallelism: 128,
    }
}

#[test]
#[ignore = "a measurement, not a test"]
fn read_modify_write_and_snapshot_throughput() {
    const KEYS: u64 = 200_000;
    const OPS: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let info = TaskInfo {
        job_name: "bench".into(),
        operator_name: "count".into(),
        subtask: 0,
        parallelism: 1,
        max_parallelism: 128,
    };
    for config in [
        StateBackendConfig::Heap,
        StateBackendConfig::Disk {
            dir: dir.path().to_path_buf(),
            cache_bytes: 64 << 20,
        },
    ] {
        let mut store = KeyedStateStore::<String>::for_backend(&config, &info).unwrap();
        let d = ValueStateDescriptor::<u64>::new("count");
        let mut x: u64 = 1;
        let start = Instant::now();
        for _ in 0..OPS {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let key = format!("key-{}", (x >> 33) % KEYS);
            let mut h = d.bind(StateAccess {
                store: &mut store,
                key: &key,
                now: 0,
            });
            let v = h.value().unwrap().unwrap_or(0);
            h.update(v + 1).unwrap();
        }
        let rmw = start.elapsed();

        let start = Instant::now();
        let mut snap = StateSnapshot::new();
        store.snapshot(&ctx(1, None), &mut snap).unwrap();
        let sync_full = start.elapsed();
        let full: usize = snap.materialize().unwrap().iter().map(|s| s.size()).sum();
        let full_total = start.elapsed();
        store.notify_checkpoint_complete(1);

        for i in 0..10_000u64 {
            let key = format!("key-{}", i * 7 % KEYS);
            d.bind(StateAccess {
                store: &mut store,
                key: &key,
                now: 0,
            })
            .update(i)
            .unwrap();
        }
        let start = Instant::now();
        let mut snap = StateSnapshot::new();
        store.snapshot(&ctx(2, Some(1)), &mut snap).unwrap();
        let sync_inc = start.elapsed();
        let inc: usize = snap.materialize().unwrap().iter().map(|s| s.size()).sum();
        let inc_total = start.elapsed();
        println!(
            "{}: {:.0} read-modify-writes/s over {KEYS} keys; full snapshot {full} B in {:?} (sync {:?}); \
             incremental after 10k changes {inc} B in {:?} (sync {:?})",
            if store.is_on_disk() { "disk" } else { "heap" },
            OPS as f64 / rmw.as_secs_f64(),
            full_total,
            sync_full,
            inc_total,
            sync_inc,
        );
    }
}
