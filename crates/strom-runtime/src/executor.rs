//! Runs a [`JobGraph`] in this process: splits it into its [`Topology`] and its local
//! operators, plans it ([`PhysicalPlan`]: chains, subtasks, channels), creates the plan's
//! channels, starts one thread per subtask of every task, and waits for the job to finish,
//! fail or be cancelled; with checkpointing, restarts it from the latest checkpoint.

use crate::channel::ChannelMode;
use crate::checkpoint::coordinator::{Coordinator, CoordinatorReport, CoordinatorSetup, TaskSlot};
use crate::checkpoint::messages::{CoordinatorMsg, TaskCheckpointing, TaskControl};
use crate::checkpoint::restart::RestartTracker;
use crate::checkpoint::restore::OperatorIdentity;
use crate::checkpoint::snapshot_writer;
use crate::checkpoint::{
    CheckpointConfig, CheckpointStats, CheckpointingMode, RestartStrategy, RestorePoint,
    SavepointHandle,
};
use crate::downstream::SideDrain;
use crate::graph::{BuildContext, ErasedOutputs, JobGraph, LocalOperators, NodeId, OutputSlot};
use crate::metrics::{OperatorMetrics, OperatorStats};
use crate::partition::Partitioning;
use crate::plan::{PhysicalPlan, SlotAssignment};
use crate::task::TaskEnv;
use crate::topology::{ShipStrategy, Topology, TopologyDefaults, TopologyNode};
use crate::writer::WriterConfig;
use crossbeam_channel::{Receiver, Sender};
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strom_core::checkpoint::{CheckpointId, StateBackendConfig};
use strom_core::{Clock, Result, SideOutputs, StromError, SystemClock, TaskInfo};

/// How a job runs.
#[derive(Clone)]
pub struct ExecutionConfig {
    /// Default parallelism of every operator.
    pub parallelism: usize,
    /// Default max parallelism: the number of key groups.
    pub max_parallelism: usize,
    /// Records per network buffer.
    pub batch_size: usize,
    /// A partial buffer is sent after at most this long; zero sends after every batch an
    /// operator emits, so no record waits on a timer.
    pub buffer_timeout: Duration,
    /// Buffers in flight per channel before the producer blocks (backpressure).
    pub channel_capacity: usize,
    /// Fuse forward-connected operators into one task.
    pub chaining: bool,
    /// The processing-time clock.
    pub clock: Arc<dyn Clock>,
    /// How often periodic watermarks are emitted when a strategy does not say (Flink's
    /// `pipeline.auto-watermark-interval`, 200 ms).
    pub auto_watermark_interval: Duration,
    /// Periodic checkpoints (off by default).
    pub checkpointing: Option<CheckpointConfig>,
    /// Start from this checkpoint or savepoint.
    pub restore: Option<RestorePoint>,
    /// Let a restore skip state of operators the job no longer has.
    pub allow_non_restored_state: bool,
    /// What happens after a failure (with checkpointing; without, the job fails).
    pub restart: RestartStrategy,
    /// Where keyed state lives.
    pub state_backend: StateBackendConfig,
    /// Takes savepoints of the running job.
    pub savepoints: SavepointHandle,
    /// How channels between tasks carry records; `None` reads the environment variable
    /// `STROM_CHANNELS` (`memory`, the default, or `serialized`) when the job starts.
    pub channel_mode: Option<ChannelMode>,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig {
            parallelism: 1,
            max_parallelism: strom_types::key_group::DEFAULT_MAX_PARALLELISM,
            batch_size: 1024,
            buffer_timeout: Duration::from_millis(100),
            channel_capacity: 4,
            chaining: true,
            clock: Arc::new(SystemClock),
            auto_watermark_interval: Duration::from_millis(200),
            checkpointing: None,
            restore: None,
            allow_non_restored_state: false,
            restart: RestartStrategy::default(),
            state_backend: StateBackendConfig::default(),
            savepoints: SavepointHandle::new(),
            channel_mode: None,
        }
    }
}

/// Stops a running job from any thread (Ctrl-C, a REST call, a test).
#[derive(Clone)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
    sender: Arc<Mutex<Option<Sender<()>>>>,
    receiver: Receiver<()>,
}

impl Default for CancelHandle {
    fn default() -> Self {
        let (tx, rx) = crossbeam_channel::bounded(1);
        CancelHandle {
            flag: Arc::new(AtomicBool::new(false)),
            sender: Arc::new(Mutex::new(Some(tx))),
            receiver: rx,
        }
    }
}

