//! Running the NFA over one key's events (Flink's `NFA` and `NFAState`).
//!
//! A *run* (Flink's `ComputationState`) is an NFA state plus the shared-buffer node of the
//! run's last take. Every event is offered to every run: the run follows the proceed edges
//! whose conditions hold, and each take or ignore edge reached creates a run of its own
//! (the start state always stays, so that every event can begin a match). Runs that reach
//! the final state are matches; a run that reaches a stop state discards every run it
//! produced for that event. Matches are emitted in the order of their first event, after
//! the skip strategy has pruned overlapping runs.
//!
//! [`NfaRuns`] is the per-key state: the live runs, matches held back by a skip strategy,
//! and the shared buffer. It is plain data (serde), so that it lives in keyed state and
//! checkpoints with it.

use crate::CepError;
use crate::buffer::{EventIdx, NodeIdx, SharedBuffer};
use crate::compiler::{Action, Nfa, StateId, StateKind};
use crate::condition::Context;
use crate::matches::Match;
use crate::queue::JavaHeap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A run: where it is in the NFA and what it has taken (Flink's `ComputationState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Run {
    state: StateId,
    node: Option<NodeIdx>,
    start_ts: i64,
    previous_ts: i64,
    /// Sequence number of the run's first event; `None` for the start run.
    start_event: Option<u64>,
}

impl Run {
    fn start(state: StateId) -> Self {
        Run {
            state,
            node: None,
            start_ts: -1,
            previous_ts: -1,
            start_event: None,
        }
    }
    /// Priority: by first event, the start run last (Flink's
    /// `COMPUTATION_STATE_COMPARATOR`; ties are ordered by the heap, as in Flink).
    fn order(&self) -> u64 {
        self.start_event.unwrap_or(u64::MAX)
    }
}

/// The NFA state of one key: live runs, completed matches waiting for earlier runs (skip
/// strategies) and the shared buffer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
pub(crate) struct NfaRuns<T> {
    partial: JavaHeap<Run>,
    completed: JavaHeap<Run>,
    buffer: SharedBuffer<T>,
}

/// An edge an event reaches: action, source, target, and for a take the final state the
/// run could proceed to.
type Edge = (Action, StateId, StateId, Option<StateId>);

/// Vectors `process` needs for every event, kept (per operator, in [`Output`], not per
/// key) so that a steady stream allocates none.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    runs: JavaHeap<Run>,
    next: Vec<Run>,
    retain: Vec<Run>,
    edges: Vec<Edge>,
    stack: Vec<StateId>,
    final_stack: Vec<StateId>,
}

/// What processing an event or advancing time produced.
pub(crate) struct Output<T> {
    /// Matches, in emission order.
    pub(crate) matches: Vec<Match<T>>,
    /// Timed-out partial matches with their timeout time.
    pub(crate) timeouts: Vec<(Match<T>, i64)>,
    /// Working vectors, reused from call to call.
    scratch: Scratch,
}

impl<T> Default for Output<T> {
    fn default() -> Self {
        Output {
            matches: Vec::new(),
            timeouts: Vec::new(),
            scratch: Scratch::default(),
        }
    }
}

impl<T> Output<T> {
    /// An empty output that works with `scratch` (kept by the caller between calls).
    pub(crate) fn with_scratch(scratch: Scratch) -> Self {
        Output {
            scratch,
            ..Output::default()
        }
    }

    /// The working vectors, to keep for the next call.
    pub(crate) fn into_scratch(self) -> Scratch {
        self.scratch
    }
}

impl<T: Clone> NfaRuns<T> {
    /// The initial state: the start run only.
    pub(crate) fn new(nfa: &Nfa<T>) -> Self {
        let mut partial = JavaHeap::new();
        partial.push(Run::start(nfa.start), Run::order);
        NfaRuns {
            partial,
            completed: JavaHeap::new(),
            buffer: SharedBuffer::default(),
        }
    }

    /// Whether nothing but the start run is left (the key's state can be dropped).
    pub(crate) fn is_idle(&self) -> bool {
        self.partial.len() <= 1 && self.completed.is_empty() && self.buffer.is_empty()
    }

    /// Number of live partial matches (without the start run).
    #[cfg(test)]
    pub(crate) fn live_runs(&self) -> usize {
        self.partial
            .iter()
            .filter(|r| r.start_event.is_some())
            .count()
    }

    /// (events, nodes) in the shared buffer.
    #[cfg(test)]
    pub(crate) fn buffer_sizes(&self) -> (usize, usize) {
        self.buffer.sizes()
    }

