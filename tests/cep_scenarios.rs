//! CEP scenarios end to end (the jobs of `examples/cep_*.rs` and `docs/cep.md`), with the
//! exact matches and timeouts Flink CEP's semantics give: a hospital's patient flow
//! (trailing `not_followed_by` completed by its window), bushfire detection (an iterative
//! looping stage with skip-past-last-event), order timeouts (`select_with_timeout`), the
//! after-match skip table of the guide, non-keyed streams, processing time, late data and
//! malformed patterns.

#![allow(clippy::unwrap_used)]

use serde::{Deserialize, Serialize};
use strom::BoxError;
use strom::cep::{
    AfterMatchSkipStrategy, CepError, CepExt, Match, Pattern, PatternContext,
    PatternProcessFunction, WithinType,
};
use strom::prelude::*;

/// One minute in milliseconds: the scenarios' event times are whole minutes.
const MIN: i64 = 60_000;

fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// Event time from `ts`, a watermark after every record, bounded out-of-orderness `bound`
/// (the disorder of the scenarios' inputs stays below it, so nothing is late).
fn with_event_time<T: Data + Sync>(
    env: &StreamEnv,
    events: Vec<T>,
    bound: Duration,
    ts: fn(&T) -> i64,
) -> DataStream<T> {
    env.from_collection(events)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(bound)
                .with_timestamp_assigner(move |e: &T, _| ts(e))
                .with_emission_interval(Duration::ZERO),
        )
        .set_parallelism(1)
}

// ---- the hospital: waiting room, doctor, recovery, and not discharged ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Step {
    WaitingRoom,
    DoctorOffice,
    Recovery,
    Discharged,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Visit {
    patient: String,
    at: i64,
    step: Step,
}

fn visit(patient: &str, minute: i64, step: Step) -> Visit {
    Visit {
        patient: patient.to_string(),
        at: minute * MIN,
        step,
    }
}

/// The visits of `examples/cep_patient_flow.rs`, in arrival order (up to 20 minutes late).
fn visits() -> Vec<Visit> {
    use Step::*;
    vec![
        visit("ann", 0, WaitingRoom),
        visit("bob", 5, WaitingRoom),
        visit("cem", 10, WaitingRoom),
        visit("bob", 30, DoctorOffice),
        visit("ann", 20, DoctorOffice), // 10 minutes late
        visit("dan", 15, WaitingRoom),  // 15 minutes late
        visit("cem", 40, DoctorOffice),
        visit("dan", 45, DoctorOffice),
        visit("bob", 55, Recovery),
        visit("ann", 50, Recovery),
        visit("bob", 62, Discharged), // 7 minutes after recovery: no alert
        visit("cem", 70, Recovery),
        visit("ann", 75, Discharged), // 25 minutes after recovery: too late
        visit("cem", 85, Discharged), // 15 minutes after recovery: too late
        visit("eve", 90, WaitingRoom),
    ]
}

fn is(step: Step) -> impl Fn(&Visit) -> bool + Send + Sync + 'static {
    move |v: &Visit| v.step == step
}

/// The example's pattern: through the waiting room, the doctor's office and recovery
/// within 4 hours of arriving, and then no discharge for 10 minutes after recovery.
fn forgotten_in_recovery() -> Pattern<Visit> {
    Pattern::begin("waiting_room")
        .where_(is(Step::WaitingRoom))
        .followed_by("doctor_office")
        .where_(is(Step::DoctorOffice))
        .followed_by("recovery")
        .where_(is(Step::Recovery))
        .not_followed_by("discharged")
        .where_(is(Step::Discharged))
        .within_type(minutes(10), WithinType::PreviousAndCurrent)
        .within(minutes(240))
}