impl CancelHandle {
    /// A fresh handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancel the job: every task stops at its next batch or wait.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Ok(mut s) = self.sender.lock() {
            s.take();
        }
    }

    /// Whether cancel was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// What a finished job reports.
#[derive(Clone, Debug)]
pub struct JobResult {
    /// The job's name.
    pub job_name: String,
    /// From start to the last task's end.
    pub wall_time: Duration,
    /// Per operator record counts, in graph order.
    pub operators: Vec<OperatorStats>,
    /// Number of tasks (chains) and threads started.
    pub tasks: usize,
    /// Threads (subtasks of all tasks).
    pub threads: usize,
    /// The job was cancelled rather than finishing its input.
    pub cancelled: bool,
    /// Every completed checkpoint and savepoint, in order.
    pub checkpoints: Vec<CheckpointStats>,
    /// Checkpoints aborted.
    pub aborted_checkpoints: u64,
    /// Times the job restarted after a failure.
    pub restarts: u32,
    /// The checkpoint or savepoint the job started from.
    pub restored_from: Option<CheckpointId>,
    /// Where the savepoint lies when the job stopped with one.
    pub stopped_with_savepoint: Option<String>,
}

impl JobResult {
    /// The figures of the operator named `name`.
    pub fn operator(&self, name: &str) -> Option<&OperatorStats> {
        self.operators.iter().find(|o| o.name == name)
    }
}

/// How long tasks get to stop after a failure or cancel before the job returns anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// What one attempt runs: the physical plan, and the local builders of its operators.
struct Plan {
    physical: PhysicalPlan,
    local: LocalOperators,
    /// Per producer: (consumer, input edge index) of every edge it feeds.
    consumers: Vec<Vec<(NodeId, usize)>>,
    metrics: Vec<Arc<OperatorMetrics>>,
}

impl Plan {
    fn new(physical: PhysicalPlan, local: LocalOperators) -> Plan {
        let n = physical.topology.nodes.len();
        let mut consumers = vec![Vec::new(); n];
        for e in &physical.edges {
            consumers[e.from].push((e.consumer, e.index));
        }
        let metrics = (0..n)
            .map(|_| Arc::new(OperatorMetrics::default()))
            .collect();
        Plan {
            physical,
            local,
            consumers,
            metrics,
        }
    }

    fn node(&self, id: NodeId) -> &TopologyNode {
        &self.physical.topology.nodes[id]
    }

    /// The partitioning a writer of edge `index` into `consumer` routes by.
    fn partitioning(&self, consumer: NodeId, index: usize) -> Partitioning {
        match self.physical.edge(consumer, index).strategy {
            ShipStrategy::Hash => self.local.nodes[consumer].partitioners[index].clone(),
            ShipStrategy::Default | ShipStrategy::Forward => Partitioning::Forward,
            ShipStrategy::Rebalance => Partitioning::Rebalance,
            ShipStrategy::Rescale => Partitioning::Rescale,
            ShipStrategy::Broadcast => Partitioning::Broadcast,
            ShipStrategy::Global => Partitioning::Global,
        }
    }
}

/// Split a graph into its topology (validated) and its local builders, and plan it.
fn plan_job(graph: &JobGraph, config: &ExecutionConfig) -> Result<(PhysicalPlan, LocalOperators)> {
    let topology = Topology::of(
        graph,
        TopologyDefaults {
            parallelism: config.parallelism,
            max_parallelism: config.max_parallelism,
        },
    )?;
    let physical = PhysicalPlan::new(&topology, config.chaining, &SlotAssignment::local())?;
    Ok((physical, graph.local_operators()))
}

/// The physical plan `graph` would run with under `config`, without running it.
pub fn explain(graph: &JobGraph, config: &ExecutionConfig) -> Result<PhysicalPlan> {
    plan_job(graph, config).map(|(p, _)| p)
}

/// The channel ends a subtask needs: senders per consumer edge, receivers per input edge.
#[derive(Default)]
struct Wiring {
    /// (consumer node, input edge index) -> senders to the consumer's subtasks, in order.
    senders: HashMap<(NodeId, usize), Vec<Box<dyn Any + Send>>>,
    /// Receivers of the head's input edges: (input index, receiver).
    receivers: Vec<(usize, Box<dyn Any + Send>)>,
}

