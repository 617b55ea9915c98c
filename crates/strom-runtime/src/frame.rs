//! The binary encoding of a channel [`Message`]: one length-prefixed frame per message,
//! so a batch of records is one frame.
//!
//! ```text
//! frame    := length:u32 body                  length = bytes in body
//! body     := 1 count:u32 record{count}                            Data
//!           | 2 count:u32 record{count} marks:u32 mark{marks}      Marked
//!           | 3 watermark:i64                                      Watermark
//!           | 4 status:u8                  0 active, 1 idle        Status
//!           | 5 id:u64 timestamp:i64 kind:u8                       Barrier
//!                  kind: 0 checkpoint, 1 savepoint, 2 savepoint and stop
//!           | 6                                                    EndOfInput
//! record   := timestamp:i64 value           value in MessagePack (rmp-serde, compact)
//! mark     := position:u32 watermark:i64    the watermark follows records[..position]
//! ```
//!
//! Integers are little-endian. Decoding checks every length against the bytes present and
//! never panics on malformed input: it fails with [`StromError::Internal`] naming what
//! was wrong, so a corrupt frame fails the job rather than the process.

use serde::Serialize;
use serde::de::DeserializeOwned;
use strom_core::{Result, StromError};
use strom_types::{CheckpointBarrier, CheckpointKind, Message, Record, Watermark, WatermarkStatus};

const DATA: u8 = 1;
const MARKED: u8 = 2;
const WATERMARK: u8 = 3;
const STATUS: u8 = 4;
const BARRIER: u8 = 5;
const END_OF_INPUT: u8 = 6;

