//! The IoT sensor job behind `strom example sensors`: per sensor and window, the count,
//! average, minimum and maximum temperature of CSV readings `sensor_id,ts_ms,temperature`,
//! in event time with bounded out-of-orderness, optional allowed lateness and a late-data
//! output that gets each late record's input line verbatim.
//!
//! Output rows: `sensor_id,window_start_ms,window_end_ms,count,avg,min,max`, doubles
//! printed as Java prints them (as Flink's output does).

use super::Job;
use super::fast_csv::{FastCsvParser, parse_i64};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use strom::connectors::file::{LineFileSource, TextLinesSink, WithLine};
use strom::core::watermark::WatermarkStrategy;
use strom::prelude::*;
use strom::window::{
    AggregateFunction, EventTimeSessionWindows, SlidingEventTimeWindows, TimeWindow,
    TumblingEventTimeWindows, WindowAssigner, WindowContext, WindowElements,
};

/// One input line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorReading {
    /// The sensor (inline up to 24 bytes: cloning it as a key allocates nothing).
    pub sensor_id: strom::core::CompactString,
    /// Event time, epoch ms.
    pub ts_ms: i64,
    /// Degrees Celsius.
    pub temperature: f64,
}

/// A parser for `sensor_id,ts_ms,temperature` lines that is several times faster than the
/// generic CSV path: it splits at the two commas and parses the numbers directly; other lines
/// go through the generic CSV parser (same input accepted, same errors).
pub type SensorLineParser = FastCsvParser<SensorReading>;

impl Default for SensorLineParser {
    fn default() -> Self {
        FastCsvParser::new(fast_parse)
    }
}

/// The fast path: exactly three unquoted fields with a plain integer and a plain float.
#[inline]
fn fast_parse(line: &[u8]) -> Option<SensorReading> {
    let a = memchr::memchr(b',', line)?;
    let rest = line.get(a + 1..)?;
    let b = memchr::memchr(b',', rest)?;
    let (ts, temp) = (rest.get(..b)?, rest.get(b + 1..)?);
    let sensor = line.get(..a)?;
    if sensor.is_empty()
        || memchr::memchr3(b',', b'"', b' ', temp).is_some()
        || sensor.contains(&b'"')
    {
        return None;
    }
    let ts_ms = parse_i64(ts)?;
    let temperature: f64 = std::str::from_utf8(temp).ok()?.parse().ok()?;
    Some(SensorReading {
        sensor_id: strom::core::CompactString::new(std::str::from_utf8(sensor).ok()?),
        ts_ms,
        temperature,
    })
}

/// The file source of the job: sensor lines, each kept with its original text.
pub fn sensor_source(
    input: Vec<PathBuf>,
) -> LineFileSource<SensorReading, SensorLineParser, strom::connectors::file::KeepLines> {
    LineFileSource::new(input, SensorLineParser::default).with_lines()
}

/// Which windows to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSpec {
    /// `tumble:SIZE`
    Tumble(Duration),
    /// `hop:SIZE,SLIDE`
    Hop(Duration, Duration),
    /// `session:GAP`
    Session(Duration),
}

impl std::str::FromStr for WindowSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let d = super::duration::parse_duration;
        let (kind, args) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}': expected tumble:SIZE, hop:SIZE,SLIDE or session:GAP"))?;
        let spec = match kind {
            "tumble" => WindowSpec::Tumble(d(args)?),
            "hop" => {
                let (size, slide) = args
                    .split_once(',')
                    .ok_or_else(|| format!("'{s}': hop needs SIZE,SLIDE, e.g. hop:10s,5s"))?;
                WindowSpec::Hop(d(size)?, d(slide)?)
            }
            "session" => WindowSpec::Session(d(args)?),
            _ => {
                return Err(format!(
                    "'{kind}': unknown window kind (tumble, hop, session)"
                ));
            }
        };
        let zero = match spec {
            WindowSpec::Tumble(a) | WindowSpec::Session(a) => a.is_zero(),
            WindowSpec::Hop(a, b) => a.is_zero() || b.is_zero(),
        };
        if zero {
            return Err(format!("'{s}': window sizes must be positive"));
        }
        Ok(spec)
    }
}

