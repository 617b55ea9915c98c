//! Checkpointing of the window operators and the interval join.
//!
//! Each test drives an operator directly, takes a snapshot after every prefix of an input,
//! keeps the original running to the end (the snapshot must not see what follows it),
//! restores a fresh operator from the materialized snapshot, feeds it the rest, and checks
//! that the output before the snapshot plus the restored operator's output equals the
//! uninterrupted run's. Rescaling tests snapshot two instances that own different key-group
//! ranges and restore into one and into three.
//!
//! As the runtime does, a restored operator resumes at the watermark it had at the
//! checkpoint (set in its context before `initialize_state`). Outputs are compared as
//! multisets: windows of different keys that fire at the same time have no defined order.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use strom_core::checkpoint::{
    CheckpointKind, KeyedBlob, RestoredState, SnapshotContext, StateSection, StateSnapshot,
};
use strom_core::{AggregateFunction, BoxError, Clock, Collector, Key, ManualClock, OutputTag};
use strom_core::{SideOutputs, TaskInfo};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_types::key_group::{KeyGroupRange, key_group_for_hash, operator_index_for_key_group};
use strom_types::{Record, Timestamp, Watermark};
use strom_window::function::{
    AggregateFn, AggregateProcessFn, ProcessFn, ReduceFn, ReduceProcessFn,
};
use strom_window::{
    ContinuousEventTimeTrigger, CountEvictor, CountTrigger, Either, EventTimeSessionWindows,
    EventTimeTrigger, GlobalWindow, GlobalWindows, IntervalBounds, IntervalJoinContext,
    IntervalJoinOperator, NoEvictor, ProcessingTimeSessionWindows, ProcessingTimeTrigger,
    PurgingTrigger, SlicingWindowOperator, SlidingEventTimeWindows, SlidingProcessingTimeWindows,
    TimeEvictor, TimeWindow, TumblingEventTimeWindows, TumblingProcessingTimeWindows, Window,
    WindowContext, WindowElements, WindowOperator, WindowSettings,
};

const MAXP: usize = 128;
const LATE: &str = "late";
const LATE_LEFT: &str = "late-left";
const LATE_RIGHT: &str = "late-right";

/// (key, value)
type Ev = (u32, i64);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn key(e: &Ev) -> u32 {
    e.0
}

// ---- the harness ---------------------------------------------------------------------

/// One input event.
#[derive(Clone, Debug)]
enum Step<In> {
    /// A record with its timestamp.
    Rec(In, Timestamp),
    /// The watermark advances.
    Wm(Timestamp),
    /// The processing-time clock moves.
    Now(i64),
}

/// Drives one operator instance; collects main and side output as strings.
struct Harness<In, Out, Late, Op> {
    op: Op,
    ctx: OperatorContext,
    clock: ManualClock,
    side: SideOutputs,
    late_tags: Vec<OutputTag<Late>>,
    out: Vec<Record<Out>>,
    results: Vec<String>,
    _in: std::marker::PhantomData<fn(In)>,
}

