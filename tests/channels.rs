//! Channels between tasks in both modes: serialized channels really encode what crosses a
//! task boundary (and nothing inside a chain), and a job gives the same results in both
//! modes, checkpoints included.

mod common;

use common::{execute_within, sorted};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use strom::prelude::*;
use strom::runtime::channel::ChannelMode;

const LIMIT: Duration = Duration::from_secs(60);

/// A record with a field that does not survive serialization: it tells whether a record
/// crossed a serialized channel.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Probe {
    id: u64,
    #[serde(skip)]
    in_memory: bool,
}

fn probe_job(mode: ChannelMode) -> (Vec<(u64, bool, bool)>, u64) {
    let env = StreamEnv::new().with_parallelism(2).with_channel_mode(mode);
    let out = env
        .generate(Some(1_000), |i| Probe {
            id: i,
            in_memory: true,
        })
        // Chained to the source: the flag is still set here in every mode.
        .map(|p: Probe| (p.id, p.in_memory, p))
        // A rebalance: the records cross a channel.
        .rebalance()
        .map(|(id, before, p): (u64, bool, Probe)| (id, before, p.in_memory))
        .collect();
    let result = execute_within(&env, "probe", LIMIT).expect("job");
    let rows = sorted(out.take());
    let total = result
        .operators
        .iter()
        .find(|o| o.name == "Map")
        .map_or(0, |o| o.records_in);
    (rows, total)
}

#[test]
fn serialized_channels_encode_what_crosses_a_task_boundary() {
    let (memory, n) = probe_job(ChannelMode::InMemory);
    assert_eq!(n, 1_000);
    assert!(memory.iter().all(|&(_, before, after)| before && after));
    let (serialized, _) = probe_job(ChannelMode::Serialized);
    assert_eq!(serialized.len(), 1_000);
    // Before the exchange (chained) the field is intact; after it, it was decoded.
    assert!(
        serialized
            .iter()
            .all(|&(_, before, after)| before && !after)
    );
    let ids: Vec<u64> = serialized.iter().map(|r| r.0).collect();
    assert_eq!(ids, (0..1_000).collect::<Vec<_>>());
}

/// Windows with timestamps, watermarks and a rebalance: every kind of message crosses a
/// channel. The out-of-orderness covers the input's whole time range, so that no record is
/// late: which records a periodic watermark makes late depends on thread timing, and the
/// runs must be comparable.
fn window_job(mode: ChannelMode, checkpoint_dir: Option<&std::path::Path>) -> Vec<(u64, i64, u64)> {
    let mut env = StreamEnv::new()
        .with_parallelism(2)
        .with_buffer_size(7)
        .with_channel_mode(mode);
    if let Some(dir) = checkpoint_dir {
        env = env.with_checkpointing(
            CheckpointConfig::local(Duration::from_millis(5), dir).expect("checkpoint dir"),
        );
    }
    let out = env
        .generate(Some(20_000), |i| (i % 13, (i as i64 * 37) % 50_000))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(50_000))
                .with_timestamp_assigner(|t: &(u64, i64), _| t.1),
        )
        .rebalance()
        .map(|t: (u64, i64)| t)
        .key_by(|t: &(u64, i64)| t.0)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(5)))
        .aggregate(Count)
        .collect();
    execute_within(&env, "windows", LIMIT).expect("job");
    sorted(out.take())
}

#[derive(Clone)]
struct Count;

impl AggregateFunction<(u64, i64)> for Count {
    /// (key, window start, count)
    type Acc = (u64, i64, u64);
    type Out = (u64, i64, u64);
    fn create_accumulator(&self) -> Self::Acc {
        (0, i64::MAX, 0)
    }
    fn add(&self, acc: &mut Self::Acc, v: &(u64, i64)) {
        acc.0 = v.0;
        acc.1 = acc.1.min(v.1 - v.1 % 5_000);
        acc.2 += 1;
    }
    fn get_result(&self, acc: &Self::Acc) -> Self::Out {
        *acc
    }
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc {
        (a.0, a.1.min(b.1), a.2 + b.2)
    }
}

#[test]
fn windows_give_the_same_result_in_both_modes() {
    let memory = window_job(ChannelMode::InMemory, None);
    assert_eq!(
        memory.iter().map(|r| r.2).sum::<u64>(),
        20_000,
        "every record counted"
    );
    assert_eq!(window_job(ChannelMode::Serialized, None), memory);
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        window_job(ChannelMode::Serialized, Some(dir.path())),
        memory
    );
}

#[test]
fn an_unknown_channel_mode_is_rejected() {
    let err = "udp".parse::<ChannelMode>().expect_err("not a mode");
    assert!(err.to_string().contains("STROM_CHANNELS=\"udp\""), "{err}");
    assert_eq!(
        "serialized".parse::<ChannelMode>().ok(),
        Some(ChannelMode::Serialized)
    );
    assert_eq!(
        "memory".parse::<ChannelMode>().ok(),
        Some(ChannelMode::InMemory)
    );
}
