//! [`WindowedStream`]: a keyed stream cut into windows (Flink's `WindowedStream`), and
//! event-time setup on streams (`assign_timestamps_and_watermarks`).

use crate::{DataStream, KeyedStream};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use strom_core::watermark::{TimestampAssigner, WatermarkGenerator, WatermarkStrategy};
use strom_core::{Data, Key, OutputTag, StromError};
use strom_runtime::downstream::Downstream;
use strom_runtime::graph::stream_type;
use strom_runtime::nodes::LinkNode;
use strom_runtime::operators::TimestampsAndWatermarks;
use strom_window::function::{
    AggregateFn, AggregateProcessFn, ProcessFn, ReduceFn, ReduceProcessFn, WindowFn,
};
use strom_window::{
    AggregateFunction, CountEvictor, CountTrigger, Evictor, GlobalWindows, NoEvictor,
    ProcessWindowFunction, PurgingTrigger, SlicingWindowOperator, Trigger, WindowAssigner,
    WindowOperator, WindowSettings,
};

impl<T: Data> DataStream<T> {
    /// Assign event-time timestamps and generate watermarks (Flink's
    /// `assignTimestampsAndWatermarks`). Upstream watermarks are replaced, except the final
    /// one at the end of a bounded input.
    pub fn assign_timestamps_and_watermarks<G, A>(
        self,
        strategy: WatermarkStrategy<G, A>,
    ) -> DataStream<T>
    where
        G: WatermarkGenerator<T> + Clone + Sync + 'static,
        A: TimestampAssigner<T> + Clone + Sync + 'static,
    {
        let factory = move |ctx: &strom_runtime::graph::BuildContext, outputs| {
            let link: Box<dyn Downstream<T>> = Box::new(TimestampsAndWatermarks::new(
                strategy.generator.clone(),
                strategy.assigner.clone(),
                strategy.interval.unwrap_or(ctx.auto_watermark_interval),
                strategy.idleness,
                outputs,
                Arc::clone(&ctx.env.clock),
                Arc::clone(&ctx.env.wakeup),
                ctx.info.clone(),
                Arc::clone(&ctx.metrics),
            ));
            Ok(link)
        };
        let id = self.add_consumer(
            "Timestamps/Watermarks",
            Arc::new(LinkNode::<T, T, _>::new(factory)),
            Some(stream_type::<T>()),
        );
        DataStream::from_node(self.env, id)
    }

    /// Windows over the whole (non-keyed) stream, evaluated by one subtask (Flink's
    /// `windowAll`).
    pub fn window_all<A>(self, assigner: A) -> AllWindowedStream<T, A, A::DefaultTrigger, NoEvictor>
    where
        A: WindowAssigner<T>,
    {
        let keyed = self.key_by(unit_key::<T> as fn(&T) -> ());
        let mut w = keyed.window(assigner);
        w.all = true;
        w
    }

    /// Non-keyed tumbling count windows of `size` elements.
    pub fn count_window_all(
        self,
        size: u64,
    ) -> AllWindowedStream<T, GlobalWindows, PurgingTrigger<CountTrigger>, NoEvictor> {
        self.window_all(GlobalWindows::create())
            .trigger(PurgingTrigger::of(CountTrigger::of(size)))
    }
}

fn unit_key<T>(_: &T) {}

/// A windowed non-keyed stream (Flink's `AllWindowedStream`): one key, one subtask.
pub type AllWindowedStream<T, A, Tr, E> = WindowedStream<T, (), fn(&T) -> (), A, Tr, E>;