impl<In, Out, Late, Op> Harness<In, Out, Late, Op>
where
    In: Clone + Debug,
    Out: Debug,
    Late: Debug + Send + 'static,
    Op: OneInputOperator<In, Out>,
{
    fn new(op: Op, subtask: usize, parallelism: usize, now: i64, late: &[&str]) -> Self {
        let clock = ManualClock::new(now);
        let mut side = SideOutputs::new();
        let late_tags: Vec<OutputTag<Late>> = late.iter().map(|n| OutputTag::new(*n)).collect();
        for t in &late_tags {
            side.register::<Late>(t.id());
        }
        Harness {
            op,
            ctx: OperatorContext {
                info: TaskInfo {
                    job_name: "test".into(),
                    operator_name: "Window".into(),
                    subtask,
                    parallelism,
                    max_parallelism: MAXP,
                },
                clock: Arc::new(clock.clone()),
                watermark: Watermark::MIN,
                wakeup: Arc::new(AtomicI64::new(i64::MAX)),
                state_backend: Default::default(),
            },
            clock,
            side,
            late_tags,
            out: Vec::new(),
            results: Vec::new(),
            _in: std::marker::PhantomData,
        }
    }

    /// A fresh instance `subtask` of `parallelism` restored from `sections` (only the key
    /// groups it owns, as the runtime hands them), at processing time `now`, resuming at
    /// the checkpointed watermark `wm` (as the runtime does).
    #[allow(clippy::too_many_arguments)]
    fn restored(
        op: Op,
        sections: &[StateSection],
        subtask: usize,
        parallelism: usize,
        now: i64,
        wm: Watermark,
        late: &[&str],
    ) -> Self {
        let mut h = Self::new(op, subtask, parallelism, now, late);
        let range = KeyGroupRange::for_operator(MAXP, parallelism, subtask);
        let mut state = RestoredState::new("Window");
        for s in sections {
            if let StateSection::Keyed {
                state: name,
                key_group,
                delta,
                data,
            } = s
                && range.contains(*key_group as u16)
            {
                state.push_keyed(
                    name,
                    KeyedBlob {
                        key_group: *key_group,
                        delta: *delta,
                        data: data.clone(),
                    },
                );
            }
        }
        h.ctx.watermark = wm;
        h.op.initialize_state(&state, &mut h.ctx).unwrap();
        h.op.open(&mut h.ctx).unwrap();
        h
    }

    fn step(&mut self, step: &Step<In>) {
        match step {
            Step::Rec(v, ts) => {
                let mut batch = vec![Record::new(v.clone(), *ts)];
                let (op, ctx) = (&mut self.op, &mut self.ctx);
                let mut em = Emitter {
                    records: &mut self.out,
                    side: &mut self.side,
                    downstream: None,
                };
                op.process_batch(&mut batch, ctx, &mut em).unwrap();
            }
            Step::Wm(wm) => {
                if Watermark(*wm) > self.ctx.watermark {
                    self.ctx.watermark = Watermark(*wm);
                    let (op, ctx) = (&mut self.op, &mut self.ctx);
                    let mut em = Emitter {
                        records: &mut self.out,
                        side: &mut self.side,
                        downstream: None,
                    };
                    op.on_watermark(ctx, &mut em).unwrap();
                }
            }
            Step::Now(now) => {
                self.clock.set(*now);
                if self.ctx.wakeup.load(Ordering::SeqCst) <= *now {
                    self.ctx.wakeup.store(i64::MAX, Ordering::SeqCst);
                    let (op, ctx) = (&mut self.op, &mut self.ctx);
                    let mut em = Emitter {
                        records: &mut self.out,
                        side: &mut self.side,
                        downstream: None,
                    };
                    op.on_processing_time(*now, ctx, &mut em).unwrap();
                }
            }
        }
        self.collect();
    }

    fn collect(&mut self) {
        self.results.extend(
            self.out
                .drain(..)
                .map(|r| format!("{:?}@{}", r.value, r.timestamp)),
        );
        for t in &self.late_tags {
            let buf = self.side.buffer_mut::<Late>(t.id()).unwrap();
            self.results.extend(
                buf.drain(..)
                    .map(|r| format!("{} {:?}@{}", t.name(), r.value, r.timestamp)),
            );
        }
    }

    fn run(&mut self, steps: &[Step<In>]) {
        for s in steps {
            self.step(s);
        }
    }

    fn snapshot(&mut self) -> StateSnapshot {
        let ctx = SnapshotContext {
            checkpoint_id: 1,
            timestamp_ms: 0,
            kind: CheckpointKind::Checkpoint,
            incremental_base: None,
            max_parallelism: MAXP,
        };
        let mut snap = StateSnapshot::new();
        self.op.snapshot_state(&ctx, &mut snap).unwrap();
        snap
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Snapshot after every prefix of `steps`, restore, finish; compare with one run.
fn check_restore<In, Out, Late, Op>(make: impl Fn() -> Op, steps: &[Step<In>], late: &[&str])
where
    In: Clone + Debug,
    Out: Debug,
    Late: Debug + Send + 'static,
    Op: OneInputOperator<In, Out>,
{
    let mut reference = Harness::<In, Out, Late, Op>::new(make(), 0, 1, 0, late);
    reference.run(steps);
    let want = sorted(reference.results);
    assert!(want.len() > 5, "the input must produce output: {want:?}");
    let mut restored_some = false;
    for split in 0..=steps.len() {
        let mut a = Harness::<In, Out, Late, Op>::new(make(), 0, 1, 0, late);
        a.run(&steps[..split]);
        let snap = a.snapshot();
        let (now, wm) = (a.clock.now_ms(), a.ctx.watermark);
        let mut got = a.results.clone();
        // The original goes on; the snapshot is materialized afterwards and must not see
        // anything that happened after the barrier.
        a.run(&steps[split..]);
        assert_eq!(sorted(a.results), want, "snapshotting changed the run");
        let sections = snap.materialize().unwrap();
        restored_some |= !sections.is_empty();
        let mut b = Harness::<In, Out, Late, Op>::restored(make(), &sections, 0, 1, now, wm, late);
        b.run(&steps[split..]);
        got.extend(b.results);
        assert_eq!(sorted(got), want, "restored after step {split}");
    }
    assert!(restored_some, "some snapshot held state");
}

/// Run at parallelism 2 (records routed by key group), snapshot both instances at each
/// split, restore into 1 and into 3 instances, finish; compare with one instance.
fn check_rescale<In, Out, Late, Op, K>(
    make: impl Fn() -> Op,
    steps: &[Step<In>],
    key_of: impl Fn(&In) -> K,
    late: &[&str],
) where
    In: Clone + Debug,
    Out: Debug,
    Late: Debug + Send + 'static,
    Op: OneInputOperator<In, Out>,
    K: Key,
{
    let mut reference = Harness::<In, Out, Late, Op>::new(make(), 0, 1, 0, late);
    reference.run(steps);
    let want = sorted(reference.results);
    let route = |steps: &[Step<In>], hs: &mut [Harness<In, Out, Late, Op>]| {
        let n = hs.len();
        for s in steps {
            match s {
                Step::Rec(v, _) => {
                    let kg = key_group_for_hash(key_of(v).key_hash(), MAXP);
                    hs[operator_index_for_key_group(MAXP, n, kg)].step(s);
                }
                _ => hs.iter_mut().for_each(|h| h.step(s)),
            }
        }
    };
    for split in (0..=steps.len()).step_by(7) {
        let mut two: Vec<_> = (0..2)
            .map(|i| Harness::<In, Out, Late, Op>::new(make(), i, 2, 0, late))
            .collect();
        route(&steps[..split], &mut two);
        let (now, wm) = (two[0].clock.now_ms(), two[0].ctx.watermark);
        let mut sections = Vec::new();
        let mut before = Vec::new();
        for (i, h) in two.iter_mut().enumerate() {
            let s = h.snapshot().materialize().unwrap();
            let range = KeyGroupRange::for_operator(MAXP, 2, i);
            for sec in &s {
                let StateSection::Keyed { key_group, .. } = sec else {
                    panic!("only keyed state");
                };
                assert!(range.contains(*key_group as u16), "own key groups only");
            }
            sections.extend(s);
            before.append(&mut h.results);
        }
        for n in [1, 3] {
            let mut hs: Vec<_> = (0..n)
                .map(|i| {
                    Harness::<In, Out, Late, Op>::restored(make(), &sections, i, n, now, wm, late)
                })
                .collect();
            route(&steps[split..], &mut hs);
            let mut got = before.clone();
            for h in hs {
                got.extend(h.results);
            }
            assert_eq!(sorted(got), want, "restored at {n} after step {split}");
        }
    }
}

// ---- inputs --------------------------------------------------------------------------

/// A small xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n) as i64
    }
}

