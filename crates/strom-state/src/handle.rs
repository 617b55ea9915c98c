//! State handles: a state of the current key, as a function sees it.
//!
//! A handle is obtained from the function's context for one descriptor and borrows the
//! context until it is dropped. Reads return owned values (a disk backend deserializes
//! them); expired TTL values are never returned and are removed when found.
//!
//! State objects are serde types ([`Data`]) so that they can be snapshotted and kept on
//! disk: values, list elements, map keys and values and accumulators must be [`Data`], keys
//! [`Key`].

use crate::backend::{KeyedStateBackend, KeyedStateStore, StateName};
use crate::descriptor::{StateTtlConfig, TtlUpdate};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use strom_core::{AggregateFunction, Data, Key, Result};

/// A stored value with its expiry time (`i64::MAX` without TTL); snapshots keep the
/// expiry time. It is encoded as the pair `(value, expires)`: the wrapper costs two bytes
/// per entry in a checkpoint, while the user's value keeps its fields by name.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "(T, i64)", bound(deserialize = "T: Deserialize<'de>"))]
pub struct TtlValue<T> {
    /// The value.
    pub value: T,
    /// Processing time from which it is expired.
    pub expires: i64,
}

/// Encoded as the pair `(value, expires)`, by reference (no copy of the value).
impl<T: Serialize> Serialize for TtlValue<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.value)?;
        t.serialize_element(&self.expires)?;
        t.end()
    }
}

impl<T> From<(T, i64)> for TtlValue<T> {
    fn from((value, expires): (T, i64)) -> Self {
        TtlValue { value, expires }
    }
}

/// What every handle needs: the store, the current key, the processing time (for TTL).
pub struct StateAccess<'a, K> {
    /// The operator's keyed state.
    pub store: &'a mut KeyedStateStore<K>,
    /// The current key.
    pub key: &'a K,
    /// The current processing time.
    pub now: i64,
}

fn expiry(ttl: Option<StateTtlConfig>, now: i64) -> i64 {
    ttl.map_or(i64::MAX, |t| now.saturating_add(t.ttl_ms))
}

fn renew_on_read(ttl: Option<StateTtlConfig>) -> bool {
    matches!(
        ttl,
        Some(StateTtlConfig {
            update: TtlUpdate::OnReadAndWrite,
            ..
        })
    )
}

/// Reads of one TTL'd value: `None` (and the value removed) when expired; renewed when
/// the TTL says reads renew.
fn live<T: Clone>(
    slot: &mut Option<TtlValue<T>>,
    ttl: Option<StateTtlConfig>,
    now: i64,
) -> Option<T> {
    match slot {
        Some(v) if v.expires <= now => {
            *slot = None;
            None
        }
        Some(v) => {
            if renew_on_read(ttl) {
                v.expires = expiry(ttl, now);
            }
            Some(v.value.clone())
        }
        None => None,
    }
}

/// Read one TTL'd value without writing (a plain read is not a write, so incremental
/// snapshots skip it): `Some(None)` when absent, `Some(Some(f(value)))` when live, `None`
/// when the caller must take the write path (the value expired and must be removed, or
/// reads renew the TTL).
fn read_live<K: Key, T: Data, R>(
    access: &mut StateAccess<'_, K>,
    name: &StateName,
    ttl: Option<StateTtlConfig>,
    f: impl FnOnce(&T) -> R,
) -> Result<Option<Option<R>>> {
    if renew_on_read(ttl) {
        return Ok(None);
    }
    let now = access.now;
    access
        .store
        .read_entry::<TtlValue<T>, _>(name, access.key, |v| match v {
            None => Some(None),
            Some(v) if v.expires > now => Some(Some(f(&v.value))),
            Some(_) => None,
        })
}

/// A single value of the current key (Flink's `ValueState`).
pub struct ValueState<'a, K, V> {
    pub(crate) access: StateAccess<'a, K>,
    pub(crate) name: &'a StateName,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) _type: PhantomData<fn() -> V>,
}

