//! Nexmark q4: average winning price per category.
//!
//! **Question.** What is the average closing price of the auctions in each category?
//!
//! **Reference SQL, in words.** An inner query joins `auction A` with `bid B` on
//! `A.id = B.auction` with `B.dateTime BETWEEN A.dateTime AND A.expires` (both ends
//! inclusive) — a regular join, so a bid that arrives before its auction still joins — and
//! takes per auction (`GROUP BY A.id, A.category`) the highest joined price `final`. The
//! outer query groups those by `category` and selects `category, AVG(final)`. Both
//! aggregations are unwindowed, so the result is an updating table keyed by category;
//! `AVG` over `BIGINT` is a `BIGINT` in Flink (the sum divided by the count, truncated).
//! Auctions without a joined bid take no part.
//!
//! **Pipeline.** A flat-map chained to the source keeps the few fields needed
//! ([`Q4Input`]), then two keyed process functions:
//!
//! 1. [`Q4Winning`], keyed by auction id: keeps the auction (category, open interval) and
//!    the highest price of its bids within the interval so far; bids that arrive before
//!    their auction wait (time and price only) until it comes. When the highest price
//!    changes, it registers an event-time timer at the current watermark + 1 and, when that
//!    fires, sends the change ([`Q4Change`]: category, previous and new price) downstream:
//!    at most one change per auction and watermark advance.
//! 2. [`Q4Average`], keyed by category: keeps the sum and count of the auctions' highest
//!    prices, applies each change (a new auction adds to both, a raised price replaces its
//!    old value in the sum) and emits the category's row, `sum / count`, once per watermark
//!    advance in which it changed (event-time mini-batch).
//!
//! The final table (latest row per category) is the SQL result.
//!
//! **Differences from Flink.** The result is the same. State is cleaned up where the join
//! condition rules out any further match: an auction's state is dropped once the watermark
//! passes its `expires` (every later bid has a `dateTime` above the watermark, outside
//! `[dateTime, expires]`; its highest price stays counted downstream, as in Flink), and a
//! bid waiting for its auction is dropped once the watermark passes the bid's `dateTime`
//! (an auction that arrives later opens after the watermark, so after the bid). Flink keeps
//! every auction and bid forever. Flink emits retractions and updates per record (or per
//! wall-clock mini-batch); here upserts are emitted per watermark advance. Auction ids are
//! assumed unique, as the generator makes them: a second auction with the same id is
//! ignored.

use crate::model::Event;
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::{BoxError, Collector, Timestamp};
use strom_process::{KeyedContext, KeyedProcessFunction};
use strom_state::{ListStateDescriptor, ValueStateDescriptor};

/// One row of q4: a category and the average winning price of its auctions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q4Row {
    /// `Q.category`: the category (the upsert key).
    pub category: i64,
    /// `AVG(Q.final)`: the average of the auctions' highest joined bid prices, in cents,
    /// truncated to an integer as Flink's `AVG` over `BIGINT` does.
    pub avg_final: i64,
}

impl QueryRow for Q4Row {
    fn columns(&self) -> Vec<Value> {
        vec![self.category.into(), self.avg_final.into()]
    }

    fn upsert_key(&self) -> Option<Vec<Value>> {
        Some(vec![self.category.into()])
    }
}

/// What q4 reads of the events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Q4Input {
    /// An auction.
    Auction {
        /// `A.id`.
        id: i64,
        /// `A.category`.
        category: i64,
        /// `A.dateTime`: the first instant a bid joins.
        date_time: Timestamp,
        /// `A.expires`: the last instant a bid joins.
        expires: Timestamp,
    },
    /// A bid.
    Bid {
        /// `B.auction`.
        auction: i64,
        /// `B.price`.
        price: i64,
        /// `B.dateTime`.
        date_time: Timestamp,
    },
}

impl Q4Input {
    /// The join key: the auction id.
    pub fn auction(&self) -> i64 {
        match self {
            Q4Input::Auction { id, .. } => *id,
            Q4Input::Bid { auction, .. } => *auction,
        }
    }
}

/// A change of one auction's highest joined price, sent to the per-category average.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q4Change {
    /// The auction's category.
    pub category: i64,
    /// The price sent before for this auction, if any.
    pub old: Option<i64>,
    /// The new highest price.
    pub new: i64,
}

/// An auction as [`Q4Winning`] keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q4Auction {
    /// Category.
    pub category: i64,
    /// Opening time.
    pub date_time: Timestamp,
    /// Closing time.
    pub expires: Timestamp,
    /// Highest price of the bids joined so far.
    pub max: Option<i64>,
    /// Highest price last sent downstream.
    pub sent: Option<i64>,
}

impl Q4Auction {
    fn joins(&self, bid_time: Timestamp) -> bool {
        self.date_time <= bid_time && bid_time <= self.expires
    }

    /// Whether `max` changed since it was last sent.
    fn changed(&self) -> bool {
        self.max != self.sent
    }
}

/// Stage 1 of q4, keyed by auction id: the highest joined bid price per auction (see the
/// [module documentation](self)).
#[derive(Clone)]
pub struct Q4Winning {
    auction: ValueStateDescriptor<Q4Auction>,
    /// Bids (dateTime, price) that arrived before their auction.
    waiting: ListStateDescriptor<(Timestamp, i64)>,
}

impl Default for Q4Winning {
    fn default() -> Self {
        Q4Winning {
            auction: ValueStateDescriptor::new("auction"),
            waiting: ListStateDescriptor::new("waiting-bids"),
        }
    }
}

/// Ask for the next mini-batch flush: a timer at the current watermark + 1 fires at the
/// next watermark advance (one timer per key and time).
fn flush_at_next_watermark<K: strom_core::Key>(ctx: &mut KeyedContext<'_, K>) {
    let at = ctx.current_watermark().saturating_add(1);
    ctx.timer_service().register_event_time_timer(at);
}

