//! The errors of the executor. Each names what failed and says what to do; none prints connect
//! options (passwords live there), only the database's own messages.

use std::fmt;
use std::time::Duration;

use crate::blockers::{self, Blocker};
use crate::plan::PgVersion;
use crate::retry::GiveUp;
use crate::status::{MigrationId, PhaseKind};

/// Everything that can stop a [`Migrator`](crate::Migrator).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The list of migrations given to [`Migrator::new`](crate::Migrator::new) cannot be run.
    #[error("invalid migration list: {0}")]
    InvalidMigrations(String),

    /// A setting given to the migrator is invalid.
    #[error("invalid migrator configuration: {0}")]
    InvalidConfig(String),

    /// Connecting to the server failed.
    #[error("cannot connect to PostgreSQL: {source}; check the connect options (host, port, user, database) and that the server is up")]
    Connect {
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The server refused every connection attempt until the connect timeout: all its connection
    /// slots were taken (SQLSTATE `53300`, `max_connections` or a role's or database's connection
    /// limit), or it was starting up (`57P03`). Each refusal was retried with backoff, logged at
    /// `WARN`.
    #[error("{}", refused_advice(.waited, *.attempts, .source))]
    ConnectRefused {
        /// How long the migrator kept trying.
        waited: Duration,
        /// Connection attempts made.
        attempts: u32,
        /// The server's last refusal.
        #[source]
        source: sqlx::Error,
    },

    /// A query of the migrator's own bookkeeping failed (history table, lock, catalog checks).
    #[error("{context} failed: {source}{}", lost_connection_advice(source))]
    Database {
        /// What the migrator was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// Another runner held the migration lock for longer than the configured wait.
    #[error(
        "another runner holds the migration lock ({}); waited {:.1} s; let it finish, or end that session if it is stuck, then run again (the wait is set with the command line's `--lock-wait`, `Migrator::lock_wait` in code)",
        holder.as_deref().unwrap_or("holder not visible"),
        waited.as_secs_f64()
    )]
    LockTimeout {
        /// How long this runner waited.
        waited: Duration,
        /// Who holds the lock (`pid N, application ..., connected since ...`), when visible.
        holder: Option<String>,
    },

    /// The connection holding the migration lock was lost during the run, so another runner may have
    /// started; this run stopped before its next step.
    #[error("lost the connection holding the migration lock: {source}; run again: the next run resumes where this one stopped")]
    LockLost {
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The connection does not keep one server session: a pooler in transaction or statement pooling
    /// mode (PgBouncer's `pool_mode = transaction`) is in between. The migration lock and the
    /// timeouts set before each step need a session of their own, so nothing was run. How this is
    /// detected, and how to set PgBouncer up, is described on [`Migrator`](crate::Migrator).
    #[error(
        "the connection does not keep one server session ({evidence}): a connection pooler in transaction or statement pooling mode (such as PgBouncer with `pool_mode = transaction`) is in between; zerodown needs a session of its own for its migration lock and for the timeouts it sets before each step, which such a pooler would silently lose, so nothing was run; connect the migrator directly to PostgreSQL or through a session-pooled connection (PgBouncer `pool_mode = session`)"
    )]
    SessionPooling {
        /// What was observed.
        evidence: String,
    },

    /// The check that the control connection is a session of its own opened a second connection,
    /// which got no server connection in time: a session pool with no free server connection (all
    /// taken, PgBouncer's `pool_size`), or a server at `max_connections` behind a pooler. The
    /// migrator needs two server connections at once; nothing was run.
    #[error(
        "no second server connection within {} s: the pool is full (PgBouncer `pool_size` / `default_pool_size`, or the server's `max_connections` behind the pooler is reached); a migrator needs 2 server connections at once (its control connection and a second one), so nothing was run; raise PgBouncer's `pool_size` (or `default_pool_size`) to at least 2 per migrator running at once, plus what the other clients of that pool use, or connect the migrator directly to PostgreSQL",
        waited.as_secs()
    )]
    NoSecondConnection {
        /// How long the second connection waited.
        waited: Duration,
    },

    /// The server is older than a pending migration's target; nothing was run.
    #[error(
        "the server runs {server} but {}; nothing was run; upgrade the server (or, if the migration does not need the newer server, lower its `set target_postgres`)",
        list_targets(migrations)
    )]
    ServerTooOld {
        /// The server's major version.
        server: PgVersion,
        /// Pending migrations with their targets.
        migrations: Vec<(MigrationId, PgVersion)>,
    },

    /// Applied migrations whose plan changed since they ran; nothing was run.
    #[error("{}", display_drift(.0))]
    Drift(Vec<Drift>),

    /// A pending migration is older than the newest migration in the history; nothing was run.
    #[error(
        "{pending} is pending but the history already has migration {} `{}`, which is newer; nothing was run; renumber the new migration after {}, or, if the order does not matter, allow it with `migrate run --allow-out-of-order` (`Migrator::allow_out_of_order(true)`)",
        newest.version, newest.name, newest.version
    )]
    OutOfOrder {
        /// The pending migration.
        pending: MigrationId,
        /// The newest recorded migration.
        newest: MigrationId,
    },

    /// Migrations recorded in the history are missing from the binary's list, among the versions it
    /// has (deleted, renamed to another version, or squashed); nothing was run. Recorded migrations
    /// newer than every migration of the binary are not: that is an older binary during a rollout.
    #[error(
        "{} recorded in the database but missing from this binary's migrations: {}; nothing was run; restore {} (a migration that ran must stay in the list, with its version), or, if it was removed on purpose (squashed into a baseline, say), run with `--ignore-missing` (`Migrator::ignore_missing(true)`)",
        if missing.len() == 1 { "a migration is" } else { "migrations are" },
        missing.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    )]
    MissingFromBinary {
        /// The recorded migrations the binary lacks.
        missing: Vec<MigrationId>,
    },

    /// A pending step uses a feature this version of the runtime cannot run yet; nothing was run.
    #[error("{migration}, {phase} step {} (`{description}`) is a {what}, which this version of zerodown cannot run yet; nothing was run; upgrade zerodown", index + 1)]
    Unsupported {
        /// The migration.
        migration: MigrationId,
        /// The phase.
        phase: PhaseKind,
        /// 0-based step index.
        index: usize,
        /// The step's description.
        description: String,
        /// What is missing (`batched backfill`).
        what: &'static str,
    },

    /// A pending migration touches objects that an earlier migration has under expand/contract (expanded,
    /// waiting for `complete`). Migrations before it were applied; it and those after it were not.
    #[error(
        "{} mid-change in {waiting} (expanded, waiting for `complete`), and {migration} touches {}; nothing was run from {migration} on; run `complete` first, once no instance of the old application version runs (or undo the expand with `migrate rollback {}`); where no old version ever runs (development, CI, tests), `run --complete` (`Migrator::run_and_complete`) replays the history in one go",
        list_objects(objects), if objects.len() == 1 { "it" } else { "them" }, waiting.version
    )]
    MidChange {
        /// The migration that was refused.
        migration: MigrationId,
        /// The migration waiting for `complete`.
        waiting: MigrationId,
        /// The objects both touch (`public.users.email`).
        objects: Vec<String>,
    },

    /// The tables a migration changes differ from what the migrations before it in its set built
    /// (a column, constraint or index changed by hand, or by SQL outside the migrations): the
    /// migration's plan was made for the schema the set describes, so nothing of it was run.
    /// Migrations before it were applied.
    #[error(
        "the database differs from the schema the migrations before {migration} build, on the tables it changes: {}; nothing of {migration} was run (the migrations before it were applied); make the database match the migrations again, or put the change in a migration before this one; if the difference is intended, run with `--no-schema-check` (`Migrator::verify_schema(false)`)",
        differences.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    SchemaMismatch {
        /// The migration that was not run.
        migration: MigrationId,
        /// How the database differs.
        differences: Vec<crate::live_schema::SchemaDifference>,
    },

    /// A migration's rollback was interrupted (or is running); nothing else runs until it finishes.
    #[error("{migration} is being rolled back (a rollback was interrupted or is running); nothing was run; finish it with `migrate rollback {}` (`Migrator::rollback`)", migration.version)]
    RollingBack {
        /// The migration.
        migration: MigrationId,
    },

    /// `Migrator::rollback` cannot undo this migration; nothing was run.
    #[error("cannot roll back {migration}: {reason}")]
    CannotRollback {
        /// The migration.
        migration: MigrationId,
        /// Why, and what to do.
        reason: String,
    },

    /// `Migrator::baseline` cannot record these migrations; nothing was recorded.
    #[error("cannot record migrations up to {version} as applied (baseline): {reason}")]
    CannotBaseline {
        /// The version given.
        version: u64,
        /// Why, and what to do.
        reason: String,
    },

    /// The run was asked to stop ([`StopSignal`](crate::StopSignal)) and stopped at a safe point:
    /// before a step, or after a committed backfill batch. Nothing is half-applied, the migration
    /// lock was released, and the next run resumes where this one stopped.
    #[error("{0}")]
    Interrupted(Box<Interrupted>),

    /// A step failed; the run stopped there, and the next run resumes at this step.
    #[error("{0}")]
    Step(Box<StepError>),

    /// One of the two history tables exists without the other, and what is missing cannot be
    /// rebuilt safely (step progress of a migration under way, or the migrations table itself);
    /// nothing was run. The message says which table and what to do.
    #[error("the history is incomplete: {0}")]
    HistoryIncomplete(String),

    /// The history is empty (no history table, or one without rows) but the database already has
    /// tables that pending migrations create: the history was lost, or the schema was made another
    /// way. Running would apply everything again; nothing was run.
    #[error(
        "the history is empty but the database already has {}; the history was lost or the schema was created another way, and running would apply every migration again; nothing was run; if the schema already has every migration up to some version, record them as applied with `migrate baseline <VERSION>` (`Migrator::baseline`), then run again",
        list_existing(existing)
    )]
    HistoryLost {
        /// The existing tables (`schema.table`), each with the migration that creates it.
        existing: Vec<(MigrationId, String)>,
    },

    /// The history table was found in a schema of the search path other than the one this runner
    /// chose, so two runners could keep two histories (and two locks); nothing was run.
    #[error(
        "the history table `{table}` exists in schema {} but this runner would use schema `{chosen}` (the history schema is `public` when it exists, else the first schema of the search path); nothing was run; name the schema that holds the history with `Migrator::history_schema(\"{}\")` or the command line's `--history-schema {}`",
        found.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "), found[0], found[0]
    )]
    HistoryElsewhere {
        /// The history table's name.
        table: String,
        /// The schema this runner chose.
        chosen: String,
        /// The schemas of the search path holding a history table of that name (at least one).
        found: Vec<String>,
    },

    /// The history table holds something this version of zerodown does not understand.
    #[error(
        "the history table is inconsistent: {0}; inspect it, and fix or remove the offending row"
    )]
    HistoryCorrupt(String),
}

