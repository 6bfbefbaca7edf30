//! Before the contract of a type change or rename swaps the columns: is the new column, on every row,
//! what the sync trigger makes of the old one? The contract drops the old column, so a row where the
//! copy is wrong would silently lose what the application stored.
//!
//! A copy can only go wrong through a write the sync trigger did not see or saw too early: the trigger
//! disabled for a while, a user `BEFORE` trigger that fires after it, a replaced trigger function.
//! (Writes made as a replica, by logical replication, fire it: it is enabled `ALWAYS`.) Each of those
//! changes a row of `pg_trigger` or `pg_proc`, so the check is a comparison of fingerprints
//! ([`triggers::fingerprint`]) in the common case, and a scan only when the table's triggers changed:
//!
//! 1. the expand's prepare step records the fingerprint when it creates the sync trigger;
//! 2. [`online`] (the contract's first step, no lock that blocks the application) takes the fingerprint
//!    again: unchanged, nothing can differ; changed, it compares every row online and converts the
//!    differing ones again (a deterministic type change) or refuses naming them. It records the
//!    fingerprint it started from;
//! 3. [`under_lock`] (in the contract's transaction, under `ACCESS EXCLUSIVE`) compares with that last
//!    fingerprint: unchanged, done; changed since step 2, every row is compared under the lock.

use sqlx::{PgConnection, Row};

use super::column::both;
use super::{catalog_error, exec, in_transaction, Ctx};
use crate::backfill::key::{self, KeyError};
use crate::backfill::sql::{BatchSql, SESSION_SQL};
use crate::connect::simple;
use crate::execute::attempt::AttemptError;
use crate::history::{self, StepKey};
use crate::plan::phased::RESYNC_PASSES;
use crate::plan::sqltext::quote_ident;
use crate::plan::{Action, Change, ColumnChange, Migration, StepKind};
use crate::status::PhaseKind;
use crate::triggers::{self, WriteMode};

/// Rows per transaction when converting rows again online.
const RESYNC_BATCH: u64 = 1000;
/// Keys shown in a refusal.
const SAMPLE: i64 = 5;

/// The expand's copy of a column: where its prepare step is, and the backfill that fills the new column.
struct ExpandCopy {
    /// Index of the prepare step in the expand phase (its memo holds the first fingerprint).
    prepare: usize,
    /// `new = conversion(old)`, rendered.
    set_sql: &'static str,
    /// `new IS DISTINCT FROM conversion(old)`, rendered: the rows whose copy is wrong.
    differs: &'static str,
    /// The new column, rendered.
    columns: &'static [&'static str],
    fire_user_triggers: bool,
}

fn copy_of(m: &Migration, c: &ColumnChange) -> Option<ExpandCopy> {
    let steps = m.expand.steps;
    let prepare = steps.iter().position(|s| {
        matches!(s.kind, StepKind::Phased(p) if p.action == Action::Prepare && p.change == Change::Column(*c))
    })?;
    match steps.get(prepare + 1)?.kind {
        StepKind::Backfill(b) => Some(ExpandCopy {
            prepare,
            set_sql: b.set_sql,
            differs: b.pending_sql,
            columns: b.columns,
            fire_user_triggers: b.fire_user_triggers,
        }),
        _ => None,
    }
}

fn no_copy(c: &ColumnChange) -> AttemptError {
    AttemptError::refused(
        c.table,
        "the plan of this expand has no prepare and backfill steps for the column; regenerate it with this version of `migration!`",
    )
}

/// Refuses when an enabled user `BEFORE` row trigger fires after the sync trigger: the copy would miss
/// what it changes. Used by the expand's prepare step and by both checks here.
pub(super) async fn refuse_late_triggers(
    conn: &mut PgConnection,
    c: &ColumnChange,
) -> Result<(), AttemptError> {
    let all = triggers::user_triggers(conn, c.table)
        .await
        .map_err(catalog_error)?;
    let late = triggers::firing_after(&all, c.trigger);
    if late.is_empty() {
        return Ok(());
    }
    Err(AttemptError::refused(
        c.table,
        format!(
            "trigger(s) {} on {} fire after the sync trigger {} (PostgreSQL fires a table's triggers in the byte order of their names), so the copy would miss what they change; nothing was changed; rename them so their names sort before {} (e.g. without a leading `~` or non-ASCII character), then run again",
            late.join(", "),
            c.table,
            quote_ident(c.trigger),
            quote_ident(c.trigger),
        ),
    ))
}

