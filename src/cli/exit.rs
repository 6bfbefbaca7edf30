//! Exit codes: one per kind of failure an operator or a deploy script acts on differently.

use std::process::{ExitCode, Termination};

use zerodown_runtime::retry::GiveUp;
use zerodown_runtime::{Error, StepErrorKind};

/// How a `migrate` command ended, and its process exit code; the table of codes, their meaning
/// and what to do about each is in the [module docs](crate::cli#exit-codes).
///
/// Codes are stable; new kinds of failure get new codes. A `--json` document carries the same value
/// in `exit_code` and its [name](Exit::as_str) in `error.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Exit {
    /// 0: done, or nothing to do.
    Success,
    /// 1: a step failed (not retryable as is), or the history could not be used.
    Failed,
    /// 2: bad arguments or configuration.
    Usage,
    /// 3: could not connect.
    Connect,
    /// 4: the history disagrees with this binary or the database (drift, out-of-order migration, a
    /// lost history).
    Drift,
    /// 5: another runner held the migration lock.
    Locked,
    /// 6: a step was blocked by other sessions' locks until its retries were spent.
    Blocked,
    /// 7: the server or this zerodown is too old for a pending migration.
    Incompatible,
    /// 8: an expand/contract change must be finished first (`complete`, or an interrupted rollback).
    MidChange,
    /// 9: stopped on request (a first `SIGTERM` or `SIGINT`) before a step or between two backfill
    /// batches; the lock was released and the next run resumes there.
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Connect => 3,
            Exit::Drift => 4,
            Exit::Locked => 5,
            Exit::Blocked => 6,
            Exit::Incompatible => 7,
            Exit::MidChange => 8,
            Exit::Interrupted => 9,
        }
    }

    /// The stable name used in JSON output (`error.kind`): `success`, `failed`, `usage`, `connect`,
    /// `drift`, `locked`, `blocked`, `incompatible`, `mid_change` or `interrupted`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::Connect => "connect",
            Exit::Drift => "drift",
            Exit::Locked => "locked",
            Exit::Blocked => "blocked",
            Exit::Incompatible => "incompatible",
            Exit::MidChange => "mid_change",
            Exit::Interrupted => "interrupted",
        }
    }

    /// Whether this is [`Exit::Success`].
    pub const fn is_success(self) -> bool {
        matches!(self, Exit::Success)
    }

    /// The kind of failure `error` is.
    pub fn of(error: &Error) -> Exit {
        match error {
            Error::InvalidMigrations(_)
            | Error::InvalidConfig(_)
            | Error::CannotRollback { .. }
            | Error::CannotBaseline { .. }
            | Error::HistoryElsewhere { .. } => Exit::Usage,
            Error::Connect { .. }
            | Error::ConnectRefused { .. }
            | Error::NoSecondConnection { .. } => Exit::Connect,
            Error::Drift(_)
            | Error::OutOfOrder { .. }
            | Error::HistoryLost { .. }
            | Error::MissingFromBinary { .. }
            | Error::SchemaMismatch { .. } => Exit::Drift,
            Error::LockTimeout { .. } => Exit::Locked,
            Error::ServerTooOld { .. } | Error::Unsupported { .. } => Exit::Incompatible,
            Error::MidChange { .. } | Error::RollingBack { .. } => Exit::MidChange,
            Error::Interrupted(_) => Exit::Interrupted,
            Error::Step(step)
                if matches!(
                    step.kind,
                    StepErrorKind::Statement(GiveUp::Attempts | GiveUp::Budget)
                ) =>
            {
                Exit::Blocked
            }
            _ => Exit::Failed,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// So that `async fn main() -> zerodown::cli::Exit` works.
impl Termination for Exit {
    fn report(self) -> ExitCode {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_names_match() {
        let all = [
            Exit::Success,
            Exit::Failed,
            Exit::Usage,
            Exit::Connect,
            Exit::Drift,
            Exit::Locked,
            Exit::Blocked,
            Exit::Incompatible,
            Exit::MidChange,
            Exit::Interrupted,
        ];
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.code() as usize, i, "{a:?}");
            for b in &all[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }

    #[test]
    fn errors_map_to_their_kind() {
        assert_eq!(Exit::of(&Error::InvalidConfig("x".into())), Exit::Usage);
        assert_eq!(
            Exit::of(&Error::LockTimeout {
                waited: std::time::Duration::from_secs(1),
                holder: None
            }),
            Exit::Locked
        );
        assert_eq!(Exit::of(&Error::Drift(Vec::new())), Exit::Drift);
        assert_eq!(Exit::of(&Error::HistoryCorrupt("x".into())), Exit::Failed);
    }
}
