//! A bounded source of CSV files: one record per line, deserialized with serde.
//!
//! Files are read in parallel by byte-range splits (see [`super::split`]). Each line is cut
//! into fields (directly on the delimiter when it has no quote, by `csv_core` when it does)
//! and deserialized by a serde deserializer over the field ranges of the line, which follows
//! the `csv` crate's data model (see `csv_de`) without copying fields into a record first. A line
//! that does not deserialize becomes a [`DeadLetter`](strom_core::DeadLetter) whose message
//! names the field, e.g. `field 'temperature' (column 3): invalid float literal`; empty lines
//! are skipped.
//!
//! Without a header, columns map to the fields of the target type by position (a struct's
//! field names are used in messages); with [`has_header(true)`](CsvSource::has_header) the
//! first line of each file is its header and columns map to struct fields by name.
//!
//! Limitation: a record is one line; quoted fields cannot contain newlines.

use super::csv_de::{FieldError, Fields};
use super::reader::{Emit, FileReader, KeepLines, LineParser, ValuesOnly};
use super::split::{FileSplit, plan_splits, read_first_line};
use memchr::memchr_iter;
use serde::de::{DeserializeOwned, Visitor};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use strom_core::{Boundedness, BoxError, Source, SourceContext};

/// Reads CSV files (or directories of them) into values of `T`.
///
/// `M` selects what is emitted per line: [`ValuesOnly`] (`T`, the default) or, after
/// [`with_lines`](CsvSource::with_lines), [`KeepLines`] ([`WithLine<T>`](super::WithLine)).
///
/// ```no_run
/// # use strom_connectors::file::CsvSource;
/// #[derive(serde::Deserialize)]
/// struct Reading { sensor_id: String, ts_ms: i64, temperature: f64 }
/// let source: CsvSource<Reading> = CsvSource::new(["data/readings.csv"]).has_header(true);
/// ```
pub struct CsvSource<T, M = ValuesOnly> {
    paths: Vec<PathBuf>,
    has_header: bool,
    delimiter: u8,
    split_size: Option<u64>,
    _types: PhantomData<fn() -> (T, M)>,
}

impl<T, M> fmt::Debug for CsvSource<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvSource")
            .field("paths", &self.paths)
            .field("has_header", &self.has_header)
            .field("delimiter", &char::from(self.delimiter))
            .field("split_size", &self.split_size)
            .finish()
    }
}

impl<T, M> Clone for CsvSource<T, M> {
    fn clone(&self) -> Self {
        CsvSource {
            paths: self.paths.clone(),
            has_header: self.has_header,
            delimiter: self.delimiter,
            split_size: self.split_size,
            _types: PhantomData,
        }
    }
}

impl<T> CsvSource<T, ValuesOnly> {
    /// A source reading `paths`: files, or directories standing for the regular files in
    /// them (sorted by name, hidden files skipped). No header, `,` as delimiter.
    pub fn new<I>(paths: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<PathBuf>,
    {
        CsvSource {
            paths: paths.into_iter().map(Into::into).collect(),
            has_header: false,
            delimiter: b',',
            split_size: None,
            _types: PhantomData,
        }
    }

    /// Emit each value with the original text of its line, as a
    /// [`WithLine<T>`](super::WithLine).
    pub fn with_lines(self) -> CsvSource<T, KeepLines> {
        self.into_mode()
    }
}

impl<T, M> CsvSource<T, M> {
    /// Whether the first line of each file is a header (default `false`). With a header,
    /// columns map to struct fields by name and the header line is not a record.
    pub fn has_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// The field delimiter (default `b','`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

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

    fn into_mode<N>(self) -> CsvSource<T, N> {
        CsvSource {
            paths: self.paths,
            has_header: self.has_header,
            delimiter: self.delimiter,
            split_size: self.split_size,
            _types: PhantomData,
        }
    }
}

impl<T, M> Source<M::Output> for CsvSource<T, M>
where
    T: DeserializeOwned + Send + 'static,
    M: Emit<T>,
{
    type Split = FileSplit;
    type Reader = FileReader<T, CsvLineParser<T>, M>;

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
        Ok(FileReader::new(
            CsvLineParser::new(self.delimiter, self.has_header),
            splits,
        ))
    }
}

