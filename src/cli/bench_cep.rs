//! `strom bench cep`: a three-step CEP pattern per key over an in-memory generator (issue
//! #7), measured like `strom bench nexmark`: events/s, events/s per CPU core, peak memory.
//!
//! The events and the pattern are those of `benchmarks/cep/java/CepBench.java`, so that
//! both engines find the same number of matches:
//!
//! * event `g` (`0 ≤ g < events`): key `g % keys`, timestamp `BASE + g + jitter(g)` ms with
//!   `jitter < disorder_ms < keys` (so each key's events are in timestamp order and only
//!   events of different keys are out of order), value `15 + (h & 0xFFFF) / 65536 · 15`
//!   where `h` is a multiplicative hash of `g`;
//! * watermarks trail the largest timestamp by `disorder_ms` (Flink's
//!   `forBoundedOutOfOrderness`, emitted every 200 ms), so no event is late;
//! * the pattern: `a`, then `b` with `b.value > a.value`, then `c` with `c.value > b.value`
//!   (`next`, or `followed_by` with `--pattern relaxed`), within one minute, skip past the
//!   last event; every match is turned into one record (its first timestamp) and dropped.

use std::path::PathBuf;
use std::time::Instant;
use strom::cep::{AfterMatchSkipStrategy, CepExt, Match, Pattern};
use strom::prelude::*;

/// Event time of event 0 (2024-01-01T00:00:00Z), as in the Java benchmark.
const BASE_TS: i64 = 1_704_067_200_000;

/// A generated event: (key, timestamp ms, value).
type Event = (u32, i64, f64);

/// The contiguity between the pattern's stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Contiguity {
    /// `next`: strictly consecutive events of the key (the rising-temperature pattern).
    Strict,
    /// `followed_by`: events in between that do not match are skipped.
    Relaxed,
}

/// Settings of the CEP benchmark.
#[derive(clap::Args, Debug)]
pub(crate) struct CepBench {
    /// Number of events to generate.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1_000)]
    keys: u32,
    /// Parallelism of generator and pattern matching.
    #[arg(long, default_value_t = 1)]
    parallelism: usize,
    /// Contiguity of the three stages.
    #[arg(long, value_enum, default_value = "strict")]
    pattern: Contiguity,
    /// Event-time disorder (ms): events are up to this much later than their place in
    /// the sequence; the watermark trails the largest timestamp by as much. Must be less
    /// than `--keys` (one event per ms, so a key's consecutive events are `keys` ms apart).
    #[arg(long, default_value_t = 100)]
    disorder_ms: u64,
    /// Repetitions; the run with the median time is reported.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Take exactly-once checkpoints at this interval (e.g. `10s`); none without it.
    #[arg(long, value_parser = crate::jobs::duration::parse_duration)]
    checkpoint_interval: Option<Duration>,
    /// Where checkpoints go (default: a fresh directory under the system's temp dir).
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
}

/// Event `g` of the sequence (the same function as `CepBench.event` in Java).
pub(crate) fn event(g: u64, keys: u32, disorder_ms: u64) -> Event {
    let mut h = g.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 31;
    let jitter = if disorder_ms > 0 {
        (h >> 32) % disorder_ms
    } else {
        0
    };
    let key = (g % u64::from(keys)) as u32;
    let ts = BASE_TS + (g + jitter) as i64;
    let value = 15.0 + (h & 0xFFFF) as f64 / 65536.0 * 15.0;
    (key, ts, value)
}

/// `a`, then a higher `b`, then a higher `c` (strictly next or relaxed), within one minute,
/// skip past the last event.
pub(crate) fn rising(contiguity: Contiguity) -> Pattern<Event> {
    let p = Pattern::<Event>::begin_with_skip("a", AfterMatchSkipStrategy::skip_past_last_event());
    let p = match contiguity {
        Contiguity::Strict => p.next("b"),
        Contiguity::Relaxed => p.followed_by("b"),
    }
    .where_iter(|e: &Event, ctx| ctx.events_for_pattern("a").all(|a| e.2 > a.2));
    match contiguity {
        Contiguity::Strict => p.next("c"),
        Contiguity::Relaxed => p.followed_by("c"),
    }
    .where_iter(|e: &Event, ctx| ctx.events_for_pattern("b").all(|b| e.2 > b.2))
    .within(Duration::from_secs(60))
}

/// What one run measured.
struct Measurement {
    seconds: f64,
    cpu_seconds: f64,
    peak_rss: Option<u64>,
    matches: u64,
}

