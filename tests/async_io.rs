//! Async I/O: ordered and unordered under random delays, no watermark overtakes results,
//! capacity bounds the requests in flight, timeouts and retries.

#![allow(clippy::unwrap_used)]

mod common;

use common::{execute_within, sorted};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use strom::prelude::*;

const LIMIT: Duration = Duration::from_secs(60);

/// A pseudo-random delay of 0..5 ms derived from the input.
fn delay(x: u64) -> Duration {
    Duration::from_micros((x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 5_000)
}

#[derive(Clone)]
struct SlowDouble {
    running: Arc<AtomicUsize>,
    max_running: Arc<AtomicUsize>,
}

impl strom::process::AsyncFunction<u64, u64> for SlowDouble {
    fn invoke(&self, x: u64) -> strom::process::async_io::AsyncResult<u64> {
        let (running, max) = (Arc::clone(&self.running), Arc::clone(&self.max_running));
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(delay(x)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(vec![x * 2])
        })
    }
}

fn slow() -> SlowDouble {
    SlowDouble {
        running: Arc::new(AtomicUsize::new(0)),
        max_running: Arc::new(AtomicUsize::new(0)),
    }
}

#[test]
fn ordered_mode_keeps_input_order_and_bounds_requests_in_flight() {
    let env = StreamEnv::new().with_parallelism(1);
    let f = slow();
    let max = Arc::clone(&f.max_running);
    let config = AsyncConfig {
        capacity: 8,
        ..AsyncConfig::default()
    };
    let out = env
        .from_collection((0..300u64).collect())
        .async_map(f, config)
        .collect();
    execute_within(&env, "ordered", LIMIT).unwrap();
    assert_eq!(out.take(), (0..300u64).map(|x| x * 2).collect::<Vec<_>>());
    let m = max.load(Ordering::SeqCst);
    assert!(
        (2..=8).contains(&m),
        "at most 8 requests in flight, several at once: {m}"
    );
}

#[test]
fn unordered_mode_emits_everything() {
    let env = StreamEnv::new().with_parallelism(2);
    let config = AsyncConfig {
        capacity: 16,
        ordered: false,
        ..AsyncConfig::default()
    };
    let out = env
        .from_collection((0..300u64).collect())
        .rebalance()
        .async_map(slow(), config)
        .collect();
    execute_within(&env, "unordered", LIMIT).unwrap();
    assert_eq!(
        sorted(out.take()),
        (0..300u64).map(|x| x * 2).collect::<Vec<_>>()
    );
}

#[test]
fn no_watermark_overtakes_the_results_before_it() {
    for ordered in [true, false] {
        let env = StreamEnv::new().with_parallelism(1);
        let config = AsyncConfig {
            capacity: 10,
            ordered,
            ..AsyncConfig::default()
        };
        // Strictly increasing timestamps and a watermark after every record: a result that
        // arrived after the watermark of a later record would be behind the watermark.
        let overtaken = env
            .from_collection((1..=200u64).collect())
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::for_monotonous_timestamps()
                    .with_timestamp_assigner(|x: &u64, _| *x as i64 * 10)
                    .with_emission_interval(Duration::ZERO),
            )
            .async_map(slow(), config)
            .process(
                |x: u64, ctx: &mut ProcessContext, out: &mut Collector<u64>| {
                    if ctx.timestamp().unwrap_or(i64::MIN) <= ctx.current_watermark().0 {
                        out.collect(x);
                    }
                    Ok(())
                },
            )
            .collect();
        execute_within(&env, "watermarks", LIMIT).unwrap();
        assert_eq!(overtaken.take(), Vec::<u64>::new(), "ordered={ordered}");
    }
}

/// Fails the first `failures` attempts of every element.
#[derive(Clone)]
struct Flaky {
    failures: usize,
    attempts: Arc<std::sync::Mutex<std::collections::HashMap<u64, usize>>>,
}

impl strom::process::AsyncFunction<u64, u64> for Flaky {
    fn invoke(&self, x: u64) -> strom::process::async_io::AsyncResult<u64> {
        let n = {
            let mut a = self.attempts.lock().unwrap();
            let e = a.entry(x).or_insert(0);
            *e += 1;
            *e
        };
        let fail = n <= self.failures;
        Box::pin(async move {
            if fail {
                Err(format!("service unavailable for {x}").into())
            } else {
                Ok(vec![x + 1])
            }
        })
    }
}

#[test]
fn retries_recover_and_exhausted_retries_fail_the_job() {
    let flaky = |failures| Flaky {
        failures,
        attempts: Arc::default(),
    };
    let config = AsyncConfig {
        retries: 2,
        retry_delay: Duration::from_millis(1),
        ..AsyncConfig::default()
    };
    let env = StreamEnv::new().with_parallelism(1);
    let out = env
        .from_collection(vec![1u64, 2, 3])
        .async_map(flaky(2), config)
        .collect();
    execute_within(&env, "retries", LIMIT).unwrap();
    assert_eq!(out.take(), vec![2, 3, 4]);

    let env = StreamEnv::new().with_parallelism(1);
    env.from_collection(vec![1u64])
        .async_map(flaky(3), config)
        .discard();
    let err = execute_within(&env, "exhausted", LIMIT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("operator 'Async I/O'"), "{err}");
    assert!(
        err.contains("service unavailable for 1") && err.contains("after 3 attempts"),
        "{err}"
    );
}

#[test]
fn a_timeout_fails_the_job() {
    let env = StreamEnv::new().with_parallelism(1);
    let config = AsyncConfig {
        timeout: Duration::from_millis(20),
        ..AsyncConfig::default()
    };
    env.from_collection(vec![1u64])
        .async_map(
            |x: u64| async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<u64, BoxError>(x)
            },
            config,
        )
        .discard();
    let err = execute_within(&env, "timeout", LIMIT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("timed out after 20ms"), "{err}");
}
