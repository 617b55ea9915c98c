//! A bounded source over an in-memory collection or a one-shot iterator.
//!
//! # Checkpoints
//!
//! [`CollectionSource`] is replayable: its splits are index ranges whose position is the next
//! index, so a reader created from [`snapshot_splits`](SourceReader::snapshot_splits)
//! continues exactly with the next element.
//!
//! [`IteratorSource`] is **not** replayable: its iterator is consumed once. Its split counts
//! the items emitted, but a reader cannot be created from a position after the start, nor
//! once an earlier reader took the iterator (a restart after a failure): `create_reader`
//! then fails with an error saying so, rather than silently losing or repeating items. Use
//! [`CollectionSource`] or a generator for jobs that must recover from checkpoints.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use strom_core::{
    Boundedness, BoxError, ReadStatus, Source, SourceContext, SourceOutput, SourceReader,
};

/// Emits the elements of a `Vec`, split into contiguous ranges across subtasks.
#[derive(Debug)]
pub struct CollectionSource<T> {
    items: Arc<Vec<T>>,
}

impl<T> CollectionSource<T> {
    /// A source over `items`.
    pub fn new(items: Vec<T>) -> Self {
        CollectionSource {
            items: Arc::new(items),
        }
    }
}

/// A range of the collection and how far it has been read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RangeSplit {
    /// Next index to emit.
    pub next: usize,
    /// One past the last index.
    pub end: usize,
}

impl<T: Clone + Send + Sync + 'static> Source<T> for CollectionSource<T> {
    type Split = RangeSplit;
    type Reader = CollectionReader<T>;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn splits(&self, parallelism: usize) -> Result<Vec<RangeSplit>, BoxError> {
        let n = self.items.len();
        let p = parallelism.max(1);
        Ok((0..p)
            .map(|i| RangeSplit {
                next: i * n / p,
                end: (i + 1) * n / p,
            })
            .collect())
    }

    fn split_id(&self, split: &RangeSplit) -> u64 {
        split.end as u64
    }

    fn create_reader(
        &self,
        _: &SourceContext,
        splits: Vec<RangeSplit>,
    ) -> Result<Self::Reader, BoxError> {
        Ok(CollectionReader {
            items: Arc::clone(&self.items),
            splits,
        })
    }
}

/// Reads the ranges assigned to one subtask.
pub struct CollectionReader<T> {
    items: Arc<Vec<T>>,
    splits: Vec<RangeSplit>,
}

impl<T: Clone + Send + Sync> SourceReader<T> for CollectionReader<T> {
    type Split = RangeSplit;

    fn poll_next(&mut self, out: &mut SourceOutput<'_, T>) -> Result<ReadStatus, BoxError> {
        while let Some(split) = self.splits.first_mut() {
            out.start_split(split.end as u64);
            let take = out.remaining().min(split.end - split.next);
            for v in &self.items[split.next..split.next + take] {
                out.collect(v.clone());
            }
            split.next += take;
            if split.next < split.end {
                return Ok(ReadStatus::MoreAvailable);
            }
            out.finish_split(split.end as u64);
            self.splits.remove(0);
        }
        Ok(ReadStatus::Finished)
    }

    fn snapshot_splits(&self) -> Vec<RangeSplit> {
        self.splits
            .iter()
            .filter(|s| s.next < s.end)
            .cloned()
            .collect()
    }
}

/// Emits the items of a one-shot iterator; runs as a single subtask.
///
/// Not replayable: a job with this source cannot recover from a checkpoint or restart after
/// a failure (see the [module docs](self)).
pub struct IteratorSource<I> {
    iter: Arc<Mutex<Option<I>>>,
}

impl<I> IteratorSource<I> {
    /// A source draining `iter`.
    pub fn new(iter: I) -> Self {
        IteratorSource {
            iter: Arc::new(Mutex::new(Some(iter))),
        }
    }
}

/// The iterator source's only split: how many items were emitted.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IteratorSplit {
    /// Items emitted so far.
    pub emitted: u64,
}

impl<I> Source<I::Item> for IteratorSource<I>
where
    I: Iterator + Send + 'static,
    I::Item: Send,
{
    type Split = IteratorSplit;
    type Reader = IteratorReader<I>;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    fn splits(&self, _parallelism: usize) -> Result<Vec<IteratorSplit>, BoxError> {
        Ok(vec![IteratorSplit { emitted: 0 }])
    }

    fn create_reader(
        &self,
        _: &SourceContext,
        splits: Vec<IteratorSplit>,
    ) -> Result<Self::Reader, BoxError> {
        let Some(split) = splits.first() else {
            return Ok(IteratorReader {
                iter: None,
                emitted: 0,
            });
        };
        if split.emitted > 0 {
            return Err(format!(
                "IteratorSource cannot resume after {} items: its iterator is one-shot and \
                 cannot be replayed (use CollectionSource or GeneratorSource for jobs that \
                 restore from checkpoints)",
                split.emitted
            )
            .into());
        }
        let iter = self
            .iter
            .lock()
            .map_err(|_| "iterator lock poisoned")?
            .take()
            .ok_or(
                "IteratorSource cannot restart: its one-shot iterator was consumed by an earlier \
                 attempt (use CollectionSource or GeneratorSource for jobs that restart)",
            )?;
        Ok(IteratorReader {
            iter: Some(iter),
            emitted: 0,
        })
    }
}

/// Drains the iterator.
pub struct IteratorReader<I> {
    iter: Option<I>,
    emitted: u64,
}

impl<I> SourceReader<I::Item> for IteratorReader<I>
where
    I: Iterator + Send,
{
    type Split = IteratorSplit;

    fn poll_next(&mut self, out: &mut SourceOutput<'_, I::Item>) -> Result<ReadStatus, BoxError> {
        let Some(iter) = self.iter.as_mut() else {
            return Ok(ReadStatus::Finished);
        };
        for _ in 0..out.remaining() {
            match iter.next() {
                Some(v) => {
                    out.collect(v);
                    self.emitted += 1;
                }
                None => {
                    self.iter = None;
                    return Ok(ReadStatus::Finished);
                }
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }

    fn snapshot_splits(&self) -> Vec<IteratorSplit> {
        self.iter
            .as_ref()
            .map(|_| IteratorSplit {
                emitted: self.emitted,
            })
            .into_iter()
            .collect()
    }
}
