//! One-input operators and the link that runs one inside a chain.
//!
//! An [`OneInputOperator`] holds the logic (map, filter, a window, a keyed process
//! function); the [`OperatorLink`] around it counts records, catches panics, attributes
//! errors to the operator and subtask, keeps the current watermark and forwards control
//! events after the operator has handled them.

use crate::checkpoint::messages::{OperatorAck, TaskCheckpointing};
use crate::downstream::{Downstream, Outputs};
use crate::metrics::OperatorMetrics;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use strom_core::checkpoint::{
    CheckpointId, RestoredState, SnapshotContext, StateBackendConfig, StateSnapshot,
};
use strom_core::operator_state::Redistribution;
use strom_core::{Clock, Result, SideOutputs, StromError, TaskInfo, panic_message};
use strom_types::{CheckpointBarrier, Record, Watermark, WatermarkStatus};

/// The operator list state under which an operator's current watermark is checkpointed.
pub const WATERMARK_STATE: &str = "_watermark";

/// Record an operator subtask's current watermark in its snapshot.
pub fn snapshot_watermark(
    snapshot: &mut StateSnapshot,
    subtask: usize,
    watermark: Watermark,
) -> Result<()> {
    snapshot.list(
        WATERMARK_STATE,
        Redistribution::Union,
        &[(subtask, watermark)],
    )
}

/// The watermark a restored operator subtask resumes at, so that replayed records are
/// judged late or on time exactly as before the failure. Every old subtask left one
/// `(subtask, watermark)`: at the same parallelism a subtask takes its own, after rescaling
/// the lowest of all.
pub fn restored_watermark(state: &RestoredState, info: &TaskInfo) -> Result<Option<Watermark>> {
    let marks: Vec<(usize, Watermark)> = state.list(WATERMARK_STATE)?;
    let own = (marks.len() == info.parallelism)
        .then(|| marks.iter().find(|(s, _)| *s == info.subtask))
        .flatten()
        .map(|(_, w)| *w);
    Ok(own.or_else(|| marks.iter().map(|(_, w)| *w).min()))
}

/// Everything an operator instance knows about its surroundings.
pub struct OperatorContext {
    /// Name, subtask, parallelism.
    pub info: TaskInfo,
    /// The processing-time clock.
    pub clock: Arc<dyn Clock>,
    /// The operator's current event-time watermark.
    pub watermark: Watermark,
    /// The task's earliest requested processing-time callback (ms, `i64::MAX` for none).
    pub wakeup: Arc<AtomicI64>,
    /// Where keyed state lives.
    pub state_backend: StateBackendConfig,
}

impl OperatorContext {
    /// Ask the task to call `processing_time` once the clock reaches `at_ms`.
    pub fn request_processing_time(&self, at_ms: i64) {
        self.wakeup.fetch_min(at_ms, Ordering::Relaxed);
    }
}

/// Where an operator puts its results.
pub struct Emitter<'a, Out> {
    /// Main-output records.
    pub records: &'a mut Vec<Record<Out>>,
    /// Side-output buffers.
    pub side: &'a mut SideOutputs,
    /// Where `flush_if_full` hands full buffers on during one long call (a watermark that
    /// fires many windows), so that memory stays bounded; `None` in test harnesses.
    pub downstream: Option<EmitTarget<'a, Out>>,
}

/// The operator's outputs, for [`Emitter::flush_if_full`].
pub struct EmitTarget<'a, Out> {
    main: &'a mut dyn Downstream<Out>,
    drains: &'a mut Vec<Box<dyn crate::downstream::SideDrain>>,
    metrics: &'a OperatorMetrics,
}

/// Records an emitter holds before `flush_if_full` passes them on.
const EMIT_CHUNK: usize = 1024;

impl<Out> Emitter<'_, Out> {
    /// Pass the buffered results downstream if there are many: call it between units of
    /// work (e.g. after each fired window) in calls that may emit a lot.
    pub fn flush_if_full(&mut self) -> Result<()> {
        if self.records.len() < EMIT_CHUNK {
            return Ok(());
        }
        if let Some(t) = self.downstream.as_mut() {
            t.metrics.add_out(self.records.len());
            t.main.push(self.records)?;
            for d in t.drains.iter_mut() {
                d.drain(self.side)?;
            }
        }
        Ok(())
    }
}

