//! Routing with a process function: readings above a threshold go to a side output,
//! the rest are converted and kept on the main output.
//!
//! `cargo run --release --example side_outputs`

use strom::prelude::*;

fn main() -> Result<(), BoxError> {
    let alerts = OutputTag::<String>::new("alerts");
    let env = StreamEnv::new().with_parallelism(2);
    let readings = env.generate(Some(20), |i| (format!("sensor-{}", i % 3), 15.0 + i as f64));
    let tag = alerts.clone();
    let celsius = readings.process(
        move |(id, c): (String, f64),
              ctx: &mut ProcessContext,
              out: &mut Collector<(String, f64)>| {
            if c > 30.0 {
                ctx.output(&tag, format!("{id} is hot: {c:.1} °C"));
            } else {
                out.collect((id, c * 9.0 / 5.0 + 32.0));
            }
            Ok(())
        },
    );
    let hot = celsius.side_output(&alerts).collect();
    let normal = celsius.collect();
    env.execute("side outputs")?;
    let mut hot = hot.take();
    hot.sort();
    for a in hot {
        println!("ALERT {a}");
    }
    println!("{} normal readings", normal.len());
    Ok(())
}
