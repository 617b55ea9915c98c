//! The CEP operator's keyed state works on every state backend: the same job on the heap
//! and on the disk backend (whose every access round-trips the key's runs, queue and
//! shared buffer through serialization) finds the same matches and timeouts.

#![allow(clippy::unwrap_used)]

use std::time::Duration;
use strom::cep::{CepExt, Match, Pattern};
use strom::prelude::*;

/// (key, ts, value)
type Ev = (u32, i64, i64);

fn events() -> Vec<Ev> {
    // Deterministic pseudo-random values, timestamps with some disorder.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..4000i64)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Timestamps are unique (equal ones from two upstream subtasks would be
            // matched in arrival order, which is not deterministic) and out of order by
            // up to 160 ms.
            let jitter = (x % 40) as i64;
            let ts = 4 * (i * 10 + jitter) + i % 4;
            ((x % 17) as u32, ts, (x >> 20) as i64 % 100)
        })
        .collect()
}

fn show(m: &Match<Ev>) -> String {
    m.iter()
        .map(|(s, evs)| {
            let ts: Vec<String> = evs.iter().map(|e| e.1.to_string()).collect();
            format!("{s}=[{}]", ts.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(backend: StateBackendConfig) -> (Vec<String>, Vec<String>) {
    let env = StreamEnv::new()
        .with_parallelism(2)
        .with_state_backend(backend);
    let pattern = Pattern::<Ev>::begin("low")
        .where_(|e| e.2 < 20)
        .followed_by("high")
        .where_(|e| e.2 > 60)
        .one_or_more()
        .consecutive()
        .followed_by("end")
        .where_(|e| e.2 % 10 == 5)
        .within(Duration::from_millis(1600));
    let timeouts = OutputTag::<String>::new("timeouts");
    let matches = env
        .from_collection(events())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(200))
                .with_timestamp_assigner(|e: &Ev, _| e.1),
        )
        .key_by(|e: &Ev| e.0)
        .pattern(pattern)
        .select_with_timeout(
            &timeouts,
            |m: Match<Ev>, at| format!("{at} {}", show(&m)),
            |m: Match<Ev>| show(&m),
        );
    let timed_out = matches.side_output(&timeouts).collect();
    let matches = matches.collect();
    env.execute("cep on a backend").unwrap();
    let (mut m, mut t) = (matches.take(), timed_out.take());
    m.sort();
    t.sort();
    (m, t)
}

#[test]
fn heap_and_disk_backends_find_the_same_matches() {
    let heap = run(StateBackendConfig::Heap);
    assert!(
        heap.0.len() > 20,
        "too few matches to be a test: {}",
        heap.0.len()
    );
    assert!(heap.1.len() > 20, "too few timeouts: {}", heap.1.len());
    let dir = tempfile::tempdir().unwrap();
    let disk = run(StateBackendConfig::Disk {
        dir: dir.path().to_path_buf(),
        cache_bytes: 8 << 20,
    });
    assert_eq!(heap, disk);
}
