//! Nexmark q17: auction statistics per day.
//!
//! **Question.** Per auction and day: how many bids, at each of three price levels, and
//! their lowest, highest, average and total price?
//!
//! **Reference SQL, in words.** Group the `bid` view by `auction` and
//! `DATE_FORMAT(dateTime, 'yyyy-MM-dd')` and select the auction, the day, `count(*)` in
//! total and with the filters `price < 10000`, `10000 <= price < 1000000` and `price >=
//! 1000000`, then `min(price)`, `max(price)`, `avg(price)` and `sum(price)`. `price` is a
//! `BIGINT`, so Flink's `AVG` is a `BIGINT` too: the sum divided by the count, truncated.
//! The aggregation has no window, so the result is an updating table keyed by auction and
//! day.
//!
//! **Pipeline.** A flat-map chained to the source keeps the numeric fields of each bid
//! ([`super::q15`]'s `PricedBid`); keyed by `(auction, day number)`, the mini-batch
//! function of q15 keeps per key the four counters, the minimum, the maximum and the sum,
//! updated in place, and emits the key's row once per watermark advance in which it
//! changed (event-time mini-batch). The final table is the SQL result.
//!
//! **Differences from Flink.** None in the result. Upserts per watermark advance instead of
//! retractions per record; state is kept forever, as in Flink.

use super::daily::{PricedBid, day_text, price_rank};
use super::mini_batch::{MiniBatch, Updating};
use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::Collector;

/// One row of q17: an auction's bid statistics on one day (the upsert key is auction and
/// day).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q17Row {
    /// `auction`.
    pub auction: i64,
    /// `day`: `DATE_FORMAT(dateTime, 'yyyy-MM-dd')`.
    pub day: Text,
    /// `total_bids`: bids.
    pub total_bids: i64,
    /// `rank1_bids`: bids below $100 (`price < 10000` cents).
    pub rank1_bids: i64,
    /// `rank2_bids`: bids from $100 to below $10 000.
    pub rank2_bids: i64,
    /// `rank3_bids`: bids from $10 000 (`price >= 1000000`).
    pub rank3_bids: i64,
    /// `min_price`: the lowest bid, in cents.
    pub min_price: i64,
    /// `max_price`: the highest bid, in cents.
    pub max_price: i64,
    /// `avg_price`: the average bid, in cents, truncated to an integer (Flink's `AVG` over
    /// `BIGINT`).
    pub avg_price: i64,
    /// `sum_price`: the sum of the bids, in cents.
    pub sum_price: i64,
}

impl QueryRow for Q17Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            self.auction.into(),
            Value::String(self.day.to_string()),
            self.total_bids.into(),
            self.rank1_bids.into(),
            self.rank2_bids.into(),
            self.rank3_bids.into(),
            self.min_price.into(),
            self.max_price.into(),
            self.avg_price.into(),
            self.sum_price.into(),
        ]
    }

    fn upsert_key(&self) -> Option<Vec<Value>> {
        Some(vec![
            self.auction.into(),
            Value::String(self.day.to_string()),
        ])
    }
}

/// q17 over `events`: per auction and day, the bid counts (in total and per price rank)
/// and the minimum, maximum, average and total price, as upserts keyed by auction and day.
pub fn q17(events: DataStream<Event>) -> DataStream<Q17Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, PricedBid>| {
            if let Event::Bid(b) = e {
                out.collect(PricedBid::of(&b));
            }
        })
        .name("q17: bids")
        .uid("q17-bids")
        .key_by(|b: &PricedBid| (b.auction, b.day))
        .process(
            MiniBatch::<(i64, i64), PricedBid, AuctionDayStats, Q17Row>::new(
                "q17-auction-day-stats",
                |b| b,
                emit,
            ),
        )
        .name("q17: statistics per auction and day")
        .uid("q17-auction-day-stats")
}

fn emit(key: &(i64, i64), s: AuctionDayStats, out: &mut Collector<'_, Q17Row>) {
    out.collect(Q17Row {
        auction: key.0,
        day: day_text(key.1),
        total_bids: s.bids[0],
        rank1_bids: s.bids[1],
        rank2_bids: s.bids[2],
        rank3_bids: s.bids[3],
        min_price: s.min,
        max_price: s.max,
        // Java's long division, as Flink's AVG over BIGINT: truncated toward zero.
        avg_price: if s.bids[0] == 0 { 0 } else { s.sum / s.bids[0] },
        sum_price: s.sum,
    });
}

/// q17's accumulator (and result): counts in total and per rank, minimum, maximum, sum.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct AuctionDayStats {
    bids: [i64; 4],
    min: i64,
    max: i64,
    sum: i64,
}

impl Default for AuctionDayStats {
    fn default() -> Self {
        AuctionDayStats {
            bids: [0; 4],
            min: i64::MAX,
            max: i64::MIN,
            sum: 0,
        }
    }
}

impl Updating for AuctionDayStats {
    type In = PricedBid;
    type Out = AuctionDayStats;

    #[inline]
    fn add(&mut self, b: PricedBid) {
        self.bids[0] += 1;
        self.bids[price_rank(b.price) + 1] += 1;
        self.min = self.min.min(b.price);
        self.max = self.max.max(b.price);
        // Java's long arithmetic wraps, as Flink's SUM over BIGINT does.
        self.sum = self.sum.wrapping_add(b.price);
    }

    fn emit(&mut self) -> Option<AuctionDayStats> {
        Some(*self)
    }

    fn merge(&mut self, other: Self) {
        for (a, b) in self.bids.iter_mut().zip(other.bids) {
            *a += b;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum = self.sum.wrapping_add(other.sum);
    }
}
