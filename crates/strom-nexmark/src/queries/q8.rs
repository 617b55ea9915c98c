//! Nexmark q8, monitor new users: who registered and opened an auction in the same
//! 10-second period?
//!
//! The reference SQL groups the persons by `(id, name)` per 10 s tumbling window of their
//! `dateTime`, the auctions by `seller` per 10 s tumbling window of theirs, and joins the two
//! on `P.id = A.seller` and equal window bounds (a window join: the result is appended when
//! the watermark passes the window's end). It selects `P.id`, `P.name` and the window start
//! as `starttime`: one row per person (id and name) and window in which that person both
//! registered and opened at least one auction, however many auctions that was.
//!
//! Both group-bys and the join share the key (person id = seller) and the window, so the
//! pipeline computes them in one keyed tumbling window: a chained `flat_map` turns persons
//! into `(id, Some(name))` and auctions into `(seller, None)` (moving the name, copying
//! nothing else), the stream is keyed by that id, and a 10 s tumbling event-time window
//! aggregates the distinct names seen and whether any auction was seen. When the window
//! fires (watermark past its end, as the window join fires), it emits one [`Q8Row`] per
//! distinct name if an auction was seen. Person ids are unique in Nexmark, so the name list
//! holds at most one name; it is a list only to follow the SQL's `GROUP BY id, name`
//! literally.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use strom_api::DataStream;
use strom_core::{AggregateFunction, BoxError, Collector, Timestamp};
use strom_window::{TimeWindow, TumblingEventTimeWindows, WindowContext, WindowElements};

/// The window size: 10 s.
pub const WINDOW_MS: i64 = 10_000;

/// One row of q8's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q8Row {
    /// The person's id.
    pub id: i64,
    /// The person's name.
    pub name: Text,
    /// Start of the 10 s window (epoch ms) in which the person registered and opened an
    /// auction.
    pub starttime: Timestamp,
}

impl QueryRow for Q8Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            json!(self.id),
            json!(self.name.as_str()),
            json!(self.starttime),
        ]
    }

    /// The window's end.
    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.starttime + WINDOW_MS)
    }
}

/// A person (`name` set) or an auction's seller (`name` empty), keyed by the id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Q8In {
    id: i64,
    name: Option<Text>,
}

/// Per id and window: the distinct names of persons with that id, and whether an auction
/// of that seller was seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Seen {
    names: Vec<Text>,
    seller: bool,
}

/// Folds persons and auctions into [`Seen`]; the result is the names to report (empty
/// unless both sides were seen).
#[derive(Clone, Copy, Debug)]
struct NewUsers;

impl AggregateFunction<Q8In> for NewUsers {
    type Acc = Seen;
    type Out = Vec<Text>;

    fn create_accumulator(&self) -> Seen {
        Seen::default()
    }

    fn add(&self, acc: &mut Seen, value: &Q8In) {
        match &value.name {
            Some(name) => {
                if !acc.names.contains(name) {
                    acc.names.push(name.clone());
                }
            }
            None => acc.seller = true,
        }
    }

    fn get_result(&self, acc: &Seen) -> Vec<Text> {
        if acc.seller {
            acc.names.clone()
        } else {
            Vec::new()
        }
    }

    fn merge(&self, mut a: Seen, b: Seen) -> Seen {
        for name in b.names {
            if !a.names.contains(&name) {
                a.names.push(name);
            }
        }
        a.seller |= b.seller;
        a
    }
}

/// Nexmark q8 over `events`: persons who opened an auction in the 10 s window in which
/// they registered.
pub fn q8(events: DataStream<Event>) -> DataStream<Q8Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q8In>| match e {
            Event::Person(p) => out.collect(Q8In {
                id: p.id,
                name: Some(p.name),
            }),
            Event::Auction(a) => out.collect(Q8In {
                id: a.seller,
                name: None,
            }),
            Event::Bid(_) => {}
        })
        .name("q8-persons-and-sellers")
        .uid("q8-persons-and-sellers")
        .key_by(|x: &Q8In| x.id)
        .window(TumblingEventTimeWindows::of(Duration::from_millis(
            WINDOW_MS as u64,
        )))
        .aggregate_with_process(
            NewUsers,
            |id: &i64,
             ctx: &mut WindowContext<'_, TimeWindow>,
             names: WindowElements<'_, Vec<Text>>,
             out: &mut Collector<'_, Q8Row>|
             -> Result<(), BoxError> {
                let starttime = ctx.window().start;
                for names in names {
                    for name in names {
                        out.collect(Q8Row {
                            id: *id,
                            name: name.clone(),
                            starttime,
                        });
                    }
                }
                Ok(())
            },
        )
        .name("q8-window-join")
        .uid("q8-window-join")
}