/// Create the plan's channels; keyed by (task head, subtask).
fn wire(
    plan: &Plan,
    capacity: usize,
    mode: ChannelMode,
) -> Result<HashMap<(NodeId, usize), Wiring>> {
    let mut wiring: HashMap<(NodeId, usize), Wiring> = HashMap::new();
    for c in &plan.physical.channels {
        let e = &plan.physical.edges[c.edge];
        let ty = plan.local.nodes[e.from]
            .output_type(e.slot)
            .ok_or_else(|| {
                StromError::Internal(format!(
                    "edge from '{}' has no output type",
                    plan.node(e.from).name
                ))
            })?;
        let (tx, rx) = ty.channel(capacity, mode);
        wiring
            .entry((plan.physical.task_of(e.from).head, c.producer))
            .or_default()
            .senders
            .entry((e.consumer, e.index))
            .or_default()
            .push(tx);
        wiring
            .entry((e.consumer, c.consumer))
            .or_default()
            .receivers
            .push((e.input, rx));
    }
    Ok(wiring)
}

struct SubtaskBuilder<'a> {
    plan: &'a Plan,
    restore: Option<&'a RestorePoint>,
    state_backend: &'a StateBackendConfig,
    job_name: &'a str,
    subtask: usize,
    wiring: &'a mut Wiring,
    env: &'a TaskEnv,
    batch_size: usize,
    writer_config: WriterConfig,
    auto_watermark_interval: Duration,
}

impl SubtaskBuilder<'_> {
    fn info(&self, id: NodeId) -> TaskInfo {
        let node = self.plan.node(id);
        TaskInfo {
            job_name: self.job_name.to_string(),
            operator_name: node.name.clone(),
            subtask: self.subtask,
            parallelism: node.parallelism,
            max_parallelism: node.max_parallelism,
        }
    }

    /// The downstream (erased `Box<dyn Downstream<T>>`) for one output slot of `id`, or
    /// `None` if nobody consumes it.
    fn output(&mut self, id: NodeId, slot: OutputSlot) -> Result<Option<Box<dyn Any + Send>>> {
        let plan = self.plan;
        let Some(ty) = plan.local.nodes[id].output_type(slot).cloned() else {
            return Ok(None);
        };
        let mut outs = Vec::new();
        for &(c, ei) in &plan.consumers[id] {
            let edge = plan.physical.edge(c, ei);
            if edge.slot != slot {
                continue;
            }
            if edge.chained {
                outs.push(self.build(c)?);
            } else {
                let senders = self.wiring.senders.remove(&(c, ei)).ok_or_else(|| {
                    StromError::Internal(format!("no channels from '{}'", plan.node(id).name))
                })?;
                let consumer = plan.node(c);
                outs.push(ty.writer(
                    senders,
                    &plan.partitioning(c, ei),
                    self.subtask,
                    consumer.parallelism,
                    consumer.max_parallelism,
                    self.writer_config.clone(),
                )?);
            }
        }
        match outs.len() {
            0 => Ok(None),
            1 => Ok(outs.pop()),
            _ => ty.fan_out(outs).map(Some),
        }
    }

    /// Build node `id` and everything chained after it.
    fn build(&mut self, id: NodeId) -> Result<Box<dyn Any + Send>> {
        let plan = self.plan;
        let node = plan.node(id);
        let local = &plan.local.nodes[id];
        let main = self.output(id, OutputSlot::Main)?;
        let mut side = SideOutputs::new();
        let mut side_drains: Vec<Box<dyn SideDrain>> = Vec::new();
        for (tag_id, ty) in &local.side_outputs {
            if let Some(d) = self.output(id, OutputSlot::Side(*tag_id))? {
                side_drains.push(ty.side_drain(*tag_id, d, &mut side)?);
            }
        }
        let ctx = BuildContext {
            info: self.info(id),
            metrics: Arc::clone(&plan.metrics[id]),
            env: self.env.clone(),
            batch_size: self.batch_size,
            rate_limit: node.rate_limit.map(|r| r / node.parallelism as f64),
            auto_watermark_interval: self.auto_watermark_interval,
            node: id,
            uid: node.uid.clone(),
            restored: match self.restore {
                Some(r) => r
                    .state_for(&node.uid, &node.name, self.subtask, node.parallelism)
                    .map_err(|e| e.in_operator(&node.name, self.subtask))?,
                None => None,
            },
            state_backend: self.state_backend.clone(),
        };
        local.builder.build(
            &ctx,
            ErasedOutputs {
                main,
                side,
                side_drains,
            },
        )
    }
}

