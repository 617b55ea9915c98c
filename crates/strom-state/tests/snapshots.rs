//! Snapshots and restore of keyed state on both backends: round trips across backends,
//! rescaling, incremental checkpoints, schema evolution and TTL.

#![allow(clippy::unwrap_used)]

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use strom_core::checkpoint::{
    CheckpointId, CheckpointKind, KeyedBlob, RestoredState, SnapshotContext, StateBackendConfig,
    StateSection, StateSnapshot,
};
use strom_core::{AggregateFunction, Key, TaskInfo};
use strom_state::handle::{StateAccess, TtlValue};
use strom_state::*;
use strom_types::key_group::{KeyGroupRange, key_group_for_hash};

const MAX: usize = 128;
const OP: &str = "op";

fn task(subtask: usize, parallelism: usize) -> TaskInfo {
    TaskInfo {
        job_name: "job".into(),
        operator_name: OP.into(),
        subtask,
        parallelism,
        max_parallelism: MAX,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Heap,
    Disk,
}

fn store(kind: Kind, dir: &Path, subtask: usize, parallelism: usize) -> KeyedStateStore<String> {
    let config = match kind {
        Kind::Heap => StateBackendConfig::Heap,
        Kind::Disk => StateBackendConfig::Disk {
            dir: dir.to_path_buf(),
            cache_bytes: 8 << 20,
        },
    };
    KeyedStateStore::for_backend(&config, &task(subtask, parallelism)).unwrap()
}

fn ctx(id: CheckpointId, base: Option<CheckpointId>) -> SnapshotContext {
    SnapshotContext {
        checkpoint_id: id,
        timestamp_ms: 0,
        kind: CheckpointKind::Checkpoint,
        incremental_base: base,
        max_parallelism: MAX,
    }
}

/// Snapshot and materialize: the sections and the base they build on.
fn take(
    store: &mut KeyedStateStore<String>,
    ctx: &SnapshotContext,
) -> (Vec<StateSection>, Option<CheckpointId>) {
    let mut snap = StateSnapshot::new();
    store.snapshot(ctx, &mut snap).unwrap();
    let based_on = snap.based_on;
    (snap.materialize().unwrap(), based_on)
}

/// The restored state of the key groups in `range` from `files` (a chain in order).
fn restored(files: &[&[StateSection]], range: Option<KeyGroupRange>) -> RestoredState {
    let mut r = RestoredState::new(OP);
    for file in files {
        for s in file.iter() {
            if let StateSection::Keyed {
                state,
                key_group,
                delta,
                data,
            } = s
                && range.is_none_or(|r| r.contains(*key_group as u16))
            {
                r.push_keyed(
                    state,
                    KeyedBlob {
                        key_group: *key_group,
                        delta: *delta,
                        data: data.clone(),
                    },
                );
            }
        }
    }
    r
}

fn at<'a>(
    store: &'a mut KeyedStateStore<String>,
    key: &'a String,
    now: i64,
) -> StateAccess<'a, String> {
    StateAccess { store, key, now }
}

#[derive(Clone)]
struct Avg;
impl AggregateFunction<f64> for Avg {
    type Acc = (f64, u32);
    type Out = f64;
    fn create_accumulator(&self) -> (f64, u32) {
        (0.0, 0)
    }
    fn add(&self, acc: &mut (f64, u32), v: &f64) {
        acc.0 += v;
        acc.1 += 1;
    }
    fn get_result(&self, acc: &(f64, u32)) -> f64 {
        acc.0 / f64::from(acc.1)
    }
    fn merge(&self, a: (f64, u32), b: (f64, u32)) -> (f64, u32) {
        (a.0 + b.0, a.1 + b.1)
    }
}

/// The states every test uses, one of each kind.
struct States {
    count: ValueStateDescriptor<u64>,
    events: ListStateDescriptor<String>,
    attrs: MapStateDescriptor<String, u32>,
    max: ReducingStateDescriptor<i64, fn(i64, i64) -> i64>,
    avg: AggregatingStateDescriptor<f64, Avg>,
}

