//! Nexmark events as JSON lines, in the schema of the reference's SQL table (`event_type`
//! 0/1/2 and one nested `person`, `auction` or `bid` object, camel-case fields, timestamps
//! as `yyyy-MM-dd HH:mm:ss.SSS` in UTC). Flink SQL reads these files with
//! `'format' = 'json'` (see `benchmarks/nexmark/sql/ddl.sql`), so both engines can process
//! the very same events.

use crate::model::{Auction, Bid, Event, Person, Text};
use crate::time::{parse_sql_timestamp, write_sql_timestamp};
use serde::Deserialize;
use std::borrow::Cow;
use std::path::Path;
use strom_connectors::file::reader::LineParser;
use strom_core::{BoxError, Timestamp};

/// Append `event` as one JSON line (with its newline) to `out`.
pub fn write_event(out: &mut String, event: &Event) {
    match event {
        Event::Person(p) => {
            out.push_str("{\"event_type\":0,\"person\":{\"id\":");
            push_int(out, p.id);
            push_str_field(out, "name", &p.name);
            push_str_field(out, "emailAddress", &p.email_address);
            push_str_field(out, "creditCard", &p.credit_card);
            push_str_field(out, "city", &p.city);
            push_str_field(out, "state", &p.state);
            push_time_field(out, "dateTime", p.date_time);
            push_str_field(out, "extra", &p.extra);
            out.push_str("}}\n");
        }
        Event::Auction(a) => {
            out.push_str("{\"event_type\":1,\"auction\":{\"id\":");
            push_int(out, a.id);
            push_str_field(out, "itemName", &a.item_name);
            push_str_field(out, "description", &a.description);
            push_int_field(out, "initialBid", a.initial_bid);
            push_int_field(out, "reserve", a.reserve);
            push_time_field(out, "dateTime", a.date_time);
            push_time_field(out, "expires", a.expires);
            push_int_field(out, "seller", a.seller);
            push_int_field(out, "category", a.category);
            push_str_field(out, "extra", &a.extra);
            out.push_str("}}\n");
        }
        Event::Bid(b) => {
            out.push_str("{\"event_type\":2,\"bid\":{\"auction\":");
            push_int(out, b.auction);
            push_int_field(out, "bidder", b.bidder);
            push_int_field(out, "price", b.price);
            push_str_field(out, "channel", &b.channel);
            push_str_field(out, "url", &b.url);
            push_time_field(out, "dateTime", b.date_time);
            push_str_field(out, "extra", &b.extra);
            out.push_str("}}\n");
        }
    }
}

fn push_int(out: &mut String, v: i64) {
    use std::fmt::Write;
    let _ = write!(out, "{v}");
}

fn push_int_field(out: &mut String, name: &str, v: i64) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    push_int(out, v);
}

fn push_time_field(out: &mut String, name: &str, ts: Timestamp) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":\"");
    write_sql_timestamp(out, ts);
    out.push('"');
}

fn push_str_field(out: &mut String, name: &str, v: &str) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":\"");
    if !v.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(v);
        out.push('"');
        return;
    }
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One line as read: borrowed text where the JSON has no escapes.
#[derive(Deserialize)]
struct Line<'a> {
    event_type: u8,
    #[serde(borrow)]
    person: Option<PersonIn<'a>>,
    #[serde(borrow)]
    auction: Option<AuctionIn<'a>>,
    #[serde(borrow)]
    bid: Option<BidIn<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonIn<'a> {
    id: i64,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    email_address: Cow<'a, str>,
    #[serde(borrow)]
    credit_card: Cow<'a, str>,
    #[serde(borrow)]
    city: Cow<'a, str>,
    #[serde(borrow)]
    state: Cow<'a, str>,
    #[serde(borrow)]
    date_time: Cow<'a, str>,
    #[serde(borrow)]
    extra: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuctionIn<'a> {
    id: i64,
    #[serde(borrow)]
    item_name: Cow<'a, str>,
    #[serde(borrow)]
    description: Cow<'a, str>,
    initial_bid: i64,
    reserve: i64,
    #[serde(borrow)]
    date_time: Cow<'a, str>,
    #[serde(borrow)]
    expires: Cow<'a, str>,
    seller: i64,
    category: i64,
    #[serde(borrow)]
    extra: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BidIn<'a> {
    auction: i64,
    bidder: i64,
    price: i64,
    #[serde(borrow)]
    channel: Cow<'a, str>,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(borrow)]
    date_time: Cow<'a, str>,
    #[serde(borrow)]
    extra: Cow<'a, str>,
}

