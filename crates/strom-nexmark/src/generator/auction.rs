//! New auctions: the reference's `AuctionGenerator`.

use super::NexmarkGenerator;
use super::person::FIRST_PERSON_ID;
use super::rng::Rng;
use super::strings::{next_extra, next_string};
use crate::model::Auction;
use strom_core::Timestamp;

/// The first auction id.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// The first category id; categories are `10..15`.
pub const FIRST_CATEGORY_ID: i64 = 10;
const NUM_CATEGORIES: u64 = 5;
/// How many not-yet-created auctions a bid may refer to.
const AUCTION_ID_LEAD: i64 = 10;
/// Hot sellers are the first of each batch of this many people.
const HOT_SELLER_RATIO: i64 = 100;

impl NexmarkGenerator {
    /// The auction created by event `event_id`, the `number`-th event of the timeline.
    pub(super) fn auction(
        &self,
        number: u64,
        event_id: i64,
        rng: &mut Rng,
        ts: Timestamp,
    ) -> Auction {
        let id = self.last_base0_auction_id(event_id) + FIRST_AUCTION_ID;
        let seller = if rng.below(self.config.hot_sellers_ratio) > 0 {
            (self.last_base0_person_id(event_id) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
        } else {
            self.next_base0_person_id(event_id, rng)
        } + FIRST_PERSON_ID;
        let category = FIRST_CATEGORY_ID + rng.below(NUM_CATEGORIES) as i64;
        let initial_bid = next_price(rng);
        let expires = ts + self.next_auction_length_ms(number, rng, ts);
        let item_name = next_string(rng, 20, ' ');
        let description = next_string(rng, 100, ' ');
        let reserve = initial_bid + next_price(rng);
        let size = 8 + item_name.len() + description.len() + 8 + 8 + 8 + 8 + 8;
        let extra = next_extra(rng, size, self.config.avg_auction_byte_size);
        Auction {
            id,
            item_name,
            description,
            initial_bid,
            reserve,
            date_time: ts,
            expires,
            seller,
            category,
            extra,
        }
    }

    /// The last auction id (base 0) created at or before event `event_id` (-1 before the
    /// first).
    pub(super) fn last_base0_auction_id(&self, event_id: i64) -> i64 {
        let total = self.total as i64;
        let persons = self.config.person_proportion as i64;
        let auctions = self.config.auction_proportion as i64;
        let mut epoch = event_id.div_euclid(total);
        let mut offset = event_id.rem_euclid(total);
        if offset < persons {
            // A person: the last auction was the previous epoch's last.
            epoch -= 1;
            offset = auctions - 1;
        } else if offset >= persons + auctions {
            // A bid: the last auction was this epoch's last.
            offset = auctions - 1;
        } else {
            offset -= persons;
        }
        epoch * auctions + offset
    }

    /// A random auction (base 0) that is probably still open, or one of the next few.
    pub(super) fn next_base0_auction_id(&self, event_id: i64, rng: &mut Rng) -> i64 {
        let max = self.last_base0_auction_id(event_id);
        let min = (max - self.config.num_in_flight_auctions as i64).max(0);
        min + rng.below_i64(max - min + 1 + AUCTION_ID_LEAD)
    }

    /// An auction length averaging the time until `num_in_flight_auctions` more auctions
    /// have been created, so that about that many are open at any time.
    fn next_auction_length_ms(&self, number: u64, rng: &mut Rng, ts: Timestamp) -> i64 {
        let current = self.adjusted_number(number);
        let events_for_auctions =
            (self.config.num_in_flight_auctions * self.total) / self.config.auction_proportion;
        let future_auction = self.timestamp_for(current + events_for_auctions);
        let horizon = future_auction - ts;
        1 + rng.below_i64((horizon * 2).max(1))
    }
}

/// A price in cents, log-uniform from $1 to $1 000 000.
pub(super) fn next_price(rng: &mut Rng) -> i64 {
    ((rng.next_f64() * 6.0 * std::f64::consts::LN_10).exp() * 100.0).round() as i64
}
