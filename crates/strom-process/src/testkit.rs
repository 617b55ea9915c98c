//! A test kit: run a user function or an operator by hand, deterministically.
//!
//! A harness owns one operator instance, a [`ManualClock`] for processing time (starting
//! at 0 unless told otherwise), the current watermark and the operator's main and side
//! outputs. A test feeds elements, moves the watermark and processing time, and reads what
//! came out, what is in keyed state and which timers are pending. Nothing runs on another
//! thread and nothing reads the system clock, so a test sees exactly the same results on
//! every run.
//!
//! * [`KeyedHarness`] runs a [`KeyedProcessFunction`] (keyed state, timers of both
//!   domains) and reads any key's state and pending timers.
//! * [`ProcessHarness`] runs a [`ProcessFunction`] on a non-keyed stream.
//! * [`OperatorHarness`] runs any [`OneInputOperator`] (window operators, the interval
//!   join, built-in operators); the other two build on it and offer all its methods.
//!
//! Time moves only when the test says so:
//!
//! * [`advance_watermark`](OperatorHarness::advance_watermark) sets the watermark and lets
//!   the operator fire what it completes (event-time timers in timestamp order). A
//!   watermark that does not advance is ignored, as in the runtime.
//! * [`set_processing_time`](OperatorHarness::set_processing_time) and
//!   [`advance_processing_time`](OperatorHarness::advance_processing_time) move the clock
//!   forward. On the way, the clock stops at every processing-time callback the operator
//!   requested, in order, and the operator handles it with the clock at that time, so a
//!   timer at 1 000 ms fires with `current_processing_time() == 1000` even when the test
//!   jumps to 5 000 ms; a timer that a firing timer registers and that is due by the target
//!   fires in the same call. A callback requested for a time that has already passed fires
//!   on the next call (advancing by zero fires it at once).
//!
//! Errors of the function or the operator, and panics, come back as `Err` naming the
//! operator and subtask, exactly as the runtime reports them.
//!
//! ## Checkpoints and restore
//!
//! A test can check that a function's state survives a failure, and a rescaling:
//!
//! * [`snapshot`](OperatorHarness::snapshot) takes the operator's snapshot as a checkpoint
//!   barrier would (keyed state by key group, timers, operator list state, broadcast
//!   state…), with the deferred encoding already run, and returns its sections;
//!   [`notify_checkpoint_complete`](OperatorHarness::notify_checkpoint_complete) tells the
//!   operator the checkpoint completed.
//! * [`with_restored_state`](OperatorHarness::with_restored_state) makes a fresh harness
//!   start from the snapshots of one or several old subtasks, exactly as a restored job
//!   does: before the operator opens it gets the keyed sections of the key groups its
//!   subtask owns (see [`with_subtask`](OperatorHarness::with_subtask)), and its share of
//!   every operator list state — in place when the number of snapshots equals its
//!   parallelism, otherwise redistributed by the state's mode (even split or union,
//!   [`redistribute`]). [`restored_state`] computes that share on its own.
//!
//! As the runtime does, a snapshot also holds the operator's current watermark (the
//! operator list state [`WATERMARK_STATE`](strom_runtime::operator::WATERMARK_STATE)), and a restored operator resumes at it (the
//! lowest of the old subtasks' after a rescaling). The clock starts again from 0 (or
//! `with_processing_time`); restored processing-time timers fire once the clock reaches
//! them, event-time timers once the watermark passes them. To test a rescaling, snapshot
//! every old subtask, build one harness per new subtask with `with_subtask(i, n)` and the
//! same snapshots, and feed each one the keys it owns ([`subtask_for_key`]):
//!
//! ```
//! # use strom_core::{BoxError, Collector, Result};
//! # use strom_process::{KeyedContext, KeyedHarness};
//! # use strom_process::testkit::subtask_for_key;
//! # use strom_state::ValueStateDescriptor;
//! # fn main() -> Result<()> {
//! let count = ValueStateDescriptor::<u64>::new("count");
//! let counter = move |word: String,
//!                     ctx: &mut KeyedContext<'_, String>,
//!                     out: &mut Collector<'_, (String, u64)>|
//!       -> std::result::Result<(), BoxError> {
//!     let n = ctx.value_state(&count).value()?.unwrap_or(0) + 1;
//!     ctx.value_state(&count).update(n)?;
//!     out.collect((word, n));
//!     Ok(())
//! };
//! let mut before = KeyedHarness::new(|w: &String| w.clone(), counter.clone());
//! before.process_untimed("a".to_string())?;
//! before.process_untimed("b".to_string())?;
//! let snapshot = before.snapshot(1)?;
//!
//! // Restore at parallelism 2: each subtask gets the keys of its key groups.
//! let a = subtask_for_key(&"a".to_string(), 2, 128);
//! let mut after = KeyedHarness::new(|w: &String| w.clone(), counter)
//!     .with_subtask(a, 2)
//!     .with_restored_state([snapshot]);
//! after.process_untimed("a".to_string())?;
//! assert_eq!(after.take_output(), vec![("a".to_string(), 2)]);
//! # Ok(())
//! # }
//! ```

