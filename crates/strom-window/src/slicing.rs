//! Incremental aggregation of aligned windows by *slices* (panes).
//!
//! Tumbling and sliding windows of size `size` starting every `slide` are unions of slices
//! of `gcd(size, slide)`. With `reduce` or `aggregate` and the default trigger, this
//! operator folds each element into the accumulator of its one slice — the same work per
//! element for a sliding window as for a tumbling one — and merges the slices of a window
//! when it fires (Flink, in contrast, updates one accumulator per window for each element).
//!
//! The observable behaviour is exactly [`WindowOperator`](crate::WindowOperator)'s with the
//! default event-time or processing-time trigger: a window fires when the watermark (or the
//! clock) reaches its max timestamp, a late-but-allowed element fires its windows again at
//! once, elements too late for all their windows go to the late side output, and a window's
//! state is dropped at its cleanup time. `tests/window_properties.rs` checks both operators
//! against the same brute-force reference.
//!
//! Checkpoints hold, per key, one entry of the keyed state
//! [`SLICES_STATE`]: the key's slices with their accumulators, its
//! live windows with their process-function state, its function state across windows, and
//! its pending fire and cleanup timers. On restore the timer queue is rebuilt from them
//! (event-time timers fire when the watermark passes them) and processing-time timers are
//! requested from the task again.

