//! Windows with exact expected outputs computed by hand from Flink's documented semantics:
//! assigners (tumbling with offset, sliding, sessions with static and dynamic gaps, global,
//! processing time), triggers (count, purging, continuous, user-defined), evictors
//! (count, time, user-defined; before and after evaluation), allowed lateness with late
//! side output, every window function, per-window and per-key state, count windows,
//! `window_all`; and the user guide's snippets.
//!
//! Unless said otherwise the input is one collection with per-record watermarks
//! (`max - bound - 1`, emission interval zero), so each record is judged against the
//! watermark left by the records before it, and the end of input fires what is left.

#![allow(clippy::unwrap_used)]

mod common;

use common::{execute_within, sorted};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use strom::Record;
use strom::core::{
    Boundedness, ManualClock, ReadStatus, Source, SourceContext, SourceOutput, SourceReader,
};
use strom::prelude::*;
use strom::window::{
    ContinuousEventTimeTrigger, CountEvictor, CountTrigger, Evictor, GlobalWindow, NoEvictor,
    ProcessingTimeSessionWindows, ProcessingTimeTrigger, PurgingTrigger, TimeEvictor, TimeWindow,
    Trigger, TriggerContext, TriggerResult, TumblingProcessingTimeWindows, Window, WindowOperator,
    WindowSettings,
};

const LIMIT: Duration = Duration::from_secs(60);

/// (key, event time ms, value)
type Ev = (char, i64, i64);

fn env(p: usize) -> StreamEnv {
    StreamEnv::new().with_parallelism(p)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// `items` with event time from field 1 and a watermark of `max - bound - 1` after every
/// record (one subtask, so that the input order is the order the generator sees).
fn events(env: &StreamEnv, items: Vec<Ev>, bound_ms: u64) -> DataStream<Ev> {
    env.from_collection(items)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(ms(bound_ms))
                .with_timestamp_assigner(|e: &Ev, _| e.1)
                .with_emission_interval(Duration::ZERO),
        )
        .set_parallelism(1)
}

/// Key `key` with values = timestamps.
fn at(key: char, timestamps: &[i64]) -> Vec<Ev> {
    timestamps.iter().map(|&t| (key, t, t)).collect()
}

/// Results as sorted (value, timestamp) pairs.
fn records<T: Ord>(h: &strom::connectors::collect::CollectHandle<T>) -> Vec<(T, i64)> {
    sorted(
        h.take_records()
            .into_iter()
            .map(|r| (r.value, r.timestamp))
            .collect(),
    )
}

