//! The timeouts set on a step's connection before every attempt.
//!
//! Both are set explicitly every time, so neither a `statement_timeout` configured on the role or the
//! database (`ALTER ROLE ... SET statement_timeout`) nor one left on the connection by an earlier step
//! ever applies to a step: transactional steps use `SET LOCAL` as the first statements of their
//! transaction (it dies with a rolled-back attempt, which is why it is re-issued on every retry), steps
//! that run alone use session-level `SET` on the migrator's own connection.
//!
//! **Escalating lock timeout.** A statement waiting for a lock blocks every later query on the table
//! that needs a conflicting lock, for as long as it waits. So the first attempts wait less than the
//! step's `lock_timeout`: attempt 1 waits a quarter of it, attempt 2 half, attempt 3 and later the full
//! value (never less than 100 ms, or the step's own value if that is smaller). With the default 1 s:
//! 250 ms, 500 ms, 1 s, 1 s, ... A lock that frees up quickly is taken on an early short attempt, and
//! the application never stalls longer than the step's `lock_timeout`.

use std::time::Duration;

/// The shortest escalated wait, unless the step's own lock timeout is shorter.
const FLOOR: Duration = Duration::from_millis(100);

/// `lock_timeout` for attempt `attempt` (1-based) of a step whose lock timeout is `step`.
pub fn lock_timeout_for_attempt(step: Duration, attempt: u32) -> Duration {
    let divisor = match attempt {
        0 | 1 => 4,
        2 => 2,
        _ => 1,
    };
    (step / divisor).max(FLOOR.min(step))
}

/// The two limits of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `lock_timeout`: how long one statement may wait for a lock.
    pub lock: Duration,
    /// `statement_timeout`: how long one statement may run, lock wait included.
    pub statement: Duration,
}

impl Timeouts {
    /// The SQL that sets both; `local` for `SET LOCAL` (inside a transaction).
    pub fn set_sql(&self, local: bool) -> String {
        self.set_statements(local).join("; ")
    }

    /// The two statements of [`set_sql`](Timeouts::set_sql), `lock_timeout` first.
    pub fn set_statements(&self, local: bool) -> [String; 2] {
        let scope = if local { "SET LOCAL" } else { "SET" };
        [
            format!("{scope} lock_timeout = '{}ms'", self.lock.as_millis()),
            format!(
                "{scope} statement_timeout = '{}ms'",
                self.statement.as_millis()
            ),
        ]
    }
}

/// A duration written the way the DSL's settings take it, in the largest unit that divides it:
/// `250ms`, `1s`, `30s`, `1min`, `6h`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_owned(),
        _ if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        _ if ms % 60_000 == 0 => format!("{}min", ms / 60_000),
        _ if ms % 1000 == 0 => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// [`human`] of a number of milliseconds.
pub(crate) fn human_ms(ms: u64) -> String {
    human(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn schedule_escalates_to_the_step_value() {
        let got: Vec<_> = (1..=5)
            .map(|a| lock_timeout_for_attempt(ms(1000), a))
            .collect();
        assert_eq!(got, [ms(250), ms(500), ms(1000), ms(1000), ms(1000)]);
        assert_eq!(lock_timeout_for_attempt(ms(60_000), 1), ms(15_000));
    }

    #[test]
    fn schedule_has_a_floor_but_never_exceeds_the_step() {
        assert_eq!(lock_timeout_for_attempt(ms(200), 1), ms(100));
        assert_eq!(lock_timeout_for_attempt(ms(50), 1), ms(50));
        for a in 1..10 {
            for step in [1u64, 10, 99, 100, 101, 333, 1000, 5000] {
                assert!(lock_timeout_for_attempt(ms(step), a) <= ms(step));
            }
        }
    }

    #[test]
    fn durations_for_people() {
        let got: Vec<String> = [0, 250, 1000, 1500, 30_000, 60_000, 90_000, 21_600_000]
            .into_iter()
            .map(human_ms)
            .collect();
        assert_eq!(
            got,
            ["0s", "250ms", "1s", "1500ms", "30s", "1min", "90s", "6h"]
        );
    }

    #[test]
    fn set_sql() {
        let t = Timeouts {
            lock: ms(250),
            statement: ms(30_000),
        };
        assert_eq!(
            t.set_sql(true),
            "SET LOCAL lock_timeout = '250ms'; SET LOCAL statement_timeout = '30000ms'"
        );
        assert_eq!(
            t.set_sql(false),
            "SET lock_timeout = '250ms'; SET statement_timeout = '30000ms'"
        );
    }
}
