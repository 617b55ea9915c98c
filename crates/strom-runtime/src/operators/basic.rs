//! Stateless record-at-a-time operators: map, try_map, filter, flat_map.

use crate::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_core::{BoxError, Collector, Result, StromError};
use strom_types::Record;

/// Applies `F` to every record (Flink's `map`).
#[derive(Clone)]
pub struct Map<F>(pub F);

impl<In, Out, F> OneInputOperator<In, Out> for Map<F>
where
    F: FnMut(In) -> Out + Send,
{
    #[inline]
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<In>>,
        _: &mut OperatorContext,
        out: &mut Emitter<'_, Out>,
    ) -> Result<()> {
        let f = &mut self.0;
        out.records.extend(
            batch
                .drain(..)
                .map(|r| Record::new(f(r.value), r.timestamp)),
        );
        Ok(())
    }
}

/// Applies a fallible `F`; an `Err` fails the job with the operator's name.
#[derive(Clone)]
pub struct TryMap<F>(pub F);

impl<In, Out, E, F> OneInputOperator<In, Out> for TryMap<F>
where
    F: FnMut(In) -> std::result::Result<Out, E> + Send,
    E: Into<BoxError>,
{
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<In>>,
        _: &mut OperatorContext,
        out: &mut Emitter<'_, Out>,
    ) -> Result<()> {
        for r in batch.drain(..) {
            let v = (self.0)(r.value).map_err(|e| StromError::from_user(e.into()))?;
            out.records.push(Record::new(v, r.timestamp));
        }
        Ok(())
    }
}

/// Keeps the records for which `F` is true (Flink's `filter`).
#[derive(Clone)]
pub struct Filter<F>(pub F);

impl<T, F> OneInputOperator<T, T> for Filter<F>
where
    F: FnMut(&T) -> bool + Send,
{
    #[inline]
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<T>>,
        _: &mut OperatorContext,
        out: &mut Emitter<'_, T>,
    ) -> Result<()> {
        let f = &mut self.0;
        out.records.extend(batch.drain(..).filter(|r| f(&r.value)));
        Ok(())
    }
}

/// Emits zero or more records per input through a [`Collector`] (Flink's `flatMap`).
#[derive(Clone)]
pub struct FlatMap<F>(pub F);

impl<In, Out, F> OneInputOperator<In, Out> for FlatMap<F>
where
    F: FnMut(In, &mut Collector<'_, Out>) + Send,
{
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<In>>,
        _: &mut OperatorContext,
        out: &mut Emitter<'_, Out>,
    ) -> Result<()> {
        for r in batch.drain(..) {
            let mut c = Collector::new(out.records, r.timestamp);
            (self.0)(r.value, &mut c);
        }
        Ok(())
    }
}
