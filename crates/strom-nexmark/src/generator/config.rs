//! What the generator produces: the reference's `NexmarkConfiguration`, with its defaults.

use strom_core::Timestamp;

/// The generator's parameters. The defaults are the reference's (`nexmark/nexmark`'s
/// `NexmarkConfiguration`), except that the base time is fixed (the reference takes the
/// wall clock) so that runs are reproducible.
#[derive(Clone, Debug, PartialEq)]
pub struct NexmarkConfig {
    /// Seeds every random choice; the same seed gives the same events.
    pub seed: u64,
    /// How many events to generate; `None` generates forever.
    pub events: Option<u64>,
    /// Event-time rate: events per second of event time (the reference's
    /// `first-event.rate`, 10 000). Event `n` happens at `base_time + n / rate`.
    pub event_rate: u64,
    /// Event time of the first event, epoch ms (default 2015-07-15 00:00:00 UTC).
    pub base_time: Timestamp,
    /// Persons per `person + auction + bid` events (1).
    pub person_proportion: u64,
    /// Auctions per `person + auction + bid` events (3).
    pub auction_proportion: u64,
    /// Bids per `person + auction + bid` events (46).
    pub bid_proportion: u64,
    /// Average size of a person event, in bytes; `extra` pads to it (200).
    pub avg_person_byte_size: usize,
    /// Average size of an auction event (500).
    pub avg_auction_byte_size: usize,
    /// Average size of a bid event (100).
    pub avg_bid_byte_size: usize,
    /// One bid in this many goes to a random auction, the rest to a hot one (2).
    pub hot_auction_ratio: u64,
    /// One auction in this many has a random seller, the rest a hot one (4).
    pub hot_sellers_ratio: u64,
    /// One bid in this many has a random bidder, the rest a hot one (4).
    pub hot_bidders_ratio: u64,
    /// People considered active when picking sellers and bidders (1000).
    pub num_active_people: u64,
    /// Auctions considered open when picking the auction of a bid (100).
    pub num_in_flight_auctions: u64,
    /// Events are emitted in a pseudo-random order within groups of this many (1: in
    /// order); event times then go back and forth within a group.
    pub out_of_order_group_size: u64,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        NexmarkConfig {
            seed: 0,
            events: None,
            event_rate: 10_000,
            base_time: 1_436_918_400_000,
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
            hot_auction_ratio: 2,
            hot_sellers_ratio: 4,
            hot_bidders_ratio: 4,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            out_of_order_group_size: 1,
        }
    }
}

/// A configuration the generator cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Nexmark configuration: {0}")]
pub struct ConfigError(pub String);

impl NexmarkConfig {
    /// `events` events from seed `seed`, the rest default.
    pub fn new(seed: u64, events: u64) -> Self {
        NexmarkConfig {
            seed,
            events: Some(events),
            ..Default::default()
        }
    }

    /// Check that every parameter is usable; the message says which one is not and why.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("event_rate", self.event_rate),
            ("person_proportion", self.person_proportion),
            ("auction_proportion", self.auction_proportion),
            ("bid_proportion", self.bid_proportion),
            ("hot_auction_ratio", self.hot_auction_ratio),
            ("hot_sellers_ratio", self.hot_sellers_ratio),
            ("hot_bidders_ratio", self.hot_bidders_ratio),
            ("num_active_people", self.num_active_people),
            ("out_of_order_group_size", self.out_of_order_group_size),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        if self.event_rate > 1_000_000_000 {
            return Err(ConfigError(format!(
                "event_rate {} is above 10^9 events per second of event time: timestamps would stop advancing",
                self.event_rate
            )));
        }
        Ok(())
    }

    /// `person + auction + bid` proportions.
    pub fn total_proportion(&self) -> u64 {
        self.person_proportion + self.auction_proportion + self.bid_proportion
    }
}
