//! Keyed state changed in place, and the event-time mini-batch of the updating queries
//! (q15 to q20).
//!
//! Strom's state handles return copies of state objects on read (`value()`, `get()`),
//! which would copy a hash map or a top-10 list per record; the only handle that works on
//! the stored object by reference is `AggregatingState::add`, so the state objects here are
//! driven through it: the "input" ([`Apply`]) carries the operation in and its result out
//! through cells. One state lookup per record, no copy of the state, records moved into
//! state rather than cloned. [`MiniBatch`] builds on it: each key's row is emitted once per
//! watermark advance in which the key changed (an event-time timer at the current
//! watermark + 1), and the final watermark emits what is left.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::marker::PhantomData;
use strom_core::{AggregateFunction, BoxError, Collector, Data, Key, Timestamp};
use strom_process::{KeyedContext, KeyedProcessFunction};
use strom_state::AggregatingStateDescriptor;

/// A keyed state object changed in place by operations: one operation per state access.
pub(crate) trait InPlace: Data + Default {
    /// An operation.
    type In;
    /// Its result.
    type Out;
    /// Run `op` on the object.
    fn apply(&mut self, op: Self::In) -> Self::Out;
    /// Fold `other` in (the aggregate function's merge; keyed process state never merges).
    fn merge(&mut self, other: Self);
}

/// One operation on an [`InPlace`] state object, passed to `AggregatingState::add` by
/// reference: the operation is taken out of `op` and its result put into `result`.
pub(crate) struct Apply<I, O> {
    op: Cell<Option<I>>,
    result: Cell<Option<O>>,
}

/// The aggregate function that runs `Apply` operations on an [`InPlace`] object.
pub(crate) struct InPlaceFn<S>(PhantomData<fn() -> S>);

impl<S> Clone for InPlaceFn<S> {
    fn clone(&self) -> Self {
        InPlaceFn(PhantomData)
    }
}

impl<S: InPlace> AggregateFunction<Apply<S::In, S::Out>> for InPlaceFn<S> {
    type Acc = S;
    type Out = ();

    fn create_accumulator(&self) -> S {
        S::default()
    }

    #[inline]
    fn add(&self, acc: &mut S, value: &Apply<S::In, S::Out>) {
        if let Some(op) = value.op.take() {
            value.result.set(Some(acc.apply(op)));
        }
    }

    fn get_result(&self, _acc: &S) {}

    fn merge(&self, mut a: S, b: S) -> S {
        a.merge(b);
        a
    }
}

/// The descriptor of an [`InPlace`] state.
pub(crate) type InPlaceState<S> =
    AggregatingStateDescriptor<Apply<<S as InPlace>::In, <S as InPlace>::Out>, InPlaceFn<S>>;

/// An [`InPlace`] state called `name`.
pub(crate) fn in_place_state<S: InPlace>(name: &str) -> InPlaceState<S> {
    AggregatingStateDescriptor::new(name, InPlaceFn(PhantomData))
}

/// Run `op` on the current key's object of `state` (created empty if absent) and return
/// its result.
#[inline]
pub(crate) fn apply<K: Key, S: InPlace>(
    ctx: &mut KeyedContext<'_, K>,
    state: &InPlaceState<S>,
    op: S::In,
) -> Result<S::Out, BoxError> {
    let cell = Apply {
        op: Cell::new(Some(op)),
        result: Cell::new(None),
    };
    ctx.aggregating_state(state).add(&cell)?;
    cell.result
        .into_inner()
        .ok_or_else(|| BoxError::from("keyed state operation did not run"))
}

/// An updating aggregate's accumulator: records fold in; `emit` gives the result to send
/// (and may reset what it sent), or `None` when there is nothing to send.
pub(crate) trait Updating: Data + Default {
    /// A record.
    type In;
    /// The result.
    type Out;
    /// Fold a record in.
    fn add(&mut self, input: Self::In);
    /// The result to send now, if any.
    fn emit(&mut self) -> Option<Self::Out>;
    /// Fold `other` in.
    fn merge(&mut self, other: Self);
}

/// An [`Updating`] accumulator and the time of the key's pending emission timer, if any
/// (so that a key registers its timer once per mini-batch, not once per record).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(bound(serialize = "S: Serialize", deserialize = "S: DeserializeOwned"))]
pub(crate) struct Batched<S> {
    acc: S,
    timer: Option<Timestamp>,
}

/// An operation on a [`Batched`] accumulator.
pub(crate) enum BatchOp<I> {
    /// Fold a record in; the emission timer is due at the given time.
    Add(I, Timestamp),
    /// The timer fired: the result to send.
    Emit,
}

/// The result of a [`BatchOp`].
pub(crate) enum BatchOut<O> {
    /// The record was added; whether the timer must be registered.
    Added(bool),
    /// The result to send, if any.
    Emitted(Option<O>),
}

impl<S: Updating> InPlace for Batched<S> {
    type In = BatchOp<S::In>;
    type Out = BatchOut<S::Out>;

    #[inline]
    fn apply(&mut self, op: BatchOp<S::In>) -> BatchOut<S::Out> {
        match op {
            BatchOp::Add(input, timer) => {
                self.acc.add(input);
                let register = self.timer != Some(timer);
                self.timer = Some(timer);
                BatchOut::Added(register)
            }
            BatchOp::Emit => {
                self.timer = None;
                BatchOut::Emitted(self.acc.emit())
            }
        }
    }

    fn merge(&mut self, other: Self) {
        self.acc.merge(other.acc);
    }
}

/// A keyed process function running an [`Updating`] aggregate per key with an event-time
/// mini-batch: each record is folded into the key's accumulator in place and the key
/// registers a timer at the current watermark + 1 (once per mini-batch); when the timer
/// fires (the next watermark advance, or the final watermark), the key's result is sent
/// through `emit`. The function's input `I` becomes the accumulator's input through
/// `input`.
pub(crate) struct MiniBatch<K, I, S: Updating, R> {
    state: InPlaceState<Batched<S>>,
    input: fn(I) -> S::In,
    emit: fn(&K, S::Out, &mut Collector<'_, R>),
}

impl<K, I, S: Updating, R> Clone for MiniBatch<K, I, S, R> {
    fn clone(&self) -> Self {
        MiniBatch {
            state: self.state.clone(),
            input: self.input,
            emit: self.emit,
        }
    }
}

impl<K, I, S: Updating, R> MiniBatch<K, I, S, R> {
    /// The function with state `name`.
    pub(crate) fn new(
        name: &str,
        input: fn(I) -> S::In,
        emit: fn(&K, S::Out, &mut Collector<'_, R>),
    ) -> Self {
        MiniBatch {
            state: in_place_state(name),
            input,
            emit,
        }
    }
}

impl<K, I, S, R> KeyedProcessFunction<K, I, R> for MiniBatch<K, I, S, R>
where
    K: Key,
    I: Send,
    S: Updating,
    R: Send,
{
    #[inline]
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut KeyedContext<'_, K>,
        _out: &mut Collector<'_, R>,
    ) -> Result<(), BoxError> {
        let timer = ctx.current_watermark().saturating_add(1);
        let op = BatchOp::Add((self.input)(value), timer);
        if let BatchOut::Added(true) = apply(ctx, &self.state, op)? {
            ctx.timer_service().register_event_time_timer(timer);
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _timestamp: Timestamp,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, R>,
    ) -> Result<(), BoxError> {
        if let BatchOut::Emitted(Some(result)) = apply(ctx, &self.state, BatchOp::Emit)? {
            (self.emit)(ctx.key(), result, out);
        }
        Ok(())
    }
}
