//! Broadcast state (Flink's broadcast state pattern): a low-volume stream (rules,
//! configuration) is broadcast to every subtask of an operator that processes a high-volume
//! stream. Every subtask keeps the same broadcast state: read-write for broadcast elements,
//! read-only for the other elements. On keyed streams the broadcast side can also visit every
//! key's state ([`KeyedBroadcastContext::apply_to_keyed_state`]) — the way to apply a
//! changed rule to all keys while the job runs.
//!
//! ## Checkpoints
//!
//! As in Flink, every subtask checkpoints its own copy of each broadcast state, as an
//! operator *union* list state named [`BROADCAST_STATE_PREFIX`]` + descriptor name` holding
//! one element: the whole map, with the index of the subtask that wrote it. On restore a
//! subtask takes one copy — its own when the list holds one from a subtask with its index,
//! otherwise the first (old subtask 0's after a rescale) — which is correct because every
//! subtask holds the same state. A restored copy is decoded when the function first uses
//! the state (its types are known only then); one that is never used is carried into the
//! next checkpoint unchanged. The keyed operator also checkpoints its keyed state and
//! timers, as [`KeyedProcessOperator`](crate::KeyedProcessOperator) does.

use crate::keyed::KeyedContext;
use crate::timer::{TIMERS_STATE, TimerQueue, TimerService, restore_timers, snapshot_timers};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use strom_core::checkpoint::{
    CheckpointId, RestoredState, SnapshotContext, StateSection, StateSnapshot, decode, encode,
    state_error,
};
use strom_core::operator_state::Redistribution;
use strom_core::{
    BoxError, Collector, Data, Either, Key, OutputTag, ProcessContext, Result, SideOutputs,
    StromError, TaskInfo, Timestamp, Watermark,
};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_state::backend::{KeyedStateBackend, KeyedStateStore};
use strom_state::handle::StateAccess;
use strom_state::{MapStateDescriptor, ValueState, ValueStateDescriptor};
use strom_types::Record;
use strom_types::key_group::KeyGroupRange;

/// The prefix of the operator list state that holds a broadcast state in a checkpoint (the
/// descriptor's name follows it).
pub const BROADCAST_STATE_PREFIX: &str = "_broadcast_state/";

/// One subtask's copy of a broadcast state as written to a checkpoint.
#[derive(Serialize)]
struct CopyOut<'a, K2, V2> {
    subtask: u32,
    entries: Vec<(&'a K2, &'a V2)>,
}

/// One subtask's copy of a broadcast state as read back.
#[derive(Deserialize)]
struct CopyIn<K2, V2> {
    entries: Vec<(K2, V2)>,
}

/// The writer of a copy, read without knowing the state's types.
#[derive(Deserialize)]
struct CopyHead {
    subtask: u32,
}

/// Encodes a type-erased map as one checkpoint element.
type EncodeCopy = fn(&dyn Any, u32) -> std::result::Result<Vec<u8>, String>;

fn encode_copy<K2: Serialize + 'static, V2: Serialize + 'static>(
    map: &dyn Any,
    subtask: u32,
) -> std::result::Result<Vec<u8>, String> {
    let map = map
        .downcast_ref::<HashMap<K2, V2>>()
        .ok_or_else(|| "broadcast state changed type".to_string())?;
    encode(&CopyOut {
        subtask,
        entries: map.iter().collect(),
    })
}

struct BroadcastEntry {
    map: Box<dyn Any + Send>,
    encode: EncodeCopy,
}

/// The broadcast states of one operator instance, by descriptor name; checkpointed as
/// described in the [module documentation](self).
#[derive(Default)]
pub struct BroadcastStates {
    maps: HashMap<String, BroadcastEntry>,
    /// Restored copies not used yet, by descriptor name (encoded elements).
    restored: HashMap<String, Vec<u8>>,
    /// The operator, for errors about restored state.
    operator: String,
}

