//! Every source of this crate resumes exactly from `snapshot_splits`: after a reader emitted
//! `k` records, a reader created from its snapshot (through a serde round trip, as a
//! checkpoint stores it) emits exactly the rest, in order, with the same dead letters: no
//! loss, no duplicate, whatever `k` (0, mid-batch, at split boundaries, at the end) and the
//! batch size. Finished splits are not reported.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use strom_connectors::collection::{CollectionSource, IteratorSource, RangeSplit};
use strom_connectors::file::{CsvSource, FileSplit, JsonLinesSource, LineFileSource, LineParser};
use strom_connectors::generator::{GeneratorSource, StrideSplit};
use strom_core::{
    BoxError, DeadLetter, ReadStatus, Source, SourceContext, SourceOutput, SourceReader, TaskInfo,
};

type TestResult = Result<(), BoxError>;

fn ctx() -> SourceContext {
    SourceContext {
        info: TaskInfo {
            job_name: "test".to_owned(),
            operator_name: "source".to_owned(),
            subtask: 0,
            parallelism: 1,
            max_parallelism: 128,
        },
    }
}

/// What a reader emitted: values and dead letters, in order.
#[derive(Debug, PartialEq)]
struct Read<T> {
    values: Vec<T>,
    dead: Vec<DeadLetter>,
}

impl<T> Default for Read<T> {
    fn default() -> Self {
        Read {
            values: Vec::new(),
            dead: Vec::new(),
        }
    }
}

/// Poll `reader` until it emitted `k` records (or finished), at most `batch` per poll;
/// `true` when it finished.
fn read_k<T, R: SourceReader<T>>(
    reader: &mut R,
    k: usize,
    batch: usize,
    out: &mut Read<T>,
) -> Result<bool, BoxError> {
    let mut read = 0;
    // A poll that may emit nothing changes nothing.
    let mut records = Vec::new();
    let status = reader.poll_next(&mut SourceOutput::new(&mut records, &mut out.dead, 0))?;
    assert!(records.is_empty());
    if status == ReadStatus::Finished {
        return Ok(true);
    }
    while read < k {
        let mut records = Vec::new();
        let limit = batch.min(k - read);
        let status =
            reader.poll_next(&mut SourceOutput::new(&mut records, &mut out.dead, limit))?;
        assert!(records.len() <= limit);
        read += records.len();
        out.values.extend(records.into_iter().map(|r| r.value));
        match status {
            ReadStatus::Finished => return Ok(true),
            ReadStatus::MoreAvailable => {}
            ReadStatus::NothingAvailable(d) => return Err(format!("reader waits {d:?}").into()),
        }
    }
    Ok(false)
}

/// Poll until finished.
fn drain<T, R: SourceReader<T>>(reader: &mut R, batch: usize, out: &mut Read<T>) -> TestResult {
    while !read_k(reader, usize::MAX, batch, out)? {}
    Ok(())
}

/// The serde round trip a checkpoint puts splits through.
fn through_checkpoint<S: serde::Serialize + DeserializeOwned>(
    splits: &[S],
) -> Result<Vec<S>, BoxError> {
    Ok(serde_json::from_str(&serde_json::to_string(splits)?)?)
}

