//! `strom example sensors` and `rising-temperatures` over Flink's golden input equal Flink's own outputs
//! (tests/data/golden, copied from ../shared/golden): rows exact, avg within 1e-9 relative.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(name)
}

fn sorted_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// Compare window rows: every field exact except the average (field 4), which may differ
/// in the last bits (Flink SQL pre-aggregates in two phases).
fn assert_rows_match(got: &Path, want: &Path) {
    let (got, want) = (sorted_lines(got), sorted_lines(want));
    assert_eq!(
        got.len(),
        want.len(),
        "row count differs from {}",
        want.len()
    );
    for (g, w) in got.iter().zip(&want) {
        if g == w {
            continue;
        }
        let (gf, wf): (Vec<&str>, Vec<&str>) = (g.split(',').collect(), w.split(',').collect());
        assert_eq!(gf.len(), wf.len(), "{g} vs {w}");
        for (i, (a, b)) in gf.iter().zip(&wf).enumerate() {
            if i == 4 {
                let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs(),
                    "avg {a} vs {b} in {g} / {w}"
                );
            } else {
                assert_eq!(a, b, "field {i} in {g} vs {w}");
            }
        }
    }
}

fn run_sensors(args: &[&str], late: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let late_out = dir.path().join("late.csv");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strom"));
    cmd.args(["example", "sensors", "--input"])
        .arg(golden("input.csv"))
        .arg("--output")
        .arg(&out)
        .args(args);
    if late {
        cmd.arg("--late-output").arg(&late_out);
    }
    let res = cmd.output().unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    (dir, out, late_out)
}

#[test]
fn datastream_tumble_with_late_output() {
    let (_d, out, late) = run_sensors(
        &[
            "--window",
            "tumble:10s",
            "--out-of-orderness",
            "5s",
            "--watermark-interval",
            "0ms",
        ],
        true,
    );
    assert_rows_match(&out, &golden("ds_tumble.csv"));
    assert_eq!(sorted_lines(&late), sorted_lines(&golden("ds_late.csv")));
}

#[test]
fn datastream_tumble_with_allowed_lateness() {
    let (_d, out, late) = run_sensors(
        &[
            "--window",
            "tumble:10s",
            "--out-of-orderness",
            "5s",
            "--allowed-lateness",
            "2s",
            "--watermark-interval",
            "0ms",
        ],
        true,
    );
    assert_rows_match(&out, &golden("ds_tumble_lateness2s.csv"));
    assert_eq!(
        sorted_lines(&late),
        sorted_lines(&golden("ds_late_lateness2s.csv"))
    );
}

fn sql(window: &str, file: &str) {
    let (_d, out, _) = run_sensors(
        &[
            "--window",
            window,
            "--out-of-orderness",
            "4999ms",
            "--watermark-interval",
            "0ms",
        ],
        false,
    );
    assert_rows_match(&out, &golden(file));
}

#[test]
fn sql_tumble() {
    sql("tumble:10s", "sql_tumble.ms.csv");
}

#[test]
fn sql_hop() {
    sql("hop:10s,5s", "sql_hop.ms.csv");
}

#[test]
fn sql_session() {
    sql("session:3s", "sql_session.ms.csv");
}

/// CEP: `strom example rising-temperatures` (three strictly rising readings within a
/// minute, skip past last event) equals Flink SQL's MATCH_RECOGNIZE over the same input
/// with the same watermark (`ts - 5 s`), row for row.
#[test]
fn sql_match_recognize() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let res = Command::new(env!("CARGO_BIN_EXE_strom"))
        .args(["example", "rising-temperatures", "--input"])
        .arg(golden("input.csv"))
        .arg("--output")
        .arg(&out)
        .args([
            "--within",
            "1m",
            "--out-of-orderness",
            "4999ms",
            "--watermark-interval",
            "0ms",
        ])
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let (got, want) = (
        sorted_lines(&out),
        sorted_lines(&golden("sql_match_recognize.ms.csv")),
    );
    assert_eq!(want.len(), 2789);
    assert_eq!(got, want);
}
