//! # Strom
//!
//! A stateful stream processor with Apache Flink's model and semantics, written in Rust.
//! This façade crate is what applications depend on; it re-exports the DataStream API, the
//! contracts for user functions and connectors, and the built-in connectors.
//!
//! ```
//! use strom::prelude::*;
//!
//! let env = StreamEnv::new().with_parallelism(2);
//! let words = env
//!     .from_collection(vec!["a b".to_string(), "b c b".to_string()])
//!     .flat_map(|line: String, out: &mut Collector<(String, u64)>| {
//!         for w in line.split_whitespace() {
//!             out.collect((w.to_string(), 1));
//!         }
//!     })
//!     .key_by(|(w, _)| w.clone())
//!     .sum(|t: &mut (String, u64)| &mut t.1)
//!     .collect();
//! env.execute("word count").unwrap();
//! let mut counts = words.take();
//! counts.sort();
//! assert_eq!(counts.last(), Some(&("c".to_string(), 1)));
//! ```
//!
//! Crates behind it, in dependency order: `strom-types` (vocabulary), `strom-core`
//! (contracts), `strom-runtime` (tasks, chains, channels), `strom-connectors` (sources and
//! sinks), `strom-window`, `strom-state`, `strom-process`, `strom-api` (the DataStream API),
//! and the optional `strom-cep`, `strom-nexmark`, `strom-object-store`. See
//! `docs/architecture.md`. The `strom` command line (bundled example jobs, benchmarks) is
//! the separate package `strom-cli`.
//!
//! # Cargo features
//!
//! Every feature is on by default; `strom = { version = "…", default-features = false }`
//! is the core alone (types, contracts, runtime, DataStream API, windows and joins, keyed
//! state on the heap, process functions, and the collection, generator, print, collect and
//! discard connectors), with no C code and no CSV, fjall or HTTP dependencies.
//!
//! | feature | gates |
//! |---|---|
//! | `connectors` | the file connectors (`connectors::file`: CSV, JSON lines, text lines) and the `read_csv`, `read_json_lines`, `write_csv`, `write_json_lines`, `write_text_lines` methods |
//! | `disk` | the disk state backend (`StateBackendConfig::Disk`, on fjall); without it a job that asks for it fails in `execute` before it runs, naming the feature |
//! | `object-store` | `strom::object_store`: checkpoints on S3-compatible stores (`s3://`), over http and https (rustls with *ring*, no aws-lc) |
//! | `nexmark` | `strom::nexmark`: the Nexmark generator, JSON-lines I/O and queries |
//! | `cep` | `strom::cep`: complex event processing (patterns) |

pub use strom_api::{
    AllWindowedStream, CancelHandle, CoGroupedStreams, DataStream, DataStreamSink, IntervalJoin,
    IntervalJoined, JobResult, JoinedStreams, KeyedStream, OperatorStats, StreamEnv,
    WindowedStream,
};
/// Complex event processing: patterns over streams (see `docs/cep.md`). Feature `cep`.
#[cfg(feature = "cep")]
pub use strom_cep as cep;
pub use strom_connectors as connectors;
pub use strom_core as core;
pub use strom_core::checkpoint::StateBackendConfig;
pub use strom_core::{
    BoxError, Collector, Data, DeadLetter, Key, OutputTag, ProcessContext, ProcessFunction, Record,
    Result, Sink, SinkWriter, Source, SourceReader, StromError, TaskInfo, Timestamp, Watermark,
};
/// The Nexmark benchmark: generator, JSON-lines I/O and queries. Feature `nexmark`.
#[cfg(feature = "nexmark")]
pub use strom_nexmark as nexmark;
/// Checkpoint storage on S3-compatible object stores. Feature `object-store`.
#[cfg(feature = "object-store")]
pub use strom_object_store as object_store;
pub use strom_process as process;
/// Test harnesses for your own functions and operators (see `docs/testing.md`).
pub use strom_process::testkit;
/// The runtime, for extension authors: operators (`runtime::operator`), node builders
/// (`runtime::graph`, `runtime::nodes`), checkpoint storage and the physical plan. Jobs
/// need only the API above.
pub use strom_runtime as runtime;
pub use strom_runtime::checkpoint::{
    CheckpointConfig, CheckpointStats, CheckpointingMode, RestartStrategy, RestorePoint,
    SavepointHandle,
};
pub use strom_state as state;
pub use strom_types as types;
pub use strom_window as window;

/// Everything a typical job needs: `use strom::prelude::*;`.
pub mod prelude {
    pub use crate::core::watermark::WatermarkStrategy;
    pub use crate::process::{AsyncConfig, KeyedContext, KeyedProcessFunction, TimeDomain};
    pub use crate::state::{
        AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor,
        ReducingStateDescriptor, StateTtlConfig, ValueStateDescriptor,
    };
    pub use crate::window::{
        AggregateFunction, Either, EventTimeSessionWindows, GlobalWindows, ProcessWindowFunction,
        SlidingEventTimeWindows, TimeWindow, TumblingEventTimeWindows, WindowContext,
        WindowElements,
    };
    pub use crate::{
        BoxError, CheckpointConfig, CheckpointingMode, Collector, Data, DataStream, DeadLetter,
        Key, KeyedStream, OutputTag, ProcessContext, ProcessFunction, RestartStrategy,
        RestorePoint, StateBackendConfig, StreamEnv, StromError, TaskInfo,
    };
    pub use std::time::Duration;
}

/// The user guides in `docs/`, compiled and run as doctests so that their code stays true
/// (each under the features its code needs; `docs/fraud.md` runs with `strom-cli`, whose
/// jobs it uses).
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../docs/datastream.md")]
    struct DataStream;
    #[cfg(feature = "connectors")]
    #[doc = include_str!("../../../docs/sources-and-sinks.md")]
    struct SourcesAndSinks;
    #[cfg(all(
        feature = "connectors",
        feature = "disk",
        feature = "object-store",
        feature = "nexmark",
        feature = "cep"
    ))]
    #[doc = include_str!("../../../README.md")]
    struct Readme;
    #[doc = include_str!("../../../docs/state-and-timers.md")]
    struct StateAndTimers;
    #[cfg(all(feature = "connectors", feature = "disk"))]
    #[doc = include_str!("../../../docs/checkpointing.md")]
    struct Checkpointing;
    #[cfg(feature = "nexmark")]
    #[doc = include_str!("../../../docs/nexmark.md")]
    struct Nexmark;
    #[cfg(feature = "cep")]
    #[doc = include_str!("../../../docs/cep.md")]
    struct Cep;
}
