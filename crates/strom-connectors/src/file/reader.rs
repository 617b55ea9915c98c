//! The reader shared by the line-based file sources: it walks a subtask's
//! [`FileSplit`]s line by line and hands each line to a [`LineParser`] (CSV, JSON lines),
//! emitting parsed values and routing malformed lines to dead letters.
//!
//! What a source emits per line is chosen by an [`Emit`] mode: [`ValuesOnly`] emits the
//! parsed value, [`KeepLines`] emits a [`WithLine`]: the value next to the original text of
//! its line.

use super::split::{FileSplit, LineReader};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::path::Path;
use strom_core::{BoxError, DeadLetter, ReadStatus, SourceOutput, SourceReader};

/// Turns one line of a file into a value.
///
/// Implemented by the CSV and JSON-lines parsers; implement it to read another line-based
/// format with [`FileReader`].
pub trait LineParser<T>: Send {
    /// A split of `path` is about to be read (e.g. read the file's header line).
    fn start_file(&mut self, path: &Path) -> Result<(), BoxError>;

    /// Parse line number `line_no` (1-based) of the current file. `Ok(None)` skips the line
    /// (an empty line, a header); `Err` carries the reason it is malformed, naming the
    /// field, and turns the line into a dead letter.
    fn parse_line(&mut self, line: &[u8], line_no: u64) -> Result<Option<T>, String>;
}

/// What a file source emits for each parsed line: see [`ValuesOnly`] and [`KeepLines`].
pub trait Emit<T>: Send + Sync + 'static {
    /// The emitted record type.
    type Output: Send + 'static;

    /// The record for `value`, parsed from `line`.
    fn emit(value: T, line: &[u8]) -> Self::Output;
}

/// Emit mode: the parsed value alone (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValuesOnly;

/// Emit mode: the parsed value with the original text of its line, as a [`WithLine`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepLines;

impl<T: Send + 'static> Emit<T> for ValuesOnly {
    type Output = T;

    #[inline]
    fn emit(value: T, _line: &[u8]) -> T {
        value
    }
}

impl<T: Send + 'static> Emit<T> for KeepLines {
    type Output = WithLine<T>;

    #[inline]
    fn emit(value: T, line: &[u8]) -> WithLine<T> {
        WithLine {
            value,
            line: match std::str::from_utf8(line) {
                Ok(text) => strom_core::CompactString::new(text),
                Err(_) => strom_core::CompactString::from(String::from_utf8_lossy(line)),
            },
        }
    }
}

/// A parsed value next to the exact text of the line it was read from (without the line
/// terminator), e.g. to write a record back exactly as it was read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WithLine<T> {
    /// The parsed value.
    pub value: T,
    /// The original line (invalid UTF-8 replaced by U+FFFD); stored inline, without an
    /// allocation, up to 24 bytes.
    pub line: strom_core::CompactString,
}

/// The original line, so that a [`TextLinesSink`](super::TextLinesSink) writes it back
/// verbatim.
impl<T> AsRef<str> for WithLine<T> {
    fn as_ref(&self) -> &str {
        &self.line
    }
}

/// The most lines a poll looks at beyond the records it may emit, so that a run of empty or
/// malformed lines cannot keep one poll busy for long.
const EXTRA_LINES_PER_POLL: usize = 4096;

/// Reads the splits assigned to one subtask of a line-based file source.
pub struct FileReader<T, P, M> {
    parser: P,
    pending: VecDeque<FileSplit>,
    current: Option<Open>,
    spare_buffer: Vec<u8>,
    _types: PhantomData<fn() -> (T, M)>,
}

/// The split being read.
struct Open {
    lines: LineReader,
    /// The path as shown in dead letters.
    display: String,
    /// Identifies the split for per-split watermarks (path and start offset).
    split_id: u64,
}

impl<T, P, M> FileReader<T, P, M> {
    /// A reader of `splits` (read in order) with `parser`.
    pub fn new(parser: P, splits: Vec<FileSplit>) -> Self {
        FileReader {
            parser,
            pending: splits.into(),
            current: None,
            spare_buffer: Vec::new(),
            _types: PhantomData,
        }
    }
}

/// A stable id of a split: FNV-1a over its path and start offset.
pub fn split_id(split: &FileSplit) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in split
        .path
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .chain(&split.start.to_le_bytes())
    {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl<T, P, M> FileReader<T, P, M>
where
    P: LineParser<T>,
{
    /// Open the next pending split, if any; `false` when none is left.
    fn open_next(&mut self) -> Result<bool, BoxError> {
        while let Some(split) = self.pending.front() {
            if split.is_finished() {
                self.pending.pop_front();
                continue;
            }
            let split_id = split_id(split);
            let lines = LineReader::open_with_buffer(
                split.clone(),
                std::mem::take(&mut self.spare_buffer),
            )?;
            self.parser.start_file(lines.path())?;
            self.pending.pop_front();
            let display = lines.path().display().to_string();
            self.current = Some(Open {
                lines,
                display,
                split_id,
            });
            return Ok(true);
        }
        Ok(false)
    }
}

impl<T, P, M> SourceReader<M::Output> for FileReader<T, P, M>
where
    P: LineParser<T>,
    M: Emit<T>,
{
    type Split = FileSplit;

    fn poll_next(&mut self, out: &mut SourceOutput<'_, M::Output>) -> Result<ReadStatus, BoxError> {
        let mut budget = out.remaining();
        if budget == 0 {
            return Ok(ReadStatus::MoreAvailable);
        }
        let max_lines = budget.saturating_add(EXTRA_LINES_PER_POLL);
        let mut looked_at = 0usize;
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(ReadStatus::Finished);
            }
            let Some(open) = self.current.as_mut() else {
                continue;
            };
            out.start_split(open.split_id);
            while let Some((line_no, line)) = open.lines.next_line()? {
                looked_at += 1;
                match self.parser.parse_line(line, line_no) {
                    Ok(Some(value)) => {
                        out.collect(M::emit(value, line));
                        budget -= 1;
                    }
                    Ok(None) => {}
                    Err(error) => out.dead_letter(DeadLetter {
                        source: open.display.clone(),
                        line: line_no,
                        raw: String::from_utf8_lossy(line).into_owned(),
                        error,
                    }),
                }
                if budget == 0 || looked_at >= max_lines {
                    return Ok(ReadStatus::MoreAvailable);
                }
            }
            if let Some(done) = self.current.take() {
                out.finish_split(done.split_id);
                self.spare_buffer = done.lines.into_buffer();
            }
        }
    }

    fn snapshot_splits(&self) -> Vec<FileSplit> {
        self.current
            .iter()
            .filter(|open| !open.lines.is_done())
            .map(|open| open.lines.position())
            .filter(|split| !split.is_finished())
            .chain(
                self.pending
                    .iter()
                    .filter(|split| !split.is_finished())
                    .cloned(),
            )
            .collect()
    }
}
