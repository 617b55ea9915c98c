//! Keyed process functions: keyed state of every kind, and event-time timers (order,
//! dedup, delete), with exact outputs at parallelism 1 and 2.

#![allow(clippy::unwrap_used)]

mod common;

use common::{execute_within, sorted};
use std::time::Duration;
use strom::prelude::*;

const LIMIT: Duration = Duration::from_secs(60);

type Ev = (String, i64); // (key, timestamp)

fn events(env: &StreamEnv, items: &[(&str, i64)]) -> DataStream<Ev> {
    env.from_collection(items.iter().map(|(k, t)| (k.to_string(), *t)).collect())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO)
                .with_timestamp_assigner(|e: &Ev, _| e.1)
                .with_emission_interval(Duration::ZERO),
        )
        .set_parallelism(1)
}

#[test]
fn value_state_counts_per_key() {
    for p in [1, 2] {
        let env = StreamEnv::new().with_parallelism(p);
        let count = ValueStateDescriptor::<u64>::new("count");
        let out = events(&env, &[("a", 1), ("b", 2), ("a", 3), ("a", 4), ("b", 5)])
            .key_by(|e: &Ev| e.0.clone())
            .process(
                move |e: Ev, ctx: &mut KeyedContext<String>, out: &mut Collector<(String, u64)>| {
                    let mut c = ctx.value_state(&count);
                    let n = c.value()?.unwrap_or(0) + 1;
                    c.update(n)?;
                    out.collect((e.0, n));
                    Ok(())
                },
            )
            .collect();
        execute_within(&env, "count", LIMIT).unwrap();
        let want: Vec<(String, u64)> = [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2)]
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        assert_eq!(sorted(out.take()), want, "parallelism {p}");
    }
}

/// Emits `(key, count, last timestamp)` once a key has been silent for 10 ms of event time:
/// every element moves the key's timer (delete the old one, register a new one).
#[derive(Clone)]
struct Inactivity {
    count: ValueStateDescriptor<u64>,
    last: ValueStateDescriptor<i64>,
}

impl KeyedProcessFunction<String, Ev, (String, u64, i64)> for Inactivity {
    fn process_element(
        &mut self,
        e: Ev,
        ctx: &mut KeyedContext<'_, String>,
        _out: &mut Collector<'_, (String, u64, i64)>,
    ) -> Result<(), BoxError> {
        let previous = ctx.value_state(&self.last).value()?;
        if let Some(t) = previous {
            ctx.timer_service().delete_event_time_timer(t + 10);
        }
        ctx.value_state(&self.last).update(e.1)?;
        let mut c = ctx.value_state(&self.count);
        let n = c.value()?.unwrap_or(0);
        c.update(n + 1)?;
        ctx.timer_service().register_event_time_timer(e.1 + 10);
        // Registering the same timer twice keeps one.
        ctx.timer_service().register_event_time_timer(e.1 + 10);
        Ok(())
    }

    fn on_timer(
        &mut self,
        t: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, (String, u64, i64)>,
    ) -> Result<(), BoxError> {
        assert_eq!(ctx.time_domain(), Some(TimeDomain::EventTime));
        assert_eq!(ctx.timestamp(), Some(t));
        let n = ctx.value_state(&self.count).value()?.unwrap_or(0);
        let last = ctx.value_state(&self.last).value()?.unwrap_or(-1);
        out.collect((ctx.key().clone(), n, last));
        ctx.value_state(&self.count).clear()?;
        ctx.value_state(&self.last).clear()?;
        Ok(())
    }
}

#[test]
fn event_time_timers_fire_once_per_key_and_time_and_can_be_deleted() {
    for p in [1, 2] {
        let env = StreamEnv::new().with_parallelism(p);
        let out = events(
            &env,
            &[
                ("a", 0),
                ("b", 1),
                ("a", 5),
                ("a", 30),
                ("b", 40),
                ("a", 45),
                ("b", 44),
            ],
        )
        .key_by(|e: &Ev| e.0.clone())
        .process(Inactivity {
            count: ValueStateDescriptor::new("count"),
            last: ValueStateDescriptor::new("last"),
        })
        .collect();
        execute_within(&env, "inactivity", LIMIT).unwrap();
        // Each record meets the watermark of the records before it. a@30 arrives with
        // watermark 4, so it deletes a's timer 15 before it could fire; a's last timer (55)
        // fires at the end with all four records. b's timer 11 fires at watermark 29 (after
        // a@30), before b@40; b@44 deletes b's timer 50 and 54 fires at the end.
        let recs = out.take_records();
        let mut got: Vec<(String, u64, i64, i64)> = recs
            .into_iter()
            .map(|r| (r.value.0, r.value.1, r.value.2, r.timestamp))
            .collect();
        got.sort();
        let want = vec![
            ("a".to_string(), 4, 45, 55),
            ("b".to_string(), 1, 1, 11),
            ("b".to_string(), 2, 44, 54),
        ];
        assert_eq!(got, want, "parallelism {p}");
    }
}

#[test]
fn timers_fire_in_timestamp_order() {
    let env = StreamEnv::new().with_parallelism(1);
    let out = events(&env, &[("a", 50), ("b", 10), ("c", 30), ("z", 100)])
        .key_by(|e: &Ev| e.0.clone())
        .process(TimerOrder)
        .collect();
    execute_within(&env, "order", LIMIT).unwrap();
    // The watermark jumps to 99 with the record at 100: the three timers fire in order.
    assert_eq!(out.take(), vec![11, 31, 51, 101]);
}

#[derive(Clone)]
struct TimerOrder;

impl KeyedProcessFunction<String, Ev, i64> for TimerOrder {
    fn process_element(
        &mut self,
        e: Ev,
        ctx: &mut KeyedContext<'_, String>,
        _: &mut Collector<'_, i64>,
    ) -> Result<(), BoxError> {
        ctx.timer_service().register_event_time_timer(e.1 + 1);
        Ok(())
    }
    fn on_timer(
        &mut self,
        t: i64,
        _: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, i64>,
    ) -> Result<(), BoxError> {
        out.collect(t);
        Ok(())
    }
}

#[test]
fn list_and_map_state_in_a_process_function() {
    let env = StreamEnv::new().with_parallelism(2);
    let seen = MapStateDescriptor::<i64, bool>::new("seen");
    let history = ListStateDescriptor::<i64>::new("history");
    let out = events(
        &env,
        &[("a", 1), ("a", 2), ("a", 1), ("b", 7), ("b", 7), ("a", 3)],
    )
    .key_by(|e: &Ev| e.0.clone())
    .process(
        move |e: Ev, ctx: &mut KeyedContext<String>, out: &mut Collector<(String, Vec<i64>)>| {
            // Deduplicate timestamps per key, keep the history of the distinct ones.
            if ctx.map_state(&seen).contains(&e.1)? {
                return Ok(());
            }
            ctx.map_state(&seen).put(e.1, true)?;
            let mut h = ctx.list_state(&history);
            h.add(e.1)?;
            out.collect((e.0, h.get()?));
            Ok(())
        },
    )
    .collect();
    execute_within(&env, "dedup", LIMIT).unwrap();
    let want = vec![
        ("a".to_string(), vec![1]),
        ("a".to_string(), vec![1, 2]),
        ("a".to_string(), vec![1, 2, 3]),
        ("b".to_string(), vec![7]),
    ];
    assert_eq!(sorted(out.take()), want);
}