/// Run `graph` to completion in this process. With checkpointing, a failed job restarts
/// from its latest completed checkpoint as the restart strategy allows.
pub fn execute(
    job_name: &str,
    graph: JobGraph,
    config: &ExecutionConfig,
    cancel: &CancelHandle,
) -> Result<JobResult> {
    let start = Instant::now();
    let mut restore = config.restore.clone();
    let mut tracker = RestartTracker::new(config.restart.clone());
    let mut checkpoints = Vec::new();
    let mut aborted = 0;
    let restored_from = restore.as_ref().map(RestorePoint::checkpoint_id);
    if let Some(r) = &restore {
        tracing::info!(job = job_name, from = %r.describe(), checkpoint = r.checkpoint_id(), "restoring");
    }
    let (physical, local) = plan_job(&graph, config)?;
    drop(graph);
    tracing::info!(
        job = job_name,
        fingerprint = %physical.fingerprint,
        tasks = physical.tasks.len(),
        subtasks = physical.subtasks.len(),
        channels = physical.channels.len(),
        "planned job"
    );
    loop {
        let report = Arc::new(Mutex::new(CoordinatorReport::default()));
        let outcome = run_attempt(
            job_name,
            Plan::new(physical.clone(), local.clone()),
            config,
            cancel,
            restore.as_ref(),
            &report,
        );
        let report = report.lock().map(|r| r.clone()).unwrap_or_default();
        checkpoints.extend(report.completed);
        aborted += report.aborted;
        match outcome {
            Ok(mut result) => {
                result.wall_time = start.elapsed();
                result.checkpoints = checkpoints;
                result.aborted_checkpoints = aborted;
                result.restarts = tracker.restarts();
                result.restored_from = restored_from;
                result.stopped_with_savepoint = report.stopped_with_savepoint;
                return Ok(result);
            }
            Err(e) => {
                let restartable = config.checkpointing.is_some()
                    && !cancel.is_cancelled()
                    && !matches!(
                        e,
                        StromError::InvalidJob(_)
                            | StromError::Cancelled
                            | StromError::Checkpoint(_)
                    );
                let delay = if restartable {
                    tracker.on_failure()
                } else {
                    None
                };
                let Some(delay) = delay else {
                    tracing::warn!(job = job_name, error = %e, "job failed");
                    return Err(e);
                };
                if let (Some(id), Some(cfg)) = (report.latest, config.checkpointing.as_ref()) {
                    let found = crate::checkpoint::format::load(
                        cfg.storage.as_ref(),
                        &crate::checkpoint::format::checkpoint_dir(id),
                        false,
                    )?;
                    restore = Some(RestorePoint::new(Arc::clone(&cfg.storage), found));
                }
                tracing::warn!(
                    job = job_name,
                    error = %e,
                    restart = tracker.restarts(),
                    delay_ms = delay.as_millis() as u64,
                    from = restore.as_ref().map_or("the beginning".to_string(), |r| format!("checkpoint {}", r.checkpoint_id())),
                    "job failed; restarting"
                );
                if cancel.receiver.recv_timeout(delay).is_ok() || cancel.is_cancelled() {
                    return Err(StromError::Cancelled);
                }
                tracker.started();
            }
        }
    }
}