use crate::keyed::{KeyedProcessFunction, KeyedProcessOperator};
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use strom_core::checkpoint::{
    CheckpointId, CheckpointKind, KeyedBlob, RestoredState, SnapshotContext, StateBackendConfig,
    StateSection, StateSnapshot,
};
use strom_core::operator_state::{Redistribution, redistribute};
use strom_core::{
    AggregateFunction, Clock, Data, Key, ManualClock, OutputTag, ProcessFunction, Result,
    SideOutputs, StromError, TaskInfo,
};
use strom_runtime::operator::{
    Emitter, OneInputOperator, OperatorContext, guarded, restored_watermark, snapshot_watermark,
};
use strom_runtime::operators::Process;
use strom_state::backend::{KeyedStateBackend, KeyedStateStore, StateName};
use strom_state::handle::{StateAccess, TtlValue};
use strom_state::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    ValueStateDescriptor,
};
use strom_types::key_group::{KeyGroupRange, key_group_for_hash, operator_index_for_key_group};
use strom_types::{Record, Timestamp, Watermark};

/// How many processing-time callbacks may follow one another at a single instant before
/// the harness gives up (an operator that keeps requesting callbacks for "now").
const MAX_CALLBACKS_PER_INSTANT: usize = 10_000;

fn task_info(operator_name: &str) -> TaskInfo {
    TaskInfo {
        job_name: "test".into(),
        operator_name: operator_name.into(),
        subtask: 0,
        parallelism: 1,
        max_parallelism: 128,
    }
}

/// The encoded elements of one old subtask's list state.
type OldList = Vec<Vec<u8>>;

/// The subtask that owns `key` when its operator runs at `parallelism` with
/// `max_parallelism` key groups (the runtime's routing of keyed streams).
pub fn subtask_for_key<K: Key>(key: &K, parallelism: usize, max_parallelism: usize) -> usize {
    let kg = key_group_for_hash(key.key_hash(), max_parallelism);
    operator_index_for_key_group(max_parallelism, parallelism, kg)
}

/// The state subtask `subtask` of an operator now running at `parallelism` (with
/// `max_parallelism` key groups) restores from `snapshots`, the sections of every old
/// subtask in subtask order (from [`OperatorHarness::snapshot`]), as the runtime computes
/// it: the keyed sections of the key groups the subtask owns (in the order given, old
/// subtasks in order) and its share of every operator list state — old subtask
/// `subtask`'s list when the parallelism is unchanged, otherwise the lists redistributed by
/// their mode ([`redistribute`]). `operator` names the operator in errors.
///
/// An old subtask's snapshot may be a chain of incremental snapshots, concatenated oldest
/// first (see [`OperatorHarness::incremental_snapshot`]): its keyed sections are all kept,
/// in order, and of each list state the last section counts, as the runtime does.
pub fn restored_state(
    operator: &str,
    snapshots: &[Vec<StateSection>],
    subtask: usize,
    parallelism: usize,
    max_parallelism: usize,
) -> RestoredState {
    let range = KeyGroupRange::for_operator(max_parallelism, parallelism, subtask);
    let same = snapshots.len() == parallelism;
    let mut restored = RestoredState::new(operator);
    // Per list state, in order of appearance: its name, mode and every old subtask's list.
    let mut lists: Vec<(String, Redistribution, Vec<OldList>)> = Vec::new();
    for (old, sections) in snapshots.iter().enumerate() {
        for section in sections {
            match section {
                StateSection::Keyed {
                    state,
                    key_group,
                    delta,
                    data,
                } => {
                    if !u16::try_from(*key_group).is_ok_and(|kg| range.contains(kg)) {
                        continue;
                    }
                    restored.push_keyed(
                        state,
                        KeyedBlob {
                            key_group: *key_group,
                            delta: *delta,
                            data: data.clone(),
                        },
                    );
                }
                StateSection::List {
                    state,
                    mode,
                    elements,
                } => {
                    let i = match lists.iter().position(|(s, _, _)| s == state) {
                        Some(i) => i,
                        None => {
                            lists.push((state.clone(), *mode, vec![Vec::new(); snapshots.len()]));
                            lists.len() - 1
                        }
                    };
                    // The last section of a list state counts: in a chain (a base followed
                    // by increments) the newest snapshot holds the whole list.
                    lists[i].2[old] = elements.clone();
                }
            }
        }
    }
    for (state, mode, per_old) in lists {
        let mine = if same {
            per_old.into_iter().nth(subtask).unwrap_or_default()
        } else {
            redistribute(per_old, mode, parallelism)
                .into_iter()
                .nth(subtask)
                .unwrap_or_default()
        };
        restored.set_list(&state, mode, mine);
    }
    restored
}

