//! Tests of the file sinks' two-phase commit with checkpointing on: part files are hidden
//! while in progress, pre-committed at a checkpoint, made visible when it completes (or on
//! restore from it), never overwritten, and the visible files hold exactly the records up to
//! the last completed checkpoint, across crashes, rescaling and repeated restores.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use strom_connectors::file::{
    CsvSink, CsvSource, JsonLinesSink, PENDING_FILES_STATE, PendingFile, TextLinesSink,
};
use strom_core::checkpoint::{
    CheckpointKind, RestoredState, SnapshotContext, StateSection, StateSnapshot, decode,
};
use strom_core::operator_state::{Redistribution, redistribute};
use strom_core::{
    BoxError, NO_TIMESTAMP, ReadStatus, Sink, SinkContext, SinkWriter, Source, SourceContext,
    SourceOutput, SourceReader, TaskInfo,
};

type TestResult = Result<(), BoxError>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Reading {
    sensor_id: String,
    ts_ms: i64,
    temperature: f64,
}

fn reading(i: i64) -> Reading {
    Reading {
        sensor_id: format!("s{i}"),
        ts_ms: i,
        temperature: i as f64 / 4.0,
    }
}

fn info(subtask: usize, parallelism: usize) -> TaskInfo {
    TaskInfo {
        job_name: "test".to_owned(),
        operator_name: "sink".to_owned(),
        subtask,
        parallelism,
        max_parallelism: 128,
    }
}

fn ckpt_ctx(subtask: usize, parallelism: usize) -> SinkContext {
    SinkContext {
        info: info(subtask, parallelism),
        checkpointing: true,
    }
}

fn snapshot_ctx(id: u64) -> SnapshotContext {
    SnapshotContext {
        checkpoint_id: id,
        timestamp_ms: 0,
        kind: CheckpointKind::Checkpoint,
        incremental_base: None,
        max_parallelism: 128,
    }
}

/// Take checkpoint `id` of `writer` and materialize its sections (as the writer thread
/// would).
fn snapshot<T, W: SinkWriter<T>>(writer: &mut W, id: u64) -> Result<Vec<StateSection>, BoxError> {
    let mut out = StateSnapshot::new();
    writer.snapshot_state(&snapshot_ctx(id), &mut out)?;
    Ok(out.materialize()?)
}

/// The elements of the pending-files list state in `sections`.
fn elements(sections: &[StateSection]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for section in sections {
        if let StateSection::List {
            state,
            mode,
            elements,
        } = section
        {
            assert_eq!(state, PENDING_FILES_STATE);
            assert_eq!(*mode, Redistribution::EvenSplit);
            out.extend(elements.iter().cloned());
        }
    }
    out
}

/// The pending files recorded in `sections`.
fn pending(sections: &[StateSection]) -> Result<Vec<PendingFile>, BoxError> {
    elements(sections)
        .iter()
        .map(|e| decode::<PendingFile>(e).map_err(BoxError::from))
        .collect()
}

/// The restored state of every new subtask: the old subtasks' sections redistributed to
/// `parallelism` subtasks by even split, as the runtime does.
fn restore(old: &[Vec<StateSection>], parallelism: usize) -> Vec<RestoredState> {
    let lists = old.iter().map(|s| elements(s)).collect();
    redistribute(lists, Redistribution::EvenSplit, parallelism)
        .into_iter()
        .map(|els| {
            let mut r = RestoredState::new("sink");
            r.set_list(PENDING_FILES_STATE, Redistribution::EvenSplit, els);
            r
        })
        .collect()
}

/// File name → contents of the visible files in `dir` (names not starting with `.`).
fn visible(dir: &Path) -> Result<BTreeMap<String, String>, BoxError> {
    files(dir, false)
}

/// File name → contents of the hidden files in `dir`.
fn hidden(dir: &Path) -> Result<BTreeMap<String, String>, BoxError> {
    files(dir, true)
}