/// The sync trigger's `tgenabled`, `None` when it does not exist.
async fn sync_trigger_state(
    conn: &mut PgConnection,
    c: &ColumnChange,
) -> Result<Option<String>, AttemptError> {
    sqlx::query_scalar(
        "SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2",
    )
    .bind(c.table)
    .bind(c.trigger)
    .fetch_optional(conn)
    .await
    .map_err(catalog_error)
}

fn missing_trigger(c: &ColumnChange) -> AttemptError {
    AttemptError::refused(
        c.table,
        format!(
            "the sync trigger {} on {} is missing, so writes since it was dropped may not be in the new column; nothing was changed; roll the migration back (`Migrator::rollback`, CLI `migrate rollback <version>`) and run it again",
            quote_ident(c.trigger),
            c.table
        ),
    )
}

/// The fingerprint of the table's triggers as this change sees them ([`triggers::fingerprint`]).
pub(super) async fn fingerprint(
    conn: &mut PgConnection,
    c: &ColumnChange,
) -> Result<String, AttemptError> {
    triggers::fingerprint(conn, c.table, c.function, c.trigger)
        .await
        .map_err(catalog_error)
}

/// The contract's first step: see the module docs.
pub(super) async fn online(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
) -> Result<(), AttemptError> {
    let copy = copy_of(cx.migration, c).ok_or_else(|| no_copy(c))?;
    exec(conn, &cx.online().set_sql(false)).await?;
    both(conn, c).await?;
    refuse_late_triggers(conn, c).await?;
    let state = sync_trigger_state(conn, c)
        .await?
        .ok_or_else(|| missing_trigger(c))?;
    if state != "A" {
        // Created by an earlier version, or changed by hand: replica writes may have bypassed it.
        let sql = format!(
            "ALTER TABLE {} ENABLE ALWAYS TRIGGER {}",
            c.table,
            quote_ident(c.trigger)
        );
        in_transaction(conn, cx.timeouts, &[sql]).await?;
    }
    // Taken before the rows are compared: a change after this point is seen by the contract.
    let now = fingerprint(conn, c).await?;
    let prepare = StepKey {
        version: cx.migration.version,
        phase: PhaseKind::Expand,
        index: copy.prepare,
    };
    let recorded = history::memo(conn, cx.tables, prepare)
        .await
        .map_err(|e| AttemptError::new(e, "reading the expand's trigger fingerprint"))?;
    if state == "A" && recorded.as_deref() == Some(now.as_str()) {
        tracing::info!(
            table = c.table,
            "no trigger of the table changed since the expand: every write went through the sync trigger, nothing to compare"
        );
    } else {
        tracing::info!(
            table = c.table,
            "the table's triggers changed since the expand (or it predates the fingerprint): comparing every row online"
        );
        resync_online(conn, cx, c, &copy).await?;
    }
    history::set_memo(conn, cx.tables, cx.key, &now)
        .await
        .map_err(|e| AttemptError::new(e, "recording the trigger fingerprint"))
}

