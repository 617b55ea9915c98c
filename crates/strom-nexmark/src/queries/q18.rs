//! Nexmark q18: the last bid of each bidder on each auction.
//!
//! **Question.** What is each bidder's latest bid on each auction?
//!
//! **Reference SQL, in words.** Number the rows of the `bid` view per `(bidder, auction)`
//! by `ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC)` and keep
//! rank 1, selecting all seven bid columns. Flink plans this as a deduplication that keeps
//! the last row on event time: a new row replaces the kept one when its `dateTime` is at
//! least the kept one's, so of bids with equal `dateTime` the one that arrives last wins.
//! The result is an updating table keyed by `(bidder, auction)`.
//!
//! **Pipeline.** A flat-map chained to the source moves each bid out of its event; keyed
//! by `(bidder, auction)`, the mini-batch function of [`super::q15`] keeps per key the
//! latest `dateTime` and, until it is sent, the bid that set it (replaced by a later bid
//! with `dateTime >=` it, as Flink does). Once per watermark advance in which a key's bid
//! changed, the bid is sent as the key's row and dropped from state, leaving only its time.
//! The final table is the SQL result.
//!
//! **Differences from Flink.** None in the result. Where several bids of a key share the
//! latest `dateTime`, the result is the one that arrived last, as in Flink; with a parallel
//! source which one that is depends on how the subtasks interleave, in Flink as here.
//! Flink keeps the whole last row per key (it needs it to retract); here only its time is
//! kept once the row is sent (upserts need no retraction). State is kept forever, as in
//! Flink.

use super::mini_batch::{MiniBatch, Updating};
use crate::model::{Bid, Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::{Collector, Timestamp};

/// One row of q18: the latest bid of a bidder on an auction (the upsert key is bidder and
/// auction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q18Row {
    /// `auction`.
    pub auction: i64,
    /// `bidder`.
    pub bidder: i64,
    /// `price`, in cents.
    pub price: i64,
    /// `channel`.
    pub channel: Text,
    /// `url`.
    pub url: Text,
    /// `dateTime`: when the bid was placed (epoch ms).
    pub date_time: Timestamp,
    /// `extra`.
    pub extra: Text,
}

impl QueryRow for Q18Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            self.auction.into(),
            self.bidder.into(),
            self.price.into(),
            Value::String(self.channel.to_string()),
            Value::String(self.url.to_string()),
            self.date_time.into(),
            Value::String(self.extra.to_string()),
        ]
    }

    fn upsert_key(&self) -> Option<Vec<Value>> {
        Some(vec![self.bidder.into(), self.auction.into()])
    }

    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.date_time)
    }
}

/// q18 over `events`: per bidder and auction, the latest bid, as upserts keyed by bidder
/// and auction.
pub fn q18(events: DataStream<Event>) -> DataStream<Q18Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Bid>| {
            if let Event::Bid(b) = e {
                out.collect(b);
            }
        })
        .name("q18: bids")
        .uid("q18-bids")
        .key_by(|b: &Bid| (b.bidder, b.auction))
        .process(MiniBatch::<(i64, i64), Bid, LastBid, Q18Row>::new(
            "q18-last-bid",
            |b| b,
            emit,
        ))
        .name("q18: last bid per bidder and auction")
        .uid("q18-last-bid")
}

fn emit(_key: &(i64, i64), b: Bid, out: &mut Collector<'_, Q18Row>) {
    out.collect(Q18Row {
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        url: b.url,
        date_time: b.date_time,
        extra: b.extra,
    });
}

/// Per key: the latest `dateTime` seen, and the bid that set it until it is sent (boxed, so
/// that a key whose row was sent keeps a few bytes, not a whole bid).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct LastBid {
    latest: Option<Timestamp>,
    unsent: Option<Box<Bid>>,
}

impl Updating for LastBid {
    type In = Bid;
    type Out = Bid;

    #[inline]
    fn add(&mut self, b: Bid) {
        // Flink's keep-last-row deduplication on event time: `previous <= current`.
        if self.latest.is_none_or(|t| t <= b.date_time) {
            self.latest = Some(b.date_time);
            self.unsent = Some(Box::new(b));
        }
    }

    fn emit(&mut self) -> Option<Bid> {
        self.unsent.take().map(|b| *b)
    }

    fn merge(&mut self, other: Self) {
        if let Some(b) = other.unsent {
            self.add(*b);
        } else if let Some(t) = other.latest {
            self.latest = Some(self.latest.map_or(t, |l| l.max(t)));
        }
    }
}
