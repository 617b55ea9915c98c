//! The `strom` command line (package `strom-cli`): `strom example …` runs the bundled jobs
//! without writing Rust, `strom bench …` measures throughput, `strom savepoint …` takes
//! savepoints of running jobs.
//!
//! Applications depend on the façade crate `strom`, not on this one. This library holds
//! the bundled example jobs ([`jobs`]), which tests, benchmarks and `docs/fraud.md` use
//! from Rust, and the command line itself (hidden).

#[doc(hidden)]
pub mod cli;
pub mod jobs;

/// The fraud-detection guide, compiled and run as a doctest (it uses [`jobs::fraud`]).
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../docs/fraud.md")]
    struct Fraud;
}
