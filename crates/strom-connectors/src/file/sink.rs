//! File sinks writing one record per line: [`CsvSink`] and [`JsonLinesSink`].
//!
//! Where they write: with parallelism 1, exactly the file at the configured path (parent
//! directories are created); with parallelism `p > 1` the path is a directory and subtask `i`
//! writes `path/part-{i}.csv` (or `.jsonl`). Existing files are truncated.
//!
//! Writes are buffered; [`flush`](SinkWriter::flush) hands the buffer to the operating
//! system and [`finish`](SinkWriter::finish) flushes and closes the file. Every error names
//! the file.
//!
//! Any `Serialize` type can be written, including
//! [`DeadLetter`](strom_core::DeadLetter): a `JsonLinesSink` makes a dead-letter file.

use super::split::io_error;
use serde::Serialize;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use strom_core::{BoxError, Sink, SinkContext, SinkWriter, TaskInfo, Timestamp};

/// The size of a file sink's write buffer (256 KiB).
pub const WRITE_BUFFER_SIZE: usize = 256 << 10;

/// The file a sink subtask writes: `base` itself at parallelism 1, else
/// `base/part-{subtask}.{extension}`.
pub fn part_path(base: &Path, info: &TaskInfo, extension: &str) -> PathBuf {
    if info.parallelism <= 1 {
        base.to_path_buf()
    } else {
        base.join(format!("part-{}.{extension}", info.subtask))
    }
}

/// Create `path` (and its parent directories) for writing, truncating it.
fn create_file(path: &Path) -> Result<File, BoxError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| io_error("cannot create directory", parent, &e))?;
    }
    File::create(path).map_err(|e| io_error("cannot create", path, &e))
}

/// The error for a write after `finish`.
fn finished_error(path: &Path) -> BoxError {
    format!(
        "cannot write to {}: the sink was already finished",
        path.display()
    )
    .into()
}

/// Writes records as CSV lines, without a header unless asked for.
#[derive(Clone, Debug)]
pub struct CsvSink {
    path: PathBuf,
    header: bool,
    delimiter: u8,
}

impl CsvSink {
    /// A sink writing to `path` (a file at parallelism 1, else a directory of part files).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvSink {
            path: path.into(),
            header: false,
            delimiter: b',',
        }
    }

    /// Whether each file starts with a header line of field names (default `false`). The
    /// header is taken from the first record written (struct field names), so a file that
    /// receives no record stays empty.
    pub fn with_header(mut self, header: bool) -> Self {
        self.header = header;
        self
    }

    /// The field delimiter (default `b','`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The configured path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<T: Serialize + Send + 'static> Sink<T> for CsvSink {
    type Writer = CsvSinkWriter<T>;

    fn create_writer(&self, ctx: &SinkContext) -> Result<CsvSinkWriter<T>, BoxError> {
        let path = part_path(&self.path, &ctx.info, "csv");
        let file = create_file(&path)?;
        let writer = csv::WriterBuilder::new()
            .has_headers(self.header)
            .delimiter(self.delimiter)
            .buffer_capacity(WRITE_BUFFER_SIZE)
            .from_writer(file);
        Ok(CsvSinkWriter {
            _type: PhantomData,
            path,
            writer: Some(writer),
        })
    }
}

/// One subtask's CSV file.
pub struct CsvSinkWriter<T> {
    path: PathBuf,
    writer: Option<csv::Writer<File>>,
    _type: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for CsvSinkWriter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvSinkWriter")
            .field("path", &self.path)
            .field("open", &self.writer.is_some())
            .finish()
    }
}

impl<T> CsvSinkWriter<T> {
    /// The file this writer writes.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<T: Serialize> SinkWriter<T> for CsvSinkWriter<T> {
    fn write(&mut self, value: T, _timestamp: Timestamp) -> Result<(), BoxError> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| finished_error(&self.path))?;
        writer.serialize(value).map_err(|e| -> BoxError {
            format!("cannot write to {}: {e}", self.path.display()).into()
        })
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        match self.writer.as_mut() {
            Some(writer) => writer
                .flush()
                .map_err(|e| io_error("cannot write to", &self.path, &e)),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let file = writer
            .into_inner()
            .map_err(|e| io_error("cannot write to", &self.path, e.error()))?;
        drop(file);
        Ok(())
    }
}

/// Writes records as JSON lines: one JSON value per line.
#[derive(Clone, Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
}

