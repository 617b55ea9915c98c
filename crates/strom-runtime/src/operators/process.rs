//! Runs a user [`ProcessFunction`] over a non-keyed stream.
//!
//! The function's operator list state (`ProcessContext::operator_list_state`) lives in the
//! operator's [`OperatorStateStore`]: at a checkpoint barrier every list is snapshotted
//! under its descriptor's name and mode, and on restore the store starts from this
//! subtask's share (redistributed by the runtime when the parallelism changed).

use crate::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_core::checkpoint::{RestoredState, SnapshotContext, StateSnapshot};
use strom_core::operator_state::OperatorStateStore;
use strom_core::{Collector, ProcessContext, ProcessFunction, Result, StromError};
use strom_types::Record;

/// The operator behind `DataStream::process`: the function and its subtask's operator state.
pub struct Process<F>(pub F, pub OperatorStateStore);

impl<F> Process<F> {
    /// A process operator running `f`.
    pub fn new(f: F) -> Self {
        Process(f, OperatorStateStore::new())
    }
}

impl<In, Out, F> OneInputOperator<In, Out> for Process<F>
where
    F: ProcessFunction<In, Out>,
{
    fn initialize_state(&mut self, state: &RestoredState, _: &mut OperatorContext) -> Result<()> {
        self.1 = OperatorStateStore::restored(state.clone());
        Ok(())
    }

    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.0.open(&ctx.info).map_err(StromError::from_user)
    }

    fn snapshot_state(&mut self, _: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        self.1.snapshot(out)
    }

    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<In>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, Out>,
    ) -> Result<()> {
        let mut pctx = ProcessContext::new(&ctx.info, &*ctx.clock, out.side, ctx.watermark)
            .with_operator_state(&mut self.1);
        for r in batch.drain(..) {
            pctx.set_timestamp(r.timestamp);
            let mut c = Collector::new(out.records, r.timestamp);
            self.0
                .process_element(r.value, &mut pctx, &mut c)
                .map_err(StromError::from_user)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.0.close().map_err(StromError::from_user)
    }
}
