//! Event time: timestamps, watermarks and watermark status.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Event time or processing time in milliseconds since the Unix epoch, as in Flink.
pub type Timestamp = i64;

/// The marker for "this record has no timestamp" (Flink uses `Long.MIN_VALUE` the same way).
pub const NO_TIMESTAMP: Timestamp = i64::MIN;

/// A watermark: the assertion that no more records with a timestamp `<=` this value will arrive.
///
/// Watermarks are monotonic per channel; an operator's watermark is the minimum over its
/// active input channels. [`Watermark::MAX`] marks the end of event time (end of a bounded
/// input) and fires every pending event-time timer and window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Watermark(pub Timestamp);

impl Watermark {
    /// The watermark before any has been seen.
    pub const MIN: Watermark = Watermark(i64::MIN);
    /// The final watermark: all of event time has passed.
    pub const MAX: Watermark = Watermark(i64::MAX);

    /// The timestamp this watermark asserts.
    pub fn timestamp(self) -> Timestamp {
        self.0
    }
}

impl fmt::Display for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Watermark::MIN => f.write_str("Watermark(MIN)"),
            Watermark::MAX => f.write_str("Watermark(MAX)"),
            Watermark(t) => write!(f, "Watermark({t})"),
        }
    }
}

/// Whether a channel currently takes part in watermark propagation.
///
/// An idle channel (Flink's `WatermarkStatus.IDLE`) does not hold back the minimum
/// watermark of its consumer until it becomes active again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WatermarkStatus {
    /// The channel emits records and watermarks.
    Active,
    /// The channel has gone quiet and is ignored when computing the minimum watermark.
    Idle,
}
