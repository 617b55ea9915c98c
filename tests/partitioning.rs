//! Every partitioner, with the exact subtask each record reaches, and Flink's key-group
//! routing.

mod common;

use common::{execute_within, sorted, with_subtask};
use std::collections::HashMap;
use std::time::Duration;
use strom::prelude::*;
use strom::types::key_group::{key_group_for_hash, operator_index_for_key_group};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn forward_keeps_the_subtask_with_and_without_chaining() {
    for chaining in [true, false] {
        let mut env = StreamEnv::new().with_parallelism(2);
        if !chaining {
            env = env.disable_operator_chaining();
        }
        let src = with_subtask(env.generate(Some(1000), |i| i));
        let out = with_subtask(src.forward()).collect();
        execute_within(&env, "forward", LIMIT).unwrap();
        let got = out.take();
        assert_eq!(got.len(), 1000);
        for (at_map, (at_source, i)) in got {
            assert_eq!(at_source as u64, i % 2);
            assert_eq!(at_map, at_source, "record {i} changed subtask");
        }
    }
}

#[test]
fn rebalance_is_round_robin() {
    let env = StreamEnv::new().with_parallelism(3);
    let out = with_subtask(env.from_collection((0u32..300).collect()).rebalance()).collect();
    execute_within(&env, "rebalance", LIMIT).unwrap();
    for (subtask, i) in out.take() {
        assert_eq!(subtask, (i % 3) as usize, "record {i}");
    }
}

#[test]
fn rescale_stays_within_the_local_subset() {
    let env = StreamEnv::new().with_parallelism(2);
    let src = env.generate(Some(400), |i| i);
    let out = with_subtask(src.rescale()).set_parallelism(4).collect();
    execute_within(&env, "rescale", LIMIT).unwrap();
    let mut per_subtask = [0; 4];
    for (subtask, i) in out.take() {
        // producer i % 2 feeds consumers {0, 1} (producer 0) or {2, 3} (producer 1)
        assert_eq!(subtask / 2, (i % 2) as usize, "record {i} at {subtask}");
        per_subtask[subtask] += 1;
    }
    assert_eq!(per_subtask, [100; 4]);
}

#[test]
fn broadcast_reaches_every_subtask() {
    let env = StreamEnv::new().with_parallelism(3);
    let out = with_subtask(env.from_collection(vec!['a', 'b']).broadcast()).collect();
    execute_within(&env, "broadcast", LIMIT).unwrap();
    assert_eq!(
        sorted(out.take()),
        vec![(0, 'a'), (0, 'b'), (1, 'a'), (1, 'b'), (2, 'a'), (2, 'b')]
    );
}

#[test]
fn global_sends_everything_to_subtask_zero() {
    let env = StreamEnv::new().with_parallelism(3);
    let out = with_subtask(env.generate(Some(90), |i| i).global()).collect();
    execute_within(&env, "global", LIMIT).unwrap();
    let got = out.take();
    assert_eq!(got.len(), 90);
    assert!(got.iter().all(|(s, _)| *s == 0));
}

#[test]
fn key_groups_route_as_flink_does_and_spread_evenly() {
    for (p, max_p) in [(4usize, 128usize), (3, 1000), (7, 128)] {
        let env = StreamEnv::new()
            .with_parallelism(p)
            .with_max_parallelism(max_p);
        let keys = env
            .generate(Some(20_000), |i| format!("sensor-{}", i % 1000))
            .set_parallelism(2);
        let out = with_subtask(keys.key_by(|k: &String| k.clone()).into_stream()).collect();
        execute_within(&env, "keyed", LIMIT).unwrap();
        let mut subtask_of: HashMap<String, usize> = HashMap::new();
        let mut per_subtask = vec![0usize; p];
        for (subtask, key) in out.take() {
            let expected =
                operator_index_for_key_group(max_p, p, key_group_for_hash(key.key_hash(), max_p));
            assert_eq!(subtask, expected, "key {key}");
            assert_eq!(*subtask_of.entry(key).or_insert(subtask), subtask);
            per_subtask[subtask] += 1;
        }
        assert_eq!(subtask_of.len(), 1000);
        let mean = 20_000 / p;
        for (s, n) in per_subtask.iter().enumerate() {
            let dev = (*n as f64 - mean as f64).abs() / mean as f64;
            assert!(
                dev < 0.2,
                "p={p} max={max_p}: subtask {s} got {n}, mean {mean}"
            );
        }
    }
}

#[test]
fn forward_between_different_parallelism_is_rejected_at_build_time() {
    let env = StreamEnv::new().with_parallelism(2);
    env.generate(Some(10), |i| i)
        .forward()
        .map(|x| x)
        .set_parallelism(3)
        .discard();
    let err = env.execute("bad").unwrap_err().to_string();
    assert!(
        err.contains("forward()") && err.contains("equal parallelism"),
        "{err}"
    );
}

#[test]
fn keyed_parallelism_above_max_parallelism_is_rejected() {
    let env = StreamEnv::new().with_parallelism(4).with_max_parallelism(2);
    env.generate(Some(10), |i| i)
        .key_by(|x: &u64| *x)
        .sum(|t: &mut u64| t)
        .discard();
    let err = env.execute("bad").unwrap_err().to_string();
    assert!(err.contains("max parallelism"), "{err}");
}

#[test]
fn chaining_fuses_forward_operators() {
    let env = StreamEnv::new().with_parallelism(2);
    env.generate(Some(100), |i| i)
        .map(|x| x + 1)
        .filter(|x| x % 2 == 0)
        .discard();
    let r = execute_within(&env, "chain", LIMIT).unwrap();
    assert_eq!((r.tasks, r.threads), (1, 2));
    assert!(r.operators.iter().all(|o| o.task == "Source: Generator"));

    let env = StreamEnv::new().with_parallelism(2);
    env.generate(Some(100), |i| i)
        .map(|x| x + 1)
        .key_by(|x: &u64| *x % 3)
        .sum(|t: &mut u64| t)
        .discard();
    let r = execute_within(&env, "keyed chain", LIMIT).unwrap();
    assert_eq!((r.tasks, r.threads), (2, 4));
    assert_eq!(r.operator("Keyed Sum").unwrap().task, "Keyed Sum");
    assert_eq!(r.operator("Sink: Discard").unwrap().task, "Keyed Sum");

    let env = StreamEnv::new()
        .with_parallelism(2)
        .disable_operator_chaining();
    env.generate(Some(100), |i| i)
        .map(|x| x + 1)
        .filter(|x| x % 2 == 0)
        .discard();
    let r = execute_within(&env, "unchained", LIMIT).unwrap();
    assert_eq!((r.tasks, r.threads), (4, 8));
    assert_eq!(r.operator("Sink: Discard").unwrap().records_in, 50);
}
