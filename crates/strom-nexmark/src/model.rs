//! The Nexmark data model: an online auction system where people open auctions and bid.
//!
//! Field names and meanings follow the reference (`nexmark/nexmark`, the model Flink's
//! Nexmark and Beam use); timestamps are epoch milliseconds (UTC), prices are in cents.
//! Identifiers are `i64` because the reference's SQL schema declares them `BIGINT`.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use strom_core::Timestamp;

/// Text fields: short ones (names, cities, channels) are stored inline, without a heap
/// allocation.
pub type Text = CompactString;

/// A new person registers with the auction system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Person id, unique (the first is 1000).
    pub id: i64,
    /// First and last name.
    pub name: Text,
    /// E-mail address.
    pub email_address: Text,
    /// Credit card number, four groups of four digits.
    pub credit_card: Text,
    /// City (one of ten in the western United States).
    pub city: Text,
    /// US state code (one of six).
    pub state: Text,
    /// When the person registered (the event time).
    pub date_time: Timestamp,
    /// Padding that brings the event to its configured average size.
    pub extra: Text,
}

/// A person puts an item up for auction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    /// Auction id, unique (the first is 1000).
    pub id: i64,
    /// Name of the item.
    pub item_name: Text,
    /// Description of the item.
    pub description: Text,
    /// Initial bid, in cents.
    pub initial_bid: i64,
    /// Reserve price, in cents (never below the initial bid).
    pub reserve: i64,
    /// When the auction opened (the event time).
    pub date_time: Timestamp,
    /// When the auction closes.
    pub expires: Timestamp,
    /// The seller's person id.
    pub seller: i64,
    /// Item category (10 to 14).
    pub category: i64,
    /// Padding that brings the event to its configured average size.
    pub extra: Text,
}

/// A person bids in an auction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    /// The auction bid on.
    pub auction: i64,
    /// The bidder's person id.
    pub bidder: i64,
    /// Price, in cents.
    pub price: i64,
    /// Where the bid came from: one of four hot channels or `channel-N`.
    pub channel: Text,
    /// The page the bid was placed from.
    pub url: Text,
    /// When the bid was placed (the event time).
    pub date_time: Timestamp,
    /// Padding that brings the event to its configured average size.
    pub extra: Text,
}

/// One Nexmark event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A new person (`event_type` 0).
    Person(Person),
    /// A new auction (`event_type` 1).
    Auction(Auction),
    /// A bid (`event_type` 2).
    Bid(Bid),
}

impl Event {
    /// The event time.
    #[inline]
    pub fn date_time(&self) -> Timestamp {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// The reference's `event_type` column: 0 person, 1 auction, 2 bid.
    #[inline]
    pub fn event_type(&self) -> u8 {
        match self {
            Event::Person(_) => 0,
            Event::Auction(_) => 1,
            Event::Bid(_) => 2,
        }
    }

    /// The bid, if this is one.
    #[inline]
    pub fn into_bid(self) -> Option<Bid> {
        match self {
            Event::Bid(b) => Some(b),
            _ => None,
        }
    }

    /// The auction, if this is one.
    #[inline]
    pub fn into_auction(self) -> Option<Auction> {
        match self {
            Event::Auction(a) => Some(a),
            _ => None,
        }
    }

    /// The person, if this is one.
    #[inline]
    pub fn into_person(self) -> Option<Person> {
        match self {
            Event::Person(p) => Some(p),
            _ => None,
        }
    }
}
