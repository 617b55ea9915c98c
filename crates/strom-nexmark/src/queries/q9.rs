//! Nexmark q9, winning bids: which bid wins each auction?
//!
//! The reference SQL joins every auction with every bid on it placed while it was open
//! (`A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires`, a regular join, both
//! bounds inclusive), ranks each auction's matches by `price` descending, then `dateTime`
//! ascending (`ROW_NUMBER() OVER (PARTITION BY A.id ...)`), and keeps the first: an updating
//! table with one row per auction that has a valid bid, holding all the auction's columns
//! and the winning bid's `auction`, `bidder`, `price`, `dateTime` and `extra`. Flink breaks
//! exact ties (equal price and time) arbitrarily; here they are broken by `bidder`, then
//! `extra` (ascending), so the result is deterministic and one Flink could give.
//!
//! The pipeline maps auctions and bids into one stream (a chained `flat_map`; a bid keeps
//! only the columns the result needs), keys it by auction id and runs a keyed process
//! function with, per auction: the auction (its columns and, separately, its open interval),
//! the best valid bid so far (its full row, and separately its ranking fields) and the bids
//! that arrived before their auction. A bid is ranked against the best on the small fields
//! alone (the full best row is read only on an exact tie), so a bid that does not win costs
//! no allocation. A changed winner is emitted as an upsert (key: the auction id) once per
//! watermark advance, from an event-time timer at the current watermark + 1.
//!
//! Bids may come before their auction (the generator refers to auctions up to 10 ids ahead,
//! and events are out of order within the watermark's bound): they wait in the auction's
//! state until it arrives, and are dropped once the watermark reaches their time (any
//! auction arriving later has a later time, so they cannot be valid for it).
//!
//! State cleanup, a deliberate difference from Flink (which keeps both sides of a regular
//! join forever): once the watermark reaches an auction's `expires`, every bid still to
//! come is later than `expires` and cannot join it, so the auction's state is dropped (after
//! emitting a pending change). The result is the same as Flink's; only memory differs. Bids
//! on auctions that never come, or whose auction's state is gone, are dropped as above.
//! Auction ids are unique in Nexmark; a second auction with the same id would be ignored.

use crate::model::{Auction, Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::cmp::Ordering;
use strom_api::DataStream;
use strom_core::{BoxError, Collector, Timestamp};
use strom_process::{KeyedContext, KeyedProcessFunction};
use strom_state::{ListStateDescriptor, ValueStateDescriptor};

/// One row of q9's result: an auction and its winning bid (an upsert keyed by `id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q9Row {
    /// Auction id.
    pub id: i64,
    /// Item name.
    pub item_name: Text,
    /// Item description.
    pub description: Text,
    /// Initial bid, in cents.
    pub initial_bid: i64,
    /// Reserve price, in cents.
    pub reserve: i64,
    /// When the auction opened.
    pub date_time: Timestamp,
    /// When the auction closes.
    pub expires: Timestamp,
    /// The seller.
    pub seller: i64,
    /// Item category.
    pub category: i64,
    /// The auction's padding.
    pub extra: Text,
    /// The winning bid's auction (equal to `id`).
    pub auction: i64,
    /// The winning bidder.
    pub bidder: i64,
    /// The winning price, in cents.
    pub price: i64,
    /// When the winning bid was placed.
    pub bid_date_time: Timestamp,
    /// The winning bid's padding.
    pub bid_extra: Text,
}

impl QueryRow for Q9Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            json!(self.id),
            json!(self.item_name.as_str()),
            json!(self.description.as_str()),
            json!(self.initial_bid),
            json!(self.reserve),
            json!(self.date_time),
            json!(self.expires),
            json!(self.seller),
            json!(self.category),
            json!(self.extra.as_str()),
            json!(self.auction),
            json!(self.bidder),
            json!(self.price),
            json!(self.bid_date_time),
            json!(self.bid_extra.as_str()),
        ]
    }

    fn upsert_key(&self) -> Option<Vec<Value>> {
        Some(vec![json!(self.id)])
    }

    /// The winning bid's time.
    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.bid_date_time)
    }
}