/// (patient, [(stage, minute)]) per match, sorted.
fn run_visits(pattern: Pattern<Visit>, visits: Vec<Visit>) -> Vec<(String, Vec<(String, i64)>)> {
    let env = StreamEnv::new().with_parallelism(2);
    let found = with_event_time(&env, visits, minutes(20), |v| v.at)
        .key_by(|v: &Visit| v.patient.clone())
        .pattern(pattern)
        .select(|m: Match<Visit>| {
            let patient = m.events().next().map(|v| v.patient.clone()).unwrap();
            let stages = m
                .iter()
                .flat_map(|(stage, vs)| vs.iter().map(move |v| (stage.to_string(), v.at / MIN)))
                .collect::<Vec<_>>();
            (patient, stages)
        })
        .collect();
    env.execute("patient flow").unwrap();
    let mut found = found.take();
    found.sort();
    found
}

fn path(stages: &[(&str, i64)]) -> Vec<(String, i64)> {
    stages.iter().map(|(s, m)| (s.to_string(), *m)).collect()
}

/// ann recovers at 50 and is discharged at 75: the 10 minutes after recovery pass at 60
/// without a discharge, so her match completes (at the watermark passing 60). cem recovers
/// at 70 and is discharged at 85: the window passed at 80. bob is discharged 7 minutes
/// after recovery: no match. dan never reaches recovery and eve only the waiting room.
#[test]
fn patient_flow_not_discharged_ten_minutes_after_recovery() {
    let got = run_visits(forgotten_in_recovery(), visits());
    let expected = vec![
        (
            "ann".to_string(),
            path(&[("waiting_room", 0), ("doctor_office", 20), ("recovery", 50)]),
        ),
        (
            "cem".to_string(),
            path(&[
                ("waiting_room", 10),
                ("doctor_office", 40),
                ("recovery", 70),
            ]),
        ),
    ];
    assert_eq!(got, expected);
}

/// Flink's window is `last − first < within`: a discharge at exactly 10 minutes after
/// recovery comes after the window, and the match stands; one at 9 minutes cancels it.
#[test]
fn patient_flow_window_boundary() {
    use Step::*;
    let got = run_visits(
        forgotten_in_recovery(),
        vec![
            visit("ann", 0, WaitingRoom),
            visit("ann", 1, DoctorOffice),
            visit("ann", 2, Recovery),
            visit("ann", 12, Discharged),
            visit("bob", 0, WaitingRoom),
            visit("bob", 1, DoctorOffice),
            visit("bob", 2, Recovery),
            visit("bob", 11, Discharged),
        ],
    );
    assert_eq!(
        got,
        vec![(
            "ann".to_string(),
            path(&[("waiting_room", 0), ("doctor_office", 1), ("recovery", 2)])
        )]
    );
}

/// With a plain `within(10 min)` the window counts from the match's *first* event (the
/// waiting room), not from recovery: no visit of the scenario fits in 10 minutes, and a
/// quick one (recovery 6 minutes after arriving) completes 10 minutes after arriving, 4
/// minutes after recovery, unless discharged before.
#[test]
fn patient_flow_plain_within_counts_from_the_first_event() {
    use Step::*;
    let plain = || {
        Pattern::begin("waiting_room")
            .where_(is(WaitingRoom))
            .followed_by("doctor_office")
            .where_(is(DoctorOffice))
            .followed_by("recovery")
            .where_(is(Recovery))
            .not_followed_by("discharged")
            .where_(is(Discharged))
            .within(minutes(10))
    };
    assert_eq!(run_visits(plain(), visits()), vec![]);
    let quick = vec![
        visit("fay", 0, WaitingRoom),
        visit("fay", 3, DoctorOffice),
        visit("fay", 6, Recovery),
        visit("fay", 10, Discharged), // the window ended at 10: after it
        visit("gus", 0, WaitingRoom),
        visit("gus", 3, DoctorOffice),
        visit("gus", 6, Recovery),
        visit("gus", 9, Discharged), // inside the window: no match
    ];
    assert_eq!(
        run_visits(plain(), quick),
        vec![(
            "fay".to_string(),
            path(&[("waiting_room", 0), ("doctor_office", 3), ("recovery", 6)])
        )]
    );
}

// ---- bushfires: hotter and drier, reading after reading ----

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Reading {
    region: String,
    at: i64,
    celsius: f64,
    humidity: f64,
}

fn reading(region: &str, minute: i64, celsius: f64, humidity: f64) -> Reading {
    Reading {
        region: region.to_string(),
        at: minute * MIN,
        celsius,
        humidity,
    }
}

