//! Nexmark q2: selection.
//!
//! **Question.** Which bids were placed in a few chosen auctions?
//!
//! **Reference SQL, in words.** Select `auction` and `price` of every bid whose auction id
//! is a multiple of 123 (`MOD(auction, 123) = 0`).
//!
//! **Pipeline.** One flat-map, chained to the source, keeps the matching bids and moves
//! their two columns into a [`Q2Row`]. There is no state.
//!
//! **Differences from Flink.** None in the result.

use crate::model::Event;
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::{Collector, Timestamp};

/// The auctions q2 selects are those whose id is a multiple of this.
pub const AUCTION_MODULUS: i64 = 123;

/// One row of q2.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q2Row {
    /// `auction`: the auction bid on.
    pub auction: i64,
    /// `price`: the bid, in cents.
    pub price: i64,
    /// Not an output column: the bid's time, the row's [`QueryRow::trigger_time`].
    pub date_time: Timestamp,
}

impl QueryRow for Q2Row {
    fn columns(&self) -> Vec<Value> {
        vec![self.auction.into(), self.price.into()]
    }

    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.date_time)
    }
}

/// q2 over `events`: the bids of every 123rd auction.
pub fn q2(events: DataStream<Event>) -> DataStream<Q2Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q2Row>| {
            if let Event::Bid(b) = e
                && b.auction % AUCTION_MODULUS == 0
            {
                out.collect(Q2Row {
                    auction: b.auction,
                    price: b.price,
                    date_time: b.date_time,
                });
            }
        })
        .name("q2: selection")
        .uid("q2-selection")
}
