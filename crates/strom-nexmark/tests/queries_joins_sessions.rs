//! q8, q9, q11, q12, q13 and q14 run as real jobs (parallelism 1 and 2) on generated events,
//! checked against brute-force results computed here by plain loops over the generator's
//! events, following the reference SQL texts literally.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use strom_api::{DataStream, StreamEnv};
use strom_core::Clock;
use strom_nexmark::model::Text;
use strom_nexmark::queries::q8::{Q8Row, q8};
use strom_nexmark::queries::q9::{Q9Row, q9};
use strom_nexmark::queries::q11::{Q11Row, q11};
use strom_nexmark::queries::q12::{Q12Row, q12};
use strom_nexmark::queries::q13::{Q13Row, SideInput, SideInputError, q13};
use strom_nexmark::queries::q14::{Q14Row, bid_time_type, count_char, in_price_band, q14};
use strom_nexmark::queries::{QueryRow, final_table};
use strom_nexmark::source::generated_events;
use strom_nexmark::{Event, NexmarkConfig, NexmarkGenerator};

const SEED: u64 = 7;

/// The configurations each query runs on: in order; out of order within groups of 100;
/// and slower event time (more windows, sessions and auction lifetimes per event).
fn configs(events: u64) -> Vec<(&'static str, NexmarkConfig)> {
    vec![
        ("in order", NexmarkConfig::new(SEED, events)),
        (
            "out of order",
            NexmarkConfig {
                out_of_order_group_size: 100,
                ..NexmarkConfig::new(SEED + 1, events)
            },
        ),
        (
            "slow, out of order",
            NexmarkConfig {
                event_rate: 500,
                out_of_order_group_size: 100,
                ..NexmarkConfig::new(SEED + 2, events)
            },
        ),
    ]
}

fn events_of(config: &NexmarkConfig) -> Vec<Event> {
    NexmarkGenerator::new(config.clone())
        .expect("valid config")
        .events()
        .collect()
}

/// Run `query` over the generated events of `config` at `parallelism` and collect its rows.
fn run<R: QueryRow>(
    env: StreamEnv,
    config: &NexmarkConfig,
    query: impl FnOnce(DataStream<Event>) -> DataStream<R>,
) -> Vec<R> {
    let events = generated_events(&env, config.clone()).expect("valid config");
    let out = query(events).collect();
    env.execute("nexmark query").expect("the job runs");
    out.take()
}

fn env(parallelism: usize) -> StreamEnv {
    StreamEnv::new().with_parallelism(parallelism)
}

/// Run `query` at parallelism 1 and 2 on every configuration and compare the final tables
/// with `expected(events)`; returns the smallest result size seen.
fn check<R: QueryRow>(
    events: u64,
    query: impl Fn(DataStream<Event>) -> DataStream<R>,
    expected: impl Fn(&[Event]) -> Vec<R>,
) -> usize {
    let mut smallest = usize::MAX;
    for (what, config) in configs(events) {
        let want = final_table(expected(&events_of(&config)));
        for p in [1, 2] {
            let got = final_table(run(env(p), &config, &query));
            assert_tables_eq(&got, &want, &format!("{what}, parallelism {p}"));
        }
        smallest = smallest.min(want.len());
    }
    smallest
}

/// Exact equality, except that floating-point numbers may differ by 1e-9 relative.
fn assert_tables_eq(got: &[Vec<Value>], want: &[Vec<Value>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = g.len() == w.len()
            && g.iter().zip(w).all(|(a, b)| match (a, b) {
                (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
                    let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(0.0));
                    (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
                }
                _ => a == b,
            });
        assert!(same, "{what}: row {i} differs:\n got {g:?}\nwant {w:?}");
    }
}

