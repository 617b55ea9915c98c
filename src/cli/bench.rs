//! `strom bench`: throughput of standard pipelines, in events per second.

use clap::Subcommand;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub(crate) enum Bench {
    /// A three-step CEP pattern per key over generated events: events/s, per core, peak
    /// memory, matches.
    Cep(super::bench_cep::CepBench),
    /// Keyed state with checkpoints: throughput, checkpoint duration and size, bytes
    /// written, recovery time (`--restore`).
    Checkpoint(super::bench_checkpoint::CheckpointBench),
    /// The Nexmark queries: events/s, events/s per core, peak memory, p50/p99 latency.
    Nexmark(super::bench_nexmark::NexmarkBench),
    /// Keyed value state: a keyed process function reads and updates one value per record.
    State {
        /// Number of events.
        #[arg(long, default_value_t = 20_000_000)]
        events: u64,
        /// Number of distinct keys.
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
        /// Parallelism.
        #[arg(long, default_value_t = 1)]
        parallelism: usize,
        /// Repetitions; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Event-time timers: every record registers a timer, each fires once.
    Timers {
        /// Number of events (= timers).
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Number of distinct keys.
        #[arg(long, default_value_t = 10_000)]
        keys: u64,
        /// Parallelism.
        #[arg(long, default_value_t = 1)]
        parallelism: usize,
        /// Repetitions; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The sensors job (per-sensor count/avg/min/max per window) over an in-memory
    /// generator: no parsing, the same events as Flink's `SensorWindows --gen N`.
    Sensors {
        /// Number of events.
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Parallelism of generator and windows.
        #[arg(long, default_value_t = 1)]
        parallelism: usize,
        /// Number of sensors (keys).
        #[arg(long, default_value_t = 50)]
        sensors: u64,
        /// Event-time spacing of consecutive events, ms.
        #[arg(long, default_value_t = 10)]
        interval_ms: i64,
        /// Consecutive events (per subtask) at one timestamp before it advances by
        /// --interval-ms; 1 is Flink's generator. Raise it to give many sensors data in
        /// every slice of a long window (large window state from few events).
        #[arg(long, default_value_t = 1)]
        events_per_tick: u64,
        /// tumble:SIZE | hop:SIZE,SLIDE | session:GAP
        #[arg(long, default_value = "tumble:10s")]
        window: crate::jobs::sensors::WindowSpec,
        /// Watermark emission interval; 0ms emits after every record.
        #[arg(long, default_value = "200ms", value_parser = crate::jobs::duration::parse_duration)]
        watermark_interval: std::time::Duration,
        /// Take exactly-once checkpoints this often (needs --checkpoint-dir). The last line
        /// then adds, for the last run, `checkpoint_bytes=` (state in the last completed
        /// checkpoint), `checkpoint_max_bytes=` (state in the largest: the state the job
        /// carried while it ran), `checkpoint_written_bytes=` (bytes the checkpoints wrote,
        /// on average: less than the state when they are incremental) and `checkpoints=`.
        #[arg(long, requires = "checkpoint_dir", value_parser = crate::jobs::duration::parse_duration)]
        checkpoint_interval: Option<std::time::Duration>,
        /// Where checkpoints go (a directory, or s3://…); emptied before each run.
        #[arg(long, requires = "checkpoint_interval")]
        checkpoint_dir: Option<std::path::PathBuf>,
        #[command(flatten)]
        state: super::state_backend::StateBackendArgs,
        /// Repetitions; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// generator → map → key_by → rolling sum → discarding sink (issue #2's pipeline).
    Pipeline {
        /// Number of events to generate.
        #[arg(long, default_value_t = 50_000_000)]
        events: u64,
        /// Parallelism of every operator.
        #[arg(long, default_value_t = 1)]
        parallelism: usize,
        /// Number of distinct keys.
        #[arg(long, default_value_t = 10_000)]
        keys: u64,
        /// Records per network buffer.
        #[arg(long, default_value_t = 1024)]
        buffer_size: usize,
        /// Repetitions; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

fn median_rate(
    runs: usize,
    events: u64,
    mut job: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let mut rates = Vec::new();
    for run in 0..runs.max(1) {
        let start = Instant::now();
        job()?;
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "run {}: {:.3} s, {:.2} M events/s",
            run + 1,
            secs,
            events as f64 / secs / 1e6
        );
        rates.push(events as f64 / secs);
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

pub(crate) fn run(bench: Bench) -> anyhow::Result<()> {
    use strom::prelude::*;
    match bench {
        Bench::Cep(b) => super::bench_cep::run(b),
        Bench::Checkpoint(b) => super::bench_checkpoint::run(b),
        Bench::Nexmark(b) => super::bench_nexmark::run(b),
        Bench::State {
            events,
            keys,
            parallelism,
            runs,
        } => {
            let rate = median_rate(runs, events, || {
                let env = StreamEnv::new().with_parallelism(parallelism);
                let count = ValueStateDescriptor::<u64>::new("count");
                env.generate(Some(events), move |i| {
                    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % keys, i)
                })
                .key_by(|e: &(u64, u64)| e.0)
                .process(
                    move |e: (u64, u64), ctx: &mut KeyedContext<u64>, out: &mut Collector<u64>| {
                        let mut c = ctx.value_state(&count);
                        let n = c.value()?.unwrap_or(0) + e.1 % 3;
                        c.update(n)?;
                        if n.is_multiple_of(1_000_000) {
                            out.collect(n);
                        }
                        Ok(())
                    },
                )
                .discard();
                let r = env.execute("bench state")?;
                anyhow::ensure!(r.operator("Keyed Process").map_or(0, |o| o.records_in) == events);
                Ok(())
            })?;
            println!(
                "state events={events} keys={keys} parallelism={parallelism} events_per_s={rate:.0} per_core={:.0}",
                rate / parallelism as f64
            );
            Ok(())
        }
        Bench::Timers {
            events,
            keys,
            parallelism,
            runs,
        } => {
            let rate = median_rate(runs, events, || {
                let env = StreamEnv::new().with_parallelism(parallelism);
                let fired = env
                    .generate(Some(events), move |i| (i % keys, i as i64))
                    .assign_timestamps_and_watermarks(
                        WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(100))
                            .with_timestamp_assigner(|e: &(u64, i64), _| e.1),
                    )
                    .key_by(|e: &(u64, i64)| e.0)
                    .process(TimerBench);
                fired.discard();
                let r = env.execute("bench timers")?;
                let n = r.operator("Keyed Process").map_or(0, |o| o.records_out);
                anyhow::ensure!(n == events, "{n} of {events} timers fired");
                Ok(())
            })?;
            println!(
                "timers events={events} keys={keys} parallelism={parallelism} timers_per_s={rate:.0} per_core={:.0}",
                rate / parallelism as f64
            );
            Ok(())
        }
        Bench::Sensors {
            events,
            parallelism,
            sensors,
            interval_ms,
            events_per_tick,
            window,
            watermark_interval,
            checkpoint_interval,
            checkpoint_dir,
            state,
            runs,
        } => {
            let state_backend = state.config()?;
            let mut rates = Vec::new();
            let mut last_checkpoints = Vec::new();
            for run in 0..runs.max(1) {
                let checkpointing = checkpoint_interval.zip(checkpoint_dir.clone());
                if let Some((_, dir)) = &checkpointing
                    && !dir.to_string_lossy().contains("://")
                {
                    // Every run starts from an empty directory (no restore, no old files).
                    match std::fs::remove_dir_all(dir) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => anyhow::bail!("cannot empty {}: {e}", dir.display()),
                    }
                }
                let cfg = crate::jobs::sensors::GeneratorConfig {
                    events,
                    sensors,
                    interval_ms,
                    events_per_tick,
                    window,
                    watermark_interval,
                    parallelism,
                    checkpointing,
                    state_backend: state_backend.clone(),
                };
                let start = Instant::now();
                let (result, rows) = crate::jobs::sensors::run_generated(&cfg)?;
                let secs = start.elapsed().as_secs_f64();
                let rate = events as f64 / secs;
                // The checkpoints taken after the end of the input (the windows have fired
                // and dropped their state by then) are small; the largest one shows the
                // state the job carried while it ran.
                let n = result.checkpoints.len();
                let during = result.checkpoints.iter().max_by_key(|c| c.state_bytes);
                eprintln!(
                    "run {}: {:.3} s, {:.2} M events/s, {} window rows ({} tasks), {} checkpoints{}",
                    run + 1,
                    secs,
                    rate / 1e6,
                    rows,
                    result.tasks,
                    n,
                    during.map_or(String::new(), |c| format!(
                        "; the largest: {} bytes of state, {} written, {:.1} ms",
                        c.state_bytes, c.written_bytes, c.duration_ms
                    ))
                );
                rates.push(rate);
                last_checkpoints = result.checkpoints;
            }
            rates.sort_by(f64::total_cmp);
            let median = rates[rates.len() / 2];
            let checkpoint = match &checkpoint_interval {
                Some(_) => {
                    let n = last_checkpoints.len() as u64;
                    let last = last_checkpoints.last().map_or(0, |c| c.state_bytes);
                    let max = last_checkpoints.iter().map(|c| c.state_bytes).max();
                    let written: u64 = last_checkpoints.iter().map(|c| c.written_bytes).sum();
                    format!(
                        " checkpoints={n} checkpoint_bytes={last} checkpoint_max_bytes={} checkpoint_written_bytes={}",
                        max.unwrap_or(0),
                        written.checked_div(n).unwrap_or(0)
                    )
                }
                None => " checkpoints=off".to_string(),
            };
            let resolved = match &state_backend {
                Some(b) => Some(b.clone()),
                None => StateBackendConfig::from_env()?,
            };
            let backend = match resolved {
                None | Some(StateBackendConfig::Heap) => "heap",
                Some(StateBackendConfig::Disk { .. }) => "disk",
            };
            println!(
                "sensors events={events} parallelism={parallelism} window={window:?} state_backend={backend}{checkpoint} per_core={:.0} events_per_s={median:.0}",
                median / parallelism as f64
            );
            Ok(())
        }
        Bench::Pipeline {
            events,
            parallelism,
            keys,
            buffer_size,
            runs,
        } => {
            let mut rates = Vec::new();
            for run in 0..runs.max(1) {
                let env = StreamEnv::new()
                    .with_parallelism(parallelism)
                    .with_buffer_size(buffer_size);
                env.generate(Some(events), move |i| (i % keys, i))
                    .map(|(k, v)| (k, v & 0xff))
                    .key_by(|t: &(u64, u64)| t.0)
                    .sum(|t: &mut (u64, u64)| &mut t.1)
                    .discard();
                let start = Instant::now();
                let result = env.execute("bench pipeline")?;
                let secs = start.elapsed().as_secs_f64();
                let sink_in = result.operator("Sink: Discard").map_or(0, |o| o.records_in);
                anyhow::ensure!(sink_in == events, "sink saw {sink_in} of {events} events");
                let rate = events as f64 / secs;
                eprintln!(
                    "run {}: {:.3} s, {:.2} M events/s",
                    run + 1,
                    secs,
                    rate / 1e6
                );
                rates.push(rate);
            }
            rates.sort_by(f64::total_cmp);
            let median = rates[rates.len() / 2];
            println!(
                "pipeline events={events} parallelism={parallelism} keys={keys} events_per_s={:.0} per_core={:.0}",
                median,
                median / parallelism as f64
            );
            Ok(())
        }
    }
}

/// Registers an event-time timer at each record's timestamp + 1 and emits on firing.
#[derive(Clone)]
struct TimerBench;

impl strom::process::KeyedProcessFunction<u64, (u64, i64), i64> for TimerBench {
    fn process_element(
        &mut self,
        e: (u64, i64),
        ctx: &mut strom::process::KeyedContext<'_, u64>,
        _: &mut strom::Collector<'_, i64>,
    ) -> Result<(), strom::BoxError> {
        ctx.timer_service().register_event_time_timer(e.1 + 1);
        Ok(())
    }
    fn on_timer(
        &mut self,
        t: i64,
        _: &mut strom::process::KeyedContext<'_, u64>,
        out: &mut strom::Collector<'_, i64>,
    ) -> Result<(), strom::BoxError> {
        out.collect(t);
        Ok(())
    }
}
