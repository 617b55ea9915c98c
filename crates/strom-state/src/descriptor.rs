//! State descriptors: a state's name, type and time-to-live.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// When a value's time-to-live is renewed (Flink's `StateTtlConfig.UpdateType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlUpdate {
    /// On creation and every write.
    OnCreateAndWrite,
    /// On creation, every write and every read.
    OnReadAndWrite,
}

/// Time-to-live of a state's values. Expired values are never returned (Flink's
/// `NeverReturnExpired`); time is the operator's processing time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateTtlConfig {
    /// How long a value lives after its last renewal.
    pub ttl_ms: i64,
    /// What renews it.
    pub update: TtlUpdate,
}

impl StateTtlConfig {
    /// Values expire `ttl` after they were created or last written.
    pub fn new(ttl: Duration) -> Self {
        StateTtlConfig {
            ttl_ms: ttl.as_millis().min(i64::MAX as u128) as i64,
            update: TtlUpdate::OnCreateAndWrite,
        }
    }

    /// Reads renew the time-to-live too.
    pub fn update_on_read(mut self) -> Self {
        self.update = TtlUpdate::OnReadAndWrite;
        self
    }
}

/// Declares a single value per key.
pub struct ValueStateDescriptor<V> {
    pub(crate) name: Arc<str>,
    pub(crate) ttl: Option<StateTtlConfig>,
    _type: PhantomData<fn() -> V>,
}

/// Declares a list of values per key.
pub struct ListStateDescriptor<V> {
    pub(crate) name: Arc<str>,
    pub(crate) ttl: Option<StateTtlConfig>,
    _type: PhantomData<fn() -> V>,
}

/// Declares a map per key.
pub struct MapStateDescriptor<UK, UV> {
    pub(crate) name: Arc<str>,
    pub(crate) ttl: Option<StateTtlConfig>,
    _type: PhantomData<fn() -> (UK, UV)>,
}

/// Declares a value per key that folds every added value with a reduce function.
pub struct ReducingStateDescriptor<V, F> {
    pub(crate) name: Arc<str>,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) reduce: F,
    _type: PhantomData<fn() -> V>,
}

/// Declares an accumulator per key fed by an aggregate function.
pub struct AggregatingStateDescriptor<In, A> {
    pub(crate) name: Arc<str>,
    pub(crate) ttl: Option<StateTtlConfig>,
    pub(crate) aggregate: A,
    _type: PhantomData<fn(In)>,
}

macro_rules! impl_descriptor {
    ($ty:ident < $($p:ident),* >, $($extra:ident : $xt:ident),*) => {
        impl<$($p),*> $ty<$($p),*> {
            /// The state's name (unique within the operator).
            pub fn name(&self) -> &str {
                &self.name
            }
            /// Expire values `ttl` after their last renewal.
            pub fn with_ttl(mut self, ttl: StateTtlConfig) -> Self {
                self.ttl = Some(ttl);
                self
            }
            /// The time-to-live, if any.
            pub fn ttl(&self) -> Option<StateTtlConfig> {
                self.ttl
            }
        }
        impl<$($p),*> Clone for $ty<$($p),*> where $($xt: Clone),* {
            fn clone(&self) -> Self {
                $ty {
                    name: Arc::clone(&self.name),
                    ttl: self.ttl,
                    $($extra: self.$extra.clone(),)*
                    _type: PhantomData,
                }
            }
        }
    };
}

impl<V> ValueStateDescriptor<V> {
    /// A value state called `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        ValueStateDescriptor {
            name: name.into(),
            ttl: None,
            _type: PhantomData,
        }
    }
}

impl<V> ListStateDescriptor<V> {
    /// A list state called `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        ListStateDescriptor {
            name: name.into(),
            ttl: None,
            _type: PhantomData,
        }
    }
}

impl<UK, UV> MapStateDescriptor<UK, UV> {
    /// A map state called `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        MapStateDescriptor {
            name: name.into(),
            ttl: None,
            _type: PhantomData,
        }
    }
}

impl<V, F: Fn(V, V) -> V> ReducingStateDescriptor<V, F> {
    /// A reducing state called `name` combining values with `reduce(accumulated, new)`.
    pub fn new(name: impl Into<Arc<str>>, reduce: F) -> Self {
        ReducingStateDescriptor {
            name: name.into(),
            ttl: None,
            reduce,
            _type: PhantomData,
        }
    }
}

impl<In, A> AggregatingStateDescriptor<In, A> {
    /// An aggregating state called `name` fed by `aggregate`.
    pub fn new(name: impl Into<Arc<str>>, aggregate: A) -> Self {
        AggregatingStateDescriptor {
            name: name.into(),
            ttl: None,
            aggregate,
            _type: PhantomData,
        }
    }
}

impl_descriptor!(ValueStateDescriptor<V>,);
impl_descriptor!(ListStateDescriptor<V>,);
impl_descriptor!(MapStateDescriptor<UK, UV>,);
impl_descriptor!(ReducingStateDescriptor<V, F>, reduce: F);
impl_descriptor!(AggregatingStateDescriptor<In, A>, aggregate: A);
