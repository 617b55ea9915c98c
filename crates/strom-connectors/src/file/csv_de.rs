//! A serde deserializer over the fields of one CSV line, for [`CsvSource`](super::CsvSource).
//!
//! It follows the `csv` crate's data model (a record is a sequence of fields, or a map from
//! header names to fields; an empty field is `None` for options; unit enum variants by
//! name; `0x` hexadecimal integers; inferred types for `deserialize_any`) and its error texts
//! (those of the standard library's parsers), but works on field byte ranges of the line
//! directly, parses integers and simple decimals without going through `str`, and attributes
//! every error to the column it happened in, so that messages can name the field.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected, VariantAccess,
    Visitor,
};
use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

/// Why a line did not deserialize, and in which 0-based column (where known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    /// The column, `None` for record-level errors (e.g. too few columns for a struct).
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn at(column: usize, message: impl fmt::Display) -> Self {
        FieldError {
            column: Some(column),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "column {}: {}", c + 1, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FieldError {}

impl serde::de::Error for FieldError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        FieldError {
            column: None,
            message: msg.to_string(),
        }
    }
}

/// Attribute a visitor's error without a column to `column`.
#[inline]
fn in_column<T>(column: usize, result: Result<T, FieldError>) -> Result<T, FieldError> {
    result.map_err(|mut e| {
        e.column.get_or_insert(column);
        e
    })
}

/// The fields of one line: `data[start..end]` for each `(start, end)` in `bounds`.
pub(crate) struct Fields<'de> {
    data: &'de [u8],
    bounds: &'de [(usize, usize)],
    header: Option<&'de [String]>,
    next: usize,
}

impl<'de> Fields<'de> {
    /// The fields `bounds` of `data`, mapped to `header` names when there is a header.
    pub fn new(
        data: &'de [u8],
        bounds: &'de [(usize, usize)],
        header: Option<&'de [String]>,
    ) -> Self {
        Fields {
            data,
            bounds,
            header,
            next: 0,
        }
    }

    #[inline]
    fn peek(&self) -> Option<&'de [u8]> {
        self.bounds
            .get(self.next)
            .and_then(|&(s, e)| self.data.get(s..e))
    }

    #[inline]
    fn next_bytes(&mut self) -> Result<(usize, &'de [u8]), FieldError> {
        let column = self.next;
        match self.peek() {
            Some(bytes) => {
                self.next += 1;
                Ok((column, bytes))
            }
            None => {
                let n = self.bounds.len();
                Err(FieldError::at(
                    column,
                    format_args!(
                        "missing (the line has {n} column{})",
                        if n == 1 { "" } else { "s" }
                    ),
                ))
            }
        }
    }

    #[inline]
    fn next_str(&mut self) -> Result<(usize, &'de str), FieldError> {
        let (column, bytes) = self.next_bytes()?;
        std::str::from_utf8(bytes)
            .map(|s| (column, s))
            .map_err(|e| FieldError::at(column, e))
    }
}

/// Integer types the deserializer parses.
trait Int: Sized + FromStr<Err = ParseIntError> + TryFrom<u64> + TryFrom<i64> {
    fn from_hex(digits: &str) -> Result<Self, ParseIntError>;
}

macro_rules! impl_int {
    ($($t:ty)*) => {$(
        impl Int for $t {
            fn from_hex(digits: &str) -> Result<Self, ParseIntError> {
                <$t>::from_str_radix(digits, 16)
            }
        }
    )*};
}

impl_int!(i8 i16 i32 i64 i128 u8 u16 u32 u64 u128);

/// An optionally signed run of at most 19 decimal digits: (negative, magnitude).
#[inline]
fn simple_integer(bytes: &[u8]) -> Option<(bool, u64)> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    let mut rest = digits;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        n = n * 100_000_000 + eight_digits(*chunk)?;
        rest = tail;
    }
    for &b in rest {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some((negative, n))
}

/// The value of eight ASCII decimal digits, `None` if one is not a digit (SWAR: all eight
/// at once in a `u64`, as in simdjson and fast_float).
#[inline]
fn eight_digits(chunk: [u8; 8]) -> Option<u64> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let v = u64::from_le_bytes(chunk);
    // Each byte must be 0x30..=0x39: high nibble 3, and adding 6 must keep it 3.
    let high = v & HIGH_NIBBLES;
    let high_plus_6 = v.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES;
    if (high | (high_plus_6 >> 4)) != 0x3333_3333_3333_3333 {
        return None;
    }
    let mut v = v.wrapping_sub(0x3030_3030_3030_3030);
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let low = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let high = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    Some(low.wrapping_add(high) >> 32)
}