fn states() -> States {
    States {
        count: ValueStateDescriptor::new("count"),
        events: ListStateDescriptor::new("events"),
        attrs: MapStateDescriptor::new("attrs"),
        max: ReducingStateDescriptor::new(
            "max",
            (|a: i64, b: i64| a.max(b)) as fn(i64, i64) -> i64,
        ),
        avg: AggregatingStateDescriptor::new("avg", Avg),
    }
}

const NAMES: [&str; 5] = ["count", "events", "attrs", "max", "avg"];

/// Everything a key has, read through handles.
type View = (
    Option<u64>,
    Vec<String>,
    Vec<(String, u32)>,
    Option<i64>,
    Option<f64>,
);

fn view(store: &mut KeyedStateStore<String>, key: &String) -> View {
    let d = states();
    let mut attrs = d.attrs.bind(at(store, key, 0)).entries().unwrap();
    attrs.sort();
    (
        d.count.bind(at(store, key, 0)).value().unwrap(),
        d.events.bind(at(store, key, 0)).get().unwrap(),
        attrs,
        d.max.bind(at(store, key, 0)).get().unwrap(),
        d.avg.bind(at(store, key, 0)).get().unwrap(),
    )
}

/// Every key of every state with what it holds (keys from `keys()`, so untouched restored
/// states are listed too).
fn dump(store: &mut KeyedStateStore<String>) -> BTreeMap<String, View> {
    let mut keys: Vec<String> = NAMES.iter().flat_map(|n| store.keys(n)).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            let v = view(store, &k);
            (k, v)
        })
        .collect()
}

/// Write something into every state for `key` (round `round` changes it).
fn write(store: &mut KeyedStateStore<String>, key: &String, round: u64) {
    let d = states();
    let i = key.trim_start_matches('k').parse::<u64>().unwrap_or(0) + round;
    d.count.bind(at(store, key, 0)).update(i).unwrap();
    d.events
        .bind(at(store, key, 0))
        .add(format!("e{round}"))
        .unwrap();
    d.attrs
        .bind(at(store, key, 0))
        .put(format!("a{}", i % 3), i as u32)
        .unwrap();
    d.max.bind(at(store, key, 0)).add(i as i64 % 17).unwrap();
    d.avg.bind(at(store, key, 0)).add(&(i as f64)).unwrap();
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i}")).collect()
}

fn filled(kind: Kind, dir: &Path) -> KeyedStateStore<String> {
    let mut s = store(kind, dir, 0, 1);
    for k in keys(300) {
        write(&mut s, &k, 0);
    }
    // Some keys lose some states.
    let d = states();
    for k in keys(300).iter().step_by(7) {
        d.count.bind(at(&mut s, k, 0)).clear().unwrap();
        d.events.bind(at(&mut s, k, 0)).clear().unwrap();
    }
    s
}

#[test]
fn round_trips_between_all_backends() {
    let dir = tempfile::tempdir().unwrap();
    for from in [Kind::Heap, Kind::Disk] {
        let mut src = filled(from, dir.path());
        let expected = dump(&mut src);
        assert_eq!(expected.len(), 300);
        let (sections, based_on) = take(&mut src, &ctx(1, None));
        assert_eq!(based_on, None);
        assert!(
            sections
                .iter()
                .all(|s| matches!(s, StateSection::Keyed { delta: false, .. }))
        );
        for to in [Kind::Heap, Kind::Disk] {
            let mut dst = store(to, dir.path(), 0, 1);
            dst.restore(&restored(&[&sections], None)).unwrap();
            // Before any typed use, keys and sizes are there.
            for name in NAMES {
                assert_eq!(dst.len(name), src.len(name), "{from:?} -> {to:?}: {name}");
            }
            assert_eq!(dump(&mut dst), expected, "{from:?} -> {to:?}");
        }
    }
}

#[test]
fn the_complete_format_is_the_same_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let mut per_backend = Vec::new();
    for kind in [Kind::Heap, Kind::Disk] {
        let mut s = filled(kind, dir.path());
        let (sections, _) = take(&mut s, &ctx(1, None));
        let r = restored(&[&sections], None);
        // Readable with the generic reader of `strom-core`, as `keyed_sections` wrote it.
        let mut counts: Vec<(String, TtlValue<u64>)> = r.keyed_entries("count").unwrap();
        counts.sort_by(|a, b| a.0.cmp(&b.0));
        let mut groups: Vec<(String, u32)> = sections
            .iter()
            .map(|s| match s {
                StateSection::Keyed {
                    state, key_group, ..
                } => (state.clone(), *key_group),
                StateSection::List { .. } => unreachable!(),
            })
            .collect();
        groups.sort();
        per_backend.push((counts, groups));
    }
    assert_eq!(per_backend[0], per_backend[1]);
    assert!(!per_backend[0].0.is_empty());
}

