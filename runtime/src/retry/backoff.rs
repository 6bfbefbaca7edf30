//! Pauses between attempts: exponential growth with decorrelated jitter, capped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A source of randomness for jitter, injectable so tests are deterministic.
pub trait Rng: Send {
    /// The next pseudo-random 64 bits.
    fn next_u64(&mut self) -> u64;

    /// A value uniformly distributed in `low..=high` (`low` when `high <= low`).
    fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        // Multiply-shift instead of `%`: no modulo bias, and monotonic in the random value (0 gives
        // `low`, `u64::MAX` gives `high`), which the tests rely on.
        let span = u128::from(high - low) + 1;
        low + ((u128::from(self.next_u64()) * span) >> 64) as u64
    }
}

/// SplitMix64: tiny, fast and good enough for jitter (not for anything secret).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator with a fixed seed (tests).
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// A generator seeded from the clock, the process id and a per-process counter, so runners
    /// started together (in one process or on several machines) do not retry in lockstep.
    pub fn from_entropy() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut mixer =
            SplitMix64::new(nanos ^ (u64::from(std::process::id()) << 32) ^ n.rotate_left(48));
        SplitMix64::new(mixer.next_u64())
    }
}

impl Rng for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Exponential backoff with "decorrelated jitter": each pause is drawn uniformly from
/// `base ..= 3 × previous pause`, then capped. The expected pause roughly doubles per attempt (like
/// plain exponential backoff) but runners that failed together spread out instead of retrying in
/// lockstep, and, unlike "full jitter", no pause is shorter than `base`, so a retry never re-queues
/// for the lock before the holder had a moment to finish.
///
/// See <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    previous: Duration,
}

impl Backoff {
    /// A backoff starting at `base` and never pausing longer than `cap` (`cap >= base`).
    pub fn new(base: Duration, cap: Duration) -> Self {
        let cap = cap.max(base);
        Backoff {
            base,
            cap,
            previous: base,
        }
    }

    /// The next pause.
    pub fn next_delay(&mut self, rng: &mut dyn Rng) -> Duration {
        let base = self.base.as_millis() as u64;
        let high = (self.previous.as_millis() as u64).saturating_mul(3);
        let ms = rng.between(base, high.max(base));
        let delay = Duration::from_millis(ms).min(self.cap);
        self.previous = delay;
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Always returns the same number, to pin the jitter to one end.
    struct Fixed(u64);
    impl Rng for Fixed {
        fn next_u64(&mut self) -> u64 {
            self.0
        }
    }

    #[test]
    fn lowest_jitter_stays_at_base() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut rng = Fixed(0);
        for _ in 0..5 {
            assert_eq!(b.next_delay(&mut rng), Duration::from_millis(100));
        }
    }

    #[test]
    fn highest_jitter_triples_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut rng = Fixed(u64::MAX);
        let got: Vec<u64> = (0..7)
            .map(|_| b.next_delay(&mut rng).as_millis() as u64)
            .collect();
        assert_eq!(got, [300, 900, 2700, 8100, 10_000, 10_000, 10_000]);
    }

    #[test]
    fn seeded_delays_are_reproducible_and_bounded() {
        let run = |seed| {
            let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
            let mut rng = SplitMix64::new(seed);
            (0..50).map(|_| b.next_delay(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        for d in run(7) {
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_secs(10),
                "{d:?}"
            );
        }
    }

    #[test]
    fn between_is_inclusive_and_handles_empty_ranges() {
        let mut rng = SplitMix64::new(1);
        assert_eq!(rng.between(5, 5), 5);
        assert_eq!(rng.between(9, 3), 9);
        for _ in 0..1000 {
            let v = rng.between(10, 12);
            assert!((10..=12).contains(&v));
        }
    }
}
