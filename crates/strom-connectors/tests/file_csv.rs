//! Tests of `CsvSource` driven through the `Source` / `SourceReader` API as the runtime
//! would: splits for several parallelisms and split sizes, one reader per subtask, polled
//! until finished.

use serde::Deserialize;
use std::fs;
use std::path::Path;
use strom_connectors::file::{CsvSource, FileSplit, WithLine};
use strom_core::{
    BoxError, DeadLetter, ReadStatus, Source, SourceContext, SourceOutput, SourceReader, TaskInfo,
};

type TestResult = Result<(), BoxError>;

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Reading {
    sensor_id: String,
    ts_ms: i64,
    temperature: f64,
}

fn reading(sensor_id: &str, ts_ms: i64, temperature: f64) -> Reading {
    Reading {
        sensor_id: sensor_id.to_owned(),
        ts_ms,
        temperature,
    }
}

fn ctx(subtask: usize, parallelism: usize) -> SourceContext {
    SourceContext {
        info: TaskInfo {
            job_name: "test".to_owned(),
            operator_name: "csv".to_owned(),
            subtask,
            parallelism,
            max_parallelism: 128,
        },
    }
}

/// Poll `reader` until it finishes, `limit` records per poll at most.
fn drain<T, R: SourceReader<T>>(
    reader: &mut R,
    limit: usize,
    values: &mut Vec<T>,
    dead: &mut Vec<DeadLetter>,
) -> TestResult {
    loop {
        let mut records = Vec::new();
        let status = reader.poll_next(&mut SourceOutput::new(&mut records, dead, limit))?;
        assert!(records.len() <= limit);
        values.extend(records.into_iter().map(|r| r.value));
        match status {
            ReadStatus::Finished => return Ok(()),
            ReadStatus::MoreAvailable => {}
            ReadStatus::NothingAvailable(d) => {
                return Err(format!("file reader waits {d:?}").into());
            }
        }
    }
}

/// The splits subtask `subtask` of `parallelism` gets.
fn assigned(splits: &[FileSplit], subtask: usize, parallelism: usize) -> Vec<FileSplit> {
    splits
        .iter()
        .enumerate()
        .filter(|(i, _)| i % parallelism == subtask)
        .map(|(_, s)| s.clone())
        .collect()
}

/// Read the whole source as `parallelism` subtasks would, subtask after subtask.
fn run<T, S: Source<T, Split = FileSplit>>(
    source: &S,
    parallelism: usize,
    limit: usize,
) -> Result<(Vec<T>, Vec<DeadLetter>), BoxError> {
    let splits = source.splits(parallelism)?;
    let mut values = Vec::new();
    let mut dead = Vec::new();
    for subtask in 0..parallelism {
        let mut reader = source.create_reader(
            &ctx(subtask, parallelism),
            assigned(&splits, subtask, parallelism),
        )?;
        drain(&mut reader, limit, &mut values, &mut dead)?;
        assert!(reader.snapshot_splits().is_empty());
    }
    dead.sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
    Ok((values, dead))
}

fn sorted_by_ts(mut v: Vec<Reading>) -> Vec<Reading> {
    v.sort_by_key(|r| r.ts_ms);
    v
}

fn letter(path: &Path, line: u64, raw: &str, error: &str) -> DeadLetter {
    DeadLetter {
        source: path.display().to_string(),
        line,
        raw: raw.to_owned(),
        error: error.to_owned(),
    }
}

const READINGS: &str =
    "s1,1000,16.40\ns2,2000,-3.5\r\n\ns3,3000,1e2\nsensor 4,4000,0\ns5,5000,21.125";

fn expected_readings() -> Vec<Reading> {
    vec![
        reading("s1", 1000, 16.4),
        reading("s2", 2000, -3.5),
        reading("s3", 3000, 100.0),
        reading("sensor 4", 4000, 0.0),
        reading("s5", 5000, 21.125),
    ]
}

