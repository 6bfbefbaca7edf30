//! Retrying a step: the mechanism ([`Retrier`]), the policy ([`policy::classify`]) and the pauses
//! ([`backoff::Backoff`]).
//!
//! Defaults (per step): at most [`Settings::retry_attempts`](crate::plan::Settings::retry_attempts)
//! attempts (10) and [`Settings::retry_budget_ms`](crate::plan::Settings::retry_budget_ms) of total
//! time (5 min, counted from the start of the first attempt, pauses included); pauses start at
//! [`RetryConfig::DEFAULT_BASE`] (100 ms), grow about ×2 per attempt with decorrelated jitter and are
//! capped at [`RetryConfig::DEFAULT_CAP`] (10 s). A retry that would end after the budget is not
//! started.
//!
//! Time is read from `tokio::time::Instant` and pauses use `tokio::time::sleep`, so tests drive the
//! loop with `tokio::time::pause()` instead of waiting; randomness comes from an injectable
//! [`backoff::Rng`].

pub mod backoff;
pub mod policy;

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::plan::Settings;
use backoff::{Backoff, Rng};
use policy::{Class, Transient};

/// Limits of the retry loop for one step. Build it with [`RetryConfig::new`], which validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    max_attempts: u32,
    budget: Duration,
    base: Duration,
    cap: Duration,
}

/// A [`RetryConfig`] that cannot work, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRetryConfig(pub &'static str);

impl fmt::Display for InvalidRetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid retry configuration: {}", self.0)
    }
}

impl std::error::Error for InvalidRetryConfig {}

impl RetryConfig {
    /// The first pause: long enough for a short transaction holding the lock to finish.
    pub const DEFAULT_BASE: Duration = Duration::from_millis(100);
    /// The longest pause.
    pub const DEFAULT_CAP: Duration = Duration::from_secs(10);

    /// At most `max_attempts` attempts (the first included) within `budget`, with the default pauses.
    pub fn new(max_attempts: u32, budget: Duration) -> Result<Self, InvalidRetryConfig> {
        if max_attempts == 0 {
            return Err(InvalidRetryConfig(
                "`retry_attempts` must be at least 1 (the first attempt counts)",
            ));
        }
        if budget.is_zero() {
            return Err(InvalidRetryConfig("`retry_budget` must be positive"));
        }
        Ok(RetryConfig {
            max_attempts,
            budget,
            base: Self::DEFAULT_BASE,
            cap: Self::DEFAULT_CAP,
        })
    }

    /// The limits of a migration's [`Settings`].
    pub fn from_settings(settings: &Settings) -> Result<Self, InvalidRetryConfig> {
        RetryConfig::new(
            settings.retry_attempts,
            Duration::from_millis(settings.retry_budget_ms),
        )
    }

    /// Replaces the pause bounds.
    pub fn with_backoff(
        mut self,
        base: Duration,
        cap: Duration,
    ) -> Result<Self, InvalidRetryConfig> {
        if base.is_zero() {
            return Err(InvalidRetryConfig("the first pause must be positive"));
        }
        if cap < base {
            return Err(InvalidRetryConfig(
                "the pause cap must not be shorter than the first pause",
            ));
        }
        self.base = base;
        self.cap = cap;
        Ok(self)
    }

    /// Attempts allowed, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Total time allowed.
    pub fn budget(&self) -> Duration {
        self.budget
    }
}

/// Why the loop stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// The error is not transient.
    Permanent,
    /// Every allowed attempt failed with a transient error.
    Attempts,
    /// The next attempt would start after the time budget.
    Budget,
}

impl GiveUp {
    /// Words for error messages (`after 10 attempts, the most allowed`).
    pub(crate) fn describe(self) -> &'static str {
        match self {
            GiveUp::Permanent => "the error is permanent",
            GiveUp::Attempts => "no attempts left (`retry_attempts`)",
            GiveUp::Budget => "the retry time budget is spent (`retry_budget`)",
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Pause for `delay`, then try again.
    Retry {
        /// The pause.
        delay: Duration,
        /// The failure being retried.
        reason: Transient,
    },
    /// Stop and report the failure.
    Stop(GiveUp),
}

/// The retry loop's state for one step: counts attempts, draws pauses and enforces the limits.
///
/// The caller owns the loop, so attempts can borrow connections freely:
///
/// ```
/// use std::time::Duration;
/// use zerodown_runtime::retry::backoff::SplitMix64;
/// use zerodown_runtime::retry::policy::classify;
/// use zerodown_runtime::retry::{Decision, Retrier, RetryConfig};
///
/// # async fn run_attempt(_attempt: u32) -> Result<(), &'static str> { Err("55P03") }
/// async fn with_retries() -> Result<(), String> {
///     let mut rng = SplitMix64::from_entropy();
///     let config = RetryConfig::new(10, Duration::from_secs(60)).unwrap();
///     let mut retrier = Retrier::new(config, &mut rng);
///     loop {
///         let attempt = retrier.start_attempt();
///         match run_attempt(attempt).await {
///             Ok(()) => return Ok(()),
///             Err(sqlstate) => match retrier.after_failure(classify(Some(sqlstate))) {
///                 Decision::Retry { delay, .. } => tokio::time::sleep(delay).await,
///                 Decision::Stop(why) => return Err(format!("{sqlstate} after {attempt} attempts: {why:?}")),
///             },
///         }
///     }
/// }
/// ```
pub struct Retrier<'r> {
    config: RetryConfig,
    backoff: Backoff,
    rng: &'r mut dyn Rng,
    started: Option<Instant>,
    attempts: u32,
}

