//! Windows over a stream of page views, in event time:
//!
//! * views per user and minute (tumbling windows, an aggregate function), with allowed
//!   lateness, late views sent to a side output and updated results counted with
//!   per-window state;
//! * views per page over the last 10 minutes, every 5 minutes (sliding windows, a process
//!   function);
//! * sessions per user, ending after 30 minutes without a view (session windows);
//! * every 3 views of a user (count windows);
//! * a user-defined trigger that reports a user's 10 minutes early when they look at the
//!   pricing page, and an evictor that keeps the last two views;
//! * views of all users per 10 minutes (`window_all`).
//!
//! `cargo run --example windows`

use strom::prelude::*;
use strom::window::{CountEvictor, Trigger, TriggerContext, TriggerResult, Window};

const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;

/// (user, page, viewed at ms)
type View = (String, String, i64);

fn views() -> Vec<View> {
    let view = |user: &str, page: &str, at: i64| (user.to_string(), page.to_string(), at);
    vec![
        view("ada", "home", 10 * SEC),
        view("ada", "docs", 40 * SEC),
        view("bob", "home", MIN + 5 * SEC),
        view("ada", "pricing", MIN + 20 * SEC),
        view("bob", "docs", MIN + 2 * SEC), // 3 s out of order: in time
        view("cy", "home", 2 * MIN + 30 * SEC),
        view("ada", "docs", 2 * MIN + 45 * SEC),
        view("bob", "pricing", 3 * MIN + 10 * SEC),
        view("ada", "home", MIN + 50 * SEC), // 80 s late: too late even with lateness
        view("cy", "docs", 2 * MIN + 58 * SEC), // late, within the allowed lateness
        view("ada", "home", 45 * MIN),
        view("bob", "home", 46 * MIN),
    ]
}

/// Counts views; the window keeps only the count.
#[derive(Clone, Copy, Debug)]
struct CountViews;

impl AggregateFunction<View> for CountViews {
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, count: &mut u64, _: &View) {
        *count += 1;
    }
    fn get_result(&self, count: &u64) -> u64 {
        *count
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}

/// Fires a window early (once) when a pricing page is viewed, and at its end like the
/// default event-time trigger.
#[derive(Clone, Copy, Debug)]
struct EarlyOnPricing;

impl<W: Window> Trigger<View, W> for EarlyOnPricing {
    /// Whether the window already fired early.
    type State = bool;

    fn on_element(
        &mut self,
        view: &View,
        _timestamp: i64,
        window: &W,
        fired_early: &mut bool,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        if window.max_timestamp() <= ctx.current_watermark() {
            return TriggerResult::Fire; // late but allowed: fire again at once
        }
        ctx.register_event_time_timer(window.max_timestamp());
        if view.1 == "pricing" && !*fired_early {
            *fired_early = true;
            return TriggerResult::Fire;
        }
        TriggerResult::Continue
    }

    fn on_event_time(
        &mut self,
        time: i64,
        window: &W,
        _: &mut bool,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        if time == window.max_timestamp() {
            TriggerResult::Fire
        } else {
            TriggerResult::Continue
        }
    }

    fn on_processing_time(
        &mut self,
        _: i64,
        _: &W,
        _: &mut bool,
        _: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        TriggerResult::Continue
    }

    fn clear(&mut self, window: &W, _: &mut bool, ctx: &mut TriggerContext<'_>) {
        ctx.delete_event_time_timer(window.max_timestamp());
    }
}

/// `m:ss` of a time in ms.
fn clock(ms: i64) -> String {
    format!("{}:{:02}", ms / MIN, ms % MIN / SEC)
}

/// Print a result stream in event-time order.
fn print_all(title: &str, records: Vec<strom::Record<String>>) {
    let mut records: Vec<(i64, String)> = records
        .into_iter()
        .map(|r| (r.timestamp, r.value))
        .collect();
    records.sort();
    println!("{title}:");
    for (_, line) in records {
        println!("  {line}");
    }
}

