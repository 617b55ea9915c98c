//! Complex event processing: orders that are not shipped in time.
//!
//! Per order, the pattern `created`, then (later) `paid`, then (later) `shipped`, within
//! one hour of creation. `select_with_timeout` turns each complete match into an output
//! record and each partial match whose hour passed into a record on a side output, read
//! with `side_output(&tag)`: a timed-out partial match says which stages the order reached
//! and when its window ended.
//!
//! The events arrive out of order; CEP matches them in event-time order. When the input
//! ends, the final watermark closes every window still open, so orders still waiting then
//! time out too (as in Flink).
//!
//! `cargo run --example cep_order_timeouts`

use serde::{Deserialize, Serialize};
use strom::cep::{CepExt, Match, Pattern};
use strom::prelude::*;

/// What happened to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Step {
    Created,
    Paid,
    Shipped,
}

/// An order event at a time (minutes since the shop opened).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct OrderEvent {
    order: u32,
    minute: i64,
    step: Step,
}

fn events() -> Vec<OrderEvent> {
    use Step::*;
    let e = |order: u32, minute: i64, step: Step| OrderEvent {
        order,
        minute,
        step,
    };
    // In arrival order: some events are reported up to 20 minutes late.
    vec![
        e(1, 0, Created),
        e(2, 5, Created),
        e(1, 10, Paid),
        e(3, 10, Created), // never paid
        e(4, 15, Created),
        e(2, 20, Paid),
        e(4, 30, Paid),
        e(5, 30, Created),
        e(1, 40, Shipped),
        e(6, 20, Created), // 20 minutes late
        e(6, 35, Paid),
        e(5, 45, Paid),    // and then the input ends
        e(2, 70, Shipped), // 65 minutes after creation: too late
        e(4, 74, Shipped), // 59 minutes after creation: in time
        e(6, 80, Shipped), // exactly 60 minutes: too late (the window is last − first < 1 h)
    ]
}

fn is(step: Step) -> impl Fn(&OrderEvent) -> bool + Send + Sync + 'static {
    move |e: &OrderEvent| e.step == step
}

fn main() -> Result<(), BoxError> {
    let env = StreamEnv::new().with_parallelism(2);
    let events = env
        .from_collection(events())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(30 * 60))
                .with_timestamp_assigner(|e: &OrderEvent, _| e.minute * 60_000),
        )
        .set_parallelism(1);

    let in_time = Pattern::<OrderEvent>::begin("created")
        .where_(is(Step::Created))
        .followed_by("paid")
        .where_(is(Step::Paid))
        .followed_by("shipped")
        .where_(is(Step::Shipped))
        .within(Duration::from_secs(3600));

    let timed_out = OutputTag::<String>::new("timed-out orders");
    let completed = events
        .key_by(|e: &OrderEvent| e.order)
        .pattern(in_time)
        .select_with_timeout(
            &timed_out,
            // A partial match whose window passed, and the time (ms) the window ended.
            |m: Match<OrderEvent>, window_end| {
                let order = m.events().next().map_or(0, |e| e.order);
                let reached = m.names().collect::<Vec<_>>().join(" → ");
                format!(
                    "order {order}: reached {reached}, hour over at minute {}",
                    window_end / 60_000
                )
            },
            |m: Match<OrderEvent>| {
                let minute = |stage: &str| m.first(stage).map_or(-1, |e| e.minute);
                format!(
                    "order {}: created at {}, paid at {}, shipped at {}",
                    m.first("created").map_or(0, |e| e.order),
                    minute("created"),
                    minute("paid"),
                    minute("shipped")
                )
            },
        );
    let late_orders = completed.side_output(&timed_out).collect();
    let completed = completed.collect();

    env.execute("order timeouts")?;

    let mut completed = completed.take();
    completed.sort();
    println!("Shipped within the hour:");
    for c in completed {
        println!("  {c}");
    }
    let mut late_orders = late_orders.take();
    late_orders.sort();
    println!("Not shipped within the hour:");
    for t in late_orders {
        println!("  {t}");
    }
    // Shipped in time: orders 1 and 4. Timed out: 2 (paid), 3 (created), 5 (paid, when
    // the input ended) and 6 (paid; shipped exactly at the hour).
    Ok(())
}