/// Drives any [`OneInputOperator`] by hand: feed records, move the watermark and
/// processing time, read main and side outputs. See the [module documentation](self).
///
/// The operator is opened on first use (or by [`open`](Self::open)); the task is subtask 0
/// of 1 with 128 key groups, of a job called `test`.
pub struct OperatorHarness<In, Out, Op> {
    op: Op,
    ctx: OperatorContext,
    info: TaskInfo,
    clock: ManualClock,
    side: SideOutputs,
    out: Vec<Record<Out>>,
    opened: bool,
    ended: bool,
    /// Snapshots of the old subtasks to restore from when the operator opens.
    restore_from: Option<Vec<Vec<StateSection>>>,
    /// An error opening the operator from a call that cannot return it; the next call that
    /// can returns it.
    deferred_error: Option<StromError>,
    _in: PhantomData<fn(In)>,
}

impl<In, Out, Op> OperatorHarness<In, Out, Op>
where
    Op: OneInputOperator<In, Out>,
{
    /// A harness around `op`, named `Operator`.
    pub fn new(op: Op) -> Self {
        Self::named(op, "Operator")
    }

    fn named(op: Op, operator_name: &str) -> Self {
        let clock = ManualClock::new(0);
        let info = task_info(operator_name);
        OperatorHarness {
            op,
            ctx: OperatorContext {
                info: info.clone(),
                clock: Arc::new(clock.clone()),
                watermark: Watermark::MIN,
                wakeup: Arc::new(AtomicI64::new(i64::MAX)),
                state_backend: Default::default(),
            },
            info,
            clock,
            side: SideOutputs::new(),
            out: Vec::new(),
            opened: false,
            ended: false,
            restore_from: None,
            deferred_error: None,
            _in: PhantomData,
        }
    }

    /// Name the operator (errors name it).
    pub fn with_operator_name(mut self, name: impl Into<String>) -> Self {
        self.info.operator_name = name.into();
        self.ctx.info = self.info.clone();
        self
    }

    /// Run as another task (subtask, parallelism, key groups, names).
    pub fn with_task_info(mut self, info: TaskInfo) -> Self {
        self.ctx.info = info.clone();
        self.info = info;
        self
    }

    /// Run as subtask `subtask` of `parallelism` (other task information unchanged): a
    /// restored harness gets that subtask's key groups and share of list state.
    pub fn with_subtask(mut self, subtask: usize, parallelism: usize) -> Self {
        self.info.subtask = subtask;
        self.info.parallelism = parallelism;
        self.ctx.info = self.info.clone();
        self
    }

    /// Keep keyed state on `backend` (the heap by default).
    pub fn with_state_backend(mut self, backend: StateBackendConfig) -> Self {
        self.ctx.state_backend = backend;
        self
    }

    /// Restore the operator, before it opens, from `snapshots`: what
    /// [`snapshot`](Self::snapshot) returned on every subtask of the operator before, in
    /// subtask order (one snapshot when it ran alone). The operator gets the share
    /// [`restored_state`] computes for this harness's subtask and parallelism
    /// ([`with_subtask`](Self::with_subtask)), as a restored job's subtask does.
    pub fn with_restored_state(
        mut self,
        snapshots: impl IntoIterator<Item = Vec<StateSection>>,
    ) -> Self {
        self.restore_from = Some(snapshots.into_iter().collect());
        self
    }

    /// Start processing time at `start_ms` instead of 0.
    pub fn with_processing_time(mut self, start_ms: i64) -> Self {
        self.clock = ManualClock::new(start_ms);
        self.ctx.clock = Arc::new(self.clock.clone());
        self
    }

    /// Collect the side output `tag`. Records emitted to a side output that was not
    /// registered are dropped, as in a job where nobody consumes it.
    pub fn with_side_output<X: Send + 'static>(mut self, tag: &OutputTag<X>) -> Self {
        self.side.register::<X>(tag.id());
        self
    }

    /// Open the operator now (otherwise the first call that needs it does); a harness
    /// built [`with_restored_state`](Self::with_restored_state) restores it first.
    pub fn open(&mut self) -> Result<()> {
        if let Some(e) = self.deferred_error.take() {
            return Err(e);
        }
        if !self.opened {
            self.opened = true;
            let restored = self.restore_from.take().map(|snapshots| {
                restored_state(
                    &self.info.operator_name,
                    &snapshots,
                    self.info.subtask,
                    self.info.parallelism,
                    self.info.max_parallelism,
                )
            });
            let (op, ctx) = (&mut self.op, &mut self.ctx);
            if let Some(state) = &restored {
                // The operator resumes at its checkpointed watermark, as in the runtime.
                if let Some(w) = guarded(&self.info, || restored_watermark(state, &self.info))? {
                    ctx.watermark = w;
                }
                guarded(&self.info, || op.initialize_state(state, ctx))?;
            }
            guarded(&self.info, || op.open(ctx))?;
        }
        Ok(())
    }

    /// Open the operator from a call that cannot return an error: the error comes back
    /// from the next call that can.
    fn open_or_defer(&mut self) {
        if !self.opened
            && let Err(e) = self.open()
        {
            self.deferred_error = Some(e);
        }
    }

    fn ready(&mut self, what: &str) -> Result<()> {
        if self.ended {
            return Err(StromError::InvalidJob(format!("{what} after end_input()"))
                .in_operator(&self.info.operator_name, self.info.subtask));
        }
        self.open()
    }

    /// Snapshot the operator's state as a checkpoint barrier `checkpoint_id` does (a full
    /// checkpoint, taken at the current processing time, with the operator's current
    /// watermark as the runtime adds it), run the deferred encoding, and return the
    /// sections. Pass them (one snapshot per old subtask) to
    /// [`with_restored_state`](Self::with_restored_state) of a fresh harness to continue
    /// from here.
    pub fn snapshot(&mut self, checkpoint_id: CheckpointId) -> Result<Vec<StateSection>> {
        self.take_snapshot(checkpoint_id, None)
    }

    /// Like [`snapshot`](Self::snapshot), asking for an incremental snapshot on top of the
    /// completed checkpoint `base` (the disk backend then writes only what changed since,
    /// as delta sections; other state is written complete). To restore, pass the chain as
    /// the runtime does: the base's sections followed by these.
    pub fn incremental_snapshot(
        &mut self,
        checkpoint_id: CheckpointId,
        base: CheckpointId,
    ) -> Result<Vec<StateSection>> {
        self.take_snapshot(checkpoint_id, Some(base))
    }

    fn take_snapshot(
        &mut self,
        checkpoint_id: CheckpointId,
        incremental_base: Option<CheckpointId>,
    ) -> Result<Vec<StateSection>> {
        self.ready("a snapshot")?;
        let sctx = SnapshotContext {
            checkpoint_id,
            timestamp_ms: self.clock.now_ms(),
            kind: CheckpointKind::Checkpoint,
            incremental_base,
            max_parallelism: self.info.max_parallelism,
        };
        let mut snapshot = StateSnapshot::new();
        let (op, watermark, subtask) = (&mut self.op, self.ctx.watermark, self.info.subtask);
        guarded(&self.info, || {
            op.snapshot_state(&sctx, &mut snapshot)?;
            // As in the runtime: a stateful operator keeps its watermark.
            if !snapshot.is_empty() {
                snapshot_watermark(&mut snapshot, subtask, watermark)?;
            }
            Ok(())
        })?;
        guarded(&self.info, || snapshot.materialize())
    }

    /// Tell the operator that checkpoint `checkpoint_id` completed.
    pub fn notify_checkpoint_complete(&mut self, checkpoint_id: CheckpointId) -> Result<()> {
        self.ready("a checkpoint notification")?;
        let op = &mut self.op;
        guarded(&self.info, || op.notify_checkpoint_complete(checkpoint_id))
    }

    /// Call the operator (guarded, as the runtime does) with an emitter over the outputs.
    fn call(
        &mut self,
        f: impl FnOnce(&mut Op, &mut OperatorContext, &mut Emitter<'_, Out>) -> Result<()>,
    ) -> Result<()> {
        let (op, ctx) = (&mut self.op, &mut self.ctx);
        let mut out = Emitter {
            records: &mut self.out,
            side: &mut self.side,
            downstream: None,
        };
        guarded(&self.info, || f(op, ctx, &mut out))
    }

    /// Feed one element with an event-time timestamp.
    pub fn process(&mut self, value: In, timestamp: Timestamp) -> Result<()> {
        self.process_batch(vec![Record::new(value, timestamp)])
    }

    /// Feed one element without a timestamp.
    pub fn process_untimed(&mut self, value: In) -> Result<()> {
        self.process_batch(vec![Record::untimed(value)])
    }

    /// Feed one record.
    pub fn process_record(&mut self, record: Record<In>) -> Result<()> {
        self.process_batch(vec![record])
    }

    /// Feed records as one batch (one `process_batch` call, as one batch off a channel).
    pub fn process_batch(&mut self, records: impl IntoIterator<Item = Record<In>>) -> Result<()> {
        self.ready("an element")?;
        let mut batch: Vec<Record<In>> = records.into_iter().collect();
        self.call(|op, ctx, out| op.process_batch(&mut batch, ctx, out))
    }

    /// Move the watermark to `watermark` and let the operator fire what it completes
    /// (event-time timers, in timestamp order). A watermark at or below the current one is
    /// ignored, as in the runtime.
    pub fn advance_watermark(&mut self, watermark: Timestamp) -> Result<()> {
        self.ready("a watermark")?;
        if Watermark(watermark) <= self.ctx.watermark {
            return Ok(());
        }
        self.ctx.watermark = Watermark(watermark);
        self.call(|op, ctx, out| op.on_watermark(ctx, out))
    }

    /// Move processing time forward by `by`; see
    /// [`set_processing_time`](Self::set_processing_time).
    pub fn advance_processing_time(&mut self, by: Duration) -> Result<()> {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.set_processing_time(self.processing_time().saturating_add(by))
    }

    /// Move processing time to `ms` (never backwards: an earlier time leaves the clock where
    /// it is). On the way the clock stops at every requested processing-time callback at or
    /// before `ms`, in order, and the operator handles it (processing-time timers fire,
    /// seeing that time as the current processing time), including callbacks requested
    /// during this call.
    pub fn set_processing_time(&mut self, ms: i64) -> Result<()> {
        self.ready("processing time")?;
        let target = ms.max(self.clock.now_ms());
        let (mut last, mut repeats) = (i64::MIN, 0usize);
        loop {
            let due = self.ctx.wakeup.load(Ordering::SeqCst);
            if due == i64::MAX || due > target {
                break;
            }
            self.ctx.wakeup.store(i64::MAX, Ordering::SeqCst);
            let now = due.max(self.clock.now_ms());
            if now == last {
                repeats += 1;
                if repeats > MAX_CALLBACKS_PER_INSTANT {
                    return Err(StromError::InvalidJob(format!(
                        "more than {MAX_CALLBACKS_PER_INSTANT} processing-time callbacks at \
                         {now} ms: the operator keeps requesting callbacks that are already due"
                    ))
                    .in_operator(&self.info.operator_name, self.info.subtask));
                }
            } else {
                (last, repeats) = (now, 0);
            }
            self.clock.set(now);
            self.call(|op, ctx, out| op.on_processing_time(now, ctx, out))?;
        }
        self.clock.set(target);
        Ok(())
    }

    /// End the input: the operator emits what is still pending at the end of a bounded
    /// input (`on_end_of_input`), then closes. No element or time may follow.
    pub fn end_input(&mut self) -> Result<()> {
        self.ready("end of input")?;
        self.ended = true;
        self.call(|op, ctx, out| op.on_end_of_input(ctx, out))?;
        let op = &mut self.op;
        guarded(&self.info, || op.close())
    }

    /// What the runtime does when a bounded input ends: the final watermark
    /// ([`Watermark::MAX`], firing every pending event-time timer and window), then
    /// [`end_input`](Self::end_input).
    pub fn finish(&mut self) -> Result<()> {
        self.advance_watermark(Watermark::MAX.0)?;
        self.end_input()
    }

    /// The current watermark (`i64::MIN` before the first).
    pub fn watermark(&self) -> Timestamp {
        self.ctx.watermark.0
    }

    /// The current processing time.
    pub fn processing_time(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The earliest processing-time callback the operator has requested and that has not
    /// been handled yet.
    pub fn next_processing_time_callback(&self) -> Option<i64> {
        let due = self.ctx.wakeup.load(Ordering::SeqCst);
        (due != i64::MAX).then_some(due)
    }

    /// Take the main output's values emitted so far (in emission order).
    pub fn take_output(&mut self) -> Vec<Out> {
        self.out.drain(..).map(|r| r.value).collect()
    }

    /// Take the main output's records (values with their timestamps).
    pub fn take_output_records(&mut self) -> Vec<Record<Out>> {
        std::mem::take(&mut self.out)
    }

    /// The main output's records emitted and not taken yet.
    pub fn output_records(&self) -> &[Record<Out>] {
        &self.out
    }

    /// Take the values emitted to the side output `tag`.
    ///
    /// # Panics
    ///
    /// If `tag` was not registered with [`with_side_output`](Self::with_side_output) (with
    /// this type): its records would have been dropped.
    pub fn take_side_output<X: 'static>(&mut self, tag: &OutputTag<X>) -> Vec<X> {
        self.take_side_output_records(tag)
            .into_iter()
            .map(|r| r.value)
            .collect()
    }

    /// Take the records (values with their timestamps) emitted to the side output `tag`.
    ///
    /// # Panics
    ///
    /// As [`take_side_output`](Self::take_side_output).
    pub fn take_side_output_records<X: 'static>(&mut self, tag: &OutputTag<X>) -> Vec<Record<X>> {
        match self.side.buffer_mut::<X>(tag.id()) {
            Some(buf) => std::mem::take(buf),
            None => panic!(
                "side output '{}' of type {} is not registered: create the harness with \
                 .with_side_output(&tag)",
                tag.name(),
                std::any::type_name::<X>()
            ),
        }
    }

    /// The operator.
    pub fn operator(&self) -> &Op {
        &self.op
    }

    /// The operator, mutably.
    pub fn operator_mut(&mut self) -> &mut Op {
        &mut self.op
    }

    /// Where the operator runs.
    pub fn task_info(&self) -> &TaskInfo {
        &self.info
    }
}

