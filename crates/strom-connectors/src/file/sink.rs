//! File sinks writing one record per line: [`CsvSink`], [`JsonLinesSink`] and
//! [`TextLinesSink`].
//!
//! # Without checkpointing
//!
//! With parallelism 1 a sink writes exactly the file at the configured path (parent
//! directories are created); with parallelism `p > 1` the path is a directory and subtask `i`
//! writes `path/part-{i}.csv` (or `.jsonl`, `.txt`). Existing files are truncated. Writes are
//! buffered; [`flush`](SinkWriter::flush) hands the buffer to the operating system and
//! [`finish`](SinkWriter::finish) flushes and closes the file.
//!
//! # With checkpointing: exactly once
//!
//! When the job takes checkpoints ([`SinkContext::checkpointing`]) the sinks write
//! exactly once with a two-phase commit, as Flink's `FileSink` does: the path is always a
//! directory (whatever the parallelism) of part files `part-<subtask>-<n>.<ext>`, e.g.
//! `part-0-00003.csv`. Records go to a hidden in-progress file (`.part-0-00003.csv.inprogress`)
//! that is closed and pre-committed at each checkpoint and renamed to its visible name when the
//! checkpoint completes; after a failure, the records written since the last completed
//! checkpoint stay in hidden in-progress files that are never committed. Every part file of a
//! [`CsvSink`] with a header starts with the header. See [`parts`](super::parts) for the
//! naming and recovery rules. The visible part files of a directory are what the job wrote up
//! to its last completed checkpoint, each record once.
//!
//! Every error names the file.
//!
//! Any `Serialize` type can be written, including
//! [`DeadLetter`](strom_core::DeadLetter): a `JsonLinesSink` makes a dead-letter file.

