//! The Nexmark event generator, faithful to the reference (`nexmark/nexmark`, which Flink's
//! Nexmark runs): the same id arithmetic, proportions (1 person : 3 auctions : 46 bids),
//! hot auctions, sellers, bidders and channels, price and auction-length distributions,
//! padding sizes and event-time spacing.
//!
//! Event number `n` of the timeline is a pure function of `(config, n)`: its random choices
//! come from a stream seeded by the configured seed and the event id. Any subtask can
//! therefore generate any event, a parallel source takes every `p`-th number (the same
//! events at any parallelism) and a restored source resumes from a number alone.
//!
//! Where this deliberately differs from the reference: the reference draws from an
//! unseeded `java.util.Random` and a wall-clock base time, so its output changes from run to
//! run; here both follow the configuration. The random streams are not Java's, so the same
//! parameters give statistically the same data, not byte-identical data.

mod auction;
mod bid;
pub mod config;
mod person;
pub mod rng;
mod strings;

pub use auction::{FIRST_AUCTION_ID, FIRST_CATEGORY_ID};
pub use bid::{CHANNELS_NUMBER, HOT_CHANNELS};
pub use config::{ConfigError, NexmarkConfig};
pub use person::FIRST_PERSON_ID;

use crate::model::Event;
use bid::Channels;
use rng::Rng;
use std::sync::Arc;
use strom_core::Timestamp;

/// Generates the events of one configuration; cheap to clone and share across subtasks.
#[derive(Clone, Debug)]
pub struct NexmarkGenerator {
    config: NexmarkConfig,
    total: u64,
    inter_event_delay_us: f64,
    channels: Arc<Channels>,
}

