//! The CEP operator (Flink's `CepOperator`), written as a [`KeyedProcessFunction`].
//!
//! Per key it keeps one value state, [`CEP_STATE`]: the events waiting for the watermark
//! (sorted by timestamp, ties in arrival order) and the NFA's runs with their shared
//! buffer. Keyed state and timers are checkpointed and rescaled by the keyed process
//! operator, so a CEP job recovers mid-pattern like any keyed job.
//!
//! **Event time.** An element whose timestamp is at or below the watermark is late: it
//! goes to the late-data side output if there is one and is dropped otherwise. Other
//! elements wait in the key's queue; a timer at the earliest queued timestamp fires once
//! the watermark reaches it (one timer per key, not one per event as in Flink), and then
//! every queued timestamp up to the watermark is processed in order
//! (first the NFA's time advances to it, timing out runs whose window ended, then its
//! events run through the NFA in arrival order), and finally the NFA's time advances to
//! the watermark. A timer at the earliest window end of the key's live runs makes
//! timeouts fire as soon as the watermark passes them.
//!
//! **Processing time.** Elements are processed on arrival, stamped with the processing
//! time; a processing-time timer at the earliest window end times out runs even when no
//! further element arrives (Flink only notices them at the next element).

use crate::compiler::Nfa;
use crate::function::{PatternContext, PatternProcessFunction};
use crate::matches::Match;
use crate::nfa::{NfaRuns, Output, Scratch};
use crate::{CepError, Pattern};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;
use strom_core::{BoxError, Collector, Data, Key, OutputTag, TaskInfo};
use strom_process::{KeyedContext, KeyedProcessFunction, TimeDomain};
use strom_state::ValueStateDescriptor;
use strom_types::{NO_TIMESTAMP, Timestamp};

/// The name of the CEP operator's keyed state.
pub const CEP_STATE: &str = "cep";

/// One key's CEP state.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize",
    deserialize = "T: serde::de::DeserializeOwned"
))]
struct KeyState<T> {
    /// Events waiting for the watermark, sorted by timestamp, ties in arrival order. An
    /// event-time timer is registered at the first one's timestamp.
    queue: VecDeque<(i64, T)>,
    runs: NfaRuns<T>,
    /// Sequence number of the key's next event (Flink's `EventId`).
    next_seq: u64,
    /// The timeout timer currently registered, if any.
    timeout_timer: Option<i64>,
}

/// A match or a timed-out partial match, with its timestamp, in emission order.
enum Found<T> {
    Match(Match<T>, i64),
    Timeout(Match<T>, i64),
}

fn collect<T>(o: &mut Output<T>, ts: i64, found: &mut Vec<Found<T>>) {
    found.extend(o.matches.drain(..).map(|m| Found::Match(m, ts)));
    found.extend(o.timeouts.drain(..).map(|(m, at)| Found::Timeout(m, at)));
}

/// The CEP operator's function: runs a compiled pattern per key and hands matches to `F`.
pub(crate) struct CepFunction<T, F> {
    nfa: Result<Arc<Nfa<T>>, CepError>,
    function: F,
    late: Option<OutputTag<T>>,
    processing_time: bool,
    state: ValueStateDescriptor<KeyState<T>>,
    late_dropped: u64,
    /// The NFA's working vectors, reused for every key and event.
    scratch: Scratch,
}

impl<T, F: Clone> Clone for CepFunction<T, F> {
    fn clone(&self) -> Self {
        CepFunction {
            nfa: self.nfa.clone(),
            function: self.function.clone(),
            late: self.late.clone(),
            processing_time: self.processing_time,
            state: ValueStateDescriptor::new(CEP_STATE),
            late_dropped: 0,
            scratch: Scratch::default(),
        }
    }
}

impl<T: Data, F> CepFunction<T, F> {
    pub(crate) fn new(
        pattern: &Pattern<T>,
        function: F,
        late: Option<OutputTag<T>>,
        processing_time: bool,
    ) -> Self {
        CepFunction {
            nfa: crate::compiler::compile(pattern).map(Arc::new),
            function,
            late,
            processing_time,
            state: ValueStateDescriptor::new(CEP_STATE),
            late_dropped: 0,
            scratch: Scratch::default(),
        }
    }
}

impl<T: Data, F> CepFunction<T, F> {
    /// Why the pattern does not compile, if it does not.
    pub(crate) fn error(&self) -> Option<&CepError> {
        self.nfa.as_ref().err()
    }

    fn nfa(&self) -> Result<Arc<Nfa<T>>, BoxError> {
        self.nfa.clone().map_err(|e| Box::new(e) as BoxError)
    }

    /// Run `body` on the key's state (created when absent), drop the state when nothing is
    /// left in it, and (re)register the timeout timer.
    fn with_key_state<K: Key>(
        &self,
        nfa: &Nfa<T>,
        ctx: &mut KeyedContext<'_, K>,
        body: impl FnOnce(&mut KeyState<T>) -> Result<(), CepError>,
    ) -> Result<Option<i64>, BoxError> {
        let mut result = Ok(());
        let mut new_timer = None;
        let init = || KeyState {
            queue: VecDeque::new(),
            runs: NfaRuns::new(nfa),
            next_seq: 0,
            timeout_timer: None,
        };
        ctx.value_state(&self.state).update_in_place(init, |st| {
            result = body(st);
            let next = st.runs.next_timeout(nfa);
            if next != st.timeout_timer {
                new_timer = next;
                st.timeout_timer = next;
            }
            ((), !(st.queue.is_empty() && st.runs.is_idle()))
        })?;
        result?;
        Ok(new_timer)
    }

