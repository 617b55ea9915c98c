//! [`KeyedProcessFunction`] and the operator that runs it.
//!
//! ## Checkpoints
//!
//! [`KeyedProcessOperator`] keeps its keyed state in a [`KeyedStateStore`] on the job's
//! configured state backend (created when the operator is restored or opened, so switching
//! backends is configuration only). At a checkpoint barrier it snapshots the store (every
//! state, cut by key group) and its pending timers (the keyed state [`TIMERS_STATE`]); on
//! restore it loads both for the key groups the subtask owns, which may come from several
//! old subtasks when the job was rescaled. Restored processing-time timers are requested
//! from the task again (those already due fire at the first callback); restored event-time
//! timers fire when the watermark passes them (the operator resumes at the watermark it had
//! at the checkpoint, which the runtime keeps for every operator). Keys and state values
//! must be serializable: the operator requires `K:` [`Key`], state values [`Data`].

use crate::timer::{
    TIMERS_STATE, TimeDomain, TimerQueue, TimerService, restore_timers, snapshot_timers,
};
use std::hash::Hash;
use strom_core::checkpoint::{CheckpointId, RestoredState, SnapshotContext, StateSnapshot};
use strom_core::{
    AggregateFunction, BoxError, Collector, Data, Key, OutputTag, Result, SideOutputs, StromError,
    TaskInfo,
};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_state::backend::KeyedStateStore;
use strom_state::handle::StateAccess;
use strom_state::{
    AggregatingState, AggregatingStateDescriptor, ListState, ListStateDescriptor, MapState,
    MapStateDescriptor, ReducingState, ReducingStateDescriptor, ValueState, ValueStateDescriptor,
};
use strom_types::key_group::KeyGroupRange;
use strom_types::{NO_TIMESTAMP, Record, Timestamp};

/// How often expired TTL state is swept in the background (processing time, ms).
const TTL_SWEEP_INTERVAL_MS: i64 = 1_000;

/// What a keyed process function sees: the current key and element (or timer), times,
/// side outputs, keyed state and timers.
pub struct KeyedContext<'a, K> {
    key: &'a K,
    timestamp: Timestamp,
    domain: Option<TimeDomain>,
    store: &'a mut KeyedStateStore<K>,
    timers: TimerService<'a, K>,
    side: &'a mut SideOutputs,
    info: &'a TaskInfo,
}

impl<'a, K> KeyedContext<'a, K> {
    /// A context for one element or timer of `key` (runtime use).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        key: &'a K,
        timestamp: Timestamp,
        domain: Option<TimeDomain>,
        store: &'a mut KeyedStateStore<K>,
        timers: TimerService<'a, K>,
        side: &'a mut SideOutputs,
        info: &'a TaskInfo,
    ) -> Self {
        KeyedContext {
            key,
            timestamp,
            domain,
            store,
            timers,
            side,
            info,
        }
    }
}

impl<'a, K: Key> KeyedContext<'a, K> {
    /// The current key.
    pub fn key(&self) -> &K {
        self.key
    }
    /// The element's timestamp (or the firing timer's time), if any.
    pub fn timestamp(&self) -> Option<Timestamp> {
        (self.timestamp != NO_TIMESTAMP).then_some(self.timestamp)
    }
    /// In `on_timer`: which clock the firing timer follows; `None` in `process_element`.
    pub fn time_domain(&self) -> Option<TimeDomain> {
        self.domain
    }
    /// The current event-time watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.timers.current_watermark()
    }
    /// The current processing time (from the job's clock).
    pub fn current_processing_time(&self) -> i64 {
        self.timers.now
    }
    /// Register and delete timers of the current key.
    pub fn timer_service(&mut self) -> &mut TimerService<'a, K> {
        &mut self.timers
    }
    /// Where the function runs.
    pub fn task_info(&self) -> &TaskInfo {
        self.info
    }
    /// Emit to a side output with the current timestamp.
    pub fn output<X: 'static>(&mut self, tag: &OutputTag<X>, value: X) {
        self.side.emit(tag, Record::new(value, self.timestamp));
    }
    /// The side outputs themselves, for functions that hand them on (say, to a context of
    /// their own) or emit with explicit timestamps.
    pub fn side_outputs(&mut self) -> &mut SideOutputs {
        self.side
    }

    fn access(&mut self) -> StateAccess<'_, K> {
        StateAccess {
            store: self.store,
            key: self.key,
            now: self.timers.now,
        }
    }
    /// The current key's value state.
    pub fn value_state<'b, V: Data>(
        &'b mut self,
        d: &'b ValueStateDescriptor<V>,
    ) -> ValueState<'b, K, V> {
        d.bind(self.access())
    }
    /// The current key's list state.
    pub fn list_state<'b, V: Data>(
        &'b mut self,
        d: &'b ListStateDescriptor<V>,
    ) -> ListState<'b, K, V> {
        d.bind(self.access())
    }
    /// The current key's map state.
    pub fn map_state<'b, UK, UV>(
        &'b mut self,
        d: &'b MapStateDescriptor<UK, UV>,
    ) -> MapState<'b, K, UK, UV>
    where
        UK: Data + Hash + Eq,
        UV: Data,
    {
        d.bind(self.access())
    }
    /// The current key's reducing state.
    pub fn reducing_state<'b, V, F>(
        &'b mut self,
        d: &'b ReducingStateDescriptor<V, F>,
    ) -> ReducingState<'b, K, V, F>
    where
        V: Data,
        F: Fn(V, V) -> V,
    {
        d.bind(self.access())
    }
    /// The current key's aggregating state.
    pub fn aggregating_state<'b, In, A>(
        &'b mut self,
        d: &'b AggregatingStateDescriptor<In, A>,
    ) -> AggregatingState<'b, K, In, A>
    where
        A: AggregateFunction<In>,
        A::Acc: Data,
    {
        d.bind(self.access())
    }
}

