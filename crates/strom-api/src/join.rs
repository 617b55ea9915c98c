//! Joins of two streams: window joins and co-groups (Flink's `JoinedStreams` and
//! `CoGroupedStreams`) and interval joins (Flink's `KeyedStream.intervalJoin`).
//!
//! Both are built from one-input operators over the tagged union [`Either`]: each input is
//! mapped to its side (at the input's parallelism, so the map chains to it), the two are
//! unioned and keyed by one key selector, and one operator reads the union. Its watermark
//! is the minimum over both inputs, as for Flink's two-input operators.
//!
//! * A **window join** reuses the window operator: per key and window, when the window
//!   fires, the function sees every pair of a left and a right element of the window (the
//!   cross product; nothing when one side is empty). Results carry the window's max
//!   timestamp. A pair shared by several sliding windows is joined once per window.
//! * A **co-group** gets both sides' elements of each key and window that has any.
//! * An **interval join** runs [`IntervalJoinOperator`]: a left element at `t` joins the
//!   right elements of its key with timestamps in `[t + lower, t + upper]`.
//!
//! ```
//! use std::time::Duration;
//! use strom_api::StreamEnv;
//! use strom_core::watermark::WatermarkStrategy;
//! use strom_window::TumblingEventTimeWindows;
//!
//! let env = StreamEnv::new().with_parallelism(1);
//! let ts = WatermarkStrategy::for_monotonous_timestamps();
//! let left = env
//!     .from_collection(vec![(1u32, 10i64), (2, 20)])
//!     .assign_timestamps_and_watermarks(ts.clone().with_timestamp_assigner(|e: &(u32, i64), _| e.1));
//! let right = env
//!     .from_collection(vec![(1u32, 15i64), (1, 40)])
//!     .assign_timestamps_and_watermarks(ts.with_timestamp_assigner(|e: &(u32, i64), _| e.1));
//! let out = left
//!     .join(right)
//!     .where_key(|l: &(u32, i64)| l.0)
//!     .equal_to(|r: &(u32, i64)| r.0)
//!     .window(TumblingEventTimeWindows::of(Duration::from_millis(30)))
//!     .apply(|l: &(u32, i64), r: &(u32, i64)| (l.1, r.1))
//!     .collect();
//! env.execute("join").unwrap();
//! assert_eq!(out.take(), vec![(10, 15)]);
//! ```

use crate::{DataStream, KeyedStream};
use std::marker::PhantomData;
use std::time::Duration;
use strom_core::{BoxError, Collector, Data, Key, OutputTag};
use strom_window::{
    Either, Evictor, IntervalBounds, IntervalJoinOperator, NoEvictor, ProcessJoinFunction,
    ProcessWindowFunction, Trigger, Window, WindowAssigner, WindowContext, WindowElements,
};

/// One key selector over the union from a selector per side.
fn union_key<L, R, K, KL, KR>(
    kl: KL,
    kr: KR,
) -> impl Fn(&Either<L, R>) -> K + Clone + Send + Sync + 'static
where
    L: 'static,
    R: 'static,
    K: 'static,
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
    KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
{
    move |e: &Either<L, R>| match e {
        Either::Left(l) => kl(l),
        Either::Right(r) => kr(r),
    }
}

// ---------------------------------------------------------------------------------------
// Window joins and co-groups
// ---------------------------------------------------------------------------------------

/// Marks a window *join*: the function sees each pair.
pub struct InnerJoin;

/// Marks a window *co-group*: the function sees both sides' element lists.
pub struct CoGroup;

/// Two streams to join in windows (Flink's `JoinedStreams`): name the key of each side
/// with [`where_key`](JoinedStreams::where_key) and
/// [`equal_to`](JoinWhere::equal_to), then the windows, then the function.
pub struct JoinedStreams<L, R, M = InnerJoin> {
    left: DataStream<L>,
    right: DataStream<R>,
    _mode: PhantomData<fn() -> M>,
}

/// Two streams to co-group in windows (Flink's `CoGroupedStreams`).
pub type CoGroupedStreams<L, R> = JoinedStreams<L, R, CoGroup>;