/// Everything the job takes.
#[derive(Clone, Debug)]
pub struct SensorsConfig {
    /// Input CSV files or directories.
    pub input: Vec<PathBuf>,
    /// Output file for window rows.
    pub output: PathBuf,
    /// Output file for late records (their input lines).
    pub late_output: Option<PathBuf>,
    /// The windows.
    pub window: WindowSpec,
    /// Bounded out-of-orderness of the watermark.
    pub out_of_orderness: Duration,
    /// Allowed lateness of windows.
    pub allowed_lateness: Duration,
    /// Watermark emission interval (0 = after every record).
    pub watermark_interval: Duration,
    /// Parallelism of source and windows.
    pub parallelism: usize,
    /// Checkpoints: interval and directory (the output becomes a directory of part files
    /// committed exactly once).
    pub checkpointing: Option<(Duration, PathBuf)>,
    /// Where to start from: `latest` (in the checkpoint directory) or a checkpoint or
    /// savepoint path.
    pub restore: Option<String>,
    /// Emit at most this many input records per second (in total).
    pub rate: Option<f64>,
    /// Where the windows' state lives (`None`: as STROM_STATE_BACKEND says, else heap).
    pub state_backend: Option<StateBackendConfig>,
}

/// Count, sum, min and max of a window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Readings.
    pub count: u64,
    /// Sum of temperatures, in arrival order.
    pub sum: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

/// The incremental aggregate: keeps only [`Stats`] per window.
#[derive(Clone, Copy, Debug, Default)]
pub struct AvgMinMax;

