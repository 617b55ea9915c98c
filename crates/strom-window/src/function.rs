//! Window functions: what is computed when a window fires.
//!
//! * `reduce` keeps one value per window, combined incrementally;
//! * `aggregate` keeps an accumulator ([`AggregateFunction`]: create/add/merge/result),
//!   never the elements;
//! * `process` ([`ProcessWindowFunction`]) sees all elements of the window, its bounds, the
//!   watermark and per-window state;
//! * reduce or aggregate combined with a process function: the process function gets the
//!   single pre-aggregated value.

use crate::state::StateSlot;
use crate::window::Window;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use strom_core::{BoxError, Clock, Collector, OutputTag, Result, SideOutputs, StromError};
use strom_types::{Record, Timestamp};

pub use strom_core::AggregateFunction;

/// The elements of a firing window, in the order they arrived.
pub struct WindowElements<'a, T> {
    inner: Elements<'a, T>,
}

enum Elements<'a, T> {
    Records(std::slice::Iter<'a, Record<T>>),
    /// Shared elements with their arrival numbers, in arrival order.
    Arrivals(std::slice::Iter<'a, (u64, T)>),
    One(Option<&'a T>),
}

impl<'a, T> WindowElements<'a, T> {
    pub(crate) fn records(r: &'a [Record<T>]) -> Self {
        WindowElements {
            inner: Elements::Records(r.iter()),
        }
    }
    pub(crate) fn arrivals(r: &'a [(u64, T)]) -> Self {
        WindowElements {
            inner: Elements::Arrivals(r.iter()),
        }
    }
    pub(crate) fn one(v: Option<&'a T>) -> Self {
        WindowElements {
            inner: Elements::One(v),
        }
    }
}

impl<'a, T> Iterator for WindowElements<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        match &mut self.inner {
            Elements::Records(i) => i.next().map(|r| &r.value),
            Elements::Arrivals(i) => i.next().map(|(_, v)| v),
            Elements::One(v) => v.take(),
        }
    }
}

/// What a process window function can see and do.
pub struct WindowContext<'a, W> {
    pub(crate) window: &'a W,
    pub(crate) watermark: Timestamp,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) window_state: &'a mut StateSlot,
    /// Windows merge (sessions): per-window state is not allowed, as in Flink.
    pub(crate) merging: bool,
    pub(crate) global_state: &'a mut StateSlot,
    pub(crate) side: &'a mut SideOutputs,
}

impl<W: Window> WindowContext<'_, W> {
    /// The window being evaluated.
    pub fn window(&self) -> &W {
        self.window
    }
    /// The operator's current event-time watermark.
    pub fn current_watermark(&self) -> Timestamp {
        self.watermark
    }
    /// The current processing time.
    pub fn current_processing_time(&self) -> i64 {
        self.clock.now_ms()
    }
    /// State kept for this key and window until the window is cleaned up (e.g. to count
    /// firings under allowed lateness). Created with `Default` on first use. It is part of
    /// the operator's checkpoints, hence serializable.
    ///
    /// Not available with merging windows (sessions), as in Flink: their state could not be
    /// merged; this returns an error then.
    pub fn window_state<S>(&mut self) -> Result<&mut S>
    where
        S: Default + Serialize + DeserializeOwned + Send + 'static,
    {
        if self.merging {
            return Err(StromError::User(
                "per-window state is not allowed with merging windows (sessions); use global_state"
                    .into(),
            ));
        }
        self.window_state.get()
    }
    /// State kept for this key across all its windows (checkpointed, hence serializable).
    pub fn global_state<S>(&mut self) -> Result<&mut S>
    where
        S: Default + Serialize + DeserializeOwned + Send + 'static,
    {
        self.global_state.get()
    }
    /// Emit to a side output, stamped with the window's max timestamp.
    pub fn output<X: 'static>(&mut self, tag: &OutputTag<X>, value: X) {
        self.side
            .emit(tag, Record::new(value, self.window.max_timestamp()));
    }
}