/// The builder methods of [`OperatorHarness`], on a harness that wraps one.
macro_rules! wrapper_builders {
    () => {
        /// Name the operator (errors name it).
        pub fn with_operator_name(mut self, name: impl Into<String>) -> Self {
            self.inner = self.inner.with_operator_name(name);
            self
        }

        /// Run as another task (subtask, parallelism, key groups, names).
        pub fn with_task_info(mut self, info: TaskInfo) -> Self {
            self.inner = self.inner.with_task_info(info);
            self
        }

        /// Start processing time at `start_ms` instead of 0.
        pub fn with_processing_time(mut self, start_ms: i64) -> Self {
            self.inner = self.inner.with_processing_time(start_ms);
            self
        }

        /// Run as subtask `subtask` of `parallelism`; see
        /// [`OperatorHarness::with_subtask`].
        pub fn with_subtask(mut self, subtask: usize, parallelism: usize) -> Self {
            self.inner = self.inner.with_subtask(subtask, parallelism);
            self
        }

        /// Keep keyed state on `backend` (the heap by default).
        pub fn with_state_backend(mut self, backend: StateBackendConfig) -> Self {
            self.inner = self.inner.with_state_backend(backend);
            self
        }

        /// Restore from the snapshots of the old subtasks before opening; see
        /// [`OperatorHarness::with_restored_state`].
        pub fn with_restored_state(
            mut self,
            snapshots: impl IntoIterator<Item = Vec<StateSection>>,
        ) -> Self {
            self.inner = self.inner.with_restored_state(snapshots);
            self
        }

        /// Collect the side output `tag`. Records emitted to a side output that was not
        /// registered are dropped, as in a job where nobody consumes it.
        pub fn with_side_output<X: Send + 'static>(mut self, tag: &OutputTag<X>) -> Self {
            self.inner = self.inner.with_side_output(tag);
            self
        }
    };
}