#[test]
fn restored_state_never_used_is_carried_into_the_next_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    for kind in [Kind::Heap, Kind::Disk] {
        let mut src = filled(kind, dir.path());
        let expected = dump(&mut src);
        let (first, _) = take(&mut src, &ctx(1, None));
        let mut mid = store(kind, dir.path(), 0, 1);
        mid.restore(&restored(&[&first], None)).unwrap();
        // Only "count" is used before the next snapshot.
        let k = "k1".to_string();
        states()
            .count
            .bind(at(&mut mid, &k, 0))
            .update(1000)
            .unwrap();
        let (second, _) = take(&mut mid, &ctx(2, None));
        let mut last = store(kind, dir.path(), 0, 1);
        last.restore(&restored(&[&second], None)).unwrap();
        let mut got = dump(&mut last);
        assert_eq!(got.get(&k).unwrap().0, Some(1000));
        got.get_mut(&k).unwrap().0 = expected[&k].0;
        assert_eq!(got, expected, "{kind:?}");
    }
}

#[test]
fn restore_at_another_parallelism_gives_every_key_to_exactly_one_subtask() {
    let dir = tempfile::tempdir().unwrap();
    let all = keys(500);
    let kg = |k: &String| key_group_for_hash(k.key_hash(), MAX);
    for kind in [Kind::Heap, Kind::Disk] {
        // Two old subtasks, each with the keys of its key groups.
        let mut files = Vec::new();
        let mut expected = BTreeMap::new();
        for subtask in 0..2 {
            let range = KeyGroupRange::for_operator(MAX, 2, subtask);
            let mut s = store(kind, dir.path(), subtask, 2);
            for k in all.iter().filter(|k| range.contains(kg(k))) {
                write(&mut s, k, 3);
            }
            expected.extend(dump(&mut s));
            files.push(take(&mut s, &ctx(1, None)).0);
        }
        assert_eq!(expected.len(), all.len());
        for to in [Kind::Heap, Kind::Disk] {
            for parallelism in [1, 3, 5] {
                let mut seen = BTreeMap::new();
                for subtask in 0..parallelism {
                    let range = KeyGroupRange::for_operator(MAX, parallelism, subtask);
                    let chains: Vec<&[StateSection]> = files.iter().map(Vec::as_slice).collect();
                    let mut s = store(to, dir.path(), subtask, parallelism);
                    s.restore(&restored(&chains, Some(range))).unwrap();
                    for (k, v) in dump(&mut s) {
                        assert!(range.contains(kg(&k)), "{k} restored on the wrong subtask");
                        assert!(seen.insert(k, v).is_none(), "a key restored twice");
                    }
                }
                assert_eq!(seen, expected, "{kind:?} -> {to:?} at {parallelism}");
            }
        }
    }
}

#[test]
fn incremental_checkpoints_restore_to_the_live_state() {
    for kind in [Kind::Heap, Kind::Disk] {
        incremental_checkpoints_on(kind);
    }
}