/// Parse an integer field: a fast path for plain decimals, else the standard library's
/// parser (and its error text), with `0x` for hexadecimal as in the `csv` crate.
#[inline]
fn parse_int<T: Int>(bytes: &[u8]) -> Result<T, String> {
    match simple_integer(bytes) {
        Some((false, n)) => {
            if let Ok(v) = T::try_from(n) {
                return Ok(v);
            }
        }
        // "-0" is left to the standard parser: unsigned types reject it.
        Some((true, n)) if n > 0 => {
            let negated = if n == 1 << 63 {
                Some(i64::MIN)
            } else {
                i64::try_from(n).ok().map(|n| -n)
            };
            if let Some(v) = negated.and_then(|v| T::try_from(v).ok()) {
                return Ok(v);
            }
        }
        _ => {}
    }
    let s = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    match s.strip_prefix("0x") {
        Some(digits) => T::from_hex(digits),
        None => s.parse(),
    }
    .map_err(|e| e.to_string())
}

/// Exact powers of ten representable in an `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `[sign] digits [. digits]` with at most 15 digits in all: the mantissa and the power of
/// ten are exact in an `f64`, so one division gives the correctly rounded value (Clinger's
/// fast path), the same value the standard library's parser returns.
#[inline]
fn simple_decimal(bytes: &[u8]) -> Option<f64> {
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if rest.is_empty() || rest.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut fraction_digits: Option<usize> = None;
    for &b in rest {
        if b == b'.' {
            if fraction_digits.is_some() {
                return None;
            }
            fraction_digits = Some(0);
            continue;
        }
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(d);
        digits += 1;
        if let Some(f) = fraction_digits.as_mut() {
            *f += 1;
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    let value = mantissa as f64 / POW10[fraction_digits.unwrap_or(0)];
    Some(if negative { -value } else { value })
}

#[inline]
fn parse_f64(bytes: &[u8]) -> Result<f64, String> {
    if let Some(v) = simple_decimal(bytes) {
        return Ok(v);
    }
    let s = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    s.parse()
        .map_err(|e: std::num::ParseFloatError| e.to_string())
}

macro_rules! deserialize_int {
    ($method:ident, $visit:ident, $t:ty) => {
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
            let (column, bytes) = self.next_bytes()?;
            let n = parse_int::<$t>(bytes).map_err(|m| FieldError::at(column, m))?;
            in_column(column, visitor.$visit(n))
        }
    };
}

impl<'de> Deserializer<'de> for &mut Fields<'de> {
    type Error = FieldError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, bytes) = self.next_bytes()?;
        let result = match bytes {
            b"true" => visitor.visit_bool(true),
            b"false" => visitor.visit_bool(false),
            _ => {
                let s = std::str::from_utf8(bytes).map_err(|e| FieldError::at(column, e))?;
                if let Ok(n) = s.parse::<u64>() {
                    visitor.visit_u64(n)
                } else if let Ok(n) = s.parse::<i64>() {
                    visitor.visit_i64(n)
                } else if let Ok(n) = s.parse::<u128>() {
                    visitor.visit_u128(n)
                } else if let Ok(n) = s.parse::<i128>() {
                    visitor.visit_i128(n)
                } else if let Ok(n) = s.parse::<f64>() {
                    visitor.visit_f64(n)
                } else {
                    visitor.visit_borrowed_str(s)
                }
            }
        };
        in_column(column, result)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, s) = self.next_str()?;
        let b: bool = s.parse().map_err(|e| FieldError::at(column, e))?;
        in_column(column, visitor.visit_bool(b))
    }

    deserialize_int!(deserialize_i8, visit_i8, i8);
    deserialize_int!(deserialize_i16, visit_i16, i16);
    deserialize_int!(deserialize_i32, visit_i32, i32);
    deserialize_int!(deserialize_i64, visit_i64, i64);
    deserialize_int!(deserialize_i128, visit_i128, i128);
    deserialize_int!(deserialize_u8, visit_u8, u8);
    deserialize_int!(deserialize_u16, visit_u16, u16);
    deserialize_int!(deserialize_u32, visit_u32, u32);
    deserialize_int!(deserialize_u64, visit_u64, u64);
    deserialize_int!(deserialize_u128, visit_u128, u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, s) = self.next_str()?;
        let n: f32 = s.parse().map_err(|e| FieldError::at(column, e))?;
        in_column(column, visitor.visit_f32(n))
    }

    #[inline]
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, bytes) = self.next_bytes()?;
        let n = parse_f64(bytes).map_err(|m| FieldError::at(column, m))?;
        in_column(column, visitor.visit_f64(n))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, s) = self.next_str()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => in_column(column, visitor.visit_char(c)),
            _ => Err(FieldError::at(
                column,
                format_args!(
                    "expected single character but got {} characters in '{s}'",
                    s.chars().count()
                ),
            )),
        }
    }

    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, s) = self.next_str()?;
        in_column(column, visitor.visit_borrowed_str(s))
    }

    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, s) = self.next_str()?;
        in_column(column, visitor.visit_str(s))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, bytes) = self.next_bytes()?;
        in_column(column, visitor.visit_borrowed_bytes(bytes))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        let (column, bytes) = self.next_bytes()?;
        in_column(column, visitor.visit_byte_buf(bytes.to_vec()))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.peek() {
            None => visitor.visit_none(),
            Some([]) => {
                self.next += 1;
                visitor.visit_none()
            }
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        visitor.visit_seq(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_seq(self)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_seq(self)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        if self.header.is_some() {
            visitor.visit_map(self)
        } else {
            visitor.visit_seq(self)
        }
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        if self.header.is_some() {
            visitor.visit_map(self)
        } else {
            visitor.visit_seq(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        let column = self.next;
        in_column(column, visitor.visit_enum(self))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        self.next_bytes()?;
        visitor.visit_unit()
    }
}

impl<'de> SeqAccess<'de> for &mut Fields<'de> {
    type Error = FieldError;

    #[inline]
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, FieldError> {
        if self.next >= self.bounds.len() {
            return Ok(None);
        }
        seed.deserialize(&mut **self).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.bounds.len().saturating_sub(self.next))
    }
}

