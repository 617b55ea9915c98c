//! Nexmark q22: the directories of each bid's URL.
//!
//! **Question.** What is the directory structure of the URL each bid came from?
//!
//! **Reference SQL, in words.** For every bid, select `auction`, `bidder`, `price`,
//! `channel` and `SPLIT_INDEX(url, '/', 3)`, `SPLIT_INDEX(url, '/', 4)` and
//! `SPLIT_INDEX(url, '/', 5)` as `dir1`, `dir2`, `dir3`. Flink's `SPLIT_INDEX` splits on
//! the whole separator keeping empty fields (`https://host/a/b/c/item` gives `https:`, an empty
//! field, `host`, `a`, `b`, `c`, `item`), counts from 0 and is `NULL` past the last field (an
//! empty string has no field at all).
//!
//! **Pipeline.** One flat-map chained to the source, no state: one pass over the URL's
//! `/`-separated fields ([`split_index`] for one field).
//!
//! **Differences from Flink.** None in the result. [`QueryRow::trigger_time`] is `None`:
//! the row does not carry the bid's time.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strom_api::DataStream;
use strom_core::Collector;

/// One row of q22: a bid with three directories of its URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q22Row {
    /// `auction`.
    pub auction: i64,
    /// `bidder`.
    pub bidder: i64,
    /// `price`, in cents.
    pub price: i64,
    /// `channel`.
    pub channel: Text,
    /// `dir1`: `SPLIT_INDEX(url, '/', 3)`.
    pub dir1: Option<Text>,
    /// `dir2`: `SPLIT_INDEX(url, '/', 4)`.
    pub dir2: Option<Text>,
    /// `dir3`: `SPLIT_INDEX(url, '/', 5)`.
    pub dir3: Option<Text>,
}

fn text_or_null(t: &Option<Text>) -> Value {
    t.as_ref()
        .map_or(Value::Null, |t| Value::String(t.to_string()))
}

impl QueryRow for Q22Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            self.auction.into(),
            self.bidder.into(),
            self.price.into(),
            Value::String(self.channel.to_string()),
            text_or_null(&self.dir1),
            text_or_null(&self.dir2),
            text_or_null(&self.dir3),
        ]
    }
}

/// q22 over `events`: every bid with the fields 3 to 5 of its URL split on `/`.
pub fn q22(events: DataStream<Event>) -> DataStream<Q22Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q22Row>| {
            if let Event::Bid(b) = e {
                let (dir1, dir2, dir3) = if b.url.is_empty() {
                    (None, None, None)
                } else {
                    let mut fields = b.url.split('/').skip(3).map(Text::from);
                    (fields.next(), fields.next(), fields.next())
                };
                out.collect(Q22Row {
                    auction: b.auction,
                    bidder: b.bidder,
                    price: b.price,
                    channel: b.channel,
                    dir1,
                    dir2,
                    dir3,
                });
            }
        })
        .name("q22: URL directories")
        .uid("q22-url-directories")
}

/// Flink's `SPLIT_INDEX(s, separator, index)` for a one-character separator: field
/// `index` (from 0) of `s` split on `separator` with empty fields kept; `None` (SQL
/// `NULL`) past the last field, and for the empty string (which has no field).
pub fn split_index(s: &str, separator: char, index: usize) -> Option<&str> {
    if s.is_empty() {
        return None;
    }
    s.split(separator).nth(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_index_keeps_empty_fields_and_counts_from_zero() {
        let url = "https://www.nexmark.com/abc/de_f/gh/item.htm?query=1";
        assert_eq!(split_index(url, '/', 0), Some("https:"));
        assert_eq!(split_index(url, '/', 1), Some(""));
        assert_eq!(split_index(url, '/', 2), Some("www.nexmark.com"));
        assert_eq!(split_index(url, '/', 3), Some("abc"));
        assert_eq!(split_index(url, '/', 5), Some("gh"));
        assert_eq!(split_index(url, '/', 6), Some("item.htm?query=1"));
        assert_eq!(split_index(url, '/', 7), None);
        assert_eq!(split_index("a/", '/', 1), Some(""));
        assert_eq!(split_index("a//", '/', 2), Some(""));
        assert_eq!(split_index("/a", '/', 0), Some(""));
        assert_eq!(split_index("", '/', 0), None);
        assert_eq!(split_index("abc", '/', 0), Some("abc"));
    }
}
