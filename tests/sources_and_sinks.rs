//! Files end to end (CSV and JSON lines in and out), bad input in both modes, and per-split
//! watermarks in sources.

#![allow(clippy::unwrap_used)]

mod common;

use common::{execute_within, sorted};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use strom::core::{
    Boundedness, BoxError as CoreError, ReadStatus, Source, SourceContext, SourceOutput,
    SourceReader,
};
use strom::prelude::*;

const LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Reading {
    sensor: String,
    ts: i64,
    value: f64,
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn csv_in_csv_and_json_lines_out() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", "a,1,1.5\nb,2,2.5\na,3,3.5\n");
    let env = StreamEnv::new().with_parallelism(2);
    let readings = env.read_csv::<Reading>([input]);
    readings
        .clone()
        .filter(|r| r.sensor == "a")
        .write_csv(dir.path().join("a.csv"))
        .set_parallelism(1);
    readings
        .map(|r| (r.sensor, r.ts))
        .write_json_lines(dir.path().join("out"))
        .set_parallelism(2);
    execute_within(&env, "files", LIMIT).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.csv")).unwrap(),
        "a,1,1.5\na,3,3.5\n"
    );
    let mut json: Vec<String> = ["part-0.jsonl", "part-1.jsonl"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(dir.path().join("out").join(f))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    json.sort();
    assert_eq!(json, vec![r#"["a",1]"#, r#"["a",3]"#, r#"["b",2]"#]);
}

#[test]
fn a_bad_line_fails_the_job_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "bad.csv", "a,1,1.5\nb,two,2.5\na,3,3.5\n");
    let env = StreamEnv::new().with_parallelism(1);
    env.read_csv::<Reading>([input.clone()]).discard();
    let err = execute_within(&env, "bad", LIMIT).unwrap_err().to_string();
    assert!(
        err.contains(&format!("{} line 2", input.display())),
        "{err}"
    );
    assert!(err.contains("field 'ts'"), "{err}");
    assert!(err.contains("operator 'Source: CSV'"), "{err}");
}

#[test]
fn bad_lines_go_to_dead_letters_when_asked_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "mixed.jsonl",
        "{\"sensor\":\"a\",\"ts\":1,\"value\":1.0}\n{\"sensor\":\"b\",\"ts\":\"x\",\"value\":2.0}\nnot json\n{\"sensor\":\"c\",\"ts\":3,\"value\":3.0}\n",
    );
    let env = StreamEnv::new().with_parallelism(2);
    let readings = env.read_json_lines::<Reading>([input.clone()]);
    let dead = readings.dead_letters().collect();
    let good = readings.map(|r| r.sensor).collect();
    execute_within(&env, "dead letters", LIMIT).unwrap();
    assert_eq!(sorted(good.take()), vec!["a".to_string(), "c".to_string()]);
    let mut dead = dead.take();
    dead.sort_by_key(|d| d.line);
    assert_eq!(dead.len(), 2);
    assert_eq!(
        (dead[0].line, dead[0].raw.as_str()),
        (2, "{\"sensor\":\"b\",\"ts\":\"x\",\"value\":2.0}")
    );
    assert!(dead[0].error.contains("field 'ts'"), "{}", dead[0].error);
    assert_eq!(dead[0].source, input.display().to_string());
    assert_eq!((dead[1].line, dead[1].raw.as_str()), (3, "not json"));
}

/// One reader, two splits read alternately: split 0 has timestamps 0, 10, 20, …; split 1
/// has 100_000, 100_010, … . Each split is in order on its own.
struct TwoSplits;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Split {
    id: u64,
    next: i64,
}

impl Source<(u64, i64)> for TwoSplits {
    type Split = Split;
    type Reader = TwoSplitReader;
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn splits(&self, _: usize) -> Result<Vec<Split>, CoreError> {
        // Both splits end up in subtask 0 at parallelism 1.
        Ok(vec![Split { id: 0, next: 0 }, Split { id: 1, next: 0 }])
    }
    fn create_reader(
        &self,
        _: &SourceContext,
        splits: Vec<Split>,
    ) -> Result<TwoSplitReader, CoreError> {
        Ok(TwoSplitReader { splits, turn: 0 })
    }
}

struct TwoSplitReader {
    splits: Vec<Split>,
    turn: usize,
}

impl SourceReader<(u64, i64)> for TwoSplitReader {
    type Split = Split;
    fn poll_next(
        &mut self,
        out: &mut SourceOutput<'_, (u64, i64)>,
    ) -> Result<ReadStatus, CoreError> {
        if self.splits.iter().all(|s| s.next >= 100) {
            return Ok(ReadStatus::Finished);
        }
        self.turn = (self.turn + 1) % self.splits.len();
        let s = &mut self.splits[self.turn];
        out.start_split(s.id);
        for _ in 0..5 {
            if s.next < 100 {
                out.collect((s.id, s.id as i64 * 100_000 + s.next * 10));
                s.next += 1;
            }
        }
        if s.next >= 100 {
            out.finish_split(s.id);
        }
        Ok(ReadStatus::MoreAvailable)
    }
    fn snapshot_splits(&self) -> Vec<Split> {
        self.splits.clone()
    }
}

fn count_late(per_split: bool) -> (usize, usize) {
    let env = StreamEnv::new().with_parallelism(1);
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO)
        .with_timestamp_assigner(|e: &(u64, i64), _| e.1)
        .with_emission_interval(Duration::ZERO);
    let events = if per_split {
        env.from_source_with_watermarks(TwoSplits, strategy, "Source: two splits")
    } else {
        env.from_source(TwoSplits, "Source: two splits")
            .assign_timestamps_and_watermarks(strategy)
    };
    let late = OutputTag::<(u64, i64)>::new("late");
    let counts = events
        .key_by(|e: &(u64, i64)| e.0)
        .window(TumblingEventTimeWindows::of(Duration::from_millis(100)))
        .side_output_late_data(&late)
        .aggregate(Count);
    let late_out = counts.side_output(&late).collect();
    let counted = counts.collect();
    execute_within(&env, "splits", LIMIT).unwrap();
    (counted.take().iter().sum::<u64>() as usize, late_out.len())
}

#[derive(Clone)]
struct Count;

impl AggregateFunction<(u64, i64)> for Count {
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, acc: &mut u64, _: &(u64, i64)) {
        *acc += 1;
    }
    fn get_result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}

#[test]
fn sources_track_a_watermark_per_split() {
    // Per split: the watermark is the minimum of the two splits, nothing is late.
    assert_eq!(count_late(true), (200, 0));
    // One generator for the whole subtask: split 1's timestamps run far ahead and almost all
    // of split 0's records arrive behind the watermark.
    let (counted, late) = count_late(false);
    assert_eq!(counted + late, 200);
    assert!(late >= 90, "{late} late records");
}
