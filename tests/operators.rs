//! Every operator of the DataStream API, with exact expected outputs, at several
//! parallelisms.

mod common;

use common::{execute_within, sorted};
use std::time::Duration;
use strom::prelude::*;

const LIMIT: Duration = Duration::from_secs(60);

fn env(p: usize) -> StreamEnv {
    StreamEnv::new().with_parallelism(p)
}

#[test]
fn map_filter_flat_map() {
    for p in [1, 2, 4] {
        let env = env(p);
        let out = env
            .from_collection((0i64..100).collect())
            .rebalance()
            .map(|x| x * 3)
            .filter(|x| x % 2 == 0)
            .flat_map(|x: i64, out: &mut Collector<i64>| {
                for _ in 0..(x % 4) {
                    out.collect(x);
                }
            })
            .collect();
        let r = execute_within(&env, "mff", LIMIT).unwrap();
        let expected: Vec<i64> = (0i64..100)
            .map(|x| x * 3)
            .filter(|x| x % 2 == 0)
            .flat_map(|x| std::iter::repeat_n(x, (x % 4) as usize))
            .collect();
        assert_eq!(
            sorted(out.take()),
            sorted(expected.clone()),
            "parallelism {p}"
        );
        assert_eq!(r.operator("Map").unwrap().records_in, 100);
        assert_eq!(r.operator("Filter").unwrap().records_out, 50);
        assert_eq!(
            r.operator("Flat Map").unwrap().records_out,
            expected.len() as u64
        );
        assert_eq!(
            r.operator("Sink: Collect").unwrap().records_in,
            expected.len() as u64
        );
    }
}

#[test]
fn order_is_kept_on_forward_chains() {
    let env = env(1);
    let out = env
        .from_collection((0u32..10_000).collect())
        .map(|x| x + 1)
        .collect();
    execute_within(&env, "order", LIMIT).unwrap();
    assert_eq!(out.take(), (1u32..10_001).collect::<Vec<_>>());
}

#[test]
fn process_function_with_side_outputs() {
    let small = OutputTag::<String>::new("small");
    for p in [1, 3] {
        let tag = small.clone();
        let env = env(p);
        let main = env
            .from_collection((0i32..20).collect())
            .rebalance()
            .process(
                move |v: i32, ctx: &mut ProcessContext, out: &mut Collector<i32>| {
                    if v < 5 {
                        ctx.output(&tag, format!("small:{v}"));
                    } else {
                        out.collect(v * 10);
                    }
                    Ok(())
                },
            );
        let side = main.side_output(&small).collect();
        let main = main.collect();
        execute_within(&env, "side", LIMIT).unwrap();
        assert_eq!(
            sorted(main.take()),
            (5..20).map(|v| v * 10).collect::<Vec<_>>()
        );
        assert_eq!(
            sorted(side.take()),
            sorted((0..5).map(|v| format!("small:{v}")).collect::<Vec<_>>())
        );
    }
}

#[derive(Clone)]
struct Counter {
    seen: u64,
}

impl ProcessFunction<u64, (u64, u64)> for Counter {
    fn process_element(
        &mut self,
        value: u64,
        _ctx: &mut ProcessContext<'_>,
        out: &mut Collector<'_, (u64, u64)>,
    ) -> Result<(), BoxError> {
        self.seen += 1;
        out.collect((value, self.seen));
        Ok(())
    }
}

#[test]
fn process_function_struct_keeps_per_subtask_state() {
    let env = env(2);
    let out = env
        .generate(Some(10), |i| i)
        .process(Counter { seen: 0 })
        .collect();
    execute_within(&env, "counter", LIMIT).unwrap();
    let got = sorted(out.take());
    // Each subtask generates indices by stride 2 and counts its own records from 1.
    let expected: Vec<(u64, u64)> = (0..10).map(|i| (i, i / 2 + 1)).collect();
    assert_eq!(got, expected);
}

#[test]
fn union_merges_streams() {
    let env = env(2);
    let a = env.from_collection(vec![1, 2, 3]);
    let b = env.from_collection(vec![10, 20]);
    let c = env.generate(Some(3), |i| 100 + i as i32);
    let out = a.union([b, c]).map(|x| x + 1).collect();
    execute_within(&env, "union", LIMIT).unwrap();
    assert_eq!(sorted(out.take()), vec![2, 3, 4, 11, 21, 101, 102, 103]);
}