/// Parses CSV lines into `T` (the [`LineParser`] behind [`CsvSource`]).
pub struct CsvLineParser<T> {
    delimiter: u8,
    has_header: bool,
    /// The current file's header names, when there is one.
    header: Option<Vec<String>>,
    /// The file `header` was read from.
    header_path: Option<PathBuf>,
    shape: Shape,
    /// Field ranges of the current line (in the line, or in `quoted_out` for quoted lines).
    bounds: Vec<(usize, usize)>,
    quoted: csv_core::Reader,
    quoted_out: Vec<u8>,
    quoted_ends: Vec<usize>,
    _type: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for CsvLineParser<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsvLineParser")
            .field("delimiter", &char::from(self.delimiter))
            .field("has_header", &self.has_header)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> CsvLineParser<T> {
    /// A parser for lines delimited by `delimiter`, whose files start with a header line when
    /// `has_header` is set.
    pub fn new(delimiter: u8, has_header: bool) -> Self {
        CsvLineParser {
            delimiter,
            has_header,
            header: None,
            header_path: None,
            shape: probe_shape::<T>(),
            bounds: Vec::new(),
            quoted: csv_core::ReaderBuilder::new()
                .delimiter(delimiter)
                .terminator(csv_core::Terminator::Any(b'\n'))
                .build(),
            quoted_out: Vec::new(),
            quoted_ends: Vec::new(),
            _type: PhantomData,
        }
    }

    /// Cut `line` into field ranges in `self.bounds`; `true` when they point into
    /// `self.quoted_out` (the line had quotes) rather than into `line`.
    #[inline]
    fn split(&mut self, line: &[u8]) -> bool {
        split_fields(
            line,
            self.delimiter,
            &mut self.bounds,
            &mut self.quoted,
            &mut self.quoted_out,
            &mut self.quoted_ends,
        )
    }

    /// Why the line did not deserialize, naming the field by header name or struct field
    /// name, and its 1-based column.
    fn describe(&self, err: FieldError) -> String {
        let name_of = |i: usize| -> Option<&str> {
            match (&self.header, &self.shape) {
                (Some(header), _) => header.get(i).map(String::as_str),
                (None, Shape::Struct(fields)) => fields.get(i).copied(),
                _ => None,
            }
        };
        let at = |i: usize| match name_of(i) {
            Some(name) => format!("field '{name}' (column {})", i + 1),
            None => format!("column {}", i + 1),
        };
        if let Some(column) = err.column {
            return format!("{}: {}", at(column), err.message);
        }
        // Too few columns for the header, struct or tuple: name the first missing one.
        let columns = self.bounds.len();
        let expected = match (&self.header, &self.shape) {
            (Some(header), _) => header.len(),
            (None, Shape::Struct(fields)) => fields.len(),
            (None, Shape::Tuple(len)) => *len,
            _ => 0,
        };
        if columns < expected {
            return format!(
                "{}: missing (the line has {columns} column{})",
                at(columns),
                if columns == 1 { "" } else { "s" }
            );
        }
        err.message
    }
}

impl<T: DeserializeOwned> LineParser<T> for CsvLineParser<T> {
    fn start_file(&mut self, path: &Path) -> Result<(), BoxError> {
        if !self.has_header || self.header_path.as_deref() == Some(path) {
            return Ok(());
        }
        let first = read_first_line(path)?;
        let first = strip_bom(&first);
        let quoted = self.split(first);
        let data = if quoted { &self.quoted_out[..] } else { first };
        let names = self
            .bounds
            .iter()
            .map(|&(s, e)| String::from_utf8_lossy(&data[s..e]).into_owned())
            .collect();
        self.header = Some(names);
        self.header_path = Some(path.to_path_buf());
        Ok(())
    }

