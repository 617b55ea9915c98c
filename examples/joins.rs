//! Joining two streams in event time:
//!
//! * an **interval join** of orders with their payments: a payment belongs to an order of
//!   the same id when it arrives from the order's time up to 15 minutes after it;
//! * a **tumbling window join** of ad clicks with the impressions of the same ad in the
//!   same minute.
//!
//! `cargo run --example joins`

use strom::core::watermark::WatermarkStrategy;
use strom::prelude::*;
use strom::window::{IntervalJoinContext, TumblingEventTimeWindows};

const MIN: i64 = 60_000;

/// (order id, customer, placed at ms)
type Order = (u32, String, i64);
/// (order id, amount in cents, paid at ms)
type Payment = (u32, u64, i64);
/// (ad id, user, at ms)
type Click = (String, String, i64);
/// (ad id, page, at ms)
type Impression = (String, String, i64);

fn orders() -> Vec<Order> {
    vec![
        (1, "ada".into(), 0),
        (2, "bob".into(), 2 * MIN),
        (3, "cy".into(), 5 * MIN),
        (4, "dee".into(), 30 * MIN),
    ]
}

fn payments() -> Vec<Payment> {
    vec![
        (1, 1_250, 3 * MIN),  // 3 min after order 1
        (3, 990, 4 * MIN),    // before order 3 was placed: no match
        (2, 4_000, 16 * MIN), // 14 min after order 2
        (3, 990, 21 * MIN),   // 16 min after order 3: too late
        (4, 700, 40 * MIN),   // 10 min after order 4
    ]
}

fn clicks() -> Vec<Click> {
    vec![
        ("shoes".into(), "ada".into(), 10_000),
        ("hats".into(), "bob".into(), 20_000),
        ("shoes".into(), "cy".into(), 70_000),
    ]
}

fn impressions() -> Vec<Impression> {
    vec![
        ("shoes".into(), "home".into(), 5_000),
        ("shoes".into(), "search".into(), 50_000),
        ("hats".into(), "home".into(), 65_000),
        ("shoes".into(), "home".into(), 61_000),
    ]
}

fn main() -> Result<(), BoxError> {
    let env = StreamEnv::new().with_parallelism(2);

    // Event time from the last field of each tuple; each input is in time order.
    let orders = env
        .from_collection(orders())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|o: &Order, _| o.2),
        );
    let payments = env
        .from_collection(payments())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|p: &Payment, _| p.2),
        );

    // Interval join: a payment at t joins an order at o when o <= t <= o + 15 min.
    let paid = orders
        .key_by(|o: &Order| o.0)
        .interval_join(payments.key_by(|p: &Payment| p.0))
        .between(Duration::ZERO, Duration::from_secs(15 * 60))
        .process(
            |o: &Order, p: &Payment, ctx: &mut IntervalJoinContext, out: &mut Collector<String>| {
                let after = (ctx.right_timestamp() - ctx.left_timestamp()) / MIN;
                out.collect(format!(
                    "order {} by {} paid {} cents after {after} min",
                    o.0, o.1, p.1
                ));
                Ok(())
            },
        )
        .collect();

    let clicks = env
        .from_collection(clicks())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|c: &Click, _| c.2),
        );
    let impressions = env
        .from_collection(impressions())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
                .with_timestamp_assigner(|i: &Impression, _| i.2),
        );

    // Window join: per ad and minute, every click with every impression.
    let attributed = clicks
        .join(impressions)
        .where_key(|c: &Click| c.0.clone())
        .equal_to(|i: &Impression| i.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(60)))
        .apply(|c: &Click, i: &Impression| format!("{} clicked {} seen on {}", c.1, c.0, i.1))
        .collect();

    env.execute("joins")?;

    let mut paid = paid.take();
    paid.sort();
    for line in paid {
        println!("{line}");
    }
    let mut attributed = attributed.take_records();
    attributed.sort_by(|a, b| (a.timestamp, &a.value).cmp(&(b.timestamp, &b.value)));
    for r in attributed {
        println!("minute ending {} ms: {}", r.timestamp + 1, r.value);
    }
    Ok(())
}
