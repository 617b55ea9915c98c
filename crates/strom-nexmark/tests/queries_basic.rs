//! q0, q1, q2, q3, q4, q5 and q7 run as real jobs over generated events (parallelism 1 and 2,
//! in order and with event times shuffled within groups of 100 events), each compared
//! with a brute-force evaluation of the reference SQL written with plain loops and maps
//! over the generator's events.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use strom_api::{DataStream, StreamEnv};
use strom_nexmark::model::{Auction, Bid, Person, Text};
use strom_nexmark::queries::{QueryRow, final_table, q0, q1, q2, q3, q4, q5, q7};
use strom_nexmark::source::{generated_events, watermark_strategy};
use strom_nexmark::{Event, NexmarkConfig, NexmarkGenerator};

type TestResult = Result<(), Box<dyn Error>>;
type Table = Vec<Vec<Value>>;

/// `events` events of seed `seed`, `rate` events per second of event time, shuffled
/// within groups of `group` events.
fn config(seed: u64, events: u64, rate: u64, group: u64) -> NexmarkConfig {
    NexmarkConfig {
        event_rate: rate,
        out_of_order_group_size: group,
        ..NexmarkConfig::new(seed, events)
    }
}

fn all_events(config: &NexmarkConfig) -> Result<Vec<Event>, Box<dyn Error>> {
    Ok(NexmarkGenerator::new(config.clone())?.events().collect())
}

/// Run `query` over the events of `config` at `parallelism`; its final table.
fn run<R: QueryRow>(
    config: &NexmarkConfig,
    parallelism: usize,
    query: fn(DataStream<Event>) -> DataStream<R>,
) -> Result<Table, Box<dyn Error>> {
    let env = StreamEnv::new().with_parallelism(parallelism);
    let out = query(generated_events(&env, config.clone())?).collect();
    env.execute("nexmark query")?;
    Ok(final_table(out.take()))
}

/// Sorted as `final_table` sorts.
fn sorted(mut rows: Table) -> Table {
    rows.sort_by_cached_key(|r| Value::Array(r.clone()).to_string());
    rows
}

/// Equal tables; numbers that are not both integers compare within 1e-9 relative.
fn assert_same(what: &str, got: &Table, want: &Table) {
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = g.len() == w.len()
            && g.iter().zip(w).all(|(a, b)| match (a, b) {
                (Value::Number(x), Value::Number(y)) if !(x.is_i64() && y.is_i64()) => {
                    let (x, y) = (
                        x.as_f64().unwrap_or(f64::NAN),
                        y.as_f64().unwrap_or(f64::NAN),
                    );
                    (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
                }
                _ => a == b,
            });
        assert!(same, "{what}: row {i} differs: got {g:?}, want {w:?}");
    }
}

/// Run `query` at parallelism 1 and 2 over `config` and compare with `brute` over the same
/// events; returns the row count.
fn check<R: QueryRow>(
    name: &str,
    config: NexmarkConfig,
    query: fn(DataStream<Event>) -> DataStream<R>,
    brute: fn(&[Event]) -> Table,
) -> Result<usize, Box<dyn Error>> {
    let want = sorted(brute(&all_events(&config)?));
    assert!(!want.is_empty(), "{name}: the expected result is empty");
    for parallelism in [1, 2] {
        let got = run(&config, parallelism, query)?;
        let what = format!(
            "{name} (parallelism {parallelism}, out-of-order groups of {})",
            config.out_of_order_group_size
        );
        assert_same(&what, &got, &want);
    }
    Ok(want.len())
}

fn bids(events: &[Event]) -> impl Iterator<Item = &Bid> {
    events.iter().filter_map(|e| match e {
        Event::Bid(b) => Some(b),
        _ => None,
    })
}

fn auctions(events: &[Event]) -> impl Iterator<Item = &Auction> {
    events.iter().filter_map(|e| match e {
        Event::Auction(a) => Some(a),
        _ => None,
    })
}

fn persons(events: &[Event]) -> impl Iterator<Item = &Person> {
    events.iter().filter_map(|e| match e {
        Event::Person(p) => Some(p),
        _ => None,
    })
}

fn text(t: &Text) -> Value {
    Value::String(t.to_string())
}

// ---- brute-force evaluations of the reference SQL ----

/// `SELECT auction, bidder, price, dateTime, extra FROM bid`
fn brute_q0(events: &[Event]) -> Table {
    bids(events)
        .map(|b| {
            vec![
                b.auction.into(),
                b.bidder.into(),
                b.price.into(),
                b.date_time.into(),
                text(&b.extra),
            ]
        })
        .collect()
}

/// `SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0`.
fn brute_q2(events: &[Event]) -> Table {
    bids(events)
        .filter(|b| b.auction.rem_euclid(123) == 0)
        .map(|b| vec![b.auction.into(), b.price.into()])
        .collect()
}