fn incremental_checkpoints_on(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let d = states();
    let mut s = store(kind, dir.path(), 0, 1);
    for k in keys(400) {
        write(&mut s, &k, 0);
    }
    // Checkpoint 1: complete (no base yet).
    let (c1, b1) = take(&mut s, &ctx(1, None));
    assert_eq!(b1, None);
    let full_size: usize = c1.iter().map(StateSection::size).sum();
    s.notify_checkpoint_complete(1);

    // Checkpoint 2: a few changes and deletions.
    for k in keys(400).iter().take(20) {
        write(&mut s, k, 1);
    }
    for k in keys(400).iter().skip(100).take(10) {
        d.count.bind(at(&mut s, k, 0)).clear().unwrap();
        d.attrs.bind(at(&mut s, k, 0)).clear().unwrap();
    }
    let (c2, b2) = take(&mut s, &ctx(2, Some(1)));
    assert_eq!(b2, Some(1), "{kind:?}");
    assert!(
        c2.iter()
            .all(|s| matches!(s, StateSection::Keyed { delta: true, .. })),
        "{kind:?}"
    );
    let delta_size: usize = c2.iter().map(StateSection::size).sum();
    assert!(
        delta_size * 5 < full_size,
        "a delta holds only what changed: {delta_size} of {full_size} bytes"
    );

    // Checkpoint 3 builds on 1 (2 is not complete yet): it holds the changes of both.
    for k in keys(400).iter().skip(200).take(15) {
        write(&mut s, k, 2);
    }
    let k5 = "k5".to_string();
    d.events.bind(at(&mut s, &k5, 0)).clear().unwrap();
    let (c3, b3) = take(&mut s, &ctx(3, Some(1)));
    assert_eq!(b3, Some(1));
    s.notify_checkpoint_complete(3);

    // Checkpoint 4 builds on 3; a change after the barrier is not in it.
    for k in keys(400).iter().skip(300).take(5) {
        write(&mut s, k, 3);
    }
    d.count.bind(at(&mut s, &k5, 0)).clear().unwrap();
    let expected = dump(&mut s);
    let mut snap = StateSnapshot::new();
    s.snapshot(&ctx(4, Some(3)), &mut snap).unwrap();
    assert_eq!(snap.based_on, Some(3));
    let k0 = "k0".to_string();
    d.count.bind(at(&mut s, &k0, 0)).update(99_999).unwrap();
    d.attrs.bind(at(&mut s, &k5, 0)).clear().unwrap();
    let c4 = snap.materialize().unwrap();

    for to in [Kind::Heap, Kind::Disk] {
        let mut r = store(to, dir.path(), 0, 1);
        r.restore(&restored(&[&c1, &c3, &c4], None)).unwrap();
        assert_eq!(dump(&mut r), expected, "{kind:?}: full + deltas on {to:?}");
        // The chain through the delta of 2 ends the same way.
        let mut r = store(to, dir.path(), 0, 1);
        r.restore(&restored(&[&c1, &c2, &c3, &c4], None)).unwrap();
        assert_eq!(dump(&mut r), expected, "full + all deltas on {to:?}");
    }

    // A base the store does not know (after a restore, or forgotten) gives a complete
    // snapshot.
    let mut r = store(kind, dir.path(), 0, 1);
    r.restore(&restored(&[&c1, &c3, &c4], None)).unwrap();
    let (c5, b5) = take(&mut r, &ctx(5, Some(4)));
    assert_eq!(b5, None);
    assert!(
        c5.iter()
            .all(|s| matches!(s, StateSection::Keyed { delta: false, .. }))
    );
    write(&mut r, &k0, 9);
    let (c6, b6) = take(&mut r, &ctx(6, Some(5)));
    assert_eq!(b6, Some(5));
    let expected = dump(&mut r);
    let mut back = store(Kind::Heap, dir.path(), 0, 1);
    back.restore(&restored(&[&c5, &c6], None)).unwrap();
    assert_eq!(dump(&mut back), expected);
}

