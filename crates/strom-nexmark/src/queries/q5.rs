//! Nexmark q5: hot items.
//!
//! **Question.** Which auctions have seen the most bids in the last period? (Every 2 s,
//! over the last 10 s.)
//!
//! **Reference SQL, in words.** Count the bids per auction in each hopping window
//! (`HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND)`:
//! windows of 10 s starting every 2 s, aligned to the epoch); separately take per window
//! the largest of those counts (`maxn`); join the two on the window's start and end with
//! `num >= maxn`, and select `auction, num`. So for every window, each auction whose bid
//! count equals the window's maximum gives one row (several on a tie). The output only
//! appends.
//!
//! **Pipeline.**
//!
//! 1. A flat-map chained to the source keeps each bid's auction id (the record keeps the
//!    bid's timestamp).
//! 2. Keyed by auction, sliding event-time windows of 10 s every 2 s count the bids
//!    (incrementally: one counter per auction and 2 s slice, merged when a window fires)
//!    and emit a [`Q5Count`] (window end, auction, count) per auction and window.
//! 3. Keyed by window end, a tumbling 2 s window (the counts of window `[s, e)` carry the
//!    timestamp `e - 1`, so they all fall in `[e - 2 s, e)`, which fires at the same
//!    watermark) keeps the largest count with the auctions that have it
//!    ([`HotAuctions`]) and emits one [`Q5Row`] per such auction.
//!
//! **Differences from Flink.** None in the result. Flink evaluates the two window
//! aggregations separately and joins them; here the count is computed once and the maximum
//! is taken over its output.

use crate::model::Event;
use crate::queries::{CountAll, QueryRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use strom_api::DataStream;
use strom_core::{AggregateFunction, BoxError, Collector, Timestamp};
use strom_window::{
    SlidingEventTimeWindows, TimeWindow, TumblingEventTimeWindows, WindowContext, WindowElements,
};

/// The window size: 10 s.
pub const WINDOW_SIZE: Duration = Duration::from_secs(10);
/// The window slide: 2 s.
pub const WINDOW_SLIDE: Duration = Duration::from_secs(2);

/// One row of q5: an auction with the most bids of a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q5Row {
    /// `AuctionBids.auction`: the auction.
    pub auction: i64,
    /// `AuctionBids.num`: its number of bids in the window (the window's maximum).
    pub num: i64,
    /// Not an output column: the window's end (epoch ms), the row's
    /// [`QueryRow::trigger_time`].
    pub window_end: Timestamp,
}

impl QueryRow for Q5Row {
    fn columns(&self) -> Vec<Value> {
        vec![self.auction.into(), self.num.into()]
    }

    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.window_end)
    }
}

/// The number of bids of one auction in one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q5Count {
    /// The window's end.
    pub window_end: Timestamp,
    /// The auction.
    pub auction: i64,
    /// Its number of bids in the window.
    pub num: i64,
}

/// The largest count of a window and the auctions that have it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotAcc {
    /// The largest count so far (0 before any).
    pub num: i64,
    /// The auctions with that count.
    pub auctions: Vec<i64>,
}

/// Keeps the auctions with the largest count ([`HotAcc`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct HotAuctions;

impl AggregateFunction<Q5Count> for HotAuctions {
    type Acc = HotAcc;
    type Out = HotAcc;
    fn create_accumulator(&self) -> HotAcc {
        HotAcc::default()
    }
    #[inline]
    fn add(&self, acc: &mut HotAcc, c: &Q5Count) {
        if c.num > acc.num {
            acc.num = c.num;
            acc.auctions.clear();
            acc.auctions.push(c.auction);
        } else if c.num == acc.num {
            acc.auctions.push(c.auction);
        }
    }
    fn get_result(&self, acc: &HotAcc) -> HotAcc {
        acc.clone()
    }
    fn merge(&self, mut a: HotAcc, mut b: HotAcc) -> HotAcc {
        if b.num > a.num {
            std::mem::swap(&mut a, &mut b);
        }
        if b.num == a.num {
            a.auctions.extend(b.auctions);
        }
        a
    }
}

/// q5 over `events`: per hopping window the auctions with the most bids, as [`Q5Row`]s.
pub fn q5(events: DataStream<Event>) -> DataStream<Q5Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, i64>| {
            if let Event::Bid(b) = e {
                out.collect(b.auction);
            }
        })
        .name("q5: bid auctions")
        .uid("q5-bid-auctions")
        .key_by(|auction: &i64| *auction)
        .window(SlidingEventTimeWindows::of(WINDOW_SIZE, WINDOW_SLIDE))
        .aggregate_with_process(
            CountAll,
            |auction: &i64,
             ctx: &mut WindowContext<'_, TimeWindow>,
             counts: WindowElements<'_, i64>,
             out: &mut Collector<'_, Q5Count>|
             -> Result<(), BoxError> {
                let window_end = ctx.window().end;
                for &num in counts {
                    out.collect(Q5Count {
                        window_end,
                        auction: *auction,
                        num,
                    });
                }
                Ok(())
            },
        )
        .name("q5: bids per auction and window")
        .uid("q5-count-bids")
        .key_by(|c: &Q5Count| c.window_end)
        .window(TumblingEventTimeWindows::of(WINDOW_SLIDE))
        .aggregate_with_process(
            HotAuctions,
            |window_end: &i64,
             _ctx: &mut WindowContext<'_, TimeWindow>,
             hot: WindowElements<'_, HotAcc>,
             out: &mut Collector<'_, Q5Row>|
             -> Result<(), BoxError> {
                for h in hot {
                    for &auction in &h.auctions {
                        out.collect(Q5Row {
                            auction,
                            num: h.num,
                            window_end: *window_end,
                        });
                    }
                }
                Ok(())
            },
        )
        .name("q5: hottest auctions per window")
        .uid("q5-hot-auctions")
}
