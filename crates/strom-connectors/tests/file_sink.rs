//! Tests of `CsvSink` and `JsonLinesSink`: exact file contents at parallelism 1, part files
//! in a directory at parallelism > 1, dead letters as JSON lines, errors naming the path.

use serde::{Deserialize, Serialize};
use std::fs;
use strom_connectors::file::{
    CsvSink, CsvSource, JsonLinesSink, JsonLinesSource, TextLinesSink, WithLine,
};
use strom_core::{
    BoxError, DeadLetter, NO_TIMESTAMP, ReadStatus, Record, Sink, SinkContext, SinkWriter, Source,
    SourceContext, SourceOutput, SourceReader, TaskInfo,
};

type TestResult = Result<(), BoxError>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

fn info(subtask: usize, parallelism: usize) -> TaskInfo {
    TaskInfo {
        job_name: "test".to_owned(),
        operator_name: "file".to_owned(),
        subtask,
        parallelism,
        max_parallelism: 128,
    }
}

fn sink_ctx(subtask: usize, parallelism: usize) -> SinkContext {
    SinkContext {
        info: info(subtask, parallelism),
        checkpointing: false,
    }
}

#[test]
fn csv_sink_writes_exactly_the_file_at_parallelism_one() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("nested").join("deeper").join("out.csv");
    let sink = CsvSink::new(&path);
    let mut writer = Sink::<Reading>::create_writer(&sink, &sink_ctx(0, 1))?;
    writer.write(reading("s1", 1000, 16.4), 1000)?;
    writer.write(reading("with, comma", 2000, -3.5), NO_TIMESTAMP)?;
    let mut batch = vec![Record::untimed(reading("s\"q\"", 3000, 1e21))];
    writer.write_batch(&mut batch)?;
    assert!(batch.is_empty());
    writer.flush()?;
    assert_eq!(
        fs::read_to_string(&path)?,
        "s1,1000,16.4\n\"with, comma\",2000,-3.5\n\"s\"\"q\"\"\",3000,1e21\n"
    );
    writer.write(reading("s4", 4000, 0.0), NO_TIMESTAMP)?;
    writer.finish()?;
    assert_eq!(
        fs::read_to_string(&path)?,
        "s1,1000,16.4\n\"with, comma\",2000,-3.5\n\"s\"\"q\"\"\",3000,1e21\ns4,4000,0.0\n"
    );
    // Finishing twice is harmless; writing after finishing is an error naming the file.
    writer.finish()?;
    let err = writer
        .write(reading("late", 5, 5.0), NO_TIMESTAMP)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains(&path.display().to_string()), "{err}");
    Ok(())
}

#[test]
fn csv_sink_header_and_delimiter_and_round_trip() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out.csv");
    let sink = CsvSink::new(&path).with_header(true).delimiter(b';');
    let mut writer = Sink::<Reading>::create_writer(&sink, &sink_ctx(0, 1))?;
    let rows = vec![reading("a;b", 1, 1.5), reading("c", 2, 2.25)];
    for r in rows.clone() {
        writer.write(r, NO_TIMESTAMP)?;
    }
    writer.finish()?;
    assert_eq!(
        fs::read_to_string(&path)?,
        "sensor_id;ts_ms;temperature\n\"a;b\";1;1.5\nc;2;2.25\n"
    );

    // Read back with the CSV source.
    let source = CsvSource::<Reading>::new([&path])
        .has_header(true)
        .delimiter(b';');
    let splits = source.splits(1)?;
    let mut reader = source.create_reader(&SourceContext { info: info(0, 1) }, splits)?;
    let mut records = Vec::new();
    let mut dead = Vec::new();
    while reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 100))?
        != ReadStatus::Finished
    {}
    let back: Vec<Reading> = records.into_iter().map(|r| r.value).collect();
    assert_eq!(back, rows);
    assert!(dead.is_empty());
    Ok(())
}

