#![allow(clippy::unwrap_used)]
//! The test kit (`strom_process::testkit`): keyed process functions with timers of both
//! domains, TTL state under a manual clock, side outputs and state inspection; a plain
//! process function; window operators and a custom operator through the generic harness.
//! Every output is exact.

use std::collections::HashMap;
use std::time::Duration;
use strom_core::{
    AggregateFunction, BoxError, Collector, OutputTag, ProcessContext, Result, StromError,
};
use strom_process::{
    KeyedContext, KeyedHarness, KeyedProcessFunction, OperatorHarness, ProcessHarness, TimeDomain,
};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_state::{
    AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor,
    StateTtlConfig, ValueStateDescriptor,
};
use strom_types::{NO_TIMESTAMP, Record, Timestamp};
use strom_window::function::{AggregateFn, ReduceFn};
use strom_window::{
    EventTimeTrigger, NoEvictor, ProcessingTimeTrigger, TumblingEventTimeWindows,
    TumblingProcessingTimeWindows, WindowOperator, WindowSettings,
};

// ---- timers ---------------------------------------------------------------------------

/// What an element asks of its key's timers.
#[derive(Clone, Debug)]
enum Cmd {
    Proc(i64),
    DelProc(i64),
    Event(Timestamp),
    DelEvent(Timestamp),
    /// A processing-time timer at `.0` that, when it fires, registers one at `.1`.
    ProcThen(i64, i64),
}

type In = (char, Cmd);

fn key(e: &In) -> char {
    e.0
}

/// One timer firing, as `on_timer` saw it.
#[derive(Clone, Debug, PartialEq)]
struct Fired {
    key: char,
    domain: TimeDomain,
    at: Timestamp,
    now: i64,
    watermark: Timestamp,
}

/// Registers and deletes timers as told; reports every firing.
struct Timers {
    then: MapStateDescriptor<i64, i64>,
}

impl Timers {
    fn new() -> Self {
        Timers {
            then: MapStateDescriptor::new("then"),
        }
    }
}

