//! Nexmark q7: highest bid.
//!
//! **Question.** Which bids are the highest of each period? (Periods of 10 s.)
//!
//! **Reference SQL, in words.** An inner query takes the highest price of every tumbling
//! 10 s window (`TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND)`, windows
//! `[start, start + 10 s)` aligned to the epoch) as `maxprice`, with the window's end as
//! its `dateTime`. The bids are joined to it (a regular join) on `B.price = maxprice` with
//! `B.dateTime BETWEEN window_end - 10 s AND window_end`, and `auction, bidder, price,
//! dateTime, extra` of the bid are selected. `BETWEEN` includes both ends, so besides the
//! window's own bids that have the highest price (all of them on a tie), a bid at exactly
//! `window_end` (the first instant of the next window) matches too when its price equals
//! the window's highest: such a bid can give two rows, one per window. The output only
//! appends.
//!
//! **Pipeline.**
//!
//! 1. A process function chained to the source turns each bid into a small [`Q7Bid`]
//!    (moving its fields, dropping channel and URL); a bid at an exact multiple of 10 s,
//!    which also borders the previous window, is copied to a side output as well.
//! 2. The bids are spread over [`BUCKETS`] keys (by their time: an even spread, whatever
//!    the auctions' popularity) and each key's tumbling 10 s window keeps only its highest
//!    bids ([`Q7Top`]: the price and the bids with it; a bid is copied only when it
//!    reaches the key's highest price so far). When the window ends each key sends its
//!    top.
//! 3. Keyed by window end, [`Q7Highest`] merges the keys' tops and collects the border
//!    bids (those at exactly the window's end). A timer at the window's end fires when the
//!    watermark reaches it — by then every top (timestamp `end - 1`) and every border bid
//!    (timestamp `end`, not late before the watermark passes it) has arrived — and emits
//!    the window's highest bids and the border bids with the same price.
//!
//! **Differences from Flink.** None in the result. Flink joins every bid against the
//! window maxima in a regular join that keeps all bids forever; here each window keeps
//! only its current highest bids (and the few border bids), dropped when it has fired.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use strom_api::DataStream;
use strom_core::{AggregateFunction, BoxError, Collector, OutputTag, ProcessContext, Timestamp};
use strom_process::{KeyedContext, KeyedProcessFunction};
use strom_state::ReducingStateDescriptor;
use strom_window::TumblingEventTimeWindows;

/// The window size: 10 s.
pub const WINDOW_SIZE: Duration = Duration::from_secs(10);
const WINDOW_MS: i64 = 10_000;
/// How many keys the per-window pre-aggregation spreads the bids over.
pub const BUCKETS: i64 = 128;

/// One row of q7: a bid with the highest price of a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q7Row {
    /// `B.auction`: the auction bid on.
    pub auction: i64,
    /// `B.bidder`: the bidder.
    pub bidder: i64,
    /// `B.price`: the price, the window's highest.
    pub price: i64,
    /// `B.dateTime`: when the bid was placed (epoch ms).
    pub date_time: Timestamp,
    /// `B.extra`: the bid's padding.
    pub extra: Text,
    /// Not an output column: the end of the window whose highest price the bid has, the
    /// row's [`QueryRow::trigger_time`].
    pub window_end: Timestamp,
}

impl QueryRow for Q7Row {
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
        Some(self.window_end)
    }
}

/// The fields of a bid q7 selects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q7Bid {
    /// `auction`.
    pub auction: i64,
    /// `bidder`.
    pub bidder: i64,
    /// `price`.
    pub price: i64,
    /// `dateTime`.
    pub date_time: Timestamp,
    /// `extra`.
    pub extra: Text,
}

impl Q7Bid {
    fn into_row(self, window_end: Timestamp) -> Q7Row {
        Q7Row {
            auction: self.auction,
            bidder: self.bidder,
            price: self.price,
            date_time: self.date_time,
            extra: self.extra,
            window_end,
        }
    }
}

/// The end of the tumbling window that contains `t`.
#[inline]
pub fn window_end(t: Timestamp) -> Timestamp {
    t - t.rem_euclid(WINDOW_MS) + WINDOW_MS
}

/// The highest bids of a set of bids: their price and every bid with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q7Top {
    /// The highest price (meaningless while `bids` is empty).
    pub price: i64,
    /// The bids with that price.
    pub bids: Vec<Q7Bid>,
}

impl Q7Top {
    /// Fold in `other`.
    fn merge(mut self, mut other: Q7Top) -> Q7Top {
        if self.bids.is_empty() || (!other.bids.is_empty() && other.price > self.price) {
            std::mem::swap(&mut self, &mut other);
        }
        if !other.bids.is_empty() && other.price == self.price {
            self.bids.append(&mut other.bids);
        }
        self
    }
}

/// Keeps the highest bids of a window ([`Q7Top`]), copying a bid only when it reaches the
/// highest price so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct HighestBids;

