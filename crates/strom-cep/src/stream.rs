//! Applying a pattern to a stream: [`CepExt::pattern`] and [`PatternStream`] (Flink's
//! `CEP.pattern` and `PatternStream`).

use crate::function::{FlatSelect, PatternProcessFunction, Select, SelectWithTimeout};
use crate::operator::CepFunction;
use crate::{Match, Pattern};
use strom_api::{DataStream, KeyedStream};
use strom_core::{Collector, Data, Key, OutputTag};
use strom_types::Timestamp;

/// `pattern(…)` on keyed and non-keyed streams.
pub trait CepExt<T> {
    /// The key type of the resulting pattern stream.
    type Key;
    /// The key selector.
    type Selector;
    /// Detect `pattern` in this stream: per key on a keyed stream; on a non-keyed stream
    /// over all events, in one subtask (as Flink does).
    fn pattern(self, pattern: Pattern<T>) -> PatternStream<T, Self::Key, Self::Selector>;
}

impl<T, K, KF> CepExt<T> for KeyedStream<T, K, KF>
where
    T: Data,
    K: Key,
    KF: Fn(&T) -> K + Clone + Send + Sync + 'static,
{
    type Key = K;
    type Selector = KF;
    fn pattern(self, pattern: Pattern<T>) -> PatternStream<T, K, KF> {
        PatternStream {
            input: self,
            pattern,
            late: None,
            processing_time: false,
            global: false,
        }
    }
}

/// The key selector of a non-keyed pattern stream (every event has key `()`).
pub type NoKey<T> = fn(&T) -> ();

fn no_key<T>(_: &T) {}

impl<T: Data> CepExt<T> for DataStream<T> {
    type Key = ();
    type Selector = NoKey<T>;
    fn pattern(self, pattern: Pattern<T>) -> PatternStream<T, (), NoKey<T>> {
        PatternStream {
            input: self.key_by(no_key::<T> as NoKey<T>),
            pattern,
            late: None,
            processing_time: false,
            global: true,
        }
    }
}

/// A stream with a pattern applied; choose what to do with its matches (`select`,
/// `flat_select`, `select_with_timeout` or `process`).
pub struct PatternStream<T, K, KF> {
    input: KeyedStream<T, K, KF>,
    pattern: Pattern<T>,
    late: Option<OutputTag<T>>,
    processing_time: bool,
    global: bool,
}

impl<T, K, KF> PatternStream<T, K, KF>
where
    T: Data,
    K: Key,
    KF: Fn(&T) -> K + Clone + Send + Sync + 'static,
{
    /// Send late events (timestamp at or below the watermark) to `tag` instead of dropping
    /// them; read them with `side_output(&tag)` on the stream `select`/`process` returns.
    pub fn side_output_late_data(mut self, tag: &OutputTag<T>) -> Self {
        self.late = Some(tag.clone());
        self
    }

    /// Match in processing time: events in arrival order, stamped with the processing
    /// time; windows count processing time (the default is event time).
    pub fn in_processing_time(mut self) -> Self {
        self.processing_time = true;
        self
    }

    /// Match in event time (the default).
    pub fn in_event_time(mut self) -> Self {
        self.processing_time = false;
        self
    }

    /// Run `function` over the matches and timed-out partial matches. A malformed
    /// pattern makes `execute` fail before the job starts, with the reason.
    pub fn process<O, F>(self, function: F) -> DataStream<O>
    where
        O: Data,
        F: PatternProcessFunction<T, O> + Clone + Sync + 'static,
    {
        let f = CepFunction::new(&self.pattern, function, self.late, self.processing_time);
        let error = f.error().map(|e| format!("CEP: {e}"));
        let out = self.input.process(f).name("CEP");
        if let Some(e) = error {
            out.env().add_build_error(e);
        }
        if self.global {
            out.set_parallelism(1)
        } else {
            out
        }
    }

    /// One output per match.
    pub fn select<O, S>(self, select: S) -> DataStream<O>
    where
        O: Data,
        S: FnMut(Match<T>) -> O + Clone + Send + Sync + 'static,
    {
        self.process(Select(select))
    }

    /// Any number of outputs per match.
    pub fn flat_select<O, S>(self, select: S) -> DataStream<O>
    where
        O: Data,
        S: FnMut(Match<T>, &mut Collector<'_, O>) + Clone + Send + Sync + 'static,
    {
        self.process(FlatSelect(select))
    }

    /// One output per match, and one record on the side output `timeouts` per partial
    /// match whose window passed (`on_timeout` gets the partial match and the time its
    /// window ended).
    pub fn select_with_timeout<O, X, S, F>(
        self,
        timeouts: &OutputTag<X>,
        on_timeout: F,
        select: S,
    ) -> DataStream<O>
    where
        O: Data,
        X: Data,
        S: FnMut(Match<T>) -> O + Clone + Send + Sync + 'static,
        F: FnMut(Match<T>, Timestamp) -> X + Clone + Send + Sync + 'static,
    {
        self.process(SelectWithTimeout {
            tag: timeouts.clone(),
            on_timeout,
            select,
        })
    }
}