/// Event-time input: out-of-order records of `keys` keys, some late, with watermarks
/// `delay` behind the largest timestamp every few records, then the final watermark.
fn event_time_input(seed: u64, n: usize, keys: u64, delay: i64) -> Vec<Step<Ev>> {
    let mut rng = Rng(seed);
    let mut steps = Vec::new();
    let mut max_ts = i64::MIN;
    for i in 0..n as i64 {
        let ts = i * 3 - rng.next(25);
        max_ts = max_ts.max(ts);
        steps.push(Step::Rec((rng.next(keys) as u32, i), ts));
        if rng.next(4) == 0 {
            steps.push(Step::Wm(max_ts - delay));
        }
    }
    steps.push(Step::Wm(i64::MAX));
    steps
}

/// Processing-time input: the clock moves a few ms between records.
fn processing_time_input(seed: u64, n: usize, keys: u64) -> Vec<Step<Ev>> {
    let mut rng = Rng(seed);
    let mut steps = Vec::new();
    let mut now = 1_000;
    for i in 0..n as i64 {
        now += rng.next(9);
        steps.push(Step::Now(now));
        steps.push(Step::Rec((rng.next(keys) as u32, i), now));
    }
    steps.push(Step::Now(now + 10_000));
    steps
}

// ---- functions -----------------------------------------------------------------------

