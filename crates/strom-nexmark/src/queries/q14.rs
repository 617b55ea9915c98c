//! Nexmark q14, calculation: which bids fall in a price band, with the time of day they were
//! placed, a converted price and a character count from a user-defined function?
//!
//! The reference SQL selects from the bids those whose `0.908 * price` lies strictly
//! between 1 000 000 and 50 000 000, and projects `auction`, `bidder`, `0.908 * price`
//! (a `DECIMAL`), `bidTimeType` (`'dayTime'` when `HOUR(dateTime)` is 8 to 18,
//! `'nightTime'` when it is at most 6 or at least 20, `'otherTime'` otherwise, i.e. hours 7
//! and 19), `dateTime`, `extra` and `c_counts`, the number of `'c'` bytes in `extra` (the
//! reference's `count_char` UDF counts bytes equal to the first byte of its second
//! argument).
//!
//! The pipeline is one chained `flat_map`: a bid outside the band is dropped, any other
//! event is ignored, and a bid in the band is turned into a [`Q14Row`] by moving its fields
//! (no allocation). The band test is exact, in integers (`908 * price` against
//! `1 000 000 000` and `50 000 000 000`, what the `DECIMAL` comparison computes); the
//! converted price is reported as an `f64` (`0.908 * price`), which differs from the exact
//! decimal only in the last bits.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use crate::time::hour_of_day;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use strom_api::DataStream;
use strom_core::Timestamp;

/// One row of q14's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q14Row {
    /// The auction bid on.
    pub auction: i64,
    /// The bidder.
    pub bidder: i64,
    /// `0.908 * price`.
    pub price: f64,
    /// `dayTime`, `nightTime` or `otherTime`, by the hour (UTC) of the bid.
    pub bid_time_type: Text,
    /// When the bid was placed.
    pub date_time: Timestamp,
    /// The bid's padding.
    pub extra: Text,
    /// How many `c` bytes `extra` has.
    pub c_counts: i64,
}

impl QueryRow for Q14Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            json!(self.auction),
            json!(self.bidder),
            json!(self.price),
            json!(self.bid_time_type.as_str()),
            json!(self.date_time),
            json!(self.extra.as_str()),
            json!(self.c_counts),
        ]
    }

    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.date_time)
    }
}

/// The `CASE` over `HOUR(dateTime)`: `dayTime` for 8 to 18, `nightTime` for 0 to 6 and 20
/// to 23, `otherTime` for 7 and 19.
pub fn bid_time_type(date_time: Timestamp) -> &'static str {
    let hour = hour_of_day(date_time);
    if (8..=18).contains(&hour) {
        "dayTime"
    } else if hour <= 6 || hour >= 20 {
        "nightTime"
    } else {
        "otherTime"
    }
}

/// The reference's `count_char(s, c)` UDF: how many bytes of `s` equal `c`.
pub fn count_char(s: &str, c: u8) -> i64 {
    memchr::memchr_iter(c, s.as_bytes()).count() as i64
}

/// Whether `0.908 * price` lies strictly between 1 000 000 and 50 000 000 (exactly, as the
/// SQL's decimal arithmetic decides it).
pub fn in_price_band(price: i64) -> bool {
    let scaled = i128::from(price) * 908;
    scaled > 1_000_000_000 && scaled < 50_000_000_000
}

/// Nexmark q14 over `events`: the bids in the price band, converted and classified.
pub fn q14(events: DataStream<Event>) -> DataStream<Q14Row> {
    events
        .flat_map(|e: Event, out: &mut strom_core::Collector<'_, Q14Row>| {
            if let Event::Bid(b) = e
                && in_price_band(b.price)
            {
                let c_counts = count_char(&b.extra, b'c');
                out.collect(Q14Row {
                    auction: b.auction,
                    bidder: b.bidder,
                    price: 0.908 * b.price as f64,
                    bid_time_type: Text::const_new(bid_time_type(b.date_time)),
                    date_time: b.date_time,
                    extra: b.extra,
                    c_counts,
                });
            }
        })
        .name("q14-calculation")
        .uid("q14-calculation")
}