    #[inline]
    fn parse_line(&mut self, mut line: &[u8], line_no: u64) -> Result<Option<T>, String> {
        if line_no == 1 {
            if self.has_header {
                return Ok(None);
            }
            line = strip_bom(line);
        }
        if line.is_empty() {
            return Ok(None);
        }
        let quoted = self.split(line);
        let data = if quoted { &self.quoted_out[..] } else { line };
        let mut fields = Fields::new(data, &self.bounds, self.header.as_deref());
        match T::deserialize(&mut fields) {
            Ok(value) => Ok(Some(value)),
            Err(err) => Err(self.describe(err)),
        }
    }
}

/// A UTF-8 byte order mark at the start of a file is not data.
fn strip_bom(line: &[u8]) -> &[u8] {
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

/// Cut `line` into field ranges `bounds`: on the delimiter directly when the line has no
/// quote (ranges into `line`; returns `false`), with `csv_core` (quotes, doubled quotes,
/// delimiters inside quotes) when it has (ranges into `out`; returns `true`).
#[inline]
fn split_fields(
    line: &[u8],
    delimiter: u8,
    bounds: &mut Vec<(usize, usize)>,
    quoted: &mut csv_core::Reader,
    out: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> bool {
    bounds.clear();
    if split_unquoted(line, delimiter, bounds) {
        return false;
    }
    bounds.clear();
    quoted.reset();
    if out.len() < line.len() + 1 {
        out.resize(line.len() + 1, 0);
    }
    let max_fields = memchr_iter(delimiter, line).count() + 2;
    if ends.len() < max_fields {
        ends.resize(max_fields, 0);
    }
    let mut input = line;
    let (mut written, mut fields) = (0, 0);
    loop {
        let (result, nin, nout, nend) =
            quoted.read_record(input, &mut out[written..], &mut ends[fields..]);
        input = &input[nin..];
        written += nout;
        fields += nend;
        match result {
            // All input consumed: the next call, with empty input, ends the record.
            csv_core::ReadRecordResult::InputEmpty => {}
            csv_core::ReadRecordResult::OutputFull => {
                let grown = out.len() * 2 + 1;
                out.resize(grown, 0);
            }
            csv_core::ReadRecordResult::OutputEndsFull => {
                let grown = ends.len() * 2 + 1;
                ends.resize(grown, 0);
            }
            csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
        }
    }
    let mut start = 0;
    for &end in &ends[..fields] {
        bounds.push((start, end));
        start = end;
    }
    true
}

/// Cut a line without quotes on `delimiter`, eight bytes at a time; `false` (with `bounds`
/// partly filled) as soon as a quote shows up.
#[inline]
fn split_unquoted(line: &[u8], delimiter: u8, bounds: &mut Vec<(usize, usize)>) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    /// The high bit of each zero byte of `x`, exactly (no carries between bytes).
    #[inline]
    fn zero_bytes(x: u64) -> u64 {
        !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
    }
    let delimiters = u64::from(delimiter) * ONES;
    let quotes = u64::from(b'"') * ONES;
    let (chunks, tail) = line.as_chunks::<8>();
    let mut start = 0;
    for (i, chunk) in chunks.iter().enumerate() {
        let word = u64::from_le_bytes(*chunk);
        if zero_bytes(word ^ quotes) != 0 {
            return false;
        }
        let mut found = zero_bytes(word ^ delimiters);
        while found != 0 {
            let at = i * 8 + (found.trailing_zeros() / 8) as usize;
            bounds.push((start, at));
            start = at + 1;
            found &= found - 1;
        }
    }
    let base = chunks.len() * 8;
    for (i, &b) in tail.iter().enumerate() {
        if b == delimiter {
            bounds.push((start, base + i));
            start = base + i + 1;
        } else if b == b'"' {
            return false;
        }
    }
    bounds.push((start, line.len()));
    true
}

/// What the target type looks like to a deserializer, for naming fields in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A struct with these field names (serde renames applied).
    Struct(&'static [&'static str]),
    /// A tuple or tuple struct of this many fields.
    Tuple(usize),
    /// Anything else.
    Other,
}

/// Learn `T`'s shape by letting it ask a deserializer for a struct or tuple.
fn probe_shape<T: DeserializeOwned>() -> Shape {
    match T::deserialize(ShapeProbe) {
        Err(ProbeAnswer(shape)) => shape,
        Ok(_) => Shape::Other,
    }
}

/// A deserializer that answers every request with an error carrying the shape asked for.
struct ShapeProbe;

/// The "error" a [`ShapeProbe`] returns.
#[derive(Debug)]
struct ProbeAnswer(Shape);

impl fmt::Display for ProbeAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shape probe: {:?}", self.0)
    }
}

impl std::error::Error for ProbeAnswer {}

impl serde::de::Error for ProbeAnswer {
    fn custom<E: fmt::Display>(_msg: E) -> Self {
        ProbeAnswer(Shape::Other)
    }
}

impl<'de> serde::Deserializer<'de> for ShapeProbe {
    type Error = ProbeAnswer;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProbeAnswer> {
        Err(ProbeAnswer(Shape::Other))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeAnswer> {
        Err(ProbeAnswer(Shape::Struct(fields)))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        _visitor: V,
    ) -> Result<V::Value, ProbeAnswer> {
        Err(ProbeAnswer(Shape::Tuple(len)))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        _visitor: V,
    ) -> Result<V::Value, ProbeAnswer> {
        Err(ProbeAnswer(Shape::Tuple(len)))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeAnswer> {
        // Like the csv crate, a newtype is transparent.
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct seq map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field ranges by the obvious method, `None` when the line has a quote.
    fn reference(line: &[u8], delimiter: u8) -> Option<Vec<(usize, usize)>> {
        if line.contains(&b'"') {
            return None;
        }
        let mut bounds = Vec::new();
        let mut start = 0;
        for (i, &b) in line.iter().enumerate() {
            if b == delimiter {
                bounds.push((start, i));
                start = i + 1;
            }
        }
        bounds.push((start, line.len()));
        Some(bounds)
    }

    #[test]
    fn unquoted_split_matches_the_obvious_method() {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut bounds = Vec::new();
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            let line: Vec<u8> = (0..len)
                .map(|i| {
                    let r = (state >> (i % 56)) as u8;
                    match r % 7 {
                        0 => b',',
                        1 => b';',
                        2 if i % 11 == 0 => b'"',
                        3 => 0,
                        4 => 0x80 | r,
                        _ => b'a' + r % 26,
                    }
                })
                .collect();
            for delimiter in [b',', b';', b'\t', 0, 0xAC] {
                bounds.clear();
                let ok = split_unquoted(&line, delimiter, &mut bounds);
                match reference(&line, delimiter) {
                    Some(expected) => {
                        assert!(ok);
                        assert_eq!(bounds, expected, "{line:?}");
                    }
                    None => assert!(!ok, "{line:?}"),
                }
            }
        }
    }
}
