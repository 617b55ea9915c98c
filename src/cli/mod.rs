//! The `strom` command line: `strom example …` runs bundled jobs without writing Rust,
//! `strom bench …` measures throughput.

mod bench;
mod bench_cep;
mod bench_checkpoint;
mod bench_nexmark;
mod example;
mod nexmark;
pub mod savepoint;
mod state_backend;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Strom: a stateful stream processor with Apache Flink's semantics, in Rust.
///
/// Jobs run embedded in this process; no cluster to set up.
#[derive(Parser, Debug)]
#[command(name = "strom", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level filter (error, warn, info, debug, trace), or RUST_LOG syntax.
    #[arg(long, global = true, default_value = "error")]
    log: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a bundled example job.
    #[command(subcommand)]
    Example(example::Example),
    /// Measure throughput of a standard pipeline.
    #[command(subcommand)]
    Bench(bench::Bench),
    /// Nexmark data files: generate events for Strom and other engines.
    #[command(subcommand)]
    Nexmark(nexmark::Nexmark),
    /// Take a savepoint of a job running with `--checkpoint-dir DIR`; prints its path.
    Savepoint {
        /// The running job's checkpoint directory.
        #[arg(long)]
        checkpoint_dir: std::path::PathBuf,
        /// Stop the job once the savepoint is complete.
        #[arg(long)]
        stop: bool,
        /// How long to wait for the job.
        #[arg(long, default_value = "120s", value_parser = crate::jobs::duration::parse_duration)]
        timeout: std::time::Duration,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Example(e) => example::run(e),
        Command::Bench(b) => bench::run(b),
        Command::Nexmark(n) => nexmark::run(n),
        Command::Savepoint {
            checkpoint_dir,
            stop,
            timeout,
        } => savepoint::request(&checkpoint_dir, stop, timeout)
            .map(|location| println!("{location}"))
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The error's own message already names its causes (operator, subtask, record).
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Cancel the environment's job on Ctrl-C (the job then stops cleanly).
pub(crate) fn cancel_on_ctrl_c(env: &strom::StreamEnv) {
    let handle = env.cancel_handle();
    let _ = ctrlc::set_handler(move || {
        eprintln!("stopping (Ctrl-C)…");
        handle.cancel();
    });
}

/// Print a job result's per-operator counts to stderr.
pub(crate) fn report(result: &strom::JobResult) {
    eprintln!(
        "job '{}' {} in {:.3} s ({} tasks, {} threads)",
        result.job_name,
        if result.cancelled {
            "cancelled"
        } else {
            "finished"
        },
        result.wall_time.as_secs_f64(),
        result.tasks,
        result.threads
    );
    if let Some(id) = result.restored_from {
        eprintln!("  restored from checkpoint {id}");
    }
    if !result.checkpoints.is_empty() {
        let last = &result.checkpoints[result.checkpoints.len() - 1];
        eprintln!(
            "  {} checkpoints ({} aborted, {} restarts); last: id {} in {:.1} ms, {} bytes",
            result.checkpoints.len(),
            result.aborted_checkpoints,
            result.restarts,
            last.id,
            last.duration_ms,
            last.state_bytes
        );
    }
    if let Some(sp) = &result.stopped_with_savepoint {
        eprintln!("  stopped with savepoint {sp}");
    }
    for o in &result.operators {
        eprintln!(
            "  {:<28} p={:<3} in={:<12} out={}",
            o.name, o.parallelism, o.records_in, o.records_out
        );
    }
}
