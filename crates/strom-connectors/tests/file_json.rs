//! Tests of `JsonLinesSource` driven through the `Source` / `SourceReader` API as the runtime
//! would: splits for several parallelisms and split sizes, one reader per subtask, polled
//! until finished.

use serde::Deserialize;
use std::fs;
use std::path::Path;
use strom_connectors::file::{FileSplit, JsonLinesSource, WithLine};
use strom_core::{
    BoxError, DeadLetter, ReadStatus, Source, SourceContext, SourceOutput, SourceReader, TaskInfo,
};

type TestResult = Result<(), BoxError>;

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Event {
    id: String,
    ts: i64,
    #[serde(default)]
    tags: Vec<u32>,
    #[serde(default)]
    place: Option<Place>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Place {
    lat: f64,
    lon: f64,
}

fn event(id: &str, ts: i64, tags: &[u32], place: Option<(f64, f64)>) -> Event {
    Event {
        id: id.to_owned(),
        ts,
        tags: tags.to_vec(),
        place: place.map(|(lat, lon)| Place { lat, lon }),
    }
}

fn ctx(subtask: usize, parallelism: usize) -> SourceContext {
    SourceContext {
        info: TaskInfo {
            job_name: "test".to_owned(),
            operator_name: "json".to_owned(),
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

fn letter(path: &Path, line: u64, raw: &str, error: &str) -> DeadLetter {
    DeadLetter {
        source: path.display().to_string(),
        line,
        raw: raw.to_owned(),
        error: error.to_owned(),
    }
}

const EVENTS: &str = concat!(
    "{\"id\":\"a\",\"ts\":1}\n",
    "{\"id\":\"b\",\"ts\":2,\"tags\":[1,2,3]}\r\n",
    "\n",
    "   \n",
    "{\"id\":\"c, with \\\"quotes\\\"\",\"ts\":3,\"place\":{\"lat\":52.5,\"lon\":13.4}}\n",
    "  {\"ts\":4, \"id\":\"d\"}  ",
);

fn expected_events() -> Vec<Event> {
    vec![
        event("a", 1, &[], None),
        event("b", 2, &[1, 2, 3], None),
        event("c, with \"quotes\"", 3, &[], Some((52.5, 13.4))),
        event("d", 4, &[], None),
    ]
}

#[test]
fn values_every_split_size_and_parallelism() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("events.jsonl");
    fs::write(&path, EVENTS)?;
    for parallelism in 1..=3 {
        for split_size in 1..=EVENTS.len() as u64 + 1 {
            for limit in [1, 3, 100] {
                let source = JsonLinesSource::<Event>::new([&path]).split_size(split_size);
                let (mut values, dead) = run(&source, parallelism, limit)?;
                assert_eq!(dead, vec![]);
                values.sort_by_key(|e| e.ts);
                assert_eq!(
                    values,
                    expected_events(),
                    "parallelism {parallelism}, split size {split_size}, limit {limit}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn dead_letters_name_the_field_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bad.jsonl");
    let lines = [
        r#"{"id":"a","ts":1}"#,
        r#"{"id":"b","ts":"x"}"#,
        r#"{"id":"c","ts":3,"tags":[1,"two"]}"#,
        r#"{"id":"d","ts":4,"place":{"lat":1.0,"lon":null}}"#,
        r#"{"id":"e"}"#,
        r#"{"id":"f","ts": }"#,
        r#"{"id":"g","ts":7} trailing"#,
        r#"{"id":"h","ts":8"#,
        r#""text""#,
        r#"[1,2]"#,
        r#"{"id":"i","ts":9}"#,
    ];
    let data = lines.join("\n");
    fs::write(&path, &data)?;
    let expected_dead = vec![
        letter(
            &path,
            2,
            lines[1],
            "field 'ts': invalid type: string \"x\", expected i64",
        ),
        letter(
            &path,
            3,
            lines[2],
            "field 'tags[1]': invalid type: string \"two\", expected u32",
        ),
        letter(
            &path,
            4,
            lines[3],
            "field 'place.lon': invalid type: null, expected f64",
        ),
        letter(&path, 5, lines[4], "missing field `ts`"),
        letter(&path, 6, lines[5], "field 'ts': expected value (column 17)"),
        letter(&path, 7, lines[6], "trailing characters (column 19)"),
        letter(
            &path,
            8,
            lines[7],
            "EOF while parsing an object (column 16)",
        ),
        letter(
            &path,
            9,
            lines[8],
            "invalid type: string \"text\", expected struct Event",
        ),
        letter(
            &path,
            10,
            lines[9],
            "field '[0]': invalid type: integer `1`, expected a string",
        ),
    ];
    for parallelism in 1..=3 {
        for split_size in 1..=data.len() as u64 + 1 {
            let source = JsonLinesSource::<Event>::new([&path]).split_size(split_size);
            let (mut values, dead) = run(&source, parallelism, 2)?;
            assert_eq!(
                dead, expected_dead,
                "parallelism {parallelism}, split size {split_size}"
            );
            values.sort_by_key(|e| e.ts);
            assert_eq!(
                values,
                vec![event("a", 1, &[], None), event("i", 9, &[], None)]
            );
        }
    }
    Ok(())
}

#[test]
fn with_lines_keeps_the_original_text() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("events.jsonl");
    fs::write(&path, EVENTS)?;
    let source = JsonLinesSource::<Event>::new([&path])
        .split_size(10)
        .with_lines();
    let (mut values, dead): (Vec<WithLine<Event>>, _) = run(&source, 3, 2)?;
    assert_eq!(dead, vec![]);
    values.sort_by_key(|w| w.value.ts);
    let lines: Vec<&str> = values.iter().map(|w| w.line.as_str()).collect();
    let expected: Vec<&str> = EVENTS.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines, expected);
    Ok(())
}

#[test]
fn directories_and_resumption() -> TestResult {
    let dir = tempfile::tempdir()?;
    for f in 0..3 {
        let mut data = String::new();
        for i in 0..15 {
            data.push_str(&format!("{{\"id\":\"f{f}\",\"ts\":{}}}\n", f * 100 + i));
        }
        fs::write(dir.path().join(format!("part-{f}.jsonl")), data)?;
    }
    fs::write(dir.path().join(".part-3.jsonl.crc"), "not json\n")?;
    for parallelism in 1..=3 {
        for split_size in [1, 20, 64, 1000] {
            let source = JsonLinesSource::<Event>::new([dir.path()]).split_size(split_size);
            let (all, dead) = run(&source, parallelism, 1000)?;
            assert_eq!(dead, vec![]);
            let mut ts: Vec<i64> = all.iter().map(|e| e.ts).collect();
            ts.sort_unstable();
            let expected: Vec<i64> = (0..3)
                .flat_map(|f| (0..15).map(move |i| f * 100 + i))
                .collect();
            assert_eq!(ts, expected);

            let splits = source.splits(parallelism)?;
            let mut values = Vec::new();
            let mut dead = Vec::new();
            for subtask in 0..parallelism {
                let mut reader = source.create_reader(
                    &ctx(subtask, parallelism),
                    assigned(&splits, subtask, parallelism),
                )?;
                let mut records = Vec::new();
                reader.poll_next(&mut SourceOutput::new(&mut records, &mut dead, 4))?;
                values.extend(records.into_iter().map(|r| r.value));
                let json = serde_json::to_vec(&reader.snapshot_splits())?;
                let restored: Vec<FileSplit> = serde_json::from_slice(&json)?;
                let mut resumed = source.create_reader(&ctx(subtask, parallelism), restored)?;
                drain(&mut resumed, 5, &mut values, &mut dead)?;
            }
            assert_eq!(
                values, all,
                "parallelism {parallelism}, split size {split_size}"
            );
        }
    }
    Ok(())
}