impl<L: Data> DataStream<L> {
    /// Join with `other` in windows (Flink's `join`): per key and window, every pair of an
    /// element of this stream and one of `other`.
    pub fn join<R: Data>(self, other: DataStream<R>) -> JoinedStreams<L, R> {
        JoinedStreams {
            left: self,
            right: other,
            _mode: PhantomData,
        }
    }

    /// Co-group with `other` in windows (Flink's `coGroup`): per key and window, both
    /// streams' elements.
    pub fn co_group<R: Data>(self, other: DataStream<R>) -> CoGroupedStreams<L, R> {
        JoinedStreams {
            left: self,
            right: other,
            _mode: PhantomData,
        }
    }
}

impl<L: Data, R: Data, M> JoinedStreams<L, R, M> {
    /// The key of the first (left) stream's elements.
    pub fn where_key<K, KL>(self, key_selector: KL) -> JoinWhere<L, R, K, KL, M>
    where
        K: Key,
        KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
    {
        JoinWhere {
            streams: self,
            left_key: key_selector,
            _key: PhantomData,
        }
    }
}

/// A join with the left key chosen.
pub struct JoinWhere<L, R, K, KL, M> {
    streams: JoinedStreams<L, R, M>,
    left_key: KL,
    _key: PhantomData<fn() -> K>,
}

impl<L: Data, R: Data, K: Key, KL, M> JoinWhere<L, R, K, KL, M>
where
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
{
    /// The key of the second (right) stream's elements; elements join when the keys are
    /// equal.
    pub fn equal_to<KR>(self, key_selector: KR) -> JoinEqualTo<L, R, K, KL, KR, M>
    where
        KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
    {
        JoinEqualTo {
            streams: self.streams,
            left_key: self.left_key,
            right_key: key_selector,
            _key: PhantomData,
        }
    }
}

/// A join with both keys chosen.
pub struct JoinEqualTo<L, R, K, KL, KR, M> {
    streams: JoinedStreams<L, R, M>,
    left_key: KL,
    right_key: KR,
    _key: PhantomData<fn() -> K>,
}

impl<L: Data, R: Data, K: Key, KL, KR, M> JoinEqualTo<L, R, K, KL, KR, M>
where
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
    KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
{
    /// Join within the windows of `assigner` (tumbling, sliding, session, … over the union
    /// of both inputs).
    pub fn window<A>(
        self,
        assigner: A,
    ) -> JoinWindow<L, R, K, KL, KR, A, A::DefaultTrigger, NoEvictor, M>
    where
        A: WindowAssigner<Either<L, R>>,
    {
        JoinWindow {
            streams: self.streams,
            left_key: self.left_key,
            right_key: self.right_key,
            assigner,
            trigger: None,
            evictor: None,
            lateness: Duration::ZERO,
            _key: PhantomData,
        }
    }
}

/// A join with keys and windows chosen (Flink's `JoinedStreams.WithWindow`); finish it
/// with `apply`.
pub struct JoinWindow<L, R, K, KL, KR, A, Tr, E, M> {
    streams: JoinedStreams<L, R, M>,
    left_key: KL,
    right_key: KR,
    assigner: A,
    trigger: Option<Tr>,
    evictor: Option<E>,
    lateness: Duration,
    _key: PhantomData<fn() -> K>,
}