fn bids(events: &[Event]) -> impl Iterator<Item = &strom_nexmark::Bid> {
    events.iter().filter_map(|e| match e {
        Event::Bid(b) => Some(b),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------
// q8
// ---------------------------------------------------------------------------------------

/// Both sides grouped per 10 s tumbling window, then joined on id = seller and the window.
fn q8_brute_force(events: &[Event]) -> Vec<Q8Row> {
    let start = |t: i64| t - t.rem_euclid(10_000);
    let mut persons = BTreeSet::new();
    let mut sellers = BTreeSet::new();
    for e in events {
        match e {
            Event::Person(p) => {
                persons.insert((p.id, p.name.clone(), start(p.date_time)));
            }
            Event::Auction(a) => {
                sellers.insert((a.seller, start(a.date_time)));
            }
            Event::Bid(_) => {}
        }
    }
    persons
        .into_iter()
        .filter(|(id, _, ws)| sellers.contains(&(*id, *ws)))
        .map(|(id, name, starttime)| Q8Row {
            id,
            name,
            starttime,
        })
        .collect()
}

#[test]
fn q8_new_users_match_brute_force() {
    let n = check(40_000, q8, q8_brute_force);
    assert!(n >= 10, "too few rows to be a test: {n}");
}

// ---------------------------------------------------------------------------------------
// q9
// ---------------------------------------------------------------------------------------

/// Join every auction with its bids placed while it was open; keep the best by price
/// descending, time ascending (then bidder and extra ascending, q9's tie-break).
fn q9_brute_force(events: &[Event]) -> Vec<Q9Row> {
    let mut bids_of: HashMap<i64, Vec<&strom_nexmark::Bid>> = HashMap::new();
    for b in bids(events) {
        bids_of.entry(b.auction).or_default().push(b);
    }
    let mut best: BTreeMap<i64, (&strom_nexmark::Auction, &strom_nexmark::Bid)> = BTreeMap::new();
    for a in events.iter().filter_map(|e| match e {
        Event::Auction(a) => Some(a),
        _ => None,
    }) {
        for &b in bids_of.get(&a.id).into_iter().flatten() {
            if a.id == b.auction && a.date_time <= b.date_time && b.date_time <= a.expires {
                let better = match best.get(&a.id) {
                    None => true,
                    Some((_, o)) => {
                        (std::cmp::Reverse(b.price), b.date_time, b.bidder, &b.extra)
                            < (std::cmp::Reverse(o.price), o.date_time, o.bidder, &o.extra)
                    }
                };
                if better {
                    best.insert(a.id, (a, b));
                }
            }
        }
    }
    best.into_values()
        .map(|(a, b)| Q9Row {
            id: a.id,
            item_name: a.item_name.clone(),
            description: a.description.clone(),
            initial_bid: a.initial_bid,
            reserve: a.reserve,
            date_time: a.date_time,
            expires: a.expires,
            seller: a.seller,
            category: a.category,
            extra: a.extra.clone(),
            auction: b.auction,
            bidder: b.bidder,
            price: b.price,
            bid_date_time: b.date_time,
            bid_extra: b.extra.clone(),
        })
        .collect()
}

#[test]
fn q9_winning_bids_match_brute_force() {
    let n = check(30_000, q9, q9_brute_force);
    assert!(n >= 200, "too few rows to be a test: {n}");
    // Out of order, some winning bids come before their auction (and must wait for it).
    let (_, config) = configs(30_000).swap_remove(1);
    let events = events_of(&config);
    let position: HashMap<(i64, i64, i64), usize> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::Bid(b) => Some(((b.auction, b.date_time, b.price), i)),
            _ => None,
        })
        .collect();
    let auction_at: HashMap<i64, usize> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::Auction(a) => Some((a.id, i)),
            _ => None,
        })
        .collect();
    let early = q9_brute_force(&events)
        .iter()
        .filter(|r| position[&(r.id, r.bid_date_time, r.price)] < auction_at[&r.id])
        .count();
    assert!(early > 0, "no winning bid precedes its auction");
}

#[test]
fn q9_emits_far_fewer_rows_than_bids_and_each_auction_once_per_change() {
    let config = NexmarkConfig::new(SEED, 30_000);
    let rows = run(env(2), &config, q9);
    let events = events_of(&config);
    let bid_count = bids(&events).count();
    assert!(!rows.is_empty());
    assert!(rows.len() < bid_count / 2, "{} rows", rows.len());
    // Every emitted row is a valid match.
    for r in &rows {
        assert_eq!(r.id, r.auction);
        assert!(r.date_time <= r.bid_date_time && r.bid_date_time <= r.expires);
    }
}

