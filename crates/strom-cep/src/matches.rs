//! [`Match`]: the events of a match (or of a timed-out partial match), by stage.

use std::sync::Arc;

/// The events of a match by stage name, in the order the stages first took an event
/// (Flink's `Map<String, List<T>>`). A stage that took no event (an optional one) is
/// absent.
#[derive(Clone, Debug, PartialEq)]
pub struct Match<T> {
    stages: Vec<(Arc<str>, Vec<T>)>,
}

impl<T> Match<T> {
    /// A match from (stage, events) pairs (mainly for tests of select functions).
    pub fn from_stages(stages: Vec<(Arc<str>, Vec<T>)>) -> Self {
        Match { stages }
    }

    /// The events stage `name` took, in order (empty when it took none).
    pub fn get(&self, name: &str) -> &[T] {
        self.stages
            .iter()
            .find(|(n, _)| &**n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The first event stage `name` took.
    pub fn first(&self, name: &str) -> Option<&T> {
        self.get(name).first()
    }

    /// The last event stage `name` took.
    pub fn last(&self, name: &str) -> Option<&T> {
        self.get(name).last()
    }

    /// (stage, events) pairs in match order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[T])> {
        self.stages.iter().map(|(n, v)| (&**n, v.as_slice()))
    }

    /// The stage names in match order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.stages.iter().map(|(n, _)| &**n)
    }

    /// All events of the match, stage by stage.
    pub fn events(&self) -> impl Iterator<Item = &T> {
        self.stages.iter().flat_map(|(_, v)| v.iter())
    }

    /// Number of events in the match.
    pub fn len(&self) -> usize {
        self.stages.iter().map(|(_, v)| v.len()).sum()
    }

    /// Whether the match has no event (never true for a match; possible for nothing else).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The (stage, events) pairs.
    pub fn into_stages(self) -> Vec<(Arc<str>, Vec<T>)> {
        self.stages
    }
}

impl<T> Match<T> {
    /// Group a run's (stage, event) pairs by stage, stages in order of first appearance.
    pub(crate) fn group(path: impl Iterator<Item = (Arc<str>, T)>) -> Self {
        let mut stages: Vec<(Arc<str>, Vec<T>)> = Vec::new();
        for (name, e) in path {
            match stages.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.push(e),
                None => stages.push((name, vec![e])),
            }
        }
        Match { stages }
    }
}
