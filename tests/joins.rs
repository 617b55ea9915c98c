//! Window joins, co-groups and interval joins with exact expected outputs: small inputs
//! computed by hand, and random inputs against brute-force references, at parallelism 1
//! and 2.

mod common;

use common::{execute_within, sorted};
use std::collections::BTreeMap;
use std::time::Duration;
use strom::core::watermark::WatermarkStrategy;
use strom::prelude::*;
use strom::window::{
    EventTimeSessionWindows, IntervalJoinContext, SlidingEventTimeWindows, TumblingEventTimeWindows,
};

const LIMIT: Duration = Duration::from_secs(60);

/// (key, timestamp ms, id)
type Ev = (u32, i64, char);
/// (key, timestamp ms, id) with numeric ids, for random inputs.
type Rec = (u32, i64, u32);

fn env(p: usize) -> StreamEnv {
    StreamEnv::new().with_parallelism(p)
}

/// A stream of `items` with event time `ts` and monotonous watermarks after every record
/// (so that windows fire and join buffers are cleaned up while the inputs are read).
fn events<T: Data + Sync>(env: &StreamEnv, items: Vec<T>, ts: fn(&T) -> i64) -> DataStream<T> {
    env.from_collection(items).assign_timestamps_and_watermarks(
        WatermarkStrategy::for_monotonous_timestamps()
            .with_timestamp_assigner(move |e: &T, _| ts(e))
            .with_emission_interval(Duration::ZERO),
    )
}

fn ev_ts(e: &Ev) -> i64 {
    e.1
}

