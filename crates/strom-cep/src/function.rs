//! What runs over the matches: [`PatternProcessFunction`] and its [`PatternContext`]
//! (Flink's `PatternProcessFunction` and `TimedOutPartialMatchHandler`), and the adapters
//! behind `select`, `flat_select` and `select_with_timeout`.

use crate::Match;
use strom_core::{BoxError, Collector, OutputTag, Record, SideOutputs};
use strom_types::{NO_TIMESTAMP, Timestamp};

/// What a pattern function sees besides the match: its timestamp, the processing time and
/// side outputs.
pub struct PatternContext<'a> {
    timestamp: Timestamp,
    /// The timestamp of emitted records (none in processing time).
    record_timestamp: Timestamp,
    processing_time: i64,
    side: &'a mut SideOutputs,
}

impl<'a> PatternContext<'a> {
    pub(crate) fn new(
        timestamp: Timestamp,
        event_time: bool,
        processing_time: i64,
        side: &'a mut SideOutputs,
    ) -> Self {
        PatternContext {
            timestamp,
            record_timestamp: if event_time { timestamp } else { NO_TIMESTAMP },
            processing_time,
            side,
        }
    }

    /// The match's timestamp: the time of the event that completed it (in processing
    /// time, when it was processed), or for a timed-out partial match the time its window
    /// ended. In event time it is also the timestamp of the records emitted for it.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The current processing time (from the job's clock).
    pub fn current_processing_time(&self) -> i64 {
        self.processing_time
    }

    /// Emit to a side output (in event time with the match's timestamp).
    pub fn output<X: 'static>(&mut self, tag: &OutputTag<X>, value: X) {
        self.side
            .emit(tag, Record::new(value, self.record_timestamp));
    }
}

/// A function over the matches of a pattern (Flink's `PatternProcessFunction`, with
/// `TimedOutPartialMatchHandler` folded in).
///
/// Contract: `process_match` is called once per match, in the order matches are found
/// (per key: by the event time of the event that completed them, then by their first
/// event); `process_timed_out_match` once per partial match whose `within` window passed
/// without completing it (by default it drops the partial match). Both may emit any number
/// of records, with the match's timestamp. An `Err` fails the job.
pub trait PatternProcessFunction<T, O>: Send {
    /// Handle one match.
    fn process_match(
        &mut self,
        m: Match<T>,
        ctx: &mut PatternContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;

    /// Handle a timed-out partial match.
    fn process_timed_out_match(
        &mut self,
        _m: Match<T>,
        _ctx: &mut PatternContext<'_>,
        _out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
}

/// `select`: one output per match.
#[derive(Clone)]
pub(crate) struct Select<F>(pub(crate) F);

impl<T, O, F> PatternProcessFunction<T, O> for Select<F>
where
    F: FnMut(Match<T>) -> O + Send,
{
    fn process_match(
        &mut self,
        m: Match<T>,
        _ctx: &mut PatternContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        out.collect((self.0)(m));
        Ok(())
    }
}

/// `flat_select`: any number of outputs per match.
#[derive(Clone)]
pub(crate) struct FlatSelect<F>(pub(crate) F);

impl<T, O, F> PatternProcessFunction<T, O> for FlatSelect<F>
where
    F: FnMut(Match<T>, &mut Collector<'_, O>) + Send,
{
    fn process_match(
        &mut self,
        m: Match<T>,
        _ctx: &mut PatternContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        (self.0)(m, out);
        Ok(())
    }
}

/// `select_with_timeout`: one output per match, one side output per timed-out partial
/// match.
pub(crate) struct SelectWithTimeout<X, S, F> {
    pub(crate) tag: OutputTag<X>,
    pub(crate) on_timeout: F,
    pub(crate) select: S,
}

impl<X, S: Clone, F: Clone> Clone for SelectWithTimeout<X, S, F> {
    fn clone(&self) -> Self {
        SelectWithTimeout {
            tag: self.tag.clone(),
            on_timeout: self.on_timeout.clone(),
            select: self.select.clone(),
        }
    }
}

impl<T, O, X, S, F> PatternProcessFunction<T, O> for SelectWithTimeout<X, S, F>
where
    X: Send + 'static,
    S: FnMut(Match<T>) -> O + Send,
    F: FnMut(Match<T>, Timestamp) -> X + Send,
{
    fn process_match(
        &mut self,
        m: Match<T>,
        _ctx: &mut PatternContext<'_>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        out.collect((self.select)(m));
        Ok(())
    }

    fn process_timed_out_match(
        &mut self,
        m: Match<T>,
        ctx: &mut PatternContext<'_>,
        _out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        let x = (self.on_timeout)(m, ctx.timestamp());
        ctx.output(&self.tag, x);
        Ok(())
    }
}