impl Error {
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let context = context.into();
        move |source| Error::Database { context, source }
    }

    /// For errors of the connection holding the migration lock: a broken connection means the lock
    /// is gone, which [`Error::LockLost`] says (with what to do); other errors are kept.
    pub(crate) fn on_lock_connection(self) -> Error {
        match self {
            Error::Database { source, .. } if crate::connect::is_broken(&source) => {
                Error::LockLost { source }
            }
            other => other,
        }
    }

    /// The step failure, when this error is one.
    pub fn as_step(&self) -> Option<&StepError> {
        match self {
            Error::Step(s) => Some(s),
            _ => None,
        }
    }
}

fn list_existing(existing: &[(MigrationId, String)]) -> String {
    let shown: Vec<String> = existing
        .iter()
        .take(5)
        .map(|(id, table)| format!("table `{table}` (created by {id})"))
        .collect();
    let more = existing.len().saturating_sub(shown.len());
    if more == 0 {
        shown.join(", ")
    } else {
        format!("{} and {more} more", shown.join(", "))
    }
}

fn list_objects(objects: &[String]) -> String {
    let quoted: Vec<String> = objects.iter().map(|o| format!("`{o}`")).collect();
    match quoted.len() {
        1 => format!("{} is", quoted[0]),
        _ => format!("{} are", quoted.join(", ")),
    }
}