impl<T, K, KF> KeyedStream<T, K, KF>
where
    T: Data,
    K: Key,
    KF: Fn(&T) -> K + Clone + Send + Sync + 'static,
{
    /// Cut each key's elements into windows.
    pub fn window<A: WindowAssigner<T>>(
        self,
        assigner: A,
    ) -> WindowedStream<T, K, KF, A, A::DefaultTrigger, NoEvictor> {
        let trigger = assigner.default_trigger();
        WindowedStream {
            keyed: self,
            assigner,
            trigger,
            evictor: None,
            lateness: Duration::ZERO,
            late_tag: None,
            default_trigger: true,
            all: false,
        }
    }

    /// Tumbling count windows: fire and purge every `size` elements of a key.
    pub fn count_window(
        self,
        size: u64,
    ) -> WindowedStream<T, K, KF, GlobalWindows, PurgingTrigger<CountTrigger>, NoEvictor> {
        self.window(GlobalWindows::create())
            .trigger(PurgingTrigger::of(CountTrigger::of(size)))
    }

    /// Sliding count windows: every `slide` elements, evaluate the last `size` elements.
    pub fn count_window_sliding(
        self,
        size: u64,
        slide: u64,
    ) -> WindowedStream<T, K, KF, GlobalWindows, CountTrigger, CountEvictor> {
        self.window(GlobalWindows::create())
            .evictor(CountEvictor::of(size as usize))
            .trigger(CountTrigger::of(slide))
    }
}

/// A keyed stream with a window assigner, trigger, evictor and lateness; finish it with a
/// window function (`reduce`, `aggregate`, `process`, or a combination).
pub struct WindowedStream<T, K, KF, A, Tr, E> {
    keyed: KeyedStream<T, K, KF>,
    assigner: A,
    trigger: Tr,
    evictor: Option<E>,
    lateness: Duration,
    late_tag: Option<OutputTag<T>>,
    default_trigger: bool,
    all: bool,
}

