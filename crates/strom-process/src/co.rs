//! Functions over two connected streams (Flink's `CoProcessFunction` and
//! `KeyedCoProcessFunction`).
//!
//! Two connected streams run as one operator over the tagged union [`Either`]: each input is
//! tagged, the two are unioned, and these adapters dispatch each element to the function's
//! method for its input. The operator's watermark is the minimum over both inputs, as in
//! Flink.
//!
//! Checkpoints: a [`CoProcessFunction`] runs in the `Process` operator, so its operator list
//! state (`ProcessContext::operator_list_state`) is checkpointed and redistributed like any
//! process function's; a [`KeyedCoProcessFunction`] runs in
//! [`KeyedProcessOperator`](crate::KeyedProcessOperator), which checkpoints the keyed state
//! and timers both inputs share.

use crate::keyed::{KeyedContext, KeyedProcessFunction};
use std::marker::PhantomData;
use strom_core::{
    BoxError, Collector, Either, ProcessContext, ProcessFunction, TaskInfo, Timestamp,
};

/// A function over two connected non-keyed streams.
///
/// Contract: `process_element1` is called for every element of the first input and
/// `process_element2` for every element of the second, in arrival order per input; the two
/// inputs interleave in no guaranteed order.
pub trait CoProcessFunction<A, B, O>: Send {
    /// Called once per subtask before the first element.
    fn open(&mut self, _info: &TaskInfo) -> Result<(), BoxError> {
        Ok(())
    }
    /// An element of the first input.
    fn process_element1(
        &mut self,
        value: A,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// An element of the second input.
    fn process_element2(
        &mut self,
        value: B,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
}

/// A function over two connected keyed streams, with keyed state and timers shared by both
/// inputs (Flink's `KeyedCoProcessFunction`).
///
/// Contract: as [`KeyedProcessFunction`], with one element method per input; both see the
/// state and timers of the element's key.
pub trait KeyedCoProcessFunction<K, A, B, O>: Send {
    /// Called once per subtask before the first element.
    fn open(&mut self, _info: &TaskInfo) -> Result<(), BoxError> {
        Ok(())
    }
    /// An element of the first input.
    fn process_element1(
        &mut self,
        value: A,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;
    /// An element of the second input.
    fn process_element2(
        &mut self,
        value: B,
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
}

/// Runs a [`CoProcessFunction`] as a process function over `Either<A, B>`.
#[derive(Clone)]
pub struct CoProcessAdapter<F, A, B>(pub F, pub PhantomData<fn(A, B)>);

impl<A, B, O, F: CoProcessFunction<A, B, O>> ProcessFunction<Either<A, B>, O>
    for CoProcessAdapter<F, A, B>
{
    fn open(&mut self, info: &TaskInfo) -> Result<(), BoxError> {
        self.0.open(info)
    }
    fn process_element(
        &mut self,
        value: Either<A, B>,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        match value {
            Either::Left(a) => self.0.process_element1(a, ctx, out),
            Either::Right(b) => self.0.process_element2(b, ctx, out),
        }
    }
}

/// Runs a [`KeyedCoProcessFunction`] as a keyed process function over `Either<A, B>`.
#[derive(Clone)]
pub struct KeyedCoProcessAdapter<F, A, B>(pub F, pub PhantomData<fn(A, B)>);

impl<K, A, B, O, F> KeyedProcessFunction<K, Either<A, B>, O> for KeyedCoProcessAdapter<F, A, B>
where
    F: KeyedCoProcessFunction<K, A, B, O>,
{
    fn open(&mut self, info: &TaskInfo) -> Result<(), BoxError> {
        self.0.open(info)
    }
    fn process_element(
        &mut self,
        value: Either<A, B>,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        match value {
            Either::Left(a) => self.0.process_element1(a, ctx, out),
            Either::Right(b) => self.0.process_element2(b, ctx, out),
        }
    }
    fn on_timer(
        &mut self,
        t: Timestamp,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        self.0.on_timer(t, ctx, out)
    }
}