/// In the contract's transaction, under its lock: see the module docs.
pub(super) async fn under_lock(
    tx: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
) -> Result<(), AttemptError> {
    let copy = copy_of(cx.migration, c).ok_or_else(|| no_copy(c))?;
    refuse_late_triggers(tx, c).await?;
    let state = sync_trigger_state(tx, c)
        .await?
        .ok_or_else(|| missing_trigger(c))?;
    let now = fingerprint(tx, c).await?;
    let verify = cx.migration.contract.steps.iter().position(|s| {
        matches!(s.kind, StepKind::Phased(p) if p.action == Action::Verify && p.change == Change::Column(*c))
    });
    let verified = match verify {
        Some(index) => {
            let key = StepKey {
                version: cx.migration.version,
                phase: PhaseKind::Contract,
                index,
            };
            history::memo(tx, cx.tables, key)
                .await
                .map_err(|e| AttemptError::new(e, "reading the verified trigger fingerprint"))?
        }
        None => None,
    };
    if state == "A" && verified.as_deref() == Some(now.as_str()) {
        return Ok(());
    }
    tracing::warn!(
        table = c.table,
        "the table's triggers changed since the online check: comparing every row under the lock"
    );
    let n = count_differing(tx, c, &copy).await?;
    if n == 0 {
        return Ok(());
    }
    if !c.deterministic {
        return Err(refuse_differing(tx, cx, c, &copy, n).await);
    }
    let mode = write_mode(tx, cx, c, &copy).await?;
    if let Some(set) = mode.set_local() {
        exec(tx, set).await?;
    }
    let update = format!(
        "UPDATE {} SET {} WHERE {}",
        c.table, copy.set_sql, copy.differs
    );
    exec(tx, &update).await?;
    if mode == WriteMode::Replica {
        exec(tx, "SET LOCAL session_replication_role = origin").await?;
    }
    tracing::warn!(
        table = c.table,
        rows = n,
        "converted rows written around the sync trigger again, under the lock"
    );
    Ok(())
}

async fn write_mode(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
    copy: &ExpandCopy,
) -> Result<WriteMode, AttemptError> {
    match triggers::write_mode(
        conn,
        c.table,
        copy.columns,
        copy.fire_user_triggers,
        cx.server_version_num,
    )
    .await
    .map_err(catalog_error)?
    {
        Ok(mode) => Ok(mode),
        Err(why) => Err(AttemptError::refused(
            c.table,
            format!("rows of {} differ from their copy and converting them again is not possible: {why}", c.table),
        )),
    }
}

/// Compares every row online and converts the differing ones again in batches, or refuses.
async fn resync_online(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
    copy: &ExpandCopy,
) -> Result<(), AttemptError> {
    let key = match key::resolve(conn, c.table, &[], cx.server_version_num).await {
        Ok(key) => key,
        Err(KeyError::Database(e)) => return Err(catalog_error(e)),
        Err(KeyError::Unusable(why)) => return Err(AttemptError::refused(c.table, why)),
    };
    let sql = BatchSql::new(c.table, key, copy.set_sql, copy.differs);
    let mut mode = None;
    for _ in 0..RESYNC_PASSES {
        let n = count_differing(conn, c, copy).await?;
        if n == 0 {
            return Ok(());
        }
        if !c.deterministic {
            return Err(refuse_differing(conn, cx, c, copy, n).await);
        }
        let mode = match mode {
            Some(m) => m,
            None => *mode.insert(write_mode(conn, cx, c, copy).await?),
        };
        tracing::warn!(
            table = c.table,
            rows = n,
            "rows differ from their copy (written around the sync trigger); converting them again"
        );
        resync_pass(conn, cx, &sql, mode).await?;
    }
    let n = count_differing(conn, c, copy).await?;
    if n == 0 {
        return Ok(());
    }
    Err(AttemptError::refused(
        c.table,
        format!(
            "after {RESYNC_PASSES} passes {n} row(s) of {} still differ from their copy: something keeps writing them around the sync trigger {} (a disabled trigger, or a trigger firing after it); nothing was swapped; find and stop it, then run `complete` again",
            c.table,
            quote_ident(c.trigger)
        ),
    ))
}

/// Rows whose new column differs from what the sync trigger makes of the old one.
async fn count_differing(
    conn: &mut PgConnection,
    c: &ColumnChange,
    copy: &ExpandCopy,
) -> Result<u64, AttemptError> {
    let sql = format!("SELECT count(*) FROM {} WHERE {}", c.table, copy.differs);
    let n: i64 = sqlx::query_scalar(&sql)
        .fetch_one(conn)
        .await
        .map_err(|e| AttemptError::new(e, &sql))?;
    Ok(n.max(0) as u64)
}

