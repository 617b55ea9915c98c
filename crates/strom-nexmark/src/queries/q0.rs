//! Nexmark q0: pass-through.
//!
//! **Question.** None: the query forwards every bid unchanged. It measures what the
//! source, the event model and the sink cost on their own, the floor under every other
//! query.
//!
//! **Reference SQL, in words.** Select `auction`, `bidder`, `price`, `dateTime` and
//! `extra` of every row of the `bid` view (the events whose type is a bid), in input
//! order, with no filter.
//!
//! **Pipeline.** One flat-map, chained to the source: each bid event is moved (not
//! copied) into a [`Q0Row`]; persons and auctions produce nothing. There is no state.
//!
//! **Differences from Flink.** None in the result.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::{Collector, Timestamp};

/// One row of q0: a bid as the reference selects it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q0Row {
    /// `auction`: the auction bid on.
    pub auction: i64,
    /// `bidder`: the bidder's person id.
    pub bidder: i64,
    /// `price`: the bid, in cents.
    pub price: i64,
    /// `dateTime`: when the bid was placed (epoch ms).
    pub date_time: Timestamp,
    /// `extra`: the bid's padding.
    pub extra: Text,
}

impl QueryRow for Q0Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            self.auction.into(),
            self.bidder.into(),
            self.price.into(),
            self.date_time.into(),
            Value::String(self.extra.to_string()),
        ]
    }

    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.date_time)
    }
}

/// q0 over `events`: every bid, as a [`Q0Row`].
pub fn q0(events: DataStream<Event>) -> DataStream<Q0Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q0Row>| {
            if let Event::Bid(b) = e {
                out.collect(Q0Row {
                    auction: b.auction,
                    bidder: b.bidder,
                    price: b.price,
                    date_time: b.date_time,
                    extra: b.extra,
                });
            }
        })
        .name("q0: bids")
        .uid("q0-bids")
}