// ---------------------------------------------------------------------------------------
// q11
// ---------------------------------------------------------------------------------------

/// Per bidder, sort the bid times and cut where the next bid is more than the gap after
/// the previous one (windows `[t, t + gap)` that overlap or touch merge).
fn q11_brute_force(events: &[Event]) -> Vec<Q11Row> {
    const GAP: i64 = 10_000;
    let mut times: HashMap<i64, Vec<i64>> = HashMap::new();
    for b in bids(events) {
        times.entry(b.bidder).or_default().push(b.date_time);
    }
    let mut rows = Vec::new();
    for (bidder, mut ts) in times {
        ts.sort_unstable();
        let mut start = ts[0];
        let mut last = ts[0];
        let mut count = 0;
        for t in ts {
            if t > last + GAP {
                rows.push(Q11Row {
                    bidder,
                    bid_count: count,
                    starttime: start,
                    endtime: last + GAP,
                });
                start = t;
                count = 0;
            }
            last = t;
            count += 1;
        }
        rows.push(Q11Row {
            bidder,
            bid_count: count,
            starttime: start,
            endtime: last + GAP,
        });
    }
    rows
}

#[test]
fn q11_sessions_match_brute_force() {
    let n = check(30_000, q11, q11_brute_force);
    assert!(n >= 50, "too few rows to be a test: {n}");
    // The slow configuration has bidders with several sessions.
    let (_, slow) = configs(30_000).pop().expect("three configs");
    let rows = q11_brute_force(&events_of(&slow));
    let bidders: BTreeSet<i64> = rows.iter().map(|r| r.bidder).collect();
    assert!(rows.len() > bidders.len(), "some bidder has two sessions");
}

// ---------------------------------------------------------------------------------------
// q12
// ---------------------------------------------------------------------------------------

/// A clock that moves a whole window (10 s) forward every time it is read: every window
/// has ended by the next time an operator looks at the clock, so all windows fire before
/// the end of the input, while which bids share a window still depends on the run.
struct SteppingClock(AtomicI64);

impl Clock for SteppingClock {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(10_000, Ordering::SeqCst)
    }
}

fn bids_per_bidder(events: &[Event]) -> BTreeMap<i64, i64> {
    let mut counts = BTreeMap::new();
    for b in bids(events) {
        *counts.entry(b.bidder).or_insert(0) += 1;
    }
    counts
}

#[test]
fn q12_processing_time_windows_count_every_bid_once() {
    for (what, config) in configs(20_000) {
        let want = bids_per_bidder(&events_of(&config));
        for p in [1, 2] {
            // Start at an unaligned time: windows must still be aligned to 10 s.
            let clock = Arc::new(SteppingClock(AtomicI64::new(1_700_000_003_217)));
            let rows: Vec<Q12Row> = run(env(p).with_clock(clock), &config, q12);
            let mut got = BTreeMap::new();
            let mut windows = BTreeSet::new();
            for r in &rows {
                assert_eq!(r.starttime.rem_euclid(10_000), 0, "{what}: {r:?}");
                assert_eq!(r.endtime, r.starttime + 10_000, "{what}: {r:?}");
                assert!(r.bid_count > 0, "{what}: {r:?}");
                assert!(
                    windows.insert((r.bidder, r.starttime)),
                    "{what}: one row per bidder and window: {r:?}"
                );
                *got.entry(r.bidder).or_insert(0) += r.bid_count;
            }
            assert_eq!(got, want, "{what}, parallelism {p}: bids per bidder");
            assert!(want.len() > 50);
        }
    }
}

#[test]
fn q12_windows_the_clock_has_not_closed_are_not_emitted() {
    // A clock that stands still: every bid lands in the window of that instant, which never
    // ends while the job runs; at the end of the bounded input it is not emitted (as in
    // Flink, whose processing-time timers do not fire at the end of input).
    let clock = strom_core::ManualClock::new(1_700_000_000_000);
    let rows = run(
        env(2).with_clock(Arc::new(clock)),
        &NexmarkConfig::new(SEED, 5_000),
        q12,
    );
    assert!(rows.is_empty(), "{rows:?}");
}