/// For every `k` from 0 to the number of records and every batch size: read `k` records of
/// `splits`, snapshot, restore a new reader from the snapshot and read the rest. The
/// restored reader must emit exactly what the original one emits when it goes on with the
/// same polls; and, when `batch_independent` (the order of records does not depend on the
/// poll sizes), the two parts together must equal a full read. `finished` says whether a
/// reported split is known to be exhausted (it must not be reported).
fn check_resume<T, S>(
    source: &S,
    splits: &[S::Split],
    batches: &[usize],
    batch_independent: bool,
    finished: impl Fn(&S::Split) -> bool,
) -> Result<usize, BoxError>
where
    T: PartialEq + Debug,
    S: Source<T>,
{
    let mut full = Read::default();
    drain(
        &mut source.create_reader(&ctx(), splits.to_vec())?,
        1000,
        &mut full,
    )?;
    let total = full.values.len();
    for &batch in batches {
        for k in 0..=total {
            let mut got = Read::default();
            let mut reader = source.create_reader(&ctx(), splits.to_vec())?;
            let done = read_k(&mut reader, k, batch, &mut got)?;
            assert_eq!(got.values.len(), k);
            let snapshot = reader.snapshot_splits();
            if done {
                assert!(
                    snapshot.is_empty(),
                    "a finished reader reports {snapshot:?}"
                );
            }
            for split in &snapshot {
                assert!(!finished(split), "finished split reported: {split:?}");
            }
            let restored = through_checkpoint(&snapshot)?;
            let mut resumed = source.create_reader(&ctx(), restored)?;
            let mut rest = Read::default();
            drain(&mut resumed, batch, &mut rest)?;
            assert!(resumed.snapshot_splits().is_empty());
            let mut continued = Read::default();
            if !done {
                drain(&mut reader, batch, &mut continued)?;
            }
            assert_eq!(
                rest, continued,
                "k {k}, batch {batch}, snapshot {snapshot:?}"
            );
            got.values.extend(rest.values);
            got.dead.extend(rest.dead);
            assert_eq!(got.values.len(), total);
            if batch_independent {
                assert_eq!(got, full, "k {k}, batch {batch}, snapshot {snapshot:?}");
            }
        }
    }
    Ok(total)
}

#[test]
fn collection_resumes_exactly() -> TestResult {
    let items: Vec<u32> = (0..23).collect();
    let source = CollectionSource::new(items.clone());
    let done = |s: &RangeSplit| s.next >= s.end;
    for parallelism in [1, 3, 40] {
        let splits = source.splits(parallelism)?;
        // One subtask's splits, and all of them on one reader (as after scaling in).
        let total = check_resume(&source, &splits[..1], &[1, 2, 5, 100], true, done)?;
        assert_eq!(total, 23 / parallelism);
        let total = check_resume(&source, &splits, &[1, 2, 5, 100], true, done)?;
        assert_eq!(total, 23);
    }
    // Empty ranges are finished from the start: not reported.
    let reader = source.create_reader(&ctx(), source.splits(40)?)?;
    assert_eq!(reader.snapshot_splits().len(), 23);
    let mut reader = source.create_reader(&ctx(), source.splits(1)?)?;
    let mut got = Read::default();
    read_k(&mut reader, 23, 23, &mut got)?;
    assert_eq!(got.values, items);
    assert!(reader.snapshot_splits().is_empty());
    Ok(())
}

#[test]
fn generator_resumes_exactly_with_several_splits_per_reader() -> TestResult {
    let source = GeneratorSource::new(Some(17), |i| i * 10);
    let count = 17;
    let done = move |s: &StrideSplit| s.next >= count;
    for parallelism in [1, 2, 3, 20] {
        let splits = source.splits(parallelism)?;
        check_resume(&source, &splits[..1], &[1, 2, 4, 100], false, done)?;
        // All splits on one reader: served round robin; the snapshot keeps the order.
        let total = check_resume(&source, &splits, &[1, 2, 4, 100], false, done)?;
        assert_eq!(total, 17);
    }
    // At the end nothing is reported, even before the reader said it finished.
    let mut reader = source.create_reader(&ctx(), source.splits(3)?)?;
    let mut got = Read::default();
    read_k(&mut reader, 17, 17, &mut got)?;
    assert!(reader.snapshot_splits().is_empty());
    Ok(())
}

#[test]
fn unbounded_generator_resumes_exactly() -> TestResult {
    let source = GeneratorSource::new(None, |i| i);
    let splits = source.splits(3)?;
    for k in [0, 1, 6, 7, 8, 30] {
        let mut reader = source.create_reader(&ctx(), splits.clone())?;
        read_k(&mut reader, k, 7, &mut Read::default())?;
        let restored = through_checkpoint(&reader.snapshot_splits())?;
        assert_eq!(restored.len(), 3);
        let mut rest = Read::default();
        read_k(
            &mut source.create_reader(&ctx(), restored)?,
            60,
            7,
            &mut rest,
        )?;
        let mut continued = Read::default();
        read_k(&mut reader, 60, 7, &mut continued)?;
        assert_eq!(rest, continued, "k {k}");
    }
    // Every index once: 3 readers of one split each, restored halfway.
    let mut all = Vec::new();
    for split in splits {
        let mut reader = source.create_reader(&ctx(), vec![split])?;
        let mut got = Read::default();
        read_k(&mut reader, 5, 3, &mut got)?;
        let restored = through_checkpoint(&reader.snapshot_splits())?;
        read_k(&mut source.create_reader(&ctx(), restored)?, 5, 2, &mut got)?;
        all.extend(got.values);
    }
    all.sort_unstable();
    assert_eq!(all, (0..30).collect::<Vec<u64>>());
    Ok(())
}

