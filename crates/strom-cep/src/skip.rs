//! After-match skip strategies (Flink's `AfterMatchSkipStrategy`): which partial matches
//! are discarded once a match is emitted.
//!
//! Matches are emitted in the order of their first event. With a strategy other than
//! [`no_skip`](AfterMatchSkipStrategy::no_skip), a completed match waits while a partial
//! match that started earlier is still alive, and emitting it discards the partial and
//! completed matches that start at or before the strategy's *pruning event*:
//!
//! | strategy | pruning event | discards matches starting |
//! |---|---|---|
//! | `no_skip` | – | – |
//! | `skip_to_next` | the match's first event | at or before it |
//! | `skip_past_last_event` | the match's last event | at or before it |
//! | `skip_to_first(s)` | the first event of stage `s` | before it |
//! | `skip_to_last(s)` | the last event of stage `s` | before it |

use crate::CepError;

/// Which strategy, and for the stage-relative ones, which stage.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    NoSkip,
    SkipToNext,
    SkipPastLastEvent,
    SkipToFirst(String),
    SkipToLast(String),
}

/// What happens to overlapping matches after a match (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfterMatchSkipStrategy {
    kind: Kind,
    throw_on_miss: bool,
}

impl Default for AfterMatchSkipStrategy {
    fn default() -> Self {
        Self::no_skip()
    }
}

impl AfterMatchSkipStrategy {
    /// Every match is emitted; nothing is discarded.
    pub fn no_skip() -> Self {
        Self::of(Kind::NoSkip)
    }
    /// Discard the partial matches that started with the same event as the match.
    pub fn skip_to_next() -> Self {
        Self::of(Kind::SkipToNext)
    }
    /// Discard every partial match that started within the match.
    pub fn skip_past_last_event() -> Self {
        Self::of(Kind::SkipPastLastEvent)
    }
    /// Discard the partial matches that started before the first event of stage `stage`.
    pub fn skip_to_first(stage: &str) -> Self {
        Self::of(Kind::SkipToFirst(stage.to_string()))
    }
    /// Discard the partial matches that started before the last event of stage `stage`.
    pub fn skip_to_last(stage: &str) -> Self {
        Self::of(Kind::SkipToLast(stage.to_string()))
    }

    /// For `skip_to_first`/`skip_to_last`: fail the job when a match has no event for the
    /// stage (or when skipping would land on the match's first event again, which would
    /// loop); by default such a match prunes nothing.
    pub fn throw_exception_on_miss(mut self) -> Self {
        self.throw_on_miss = true;
        self
    }

    fn of(kind: Kind) -> Self {
        AfterMatchSkipStrategy {
            kind,
            throw_on_miss: false,
        }
    }

    /// Whether matches wait for earlier partial matches and prune (all but `no_skip`).
    pub(crate) fn is_skip(&self) -> bool {
        self.kind != Kind::NoSkip
    }

    /// The stage the strategy names, if any.
    pub(crate) fn stage(&self) -> Option<&str> {
        match &self.kind {
            Kind::SkipToFirst(s) | Kind::SkipToLast(s) => Some(s),
            _ => None,
        }
    }

    /// The pruning event of a match given as (stage name, event sequence number) pairs in
    /// match order, or `None` when nothing is pruned.
    pub(crate) fn pruning_event<'n>(
        &self,
        path: impl Iterator<Item = (&'n str, u64)> + Clone,
    ) -> Result<Option<u64>, CepError> {
        let of_stage = |name: &str| {
            path.clone()
                .filter(|(s, _)| *s == name)
                .map(|p| p.1)
                .collect::<Vec<_>>()
        };
        let pruning = match &self.kind {
            Kind::NoSkip => None,
            Kind::SkipToNext => path.clone().map(|p| p.1).min(),
            Kind::SkipPastLastEvent => path.clone().map(|p| p.1).max(),
            Kind::SkipToFirst(s) => of_stage(s).first().copied(),
            Kind::SkipToLast(s) => of_stage(s).last().copied(),
        };
        if let Some(stage) = self.stage()
            && self.throw_on_miss
        {
            match pruning {
                None => {
                    return Err(CepError::Skip(format!(
                        "could not skip to stage '{stage}': the match has no event for it"
                    )));
                }
                Some(p) if path.clone().map(|x| x.1).min() == Some(p) => {
                    return Err(CepError::Skip(format!(
                        "could not skip to stage '{stage}': it is the match's first event (skipping there would find the same match again)"
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(pruning)
    }

    /// Whether a partial match starting with event `start` is discarded for pruning event
    /// `pruning`.
    pub(crate) fn prunes(&self, start: u64, pruning: u64) -> bool {
        match self.kind {
            Kind::NoSkip => false,
            Kind::SkipToNext | Kind::SkipPastLastEvent => start <= pruning,
            Kind::SkipToFirst(_) | Kind::SkipToLast(_) => start < pruning,
        }
    }
}