/// Evaluates a window with all its elements (Flink's `ProcessWindowFunction`).
///
/// Contract: `process` is called each time the window fires, with every element currently
/// in it (or the single pre-aggregated value when combined with reduce/aggregate); results
/// are stamped with the window's max timestamp. `clear` is called when the window is
/// removed. Closures `FnMut(&K, &mut WindowContext<W>, WindowElements<In>, &mut Collector<O>)
/// -> Result<(), BoxError>` implement it.
pub trait ProcessWindowFunction<K, In, O, W: Window>: Send {
    /// Evaluate the window.
    fn process(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        elements: WindowElements<'_, In>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError>;

    /// The window is being removed: release its per-window state.
    fn clear(&mut self, _key: &K, _ctx: &mut WindowContext<'_, W>) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<K, In, O, W, F> ProcessWindowFunction<K, In, O, W> for F
where
    W: Window,
    F: FnMut(
            &K,
            &mut WindowContext<'_, W>,
            WindowElements<'_, In>,
            &mut Collector<'_, O>,
        ) -> Result<(), BoxError>
        + Send,
{
    fn process(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        elements: WindowElements<'_, In>,
        out: &mut Collector<'_, O>,
    ) -> Result<(), BoxError> {
        self(key, ctx, elements, out)
    }
}

/// How the window operator keeps contents and produces results (one of the function
/// combinations above). Implemented by the adapters in this module.
pub trait WindowFn<K, T, W: Window>: Send {
    /// Per-window accumulated value (`()` when elements are kept); cloned and serialized
    /// when the operator's state is checkpointed.
    type Acc: Clone + Serialize + DeserializeOwned + Send + 'static;
    /// Output type.
    type Out;
    /// Whether the window must keep its elements.
    fn keeps_elements(&self) -> bool;
    /// Fold an element into the accumulator.
    fn add(&mut self, acc: &mut Option<Self::Acc>, value: &T) -> Result<()>;
    /// Combine accumulators of merged windows.
    fn merge(&mut self, into: &mut Option<Self::Acc>, other: Option<Self::Acc>) -> Result<()>;
    /// Produce the window's result.
    fn emit(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        acc: Option<&Self::Acc>,
        elements: WindowElements<'_, T>,
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<()>;
    /// The window is removed.
    fn clear(&mut self, _key: &K, _ctx: &mut WindowContext<'_, W>) -> Result<()> {
        Ok(())
    }
}

fn user(e: BoxError) -> StromError {
    StromError::from_user(e)
}

/// `reduce(f)`.
pub struct ReduceFn<R>(pub R);

impl<K, T, W, R> WindowFn<K, T, W> for ReduceFn<R>
where
    T: Clone + Serialize + DeserializeOwned + Send + 'static,
    W: Window,
    R: FnMut(T, T) -> T + Send,
{
    type Acc = T;
    type Out = T;
    fn keeps_elements(&self) -> bool {
        false
    }
    #[inline]
    fn add(&mut self, acc: &mut Option<T>, value: &T) -> Result<()> {
        *acc = Some(match acc.take() {
            Some(a) => (self.0)(a, value.clone()),
            None => value.clone(),
        });
        Ok(())
    }
    fn merge(&mut self, into: &mut Option<T>, other: Option<T>) -> Result<()> {
        if let Some(o) = other {
            *into = Some(match into.take() {
                Some(a) => (self.0)(a, o),
                None => o,
            });
        }
        Ok(())
    }
    fn emit(
        &mut self,
        _: &K,
        _: &mut WindowContext<'_, W>,
        acc: Option<&T>,
        _: WindowElements<'_, T>,
        out: &mut Collector<'_, T>,
    ) -> Result<()> {
        if let Some(a) = acc {
            out.collect(a.clone());
        }
        Ok(())
    }
}

/// `aggregate(f)`.
pub struct AggregateFn<A>(pub A);

impl<K, T, W, A> WindowFn<K, T, W> for AggregateFn<A>
where
    W: Window,
    A: AggregateFunction<T>,
{
    type Acc = A::Acc;
    type Out = A::Out;
    fn keeps_elements(&self) -> bool {
        false
    }
    #[inline]
    fn add(&mut self, acc: &mut Option<A::Acc>, value: &T) -> Result<()> {
        let a = acc.get_or_insert_with(|| self.0.create_accumulator());
        self.0.add(a, value);
        Ok(())
    }
    fn merge(&mut self, into: &mut Option<A::Acc>, other: Option<A::Acc>) -> Result<()> {
        if let Some(o) = other {
            *into = Some(match into.take() {
                Some(a) => self.0.merge(a, o),
                None => o,
            });
        }
        Ok(())
    }
    fn emit(
        &mut self,
        _: &K,
        _: &mut WindowContext<'_, W>,
        acc: Option<&A::Acc>,
        _: WindowElements<'_, T>,
        out: &mut Collector<'_, A::Out>,
    ) -> Result<()> {
        if let Some(a) = acc {
            out.collect(self.0.get_result(a));
        }
        Ok(())
    }
}

/// `process(f)`: all elements.
pub struct ProcessFn<P, O>(pub P, pub PhantomData<fn() -> O>);

impl<K, T, O, W: Window, P> WindowFn<K, T, W> for ProcessFn<P, O>
where
    P: ProcessWindowFunction<K, T, O, W>,
{
    type Acc = ();
    type Out = O;
    fn keeps_elements(&self) -> bool {
        true
    }
    fn add(&mut self, _: &mut Option<()>, _: &T) -> Result<()> {
        Ok(())
    }
    fn merge(&mut self, _: &mut Option<()>, _: Option<()>) -> Result<()> {
        Ok(())
    }
    fn emit(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        _: Option<&()>,
        elements: WindowElements<'_, T>,
        out: &mut Collector<'_, O>,
    ) -> Result<()> {
        self.0.process(key, ctx, elements, out).map_err(user)
    }
    fn clear(&mut self, key: &K, ctx: &mut WindowContext<'_, W>) -> Result<()> {
        self.0.clear(key, ctx).map_err(user)
    }
}

/// `reduce(f, process)`: the process function gets the reduced value.
pub struct ReduceProcessFn<R, P, O>(pub R, pub P, pub PhantomData<fn() -> O>);

impl<K, T, O, W: Window, R, P> WindowFn<K, T, W> for ReduceProcessFn<R, P, O>
where
    T: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: FnMut(T, T) -> T + Send,
    P: ProcessWindowFunction<K, T, O, W>,
{
    type Acc = T;
    type Out = O;
    fn keeps_elements(&self) -> bool {
        false
    }
    fn add(&mut self, acc: &mut Option<T>, value: &T) -> Result<()> {
        <ReduceFn<&mut R> as WindowFn<K, T, W>>::add(&mut ReduceFn(&mut self.0), acc, value)
    }
    fn merge(&mut self, into: &mut Option<T>, other: Option<T>) -> Result<()> {
        <ReduceFn<&mut R> as WindowFn<K, T, W>>::merge(&mut ReduceFn(&mut self.0), into, other)
    }
    fn emit(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        acc: Option<&T>,
        _: WindowElements<'_, T>,
        out: &mut Collector<'_, O>,
    ) -> Result<()> {
        if acc.is_none() {
            return Ok(());
        }
        self.1
            .process(key, ctx, WindowElements::one(acc), out)
            .map_err(user)
    }
    fn clear(&mut self, key: &K, ctx: &mut WindowContext<'_, W>) -> Result<()> {
        self.1.clear(key, ctx).map_err(user)
    }
}

/// `aggregate(f, process)`: the process function gets the aggregate's result.
pub struct AggregateProcessFn<A, P, O>(pub A, pub P, pub PhantomData<fn() -> O>);

impl<K, T, O, W: Window, A, P> WindowFn<K, T, W> for AggregateProcessFn<A, P, O>
where
    A: AggregateFunction<T>,
    P: ProcessWindowFunction<K, A::Out, O, W>,
{
    type Acc = A::Acc;
    type Out = O;
    fn keeps_elements(&self) -> bool {
        false
    }
    #[inline]
    fn add(&mut self, acc: &mut Option<A::Acc>, value: &T) -> Result<()> {
        let a = acc.get_or_insert_with(|| self.0.create_accumulator());
        self.0.add(a, value);
        Ok(())
    }
    fn merge(&mut self, into: &mut Option<A::Acc>, other: Option<A::Acc>) -> Result<()> {
        if let Some(o) = other {
            *into = Some(match into.take() {
                Some(a) => self.0.merge(a, o),
                None => o,
            });
        }
        Ok(())
    }
    fn emit(
        &mut self,
        key: &K,
        ctx: &mut WindowContext<'_, W>,
        acc: Option<&A::Acc>,
        _: WindowElements<'_, T>,
        out: &mut Collector<'_, O>,
    ) -> Result<()> {
        let Some(a) = acc else { return Ok(()) };
        let r = self.0.get_result(a);
        self.1
            .process(key, ctx, WindowElements::one(Some(&r)), out)
            .map_err(user)
    }
    fn clear(&mut self, key: &K, ctx: &mut WindowContext<'_, W>) -> Result<()> {
        self.1.clear(key, ctx).map_err(user)
    }
}
