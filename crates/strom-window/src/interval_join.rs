//! The interval join (Flink's `IntervalJoinOperator`), and [`Either`], the tagged union in
//! which a two-input task hands the operator its inputs.
//!
//! The operator runs in a two-input task (`strom_runtime::nodes::TwoInputNode`): the task
//! reads both keyed inputs, tags each batch with its side, and keeps a watermark per input;
//! the operator's watermark is the minimum of the two, which is Flink's two-input
//! watermark.
//!
//! The interval join joins a left element at `t` with every right element of the same key
//! whose timestamp lies in `[t + lower, t + upper]` (each bound inclusive unless made
//! exclusive), and symmetrically. Semantics follow Flink:
//!
//! * each side is buffered per key, by timestamp; an arriving element is added to its
//!   side's buffer and joined with the buffered elements of the other side;
//! * an element with `timestamp < watermark` is late: it is dropped (or sent to a late
//!   side output) and joins nothing;
//! * results carry `max(left timestamp, right timestamp)`;
//! * a buffered element is removed by a cleanup timer, exactly as Flink's
//!   `IntervalJoinOperator` does: a left element at `t` once the watermark reaches
//!   `t + upper` (or `t` when `upper <= 0`), a right element at `t` once it reaches
//!   `t - lower` (or `t` when `lower >= 0`), bounds adjusted for exclusivity. As in Flink, a
//!   partner arriving with a timestamp equal to the watermark (not late, since lateness is
//!   `timestamp < watermark`) no longer finds an element whose cleanup time is that
//!   watermark.
//!
//! Each key's buffers are two objects, one per side ([`INTERVAL_JOIN_LEFT_STATE`],
//! [`INTERVAL_JOIN_RIGHT_STATE`]), in the operator's
//! [`KeyedStateStore`] on the job's state backend (heap or disk); checkpoints are the
//! store's. An element costs a read of the other side's buffer and a read-modify-write of
//! its own (Flink's operator likewise visits the other side's map state of the key). The
//! cleanup timers follow from the buffered timestamps and are kept in memory, rebuilt on
//! restore; lateness is judged against the watermark the runtime restores with the
//! operator.

use std::collections::BTreeMap;
use std::sync::Arc;
use strom_core::checkpoint::{CheckpointId, RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{BoxError, Collector, Data, Key, OutputTag, Result, SideOutputs, StromError};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_state::{KeyedStateBackend, KeyedStateStore, StateName};
use strom_types::{NO_TIMESTAMP, Record, Timestamp, Watermark};

pub use strom_core::Either;

/// The keyed state of each key's buffered left elements, by timestamp.
pub const INTERVAL_JOIN_LEFT_STATE: &str = "interval-join-left";
/// The keyed state of each key's buffered right elements, by timestamp.
pub const INTERVAL_JOIN_RIGHT_STATE: &str = "interval-join-right";

/// The bounds of an interval join, in milliseconds relative to the left element's
/// timestamp: a left element at `t` joins right elements in `[t + lower, t + upper]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntervalBounds {
    /// The lower bound (may be negative).
    pub lower: i64,
    /// The upper bound (may be negative); must not be below `lower`.
    pub upper: i64,
    /// Whether `t + lower` itself joins.
    pub lower_inclusive: bool,
    /// Whether `t + upper` itself joins.
    pub upper_inclusive: bool,
}

impl IntervalBounds {
    /// Inclusive bounds `[lower, upper]`.
    pub fn new(lower: i64, upper: i64) -> Self {
        IntervalBounds {
            lower,
            upper,
            lower_inclusive: true,
            upper_inclusive: true,
        }
    }

    /// Check `lower <= upper` (Flink's `lowerBound <= upperBound must be fulfilled`).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.lower > self.upper {
            return Err(format!(
                "interval join: the lower bound ({} ms) must not be greater than the upper bound ({} ms)",
                self.lower, self.upper
            ));
        }
        Ok(())
    }

    /// The inclusive bounds after exclusivity: `lower + 1` when the lower bound is
    /// exclusive, `upper - 1` when the upper bound is (as Flink's operator does).
    pub fn inclusive(&self) -> (i64, i64) {
        let lower = if self.lower_inclusive {
            self.lower
        } else {
            self.lower.saturating_add(1)
        };
        let upper = if self.upper_inclusive {
            self.upper
        } else {
            self.upper.saturating_sub(1)
        };
        (lower, upper)
    }

    /// Whether a left element at `left` and a right element at `right` join.
    pub fn contains(&self, left: Timestamp, right: Timestamp) -> bool {
        let (lo, hi) = self.inclusive();
        let d = i128::from(right) - i128::from(left);
        i128::from(lo) <= d && d <= i128::from(hi)
    }
}

