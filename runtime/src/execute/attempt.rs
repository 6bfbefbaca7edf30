//! One attempt at a step, on the step connection.

use std::time::Duration;

use tokio::time::Instant;

use sqlx::postgres::PgDatabaseError;
use sqlx::{Connection, PgConnection};

use super::detach;
use super::index::{self, IndexState};
use super::partitioned;
use super::postcondition;
use crate::connect::{simple, simple_all};
use crate::history::{self, RowState, StepKey, StepState, Tables};
use crate::plan::{Migration, Postcondition, Step, StepKind};
use crate::session;
use crate::timeout::Timeouts;

/// How a successful attempt settled the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    /// The statements ran.
    Ran,
    /// Nothing had to run: another session's transaction recorded the step done (transactional
    /// steps), or the index an interrupted run was building is there and valid (concurrent builds).
    AlreadyDone,
}

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct AttemptError {
    /// The statement that failed.
    pub(crate) sql: String,
    pub(crate) sqlstate: Option<String>,
    pub(crate) message: String,
    pub(crate) detail: Option<String>,
    /// The statements succeeded but the postcondition does not hold.
    pub(crate) postcondition_failed: bool,
    /// The runtime refused the step after looking at the catalog (`message` says why).
    pub(crate) refused: bool,
    /// The step's session was found changed before its statement (a transaction pooler): what was
    /// seen. Nothing of the step ran.
    pub(crate) session_changed: Option<String>,
    pub(crate) source: Option<sqlx::Error>,
}

impl AttemptError {
    pub(crate) fn new(source: sqlx::Error, sql: &str) -> AttemptError {
        let (sqlstate, message, detail) = match &source {
            sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
                Some(pg) => (
                    Some(pg.code().to_owned()),
                    pg.message().to_owned(),
                    pg.detail().map(str::to_owned),
                ),
                None => (
                    db.code().map(|c| c.into_owned()),
                    db.message().to_owned(),
                    None,
                ),
            },
            other => (None, other.to_string(), None),
        };
        AttemptError {
            sql: sql.to_owned(),
            sqlstate,
            message,
            detail,
            postcondition_failed: false,
            refused: false,
            session_changed: None,
            source: Some(source),
        }
    }

    /// A refusal after looking at the catalog; `sql` is what the step was about to do or the check.
    pub(crate) fn refused(sql: impl Into<String>, message: impl Into<String>) -> AttemptError {
        AttemptError {
            sql: sql.into(),
            sqlstate: None,
            message: message.into(),
            detail: None,
            postcondition_failed: false,
            refused: true,
            session_changed: None,
            source: None,
        }
    }

    /// The step's session was found changed right before `sql` (a transaction pooler).
    pub(crate) fn session_changed(sql: &str, evidence: String) -> AttemptError {
        AttemptError {
            sql: sql.to_owned(),
            sqlstate: None,
            message: evidence.clone(),
            detail: None,
            postcondition_failed: false,
            refused: false,
            session_changed: Some(evidence),
            source: None,
        }
    }

    fn postcondition(step: &Step) -> AttemptError {
        AttemptError {
            sql: history::step_sql(step),
            sqlstate: None,
            message: format!(
                "after the step, {}",
                postcondition::describe(step.postcondition)
            ),
            detail: None,
            postcondition_failed: true,
            refused: false,
            session_changed: None,
            source: None,
        }
    }

    /// Whether the connection is unusable after this error: no SQLSTATE (I/O, protocol, closed),
    /// class 08 (connection exception) or 57P01-57P03 (the backend was terminated or the server is
    /// shutting down).
    pub(crate) fn connection_broken(&self) -> bool {
        match self.sqlstate.as_deref() {
            None => !self.postcondition_failed && !self.refused,
            Some(code) => code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03"),
        }
    }
}

/// The history writes a plain transactional step makes in its own transaction besides marking itself
/// done, so that they cost no commit (and no round trip on the control connection) of their own: a
/// run of small migrations then commits once per step, as `sqlx::migrate` commits once per migration.
/// Exactly-once is unchanged: what is written commits with the step or not at all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InStep {
    /// The migration has no history row yet: record its start first
    /// ([`history::record_start_in_step`]). A failed step then records the start itself.
    pub(crate) start: Option<&'static Migration>,
    /// The step is the phase's last: move the migration to this state, adding the time since the
    /// phase started.
    pub(crate) finish: Option<(RowState, Instant)>,
    /// This run's attempts at the step, counted here instead of by `mark_attempt` before each.
    pub(crate) attempts: u32,
    /// The time the step took before this attempt (earlier attempts, waits), recorded in its
    /// duration with the attempt's own.
    pub(crate) waited: Duration,
}

/// Whether `step` makes its history writes in its own transaction ([`InStep`]): a plain SQL step
/// run in a transaction. Phased steps and backfills keep their own bookkeeping, and a step that runs
/// alone must be recorded running before its statement (a resumed run looks at that).
pub(crate) fn records_in_step(step: &Step) -> bool {
    matches!(step.kind, StepKind::Sql)
        && step.transaction == crate::plan::Transaction::Transactional
}