fn files(dir: &Path, hidden: bool) -> Result<BTreeMap<String, String>, BoxError> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') == hidden {
            out.insert(name, fs::read_to_string(entry.path())?);
        }
    }
    Ok(out)
}

/// Every record of the CSV files of `dir` (hidden files skipped), with headers.
fn read_csv_dir(dir: &Path) -> Result<Vec<Reading>, BoxError> {
    let source = CsvSource::<Reading>::new([dir]).has_header(true);
    let splits = source.splits(1)?;
    let mut reader = source.create_reader(&SourceContext { info: info(0, 1) }, splits)?;
    let mut records = Vec::new();
    let mut dead = Vec::new();
    while reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 100))?
        != ReadStatus::Finished
    {}
    assert!(dead.is_empty(), "{dead:?}");
    Ok(records.into_iter().map(|r| r.value).collect())
}

fn write_range<W: SinkWriter<Reading>>(w: &mut W, range: std::ops::Range<i64>) -> TestResult {
    for i in range {
        w.write(reading(i), NO_TIMESTAMP)?;
    }
    Ok(())
}

const HEADER: &str = "sensor_id,ts_ms,temperature\n";

fn csv_lines(range: std::ops::Range<i64>) -> String {
    let mut s = HEADER.to_owned();
    for i in range {
        let r = reading(i);
        s.push_str(&format!(
            "{},{},{:?}\n",
            r.sensor_id, r.ts_ms, r.temperature
        ));
    }
    s
}

#[test]
fn crash_after_checkpoint_restore_commits_exactly_the_checkpointed_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let sink = CsvSink::new(&out).with_header(true);

    // Attempt 1: records 0..3, checkpoint 1, records 3..5, crash before the notification.
    let mut w = Sink::<Reading>::create_writer(&sink, &ckpt_ctx(0, 1))?;
    assert_eq!(w.path(), out.as_path());
    write_range(&mut w, 0..3)?;
    w.flush()?;
    assert!(
        visible(&out)?.is_empty(),
        "nothing visible before a checkpoint"
    );
    assert_eq!(
        hidden(&out)?.keys().collect::<Vec<_>>(),
        vec![".part-0-00000.csv.inprogress"]
    );
    let sections = snapshot(&mut w, 1)?;
    let recorded = pending(&sections)?;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].checkpoint_id, 1);
    assert_eq!(
        recorded[0].in_progress,
        out.join(".part-0-00000.csv.inprogress")
    );
    assert_eq!(recorded[0].final_path, out.join("part-0-00000.csv"));
    // Pre-committed: durable and complete, but hidden.
    assert_eq!(
        fs::read_to_string(&recorded[0].in_progress)?,
        csv_lines(0..3)
    );
    write_range(&mut w, 3..5)?;
    w.flush()?;
    drop(w);
    assert!(visible(&out)?.is_empty());

    // Attempt 2 restores checkpoint 1 (complete: its notification was lost) and commits.
    let mut w = Sink::<Reading>::create_writer(&sink, &ckpt_ctx(0, 1))?;
    let restored = restore(&[sections], 1);
    w.initialize_state(&restored[0])?;
    assert_eq!(
        visible(&out)?,
        BTreeMap::from([("part-0-00000.csv".to_owned(), csv_lines(0..3))])
    );
    assert_eq!(read_csv_dir(&out)?, (0..3).map(reading).collect::<Vec<_>>());
    // The records after the checkpoint stay hidden in the failed attempt's file.
    assert_eq!(
        hidden(&out)?,
        BTreeMap::from([(".part-0-00001.csv.inprogress".to_owned(), csv_lines(3..5))])
    );

    // The source replays 3..5; go on to checkpoint 2 and complete it.
    write_range(&mut w, 3..7)?;
    let sections = snapshot(&mut w, 2)?;
    assert_eq!(pending(&sections)?.len(), 1);
    assert_eq!(visible(&out)?.len(), 1, "pre-committed, not visible");
    w.notify_checkpoint_complete(2)?;
    assert_eq!(
        visible(&out)?,
        BTreeMap::from([
            ("part-0-00000.csv".to_owned(), csv_lines(0..3)),
            // Part 1 is the stale file of attempt 1: skipped, never reused.
            ("part-0-00002.csv".to_owned(), csv_lines(3..7)),
        ])
    );
    assert_eq!(read_csv_dir(&out)?, (0..7).map(reading).collect::<Vec<_>>());
    // Idempotent: notifying again (or a later id) commits nothing twice.
    w.notify_checkpoint_complete(2)?;
    w.notify_checkpoint_complete(3)?;
    assert_eq!(visible(&out)?.len(), 2);
    Ok(())
}

