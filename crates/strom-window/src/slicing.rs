//! Incremental aggregation of aligned windows by *slices* (panes).
//!
//! Tumbling and sliding windows of size `size` starting every `slide` are unions of slices
//! of `gcd(size, slide)`. With `reduce` or `aggregate` and the default trigger, this
//! operator folds each element into the accumulator of its one slice — the same work per
//! element for a sliding window as for a tumbling one — and merges the slices of a window
//! when it fires (Flink's DataStream window operator, in contrast, updates one accumulator
//! per window for each element; its SQL runtime slices as this operator does).
//!
//! The observable behaviour is exactly [`WindowOperator`](crate::WindowOperator)'s with the
//! default event-time or processing-time trigger: a window fires when the watermark (or the
//! clock) reaches its max timestamp, a late-but-allowed element fires its windows again at
//! once, elements too late for all their windows go to the late side output, and a window's
//! state is dropped at its cleanup time. `tests/window_properties.rs` checks both operators
//! against the same brute-force reference.
//!
//! ## State
//!
//! Everything lives in the operator's [`KeyedStateStore`] on the job's state backend (heap
//! or disk), under [`Namespaced`] keys `(key, time)` in the key's key group, as Flink keeps
//! window state namespaced by window:
//!
//! * [`SLICES_STATE`]: `(key, block start)` → the accumulators of the key's slices in that
//!   block, by slice start. A block is as many slices as make at most eight blocks per
//!   window up to 64 slices per window, and about √n of the n slices of longer windows
//!   (one slice for tumbling windows), so that a firing window reads a few small entries
//!   rather than one per slice, and a checkpoint still carries only the blocks written
//!   since the last one;
//! * [`WINDOW_FUNCTION_STATE`]: `(key, window start)` → the process function's per-window
//!   state, encoded (only for functions that use it);
//! * [`GLOBAL_FUNCTION_STATE`]: `(key, 0)` → the function's per-key state across windows;
//! * [`SLICING_KEY_STATE`]: `(key, 0)` → [`SliceRange`]: the earliest and latest slice
//!   with data, the key's pending timer, and the *totals* of whole blocks.
//!
//! So an element costs one read-modify-write of one block. A firing window merges the
//! blocks it covers whole from their totals, in the key entry it reads anyway, and reads
//! only the (at most two) blocks it covers in part: the first firing that covers a block
//! whole reads it and keeps its total for the later windows covering it (with hop 1 h /
//! 1 min, each block of 8 slices serves 53 windows). An element that lands in a block with
//! a kept total drops the total; only elements at or before the latest time in such a
//! block can (with event time, elements behind the watermark), so in-order elements still
//! touch one entry. A block is dropped whole once no window needs it (a block the next
//! window starts in keeps its older slices until then, rather than being written at every
//! firing), and an incremental checkpoint carries only the entries written since the last
//! one. Merging whole blocks first changes the order in which accumulators are combined,
//! not which ones: reduce and aggregate functions are associative.
//!
//! ## Timers
//!
//! A key has *one* pending timer, not one per window: the next time at which one of its
//! windows fires or is cleaned up. Windows are aligned, so that time follows from the key's
//! slice range; when it comes, the key fires and cleans what is due, and goes on with its
//! next times while they are not after the watermark (so a watermark that jumps, as at
//! the end of input, fires a key's windows one after the other, in window order, while its
//! state is at hand; keys come in the order of their first due time), and sets its next
//! timer. The timer queue holds one entry per key in memory (an earlier time replaces the
//! pending one; the old entry is skipped when it comes up) and is not checkpointed: a
//! restore rebuilds it from [`SLICING_KEY_STATE`]. Restored event-time timers fire when
//! the watermark passes them; processing-time timers are requested from the task again.

