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
//! * results carry the window's max timestamp;
//! * a process function sees a window's elements in the order they arrived.
//!
//! Contents are kept in one of three ways. With `reduce`/`aggregate` each window holds only
//! its accumulator. With a process function over aligned time windows (tumbling, sliding)
//! and the default trigger, each element is stored **once** per key, in the block of time
//! it falls in, and a firing window reads the blocks it covers: a sliding window costs no
//! more per element than a tumbling one (Flink copies the element into every window). With
//! an evictor, or a custom trigger that may purge, each window keeps its own elements, as
//! in Flink.
//!
//! ## State
//!
//! Everything lives in the operator's [`KeyedStateStore`] on the job's state backend (heap
//! or disk), under [`Namespaced`] keys `(key, namespace)` in the key's key group, as Flink
//! namespaces window state by window ([`WindowNamespace`]):
//!
//! * [`WINDOW_STATE`]: `(key, window)` → the window's accumulator, trigger state,
//!   registered event- and processing-time timers, and the process function's per-window
//!   state (encoded);
//! * [`WINDOW_ELEMENTS_STATE`]: `(key, window)` → the window's own elements, when windows
//!   keep their own;
//! * [`SHARED_ELEMENTS_STATE`]: `(key, block start)` → the elements shared by overlapping
//!   windows whose timestamps fall in the block, each with its arrival number. Blocks are
//!   as long as make at most eight per window, so a firing window reads at most nine
//!   entries whatever the slide;
//! * [`GLOBAL_FUNCTION_STATE`]: `(key, key scope)` → the process function's per-key state;
//! * [`MERGING_WINDOWS_STATE`]: `(key, key scope)` → the key's live windows (merging
//!   assigners only: a new session is merged with those it touches).
//!
//! A restored subtask numbers new arrivals after the largest number it restored.
//! Checkpoints are the store's: incremental where the backend and the runtime allow, and
//! nothing is copied at the barrier but what changed.
//!
//! ## Timers
//!
//! The event- and processing-time timer queues are in memory and not checkpointed: every
//! timer is also recorded in its window's entry, and a restore rebuilds the queues from
//! the restored entries. Restored event-time timers fire when the watermark (which the
//! runtime restores with the operator) passes them; restored processing-time timers are
//! requested from the task again. A timer whose window is gone, or that the trigger
//! deleted, is skipped when it comes up.

use crate::assigner::WindowAssigner;
use crate::evictor::Evictor;
use crate::function::{WindowContext, WindowElements, WindowFn};
use crate::slicing::{block_length, gcd};
use crate::state::StateSlot;
use crate::trigger::{TimerRequest, Trigger, TriggerContext, TriggerResult};
use crate::window::{TimeWindow, Window};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use strom_core::checkpoint::{CheckpointId, RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{Collector, Data, Key, OutputTag, Result};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_state::{KeyedStateBackend, KeyedStateStore, Namespaced, StateName};
use strom_types::{Record, Timestamp};

/// The keyed state of each window's accumulator, trigger state, timers and per-window
/// function state: `(key, window)`.
pub const WINDOW_STATE: &str = "window-contents";
/// The keyed state of the elements a window keeps for itself: `(key, window)`.
pub const WINDOW_ELEMENTS_STATE: &str = "window-elements";
/// The keyed state of elements shared by overlapping windows: `(key, block start)`.
pub const SHARED_ELEMENTS_STATE: &str = "window-shared-elements";
/// The keyed state of the process function's per-key state: `(key, key scope)`.
pub const GLOBAL_FUNCTION_STATE: &str = "window-global-state";
/// The keyed state of a key's live windows under a merging assigner: `(key, key scope)`.
pub const MERGING_WINDOWS_STATE: &str = "window-merging-set";

/// The namespace of the window operator's state within a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WindowNamespace<W> {
    /// State of the key as a whole (the function's per-key state, the merging set).
    Key,
    /// State of one window.
    Window(W),
    /// Elements shared between overlapping windows whose timestamps fall in the block
    /// starting here.
    Block(Timestamp),
}