#[test]
fn headerless_struct_every_split_size_and_parallelism() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("readings.csv");
    fs::write(&path, READINGS)?;
    for parallelism in 1..=3 {
        for split_size in 1..=READINGS.len() as u64 + 1 {
            for limit in [1, 2, 1000] {
                let source = CsvSource::<Reading>::new([&path]).split_size(split_size);
                let (values, dead) = run(&source, parallelism, limit)?;
                assert_eq!(dead, vec![]);
                assert_eq!(
                    sorted_by_ts(values),
                    expected_readings(),
                    "parallelism {parallelism}, split size {split_size}, limit {limit}"
                );
            }
        }
    }
    // One subtask and one split: file order exactly.
    let (values, _) = run(&CsvSource::<Reading>::new([&path]), 1, 1000)?;
    assert_eq!(values, expected_readings());
    Ok(())
}

#[test]
fn header_maps_columns_by_name_in_every_split() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = "temperature,unit,sensor_id,ts_ms\n16.40,C,s1,1000\n-3.5,C,s2,2000\r\n";
    let b = "ts_ms,sensor_id,temperature\r\n3000,s3,1e2\n\n4000,sensor 4,0";
    fs::write(dir.path().join("a.csv"), a)?;
    fs::write(dir.path().join("b.csv"), b)?;
    fs::write(dir.path().join("c.csv"), "")?;
    fs::write(dir.path().join("d.csv"), "sensor_id,ts_ms,temperature\n")?;
    let expected = expected_readings()[..4].to_vec();
    for parallelism in 1..=3 {
        for split_size in 1..=a.len() as u64 + 1 {
            let source = CsvSource::<Reading>::new([dir.path()])
                .has_header(true)
                .split_size(split_size);
            let (values, dead) = run(&source, parallelism, 3)?;
            assert_eq!(
                dead,
                vec![],
                "parallelism {parallelism}, split size {split_size}"
            );
            assert_eq!(
                sorted_by_ts(values),
                expected,
                "parallelism {parallelism}, split size {split_size}"
            );
        }
    }
    Ok(())
}

#[test]
fn dead_letters_name_the_field_line_and_raw_text() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bad.csv");
    let data = "s1,1000,16.40\ns2,2000,warm\ns3,abc,1.0\ns4,4000\n\ns5,5000,5.5\n\"s6,6000,6\n";
    fs::write(&path, data)?;
    let expected_dead = vec![
        letter(
            &path,
            2,
            "s2,2000,warm",
            "field 'temperature' (column 3): invalid float literal",
        ),
        letter(
            &path,
            3,
            "s3,abc,1.0",
            "field 'ts_ms' (column 2): invalid digit found in string",
        ),
        letter(
            &path,
            4,
            "s4,4000",
            "field 'temperature' (column 3): missing (the line has 2 columns)",
        ),
        letter(
            &path,
            7,
            "\"s6,6000,6",
            "field 'ts_ms' (column 2): missing (the line has 1 column)",
        ),
    ];
    for parallelism in 1..=3 {
        for split_size in 1..=data.len() as u64 + 1 {
            let source = CsvSource::<Reading>::new([&path]).split_size(split_size);
            let (values, dead) = run(&source, parallelism, 2)?;
            assert_eq!(
                dead, expected_dead,
                "parallelism {parallelism}, split size {split_size}"
            );
            assert_eq!(
                sorted_by_ts(values),
                vec![reading("s1", 1000, 16.4), reading("s5", 5000, 5.5)]
            );
        }
    }
    Ok(())
}

#[test]
fn dead_letters_with_header_use_header_names() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bad.csv");
    let data = "temperature,sensor_id,ts_ms\nhot,s1,1000\n1.5,s2\n2.5,s3,3000\n";
    fs::write(&path, data)?;
    for split_size in 1..=data.len() as u64 + 1 {
        let source = CsvSource::<Reading>::new([&path])
            .has_header(true)
            .split_size(split_size);
        let (values, dead) = run(&source, 2, 10)?;
        assert_eq!(
            dead,
            vec![
                letter(
                    &path,
                    2,
                    "hot,s1,1000",
                    "field 'temperature' (column 1): invalid float literal"
                ),
                letter(
                    &path,
                    3,
                    "1.5,s2",
                    "field 'ts_ms' (column 3): missing (the line has 2 columns)"
                ),
            ],
            "split size {split_size}"
        );
        assert_eq!(values, vec![reading("s3", 3000, 2.5)]);
    }
    Ok(())
}