impl<L, R, K, KL, KR, A, Tr, E, M> JoinWindow<L, R, K, KL, KR, A, Tr, E, M>
where
    L: Data,
    R: Data,
    K: Key,
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
    KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
    A: WindowAssigner<Either<L, R>>,
    Tr: Trigger<Either<L, R>, A::W> + Clone + Sync + 'static,
    E: Evictor<Either<L, R>, A::W> + Clone + Sync + 'static,
{
    /// Replace the assigner's default trigger.
    pub fn trigger<Tr2>(self, trigger: Tr2) -> JoinWindow<L, R, K, KL, KR, A, Tr2, E, M>
    where
        Tr2: Trigger<Either<L, R>, A::W> + Clone + Sync + 'static,
    {
        JoinWindow {
            streams: self.streams,
            left_key: self.left_key,
            right_key: self.right_key,
            assigner: self.assigner,
            trigger: Some(trigger),
            evictor: self.evictor,
            lateness: self.lateness,
            _key: PhantomData,
        }
    }

    /// Remove elements of both sides before or after each evaluation.
    pub fn evictor<E2>(self, evictor: E2) -> JoinWindow<L, R, K, KL, KR, A, Tr, E2, M>
    where
        E2: Evictor<Either<L, R>, A::W> + Clone + Sync + 'static,
    {
        JoinWindow {
            streams: self.streams,
            left_key: self.left_key,
            right_key: self.right_key,
            assigner: self.assigner,
            trigger: self.trigger,
            evictor: Some(evictor),
            lateness: self.lateness,
            _key: PhantomData,
        }
    }

    /// Keep windows for `lateness` after their end; late elements within it fire the
    /// window again, joining all its elements again (as in Flink).
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness = lateness;
        self
    }

    /// Tag, union, key and window both inputs, and evaluate each window with `function`.
    fn build<O, P>(self, name: &str, function: P) -> DataStream<O>
    where
        O: Data,
        P: ProcessWindowFunction<K, Either<L, R>, O, A::W> + Clone + Sync + 'static,
    {
        let JoinWindow {
            streams,
            left_key,
            right_key,
            assigner,
            trigger,
            evictor,
            lateness,
            _key,
        } = self;
        // Each side is keyed by its own selector into the two-input window operator, which
        // keys the tagged elements with the union of both.
        let left = streams.left.key_by(left_key.clone()).into_stream();
        let right = streams.right.key_by(right_key.clone()).into_stream();
        let windowed = KeyedStream::new(
            crate::stream::two_inputs(left, right),
            union_key(left_key, right_key),
        )
        .window(assigner)
        .allowed_lateness(lateness);
        let out = match (trigger, evictor) {
            (None, None) => windowed.process(function),
            (Some(t), None) => windowed.trigger(t).process(function),
            (None, Some(e)) => windowed.evictor(e).process(function),
            (Some(t), Some(e)) => windowed.trigger(t).evictor(e).process(function),
        };
        out.name(name)
    }
}

