//! The typed DataStream API (Flink's `StreamExecutionEnvironment`, `DataStream`,
//! `KeyedStream`).
//!
//! A job is described by calling methods on a [`StreamEnv`] and the [`DataStream`]s it
//! returns; nothing runs until [`StreamEnv::execute`], which hands the job graph to the
//! runtime and blocks until the job ends.
//!
//! ```
//! use strom_api::StreamEnv;
//!
//! let env = StreamEnv::new().with_parallelism(2);
//! let out = env
//!     .from_collection(vec![1i64, 2, 3, 4, 5, 6])
//!     .map(|x| (x % 2, x))
//!     .key_by(|(parity, _)| *parity)
//!     .sum(|t: &mut (i64, i64)| &mut t.1)
//!     .collect();
//! env.execute("rolling sums").unwrap();
//! let mut sums = out.take();
//! sums.sort();
//! assert_eq!(sums, vec![(0, 2), (0, 6), (0, 12), (1, 1), (1, 4), (1, 9)]);
//! ```

mod broadcast;
mod connected;
mod env;
mod join;
mod keyed;
mod stream;
mod windowed;

pub use broadcast::{BroadcastConnectedDataStream, BroadcastConnectedStream, BroadcastStream};
pub use connected::{ConnectedStreams, KeyedConnectedStreams};
pub use env::StreamEnv;
pub use join::{
    CoGroup, CoGroupedStreams, InnerJoin, IntervalBound, IntervalJoin, IntervalJoined, JoinEqualTo,
    JoinWhere, JoinWindow, JoinedStreams,
};
pub use keyed::KeyedStream;
pub use stream::{DataStream, DataStreamSink};
pub use strom_runtime::{CancelHandle, JobResult, OperatorStats, PhysicalPlan};
pub use windowed::{AllWindowedStream, WindowedStream};
