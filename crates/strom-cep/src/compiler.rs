//! Compiling a [`Pattern`] into an NFA (Flink's `NFACompiler`).
//!
//! The NFA has one state per stage and quantifier step, and three kinds of edges:
//! *take* (the event joins the match and the run moves on), *ignore* (the event is
//! skipped and the run stays or moves) and *proceed* (an ε-edge, followed while deciding
//! what to do with an event). The pattern is compiled from its last stage backwards, so
//! that every stage knows the state it leads to. The construction follows Flink's compiler
//! step for step, so that matches, their order and the effect of greedy, optional,
//! `until` and NOT stages are Flink's:
//!
//! - a *looping* stage is a state with a take edge to itself and a proceed edge to what
//!   follows; `times(n)` unrolls into `n` states, `times(from, to)` adds `to - from`
//!   optional ones;
//! - relaxed contiguity adds ignore edges (for `followed_by` only on events the stage's
//!   condition rejects, for `followed_by_any` on every event), in an extra state so that
//!   an optional stage proceeds only once;
//! - `not_next` and `not_followed_by` become *stop* states that end the run, and a
//!   `not_followed_by` at the end of a windowed pattern a *pending* state that completes
//!   the match when the window passes;
//! - `greedy` removes the next stage's edges on events the loop can still take; `until`
//!   guards a loop's edges.

use crate::CepError;
use crate::condition::{Cond, Condition};
use crate::pattern::{Consuming, Pattern, QuantifierKind, Stage, StageKind};
use crate::skip::AfterMatchSkipStrategy;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Index of an NFA state.
pub(crate) type StateId = u32;

/// The name of the NFA's final state.
const ENDING_STATE_NAME: &str = "$endState$";

/// What an NFA state is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StateKind {
    /// Where every run begins; it never ends.
    Start,
    /// An intermediate state.
    Normal,
    /// A run that gets here is a match.
    Final,
    /// A run that gets here is discarded (a NOT stage saw its event).
    Stop,
    /// A run that gets here is a match once its window passes (trailing
    /// `not_followed_by`).
    Pending,
}

/// What an edge does with the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// The event joins the match.
    Take,
    /// The event is skipped.
    Ignore,
    /// ε: move on without consuming the event.
    Proceed,
}

/// An edge.
pub(crate) struct Transition<T> {
    pub(crate) action: Action,
    pub(crate) source: StateId,
    pub(crate) target: StateId,
    pub(crate) condition: Cond<T>,
}

impl<T> Clone for Transition<T> {
    fn clone(&self) -> Self {
        Transition {
            action: self.action,
            source: self.source,
            target: self.target,
            condition: Arc::clone(&self.condition),
        }
    }
}

/// An NFA state.
pub(crate) struct State<T> {
    /// Unique internal name (`stage`, `stage:0`, `stage:1`, …).
    pub(crate) name: String,
    /// The stage it belongs to (index into [`Nfa::stage_names`]).
    pub(crate) stage: u16,
    pub(crate) kind: StateKind,
    pub(crate) transitions: Vec<Transition<T>>,
}

/// A compiled pattern.
pub(crate) struct Nfa<T> {
    pub(crate) states: Vec<State<T>>,
    pub(crate) start: StateId,
    /// The `FirstAndLast` window (ms), if any.
    pub(crate) window: Option<i64>,
    /// Per state: the `PreviousAndCurrent` window (ms) for runs waiting in it.
    pub(crate) state_windows: Vec<Option<i64>>,
    /// Stage names by index (what matches are keyed by).
    pub(crate) stage_names: Vec<Arc<str>>,
    pub(crate) skip: AfterMatchSkipStrategy,
}

impl<T> Nfa<T> {
    pub(crate) fn kind(&self, s: StateId) -> StateKind {
        self.states[s as usize].kind
    }
}

