//! Window assigners: which windows an element belongs to (Flink's `WindowAssigner`s).

use crate::trigger::{EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger};
use crate::window::{GlobalWindow, TimeWindow, Window};
use std::sync::Arc;
use std::time::Duration;
use strom_core::{Result, StromError};
use strom_types::{NO_TIMESTAMP, Timestamp};

fn millis(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

/// Assigns elements to windows.
///
/// Contract: `assign` appends the element's windows to `out` (possibly none); it is
/// deterministic given the element, its timestamp and the processing time.
pub trait WindowAssigner<T>: Clone + Send + Sync + 'static {
    /// The window type.
    type W: Window;
    /// The trigger used when none is set.
    type DefaultTrigger: crate::trigger::Trigger<T, Self::W> + Clone + Sync;

    /// Append the windows of an element with event time `timestamp` at processing time
    /// `now` to `out`.
    fn assign(
        &self,
        element: &T,
        timestamp: Timestamp,
        now: i64,
        out: &mut Vec<Self::W>,
    ) -> Result<()>;
    /// Whether windows are in event time (lateness and cleanup follow the watermark).
    fn is_event_time(&self) -> bool;
    /// The default trigger.
    fn default_trigger(&self) -> Self::DefaultTrigger;
    /// Whether windows merge (sessions).
    fn is_merging(&self) -> bool {
        false
    }
    /// The distance between consecutive window starts, when windows are aligned
    /// (tumbling: the size, sliding: the slide); lets the operator drop shared elements.
    fn slide(&self) -> Option<i64> {
        self.alignment().map(|a| a.slide)
    }
    /// Size, slide and offset of aligned time windows (tumbling and sliding), which lets
    /// incremental aggregation keep one accumulator per slice of time instead of one per
    /// window.
    fn alignment(&self) -> Option<Alignment> {
        None
    }
}

/// The geometry of aligned time windows: `[offset + k * slide, offset + k * slide + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alignment {
    /// Window length, ms.
    pub size: i64,
    /// Distance between window starts, ms.
    pub slide: i64,
    /// Alignment offset, ms.
    pub offset: i64,
}

fn require_timestamp(ts: Timestamp) -> Result<()> {
    if ts == NO_TIMESTAMP {
        return Err(StromError::InvalidJob(
            "a record has no timestamp: event-time windows need assign_timestamps_and_watermarks(...) upstream (or use a processing-time assigner)".into(),
        ));
    }
    Ok(())
}

macro_rules! time_assigner_common {
    () => {
        /// Align windows to `offset` instead of the epoch (e.g. a time zone).
        pub fn with_offset(mut self, offset: Duration) -> Self {
            self.offset = millis(offset) % self.slide_ms();
            self
        }
    };
}

/// Fixed-size, non-overlapping windows in event time.
#[derive(Clone, Copy, Debug)]
pub struct TumblingEventTimeWindows {
    size: i64,
    offset: i64,
}

impl TumblingEventTimeWindows {
    /// Windows of `size`.
    pub fn of(size: Duration) -> Self {
        TumblingEventTimeWindows {
            size: millis(size).max(1),
            offset: 0,
        }
    }
    fn slide_ms(&self) -> i64 {
        self.size
    }
    time_assigner_common!();
}

impl<T: 'static> WindowAssigner<T> for TumblingEventTimeWindows {
    type W = TimeWindow;
    type DefaultTrigger = EventTimeTrigger;
    #[inline]
    fn assign(&self, _: &T, ts: Timestamp, _: i64, out: &mut Vec<TimeWindow>) -> Result<()> {
        require_timestamp(ts)?;
        let start = TimeWindow::start_with_offset(ts, self.offset, self.size);
        out.push(TimeWindow::new(start, start + self.size));
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> EventTimeTrigger {
        EventTimeTrigger
    }
    fn alignment(&self) -> Option<Alignment> {
        Some(Alignment {
            size: self.size,
            slide: self.size,
            offset: self.offset,
        })
    }
}

/// Fixed-size windows that start every `slide` (they overlap when slide < size).
#[derive(Clone, Copy, Debug)]
pub struct SlidingEventTimeWindows {
    size: i64,
    slide: i64,
    offset: i64,
}

impl SlidingEventTimeWindows {
    /// Windows of `size` starting every `slide`.
    pub fn of(size: Duration, slide: Duration) -> Self {
        SlidingEventTimeWindows {
            size: millis(size).max(1),
            slide: millis(slide).max(1),
            offset: 0,
        }
    }
    fn slide_ms(&self) -> i64 {
        self.slide
    }
    time_assigner_common!();
}

