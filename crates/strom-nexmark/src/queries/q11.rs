//! Nexmark q11, user sessions: how many bids did a user make in each session they were
//! active?
//!
//! The reference SQL groups the bids by `bidder` and an event-time `SESSION` window of 10 s
//! gap on `dateTime`, and selects the bidder, `count(*)`, `SESSION_START` (the session's
//! first bid) and `SESSION_END` (its last bid plus the gap). Flink forms sessions as its
//! merging session windows do: every bid opens `[t, t + 10 s)` and windows that overlap or
//! touch merge, so a session ends after more than 10 s without a bid of that bidder. A
//! session's row is appended once the watermark passes its end.
//!
//! The pipeline maps each bid to its bidder (a chained `flat_map`, the bid's timestamp
//! kept), keys by bidder and runs Strom's [`EventTimeSessionWindows`] (Flink's assigner and
//! merging) with a counting aggregate, so a session keeps a single counter; the window's
//! bounds give the start and end columns.

use crate::model::Event;
use crate::queries::{CountAll, QueryRow};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use strom_api::DataStream;
use strom_core::{BoxError, Collector, Timestamp};
use strom_window::{EventTimeSessionWindows, TimeWindow, WindowContext, WindowElements};

/// The session gap: 10 s.
pub const GAP_MS: i64 = 10_000;

/// One row of q11's result: one bidder's session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q11Row {
    /// The bidder.
    pub bidder: i64,
    /// Bids in the session.
    pub bid_count: i64,
    /// The session's first bid (epoch ms).
    pub starttime: Timestamp,
    /// The session's last bid plus the gap (epoch ms).
    pub endtime: Timestamp,
}

impl QueryRow for Q11Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            json!(self.bidder),
            json!(self.bid_count),
            json!(self.starttime),
            json!(self.endtime),
        ]
    }

    /// The session's end.
    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.endtime)
    }
}

/// Nexmark q11 over `events`: bids per bidder and 10 s-gap session.
pub fn q11(events: DataStream<Event>) -> DataStream<Q11Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, i64>| {
            if let Event::Bid(b) = e {
                out.collect(b.bidder);
            }
        })
        .name("q11-bidders")
        .uid("q11-bidders")
        .key_by(|bidder: &i64| *bidder)
        .window(EventTimeSessionWindows::with_gap(Duration::from_millis(
            GAP_MS as u64,
        )))
        .aggregate_with_process(
            CountAll,
            |bidder: &i64,
             ctx: &mut WindowContext<'_, TimeWindow>,
             counts: WindowElements<'_, i64>,
             out: &mut Collector<'_, Q11Row>|
             -> Result<(), BoxError> {
                let w = ctx.window();
                for &bid_count in counts {
                    out.collect(Q11Row {
                        bidder: *bidder,
                        bid_count,
                        starttime: w.start,
                        endtime: w.end,
                    });
                }
                Ok(())
            },
        )
        .name("q11-sessions")
        .uid("q11-sessions")
}