use super::parts::PartFiles;
use super::split::io_error;
use serde::Serialize;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use strom_core::checkpoint::{CheckpointId, RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{BoxError, Sink, SinkContext, SinkWriter, TaskInfo, Timestamp};

/// The size of a file sink's write buffer (256 KiB).
pub const WRITE_BUFFER_SIZE: usize = 256 << 10;

/// The file a sink subtask writes without checkpointing: `base` itself at parallelism 1,
/// else `base/part-{subtask}.{extension}`.
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

/// How a sink formats a file: the buffered writer it puts over each file.
trait FileFormat: Send {
    /// The buffered writer.
    type Writer: Send;

    /// A writer over a new, empty `file`.
    fn wrap(&self, file: File) -> Self::Writer;

    /// Hand the buffered bytes to the operating system.
    fn flush(writer: &mut Self::Writer) -> io::Result<()>;

    /// Flush and give the file back.
    fn into_file(writer: Self::Writer) -> io::Result<File>;
}

/// Where a sink subtask writes: one file, or part files committed at checkpoints.
struct Output<F: FileFormat> {
    format: F,
    /// The file (without checkpointing) or the directory of part files.
    path: PathBuf,
    /// The open file's writer.
    writer: Option<F::Writer>,
    /// The part files, with checkpointing.
    parts: Option<PartFiles>,
    finished: bool,
}

impl<F: FileFormat> Output<F> {
    /// The output of a subtask: part files in `base` with checkpointing, else the file
    /// [`part_path`] (created now, truncated).
    fn create(
        format: F,
        base: &Path,
        ctx: &SinkContext,
        extension: &str,
    ) -> Result<Self, BoxError> {
        if ctx.checkpointing {
            let parts = PartFiles::create(base, ctx.info.subtask, extension)?;
            return Ok(Output {
                format,
                path: base.to_path_buf(),
                writer: None,
                parts: Some(parts),
                finished: false,
            });
        }
        let path = part_path(base, &ctx.info, extension);
        let file = create_file(&path)?;
        Ok(Output {
            writer: Some(format.wrap(file)),
            format,
            path,
            parts: None,
            finished: false,
        })
    }

    /// The file being written (the configured one, or the open in-progress file), else the
    /// directory of part files.
    fn file(&self) -> &Path {
        self.parts
            .as_ref()
            .and_then(PartFiles::current)
            .unwrap_or(&self.path)
    }

    /// The writer of the open file, opening the next part file when none is open; and the
    /// file's path, for messages.
    fn writer(&mut self) -> Result<(&mut F::Writer, &Path), BoxError> {
        if self.finished {
            return Err(finished_error(self.file()));
        }
        if self.writer.is_none()
            && let Some(parts) = self.parts.as_mut()
        {
            let file = parts.open_next()?;
            self.writer = Some(self.format.wrap(file));
        }
        let path = self
            .parts
            .as_ref()
            .and_then(PartFiles::current)
            .unwrap_or(&self.path);
        match self.writer.as_mut() {
            Some(writer) => Ok((writer, path)),
            None => Err(finished_error(path)),
        }
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        let path = self
            .parts
            .as_ref()
            .and_then(PartFiles::current)
            .unwrap_or(&self.path);
        match self.writer.as_mut() {
            Some(writer) => F::flush(writer).map_err(|e| io_error("cannot write to", path, &e)),
            None => Ok(()),
        }
    }

    /// Flush and close the open file; with checkpointing also `fsync` it and keep it for the
    /// next checkpoint.
    fn close(&mut self) -> Result<(), BoxError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let file =
            F::into_file(writer).map_err(|e| io_error("cannot write to", self.file(), &e))?;
        match self.parts.as_mut() {
            Some(parts) => parts.close_current(file),
            None => {
                drop(file);
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if self.finished {
            return Ok(());
        }
        self.close()?;
        self.finished = true;
        Ok(())
    }

    fn initialize_state(&mut self, state: &RestoredState) -> Result<(), BoxError> {
        match self.parts.as_mut() {
            Some(parts) => parts.restore(state),
            None => Ok(()),
        }
    }

    fn snapshot_state(
        &mut self,
        ctx: &SnapshotContext,
        out: &mut StateSnapshot,
    ) -> Result<(), BoxError> {
        if self.parts.is_none() {
            return Ok(());
        }
        self.close()?;
        match self.parts.as_mut() {
            Some(parts) => parts.snapshot(ctx, out),
            None => Ok(()),
        }
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<(), BoxError> {
        match self.parts.as_mut() {
            Some(parts) => parts.commit_up_to(id),
            None => Ok(()),
        }
    }

    fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("path", &self.path)
            .field("open", &self.writer.is_some())
            .field(
                "in_progress",
                &self.parts.as_ref().and_then(PartFiles::current),
            )
            .field(
                "pending",
                &self.parts.as_ref().map_or(0, |p| p.pending().len()),
            )
            .finish()
    }
}

/// Writes records as CSV lines, without a header unless asked for.
#[derive(Clone, Debug)]
pub struct CsvSink {
    path: PathBuf,
    header: bool,
    delimiter: u8,
}

impl CsvSink {
    /// A sink writing to `path`: a file at parallelism 1, else a directory of part files;
    /// always a directory of part files when the job takes checkpoints.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CsvSink {
            path: path.into(),
            header: false,
            delimiter: b',',
        }
    }

    /// Whether each file starts with a header line of field names (default `false`). The
    /// header is taken from the first record written (struct field names), so a file that
    /// receives no record stays empty. With checkpointing, every part file starts with the
    /// header.
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

/// The CSV format of a [`CsvSink`].
struct CsvFormat {
    header: bool,
    delimiter: u8,
}

impl FileFormat for CsvFormat {
    type Writer = csv::Writer<File>;

    fn wrap(&self, file: File) -> csv::Writer<File> {
        csv::WriterBuilder::new()
            .has_headers(self.header)
            .delimiter(self.delimiter)
            .buffer_capacity(WRITE_BUFFER_SIZE)
            .from_writer(file)
    }

    fn flush(writer: &mut csv::Writer<File>) -> io::Result<()> {
        writer.flush()
    }

    fn into_file(writer: csv::Writer<File>) -> io::Result<File> {
        writer.into_inner().map_err(csv::IntoInnerError::into_error)
    }
}

impl<T: Serialize + Send + 'static> Sink<T> for CsvSink {
    type Writer = CsvSinkWriter<T>;

    fn create_writer(&self, ctx: &SinkContext) -> Result<CsvSinkWriter<T>, BoxError> {
        let format = CsvFormat {
            header: self.header,
            delimiter: self.delimiter,
        };
        Ok(CsvSinkWriter {
            output: Output::create(format, &self.path, ctx, "csv")?,
            _type: PhantomData,
        })
    }
}

/// One subtask's CSV file, or its part files with checkpointing.
pub struct CsvSinkWriter<T> {
    output: Output<CsvFormat>,
    _type: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for CsvSinkWriter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.output.debug("CsvSinkWriter", f)
    }
}