use crate::assigner::{Alignment, WindowAssigner};
use crate::function::{WindowContext, WindowElements, WindowFn};
use crate::state::StateSlot;
use crate::window::{TimeWindow, Window};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use strom_core::checkpoint::{CheckpointId, RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{Collector, Key, OutputTag, Result, StromError};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_state::{KeyedStateBackend, KeyedStateStore, Namespaced, StateName};
use strom_types::{Record, Timestamp};

/// The keyed state of the slices' accumulators: `(key, block start)` → the block's slices
/// (start and accumulator, ascending).
pub const SLICES_STATE: &str = "slices";
/// The keyed state of a process function's per-window state: `(key, window start)` → its
/// encoding.
pub const WINDOW_FUNCTION_STATE: &str = "window-function-state";
/// The keyed state of a process function's per-key state: `(key, 0)` → its encoding.
pub const GLOBAL_FUNCTION_STATE: &str = "window-global-state";
/// The keyed state of each key's [`SliceRange`]: `(key, 0)`.
pub const SLICING_KEY_STATE: &str = "slicing-key";

/// The namespace of per-key entries.
const KEY_NS: Timestamp = 0;

/// What the sliced operator keeps per key besides its slices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceRange<Acc> {
    /// No slice of the key starts before this.
    pub first: Timestamp,
    /// The latest slice start with data.
    pub last: Timestamp,
    /// The key's pending timer (`i64::MAX`: none).
    pub timer: Timestamp,
    /// The merged accumulators of whole blocks (by block start, ascending; `None`: the
    /// block holds no data), kept once a firing window has merged a block as a whole so
    /// that the later windows covering it read this one entry instead of the block. A
    /// total is dropped when an element lands in its block and when the block is dropped.
    #[serde(default = "Vec::new")]
    pub totals: Vec<(Timestamp, Option<Acc>)>,
}

/// The state names, made once.
struct Names {
    slices: StateName,
    window_fn: StateName,
    global: StateName,
    range: StateName,
}

pub(crate) fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

type Store<K> = KeyedStateStore<Namespaced<K, Timestamp>>;

/// The slices of one block, by start, ascending.
type Block<Acc> = Vec<(Timestamp, Option<Acc>)>;

/// At most this many blocks hold the slices of one window.
const BLOCKS_PER_WINDOW: i64 = 8;

/// The block length for windows of `size` cut in slices of `pane`: as few panes as give
/// at most [`BLOCKS_PER_WINDOW`] blocks per window.
pub(crate) fn block_length(size: i64, pane: i64) -> i64 {
    let panes = (size / pane).max(1);
    pane * ((panes + BLOCKS_PER_WINDOW - 1) / BLOCKS_PER_WINDOW)
}

/// The block length of the sliced operator: as [`block_length`] up to 64 slices per window
/// (8 blocks of up to 8 slices), and about the square root of the slices per window beyond
/// (hop 12 h / 1 min: 27 blocks of 27 slices, not 8 of 90). A firing reads its partial
/// blocks and the key's block totals, so it reads about `2·√n` accumulators rather than
/// `n`, and so does each element's block when it comes back from the store.
fn sliced_block_length(size: i64, pane: i64) -> i64 {
    let panes = (size / pane).max(1);
    let root = panes.isqrt() + i64::from(panes.isqrt() * panes.isqrt() < panes);
    (block_length(size, pane) / pane).min(root).max(1) * pane
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
    /// Length of a block of slices stored together, a multiple of `pane`.
    block: i64,
    lateness: i64,
    late_tag: Option<OutputTag<T>>,
    event_time: bool,
    store: Store<K>,
    names: Names,
    /// Timer time → keys; one live entry per key (see the module documentation).
    timers: BTreeMap<Timestamp, Vec<K>>,
    /// Whether the function has stored per-window or per-key state (since the start or in
    /// the restored state). Until it has, a firing skips looking that state up: most
    /// functions never use it, and on the disk backend each lookup of an absent entry
    /// costs a search of the store.
    fn_state: bool,
    /// Whether firings keep block totals ([`SliceRange::totals`]): when a block holds
    /// several slices and lies whole in several windows.
    keep_totals: bool,
    /// The latest time in a block with a kept total (of any key). Elements later than
    /// this never land in such a block, so only elements at or before it look for a total
    /// to drop: with the event-time clock, that is at most the watermark.
    horizon: Timestamp,
}