#[test]
fn sinks_write_part_files_at_higher_parallelism() -> TestResult {
    let dir = tempfile::tempdir()?;
    let csv_dir = dir.path().join("csv-out");
    let json_dir = dir.path().join("json-out");
    let csv = CsvSink::new(&csv_dir);
    let json = JsonLinesSink::new(&json_dir);
    for subtask in 0..3 {
        let mut w = Sink::<(i64, String)>::create_writer(&csv, &sink_ctx(subtask, 3))?;
        let mut j = Sink::<(i64, String)>::create_writer(&json, &sink_ctx(subtask, 3))?;
        for i in 0..subtask as i64 {
            w.write((i, format!("sub{subtask}")), NO_TIMESTAMP)?;
            j.write((i, format!("sub{subtask}")), NO_TIMESTAMP)?;
        }
        w.finish()?;
        j.finish()?;
    }
    let mut names: Vec<String> = fs::read_dir(&csv_dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    assert_eq!(names, vec!["part-0.csv", "part-1.csv", "part-2.csv"]);
    assert_eq!(fs::read_to_string(csv_dir.join("part-0.csv"))?, "");
    assert_eq!(fs::read_to_string(csv_dir.join("part-1.csv"))?, "0,sub1\n");
    assert_eq!(
        fs::read_to_string(csv_dir.join("part-2.csv"))?,
        "0,sub2\n1,sub2\n"
    );

    let mut names: Vec<String> = fs::read_dir(&json_dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    assert_eq!(names, vec!["part-0.jsonl", "part-1.jsonl", "part-2.jsonl"]);
    assert_eq!(fs::read_to_string(json_dir.join("part-0.jsonl"))?, "");
    assert_eq!(
        fs::read_to_string(json_dir.join("part-1.jsonl"))?,
        "[0,\"sub1\"]\n"
    );
    assert_eq!(
        fs::read_to_string(json_dir.join("part-2.jsonl"))?,
        "[0,\"sub2\"]\n[1,\"sub2\"]\n"
    );
    Ok(())
}

#[test]
fn json_lines_sink_exact_contents_and_round_trip() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out.jsonl");
    let sink = JsonLinesSink::new(&path);
    let mut writer = Sink::<Reading>::create_writer(&sink, &sink_ctx(0, 1))?;
    let rows = vec![reading("s1", 1, 16.4), reading("line\nbreak", 2, -0.5)];
    let mut batch: Vec<Record<Reading>> = rows.iter().cloned().map(Record::untimed).collect();
    writer.write_batch(&mut batch)?;
    writer.flush()?;
    let expected = concat!(
        "{\"sensor_id\":\"s1\",\"ts_ms\":1,\"temperature\":16.4}\n",
        "{\"sensor_id\":\"line\\nbreak\",\"ts_ms\":2,\"temperature\":-0.5}\n",
    );
    assert_eq!(fs::read_to_string(&path)?, expected);
    writer.finish()?;
    assert_eq!(fs::read_to_string(&path)?, expected);

    let source = JsonLinesSource::<Reading>::new([&path]).split_size(7);
    let mut back = Vec::new();
    let mut dead = Vec::new();
    for split in source.splits(1)? {
        let mut reader = source.create_reader(&SourceContext { info: info(0, 1) }, vec![split])?;
        let mut records = Vec::new();
        while reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 100))?
            != ReadStatus::Finished
        {}
        back.extend(records.into_iter().map(|r| r.value));
    }
    assert_eq!(back, rows);
    Ok(())
}

#[test]
fn dead_letters_as_json_lines() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in.csv");
    fs::write(&input, "s1,1,1.5\ns2,x,2.5\n")?;
    let source = CsvSource::<Reading>::new([&input]);
    let mut reader =
        source.create_reader(&SourceContext { info: info(0, 1) }, source.splits(1)?)?;
    let mut records = Vec::new();
    let mut dead = Vec::new();
    while reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 100))?
        != ReadStatus::Finished
    {}
    assert_eq!(records.len(), 1);

    let path = dir.path().join("dead").join("letters.jsonl");
    let sink = JsonLinesSink::new(&path);
    let mut writer = Sink::<DeadLetter>::create_writer(&sink, &sink_ctx(0, 1))?;
    for letter in dead.clone() {
        writer.write(letter, NO_TIMESTAMP)?;
    }
    writer.finish()?;
    let text = fs::read_to_string(&path)?;
    let source_json = serde_json::to_string(&input.display().to_string())?;
    assert_eq!(
        text,
        format!(
            "{{\"source\":{source_json},\"line\":2,\"raw\":\"s2,x,2.5\",\"error\":\"field 'ts_ms' (column 2): invalid digit found in string\"}}\n"
        )
    );
    // And back.
    let back: DeadLetter = serde_json::from_str(text.trim_end())?;
    assert_eq!(vec![back], dead);
    Ok(())
}

#[test]
fn late_records_written_back_exactly_as_read() -> TestResult {
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in.csv");
    fs::write(
        &input,
        "s1,1000,16.40\n\ns2,2000,1.000\r\ns3,3000,\"quoted, 2.50\"\n",
    )?;
    let source = CsvSource::<(String, i64, String)>::new([&input]).with_lines();
    let mut reader =
        source.create_reader(&SourceContext { info: info(0, 1) }, source.splits(1)?)?;
    let mut records = Vec::new();
    let mut dead = Vec::new();
    while reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 100))?
        != ReadStatus::Finished
    {}
    let lines: Vec<WithLine<(String, i64, String)>> =
        records.into_iter().map(|r| r.value).collect();
    assert_eq!(
        lines[2].value,
        ("s3".to_owned(), 3000, "quoted, 2.50".to_owned())
    );

    let path = dir.path().join("late.csv");
    let sink = TextLinesSink::new(&path);
    let mut writer =
        Sink::<WithLine<(String, i64, String)>>::create_writer(&sink, &sink_ctx(0, 1))?;
    for line in lines {
        writer.write(line, NO_TIMESTAMP)?;
    }
    writer.finish()?;
    assert_eq!(
        fs::read_to_string(&path)?,
        "s1,1000,16.40\ns2,2000,1.000\ns3,3000,\"quoted, 2.50\"\n"
    );

    let parts = dir.path().join("late-parts");
    let sink = TextLinesSink::new(&parts).part_extension("csv");
    let mut writer = Sink::<String>::create_writer(&sink, &sink_ctx(1, 2))?;
    writer.write("a,1".to_owned(), NO_TIMESTAMP)?;
    writer.finish()?;
    assert_eq!(fs::read_to_string(parts.join("part-1.csv"))?, "a,1\n");
    Ok(())
}

#[test]
fn sink_errors_name_the_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let blocker = dir.path().join("file");
    fs::write(&blocker, "x")?;
    // A path below a regular file cannot be created.
    let path = blocker.join("out.csv");
    let err = Sink::<Reading>::create_writer(&CsvSink::new(&path), &sink_ctx(0, 1))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains(&blocker.display().to_string()), "{err}");
    let err = Sink::<Reading>::create_writer(&JsonLinesSink::new(&path), &sink_ctx(1, 2))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains(&blocker.display().to_string()), "{err}");
    Ok(())
}
