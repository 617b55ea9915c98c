//! `strom example fraud` against a brute-force reference written here (no code shared with
//! the job): randomized out-of-order inputs with ties, bursts of failures, impossible
//! travels and very late logins, through the Rust API at parallelism 1 to 3 and through
//! the `strom` binary; plus a small hand-computed case and a malformed input.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use strom_cli::jobs::fraud::{FraudConfig, Rules, run};

// ---- the reference ----

/// The settings of a run, as the reference sees them.
#[derive(Clone, Copy, Debug)]
struct Params {
    out_of_orderness_ms: i64,
    max_failures: usize,
    window_ms: i64,
    max_speed_kmh: f64,
}

struct Event {
    user: String,
    ts: i64,
    success: bool,
    lat: f64,
    lon: f64,
    arrival: usize,
}

fn great_circle_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    // The haversine formula, in its atan2 form.
    let r = 6371.0_f64;
    let (p1, p2) = (
        lat1 * std::f64::consts::PI / 180.0,
        lat2 * std::f64::consts::PI / 180.0,
    );
    let dp = p2 - p1;
    let dl = (lon2 - lon1) * std::f64::consts::PI / 180.0;
    let h = (dp / 2.0).sin() * (dp / 2.0).sin()
        + p1.cos() * p2.cos() * (dl / 2.0).sin() * (dl / 2.0).sin();
    r * 2.0 * h.sqrt().atan2((1.0 - h).sqrt())
}

/// The alert rows and the late lines (both sorted) the job must produce for `lines` read in
/// this order.
fn reference(lines: &[String], p: Params) -> (Vec<String>, Vec<String>) {
    let mut late = Vec::new();
    let mut on_time: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    let mut max_ts: Option<i64> = None;
    for (arrival, line) in lines.iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let e = Event {
            user: f[0].to_string(),
            ts: f[1].parse().unwrap(),
            success: f[2] == "1",
            lat: f[3].parse().unwrap(),
            lon: f[4].parse().unwrap(),
            arrival,
        };
        // The watermark a record meets: from the records before it (late ones included).
        let watermark = max_ts.map_or(i64::MIN, |m| m - p.out_of_orderness_ms - 1);
        max_ts = Some(max_ts.map_or(e.ts, |m| m.max(e.ts)));
        if e.ts <= watermark {
            late.push(line.clone());
        } else {
            on_time.entry(e.user.clone()).or_default().push(e);
        }
    }
    let mut rows = Vec::new();
    for (user, mut events) in on_time {
        events.sort_by_key(|e| (e.ts, e.arrival));
        let mut failures: VecDeque<i64> = VecDeque::new();
        let mut previous: Option<(i64, f64, f64)> = None;
        for e in &events {
            if e.success {
                if let Some((t0, lat0, lon0)) = previous {
                    let km = great_circle_km(lat0, lon0, e.lat, e.lon);
                    let hours = (e.ts - t0).max(1) as f64 / 3_600_000.0;
                    if km / hours > p.max_speed_kmh {
                        rows.push(format!("travel,{user},{t0},{}", e.ts));
                    }
                }
                previous = Some((e.ts, e.lat, e.lon));
            } else {
                // Ascending, as the events are: drop from the front.
                while failures.front().is_some_and(|&f| f < e.ts - p.window_ms) {
                    failures.pop_front();
                }
                failures.push_back(e.ts);
                if failures.len() > p.max_failures {
                    rows.push(format!("failures,{user},{}", e.ts));
                    failures.clear();
                }
            }
        }
    }
    rows.sort();
    late.sort();
    (rows, late)
}