#[test]
fn snapshots_are_taken_at_the_barrier() {
    let dir = tempfile::tempdir().unwrap();
    for kind in [Kind::Heap, Kind::Disk] {
        let mut s = filled(kind, dir.path());
        let expected = dump(&mut s);
        let mut snap = StateSnapshot::new();
        s.snapshot(&ctx(1, None), &mut snap).unwrap();
        // Changes after the barrier, before the writer thread encodes.
        for k in keys(300).iter().take(50) {
            write(&mut s, k, 7);
        }
        let k = "k3".to_string();
        states().avg.bind(at(&mut s, &k, 0)).clear().unwrap();
        let sections = snap.materialize().unwrap();
        let mut r = store(kind, dir.path(), 0, 1);
        r.restore(&restored(&[&sections], None)).unwrap();
        assert_eq!(dump(&mut r), expected, "{kind:?}");
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct ProfileV1 {
    visits: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct ProfileV2 {
    visits: u64,
    #[serde(default)]
    last_page: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct ProfileV3 {
    visits: String,
}

#[test]
fn an_added_field_with_a_default_reads_old_state_and_a_type_change_fails_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for from in [Kind::Heap, Kind::Disk] {
        let mut s = store(from, dir.path(), 0, 1);
        let v1 = ValueStateDescriptor::<ProfileV1>::new("profile");
        for k in keys(20) {
            v1.bind(at(&mut s, &k, 0))
                .update(ProfileV1 { visits: 3 })
                .unwrap();
        }
        let (sections, _) = take(&mut s, &ctx(1, None));
        for to in [Kind::Heap, Kind::Disk] {
            let mut r = store(to, dir.path(), 0, 1);
            r.restore(&restored(&[&sections], None)).unwrap();
            let v2 = ValueStateDescriptor::<ProfileV2>::new("profile");
            let k = "k4".to_string();
            assert_eq!(
                v2.bind(at(&mut r, &k, 0)).value().unwrap(),
                Some(ProfileV2 {
                    visits: 3,
                    last_page: None
                }),
                "{from:?} -> {to:?}"
            );

            let mut r = store(to, dir.path(), 0, 1);
            r.restore(&restored(&[&sections], None)).unwrap();
            let v3 = ValueStateDescriptor::<ProfileV3>::new("profile");
            let err = v3.bind(at(&mut r, &k, 0)).value().unwrap_err().to_string();
            assert!(
                err.contains("state 'profile' of operator 'op'") && err.contains("incompatible"),
                "{from:?} -> {to:?}: {err}"
            );
        }
    }
}

#[test]
fn a_changed_key_type_fails_at_restore_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(Kind::Heap, dir.path(), 0, 1);
    let k = "k".to_string();
    states().count.bind(at(&mut s, &k, 0)).update(1).unwrap();
    let (sections, _) = take(&mut s, &ctx(1, None));
    for kind in [Kind::Heap, Kind::Disk] {
        let config = match kind {
            Kind::Heap => StateBackendConfig::Heap,
            Kind::Disk => StateBackendConfig::Disk {
                dir: dir.path().to_path_buf(),
                cache_bytes: 8 << 20,
            },
        };
        let mut r = KeyedStateStore::<u64>::for_backend(&config, &task(0, 1)).unwrap();
        let err = r
            .restore(&restored(&[&sections], None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("state 'count' of operator 'op'"), "{err}");
    }
}

#[test]
fn ttl_values_keep_their_expiry_across_restore() {
    let dir = tempfile::tempdir().unwrap();
    let ttl = StateTtlConfig::new(Duration::from_millis(100));
    let d = ValueStateDescriptor::<u32>::new("v").with_ttl(ttl);
    let l = ListStateDescriptor::<u32>::new("l").with_ttl(ttl);
    for from in [Kind::Heap, Kind::Disk] {
        let mut s = store(from, dir.path(), 0, 1);
        for (i, k) in keys(10).iter().enumerate() {
            d.bind(at(&mut s, k, 1_000 + i as i64 * 10))
                .update(7)
                .unwrap();
        }
        let k = "k0".to_string();
        l.bind(at(&mut s, &k, 1_000)).add(1).unwrap();
        l.bind(at(&mut s, &k, 1_050)).add(2).unwrap();
        let (sections, _) = take(&mut s, &ctx(1, None));
        for to in [Kind::Heap, Kind::Disk] {
            let mut r = store(to, dir.path(), 0, 1);
            r.restore(&restored(&[&sections], None)).unwrap();
            assert_eq!(d.bind(at(&mut r, &k, 1_099)).value().unwrap(), Some(7));
            assert_eq!(d.bind(at(&mut r, &k, 1_100)).value().unwrap(), None);
            assert_eq!(l.bind(at(&mut r, &k, 1_120)).get().unwrap(), vec![2]);
            // The background sweep works on restored state (k0 is gone already).
            assert_eq!(r.len("v"), 9);
            r.cleanup_expired(1_150).unwrap();
            assert_eq!(r.len("v"), 4, "{from:?} -> {to:?}");
            r.cleanup_expired(10_000).unwrap();
            assert_eq!(r.len("v"), 0);
        }
    }
}

#[test]
fn the_disk_store_lives_in_its_own_directory_deleted_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let mut info = task(3, 4);
    info.operator_name = "Keyed Process / sum".into();
    let config = StateBackendConfig::Disk {
        dir: dir.path().join("state"),
        cache_bytes: 4 << 20,
    };
    let a = KeyedStateStore::<String>::for_backend(&config, &info).unwrap();
    let b = KeyedStateStore::<String>::for_backend(&config, &info).unwrap();
    assert!(a.is_on_disk());
    let names = || -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let listed = names();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|n| n.starts_with("Keyed_Process___sum-3-")),
        "{listed:?}"
    );
    drop(a);
    drop(b);
    assert!(names().is_empty());
}

