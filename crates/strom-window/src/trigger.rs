//! Triggers decide when a window is evaluated (Flink's `Trigger`s).
//!
//! A trigger is called for every element added to a window, and when a timer it
//! registered fires; it answers with a [`TriggerResult`]. Each (key, window) has its own
//! trigger state, of the trigger's `State` type (a count, a next fire time, …).

use crate::window::Window;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use strom_types::Timestamp;

/// What to do with a window after a trigger call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerResult {
    /// Nothing.
    Continue,
    /// Evaluate the window function and emit the result; keep the contents.
    Fire,
    /// Drop the window's contents without emitting.
    Purge,
    /// Emit, then drop the contents.
    FireAndPurge,
}

impl TriggerResult {
    /// Whether the window is evaluated.
    pub fn is_fire(self) -> bool {
        matches!(self, TriggerResult::Fire | TriggerResult::FireAndPurge)
    }
    /// Whether the contents are dropped.
    pub fn is_purge(self) -> bool {
        matches!(self, TriggerResult::Purge | TriggerResult::FireAndPurge)
    }
}

/// A timer request made by a trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerRequest {
    /// Call `on_event_time` when the watermark reaches this time.
    RegisterEventTime(Timestamp),
    /// Cancel an event-time timer.
    DeleteEventTime(Timestamp),
    /// Call `on_processing_time` when the clock reaches this time.
    RegisterProcessingTime(i64),
    /// Cancel a processing-time timer.
    DeleteProcessingTime(i64),
}

/// What a trigger sees and can do: the current times and timer (de)registration. Timers
/// are scoped to the current key and window and deduplicated per timestamp.
pub struct TriggerContext<'a> {
    watermark: Timestamp,
    processing_time: i64,
    requests: &'a mut Vec<TimerRequest>,
}

impl<'a> TriggerContext<'a> {
    /// A context (operator use).
    pub fn new(
        watermark: Timestamp,
        processing_time: i64,
        requests: &'a mut Vec<TimerRequest>,
    ) -> Self {
        TriggerContext {
            watermark,
            processing_time,
            requests,
        }
    }
    /// The operator's current event-time watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }
    /// The current processing time.
    pub fn current_processing_time(&self) -> i64 {
        self.processing_time
    }
    /// Register an event-time timer.
    pub fn register_event_time_timer(&mut self, time: Timestamp) {
        self.requests.push(TimerRequest::RegisterEventTime(time));
    }
    /// Delete an event-time timer.
    pub fn delete_event_time_timer(&mut self, time: Timestamp) {
        self.requests.push(TimerRequest::DeleteEventTime(time));
    }
    /// Register a processing-time timer.
    pub fn register_processing_time_timer(&mut self, time: i64) {
        self.requests
            .push(TimerRequest::RegisterProcessingTime(time));
    }
    /// Delete a processing-time timer.
    pub fn delete_processing_time_timer(&mut self, time: i64) {
        self.requests.push(TimerRequest::DeleteProcessingTime(time));
    }
}

/// Decides when a window fires (Flink's `Trigger`).
///
/// Contract: `on_element` is called once per element and window it is added to; the
/// `on_*_time` methods when a timer this trigger registered for the window fires; `clear`
/// when the window is removed (delete timers there). Merging triggers (for sessions) return
/// true from `can_merge` and combine the merged windows' states in `on_merge`.
pub trait Trigger<T, W: Window>: Send {
    /// Per (key, window) state (a count, a next fire time, …); cloned and serialized when
    /// the operator's state is checkpointed.
    type State: Default + Clone + Serialize + DeserializeOwned + Send + 'static;