fn time(field: &str, s: &str) -> Result<Timestamp, String> {
    parse_sql_timestamp(s).ok_or_else(|| {
        format!("field '{field}': '{s}' is not a timestamp (yyyy-MM-dd HH:mm:ss.SSS)")
    })
}

fn text(s: Cow<'_, str>) -> Text {
    Text::from(s.as_ref())
}

/// Parse one JSON line into an event; the error names the field at fault.
///
/// Lines in exactly the layout [`write_event`] produces (fields in its order, no
/// whitespace, no escapes) take a direct path that reads them in place; anything else —
/// other field orders, whitespace, escapes, errors — goes through `serde_json`.
pub fn parse_event(line: &[u8]) -> Result<Event, String> {
    if let Some(event) = fast::parse(line) {
        return Ok(event);
    }
    let l: Line<'_> = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    match (l.event_type, l.person, l.auction, l.bid) {
        (0, Some(p), _, _) => Ok(Event::Person(Person {
            id: p.id,
            name: text(p.name),
            email_address: text(p.email_address),
            credit_card: text(p.credit_card),
            city: text(p.city),
            state: text(p.state),
            date_time: time("person.dateTime", &p.date_time)?,
            extra: text(p.extra),
        })),
        (1, _, Some(a), _) => Ok(Event::Auction(Auction {
            id: a.id,
            item_name: text(a.item_name),
            description: text(a.description),
            initial_bid: a.initial_bid,
            reserve: a.reserve,
            date_time: time("auction.dateTime", &a.date_time)?,
            expires: time("auction.expires", &a.expires)?,
            seller: a.seller,
            category: a.category,
            extra: text(a.extra),
        })),
        (2, _, _, Some(b)) => Ok(Event::Bid(Bid {
            auction: b.auction,
            bidder: b.bidder,
            price: b.price,
            channel: text(b.channel),
            url: text(b.url),
            date_time: time("bid.dateTime", &b.date_time)?,
            extra: text(b.extra),
        })),
        (t @ 0..=2, ..) => Err(format!(
            "field 'event_type': {t} needs the object '{}'",
            ["person", "auction", "bid"][usize::from(t)]
        )),
        (t, ..) => Err(format!(
            "field 'event_type': {t} is not 0 (person), 1 (auction) or 2 (bid)"
        )),
    }
}

/// The direct reader of lines laid out as [`write_event`] writes them.
mod fast {
    use super::{Auction, Bid, Event, Person, Text};
    use crate::time::parse_sql_timestamp;

    struct Cursor<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl<'a> Cursor<'a> {
        #[inline]
        fn lit(&mut self, s: &[u8]) -> Option<()> {
            if self.b.get(self.i..self.i + s.len())? == s {
                self.i += s.len();
                Some(())
            } else {
                None
            }
        }

        #[inline]
        fn int(&mut self) -> Option<i64> {
            let neg = self.b.get(self.i) == Some(&b'-');
            if neg {
                self.i += 1;
            }
            let start = self.i;
            let mut v: i64 = 0;
            while let Some(&c) = self.b.get(self.i) {
                if !c.is_ascii_digit() {
                    break;
                }
                v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
                self.i += 1;
            }
            if self.i == start {
                return None;
            }
            Some(if neg { -v } else { v })
        }

