//! Write Nexmark events to a JSON-lines file with the library API (the CLI's
//! `strom nexmark generate` does the same).
//!
//! `cargo run --release -p strom-nexmark --example nexmark_generate -- EVENTS FILE [SEED]`

use strom_nexmark::NexmarkConfig;
use strom_nexmark::source::write_json_lines;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: nexmark_generate EVENTS FILE [SEED]";
    let events: u64 = args.next().ok_or(usage)?.parse()?;
    let path = std::path::PathBuf::from(args.next().ok_or(usage)?);
    let seed: u64 = args.next().map_or(Ok(0), |s| s.parse())?;
    let n = write_json_lines(NexmarkConfig::new(seed, events), &path)?;
    println!("wrote {n} events to {}", path.display());
    Ok(())
}