#[test]
fn one_stream_feeds_several_consumers() {
    let env = env(2);
    let s = env.from_collection(vec![1, 2, 3]).map(|x| x * 2);
    let a = s.clone().map(|x| x + 1).collect();
    let b = s.filter(|x| *x > 2).collect();
    execute_within(&env, "fanout", LIMIT).unwrap();
    assert_eq!(sorted(a.take()), vec![3, 5, 7]);
    assert_eq!(sorted(b.take()), vec![4, 6]);
}

fn keyed_input() -> Vec<(String, i64)> {
    vec![
        ("a".into(), 3),
        ("b".into(), 1),
        ("a".into(), -2),
        ("c".into(), 7),
        ("b".into(), 5),
        ("a".into(), 10),
        ("c".into(), 7),
    ]
}

/// Per key, in input order: the expected rolling outputs of `f`.
fn rolling(f: impl Fn(&(String, i64), &(String, i64)) -> (String, i64)) -> Vec<(String, i64)> {
    let mut acc: std::collections::HashMap<String, (String, i64)> = Default::default();
    let mut out = Vec::new();
    for r in keyed_input() {
        let next = match acc.get(&r.0) {
            Some(a) => f(a, &r),
            None => r.clone(),
        };
        acc.insert(r.0.clone(), next.clone());
        out.push(next);
    }
    sorted(out)
}

#[test]
fn rolling_aggregations() {
    for p in [1, 2, 4] {
        let env = env(p);
        let src = env.from_collection(keyed_input());
        let key = |t: &(String, i64)| t.0.clone();
        // Field accessors are passed inline so that their lifetimes are inferred generically.
        let sum = src
            .clone()
            .key_by(key)
            .sum(|t: &mut (String, i64)| &mut t.1)
            .collect();
        let min = src
            .clone()
            .key_by(key)
            .min(|t: &mut (String, i64)| &mut t.1)
            .collect();
        let max = src
            .clone()
            .key_by(key)
            .max(|t: &mut (String, i64)| &mut t.1)
            .collect();
        let reduce = src
            .clone()
            .key_by(key)
            .reduce(|a, b| (a.0, a.1 * 10 + b.1))
            .collect();
        let min_by = src
            .key_by(key)
            .min_by(|t: &mut (String, i64)| &mut t.1)
            .collect();
        execute_within(&env, "rolling", LIMIT).unwrap();
        assert_eq!(
            sorted(sum.take()),
            rolling(|a, b| (a.0.clone(), a.1 + b.1)),
            "p={p}"
        );
        assert_eq!(
            sorted(min.take()),
            rolling(|a, b| (a.0.clone(), a.1.min(b.1)))
        );
        assert_eq!(
            sorted(max.take()),
            rolling(|a, b| (a.0.clone(), a.1.max(b.1)))
        );
        assert_eq!(
            sorted(reduce.take()),
            rolling(|a, b| (a.0.clone(), a.1 * 10 + b.1))
        );
        assert_eq!(
            sorted(min_by.take()),
            rolling(|a, b| if b.1 < a.1 { b.clone() } else { a.clone() })
        );
    }
}

#[test]
fn rolling_sum_per_key_is_ordered_and_exact_at_scale() {
    let env = env(2);
    let n = 200_000u64;
    let out = env
        .generate(Some(n), |i| (i % 97, i))
        .key_by(|t: &(u64, u64)| t.0)
        .sum(|t: &mut (u64, u64)| &mut t.1)
        .collect();
    let r = execute_within(&env, "sum", LIMIT).unwrap();
    let got = out.take();
    assert_eq!(got.len() as u64, n);
    // The last (largest) rolling sum per key is the key's total.
    let mut last = std::collections::HashMap::new();
    for (k, s) in got {
        let e = last.entry(k).or_insert(0u64);
        *e = (*e).max(s);
    }
    for k in 0..97u64 {
        let total: u64 = (0..n).filter(|i| i % 97 == k).sum();
        assert_eq!(last[&k], total, "key {k}");
    }
    assert_eq!(r.operator("Keyed Sum").unwrap().records_in, n);
}

#[test]
fn process_functions_keep_operator_list_state() {
    use strom::state::OperatorListStateDescriptor;
    let env = env(1);
    let seen = OperatorListStateDescriptor::<i32>::even_split("seen");
    let out = env
        .from_collection(vec![5, 6, 7])
        .process(
            move |v: i32, ctx: &mut ProcessContext, out: &mut Collector<usize>| {
                let list = ctx.operator_list_state(&seen)?;
                list.push(v);
                out.collect(list.len());
                Ok(())
            },
        )
        .collect();
    execute_within(&env, "operator state", LIMIT).unwrap();
    assert_eq!(out.take(), vec![1, 2, 3]);
}
