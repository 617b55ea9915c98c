//! `strom bench checkpoint`: the cost of checkpoints on a keyed-state job, the size and
//! duration of checkpoints, bytes written (full vs incremental) and recovery time.

use std::path::PathBuf;
use std::time::{Duration, Instant};
use strom::prelude::*;

/// Settings of the checkpoint benchmark.
#[derive(clap::Args, Debug)]
pub(crate) struct CheckpointBench {
    /// Number of events.
    #[arg(long, default_value_t = 20_000_000)]
    events: u64,
    /// Number of distinct keys (each holds one value of `--value-bytes`).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Bytes of state per key.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Parallelism.
    #[arg(long, default_value_t = 1)]
    parallelism: usize,
    /// `heap` or `disk`.
    #[arg(long, default_value = "heap")]
    backend: String,
    /// Working directory of the disk backend.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Memory for the disk backend's caches, MB.
    #[arg(long, default_value_t = 256)]
    cache_mb: u64,
    /// Checkpoint interval; without it, no checkpoints.
    #[arg(long, value_parser = crate::jobs::duration::parse_duration)]
    checkpoint_interval: Option<Duration>,
    /// Where checkpoints go (required with --checkpoint-interval or --restore).
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Restore from the newest checkpoint in --checkpoint-dir first (measures recovery).
    #[arg(long)]
    restore: bool,
    /// Emit at most this many events per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Start each key's value with pseudo-random bytes instead of zeros, so that the disk
    /// backend's compression cannot shrink the state.
    #[arg(long)]
    random_values: bool,
}

pub(crate) fn run(b: CheckpointBench) -> anyhow::Result<()> {
    let mut env = StreamEnv::new().with_parallelism(b.parallelism);
    env = match b.backend.as_str() {
        "heap" => env,
        "disk" => env.with_state_backend(StateBackendConfig::Disk {
            dir: b
                .state_dir
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join("strom-state")),
            cache_bytes: b.cache_mb << 20,
        }),
        other => anyhow::bail!("--backend {other}: expected heap or disk"),
    };
    if let Some(interval) = b.checkpoint_interval {
        let dir = b
            .checkpoint_dir
            .clone()
            .ok_or_else(|| anyhow::anyhow!("--checkpoint-interval needs --checkpoint-dir"))?;
        env = env.with_checkpointing(CheckpointConfig {
            retained: 2,
            ..CheckpointConfig::local(interval, dir)?
        });
    }
    let restore_started = Instant::now();
    if b.restore {
        let dir = b
            .checkpoint_dir
            .clone()
            .ok_or_else(|| anyhow::anyhow!("--restore needs --checkpoint-dir"))?;
        let point = RestorePoint::from_path(&dir)?;
        env = env.restore_from(point);
    }
    let (keys, value_bytes, random) = (b.keys, b.value_bytes, b.random_values);
    let state = ValueStateDescriptor::<Vec<u8>>::new("blob");
    let mut src = env
        .generate(Some(b.events), move |i| {
            (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % keys, i)
        })
        .uid("generator");
    if let Some(r) = b.rate {
        src = src.rate_limit(r);
    }
    src.key_by(|e: &(u64, u64)| e.0)
        .process(
            move |e: (u64, u64), ctx: &mut KeyedContext<u64>, out: &mut Collector<u64>| {
                let mut s = ctx.value_state(&state);
                let mut v = s.value()?.unwrap_or_else(|| {
                    if random {
                        noise(e.0, value_bytes)
                    } else {
                        vec![0u8; value_bytes]
                    }
                });
                let at = (e.1 as usize) % v.len().max(1);
                if let Some(b) = v.get_mut(at) {
                    *b = b.wrapping_add(1);
                }
                s.update(v)?;
                if e.1.is_multiple_of(10_000_000) {
                    out.collect(e.1);
                }
                Ok(())
            },
        )
        .uid("state")
        .discard();
    let started = Instant::now();
    let result = env.execute("bench checkpoint")?;
    let secs = started.elapsed().as_secs_f64();
    let processed = result
        .operators
        .iter()
        .find(|o| o.uid.as_deref() == Some("state"))
        .map_or(b.events, |o| o.records_in);
    println!(
        "events={} seconds={secs:.3} events_per_s={:.0} backend={} keys={} value_bytes={}",
        processed,
        processed as f64 / secs,
        b.backend,
        b.keys,
        b.value_bytes
    );
    if b.restore {
        println!(
            "restored_from={:?} total_seconds={:.3}",
            result.restored_from,
            restore_started.elapsed().as_secs_f64()
        );
    }
    let cps: Vec<_> = result
        .checkpoints
        .iter()
        .filter(|c| c.state_bytes > 0)
        .collect();
    for c in &cps {
        println!(
            "checkpoint id={} duration_ms={:.1} state_bytes={} written_bytes={} alignment_ms={:.1} sync_ms={:.1} async_ms={:.1}",
            c.id,
            c.duration_ms,
            c.state_bytes,
            c.written_bytes,
            c.alignment_ms,
            c.operators.iter().map(|o| o.sync_ms).fold(0.0, f64::max),
            c.operators.iter().map(|o| o.async_ms).fold(0.0, f64::max),
        );
    }
    Ok(())
}

/// `n` pseudo-random bytes derived from `seed` (xorshift).
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
