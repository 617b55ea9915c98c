//! Nexmark, the stream processing benchmark of the field, for Strom.
//!
//! * [`model`]: persons, auctions and bids.
//! * [`generator`]: the reference event generator, deterministic by seed.
//! * [`json`]: the events as JSON lines, in the schema Flink SQL reads.
//! * [`source`]: the events as a stream, generated or read from files.
//! * [`queries`]: q0 to q22 in the DataStream API.
//! * [`time`]: SQL timestamp text and calendar fields.
//!
//! `strom bench nexmark` runs the queries and measures them;
//! `benchmarks/nexmark/compare-flink.sh` runs them beside Apache Flink on the same events.

pub mod generator;
pub mod json;
pub mod model;
pub mod queries;
pub mod source;
pub mod time;

pub use generator::{NexmarkConfig, NexmarkGenerator};
pub use model::{Auction, Bid, Event, Person};