impl<K: Key, V: Data> ValueState<'_, K, V> {
    /// The value, if set and not expired.
    pub fn value(&mut self) -> Result<Option<V>> {
        let (ttl, now) = (self.ttl, self.access.now);
        if let Some(v) = read_live(&mut self.access, self.name, ttl, V::clone)? {
            return Ok(v);
        }
        self.access
            .store
            .with_entry::<TtlValue<V>, _>(self.name, self.access.key, |slot| live(slot, ttl, now))
    }

    /// Set the value.
    pub fn update(&mut self, value: V) -> Result<()> {
        let expires = expiry(self.ttl, self.access.now);
        self.access
            .store
            .with_entry::<TtlValue<V>, _>(self.name, self.access.key, |slot| {
                *slot = Some(TtlValue { value, expires });
            })
    }

    /// Remove the value.
    pub fn clear(&mut self) -> Result<()> {
        self.access
            .store
            .with_entry::<TtlValue<V>, _>(self.name, self.access.key, |slot| *slot = None)
    }

    /// Work on the value in place: `f` gets it (made by `init` when unset or expired) and
    /// returns its result and whether to keep the value (`false` removes it). Nothing is
    /// moved or copied on the heap backend; a kept value counts as written for its TTL.
    pub fn update_in_place<R>(
        &mut self,
        init: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> (R, bool),
    ) -> Result<R> {
        let expires = expiry(self.ttl, self.access.now);
        let now = self.access.now;
        self.access
            .store
            .with_entry::<TtlValue<V>, _>(self.name, self.access.key, |slot| {
                if slot.as_ref().is_some_and(|v| v.expires <= now) {
                    *slot = None;
                }
                let entry = slot.get_or_insert_with(|| TtlValue {
                    value: init(),
                    expires,
                });
                entry.expires = expires;
                let (r, keep) = f(&mut entry.value);
                if !keep {
                    *slot = None;
                }
                r
            })
    }
}

/// A list of values of the current key (Flink's `ListState`); TTL applies per element.
pub struct ListState<'a, K, V> {
    pub(crate) access: StateAccess<'a, K>,
    pub(crate) name: &'a StateName,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) _type: PhantomData<fn() -> V>,
}

impl<K: Key, V: Data> ListState<'_, K, V> {
    /// The live elements, in insertion order.
    pub fn get(&mut self) -> Result<Vec<V>> {
        let (ttl, now) = (self.ttl, self.access.now);
        if !renew_on_read(ttl) {
            // As for `ValueState::value`: the write path only when something expired.
            let read = self.access.store.read_entry::<Vec<TtlValue<V>>, _>(
                self.name,
                self.access.key,
                |list| match list {
                    None => Some(Vec::new()),
                    Some(l) if l.iter().all(|e| e.expires > now) => {
                        Some(l.iter().map(|e| e.value.clone()).collect())
                    }
                    Some(_) => None,
                },
            )?;
            if let Some(v) = read {
                return Ok(v);
            }
        }
        self.access
            .store
            .with_entry::<Vec<TtlValue<V>>, _>(self.name, self.access.key, |slot| {
                let Some(list) = slot else { return Vec::new() };
                list.retain(|e| e.expires > now);
                if renew_on_read(ttl) {
                    for e in list.iter_mut() {
                        e.expires = expiry(ttl, now);
                    }
                }
                let out = list.iter().map(|e| e.value.clone()).collect();
                if list.is_empty() {
                    *slot = None;
                }
                out
            })
    }

    /// Append an element.
    pub fn add(&mut self, value: V) -> Result<()> {
        self.add_all(std::iter::once(value))
    }

    /// Append elements.
    pub fn add_all(&mut self, values: impl IntoIterator<Item = V>) -> Result<()> {
        let expires = expiry(self.ttl, self.access.now);
        self.access
            .store
            .with_entry::<Vec<TtlValue<V>>, _>(self.name, self.access.key, |slot| {
                let list = slot.get_or_insert_with(Vec::new);
                list.extend(values.into_iter().map(|value| TtlValue { value, expires }));
                if list.is_empty() {
                    *slot = None;
                }
            })
    }

    /// Replace the list.
    pub fn update(&mut self, values: impl IntoIterator<Item = V>) -> Result<()> {
        self.clear()?;
        self.add_all(values)
    }

    /// Remove every element.
    pub fn clear(&mut self) -> Result<()> {
        self.access
            .store
            .with_entry::<Vec<TtlValue<V>>, _>(self.name, self.access.key, |slot| *slot = None)
    }
}

/// A map of the current key (Flink's `MapState`); TTL applies per entry.
pub struct MapState<'a, K, UK, UV> {
    pub(crate) access: StateAccess<'a, K>,
    pub(crate) name: &'a StateName,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) _type: PhantomData<fn() -> (UK, UV)>,
}

type UserMap<UK, UV> = HashMap<UK, TtlValue<UV>>;