use crate::assigner::{Alignment, WindowAssigner};
use crate::function::{WindowContext, WindowElements, WindowFn};
use crate::state::StateSlot;
use crate::window::{TimeWindow, Window};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use strom_core::checkpoint::{RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{Collector, Key, OutputTag, Result, StromError};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_types::{Record, Timestamp};

/// The name of the sliced window operator's keyed state in checkpoints.
pub const SLICES_STATE: &str = "slices";

/// Per-window bookkeeping of a live window (its state for process functions).
#[derive(Default)]
struct Live {
    window_state: StateSlot,
}

struct KeySlices<Acc> {
    /// Slice start → accumulator of the elements in `[start, start + pane)`.
    slices: BTreeMap<Timestamp, Option<Acc>>,
    /// Live windows by start.
    windows: BTreeMap<Timestamp, Live>,
    global_state: StateSlot,
}

impl<Acc> KeySlices<Acc> {
    fn new() -> Self {
        KeySlices {
            slices: BTreeMap::new(),
            windows: BTreeMap::new(),
            global_state: StateSlot::default(),
        }
    }
}

/// One key's state as checkpointed.
#[derive(Serialize, Deserialize)]
struct SlicesSnapshot<Acc> {
    /// Slice start and accumulator.
    slices: Vec<(Timestamp, Option<Acc>)>,
    /// Live window start and its encoded process-function state.
    windows: Vec<(Timestamp, Option<Vec<u8>>)>,
    /// The encoded process-function state across windows.
    global_state: Option<Vec<u8>>,
    /// Pending timers: (time, window start).
    timers: Vec<(Timestamp, Timestamp)>,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The sliced window operator over a keyed stream.
pub struct SlicingWindowOperator<K, T, A, F, KF>
where
    A: WindowAssigner<T>,
    F: WindowFn<K, T, A::W>,
{
    key_of: KF,
    assigner: A,
    func: F,
    geometry: Alignment,
    pane: i64,
    lateness: i64,
    late_tag: Option<OutputTag<T>>,
    event_time: bool,
    keys: HashMap<K, KeySlices<F::Acc>, foldhash::fast::RandomState>,
    /// Fire time → (key, window start); a window's fire and cleanup times.
    timers: BTreeMap<Timestamp, Vec<(K, Timestamp)>>,
}

impl<K, T, A, F, KF> SlicingWindowOperator<K, T, A, F, KF>
where
    K: Hash + Eq + Clone + Send,
    T: Send + 'static,
    A: WindowAssigner<T>,
    F: WindowFn<K, T, A::W>,
    F::Acc: Clone,
    KF: Fn(&T) -> K + Send,
{
    /// A sliced operator, or `None` when the assigner's windows are not aligned.
    pub fn new(
        key_of: KF,
        assigner: A,
        func: F,
        allowed_lateness: i64,
        late_tag: Option<OutputTag<T>>,
    ) -> Option<Self> {
        let geometry = assigner.alignment()?;
        if geometry.size <= 0
            || geometry.slide <= 0
            || func.keeps_elements()
            || assigner.is_merging()
        {
            return None;
        }
        Some(SlicingWindowOperator {
            key_of,
            event_time: assigner.is_event_time(),
            assigner,
            func,
            pane: gcd(geometry.size, geometry.slide),
            geometry,
            lateness: allowed_lateness.max(0),
            late_tag,
            keys: HashMap::default(),
            timers: BTreeMap::new(),
        })
    }

    fn window(&self, start: Timestamp) -> Result<A::W> {
        A::W::from_time_range(start, start.saturating_add(self.geometry.size))
            .ok_or_else(|| StromError::Internal("sliced windows must be time windows".into()))
    }

    fn cleanup_time(&self, start: Timestamp) -> Timestamp {
        let max = start.saturating_add(self.geometry.size) - 1;
        if self.event_time {
            max.saturating_add(self.lateness)
        } else {
            max
        }
    }

    /// Merge the slices of window `start` of `key` and emit the result.
    fn fire(
        &mut self,
        key: &K,
        start: Timestamp,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let w = self.window(start)?;
        let Some(ks) = self.keys.get_mut(key) else {
            return Ok(());
        };
        let mut acc: Option<F::Acc> = None;
        let end = start.saturating_add(self.geometry.size);
        for (_, a) in ks.slices.range(start..end) {
            if let Some(a) = a {
                self.func.merge(&mut acc, Some(a.clone()))?;
            }
        }
        if acc.is_none() {
            return Ok(());
        }
        let live = ks.windows.entry(start).or_default();
        let mut wctx = WindowContext {
            window: &w,
            watermark: ctx.watermark.0,
            clock: &*ctx.clock,
            window_state: &mut live.window_state,
            merging: false,
            global_state: &mut ks.global_state,
            side: out.side,
        };
        let mut collector = Collector::new(out.records, w.max_timestamp());
        self.func.emit(
            key,
            &mut wctx,
            acc.as_ref(),
            WindowElements::one(None),
            &mut collector,
        )
    }

    /// Drop window `start` of `key`, and the slices no live window needs any more.
    fn clear(
        &mut self,
        key: &K,
        start: Timestamp,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let w = self.window(start)?;
        let Some(ks) = self.keys.get_mut(key) else {
            return Ok(());
        };
        if let Some(mut live) = ks.windows.remove(&start) {
            let mut wctx = WindowContext {
                window: &w,
                watermark: ctx.watermark.0,
                clock: &*ctx.clock,
                window_state: &mut live.window_state,
                merging: false,
                global_state: &mut ks.global_state,
                side: out.side,
            };
            self.func.clear(key, &mut wctx)?;
        }
        let cutoff = start.saturating_add(self.geometry.slide);
        while let Some((&s, _)) = ks.slices.first_key_value() {
            if s >= cutoff {
                break;
            }
            ks.slices.pop_first();
        }
        if ks.slices.is_empty() && ks.windows.is_empty() && ks.global_state.is_none() {
            self.keys.remove(key);
        }
        Ok(())
    }

    fn is_late(&self, start: Timestamp, wm: Timestamp) -> bool {
        self.event_time && self.cleanup_time(start) <= wm
    }

    fn process_record(
        &mut self,
        r: Record<T>,
        now: i64,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        if self.event_time && r.timestamp == strom_types::NO_TIMESTAMP {
            // The assigner's own check, with its message.
            self.assigner
                .assign(&r.value, r.timestamp, now, &mut Vec::new())?;
        }
        let t = if self.event_time { r.timestamp } else { now };
        let wm = ctx.watermark.0;
        let Alignment {
            size,
            slide,
            offset,
        } = self.geometry;
        // The latest window containing t; live windows are a prefix of the latest-first list,
        // so if the latest is late (or t lies in no window), all are.
        let last_start = TimeWindow::start_with_offset(t, offset, slide);
        let accepted = last_start > t - size && !self.is_late(last_start, wm);
        if !accepted {
            if self.event_time
                && r.timestamp.saturating_add(self.lateness) <= wm
                && let Some(tag) = &self.late_tag
            {
                out.side.emit(tag, r);
            }
            return Ok(());
        }
        let key = (self.key_of)(&r.value);
        let slice = TimeWindow::start_with_offset(t, offset, self.pane);
        let ks = match self.keys.get_mut(&key) {
            Some(ks) => ks,
            None => self.keys.entry(key.clone()).or_insert_with(KeySlices::new),
        };
        let (slot, new_slice) = match ks.slices.entry(slice) {
            std::collections::btree_map::Entry::Occupied(e) => (e.into_mut(), false),
            std::collections::btree_map::Entry::Vacant(e) => (e.insert(None), true),
        };
        self.func.add(slot, &r.value)?;
        // A window already past the watermark but within the allowed lateness fires again at
        // once. Every window containing t ends after t, so that needs t <= watermark.
        let refire = self.event_time && self.lateness > 0 && t <= wm;
        if !new_slice && !refire {
            // The common case: the slice's windows exist and have their timers.
            return Ok(());
        }
        let (event_time, lateness) = (self.event_time, self.lateness);
        let mut to_fire: Vec<Timestamp> = Vec::new();
        let mut start = last_start;
        while start > t - size {
            let w_max = start.saturating_add(size) - 1;
            if event_time && w_max.saturating_add(lateness) <= wm {
                break; // this window and all earlier ones are cleaned up
            }
            let fire_now = event_time && w_max <= wm;
            if let std::collections::btree_map::Entry::Vacant(v) = ks.windows.entry(start) {
                v.insert(Live::default());
                if !fire_now {
                    self.timers
                        .entry(w_max)
                        .or_default()
                        .push((key.clone(), start));
                    if !event_time {
                        ctx.request_processing_time(w_max);
                    }
                }
                let cleanup = if event_time {
                    w_max.saturating_add(lateness)
                } else {
                    w_max
                };
                if cleanup != w_max && cleanup != i64::MAX {
                    self.timers
                        .entry(cleanup)
                        .or_default()
                        .push((key.clone(), start));
                }
            }
            if fire_now {
                to_fire.push(start);
            }
            start -= slide;
        }
        for start in to_fire {
            self.fire(&key, start, ctx, out)?;
        }
        Ok(())
    }

    fn on_time(
        &mut self,
        time: Timestamp,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > time {
                break;
            }
            let (t, due) = entry.remove_entry();
            for (key, start) in due {
                let live = self
                    .keys
                    .get(&key)
                    .is_some_and(|ks| ks.windows.contains_key(&start));
                if !live {
                    continue;
                }
                if t == start.saturating_add(self.geometry.size) - 1 {
                    self.fire(&key, start, ctx, out)?;
                }
                if t == self.cleanup_time(start) {
                    self.clear(&key, start, ctx, out)?;
                }
                out.flush_if_full()?;
            }
        }
        Ok(())
    }
}

impl<K, T, A, F, KF> OneInputOperator<T, F::Out> for SlicingWindowOperator<K, T, A, F, KF>
where
    K: Key,
    T: Send + 'static,
    A: WindowAssigner<T>,
    F: WindowFn<K, T, A::W>,
    KF: Fn(&T) -> K + Send,
{
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<T>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let now = if self.event_time {
            0
        } else {
            ctx.clock.now_ms()
        };
        for r in batch.drain(..) {
            self.process_record(r, now, ctx, out)?;
        }
        Ok(())
    }

    fn on_watermark(
        &mut self,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        if self.event_time {
            self.on_time(ctx.watermark.0, ctx, out)?;
        }
        Ok(())
    }

    fn on_processing_time(
        &mut self,
        now_ms: i64,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        if !self.event_time {
            self.on_time(now_ms, ctx, out)?;
            if let Some((&next, _)) = self.timers.first_key_value() {
                ctx.request_processing_time(next);
            }
        }
        Ok(())
    }

    fn snapshot_state(&mut self, ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        let mut timers: HashMap<&K, Vec<(Timestamp, Timestamp)>, foldhash::fast::RandomState> =
            HashMap::default();
        for (&t, due) in &self.timers {
            for (key, start) in due {
                timers.entry(key).or_default().push((t, *start));
            }
        }
        let mut entries = Vec::with_capacity(self.keys.len());
        for (key, ks) in &self.keys {
            let windows = ks
                .windows
                .iter()
                .map(|(&start, live)| Ok((start, live.window_state.encoded()?)))
                .collect::<Result<Vec<_>>>()?;
            let snap = SlicesSnapshot {
                slices: ks.slices.iter().map(|(&s, a)| (s, a.clone())).collect(),
                windows,
                global_state: ks.global_state.encoded()?,
                // Timers of windows no longer live are dropped: they would fire nothing.
                timers: timers.remove(key).unwrap_or_default(),
            };
            entries.push((key.clone(), snap));
        }
        out.keyed_deferred(SLICES_STATE, ctx.max_parallelism, entries);
        Ok(())
    }

    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        let entries: Vec<(K, SlicesSnapshot<F::Acc>)> = state.keyed_entries(SLICES_STATE)?;
        for (key, snap) in entries {
            for (t, start) in snap.timers {
                self.timers.entry(t).or_default().push((key.clone(), start));
            }
            let ks = self.keys.entry(key).or_insert_with(KeySlices::new);
            ks.slices.extend(snap.slices);
            ks.windows
                .extend(snap.windows.into_iter().map(|(start, ws)| {
                    (
                        start,
                        Live {
                            window_state: StateSlot::restored(ws),
                        },
                    )
                }));
            ks.global_state = StateSlot::restored(snap.global_state);
        }
        if !self.event_time
            && let Some((&next, _)) = self.timers.first_key_value()
        {
            ctx.request_processing_time(next);
        }
        Ok(())
    }
}