/// The columns of a bid that q9 needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Q9Bid {
    auction: i64,
    bidder: i64,
    price: i64,
    date_time: Timestamp,
    extra: Text,
}

/// What q9's operator reads: auctions and bids, keyed by auction id (the auction boxed, so
/// that the bids, nearly all records, stay small).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Q9In {
    Auction(Box<Auction>),
    Bid(Q9Bid),
}

/// The ranking fields of a bid: `(price, dateTime, bidder)`.
type Rank = (i64, Timestamp, i64);

/// The small, copyable part of an auction's state, read for every bid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Meta {
    /// The auction's `(dateTime, expires)`, once it arrived.
    open: Option<(Timestamp, Timestamp)>,
    /// The best valid bid's ranking fields, if any.
    best: Option<Rank>,
    /// Whether the best bid changed since it was last emitted.
    dirty: bool,
}

/// How a bid ranks against the best so far: `Less` wins. Price descending, then time
/// ascending, then bidder ascending (the tie-break).
fn rank_order(bid: &Q9Bid, best: Rank) -> Ordering {
    best.0
        .cmp(&bid.price)
        .then(bid.date_time.cmp(&best.1))
        .then(bid.bidder.cmp(&best.2))
}

/// The keyed process function: join, rank, emit once per watermark advance.
#[derive(Clone)]
struct WinningBids {
    meta: ValueStateDescriptor<Meta>,
    auction: ValueStateDescriptor<Auction>,
    best: ValueStateDescriptor<Q9Bid>,
    early: ListStateDescriptor<Q9Bid>,
}

impl WinningBids {
    fn new() -> Self {
        WinningBids {
            meta: ValueStateDescriptor::new("q9-meta"),
            auction: ValueStateDescriptor::new("q9-auction"),
            best: ValueStateDescriptor::new("q9-best-bid"),
            early: ListStateDescriptor::new("q9-early-bids"),
        }
    }

    /// Offer a bid to an auction whose interval is `open`: if it is valid and beats the
    /// best, it becomes the best (`meta.best` and the full row). Returns whether it did.
    fn offer(
        &self,
        bid: Q9Bid,
        open: (Timestamp, Timestamp),
        meta: &mut Meta,
        ctx: &mut KeyedContext<'_, i64>,
    ) -> Result<bool, BoxError> {
        if bid.date_time < open.0 || bid.date_time > open.1 {
            return Ok(false);
        }
        let wins = match meta.best {
            None => true,
            Some(best) => match rank_order(&bid, best) {
                Ordering::Less => true,
                Ordering::Greater => false,
                // An exact tie on the ranking fields: the smaller `extra` wins.
                Ordering::Equal => ctx
                    .value_state(&self.best)
                    .value()?
                    .is_none_or(|b| bid.extra < b.extra),
            },
        };
        if wins {
            meta.best = Some((bid.price, bid.date_time, bid.bidder));
            ctx.value_state(&self.best).update(bid)?;
        }
        Ok(wins)
    }

    /// Mark the best bid as changed: emit it at the next watermark advance.
    fn mark_dirty(meta: &mut Meta, ctx: &mut KeyedContext<'_, i64>) {
        if !meta.dirty {
            meta.dirty = true;
            let at = ctx.current_watermark().saturating_add(1);
            ctx.timer_service().register_event_time_timer(at);
        }
    }
}

