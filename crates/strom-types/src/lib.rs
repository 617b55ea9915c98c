//! The shared vocabulary of Strom, with no dependencies beyond serde.
//!
//! Everything that travels between operators and tasks is defined here: event-time
//! [`Timestamp`]s and [`Watermark`]s, [`Record`]s, the in-band [`Message`] that a channel
//! carries (a batch of records, a watermark, a checkpoint barrier or end of input), and the
//! [`key_group`] arithmetic that maps a key to a key group and a key group to a parallel
//! subtask exactly as Apache Flink does.

mod checkpoint;
pub mod key_group;
mod message;
mod time;

pub use checkpoint::{CheckpointBarrier, CheckpointId, CheckpointKind};
pub use key_group::{KeyGroup, KeyGroupRange};
pub use message::{Batch, Message, Record};
pub use time::{NO_TIMESTAMP, Timestamp, Watermark, WatermarkStatus};