pub(crate) fn run(b: CepBench) -> anyhow::Result<()> {
    anyhow::ensure!(b.parallelism >= 1, "--parallelism must be at least 1");
    anyhow::ensure!(b.keys >= 1, "--keys must be at least 1");
    anyhow::ensure!(
        b.disorder_ms < u64::from(b.keys),
        "--disorder-ms must be less than --keys (a key's events are --keys ms apart and must stay in order)"
    );
    eprintln!(
        "CEP: {} events, {} keys, {:?} pattern, parallelism {}, disorder {} ms, checkpoints {}",
        b.events,
        b.keys,
        b.pattern,
        b.parallelism,
        b.disorder_ms,
        b.checkpoint_interval
            .map_or("off".to_string(), |i| format!("every {i:?}, exactly once")),
    );
    let mut runs = Vec::new();
    for run in 0..b.runs.max(1) {
        let m = run_once(&b)?;
        eprintln!(
            "run {}: {:.3} s, {:.2} M events/s, {:.2} cores, {} matches",
            run + 1,
            m.seconds,
            b.events as f64 / m.seconds / 1e6,
            m.cpu_seconds / m.seconds,
            m.matches
        );
        if let Some(first) = runs.first().map(|f: &Measurement| f.matches) {
            anyhow::ensure!(
                first == m.matches,
                "run {} found {} matches, run 1 found {first}",
                run + 1,
                m.matches
            );
        }
        runs.push(m);
    }
    runs.sort_by(|x, y| x.seconds.total_cmp(&y.seconds));
    let m = &runs[runs.len() / 2];
    let pattern = match b.pattern {
        Contiguity::Strict => "strict",
        Contiguity::Relaxed => "relaxed",
    };
    let mut line = format!(
        "cep events={} keys={} pattern={pattern} parallelism={} seconds={:.3} events_per_s={:.0} cores={:.2} events_per_core_s={:.0} matches={}",
        b.events,
        b.keys,
        b.parallelism,
        m.seconds,
        b.events as f64 / m.seconds,
        m.cpu_seconds / m.seconds,
        b.events as f64 / m.cpu_seconds.max(1e-9),
        m.matches,
    );
    if let Some(rss) = runs.iter().filter_map(|r| r.peak_rss).max() {
        line.push_str(&format!(" peak_rss_mib={}", rss >> 20));
    }
    println!("{line}");
    Ok(())
}

fn run_once(b: &CepBench) -> anyhow::Result<Measurement> {
    let mut env = StreamEnv::new().with_parallelism(b.parallelism);
    let mut temp_dir = None;
    if let Some(interval) = b.checkpoint_interval {
        let dir = match &b.checkpoint_dir {
            Some(d) => d.clone(),
            None => {
                let d = std::env::temp_dir().join(format!("strom-cep-{}", std::process::id()));
                temp_dir = Some(d.clone());
                d
            }
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        env = env.enable_checkpointing(interval, dir);
    }
    let (keys, disorder) = (b.keys, b.disorder_ms);
    env.generate(Some(b.events), move |g| event(g, keys, disorder))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(disorder))
                .with_timestamp_assigner(|e: &Event, _| e.1),
        )
        .key_by(|e: &Event| e.0)
        .pattern(rising(b.pattern))
        .select(|m: Match<Event>| m.first("a").map_or(0, |a| a.1))
        .discard();
    super::bench_nexmark::reset_peak_rss();
    let cpu_before = super::bench_nexmark::cpu_seconds();
    let start = Instant::now();
    let result = env.execute("bench cep")?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu = super::bench_nexmark::cpu_seconds()
        .zip(cpu_before)
        .map(|(a, b)| a - b);
    if let Some(d) = temp_dir {
        let _ = std::fs::remove_dir_all(d);
    }
    let cep = result
        .operator("CEP")
        .ok_or_else(|| anyhow::anyhow!("no CEP operator in the job's statistics"))?;
    anyhow::ensure!(
        cep.records_in == b.events,
        "the CEP operator saw {} of {} events",
        cep.records_in,
        b.events
    );
    Ok(Measurement {
        seconds,
        cpu_seconds: cpu.unwrap_or(seconds),
        peak_rss: super::bench_nexmark::peak_rss(),
        matches: cep.records_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_events_stay_in_timestamp_order() {
        let (keys, disorder) = (10, 9);
        let mut last = vec![i64::MIN; keys as usize];
        for g in 0..10_000 {
            let (k, ts, v) = event(g, keys, disorder);
            assert!(ts > last[k as usize], "event {g}");
            assert!((15.0..30.0).contains(&v));
            last[k as usize] = ts;
        }
    }

    #[test]
    fn finds_the_matches_of_a_small_run() {
        // Key 0, values of events 0, 2, 4, …: count strictly rising triples by hand
        // (non-overlapping, as skip past last event does; the window never binds here).
        let (events, keys) = (2_000u64, 2u32);
        let mut expected = 0;
        for k in 0..keys {
            let vals: Vec<f64> = (0..events)
                .filter(|g| g % u64::from(keys) == u64::from(k))
                .map(|g| event(g, keys, 0).2)
                .collect();
            let mut i = 0;
            while i + 2 < vals.len() {
                if vals[i + 1] > vals[i] && vals[i + 2] > vals[i + 1] {
                    expected += 1;
                    i += 3;
                } else {
                    i += 1;
                }
            }
        }
        let env = StreamEnv::new().with_parallelism(1);
        let out = env
            .generate(Some(events), move |g| event(g, keys, 0))
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::for_monotonous_timestamps()
                    .with_timestamp_assigner(|e: &Event, _| e.1),
            )
            .key_by(|e: &Event| e.0)
            .pattern(rising(Contiguity::Strict))
            .select(|m: Match<Event>| m.first("a").map_or(0, |a| a.1))
            .collect();
        env.execute("cep bench test").expect("job runs");
        assert_eq!(out.take().len(), expected);
        assert!(expected > 100);
    }
}
