//! Nexmark q5, "hot items": which auctions got the most bids in each 10 s window sliding
//! every 2 s, over 1 M generated auction events, on two subtasks.
//!
//! `cargo run --release --example nexmark`

use strom::nexmark::{NexmarkConfig, queries, source};
use strom::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = StreamEnv::new().with_parallelism(2);
    // 1 M events at 10 000 events per second of event time: 100 s of auction activity.
    let events = source::generated_events(&env, NexmarkConfig::new(42, 1_000_000))?;
    let hot = queries::q5::q5(events).collect();
    let result = env.execute("nexmark q5")?;
    let mut rows = hot.take();
    rows.sort_by_key(|r| (r.window_end, r.auction));
    println!(
        "{} hot (window, auction) rows in {:.2} s",
        rows.len(),
        result.wall_time.as_secs_f64()
    );
    for r in rows.iter().take(10) {
        println!(
            "window ending at {} ms: auction {} with {} bids",
            r.window_end, r.auction, r.num
        );
    }
    Ok(())
}
