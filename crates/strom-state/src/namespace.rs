//! Keyed state *namespaced* by a window (or any other scope within a key), as in Flink.
//!
//! Flink's window operators keep each window's contents and trigger state under
//! `(key, namespace = window)`. [`Namespaced`] is that pair used as the key of a
//! [`KeyedStateStore`](crate::KeyedStateStore): its key group is the key's alone
//! ([`Key::key_hash`] of the key), so every namespace of a key lives in the key's key
//! group, is cut into the same checkpoint section, and moves with the key when a job is
//! rescaled. It is encoded as a two-element array `[key, namespace]`.

use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::hash::Hash;
use strom_core::{Data, Key};

/// A key and a namespace within it; the key group is the key's.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Namespaced<K, N>(pub K, pub N);

impl<K: Key, N: Data + Hash + Eq + Debug> Key for Namespaced<K, N> {
    #[inline]
    fn key_hash(&self) -> i32 {
        self.0.key_hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_group_is_the_keys() {
        for k in ["a", "sensor-17", ""] {
            let key = k.to_string();
            assert_eq!(Namespaced(key.clone(), 5_i64).key_hash(), key.key_hash());
            assert_eq!(
                Namespaced(key.clone(), -1_i64).key_hash(),
                Namespaced(key, 7_i64).key_hash()
            );
        }
    }
}
