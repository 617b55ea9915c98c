//! The broadcast state pattern: a keyed stream connected to a broadcast stream (rules,
//! configuration) processed by a [`KeyedBroadcastProcessFunction`], or a non-keyed stream
//! connected to one, processed by a [`BroadcastProcessFunction`].

use crate::{DataStream, KeyedStream};
use strom_core::{Data, Either, Key};
use strom_process::broadcast::{BroadcastProcessFunction, BroadcastProcessOperator};
use strom_process::{KeyedBroadcastOperator, KeyedBroadcastProcessFunction};

/// A stream whose every element goes to every subtask of the operator it is connected to
/// (Flink's `BroadcastStream`).
pub struct BroadcastStream<R> {
    stream: DataStream<R>,
}

impl<R: Data> DataStream<R> {
    /// Make this stream a broadcast stream to connect to another (Flink's
    /// `broadcast(descriptor)`; the broadcast state is declared by the descriptors the
    /// function uses).
    pub fn broadcast_stream(self) -> BroadcastStream<R> {
        BroadcastStream { stream: self }
    }
}

/// The data (as partitioned) and the rules (broadcast) as the two inputs of the next
/// operator.
fn both_inputs<T: Data, R: Data>(
    data: DataStream<T>,
    rules: DataStream<R>,
) -> DataStream<Either<T, R>> {
    crate::stream::two_inputs(data, rules.broadcast())
}

/// A keyed stream connected to a broadcast stream.
pub struct BroadcastConnectedStream<T, K, KF, R> {
    keyed: KeyedStream<T, K, KF>,
    rules: BroadcastStream<R>,
}

impl<T, K, KF> KeyedStream<T, K, KF>
where
    T: Data,
    K: Key,
    KF: Fn(&T) -> K + Clone + Send + Sync + 'static,
{
    /// Connect with a broadcast stream (Flink's `keyedStream.connect(broadcastStream)`).
    pub fn connect_broadcast<R: Data>(
        self,
        rules: BroadcastStream<R>,
    ) -> BroadcastConnectedStream<T, K, KF, R> {
        BroadcastConnectedStream { keyed: self, rules }
    }
}

impl<T, K, KF, R> BroadcastConnectedStream<T, K, KF, R>
where
    T: Data,
    K: Key,
    KF: Fn(&T) -> K + Clone + Send + Sync + 'static,
    R: Data,
{
    /// Run a [`KeyedBroadcastProcessFunction`]: data elements by key, with their keyed state
    /// and timers and the broadcast state read-only; broadcast elements on every subtask,
    /// with the broadcast state read-write and access to every key's state.
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: Data,
        P: KeyedBroadcastProcessFunction<K, T, R, O> + Clone + Sync + 'static,
    {
        let kf = self.keyed.key_selector.clone();
        both_inputs(self.keyed.into_stream(), self.rules.stream).transform(
            "Keyed Broadcast Process",
            move |_| {
                Ok(KeyedBroadcastOperator::<K, T, R, _, _>::new(
                    kf.clone(),
                    function.clone(),
                ))
            },
        )
    }
}

/// A non-keyed stream connected to a broadcast stream (Flink's `BroadcastConnectedStream`
/// of a non-keyed `DataStream`).
pub struct BroadcastConnectedDataStream<T, R> {
    data: DataStream<T>,
    rules: BroadcastStream<R>,
}

impl<T: Data> DataStream<T> {
    /// Connect with a broadcast stream (Flink's `dataStream.connect(broadcastStream)`): the
    /// data elements are partitioned as this stream is (forwarded, or rebalanced when the
    /// parallelism changes, or as set by `rebalance()` and friends), every broadcast element
    /// goes to every subtask.
    pub fn connect_broadcast<R: Data>(
        self,
        rules: BroadcastStream<R>,
    ) -> BroadcastConnectedDataStream<T, R> {
        BroadcastConnectedDataStream { data: self, rules }
    }
}

impl<T: Data, R: Data> BroadcastConnectedDataStream<T, R> {
    /// Run a [`BroadcastProcessFunction`]: data elements with the broadcast state
    /// read-only; broadcast elements on every subtask, with the broadcast state read-write.
    /// The operator's watermark is the minimum over both inputs.
    pub fn process<O, P>(self, function: P) -> DataStream<O>
    where
        O: Data,
        P: BroadcastProcessFunction<T, R, O> + Clone + Sync + 'static,
    {
        both_inputs(self.data, self.rules.stream).transform("Broadcast Process", move |_| {
            Ok(BroadcastProcessOperator::<T, R, _>::new(function.clone()))
        })
    }
}