impl BroadcastStates {
    fn map<K2, V2>(&mut self, d: &MapStateDescriptor<K2, V2>) -> Result<&mut HashMap<K2, V2>>
    where
        K2: Data + Hash + Eq,
        V2: Data,
    {
        if !self.maps.contains_key(d.name()) {
            let initial: HashMap<K2, V2> = match self.restored.remove(d.name()) {
                Some(bytes) => decode::<CopyIn<K2, V2>>(&bytes)
                    .map_err(|m| {
                        state_error(
                            &self.operator,
                            &format!("{BROADCAST_STATE_PREFIX}{}", d.name()),
                            format!(
                                "cannot read it from the checkpoint (incompatible type change?): {m}"
                            ),
                        )
                    })?
                    .entries
                    .into_iter()
                    .collect(),
                None => HashMap::new(),
            };
            self.maps.insert(
                d.name().to_string(),
                BroadcastEntry {
                    map: Box::new(initial),
                    encode: encode_copy::<K2, V2>,
                },
            );
        }
        self.maps
            .get_mut(d.name())
            .ok_or_else(|| StromError::Internal("broadcast state vanished".into()))?
            .map
            .downcast_mut::<HashMap<K2, V2>>()
            .ok_or_else(|| {
                StromError::User(
                    format!("broadcast state '{}' is used with two types", d.name()).into(),
                )
            })
    }

    /// Read-only access to the broadcast state `d`.
    pub fn get<K2, V2>(&mut self, d: &MapStateDescriptor<K2, V2>) -> Result<&HashMap<K2, V2>>
    where
        K2: Data + Hash + Eq,
        V2: Data,
    {
        self.map(d).map(|m| &*m)
    }

    /// Add this subtask's copy of every broadcast state (and every restored copy not used
    /// yet) to `out`, as union list states (encoded now: broadcast state is small).
    pub fn snapshot(&self, subtask: usize, out: &mut StateSnapshot) -> Result<()> {
        let index = u32::try_from(subtask).unwrap_or(u32::MAX);
        for (name, entry) in &self.maps {
            let state = format!("{BROADCAST_STATE_PREFIX}{name}");
            let element = (entry.encode)(entry.map.as_ref(), index)
                .map_err(|m| state_error(&self.operator, &state, m))?;
            out.add(StateSection::List {
                state,
                mode: Redistribution::Union,
                elements: vec![element],
            });
        }
        for (name, element) in &self.restored {
            out.add(StateSection::List {
                state: format!("{BROADCAST_STATE_PREFIX}{name}"),
                mode: Redistribution::Union,
                elements: vec![element.clone()],
            });
        }
        Ok(())
    }

    /// Take one copy of every broadcast state in `state` for subtask `subtask`: the copy
    /// written by a subtask with the same index if there is one, else the first. Copies are
    /// decoded when first used; states used before are replaced.
    pub fn restore(&mut self, state: &RestoredState, subtask: usize) -> Result<()> {
        if !state.operator().is_empty() {
            self.operator = state.operator().to_string();
        }
        let names: Vec<String> = state
            .list_states()
            .filter(|n| n.starts_with(BROADCAST_STATE_PREFIX))
            .map(str::to_string)
            .collect();
        for full in names {
            let Some((_, elements)) = state.list_raw(&full) else {
                continue;
            };
            let mut chosen: Option<&Vec<u8>> = None;
            for element in elements {
                let head: CopyHead = decode(element).map_err(|m| {
                    state_error(
                        state.operator(),
                        &full,
                        format!("cannot read it from the checkpoint: {m}"),
                    )
                })?;
                if usize::try_from(head.subtask).is_ok_and(|i| i == subtask) {
                    chosen = Some(element);
                    break;
                }
                chosen = chosen.or(Some(element));
            }
            let name = &full[BROADCAST_STATE_PREFIX.len()..];
            self.maps.remove(name);
            match chosen {
                Some(element) => {
                    self.restored.insert(name.to_string(), element.clone());
                }
                None => {
                    self.restored.remove(name);
                }
            }
        }
        Ok(())
    }
}

/// What the data side sees: keyed state and timers of the element's key, and the
/// broadcast state read-only.
pub struct KeyedReadOnlyContext<'a, 'b, K> {
    /// The keyed context of the element's key.
    pub keyed: &'a mut KeyedContext<'b, K>,
    broadcast: &'a mut BroadcastStates,
}

