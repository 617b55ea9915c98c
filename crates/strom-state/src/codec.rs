//! The byte formats of keyed state sections, shared by the heap and the disk backend.
//!
//! Both backends write the same formats, so a snapshot taken on one restores on the other:
//!
//! * A **complete** section (`delta: false`) of one state and key group is the MessagePack
//!   encoding (named struct fields) of `Vec<(K, S)>`: every key with its state object —
//!   exactly what [`strom_core::checkpoint::keyed_sections`] writes and
//!   [`RestoredState::keyed_entries`](strom_core::checkpoint::RestoredState::keyed_entries)
//!   reads. The heap backend encodes it with serde; the disk backend, which holds keys and
//!   objects already encoded, splices their bytes into the same layout
//!   ([`CompleteWriter`]).
//! * A **delta** section (`delta: true`) lists the changes to one state and key group since
//!   the checkpoint it builds on: the MessagePack encoding of
//!   `Vec<(bin, Option<bin>)>`, each the encoded key and the encoded new object, or nil
//!   when the key's object was deleted ([`DeltaWriter`]). Deltas apply in order on top of
//!   the complete section.
//!
//! Reading splits sections into the raw bytes of keys and objects without knowing their
//! types ([`complete_entries`], [`delta_entries`]), so a backend can keep objects encoded
//! until a handle first uses the state with its type.

/// Append a MessagePack array header for `len` elements (the smallest form, as
/// `rmp_serde` writes it).
pub(crate) fn write_array_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(n) = u16::try_from(len) {
        out.push(0xdc);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Append `bytes` as a MessagePack binary value.
pub(crate) fn write_bin(out: &mut Vec<u8>, bytes: &[u8]) {
    if let Ok(n) = u8::try_from(bytes.len()) {
        out.push(0xc4);
        out.push(n);
    } else if let Ok(n) = u16::try_from(bytes.len()) {
        out.push(0xc5);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    }
    out.extend_from_slice(bytes);
}

/// Builds a complete section from already encoded keys and objects.
#[derive(Default)]
pub(crate) struct CompleteWriter {
    body: Vec<u8>,
    count: usize,
}

impl CompleteWriter {
    /// Add one entry: the encoding of a key and of its object.
    pub(crate) fn push(&mut self, key: &[u8], object: &[u8]) {
        self.body.push(0x92);
        self.body.extend_from_slice(key);
        self.body.extend_from_slice(object);
        self.count += 1;
    }

    /// Whether no entry was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The section's bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 5);
        write_array_len(&mut out, self.count);
        out.extend_from_slice(&self.body);
        out
    }
}

/// Builds a delta section.
#[derive(Default)]
pub(crate) struct DeltaWriter {
    body: Vec<u8>,
    count: usize,
}

impl DeltaWriter {
    /// Record that `key` (encoded) now has `object` (encoded), or none.
    pub(crate) fn push(&mut self, key: &[u8], object: Option<&[u8]>) {
        self.body.push(0x92);
        write_bin(&mut self.body, key);
        match object {
            Some(o) => write_bin(&mut self.body, o),
            None => self.body.push(0xc0),
        }
        self.count += 1;
    }

    /// Whether no change was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The section's bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 5);
        write_array_len(&mut out, self.count);
        out.extend_from_slice(&self.body);
        out
    }
}

/// A cursor over MessagePack bytes that reads headers and skips whole values.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| "truncated section".to_string())?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| "truncated section".to_string())?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, bytes: usize) -> Result<usize, String> {
        let s = self.take(bytes)?;
        Ok(s.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    }

    /// An array header: the number of elements.
    fn array_len(&mut self) -> Result<usize, String> {
        match self.byte()? {
            b @ 0x90..=0x9f => Ok(usize::from(b & 0x0f)),
            0xdc => self.uint(2),
            0xdd => self.uint(4),
            b => Err(format!("expected an array, found marker {b:#04x}")),
        }
    }

    /// A binary value, or `None` for nil.
    fn bin_or_nil(&mut self) -> Result<Option<&'a [u8]>, String> {
        let len = match self.byte()? {
            0xc0 => return Ok(None),
            0xc4 => self.uint(1)?,
            0xc5 => self.uint(2)?,
            0xc6 => self.uint(4)?,
            b => return Err(format!("expected binary data, found marker {b:#04x}")),
        };
        self.take(len).map(Some)
    }

    /// The raw bytes of the next complete value.
    fn value(&mut self) -> Result<&'a [u8], String> {
        let start = self.pos;
        let mut pending: usize = 1;
        while pending > 0 {
            pending -= 1;
            let marker = self.byte()?;
            let (skip, children) = match marker {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
                0x80..=0x8f => (0, 2 * usize::from(marker & 0x0f)),
                0x90..=0x9f => (0, usize::from(marker & 0x0f)),
                0xa0..=0xbf => (usize::from(marker & 0x1f), 0),
                0xc4 | 0xd9 => (self.uint(1)?, 0),
                0xc5 | 0xda => (self.uint(2)?, 0),
                0xc6 | 0xdb => (self.uint(4)?, 0),
                0xc7 => (self.uint(1)? + 1, 0),
                0xc8 => (self.uint(2)? + 1, 0),
                0xc9 => (self.uint(4)? + 1, 0),
                0xca | 0xce | 0xd2 => (4, 0),
                0xcb | 0xcf | 0xd3 => (8, 0),
                0xcc | 0xd0 => (1, 0),
                0xcd | 0xd1 => (2, 0),
                0xd4 => (2, 0),
                0xd5 => (3, 0),
                0xd6 => (5, 0),
                0xd7 => (9, 0),
                0xd8 => (17, 0),
                0xdc => (0, self.uint(2)?),
                0xdd => (0, self.uint(4)?),
                0xde => (0, 2 * self.uint(2)?),
                0xdf => (0, 2 * self.uint(4)?),
                0xc1 => return Err("invalid MessagePack marker 0xc1".to_string()),
            };
            self.take(skip)?;
            pending = pending
                .checked_add(children)
                .ok_or_else(|| "corrupt section".to_string())?;
        }
        Ok(&self.buf[start..self.pos])
    }

    fn pair(&mut self) -> Result<(), String> {
        match self.array_len()? {
            2 => Ok(()),
            n => Err(format!("expected a (key, value) pair, found {n} elements")),
        }
    }

    fn finished(&self) -> Result<(), String> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected bytes after the entries",
                self.buf.len() - self.pos
            ))
        }
    }
}