/// The readings of `examples/cep_bushfire.rs`, in arrival order (up to 10 minutes late).
fn readings() -> Vec<Reading> {
    vec![
        reading("north", 0, 25.0, 40.0),
        reading("west", 0, 25.0, 40.0),
        reading("south", 0, 20.0, 60.0),
        reading("east", 0, 24.0, 50.0),
        reading("north", 10, 29.5, 31.0),
        reading("north", 5, 27.0, 36.0), // 5 minutes late
        reading("west", 5, 27.0, 38.0),
        reading("east", 5, 26.0, 55.0),
        reading("west", 10, 26.0, 39.0), // a dip: west's first streak ends
        reading("south", 10, 21.0, 58.0),
        reading("east", 10, 28.0, 60.0),
        reading("north", 15, 32.0, 25.0),
        reading("west", 15, 28.0, 35.0),
        reading("east", 15, 30.0, 65.0),
        reading("north", 25, 36.0, 18.0),
        reading("west", 20, 30.0, 33.0),
        reading("north", 20, 35.0, 20.0), // 5 minutes late
        reading("south", 20, 22.0, 57.0),
        reading("west", 25, 33.0, 30.0),
        reading("north", 30, 34.0, 22.0), // cooler: north's second streak ends
        reading("south", 30, 23.0, 55.0),
        reading("north", 40, 39.0, 15.0),
        reading("north", 35, 37.0, 17.0), // 5 minutes late
        reading("south", 40, 24.0, 54.0),
        reading("north", 45, 41.0, 12.0),
        reading("south", 50, 25.0, 52.0),
    ]
}

/// A reading, then three or more in a row, each hotter and drier than the one before,
/// within 30 minutes; after an alert, the next one starts after its last reading.
fn fire_weather() -> Pattern<Reading> {
    Pattern::begin_with_skip("start", AfterMatchSkipStrategy::skip_past_last_event())
        .next("rising")
        .where_iter(|r: &Reading, ctx| {
            let previous = ctx
                .events_for_pattern("rising")
                .last()
                .or_else(|| ctx.events_for_pattern("start").last());
            previous.is_some_and(|p| r.celsius > p.celsius && r.humidity < p.humidity)
        })
        .times_or_more(3)
        .consecutive()
        .within(minutes(30))
}

/// north: 0→5→10→15 rises (alert); 15 is the last event, so the next streak starts at 20
/// (20→25, broken by 30), then 30→35→40→45 (alert). west: 0→5 broken by the dip at 10,
/// then 10→15→20→25 (alert). south rises every 10 minutes: four readings span 30 minutes,
/// not less, so the window always ends first. east gets hotter but more humid.
#[test]
fn bushfire_alerts() {
    let env = StreamEnv::new().with_parallelism(2);
    let alerts = with_event_time(&env, readings(), minutes(10), |r| r.at)
        .key_by(|r: &Reading| r.region.clone())
        .pattern(fire_weather())
        .select(|m: Match<Reading>| {
            let start = m.first("start").unwrap();
            let rising = m
                .get("rising")
                .iter()
                .map(|r| r.at / MIN)
                .collect::<Vec<_>>();
            (start.region.clone(), start.at / MIN, rising)
        })
        .collect();
    env.execute("bushfire").unwrap();
    let mut alerts = alerts.take();
    alerts.sort();
    assert_eq!(
        alerts,
        vec![
            ("north".to_string(), 0, vec![5, 10, 15]),
            ("north".to_string(), 30, vec![35, 40, 45]),
            ("west".to_string(), 10, vec![15, 20, 25]),
        ]
    );
}

// ---- orders: created, paid, shipped within an hour ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum OrderStep {
    Created,
    Paid,
    Shipped,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct OrderEvent {
    order: u32,
    at: i64,
    step: OrderStep,
}

fn order(order: u32, minute: i64, step: OrderStep) -> OrderEvent {
    OrderEvent {
        order,
        at: minute * MIN,
        step,
    }
}