impl<L, R, K, KL, KR, A, Tr, E> JoinWindow<L, R, K, KL, KR, A, Tr, E, InnerJoin>
where
    L: Data,
    R: Data,
    K: Key,
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
    KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
    A: WindowAssigner<Either<L, R>>,
    Tr: Trigger<Either<L, R>, A::W> + Clone + Sync + 'static,
    E: Evictor<Either<L, R>, A::W> + Clone + Sync + 'static,
{
    /// Join: `f(left, right)` for every pair of a key's left and right elements in a
    /// window, when the window fires (Flink's `apply(JoinFunction)`). Results carry the
    /// window's max timestamp.
    pub fn apply<O, F>(self, f: F) -> DataStream<O>
    where
        O: Data,
        F: FnMut(&L, &R) -> O + Clone + Send + Sync + 'static,
    {
        self.build("Window Join", JoinFn(f))
    }

    /// Join with a collector: `f(left, right, out)` emits zero or more results per pair
    /// (Flink's `apply(FlatJoinFunction)`).
    pub fn flat_apply<O, F>(self, f: F) -> DataStream<O>
    where
        O: Data,
        F: FnMut(&L, &R, &mut Collector<'_, O>) + Clone + Send + Sync + 'static,
    {
        self.build("Window Join", FlatJoinFn(f))
    }
}

impl<L, R, K, KL, KR, A, Tr, E> JoinWindow<L, R, K, KL, KR, A, Tr, E, CoGroup>
where
    L: Data,
    R: Data,
    K: Key,
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
    KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
    A: WindowAssigner<Either<L, R>>,
    Tr: Trigger<Either<L, R>, A::W> + Clone + Sync + 'static,
    E: Evictor<Either<L, R>, A::W> + Clone + Sync + 'static,
{
    /// Co-group: `f(lefts, rights, out)` once per key and window that has elements (one
    /// side may be empty), in arrival order per side (Flink's `apply(CoGroupFunction)`).
    /// Results carry the window's max timestamp.
    pub fn apply<O, F>(self, f: F) -> DataStream<O>
    where
        O: Data,
        F: FnMut(&[L], &[R], &mut Collector<'_, O>) + Clone + Send + Sync + 'static,
    {
        self.build("Window CoGroup", CoGroupFn(f))
    }
}

/// A window's elements, split by side.
fn split<'a, L, R>(elements: WindowElements<'a, Either<L, R>>) -> (Vec<&'a L>, Vec<&'a R>) {
    let (mut lefts, mut rights) = (Vec::new(), Vec::new());
    for e in elements {
        match e {
            Either::Left(l) => lefts.push(l),
            Either::Right(r) => rights.push(r),
        }
    }
    (lefts, rights)
}

#[derive(Clone)]
struct JoinFn<F>(F);

impl<K, L, R, O, W, F> ProcessWindowFunction<K, Either<L, R>, O, W> for JoinFn<F>
where
    W: Window,
    F: FnMut(&L, &R) -> O + Send,
{
    fn process(
        &mut self,
        _: &K,
        _: &mut WindowContext<'_, W>,
        elements: WindowElements<'_, Either<L, R>>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        let (lefts, rights) = split(elements);
        for l in &lefts {
            for r in &rights {
                out.collect((self.0)(l, r));
            }
        }
        Ok(())
    }
}

#[derive(Clone)]
struct FlatJoinFn<F>(F);

impl<K, L, R, O, W, F> ProcessWindowFunction<K, Either<L, R>, O, W> for FlatJoinFn<F>
where
    W: Window,
    F: FnMut(&L, &R, &mut Collector<'_, O>) + Send,
{
    fn process(
        &mut self,
        _: &K,
        _: &mut WindowContext<'_, W>,
        elements: WindowElements<'_, Either<L, R>>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        let (lefts, rights) = split(elements);
        for l in &lefts {
            for r in &rights {
                (self.0)(l, r, out);
            }
        }
        Ok(())
    }
}

#[derive(Clone)]
struct CoGroupFn<F>(F);

impl<K, L, R, O, W, F> ProcessWindowFunction<K, Either<L, R>, O, W> for CoGroupFn<F>
where
    L: Clone,
    R: Clone,
    W: Window,
    F: FnMut(&[L], &[R], &mut Collector<'_, O>) + Send,
{
    fn process(
        &mut self,
        _: &K,
        _: &mut WindowContext<'_, W>,
        elements: WindowElements<'_, Either<L, R>>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        let (lefts, rights) = split(elements);
        let lefts: Vec<L> = lefts.into_iter().cloned().collect();
        let rights: Vec<R> = rights.into_iter().cloned().collect();
        (self.0)(&lefts, &rights, out);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Interval joins
// ---------------------------------------------------------------------------------------

/// A bound of an interval join: a signed number of milliseconds (`i64`, `i32`) or a
/// (non-negative) [`Duration`].
pub trait IntervalBound {
    /// The bound in milliseconds.
    fn millis(self) -> i64;
}

impl IntervalBound for i64 {
    fn millis(self) -> i64 {
        self
    }
}

impl IntervalBound for i32 {
    fn millis(self) -> i64 {
        i64::from(self)
    }
}

impl IntervalBound for Duration {
    fn millis(self) -> i64 {
        self.as_millis().min(i64::MAX as u128) as i64
    }
}

impl<L, K, KL> KeyedStream<L, K, KL>
where
    L: Data,
    K: Key,
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
{
    /// Join with `other`, keyed by the same key type, on a time interval (Flink's
    /// `intervalJoin`); set the interval with
    /// [`between`](IntervalJoin::between).
    pub fn interval_join<R, KR>(self, other: KeyedStream<R, K, KR>) -> IntervalJoin<L, R, K, KL, KR>
    where
        R: Data,
        KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
    {
        IntervalJoin {
            left: self,
            right: other,
        }
    }
}

/// Two keyed streams to join on a time interval.
pub struct IntervalJoin<L, R, K, KL, KR> {
    left: KeyedStream<L, K, KL>,
    right: KeyedStream<R, K, KR>,
}

impl<L, R, K, KL, KR> IntervalJoin<L, R, K, KL, KR>
where
    L: Data,
    R: Data,
    K: Key,
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
    KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
{
    /// A left element at `t` joins the right elements of its key with timestamps in
    /// `[t + lower, t + upper]` (both inclusive until made exclusive). Bounds are
    /// milliseconds (`i64`, may be negative) or `Duration`s; `lower > upper` fails the job
    /// when it is executed.
    pub fn between(
        self,
        lower: impl IntervalBound,
        upper: impl IntervalBound,
    ) -> IntervalJoined<L, R, K, KL, KR> {
        let bounds = IntervalBounds::new(lower.millis(), upper.millis());
        if let Err(e) = bounds.validate() {
            self.left.stream.env.error(e);
        }
        IntervalJoined {
            join: self,
            bounds,
            left_late: None,
            right_late: None,
        }
    }
}

/// An interval join with its bounds set (Flink's `IntervalJoined`); finish it with
/// [`process`](IntervalJoined::process).
pub struct IntervalJoined<L, R, K, KL, KR> {
    join: IntervalJoin<L, R, K, KL, KR>,
    bounds: IntervalBounds,
    left_late: Option<OutputTag<L>>,
    right_late: Option<OutputTag<R>>,
}

impl<L, R, K, KL, KR> IntervalJoined<L, R, K, KL, KR>
where
    L: Data,
    R: Data,
    K: Key,
    KL: Fn(&L) -> K + Clone + Send + Sync + 'static,
    KR: Fn(&R) -> K + Clone + Send + Sync + 'static,
{
    /// Exclude `t + lower` itself.
    pub fn lower_bound_exclusive(mut self) -> Self {
        self.bounds.lower_inclusive = false;
        self
    }

    /// Exclude `t + upper` itself.
    pub fn upper_bound_exclusive(mut self) -> Self {
        self.bounds.upper_inclusive = false;
        self
    }

    /// Send late left elements (timestamp below the watermark on arrival) to the side
    /// output `tag` instead of dropping them; read it with `side_output(&tag)` on the
    /// result.
    pub fn side_output_left_late_data(mut self, tag: &OutputTag<L>) -> Self {
        self.left_late = Some(tag.clone());
        self
    }

    /// Send late right elements to the side output `tag` instead of dropping them.
    pub fn side_output_right_late_data(mut self, tag: &OutputTag<R>) -> Self {
        self.right_late = Some(tag.clone());
        self
    }

    /// Run `function` on every joined pair: a [`ProcessJoinFunction`] or a closure
    /// `(left: &L, right: &R, ctx: &mut IntervalJoinContext, out: &mut Collector<O>) ->
    /// Result<(), BoxError>` (see [`IntervalJoinContext`]). Results carry the larger of the
    /// two timestamps.
    ///
    /// [`IntervalJoinContext`]: strom_window::IntervalJoinContext
    pub fn process<O, F>(self, function: F) -> DataStream<O>
    where
        O: Data,
        F: ProcessJoinFunction<L, R, O> + Clone + Sync + 'static,
    {
        let IntervalJoined {
            join,
            bounds,
            left_late,
            right_late,
        } = self;
        // Each input keeps its own key partitioning; the operator keys the tagged elements
        // with the union of both selectors.
        let op_key = union_key(join.left.key_selector, join.right.key_selector);
        crate::stream::two_inputs(join.left.stream, join.right.stream).transform(
            "Interval Join",
            move |_| {
                Ok(
                    IntervalJoinOperator::new(op_key.clone(), bounds, function.clone())
                        .with_left_late_output(left_late.clone())
                        .with_right_late_output(right_late.clone()),
                )
            },
        )
    }
}
