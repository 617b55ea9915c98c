//! Random text: the reference's `StringsGenerator`.

use super::rng::Rng;
use crate::model::Text;

/// Shortest string `next_string` produces (before trimming).
const MIN_STRING_LENGTH: u64 = 3;

/// Random lower-case words of `3..max_len` characters in total, one character in 13 being
/// `sep` (a space, trimmed at both ends when `sep` is a space).
pub fn next_string(rng: &mut Rng, max_len: u64, sep: char) -> Text {
    let len = MIN_STRING_LENGTH + rng.below(max_len - MIN_STRING_LENGTH);
    let mut s = Text::with_capacity(len as usize);
    for _ in 0..len {
        if rng.below(13) == 0 {
            s.push(sep);
        } else {
            s.push((b'a' + rng.below(26) as u8) as char);
        }
    }
    if sep == ' ' {
        let t = s.trim();
        if t.len() != s.len() {
            return Text::from(t);
        }
    }
    s
}

/// Exactly `len` random lower-case letters (13 letters from each 64 random bits).
pub fn next_exact_string(rng: &mut Rng, len: usize) -> Text {
    let mut buf = [0u8; 256];
    if len > buf.len() {
        let mut s = Text::with_capacity(len);
        while s.len() < len {
            let chunk = next_exact_string(rng, (len - s.len()).min(buf.len()));
            s.push_str(&chunk);
        }
        return s;
    }
    let mut i = 0;
    while i < len {
        let mut r = rng.next_u64();
        for b in &mut buf[i..(i + 13).min(len)] {
            *b = b'a' + (r % 26) as u8;
            r /= 26;
        }
        i += 13;
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
    let size = min + if delta == 0 { 0 } else { rng.below(2 * delta as u64) as usize };
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
            assert!(s.len() < 20 && !s.starts_with(' ') && !s.ends_with(' '), "{s:?}");
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