/// Runs a [`KeyedProcessFunction`] by hand and reads any key's state and pending timers;
/// every method of [`OperatorHarness`] is available on it too. See the
/// [module documentation](self).
///
/// State reads change nothing: an expired TTL value reads as absent but is left for the
/// function's own reads and the background cleanup to remove, and reads never renew a
/// time-to-live.
pub struct KeyedHarness<K, I, O, KF, F> {
    inner: OperatorHarness<I, O, KeyedProcessOperator<K, KF, F>>,
}

impl<K, I, O, KF, F> KeyedHarness<K, I, O, KF, F>
where
    K: Key,
    I: Send,
    KF: Fn(&I) -> K + Send,
    F: KeyedProcessFunction<K, I, O>,
{
    /// A harness running `func` on elements keyed by `key_of`, named `Keyed Process`.
    pub fn new(key_of: KF, func: F) -> Self {
        KeyedHarness {
            inner: OperatorHarness::named(KeyedProcessOperator::new(key_of, func), "Keyed Process"),
        }
    }

    wrapper_builders!();

    /// The pending event-time timers of `key`, sorted.
    pub fn pending_event_timers(&self, key: &K) -> Vec<Timestamp> {
        self.inner.op.timers_of(key).0
    }

    /// The pending processing-time timers of `key`, sorted.
    pub fn pending_processing_timers(&self, key: &K) -> Vec<i64> {
        self.inner.op.timers_of(key).1
    }

    /// Read state object `S` of state `name` for `key` without changing it.
    fn peek<S: Data, R>(
        &mut self,
        name: &str,
        key: &K,
        f: impl FnOnce(&S, i64) -> R,
    ) -> Result<Option<R>> {
        self.inner.open()?;
        let name: StateName = Arc::from(name);
        let now = self.inner.processing_time();
        let info = &self.inner.info;
        self.inner
            .op
            .state_mut()
            .with_entry::<S, _>(&name, key, |slot| slot.as_ref().map(|s| f(s, now)))
            .map_err(|e| e.in_operator(&info.operator_name, info.subtask))
    }

    /// `key`'s value of `d`, if set and not expired.
    pub fn value_state<V: Data>(
        &mut self,
        key: &K,
        d: &ValueStateDescriptor<V>,
    ) -> Result<Option<V>> {
        let v = self.peek::<TtlValue<V>, _>(d.name(), key, |v, now| {
            (v.expires > now).then(|| v.value.clone())
        })?;
        Ok(v.flatten())
    }

    /// `key`'s live elements of `d`, in insertion order (empty when none).
    pub fn list_state<V: Data>(&mut self, key: &K, d: &ListStateDescriptor<V>) -> Result<Vec<V>> {
        let v = self.peek::<Vec<TtlValue<V>>, _>(d.name(), key, |list, now| {
            list.iter()
                .filter(|e| e.expires > now)
                .map(|e| e.value.clone())
                .collect()
        })?;
        Ok(v.unwrap_or_default())
    }

    /// `key`'s live entries of `d` (empty when none).
    pub fn map_state<UK, UV>(
        &mut self,
        key: &K,
        d: &MapStateDescriptor<UK, UV>,
    ) -> Result<HashMap<UK, UV>>
    where
        UK: Data + Hash + Eq,
        UV: Data,
    {
        let v = self.peek::<HashMap<UK, TtlValue<UV>>, _>(d.name(), key, |map, now| {
            map.iter()
                .filter(|(_, e)| e.expires > now)
                .map(|(k, e)| (k.clone(), e.value.clone()))
                .collect()
        })?;
        Ok(v.unwrap_or_default())
    }

    /// `key`'s reduced value of `d`, if any and not expired.
    pub fn reducing_state<V, R>(
        &mut self,
        key: &K,
        d: &ReducingStateDescriptor<V, R>,
    ) -> Result<Option<V>>
    where
        V: Data,
        R: Fn(V, V) -> V,
    {
        let v = self.peek::<TtlValue<V>, _>(d.name(), key, |v, now| {
            (v.expires > now).then(|| v.value.clone())
        })?;
        Ok(v.flatten())
    }

    /// The result of `key`'s accumulator of `d`, if anything was added and it has not
    /// expired.
    pub fn aggregating_state<In, A>(
        &mut self,
        key: &K,
        d: &AggregatingStateDescriptor<In, A>,
    ) -> Result<Option<A::Out>>
    where
        A: AggregateFunction<In>,
        A::Acc: Data,
    {
        let acc = self
            .peek::<TtlValue<A::Acc>, _>(d.name(), key, |v, now| {
                (v.expires > now).then(|| v.value.clone())
            })?
            .flatten();
        let Some(acc) = acc else { return Ok(None) };
        // The result comes from the descriptor's function: bind it over a scratch store
        // holding a copy of the accumulator, so that the operator's state stays untouched.
        let mut scratch = KeyedStateStore::<K>::new();
        let name: StateName = Arc::from(d.name());
        scratch.with_entry::<TtlValue<A::Acc>, _>(&name, key, |slot| {
            *slot = Some(TtlValue {
                value: acc,
                expires: i64::MAX,
            });
        })?;
        let now = self.inner.processing_time();
        d.bind(StateAccess {
            store: &mut scratch,
            key,
            now,
        })
        .get()
    }

    /// The keys that have an object in state `name`, in no particular order (expired
    /// values count until they are removed). Until the operator opens (first element, or
    /// [`open`](OperatorHarness::open)) a restored harness shows no state here.
    pub fn state_keys(&self, name: &str) -> Vec<K> {
        self.inner.op.state().keys(name)
    }

    /// How many keys have an object in state `name` (expired values count until they are
    /// removed by a read or the background cleanup). As [`state_keys`](Self::state_keys),
    /// empty until the operator opens.
    pub fn state_len(&self, name: &str) -> usize {
        self.inner.op.state().len(name)
    }

    /// `key`'s state as the function sees it, at the current processing time: bind a
    /// descriptor to it to seed or change state before a test
    /// (`d.bind(h.state_access(&key)).update(v)?`). Opens the operator first (its state
    /// store is created, or restored, then); an error doing so comes back from the next
    /// harness call.
    pub fn state_access<'a>(&'a mut self, key: &'a K) -> StateAccess<'a, K> {
        self.inner.open_or_defer();
        let now = self.inner.processing_time();
        StateAccess {
            store: self.inner.op.state_mut(),
            key,
            now,
        }
    }
}