/// One keyset pass over the differing rows, each batch its own transaction with the step's
/// timeouts, converting them again.
async fn resync_pass(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    sql: &BatchSql,
    mode: WriteMode,
) -> Result<(), AttemptError> {
    let last = sql.last_key(true);
    let Some(row) = sqlx::query(&last)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| AttemptError::new(e, &last))?
    else {
        return Ok(());
    };
    let n = sql.key().len();
    let texts = |row: &sqlx::postgres::PgRow| -> Result<Vec<String>, sqlx::Error> {
        (0..n).map(|i| row.try_get::<String, _>(i)).collect()
    };
    let end = texts(&row).map_err(|e| AttemptError::new(e, &last))?;
    let mut after: Option<Vec<String>> = None;
    loop {
        let mut setup = format!("{}; {SESSION_SQL}", cx.timeouts.set_sql(true));
        if let Some(set) = mode.set_local() {
            setup = format!("{setup}; {set}");
        }
        let bound = sql.next_bound(after.is_some(), true, RESYNC_BATCH);
        let update = sql.update(after.is_some());
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| AttemptError::new(e, "BEGIN"))?;
        simple(&mut tx, &setup)
            .await
            .map_err(|e| AttemptError::new(e, &setup))?;
        let mut q = sqlx::query(&bound);
        for v in after.iter().flatten().chain(&end) {
            q = q.bind(v.as_str());
        }
        let Some(row) = q
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| AttemptError::new(e, &bound))?
        else {
            return Ok(());
        };
        let upper = texts(&row).map_err(|e| AttemptError::new(e, &bound))?;
        let passed: i64 = row.try_get(n).map_err(|e| AttemptError::new(e, &bound))?;
        let mut q = sqlx::query(&update);
        for v in after.iter().flatten().chain(&upper) {
            q = q.bind(v.as_str());
        }
        q.execute(&mut *tx)
            .await
            .map_err(|e| AttemptError::new(e, &update))?;
        tx.commit()
            .await
            .map_err(|e| AttemptError::new(e, "COMMIT"))?;
        if (passed as u64) < RESYNC_BATCH {
            return Ok(());
        }
        after = Some(upper);
    }
}

/// The refusal for rows whose copy differs and cannot be converted again: how many, and some keys.
async fn refuse_differing(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
    copy: &ExpandCopy,
    n: u64,
) -> AttemptError {
    let sample = sample_keys(conn, cx, c, copy).await;
    let fix = if c.rename {
        format!(
            "set both columns to the right value, e.g. `UPDATE {t} SET {b} = {a} WHERE {b} IS DISTINCT FROM {a}` if {a} holds it",
            t = c.table,
            a = quote_ident(c.column),
            b = quote_ident(c.new_column)
        )
    } else {
        format!(
            "set {} on those rows to the value it should hold (`{}`)",
            quote_ident(c.new_column),
            copy.set_sql
        )
    };
    AttemptError::refused(
        c.table,
        format!(
            "{n} row(s) of {} have {} different from {}: they were written while the sync trigger {} did not fire (disabled, or a trigger changed them after it), and which value is right only the application knows; {}; nothing was changed; {fix}, then run `complete` again",
            c.table,
            quote_ident(c.new_column),
            if c.rename { quote_ident(c.column) } else { format!("the conversion of {}", quote_ident(c.column)) },
            quote_ident(c.trigger),
            match sample {
                Some(keys) if !keys.is_empty() => format!("for example the rows with key {}", keys.join("; ")),
                _ => "the table has no key to name them by".to_owned(),
            },
        ),
    )
}

/// Up to [`SAMPLE`] keys (as text) of rows whose copy differs.
async fn sample_keys(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
    copy: &ExpandCopy,
) -> Option<Vec<String>> {
    let key = key::resolve(conn, c.table, &[], cx.server_version_num)
        .await
        .ok()?;
    let columns: Vec<String> = key.iter().map(|k| quote_ident(&k.name)).collect();
    let text: Vec<String> = columns.iter().map(|k| format!("{k}::text")).collect();
    let sql = format!(
        "SELECT concat_ws(', ', {}) FROM {} WHERE {} ORDER BY {} LIMIT {SAMPLE}",
        text.join(", "),
        c.table,
        copy.differs,
        columns.join(", ")
    );
    sqlx::query_scalar(&sql).fetch_all(conn).await.ok()
}