impl KeyedProcessFunction<char, In, Fired> for Timers {
    fn process_element(
        &mut self,
        (_, cmd): In,
        ctx: &mut KeyedContext<'_, char>,
        _out: &mut Collector<'_, Fired>,
    ) -> Result<(), BoxError> {
        let timers = ctx.timer_service();
        match cmd {
            Cmd::Proc(t) => timers.register_processing_time_timer(t),
            Cmd::DelProc(t) => timers.delete_processing_time_timer(t),
            Cmd::Event(t) => timers.register_event_time_timer(t),
            Cmd::DelEvent(t) => timers.delete_event_time_timer(t),
            Cmd::ProcThen(t, next) => {
                timers.register_processing_time_timer(t);
                ctx.map_state(&self.then).put(t, next)?;
            }
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        at: Timestamp,
        ctx: &mut KeyedContext<'_, char>,
        out: &mut Collector<'_, Fired>,
    ) -> Result<(), BoxError> {
        let domain = ctx.time_domain().ok_or("on_timer without a time domain")?;
        out.collect(Fired {
            key: *ctx.key(),
            domain,
            at,
            now: ctx.current_processing_time(),
            watermark: ctx.current_watermark(),
        });
        if domain == TimeDomain::ProcessingTime
            && let Some(next) = ctx.map_state(&self.then).get(&at)?
        {
            ctx.map_state(&self.then).remove(&at)?;
            ctx.timer_service().register_processing_time_timer(next);
        }
        Ok(())
    }
}

fn fired(key: char, domain: TimeDomain, at: i64, now: i64, watermark: i64) -> Fired {
    Fired {
        key,
        domain,
        at,
        now,
        watermark,
    }
}

/// A processing-time firing before any watermark, at its own time.
fn proc(key: char, at: i64) -> Fired {
    fired(key, TimeDomain::ProcessingTime, at, at, i64::MIN)
}

#[test]
fn processing_time_timers_register_delete_dedup_and_fire_in_order() -> Result<()> {
    let mut h = KeyedHarness::new(key, Timers::new());
    h.process_untimed(('a', Cmd::Proc(3_000)))?;
    h.process_untimed(('b', Cmd::Proc(1_000)))?;
    h.process_untimed(('a', Cmd::Proc(1_000)))?;
    h.process_untimed(('a', Cmd::Proc(1_000)))?; // the same timer again: still one
    h.process_untimed(('a', Cmd::Proc(2_000)))?;
    h.process_untimed(('a', Cmd::DelProc(2_000)))?;
    h.process_untimed(('b', Cmd::Proc(5_000)))?;
    assert_eq!(h.pending_processing_timers(&'a'), vec![1_000, 3_000]);
    assert_eq!(h.pending_processing_timers(&'b'), vec![1_000, 5_000]);
    assert_eq!(h.pending_event_timers(&'a'), Vec::<Timestamp>::new());
    assert_eq!(h.next_processing_time_callback(), Some(1_000));

    h.advance_processing_time(Duration::from_millis(999))?;
    assert_eq!(h.processing_time(), 999);
    assert_eq!(h.take_output(), vec![]);

    // Several timers in one advance: in time order, each seeing its own time as "now".
    h.set_processing_time(4_000)?;
    let mut out = h.take_output();
    assert_eq!(
        out.iter().map(|f| f.at).collect::<Vec<_>>(),
        vec![1_000, 1_000, 3_000]
    );
    out.sort_by_key(|f| (f.at, f.key));
    assert_eq!(
        out,
        vec![proc('a', 1_000), proc('b', 1_000), proc('a', 3_000)]
    );
    assert_eq!(h.processing_time(), 4_000);
    assert_eq!(h.pending_processing_timers(&'a'), Vec::<i64>::new());
    assert_eq!(h.pending_processing_timers(&'b'), vec![5_000]);

    h.advance_processing_time(Duration::from_secs(1))?;
    assert_eq!(h.take_output(), vec![proc('b', 5_000)]);
    assert_eq!(h.next_processing_time_callback(), None);
    // The clock never goes back.
    h.set_processing_time(10)?;
    assert_eq!(h.processing_time(), 5_000);
    Ok(())
}

#[test]
fn timers_registered_in_on_timer_fire_in_the_same_advance_when_due() -> Result<()> {
    let mut h = KeyedHarness::new(key, Timers::new());
    h.process_untimed(('a', Cmd::ProcThen(1_000, 1_500)))?; // due before the target
    h.process_untimed(('b', Cmd::ProcThen(2_000, 1_200)))?; // already past when registered
    h.process_untimed(('c', Cmd::ProcThen(2_500, 9_000)))?; // after the target
    h.set_processing_time(3_000)?;
    assert_eq!(
        h.take_output(),
        vec![
            proc('a', 1_000),
            proc('a', 1_500),
            proc('b', 2_000),
            fired('b', TimeDomain::ProcessingTime, 1_200, 2_000, i64::MIN),
            proc('c', 2_500),
        ]
    );
    assert_eq!(h.pending_processing_timers(&'c'), vec![9_000]);
    assert_eq!(
        h.map_state(&'c', &MapStateDescriptor::<i64, i64>::new("then"))?,
        HashMap::new()
    );
    h.set_processing_time(9_000)?;
    assert_eq!(h.take_output(), vec![proc('c', 9_000)]);
    Ok(())
}

#[test]
fn event_and_processing_time_timers_side_by_side() -> Result<()> {
    let mut h = KeyedHarness::new(key, Timers::new());
    h.process(('a', Cmd::Event(1_000)), 10)?;
    h.process(('a', Cmd::Proc(1_000)), 10)?;
    h.process(('a', Cmd::Event(2_000)), 10)?;
    h.process(('a', Cmd::DelEvent(2_000)), 10)?;
    h.process(('b', Cmd::Event(500)), 10)?;
    assert_eq!(h.pending_event_timers(&'a'), vec![1_000]);
    assert_eq!(h.pending_processing_timers(&'a'), vec![1_000]);

    h.advance_watermark(999)?;
    assert_eq!(
        h.take_output(),
        vec![fired('b', TimeDomain::EventTime, 500, 0, 999)]
    );
    h.advance_watermark(1_000)?;
    // Only the event-time timer at 1000: processing time is still 0.
    assert_eq!(
        h.take_output_records(),
        vec![Record::new(
            fired('a', TimeDomain::EventTime, 1_000, 0, 1_000),
            1_000
        )]
    );
    assert_eq!(h.pending_event_timers(&'a'), Vec::<Timestamp>::new());
    assert_eq!(h.pending_processing_timers(&'a'), vec![1_000]);

    // A watermark that does not advance is ignored.
    h.advance_watermark(500)?;
    assert_eq!(h.watermark(), 1_000);

    h.set_processing_time(1_000)?;
    assert_eq!(
        h.take_output(),
        vec![fired('a', TimeDomain::ProcessingTime, 1_000, 1_000, 1_000)]
    );
    Ok(())
}

#[test]
fn finish_fires_pending_event_timers_then_ends_the_input() -> Result<()> {
    let mut h = KeyedHarness::new(key, Timers::new()).with_operator_name("Timers");
    h.process(('a', Cmd::Event(7_000)), 1)?;
    h.process(('a', Cmd::Proc(7_000)), 1)?;
    h.finish()?;
    assert_eq!(
        h.take_output(),
        vec![fired('a', TimeDomain::EventTime, 7_000, 0, i64::MAX)]
    );
    // Processing-time timers do not fire at the end of the input (as in Flink).
    assert_eq!(h.pending_processing_timers(&'a'), vec![7_000]);
    let err = h.process(('a', Cmd::Proc(1)), 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator 'Timers' (subtask 0) failed: invalid job: an element after end_input()"
    );
    Ok(())
}

// ---- the example in docs/testing.md -------------------------------------------------------

/// The complete example of docs/testing.md (the guide shows this module's contents).
mod idle_count_example {
    use std::time::Duration;
    use strom_core::{BoxError, Collector, Result};
    use strom_process::{KeyedContext, KeyedHarness, KeyedProcessFunction};
    use strom_state::ValueStateDescriptor;
    use strom_types::{Record, Timestamp};

