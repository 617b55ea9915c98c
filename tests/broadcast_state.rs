//! The broadcast state pattern: rules broadcast to every subtask, read-only on the data
//! side, read-write on the broadcast side, and visiting every key's state from the
//! broadcast side. Cross-input ordering is made deterministic with handshakes.

#![allow(clippy::unwrap_used)]

mod common;

use common::{execute_within, sorted};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use strom::prelude::*;
use strom::process::{KeyedBroadcastContext, KeyedBroadcastProcessFunction, KeyedReadOnlyContext};

const LIMIT: Duration = Duration::from_secs(60);

fn wait_for(counter: &AtomicUsize, n: usize) {
    let start = std::time::Instant::now();
    while counter.load(Ordering::SeqCst) < n {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "handshake timed out"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Flags amounts above the user's current limit; the broadcast side sets limits per
/// currency, and "reset" clears every user's alert count.
#[derive(Clone)]
struct Limits {
    limits: MapStateDescriptor<String, f64>,
    alerts: ValueStateDescriptor<u32>,
    rules_seen: Arc<AtomicUsize>,
    data_seen: Arc<AtomicUsize>,
}

type Payment = (String, String, f64); // (user, currency, amount)

impl KeyedBroadcastProcessFunction<String, Payment, (String, f64), String> for Limits {
    fn process_element(
        &mut self,
        p: Payment,
        ctx: &mut KeyedReadOnlyContext<'_, '_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let limit = ctx.broadcast_state(&self.limits)?.get(&p.1).copied();
        if let Some(limit) = limit
            && p.2 > limit
        {
            let mut a = ctx.keyed.value_state(&self.alerts);
            let n = a.value()?.unwrap_or(0) + 1;
            a.update(n)?;
            out.collect(format!("alert {} {} #{n}", p.0, p.2));
        }
        self.data_seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        rule: (String, f64),
        ctx: &mut KeyedBroadcastContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        if rule.0 == "reset" {
            let mut visited = Vec::new();
            ctx.apply_to_keyed_state(&self.alerts, |user, mut state| {
                visited.push(format!("{user}={}", state.value()?.unwrap_or(0)));
                state.clear()
            })?;
            visited.sort();
            out.collect(format!("reset [{}]", visited.join(",")));
        } else {
            ctx.broadcast_state(&self.limits)?.insert(rule.0, rule.1);
        }
        self.rules_seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn rule_updates_reach_the_events_after_them_and_every_key_can_be_visited() {
    for p in [1usize, 2] {
        // Batches of one record, so that a source waiting in a handshake has sent everything
        // before the record it waits at.
        let env = StreamEnv::new().with_parallelism(p).with_buffer_size(1);
        let rules_seen = Arc::new(AtomicUsize::new(0));
        let data_seen = Arc::new(AtomicUsize::new(0));
        let payments: Vec<Payment> = vec![
            ("ann".into(), "EUR".into(), 50.0), // before any rule: no alert
            ("bob".into(), "EUR".into(), 500.0),
            ("ann".into(), "EUR".into(), 150.0), // after EUR<=100 (index 2 on): alert
            ("bob".into(), "EUR".into(), 90.0),
            ("bob".into(), "USD".into(), 1000.0), // no USD rule: no alert
            ("cid".into(), "EUR".into(), 101.0),
            ("ann".into(), "EUR".into(), 300.0),
        ];
        // Payments from index 2 on wait until every subtask has the EUR rule.
        let (r, d) = (Arc::clone(&rules_seen), Arc::clone(&data_seen));
        let d2 = Arc::clone(&data_seen);
        let data = env
            .generate(Some(payments.len() as u64), move |i| {
                if i == 2 {
                    wait_for(&r, p);
                }
                payments[i as usize].clone()
            })
            .set_parallelism(1);
        // The EUR rule follows the first two payments; the reset waits until every payment
        // was processed.
        let rules = env
            .generate(Some(2), move |i| {
                if i == 0 {
                    wait_for(&d, 2);
                    ("EUR".to_string(), 100.0)
                } else {
                    wait_for(&d2, 7);
                    ("reset".to_string(), 0.0)
                }
            })
            .set_parallelism(1);
        let out = data
            .key_by(|p: &Payment| p.0.clone())
            .connect_broadcast(rules.broadcast_stream())
            .process(Limits {
                limits: MapStateDescriptor::new("limits"),
                alerts: ValueStateDescriptor::new("alerts"),
                rules_seen: Arc::clone(&rules_seen),
                data_seen: Arc::clone(&data_seen),
            })
            .collect();
        execute_within(&env, "broadcast", LIMIT).unwrap();
        let got = sorted(out.take());
        // Every subtask sees the reset; together they visit every key that has alerts.
        let resets: Vec<&String> = got.iter().filter(|l| l.starts_with("reset")).collect();
        assert_eq!(resets.len(), p, "{got:?}");
        let mut visited: Vec<String> = resets
            .iter()
            .flat_map(|l| {
                l.trim_start_matches("reset [")
                    .trim_end_matches(']')
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        visited.sort();
        assert_eq!(visited, vec!["ann=2", "cid=1"], "parallelism {p}");
        let alerts: Vec<&String> = got.iter().filter(|l| l.starts_with("alert")).collect();
        assert_eq!(
            alerts,
            vec!["alert ann 150 #1", "alert ann 300 #2", "alert cid 101 #1"],
            "parallelism {p}"
        );
    }
}
