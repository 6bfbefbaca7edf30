//! A seeded random source, so a failing run can be repeated: every test prints its seed, and
//! `ZERODOWN_CRASH_SEED` sets it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable that fixes the seed of the fault-injection tests.
pub const SEED_VAR: &str = "ZERODOWN_CRASH_SEED";

/// SplitMix64: tiny, fast, good enough to pick fault points.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The seed from `ZERODOWN_CRASH_SEED`, else from the clock; printed with how to reuse it.
    pub fn from_env(test: &str) -> (Rng, u64) {
        let seed = match std::env::var(SEED_VAR) {
            Ok(s) => s
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{SEED_VAR}={s:?} is not a number")),
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7),
        };
        println!("{test}: seed {seed} (reproduce with {SEED_VAR}={seed})");
        (Rng(seed), seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// A duration uniform in `0..=max`.
    pub fn delay(&mut self, max: Duration) -> Duration {
        Duration::from_millis(self.between(0, max.as_millis() as u64))
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A child seed for one iteration.
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}
