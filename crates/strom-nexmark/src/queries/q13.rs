//! Nexmark q13, bounded side input join: bids enriched with a value looked up in a small
//! table read from a file, as stream enrichment commonly does.
//!
//! The reference declares the side input as a file-system table `(key BIGINT, value
//! VARCHAR)` in CSV (`side_input.txt`, written by the reference's `SideInputGenerator`:
//! one line `i,i` for every `i` in `0..10 000`), and joins every bid with it as a lookup
//! (`FOR SYSTEM_TIME AS OF` the bid's processing time) on `mod(B.auction, 10000) = S.key`.
//! It is an inner join: a bid whose key has no row in the table produces nothing, and a key
//! with several rows produces one result per row. It selects `auction`, `bidder`, `price`,
//! `dateTime` and the side input's `value`.
//!
//! [`SideInput`] holds the table: [`SideInput::generate`] builds the reference's contents,
//! [`SideInput::write_csv`] and [`SideInput::load_csv`] write and read the file.
//! [`q13`] is one chained `flat_map`: every subtask shares the table (an `Arc`), indexed by
//! key (a direct array when the keys are dense, as the reference's are, else a hash map),
//! and each bid is looked up and emitted with the value, moving the bid's fields. The table
//! never changes while the job runs, so looking it up at processing time is the same as
//! looking it up at any time.
//!
//! The CSV format is what the reference's table reads (Flink's CSV format with its
//! defaults): one row per line, `key,value`, `\n` line ends (`\r\n` is accepted too), no
//! header. A value that contains a comma, a double quote or a line break is written in
//! double quotes with inner quotes doubled (RFC 4180), and read back the same way; the
//! reference's values never need that.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strom_api::DataStream;
use strom_core::{Collector, Timestamp};

/// The modulus of the join key: the reference joins on `mod(B.auction, 10000)`.
pub const KEY_MODULUS: i64 = 10_000;

/// The number of rows the reference's side input has (`side_input_gen.sh` asks for 10 000).
pub const REFERENCE_ROWS: usize = 10_000;

/// One row of q13's result: a bid with the side input's value for its key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q13Row {
    /// The auction bid on.
    pub auction: i64,
    /// The bidder.
    pub bidder: i64,
    /// The price, in cents.
    pub price: i64,
    /// When the bid was placed.
    pub date_time: Timestamp,
    /// The side input's value for `auction mod 10000`.
    pub value: Text,
}

impl QueryRow for Q13Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            json!(self.auction),
            json!(self.bidder),
            json!(self.price),
            json!(self.date_time),
            json!(self.value.as_str()),
        ]
    }

    fn trigger_time(&self) -> Option<Timestamp> {
        Some(self.date_time)
    }
}

/// How keys find their rows.
#[derive(Clone, Debug, PartialEq)]
enum Index {
    /// Keys `offset..offset + slots.len()`: the range of `values` each key's rows occupy.
    Dense { offset: i64, slots: Vec<(u32, u32)> },
    /// Any keys.
    Sparse(HashMap<i64, (u32, u32)>),
}

/// The side input table `(key, value)`, indexed for lookups by key.
#[derive(Clone, Debug)]
pub struct SideInput {
    /// The rows in file order.
    rows: Vec<(i64, Text)>,
    /// The values grouped by key (each key's rows in file order).
    values: Vec<Text>,
    index: Index,
}

impl PartialEq for SideInput {
    /// Equal when the rows, in order, are.
    fn eq(&self, other: &Self) -> bool {
        self.rows == other.rows
    }
}

/// Why a side input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SideInputError {
    /// The file could not be opened or read.
    #[error("cannot read side input {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A line is not `key,value`.
    #[error("side input {path}, line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line, counted from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

impl SideInput {
    /// A table of the given rows, in this order (keys may repeat: a key with several rows
    /// joins each of them).
    pub fn from_rows(rows: Vec<(i64, Text)>) -> SideInput {
        let mut order: Vec<u32> = (0..rows.len() as u32).collect();
        order.sort_by_key(|&i| rows[i as usize].0);
        let values: Vec<Text> = order.iter().map(|&i| rows[i as usize].1.clone()).collect();
        let mut ranges: Vec<(i64, (u32, u32))> = Vec::new();
        for (pos, &i) in order.iter().enumerate() {
            let key = rows[i as usize].0;
            match ranges.last_mut() {
                Some((k, (_, end))) if *k == key => *end = pos as u32 + 1,
                _ => ranges.push((key, (pos as u32, pos as u32 + 1))),
            }
        }
        let index = match (ranges.first(), ranges.last()) {
            (Some(&(lo, _)), Some(&(hi, _)))
                if (hi as i128 - lo as i128) < 4 * ranges.len() as i128 + 64 =>
            {
                let mut slots = vec![(0u32, 0u32); (hi - lo + 1) as usize];
                for (key, range) in ranges {
                    slots[(key - lo) as usize] = range;
                }
                Index::Dense { offset: lo, slots }
            }
            _ => Index::Sparse(ranges.into_iter().collect()),
        };
        SideInput {
            rows,
            values,
            index,
        }
    }