    /// A click on a page.
    #[derive(Clone, Debug)]
    struct Click {
        user: String,
    }

    /// Counts each user's clicks and reports the count once the user has been idle for 5 s of
    /// processing time; every click restarts the 5 s.
    struct IdleCount {
        count: ValueStateDescriptor<u64>,
        deadline: ValueStateDescriptor<i64>,
    }

    impl IdleCount {
        fn new() -> Self {
            IdleCount {
                count: ValueStateDescriptor::new("count"),
                deadline: ValueStateDescriptor::new("deadline"),
            }
        }
    }

    impl KeyedProcessFunction<String, Click, (String, u64)> for IdleCount {
        fn process_element(
            &mut self,
            _click: Click,
            ctx: &mut KeyedContext<'_, String>,
            _out: &mut Collector<'_, (String, u64)>,
        ) -> Result<(), BoxError> {
            let mut count = ctx.value_state(&self.count);
            let n = count.value()?.unwrap_or(0);
            count.update(n + 1)?;
            if let Some(old) = ctx.value_state(&self.deadline).value()? {
                ctx.timer_service().delete_processing_time_timer(old);
            }
            let deadline = ctx.current_processing_time() + 5_000;
            ctx.timer_service().register_processing_time_timer(deadline);
            ctx.value_state(&self.deadline).update(deadline)?;
            Ok(())
        }

        fn on_timer(
            &mut self,
            _at: Timestamp,
            ctx: &mut KeyedContext<'_, String>,
            out: &mut Collector<'_, (String, u64)>,
        ) -> Result<(), BoxError> {
            let n = ctx.value_state(&self.count).value()?.unwrap_or(0);
            out.collect((ctx.key().clone(), n));
            ctx.value_state(&self.count).clear()?;
            ctx.value_state(&self.deadline).clear()?;
            Ok(())
        }
    }