/// Append the frame of `msg` to `out`.
pub fn encode<T: Serialize>(msg: &Message<T>, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    match msg {
        Message::Data(records) => {
            out.push(DATA);
            records_into(records, out)?;
        }
        Message::Marked { records, marks } => {
            out.push(MARKED);
            records_into(records, out)?;
            put_len(out, marks.len())?;
            for (pos, w) in marks {
                put_len(out, *pos)?;
                out.extend_from_slice(&w.0.to_le_bytes());
            }
        }
        Message::Watermark(w) => {
            out.push(WATERMARK);
            out.extend_from_slice(&w.0.to_le_bytes());
        }
        Message::Status(s) => {
            out.push(STATUS);
            out.push(match s {
                WatermarkStatus::Active => 0,
                WatermarkStatus::Idle => 1,
            });
        }
        Message::Barrier(b) => {
            out.push(BARRIER);
            out.extend_from_slice(&b.id.to_le_bytes());
            out.extend_from_slice(&b.timestamp.to_le_bytes());
            out.push(match b.kind {
                CheckpointKind::Checkpoint => 0,
                CheckpointKind::Savepoint { stop: false } => 1,
                CheckpointKind::Savepoint { stop: true } => 2,
            });
        }
        Message::EndOfInput => out.push(END_OF_INPUT),
    }
    let len = out.len() - start - 4;
    let len = u32::try_from(len).map_err(|_| {
        StromError::Internal(format!("a channel frame of {len} bytes is too large"))
    })?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn put_len(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let n = u32::try_from(n)
        .map_err(|_| StromError::Internal(format!("a count of {n} does not fit a frame")))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn records_into<T: Serialize>(records: &[Record<T>], out: &mut Vec<u8>) -> Result<()> {
    put_len(out, records.len())?;
    // One serializer for the batch; timestamps go between the values through its writer.
    let mut ser = rmp_serde::Serializer::new(out);
    for r in records {
        ser.get_mut().extend_from_slice(&r.timestamp.to_le_bytes());
        r.value.serialize(&mut ser).map_err(|e| {
            StromError::Internal(format!("cannot encode a record for a channel: {e}"))
        })?;
    }
    Ok(())
}

/// Decode one whole frame (as [`encode`] wrote it, length prefix included).
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> Result<Message<T>> {
    let mut r = Reader { bytes: frame };
    let len = r.u32()? as usize;
    if len != r.bytes.len() {
        return Err(bad(format!(
            "length {len} but {} bytes follow",
            r.bytes.len()
        )));
    }
    let msg = match r.u8()? {
        DATA => Message::Data(r.records()?),
        MARKED => {
            let records = r.records()?;
            let n = r.count(12)?;
            let mut marks = Vec::with_capacity(n);
            for _ in 0..n {
                let pos = r.u32()? as usize;
                if pos > records.len() {
                    return Err(bad(format!(
                        "watermark at position {pos} of {} records",
                        records.len()
                    )));
                }
                marks.push((pos, Watermark(r.i64()?)));
            }
            Message::Marked { records, marks }
        }
        WATERMARK => Message::Watermark(Watermark(r.i64()?)),
        STATUS => Message::Status(match r.u8()? {
            0 => WatermarkStatus::Active,
            1 => WatermarkStatus::Idle,
            s => return Err(bad(format!("unknown watermark status {s}"))),
        }),
        BARRIER => {
            let id = r.u64()?;
            let timestamp = r.i64()?;
            let kind = match r.u8()? {
                0 => CheckpointKind::Checkpoint,
                1 => CheckpointKind::Savepoint { stop: false },
                2 => CheckpointKind::Savepoint { stop: true },
                k => return Err(bad(format!("unknown barrier kind {k}"))),
            };
            Message::Barrier(CheckpointBarrier {
                id,
                timestamp,
                kind,
            })
        }
        END_OF_INPUT => Message::EndOfInput,
        t => return Err(bad(format!("unknown message tag {t}"))),
    };
    if !r.bytes.is_empty() {
        return Err(bad(format!("{} bytes after the message", r.bytes.len())));
    }
    Ok(msg)
}

fn bad(what: String) -> StromError {
    StromError::Internal(format!("malformed channel frame: {what}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let Some((head, rest)) = self.bytes.split_first_chunk::<N>() else {
            return Err(bad(format!(
                "{N} bytes expected, {} left",
                self.bytes.len()
            )));
        };
        self.bytes = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    /// A count of items of at least `min_size` bytes each, checked against what is left.
    fn count(&mut self, min_size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size) > self.bytes.len() {
            return Err(bad(format!(
                "{n} items announced, {} bytes left",
                self.bytes.len()
            )));
        }
        Ok(n)
    }
    fn records<T: DeserializeOwned>(&mut self) -> Result<Vec<Record<T>>> {
        // A record is at least its timestamp and one byte of MessagePack.
        let n = self.count(9)?;
        let mut records = Vec::with_capacity(n);
        // One deserializer for the batch (no allocation per record); it reads exactly what
        // each value needs, so the timestamps between the values are read through it.
        let mut de = rmp_serde::Deserializer::new(&mut self.bytes);
        for k in 0..n {
            let rest: &mut &[u8] = de.get_mut();
            let Some((ts, tail)) = rest.split_first_chunk::<8>() else {
                return Err(bad(format!("record {k} of {n}: timestamp cut off")));
            };
            let timestamp = i64::from_le_bytes(*ts);
            *rest = tail;
            let value =
                T::deserialize(&mut de).map_err(|e| bad(format!("record {k} of {n}: {e}")))?;
            records.push(Record { value, timestamp });
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn round_trip(msg: Message<(String, i64)>) -> Message<(String, i64)> {
        let mut out = Vec::new();
        encode(&msg, &mut out).unwrap();
        decode(&out).unwrap()
    }

    fn same(a: &Message<(String, i64)>, b: &Message<(String, i64)>) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    fn every_kind() -> Vec<Message<(String, i64)>> {
        let recs = vec![
            Record::new(("a".to_string(), 1), 10),
            Record::untimed(("bé".to_string(), -2)),
        ];
        let msgs = vec![
            Message::Data(recs.clone()),
            Message::Marked {
                records: recs,
                marks: vec![(0, Watermark(3)), (2, Watermark::MAX)],
            },
            Message::Watermark(Watermark::MIN),
            Message::Status(WatermarkStatus::Idle),
            Message::Status(WatermarkStatus::Active),
            Message::Barrier(CheckpointBarrier {
                id: 7,
                timestamp: 123,
                kind: CheckpointKind::Savepoint { stop: true },
            }),
            Message::Barrier(CheckpointBarrier {
                id: 8,
                timestamp: -1,
                kind: CheckpointKind::Checkpoint,
            }),
            Message::EndOfInput,
        ];
        msgs
    }

    #[test]
    fn every_kind_of_message_round_trips() {
        for (m, expected) in every_kind().into_iter().zip(every_kind()) {
            assert!(same(&round_trip(m), &expected), "{expected:?}");
        }
    }

    #[test]
    fn the_length_prefix_frames_the_message() {
        let mut out = Vec::new();
        encode::<u8>(&Message::EndOfInput, &mut out).unwrap();
        assert_eq!(out, vec![1, 0, 0, 0, END_OF_INPUT]);
        out.push(0);
        assert!(decode::<u8>(&out).is_err(), "trailing byte");
    }

    #[test]
    fn malformed_frames_are_errors() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![1, 0, 0],
            vec![1, 0, 0, 0, 99],
            vec![5, 0, 0, 0, DATA, 255, 255, 255, 255],
            vec![2, 0, 0, 0, STATUS, 9],
        ];
        for c in cases {
            let e = decode::<String>(&c).unwrap_err();
            assert!(e.to_string().contains("malformed channel frame"), "{e}");
        }
    }

    proptest! {
        #[test]
        fn records_round_trip(values in proptest::collection::vec((".{0,8}", any::<i64>(), any::<i64>()), 0..50)) {
            let records: Vec<Record<(String, i64)>> = values
                .iter()
                .map(|(s, v, ts)| Record { value: (s.clone(), *v), timestamp: *ts })
                .collect();
            let back = round_trip(Message::Data(records.clone()));
            match back {
                Message::Data(b) => {
                    prop_assert_eq!(b.len(), records.len());
                    for (x, y) in b.iter().zip(&records) {
                        prop_assert_eq!(&x.value, &y.value);
                        prop_assert_eq!(x.timestamp, y.timestamp);
                    }
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode::<(String, i64)>(&bytes);
            let mut framed = (bytes.len() as u32).to_le_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode::<Vec<(String, u64)>>(&framed);
        }
    }
}
