//! Tests of byte-range splitting and the line reader: every line of a file is read exactly
//! once, with the right number, wherever the splits are cut and whatever the buffer size.

use std::fs;
use std::path::{Path, PathBuf};
use strom_connectors::file::split::{
    self, FileSplit, LineReader, auto_split_size, list_files, plan_splits,
};
use strom_core::BoxError;

type TestResult = Result<(), BoxError>;

/// The lines of `data` as the reader should see them: split at '\n', a trailing '\r'
/// stripped, no line after a final '\n', numbered from 1.
fn reference_lines(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut pieces: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if data.ends_with(b"\n") {
        pieces.pop();
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix(b"\r").unwrap_or(l).to_vec()))
        .collect()
}

/// Read all splits of `paths` with `split_size` and a reader buffer of `capacity` bytes.
fn read_splits(
    paths: &[PathBuf],
    split_size: u64,
    capacity: usize,
) -> Result<Vec<(PathBuf, u64, Vec<u8>)>, BoxError> {
    let mut lines = Vec::new();
    for split in plan_splits(paths, 1, Some(split_size))? {
        assert!(split.end - split.start <= split_size);
        let path = split.path.clone();
        let mut reader = LineReader::open_with_capacity(split, Vec::new(), capacity)?;
        while let Some((n, line)) = reader.next_line()? {
            lines.push((path.clone(), n, line.to_vec()));
        }
        assert!(reader.is_done());
    }
    Ok(lines)
}

const SAMPLES: &[&[u8]] = &[
    b"",
    b"\n",
    b"\n\n\n",
    b"a",
    b"a\n",
    b"a\r\n",
    b"\r\n\r\n",
    b"one\ntwo\nthree",
    b"one\ntwo\nthree\n",
    b"alpha,1\r\nbeta,2\r\n\r\ngamma,3\r\ndelta",
    b"x\n\nyy\n\n\nzzz\nwwww\n",
    b"a very long first line that is longer than the buffer\nb\nanother long line, again longer than tiny buffers\n",
    b"\xEF\xBB\xBFbom,line\nsecond\n",
];

#[test]
fn every_line_read_exactly_once_for_all_split_sizes_and_buffers() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (i, data) in SAMPLES.iter().enumerate() {
        let path = dir.path().join(format!("sample-{i}.txt"));
        fs::write(&path, data)?;
        let expected: Vec<_> = reference_lines(data)
            .into_iter()
            .map(|(n, l)| (path.clone(), n, l))
            .collect();
        for split_size in 1..=data.len() as u64 + 2 {
            for capacity in [1, 2, 5, 64, split::READ_BUFFER_SIZE] {
                let got = read_splits(std::slice::from_ref(&path), split_size, capacity)?;
                assert_eq!(
                    got,
                    expected,
                    "sample {i} {:?}, split size {split_size}, buffer {capacity}",
                    String::from_utf8_lossy(data)
                );
            }
        }
    }
    Ok(())
}