impl<K> KeyedReadOnlyContext<'_, '_, K> {
    /// The broadcast state `d`, read-only.
    pub fn broadcast_state<K2, V2>(
        &mut self,
        d: &MapStateDescriptor<K2, V2>,
    ) -> Result<&HashMap<K2, V2>>
    where
        K2: Data + Hash + Eq,
        V2: Data,
    {
        self.broadcast.get(d)
    }
}

/// What the broadcast side sees on a keyed operator: the broadcast state read-write, and
/// every key's state.
pub struct KeyedBroadcastContext<'a, K> {
    broadcast: &'a mut BroadcastStates,
    store: &'a mut KeyedStateStore<K>,
    side: &'a mut SideOutputs,
    timestamp: Timestamp,
    now: i64,
    watermark: Timestamp,
}

impl<K: Key> KeyedBroadcastContext<'_, K> {
    /// The broadcast state `d`, read-write.
    pub fn broadcast_state<K2, V2>(
        &mut self,
        d: &MapStateDescriptor<K2, V2>,
    ) -> Result<&mut HashMap<K2, V2>>
    where
        K2: Data + Hash + Eq,
        V2: Data,
    {
        self.broadcast.map(d)
    }

    /// Visit every key that has a value in state `d` (Flink's `applyToKeyedState`).
    pub fn apply_to_keyed_state<V, F>(
        &mut self,
        d: &ValueStateDescriptor<V>,
        mut f: F,
    ) -> Result<()>
    where
        V: Data,
        F: FnMut(&K, ValueState<'_, K, V>) -> Result<()>,
    {
        let keys = self.store.keys(d.name());
        for key in &keys {
            let access = StateAccess {
                store: self.store,
                key,
                now: self.now,
            };
            f(key, d.bind(access))?;
        }
        Ok(())
    }

    /// The broadcast element's timestamp, if any.
    pub fn timestamp(&self) -> Option<Timestamp> {
        (self.timestamp != strom_types::NO_TIMESTAMP).then_some(self.timestamp)
    }

    /// The current watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }

    /// Emit to a side output.
    pub fn output<X: 'static>(&mut self, tag: &OutputTag<X>, value: X) {
        self.side.emit(tag, Record::new(value, self.timestamp));
    }
}