/// Sum and count of a key's values: (key, sum, count).
#[derive(Clone)]
struct SumCount;

impl AggregateFunction<Ev> for SumCount {
    type Acc = (u32, i64, u64);
    type Out = (u32, i64, u64);
    fn create_accumulator(&self) -> Self::Acc {
        (0, 0, 0)
    }
    fn add(&self, acc: &mut Self::Acc, v: &Ev) {
        *acc = (v.0, acc.1 + v.1, acc.2 + 1);
    }
    fn get_result(&self, acc: &Self::Acc) -> Self::Out {
        *acc
    }
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc {
        (a.0.max(b.0), a.1 + b.1, a.2 + b.2)
    }
}

fn sum(a: Ev, b: Ev) -> Ev {
    (a.0, a.1 + b.1)
}

/// Lists the window's values, with per-window (firings) and per-key (total firings) state.
fn list_with_state<W: Window>(
    key: &u32,
    ctx: &mut WindowContext<'_, W>,
    elements: WindowElements<'_, Ev>,
    out: &mut Collector<'_, String>,
) -> Result<(), BoxError> {
    let values: Vec<i64> = elements.map(|e| e.1).collect();
    let firing = {
        let n = ctx.window_state::<u32>()?;
        *n += 1;
        *n
    };
    let total = {
        let n = ctx.global_state::<u64>()?;
        *n += 1;
        *n
    };
    let w = ctx.window().clone();
    out.collect(format!(
        "k{key} {w:?} {values:?} firing {firing} total {total}"
    ));
    Ok(())
}

/// Lists the window's values with per-key state only (sessions allow no per-window state).
fn list_with_global(
    key: &u32,
    ctx: &mut WindowContext<'_, TimeWindow>,
    elements: WindowElements<'_, Ev>,
    out: &mut Collector<'_, String>,
) -> Result<(), BoxError> {
    let values: Vec<i64> = elements.map(|e| e.1).collect();
    let w = *ctx.window();
    let total = ctx.global_state::<Vec<i64>>()?;
    total.push(values.len() as i64);
    out.collect(format!("k{key} {w:?} {values:?} sizes {total:?}"));
    Ok(())
}

/// The aggregate's result with per-window and per-key firing counts.
fn describe_sum(
    key: &u32,
    ctx: &mut WindowContext<'_, TimeWindow>,
    elements: WindowElements<'_, (u32, i64, u64)>,
    out: &mut Collector<'_, String>,
) -> Result<(), BoxError> {
    let r: Vec<_> = elements.cloned().collect();
    let firing = {
        let n = ctx.window_state::<u32>()?;
        *n += 1;
        *n
    };
    let total = {
        let n = ctx.global_state::<u64>()?;
        *n += 1;
        *n
    };
    let w = *ctx.window();
    out.collect(format!("k{key} {w:?} {r:?} firing {firing} total {total}"));
    Ok(())
}

