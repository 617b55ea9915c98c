//! `strom bench nexmark`: the Nexmark queries over generated events (or a JSON-lines file),
//! measured: throughput, throughput per CPU core, peak memory and, for queries whose rows
//! have a trigger time, the latency from the moment the sources emitted the event that
//! made a row possible to the moment the row reached the sink.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strom::nexmark::queries::QueryRow;
use strom::nexmark::queries::q13::SideInput;
use strom::nexmark::queries::suite::{self, Query, QueryInputs, RowSink};
use strom::nexmark::{Event, NexmarkConfig, source};
use strom::prelude::*;

/// Settings of the Nexmark benchmark.
#[derive(clap::Args, Debug)]
pub(crate) struct NexmarkBench {
    /// The query (`q0` … `q22`), or `all` for the suite.
    #[arg(long, default_value = "all")]
    query: String,
    /// Number of events to generate (ignored with --input).
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Parallelism of every operator.
    #[arg(long, default_value_t = 1)]
    parallelism: usize,
    /// Take exactly-once checkpoints at this interval (e.g. `10s`); none without it.
    #[arg(long, value_parser = crate::jobs::duration::parse_duration)]
    checkpoint_interval: Option<Duration>,
    /// Where checkpoints go (default: a fresh directory under the system's temp dir).
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Read events from this Nexmark JSON-lines file instead of generating them.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Generator seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Events per second of event time (the reference's default is 10 000).
    #[arg(long, default_value_t = 10_000)]
    event_rate: u64,
    /// Emit events in pseudo-random order within groups of this many.
    #[arg(long, default_value_t = 1)]
    out_of_order_group: u64,
    /// q13's side input, a `key,value` CSV file (default: the reference's contents).
    #[arg(long)]
    side_input: Option<PathBuf>,
    /// Write each query's result table to `DIR/<query>.jsonl` (one JSON array of column
    /// values per row; updating queries reduced to their final rows).
    #[arg(long)]
    output: Option<PathBuf>,
}

/// What one run measured.
struct Measurement {
    events: u64,
    seconds: f64,
    cpu_seconds: f64,
    peak_rss: Option<u64>,
    rows: u64,
    latency_ms: Option<(f64, f64)>,
}

pub(crate) fn run(b: NexmarkBench) -> anyhow::Result<()> {
    let queries: Vec<Query> = if b.query.eq_ignore_ascii_case("all") {
        Query::ALL.to_vec()
    } else {
        b.query
            .split(',')
            .map(|q| q.parse::<Query>().map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?
    };
    anyhow::ensure!(b.parallelism >= 1, "--parallelism must be at least 1");
    let config = NexmarkConfig {
        seed: b.seed,
        events: Some(b.events),
        event_rate: b.event_rate,
        out_of_order_group_size: b.out_of_order_group,
        ..NexmarkConfig::default()
    };
    config.validate()?;
    if let Some(input) = &b.input {
        anyhow::ensure!(input.exists(), "--input {} does not exist", input.display());
    }
    let inputs = QueryInputs {
        side_input: match &b.side_input {
            Some(path) => Some(SideInput::load_csv(path)?),
            None => None,
        },
    };
    if let Some(dir) = &b.output {
        std::fs::create_dir_all(dir)?;
    }
    eprintln!(
        "Nexmark: {} events{}, parallelism {}, checkpoints {}",
        b.input
            .as_ref()
            .map_or(b.events.to_string(), |p| format!("from {}", p.display())),
        if b.input.is_none() {
            format!(" at {} events/s of event time", b.event_rate)
        } else {
            String::new()
        },
        b.parallelism,
        b.checkpoint_interval
            .map_or("off".to_string(), |i| format!("every {i:?}, exactly once")),
    );
    for query in queries {
        let m = run_query(&b, query, &config, &inputs)?;
        let per_core = m.events as f64 / m.cpu_seconds.max(1e-9);
        let mut line = format!(
            "{query} events={} seconds={:.3} events_per_s={:.0} cores={:.2} events_per_core_s={:.0} rows={}",
            m.events,
            m.seconds,
            m.events as f64 / m.seconds,
            m.cpu_seconds / m.seconds,
            per_core,
            m.rows,
        );
        if let Some(rss) = m.peak_rss {
            line.push_str(&format!(" peak_rss_mib={}", rss >> 20));
        }
        if let Some((p50, p99)) = m.latency_ms {
            line.push_str(&format!(" p50_ms={p50:.1} p99_ms={p99:.1}"));
        }
        println!("{line}");
    }
    Ok(())
}

fn run_query(
    b: &NexmarkBench,
    query: Query,
    config: &NexmarkConfig,
    inputs: &QueryInputs,
) -> anyhow::Result<Measurement> {
    let mut env = StreamEnv::new().with_parallelism(b.parallelism);
    let mut temp_dir = None;
    if let Some(interval) = b.checkpoint_interval {
        let dir = match &b.checkpoint_dir {
            Some(d) => d.join(query.name()),
            None => {
                let d = std::env::temp_dir().join(format!(
                    "strom-nexmark-{}-{}",
                    std::process::id(),
                    query.name()
                ));
                temp_dir = Some(d.clone());
                d
            }
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        // Exactly once (aligned barriers) is the default mode.
        env = env.enable_checkpointing(interval, dir);
    }
    let progress = Arc::new(SourceProgress::default());
    let events = match &b.input {
        Some(path) => source::read_events(&env, [path.clone()]),
        None => source::generated_events(&env, config.clone())?,
    };
    let events = {
        let progress = Arc::clone(&progress);
        events
            .map(move |e: Event| {
                progress.note(e.date_time());
                e
            })
            .name("Progress")
    };
    let shared = Arc::new(BenchShared::default());
    let mut sink = BenchRowSink {
        shared: Arc::clone(&shared),
        keep_rows: b.output.is_some(),
        table: None,
    };
    suite::build(query, events, inputs, &mut sink);
    reset_peak_rss();
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let result = env.execute(&format!("nexmark {query}"))?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    if let Some(d) = temp_dir {
        let _ = std::fs::remove_dir_all(d);
    }
    let events_in = result
        .operator("Progress")
        .map_or(config.events.unwrap_or(0), |o| o.records_in);
    let state = shared
        .state
        .lock()
        .map_err(|_| anyhow::anyhow!("a sink writer panicked"))?;
    if let (Some(dir), Some(table)) = (&b.output, sink.table.take()) {
        let path = dir.join(format!("{}.jsonl", query.name()));
        let mut text = String::new();
        for row in table() {
            text.push_str(&serde_json::Value::Array(row).to_string());
            text.push('\n');
        }
        std::fs::write(&path, text)?;
    }
    let shift = if query.waits_for_watermark() {
        source::WATERMARK_DELAY.as_millis() as i64
    } else {
        0
    };
    let latency_ms = (!query.uses_processing_time())
        .then(|| progress.latency_percentiles(&state.samples, shift))
        .flatten();
    Ok(Measurement {
        events: events_in,
        seconds,
        cpu_seconds: cpu.unwrap_or(seconds),
        peak_rss: peak_rss(),
        rows: state.rows,
        latency_ms,
    })
}

/// Record, every 1024 events per source thread, how far in event time the sources got and
/// when: the wall-clock instant a row's trigger time was reached by all sources.
#[derive(Default)]
struct SourceProgress {
    threads: Mutex<Vec<ProgressLog>>,
}

/// One source thread's `(highest event time so far, when)` notes.
type ProgressLog = Arc<Mutex<Vec<(i64, Instant)>>>;

thread_local! {
    /// This thread's log, events seen and highest event time.
    static LOCAL: std::cell::RefCell<Option<(ProgressLog, u32, i64)>> =
        const { std::cell::RefCell::new(None) };
}

impl SourceProgress {
    fn note(&self, ts: i64) {
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            let (log, count, max) = local.get_or_insert_with(|| {
                let log = Arc::new(Mutex::new(Vec::new()));
                if let Ok(mut threads) = self.threads.lock() {
                    threads.push(Arc::clone(&log));
                }
                (log, 0, i64::MIN)
            });
            *max = (*max).max(ts);
            *count += 1;
            if *count % 1024 == 1
                && let Ok(mut log) = log.lock()
            {
                log.push((*max, Instant::now()));
            }
        });
    }

    /// p50 and p99 of `arrival − (instant every source had reached trigger + shift)`.
    fn latency_percentiles(&self, samples: &[(i64, Instant)], shift: i64) -> Option<(f64, f64)> {
        let threads = self.threads.lock().ok()?;
        let logs: Vec<Vec<(i64, Instant)>> = threads
            .iter()
            .filter_map(|l| l.lock().ok().map(|l| l.clone()))
            .filter(|l| !l.is_empty())
            .collect();
        if logs.is_empty() || samples.is_empty() {
            return None;
        }
        let mut lat: Vec<f64> = samples
            .iter()
            .filter_map(|&(trigger, arrived)| {
                let target = trigger.saturating_add(shift);
                let reached = logs
                    .iter()
                    .map(|log| {
                        let i = log.partition_point(|&(ts, _)| ts < target);
                        // A source that never got there finished: its last note.
                        log.get(i).or(log.last()).map(|&(_, at)| at)
                    })
                    .max()??;
                Some(arrived.saturating_duration_since(reached).as_secs_f64() * 1e3)
            })
            .collect();
        if lat.is_empty() {
            return None;
        }
        lat.sort_by(f64::total_cmp);
        let pick = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
        Some((pick(0.5), pick(0.99)))
    }
}

/// What the sink writers hand back: row counts and latency samples.
#[derive(Default)]
struct BenchShared {
    state: Mutex<SinkState>,
}

#[derive(Default)]
struct SinkState {
    rows: u64,
    samples: Vec<(i64, Instant)>,
}

/// The result table of the rows kept with `--output`, computed after the job.
type TableFn = Box<dyn FnOnce() -> Vec<Vec<serde_json::Value>>>;

/// Attaches a counting sink (Flink Nexmark's blackhole) that samples latencies and, with
/// `--output`, keeps the rows for the result table.
struct BenchRowSink {
    shared: Arc<BenchShared>,
    keep_rows: bool,
    table: Option<TableFn>,
}

impl RowSink for BenchRowSink {
    fn attach<T: QueryRow + Sync>(&mut self, query: Query, rows: DataStream<T>) {
        let kept = self
            .keep_rows
            .then(|| Arc::new(Mutex::new(Vec::<T>::new())));
        if let Some(kept) = &kept {
            let kept = Arc::clone(kept);
            self.table = Some(Box::new(move || {
                let rows = kept.lock().map(|mut r| std::mem::take(&mut *r));
                strom::nexmark::queries::final_table(rows.unwrap_or_default())
            }));
        }
        rows.sink_to(
            BenchSink::<T> {
                shared: Arc::clone(&self.shared),
                kept,
            },
            &format!("Sink: {query} blackhole"),
        );
    }
}

/// Latency samples a sink subtask takes from every row before it samples every 16th.
const MAX_SAMPLES: usize = 200_000;

struct BenchSink<T> {
    shared: Arc<BenchShared>,
    kept: Option<Arc<Mutex<Vec<T>>>>,
}

impl<T: QueryRow> strom::Sink<T> for BenchSink<T> {
    type Writer = BenchWriter<T>;

