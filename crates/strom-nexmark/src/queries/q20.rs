//! Nexmark q20: bids with their auction, for auctions of category 10.
//!
//! **Question.** Which bids were placed on auctions of category 10, with the auction's
//! details?
//!
//! **Reference SQL, in words.** An inner join of `bid B` with `auction A` on `B.auction =
//! A.id`, keeping `A.category = 10`, selecting the bid's seven columns (`dateTime` and
//! `extra` as `bid_dateTime`, `bid_extra` in the sink) and the auction's nine besides its
//! id (`auction_dateTime`, `auction_extra`). A regular join without a time condition: each
//! side is kept forever, a bid joins an auction that arrives later and vice versa. Both
//! inputs only append, so the result only appends.
//!
//! **Pipeline.** One flat-map chained to the source turns bids and auctions into one
//! stream (bids, auctions of category 10, and of other auctions just their ids; persons
//! nothing), keyed by auction id, into one keyed process function that keeps per id:
//! whether the auction is known, and if it is of category 10 the auction itself; and the
//! bids that arrived before their auction. A bid of a known category-10 auction is joined
//! at once; a bid of a known auction of another category is dropped; a bid of an auction
//! not seen yet waits. When the auction arrives, the waiting bids are joined (category 10)
//! or dropped, and none wait again. Rows are emitted as they are produced (the result only
//! appends); each carries copies of the auction's text fields, bids are moved, not copied.
//!
//! **Differences from Flink.** The result is the same. Flink keeps every bid forever (any
//! bid could meet an auction that arrives later) and every category-10 auction; here a
//! bid is kept only while its auction has not arrived, and per auction of another category
//! only a marker is kept (so that its later bids are dropped, not kept). Auction ids are
//! assumed unique, as the generator makes them: a second auction with the same id replaces
//! the first for later bids.

use super::mini_batch::{InPlace, InPlaceState, apply, in_place_state};
use crate::model::{Auction, Bid, Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::{BoxError, Collector, Timestamp};
use strom_process::{KeyedContext, KeyedProcessFunction};

/// The category q20 keeps: `A.category = 10`.
const CATEGORY: i64 = 10;

/// One row of q20: a bid joined with its auction of category 10.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q20Row {
    /// `auction`: the bid's auction, equal to the auction's id.
    pub auction: i64,
    /// `bidder`.
    pub bidder: i64,
    /// `price`: the bid, in cents.
    pub price: i64,
    /// `channel`.
    pub channel: Text,
    /// `url`.
    pub url: Text,
    /// `B.dateTime` (`bid_dateTime`): when the bid was placed (epoch ms).
    pub bid_date_time: Timestamp,
    /// `B.extra` (`bid_extra`).
    pub bid_extra: Text,
    /// `itemName`.
    pub item_name: Text,
    /// `description`.
    pub description: Text,
    /// `initialBid`, in cents.
    pub initial_bid: i64,
    /// `reserve`, in cents.
    pub reserve: i64,
    /// `A.dateTime` (`auction_dateTime`): when the auction opened (epoch ms).
    pub auction_date_time: Timestamp,
    /// `expires`: when the auction closes (epoch ms).
    pub expires: Timestamp,
    /// `seller`.
    pub seller: i64,
    /// `category`: always 10.
    pub category: i64,
    /// `A.extra` (`auction_extra`).
    pub auction_extra: Text,
}

impl QueryRow for Q20Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            self.auction.into(),
            self.bidder.into(),
            self.price.into(),
            Value::String(self.channel.to_string()),
            Value::String(self.url.to_string()),
            self.bid_date_time.into(),
            Value::String(self.bid_extra.to_string()),
            Value::String(self.item_name.to_string()),
            Value::String(self.description.to_string()),
            self.initial_bid.into(),
            self.reserve.into(),
            self.auction_date_time.into(),
            self.expires.into(),
            self.seller.into(),
            self.category.into(),
            Value::String(self.auction_extra.to_string()),
        ]
    }

    /// The later of the two events: the row exists once both have arrived.
    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.bid_date_time.max(self.auction_date_time))
    }
}

/// What q20 reads of the events, keyed by auction id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Q20Input {
    /// A bid.
    Bid(Bid),
    /// An auction of category 10.
    Auction(Auction),
    /// The id of an auction of another category.
    OtherAuction(i64),
}

