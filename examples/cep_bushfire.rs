//! Complex event processing: bushfire weather per sensor region.
//!
//! Fire danger climbs when it gets hotter and drier at the same time. Per region, the
//! pattern looks for a reading followed by at least three readings in a row, each hotter
//! *and* drier than the one before, all within 30 minutes. The "than the one before" is an
//! iterative condition: it reads the partial match so far with
//! `ctx.events_for_pattern(…)`. `times_or_more(3).consecutive()` makes the rising readings
//! strictly consecutive, and `skip_past_last_event` starts the next alert of a region
//! only after the last reading of the previous one (without it, every later reading of a
//! long streak would raise an alert of its own).
//!
//! The readings arrive out of order; CEP matches them in event-time order.
//!
//! `cargo run --example cep_bushfire`

use serde::{Deserialize, Serialize};
use strom::cep::{AfterMatchSkipStrategy, CepExt, Match, Pattern};
use strom::prelude::*;

/// A weather station's reading.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reading {
    region: String,
    /// Minutes since midnight.
    minute: i64,
    celsius: f64,
    /// Relative humidity, percent.
    humidity: f64,
}

fn readings() -> Vec<Reading> {
    let r = |region: &str, minute: i64, celsius: f64, humidity: f64| Reading {
        region: region.to_string(),
        minute,
        celsius,
        humidity,
    };
    // In arrival order: some readings come up to 10 minutes late.
    vec![
        r("north", 0, 25.0, 40.0),
        r("west", 0, 25.0, 40.0),
        r("south", 0, 20.0, 60.0),
        r("east", 0, 24.0, 50.0),
        r("north", 10, 29.5, 31.0),
        r("north", 5, 27.0, 36.0), // 5 minutes late
        r("west", 5, 27.0, 38.0),
        r("east", 5, 26.0, 55.0),
        r("west", 10, 26.0, 39.0), // a dip: west's first streak ends
        r("south", 10, 21.0, 58.0),
        r("east", 10, 28.0, 60.0), // east gets hotter, but more humid
        r("north", 15, 32.0, 25.0),
        r("west", 15, 28.0, 35.0),
        r("east", 15, 30.0, 65.0),
        r("north", 25, 36.0, 18.0),
        r("west", 20, 30.0, 33.0),
        r("north", 20, 35.0, 20.0), // 5 minutes late
        r("south", 20, 22.0, 57.0),
        r("west", 25, 33.0, 30.0),
        r("north", 30, 34.0, 22.0), // cooler: north's second streak ends
        r("south", 30, 23.0, 55.0), // south rises too slowly: 4 readings span 30 minutes
        r("north", 40, 39.0, 15.0),
        r("north", 35, 37.0, 17.0), // 5 minutes late
        r("south", 40, 24.0, 54.0),
        r("north", 45, 41.0, 12.0),
        r("south", 50, 25.0, 52.0),
    ]
}

fn main() -> Result<(), BoxError> {
    let env = StreamEnv::new().with_parallelism(2);
    let readings = env
        .from_collection(readings())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(10 * 60))
                .with_timestamp_assigner(|r: &Reading, _| r.minute * 60_000),
        )
        .set_parallelism(1);

    let fire_weather = Pattern::<Reading>::begin_with_skip(
        "start",
        AfterMatchSkipStrategy::skip_past_last_event(),
    )
    .next("rising")
    .where_iter(|r, ctx| {
        // The reading before this one in the match: the last rising one, or the start.
        let previous = ctx
            .events_for_pattern("rising")
            .last()
            .or_else(|| ctx.events_for_pattern("start").last());
        previous.is_some_and(|p| r.celsius > p.celsius && r.humidity < p.humidity)
    })
    .times_or_more(3)
    .consecutive()
    .within(Duration::from_secs(30 * 60));

    let alerts = readings
        .key_by(|r: &Reading| r.region.clone())
        .pattern(fire_weather)
        .select(|m: Match<Reading>| {
            let (first, last) = (m.events().next(), m.events().last());
            match (first, last) {
                (Some(f), Some(l)) => format!(
                    "{}: {:.1} °C / {:.0} % at minute {} → {:.1} °C / {:.0} % at minute {} ({} readings)",
                    f.region,
                    f.celsius,
                    f.humidity,
                    f.minute,
                    l.celsius,
                    l.humidity,
                    l.minute,
                    m.len()
                ),
                _ => String::from("empty match"),
            }
        })
        .collect();

    env.execute("bushfire weather")?;

    let mut alerts = alerts.take();
    alerts.sort();
    println!("Fire weather alerts (hotter and drier, reading after reading):");
    for a in alerts {
        println!("  {a}");
    }
    // north: 0 → 15, north: 30 → 45, west: 10 → 25; nothing for south and east.
    Ok(())
}
