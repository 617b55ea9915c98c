//! [`StreamEnv`]: where a job is configured, its sources are added and it is executed.

use crate::DataStream;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use strom_connectors::collection::{CollectionSource, IteratorSource};
#[cfg(feature = "file")]
use strom_connectors::file::{CsvSource, JsonLinesSource};
use strom_connectors::generator::GeneratorSource;
use strom_core::checkpoint::StateBackendConfig;
use strom_core::watermark::{TimestampAssigner, WatermarkGenerator, WatermarkStrategy};
use strom_core::{Clock, Data, Result, Source, StromError};
use strom_runtime::channel::ChannelMode;
use strom_runtime::checkpoint::{CheckpointConfig, RestartStrategy, RestorePoint, SavepointHandle};
use strom_runtime::graph::BuildContext;
use strom_runtime::graph::{
    EdgeSpec, NodeBuilder, NodeId, NodeSpec, OutputSlot, StreamType, stream_type,
};
use strom_runtime::nodes::SourceHeadFactory;
use strom_runtime::nodes::SourceNode;
use strom_runtime::operators::TimestampsAndWatermarks;
use strom_runtime::source_task::SourceHead;
use strom_runtime::{CancelHandle, ExecutionConfig, JobGraph, JobResult, PhysicalPlan};

pub(crate) struct EnvInner {
    pub(crate) graph: JobGraph,
    pub(crate) config: ExecutionConfig,
    /// Build-time problems, reported by `execute`.
    pub(crate) errors: Vec<String>,
    /// Side-output tag name → element type name, to reject one name used with two types.
    pub(crate) tag_types: HashMap<String, &'static str>,
    pub(crate) cancel: CancelHandle,
    /// Whether the job chose its state backend (otherwise `STROM_STATE_BACKEND` may).
    pub(crate) state_backend_set: bool,
}

/// The context of a streaming job (Flink's `StreamExecutionEnvironment`).
///
/// Configure it, add sources, build the pipeline on the returned streams, then call
/// [`execute`](StreamEnv::execute). Clones share the same job.
#[derive(Clone)]
pub struct StreamEnv {
    inner: Arc<Mutex<EnvInner>>,
}

