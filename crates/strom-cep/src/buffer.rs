//! The shared buffer: the events of all live partial matches of one key, each stored once.
//!
//! Flink's `SharedBuffer` keeps a DAG of (event, stage) nodes whose edges carry Dewey
//! version numbers, so that one node can serve several runs. Here every take of an event
//! creates a node that points to the node of the previous take of its run: the nodes form
//! a tree whose root-ward paths are exactly the partial matches, and runs that share a
//! prefix share its nodes. A partial match is therefore a single node index, extending it
//! is O(1), and reading it back is a walk to the root; no version numbers are needed.
//!
//! Memory stays linear in the live partial matches: nodes and events are reference
//! counted (a node by the computation states and child nodes that point to it, an event by
//! the nodes that took it) and are freed as soon as the last partial match that contains
//! them completes, times out or is discarded. Freed slots are reused, so a steady stream
//! allocates nothing once the buffer has grown to its working size.

use serde::{Deserialize, Serialize};

/// Index of a node in the buffer.
pub(crate) type NodeIdx = u32;
/// Index of an event in the buffer.
pub(crate) type EventIdx = u32;

/// A slab: values addressed by index, freed slots reused.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "V: Serialize", deserialize = "V: Deserialize<'de>"))]
struct Slab<V> {
    slots: Vec<Option<V>>,
    free: Vec<u32>,
}

impl<V> Default for Slab<V> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<V> Slab<V> {
    fn insert(&mut self, v: V) -> u32 {
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = Some(v);
            i
        } else {
            self.slots.push(Some(v));
            u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
        }
    }
    fn remove(&mut self, i: u32) -> Option<V> {
        let v = self.slots.get_mut(i as usize)?.take();
        if v.is_some() {
            self.free.push(i);
        }
        v
    }
    fn get(&self, i: u32) -> Option<&V> {
        self.slots.get(i as usize)?.as_ref()
    }
    fn get_mut(&mut self, i: u32) -> Option<&mut V> {
        self.slots.get_mut(i as usize)?.as_mut()
    }
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// A buffered event.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct EventEntry<T> {
    event: T,
    /// Its position in the key's processing order (Flink's `EventId`).
    seq: u64,
    /// Number of nodes that took it.
    refs: u32,
}

/// One take of an event by a stage.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Node {
    event: EventIdx,
    /// The stage (index into the NFA's stage names).
    stage: u16,
    /// The node of the run's previous take.
    prev: Option<NodeIdx>,
    /// Computation states and child nodes pointing here.
    refs: u32,
}

/// The events and takes of one key's live partial matches.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
pub(crate) struct SharedBuffer<T> {
    events: Slab<EventEntry<T>>,
    nodes: Slab<Node>,
}

impl<T> Default for SharedBuffer<T> {
    fn default() -> Self {
        SharedBuffer {
            events: Slab::default(),
            nodes: Slab::default(),
        }
    }
}

impl<T> SharedBuffer<T> {
    /// Whether no event is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.len() == 0 && self.nodes.len() == 0
    }

    /// Number of buffered events and nodes (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.events.len(), self.nodes.len())
    }

    /// Add an event that no node has taken yet; [`release_if_unused`] drops it again when
    /// no partial match takes it.
    ///
    /// [`release_if_unused`]: SharedBuffer::release_if_unused
    pub(crate) fn add_event(&mut self, event: T, seq: u64) -> EventIdx {
        self.events.insert(EventEntry {
            event,
            seq,
            refs: 0,
        })
    }

    /// Drop `event` if no node took it.
    pub(crate) fn release_if_unused(&mut self, event: EventIdx) {
        if self.events.get(event).is_some_and(|e| e.refs == 0) {
            self.events.remove(event);
        }
    }

    /// The event at `idx`.
    pub(crate) fn event(&self, idx: EventIdx) -> Option<&T> {
        self.events.get(idx).map(|e| &e.event)
    }

    /// Record that `stage` took `event` after the run's previous take `prev`; the new
    /// node starts with no references (lock it for every computation state that holds it).
    pub(crate) fn put(&mut self, stage: u16, event: EventIdx, prev: Option<NodeIdx>) -> NodeIdx {
        if let Some(p) = prev
            && let Some(n) = self.nodes.get_mut(p)
        {
            n.refs += 1;
        }
        if let Some(e) = self.events.get_mut(event) {
            e.refs += 1;
        }
        self.nodes.insert(Node {
            event,
            stage,
            prev,
            refs: 0,
        })
    }

    /// A computation state now holds `node`.
    pub(crate) fn lock(&mut self, node: Option<NodeIdx>) {
        if let Some(n) = node.and_then(|n| self.nodes.get_mut(n)) {
            n.refs += 1;
        }
    }

    /// A computation state let go of `node`: free it, and then its ancestors and events,
    /// as far as nothing else points to them.
    pub(crate) fn release(&mut self, node: Option<NodeIdx>) {
        let mut next = node;
        while let Some(idx) = next {
            let Some(n) = self.nodes.get_mut(idx) else {
                return;
            };
            n.refs = n.refs.saturating_sub(1);
            if n.refs > 0 {
                return;
            }
            let n = *n;
            self.nodes.remove(idx);
            if let Some(e) = self.events.get_mut(n.event) {
                e.refs = e.refs.saturating_sub(1);
                if e.refs == 0 {
                    self.events.remove(n.event);
                }
            }
            next = n.prev;
        }
    }

    /// The takes of the run ending at `node`, first to last: (stage, event index, event
    /// sequence number).
    pub(crate) fn path(&self, node: Option<NodeIdx>) -> Vec<(u16, EventIdx, u64)> {
        let mut out = Vec::new();
        let mut next = node;
        while let Some(n) = next.and_then(|i| self.nodes.get(i)) {
            let seq = self.events.get(n.event).map_or(0, |e| e.seq);
            out.push((n.stage, n.event, seq));
            next = n.prev;
        }
        out.reverse();
        out
    }

    /// The run ending at `node` as (stage, event) pairs, first to last.
    pub(crate) fn path_events(&self, node: Option<NodeIdx>) -> Vec<(u16, &T)> {
        let mut out = Vec::new();
        let mut next = node;
        while let Some(n) = next.and_then(|i| self.nodes.get(i)) {
            if let Some(e) = self.events.get(n.event) {
                out.push((n.stage, &e.event));
            }
            next = n.prev;
        }
        out.reverse();
        out
    }
}