// ---- random inputs ----

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Logins of a few users, roughly in time order with jitter, ties, some very late ones,
/// failures that cluster and positions that sometimes jump far.
fn random_lines(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng(seed);
    let users: Vec<String> = (0..2 + rng.below(4))
        .map(|i| {
            if i == 0 {
                "a-user-with-a-rather-long-identifier".to_string()
            } else {
                format!("u{i}")
            }
        })
        .collect();
    let mut homes: Vec<(f64, f64)> = users
        .iter()
        .map(|_| (rng.unit() * 120.0 - 60.0, rng.unit() * 340.0 - 170.0))
        .collect();
    let mut clock: i64 = 1_704_067_200_000;
    let mut lines = Vec::with_capacity(n);
    // Each user's failure rate changes over time, so that failures come in bursts.
    let mut fail_rate: Vec<u64> = users.iter().map(|_| 30).collect();
    for _ in 0..n {
        clock += rng.below(12) as i64;
        let u = rng.below(users.len() as u64) as usize;
        if rng.chance(5) {
            fail_rate[u] = [5, 30, 80][rng.below(3) as usize];
        }
        let mut ts = clock - rng.below(40) as i64;
        if rng.chance(25) {
            ts -= ts.rem_euclid(10); // ties
        }
        if rng.chance(4) {
            ts -= 100 + rng.below(2000) as i64; // very late
        }
        let success = !rng.chance(fail_rate[u]);
        if rng.chance(3) {
            homes[u] = (rng.unit() * 120.0 - 60.0, rng.unit() * 340.0 - 170.0);
        }
        // Small moves: a few metres (plausible over tens of ms at 1000 km/h, or not).
        let scale = [0.0, 1e-5, 1e-4][rng.below(3) as usize];
        let lat = homes[u].0 + (rng.unit() - 0.5) * scale;
        let lon = homes[u].1 + (rng.unit() - 0.5) * scale;
        lines.push(format!(
            "{},{ts},{},{lat},{lon}",
            users[u],
            u8::from(success)
        ));
    }
    lines
}

// ---- running the job ----

fn read_sorted(path: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn write_input(dir: &Path, lines: &[String]) -> PathBuf {
    let input = dir.join("logins.csv");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&input, text).unwrap();
    input
}

fn run_api(lines: &[String], p: Params, parallelism: usize) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = FraudConfig {
        input: vec![write_input(dir.path(), lines)],
        output: dir.path().join("alerts.csv"),
        late_output: Some(dir.path().join("late.csv")),
        out_of_orderness: Duration::from_millis(p.out_of_orderness_ms as u64),
        rules: Rules {
            max_failures: p.max_failures,
            failure_window_ms: p.window_ms,
            max_speed_kmh: p.max_speed_kmh,
        },
        parallelism,
    };
    run(&cfg).unwrap();
    (
        read_sorted(&cfg.output),
        read_sorted(&dir.path().join("late.csv")),
    )
}

fn run_binary(lines: &[String], p: Params, parallelism: usize) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path(), lines);
    let (out, late) = (dir.path().join("alerts.csv"), dir.path().join("late.csv"));
    let res = Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["example", "fraud", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .arg("--late-output")
        .arg(&late)
        .arg("--out-of-orderness")
        .arg(format!("{}ms", p.out_of_orderness_ms))
        .arg("--max-failures")
        .arg(p.max_failures.to_string())
        .arg("--failure-window")
        .arg(format!("{}ms", p.window_ms))
        .arg("--max-speed-kmh")
        .arg(p.max_speed_kmh.to_string())
        .arg("--parallelism")
        .arg(parallelism.to_string())
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    (read_sorted(&out), read_sorted(&late))
}

fn random_params(seed: u64) -> Params {
    let mut rng = Rng(seed ^ 0xABCD);
    Params {
        out_of_orderness_ms: [0, 20, 50][rng.below(3) as usize],
        max_failures: 2 + rng.below(3) as usize,
        window_ms: [60, 150, 400][rng.below(3) as usize],
        max_speed_kmh: [300.0, 1000.0][rng.below(2) as usize],
    }
}

// ---- the tests ----

