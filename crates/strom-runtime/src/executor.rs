//! Runs a [`JobGraph`] in this process: plans operator chains and channels, starts one
//! thread per subtask of every chain, and waits for the job to finish, fail or be
//! cancelled.
//!
//! Chaining follows Flink: an edge is chained (the consumer runs in the producer's thread
//! and is called directly) when it is a forward edge between operators of equal parallelism,
//! the consumer has exactly that one input, and neither side disabled chaining.

use crate::downstream::SideDrain;
use crate::graph::{BuildContext, ErasedOutputs, JobGraph, NodeArity, NodeId, OutputSlot};
use crate::metrics::{OperatorMetrics, OperatorStats};
use crate::partition::{Partitioning, pointwise_targets};
use crate::task::TaskEnv;
use crate::writer::WriterConfig;
use crossbeam_channel::{Receiver, Sender};
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strom_core::{Clock, Result, SideOutputs, StromError, SystemClock, TaskInfo};
use strom_types::key_group::UPPER_BOUND_MAX_PARALLELISM;

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
}

impl JobResult {
    /// The figures of the operator named `name`.
    pub fn operator(&self, name: &str) -> Option<&OperatorStats> {
        self.operators.iter().find(|o| o.name == name)
    }
}

/// How long tasks get to stop after a failure or cancel before the job returns anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

struct Plan {
    graph: JobGraph,
    parallelism: Vec<usize>,
    max_parallelism: Vec<usize>,
    partitioning: Vec<Vec<Partitioning>>, // per node, per input edge (resolved)
    chained: Vec<Vec<bool>>,              // per node, per input edge
    head_of: Vec<NodeId>,
    consumers: Vec<Vec<(NodeId, usize)>>, // per producer: (consumer, input edge index)
    metrics: Vec<Arc<OperatorMetrics>>,
}

impl Plan {
    fn new(graph: JobGraph, config: &ExecutionConfig) -> Result<Plan> {
        let n = graph.nodes.len();
        if n == 0 {
            return Err(StromError::InvalidJob("the job has no operators".into()));
        }
        if !graph
            .nodes
            .iter()
            .any(|n| n.builder.arity() == NodeArity::Source)
        {
            return Err(StromError::InvalidJob("the job has no source".into()));
        }
        let mut parallelism = Vec::with_capacity(n);
        let mut max_parallelism = Vec::with_capacity(n);
        for node in &graph.nodes {
            parallelism.push(node.parallelism.unwrap_or(config.parallelism));
            max_parallelism.push(node.max_parallelism.unwrap_or(config.max_parallelism));
        }
        // Helpers that follow their consumer's parallelism (consumers come later in the graph).
        for id in (0..n).rev() {
            if let Some(of) = graph.nodes[id].parallelism_of
                && let Some(&p) = parallelism.get(of)
            {
                parallelism[id] = p;
            }
        }
        for (id, node) in graph.nodes.iter().enumerate() {
            let (p, m) = (parallelism[id], max_parallelism[id]);
            if p == 0 {
                return Err(StromError::InvalidJob(format!(
                    "operator '{}' has parallelism 0; it must be at least 1",
                    node.name
                )));
            }
            if m == 0 || m > UPPER_BOUND_MAX_PARALLELISM {
                return Err(StromError::InvalidJob(format!(
                    "operator '{}' has max parallelism {m}; it must be in 1..={UPPER_BOUND_MAX_PARALLELISM}",
                    node.name
                )));
            }
            let keyed = node
                .inputs
                .iter()
                .any(|e| matches!(e.partitioning, Partitioning::KeyGroups(_)));
            if keyed && p > m {
                return Err(StromError::InvalidJob(format!(
                    "keyed operator '{}' has parallelism {p} above its max parallelism {m} (the number of key groups); raise max_parallelism or lower the parallelism",
                    node.name
                )));
            }
        }
        let mut partitioning = Vec::with_capacity(n);
        let mut chained = Vec::with_capacity(n);
        let mut head_of = vec![0; n];
        let mut consumers = vec![Vec::new(); n];
        for (id, node) in graph.nodes.iter().enumerate() {
            let mut parts = Vec::new();
            let mut chains = Vec::new();
            for (ei, e) in node.inputs.iter().enumerate() {
                if e.from >= id {
                    return Err(StromError::Internal(
                        "job graph is not topologically ordered".into(),
                    ));
                }
                let (pu, pd) = (parallelism[e.from], parallelism[id]);
                let part = match &e.partitioning {
                    Partitioning::Default if pu == pd => Partitioning::Forward,
                    Partitioning::Default => Partitioning::Rebalance,
                    Partitioning::Forward if pu != pd => {
                        return Err(StromError::InvalidJob(format!(
                            "forward() from '{}' (parallelism {pu}) to '{}' (parallelism {pd}) needs equal parallelism; use rebalance() or rescale(), or set the same parallelism",
                            graph.nodes[e.from].name, node.name
                        )));
                    }
                    p => p.clone(),
                };
                let producer = &graph.nodes[e.from];
                let is_chained = config.chaining
                    && matches!(part, Partitioning::Forward)
                    && node.builder.arity() == NodeArity::OneInput
                    && node.inputs.len() == 1
                    && !node.start_new_chain
                    && !producer.disable_chaining;
                consumers[e.from].push((id, ei));
                parts.push(part);
                chains.push(is_chained);
            }
            head_of[id] = if chains.first().copied().unwrap_or(false) {
                head_of[node.inputs[0].from]
            } else {
                id
            };
            partitioning.push(parts);
            chained.push(chains);
        }
        let metrics = (0..n)
            .map(|_| Arc::new(OperatorMetrics::default()))
            .collect();
        Ok(Plan {
            graph,
            parallelism,
            max_parallelism,
            partitioning,
            chained,
            head_of,
            consumers,
            metrics,
        })
    }
}

