//! The CEP job behind `strom example rising-temperatures`: per sensor, three strictly
//! rising temperatures in a row (consecutive readings in event-time order) within a time
//! window, skip past the last event. The same question as Flink SQL's
//!
//! ```sql
//! MATCH_RECOGNIZE (PARTITION BY sensor_id ORDER BY ts
//!   MEASURES A.ts_ms AS a_ts, B.ts_ms AS b_ts, C.ts_ms AS c_ts,
//!            A.temperature AS a_temp, B.temperature AS b_temp, C.temperature AS c_temp
//!   ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW
//!   PATTERN (A B C) WITHIN INTERVAL '1' MINUTE
//!   DEFINE B AS B.temperature > A.temperature, C AS C.temperature > B.temperature)
//! ```
//!
//! Input: CSV `sensor_id,ts_ms,temperature` (as `strom example sensors`). Output rows:
//! `sensor_id,a_ts,b_ts,c_ts,a_temp,b_temp,c_temp`, doubles printed as Java prints them.
//! Late readings (timestamp at or below the watermark) go to `--late-output` verbatim.

use super::Job;
use super::sensors::{SensorReading, java_double, job_env, sensor_source};
use std::path::PathBuf;
use std::time::Duration;
use strom::cep::{AfterMatchSkipStrategy, CepExt, Match, Pattern};
use strom::connectors::file::{TextLinesSink, WithLine};
use strom::core::watermark::WatermarkStrategy;
use strom::prelude::*;

/// Everything the job takes.
#[derive(Clone, Debug)]
pub struct RisingConfig {
    /// Input CSV files or directories.
    pub input: Vec<PathBuf>,
    /// Output file for matches (a directory of part files when checkpointing).
    pub output: PathBuf,
    /// Output file for late readings (their input lines).
    pub late_output: Option<PathBuf>,
    /// The three readings must lie within this time (last − first < within).
    pub within: Duration,
    /// Bounded out-of-orderness of the watermark.
    pub out_of_orderness: Duration,
    /// Watermark emission interval (0 = after every record).
    pub watermark_interval: Duration,
    /// Parallelism of source and pattern matching.
    pub parallelism: usize,
    /// Checkpoints: interval and directory.
    pub checkpointing: Option<(Duration, PathBuf)>,
    /// Where to start from: `latest` or a checkpoint or savepoint path.
    pub restore: Option<String>,
    /// Emit at most this many input records per second (in total).
    pub rate: Option<f64>,
    /// Where the pattern's per-key state lives (`None`: as STROM_STATE_BACKEND says, else heap).
    pub state_backend: Option<StateBackendConfig>,
}

type Line = WithLine<SensorReading>;

/// The pattern: `a`, then strictly next a warmer `b`, then strictly next a warmer `c`,
/// within `within`, skipping past the last event of each match.
pub fn rising_pattern(within: Duration) -> Pattern<Line> {
    Pattern::begin_with_skip("a", AfterMatchSkipStrategy::skip_past_last_event())
        .next("b")
        .where_iter(|r: &Line, ctx| {
            ctx.events_for_pattern("a")
                .all(|a| r.value.temperature > a.value.temperature)
        })
        .next("c")
        .where_iter(|r: &Line, ctx| {
            ctx.events_for_pattern("b")
                .all(|b| r.value.temperature > b.value.temperature)
        })
        .within(within)
}

/// Format a match as an output row (`None` for a match without the three stages, which
/// this pattern cannot produce).
pub fn format_match(m: &Match<Line>) -> Option<String> {
    let (a, b, c) = (
        &m.first("a")?.value,
        &m.first("b")?.value,
        &m.first("c")?.value,
    );
    Some(format!(
        "{},{},{},{},{},{},{}",
        a.sensor_id,
        a.ts_ms,
        b.ts_ms,
        c.ts_ms,
        java_double(a.temperature),
        java_double(b.temperature),
        java_double(c.temperature)
    ))
}

/// Build and run the job; returns its result.
pub fn run(cfg: &RisingConfig) -> Result<strom::JobResult, StromError> {
    build(cfg)?.execute()
}

/// Build the job (nothing runs): the CSV source, watermarks, the pattern on the configured
/// state backend and the sinks.
pub fn build(cfg: &RisingConfig) -> Result<Job, StromError> {
    let job = job_env(
        "rising-temperatures",
        cfg.parallelism,
        cfg.checkpointing.as_ref(),
        cfg.restore.as_deref(),
        cfg.state_backend.clone(),
    )?;
    let env = job.env();
    let mut readings = env
        .from_source(sensor_source(cfg.input.clone()), "Source: CSV")
        .uid("rising-source");
    if let Some(rate) = cfg.rate {
        readings = readings.rate_limit(rate);
    }
    let readings = readings.assign_timestamps_and_watermarks(
        WatermarkStrategy::for_bounded_out_of_orderness(cfg.out_of_orderness)
            .with_timestamp_assigner(|r: &Line, _| r.value.ts_ms)
            .with_emission_interval(cfg.watermark_interval),
    );
    let late = OutputTag::<Line>::new("late");
    let rows = readings
        .key_by(|r: &Line| r.value.sensor_id.clone())
        .pattern(rising_pattern(cfg.within))
        .side_output_late_data(&late)
        .flat_select(|m: Match<Line>, out: &mut Collector<'_, String>| {
            if let Some(row) = format_match(&m) {
                out.collect(row);
            }
        })
        .uid("rising-cep");
    if let Some(path) = &cfg.late_output {
        rows.side_output(&late)
            .sink_to(TextLinesSink::new(path.clone()), "Sink: Late")
            .uid("rising-late-sink")
            .set_parallelism(1);
    }
    rows.sink_to(TextLinesSink::new(cfg.output.clone()), "Sink: Matches")
        .uid("rising-sink")
        .set_parallelism(1);
    Ok(job)
}