impl AggregateFunction<Q7Bid> for HighestBids {
    type Acc = Q7Top;
    type Out = Q7Top;
    fn create_accumulator(&self) -> Q7Top {
        Q7Top::default()
    }
    #[inline]
    fn add(&self, top: &mut Q7Top, bid: &Q7Bid) {
        if top.bids.is_empty() || bid.price > top.price {
            top.price = bid.price;
            top.bids.clear();
            top.bids.push(bid.clone());
        } else if bid.price == top.price {
            top.bids.push(bid.clone());
        }
    }
    fn get_result(&self, top: &Q7Top) -> Q7Top {
        top.clone()
    }
    fn merge(&self, a: Q7Top, b: Q7Top) -> Q7Top {
        a.merge(b)
    }
}

/// What the per-window merge reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Q7Part {
    /// One key's highest bids of a window (all within the window).
    Top(Q7Top),
    /// A bid at exactly a multiple of 10 s: on the border of the window ending then.
    Border(Q7Bid),
}

impl Q7Part {
    /// The end of the window this part belongs to.
    pub fn window_end(&self) -> Timestamp {
        match self {
            Q7Part::Top(t) => t
                .bids
                .first()
                .map_or(Timestamp::MIN, |b| window_end(b.date_time)),
            Q7Part::Border(b) => b.date_time,
        }
    }
}

/// A window's merged highest bids and its border bids.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q7Window {
    /// The highest bids of the window so far.
    pub top: Q7Top,
    /// The bids at exactly the window's end.
    pub border: Vec<Q7Bid>,
}

impl Q7Window {
    /// Fold in `other` (owned values: no bid is copied).
    fn merge(mut self, mut other: Q7Window) -> Q7Window {
        self.top = std::mem::take(&mut self.top).merge(other.top);
        self.border.append(&mut other.border);
        self
    }
}

type MergeWindows = fn(Q7Window, Q7Window) -> Q7Window;

/// Stage 3 of q7, keyed by window end: merges the tops, keeps the border bids and emits
/// the rows when the watermark reaches the window's end.
#[derive(Clone)]
pub struct Q7Highest {
    window: ReducingStateDescriptor<Q7Window, MergeWindows>,
}

impl Default for Q7Highest {
    fn default() -> Self {
        Q7Highest {
            window: ReducingStateDescriptor::new("window", Q7Window::merge as MergeWindows),
        }
    }
}

impl KeyedProcessFunction<Timestamp, Q7Part, Q7Row> for Q7Highest {
    fn process_element(
        &mut self,
        part: Q7Part,
        ctx: &mut KeyedContext<'_, Timestamp>,
        _out: &mut Collector<'_, Q7Row>,
    ) -> Result<(), BoxError> {
        let end = *ctx.key();
        let add = match part {
            Q7Part::Top(top) => Q7Window {
                top,
                border: Vec::new(),
            },
            Q7Part::Border(bid) => Q7Window {
                top: Q7Top::default(),
                border: vec![bid],
            },
        };
        ctx.reducing_state(&self.window).add(add)?;
        // One timer per key and time: registering it again is a no-op.
        ctx.timer_service().register_event_time_timer(end);
        Ok(())
    }

    fn on_timer(
        &mut self,
        _time: Timestamp,
        ctx: &mut KeyedContext<'_, Timestamp>,
        out: &mut Collector<'_, Q7Row>,
    ) -> Result<(), BoxError> {
        let end = *ctx.key();
        let Some(w) = ctx.reducing_state(&self.window).get()? else {
            return Ok(());
        };
        ctx.reducing_state(&self.window).clear()?;
        if w.top.bids.is_empty() {
            // No bid inside the window: it has no highest price.
            return Ok(());
        }
        let price = w.top.price;
        for bid in w.top.bids {
            out.collect(bid.into_row(end));
        }
        for bid in w.border {
            if bid.price == price {
                out.collect(bid.into_row(end));
            }
        }
        Ok(())
    }
}

/// q7 over `events`: per tumbling window the bids with its highest price, as [`Q7Row`]s.
pub fn q7(events: DataStream<Event>) -> DataStream<Q7Row> {
    let border = OutputTag::<Q7Bid>::new("q7-border-bids");
    let tag = border.clone();
    let bids = events
        .process(
            move |e: Event,
                  ctx: &mut ProcessContext<'_>,
                  out: &mut Collector<'_, Q7Bid>|
                  -> Result<(), BoxError> {
                if let Event::Bid(b) = e {
                    let bid = Q7Bid {
                        auction: b.auction,
                        bidder: b.bidder,
                        price: b.price,
                        date_time: b.date_time,
                        extra: b.extra,
                    };
                    if bid.date_time.rem_euclid(WINDOW_MS) == 0 {
                        ctx.output(&tag, bid.clone());
                    }
                    out.collect(bid);
                }
                Ok(())
            },
        )
        .name("q7: bids")
        .uid("q7-bids");
    let border_bids = bids
        .side_output(&border)
        .map(Q7Part::Border)
        .name("q7: border bids")
        .uid("q7-border-bids");
    bids.key_by(|b: &Q7Bid| b.date_time.rem_euclid(BUCKETS))
        .window(TumblingEventTimeWindows::of(WINDOW_SIZE))
        .aggregate(HighestBids)
        .name("q7: highest bids per window and key")
        .uid("q7-highest-per-key")
        .map(Q7Part::Top)
        .name("q7: tops")
        .uid("q7-tops")
        .union([border_bids])
        .key_by(|p: &Q7Part| p.window_end())
        .process(Q7Highest::default())
        .name("q7: highest bids per window")
        .uid("q7-highest")
}