/// A function over a keyed stream with keyed state and timers (Flink's
/// `KeyedProcessFunction`).
///
/// Contract: `process_element` is called per element with the element's key current;
/// `on_timer` when a timer of a key fires, with that key current and the timer's time as
/// timestamp; both see and change only the current key's state. Timers fire in timestamp
/// order; event-time timers when the watermark reaches them (at the latest at the end of a
/// bounded input), processing-time timers when the job's clock does. An `Err` or a panic
/// fails the job, naming the operator and subtask. Closures
/// `FnMut(I, &mut KeyedContext<K>, &mut Collector<O>) -> Result<(), BoxError>` implement it
/// (without timers' callback).
pub trait KeyedProcessFunction<K, I, O>: Send {
    /// Called once per subtask before the first element.
    fn open(&mut self, _info: &TaskInfo) -> Result<(), BoxError> {
        Ok(())
    }
    /// Handle one element.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// A timer of the current key fired.
    fn on_timer(
        &mut self,
        _timestamp: Timestamp,
        _ctx: &mut KeyedContext<'_, K>,
        _out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
    /// Called once after the last element.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<K, I, O, F> KeyedProcessFunction<K, I, O> for F
where
    F: FnMut(I, &mut KeyedContext<'_, K>, &mut Collector<'_, O>) -> Result<(), BoxError> + Send,
{
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        self(value, ctx, out)
    }
}

/// Runs a [`KeyedProcessFunction`]; checkpoints its keyed state and timers (see the
/// [module documentation](self)).
pub struct KeyedProcessOperator<K, KF, F> {
    key_of: KF,
    func: F,
    store: KeyedStateStore<K>,
    /// The key groups this subtask owns (known once restored or opened).
    key_groups: KeyGroupRange,
    event: TimerQueue<K>,
    processing: TimerQueue<K>,
    next_sweep: i64,
}

impl<K, KF, F> KeyedProcessOperator<K, KF, F> {
    /// An operator keyed by `key_of` running `func`.
    pub fn new(key_of: KF, func: F) -> Self {
        KeyedProcessOperator {
            key_of,
            func,
            store: KeyedStateStore::default(),
            key_groups: KeyGroupRange::for_operator(1, 1, 0),
            event: TimerQueue::default(),
            processing: TimerQueue::default(),
            next_sweep: i64::MAX,
        }
    }
}

impl<K: Key, KF, F> KeyedProcessOperator<K, KF, F> {
    /// Create the keyed state store on the backend `ctx` names, once (before a restore or
    /// on open, whichever comes first).
    fn ensure_store(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)?;
        self.key_groups = ctx.info.key_group_range();
        Ok(())
    }
}

