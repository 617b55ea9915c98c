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

use crate::keyed::{KeyedProcessFunction, KeyedProcessOperator};
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use strom_core::{
    AggregateFunction, Clock, ManualClock, OutputTag, ProcessFunction, Result, SideOutputs,
    StromError, TaskInfo,
};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext, guarded};
use strom_runtime::operators::Process;
use strom_state::backend::{KeyedStateBackend, KeyedStateStore, StateName};
use strom_state::handle::{StateAccess, TtlValue};
use strom_state::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    ValueStateDescriptor,
};
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

    /// Open the operator now (otherwise the first call that needs it does).
    pub fn open(&mut self) -> Result<()> {
        if !self.opened {
            self.opened = true;
            let (op, ctx) = (&mut self.op, &mut self.ctx);
            guarded(&self.info, || op.open(ctx))?;
        }
        Ok(())
    }

    fn ready(&mut self, what: &str) -> Result<()> {
        if self.ended {
            return Err(StromError::InvalidJob(format!("{what} after end_input()"))
                .in_operator(&self.info.operator_name, self.info.subtask));
        }
        self.open()
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
    K: Hash + Eq + Clone + Send + 'static,
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
    fn peek<S: Send + 'static, R>(
        &mut self,
        name: &str,
        key: &K,
        f: impl FnOnce(&S, i64) -> R,
    ) -> Result<Option<R>> {
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
    pub fn value_state<V: Clone + Send + 'static>(
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
    pub fn list_state<V: Clone + Send + 'static>(
        &mut self,
        key: &K,
        d: &ListStateDescriptor<V>,
    ) -> Result<Vec<V>> {
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
        UK: Hash + Eq + Clone + Send + 'static,
        UV: Clone + Send + 'static,
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
        V: Clone + Send + 'static,
        R: Fn(V, V) -> V,
    {
        let v = self.peek::<TtlValue<V>, _>(d.name(), key, |v, now| {
            (v.expires > now).then(|| v.value.clone())
        })?;
        Ok(v.flatten())
    }

    /// The result of `key`'s accumulator of `d`, if anything was added and it has not
    /// expired.
    pub fn aggregating_state<In, A: AggregateFunction<In>>(
        &mut self,
        key: &K,
        d: &AggregatingStateDescriptor<In, A>,
    ) -> Result<Option<A::Out>> {
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
    /// values count until they are removed).
    pub fn state_keys(&self, name: &str) -> Vec<K> {
        self.inner.op.state().keys(name)
    }

    /// How many keys have an object in state `name` (expired values count until they are
    /// removed by a read or the background cleanup).
    pub fn state_len(&self, name: &str) -> usize {
        self.inner.op.state().len(name)
    }

    /// `key`'s state as the function sees it, at the current processing time: bind a
    /// descriptor to it to seed or change state before a test
    /// (`d.bind(h.state_access(&key)).update(v)?`).
    pub fn state_access<'a>(&'a mut self, key: &'a K) -> StateAccess<'a, K> {
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
