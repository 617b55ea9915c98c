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