impl<K, I, O, KF, F> Deref for KeyedHarness<K, I, O, KF, F> {
    type Target = OperatorHarness<I, O, KeyedProcessOperator<K, KF, F>>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<K, I, O, KF, F> DerefMut for KeyedHarness<K, I, O, KF, F> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

/// Runs a [`ProcessFunction`] (a non-keyed stream's) by hand; every method of
/// [`OperatorHarness`] is available on it. See the [module documentation](self).
pub struct ProcessHarness<I, O, F> {
    inner: OperatorHarness<I, O, Process<F>>,
}

impl<I, O, F> ProcessHarness<I, O, F>
where
    F: ProcessFunction<I, O>,
{
    /// A harness running `func`, named `Process`.
    pub fn new(func: F) -> Self {
        ProcessHarness {
            inner: OperatorHarness::named(Process::new(func), "Process"),
        }
    }

    wrapper_builders!();

    /// The function.
    pub fn function(&self) -> &F {
        &self.inner.op.0
    }

    /// The function, mutably.
    pub fn function_mut(&mut self) -> &mut F {
        &mut self.inner.op.0
    }
}

impl<I, O, F> Deref for ProcessHarness<I, O, F> {
    type Target = OperatorHarness<I, O, Process<F>>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<I, O, F> DerefMut for ProcessHarness<I, O, F> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn keyed(state: &str, key_group: u32, delta: bool, byte: u8) -> StateSection {
        StateSection::Keyed {
            state: state.into(),
            key_group,
            delta,
            data: vec![byte],
        }
    }

