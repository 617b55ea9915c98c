//! The window operator (Flink's `WindowOperator` and `EvictingWindowOperator`).
//!
//! Per key it keeps the live windows, each with its contents, trigger state and timers.
//! Semantics follow Flink exactly:
//!
//! * a window is *late* when `max_timestamp + allowed_lateness <= watermark` (event time);
//!   an element is not added to late windows, and when it was added to no window at all and
//!   `timestamp + allowed_lateness <= watermark` it goes to the late side output;
//! * the trigger is asked on every element and timer; a late-but-allowed element fires its
//!   window again at once (default trigger), producing an updated result;
//! * a window's state is dropped at its cleanup time, `max_timestamp + allowed_lateness`
//!   (event time) or `max_timestamp` (processing time);
//! * session windows merge when they overlap or touch; lateness is judged on the merged
//!   window;
//! * results carry the window's max timestamp.
//!
//! Contents are kept in one of three ways. With `reduce`/`aggregate` each window holds only
//! its accumulator. With a process function over aligned time windows (tumbling, sliding)
//! and the default trigger, each element is stored **once** per key, ordered by
//! timestamp, and a firing window reads the range `[start, end)`: a sliding window costs no
//! more per element than a tumbling one (Flink copies the element into every window). With
//! an evictor, or a custom trigger that may purge, each window keeps its own elements, as
//! in Flink.
//!
//! ## Checkpoints
//!
//! Everything a key holds is checkpointed as one entry of the keyed state
//! [`WINDOW_STATE`] (cut by key group, so a job restores at any parallelism):
//! its windows (merged session windows included) with their accumulators or elements,
//! trigger states, registered event- and processing-time timers and per-window function
//! state, the elements it shares between windows, and its function state across windows.
//! The copy is taken at the barrier; encoding runs on the checkpoint writer thread. On
//! restore the timer queues are rebuilt from the windows' timers: restored event-time
//! timers fire when the watermark (which the runtime restores with the operator) passes
//! them, and restored processing-time timers are requested from the task again.

use crate::assigner::WindowAssigner;
use crate::evictor::Evictor;
use crate::function::{WindowContext, WindowElements, WindowFn};
use crate::state::StateSlot;
use crate::trigger::{TimerRequest, Trigger, TriggerContext};
use crate::window::Window;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use strom_core::checkpoint::{RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{Collector, Data, Key, OutputTag, Result};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_types::{Record, Timestamp};

/// The name of the window operator's keyed state in checkpoints.
pub const WINDOW_STATE: &str = "window-contents";

/// How window contents are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// One accumulator per window.
    Accumulate,
    /// Elements stored once per key, windows read time ranges; holds the slide.
    Shared(i64),
    /// Elements stored per window (evictors, custom triggers).
    PerWindow,
}

struct Entry<Acc, TS, T> {
    acc: Option<Acc>,
    elements: Vec<Record<T>>,
    trigger: TS,
    event_timers: Vec<Timestamp>,
    proc_timers: Vec<i64>,
    window_state: StateSlot,
}

impl<Acc, TS: Default, T> Entry<Acc, TS, T> {
    fn new() -> Self {
        Entry {
            acc: None,
            elements: Vec::new(),
            trigger: TS::default(),
            event_timers: Vec::new(),
            proc_timers: Vec::new(),
            window_state: StateSlot::default(),
        }
    }
}

struct KeyState<W, Acc, TS, T> {
    windows: BTreeMap<W, Entry<Acc, TS, T>>,
    shared: BTreeMap<(Timestamp, u64), T>,
    global_state: StateSlot,
}

impl<W: Ord, Acc, TS, T> KeyState<W, Acc, TS, T> {
    fn new() -> Self {
        KeyState {
            windows: BTreeMap::new(),
            shared: BTreeMap::new(),
            global_state: StateSlot::default(),
        }
    }
    fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.shared.is_empty() && self.global_state.is_none()
    }
}

/// One window of a key as checkpointed.
#[derive(Serialize, Deserialize)]
struct WindowSnapshot<W, Acc, TS, T> {
    window: W,
    acc: Option<Acc>,
    elements: Vec<Record<T>>,
    trigger: TS,
    event_timers: Vec<Timestamp>,
    proc_timers: Vec<i64>,
    /// The encoded per-window state of the process function.
    window_state: Option<Vec<u8>>,
}