/// The order events of `examples/cep_order_timeouts.rs`, in arrival order (up to 15
/// minutes late).
fn order_events() -> Vec<OrderEvent> {
    use OrderStep::*;
    vec![
        order(1, 0, Created),
        order(2, 5, Created),
        order(1, 10, Paid),
        order(3, 10, Created),
        order(4, 15, Created),
        order(2, 20, Paid),
        order(4, 30, Paid),
        order(5, 30, Created),
        order(1, 40, Shipped),
        order(6, 20, Created), // 20 minutes late
        order(6, 35, Paid),
        order(5, 45, Paid),
        order(2, 70, Shipped), // 65 minutes after its creation: too late
        order(4, 74, Shipped), // 59 minutes after its creation: in time
        order(6, 80, Shipped), // exactly 60 minutes: too late (last − first < 1 h)
    ]
}

fn step(s: OrderStep) -> impl Fn(&OrderEvent) -> bool + Send + Sync + 'static {
    move |e: &OrderEvent| e.step == s
}

fn order_flow() -> Pattern<OrderEvent> {
    Pattern::begin("created")
        .where_(step(OrderStep::Created))
        .followed_by("paid")
        .where_(step(OrderStep::Paid))
        .followed_by("shipped")
        .where_(step(OrderStep::Shipped))
        .within(minutes(60))
}

/// Completed: (order, created, shipped); timed out: (order, stages reached, window end),
/// minutes. Orders 1 and 4 ship in time. Order 2 ships after 65 minutes, order 6 after
/// exactly 60: both time out having been paid, at creation + 60. Order 3 is never paid.
/// Order 5 is paid, and then the input ends: the final watermark times out every partial
/// match still open, as in Flink, at its window end (30 + 60 = 90).
#[test]
fn order_timeouts() {
    type Timeout = (u32, Vec<String>, i64);
    let env = StreamEnv::new().with_parallelism(2);
    let timed_out = OutputTag::<Timeout>::new("timed-out orders");
    let completed = with_event_time(&env, order_events(), minutes(30), |e| e.at)
        .key_by(|e: &OrderEvent| e.order)
        .pattern(order_flow())
        .select_with_timeout(
            &timed_out,
            |m: Match<OrderEvent>, at| {
                let order = m.events().next().unwrap().order;
                (order, m.names().map(str::to_string).collect(), at / MIN)
            },
            |m: Match<OrderEvent>| {
                let (c, s) = (m.first("created").unwrap(), m.first("shipped").unwrap());
                (c.order, c.at / MIN, s.at / MIN)
            },
        );
    let timeouts = completed.side_output(&timed_out).collect();
    let completed = completed.collect();
    env.execute("order timeouts").unwrap();
    let mut completed = completed.take();
    completed.sort();
    let mut timeouts = timeouts.take();
    timeouts.sort();
    assert_eq!(completed, vec![(1, 0, 40), (4, 15, 74)]);
    let stages = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        timeouts,
        vec![
            (2, stages(&["created", "paid"]), 65),
            (3, stages(&["created"]), 70),
            (5, stages(&["created", "paid"]), 90),
            (6, stages(&["created", "paid"]), 80),
        ]
    );
}

// ---- the after-match skip table of docs/cep.md ----

type Letter = (String, i64);