fn refused_advice(waited: &Duration, attempts: u32, source: &sqlx::Error) -> String {
    let code = crate::connect::refusal_code(source).unwrap_or_default();
    let why = if code == "57P03" {
        "the server was starting up (or not yet accepting connections); wait until it accepts connections, or raise the connect timeout"
    } else {
        "its connection slots were all taken; raise `max_connections` (or the role's or database's connection limit), run fewer instances at once (a runner holds 2 connections while it runs and briefly 2 at each poll of the migration lock), or raise the connect timeout"
    };
    format!(
        "the server refused every connection for {:.1} s ({attempts} attempts, the last: {source}): {why} (`Migrator::connect_timeout`, or the CLI's `--connect-timeout`)",
        waited.as_secs_f64()
    )
}

/// Advice for a bookkeeping query whose connection broke (terminated, network, server restart).
fn lost_connection_advice(source: &sqlx::Error) -> &'static str {
    if crate::connect::is_broken(source) {
        "; the connection was lost or terminated; run again: the next run resumes where this one stopped"
    } else {
        ""
    }
}

fn list_targets(migrations: &[(MigrationId, PgVersion)]) -> String {
    migrations
        .iter()
        .map(|(id, target)| format!("{id} targets {target} or newer"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a run asked to stop ([`Error::Interrupted`]) stopped, and what it had done.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interrupted {
    /// Migration phases this run finished before it stopped.
    pub finished: Vec<MigrationId>,
    /// The migration it stopped in.
    pub migration: MigrationId,
    /// The phase.
    pub phase: PhaseKind,
    /// 0-based index of the step it stopped before (or inside, for a backfill).
    pub index: usize,
    /// Steps in the phase.
    pub total: usize,
    /// For a backfill stopped between two batches: the batches committed and the rows updated so
    /// far (counting earlier runs of the step); the next run resumes after the last batch.
    pub backfill: Option<(u64, u64)>,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let step = format!("step {}/{} ({})", self.index + 1, self.total, self.phase);
        match self.backfill {
            Some((batches, rows)) => write!(
                f,
                "stopped on request in {step} of {} after batch {batches} of its backfill ({rows} rows updated so far)",
                self.migration
            )?,
            None => write!(f, "stopped on request before {step} of {}", self.migration)?,
        }
        if !self.finished.is_empty() {
            let list: Vec<String> = self.finished.iter().map(|m| m.to_string()).collect();
            write!(f, "; finished first: {}", list.join(", "))?;
        }
        let again = match self.phase {
            PhaseKind::Expand => "`run`".to_owned(),
            PhaseKind::Contract => "`complete`".to_owned(),
            PhaseKind::Rollback => format!("`rollback {}`", self.migration.version),
        };
        write!(
            f,
            "; nothing is half-applied and the migration lock was released; the next {again} resumes from there"
        )
    }
}

/// How a step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepErrorKind {
    /// A statement failed, permanently or on every allowed attempt.
    Statement(GiveUp),
    /// A unique index could not be built because the table has duplicate keys.
    DuplicateKeys,
    /// The statements succeeded but the catalog does not show their effect.
    Postcondition,
    /// The runtime refused to go on after looking at the catalog (an expand/contract operation meets
    /// something it cannot carry over); the step's transaction was rolled back.
    Refused,
    /// A backfill found no key to walk the table in keyset batches (no primary key or unique not-null
    /// key, or a `by (..)` key that is not one).
    BackfillKey,
    /// After the last batch and every sweep, rows still match the backfill's pending predicate.
    BackfillIncomplete {
        /// Rows still pending at the last count.
        remaining: u64,
    },
}

/// A failed step, with everything needed to act on it.
#[derive(Debug)]
pub struct StepError {
    /// The migration.
    pub migration: MigrationId,
    /// The phase.
    pub phase: PhaseKind,
    /// 0-based index of the step in its phase.
    pub index: usize,
    /// Steps in the phase.
    pub total: usize,
    /// The step's description.
    pub description: String,
    /// The statement that failed (for a postcondition failure, the step's statements).
    pub sql: String,
    /// Attempts made in this run.
    pub attempts: u32,
    /// How it failed.
    pub kind: StepErrorKind,
    /// PostgreSQL's SQLSTATE (`55P03`), when the server reported one.
    pub sqlstate: Option<String>,
    /// The server's (or driver's) message.
    pub message: String,
    /// The server's `DETAIL`, e.g. the duplicated key.
    pub detail: Option<String>,
    /// The step's `lock_timeout` and `statement_timeout` in milliseconds.
    pub timeouts_ms: (u64, u64),
    /// Sessions seen blocking the step, oldest transaction first.
    pub blockers: Vec<Blocker>,
    /// What the migrator did after the failure (e.g. dropped the INVALID index a failed build left).
    pub notes: Vec<String>,
    /// The driver's error, when there is one.
    pub source: Option<sqlx::Error>,
}

const CONNECTION_ADVICE: &str =
    "the connection was lost or terminated mid-step; run again: the step is checked in the catalog and resumed";

impl StepError {
    /// What to do, naming the command that resumes this phase: `run` for an expand step, and for a
    /// rollback step `migrate rollback N` (a rollback goes on where it stopped).
    fn advice(&self) -> String {
        let advice = self.expand_advice();
        if self.phase != PhaseKind::Rollback {
            return advice;
        }
        advice
            .replace(
                "run again",
                &format!("run `migrate rollback {}` again", self.migration.version),
            )
            .replace("the run resumes", "the rollback resumes")
    }

    fn expand_advice(&self) -> String {
        match (&self.kind, self.sqlstate.as_deref()) {
            (StepErrorKind::DuplicateKeys, _) => "remove or merge the duplicate rows, then run again; the run resumes at this step".to_owned(),
            (StepErrorKind::Refused, _) => "nothing of this step was kept; the run resumes at this step once the cause is gone".to_owned(),
            (StepErrorKind::Postcondition, _) => "check the object in the catalog (something may have changed it concurrently), then run again; the run resumes at this step".to_owned(),
            (StepErrorKind::BackfillKey, _) => "then run again; the run resumes at this step".to_owned(),
            (StepErrorKind::BackfillIncomplete { .. }, _) => {
                "something keeps writing rows that need the backfill (an application version that does not write the new value?); deploy the version that writes it, then run again: committed batches are kept and the run resumes with the verification".to_owned()
            }
            (StepErrorKind::Statement(GiveUp::Attempts | GiveUp::Budget), Some("55P03")) => {
                "end the blocking sessions or wait for them to finish (long transactions, `idle in transaction` sessions), then run again; the run resumes at this step; `set lock_timeout`/`set retry_budget` in the migration trade more waiting for fewer failures".to_owned()
            }
            (StepErrorKind::Statement(GiveUp::Attempts | GiveUp::Budget), _) => {
                "run again when the database is less busy; the run resumes at this step".to_owned()
            }
            (StepErrorKind::Statement(_), Some("57014")) => format!(
                "the statement ran longer than its statement_timeout of {}; raise `statement_timeout` (or `long_statement_timeout` for online steps) in the migration, then run again; the run resumes at this step",
                crate::timeout::human_ms(self.timeouts_ms.1)
            ),
            (StepErrorKind::Statement(_), None) => CONNECTION_ADVICE.to_owned(),
            (StepErrorKind::Statement(_), Some(code)) if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") => {
                CONNECTION_ADVICE.to_owned()
            }
            (StepErrorKind::Statement(_), _) => "fix the cause, then run again; the run resumes at this step".to_owned(),
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} step {} of {} (`{}`) ",
            self.migration,
            self.phase,
            self.index + 1,
            self.total,
            self.description
        )?;
        match &self.kind {
            StepErrorKind::DuplicateKeys => {
                f.write_str("cannot build the unique index: the table has duplicate keys")?
            }
            StepErrorKind::Postcondition => {
                f.write_str("ran, but its result is not in the catalog")?
            }
            StepErrorKind::Refused => f.write_str("was refused")?,
            StepErrorKind::BackfillKey => f.write_str("cannot walk the table in keyset batches")?,
            StepErrorKind::BackfillIncomplete { remaining } => write!(
                f,
                "did not converge: {remaining} row(s) still need the backfill"
            )?,
            StepErrorKind::Statement(why) => {
                write!(f, "failed after {} attempt(s)", self.attempts)?;
                if *why != GiveUp::Permanent {
                    write!(f, ", {}", why.describe())?;
                }
            }
        }
        f.write_str(": ")?;
        if let Some(code) = &self.sqlstate {
            write!(f, "[SQLSTATE {code}] ")?;
        }
        f.write_str(&self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        if !self.blockers.is_empty() || self.sqlstate.as_deref() == Some("55P03") {
            write!(f, "; blocked by: {}", blockers::list(&self.blockers))?;
        }
        write!(f, "; sql: `{}`", self.sql)?;
        for note in &self.notes {
            write!(f, "; {note}")?;
        }
        write!(f, "; {}", self.advice())
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// An applied (or started) migration whose plan differs from the binary's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Version and the name in the binary.
    pub migration: MigrationId,
    /// The name recorded in the history, when it differs.
    pub recorded_name: Option<String>,
    /// Checksum recorded in the history (hex).
    pub recorded_checksum: String,
    /// Checksum of the binary's plan (hex).
    pub checksum: String,
    /// Steps whose description or SQL differ; empty when only settings, timeouts, lock levels or
    /// other step metadata changed.
    pub changes: Vec<StepChange>,
}

/// One differing step of a drifted migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepChange {
    /// The phase.
    pub phase: PhaseKind,
    /// 0-based index.
    pub index: usize,
    /// Recorded (description, SQL), `None` when the binary added the step.
    pub recorded: Option<(String, String)>,
    /// The binary's (description, SQL), `None` when the binary removed the step.
    pub current: Option<(String, String)>,
}

