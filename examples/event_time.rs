//! Event time and watermarks on temperature readings:
//!
//! * bounded out-of-orderness: each reading is printed with the watermark it meets, and
//!   10-second averages show which readings come too late for their window;
//! * monotonous timestamps, for an input in time order;
//! * a user-written periodic generator (the watermark follows the slowest sensor) and a
//!   punctuated one (a sync record carries the watermark).
//!
//! `cargo run --example event_time`

use std::collections::HashMap;
use strom::core::watermark::{WatermarkGenerator, WatermarkOutput};
use strom::prelude::*;
use strom::{Watermark, connectors::collect::CollectHandle};

/// (sensor, measured at ms, degrees Celsius)
type Reading = (String, i64, f64);

fn sensor_data() -> Vec<Reading> {
    let r = |sensor: &str, at: i64, c: f64| (sensor.to_string(), at, c);
    vec![
        r("s1", 1_000, 20.0),
        r("s2", 2_000, 21.0),
        r("s1", 6_000, 20.5),
        r("s2", 4_000, 21.5), // 2 s behind the newest reading: in time
        r("s1", 12_000, 22.0),
        r("s2", 7_500, 22.5), // 4.5 s behind, but its window is not complete yet
        r("s1", 14_000, 23.0),
        r("s2", 9_000, 23.5), // 5 s behind and its window is complete: late
        r("s2", 15_000, 24.0),
    ]
}

/// The watermark is the oldest of the sensors' latest timestamps, minus 1: a sensor whose
/// readings arrive with delay holds it back, a fast one cannot make the slow one late.
#[derive(Clone, Debug, Default)]
struct SlowestSensor {
    latest: HashMap<String, i64>,
}

impl WatermarkGenerator<Reading> for SlowestSensor {
    fn on_event(&mut self, reading: &Reading, timestamp: i64, _: &mut WatermarkOutput) {
        let latest = self.latest.entry(reading.0.clone()).or_insert(timestamp);
        *latest = (*latest).max(timestamp);
    }

    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput) {
        if let Some(oldest) = self.latest.values().min() {
            output.emit_watermark(Watermark(oldest - 1));
        }
    }
}

/// Punctuated: a reading of the `sync` sensor promises that nothing older follows.
#[derive(Clone, Copy, Debug, Default)]
struct SyncMarkers;

impl WatermarkGenerator<Reading> for SyncMarkers {
    fn on_event(&mut self, reading: &Reading, timestamp: i64, output: &mut WatermarkOutput) {
        if reading.0 == "sync" {
            output.emit_watermark(Watermark(timestamp));
        }
    }

    fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
}

/// Each reading with the watermark it meets.
fn with_watermarks(readings: DataStream<Reading>) -> CollectHandle<String> {
    readings
        .process(
            |r: Reading, ctx: &mut ProcessContext, out: &mut Collector<String>| {
                let watermark = match ctx.current_watermark() {
                    Watermark::MIN => "none yet".to_string(),
                    w => format!("{} ms", w.0),
                };
                out.collect(format!("{} at {} ms meets watermark {watermark}", r.0, r.1));
                Ok(())
            },
        )
        .collect()
}

fn print_all(title: &str, lines: Vec<String>) {
    println!("{title}:");
    for line in lines {
        println!("  {line}");
    }
}

fn main() -> Result<(), BoxError> {
    // One subtask per operator: each watermark generator sees every reading in order.
    let env = StreamEnv::new().with_parallelism(1);

    let readings = env
        .from_collection(sensor_data())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(3))
                .with_timestamp_assigner(|r: &Reading, _| r.1)
                .with_emission_interval(Duration::ZERO)
                .with_idleness(Duration::from_secs(60)),
        );
    let seen = with_watermarks(readings.clone());

    let late = OutputTag::<Reading>::new("late readings");
    let averages = readings
        .key_by(|r: &Reading| r.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .side_output_late_data(&late)
        .process(
            |sensor: &String,
             ctx: &mut WindowContext<TimeWindow>,
             readings: WindowElements<Reading>,
             out: &mut Collector<String>| {
                let temperatures: Vec<f64> = readings.map(|r| r.2).collect();
                let avg = temperatures.iter().sum::<f64>() / temperatures.len() as f64;
                let w = ctx.window();
                out.collect(format!("{sensor} [{}, {}): {avg:.2}", w.start, w.end));
                Ok(())
            },
        );
    let too_late = averages.side_output(&late).collect();
    let averages = averages.collect();

    // One sensor's readings are in time order: the watermark is the newest timestamp - 1.
    let in_order = env
        .from_collection(sensor_data())
        .filter(|r: &Reading| r.0 == "s1")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|r: &Reading, _| r.1)
                .with_emission_interval(Duration::ZERO),
        );
    let monotonous = with_watermarks(in_order);

    let slowest = env
        .from_collection(sensor_data())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_generator(SlowestSensor::default())
                .with_timestamp_assigner(|r: &Reading, _| r.1)
                .with_emission_interval(Duration::ZERO),
        );
    let slowest = with_watermarks(slowest);

    let mut synced = sensor_data();
    synced.insert(4, ("sync".to_string(), 5_000, 0.0));
    let synced = env
        .from_collection(synced)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_generator(SyncMarkers)
                .with_timestamp_assigner(|r: &Reading, _| r.1),
        );
    let synced = with_watermarks(synced);

    env.execute("event time")?;

    print_all("Bounded out-of-orderness (3 s)", seen.take());
    let mut averages = averages.take();
    averages.sort();
    print_all("10-second averages", averages);
    for r in too_late.take() {
        println!("  too late: {} at {} ms", r.0, r.1);
    }
    print_all("Monotonous (s1 only)", monotonous.take());
    print_all("Slowest sensor", slowest.take());
    print_all("Sync markers", synced.take());
    Ok(())
}
