//! The generic [`NodeBuilder`]s: sources, one-input operators and sinks. The API wraps
//! every typed operator in one of these.

use crate::channel::{ChannelReceiver, HeadInput, TaggedInput};
use crate::checkpoint::messages::{OperatorAck, TaskCheckpointing};
use crate::downstream::{Downstream, Outputs};
use crate::graph::{
    BuildContext, ErasedOutputs, NodeArity, NodeBuilder, downcast, typed_receivers,
};
use crate::metrics::OperatorMetrics;
use crate::operator::{OneInputOperator, OperatorContext, OperatorLink, guarded};
use crate::source_task::{PlainHead, SourceHead, SourceTask, SplitSnapshotter};
use crate::task::{InputTask, TaskEnv, TaskRunner};
use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use strom_core::checkpoint::StateSnapshot;
use strom_core::{
    Data, Either, Result, Sink, SinkContext, SinkWriter, Source, SourceContext, SourceReader,
    StromError, TaskInfo,
};
use strom_types::{CheckpointBarrier, CheckpointId, Record, Watermark, WatermarkStatus};

/// Make the task of a one-input chain whose head takes records of type `In`.
pub fn one_input_task<In: Data>(
    head: Box<dyn Any + Send>,
    receivers: Vec<(usize, Box<dyn Any + Send>)>,
    env: TaskEnv,
) -> Result<Box<dyn TaskRunner>> {
    let head = downcast::<Box<dyn Downstream<In>>>(head, "chain head")?;
    let channels = typed_receivers::<In>(receivers)?
        .into_iter()
        .map(|(input, rx)| (input, Box::new(rx) as HeadInput<In>))
        .collect();
    Ok(Box::new(InputTask::new(head, channels, env)))
}

/// A two-input operator (Flink's `TwoInputStreamTask`): the operator built by `inner`
/// reads `Either<L, R>`; this node's task reads input 0 from channels of `L` and input 1
/// from channels of `R`, tags each batch with its side as it is handed to the head, keeps
/// a watermark per input (the operator's is the minimum of the two) and aligns barriers
/// across the channels of both.
pub struct TwoInputNode<L, R> {
    inner: Arc<dyn NodeBuilder>,
    _types: PhantomData<fn(L, R)>,
}

impl<L, R> TwoInputNode<L, R> {
    /// Two inputs for the one-input node `inner` over `Either<L, R>`.
    pub fn new(inner: Arc<dyn NodeBuilder>) -> Self {
        TwoInputNode {
            inner,
            _types: PhantomData,
        }
    }
}

impl<L: Data, R: Data> NodeBuilder for TwoInputNode<L, R> {
    fn arity(&self) -> NodeArity {
        NodeArity::TwoInput
    }

    fn prepare(&self, parallelism: usize) -> Result<()> {
        self.inner.prepare(parallelism)
    }

    fn build(&self, ctx: &BuildContext, outputs: ErasedOutputs) -> Result<Box<dyn Any + Send>> {
        self.inner.build(ctx, outputs)
    }