    fn create_writer(
        &self,
        _: &strom::core::SinkContext,
    ) -> std::result::Result<BenchWriter<T>, BoxError> {
        Ok(BenchWriter {
            shared: Arc::clone(&self.shared),
            kept: self.kept.clone(),
            rows: 0,
            samples: Vec::new(),
            local: Vec::new(),
        })
    }
}

struct BenchWriter<T> {
    shared: Arc<BenchShared>,
    kept: Option<Arc<Mutex<Vec<T>>>>,
    rows: u64,
    samples: Vec<(i64, Instant)>,
    local: Vec<T>,
}

impl<T: QueryRow> strom::SinkWriter<T> for BenchWriter<T> {
    fn write(&mut self, value: T, _: strom::Timestamp) -> std::result::Result<(), BoxError> {
        self.rows += 1;
        if (self.samples.len() < MAX_SAMPLES || self.rows.is_multiple_of(16))
            && self.samples.len() < 4 * MAX_SAMPLES
            && let Some(t) = value.trigger_time()
        {
            self.samples.push((t, Instant::now()));
        }
        if self.kept.is_some() {
            self.local.push(value);
        }
        Ok(())
    }

    fn finish(&mut self) -> std::result::Result<(), BoxError> {
        let mut state = self
            .shared
            .state
            .lock()
            .map_err(|_| "bench sink state poisoned")?;
        state.rows += self.rows;
        state.samples.append(&mut self.samples);
        if let Some(kept) = &self.kept {
            kept.lock()
                .map_err(|_| "bench sink rows poisoned")?
                .append(&mut self.local);
        }
        Ok(())
    }
}

/// Reset the process's peak resident set size (Linux `clear_refs` 5).
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size since the last reset, bytes (Linux `VmHWM`).
pub(crate) fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system) this process has used, seconds (Linux `/proc/self/stat`).
pub(crate) fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux platform Strom builds for.
    Some((utime + stime) / 100.0)
}
