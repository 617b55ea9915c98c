//! File connectors: CSV and JSON-lines sources and sinks.
//!
//! # Sources
//!
//! [`CsvSource`] and [`JsonLinesSource`] are bounded sources over files or directories.
//! Files are cut into byte-range [`FileSplit`]s that are read in parallel, with Hadoop's
//! line ownership rule so that every line is read exactly once (see [`split`]). Each split
//! records its byte offset and line number, so a reader resumes exactly where a snapshot
//! was taken. A malformed line never fails the reader: it becomes a
//! [`DeadLetter`](strom_core::DeadLetter) with the file, the 1-based line number, the raw
//! text and a message naming the field; the runtime decides whether that fails the job.
//!
//! By default a source emits parsed values; `with_lines()` makes it emit [`WithLine`]s,
//! each value next to the exact text of its line.
//!
//! # Sinks
//!
//! [`CsvSink`] and [`JsonLinesSink`] write one record per line to one file (parallelism 1)
//! or to `part-{i}` files in a directory (parallelism > 1); see [`sink`].
//! [`TextLinesSink`] writes text verbatim, e.g. the original lines of [`WithLine`]s.
//! When the job takes checkpoints they write exactly once: part files in a directory,
//! committed by a two-phase commit when a checkpoint completes (see [`parts`]).

pub mod csv;
mod csv_de;
pub mod json;
pub mod lines;
pub mod parts;
pub mod reader;
pub mod sink;
pub mod split;

pub use self::csv::{CsvLineParser, CsvSource};
pub use self::json::{JsonLineParser, JsonLinesSource};
pub use self::lines::LineFileSource;
pub use self::parts::{PENDING_FILES_STATE, PendingFile};
pub use self::reader::{Emit, FileReader, KeepLines, LineParser, ValuesOnly, WithLine};
pub use self::sink::{
    CsvSink, CsvSinkWriter, JsonLine, JsonLinesSink, JsonLinesSinkWriter, LineEncoder,
    LineFileWriter, TextLine, TextLinesSink, TextLinesSinkWriter,
};
pub use self::split::{FileSplit, LineReader};
