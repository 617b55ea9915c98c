//! Connected streams: co-map, co-flat-map, CoProcessFunction, and KeyedCoProcessFunction
//! with keyed state and timers shared by both inputs.

#![allow(clippy::unwrap_used)]

mod common;

use common::{execute_within, sorted};
use std::time::Duration;
use strom::prelude::*;
use strom::process::{CoProcessFunction, KeyedCoProcessFunction};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn co_map_and_co_flat_map() {
    let env = StreamEnv::new().with_parallelism(2);
    let numbers = env.from_collection(vec![1i64, 2, 3]);
    let words = env.from_collection(vec!["x".to_string(), "yy".to_string()]);
    let mapped = numbers
        .clone()
        .connect(words.clone())
        .map(|n| format!("n{n}"), |w| format!("w{w}"))
        .collect();
    let flat = numbers
        .connect(words)
        .flat_map(
            |n, out: &mut Collector<i64>| {
                for _ in 0..n {
                    out.collect(n);
                }
            },
            |w: String, out: &mut Collector<i64>| out.collect(-(w.len() as i64)),
        )
        .collect();
    execute_within(&env, "co-map", LIMIT).unwrap();
    assert_eq!(sorted(mapped.take()), vec!["n1", "n2", "n3", "wx", "wyy"]);
    assert_eq!(sorted(flat.take()), vec![-2, -1, 1, 2, 2, 3, 3, 3]);
}

#[derive(Clone, Default)]
struct Counter {
    first: u32,
    second: u32,
}

impl CoProcessFunction<i32, String, String> for Counter {
    fn process_element1(
        &mut self,
        v: i32,
        _: &mut ProcessContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        self.first += 1;
        out.collect(format!("1:{v}:{}", self.first));
        Ok(())
    }
    fn process_element2(
        &mut self,
        v: String,
        _: &mut ProcessContext<'_>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        self.second += 1;
        out.collect(format!("2:{v}:{}", self.second));
        Ok(())
    }
}

#[test]
fn co_process_function_sees_each_input_with_its_own_method() {
    let env = StreamEnv::new().with_parallelism(1);
    let out = env
        .from_collection(vec![10, 20])
        .connect(env.from_collection(vec!["a".to_string()]))
        .process(Counter::default())
        .collect();
    execute_within(&env, "co-process", LIMIT).unwrap();
    assert_eq!(sorted(out.take()), vec!["1:10:1", "1:20:2", "2:a:1"]);
}

/// Enrichment: the second input sets a per-key rate, the first input's amounts are
/// converted with the current rate; amounts seen before any rate wait in keyed state and are
/// converted when their rate arrives. An event-time timer per key reports the key's total
/// at the end.
#[derive(Clone)]
struct Convert {
    rate: ValueStateDescriptor<f64>,
    pending: ListStateDescriptor<f64>,
    total: ValueStateDescriptor<f64>,
}

type Amount = (String, f64, i64); // (currency, amount, ts)
type Rate = (String, f64, i64); // (currency, rate, ts)

impl KeyedCoProcessFunction<String, Amount, Rate, String> for Convert {
    fn process_element1(
        &mut self,
        a: Amount,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        match ctx.value_state(&self.rate).value()? {
            Some(r) => {
                let mut t = ctx.value_state(&self.total);
                let total = t.value()?.unwrap_or(0.0) + a.1 * r;
                t.update(total)?;
                out.collect(format!("{}:{}", a.0, a.1 * r));
            }
            None => ctx.list_state(&self.pending).add(a.1)?,
        }
        ctx.timer_service().register_event_time_timer(1_000);
        Ok(())
    }
    fn process_element2(
        &mut self,
        r: Rate,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        ctx.value_state(&self.rate).update(r.1)?;
        let waiting = ctx.list_state(&self.pending).get()?;
        ctx.list_state(&self.pending).clear()?;
        let mut t = ctx.value_state(&self.total);
        let mut total = t.value()?.unwrap_or(0.0);
        for a in waiting {
            total += a * r.1;
            out.collect(format!("{}:{}", r.0, a * r.1));
        }
        t.update(total)?;
        Ok(())
    }
    fn on_timer(
        &mut self,
        _: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), BoxError> {
        let total = ctx.value_state(&self.total).value()?.unwrap_or(0.0);
        out.collect(format!("total {}:{total}", ctx.key()));
        Ok(())
    }
}

#[test]
fn keyed_co_process_shares_state_and_timers_across_inputs() {
    for p in [1, 2] {
        let env = StreamEnv::new().with_parallelism(p);
        let ts = |e: &(String, f64, i64), _| e.2;
        let wm = || {
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::ZERO)
                .with_timestamp_assigner(ts)
                .with_emission_interval(Duration::ZERO)
        };
        let amounts = env
            .from_collection(vec![
                ("EUR".to_string(), 10.0, 1),
                ("USD".to_string(), 5.0, 2),
                ("EUR".to_string(), 1.0, 3),
            ])
            .assign_timestamps_and_watermarks(wm())
            .set_parallelism(1);
        let rates = env
            .from_collection(vec![
                ("EUR".to_string(), 2.0, 1),
                ("USD".to_string(), 0.5, 2),
            ])
            .assign_timestamps_and_watermarks(wm())
            .set_parallelism(1);
        let out = amounts
            .connect(rates)
            .key_by(|a: &Amount| a.0.clone(), |r: &Rate| r.0.clone())
            .process(Convert {
                rate: ValueStateDescriptor::new("rate"),
                pending: ListStateDescriptor::new("pending"),
                total: ValueStateDescriptor::new("total"),
            })
            .collect();
        execute_within(&env, "enrich", LIMIT).unwrap();
        // Whether an amount meets its rate first or waits for it depends on the
        // interleaving of the two inputs; the converted values and totals do not.
        assert_eq!(
            sorted(out.take()),
            vec![
                "EUR:2",
                "EUR:20",
                "USD:2.5",
                "total EUR:22",
                "total USD:2.5"
            ],
            "parallelism {p}"
        );
    }
}
