//! The job graph: operators (nodes) and the edges between them, with types erased so that
//! the executor can plan chains and channels for any record types.
//!
//! The API crate builds the graph from typed `DataStream`s. Each node carries an
//! [`NodeBuilder`] (which knows the node's input and output types and creates operator
//! instances) and a [`StreamType`] per output (which creates channels, writers and fan-outs
//! for that record type). Values cross this boundary as `Box<dyn Any + Send>` and are
//! downcast right back by code that knows the type; a mismatch is an internal error.

use crate::channel::{ChannelMode, ChannelReceiver, OutputChannel};
use crate::downstream::{Discard, Downstream, FanOut, Outputs, SideChannel, SideDrain};
use crate::metrics::OperatorMetrics;
use crate::partition::{FixedSelector, Partitioning, RoundRobinSelector, Selection};
use crate::task::{TaskEnv, TaskRunner};
use crate::writer::{RecordWriter, WriterConfig, keyed_writer_factory};
use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;
use strom_core::{Data, Result, SideOutputs, StromError, TaskInfo};

/// Index of a node in its [`JobGraph`]; inputs always have smaller ids than their consumers.
pub type NodeId = usize;

/// Which output of a node an edge reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OutputSlot {
    /// The main output.
    Main,
    /// The side output with this tag id.
    Side(u64),
}

/// An edge from an output of `from` into input `input` (0 or 1) of the consumer.
#[derive(Clone, Debug)]
pub struct EdgeSpec {
    /// The producing node.
    pub from: NodeId,
    /// Which of its outputs.
    pub slot: OutputSlot,
    /// How records are distributed.
    pub partitioning: Partitioning,
    /// The consumer's input index (1 is the second input of a two-input operator).
    pub input: usize,
}

/// How many inputs a node has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NodeArity {
    /// No input: a source.
    Source,
    /// One logical input (possibly several edges: a union).
    OneInput,
    /// Two inputs of possibly different types (edges with input 0 and 1).
    TwoInput,
}

/// A side output a node declares.
#[derive(Clone)]
pub struct SideOutputSpec {
    /// The tag's id.
    pub tag_id: u64,
    /// The tag's name.
    pub name: String,
    /// The side output's record type.
    pub ty: Arc<dyn StreamType>,
}

/// One operator of the job.
#[derive(Clone)]
pub struct NodeSpec {
    /// The node's id (its index).
    pub id: NodeId,
    /// Operator name, shown in metrics and errors.
    pub name: String,
    /// Stable identity for matching state across job versions.
    pub uid: Option<String>,
    /// Parallelism, or the job default.
    pub parallelism: Option<usize>,
    /// Max parallelism (number of key groups), or the job default.
    pub max_parallelism: Option<usize>,
    /// Input edges.
    pub inputs: Vec<EdgeSpec>,
    /// Creates the operator's instances.
    pub builder: Arc<dyn NodeBuilder>,
    /// The main output's type, `None` for sinks.
    pub output: Option<Arc<dyn StreamType>>,
    /// Declared side outputs.
    pub side_outputs: Vec<SideOutputSpec>,
    /// Never chain this node to its input (Flink's `startNewChain`).
    pub start_new_chain: bool,
    /// Never chain anything to this node's output (Flink's `disableChaining` also sets
    /// `start_new_chain`).
    pub disable_chaining: bool,
    /// For sources: emit at most this many records per second in total.
    pub rate_limit: Option<f64>,
}

/// A whole job.
#[derive(Clone, Default)]
pub struct JobGraph {
    /// The operators in creation (topological) order.
    pub nodes: Vec<NodeSpec>,
}

/// What a builder is given to create one operator instance.
pub struct BuildContext {
    /// Where the instance runs.
    pub info: TaskInfo,
    /// The operator's counters.
    pub metrics: Arc<OperatorMetrics>,
    /// The task environment.
    pub env: TaskEnv,
    /// Records per batch.
    pub batch_size: usize,
    /// For sources: this subtask's share of the rate limit, records per second.
    pub rate_limit: Option<f64>,
    /// Default periodic watermark interval.
    pub auto_watermark_interval: std::time::Duration,
    /// The node being built.
    pub node: NodeId,
    /// Its uid (state is matched by it).
    pub uid: String,
    /// The state this subtask restores from, when the job restores.
    pub restored: Option<strom_core::checkpoint::RestoredState>,
    /// Where keyed state lives.
    pub state_backend: strom_core::checkpoint::StateBackendConfig,
}