    #[test]
    fn idle_users_are_reported_after_five_quiet_seconds() -> Result<()> {
        let (ann, bob) = ("ann".to_string(), "bob".to_string());
        let click = |user: &str| Click {
            user: user.to_string(),
        };
        let mut h = KeyedHarness::new(|c: &Click| c.user.clone(), IdleCount::new());

        h.process(click("ann"), 100)?; // processing time 0: ann's deadline is 5000
        h.advance_processing_time(Duration::from_secs(3))?;
        h.process(click("ann"), 200)?; // ann's deadline moves to 8000
        h.advance_processing_time(Duration::from_secs(1))?;
        h.process(click("bob"), 300)?; // bob's deadline is 9000
        assert_eq!(h.pending_processing_timers(&ann), vec![8_000]);
        assert_eq!(h.pending_processing_timers(&bob), vec![9_000]);
        assert_eq!(h.value_state(&ann, &IdleCount::new().count)?, Some(2));

        h.set_processing_time(7_999)?;
        assert_eq!(h.take_output(), vec![]);
        h.advance_processing_time(Duration::from_millis(1))?;
        assert_eq!(h.take_output(), vec![(ann.clone(), 2)]);
        h.set_processing_time(60_000)?;
        // Results of a timer carry the timer's time as their timestamp.
        assert_eq!(h.take_output_records(), vec![Record::new((bob, 1), 9_000)]);
        assert_eq!(h.state_len("count"), 0);
        assert_eq!(h.value_state(&ann, &IdleCount::new().count)?, None);
        Ok(())
    }
}

/// Every Rust snippet of docs/testing.md is a contiguous part of this file (lines compared
/// without indentation), so the guide's code compiles and passes.
#[test]
fn guide_snippets_are_in_this_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guide = std::fs::read_to_string(root.join("docs/testing.md")).unwrap();
    let this: Vec<&str> = include_str!("testkit.rs")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut snippets = 0;
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```rust" {
            continue;
        }
        let snippet: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim() != "```")
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert!(!snippet.is_empty());
        assert!(
            this.windows(snippet.len()).any(|w| w == snippet.as_slice()),
            "this snippet of docs/testing.md is not in crates/strom-process/tests/testkit.rs:\n{}",
            snippet.join("\n")
        );
        snippets += 1;
    }
    assert!(snippets >= 1, "the guide shows the example");
}

// ---- state -----------------------------------------------------------------------------

#[test]
fn ttl_state_under_the_manual_clock() -> Result<()> {
    let last = ValueStateDescriptor::<i64>::new("last")
        .with_ttl(StateTtlConfig::new(Duration::from_millis(1_500)));
    let d = last.clone();
    // Reports the key's previous value (if still alive), then remembers the new one.
    let f = move |(k, v): (char, i64),
                  ctx: &mut KeyedContext<char>,
                  out: &mut Collector<(char, Option<i64>)>| {
        let mut s = ctx.value_state(&d);
        out.collect((k, s.value()?));
        s.update(v)?;
        Ok(())
    };
    let mut h = KeyedHarness::new(|e: &(char, i64)| e.0, f);
    h.process_batch([('a', 1), ('b', 2), ('c', 3)].map(Record::untimed))?;
    assert_eq!(h.take_output(), vec![('a', None), ('b', None), ('c', None)]);
    assert_eq!(h.state_len("last"), 3);
    assert_eq!(h.value_state(&'a', &last)?, Some(1));

    // The background cleanup runs every second; nothing has expired at 1000.
    h.set_processing_time(1_000)?;
    assert_eq!(h.state_len("last"), 3);
    h.process_untimed(('a', 10))?; // a now lives until 2500
    assert_eq!(h.take_output(), vec![('a', Some(1))]);

    // At 1600 b and c (written at 0) have expired: never returned, though still stored.
    h.set_processing_time(1_600)?;
    assert_eq!(h.value_state(&'b', &last)?, None);
    assert_eq!(h.value_state(&'c', &last)?, None);
    assert_eq!(h.state_len("last"), 3);
    h.process_untimed(('c', 30))?; // the function does not see the expired 3 either
    assert_eq!(h.take_output(), vec![('c', None)]);

    // The sweep at 2000 removes b.
    h.set_processing_time(2_000)?;
    assert_eq!(h.state_len("last"), 2);
    let mut keys = h.state_keys("last");
    keys.sort_unstable();
    assert_eq!(keys, vec!['a', 'c']);
    assert_eq!(h.value_state(&'a', &last)?, Some(10));
    assert_eq!(h.value_state(&'c', &last)?, Some(30));

    // a expires at 2500 and goes with the sweep at 3000; c (3100) with the one at 4000.
    h.set_processing_time(3_000)?;
    assert_eq!(h.state_keys("last"), vec!['c']);
    h.advance_processing_time(Duration::from_secs(1))?;
    assert_eq!(h.state_len("last"), 0);
    assert_eq!(h.value_state(&'c', &last)?, None);
    Ok(())
}