/// The logic of an operator with one input.
///
/// Contract: `process_batch` drains `batch` and appends results to `out`; `on_watermark`
/// emits what the watermark completes (the link forwards the watermark afterwards);
/// `on_end_of_input` emits what is still pending at the end of a bounded input. Every
/// method runs on the task's thread; none may block for long.
pub trait OneInputOperator<In, Out>: Send {
    /// Called once before the first record.
    fn open(&mut self, _ctx: &mut OperatorContext) -> Result<()> {
        Ok(())
    }
    /// Handle a batch of records.
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<In>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, Out>,
    ) -> Result<()>;
    /// The watermark advanced to `ctx.watermark`.
    fn on_watermark(
        &mut self,
        _ctx: &mut OperatorContext,
        _out: &mut Emitter<'_, Out>,
    ) -> Result<()> {
        Ok(())
    }
    /// Processing time reached a requested callback.
    fn on_processing_time(
        &mut self,
        _now_ms: i64,
        _ctx: &mut OperatorContext,
        _out: &mut Emitter<'_, Out>,
    ) -> Result<()> {
        Ok(())
    }
    /// The input ended.
    fn on_end_of_input(
        &mut self,
        _ctx: &mut OperatorContext,
        _out: &mut Emitter<'_, Out>,
    ) -> Result<()> {
        Ok(())
    }
    /// Called once after end of input.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
    /// Restore the operator's state from a checkpoint or savepoint. Called before `open`,
    /// and only when the job restores; `state` holds the key groups this subtask owns and
    /// its share of every operator list state.
    fn initialize_state(
        &mut self,
        _state: &RestoredState,
        _ctx: &mut OperatorContext,
    ) -> Result<()> {
        Ok(())
    }
    /// Snapshot the operator's state at a checkpoint barrier (after alignment). Copy or
    /// version what the snapshot needs now and defer serialization (`out.defer`): the
    /// operator keeps processing as soon as this returns. Stateless operators add nothing.
    fn snapshot_state(&mut self, _ctx: &SnapshotContext, _out: &mut StateSnapshot) -> Result<()> {
        Ok(())
    }
    /// Checkpoint `id` is complete: everything snapshotted up to it is durable.
    fn notify_checkpoint_complete(&mut self, _id: CheckpointId) -> Result<()> {
        Ok(())
    }
}

/// Run `f`, turning a panic or error into an error that names the operator and subtask.
pub fn guarded<R>(info: &TaskInfo, f: impl FnOnce() -> Result<R>) -> Result<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(|e| e.in_operator(&info.operator_name, info.subtask)),
        Err(payload) => Err(StromError::Panic(panic_message(payload.as_ref()))
            .in_operator(&info.operator_name, info.subtask)),
    }
}

/// Runs a [`OneInputOperator`] inside a chain.
pub struct OperatorLink<In, Out, Op> {
    op: Op,
    ctx: OperatorContext,
    info: TaskInfo,
    outputs: Outputs<Out>,
    buf: Vec<Record<Out>>,
    metrics: Arc<OperatorMetrics>,
    checkpointing: Option<(usize, TaskCheckpointing)>,
    _in: std::marker::PhantomData<fn(In)>,
}

impl<In, Out, Op> OperatorLink<In, Out, Op>
where
    In: Send + 'static,
    Out: Send + 'static,
    Op: OneInputOperator<In, Out>,
{
    /// Restore `op` from `restored` (if given), open it and wrap it.
    pub fn new(
        mut op: Op,
        mut ctx: OperatorContext,
        outputs: Outputs<Out>,
        metrics: Arc<OperatorMetrics>,
        restored: Option<&RestoredState>,
    ) -> Result<Self> {
        let info = ctx.info.clone();
        if let Some(state) = restored {
            if let Some(w) = restored_watermark(state, &ctx.info)? {
                ctx.watermark = w;
            }
            guarded(&info, || op.initialize_state(state, &mut ctx))?;
        }
        guarded(&info, || op.open(&mut ctx))?;
        Ok(OperatorLink {
            op,
            ctx,
            info,
            outputs,
            buf: Vec::new(),
            metrics,
            checkpointing: None,
            _in: std::marker::PhantomData,
        })
    }

    /// Snapshot the operator as node `node` at every barrier, reporting to `cp`.
    pub fn with_checkpointing(mut self, node: usize, cp: Option<TaskCheckpointing>) -> Self {
        self.checkpointing = cp.map(|c| (node, c));
        self
    }

    fn emit(&mut self) -> Result<()> {
        self.metrics.add_out(self.buf.len());
        self.outputs.emit(&mut self.buf)
    }
}

