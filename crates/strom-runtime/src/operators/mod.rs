//! The built-in one-input operators. Each transforms a whole batch per call; the user's
//! closure is a type parameter, so the per-record call is static and inlinable.

mod basic;
mod process;
mod reduce;
mod watermarks;

pub use basic::{Filter, FlatMap, Map, TryMap};
pub use process::Process;
pub use reduce::KeyedReduce;
pub use watermarks::TimestampsAndWatermarks;
