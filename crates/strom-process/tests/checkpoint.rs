#![allow(clippy::unwrap_used)]
//! Checkpoints of the process operators, through the test kit: run part of an input,
//! snapshot, restore into a fresh instance (at the same or another parallelism), run the
//! rest, and compare with an uninterrupted run.
//!
//! Outputs are compared step by step, each step's output sorted: timers of different keys
//! due at the same time fire in no guaranteed order (in Flink neither), and a restored
//! queue may order them differently.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use strom_core::checkpoint::{StateBackendConfig, StateSection};
use strom_core::operator_state::{OperatorListStateDescriptor, Redistribution};
use strom_core::{BoxError, Collector, Either, ProcessContext, Result, StromError, Timestamp};
use strom_process::co::{CoProcessAdapter, KeyedCoProcessAdapter};
use strom_process::testkit::{restored_state, subtask_for_key};
use strom_process::timer::TIMERS_STATE;
use strom_process::{
    AsyncConfig, AsyncOperator, BroadcastContext, BroadcastProcessFunction,
    BroadcastProcessOperator, CoProcessFunction, KeyedBroadcastContext, KeyedBroadcastOperator,
    KeyedBroadcastProcessFunction, KeyedCoProcessFunction, KeyedContext, KeyedHarness,
    KeyedProcessFunction, KeyedProcessOperator, KeyedReadOnlyContext, OperatorHarness,
    ProcessHarness, ReadOnlyContext,
};
use strom_runtime::operator::OneInputOperator;
use strom_runtime::operators::KeyedReduce;
use strom_state::{ListStateDescriptor, MapStateDescriptor, StateTtlConfig, ValueStateDescriptor};

const MAX_PARALLELISM: usize = 128;

// ---- driving harnesses by script ------------------------------------------------------

/// One step of a test input.
#[derive(Clone, Debug)]
enum Step<I> {
    /// An element with its timestamp.
    El(I, Timestamp),
    /// Advance the watermark.
    Wm(Timestamp),
    /// Move processing time.
    Pt(i64),
}

use Step::{El, Pt, Wm};

/// Run `steps` on `harnesses` (one per subtask): each element goes to the subtask `route`
/// names, watermarks and processing time to all. Returns each step's output (of all
/// subtasks), sorted.
fn run<I, O, Op>(
    harnesses: &mut [&mut OperatorHarness<I, O, Op>],
    steps: &[Step<I>],
    route: impl Fn(&I) -> usize,
) -> Result<Vec<Vec<O>>>
where
    I: Clone,
    O: Ord,
    Op: OneInputOperator<I, O>,
{
    let mut outputs = Vec::new();
    for step in steps {
        match step {
            El(v, ts) => harnesses[route(v)].process(v.clone(), *ts)?,
            Wm(t) => {
                for h in harnesses.iter_mut() {
                    h.advance_watermark(*t)?;
                }
            }
            Pt(t) => {
                for h in harnesses.iter_mut() {
                    h.set_processing_time(*t)?;
                }
            }
        }
        let mut out: Vec<O> = harnesses.iter_mut().flat_map(|h| h.take_output()).collect();
        out.sort();
        outputs.push(out);
    }
    Ok(outputs)
}

/// Run `steps` on one harness.
fn run_one<I, O, Op>(h: &mut OperatorHarness<I, O, Op>, steps: &[Step<I>]) -> Result<Vec<Vec<O>>>
where
    I: Clone,
    O: Ord,
    Op: OneInputOperator<I, O>,
{
    run(&mut [h], steps, |_| 0)
}

/// The processing time of the last `Pt` step of `steps` (0 if none).
fn clock_after<I>(steps: &[Step<I>]) -> i64 {
    steps
        .iter()
        .filter_map(|s| match s {
            Pt(t) => Some(*t),
            _ => None,
        })
        .next_back()
        .unwrap_or(0)
}

fn key_route(parallelism: usize) -> impl Fn(&(String, i64)) -> usize {
    move |e: &(String, i64)| subtask_for_key(&e.0, parallelism, MAX_PARALLELISM)
}

fn el(key: &str, v: i64, ts: Timestamp) -> Step<(String, i64)> {
    El((key.to_string(), v), ts)
}

// ---- a keyed process function with every kind of state and both timer domains ---------

/// Per key: a count, the history of values, counts per value bucket (map state), the last
/// value with a time-to-live; an event-time timer 100 ms after each element and a
/// processing-time timer 1 s after it. Every element and every timer reports what it sees.
#[derive(Clone)]
struct Tracker {
    count: ValueStateDescriptor<u64>,
    history: ListStateDescriptor<i64>,
    buckets: MapStateDescriptor<i64, u64>,
    recent: ValueStateDescriptor<i64>,
}

impl Tracker {
    fn new() -> Self {
        Tracker {
            count: ValueStateDescriptor::new("count"),
            history: ListStateDescriptor::new("history"),
            buckets: MapStateDescriptor::new("buckets"),
            recent: ValueStateDescriptor::new("recent")
                .with_ttl(StateTtlConfig::new(Duration::from_millis(1_500))),
        }
    }
}

impl KeyedProcessFunction<String, (String, i64), String> for Tracker {
    fn process_element(
        &mut self,
        (key, v): (String, i64),
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let n = ctx.value_state(&self.count).value()?.unwrap_or(0) + 1;
        ctx.value_state(&self.count).update(n)?;
        ctx.list_state(&self.history).add(v)?;
        let mut buckets = ctx.map_state(&self.buckets);
        let c = buckets.get(&(v % 3))?.unwrap_or(0);
        buckets.put(v % 3, c + 1)?;
        let recent = ctx.value_state(&self.recent).value()?;
        ctx.value_state(&self.recent).update(v)?;
        out.collect(format!("{key} element {v} n={n} recent={recent:?}"));
        if let Some(ts) = ctx.timestamp() {
            ctx.timer_service().register_event_time_timer(ts + 100);
        }
        let now = ctx.current_processing_time();
        ctx.timer_service()
            .register_processing_time_timer(now + 1_000);
        Ok(())
    }

