//! The physical plan: how a [`Topology`] runs on a set of slots.
//!
//! [`PhysicalPlan::new`] is a pure function of a topology, the chaining option and a
//! [`SlotAssignment`]. It decides:
//!
//! * the ship strategy of every edge (an undeclared edge is forward when the parallelism
//!   matches and rebalance otherwise, Flink's rule; `forward()` between different
//!   parallelisms is an error);
//! * which edges are **chained** (forward, equal parallelism, a one-input consumer with this
//!   single input, chaining not disabled on either side) and so the **tasks**: a chain
//!   head and everything chained after it;
//! * the **subtasks** of every task, the slot and worker each runs in (Flink's slot
//!   sharing: subtask `i` of every task shares slot `i`), and the key-group range of every
//!   keyed subtask;
//! * the **channels**: one per connected pair of producer and consumer subtasks of every
//!   edge that is not chained, in the order the consumer reads them, and whether both ends
//!   are on the same worker.
//!
//! The local executor runs exactly this plan; a cluster coordinator computes the same plan
//! and tells each worker its part. `strom example … --explain` prints it.

use crate::graph::{NodeArity, NodeId, OutputSlot};
use crate::partition::pointwise_targets;
use crate::topology::{ShipStrategy, Topology};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use strom_core::{Result, StromError};
use strom_types::key_group::KeyGroupRange;

/// Where subtasks may run: workers (processes) with a number of slots each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotAssignment {
    /// Slots per worker; `None` is one local worker with as many slots as the job needs.
    pub workers: Option<Vec<usize>>,
}

impl SlotAssignment {
    /// Everything in this process.
    pub fn local() -> Self {
        SlotAssignment { workers: None }
    }

    /// Workers with these numbers of slots, filled in order.
    pub fn workers(slots: Vec<usize>) -> Self {
        SlotAssignment {
            workers: Some(slots),
        }
    }
}

/// An edge of the topology, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEdge {
    /// The consuming operator.
    pub consumer: NodeId,
    /// The index of this edge among the consumer's input edges.
    pub index: usize,
    /// The producing operator.
    pub from: NodeId,
    /// Which of its outputs.
    pub slot: OutputSlot,
    /// The consumer's input (0, or 1 for the second input).
    pub input: usize,
    /// The ship strategy after resolving `Default`.
    pub strategy: ShipStrategy,
    /// Whether the consumer runs in the producer's thread, called directly.
    pub chained: bool,
}

/// A task: a chain of operators that run in one thread per subtask (Flink's JobVertex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTask {
    /// The task's index in the plan.
    pub id: usize,
    /// Its first operator.
    pub head: NodeId,
    /// Its operators, head first, in topological order.
    pub operators: Vec<NodeId>,
    /// Flink-style name: the operators' names joined by ` -> `.
    pub name: String,
    /// Parallelism (the head's; all chained operators share it).
    pub parallelism: usize,
    /// Max parallelism of the head.
    pub max_parallelism: usize,
    /// Whether the head is a source.
    pub is_source: bool,
    /// Whether the head reads a keyed stream.
    pub keyed: bool,
    /// Indices into [`PhysicalPlan::edges`] of the edges the task reads through channels.
    pub inputs: Vec<usize>,
}

/// One parallel instance of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSubtask {
    /// The task.
    pub task: usize,
    /// The subtask index, `0..parallelism`.
    pub index: usize,
    /// The slot it runs in.
    pub slot: usize,
    /// The worker that slot belongs to.
    pub worker: usize,
    /// The key groups it owns, for keyed tasks.
    pub key_groups: Option<KeyGroupRange>,
}

/// A channel between a producer subtask and a consumer subtask of one edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChannel {
    /// Index into [`PhysicalPlan::edges`].
    pub edge: usize,
    /// The producer's subtask index.
    pub producer: usize,
    /// The consumer's subtask index.
    pub consumer: usize,
    /// Both ends on the same worker.
    pub local: bool,
}

/// How a topology runs: tasks, subtasks, slots and channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhysicalPlan {
    /// The topology's fingerprint.
    pub fingerprint: String,
    /// The topology the plan was made from.
    pub topology: Topology,
    /// Every edge, ordered by consumer and input edge index.
    pub edges: Vec<PlanEdge>,
    /// The tasks, ordered by head.
    pub tasks: Vec<PlanTask>,
    /// Every subtask, ordered by task and index.
    pub subtasks: Vec<PlanSubtask>,
    /// Every channel, grouped by edge, producer-major (the order consumers read them).
    pub channels: Vec<PlanChannel>,
    /// Slots used.
    pub slots: usize,
    /// Per operator: the task it runs in.
    pub task_of: Vec<usize>,
    /// Per operator: the index of its first input edge in `edges`.
    edge_start: Vec<usize>,
}

