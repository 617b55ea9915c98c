//! Complex event processing: detect patterns of events in a stream, with Flink CEP's API
//! and semantics.
//!
//! A [`Pattern`] is a sequence of named stages. Each stage has a condition on the event
//! (which may look at the events matched so far), a quantifier (`times`, `one_or_more`,
//! `optional`, `greedy`, …) and a contiguity to the stage before (`next`: strictly the next
//! event; `followed_by`: the next matching one; `followed_by_any`: any later one), or is a
//! NOT stage (`not_next`, `not_followed_by`). A `within` window bounds a match in time and
//! an [`AfterMatchSkipStrategy`] decides how overlapping matches are pruned.
//!
//! [`CepExt::pattern`] applies a pattern to a keyed (or non-keyed) stream and returns a
//! [`PatternStream`], whose `select`/`process` turn each [`Match`] into output records;
//! partial matches whose window passed go to `process_timed_out_match` (or a side output
//! with `select_with_timeout`), late events to `side_output_late_data`.
//!
//! ```
//! use std::time::Duration;
//! use strom_api::StreamEnv;
//! use strom_cep::{CepExt, Pattern};
//! use strom_core::watermark::WatermarkStrategy;
//!
//! // (sensor, ts, temperature): three strictly rising readings within a minute.
//! let env = StreamEnv::new().with_parallelism(1);
//! let readings = env
//!     .from_collection(vec![(1u32, 0i64, 20.0), (1, 10, 21.0), (1, 20, 22.5), (1, 30, 19.0)])
//!     .assign_timestamps_and_watermarks(
//!         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|r: &(u32, i64, f64), _| r.1),
//!     );
//! let rising = Pattern::<(u32, i64, f64)>::begin("a")
//!     .next("b").where_iter(|r, ctx| ctx.events_for_pattern("a").all(|a| r.2 > a.2))
//!     .next("c").where_iter(|r, ctx| ctx.events_for_pattern("b").all(|b| r.2 > b.2))
//!     .within(Duration::from_secs(60));
//! let alerts = readings
//!     .key_by(|r| r.0)
//!     .pattern(rising)
//!     .select(|m| (m.first("a").map(|a| a.1), m.first("c").map(|c| c.1)))
//!     .collect();
//! env.execute("rising").unwrap();
//! assert_eq!(alerts.take(), vec![(Some(0), Some(20))]);
//! ```
//!
//! ## How it runs
//!
//! The pattern compiles into an NFA (Flink's construction, step for step) whose runs live
//! per key in keyed state, with a shared buffer that stores each event once however many
//! partial matches hold it, and frees it with the last of them. Runs are visited and
//! matches emitted in Flink's order, ties included. In event time, events wait until the watermark passes them and
//! then run through the NFA in timestamp order, so out-of-order input gives the same
//! matches as sorted input. Keyed state and timers are checkpointed: a CEP job restored
//! from a checkpoint continues its partial matches.

mod buffer;
mod compiler;
mod condition;
mod function;
mod matches;
mod nfa;
#[cfg(test)]
mod nfa_tests;
mod operator;
mod pattern;
mod queue;
mod skip;
mod stream;

pub use condition::Context;
pub use function::{PatternContext, PatternProcessFunction};
pub use matches::Match;
pub use operator::CEP_STATE;
pub use pattern::{Pattern, WithinType};
pub use skip::AfterMatchSkipStrategy;
pub use stream::{CepExt, NoKey, PatternStream};

/// Why a pattern cannot run, or why matching failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CepError {
    /// The pattern is malformed (Flink's `MalformedPatternException`); the message says
    /// what to fix.
    #[error("malformed pattern: {0}")]
    Malformed(String),
    /// A skip strategy set to `throw_exception_on_miss` could not skip.
    #[error("after-match skip failed: {0}")]
    Skip(String),
    /// An event reached the CEP operator in event time without a timestamp.
    #[error(
        "CEP in event time needs timestamps: call assign_timestamps_and_watermarks before pattern(…), or use in_processing_time()"
    )]
    NoTimestamp,
}
