//! `strom nexmark generate`: write Nexmark events (and q13's side input) to files, so that
//! Strom and other engines (`benchmarks/nexmark/compare-flink.sh`) process the same events.

use std::path::PathBuf;
use std::time::Instant;
use strom::nexmark::NexmarkConfig;
use strom::nexmark::queries::q13::SideInput;

/// Nexmark data files.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum Nexmark {
    /// Generate events as JSON lines (the schema of the reference's SQL table).
    Generate {
        /// Number of events.
        #[arg(long)]
        events: u64,
        /// The output file.
        #[arg(long)]
        out: PathBuf,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Events per second of event time (the reference's default is 10 000).
        #[arg(long, default_value_t = 10_000)]
        event_rate: u64,
        /// Emit events in pseudo-random order within groups of this many.
        #[arg(long, default_value_t = 1)]
        out_of_order_group: u64,
        /// Also write q13's side input (the reference's contents) as `key,value` CSV here.
        #[arg(long)]
        side_input: Option<PathBuf>,
    },
}

pub(crate) fn run(cmd: Nexmark) -> anyhow::Result<()> {
    match cmd {
        Nexmark::Generate {
            events,
            out,
            seed,
            event_rate,
            out_of_order_group,
            side_input,
        } => {
            let config = NexmarkConfig {
                seed,
                events: Some(events),
                event_rate,
                out_of_order_group_size: out_of_order_group,
                ..NexmarkConfig::default()
            };
            let start = Instant::now();
            let n = strom::nexmark::source::write_json_lines(config, &out)?;
            eprintln!(
                "wrote {n} events to {} in {:.1} s",
                out.display(),
                start.elapsed().as_secs_f64()
            );
            if let Some(path) = side_input {
                SideInput::generate(strom::nexmark::queries::q13::REFERENCE_ROWS)
                    .write_csv(&path)?;
                eprintln!("wrote q13's side input to {}", path.display());
            }
            Ok(())
        }
    }
}