impl KeyedProcessFunction<i64, Q4Input, Q4Change> for Q4Winning {
    fn process_element(
        &mut self,
        input: Q4Input,
        ctx: &mut KeyedContext<'_, i64>,
        _out: &mut Collector<'_, Q4Change>,
    ) -> Result<(), BoxError> {
        match input {
            Q4Input::Bid {
                price, date_time, ..
            } => match ctx.value_state(&self.auction).value()? {
                Some(mut a) => {
                    if a.joins(date_time) && a.max.is_none_or(|m| price > m) {
                        if !a.changed() {
                            flush_at_next_watermark(ctx);
                        }
                        a.max = Some(price);
                        ctx.value_state(&self.auction).update(a)?;
                    }
                }
                None => {
                    ctx.list_state(&self.waiting).add((date_time, price))?;
                    ctx.timer_service().register_event_time_timer(date_time);
                }
            },
            Q4Input::Auction {
                category,
                date_time,
                expires,
                ..
            } => {
                if ctx.value_state(&self.auction).value()?.is_some() {
                    return Ok(());
                }
                let mut a = Q4Auction {
                    category,
                    date_time,
                    expires,
                    max: None,
                    sent: None,
                };
                let waiting = ctx.list_state(&self.waiting).get()?;
                if !waiting.is_empty() {
                    ctx.list_state(&self.waiting).clear()?;
                    a.max = waiting
                        .iter()
                        .filter(|&&(t, _)| a.joins(t))
                        .map(|&(_, price)| price)
                        .max();
                    if a.changed() {
                        flush_at_next_watermark(ctx);
                    }
                }
                ctx.value_state(&self.auction).update(a)?;
                ctx.timer_service().register_event_time_timer(expires);
            }
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _time: Timestamp,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, Q4Change>,
    ) -> Result<(), BoxError> {
        let watermark = ctx.current_watermark();
        match ctx.value_state(&self.auction).value()? {
            Some(mut a) => {
                let changed = a.changed();
                if let (true, Some(new)) = (changed, a.max) {
                    out.collect(Q4Change {
                        category: a.category,
                        old: a.sent,
                        new,
                    });
                    a.sent = a.max;
                }
                if watermark >= a.expires {
                    // No bid to come can join any more.
                    ctx.value_state(&self.auction).clear()?;
                } else if changed {
                    ctx.value_state(&self.auction).update(a)?;
                }
            }
            None => {
                // Waiting bids that no auction arriving from now on can join.
                let mut waiting = ctx.list_state(&self.waiting).get()?;
                let before = waiting.len();
                waiting.retain(|&(t, _)| t > watermark);
                if waiting.len() != before {
                    ctx.list_state(&self.waiting).update(waiting)?;
                }
            }
        }
        Ok(())
    }
}

/// Sum and count of one category's winning prices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q4Sum {
    /// Sum of the auctions' highest prices.
    pub sum: i64,
    /// Number of auctions with a joined bid.
    pub count: i64,
    /// Whether the average changed since the last row was emitted.
    pub dirty: bool,
}

/// Stage 2 of q4, keyed by category: the average of the winning prices, emitted once per
/// watermark advance in which it changed.
#[derive(Clone)]
pub struct Q4Average {
    sum: ValueStateDescriptor<Q4Sum>,
}

impl Default for Q4Average {
    fn default() -> Self {
        Q4Average {
            sum: ValueStateDescriptor::new("sum"),
        }
    }
}

impl KeyedProcessFunction<i64, Q4Change, Q4Row> for Q4Average {
    fn process_element(
        &mut self,
        change: Q4Change,
        ctx: &mut KeyedContext<'_, i64>,
        _out: &mut Collector<'_, Q4Row>,
    ) -> Result<(), BoxError> {
        let mut s = ctx.value_state(&self.sum).value()?.unwrap_or_default();
        match change.old {
            Some(old) => s.sum += change.new - old,
            None => {
                s.sum += change.new;
                s.count += 1;
            }
        }
        if !s.dirty {
            s.dirty = true;
            flush_at_next_watermark(ctx);
        }
        ctx.value_state(&self.sum).update(s)?;
        Ok(())
    }

    fn on_timer(
        &mut self,
        _time: Timestamp,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, Q4Row>,
    ) -> Result<(), BoxError> {
        let category = *ctx.key();
        let Some(mut s) = ctx.value_state(&self.sum).value()? else {
            return Ok(());
        };
        if s.dirty && s.count > 0 {
            out.collect(Q4Row {
                category,
                avg_final: s.sum / s.count,
            });
            s.dirty = false;
            ctx.value_state(&self.sum).update(s)?;
        }
        Ok(())
    }
}

/// q4 over `events`: per category the average winning price, as upserting [`Q4Row`]s.
pub fn q4(events: DataStream<Event>) -> DataStream<Q4Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q4Input>| match e {
            Event::Auction(a) => out.collect(Q4Input::Auction {
                id: a.id,
                category: a.category,
                date_time: a.date_time,
                expires: a.expires,
            }),
            Event::Bid(b) => out.collect(Q4Input::Bid {
                auction: b.auction,
                price: b.price,
                date_time: b.date_time,
            }),
            Event::Person(_) => {}
        })
        .name("q4: auctions and bids")
        .uid("q4-inputs")
        .key_by(|i: &Q4Input| i.auction())
        .process(Q4Winning::default())
        .name("q4: winning price per auction")
        .uid("q4-winning-price")
        .key_by(|c: &Q4Change| c.category)
        .process(Q4Average::default())
        .name("q4: average per category")
        .uid("q4-average")
}