    fn register_timeout<K: Key>(&self, ctx: &mut KeyedContext<'_, K>, at: Option<i64>) {
        if let Some(at) = at {
            if self.processing_time {
                ctx.timer_service().register_processing_time_timer(at);
            } else {
                ctx.timer_service().register_event_time_timer(at);
            }
        }
    }
}

impl<T, F> CepFunction<T, F> {
    fn emit<K: Key, O>(
        function: &mut F,
        found: Vec<Found<T>>,
        processing_time: bool,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>
    where
        F: PatternProcessFunction<T, O>,
    {
        let now = ctx.current_processing_time();
        for f in found {
            let (m, ts, timeout) = match f {
                Found::Match(m, ts) => (m, ts, false),
                Found::Timeout(m, ts) => (m, ts, true),
            };
            out.set_timestamp(if processing_time { NO_TIMESTAMP } else { ts });
            let mut pctx = PatternContext::new(ts, !processing_time, now, ctx.side_outputs());
            if timeout {
                function.process_timed_out_match(m, &mut pctx, out)?;
            } else {
                function.process_match(m, &mut pctx, out)?;
            }
        }
        Ok(())
    }
}

impl<K, T, O, F> KeyedProcessFunction<K, T, O> for CepFunction<T, F>
where
    K: Key,
    T: Data,
    F: PatternProcessFunction<T, O>,
{
    fn open(&mut self, _info: &TaskInfo) -> Result<(), BoxError> {
        self.nfa().map(|_| ())
    }

    fn close(&mut self) -> Result<(), BoxError> {
        if self.late_dropped > 0 {
            tracing::warn!(
                dropped = self.late_dropped,
                "CEP dropped late events (timestamp at or below the watermark); side_output_late_data keeps them"
            );
        }
        Ok(())
    }

    fn process_element(
        &mut self,
        value: T,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        let nfa = self.nfa()?;
        if self.processing_time {
            let now = ctx.current_processing_time();
            let mut found = Vec::new();
            let mut o = Output::with_scratch(std::mem::take(&mut self.scratch));
            let timer = self.with_key_state(&nfa, ctx, |st| {
                st.runs.advance_time(&nfa, now, &mut o)?;
                collect(&mut o, now, &mut found);
                let seq = st.next_seq;
                st.next_seq += 1;
                st.runs.process(&nfa, value, now, seq, now, &mut o)?;
                collect(&mut o, now, &mut found);
                Ok(())
            })?;
            self.scratch = o.into_scratch();
            self.register_timeout(ctx, timer);
            return Self::emit(&mut self.function, found, true, ctx, out);
        }
        let Some(ts) = ctx.timestamp() else {
            return Err(Box::new(CepError::NoTimestamp));
        };
        if ts <= ctx.current_watermark() {
            match &self.late {
                Some(tag) => ctx.output(tag, value),
                None => self.late_dropped += 1,
            }
            return Ok(());
        }
        let mut new_first = false;
        let timer = self.with_key_state(&nfa, ctx, |st| {
            // Mostly in order: append unless an earlier event is still queued.
            if st.queue.back().is_none_or(|(t, _)| *t <= ts) {
                new_first = st.queue.is_empty();
                st.queue.push_back((ts, value));
            } else {
                let at = st.queue.partition_point(|(t, _)| *t <= ts);
                new_first = at == 0;
                st.queue.insert(at, (ts, value));
            }
            Ok(())
        })?;
        if new_first {
            ctx.timer_service().register_event_time_timer(ts);
        }
        self.register_timeout(ctx, timer);
        Ok(())
    }

    fn on_timer(
        &mut self,
        _timestamp: Timestamp,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        let nfa = self.nfa()?;
        let processing = ctx.time_domain() == Some(TimeDomain::ProcessingTime);
        let upto = if processing {
            ctx.current_processing_time()
        } else {
            ctx.current_watermark()
        };
        let now = ctx.current_processing_time();
        let mut found = Vec::new();
        let mut first_left = None;
        let mut o = Output::with_scratch(std::mem::take(&mut self.scratch));
        let timer = self.with_key_state(&nfa, ctx, |st| {
            st.timeout_timer = None;
            while st.queue.front().is_some_and(|(t, _)| *t <= upto) {
                let ts = st.queue.front().map_or(upto, |(t, _)| *t);
                st.runs.advance_time(&nfa, ts, &mut o)?;
                collect(&mut o, ts, &mut found);
                while st.queue.front().is_some_and(|(t, _)| *t == ts) {
                    let Some((_, e)) = st.queue.pop_front() else {
                        break;
                    };
                    let seq = st.next_seq;
                    st.next_seq += 1;
                    st.runs.process(&nfa, e, ts, seq, now, &mut o)?;
                    collect(&mut o, ts, &mut found);
                }
            }
            first_left = st.queue.front().map(|(t, _)| *t);
            st.runs.advance_time(&nfa, upto, &mut o)?;
            collect(&mut o, upto, &mut found);
            Ok(())
        })?;
        self.scratch = o.into_scratch();
        if let Some(t) = first_left {
            ctx.timer_service().register_event_time_timer(t);
        }
        self.register_timeout(ctx, timer);
        Self::emit(&mut self.function, found, processing, ctx, out)
    }
}
