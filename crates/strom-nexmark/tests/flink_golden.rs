//! Every deterministic Nexmark query gives the same result table as Apache Flink 2.3 running
//! the reference SQL text on the same events (`benchmarks/nexmark/flink-golden.sh` made the
//! files in `tests/data/flink/`; their README gives the generator parameters, which
//! [`config`] repeats). q12 windows by processing time and is left out.

use serde_json::Value;
use std::path::PathBuf;
use strom_api::{DataStream, StreamEnv};
use strom_nexmark::queries::suite::{self, Query, QueryInputs, RowSink};
use strom_nexmark::queries::{QueryRow, final_table};
use strom_nexmark::{NexmarkConfig, source};

/// The events `flink-golden.sh` generated for Flink.
fn config() -> NexmarkConfig {
    NexmarkConfig {
        event_rate: GOLDEN_EVENT_RATE,
        ..NexmarkConfig::new(GOLDEN_SEED, GOLDEN_EVENTS)
    }
}

const GOLDEN_SEED: u64 = 1;
const GOLDEN_EVENTS: u64 = 2_000;
const GOLDEN_EVENT_RATE: u64 = 25;

type Table = Vec<Vec<Value>>;

/// Collects the query's rows; `table` turns them into the result table after the job.
#[derive(Default)]
struct Collect {
    table: Option<Box<dyn FnOnce() -> Table>>,
}

impl RowSink for Collect {
    fn attach<T: QueryRow + Sync>(&mut self, _: Query, rows: DataStream<T>) {
        let handle = rows.collect();
        self.table = Some(Box::new(move || final_table(handle.take())));
    }
}

fn strom_table(query: Query, parallelism: usize) -> Table {
    let env = StreamEnv::new().with_parallelism(parallelism);
    let events = source::generated_events(&env, config()).expect("valid config");
    let mut sink = Collect::default();
    suite::build(query, events, &QueryInputs::default(), &mut sink);
    env.execute(&format!("golden {query}")).expect("job runs");
    (sink.table.expect("the query attached its output"))()
}

fn flink_table(query: Query) -> Table {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/flink")
        .join(format!("{}.jsonl", query.name()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Table = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("golden rows are JSON arrays"))
        .collect();
    rows.sort_by_cached_key(|r| Value::Array(r.clone()).to_string());
    rows
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
            }
        },
        _ => a == b,
    }
}

/// Compare two sorted tables, rows matched in order (float cells within 1e-9 relative).
fn assert_same(query: Query, strom: &Table, flink: &Table) {
    assert!(!flink.is_empty(), "{query}: the golden table is empty");
    assert_eq!(
        strom.len(),
        flink.len(),
        "{query}: Strom has {} rows, Flink {}",
        strom.len(),
        flink.len()
    );
    for (i, (s, f)) in strom.iter().zip(flink).enumerate() {
        let same = s.len() == f.len() && s.iter().zip(f).all(|(a, b)| same_value(a, b));
        assert!(
            same,
            "{query}: row {i} differs\n strom: {s:?}\n flink: {f:?}"
        );
    }
}

#[test]
fn every_deterministic_query_matches_flink() {
    for query in Query::ALL {
        if query.uses_processing_time() && query != Query::Q13 {
            continue;
        }
        let flink = flink_table(query);
        for parallelism in [1, 2] {
            let strom = strom_table(query, parallelism);
            assert_same(query, &strom, &flink);
        }
    }
}
