//! Watermarks with exact expected values computed by hand from Flink's semantics: the
//! built-in strategies, user-written periodic and punctuated generators, the emission
//! interval, idleness, monotonicity and the final watermark at the end of a bounded input.
//!
//! Watermarks are observed through `ctx.current_watermark()` of a process function right
//! after the watermark assigner (what each record is judged against), and through the
//! firings and late records of event-time windows.

#![allow(clippy::unwrap_used)]

mod common;

use common::{execute_within, sorted};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use strom::connectors::collect::CollectHandle;
use strom::core::watermark::{WatermarkGenerator, WatermarkOutput};
use strom::prelude::*;
use strom::{CancelHandle, Watermark};

const LIMIT: Duration = Duration::from_secs(60);
const MIN: i64 = i64::MIN;

/// (key, event time ms, value)
type Ev = (char, i64, i64);

fn env() -> StreamEnv {
    StreamEnv::new().with_parallelism(1)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn at(timestamps: &[i64]) -> Vec<Ev> {
    timestamps.iter().map(|&t| ('a', t, t)).collect()
}

/// Each record's timestamp with the watermark it meets.
fn observe(stream: DataStream<Ev>) -> CollectHandle<(i64, i64)> {
    stream
        .process(
            |e: Ev, ctx: &mut ProcessContext, out: &mut Collector<(i64, i64)>| {
                out.collect((e.1, ctx.current_watermark().0));
                Ok(())
            },
        )
        .collect()
}

/// `"[start,end) [values]"` per firing, and the late records' timestamps.
fn tumbling(
    stream: DataStream<Ev>,
    size_ms: u64,
) -> (CollectHandle<(i64, Vec<i64>)>, CollectHandle<Ev>) {
    let late = OutputTag::<Ev>::new("late");
    let windows = stream
        .key_by(|e: &Ev| e.0)
        .window(TumblingEventTimeWindows::of(ms(size_ms)))
        .side_output_late_data(&late)
        .process(
            |_: &char,
             ctx: &mut WindowContext<'_, TimeWindow>,
             v: WindowElements<'_, Ev>,
             out: &mut Collector<'_, (i64, Vec<i64>)>| {
                out.collect((ctx.window().start, sorted(v.map(|e| e.2).collect())));
                Ok(())
            },
        );
    let late = windows.side_output(&late).collect();
    (windows.collect(), late)
}

fn late_timestamps(h: &CollectHandle<Ev>) -> Vec<i64> {
    h.take().into_iter().map(|e| e.1).collect()
}

fn timestamps(e: &Ev, _: i64) -> i64 {
    e.1
}

#[test]
fn bounded_out_of_orderness_trails_the_largest_timestamp_by_bound_plus_one() {
    // Bound 5, watermark after every record: max - 5 - 1. Each record meets the watermark
    // of the records before it.
    let env = env();
    let stream = env
        .from_collection(at(&[10, 30, 20, 50, 45, 44]))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(ms(5))
                .with_timestamp_assigner(timestamps)
                .with_emission_interval(Duration::ZERO),
        );
    let seen = observe(stream.clone());
    // Windows of 5: [20,25) is complete at watermark 24 (20 is 10 behind 30); 45 is exactly
    // 5 behind 50 and in time, 44 one more and late ([40,45) is complete at 44).
    let (windows, late) = tumbling(stream, 5);
    execute_within(&env, "bounded", LIMIT).unwrap();
    assert_eq!(
        seen.take(),
        vec![(10, MIN), (30, 4), (20, 24), (50, 24), (45, 44), (44, 44)]
    );
    assert_eq!(
        sorted(windows.take()),
        vec![
            (10, vec![10]),
            (30, vec![30]),
            (45, vec![45]),
            (50, vec![50])
        ]
    );
    assert_eq!(late_timestamps(&late), vec![20, 44]);
}