impl<K: Hash + Eq + Clone + Send + 'static, KF, F> KeyedProcessOperator<K, KF, F> {
    /// The keyed state (for tests and introspection).
    pub fn state(&self) -> &KeyedStateStore<K> {
        &self.store
    }

    /// The keyed state, mutably (for test harnesses: reading and seeding any key's state).
    pub fn state_mut(&mut self) -> &mut KeyedStateStore<K> {
        &mut self.store
    }

    /// Pending event-time and processing-time timers of `key`.
    pub fn timers_of(&self, key: &K) -> (Vec<Timestamp>, Vec<i64>) {
        (self.event.of_key(key), self.processing.of_key(key))
    }

    fn schedule_sweep(&mut self, now: i64, ctx: &OperatorContext) {
        if self.store.has_ttl() && self.next_sweep == i64::MAX {
            self.next_sweep = now.saturating_add(TTL_SWEEP_INTERVAL_MS);
            ctx.request_processing_time(self.next_sweep);
        }
    }
}

/// Call `on_timer` for one fired timer.
#[allow(clippy::too_many_arguments)]
fn fire<K, I, O, F>(
    func: &mut F,
    store: &mut KeyedStateStore<K>,
    event: &mut TimerQueue<K>,
    processing: &mut TimerQueue<K>,
    key: &K,
    time: Timestamp,
    domain: TimeDomain,
    now: i64,
    ctx: &OperatorContext,
    out: &mut Emitter<'_, O>,
) -> Result<()>
where
    K: Hash + Eq + Clone + Send + 'static,
    F: KeyedProcessFunction<K, I, O>,
{
    let mut kctx = KeyedContext {
        key,
        timestamp: time,
        domain: Some(domain),
        store,
        timers: TimerService {
            key,
            event,
            processing,
            ctx,
            now,
        },
        side: out.side,
        info: &ctx.info,
    };
    let mut collector = Collector::new(out.records, time);
    func.on_timer(time, &mut kctx, &mut collector)
        .map_err(StromError::from_user)
}

impl<K, I, O, KF, F> OneInputOperator<I, O> for KeyedProcessOperator<K, KF, F>
where
    K: Key,
    I: Send,
    KF: Fn(&I) -> K + Send,
    F: KeyedProcessFunction<K, I, O>,
{
    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        self.ensure_store(ctx)?;
        self.store
            .restore_states(state, |name| name != TIMERS_STATE)?;
        restore_timers(state, &mut self.event, &mut self.processing, ctx)
    }

    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.ensure_store(ctx)?;
        self.func.open(&ctx.info).map_err(StromError::from_user)
    }

    fn snapshot_state(&mut self, ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        self.store.snapshot(ctx, out)?;
        snapshot_timers(&self.event, &self.processing, self.key_groups, ctx, out);
        Ok(())
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.store.notify_checkpoint_complete(id);
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<I>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        let now = ctx.clock.now_ms();
        let ctx: &OperatorContext = ctx;
        for r in batch.drain(..) {
            let key = (self.key_of)(&r.value);
            let mut kctx = KeyedContext {
                key: &key,
                timestamp: r.timestamp,
                domain: None,
                store: &mut self.store,
                timers: TimerService {
                    key: &key,
                    event: &mut self.event,
                    processing: &mut self.processing,
                    ctx,
                    now,
                },
                side: out.side,
                info: &ctx.info,
            };
            let mut collector = Collector::new(out.records, r.timestamp);
            self.func
                .process_element(r.value, &mut kctx, &mut collector)
                .map_err(StromError::from_user)?;
        }
        self.schedule_sweep(now, ctx);
        Ok(())
    }

    fn on_watermark(&mut self, ctx: &mut OperatorContext, out: &mut Emitter<'_, O>) -> Result<()> {
        let wm = ctx.watermark.0;
        let now = ctx.clock.now_ms();
        while let Some((time, key)) = self.event.pop_due(wm) {
            fire(
                &mut self.func,
                &mut self.store,
                &mut self.event,
                &mut self.processing,
                &key,
                time,
                TimeDomain::EventTime,
                now,
                ctx,
                out,
            )?;
            out.flush_if_full()?;
        }
        Ok(())
    }

    fn on_processing_time(
        &mut self,
        now_ms: i64,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        while let Some((time, key)) = self.processing.pop_due(now_ms) {
            fire(
                &mut self.func,
                &mut self.store,
                &mut self.event,
                &mut self.processing,
                &key,
                time,
                TimeDomain::ProcessingTime,
                now_ms,
                ctx,
                out,
            )?;
            out.flush_if_full()?;
        }
        if now_ms >= self.next_sweep {
            self.store.cleanup_expired(now_ms)?;
            self.next_sweep = i64::MAX;
            self.schedule_sweep(now_ms, ctx);
        }
        if let Some(next) = self.processing.next_time() {
            ctx.request_processing_time(next);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.func.close().map_err(StromError::from_user)
    }
}