#[test]
fn notify_commits_every_pending_file_up_to_its_id() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("jsonl");
    let sink = JsonLinesSink::new(&out);
    let mut w = Sink::<i64>::create_writer(&sink, &ckpt_ctx(3, 4))?;
    w.write(1, NO_TIMESTAMP)?;
    let s1 = snapshot(&mut w, 1)?;
    // Nothing written between checkpoints: no empty part file.
    let s2 = snapshot(&mut w, 2)?;
    w.write(2, NO_TIMESTAMP)?;
    w.write(3, NO_TIMESTAMP)?;
    let s3 = snapshot(&mut w, 3)?;
    w.write(4, NO_TIMESTAMP)?;
    let s4 = snapshot(&mut w, 4)?;
    assert_eq!(pending(&s1)?.len(), 1);
    assert_eq!(pending(&s2)?.len(), 1, "still pending, recorded again");
    assert_eq!(
        pending(&s4)?
            .iter()
            .map(|p| p.checkpoint_id)
            .collect::<Vec<_>>(),
        vec![1, 3, 4]
    );
    // The notification of checkpoint 1 was lost; 3 commits 1 and 3.
    w.notify_checkpoint_complete(3)?;
    assert_eq!(
        visible(&out)?,
        BTreeMap::from([
            ("part-3-00000.jsonl".to_owned(), "1\n".to_owned()),
            ("part-3-00001.jsonl".to_owned(), "2\n3\n".to_owned()),
        ])
    );
    // An old notification arriving late is harmless.
    w.notify_checkpoint_complete(1)?;
    let s5 = snapshot(&mut w, 5)?;
    assert_eq!(pending(&s5)?.len(), 1, "only checkpoint 4's file is left");
    w.notify_checkpoint_complete(4)?;
    assert_eq!(visible(&out)?.len(), 3);
    assert!(hidden(&out)?.is_empty());

    // Restoring from checkpoint 3 or 4 again finds everything committed: idempotent.
    for sections in [&s3, &s4] {
        let mut again = Sink::<i64>::create_writer(&sink, &ckpt_ctx(3, 4))?;
        again.initialize_state(&restore(std::slice::from_ref(sections), 1)[0])?;
    }
    assert_eq!(visible(&out)?.len(), 3);
    Ok(())
}

#[test]
fn finish_leaves_the_last_file_for_the_final_checkpoint() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("text");
    let sink = TextLinesSink::new(&out).part_extension("log");
    let mut w = Sink::<String>::create_writer(&sink, &ckpt_ctx(1, 2))?;
    w.write("a".to_owned(), NO_TIMESTAMP)?;
    w.finish()?;
    // Closed and durable but not visible; writing after finish is an error.
    assert!(visible(&out)?.is_empty());
    assert!(w.write("late".to_owned(), NO_TIMESTAMP).is_err());
    w.finish()?;
    let sections = snapshot(&mut w, 7)?;
    assert_eq!(pending(&sections)?[0].checkpoint_id, 7);
    w.notify_checkpoint_complete(7)?;
    assert_eq!(
        visible(&out)?,
        BTreeMap::from([("part-1-00000.log".to_owned(), "a\n".to_owned())])
    );

    // A subtask that receives nothing creates nothing (but the directory).
    let empty_dir = dir.path().join("empty");
    let mut w = Sink::<String>::create_writer(&TextLinesSink::new(&empty_dir), &ckpt_ctx(0, 1))?;
    w.finish()?;
    let sections = snapshot(&mut w, 1)?;
    assert!(pending(&sections)?.is_empty());
    w.notify_checkpoint_complete(1)?;
    assert_eq!(fs::read_dir(&empty_dir)?.count(), 0);
    Ok(())
}