#[test]
fn iterator_source_is_not_restorable() -> TestResult {
    let source = IteratorSource::new(0..10u32);
    let splits = source.splits(1)?;
    let mut reader = source.create_reader(&ctx(), splits.clone())?;
    let mut got = Read::default();
    read_k(&mut reader, 4, 3, &mut got)?;
    assert_eq!(got.values, vec![0, 1, 2, 3]);
    let snapshot = through_checkpoint(&reader.snapshot_splits())?;
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].emitted, 4);
    // Resuming after emitted items, or restarting once the iterator was taken, is an error
    // (never a silent loss or repeat).
    for splits in [snapshot, splits] {
        let err = source
            .create_reader(&ctx(), splits)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("IteratorSource"), "{err}");
    }
    // Subtasks without the split are fine.
    assert!(source.create_reader(&ctx(), Vec::new()).is_ok());
    // A reader that finished reports nothing.
    drain(&mut reader, 3, &mut got)?;
    assert_eq!(got.values, (0..10).collect::<Vec<_>>());
    assert!(reader.snapshot_splits().is_empty());
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Reading {
    sensor_id: String,
    ts_ms: i64,
    temperature: f64,
}

/// Files with headers, malformed lines, blank lines, CRLF, quotes, a last line without a
/// newline, a header-only file and an empty file.
fn write_csv_inputs(dir: &Path) -> Result<PathBuf, BoxError> {
    let csv = dir.join("csv");
    fs::create_dir_all(&csv)?;
    let mut a = String::from("sensor_id,ts_ms,temperature\n");
    for i in 0..25 {
        match i % 6 {
            1 => a.push_str(&format!("s{i},bad,{i}.5\n")),
            2 => a.push_str(&format!("\"s,{i}\",{i},{i}.25\r\n")),
            4 => a.push_str(&format!("s{i},{i},{i}.5\n\n")),
            _ => a.push_str(&format!("s{i},{i},{i}.5\n")),
        }
    }
    a.push_str("last,99,9.5");
    fs::write(csv.join("a.csv"), a)?;
    fs::write(csv.join("b.csv"), "sensor_id,ts_ms,temperature\n")?;
    fs::write(csv.join("c.csv"), "")?;
    fs::write(
        csv.join("d.csv"),
        "ts_ms,sensor_id,temperature\r\n7,d1,1\r\n8,d2,x\r\n9,d3,3\r\n",
    )?;
    Ok(csv)
}

#[test]
fn csv_source_resumes_exactly_with_headers_and_dead_letters() -> TestResult {
    let dir = tempfile::tempdir()?;
    let csv = write_csv_inputs(dir.path())?;
    for split_size in [1, 4, 9, 30, 1 << 20] {
        let source = CsvSource::<Reading>::new([&csv])
            .has_header(true)
            .split_size(split_size);
        for parallelism in [1, 2] {
            let splits = source.splits(parallelism)?;
            let mine: Vec<FileSplit> = splits.iter().step_by(parallelism).cloned().collect();
            check_resume(&source, &mine, &[1, 3, 1000], true, FileSplit::is_finished)?;
        }
        let total = check_resume(
            &source,
            &source.splits(1)?,
            &[1, 3, 1000],
            true,
            FileSplit::is_finished,
        )?;
        assert_eq!(total, 25 - 4 + 1 + 2, "split size {split_size}");
    }
    Ok(())
}