#[test]
fn reading_state_through_the_harness_changes_nothing() -> Result<()> {
    // Reads renew this state's time-to-live; the harness's reads must not.
    let seen = ValueStateDescriptor::<i64>::new("seen")
        .with_ttl(StateTtlConfig::new(Duration::from_millis(1_500)).update_on_read());
    let d = seen.clone();
    let f = move |v: i64, ctx: &mut KeyedContext<i64>, out: &mut Collector<Option<i64>>| {
        let mut s = ctx.value_state(&d);
        out.collect(s.value()?);
        s.update(v)?;
        Ok(())
    };
    let mut h = KeyedHarness::new(|_: &i64| 0_i64, f);
    h.process_untimed(5)?; // lives until 1500
    h.set_processing_time(1_400)?;
    assert_eq!(h.value_state(&0, &seen)?, Some(5));
    h.set_processing_time(1_500)?;
    assert_eq!(
        h.value_state(&0, &seen)?,
        None,
        "not renewed by the read at 1400"
    );
    assert_eq!(
        h.state_len("seen"),
        1,
        "expired, but not removed by the harness's read"
    );
    h.process_untimed(6)?;
    assert_eq!(h.take_output(), vec![None, None]);
    Ok(())
}

/// The mean of the values added.
#[derive(Clone)]
struct Mean;