/// `SELECT auction, bidder, 0.908 * price, dateTime, extra FROM bid` (the decimal
/// `price * 908 / 1000`).
fn brute_q1(events: &[Event]) -> Table {
    bids(events)
        .map(|b| {
            let thousandths = i128::from(b.price) * 908;
            vec![
                b.auction.into(),
                b.bidder.into(),
                (thousandths as f64 / 1000.0).into(),
                b.date_time.into(),
                text(&b.extra),
            ]
        })
        .collect()
}

/// `auction A JOIN person P ON A.seller = P.id WHERE A.category = 10 AND P.state IN
/// ('OR', 'ID', 'CA')`, as a nested-loop join.
fn brute_q3(events: &[Event]) -> Table {
    let persons: Vec<&Person> = persons(events).collect();
    let mut rows = Vec::new();
    for a in auctions(events) {
        for p in &persons {
            if a.seller == p.id
                && a.category == 10
                && (p.state == "OR" || p.state == "ID" || p.state == "CA")
            {
                rows.push(vec![
                    text(&p.name),
                    text(&p.city),
                    text(&p.state),
                    a.id.into(),
                ]);
            }
        }
    }
    rows
}

/// `MAX(B.price)` per auction over `A.id = B.auction AND B.dateTime BETWEEN A.dateTime
/// AND A.expires`, then `AVG` (integer division) per category.
fn brute_q4(events: &[Event]) -> Table {
    let mut bids_of: HashMap<i64, Vec<&Bid>> = HashMap::new();
    for b in bids(events) {
        bids_of.entry(b.auction).or_default().push(b);
    }
    let mut per_category: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for a in auctions(events) {
        let max = bids_of
            .get(&a.id)
            .into_iter()
            .flatten()
            .filter(|b| a.date_time <= b.date_time && b.date_time <= a.expires)
            .map(|b| b.price)
            .max();
        if let Some(max) = max {
            let (sum, count) = per_category.entry(a.category).or_default();
            *sum += max;
            *count += 1;
        }
    }
    per_category
        .into_iter()
        .map(|(category, (sum, count))| vec![category.into(), (sum / count).into()])
        .collect()
}

/// Bid counts per auction in `HOP(2 s, 10 s)` windows, joined with each window's largest
/// count on `num >= maxn`.
fn brute_q5(events: &[Event]) -> Table {
    // (window start, auction) → count; windows of t start at multiples of 2 s in
    // (t - 10 s, t].
    let mut counts: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for b in bids(events) {
        let last = b.date_time - b.date_time.rem_euclid(2000);
        let mut start = last;
        while start > b.date_time - 10_000 {
            *counts.entry((start, b.auction)).or_default() += 1;
            start -= 2000;
        }
    }
    let mut maxn: BTreeMap<i64, i64> = BTreeMap::new();
    for (&(start, _), &num) in &counts {
        let m = maxn.entry(start).or_default();
        *m = (*m).max(num);
    }
    counts
        .iter()
        .filter(|&(&(start, _), &num)| num >= maxn[&start])
        .map(|(&(_, auction), &num)| vec![auction.into(), num.into()])
        .collect()
}

/// `MAX(price)` per `TUMBLE(10 s)` window, joined with every bid on `B.price = maxprice
/// AND B.dateTime BETWEEN window_end - 10 s AND window_end`.
fn brute_q7(events: &[Event]) -> Table {
    let mut max_per_window: BTreeMap<i64, i64> = BTreeMap::new();
    for b in bids(events) {
        let end = b.date_time - b.date_time.rem_euclid(10_000) + 10_000;
        let m = max_per_window.entry(end).or_insert(i64::MIN);
        *m = (*m).max(b.price);
    }
    let mut rows = Vec::new();
    for (&end, &maxprice) in &max_per_window {
        for b in bids(events) {
            if b.price == maxprice && end - 10_000 <= b.date_time && b.date_time <= end {
                rows.push(vec![
                    b.auction.into(),
                    b.bidder.into(),
                    b.price.into(),
                    b.date_time.into(),
                    text(&b.extra),
                ]);
            }
        }
    }
    rows
}

// ---- the tests ----

#[test]
fn q0_passes_every_bid_through() -> TestResult {
    let n = check("q0", config(1, 20_000, 10_000, 1), q0::q0, brute_q0)?;
    assert!(n > 18_000, "q0: {n} rows");
    Ok(())
}

#[test]
fn q1_converts_every_price() -> TestResult {
    let n = check("q1", config(2, 20_000, 10_000, 1), q1::q1, brute_q1)?;
    assert!(n > 18_000, "q1: {n} rows");
    let n = check("q1", config(2, 20_000, 10_000, 100), q1::q1, brute_q1)?;
    assert!(n > 18_000, "q1: {n} rows");
    Ok(())
}