#[test]
fn monotonous_timestamps_trail_the_largest_timestamp_by_one() {
    let env = env();
    let stream = env
        .from_collection(at(&[1, 2, 2, 5, 5, 9]))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(timestamps)
                .with_emission_interval(Duration::ZERO),
        );
    let seen = observe(stream.clone());
    // A record equal to the largest timestamp is never late.
    let (windows, late) = tumbling(stream, 5);
    execute_within(&env, "monotonous", LIMIT).unwrap();
    assert_eq!(
        seen.take(),
        vec![(1, MIN), (2, 0), (2, 1), (5, 1), (5, 4), (9, 4)]
    );
    assert_eq!(
        sorted(windows.take()),
        vec![(0, vec![1, 2, 2]), (5, vec![5, 5, 9])]
    );
    assert!(late.take().is_empty());
}

/// A user-written periodic generator: the watermark is the smallest of the last three
/// timestamps (so it may try to go backwards).
#[derive(Clone, Debug, Default)]
struct MinOfLastThree {
    last: Vec<i64>,
}

impl WatermarkGenerator<Ev> for MinOfLastThree {
    fn on_event(&mut self, _: &Ev, timestamp: i64, _: &mut WatermarkOutput) {
        self.last.push(timestamp);
        if self.last.len() > 3 {
            self.last.remove(0);
        }
    }
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput) {
        if let Some(&min) = self.last.iter().min() {
            output.emit_watermark(Watermark(min));
        }
    }
}

#[test]
fn a_user_periodic_generator_and_watermarks_never_going_backwards() {
    // Emitted after each record: 5, 5, 5, 7, 7, 20, then 8 and 8 (ignored: backwards).
    let env = env();
    let stream = env
        .from_collection(at(&[5, 9, 7, 20, 21, 22, 8, 30]))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_generator(MinOfLastThree::default())
                .with_timestamp_assigner(timestamps)
                .with_emission_interval(Duration::ZERO),
        );
    let seen = observe(stream.clone());
    let (windows, late) = tumbling(stream, 10);
    execute_within(&env, "periodic generator", LIMIT).unwrap();
    assert_eq!(
        seen.take(),
        vec![
            (5, MIN),
            (9, 5),
            (7, 5),
            (20, 5),
            (21, 7),
            (22, 7),
            (8, 20),
            (30, 20)
        ]
    );
    // 8 meets watermark 20: [0,10) already fired with {5, 7, 9}.
    assert_eq!(
        sorted(windows.take()),
        vec![(0, vec![5, 7, 9]), (20, vec![20, 21, 22]), (30, vec![30])]
    );
    assert_eq!(late_timestamps(&late), vec![8]);
}

/// A user-written punctuated generator: a record with a negative value is a marker that
/// promises no record with a smaller timestamp follows.
#[derive(Clone, Copy, Debug, Default)]
struct Markers;

impl WatermarkGenerator<Ev> for Markers {
    fn on_event(&mut self, e: &Ev, timestamp: i64, output: &mut WatermarkOutput) {
        if e.2 < 0 {
            output.emit_watermark(Watermark(timestamp));
        }
    }
    fn on_periodic_emit(&mut self, _: &mut WatermarkOutput) {}
}

#[test]
fn a_user_punctuated_generator_emits_after_the_record_that_carries_the_watermark() {
    // As in Flink, the record goes downstream first and the watermark its `on_event`
    // emitted follows it: the marker at 9 is still in [0,10), which fires with it; 8 comes
    // after watermark 9 and is late.
    let input: Vec<Ev> = vec![
        ('a', 5, 5),
        ('a', 9, -9),
        ('a', 8, 8),
        ('a', 12, 12),
        ('a', 15, -15),
        ('a', 14, 14),
    ];
    let env = env();
    // The default (periodic) emission interval: punctuated watermarks do not wait for it.
    let stream = env.from_collection(input).assign_timestamps_and_watermarks(
        WatermarkStrategy::for_generator(Markers).with_timestamp_assigner(timestamps),
    );
    let seen = observe(stream.clone());
    let (windows, late) = tumbling(stream, 10);
    execute_within(&env, "punctuated", LIMIT).unwrap();
    assert_eq!(
        seen.take(),
        vec![(5, MIN), (9, MIN), (8, 9), (12, 9), (15, 9), (14, 15)]
    );
    assert_eq!(
        sorted(windows.take()),
        vec![(0, vec![-9, 5]), (10, vec![-15, 12, 14])]
    );
    assert_eq!(late_timestamps(&late), vec![8]);
}