/// A deterministic pseudo-random generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_contents_every_line_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..40 {
        let len = (rng.next() % 300) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| match rng.next() % 10 {
                0 | 1 => b'\n',
                2 => b'\r',
                n => b'a' + n as u8,
            })
            .collect();
        let path = dir.path().join(format!("random-{case}.txt"));
        fs::write(&path, &data)?;
        let expected: Vec<_> = reference_lines(&data)
            .into_iter()
            .map(|(n, l)| (path.clone(), n, l))
            .collect();
        for split_size in [1, 2, 3, 7, 16, 50, 299, 1000] {
            for capacity in [3, 4096] {
                let got = read_splits(std::slice::from_ref(&path), split_size, capacity)?;
                assert_eq!(
                    got, expected,
                    "case {case}, split size {split_size}, buffer {capacity}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn directories_list_regular_files_sorted_skipping_hidden() -> TestResult {
    let dir = tempfile::tempdir()?;
    fs::write(dir.path().join("b.csv"), "b1\nb2\n")?;
    fs::write(dir.path().join("a.csv"), "a1\na2")?;
    fs::write(dir.path().join("c.csv"), "")?;
    fs::write(dir.path().join(".hidden"), "h\n")?;
    fs::write(dir.path().join("_SUCCESS"), "s\n")?;
    fs::create_dir(dir.path().join("sub"))?;
    fs::write(dir.path().join("sub").join("nested.csv"), "n\n")?;
    let extra = tempfile::NamedTempFile::new()?;
    fs::write(extra.path(), "e\n")?;

    let paths = vec![dir.path().to_path_buf(), extra.path().to_path_buf()];
    let files = list_files(&paths)?;
    let expected = vec![
        (dir.path().join("a.csv"), 5),
        (dir.path().join("b.csv"), 6),
        (dir.path().join("c.csv"), 0),
        (extra.path().to_path_buf(), 2),
    ];
    assert_eq!(files, expected);

    for split_size in 1..=8 {
        let lines: Vec<(String, u64, String)> = read_splits(&paths, split_size, 4)?
            .into_iter()
            .map(|(p, n, l)| (file_name(&p), n, String::from_utf8_lossy(&l).into_owned()))
            .collect();
        let extra_name = file_name(extra.path());
        let expected = vec![
            ("a.csv".to_owned(), 1, "a1".to_owned()),
            ("a.csv".to_owned(), 2, "a2".to_owned()),
            ("b.csv".to_owned(), 1, "b1".to_owned()),
            ("b.csv".to_owned(), 2, "b2".to_owned()),
            (extra_name, 1, "e".to_owned()),
        ];
        assert_eq!(lines, expected, "split size {split_size}");
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn plan_cuts_files_into_ranges_and_skips_empty_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = dir.path().join("a.txt");
    let b = dir.path().join("b.txt");
    let empty = dir.path().join("empty.txt");
    fs::write(&a, vec![b'x'; 250])?;
    fs::write(&b, vec![b'y'; 100])?;
    fs::write(&empty, "")?;
    let splits = plan_splits(&[a.clone(), empty, b.clone()], 4, Some(100))?;
    let ranges: Vec<_> = splits
        .iter()
        .map(|s| (s.path.clone(), s.start, s.end))
        .collect();
    assert_eq!(
        ranges,
        vec![
            (a.clone(), 0, 100),
            (a.clone(), 100, 200),
            (a, 200, 250),
            (b, 0, 100)
        ]
    );
    // Three splits of a file: the readers position them.
    assert_eq!(splits[0].line, Some(1));
    assert_eq!(splits[1].line, None);
    assert_eq!(splits[1].offset, 100);

    // Four or more: positioned in one pass while planning.
    let lines = dir.path().join("lines.txt");
    fs::write(&lines, "aaaa\nbb\ncccccccc\nd\n")?;
    let splits = plan_splits(std::slice::from_ref(&lines), 1, Some(5))?;
    let positions: Vec<_> = splits
        .iter()
        .map(|s| (s.start, s.end, s.offset, s.line))
        .collect();
    assert_eq!(
        positions,
        vec![
            (0, 5, 0, Some(1)),
            (5, 10, 5, Some(2)),
            (10, 15, 17, Some(4)),
            (15, 19, 17, Some(4)),
        ]
    );
    assert!(splits[2].is_finished());
    Ok(())
}

#[test]
fn automatic_split_size_is_clamped() {
    assert_eq!(auto_split_size(0, 4), 1 << 20);
    assert_eq!(auto_split_size(10 << 20, 2), 5 << 20);
    assert_eq!(auto_split_size(10 << 20, 3), (10_u64 << 20).div_ceil(3));
    assert_eq!(auto_split_size(1 << 40, 4), 64 << 20);
    assert_eq!(auto_split_size(1 << 20, 0), 1 << 20);
}

#[test]
fn missing_path_error_names_it() {
    let missing = PathBuf::from("/definitely/not/here.csv");
    let err = plan_splits(std::slice::from_ref(&missing), 1, None)
        .err()
        .map(|e| e.to_string());
    let msg = err.unwrap_or_default();
    assert!(msg.contains("/definitely/not/here.csv"), "{msg}");

    let opened = LineReader::open(FileSplit::new(&missing, 0, 10))
        .err()
        .map(|e| e.to_string());
    let msg = opened.unwrap_or_default();
    assert!(
        msg.contains("cannot open /definitely/not/here.csv"),
        "{msg}"
    );
}

#[test]
fn position_resumes_exactly() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("lines.txt");
    let data = b"l1\nl2\r\n\nl4\nl5 is longer\nl6";
    fs::write(&path, data)?;
    let expected = reference_lines(data);
    for split_size in 1..=data.len() as u64 {
        for stop_after in 0..=expected.len() {
            let mut got = Vec::new();
            for split in plan_splits(std::slice::from_ref(&path), 1, Some(split_size))? {
                // Read up to `stop_after` lines, take the position, resume from a
                // serialized copy of it.
                let mut reader = LineReader::open_with_capacity(split, Vec::new(), 2)?;
                let mut taken = 0;
                while taken < stop_after {
                    match reader.next_line()? {
                        Some((n, l)) => got.push((n, l.to_vec())),
                        None => break,
                    }
                    taken += 1;
                }
                let position = reader.position();
                let json = serde_json::to_string(&position)?;
                let resumed: FileSplit = serde_json::from_str(&json)?;
                assert_eq!(resumed, position);
                let mut reader = LineReader::open(resumed)?;
                while let Some((n, l)) = reader.next_line()? {
                    got.push((n, l.to_vec()));
                }
            }
            assert_eq!(
                got, expected,
                "split size {split_size}, stop after {stop_after}"
            );
        }
    }
    Ok(())
}
