//! What may flow through a stream ([`Data`]) and what may key one ([`Key`]).

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};

/// A value that can flow through a stream.
///
/// Records are plain Rust values. They must be `Clone` (a stream may feed several
/// consumers), `Send` (they cross threads in batches) and serde-serializable (they are kept
/// in checkpointed state and, in a cluster, cross process boundaries). Implemented
/// automatically for every such type.
pub trait Data: Clone + Send + Serialize + DeserializeOwned + 'static {}

impl<T: Clone + Send + Serialize + DeserializeOwned + 'static> Data for T {}

/// A value that can key a stream.
///
/// `key_hash` plays the role of Java's `hashCode()`: it picks the key's key group
/// (`murmur(key_hash) % max_parallelism`) and so its subtask. It must be deterministic
/// across processes and runs, because checkpointed state is found again by key group.
/// Integers, `bool`, `char`, `String`, `Option` and tuples hash exactly as their Java
/// counterparts do in Flink (`Integer`, `Long`, `String`, `TupleN`), so a key lands in the
/// same key group as in a Flink job. Other types get a stable hash of their `Hash`
/// implementation by default: `impl Key for MyKey {}` is enough.
pub trait Key: Data + Hash + Eq + Debug {
    /// A deterministic 32-bit hash, Java-compatible where a Java counterpart exists.
    fn key_hash(&self) -> i32 {
        stable_hash(self)
    }
}

/// A hash of `value`'s [`Hash`] implementation that is the same in every process and run
/// (FNV-1a, folded to 32 bits), for keys without a Java counterpart.
pub fn stable_hash<T: Hash + ?Sized>(value: &T) -> i32 {
    let mut h = Fnv1a(0xcbf2_9ce4_8422_2325);
    value.hash(&mut h);
    let x = h.finish();
    (x ^ (x >> 32)) as i32
}

struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    if s.is_ascii() {
        s.bytes()
            .fold(0i32, |h, b| h.wrapping_mul(31).wrapping_add(i32::from(b)))
    } else {
        s.encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
    }
}

macro_rules! int_key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            /// Java's `Integer.hashCode()`: the value itself.
            fn key_hash(&self) -> i32 { *self as i32 }
        }
    )*};
}
int_key!(i8, i16, i32, u8, u16);

macro_rules! long_key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            /// Java's `Long.hashCode()`: `(int)(v ^ (v >>> 32))`.
            fn key_hash(&self) -> i32 {
                let v = *self as i64 as u64;
                (v ^ (v >> 32)) as i32
            }
        }
    )*};
}
long_key!(i64, u32, u64, isize, usize);

impl Key for bool {
    /// Java's `Boolean.hashCode()`.
    fn key_hash(&self) -> i32 {
        if *self { 1231 } else { 1237 }
    }
}

impl Key for char {
    /// Java's `Character.hashCode()` for BMP characters; others by code point.
    fn key_hash(&self) -> i32 {
        *self as i32
    }
}

impl Key for String {
    fn key_hash(&self) -> i32 {
        java_string_hash(self)
    }
}

impl Key for compact_str::CompactString {
    /// Java's `String.hashCode()`, as for `String`.
    fn key_hash(&self) -> i32 {
        java_string_hash(self)
    }
}

impl Key for Box<str> {
    /// Java's `String.hashCode()`, as for `String`.
    fn key_hash(&self) -> i32 {
        java_string_hash(self)
    }
}

impl Key for () {
    fn key_hash(&self) -> i32 {
        0
    }
}

impl<T: Key> Key for Option<T> {
    /// `null` hashes to 0, as in Java.
    fn key_hash(&self) -> i32 {
        self.as_ref().map_or(0, Key::key_hash)
    }
}

impl<T: Key> Key for Vec<T> {
    /// Java's `List.hashCode()`.
    fn key_hash(&self) -> i32 {
        self.iter()
            .fold(1i32, |h, e| h.wrapping_mul(31).wrapping_add(e.key_hash()))
    }
}

macro_rules! tuple_key {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Key),+> Key for ($($name,)+) {
            /// Flink's `TupleN.hashCode()`: `31 * h + f_i.hashCode()` from 0.
            fn key_hash(&self) -> i32 {
                let mut h = 0i32;
                $( h = h.wrapping_mul(31).wrapping_add(self.$idx.key_hash()); )+
                h
            }
        }
    };
}
tuple_key!(A 0, B 1);
tuple_key!(A 0, B 1, C 2);
tuple_key!(A 0, B 1, C 2, D 3);
tuple_key!(A 0, B 1, C 2, D 3, E 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_codes() {
        // Values computed by the JVM: "hello".hashCode(), Long.hashCode, Boolean.hashCode.
        assert_eq!("hello".to_string().key_hash(), 99_162_322);
        assert_eq!("".to_string().key_hash(), 0);
        assert_eq!(
            "sensor-7".to_string().key_hash(),
            java_string_hash("sensor-7")
        );
        assert_eq!(42i32.key_hash(), 42);
        assert_eq!((-1i64).key_hash(), 0);
        assert_eq!((1i64 << 32).key_hash(), 1);
        assert_eq!(true.key_hash(), 1231);
        // Tuple2.of(1, 2).hashCode() == 31 * 1 + 2
        assert_eq!((1i32, 2i32).key_hash(), 33);
        // Non-ASCII goes through UTF-16: "é".hashCode() == 233
        assert_eq!("é".to_string().key_hash(), 233);
        assert_eq!(
            compact_str::CompactString::from("hello").key_hash(),
            99_162_322
        );
    }

    #[test]
    fn stable_hash_is_deterministic() {
        #[derive(Hash)]
        struct K(u32, &'static str);
        assert_eq!(stable_hash(&K(1, "a")), stable_hash(&K(1, "a")));
        assert_ne!(stable_hash(&K(1, "a")), stable_hash(&K(2, "a")));
    }
}

/// One of two values: the tagged union that carries the two inputs of a two-input operator
/// (join, co-group) through one stream.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Either<A, B> {
    /// A value of the first (left) input.
    Left(A),
    /// A value of the second (right) input.
    Right(B),
}

impl<A, B> Either<A, B> {
    /// The left value, if this is one.
    pub fn left(&self) -> Option<&A> {
        match self {
            Either::Left(a) => Some(a),
            Either::Right(_) => None,
        }
    }

    /// The right value, if this is one.
    pub fn right(&self) -> Option<&B> {
        match self {
            Either::Left(_) => None,
            Either::Right(b) => Some(b),
        }
    }

    /// Whether this is a left value.
    pub fn is_left(&self) -> bool {
        matches!(self, Either::Left(_))
    }
}