impl PhysicalPlan {
    /// Plan `topology` on `assignment`, chaining forward edges when `chaining` is set.
    pub fn new(
        topology: &Topology,
        chaining: bool,
        assignment: &SlotAssignment,
    ) -> Result<PhysicalPlan> {
        let nodes = &topology.nodes;
        let n = nodes.len();
        let mut edges = Vec::new();
        let mut edge_start = Vec::with_capacity(n);
        let mut head_of: Vec<NodeId> = vec![0; n];
        for (id, node) in nodes.iter().enumerate() {
            edge_start.push(edges.len());
            let mut first_chained = false;
            for (index, e) in node.inputs.iter().enumerate() {
                let producer = nodes.get(e.from).filter(|_| e.from < id).ok_or_else(|| {
                    StromError::Internal("job graph is not topologically ordered".into())
                })?;
                let (pu, pd) = (producer.parallelism, node.parallelism);
                let strategy = match e.strategy {
                    ShipStrategy::Default if pu == pd => ShipStrategy::Forward,
                    ShipStrategy::Default => ShipStrategy::Rebalance,
                    ShipStrategy::Forward if pu != pd => {
                        return Err(StromError::InvalidJob(format!(
                            "forward() from '{}' (parallelism {pu}) to '{}' (parallelism {pd}) needs equal parallelism; use rebalance() or rescale(), or set the same parallelism",
                            producer.name, node.name
                        )));
                    }
                    s => s,
                };
                let chained = chaining
                    && strategy == ShipStrategy::Forward
                    && node.arity == NodeArity::OneInput
                    && node.inputs.len() == 1
                    && !node.start_new_chain
                    && !producer.disable_chaining;
                if index == 0 {
                    first_chained = chained;
                }
                edges.push(PlanEdge {
                    consumer: id,
                    index,
                    from: e.from,
                    slot: e.slot,
                    input: e.input,
                    strategy,
                    chained,
                });
            }
            head_of[id] = if first_chained {
                head_of[node.inputs[0].from]
            } else {
                id
            };
        }
        // Tasks, in order of their heads.
        let mut tasks: Vec<PlanTask> = Vec::new();
        let mut task_of = vec![0; n];
        for id in 0..n {
            if head_of[id] == id {
                let head = &nodes[id];
                task_of[id] = tasks.len();
                tasks.push(PlanTask {
                    id: tasks.len(),
                    head: id,
                    operators: vec![id],
                    name: String::new(),
                    parallelism: head.parallelism,
                    max_parallelism: head.max_parallelism,
                    is_source: head.arity == NodeArity::Source,
                    keyed: head.is_keyed(),
                    inputs: Vec::new(),
                });
            } else {
                let t = task_of[head_of[id]];
                task_of[id] = t;
                tasks[t].operators.push(id);
            }
        }
        for (ei, e) in edges.iter().enumerate() {
            if !e.chained {
                tasks[task_of[e.consumer]].inputs.push(ei);
            }
        }
        for t in &mut tasks {
            t.name = t
                .operators
                .iter()
                .map(|&o| nodes[o].name.as_str())
                .collect::<Vec<_>>()
                .join(" -> ");
        }
        // Slots: subtask i of every task shares slot i (one slot sharing group).
        let slots = tasks.iter().map(|t| t.parallelism).max().unwrap_or(0);
        let worker_of_slot: Vec<usize> = match &assignment.workers {
            None => vec![0; slots],
            Some(workers) => {
                let available: usize = workers.iter().sum();
                if available < slots {
                    return Err(StromError::InvalidJob(format!(
                        "the job needs {slots} slots (its highest parallelism) but the workers offer {available}; add workers or slots, or lower the parallelism"
                    )));
                }
                workers
                    .iter()
                    .enumerate()
                    .flat_map(|(w, &s)| std::iter::repeat_n(w, s))
                    .take(slots)
                    .collect()
            }
        };
        let mut subtasks = Vec::new();
        for t in &tasks {
            for (index, &worker) in worker_of_slot.iter().enumerate().take(t.parallelism) {
                subtasks.push(PlanSubtask {
                    task: t.id,
                    index,
                    slot: index,
                    worker,
                    key_groups: t.keyed.then(|| {
                        KeyGroupRange::for_operator(t.max_parallelism, t.parallelism, index)
                    }),
                });
            }
        }
        // Channels of every edge that is not chained, producer-major.
        let mut channels = Vec::new();
        for (ei, e) in edges.iter().enumerate() {
            if e.chained {
                continue;
            }
            let (pu, pd) = (nodes[e.from].parallelism, nodes[e.consumer].parallelism);
            for producer in 0..pu {
                let targets: Vec<usize> = if e.strategy.is_pointwise() {
                    pointwise_targets(producer, pu, pd)
                } else {
                    (0..pd).collect()
                };
                for consumer in targets {
                    channels.push(PlanChannel {
                        edge: ei,
                        producer,
                        consumer,
                        local: worker_of_slot[producer] == worker_of_slot[consumer],
                    });
                }
            }
        }
        Ok(PhysicalPlan {
            fingerprint: topology.fingerprint(),
            topology: topology.clone(),
            edges,
            tasks,
            subtasks,
            channels,
            slots,
            task_of,
            edge_start,
        })
    }

