//! The `strom` binary: help, bundled examples, `--explain`, and a clean stop on Ctrl-C.

#![allow(clippy::unwrap_used)]

mod common;

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

// ---- `--explain` ----

fn golden_input() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden/input.csv")
}

/// Every `strom example …` with the arguments it needs, writing (if it ran) into `dir`.
fn examples(dir: &std::path::Path) -> Vec<(&'static str, Vec<String>)> {
    let input = golden_input().display().to_string();
    let out = |name: &str| dir.join(name).display().to_string();
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    vec![
        (
            "sensors",
            [
                s(&["--input", &input, "--output", &out("sensors.csv")]),
                s(&["--late-output", &out("late.csv"), "--window", "hop:10s,5s"]),
            ]
            .concat(),
        ),
        (
            "rising-temperatures",
            s(&[
                "--input",
                &input,
                "--output",
                &out("rising.csv"),
                "--within",
                "1m",
            ]),
        ),
        (
            "fraud",
            s(&["--input", &input, "--output", &out("fraud.csv")]),
        ),
        ("wordcount", s(&["--input", &input])),
        ("rolling-sum", s(&[])),
    ]
}

/// Run `cmd`, which must succeed, and return what it printed on stdout.
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn explain(example: &str, args: &[String], extra: &[&str]) -> String {
    stdout_of(strom().args(["example", example]).args(args).args(extra))
}

fn explain_json(example: &str, args: &[String], extra: &[&str]) -> serde_json::Value {
    let text = explain(example, args, &[&["--explain", "json"], extra].concat());
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{example}: {e}: {text}"))
}

/// `--explain json`: JSON with every node's id, type (its name), parallelism and uid, and a
/// fingerprint of 32 hex digits; and nothing ran (no output written, no checkpoint
/// directory made; the unbounded rolling sum returns).
#[test]
fn explain_json_describes_every_example() {
    let dir = tempfile::tempdir().unwrap();
    let chk = dir.path().join("chk").display().to_string();
    for (example, args) in examples(dir.path()) {
        let extra: &[&str] = if example == "sensors" {
            &["--checkpoint-interval", "1s", "--checkpoint-dir", &chk]
        } else {
            &[]
        };
        let plan = explain_json(example, &args, extra);
        let fp = plan["fingerprint"].as_str().unwrap();
        assert_eq!(fp.len(), 32, "{example}: {fp}");
        assert!(fp.chars().all(|c| c.is_ascii_hexdigit()), "{example}: {fp}");
        let nodes = plan["nodes"].as_array().unwrap();
        assert!(nodes.len() >= 3, "{example}: {plan}");
        for n in nodes {
            assert!(n["id"].as_u64().is_some(), "{example}: {n}");
            assert!(!n["type"].as_str().unwrap().is_empty(), "{example}: {n}");
            assert!(n["parallelism"].as_u64().unwrap() >= 1, "{example}: {n}");
            assert!(!n["uid"].as_str().unwrap().is_empty(), "{example}: {n}");
        }
        assert!(nodes[0]["pact"] == "Data Source", "{example}: {plan}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "--explain wrote output"
    );
}

/// `--explain` (text): every operator of the JSON plan appears with its name, uid and
/// parallelism under the task (chain) the JSON names.
#[test]
fn explain_text_names_every_operator_with_its_parallelism_and_task() {
    let dir = tempfile::tempdir().unwrap();
    for (example, args) in examples(dir.path()) {
        let text = explain(example, &args, &["--explain"]);
        let plan = explain_json(example, &args, &[]);
        assert!(
            text.starts_with(&format!(
                "job fingerprint {}",
                plan["fingerprint"].as_str().unwrap()
            )),
            "{example}: {text}"
        );
        // The task each operator line is under.
        let mut task = 0;
        let mut operators = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("task ") {
                task = rest.split(':').next().unwrap().parse::<u64>().unwrap();
            } else if let Some((_, rest)) = line.split_once(" operator ") {
                operators.push((task, rest.to_string()));
            }
        }
        let nodes = plan["nodes"].as_array().unwrap();
        assert_eq!(operators.len(), nodes.len(), "{example}: {text}");
        for n in nodes {
            let want = format!(
                "{}: {} [uid {}",
                n["id"].as_u64().unwrap() - 1,
                n["type"].as_str().unwrap(),
                n["uid"].as_str().unwrap()
            );
            let (t, line) = operators
                .iter()
                .find(|(_, l)| l.starts_with(&want))
                .unwrap_or_else(|| panic!("{example}: no operator {want} in\n{text}"));
            assert_eq!(Some(*t), n["chain"].as_u64(), "{example}: {line}");
            assert!(
                line.contains(&format!("] parallelism {},", n["parallelism"])),
                "{example}: {line}"
            );
        }
    }
    // The names are the jobs' own.
    let (_, args) = &examples(dir.path())[1];
    let text = explain(
        "rising-temperatures",
        args,
        &["--explain", "--parallelism", "2"],
    );
    for op in [
        "Source: CSV [uid rising-source] parallelism 2",
        "CEP [uid rising-cep] parallelism 2",
        "Sink: Matches [uid rising-sink] parallelism 1",
    ] {
        assert!(text.contains(op), "{op}: {text}");
    }
}

