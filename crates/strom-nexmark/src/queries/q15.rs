//! Nexmark q15: bidding statistics per day.
//!
//! **Question.** How many bids, distinct bidders and distinct auctions are there each day,
//! in total and at each of three price levels?
//!
//! **Reference SQL, in words.** Group the `bid` view by `DATE_FORMAT(dateTime,
//! 'yyyy-MM-dd')` and select the day, then `count(*)` in total and with the filters
//! `price < 10000` (rank 1), `10000 <= price < 1000000` (rank 2) and `price >= 1000000`
//! (rank 3), then `count(distinct bidder)` in total and with the same three filters, then
//! `count(distinct auction)` likewise: thirteen columns. The aggregation has no window, so
//! the result is an updating table keyed by the day.
//!
//! **Pipeline.** A flat-map chained to the source keeps the four fields needed
//! (`PricedBid`); the stream is keyed by the day number (days since 1970-01-01 in UTC,
//! which is what the day text identifies), and a keyed process function keeps one
//! accumulator per day: four counters, and for bidders and for auctions one hash map from
//! id to the set of price ranks seen with it (a 3-bit mask), with the distinct counts kept
//! up to date as masks gain bits. Each record updates the accumulator in place; the day's
//! row is emitted once per watermark advance in which it changed (an event-time timer at
//! the current watermark + 1, deduplicated per key and time: an event-time mini-batch),
//! and the final watermark emits what is left. The final table (latest row per day) is the
//! SQL result.
//!
//! **Differences from Flink.** None in the result. Flink emits an update per record (or per
//! wall-clock mini-batch) with retractions; here upserts per watermark advance. As in
//! Flink, a day's state is kept forever (the query never says a day is complete).
//!
//! The accumulator lives in the private module `daily` (shared with q16 and q17) and the
//! in-place state access with the event-time mini-batch in `mini_batch`.

use super::daily::{DailyCounts, DailyStats, PricedBid, day_text};
use super::mini_batch::MiniBatch;
use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::Collector;

/// One row of q15: a day's bidding statistics (the upsert key is the day).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q15Row {
    /// `day`: `DATE_FORMAT(dateTime, 'yyyy-MM-dd')`.
    pub day: Text,
    /// `total_bids`: bids that day.
    pub total_bids: i64,
    /// `rank1_bids`: bids below $100 (`price < 10000` cents).
    pub rank1_bids: i64,
    /// `rank2_bids`: bids from $100 to below $10 000.
    pub rank2_bids: i64,
    /// `rank3_bids`: bids from $10 000 (`price >= 1000000`).
    pub rank3_bids: i64,
    /// `total_bidders`: distinct bidders that day.
    pub total_bidders: i64,
    /// `rank1_bidders`: distinct bidders of rank-1 bids.
    pub rank1_bidders: i64,
    /// `rank2_bidders`: distinct bidders of rank-2 bids.
    pub rank2_bidders: i64,
    /// `rank3_bidders`: distinct bidders of rank-3 bids.
    pub rank3_bidders: i64,
    /// `total_auctions`: distinct auctions bid on that day.
    pub total_auctions: i64,
    /// `rank1_auctions`: distinct auctions of rank-1 bids.
    pub rank1_auctions: i64,
    /// `rank2_auctions`: distinct auctions of rank-2 bids.
    pub rank2_auctions: i64,
    /// `rank3_auctions`: distinct auctions of rank-3 bids.
    pub rank3_auctions: i64,
}

impl QueryRow for Q15Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            Value::String(self.day.to_string()),
            self.total_bids.into(),
            self.rank1_bids.into(),
            self.rank2_bids.into(),
            self.rank3_bids.into(),
            self.total_bidders.into(),
            self.rank1_bidders.into(),
            self.rank2_bidders.into(),
            self.rank3_bidders.into(),
            self.total_auctions.into(),
            self.rank1_auctions.into(),
            self.rank2_auctions.into(),
            self.rank3_auctions.into(),
        ]
    }

    fn upsert_key(&self) -> Option<Vec<Value>> {
        Some(vec![Value::String(self.day.to_string())])
    }
}

/// q15 over `events`: per day, the bid counts and distinct bidder and auction counts, in
/// total and per price rank, as upserts keyed by the day.
pub fn q15(events: DataStream<Event>) -> DataStream<Q15Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, PricedBid>| {
            if let Event::Bid(b) = e {
                out.collect(PricedBid::of(&b));
            }
        })
        .name("q15: bids")
        .uid("q15-bids")
        .key_by(|b: &PricedBid| b.day)
        .process(MiniBatch::<i64, PricedBid, DailyStats, Q15Row>::new(
            "q15-day-stats",
            |b| b,
            emit_q15,
        ))
        .name("q15: statistics per day")
        .uid("q15-day-stats")
}

fn emit_q15(day: &i64, c: DailyCounts, out: &mut Collector<'_, Q15Row>) {
    let [t, r1, r2, r3, tb, b1, b2, b3, ta, a1, a2, a3] = c.counts;
    out.collect(Q15Row {
        day: day_text(*day),
        total_bids: t,
        rank1_bids: r1,
        rank2_bids: r2,
        rank3_bids: r3,
        total_bidders: tb,
        rank1_bidders: b1,
        rank2_bidders: b2,
        rank3_bidders: b3,
        total_auctions: ta,
        rank1_auctions: a1,
        rank2_auctions: a2,
        rank3_auctions: a3,
    });
}