fn rec_ts(e: &Rec) -> i64 {
    e.1
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

// ---------------------------------------------------------------------------------------
// Window joins by hand
// ---------------------------------------------------------------------------------------

/// Window-join `left` and `right` by key (field 0) with `assigner`; results are
/// ((left id, right id), window max timestamp).
macro_rules! window_join {
    ($p:expr, $left:expr, $right:expr, $assigner:expr) => {{
        let env = env($p);
        let out = events(&env, $left, ev_ts)
            .join(events(&env, $right, ev_ts))
            .where_key(|l: &Ev| l.0)
            .equal_to(|r: &Ev| r.0)
            .window($assigner)
            .apply(|l: &Ev, r: &Ev| (l.2, r.2))
            .collect();
        execute_within(&env, "window join", LIMIT).unwrap();
        records(&out)
    }};
}

#[test]
fn tumbling_window_join() {
    let left = vec![(1, 1, 'a'), (1, 5, 'b'), (2, 7, 'c'), (1, 12, 'd')];
    let right = vec![(1, 3, 'x'), (2, 9, 'y'), (1, 15, 'z'), (1, 25, 'w')];
    for p in [1, 2] {
        let got = window_join!(
            p,
            left.clone(),
            right.clone(),
            TumblingEventTimeWindows::of(Duration::from_millis(10))
        );
        // [0, 10): key 1 {a, b} x {x}, key 2 {c} x {y}; [10, 20): {d} x {z}; [20, 30): no left.
        let want = vec![
            (('a', 'x'), 9),
            (('b', 'x'), 9),
            (('c', 'y'), 9),
            (('d', 'z'), 19),
        ];
        assert_eq!(got, want, "parallelism {p}");
    }
}

#[test]
fn sliding_window_join_emits_a_pair_once_per_common_window() {
    let left = vec![(1, 4, 'a'), (1, 12, 'b')];
    let right = vec![(1, 8, 'x'), (1, 14, 'y')];
    for p in [1, 2] {
        let got = window_join!(
            p,
            left.clone(),
            right.clone(),
            SlidingEventTimeWindows::of(Duration::from_millis(10), Duration::from_millis(5))
        );
        // [-5, 5): {a} x {}; [0, 10): {a} x {x}; [5, 15): {b} x {x, y}; [10, 20): {b} x {y}.
        let want = vec![
            (('a', 'x'), 9),
            (('b', 'x'), 14),
            (('b', 'y'), 14),
            (('b', 'y'), 19),
        ];
        assert_eq!(got, want, "parallelism {p}");
    }
}

#[test]
fn session_window_join() {
    let left = vec![(1, 0, 'a'), (2, 1, 'c'), (1, 30, 'b')];
    let right = vec![(1, 5, 'x'), (1, 12, 'y'), (2, 40, 'w'), (1, 50, 'z')];
    for p in [1, 2] {
        let got = window_join!(
            p,
            left.clone(),
            right.clone(),
            EventTimeSessionWindows::with_gap(Duration::from_millis(10))
        );
        // Key 1: a(0) x(5) y(12) merge into [0, 22); b(30) alone in [30, 40); z(50) alone.
        // Key 2: c(1) in [1, 11) and w(40) in [40, 50) never meet.
        assert_eq!(got, vec![(('a', 'x'), 21), (('a', 'y'), 21)], "p {p}");
    }
}

#[test]
fn flat_join_and_co_group() {
    let left = vec![(1, 1, 'a'), (1, 2, 'b'), (2, 3, 'c')];
    let right = vec![(1, 4, 'x'), (3, 5, 'y'), (1, 12, 'z')];
    for p in [1, 2] {
        let env = env(p);
        let l = events(&env, left.clone(), ev_ts);
        let r = events(&env, right.clone(), ev_ts);
        let tumble = TumblingEventTimeWindows::of(Duration::from_millis(10));
        let flat = l
            .clone()
            .join(r.clone())
            .where_key(|l: &Ev| l.0)
            .equal_to(|r: &Ev| r.0)
            .window(tumble)
            .flat_apply(|l: &Ev, r: &Ev, out: &mut Collector<String>| {
                if l.2 != 'b' {
                    out.collect(format!("{}{}", l.2, r.2));
                    out.collect(format!("{}{}!", l.2, r.2));
                }
            })
            .collect();
        let grouped = l
            .co_group(r)
            .where_key(|l: &Ev| l.0)
            .equal_to(|r: &Ev| r.0)
            .window(tumble)
            .apply(|ls: &[Ev], rs: &[Ev], out: &mut Collector<String>| {
                let ids = |v: &[Ev]| sorted(v.iter().map(|e| e.2).collect::<Vec<_>>());
                out.collect(format!("{:?}|{:?}", ids(ls), ids(rs)));
            })
            .collect();
        execute_within(&env, "flat join and co-group", LIMIT).unwrap();
        assert_eq!(
            records(&flat),
            vec![("ax".into(), 9), ("ax!".into(), 9)],
            "p {p}"
        );
        // Every key and window with elements, one side possibly empty.
        assert_eq!(
            records(&grouped),
            vec![
                ("['a', 'b']|['x']".into(), 9),
                ("['c']|[]".into(), 9),
                ("[]|['y']".into(), 9),
                ("[]|['z']".into(), 19),
            ],
            "p {p}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Window joins against a brute-force reference
// ---------------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// `n` records in timestamp order (steps of `step` ms, sometimes equal), keys `0..keys`,
/// ids from `first_id`.
fn in_order(rng: &mut Rng, n: u32, keys: u64, step: u64, first_id: u32) -> Vec<Rec> {
    let mut ts = 0i64;
    (0..n)
        .map(|i| {
            ts += (rng.below(3) * step) as i64;
            (rng.below(keys) as u32, ts, first_id + i)
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Windows {
    Tumbling(i64),
    Sliding(i64, i64),
    Session(i64),
}

/// Brute force: per key, the windows of every element, then per window the pairs.
fn window_join_reference(w: Windows, left: &[Rec], right: &[Rec]) -> Vec<((u32, u32), i64)> {
    // (key, window start, window end) -> (left ids, right ids)
    type Groups = BTreeMap<(u32, i64, i64), (Vec<u32>, Vec<u32>)>;
    let mut groups = Groups::new();
    let mut add = |key: u32, start: i64, end: i64, id: u32, is_left: bool| {
        let g = groups.entry((key, start, end)).or_default();
        if is_left { g.0.push(id) } else { g.1.push(id) }
    };
    let all = left
        .iter()
        .map(|e| (e, true))
        .chain(right.iter().map(|e| (e, false)));
    match w {
        Windows::Tumbling(size) => {
            for (&(k, ts, id), is_left) in all {
                let start = ts - ts.rem_euclid(size);
                add(k, start, start + size, id, is_left);
            }
        }
        Windows::Sliding(size, slide) => {
            for (&(k, ts, id), is_left) in all {
                let mut start = ts - ts.rem_euclid(slide);
                while start > ts - size {
                    add(k, start, start + size, id, is_left);
                    start -= slide;
                }
            }
        }
        Windows::Session(gap) => {
            // Per key in time order: an element extends the session when it starts before
            // the session's end (no input has a timestamp exactly at a session's end).
            let mut by_key: BTreeMap<u32, Vec<(i64, u32, bool)>> = BTreeMap::new();
            for (&(k, ts, id), is_left) in all {
                by_key.entry(k).or_default().push((ts, id, is_left));
            }
            for (k, mut es) in by_key {
                es.sort();
                let mut session: Vec<(u32, bool)> = Vec::new();
                let (mut start, mut end) = (0, i64::MIN);
                for (ts, id, is_left) in es {
                    assert_ne!(ts, end, "ambiguous session input");
                    if ts > end {
                        for (i, l) in session.drain(..) {
                            add(k, start, end, i, l);
                        }
                        start = ts;
                    }
                    end = end.max(ts + gap);
                    session.push((id, is_left));
                }
                for (i, l) in session {
                    add(k, start, end, i, l);
                }
            }
        }
    }
    let mut out = Vec::new();
    for ((_, _, end), (ls, rs)) in groups {
        for &l in &ls {
            for &r in &rs {
                out.push(((l, r), end - 1));
            }
        }
    }
    sorted(out)
}

fn run_window_join(p: usize, w: Windows, left: &[Rec], right: &[Rec]) -> Vec<((u32, u32), i64)> {
    let env = env(p);
    let joined = events(&env, left.to_vec(), rec_ts)
        .join(events(&env, right.to_vec(), rec_ts))
        .where_key(|l: &Rec| l.0)
        .equal_to(|r: &Rec| r.0);
    let ms = |v: i64| Duration::from_millis(v as u64);
    let f = |l: &Rec, r: &Rec| (l.2, r.2);
    let out = match w {
        Windows::Tumbling(size) => joined
            .window(TumblingEventTimeWindows::of(ms(size)))
            .apply(f)
            .collect(),
        Windows::Sliding(size, slide) => joined
            .window(SlidingEventTimeWindows::of(ms(size), ms(slide)))
            .apply(f)
            .collect(),
        Windows::Session(gap) => joined
            .window(EventTimeSessionWindows::with_gap(ms(gap)))
            .apply(f)
            .collect(),
    };
    execute_within(&env, "random window join", LIMIT).expect("the join runs");
    records(&out)
}

#[test]
fn window_joins_match_brute_force() {
    let cases = [
        Windows::Tumbling(50),
        Windows::Sliding(60, 20),
        Windows::Sliding(50, 50),
        // Timestamps are multiples of 10, so no element lands exactly on a session's end.
        Windows::Session(25),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for w in cases {
        for p in [1, 2] {
            let left = in_order(&mut rng, 150, 4, 10, 0);
            let right = in_order(&mut rng, 150, 4, 10, 1_000);
            let want = window_join_reference(w, &left, &right);
            assert!(!want.is_empty());
            let got = run_window_join(p, w, &left, &right);
            assert_eq!(got.len(), want.len(), "{w:?} at parallelism {p}");
            assert_eq!(got, want, "{w:?} at parallelism {p}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Interval joins
// ---------------------------------------------------------------------------------------

/// Interval-join `left` with `right` by key; results are ((left id, right id), timestamp).
fn interval_join<T: Data + Ord + Sync>(
    p: usize,
    left: Vec<(u32, i64, T)>,
    right: Vec<(u32, i64, T)>,
    bounds: (i64, i64),
    exclusive: (bool, bool),
) -> strom::Result<Vec<((T, T), i64)>> {
    let env = env(p);
    let l = events(&env, left, |e| e.1).key_by(|e: &(u32, i64, T)| e.0);
    let r = events(&env, right, |e| e.1).key_by(|e: &(u32, i64, T)| e.0);
    let mut joined = l.interval_join(r).between(bounds.0, bounds.1);
    if exclusive.0 {
        joined = joined.lower_bound_exclusive();
    }
    if exclusive.1 {
        joined = joined.upper_bound_exclusive();
    }
    let out = joined
        .process(
            |l: &(u32, i64, T),
             r: &(u32, i64, T),
             ctx: &mut IntervalJoinContext,
             out: &mut Collector<(T, T)>| {
                assert_eq!((ctx.left_timestamp(), ctx.right_timestamp()), (l.1, r.1));
                out.collect((l.2.clone(), r.2.clone()));
                Ok(())
            },
        )
        .collect();
    execute_within(&env, "interval join", LIMIT)?;
    Ok(records(&out))
}

#[test]
fn interval_join_by_hand() {
    let left: Vec<Ev> = vec![(1, 10, 'a'), (2, 10, 'c'), (1, 20, 'b')];
    let right: Vec<Ev> = vec![
        (1, 7, 'w'),
        (1, 8, 'x'),
        (2, 12, 'u'),
        (1, 13, 'y'),
        (1, 14, 'z'),
        (1, 18, 'v'),
    ];
    type Case = ((i64, i64), (bool, bool), Vec<((char, char), i64)>);
    let cases: [Case; 5] = [
        // a(10) joins [8, 13]: x, y; b(20) joins [18, 23]: v; c(10) joins [8, 13]: u.
        (
            (-2, 3),
            (false, false),
            vec![
                (('a', 'x'), 10),
                (('a', 'y'), 13),
                (('b', 'v'), 20),
                (('c', 'u'), 12),
            ],
        ),
        // (-2, 3): x (-2), y (+3) and v (-2) are on the excluded bounds; u (+2) is inside.
        ((-2, 3), (true, true), vec![(('c', 'u'), 12)]),
        // (-2, 3]
        (
            (-2, 3),
            (true, false),
            vec![(('a', 'y'), 13), (('c', 'u'), 12)],
        ),
        // Negative bounds [-3, -1]: a joins w(7), x(8); b joins v(18); c nothing.
        (
            (-3, -1),
            (false, false),
            vec![(('a', 'w'), 10), (('a', 'x'), 10), (('b', 'v'), 20)],
        ),
        // A point interval [0, 0]: nothing here has equal timestamps.
        ((0, 0), (false, false), vec![]),
    ];
    for p in [1, 2] {
        for (bounds, exclusive, want) in &cases {
            let got = interval_join(p, left.clone(), right.clone(), *bounds, *exclusive).unwrap();
            assert_eq!(
                &got, want,
                "p {p}, bounds {bounds:?}, exclusive {exclusive:?}"
            );
        }
    }
}

#[test]
fn interval_join_with_duration_bounds_and_late_side_outputs() {
    let env = env(2);
    let late_left = OutputTag::<Ev>::new("late-left");
    let late_right = OutputTag::<Ev>::new("late-right");
    let l = events(&env, vec![(1, 10, 'a'), (2, 10, 'c'), (1, 20, 'b')], ev_ts);
    let r = events(&env, vec![(1, 13, 'y'), (1, 14, 'z'), (2, 12, 'u')], ev_ts);
    let joined = l
        .key_by(|e: &Ev| e.0)
        .interval_join(r.key_by(|e: &Ev| e.0))
        .between(Duration::ZERO, Duration::from_millis(4))
        .side_output_left_late_data(&late_left)
        .side_output_right_late_data(&late_right)
        .process(
            |l: &Ev, r: &Ev, _: &mut IntervalJoinContext, out: &mut Collector<String>| {
                out.collect(format!("{}{}", l.2, r.2));
                Ok(())
            },
        );
    // In-order inputs: nothing is late.
    let late = joined
        .side_output(&late_left)
        .union([joined.side_output(&late_right)])
        .collect();
    let out = joined.collect();
    execute_within(&env, "interval join durations", LIMIT).unwrap();
    assert_eq!(
        records(&out),
        vec![("ay".into(), 13), ("az".into(), 14), ("cu".into(), 12)]
    );
    assert!(late.take().is_empty());
}

#[test]
fn interval_join_rejects_lower_bound_above_upper() {
    let err = interval_join(
        1,
        vec![(1, 1, 'a')],
        vec![(1, 1, 'b')],
        (5, 2),
        (false, false),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("lower bound (5 ms)") && msg.contains("upper bound (2 ms)"),
        "{msg}"
    );
    // Equal bounds are fine, even when exclusivity leaves an empty interval.
    let got = interval_join(
        1,
        vec![(1, 1, 'a')],
        vec![(1, 1, 'b')],
        (0, 0),
        (true, false),
    );
    assert_eq!(got.unwrap(), vec![]);
}

/// Brute force: every pair of equal key with `right - left` inside the bounds.
fn interval_reference(
    left: &[Rec],
    right: &[Rec],
    (lower, upper): (i64, i64),
    (lower_excl, upper_excl): (bool, bool),
) -> Vec<((u32, u32), i64)> {
    let mut out = Vec::new();
    for l in left {
        for r in right {
            let d = r.1 - l.1;
            let above = if lower_excl { d > lower } else { d >= lower };
            let below = if upper_excl { d < upper } else { d <= upper };
            if l.0 == r.0 && above && below {
                out.push(((l.2, r.2), l.1.max(r.1)));
            }
        }
    }
    sorted(out)
}

#[test]
fn interval_joins_match_brute_force() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let cases = [
        ((-20, 30), (false, false)),
        ((-20, 30), (true, true)),
        ((0, 0), (false, false)),
        ((-40, -10), (false, true)),
        ((5, 25), (true, false)),
        ((-15, 15), (true, true)),
    ];
    for (bounds, exclusive) in cases {
        for p in [1, 2] {
            let left = in_order(&mut rng, 200, 5, 5, 0);
            let right = in_order(&mut rng, 200, 5, 5, 1_000);
            let want = interval_reference(&left, &right, bounds, exclusive);
            assert!(!want.is_empty());
            let got = interval_join(p, left, right, bounds, exclusive).unwrap();
            assert_eq!(got.len(), want.len(), "{bounds:?} {exclusive:?} p {p}");
            assert_eq!(got, want, "{bounds:?} {exclusive:?} p {p}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The user guide
// ---------------------------------------------------------------------------------------

/// Every Rust snippet of docs/joins.md is a contiguous part of examples/joins.rs (lines
/// compared without indentation), so the guide's code compiles and runs with the example.
#[test]
fn guide_snippets_are_in_the_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/joins.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/joins.rs")).unwrap();
    let example: Vec<&str> = example
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut snippets = 0;
    let mut lines = guide.lines();
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
            example
                .windows(snippet.len())
                .any(|w| w == snippet.as_slice()),
            "this snippet of docs/joins.md is not in examples/joins.rs:\n{}",
            snippet.join("\n")
        );
        snippets += 1;
    }
    assert!(snippets >= 2, "the guide shows the example's code");
}
