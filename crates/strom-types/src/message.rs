//! Records, batches and the messages that travel through channels between tasks.

use crate::{CheckpointBarrier, Timestamp, Watermark, WatermarkStatus};
use serde::{Deserialize, Serialize};

/// One element of a stream: a value with its event-time timestamp
/// ([`crate::NO_TIMESTAMP`] when it has none).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record<T> {
    /// The user's value.
    pub value: T,
    /// Event time in ms, or [`crate::NO_TIMESTAMP`].
    pub timestamp: Timestamp,
}

impl<T> Record<T> {
    /// A record with a timestamp.
    pub fn new(value: T, timestamp: Timestamp) -> Self {
        Record { value, timestamp }
    }

    /// A record without a timestamp.
    pub fn untimed(value: T) -> Self {
        Record {
            value,
            timestamp: crate::NO_TIMESTAMP,
        }
    }

    /// Whether the record carries an event-time timestamp.
    pub fn has_timestamp(&self) -> bool {
        self.timestamp != crate::NO_TIMESTAMP
    }
}

/// The unit of transfer between tasks: records move in batches, never one by one.
pub type Batch<T> = Vec<Record<T>>;

/// What a channel between two tasks carries, in order.
///
/// Control messages travel in-band: a watermark or barrier sent after a batch is seen by the
/// consumer after that batch, never before.
#[derive(Debug)]
pub enum Message<T> {
    /// A non-empty batch of records.
    Data(Batch<T>),
    /// Records with watermarks between them: watermark `w` at position `i` follows
    /// `records[..i]` and precedes `records[i..]` (positions ascending). Lets frequent
    /// watermarks (one per record, say) travel batched with the records instead of one
    /// message each.
    Marked {
        /// The records.
        records: Batch<T>,
        /// `(position, watermark)` pairs.
        marks: Vec<(usize, Watermark)>,
    },
    /// The producer's watermark advanced.
    Watermark(Watermark),
    /// The producer became idle or active again.
    Status(WatermarkStatus),
    /// A checkpoint barrier.
    Barrier(CheckpointBarrier),
    /// The producer will send nothing more on this channel.
    EndOfInput,
}