impl AggregateFunction<WithLine<SensorReading>> for AvgMinMax {
    type Acc = Stats;
    type Out = Stats;
    fn create_accumulator(&self) -> Stats {
        Stats {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
    #[inline]
    fn add(&self, acc: &mut Stats, r: &WithLine<SensorReading>) {
        let t = r.value.temperature;
        acc.count += 1;
        acc.sum += t;
        if t < acc.min {
            acc.min = t;
        }
        if t > acc.max {
            acc.max = t;
        }
    }
    fn get_result(&self, acc: &Stats) -> Stats {
        *acc
    }
    fn merge(&self, a: Stats, b: Stats) -> Stats {
        Stats {
            count: a.count + b.count,
            sum: a.sum + b.sum,
            min: a.min.min(b.min),
            max: a.max.max(b.max),
        }
    }
}

/// A double as Java's `Double.toString` prints it (for values in `[1e-3, 1e7)` and zero;
/// scientific notation otherwise).
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = v.abs();
    if v == 0.0 || (1e-3..1e7).contains(&a) {
        // Ryu gives the shortest round-trip digits, as Rust's `{}` does, without its slow
        // fallback; in this range it prints plain decimals ("26.0", "25.18049999999999").
        let mut buf = ryu::Buffer::new();
        buf.format_finite(v).to_string()
    } else {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// Format one result row.
pub fn format_row(sensor: &str, w: &TimeWindow, s: &Stats) -> String {
    format!(
        "{sensor},{},{},{},{},{},{}",
        w.start,
        w.end,
        s.count,
        java_double(s.sum / s.count as f64),
        java_double(s.min),
        java_double(s.max)
    )
}

#[allow(clippy::ptr_arg)] // the key type of a window function is the stream's key type
fn emit_row(
    key: &strom::core::CompactString,
    ctx: &mut WindowContext<'_, TimeWindow>,
    mut stats: WindowElements<'_, Stats>,
    out: &mut Collector<'_, String>,
) -> Result<(), BoxError> {
    if let Some(s) = stats.next() {
        out.collect(format_row(key, ctx.window(), s));
    }
    Ok(())
}

type Line = WithLine<SensorReading>;

/// The environment of a file job, as a [`Job`] named `name` with nothing in it yet:
/// parallelism, checkpointing (savepoints served on request for local checkpoint
/// directories while the job runs), where to restore from and the state backend.
pub(crate) fn job_env(
    name: &str,
    parallelism: usize,
    checkpointing: Option<&(Duration, PathBuf)>,
    restore: Option<&str>,
    state_backend: Option<StateBackendConfig>,
) -> Result<Job, StromError> {
    let mut env = StreamEnv::new().with_parallelism(parallelism.max(1));
    if let Some(backend) = state_backend {
        env = env.with_state_backend(backend);
    }
    let mut savepoints = None;
    if let Some((interval, dir)) = checkpointing {
        let storage = crate::cli::savepoint::storage_for(dir)?;
        env = env.with_checkpointing(strom::CheckpointConfig::new(*interval, storage));
        if !dir.to_string_lossy().contains("://") {
            savepoints = Some(dir.clone());
        }
    }
    if let Some(restore) = restore {
        env = match crate::cli::savepoint::restore_point(
            restore,
            checkpointing.map(|(_, d)| d.as_path()),
        )? {
            Some(point) => env.restore_from(point),
            None => {
                tracing::info!("no completed checkpoint yet; starting from the beginning");
                env
            }
        };
    }
    let job = Job::new(env, name);
    Ok(match savepoints {
        Some(dir) => job.with_savepoint_requests(dir),
        None => job,
    })
}

/// Build and run the job; returns its result.
pub fn run(cfg: &SensorsConfig) -> Result<strom::JobResult, StromError> {
    build(cfg)?.execute()
}

/// Build the job (nothing runs): the CSV source, watermarks, the windows and the sinks.
pub fn build(cfg: &SensorsConfig) -> Result<Job, StromError> {
    let job = job_env(
        "sensors",
        cfg.parallelism,
        cfg.checkpointing.as_ref(),
        cfg.restore.as_deref(),
        cfg.state_backend.clone(),
    )?;
    let env = job.env();
    let source = sensor_source(cfg.input.clone());
    let mut readings = env.from_source(source, "Source: CSV").uid("sensors-source");
    if let Some(rate) = cfg.rate {
        readings = readings.rate_limit(rate);
    }
    let readings = readings.assign_timestamps_and_watermarks(
        WatermarkStrategy::for_bounded_out_of_orderness(cfg.out_of_orderness)
            .with_timestamp_assigner(|r: &Line, _| r.value.ts_ms)
            .with_emission_interval(cfg.watermark_interval),
    );
    let late = OutputTag::<Line>::new("late");
    let rows = match cfg.window {
        WindowSpec::Tumble(size) => {
            windowed(readings, TumblingEventTimeWindows::of(size), cfg, &late)
        }
        WindowSpec::Hop(size, slide) => windowed(
            readings,
            SlidingEventTimeWindows::of(size, slide),
            cfg,
            &late,
        ),
        WindowSpec::Session(gap) => {
            windowed(readings, EventTimeSessionWindows::with_gap(gap), cfg, &late)
        }
    };
    if let Some(path) = &cfg.late_output {
        rows.side_output(&late)
            .sink_to(TextLinesSink::new(path.clone()), "Sink: Late")
            .uid("sensors-late-sink")
            .set_parallelism(1);
    }
    rows.sink_to(TextLinesSink::new(cfg.output.clone()), "Sink: Windows")
        .uid("sensors-sink")
        .set_parallelism(1);
    Ok(job)
}

fn windowed<A>(
    readings: DataStream<Line>,
    assigner: A,
    cfg: &SensorsConfig,
    late: &OutputTag<Line>,
) -> DataStream<String>
where
    A: WindowAssigner<Line, W = TimeWindow>,
    A::DefaultTrigger: strom::window::Trigger<Line, TimeWindow> + Clone + Sync + 'static,
{
    readings
        .key_by(|r: &Line| r.value.sensor_id.clone())
        .window(assigner)
        .allowed_lateness(cfg.allowed_lateness)
        .side_output_late_data(late)
        .aggregate_with_process(AvgMinMax, emit_row)
        .name("Window Stats")
        .uid("sensors-windows")
}

/// The in-memory variant for benchmarks (no parsing), matching Flink's `SensorWindows --gen`.
#[derive(Clone, Debug)]
pub struct GeneratorConfig {
    /// Number of events.
    pub events: u64,
    /// Number of sensors.
    pub sensors: u64,
    /// Event-time spacing between consecutive events (overall).
    pub interval_ms: i64,
    /// Consecutive events of a subtask that share one timestamp before it advances by
    /// `interval_ms` (1: every event advances it, as Flink's generator does). More events
    /// per tick give more keys data in every slice of a long window.
    pub events_per_tick: u64,
    /// The windows.
    pub window: WindowSpec,
    /// Watermark emission interval.
    pub watermark_interval: Duration,
    /// Parallelism.
    pub parallelism: usize,
    /// Exactly-once checkpoints: interval and directory.
    pub checkpointing: Option<(Duration, PathBuf)>,
    /// Where the windows' state lives (`None`: as STROM_STATE_BACKEND says, else heap).
    pub state_backend: Option<StateBackendConfig>,
}

/// Event `i` of the generator: sensor `i % sensors`, in event-time order per subtask
/// (subtask `s` generates `s, s+p, …`; its k-th event is at `base + k * interval * p`), and a
/// temperature from a hash of `i` — the same stream as Flink's `SensorWindows.Gen`.
pub fn generated_reading(i: u64, sensors: u64, interval_ms: i64, p: u64) -> SensorReading {
    generated_reading_with(i, &sensor_ids(sensors), interval_ms, 1, p)
}

/// The sensor ids `s000`, `s001`, … (computed once, as Flink's generator does).
pub fn sensor_ids(sensors: u64) -> Vec<strom::core::CompactString> {
    (0..sensors.max(1))
        .map(|i| compact_str::format_compact!("s{i:03}"))
        .collect()
}

/// [`generated_reading`] with precomputed ids, and `per_tick` consecutive events of a
/// subtask at each timestamp (its k-th event at `base + (k / per_tick) * interval * p`).
#[inline]
pub fn generated_reading_with(
    i: u64,
    ids: &[strom::core::CompactString],
    interval_ms: i64,
    per_tick: u64,
    p: u64,
) -> SensorReading {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let h = h ^ (h >> 31);
    let n = ids.len().max(1) as u64;
    SensorReading {
        sensor_id: ids.get((i % n) as usize).cloned().unwrap_or_default(),
        ts_ms: 1_704_067_200_000 + (i / p / per_tick.max(1)) as i64 * interval_ms * p as i64,
        temperature: 15.0 + (h & 0xFFFF) as f64 / 65536.0 * 15.0,
    }
}

/// Run the generator variant; returns the job result and the number of window rows.
pub fn run_generated(cfg: &GeneratorConfig) -> Result<(strom::JobResult, u64), StromError> {
    let p = cfg.parallelism.max(1);
    let env = job_env(
        "sensors (generator)",
        p,
        cfg.checkpointing.as_ref(),
        None,
        cfg.state_backend.clone(),
    )?
    .env;
    let (sensors, interval, events) = (cfg.sensors.max(1), cfg.interval_ms, cfg.events);
    let per_tick = cfg.events_per_tick;
    let readings = env
        .generate(Some(events), {
            let ids = std::sync::Arc::new(sensor_ids(sensors));
            move |i| generated_reading_with(i, &ids, interval, per_tick, p as u64)
        })
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
                .with_timestamp_assigner(|r: &SensorReading, _| r.ts_ms)
                .with_emission_interval(cfg.watermark_interval),
        );
    fn stats<A>(s: DataStream<SensorReading>, a: A) -> DataStream<String>
    where
        A: WindowAssigner<SensorReading, W = TimeWindow>,
        A::DefaultTrigger:
            strom::window::Trigger<SensorReading, TimeWindow> + Clone + Sync + 'static,
    {
        s.key_by(|r: &SensorReading| r.sensor_id.clone())
            .window(a)
            .aggregate_with_process(
                ReadingStats,
                |key: &strom::core::CompactString,
                 ctx: &mut WindowContext<'_, TimeWindow>,
                 mut st: WindowElements<'_, Stats>,
                 out: &mut Collector<'_, String>| {
                    if let Some(s) = st.next() {
                        out.collect(format_row(key, ctx.window(), s));
                    }
                    Ok(())
                },
            )
            .name("Window Stats")
    }
    let rows = match cfg.window {
        WindowSpec::Tumble(size) => stats(readings, TumblingEventTimeWindows::of(size)),
        WindowSpec::Hop(size, slide) => stats(readings, SlidingEventTimeWindows::of(size, slide)),
        WindowSpec::Session(gap) => stats(readings, EventTimeSessionWindows::with_gap(gap)),
    };
    rows.discard();
    let result = env.execute("sensors (generator)")?;
    let n = result.operator("Window Stats").map_or(0, |o| o.records_out);
    Ok((result, n))
}

/// [`AvgMinMax`] over plain readings.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadingStats;

impl AggregateFunction<SensorReading> for ReadingStats {
    type Acc = Stats;
    type Out = Stats;
    fn create_accumulator(&self) -> Stats {
        <AvgMinMax as AggregateFunction<Line>>::create_accumulator(&AvgMinMax)
    }
    #[inline]
    fn add(&self, acc: &mut Stats, r: &SensorReading) {
        let t = r.temperature;
        acc.count += 1;
        acc.sum += t;
        acc.min = acc.min.min(t);
        acc.max = acc.max.max(t);
    }
    fn get_result(&self, acc: &Stats) -> Stats {
        *acc
    }
    fn merge(&self, a: Stats, b: Stats) -> Stats {
        <AvgMinMax as AggregateFunction<Line>>::merge(&AvgMinMax, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strom::connectors::file::{CsvLineParser, LineParser};

    #[test]
    fn events_per_tick_share_a_timestamp_per_subtask() {
        let ids = sensor_ids(7);
        let ts = |i, per_tick, p| generated_reading_with(i, &ids, 10, per_tick, p).ts_ms;
        let base = 1_704_067_200_000;
        // One per tick is Flink's generator.
        for i in 0..20 {
            assert_eq!(ts(i, 1, 2), generated_reading(i, 7, 10, 2).ts_ms);
        }
        // Three per tick at parallelism 2: subtask 0 has events 0, 2, 4 at the base, its
        // next three a tick (10 ms × 2 subtasks) later; subtask 1 likewise.
        assert_eq!(
            (0..12).map(|i| ts(i, 3, 2) - base).collect::<Vec<_>>(),
            vec![0, 0, 0, 0, 0, 0, 20, 20, 20, 20, 20, 20]
        );
        // Zero is taken as one.
        assert_eq!(ts(5, 0, 1), ts(5, 1, 1));
    }

    #[test]
    fn doubles_print_as_in_java() {
        assert_eq!(java_double(26.0), "26.0");
        assert_eq!(java_double(25.18049999999999), "25.18049999999999");
        assert_eq!(java_double(18.240000000000002), "18.240000000000002");
        assert_eq!(java_double(-3.5), "-3.5");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e-4), "1.5E-4");
    }

