//! Broadcast state (Flink's broadcast state pattern): a low-volume stream (rules,
//! configuration) is broadcast to every subtask of an operator that processes a high-volume
//! stream. Every subtask keeps the same broadcast state: read-write for broadcast elements,
//! read-only for the other elements. On keyed streams the broadcast side can also visit every
//! key's state ([`KeyedBroadcastContext::apply_to_keyed_state`]) — the way to apply a
//! changed rule to all keys while the job runs.

use crate::keyed::KeyedContext;
use crate::timer::{TimerQueue, TimerService};
use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use strom_core::{
    BoxError, Collector, Either, OutputTag, Result, SideOutputs, StromError, Timestamp,
};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_state::backend::{KeyedStateBackend, KeyedStateStore};
use strom_state::handle::StateAccess;
use strom_state::{MapStateDescriptor, ValueState, ValueStateDescriptor};
use strom_types::Record;

/// The broadcast states of one operator instance, by descriptor name.
#[derive(Default)]
pub struct BroadcastStates {
    maps: HashMap<String, Box<dyn Any + Send>>,
}

impl BroadcastStates {
    fn map<K2, V2>(&mut self, d: &MapStateDescriptor<K2, V2>) -> Result<&mut HashMap<K2, V2>>
    where
        K2: Hash + Eq + Send + 'static,
        V2: Send + 'static,
    {
        self.maps
            .entry(d.name().to_string())
            .or_insert_with(|| Box::new(HashMap::<K2, V2>::new()))
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
        K2: Hash + Eq + Send + 'static,
        V2: Send + 'static,
    {
        self.map(d).map(|m| &*m)
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
        K2: Hash + Eq + Send + 'static,
        V2: Send + 'static,
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

impl<K: Hash + Eq + Clone + Send + 'static> KeyedBroadcastContext<'_, K> {
    /// The broadcast state `d`, read-write.
    pub fn broadcast_state<K2, V2>(
        &mut self,
        d: &MapStateDescriptor<K2, V2>,
    ) -> Result<&mut HashMap<K2, V2>>
    where
        K2: Hash + Eq + Send + 'static,
        V2: Send + 'static,
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
        V: Clone + Send + 'static,
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

/// Runs a [`KeyedBroadcastProcessFunction`] over `Either<data, broadcast>`.
pub struct KeyedBroadcastOperator<K, I, R, KF, F> {
    key_of: KF,
    func: F,
    store: KeyedStateStore<K>,
    broadcast: BroadcastStates,
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
            broadcast: BroadcastStates::default(),
            event: TimerQueue::default(),
            processing: TimerQueue::default(),
            _types: PhantomData,
        }
    }
}

impl<K, I, R, KF, F> KeyedBroadcastOperator<K, I, R, KF, F>
where
    K: Hash + Eq + Clone + Send + 'static,
{
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
    K: Hash + Eq + Clone + Send + 'static,
    I: Send,
    R: Send,
    KF: Fn(&I) -> K + Send,
    F: KeyedBroadcastProcessFunction<K, I, R, O>,
{
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