impl AggregateFunction<i64> for Mean {
    type Acc = (i64, i64);
    type Out = f64;
    fn create_accumulator(&self) -> (i64, i64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (i64, i64), v: &i64) {
        acc.0 += v;
        acc.1 += 1;
    }
    fn get_result(&self, acc: &(i64, i64)) -> f64 {
        acc.0 as f64 / acc.1 as f64
    }
    fn merge(&self, a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

/// One state of every kind.
#[derive(Clone)]
struct States {
    count: ValueStateDescriptor<u64>,
    seen: ListStateDescriptor<i64>,
    occurrences: MapStateDescriptor<i64, u32>,
    max: ReducingStateDescriptor<i64, fn(i64, i64) -> i64>,
    mean: AggregatingStateDescriptor<i64, Mean>,
}

#[test]
fn state_of_every_kind_and_several_keys() -> Result<()> {
    let d = States {
        count: ValueStateDescriptor::new("count"),
        seen: ListStateDescriptor::new("seen"),
        occurrences: MapStateDescriptor::new("occurrences"),
        max: ReducingStateDescriptor::new("max", i64::max as fn(i64, i64) -> i64),
        mean: AggregatingStateDescriptor::new("mean", Mean),
    };
    let s = d.clone();
    let f = move |(_, v): (char, i64), ctx: &mut KeyedContext<char>, _out: &mut Collector<()>| {
        let mut count = ctx.value_state(&s.count);
        let n = count.value()?.unwrap_or(0);
        count.update(n + 1)?;
        ctx.list_state(&s.seen).add(v)?;
        let mut occurrences = ctx.map_state(&s.occurrences);
        let k = occurrences.get(&v)?.unwrap_or(0);
        occurrences.put(v, k + 1)?;
        ctx.reducing_state(&s.max).add(v)?;
        ctx.aggregating_state(&s.mean).add(&v)?;
        Ok(())
    };
    let mut h = KeyedHarness::new(|e: &(char, i64)| e.0, f);
    // Seed a key's state before the function runs.
    d.count.bind(h.state_access(&'c')).update(41)?;
    for e in [('a', 2), ('b', 10), ('a', 5), ('b', 20), ('a', 2), ('c', 7)] {
        h.process_untimed(e)?;
    }

    assert_eq!(h.value_state(&'a', &d.count)?, Some(3));
    assert_eq!(h.value_state(&'b', &d.count)?, Some(2));
    assert_eq!(h.value_state(&'c', &d.count)?, Some(42));
    assert_eq!(h.list_state(&'a', &d.seen)?, vec![2, 5, 2]);
    assert_eq!(h.list_state(&'b', &d.seen)?, vec![10, 20]);
    assert_eq!(
        h.map_state(&'a', &d.occurrences)?,
        HashMap::from([(2, 2), (5, 1)])
    );
    assert_eq!(
        h.map_state(&'b', &d.occurrences)?,
        HashMap::from([(10, 1), (20, 1)])
    );
    assert_eq!(h.reducing_state(&'a', &d.max)?, Some(5));
    assert_eq!(h.reducing_state(&'b', &d.max)?, Some(20));
    assert_eq!(h.aggregating_state(&'a', &d.mean)?, Some(3.0));
    assert_eq!(h.aggregating_state(&'b', &d.mean)?, Some(15.0));
    // A key without state.
    assert_eq!(h.value_state(&'z', &d.count)?, None);
    assert_eq!(h.list_state(&'z', &d.seen)?, Vec::<i64>::new());
    assert_eq!(h.map_state(&'z', &d.occurrences)?, HashMap::new());
    assert_eq!(h.reducing_state(&'z', &d.max)?, None);
    assert_eq!(h.aggregating_state(&'z', &d.mean)?, None);

    let mut keys = h.state_keys("seen");
    keys.sort_unstable();
    assert_eq!(keys, vec!['a', 'b', 'c']);
    assert_eq!(h.state_len("count"), 3);
    assert_eq!(h.state_len("no such state"), 0);

    // Reading a state with another type than the function's is an error naming it.
    let err = h
        .value_state(&'a', &ValueStateDescriptor::<String>::new("count"))
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "operator 'Keyed Process' (subtask 0) failed: state 'count' is used with two types"
        ),
        "{err}"
    );
    Ok(())
}

// ---- outputs and errors ------------------------------------------------------------------

#[test]
fn side_outputs_with_timestamps() -> Result<()> {
    let late = OutputTag::<(char, i64)>::new("late");
    let tag = late.clone();
    // Elements at or behind the watermark go to the side output.
    let f =
        move |e: (char, i64), ctx: &mut KeyedContext<char>, out: &mut Collector<(char, i64)>| {
            if ctx
                .timestamp()
                .is_some_and(|t| t <= ctx.current_watermark())
            {
                ctx.output(&tag, e);
            } else {
                out.collect(e);
            }
            Ok(())
        };
    let mut h = KeyedHarness::new(|e: &(char, i64)| e.0, f).with_side_output(&late);
    h.process(('a', 1), 100)?;
    h.advance_watermark(200)?;
    h.process(('a', 2), 150)?;
    h.process(('b', 3), 250)?;
    h.process(('b', 4), 200)?;
    assert_eq!(
        h.take_output_records(),
        vec![Record::new(('a', 1), 100), Record::new(('b', 3), 250)]
    );
    assert_eq!(
        h.take_side_output_records(&late),
        vec![Record::new(('a', 2), 150), Record::new(('b', 4), 200)]
    );
    assert_eq!(h.take_side_output(&late), vec![]);
    assert_eq!(h.take_output(), vec![]);
    Ok(())
}