impl fmt::Display for StepChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} step {} ", self.phase, self.index + 1)?;
        match (&self.recorded, &self.current) {
            (Some((od, os)), Some((nd, ns))) => {
                if od != nd {
                    write!(f, "was `{od}`, now `{nd}`")?;
                } else {
                    write!(f, "`{nd}`")?;
                }
                if os != ns {
                    write!(f, ": SQL was `{os}`, now `{ns}`")?;
                } else {
                    f.write_str(" (same SQL)")?;
                }
                Ok(())
            }
            (None, Some((nd, ns))) => write!(f, "added: `{nd}`: `{ns}`"),
            (Some((od, os)), None) => write!(f, "removed: `{od}`: `{os}`"),
            (None, None) => f.write_str("unchanged"),
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} was recorded with a different plan (checksum {} in the history, {} in this binary)",
            self.migration,
            &self.recorded_checksum[..self.recorded_checksum.len().min(12)],
            &self.checksum[..self.checksum.len().min(12)]
        )?;
        if let Some(old) = &self.recorded_name {
            write!(f, "; recorded name `{old}`")?;
        }
        if self.changes.is_empty() {
            f.write_str("; the steps' descriptions and SQL are the same, so its settings, timeouts, lock levels or step kinds changed")
        } else {
            let changes: Vec<String> = self.changes.iter().map(|c| c.to_string()).collect();
            write!(f, "; {}", changes.join("; "))
        }
    }
}