/// The channel ends a subtask needs: senders per consumer edge, receivers per input edge.
#[derive(Default)]
struct Wiring {
    /// (consumer node, input edge index) -> senders to the consumer's subtasks, in order.
    senders: HashMap<(NodeId, usize), Vec<Box<dyn Any + Send>>>,
    /// Receivers of the head's input edges: (input index, receiver).
    receivers: Vec<(usize, Box<dyn Any + Send>)>,
}

fn wire(plan: &Plan, capacity: usize) -> Result<HashMap<(NodeId, usize), Wiring>> {
    // keyed by (task head, subtask)
    let mut wiring: HashMap<(NodeId, usize), Wiring> = HashMap::new();
    for (id, node) in plan.graph.nodes.iter().enumerate() {
        for (ei, e) in node.inputs.iter().enumerate() {
            if plan.chained[id][ei] {
                continue;
            }
            let producer = &plan.graph.nodes[e.from];
            let ty = match e.slot {
                OutputSlot::Main => producer.output.clone(),
                OutputSlot::Side(tag) => producer
                    .side_outputs
                    .iter()
                    .find(|s| s.tag_id == tag)
                    .map(|s| Arc::clone(&s.ty)),
            }
            .ok_or_else(|| {
                StromError::Internal(format!("edge from '{}' has no output type", producer.name))
            })?;
            let (pu, pd) = (plan.parallelism[e.from], plan.parallelism[id]);
            let part = &plan.partitioning[id][ei];
            // receivers[j] collects in producer order
            let mut per_consumer: Vec<Vec<Box<dyn Any + Send>>> =
                (0..pd).map(|_| Vec::new()).collect();
            for i in 0..pu {
                let targets: Vec<usize> = if part.is_pointwise() {
                    pointwise_targets(i, pu, pd)
                } else {
                    (0..pd).collect()
                };
                let mut senders = Vec::with_capacity(targets.len());
                for j in targets {
                    let (tx, rx) = ty.channel(capacity);
                    senders.push(tx);
                    per_consumer[j].push(rx);
                }
                wiring
                    .entry((plan.head_of[e.from], i))
                    .or_default()
                    .senders
                    .insert((id, ei), senders);
            }
            for (j, rxs) in per_consumer.into_iter().enumerate() {
                let w = wiring.entry((id, j)).or_default();
                w.receivers.extend(rxs.into_iter().map(|r| (e.input, r)));
            }
        }
    }
    Ok(wiring)
}