#[test]
fn tuples_quotes_and_delimiters() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("quoted.csv");
    fs::write(
        &path,
        "\"Smith, J.\",5,\"say \"\"hi\"\"\"\nplain,6,\"\"\nx,seven,y\n",
    )?;
    let (values, dead) = run(&CsvSource::<(String, i64, String)>::new([&path]), 1, 100)?;
    assert_eq!(
        values,
        vec![
            ("Smith, J.".to_owned(), 5, "say \"hi\"".to_owned()),
            ("plain".to_owned(), 6, String::new()),
        ]
    );
    assert_eq!(
        dead,
        vec![letter(
            &path,
            3,
            "x,seven,y",
            "column 2: invalid digit found in string"
        )]
    );

    let semi = dir.path().join("semi.csv");
    fs::write(&semi, "a;1;\"x;y\"\nb;2;z\n")?;
    let (values, _) = run(
        &CsvSource::<(String, u8, String)>::new([&semi]).delimiter(b';'),
        1,
        100,
    )?;
    assert_eq!(
        values,
        vec![
            ("a".to_owned(), 1, "x;y".to_owned()),
            ("b".to_owned(), 2, "z".to_owned())
        ]
    );

    let tabs = dir.path().join("tabs.tsv");
    fs::write(&tabs, "a\t1.5\nb\t\n")?;
    let (values, _) = run(
        &CsvSource::<(String, Option<f64>)>::new([&tabs]).delimiter(b'\t'),
        1,
        100,
    )?;
    assert_eq!(
        values,
        vec![("a".to_owned(), Some(1.5)), ("b".to_owned(), None)]
    );

    let short = dir.path().join("short.csv");
    fs::write(&short, "a\n")?;
    let (_, dead) = run(&CsvSource::<(String, i64)>::new([&short]), 1, 100)?;
    assert_eq!(
        dead,
        vec![letter(
            &short,
            1,
            "a",
            "column 2: missing (the line has 1 column)"
        )]
    );
    Ok(())
}

#[test]
fn byte_order_mark_is_not_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("bom.csv");
    fs::write(&plain, "\u{feff}s1,1,1.5\ns2,2,2.5\n")?;
    let (values, dead) = run(&CsvSource::<Reading>::new([&plain]), 1, 100)?;
    assert_eq!(dead, vec![]);
    assert_eq!(values, vec![reading("s1", 1, 1.5), reading("s2", 2, 2.5)]);

    let header = dir.path().join("bom-header.csv");
    fs::write(&header, "\u{feff}sensor_id,ts_ms,temperature\ns1,1,1.5\n")?;
    for split_size in 1..=40 {
        let source = CsvSource::<Reading>::new([&header])
            .has_header(true)
            .split_size(split_size);
        let (values, dead) = run(&source, 2, 100)?;
        assert_eq!(dead, vec![]);
        assert_eq!(values, vec![reading("s1", 1, 1.5)]);
    }
    Ok(())
}

#[test]
fn with_lines_keeps_the_original_text() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("readings.csv");
    fs::write(&path, READINGS)?;
    for split_size in [1, 7, 1000] {
        let source = CsvSource::<Reading>::new([&path])
            .split_size(split_size)
            .with_lines();
        let (mut values, dead): (Vec<WithLine<Reading>>, _) = run(&source, 2, 2)?;
        assert_eq!(dead, vec![]);
        values.sort_by_key(|w| w.value.ts_ms);
        let lines: Vec<&str> = values.iter().map(|w| w.line.as_str()).collect();
        assert_eq!(
            lines,
            vec![
                "s1,1000,16.40",
                "s2,2000,-3.5",
                "s3,3000,1e2",
                "sensor 4,4000,0",
                "s5,5000,21.125"
            ]
        );
        let parsed: Vec<Reading> = values.into_iter().map(|w| w.value).collect();
        assert_eq!(parsed, expected_readings());
    }
    Ok(())
}

