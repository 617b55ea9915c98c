//! What a job is, apart from how it runs in this process.
//!
//! A [`Topology`] is plain, serializable data: every operator's id, name, uid, parallelism
//! and max parallelism, the edges between them with a payload-free [`ShipStrategy`], side
//! outputs, chaining flags, and a [`Topology::fingerprint`] over all of it. It holds no
//! closure, channel or clock, so it can be printed, compared, stored with a checkpoint or
//! sent to another process. The same program built twice gives the same topology and so
//! the same fingerprint; a worker built from different code gives a different one.
//!
//! The in-process half of a job, the builders that make operator instances and the
//! partitioners that route records of each concrete type, stays in the [`JobGraph`]
//! (see [`crate::graph::LocalOperators`]). [`crate::plan::PhysicalPlan`] is computed from a
//! topology alone.
//!
//! Building a topology validates what can be validated before anything runs: parallelism
//! and max parallelism in range, keyed operators within their key groups, and uids that
//! are unique, also after they are made safe for file names, so that no two operators
//! could ever write or restore the same state.

use crate::graph::{JobGraph, NodeArity, NodeId, OutputSlot};
use crate::partition::Partitioning;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use strom_core::{Result, StromError};
use strom_types::key_group::UPPER_BOUND_MAX_PARALLELISM;

/// How an edge distributes records, without the key selector: Flink's ship strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShipStrategy {
    /// Not set by the user: forward when the parallelism matches, else rebalance.
    Default,
    /// Subtask `i` to subtask `i`.
    Forward,
    /// Round robin over all consumers.
    Rebalance,
    /// Round robin over a local subset of consumers.
    Rescale,
    /// Every record to every consumer.
    Broadcast,
    /// Every record to consumer 0.
    Global,
    /// By key group of the record's key.
    Hash,
}

impl ShipStrategy {
    /// The strategy of a declared partitioning.
    pub fn of(p: &Partitioning) -> ShipStrategy {
        match p {
            Partitioning::Default => ShipStrategy::Default,
            Partitioning::Forward => ShipStrategy::Forward,
            Partitioning::Rebalance => ShipStrategy::Rebalance,
            Partitioning::Rescale => ShipStrategy::Rescale,
            Partitioning::Broadcast => ShipStrategy::Broadcast,
            Partitioning::Global => ShipStrategy::Global,
            Partitioning::KeyGroups(_) => ShipStrategy::Hash,
        }
    }

    /// Flink's name for it, as in `getExecutionPlan` (`FORWARD`, `HASH`, …).
    pub fn flink_name(self) -> &'static str {
        match self {
            ShipStrategy::Default => "DEFAULT",
            ShipStrategy::Forward => "FORWARD",
            ShipStrategy::Rebalance => "REBALANCE",
            ShipStrategy::Rescale => "RESCALE",
            ShipStrategy::Broadcast => "BROADCAST",
            ShipStrategy::Global => "GLOBAL",
            ShipStrategy::Hash => "HASH",
        }
    }

    /// Whether each producer talks to only some consumers (forward, rescale).
    pub fn is_pointwise(self) -> bool {
        matches!(self, ShipStrategy::Forward | ShipStrategy::Rescale)
    }
}

/// An edge into one input of an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyEdge {
    /// The producing operator.
    pub from: NodeId,
    /// Which of its outputs.
    pub slot: OutputSlot,
    /// How records are distributed, as declared.
    pub strategy: ShipStrategy,
    /// The consumer's input index (1 is the second input of a two-input operator).
    pub input: usize,
}

/// A side output an operator declares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologySideOutput {
    /// The tag's id (derived from its name).
    pub tag_id: u64,
    /// The tag's name.
    pub name: String,
    /// The record type's Rust name.
    pub type_name: String,
}

/// One operator of the job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopologyNode {
    /// Its id: its index, in topological order.
    pub id: NodeId,
    /// Its name, shown in plans, metrics and errors.
    pub name: String,
    /// The uid its state is matched by: the user's, or one made of id and name.
    pub uid: String,
    /// Whether the user set the uid.
    pub uid_set: bool,
    /// Source, one input or two inputs.
    pub arity: NodeArity,
    /// Parallelism, resolved against the job's default.
    pub parallelism: usize,
    /// Max parallelism (number of key groups), resolved against the job's default.
    pub max_parallelism: usize,
    /// Its input edges.
    pub inputs: Vec<TopologyEdge>,
    /// The main output's record type, `None` for sinks.
    pub output_type: Option<String>,
    /// Declared side outputs.
    pub side_outputs: Vec<TopologySideOutput>,
    /// Never chained to its input.
    pub start_new_chain: bool,
    /// Nothing chained to its output.
    pub disable_chaining: bool,
    /// For sources: records per second over all subtasks.
    pub rate_limit: Option<f64>,
}

impl TopologyNode {
    /// Whether the operator reads a keyed stream (it owns key groups).
    pub fn is_keyed(&self) -> bool {
        self.inputs.iter().any(|e| e.strategy == ShipStrategy::Hash)
    }