impl<In, Out, Op> OperatorLink<In, Out, Op>
where
    In: Send + 'static,
    Out: Send + 'static,
    Op: OneInputOperator<In, Out>,
{
    /// Call the operator (guarded) with an emitter over this link's outputs, then pass
    /// what it emitted on.
    fn call(
        &mut self,
        f: impl FnOnce(&mut Op, &mut OperatorContext, &mut Emitter<'_, Out>) -> Result<()>,
    ) -> Result<()> {
        let (op, ctx) = (&mut self.op, &mut self.ctx);
        let Outputs {
            main,
            side,
            side_drains,
        } = &mut self.outputs;
        let mut out = Emitter {
            records: &mut self.buf,
            side,
            downstream: Some(EmitTarget {
                main: &mut **main,
                drains: side_drains,
                metrics: &self.metrics,
            }),
        };
        guarded(&self.info, || f(op, ctx, &mut out))?;
        self.emit()
    }
}

impl<In, Out, Op> Downstream<In> for OperatorLink<In, Out, Op>
where
    In: Send + 'static,
    Out: Send + 'static,
    Op: OneInputOperator<In, Out>,
{
    fn push(&mut self, batch: &mut Vec<Record<In>>) -> Result<()> {
        self.metrics.add_in(batch.len());
        self.call(|op, ctx, out| op.process_batch(batch, ctx, out))
    }

    fn watermark(&mut self, watermark: Watermark) -> Result<()> {
        if watermark <= self.ctx.watermark {
            return Ok(());
        }
        self.ctx.watermark = watermark;
        self.call(|op, ctx, out| op.on_watermark(ctx, out))?;
        self.outputs.watermark(watermark)
    }

    fn status(&mut self, status: WatermarkStatus) -> Result<()> {
        self.outputs.status(status)
    }

    fn barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        if let Some((node, cp)) = &self.checkpointing {
            let sctx = cp.snapshot_context(&barrier, self.info.max_parallelism);
            let started = std::time::Instant::now();
            let mut snapshot = StateSnapshot::new();
            let op = &mut self.op;
            guarded(&self.info, || op.snapshot_state(&sctx, &mut snapshot))?;
            // A stateful operator keeps its watermark (stateless ones make no lateness
            // decisions, and need no uid to be dropped from a job).
            if !snapshot.is_empty() {
                snapshot_watermark(&mut snapshot, self.info.subtask, self.ctx.watermark)?;
            }
            cp.collect(OperatorAck {
                node: *node,
                subtask: self.info.subtask,
                snapshot,
                sync_ms: started.elapsed().as_secs_f64() * 1e3,
            });
        }
        self.outputs.barrier(barrier)
    }

    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        let op = &mut self.op;
        guarded(&self.info, || op.notify_checkpoint_complete(id))?;
        self.outputs.notify_checkpoint_complete(id)
    }

    fn processing_time(&mut self, now_ms: i64) -> Result<()> {
        self.call(|op, ctx, out| op.on_processing_time(now_ms, ctx, out))?;
        self.outputs.processing_time(now_ms)
    }

    fn end_of_input(&mut self) -> Result<()> {
        self.call(|op, ctx, out| op.on_end_of_input(ctx, out))?;
        guarded(&self.info, || self.op.close())?;
        self.outputs.end_of_input()
    }

    fn flush(&mut self) -> Result<()> {
        self.outputs.flush()
    }
}
