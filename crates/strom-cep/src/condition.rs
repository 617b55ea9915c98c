//! Conditions: what an event must satisfy to be taken by a pattern stage (Flink's
//! `SimpleCondition` and `IterativeCondition`).
//!
//! A *simple* condition sees the event only. An *iterative* condition also sees a
//! [`Context`]: the events the partial match has taken so far, by stage name, and the
//! event's timestamp. Conditions are combined with `and`, `or` and `not` when a pattern is
//! built ([`Pattern::where_`](crate::Pattern::where_), [`or`](crate::Pattern::or),
//! [`until`](crate::Pattern::until)) and when it is compiled into the NFA.
//!
//! Contract: a condition is a pure function of its arguments. It may be evaluated several
//! times for one event (once per partial match and edge) and in any order, so it must not
//! count calls or keep state of its own.

use crate::buffer::{NodeIdx, SharedBuffer};
use std::cell::OnceCell;
use std::sync::Arc;

/// A simple condition: `Fn(&T) -> bool`.
pub(crate) type SimpleFn<T> = dyn Fn(&T) -> bool + Send + Sync;
/// An iterative condition: `Fn(&T, &Context<T>) -> bool`.
pub(crate) type IterFn<T> = dyn Fn(&T, &Context<'_, T>) -> bool + Send + Sync;

/// A condition tree, shared between the NFA's edges.
pub(crate) enum Condition<T> {
    /// Always true.
    True,
    /// A user function on the event alone.
    Simple(Arc<SimpleFn<T>>),
    /// A user function that also sees the partial match.
    Iterative(Arc<IterFn<T>>),
    /// Both hold (the right side is not evaluated when the left is false).
    And(Arc<Condition<T>>, Arc<Condition<T>>),
    /// Either holds.
    Or(Arc<Condition<T>>, Arc<Condition<T>>),
    /// Does not hold.
    Not(Arc<Condition<T>>),
}

/// A shared condition.
pub(crate) type Cond<T> = Arc<Condition<T>>;

impl<T> Condition<T> {
    /// The always-true condition.
    pub(crate) fn truth() -> Cond<T> {
        Arc::new(Condition::True)
    }
    /// `a && b`.
    pub(crate) fn and(a: &Cond<T>, b: &Cond<T>) -> Cond<T> {
        Arc::new(Condition::And(Arc::clone(a), Arc::clone(b)))
    }
    /// `a || b`.
    pub(crate) fn or(a: &Cond<T>, b: &Cond<T>) -> Cond<T> {
        Arc::new(Condition::Or(Arc::clone(a), Arc::clone(b)))
    }
    /// `!a`.
    pub(crate) fn not(a: &Cond<T>) -> Cond<T> {
        Arc::new(Condition::Not(Arc::clone(a)))
    }

    /// Evaluate for `event` in the partial match `ctx` describes.
    pub(crate) fn test(&self, event: &T, ctx: &Context<'_, T>) -> bool {
        match self {
            Condition::True => true,
            Condition::Simple(f) => f(event),
            Condition::Iterative(f) => f(event, ctx),
            Condition::And(a, b) => a.test(event, ctx) && b.test(event, ctx),
            Condition::Or(a, b) => a.test(event, ctx) || b.test(event, ctx),
            Condition::Not(a) => !a.test(event, ctx),
        }
    }
}

/// What an iterative condition sees besides the event: the partial match so far and the
/// event's timestamp (Flink's `IterativeCondition.Context`).
///
/// The partial match is read from the shared buffer only when
/// [`events_for_pattern`](Context::events_for_pattern) is first called, and once per
/// partial match and event, so simple conditions cost nothing extra.
pub struct Context<'a, T> {
    buffer: &'a SharedBuffer<T>,
    node: Option<NodeIdx>,
    stage_names: &'a [Arc<str>],
    timestamp: i64,
    processing_time: i64,
    path: OnceCell<Vec<(u16, &'a T)>>,
}

impl<'a, T> Context<'a, T> {
    pub(crate) fn new(
        buffer: &'a SharedBuffer<T>,
        node: Option<NodeIdx>,
        stage_names: &'a [Arc<str>],
        timestamp: i64,
        processing_time: i64,
    ) -> Self {
        Context {
            buffer,
            node,
            stage_names,
            timestamp,
            processing_time,
            path: OnceCell::new(),
        }
    }

    /// The events the partial match has taken for the stage `name` so far, in the order
    /// they were taken (none when the stage has taken nothing or does not exist).
    pub fn events_for_pattern<'s>(&'s self, name: &str) -> impl Iterator<Item = &'a T> + 's {
        let stage = self
            .stage_names
            .iter()
            .position(|n| &**n == name)
            .and_then(|i| u16::try_from(i).ok());
        let path = self.path.get_or_init(|| self.buffer.path_events(self.node));
        path.iter()
            .filter(move |(s, _)| Some(*s) == stage)
            .map(|(_, e)| *e)
    }

    /// The timestamp of the event being tested (event time, or processing time when the
    /// pattern runs in processing time).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The current processing time (ms since the epoch, from the job's clock).
    pub fn current_processing_time(&self) -> i64 {
        self.processing_time
    }
}