#[test]
fn every_part_file_has_the_csv_header() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("csv");
    let sink = CsvSink::new(&out).with_header(true).delimiter(b';');
    let mut w = Sink::<Reading>::create_writer(&sink, &ckpt_ctx(0, 1))?;
    for (id, range) in [(1, 0..2), (2, 2..3), (3, 3..6)] {
        write_range(&mut w, range)?;
        snapshot(&mut w, id)?;
    }
    w.notify_checkpoint_complete(3)?;
    let files = visible(&out)?;
    assert_eq!(files.len(), 3);
    for text in files.values() {
        assert!(text.starts_with("sensor_id;ts_ms;temperature\n"), "{text}");
    }
    let source = CsvSource::<Reading>::new([&out])
        .has_header(true)
        .delimiter(b';');
    let mut reader =
        source.create_reader(&SourceContext { info: info(0, 1) }, source.splits(1)?)?;
    let (mut records, mut dead) = (Vec::new(), Vec::new());
    while reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 100))?
        != ReadStatus::Finished
    {}
    let back: Vec<Reading> = records.into_iter().map(|r| r.value).collect();
    assert_eq!(back, (0..6).map(reading).collect::<Vec<_>>());
    Ok(())
}

/// Check that no file in `seen` changed, add the visible files to it, and that the visible
/// records are `expected` (in any order).
fn check(out: &Path, seen: &mut BTreeMap<String, String>, expected: &[i64]) -> TestResult {
    let now = visible(out)?;
    for (name, text) in seen.iter() {
        assert_eq!(now.get(name), Some(text), "{name} changed or vanished");
    }
    seen.extend(now);
    let mut got: Vec<i64> = read_csv_dir(out)?.iter().map(|r| r.ts_ms).collect();
    got.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);
    Ok(())
}

