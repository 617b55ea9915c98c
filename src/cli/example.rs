//! `strom example …`: bundled jobs that run over files or the generator.

use super::state_backend::StateBackendArgs;
use crate::jobs::Job;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use strom::JobResult;

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
        #[command(flatten)]
        state: StateBackendArgs,
        #[command(flatten)]
        explain: ExplainArg,
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
        #[command(flatten)]
        state: StateBackendArgs,
        #[command(flatten)]
        explain: ExplainArg,
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
        #[command(flatten)]
        explain: ExplainArg,
    },
    /// Count words in text files (or a built-in text) and print the totals.
    Wordcount {
        /// Text files or directories to read (default: a built-in text).
        #[arg(long)]
        input: Vec<PathBuf>,
        /// Parallelism of every operator.
        #[arg(long, default_value_t = 2)]
        parallelism: usize,
        #[command(flatten)]
        explain: ExplainArg,
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
        /// Parallelism of the source and the sums (the print sink runs at 1).
        #[arg(long, default_value_t = 2)]
        parallelism: usize,
        #[command(flatten)]
        explain: ExplainArg,
    },
}

/// `--explain [text|json]`, which every example takes.
#[derive(Args, Debug, Clone, Copy)]
pub(crate) struct ExplainArg {
    /// Print the job's physical plan instead of running it: its tasks (operator chains)
    /// with every operator's name, uid and parallelism, the channels between them, the key
    /// groups, and the job's fingerprint; `json` in the layout of Flink's
    /// getExecutionPlan. The job is built as for a run (a checkpoint directory is
    /// created), but nothing runs and no output is written.
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        default_missing_value = "text",
        value_name = "FORMAT"
    )]
    explain: Option<ExplainFormat>,
}

/// How `--explain` prints the plan.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExplainFormat {
    /// One block per task: operators, inputs, key groups.
    Text,
    /// Flink's getExecutionPlan layout plus Strom's fields (uid, chain, fingerprint),
    /// pretty-printed.
    Json,
}

/// Print the plan of `job` as `format` asks, or run it and report its result.
fn explain_or_run(
    job: Job,
    explain: ExplainArg,
    after: impl FnOnce(&JobResult),
) -> anyhow::Result<()> {
    match explain.explain {
        Some(format) => {
            let plan = job.execution_plan()?;
            match format {
                ExplainFormat::Text => print!("{}", plan.to_text()),
                ExplainFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
                }
            }
        }
        None => {
            let result = job.execute()?;
            after(&result);
            super::report(&result);
        }
    }
    Ok(())
}

fn check_rate(rate: Option<f64>) -> anyhow::Result<()> {
    if rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
        anyhow::bail!("--rate must be a positive number of records per second");
    }
    Ok(())
}

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
            state,
            explain,
        } => {
            check_rate(rate)?;
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
                state_backend: state.config()?,
            };
            explain_or_run(crate::jobs::sensors::build(&cfg)?, explain, |_| {})
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
            state,
            explain,
        } => {
            check_rate(rate)?;
            anyhow::ensure!(!within.is_zero(), "--within must be longer than 0");
            let state_backend = state.config()?;
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
                state_backend,
            };
            explain_or_run(crate::jobs::rising::build(&cfg)?, explain, |_| {})
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
            explain,
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
            explain_or_run(crate::jobs::fraud::build(&cfg)?, explain, |_| {})
        }
        Example::Wordcount {
            input,
            parallelism,
            explain,
        } => {
            let cfg = crate::jobs::wordcount::WordcountConfig { input, parallelism };
            let (job, counts) = crate::jobs::wordcount::build(&cfg)?;
            explain_or_run(job, explain, |_| {
                for (w, c) in crate::jobs::wordcount::totals(counts.take()) {
                    println!("{w},{c}");
                }
            })
        }
        Example::RollingSum {
            events,
            keys,
            rate,
            parallelism,
            explain,
        } => {
            anyhow::ensure!(keys > 0, "--keys must be at least 1");
            let cfg = crate::jobs::rolling_sum::RollingSumConfig {
                events,
                keys,
                rate,
                parallelism,
            };
            explain_or_run(crate::jobs::rolling_sum::build(&cfg)?, explain, |_| {})
        }
    }
}