impl fmt::Debug for Retrier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retrier")
            .field("config", &self.config)
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl<'r> Retrier<'r> {
    /// A loop that has not started.
    pub fn new(config: RetryConfig, rng: &'r mut dyn Rng) -> Self {
        Retrier {
            backoff: Backoff::new(config.base, config.cap),
            config,
            rng,
            started: None,
            attempts: 0,
        }
    }

    /// Counts a new attempt and returns its number (1 for the first).
    pub fn start_attempt(&mut self) -> u32 {
        self.started.get_or_insert_with(Instant::now);
        self.attempts += 1;
        self.attempts
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time since the first attempt started.
    pub fn elapsed(&self) -> Duration {
        self.started.map(|s| s.elapsed()).unwrap_or_default()
    }

    /// Decides what follows a failed attempt.
    pub fn after_failure(&mut self, class: Class) -> Decision {
        let reason = match class {
            Class::Permanent => return Decision::Stop(GiveUp::Permanent),
            Class::Transient(t) => t,
        };
        if self.attempts >= self.config.max_attempts {
            return Decision::Stop(GiveUp::Attempts);
        }
        let delay = self.backoff.next_delay(self.rng);
        if self.elapsed() + delay >= self.config.budget {
            return Decision::Stop(GiveUp::Budget);
        }
        Decision::Retry { delay, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff::SplitMix64;
    use super::*;

    /// A fake operation: fails with the given classes in order, then succeeds; each attempt takes
    /// `work` of (virtual) time.
    async fn drive(
        config: RetryConfig,
        outcomes: &[Class],
        work: Duration,
    ) -> (Result<u32, GiveUp>, Vec<Duration>) {
        let mut rng = SplitMix64::new(42);
        let mut retrier = Retrier::new(config, &mut rng);
        let mut delays = Vec::new();
        loop {
            let n = retrier.start_attempt();
            tokio::time::sleep(work).await;
            let Some(&class) = outcomes.get(n as usize - 1) else {
                return (Ok(n), delays);
            };
            match retrier.after_failure(class) {
                Decision::Retry { delay, .. } => {
                    delays.push(delay);
                    tokio::time::sleep(delay).await;
                }
                Decision::Stop(why) => return (Err(why), delays),
            }
        }
    }

    const LOCK: Class = Class::Transient(Transient::LockTimeout);

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let config = RetryConfig::new(10, Duration::from_secs(60)).unwrap();
        let start = Instant::now();
        let (res, delays) = drive(
            config,
            &[LOCK, LOCK, Class::Transient(Transient::Deadlock)],
            Duration::from_millis(250),
        )
        .await;
        assert_eq!(res, Ok(4));
        assert_eq!(delays.len(), 3);
        assert!(delays
            .iter()
            .all(|d| *d >= RetryConfig::DEFAULT_BASE && *d <= RetryConfig::DEFAULT_CAP));
        // Virtual time: four attempts of 250 ms plus the pauses, exactly.
        let want = Duration::from_millis(1000) + delays.iter().sum::<Duration>();
        assert_eq!(start.elapsed(), want);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failure_stops_at_once() {
        let config = RetryConfig::new(10, Duration::from_secs(60)).unwrap();
        let (res, delays) = drive(
            config,
            &[LOCK, Class::Permanent, LOCK],
            Duration::from_millis(10),
        )
        .await;
        assert_eq!(res, Err(GiveUp::Permanent));
        assert_eq!(delays.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded() {
        let config = RetryConfig::new(3, Duration::from_secs(3600)).unwrap();
        let (res, delays) = drive(config, &[LOCK; 20], Duration::from_millis(10)).await;
        assert_eq!(res, Err(GiveUp::Attempts));
        assert_eq!(delays.len(), 2, "3 attempts, 2 pauses");
    }

    #[tokio::test(start_paused = true)]
    async fn total_time_is_bounded_by_the_budget() {
        let budget = Duration::from_secs(5);
        let config = RetryConfig::new(1000, budget).unwrap();
        let start = Instant::now();
        let (res, delays) = drive(config, &[LOCK; 1000], Duration::from_millis(300)).await;
        assert_eq!(res, Err(GiveUp::Budget));
        // The loop never starts an attempt after the budget: the last one began before it ran out, so
        // the total is at most the budget plus one attempt.
        assert!(
            start.elapsed() <= budget + Duration::from_millis(300),
            "{:?}",
            start.elapsed()
        );
        assert!(delays.len() >= 3, "several retries fit in 5 s: {delays:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_grow_and_stay_capped() {
        let config = RetryConfig::new(60, Duration::from_secs(3600))
            .unwrap()
            .with_backoff(Duration::from_millis(100), Duration::from_secs(2))
            .unwrap();
        let (_, delays) = drive(config, &[LOCK; 60], Duration::ZERO).await;
        assert_eq!(delays.len(), 59);
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(2)));
        let early: Duration = delays[..3].iter().sum();
        let late: Duration = delays[delays.len() - 3..].iter().sum();
        assert!(late > early, "pauses grow: {delays:?}");
    }

    #[test]
    fn invalid_configs_are_refused() {
        assert!(RetryConfig::new(0, Duration::from_secs(1)).is_err());
        assert!(RetryConfig::new(1, Duration::ZERO).is_err());
        let ok = RetryConfig::new(1, Duration::from_secs(1)).unwrap();
        assert!(ok
            .with_backoff(Duration::ZERO, Duration::from_secs(1))
            .is_err());
        assert!(ok
            .with_backoff(Duration::from_secs(2), Duration::from_secs(1))
            .is_err());
        let s = Settings {
            retry_attempts: 0,
            ..Settings::DEFAULT
        };
        assert_eq!(
            RetryConfig::from_settings(&s).unwrap_err().to_string(),
            "invalid retry configuration: `retry_attempts` must be at least 1 (the first attempt counts)"
        );
    }
}