    fn build_task(
        &self,
        head: Box<dyn Any + Send>,
        receivers: Vec<(usize, Box<dyn Any + Send>)>,
        env: TaskEnv,
    ) -> Result<Box<dyn TaskRunner>> {
        let head = downcast::<Box<dyn Downstream<Either<L, R>>>>(head, "two-input head")?;
        let channels = receivers
            .into_iter()
            .map(|(input, rx)| {
                let channel: HeadInput<Either<L, R>> = match input {
                    0 => Box::new(TaggedInput::new(
                        downcast::<ChannelReceiver<L>>(rx, "first input channel")?,
                        Either::Left,
                    )),
                    1 => Box::new(TaggedInput::new(
                        downcast::<ChannelReceiver<R>>(rx, "second input channel")?,
                        Either::Right,
                    )),
                    i => {
                        return Err(StromError::Internal(format!(
                            "a two-input operator has no input {i}"
                        )));
                    }
                };
                Ok((input, channel))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(InputTask::new(head, channels, env)))
    }
}

/// A one-input operator node; `factory` creates each subtask's operator.
pub struct OneInputNode<In, Out, F> {
    factory: F,
    _types: PhantomData<fn(In) -> Out>,
}

impl<In, Out, F> OneInputNode<In, Out, F> {
    /// A node creating operators with `factory`.
    pub fn new(factory: F) -> Self {
        OneInputNode {
            factory,
            _types: PhantomData,
        }
    }
}

impl<In, Out, Op, F> NodeBuilder for OneInputNode<In, Out, F>
where
    In: Data,
    Out: Send + 'static,
    Op: OneInputOperator<In, Out> + 'static,
    F: Fn(&TaskInfo) -> Result<Op> + Send + Sync,
{
    fn arity(&self) -> NodeArity {
        NodeArity::OneInput
    }

    fn build(&self, ctx: &BuildContext, outputs: ErasedOutputs) -> Result<Box<dyn Any + Send>> {
        let op = guarded(&ctx.info, || (self.factory)(&ctx.info))?;
        let octx = OperatorContext {
            info: ctx.info.clone(),
            clock: Arc::clone(&ctx.env.clock),
            watermark: Watermark::MIN,
            wakeup: Arc::clone(&ctx.env.wakeup),
            state_backend: ctx.state_backend.clone(),
        };
        let link = OperatorLink::new(
            op,
            octx,
            outputs.typed::<Out>()?,
            Arc::clone(&ctx.metrics),
            ctx.restored.as_ref(),
        )?
        .with_checkpointing(ctx.node, ctx.checkpointing());
        let d: Box<dyn Downstream<In>> = Box::new(link);
        Ok(Box::new(d))
    }

    fn build_task(
        &self,
        head: Box<dyn Any + Send>,
        receivers: Vec<(usize, Box<dyn Any + Send>)>,
        env: TaskEnv,
    ) -> Result<Box<dyn TaskRunner>> {
        one_input_task::<In>(head, receivers, env)
    }
}

/// A node whose instances are custom chain links (operators that need to interleave
/// records and control events themselves, like watermark assignment).
pub struct LinkNode<In, Out, F> {
    factory: F,
    _types: PhantomData<fn(In) -> Out>,
}

impl<In, Out, F> LinkNode<In, Out, F> {
    /// A node creating links with `factory`.
    pub fn new(factory: F) -> Self {
        LinkNode {
            factory,
            _types: PhantomData,
        }
    }
}

impl<In, Out, F> NodeBuilder for LinkNode<In, Out, F>
where
    In: Data,
    Out: Send + 'static,
    F: Fn(&BuildContext, Outputs<Out>) -> Result<Box<dyn Downstream<In>>> + Send + Sync,
{
    fn arity(&self) -> NodeArity {
        NodeArity::OneInput
    }

    fn build(&self, ctx: &BuildContext, outputs: ErasedOutputs) -> Result<Box<dyn Any + Send>> {
        let outputs = outputs.typed::<Out>()?;
        let link = guarded(&ctx.info, || (self.factory)(ctx, outputs))?;
        Ok(Box::new(link))
    }

    fn build_task(
        &self,
        head: Box<dyn Any + Send>,
        receivers: Vec<(usize, Box<dyn Any + Send>)>,
        env: TaskEnv,
    ) -> Result<Box<dyn TaskRunner>> {
        one_input_task::<In>(head, receivers, env)
    }
}

/// A sink node: one [`SinkWriter`] per subtask.
pub struct SinkNode<T, S> {
    sink: Arc<S>,
    _type: PhantomData<fn(T)>,
}

impl<T, S> SinkNode<T, S> {
    /// A node writing to `sink`.
    pub fn new(sink: S) -> Self {
        SinkNode {
            sink: Arc::new(sink),
            _type: PhantomData,
        }
    }
}

/// Runs a [`SinkWriter`] at the end of a chain.
struct SinkLink<W> {
    writer: W,
    info: TaskInfo,
    metrics: Arc<OperatorMetrics>,
    finished: bool,
    node: usize,
    checkpointing: Option<TaskCheckpointing>,
}

impl<T: Send + 'static, W: SinkWriter<T>> Downstream<T> for SinkLink<W> {
    fn push(&mut self, batch: &mut Vec<Record<T>>) -> Result<()> {
        self.metrics.add_in(batch.len());
        let w = &mut self.writer;
        guarded(&self.info, || {
            w.write_batch(batch).map_err(StromError::from_user)
        })
    }
    fn watermark(&mut self, _: Watermark) -> Result<()> {
        Ok(())
    }
    fn status(&mut self, _: WatermarkStatus) -> Result<()> {
        Ok(())
    }
    fn barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        let Some(cp) = &self.checkpointing else {
            return Ok(());
        };
        let sctx = cp.snapshot_context(&barrier, self.info.max_parallelism);
        let started = std::time::Instant::now();
        let mut snapshot = StateSnapshot::new();
        let w = &mut self.writer;
        guarded(&self.info, || {
            w.snapshot_state(&sctx, &mut snapshot)
                .map_err(StromError::from_user)
        })?;
        cp.collect(OperatorAck {
            node: self.node,
            subtask: self.info.subtask,
            snapshot,
            sync_ms: started.elapsed().as_secs_f64() * 1e3,
        });
        Ok(())
    }
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        let w = &mut self.writer;
        guarded(&self.info, || {
            w.notify_checkpoint_complete(id)
                .map_err(StromError::from_user)
        })
    }
    fn processing_time(&mut self, _: i64) -> Result<()> {
        Ok(())
    }
    fn end_of_input(&mut self) -> Result<()> {
        self.finished = true;
        let w = &mut self.writer;
        guarded(&self.info, || w.finish().map_err(StromError::from_user))
    }
    fn flush(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        let w = &mut self.writer;
        guarded(&self.info, || w.flush().map_err(StromError::from_user))
    }
}