/// A function over a keyed stream connected to a broadcast stream (Flink's
/// `KeyedBroadcastProcessFunction`).
///
/// Contract: every subtask receives every broadcast element, in order, and must change its
/// broadcast state the same way (deterministically), so all subtasks keep the same state.
/// Data elements see it read-only. Timers and keyed state are as in
/// [`KeyedProcessFunction`](crate::KeyedProcessFunction).
pub trait KeyedBroadcastProcessFunction<K, I, R, O>: Send {
    /// A data element, with its key current.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut KeyedReadOnlyContext<'_, '_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// A broadcast element.
    fn process_broadcast_element(
        &mut self,
        value: R,
        ctx: &mut KeyedBroadcastContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// A timer of the current key fired.
    fn on_timer(
        &mut self,
        _timestamp: Timestamp,
        _ctx: &mut KeyedReadOnlyContext<'_, '_, K>,
        _out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Runs a [`KeyedBroadcastProcessFunction`] over `Either<data, broadcast>`; checkpoints
/// its keyed state, timers and broadcast state (see the [module documentation](self)).
pub struct KeyedBroadcastOperator<K, I, R, KF, F> {
    key_of: KF,
    func: F,
    store: KeyedStateStore<K>,
    /// The key groups this subtask owns (known once restored or opened).
    key_groups: KeyGroupRange,
    broadcast: BroadcastStates,
    /// This instance's subtask index (names its broadcast state copy in checkpoints).
    subtask: usize,
    event: TimerQueue<K>,
    processing: TimerQueue<K>,
    _types: PhantomData<fn(I, R)>,
}

impl<K, I, R, KF, F> KeyedBroadcastOperator<K, I, R, KF, F> {
    /// An operator keying data elements by `key_of`.
    pub fn new(key_of: KF, func: F) -> Self {
        KeyedBroadcastOperator {
            key_of,
            func,
            store: KeyedStateStore::default(),
            key_groups: KeyGroupRange::for_operator(1, 1, 0),
            broadcast: BroadcastStates::default(),
            subtask: 0,
            event: TimerQueue::default(),
            processing: TimerQueue::default(),
            _types: PhantomData,
        }
    }
}

impl<K, I, R, KF, F> KeyedBroadcastOperator<K, I, R, KF, F>
where
    K: Key,
{
    /// The operator's broadcast states (for tests and introspection).
    pub fn broadcast_states(&mut self) -> &mut BroadcastStates {
        &mut self.broadcast
    }

    /// The keyed state (for tests and introspection).
    pub fn state(&self) -> &KeyedStateStore<K> {
        &self.store
    }

    /// Create the keyed state store on the backend `ctx` names, once.
    fn ensure_store(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.store.ensure_backend(&ctx.state_backend, &ctx.info)?;
        self.key_groups = ctx.info.key_group_range();
        Ok(())
    }

    fn fire<O>(
        &mut self,
        time: Timestamp,
        key: K,
        domain: crate::TimeDomain,
        now: i64,
        ctx: &OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()>
    where
        F: KeyedBroadcastProcessFunction<K, I, R, O>,
    {
        let mut keyed = KeyedContext::new(
            &key,
            time,
            Some(domain),
            &mut self.store,
            TimerService {
                key: &key,
                event: &mut self.event,
                processing: &mut self.processing,
                ctx,
                now,
            },
            out.side,
            &ctx.info,
        );
        let mut ro = KeyedReadOnlyContext {
            keyed: &mut keyed,
            broadcast: &mut self.broadcast,
        };
        let mut c = Collector::new(out.records, time);
        self.func
            .on_timer(time, &mut ro, &mut c)
            .map_err(StromError::from_user)
    }
}

impl<K, I, R, O, KF, F> OneInputOperator<Either<I, R>, O> for KeyedBroadcastOperator<K, I, R, KF, F>
where
    K: Key,
    I: Send,
    R: Send,
    KF: Fn(&I) -> K + Send,
    F: KeyedBroadcastProcessFunction<K, I, R, O>,
{
    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        self.subtask = ctx.info.subtask;
        self.broadcast.operator = ctx.info.operator_name.clone();
        self.ensure_store(ctx)?;
        self.store
            .restore_states(state, |name| name != TIMERS_STATE)?;
        restore_timers(state, &mut self.event, &mut self.processing, ctx)?;
        self.broadcast.restore(state, ctx.info.subtask)
    }

    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.subtask = ctx.info.subtask;
        self.broadcast.operator = ctx.info.operator_name.clone();
        self.ensure_store(ctx)
    }

    fn snapshot_state(&mut self, ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        self.store.snapshot(ctx, out)?;
        snapshot_timers(&self.event, &self.processing, self.key_groups, ctx, out);
        self.broadcast.snapshot(self.subtask, out)
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.store.notify_checkpoint_complete(id);
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<Either<I, R>>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        let now = ctx.clock.now_ms();
        let ctx: &OperatorContext = ctx;
        for r in batch.drain(..) {
            let mut c = Collector::new(out.records, r.timestamp);
            match r.value {
                Either::Left(value) => {
                    let key = (self.key_of)(&value);
                    let mut keyed = KeyedContext::new(
                        &key,
                        r.timestamp,
                        None,
                        &mut self.store,
                        TimerService {
                            key: &key,
                            event: &mut self.event,
                            processing: &mut self.processing,
                            ctx,
                            now,
                        },
                        out.side,
                        &ctx.info,
                    );
                    let mut ro = KeyedReadOnlyContext {
                        keyed: &mut keyed,
                        broadcast: &mut self.broadcast,
                    };
                    self.func
                        .process_element(value, &mut ro, &mut c)
                        .map_err(StromError::from_user)?;
                }
                Either::Right(rule) => {
                    let mut bctx = KeyedBroadcastContext {
                        broadcast: &mut self.broadcast,
                        store: &mut self.store,
                        side: out.side,
                        timestamp: r.timestamp,
                        now,
                        watermark: ctx.watermark.0,
                    };
                    self.func
                        .process_broadcast_element(rule, &mut bctx, &mut c)
                        .map_err(StromError::from_user)?;
                }
            }
        }
        Ok(())
    }

    fn on_watermark(&mut self, ctx: &mut OperatorContext, out: &mut Emitter<'_, O>) -> Result<()> {
        let (wm, now) = (ctx.watermark.0, ctx.clock.now_ms());
        while let Some((t, key)) = self.event.pop_due(wm) {
            self.fire(t, key, crate::TimeDomain::EventTime, now, ctx, out)?;
            out.flush_if_full()?;
        }
        Ok(())
    }

    fn on_processing_time(
        &mut self,
        now: i64,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        while let Some((t, key)) = self.processing.pop_due(now) {
            self.fire(t, key, crate::TimeDomain::ProcessingTime, now, ctx, out)?;
            out.flush_if_full()?;
        }
        if let Some(next) = self.processing.next_time() {
            ctx.request_processing_time(next);
        }
        Ok(())
    }
}

/// What the data side of a non-keyed broadcast function sees: the element's timestamp, the
/// watermark, processing time, side outputs, and the broadcast state read-only (Flink's
/// `BroadcastProcessFunction.ReadOnlyContext`).
pub struct ReadOnlyContext<'a, 'b> {
    ctx: &'a mut ProcessContext<'b>,
    broadcast: &'a mut BroadcastStates,
}

/// What the broadcast side of a non-keyed broadcast function sees: as
/// [`ReadOnlyContext`], with the broadcast state read-write (Flink's
/// `BroadcastProcessFunction.Context`).
pub struct BroadcastContext<'a, 'b> {
    ctx: &'a mut ProcessContext<'b>,
    broadcast: &'a mut BroadcastStates,
}

macro_rules! process_context_methods {
    ($ty:ident) => {
        impl $ty<'_, '_> {
            /// The current element's event-time timestamp, if it has one.
            pub fn timestamp(&self) -> Option<Timestamp> {
                self.ctx.timestamp()
            }

            /// The operator's current event-time watermark (the minimum over both inputs).
            pub fn current_watermark(&self) -> Watermark {
                self.ctx.current_watermark()
            }

            /// The current processing time in epoch ms, from the job's clock.
            pub fn current_processing_time(&self) -> i64 {
                self.ctx.current_processing_time()
            }

            /// Where the function runs.
            pub fn task_info(&self) -> &TaskInfo {
                self.ctx.task_info()
            }

            /// Emit to a side output, with the current element's timestamp.
            pub fn output<X: 'static>(&mut self, tag: &OutputTag<X>, value: X) {
                self.ctx.output(tag, value);
            }
        }
    };
}

process_context_methods!(ReadOnlyContext);
process_context_methods!(BroadcastContext);

impl ReadOnlyContext<'_, '_> {
    /// The broadcast state `d`, read-only (empty until a broadcast element writes it).
    pub fn broadcast_state<K2, V2>(
        &mut self,
        d: &MapStateDescriptor<K2, V2>,
    ) -> Result<&HashMap<K2, V2>>
    where
        K2: Data + Hash + Eq,
        V2: Data,
    {
        self.broadcast.get(d)
    }
}

impl BroadcastContext<'_, '_> {
    /// The broadcast state `d`, read-write.
    pub fn broadcast_state<K2, V2>(
        &mut self,
        d: &MapStateDescriptor<K2, V2>,
    ) -> Result<&mut HashMap<K2, V2>>
    where
        K2: Data + Hash + Eq,
        V2: Data,
    {
        self.broadcast.map(d)
    }
}

/// A function over a non-keyed stream connected to a broadcast stream (Flink's
/// `BroadcastProcessFunction`).
///
/// Contract: every subtask receives every broadcast element, in order, and must change its
/// broadcast state the same way (deterministically), so that all subtasks keep the same
/// state; data elements (each to one subtask, partitioned as the data stream is) see it
/// read-only. The two inputs interleave in no guaranteed order. `open` is called once per
/// subtask before the first element, `close` once after the last. An `Err` or a panic fails
/// the job, naming the operator and subtask.
pub trait BroadcastProcessFunction<I, R, O>: Send {
    /// Called once per subtask before the first element.
    fn open(&mut self, _info: &TaskInfo) -> Result<(), BoxError> {
        Ok(())
    }
    /// A data element.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut ReadOnlyContext<'_, '_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// A broadcast element.
    fn process_broadcast_element(
        &mut self,
        value: R,
        ctx: &mut BroadcastContext<'_, '_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// Called once after the last element.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Runs a [`BroadcastProcessFunction`] over `Either<data, broadcast>`; checkpoints its
/// broadcast state (see the [module documentation](self)).
pub struct BroadcastProcessOperator<I, R, F> {
    func: F,
    broadcast: BroadcastStates,
    /// This instance's subtask index (names its broadcast state copy in checkpoints).
    subtask: usize,
    _types: PhantomData<fn(I, R)>,
}

impl<I, R, F> BroadcastProcessOperator<I, R, F> {
    /// An operator running `func`, with empty broadcast state.
    pub fn new(func: F) -> Self {
        BroadcastProcessOperator {
            func,
            broadcast: BroadcastStates::default(),
            subtask: 0,
            _types: PhantomData,
        }
    }

    /// The operator's broadcast states (for tests and introspection).
    pub fn broadcast_states(&mut self) -> &mut BroadcastStates {
        &mut self.broadcast
    }
}

impl<I, R, O, F> OneInputOperator<Either<I, R>, O> for BroadcastProcessOperator<I, R, F>
where
    I: Send,
    R: Send,
    F: BroadcastProcessFunction<I, R, O>,
{
    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        self.subtask = ctx.info.subtask;
        self.broadcast.operator = ctx.info.operator_name.clone();
        self.broadcast.restore(state, ctx.info.subtask)
    }

    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.subtask = ctx.info.subtask;
        self.broadcast.operator = ctx.info.operator_name.clone();
        self.func.open(&ctx.info).map_err(StromError::from_user)
    }