    /// The resolved edge `index` of `consumer`'s inputs.
    pub fn edge(&self, consumer: NodeId, index: usize) -> &PlanEdge {
        &self.edges[self.edge_start[consumer] + index]
    }

    /// The task whose chain operator `id` belongs to.
    pub fn task_of(&self, id: NodeId) -> &PlanTask {
        &self.tasks[self.task_of[id]]
    }

    /// The plan as text: one block per task with its operators, inputs and subtasks.
    pub fn to_text(&self) -> String {
        let nodes = &self.topology.nodes;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "job fingerprint {} · {} · {} · {} · {}",
            self.fingerprint,
            count(self.tasks.len(), "task"),
            count(self.subtasks.len(), "subtask"),
            count(self.channels.len(), "channel"),
            count(self.slots, "slot")
        );
        for t in &self.tasks {
            let _ = writeln!(
                s,
                "task {}: {} (parallelism {}{})",
                t.id + 1,
                t.name,
                t.parallelism,
                if t.keyed {
                    format!(", keyed, max parallelism {}", t.max_parallelism)
                } else {
                    String::new()
                }
            );
            for (pos, &o) in t.operators.iter().enumerate() {
                let node = &nodes[o];
                let _ = writeln!(
                    s,
                    "  {} operator {}: {} [uid {}{}] parallelism {}, max parallelism {}",
                    if pos == 0 { "head " } else { "chain" },
                    o,
                    node.name,
                    node.uid,
                    if node.uid_set { "" } else { ", generated" },
                    node.parallelism,
                    node.max_parallelism
                );
            }
            for &ei in &t.inputs {
                let e = &self.edges[ei];
                let n = self.channels.iter().filter(|c| c.edge == ei).count();
                let _ = writeln!(
                    s,
                    "  input {}: {} from task {} ({}{}), {}",
                    e.input,
                    e.strategy.flink_name(),
                    self.task_of[e.from] + 1,
                    nodes[e.from].name,
                    match e.slot {
                        OutputSlot::Main => String::new(),
                        OutputSlot::Side(tag) =>
                            format!(", side output {}", side_name(self, e.from, tag)),
                    },
                    count(n, "channel")
                );
            }
            let groups: Vec<String> = self
                .subtasks
                .iter()
                .filter(|st| st.task == t.id)
                .filter_map(|st| st.key_groups.map(|k| format!("{}..={}", k.start, k.end)))
                .collect();
            if !groups.is_empty() {
                let _ = writeln!(s, "  key groups by subtask: {}", groups.join(", "));
            }
        }
        s
    }

    /// The plan as JSON in the layout of Flink's `StreamExecutionEnvironment.getExecutionPlan`
    /// (`nodes` with `id`, `type`, `pact`, `contents`, `parallelism`, `predecessors` with
    /// `id`, `ship_strategy`, `side`), plus Strom's own fields: every node's `uid`,
    /// `max_parallelism` and `chain` (its task), and the job's `fingerprint` and `tasks`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let nodes = &self.topology.nodes;
        let json_nodes: Vec<serde_json::Value> = nodes
            .iter()
            .map(|n| {
                let pact = if n.arity == NodeArity::Source {
                    "Data Source"
                } else if n.is_sink() {
                    "Data Sink"
                } else {
                    "Operator"
                };
                let mut node = json!({
                    "id": n.id + 1,
                    "type": n.name,
                    "pact": pact,
                    "contents": n.name,
                    "parallelism": n.parallelism,
                    "max_parallelism": n.max_parallelism,
                    "uid": n.uid,
                    "chain": self.task_of[n.id] + 1,
                });
                if !n.inputs.is_empty() {
                    node["predecessors"] = n
                        .inputs
                        .iter()
                        .enumerate()
                        .map(|(i, e)| {
                            let pe = self.edge(n.id, i);
                            json!({
                                "id": e.from + 1,
                                "ship_strategy": pe.strategy.flink_name(),
                                "side": if e.input == 0 { "first" } else { "second" },
                                "chained": pe.chained,
                            })
                        })
                        .collect();
                }
                node
            })
            .collect();
        let tasks: Vec<serde_json::Value> = self
            .tasks
            .iter()
            .map(|t| {
                json!({
                    "id": t.id + 1,
                    "name": t.name,
                    "parallelism": t.parallelism,
                    "operators": t.operators.iter().map(|o| o + 1).collect::<Vec<_>>(),
                    "key_groups": self.subtasks.iter().filter(|s| s.task == t.id)
                        .filter_map(|s| s.key_groups.map(|k| [k.start, k.end]))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "fingerprint": self.fingerprint,
            "nodes": json_nodes,
            "tasks": tasks,
        })
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn side_name(plan: &PhysicalPlan, node: NodeId, tag: u64) -> String {
    plan.topology.nodes[node]
        .side_outputs
        .iter()
        .find(|s| s.tag_id == tag)
        .map_or_else(|| tag.to_string(), |s| format!("'{}'", s.name))
}
