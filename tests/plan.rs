//! The topology and physical plan of a job: uids validated at build time, a fingerprint
//! that is stable for the same program and changes with the topology, and a plan (tasks,
//! chains, channels, key groups, slots) that the executor runs.

use strom::prelude::*;
use strom::runtime::plan::{PhysicalPlan, SlotAssignment};
use strom::runtime::topology::ShipStrategy;

/// source (p=1) -> map (p=2) -> key_by -> sum (p=2) -> sink (p=2), with optional changes.
fn job(map_parallelism: usize, sum_uid: &str, chain_sink: bool) -> StreamEnv {
    let env = StreamEnv::new().with_parallelism(2);
    let sum = env
        .from_collection(vec![("a".to_string(), 1u64), ("b".to_string(), 2)])
        .uid("source")
        .map(|t: (String, u64)| t)
        .set_parallelism(map_parallelism)
        .name("Map")
        .uid("map")
        .key_by(|t| t.0.clone())
        .sum(|t: &mut (String, u64)| &mut t.1)
        .uid(sum_uid);
    let sum = if chain_sink {
        sum
    } else {
        sum.disable_chaining()
    };
    sum.discard().name("Sink: Discard").uid("sink");
    env
}

fn plan(env: &StreamEnv) -> PhysicalPlan {
    env.execution_plan().expect("plan")
}

