//! [`KeyedStream`]: a stream partitioned by key, for per-key state, rolling aggregations,
//! process functions and windows.

use crate::DataStream;
use std::marker::PhantomData;
use strom_core::{Data, Key};
use strom_process::{KeyedProcessFunction, KeyedProcessOperator};
use strom_runtime::operators::KeyedReduce;

/// A stream partitioned by a key of type `K` (Flink's `KeyedStream<T, K>`). `KF` is the key
/// selector; it stays a type parameter so that extracting a key is a direct call.
pub struct KeyedStream<T, K, KF> {
    pub(crate) stream: DataStream<T>,
    pub(crate) key_selector: KF,
    _key: PhantomData<fn() -> K>,
}

impl<T, K, KF> KeyedStream<T, K, KF>
where
    T: Data,
    K: Key,
    KF: Fn(&T) -> K + Clone + Send + Sync + 'static,
{
    pub(crate) fn new(stream: DataStream<T>, key_selector: KF) -> Self {
        KeyedStream {
            stream,
            key_selector,
            _key: PhantomData,
        }
    }

    /// The key selector.
    pub fn key_selector(&self) -> &KF {
        &self.key_selector
    }

    /// The underlying (key-partitioned) stream.
    pub fn into_stream(self) -> DataStream<T> {
        self.stream
    }

    /// Run a [`KeyedProcessFunction`] (keyed state and timers) on every element (Flink's
    /// `KeyedStream.process`).
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: Data,
        P: KeyedProcessFunction<K, T, O> + Clone + Sync + 'static,
    {
        let kf = self.key_selector;
        self.stream.transform("Keyed Process", move |_| {
            Ok(KeyedProcessOperator::new(kf.clone(), function.clone()))
        })
    }

    /// Rolling reduce: per key, combine the accumulated value with each new record
    /// (`f(accumulated, new)`) and emit the new accumulated value.
    pub fn reduce<F>(self, f: F) -> DataStream<T>
    where
        F: FnMut(T, T) -> T + Clone + Send + Sync + 'static,
    {
        let kf = self.key_selector;
        self.stream.transform("Keyed Reduce", move |_| {
            Ok(KeyedReduce::new(kf.clone(), f.clone()))
        })
    }

    /// Rolling sum of the field `field` points to. As in Flink, the emitted record is the
    /// first record of the key with that field replaced by the running sum.
    pub fn sum<N, F>(self, field: F) -> DataStream<T>
    where
        N: std::ops::Add<Output = N> + Copy,
        F: for<'a> Fn(&'a mut T) -> &'a mut N + Clone + Send + Sync + 'static,
    {
        self.reduce(move |mut acc, mut v| {
            let add = *field(&mut v);
            let slot = field(&mut acc);
            *slot = *slot + add;
            acc
        })
        .name("Keyed Sum")
    }

    /// Rolling minimum of a field (other fields from the key's first record, as Flink's
    /// `min`).
    pub fn min<N, F>(self, field: F) -> DataStream<T>
    where
        N: PartialOrd + Copy,
        F: for<'a> Fn(&'a mut T) -> &'a mut N + Clone + Send + Sync + 'static,
    {
        self.reduce(move |mut acc, mut v| {
            let x = *field(&mut v);
            let slot = field(&mut acc);
            if x < *slot {
                *slot = x;
            }
            acc
        })
        .name("Keyed Min")
    }

    /// Rolling maximum of a field (other fields from the key's first record).
    pub fn max<N, F>(self, field: F) -> DataStream<T>
    where
        N: PartialOrd + Copy,
        F: for<'a> Fn(&'a mut T) -> &'a mut N + Clone + Send + Sync + 'static,
    {
        self.reduce(move |mut acc, mut v| {
            let x = *field(&mut v);
            let slot = field(&mut acc);
            if x > *slot {
                *slot = x;
            }
            acc
        })
        .name("Keyed Max")
    }

    /// Rolling record with the smallest field value (the first such record on ties).
    pub fn min_by<N, F>(self, field: F) -> DataStream<T>
    where
        N: PartialOrd + Copy,
        F: for<'a> Fn(&'a mut T) -> &'a mut N + Clone + Send + Sync + 'static,
    {
        self.reduce(move |mut acc, mut v| {
            if *field(&mut v) < *field(&mut acc) {
                v
            } else {
                acc
            }
        })
        .name("Keyed MinBy")
    }

    /// Rolling record with the largest field value (the first such record on ties).
    pub fn max_by<N, F>(self, field: F) -> DataStream<T>
    where
        N: PartialOrd + Copy,
        F: for<'a> Fn(&'a mut T) -> &'a mut N + Clone + Send + Sync + 'static,
    {
        self.reduce(move |mut acc, mut v| {
            if *field(&mut v) > *field(&mut acc) {
                v
            } else {
                acc
            }
        })
        .name("Keyed MaxBy")
    }
}