/// Cancel the job once `ready()` holds, or after `limit`; says whether it held.
fn cancel_when(
    handle: CancelHandle,
    limit: Duration,
    ready: impl Fn() -> bool + Send + 'static,
) -> Arc<AtomicBool> {
    let held = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&held);
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if ready() {
                flag.store(true, Ordering::SeqCst);
                break;
            }
            std::thread::sleep(ms(5));
        }
        handle.cancel();
    });
    held
}

/// An unbounded source of key `key` at `rate` records per second, record `i` at event
/// time `10 i` with value `i`.
fn live(env: &StreamEnv, key: char, rate: f64) -> DataStream<Ev> {
    env.generate(None, move |i| (key, i as i64 * 10, i as i64))
        .rate_limit(rate)
}

#[test]
fn periodic_and_per_record_emission() {
    for per_record in [true, false] {
        // 200 records per second; periodic watermarks every 50 ms (the job's default
        // interval, set on the environment) or after every record.
        let env = env().with_auto_watermark_interval(ms(50));
        let mut strategy =
            WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(timestamps);
        if per_record {
            strategy = strategy.with_emission_interval(Duration::ZERO);
        }
        let stream = live(&env, 'a', 200.0).assign_timestamps_and_watermarks(strategy);
        let seen = observe(stream.clone());
        let (windows, _) = tumbling(stream, 100);
        let first = windows.clone();
        let held = cancel_when(env.cancel_handle(), ms(10_000), move || !first.is_empty());
        let r = execute_within(&env, "emission", LIMIT).unwrap();
        assert!(r.cancelled);
        assert!(
            held.load(Ordering::SeqCst),
            "no window fired (per record: {per_record}): periodic watermarks need the source \
             task to deliver the assigner's processing-time callbacks"
        );
        // An unbounded source never sends the final watermark: only generated watermarks
        // can have fired the first window, with exactly its records.
        assert_eq!(
            sorted(windows.take())[0],
            (0, (0..10).collect::<Vec<_>>()),
            "per record: {per_record}"
        );
        let seen = seen.take();
        assert!(
            seen.windows(2).all(|w| w[0].1 <= w[1].1),
            "watermarks never go backwards"
        );
        let exact = seen.windows(2).all(|w| w[1].1 == w[0].0 - 1);
        if per_record {
            assert!(exact, "each record meets the previous one's timestamp - 1");
        } else {
            assert!(!exact, "periodic watermarks lag behind the records");
        }
    }
}

/// A live stream of key `L` and a stream of key `I` that emits one record and then falls
/// silent, unioned into tumbling windows of 100 ms; returns the window results seen until
/// the job was cancelled (after `limit`, or once `I`'s window fired).
fn live_and_silent(idleness: Option<Duration>, limit: Duration) -> Vec<(char, i64, Vec<i64>)> {
    let env = env();
    let busy = live(&env, 'L', 200.0).assign_timestamps_and_watermarks(
        WatermarkStrategy::for_monotonous_timestamps()
            .with_timestamp_assigner(timestamps)
            .with_emission_interval(ms(20)),
    );
    let mut strategy = WatermarkStrategy::for_monotonous_timestamps()
        .with_timestamp_assigner(timestamps)
        .with_emission_interval(ms(20));
    if let Some(timeout) = idleness {
        strategy = strategy.with_idleness(timeout);
    }
    // One record now, the next in 1000 s.
    let silent = live(&env, 'I', 0.001).assign_timestamps_and_watermarks(strategy);
    let unioned = busy.union([silent]);
    let seen = observe(unioned.clone());
    let out = unioned
        .key_by(|e: &Ev| e.0)
        .window(TumblingEventTimeWindows::of(ms(100)))
        .process(
            |k: &char,
             ctx: &mut WindowContext<'_, TimeWindow>,
             v: WindowElements<'_, Ev>,
             out: &mut Collector<'_, (char, i64, Vec<i64>)>| {
                out.collect((*k, ctx.window().start, sorted(v.map(|e| e.2).collect())));
                Ok(())
            },
        )
        .collect();
    let watch = out.clone();
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let gathered = Arc::clone(&results);
    cancel_when(env.cancel_handle(), limit, move || {
        let mut g = gathered.lock().unwrap();
        g.extend(watch.take());
        g.iter().any(|r: &(char, i64, Vec<i64>)| r.0 == 'I')
    });
    let r = execute_within(&env, "idleness", LIMIT).unwrap();
    assert!(r.cancelled);
    let seen = seen.take();
    assert!(
        seen.windows(2).all(|w| w[0].1 <= w[1].1),
        "the union's watermark never goes backwards"
    );
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    results.extend(out.take());
    results
}

