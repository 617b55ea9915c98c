//! Every state kind and TTL, through handles, on the heap and the disk backend.

#![allow(clippy::unwrap_used)]

use std::time::Duration;
use strom_core::checkpoint::StateBackendConfig;
use strom_core::{AggregateFunction, TaskInfo};
use strom_state::backend::KeyedStateStore;
use strom_state::handle::StateAccess;
use strom_state::*;

/// Run `test` on a fresh store of each backend.
fn on_each_backend(test: impl Fn(KeyedStateStore<String>)) {
    test(KeyedStateStore::new());
    let dir = tempfile::tempdir().unwrap();
    let info = TaskInfo {
        job_name: "job".into(),
        operator_name: "op".into(),
        subtask: 0,
        parallelism: 1,
        max_parallelism: 128,
    };
    let config = StateBackendConfig::Disk {
        dir: dir.path().to_path_buf(),
        cache_bytes: 8 << 20,
    };
    let store = KeyedStateStore::for_backend(&config, &info).unwrap();
    assert!(store.is_on_disk());
    test(store);
}

fn at<'a>(
    store: &'a mut KeyedStateStore<String>,
    key: &'a String,
    now: i64,
) -> StateAccess<'a, String> {
    StateAccess { store, key, now }
}

#[test]
fn value_state_is_per_key() {
    on_each_backend(value_state_is_per_key_on);
}

fn value_state_is_per_key_on(mut store: KeyedStateStore<String>) {
    let d = ValueStateDescriptor::<u64>::new("count");
    let (a, b) = ("a".to_string(), "b".to_string());
    assert_eq!(d.bind(at(&mut store, &a, 0)).value().unwrap(), None);
    d.bind(at(&mut store, &a, 0)).update(1).unwrap();
    d.bind(at(&mut store, &b, 0)).update(7).unwrap();
    let mut h = d.bind(at(&mut store, &a, 0));
    let v = h.value().unwrap().unwrap();
    h.update(v + 1).unwrap();
    assert_eq!(d.bind(at(&mut store, &a, 0)).value().unwrap(), Some(2));
    assert_eq!(d.bind(at(&mut store, &b, 0)).value().unwrap(), Some(7));
    d.bind(at(&mut store, &b, 0)).clear().unwrap();
    assert_eq!(d.bind(at(&mut store, &b, 0)).value().unwrap(), None);
    assert_eq!(store.keys("count"), vec!["a".to_string()]);
}

#[test]
fn list_map_reducing_aggregating() {
    on_each_backend(list_map_reducing_aggregating_on);
}

fn list_map_reducing_aggregating_on(mut store: KeyedStateStore<String>) {
    let k = "k".to_string();
    let list = ListStateDescriptor::<i32>::new("list");
    list.bind(at(&mut store, &k, 0)).add(1).unwrap();
    list.bind(at(&mut store, &k, 0)).add_all([2, 3]).unwrap();
    assert_eq!(
        list.bind(at(&mut store, &k, 0)).get().unwrap(),
        vec![1, 2, 3]
    );
    list.bind(at(&mut store, &k, 0)).update([9]).unwrap();
    assert_eq!(list.bind(at(&mut store, &k, 0)).get().unwrap(), vec![9]);

    let map = MapStateDescriptor::<String, u32>::new("map");
    let mut m = map.bind(at(&mut store, &k, 0));
    m.put("x".into(), 1).unwrap();
    m.put("y".into(), 2).unwrap();
    m.put("x".into(), 3).unwrap();
    assert_eq!(m.get(&"x".into()).unwrap(), Some(3));
    assert!(m.contains(&"y".into()).unwrap());
    m.remove(&"y".into()).unwrap();
    let mut entries = m.entries().unwrap();
    entries.sort();
    assert_eq!(entries, vec![("x".to_string(), 3)]);
    m.clear().unwrap();
    assert!(m.is_empty().unwrap());

    let red = ReducingStateDescriptor::new("max", |a: i64, b: i64| a.max(b));
    for v in [3, 9, 4] {
        red.bind(at(&mut store, &k, 0)).add(v).unwrap();
    }
    assert_eq!(red.bind(at(&mut store, &k, 0)).get().unwrap(), Some(9));

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
    let agg = AggregatingStateDescriptor::new("avg", Avg);
    for v in [1.0, 2.0, 6.0] {
        agg.bind(at(&mut store, &k, 0)).add(&v).unwrap();
    }
    assert_eq!(agg.bind(at(&mut store, &k, 0)).get().unwrap(), Some(3.0));
}

