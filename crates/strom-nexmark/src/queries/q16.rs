//! Nexmark q16: channel statistics per day.
//!
//! **Question.** Per channel and day: how many bids, distinct bidders and distinct
//! auctions, in total and at each of three price levels, and up to which minute?
//!
//! **Reference SQL, in words.** Group the `bid` view by `channel` and
//! `DATE_FORMAT(dateTime, 'yyyy-MM-dd')` and select the channel, the day,
//! `max(DATE_FORMAT(dateTime, 'HH:mm'))` as `minute`, then the same twelve counts as q15:
//! `count(*)`, `count(distinct bidder)` and `count(distinct auction)`, each in total and
//! with the filters `price < 10000`, `10000 <= price < 1000000` and `price >= 1000000`.
//! Fifteen columns; the aggregation has no window, so the result is an updating table keyed
//! by channel and day.
//!
//! **Pipeline.** As q15's (see [`super::q15`], whose accumulator and mini-batch function
//! this query reuses), keyed by `(channel, day number)`: a flat-map chained to the source
//! moves the channel out of each bid (no copy) beside the four numeric fields; per key, one
//! accumulator with the counters, the per-id rank masks of bidders and auctions, and the
//! latest `dateTime`. Within one day the `HH:mm` texts order as the times do, so the
//! maximum minute is the minute of the latest bid. The key's row is emitted once per
//! watermark advance in which it changed (event-time mini-batch); the final table is the
//! SQL result.
//!
//! **Differences from Flink.** None in the result. Upserts per watermark advance instead of
//! retractions per record; state is kept forever, as in Flink.

use super::daily::{DailyCounts, DailyStats, PricedBid, day_text};
use super::mini_batch::MiniBatch;
use crate::model::{Event, Text};
use crate::queries::QueryRow;
use crate::time;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::Collector;

/// One row of q16: a channel's bidding statistics on one day (the upsert key is channel and
/// day).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q16Row {
    /// `channel`.
    pub channel: Text,
    /// `day`: `DATE_FORMAT(dateTime, 'yyyy-MM-dd')`.
    pub day: Text,
    /// `minute`: `max(DATE_FORMAT(dateTime, 'HH:mm'))`.
    pub minute: Text,
    /// `total_bids`: bids.
    pub total_bids: i64,
    /// `rank1_bids`: bids below $100 (`price < 10000` cents).
    pub rank1_bids: i64,
    /// `rank2_bids`: bids from $100 to below $10 000.
    pub rank2_bids: i64,
    /// `rank3_bids`: bids from $10 000 (`price >= 1000000`).
    pub rank3_bids: i64,
    /// `total_bidders`: distinct bidders.
    pub total_bidders: i64,
    /// `rank1_bidders`: distinct bidders of rank-1 bids.
    pub rank1_bidders: i64,
    /// `rank2_bidders`: distinct bidders of rank-2 bids.
    pub rank2_bidders: i64,
    /// `rank3_bidders`: distinct bidders of rank-3 bids.
    pub rank3_bidders: i64,
    /// `total_auctions`: distinct auctions.
    pub total_auctions: i64,
    /// `rank1_auctions`: distinct auctions of rank-1 bids.
    pub rank1_auctions: i64,
    /// `rank2_auctions`: distinct auctions of rank-2 bids.
    pub rank2_auctions: i64,
    /// `rank3_auctions`: distinct auctions of rank-3 bids.
    pub rank3_auctions: i64,
}

impl QueryRow for Q16Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            Value::String(self.channel.to_string()),
            Value::String(self.day.to_string()),
            Value::String(self.minute.to_string()),
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
        Some(vec![
            Value::String(self.channel.to_string()),
            Value::String(self.day.to_string()),
        ])
    }
}

/// What q16 reads of a bid: its channel and the numeric fields.
type ChannelBid = (Text, PricedBid);

/// q16 over `events`: per channel and day, the latest minute and the bid counts and
/// distinct bidder and auction counts, in total and per price rank, as upserts keyed by
/// channel and day.
pub fn q16(events: DataStream<Event>) -> DataStream<Q16Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, ChannelBid>| {
            if let Event::Bid(b) = e {
                let priced = PricedBid::of(&b);
                out.collect((b.channel, priced));
            }
        })
        .name("q16: bids")
        .uid("q16-bids")
        .key_by(|(channel, b): &ChannelBid| (channel.clone(), b.day))
        .process(
            MiniBatch::<(Text, i64), ChannelBid, DailyStats, Q16Row>::new(
                "q16-channel-day-stats",
                |(_, b)| b,
                emit,
            ),
        )
        .name("q16: statistics per channel and day")
        .uid("q16-channel-day-stats")
}

fn emit(key: &(Text, i64), c: DailyCounts, out: &mut Collector<'_, Q16Row>) {
    let [t, r1, r2, r3, tb, b1, b2, b3, ta, a1, a2, a3] = c.counts;
    out.collect(Q16Row {
        channel: key.0.clone(),
        day: day_text(key.1),
        minute: Text::from(time::format_minute(c.max_time).as_str()),
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