impl NexmarkGenerator {
    /// A generator for `config`, or what is wrong with it.
    pub fn new(config: NexmarkConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(NexmarkGenerator {
            total: config.total_proportion(),
            inter_event_delay_us: 1_000_000.0 / config.event_rate as f64,
            channels: Arc::new(Channels::new(config.seed)),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// Event number `number` of the timeline (`0, 1, 2, …`).
    pub fn event(&self, number: u64) -> Event {
        let adjusted = self.adjusted_number(number);
        let ts = self.timestamp_for(adjusted);
        let event_id = adjusted as i64;
        let mut rng = Rng::new(self.config.seed, adjusted);
        let rem = adjusted % self.total;
        if rem < self.config.person_proportion {
            Event::Person(self.person(event_id, &mut rng, ts))
        } else if rem < self.config.person_proportion + self.config.auction_proportion {
            Event::Auction(self.auction(number, event_id, &mut rng, ts))
        } else {
            Event::Bid(self.bid(event_id, &mut rng, ts))
        }
    }

    /// All the configured events in timeline order (forever if the count is unbounded).
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        (0..self.config.events.unwrap_or(u64::MAX)).map(move |n| self.event(n))
    }

    /// The event time of the event with (adjusted) number `number`.
    pub fn timestamp_for(&self, number: u64) -> Timestamp {
        self.config.base_time + ((number as f64 * self.inter_event_delay_us) as i64) / 1000
    }

    /// The lowest event time any event from number `number` on can have (the generator's
    /// own perfect watermark: event times only go back within an out-of-order group).
    pub fn watermark_for(&self, number: u64) -> Timestamp {
        let n = self.config.out_of_order_group_size;
        self.timestamp_for((number / n) * n)
    }

    /// The number whose id and time event `number` takes: the identity, or a pseudo-random
    /// permutation within each out-of-order group.
    fn adjusted_number(&self, number: u64) -> u64 {
        let n = self.config.out_of_order_group_size;
        if n <= 1 {
            return number;
        }
        (number / n) * n + number.wrapping_mul(953) % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;

    fn generator(events: u64) -> NexmarkGenerator {
        NexmarkGenerator::new(NexmarkConfig::new(42, events)).expect("valid config")
    }

    #[test]
    fn proportions_ids_and_times_follow_the_reference() {
        let g = generator(5000);
        let events: Vec<Event> = g.events().collect();
        let (mut persons, mut auctions, mut bids) = (0, 0, 0);
        for (n, e) in events.iter().enumerate() {
            // 10 000 events/s: event n at base + n / 10 ms.
            assert_eq!(e.date_time(), 1_436_918_400_000 + n as i64 / 10);
            match (n % 50, e) {
                (0, Event::Person(p)) => {
                    assert_eq!(p.id, 1000 + persons);
                    persons += 1;
                }
                (1..=3, Event::Auction(a)) => {
                    assert_eq!(a.id, 1000 + auctions);
                    assert!((10..15).contains(&a.category));
                    assert!(a.reserve >= a.initial_bid && a.expires > a.date_time);
                    // Sellers are people that exist (or are about to).
                    assert!(a.seller >= 1000 && a.seller < 1000 + persons + 10);
                    auctions += 1;
                }
                (4.., Event::Bid(b)) => {
                    assert!(b.auction >= 1000 && b.auction < 1000 + auctions + 10);
                    assert!(b.price >= 100 && b.price <= 100_000_000);
                    bids += 1;
                }
                (k, e) => panic!("event {n} (slot {k}) is {e:?}"),
            }
        }
        assert_eq!((persons, auctions, bids), (100, 300, 4600));
    }

    #[test]
    fn hot_keys_and_channels_dominate() {
        let g = generator(50_000);
        let bids: Vec<_> = g.events().filter_map(Event::into_bid).collect();
        let hot_channel = bids
            .iter()
            .filter(|b| HOT_CHANNELS.contains(&b.channel.as_str()))
            .count();
        // Half the bids come from a hot channel.
        let share = hot_channel as f64 / bids.len() as f64;
        assert!((0.48..0.52).contains(&share), "{share}");
        // Half the bids go to a hot auction (a multiple of 100 above 1000).
        let hot_auction = bids
            .iter()
            .filter(|b| (b.auction - 1000) % 100 == 0)
            .count();
        let share = hot_auction as f64 / bids.len() as f64;
        assert!((0.49..0.56).contains(&share), "{share}");
        // Bid sizes average about 100 bytes of fields plus padding.
        let avg_extra =
            bids.iter().map(|b| b.extra.len()).sum::<usize>() as f64 / bids.len() as f64;
        assert!((66.0..70.0).contains(&avg_extra), "{avg_extra}");
        assert!(bids.iter().any(|b| b.url.contains("&channel_id=")));
    }

    #[test]
    fn deterministic_by_seed_and_independent_of_order() {
        let a = generator(2000);
        let b = generator(2000);
        let c = NexmarkGenerator::new(NexmarkConfig::new(43, 2000)).expect("valid");
        let xs: Vec<Event> = a.events().collect();
        assert_eq!(xs, b.events().collect::<Vec<_>>());
        assert_ne!(xs, c.events().collect::<Vec<_>>());
        // Any event alone equals the same event generated in sequence.
        for n in [0u64, 1, 49, 50, 1234, 1999] {
            assert_eq!(b.event(n), xs[n as usize]);
        }
    }

    #[test]
    fn out_of_order_groups_permute_times_within_the_group() {
        let g = NexmarkGenerator::new(NexmarkConfig {
            out_of_order_group_size: 100,
            ..NexmarkConfig::new(1, 1000)
        })
        .expect("valid");
        let times: Vec<i64> = g.events().map(|e| e.date_time()).collect();
        assert!(times.windows(2).any(|w| w[1] < w[0]), "some disorder");
        for (n, t) in times.iter().enumerate() {
            assert!(*t >= g.watermark_for(n as u64));
        }
        let mut sorted = times.clone();
        sorted.sort_unstable();
        let in_order: Vec<i64> = (0..1000).map(|n| g.timestamp_for(n)).collect();
        assert_eq!(sorted, in_order);
    }

    #[test]
    fn bad_configs_are_refused_with_the_field_named() {
        let err = NexmarkGenerator::new(NexmarkConfig {
            bid_proportion: 0,
            ..Default::default()
        })
        .expect_err("zero bids");
        assert!(err.to_string().contains("bid_proportion"), "{err}");
    }
}
