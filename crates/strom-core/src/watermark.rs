//! Watermark strategies: how a stream gets event-time timestamps and watermarks
//! (Flink's `WatermarkStrategy`, `WatermarkGenerator` and `TimestampAssigner`).
//!
//! ```
//! use std::time::Duration;
//! use strom_core::watermark::WatermarkStrategy;
//!
//! #[derive(Clone)]
//! struct Reading { ts: i64 }
//!
//! let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
//!     .with_timestamp_assigner(|r: &Reading, _previous: i64| r.ts)
//!     .with_idleness(Duration::from_secs(60));
//! # let _ = strategy;
//! ```

use std::time::Duration;
use strom_types::{Timestamp, Watermark};

/// Extracts an element's event-time timestamp.
///
/// Contract: deterministic; `previous` is the timestamp the record already carries
/// ([`crate::NO_TIMESTAMP`] if none).
pub trait TimestampAssigner<T>: Send {
    /// The element's event time in ms.
    fn extract_timestamp(&mut self, element: &T, previous: Timestamp) -> Timestamp;
}

impl<T, F: FnMut(&T, Timestamp) -> Timestamp + Send> TimestampAssigner<T> for F {
    fn extract_timestamp(&mut self, element: &T, previous: Timestamp) -> Timestamp {
        self(element, previous)
    }
}

/// Keeps the timestamp the record already has (set by the source).
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordTimestamp;

impl<T> TimestampAssigner<T> for RecordTimestamp {
    #[inline]
    fn extract_timestamp(&mut self, _: &T, previous: Timestamp) -> Timestamp {
        previous
    }
}

/// Where a [`WatermarkGenerator`] emits watermarks and idleness.
#[derive(Debug, Default)]
pub struct WatermarkOutput {
    watermark: Option<Watermark>,
    idle: Option<bool>,
}

impl WatermarkOutput {
    /// Emit a watermark; a watermark not above the last one is ignored by the runtime.
    pub fn emit_watermark(&mut self, watermark: Watermark) {
        self.watermark = Some(self.watermark.map_or(watermark, |w| w.max(watermark)));
    }

    /// Declare the stream idle: it stops holding back downstream watermarks.
    pub fn mark_idle(&mut self) {
        self.idle = Some(true);
    }

    /// Declare the stream active again.
    pub fn mark_active(&mut self) {
        self.idle = Some(false);
    }

    /// Take what was emitted since the last call (runtime use).
    pub fn take(&mut self) -> (Option<Watermark>, Option<bool>) {
        (self.watermark.take(), self.idle.take())
    }
}

/// Generates watermarks from the events it sees and/or periodically.
///
/// Contract: `on_event` is called for every element, in order, after its timestamp was
/// assigned; `on_periodic_emit` every emission interval (and after every element when the
/// interval is zero). Per-event ("punctuated") generators emit from `on_event`.
pub trait WatermarkGenerator<T>: Send {
    /// See one event.
    fn on_event(&mut self, event: &T, timestamp: Timestamp, output: &mut WatermarkOutput);
    /// Emit periodically.
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput);
}

/// Watermark = largest timestamp seen − bound − 1 (Flink's
/// `BoundedOutOfOrdernessWatermarks`): records up to `bound` late are not late.
#[derive(Clone, Debug)]
pub struct BoundedOutOfOrderness {
    bound: i64,
    max_timestamp: i64,
}

impl BoundedOutOfOrderness {
    /// A generator tolerating `bound` of out-of-orderness.
    pub fn new(bound: Duration) -> Self {
        let bound = bound.as_millis().min(i64::MAX as u128 / 2) as i64;
        BoundedOutOfOrderness {
            bound,
            max_timestamp: i64::MIN + bound + 1,
        }
    }
}

impl<T> WatermarkGenerator<T> for BoundedOutOfOrderness {
    #[inline]
    fn on_event(&mut self, _: &T, timestamp: Timestamp, _: &mut WatermarkOutput) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
    }
    #[inline]
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput) {
        output.emit_watermark(Watermark(self.max_timestamp - self.bound - 1));
    }
}

/// Emits no watermarks (Flink's `noWatermarks`): event time never advances before the end
/// of a bounded input.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoWatermarks;

impl<T> WatermarkGenerator<T> for NoWatermarks {
    fn on_event(&mut self, _: &T, _: Timestamp, _: &mut WatermarkOutput) {}
    fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
}

/// How a stream gets timestamps and watermarks: a generator (cloned per subtask and per
/// source split), a timestamp assigner, optional idleness and the emission interval.
#[derive(Clone, Debug)]
pub struct WatermarkStrategy<G, A = RecordTimestamp> {
    /// The generator prototype; each subtask (or split) gets a clone.
    pub generator: G,
    /// The timestamp assigner prototype.
    pub assigner: A,
    /// Mark the stream idle after this long without records.
    pub idleness: Option<Duration>,
    /// How often periodic watermarks are emitted; `None` uses the job's default (200 ms,
    /// Flink's `pipeline.auto-watermark-interval`); zero emits after every record.
    pub interval: Option<Duration>,
}

impl WatermarkStrategy<BoundedOutOfOrderness> {
    /// Watermarks that trail the largest timestamp by `bound` (plus 1 ms, as Flink).
    pub fn for_bounded_out_of_orderness(bound: Duration) -> Self {
        Self::for_generator(BoundedOutOfOrderness::new(bound))
    }

    /// For timestamps that never decrease: the watermark is the largest timestamp − 1.
    pub fn for_monotonous_timestamps() -> Self {
        Self::for_bounded_out_of_orderness(Duration::ZERO)
    }
}

impl WatermarkStrategy<NoWatermarks> {
    /// Timestamps without watermarks.
    pub fn no_watermarks() -> Self {
        Self::for_generator(NoWatermarks)
    }
}

impl<G> WatermarkStrategy<G> {
    /// A strategy using a user-written generator.
    pub fn for_generator(generator: G) -> Self {
        WatermarkStrategy {
            generator,
            assigner: RecordTimestamp,
            idleness: None,
            interval: None,
        }
    }
}

impl<G, A> WatermarkStrategy<G, A> {
    /// Take timestamps from the elements.
    pub fn with_timestamp_assigner<B>(self, assigner: B) -> WatermarkStrategy<G, B> {
        WatermarkStrategy {
            generator: self.generator,
            assigner,
            idleness: self.idleness,
            interval: self.interval,
        }
    }

    /// Mark the stream idle when no record arrived for `timeout` (of processing time), so
    /// that it does not hold back the watermark of operators that read it.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idleness = Some(timeout);
        self
    }

    /// Emit periodic watermarks every `interval`; zero emits after every record, so that
    /// each record is judged against the watermark left by the records before it.
    pub fn with_emission_interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }
}
