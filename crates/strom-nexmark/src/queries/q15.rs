//! Nexmark q15: bidding statistics per day.
//!
//! **Question.** How many bids, distinct bidders and distinct auctions are there each day,
//! in total and at each of three price levels?
//!
//! **Reference SQL, in words.** Group the `bid` view by `DATE_FORMAT(dateTime,
//! 'yyyy-MM-dd')` and select the day, then `count(*)` in total and with the filters
//! `price < 10000` (rank 1), `10000 <= price < 1000000` (rank 2) and `price >= 1000000`
//! (rank 3), then `count(distinct bidder)` in total and with the same three filters, then
//! `count(distinct auction)` likewise: thirteen columns. The aggregation has no window, so
//! the result is an updating table keyed by the day.
//!
//! **Pipeline.** A flat-map chained to the source keeps the four fields needed
//! (`PricedBid`); the stream is keyed by the day number (days since 1970-01-01 in UTC,
//! which is what the day text identifies), and a keyed process function keeps one
//! accumulator per day: four counters, and for bidders and for auctions one hash map from
//! id to the set of price ranks seen with it (a 3-bit mask), with the distinct counts kept
//! up to date as masks gain bits. Each record updates the accumulator in place; the day's
//! row is emitted once per watermark advance in which it changed (an event-time timer at
//! the current watermark + 1, deduplicated per key and time: an event-time mini-batch),
//! and the final watermark emits what is left. The final table (latest row per day) is the
//! SQL result.
//!
//! **Differences from Flink.** None in the result. Flink emits an update per record (or per
//! wall-clock mini-batch) with retractions; here upserts per watermark advance. As in
//! Flink, a day's state is kept forever (the query never says a day is complete).
//!
//! **Shared machinery.** This module also holds what q15 to q20 share (crate-private):
//! `PricedBid`, the distinct-count accumulator, and the in-place keyed-state access with
//! the event-time mini-batch (`MiniBatch`). Strom's state handles return copies of state
//! objects on read (`value()`, `get()`), which would copy a hash map or a top-10 list per
//! record; the only handle that works on the stored object by reference is
//! `AggregatingState::add`, so the state objects here are driven through it: the "input"
//! (`Apply`) carries the operation in and its result out through cells. One state lookup
//! per record, no copy of the state, records moved into state rather than cloned.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use crate::time;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use strom_api::DataStream;
use strom_core::{AggregateFunction, BoxError, Collector, Data, Key, Timestamp};
use strom_process::{KeyedContext, KeyedProcessFunction};
use strom_state::AggregatingStateDescriptor;

/// One row of q15: a day's bidding statistics (the upsert key is the day).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q15Row {
    /// `day`: `DATE_FORMAT(dateTime, 'yyyy-MM-dd')`.
    pub day: Text,
    /// `total_bids`: bids that day.
    pub total_bids: i64,
    /// `rank1_bids`: bids below $100 (`price < 10000` cents).
    pub rank1_bids: i64,
    /// `rank2_bids`: bids from $100 to below $10 000.
    pub rank2_bids: i64,
    /// `rank3_bids`: bids from $10 000 (`price >= 1000000`).
    pub rank3_bids: i64,
    /// `total_bidders`: distinct bidders that day.
    pub total_bidders: i64,
    /// `rank1_bidders`: distinct bidders of rank-1 bids.
    pub rank1_bidders: i64,
    /// `rank2_bidders`: distinct bidders of rank-2 bids.
    pub rank2_bidders: i64,
    /// `rank3_bidders`: distinct bidders of rank-3 bids.
    pub rank3_bidders: i64,
    /// `total_auctions`: distinct auctions bid on that day.
    pub total_auctions: i64,
    /// `rank1_auctions`: distinct auctions of rank-1 bids.
    pub rank1_auctions: i64,
    /// `rank2_auctions`: distinct auctions of rank-2 bids.
    pub rank2_auctions: i64,
    /// `rank3_auctions`: distinct auctions of rank-3 bids.
    pub rank3_auctions: i64,
}