impl<K, T, A, F, KF> SlicingWindowOperator<K, T, A, F, KF>
where
    K: Key,
    T: Send + 'static,
    A: WindowAssigner<T>,
    F: WindowFn<K, T, A::W>,
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
        let pane = gcd(geometry.size, geometry.slide);
        let block = sliced_block_length(geometry.size, pane);
        Some(SlicingWindowOperator {
            key_of,
            event_time: assigner.is_event_time(),
            assigner,
            func,
            pane,
            block,
            keep_totals: block > pane && geometry.size > geometry.slide,
            geometry,
            lateness: allowed_lateness.max(0),
            late_tag,
            store: KeyedStateStore::default(),
            names: Names {
                slices: Arc::from(SLICES_STATE),
                window_fn: Arc::from(WINDOW_FUNCTION_STATE),
                global: Arc::from(GLOBAL_FUNCTION_STATE),
                range: Arc::from(SLICING_KEY_STATE),
            },
            timers: BTreeMap::new(),
            fn_state: false,
            horizon: i64::MIN,
        })
    }

    /// The keyed state (for tests and introspection).
    pub fn state(&self) -> &KeyedStateStore<Namespaced<K, Timestamp>> {
        &self.store
    }

    fn window(&self, start: Timestamp) -> Result<A::W> {
        A::W::from_time_range(start, start.saturating_add(self.geometry.size))
            .ok_or_else(|| StromError::Internal("sliced windows must be time windows".into()))
    }

    fn max_timestamp(&self, start: Timestamp) -> Timestamp {
        start.saturating_add(self.geometry.size) - 1
    }

    fn cleanup_time(&self, start: Timestamp) -> Timestamp {
        let max = self.max_timestamp(start);
        if self.event_time {
            max.saturating_add(self.lateness)
        } else {
            max
        }
    }

    fn is_late(&self, start: Timestamp, wm: Timestamp) -> bool {
        self.event_time && self.cleanup_time(start) <= wm
    }

    /// The earliest window start at or after `x`.
    fn ceil_start(&self, x: Timestamp) -> Timestamp {
        let x = x.clamp(i64::MIN / 4, i64::MAX / 4);
        let s = TimeWindow::start_with_offset(x, self.geometry.offset, self.geometry.slide);
        if s < x { s + self.geometry.slide } else { s }
    }

    fn is_start(&self, s: Timestamp) -> bool {
        self.ceil_start(s) == s
    }

    /// The earliest window start whose window contains slice `slice`.
    fn first_window_of(&self, slice: Timestamp) -> Timestamp {
        self.ceil_start(slice.saturating_sub(self.geometry.size).saturating_add(1))
    }

    /// The earliest fire or cleanup time after `after` of the windows starting in
    /// `[lo, hi]` (`lo` a window start).
    fn next_event(&self, lo: Timestamp, hi: Timestamp, after: Timestamp) -> Option<Timestamp> {
        let size = self.geometry.size;
        let fire = self
            .ceil_start(after.saturating_sub(size).saturating_add(2))
            .max(lo);
        let mut next = (fire <= hi).then(|| self.max_timestamp(fire));
        if self.event_time && self.lateness > 0 {
            let clean = self
                .ceil_start(
                    after
                        .saturating_sub(size)
                        .saturating_sub(self.lateness)
                        .saturating_add(2),
                )
                .max(lo);
            let t = self.cleanup_time(clean);
            if clean <= hi && t != i64::MAX {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    fn push_timer(&mut self, key: K, time: Timestamp, ctx: &OperatorContext) {
        self.timers.entry(time).or_default().push(key);
        if !self.event_time {
            ctx.request_processing_time(time);
        }
    }

    /// The function's states of window `start` and of the key: the stored encodings and
    /// slots over them.
    #[allow(clippy::type_complexity)]
    fn load_slots(
        &mut self,
        nk: &mut Namespaced<K, Timestamp>,
        start: Timestamp,
    ) -> Result<((Option<Vec<u8>>, StateSlot), (Option<Vec<u8>>, StateSlot))> {
        if !self.fn_state {
            return Ok((
                (None, StateSlot::restored(None)),
                (None, StateSlot::restored(None)),
            ));
        }
        nk.1 = start;
        let w: Option<Vec<u8>> =
            self.store
                .read_entry::<Vec<u8>, _>(&self.names.window_fn, nk, |b| b.cloned())?;
        nk.1 = KEY_NS;
        let g: Option<Vec<u8>> =
            self.store
                .read_entry::<Vec<u8>, _>(&self.names.global, nk, |b| b.cloned())?;
        let (ws, gs) = (
            StateSlot::restored(w.clone()),
            StateSlot::restored(g.clone()),
        );
        Ok(((w, ws), (g, gs)))
    }

    /// Write a function state back if it changed.
    fn save_slot(
        &mut self,
        global: bool,
        nk: &Namespaced<K, Timestamp>,
        old: Option<Vec<u8>>,
        slot: &StateSlot,
    ) -> Result<()> {
        let new = slot.encoded()?;
        if new != old {
            self.fn_state = true;
            let name = if global {
                &self.names.global
            } else {
                &self.names.window_fn
            };
            self.store
                .with_entry::<Vec<u8>, _>(name, nk, |s| *s = new)?;
        }
        Ok(())
    }

    /// Merge the slices of window `start` of `key` (whose range is `range`) and emit the
    /// result; whether the window holds data. Whole blocks are merged from their kept
    /// totals, computing and keeping those not yet there (`range` is changed then: the
    /// caller writes it back).
    fn fire(
        &mut self,
        key: &K,
        start: Timestamp,
        range: &mut SliceRange<F::Acc>,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<bool> {
        let w = self.window(start)?;
        let mut nk = Namespaced(key.clone(), start);
        let mut acc: Option<F::Acc> = None;
        let end = start.saturating_add(self.geometry.size);
        // Only blocks that may hold data of the window.
        let (lo, hi) = (start.max(range.first), (end - 1).min(range.last));
        let mut b = self.block_of(lo);
        while b <= hi {
            let block_end = b.saturating_add(self.block);
            let whole = self.keep_totals && b >= start && block_end <= end;
            let at = if whole {
                match range.totals.binary_search_by_key(&b, |(s, _)| *s) {
                    Ok(at) => {
                        self.func.merge(&mut acc, range.totals[at].1.clone())?;
                        b = block_end;
                        continue;
                    }
                    Err(at) => Some(at),
                }
            } else {
                None
            };
            nk.1 = b;
            let func = &mut self.func;
            // A partial block's slices go straight into the window's accumulator.
            let mut total: Option<F::Acc> = None;
            let into = if at.is_some() { &mut total } else { &mut acc };
            self.store
                .read_entry::<Block<F::Acc>, _>(&self.names.slices, &nk, |block| {
                    for (s, a) in block.into_iter().flatten() {
                        if *s >= start
                            && *s < end
                            && let Some(a) = a
                        {
                            func.merge(into, Some(a.clone()))?;
                        }
                    }
                    Ok::<_, StromError>(())
                })??;
            if let Some(at) = at {
                range.totals.insert(at, (b, total.clone()));
                self.horizon = self.horizon.max(block_end - 1);
                if total.is_some() {
                    self.func.merge(&mut acc, total)?;
                }
            }
            b = block_end;
        }
        if acc.is_none() {
            return Ok(false);
        }
        let ((wold, mut ws), (gold, mut gs)) = self.load_slots(&mut nk, start)?;
        let mut wctx = WindowContext {
            window: &w,
            watermark: ctx.watermark.0,
            clock: &*ctx.clock,
            window_state: &mut ws,
            merging: false,
            global_state: &mut gs,
            side: out.side,
        };
        let mut collector = Collector::new(out.records, w.max_timestamp());
        self.func.emit(
            key,
            &mut wctx,
            acc.as_ref(),
            WindowElements::one(None),
            &mut collector,
        )?;
        nk.1 = start;
        self.save_slot(false, &nk, wold, &ws)?;
        nk.1 = KEY_NS;
        self.save_slot(true, &nk, gold, &gs)?;
        Ok(true)
    }

    /// The start of the block holding slice (or time) `t`.
    fn block_of(&self, t: Timestamp) -> Timestamp {
        TimeWindow::start_with_offset(t, self.geometry.offset, self.block)
    }

    /// The earliest slice of `key` with data starting in `[from, to]`.
    fn first_slice_from(
        &mut self,
        key: &K,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let mut nk = Namespaced(key.clone(), self.block_of(from));
        while nk.1 <= to {
            let found =
                self.store
                    .read_entry::<Block<F::Acc>, _>(&self.names.slices, &nk, |block| {
                        block.and_then(|v| {
                            v.iter()
                                .find(|(s, a)| *s >= from && *s <= to && a.is_some())
                                .map(|(s, _)| *s)
                        })
                    })?;
            if found.is_some() {
                return Ok(found);
            }
            nk.1 += self.block;
        }
        Ok(None)
    }

    /// Whether some slice of window `start` of `key` holds data.
    fn has_data(&mut self, key: &K, start: Timestamp) -> Result<bool> {
        let end = start.saturating_add(self.geometry.size);
        Ok(self.first_slice_from(key, start, end - 1)?.is_some())
    }

    /// Window `start` of `key` is cleaned up: the function's `clear` (when the window held
    /// data: `live`, or looked up when unknown), its per-window state dropped, and the
    /// blocks no later window needs. Updates the key's `range` (the caller writes it back);
    /// whether the key has data left.
    #[allow(clippy::too_many_arguments)]
    fn clear(
        &mut self,
        key: &K,
        start: Timestamp,
        live: Option<bool>,
        range: &mut SliceRange<F::Acc>,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<bool> {
        let live = match live {
            Some(l) => l,
            None => self.has_data(key, start)?,
        };
        let mut nk = Namespaced(key.clone(), start);
        if live {
            let w = self.window(start)?;
            let ((_, mut ws), (gold, mut gs)) = self.load_slots(&mut nk, start)?;
            let mut wctx = WindowContext {
                window: &w,
                watermark: ctx.watermark.0,
                clock: &*ctx.clock,
                window_state: &mut ws,
                merging: false,
                global_state: &mut gs,
                side: out.side,
            };
            self.func.clear(key, &mut wctx)?;
            nk.1 = KEY_NS;
            self.save_slot(true, &nk, gold, &gs)?;
        }
        nk.1 = start;
        if self.fn_state {
            self.store
                .with_entry::<Vec<u8>, _>(&self.names.window_fn, &nk, |s| *s = None)?;
        }
        // Drop the blocks wholly before the next window's start. A block the next window
        // starts in keeps its earlier slices until it is dropped whole (every read skips
        // them): cutting them off would write the block at every firing. Then skip empty
        // slices so that the key's timers do not walk through gaps.
        let cutoff = start.saturating_add(self.geometry.slide);
        let mut b = self.block_of(range.first);
        while b.saturating_add(self.block) <= cutoff && b <= range.last {
            nk.1 = b;
            self.store
                .with_entry::<Block<F::Acc>, _>(&self.names.slices, &nk, |block| {
                    *block = None;
                })?;
            b += self.block;
        }
        let kept = range.totals.partition_point(|(b, _)| *b < cutoff);
        range.totals.drain(..kept);
        match self.first_slice_from(key, range.first.max(cutoff), range.last)? {
            Some(first) => {
                range.first = first;
                Ok(true)
            }
            None => Ok(false),
        }
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
        let slice = TimeWindow::start_with_offset(t, offset, self.pane);
        let mut nk = Namespaced((self.key_of)(&r.value), self.block_of(slice));
        let func = &mut self.func;
        let (added, new_slice) =
            self.store
                .with_entry::<Block<F::Acc>, _>(&self.names.slices, &nk, |block| {
                    let v = block.get_or_insert_with(Vec::new);
                    // Slices mostly arrive in order: look at the last one first.
                    let at = match v.last() {
                        Some((s, _)) if *s == slice => Ok(v.len() - 1),
                        Some((s, _)) if *s < slice => Err(v.len()),
                        None => Err(0),
                        _ => v.binary_search_by_key(&slice, |(s, _)| *s),
                    };
                    let (at, new) = match at {
                        Ok(at) => (at, false),
                        Err(at) => {
                            v.insert(at, (slice, None));
                            (at, true)
                        }
                    };
                    let added = func.add(&mut v[at].1, &r.value);
                    if v[at].1.is_none() {
                        v.remove(at);
                    }
                    if v.is_empty() {
                        *block = None;
                    }
                    (added, new)
                })?;
        added?;
        // A window already past the watermark but within the allowed lateness fires again at
        // once. Every window containing t ends after t, so that needs t <= watermark.
        let refire = self.event_time && self.lateness > 0 && t <= wm;
        // The block may have a kept total, which no longer holds.
        let block = nk.1;
        let stale = self.keep_totals && block.saturating_add(self.block - 1) <= self.horizon;
        if !new_slice && !refire && !stale {
            // The common case: the slice existed, so the key's range and timer cover it.
            return Ok(());
        }
        if new_slice || stale {
            let after = if self.event_time { wm } else { i64::MIN };
            let needed = if new_slice {
                self.next_event(self.first_window_of(slice), last_start, after)
            } else {
                None
            };
            nk.1 = KEY_NS;
            let lowered =
                self.store
                    .with_entry::<SliceRange<F::Acc>, _>(
                        &self.names.range,
                        &nk,
                        |slot| match slot {
                            Some(range) => {
                                if stale
                                    && let Ok(at) =
                                        range.totals.binary_search_by_key(&block, |(s, _)| *s)
                                {
                                    range.totals.remove(at);
                                }
                                range.first = range.first.min(slice);
                                range.last = range.last.max(slice);
                                match needed {
                                    Some(n) if n < range.timer => {
                                        range.timer = n;
                                        Some(n)
                                    }
                                    _ => None,
                                }
                            }
                            None => {
                                *slot = Some(SliceRange {
                                    first: slice,
                                    last: slice,
                                    timer: needed.unwrap_or(i64::MAX),
                                    totals: Vec::new(),
                                });
                                needed
                            }
                        },
                    )?;
            if let Some(time) = lowered {
                self.push_timer(nk.0.clone(), time, ctx);
            }
        }
        if refire {
            let mut start = last_start;
            let mut to_fire = Vec::new();
            while start > t - size {
                if self.cleanup_time(start) <= wm {
                    break; // this window and all earlier ones are cleaned up
                }
                if self.max_timestamp(start) <= wm {
                    to_fire.push(start);
                }
                start -= slide;
            }
            nk.1 = KEY_NS;
            let mut range = self.take_range(&nk, None)?;
            if let Some(range) = &mut range {
                for start in to_fire {
                    self.fire(&nk.0, start, range, ctx, out)?;
                }
            }
            self.store
                .with_entry::<SliceRange<F::Acc>, _>(&self.names.range, &nk, |r| {
                    if let (Some(r), Some(range)) = (r, range) {
                        r.totals = range.totals;
                    }
                })?;
        }
        Ok(())
    }

    /// The range of `key` (at `nk`), with its totals moved out of the stored one (the
    /// caller writes them back); `None` when the key has no range, or when `timer` is
    /// given and is not the key's pending timer.
    fn take_range(
        &mut self,
        nk: &Namespaced<K, Timestamp>,
        timer: Option<Timestamp>,
    ) -> Result<Option<SliceRange<F::Acc>>> {
        self.store
            .with_entry::<SliceRange<F::Acc>, _>(&self.names.range, nk, |r| match r {
                Some(r) if timer.is_none_or(|t| t == r.timer) => Some(SliceRange {
                    totals: std::mem::take(&mut r.totals),
                    ..*r
                }),
                _ => None,
            })
    }

    /// The timer of `key` at `t` came, and time is now `until`: fire and clean what is due
    /// at `t`, and then at the key's next times up to `until` (all of one key's due windows
    /// while its state is at hand: when the watermark jumps, as at the end of input, a
    /// time-major walk through every key per window would cycle through all the state once
    /// per window); set the next timer.
    fn on_key_timer(
        &mut self,
        key: K,
        t: Timestamp,
        until: Timestamp,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, F::Out>,
    ) -> Result<()> {
        let nk = Namespaced(key, KEY_NS);
        let Some(mut range) = self.take_range(&nk, Some(t))? else {
            return Ok(()); // no data, or replaced by an earlier timer
        };
        let Namespaced(key, _) = nk;
        let size = self.geometry.size;
        let intersects =
            |s: Timestamp, r: &SliceRange<F::Acc>| s <= r.last && s.saturating_add(size) > r.first;
        let mut t = t;
        let (has_data, next) = loop {
            let fire_start = t.saturating_add(1).saturating_sub(size);
            let mut fired = None;
            if self.is_start(fire_start) && intersects(fire_start, &range) {
                fired = Some(self.fire(&key, fire_start, &mut range, ctx, out)?);
            }
            let clean_start = if self.event_time {
                fire_start.saturating_sub(self.lateness)
            } else {
                fire_start
            };
            if self.is_start(clean_start)
                && self.cleanup_time(clean_start) == t
                && intersects(clean_start, &range)
            {
                let live = if clean_start == fire_start {
                    fired
                } else {
                    None
                };
                if !self.clear(&key, clean_start, live, &mut range, ctx, out)? {
                    break (false, None);
                }
            }
            out.flush_if_full()?;
            match self.next_event(self.first_window_of(range.first), range.last, t) {
                Some(next) if next <= until => t = next,
                next => break (true, next),
            }
        };
        range.timer = next.unwrap_or(i64::MAX);
        let nk = Namespaced(key, KEY_NS);
        self.store
            .with_entry::<SliceRange<F::Acc>, _>(&self.names.range, &nk, |r| {
                *r = has_data.then_some(range)
            })?;
        if let Some(next) = next {
            self.push_timer(nk.0, next, ctx);
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
            for key in due {
                self.on_key_timer(key, t, time, ctx, out)?;
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
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)
    }

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
        self.store.snapshot(ctx, out)
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.store.notify_checkpoint_complete(id);
        Ok(())
    }

    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)?;
        self.store.restore(state)?;
        self.fn_state = !self.store.keys(WINDOW_FUNCTION_STATE).is_empty()
            || !self.store.keys(GLOBAL_FUNCTION_STATE).is_empty();
        let block = self.block;
        for nk in self.store.keys(SLICING_KEY_STATE) {
            let range =
                self.store
                    .read_entry::<SliceRange<F::Acc>, _>(&self.names.range, &nk, |r| {
                        r.map(|r| (r.timer, r.totals.last().map(|(b, _)| *b)))
                    })?;
            let Some((timer, last_total)) = range else {
                continue;
            };
            if let Some(b) = last_total {
                self.horizon = self.horizon.max(b.saturating_add(block - 1));
            }
            if timer != i64::MAX {
                self.timers.entry(timer).or_default().push(nk.0);
            }
        }
        if !self.event_time
            && let Some((&next, _)) = self.timers.first_key_value()
        {
            ctx.request_processing_time(next);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_at_most_eight_per_window_then_about_the_square_root() {
        let slices_per_block = |panes: i64| sliced_block_length(panes * 5, 5) / 5;
        assert_eq!(slices_per_block(1), 1, "tumbling: one slice per block");
        assert_eq!(slices_per_block(8), 1);
        assert_eq!(slices_per_block(10), 2);
        assert_eq!(
            slices_per_block(60),
            8,
            "hop 1 h / 1 min: 8 blocks of 8 slices"
        );
        assert_eq!(slices_per_block(64), 8);
        assert_eq!(slices_per_block(65), 9);
        assert_eq!(slices_per_block(720), 27, "hop 12 h / 1 min");
        assert_eq!(slices_per_block(1440), 38, "hop 24 h / 1 min");
        for panes in 1..2000 {
            let per = slices_per_block(panes);
            assert!(per >= 1 && per <= panes.max(1));
            assert!(per <= block_length(panes * 5, 5) / 5);
        }
    }
}
