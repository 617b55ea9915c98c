//! A line parser for fixed CSV layouts: a hand-written fast path for plain lines, and the
//! generic CSV parser for anything else (quotes, odd values), so that the accepted input and
//! the error messages (naming file, line and field) are exactly the CSV source's.

use serde::de::DeserializeOwned;
use strom::BoxError;
use strom::connectors::file::{CsvLineParser, LineParser};

/// Parses with `fast`, falling back to [`CsvLineParser`] when it returns `None`.
pub struct FastCsvParser<T> {
    fast: fn(&[u8]) -> Option<T>,
    fallback: CsvLineParser<T>,
}

impl<T: DeserializeOwned> FastCsvParser<T> {
    /// A parser for comma-separated lines without header.
    pub fn new(fast: fn(&[u8]) -> Option<T>) -> Self {
        FastCsvParser {
            fast,
            fallback: CsvLineParser::new(b',', false),
        }
    }
}

impl<T: DeserializeOwned + Send> LineParser<T> for FastCsvParser<T> {
    fn start_file(&mut self, path: &std::path::Path) -> Result<(), BoxError> {
        self.fallback.start_file(path)
    }

    #[inline]
    fn parse_line(&mut self, line: &[u8], line_no: u64) -> Result<Option<T>, String> {
        match (self.fast)(line) {
            Some(v) => Ok(Some(v)),
            None => self.fallback.parse_line(line, line_no),
        }
    }
}

/// A plain decimal integer (`-?[0-9]{1,18}`), or `None`.
#[inline]
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, b.get(1..)?),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if neg { -v } else { v })
}

/// A float as Rust's `f64::from_str` reads it, or `None`.
#[inline]
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}