impl<K, UK, UV> MapState<'_, K, UK, UV>
where
    K: Key,
    UK: Data + Hash + Eq,
    UV: Data,
{
    fn with_map<R>(&mut self, f: impl FnOnce(&mut UserMap<UK, UV>, i64) -> R) -> Result<R> {
        let now = self.access.now;
        self.access
            .store
            .with_entry::<UserMap<UK, UV>, _>(self.name, self.access.key, |slot| {
                let map = slot.get_or_insert_with(HashMap::new);
                let r = f(map, now);
                if map.is_empty() {
                    *slot = None;
                }
                r
            })
    }

    /// Read the map without writing when nothing in it expired and reads do not renew
    /// (see `read_live`); `None`: take the write path.
    fn read_map<R>(&mut self, f: impl FnOnce(Option<&UserMap<UK, UV>>) -> R) -> Result<Option<R>> {
        if renew_on_read(self.ttl) {
            return Ok(None);
        }
        let now = self.access.now;
        self.access.store.read_entry::<UserMap<UK, UV>, _>(
            self.name,
            self.access.key,
            |m| match m {
                Some(m) if m.values().any(|e| e.expires <= now) => None,
                m => Some(f(m)),
            },
        )
    }

    /// The value under `user_key`.
    pub fn get(&mut self, user_key: &UK) -> Result<Option<UV>> {
        if let Some(v) =
            self.read_map(|m| m.and_then(|m| m.get(user_key)).map(|e| e.value.clone()))?
        {
            return Ok(v);
        }
        let ttl = self.ttl;
        self.with_map(|m, now| {
            let mut slot = m.remove(user_key);
            let v = live(&mut slot, ttl, now);
            if let Some(e) = slot {
                m.insert(user_key.clone(), e);
            }
            v
        })
    }

    /// Set the value under `user_key`.
    pub fn put(&mut self, user_key: UK, value: UV) -> Result<()> {
        let expires = expiry(self.ttl, self.access.now);
        self.with_map(|m, _| {
            m.insert(user_key, TtlValue { value, expires });
        })
    }

    /// Remove `user_key`.
    pub fn remove(&mut self, user_key: &UK) -> Result<()> {
        self.with_map(|m, _| {
            m.remove(user_key);
        })
    }

    /// Whether `user_key` has a live value.
    pub fn contains(&mut self, user_key: &UK) -> Result<bool> {
        Ok(self.get(user_key)?.is_some())
    }

    /// Every live entry (in no particular order).
    pub fn entries(&mut self) -> Result<Vec<(UK, UV)>> {
        let read = self.read_map(|m| {
            m.map(|m| {
                m.iter()
                    .map(|(k, e)| (k.clone(), e.value.clone()))
                    .collect()
            })
            .unwrap_or_default()
        })?;
        if let Some(v) = read {
            return Ok(v);
        }
        let ttl = self.ttl;
        self.with_map(|m, now| {
            m.retain(|_, e| e.expires > now);
            if renew_on_read(ttl) {
                for e in m.values_mut() {
                    e.expires = expiry(ttl, now);
                }
            }
            m.iter()
                .map(|(k, e)| (k.clone(), e.value.clone()))
                .collect()
        })
    }

    /// Whether the map has no live entry.
    pub fn is_empty(&mut self) -> Result<bool> {
        Ok(self.entries()?.is_empty())
    }

    /// Remove every entry.
    pub fn clear(&mut self) -> Result<()> {
        self.access
            .store
            .with_entry::<UserMap<UK, UV>, _>(self.name, self.access.key, |slot| *slot = None)
    }
}

/// A value that folds every added value with a reduce function (Flink's `ReducingState`).
pub struct ReducingState<'a, K, V, F> {
    pub(crate) access: StateAccess<'a, K>,
    pub(crate) name: &'a StateName,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) reduce: &'a F,
    pub(crate) _type: PhantomData<fn() -> V>,
}

impl<K, V, F> ReducingState<'_, K, V, F>
where
    K: Key,
    V: Data,
    F: Fn(V, V) -> V,
{
    /// The reduced value, if any.
    pub fn get(&mut self) -> Result<Option<V>> {
        let (ttl, now) = (self.ttl, self.access.now);
        if let Some(v) = read_live(&mut self.access, self.name, ttl, V::clone)? {
            return Ok(v);
        }
        self.access
            .store
            .with_entry::<TtlValue<V>, _>(self.name, self.access.key, |slot| live(slot, ttl, now))
    }

    /// Fold `value` in.
    pub fn add(&mut self, value: V) -> Result<()> {
        let (ttl, now, reduce) = (self.ttl, self.access.now, self.reduce);
        self.access
            .store
            .with_entry::<TtlValue<V>, _>(self.name, self.access.key, |slot| {
                if slot.as_ref().is_some_and(|v| v.expires <= now) {
                    *slot = None;
                }
                let value = match slot.take() {
                    Some(old) => reduce(old.value, value),
                    None => value,
                };
                *slot = Some(TtlValue {
                    value,
                    expires: expiry(ttl, now),
                });
            })
    }

    /// Remove the value.
    pub fn clear(&mut self) -> Result<()> {
        self.access
            .store
            .with_entry::<TtlValue<V>, _>(self.name, self.access.key, |slot| *slot = None)
    }
}

/// An accumulator fed by an aggregate function (Flink's `AggregatingState`).
pub struct AggregatingState<'a, K, In, A: AggregateFunction<In>> {
    pub(crate) access: StateAccess<'a, K>,
    pub(crate) name: &'a StateName,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) aggregate: &'a A,
    pub(crate) _type: PhantomData<fn(In)>,
}

