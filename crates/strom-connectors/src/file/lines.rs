//! [`LineFileSource`]: a file source for any line-based format, given a [`LineParser`].
//!
//! CSV and JSON lines have their own sources; this one takes your parser, e.g. a
//! hand-written parser for a fixed record layout that is faster than a generic format.
//! Splitting, line numbers, dead letters, per-split watermarks and positions for
//! checkpoints work as for the other file sources.

use super::reader::{Emit, FileReader, KeepLines, LineParser, ValuesOnly};
use super::split::{FileSplit, plan_splits};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use strom_core::{Boundedness, BoxError, Source, SourceContext};

/// Reads files line by line with parsers made by `make_parser` (one per subtask).
pub struct LineFileSource<T, P, M = ValuesOnly> {
    paths: Vec<PathBuf>,
    split_size: Option<u64>,
    make_parser: Arc<dyn Fn() -> P + Send + Sync>,
    _types: PhantomData<fn() -> (T, M)>,
}

impl<T, P> LineFileSource<T, P, ValuesOnly> {
    /// A source over `paths` (files or directories) parsing each line with a parser from
    /// `make_parser`.
    pub fn new<I>(paths: I, make_parser: impl Fn() -> P + Send + Sync + 'static) -> Self
    where
        I: IntoIterator,
        I::Item: Into<PathBuf>,
    {
        LineFileSource {
            paths: paths.into_iter().map(Into::into).collect(),
            split_size: None,
            make_parser: Arc::new(make_parser),
            _types: PhantomData,
        }
    }

    /// Emit each value with the original text of its line.
    pub fn with_lines(self) -> LineFileSource<T, P, KeepLines> {
        LineFileSource {
            paths: self.paths,
            split_size: self.split_size,
            make_parser: self.make_parser,
            _types: PhantomData,
        }
    }
}

impl<T, P, M> LineFileSource<T, P, M> {
    /// Cut files into splits of about `bytes` (default: sized by input and parallelism).
    pub fn split_size(mut self, bytes: u64) -> Self {
        self.split_size = Some(bytes);
        self
    }
}

impl<T, P, M> Source<M::Output> for LineFileSource<T, P, M>
where
    T: Send + 'static,
    P: LineParser<T> + 'static,
    M: Emit<T>,
{
    type Split = FileSplit;
    type Reader = FileReader<T, P, M>;

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
        _: &SourceContext,
        splits: Vec<FileSplit>,
    ) -> Result<Self::Reader, BoxError> {
        Ok(FileReader::new((self.make_parser)(), splits))
    }
}