// ---------------------------------------------------------------------------------------
// q13
// ---------------------------------------------------------------------------------------

/// A hash join of the bids with the side input rows on `auction mod 10000 = key`.
fn q13_brute_force(events: &[Event], side: &[(i64, Text)]) -> Vec<Q13Row> {
    let mut by_key: HashMap<i64, Vec<&Text>> = HashMap::new();
    for (key, value) in side {
        by_key.entry(*key).or_default().push(value);
    }
    let mut rows = Vec::new();
    for b in bids(events) {
        for &value in by_key.get(&(b.auction % 10_000)).into_iter().flatten() {
            rows.push(Q13Row {
                auction: b.auction,
                bidder: b.bidder,
                price: b.price,
                date_time: b.date_time,
                value: value.clone(),
            });
        }
    }
    rows
}

#[test]
fn q13_side_input_is_the_reference_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("side_input.txt");
    let side = SideInput::generate(10_000);
    assert_eq!(side.len(), 10_000);
    side.write_csv(&path).expect("written");
    let text = std::fs::read_to_string(&path).expect("read");
    // What the reference's SideInputGenerator writes: `i,i` lines for i in 0..10000.
    let reference: String = (0..10_000).map(|i| format!("{i},{i}\n")).collect();
    assert_eq!(text, reference);
    let loaded = SideInput::load_csv(&path).expect("loads");
    assert_eq!(loaded, side);
    assert_eq!(loaded.lookup(1234), [Text::from("1234")]);
    assert!(loaded.lookup(10_000).is_empty() && loaded.lookup(-1).is_empty());
}

#[test]
fn q13_side_input_round_trips_awkward_values_and_names_bad_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("side.csv");
    let rows: Vec<(i64, Text)> = vec![
        (5, Text::from("plain")),
        (-3, Text::from("a, comma")),
        (5, Text::from("say \"hi\"")),
        (70_000_000_000, Text::from("two\nlines")),
        (8, Text::from("")),
    ];
    let side = SideInput::from_rows(rows.clone());
    side.write_csv(&path).expect("written");
    let loaded = SideInput::load_csv(&path).expect("loads");
    assert_eq!(loaded.rows(), rows.as_slice());
    assert_eq!(
        loaded.lookup(5),
        [Text::from("plain"), Text::from("say \"hi\"")]
    );
    assert_eq!(loaded.lookup(70_000_000_000), [Text::from("two\nlines")]);

    // Windows line ends are fine.
    std::fs::write(&path, "1,one\r\n2,two\r\n").expect("written");
    let loaded = SideInput::load_csv(&path).expect("loads");
    assert_eq!(
        loaded.rows(),
        [(1, Text::from("one")), (2, Text::from("two"))]
    );

    let bad = |text: &str| -> String {
        std::fs::write(&path, text).expect("written");
        let err = SideInput::load_csv(&path).expect_err("malformed");
        assert!(matches!(err, SideInputError::Parse { .. }), "{err}");
        err.to_string()
    };
    let e = bad("1,a\n2,b\nx3,c\n");
    assert!(e.contains("line 3") && e.contains("x3"), "{e}");
    let e = bad("1,a\nno comma here\n");
    assert!(e.contains("line 2") && e.contains("no comma"), "{e}");
    let e = bad("1,a\n2,b,c\n");
    assert!(e.contains("line 2") && e.contains("2 fields"), "{e}");
    let e = bad("1,\"multi\nline\"\n2,\"open\n");
    assert!(e.contains("line 3") && e.contains("not closed"), "{e}");
    let e = bad("1,a\n\n3,c\n");
    assert!(e.contains("line 2"), "{e}");
    let e = bad("1,half\"quoted\n");
    assert!(e.contains("line 1") && e.contains("double quote"), "{e}");

    let missing = dir.path().join("missing.csv");
    let err = SideInput::load_csv(&missing).expect_err("no file");
    assert!(matches!(err, SideInputError::Io { .. }));
    assert!(err.to_string().contains("missing.csv"), "{err}");
}

