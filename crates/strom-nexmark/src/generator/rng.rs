//! The generator's random numbers: SplitMix64, seeded afresh for every event from the
//! job's seed and the event id, so that any event can be generated on its own (by any
//! subtask, after any restore) and always comes out the same.

/// A SplitMix64 stream (Steele, Lea and Flood): tiny state, fast, and good enough for
/// synthetic data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The stream for `(seed, stream)`: distinct `stream` values give unrelated sequences.
    #[inline]
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }

    /// 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` (Lemire's multiply-shift); `n` must be positive.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, n)` for a signed bound (the reference's `nextLong(n)`); 0 if `n <= 0`.
    #[inline]
    pub fn below_i64(&mut self, n: i64) -> i64 {
        if n <= 0 {
            0
        } else {
            self.below(n as u64) as i64
        }
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_bounds_hold() {
        let mut a = Rng::new(7, 42);
        let mut b = Rng::new(7, 42);
        let mut c = Rng::new(7, 43);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            let v = a.below(5);
            counts[v as usize] += 1;
            let f = a.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        // Each of 5 buckets gets 10 000 ± a few hundred.
        assert!(
            counts.iter().all(|&n| (9_500..10_500).contains(&n)),
            "{counts:?}"
        );
    }
}