impl<'de> MapAccess<'de> for &mut Fields<'de> {
    type Error = FieldError;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldError> {
        let Some(name) = self.header.and_then(|h| h.get(self.next)) else {
            return Ok(None);
        };
        let column = self.next;
        in_column(column, seed.deserialize(BorrowedStrDeserializer::new(name))).map(Some)
    }

    #[inline]
    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, FieldError> {
        seed.deserialize(&mut **self)
    }

    fn size_hint(&self) -> Option<usize> {
        self.header.map(|h| h.len().saturating_sub(self.next))
    }
}

impl<'de> EnumAccess<'de> for &mut Fields<'de> {
    type Error = FieldError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self), FieldError> {
        let (column, name) = self.next_str()?;
        let value = in_column(column, seed.deserialize(BorrowedStrDeserializer::new(name)))?;
        Ok((value, self))
    }
}

impl<'de> VariantAccess<'de> for &mut Fields<'de> {
    type Error = FieldError;

    fn unit_variant(self) -> Result<(), FieldError> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        _seed: S,
    ) -> Result<S::Value, FieldError> {
        Err(serde::de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, FieldError> {
        Err(serde::de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, FieldError> {
        Err(serde::de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_decimals_match_the_standard_parser() {
        let samples = [
            "0",
            "-0",
            "+0",
            "1",
            "16.40",
            "-3.5",
            "0.1",
            "0.3",
            "123456789012345",
            "1234567.89012345",
            "9.999999999999999",
            ".5",
            "5.",
            "-.25",
            "21.125",
            "0.000000000000001",
            "99999999999999.9",
        ];
        for s in samples {
            let std: f64 = s.parse().unwrap_or(f64::NAN);
            let fast = parse_f64(s.as_bytes()).unwrap_or(f64::NAN);
            assert_eq!(fast.to_bits(), std.to_bits(), "{s}");
        }
        // Systematic: every value with up to 4 fraction digits in a range.
        for i in -20_000i64..20_000 {
            for scale in [10.0, 100.0, 1000.0, 10000.0] {
                let s = format!("{}", i as f64 / scale);
                let std: f64 = s.parse().unwrap_or(f64::NAN);
                assert_eq!(
                    parse_f64(s.as_bytes()).map(f64::to_bits),
                    Ok(std.to_bits()),
                    "{s}"
                );
            }
        }
        for bad in ["", "-", ".", "1.2.3", "1e5x", "abc", "1,5", " 1"] {
            let std = bad.parse::<f64>().map_err(|e| e.to_string());
            assert_eq!(parse_f64(bad.as_bytes()), std, "{bad:?}");
        }
        assert_eq!(parse_f64(b"1e2"), Ok(100.0));
        assert_eq!(parse_f64(b"-inf"), Ok(f64::NEG_INFINITY));
    }

    #[test]
    fn integers_match_the_standard_parser() {
        fn check<T: Int + PartialEq + fmt::Debug>(s: &str) {
            let std = s.parse::<T>().map_err(|e| e.to_string());
            assert_eq!(parse_int::<T>(s.as_bytes()), std, "{s}");
        }
        let samples = [
            "0",
            "-0",
            "+0",
            "+7",
            "-1",
            "127",
            "128",
            "-128",
            "-129",
            "255",
            "256",
            "65535",
            "2147483647",
            "-2147483648",
            "4294967295",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "",
            "-",
            "+",
            "1a",
            " 1",
            "1 ",
            "--1",
            "0001",
        ];
        for s in samples {
            check::<i8>(s);
            check::<u8>(s);
            check::<i32>(s);
            check::<u32>(s);
            check::<i64>(s);
            check::<u64>(s);
            check::<i128>(s);
            check::<u128>(s);
        }
        assert_eq!(parse_int::<u16>(b"0xff"), Ok(255));
        // Every digit position of long numbers, with a non-digit in each position.
        for len in 1..=20 {
            let digits: String = (0..len).map(|i| char::from(b'1' + (i % 9) as u8)).collect();
            check::<u64>(&digits);
            check::<i64>(&format!("-{digits}"));
            for bad_at in 0..len {
                for bad in [b'/', b':', b'a', b' ', 0x80, b'.'] {
                    let mut b = digits.clone().into_bytes();
                    b[bad_at] = bad;
                    let s = String::from_utf8_lossy(&b).into_owned();
                    check::<u64>(&s);
                    check::<i64>(&s);
                }
            }
        }
    }
}
