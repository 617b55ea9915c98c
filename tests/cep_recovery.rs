#![allow(clippy::unwrap_used)]
//! CEP under recovery: a pattern job that fails mid-pattern and is restored from a
//! checkpoint must produce exactly the matches (and timed-out partial matches) of an
//! uninterrupted run — nothing lost, nothing duplicated.
//!
//! * A real process: `strom example rising-temperatures` with checkpoints is killed with
//!   SIGKILL at random moments and restarted with `--restore latest` until it finishes; its
//!   committed part files must equal an uninterrupted run's output (at parallelism 1 and 2).
//! * In process: a keyed CEP job (`followed_by`, `one_or_more` with an iterative condition,
//!   `within`, timeouts via `select_with_timeout`) fails at injected records and restarts
//!   from its latest checkpoint; besides equal outputs, the test finds matches (and
//!   timeouts) whose first event was already in the NFA's shared buffer when the restored
//!   checkpoint was taken and whose last event (or window end) came after the restore:
//!   partial matches that only the restored state can complete.

mod common;

use common::two_phase::{Committed, TxSink, contents};
use common::{committed, execute_within, sorted_lines, wait_timeout};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use strom::Timestamp;
use strom::cep::{AfterMatchSkipStrategy, CepExt, Match, Pattern};
use strom::core::BoxError;
use strom::prelude::*;

// ---------------------------------------------------------------------------------------
// A real process, killed with SIGKILL.
// ---------------------------------------------------------------------------------------

const INPUT: &str = "tests/data/golden/input.csv";

/// `strom example rising-temperatures` over the golden input. A watermark after every
/// record and an out-of-orderness bound above the input's largest disorder (29.7 s): no
/// record is late whatever the timing (of restarts, or of two source subtasks), so every
/// run's matches are the same. 30 s of out-of-orderness also keeps about 2,000 readings
/// queued in the CEP operator's state at any moment, besides the partial matches.
fn rising(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strom"));
    // The executor logs "restoring" when a run starts from a checkpoint.
    c.env(
        "RUST_LOG",
        "warn,strom_runtime::executor=info,strom_cli::jobs=info",
    );
    c.args(["example", "rising-temperatures", "--input", INPUT]);
    c.args(["--within", "1m", "--watermark-interval", "0ms"]);
    c.args(["--out-of-orderness", "30s"]);
    c.args(args);
    c
}

