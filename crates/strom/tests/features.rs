//! What the cargo features change, seen from a job. Run without the defaults too:
//! `cargo test -p strom --no-default-features`.
#![allow(clippy::unwrap_used, missing_docs)]

use strom::prelude::*;

fn keyed_job(env: &StreamEnv) -> strom::connectors::collect::CollectHandle<(u32, u64)> {
    env.from_collection(vec![(1u32, 1u64), (2, 2), (1, 3)])
        .key_by(|(k, _)| *k)
        .sum(|t: &mut (u32, u64)| &mut t.1)
        .collect()
}

fn disk(dir: &std::path::Path) -> StateBackendConfig {
    StateBackendConfig::Disk {
        dir: dir.to_path_buf(),
        cache_bytes: 8 << 20,
    }
}

/// Without the `disk` feature, asking for the disk backend fails before the job runs, with
/// an error that names the feature (and neither panics nor falls back to the heap).
#[cfg(not(feature = "disk"))]
#[test]
fn disk_backend_without_the_feature_is_an_invalid_job() {
    let dir = std::env::temp_dir().join(format!("strom-no-disk-{}", std::process::id()));
    let env = StreamEnv::new()
        .with_parallelism(1)
        .with_state_backend(disk(&dir));
    let out = keyed_job(&env);
    let plan = env.execution_plan().unwrap_err().to_string();
    assert!(plan.contains("`disk`"), "{plan}");
    let err = env.execute("no disk").unwrap_err();
    assert!(matches!(err, StromError::InvalidJob(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("`disk` cargo feature"), "{msg}");
    assert!(out.take().is_empty());
    assert!(!dir.exists(), "nothing was opened");
    // The environment is usable again, on the heap.
    let env = env.with_state_backend(StateBackendConfig::Heap);
    let out = keyed_job(&env);
    env.execute("heap").unwrap();
    assert_eq!(out.take().len(), 3);
}

/// With it, the disk backend is accepted and the same job runs with it configured (its
/// rolling sum keeps its own state on the heap until the keyed-state layer covers it).
#[cfg(feature = "disk")]
#[test]
fn disk_backend_with_the_feature_runs() {
    let dir = tempfile::tempdir().unwrap();
    let env = StreamEnv::new()
        .with_parallelism(1)
        .with_state_backend(disk(dir.path()));
    let out = keyed_job(&env);
    env.execute("disk").unwrap();
    let mut sums = out.take();
    sums.sort();
    assert_eq!(sums, vec![(1, 1), (1, 4), (2, 2)]);
}