fn sliding(ts: Timestamp, size: i64, slide: i64, offset: i64, out: &mut Vec<TimeWindow>) {
    let last_start = TimeWindow::start_with_offset(ts, offset, slide);
    let mut start = last_start;
    while start > ts - size {
        out.push(TimeWindow::new(start, start + size));
        start -= slide;
    }
}

impl<T: 'static> WindowAssigner<T> for SlidingEventTimeWindows {
    type W = TimeWindow;
    type DefaultTrigger = EventTimeTrigger;
    fn assign(&self, _: &T, ts: Timestamp, _: i64, out: &mut Vec<TimeWindow>) -> Result<()> {
        require_timestamp(ts)?;
        sliding(ts, self.size, self.slide, self.offset, out);
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> EventTimeTrigger {
        EventTimeTrigger
    }
    fn alignment(&self) -> Option<Alignment> {
        Some(Alignment {
            size: self.size,
            slide: self.slide,
            offset: self.offset,
        })
    }
}

/// The session gap of an element, for dynamic-gap sessions.
pub type GapExtractor<T> = Arc<dyn Fn(&T) -> Duration + Send + Sync>;

/// Windows that close after a gap of inactivity; each element opens `[ts, ts + gap)` and
/// windows that overlap or touch merge.
pub struct EventTimeSessionWindows<T> {
    gap: SessionGap<T>,
}

impl<T> Clone for EventTimeSessionWindows<T> {
    fn clone(&self) -> Self {
        EventTimeSessionWindows {
            gap: self.gap.clone(),
        }
    }
}

enum SessionGap<T> {
    Static(i64),
    Dynamic(GapExtractor<T>),
}

impl<T> Clone for SessionGap<T> {
    fn clone(&self) -> Self {
        match self {
            SessionGap::Static(g) => SessionGap::Static(*g),
            SessionGap::Dynamic(f) => SessionGap::Dynamic(Arc::clone(f)),
        }
    }
}

impl<T> SessionGap<T> {
    fn of(&self, element: &T) -> Result<i64> {
        let gap = match self {
            SessionGap::Static(g) => *g,
            SessionGap::Dynamic(f) => millis(f(element)),
        };
        if gap <= 0 {
            return Err(StromError::User("session gap must be positive".into()));
        }
        Ok(gap)
    }
}

impl<T> EventTimeSessionWindows<T> {
    /// Sessions with a fixed gap.
    pub fn with_gap(gap: Duration) -> Self {
        EventTimeSessionWindows {
            gap: SessionGap::Static(millis(gap)),
        }
    }
    /// Sessions whose gap each element decides.
    pub fn with_dynamic_gap(f: impl Fn(&T) -> Duration + Send + Sync + 'static) -> Self {
        EventTimeSessionWindows {
            gap: SessionGap::Dynamic(Arc::new(f)),
        }
    }
}

impl<T: 'static> WindowAssigner<T> for EventTimeSessionWindows<T> {
    type W = TimeWindow;
    type DefaultTrigger = EventTimeTrigger;
    fn assign(&self, e: &T, ts: Timestamp, _: i64, out: &mut Vec<TimeWindow>) -> Result<()> {
        require_timestamp(ts)?;
        out.push(TimeWindow::new(ts, ts.saturating_add(self.gap.of(e)?)));
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> EventTimeTrigger {
        EventTimeTrigger
    }
    fn is_merging(&self) -> bool {
        true
    }
}

/// Tumbling windows in processing time.
#[derive(Clone, Copy, Debug)]
pub struct TumblingProcessingTimeWindows {
    size: i64,
    offset: i64,
}

impl TumblingProcessingTimeWindows {
    /// Windows of `size` of wall-clock time.
    pub fn of(size: Duration) -> Self {
        TumblingProcessingTimeWindows {
            size: millis(size).max(1),
            offset: 0,
        }
    }
    fn slide_ms(&self) -> i64 {
        self.size
    }
    time_assigner_common!();
}

impl<T: 'static> WindowAssigner<T> for TumblingProcessingTimeWindows {
    type W = TimeWindow;
    type DefaultTrigger = ProcessingTimeTrigger;
    fn assign(&self, _: &T, _: Timestamp, now: i64, out: &mut Vec<TimeWindow>) -> Result<()> {
        let start = TimeWindow::start_with_offset(now, self.offset, self.size);
        out.push(TimeWindow::new(start, start + self.size));
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> ProcessingTimeTrigger {
        ProcessingTimeTrigger
    }
    fn alignment(&self) -> Option<Alignment> {
        Some(Alignment {
            size: self.size,
            slide: self.size,
            offset: self.offset,
        })
    }
}

/// Sliding windows in processing time.
#[derive(Clone, Copy, Debug)]
pub struct SlidingProcessingTimeWindows {
    size: i64,
    slide: i64,
    offset: i64,
}