impl KeyedProcessFunction<i64, Q9In, Q9Row> for WinningBids {
    fn process_element(
        &mut self,
        value: Q9In,
        ctx: &mut KeyedContext<'_, i64>,
        _out: &mut Collector<'_, Q9Row>,
    ) -> Result<(), BoxError> {
        let mut meta = ctx.value_state(&self.meta).value()?.unwrap_or_default();
        match value {
            Q9In::Bid(bid) => match meta.open {
                Some(open) => {
                    if self.offer(bid, open, &mut meta, ctx)? {
                        Self::mark_dirty(&mut meta, ctx);
                        ctx.value_state(&self.meta).update(meta)?;
                    }
                }
                None => {
                    // Its auction has not come yet: keep it while an auction arriving
                    // later (at a time above the watermark) could still be valid for it.
                    if bid.date_time > ctx.current_watermark() {
                        let at = bid.date_time;
                        ctx.list_state(&self.early).add(bid)?;
                        ctx.timer_service().register_event_time_timer(at);
                    }
                }
            },
            Q9In::Auction(auction) => {
                if meta.open.is_some() {
                    return Ok(()); // a duplicate id: see the module documentation
                }
                let open = (auction.date_time, auction.expires);
                meta.open = Some(open);
                ctx.value_state(&self.auction).update(*auction)?;
                let early = {
                    let mut list = ctx.list_state(&self.early);
                    let bids = list.get()?;
                    list.clear()?;
                    bids
                };
                let mut changed = false;
                for bid in early {
                    changed |= self.offer(bid, open, &mut meta, ctx)?;
                }
                if changed {
                    Self::mark_dirty(&mut meta, ctx);
                }
                ctx.timer_service().register_event_time_timer(open.1);
                ctx.value_state(&self.meta).update(meta)?;
            }
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _timestamp: Timestamp,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, Q9Row>,
    ) -> Result<(), BoxError> {
        let watermark = ctx.current_watermark();
        let Some(mut meta) = ctx.value_state(&self.meta).value()? else {
            // No auction yet: drop the early bids no later auction can be valid for.
            let mut list = ctx.list_state(&self.early);
            let mut bids = list.get()?;
            let before = bids.len();
            bids.retain(|b| b.date_time > watermark);
            if bids.is_empty() {
                list.clear()?;
            } else if bids.len() != before {
                list.update(bids)?;
            }
            return Ok(());
        };
        let was_dirty = meta.dirty;
        if meta.dirty {
            let auction = ctx.value_state(&self.auction).value()?;
            let bid = ctx.value_state(&self.best).value()?;
            if let (Some(a), Some(b)) = (auction, bid) {
                out.collect(Q9Row {
                    id: a.id,
                    item_name: a.item_name,
                    description: a.description,
                    initial_bid: a.initial_bid,
                    reserve: a.reserve,
                    date_time: a.date_time,
                    expires: a.expires,
                    seller: a.seller,
                    category: a.category,
                    extra: a.extra,
                    auction: b.auction,
                    bidder: b.bidder,
                    price: b.price,
                    bid_date_time: b.date_time,
                    bid_extra: b.extra,
                });
            }
            meta.dirty = false;
        }
        match meta.open {
            // Every bid still to come is later than `expires`: nothing can change.
            Some((_, expires)) if watermark >= expires => {
                ctx.value_state(&self.meta).clear()?;
                ctx.value_state(&self.auction).clear()?;
                ctx.value_state(&self.best).clear()?;
            }
            _ if was_dirty => ctx.value_state(&self.meta).update(meta)?,
            _ => {}
        }
        Ok(())
    }
}

/// Nexmark q9 over `events`: each auction with its winning bid, as upserts keyed by the
/// auction id.
pub fn q9(events: DataStream<Event>) -> DataStream<Q9Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q9In>| match e {
            Event::Auction(a) => out.collect(Q9In::Auction(Box::new(a))),
            Event::Bid(b) => out.collect(Q9In::Bid(Q9Bid {
                auction: b.auction,
                bidder: b.bidder,
                price: b.price,
                date_time: b.date_time,
                extra: b.extra,
            })),
            Event::Person(_) => {}
        })
        .name("q9-auctions-and-bids")
        .uid("q9-auctions-and-bids")
        .key_by(|x: &Q9In| match x {
            Q9In::Auction(a) => a.id,
            Q9In::Bid(b) => b.auction,
        })
        .process(WinningBids::new())
        .name("q9-winning-bids")
        .uid("q9-winning-bids")
}

#[cfg(test)]
mod tests {
    use super::*;
    use strom_process::KeyedHarness;

    fn auction(id: i64, date_time: Timestamp, expires: Timestamp) -> Q9In {
        Q9In::Auction(Box::new(Auction {
            id,
            item_name: Text::from("item"),
            description: Text::from("description"),
            initial_bid: 100,
            reserve: 200,
            date_time,
            expires,
            seller: 1000,
            category: 10,
            extra: Text::from("auction extra"),
        }))
    }