#[test]
fn an_idle_input_does_not_hold_back_the_watermark() {
    let results = live_and_silent(Some(ms(100)), ms(10_000));
    assert!(
        results.contains(&('I', 0, vec![0])),
        "the silent input's window fired once it went idle (idleness is detected on the \
         source task's processing-time callbacks): {results:?}"
    );
    assert!(
        results.contains(&('L', 0, (0..10).collect())),
        "the live input's window fired: {results:?}"
    );
}

#[test]
fn without_idleness_a_silent_input_holds_back_the_watermark() {
    // The silent input's watermark stays at -1: for one second nothing fires although the
    // live input's watermark is far ahead.
    let results = live_and_silent(None, ms(1_000));
    assert!(results.is_empty(), "{results:?}");
}

#[test]
fn the_end_of_a_bounded_input_fires_every_pending_window() {
    // No watermarks at all: event time only advances with the final watermark of the
    // bounded input, which fires tumbling, sliding and session windows alike. A second
    // assigner replaces the first one's watermarks (except the final one).
    let env = env();
    let stream = env
        .from_collection(at(&[3, 14, 27, 1]))
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(timestamps)
                .with_emission_interval(Duration::ZERO),
        )
        .assign_timestamps_and_watermarks(WatermarkStrategy::no_watermarks());
    let seen = observe(stream.clone());
    let keyed = || stream.clone().key_by(|e: &Ev| e.0);
    let count = |_: &char,
                 ctx: &mut WindowContext<'_, TimeWindow>,
                 v: WindowElements<'_, Ev>,
                 out: &mut Collector<'_, (i64, i64, usize)>| {
        let w = ctx.window();
        out.collect((w.start, w.end, v.count()));
        Ok(())
    };
    let tumbled = keyed()
        .window(TumblingEventTimeWindows::of(ms(10)))
        .process(count)
        .collect();
    let slid = keyed()
        .window(SlidingEventTimeWindows::of(ms(20), ms(10)))
        .process(count)
        .collect();
    let sessions = keyed()
        .window(EventTimeSessionWindows::with_gap(ms(12)))
        .process(count)
        .collect();
    execute_within(&env, "end of input", LIMIT).unwrap();
    assert!(seen.take().iter().all(|&(_, w)| w == MIN));
    assert_eq!(
        sorted(tumbled.take()),
        vec![(0, 10, 2), (10, 20, 1), (20, 30, 1)]
    );
    assert_eq!(
        sorted(slid.take()),
        vec![(-10, 10, 2), (0, 20, 3), (10, 30, 2), (20, 40, 1)]
    );
    // 1, 3, 14 (3 + 12 > 14) and 27 (14 + 12 < 27).
    assert_eq!(sorted(sessions.take()), vec![(1, 26, 3), (27, 39, 1)]);
}

#[test]
fn the_final_watermark_of_an_input_that_went_idle_fires_its_windows() {
    // Three records 200 ms apart with idleness 50 ms: the input is idle between records
    // and when it ends; its final watermark must still reach the window.
    let env = env();
    let out = env
        .generate(Some(3), |i| ('a', i as i64, i as i64))
        .rate_limit(5.0)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(timestamps)
                .with_idleness(ms(50)),
        )
        .key_by(|e: &Ev| e.0)
        .window(TumblingEventTimeWindows::of(ms(100)))
        .reduce(|a, b| (a.0, a.1.max(b.1), a.2 + b.2))
        .collect();
    execute_within(&env, "idle end", LIMIT).unwrap();
    assert_eq!(out.take(), vec![('a', 2, 3)]);
}