    fn snapshot_state(&mut self, _ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        self.broadcast.snapshot(self.subtask, out)
    }

    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<Either<I, R>>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        let mut pctx = ProcessContext::new(&ctx.info, &*ctx.clock, out.side, ctx.watermark);
        for r in batch.drain(..) {
            pctx.set_timestamp(r.timestamp);
            let mut c = Collector::new(out.records, r.timestamp);
            match r.value {
                Either::Left(value) => {
                    let mut ro = ReadOnlyContext {
                        ctx: &mut pctx,
                        broadcast: &mut self.broadcast,
                    };
                    self.func.process_element(value, &mut ro, &mut c)
                }
                Either::Right(rule) => {
                    let mut bctx = BroadcastContext {
                        ctx: &mut pctx,
                        broadcast: &mut self.broadcast,
                    };
                    self.func.process_broadcast_element(rule, &mut bctx, &mut c)
                }
            }
            .map_err(StromError::from_user)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.func.close().map_err(StromError::from_user)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testkit::OperatorHarness;

    /// Labels numbers by the broadcast thresholds they reach; `("clear", _)` drops them all
    /// and reports on a side output what it dropped.
    #[derive(Clone)]
    struct Thresholds {
        levels: MapStateDescriptor<String, i64>,
        dropped: OutputTag<String>,
        opened: usize,
        closed: usize,
    }

    impl BroadcastProcessFunction<i64, (String, i64), String> for Thresholds {
        fn open(&mut self, info: &TaskInfo) -> std::result::Result<(), BoxError> {
            assert_eq!(info.operator_name, "Broadcast Process");
            self.opened += 1;
            Ok(())
        }

        fn process_element(
            &mut self,
            x: i64,
            ctx: &mut ReadOnlyContext<'_, '_>,
            out: &mut Collector<'_, String>,
        ) -> std::result::Result<(), BoxError> {
            let ts = ctx.timestamp();
            let wm = ctx.current_watermark().0;
            let mut reached: Vec<&String> = ctx
                .broadcast_state(&self.levels)?
                .iter()
                .filter(|(_, t)| x >= **t)
                .map(|(l, _)| l)
                .collect();
            reached.sort();
            out.collect(format!("{x} {ts:?} wm={wm} {reached:?}"));
            Ok(())
        }

        fn process_broadcast_element(
            &mut self,
            (name, t): (String, i64),
            ctx: &mut BroadcastContext<'_, '_>,
            _out: &mut Collector<'_, String>,
        ) -> std::result::Result<(), BoxError> {
            if name == "clear" {
                let levels = ctx.broadcast_state(&self.levels)?;
                let mut names: Vec<String> = levels.drain().map(|(l, _)| l).collect();
                names.sort();
                let tag = self.dropped.clone();
                ctx.output(&tag, format!("{:?} dropped {names:?}", ctx.timestamp()));
            } else if name == "fail" {
                return Err("bad rule".into());
            } else {
                ctx.broadcast_state(&self.levels)?.insert(name, t);
            }
            Ok(())
        }

        fn close(&mut self) -> std::result::Result<(), BoxError> {
            self.closed += 1;
            Ok(())
        }
    }

    type Harness = OperatorHarness<
        Either<i64, (String, i64)>,
        String,
        BroadcastProcessOperator<i64, (String, i64), Thresholds>,
    >;

    fn harness() -> (Harness, OutputTag<String>) {
        let dropped = OutputTag::<String>::new("dropped");
        let f = Thresholds {
            levels: MapStateDescriptor::new("levels"),
            dropped: dropped.clone(),
            opened: 0,
            closed: 0,
        };
        let h = OperatorHarness::new(BroadcastProcessOperator::new(f))
            .with_operator_name("Broadcast Process")
            .with_side_output(&dropped);
        (h, dropped)
    }

    fn rule(name: &str, t: i64) -> Either<i64, (String, i64)> {
        Either::Right((name.to_string(), t))
    }

    #[test]
    fn data_sees_the_broadcast_state_written_by_the_rules_before_it() {
        let (mut h, dropped) = harness();
        h.process(Either::Left(5), 1).unwrap();
        h.process(rule("low", 3), 2).unwrap();
        h.process(rule("high", 10), 3).unwrap();
        h.advance_watermark(3).unwrap();
        h.process(Either::Left(5), 4).unwrap();
        h.process_untimed(Either::Left(12)).unwrap();
        h.process(rule("clear", 0), 6).unwrap();
        h.process(Either::Left(12), 7).unwrap();
        h.finish().unwrap();
        let min = Watermark::MIN.0;
        assert_eq!(
            h.take_output(),
            vec![
                format!("5 Some(1) wm={min} []"),
                "5 Some(4) wm=3 [\"low\"]".to_string(),
                "12 None wm=3 [\"high\", \"low\"]".to_string(),
                "12 Some(7) wm=3 []".to_string(),
            ]
        );
        assert_eq!(
            h.take_side_output(&dropped),
            vec!["Some(6) dropped [\"high\", \"low\"]"]
        );
        let f = &h.operator().func;
        assert_eq!((f.opened, f.closed), (1, 1));
    }

    #[test]
    fn a_failing_function_and_a_state_used_with_two_types_fail_naming_the_operator() {
        let (mut h, _) = harness();
        let err = h.process(rule("fail", 0), 1).unwrap_err().to_string();
        assert!(
            err.contains("Broadcast Process") && err.contains("bad rule"),
            "{err}"
        );

        let mut states = BroadcastStates::default();
        states
            .map(&MapStateDescriptor::<String, i64>::new("s"))
            .unwrap();
        let err = states
            .get(&MapStateDescriptor::<String, String>::new("s"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("broadcast state 's' is used with two types"),
            "{err}"
        );
    }
}