/// Results in arrival order (for one key at parallelism 1, the firing order).
fn in_order<T>(h: &strom::connectors::collect::CollectHandle<T>) -> Vec<T> {
    h.take()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `"k [start,end) [values]"`, values sorted.
fn list(
    key: &char,
    ctx: &mut WindowContext<'_, TimeWindow>,
    elements: WindowElements<'_, Ev>,
    out: &mut Collector<'_, String>,
) -> Result<(), BoxError> {
    let values = sorted(elements.map(|e| e.2).collect::<Vec<_>>());
    let w = ctx.window();
    out.collect(format!("{key} [{},{}) {values:?}", w.start, w.end));
    Ok(())
}

/// `"k [values]"`, values in the order the window holds them (any window type).
fn values<W: Window>(
    key: &char,
    _: &mut WindowContext<'_, W>,
    elements: WindowElements<'_, Ev>,
    out: &mut Collector<'_, String>,
) -> Result<(), BoxError> {
    let values: Vec<i64> = elements.map(|e| e.2).collect();
    out.collect(format!("{key} {values:?}"));
    Ok(())
}

fn sum(a: Ev, b: Ev) -> Ev {
    (a.0, a.1.max(b.1), a.2 + b.2)
}

/// Count and sum of the values.
#[derive(Clone, Copy, Debug)]
struct CountSum;

impl AggregateFunction<Ev> for CountSum {
    type Acc = (u32, i64);
    type Out = (u32, i64);
    fn create_accumulator(&self) -> (u32, i64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (u32, i64), e: &Ev) {
        acc.0 += 1;
        acc.1 += e.2;
    }
    fn get_result(&self, acc: &(u32, i64)) -> (u32, i64) {
        *acc
    }
    fn merge(&self, a: (u32, i64), b: (u32, i64)) -> (u32, i64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

// ---------------------------------------------------------------------------------------
// Assigners
// ---------------------------------------------------------------------------------------

#[test]
fn tumbling_windows_with_offset() {
    // Windows of 10 ms aligned to 3 ms: [-7, 3), [3, 13), [13, 23), [23, 33).
    let mut input = at('a', &[1, 3, 12, 13, 22, 25]);
    input.extend(at('b', &[26, 32, 33]));
    for p in [1, 2] {
        let env = env(p);
        let out = events(&env, input.clone(), 0)
            .key_by(|e: &Ev| e.0)
            .window(TumblingEventTimeWindows::of(ms(10)).with_offset(ms(3)))
            .process(list)
            .collect();
        execute_within(&env, "tumbling offset", LIMIT).unwrap();
        assert_eq!(
            records(&out),
            vec![
                ("a [-7,3) [1]".into(), 2),
                ("a [13,23) [13, 22]".into(), 22),
                ("a [23,33) [25]".into(), 32),
                ("a [3,13) [3, 12]".into(), 12),
                ("b [23,33) [26, 32]".into(), 32),
                ("b [33,43) [33]".into(), 42),
            ],
            "p {p}"
        );
    }
}

#[test]
fn sliding_windows_whose_size_is_not_a_multiple_of_the_slide() {
    // Size 10, slide 4: a record at t is in the windows starting at the multiples of 4 in
    // (t - 10, t]: 0 -> [-8,2) [-4,6) [0,10); 5 -> [-4,6) [0,10) [4,14);
    // 9 -> [0,10) [4,14) [8,18); 11 -> [4,14) [8,18).
    let input = at('a', &[0, 5, 9, 11]);
    let env = env(1);
    let sliding = SlidingEventTimeWindows::of(ms(10), ms(4));
    let stream = events(&env, input, 0);
    let listed = stream
        .clone()
        .key_by(|e: &Ev| e.0)
        .window(sliding)
        .process(list)
        .collect();
    let summed = stream
        .key_by(|e: &Ev| e.0)
        .window(sliding)
        .aggregate(CountSum)
        .collect();
    execute_within(&env, "sliding", LIMIT).unwrap();
    assert_eq!(
        records(&listed),
        vec![
            ("a [-4,6) [0, 5]".into(), 5),
            ("a [-8,2) [0]".into(), 1),
            ("a [0,10) [0, 5, 9]".into(), 9),
            ("a [4,14) [5, 9, 11]".into(), 13),
            ("a [8,18) [9, 11]".into(), 17),
        ]
    );
    assert_eq!(
        records(&summed),
        vec![
            ((1, 0), 1),
            ((2, 5), 5),
            ((2, 20), 17),
            ((3, 14), 9),
            ((3, 25), 13)
        ]
    );
}

#[test]
fn a_process_function_sees_the_elements_of_a_window_in_arrival_order() {
    // Out of order within the bound, so none is late; values = arrival numbers. Flink's
    // window list state hands them over in the order they were added, whatever their
    // timestamps: for sliding windows (elements stored once, shared) as for tumbling ones.
    let input: Vec<Ev> = [7, 2, 9, 0, 5, 3, 8, 1]
        .iter()
        .enumerate()
        .map(|(i, &t)| ('a', t, i as i64))
        .collect();
    let env = env(1);
    let stream = events(&env, input, 100);
    let sliding = stream
        .clone()
        .key_by(|e: &Ev| e.0)
        .window(SlidingEventTimeWindows::of(ms(6), ms(3)))
        .process(values::<TimeWindow>)
        .collect();
    let tumbling = stream
        .key_by(|e: &Ev| e.0)
        .window(TumblingEventTimeWindows::of(ms(6)))
        .process(values::<TimeWindow>)
        .collect();
    execute_within(&env, "arrival order", LIMIT).unwrap();
    // Timestamps by arrival (value): 7 (0), 2 (1), 9 (2), 0 (3), 5 (4), 3 (5), 8 (6), 1 (7).
    // In timestamp order [0,6) would be [3, 7, 1, 5, 4].
    assert_eq!(
        records(&sliding),
        vec![
            ("a [0, 2, 6]".into(), 11),      // [6,12): 7, 9, 8
            ("a [0, 4, 5, 6]".into(), 8),    // [3,9): 7, 5, 3, 8
            ("a [1, 3, 4, 5, 7]".into(), 5), // [0,6): 2, 0, 5, 3, 1
            ("a [1, 3, 7]".into(), 2),       // [-3,3): 2, 0, 1
            ("a [2]".into(), 14),            // [9,15): 9
        ]
    );
    assert_eq!(
        records(&tumbling),
        vec![("a [0, 2, 6]".into(), 11), ("a [1, 3, 4, 5, 7]".into(), 5)]
    );
}

#[test]
fn sessions_merge_when_windows_touch() {
    // Gap 10: each record opens [t, t + 10); windows that overlap or touch merge.
    // a: 0, 10, 20 touch one after the other -> one session [0, 30).
    // b: 0, 10 touch -> [0, 20); 21 is one ms too far -> its own session [21, 31).
    let mut input = at('a', &[0, 10, 20]);
    input.extend(at('b', &[0, 10, 21]));
    // A large bound: nothing fires before the end of input.
    for p in [1, 2] {
        let env = env(p);
        let stream = events(&env, input.clone(), 1_000);
        let keyed = || stream.clone().key_by(|e: &Ev| e.0);
        let session = EventTimeSessionWindows::with_gap(ms(10));
        let listed = keyed().window(session.clone()).process(list).collect();
        let counted = keyed().window(session).aggregate(CountSum).collect();
        execute_within(&env, "sessions", LIMIT).unwrap();
        assert_eq!(
            records(&listed),
            vec![
                ("a [0,30) [0, 10, 20]".into(), 29),
                ("b [0,20) [0, 10]".into(), 19),
                ("b [21,31) [21]".into(), 30),
            ],
            "p {p}"
        );
        assert_eq!(
            records(&counted),
            vec![((1, 21), 30), ((2, 10), 19), ((3, 30), 29)],
            "p {p}"
        );
    }
}

#[test]
fn sessions_with_a_dynamic_gap() {
    // The gap is the record's value: (0, gap 5) -> [0, 5); (5, gap 3) -> [5, 8) touches ->
    // [0, 8); (9, gap 2) -> [9, 11) starts one ms after 8: new session; (11, gap 1) ->
    // [11, 12) touches [9, 11) -> [9, 12).
    let input: Vec<Ev> = vec![('c', 0, 5), ('c', 5, 3), ('c', 9, 2), ('c', 11, 1)];
    let env = env(1);
    let out = events(&env, input, 1_000)
        .key_by(|e: &Ev| e.0)
        .window(EventTimeSessionWindows::with_dynamic_gap(|e: &Ev| {
            ms(e.2 as u64)
        }))
        .process(list)
        .collect();
    execute_within(&env, "dynamic sessions", LIMIT).unwrap();
    assert_eq!(
        records(&out),
        vec![("c [0,8) [3, 5]".into(), 7), ("c [9,12) [1, 2]".into(), 11)]
    );
}

#[test]
fn late_records_merge_into_sessions_within_the_allowed_lateness() {
    // Gap 10, lateness 20, watermark max - 1.
    // 0 -> [0,10); 25 -> [25,35), watermark 24 fires [0,10) with {0}.
    // 5 (late, window [0,10) lives until 29) -> [5,15) merges: [0,15), already complete:
    //   fires at once with {0, 5}.
    // 12 -> [12,22) touches [0,15): [0,22), fires at once with {0, 5, 12}.
    // 16 -> [16,26) bridges [0,22) and [25,35): [0,35), complete only at 34: fires at the
    //   end of input with everything.
    let input = at('a', &[0, 25, 5, 12, 16]);
    let env = env(1);
    let out = events(&env, input, 0)
        .key_by(|e: &Ev| e.0)
        .window(EventTimeSessionWindows::with_gap(ms(10)))
        .allowed_lateness(ms(20))
        .process(list)
        .collect();
    execute_within(&env, "late sessions", LIMIT).unwrap();
    assert_eq!(
        in_order(&out),
        strings(&[
            "a [0,10) [0]",
            "a [0,15) [0, 5]",
            "a [0,22) [0, 5, 12]",
            "a [0,35) [0, 5, 12, 16, 25]",
        ])
    );
}

/// A user-defined trigger with its own state: fire (and purge) when a value exceeds the
/// threshold or when `every` elements arrived since the last firing.
#[derive(Clone, Copy, Debug)]
struct SpikeTrigger {
    threshold: i64,
    every: u32,
}

impl<W: Window> Trigger<Ev, W> for SpikeTrigger {
    /// Elements since the last firing.
    type State = u32;

    fn on_element(
        &mut self,
        e: &Ev,
        _: i64,
        _: &W,
        seen: &mut u32,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        *seen += 1;
        if e.2 > self.threshold || *seen >= self.every {
            *seen = 0;
            TriggerResult::FireAndPurge
        } else {
            TriggerResult::Continue
        }
    }
    fn on_event_time(
        &mut self,
        _: i64,
        _: &W,
        _: &mut u32,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
    fn on_processing_time(
        &mut self,
        _: i64,
        _: &W,
        _: &mut u32,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }
}

#[test]
fn global_windows_with_a_user_defined_trigger() {
    // No timestamps needed: global windows are not in event time.
    let vals = [1, 2, 50, 3, 4, 5, 6, 60, 7];
    let mut input: Vec<Ev> = vals.iter().map(|&v| ('a', 0, v)).collect();
    input.push(('b', 0, 1));
    for p in [1, 2] {
        let env = env(p);
        let out = env
            .from_collection(input.clone())
            .key_by(|e: &Ev| e.0)
            .window(GlobalWindows::create())
            .trigger(SpikeTrigger {
                threshold: 10,
                every: 3,
            })
            .process(values::<GlobalWindow>)
            .collect();
        execute_within(&env, "global custom trigger", LIMIT).unwrap();
        // 7 and b's 1 never fire: a global window has no end.
        assert_eq!(
            records(&out),
            vec![
                ("a [1, 2, 50]".into(), i64::MAX),
                ("a [3, 4, 5]".into(), i64::MAX),
                ("a [6, 60]".into(), i64::MAX),
            ],
            "p {p}"
        );
    }
}

#[test]
fn global_windows_never_fire_by_default() {
    let env = env(1);
    let out = events(&env, at('a', &[1, 2, 3]), 0)
        .key_by(|e: &Ev| e.0)
        .window(GlobalWindows::create())
        .process(values::<GlobalWindow>)
        .collect();
    execute_within(&env, "global default", LIMIT).unwrap();
    assert!(out.take().is_empty());
}

// ---------------------------------------------------------------------------------------
// Count windows
// ---------------------------------------------------------------------------------------

#[test]
fn count_windows_tumbling_and_sliding() {
    let mut input: Vec<Ev> = (1..=8).map(|v| ('a', 0, v)).collect();
    input.extend([('b', 0, 10), ('b', 0, 20)]);
    for p in [1, 2] {
        let env = env(p);
        let stream = env.from_collection(input.clone());
        let keyed = || stream.clone().key_by(|e: &Ev| e.0);
        // Every 3 elements of a key: fire and purge. a: {1,2,3} {4,5,6}; 7, 8 and b's two
        // elements never complete a window.
        let tumbling = keyed().count_window(3).reduce(sum).collect();
        let tumbling_lists = keyed()
            .count_window(3)
            .process(values::<GlobalWindow>)
            .collect();
        // countWindow(3, 2): every 2 elements, the last 3: {1,2} {2,3,4} {4,5,6} {6,7,8};
        // b fires once with {10, 20}.
        let sliding = keyed()
            .count_window_sliding(3, 2)
            .process(values::<GlobalWindow>)
            .collect();
        let sliding_sums = keyed().count_window_sliding(3, 2).reduce(sum).collect();
        execute_within(&env, "count windows", LIMIT).unwrap();
        let pairs = |h: &strom::connectors::collect::CollectHandle<Ev>| {
            sorted(h.take().into_iter().map(|e| (e.0, e.2)).collect::<Vec<_>>())
        };
        assert_eq!(pairs(&tumbling), vec![('a', 6), ('a', 15)], "p {p}");
        assert_eq!(
            records(&tumbling_lists),
            vec![
                ("a [1, 2, 3]".into(), i64::MAX),
                ("a [4, 5, 6]".into(), i64::MAX)
            ],
            "p {p}"
        );
        let mut got = sliding.take();
        let b = got.iter().position(|s| s.starts_with('b')).unwrap();
        assert_eq!(got.remove(b), "b [10, 20]");
        assert_eq!(
            got,
            strings(&["a [1, 2]", "a [2, 3, 4]", "a [4, 5, 6]", "a [6, 7, 8]"]),
            "p {p}: firings of one key come in order"
        );
        assert_eq!(
            pairs(&sliding_sums),
            vec![('a', 3), ('a', 9), ('a', 15), ('a', 21), ('b', 30)],
            "p {p}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Triggers
// ---------------------------------------------------------------------------------------

#[test]
fn count_trigger_fires_without_purging_and_never_at_the_window_end() {
    // Window [0, 100) with CountTrigger(2): fires with all contents after the 2nd and 4th
    // element; the 5th stays unfired (the count trigger ignores time; the window is then
    // cleaned up at its end).
    let env = env(1);
    let stream = events(&env, at('a', &[1, 2, 3, 4, 5]), 0);
    let tumble = TumblingEventTimeWindows::of(ms(100));
    let kept = stream
        .clone()
        .key_by(|e: &Ev| e.0)
        .window(tumble)
        .trigger(CountTrigger::of(2))
        .process(list)
        .collect();
    let purged = stream
        .key_by(|e: &Ev| e.0)
        .window(tumble)
        .trigger(PurgingTrigger::of(CountTrigger::of(2)))
        .process(list)
        .collect();
    execute_within(&env, "count trigger", LIMIT).unwrap();
    assert_eq!(
        in_order(&kept),
        strings(&["a [0,100) [1, 2]", "a [0,100) [1, 2, 3, 4]"])
    );
    assert_eq!(
        in_order(&purged),
        strings(&["a [0,100) [1, 2]", "a [0,100) [3, 4]"])
    );
}

#[test]
fn continuous_event_time_trigger_fires_every_interval_and_at_the_end() {
    // Window [0, 30), interval 10. The first element (1) schedules a firing at 10, each
    // firing the next one (20, then min(30, 29) = 29), and the window end fires at 29.
    // Watermarks (max - 1): 0, 4, 11 (fires at 10), 24 (fires at 20), 27, then the end.
    let input = at('a', &[1, 5, 12, 25, 28]);
    let env = env(1);
    let stream = events(&env, input, 0);
    let keyed = || stream.clone().key_by(|e: &Ev| e.0);
    let tumble = TumblingEventTimeWindows::of(ms(30));
    let every = ContinuousEventTimeTrigger::of(ms(10));
    let full = keyed()
        .window(tumble)
        .trigger(every)
        .process(list)
        .collect();
    // Purging after each firing: each result holds only what arrived since the last one.
    let deltas = keyed()
        .window(tumble)
        .trigger(PurgingTrigger::of(every))
        .process(list)
        .collect();
    let sums = keyed()
        .window(tumble)
        .trigger(every)
        .aggregate(CountSum)
        .collect();
    execute_within(&env, "continuous trigger", LIMIT).unwrap();
    assert_eq!(
        in_order(&full),
        strings(&[
            "a [0,30) [1, 5, 12]",
            "a [0,30) [1, 5, 12, 25]",
            "a [0,30) [1, 5, 12, 25, 28]",
        ])
    );
    assert_eq!(
        in_order(&deltas),
        strings(&["a [0,30) [1, 5, 12]", "a [0,30) [25]", "a [0,30) [28]"])
    );
    assert_eq!(in_order(&sums), vec![(3, 18), (4, 43), (5, 71)]);
}

#[test]
fn continuous_event_time_trigger_aligns_its_first_firing_as_flink_does() {
    // Flink computes the first firing as `t - (t % interval) + interval` with Java's `%`,
    // which truncates towards zero: for t = -15 and interval 10 that is -10 + 10 = 0,
    // capped at the window's max timestamp -1. So window [-30, 0) fires once, at its end.
    // (29 schedules its first firing at min(20 + 10, 29): its window fires once too.)
    let input = vec![('n', -15, -15), ('n', -12, -12), ('n', 29, 29)];
    let env = env(1);
    let out = events(&env, input, 0)
        .key_by(|e: &Ev| e.0)
        .window(TumblingEventTimeWindows::of(ms(30)))
        .trigger(ContinuousEventTimeTrigger::of(ms(10)))
        .process(list)
        .collect();
    execute_within(&env, "continuous negative", LIMIT).unwrap();
    assert_eq!(
        records(&out),
        vec![
            ("n [-30,0) [-15, -12]".into(), -1),
            ("n [0,30) [29]".into(), 29),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Evictors
// ---------------------------------------------------------------------------------------

/// A user-defined evictor: after each evaluation, drop the odd values.
#[derive(Clone, Copy, Debug)]
struct DropOddAfterwards;

impl<W: Window> Evictor<Ev, W> for DropOddAfterwards {
    fn evict_before(&mut self, _: &mut Vec<Record<Ev>>, _: &W) {}
    fn evict_after(&mut self, elements: &mut Vec<Record<Ev>>, _: &W) {
        elements.retain(|r| r.value.2 % 2 == 0);
    }
}

#[test]
fn count_evictor_before_and_after_evaluation_across_firings() {
    let input: Vec<Ev> = (1..=9).map(|v| ('a', 0, v)).collect();
    let env = env(1);
    let global = || {
        env.from_collection(input.clone())
            .key_by(|e: &Ev| e.0)
            .window(GlobalWindows::create())
            .trigger(CountTrigger::of(3))
    };
    // Before: each firing sees the last 2 elements; the rest is gone for good.
    let before = global()
        .evictor(CountEvictor::of(2))
        .process(values::<GlobalWindow>)
        .collect();
    // After: each firing sees everything left over plus the new elements, then only the
    // last 2 are kept.
    let after = global()
        .evictor(CountEvictor::of(2).evict_after_evaluation())
        .process(values::<GlobalWindow>)
        .collect();
    let user = global()
        .evictor(DropOddAfterwards)
        .process(values::<GlobalWindow>)
        .collect();
    // Reduce over evicted contents: the evictor runs first, then the values are combined.
    let reduced = global().evictor(CountEvictor::of(2)).reduce(sum).collect();
    execute_within(&env, "count evictor", LIMIT).unwrap();
    assert_eq!(
        in_order(&before),
        strings(&["a [2, 3]", "a [5, 6]", "a [8, 9]"])
    );
    assert_eq!(
        in_order(&after),
        strings(&["a [1, 2, 3]", "a [2, 3, 4, 5, 6]", "a [5, 6, 7, 8, 9]"])
    );
    assert_eq!(
        in_order(&user),
        strings(&["a [1, 2, 3]", "a [2, 4, 5, 6]", "a [2, 4, 6, 7, 8, 9]"])
    );
    let reduced: Vec<i64> = reduced.take().into_iter().map(|e| e.2).collect();
    assert_eq!(reduced, vec![5, 11, 17]);
}

#[test]
fn time_evictor_keeps_what_is_within_size_of_the_newest_element() {
    // Window [0, 100), fired by CountTrigger(3). TimeEvictor(10) removes elements with
    // timestamp <= newest - 10.
    // Firing 1 over {5, 40, 50}: cutoff 40 -> {50}.
    // Firing 2 over {50, 55, 58, 61}: cutoff 51 -> {55, 58, 61}.
    let input = at('a', &[5, 40, 50, 55, 58, 61]);
    let env = env(1);
    let window = || {
        events(&env, input.clone(), 0)
            .key_by(|e: &Ev| e.0)
            .window(TumblingEventTimeWindows::of(ms(100)))
            .trigger(CountTrigger::of(3))
    };
    let before = window()
        .evictor(TimeEvictor::of(ms(10)))
        .process(values::<TimeWindow>)
        .collect();
    let after = window()
        .evictor(TimeEvictor::of(ms(10)).evict_after_evaluation())
        .process(values::<TimeWindow>)
        .collect();
    execute_within(&env, "time evictor", LIMIT).unwrap();
    assert_eq!(in_order(&before), strings(&["a [50]", "a [55, 58, 61]"]));
    assert_eq!(
        in_order(&after),
        strings(&["a [5, 40, 50]", "a [50, 55, 58, 61]"])
    );
}

// ---------------------------------------------------------------------------------------
// Allowed lateness, late side output, window state
// ---------------------------------------------------------------------------------------

/// Lists the window's values with its firing count (per-window state) and the key's total
/// number of firings (per-key state).
fn list_with_state(
    key: &char,
    ctx: &mut WindowContext<'_, TimeWindow>,
    elements: WindowElements<'_, Ev>,
    out: &mut Collector<'_, String>,
) -> Result<(), BoxError> {
    let values: Vec<i64> = elements.map(|e| e.2).collect();
    let w = *ctx.window();
    let firing = {
        let n = ctx.window_state::<u32>()?;
        *n += 1;
        *n
    };
    let total = {
        let n = ctx.global_state::<u32>()?;
        *n += 1;
        *n
    };
    out.collect(format!(
        "{key} [{},{}) #{firing} of {total} {values:?}",
        w.start, w.end
    ));
    Ok(())
}

#[test]
fn allowed_lateness_fires_again_with_the_updated_contents() {
    // Tumbling 10, lateness 5, watermark max - 1.
    // 1, 4, 12: watermark 11 fires [0,10) with {1, 4}.
    // 7: late but within the lateness ([0,10) lives until 9 + 5 = 14): fires again at once
    //   with {1, 4, 7}.
    // 15: watermark 14 removes [0,10).
    // 3: [0,10) is gone and 3 + 5 <= 14: to the late side output.
    // End: [10,20) fires with {12, 15}.
    let input = at('a', &[1, 4, 12, 7, 15, 3]);
    for p in [1, 2] {
        let env = env(p);
        let late = OutputTag::<Ev>::new("late");
        let windowed = || {
            events(&env, input.clone(), 0)
                .key_by(|e: &Ev| e.0)
                .window(TumblingEventTimeWindows::of(ms(10)))
                .allowed_lateness(ms(5))
                .side_output_late_data(&late)
        };
        let processed = windowed().process(list_with_state);
        let late_records = processed.side_output(&late).collect();
        let processed = processed.collect();
        let aggregated = windowed().aggregate(CountSum).collect();
        let reduced = windowed()
            .reduce_with_process(
                sum,
                |k: &char,
                 ctx: &mut WindowContext<'_, TimeWindow>,
                 v: WindowElements<'_, Ev>,
                 out: &mut Collector<'_, String>| {
                    let firings = {
                        let n = ctx.window_state::<u32>()?;
                        *n += 1;
                        *n
                    };
                    for e in v {
                        out.collect(format!(
                            "{k} {} sum {} firing {firings}",
                            ctx.window().start,
                            e.2
                        ));
                    }
                    Ok(())
                },
            )
            .collect();
        execute_within(&env, "allowed lateness", LIMIT).unwrap();
        assert_eq!(
            in_order(&processed),
            strings(&[
                "a [0,10) #1 of 1 [1, 4]",
                "a [0,10) #2 of 2 [1, 4, 7]",
                "a [10,20) #1 of 3 [12, 15]",
            ]),
            "p {p}"
        );
        assert_eq!(
            records(&late_records),
            vec![(('a', 3, 3), 3)],
            "p {p}: late records keep their timestamp"
        );
        assert_eq!(
            records(&aggregated),
            vec![((2, 5), 9), ((2, 27), 19), ((3, 12), 9)],
            "p {p}"
        );
        assert_eq!(
            in_order(&reduced),
            strings(&[
                "a 0 sum 5 firing 1",
                "a 0 sum 12 firing 2",
                "a 10 sum 27 firing 1"
            ]),
            "p {p}"
        );
    }
}

#[test]
fn sliding_windows_with_allowed_lateness_fire_again_with_all_their_elements() {
    // Sliding 10 / 5, lateness 5, watermark max - 1.
    // 1, 6, 11: watermark 10 fires [-5,5) {1} and [0,10) {1, 6}; [-5,5) is removed (4 + 5).
    // 3: late for the removed [-5,5), allowed for [0,10): fires it again with {1, 3, 6}.
    // 16: watermark 15 fires [5,15) {6, 11} and removes [0,10) (9 + 5).
    // 2: every window of 2 is gone: late output.
    // End: [10,20) {11, 16}, [15,25) {16}.
    let input = at('a', &[1, 6, 11, 3, 16, 2]);
    let env = env(1);
    let late = OutputTag::<Ev>::new("late");
    let windowed = || {
        events(&env, input.clone(), 0)
            .key_by(|e: &Ev| e.0)
            .window(SlidingEventTimeWindows::of(ms(10), ms(5)))
            .allowed_lateness(ms(5))
            .side_output_late_data(&late)
    };
    let listed = windowed().process(list);
    let late_records = listed.side_output(&late).collect();
    let listed = listed.collect();
    let summed = windowed().aggregate(CountSum).collect();
    execute_within(&env, "sliding lateness", LIMIT).unwrap();
    assert_eq!(
        in_order(&listed),
        strings(&[
            "a [-5,5) [1]",
            "a [0,10) [1, 6]",
            "a [0,10) [1, 3, 6]",
            "a [5,15) [6, 11]",
            "a [10,20) [11, 16]",
            "a [15,25) [16]",
        ])
    );
    assert_eq!(
        in_order(&summed),
        vec![(1, 1), (2, 7), (3, 10), (2, 17), (2, 27), (1, 16)]
    );
    assert_eq!(late_records.take(), vec![('a', 2, 2)]);
}

/// A process window function as a type: emits the number of elements, and reports each
/// firing and each removal of a window (`clear`) to a side output.
#[derive(Clone)]
struct CountAndReport {
    report: OutputTag<String>,
}

impl ProcessWindowFunction<char, Ev, usize, TimeWindow> for CountAndReport {
    fn process(
        &mut self,
        key: &char,
        ctx: &mut WindowContext<'_, TimeWindow>,
        elements: WindowElements<'_, Ev>,
        out: &mut Collector<'_, usize>,
    ) -> Result<(), BoxError> {
        let n = elements.count();
        let w = *ctx.window();
        ctx.output(
            &self.report,
            format!("{key} fired [{},{}) with {n}", w.start, w.end),
        );
        out.collect(n);
        Ok(())
    }

    fn clear(
        &mut self,
        key: &char,
        ctx: &mut WindowContext<'_, TimeWindow>,
    ) -> Result<(), BoxError> {
        let w = *ctx.window();
        let wm = ctx.current_watermark();
        ctx.output(
            &self.report,
            format!("{key} cleared [{},{}) at {wm}", w.start, w.end),
        );
        Ok(())
    }
}

#[test]
fn a_process_window_function_type_is_cleared_at_the_cleanup_time() {
    // Tumbling 10, lateness 5, watermark max - 1: [0,10) fires at watermark 11 and again
    // for 7, and is removed at watermark 15 (cleanup time 9 + 5); [10,20) fires and is
    // removed at the end of input.
    let env = env(1);
    let report = OutputTag::<String>::new("report");
    let counts = events(&env, at('a', &[1, 12, 7, 16]), 0)
        .key_by(|e: &Ev| e.0)
        .window(TumblingEventTimeWindows::of(ms(10)))
        .allowed_lateness(ms(5))
        .process(CountAndReport {
            report: report.clone(),
        });
    let reports = counts.side_output(&report).collect();
    let counts = counts.collect();
    execute_within(&env, "clear", LIMIT).unwrap();
    let counts: Vec<(usize, i64)> = counts
        .take_records()
        .into_iter()
        .map(|r| (r.value, r.timestamp))
        .collect();
    assert_eq!(counts, vec![(1, 9), (2, 9), (2, 19)]);
    let reports: Vec<(String, i64)> = reports
        .take_records()
        .into_iter()
        .map(|r| (r.value, r.timestamp))
        .collect();
    assert_eq!(
        reports,
        vec![
            ("a fired [0,10) with 1".into(), 9),
            ("a fired [0,10) with 2".into(), 9),
            ("a cleared [0,10) at 15".into(), 9),
            ("a fired [10,20) with 2".into(), 19),
            (format!("a cleared [10,20) at {}", i64::MAX), 19),
        ]
    );
}

#[test]
fn late_records_go_to_the_side_output_only_when_late_for_every_window() {
    // Sliding 10 / 5, no lateness, watermark max - 1.
    // 1, 2, 11 (watermark 10 fires [-5,5) {1,2} and [0,10) {1,2}); 7 is late for [0,10)
    // but not for [5,15): kept there, not sent aside; 4 is late for [-5,5) and [0,10):
    // sent aside. End: [5,15) {7, 11}, [10,20) {11}.
    let input = at('a', &[1, 2, 11, 7, 4]);
    let env = env(1);
    let late = OutputTag::<Ev>::new("late");
    let windowed = events(&env, input, 0)
        .key_by(|e: &Ev| e.0)
        .window(SlidingEventTimeWindows::of(ms(10), ms(5)))
        .side_output_late_data(&late)
        .process(list);
    let late_records = windowed.side_output(&late).collect();
    let out = windowed.collect();
    execute_within(&env, "late side output", LIMIT).unwrap();
    assert_eq!(
        records(&out),
        vec![
            ("a [-5,5) [1, 2]".into(), 4),
            ("a [0,10) [1, 2]".into(), 9),
            ("a [10,20) [11]".into(), 19),
            ("a [5,15) [7, 11]".into(), 14),
        ]
    );
    assert_eq!(late_records.take(), vec![('a', 4, 4)]);
}

// ---------------------------------------------------------------------------------------
// Window functions
// ---------------------------------------------------------------------------------------

/// Count and sum as text.
#[derive(Clone, Copy, Debug)]
struct Average;

impl AggregateFunction<Ev> for Average {
    type Acc = (u32, i64);
    type Out = f64;
    fn create_accumulator(&self) -> (u32, i64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (u32, i64), e: &Ev) {
        acc.0 += 1;
        acc.1 += e.2;
    }
    fn get_result(&self, acc: &(u32, i64)) -> f64 {
        acc.1 as f64 / f64::from(acc.0)
    }
    fn merge(&self, a: (u32, i64), b: (u32, i64)) -> (u32, i64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

#[test]
fn every_window_function() {
    let input: Vec<Ev> = vec![
        ('a', 1, 1),
        ('a', 2, 2),
        ('b', 3, 10),
        ('a', 11, 3),
        ('b', 12, 20),
        ('b', 13, 30),
    ];
    for p in [1, 2] {
        let env = env(p);
        let windowed = || {
            events(&env, input.clone(), 0)
                .key_by(|e: &Ev| e.0)
                .window(TumblingEventTimeWindows::of(ms(10)))
        };
        let reduced = windowed().reduce(sum).collect();
        let aggregated = windowed()
            .aggregate(Average)
            .map(|a| a.to_string())
            .collect();
        let processed = windowed().process(list).collect();
        let reduce_process = windowed()
            .reduce_with_process(
                sum,
                |k: &char,
                 ctx: &mut WindowContext<'_, TimeWindow>,
                 v: WindowElements<'_, Ev>,
                 out: &mut Collector<'_, String>| {
                    let v: Vec<Ev> = v.cloned().collect();
                    out.collect(format!("{k}@{} {:?}", ctx.window().start, v));
                    Ok(())
                },
            )
            .collect();
        let aggregate_process = windowed()
            .aggregate_with_process(
                Average,
                |k: &char,
                 ctx: &mut WindowContext<'_, TimeWindow>,
                 v: WindowElements<'_, f64>,
                 out: &mut Collector<'_, String>| {
                    let v: Vec<f64> = v.copied().collect();
                    out.collect(format!("{k}@{} {:?}", ctx.window().end, v));
                    Ok(())
                },
            )
            .collect();
        execute_within(&env, "window functions", LIMIT).unwrap();
        // Reduce keeps the first record's key, the largest timestamp field and the sum;
        // results carry the window's max timestamp.
        assert_eq!(
            records(&reduced),
            vec![
                (('a', 2, 3), 9),
                (('a', 11, 3), 19),
                (('b', 3, 10), 9),
                (('b', 13, 50), 19),
            ],
            "p {p}"
        );
        assert_eq!(
            records(&aggregated),
            vec![
                ("1.5".into(), 9),
                ("10".into(), 9),
                ("25".into(), 19),
                ("3".into(), 19),
            ],
            "p {p}"
        );
        assert_eq!(
            records(&processed),
            vec![
                ("a [0,10) [1, 2]".into(), 9),
                ("a [10,20) [3]".into(), 19),
                ("b [0,10) [10]".into(), 9),
                ("b [10,20) [20, 30]".into(), 19),
            ],
            "p {p}"
        );
        assert_eq!(
            records(&reduce_process),
            vec![
                ("a@0 [('a', 2, 3)]".into(), 9),
                ("a@10 [('a', 11, 3)]".into(), 19),
                ("b@0 [('b', 3, 10)]".into(), 9),
                ("b@10 [('b', 13, 50)]".into(), 19),
            ],
            "p {p}"
        );
        assert_eq!(
            records(&aggregate_process),
            vec![
                ("a@10 [1.5]".into(), 9),
                ("a@20 [3.0]".into(), 19),
                ("b@10 [10.0]".into(), 9),
                ("b@20 [25.0]".into(), 19),
            ],
            "p {p}"
        );
    }
}

#[test]
fn window_all_runs_at_parallelism_one_over_all_records() {
    let env = env(2);
    // Two source subtasks (indices by stride), each in time order.
    let stream = env
        .generate(Some(20), |i| ('x', i as i64, i as i64))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|e: &Ev, _| e.1)
                .with_emission_interval(Duration::ZERO),
        );
    let out = stream
        .window_all(TumblingEventTimeWindows::of(ms(10)))
        .process(
            |_: &(),
             ctx: &mut WindowContext<'_, TimeWindow>,
             v: WindowElements<'_, Ev>,
             out: &mut Collector<'_, (i64, usize, i64)>| {
                let v: Vec<i64> = v.map(|e| e.2).collect();
                out.collect((ctx.window().start, v.len(), v.iter().sum()));
                Ok(())
            },
        )
        .collect();
    let r = execute_within(&env, "window all", LIMIT).unwrap();
    assert_eq!(records(&out), vec![((0, 10, 45), 9), ((10, 10, 145), 19)]);
    assert_eq!(r.operator("Window(Process)").unwrap().parallelism, 1);
    assert_eq!(r.operator("Source: Generator").unwrap().parallelism, 2);
}

#[test]
fn count_window_all() {
    let env = env(2);
    let out = env
        .from_collection((1..=7).map(|v| ('x', 0, v)).collect::<Vec<Ev>>())
        .count_window_all(3)
        .process(
            |_: &(),
             _: &mut WindowContext<'_, GlobalWindow>,
             v: WindowElements<'_, Ev>,
             out: &mut Collector<'_, Vec<i64>>| {
                out.collect(v.map(|e| e.2).collect());
                Ok(())
            },
        )
        .collect();
    let r = execute_within(&env, "count window all", LIMIT).unwrap();
    // Both results carry the global window's max timestamp and may reach the two sink
    // subtasks in either order.
    let mut got = in_order(&out);
    got.sort();
    assert_eq!(got, vec![vec![1, 2, 3], vec![4, 5, 6]]);
    assert_eq!(r.operator("Window(Process)").unwrap().parallelism, 1);
}

#[test]
fn event_time_windows_fail_on_records_without_timestamps() {
    let env = env(1);
    env.from_collection(at('a', &[1, 2]))
        .key_by(|e: &Ev| e.0)
        .window(TumblingEventTimeWindows::of(ms(10)))
        .reduce(sum)
        .discard();
    let err = execute_within(&env, "no timestamps", LIMIT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("assign_timestamps_and_watermarks"), "{err}");
    assert!(err.contains("Window(Reduce)"), "names the operator: {err}");
}

// ---------------------------------------------------------------------------------------
// Processing time
// ---------------------------------------------------------------------------------------

/// Emits `(key, processing time)` items one at a time: it moves the manual clock to the
/// item's time, emits it, and waits until the window operator took it (seen through calls
/// of the key selector on another thread) before the next one. At the end it moves the
/// clock past every window and waits until `windows` firings happened.
struct ClockedSource {
    items: Vec<(char, i64)>,
    clock: ManualClock,
    taken: Arc<AtomicUsize>,
    fired: Arc<AtomicUsize>,
    windows: usize,
    source_thread: Arc<Mutex<Option<std::thread::ThreadId>>>,
}

struct ClockedReader {
    items: std::vec::IntoIter<(char, i64)>,
    clock: ManualClock,
    taken: Arc<AtomicUsize>,
    fired: Arc<AtomicUsize>,
    windows: usize,
    emitted: usize,
    finishing: bool,
}

impl Source<Ev> for ClockedSource {
    type Split = ();
    type Reader = ClockedReader;
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn splits(&self, _: usize) -> Result<Vec<()>, BoxError> {
        Ok(vec![()])
    }
    fn create_reader(&self, _: &SourceContext, _: Vec<()>) -> Result<ClockedReader, BoxError> {
        *self.source_thread.lock().unwrap() = Some(std::thread::current().id());
        Ok(ClockedReader {
            items: self.items.clone().into_iter(),
            clock: self.clock.clone(),
            taken: Arc::clone(&self.taken),
            fired: Arc::clone(&self.fired),
            windows: self.windows,
            emitted: 0,
            finishing: false,
        })
    }
}

impl SourceReader<Ev> for ClockedReader {
    type Split = ();
    fn poll_next(&mut self, out: &mut SourceOutput<'_, Ev>) -> Result<ReadStatus, BoxError> {
        let wait = ReadStatus::NothingAvailable(ms(1));
        if self.taken.load(Ordering::SeqCst) < self.emitted {
            return Ok(wait);
        }
        if self.finishing {
            return Ok(if self.fired.load(Ordering::SeqCst) >= self.windows {
                ReadStatus::Finished
            } else {
                wait
            });
        }
        match self.items.next() {
            Some((key, now)) => {
                self.clock.set(now);
                out.collect((key, now, now));
                self.emitted += 1;
            }
            None => {
                self.clock.set(1_000_000);
                self.finishing = true;
            }
        }
        Ok(wait)
    }
    fn snapshot_splits(&self) -> Vec<()> {
        Vec::new()
    }
}

#[test]
fn processing_time_tumbling_windows_with_a_manual_clock() {
    // Windows of 100 ms of processing time; each element's window is decided by the
    // clock when the operator takes it. No element sits exactly on a window's last
    // millisecond, so whether the timer fires just before or after it does not matter.
    let items = vec![
        ('a', 5),
        ('b', 20),
        ('a', 90),
        ('a', 100),
        ('a', 150),
        ('b', 250),
    ];
    let clock = ManualClock::new(0);
    let env = env(1)
        .with_clock(Arc::new(clock.clone()))
        .with_buffer_timeout(Duration::ZERO);
    let taken = Arc::new(AtomicUsize::new(0));
    let fired = Arc::new(AtomicUsize::new(0));
    let source_thread = Arc::new(Mutex::new(None));
    let source = ClockedSource {
        items,
        clock,
        taken: Arc::clone(&taken),
        fired: Arc::clone(&fired),
        windows: 4,
        source_thread: Arc::clone(&source_thread),
    };
    let out = env
        .from_source(source, "Clocked")
        .key_by(move |e: &Ev| {
            if *source_thread.lock().unwrap() != Some(std::thread::current().id()) {
                taken.fetch_add(1, Ordering::SeqCst);
            }
            e.0
        })
        .window(TumblingProcessingTimeWindows::of(ms(100)))
        .process(
            move |k: &char,
                  ctx: &mut WindowContext<'_, TimeWindow>,
                  v: WindowElements<'_, Ev>,
                  out: &mut Collector<'_, String>| {
                let times: Vec<i64> = v.map(|e| e.2).collect();
                let w = ctx.window();
                out.collect(format!("{k} [{},{}) {times:?}", w.start, w.end));
                fired.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
        )
        .collect();
    execute_within(&env, "processing time", LIMIT).unwrap();
    assert_eq!(
        records(&out),
        vec![
            ("a [0,100) [5, 90]".into(), 99),
            ("a [100,200) [100, 150]".into(), 199),
            ("b [0,100) [20]".into(), 99),
            ("b [200,300) [250]".into(), 299),
        ]
    );
}

/// Drives a [`WindowOperator`] directly, with a manual clock.
mod harness {
    use super::*;
    use std::sync::atomic::AtomicI64;
    use strom::core::{SideOutputs, TaskInfo};
    use strom::runtime::operator::{Emitter, OneInputOperator, OperatorContext};
    use strom::window::function::ProcessFn;

    pub struct Harness<Op> {
        pub op: Op,
        pub ctx: OperatorContext,
        pub clock: ManualClock,
        side: SideOutputs,
        out: Vec<Record<String>>,
    }

    impl<Op: OneInputOperator<Ev, String>> Harness<Op> {
        pub fn new(op: Op, clock: ManualClock) -> Self {
            Harness {
                op,
                ctx: OperatorContext {
                    info: TaskInfo {
                        job_name: "test".into(),
                        operator_name: "Window".into(),
                        subtask: 0,
                        parallelism: 1,
                        max_parallelism: 128,
                    },
                    clock: Arc::new(clock.clone()),
                    watermark: strom::Watermark::MIN,
                    wakeup: Arc::new(AtomicI64::new(i64::MAX)),
                    state_backend: Default::default(),
                },
                clock,
                side: SideOutputs::new(),
                out: Vec::new(),
            }
        }

        /// Push one element at the current processing time.
        pub fn push(&mut self, e: Ev) -> Vec<(String, i64)> {
            let mut batch = vec![Record::untimed(e)];
            let mut em = Emitter {
                records: &mut self.out,
                side: &mut self.side,
                downstream: None,
            };
            self.op
                .process_batch(&mut batch, &mut self.ctx, &mut em)
                .unwrap();
            self.drain()
        }

        /// The earliest processing-time callback the operator asked for.
        pub fn wakeup(&self) -> i64 {
            self.ctx.wakeup.load(Ordering::SeqCst)
        }

        /// Move the clock to `now` and deliver the callback the task would make.
        pub fn advance_to(&mut self, now: i64) -> Vec<(String, i64)> {
            self.clock.set(now);
            if self.wakeup() > now {
                return Vec::new();
            }
            self.ctx.wakeup.store(i64::MAX, Ordering::SeqCst);
            let mut em = Emitter {
                records: &mut self.out,
                side: &mut self.side,
                downstream: None,
            };
            self.op
                .on_processing_time(now, &mut self.ctx, &mut em)
                .unwrap();
            self.drain()
        }

        fn drain(&mut self) -> Vec<(String, i64)> {
            self.out.drain(..).map(|r| (r.value, r.timestamp)).collect()
        }
    }

    pub fn processing_time_window(
        clock: ManualClock,
    ) -> Harness<impl OneInputOperator<Ev, String>> {
        let op = WindowOperator::new(
            |e: &Ev| e.0,
            TumblingProcessingTimeWindows::of(ms(100)),
            ProcessingTimeTrigger,
            None::<NoEvictor>,
            ProcessFn(values::<TimeWindow>, std::marker::PhantomData),
            WindowSettings {
                allowed_lateness: 0,
                late_tag: None,
                default_trigger: true,
            },
        );
        Harness::new(op, clock)
    }

    pub fn processing_time_sessions(
        clock: ManualClock,
    ) -> Harness<impl OneInputOperator<Ev, String>> {
        let op = WindowOperator::new(
            |e: &Ev| e.0,
            ProcessingTimeSessionWindows::with_gap(ms(50)),
            ProcessingTimeTrigger,
            None::<NoEvictor>,
            ProcessFn(values::<TimeWindow>, std::marker::PhantomData),
            WindowSettings {
                allowed_lateness: 0,
                late_tag: None,
                default_trigger: true,
            },
        );
        Harness::new(op, clock)
    }
}

#[test]
fn processing_time_window_fires_when_the_clock_reaches_its_last_millisecond() {
    let mut h = harness::processing_time_window(ManualClock::new(1_000));
    assert!(h.push(('a', 0, 1)).is_empty());
    assert_eq!(
        h.wakeup(),
        1_099,
        "a callback at the window's max timestamp"
    );
    h.clock.set(1_050);
    assert!(h.push(('a', 0, 2)).is_empty());
    assert!(h.push(('b', 0, 3)).is_empty());
    assert!(h.advance_to(1_098).is_empty());
    assert_eq!(
        sorted(h.advance_to(1_099)),
        vec![("a [1, 2]".into(), 1_099), ("b [3]".into(), 1_099)]
    );
    // The next window: [1100, 1200).
    h.clock.set(1_100);
    assert!(h.push(('a', 0, 4)).is_empty());
    assert_eq!(h.wakeup(), 1_199);
    // A late callback fires everything due.
    assert_eq!(h.advance_to(5_000), vec![("a [4]".into(), 1_199)]);
    assert_eq!(h.wakeup(), i64::MAX, "nothing left to wait for");
}

#[test]
fn processing_time_sessions_merge_and_fire_once_the_clock_passes_the_merged_end() {
    let mut h = harness::processing_time_sessions(ManualClock::new(1_000));
    assert!(h.push(('a', 0, 1)).is_empty()); // [1000, 1050)
    assert_eq!(h.wakeup(), 1_049);
    h.clock.set(1_040);
    assert!(h.push(('a', 0, 2)).is_empty()); // [1040, 1090): merged into [1000, 1090)
    assert!(
        h.advance_to(1_049).is_empty(),
        "the first session was merged away"
    );
    assert_eq!(h.wakeup(), 1_089);
    assert_eq!(h.advance_to(1_089), vec![("a [1, 2]".into(), 1_089)]);
    // The session was removed; a later element opens a new one.
    h.clock.set(1_139);
    assert!(h.push(('a', 0, 3)).is_empty());
    assert_eq!(h.advance_to(1_188), vec![("a [3]".into(), 1_188)]);
}

// ---------------------------------------------------------------------------------------
// The user guides
// ---------------------------------------------------------------------------------------

/// Every Rust snippet of `guide` is a contiguous part of `example` (lines compared without
/// indentation), so the guide's code compiles and runs with the example.
fn check_snippets(guide: &str, example: &str) -> usize {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(guide)).unwrap();
    let code = std::fs::read_to_string(root.join(example)).unwrap();
    let code: Vec<&str> = code
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut snippets = 0;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```rust" {
            continue;
        }
        let snippet: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim() != "```")
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert!(!snippet.is_empty());
        assert!(
            code.windows(snippet.len()).any(|w| w == snippet.as_slice()),
            "this snippet of {guide} is not in {example}:\n{}",
            snippet.join("\n")
        );
        snippets += 1;
    }
    snippets
}

#[test]
fn guide_snippets_are_in_the_examples() {
    assert!(check_snippets("docs/windows.md", "examples/windows.rs") >= 5);
    assert!(check_snippets("docs/event-time.md", "examples/event_time.rs") >= 3);
}

/// As Flink: a session (merging) assigner needs a trigger that can merge.
#[test]
fn sessions_reject_a_trigger_that_cannot_merge() {
    let env = env(1);
    events(&env, at('a', &[1, 2]), 0)
        .key_by(|e: &Ev| e.0)
        .window(EventTimeSessionWindows::with_gap(ms(5)))
        .trigger(SpikeTrigger {
            threshold: 100,
            every: 2,
        })
        .reduce(|a, b| (a.0, a.1, a.2 + b.2))
        .discard();
    let err = env
        .execute("sessions with a non-merging trigger")
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not support merging"), "{err}");
}

/// As Flink: per-window state is not allowed with merging windows.
#[test]
fn per_window_state_is_refused_in_sessions() {
    let env = env(1);
    events(&env, at('a', &[1, 2]), 0)
        .key_by(|e: &Ev| e.0)
        .window(EventTimeSessionWindows::with_gap(ms(5)))
        .process(
            |_: &char,
             ctx: &mut WindowContext<'_, TimeWindow>,
             _: WindowElements<'_, Ev>,
             out: &mut Collector<'_, u32>| {
                *ctx.window_state::<u32>()? += 1;
                out.collect(1);
                Ok(())
            },
        )
        .discard();
    let err = execute_within(&env, "window state in sessions", LIMIT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("per-window state is not allowed"), "{err}");
}
