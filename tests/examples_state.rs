//! Stateful examples end to end: the non-keyed broadcast state pattern, the fraud rules
//! example (keyed broadcast state, rules changed at run time) and the enrichment example
//! (async I/O). The examples are compiled into this test as modules, so the test runs the
//! very pipelines `cargo run --example …` runs. Cross-input ordering is made deterministic
//! with handshakes.

#![allow(clippy::unwrap_used)]

mod common;

#[path = "../examples/enrichment.rs"]
#[allow(dead_code)]
mod enrichment;
#[path = "../examples/fraud_rules.rs"]
#[allow(dead_code)]
mod fraud_rules;

use common::{execute_within, sorted};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use strom::prelude::*;
use strom::process::broadcast::{BroadcastContext, BroadcastProcessFunction, ReadOnlyContext};

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

/// Tags log lines with the level of the first listed word they contain. Broadcast
/// elements: `(word, level)` lists a word, `(word, "")` unlists it, `("?", "")` reports the
/// subtask's list on the side output `lists`.
#[derive(Clone)]
struct Levels {
    words: MapStateDescriptor<String, String>,
    unmatched: OutputTag<String>,
    lists: OutputTag<String>,
    parallelism: usize,
    rules_seen: Arc<AtomicUsize>,
    data_seen: Arc<AtomicUsize>,
}

impl BroadcastProcessFunction<String, (String, String), String> for Levels {
    fn process_element(
        &mut self,
        line: String,
        ctx: &mut ReadOnlyContext<'_, '_>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        assert_eq!(ctx.task_info().parallelism, self.parallelism);
        let ts = ctx.timestamp().unwrap();
        // The operator's watermark is the minimum over both inputs: never past the data.
        assert!(
            ctx.current_watermark().0 < 10,
            "{:?}",
            ctx.current_watermark()
        );
        let words = ctx.broadcast_state(&self.words)?;
        let level = line.split(' ').find_map(|w| words.get(w)).cloned();
        match level {
            Some(level) => out.collect(format!("{ts} {level}: {line}")),
            None => {
                let tag = self.unmatched.clone();
                ctx.output(&tag, format!("{ts} {line}"));
            }
        }
        self.data_seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        (word, level): (String, String),
        ctx: &mut BroadcastContext<'_, '_>,
        _out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let words = ctx.broadcast_state(&self.words)?;
        if word == "?" {
            let mut list: Vec<String> = words.iter().map(|(w, l)| format!("{w}={l}")).collect();
            list.sort();
            let tag = self.lists.clone();
            ctx.output(&tag, format!("[{}]", list.join(",")));
        } else if level.is_empty() {
            words.remove(&word);
        } else {
            words.insert(word, level);
        }
        self.rules_seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn non_keyed_broadcast_state_reaches_every_subtask_and_the_elements_after_it() {
    let lines = [
        "disk error", // before any rule: unmatched
        "cpu warn",
        "net error", // index 2: error and warn are listed
        "fan warn",
        "all good",
        "fan warn", // index 5: warn is unlisted
        "disk error",
    ];
    // (first line that must see the rule, rule)
    let schedule: Vec<(usize, (String, String))> = [
        (2, ("error", "E")),
        (2, ("warn", "W")),
        (5, ("warn", "")),
        (5, ("?", "")),
    ]
    .into_iter()
    .map(|(i, (w, l))| (i, (w.to_string(), l.to_string())))
    .collect();
    for p in [1usize, 2] {
        // Batches of one record, so that a source waiting in a handshake has sent
        // everything before the record it waits at.
        let env = StreamEnv::new().with_parallelism(p).with_buffer_size(1);
        let rules_seen = Arc::new(AtomicUsize::new(0));
        let data_seen = Arc::new(AtomicUsize::new(0));
        let (r, sched) = (Arc::clone(&rules_seen), schedule.clone());
        let data = env
            .generate(Some(lines.len() as u64), move |i| {
                let due = sched.iter().filter(|(b, _)| *b as u64 <= i).count();
                wait_for(&r, due * p);
                lines[i as usize].to_string()
            })
            .set_parallelism(1)
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::for_monotonous_timestamps()
                    .with_timestamp_assigner(|l: &String, _| l.len() as i64),
            )
            .set_parallelism(1)
            .rebalance();
        let (d, sched) = (Arc::clone(&data_seen), schedule.clone());
        let rules = env
            .generate(Some(schedule.len() as u64), move |j| {
                let (before, rule) = &sched[j as usize];
                wait_for(&d, *before);
                rule.clone()
            })
            .set_parallelism(1);
        let (unmatched, lists) = (OutputTag::new("unmatched"), OutputTag::new("lists"));
        let tagged = data
            .connect_broadcast(rules.broadcast_stream())
            .process(Levels {
                words: MapStateDescriptor::new("words"),
                unmatched: unmatched.clone(),
                lists: lists.clone(),
                parallelism: p,
                rules_seen: Arc::clone(&rules_seen),
                data_seen: Arc::clone(&data_seen),
            });
        let unmatched = tagged.side_output(&unmatched).collect();
        let lists = tagged.side_output(&lists).collect();
        let tagged = tagged.collect();
        execute_within(&env, "broadcast", LIMIT).unwrap();
        assert_eq!(
            sorted(tagged.take()),
            vec!["10 E: disk error", "8 W: fan warn", "9 E: net error"],
            "parallelism {p}"
        );
        assert_eq!(
            sorted(unmatched.take()),
            vec!["10 disk error", "8 all good", "8 cpu warn", "8 fan warn"],
            "parallelism {p}"
        );
        // Every subtask applied the same changes.
        assert_eq!(lists.take(), vec!["[error=E]"; p], "parallelism {p}");
    }
}

#[derive(Clone)]
struct FailingRules;

impl BroadcastProcessFunction<u32, u32, u32> for FailingRules {
    fn process_element(
        &mut self,
        x: u32,
        _: &mut ReadOnlyContext<'_, '_>,
        out: &mut Collector<'_, u32>,
    ) -> Result<(), BoxError> {
        out.collect(x);
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        rule: u32,
        _: &mut BroadcastContext<'_, '_>,
        _: &mut Collector<'_, u32>,
    ) -> Result<(), BoxError> {
        Err(format!("rule {rule} is malformed").into())
    }
}

#[test]
fn a_failing_broadcast_function_fails_the_job_naming_the_operator() {
    let env = StreamEnv::new().with_parallelism(2);
    let rules = env.from_collection(vec![7u32]);
    env.from_collection(vec![1u32, 2, 3])
        .connect_broadcast(rules.broadcast_stream())
        .process(FailingRules)
        .discard();
    let err = execute_within(&env, "failing", LIMIT)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("operator 'Broadcast Process'") && err.contains("rule 7 is malformed"),
        "{err}"
    );
}

