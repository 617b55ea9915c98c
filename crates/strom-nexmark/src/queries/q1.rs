//! Nexmark q1: currency conversion.
//!
//! **Question.** What is every bid worth in euros? (A stateless per-record
//! transformation.)
//!
//! **Reference SQL, in words.** For every row of the `bid` view select `auction`,
//! `bidder`, `0.908 * price` (dollars to euros; a `DECIMAL(23, 3)` in Flink), `dateTime`
//! and `extra`.
//!
//! **Pipeline.** One flat-map, chained to the source: each bid event is moved into a
//! [`Q1Row`] with the converted price; persons and auctions produce nothing. No state.
//!
//! **Differences from Flink.** The price is an `f64` here, not a decimal: the value
//! `price * 908 / 1000` computed as `(price * 908.0) / 1000.0`, which for prices below
//! 2^53 / 908 (about 10^13 cents) is the `f64` nearest to Flink's exact decimal (one
//! correctly rounded division of an exact product).

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::{Collector, Timestamp};

/// Dollars to euros, in thousandths: `0.908`.
const EUROS_PER_THOUSAND_DOLLARS: f64 = 908.0;

/// `0.908 * price`, as the `f64` nearest to the exact decimal.
#[inline]
pub fn to_euros(price: i64) -> f64 {
    price as f64 * EUROS_PER_THOUSAND_DOLLARS / 1000.0
}

/// One row of q1: a bid with its price in euros.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q1Row {
    /// `auction`: the auction bid on.
    pub auction: i64,
    /// `bidder`: the bidder's person id.
    pub bidder: i64,
    /// `price`: `0.908 * price` of the bid (cents converted to euro cents).
    pub price: f64,
    /// `dateTime`: when the bid was placed (epoch ms).
    pub date_time: Timestamp,
    /// `extra`: the bid's padding.
    pub extra: Text,
}

impl QueryRow for Q1Row {
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

/// q1 over `events`: every bid with its price converted, as a [`Q1Row`].
pub fn q1(events: DataStream<Event>) -> DataStream<Q1Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q1Row>| {
            if let Event::Bid(b) = e {
                out.collect(Q1Row {
                    auction: b.auction,
                    bidder: b.bidder,
                    price: to_euros(b.price),
                    date_time: b.date_time,
                    extra: b.extra,
                });
            }
        })
        .name("q1: bids in euros")
        .uid("q1-currency-conversion")
}
