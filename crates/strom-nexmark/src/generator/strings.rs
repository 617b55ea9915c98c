//! Random text: the reference's `StringsGenerator`.

use super::rng::Rng;
use crate::model::Text;

/// Shortest string `next_string` produces (before trimming).
const MIN_STRING_LENGTH: u64 = 3;

/// Random lower-case words of `3..max_len` characters in total, one character in 13 being
/// `sep` (a space, trimmed at both ends when `sep` is a space).
pub fn next_string(rng: &mut Rng, max_len: u64, sep: char) -> Text {
    let len = (MIN_STRING_LENGTH + rng.below(max_len - MIN_STRING_LENGTH)) as usize;
    let sep = if sep.is_ascii() { sep as u8 } else { b' ' };
    let mut buf = [0u8; 128];
    let len = len.min(buf.len());
    for b in &mut buf[..len] {
        *b = if rng.below(13) == 0 {
            sep
        } else {
            b'a' + rng.below(26) as u8
        };
    }
    let text = std::str::from_utf8(&buf[..len]).unwrap_or_default();
    Text::from(if sep == b' ' { text.trim() } else { text })
}

/// Exactly `len` random lower-case letters: each random byte `b` becomes letter
/// `b * 26 / 256` (eight letters per 64 random bits; the letters' frequencies differ by at
/// most one part in ten, which is immaterial for padding).
pub fn next_exact_string(rng: &mut Rng, len: usize) -> Text {
    let mut buf = [0u8; 512];
    if len > buf.len() {
        let mut s = Text::with_capacity(len);
        while s.len() < len {
            let chunk = next_exact_string(rng, (len - s.len()).min(buf.len()));
            s.push_str(&chunk);
        }
        return s;
    }
    for chunk in buf[..len.next_multiple_of(8)].chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    for b in &mut buf[..len] {
        *b = b'a' + ((u16::from(*b) * 26) >> 8) as u8;
    }
    // Only ASCII letters were written.
    Text::from(std::str::from_utf8(&buf[..len]).unwrap_or_default())
}

/// Padding such that `current_size + padding.len()` is `desired_average` on average
/// (uniform within ±20 %); empty when the event is already that big.
pub fn next_extra(rng: &mut Rng, current_size: usize, desired_average: usize) -> Text {
    if current_size > desired_average {
        return Text::default();
    }
    let avg = desired_average - current_size;
    let delta = (avg as f64 * 0.2).round() as usize;
    let min = avg - delta;
    let size = min
        + if delta == 0 {
            0
        } else {
            rng.below(2 * delta as u64) as usize
        };
    next_exact_string(rng, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_alphabets() {
        let mut rng = Rng::new(1, 2);
        for _ in 0..2000 {
            let s = next_string(&mut rng, 20, ' ');
            assert!(
                s.len() < 20 && !s.starts_with(' ') && !s.ends_with(' '),
                "{s:?}"
            );
            assert!(s.chars().all(|c| c == ' ' || c.is_ascii_lowercase()));
            let u = next_string(&mut rng, 5, '_');
            assert!((3..5).contains(&u.len()), "{u:?}");
            let e = next_exact_string(&mut rng, 30);
            assert_eq!(e.len(), 30);
            assert!(e.chars().all(|c| c.is_ascii_lowercase()));
            let x = next_extra(&mut rng, 32, 100);
            assert!((54..82).contains(&x.len()), "{}", x.len());
        }
        assert!(next_extra(&mut rng, 120, 100).is_empty());
    }
}