/// What a join function can see and do besides emitting main output (Flink's
/// `ProcessJoinFunction.Context`).
pub struct IntervalJoinContext<'a> {
    left_timestamp: Timestamp,
    right_timestamp: Timestamp,
    watermark: Watermark,
    side: &'a mut SideOutputs,
}

impl IntervalJoinContext<'_> {
    /// The left element's timestamp.
    pub fn left_timestamp(&self) -> Timestamp {
        self.left_timestamp
    }
    /// The right element's timestamp.
    pub fn right_timestamp(&self) -> Timestamp {
        self.right_timestamp
    }
    /// The result's timestamp: the larger of the two.
    pub fn timestamp(&self) -> Timestamp {
        self.left_timestamp.max(self.right_timestamp)
    }
    /// The operator's current event-time watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.watermark
    }
    /// Emit `value` to the side output `tag`, with the result's timestamp.
    pub fn output<X: 'static>(&mut self, tag: &OutputTag<X>, value: X) {
        let ts = self.timestamp();
        self.side.emit(tag, Record::new(value, ts));
    }
}

/// Called for every joined pair (Flink's `ProcessJoinFunction`).
///
/// Contract: `process_element` is called once per pair of equal key within the bounds, when
/// the second of the two arrives; what it collects carries the larger timestamp unless it
/// sets one. An `Err` or a panic fails the job. Closures
/// `FnMut(&L, &R, &mut IntervalJoinContext, &mut Collector<O>) -> Result<(), BoxError>`
/// implement it.
pub trait ProcessJoinFunction<L, R, O>: Send {
    /// Handle one joined pair.
    fn process_element(
        &mut self,
        left: &L,
        right: &R,
        ctx: &mut IntervalJoinContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> std::result::Result<(), BoxError>;
}

impl<L, R, O, F> ProcessJoinFunction<L, R, O> for F
where
    F: FnMut(
            &L,
            &R,
            &mut IntervalJoinContext<'_>,
            &mut Collector<'_, O>,
        ) -> std::result::Result<(), BoxError>
        + Send,
{
    fn process_element(
        &mut self,
        left: &L,
        right: &R,
        ctx: &mut IntervalJoinContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> std::result::Result<(), BoxError> {
        self(left, right, ctx, out)
    }
}

/// One key's buffered elements of one side, by timestamp, in arrival order within a
/// timestamp (one object of [`INTERVAL_JOIN_LEFT_STATE`] or [`INTERVAL_JOIN_RIGHT_STATE`]).
type Buffer<V> = BTreeMap<Timestamp, Vec<V>>;

/// The element and output types an operator is generic over, as a `PhantomData` payload.
type Types<L, R, O> = fn() -> (L, R, O);

/// A cleanup entry: remove the bucket at `timestamp` of `key`'s left (or right) buffer.
struct Cleanup<K> {
    key: K,
    left: bool,
    timestamp: Timestamp,
}

/// The interval join operator over a keyed `Either<L, R>` stream.
pub struct IntervalJoinOperator<K, L, R, O, KF, F> {
    key_of: KF,
    /// Inclusive bounds after exclusivity.
    lower: i64,
    upper: i64,
    func: F,
    left_late: Option<OutputTag<L>>,
    right_late: Option<OutputTag<R>>,
    store: KeyedStateStore<K>,
    left_name: StateName,
    right_name: StateName,
    /// Cleanup entries by the last watermark at which the bucket must still be kept.
    cleanup: BTreeMap<i64, Vec<Cleanup<K>>>,
    buffered: (usize, usize),
    _types: std::marker::PhantomData<Types<L, R, O>>,
}

impl<K, L, R, O, KF, F> IntervalJoinOperator<K, L, R, O, KF, F>
where
    K: Key,
    L: Data,
    R: Data,
    KF: Fn(&Either<L, R>) -> K + Send,
    F: ProcessJoinFunction<L, R, O>,
{
    /// An interval join keyed by `key_of` (which must give both sides the key their
    /// union is partitioned by), with `bounds` and the join function `func`.
    pub fn new(key_of: KF, bounds: IntervalBounds, func: F) -> Self {
        let (lower, upper) = bounds.inclusive();
        IntervalJoinOperator {
            key_of,
            lower,
            upper,
            func,
            left_late: None,
            right_late: None,
            store: KeyedStateStore::default(),
            left_name: Arc::from(INTERVAL_JOIN_LEFT_STATE),
            right_name: Arc::from(INTERVAL_JOIN_RIGHT_STATE),
            cleanup: BTreeMap::new(),
            buffered: (0, 0),
            _types: std::marker::PhantomData,
        }
    }

    /// The watermark at which a left bucket at `ts` is removed (Flink: `ts + upper` when
    /// `upper > 0`, else `ts`).
    fn left_expiry(&self, ts: Timestamp) -> Timestamp {
        if self.upper > 0 {
            ts.saturating_add(self.upper)
        } else {
            ts
        }
    }

    /// The watermark at which a right bucket at `ts` is removed (Flink: `ts - lower` when
    /// `lower < 0`, else `ts`).
    fn right_expiry(&self, ts: Timestamp) -> Timestamp {
        if self.lower < 0 {
            ts.saturating_sub(self.lower)
        } else {
            ts
        }
    }

    /// Send late left elements to the side output `tag` instead of dropping them.
    pub fn with_left_late_output(mut self, tag: Option<OutputTag<L>>) -> Self {
        self.left_late = tag;
        self
    }

    /// Send late right elements to the side output `tag` instead of dropping them.
    pub fn with_right_late_output(mut self, tag: Option<OutputTag<R>>) -> Self {
        self.right_late = tag;
        self
    }

    /// The number of buffered (left, right) elements.
    pub fn buffered(&self) -> (usize, usize) {
        self.buffered
    }

    /// The number of keys with buffered elements (counted: O(keys)).
    pub fn buffered_keys(&self) -> usize {
        let mut keys: std::collections::HashSet<K> = self
            .store
            .keys(INTERVAL_JOIN_LEFT_STATE)
            .into_iter()
            .collect();
        keys.extend(self.store.keys(INTERVAL_JOIN_RIGHT_STATE));
        keys.len()
    }

    fn process_record(
        &mut self,
        r: Record<Either<L, R>>,
        watermark: Watermark,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        let ts = r.timestamp;
        if ts == NO_TIMESTAMP {
            return Err(StromError::InvalidJob(
                "a record has no timestamp: interval joins need assign_timestamps_and_watermarks(...) upstream of both inputs".into(),
            ));
        }
        if ts < watermark.0 {
            // Late (Flink: `timestamp < currentWatermark`): joins nothing.
            match r.value {
                Either::Left(l) => {
                    if let Some(tag) = &self.left_late {
                        out.side.emit(tag, Record::new(l, ts));
                    }
                }
                Either::Right(v) => {
                    if let Some(tag) = &self.right_late {
                        out.side.emit(tag, Record::new(v, ts));
                    }
                }
            }
            return Ok(());
        }
        let key = (self.key_of)(&r.value);
        let mut ctx = IntervalJoinContext {
            left_timestamp: ts,
            right_timestamp: ts,
            watermark,
            side: &mut *out.side,
        };
        let mut collector = Collector::new(&mut *out.records, ts);
        let func = &mut self.func;
        let (expiry, left) = match r.value {
            Either::Left(l) => {
                // Right partners in [ts + lower, ts + upper].
                let (lo, hi) = (ts.saturating_add(self.lower), ts.saturating_add(self.upper));
                if lo <= hi {
                    self.store
                        .read_entry::<Buffer<R>, _>(&self.right_name, &key, |b| {
                            for (&rts, rights) in b.into_iter().flat_map(|b| b.range(lo..=hi)) {
                                ctx.right_timestamp = rts;
                                collector.set_timestamp(ts.max(rts));
                                for v in rights {
                                    func.process_element(&l, v, &mut ctx, &mut collector)
                                        .map_err(StromError::from_user)?;
                                }
                            }
                            Ok::<(), StromError>(())
                        })??;
                }
                let new = self
                    .store
                    .with_entry::<Buffer<L>, _>(&self.left_name, &key, |b| {
                        let bucket = b.get_or_insert_with(BTreeMap::new).entry(ts).or_default();
                        bucket.push(l);
                        bucket.len() == 1
                    })?;
                self.buffered.0 += 1;
                if !new {
                    return Ok(());
                }
                (self.left_expiry(ts), true)
            }
            Either::Right(v) => {
                // Left partners in [ts - upper, ts - lower].
                let (lo, hi) = (ts.saturating_sub(self.upper), ts.saturating_sub(self.lower));
                if lo <= hi {
                    self.store
                        .read_entry::<Buffer<L>, _>(&self.left_name, &key, |b| {
                            for (&lts, lefts) in b.into_iter().flat_map(|b| b.range(lo..=hi)) {
                                ctx.left_timestamp = lts;
                                collector.set_timestamp(ts.max(lts));
                                for l in lefts {
                                    func.process_element(l, &v, &mut ctx, &mut collector)
                                        .map_err(StromError::from_user)?;
                                }
                            }
                            Ok::<(), StromError>(())
                        })??;
                }
                let new = self
                    .store
                    .with_entry::<Buffer<R>, _>(&self.right_name, &key, |b| {
                        let bucket = b.get_or_insert_with(BTreeMap::new).entry(ts).or_default();
                        bucket.push(v);
                        bucket.len() == 1
                    })?;
                self.buffered.1 += 1;
                if !new {
                    return Ok(());
                }
                (self.right_expiry(ts), false)
            }
        };
        // A new bucket: remove it once the watermark reaches `expiry`.
        self.cleanup.entry(expiry).or_default().push(Cleanup {
            key,
            left,
            timestamp: ts,
        });
        Ok(())
    }

    /// Remove the buckets whose cleanup time the watermark reached (Flink's cleanup timers).
    fn clean_up(&mut self, watermark: Timestamp) -> Result<()> {
        /// Remove the bucket at `ts`; how many elements it held.
        fn remove<V>(buffer: &mut Option<Buffer<V>>, ts: Timestamp) -> usize {
            let Some(b) = buffer else { return 0 };
            let n = b.remove(&ts).map_or(0, |v| v.len());
            if b.is_empty() {
                *buffer = None;
            }
            n
        }
        while let Some(entry) = self.cleanup.first_entry() {
            if *entry.key() > watermark {
                break;
            }
            for c in entry.remove() {
                if c.left {
                    let n =
                        self.store
                            .with_entry::<Buffer<L>, _>(&self.left_name, &c.key, |b| {
                                remove(b, c.timestamp)
                            })?;
                    self.buffered.0 -= n;
                } else {
                    let n =
                        self.store
                            .with_entry::<Buffer<R>, _>(&self.right_name, &c.key, |b| {
                                remove(b, c.timestamp)
                            })?;
                    self.buffered.1 -= n;
                }
            }
        }
        Ok(())
    }

    /// Queue the cleanup of every restored bucket of one side and count its elements.
    fn restore_side<V: Data>(&mut self, left: bool) -> Result<()> {
        let name = if left {
            Arc::clone(&self.left_name)
        } else {
            Arc::clone(&self.right_name)
        };
        for key in self.store.keys(&name) {
            let buckets = self.store.read_entry::<Buffer<V>, _>(&name, &key, |b| {
                b.map(|b| b.iter().map(|(&t, v)| (t, v.len())).collect::<Vec<_>>())
            })?;
            // Every bucket has exactly one pending cleanup, at a time its timestamp gives.
            for (ts, n) in buckets.into_iter().flatten() {
                if n == 0 {
                    continue;
                }
                let expiry = if left {
                    self.left_expiry(ts)
                } else {
                    self.right_expiry(ts)
                };
                self.cleanup.entry(expiry).or_default().push(Cleanup {
                    key: key.clone(),
                    left,
                    timestamp: ts,
                });
                if left {
                    self.buffered.0 += n;
                } else {
                    self.buffered.1 += n;
                }
            }
        }
        Ok(())
    }
}

impl<K, L, R, O, KF, F> OneInputOperator<Either<L, R>, O>
    for IntervalJoinOperator<K, L, R, O, KF, F>
where
    K: Key,
    L: Data,
    R: Data,
    KF: Fn(&Either<L, R>) -> K + Send,
    F: ProcessJoinFunction<L, R, O>,
{
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)
    }

    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<Either<L, R>>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        let watermark = ctx.watermark;
        for r in batch.drain(..) {
            self.process_record(r, watermark, out)?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, ctx: &mut OperatorContext, _out: &mut Emitter<'_, O>) -> Result<()> {
        self.clean_up(ctx.watermark.0)
    }

