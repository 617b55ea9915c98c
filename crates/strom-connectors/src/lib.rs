//! Strom's connectors: sources and sinks that implement `strom-core`'s
//! [`Source`](strom_core::Source) and [`Sink`](strom_core::Sink) traits.
//!
//! * [`collection`]: a bounded source over a `Vec` or iterator.
//! * [`generator`]: a deterministic generator (count or unbounded) split across subtasks.
//! * [`mod@file`]: CSV and JSON-lines file sources (parallel over files and byte-range splits,
//!   with dead letters for malformed lines) and CSV / JSON-lines file sinks, exactly once
//!   (two-phase commit of part files) when the job takes checkpoints. Cargo feature `file`
//!   (default); without it the crate has no dependency beyond `strom-core` and serde.
//! * [`mod@print`], [`collect`], [`discard`]: sinks for the console, tests and benchmarks.
//!
//! Connectors to external systems (Kafka, MQTT, PostgreSQL) live here too, each behind a
//! cargo feature.

pub mod collect;
pub mod collection;
pub mod discard;
#[cfg(feature = "file")]
pub mod file;
pub mod generator;
pub mod print;