fn uninterrupted(dir: &Path, parallelism: &str) -> Vec<String> {
    let out = dir.join(format!("expected-p{parallelism}.csv"));
    let res = rising(&["--parallelism", parallelism, "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    sorted_lines(&out)
}

fn same_lines(got: &[String], expected: &[String], what: &str) {
    if got == expected {
        return;
    }
    fn count(v: &[String]) -> BTreeMap<&str, usize> {
        let mut m: BTreeMap<&str, usize> = BTreeMap::new();
        for l in v {
            *m.entry(l.as_str()).or_default() += 1;
        }
        m
    }
    let (g, e) = (count(got), count(expected));
    let missing: Vec<_> = e
        .iter()
        .filter(|(l, n)| g.get(*l).copied().unwrap_or(0) < **n)
        .map(|(l, _)| *l)
        .take(3)
        .collect();
    let extra: Vec<_> = g
        .iter()
        .filter(|(l, n)| e.get(*l).copied().unwrap_or(0) < **n)
        .map(|(l, _)| *l)
        .take(3)
        .collect();
    panic!(
        "{what}: {} lines, expected {}; missing e.g. {missing:?}; unexpected or duplicated e.g. {extra:?}",
        got.len(),
        expected.len()
    );
}

/// What a run with kills did.
struct Killed {
    /// Committed output lines, sorted.
    lines: Vec<String>,
    /// Kills that hit a running job.
    kills: usize,
    /// Runs that started from a checkpoint (the killed ones and the final one).
    restores: usize,
    /// The final run's stderr.
    final_stderr: String,
}

/// Run the checkpointed job, killing it once after each of the given delays, then letting
/// the last run finish.
fn run_with_kills(work: &Path, delays: &[u64], parallelism: &str) -> Killed {
    let out = work.join("out");
    let chk = work.join("chk");
    std::fs::create_dir_all(work).unwrap();
    let mut kills = 0;
    let mut restores = 0;
    for attempt in 0..=delays.len() {
        let log = work.join(format!("stderr-{attempt}.txt"));
        let mut cmd = rising(&[
            "--parallelism",
            parallelism,
            "--rate",
            "10000",
            "--checkpoint-interval",
            "100ms",
            "--restore",
            "latest",
        ]);
        cmd.arg("--checkpoint-dir")
            .arg(&chk)
            .arg("--output")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let last = attempt == delays.len();
        if last {
            let st = wait_timeout(&mut child, Duration::from_secs(60)).expect("job hangs");
            let stderr = std::fs::read_to_string(&log).unwrap();
            assert!(st.success(), "final run failed: {st}\n{stderr}");
            restores += usize::from(stderr.contains("restoring"));
            return Killed {
                lines: committed(&out),
                kills,
                restores,
                final_stderr: stderr,
            };
        }
        std::thread::sleep(Duration::from_millis(delays[attempt]));
        if child.try_wait().unwrap().is_none() {
            // SIGKILL: no chance to clean up.
            child.kill().unwrap();
            kills += 1;
        }
        let _ = child.wait();
        let stderr = std::fs::read_to_string(&log).unwrap();
        restores += usize::from(stderr.contains("restoring"));
    }
    unreachable!("the last attempt returns")
}

fn killed_and_restored(parallelism: &str) {
    let dir = tempfile::tempdir().unwrap();
    let expected = uninterrupted(dir.path(), parallelism);
    assert!(expected.len() > 2000, "{} matches", expected.len());
    // Kill points across the run (about 2 s at 10,000 records/s): the first one around the
    // first checkpoint, the others later, each run resuming where the previous one's
    // latest checkpoint left off (mid-pattern: the queue of readings waiting for the
    // watermark and the partial matches are in the CEP operator's state).
    let mut seed = u64::from(std::process::id()) << 8 | 1;
    let mut next = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    let delays: Vec<u64> = (0..5)
        .map(|i| {
            if i == 0 {
                80 + next(100)
            } else {
                250 + next(400)
            }
        })
        .collect();
    let work = dir.path().join("run");
    let run = run_with_kills(&work, &delays, parallelism);
    eprintln!(
        "parallelism {parallelism}: kills after {delays:?} ms: {} hit a running job, {} runs restored from a checkpoint",
        run.kills, run.restores
    );
    assert!(
        run.kills >= 3,
        "only {} of the kills {delays:?} hit a running job",
        run.kills
    );
    assert!(
        run.final_stderr.contains("restored from checkpoint"),
        "the final run did not start from a checkpoint:\n{}",
        run.final_stderr
    );
    assert!(run.restores >= 1);
    same_lines(
        &run.lines,
        &expected,
        &format!("parallelism {parallelism}, kills after {delays:?} ms"),
    );
    // Nothing in-progress stays visible.
    for e in std::fs::read_dir(work.join("out")).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(n.starts_with("part-") || n.starts_with('.'), "{n}");
    }
}

#[test]
fn rising_temperatures_killed_mid_pattern_and_restored_gives_the_same_matches() {
    killed_and_restored("1");
}

#[test]
fn rising_temperatures_at_parallelism_2_killed_and_restored_gives_the_same_matches() {
    killed_and_restored("2");
}

// ---------------------------------------------------------------------------------------
// In process: injected failures, restart from the latest checkpoint.
// ---------------------------------------------------------------------------------------

/// An event: key, timestamp (ms), value, index in the input.
type Ev = (u32, i64, i64, u64);

const EVENTS: u64 = 8_000;
const KEYS: u64 = 20;
/// Bounded out-of-orderness of the watermark (ms); the input's disorder stays below it.
const BOUND_MS: i64 = 300;
/// The pattern's window (ms of event time: about 20 events of a key).
const WITHIN_MS: i64 = 4_000;

fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Event `i`: keys round robin, 10 ms apart in event time with up to 289 ms of disorder
/// (also between events of one key, 200 ms apart), values 0..100.
fn event(i: u64) -> Ev {
    let h = mix(i);
    let key = u32::try_from(i % KEYS).unwrap();
    let ts = 1_000 + i64::try_from(i).unwrap() * 10 - i64::try_from(h % 290).unwrap();
    let value = i64::try_from((h >> 16) % 100).unwrap();
    (key, ts, value, i)
}

/// The watermark after events `0..n` (as bounded out-of-orderness computes it).
fn watermark_after(n: u64) -> i64 {
    (0..n)
        .map(|i| event(i).1)
        .max()
        .unwrap_or(i64::MIN + BOUND_MS + 1)
        - BOUND_MS
        - 1
}

/// A match: key, then the indices of the events of `low`, `rise` and `high`.
type MatchRow = (u32, Vec<u64>, Vec<u64>, Vec<u64>);
/// A timed-out partial match: key, indices of `low` and `rise`, time its window ended.
type TimeoutRow = (u32, Vec<u64>, Vec<u64>, i64);

fn indices(m: &Match<Ev>, stage: &str) -> Vec<u64> {
    m.get(stage).iter().map(|e| e.3).collect()
}

/// A low value, then (relaxed) one or more strictly rising values, then (relaxed) a high
/// value, within the window; skip past the last event. The rising condition reads the
/// partial match from the shared buffer.
fn pattern() -> Pattern<Ev> {
    Pattern::begin_with_skip("low", AfterMatchSkipStrategy::skip_past_last_event())
        .where_(|e: &Ev| e.2 < 15)
        .followed_by("rise")
        .where_iter(|e: &Ev, ctx| {
            let previous = ctx
                .events_for_pattern("rise")
                .last()
                .or_else(|| ctx.events_for_pattern("low").last());
            e.2 < 95 && previous.is_some_and(|p| e.2 > p.2)
        })
        .one_or_more()
        .followed_by("high")
        .where_(|e: &Ev| e.2 >= 95)
        .within(Duration::from_millis(WITHIN_MS.unsigned_abs()))
}

/// Fails the job once at (or, until a checkpoint has completed in `checkpoints`, after)
/// each record index of `fail_at`, and notes where each failure happened and the first
/// index the source emitted after it (where the restored source resumed). Waiting for a
/// completed checkpoint keeps the test meaningful on a loaded machine, where the first
/// checkpoint may complete later than the planned failure.
#[derive(Clone, Default)]
struct Injector {
    fail_at: Arc<Vec<u64>>,
    checkpoints: Option<Arc<std::path::PathBuf>>,
    /// Per failure so far: (the index it failed at, the smallest index seen after it).
    failures: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl Injector {
    fn new(fail_at: Vec<u64>, checkpoints: &Path) -> Self {
        Injector {
            fail_at: Arc::new(fail_at),
            checkpoints: Some(Arc::new(checkpoints.to_path_buf())),
            failures: Arc::default(),
        }
    }
    fn check(&self, i: u64) -> Result<(), BoxError> {
        let mut failures = self.failures.lock().unwrap();
        if let Some((_, r)) = failures.last_mut() {
            *r = (*r).min(i);
        }
        if let Some(&at) = self.fail_at.get(failures.len())
            && i >= at
            && self
                .checkpoints
                .as_deref()
                .is_some_and(|d| has_checkpoint(d))
        {
            failures.push((i, u64::MAX));
            return Err(format!("injected failure at record {i}").into());
        }
        Ok(())
    }
    /// (failed at, resumed at) of every failure.
    fn failures(&self) -> Vec<(u64, u64)> {
        self.failures.lock().unwrap().clone()
    }
}

/// Whether `dir` holds a completed checkpoint.
fn has_checkpoint(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with("chk-")
                && e.path().join("_metadata").exists()
        })
    })
}

