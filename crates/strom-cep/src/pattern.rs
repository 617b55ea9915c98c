//! The pattern API (Flink's `Pattern`): a sequence of named stages, each with a condition,
//! a quantifier and a contiguity to the stage before it.
//!
//! ```
//! use std::time::Duration;
//! use strom_cep::{AfterMatchSkipStrategy, Pattern};
//!
//! #[derive(Clone)]
//! struct Reading { temp: f64 }
//!
//! // A hot reading, then (relaxed) one or more hotter ones, then a cool-down, within 5 minutes.
//! let p: Pattern<Reading> = Pattern::begin_with_skip("hot", AfterMatchSkipStrategy::skip_past_last_event())
//!     .where_(|r: &Reading| r.temp > 40.0)
//!     .followed_by("hotter")
//!     .where_iter(|r, ctx| ctx.events_for_pattern("hot").all(|h| r.temp > h.temp))
//!     .one_or_more()
//!     .followed_by("cool")
//!     .where_(|r| r.temp < 30.0)
//!     .within(Duration::from_secs(300));
//! assert!(p.validate().is_ok());
//! ```
//!
//! Building never panics: a misuse that Flink rejects with a `MalformedPatternException`
//! (say, `until` on a stage that does not loop) is remembered and reported by
//! [`Pattern::validate`], and fails the job when it starts, naming the stage.

use crate::condition::{Cond, Condition, Context};
use crate::skip::AfterMatchSkipStrategy;
use std::sync::Arc;
use std::time::Duration;

/// How a stage's events relate to the events before them (Flink's `ConsumingStrategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Consuming {
    /// `next`: the very next event (strict contiguity).
    Strict,
    /// `followed_by`: the next matching event; non-matching ones in between are skipped.
    SkipTillNext,
    /// `followed_by_any`: any later matching event (each one starts a branch).
    SkipTillAny,
    /// `not_followed_by`.
    NotFollow,
    /// `not_next`.
    NotNext,
}

/// How often a stage matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuantifierKind {
    /// Exactly once.
    Single,
    /// `one_or_more` / `times_or_more`.
    Looping,
    /// `times` / `times_range`.
    Times,
}

/// A stage's quantifier (Flink's `Quantifier`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quantifier {
    pub(crate) kind: QuantifierKind,
    pub(crate) optional: bool,
    pub(crate) greedy: bool,
    /// Contiguity to the stage before.
    pub(crate) consuming: Consuming,
    /// Contiguity between the events of a looping stage.
    pub(crate) inner: Consuming,
}

impl Quantifier {
    fn one(consuming: Consuming) -> Self {
        Quantifier {
            kind: QuantifierKind::Single,
            optional: false,
            greedy: false,
            consuming,
            inner: Consuming::SkipTillNext,
        }
    }
}

/// Which events a [`within`](Pattern::within_type) window spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithinType {
    /// From the match's first event to its last (Flink's default).
    FirstAndLast,
    /// From the previous event of the match to the event of this stage.
    PreviousAndCurrent,
}

/// What a stage is.
pub(crate) enum StageKind<T> {
    /// A stage that takes single events.
    Single(Arc<str>),
    /// A group of stages (Flink's `GroupPattern`), quantified as a whole.
    Group(Box<Pattern<T>>),
}

/// One stage of a pattern.
pub(crate) struct Stage<T> {
    pub(crate) kind: StageKind<T>,
    pub(crate) condition: Option<Cond<T>>,
    pub(crate) until: Option<Cond<T>>,
    pub(crate) quantifier: Quantifier,
    /// `(from, to)` of a `times`/looping quantifier.
    pub(crate) times: Option<(u32, u32)>,
    /// `within(…, FirstAndLast)` in ms.
    pub(crate) window: Option<i64>,
    /// `within(…, PreviousAndCurrent)` in ms.
    pub(crate) window_previous: Option<i64>,
}

impl<T> Clone for Stage<T> {
    fn clone(&self) -> Self {
        Stage {
            kind: match &self.kind {
                StageKind::Single(n) => StageKind::Single(Arc::clone(n)),
                StageKind::Group(p) => StageKind::Group(p.clone()),
            },
            condition: self.condition.clone(),
            until: self.until.clone(),
            quantifier: self.quantifier,
            times: self.times,
            window: self.window,
            window_previous: self.window_previous,
        }
    }
}

impl<T> Stage<T> {
    fn new(kind: StageKind<T>, consuming: Consuming) -> Self {
        Stage {
            kind,
            condition: None,
            until: None,
            quantifier: Quantifier::one(consuming),
            times: None,
            window: None,
            window_previous: None,
        }
    }