/// One run of the job's tasks (the first, or one after a restart).
fn run_attempt(
    job_name: &str,
    plan: Plan,
    config: &ExecutionConfig,
    user_cancel: &CancelHandle,
    restore: Option<&RestorePoint>,
    report: &Arc<Mutex<CoordinatorReport>>,
) -> Result<JobResult> {
    let start = Instant::now();
    let cancel = CancelHandle::new();
    let nodes = &plan.physical.topology.nodes;
    if let Some(r) = restore {
        let identities: Vec<OperatorIdentity> = nodes
            .iter()
            .map(|n| OperatorIdentity {
                uid: n.uid.clone(),
                name: n.name.clone(),
                max_parallelism: n.max_parallelism,
            })
            .collect();
        r.check_job(&identities, config.allow_non_restored_state)?;
    }
    for (node, local) in nodes.iter().zip(&plan.local.nodes) {
        local
            .builder
            .prepare(node.parallelism)
            .map_err(|e| e.in_operator(&node.name, 0))?;
    }
    let mode = match config.channel_mode {
        Some(m) => m,
        None => ChannelMode::from_env()?,
    };
    let mut wiring = wire(&plan, config.channel_capacity.max(1), mode)?;
    let plan = Arc::new(plan);
    let heads: Vec<NodeId> = plan.physical.tasks.iter().map(|t| t.head).collect();
    // Checkpointing: a control channel per task, an inbox for the coordinator, and the
    // snapshot writer that writes the tasks' state and acknowledges to the coordinator.
    let (coord_tx, coord_rx) = crossbeam_channel::bounded::<CoordinatorMsg>(1024);
    let incremental_base = Arc::new(AtomicU64::new(0));
    let mut slots = Vec::new();
    let mut controls = Vec::new();
    for &head in &heads {
        for _ in 0..plan.node(head).parallelism {
            let (tx, rx) = crossbeam_channel::bounded::<TaskControl>(64);
            slots.push(TaskSlot {
                control: tx,
                is_source: plan.physical.task_of(head).is_source,
            });
            controls.push(rx);
        }
    }
    let snapshot_writer = match &config.checkpointing {
        Some(cfg) => Some(snapshot_writer::start(
            Arc::clone(&cfg.storage),
            plan.physical
                .topology
                .nodes
                .iter()
                .map(|n| n.uid.clone())
                .collect(),
            coord_tx.clone(),
        )?),
        None => None,
    };
    drop(coord_tx);
    let writer_tx = snapshot_writer.as_ref().map(|(tx, _)| tx.clone());
    let (shutdown_tx, shutdown_rx) = crossbeam_channel::bounded::<()>(0);
    let coordinator = match &config.checkpointing {
        Some(cfg) => {
            let nodes = plan
                .physical
                .topology
                .nodes
                .iter()
                .map(Into::into)
                .collect();
            let c = Coordinator::new(CoordinatorSetup {
                config: cfg.clone(),
                job_name: job_name.to_string(),
                nodes,
                tasks: slots,
                inbox: coord_rx,
                savepoints: config.savepoints.clone(),
                shutdown: shutdown_rx,
                incremental_base: Arc::clone(&incremental_base),
                restored_id: restore.map_or(0, RestorePoint::checkpoint_id),
                report: Arc::clone(report),
            })?;
            Some(
                std::thread::Builder::new()
                    .name("chk-coordinator".into())
                    .spawn(move || c.run())
                    .map_err(|e| {
                        StromError::Internal(format!(
                            "cannot start the checkpoint coordinator: {e}"
                        ))
                    })?,
            )
        }
        None => None,
    };
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(String, Result<()>)>();
    let mut threads = 0;
    let buffer_timeout = (!config.buffer_timeout.is_zero()).then_some(config.buffer_timeout);
    let mut task_id = 0;
    let mut controls = controls.into_iter();
    for &head in &heads {
        for subtask in 0..plan.node(head).parallelism {
            let mut w = wiring.remove(&(head, subtask)).unwrap_or_default();
            let plan = Arc::clone(&plan);
            let control = controls.next();
            let env = TaskEnv {
                cancel: cancel.receiver.clone(),
                cancelled: Arc::clone(&cancel.flag),
                buffer_timeout,
                clock: Arc::clone(&config.clock),
                wakeup: Arc::new(AtomicI64::new(i64::MAX)),
                checkpointing: match (&config.checkpointing, control, &writer_tx) {
                    (Some(cfg), Some(control), Some(writer)) => Some(TaskCheckpointing {
                        task: task_id,
                        control,
                        writer: writer.clone(),
                        collected: Arc::new(Mutex::new(Vec::new())),
                        incremental_base: Arc::clone(&incremental_base),
                        exactly_once: cfg.mode == CheckpointingMode::ExactlyOnce,
                    }),
                    _ => None,
                },
            };
            task_id += 1;
            let writer_config = WriterConfig {
                batch_size: config.batch_size.max(1),
                flush_every_push: config.buffer_timeout.is_zero(),
                cancel: cancel.receiver.clone(),
            };
            let label = format!(
                "{} ({}/{})",
                plan.node(head).name,
                subtask + 1,
                plan.node(head).parallelism
            );
            let done = done_tx.clone();
            let job = job_name.to_string();
            let batch_size = config.batch_size.max(1);
            let auto_watermark_interval = config.auto_watermark_interval;
            let thread_label = label.clone();
            let restore = restore.cloned();
            let state_backend = config.state_backend.clone();
            let spawn = std::thread::Builder::new()
                .name(label.chars().take(15).collect())
                .spawn(move || {
                    let span = tracing::info_span!("task", job = %job, task = %thread_label);
                    let _g = span.enter();
                    let result = (|| {
                        let receivers = std::mem::take(&mut w.receivers);
                        let mut b = SubtaskBuilder {
                            plan: &plan,
                            restore: restore.as_ref(),
                            state_backend: &state_backend,
                            job_name: &job,
                            subtask,
                            wiring: &mut w,
                            env: &env,
                            batch_size,
                            writer_config,
                            auto_watermark_interval,
                        };
                        let built = b.build(head)?;
                        let runner = plan.local.nodes[head].builder.build_task(
                            built,
                            receivers,
                            env.clone(),
                        )?;
                        drop(w);
                        drop(env);
                        runner.run()
                    })();
                    let _ = done.send((thread_label, result));
                });
            if let Err(e) = spawn {
                cancel.cancel();
                return Err(StromError::Internal(format!(
                    "cannot start a task thread: {e}"
                )));
            }
            threads += 1;
        }
    }
    drop(done_tx);
    drop(writer_tx);
    let first_error = wait_for_tasks(&done_rx, threads, &cancel, user_cancel);
    drop(shutdown_tx);
    if let Some(c) = coordinator {
        let _ = c.join();
    }
    if let Some((tx, writer)) = snapshot_writer {
        drop(tx);
        // The writer ends once every task has dropped its end; tasks that did not stop
        // within the grace period still hold theirs.
        let deadline = Instant::now() + CANCEL_GRACE;
        while !writer.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if writer.is_finished() {
            let _ = writer.join();
        }
    }
    let operators = plan
        .physical
        .topology
        .nodes
        .iter()
        .enumerate()
        .map(|(id, n)| OperatorStats {
            name: n.name.clone(),
            uid: n.uid_set.then(|| n.uid.clone()),
            parallelism: n.parallelism,
            task: plan.node(plan.physical.task_of(id).head).name.clone(),
            records_in: plan.metrics[id].records_in(),
            records_out: plan.metrics[id].records_out(),
        })
        .collect();
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(JobResult {
        job_name: job_name.to_string(),
        wall_time: start.elapsed(),
        operators,
        tasks: heads.len(),
        threads,
        cancelled: user_cancel.is_cancelled(),
        checkpoints: Vec::new(),
        aborted_checkpoints: 0,
        restarts: 0,
        restored_from: None,
        stopped_with_savepoint: None,
    })
}