struct SubtaskBuilder<'a> {
    plan: &'a Plan,
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
        TaskInfo {
            job_name: self.job_name.to_string(),
            operator_name: self.plan.graph.nodes[id].name.clone(),
            subtask: self.subtask,
            parallelism: self.plan.parallelism[id],
            max_parallelism: self.plan.max_parallelism[id],
        }
    }

    /// The downstream (erased `Box<dyn Downstream<T>>`) for one output slot of `id`, or
    /// `None` if nobody consumes it.
    fn output(&mut self, id: NodeId, slot: OutputSlot) -> Result<Option<Box<dyn Any + Send>>> {
        let plan = self.plan;
        let node = &plan.graph.nodes[id];
        let ty = match slot {
            OutputSlot::Main => node.output.clone(),
            OutputSlot::Side(tag) => node
                .side_outputs
                .iter()
                .find(|s| s.tag_id == tag)
                .map(|s| Arc::clone(&s.ty)),
        };
        let Some(ty) = ty else { return Ok(None) };
        let mut outs = Vec::new();
        for &(c, ei) in &plan.consumers[id] {
            if plan.graph.nodes[c].inputs[ei].slot != slot {
                continue;
            }
            if plan.chained[c][ei] {
                outs.push(self.build(c)?);
            } else {
                let senders = self.wiring.senders.remove(&(c, ei)).ok_or_else(|| {
                    StromError::Internal(format!("no channels from '{}'", node.name))
                })?;
                outs.push(ty.writer(
                    senders,
                    &plan.partitioning[c][ei],
                    self.subtask,
                    plan.parallelism[c],
                    plan.max_parallelism[c],
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
        let node = &self.plan.graph.nodes[id];
        let main = self.output(id, OutputSlot::Main)?;
        let mut side = SideOutputs::new();
        let mut side_drains: Vec<Box<dyn SideDrain>> = Vec::new();
        for s in &node.side_outputs {
            if let Some(d) = self.output(id, OutputSlot::Side(s.tag_id))? {
                side_drains.push(s.ty.side_drain(s.tag_id, d, &mut side)?);
            }
        }
        let ctx = BuildContext {
            info: self.info(id),
            metrics: Arc::clone(&self.plan.metrics[id]),
            env: self.env.clone(),
            batch_size: self.batch_size,
            rate_limit: node
                .rate_limit
                .map(|r| r / self.plan.parallelism[id] as f64),
            auto_watermark_interval: self.auto_watermark_interval,
        };
        node.builder.build(
            &ctx,
            ErasedOutputs {
                main,
                side,
                side_drains,
            },
        )
    }
}

/// Run `graph` to completion in this process.
pub fn execute(
    job_name: &str,
    graph: JobGraph,
    config: &ExecutionConfig,
    cancel: &CancelHandle,
) -> Result<JobResult> {
    let start = Instant::now();
    let plan = Plan::new(graph, config)?;
    for (id, node) in plan.graph.nodes.iter().enumerate() {
        node.builder
            .prepare(plan.parallelism[id])
            .map_err(|e| e.in_operator(&node.name, 0))?;
    }
    let mut wiring = wire(&plan, config.channel_capacity.max(1))?;
    let plan = Arc::new(plan);
    let heads: Vec<NodeId> = (0..plan.graph.nodes.len())
        .filter(|&id| plan.head_of[id] == id)
        .collect();
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<(String, Result<()>)>();
    let mut threads = 0;
    let buffer_timeout = (!config.buffer_timeout.is_zero()).then_some(config.buffer_timeout);
    for &head in &heads {
        for subtask in 0..plan.parallelism[head] {
            let mut w = wiring.remove(&(head, subtask)).unwrap_or_default();
            let plan = Arc::clone(&plan);
            let env = TaskEnv {
                cancel: cancel.receiver.clone(),
                cancelled: Arc::clone(&cancel.flag),
                buffer_timeout,
                clock: Arc::clone(&config.clock),
                wakeup: Arc::new(AtomicI64::new(i64::MAX)),
            };
            let writer_config = WriterConfig {
                batch_size: config.batch_size.max(1),
                flush_every_push: config.buffer_timeout.is_zero(),
                cancel: cancel.receiver.clone(),
            };
            let label = format!(
                "{} ({}/{})",
                plan.graph.nodes[head].name,
                subtask + 1,
                plan.parallelism[head]
            );
            let done = done_tx.clone();
            let job = job_name.to_string();
            let batch_size = config.batch_size.max(1);
            let auto_watermark_interval = config.auto_watermark_interval;
            let thread_label = label.clone();
            let spawn = std::thread::Builder::new()
                .name(label.chars().take(15).collect())
                .spawn(move || {
                    let span = tracing::info_span!("task", job = %job, task = %thread_label);
                    let _g = span.enter();
                    let result = (|| {
                        let receivers = std::mem::take(&mut w.receivers);
                        let mut b = SubtaskBuilder {
                            plan: &plan,
                            job_name: &job,
                            subtask,
                            wiring: &mut w,
                            env: &env,
                            batch_size,
                            writer_config,
                            auto_watermark_interval,
                        };
                        let built = b.build(head)?;
                        let runner = plan.graph.nodes[head].builder.build_task(
                            built,
                            receivers,
                            env.clone(),
                        )?;
                        drop(w);
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
    let first_error = wait_for_tasks(&done_rx, threads, cancel);
    let operators = plan
        .graph
        .nodes
        .iter()
        .enumerate()
        .map(|(id, n)| OperatorStats {
            name: n.name.clone(),
            uid: n.uid.clone(),
            parallelism: plan.parallelism[id],
            task: plan.graph.nodes[plan.head_of[id]].name.clone(),
            records_in: plan.metrics[id].records_in(),
            records_out: plan.metrics[id].records_out(),
        })
        .collect();
    if let Some(e) = first_error {
        tracing::warn!(job = job_name, error = %e, "job failed");
        return Err(e);
    }
    Ok(JobResult {
        job_name: job_name.to_string(),
        wall_time: start.elapsed(),
        operators,
        tasks: heads.len(),
        threads,
        cancelled: cancel.is_cancelled(),
    })
}

/// Wait for every task; on the first failure cancel the rest. Returns the root failure.
fn wait_for_tasks(
    done: &Receiver<(String, Result<()>)>,
    mut remaining: usize,
    cancel: &CancelHandle,
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
    if first_error.is_none() && !cancel.is_cancelled() && remaining == 0 {
        return None;
    }
    first_error
}