impl BuildContext {
    /// The task's link to the checkpoint coordinator, if the job takes checkpoints.
    pub fn checkpointing(&self) -> Option<crate::checkpoint::messages::TaskCheckpointing> {
        self.env.checkpointing.clone()
    }
}

/// An operator's outputs with the main output's type erased.
pub struct ErasedOutputs {
    /// `Box<dyn Downstream<Out>>`, or `None` when the main output has no consumer.
    pub main: Option<Box<dyn Any + Send>>,
    /// Side-output buffers.
    pub side: SideOutputs,
    /// Drains of side outputs with consumers.
    pub side_drains: Vec<Box<dyn SideDrain>>,
}

impl ErasedOutputs {
    /// Recover the typed outputs.
    pub fn typed<T: Send + 'static>(self) -> Result<Outputs<T>> {
        let main: Box<dyn Downstream<T>> = match self.main {
            Some(m) => downcast::<Box<dyn Downstream<T>>>(m, "main output")?,
            None => Box::new(Discard),
        };
        Ok(Outputs {
            main,
            side: self.side,
            side_drains: self.side_drains,
        })
    }
}

/// Downcast an erased value, failing with an internal error naming `what`.
pub fn downcast<X: 'static>(b: Box<dyn Any + Send>, what: &str) -> Result<X> {
    b.downcast::<X>()
        .map(|b| *b)
        .map_err(|_| StromError::Internal(format!("type mismatch on {what}")))
}

/// Creates the instances of one node; implemented by the runtime's generic node types.
pub trait NodeBuilder: Send + Sync {
    /// Source, one-input or two-input.
    fn arity(&self) -> NodeArity;

    /// Called once before the job starts, with the node's parallelism (sources cut splits).
    fn prepare(&self, _parallelism: usize) -> Result<()> {
        Ok(())
    }

    /// Create the instance for one subtask, feeding `outputs`. Returns the instance as its
    /// chain input (`Box<dyn Downstream<In>>`, erased) or, for a source, as a
    /// `Box<dyn TaskRunner>`.
    fn build(&self, ctx: &BuildContext, outputs: ErasedOutputs) -> Result<Box<dyn Any + Send>>;

    /// Make the task of a chain headed by this node: `head` is what `build` returned and
    /// `receivers` are `(input index, channel::ChannelReceiver<_>)` pairs, erased.
    fn build_task(
        &self,
        head: Box<dyn Any + Send>,
        receivers: Vec<(usize, Box<dyn Any + Send>)>,
        env: TaskEnv,
    ) -> Result<Box<dyn TaskRunner>>;
}

/// Everything the executor needs to do with records of one type, without knowing it.
pub trait StreamType: Send + Sync {
    /// The Rust type name, for error messages.
    fn type_name(&self) -> &'static str;
    /// A bounded channel in `mode`: `(Box<dyn OutputChannel<T>>, ChannelReceiver<T>)`.
    fn channel(
        &self,
        capacity: usize,
        mode: ChannelMode,
    ) -> (Box<dyn Any + Send>, Box<dyn Any + Send>);
    /// A writer (`Box<dyn Downstream<T>>`) over `senders` for producer `subtask`.
    fn writer(
        &self,
        senders: Vec<Box<dyn Any + Send>>,
        partitioning: &Partitioning,
        subtask: usize,
        consumer_parallelism: usize,
        consumer_max_parallelism: usize,
        config: WriterConfig,
    ) -> Result<Box<dyn Any + Send>>;
    /// A fan-out (`Box<dyn Downstream<T>>`) to several downstreams.
    fn fan_out(&self, outputs: Vec<Box<dyn Any + Send>>) -> Result<Box<dyn Any + Send>>;
    /// A side-output drain from buffer `tag_id` into `downstream`.
    fn side_drain(
        &self,
        tag_id: u64,
        downstream: Box<dyn Any + Send>,
        side: &mut SideOutputs,
    ) -> Result<Box<dyn SideDrain>>;
}

/// The [`StreamType`] of records of type `T`.
pub struct TypeOf<T>(PhantomData<fn() -> T>);

/// The erased type descriptor of `T`.
pub fn stream_type<T: Data>() -> Arc<dyn StreamType> {
    Arc::new(TypeOf::<T>(PhantomData))
}

impl<T: Data> StreamType for TypeOf<T> {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn channel(
        &self,
        capacity: usize,
        mode: ChannelMode,
    ) -> (Box<dyn Any + Send>, Box<dyn Any + Send>) {
        let (tx, rx) = crate::channel::channel::<T>(capacity, mode);
        (Box::new(tx), Box::new(rx))
    }