/// Runs a transactional step: `SET LOCAL` timeouts, a lock on the step's history row (so no two
/// sessions apply the step), the statements, the postcondition check and the history updates
/// ([`InStep`]), all committed together or not at all.
///
/// A migration's first step with no postcondition goes to the server in one query message where it
/// can ([`in_one_message`]); otherwise, or when the history rows turn out to exist, in four round
/// trips: `BEGIN` and the timeouts, the history row, the statements, `COMMIT`.
pub(crate) async fn transactional(
    conn: &mut PgConnection,
    step: &Step,
    timeouts: Timeouts,
    tables: &Tables,
    key: StepKey,
    server_version_num: u32,
    in_step: InStep,
) -> Result<Settled, AttemptError> {
    if let Some(m) = in_step.start {
        if step.postcondition == Postcondition::None && server_version_num >= 130_000 {
            if let Some(settled) =
                in_one_message(conn, step, timeouts, tables, m, key, in_step).await?
            {
                return Ok(settled);
            }
        }
    }
    let started = Instant::now();
    let elapsed = in_step.waited;
    // The timeouts go with `BEGIN`, in one round trip.
    let begin = format!("BEGIN; {}", timeouts.set_sql(true));
    let mut tx = conn
        .begin_with(begin.clone())
        .await
        .map_err(|e| AttemptError::new(e, &begin))?;
    let result = async {
        // A step row this transaction inserted is locked by it, and pending: no other session can
        // have applied the step, so it needs no look at the row (one round trip fewer).
        let mut inserted = false;
        if let Some(m) = in_step.start {
            inserted = history::record_start_in_step(&mut tx, tables, m, key)
                .await
                .map_err(|e| AttemptError::new(e, "recording the start of the migration"))?;
        }
        if !inserted && done_by_another(&mut tx, tables, key).await? {
            return Ok(Settled::AlreadyDone);
        }
        // All statements in one round trip, and the history update with them when there is no
        // postcondition to check in between; an error still names its statement.
        if step.postcondition == crate::plan::Postcondition::None {
            let finish = in_step
                .finish
                .map(|(state, since)| (state, since.elapsed()));
            let done = history::done_inline(tables, key, elapsed, in_step.attempts, finish);
            let mut all: Vec<&str> = step.statements.to_vec();
            all.push(&done);
            simple_all(&mut tx, &all)
                .await
                .map_err(|(i, e)| match step.statements.get(i) {
                    Some(sql) => AttemptError::new(e, sql),
                    None => AttemptError::new(e, "recording the step as done"),
                })?;
            return Ok(Settled::Ran);
        }
        simple_all(&mut tx, step.statements)
            .await
            .map_err(|(i, e)| AttemptError::new(e, step.statements[i]))?;
        let holds = postcondition::holds(&mut tx, step.postcondition)
            .await
            .map_err(|e| AttemptError::new(e, "checking the step's postcondition"))?;
        if !holds {
            return Err(AttemptError::postcondition(step));
        }
        let elapsed = elapsed + started.elapsed();
        match in_step.finish {
            None => history::mark_done(&mut tx, tables, key, elapsed, in_step.attempts).await,
            Some((state, since)) => {
                history::mark_done_with_state(
                    &mut tx,
                    tables,
                    key,
                    elapsed,
                    in_step.attempts,
                    state,
                    since.elapsed(),
                )
                .await
            }
        }
        .map_err(|e| AttemptError::new(e, "recording the step as done"))?;
        Ok(Settled::Ran)
    }
    .await;
    match result {
        Ok(settled) => tx
            .commit()
            .await
            .map(|()| settled)
            .map_err(|e| AttemptError::new(e, "COMMIT")),
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rollback after a failed attempt failed");
            }
            Err(e)
        }
    }
}

