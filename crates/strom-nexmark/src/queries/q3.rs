//! Nexmark q3: local item suggestion.
//!
//! **Question.** Who is selling in Oregon, Idaho or California in category 10, and in
//! which auctions?
//!
//! **Reference SQL, in words.** A regular (unwindowed) inner join of `auction A` and
//! `person P` on `A.seller = P.id`, keeping the pairs with `A.category = 10` and
//! `P.state` one of `OR`, `ID`, `CA`; select `P.name`, `P.city`, `P.state`, `A.id`. Flink
//! keeps both inputs in state forever and emits each matching pair once, when its second
//! row arrives; the output only appends.
//!
//! **Pipeline.** A flat-map chained to the source turns persons into a small
//! [`Q3Input::Person`] (id, name, city, state, time) and category-10 auctions into
//! [`Q3Input::Auction`] (id, seller, time); everything else is dropped. Both are keyed by
//! the person id (the seller for auctions) into one keyed process function:
//!
//! * a person is stored, as its name, city and state when it lives in one of the three
//!   states and as a bare "elsewhere" mark otherwise; the auctions of that seller that came
//!   first are joined and emitted (or, for an elsewhere person, dropped) and forgotten;
//! * an auction whose seller is known is joined at once (or dropped for an elsewhere
//!   seller); one whose seller has not arrived yet waits in the key's list.
//!
//! Persons are never updated (ids are unique), so one stored person per key suffices and
//! every matching pair is emitted exactly once, whichever side comes first.
//!
//! **Differences from Flink.** The result is the same. The state differs: Flink filters
//! persons by state before the join and keeps every category-10 auction forever; here
//! auctions are kept only until their seller arrives, and each person is kept (the
//! non-matching ones as a mark of a few bytes) so that its later auctions can be joined or
//! dropped at once. An auction whose seller never arrives waits forever, as in Flink.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::{BoxError, Collector, Timestamp};
use strom_process::{KeyedContext, KeyedProcessFunction};
use strom_state::{ListStateDescriptor, ValueStateDescriptor};

/// The auction category q3 selects.
pub const CATEGORY: i64 = 10;
/// The person states q3 selects.
pub const STATES: [&str; 3] = ["OR", "ID", "CA"];

/// One row of q3: a local seller and one of its category-10 auctions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q3Row {
    /// `P.name`: the seller's name.
    pub name: Text,
    /// `P.city`: the seller's city.
    pub city: Text,
    /// `P.state`: the seller's state.
    pub state: Text,
    /// `A.id`: the auction.
    pub id: i64,
    /// Not an output column: the later of the person's and the auction's `dateTime`,
    /// the event time from which the pair could be joined ([`QueryRow::trigger_time`]).
    pub joined_at: Timestamp,
}

impl QueryRow for Q3Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            Value::String(self.name.to_string()),
            Value::String(self.city.to_string()),
            Value::String(self.state.to_string()),
            self.id.into(),
        ]
    }

    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.joined_at)
    }
}

/// What q3's join reads: the fields it needs of persons and category-10 auctions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Q3Input {
    /// A person.
    Person {
        /// `P.id`.
        id: i64,
        /// `P.name`.
        name: Text,
        /// `P.city`.
        city: Text,
        /// `P.state`.
        state: Text,
        /// `P.dateTime`.
        date_time: Timestamp,
    },
    /// An auction of category 10.
    Auction {
        /// `A.id`.
        id: i64,
        /// `A.seller`.
        seller: i64,
        /// `A.dateTime`.
        date_time: Timestamp,
    },
}

impl Q3Input {
    /// The join key: the person id, or the auction's seller.
    pub fn person_id(&self) -> i64 {
        match self {
            Q3Input::Person { id, .. } => *id,
            Q3Input::Auction { seller, .. } => *seller,
        }
    }
}

/// A person as the join keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Q3Seller {
    /// Lives in one of [`STATES`]: its auctions join.
    Local {
        /// Name.
        name: Text,
        /// City.
        city: Text,
        /// State.
        state: Text,
        /// When the person registered.
        date_time: Timestamp,
    },
    /// Lives elsewhere: its auctions never join.
    Elsewhere,
}

/// q3's join: keyed by person id, both sides kept as described in the
/// [module documentation](self).
#[derive(Clone)]
pub struct Q3Join {
    seller: ValueStateDescriptor<Q3Seller>,
    /// Auctions (id, dateTime) waiting for their seller.
    waiting: ListStateDescriptor<(i64, Timestamp)>,
}

impl Default for Q3Join {
    fn default() -> Self {
        Q3Join {
            seller: ValueStateDescriptor::new("seller"),
            waiting: ListStateDescriptor::new("waiting-auctions"),
        }
    }
}

impl KeyedProcessFunction<i64, Q3Input, Q3Row> for Q3Join {
    fn process_element(
        &mut self,
        input: Q3Input,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, Q3Row>,
    ) -> Result<(), BoxError> {
        match input {
            Q3Input::Person {
                name,
                city,
                state,
                date_time,
                ..
            } => {
                let waiting = ctx.list_state(&self.waiting).get()?;
                if !waiting.is_empty() {
                    ctx.list_state(&self.waiting).clear()?;
                }
                let seller = if STATES.contains(&state.as_str()) {
                    for &(id, auction_time) in &waiting {
                        out.collect(Q3Row {
                            name: name.clone(),
                            city: city.clone(),
                            state: state.clone(),
                            id,
                            joined_at: date_time.max(auction_time),
                        });
                    }
                    Q3Seller::Local {
                        name,
                        city,
                        state,
                        date_time,
                    }
                } else {
                    Q3Seller::Elsewhere
                };
                ctx.value_state(&self.seller).update(seller)?;
            }
            Q3Input::Auction { id, date_time, .. } => {
                match ctx.value_state(&self.seller).value()? {
                    Some(Q3Seller::Local {
                        name,
                        city,
                        state,
                        date_time: person_time,
                    }) => out.collect(Q3Row {
                        name,
                        city,
                        state,
                        id,
                        joined_at: date_time.max(person_time),
                    }),
                    Some(Q3Seller::Elsewhere) => {}
                    None => ctx.list_state(&self.waiting).add((id, date_time))?,
                }
            }
        }
        Ok(())
    }
}

/// q3 over `events`: category-10 auctions of sellers in OR, ID or CA, as [`Q3Row`]s.
pub fn q3(events: DataStream<Event>) -> DataStream<Q3Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q3Input>| match e {
            Event::Person(p) => out.collect(Q3Input::Person {
                id: p.id,
                name: p.name,
                city: p.city,
                state: p.state,
                date_time: p.date_time,
            }),
            Event::Auction(a) if a.category == CATEGORY => out.collect(Q3Input::Auction {
                id: a.id,
                seller: a.seller,
                date_time: a.date_time,
            }),
            _ => {}
        })
        .name("q3: persons and category-10 auctions")
        .uid("q3-inputs")
        .key_by(|i: &Q3Input| i.person_id())
        .process(Q3Join::default())
        .name("q3: join auction and person")
        .uid("q3-join")
}
