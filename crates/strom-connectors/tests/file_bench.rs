//! Micro-benchmarks of the file sources, ignored by default. Run in release mode:
//!
//! ```text
//! cargo test --release -p strom-connectors --test file_bench -- --ignored --nocapture bench_
//! ```
//!
//! Each prints lines per second on one core for a generated 2M-line file
//! (`STROM_BENCH_LINES` sets another count).

use serde::Deserialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;
use strom_connectors::file::{CsvSource, FileSplit, JsonLinesSource, LineReader};
use strom_core::{
    BoxError, ReadStatus, Source, SourceContext, SourceOutput, SourceReader, TaskInfo,
};

type TestResult = Result<(), BoxError>;

/// Lines in the generated files: 2M, or `STROM_BENCH_LINES` (e.g. smaller under valgrind).
fn lines() -> u64 {
    std::env::var("STROM_BENCH_LINES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000)
}

#[derive(Debug, Deserialize)]
struct Reading {
    sensor_id: String,
    ts_ms: i64,
    temperature: f64,
}

fn write_csv(path: &Path) -> Result<u64, BoxError> {
    let mut w = BufWriter::new(File::create(path)?);
    for i in 0..lines() {
        let t = (i % 4000) as f64 / 100.0 - 10.0;
        writeln!(
            w,
            "sensor-{},{},{t:.2}",
            i % 1000,
            1_700_000_000_000 + i * 10
        )?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn write_json(path: &Path) -> Result<u64, BoxError> {
    let mut w = BufWriter::new(File::create(path)?);
    for i in 0..lines() {
        let t = (i % 4000) as f64 / 100.0 - 10.0;
        writeln!(
            w,
            "{{\"sensor_id\":\"sensor-{}\",\"ts_ms\":{},\"temperature\":{t:.2}}}",
            i % 1000,
            1_700_000_000_000 + i * 10
        )?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn ctx() -> SourceContext {
    SourceContext {
        info: TaskInfo {
            job_name: "bench".to_owned(),
            operator_name: "source".to_owned(),
            subtask: 0,
            parallelism: 1,
            max_parallelism: 128,
        },
    }
}

/// CPU time this thread has run, in seconds (Linux `schedstat`; falls back to 0): on a
/// shared machine it is steadier than wall time.
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        })
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

/// A wall-clock and a CPU-time stopwatch.
struct Stopwatch {
    wall: Instant,
    cpu: f64,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch {
            wall: Instant::now(),
            cpu: thread_cpu_seconds(),
        }
    }

    /// (wall seconds, CPU seconds) since the start.
    fn elapsed(&self) -> (f64, f64) {
        (
            self.wall.elapsed().as_secs_f64(),
            thread_cpu_seconds() - self.cpu,
        )
    }
}

/// Drain `source` as one subtask, 1024 records per poll; returns (records, seconds).
fn drain<S: Source<Reading>>(source: &S) -> Result<(u64, (f64, f64)), BoxError> {
    let start = Stopwatch::start();
    let mut reader = source.create_reader(&ctx(), source.splits(1)?)?;
    let mut records = Vec::with_capacity(1024);
    let mut dead = Vec::new();
    let mut count = 0u64;
    let mut checksum = 0i64;
    loop {
        records.clear();
        let status = reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 1024))?;
        count += records.len() as u64;
        for r in &records {
            checksum = checksum
                .wrapping_add(r.value.ts_ms)
                .wrapping_add(r.value.temperature as i64)
                .wrapping_add(r.value.sensor_id.len() as i64);
        }
        if status == ReadStatus::Finished {
            break;
        }
    }
    let secs = start.elapsed();
    assert!(dead.is_empty());
    assert!(checksum != 0);
    Ok((count, secs))
}

fn report(what: &str, lines: u64, bytes: u64, (wall, cpu): (f64, f64)) {
    println!(
        "{what}: {lines} lines in {wall:.3} s wall = {:.2} M lines/s ({:.0} MiB/s); \
         {cpu:.3} s CPU = {:.2} M lines/s per core",
        lines as f64 / wall / 1e6,
        bytes as f64 / wall / (1 << 20) as f64,
        lines as f64 / cpu / 1e6,
    );
}

#[test]
#[ignore = "benchmark: run in release mode with --ignored"]
fn bench_csv_source_throughput() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("readings.csv");
    let bytes = write_csv(&path)?;

    // Raw line splitting, no parsing.
    for _ in 0..2 {
        let start = Stopwatch::start();
        let mut reader = LineReader::open(FileSplit::new(&path, 0, bytes))?;
        let mut n = 0u64;
        let mut total = 0usize;
        while let Some((_, line)) = reader.next_line()? {
            n += 1;
            total += line.len();
        }
        assert_eq!(n, lines());
        assert!(total > 0);
        report("line reader", n, bytes, start.elapsed());
    }

    let source = CsvSource::<Reading>::new([&path]).split_size(u64::MAX);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let (n, secs) = drain(&source)?;
        assert_eq!(n, lines());
        report("CsvSource<Reading>", n, bytes, secs);
        best = best.min(secs.1);
    }
    println!(
        "CsvSource<Reading> best of 5: {:.2} M lines/s per core",
        lines() as f64 / best / 1e6
    );
    Ok(())
}

#[test]
#[ignore = "benchmark: run in release mode with --ignored"]
fn bench_json_lines_source_throughput() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("readings.jsonl");
    let bytes = write_json(&path)?;
    let source = JsonLinesSource::<Reading>::new([&path]).split_size(u64::MAX);
    for _ in 0..2 {
        let (n, secs) = drain(&source)?;
        assert_eq!(n, lines());
        report("JsonLinesSource<Reading>", n, bytes, secs);
    }
    Ok(())
}