    /// The stage's name (`GroupPattern` for a group, as in Flink).
    pub(crate) fn name(&self) -> &str {
        match &self.kind {
            StageKind::Single(n) => n,
            StageKind::Group(_) => "GroupPattern",
        }
    }

    /// The take condition (true when none was given).
    pub(crate) fn condition(&self) -> Cond<T> {
        self.condition.clone().unwrap_or_else(Condition::truth)
    }
}

/// A pattern: named stages with conditions, quantifiers and contiguity, an optional time
/// window and an after-match skip strategy (Flink's `Pattern`).
///
/// Methods that configure a stage (`where_`, `times`, `optional`, `within`, …) apply to the
/// stage added last. The event type needs no bounds to build a pattern; running it needs
/// [`Data`](strom_core::Data) events.
pub struct Pattern<T> {
    pub(crate) stages: Vec<Stage<T>>,
    pub(crate) skip: AfterMatchSkipStrategy,
    /// The first misuse while building, reported by [`Pattern::validate`].
    pub(crate) error: Option<String>,
}

impl<T> Clone for Pattern<T> {
    fn clone(&self) -> Self {
        Pattern {
            stages: self.stages.clone(),
            skip: self.skip.clone(),
            error: self.error.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Pattern<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pattern")
            .field(
                "stages",
                &self.stages.iter().map(Stage::name).collect::<Vec<_>>(),
            )
            .field("skip", &self.skip)
            .finish()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<T: 'static> Pattern<T> {
    /// A pattern whose first stage is `name`, without after-match skipping.
    pub fn begin(name: &str) -> Self {
        Self::begin_with_skip(name, AfterMatchSkipStrategy::no_skip())
    }

    /// A pattern whose first stage is `name`, with an after-match skip strategy.
    pub fn begin_with_skip(name: &str, skip: AfterMatchSkipStrategy) -> Self {
        Pattern {
            stages: vec![Stage::new(
                StageKind::Single(Arc::from(name)),
                Consuming::Strict,
            )],
            skip,
            error: None,
        }
    }

    /// A pattern that starts with a group of stages, which can then be quantified as a
    /// whole (Flink's `Pattern.begin(Pattern)`).
    pub fn begin_group(group: Pattern<T>) -> Self {
        Self::begin_group_with_skip(group, AfterMatchSkipStrategy::no_skip())
    }

    /// [`begin_group`](Pattern::begin_group) with an after-match skip strategy.
    pub fn begin_group_with_skip(group: Pattern<T>, skip: AfterMatchSkipStrategy) -> Self {
        let error = group.error.clone();
        Pattern {
            stages: vec![Stage::new(
                StageKind::Group(Box::new(group)),
                Consuming::Strict,
            )],
            skip,
            error,
        }
    }

    /// The after-match skip strategy.
    pub fn skip_strategy(&self) -> &AfterMatchSkipStrategy {
        &self.skip
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
    }

    fn last(&mut self) -> &mut Stage<T> {
        let i = self.stages.len() - 1;
        &mut self.stages[i]
    }

    fn stage_label(&self) -> String {
        format!("stage '{}'", self.stages[self.stages.len() - 1].name())
    }

    fn add_condition(mut self, c: Cond<T>, or: bool) -> Self {
        if matches!(self.last().kind, StageKind::Group(_)) {
            let what = if or { "or" } else { "where_" };
            self.fail(format!("a group pattern does not support {what}"));
            return self;
        }
        let stage = self.last();
        stage.condition = Some(match stage.condition.take() {
            None => c,
            Some(prev) if or => Condition::or(&prev, &c),
            Some(prev) => Condition::and(&prev, &c),
        });
        self
    }

    /// Add a condition on the event alone; several are AND-ed (Flink's `where` with a
    /// `SimpleCondition`).
    pub fn where_(self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.add_condition(Arc::new(Condition::Simple(Arc::new(f))), false)
    }

    /// Add a condition that also sees the partial match (Flink's `where` with an
    /// `IterativeCondition`).
    pub fn where_iter(
        self,
        f: impl Fn(&T, &Context<'_, T>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.add_condition(Arc::new(Condition::Iterative(Arc::new(f))), false)
    }

    /// OR a condition with the stage's conditions so far.
    pub fn or(self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.add_condition(Arc::new(Condition::Simple(Arc::new(f))), true)
    }

    /// OR an iterative condition with the stage's conditions so far.
    pub fn or_iter(self, f: impl Fn(&T, &Context<'_, T>) -> bool + Send + Sync + 'static) -> Self {
        self.add_condition(Arc::new(Condition::Iterative(Arc::new(f))), true)
    }

    fn set_until(mut self, c: Cond<T>) -> Self {
        if self.last().until.is_some() {
            let s = self.stage_label();
            self.fail(format!("{s}: only one until condition can be applied"));
        } else if self.last().quantifier.kind != QuantifierKind::Looping {
            let s = self.stage_label();
            self.fail(format!(
                "{s}: until applies only to looping stages (one_or_more, times_or_more)"
            ));
        } else {
            self.last().until = Some(c);
        }
        self
    }

    /// Stop a looping stage at the first event for which `f` holds (that event is not
    /// taken).
    pub fn until(self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.set_until(Arc::new(Condition::Simple(Arc::new(f))))
    }

    /// [`until`](Pattern::until) with an iterative condition.
    pub fn until_iter(
        self,
        f: impl Fn(&T, &Context<'_, T>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.set_until(Arc::new(Condition::Iterative(Arc::new(f))))
    }

    fn push(mut self, kind: StageKind<T>, consuming: Consuming) -> Self {
        if let StageKind::Group(g) = &kind
            && let Some(e) = &g.error
        {
            let e = e.clone();
            self.fail(e);
        }
        self.stages.push(Stage::new(kind, consuming));
        self
    }

    fn check_not_after_optional(&mut self, what: &str) {
        if self.last().quantifier.optional {
            let s = self.stage_label();
            self.fail(format!(
                "{s} is optional and cannot be followed by {what}: write two patterns, one with and one without the optional stage"
            ));
        }
    }

    /// Append a stage that must take the very next event (strict contiguity).
    pub fn next(self, name: &str) -> Self {
        self.push(StageKind::Single(Arc::from(name)), Consuming::Strict)
    }

    /// Append a stage that takes the next matching event; events in between are skipped
    /// (relaxed contiguity).
    pub fn followed_by(self, name: &str) -> Self {
        self.push(StageKind::Single(Arc::from(name)), Consuming::SkipTillNext)
    }

    /// Append a stage that takes any later matching event, each one in its own branch
    /// (non-deterministic relaxed contiguity).
    pub fn followed_by_any(self, name: &str) -> Self {
        self.push(StageKind::Single(Arc::from(name)), Consuming::SkipTillAny)
    }

    /// Append a stage whose condition must not hold for the very next event.
    pub fn not_next(mut self, name: &str) -> Self {
        self.check_not_after_optional("not_next");
        self.push(StageKind::Single(Arc::from(name)), Consuming::NotNext)
    }

    /// Append a stage whose condition must not hold for any event before the next stage's
    /// event (or, as the last stage, within the pattern's window).
    pub fn not_followed_by(mut self, name: &str) -> Self {
        self.check_not_after_optional("not_followed_by");
        self.push(StageKind::Single(Arc::from(name)), Consuming::NotFollow)
    }

    /// Append a group of stages with strict contiguity.
    pub fn next_group(self, group: Pattern<T>) -> Self {
        self.push(StageKind::Group(Box::new(group)), Consuming::Strict)
    }

    /// Append a group of stages with relaxed contiguity.
    pub fn followed_by_group(self, group: Pattern<T>) -> Self {
        self.push(StageKind::Group(Box::new(group)), Consuming::SkipTillNext)
    }

    /// Append a group of stages with non-deterministic relaxed contiguity.
    pub fn followed_by_any_group(self, group: Pattern<T>) -> Self {
        self.push(StageKind::Group(Box::new(group)), Consuming::SkipTillAny)
    }

    fn check_quantifiable(&mut self, what: &str) -> bool {
        let q = self.last().quantifier;
        let s = self.stage_label();
        if matches!(q.consuming, Consuming::NotFollow | Consuming::NotNext) {
            self.fail(format!("{s}: {what} does not apply to a NOT stage"));
            return false;
        }
        if q.kind != QuantifierKind::Single {
            self.fail(format!("{s}: a quantifier is already applied ({what})"));
            return false;
        }
        true
    }

    fn quantify(mut self, kind: QuantifierKind, from: u32, to: u32, what: &str) -> Self {
        if self.check_quantifiable(what) {
            let stage = self.last();
            stage.quantifier.kind = kind;
            stage.times = Some((from, to));
        }
        self
    }

    /// The stage matches exactly `n` events (`n ≥ 1`).
    pub fn times(mut self, n: u32) -> Self {
        if n == 0 {
            let s = self.stage_label();
            self.fail(format!("{s}: times needs a number greater than 0"));
            return self;
        }
        self.quantify(QuantifierKind::Times, n, n, "times")
    }

    /// The stage matches `from` to `to` events; `from == 0` makes it optional.
    pub fn times_range(mut self, from: u32, to: u32) -> Self {
        if to < from.max(1) {
            let s = self.stage_label();
            self.fail(format!(
                "{s}: times_range needs to ≥ from and to ≥ 1 (got {from}..{to})"
            ));
            return self;
        }
        let optional = from == 0;
        let mut p = self.quantify(QuantifierKind::Times, from.max(1), to, "times_range");
        if optional && p.error.is_none() {
            p.last().quantifier.optional = true;
        }
        p
    }

    /// The stage matches one or more events (a looping stage).
    pub fn one_or_more(self) -> Self {
        self.quantify(QuantifierKind::Looping, 1, 1, "one_or_more")
    }

    /// The stage matches `n` or more events (a looping stage).
    pub fn times_or_more(mut self, n: u32) -> Self {
        if n == 0 {
            let s = self.stage_label();
            self.fail(format!("{s}: times_or_more needs a number greater than 0"));
            return self;
        }
        self.quantify(QuantifierKind::Looping, n, n, "times_or_more")
    }

    /// The stage may also match no event.
    pub fn optional(mut self) -> Self {
        let n = self.stages.len();
        if n >= 2 && self.stages[n - 2].quantifier.greedy {
            let s = self.stage_label();
            self.fail(format!("{s}: an optional stage cannot follow a greedy one"));
            return self;
        }
        let q = self.last().quantifier;
        let s = self.stage_label();
        if q.optional {
            self.fail(format!("{s}: optional is already applied"));
        } else if matches!(q.consuming, Consuming::NotFollow | Consuming::NotNext) {
            self.fail(format!("{s}: a NOT stage cannot be optional"));
        } else {
            self.last().quantifier.optional = true;
        }
        self
    }

    /// A looping or times stage takes as many events as it can (the next stage does not
    /// start while this one can still take the event).
    pub fn greedy(mut self) -> Self {
        let q = self.last().quantifier;
        let s = self.stage_label();
        if matches!(q.consuming, Consuming::NotFollow | Consuming::NotNext) {
            self.fail(format!("{s}: greedy does not apply to a NOT stage"));
        } else if matches!(self.last().kind, StageKind::Group(_)) {
            self.fail(format!("{s}: greedy does not apply to a group pattern"));
        } else if q.inner == Consuming::SkipTillAny {
            self.fail(format!(
                "{s}: greedy does not apply with allow_combinations"
            ));
        } else if q.kind == QuantifierKind::Single {
            self.fail(format!("{s}: greedy needs a looping or times quantifier"));
        } else {
            self.last().quantifier.greedy = true;
        }
        self
    }

    /// The events of a looping or times stage must be contiguous (strict contiguity
    /// inside the loop; by default it is relaxed).
    pub fn consecutive(mut self) -> Self {
        let q = self.last().quantifier;
        let s = self.stage_label();
        if q.kind == QuantifierKind::Single {
            self.fail(format!(
                "{s}: consecutive needs a looping or times quantifier"
            ));
        } else if q.inner == Consuming::SkipTillAny {
            self.fail(format!(
                "{s}: either consecutive or allow_combinations, not both"
            ));
        } else if q.inner == Consuming::Strict {
            self.fail(format!("{s}: consecutive is already applied"));
        } else {
            self.last().quantifier.inner = Consuming::Strict;
        }
        self
    }

    /// The events of a looping or times stage may be any combination of the matching
    /// events (non-deterministic relaxed contiguity inside the loop).
    pub fn allow_combinations(mut self) -> Self {
        let q = self.last().quantifier;
        let s = self.stage_label();
        if q.kind == QuantifierKind::Single {
            self.fail(format!(
                "{s}: allow_combinations needs a looping or times quantifier"
            ));
        } else if q.inner == Consuming::Strict {
            self.fail(format!(
                "{s}: either consecutive or allow_combinations, not both"
            ));
        } else if q.inner == Consuming::SkipTillAny {
            self.fail(format!("{s}: allow_combinations is already applied"));
        } else {
            self.last().quantifier.inner = Consuming::SkipTillAny;
        }
        self
    }

    /// The whole match must happen within `window`: its last event's timestamp minus its
    /// first event's is less than `window`. Partial matches older than that are dropped
    /// (or handed to the timeout handler). With several windows the smallest applies.
    pub fn within(self, window: Duration) -> Self {
        self.within_type(window, WithinType::FirstAndLast)
    }

    /// A window of the given type (see [`WithinType`]).
    pub fn within_type(mut self, window: Duration, kind: WithinType) -> Self {
        let ms = millis(window);
        match kind {
            WithinType::FirstAndLast => self.last().window = Some(ms),
            WithinType::PreviousAndCurrent => self.last().window_previous = Some(ms),
        }
        self
    }

    /// Check the pattern as Flink's compiler would; the error names what to fix. The same
    /// check runs when a job with this pattern starts.
    pub fn validate(&self) -> Result<(), crate::CepError> {
        crate::compiler::compile(self).map(|_| ())
    }
}