#[test]
#[should_panic(expected = "side output 'late' of type i64 is not registered")]
fn taking_an_unregistered_side_output_panics() {
    let mut h = ProcessHarness::new(
        |v: i64, _: &mut ProcessContext, out: &mut Collector<i64>| -> Result<(), BoxError> {
            out.collect(v);
            Ok(())
        },
    );
    h.take_side_output(&OutputTag::<i64>::new("late"));
}

#[test]
fn errors_and_panics_name_the_operator() -> Result<()> {
    let f = |v: i64, _: &mut KeyedContext<i64>, out: &mut Collector<i64>| -> Result<(), BoxError> {
        if v < 0 {
            return Err(format!("negative: {v}").into());
        }
        out.collect(v);
        Ok(())
    };
    let mut h = KeyedHarness::new(|v: &i64| v % 2, f).with_operator_name("Validate");
    h.process_untimed(1)?;
    let err = h.process_untimed(-3).unwrap_err();
    assert!(
        matches!(&err, StromError::Operator { operator, subtask: 0, .. } if operator == "Validate")
    );
    assert!(matches!(err.root_cause(), StromError::User(_)));
    assert_eq!(
        err.to_string(),
        "operator 'Validate' (subtask 0) failed: negative: -3"
    );
    assert_eq!(h.take_output(), vec![1]);

    let mut h = ProcessHarness::new(
        |v: i64, _: &mut ProcessContext, _: &mut Collector<i64>| -> Result<(), BoxError> {
            assert!(v < 10, "too big: {v}");
            Ok(())
        },
    );
    h.process_untimed(3)?;
    let err = h.process_untimed(12).unwrap_err();
    assert_eq!(
        err.to_string(),
        "operator 'Process' (subtask 0) failed: panic: too big: 12"
    );
    Ok(())
}

#[test]
fn process_function_harness() -> Result<()> {
    let small = OutputTag::<i64>::new("small");
    let tag = small.clone();
    let f = move |v: i64, ctx: &mut ProcessContext, out: &mut Collector<String>| {
        if v < 10 {
            ctx.output(&tag, v);
        } else {
            out.collect(format!(
                "{v} at {:?}, watermark {}, now {}",
                ctx.timestamp(),
                ctx.current_watermark().0,
                ctx.current_processing_time()
            ));
        }
        Ok(())
    };
    let mut h = ProcessHarness::new(f)
        .with_side_output(&small)
        .with_processing_time(1_000);
    h.process(42, 5)?;
    h.advance_watermark(3)?;
    h.advance_processing_time(Duration::from_secs(2))?;
    h.process_untimed(7)?;
    h.process(100, 9)?;
    assert_eq!(
        h.take_output_records(),
        vec![
            Record::new(
                format!("42 at Some(5), watermark {}, now 1000", i64::MIN),
                5
            ),
            Record::new("100 at Some(9), watermark 3, now 3000".to_string(), 9),
        ]
    );
    assert_eq!(
        h.take_side_output_records(&small),
        vec![Record::new(7, NO_TIMESTAMP)]
    );
    Ok(())
}

// ---- any operator ------------------------------------------------------------------------

type Ev = (char, i64);

/// Sums the values of a key's window, keeping the key.
struct Sum;

impl AggregateFunction<Ev> for Sum {
    type Acc = Ev;
    type Out = Ev;
    fn create_accumulator(&self) -> Ev {
        (' ', 0)
    }
    fn add(&self, acc: &mut Ev, e: &Ev) {
        *acc = (e.0, acc.1 + e.1);
    }
    fn get_result(&self, acc: &Ev) -> Ev {
        *acc
    }
    fn merge(&self, a: Ev, b: Ev) -> Ev {
        (a.0, a.1 + b.1)
    }
}