    /// An element was added to `window`.
    fn on_element(
        &mut self,
        element: &T,
        timestamp: Timestamp,
        window: &W,
        state: &mut Self::State,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult;

    /// An event-time timer fired.
    fn on_event_time(
        &mut self,
        time: Timestamp,
        window: &W,
        state: &mut Self::State,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult;

    /// A processing-time timer fired.
    fn on_processing_time(
        &mut self,
        time: i64,
        window: &W,
        state: &mut Self::State,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult;

    /// Whether the trigger supports merging windows.
    fn can_merge(&self) -> bool {
        false
    }

    /// Windows were merged into `window`; `merged` are the states of the merged windows.
    fn on_merge(
        &mut self,
        _window: &W,
        _state: &mut Self::State,
        _merged: Vec<Self::State>,
        _ctx: &mut TriggerContext<'_>,
    ) {
    }

    /// The window is being removed.
    fn clear(&mut self, _window: &W, _state: &mut Self::State, _ctx: &mut TriggerContext<'_>) {}
}

/// Fires once the watermark passes the window's end (the default in event time); a late
/// element within the allowed lateness fires the window again at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct EventTimeTrigger;

impl<T, W: Window> Trigger<T, W> for EventTimeTrigger {
    type State = ();

    #[inline]
    fn on_element(
        &mut self,
        _: &T,
        _: Timestamp,
        w: &W,
        _: &mut (),
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        if w.max_timestamp() <= ctx.current_watermark() {
            TriggerResult::Fire
        } else {
            ctx.register_event_time_timer(w.max_timestamp());
            TriggerResult::Continue
        }
    }
    fn on_event_time(
        &mut self,
        time: Timestamp,
        w: &W,
        _: &mut (),
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        if time == w.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_processing_time(
        &mut self,
        _: i64,
        _: &W,
        _: &mut (),
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge(&mut self, w: &W, _: &mut (), _: Vec<()>, ctx: &mut TriggerContext<'_>) {
        if w.max_timestamp() > ctx.current_watermark() {
            ctx.register_event_time_timer(w.max_timestamp());
        }
    }
    fn clear(&mut self, w: &W, _: &mut (), ctx: &mut TriggerContext<'_>) {
        ctx.delete_event_time_timer(w.max_timestamp());
    }
}

/// Fires when the clock passes the window's end (the default in processing time).
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessingTimeTrigger;

impl<T, W: Window> Trigger<T, W> for ProcessingTimeTrigger {
    type State = ();

    fn on_element(
        &mut self,
        _: &T,
        _: Timestamp,
        w: &W,
        _: &mut (),
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        ctx.register_processing_time_timer(w.max_timestamp());
        TriggerResult::Continue
    }
    fn on_event_time(
        &mut self,
        _: Timestamp,
        _: &W,
        _: &mut (),
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(
        &mut self,
        _: i64,
        _: &W,
        _: &mut (),
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Fire
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge(&mut self, w: &W, _: &mut (), _: Vec<()>, ctx: &mut TriggerContext<'_>) {
        if w.max_timestamp() > ctx.current_processing_time() {
            ctx.register_processing_time_timer(w.max_timestamp());
        }
    }
    fn clear(&mut self, w: &W, _: &mut (), ctx: &mut TriggerContext<'_>) {
        ctx.delete_processing_time_timer(w.max_timestamp());
    }
}

/// Fires every `count` elements of a window.
#[derive(Clone, Copy, Debug)]
pub struct CountTrigger {
    count: u64,
}

impl CountTrigger {
    /// Fire every `count` elements.
    pub fn of(count: u64) -> Self {
        CountTrigger {
            count: count.max(1),
        }
    }
}

impl<T, W: Window> Trigger<T, W> for CountTrigger {
    type State = u64;

    fn on_element(
        &mut self,
        _: &T,
        _: Timestamp,
        _: &W,
        n: &mut u64,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        *n += 1;
        if *n >= self.count {
            *n = 0;
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }
    fn on_event_time(
        &mut self,
        _: Timestamp,
        _: &W,
        _: &mut u64,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(
        &mut self,
        _: i64,
        _: &W,
        _: &mut u64,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge(&mut self, _: &W, n: &mut u64, merged: Vec<u64>, _: &mut TriggerContext<'_>) {
        *n += merged.into_iter().sum::<u64>();
    }
    fn clear(&mut self, _: &W, n: &mut u64, _: &mut TriggerContext<'_>) {
        *n = 0;
    }
}

/// Fires repeatedly every `interval` of event time while the window is open, and at its
/// end (Flink's `ContinuousEventTimeTrigger`).
#[derive(Clone, Copy, Debug)]
pub struct ContinuousEventTimeTrigger {
    interval: i64,
}

impl ContinuousEventTimeTrigger {
    /// Fire every `interval` of event time.
    pub fn of(interval: Duration) -> Self {
        ContinuousEventTimeTrigger {
            interval: (interval.as_millis() as i64).max(1),
        }
    }

    fn register_next(
        &self,
        time: i64,
        w_max: i64,
        next: &mut Option<i64>,
        ctx: &mut TriggerContext<'_>,
    ) {
        let t = (time.saturating_add(self.interval)).min(w_max);
        *next = Some(t);
        ctx.register_event_time_timer(t);
    }
}

impl<T, W: Window> Trigger<T, W> for ContinuousEventTimeTrigger {
    type State = Option<i64>;

    fn on_element(
        &mut self,
        _: &T,
        ts: Timestamp,
        w: &W,
        next: &mut Option<i64>,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        if w.max_timestamp() <= ctx.current_watermark() {
            return TriggerResult::Fire;
        }
        ctx.register_event_time_timer(w.max_timestamp());
        if next.is_none() {
            // Java's `%` (truncating), as Flink: for negative timestamps the first firing
            // is not aligned to the interval.
            let start = ts - ts % self.interval;
            self.register_next(start, w.max_timestamp(), next, ctx);
        }
        TriggerResult::Continue
    }
    fn on_event_time(
        &mut self,
        time: Timestamp,
        w: &W,
        next: &mut Option<i64>,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        if time == w.max_timestamp() {
            return TriggerResult::Fire;
        }
        if *next == Some(time) {
            *next = None;
            self.register_next(time, w.max_timestamp(), next, ctx);
            return TriggerResult::Fire;
        }
        TriggerResult::Continue
    }
    fn on_processing_time(
        &mut self,
        _: i64,
        _: &W,
        _: &mut Option<i64>,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
    fn on_merge(
        &mut self,
        w: &W,
        next: &mut Option<i64>,
        merged: Vec<Option<i64>>,
        ctx: &mut TriggerContext<'_>,
    ) {
        let min = merged.into_iter().flatten().chain(*next).min();
        if let Some(t) = min {
            *next = Some(t);
            if t <= w.max_timestamp() {
                ctx.register_event_time_timer(t);
            }
        }
    }
    fn clear(&mut self, _: &W, next: &mut Option<i64>, ctx: &mut TriggerContext<'_>) {
        if let Some(t) = next.take() {
            ctx.delete_event_time_timer(t);
        }
    }
}

/// Turns every `Fire` of the inner trigger into `FireAndPurge`.
#[derive(Clone, Copy, Debug)]
pub struct PurgingTrigger<Tr>(pub Tr);

impl<Tr> PurgingTrigger<Tr> {
    /// Purge after every firing of `inner`.
    pub fn of(inner: Tr) -> Self {
        PurgingTrigger(inner)
    }
}

fn purging(r: TriggerResult) -> TriggerResult {
    if r.is_fire() {
        TriggerResult::FireAndPurge
    } else {
        r
    }
}

impl<T, W: Window, Tr: Trigger<T, W>> Trigger<T, W> for PurgingTrigger<Tr> {
    type State = Tr::State;

    fn on_element(
        &mut self,
        e: &T,
        ts: Timestamp,
        w: &W,
        s: &mut Tr::State,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        purging(self.0.on_element(e, ts, w, s, ctx))
    }
    fn on_event_time(
        &mut self,
        t: Timestamp,
        w: &W,
        s: &mut Tr::State,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        purging(self.0.on_event_time(t, w, s, ctx))
    }
    fn on_processing_time(
        &mut self,
        t: i64,
        w: &W,
        s: &mut Tr::State,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        purging(self.0.on_processing_time(t, w, s, ctx))
    }
    fn can_merge(&self) -> bool {
        self.0.can_merge()
    }
    fn on_merge(
        &mut self,
        w: &W,
        s: &mut Tr::State,
        merged: Vec<Tr::State>,
        ctx: &mut TriggerContext<'_>,
    ) {
        self.0.on_merge(w, s, merged, ctx);
    }
    fn clear(&mut self, w: &W, s: &mut Tr::State, ctx: &mut TriggerContext<'_>) {
        self.0.clear(w, s, ctx);
    }
}

/// Never fires (the default of global windows).
#[derive(Clone, Copy, Debug, Default)]
pub struct NeverTrigger;

impl<T, W: Window> Trigger<T, W> for NeverTrigger {
    type State = ();
    fn on_element(
        &mut self,
        _: &T,
        _: Timestamp,
        _: &W,
        _: &mut (),
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_event_time(
        &mut self,
        _: Timestamp,
        _: &W,
        _: &mut (),
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(
        &mut self,
        _: i64,
        _: &W,
        _: &mut (),
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn can_merge(&self) -> bool {
        true
    }
}