    /// The earliest time at which a live run times out, if the pattern has windows.
    pub(crate) fn next_timeout(&self, nfa: &Nfa<T>) -> Option<i64> {
        self.partial
            .iter()
            .filter(|r| nfa.kind(r.state) != StateKind::Start)
            .filter_map(|r| {
                let first = nfa.window.map(|w| r.start_ts.saturating_add(w));
                let prev = nfa.state_windows[r.state as usize]
                    .filter(|w| *w > 0)
                    .map(|w| r.previous_ts.saturating_add(w));
                match (first, prev) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .min()
    }

    fn materialize(&self, nfa: &Nfa<T>, node: Option<NodeIdx>) -> Match<T> {
        Match::group(self.buffer.path(node).into_iter().filter_map(|(s, e, _)| {
            let event = self.buffer.event(e)?.clone();
            Some((Arc::clone(&nfa.stage_names[s as usize]), event))
        }))
    }

    /// Offer `event` (timestamp `ts`, the key's `seq`-th event) to every run.
    pub(crate) fn process(
        &mut self,
        nfa: &Nfa<T>,
        event: T,
        ts: i64,
        seq: u64,
        processing_time: i64,
        out: &mut Output<T>,
    ) -> Result<(), CepError> {
        let ev = self.buffer.add_event(event, seq);
        let mut runs = std::mem::take(&mut self.partial);
        let mut partial = std::mem::take(&mut out.scratch.runs);
        let mut next = std::mem::take(&mut out.scratch.next);
        let mut retain = std::mem::take(&mut out.scratch.retain);
        partial.clear();
        let mut potential = JavaHeap::new();
        for run in runs.drain() {
            next.clear();
            self.next_runs(
                nfa,
                &run,
                (ev, ts, seq),
                processing_time,
                &mut out.scratch,
                &mut next,
            );
            let mut discard = false;
            retain.clear();
            for n in next.drain(..) {
                match nfa.kind(n.state) {
                    StateKind::Final => potential.push(n, Run::order),
                    StateKind::Stop => {
                        discard = true;
                        self.buffer.release(n.node);
                    }
                    _ => retain.push(n),
                }
            }
            if discard {
                for r in retain.drain(..) {
                    self.buffer.release(r.node);
                }
            } else {
                for r in retain.drain(..) {
                    partial.push(r, Run::order);
                }
            }
        }
        out.scratch.runs = runs;
        out.scratch.next = next;
        out.scratch.retain = retain;
        let result = self.emit_matches(nfa, potential, &mut partial, out);
        self.partial = partial;
        self.buffer.release_if_unused(ev);
        result
    }

    /// The runs `run` turns into on the event (Flink's `computeNextStates`).
    fn next_runs(
        &mut self,
        nfa: &Nfa<T>,
        run: &Run,
        (ev, ts, seq): (EventIdx, i64, u64),
        processing_time: i64,
        scratch: &mut Scratch,
        next: &mut Vec<Run>,
    ) {
        // Decide with the buffer read-only: which take/ignore edges the event reaches, and
        // for each take whether the run could then proceed to the final state.
        let mut edges = std::mem::take(&mut scratch.edges);
        let mut stack = std::mem::take(&mut scratch.stack);
        let mut final_stack = std::mem::take(&mut scratch.final_stack);
        edges.clear();
        if let Some(event) = self.buffer.event(ev) {
            let ctx = Context::new(
                &self.buffer,
                run.node,
                &nfa.stage_names,
                ts,
                processing_time,
            );
            stack.clear();
            stack.push(run.state);
            while let Some(s) = stack.pop() {
                for t in &nfa.states[s as usize].transitions {
                    if t.condition.test(event, &ctx) {
                        match t.action {
                            Action::Proceed => stack.push(t.target),
                            Action::Ignore => edges.push((t.action, t.source, t.target, None)),
                            Action::Take => {
                                let fin = final_after_proceed(
                                    nfa,
                                    t.target,
                                    event,
                                    &ctx,
                                    &mut final_stack,
                                );
                                edges.push((t.action, t.source, t.target, fin));
                            }
                        }
                    }
                }
            }
        }
        scratch.stack = stack;
        scratch.final_stack = final_stack;
        let from_start = nfa.kind(run.state) == StateKind::Start;
        for &(action, source, target, fin) in &edges {
            match action {
                Action::Ignore => {
                    if !from_start {
                        self.buffer.lock(run.node);
                        next.push(Run {
                            state: target,
                            ..*run
                        });
                    }
                }
                Action::Take => {
                    let stage = nfa.states[source as usize].stage;
                    let node = self.buffer.put(stage, ev, run.node);
                    let (start_ts, start_event) = if from_start {
                        (ts, Some(seq))
                    } else {
                        (run.start_ts, run.start_event)
                    };
                    let taken = Run {
                        state: target,
                        node: Some(node),
                        start_ts,
                        previous_ts: ts,
                        start_event,
                    };
                    self.buffer.lock(taken.node);
                    next.push(taken);
                    if let Some(f) = fin {
                        self.buffer.lock(taken.node);
                        next.push(Run { state: f, ..taken });
                    }
                }
                Action::Proceed => {}
            }
        }
        if from_start {
            next.push(Run::start(run.state));
        }
        self.buffer.release(run.node);
        scratch.edges = edges;
    }

    /// Emit the completed matches that no earlier run can precede, pruning per the skip
    /// strategy (Flink's `processMatchesAccordingToSkipStrategy`).
    fn emit_matches(
        &mut self,
        nfa: &Nfa<T>,
        potential: JavaHeap<Run>,
        partial: &mut JavaHeap<Run>,
        out: &mut Output<T>,
    ) -> Result<(), CepError> {
        for r in potential.iter() {
            self.completed.push(*r, Run::order);
        }
        while let Some(earliest) = self.completed.peek().copied() {
            if nfa.skip.is_skip() && partial.peek().is_some_and(|p| earliest.order() > p.order()) {
                break;
            }
            self.completed.pop(Run::order);
            let path = self.buffer.path(earliest.node);
            let pruning = nfa.skip.pruning_event(
                path.iter()
                    .map(|(s, _, seq)| (&*nfa.stage_names[*s as usize], *seq)),
            )?;
            if let Some(p) = pruning {
                for heap in [&mut *partial, &mut self.completed] {
                    let buffer = &mut self.buffer;
                    heap.remove_where(
                        |r| match r.start_event {
                            Some(start) if nfa.skip.prunes(start, p) => {
                                buffer.release(r.node);
                                true
                            }
                            _ => false,
                        },
                        Run::order,
                    );
                }
            }
            out.matches.push(self.materialize(nfa, earliest.node));
            self.buffer.release(earliest.node);
        }
        Ok(())
    }

    /// No event before `ts` will come any more: time out runs whose window passed (and
    /// complete pending ones), Flink's `NFA.advanceTime`.
    pub(crate) fn advance_time(
        &mut self,
        nfa: &Nfa<T>,
        ts: i64,
        out: &mut Output<T>,
    ) -> Result<(), CepError> {
        if nfa.window.is_none() && nfa.state_windows.iter().all(Option::is_none) {
            return Ok(());
        }
        // Nothing times out: keep the heap as it is (re-inserting a heap's array in order,
        // as Flink does here, rebuilds the same array).
        if self.next_timeout(nfa).is_none_or(|t| t > ts) {
            return Ok(());
        }
        let mut runs = std::mem::take(&mut self.partial);
        let mut partial = std::mem::take(&mut out.scratch.runs);
        partial.clear();
        let mut potential = JavaHeap::new();
        for run in runs.drain() {
            let kind = nfa.kind(run.state);
            if kind == StateKind::Start {
                partial.push(run, Run::order);
                continue;
            }
            let previous = nfa.state_windows[run.state as usize]
                .filter(|w| *w > 0 && ts.saturating_sub(run.previous_ts) >= *w);
            let first = nfa.window.filter(|w| ts.saturating_sub(run.start_ts) >= *w);
            if previous.is_none() && first.is_none() {
                partial.push(run, Run::order);
            } else if kind == StateKind::Pending {
                potential.push(run, Run::order);
            } else {
                let at = match (previous, first) {
                    (Some(w), _) => run.previous_ts.saturating_add(w),
                    (None, Some(w)) => run.start_ts.saturating_add(w),
                    (None, None) => ts,
                };
                out.timeouts.push((self.materialize(nfa, run.node), at));
                self.buffer.release(run.node);
            }
        }
        let result = self.emit_matches(nfa, potential, &mut partial, out);
        self.partial = partial;
        out.scratch.runs = runs;
        result
    }
}

/// A final state reachable from `state` over proceed edges whose conditions hold.
fn final_after_proceed<T>(
    nfa: &Nfa<T>,
    state: StateId,
    event: &T,
    ctx: &Context<'_, T>,
    stack: &mut Vec<StateId>,
) -> Option<StateId> {
    stack.clear();
    stack.push(state);
    while let Some(s) = stack.pop() {
        for t in &nfa.states[s as usize].transitions {
            if t.action == Action::Proceed && t.condition.test(event, ctx) {
                if nfa.kind(t.target) == StateKind::Final {
                    return Some(t.target);
                }
                stack.push(t.target);
            }
        }
    }
    None
}