impl JsonLinesSink {
    /// A sink writing to `path` (a file at parallelism 1, else a directory of part files).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonLinesSink { path: path.into() }
    }

    /// The configured path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<T: Serialize + Send + 'static> Sink<T> for JsonLinesSink {
    type Writer = JsonLinesSinkWriter<T>;

    fn create_writer(&self, ctx: &SinkContext) -> Result<JsonLinesSinkWriter<T>, BoxError> {
        LineFileWriter::create(part_path(&self.path, &ctx.info, "jsonl"))
    }
}

/// How a [`LineFileWriter`] turns one record into one line (without the newline).
pub trait LineEncoder<T>: Send {
    /// Append `value`'s line to `out`.
    fn encode(out: &mut BufWriter<File>, value: &T) -> Result<(), String>;
}

/// Encodes records as JSON.
#[derive(Debug)]
pub struct JsonLine;

impl<T: Serialize> LineEncoder<T> for JsonLine {
    fn encode(out: &mut BufWriter<File>, value: &T) -> Result<(), String> {
        serde_json::to_writer(&mut *out, value).map_err(|e| e.to_string())
    }
}

/// Writes text records verbatim.
#[derive(Debug)]
pub struct TextLine;

impl<T: AsRef<str>> LineEncoder<T> for TextLine {
    fn encode(out: &mut BufWriter<File>, value: &T) -> Result<(), String> {
        out.write_all(value.as_ref().as_bytes())
            .map_err(|e| e.to_string())
    }
}

/// One subtask's file of lines, each a record encoded by `E`.
pub struct LineFileWriter<T, E> {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    _type: PhantomData<fn(T, E)>,
}

/// One subtask's JSON-lines file.
pub type JsonLinesSinkWriter<T> = LineFileWriter<T, JsonLine>;

/// One subtask's text file.
pub type TextLinesSinkWriter<T> = LineFileWriter<T, TextLine>;

impl<T, E> LineFileWriter<T, E> {
    fn create(path: PathBuf) -> Result<Self, BoxError> {
        let file = create_file(&path)?;
        Ok(LineFileWriter {
            path,
            writer: Some(BufWriter::with_capacity(WRITE_BUFFER_SIZE, file)),
            _type: PhantomData,
        })
    }

    /// The file this writer writes.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<T, E> std::fmt::Debug for LineFileWriter<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineFileWriter")
            .field("path", &self.path)
            .field("open", &self.writer.is_some())
            .finish()
    }
}

impl<T, E: LineEncoder<T>> SinkWriter<T> for LineFileWriter<T, E> {
    fn write(&mut self, value: T, _timestamp: Timestamp) -> Result<(), BoxError> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| finished_error(&self.path))?;
        E::encode(writer, &value)
            .map_err(|e| format!("cannot write to {}: {e}", self.path.display()))?;
        writer
            .write_all(b"\n")
            .map_err(|e| io_error("cannot write to", &self.path, &e))
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        match self.writer.as_mut() {
            Some(writer) => writer
                .flush()
                .map_err(|e| io_error("cannot write to", &self.path, &e)),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let file = writer
            .into_inner()
            .map_err(|e| io_error("cannot write to", &self.path, e.error()))?;
        drop(file);
        Ok(())
    }
}

/// Writes text records verbatim, one per line (a `'\n'` is appended to each).
///
/// Any `T: AsRef<str>` can be written, `String` or [`WithLine`](super::WithLine) (whose
/// `as_ref` is the original line), so records read by a file source can be written back
/// exactly as they were read, e.g. late records: `16.40` stays `16.40`.
#[derive(Clone, Debug)]
pub struct TextLinesSink {
    path: PathBuf,
    extension: String,
}

impl TextLinesSink {
    /// A sink writing to `path` (a file at parallelism 1, else a directory of part files
    /// named `part-{i}.txt`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TextLinesSink {
            path: path.into(),
            extension: "txt".to_owned(),
        }
    }

    /// The extension of part files at parallelism > 1 (default `txt`), e.g. `csv` when the
    /// lines are CSV.
    pub fn part_extension(mut self, extension: impl Into<String>) -> Self {
        self.extension = extension.into();
        self
    }

    /// The configured path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<T: AsRef<str> + Send + 'static> Sink<T> for TextLinesSink {
    type Writer = TextLinesSinkWriter<T>;

    fn create_writer(&self, ctx: &SinkContext) -> Result<TextLinesSinkWriter<T>, BoxError> {
        LineFileWriter::create(part_path(&self.path, &ctx.info, &self.extension))
    }
}