impl<T, S> NodeBuilder for SinkNode<T, S>
where
    T: Data,
    S: Sink<T>,
{
    fn arity(&self) -> NodeArity {
        NodeArity::OneInput
    }

    fn build(&self, ctx: &BuildContext, _outputs: ErasedOutputs) -> Result<Box<dyn Any + Send>> {
        let checkpointing = ctx.checkpointing();
        let sctx = SinkContext {
            info: ctx.info.clone(),
            checkpointing: checkpointing.is_some(),
        };
        let mut writer = guarded(&ctx.info, || {
            self.sink
                .create_writer(&sctx)
                .map_err(StromError::from_user)
        })?;
        if let Some(state) = &ctx.restored {
            guarded(&ctx.info, || {
                writer
                    .initialize_state(state)
                    .map_err(StromError::from_user)
            })?;
        }
        let d: Box<dyn Downstream<T>> = Box::new(SinkLink {
            writer,
            info: ctx.info.clone(),
            metrics: Arc::clone(&ctx.metrics),
            finished: false,
            node: ctx.node,
            checkpointing,
        });
        Ok(Box::new(d))
    }

    fn build_task(
        &self,
        head: Box<dyn Any + Send>,
        receivers: Vec<(usize, Box<dyn Any + Send>)>,
        env: TaskEnv,
    ) -> Result<Box<dyn TaskRunner>> {
        one_input_task::<T>(head, receivers, env)
    }
}

/// The operator list state under which a source keeps its readers' split positions.
pub const SOURCE_SPLITS_STATE: &str = "source-splits";

/// Builds the head of a source chain with a per-split watermark strategy.
/// It gets the ids of the splits the subtask owns, to register them before reading starts.
pub type SourceHeadFactory<T> =
    Arc<dyn Fn(&BuildContext, Outputs<T>, &[u64]) -> Result<Box<dyn SourceHead<T>>> + Send + Sync>;

/// A source node: cuts splits once, then one reader per subtask.
pub struct SourceNode<T, S: Source<T>> {
    source: Arc<S>,
    head: Option<SourceHeadFactory<T>>,
    splits: Mutex<Option<(usize, Vec<S::Split>)>>,
    _type: PhantomData<fn() -> T>,
}