/// Compile `pattern`, or say what is wrong with it.
pub(crate) fn compile<T>(pattern: &Pattern<T>) -> Result<Nfa<T>, CepError> {
    if let Some(e) = &pattern.error {
        return Err(CepError::Malformed(e.clone()));
    }
    check_names(pattern)?;
    if let Some(stage) = pattern.skip.stage()
        && !pattern.stages.iter().any(|s| s.name() == stage)
    {
        return Err(CepError::Malformed(format!(
            "the after-match skip strategy names stage '{stage}', which the pattern does not have (at its top level)"
        )));
    }
    let mut c = Compiler {
        states: Vec::new(),
        names: Vec::new(),
        used: HashSet::new(),
        stop_states: HashMap::new(),
        window: None,
        state_windows: Vec::new(),
        seq: &pattern.stages,
        idx: pattern.stages.len() - 1,
        following: None,
        group: None,
        first_of_loop: HashMap::new(),
        original_state_map: HashMap::new(),
    };
    let last = &pattern.stages[pattern.stages.len() - 1];
    let end = c.create_state(ENDING_STATE_NAME, StateKind::Final);
    c.window = last.window;
    let sink = c.create_middle_states(end);
    let start = c.convert_pattern(sink);
    c.states[start as usize].kind = StateKind::Start;
    if let Some(w) = c.window
        && let Some(bigger) = c.state_windows.iter().flatten().find(|p| **p > w)
    {
        return Err(CepError::Malformed(format!(
            "a PreviousAndCurrent window ({bigger} ms) is larger than the pattern's FirstAndLast window ({w} ms)"
        )));
    }
    if last.quantifier.consuming == Consuming::NotFollow
        && last.window_previous.is_none()
        && c.window.is_none()
    {
        return Err(CepError::Malformed(format!(
            "not_followed_by('{}') as the last stage needs a window: add within(…)",
            last.name()
        )));
    }
    c.state_windows.resize(c.states.len(), None);
    Ok(Nfa {
        states: c.states,
        start,
        window: c.window.filter(|w| *w > 0),
        state_windows: c.state_windows,
        stage_names: c.names,
        skip: pattern.skip.clone(),
    })
}

fn check_names<T>(pattern: &Pattern<T>) -> Result<(), CepError> {
    fn walk<T>(stages: &[Stage<T>], seen: &mut HashSet<String>) -> Result<(), CepError> {
        for s in stages {
            match &s.kind {
                StageKind::Single(n) => {
                    if !seen.insert(n.to_string()) {
                        return Err(CepError::Malformed(format!(
                            "duplicate stage name '{n}': names must be unique"
                        )));
                    }
                }
                StageKind::Group(g) => walk(&g.stages, seen)?,
            }
        }
        Ok(())
    }
    let mut seen = HashSet::from([ENDING_STATE_NAME.to_string()]);
    walk(&pattern.stages, &mut seen)
}

/// The compiler's working state; the cursor (`seq`, `idx`, `following`, `group`) walks
/// the pattern backwards like Flink's `currentPattern`/`followingPattern`.
struct Compiler<'p, T> {
    states: Vec<State<T>>,
    names: Vec<Arc<str>>,
    used: HashSet<String>,
    stop_states: HashMap<String, StateId>,
    window: Option<i64>,
    state_windows: Vec<Option<i64>>,
    seq: &'p [Stage<T>],
    idx: usize,
    following: Option<&'p Stage<T>>,
    group: Option<&'p Stage<T>>,
    first_of_loop: HashMap<*const Stage<T>, bool>,
    original_state_map: HashMap<StateId, StateId>,
}

/// Where the compiler is: the stage sequence, the current stage's index in it, the stage
/// after it and the group it is in.
type Cursor<'p, T> = (
    &'p [Stage<T>],
    usize,
    Option<&'p Stage<T>>,
    Option<&'p Stage<T>>,
);

/// `until` folded into a condition: `!until && cond`; for a take edge without a
/// condition, `!until`.
fn extend_with_until<T>(
    cond: Option<Cond<T>>,
    until: Option<&Cond<T>>,
    is_take: bool,
) -> Option<Cond<T>> {
    match (cond, until) {
        (Some(c), Some(u)) => Some(Condition::and(&Condition::not(u), &c)),
        (None, Some(u)) if is_take => Some(Condition::not(u)),
        (c, _) => c,
    }
}