/// Wait for every task; on the first failure cancel the rest. Returns the root failure.
fn wait_for_tasks(
    done: &Receiver<(String, Result<()>)>,
    mut remaining: usize,
    cancel: &CancelHandle,
    user_cancel: &CancelHandle,
) -> Option<StromError> {
    let mut first_error: Option<StromError> = None;
    let mut cancelled_at: Option<Instant> = None;
    while remaining > 0 {
        let msg = match cancelled_at {
            None => crossbeam_channel::select! {
                recv(done) -> m => m.ok(),
                recv(cancel.receiver) -> _ => {
                    cancelled_at = Some(Instant::now());
                    continue;
                }
                recv(user_cancel.receiver) -> _ => {
                    cancel.cancel();
                    cancelled_at = Some(Instant::now());
                    continue;
                }
            },
            Some(t) => {
                let left = CANCEL_GRACE.saturating_sub(t.elapsed());
                match done.recv_timeout(left) {
                    Ok(m) => Some(m),
                    Err(_) => {
                        tracing::warn!(remaining, "tasks did not stop within the grace period");
                        return first_error.or(Some(StromError::Internal(format!(
                            "{remaining} task(s) did not stop within {CANCEL_GRACE:?} of cancellation"
                        ))));
                    }
                }
            }
        };
        let Some((label, result)) = msg else { break };
        remaining -= 1;
        match result {
            Ok(()) => tracing::debug!(task = %label, "task finished"),
            Err(StromError::Cancelled) => {}
            Err(e) => {
                tracing::warn!(task = %label, error = %e, "task failed");
                if first_error.is_none() {
                    first_error = Some(e);
                    cancel.cancel();
                    cancelled_at.get_or_insert_with(Instant::now);
                }
            }
        }
    }
    first_error
}