    fn on_end_of_input(
        &mut self,
        _ctx: &mut OperatorContext,
        _out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        self.clean_up(i64::MAX)
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
        self.restore_side::<L>(true)?;
        self.restore_side::<R>(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicI64;
    use strom_core::{SystemClock, TaskInfo};

    /// (key, id) on both sides; results are (left id, right id).
    type V = (u8, u32);
    type E = Either<V, V>;
    type Join = fn(
        &V,
        &V,
        &mut IntervalJoinContext<'_>,
        &mut Collector<'_, (u32, u32)>,
    ) -> std::result::Result<(), BoxError>;

    fn key(e: &E) -> u8 {
        match e {
            Either::Left(v) | Either::Right(v) => v.0,
        }
    }

    fn join(
        l: &V,
        r: &V,
        ctx: &mut IntervalJoinContext<'_>,
        out: &mut Collector<'_, (u32, u32)>,
    ) -> std::result::Result<(), BoxError> {
        assert_eq!(
            ctx.timestamp(),
            ctx.left_timestamp().max(ctx.right_timestamp())
        );
        out.collect((l.1, r.1));
        Ok(())
    }

    const LATE_L: &str = "late-left";
    const LATE_R: &str = "late-right";

    type Op = IntervalJoinOperator<u8, V, V, (u32, u32), fn(&E) -> u8, Join>;

    struct Harness {
        op: Op,
        ctx: OperatorContext,
        side: SideOutputs,
        out: Vec<Record<(u32, u32)>>,
    }

    impl Harness {
        fn new(bounds: IntervalBounds) -> Self {
            let mut side = SideOutputs::new();
            side.register::<V>(OutputTag::<V>::new(LATE_L).id());
            side.register::<V>(OutputTag::<V>::new(LATE_R).id());
            Harness {
                op: IntervalJoinOperator::new(key as fn(&E) -> u8, bounds, join as Join)
                    .with_left_late_output(Some(OutputTag::new(LATE_L)))
                    .with_right_late_output(Some(OutputTag::new(LATE_R))),
                ctx: OperatorContext {
                    info: TaskInfo {
                        job_name: "test".into(),
                        operator_name: "Interval Join".into(),
                        subtask: 0,
                        parallelism: 1,
                        max_parallelism: 128,
                    },
                    clock: Arc::new(SystemClock),
                    watermark: Watermark::MIN,
                    wakeup: Arc::new(AtomicI64::new(i64::MAX)),
                    state_backend: Default::default(),
                },
                side,
                out: Vec::new(),
            }
        }

        /// Push one element; the results it produced as (left id, right id, timestamp).
        fn push(&mut self, e: E, ts: Timestamp) -> Vec<(u32, u32, Timestamp)> {
            let mut batch = vec![Record::new(e, ts)];
            let mut em = Emitter {
                records: &mut self.out,
                side: &mut self.side,
                downstream: None,
            };
            self.op
                .process_batch(&mut batch, &mut self.ctx, &mut em)
                .unwrap();
            self.out
                .drain(..)
                .map(|r| (r.value.0, r.value.1, r.timestamp))
                .collect()
        }

        fn watermark(&mut self, wm: Timestamp) {
            self.ctx.watermark = Watermark(wm);
            let mut em = Emitter {
                records: &mut self.out,
                side: &mut self.side,
                downstream: None,
            };
            self.op.on_watermark(&mut self.ctx, &mut em).unwrap();
            assert!(self.out.is_empty());
        }

        /// The ids (and timestamps) sent to a late side output.
        fn late(&mut self, name: &str) -> Vec<(u32, Timestamp)> {
            let buf = self
                .side
                .buffer_mut::<V>(OutputTag::<V>::new(name).id())
                .unwrap();
            buf.drain(..).map(|r| (r.value.1, r.timestamp)).collect()
        }
    }

    fn l(k: u8, id: u32) -> E {
        Either::Left((k, id))
    }
    fn r(k: u8, id: u32) -> E {
        Either::Right((k, id))
    }

    #[test]
    fn joins_both_ways_with_max_timestamp() {
        let mut h = Harness::new(IntervalBounds::new(-2, 3));
        assert_eq!(h.push(l(1, 1), 10), vec![]);
        // Rights at 8..=13 join the left at 10.
        assert_eq!(h.push(r(1, 100), 8), vec![(1, 100, 10)]);
        assert_eq!(h.push(r(1, 101), 13), vec![(1, 101, 13)]);
        assert_eq!(h.push(r(1, 102), 14), vec![]);
        assert_eq!(h.push(r(1, 103), 7), vec![]);
        assert_eq!(h.push(r(2, 104), 10), vec![], "other key");
        // A left at 11 joins the rights in [9, 14], in timestamp order.
        assert_eq!(h.push(l(1, 2), 11), vec![(2, 101, 13), (2, 102, 14)]);
        // Two elements at one timestamp share a bucket, in arrival order.
        assert_eq!(h.push(l(1, 3), 11), vec![(3, 101, 13), (3, 102, 14)]);
        assert_eq!(
            h.push(r(1, 105), 12),
            vec![(1, 105, 12), (2, 105, 12), (3, 105, 12)]
        );
        assert_eq!(h.op.buffered(), (3, 6));
        assert_eq!(h.op.buffered_keys(), 2);
    }

    #[test]
    fn exclusive_bounds() {
        let mut b = IntervalBounds::new(-2, 3);
        b.lower_inclusive = false;
        b.upper_inclusive = false;
        let mut h = Harness::new(b);
        h.push(l(1, 1), 10);
        assert_eq!(h.push(r(1, 100), 8), vec![]);
        assert_eq!(h.push(r(1, 101), 9), vec![(1, 101, 10)]);
        assert_eq!(h.push(r(1, 102), 12), vec![(1, 102, 12)]);
        assert_eq!(h.push(r(1, 103), 13), vec![]);
        // Exclusive bounds that leave nothing: (0, 0).
        let mut b = IntervalBounds::new(0, 0);
        b.upper_inclusive = false;
        let mut h = Harness::new(b);
        h.push(l(1, 1), 10);
        assert_eq!(h.push(r(1, 100), 10), vec![]);
    }

    #[test]
    fn late_elements_are_dropped_and_buffers_cleaned_up() {
        // A left at t joins rights in [t - 5, t - 1] (negative bounds).
        let mut h = Harness::new(IntervalBounds::new(-5, -1));
        h.push(l(1, 1), 10);
        h.push(r(1, 100), 20);
        assert_eq!(h.op.buffered(), (1, 1));
        // The left at 10 waits for rights up to 9, the right at 20 for lefts from 21 on.
        h.watermark(9);
        assert_eq!(h.op.buffered(), (1, 1));
        // Not late: a timestamp equal to the watermark still joins.
        assert_eq!(h.push(r(1, 101), 9), vec![(1, 101, 10)]);
        h.watermark(10);
        assert_eq!(
            h.op.buffered(),
            (0, 2),
            "the left at 10 goes once wm reaches 10"
        );
        // The right at 9 stays until wm reaches 14: a left at 10 still joins it.
        assert_eq!(h.push(l(1, 2), 10), vec![(2, 101, 10)]);
        // Late: to the side outputs, joining nothing.
        assert_eq!(h.push(l(1, 3), 9), vec![]);
        assert_eq!(h.push(r(1, 102), 3), vec![]);
        assert_eq!(h.late(LATE_L), vec![(3, 9)]);
        assert_eq!(h.late(LATE_R), vec![(102, 3)]);
        h.watermark(13);
        assert_eq!(h.op.buffered(), (0, 2));
        h.watermark(14);
        assert_eq!(
            h.op.buffered(),
            (0, 1),
            "the right at 9 goes once wm reaches 9 + 5"
        );
        assert_eq!(h.push(l(1, 4), 21), vec![(4, 100, 21)]);
        h.watermark(i64::MAX);
        assert_eq!(h.op.buffered(), (0, 0));
        assert_eq!(h.op.buffered_keys(), 0);
    }

    #[test]
    fn records_without_timestamp_fail() {
        let mut h = Harness::new(IntervalBounds::new(0, 1));
        let mut batch = vec![Record::untimed(l(1, 1))];
        let mut em = Emitter {
            records: &mut h.out,
            side: &mut h.side,
            downstream: None,
        };
        let err =
            h.op.process_batch(&mut batch, &mut h.ctx, &mut em)
                .unwrap_err();
        assert!(err.to_string().contains("assign_timestamps_and_watermarks"));
    }

    #[test]
    fn bounds_validation_and_contains() {
        assert!(IntervalBounds::new(3, 2).validate().is_err());
        assert!(IntervalBounds::new(-3, -3).validate().is_ok());
        let mut b = IntervalBounds::new(0, 0);
        assert!(b.contains(5, 5));
        b.upper_inclusive = false;
        assert!(!b.contains(5, 5));
        let all = IntervalBounds::new(i64::MIN, i64::MAX);
        assert!(all.contains(0, i64::MIN) && all.contains(0, i64::MAX));
        assert!(!all.contains(-1, i64::MAX), "no overflow");
    }

    /// Random interleavings with late elements on both sides, against all on-time pairs.
    #[test]
    fn matches_brute_force_with_lateness() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as i64
        };
        for round in 0..500 {
            let lower = next(21) - 10;
            let upper = lower + next(15);
            let mut b = IntervalBounds::new(lower, upper);
            b.lower_inclusive = next(2) == 0;
            b.upper_inclusive = next(2) == 0;
            let mut h = Harness::new(b);
            let mut wm = i64::MIN;
            // (is_left, key, ts, id, arrival, watermark at arrival) of the on-time elements.
            let mut on_time = Vec::new();
            let mut got = Vec::new();
            for id in 0..80u32 {
                if next(4) == 0 {
                    let target = i64::from(id) - 10 + next(8);
                    if target > wm {
                        wm = target;
                        h.watermark(wm);
                    }
                }
                let ts = i64::from(id) - next(14);
                let k = next(3) as u8;
                let left = next(2) == 0;
                got.extend(h.push(if left { l(k, id) } else { r(k, id) }, ts));
                if ts >= wm {
                    on_time.push((left, k, ts, id, id, wm));
                }
            }
            // Flink's cleanup timers: a buffered element is gone once a watermark that
            // reaches its cleanup time arrived after it (timers fire on watermark advance).
            let (lo, hi) = b.inclusive();
            let cleanup = |is_left: bool, t: i64| {
                if is_left {
                    if hi > 0 { t + hi } else { t }
                } else if lo < 0 {
                    t - lo
                } else {
                    t
                }
            };
            let mut want = Vec::new();
            for &(a_left, ak, at, a, a_arr, a_wm) in &on_time {
                for &(b_left, bk, bt, b2, b_arr, b_wm) in &on_time {
                    if !(a_left && !b_left && ak == bk && b.contains(at, bt)) {
                        continue;
                    }
                    let alive = if a_arr < b_arr {
                        b_wm < cleanup(true, at) || b_wm == a_wm
                    } else {
                        a_wm < cleanup(false, bt) || a_wm == b_wm
                    };
                    if alive {
                        want.push((a, b2, at.max(bt)));
                    }
                }
            }
            got.sort();
            want.sort();
            assert_eq!(got, want, "round {round}, bounds {b:?}");
            let late = h.late(LATE_L).len() + h.late(LATE_R).len();
            assert_eq!(late + on_time.len(), 80);
            h.watermark(i64::MAX);
            assert_eq!(h.op.buffered(), (0, 0));
        }
    }
}