impl Default for StreamEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamEnv {
    /// An embedded environment: the job runs in this process, at a default parallelism of
    /// the number of available cores.
    pub fn new() -> Self {
        let config = ExecutionConfig {
            parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ..ExecutionConfig::default()
        };
        StreamEnv {
            inner: Arc::new(Mutex::new(EnvInner {
                graph: JobGraph::default(),
                config,
                errors: Vec::new(),
                state_backend_set: false,
                tag_types: HashMap::new(),
                cancel: CancelHandle::new(),
            })),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, EnvInner> {
        // A panic while holding the lock cannot leave the graph half-edited in a way that
        // matters more than the panic itself; keep going with the inner value.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Default parallelism of every operator (Flink's `setParallelism`).
    pub fn with_parallelism(self, parallelism: usize) -> Self {
        self.lock().config.parallelism = parallelism;
        self
    }

    /// Number of key groups, the upper bound of any keyed operator's parallelism
    /// (default 128).
    pub fn with_max_parallelism(self, max_parallelism: usize) -> Self {
        self.lock().config.max_parallelism = max_parallelism;
        self
    }

    /// Records per network buffer (default 1024).
    pub fn with_buffer_size(self, records: usize) -> Self {
        self.lock().config.batch_size = records;
        self
    }

    /// The longest a record waits in a partly filled buffer (default 100 ms). Zero sends a
    /// buffer as soon as the operator that filled it has handled its input batch.
    pub fn with_buffer_timeout(self, timeout: Duration) -> Self {
        self.lock().config.buffer_timeout = timeout;
        self
    }

    /// Buffers in flight per channel before a producer blocks (default 4).
    pub fn with_channel_capacity(self, buffers: usize) -> Self {
        self.lock().config.channel_capacity = buffers;
        self
    }

    /// How records cross task boundaries: in memory (the default), or serialized into
    /// frames and decoded again, as over a network. Without this call the environment
    /// variable `STROM_CHANNELS` (`memory` or `serialized`) decides when the job starts.
    pub fn with_channel_mode(self, mode: ChannelMode) -> Self {
        self.lock().config.channel_mode = Some(mode);
        self
    }

    /// Run every operator in its own task instead of fusing forward-connected ones.
    pub fn disable_operator_chaining(self) -> Self {
        self.lock().config.chaining = false;
        self
    }

    /// How often periodic watermarks are emitted when a strategy does not set its own
    /// interval (default 200 ms, Flink's `pipeline.auto-watermark-interval`); zero emits a
    /// watermark after every record.
    pub fn with_auto_watermark_interval(self, interval: Duration) -> Self {
        self.lock().config.auto_watermark_interval = interval;
        self
    }

    /// Use `clock` for processing time (tests use a manual clock).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.lock().config.clock = clock;
        self
    }

    /// Take a checkpoint every `interval` into the local directory `dir`, exactly-once
    /// (Flink's `enableCheckpointing`). See [`with_checkpointing`](Self::with_checkpointing)
    /// for every setting.
    pub fn enable_checkpointing(self, interval: Duration, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        match CheckpointConfig::local(interval, &dir) {
            Ok(c) => self.with_checkpointing(c),
            Err(e) => {
                self.lock().errors.push(format!(
                    "cannot use checkpoint directory {}: {e}",
                    dir.display()
                ));
                self
            }
        }
    }

    /// Take checkpoints as `config` says (interval, exactly-once or at-least-once,
    /// timeout, minimum pause, concurrency, retention, storage).
    pub fn with_checkpointing(self, config: CheckpointConfig) -> Self {
        {
            let mut g = self.lock();
            if config.interval.is_zero() {
                g.errors
                    .push("the checkpoint interval must be greater than zero".into());
            }
            g.config.checkpointing = Some(config);
        }
        self
    }

    /// Start the job from a checkpoint or savepoint (see [`RestorePoint::latest`] and
    /// [`RestorePoint::from_path`]).
    pub fn restore_from(self, point: RestorePoint) -> Self {
        self.lock().config.restore = Some(point);
        self
    }

    /// Let a restore drop the state of operators (uids) the job no longer has, instead of
    /// failing (Flink's `--allowNonRestoredState`).
    pub fn allow_non_restored_state(self) -> Self {
        self.lock().config.allow_non_restored_state = true;
        self
    }

    /// What the job does after a failure when it takes checkpoints (default: exponential
    /// backoff from 1 s to 1 min, as in Flink).
    pub fn with_restart_strategy(self, strategy: RestartStrategy) -> Self {
        self.lock().config.restart = strategy;
        self
    }

    /// Where keyed state lives: on the heap (default) or on disk, for state larger than
    /// memory. The backend holds the keyed state of every stateful operator: process
    /// functions (value, list, map, reducing and aggregating state), CEP, windows, the
    /// interval join and rolling aggregations. Without this call the environment variable `STROM_STATE_BACKEND`
    /// (`heap` or `disk`, see [`StateBackendConfig::from_env`]) decides when the job
    /// starts. The disk backend needs cargo feature `disk` (default); without it `execute`
    /// fails before the job runs, saying so.
    pub fn with_state_backend(self, backend: StateBackendConfig) -> Self {
        let mut g = self.lock();
        g.config.state_backend = backend;
        g.state_backend_set = true;
        drop(g);
        self
    }

    /// The handle that takes savepoints of the running job (with checkpointing enabled).
    pub fn savepoint_handle(&self) -> SavepointHandle {
        self.lock().config.savepoints.clone()
    }

    /// The default parallelism.
    pub fn parallelism(&self) -> usize {
        self.lock().config.parallelism
    }

    /// The handle that cancels the running job (e.g. from a Ctrl-C handler).
    pub fn cancel_handle(&self) -> CancelHandle {
        self.lock().cancel.clone()
    }

    /// Add a source.
    pub fn from_source<T, S>(&self, source: S, name: &str) -> DataStream<T>
    where
        T: Data,
        S: Source<T>,
        S::Reader: 'static,
    {
        let id = self.add_node(
            name,
            Vec::new(),
            Arc::new(SourceNode::new(source)),
            Some(stream_type::<T>()),
        );
        DataStream::from_node(self.clone(), id)
    }

    /// Add a source whose records get timestamps and watermarks in the source itself, with
    /// one watermark generator per split (Flink's `fromSource(source, strategy, name)`): the
    /// source's watermark is the minimum over its active splits, so a split that lags does
    /// not see its records turned late by a faster one read by the same subtask.
    pub fn from_source_with_watermarks<T, S, G, A>(
        &self,
        source: S,
        strategy: WatermarkStrategy<G, A>,
        name: &str,
    ) -> DataStream<T>
    where
        T: Data,
        S: Source<T>,
        S::Reader: 'static,
        G: WatermarkGenerator<T> + Clone + Sync + 'static,
        A: TimestampAssigner<T> + Clone + Sync + 'static,
    {
        let head: SourceHeadFactory<T> =
            Arc::new(move |ctx: &BuildContext, outputs, splits: &[u64]| {
                let head: Box<dyn SourceHead<T>> = Box::new(
                    TimestampsAndWatermarks::new(
                        strategy.generator.clone(),
                        strategy.assigner.clone(),
                        strategy.interval.unwrap_or(ctx.auto_watermark_interval),
                        strategy.idleness,
                        outputs,
                        Arc::clone(&ctx.env.clock),
                        Arc::clone(&ctx.env.wakeup),
                        ctx.info.clone(),
                        Arc::clone(&ctx.metrics),
                    )
                    .with_splits(splits),
                );
                Ok(head)
            });
        let id = self.add_node(
            name,
            Vec::new(),
            Arc::new(SourceNode::new(source).with_head(head)),
            Some(stream_type::<T>()),
        );
        DataStream::from_node(self.clone(), id)
    }

    #[cfg(feature = "file")]
    /// Read CSV files (or directories of them) into `T` by serde, in parallel over files
    /// and byte ranges. Columns map to `T`'s fields in order (call
    /// [`from_source`](Self::from_source) with a configured
    /// [`CsvSource`](strom_connectors::file::CsvSource) for headers or other delimiters). A
    /// malformed line fails the job naming file, line and field, unless the job reads the
    /// stream's [`dead_letters`](DataStream::dead_letters).
    pub fn read_csv<T: Data>(
        &self,
        paths: impl IntoIterator<Item = impl Into<PathBuf>>,
    ) -> DataStream<T> {
        self.from_source(CsvSource::<T>::new(paths), "Source: CSV")
    }

    #[cfg(feature = "file")]
    /// Read JSON-lines files (one JSON value per line) into `T`, like
    /// [`read_csv`](Self::read_csv).
    pub fn read_json_lines<T: Data>(
        &self,
        paths: impl IntoIterator<Item = impl Into<PathBuf>>,
    ) -> DataStream<T> {
        self.from_source(JsonLinesSource::<T>::new(paths), "Source: JSON lines")
    }

    /// A bounded stream of the elements of `items`, read by one subtask (as Flink's
    /// `fromCollection`); call `set_parallelism` on the result to split it.
    pub fn from_collection<T: Data + Sync>(&self, items: Vec<T>) -> DataStream<T> {
        self.from_source(CollectionSource::new(items), "Source: Collection")
            .set_parallelism(1)
    }

    /// A bounded stream of an iterator's items, read by one subtask.
    pub fn from_iter<I>(&self, iter: I) -> DataStream<I::Item>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Data,
    {
        self.from_source(IteratorSource::new(iter.into_iter()), "Source: Iterator")
            .set_parallelism(1)
    }

    /// A deterministic generated stream: record `i` is `f(i)` for `i` in `0..count`, or
    /// forever when `count` is `None`. Subtasks take indices by stride, so the records are
    /// the same at any parallelism. Combine with [`DataStream::rate_limit`] to pace it.
    pub fn generate<T, F>(&self, count: Option<u64>, f: F) -> DataStream<T>
    where
        T: Data,
        F: Fn(u64) -> T + Send + Sync + 'static,
    {
        self.from_source(GeneratorSource::new(count, f), "Source: Generator")
    }

    pub(crate) fn add_node(
        &self,
        name: &str,
        inputs: Vec<EdgeSpec>,
        builder: Arc<dyn NodeBuilder>,
        output: Option<Arc<dyn StreamType>>,
    ) -> NodeId {
        let mut g = self.lock();
        let id = g.graph.nodes.len();
        g.graph.nodes.push(NodeSpec {
            id,
            name: name.to_string(),
            uid: None,
            parallelism: None,
            max_parallelism: None,
            inputs,
            builder,
            output,
            side_outputs: Vec::new(),
            start_new_chain: false,
            disable_chaining: false,
            rate_limit: None,
        });
        id
    }

    pub(crate) fn error(&self, message: String) {
        self.lock().errors.push(message);
    }

    /// Record that the job being built is invalid: `execute` then fails before anything
    /// runs, with [`StromError::InvalidJob`] listing every message. For libraries that
    /// extend the API (CEP patterns, SQL) and validate what users give them.
    pub fn add_build_error(&self, message: impl Into<String>) {
        self.error(message.into());
    }

    pub(crate) fn edit_node(&self, id: NodeId, f: impl FnOnce(&mut NodeSpec)) {
        let mut g = self.lock();
        if let Some(n) = g.graph.nodes.get_mut(id) {
            f(n);
        }
    }

    pub(crate) fn node_name(&self, id: NodeId) -> String {
        self.lock()
            .graph
            .nodes
            .get(id)
            .map(|n| n.name.clone())
            .unwrap_or_default()
    }

    /// The physical plan the job built so far would run with: tasks (operator chains),
    /// subtasks, channels and key groups, and the topology's fingerprint. Nothing runs and
    /// the environment keeps the job. Print it with [`PhysicalPlan::to_text`] or, in the
    /// layout of Flink's `getExecutionPlan`, [`PhysicalPlan::to_json`].
    pub fn execution_plan(&self) -> Result<PhysicalPlan> {
        let g = self.lock();
        if !g.errors.is_empty() {
            return Err(StromError::InvalidJob(g.errors.join("; ")));
        }
        validate(&g.graph)?;
        let mut config = g.config.clone();
        config.state_backend = state_backend(&g)?;
        strom_runtime::explain(&g.graph, &config)
    }

    /// Run the job in this process and wait for it to end.
    ///
    /// Returns per-operator record counts and the wall time, or the first failure, which
    /// names the operator and subtask. The environment is emptied, ready for another job.
    pub fn execute(&self, job_name: &str) -> Result<JobResult> {
        let (graph, config, cancel) = {
            let mut g = self.lock();
            if !g.errors.is_empty() {
                let errors = std::mem::take(&mut g.errors);
                g.graph = JobGraph::default();
                return Err(StromError::InvalidJob(errors.join("; ")));
            }
            let backend = match state_backend(&g) {
                Ok(b) => b,
                Err(e) => {
                    g.graph = JobGraph::default();
                    return Err(e);
                }
            };
            let graph = std::mem::take(&mut g.graph);
            g.tag_types.clear();
            let cancel = std::mem::replace(&mut g.cancel, CancelHandle::new());
            let mut config = g.config.clone();
            config.state_backend = backend;
            (graph, config, cancel)
        };
        // Hand the old handle to the running job; callers took it before execute.
        validate(&graph)?;
        tracing::info!(
            job = job_name,
            operators = graph.nodes.len(),
            "executing job"
        );
        strom_runtime::execute(job_name, graph, &config, &cancel)
    }
}

/// The state backend the job runs with: the configured one, or the one
/// `STROM_STATE_BACKEND` names when the job chose none. It must be one this build has:
/// the disk backend needs cargo feature `disk`, and a job asking for it in a build without
/// it fails before it runs.
fn state_backend(g: &EnvInner) -> Result<StateBackendConfig> {
    let backend = match (g.state_backend_set, StateBackendConfig::from_env()?) {
        (false, Some(from_env)) => from_env,
        _ => g.config.state_backend.clone(),
    };
    match backend {
        StateBackendConfig::Disk { .. } if !strom_state::DISK_BACKEND => {
            Err(strom_state::disk_unavailable())
        }
        b => Ok(b),
    }
}

fn validate(graph: &JobGraph) -> Result<()> {
    for n in &graph.nodes {
        for e in &n.inputs {
            if let OutputSlot::Side(tag) = e.slot
                && !graph.nodes[e.from]
                    .side_outputs
                    .iter()
                    .any(|s| s.tag_id == tag)
            {
                return Err(StromError::Internal(format!(
                    "side output read by '{}' is not declared",
                    n.name
                )));
            }
        }
    }
    Ok(())
}