fn settings(lateness: i64, default_trigger: bool) -> WindowSettings<Ev> {
    WindowSettings {
        allowed_lateness: lateness,
        late_tag: Some(OutputTag::new(LATE)),
        default_trigger,
    }
}

// ---- operators -----------------------------------------------------------------------

type ListFn<W> = fn(
    &u32,
    &mut WindowContext<'_, W>,
    WindowElements<'_, Ev>,
    &mut Collector<'_, String>,
) -> Result<(), BoxError>;

fn list_fn<W: Window>() -> ProcessFn<ListFn<W>, String> {
    ProcessFn(list_with_state::<W> as ListFn<W>, std::marker::PhantomData)
}

fn tumbling_aggregate() -> impl OneInputOperator<Ev, (u32, i64, u64)> {
    WindowOperator::new(
        key,
        TumblingEventTimeWindows::of(ms(10)),
        EventTimeTrigger,
        None::<NoEvictor>,
        AggregateFn(SumCount),
        settings(6, true),
    )
}

fn tumbling_reduce_with_process() -> impl OneInputOperator<Ev, String> {
    WindowOperator::new(
        key,
        TumblingEventTimeWindows::of(ms(10)),
        EventTimeTrigger,
        None::<NoEvictor>,
        ReduceProcessFn(sum, list_fn::<TimeWindow>().0, std::marker::PhantomData),
        settings(6, true),
    )
}

fn sliding_sliced_reduce() -> impl OneInputOperator<Ev, Ev> {
    SlicingWindowOperator::new(
        key,
        SlidingEventTimeWindows::of(ms(30), ms(10)),
        ReduceFn(sum),
        5,
        Some(OutputTag::new(LATE)),
    )
    .unwrap()
}

fn sliding_sliced_aggregate_with_process() -> impl OneInputOperator<Ev, String> {
    SlicingWindowOperator::new(
        key,
        SlidingEventTimeWindows::of(ms(20), ms(8)),
        AggregateProcessFn(SumCount, describe_sum, std::marker::PhantomData),
        7,
        Some(OutputTag::new(LATE)),
    )
    .unwrap()
}

fn sliding_process_shared() -> impl OneInputOperator<Ev, String> {
    WindowOperator::new(
        key,
        SlidingEventTimeWindows::of(ms(20), ms(5)),
        EventTimeTrigger,
        None::<NoEvictor>,
        list_fn::<TimeWindow>(),
        settings(7, true),
    )
}

fn sessions_process() -> impl OneInputOperator<Ev, String> {
    WindowOperator::new(
        key,
        EventTimeSessionWindows::with_gap(ms(6)),
        EventTimeTrigger,
        None::<NoEvictor>,
        ProcessFn(list_with_global, std::marker::PhantomData),
        settings(4, true),
    )
}

fn sessions_aggregate() -> impl OneInputOperator<Ev, (u32, i64, u64)> {
    WindowOperator::new(
        key,
        EventTimeSessionWindows::with_gap(ms(5)),
        EventTimeTrigger,
        None::<NoEvictor>,
        AggregateFn(SumCount),
        settings(3, true),
    )
}

fn count_tumbling() -> impl OneInputOperator<Ev, Ev> {
    WindowOperator::new(
        key,
        GlobalWindows::create(),
        PurgingTrigger::of(CountTrigger::of(3)),
        None::<NoEvictor>,
        ReduceFn(sum),
        settings(0, false),
    )
}

fn continuous_trigger() -> impl OneInputOperator<Ev, String> {
    WindowOperator::new(
        key,
        TumblingEventTimeWindows::of(ms(30)),
        ContinuousEventTimeTrigger::of(ms(7)),
        None::<NoEvictor>,
        list_fn::<TimeWindow>(),
        settings(5, false),
    )
}