#[test]
fn q13_join_matches_brute_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sides = [
        ("reference", SideInput::generate(10_000)),
        // Auctions from 1000 up: keys from 1500 have no row and their bids are dropped.
        ("partial", SideInput::generate(1_500)),
        // Repeated and sparse keys: a key with two rows joins both.
        (
            "repeated",
            SideInput::from_rows(vec![
                (1_000, Text::from("first")),
                (1_001, Text::from("one")),
                (1_000, Text::from("second")),
                (9_999_999, Text::from("never")),
            ]),
        ),
    ];
    for (name, side) in sides {
        // Through a file, as the job would read it.
        let path = dir.path().join(format!("{name}.csv"));
        side.write_csv(&path).expect("written");
        let side = SideInput::load_csv(&path).expect("loads");
        let config = NexmarkConfig::new(SEED, 20_000);
        let events = events_of(&config);
        let want = final_table(q13_brute_force(&events, side.rows()));
        assert!(want.len() > 100, "{name}: {} rows", want.len());
        for p in [1, 2] {
            let side = side.clone();
            let got = final_table(run(env(p), &config, move |e| q13(e, side)));
            assert_tables_eq(&got, &want, &format!("{name}, parallelism {p}"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// q14
// ---------------------------------------------------------------------------------------

/// The SQL's expressions, in floating point: `0.908 * price` in (1e6, 5e7), the hour's
/// `CASE`, and the count of `c` characters.
fn q14_brute_force(events: &[Event]) -> Vec<Q14Row> {
    bids(events)
        .filter(|b| {
            let price = 0.908 * b.price as f64;
            price > 1_000_000.0 && price < 50_000_000.0
        })
        .map(|b| {
            let hour = b.date_time.rem_euclid(86_400_000) / 3_600_000;
            let kind = if (8..=18).contains(&hour) {
                "dayTime"
            } else if hour <= 6 || hour >= 20 {
                "nightTime"
            } else {
                "otherTime"
            };
            Q14Row {
                auction: b.auction,
                bidder: b.bidder,
                price: (b.price * 908) as f64 / 1000.0,
                bid_time_type: Text::from(kind),
                date_time: b.date_time,
                extra: b.extra.clone(),
                c_counts: b.extra.chars().filter(|&c| c == 'c').count() as i64,
            }
        })
        .collect()
}

#[test]
fn q14_calculation_matches_brute_force() {
    let n = check(30_000, q14, q14_brute_force);
    assert!(n >= 1_000, "too few rows to be a test: {n}");
    // One event per second over more than a day: every hour of the day, each kind.
    let config = NexmarkConfig {
        event_rate: 1,
        ..NexmarkConfig::new(SEED, 90_000)
    };
    let want = q14_brute_force(&events_of(&config));
    let kinds: BTreeSet<&str> = want.iter().map(|r| r.bid_time_type.as_str()).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let want = final_table(want);
    for p in [1, 2] {
        let got = final_table(run(env(p), &config, q14));
        assert_tables_eq(&got, &want, &format!("a day, parallelism {p}"));
    }
}

#[test]
fn q14_functions_follow_the_sql() {
    let hour = 3_600_000;
    let kinds: Vec<&str> = (0..24).map(|h| bid_time_type(h * hour + 59_999)).collect();
    for (h, kind) in kinds.iter().enumerate() {
        let want = match h {
            8..=18 => "dayTime",
            7 | 19 => "otherTime",
            _ => "nightTime",
        };
        assert_eq!(*kind, want, "hour {h}");
    }
    assert_eq!(count_char("cabccc", b'c'), 4);
    assert_eq!(count_char("", b'c'), 0);
    // 0.908 * 1101321 = 999999.468, 0.908 * 1101322 = 1000000.376.
    assert!(!in_price_band(1_101_321) && in_price_band(1_101_322));
    // 0.908 * 55066079 = 49999999.732, 0.908 * 55066080 = 50000000.64.
    assert!(in_price_band(55_066_079) && !in_price_band(55_066_080));
}