impl<T, S: Source<T>> SourceNode<T, S> {
    /// A node reading `source`.
    pub fn new(source: S) -> Self {
        SourceNode {
            source: Arc::new(source),
            head: None,
            splits: Mutex::new(None),
            _type: PhantomData,
        }
    }
}

impl<T, S: Source<T>> SourceNode<T, S> {
    /// Apply timestamps and watermarks in the source, per split.
    pub fn with_head(mut self, head: SourceHeadFactory<T>) -> Self {
        self.head = Some(head);
        self
    }
}

impl<T, S> NodeBuilder for SourceNode<T, S>
where
    T: Send + 'static,
    S: Source<T>,
    S::Reader: 'static,
{
    fn arity(&self) -> NodeArity {
        NodeArity::Source
    }

    fn prepare(&self, parallelism: usize) -> Result<()> {
        let splits = self
            .source
            .splits(parallelism)
            .map_err(StromError::from_user)?;
        *self
            .splits
            .lock()
            .map_err(|_| StromError::Internal("split lock poisoned".into()))? =
            Some((parallelism, splits));
        Ok(())
    }

    fn build(&self, ctx: &BuildContext, outputs: ErasedOutputs) -> Result<Box<dyn Any + Send>> {
        let restored: Option<Vec<S::Split>> = match &ctx.restored {
            Some(state) if state.list_raw(SOURCE_SPLITS_STATE).is_some() => {
                Some(state.list(SOURCE_SPLITS_STATE)?)
            }
            _ => None,
        };
        let mine: Vec<S::Split> = if let Some(splits) = restored {
            splits
        } else {
            let guard = self
                .splits
                .lock()
                .map_err(|_| StromError::Internal("split lock poisoned".into()))?;
            let (p, splits) = guard
                .as_ref()
                .ok_or_else(|| StromError::Internal("source not prepared".into()))?;
            splits
                .iter()
                .enumerate()
                .filter(|(i, _)| i % p == ctx.info.subtask)
                .map(|(_, s)| s.clone())
                .collect()
        };
        let split_ids: Vec<u64> = mine.iter().map(|s| self.source.split_id(s)).collect();
        let sctx = SourceContext {
            info: ctx.info.clone(),
        };
        let reader = guarded(&ctx.info, || {
            self.source
                .create_reader(&sctx, mine)
                .map_err(StromError::from_user)
        })?;
        let Outputs {
            main,
            side,
            side_drains,
        } = outputs.typed::<T>()?;
        let head: Box<dyn SourceHead<T>> = match &self.head {
            Some(f) => f(ctx, Outputs::main_only(main), &split_ids)?,
            None => Box::new(PlainHead(main)),
        };
        let snapshot_splits: SplitSnapshotter<S::Reader> = Box::new(|reader: &S::Reader| {
            let mut snapshot = StateSnapshot::new();
            snapshot.list(
                SOURCE_SPLITS_STATE,
                strom_core::operator_state::Redistribution::EvenSplit,
                &reader.snapshot_splits(),
            )?;
            Ok(snapshot)
        });
        let task: Box<dyn TaskRunner> = Box::new(SourceTask {
            node: ctx.node,
            snapshot_splits,
            reader,
            head,
            outputs: Outputs {
                main: Box::new(crate::downstream::Discard),
                side,
                side_drains,
            },
            batch_size: ctx.batch_size,
            rate: ctx.rate_limit,
            info: ctx.info.clone(),
            metrics: Arc::clone(&ctx.metrics),
            env: ctx.env.clone(),
        });
        Ok(Box::new(task))
    }

    fn build_task(
        &self,
        head: Box<dyn Any + Send>,
        _receivers: Vec<(usize, Box<dyn Any + Send>)>,
        _env: TaskEnv,
    ) -> Result<Box<dyn TaskRunner>> {
        downcast::<Box<dyn TaskRunner>>(head, "source task")
    }
}