#[test]
fn the_record_of_changed_keys_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = StateBackendConfig::Disk {
        dir: dir.path().to_path_buf(),
        cache_bytes: 4 << 20,
    };
    let mut s = KeyedStateStore::<String>::for_backend(&config, &task(0, 1)).unwrap();
    let d = ValueStateDescriptor::<u8>::new("v");
    let (_, b) = take(&mut s, &ctx(1, None));
    assert_eq!(b, None);
    s.notify_checkpoint_complete(1);
    // More changed keys than the budget of 4 MiB can record.
    let long = "x".repeat(1_000);
    for i in 0..5_000 {
        let k = format!("{long}{i}");
        d.bind(at(&mut s, &k, 0)).update(1).unwrap();
    }
    let (sections, b) = take(&mut s, &ctx(2, Some(1)));
    assert_eq!(b, None, "falls back to a complete snapshot");
    assert_eq!(
        restored(&[&sections], None)
            .keyed_entries::<String, TtlValue<u8>>("v")
            .unwrap()
            .len(),
        5_000
    );
    s.notify_checkpoint_complete(2);
    let k = "y".to_string();
    d.bind(at(&mut s, &k, 0)).update(2).unwrap();
    let (sections, b) = take(&mut s, &ctx(3, Some(2)));
    assert_eq!(b, Some(2), "incremental again");
    assert_eq!(sections.len(), 1);
}

#[test]
fn stores_can_move_to_their_task_thread() {
    fn send<T: Send + 'static>() {}
    send::<KeyedStateStore<String>>();
    send::<DiskBackend>();
}

#[test]
fn heap_deltas_carry_deletions_reinsertions_and_skip_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = states();
    let mut s = store(Kind::Heap, dir.path(), 0, 1);
    for k in keys(200) {
        write(&mut s, &k, 0);
    }
    let (c1, _) = take(&mut s, &ctx(1, None));
    s.notify_checkpoint_complete(1);
    // Reads only: the delta is empty.
    let _ = dump(&mut s);
    let (c2, b2) = take(&mut s, &ctx(2, Some(1)));
    assert_eq!(b2, Some(1));
    assert!(c2.is_empty(), "reads are not writes: {c2:?}");
    s.notify_checkpoint_complete(2);
    // Delete a key's count, then set it again; delete another for good.
    let (k1, k2) = ("k1".to_string(), "k2".to_string());
    d.count.bind(at(&mut s, &k1, 0)).clear().unwrap();
    d.count.bind(at(&mut s, &k1, 0)).update(77).unwrap();
    d.count.bind(at(&mut s, &k2, 0)).clear().unwrap();
    let (c3, b3) = take(&mut s, &ctx(3, Some(2)));
    assert_eq!(b3, Some(2));
    let entries: usize = c3.len();
    assert!(
        (1..=2).contains(&entries),
        "only k1's and k2's key groups: {c3:?}"
    );
    let expected = dump(&mut s);
    let mut r = store(Kind::Heap, dir.path(), 0, 1);
    r.restore(&restored(&[&c1, &c2, &c3], None)).unwrap();
    assert_eq!(dump(&mut r), expected);
    // A savepoint is complete and does not become a base.
    let mut sp = ctx(4, Some(3));
    sp.kind = CheckpointKind::Savepoint { stop: false };
    let (c4, b4) = take(&mut s, &sp);
    assert_eq!(b4, None);
    assert!(
        c4.iter()
            .all(|s| matches!(s, StateSection::Keyed { delta: false, .. }))
    );
    let (_, b5) = take(&mut s, &ctx(5, Some(4)));
    assert_eq!(b5, None, "a savepoint is no base");
}