/// Everything a key holds, as checkpointed (one entry of the keyed state).
#[derive(Serialize, Deserialize)]
struct KeySnapshot<W, Acc, TS, T> {
    windows: Vec<WindowSnapshot<W, Acc, TS, T>>,
    /// Elements shared between windows: (timestamp, arrival sequence, value).
    shared: Vec<(Timestamp, u64, T)>,
    /// The encoded per-key state of the process function.
    global_state: Option<Vec<u8>>,
}

impl<W: Clone, Acc: Clone, TS: Clone, T: Clone> KeySnapshot<W, Acc, TS, T> {
    /// A copy of `ks` (function state encoded now).
    fn of(ks: &KeyState<W, Acc, TS, T>) -> Result<Self> {
        let windows = ks
            .windows
            .iter()
            .map(|(w, e)| {
                Ok(WindowSnapshot {
                    window: w.clone(),
                    acc: e.acc.clone(),
                    elements: e.elements.clone(),
                    trigger: e.trigger.clone(),
                    event_timers: e.event_timers.clone(),
                    proc_timers: e.proc_timers.clone(),
                    window_state: e.window_state.encoded()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(KeySnapshot {
            windows,
            shared: ks
                .shared
                .iter()
                .map(|(&(t, seq), v)| (t, seq, v.clone()))
                .collect(),
            global_state: ks.global_state.encoded()?,
        })
    }
}

type Timers<K, W> = BTreeMap<i64, Vec<(K, W)>>;
type KeyMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type OperatorKeyState<K, T, A, Tr, F> = KeyState<
    <A as WindowAssigner<T>>::W,
    <F as WindowFn<K, T, <A as WindowAssigner<T>>::W>>::Acc,
    <Tr as Trigger<T, <A as WindowAssigner<T>>::W>>::State,
    T,
>;

/// The checkpointed entries of an operator: (key, everything it holds).
type OperatorKeySnapshots<K, T, A, Tr, F> = Vec<(
    K,
    KeySnapshot<
        <A as WindowAssigner<T>>::W,
        <F as WindowFn<K, T, <A as WindowAssigner<T>>::W>>::Acc,
        <Tr as Trigger<T, <A as WindowAssigner<T>>::W>>::State,
        T,
    >,
)>;

/// Configuration of a window operator besides its parts.
pub struct WindowSettings<T> {
    /// How long after a window's end late elements are still added (event time).
    pub allowed_lateness: i64,
    /// Where elements too late for every window go.
    pub late_tag: Option<OutputTag<T>>,
    /// The trigger is the assigner's default one (allows shared element storage).
    pub default_trigger: bool,
}

/// The window operator over a keyed stream.
pub struct WindowOperator<K, T, A, Tr, E, F, KF>
where
    A: WindowAssigner<T>,
    Tr: Trigger<T, A::W>,
    F: WindowFn<K, T, A::W>,
{
    key_of: KF,
    assigner: A,
    trigger: Tr,
    evictor: Option<E>,
    func: F,
    lateness: i64,
    late_tag: Option<OutputTag<T>>,
    mode: Mode,
    event_time: bool,
    merging: bool,
    keys: KeyMap<K, OperatorKeyState<K, T, A, Tr, F>>,
    event_timers: Timers<K, A::W>,
    proc_timers: Timers<K, A::W>,
    assigned: Vec<A::W>,
    requests: Vec<TimerRequest>,
    seq: u64,
}

impl<K, T, A, Tr, E, F, KF> WindowOperator<K, T, A, Tr, E, F, KF>
where
    K: Hash + Eq + Clone + Send,
    T: Clone + Send + 'static,
    A: WindowAssigner<T>,
    Tr: Trigger<T, A::W>,
    E: Evictor<T, A::W>,
    F: WindowFn<K, T, A::W>,
    KF: Fn(&T) -> K + Send,
{
    /// A window operator.
    pub fn new(
        key_of: KF,
        assigner: A,
        trigger: Tr,
        evictor: Option<E>,
        func: F,
        settings: WindowSettings<T>,
    ) -> Self {
        let mode = if evictor.is_some() {
            Mode::PerWindow
        } else if !func.keeps_elements() {
            Mode::Accumulate
        } else {
            match assigner.slide() {
                Some(slide) if settings.default_trigger && !assigner.is_merging() => {
                    Mode::Shared(slide)
                }
                _ => Mode::PerWindow,
            }
        };
        WindowOperator {
            key_of,
            event_time: assigner.is_event_time(),
            merging: assigner.is_merging(),
            assigner,
            trigger,
            evictor,
            func,
            lateness: settings.allowed_lateness.max(0),
            late_tag: settings.late_tag,
            mode,
            keys: HashMap::default(),
            event_timers: BTreeMap::new(),
            proc_timers: BTreeMap::new(),
            assigned: Vec::new(),
            requests: Vec::new(),
            seq: 0,
        }
    }

    fn cleanup_time(&self, w: &A::W) -> Timestamp {
        if self.event_time {
            w.max_timestamp().saturating_add(self.lateness)
        } else {
            w.max_timestamp()
        }
    }

    fn is_window_late(&self, w: &A::W, watermark: Timestamp) -> bool {
        self.event_time && self.cleanup_time(w) <= watermark
    }
}

/// Apply timer requests of a trigger call to the entry and the operator's timer queues.
#[allow(clippy::too_many_arguments)]
fn apply_requests<K: Clone, W: Clone, Acc, TS, T>(
    requests: &mut Vec<TimerRequest>,
    key: &K,
    window: &W,
    entry: &mut Entry<Acc, TS, T>,
    event_timers: &mut Timers<K, W>,
    proc_timers: &mut Timers<K, W>,
    ctx: &OperatorContext,
) {
    for r in requests.drain(..) {
        match r {
            TimerRequest::RegisterEventTime(t) => {
                if !entry.event_timers.contains(&t) {
                    entry.event_timers.push(t);
                    event_timers
                        .entry(t)
                        .or_default()
                        .push((key.clone(), window.clone()));
                }
            }
            TimerRequest::DeleteEventTime(t) => entry.event_timers.retain(|x| *x != t),
            TimerRequest::RegisterProcessingTime(t) => {
                if !entry.proc_timers.contains(&t) {
                    entry.proc_timers.push(t);
                    proc_timers
                        .entry(t)
                        .or_default()
                        .push((key.clone(), window.clone()));
                    ctx.request_processing_time(t);
                }
            }
            TimerRequest::DeleteProcessingTime(t) => entry.proc_timers.retain(|x| *x != t),
        }
    }
}

impl<K, T, A, Tr, E, F, KF> WindowOperator<K, T, A, Tr, E, F, KF>
where
    K: Hash + Eq + Clone + Send,
    T: Clone + Send + 'static,
    A: WindowAssigner<T>,
    Tr: Trigger<T, A::W>,
    E: Evictor<T, A::W>,
    F: WindowFn<K, T, A::W>,
    KF: Fn(&T) -> K + Send,
{
    /// Evaluate window `w` of `key` and emit its result.
    fn emit(
        &mut self,
        key: &K,
        w: &A::W,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let Some(ks) = self.keys.get_mut(key) else {
            return Ok(());
        };
        let KeyState {
            windows,
            shared,
            global_state,
        } = ks;
        let Some(entry) = windows.get_mut(w) else {
            return Ok(());
        };
        let mut wctx = WindowContext {
            window: w,
            watermark: ctx.watermark.0,
            clock: &*ctx.clock,
            window_state: &mut entry.window_state,
            merging: self.merging,
            global_state,
            side: out.side,
        };
        let mut collector = Collector::new(out.records, w.max_timestamp());
        match self.mode {
            Mode::Accumulate => {
                if entry.acc.is_some() {
                    self.func.emit(
                        key,
                        &mut wctx,
                        entry.acc.as_ref(),
                        WindowElements::one(None),
                        &mut collector,
                    )?;
                }
            }
            Mode::Shared(_) => {
                if let Some((start, end)) = w.time_range()
                    && shared.range((start, 0)..(end, 0)).next().is_some()
                {
                    let range = shared.range((start, 0)..(end, 0));
                    self.func.emit(
                        key,
                        &mut wctx,
                        None,
                        WindowElements::shared(range),
                        &mut collector,
                    )?;
                }
            }
            Mode::PerWindow => {
                if entry.elements.is_empty() {
                    return Ok(());
                }
                if let Some(e) = self.evictor.as_mut() {
                    e.evict_before(&mut entry.elements, w);
                }
                if self.func.keeps_elements() {
                    self.func.emit(
                        key,
                        &mut wctx,
                        None,
                        WindowElements::records(&entry.elements),
                        &mut collector,
                    )?;
                } else {
                    let mut acc = None;
                    for r in &entry.elements {
                        self.func.add(&mut acc, &r.value)?;
                    }
                    self.func.emit(
                        key,
                        &mut wctx,
                        acc.as_ref(),
                        WindowElements::one(None),
                        &mut collector,
                    )?;
                }
                if let Some(e) = self.evictor.as_mut() {
                    e.evict_after(&mut entry.elements, w);
                }
            }
        }
        Ok(())
    }

    fn purge(&mut self, key: &K, w: &A::W) {
        if let Some(entry) = self.keys.get_mut(key).and_then(|ks| ks.windows.get_mut(w)) {
            entry.acc = None;
            entry.elements.clear();
        }
    }

    /// Remove everything of window `w` (its cleanup time came).
    fn clear_all(
        &mut self,
        key: &K,
        w: &A::W,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let Some(ks) = self.keys.get_mut(key) else {
            return Ok(());
        };
        if let Some(mut entry) = ks.windows.remove(w) {
            let mut tctx =
                TriggerContext::new(ctx.watermark.0, ctx.clock.now_ms(), &mut self.requests);
            self.trigger.clear(w, &mut entry.trigger, &mut tctx);
            self.requests.clear();
            let mut wctx = WindowContext {
                window: w,
                watermark: ctx.watermark.0,
                clock: &*ctx.clock,
                window_state: &mut entry.window_state,
                merging: self.merging,
                global_state: &mut ks.global_state,
                side: out.side,
            };
            self.func.clear(key, &mut wctx)?;
        }
        if let (Mode::Shared(slide), Some((start, _))) = (self.mode, w.time_range()) {
            let cutoff = start.saturating_add(slide);
            while let Some((&(t, _), _)) = ks.shared.first_key_value() {
                if t >= cutoff {
                    break;
                }
                ks.shared.pop_first();
            }
        }
        if ks.is_empty() {
            self.keys.remove(key);
        }
        Ok(())
    }

    /// A trigger answered `result` for window `w`: fire and/or purge.
    fn act(
        &mut self,
        result: crate::trigger::TriggerResult,
        key: &K,
        w: &A::W,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        if result.is_fire() {
            self.emit(key, w, ctx, out)?;
        }
        if result.is_purge() {
            self.purge(key, w);
        }
        Ok(())
    }

    /// Merge `new` with the key's intersecting windows; returns the window to use.
    fn merge_window(
        &mut self,
        key: &K,
        new: A::W,
        watermark: Timestamp,
        ctx: &OperatorContext,
    ) -> Result<Option<A::W>> {
        let ks = self.keys.entry(key.clone()).or_insert_with(KeyState::new);
        let overlapping: Vec<A::W> = ks
            .windows
            .keys()
            .filter(|w| w.intersects(&new))
            .cloned()
            .collect();
        let merged = overlapping.iter().fold(new.clone(), |acc, w| acc.cover(w));
        if self.is_window_late(&merged, watermark) {
            return Ok(None);
        }
        let ks = self.keys.entry(key.clone()).or_insert_with(KeyState::new);
        if overlapping.is_empty() || (overlapping.len() == 1 && overlapping[0] == merged) {
            ks.windows.entry(merged.clone()).or_insert_with(Entry::new);
            return Ok(Some(merged));
        }
        let mut target: Entry<F::Acc, Tr::State, T> = Entry::new();
        let mut states = Vec::with_capacity(overlapping.len());
        for w in &overlapping {
            if let Some(mut old) = ks.windows.remove(w) {
                let mut tctx =
                    TriggerContext::new(watermark, ctx.clock.now_ms(), &mut self.requests);
                self.trigger.clear(w, &mut old.trigger, &mut tctx);
                self.requests.clear();
                self.func.merge(&mut target.acc, old.acc.take())?;
                target.elements.append(&mut old.elements);
                states.push(old.trigger);
            }
        }
        let mut tctx = TriggerContext::new(watermark, ctx.clock.now_ms(), &mut self.requests);
        self.trigger
            .on_merge(&merged, &mut target.trigger, states, &mut tctx);
        apply_requests(
            &mut self.requests,
            key,
            &merged,
            &mut target,
            &mut self.event_timers,
            &mut self.proc_timers,
            ctx,
        );
        ks.windows.insert(merged.clone(), target);
        Ok(Some(merged))
    }

    fn process_record(
        &mut self,
        r: Record<T>,
        now: i64,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let key = (self.key_of)(&r.value);
        let watermark = ctx.watermark.0;
        let mut assigned = std::mem::take(&mut self.assigned);
        assigned.clear();
        self.assigner
            .assign(&r.value, r.timestamp, now, &mut assigned)?;
        if self.merging {
            let mut merged = Vec::with_capacity(assigned.len());
            for w in assigned.drain(..) {
                if let Some(m) = self.merge_window(&key, w, watermark, ctx)? {
                    merged.push(m);
                }
            }
            assigned.extend(merged);
        } else {
            assigned.retain(|w| !(self.event_time && self.cleanup_time(w) <= watermark));
        }
        if assigned.is_empty() {
            if self.event_time
                && r.timestamp.saturating_add(self.lateness) <= watermark
                && let Some(tag) = &self.late_tag
            {
                out.side.emit(tag, r);
            }
            self.assigned = assigned;
            return Ok(());
        }
        let storage_ts = if self.event_time { r.timestamp } else { now };
        let cleanup_request = |w: &A::W, this: &Self| {
            let t = this.cleanup_time(w);
            (t != i64::MAX).then_some(if this.event_time {
                TimerRequest::RegisterEventTime(t)
            } else {
                TimerRequest::RegisterProcessingTime(t)
            })
        };
        for (i, w) in assigned.iter().enumerate() {
            let cleanup = cleanup_request(w, self);
            let result = {
                // One hash lookup per record and window; the key is cloned only for a new key.
                let ks = match self.keys.get_mut(&key) {
                    Some(ks) => ks,
                    None => self.keys.entry(key.clone()).or_insert_with(KeyState::new),
                };
                if i == 0
                    && let Mode::Shared(_) = self.mode
                {
                    ks.shared.insert((storage_ts, self.seq), r.value.clone());
                    self.seq += 1;
                }
                let (entry, created) = match ks.windows.get_mut(w) {
                    Some(e) => (e, false),
                    None => (ks.windows.entry(w.clone()).or_insert_with(Entry::new), true),
                };
                match self.mode {
                    Mode::Accumulate => self.func.add(&mut entry.acc, &r.value)?,
                    Mode::PerWindow => entry.elements.push(r.clone()),
                    Mode::Shared(_) => {}
                }
                let mut tctx = TriggerContext::new(watermark, now, &mut self.requests);
                let result = self.trigger.on_element(
                    &r.value,
                    r.timestamp,
                    w,
                    &mut entry.trigger,
                    &mut tctx,
                );
                // The cleanup timer of a window is registered once, when it is created
                // (merged session windows are created by the merge, so always register).
                if (created || self.merging)
                    && let Some(c) = cleanup
                {
                    self.requests.push(c);
                }
                if !self.requests.is_empty() {
                    apply_requests(
                        &mut self.requests,
                        &key,
                        w,
                        entry,
                        &mut self.event_timers,
                        &mut self.proc_timers,
                        ctx,
                    );
                }
                result
            };
            if result != crate::trigger::TriggerResult::Continue {
                self.act(result, &key, w, ctx, out)?;
            }
        }
        self.assigned = assigned;
        Ok(())
    }

    fn fire_timer(
        &mut self,
        event: bool,
        time: i64,
        key: K,
        w: A::W,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let now = ctx.clock.now_ms();
        let result = {
            let Some(entry) = self
                .keys
                .get_mut(&key)
                .and_then(|ks| ks.windows.get_mut(&w))
            else {
                return Ok(());
            };
            let timers = if event {
                &mut entry.event_timers
            } else {
                &mut entry.proc_timers
            };
            let Some(pos) = timers.iter().position(|t| *t == time) else {
                return Ok(()); // deleted
            };
            timers.swap_remove(pos);
            let mut tctx = TriggerContext::new(ctx.watermark.0, now, &mut self.requests);
            let result = if event {
                self.trigger
                    .on_event_time(time, &w, &mut entry.trigger, &mut tctx)
            } else {
                self.trigger
                    .on_processing_time(time, &w, &mut entry.trigger, &mut tctx)
            };
            apply_requests(
                &mut self.requests,
                &key,
                &w,
                entry,
                &mut self.event_timers,
                &mut self.proc_timers,
                ctx,
            );
            result
        };
        self.act(result, &key, &w, ctx, out)?;
        if self.event_time == event && time == self.cleanup_time(&w) {
            self.clear_all(&key, &w, ctx, out)?;
        }
        Ok(())
    }
}

impl<K, T, A, Tr, E, F, KF> OneInputOperator<T, F::Out> for WindowOperator<K, T, A, Tr, E, F, KF>
where
    K: Key,
    T: Data,
    A: WindowAssigner<T>,
    Tr: Trigger<T, A::W>,
    E: Evictor<T, A::W>,
    F: WindowFn<K, T, A::W>,
    KF: Fn(&T) -> K + Send,
{
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<T>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let now = ctx.clock.now_ms();
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
        let wm = ctx.watermark.0;
        while let Some(entry) = self.event_timers.first_entry() {
            if *entry.key() > wm {
                break;
            }
            let (time, due) = entry.remove_entry();
            for (key, w) in due {
                self.fire_timer(true, time, key, w, ctx, out)?;
                out.flush_if_full()?;
            }
        }
        Ok(())
    }

    fn on_processing_time(
        &mut self,
        now_ms: i64,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        while let Some(entry) = self.proc_timers.first_entry() {
            if *entry.key() > now_ms {
                break;
            }
            let (time, due) = entry.remove_entry();
            for (key, w) in due {
                self.fire_timer(false, time, key, w, ctx, out)?;
                out.flush_if_full()?;
            }
        }
        if let Some((&next, _)) = self.proc_timers.first_key_value() {
            ctx.request_processing_time(next);
        }
        Ok(())
    }

    fn snapshot_state(&mut self, ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        let mut entries = Vec::with_capacity(self.keys.len());
        for (key, ks) in &self.keys {
            if !ks.is_empty() {
                entries.push((key.clone(), KeySnapshot::of(ks)?));
            }
        }
        out.keyed_deferred(WINDOW_STATE, ctx.max_parallelism, entries);
        Ok(())
    }

    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        let entries: OperatorKeySnapshots<K, T, A, Tr, F> = state.keyed_entries(WINDOW_STATE)?;
        for (key, snap) in entries {
            let ks = self.keys.entry(key.clone()).or_insert_with(KeyState::new);
            for w in snap.windows {
                for &t in &w.event_timers {
                    self.event_timers
                        .entry(t)
                        .or_default()
                        .push((key.clone(), w.window.clone()));
                }
                for &t in &w.proc_timers {
                    self.proc_timers
                        .entry(t)
                        .or_default()
                        .push((key.clone(), w.window.clone()));
                }
                ks.windows.insert(
                    w.window,
                    Entry {
                        acc: w.acc,
                        elements: w.elements,
                        trigger: w.trigger,
                        event_timers: w.event_timers,
                        proc_timers: w.proc_timers,
                        window_state: StateSlot::restored(w.window_state),
                    },
                );
            }
            for (t, seq, v) in snap.shared {
                ks.shared.insert((t, seq), v);
                self.seq = self.seq.max(seq.saturating_add(1));
            }
            ks.global_state = StateSlot::restored(snap.global_state);
        }
        if let Some((&next, _)) = self.proc_timers.first_key_value() {
            ctx.request_processing_time(next);
        }
        Ok(())
    }
}