fn display_drift(drifts: &[Drift]) -> String {
    let versions: Vec<String> = drifts
        .iter()
        .map(|d| d.migration.version.to_string())
        .collect();
    let list: Vec<String> = drifts.iter().map(|d| d.to_string()).collect();
    format!(
        "{} already applied or started migration(s) changed since they ran, nothing was run: {}; revert the edit and put the change in a new migration, or, to keep the edit, record the new plan with `migrate accept-drift {}` (`Migrator::accept_drift`): its steps already done are not run again (the database is taken to match their new SQL), the others run with the new plan at the next `run`",
        drifts.len(),
        list.join(" | "),
        versions.join("`/`migrate accept-drift ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> MigrationId {
        MigrationId {
            version: 3,
            name: "users_email_index".into(),
        }
    }

    #[test]
    fn lock_timeout_step_error_names_blockers_and_advice() {
        let e = Error::Step(Box::new(StepError {
            migration: id(),
            phase: PhaseKind::Expand,
            index: 0,
            total: 2,
            description: "add column \"x\"".into(),
            sql: "ALTER TABLE \"t\" ADD COLUMN \"x\" int".into(),
            attempts: 4,
            kind: StepErrorKind::Statement(GiveUp::Budget),
            sqlstate: Some("55P03".into()),
            message: "canceling statement due to lock timeout".into(),
            detail: None,
            timeouts_ms: (1000, 30000),
            blockers: vec![Blocker {
                pid: 99,
                application_name: "psql".into(),
                state: Some("idle in transaction".into()),
                query: "LOCK TABLE t".into(),
                transaction_age: Some(Duration::from_secs(3)),
            }],
            notes: Vec::new(),
            source: None,
        }));
        let s = e.to_string();
        assert!(s.starts_with("migration 3 `users_email_index`, expand step 1 of 2 (`add column \"x\"`) failed after 4 attempt(s), the retry time budget is spent"), "{s}");
        assert!(
            s.contains("[SQLSTATE 55P03] canceling statement due to lock timeout"),
            "{s}"
        );
        assert!(s.contains("blocked by: pid 99 (application `psql`, idle in transaction, transaction open 3.0 s): `LOCK TABLE t`"), "{s}");
        assert!(
            s.contains("sql: `ALTER TABLE \"t\" ADD COLUMN \"x\" int`"),
            "{s}"
        );
        assert!(s.contains("end the blocking sessions"), "{s}");
    }

    #[test]
    fn drift_lists_changed_steps_and_the_fix() {
        let e = Error::Drift(vec![Drift {
            migration: id(),
            recorded_name: None,
            recorded_checksum: "a".repeat(64),
            checksum: "b".repeat(64),
            changes: vec![StepChange {
                phase: PhaseKind::Expand,
                index: 1,
                recorded: Some(("d".into(), "CREATE INDEX a".into())),
                current: Some(("d".into(), "CREATE INDEX b".into())),
            }],
        }]);
        let s = e.to_string();
        assert!(s.contains("migration 3 `users_email_index` was recorded with a different plan (checksum aaaaaaaaaaaa in the history, bbbbbbbbbbbb in this binary)"), "{s}");
        assert!(
            s.contains("expand step 2 `d`: SQL was `CREATE INDEX a`, now `CREATE INDEX b`"),
            "{s}"
        );
        assert!(
            s.contains("`migrate accept-drift 3` (`Migrator::accept_drift`)"),
            "{s}"
        );
    }

    #[test]
    fn server_too_old_says_both_versions() {
        let e = Error::ServerTooOld {
            server: PgVersion(11),
            migrations: vec![(id(), PgVersion(12))],
        };
        assert_eq!(
            e.to_string(),
            "the server runs PostgreSQL 11 but migration 3 `users_email_index` targets PostgreSQL 12 or newer; nothing was run; upgrade the server (or, if the migration does not need the newer server, lower its `set target_postgres`)"
        );
    }

    #[test]
    fn a_broken_bookkeeping_connection_says_to_run_again() {
        let lost = Error::Database {
            context: "reading the history".into(),
            source: sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            )),
        };
        assert_eq!(
            lost.to_string(),
            "reading the history failed: error communicating with database: connection reset by peer; the connection was lost or terminated; run again: the next run resumes where this one stopped"
        );
        assert!(matches!(lost.on_lock_connection(), Error::LockLost { .. }));
        let other = Error::Database {
            context: "reading the history".into(),
            source: sqlx::Error::RowNotFound,
        };
        assert!(!other.to_string().contains("run again"), "{other}");
        assert!(matches!(other.on_lock_connection(), Error::Database { .. }));
    }
}
