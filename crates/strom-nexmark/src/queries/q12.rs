//! Nexmark q12, processing-time windows: how many bids does a user make within a fixed
//! period of processing time?
//!
//! The reference SQL adds `PROCTIME()` to the bids and groups them by `bidder` and a 10 s
//! tumbling window of that processing time, selecting the bidder, `count(*)` and the
//! window's start and end. Which window a bid lands in depends on when the job handles it,
//! so the result depends on the run, not only on the data; only the total per bidder and
//! the windows' alignment (10 s boundaries of the clock) are fixed.
//!
//! The pipeline maps each bid to its bidder (a chained `flat_map`), keys by bidder and
//! runs a [`TumblingProcessingTimeWindows`] of 10 s with a counting aggregate: each bid is
//! assigned by the window operator's clock when the operator receives it, and a window
//! fires when the clock reaches its end. The clock is the job's
//! ([`StreamEnv::with_clock`](strom_api::StreamEnv::with_clock) replaces it, e.g. in
//! tests).
//!
//! As in Flink, processing-time windows whose end the clock has not reached when a bounded
//! input ends are not emitted (the final watermark only advances event time); Nexmark runs
//! the query on an unbounded stream, where every window eventually closes.

use crate::model::Event;
use crate::queries::{CountAll, QueryRow};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use strom_api::DataStream;
use strom_core::{BoxError, Collector, Timestamp};
use strom_window::{TimeWindow, TumblingProcessingTimeWindows, WindowContext, WindowElements};

/// The window size: 10 s of processing time.
pub const WINDOW_MS: i64 = 10_000;

/// One row of q12's result: one bidder's bids in one processing-time window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q12Row {
    /// The bidder.
    pub bidder: i64,
    /// Bids the window received.
    pub bid_count: i64,
    /// Window start (processing time, epoch ms).
    pub starttime: Timestamp,
    /// Window end (processing time, epoch ms).
    pub endtime: Timestamp,
}

impl QueryRow for Q12Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            json!(self.bidder),
            json!(self.bid_count),
            json!(self.starttime),
            json!(self.endtime),
        ]
    }

    /// `None`: the window is one of processing time; no event time produces the row.
    fn trigger_time(&self) -> Option<Timestamp> {
        None
    }
}

/// Nexmark q12 over `events`: bids per bidder per 10 s of processing time.
pub fn q12(events: DataStream<Event>) -> DataStream<Q12Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, i64>| {
            if let Event::Bid(b) = e {
                out.collect(b.bidder);
            }
        })
        .name("q12-bidders")
        .uid("q12-bidders")
        .key_by(|bidder: &i64| *bidder)
        .window(TumblingProcessingTimeWindows::of(Duration::from_millis(
            WINDOW_MS as u64,
        )))
        .aggregate_with_process(
            CountAll,
            |bidder: &i64,
             ctx: &mut WindowContext<'_, TimeWindow>,
             counts: WindowElements<'_, i64>,
             out: &mut Collector<'_, Q12Row>|
             -> Result<(), BoxError> {
                let w = ctx.window();
                for &bid_count in counts {
                    out.collect(Q12Row {
                        bidder: *bidder,
                        bid_count,
                        starttime: w.start,
                        endtime: w.end,
                    });
                }
                Ok(())
            },
        )
        .name("q12-processing-time-windows")
        .uid("q12-processing-time-windows")
}