    fn list(state: &str, mode: Redistribution, elements: &[u8]) -> StateSection {
        StateSection::List {
            state: state.into(),
            mode,
            elements: elements.iter().map(|e| vec![*e]).collect(),
        }
    }

    #[test]
    fn restored_state_routes_key_groups_and_redistributes_lists() {
        let old = vec![
            vec![
                keyed("s", 0, false, 1),
                keyed("s", 0, true, 2),
                keyed("s", 63, false, 3),
                list("even", Redistribution::EvenSplit, &[10, 11, 12]),
                list("union", Redistribution::Union, &[20]),
            ],
            vec![
                keyed("s", 64, false, 4),
                keyed("s", 127, false, 5),
                list("even", Redistribution::EvenSplit, &[13]),
                list("union", Redistribution::Union, &[21]),
            ],
        ];
        // Same parallelism: key groups of the range in order, lists in place.
        let r = restored_state("op", &old, 0, 2, 128);
        let blobs: Vec<(u32, bool, u8)> = r
            .keyed_blobs("s")
            .iter()
            .map(|b| (b.key_group, b.delta, b.data[0]))
            .collect();
        assert_eq!(blobs, vec![(0, false, 1), (0, true, 2), (63, false, 3)]);
        assert_eq!(
            r.list_raw("even").unwrap().1,
            &[vec![10], vec![11], vec![12]]
        );
        assert_eq!(r.list_raw("union").unwrap().1, &[vec![20]]);
        assert_eq!(r.operator(), "op");

        // Parallelism 3: even split of 4 elements, union of all.
        let parts: Vec<RestoredState> = (0..3)
            .map(|i| restored_state("op", &old, i, 3, 128))
            .collect();
        let even: Vec<usize> = parts
            .iter()
            .map(|r| r.list_raw("even").unwrap().1.len())
            .collect();
        assert_eq!(even, vec![1, 1, 2]);
        for r in &parts {
            assert_eq!(r.list_raw("union").unwrap().1, &[vec![20], vec![21]]);
        }
        let groups: Vec<Vec<u32>> = parts
            .iter()
            .map(|r| r.keyed_blobs("s").iter().map(|b| b.key_group).collect())
            .collect();
        assert_eq!(groups, vec![vec![0, 0], vec![63, 64], vec![127]]);
    }

    #[test]
    fn keys_route_like_the_runtime() {
        for key in 0..100_i64 {
            let kg = key_group_for_hash(key.key_hash(), 128);
            let subtask = subtask_for_key(&key, 3, 128);
            assert!(KeyGroupRange::for_operator(128, 3, subtask).contains(kg));
        }
    }
}
