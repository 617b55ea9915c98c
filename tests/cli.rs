//! The `strom` binary: help, bundled examples, and a clean stop on Ctrl-C.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn strom() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strom"))
}

#[test]
fn help_explains_the_commands() {
    let out = strom().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["example", "bench", "Flink"] {
        assert!(text.contains(word), "help lacks {word}: {text}");
    }
}

#[test]
fn wordcount_counts_words() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "b a b\nc b a\n").unwrap();
    let out = strom()
        .args(["example", "wordcount", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "b,3\na,2\nc,1\n");
}

#[test]
fn bounded_rolling_sum_prints_every_update() {
    let out = strom()
        .args(["example", "rolling-sum", "--events", "20", "--keys", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 20);
    // key-0 gets 0,2,…,18 (sum 90), key-1 gets 1,3,…,19 (sum 100)
    assert!(lines.contains(&"(\"key-0\", 90)"), "{text}");
    assert!(lines.contains(&"(\"key-1\", 100)"), "{text}");
}

#[test]
fn ctrl_c_stops_an_unbounded_job_cleanly() {
    let mut child = strom()
        .args(["example", "rolling-sum", "--rate", "2000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let out = loop {
        if let Some(_s) = child.try_wait().unwrap() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("cancelled"), "{err}");
}

/// `strom nexmark generate` writes the events `strom bench nexmark` generates in-process:
/// the result tables of a query over the file and over the generator are the same, and the
/// bench prints its figures on one line per query.
#[test]
fn nexmark_bench_over_a_generated_file_equals_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let side = dir.path().join("side.csv");
    let status = strom()
        .args(["nexmark", "generate", "--events", "20000", "--seed", "3"])
        .arg("--out")
        .arg(&events)
        .arg("--side-input")
        .arg(&side)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(&events).unwrap().lines().count(),
        20_000
    );
    assert_eq!(
        std::fs::read_to_string(&side).unwrap().lines().count(),
        10_000
    );
    let bench = |input: Option<&std::path::Path>, out: &str| {
        let mut cmd = strom();
        cmd.args(["bench", "nexmark", "--query", "q5,q13", "--events", "20000"])
            .args(["--seed", "3", "--checkpoint-interval", "1s", "--output"])
            .arg(dir.path().join(out));
        if let Some(input) = input {
            cmd.arg("--input").arg(input).arg("--side-input").arg(&side);
        }
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let generated = bench(None, "generated");
    let from_file = bench(Some(&events), "file");
    for text in [&generated, &from_file] {
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("q5 events=20000 "), "{text}");
        assert!(lines[1].starts_with("q13 events=20000 "), "{text}");
        assert!(lines[0].contains(" events_per_core_s=") && lines[0].contains(" p99_ms="));
    }
    for q in ["q5", "q13"] {
        let a = std::fs::read_to_string(dir.path().join("generated").join(format!("{q}.jsonl")));
        let b = std::fs::read_to_string(dir.path().join("file").join(format!("{q}.jsonl")));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(!a.is_empty(), "{q}: no rows");
        assert_eq!(a, b, "{q}");
    }
}
