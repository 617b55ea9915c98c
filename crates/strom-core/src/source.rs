//! Sources, modelled on Flink's split-based sources (FLIP-27).
//!
//! A [`Source`] describes the input and cuts it into *splits* (files or byte ranges of a
//! file, generator ranges, later Kafka partitions). Splits are assigned to the source's
//! parallel subtasks; each subtask creates one [`SourceReader`] for its splits and the
//! runtime polls it. Because a reader can report the current position of every split
//! (`snapshot_splits`), checkpoints can store positions and recovery or rescaling can hand the
//! splits to different subtasks.

use crate::{BoxError, TaskInfo};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::time::Duration;
use strom_types::{Record, Timestamp};

/// Whether a source ends by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundedness {
    /// The source finishes; its end flows through the job as end of input.
    Bounded,
    /// The source runs until the job is cancelled.
    Unbounded,
}

/// A description of an input, cut into splits.
///
/// Contract: `splits` is called once when the job starts, with the source's parallelism,
/// and returns the complete list of splits (its length need not equal the parallelism).
/// Split `i` goes to subtask `i % parallelism`. `create_reader` is called once per subtask,
/// on that subtask's thread, with the splits it owns (possibly none).
pub trait Source<T>: Send + Sync + 'static {
    /// A unit of work and its read position; serialized into checkpoints.
    type Split: Clone + Debug + Send + Serialize + DeserializeOwned + 'static;
    /// The reader a subtask runs.
    type Reader: SourceReader<T, Split = Self::Split>;

    /// Bounded or unbounded.
    fn boundedness(&self) -> Boundedness;

    /// Cut the input into splits for `parallelism` readers.
    fn splits(&self, parallelism: usize) -> Result<Vec<Self::Split>, BoxError>;

    /// A stable id of `split`: the id its reader passes to
    /// [`SourceOutput::start_split`]. The runtime registers every split a subtask owns
    /// under this id before reading starts, so that with per-split watermarks a split that
    /// has not produced anything yet holds the watermark back (as in Flink). The default
    /// gives every split id 0: the subtask is watermarked as one split.
    fn split_id(&self, _split: &Self::Split) -> u64 {
        0
    }

    /// Create the reader for one subtask.
    fn create_reader(
        &self,
        ctx: &SourceContext,
        splits: Vec<Self::Split>,
    ) -> Result<Self::Reader, BoxError>;
}

/// Reads the records of the splits assigned to one subtask.
///
/// Contract: `poll_next` must not block for long (at most a few milliseconds); it emits up
/// to `out.remaining()` records and says whether more are available now, later, or never.
/// Once it returned [`ReadStatus::Finished`] it is not polled again.
pub trait SourceReader<T>: Send {
    /// The source's split type.
    type Split;

    /// Emit available records into `out`.
    fn poll_next(&mut self, out: &mut SourceOutput<'_, T>) -> Result<ReadStatus, BoxError>;

    /// The current position of every split this reader still owns (for checkpoints).
    fn snapshot_splits(&self) -> Vec<Self::Split>;
}

/// The answer of [`SourceReader::poll_next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStatus {
    /// More records can be read right away.
    MoreAvailable,
    /// Nothing now; poll again after (at most) this long.
    NothingAvailable(Duration),
    /// Every split is exhausted.
    Finished,
}

/// What a reader is told about where it runs.
#[derive(Clone, Debug)]
pub struct SourceContext {
    /// The source subtask.
    pub info: TaskInfo,
}

/// A malformed input record routed aside instead of failing the job.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    /// The file (or topic, endpoint) the record came from.
    pub source: String,
    /// 1-based line number within the file (0 where lines do not apply).
    pub line: u64,
    /// The raw record text.
    pub raw: String,
    /// Why it could not be read, naming the field where known.
    pub error: String,
}

/// A change of split within the records of one poll (see [`SourceOutput::start_split`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitEvent {
    /// Records from this index on come from split `id`.
    Start {
        /// Index into the poll's records.
        at: usize,
        /// The split's id.
        id: u64,
    },
    /// Split `id` is exhausted (after the records before index `at`).
    Finish {
        /// Index into the poll's records.
        at: usize,
        /// The split's id.
        id: u64,
    },
}

/// Where a reader puts the records it read.
pub struct SourceOutput<'a, T> {
    records: &'a mut Vec<Record<T>>,
    dead_letters: &'a mut Vec<DeadLetter>,
    limit: usize,
    split_events: Vec<SplitEvent>,
}

impl<'a, T> SourceOutput<'a, T> {
    /// An output that accepts up to `limit` records in total in `records` (runtime use).
    pub fn new(
        records: &'a mut Vec<Record<T>>,
        dead_letters: &'a mut Vec<DeadLetter>,
        limit: usize,
    ) -> Self {
        SourceOutput {
            records,
            dead_letters,
            limit,
            split_events: Vec::new(),
        }
    }

    /// Say that the records emitted from now on come from split `id` (any id that is
    /// stable for the split). With a watermark strategy on the source
    /// (`from_source_with_watermarks`), each split gets its own watermark generator and the
    /// source's watermark is the minimum over its active splits, as in Flink. Readers that
    /// never call this are treated as one split.
    pub fn start_split(&mut self, id: u64) {
        let at = self.records.len();
        if let Some(SplitEvent::Start { at: a, id: i }) = self.split_events.last_mut()
            && *a == at
        {
            *i = id;
            return;
        }
        self.split_events.push(SplitEvent::Start { at, id });
    }

    /// Say that split `id` is exhausted: it no longer holds back the source's watermark.
    pub fn finish_split(&mut self, id: u64) {
        let at = self.records.len();
        self.split_events.push(SplitEvent::Finish { at, id });
    }

    /// The split changes reported during this poll (runtime use).
    pub fn take_split_events(&mut self) -> Vec<SplitEvent> {
        std::mem::take(&mut self.split_events)
    }

    /// Emit a record without a timestamp (a timestamp assigner may add one downstream).
    #[inline]
    pub fn collect(&mut self, value: T) {
        self.records.push(Record::untimed(value));
    }

    /// Emit a record with an event-time timestamp.
    #[inline]
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: Timestamp) {
        self.records.push(Record::new(value, timestamp));
    }

    /// How many more records this poll may emit.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.records.len())
    }

    /// Route a malformed record to the dead-letter output.
    pub fn dead_letter(&mut self, letter: DeadLetter) {
        self.dead_letters.push(letter);
    }
}
