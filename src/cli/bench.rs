//! `strom bench`: throughput of standard pipelines, in events per second.

use crate::StreamEnv;
use clap::Subcommand;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub(crate) enum Bench {
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
        /// tumble:SIZE | hop:SIZE,SLIDE | session:GAP
        #[arg(long, default_value = "tumble:10s")]
        window: crate::jobs::sensors::WindowSpec,
        /// Watermark emission interval; 0ms emits after every record.
        #[arg(long, default_value = "200ms", value_parser = crate::jobs::duration::parse_duration)]
        watermark_interval: std::time::Duration,
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

pub(crate) fn run(bench: Bench) -> anyhow::Result<()> {
    match bench {
        Bench::Sensors {
            events,
            parallelism,
            sensors,
            interval_ms,
            window,
            watermark_interval,
            runs,
        } => {
            let mut rates = Vec::new();
            for run in 0..runs.max(1) {
                let cfg = crate::jobs::sensors::GeneratorConfig {
                    events,
                    sensors,
                    interval_ms,
                    window,
                    watermark_interval,
                    parallelism,
                };
                let start = Instant::now();
                let (result, rows) = crate::jobs::sensors::run_generated(&cfg)?;
                let secs = start.elapsed().as_secs_f64();
                let rate = events as f64 / secs;
                eprintln!(
                    "run {}: {:.3} s, {:.2} M events/s, {} window rows ({} tasks)",
                    run + 1,
                    secs,
                    rate / 1e6,
                    rows,
                    result.tasks
                );
                rates.push(rate);
            }
            rates.sort_by(f64::total_cmp);
            let median = rates[rates.len() / 2];
            println!(
                "sensors events={events} parallelism={parallelism} window={window:?} events_per_s={median:.0} per_core={:.0}",
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