/// `b+ c` over `b1 b2 b3 c4` (timestamps 1..4), one match per output line.
fn skip_table_row(pattern: Pattern<Letter>) -> Vec<String> {
    let env = StreamEnv::new().with_parallelism(1);
    let letters = ["b1", "b2", "b3", "c4"]
        .iter()
        .zip(1..)
        .map(|(s, ts)| (s.to_string(), ts))
        .collect::<Vec<_>>();
    let matches = with_event_time(&env, letters, Duration::ZERO, |l| l.1)
        .pattern(pattern)
        .select(|m: Match<Letter>| {
            m.events()
                .map(|e| e.0.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    env.execute("skip").unwrap();
    matches.take()
}

fn b_plus_c(skip: AfterMatchSkipStrategy, relaxed_loop: bool) -> Pattern<Letter> {
    let p = Pattern::begin_with_skip("b", skip)
        .where_(|e: &Letter| e.0.starts_with('b'))
        .one_or_more();
    let p = if relaxed_loop {
        p
    } else {
        p.consecutive().greedy()
    };
    p.next("c").where_(|e: &Letter| e.0.starts_with('c'))
}

/// Flink's documentation table (`b+ c`, `b+` greedy and consecutive, on `b1 b2 b3 c4`).
#[test]
fn skip_strategies_table() {
    let rows = [
        (
            AfterMatchSkipStrategy::no_skip(),
            vec!["b1 b2 b3 c4", "b2 b3 c4", "b3 c4"],
        ),
        (
            AfterMatchSkipStrategy::skip_to_next(),
            vec!["b1 b2 b3 c4", "b2 b3 c4", "b3 c4"],
        ),
        (
            AfterMatchSkipStrategy::skip_past_last_event(),
            vec!["b1 b2 b3 c4"],
        ),
        (
            AfterMatchSkipStrategy::skip_to_first("b"),
            vec!["b1 b2 b3 c4", "b2 b3 c4", "b3 c4"],
        ),
        (
            AfterMatchSkipStrategy::skip_to_last("b"),
            vec!["b1 b2 b3 c4", "b3 c4"],
        ),
    ];
    for (skip, expected) in rows {
        assert_eq!(
            skip_table_row(b_plus_c(skip.clone(), false)),
            expected,
            "{skip:?}"
        );
    }
}

/// With the default relaxed contiguity inside the loop, a `b+` run ignores `c4` and stays
/// alive. A skip strategy emits matches in the order of their first event, so under
/// `skip_to_first("b")` (which prunes nothing here) the matches starting at b2 and b3
/// wait for the run that started at b1: without a window they never come out; with one,
/// they come out when the earlier runs time out (here at the end of the input).
#[test]
fn skip_strategy_holds_matches_back_behind_earlier_partial_matches() {
    let skip = AfterMatchSkipStrategy::skip_to_first("b");
    assert_eq!(
        skip_table_row(b_plus_c(skip.clone(), true)),
        vec!["b1 b2 b3 c4"]
    );
    assert_eq!(
        skip_table_row(b_plus_c(skip, true).within(Duration::from_millis(100))),
        vec!["b1 b2 b3 c4", "b2 b3 c4", "b3 c4"]
    );
    assert_eq!(
        skip_table_row(b_plus_c(AfterMatchSkipStrategy::no_skip(), true)),
        vec!["b1 b2 b3 c4", "b2 b3 c4", "b3 c4"]
    );
}

// ---- non-keyed streams, processing time, late data ----

/// `DataStream::pattern`: one pattern over all events (one subtask, whatever the
/// parallelism), here across users.
#[test]
fn non_keyed_stream() {
    let env = StreamEnv::new().with_parallelism(4);
    let events: Vec<Letter> = vec![
        ("a".into(), 1),
        ("x".into(), 2),
        ("b".into(), 3),
        ("a".into(), 4),
        ("b".into(), 5),
        ("b".into(), 6),
    ];
    let p = Pattern::begin("a")
        .where_(|e: &Letter| e.0 == "a")
        .followed_by("b")
        .where_(|e: &Letter| e.0 == "b");
    let pairs = with_event_time(&env, events, Duration::ZERO, |e| e.1)
        .pattern(p)
        .select(|m: Match<Letter>| (m.first("a").unwrap().1, m.first("b").unwrap().1))
        .collect();
    let result = env.execute("non-keyed").unwrap();
    let cep = result.operators.iter().find(|o| o.name == "CEP").unwrap();
    assert_eq!(
        (cep.parallelism, cep.records_in, cep.records_out),
        (1, 6, 2)
    );
    // followed_by takes the *next* b only: a1 with b3, a4 with b5. (The sink runs with
    // parallelism 4, so the pairs arrive in any order.)
    let mut pairs = pairs.take();
    pairs.sort();
    assert_eq!(pairs, vec![(1, 3), (4, 5)]);
}

/// A pattern function that reports the stages and the match's timestamp.
#[derive(Clone)]
struct Describe;

impl PatternProcessFunction<Letter, (String, i64)> for Describe {
    fn process_match(
        &mut self,
        m: Match<Letter>,
        ctx: &mut PatternContext<'_>,
        out: &mut Collector<'_, (String, i64)>,
    ) -> Result<(), BoxError> {
        let events = m.events().map(|e| e.0.as_str()).collect::<Vec<_>>();
        out.collect((events.join(" "), ctx.timestamp()));
        Ok(())
    }
}

fn abc() -> Pattern<Letter> {
    Pattern::begin("a")
        .where_(|e: &Letter| e.0 == "a")
        .next("b")
        .where_(|e: &Letter| e.0 == "b")
        .next("c")
        .where_(|e: &Letter| e.0 == "c")
}

/// In processing time events need no timestamps and match in arrival order (the `.1`
/// fields, which would sort them differently, are ignored); a match has no timestamp.
#[test]
fn processing_time_matches_in_arrival_order() {
    let env = StreamEnv::new().with_parallelism(2);
    let events: Vec<Letter> = vec![
        ("a".into(), 30),
        ("b".into(), 10),
        ("c".into(), 20),
        ("a".into(), 1),
        ("c".into(), 2),
    ];
    let found = env
        .from_collection(events)
        .key_by(|_: &Letter| 0u8)
        .pattern(abc())
        .in_processing_time()
        .process(Describe)
        .collect();
    env.execute("processing time").unwrap();
    // The match's timestamp is the processing time it was found at.
    let found = found.take();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "a b c");
    assert!(found[0].1 > 1_600_000_000_000, "{found:?}");
}

/// In processing time a partial match times out on a processing-time timer at its window
/// end, without waiting for the key's next element (Flink notices it only then): `a`
/// starts a run with a 50 ms window and the next element comes 500 ms later, yet the
/// timeout reports the window end, 50 ms after `a` was stamped.
#[test]
fn processing_time_timeout_fires_on_a_timer() {
    use std::sync::{Arc, Mutex};
    let stamped = Arc::new(Mutex::new(Vec::<i64>::new()));
    let seen = Arc::clone(&stamped);
    // Small batches, so that each element reaches the CEP operator as soon as it is made.
    let env = StreamEnv::new()
        .with_parallelism(1)
        .with_buffer_size(1)
        .with_buffer_timeout(Duration::from_millis(1));
    let p = Pattern::begin("a")
        .where_iter(move |e: &Letter, ctx| {
            if e.0 == "a" {
                // Test only: record the processing time the event was stamped with.
                seen.lock().unwrap().push(ctx.timestamp());
            }
            e.0 == "a"
        })
        .followed_by("b")
        .where_(|e: &Letter| e.0 == "b")
        .within(Duration::from_millis(50));
    let timeouts = OutputTag::<(usize, i64)>::new("timeouts");
    let found = env
        .generate(Some(2), |i| {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(500));
            }
            (if i == 0 { "a" } else { "x" }.to_string(), 0)
        })
        .key_by(|_: &Letter| 0u8)
        .pattern(p)
        .in_processing_time()
        .select_with_timeout(
            &timeouts,
            |m: Match<Letter>, at| (m.len(), at),
            |m: Match<Letter>| m.len(),
        );
    let timed_out = found.side_output(&timeouts).collect();
    let found = found.collect();
    env.execute("processing-time timeout").unwrap();
    assert_eq!(found.take(), Vec::<usize>::new());
    let stamped = stamped.lock().unwrap().clone();
    let timed_out = timed_out.take();
    assert_eq!(stamped.len(), 1);
    assert_eq!(timed_out.len(), 1, "{timed_out:?}");
    let (events, at) = timed_out[0];
    assert_eq!(events, 1);
    // The window end; had it waited for `x`, it would be about 500 ms after `a`.
    assert!(
        (50..400).contains(&(at - stamped[0])),
        "{at} - {}",
        stamped[0]
    );
}