    #[test]
    fn fast_parser_agrees_with_the_csv_parser() {
        let mut fast = SensorLineParser::default();
        let mut csv = CsvLineParser::<SensorReading>::new(b',', false);
        for line in [
            "s039,1704067200024,23.72",
            "s1,-5,-0.5",
            "a,1,1e3",
            "\"q,x\",1,2.0",
            "s1,12x,1.0",
            "s1,1,abc",
            "s1,1",
            "s1,1,2,3",
            ",1,2.0",
            "s1, 1,2.0",
            "s1,99999999999999999999,1.0",
        ] {
            let (a, b) = (
                fast.parse_line(line.as_bytes(), 7),
                csv.parse_line(line.as_bytes(), 7),
            );
            assert_eq!(a, b, "{line}");
        }
        assert_eq!(
            fast.parse_line(b"s039,1704067200024,16.40", 1),
            Ok(Some(SensorReading {
                sensor_id: "s039".into(),
                ts_ms: 1_704_067_200_024,
                temperature: 16.4
            }))
        );
    }

    #[test]
    fn window_specs() {
        assert_eq!(
            "tumble:10s".parse(),
            Ok(WindowSpec::Tumble(Duration::from_secs(10)))
        );
        assert_eq!(
            "hop:10s,5s".parse(),
            Ok(WindowSpec::Hop(
                Duration::from_secs(10),
                Duration::from_secs(5)
            ))
        );
        assert_eq!(
            "session:3s".parse(),
            Ok(WindowSpec::Session(Duration::from_secs(3)))
        );
        assert!("tumble:0s".parse::<WindowSpec>().is_err());
        assert!("slide:1s".parse::<WindowSpec>().is_err());
    }
}