/// The hand-computed case (watermark = max − 1000 − 1 after each line).
fn hand_lines() -> Vec<String> {
    [
        "a,10000,0,0,0",       // on time; max 10000
        "a,12000,0,0,0",       // wm 8999: on time
        "b,11000,1,0,0",       // wm 10999: on time
        "a,11500,0,0,0",       // wm 10999: on time (before 12000 in event time)
        "a,10500,0,0,0",       // wm 10999: late
        "b,12500,1,0,10",      // on time; 1112 km in 1.5 s: travel
        "a,25000,0,0,0",       // on time; max 25000
        "b,13000,1,0,10.0010", // wm 23999: late (written back verbatim)
        "c,40000,0,0,0",       // on time
        "c,45000,0,0,0",       // on time
        "c,52000,0,0,0",       // drops 40000 (< 42000)
        "c,55000,0,0,0",       // keeps 45000 (= 55000 - 10000): 3 failures > 2
        "b,3612500,1,0,15",    // 556 km in 1 h: no alert; max 3612500
        "a,26000,1,1,1",       // wm 3611499: late
        "b,3612500,1,0,0",     // tie, after the previous line: 556 km in "1 ms"
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

const HAND: Params = Params {
    out_of_orderness_ms: 1000,
    max_failures: 2,
    window_ms: 10_000,
    max_speed_kmh: 1000.0,
};

fn hand_expected() -> (Vec<String>, Vec<String>) {
    // a's failures in event time: 10000, 11500, 12000 (alert: 3 > 2; in arrival order it
    // would have been at 11500), then 25000 alone.
    let rows = vec![
        "failures,a,12000",
        "failures,c,55000",
        "travel,b,11000,12500",
        "travel,b,3612500,3612500",
    ];
    let late = vec!["a,10500,0,0,0", "a,26000,1,1,1", "b,13000,1,0,10.0010"];
    (
        rows.into_iter().map(String::from).collect(),
        late.into_iter().map(String::from).collect(),
    )
}

#[test]
fn hand_computed_case() {
    let want = hand_expected();
    assert_eq!(reference(&hand_lines(), HAND), want, "the reference");
    for p in [1, 2] {
        assert_eq!(run_api(&hand_lines(), HAND, p), want, "parallelism {p}");
    }
}

#[test]
fn hand_computed_case_through_the_binary() {
    assert_eq!(run_binary(&hand_lines(), HAND, 2), hand_expected());
}

#[test]
fn randomized_inputs_match_the_reference() {
    let (mut failures, mut travels, mut late) = (0, 0, 0);
    for seed in 1..=12u64 {
        let lines = random_lines(seed, 300);
        let params = random_params(seed);
        let want = reference(&lines, params);
        failures += want.0.iter().filter(|r| r.starts_with("failures")).count();
        travels += want.0.iter().filter(|r| r.starts_with("travel")).count();
        late += want.1.len();
        let parallelism = 1 + (seed % 3) as usize;
        let got = run_api(&lines, params, parallelism);
        assert_eq!(
            got.0, want.0,
            "alerts, seed {seed}, {params:?}, p={parallelism}"
        );
        assert_eq!(
            got.1, want.1,
            "late lines, seed {seed}, {params:?}, p={parallelism}"
        );
    }
    // The inputs exercise every path.
    assert!(failures > 20, "{failures} failures alerts");
    assert!(travels > 20, "{travels} travel alerts");
    assert!(late > 20, "{late} late logins");
}

#[test]
fn randomized_inputs_through_the_binary() {
    for (seed, parallelism) in [(101u64, 1usize), (102, 3)] {
        let lines = random_lines(seed, 500);
        let params = random_params(seed);
        let want = reference(&lines, params);
        assert!(!want.0.is_empty() && !want.1.is_empty());
        assert_eq!(
            run_binary(&lines, params, parallelism),
            want,
            "seed {seed}, {params:?}, p={parallelism}"
        );
    }
}

#[test]
fn malformed_lines_fail_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(
        dir.path(),
        &["a,1,0,0,0".to_string(), "a,2,yes,0,0".to_string()],
    );
    let res = Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["example", "fraud", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(dir.path().join("alerts.csv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success(), "{err}");
    assert!(err.contains("logins.csv line 2"), "{err}");
    assert!(err.contains("field 'success'"), "{err}");
}
