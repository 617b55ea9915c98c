//! SQL timestamps in UTC, as Flink SQL prints and parses `TIMESTAMP(3)` values and as the
//! reference queries format them (`DATE_FORMAT(ts, 'yyyy-MM-dd')`, `HOUR(ts)`).
//!
//! Only the proleptic Gregorian calendar in UTC is needed, so the conversions are done here
//! with Howard Hinnant's civil-date algorithms rather than with a calendar crate.

use strom_core::Timestamp;

const MS_PER_DAY: i64 = 86_400_000;

/// `(year, month, day)` of a day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to `(year, month, day)`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The parts of a timestamp: date, then milliseconds into the day.
fn split(ts: Timestamp) -> ((i64, u32, u32), i64) {
    (
        civil_from_days(ts.div_euclid(MS_PER_DAY)),
        ts.rem_euclid(MS_PER_DAY),
    )
}

/// Append `yyyy-MM-dd HH:mm:ss.SSS` (Flink SQL's timestamp text) to `out`.
pub fn write_sql_timestamp(out: &mut String, ts: Timestamp) {
    use std::fmt::Write;
    let ((y, mo, d), ms) = split(ts);
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    );
}

/// `yyyy-MM-dd HH:mm:ss.SSS`.
pub fn format_sql_timestamp(ts: Timestamp) -> String {
    let mut s = String::with_capacity(23);
    write_sql_timestamp(&mut s, ts);
    s
}

/// `DATE_FORMAT(ts, 'yyyy-MM-dd')`.
pub fn format_day(ts: Timestamp) -> String {
    let ((y, mo, d), _) = split(ts);
    format!("{y:04}-{mo:02}-{d:02}")
}

/// `DATE_FORMAT(ts, 'HH:mm')`.
pub fn format_minute(ts: Timestamp) -> String {
    let ms = ts.rem_euclid(MS_PER_DAY);
    format!("{:02}:{:02}", ms / 3_600_000, ms / 60_000 % 60)
}

/// `HOUR(ts)`: 0 to 23.
pub fn hour_of_day(ts: Timestamp) -> u32 {
    (ts.rem_euclid(MS_PER_DAY) / 3_600_000) as u32
}

/// The first millisecond of `ts`'s day (UTC).
pub fn start_of_day(ts: Timestamp) -> Timestamp {
    ts - ts.rem_euclid(MS_PER_DAY)
}

/// Parse `yyyy-MM-dd HH:mm:ss[.f…]` or the ISO form with `T` (what Flink SQL writes and
/// reads); fractions beyond milliseconds are truncated. `None` if malformed.
pub fn parse_sql_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    if b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut ms = 0i64;
    if b.len() > 19 {
        if b[19] != b'.' || b.len() == 20 {
            return None;
        }
        let frac = &b[20..];
        if !frac.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for i in 0..3 {
            ms = ms * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0'));
        }
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(days * MS_PER_DAY + ((h * 60 + mi) * 60 + sec) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_known_instants() {
        // 2015-07-15 00:00:00 UTC, the reference's classic base time.
        assert_eq!(
            format_sql_timestamp(1_436_918_400_000),
            "2015-07-15 00:00:00.000"
        );
        assert_eq!(format_sql_timestamp(0), "1970-01-01 00:00:00.000");
        assert_eq!(
            format_sql_timestamp(951_782_400_123),
            "2000-02-29 00:00:00.123"
        );
        assert_eq!(
            parse_sql_timestamp("2015-07-15 13:45:07.089"),
            Some(1_436_918_400_000 + ((13 * 60 + 45) * 60 + 7) * 1000 + 89)
        );
        assert_eq!(
            parse_sql_timestamp("2015-07-15T00:00:00"),
            Some(1_436_918_400_000)
        );
        assert_eq!(
            parse_sql_timestamp("2015-07-15 00:00:00.5"),
            Some(1_436_918_400_500)
        );
        assert_eq!(parse_sql_timestamp("2015-13-15 00:00:00"), None);
        assert_eq!(parse_sql_timestamp("2015-07-15"), None);
        assert_eq!(format_day(1_436_918_400_000 + 86_399_999), "2015-07-15");
        assert_eq!(format_minute(1_436_918_400_000 + 3_723_000), "01:02");
        assert_eq!(hour_of_day(1_436_918_400_000 + 3_723_000), 1);
    }

    #[test]
    fn round_trips_every_few_hours_over_centuries() {
        let mut ts = -5_000_000_000_000i64;
        while ts < 5_000_000_000_000 {
            let s = format_sql_timestamp(ts);
            assert_eq!(parse_sql_timestamp(&s), Some(ts), "{s}");
            ts += 10_800_007;
        }
    }
}