/// The fingerprint is the same program's in two runs of the binary, and another when the
/// parallelism changes.
#[test]
fn explain_fingerprint_is_stable_and_follows_the_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    for (example, args) in examples(dir.path()) {
        let fp = |extra: &[&str]| {
            explain_json(example, &args, extra)["fingerprint"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let (a, b) = (fp(&["--parallelism", "2"]), fp(&["--parallelism", "2"]));
        assert_eq!(a, b, "{example}: two runs");
        assert_ne!(fp(&["--parallelism", "3"]), a, "{example}: parallelism");
    }
}

/// Runs `strom example NAME` over the golden input with `args` on `backend` (the disk
/// backend with a 1 MiB cache under `dir/state`, so that state goes through the store);
/// its output and late lines, sorted, each run's files named by `tag`.
fn example_on_backend(
    dir: &std::path::Path,
    example: &str,
    args: &[&str],
    backend: &str,
    tag: &str,
) -> (Vec<String>, Vec<String>) {
    let out = dir.join(format!("{tag}-{backend}.csv"));
    let late = dir.join(format!("{tag}-{backend}-late.csv"));
    let mut cmd = strom();
    cmd.args(["example", example, "--input"])
        .arg(golden_input())
        .arg("--output")
        .arg(&out)
        .arg("--late-output")
        .arg(&late)
        .args(args)
        .args(["--watermark-interval", "0ms", "--state-backend", backend]);
    if backend == "disk" {
        cmd.arg("--state-dir")
            .arg(dir.join("state"))
            .args(["--state-cache-mb", "1"]);
    }
    let res = cmd.output().unwrap();
    assert!(
        res.status.success(),
        "{tag} on {backend}: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    (common::sorted_lines(&out), common::sorted_lines(&late))
}

/// Asserts that two sorted outputs are equal, showing the first differences if not.
fn assert_same_lines(what: &str, a: &[String], b: &[String]) {
    if a != b {
        let (x, y): (std::collections::BTreeSet<_>, std::collections::BTreeSet<_>) =
            (a.iter().collect(), b.iter().collect());
        let only: Vec<_> = x.symmetric_difference(&y).take(5).collect();
        panic!(
            "{what}: {} vs {} lines; first differences: {only:?}",
            a.len(),
            b.len()
        );
    }
}

/// The disk backend's working directories are removed when the job ends.
fn assert_no_state_left(dir: &std::path::Path) {
    let state = dir.join("state");
    assert!(
        !state.exists() || std::fs::read_dir(&state).unwrap().next().is_none(),
        "state left behind"
    );
}

/// `rising-temperatures --state-backend disk` writes exactly what the heap backend writes
/// over the golden input, matches and late readings (at parallelism 1, where which readings
/// are late depends on the input order only, as in tests/golden.rs).
#[test]
fn rising_temperatures_on_disk_equals_heap() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--within", "1m", "--out-of-orderness", "2s"];
    let run =
        |backend| example_on_backend(dir.path(), "rising-temperatures", &args, backend, "cep");
    let (heap, heap_late) = run("heap");
    let (disk, disk_late) = run("disk");
    assert!(heap.len() > 1000, "{} matches", heap.len());
    assert!(!heap_late.is_empty());
    assert_same_lines("matches", &disk, &heap);
    assert_same_lines("late", &disk_late, &heap_late);
    assert_no_state_left(dir.path());
}

/// `sensors` with sliding windows of many slices (where the sliced operator keeps block
/// totals: 60 slices in 8 blocks, 150 in blocks of 13) and allowed lateness with no
/// out-of-orderness (readings behind the watermark fire windows again and drop totals)
/// writes on the disk backend, with a cache far smaller than its state, exactly what the
/// heap backend writes.
#[test]
fn sliding_sensors_on_disk_equal_heap() {
    let dir = tempfile::tempdir().unwrap();
    for window in ["hop:60s,1s", "hop:150s,1s"] {
        let args = [
            "--window",
            window,
            "--out-of-orderness",
            "0s",
            "--allowed-lateness",
            "5s",
        ];
        let run = |backend| example_on_backend(dir.path(), "sensors", &args, backend, window);
        let (heap, heap_late) = run("heap");
        let (disk, disk_late) = run("disk");
        assert!(heap.len() > 10_000, "{window}: {} rows", heap.len());
        let windows: std::collections::BTreeSet<_> = heap
            .iter()
            .map(|row| row.split(',').take(3).collect::<Vec<_>>())
            .collect();
        assert!(
            windows.len() + 1000 < heap.len(),
            "{window}: windows fired again ({} rows, {} windows)",
            heap.len(),
            windows.len()
        );
        assert_same_lines(window, &disk, &heap);
        assert_same_lines(window, &disk_late, &heap_late);
    }
    assert_no_state_left(dir.path());
}

/// `--state-dir` without the disk backend is a mistake, said before anything runs.
#[test]
fn state_dir_needs_the_disk_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = strom()
        .args(["example", "rising-temperatures", "--input"])
        .arg(golden_input())
        .arg("--output")
        .arg(dir.path().join("out.csv"))
        .args(["--within", "1m", "--state-dir"])
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--state-backend disk"), "{err}");
    assert!(!dir.path().join("out.csv").exists());
}