impl Q20Input {
    /// The auction id: the join key.
    #[inline]
    fn auction_id(&self) -> i64 {
        match self {
            Q20Input::Bid(b) => b.auction,
            Q20Input::Auction(a) => a.id,
            Q20Input::OtherAuction(id) => *id,
        }
    }
}

/// q20 over `events`: every bid on an auction of category 10, joined with the auction.
pub fn q20(events: DataStream<Event>) -> DataStream<Q20Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q20Input>| match e {
            Event::Bid(b) => out.collect(Q20Input::Bid(b)),
            Event::Auction(a) if a.category == CATEGORY => out.collect(Q20Input::Auction(a)),
            Event::Auction(a) => out.collect(Q20Input::OtherAuction(a.id)),
            Event::Person(_) => {}
        })
        .name("q20: bids and auctions")
        .uid("q20-input")
        .key_by(Q20Input::auction_id)
        .process(Q20Join::default())
        .name("q20: join bids with auctions")
        .uid("q20-join")
}

/// q20's join: per auction id, the auction (if known) and the bids waiting for it.
#[derive(Clone)]
struct Q20Join {
    state: InPlaceState<JoinState>,
}

impl Default for Q20Join {
    fn default() -> Self {
        Q20Join {
            state: in_place_state("q20-join"),
        }
    }
}

impl KeyedProcessFunction<i64, Q20Input, Q20Row> for Q20Join {
    #[inline]
    fn process_element(
        &mut self,
        input: Q20Input,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, Q20Row>,
    ) -> Result<(), BoxError> {
        match apply(ctx, &self.state, input)? {
            Joined::Nothing => {}
            Joined::One(row) => out.collect(row),
            Joined::Many(rows) => {
                for row in rows {
                    out.collect(row);
                }
            }
        }
        Ok(())
    }
}

/// The auction side of one id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
enum AuctionSide {
    /// Not arrived yet.
    #[default]
    Unknown,
    /// Of another category: nothing joins.
    Other,
    /// Of category 10.
    Category(Box<Auction>),
}

/// Per auction id: the auction side and the bids that arrived before it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct JoinState {
    auction: AuctionSide,
    waiting: Vec<Bid>,
}

/// What one input produced.
enum Joined {
    /// No row.
    Nothing,
    /// One row (a bid of a known auction).
    One(Q20Row),
    /// The rows of the bids that waited for their auction.
    Many(Vec<Q20Row>),
}

fn join(b: Bid, a: &Auction) -> Q20Row {
    Q20Row {
        auction: b.auction,
        bidder: b.bidder,
        price: b.price,
        channel: b.channel,
        url: b.url,
        bid_date_time: b.date_time,
        bid_extra: b.extra,
        item_name: a.item_name.clone(),
        description: a.description.clone(),
        initial_bid: a.initial_bid,
        reserve: a.reserve,
        auction_date_time: a.date_time,
        expires: a.expires,
        seller: a.seller,
        category: a.category,
        auction_extra: a.extra.clone(),
    }
}

impl InPlace for JoinState {
    type In = Q20Input;
    type Out = Joined;

    #[inline]
    fn apply(&mut self, input: Q20Input) -> Joined {
        match input {
            Q20Input::Bid(b) => match &self.auction {
                AuctionSide::Category(a) => Joined::One(join(b, a)),
                AuctionSide::Other => Joined::Nothing,
                AuctionSide::Unknown => {
                    self.waiting.push(b);
                    Joined::Nothing
                }
            },
            Q20Input::Auction(a) => {
                let waiting = std::mem::take(&mut self.waiting);
                let rows: Vec<Q20Row> = waiting.into_iter().map(|b| join(b, &a)).collect();
                self.auction = AuctionSide::Category(Box::new(a));
                if rows.is_empty() {
                    Joined::Nothing
                } else {
                    Joined::Many(rows)
                }
            }
            Q20Input::OtherAuction(_) => {
                self.waiting = Vec::new();
                self.auction = AuctionSide::Other;
                Joined::Nothing
            }
        }
    }

    fn merge(&mut self, other: Self) {
        if matches!(self.auction, AuctionSide::Unknown) {
            self.auction = other.auction;
        }
        self.waiting.extend(other.waiting);
    }
}