/// In event time the same stream without timestamps fails the job, saying what to do.
#[test]
fn event_time_without_timestamps_fails() {
    let env = StreamEnv::new();
    let _ = env
        .from_collection(vec![("a".to_string(), 1i64)])
        .key_by(|_: &Letter| 0u8)
        .pattern(abc())
        .process(Describe)
        .collect();
    let err = env.execute("no timestamps").unwrap_err().to_string();
    assert!(err.contains("CEP in event time needs timestamps"), "{err}");
}

/// In event time a match carries the timestamp of the event that completed it.
#[test]
fn event_time_match_timestamp() {
    let env = StreamEnv::new().with_parallelism(1);
    let events: Vec<Letter> = vec![("a".into(), 1), ("c".into(), 3), ("b".into(), 2)];
    let found = with_event_time(&env, events, Duration::from_millis(5), |e| e.1)
        .key_by(|_: &Letter| 0u8)
        .pattern(abc())
        .process(Describe)
        .collect();
    env.execute("event time").unwrap();
    assert_eq!(found.take(), vec![("a b c".to_string(), 3)]);
}

/// A watermark after every record, 1 s out-of-orderness: after `b@5000` the watermark is
/// 3999, so `a@2000` is late: it goes to the side output and matches nothing. `a@4500`
/// arrives after `b@5000` too, but in time: events are matched in event-time order, so it
/// pairs with `b@5000`, and `b@6000` is left without an `a`.
#[test]
fn late_events_go_to_the_side_output() {
    let env = StreamEnv::new().with_parallelism(2);
    let events: Vec<Letter> = vec![
        ("a".into(), 1_000),
        ("b".into(), 5_000),
        ("a".into(), 2_000),
        ("a".into(), 4_500),
        ("b".into(), 6_000),
    ];
    let late = OutputTag::<Letter>::new("late");
    let p = Pattern::begin("a")
        .where_(|e: &Letter| e.0 == "a")
        .followed_by("b")
        .where_(|e: &Letter| e.0 == "b");
    let pairs = with_event_time(&env, events, Duration::from_secs(1), |e| e.1)
        .key_by(|_: &Letter| 0u8)
        .pattern(p)
        .side_output_late_data(&late)
        .select(|m: Match<Letter>| (m.first("a").unwrap().1, m.first("b").unwrap().1));
    let late_events = pairs.side_output(&late).collect();
    let pairs = pairs.collect();
    env.execute("late").unwrap();
    assert_eq!(pairs.take(), vec![(1_000, 5_000), (4_500, 5_000)]);
    assert_eq!(late_events.take(), vec![("a".to_string(), 2_000)]);
}