        /// The text up to the next quote (the opening one already read), without escapes.
        #[inline]
        fn text(&mut self) -> Option<&'a str> {
            let rest = self.b.get(self.i..)?;
            let end = memchr::memchr2(b'"', b'\\', rest)?;
            if rest[end] != b'"' {
                return None;
            }
            let bytes = &rest[..end];
            // A branch-free minimum (vectorised) rules out control characters.
            if bytes.iter().fold(0xff, |m: u8, &c| m.min(c)) < 0x20 {
                return None;
            }
            let s = std::str::from_utf8(bytes).ok()?;
            self.i += end + 1;
            Some(s)
        }

        #[inline]
        fn time(&mut self) -> Option<i64> {
            parse_sql_timestamp(self.text()?)
        }

        fn end(&self) -> Option<()> {
            self.b[self.i..]
                .iter()
                .all(u8::is_ascii_whitespace)
                .then_some(())
        }
    }

    pub(super) fn parse(line: &[u8]) -> Option<Event> {
        let mut c = Cursor { b: line, i: 0 };
        c.lit(b"{\"event_type\":")?;
        let event = if c.lit(b"2,\"bid\":{\"auction\":").is_some() {
            let auction = c.int()?;
            c.lit(b",\"bidder\":")?;
            let bidder = c.int()?;
            c.lit(b",\"price\":")?;
            let price = c.int()?;
            c.lit(b",\"channel\":\"")?;
            let channel = Text::from(c.text()?);
            c.lit(b",\"url\":\"")?;
            let url = Text::from(c.text()?);
            c.lit(b",\"dateTime\":\"")?;
            let date_time = c.time()?;
            c.lit(b",\"extra\":\"")?;
            let extra = Text::from(c.text()?);
            Event::Bid(Bid {
                auction,
                bidder,
                price,
                channel,
                url,
                date_time,
                extra,
            })
        } else if c.lit(b"1,\"auction\":{\"id\":").is_some() {
            let id = c.int()?;
            c.lit(b",\"itemName\":\"")?;
            let item_name = Text::from(c.text()?);
            c.lit(b",\"description\":\"")?;
            let description = Text::from(c.text()?);
            c.lit(b",\"initialBid\":")?;
            let initial_bid = c.int()?;
            c.lit(b",\"reserve\":")?;
            let reserve = c.int()?;
            c.lit(b",\"dateTime\":\"")?;
            let date_time = c.time()?;
            c.lit(b",\"expires\":\"")?;
            let expires = c.time()?;
            c.lit(b",\"seller\":")?;
            let seller = c.int()?;
            c.lit(b",\"category\":")?;
            let category = c.int()?;
            c.lit(b",\"extra\":\"")?;
            let extra = Text::from(c.text()?);
            Event::Auction(Auction {
                id,
                item_name,
                description,
                initial_bid,
                reserve,
                date_time,
                expires,
                seller,
                category,
                extra,
            })
        } else {
            c.lit(b"0,\"person\":{\"id\":")?;
            let id = c.int()?;
            c.lit(b",\"name\":\"")?;
            let name = Text::from(c.text()?);
            c.lit(b",\"emailAddress\":\"")?;
            let email_address = Text::from(c.text()?);
            c.lit(b",\"creditCard\":\"")?;
            let credit_card = Text::from(c.text()?);
            c.lit(b",\"city\":\"")?;
            let city = Text::from(c.text()?);
            c.lit(b",\"state\":\"")?;
            let state = Text::from(c.text()?);
            c.lit(b",\"dateTime\":\"")?;
            let date_time = c.time()?;
            c.lit(b",\"extra\":\"")?;
            let extra = Text::from(c.text()?);
            Event::Person(Person {
                id,
                name,
                email_address,
                credit_card,
                city,
                state,
                date_time,
                extra,
            })
        };
        c.lit(b"}}")?;
        c.end()?;
        Some(event)
    }
}