impl SlidingProcessingTimeWindows {
    /// Windows of `size` starting every `slide`, in wall-clock time.
    pub fn of(size: Duration, slide: Duration) -> Self {
        SlidingProcessingTimeWindows {
            size: millis(size).max(1),
            slide: millis(slide).max(1),
            offset: 0,
        }
    }
    fn slide_ms(&self) -> i64 {
        self.slide
    }
    time_assigner_common!();
}

impl<T: 'static> WindowAssigner<T> for SlidingProcessingTimeWindows {
    type W = TimeWindow;
    type DefaultTrigger = ProcessingTimeTrigger;
    fn assign(&self, _: &T, _: Timestamp, now: i64, out: &mut Vec<TimeWindow>) -> Result<()> {
        sliding(now, self.size, self.slide, self.offset, out);
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> ProcessingTimeTrigger {
        ProcessingTimeTrigger
    }
    fn alignment(&self) -> Option<Alignment> {
        Some(Alignment {
            size: self.size,
            slide: self.slide,
            offset: self.offset,
        })
    }
}

/// Sessions in processing time.
pub struct ProcessingTimeSessionWindows<T> {
    gap: SessionGap<T>,
}

impl<T> Clone for ProcessingTimeSessionWindows<T> {
    fn clone(&self) -> Self {
        ProcessingTimeSessionWindows {
            gap: self.gap.clone(),
        }
    }
}

impl<T> ProcessingTimeSessionWindows<T> {
    /// Sessions with a fixed gap of wall-clock time.
    pub fn with_gap(gap: Duration) -> Self {
        ProcessingTimeSessionWindows {
            gap: SessionGap::Static(millis(gap)),
        }
    }
    /// Sessions whose gap each element decides.
    pub fn with_dynamic_gap(f: impl Fn(&T) -> Duration + Send + Sync + 'static) -> Self {
        ProcessingTimeSessionWindows {
            gap: SessionGap::Dynamic(Arc::new(f)),
        }
    }
}

impl<T: 'static> WindowAssigner<T> for ProcessingTimeSessionWindows<T> {
    type W = TimeWindow;
    type DefaultTrigger = ProcessingTimeTrigger;
    fn assign(&self, e: &T, _: Timestamp, now: i64, out: &mut Vec<TimeWindow>) -> Result<()> {
        out.push(TimeWindow::new(now, now.saturating_add(self.gap.of(e)?)));
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> ProcessingTimeTrigger {
        ProcessingTimeTrigger
    }
    fn is_merging(&self) -> bool {
        true
    }
}

/// One window per key holding everything; fires only with a custom trigger (the default
/// never fires), e.g. count windows.
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalWindows;

impl GlobalWindows {
    /// The global window assigner.
    pub fn create() -> Self {
        GlobalWindows
    }
}

impl<T: 'static> WindowAssigner<T> for GlobalWindows {
    type W = GlobalWindow;
    type DefaultTrigger = NeverTrigger;
    fn assign(&self, _: &T, _: Timestamp, _: i64, out: &mut Vec<GlobalWindow>) -> Result<()> {
        out.push(GlobalWindow);
        Ok(())
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn default_trigger(&self) -> NeverTrigger {
        NeverTrigger
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows<A: WindowAssigner<u8, W = TimeWindow>>(a: &A, ts: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        a.assign(&0, ts, 0, &mut out).unwrap();
        out.iter().map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn sliding_assigns_size_over_slide_windows_latest_first() {
        let a = SlidingEventTimeWindows::of(Duration::from_secs(10), Duration::from_secs(5));
        assert_eq!(windows(&a, 12_000), vec![(10_000, 20_000), (5_000, 15_000)]);
        assert_eq!(windows(&a, 10_000), vec![(10_000, 20_000), (5_000, 15_000)]);
        assert_eq!(windows(&a, 9_999), vec![(5_000, 15_000), (0, 10_000)]);
        let a = SlidingEventTimeWindows::of(Duration::from_secs(10), Duration::from_secs(3));
        assert_eq!(
            windows(&a, 10_000),
            vec![(9_000, 19_000), (6_000, 16_000), (3_000, 13_000),]
        );
    }

    #[test]
    fn tumbling_with_offset() {
        let a = TumblingEventTimeWindows::of(Duration::from_secs(10))
            .with_offset(Duration::from_secs(3));
        assert_eq!(windows(&a, 12_000), vec![(3_000, 13_000)]);
        assert_eq!(windows(&a, 13_000), vec![(13_000, 23_000)]);
    }

    #[test]
    fn event_time_windows_need_timestamps() {
        let a = TumblingEventTimeWindows::of(Duration::from_secs(1));
        let err = a
            .assign(&0u8, NO_TIMESTAMP, 0, &mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("assign_timestamps_and_watermarks"));
    }
}