/// `strom bench sensors` with checkpoints reports, on its last line, the throughput, the
/// size of the last and of the largest checkpoint (the window state the job carried) and
/// what the checkpoints wrote, on either state backend; without, it says so.
#[test]
fn bench_sensors_reports_checkpoint_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let field = |line: &str, key: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(key))
            .and_then(|v| v.parse().ok())
    };
    let run = |extra: &[&str]| {
        // Long enough (seconds in a debug build) for many 10 ms checkpoints to complete
        // while the windows still hold state, even on a busy machine; the disk backend is
        // slower per event.
        let disk = extra.contains(&"disk");
        let events = if disk { "150000" } else { "1000000" };
        let stdout = stdout_of(
            strom()
                .args(["bench", "sensors", "--events", events, "--sensors", "500"])
                .args(["--window", "hop:1h,1m", "--runs", "1"])
                .args(extra),
        );
        stdout.lines().last().unwrap_or_default().to_string()
    };
    let chk = dir.path().join("chk");
    let state = dir.path().join("state");
    for backend in [
        &["--state-backend", "heap"][..],
        &[
            "--state-backend",
            "disk",
            "--state-dir",
            state.to_str().unwrap(),
        ],
    ] {
        let mut args = vec![
            "--checkpoint-interval",
            "10ms",
            "--checkpoint-dir",
            chk.to_str().unwrap(),
        ];
        args.extend_from_slice(backend);
        let with = run(&args);
        assert!(
            with.contains(&format!("state_backend={}", backend[1])),
            "{with}"
        );
        assert!(
            field(&with, "events_per_s=").is_some_and(|v| v > 0),
            "{with}"
        );
        // 500 sensors with hour-long windows sliding by a minute: tens of kilobytes at least.
        let max = field(&with, "checkpoint_max_bytes=").unwrap_or(0);
        assert!(max > 20_000, "{with}");
        let last = field(&with, "checkpoint_bytes=").unwrap_or(u64::MAX);
        assert!(last <= max, "{with}");
        assert!(field(&with, "checkpoint_written_bytes=").is_some_and(|w| w > 0 && w <= max));
        assert!(
            field(&with, "checkpoints=").is_some_and(|n| n > 0),
            "{with}"
        );
    }
    let without = run(&[]);
    assert!(without.contains("checkpoints=off"), "{without}");
    assert!(
        field(&without, "events_per_s=").is_some_and(|v| v > 0),
        "{without}"
    );
    assert!(!without.contains("checkpoint_bytes="), "{without}");
}

/// `STROM_CHANNELS` is read when a job starts: an unknown mode fails the job, naming it.
#[test]
fn an_unknown_strom_channels_value_fails_the_job() {
    let out = strom()
        .args(["example", "wordcount"])
        .env("STROM_CHANNELS", "carrier-pigeon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("STROM_CHANNELS=\"carrier-pigeon\""), "{err}");
    let ok = strom()
        .args(["example", "wordcount"])
        .env("STROM_CHANNELS", "serialized")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// `STROM_STATE_BACKEND` picks the state backend of a job that does not choose one: with
/// `disk` the sliding windows of `strom example sensors` run on the disk backend (in
/// `STROM_STATE_DIR`) and give the heap backend's output exactly; an unknown value fails
/// the job, naming it.
#[test]
fn strom_state_backend_picks_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let run = |out: &std::path::Path, backend: &str| {
        let o = strom()
            // Watermarks after every record: which records are late does not depend on
            // timing, so the two runs must agree exactly.
            .args(["example", "sensors", "--window", "hop:10s,2s"])
            .args(["--watermark-interval", "0ms", "--input"])
            .arg(golden_input())
            .arg("--output")
            .arg(out)
            .env("STROM_STATE_BACKEND", backend)
            .env("STROM_STATE_DIR", &state)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (heap, disk) = (dir.path().join("heap.csv"), dir.path().join("disk.csv"));
    let (ok, err) = run(&heap, "heap");
    assert!(ok, "{err}");
    assert!(
        !state.exists(),
        "the heap backend writes no state directory"
    );
    let (ok, err) = run(&disk, "disk");
    assert!(ok, "{err}");
    assert!(state.is_dir(), "the disk backend worked in STROM_STATE_DIR");
    let (h, d) = (
        std::fs::read_to_string(&heap).unwrap(),
        std::fs::read_to_string(&disk).unwrap(),
    );
    assert!(h.lines().count() > 100, "{h}");
    let sorted = |s: &str| {
        let mut v: Vec<&str> = s.lines().collect();
        v.sort_unstable();
        v.join("\n")
    };
    assert_eq!(sorted(&h), sorted(&d));
    let (ok, err) = run(&dir.path().join("x.csv"), "floppy");
    assert!(!ok);
    assert!(err.contains("STROM_STATE_BACKEND=\"floppy\""), "{err}");
}