struct Outcome {
    matches: Vec<MatchRow>,
    timeouts: Vec<TimeoutRow>,
    result: strom::JobResult,
}

/// The CEP job: one source subtask (paced when checkpointing), the injector, per-record
/// watermarks, the pattern per key at parallelism 2, matches and timeouts into
/// two-phase-commit sinks.
fn cep_job(injector: &Injector, checkpoint_dir: Option<&Path>) -> Outcome {
    let mut env =
        StreamEnv::new()
            .with_parallelism(2)
            .with_restart_strategy(RestartStrategy::FixedDelay {
                attempts: 10,
                delay: Duration::from_millis(10),
            });
    let mut source = env
        .generate(Some(EVENTS), event)
        .set_parallelism(1)
        .uid("gen");
    if let Some(dir) = checkpoint_dir {
        env = env.enable_checkpointing(Duration::from_millis(30), dir);
        // About a second: dozens of checkpoints, each with live partial matches.
        source = source.rate_limit(EVENTS as f64);
    }
    let inj = injector.clone();
    let events = source
        .try_map(move |e: Ev| inj.check(e.3).map(|()| e))
        .set_parallelism(1)
        .uid("inject")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(
                BOUND_MS.unsigned_abs(),
            ))
            .with_timestamp_assigner(|e: &Ev, _| e.1)
            .with_emission_interval(Duration::ZERO),
        )
        .set_parallelism(1)
        .uid("watermarks");
    let timed_out = OutputTag::<TimeoutRow>::new("timed-out");
    let matches = events
        .key_by(|e: &Ev| e.0)
        .pattern(pattern())
        .select_with_timeout(
            &timed_out,
            |m: Match<Ev>, at: Timestamp| {
                let key = m.events().next().map_or(u32::MAX, |e| e.0);
                (key, indices(&m, "low"), indices(&m, "rise"), at)
            },
            |m: Match<Ev>| {
                let key = m.events().next().map_or(u32::MAX, |e| e.0);
                (
                    key,
                    indices(&m, "low"),
                    indices(&m, "rise"),
                    indices(&m, "high"),
                )
            },
        )
        .uid("cep");
    let (match_sink, timeout_sink) = (Committed::default(), Committed::default());
    matches
        .side_output(&timed_out)
        .sink_to(
            TxSink {
                committed: Arc::clone(&timeout_sink),
            },
            "timeouts",
        )
        .uid("timeout-sink");
    matches
        .sink_to(
            TxSink {
                committed: Arc::clone(&match_sink),
            },
            "matches",
        )
        .uid("match-sink");
    let result = execute_within(&env, "cep-recovery", Duration::from_secs(60)).unwrap();
    Outcome {
        matches: contents(&match_sink),
        timeouts: contents(&timeout_sink),
        result,
    }
}

