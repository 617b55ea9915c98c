//! A deterministic generator source: record `i` is `f(i)`, for `i` in `0..count` (or
//! forever), split across subtasks by stride, so that the same job always produces the same
//! records whatever its parallelism.
//!
//! A split's position is its next index, so a reader created from
//! [`snapshot_splits`](SourceReader::snapshot_splits) continues exactly where the snapshot
//! was taken, in the same order (a reader holding several splits, after rescaling, serves
//! them round robin from a queue whose order the snapshot keeps).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;
use strom_core::{
    Boundedness, BoxError, ReadStatus, Source, SourceContext, SourceOutput, SourceReader,
};

/// Generates `f(index)` for every index of the sequence.
pub struct GeneratorSource<F> {
    count: Option<u64>,
    f: Arc<F>,
}

impl<F> GeneratorSource<F> {
    /// `count` records (`None`: unbounded), record `i` being `f(i)`.
    pub fn new(count: Option<u64>, f: F) -> Self {
        GeneratorSource {
            count,
            f: Arc::new(f),
        }
    }
}

/// The indices `offset, offset + stride, …` below the count, and how many were emitted.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StrideSplit {
    /// First index of the split.
    pub offset: u64,
    /// Distance between indices.
    pub stride: u64,
    /// Next index to generate.
    pub next: u64,
}

impl<T, F> Source<T> for GeneratorSource<F>
where
    T: Send + 'static,
    F: Fn(u64) -> T + Send + Sync + 'static,
{
    type Split = StrideSplit;
    type Reader = GeneratorReader<F>;

    fn boundedness(&self) -> Boundedness {
        if self.count.is_some() {
            Boundedness::Bounded
        } else {
            Boundedness::Unbounded
        }
    }

    fn splits(&self, parallelism: usize) -> Result<Vec<StrideSplit>, BoxError> {
        let p = parallelism.max(1) as u64;
        Ok((0..p)
            .map(|i| StrideSplit {
                offset: i,
                stride: p,
                next: i,
            })
            .collect())
    }

    fn split_id(&self, split: &StrideSplit) -> u64 {
        split.offset
    }

    fn create_reader(
        &self,
        _: &SourceContext,
        splits: Vec<StrideSplit>,
    ) -> Result<Self::Reader, BoxError> {
        Ok(GeneratorReader {
            f: Arc::clone(&self.f),
            count: self.count.unwrap_or(u64::MAX),
            splits: splits.into(),
        })
    }
}

/// Generates the indices of one subtask's splits, round robin over them.
pub struct GeneratorReader<F> {
    f: Arc<F>,
    count: u64,
    /// Unfinished splits; the front one is served next, then goes to the back.
    splits: VecDeque<StrideSplit>,
}

impl<T, F> SourceReader<T> for GeneratorReader<F>
where
    F: Fn(u64) -> T + Send + Sync,
{
    type Split = StrideSplit;

    fn poll_next(&mut self, out: &mut SourceOutput<'_, T>) -> Result<ReadStatus, BoxError> {
        let count = self.count;
        self.splits.retain(|s| s.next < count);
        if self.splits.is_empty() {
            return Ok(ReadStatus::Finished);
        }
        if out.remaining() == 0 {
            return Ok(ReadStatus::MoreAvailable);
        }
        let Some(mut s) = self.splits.pop_front() else {
            return Ok(ReadStatus::Finished);
        };
        out.start_split(s.offset);
        let f = &*self.f;
        let mut n = out.remaining();
        while n > 0 && s.next < count {
            out.collect(f(s.next));
            s.next = s.next.saturating_add(s.stride);
            n -= 1;
        }
        if s.next >= count {
            out.finish_split(s.offset);
        } else {
            self.splits.push_back(s);
        }
        Ok(ReadStatus::MoreAvailable)
    }

    fn snapshot_splits(&self) -> Vec<StrideSplit> {
        self.splits
            .iter()
            .filter(|s| s.next < self.count)
            .cloned()
            .collect()
    }
}