/// The whole transaction of a migration's first step as one simple query (one round trip): `BEGIN`,
/// the timeouts, the history rows ([`history::start_inline`], which holds off any other session
/// until the commit, as [`history::record_start_in_step`] does), the statements, the step recorded
/// done ([`history::done_inline`]) and `COMMIT`. The server stops at the first error, and the
/// transaction is rolled back with nothing of it applied.
///
/// For a step with no postcondition to check between its statements and its history, on PostgreSQL
/// 13 or later: an earlier server arms the `statement_timeout` timer once per query message and a
/// `SET` inside it does not re-arm it, so the value the session had before (a concurrent build's,
/// which sets it on the session) would bound the step's statements instead of the step's own.
///
/// `None`, with nothing applied, when the migration's history rows exist after all (another
/// session wrote them since the history was read): the caller goes the usual way, which looks at
/// what that session recorded.
async fn in_one_message(
    conn: &mut PgConnection,
    step: &Step,
    timeouts: Timeouts,
    tables: &Tables,
    migration: &Migration,
    key: StepKey,
    in_step: InStep,
) -> Result<Option<Settled>, AttemptError> {
    const START: usize = 3;
    let [lock_timeout, statement_timeout] = timeouts.set_statements(true);
    let start = history::start_inline(tables, migration);
    let finish = in_step
        .finish
        .map(|(state, since)| (state, since.elapsed()));
    let done = history::done_inline(tables, key, in_step.waited, in_step.attempts, finish);
    let mut all: Vec<&str> = vec!["BEGIN", &lock_timeout, &statement_timeout, &start];
    all.extend(step.statements);
    all.push(&done);
    all.push("COMMIT");
    let Err((failed, error)) = simple_all(conn, &all).await else {
        return Ok(Some(Settled::Ran));
    };
    let commit = all.len() - 1;
    if failed < commit {
        if let Err(rollback) = simple(conn, "ROLLBACK").await {
            tracing::debug!(error = %rollback, "rollback after a failed attempt failed");
        }
    }
    let sql = match failed {
        START => {
            let exists = matches!(&error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"));
            if exists {
                return Ok(None);
            }
            "recording the start of the migration"
        }
        i if i == commit => "COMMIT",
        i if i == commit - 1 => "recording the step as done",
        i if i > START => step.statements[i - START - 1],
        i => all[i],
    };
    Err(AttemptError::new(error, sql))
}

/// First in every transactional step (plain or phased): locks the step's history row for the rest of
/// the transaction and tells whether another session's transaction recorded the step done. A runner
/// that lost the lock (or an interrupted run) may still be committing the step: the row lock waits
/// for it, so the step is seen done instead of applied twice or judged on a catalog it changed.
pub(crate) async fn done_by_another(
    tx: &mut PgConnection,
    tables: &Tables,
    key: StepKey,
) -> Result<bool, AttemptError> {
    let recorded = history::lock_step(tx, tables, key)
        .await
        .map_err(|e| AttemptError::new(e, "locking the step's history row"))?;
    Ok(recorded == Some(StepState::Done))
}

/// Runs a step that must be alone outside a transaction: session `SET` of the timeouts, for a
/// concurrent index build the cleanup of an INVALID leftover, then the statement.
///
/// `resumed`: an earlier run started the step. Its session may outlive it for a while (a killed
/// runner's build goes on until the server notices the closed socket), so the index it was building
/// can turn valid after the caller's postcondition check: a valid index found here settles the step.
///
/// Right before the statement, the session is checked to still be the one opened as `pid`, with the
/// timeouts just set (see the `session` module): a statement of this kind must never run without them.
pub(crate) async fn alone(
    conn: &mut PgConnection,
    pid: i32,
    step: &Step,
    timeouts: Timeouts,
    resumed: bool,
) -> Result<Settled, AttemptError> {
    let set = timeouts.set_sql(false);
    simple(conn, &set)
        .await
        .map_err(|e| AttemptError::new(e, &set))?;
    if let StepKind::ConcurrentIndex {
        schema,
        index,
        table,
        unique,
        ..
    } = step.kind
    {
        let drop_sql = || {
            format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}",
                index::qualified(schema, index)
            )
        };
        if resumed
            && index::state(conn, schema, index)
                .await
                .map_err(|e| AttemptError::new(e, &drop_sql()))?
                == IndexState::Valid
        {
            return Ok(Settled::AlreadyDone);
        }
        let partitioned = partitioned::is_partitioned(conn, table)
            .await
            .map_err(|e| AttemptError::new(e, "looking up the table's kind"))?;
        if partitioned {
            let statement = step.statements.first().copied().unwrap_or_default();
            let Some(build) = partitioned::Build::parse(statement, table, unique) else {
                return Err(AttemptError::refused(
                    statement,
                    format!("{table} is partitioned, and this statement is not one the runtime can build partition by partition; upgrade zerodown"),
                ));
            };
            return partitioned::build(conn, pid, timeouts, &build, schema, index, table).await;
        }
        index::drop_invalid_leftover(conn, schema, index)
            .await
            .map_err(|e| AttemptError::new(e, &drop_sql()))?;
    }
    let changed = session::verify_step_session(conn, pid, timeouts.lock, timeouts.statement)
        .await
        .map_err(|e| AttemptError::new(e, "checking the step's session"))?;
    if let Some(evidence) = changed {
        return Err(AttemptError {
            sql: history::step_sql(step),
            sqlstate: None,
            message: evidence.clone(),
            detail: None,
            postcondition_failed: false,
            refused: false,
            session_changed: Some(evidence),
            source: None,
        });
    }
    if let Postcondition::Detached { parent, partition } = step.postcondition {
        if detach::state(conn, parent, partition)
            .await
            .map_err(|e| AttemptError::new(e, "looking up the partition's state"))?
            == detach::State::Pending
        {
            let finalize = detach::finalize_sql(parent, partition);
            simple(conn, &finalize)
                .await
                .map_err(|e| AttemptError::new(e, &finalize))?;
            return Ok(Settled::Ran);
        }
    }
    for sql in step.statements {
        simple(conn, sql)
            .await
            .map_err(|e| AttemptError::new(e, sql))?;
    }
    Ok(Settled::Ran)
}