impl<T, K, KF, A, Tr, E> WindowedStream<T, K, KF, A, Tr, E>
where
    T: Data,
    K: Key,
    KF: Fn(&T) -> K + Clone + Send + Sync + 'static,
    A: WindowAssigner<T>,
    Tr: Trigger<T, A::W> + Clone + Sync + 'static,
    E: Evictor<T, A::W> + Clone + Sync + 'static,
{
    /// Replace the assigner's default trigger.
    pub fn trigger<Tr2: Trigger<T, A::W> + Clone + Sync + 'static>(
        self,
        trigger: Tr2,
    ) -> WindowedStream<T, K, KF, A, Tr2, E> {
        WindowedStream {
            keyed: self.keyed,
            assigner: self.assigner,
            trigger,
            evictor: self.evictor,
            lateness: self.lateness,
            late_tag: self.late_tag,
            default_trigger: false,
            all: self.all,
        }
    }

    /// Remove elements before or after each evaluation (the window then keeps all its
    /// elements).
    pub fn evictor<E2: Evictor<T, A::W> + Clone + Sync + 'static>(
        self,
        evictor: E2,
    ) -> WindowedStream<T, K, KF, A, Tr, E2> {
        WindowedStream {
            keyed: self.keyed,
            assigner: self.assigner,
            trigger: self.trigger,
            evictor: Some(evictor),
            lateness: self.lateness,
            late_tag: self.late_tag,
            default_trigger: self.default_trigger,
            all: self.all,
        }
    }

    /// Keep windows for `lateness` after their end: late elements within it are added and
    /// fire the window again (event time).
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness = lateness;
        self
    }

    /// Send elements that are too late for every window to the side output `tag` (read it
    /// with `side_output(&tag)` on the result).
    pub fn side_output_late_data(mut self, tag: &OutputTag<T>) -> Self {
        self.late_tag = Some(tag.clone());
        self
    }

    fn build<F, Make>(self, name: &str, make: Make) -> DataStream<F::Out>
    where
        F: WindowFn<K, T, A::W> + 'static,
        F::Out: Data,
        Make: Fn() -> F + Send + Sync + 'static,
    {
        let WindowedStream {
            keyed,
            assigner,
            trigger,
            evictor,
            lateness,
            late_tag,
            default_trigger,
            all,
        } = self;
        if assigner.is_merging() && !trigger.can_merge() {
            keyed.stream.env.error(
                "a merging window assigner (sessions) cannot be used with a trigger that does not support merging: implement Trigger::can_merge and on_merge, or use another trigger".to_string(),
            );
        }
        let kf = keyed.key_selector.clone();
        let lateness = lateness.as_millis().min(i64::MAX as u128) as i64;
        let out = keyed.stream.transform(name, move |_| {
            Ok(WindowOperator::new(
                kf.clone(),
                assigner.clone(),
                trigger.clone(),
                evictor.clone(),
                make(),
                WindowSettings {
                    allowed_lateness: lateness,
                    late_tag: late_tag.clone(),
                    default_trigger,
                },
            ))
        });
        if all { out.set_parallelism(1) } else { out }
    }

    /// Like `build`, for incremental functions: aligned windows (tumbling, sliding) with the
    /// default trigger and no evictor run sliced (one accumulator per slice of time, merged
    /// when a window fires), anything else runs in the general window operator.
    fn build_incremental<F, Make>(self, name: &str, make: Make) -> DataStream<F::Out>
    where
        F: WindowFn<K, T, A::W> + 'static,
        F::Out: Data,
        F::Acc: Clone,
        Make: Fn() -> F + Send + Sync + 'static,
    {
        let sliced = self.default_trigger
            && self.evictor.is_none()
            && self.assigner.alignment().is_some()
            && !self.assigner.is_merging();
        if !sliced {
            return self.build(name, make);
        }
        let kf = self.keyed.key_selector.clone();
        let assigner = self.assigner.clone();
        let lateness = self.lateness.as_millis().min(i64::MAX as u128) as i64;
        let late_tag = self.late_tag.clone();
        let all = self.all;
        let out = self.keyed.stream.transform(name, move |_| {
            SlicingWindowOperator::new(
                kf.clone(),
                assigner.clone(),
                make(),
                lateness,
                late_tag.clone(),
            )
            .ok_or_else(|| StromError::Internal("sliced window without alignment".into()))
        });
        if all { out.set_parallelism(1) } else { out }
    }

    /// Combine each window's elements with `f(accumulated, new)`; emits one value per firing.
    pub fn reduce<R>(self, f: R) -> DataStream<T>
    where
        R: FnMut(T, T) -> T + Clone + Send + Sync + 'static,
    {
        self.build_incremental("Window(Reduce)", move || ReduceFn(f.clone()))
    }

    /// Aggregate each window incrementally; only the accumulator is kept.
    pub fn aggregate<AF>(self, agg: AF) -> DataStream<AF::Out>
    where
        AF: AggregateFunction<T> + Clone + Sync + 'static,
        AF::Out: Data,
    {
        self.build_incremental("Window(Aggregate)", move || AggregateFn(agg.clone()))
    }

    /// Evaluate each window with all its elements.
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: Data,
        P: ProcessWindowFunction<K, T, O, A::W> + Clone + Sync + 'static,
    {
        self.build("Window(Process)", move || {
            ProcessFn(function.clone(), PhantomData)
        })
    }

    /// Reduce incrementally, then hand the single result to a process function (which
    /// also sees the window).
    pub fn reduce_with_process<O, R, P>(self, f: R, function: P) -> DataStream<O>
    where
        O: Data,
        R: FnMut(T, T) -> T + Clone + Send + Sync + 'static,
        P: ProcessWindowFunction<K, T, O, A::W> + Clone + Sync + 'static,
    {
        self.build_incremental("Window(Reduce, Process)", move || {
            ReduceProcessFn(f.clone(), function.clone(), PhantomData)
        })
    }

    /// Aggregate incrementally, then hand the result to a process function.
    pub fn aggregate_with_process<O, AF, P>(self, agg: AF, function: P) -> DataStream<O>
    where
        O: Data,
        AF: AggregateFunction<T> + Clone + Sync + 'static,
        P: ProcessWindowFunction<K, AF::Out, O, A::W> + Clone + Sync + 'static,
    {
        self.build_incremental("Window(Aggregate, Process)", move || {
            AggregateProcessFn(agg.clone(), function.clone(), PhantomData)
        })
    }
}
