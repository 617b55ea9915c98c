//! A bounded source of JSON-lines files: one JSON value per line, deserialized with serde.
//!
//! Files are read in parallel by byte-range splits (see [`super::split`]). A line that does
//! not deserialize becomes a [`DeadLetter`](strom_core::DeadLetter) whose message names the
//! path of the offending field (found with `serde_path_to_error`), e.g.
//! `field 'ts': invalid type: string "x", expected i64`, or `field 'readings[2].value': …`
//! for nested data. Blank lines are skipped.

use super::reader::{Emit, FileReader, KeepLines, LineParser, ValuesOnly};
use super::split::{FileSplit, plan_splits};
use serde::de::DeserializeOwned;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use strom_core::{Boundedness, BoxError, Source, SourceContext};

/// Reads JSON-lines files (or directories of them) into values of `T`.
///
/// `M` selects what is emitted per line: [`ValuesOnly`] (`T`, the default) or, after
/// [`with_lines`](JsonLinesSource::with_lines), [`KeepLines`]
/// ([`WithLine<T>`](super::WithLine)).
pub struct JsonLinesSource<T, M = ValuesOnly> {
    paths: Vec<PathBuf>,
    split_size: Option<u64>,
    _types: PhantomData<fn() -> (T, M)>,
}

impl<T, M> fmt::Debug for JsonLinesSource<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesSource")
            .field("paths", &self.paths)
            .field("split_size", &self.split_size)
            .finish()
    }
}

impl<T, M> Clone for JsonLinesSource<T, M> {
    fn clone(&self) -> Self {
        JsonLinesSource {
            paths: self.paths.clone(),
            split_size: self.split_size,
            _types: PhantomData,
        }
    }
}

impl<T> JsonLinesSource<T, ValuesOnly> {
    /// A source reading `paths`: files, or directories standing for the regular files in
    /// them (sorted by name, hidden files skipped).
    pub fn new<I>(paths: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<PathBuf>,
    {
        JsonLinesSource {
            paths: paths.into_iter().map(Into::into).collect(),
            split_size: None,
            _types: PhantomData,
        }
    }

    /// Emit each value with the original text of its line, as a
    /// [`WithLine<T>`](super::WithLine).
    pub fn with_lines(self) -> JsonLinesSource<T, KeepLines> {
        JsonLinesSource {
            paths: self.paths,
            split_size: self.split_size,
            _types: PhantomData,
        }
    }
}

impl<T, M> JsonLinesSource<T, M> {
    /// The size of the byte-range splits files are cut into (at least 1). By default it is
    /// the total input size divided by the parallelism, between 1 MiB and 64 MiB.
    pub fn split_size(mut self, bytes: u64) -> Self {
        self.split_size = Some(bytes.max(1));
        self
    }

    /// The configured input paths.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl<T, M> Source<M::Output> for JsonLinesSource<T, M>
where
    T: DeserializeOwned + Send + 'static,
    M: Emit<T>,
{
    type Split = FileSplit;
    type Reader = FileReader<T, JsonLineParser<T>, M>;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn splits(&self, parallelism: usize) -> Result<Vec<FileSplit>, BoxError> {
        plan_splits(&self.paths, parallelism, self.split_size)
    }

    fn split_id(&self, split: &FileSplit) -> u64 {
        super::reader::split_id(split)
    }

    fn create_reader(
        &self,
        _ctx: &SourceContext,
        splits: Vec<FileSplit>,
    ) -> Result<Self::Reader, BoxError> {
        Ok(FileReader::new(JsonLineParser::new(), splits))
    }
}

/// Parses one JSON value per line into `T` (the [`LineParser`] behind [`JsonLinesSource`]).
pub struct JsonLineParser<T> {
    _type: PhantomData<fn() -> T>,
}

impl<T> JsonLineParser<T> {
    /// A parser.
    pub fn new() -> Self {
        JsonLineParser { _type: PhantomData }
    }
}

impl<T> Default for JsonLineParser<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for JsonLineParser<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonLineParser")
    }
}

impl<T: DeserializeOwned> LineParser<T> for JsonLineParser<T> {
    fn start_file(&mut self, _path: &Path) -> Result<(), BoxError> {
        Ok(())
    }

    #[inline]
    fn parse_line(&mut self, mut line: &[u8], line_no: u64) -> Result<Option<T>, String> {
        if line_no == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let mut de = serde_json::Deserializer::from_slice(line);
        let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|err| {
            let path = field_path(err.path());
            let message = json_message(err.inner());
            if path.is_empty() {
                message
            } else {
                format!("field '{path}': {message}")
            }
        })?;
        de.end().map_err(|err| json_message(&err))?;
        Ok(Some(value))
    }
}

/// `path` as `a.b[2].c`, without trailing segments whose name is unknown (an error while
/// reading a map key); empty for the root.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let known = segments
        .iter()
        .rposition(|s| !matches!(s, Segment::Unknown))
        .map_or(0, |i| i + 1);
    let mut out = String::new();
    for segment in &segments[..known] {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// A serde_json error without its "at line L column C" suffix (the line is always 1 and the
/// dead letter carries the file's line number); syntax errors keep the column.
fn json_message(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    if err.is_syntax() || err.is_eof() {
        format!("{message} (column {})", err.column())
    } else {
        message.to_owned()
    }
}
