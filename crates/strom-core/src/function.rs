//! User function traits and what the runtime hands them: a [`Collector`] for results and a
//! [`ProcessContext`] with the element's timestamp, the watermark, processing time and
//! side outputs.
//!
//! Each parallel instance (subtask) of an operator gets its own clone of the user's
//! function, as Flink gives each instance its own deserialized copy.

use crate::{BoxError, Clock, OutputTag, SideOutputs};
use strom_types::{KeyGroupRange, NO_TIMESTAMP, Record, Timestamp, Watermark};

/// Where an operator instance runs: its name, subtask index and parallelism.
#[derive(Clone, Debug)]
pub struct TaskInfo {
    /// The job's name.
    pub job_name: String,
    /// The operator's name.
    pub operator_name: String,
    /// This instance's index, `0..parallelism`.
    pub subtask: usize,
    /// The operator's parallelism.
    pub parallelism: usize,
    /// The number of key groups (max parallelism).
    pub max_parallelism: usize,
}

impl TaskInfo {
    /// The key groups owned by this instance when it is keyed.
    pub fn key_group_range(&self) -> KeyGroupRange {
        KeyGroupRange::for_operator(self.max_parallelism, self.parallelism, self.subtask)
    }
}

/// Collects a function's output records, stamping them with the input's timestamp unless
/// told otherwise.
pub struct Collector<'a, T> {
    out: &'a mut Vec<Record<T>>,
    timestamp: Timestamp,
}

impl<'a, T> Collector<'a, T> {
    /// A collector appending to `out` with default timestamp `timestamp` (runtime use).
    pub fn new(out: &'a mut Vec<Record<T>>, timestamp: Timestamp) -> Self {
        Collector { out, timestamp }
    }

    /// Emit `value` with the current element's timestamp.
    #[inline]
    pub fn collect(&mut self, value: T) {
        self.out.push(Record::new(value, self.timestamp));
    }

    /// Emit `value` with an explicit event-time timestamp.
    #[inline]
    pub fn collect_with_timestamp(&mut self, value: T, timestamp: Timestamp) {
        self.out.push(Record::new(value, timestamp));
    }

    /// Change the default timestamp (runtime use).
    pub fn set_timestamp(&mut self, timestamp: Timestamp) {
        self.timestamp = timestamp;
    }
}

/// What a [`ProcessFunction`] can see and do besides emitting main output.
pub struct ProcessContext<'a> {
    timestamp: Timestamp,
    watermark: Watermark,
    info: &'a TaskInfo,
    clock: &'a dyn Clock,
    side: &'a mut SideOutputs,
    operator_state: Option<&'a mut crate::operator_state::OperatorStateStore>,
}

impl<'a> ProcessContext<'a> {
    /// A context (runtime use).
    pub fn new(
        info: &'a TaskInfo,
        clock: &'a dyn Clock,
        side: &'a mut SideOutputs,
        watermark: Watermark,
    ) -> Self {
        ProcessContext {
            timestamp: NO_TIMESTAMP,
            watermark,
            info,
            clock,
            side,
            operator_state: None,
        }
    }

    /// Give the function access to its subtask's operator state (runtime use).
    pub fn with_operator_state(
        mut self,
        store: &'a mut crate::operator_state::OperatorStateStore,
    ) -> Self {
        self.operator_state = Some(store);
        self
    }

    /// This subtask's operator list state `d` (kept across checkpoints and redistributed on
    /// rescaling by the descriptor's mode).
    pub fn operator_list_state<V: crate::Data>(
        &mut self,
        d: &crate::operator_state::OperatorListStateDescriptor<V>,
    ) -> crate::Result<&mut Vec<V>> {
        match self.operator_state.as_deref_mut() {
            Some(store) => store.list(d),
            None => Err(crate::StromError::Internal(
                "operator state is not available here".into(),
            )),
        }
    }

    /// Point the context at the next element (runtime use).
    #[inline]
    pub fn set_timestamp(&mut self, timestamp: Timestamp) {
        self.timestamp = timestamp;
    }

    /// The current element's event-time timestamp, if it has one.
    pub fn timestamp(&self) -> Option<Timestamp> {
        (self.timestamp != NO_TIMESTAMP).then_some(self.timestamp)
    }

    /// The operator's current event-time watermark.
    pub fn current_watermark(&self) -> Watermark {
        self.watermark
    }

    /// The current processing time in epoch ms, from the runtime's clock.
    pub fn current_processing_time(&self) -> i64 {
        self.clock.now_ms()
    }

    /// This instance's task information.
    pub fn task_info(&self) -> &TaskInfo {
        self.info
    }

    /// Emit `value` to the side output `tag`, with the current element's timestamp.
    pub fn output<X: 'static>(&mut self, tag: &OutputTag<X>, value: X) {
        self.side.emit(tag, Record::new(value, self.timestamp));
    }
}

/// A function called for every element of a stream, with a context and a collector
/// (Flink's `ProcessFunction`).
///
/// Contract: `open` is called once per subtask before the first element, `process_element`
/// once per element in arrival order, `close` once after the last. An `Err` or a panic
/// fails the job, naming this operator and subtask. Closures
/// `FnMut(I, &mut ProcessContext, &mut Collector<O>) -> Result<(), BoxError>` implement it.
pub trait ProcessFunction<I, O>: Send {
    /// Prepare the instance (open connections, build caches).
    fn open(&mut self, _info: &TaskInfo) -> Result<(), BoxError> {
        Ok(())
    }

    /// Handle one element.
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;

    /// Release resources after the last element.
    fn close(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<I, O, F> ProcessFunction<I, O> for F
where
    F: FnMut(I, &mut ProcessContext<'_>, &mut Collector<'_, O>) -> Result<(), BoxError> + Send,
{
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        self(value, ctx, out)
    }
}

/// An incremental aggregation (Flink's `AggregateFunction`): the window keeps only the
/// accumulator.
///
/// Contract: `add` folds one value in; `merge` combines two accumulators (used when
/// session windows merge); `get_result` does not consume the accumulator (a window may
/// fire again under allowed lateness).
pub trait AggregateFunction<In>: Send {
    /// The accumulator (cloneable: slices of time share it between windows; serde: it is
    /// part of checkpoints).
    type Acc: crate::Data;
    /// The result.
    type Out;
    /// A fresh accumulator.
    fn create_accumulator(&self) -> Self::Acc;
    /// Fold `value` into `acc`.
    fn add(&self, acc: &mut Self::Acc, value: &In);
    /// The result for `acc`.
    fn get_result(&self, acc: &Self::Acc) -> Self::Out;
    /// Combine two accumulators.
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
}