fn count_sliding_evictor() -> impl OneInputOperator<Ev, String> {
    WindowOperator::new(
        key,
        GlobalWindows::create(),
        CountTrigger::of(2),
        Some(CountEvictor::of(4)),
        list_fn::<GlobalWindow>(),
        settings(0, false),
    )
}

fn time_evictor() -> impl OneInputOperator<Ev, String> {
    WindowOperator::new(
        key,
        TumblingEventTimeWindows::of(ms(20)),
        EventTimeTrigger,
        Some(TimeEvictor::of(ms(8)).evict_after_evaluation()),
        list_fn::<TimeWindow>(),
        settings(5, true),
    )
}

fn processing_time_tumbling() -> impl OneInputOperator<Ev, String> {
    WindowOperator::new(
        key,
        TumblingProcessingTimeWindows::of(ms(25)),
        ProcessingTimeTrigger,
        None::<NoEvictor>,
        list_fn::<TimeWindow>(),
        settings(0, true),
    )
}

fn processing_time_sessions() -> impl OneInputOperator<Ev, Ev> {
    WindowOperator::new(
        key,
        ProcessingTimeSessionWindows::with_gap(ms(12)),
        ProcessingTimeTrigger,
        None::<NoEvictor>,
        ReduceFn(sum),
        settings(0, true),
    )
}

fn processing_time_sliced() -> impl OneInputOperator<Ev, Ev> {
    SlicingWindowOperator::new(
        key,
        SlidingProcessingTimeWindows::of(ms(30), ms(10)),
        ReduceFn(sum),
        0,
        None,
    )
    .unwrap()
}

// ---- window operator tests -----------------------------------------------------------

#[test]
fn tumbling_aggregate_restores() {
    check_restore::<_, _, Ev, _>(tumbling_aggregate, &event_time_input(1, 60, 4, 8), &[LATE]);
}

#[test]
fn tumbling_reduce_with_process_state_restores() {
    check_restore::<_, _, Ev, _>(
        tumbling_reduce_with_process,
        &event_time_input(2, 60, 3, 8),
        &[LATE],
    );
}

#[test]
fn sliding_sliced_reduce_restores() {
    check_restore::<_, _, Ev, _>(
        sliding_sliced_reduce,
        &event_time_input(3, 60, 4, 6),
        &[LATE],
    );
}

#[test]
fn sliding_sliced_aggregate_with_window_state_restores() {
    check_restore::<_, _, Ev, _>(
        sliding_sliced_aggregate_with_process,
        &event_time_input(4, 60, 3, 9),
        &[LATE],
    );
}

#[test]
fn sliding_process_window_with_per_window_state_restores() {
    check_restore::<_, _, Ev, _>(
        sliding_process_shared,
        &event_time_input(5, 60, 3, 9),
        &[LATE],
    );
}

#[test]
fn merging_session_windows_restore() {
    check_restore::<_, _, Ev, _>(sessions_process, &event_time_input(6, 60, 3, 7), &[LATE]);
    check_restore::<_, _, Ev, _>(sessions_aggregate, &event_time_input(7, 60, 2, 5), &[LATE]);
}

#[test]
fn count_trigger_state_restores() {
    check_restore::<_, _, Ev, _>(count_tumbling, &event_time_input(8, 60, 3, 5), &[LATE]);
    check_restore::<_, _, Ev, _>(continuous_trigger, &event_time_input(15, 60, 3, 6), &[LATE]);
}

#[test]
fn evictor_buffers_restore() {
    check_restore::<_, _, Ev, _>(
        count_sliding_evictor,
        &event_time_input(9, 60, 3, 5),
        &[LATE],
    );
    check_restore::<_, _, Ev, _>(time_evictor, &event_time_input(10, 60, 3, 8), &[LATE]);
}