impl<'p, T> Compiler<'p, T> {
    fn current(&self) -> &'p Stage<T> {
        &self.seq[self.idx]
    }

    fn stage_index(&mut self, name: &str) -> u16 {
        if let Some(i) = self.names.iter().position(|n| &**n == name) {
            return u16::try_from(i).unwrap_or(u16::MAX);
        }
        self.names.push(Arc::from(name));
        u16::try_from(self.names.len() - 1).unwrap_or(u16::MAX)
    }

    fn create_state(&mut self, name: &str, kind: StateKind) -> StateId {
        let mut internal = name.to_string();
        let mut counter = 0;
        while self.used.contains(&internal) {
            internal = format!("{name}:{counter}");
            counter += 1;
        }
        self.used.insert(internal.clone());
        let stage = self.stage_index(name);
        self.states.push(State {
            name: internal,
            stage,
            kind,
            transitions: Vec::new(),
        });
        StateId::try_from(self.states.len() - 1).unwrap_or(StateId::MAX)
    }

    /// A state of the current stage; a state that takes events carries the stage's
    /// `PreviousAndCurrent` window.
    fn create_stage_state(&mut self, kind: StateKind, is_take: bool) -> StateId {
        let cur = self.current();
        let id = self.create_state(cur.name(), kind);
        if is_take
            && cur.times.is_none()
            && let Some(w) = cur.window_previous
        {
            self.state_windows.resize(self.states.len(), None);
            self.state_windows[id as usize] = Some(w);
        }
        id
    }

    fn add(&mut self, source: StateId, action: Action, target: StateId, condition: Cond<T>) {
        self.states[source as usize].transitions.push(Transition {
            action,
            source,
            target,
            condition,
        });
    }

    fn true_function(&self) -> Cond<T> {
        let until = self.group.and_then(|g| g.until.as_ref());
        extend_with_until(Some(Condition::truth()), until, true).unwrap_or_else(Condition::truth)
    }

    fn take_condition(&self, stage: &Stage<T>) -> Cond<T> {
        let until = self.group.and_then(|g| g.until.as_ref());
        extend_with_until(Some(stage.condition()), until, true).unwrap_or_else(Condition::truth)
    }

    fn head_of_group(&self) -> bool {
        self.group.is_some() && self.idx == 0
    }

    fn group_first_of_loop(&self) -> bool {
        self.group
            .and_then(|g| self.first_of_loop.get(&(g as *const Stage<T>)).copied())
            .unwrap_or(true)
    }

    fn set_first_of_loop(&mut self, v: bool) {
        let cur = self.current();
        if matches!(cur.kind, StageKind::Group(_)) {
            self.first_of_loop.insert(cur as *const Stage<T>, v);
        }
    }

    fn is_head_of_optional_group(&self) -> bool {
        self.head_of_group()
            && self.group_first_of_loop()
            && self.group.is_some_and(|g| g.quantifier.optional)
    }

    fn ignore_for(&self, strategy: Consuming, stage: &Stage<T>) -> Option<Cond<T>> {
        let c = match strategy {
            Consuming::Strict | Consuming::NotFollow | Consuming::NotNext => None,
            Consuming::SkipTillNext => Some(Condition::not(&stage.condition())),
            Consuming::SkipTillAny => Some(Condition::truth()),
        };
        let until = self.group.and_then(|g| g.until.as_ref());
        extend_with_until(c, until, false)
    }

    fn inner_ignore_condition(&self) -> Option<Cond<T>> {
        let cur = self.current();
        let strategy = match self.group {
            Some(g) if self.head_of_group() => g.quantifier.inner,
            _ => cur.quantifier.inner,
        };
        self.ignore_for(strategy, cur)
    }

    fn ignore_condition(&self) -> Option<Cond<T>> {
        let cur = self.current();
        let strategy = match self.group {
            Some(g) if self.head_of_group() => {
                if self.group_first_of_loop() {
                    g.quantifier.consuming
                } else {
                    g.quantifier.inner
                }
            }
            _ => cur.quantifier.consuming,
        };
        self.ignore_for(strategy, cur)
    }

    /// The NOT conditions that still apply at the current stage: those of
    /// `not_followed_by` stages reachable backwards through optional stages.
    fn current_not_conditions(&self) -> Vec<(Cond<T>, &'p str)> {
        let mut out = Vec::new();
        let mut j = self.idx;
        while j > 0 {
            let prev = &self.seq[j - 1];
            if !(prev.quantifier.optional || prev.quantifier.consuming == Consuming::NotFollow) {
                break;
            }
            j -= 1;
            if prev.quantifier.consuming == Consuming::NotFollow {
                out.push((self.take_condition(prev), prev.name()));
            }
        }
        out
    }

    fn create_stop_state(&mut self, not_condition: Cond<T>, name: &str) -> StateId {
        if let Some(s) = self.stop_states.get(name) {
            return *s;
        }
        let stop = self.create_state(name, StateKind::Stop);
        self.add(stop, Action::Take, stop, not_condition);
        self.stop_states.insert(name.to_string(), stop);
        stop
    }

    fn add_stop_states(&mut self, state: StateId) {
        for (cond, name) in self.current_not_conditions() {
            let stop = self.create_stop_state(Arc::clone(&cond), name);
            self.add(state, Action::Proceed, stop, cond);
        }
    }

    fn add_stop_state_to_looping(&mut self, state: StateId) {
        if let Some(f) = self.following
            && f.quantifier.consuming == Consuming::NotFollow
        {
            let cond = self.take_condition(f);
            let stop = self.create_stop_state(Arc::clone(&cond), f.name());
            self.add(state, Action::Proceed, stop, cond);
        }
    }

    /// A copy of `sink` without the proceed edges to stop states of NOT stages before an
    /// optional current stage: taking an event in the optional stage lifts those NOTs.
    fn copy_without_transitive_nots(&mut self, sink: StateId) -> StateId {
        let nots = self.current_not_conditions();
        if nots.is_empty() || !self.current().quantifier.optional {
            return sink;
        }
        let (name, kind) = {
            let s = &self.states[sink as usize];
            (self.names[s.stage as usize].to_string(), s.kind)
        };
        let copy = self.create_state(&name, kind);
        let transitions = self.states[sink as usize].transitions.clone();
        for t in transitions {
            if t.action == Action::Proceed {
                let mut target = t.target;
                let mut remove = false;
                if self.states[target as usize].kind == StateKind::Stop {
                    remove = nots
                        .iter()
                        .any(|(_, n)| self.states[target as usize].name == *n);
                } else {
                    target = self.copy_without_transitive_nots(t.target);
                }
                if !remove {
                    self.add(copy, Action::Proceed, target, t.condition);
                }
            } else {
                let target = if t.target == t.source { copy } else { t.target };
                self.add(copy, t.action, target, t.condition);
            }
        }
        copy
    }

    fn copy(&mut self, state: StateId) -> StateId {
        let (name, kind) = {
            let s = &self.states[state as usize];
            (self.names[s.stage as usize].to_string(), s.kind)
        };
        let copy = self.create_state(&name, kind);
        for t in self.states[state as usize].transitions.clone() {
            let target = if t.target == t.source { copy } else { t.target };
            self.add(copy, t.action, target, t.condition);
        }
        copy
    }

    fn update_with_greedy_condition(&mut self, state: StateId, take: &Cond<T>) {
        let not_take = Condition::not(take);
        for t in &mut self.states[state as usize].transitions {
            t.condition = Condition::and(&t.condition, &not_take);
        }
    }

    fn create_middle_states(&mut self, sink: StateId) -> StateId {
        let mut last_sink = sink;
        while self.idx > 0 {
            let cur = self.current();
            match cur.quantifier.consuming {
                Consuming::NotFollow => {
                    let windowed = cur.window_previous.is_some() || self.window.unwrap_or(0) > 0;
                    if windowed && self.states[last_sink as usize].kind == StateKind::Final {
                        let pending = self.create_stage_state(StateKind::Pending, true);
                        let not = self.take_condition(cur);
                        let stop = self.create_stop_state(Arc::clone(&not), cur.name());
                        self.add(pending, Action::Proceed, stop, Arc::clone(&not));
                        self.add(pending, Action::Ignore, pending, Condition::not(&not));
                        last_sink = pending;
                    }
                }
                Consuming::NotNext => {
                    let not_next = self.create_stage_state(StateKind::Normal, true);
                    let not = self.take_condition(cur);
                    let stop = self.create_stop_state(Arc::clone(&not), cur.name());
                    let action = if self.states[last_sink as usize].kind == StateKind::Final {
                        Action::Ignore
                    } else {
                        Action::Proceed
                    };
                    self.add(not_next, action, last_sink, Condition::not(&not));
                    self.add(not_next, Action::Proceed, stop, not);
                    last_sink = not_next;
                }
                _ => last_sink = self.convert_pattern(last_sink),
            }
            self.following = Some(cur);
            self.idx -= 1;
            if let Some(w) = self.current().window
                && w < self.window.unwrap_or(i64::MAX)
            {
                self.window = Some(w);
            }
        }
        last_sink
    }

    fn convert_pattern(&mut self, sink: StateId) -> StateId {
        let cur = self.current();
        let last = match cur.quantifier.kind {
            QuantifierKind::Looping => {
                self.set_first_of_loop(false);
                let s = self.copy_without_transitive_nots(sink);
                let looping = self.create_looping(s);
                self.set_first_of_loop(true);
                self.create_times_state(looping, sink, cur.times.unwrap_or((1, 1)))
            }
            QuantifierKind::Times => {
                self.create_times_state(sink, sink, cur.times.unwrap_or((1, 1)))
            }
            QuantifierKind::Single => {
                let take = self.take_condition(cur);
                let ignore = self.ignore_condition();
                self.create_singleton_state(sink, Some(sink), take, ignore, cur.quantifier.optional)
            }
        };
        self.add_stop_states(last);
        last
    }

    fn create_times_state(
        &mut self,
        sink: StateId,
        proceed: StateId,
        (from, to): (u32, u32),
    ) -> StateId {
        let cur = self.current();
        let mut last = sink;
        self.set_first_of_loop(false);
        let until = cur.until.as_ref();
        let inner_ignore = extend_with_until(self.inner_ignore_condition(), until, false);
        let take = extend_with_until(Some(self.take_condition(cur)), until, true)
            .unwrap_or_else(Condition::truth);
        if cur.quantifier.greedy && from != to {
            if until.is_some() {
                let copy = self.copy(sink);
                self.original_state_map.insert(sink, copy);
            }
            self.update_with_greedy_condition(sink, &take);
        }
        for _ in from..to {
            last = self.create_singleton_state(
                last,
                Some(proceed),
                Arc::clone(&take),
                inner_ignore.clone(),
                true,
            );
            self.add_stop_state_to_looping(last);
        }
        for _ in 1..from {
            last = self.create_singleton_state(
                last,
                None,
                Arc::clone(&take),
                inner_ignore.clone(),
                false,
            );
            self.add_stop_state_to_looping(last);
        }
        self.set_first_of_loop(true);
        let ignore = self.ignore_condition();
        self.create_singleton_state(last, Some(proceed), take, ignore, cur.quantifier.optional)
    }

    fn create_singleton_state(
        &mut self,
        sink: StateId,
        proceed: Option<StateId>,
        take: Cond<T>,
        ignore: Option<Cond<T>>,
        optional: bool,
    ) -> StateId {
        let cur = self.current();
        if let StageKind::Group(_) = cur.kind {
            return self.create_group_pattern_state(cur, sink, proceed, optional);
        }
        let single = self.create_stage_state(StateKind::Normal, true);
        let sink = self.copy_without_transitive_nots(sink);
        self.add(single, Action::Take, sink, Arc::clone(&take));
        let proceed_cond = self.true_function();
        if optional && let Some(proceed) = proceed {
            if cur.quantifier.greedy {
                match &cur.until {
                    Some(until) => {
                        if let Some(orig) = self.original_state_map.get(&proceed).copied() {
                            self.add(
                                single,
                                Action::Proceed,
                                orig,
                                Condition::and(&proceed_cond, until),
                            );
                        }
                        let c = Condition::and(&proceed_cond, &Condition::not(until));
                        self.add(single, Action::Proceed, proceed, c);
                    }
                    None => self.add(single, Action::Proceed, proceed, proceed_cond),
                }
            } else {
                self.add(single, Action::Proceed, proceed, proceed_cond);
            }
        }
        if let Some(ignore) = ignore {
            let ignore_state = if optional || self.is_head_of_optional_group() {
                let st = self.create_stage_state(StateKind::Normal, false);
                self.add(st, Action::Take, sink, take);
                self.add(st, Action::Ignore, st, Arc::clone(&ignore));
                self.add_stop_states(st);
                st
            } else {
                single
            };
            self.add(single, Action::Ignore, ignore_state, ignore);
        }
        single
    }

    fn enter_group(&mut self, group: &'p Stage<T>) -> Cursor<'p, T> {
        let saved = (self.seq, self.idx, self.following, self.group);
        if let StageKind::Group(p) = &group.kind {
            self.seq = &p.stages;
            self.idx = p.stages.len() - 1;
        }
        self.group = Some(group);
        saved
    }

    fn leave_group(&mut self, saved: Cursor<'p, T>) {
        (self.seq, self.idx, self.following, self.group) = saved;
    }

    fn create_group_pattern_state(
        &mut self,
        group: &'p Stage<T>,
        sink: StateId,
        proceed: Option<StateId>,
        optional: bool,
    ) -> StateId {
        let proceed_cond = self.true_function();
        let saved = self.enter_group(group);
        let mut last = self.create_middle_states(sink);
        last = self.convert_pattern(last);
        if optional && let Some(proceed) = proceed {
            self.add(last, Action::Proceed, proceed, proceed_cond);
        }
        self.leave_group(saved);
        last
    }

    fn create_looping_group_pattern_state(
        &mut self,
        group: &'p Stage<T>,
        sink: StateId,
    ) -> StateId {
        let proceed_cond = self.true_function();
        let dummy = self.create_stage_state(StateKind::Normal, true);
        let saved = self.enter_group(group);
        let mut last = self.create_middle_states(dummy);
        last = self.convert_pattern(last);
        self.add(last, Action::Proceed, sink, Arc::clone(&proceed_cond));
        self.add(dummy, Action::Proceed, last, proceed_cond);
        self.leave_group(saved);
        last
    }

    fn create_looping(&mut self, sink: StateId) -> StateId {
        let cur = self.current();
        if let StageKind::Group(_) = cur.kind {
            return self.create_looping_group_pattern_state(cur, sink);
        }
        let until = cur.until.as_ref();
        let ignore = extend_with_until(self.inner_ignore_condition(), until, false);
        let take = extend_with_until(Some(self.take_condition(cur)), until, true)
            .unwrap_or_else(Condition::truth);
        let proceed_cond = self.true_function();
        let looping = self.create_stage_state(StateKind::Normal, true);
        if cur.quantifier.greedy {
            if let Some(until) = until {
                let copy = self.copy(sink);
                self.add(
                    looping,
                    Action::Proceed,
                    copy,
                    Condition::and(&proceed_cond, until),
                );
                self.original_state_map.insert(sink, copy);
            }
            let c = match until {
                Some(u) => Condition::and(&proceed_cond, &Condition::not(u)),
                None => proceed_cond,
            };
            self.add(looping, Action::Proceed, sink, c);
            let plain_take = self.take_condition(cur);
            self.update_with_greedy_condition(sink, &plain_take);
        } else {
            self.add(looping, Action::Proceed, sink, proceed_cond);
        }
        self.add(looping, Action::Take, looping, Arc::clone(&take));
        self.add_stop_state_to_looping(looping);
        if let Some(ignore) = ignore {
            let st = self.create_stage_state(StateKind::Normal, false);
            self.add(st, Action::Take, looping, take);
            self.add(st, Action::Ignore, st, Arc::clone(&ignore));
            self.add(looping, Action::Ignore, st, ignore);
            self.add_stop_state_to_looping(st);
        }
        looping
    }
}
