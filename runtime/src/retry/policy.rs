//! Which database errors are worth another attempt.
//!
//! The policy only classifies; the loop in [`super`] decides when to stop.

/// Why an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Another attempt may succeed without anyone changing anything.
    Transient(Transient),
    /// Another attempt would fail the same way: stop at this step.
    Permanent,
}

/// The transient failures zerodown retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    /// SQLSTATE `55P03` `lock_not_available`: the step's `lock_timeout` expired while it queued for a
    /// lock some other session holds.
    LockTimeout,
    /// SQLSTATE `40P01` `deadlock_detected`: PostgreSQL chose this step as the deadlock victim.
    Deadlock,
    /// SQLSTATE `40001` `serialization_failure`.
    Serialization,
}

impl Transient {
    /// A short name for logs (`lock timeout`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transient::LockTimeout => "lock timeout",
            Transient::Deadlock => "deadlock",
            Transient::Serialization => "serialization failure",
        }
    }
}

/// Classifies a SQLSTATE.
///
/// Only `55P03`, `40P01` and `40001` are transient. `57014` `query_canceled` is permanent on purpose:
/// it is what `statement_timeout` raises (the lock wait has its own code, `55P03`), and a statement
/// that ran out of time will run out of time again. Errors without a SQLSTATE (a dropped connection,
/// an I/O error) are permanent too: the outcome of the statement is unknown, so the run stops and the
/// next run resumes the step after checking the catalog.
pub fn classify(sqlstate: Option<&str>) -> Class {
    match sqlstate {
        Some("55P03") => Class::Transient(Transient::LockTimeout),
        Some("40P01") => Class::Transient(Transient::Deadlock),
        Some("40001") => Class::Transient(Transient::Serialization),
        _ => Class::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes() {
        assert_eq!(
            classify(Some("55P03")),
            Class::Transient(Transient::LockTimeout)
        );
        assert_eq!(
            classify(Some("40P01")),
            Class::Transient(Transient::Deadlock)
        );
        assert_eq!(
            classify(Some("40001")),
            Class::Transient(Transient::Serialization)
        );
    }

    #[test]
    fn everything_else_is_permanent() {
        for code in ["57014", "23505", "42P07", "42601", "08006", "25001"] {
            assert_eq!(classify(Some(code)), Class::Permanent, "{code}");
        }
        assert_eq!(classify(None), Class::Permanent);
    }
}