    fn on_timer(
        &mut self,
        at: Timestamp,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let domain = ctx.time_domain();
        let key = ctx.key().clone();
        let n = ctx.value_state(&self.count).value()?.unwrap_or(0);
        let history = ctx.list_state(&self.history).get()?;
        let mut buckets = ctx.map_state(&self.buckets).entries()?;
        buckets.sort_unstable();
        let recent = ctx.value_state(&self.recent).value()?;
        out.collect(format!(
            "{key} {domain:?} timer {at} n={n} history={history:?} buckets={buckets:?} recent={recent:?}"
        ));
        Ok(())
    }
}

type TrackerHarness =
    KeyedHarness<String, (String, i64), String, fn(&(String, i64)) -> String, Tracker>;

fn tracker() -> TrackerHarness {
    KeyedHarness::new(
        (|e: &(String, i64)| e.0.clone()) as fn(&(String, i64)) -> String,
        Tracker::new(),
    )
}

/// Before the cut: timers of both domains pending for several keys, TTL values alive and
/// expired. After it: a watermark first (a restored operator starts from the minimum).
/// A keyed input: `(key, value)` elements, watermarks, processing time.
type KeyedInput = Vec<Step<(String, i64)>>;

fn tracker_input() -> (KeyedInput, KeyedInput) {
    let keys = ["ann", "bob", "cid", "dan", "eve", "fay", "gus", "hal"];
    // zed's timers all fire before the cut (and, in the incremental test, between the two
    // checkpoints).
    let mut before = vec![el("zed", 99, 100)];
    for (i, k) in keys.iter().enumerate() {
        let i = i as i64;
        before.push(el(k, i, 1_000 + i * 10));
        before.push(el(k, i + 7, 1_050 + i * 10));
    }
    before.push(Wm(1_120)); // fires the event-time timers up to 1120
    before.push(Pt(500));
    before.push(el("ann", 20, 1_200));
    before.push(el("bob", 21, 1_210));
    before.push(Pt(1_200)); // processing-time timers at 1000 fire
    before.push(el("cid", 22, 1_220));

    let after = vec![
        Wm(1_150),
        el("ann", 30, 1_300),
        el("dan", 31, 1_310),
        Pt(1_800), // ann's and bob's recent (written at 500) expired at 2000: not yet
        el("eve", 32, 1_320),
        Pt(2_100), // expired now; timers at 1500 fire
        el("ann", 40, 1_400),
        el("bob", 41, 1_410),
        Wm(1_350),
        Pt(3_000),
        Wm(i64::MAX),
        Pt(10_000),
    ];
    (before, after)
}

fn uninterrupted_tracker() -> Result<Vec<Vec<String>>> {
    let (before, after) = tracker_input();
    let mut h = tracker();
    let mut out = run_one(&mut h, &before)?;
    out.extend(run_one(&mut h, &after)?);
    Ok(out)
}

#[test]
fn keyed_process_restore_continues_like_an_uninterrupted_run() -> Result<()> {
    let (before, after) = tracker_input();
    let expected = uninterrupted_tracker()?;

    let mut h = tracker();
    let mut out = run_one(&mut h, &before)?;
    let snapshot = h.snapshot(1)?;
    h.notify_checkpoint_complete(1)?;
    assert!(
        snapshot.iter().any(|s| s.state() == TIMERS_STATE),
        "timers are pending at the cut"
    );
    // What happens after the snapshot is lost with the failed instance.
    drop(h);

    let mut restored = tracker()
        .with_processing_time(clock_after(&before))
        .with_restored_state([snapshot]);
    // Timers, state and the watermark are back before any element.
    restored.open()?;
    assert_eq!(restored.watermark(), 1_120);
    let ann = "ann".to_string();
    assert_eq!(restored.pending_processing_timers(&ann), vec![1_500]);
    assert_eq!(restored.pending_event_timers(&ann), vec![1_150, 1_300]);
    assert_eq!(
        restored.list_state(&ann, &Tracker::new().history)?,
        vec![0, 7, 20]
    );
    out.extend(run_one(&mut restored, &after)?);
    assert_eq!(out, expected);
    Ok(())
}

#[test]
fn a_restored_operator_can_be_checkpointed_and_restored_again() -> Result<()> {
    let (before, after) = tracker_input();
    let expected = uninterrupted_tracker()?;
    let (first, second) = after.split_at(5);

    let mut h = tracker();
    let mut out = run_one(&mut h, &before)?;
    let s1 = h.snapshot(1)?;
    let mut h = tracker()
        .with_processing_time(clock_after(&before))
        .with_restored_state([s1]);
    out.extend(run_one(&mut h, first)?);
    let s2 = h.snapshot(2)?;
    let mut h = tracker()
        .with_processing_time(clock_after(first))
        .with_restored_state([s2]);
    // The watermark starts again from the minimum: restate the last one.
    h.advance_watermark(1_150)?;
    out.extend(run_one(&mut h, second)?);
    assert_eq!(out, expected);
    Ok(())
}