#[test]
fn event_time_window_through_the_operator_harness() -> Result<()> {
    let late = OutputTag::<Ev>::new("late");
    let op = WindowOperator::new(
        |e: &Ev| e.0,
        TumblingEventTimeWindows::of(Duration::from_secs(1)),
        EventTimeTrigger,
        None::<NoEvictor>,
        AggregateFn(Sum),
        WindowSettings {
            allowed_lateness: 0,
            late_tag: Some(late.clone()),
            default_trigger: true,
        },
    );
    let mut h = OperatorHarness::new(op)
        .with_operator_name("Window")
        .with_side_output(&late);
    h.process(('a', 1), 100)?;
    h.process(('b', 2), 500)?;
    h.process(('a', 3), 999)?;
    h.process(('a', 4), 1_000)?;
    h.advance_watermark(998)?;
    assert_eq!(h.take_output(), vec![]);
    h.advance_watermark(999)?;
    let mut fired = h.take_output_records();
    fired.sort_by_key(|r| r.value);
    assert_eq!(
        fired,
        vec![Record::new(('a', 4), 999), Record::new(('b', 2), 999)]
    );
    // Too late for [0, 1000): to the late side output.
    h.process(('b', 5), 900)?;
    assert_eq!(
        h.take_side_output_records(&late),
        vec![Record::new(('b', 5), 900)]
    );
    h.finish()?;
    assert_eq!(h.take_output_records(), vec![Record::new(('a', 4), 1_999)]);
    Ok(())
}

#[test]
fn processing_time_window_through_the_operator_harness() -> Result<()> {
    let op = WindowOperator::new(
        |e: &Ev| e.0,
        TumblingProcessingTimeWindows::of(Duration::from_secs(1)),
        ProcessingTimeTrigger,
        None::<NoEvictor>,
        ReduceFn(|a: Ev, b: Ev| (a.0, a.1 + b.1)),
        WindowSettings {
            allowed_lateness: 0,
            late_tag: None,
            default_trigger: true,
        },
    );
    let mut h = OperatorHarness::new(op).with_processing_time(10_500);
    h.process_untimed(('a', 1))?;
    h.process_untimed(('a', 2))?;
    assert_eq!(h.next_processing_time_callback(), Some(10_999));
    h.advance_processing_time(Duration::from_millis(400))?;
    h.process_untimed(('a', 3))?;
    assert_eq!(h.take_output(), vec![]);
    h.advance_processing_time(Duration::from_millis(100))?;
    assert_eq!(h.take_output_records(), vec![Record::new(('a', 6), 10_999)]);
    h.process_untimed(('a', 4))?; // at 11000: the next window
    h.set_processing_time(20_000)?;
    assert_eq!(h.take_output_records(), vec![Record::new(('a', 4), 11_999)]);
    Ok(())
}

/// Asks for a processing-time callback "now", every time.
struct Spin;

impl OneInputOperator<i64, i64> for Spin {
    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<i64>>,
        ctx: &mut OperatorContext,
        _out: &mut Emitter<'_, i64>,
    ) -> Result<()> {
        batch.clear();
        ctx.request_processing_time(0);
        Ok(())
    }

    fn on_processing_time(
        &mut self,
        now_ms: i64,
        ctx: &mut OperatorContext,
        _out: &mut Emitter<'_, i64>,
    ) -> Result<()> {
        ctx.request_processing_time(now_ms);
        Ok(())
    }
}

#[test]
fn an_operator_that_never_stops_requesting_callbacks_is_an_error() -> Result<()> {
    let mut h = OperatorHarness::new(Spin).with_operator_name("Spin");
    h.process_untimed(1)?;
    let err = h.advance_processing_time(Duration::ZERO).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "operator 'Spin' (subtask 0) failed: invalid job: more than 10000 processing-time callbacks at 0 ms"
        ),
        "{err}"
    );
    Ok(())
}
