//! The job behind `strom example rolling-sum`: generated `key,value` events, each key's
//! rolling sum printed as it changes.

use super::Job;
use strom::prelude::*;

/// Everything the job takes.
#[derive(Clone, Debug)]
pub struct RollingSumConfig {
    /// Number of events (`None`: unbounded, until cancelled).
    pub events: Option<u64>,
    /// Number of distinct keys (at least 1).
    pub keys: u64,
    /// Events per second in total (`None`: as fast as possible).
    pub rate: Option<f64>,
    /// Parallelism of the source and the sums (the print sink runs at 1).
    pub parallelism: usize,
}

/// Build the job (nothing runs).
pub fn build(cfg: &RollingSumConfig) -> Result<Job, StromError> {
    if cfg.keys == 0 {
        return Err(StromError::InvalidJob(
            "the number of keys must be at least 1".into(),
        ));
    }
    let env = StreamEnv::new().with_parallelism(cfg.parallelism);
    let keys = cfg.keys;
    let mut source = env.generate(cfg.events, move |i| (format!("key-{}", i % keys), i % 100));
    if let Some(r) = cfg.rate {
        source = source.rate_limit(r);
    }
    source
        .key_by(|(k, _)| k.clone())
        .sum(|t: &mut (String, u64)| &mut t.1)
        .sink_to(strom::connectors::print::PrintSink, "Sink: Print")
        .set_parallelism(1);
    Ok(Job::new(env, "rolling sum"))
}

/// Build and run the job; returns its result.
pub fn run(cfg: &RollingSumConfig) -> Result<strom::JobResult, StromError> {
    build(cfg)?.execute()
}