/// An encoded key with its encoded object.
pub(crate) type Entry<'a> = (&'a [u8], &'a [u8]);

/// An encoded key with its encoded new object, or `None` when deleted.
pub(crate) type Change<'a> = (&'a [u8], Option<&'a [u8]>);

/// The `(encoded key, encoded object)` entries of a complete section.
pub(crate) fn complete_entries(data: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    let mut r = Reader { buf: data, pos: 0 };
    let n = r.array_len()?;
    let mut out = Vec::with_capacity(n.min(data.len()));
    for _ in 0..n {
        r.pair()?;
        let key = r.value()?;
        let object = r.value()?;
        out.push((key, object));
    }
    r.finished()?;
    Ok(out)
}

/// The `(encoded key, encoded object or deleted)` changes of a delta section.
pub(crate) fn delta_entries(data: &[u8]) -> Result<Vec<Change<'_>>, String> {
    let mut r = Reader { buf: data, pos: 0 };
    let n = r.array_len()?;
    let mut out = Vec::with_capacity(n.min(data.len()));
    for _ in 0..n {
        r.pair()?;
        let key = r
            .bin_or_nil()?
            .ok_or_else(|| "a change without a key".to_string())?;
        out.push((key, r.bin_or_nil()?));
    }
    r.finished()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::collections::HashMap;
    use strom_core::checkpoint::{decode, encode};

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    struct Obj {
        name: String,
        n: i64,
        f: f64,
        tags: Vec<Option<u8>>,
        map: HashMap<String, (u32, bool)>,
        bytes: Vec<u8>,
    }

    fn obj(i: i64) -> Obj {
        Obj {
            name: "x".repeat(i as usize * 7),
            n: i * -1_000_003,
            f: i as f64 / 3.0,
            tags: vec![Some(1), None, Some(255)],
            map: (0..i)
                .map(|j| (format!("k{j}"), (j as u32 * 70_000, j % 2 == 0)))
                .collect(),
            bytes: vec![7; i as usize * 40],
        }
    }

    #[test]
    fn splitting_a_serde_encoded_vec_gives_each_key_and_object() {
        for n in [0usize, 1, 15, 16, 300] {
            let entries: Vec<(String, Obj)> = (0..n)
                .map(|i| (format!("key{i}"), obj(i as i64 % 40)))
                .collect();
            let data = encode(&entries).unwrap();
            let split = complete_entries(&data).unwrap();
            assert_eq!(split.len(), n);
            let mut w = CompleteWriter::default();
            for ((k, o), (kb, ob)) in entries.iter().zip(&split) {
                assert_eq!(decode::<String>(kb).unwrap(), *k);
                assert_eq!(decode::<Obj>(ob).unwrap(), *o);
                w.push(kb, ob);
            }
            assert_eq!(w.finish(), data, "the disk writer's bytes are serde's");
        }
    }

    #[test]
    fn delta_round_trip_and_corruption_is_an_error() {
        let mut w = DeltaWriter::default();
        let big = vec![1u8; 70_000];
        w.push(b"a", Some(b"1"));
        w.push(b"b", None);
        w.push(&big, Some(&big[..300]));
        let data = w.finish();
        let back = delta_entries(&data).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], (&b"a"[..], Some(&b"1"[..])));
        assert_eq!(back[1], (&b"b"[..], None));
        assert_eq!(back[2].0.len(), 70_000);
        assert!(delta_entries(&data[..data.len() - 1]).is_err());
    }
}