/// The disk backend's object cache under a budget far smaller than the state: random
/// writes, deletions, appends, reads and sweeps on a store whose cache evicts all the time,
/// checked against a model after every step (values, key listings, counts), and
/// incremental checkpoints taken along the way that restore, on either backend, to exactly
/// the state at their barrier.
#[test]
fn the_disk_object_cache_evicts_and_writes_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let config = StateBackendConfig::Disk {
        dir: dir.path().to_path_buf(),
        // Half of it, 16 KiB, for decoded objects: a few hundred of the 600 keys.
        cache_bytes: 32 << 10,
    };
    let mut s: KeyedStateStore<String> =
        KeyedStateStore::for_backend(&config, &task(0, 1)).unwrap();
    let (value, list): (StateName, StateName) = ("value".into(), "list".into());
    let mut model_v: BTreeMap<String, u64> = BTreeMap::new();
    let mut model_l: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut chain: Vec<Vec<StateSection>> = Vec::new();
    let mut base = None;
    for step in 0..6_000_u64 {
        let key = format!("key-{}", next() % 600);
        match next() % 10 {
            0 => {
                s.with_entry::<u64, _>(&value, &key, |v| *v = None).unwrap();
                model_v.remove(&key);
            }
            1..=3 => {
                s.with_entry::<u64, _>(&value, &key, |v| *v = Some(step))
                    .unwrap();
                model_v.insert(key.clone(), step);
            }
            4 | 5 => {
                let x = (next() % 1_000) as u32;
                s.with_entry::<Vec<u32>, _>(&list, &key, |l| {
                    l.get_or_insert_with(Vec::new).push(x)
                })
                .unwrap();
                model_l.entry(key.clone()).or_default().push(x);
            }
            6 => {
                // A read-modify-write that changes nothing.
                let seen = s
                    .with_entry::<Vec<u32>, _>(&list, &key, |l| l.clone())
                    .unwrap();
                assert_eq!(seen.as_ref(), model_l.get(&key), "step {step}");
            }
            _ => {
                let seen = s
                    .read_entry::<u64, _>(&value, &key, |v| v.copied())
                    .unwrap();
                assert_eq!(seen.as_ref(), model_v.get(&key), "step {step}");
            }
        }
        if step % 1_500 == 1_499 {
            // A sweep: keep even values only.
            s.retain::<u64>(&value, |_, v| *v % 2 == 0).unwrap();
            model_v.retain(|_, v| *v % 2 == 0);
        }
        if step % 500 == 499 {
            let mut listed = s.keys("value");
            listed.sort();
            assert_eq!(
                listed,
                model_v.keys().cloned().collect::<Vec<_>>(),
                "step {step}"
            );
            assert_eq!(s.len("list"), model_l.len(), "step {step}");
            let id = step / 500 + 1;
            let (sections, based_on) = take(&mut s, &ctx(id, base));
            assert_eq!(
                based_on, base,
                "incremental on the last complete checkpoint"
            );
            chain.push(sections);
            s.notify_checkpoint_complete(id);
            base = Some(id);
            for to in [Kind::Heap, Kind::Disk] {
                let files: Vec<&[StateSection]> = chain.iter().map(|c| &c[..]).collect();
                let mut r = store(to, dir.path(), 0, 1);
                r.restore(&restored(&files, None)).unwrap();
                let mut got_v = BTreeMap::new();
                for k in r.keys("value") {
                    let v = r.read_entry::<u64, _>(&value, &k, |v| v.copied()).unwrap();
                    got_v.insert(k, v.unwrap());
                }
                assert_eq!(got_v, model_v, "values restored at {id} on {to:?}");
                let mut got_l = BTreeMap::new();
                for k in r.keys("list") {
                    let l = r
                        .read_entry::<Vec<u32>, _>(&list, &k, |l| l.cloned())
                        .unwrap();
                    got_l.insert(k, l.unwrap());
                }
                assert_eq!(got_l, model_l, "lists restored at {id} on {to:?}");
            }
        }
    }
    assert!(chain.len() >= 12);
}