#[test]
fn processing_time_windows_restore() {
    check_restore::<_, _, Ev, _>(
        processing_time_tumbling,
        &processing_time_input(11, 50, 3),
        &[],
    );
    check_restore::<_, _, Ev, _>(
        processing_time_sessions,
        &processing_time_input(12, 50, 3),
        &[],
    );
    check_restore::<_, _, Ev, _>(
        processing_time_sliced,
        &processing_time_input(13, 50, 3),
        &[],
    );
}

#[test]
fn processing_time_timers_are_requested_again_on_restore() {
    fn check<Out: Debug, Op: OneInputOperator<Ev, Out>>(op: Op, fresh: Op) {
        let mut h = Harness::<Ev, Out, Ev, Op>::new(op, 0, 1, 1_000, &[]);
        h.step(&Step::Rec((1, 1), 1_000));
        let wakeup = h.ctx.wakeup.load(Ordering::SeqCst);
        assert!(wakeup < i64::MAX);
        let sections = h.snapshot().materialize().unwrap();
        let r = Harness::<Ev, Out, Ev, Op>::restored(
            fresh,
            &sections,
            0,
            1,
            1_000,
            Watermark::MIN,
            &[],
        );
        assert_eq!(r.ctx.wakeup.load(Ordering::SeqCst), wakeup);
    }
    check(processing_time_tumbling(), processing_time_tumbling());
    check(processing_time_sessions(), processing_time_sessions());
    check(processing_time_sliced(), processing_time_sliced());
}

#[test]
fn snapshots_use_stable_state_names_and_key_groups() {
    let input = event_time_input(14, 30, 20, 100);
    let input = &input[..input.len() - 1]; // not the final watermark: windows stay open
    let mut h = Harness::<Ev, _, Ev, _>::new(tumbling_aggregate(), 0, 1, 0, &[LATE]);
    h.run(input);
    let sections = h.snapshot().materialize().unwrap();
    assert!(sections.len() > 5, "one section per key group");
    for s in &sections {
        assert_eq!(s.state(), strom_window::operator::WINDOW_STATE);
        assert_eq!(s.state(), "window-contents");
    }
    let mut s = Harness::<Ev, _, Ev, _>::new(sliding_sliced_reduce(), 0, 1, 0, &[LATE]);
    s.run(input);
    let sections = s.snapshot().materialize().unwrap();
    assert!(sections.len() > 5);
    let names: std::collections::BTreeSet<&str> = sections.iter().map(|s| s.state()).collect();
    assert_eq!(
        names,
        [
            strom_window::slicing::SLICES_STATE,
            strom_window::slicing::SLICING_KEY_STATE
        ]
        .into_iter()
        .collect(),
        "slices and each key's slice range; a reduce keeps no function state"
    );
    let mut j = Harness::<JoinIn, _, V, _>::new(interval_join(), 0, 1, 0, &[]);
    let input = join_input(15, 30, 20);
    j.run(&input[..input.len() - 1]);
    let sections = j.snapshot().materialize().unwrap();
    assert!(!sections.is_empty());
    let names: std::collections::BTreeSet<&str> = sections.iter().map(|s| s.state()).collect();
    assert_eq!(
        names,
        [
            strom_window::interval_join::INTERVAL_JOIN_LEFT_STATE,
            strom_window::interval_join::INTERVAL_JOIN_RIGHT_STATE
        ]
        .into_iter()
        .collect(),
        "one buffer per side"
    );
    let empty = Harness::<Ev, _, Ev, _>::new(tumbling_aggregate(), 0, 1, 0, &[LATE])
        .snapshot()
        .materialize()
        .unwrap();
    assert!(empty.is_empty());
}

#[test]
fn window_operators_rescale() {
    let input = event_time_input(20, 70, 40, 8);
    check_rescale::<_, _, Ev, _, _>(tumbling_aggregate, &input, key, &[LATE]);
    check_rescale::<_, _, Ev, _, _>(sliding_sliced_aggregate_with_process, &input, key, &[LATE]);
    check_rescale::<_, _, Ev, _, _>(sliding_process_shared, &input, key, &[LATE]);
    check_rescale::<_, _, Ev, _, _>(sessions_process, &input, key, &[LATE]);
    check_rescale::<_, _, Ev, _, _>(count_sliding_evictor, &input, key, &[LATE]);
    let input = processing_time_input(21, 60, 40);
    check_rescale::<_, _, Ev, _, _>(processing_time_tumbling, &input, key, &[]);
    check_rescale::<_, _, Ev, _, _>(processing_time_sliced, &input, key, &[]);
}