// ---- malformed patterns ----

fn run_malformed(pattern: Pattern<Letter>) -> String {
    let env = StreamEnv::new();
    let _ = with_event_time(&env, vec![("a".to_string(), 1)], Duration::ZERO, |e| e.1)
        .key_by(|_: &Letter| 0u8)
        .pattern(pattern)
        .select(|m: Match<Letter>| m.len())
        .collect();
    env.execute("malformed").unwrap_err().to_string()
}

#[test]
fn until_on_a_stage_that_does_not_loop() {
    let p = Pattern::begin("a")
        .where_(|e: &Letter| e.0 == "a")
        .until(|e: &Letter| e.0 == "z");
    let message = "stage 'a': until applies only to looping stages (one_or_more, times_or_more)";
    assert_eq!(p.validate(), Err(CepError::Malformed(message.to_string())));
    let err = run_malformed(p);
    assert!(
        err.contains(&format!("malformed pattern: {message}")),
        "{err}"
    );
}

#[test]
fn trailing_not_followed_by_without_window() {
    let p = Pattern::begin("a")
        .where_(|e: &Letter| e.0 == "a")
        .not_followed_by("b")
        .where_(|e: &Letter| e.0 == "b");
    let message = "not_followed_by('b') as the last stage needs a window: add within(…)";
    assert_eq!(p.validate(), Err(CepError::Malformed(message.to_string())));
    let err = run_malformed(p);
    assert!(err.contains(message), "{err}");
    let fixed = Pattern::begin("a")
        .where_(|e: &Letter| e.0 == "a")
        .not_followed_by("b")
        .where_(|e: &Letter| e.0 == "b")
        .within(Duration::from_secs(1));
    assert_eq!(fixed.validate(), Ok(()));
}