#[test]
fn a_broadcast_operator_may_run_at_another_parallelism() {
    // The operator is a two-input node: the data (rebalanced, parallelism 1 to 3) and the
    // rules (broadcast) go straight into it, with no tagging operators between, so every
    // subtask of the operator still receives every rule.
    let env = StreamEnv::new().with_parallelism(2);
    let rules = env.from_collection(vec![7u32]);
    env.from_collection(vec![1u32, 2, 3])
        .connect_broadcast(rules.broadcast_stream())
        .process(FailingRules)
        .set_parallelism(3)
        .discard();
    let plan = env.execution_plan().unwrap();
    let names: Vec<&str> = plan
        .topology
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("Tag")), "{names:?}");
    let op = plan
        .topology
        .nodes
        .iter()
        .find(|n| n.name == "Broadcast Process")
        .unwrap();
    assert_eq!(op.arity, strom::runtime::graph::NodeArity::TwoInput);
    let inputs: Vec<(usize, &str, &str)> = (0..op.inputs.len())
        .map(|i| {
            let e = plan.edge(op.id, i);
            (e.input, names[e.from], e.strategy.flink_name())
        })
        .collect();
    assert_eq!(
        inputs,
        vec![
            (0, "Source: Collection", "REBALANCE"),
            (1, "Source: Collection", "BROADCAST")
        ]
    );
    // The rules source's one subtask has a channel to each of the 3 operator subtasks.
    let rules_edge = (0..op.inputs.len())
        .map(|i| plan.edge(op.id, i))
        .position(|e| e.input == 1)
        .unwrap();
    let rules_channels = plan
        .channels
        .iter()
        .filter(|c| plan.edges[c.edge].consumer == op.id && plan.edges[c.edge].index == rules_edge)
        .count();
    assert_eq!(rules_channels, 3);
    let err = execute_within(&env, "three subtasks", LIMIT)
        .unwrap_err()
        .to_string();
    // It runs (and fails only on the malformed rule, as designed), instead of being refused.
    assert!(!err.contains("needs equal parallelism"), "{err}");
    assert!(err.contains("rule 7 is malformed"), "{err}");
}