impl QueryRow for Q15Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            Value::String(self.day.to_string()),
            self.total_bids.into(),
            self.rank1_bids.into(),
            self.rank2_bids.into(),
            self.rank3_bids.into(),
            self.total_bidders.into(),
            self.rank1_bidders.into(),
            self.rank2_bidders.into(),
            self.rank3_bidders.into(),
            self.total_auctions.into(),
            self.rank1_auctions.into(),
            self.rank2_auctions.into(),
            self.rank3_auctions.into(),
        ]
    }

    fn upsert_key(&self) -> Option<Vec<Value>> {
        Some(vec![Value::String(self.day.to_string())])
    }
}

/// q15 over `events`: per day, the bid counts and distinct bidder and auction counts, in
/// total and per price rank, as upserts keyed by the day.
pub fn q15(events: DataStream<Event>) -> DataStream<Q15Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, PricedBid>| {
            if let Event::Bid(b) = e {
                out.collect(PricedBid::of(&b));
            }
        })
        .name("q15: bids")
        .uid("q15-bids")
        .key_by(|b: &PricedBid| b.day)
        .process(MiniBatch::<i64, PricedBid, DailyStats, Q15Row>::new(
            "q15-day-stats",
            |b| b,
            emit_q15,
        ))
        .name("q15: statistics per day")
        .uid("q15-day-stats")
}

fn emit_q15(day: &i64, c: DailyCounts, out: &mut Collector<'_, Q15Row>) {
    let [t, r1, r2, r3, tb, b1, b2, b3, ta, a1, a2, a3] = c.counts;
    out.collect(Q15Row {
        day: day_text(*day),
        total_bids: t,
        rank1_bids: r1,
        rank2_bids: r2,
        rank3_bids: r3,
        total_bidders: tb,
        rank1_bidders: b1,
        rank2_bidders: b2,
        rank3_bidders: b3,
        total_auctions: ta,
        rank1_auctions: a1,
        rank2_auctions: a2,
        rank3_auctions: a3,
    });
}

// ---- shared by q15 to q20 ----------------------------------------------------------------

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

/// A keyed state object changed in place by operations: one operation per state access.
pub(crate) trait InPlace: Data + Default {
    /// An operation.
    type In;
    /// Its result.
    type Out;
    /// Run `op` on the object.
    fn apply(&mut self, op: Self::In) -> Self::Out;
    /// Fold `other` in (the aggregate function's merge; keyed process state never merges).
    fn merge(&mut self, other: Self);
}

/// One operation on an [`InPlace`] state object, passed to `AggregatingState::add` by
/// reference: the operation is taken out of `op` and its result put into `result`.
pub(crate) struct Apply<I, O> {
    op: Cell<Option<I>>,
    result: Cell<Option<O>>,
}

/// The aggregate function that runs `Apply` operations on an [`InPlace`] object.
pub(crate) struct InPlaceFn<S>(PhantomData<fn() -> S>);

impl<S> Clone for InPlaceFn<S> {
    fn clone(&self) -> Self {
        InPlaceFn(PhantomData)
    }
}

impl<S: InPlace> AggregateFunction<Apply<S::In, S::Out>> for InPlaceFn<S> {
    type Acc = S;
    type Out = ();

    fn create_accumulator(&self) -> S {
        S::default()
    }

    #[inline]
    fn add(&self, acc: &mut S, value: &Apply<S::In, S::Out>) {
        if let Some(op) = value.op.take() {
            value.result.set(Some(acc.apply(op)));
        }
    }

    fn get_result(&self, _acc: &S) {}

    fn merge(&self, mut a: S, b: S) -> S {
        a.merge(b);
        a
    }
}

/// The descriptor of an [`InPlace`] state.
pub(crate) type InPlaceState<S> =
    AggregatingStateDescriptor<Apply<<S as InPlace>::In, <S as InPlace>::Out>, InPlaceFn<S>>;

/// An [`InPlace`] state called `name`.
pub(crate) fn in_place_state<S: InPlace>(name: &str) -> InPlaceState<S> {
    AggregatingStateDescriptor::new(name, InPlaceFn(PhantomData))
}

/// Run `op` on the current key's object of `state` (created empty if absent) and return
/// its result.
#[inline]
pub(crate) fn apply<K: Key, S: InPlace>(
    ctx: &mut KeyedContext<'_, K>,
    state: &InPlaceState<S>,
    op: S::In,
) -> Result<S::Out, BoxError> {
    let cell = Apply {
        op: Cell::new(Some(op)),
        result: Cell::new(None),
    };
    ctx.aggregating_state(state).add(&cell)?;
    cell.result
        .into_inner()
        .ok_or_else(|| BoxError::from("keyed state operation did not run"))
}