#[test]
fn one_name_with_two_types_is_an_error_naming_the_state() {
    on_each_backend(one_name_with_two_types_is_an_error_naming_the_state_on);
}

fn one_name_with_two_types_is_an_error_naming_the_state_on(mut store: KeyedStateStore<String>) {
    let k = "k".to_string();
    ValueStateDescriptor::<u64>::new("s")
        .bind(at(&mut store, &k, 0))
        .update(1)
        .unwrap();
    let err = ValueStateDescriptor::<String>::new("s")
        .bind(at(&mut store, &k, 0))
        .value()
        .unwrap_err()
        .to_string();
    assert!(err.contains("state 's'"), "{err}");
}

#[test]
fn ttl_on_create_and_write() {
    on_each_backend(ttl_on_create_and_write_on);
}

fn ttl_on_create_and_write_on(mut store: KeyedStateStore<String>) {
    let k = "k".to_string();
    let d = ValueStateDescriptor::<u32>::new("v")
        .with_ttl(StateTtlConfig::new(Duration::from_millis(100)));
    d.bind(at(&mut store, &k, 1_000)).update(5).unwrap();
    // Reads do not renew: expired at 1_100 exactly, never returned after.
    assert_eq!(d.bind(at(&mut store, &k, 1_050)).value().unwrap(), Some(5));
    assert_eq!(d.bind(at(&mut store, &k, 1_099)).value().unwrap(), Some(5));
    assert_eq!(d.bind(at(&mut store, &k, 1_100)).value().unwrap(), None);
    // A write renews.
    d.bind(at(&mut store, &k, 2_000)).update(6).unwrap();
    d.bind(at(&mut store, &k, 2_090)).update(7).unwrap();
    assert_eq!(d.bind(at(&mut store, &k, 2_150)).value().unwrap(), Some(7));
}

#[test]
fn ttl_on_read_and_write_and_per_element_for_lists_and_maps() {
    on_each_backend(ttl_on_read_and_write_and_per_element_for_lists_and_maps_on);
}

fn ttl_on_read_and_write_and_per_element_for_lists_and_maps_on(mut store: KeyedStateStore<String>) {
    let k = "k".to_string();
    let ttl = StateTtlConfig::new(Duration::from_millis(100)).update_on_read();
    let d = ValueStateDescriptor::<u32>::new("v").with_ttl(ttl);
    d.bind(at(&mut store, &k, 0)).update(1).unwrap();
    for t in [90, 180, 270] {
        assert_eq!(
            d.bind(at(&mut store, &k, t)).value().unwrap(),
            Some(1),
            "read at {t} renews"
        );
    }
    assert_eq!(d.bind(at(&mut store, &k, 370)).value().unwrap(), None);

    let list = ListStateDescriptor::<u32>::new("l")
        .with_ttl(StateTtlConfig::new(Duration::from_millis(100)));
    list.bind(at(&mut store, &k, 0)).add(1).unwrap();
    list.bind(at(&mut store, &k, 50)).add(2).unwrap();
    assert_eq!(list.bind(at(&mut store, &k, 120)).get().unwrap(), vec![2]);

    let map = MapStateDescriptor::<u8, u8>::new("m")
        .with_ttl(StateTtlConfig::new(Duration::from_millis(100)));
    map.bind(at(&mut store, &k, 0)).put(1, 1).unwrap();
    map.bind(at(&mut store, &k, 60)).put(2, 2).unwrap();
    assert_eq!(
        map.bind(at(&mut store, &k, 120)).entries().unwrap(),
        vec![(2, 2)]
    );
}

#[test]
fn background_cleanup_removes_expired_values_of_keys_never_read_again() {
    on_each_backend(background_cleanup_removes_expired_values_of_keys_never_read_again_on);
}

fn background_cleanup_removes_expired_values_of_keys_never_read_again_on(
    mut store: KeyedStateStore<String>,
) {
    let d = ValueStateDescriptor::<u32>::new("v")
        .with_ttl(StateTtlConfig::new(Duration::from_millis(10)));
    for i in 0..100u32 {
        let k = format!("key-{i}");
        d.bind(at(&mut store, &k, i64::from(i))).update(i).unwrap();
    }
    assert_eq!(store.len("v"), 100);
    assert!(store.has_ttl());
    store.cleanup_expired(60).unwrap();
    // Written at i, expired from i + 10: keys 51..99 are still alive at 60.
    assert_eq!(store.len("v"), 49);
    store.cleanup_expired(1_000).unwrap();
    assert_eq!(store.len("v"), 0);
}
