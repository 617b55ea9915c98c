//! Windows: [`TimeWindow`] (a half-open interval of time) and [`GlobalWindow`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::hash::Hash;
use strom_types::Timestamp;

/// A window: a named bucket of a keyed stream's elements.
///
/// Contract: `max_timestamp` is the largest timestamp that belongs to the window; the
/// default event-time trigger fires it once the watermark reaches that value. Windows are
/// serializable: they are part of the window operator's checkpointed state.
pub trait Window:
    Clone + Debug + Eq + Hash + Ord + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The largest timestamp in the window.
    fn max_timestamp(&self) -> Timestamp;
    /// `[start, end)` for time windows.
    fn time_range(&self) -> Option<(Timestamp, Timestamp)> {
        None
    }
    /// The time window `[start, end)`, for window types that are time windows.
    fn from_time_range(_start: Timestamp, _end: Timestamp) -> Option<Self> {
        None
    }
    /// Whether two windows merge (sessions: overlap or touch).
    fn intersects(&self, other: &Self) -> bool {
        self == other
    }
    /// The smallest window covering both.
    fn cover(&self, other: &Self) -> Self {
        let _ = other;
        self.clone()
    }
}

/// The time interval `[start, end)` (Flink's `TimeWindow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First timestamp in the window.
    pub start: Timestamp,
    /// First timestamp after the window.
    pub end: Timestamp,
}

impl TimeWindow {
    /// The window `[start, end)`.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        TimeWindow { start, end }
    }

    /// Flink's `TimeWindow.getWindowStartWithOffset`: the start of the window of size
    /// `size` (aligned to `offset`) that contains `timestamp`.
    pub fn start_with_offset(timestamp: Timestamp, offset: i64, size: i64) -> Timestamp {
        let remainder = (timestamp - offset) % size;
        if remainder < 0 {
            timestamp - (remainder + size)
        } else {
            timestamp - remainder
        }
    }
}

impl Window for TimeWindow {
    #[inline]
    fn max_timestamp(&self) -> Timestamp {
        self.end - 1
    }
    fn time_range(&self) -> Option<(Timestamp, Timestamp)> {
        Some((self.start, self.end))
    }
    fn from_time_range(start: Timestamp, end: Timestamp) -> Option<Self> {
        Some(TimeWindow::new(start, end))
    }
    /// Overlapping or touching windows merge (Flink's `TimeWindow.intersects`).
    fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }
    fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// The one window holding every element of a key (Flink's `GlobalWindow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GlobalWindow;

impl Window for GlobalWindow {
    fn max_timestamp(&self) -> Timestamp {
        i64::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_starts_match_flink_including_negative_timestamps() {
        assert_eq!(TimeWindow::start_with_offset(12_345, 0, 10_000), 10_000);
        assert_eq!(TimeWindow::start_with_offset(10_000, 0, 10_000), 10_000);
        assert_eq!(TimeWindow::start_with_offset(9_999, 0, 10_000), 0);
        assert_eq!(TimeWindow::start_with_offset(-1, 0, 10_000), -10_000);
        assert_eq!(TimeWindow::start_with_offset(12_345, 2_000, 10_000), 12_000);
        assert_eq!(TimeWindow::start_with_offset(1_999, 2_000, 10_000), -8_000);
    }

    #[test]
    fn touching_windows_intersect() {
        let a = TimeWindow::new(0, 10);
        assert!(a.intersects(&TimeWindow::new(10, 20)));
        assert!(!a.intersects(&TimeWindow::new(11, 20)));
        assert_eq!(a.cover(&TimeWindow::new(5, 30)), TimeWindow::new(0, 30));
    }
}