#[test]
fn q2_selects_the_bids_of_every_123rd_auction() -> TestResult {
    // Hot auctions are multiples of 100 above 1000, so few of them qualify: 200 000
    // events give a few hundred rows.
    let n = check("q2", config(5, 200_000, 10_000, 1), q2::q2, brute_q2)?;
    assert!(n > 50, "q2: {n} rows");
    Ok(())
}

#[test]
fn q3_joins_local_sellers_with_their_category_10_auctions() -> TestResult {
    for group in [1, 100] {
        let n = check("q3", config(3, 60_000, 10_000, group), q3::q3, brute_q3)?;
        assert!(n > 100, "q3: {n} rows");
    }
    Ok(())
}

#[test]
fn q4_averages_the_winning_prices_per_category() -> TestResult {
    for group in [1, 100] {
        let n = check("q4", config(4, 60_000, 10_000, group), q4::q4, brute_q4)?;
        assert_eq!(n, 5, "q4: one row per category");
    }
    // A slower event rate: longer auctions, more bids per auction.
    let n = check("q4", config(40, 30_000, 500, 100), q4::q4, brute_q4)?;
    assert_eq!(n, 5, "q4: one row per category");
    // Few auctions, so that a single wrong winning price shows in the averages.
    for seed in 41..46 {
        let n = check("q4", config(seed, 3_000, 10_000, 100), q4::q4, brute_q4)?;
        assert_eq!(n, 5, "q4: one row per category");
    }
    Ok(())
}

#[test]
fn q5_finds_the_hottest_auctions_per_hopping_window() -> TestResult {
    for group in [1, 100] {
        // 2 000 events/s: 30 s of event time, 19 windows.
        let n = check("q5", config(5, 60_000, 2_000, group), q5::q5, brute_q5)?;
        assert!(n >= 19, "q5: {n} rows");
    }
    // No hot auction, few bids per window: several auctions share the highest count.
    let no_hot = NexmarkConfig {
        hot_auction_ratio: 1,
        ..config(50, 20_000, 200, 100)
    };
    let n = check("q5", no_hot, q5::q5, brute_q5)?;
    assert!(
        n > 60,
        "q5: {n} rows, expected ties in most of the 55 windows"
    );
    Ok(())
}

#[test]
fn q7_finds_the_highest_bids_per_tumbling_window() -> TestResult {
    for group in [1, 100] {
        // 1 000 events/s: 60 s of event time, 6 windows, and a bid at nearly every
        // window border.
        let n = check("q7", config(7, 60_000, 1_000, group), q7::q7, brute_q7)?;
        assert!(n >= 6, "q7: {n} rows");
    }
    Ok(())
}

fn bid(date_time: i64, price: i64, auction: i64) -> Event {
    Event::Bid(Bid {
        auction,
        bidder: 2000 + price,
        price,
        channel: Text::from("Google"),
        url: Text::from("https://www.nexmark.com/a/b/c/item.htm?query=1"),
        date_time,
        extra: Text::from(format!("bid at {date_time}")),
    })
}

/// Ties inside a window, a border bid (at exactly a window's end) equal to the window's
/// highest price, which therefore appears for two windows, and an empty window.
#[test]
fn q7_includes_ties_and_bids_on_the_window_border() -> TestResult {
    let base = 1_436_918_400_000i64; // a multiple of 10 s
    let events = vec![
        bid(base + 100, 50, 1000),
        bid(base + 5_000, 70, 1001),
        bid(base + 9_999, 70, 1002),
        // The end of window 1 (max 70) and in window 2, whose max it is.
        bid(base + 10_000, 70, 1003),
        bid(base + 15_000, 60, 1004),
        // The end of window 2 (no match) and alone in window 3.
        bid(base + 20_000, 10, 1005),
        // The end of window 3 (a match) and alone in window 4.
        bid(base + 30_000, 10, 1006),
        // Window 5 is empty; at its end, alone in window 6.
        bid(base + 50_000, 5, 1007),
    ];
    let want = sorted(brute_q7(&events));
    assert_eq!(want.len(), 8, "{want:?}");
    for parallelism in [1, 2] {
        let env = StreamEnv::new().with_parallelism(parallelism);
        let input = env
            .from_collection(events.clone())
            .assign_timestamps_and_watermarks(watermark_strategy())
            .set_parallelism(1);
        let out = q7::q7(input).collect();
        env.execute("q7 borders")?;
        let rows = out.take();
        let ends: Vec<i64> = rows.iter().filter_map(|r| r.trigger_time()).collect();
        assert_eq!(ends.len(), rows.len());
        assert_same("q7 borders", &final_table(rows), &want);
    }
    Ok(())
}