    fn writer(
        &self,
        senders: Vec<Box<dyn Any + Send>>,
        partitioning: &Partitioning,
        subtask: usize,
        consumer_parallelism: usize,
        consumer_max_parallelism: usize,
        config: WriterConfig,
    ) -> Result<Box<dyn Any + Send>> {
        let senders = senders
            .into_iter()
            .map(|s| downcast::<Box<dyn OutputChannel<T>>>(s, "channel sender"))
            .collect::<Result<Vec<_>>>()?;
        let n = senders.len();
        let w: Box<dyn Downstream<T>> = match partitioning {
            Partitioning::Forward | Partitioning::Global | Partitioning::Default => Box::new(
                RecordWriter::new(senders, FixedSelector(Selection::One(0)), config),
            ),
            Partitioning::Rebalance | Partitioning::Rescale => Box::new(RecordWriter::new(
                senders,
                RoundRobinSelector::new(subtask, n),
                config,
            )),
            Partitioning::Broadcast => Box::new(RecordWriter::new(
                senders,
                FixedSelector(Selection::All),
                config,
            )),
            Partitioning::KeyGroups(f) => {
                let factory = keyed_writer_factory::<T>(f)?;
                factory(
                    senders,
                    config,
                    consumer_max_parallelism,
                    consumer_parallelism,
                )
            }
        };
        Ok(Box::new(w))
    }

    fn fan_out(&self, outputs: Vec<Box<dyn Any + Send>>) -> Result<Box<dyn Any + Send>> {
        let outs = outputs
            .into_iter()
            .map(|o| downcast::<Box<dyn Downstream<T>>>(o, "fan-out output"))
            .collect::<Result<Vec<_>>>()?;
        let d: Box<dyn Downstream<T>> = Box::new(FanOut::new(outs));
        Ok(Box::new(d))
    }

    fn side_drain(
        &self,
        tag_id: u64,
        downstream: Box<dyn Any + Send>,
        side: &mut SideOutputs,
    ) -> Result<Box<dyn SideDrain>> {
        let d = downcast::<Box<dyn Downstream<T>>>(downstream, "side output")?;
        Ok(Box::new(SideChannel::new(tag_id, d, side)))
    }
}

/// Receivers of a task's input channels with their input index, recovered from their
/// erased form.
pub fn typed_receivers<T: 'static>(
    receivers: Vec<(usize, Box<dyn Any + Send>)>,
) -> Result<Vec<(usize, ChannelReceiver<T>)>> {
    receivers
        .into_iter()
        .map(|(i, r)| downcast::<ChannelReceiver<T>>(r, "channel receiver").map(|r| (i, r)))
        .collect()
}

/// The in-process half of a job: per operator, what makes its instances in this process
/// and routes its records. Indexed like the job's [`crate::topology::Topology`].
#[derive(Clone)]
pub struct LocalOperators {
    /// One entry per operator, by node id.
    pub nodes: Vec<LocalOperator>,
}

/// What this process needs to run instances of one operator.
#[derive(Clone)]
pub struct LocalOperator {
    /// Creates the operator's instances.
    pub builder: Arc<dyn NodeBuilder>,
    /// The main output's type, `None` for sinks.
    pub output: Option<Arc<dyn StreamType>>,
    /// The side outputs' types, by tag id.
    pub side_outputs: Vec<(u64, Arc<dyn StreamType>)>,
    /// Per input edge, the declared partitioning (key-group edges hold their selector).
    pub partitioners: Vec<Partitioning>,
}

impl LocalOperator {
    /// The record type of output `slot`.
    pub fn output_type(&self, slot: OutputSlot) -> Option<&Arc<dyn StreamType>> {
        match slot {
            OutputSlot::Main => self.output.as_ref(),
            OutputSlot::Side(tag) => self
                .side_outputs
                .iter()
                .find(|(t, _)| *t == tag)
                .map(|(_, ty)| ty),
        }
    }
}

impl JobGraph {
    /// The builders, record types and partitioners of every operator.
    pub fn local_operators(&self) -> LocalOperators {
        LocalOperators {
            nodes: self
                .nodes
                .iter()
                .map(|n| LocalOperator {
                    builder: Arc::clone(&n.builder),
                    output: n.output.clone(),
                    side_outputs: n
                        .side_outputs
                        .iter()
                        .map(|s| (s.tag_id, Arc::clone(&s.ty)))
                        .collect(),
                    partitioners: n.inputs.iter().map(|e| e.partitioning.clone()).collect(),
                })
                .collect(),
        }
    }
}