/// A fresh directory for the disk backend.
fn disk_backend(name: &str) -> StateBackendConfig {
    let dir = std::env::temp_dir().join(format!(
        "strom-process-checkpoint-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    StateBackendConfig::Disk {
        dir,
        cache_bytes: 8 << 20,
    }
}

#[test]
fn keyed_process_state_moves_between_the_heap_and_disk_backends() -> Result<()> {
    let (before, after) = tracker_input();
    let expected = uninterrupted_tracker()?;
    let disk = disk_backend("moves");
    for (from, to) in [
        (disk.clone(), StateBackendConfig::Heap),
        (StateBackendConfig::Heap, disk.clone()),
        (disk.clone(), disk.clone()),
    ] {
        let mut h = tracker().with_state_backend(from.clone());
        let mut out = run_one(&mut h, &before)?;
        let snapshot = h.snapshot(1)?;
        drop(h);
        let mut h = tracker()
            .with_state_backend(to.clone())
            .with_processing_time(clock_after(&before))
            .with_restored_state([snapshot]);
        out.extend(run_one(&mut h, &after)?);
        assert_eq!(out, expected, "from {from:?} to {to:?}");
    }
    if let StateBackendConfig::Disk { dir, .. } = disk {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

#[test]
fn keyed_process_restores_from_an_incremental_chain_on_the_disk_backend() -> Result<()> {
    let (before, after) = tracker_input();
    let expected = uninterrupted_tracker()?;
    let (first, second) = before.split_at(8);
    let disk = disk_backend("incremental");

    let mut h = tracker().with_state_backend(disk.clone());
    let mut out = run_one(&mut h, first)?;
    let base = h.snapshot(1)?;
    h.notify_checkpoint_complete(1)?;
    // Timers fire and state changes between the two checkpoints.
    out.extend(run_one(&mut h, second)?);
    let delta = h.incremental_snapshot(2, 1)?;
    assert!(
        delta
            .iter()
            .any(|s| matches!(s, StateSection::Keyed { delta: true, .. })),
        "the disk backend wrote changes only"
    );
    drop(h);

    // The runtime restores from the chain: the base, then the increment.
    let chain = [base, delta].concat();
    let mut h = tracker()
        .with_state_backend(disk.clone())
        .with_processing_time(clock_after(&before))
        .with_restored_state([chain]);
    out.extend(run_one(&mut h, &after)?);
    assert_eq!(out, expected);
    if let StateBackendConfig::Disk { dir, .. } = disk {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// Run `before` at parallelism 2, snapshot both subtasks, restore at `new_parallelism` and
/// run `after`; compare with one uninterrupted subtask.
fn rescale_tracker(new_parallelism: usize) -> Result<()> {
    let (before, after) = tracker_input();
    let expected = uninterrupted_tracker()?;

    let mut old: Vec<TrackerHarness> = (0..2).map(|i| tracker().with_subtask(i, 2)).collect();
    let mut refs: Vec<&mut OperatorHarness<_, _, _>> = old.iter_mut().map(|h| &mut **h).collect();
    let mut out = run(&mut refs, &before, key_route(2))?;
    let snapshots: Vec<Vec<StateSection>> = old
        .iter_mut()
        .map(|h| h.snapshot(7))
        .collect::<Result<_>>()?;
    drop(old);

    let mut new: Vec<TrackerHarness> = (0..new_parallelism)
        .map(|i| {
            tracker()
                .with_subtask(i, new_parallelism)
                .with_processing_time(clock_after(&before))
                .with_restored_state(snapshots.clone())
        })
        .collect();
    // Every subtask holds exactly the keys of its key groups.
    let mut all_keys = Vec::new();
    for (i, h) in new.iter_mut().enumerate() {
        h.open()?;
        for key in h.state_keys("count") {
            assert_eq!(subtask_for_key(&key, new_parallelism, MAX_PARALLELISM), i);
            all_keys.push(key);
        }
    }
    all_keys.sort();
    assert_eq!(all_keys.len(), 9, "{all_keys:?}");
    let mut refs: Vec<&mut OperatorHarness<_, _, _>> = new.iter_mut().map(|h| &mut **h).collect();
    out.extend(run(&mut refs, &after, key_route(new_parallelism))?);
    assert_eq!(out, expected);
    Ok(())
}

#[test]
fn keyed_process_rescale_2_to_1() -> Result<()> {
    rescale_tracker(1)
}

#[test]
fn keyed_process_rescale_2_to_3() -> Result<()> {
    rescale_tracker(3)
}

/// No state, only timers: each element `(key, at)` registers an event-time timer at `at`
/// and a processing-time timer at `at * 10`; each timer reports itself.
struct Alarm;

impl KeyedProcessFunction<String, (String, i64), String> for Alarm {
    fn process_element(
        &mut self,
        (_, at): (String, i64),
        ctx: &mut KeyedContext<'_, String>,
        _out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        ctx.timer_service().register_event_time_timer(at);
        ctx.timer_service().register_processing_time_timer(at * 10);
        Ok(())
    }

    fn on_timer(
        &mut self,
        at: Timestamp,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let domain = ctx.time_domain();
        let now = ctx.current_processing_time();
        out.collect(format!("{} {domain:?} {at} at {now}", ctx.key()));
        Ok(())
    }
}

type AlarmHarness =
    KeyedHarness<String, (String, i64), String, fn(&(String, i64)) -> String, Alarm>;

fn timers_only() -> AlarmHarness {
    KeyedHarness::new(
        (|e: &(String, i64)| e.0.clone()) as fn(&(String, i64)) -> String,
        Alarm,
    )
}

#[test]
fn keyed_process_timers_pending_across_a_rescale_fire_where_their_key_went() -> Result<()> {
    let keys = ["a", "b", "c", "d", "e", "f", "g"];
    let mut before: KeyedInput = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let i = i as i64;
        before.push(el(k, 100 + i, 0));
        before.push(el(k, 200 + i, 0));
    }
    before.push(Wm(103)); // a..d's first event-time timers fire
    before.push(Pt(1_020)); // a..c's first processing-time timers fire
    let after = vec![
        Wm(103),
        Pt(1_500),
        Wm(204),
        Pt(2_100),
        Wm(i64::MAX),
        Pt(5_000),
    ];

    let mut h = timers_only();
    let mut expected = run_one(&mut h, &before)?;
    expected.extend(run_one(&mut h, &after)?);
    let fired: usize = expected.iter().map(Vec::len).sum();
    assert_eq!(fired, 4 * keys.len());

    for new_parallelism in [1, 3] {
        let mut old: Vec<_> = (0..2).map(|i| timers_only().with_subtask(i, 2)).collect();
        let mut refs: Vec<&mut OperatorHarness<_, _, _>> =
            old.iter_mut().map(|h| &mut **h).collect();
        let mut out = run(&mut refs, &before, key_route(2))?;
        let snapshots: Vec<Vec<StateSection>> = old
            .iter_mut()
            .map(|h| h.snapshot(1))
            .collect::<Result<_>>()?;
        let mut new: Vec<_> = (0..new_parallelism)
            .map(|i| {
                timers_only()
                    .with_subtask(i, new_parallelism)
                    .with_processing_time(1_020)
                    .with_restored_state(snapshots.clone())
            })
            .collect();
        for (i, h) in new.iter_mut().enumerate() {
            h.open()?;
            for k in keys {
                let k = k.to_string();
                let mine = subtask_for_key(&k, new_parallelism, MAX_PARALLELISM) == i;
                let (event, processing) =
                    (h.pending_event_timers(&k), h.pending_processing_timers(&k));
                assert_eq!(
                    !event.is_empty() && !processing.is_empty(),
                    mine,
                    "{k} on {i}"
                );
            }
        }
        let mut refs: Vec<&mut OperatorHarness<_, _, _>> =
            new.iter_mut().map(|h| &mut **h).collect();
        out.extend(run(&mut refs, &after, key_route(new_parallelism))?);
        assert_eq!(out, expected, "at parallelism {new_parallelism}");
    }
    Ok(())
}

// ---- keyed co-process ------------------------------------------------------------------

/// Joins orders (left) with the latest price of their item (right), waiting for a price up
/// to an event-time timeout.
#[derive(Clone)]
struct PriceJoin {
    price: ValueStateDescriptor<i64>,
    waiting: ListStateDescriptor<i64>,
}

impl KeyedCoProcessFunction<String, (String, i64), (String, i64), String> for PriceJoin {
    fn process_element1(
        &mut self,
        (item, qty): (String, i64),
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        match ctx.value_state(&self.price).value()? {
            Some(p) => out.collect(format!("{item} {qty} x {p}")),
            None => {
                ctx.list_state(&self.waiting).add(qty)?;
                let ts = ctx.timestamp().unwrap_or(0);
                ctx.timer_service().register_event_time_timer(ts + 50);
            }
        }
        Ok(())
    }

    fn process_element2(
        &mut self,
        (item, price): (String, i64),
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        ctx.value_state(&self.price).update(price)?;
        for qty in ctx.list_state(&self.waiting).get()? {
            out.collect(format!("{item} {qty} x {price} (late price)"));
        }
        ctx.list_state(&self.waiting).clear()?;
        Ok(())
    }

    fn on_timer(
        &mut self,
        at: Timestamp,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let item = ctx.key().clone();
        for qty in ctx.list_state(&self.waiting).get()? {
            out.collect(format!("{item} {qty} timed out at {at}"));
        }
        ctx.list_state(&self.waiting).clear()?;
        Ok(())
    }
}

type Trade = Either<(String, i64), (String, i64)>;

fn trade_key(e: &Trade) -> String {
    match e {
        Either::Left((k, _)) | Either::Right((k, _)) => k.clone(),
    }
}

type JoinOperator = KeyedProcessOperator<
    String,
    fn(&Trade) -> String,
    KeyedCoProcessAdapter<PriceJoin, (String, i64), (String, i64)>,
>;

fn price_join() -> OperatorHarness<Trade, String, JoinOperator> {
    let f = PriceJoin {
        price: ValueStateDescriptor::new("price"),
        waiting: ListStateDescriptor::new("waiting"),
    };
    OperatorHarness::new(KeyedProcessOperator::new(
        trade_key as fn(&Trade) -> String,
        KeyedCoProcessAdapter(f, PhantomData),
    ))
}

#[test]
fn keyed_co_process_restore_continues_like_an_uninterrupted_run() -> Result<()> {
    let order = |k: &str, q: i64, ts| El(Either::Left((k.to_string(), q)), ts);
    let price = |k: &str, p: i64, ts| El(Either::Right((k.to_string(), p)), ts);
    let before = vec![
        price("apple", 3, 10),
        order("apple", 2, 20),
        order("pear", 5, 30), // waits for a price
        order("plum", 1, 40), // waits, times out
        order("fig", 4, 45),  // waits, times out after the restore
        Wm(85),
    ];
    let after = vec![
        Wm(89),
        price("pear", 7, 90),
        Wm(95),
        order("pear", 1, 100),
        Wm(i64::MAX),
    ];
    let mut h = price_join();
    let mut expected = run_one(&mut h, &before)?;
    expected.extend(run_one(&mut h, &after)?);

    let mut h = price_join();
    let mut out = run_one(&mut h, &before)?;
    let snapshot = h.snapshot(3)?;
    let mut h = price_join().with_restored_state([snapshot]);
    out.extend(run_one(&mut h, &after)?);
    assert_eq!(out, expected);
    assert!(out.concat().contains(&"fig 4 timed out at 95".to_string()));
    Ok(())
}

// ---- non-keyed process and co-process functions with operator list state ---------------

/// Emits elements in groups of three, buffering the rest in operator list state; counts
/// every element in a union list state.
#[derive(Clone)]
struct Batcher {
    buffer: OperatorListStateDescriptor<i64>,
    seen: OperatorListStateDescriptor<u64>,
}

impl Batcher {
    fn new() -> Self {
        Batcher {
            buffer: OperatorListStateDescriptor::even_split("buffer"),
            seen: OperatorListStateDescriptor::union("seen"),
        }
    }
}

impl strom_core::ProcessFunction<i64, String> for Batcher {
    fn process_element(
        &mut self,
        v: i64,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let seen = ctx.operator_list_state(&self.seen)?;
        if seen.is_empty() {
            seen.push(0);
        }
        seen[0] += 1;
        let n = seen[0];
        let buffer = ctx.operator_list_state(&self.buffer)?;
        buffer.push(v);
        if buffer.len() == 3 {
            let group: Vec<i64> = std::mem::take(buffer);
            out.collect(format!("{group:?} after {n}"));
        }
        Ok(())
    }
}

#[test]
fn process_function_operator_state_survives_a_restore() -> Result<()> {
    let steps: Vec<Step<i64>> = (1..=10).map(|v| El(v, v)).collect();
    let (before, after) = steps.split_at(5);
    let mut h = ProcessHarness::new(Batcher::new());
    let mut expected = run_one(&mut h, before)?;
    expected.extend(run_one(&mut h, after)?);

    let mut h = ProcessHarness::new(Batcher::new());
    let mut out = run_one(&mut h, before)?;
    let snapshot = h.snapshot(1)?;
    let mut h = ProcessHarness::new(Batcher::new()).with_restored_state([snapshot]);
    out.extend(run_one(&mut h, after)?);
    assert_eq!(out, expected);
    assert_eq!(
        out.concat(),
        vec![
            "[1, 2, 3] after 3",
            "[4, 5, 6] after 6",
            "[7, 8, 9] after 9"
        ]
    );
    Ok(())
}

#[test]
fn process_function_operator_state_is_redistributed_on_rescale() -> Result<()> {
    // Two subtasks buffer [1, 2] and [3, 4], having seen 2 elements each.
    let mut old: Vec<_> = (0..2)
        .map(|i| ProcessHarness::new(Batcher::new()).with_subtask(i, 2))
        .collect();
    for (i, h) in old.iter_mut().enumerate() {
        let i = i as i64;
        h.process(2 * i + 1, 0)?;
        h.process(2 * i + 2, 0)?;
    }
    let snapshots: Vec<Vec<StateSection>> = old
        .iter_mut()
        .map(|h| h.snapshot(1))
        .collect::<Result<_>>()?;

    // At parallelism 3 the buffer is split evenly ([1], [2], [3, 4]) and every subtask
    // gets every count (union).
    let shares: Vec<_> = (0..3)
        .map(|i| restored_state("Process", &snapshots, i, 3, MAX_PARALLELISM))
        .collect();
    let buffers: Vec<Vec<i64>> = shares.iter().map(|s| s.list("buffer").unwrap()).collect();
    assert_eq!(buffers, vec![vec![1], vec![2], vec![3, 4]]);
    for s in &shares {
        assert_eq!(s.list::<u64>("seen")?, vec![2, 2]);
        assert_eq!(
            s.list_raw("seen").map(|(m, _)| m),
            Some(Redistribution::Union)
        );
    }

    let mut h = ProcessHarness::new(Batcher::new())
        .with_subtask(2, 3)
        .with_restored_state(snapshots.clone());
    h.process(10, 0)?;
    // The union's first element is the one this function counts in.
    assert_eq!(h.take_output(), vec!["[3, 4, 10] after 3"]);

    // Back to one subtask: everything in one buffer.
    let mut h = ProcessHarness::new(Batcher::new()).with_restored_state(snapshots);
    h.process(5, 0)?;
    assert_eq!(h.take_output(), Vec::<String>::new());
    assert_eq!(
        restored_state("Process", &[h.snapshot(2)?], 0, 1, MAX_PARALLELISM)
            .list::<i64>("buffer")?,
        vec![1, 2, 3, 4, 5]
    );
    Ok(())
}

/// Counts the elements of each input in operator list state and reports the counts.
#[derive(Clone)]
struct CountBoth {
    counts: OperatorListStateDescriptor<(u64, u64)>,
}

impl CoProcessFunction<i64, String, String> for CountBoth {
    fn process_element1(
        &mut self,
        v: i64,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let counts = ctx.operator_list_state(&self.counts)?;
        if counts.is_empty() {
            counts.push((0, 0));
        }
        counts[0].0 += 1;
        out.collect(format!("number {v} {:?}", counts[0]));
        Ok(())
    }

    fn process_element2(
        &mut self,
        s: String,
        ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let counts = ctx.operator_list_state(&self.counts)?;
        if counts.is_empty() {
            counts.push((0, 0));
        }
        counts[0].1 += 1;
        out.collect(format!("word {s} {:?}", counts[0]));
        Ok(())
    }
}

#[test]
fn co_process_operator_state_survives_a_restore() -> Result<()> {
    let f = || {
        ProcessHarness::new(CoProcessAdapter(
            CountBoth {
                counts: OperatorListStateDescriptor::even_split("counts"),
            },
            PhantomData,
        ))
    };
    let steps: Vec<Step<Either<i64, String>>> = vec![
        El(Either::Left(1), 1),
        El(Either::Right("a".into()), 2),
        El(Either::Left(2), 3),
        El(Either::Right("b".into()), 4),
        El(Either::Left(3), 5),
    ];
    let (before, after) = steps.split_at(3);
    let mut h = f();
    let mut expected = run_one(&mut h, before)?;
    expected.extend(run_one(&mut h, after)?);
    let mut h = f();
    let mut out = run_one(&mut h, before)?;
    let snapshot = h.snapshot(1)?;
    let mut h = f().with_restored_state([snapshot]);
    out.extend(run_one(&mut h, after)?);
    assert_eq!(out, expected);
    assert_eq!(out.concat().last().unwrap(), "number 3 (3, 2)");
    Ok(())
}

// ---- rolling reduce ----------------------------------------------------------------------

type SumOperator = KeyedReduce<
    (String, i64),
    String,
    fn(&(String, i64)) -> String,
    fn((String, i64), (String, i64)) -> (String, i64),
>;

fn rolling_sum() -> OperatorHarness<(String, i64), (String, i64), SumOperator> {
    OperatorHarness::new(KeyedReduce::new(
        (|e: &(String, i64)| e.0.clone()) as fn(&(String, i64)) -> String,
        (|a: (String, i64), b: (String, i64)| (a.0, a.1 + b.1))
            as fn((String, i64), (String, i64)) -> (String, i64),
    ))
}

fn reduce_input() -> Vec<Step<(String, i64)>> {
    let keys = ["a", "b", "c", "d", "e", "f"];
    (0..30)
        .map(|i| el(keys[i % keys.len()], i as i64, i as i64))
        .collect()
}

#[test]
fn keyed_reduce_restore_continues_like_an_uninterrupted_run() -> Result<()> {
    let steps = reduce_input();
    let (before, after) = steps.split_at(13);
    let mut h = rolling_sum();
    let mut expected = run_one(&mut h, before)?;
    expected.extend(run_one(&mut h, after)?);

    let mut h = rolling_sum();
    let mut out = run_one(&mut h, before)?;
    let snapshot = h.snapshot(1)?;
    assert!(
        snapshot
            .iter()
            .filter(|s| s.state() != strom_runtime::operator::WATERMARK_STATE)
            .all(
                |s| s.state() == SumOperator::STATE_NAME && matches!(s, StateSection::Keyed { .. })
            )
    );
    let mut h = rolling_sum().with_restored_state([snapshot]);
    out.extend(run_one(&mut h, after)?);
    assert_eq!(out, expected);
    Ok(())
}

#[test]
fn keyed_reduce_rescale_2_to_3() -> Result<()> {
    let steps = reduce_input();
    let (before, after) = steps.split_at(13);
    let mut h = rolling_sum();
    let mut expected = run_one(&mut h, before)?;
    expected.extend(run_one(&mut h, after)?);

    let mut old: Vec<_> = (0..2).map(|i| rolling_sum().with_subtask(i, 2)).collect();
    let mut refs: Vec<_> = old.iter_mut().collect();
    let mut out = run(&mut refs, before, key_route(2))?;
    let snapshots: Vec<Vec<StateSection>> = old
        .iter_mut()
        .map(|h| h.snapshot(1))
        .collect::<Result<_>>()?;
    let mut new: Vec<_> = (0..3)
        .map(|i| {
            rolling_sum()
                .with_subtask(i, 3)
                .with_restored_state(snapshots.clone())
        })
        .collect();
    let mut refs: Vec<_> = new.iter_mut().collect();
    out.extend(run(&mut refs, after, key_route(3))?);
    assert_eq!(out, expected);
    Ok(())
}

// ---- broadcast state ---------------------------------------------------------------------

/// Data elements are labelled with the broadcast thresholds they reach and counted per key
/// (keyed state); each key gets an event-time timer reporting its count.
#[derive(Clone)]
struct Labels {
    levels: MapStateDescriptor<String, i64>,
    count: ValueStateDescriptor<u64>,
}

impl Labels {
    fn new() -> Self {
        Labels {
            levels: MapStateDescriptor::new("levels"),
            count: ValueStateDescriptor::new("count"),
        }
    }
}

impl KeyedBroadcastProcessFunction<String, (String, i64), (String, i64), String> for Labels {
    fn process_element(
        &mut self,
        (key, v): (String, i64),
        ctx: &mut KeyedReadOnlyContext<'_, '_, String>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let mut reached: Vec<String> = ctx
            .broadcast_state(&self.levels)?
            .iter()
            .filter(|(_, t)| v >= **t)
            .map(|(l, _)| l.clone())
            .collect();
        reached.sort();
        let n = ctx.keyed.value_state(&self.count).value()?.unwrap_or(0) + 1;
        ctx.keyed.value_state(&self.count).update(n)?;
        let ts = ctx.keyed.timestamp().unwrap_or(0);
        ctx.keyed
            .timer_service()
            .register_event_time_timer(ts + 1_000);
        out.collect(format!("{key} {v} {reached:?} n={n}"));
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        (name, t): (String, i64),
        ctx: &mut KeyedBroadcastContext<'_, String>,
        _out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        if name == "reset" {
            // Every key's count back to `t`, from the broadcast side.
            ctx.apply_to_keyed_state(&self.count, |_, mut count| count.update(t as u64))?;
        } else {
            ctx.broadcast_state(&self.levels)?.insert(name, t);
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        at: Timestamp,
        ctx: &mut KeyedReadOnlyContext<'_, '_, String>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let key = ctx.keyed.key().clone();
        let n = ctx.keyed.value_state(&self.count).value()?.unwrap_or(0);
        let rules = ctx.broadcast_state(&self.levels)?.len();
        out.collect(format!("{key} timer {at} n={n} rules={rules}"));
        Ok(())
    }
}

type Tagged = Either<(String, i64), (String, i64)>;
type LabelsOperator = KeyedBroadcastOperator<
    String,
    (String, i64),
    (String, i64),
    fn(&(String, i64)) -> String,
    Labels,
>;

fn labels() -> OperatorHarness<Tagged, String, LabelsOperator> {
    OperatorHarness::new(KeyedBroadcastOperator::new(
        (|e: &(String, i64)| e.0.clone()) as fn(&(String, i64)) -> String,
        Labels::new(),
    ))
}

fn data(k: &str, v: i64, ts: Timestamp) -> Step<Tagged> {
    El(Either::Left((k.to_string(), v)), ts)
}

fn rule(name: &str, t: i64, ts: Timestamp) -> Step<Tagged> {
    El(Either::Right((name.to_string(), t)), ts)
}

/// Run steps on one harness per subtask: data by key, rules, watermarks and processing
/// time to every subtask.
fn run_broadcast(
    harnesses: &mut [OperatorHarness<Tagged, String, LabelsOperator>],
    steps: &[Step<Tagged>],
) -> Result<Vec<Vec<String>>> {
    let p = harnesses.len();
    let mut outputs = Vec::new();
    for step in steps {
        match step {
            El(Either::Left(d), ts) => harnesses[subtask_for_key(&d.0, p, MAX_PARALLELISM)]
                .process(Either::Left(d.clone()), *ts)?,
            El(Either::Right(r), ts) => {
                for h in harnesses.iter_mut() {
                    h.process(Either::Right(r.clone()), *ts)?;
                }
            }
            Wm(t) => {
                for h in harnesses.iter_mut() {
                    h.advance_watermark(*t)?;
                }
            }
            Pt(t) => {
                for h in harnesses.iter_mut() {
                    h.set_processing_time(*t)?;
                }
            }
        }
        let mut out: Vec<String> = harnesses.iter_mut().flat_map(|h| h.take_output()).collect();
        out.sort();
        outputs.push(out);
    }
    Ok(outputs)
}

fn broadcast_input() -> (Vec<Step<Tagged>>, Vec<Step<Tagged>>) {
    let before = vec![
        rule("low", 3, 0),
        data("ann", 5, 100),
        data("bob", 1, 110),
        rule("high", 10, 120),
        data("cid", 12, 130),
        Wm(500),
    ];
    let after = vec![
        // Visits the restored keys' state before any element of theirs arrives.
        rule("reset", 10, 550),
        Wm(600),
        data("ann", 11, 700),
        rule("mid", 6, 710),
        data("dan", 7, 720),
        Wm(i64::MAX),
    ];
    (before, after)
}

fn rescale_broadcast(new_parallelism: usize) -> Result<()> {
    let (before, after) = broadcast_input();
    let mut one = vec![labels()];
    let mut expected = run_broadcast(&mut one, &before)?;
    expected.extend(run_broadcast(&mut one, &after)?);

    let mut old: Vec<_> = (0..2).map(|i| labels().with_subtask(i, 2)).collect();
    let mut out = run_broadcast(&mut old, &before)?;
    let snapshots: Vec<Vec<StateSection>> = old
        .iter_mut()
        .map(|h| h.snapshot(4))
        .collect::<Result<_>>()?;
    // Every subtask wrote its own copy of the broadcast state.
    for s in &snapshots {
        let copies: Vec<_> = s
            .iter()
            .filter(|s| s.state() == "_broadcast_state/levels")
            .collect();
        assert_eq!(copies.len(), 1);
        assert!(matches!(
            copies[0],
            StateSection::List { mode: Redistribution::Union, elements, .. } if elements.len() == 1
        ));
    }
    let mut new: Vec<_> = (0..new_parallelism)
        .map(|i| {
            labels()
                .with_subtask(i, new_parallelism)
                .with_restored_state(snapshots.clone())
        })
        .collect();
    out.extend(run_broadcast(&mut new, &after)?);
    // Rules already known before the restore: every new subtask has them.
    for h in &mut new {
        let levels = h
            .operator_mut()
            .broadcast_states()
            .get(&Labels::new().levels)?
            .clone();
        assert_eq!(levels.len(), 3, "{levels:?}");
    }
    assert_eq!(out, expected);
    assert!(
        out.concat()
            .contains(&"ann timer 1100 n=11 rules=3".to_string())
    );
    Ok(())
}

#[test]
fn keyed_broadcast_restore_at_the_same_parallelism() -> Result<()> {
    rescale_broadcast(2)
}

#[test]
fn keyed_broadcast_rescale_2_to_3() -> Result<()> {
    rescale_broadcast(3)
}

/// A non-keyed broadcast function: counts data elements above the current threshold.
#[derive(Clone)]
struct Threshold {
    limit: MapStateDescriptor<String, i64>,
}

impl BroadcastProcessFunction<i64, i64, String> for Threshold {
    fn process_element(
        &mut self,
        v: i64,
        ctx: &mut ReadOnlyContext<'_, '_>,
        out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        let limit = ctx.broadcast_state(&self.limit)?.get("limit").copied();
        out.collect(format!(
            "{v} above {limit:?}: {}",
            limit.is_some_and(|l| v > l)
        ));
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        limit: i64,
        ctx: &mut BroadcastContext<'_, '_>,
        _out: &mut Collector<'_, String>,
    ) -> std::result::Result<(), BoxError> {
        ctx.broadcast_state(&self.limit)?
            .insert("limit".to_string(), limit);
        Ok(())
    }
}

type ThresholdHarness =
    OperatorHarness<Either<i64, i64>, String, BroadcastProcessOperator<i64, i64, Threshold>>;

fn threshold() -> ThresholdHarness {
    OperatorHarness::new(BroadcastProcessOperator::new(Threshold {
        limit: MapStateDescriptor::new("limit"),
    }))
}

#[test]
fn broadcast_state_survives_a_restore_and_rescale() -> Result<()> {
    let mut old: Vec<ThresholdHarness> = (0..2).map(|i| threshold().with_subtask(i, 2)).collect();
    for h in &mut old {
        h.process(Either::Right(10), 0)?;
    }
    let snapshots: Vec<Vec<StateSection>> = old
        .iter_mut()
        .map(|h| h.snapshot(1))
        .collect::<Result<_>>()?;
    for p in [1, 2, 3] {
        for i in 0..p {
            let mut h = threshold()
                .with_subtask(i, p)
                .with_restored_state(snapshots.clone());
            h.process(Either::Left(11), 1)?;
            h.process(Either::Left(9), 2)?;
            assert_eq!(
                h.take_output(),
                vec!["11 above Some(10): true", "9 above Some(10): false"]
            );
        }
    }
    Ok(())
}

#[test]
fn unused_restored_broadcast_state_is_carried_into_the_next_checkpoint() -> Result<()> {
    let mut h = threshold();
    h.process(Either::Right(10), 0)?;
    let s1 = h.snapshot(1)?;
    // Restored, never touched, checkpointed again.
    let mut h = threshold().with_restored_state([s1.clone()]);
    let s2 = h.snapshot(2)?;
    assert_eq!(s2, s1);
    let mut h = threshold().with_restored_state([s2]);
    h.process(Either::Left(11), 1)?;
    assert_eq!(h.take_output(), vec!["11 above Some(10): true"]);
    Ok(())
}

#[test]
fn broadcast_state_restored_with_another_type_fails_naming_the_state() -> Result<()> {
    let mut h = threshold();
    h.process(Either::Right(10), 0)?;
    let snapshot = h.snapshot(1)?;
    let mut states = strom_process::BroadcastStates::default();
    states.restore(&restored_state("B", &[snapshot], 0, 1, MAX_PARALLELISM), 0)?;
    let err = states
        .get(&MapStateDescriptor::<String, String>::new("limit"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("state '_broadcast_state/limit' of operator 'B'"),
        "{err}"
    );
    Ok(())
}

// ---- async I/O -----------------------------------------------------------------------------

/// A service that answers `x * 10`, holding odd inputs until the gate opens.
#[derive(Clone)]
struct Gated {
    open: Arc<AtomicBool>,
}

impl Gated {
    fn new(open: bool) -> Self {
        Gated {
            open: Arc::new(AtomicBool::new(open)),
        }
    }

    fn function(
        &self,
    ) -> impl Fn(
        i64,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = std::result::Result<i64, BoxError>> + Send>,
    > + Send
    + Sync
    + 'static {
        let open = Arc::clone(&self.open);
        move |x: i64| {
            let open = Arc::clone(&open);
            Box::pin(async move {
                while x % 2 == 1 && !open.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Ok(x * 10)
            })
        }
    }
}

fn async_config(ordered: bool) -> AsyncConfig {
    AsyncConfig {
        capacity: 50,
        ordered,
        ..AsyncConfig::default()
    }
}

/// Wait (really) until the operator has emitted `n` results or a second passes.
fn wait_for<I, O, Op: OneInputOperator<I, O>>(
    h: &mut OperatorHarness<I, O, Op>,
    n: usize,
) -> Result<()> {
    for _ in 0..1_000 {
        if h.output_records().len() >= n {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
        h.advance_processing_time(Duration::from_millis(1))?;
    }
    Ok(())
}

#[test]
fn async_in_flight_elements_are_submitted_again_after_a_restore_in_order() -> Result<()> {
    let gate = Gated::new(false);
    let mut h = OperatorHarness::new(AsyncOperator::new(gate.function(), async_config(true))?);
    for x in 1..=6 {
        h.process(x, x)?;
    }
    // 2, 4 and 6 finish but wait for 1, 3 and 5 (ordered): nothing may be emitted yet.
    std::thread::sleep(Duration::from_millis(50));
    h.advance_processing_time(Duration::from_millis(1))?;
    assert_eq!(h.take_output(), Vec::<i64>::new());
    let snapshot = h.snapshot(1)?;
    let share = restored_state(
        "Async",
        std::slice::from_ref(&snapshot),
        0,
        1,
        MAX_PARALLELISM,
    );
    let in_flight: Vec<strom_types::Record<i64>> =
        share.list(AsyncOperator::<i64, i64, ()>::STATE_NAME)?;
    assert_eq!(
        in_flight
            .iter()
            .map(|r| (r.value, r.timestamp))
            .collect::<Vec<_>>(),
        (1..=6).map(|x| (x, x)).collect::<Vec<_>>()
    );
    drop(h);

    let gate = Gated::new(true);
    let mut h = OperatorHarness::new(AsyncOperator::new(gate.function(), async_config(true))?)
        .with_restored_state([snapshot]);
    h.process(7, 7)?;
    h.finish()?;
    let out = h.take_output_records();
    assert_eq!(
        out.iter()
            .map(|r| (r.value, r.timestamp))
            .collect::<Vec<_>>(),
        (1..=7).map(|x| (x * 10, x)).collect::<Vec<_>>(),
        "every element once, in input order, with its timestamp"
    );
    Ok(())
}

#[test]
fn async_unordered_restore_emits_each_in_flight_result_once() -> Result<()> {
    let gate = Gated::new(false);
    let mut h = OperatorHarness::new(AsyncOperator::new(gate.function(), async_config(false))?);
    for x in 1..=6 {
        h.process(x, x)?;
    }
    wait_for(&mut h, 3)?;
    let mut emitted = h.take_output();
    emitted.sort();
    assert_eq!(emitted, vec![20, 40, 60], "even inputs are not held");
    let snapshot = h.snapshot(1)?;
    drop(h);

    let gate = Gated::new(true);
    let mut h = OperatorHarness::new(AsyncOperator::new(gate.function(), async_config(false))?)
        .with_restored_state([snapshot]);
    // No new element: the restored ones are submitted at the first callback.
    h.advance_processing_time(Duration::ZERO)?;
    h.end_input()?;
    let mut out = h.take_output();
    out.sort();
    assert_eq!(out, vec![10, 30, 50]);
    Ok(())
}

#[test]
fn async_in_flight_elements_are_split_on_rescale() -> Result<()> {
    let mut snapshots = Vec::new();
    for i in 0..2 {
        let gate = Gated::new(false);
        let mut h = OperatorHarness::new(AsyncOperator::new(gate.function(), async_config(true))?)
            .with_subtask(i, 2);
        for x in 0..3 {
            h.process(2 * (3 * i as i64 + x) + 1, 0)?; // odd: held
        }
        snapshots.push(h.snapshot(1)?);
    }
    let mut all = BTreeMap::new();
    for i in 0..3 {
        let gate = Gated::new(true);
        let mut h = OperatorHarness::new(AsyncOperator::new(gate.function(), async_config(true))?)
            .with_subtask(i, 3)
            .with_restored_state(snapshots.clone());
        h.finish()?;
        let out = h.take_output();
        assert_eq!(out.len(), 2, "an even split of six elements");
        all.insert(i, out);
    }
    assert_eq!(
        all.into_values().flatten().collect::<Vec<_>>(),
        vec![10, 30, 50, 70, 90, 110]
    );
    Ok(())
}

#[test]
fn a_restored_harness_resumes_at_the_lowest_checkpointed_watermark() -> Result<()> {
    let mut snapshots = Vec::new();
    for (i, wm) in [(0, 700), (1, 500)] {
        let mut h = rolling_sum().with_subtask(i, 2);
        h.process(("a".to_string(), 1), 0)?;
        h.advance_watermark(wm)?;
        snapshots.push(h.snapshot(1)?);
    }
    for (i, expected) in [(0, 700), (1, 500)] {
        let mut h = rolling_sum()
            .with_subtask(i, 2)
            .with_restored_state(snapshots.clone());
        h.open()?;
        assert_eq!(h.watermark(), expected, "in place at the same parallelism");
    }
    let mut h = rolling_sum().with_restored_state(snapshots);
    h.open()?;
    assert_eq!(h.watermark(), 500, "the lowest after rescaling");
    // A harness that never saw a watermark writes none.
    assert!(rolling_sum().snapshot(2)?.is_empty());
    Ok(())
}

// ---- errors ------------------------------------------------------------------------------

#[test]
fn snapshot_after_end_of_input_is_an_error() -> Result<()> {
    let mut h = rolling_sum();
    h.finish()?;
    let err = h.snapshot(1).unwrap_err();
    assert!(matches!(err, StromError::Operator { .. }), "{err}");
    assert!(
        err.to_string().contains("a snapshot after end_input()"),
        "{err}"
    );
    Ok(())
}

#[test]
fn restoring_keyed_state_of_another_type_fails_naming_the_operator_and_state() -> Result<()> {
    let mut h = rolling_sum();
    h.process(("a".to_string(), 1), 0)?;
    let snapshot = h.snapshot(1)?;
    // The same state read as another type.
    type Other = KeyedReduce<
        (String, String),
        String,
        fn(&(String, String)) -> String,
        fn((String, String), (String, String)) -> (String, String),
    >;
    let op: Other = KeyedReduce::new(
        (|e: &(String, String)| e.0.clone()) as fn(&(String, String)) -> String,
        (|a: (String, String), _| a) as fn((String, String), (String, String)) -> (String, String),
    );
    let mut h = OperatorHarness::new(op)
        .with_operator_name("Sum")
        .with_restored_state([snapshot]);
    let err = h.open().unwrap_err().to_string();
    assert!(
        err.starts_with("operator 'Sum' (subtask 0) failed")
            && err.contains("state '_op_state' of operator 'Sum'"),
        "{err}"
    );
    Ok(())
}