impl<K, In, A> AggregatingState<'_, K, In, A>
where
    K: Key,
    A: AggregateFunction<In>,
    A::Acc: Data,
{
    /// The aggregate's result, if anything was added.
    pub fn get(&mut self) -> Result<Option<A::Out>> {
        let (ttl, now, agg) = (self.ttl, self.access.now, self.aggregate);
        if let Some(v) = read_live(&mut self.access, self.name, ttl, |acc| agg.get_result(acc))? {
            return Ok(v);
        }
        self.access
            .store
            .with_entry::<TtlValue<A::Acc>, _>(self.name, self.access.key, |slot| {
                live(slot, ttl, now).map(|acc| agg.get_result(&acc))
            })
    }

    /// Add `value` to the accumulator.
    pub fn add(&mut self, value: &In) -> Result<()> {
        let (ttl, now, agg) = (self.ttl, self.access.now, self.aggregate);
        self.access
            .store
            .with_entry::<TtlValue<A::Acc>, _>(self.name, self.access.key, |slot| {
                if slot.as_ref().is_some_and(|v| v.expires <= now) {
                    *slot = None;
                }
                let e = slot.get_or_insert_with(|| TtlValue {
                    value: agg.create_accumulator(),
                    expires: 0,
                });
                agg.add(&mut e.value, value);
                e.expires = expiry(ttl, now);
            })
    }

    /// Remove the accumulator.
    pub fn clear(&mut self) -> Result<()> {
        self.access
            .store
            .with_entry::<TtlValue<A::Acc>, _>(self.name, self.access.key, |slot| *slot = None)
    }
}

impl<V: Data> crate::ValueStateDescriptor<V> {
    /// The handle of this state for the current key.
    pub fn bind<'a, K: Key>(&'a self, access: StateAccess<'a, K>) -> ValueState<'a, K, V> {
        if self.ttl.is_some() {
            access
                .store
                .register_sweep::<TtlValue<V>>(&self.name, |v, now| v.expires > now);
        }
        ValueState {
            access,
            name: &self.name,
            ttl: self.ttl,
            _type: PhantomData,
        }
    }
}

impl<V: Data> crate::ListStateDescriptor<V> {
    /// The handle of this state for the current key.
    pub fn bind<'a, K: Key>(&'a self, access: StateAccess<'a, K>) -> ListState<'a, K, V> {
        if self.ttl.is_some() {
            access
                .store
                .register_sweep::<Vec<TtlValue<V>>>(&self.name, |l, now| {
                    l.retain(|e| e.expires > now);
                    !l.is_empty()
                });
        }
        ListState {
            access,
            name: &self.name,
            ttl: self.ttl,
            _type: PhantomData,
        }
    }
}

impl<UK: Data + Hash + Eq, UV: Data> crate::MapStateDescriptor<UK, UV> {
    /// The handle of this state for the current key.
    pub fn bind<'a, K: Key>(&'a self, access: StateAccess<'a, K>) -> MapState<'a, K, UK, UV> {
        if self.ttl.is_some() {
            access
                .store
                .register_sweep::<UserMap<UK, UV>>(&self.name, |m, now| {
                    m.retain(|_, e| e.expires > now);
                    !m.is_empty()
                });
        }
        MapState {
            access,
            name: &self.name,
            ttl: self.ttl,
            _type: PhantomData,
        }
    }
}

impl<V: Data, F: Fn(V, V) -> V> crate::ReducingStateDescriptor<V, F> {
    /// The handle of this state for the current key.
    pub fn bind<'a, K: Key>(&'a self, access: StateAccess<'a, K>) -> ReducingState<'a, K, V, F> {
        if self.ttl.is_some() {
            access
                .store
                .register_sweep::<TtlValue<V>>(&self.name, |v, now| v.expires > now);
        }
        ReducingState {
            access,
            name: &self.name,
            ttl: self.ttl,
            reduce: &self.reduce,
            _type: PhantomData,
        }
    }
}

impl<In, A: AggregateFunction<In>> crate::AggregatingStateDescriptor<In, A>
where
    A::Acc: Data,
{
    /// The handle of this state for the current key.
    pub fn bind<'a, K: Key>(
        &'a self,
        access: StateAccess<'a, K>,
    ) -> AggregatingState<'a, K, In, A> {
        if self.ttl.is_some() {
            access
                .store
                .register_sweep::<TtlValue<A::Acc>>(&self.name, |v, now| v.expires > now);
        }
        AggregatingState {
            access,
            name: &self.name,
            ttl: self.ttl,
            aggregate: &self.aggregate,
            _type: PhantomData,
        }
    }
}