#[test]
fn fraud_rules_example_raises_the_same_alerts_at_any_parallelism() {
    let expected: Vec<(i64, &str, &str)> = vec![
        (15, "dee", "login from blocked country XA"),
        (45, "bob", "4 failed logins within 60 s"),
        (
            60,
            "ann",
            "3 failed logins within 60 s (under the new limit)",
        ),
        (90, "dee", "3 failed logins within 60 s"),
        (100, "cid", "login from blocked country XB"),
        (110, "bob", "login from blocked country XB"),
        (125, "ann", "login from blocked country XA"),
        (150, "bob", "3 failed logins within 60 s"),
        (160, "ann", "2 failed logins within 20 s"),
        (190, "cid", "2 failed logins within 20 s"),
    ];
    let expected: Vec<fraud_rules::Alert> = expected
        .into_iter()
        .map(|(s, user, reason)| fraud_rules::Alert {
            ts: s * 1000,
            user: user.to_string(),
            reason: reason.to_string(),
        })
        .collect();
    for p in [1, 2] {
        let alerts = fraud_rules::fraud_alerts(p).unwrap();
        assert_eq!(alerts, expected, "parallelism {p}");
    }
    assert_eq!(
        expected[2].to_string(),
        "t=  60s  ALERT ann  3 failed logins within 60 s (under the new limit)"
    );
}

#[test]
fn enrichment_example_enriches_every_reading_in_order_with_retries() {
    let (enriched, failures) = enrichment::enriched_readings(1).unwrap();
    let lines: Vec<String> = enriched.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "#00 dev-1    10.0 °C   temperature at hall A",
            "#01 dev-2    28.5 %    humidity    at hall A",
            "#02 dev-3    22.0 hPa  pressure    at roof",
            "#03 dev-4    15.5 °C   temperature at cold store",
            "#04 dev-1    34.0 °C   temperature at hall A",
            "#05 dev-2    27.5 %    humidity    at hall A",
            "#06 dev-3    21.0 hPa  pressure    at roof",
            "#07 dev-9    14.5      unknown     at unknown",
            "#08 dev-1    33.0 °C   temperature at hall A",
            "#09 dev-2    26.5 %    humidity    at hall A",
            "#10 dev-3    20.0 hPa  pressure    at roof",
            "#11 dev-4    13.5 °C   temperature at cold store",
            "#12 dev-1    32.0 °C   temperature at hall A",
            "#13 dev-2    25.5 %    humidity    at hall A",
            "#14 dev-3    19.0 hPa  pressure    at roof",
            "#15 dev-4    12.5 °C   temperature at cold store",
            "#16 dev-1    31.0 °C   temperature at hall A",
            "#17 dev-9    24.5      unknown     at unknown",
            "#18 dev-3    18.0 hPa  pressure    at roof",
            "#19 dev-4    11.5 °C   temperature at cold store",
            "#20 dev-1    30.0 °C   temperature at hall A",
            "#21 dev-2    23.5 %    humidity    at hall A",
            "#22 dev-3    17.0 hPa  pressure    at roof",
            "#23 dev-4    10.5 °C   temperature at cold store",
        ]
    );
    // The first attempts for readings 5, 11, 17 and 23 failed and were retried.
    assert_eq!(failures, 4);

    // In parallel each subtask keeps its own input order; together they enrich the same.
    let (parallel, failures) = enrichment::enriched_readings(2).unwrap();
    let mut parallel: Vec<String> = parallel.iter().map(ToString::to_string).collect();
    parallel.sort();
    assert_eq!(parallel, lines);
    assert_eq!(failures, 4);
}

/// Reports which subtask saw each rule.
#[derive(Clone)]
struct WhoSawIt;

impl strom::process::BroadcastProcessFunction<u32, u32, (usize, u32)> for WhoSawIt {
    fn process_element(
        &mut self,
        _: u32,
        _: &mut strom::process::ReadOnlyContext<'_, '_>,
        _: &mut Collector<'_, (usize, u32)>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
    fn process_broadcast_element(
        &mut self,
        rule: u32,
        ctx: &mut strom::process::BroadcastContext<'_, '_>,
        out: &mut Collector<'_, (usize, u32)>,
    ) -> Result<(), BoxError> {
        out.collect((ctx.task_info().subtask, rule));
        Ok(())
    }
}

#[test]
fn every_subtask_of_a_broadcast_operator_at_its_own_parallelism_gets_every_rule() {
    let env = StreamEnv::new().with_parallelism(2);
    let rules = env.from_collection(vec![1u32, 2]);
    let out = env
        .from_collection(vec![0u32])
        .connect_broadcast(rules.broadcast_stream())
        .process(WhoSawIt)
        .set_parallelism(3)
        .collect();
    execute_within(&env, "three", LIMIT).unwrap();
    let mut got = out.take();
    got.sort();
    assert_eq!(got, vec![(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)]);
}
