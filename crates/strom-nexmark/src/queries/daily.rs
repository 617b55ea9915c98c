//! What the per-day statistics queries (q15, q16, q17) share: day numbers and their text,
//! the three price ranks of the reference's `FILTER` clauses, the four fields of a bid they
//! read ([`PricedBid`]), and the accumulator of counts and distinct counts per rank
//! ([`DailyStats`]).

use super::mini_batch::Updating;
use crate::model::Text;
use crate::time;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use strom_core::Timestamp;

/// Milliseconds per day.
const MS_PER_DAY: i64 = 86_400_000;

/// The day number (days since 1970-01-01, UTC) of `ts`: what `DATE_FORMAT(ts,
/// 'yyyy-MM-dd')` identifies.
#[inline]
pub(crate) fn day_of(ts: Timestamp) -> i64 {
    ts.div_euclid(MS_PER_DAY)
}

/// `DATE_FORMAT(·, 'yyyy-MM-dd')` of day number `day`.
pub(crate) fn day_text(day: i64) -> Text {
    Text::from(time::format_day(day * MS_PER_DAY).as_str())
}

/// The price rank of the reference's filters: 0 for `price < 10000`, 1 for `10000 <= price
/// < 1000000`, 2 for `price >= 1000000`.
#[inline]
pub(crate) fn price_rank(price: i64) -> usize {
    if price < 10_000 {
        0
    } else if price < 1_000_000 {
        1
    } else {
        2
    }
}

/// What the daily statistics (q15 to q17) read of a bid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PricedBid {
    /// `auction`.
    pub(crate) auction: i64,
    /// `bidder`.
    pub(crate) bidder: i64,
    /// `price`, in cents.
    pub(crate) price: i64,
    /// `dateTime`.
    pub(crate) date_time: Timestamp,
    /// The day number of `dateTime`.
    pub(crate) day: i64,
}

impl PricedBid {
    /// The fields of `b`.
    #[inline]
    pub(crate) fn of(b: &crate::model::Bid) -> Self {
        PricedBid {
            auction: b.auction,
            bidder: b.bidder,
            price: b.price,
            date_time: b.date_time,
            day: day_of(b.date_time),
        }
    }
}

/// A hasher for `i64` ids: one folded 128-bit multiplication (both halves mixed, so high
/// and low bits are usable by the hash table). Ids are not attacker-controlled here.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        let p = u128::from(self.0 ^ x) * u128::from(MIX);
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }
    #[inline]
    fn write_i64(&mut self, x: i64) {
        self.write_u64(x as u64);
    }
}

/// Hash maps keyed by ids.
pub(crate) type IdMap<V> = HashMap<i64, V, BuildHasherDefault<IdHasher>>;

/// `count(distinct id)` in total and with each of the three price filters, kept up to date
/// incrementally: per id, the mask of the price ranks it was seen with.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct DistinctByRank {
    seen: IdMap<u8>,
    /// Distinct ids in total, then with rank 1, 2 and 3.
    counts: [i64; 4],
}

impl DistinctByRank {
    /// Count `id`, seen with a price of rank `rank`.
    #[inline]
    fn add(&mut self, id: i64, rank: usize) {
        let bit = 1u8 << rank;
        let mask = self.seen.entry(id).or_insert(0);
        if *mask == 0 {
            self.counts[0] += 1;
        }
        if *mask & bit == 0 {
            *mask |= bit;
            self.counts[rank + 1] += 1;
        }
    }

    fn merge(&mut self, other: DistinctByRank) {
        for (id, mask) in other.seen {
            for rank in 0..3 {
                if mask & (1 << rank) != 0 {
                    self.add(id, rank);
                }
            }
        }
    }
}

/// The accumulator of q15 and q16: bid counts and distinct bidders and auctions, in total
/// and per price rank, and the latest `dateTime` (for q16's `max(DATE_FORMAT(dateTime,
/// 'HH:mm'))`, which within one day is the minute of the latest bid).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct DailyStats {
    bids: [i64; 4],
    bidders: DistinctByRank,
    auctions: DistinctByRank,
    max_time: Timestamp,
}

impl Default for DailyStats {
    fn default() -> Self {
        DailyStats {
            bids: [0; 4],
            bidders: DistinctByRank::default(),
            auctions: DistinctByRank::default(),
            max_time: Timestamp::MIN,
        }
    }
}

/// [`DailyStats`]' result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DailyCounts {
    /// In the reference's column order: bids, distinct bidders, distinct auctions, each in
    /// total then for ranks 1 to 3.
    pub(crate) counts: [i64; 12],
    /// The latest `dateTime`.
    pub(crate) max_time: Timestamp,
}

impl Updating for DailyStats {
    type In = PricedBid;
    type Out = DailyCounts;

    #[inline]
    fn add(&mut self, b: PricedBid) {
        let rank = price_rank(b.price);
        self.bids[0] += 1;
        self.bids[rank + 1] += 1;
        self.bidders.add(b.bidder, rank);
        self.auctions.add(b.auction, rank);
        self.max_time = self.max_time.max(b.date_time);
    }

    fn emit(&mut self) -> Option<DailyCounts> {
        let mut counts = [0; 12];
        counts[..4].copy_from_slice(&self.bids);
        counts[4..8].copy_from_slice(&self.bidders.counts);
        counts[8..].copy_from_slice(&self.auctions.counts);
        Some(DailyCounts {
            counts,
            max_time: self.max_time,
        })
    }

    fn merge(&mut self, other: Self) {
        for (a, b) in self.bids.iter_mut().zip(other.bids) {
            *a += b;
        }
        self.bidders.merge(other.bidders);
        self.auctions.merge(other.auctions);
        self.max_time = self.max_time.max(other.max_time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_ranks_follow_the_filters() {
        assert_eq!(price_rank(9_999), 0);
        assert_eq!(price_rank(10_000), 1);
        assert_eq!(price_rank(999_999), 1);
        assert_eq!(price_rank(1_000_000), 2);
    }

    #[test]
    fn distinct_counts_per_rank() {
        let mut d = DistinctByRank::default();
        d.add(1, 0);
        d.add(1, 0);
        d.add(1, 2);
        d.add(2, 2);
        assert_eq!(d.counts, [2, 1, 0, 2]);
        let mut e = DistinctByRank::default();
        e.add(2, 1);
        e.add(3, 0);
        d.merge(e);
        assert_eq!(d.counts, [3, 2, 1, 2]);
    }

    #[test]
    fn days_are_utc_days() {
        let midnight = 1_436_918_400_000; // 2015-07-15 00:00:00 UTC
        assert_eq!(day_of(midnight - 1) + 1, day_of(midnight));
        assert_eq!(day_text(day_of(midnight)), "2015-07-15");
        assert_eq!(day_text(day_of(midnight - 1)), "2015-07-14");
    }
}
