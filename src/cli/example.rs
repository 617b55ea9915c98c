//! `strom example …`: bundled jobs that run over files or the generator.

use clap::Subcommand;
use std::path::PathBuf;
use strom::StreamEnv;
use strom::prelude::*;

#[derive(Subcommand, Debug)]
pub(crate) enum Example {
    /// Per-sensor count, avg, min and max per event-time window over CSV
    /// `sensor_id,ts_ms,temperature` (no header).
    Sensors {
        /// Input CSV file or directory.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Output file: `sensor_id,window_start_ms,window_end_ms,count,avg,min,max`.
        #[arg(long)]
        output: PathBuf,
        /// Output file for late records (their input lines).
        #[arg(long)]
        late_output: Option<PathBuf>,
        /// tumble:SIZE | hop:SIZE,SLIDE | session:GAP
        #[arg(long)]
        window: crate::jobs::sensors::WindowSpec,
        /// Bounded out-of-orderness of the watermark.
        #[arg(long, default_value = "5s", value_parser = crate::jobs::duration::parse_duration)]
        out_of_orderness: std::time::Duration,
        /// Allowed lateness of windows.
        #[arg(long, default_value = "0s", value_parser = crate::jobs::duration::parse_duration)]
        allowed_lateness: std::time::Duration,
        /// Watermark emission interval; 0ms emits after every record.
        #[arg(long, default_value = "200ms", value_parser = crate::jobs::duration::parse_duration)]
        watermark_interval: std::time::Duration,
        /// Parallelism of source and windows.
        #[arg(long, default_value_t = 1)]
        parallelism: usize,
        /// Take a checkpoint this often; `--output` then becomes a directory of part files
        /// committed exactly once (in-progress files start with `.`).
        #[arg(long, requires = "checkpoint_dir", value_parser = crate::jobs::duration::parse_duration)]
        checkpoint_interval: Option<std::time::Duration>,
        /// Where checkpoints (and savepoints, under `savepoints/`) go.
        #[arg(long, requires = "checkpoint_interval")]
        checkpoint_dir: Option<PathBuf>,
        /// Start from `latest` (newest checkpoint in --checkpoint-dir, or the beginning if
        /// there is none) or from a checkpoint or savepoint directory.
        #[arg(long)]
        restore: Option<String>,
        /// Read at most this many input records per second.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Three strictly rising temperatures of one sensor (consecutive readings in
    /// event-time order) within a time window, skip past last event (CEP), over CSV
    /// `sensor_id,ts_ms,temperature` (no header).
    RisingTemperatures {
        /// Input CSV file or directory.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Output file: `sensor_id,a_ts,b_ts,c_ts,a_temp,b_temp,c_temp`.
        #[arg(long)]
        output: PathBuf,
        /// The three readings lie within this time (last minus first is less).
        #[arg(long, value_parser = crate::jobs::duration::parse_duration)]
        within: std::time::Duration,
        /// Output file for late readings (their input lines).
        #[arg(long)]
        late_output: Option<PathBuf>,
        /// Bounded out-of-orderness of the watermark.
        #[arg(long, default_value = "5s", value_parser = crate::jobs::duration::parse_duration)]
        out_of_orderness: std::time::Duration,
        /// Watermark emission interval; 0ms emits after every record.
        #[arg(long, default_value = "200ms", value_parser = crate::jobs::duration::parse_duration)]
        watermark_interval: std::time::Duration,
        /// Parallelism of source and pattern matching.
        #[arg(long, default_value_t = 1)]
        parallelism: usize,
        /// Take a checkpoint this often; `--output` then becomes a directory of part files
        /// committed exactly once.
        #[arg(long, requires = "checkpoint_dir", value_parser = crate::jobs::duration::parse_duration)]
        checkpoint_interval: Option<std::time::Duration>,
        /// Where checkpoints go.
        #[arg(long, requires = "checkpoint_interval")]
        checkpoint_dir: Option<PathBuf>,
        /// Start from `latest` (newest checkpoint in --checkpoint-dir, or the beginning if
        /// there is none) or from a checkpoint or savepoint directory.
        #[arg(long)]
        restore: Option<String>,
        /// Read at most this many input records per second.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Per-user login fraud alerts over CSV `user_id,ts_ms,success,lat,lon` (no header):
    /// bursts of failed logins and impossible travel, in event time.
    Fraud {
        /// Input CSV file or directory.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Output file: `failures,user_id,t` and `travel,user_id,t0,t` rows.
        #[arg(long)]
        output: PathBuf,
        /// Output file for late logins (their input lines).
        #[arg(long)]
        late_output: Option<PathBuf>,
        /// Bounded out-of-orderness of the watermark (emitted after every record).
        #[arg(long, default_value = "5s", value_parser = crate::jobs::duration::parse_duration)]
        out_of_orderness: std::time::Duration,
        /// Alert when more than this many failed logins fall within the failure window.
        #[arg(long, default_value_t = 10)]
        max_failures: usize,
        /// The failure window.
        #[arg(long, default_value = "60s", value_parser = crate::jobs::duration::parse_duration)]
        failure_window: std::time::Duration,
        /// Alert when consecutive successful logins need a faster speed (km/h).
        #[arg(long, default_value_t = 1000.0)]
        max_speed_kmh: f64,
        /// Parallelism of the detector (source and watermarks run at parallelism 1).
        #[arg(long, default_value_t = 1)]
        parallelism: usize,
    },
    /// Count words in text files (or a built-in text) and print the totals.
    Wordcount {
        /// Text files or directories to read (default: a built-in text).
        #[arg(long)]
        input: Vec<PathBuf>,
        /// Parallelism of every operator.
        #[arg(long, default_value_t = 2)]
        parallelism: usize,
    },
    /// Generate `key,value` events and print each key's rolling sum as `key,sum`; without
    /// `--events` it runs until Ctrl-C.
    RollingSum {
        /// Number of events (default: unbounded).
        #[arg(long)]
        events: Option<u64>,
        /// Number of distinct keys.
        #[arg(long, default_value_t = 10)]
        keys: u64,
        /// Events per second in total (default: as fast as possible).
        #[arg(long)]
        rate: Option<f64>,
        /// Parallelism of every operator.
        #[arg(long, default_value_t = 2)]
        parallelism: usize,
    },
}

const BUILTIN_TEXT: &str = "To be, or not to be, that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles
And by opposing end them. To die: to sleep;
No more; and by a sleep to say we end
The heart-ache and the thousand natural shocks
That flesh is heir to, 'tis a consummation
Devoutly to be wish'd. To die, to sleep;";

pub(crate) fn run(example: Example) -> anyhow::Result<()> {
    match example {
        Example::Sensors {
            input,
            output,
            late_output,
            window,
            out_of_orderness,
            allowed_lateness,
            watermark_interval,
            parallelism,
            checkpoint_interval,
            checkpoint_dir,
            restore,
            rate,
        } => {
            if rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
                anyhow::bail!("--rate must be a positive number of records per second");
            }
            let cfg = crate::jobs::sensors::SensorsConfig {
                input,
                output,
                late_output,
                window,
                out_of_orderness,
                allowed_lateness,
                watermark_interval,
                parallelism,
                checkpointing: checkpoint_interval.zip(checkpoint_dir),
                restore,
                rate,
            };
            let result = crate::jobs::sensors::run(&cfg)?;
            super::report(&result);
            Ok(())
        }
        Example::RisingTemperatures {
            input,
            output,
            within,
            late_output,
            out_of_orderness,
            watermark_interval,
            parallelism,
            checkpoint_interval,
            checkpoint_dir,
            restore,
            rate,
        } => {
            if rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
                anyhow::bail!("--rate must be a positive number of records per second");
            }
            anyhow::ensure!(!within.is_zero(), "--within must be longer than 0");
            let cfg = crate::jobs::rising::RisingConfig {
                input,
                output,
                late_output,
                within,
                out_of_orderness,
                watermark_interval,
                parallelism,
                checkpointing: checkpoint_interval.zip(checkpoint_dir),
                restore,
                rate,
            };
            let result = crate::jobs::rising::run(&cfg)?;
            super::report(&result);
            Ok(())
        }
        Example::Fraud {
            input,
            output,
            late_output,
            out_of_orderness,
            max_failures,
            failure_window,
            max_speed_kmh,
            parallelism,
        } => {
            let cfg = crate::jobs::fraud::FraudConfig {
                input,
                output,
                late_output,
                out_of_orderness,
                rules: crate::jobs::fraud::Rules {
                    max_failures,
                    failure_window_ms: i64::try_from(failure_window.as_millis())
                        .unwrap_or(i64::MAX),
                    max_speed_kmh,
                },
                parallelism,
            };
            let result = crate::jobs::fraud::run(&cfg)?;
            super::report(&result);
            Ok(())
        }
        Example::Wordcount { input, parallelism } => wordcount(input, parallelism),
        Example::RollingSum {
            events,
            keys,
            rate,
            parallelism,
        } => rolling_sum(events, keys, rate, parallelism),
    }
}