/// What a window holds besides its elements (one entry of [`WINDOW_STATE`]).
#[derive(Clone, Serialize, Deserialize)]
struct WindowEntry<Acc, TS> {
    acc: Option<Acc>,
    trigger: TS,
    event_timers: Vec<Timestamp>,
    proc_timers: Vec<i64>,
    /// The encoded per-window state of the process function.
    window_state: Option<Vec<u8>>,
}

impl<Acc, TS: Default> WindowEntry<Acc, TS> {
    fn new() -> Self {
        WindowEntry {
            acc: None,
            trigger: TS::default(),
            event_timers: Vec::new(),
            proc_timers: Vec::new(),
            window_state: None,
        }
    }
}

/// What a firing window hands its function.
enum Contents<'a, Acc, T> {
    /// The window's accumulator.
    Acc(&'a Acc),
    /// The window's own elements (folded into an accumulator when the function keeps
    /// none).
    Records(&'a [Record<T>]),
    /// Shared elements in arrival order.
    Arrivals(&'a [(u64, T)]),
}

/// Elements of one block shared between windows: (arrival number, timestamp, value).
type SharedBlock<T> = Vec<(u64, Timestamp, T)>;

/// How window contents are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// One accumulator per window.
    Accumulate,
    /// Elements stored once per key in blocks of time, windows read the blocks they cover.
    Shared {
        /// Distance between window starts, ms.
        slide: i64,
        /// Window alignment offset, ms.
        offset: i64,
        /// Block length, ms.
        block: i64,
    },
    /// Elements stored per window (evictors, custom triggers, merging windows).
    PerWindow,
}

/// The state names, made once.
struct Names {
    contents: StateName,
    elements: StateName,
    shared: StateName,
    global: StateName,
    merging: StateName,
}

type Nk<K, W> = Namespaced<K, WindowNamespace<W>>;
type Timers<K, W> = BTreeMap<i64, Vec<(K, W)>>;
type EntryOf<K, T, A, Tr, F> = WindowEntry<
    <F as WindowFn<K, T, <A as WindowAssigner<T>>::W>>::Acc,
    <Tr as Trigger<T, <A as WindowAssigner<T>>::W>>::State,
>;

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
    store: KeyedStateStore<Nk<K, A::W>>,
    names: Names,
    event_timers: Timers<K, A::W>,
    proc_timers: Timers<K, A::W>,
    assigned: Vec<A::W>,
    requests: Vec<TimerRequest>,
    /// The next arrival number of a shared element.
    seq: u64,
}