/// An updating aggregate's accumulator: records fold in; `emit` gives the result to send
/// (and may reset what it sent), or `None` when there is nothing to send.
pub(crate) trait Updating: Data + Default {
    /// A record.
    type In;
    /// The result.
    type Out;
    /// Fold a record in.
    fn add(&mut self, input: Self::In);
    /// The result to send now, if any.
    fn emit(&mut self) -> Option<Self::Out>;
    /// Fold `other` in.
    fn merge(&mut self, other: Self);
}

/// An [`Updating`] accumulator and the time of the key's pending emission timer, if any
/// (so that a key registers its timer once per mini-batch, not once per record).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(bound(serialize = "S: Serialize", deserialize = "S: DeserializeOwned"))]
pub(crate) struct Batched<S> {
    acc: S,
    timer: Option<Timestamp>,
}

/// An operation on a [`Batched`] accumulator.
pub(crate) enum BatchOp<I> {
    /// Fold a record in; the emission timer is due at the given time.
    Add(I, Timestamp),
    /// The timer fired: the result to send.
    Emit,
}

/// The result of a [`BatchOp`].
pub(crate) enum BatchOut<O> {
    /// The record was added; whether the timer must be registered.
    Added(bool),
    /// The result to send, if any.
    Emitted(Option<O>),
}

impl<S: Updating> InPlace for Batched<S> {
    type In = BatchOp<S::In>;
    type Out = BatchOut<S::Out>;

    #[inline]
    fn apply(&mut self, op: BatchOp<S::In>) -> BatchOut<S::Out> {
        match op {
            BatchOp::Add(input, timer) => {
                self.acc.add(input);
                let register = self.timer != Some(timer);
                self.timer = Some(timer);
                BatchOut::Added(register)
            }
            BatchOp::Emit => {
                self.timer = None;
                BatchOut::Emitted(self.acc.emit())
            }
        }
    }

    fn merge(&mut self, other: Self) {
        self.acc.merge(other.acc);
    }
}

/// A keyed process function running an [`Updating`] aggregate per key with an event-time
/// mini-batch: each record is folded into the key's accumulator in place and the key
/// registers a timer at the current watermark + 1 (once per mini-batch); when the timer
/// fires (the next watermark advance, or the final watermark), the key's result is sent
/// through `emit`. The function's input `I` becomes the accumulator's input through
/// `input`.
pub(crate) struct MiniBatch<K, I, S: Updating, R> {
    state: InPlaceState<Batched<S>>,
    input: fn(I) -> S::In,
    emit: fn(&K, S::Out, &mut Collector<'_, R>),
}

impl<K, I, S: Updating, R> Clone for MiniBatch<K, I, S, R> {
    fn clone(&self) -> Self {
        MiniBatch {
            state: self.state.clone(),
            input: self.input,
            emit: self.emit,
        }
    }
}

impl<K, I, S: Updating, R> MiniBatch<K, I, S, R> {
    /// The function with state `name`.
    pub(crate) fn new(
        name: &str,
        input: fn(I) -> S::In,
        emit: fn(&K, S::Out, &mut Collector<'_, R>),
    ) -> Self {
        MiniBatch {
            state: in_place_state(name),
            input,
            emit,
        }
    }
}

impl<K, I, S, R> KeyedProcessFunction<K, I, R> for MiniBatch<K, I, S, R>
where
    K: Key,
    I: Send,
    S: Updating,
    R: Send,
{
    #[inline]
    fn process_element(
        &mut self,
        value: I,
        ctx: &mut KeyedContext<'_, K>,
        _out: &mut Collector<'_, R>,
    ) -> Result<(), BoxError> {
        let timer = ctx.current_watermark().saturating_add(1);
        let op = BatchOp::Add((self.input)(value), timer);
        if let BatchOut::Added(true) = apply(ctx, &self.state, op)? {
            ctx.timer_service().register_event_time_timer(timer);
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _timestamp: Timestamp,
        ctx: &mut KeyedContext<'_, K>,
        out: &mut Collector<'_, R>,
    ) -> Result<(), BoxError> {
        if let BatchOut::Emitted(Some(result)) = apply(ctx, &self.state, BatchOp::Emit)? {
            (self.emit)(ctx.key(), result, out);
        }
        Ok(())
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
