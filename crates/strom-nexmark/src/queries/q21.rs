//! Nexmark q21: the channel id of each bid.
//!
//! **Question.** Which channel id did each bid come from?
//!
//! **Reference SQL, in words.** For every bid, select `auction`, `bidder`, `price`,
//! `channel` and a `channel_id`: `'0'`, `'1'`, `'2'` or `'3'` when `lower(channel)` is
//! `apple`, `google`, `facebook` or `baidu` (checked in that order), otherwise
//! `REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)`: the value of the first
//! `channel_id=` parameter that starts the URL or follows an `&`, up to the next `&` (Java's
//! `Matcher.find`, the leftmost match; group 2 may be empty; `NULL` when nothing matches).
//! Only bids whose extraction is not `NULL` or whose lower-cased channel is one of the four
//! are kept.
//!
//! **Pipeline.** One flat-map chained to the source, no state. The regular expression is
//! matched by hand ([`regexp_extract_channel_id`]): its leftmost match starts at 0 when the
//! URL begins with `channel_id=`, and otherwise at the first `&channel_id=` (a match at 0
//! through `&` is that same case); group 2 runs to the next `&` or the end. `lower` is
//! Java's `toLowerCase`; for ASCII channels (all generated ones) an ASCII case-insensitive
//! comparison is the same thing, other channels are lower-cased in full first.
//!
//! **Differences from Flink.** None in the result. [`QueryRow::trigger_time`] is `None`:
//! the row does not carry the bid's time.

use crate::model::{Event, Text};
use crate::queries::QueryRow;
use memchr::memmem::Finder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::LazyLock;
use strom_api::DataStream;
use strom_core::Collector;

/// One row of q21: a bid with its channel id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Q21Row {
    /// `auction`.
    pub auction: i64,
    /// `bidder`.
    pub bidder: i64,
    /// `price`, in cents.
    pub price: i64,
    /// `channel`.
    pub channel: Text,
    /// `channel_id`: `0` to `3` for the four named channels, else the URL's `channel_id`
    /// parameter.
    pub channel_id: Text,
}

impl QueryRow for Q21Row {
    fn columns(&self) -> Vec<Value> {
        vec![
            self.auction.into(),
            self.bidder.into(),
            self.price.into(),
            Value::String(self.channel.to_string()),
            Value::String(self.channel_id.to_string()),
        ]
    }
}

/// q21 over `events`: the bids that have a channel id, with it.
pub fn q21(events: DataStream<Event>) -> DataStream<Q21Row> {
    events
        .flat_map(|e: Event, out: &mut Collector<'_, Q21Row>| {
            if let Event::Bid(b) = e {
                let channel_id = match named_channel_id(&b.channel) {
                    Some(id) => Text::const_new(id),
                    None => match regexp_extract_channel_id(&b.url) {
                        Some(id) => Text::from(id),
                        None => return,
                    },
                };
                out.collect(Q21Row {
                    auction: b.auction,
                    bidder: b.bidder,
                    price: b.price,
                    channel: b.channel,
                    channel_id,
                });
            }
        })
        .name("q21: channel ids")
        .uid("q21-channel-ids")
}

/// The `CASE` branches on `lower(channel)`, in the reference's order.
const NAMED_CHANNELS: [(&str, &str); 4] = [
    ("apple", "0"),
    ("google", "1"),
    ("facebook", "2"),
    ("baidu", "3"),
];

/// The id the `CASE` gives a channel whose lower-cased name is one of the four, else
/// `None`.
pub fn named_channel_id(channel: &str) -> Option<&'static str> {
    let found = if channel.is_ascii() {
        NAMED_CHANNELS
            .iter()
            .find(|(name, _)| channel.eq_ignore_ascii_case(name))
    } else {
        let lower = channel.to_lowercase();
        NAMED_CHANNELS.iter().find(|(name, _)| lower == *name)
    };
    found.map(|(_, id)| *id)
}

/// `REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)`: the value of the first
/// `channel_id` parameter at the start of `url` or after an `&`, up to the next `&`;
/// `None` (SQL `NULL`) when there is none.
pub fn regexp_extract_channel_id(url: &str) -> Option<&str> {
    const PARAM: &str = "channel_id=";
    static AFTER_AMPERSAND: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new(b"&channel_id="));
    let start = if url.starts_with(PARAM) {
        PARAM.len()
    } else {
        AFTER_AMPERSAND.find(url.as_bytes())? + 1 + PARAM.len()
    };
    let rest = &url[start..];
    let end = memchr::memchr(b'&', rest.as_bytes()).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_like_the_regular_expression() {
        let x = regexp_extract_channel_id;
        assert_eq!(x("https://a/b?query=1&channel_id=123"), Some("123"));
        assert_eq!(x("https://a/b?query=1&channel_id=123&x=1"), Some("123"));
        assert_eq!(x("channel_id=7&channel_id=8"), Some("7"));
        assert_eq!(x("&channel_id=7"), Some("7"));
        assert_eq!(x("a&channel_id=&channel_id=2"), Some(""));
        assert_eq!(x("a&channel_id="), Some(""));
        // Not at the start and not after `&`: no match.
        assert_eq!(x("a?channel_id=5"), None);
        assert_eq!(x("xchannel_id=5&channel_id=6"), Some("6"));
        assert_eq!(x("&channel_id"), None);
        assert_eq!(x(""), None);
        // Multi-byte text around the match.
        assert_eq!(x("é&channel_id=ü&"), Some("ü"));
    }

    #[test]
    fn named_channels_ignore_case() {
        assert_eq!(named_channel_id("Apple"), Some("0"));
        assert_eq!(named_channel_id("GOOGLE"), Some("1"));
        assert_eq!(named_channel_id("Facebook"), Some("2"));
        assert_eq!(named_channel_id("baidu"), Some("3"));
        assert_eq!(named_channel_id("channel-12"), None);
        assert_eq!(named_channel_id("apples"), None);
        // U+212A KELVIN SIGN lower-cases to an ASCII `k`, in Java as in Rust.
        assert_eq!(named_channel_id("faceboo\u{212a}"), Some("2"));
    }
}