// ---- interval join -------------------------------------------------------------------

/// (key, id) on both sides.
type V = (u32, u32);
type JoinIn = Either<V, V>;
type JoinFn = fn(
    &V,
    &V,
    &mut IntervalJoinContext<'_>,
    &mut Collector<'_, (u32, u32)>,
) -> Result<(), BoxError>;

fn join_key(e: &JoinIn) -> u32 {
    match e {
        Either::Left(v) | Either::Right(v) => v.0,
    }
}

fn join(
    l: &V,
    r: &V,
    _: &mut IntervalJoinContext<'_>,
    out: &mut Collector<'_, (u32, u32)>,
) -> Result<(), BoxError> {
    out.collect((l.1, r.1));
    Ok(())
}

type JoinOp = IntervalJoinOperator<u32, V, V, (u32, u32), fn(&JoinIn) -> u32, JoinFn>;

fn interval_join() -> JoinOp {
    let mut bounds = IntervalBounds::new(-6, 4);
    bounds.upper_inclusive = false;
    IntervalJoinOperator::new(join_key as fn(&JoinIn) -> u32, bounds, join as JoinFn)
        .with_left_late_output(Some(OutputTag::new(LATE_LEFT)))
        .with_right_late_output(Some(OutputTag::new(LATE_RIGHT)))
}

fn join_input(seed: u64, n: usize, keys: u64) -> Vec<Step<JoinIn>> {
    let mut rng = Rng(seed);
    let mut steps = Vec::new();
    let mut max_ts = i64::MIN;
    for i in 0..n as u32 {
        let ts = i64::from(i) * 2 - rng.next(12);
        max_ts = max_ts.max(ts);
        let v = (rng.next(keys) as u32, i);
        let e = if rng.next(2) == 0 {
            Either::Left(v)
        } else {
            Either::Right(v)
        };
        steps.push(Step::Rec(e, ts));
        if rng.next(3) == 0 {
            steps.push(Step::Wm(max_ts - 5));
        }
    }
    steps.push(Step::Wm(i64::MAX));
    steps
}

#[test]
fn interval_join_buffers_restore() {
    check_restore::<_, _, V, _>(
        interval_join,
        &join_input(30, 70, 3),
        &[LATE_LEFT, LATE_RIGHT],
    );
}

/// Restored buffers are cleaned up exactly when the uninterrupted run's are.
#[test]
fn interval_join_cleanup_timers_are_rebuilt() {
    let steps = join_input(32, 70, 3);
    for split in 0..steps.len() {
        let mut a = Harness::<JoinIn, _, V, _>::new(interval_join(), 0, 1, 0, &[]);
        a.run(&steps[..split]);
        let sections = a.snapshot().materialize().unwrap();
        let wm = a.ctx.watermark;
        let mut b =
            Harness::<JoinIn, _, V, _>::restored(interval_join(), &sections, 0, 1, 0, wm, &[]);
        assert_eq!(b.op.buffered(), a.op.buffered(), "restored at {split}");
        for (i, s) in steps[split..].iter().enumerate() {
            a.step(s);
            b.step(s);
            assert_eq!(
                b.op.buffered(),
                a.op.buffered(),
                "restored at {split}, step {i}"
            );
            assert_eq!(b.op.buffered_keys(), a.op.buffered_keys());
        }
    }
}

#[test]
fn interval_join_rescales() {
    check_rescale::<_, _, V, _, _>(
        interval_join,
        &join_input(31, 80, 40),
        join_key,
        &[LATE_LEFT, LATE_RIGHT],
    );
}
