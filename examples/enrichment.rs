//! Enrichment with async I/O: sensor readings are enriched with device metadata looked up
//! in a (simulated) remote service, without blocking the task while requests are out.
//!
//! `async_map` keeps up to `capacity` lookups in flight. The service answers after a few
//! milliseconds that vary per request, so lookups finish out of order; in ordered mode the
//! enriched readings still leave in input order. The service fails the first attempt of
//! every sixth lookup ("503"); the operator retries it after a short delay. A reading from
//! a device the service does not know is enriched as `unknown`.
//!
//! `cargo run --example enrichment`

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use strom::prelude::*;

/// A sensor reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Sequence number.
    pub seq: u64,
    /// The device that sent it.
    pub device: String,
    /// The measured value.
    pub value: f64,
}

/// A reading with its device's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Enriched {
    /// Sequence number of the reading.
    pub seq: u64,
    /// The device.
    pub device: String,
    /// The measured value.
    pub value: f64,
    /// What the device measures.
    pub kind: String,
    /// The value's unit.
    pub unit: String,
    /// Where the device is.
    pub site: String,
}

impl fmt::Display for Enriched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{:02} {:<6} {:>6.1} {:<4} {:<11} at {}",
            self.seq, self.device, self.value, self.unit, self.kind, self.site
        )
    }
}

/// The service's table: device, kind, unit, site.
const DEVICES: [(&str, &str, &str, &str); 4] = [
    ("dev-1", "temperature", "°C", "hall A"),
    ("dev-2", "humidity", "%", "hall A"),
    ("dev-3", "pressure", "hPa", "roof"),
    ("dev-4", "temperature", "°C", "cold store"),
];

/// Readings generated.
pub const READINGS: u64 = 24;

/// Reading `i`: the devices in turn, and every tenth from a device nobody registered.
pub fn reading(i: u64) -> Reading {
    let device = if i % 10 == 7 {
        "dev-9".to_string()
    } else {
        DEVICES[i as usize % DEVICES.len()].0.to_string()
    };
    Reading {
        seq: i,
        device,
        value: 10.0 + ((i * 37) % 50) as f64 / 2.0,
    }
}

/// The simulated metadata service.
#[derive(Clone, Default)]
pub struct MetadataService {
    /// Readings whose lookup was tried at least once.
    tried: Arc<Mutex<HashSet<u64>>>,
    /// Attempts that failed.
    failures: Arc<AtomicUsize>,
}

impl MetadataService {
    /// Look up `r`'s device: a network round trip of 1 to 5 ms; the first attempt of every
    /// sixth lookup fails.
    pub async fn enrich(self, r: Reading) -> Result<Enriched, BoxError> {
        let first_attempt = self
            .tried
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(r.seq);
        tokio::time::sleep(Duration::from_millis(1 + (r.seq * 7) % 5)).await;
        if first_attempt && r.seq % 6 == 5 {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(format!("503 service unavailable (reading #{})", r.seq).into());
        }
        let (kind, unit, site) = DEVICES
            .iter()
            .find(|d| d.0 == r.device)
            .map_or(("unknown", "", "unknown"), |d| (d.1, d.2, d.3));
        Ok(Enriched {
            seq: r.seq,
            device: r.device,
            value: r.value,
            kind: kind.to_string(),
            unit: unit.to_string(),
            site: site.to_string(),
        })
    }

    /// Attempts that failed so far.
    pub fn failures(&self) -> usize {
        self.failures.load(Ordering::SeqCst)
    }
}

/// Run the job at `parallelism`; return the enriched readings as collected (in input order
/// at parallelism 1) and how many lookups failed and were retried.
pub fn enriched_readings(parallelism: usize) -> Result<(Vec<Enriched>, usize), StromError> {
    let env = StreamEnv::new().with_parallelism(parallelism);
    let service = MetadataService::default();
    let lookup = service.clone();
    let config = AsyncConfig {
        capacity: 4,
        timeout: Duration::from_millis(500),
        retries: 2,
        retry_delay: Duration::from_millis(2),
        ordered: true,
    };
    let enriched = env
        .generate(Some(READINGS), reading)
        .set_parallelism(1)
        .async_map(move |r: Reading| lookup.clone().enrich(r), config)
        .name("Enrich: device metadata")
        .collect();
    env.execute("enrichment")?;
    Ok((enriched.take(), service.failures()))
}

fn main() -> Result<(), BoxError> {
    let (enriched, failures) = enriched_readings(1)?;
    for e in &enriched {
        println!("{e}");
    }
    println!(
        "{} readings enriched; {failures} lookups failed once and were retried",
        enriched.len()
    );
    Ok(())
}