/// Crashes, rescaling and repeated restores of the same checkpoint: names never collide, a
/// committed file is never changed, and the visible records are exactly those written before
/// the barriers of completed checkpoints.
#[test]
fn names_never_collide_across_restores_and_rescaling() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let sink = CsvSink::new(&out).with_header(true);
    let mut next_record = 0i64;
    let mut expected: Vec<i64> = Vec::new();
    // Every committed file, with the contents it had when first seen.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();

    // Attempt 1, parallelism 2: checkpoints 1 and 2; only 1 is notified (after 2 was
    // taken), then a crash (checkpoint 2 completed, its notification was lost).
    let mut ws = (0..2)
        .map(|i| Sink::<Reading>::create_writer(&sink, &ckpt_ctx(i, 2)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ckpt2 = Vec::new();
    for id in 1..=2 {
        let mut sections = Vec::new();
        for w in &mut ws {
            write_range(w, next_record..next_record + 3)?;
            expected.extend(next_record..next_record + 3);
            next_record += 3;
            sections.push(snapshot(w, id)?);
        }
        ckpt2 = sections;
    }
    for w in &mut ws {
        w.notify_checkpoint_complete(1)?;
    }
    // Written after checkpoint 2: lost with the crash.
    for w in &mut ws {
        write_range(w, next_record..next_record + 2)?;
        next_record += 2;
        w.flush()?;
    }
    drop(ws);
    check(&out, &mut seen, &expected[..6])?;

    // Attempt 2 at parallelism 3 restores checkpoint 2: the three subtasks share the four
    // pending files of the two old ones (two were committed already).
    let restored = restore(&ckpt2, 3);
    let mut ws = Vec::new();
    for (i, state) in restored.iter().enumerate() {
        let mut w = Sink::<Reading>::create_writer(&sink, &ckpt_ctx(i, 3))?;
        w.initialize_state(state)?;
        ws.push(w);
    }
    check(&out, &mut seen, &expected)?;
    // Checkpoint 3 is taken but never completes: a crash.
    for w in &mut ws {
        write_range(w, next_record..next_record + 2)?;
        next_record += 2;
        snapshot(w, 3)?;
        write_range(w, next_record..next_record + 1)?;
        next_record += 1;
    }
    drop(ws);
    check(&out, &mut seen, &expected)?;

    // Attempts 3 and 4 at parallelism 1 restore checkpoint 2 again (a second restore of the
    // same checkpoint), write, and crash; then attempt 4 completes checkpoint 4.
    for attempt in 3..=4 {
        let mut w = Sink::<Reading>::create_writer(&sink, &ckpt_ctx(0, 1))?;
        w.initialize_state(&restore(&ckpt2, 1)[0])?;
        check(&out, &mut seen, &expected)?;
        write_range(&mut w, next_record..next_record + 4)?;
        if attempt == 4 {
            expected.extend(next_record..next_record + 4);
        }
        next_record += 4;
        let sections = snapshot(&mut w, 4)?;
        let names: Vec<PendingFile> = pending(&sections)?;
        assert_eq!(names.len(), 1);
        for p in &names {
            let name = p
                .final_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            assert!(
                !seen.contains_key(name.as_deref().unwrap_or_default()),
                "{name:?} reused"
            );
        }
        if attempt == 4 {
            w.finish()?;
            w.notify_checkpoint_complete(4)?;
        }
    }
    check(&out, &mut seen, &expected)?;
    let names: Vec<String> = visible(&out)?.into_keys().collect();
    assert_eq!(
        names,
        vec![
            "part-0-00000.csv",
            "part-0-00001.csv",
            // Parts 2 (crash after checkpoint 2), 3 (attempt 2's checkpoint 3), 4 (after it)
            // and 5 (attempt 3) are hidden leftovers.
            "part-0-00006.csv",
            "part-1-00000.csv",
            "part-1-00001.csv",
        ]
    );
    Ok(())
}

#[test]
fn a_regular_file_in_the_way_is_an_error_naming_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out.csv");
    fs::write(&path, "x")?;
    let err = Sink::<Reading>::create_writer(&CsvSink::new(&path), &ckpt_ctx(0, 1))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("directory of part files"), "{err}");
    Ok(())
}

#[test]
fn a_vanished_pending_file_fails_the_commit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let sink = JsonLinesSink::new(&out);
    let mut w = Sink::<i64>::create_writer(&sink, &ckpt_ctx(0, 1))?;
    w.write(1, NO_TIMESTAMP)?;
    let sections = snapshot(&mut w, 1)?;
    drop(w);
    let files = pending(&sections)?;
    let file = &files[0];
    fs::remove_file(&file.in_progress)?;
    let mut w = Sink::<i64>::create_writer(&sink, &ckpt_ctx(0, 1))?;
    let err = w
        .initialize_state(&restore(std::slice::from_ref(&sections), 1)[0])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(&file.in_progress.display().to_string()),
        "{err}"
    );
    Ok(())
}

#[test]
fn without_checkpointing_nothing_changes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("plain.csv");
    let sink = CsvSink::new(&path);
    let mut w = Sink::<Reading>::create_writer(
        &sink,
        &SinkContext {
            info: info(0, 1),
            checkpointing: false,
        },
    )?;
    write_range(&mut w, 0..2)?;
    w.flush()?;
    // The hooks are no-ops: no state, the file is written in place.
    assert!(snapshot(&mut w, 1)?.is_empty());
    w.notify_checkpoint_complete(1)?;
    w.finish()?;
    assert_eq!(fs::read_to_string(&path)?, "s0,0,0.0\ns1,1,0.25\n");
    Ok(())
}