/// The [`LineParser`] of Nexmark JSON-lines files, for
/// [`LineFileSource`](strom_connectors::file::LineFileSource).
#[derive(Clone, Copy, Debug, Default)]
pub struct EventLineParser;

impl LineParser<Event> for EventLineParser {
    fn start_file(&mut self, _path: &Path) -> Result<(), BoxError> {
        Ok(())
    }

    #[inline]
    fn parse_line(&mut self, line: &[u8], _line_no: u64) -> Result<Option<Event>, String> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        parse_event(line).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{NexmarkConfig, NexmarkGenerator};

    #[test]
    fn every_event_round_trips() {
        let g = NexmarkGenerator::new(NexmarkConfig::new(3, 500)).expect("valid");
        let mut buf = String::new();
        for e in g.events() {
            buf.clear();
            write_event(&mut buf, &e);
            assert!(buf.ends_with('\n'));
            let back = parse_event(buf.trim_end().as_bytes()).expect("parses");
            assert_eq!(back, e);
            // It is valid JSON for any reader.
            let v: serde_json::Value = serde_json::from_str(&buf).expect("json");
            assert_eq!(v["event_type"], u64::from(e.event_type()));
        }
    }

    #[test]
    fn the_direct_path_reads_what_serde_reads_and_declines_other_layouts() {
        let g = NexmarkGenerator::new(NexmarkConfig::new(9, 300)).expect("valid");
        let mut buf = String::new();
        for e in g.events() {
            buf.clear();
            write_event(&mut buf, &e);
            assert_eq!(fast::parse(buf.as_bytes()).as_ref(), Some(&e));
            // The same event with its fields reordered and spaced out: serde's path.
            let v: serde_json::Value = serde_json::from_str(&buf).expect("json");
            let pretty = serde_json::to_string_pretty(&v).expect("json");
            assert_eq!(fast::parse(pretty.as_bytes()), None);
            assert_eq!(parse_event(pretty.as_bytes()), Ok(e));
        }
        // Escapes, numbers out of range and trailing garbage are left to serde.
        let line = br#"{"event_type":2,"bid":{"auction":1,"bidder":2,"price":3,"channel":"a\"b","url":"u","dateTime":"2015-07-15 00:00:00.000","extra":""}}"#;
        assert_eq!(fast::parse(line), None);
        assert!(parse_event(line).is_ok());
        let line = br#"{"event_type":2,"bid":{"auction":99999999999999999999,"bidder":2,"price":3,"channel":"c","url":"u","dateTime":"2015-07-15 00:00:00.000","extra":""}}"#;
        assert_eq!(fast::parse(line), None);
        assert!(parse_event(line).is_err());
        let line = br#"{"event_type":2,"bid":{"auction":1,"bidder":2,"price":3,"channel":"c","url":"u","dateTime":"2015-07-15 00:00:00.000","extra":""}} x"#;
        assert!(parse_event(line).is_err());
    }

    #[test]
    fn escapes_and_errors() {
        let mut e = NexmarkGenerator::new(NexmarkConfig::new(3, 1))
            .expect("valid")
            .event(0);
        if let Event::Person(p) = &mut e {
            p.name = Text::from("a \"quoted\" \\ name\n");
        }
        let mut buf = String::new();
        write_event(&mut buf, &e);
        assert_eq!(parse_event(buf.trim_end().as_bytes()), Ok(e));
        let err = parse_event(br#"{"event_type":2,"person":null}"#).expect_err("no bid");
        assert!(err.contains("'bid'"), "{err}");
        let err = parse_event(br#"{"event_type":7}"#).expect_err("bad type");
        assert!(err.contains("event_type"), "{err}");
        let line = br#"{"event_type":2,"bid":{"auction":1,"bidder":2,"price":3,"channel":"c","url":"u","dateTime":"yesterday","extra":""}}"#;
        let err = parse_event(line).expect_err("bad time");
        assert!(err.contains("bid.dateTime"), "{err}");
    }
}