fn rolling_sum(
    events: Option<u64>,
    keys: u64,
    rate: Option<f64>,
    parallelism: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(keys > 0, "--keys must be at least 1");
    let env = StreamEnv::new().with_parallelism(parallelism);
    super::cancel_on_ctrl_c(&env);
    let mut source = env.generate(events, move |i| (format!("key-{}", i % keys), i % 100));
    if let Some(r) = rate {
        source = source.rate_limit(r);
    }
    source
        .key_by(|(k, _)| k.clone())
        .sum(|t: &mut (String, u64)| &mut t.1)
        .sink_to(strom::connectors::print::PrintSink, "Sink: Print")
        .set_parallelism(1);
    let result = env.execute("rolling sum")?;
    super::report(&result);
    Ok(())
}

fn wordcount(input: Vec<PathBuf>, parallelism: usize) -> anyhow::Result<()> {
    let env = StreamEnv::new().with_parallelism(parallelism);
    super::cancel_on_ctrl_c(&env);
    let lines = if input.is_empty() {
        env.from_collection(BUILTIN_TEXT.lines().map(str::to_string).collect())
    } else {
        env.from_collection(
            input
                .iter()
                .map(std::fs::read_to_string)
                .collect::<Result<Vec<_>, _>>()?
                .iter()
                .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
                .collect(),
        )
    };
    let counts = lines
        .flat_map(|line: String, out: &mut Collector<(String, u64)>| {
            for w in line
                .split(|c: char| !c.is_alphanumeric() && c != '\'')
                .filter(|w| !w.is_empty())
            {
                out.collect((w.to_lowercase(), 1));
            }
        })
        .key_by(|(w, _)| w.clone())
        .sum(|t: &mut (String, u64)| &mut t.1)
        .collect();
    let result = env.execute("wordcount")?;
    let mut totals = std::collections::BTreeMap::new();
    for (w, c) in counts.take() {
        let e = totals.entry(w).or_insert(0);
        *e = c.max(*e);
    }
    let mut by_count: Vec<_> = totals.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (w, c) in by_count {
        println!("{w},{c}");
    }
    super::report(&result);
    Ok(())
}
