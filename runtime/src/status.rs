//! What [`Migrator::status`](crate::Migrator::status) reports: every migration of the binary with its
//! state in the database, drift, and migrations the database knows but the binary does not.

use std::fmt;

use crate::plan::Migration;

/// The two phases of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhaseKind {
    /// Applied by `run`: everything the old and the new application version both work with.
    Expand,
    /// Applied by `complete`, once the old application version is gone.
    Contract,
    /// Applied by `rollback`: undoes an expand phase that was not completed, or the committed steps
    /// of a migration without `expand` operations that stopped part-way
    /// ([`Migration::undo`](crate::plan::Migration::undo)).
    Rollback,
}

impl PhaseKind {
    /// `expand` or `contract`, as stored in the history table.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseKind::Expand => "expand",
            PhaseKind::Contract => "contract",
            PhaseKind::Rollback => "rollback",
        }
    }

    /// Every phase, in the order the history lists them.
    pub const ALL: [PhaseKind; 3] = [PhaseKind::Expand, PhaseKind::Contract, PhaseKind::Rollback];

    pub(crate) fn parse(s: &str) -> Option<PhaseKind> {
        match s {
            "expand" => Some(PhaseKind::Expand),
            "contract" => Some(PhaseKind::Contract),
            "rollback" => Some(PhaseKind::Rollback),
            _ => None,
        }
    }

    /// The phase's steps in `migration`.
    pub fn steps(self, migration: &Migration) -> &'static [crate::plan::Step] {
        match self {
            PhaseKind::Expand => migration.expand.steps,
            PhaseKind::Contract => migration.contract.steps,
            PhaseKind::Rollback => migration.rollback_steps(),
        }
    }
}

impl fmt::Display for PhaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A migration's identity: version and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MigrationId {
    /// The ordering key.
    pub version: u64,
    /// The name (module name without the version prefix).
    pub name: String,
}

impl MigrationId {
    pub(crate) fn of(m: &Migration) -> MigrationId {
        MigrationId {
            version: m.version,
            name: m.name.to_owned(),
        }
    }
}

impl fmt::Display for MigrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "migration {} `{}`", self.version, self.name)
    }
}

/// Where a migration stands in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationState {
    /// Not started: `run` applies it.
    Pending,
    /// The expand phase started and has not finished (a run stopped or is running): `run` resumes it
    /// at step `done` (0-based).
    Expanding {
        /// Expand steps recorded done.
        done: usize,
        /// Expand steps in the plan.
        total: usize,
    },
    /// The expand phase is done and the contract phase waits for `complete`.
    Expanded,
    /// The contract phase started and has not finished: `complete` resumes it.
    Completing {
        /// Contract steps recorded done.
        done: usize,
        /// Contract steps in the plan.
        total: usize,
    },
    /// Fully applied.
    Completed,
    /// A rollback started and has not finished: `rollback` resumes it; `run` refuses to go on meanwhile.
    RollingBack {
        /// Rollback steps recorded done.
        done: usize,
        /// Rollback steps in the plan.
        total: usize,
    },
}

impl MigrationState {
    /// The state's name as stored in the history table (`pending` is never stored).
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationState::Pending => "pending",
            MigrationState::Expanding { .. } => "expanding",
            MigrationState::Expanded => "expanded",
            MigrationState::Completing { .. } => "completing",
            MigrationState::Completed => "completed",
            MigrationState::RollingBack { .. } => "rolling_back",
        }
    }

    /// Whether the expand phase is done.
    pub fn is_expanded(self) -> bool {
        matches!(
            self,
            MigrationState::Expanded
                | MigrationState::Completing { .. }
                | MigrationState::Completed
        )
    }
}

impl fmt::Display for MigrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MigrationState::Pending => f.write_str("pending"),
            MigrationState::Expanding { done, total } => {
                write!(
                    f,
                    "expanding, interrupted or running ({done} of {total} steps done)"
                )
            }
            MigrationState::Expanded => f.write_str("expanded, waiting for complete"),
            MigrationState::Completing { done, total } => {
                write!(
                    f,
                    "completing, interrupted or running ({done} of {total} contract steps done)"
                )
            }
            MigrationState::Completed => f.write_str("completed"),
            MigrationState::RollingBack { done, total } => {
                write!(
                    f,
                    "rolling back, interrupted or running ({done} of {total} rollback steps done)"
                )
            }
        }
    }
}

/// One migration of the binary.
#[derive(Debug, Clone)]
pub struct MigrationStatus {
    /// Version and name.
    pub id: MigrationId,
    /// The migration's doc comment.
    pub description: &'static str,
    /// Its state in the database.
    pub state: MigrationState,
    /// Whether it has a contract phase (applied by `complete`).
    pub has_contract: bool,
    /// Set when the plan recorded in the database differs from the binary's.
    pub drift: Option<crate::error::Drift>,
    /// While the migration waits for `complete` (expanded or completing): the objects under
    /// expand/contract, which later migrations may not touch until then. Empty otherwise.
    pub mid_change: Vec<&'static str>,
    /// Pending, but older than the newest recorded migration: `run` refuses it
    /// ([`Error::OutOfOrder`](crate::Error::OutOfOrder)) unless `allow_out_of_order(true)`.
    pub out_of_order: bool,
    /// Recorded as applied without running it, by [`Migrator::baseline`](crate::Migrator::baseline).
    pub baseline: bool,
    /// The last error recorded for one of its steps, while it is not done.
    pub last_error: Option<String>,
    /// When its last phase finished (`complete`, else `run`), as `2026-12-05 09:30:00 UTC`; `None`
    /// while pending or under way.
    pub applied_at: Option<String>,
}

