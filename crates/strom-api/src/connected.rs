//! Connected streams (Flink's `ConnectedStreams`): two streams of possibly different types
//! processed by one operator — co-map, co-flat-map, `CoProcessFunction`, and on keyed
//! inputs `KeyedCoProcessFunction` with keyed state and timers shared by both inputs.
//!
//! The operator is a native two-input node: each input keeps its own partitioning, the
//! task tags records with their side ([`Either`]) as it reads them, and the operator's
//! watermark is the minimum of the two inputs' watermarks, as in Flink.

use crate::DataStream;
use std::marker::PhantomData;
use strom_core::{Collector, Data, Either, Key};
use strom_process::co::{CoProcessAdapter, KeyedCoProcessAdapter};
use strom_process::{CoProcessFunction, KeyedCoProcessFunction, KeyedProcessOperator};

/// Two streams connected for a two-input operator.
pub struct ConnectedStreams<A, B> {
    first: DataStream<A>,
    second: DataStream<B>,
}

impl<A: Data> DataStream<A> {
    /// Connect with another stream (Flink's `connect`).
    pub fn connect<B: Data>(self, other: DataStream<B>) -> ConnectedStreams<A, B> {
        ConnectedStreams {
            first: self,
            second: other,
        }
    }
}

/// Both inputs of the next (two-input) operator.
fn tag<A: Data, B: Data>(first: DataStream<A>, second: DataStream<B>) -> DataStream<Either<A, B>> {
    crate::stream::two_inputs(first, second)
}

impl<A: Data, B: Data> ConnectedStreams<A, B> {
    /// Apply `f1` to the first input's elements and `f2` to the second's (co-map).
    pub fn map<O, F1, F2>(self, f1: F1, f2: F2) -> DataStream<O>
    where
        O: Data,
        F1: FnMut(A) -> O + Clone + Send + Sync + 'static,
        F2: FnMut(B) -> O + Clone + Send + Sync + 'static,
    {
        let (mut f1, mut f2) = (f1, f2);
        tag(self.first, self.second)
            .map(move |e| match e {
                Either::Left(a) => f1(a),
                Either::Right(b) => f2(b),
            })
            .name("Co-Map")
    }

    /// Emit zero or more results per element of either input (co-flat-map).
    pub fn flat_map<O, F1, F2>(self, f1: F1, f2: F2) -> DataStream<O>
    where
        O: Data,
        F1: FnMut(A, &mut Collector<'_, O>) + Clone + Send + Sync + 'static,
        F2: FnMut(B, &mut Collector<'_, O>) + Clone + Send + Sync + 'static,
    {
        let (mut f1, mut f2) = (f1, f2);
        tag(self.first, self.second)
            .flat_map(move |e, out: &mut Collector<'_, O>| match e {
                Either::Left(a) => f1(a, out),
                Either::Right(b) => f2(b, out),
            })
            .name("Co-Flat Map")
    }

    /// Run a [`CoProcessFunction`].
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: Data,
        P: CoProcessFunction<A, B, O> + Clone + Sync + 'static,
    {
        tag(self.first, self.second)
            .process(CoProcessAdapter(function, PhantomData))
            .name("Co-Process")
    }

    /// Key both inputs (by keys of one type), for a keyed co-process function.
    pub fn key_by<K, KA, KB>(self, key1: KA, key2: KB) -> KeyedConnectedStreams<A, B, K, KA, KB>
    where
        K: Key,
        KA: Fn(&A) -> K + Clone + Send + Sync + 'static,
        KB: Fn(&B) -> K + Clone + Send + Sync + 'static,
    {
        KeyedConnectedStreams {
            first: self.first,
            second: self.second,
            key1,
            key2,
            _key: PhantomData,
        }
    }
}

/// Two connected streams keyed by keys of one type.
pub struct KeyedConnectedStreams<A, B, K, KA, KB> {
    first: DataStream<A>,
    second: DataStream<B>,
    key1: KA,
    key2: KB,
    _key: PhantomData<fn() -> K>,
}

impl<A, B, K, KA, KB> KeyedConnectedStreams<A, B, K, KA, KB>
where
    A: Data,
    B: Data,
    K: Key,
    KA: Fn(&A) -> K + Clone + Send + Sync + 'static,
    KB: Fn(&B) -> K + Clone + Send + Sync + 'static,
{
    /// Run a [`KeyedCoProcessFunction`]: both inputs' elements of a key see the same keyed
    /// state and timers.
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: Data,
        P: KeyedCoProcessFunction<K, A, B, O> + Clone + Sync + 'static,
    {
        let (k1, k2) = (self.key1, self.key2);
        let first = self.first.key_by(k1.clone()).into_stream();
        let second = self.second.key_by(k2.clone()).into_stream();
        let key = move |e: &Either<A, B>| match e {
            Either::Left(a) => k1(a),
            Either::Right(b) => k2(b),
        };
        let f = KeyedCoProcessAdapter(function, PhantomData);
        tag(first, second).transform("Keyed Co-Process", move |_| {
            Ok(KeyedProcessOperator::new(key.clone(), f.clone()))
        })
    }
}