fn main() -> Result<(), BoxError> {
    let env = StreamEnv::new().with_parallelism(2);

    // Up to 5 s out of order; a watermark after every view, so that which views are late
    // does not depend on timing. One subtask reads the collection and assigns watermarks.
    let views = env
        .from_collection(views())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(5))
                .with_timestamp_assigner(|v: &View, _| v.2)
                .with_emission_interval(Duration::ZERO),
        )
        .set_parallelism(1);

    // Views per user and minute; a late view within one minute updates the result.
    let late = OutputTag::<View>::new("late views");
    let per_minute = views
        .clone()
        .key_by(|v: &View| v.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(60)))
        .allowed_lateness(Duration::from_secs(60))
        .side_output_late_data(&late)
        .aggregate_with_process(
            CountViews,
            |user: &String,
             ctx: &mut WindowContext<TimeWindow>,
             counts: WindowElements<u64>,
             out: &mut Collector<String>| {
                let firing = {
                    let n = ctx.window_state::<u32>()?;
                    *n += 1;
                    *n
                };
                let minute = ctx.window().start / MIN;
                for count in counts {
                    out.collect(format!(
                        "{user}, minute {minute}: {count} (result {firing})"
                    ));
                }
                Ok(())
            },
        );
    let too_late = per_minute.side_output(&late).collect();
    let per_minute = per_minute.collect();

    // Views per page over the last 10 minutes, every 5 minutes.
    let per_page = views
        .clone()
        .key_by(|v: &View| v.1.clone())
        .window(SlidingEventTimeWindows::of(
            Duration::from_secs(10 * 60),
            Duration::from_secs(5 * 60),
        ))
        .process(
            |page: &String,
             ctx: &mut WindowContext<TimeWindow>,
             views: WindowElements<View>,
             out: &mut Collector<String>| {
                let w = ctx.window();
                let (from, to) = (clock(w.start), clock(w.end));
                out.collect(format!("{page} [{from}, {to}): {} views", views.count()));
                Ok(())
            },
        )
        .collect();

    // Sessions: a user's views until 30 minutes pass without one.
    let gap = Duration::from_secs(30 * 60);
    let sessions = views
        .clone()
        .key_by(|v: &View| v.0.clone())
        .window(EventTimeSessionWindows::with_gap(gap))
        .process(
            |user: &String,
             ctx: &mut WindowContext<TimeWindow>,
             views: WindowElements<View>,
             out: &mut Collector<String>| {
                let pages: Vec<&str> = views.map(|v| v.1.as_str()).collect();
                let end = clock(ctx.window().end);
                out.collect(format!("{user} until {end}: {pages:?}"));
                Ok(())
            },
        )
        .collect();

    // Every 3 views of a user.
    let threes = views
        .clone()
        .key_by(|v: &View| v.0.clone())
        .count_window(3)
        .reduce(|a: View, b: View| (a.0, format!("{} > {}", a.1, b.1), b.2))
        .map(|v: View| format!("{}: {}", v.0, v.1))
        .collect();

    // Early results on a pricing view; each result lists the last two pages.
    let early = views
        .clone()
        .key_by(|v: &View| v.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10 * 60)))
        .trigger(EarlyOnPricing)
        .evictor(CountEvictor::of(2))
        .process(
            |user: &String,
             ctx: &mut WindowContext<TimeWindow>,
             views: WindowElements<View>,
             out: &mut Collector<String>| {
                let pages: Vec<&str> = views.map(|v| v.1.as_str()).collect();
                let when = match ctx.current_watermark() {
                    i64::MAX => "at the end".to_string(),
                    w => format!("at watermark {}", clock(w)),
                };
                out.collect(format!("{user} {when}: last pages {pages:?}"));
                Ok(())
            },
        )
        .collect();

    // All users together, per 10 minutes: one subtask evaluates the windows.
    let all = views
        .window_all(TumblingEventTimeWindows::of(Duration::from_secs(10 * 60)))
        .aggregate(CountViews)
        .map(|n: u64| format!("{n} views"))
        .collect();

    env.execute("windows")?;

    print_all("Views per user and minute", per_minute.take_records());
    for v in too_late.take() {
        println!("  too late: {} viewed {} at {}", v.0, v.1, clock(v.2));
    }
    print_all("Views per page, last 10 minutes", per_page.take_records());
    print_all("Sessions", sessions.take_records());
    let mut threes = threes.take();
    threes.sort();
    println!("Every 3 views:");
    for t in threes {
        println!("  {t}");
    }
    print_all("Early on pricing", early.take_records());
    print_all("All users per 10 minutes", all.take_records());
    Ok(())
}