fn same<T: PartialEq + std::fmt::Debug>(got: &[T], expected: &[T], what: &str) {
    if got == expected {
        return;
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|r| !got.contains(r))
        .take(3)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|r| !expected.contains(r))
        .take(3)
        .collect();
    panic!(
        "{what}: {} rows, expected {}; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
        got.len(),
        expected.len()
    );
}

#[test]
fn keyed_cep_job_restarted_from_checkpoints_mid_pattern_gives_the_same_matches_and_timeouts() {
    let expected = cep_job(&Injector::default(), None);
    assert!(expected.result.checkpoints.is_empty());
    eprintln!(
        "uninterrupted: {} matches, {} timeouts",
        expected.matches.len(),
        expected.timeouts.len()
    );
    // Enough of both to mean something (about 300 matches and 1,800 timeouts).
    assert!(expected.matches.len() > 150, "{}", expected.matches.len());
    assert!(expected.timeouts.len() > 150, "{}", expected.timeouts.len());
    assert!(
        expected.matches.iter().any(|m| m.2.len() >= 3),
        "no match with several rising events"
    );
    let (mut restored_matches, mut restored_timeouts) = (0, 0);
    for fail_at in [vec![2_600, 5_900], vec![4_100]] {
        let dir = tempfile::tempdir().unwrap();
        let injector = Injector::new(fail_at.clone(), dir.path());
        let got = cep_job(&injector, Some(dir.path()));
        assert_eq!(
            got.result.restarts as usize,
            fail_at.len(),
            "failing at {fail_at:?}"
        );
        assert!(!got.result.checkpoints.is_empty());
        same(
            &got.matches,
            &expected.matches,
            &format!("matches after failing at {fail_at:?}"),
        );
        same(
            &got.timeouts,
            &expected.timeouts,
            &format!("timeouts after failing at {fail_at:?}"),
        );
        // Each restart resumed from a checkpoint (not from the beginning), and partial
        // matches held in the checkpoint's shared buffer completed after the restore: the
        // first event was at or below the watermark the operator had when the checkpoint
        // was taken (so the NFA had taken it), a later one came after the restore (or, for
        // a timeout, the window ended above that watermark). How many there are depends on
        // where the checkpoint fell, so they are counted over all restarts.
        let failures = injector.failures();
        assert_eq!(failures.len(), fail_at.len());
        for &(f, r) in &failures {
            assert!(
                r > 0 && r <= f,
                "failing at {f}: resumed at {r}, not from a checkpoint"
            );
            let wm_below = watermark_after(r.saturating_sub(1));
            let wm_above = watermark_after(r);
            let spanning_matches = got
                .matches
                .iter()
                .filter(|m| {
                    let last = m.1.iter().chain(&m.2).chain(&m.3).max().copied();
                    event(m.1[0]).1 <= wm_below && last.is_some_and(|l| l >= r)
                })
                .count();
            let spanning_timeouts = got
                .timeouts
                .iter()
                .filter(|t| event(t.1[0]).1 <= wm_below && t.3 > wm_above)
                .count();
            restored_matches += spanning_matches;
            restored_timeouts += spanning_timeouts;
            eprintln!(
                "failed at {f}, resumed at {r}: {spanning_matches} matches and {spanning_timeouts} timeouts completed from restored partial matches"
            );
        }
    }
    assert!(
        restored_matches > 0,
        "no match continued a restored partial match"
    );
    assert!(restored_timeouts > 0, "no restored partial match timed out");
}