#[test]
fn resuming_from_a_snapshot_yields_exactly_the_rest() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut data = String::new();
    for i in 0..40 {
        if i % 7 == 3 {
            data.push_str(&format!("s{i},bad,{i}.5\r\n"));
        } else {
            data.push_str(&format!("s{i},{i},{i}.5\n"));
        }
    }
    fs::write(dir.path().join("a.csv"), &data)?;
    fs::write(dir.path().join("b.csv"), "b,1000,1\nb,1001,2")?;
    for parallelism in 1..=3 {
        for split_size in [1, 5, 13, 64, 10_000] {
            let source = CsvSource::<Reading>::new([dir.path()]).split_size(split_size);
            let (all, all_dead) = run(&source, parallelism, 1000)?;
            let splits = source.splits(parallelism)?;
            for polls_before in 0..4 {
                let mut values = Vec::new();
                let mut dead = Vec::new();
                for subtask in 0..parallelism {
                    let mine = assigned(&splits, subtask, parallelism);
                    let mut reader =
                        source.create_reader(&ctx(subtask, parallelism), mine.clone())?;
                    let mut finished = false;
                    for _ in 0..polls_before {
                        let mut records = Vec::new();
                        let status =
                            reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 3))?;
                        values.extend(records.into_iter().map(|r| r.value));
                        if status == ReadStatus::Finished {
                            finished = true;
                            break;
                        }
                    }
                    let snapshot = reader.snapshot_splits();
                    if finished {
                        assert!(snapshot.is_empty());
                    }
                    if polls_before == 0 {
                        // Positioned splits that own no line are finished: not reported.
                        let unfinished: Vec<FileSplit> =
                            mine.iter().filter(|s| !s.is_finished()).cloned().collect();
                        assert_eq!(snapshot, unfinished);
                    }
                    // Through a checkpoint: serialize and restore.
                    let json = serde_json::to_string(&snapshot)?;
                    let restored: Vec<FileSplit> = serde_json::from_str(&json)?;
                    drop(reader);
                    let mut resumed = source.create_reader(&ctx(subtask, parallelism), restored)?;
                    drain(&mut resumed, 1000, &mut values, &mut dead)?;
                }
                dead.sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
                assert_eq!(dead, all_dead);
                assert_eq!(
                    values, all,
                    "parallelism {parallelism}, split size {split_size}, polls {polls_before}"
                );
            }
            assert_eq!(all.len(), 42 - 6);
            assert_eq!(all_dead.len(), 6);
        }
    }
    Ok(())
}

#[test]
fn io_errors_name_the_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("missing.csv");
    let source = CsvSource::<Reading>::new([&missing]);
    let err = source
        .splits(1)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains(&missing.display().to_string()), "{err}");

    let path = dir.path().join("gone.csv");
    fs::write(&path, "s1,1,1\n")?;
    let source = CsvSource::<Reading>::new([&path]);
    let splits = source.splits(1)?;
    fs::remove_file(&path)?;
    let mut reader = source.create_reader(&ctx(0, 1), splits)?;
    let mut records = Vec::new();
    let mut dead = Vec::new();
    let err = reader
        .poll_next(&mut SourceOutput::new(&mut records, &mut dead, 10))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(&format!("cannot open {}", path.display())),
        "{err}"
    );
    Ok(())
}

#[test]
fn subtasks_without_splits_finish_at_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("one.csv");
    fs::write(&path, "s1,1,1\n")?;
    let source = CsvSource::<Reading>::new([&path]);
    let splits = source.splits(4)?;
    assert_eq!(splits.len(), 1);
    let mut reader = source.create_reader(&ctx(3, 4), assigned(&splits, 3, 4))?;
    let mut records = Vec::new();
    let mut dead = Vec::new();
    let status = reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 10))?;
    assert_eq!(status, ReadStatus::Finished);
    assert!(records.is_empty());
    Ok(())
}
