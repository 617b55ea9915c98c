//! Key → key group → subtask, checked against values computed by real Flink 2.3
//! (`tests/data/KG.java` run against Flink's jars produced `tests/data/flink_key_groups.tsv`).

use strom_core::Key;
use strom_types::KeyGroupRange;
use strom_types::key_group::{key_group_for_hash, murmur_hash, operator_index_for_key_group};

fn key_hash(ty: &str, key: &str) -> i32 {
    match (ty, key) {
        ("Integer", k) => k.parse::<i32>().expect("int").key_hash(),
        ("Long", k) => k.parse::<i64>().expect("long").key_hash(),
        ("String", k) => k.to_string().key_hash(),
        ("Boolean", k) => (k == "true").key_hash(),
        ("Tuple2", "(1,2)") => (1i32, 2i32).key_hash(),
        ("Tuple2", "(x,3)") => ("x".to_string(), 3i64).key_hash(),
        other => panic!("unexpected key {other:?}"),
    }
}

#[test]
fn key_groups_and_subtasks_match_flink() {
    let data = include_str!("data/flink_key_groups.tsv");
    let mut keys = 0;
    let mut ranges = 0;
    for line in data.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols[0] == "range" {
            let n: Vec<usize> = cols[1..].iter().map(|c| c.parse().expect("num")).collect();
            let r = KeyGroupRange::for_operator(n[0], n[1], n[2]);
            assert_eq!((r.start as usize, r.end as usize), (n[3], n[4]), "{line}");
            ranges += 1;
            continue;
        }
        let (ty, key) = (cols[0], cols[1]);
        let h = key_hash(ty, key);
        assert_eq!(
            h,
            cols[2].parse::<i32>().expect("hash"),
            "hashCode of {ty} {key:?}"
        );
        assert_eq!(
            murmur_hash(h),
            cols[3].parse::<i32>().expect("murmur"),
            "murmur of {h}"
        );
        for (col, max_p) in [(4, 128usize), (5, 1000)] {
            let parts: Vec<usize> = cols[col]
                .split(',')
                .map(|c| c.parse().expect("num"))
                .collect();
            let kg = key_group_for_hash(h, max_p);
            assert_eq!(
                kg as usize, parts[0],
                "key group of {ty} {key:?} at max {max_p}"
            );
            for (i, p) in [1usize, 2, 3, 7].into_iter().enumerate() {
                assert_eq!(operator_index_for_key_group(max_p, p, kg), parts[i + 1]);
            }
        }
        keys += 1;
    }
    assert_eq!((keys, ranges), (21, 26));
}
