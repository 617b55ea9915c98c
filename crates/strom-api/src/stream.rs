//! [`DataStream`]: a typed stream and its transformations.

use crate::{KeyedStream, StreamEnv};
use std::marker::PhantomData;
#[cfg(feature = "file")]
use std::path::PathBuf;
use std::sync::Arc;
use strom_connectors::collect::{CollectHandle, collect_sink};
use strom_connectors::discard::DiscardSink;
#[cfg(feature = "file")]
use strom_connectors::file::{CsvSink, JsonLinesSink, TextLinesSink};
use strom_connectors::print::PrintSink;
use strom_core::Either;
use strom_core::{
    BoxError, Collector, Data, DeadLetter, Key, OutputTag, ProcessFunction, Sink, TaskInfo,
};
use strom_process::{AsyncConfig, AsyncFunction, AsyncOperator};
use strom_runtime::graph::{
    EdgeSpec, NodeBuilder, NodeId, OutputSlot, SideOutputSpec, StreamType, stream_type,
};
use strom_runtime::nodes::{OneInputNode, SinkNode, TwoInputNode};
use strom_runtime::operator::OneInputOperator;
use strom_runtime::operators::{Filter, FlatMap, Map, Process, TryMap};
use strom_runtime::partition::{KeyGroupSelector, Partitioning};
use strom_runtime::source_task::DEAD_LETTER_TAG;
use strom_runtime::writer::{KeyedWriterFactory, RecordWriter};

/// A stream of records of type `T` (Flink's `DataStream<T>`).
///
/// Methods consume the stream and return a new one; clone a stream to feed it to several
/// consumers (each gets every record). Configuration methods (`name`, `uid`,
/// `set_parallelism`, …) apply to the operator that produced the stream.
pub struct DataStream<T> {
    pub(crate) env: StreamEnv,
    /// The producing outputs: one, or several after `union`.
    pub(crate) inputs: Vec<(NodeId, OutputSlot)>,
    /// How the next consumer reads this stream.
    pub(crate) partitioning: Partitioning,
    /// Set when the next consumer is a two-input operator (see [`two_inputs`]).
    pub(crate) two_input: Option<TwoInputs>,
    _type: PhantomData<fn() -> T>,
}

/// The two inputs of the next consumer: every edge with its partitioning and input index,
/// and how to make the consumer's node a two-input node.
#[derive(Clone)]
pub(crate) struct TwoInputs {
    edges: Vec<EdgeSpec>,
    wrap: fn(Arc<dyn NodeBuilder>) -> Arc<dyn NodeBuilder>,
}

fn two_input_node<L: Data, R: Data>(inner: Arc<dyn NodeBuilder>) -> Arc<dyn NodeBuilder> {
    Arc::new(TwoInputNode::<L, R>::new(inner))
}

