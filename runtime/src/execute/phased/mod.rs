//! Steps of expand/contract operations whose SQL the runtime derives from the catalog
//! ([`StepKind::Phased`](crate::plan::StepKind::Phased)).
//!
//! Every action is idempotent, so the executor's usual retry and resume apply: a transactional step
//! commits its work with its history update or not at all; a step that runs alone (building indexes,
//! validating constraints, one rollback) is made of transactions that each skip what is already done.
//!
//! When the catalog shows something an operation cannot carry over, the step is refused with a
//! message naming the object, and its transaction is rolled back, so nothing changes.

mod catalog;
mod column;
mod shown;
mod table;
mod verify;

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use super::attempt::{done_by_another, AttemptError, Settled};
use crate::connect::simple;
use crate::history::{self, StepKey, Tables};
use crate::plan::{Action, Change, Migration, PhasedStep, Step, Transaction};
use crate::timeout::Timeouts;

/// Everything an attempt at a phased step needs.
pub(crate) struct Ctx<'a> {
    pub(crate) migration: &'static Migration,
    pub(crate) step: &'static Step,
    pub(crate) phased: PhasedStep,
    /// The attempt's timeouts (the step's, with the escalating lock timeout).
    pub(crate) timeouts: Timeouts,
    pub(crate) tables: &'a Tables,
    pub(crate) key: StepKey,
    /// Time spent on the step so far, recorded with it.
    pub(crate) elapsed: Duration,
    /// The server's `server_version_num`.
    pub(crate) server_version_num: u32,
    /// Hold what the step derives against what its plan shows (see [`shown`]).
    pub(crate) verify_schema: bool,
}

impl Ctx<'_> {
    /// The timeouts of online work inside the step (building an index, validating a constraint):
    /// the migration's online lock timeout and long statement timeout.
    fn online(&self) -> Timeouts {
        let s = &self.migration.settings;
        Timeouts {
            lock: Duration::from_millis(s.online_lock_timeout_ms),
            statement: Duration::from_millis(s.long_statement_timeout_ms),
        }
    }
}

/// One attempt at a phased step on the step connection.
pub(crate) async fn attempt(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
) -> Result<Settled, AttemptError> {
    match cx.step.transaction {
        Transaction::Transactional => {
            let mut tx = conn
                .begin()
                .await
                .map_err(|e| AttemptError::new(e, "BEGIN"))?;
            let result = async {
                exec(&mut tx, &cx.timeouts.set_sql(true)).await?;
                // Before reading the catalog, which a late commit of this step may have changed.
                if done_by_another(&mut tx, cx.tables, cx.key).await? {
                    return Ok(Settled::AlreadyDone);
                }
                let memo = transactional(&mut tx, cx).await?;
                if let Some(memo) = memo {
                    history::set_memo(&mut tx, cx.tables, cx.key, &memo)
                        .await
                        .map_err(|e| AttemptError::new(e, "recording what the step changed"))?;
                }
                history::mark_done(&mut tx, cx.tables, cx.key, cx.elapsed, 0)
                    .await
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
        Transaction::Alone => match (cx.phased.change, cx.phased.action) {
            (Change::Column(c), Action::CarryIndexes) => column::carry_indexes(conn, cx, &c).await,
            (Change::Column(c), Action::ValidateConstraints) => {
                column::validate_constraints(conn, cx, &c).await
            }
            (Change::Column(c), Action::Verify) => verify::online(conn, cx, &c).await,
            (Change::DropColumn(d), Action::Rollback) => {
                table::restore_not_null(conn, cx, &d).await
            }
            _ => Err(unsupported(cx)),
        }
        .map(|()| Settled::Ran),
    }
}

/// The work of a transactional phased step, inside its transaction; returns the memo to record.
async fn transactional(
    tx: &mut PgConnection,
    cx: &Ctx<'_>,
) -> Result<Option<String>, AttemptError> {
    match (cx.phased.change, cx.phased.action) {
        (Change::Column(c), Action::Prepare) => column::prepare(tx, cx, &c).await.map(Some),
        (Change::Column(c), Action::AddConstraints) => {
            column::add_constraints(tx, cx, &c).await.map(|()| None)
        }
        (Change::Column(c), Action::Contract) => column::contract(tx, cx, &c).await.map(|()| None),
        (Change::Column(c), Action::Rollback) => column::rollback(tx, &c).await.map(|()| None),
        (Change::RenameTable(r), Action::Rollback) => {
            table::rename_back(tx, &r).await.map(|()| None)
        }
        (Change::DropColumn(d), Action::DropNotNull) => table::drop_not_null(tx, cx, &d)
            .await
            .map(|memo| memo.map(str::to_owned)),
        _ => Err(unsupported(cx)),
    }
}

fn unsupported(cx: &Ctx<'_>) -> AttemptError {
    AttemptError::refused(
        cx.step.description,
        format!(
            "this version of zerodown cannot run `{}` for this operation {}; upgrade zerodown",
            cx.phased.action.as_str(),
            match cx.step.transaction {
                Transaction::Transactional => "in a transaction",
                Transaction::Alone => "outside a transaction",
            }
        ),
    )
}

/// Runs one statement.
async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), AttemptError> {
    tracing::debug!(sql, "phased step statement");
    simple(conn, sql)
        .await
        .map_err(|e| AttemptError::new(e, sql))
}

/// Runs `statements` in a transaction of their own, with `timeouts`.
async fn in_transaction(
    conn: &mut PgConnection,
    timeouts: Timeouts,
    statements: &[String],
) -> Result<(), AttemptError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(|e| AttemptError::new(e, "BEGIN"))?;
    let result = async {
        exec(&mut tx, &timeouts.set_sql(true)).await?;
        for sql in statements {
            exec(&mut tx, sql).await?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => tx
            .commit()
            .await
            .map_err(|e| AttemptError::new(e, "COMMIT")),
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rollback after a failed statement failed");
            }
            Err(e)
        }
    }
}

/// A catalog read failed.
fn catalog_error(e: sqlx::Error) -> AttemptError {
    AttemptError::new(e, "reading the catalog")
}