impl<T> CsvSinkWriter<T> {
    /// The file this writer writes; with checkpointing, the directory of part files.
    pub fn path(&self) -> &Path {
        &self.output.path
    }
}

impl<T: Serialize> SinkWriter<T> for CsvSinkWriter<T> {
    fn write(&mut self, value: T, _timestamp: Timestamp) -> Result<(), BoxError> {
        let (writer, path) = self.output.writer()?;
        writer
            .serialize(value)
            .map_err(|e| -> BoxError { format!("cannot write to {}: {e}", path.display()).into() })
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.output.flush()
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        self.output.finish()
    }

    fn initialize_state(&mut self, state: &RestoredState) -> Result<(), BoxError> {
        self.output.initialize_state(state)
    }

    fn snapshot_state(
        &mut self,
        ctx: &SnapshotContext,
        out: &mut StateSnapshot,
    ) -> Result<(), BoxError> {
        self.output.snapshot_state(ctx, out)
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<(), BoxError> {
        self.output.notify_checkpoint_complete(id)
    }
}

/// Writes records as JSON lines: one JSON value per line.
#[derive(Clone, Debug)]
pub struct JsonLinesSink {
    path: PathBuf,
}

impl JsonLinesSink {
    /// A sink writing to `path`: a file at parallelism 1, else a directory of part files;
    /// always a directory of part files when the job takes checkpoints.
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
        LineFileWriter::create(&self.path, ctx, "jsonl")
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

/// The line format of a [`LineFileWriter`]: a plain write buffer.
struct LineFormat;

impl FileFormat for LineFormat {
    type Writer = BufWriter<File>;

    fn wrap(&self, file: File) -> BufWriter<File> {
        BufWriter::with_capacity(WRITE_BUFFER_SIZE, file)
    }

    fn flush(writer: &mut BufWriter<File>) -> io::Result<()> {
        writer.flush()
    }

    fn into_file(writer: BufWriter<File>) -> io::Result<File> {
        writer.into_inner().map_err(io::IntoInnerError::into_error)
    }
}

/// One subtask's file of lines (or its part files with checkpointing), each line a record
/// encoded by `E`.
pub struct LineFileWriter<T, E> {
    output: Output<LineFormat>,
    _type: PhantomData<fn(T, E)>,
}

/// One subtask's JSON-lines file.
pub type JsonLinesSinkWriter<T> = LineFileWriter<T, JsonLine>;

/// One subtask's text file.
pub type TextLinesSinkWriter<T> = LineFileWriter<T, TextLine>;

impl<T, E> LineFileWriter<T, E> {
    fn create(base: &Path, ctx: &SinkContext, extension: &str) -> Result<Self, BoxError> {
        Ok(LineFileWriter {
            output: Output::create(LineFormat, base, ctx, extension)?,
            _type: PhantomData,
        })
    }

    /// The file this writer writes; with checkpointing, the directory of part files.
    pub fn path(&self) -> &Path {
        &self.output.path
    }
}

impl<T, E> std::fmt::Debug for LineFileWriter<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.output.debug("LineFileWriter", f)
    }
}

impl<T, E: LineEncoder<T>> SinkWriter<T> for LineFileWriter<T, E> {
    fn write(&mut self, value: T, _timestamp: Timestamp) -> Result<(), BoxError> {
        let (writer, path) = self.output.writer()?;
        E::encode(writer, &value)
            .map_err(|e| format!("cannot write to {}: {e}", path.display()))?;
        writer
            .write_all(b"\n")
            .map_err(|e| io_error("cannot write to", path, &e))
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.output.flush()
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        self.output.finish()
    }

    fn initialize_state(&mut self, state: &RestoredState) -> Result<(), BoxError> {
        self.output.initialize_state(state)
    }

    fn snapshot_state(
        &mut self,
        ctx: &SnapshotContext,
        out: &mut StateSnapshot,
    ) -> Result<(), BoxError> {
        self.output.snapshot_state(ctx, out)
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<(), BoxError> {
        self.output.notify_checkpoint_complete(id)
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
    /// A sink writing to `path`: a file at parallelism 1, else a directory of part files
    /// named `part-{i}.txt`; always a directory of part files when the job takes
    /// checkpoints.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TextLinesSink {
            path: path.into(),
            extension: "txt".to_owned(),
        }
    }

    /// The extension of part files (default `txt`), e.g. `csv` when the lines are CSV.
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
        LineFileWriter::create(&self.path, ctx, &self.extension)
    }
}