    fn bid(auction: i64, bidder: i64, price: i64, date_time: Timestamp, extra: &str) -> Q9In {
        Q9In::Bid(Q9Bid {
            auction,
            bidder,
            price,
            date_time,
            extra: Text::from(extra),
        })
    }

    fn harness() -> KeyedHarness<i64, Q9In, Q9Row, impl Fn(&Q9In) -> i64 + Send, WinningBids> {
        KeyedHarness::new(
            |x: &Q9In| match x {
                Q9In::Auction(a) => a.id,
                Q9In::Bid(b) => b.auction,
            },
            WinningBids::new(),
        )
    }

    fn winners(rows: Vec<Q9Row>) -> Vec<(i64, i64, i64, Timestamp, String)> {
        rows.into_iter()
            .map(|r| {
                (
                    r.id,
                    r.bidder,
                    r.price,
                    r.bid_date_time,
                    r.bid_extra.to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn emits_the_best_valid_bid_once_per_watermark_advance() -> strom_core::Result<()> {
        let mut h = harness();
        h.process(auction(1, 100, 200), 100)?;
        h.process(bid(1, 7, 50, 99, "too early"), 99)?;
        h.process(bid(1, 7, 60, 100, "a"), 100)?;
        h.process(bid(1, 8, 90, 150, "b"), 150)?;
        h.process(bid(1, 9, 90, 120, "c"), 120)?; // same price, earlier: wins
        h.process(bid(1, 9, 500, 201, "too late"), 201)?;
        assert!(
            h.take_output().is_empty(),
            "nothing before the watermark moves"
        );
        h.advance_watermark(120)?;
        assert_eq!(winners(h.take_output()), [(1, 9, 90, 120, "c".to_string())]);
        // Nothing changed: nothing more.
        h.process(bid(1, 3, 10, 160, "low"), 160)?;
        h.advance_watermark(150)?;
        assert!(h.take_output().is_empty());
        // A tie on price, time and bidder is broken by `extra`.
        h.process(bid(1, 9, 90, 120, "b"), 120)?;
        h.process(bid(1, 9, 90, 120, "d"), 120)?;
        h.advance_watermark(160)?;
        assert_eq!(winners(h.take_output()), [(1, 9, 90, 120, "b".to_string())]);
        Ok(())
    }

    #[test]
    fn early_bids_wait_for_their_auction_or_the_watermark() -> strom_core::Result<()> {
        let mut h = harness();
        h.advance_watermark(40)?;
        h.process(bid(2, 7, 60, 100, "early, valid"), 100)?;
        h.process(bid(2, 8, 70, 50, "early, before the auction"), 50)?;
        h.process(bid(2, 9, 99, 30, "behind the watermark"), 30)?;
        h.process(bid(3, 7, 60, 60, "no auction comes"), 60)?;
        assert_eq!(h.state_len("q9-early-bids"), 2);
        h.process(auction(2, 100, 300), 100)?;
        assert_eq!(h.state_len("q9-early-bids"), 1);
        h.advance_watermark(100)?;
        assert_eq!(
            winners(h.take_output()),
            [(2, 7, 60, 100, "early, valid".to_string())]
        );
        // Auction 3's bid is dropped once no auction can be valid for it.
        assert_eq!(h.state_len("q9-early-bids"), 0);
        Ok(())
    }

    #[test]
    fn state_is_dropped_once_the_watermark_passes_expiry() -> strom_core::Result<()> {
        let mut h = harness();
        h.process(auction(4, 100, 200), 100)?;
        h.process(bid(4, 7, 60, 150, "x"), 150)?;
        h.advance_watermark(199)?;
        assert_eq!(h.take_output().len(), 1);
        assert_eq!(h.state_len("q9-meta"), 1);
        // A change and expiry in the same watermark advance: emitted, then dropped.
        h.process(bid(4, 8, 80, 200, "y"), 200)?;
        h.advance_watermark(1_000)?;
        assert_eq!(winners(h.take_output()), [(4, 8, 80, 200, "y".to_string())]);
        for state in ["q9-meta", "q9-auction", "q9-best-bid", "q9-early-bids"] {
            assert_eq!(h.state_len(state), 0, "{state}");
        }
        h.finish()?;
        assert!(h.take_output().is_empty());
        Ok(())
    }
}
