//! `strom bench`: throughput of standard pipelines, in events per second.

use crate::StreamEnv;
use clap::Subcommand;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub(crate) enum Bench {
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