/// A migration recorded in the database that the binary does not contain (applied by another
/// version of the application, or removed from the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMigration {
    /// Version and recorded name.
    pub id: MigrationId,
    /// Recorded state (`expanding`, `expanded`, ...).
    pub state: String,
}

/// The result of [`Migrator::status`](crate::Migrator::status).
#[derive(Debug, Clone)]
pub struct Status {
    /// The binary's migrations, in version order.
    pub migrations: Vec<MigrationStatus>,
    /// Recorded migrations the binary does not contain, in version order.
    pub unknown: Vec<UnknownMigration>,
    /// Whether the history table exists yet (it is created by the first `run`).
    pub history_exists: bool,
    /// Whether the history's steps table (`<table>_steps`) exists. Missing beside an existing history
    /// table, `run` recreates it when no migration is under way, and refuses otherwise (see
    /// [`run_error`](Status::run_error)).
    pub steps_table_exists: bool,
    /// The schema of the history tables, as every runner decides it (see
    /// [`Migrator::history_schema`](crate::Migrator::history_schema)).
    pub history_schema: String,
    /// The error `run` would stop with now, from the decision `run` itself makes: before anything
    /// runs (drift, out-of-order migration, incomplete or lost history, rollback under way, server
    /// too old), or after applying the migrations before it (mid-change). `None` when `run` would
    /// succeed. The command line's `status` exits with this error's code.
    pub run_error: Option<std::sync::Arc<crate::Error>>,
    /// The runner holding the migration lock when the status was read (`pid N, application ...`):
    /// a run is in progress, so `expanding`/`completing` migrations are running, not interrupted.
    pub runner: Option<String>,
}

impl Status {
    /// Migrations `run` would start or resume.
    pub fn pending(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.migrations.iter().filter(|m| {
            matches!(
                m.state,
                MigrationState::Pending | MigrationState::Expanding { .. }
            )
        })
    }

    /// Migrations whose contract phase waits for `complete` (or was interrupted).
    pub fn awaiting_complete(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.migrations.iter().filter(|m| {
            matches!(
                m.state,
                MigrationState::Expanded | MigrationState::Completing { .. }
            )
        })
    }

    /// Migrations whose recorded plan differs from the binary's.
    pub fn drifted(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.migrations.iter().filter(|m| m.drift.is_some())
    }

    /// Migrations `run` refuses because they are older than the newest recorded one.
    pub fn out_of_order(&self) -> impl Iterator<Item = &MigrationStatus> {
        self.migrations.iter().filter(|m| m.out_of_order)
    }

    /// Whether `run` has nothing to do and would not fail.
    pub fn is_up_to_date(&self) -> bool {
        self.pending().next().is_none()
            && self.drifted().next().is_none()
            && self.run_error.is_none()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.history_exists, self.steps_table_exists) {
            (false, false) => writeln!(f, "no history table yet: every migration is pending")?,
            (true, false) => writeln!(
                f,
                "the history's steps table is missing from schema `{}`",
                self.history_schema
            )?,
            (false, true) => writeln!(
                f,
                "the history table is missing from schema `{}` but its steps table exists",
                self.history_schema
            )?,
            (true, true) => {}
        }
        if let Some(runner) = &self.runner {
            writeln!(
                f,
                "a run is in progress: the migration lock is held by {runner}"
            )?;
        }
        let width = self
            .migrations
            .iter()
            .map(|m| m.id.name.len())
            .max()
            .unwrap_or(0);
        for m in &self.migrations {
            // A recorded error says why the migration stopped: no need to guess "interrupted".
            let state = match (m.state, &m.last_error) {
                (MigrationState::Expanding { done, total }, Some(_)) => {
                    format!("expanding, stopped by an error ({done} of {total} steps done)")
                }
                (MigrationState::Completing { done, total }, Some(_)) => {
                    format!(
                        "completing, stopped by an error ({done} of {total} contract steps done)"
                    )
                }
                (MigrationState::RollingBack { done, total }, Some(_)) => {
                    format!(
                        "rolling back, stopped by an error ({done} of {total} rollback steps done)"
                    )
                }
                (state, _) => state.to_string(),
            };
            write!(f, "{:>6} {:<width$}  {state}", m.id.version, m.id.name)?;
            if let Some(at) = &m.applied_at {
                write!(f, " {at}")?;
            }
            // The doc comment's first line says what it is for.
            if let Some(about) = m.description.lines().map(str::trim).find(|l| !l.is_empty()) {
                write!(f, " -- {about}")?;
            }
            if m.baseline {
                f.write_str(" (baseline: recorded, never run)")?;
            }
            if m.out_of_order {
                f.write_str("; OUT OF ORDER: older than the newest recorded migration")?;
            }
            if !m.mid_change.is_empty() {
                write!(f, "; mid-change: {}", m.mid_change.join(", "))?;
            }
            if m.drift.is_some() {
                f.write_str("; DRIFTED: the recorded plan differs from this binary's")?;
            }
            if let Some(e) = &m.last_error {
                write!(f, "; last error: {e}")?;
            }
            writeln!(f)?;
        }
        for u in &self.unknown {
            writeln!(
                f,
                "{:>6} {:<width$}  {} (not in this binary)",
                u.id.version, u.id.name, u.state
            )?;
        }
        if let Some(e) = &self.run_error {
            writeln!(f, "`run` would fail: {e}")?;
        }
        Ok(())
    }
}