    /// The reference's side input of `rows` rows: key `i` with value `i` (as text) for
    /// every `i` in `0..rows` (the reference uses [`REFERENCE_ROWS`]).
    pub fn generate(rows: usize) -> SideInput {
        SideInput::from_rows(
            (0..rows as i64)
                .map(|i| (i, Text::from(i.to_string())))
                .collect(),
        )
    }

    /// The rows, in file order.
    pub fn rows(&self) -> &[(i64, Text)] {
        &self.rows
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The values of the rows with key `key` (none if there are none).
    #[inline]
    pub fn lookup(&self, key: i64) -> &[Text] {
        let range = match &self.index {
            Index::Dense { offset, slots } => key
                .checked_sub(*offset)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| slots.get(i).copied()),
            Index::Sparse(map) => map.get(&key).copied(),
        };
        match range {
            Some((start, end)) => &self.values[start as usize..end as usize],
            None => &[],
        }
    }

    /// Write the table to `path` as CSV, one `key,value` line per row (see the
    /// [module documentation](self) for the format).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let mut out = BufWriter::new(std::fs::File::create(path.as_ref())?);
        for (key, value) in &self.rows {
            write!(out, "{key},")?;
            if value.contains([',', '"', '\n', '\r']) {
                out.write_all(b"\"")?;
                out.write_all(value.replace('"', "\"\"").as_bytes())?;
                out.write_all(b"\"\n")?;
            } else {
                out.write_all(value.as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
        out.flush()
    }

    /// Read a table written by [`write_csv`](Self::write_csv) or by the reference's
    /// generator. An error names the file and, for a malformed row, its line.
    pub fn load_csv(path: impl AsRef<Path>) -> Result<SideInput, SideInputError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SideInputError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parse_error = |line: usize, message: String| SideInputError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut rows = Vec::new();
        let mut rest = text.as_str();
        let mut line = 0usize;
        while !rest.is_empty() {
            line += 1;
            let first_line = line;
            let (key_text, after_key) = match rest.find([',', '\n']) {
                Some(i) if rest.as_bytes()[i] == b',' => (&rest[..i], &rest[i + 1..]),
                _ => {
                    let shown = rest.split('\n').next().unwrap_or("");
                    return Err(parse_error(
                        line,
                        format!(
                            "expected `key,value`, found {:?} (no comma)",
                            shown.trim_end_matches('\r')
                        ),
                    ));
                }
            };
            let key: i64 = key_text.parse().map_err(|e| {
                parse_error(
                    line,
                    format!("the key {key_text:?} is not a BIGINT integer: {e}"),
                )
            })?;
            let (value, after_value) = if let Some(quoted) = after_key.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' if quoted[i + 1..].starts_with('"') => {
                            value.push('"');
                            chars.next();
                        }
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        '\n' => {
                            line += 1;
                            value.push(c);
                        }
                        _ => value.push(c),
                    }
                }
                let end = end.ok_or_else(|| {
                    parse_error(
                        first_line,
                        "the quoted value is not closed before the end of the file".into(),
                    )
                })?;
                (value, &quoted[end..])
            } else {
                let end = after_key.find('\n').unwrap_or(after_key.len());
                let raw = after_key[..end]
                    .strip_suffix('\r')
                    .unwrap_or(&after_key[..end]);
                if let Some(i) = raw.find(',') {
                    return Err(parse_error(
                        line,
                        format!(
                            "expected 2 fields (`key,value`), found more: {:?} follows the value",
                            &raw[i..]
                        ),
                    ));
                }
                if raw.contains('"') {
                    return Err(parse_error(
                        line,
                        format!("the value {raw:?} has a double quote but is not quoted"),
                    ));
                }
                (raw.to_string(), &after_key[raw.len()..])
            };
            // What follows the value must end the line.
            let after_value = after_value.strip_prefix('\r').unwrap_or(after_value);
            rest = match after_value.strip_prefix('\n') {
                Some(next) => next,
                None if after_value.is_empty() => after_value,
                None => {
                    let extra = after_value.split('\n').next().unwrap_or("");
                    return Err(parse_error(
                        line,
                        format!(
                            "expected 2 fields (`key,value`), found more: {:?} follows the value",
                            extra.trim_end_matches('\r')
                        ),
                    ));
                }
            };
            rows.push((key, Text::from(value)));
        }
        Ok(SideInput::from_rows(rows))
    }
}

/// The join key of an auction: `mod(auction, 10000)` (SQL `MOD` keeps the dividend's
/// sign, as Rust's `%` does).
#[inline]
pub fn side_key(auction: i64) -> i64 {
    auction % KEY_MODULUS
}

/// Nexmark q13 over `events`: every bid joined with the side input rows of key
/// `auction mod 10000` (bids without such a row are dropped).
pub fn q13(events: DataStream<Event>, side: SideInput) -> DataStream<Q13Row> {
    let side = Arc::new(side);
    events
        .flat_map(move |e: Event, out: &mut Collector<'_, Q13Row>| {
            if let Event::Bid(b) = e {
                for value in side.lookup(side_key(b.auction)) {
                    out.collect(Q13Row {
                        auction: b.auction,
                        bidder: b.bidder,
                        price: b.price,
                        date_time: b.date_time,
                        value: value.clone(),
                    });
                }
            }
        })
        .name("q13-side-input-join")
        .uid("q13-side-input-join")
}