#[test]
fn fingerprint_is_stable_and_follows_the_topology() {
    let base = plan(&job(2, "sum", true)).fingerprint;
    assert_eq!(base.len(), 32);
    assert!(base.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(plan(&job(2, "sum", true)).fingerprint, base, "same program");
    assert_ne!(plan(&job(1, "sum", true)).fingerprint, base, "parallelism");
    assert_ne!(plan(&job(2, "sum2", true)).fingerprint, base, "uid");
    assert_ne!(plan(&job(2, "sum", false)).fingerprint, base, "chaining");
}

#[test]
fn execution_plan_leaves_the_job_in_place() {
    let env = job(2, "sum", true);
    let before = plan(&env);
    let result = env.execute("plan").expect("runs");
    assert_eq!(result.operators.len(), before.topology.nodes.len());
    for (stats, node) in result.operators.iter().zip(&before.topology.nodes) {
        assert_eq!(stats.name, node.name);
        assert_eq!(stats.parallelism, node.parallelism);
    }
    assert_eq!(result.tasks, before.tasks.len());
    assert_eq!(result.threads, before.subtasks.len());
}

#[test]
fn plan_has_tasks_channels_and_key_groups() {
    let p = plan(&job(2, "sum", true));
    let names: Vec<&str> = p.tasks.iter().map(|t| t.name.as_str()).collect();
    // The source (p=1) feeds the map (p=2) by rebalance; the keyed sum starts a task and
    // the sink is chained to it.
    assert_eq!(p.tasks.len(), 3, "{names:?}");
    assert_eq!(p.tasks[0].parallelism, 1);
    assert!(p.tasks[0].is_source);
    assert_eq!(p.tasks[1].name, "Map");
    assert!(p.tasks[2].name.ends_with(" -> Sink: Discard"), "{names:?}");
    assert!(p.tasks[2].keyed);
    let map = p.tasks[1].head;
    let sum = p.tasks[2].head;
    assert_eq!(p.edge(map, 0).strategy, ShipStrategy::Rebalance);
    assert_eq!(p.edge(sum, 0).strategy, ShipStrategy::Hash);
    // 1 x 2 rebalance channels + 2 x 2 hash channels; the chained edge has none.
    assert_eq!(p.channels.len(), 6);
    assert!(p.channels.iter().all(|c| c.local));
    let ranges: Vec<_> = p
        .subtasks
        .iter()
        .filter(|s| s.task == 2)
        .map(|s| s.key_groups.map(|k| (k.start, k.end)))
        .collect();
    assert_eq!(ranges, vec![Some((0, 63)), Some((64, 127))]);
    assert!(
        p.subtasks
            .iter()
            .filter(|s| s.task != 2)
            .all(|s| s.key_groups.is_none())
    );
    assert_eq!(p.slots, 2);
    assert_eq!(p.subtasks.len(), 5);
}

#[test]
fn slots_across_workers_mark_remote_channels() {
    let env = job(2, "sum", true);
    let local = plan(&env);
    let p = PhysicalPlan::new(&local.topology, true, &SlotAssignment::workers(vec![1, 1]))
        .expect("two workers of one slot");
    assert_eq!(p.fingerprint, local.fingerprint);
    let workers: Vec<usize> = p.subtasks.iter().map(|s| s.worker).collect();
    assert_eq!(workers, vec![0, 0, 1, 0, 1]);
    // Hash channels 0->1 and 1->0 cross workers, and the source's channel to map 1.
    assert_eq!(p.channels.iter().filter(|c| !c.local).count(), 3);
    let err = PhysicalPlan::new(&local.topology, true, &SlotAssignment::workers(vec![1]))
        .expect_err("one slot is too few");
    assert!(err.to_string().contains("needs 2 slots"), "{err}");
}

#[test]
fn text_and_json_name_every_operator() {
    let p = plan(&job(2, "sum", true));
    let text = p.to_text();
    for n in &p.topology.nodes {
        assert!(text.contains(&n.name), "{} missing in\n{text}", n.name);
    }
    assert!(text.contains(&p.fingerprint));
    assert!(
        text.contains("key groups by subtask: 0..=63, 64..=127"),
        "{text}"
    );
    let json = p.to_json();
    let nodes = json["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), p.topology.nodes.len());
    assert_eq!(nodes[0]["pact"], "Data Source");
    assert_eq!(nodes[1]["predecessors"][0]["ship_strategy"], "REBALANCE");
    assert_eq!(nodes[2]["predecessors"][0]["ship_strategy"], "HASH");
    assert_eq!(nodes.last().expect("sink")["pact"], "Data Sink");
    assert_eq!(nodes[2]["uid"], "sum");
    assert_eq!(json["fingerprint"], p.fingerprint.as_str());
}

fn build_error(env: &StreamEnv) -> String {
    match env.execution_plan() {
        Err(StromError::InvalidJob(m)) => m,
        other => panic!(
            "expected InvalidJob, got {:?}",
            other.map(|p| p.fingerprint)
        ),
    }
}

#[test]
fn duplicate_uids_are_rejected_naming_both_operators() {
    let env = StreamEnv::new();
    env.from_collection(vec![1u64, 2])
        .map(|x: u64| x + 1)
        .name("Plus one")
        .uid("step")
        .map(|x: u64| x * 2)
        .name("Times two")
        .uid("step")
        .discard();
    let m = build_error(&env);
    assert!(m.contains("'Plus one'") && m.contains("'Times two'"), "{m}");
    assert!(m.contains("same uid"), "{m}");
    // execute fails the same way, before anything runs.
    let err = env.execute("dup").expect_err("duplicate uids");
    assert!(err.to_string().contains("'Times two'"), "{err}");
}

#[test]
fn uids_that_collide_as_file_names_are_rejected() {
    let env = StreamEnv::new();
    env.from_collection(vec![1u64])
        .map(|x: u64| x)
        .name("First")
        .uid("a.b")
        .map(|x: u64| x)
        .name("Second")
        .uid("a b")
        .discard();
    let m = build_error(&env);
    assert!(m.contains("'First' (uid \"a.b\")"), "{m}");
    assert!(m.contains("'Second' (uid \"a b\")"), "{m}");
    assert!(m.contains("\"a_b\""), "{m}");
}

#[test]
fn a_user_uid_may_not_take_a_generated_one() {
    let env = StreamEnv::new();
    env.from_collection(vec![1u64])
        .map(|x: u64| x)
        .name("Map")
        .discard()
        .uid("1-Map");
    let m = build_error(&env);
    assert!(m.contains("generated uid \"1-Map\""), "{m}");
}