#[test]
fn csv_source_resumes_after_rescaling() -> TestResult {
    let dir = tempfile::tempdir()?;
    let csv = write_csv_inputs(dir.path())?;
    let source = CsvSource::<Reading>::new([&csv])
        .has_header(true)
        .split_size(16);
    let splits = source.splits(3)?;
    let mut full = Read::default();
    drain(
        &mut source.create_reader(&ctx(), splits.clone())?,
        1000,
        &mut full,
    )?;
    for k in [0, 1, 2, 5] {
        // Three subtasks read k records each and snapshot; two subtasks share the splits.
        let mut got = Read::default();
        let mut snapshot = Vec::new();
        for subtask in 0..3 {
            let mine: Vec<FileSplit> = splits.iter().skip(subtask).step_by(3).cloned().collect();
            let mut reader = source.create_reader(&ctx(), mine)?;
            read_k(&mut reader, k, 2, &mut got)?;
            snapshot.extend(reader.snapshot_splits());
        }
        let restored = through_checkpoint(&snapshot)?;
        for subtask in 0..2 {
            let mine: Vec<FileSplit> = restored.iter().skip(subtask).step_by(2).cloned().collect();
            drain(&mut source.create_reader(&ctx(), mine)?, 3, &mut got)?;
        }
        let key = |r: &Reading| (r.ts_ms, r.sensor_id.clone());
        let mut values = got.values;
        values.sort_by_key(key);
        let mut want = full.values.clone();
        want.sort_by_key(key);
        assert_eq!(values, want, "k {k}");
        let mut dead = got.dead;
        dead.sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
        let mut want_dead = full.dead.clone();
        want_dead.sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
        assert_eq!(dead, want_dead, "k {k}");
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Event {
    id: u32,
    tag: String,
}

#[test]
fn json_lines_source_resumes_exactly() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::from("\u{feff}");
    for i in 0..20u32 {
        match i % 5 {
            2 => text.push_str(&format!("{{\"id\":\"{i}\",\"tag\":\"bad\"}}\n")),
            3 => text.push_str(&format!("  {{\"id\":{i},\"tag\":\"crlf\"}}\r\n   \n")),
            _ => text.push_str(&format!("{{\"id\":{i},\"tag\":\"t{i}\"}}\n")),
        }
    }
    text.push_str("{\"id\":99,\"tag\":\"no newline\"}");
    let path = dir.path().join("events.jsonl");
    fs::write(&path, text)?;
    for split_size in [1, 10, 45, 1 << 20] {
        let source = JsonLinesSource::<Event>::new([&path]).split_size(split_size);
        let total = check_resume(
            &source,
            &source.splits(1)?,
            &[1, 4, 1000],
            true,
            FileSplit::is_finished,
        )?;
        assert_eq!(total, 17);
        let with_lines = JsonLinesSource::<Event>::new([&path])
            .split_size(split_size)
            .with_lines();
        let total = check_resume(
            &with_lines,
            &with_lines.splits(1)?,
            &[3],
            true,
            FileSplit::is_finished,
        )?;
        assert_eq!(total, 17);
    }
    Ok(())
}

/// Parses a decimal number per line; blank lines skipped, anything else malformed.
struct NumberParser;

impl LineParser<u64> for NumberParser {
    fn start_file(&mut self, _path: &Path) -> Result<(), BoxError> {
        Ok(())
    }

    fn parse_line(&mut self, line: &[u8], _line_no: u64) -> Result<Option<u64>, String> {
        if line.is_empty() {
            return Ok(None);
        }
        let text = std::str::from_utf8(line).map_err(|e| e.to_string())?;
        text.parse().map(Some).map_err(|e| format!("{text:?}: {e}"))
    }
}

#[test]
fn line_file_source_resumes_exactly_across_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("numbers");
    fs::create_dir_all(&input)?;
    fs::write(input.join("1.txt"), "1\n22\n\nx\n333\n4444\n")?;
    fs::write(input.join("2.txt"), "55555\r\n6\r\n")?;
    fs::write(input.join("3.txt"), "7")?;
    // Hidden files are not input.
    fs::write(input.join(".hidden"), "8\n")?;
    for split_size in [1, 2, 3, 5, 100] {
        let source = LineFileSource::new([&input], || NumberParser).split_size(split_size);
        let total = check_resume(
            &source,
            &source.splits(1)?,
            &[1, 2, 1000],
            true,
            FileSplit::is_finished,
        )?;
        assert_eq!(total, 7, "split size {split_size}");
    }
    Ok(())
}