/// Apply timer requests of a trigger call to the entry and the operator's timer queues.
#[allow(clippy::too_many_arguments)]
fn apply_requests<K: Clone, W: Clone, Acc, TS>(
    requests: &mut Vec<TimerRequest>,
    key: &K,
    window: &W,
    entry: &mut WindowEntry<Acc, TS>,
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

/// The new encoding of a function state slot when it differs from `old`.
fn changed(old: &Option<Vec<u8>>, slot: &StateSlot) -> Result<Option<Option<Vec<u8>>>> {
    let new = slot.encoded()?;
    Ok((new != *old).then_some(new))
}

impl<K, T, A, Tr, E, F, KF> WindowOperator<K, T, A, Tr, E, F, KF>
where
    K: Key,
    T: Data,
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
            match assigner.alignment() {
                Some(a)
                    if settings.default_trigger
                        && !assigner.is_merging()
                        && a.size > 0
                        && a.slide > 0 =>
                {
                    Mode::Shared {
                        slide: a.slide,
                        offset: a.offset,
                        block: block_length(a.size, gcd(a.size, a.slide)),
                    }
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
            store: KeyedStateStore::default(),
            names: Names {
                contents: Arc::from(WINDOW_STATE),
                elements: Arc::from(WINDOW_ELEMENTS_STATE),
                shared: Arc::from(SHARED_ELEMENTS_STATE),
                global: Arc::from(GLOBAL_FUNCTION_STATE),
                merging: Arc::from(MERGING_WINDOWS_STATE),
            },
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

    /// The start of the shared-elements block holding timestamp `t`.
    fn block_of(t: Timestamp, offset: i64, block: i64) -> Timestamp {
        TimeWindow::start_with_offset(t, offset, block)
    }

    /// The function's per-key state: its stored encoding and a slot over it.
    fn load_global(&mut self, nk: &mut Nk<K, A::W>) -> Result<(Option<Vec<u8>>, StateSlot)> {
        nk.1 = WindowNamespace::Key;
        let g = self
            .store
            .read_entry::<Vec<u8>, _>(&self.names.global, nk, |b| b.cloned())?;
        Ok((g.clone(), StateSlot::restored(g)))
    }

    /// Write the function's per-key state back if it changed.
    fn save_global(
        &mut self,
        nk: &mut Nk<K, A::W>,
        old: Option<Vec<u8>>,
        slot: &StateSlot,
    ) -> Result<()> {
        if let Some(new) = changed(&old, slot)? {
            nk.1 = WindowNamespace::Key;
            self.store
                .with_entry::<Vec<u8>, _>(&self.names.global, nk, |s| *s = new)?;
        }
        Ok(())
    }

    /// Evaluate window `w` of key `nk.0` and emit its result.
    fn emit(
        &mut self,
        nk: &mut Nk<K, A::W>,
        w: &A::W,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let (global_old, mut global) = self.load_global(nk)?;
        nk.1 = WindowNamespace::Window(w.clone());
        let (watermark, clock, merging) = (ctx.watermark.0, &*ctx.clock, self.merging);
        let keeps_elements = self.func.keeps_elements();
        let func = &mut self.func;
        let key = &nk.0;
        // Run the function on the window, with its per-window state encoded as `ws`; the
        // state's new encoding when it changed.
        let mut call = |ws: &Option<Vec<u8>>,
                        contents: Contents<'_, F::Acc, T>|
         -> Result<Option<Option<Vec<u8>>>> {
            let mut slot = StateSlot::restored(ws.clone());
            let mut wctx = WindowContext {
                window: w,
                watermark,
                clock,
                window_state: &mut slot,
                merging,
                global_state: &mut global,
                side: &mut *out.side,
            };
            let mut collector = Collector::new(&mut *out.records, w.max_timestamp());
            match contents {
                Contents::Acc(acc) => func.emit(
                    key,
                    &mut wctx,
                    Some(acc),
                    WindowElements::one(None),
                    &mut collector,
                )?,
                Contents::Records(r) if keeps_elements => func.emit(
                    key,
                    &mut wctx,
                    None,
                    WindowElements::records(r),
                    &mut collector,
                )?,
                Contents::Records(r) => {
                    let mut acc = None;
                    for e in r {
                        func.add(&mut acc, &e.value)?;
                    }
                    func.emit(
                        key,
                        &mut wctx,
                        acc.as_ref(),
                        WindowElements::one(None),
                        &mut collector,
                    )?
                }
                Contents::Arrivals(a) => func.emit(
                    key,
                    &mut wctx,
                    None,
                    WindowElements::arrivals(a),
                    &mut collector,
                )?,
            }
            changed(ws, &slot)
        };
        let contents = &self.names.contents;
        // The window's encoded per-window state, `None` when the window is gone.
        let window_state = |store: &mut KeyedStateStore<Nk<K, A::W>>, nk: &Nk<K, A::W>| {
            store.read_entry::<EntryOf<K, T, A, Tr, F>, _>(contents, nk, |e| {
                e.map(|e| e.window_state.clone())
            })
        };
        let new_window_state = match self.mode {
            Mode::Accumulate => self.store.read_entry::<EntryOf<K, T, A, Tr, F>, _>(
                contents,
                nk,
                |e| match e {
                    Some(WindowEntry {
                        acc: Some(acc),
                        window_state,
                        ..
                    }) => call(window_state, Contents::Acc(acc)),
                    _ => Ok(None),
                },
            )??,
            Mode::PerWindow => {
                let Some(ws) = window_state(&mut self.store, nk)? else {
                    return Ok(());
                };
                match self.evictor.as_mut() {
                    // Without an evictor the elements are only read (not written again by
                    // the next incremental checkpoint).
                    None => self.store.read_entry::<Vec<Record<T>>, _>(
                        &self.names.elements,
                        nk,
                        |elements| match elements {
                            Some(els) if !els.is_empty() => call(&ws, Contents::Records(els)),
                            _ => Ok(None),
                        },
                    )??,
                    Some(evictor) => self.store.with_entry::<Vec<Record<T>>, _>(
                        &self.names.elements,
                        nk,
                        |slot| {
                            let Some(els) = slot.as_mut().filter(|els| !els.is_empty()) else {
                                return Ok(None);
                            };
                            evictor.evict_before(els, w);
                            let new = call(&ws, Contents::Records(els))?;
                            evictor.evict_after(els, w);
                            if els.is_empty() {
                                *slot = None;
                            }
                            Ok(new)
                        },
                    )??,
                }
            }
            Mode::Shared { offset, block, .. } => {
                let Some((start, end)) = w.time_range() else {
                    return Ok(());
                };
                let Some(ws) = window_state(&mut self.store, nk)? else {
                    return Ok(());
                };
                let mut items: Vec<(u64, T)> = Vec::new();
                let mut b = Self::block_of(start, offset, block);
                while b < end {
                    nk.1 = WindowNamespace::Block(b);
                    self.store.read_entry::<SharedBlock<T>, _>(
                        &self.names.shared,
                        nk,
                        |elements| {
                            for (seq, t, v) in elements.into_iter().flatten() {
                                if *t >= start && *t < end {
                                    items.push((*seq, v.clone()));
                                }
                            }
                        },
                    )?;
                    b = b.saturating_add(block);
                }
                nk.1 = WindowNamespace::Window(w.clone());
                if items.is_empty() {
                    return Ok(());
                }
                items.sort_unstable_by_key(|(seq, _)| *seq);
                call(&ws, Contents::Arrivals(&items))?
            }
        };
        if let Some(new) = new_window_state {
            self.store
                .with_entry::<EntryOf<K, T, A, Tr, F>, _>(&self.names.contents, nk, |e| {
                    if let Some(e) = e {
                        e.window_state = new;
                    }
                })?;
        }
        self.save_global(nk, global_old, &global)
    }

    fn purge(&mut self, nk: &mut Nk<K, A::W>, w: &A::W) -> Result<()> {
        nk.1 = WindowNamespace::Window(w.clone());
        self.store
            .with_entry::<EntryOf<K, T, A, Tr, F>, _>(&self.names.contents, nk, |e| {
                if let Some(e) = e {
                    e.acc = None;
                }
            })?;
        if self.mode == Mode::PerWindow {
            self.store
                .with_entry::<Vec<Record<T>>, _>(&self.names.elements, nk, |e| *e = None)?;
        }
        Ok(())
    }

    /// Remove everything of window `w` (its cleanup time came).
    fn clear_all(
        &mut self,
        nk: &mut Nk<K, A::W>,
        w: &A::W,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        nk.1 = WindowNamespace::Window(w.clone());
        let entry =
            self.store
                .with_entry::<EntryOf<K, T, A, Tr, F>, _>(&self.names.contents, nk, |e| e.take())?;
        if let Some(mut entry) = entry {
            let mut tctx =
                TriggerContext::new(ctx.watermark.0, ctx.clock.now_ms(), &mut self.requests);
            self.trigger.clear(w, &mut entry.trigger, &mut tctx);
            self.requests.clear();
            let (global_old, mut global) = self.load_global(nk)?;
            let mut ws = StateSlot::restored(entry.window_state.take());
            let mut wctx = WindowContext {
                window: w,
                watermark: ctx.watermark.0,
                clock: &*ctx.clock,
                window_state: &mut ws,
                merging: self.merging,
                global_state: &mut global,
                side: &mut *out.side,
            };
            self.func.clear(&nk.0, &mut wctx)?;
            self.save_global(nk, global_old, &global)?;
        }
        match self.mode {
            Mode::PerWindow => {
                nk.1 = WindowNamespace::Window(w.clone());
                self.store
                    .with_entry::<Vec<Record<T>>, _>(&self.names.elements, nk, |e| *e = None)?;
            }
            Mode::Shared {
                slide,
                offset,
                block,
            } => {
                // Later windows start at `start + slide` or later: drop what lies before.
                if let Some((start, _)) = w.time_range() {
                    let cutoff = start.saturating_add(slide);
                    let mut b = Self::block_of(start, offset, block);
                    while b < cutoff {
                        nk.1 = WindowNamespace::Block(b);
                        self.store.with_entry::<SharedBlock<T>, _>(
                            &self.names.shared,
                            nk,
                            |slot| {
                                if let Some(v) = slot {
                                    v.retain(|(_, t, _)| *t >= cutoff);
                                    if v.is_empty() {
                                        *slot = None;
                                    }
                                }
                            },
                        )?;
                        b = b.saturating_add(block);
                    }
                }
            }
            Mode::Accumulate => {}
        }
        if self.merging {
            nk.1 = WindowNamespace::Key;
            self.store
                .with_entry::<Vec<A::W>, _>(&self.names.merging, nk, |set| {
                    if let Some(v) = set {
                        v.retain(|x| x != w);
                        if v.is_empty() {
                            *set = None;
                        }
                    }
                })?;
        }
        Ok(())
    }

    /// A trigger answered `result` for window `w`: fire and/or purge.
    fn act(
        &mut self,
        result: TriggerResult,
        nk: &mut Nk<K, A::W>,
        w: &A::W,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        if result.is_fire() {
            self.emit(nk, w, ctx, out)?;
        }
        if result.is_purge() {
            self.purge(nk, w)?;
        }
        Ok(())
    }

    /// Merge `new` with the key's intersecting windows; returns the window to use.
    fn merge_window(
        &mut self,
        nk: &mut Nk<K, A::W>,
        new: A::W,
        watermark: Timestamp,
        ctx: &OperatorContext,
    ) -> Result<Option<A::W>> {
        nk.1 = WindowNamespace::Key;
        let mut overlapping: Vec<A::W> =
            self.store
                .read_entry::<Vec<A::W>, _>(&self.names.merging, nk, |set| {
                    set.map(|v| v.iter().filter(|w| w.intersects(&new)).cloned().collect())
                        .unwrap_or_default()
                })?;
        overlapping.sort();
        let merged = overlapping.iter().fold(new.clone(), |acc, w| acc.cover(w));
        if self.is_window_late(&merged, watermark) {
            return Ok(None);
        }
        if overlapping.len() == 1 && overlapping[0] == merged {
            return Ok(Some(merged));
        }
        if !overlapping.is_empty() {
            let mut target: EntryOf<K, T, A, Tr, F> = WindowEntry::new();
            let mut elements: Vec<Record<T>> = Vec::new();
            let mut states = Vec::with_capacity(overlapping.len());
            for w in &overlapping {
                nk.1 = WindowNamespace::Window(w.clone());
                let old = self.store.with_entry::<EntryOf<K, T, A, Tr, F>, _>(
                    &self.names.contents,
                    nk,
                    |e| e.take(),
                )?;
                if let Some(mut old) = old {
                    let mut tctx =
                        TriggerContext::new(watermark, ctx.clock.now_ms(), &mut self.requests);
                    self.trigger.clear(w, &mut old.trigger, &mut tctx);
                    self.requests.clear();
                    self.func.merge(&mut target.acc, old.acc.take())?;
                    states.push(old.trigger);
                }
                if self.mode == Mode::PerWindow
                    && let Some(mut els) = self.store.with_entry::<Vec<Record<T>>, _>(
                        &self.names.elements,
                        nk,
                        |e| e.take(),
                    )?
                {
                    elements.append(&mut els);
                }
            }
            let mut tctx = TriggerContext::new(watermark, ctx.clock.now_ms(), &mut self.requests);
            self.trigger
                .on_merge(&merged, &mut target.trigger, states, &mut tctx);
            apply_requests(
                &mut self.requests,
                &nk.0,
                &merged,
                &mut target,
                &mut self.event_timers,
                &mut self.proc_timers,
                ctx,
            );
            nk.1 = WindowNamespace::Window(merged.clone());
            self.store
                .with_entry::<EntryOf<K, T, A, Tr, F>, _>(&self.names.contents, nk, |e| {
                    *e = Some(target)
                })?;
            if !elements.is_empty() {
                self.store
                    .with_entry::<Vec<Record<T>>, _>(&self.names.elements, nk, |e| {
                        *e = Some(elements)
                    })?;
            }
        }
        nk.1 = WindowNamespace::Key;
        self.store
            .with_entry::<Vec<A::W>, _>(&self.names.merging, nk, |set| {
                let v = set.get_or_insert_with(Vec::new);
                v.retain(|w| !overlapping.contains(w));
                v.push(merged.clone());
            })?;
        Ok(Some(merged))
    }

    fn process_record(
        &mut self,
        r: Record<T>,
        now: i64,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let mut nk = Namespaced((self.key_of)(&r.value), WindowNamespace::Key);
        let watermark = ctx.watermark.0;
        let mut assigned = std::mem::take(&mut self.assigned);
        assigned.clear();
        self.assigner
            .assign(&r.value, r.timestamp, now, &mut assigned)?;
        if self.merging {
            let mut merged = Vec::with_capacity(assigned.len());
            for w in assigned.drain(..) {
                if let Some(m) = self.merge_window(&mut nk, w, watermark, ctx)? {
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
        if let Mode::Shared { offset, block, .. } = self.mode {
            let t = if self.event_time { r.timestamp } else { now };
            nk.1 = WindowNamespace::Block(Self::block_of(t, offset, block));
            let seq = self.seq;
            self.seq += 1;
            self.store
                .with_entry::<SharedBlock<T>, _>(&self.names.shared, &nk, |b| {
                    b.get_or_insert_with(Vec::new)
                        .push((seq, t, r.value.clone()))
                })?;
        }
        for w in &assigned {
            let cleanup = {
                let t = self.cleanup_time(w);
                (t != i64::MAX).then_some(if self.event_time {
                    TimerRequest::RegisterEventTime(t)
                } else {
                    TimerRequest::RegisterProcessingTime(t)
                })
            };
            nk.1 = WindowNamespace::Window(w.clone());
            if self.mode == Mode::PerWindow {
                self.store
                    .with_entry::<Vec<Record<T>>, _>(&self.names.elements, &nk, |e| {
                        e.get_or_insert_with(Vec::new).push(r.clone())
                    })?;
            }
            let (func, trigger, requests) = (&mut self.func, &mut self.trigger, &mut self.requests);
            let (event_timers, proc_timers) = (&mut self.event_timers, &mut self.proc_timers);
            let (mode, merging) = (self.mode, self.merging);
            let result = self.store.with_entry::<EntryOf<K, T, A, Tr, F>, _>(
                &self.names.contents,
                &nk,
                |slot| -> Result<TriggerResult> {
                    let created = slot.is_none();
                    let entry = slot.get_or_insert_with(WindowEntry::new);
                    if mode == Mode::Accumulate {
                        func.add(&mut entry.acc, &r.value)?;
                    }
                    let mut tctx = TriggerContext::new(watermark, now, requests);
                    let result =
                        trigger.on_element(&r.value, r.timestamp, w, &mut entry.trigger, &mut tctx);
                    // The cleanup timer of a window is registered once, when it is created
                    // (merged session windows are created by the merge, so always register).
                    if (created || merging)
                        && let Some(c) = cleanup
                    {
                        requests.push(c);
                    }
                    if !requests.is_empty() {
                        apply_requests(requests, &nk.0, w, entry, event_timers, proc_timers, ctx);
                    }
                    Ok(result)
                },
            )??;
            if result != TriggerResult::Continue {
                self.act(result, &mut nk, w, ctx, out)?;
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
        let mut nk = Namespaced(key, WindowNamespace::Window(w.clone()));
        let (trigger, requests) = (&mut self.trigger, &mut self.requests);
        let (event_timers, proc_timers) = (&mut self.event_timers, &mut self.proc_timers);
        let result = self.store.with_entry::<EntryOf<K, T, A, Tr, F>, _>(
            &self.names.contents,
            &nk,
            |slot| {
                let entry = slot.as_mut()?;
                let timers = if event {
                    &mut entry.event_timers
                } else {
                    &mut entry.proc_timers
                };
                // Not found: the trigger deleted the timer.
                let pos = timers.iter().position(|t| *t == time)?;
                timers.swap_remove(pos);
                let mut tctx = TriggerContext::new(ctx.watermark.0, now, requests);
                let result = if event {
                    trigger.on_event_time(time, &w, &mut entry.trigger, &mut tctx)
                } else {
                    trigger.on_processing_time(time, &w, &mut entry.trigger, &mut tctx)
                };
                apply_requests(requests, &nk.0, &w, entry, event_timers, proc_timers, ctx);
                Some(result)
            },
        )?;
        let Some(result) = result else {
            return Ok(());
        };
        self.act(result, &mut nk, &w, ctx, out)?;
        if self.event_time == event && time == self.cleanup_time(&w) {
            self.clear_all(&mut nk, &w, ctx, out)?;
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
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)
    }

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
        self.store.snapshot(ctx, out)
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.store.notify_checkpoint_complete(id);
        Ok(())
    }

    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)?;
        self.store.restore(state)?;
        if matches!(self.mode, Mode::Shared { .. }) {
            // Continue after the latest restored arrival.
            for nk in self.store.keys(SHARED_ELEMENTS_STATE) {
                let last =
                    self.store
                        .read_entry::<SharedBlock<T>, _>(&self.names.shared, &nk, |b| {
                            b.into_iter().flatten().map(|(seq, _, _)| *seq).max()
                        })?;
                if let Some(last) = last {
                    self.seq = self.seq.max(last.saturating_add(1));
                }
            }
        }
        for nk in self.store.keys(WINDOW_STATE) {
            let WindowNamespace::Window(w) = &nk.1 else {
                continue;
            };
            let timers = self.store.read_entry::<EntryOf<K, T, A, Tr, F>, _>(
                &self.names.contents,
                &nk,
                |e| e.map(|e| (e.event_timers.clone(), e.proc_timers.clone())),
            )?;
            let Some((event, processing)) = timers else {
                continue;
            };
            for t in event {
                self.event_timers
                    .entry(t)
                    .or_default()
                    .push((nk.0.clone(), w.clone()));
            }
            for t in processing {
                self.proc_timers
                    .entry(t)
                    .or_default()
                    .push((nk.0.clone(), w.clone()));
            }
        }
        if let Some((&next, _)) = self.proc_timers.first_key_value() {
            ctx.request_processing_time(next);
        }
        Ok(())
    }
}
