//! Nexmark q19: the ten highest bids of each auction.
//!
//! **Question.** Which are the ten highest bids of each auction?
//!
//! **Reference SQL, in words.** Number the rows of the `bid` view per `auction` by
//! `ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC)` and keep ranks 1 to 10,
//! selecting all seven bid columns and the rank as `rank_number`. Flink runs this as an
//! append-only top-N with row numbers: the buffer holds the best rows sorted by price; a
//! new row enters if fewer than ten are held or its price is strictly above the tenth's,
//! and goes after the rows of equal price already held (of equal prices, the earlier
//! arrival ranks higher); the rows it pushes down change rank, the tenth falls out. The
//! result is an updating table keyed by `(auction, rank_number)`.
//!
//! **Pipeline.** A flat-map chained to the source moves each bid out of its event; keyed
//! by auction, the mini-batch function of [`super::q15`] keeps per auction the (at most)
//! ten best bids sorted by descending price, inserting a bid after those of equal or
//! higher price (bids that do not enter are not copied or kept), and the highest rank
//! changed since the last emission. Once per watermark advance in which an auction's top
//! ten changed, the rows from that rank down are sent. The final table is the SQL result.
//!
//! **Differences from Flink.** None in the result. Of bids with equal prices the one that
//! arrived first ranks higher, as in Flink; with a parallel source the arrival order of
//! bids from different subtasks depends on how they interleave, in Flink as here. Upserts
//! per watermark advance instead of retractions and updates per record. State is kept
//! forever, as in Flink. [`QueryRow::trigger_time`] is `None`: a row whose bid was pushed
//! down by a newer bid was triggered by that newer bid, whose time the row does not carry.

use super::mini_batch::{MiniBatch, Updating};
use crate::model::{Bid, Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::{Collector, Timestamp};

/// How many bids per auction: `rank_number <= 10`.
const TOP_N: usize = 10;

/// One row of q19: a bid at a rank of its auction's top ten (the upsert key is auction and
/// rank).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q19Row {
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
    /// `rank_number`: 1 for the highest bid, up to 10.
    pub rank_number: i64,
}

impl QueryRow for Q19Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            self.auction.into(),
            self.bidder.into(),
            self.price.into(),
            Value::String(self.channel.to_string()),
            Value::String(self.url.to_string()),
            self.date_time.into(),
            Value::String(self.extra.to_string()),
            self.rank_number.into(),
        ]
    }

    fn upsert_key(&self) -> Option<Vec<Value>> {
        Some(vec![self.auction.into(), self.rank_number.into()])
    }
}

/// q19 over `events`: per auction, the ten highest bids with their rank, as upserts keyed
/// by auction and rank.
pub fn q19(events: DataStream<Event>) -> DataStream<Q19Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Bid>| {
            if let Event::Bid(b) = e {
                out.collect(b);
            }
        })
        .name("q19: bids")
        .uid("q19-bids")
        .key_by(|b: &Bid| b.auction)
        .process(MiniBatch::<i64, Bid, TopBids, Q19Row>::new(
            "q19-top-bids",
            |b| b,
            emit,
        ))
        .name("q19: top 10 bids per auction")
        .uid("q19-top-bids")
}

fn emit(_auction: &i64, rows: Vec<Q19Row>, out: &mut Collector<'_, Q19Row>) {
    for row in rows {
        out.collect(row);
    }
}

/// Per auction: the best bids by descending price (equal prices in arrival order), and
/// the index of the highest rank changed since the last emission.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct TopBids {
    bids: Vec<Bid>,
    changed_from: Option<usize>,
}

impl Updating for TopBids {
    type In = Bid;
    type Out = Vec<Q19Row>;

    #[inline]
    fn add(&mut self, b: Bid) {
        // After every held bid of equal or higher price; nowhere if that is past the tenth.
        let at = self.bids.partition_point(|held| held.price >= b.price);
        if at >= TOP_N {
            return;
        }
        if self.bids.capacity() == 0 {
            self.bids.reserve_exact(TOP_N + 1);
        }
        self.bids.insert(at, b);
        self.bids.truncate(TOP_N);
        self.changed_from = Some(self.changed_from.map_or(at, |c| c.min(at)));
    }

    fn emit(&mut self) -> Option<Vec<Q19Row>> {
        let from = self.changed_from.take()?;
        Some(
            self.bids[from..]
                .iter()
                .zip(from as i64 + 1..)
                .map(|(b, rank_number)| Q19Row {
                    auction: b.auction,
                    bidder: b.bidder,
                    price: b.price,
                    channel: b.channel.clone(),
                    url: b.url.clone(),
                    date_time: b.date_time,
                    extra: b.extra.clone(),
                    rank_number,
                })
                .collect(),
        )
    }

    fn merge(&mut self, other: Self) {
        for b in other.bids {
            self.add(b);
        }
    }
}