/// `left` and `right`, each with its own partitioning (keyed, broadcast, forward, …), as
/// the two inputs of the next operator, which reads them as `Either<L, R>`: a native
/// two-input node whose task keeps a watermark per input.
pub(crate) fn two_inputs<L: Data, R: Data>(
    left: DataStream<L>,
    right: DataStream<R>,
) -> DataStream<Either<L, R>> {
    if left.two_input.is_some() || right.two_input.is_some() {
        left.env.error(
            "the inputs of a two-input operator must be streams, not pending two-input streams"
                .into(),
        );
    }
    let mut edges = left.edges(0);
    edges.extend(right.edges(1));
    let mut inputs = left.inputs.clone();
    inputs.extend(right.inputs.iter().copied());
    DataStream {
        env: left.env,
        inputs,
        partitioning: Partitioning::Default,
        two_input: Some(TwoInputs {
            edges,
            wrap: two_input_node::<L, R>,
        }),
        _type: PhantomData,
    }
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        DataStream {
            env: self.env.clone(),
            inputs: self.inputs.clone(),
            partitioning: self.partitioning.clone(),
            two_input: self.two_input.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: Data> DataStream<T> {
    pub(crate) fn from_node(env: StreamEnv, node: NodeId) -> Self {
        Self::from_slot(env, node, OutputSlot::Main)
    }

    pub(crate) fn from_slot(env: StreamEnv, node: NodeId, slot: OutputSlot) -> Self {
        DataStream {
            env,
            inputs: vec![(node, slot)],
            partitioning: Partitioning::Default,
            two_input: None,
            _type: PhantomData,
        }
    }

    /// The environment this stream belongs to.
    pub fn env(&self) -> &StreamEnv {
        &self.env
    }

    pub(crate) fn edges(&self, input: usize) -> Vec<EdgeSpec> {
        if let Some(two) = &self.two_input {
            return two.edges.clone();
        }
        self.inputs
            .iter()
            .map(|&(from, slot)| EdgeSpec {
                from,
                slot,
                partitioning: self.partitioning.clone(),
                input,
            })
            .collect()
    }

    /// Add the operator that reads this stream: `builder` makes its instances (wrapped
    /// into a two-input node when this stream is the two inputs of a two-input operator).
    pub(crate) fn add_consumer(
        &self,
        name: &str,
        builder: Arc<dyn NodeBuilder>,
        output: Option<Arc<dyn StreamType>>,
    ) -> NodeId {
        let builder = match &self.two_input {
            Some(two) => (two.wrap)(builder),
            None => builder,
        };
        self.env.add_node(name, self.edges(0), builder, output)
    }

    /// The single operator that produced this stream, or a build error naming `what`.
    fn producer(&self, what: &str) -> Option<NodeId> {
        match self.inputs.as_slice() {
            [(id, OutputSlot::Main)] => Some(*id),
            _ => {
                self.env.error(format!(
                    "{what}() must follow an operator, not a union or side output; apply it to the operator before"
                ));
                None
            }
        }
    }

    /// Add a one-input operator reading this stream; `factory` creates each subtask's instance.
    pub fn transform<U, Op, F>(self, name: &str, factory: F) -> DataStream<U>
    where
        U: Data,
        Op: OneInputOperator<T, U> + 'static,
        F: Fn(&TaskInfo) -> strom_core::Result<Op> + Send + Sync + 'static,
    {
        let id = self.add_consumer(
            name,
            Arc::new(OneInputNode::<T, U, F>::new(factory)),
            Some(stream_type::<U>()),
        );
        DataStream::from_node(self.env, id)
    }

    /// Apply `f` to every record.
    pub fn map<U, F>(self, f: F) -> DataStream<U>
    where
        U: Data,
        F: FnMut(T) -> U + Clone + Send + Sync + 'static,
    {
        self.transform("Map", move |_| Ok(Map(f.clone())))
    }

    /// Apply a fallible `f`; an `Err` fails the job, naming this operator and subtask.
    pub fn try_map<U, E, F>(self, f: F) -> DataStream<U>
    where
        U: Data,
        E: Into<BoxError>,
        F: FnMut(T) -> Result<U, E> + Clone + Send + Sync + 'static,
    {
        self.transform("Map", move |_| Ok(TryMap(f.clone())))
    }

    /// Keep the records for which `f` returns true.
    pub fn filter<F>(self, f: F) -> DataStream<T>
    where
        F: FnMut(&T) -> bool + Clone + Send + Sync + 'static,
    {
        self.transform("Filter", move |_| Ok(Filter(f.clone())))
    }

    /// Emit zero or more records per input through the collector.
    pub fn flat_map<U, F>(self, f: F) -> DataStream<U>
    where
        U: Data,
        F: FnMut(T, &mut Collector<'_, U>) + Clone + Send + Sync + 'static,
    {
        self.transform("Flat Map", move |_| Ok(FlatMap(f.clone())))
    }

    /// Run a [`ProcessFunction`] (or closure `(value, ctx, out) -> Result`) on every
    /// record; it can emit to side outputs through the context.
    pub fn process<U, P>(self, function: P) -> DataStream<U>
    where
        U: Data,
        P: ProcessFunction<T, U> + Clone + Sync + 'static,
    {
        self.transform("Process", move |_| Ok(Process::new(function.clone())))
    }

    /// Call an external service for every record without blocking (Flink's
    /// `AsyncDataStream.orderedWait` / `unorderedWait`, chosen by `config.ordered`), with at
    /// most `config.capacity` requests in flight per subtask, a timeout and retries.
    pub fn async_map<U, F>(self, function: F, config: AsyncConfig) -> DataStream<U>
    where
        U: Data,
        F: AsyncFunction<T, U> + Clone,
    {
        self.transform("Async I/O", move |_| {
            AsyncOperator::new(function.clone(), config)
        })
    }

    /// Merge with other streams of the same type (Flink's `union`).
    pub fn union(mut self, others: impl IntoIterator<Item = DataStream<T>>) -> DataStream<T> {
        for o in others {
            if o.two_input.is_some() || self.two_input.is_some() {
                self.env
                    .error("union() of the inputs of a two-input operator is not supported".into());
            }
            self.inputs.extend(o.inputs);
        }
        self
    }

    /// The side output `tag` of the operator that produced this stream.
    pub fn side_output<X: Data>(&self, tag: &OutputTag<X>) -> DataStream<X> {
        let Some(id) = self.producer("side_output") else {
            return DataStream::from_slot(self.env.clone(), 0, OutputSlot::Main);
        };
        self.declare_side_output::<X>(id, tag.id(), tag.name());
        DataStream::from_slot(self.env.clone(), id, OutputSlot::Side(tag.id()))
    }

    fn declare_side_output<X: Data>(&self, id: NodeId, tag_id: u64, name: &str) {
        let type_name = std::any::type_name::<X>();
        {
            let mut g = self.env.lock();
            let known = *g.tag_types.entry(name.to_string()).or_insert(type_name);
            if known != type_name {
                g.errors.push(format!(
                    "side output '{name}' is used with two types ({known} and {type_name}); give each its own tag name"
                ));
                return;
            }
        }
        self.env.edit_node(id, |n| {
            if !n.side_outputs.iter().any(|s| s.tag_id == tag_id) {
                n.side_outputs.push(SideOutputSpec {
                    tag_id,
                    name: name.to_string(),
                    ty: stream_type::<X>(),
                });
            }
        });
    }

    /// The malformed records of this source, as dead letters (file, line, raw text, error).
    ///
    /// By default a malformed record fails the job with a message naming the file, line and
    /// field; asking for this stream routes them here instead.
    pub fn dead_letters(&self) -> DataStream<DeadLetter> {
        self.side_output(&OutputTag::<DeadLetter>::new(DEAD_LETTER_TAG))
    }

    /// Partition by key: records with equal keys go to the same subtask, by Flink's
    /// key-group mapping.
    pub fn key_by<K, KF>(self, key_selector: KF) -> KeyedStream<T, K, KF>
    where
        K: Key,
        KF: Fn(&T) -> K + Clone + Send + Sync + 'static,
    {
        let kf = key_selector.clone();
        let factory: KeyedWriterFactory<T> = Arc::new(move |senders, config, max_p, p| {
            let k = kf.clone();
            Box::new(RecordWriter::new(
                senders,
                KeyGroupSelector::new(move |t: &T| k(t).key_hash(), max_p, p),
                config,
            ))
        });
        let mut stream = self;
        stream.partitioning = Partitioning::KeyGroups(Arc::new(factory));
        KeyedStream::new(stream, key_selector)
    }

    fn partition(mut self, p: Partitioning) -> Self {
        self.partitioning = p;
        self
    }

    /// Each subtask sends to the subtask with the same index (requires equal parallelism).
    pub fn forward(self) -> Self {
        self.partition(Partitioning::Forward)
    }

    /// Round robin over all consumer subtasks.
    pub fn rebalance(self) -> Self {
        self.partition(Partitioning::Rebalance)
    }

    /// Round robin over a local subset of consumer subtasks.
    pub fn rescale(self) -> Self {
        self.partition(Partitioning::Rescale)
    }

    /// Every record to every consumer subtask.
    pub fn broadcast(self) -> Self {
        self.partition(Partitioning::Broadcast)
    }

    /// Every record to the first consumer subtask.
    pub fn global(self) -> Self {
        self.partition(Partitioning::Global)
    }

    /// Name the producing operator (shown in metrics, logs and errors).
    pub fn name(self, name: &str) -> Self {
        if let Some(id) = self.producer("name") {
            let name = name.to_string();
            self.env.edit_node(id, |n| n.name = name);
        }
        self
    }

    /// Give the producing operator a stable id, used to match its state across job versions.
    pub fn uid(self, uid: &str) -> Self {
        if let Some(id) = self.producer("uid") {
            let uid = uid.to_string();
            self.env.edit_node(id, |n| n.uid = Some(uid));
        }
        self
    }

    /// Set the producing operator's parallelism.
    pub fn set_parallelism(self, parallelism: usize) -> Self {
        if let Some(id) = self.producer("set_parallelism") {
            self.env
                .edit_node(id, |n| n.parallelism = Some(parallelism));
        }
        self
    }

    /// Set the producing operator's max parallelism (number of key groups).
    pub fn set_max_parallelism(self, max_parallelism: usize) -> Self {
        if let Some(id) = self.producer("set_max_parallelism") {
            self.env
                .edit_node(id, |n| n.max_parallelism = Some(max_parallelism));
        }
        self
    }

    /// Start a new task at the producing operator instead of fusing it with its input.
    pub fn start_new_chain(self) -> Self {
        if let Some(id) = self.producer("start_new_chain") {
            self.env.edit_node(id, |n| n.start_new_chain = true);
        }
        self
    }

    /// Never fuse the producing operator with its input or its consumers.
    pub fn disable_chaining(self) -> Self {
        if let Some(id) = self.producer("disable_chaining") {
            self.env.edit_node(id, |n| {
                n.start_new_chain = true;
                n.disable_chaining = true;
            });
        }
        self
    }

    /// Pace the source that produced this stream to `records_per_second` in total, shared
    /// evenly by its subtasks (replay a file at N events/s). Only valid right after a source.
    pub fn rate_limit(self, records_per_second: f64) -> Self {
        if let Some(id) = self.producer("rate_limit") {
            let is_source = {
                let g = self.env.lock();
                g.graph.nodes[id].inputs.is_empty()
            };
            if !is_source || records_per_second.is_nan() || records_per_second <= 0.0 {
                let name = self.env.node_name(id);
                self.env.error(format!(
                    "rate_limit({records_per_second}) on '{name}': a rate limit applies to a source and must be positive"
                ));
            } else {
                self.env
                    .edit_node(id, |n| n.rate_limit = Some(records_per_second));
            }
        }
        self
    }

    /// Write to a sink.
    pub fn sink_to<S: Sink<T>>(self, sink: S, name: &str) -> DataStreamSink {
        let id = self.add_consumer(name, Arc::new(SinkNode::<T, S>::new(sink)), None);
        DataStreamSink {
            env: self.env,
            node: id,
        }
    }

    /// Print every record to standard output with `{:?}`, prefixed by the subtask when the
    /// sink runs in parallel.
    pub fn print(self) -> DataStreamSink
    where
        T: std::fmt::Debug,
    {
        self.sink_to(PrintSink, "Sink: Print")
    }

    /// Gather every record in memory; read them from the handle after `execute`.
    pub fn collect(self) -> CollectHandle<T> {
        let (sink, handle) = collect_sink();
        self.sink_to(sink, "Sink: Collect");
        handle
    }

    #[cfg(feature = "file")]
    /// Write every record as a CSV row (serde; no header) to `path`: one file when the sink
    /// runs at parallelism 1, else a directory of `part-{i}.csv` files.
    pub fn write_csv(self, path: impl Into<PathBuf>) -> DataStreamSink
    where
        T: serde::Serialize,
    {
        self.sink_to(CsvSink::new(path), "Sink: CSV")
    }

    #[cfg(feature = "file")]
    /// Write every record as one JSON object per line (like [`write_csv`](Self::write_csv)).
    pub fn write_json_lines(self, path: impl Into<PathBuf>) -> DataStreamSink
    where
        T: serde::Serialize,
    {
        self.sink_to(JsonLinesSink::new(path), "Sink: JSON lines")
    }

    #[cfg(feature = "file")]
    /// Write every record's text verbatim, one per line (`String`s, or
    /// [`WithLine`](strom_connectors::file::WithLine)s to write input lines back as read).
    pub fn write_text_lines(self, path: impl Into<PathBuf>) -> DataStreamSink
    where
        T: AsRef<str>,
    {
        self.sink_to(TextLinesSink::new(path), "Sink: Text")
    }

    /// Drop every record (for benchmarks).
    pub fn discard(self) -> DataStreamSink {
        self.sink_to(DiscardSink, "Sink: Discard")
    }
}

/// The sink end of a stream, to configure the sink operator.
pub struct DataStreamSink {
    env: StreamEnv,
    node: NodeId,
}

impl DataStreamSink {
    /// Name the sink.
    pub fn name(self, name: &str) -> Self {
        let name = name.to_string();
        self.env.edit_node(self.node, |n| n.name = name);
        self
    }

    /// Give the sink a stable id.
    pub fn uid(self, uid: &str) -> Self {
        let uid = uid.to_string();
        self.env.edit_node(self.node, |n| n.uid = Some(uid));
        self
    }

    /// Set the sink's parallelism.
    pub fn set_parallelism(self, parallelism: usize) -> Self {
        self.env
            .edit_node(self.node, |n| n.parallelism = Some(parallelism));
        self
    }
}
