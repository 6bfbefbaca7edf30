//! Step events for progress displays: a step starting, a concurrent index build under way, a step
//! settled. Delivered to the callback
//! given to [`Migrator::on_step`](crate::Migrator::on_step), on the runner's task, in order.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::index_progress::IndexBuildProgress;
use crate::plan::LockLevel;
use crate::report::StepOutcome;
use crate::status::{MigrationId, PhaseKind};

/// A step of a run starting or settled.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StepProgress {
    /// The migration the step belongs to.
    pub migration: MigrationId,
    /// The phase being applied.
    pub phase: PhaseKind,
    /// 0-based index of the step in its phase.
    pub step: usize,
    /// Steps in the phase.
    pub total: usize,
    /// What the step does.
    pub description: &'static str,
    /// The strongest lock it takes.
    pub lock: LockLevel,
    /// What happened.
    pub event: StepEvent,
}

/// What happened to a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepEvent {
    /// The step is about to run (or to be found done, when an interrupted run had started it).
    Started,
    /// The step is recorded done. A step that fails ends the run with the error instead.
    Settled {
        /// Ran, or found already done.
        outcome: StepOutcome,
        /// Attempts made in this run.
        attempts: u32,
        /// Wall time in this run, retries included.
        duration: Duration,
    },
    /// A concurrent index build is under way (PostgreSQL 12+): where it is, about once a second.
    Building(IndexBuildProgress),
}

impl fmt::Display for StepProgress {
    /// `step 2/5 (expand): create index concurrently "i" on "t" [SHARE UPDATE EXCLUSIVE]`, then
    /// `step 2/5 (expand) done in 1.2 s (1 attempt)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format!("step {}/{} ({})", self.step + 1, self.total, self.phase);
        match self.event {
            StepEvent::Started => write!(f, "{at}: {} [{}]", self.description, self.lock),
            StepEvent::Settled {
                outcome: StepOutcome::AlreadyDone,
                ..
            } => write!(f, "{at} was already done (an interrupted run applied it)"),
            StepEvent::Settled {
                outcome: StepOutcome::Ran,
                attempts,
                duration,
            } => write!(
                f,
                "{at} done in {:.1} s ({attempts} attempt{})",
                duration.as_secs_f64(),
                if attempts == 1 { "" } else { "s" }
            ),
            StepEvent::Building(build) => write!(f, "{at}: {build}"),
        }
    }
}

/// The callback of [`Migrator::on_step`](crate::Migrator::on_step).
#[derive(Clone)]
pub(crate) struct StepSink(pub(crate) Arc<dyn Fn(&StepProgress) + Send + Sync + 'static>);

impl fmt::Debug for StepSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StepSink(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: StepEvent) -> StepProgress {
        StepProgress {
            migration: MigrationId {
                version: 2,
                name: "users_email_index".to_owned(),
            },
            phase: PhaseKind::Expand,
            step: 1,
            total: 5,
            description: "create index concurrently \"users_email_idx\" on \"users\"",
            lock: LockLevel::ShareUpdateExclusive,
            event,
        }
    }

    #[test]
    fn lines_for_people() {
        assert_eq!(
            event(StepEvent::Started).to_string(),
            "step 2/5 (expand): create index concurrently \"users_email_idx\" on \"users\" [SHARE UPDATE EXCLUSIVE]"
        );
        let settled = |outcome, attempts| StepEvent::Settled {
            outcome,
            attempts,
            duration: Duration::from_millis(1250),
        };
        assert_eq!(
            event(settled(StepOutcome::Ran, 1)).to_string(),
            "step 2/5 (expand) done in 1.2 s (1 attempt)"
        );
        assert_eq!(
            event(settled(StepOutcome::Ran, 3)).to_string(),
            "step 2/5 (expand) done in 1.2 s (3 attempts)"
        );
        assert_eq!(
            event(settled(StepOutcome::AlreadyDone, 0)).to_string(),
            "step 2/5 (expand) was already done (an interrupted run applied it)"
        );
    }
}
