//! The broadcast state pattern: a keyed stream connected to a broadcast stream (rules,
//! configuration) processed by a [`KeyedBroadcastProcessFunction`].

use crate::{DataStream, KeyedStream};
use strom_core::{Data, Either, Key};
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
        // Tag after the key shuffle (same subtask: forward) and broadcast the rules.
        let data = self
            .keyed
            .into_stream()
            .map(Either::<T, R>::Left)
            .name("Tag Data");
        let rules = self
            .rules
            .stream
            .map(Either::<T, R>::Right)
            .name("Tag Broadcast")
            .broadcast();
        data.transform_with(rules, "Keyed Broadcast Process", move |_| {
            Ok(KeyedBroadcastOperator::<K, T, R, _, _>::new(
                kf.clone(),
                function.clone(),
            ))
        })
    }
}
