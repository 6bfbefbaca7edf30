//! Rename table (its rollback) and drop column (its expand and rollback).

use sqlx::PgConnection;

use super::catalog;
use super::{catalog_error, exec, in_transaction, shown, Ctx};
use crate::execute::attempt::AttemptError;
use crate::history::{self, StepKey};
use crate::plan::carry::drop_not_null_sql;
use crate::plan::phased::not_null_helper;
use crate::plan::sqltext::{last_name, quote_ident};
use crate::plan::{Action, Change, ColumnRef, PhasedStep, StepKind, TableRename};
use crate::status::PhaseKind;

/// What the drop-column expand records when it dropped `NOT NULL`.
const DROPPED_NOT_NULL: &str = "not null";

/// Rollback of a rename, in the step's transaction: when the old name is a view on the new one (what
/// the expand created), drop the view and rename the table back. Otherwise the expand never took
/// effect.
pub(super) async fn rename_back(
    tx: &mut PgConnection,
    r: &TableRename,
) -> Result<(), AttemptError> {
    let view = catalog::table(tx, r.table).await.map_err(catalog_error)?;
    let table = catalog::table(tx, r.new_table)
        .await
        .map_err(catalog_error)?;
    let (Some(view), Some(table)) = (view, table) else {
        return Ok(());
    };
    let ours: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_rewrite w JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                        WHERE w.ev_class = $1::bigint::oid AND d.refobjid = $2::bigint::oid)",
    )
    .bind(view.oid)
    .bind(table.oid)
    .fetch_one(&mut *tx)
    .await
    .map_err(catalog_error)?;
    if view.relkind != "v" || !ours {
        tracing::info!(
            view = r.table,
            table = r.new_table,
            "no view on the renamed table: nothing to undo"
        );
        return Ok(());
    }
    exec(tx, &format!("DROP VIEW {}", r.table)).await?;
    exec(
        tx,
        &format!(
            "ALTER TABLE {} RENAME TO {}",
            r.new_table,
            last_name(r.table)
        ),
    )
    .await?;
    Ok(())
}

/// Expand of a drop column, in the step's transaction: refuses when the contract's `DROP COLUMN` would
/// fail or silently take more with it (a view, a foreign key of another table, a generated column
/// ...), then drops `NOT NULL` if the column has it, so code that no longer writes the column can
/// insert. Returns the memo for the rollback.
pub(super) async fn drop_not_null(
    tx: &mut PgConnection,
    cx: &Ctx<'_>,
    d: &ColumnRef,
) -> Result<Option<&'static str>, AttemptError> {
    let show = format!("{}.{}", d.table, quote_ident(d.column));
    let table = catalog::table(tx, d.table)
        .await
        .map_err(catalog_error)?
        .ok_or_else(|| {
            AttemptError::refused(d.table, format!("table {} does not exist", d.table))
        })?;
    let column = catalog::column(tx, table.oid, d.column)
        .await
        .map_err(catalog_error)?
        .ok_or_else(|| AttemptError::refused(d.table, format!("column {show} does not exist")))?;
    let blocking = catalog::blocking(tx, table.oid, column.attnum)
        .await
        .map_err(catalog_error)?;
    let in_primary_key = catalog::indexes_on(tx, table.oid, column.attnum)
        .await
        .map_err(catalog_error)?
        .iter()
        .any(|ix| ix.constraint.as_ref().is_some_and(|k| k.kind == "p"));
    if in_primary_key || !blocking.is_empty() {
        let mut list: Vec<String> = blocking
            .iter()
            .map(|b| format!("{} ({})", b.object, b.why))
            .collect();
        if in_primary_key {
            list.push("the primary key (it is part of it)".to_owned());
        }
        return Err(AttemptError::refused(
            d.table,
            format!(
                "{show} cannot be dropped because of {}; nothing was changed; drop or change {} first",
                list.join(", "),
                if list.len() == 1 { "it" } else { "them" }
            ),
        ));
    }
    let derived: Vec<String> = column
        .not_null
        .then(|| drop_not_null_sql(d.table, d.column))
        .into_iter()
        .collect();
    if let Some(refused) = shown::refusal(cx, &derived) {
        return Err(refused);
    }
    let Some(sql) = derived.first() else {
        return Ok(None);
    };
    exec(tx, sql).await?;
    Ok(Some(DROPPED_NOT_NULL))
}

/// Rollback of a drop column, outside a transaction: when the expand dropped `NOT NULL`, restore it
/// the online way (a `NOT VALID` check, validated, then `SET NOT NULL` without a scan). Fails, changing
/// nothing lasting, when rows written since the expand hold NULL.
pub(super) async fn restore_not_null(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    d: &ColumnRef,
) -> Result<(), AttemptError> {
    let expand_step = cx.migration.expand.steps.iter().position(|s| {
        matches!(s.kind, StepKind::Phased(PhasedStep { change: Change::DropColumn(c), action: Action::DropNotNull, .. }) if c == *d)
    });
    let Some(index) = expand_step else {
        return Ok(());
    };
    let key = StepKey {
        version: cx.migration.version,
        phase: PhaseKind::Expand,
        index,
    };
    let memo = history::memo(conn, cx.tables, key)
        .await
        .map_err(|e| AttemptError::new(e, "reading the history"))?;
    if memo.as_deref() != Some(DROPPED_NOT_NULL) {
        return Ok(());
    }
    let Some(table) = catalog::table(conn, d.table).await.map_err(catalog_error)? else {
        return Ok(());
    };
    let Some(column) = catalog::column(conn, table.oid, d.column)
        .await
        .map_err(catalog_error)?
    else {
        return Ok(());
    };
    if column.not_null {
        return Ok(());
    }
    let (t, c) = (d.table, quote_ident(d.column));
    let helper = not_null_helper(d.column);
    let h = quote_ident(&helper);
    let existing: Vec<(String, bool)> = catalog::constraint_names(conn, table.oid)
        .await
        .map_err(catalog_error)?;
    let found = existing
        .iter()
        .find(|(n, _)| *n == helper)
        .map(|(_, validated)| *validated);
    if found.is_none() {
        in_transaction(
            conn,
            cx.timeouts,
            &[format!(
                "ALTER TABLE {t} ADD CONSTRAINT {h} CHECK ({c} IS NOT NULL) NOT VALID"
            )],
        )
        .await?;
    }
    if found != Some(true) {
        let validate = format!("ALTER TABLE {t} VALIDATE CONSTRAINT {h}");
        if let Err(e) = in_transaction(conn, cx.online(), std::slice::from_ref(&validate)).await {
            if e.sqlstate.as_deref() == Some("23514") {
                // Leave nothing behind: the next attempt starts over.
                in_transaction(
                    conn,
                    cx.timeouts,
                    &[format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {h}")],
                )
                .await?;
                return Err(AttemptError::refused(
                    validate,
                    format!(
                        "{t}.{c} holds NULL in rows written since the expand, so its NOT NULL cannot be restored; fill them, then roll back again"
                    ),
                ));
            }
            return Err(e);
        }
    }
    in_transaction(
        conn,
        cx.timeouts,
        &[
            format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"),
            format!("ALTER TABLE {t} DROP CONSTRAINT {h}"),
        ],
    )
    .await
}