    /// Whether the operator is a sink (no main output and no side outputs).
    pub fn is_sink(&self) -> bool {
        self.output_type.is_none() && self.side_outputs.is_empty()
    }
}

/// The job-wide defaults a topology resolves operators against.
#[derive(Clone, Copy, Debug)]
pub struct TopologyDefaults {
    /// Parallelism of operators that do not set one.
    pub parallelism: usize,
    /// Max parallelism of operators that do not set one.
    pub max_parallelism: usize,
}

/// What a job is: its operators and edges, as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// The operators in topological order (inputs have smaller ids).
    pub nodes: Vec<TopologyNode>,
}

/// A uid made safe as part of a file name: what the state files of the operator are named
/// by. Distinct uids must stay distinct after this; [`Topology::of`] checks it.
pub fn sanitize_uid(uid: &str) -> String {
    uid.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Topology {
    /// The topology of `graph`, with parallelism resolved against `defaults`, validated.
    pub fn of(graph: &JobGraph, defaults: TopologyDefaults) -> Result<Topology> {
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
        let parallelism: Vec<usize> = graph
            .nodes
            .iter()
            .map(|n| n.parallelism.unwrap_or(defaults.parallelism))
            .collect();
        let mut nodes = Vec::with_capacity(n);
        for (id, node) in graph.nodes.iter().enumerate() {
            let mut inputs = Vec::with_capacity(node.inputs.len());
            for e in &node.inputs {
                if e.from >= id {
                    return Err(StromError::Internal(
                        "job graph is not topologically ordered".into(),
                    ));
                }
                inputs.push(TopologyEdge {
                    from: e.from,
                    slot: e.slot,
                    strategy: ShipStrategy::of(&e.partitioning),
                    input: e.input,
                });
            }
            nodes.push(TopologyNode {
                id,
                name: node.name.clone(),
                uid: node
                    .uid
                    .clone()
                    .unwrap_or_else(|| format!("{id}-{}", node.name)),
                uid_set: node.uid.is_some(),
                arity: node.builder.arity(),
                parallelism: parallelism[id],
                max_parallelism: node.max_parallelism.unwrap_or(defaults.max_parallelism),
                inputs,
                output_type: node.output.as_ref().map(|t| t.type_name().to_string()),
                side_outputs: node
                    .side_outputs
                    .iter()
                    .map(|s| TopologySideOutput {
                        tag_id: s.tag_id,
                        name: s.name.clone(),
                        type_name: s.ty.type_name().to_string(),
                    })
                    .collect(),
                start_new_chain: node.start_new_chain,
                disable_chaining: node.disable_chaining,
                rate_limit: node.rate_limit,
            });
        }
        let topology = Topology { nodes };
        topology.validate()?;
        Ok(topology)
    }

    /// Check parallelism, key groups and uids; every message says what to change.
    pub fn validate(&self) -> Result<()> {
        for node in &self.nodes {
            let (p, m) = (node.parallelism, node.max_parallelism);
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
            if node.is_keyed() && p > m {
                return Err(StromError::InvalidJob(format!(
                    "keyed operator '{}' has parallelism {p} above its max parallelism {m} (the number of key groups); raise max_parallelism or lower the parallelism",
                    node.name
                )));
            }
        }
        self.validate_uids()
    }

    /// Reject two operators with the same uid, or with uids that name the same state files.
    fn validate_uids(&self) -> Result<()> {
        let mut seen: HashMap<String, &TopologyNode> = HashMap::new();
        for node in &self.nodes {
            let file_name = sanitize_uid(&node.uid);
            if let Some(other) = seen.insert(file_name.clone(), node) {
                let how = |n: &TopologyNode| {
                    if n.uid_set {
                        format!("'{}' (uid \"{}\")", n.name, n.uid)
                    } else {
                        format!("'{}' (generated uid \"{}\")", n.name, n.uid)
                    }
                };
                let problem = if other.uid == node.uid {
                    "have the same uid".to_string()
                } else {
                    format!("have uids that collide as state file name \"{file_name}\"")
                };
                return Err(StromError::InvalidJob(format!(
                    "operators {} and {} {problem}; give each operator a uid of its own (letters, digits, '-' and '_' are kept in file names, other characters become '_')",
                    how(other),
                    how(node)
                )));
            }
        }
        Ok(())
    }

    /// A 128-bit fingerprint of the whole topology, as 32 hex digits: equal for the same
    /// program built twice, different when an operator, edge, parallelism, uid, type or
    /// chaining flag changes.
    pub fn fingerprint(&self) -> String {
        // serde_json of plain data is deterministic (struct fields in declaration order).
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        format!("{:032x}", fnv1a_128(&bytes))
    }
}

/// FNV-1a over 128 bits: a small, stable, dependency-free hash for fingerprints (not for
/// anything adversarial).
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_128_known_values() {
        // FNV-1a 128 of "" is its offset basis; "a" as published with the algorithm.
        assert_eq!(fnv1a_128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn sanitize_keeps_safe_characters() {
        assert_eq!(sanitize_uid("a-b_C9"), "a-b_C9");
        assert_eq!(sanitize_uid("a.b"), "a_b");
        assert_eq!(sanitize_uid("a b"), "a_b");
    }
}
