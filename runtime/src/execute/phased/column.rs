//! Column type change and column rename: prepare, carry indexes and constraints over, contract,
//! rollback. See [`Action`](crate::plan::Action) for what each does.

use std::collections::BTreeMap;

use sqlx::PgConnection;

use super::catalog::{self, ColumnInfo, TableInfo};
use super::{catalog_error, exec, in_transaction, shown, verify, Ctx};
use crate::execute::attempt::AttemptError;
use crate::execute::index::{self, IndexState};
use crate::plan::carry::{
    comment_sql, constraint_sql, contract_sql, index_sql, not_null_sql, referencing_sql,
    rename_column_sql, validate_sql, CarriedConstraint, CarriedIndex, Contract, KeyConstraint,
};
use crate::plan::phased::{carried_name, is_carried_name, not_null_helper};
use crate::plan::sqltext::{quote_ident, quote_literal};
use crate::plan::ColumnChange;

/// `"users".email`, for messages.
fn show(c: &ColumnChange, column: &str) -> String {
    format!("{}.{}", c.table, quote_ident(column))
}

/// The table, which must be a plain table: partitions, partitioned and inherited tables would need
/// the change on every member.
async fn plain_table(conn: &mut PgConnection, c: &ColumnChange) -> Result<TableInfo, AttemptError> {
    let table = catalog::table(conn, c.table)
        .await
        .map_err(catalog_error)?
        .ok_or_else(|| {
            AttemptError::refused(c.table, format!("table {} does not exist", c.table))
        })?;
    let problem = match table.relkind.as_str() {
        "r" if table.is_partition => Some("it is a partition of a partitioned table"),
        "r" if table.inheritance => Some("it takes part in table inheritance"),
        "r" => None,
        "p" => Some("it is partitioned"),
        _ => Some("it is not a table"),
    };
    match problem {
        Some(why) => Err(AttemptError::refused(
            c.table,
            format!(
                "{} cannot be changed by expand/contract: {why}; nothing was changed; change the column in place under an override",
                show(c, c.column)
            ),
        )),
        None => Ok(table),
    }
}

async fn column(
    conn: &mut PgConnection,
    c: &ColumnChange,
    table: &TableInfo,
    name: &str,
) -> Result<ColumnInfo, AttemptError> {
    catalog::column(conn, table.oid, name)
        .await
        .map_err(catalog_error)?
        .ok_or_else(|| {
            AttemptError::refused(c.table, format!("column {} does not exist", show(c, name)))
        })
}

/// Refuses when objects that cannot be carried over depend on the old column.
async fn refuse_blocking(
    conn: &mut PgConnection,
    c: &ColumnChange,
    table: &TableInfo,
    old: &ColumnInfo,
) -> Result<(), AttemptError> {
    // Foreign keys referencing the column are carried to the new one.
    let blocking: Vec<_> = catalog::blocking(conn, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .filter(|b| !b.referencing)
        .collect();
    if blocking.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = blocking
        .iter()
        .map(|b| format!("{} ({})", b.object, b.why))
        .collect();
    Err(AttemptError::refused(
        c.table,
        format!(
            "{} cannot be changed by expand/contract because of {}; nothing was changed; drop {} first (re-create {} after `complete`), or change the column in place under an override",
            show(c, c.column),
            list.join(", "),
            if blocking.len() == 1 { "it" } else { "them" },
            if blocking.len() == 1 { "it" } else { "them" },
        ),
    ))
}

/// Expand, in the step's transaction: lock the table, check everything, add the new column (a
/// rename's, with the old one's type and collation), run the step's statements (the type change's new
/// column, the sync function and trigger, enabled `ALWAYS`), check that no user trigger fires after
/// the sync trigger, copy the column comment. Returns the fingerprint of the table's triggers, which
/// the contract compares with (see `verify`).
pub(super) async fn prepare(
    tx: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
) -> Result<String, AttemptError> {
    // Take the lock the step declares first, so no dependent object appears between check and change.
    exec(
        tx,
        &format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", c.table),
    )
    .await?;
    let table = plain_table(tx, c).await?;
    let old = column(tx, c, &table, c.column).await?;
    // An identity column is carried: the new column takes over its kind, sequence and position at
    // `complete`. A generated column's values come from its expression, which a trigger cannot copy.
    if old.generated {
        return Err(AttemptError::refused(
            c.table,
            format!(
                "{} is a generated column, which cannot be kept in sync by a trigger; nothing was changed; change its expression with raw SQL instead",
                show(c, c.column)
            ),
        ));
    }
    if !c.rename {
        let stated = catalog::type_oid(tx, c.old_type)
            .await
            .map_err(catalog_error)?;
        if stated != Some(old.type_oid) {
            return Err(AttemptError::refused(
                c.table,
                format!(
                    "{} is `{}`, not `{}` as the migration states (`from {}`); nothing was changed; state the column's current type",
                    show(c, c.column),
                    old.type_sql,
                    c.old_type,
                    c.old_type
                ),
            ));
        }
    }
    refuse_blocking(tx, c, &table, &old).await?;
    let added = c
        .rename
        .then(|| rename_column_sql(c, &old.type_sql, &old.collate_sql));
    let comment = old.comment.as_deref().map(|text| comment_sql(c, text));
    let derived: Vec<String> = added.iter().chain(&comment).cloned().collect();
    if let Some(refused) = shown::refusal(cx, &derived) {
        return Err(refused);
    }
    if let Some(sql) = &added {
        exec(tx, sql).await?;
    }
    for sql in cx.step.statements {
        exec(tx, sql).await?;
    }
    verify::refuse_late_triggers(tx, c).await?;
    if let Some(sql) = &comment {
        exec(tx, sql).await?;
    }
    verify::fingerprint(tx, c).await
}

/// Both columns, which must exist after the prepare step.
pub(super) async fn both(
    conn: &mut PgConnection,
    c: &ColumnChange,
) -> Result<(TableInfo, ColumnInfo, ColumnInfo), AttemptError> {
    let table = plain_table(conn, c).await?;
    let old = column(conn, c, &table, c.column).await?;
    let new = catalog::column(conn, table.oid, c.new_column).await.map_err(catalog_error)?.ok_or_else(|| {
        AttemptError::refused(
            c.table,
            format!(
                "the new column {} is missing, so the expand was undone or changed by hand; roll the migration back with `Migrator::rollback` and run it again",
                show(c, c.new_column)
            ),
        )
    })?;
    Ok((table, old, new))
}

/// Expand, outside a transaction: every valid index on the old column is built on the new one
/// concurrently, as `_zd_<name>`; a valid one already there is kept, an INVALID leftover is dropped
/// concurrently first.
pub(super) async fn carry_indexes(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
) -> Result<(), AttemptError> {
    exec(conn, &cx.online().set_sql(false)).await?;
    let (table, old, _) = both(conn, c).await?;
    let mut builds = Vec::new();
    for ix in catalog::indexes_on(conn, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?
    {
        if !ix.valid || ix.constraint.as_ref().is_some_and(|k| k.kind == "x") {
            // INVALID leftovers are not part of the schema; exclusion constraints were refused.
            continue;
        }
        let sql = index_sql(c, &carried_index(&ix)).ok_or_else(|| {
            AttemptError::refused(
                &ix.def,
                format!(
                    "cannot read the definition of index {} to build it on the new column",
                    ix.name
                ),
            )
        })?;
        builds.push((ix.name, sql));
    }
    let derived: Vec<String> = builds.iter().map(|(_, sql)| sql.clone()).collect();
    if let Some(refused) = shown::refusal(cx, &derived) {
        return Err(refused);
    }
    for (original, sql) in builds {
        let name = carried_name(&original);
        let state = index::state(conn, &table.schema, &name)
            .await
            .map_err(catalog_error)?;
        if state == IndexState::Valid {
            continue;
        }
        let qualified = index::qualified(&table.schema, &name);
        if state == IndexState::Invalid {
            index::drop_invalid_leftover(conn, &table.schema, &name)
                .await
                .map_err(|e| {
                    AttemptError::new(e, &format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"))
                })?;
        }
        tracing::info!(index = %original, carried = %name, "building an index on the new column");
        if let Err(e) = exec(conn, &sql).await {
            // Do not leave an INVALID index behind to slow every write until the next run.
            if let Err(drop) = index::drop_invalid_leftover(conn, &table.schema, &name).await {
                tracing::warn!(index = %qualified, error = %drop, "dropping the INVALID index a failed build left failed");
            }
            return Err(e);
        }
        if index::state(conn, &table.schema, &name)
            .await
            .map_err(catalog_error)?
            != IndexState::Valid
        {
            return Err(AttemptError::refused(
                sql,
                format!("index {qualified} was built but is not valid"),
            ));
        }
    }
    Ok(())
}

/// Expand, in the step's transaction: the old column's check constraints and foreign keys, and its
/// `NOT NULL` as a check, added to the new column `NOT VALID`; then each foreign key referencing the
/// old column (from any table) added again referencing the new one, `NOT VALID`, under its carried
/// name on its own table (the new column's unique index, built concurrently the step before, is what
/// it refers to; `SHARE ROW EXCLUSIVE` on the referencing table for a moment, catalog-only). Each is
/// skipped when already there.
pub(super) async fn add_constraints(
    tx: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
) -> Result<(), AttemptError> {
    lock_referencing_tables(tx, c, "SHARE ROW EXCLUSIVE").await?;
    let (table, old, _) = both(tx, c).await?;
    let existing: BTreeMap<String, bool> = catalog::constraint_names(tx, table.oid)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .collect();
    // (already there, statement)
    let mut adds: Vec<(bool, String)> = Vec::new();
    for con in catalog::constraints_on(tx, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?
    {
        let carried = CarriedConstraint {
            table: c.table,
            name: &con.name,
            def: &con.def,
            validated: con.validated,
        };
        adds.push((
            existing.contains_key(&carried_name(&con.name)),
            constraint_sql(c, &carried),
        ));
    }
    if old.not_null {
        adds.push((
            existing.contains_key(&not_null_helper(c.new_column)),
            not_null_sql(c),
        ));
    }
    for key in catalog::referencing_keys(tx, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?
    {
        let taken = catalog::constraint_names(tx, key.table_oid)
            .await
            .map_err(catalog_error)?
            .iter()
            .any(|(n, _)| *n == carried_name(&key.name));
        let sql = referencing_sql(c, &carried_referencing_key(&key)).ok_or_else(|| {
            AttemptError::refused(
                &key.def,
                format!(
                    "cannot read the definition of foreign key {} on {} to point it at the new column",
                    quote_ident(&key.name),
                    key.table
                ),
            )
        })?;
        adds.push((taken, sql));
    }
    let derived: Vec<String> = adds.iter().map(|(_, sql)| sql.clone()).collect();
    if let Some(refused) = shown::refusal(cx, &derived) {
        return Err(refused);
    }
    for (_, sql) in adds.iter().filter(|(done, _)| !done) {
        exec(tx, sql).await?;
    }
    Ok(())
}

/// The carried constraints (temporary name, whether it must be validated), the `NOT NULL` helper last.
async fn carried_constraints(
    conn: &mut PgConnection,
    table: i64,
    old: &ColumnInfo,
    c: &ColumnChange,
) -> Result<Vec<(String, bool)>, AttemptError> {
    let mut out: Vec<(String, bool)> = catalog::constraints_on(conn, table, old.attnum)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .map(|con| (carried_name(&con.name), con.validated))
        .collect();
    if old.not_null {
        out.push((not_null_helper(c.new_column), true));
    }
    Ok(out)
}

/// Expand, outside a transaction: `VALIDATE CONSTRAINT` of each carried constraint whose original is
/// validated and which is not validated yet, each in its own transaction with the online timeouts.
pub(super) async fn validate_constraints(
    conn: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
) -> Result<(), AttemptError> {
    let (table, old, _) = both(conn, c).await?;
    let existing: BTreeMap<String, bool> = catalog::constraint_names(conn, table.oid)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .collect();
    let missing = |what: String| {
        AttemptError::refused(
            c.table,
            format!("{what} carried to the new column is missing; run again, or roll back and run again"),
        )
    };
    // (the carried copy's state, validation, what it is)
    let mut validations: Vec<(Option<bool>, String, String)> = Vec::new();
    for (name, validate) in carried_constraints(conn, table.oid, &old, c).await? {
        if validate {
            let what = format!("constraint {}", quote_ident(&name));
            validations.push((
                existing.get(&name).copied(),
                validate_sql(c.table, &name),
                what,
            ));
        }
    }
    // The foreign keys referencing the new column: each validated on its own table (a scan of the
    // referencing table under SHARE UPDATE EXCLUSIVE; ROW SHARE on this one).
    for key in catalog::referencing_keys(conn, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .filter(|k| k.validated)
    {
        let name = carried_name(&key.name);
        let state = catalog::constraint_names(conn, key.table_oid)
            .await
            .map_err(catalog_error)?
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, validated)| validated);
        let what = format!("foreign key {} on {}", quote_ident(&name), key.table);
        validations.push((state, validate_sql(&key.table, &name), what));
    }
    let derived: Vec<String> = validations.iter().map(|(_, sql, _)| sql.clone()).collect();
    if let Some(refused) = shown::refusal(cx, &derived) {
        return Err(refused);
    }
    for (state, sql, what) in validations {
        match state {
            Some(false) => in_transaction(conn, cx.online(), &[sql]).await?,
            Some(true) => {}
            None => return Err(missing(what)),
        }
    }
    Ok(())
}

/// Contract, in the step's transaction: checks that everything was carried over, then drops the
/// trigger, the function and the old column, gives the new column (type change) and the carried
/// objects their final names, and restores the default, `NOT NULL`, a primary key or unique
/// constraint (`USING INDEX`) and sequence ownership. Carried objects whose original disappeared since
/// the expand are dropped.
pub(super) async fn contract(
    tx: &mut PgConnection,
    cx: &Ctx<'_>,
    c: &ColumnChange,
) -> Result<(), AttemptError> {
    lock_referencing_tables(tx, c, "ACCESS EXCLUSIVE").await?;
    exec(
        tx,
        &format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", c.table),
    )
    .await?;
    let (table, old, new) = both(tx, c).await?;
    // Before anything is dropped: no row may lose what the application stored.
    verify::under_lock(tx, cx, c).await?;
    refuse_blocking(tx, c, &table, &old).await?;
    let originals: Vec<_> = catalog::indexes_on(tx, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .filter(|ix| ix.valid)
        .collect();
    let carried: BTreeMap<String, bool> = catalog::indexes_on(tx, table.oid, new.attnum)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .map(|ix| (ix.name, ix.valid))
        .collect();
    let missing = |what: String| {
        AttemptError::refused(
            c.table,
            format!(
                "{what} has no counterpart on the new column {} (was it created after the expand?); nothing was changed; drop it, or roll the migration back and run it again",
                show(c, c.new_column)
            ),
        )
    };
    for ix in &originals {
        if carried.get(&carried_name(&ix.name)) != Some(&true) {
            return Err(missing(format!("index {}", quote_ident(&ix.name))));
        }
    }
    let constraints = catalog::constraints_on(tx, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?;
    let existing: BTreeMap<String, bool> = catalog::constraint_names(tx, table.oid)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .collect();
    for (name, validated) in carried_constraints(tx, table.oid, &old, c).await? {
        match existing.get(&name) {
            Some(v) if *v || !validated => {}
            _ => return Err(missing(format!("constraint {}", quote_ident(&name)))),
        }
    }
    // Foreign keys referencing the old column, each with its carried copy referencing the new one.
    let referencing = catalog::referencing_keys(tx, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?;
    let carried_referencing = catalog::referencing_keys(tx, table.oid, new.attnum)
        .await
        .map_err(catalog_error)?;
    let counterpart = |key: &catalog::ReferencingKey| {
        carried_referencing
            .iter()
            .find(|k| k.table_oid == key.table_oid && k.name == carried_name(&key.name))
    };
    for key in &referencing {
        match counterpart(key) {
            Some(k) if k.validated || !key.validated => {}
            _ => {
                return Err(missing(format!(
                    "foreign key {} on {}",
                    quote_ident(&key.name),
                    key.table
                )))
            }
        }
    }
    let sequences = catalog::owned_sequences(tx, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?;
    let identity = catalog::identity(tx, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?;

    let t = c.table;
    // Carried foreign keys whose original was dropped since the expand.
    let stale_referencing: Vec<String> = carried_referencing
        .iter()
        .filter(|k| {
            is_carried_name(&k.name)
                && !referencing
                    .iter()
                    .any(|key| key.table_oid == k.table_oid && carried_name(&key.name) == k.name)
        })
        .map(|k| {
            format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                k.table,
                quote_ident(&k.name)
            )
        })
        .collect();
    // Carried indexes and constraints whose original was dropped since the expand.
    let mut stale = Vec::new();
    let expected: Vec<String> = originals.iter().map(|ix| carried_name(&ix.name)).collect();
    for name in carried
        .keys()
        .filter(|n| is_carried_name(n) && !expected.contains(n))
    {
        stale.push(format!(
            "DROP INDEX {}",
            index::qualified(&table.schema, name)
        ));
    }
    let helper = not_null_helper(c.new_column);
    let expected: Vec<String> = constraints
        .iter()
        .map(|con| carried_name(&con.name))
        .collect();
    for con in catalog::constraints_on(tx, table.oid, new.attnum)
        .await
        .map_err(catalog_error)?
    {
        if is_carried_name(&con.name) && !expected.contains(&con.name) && con.name != helper {
            stale.push(format!(
                "ALTER TABLE {t} DROP CONSTRAINT {}",
                quote_ident(&con.name)
            ));
        }
    }
    let final_name = if c.rename { c.new_column } else { c.column };
    let work = Contract {
        schema: &table.schema,
        indexes: originals.iter().map(carried_index).collect(),
        constraints: constraints
            .iter()
            .map(|con| CarriedConstraint {
                table: t,
                name: &con.name,
                def: &con.def,
                validated: con.validated,
            })
            .collect(),
        referencing: referencing.iter().map(carried_referencing_key).collect(),
        sequences: sequences.clone(),
        default: old.default.as_deref(),
        not_null: old.not_null,
        identity: identity
            .as_ref()
            .map(|id| identity_sql(t, &quote_ident(final_name), &old.type_sql, id))
            .unwrap_or_default(),
        stale_referencing,
        stale,
    };
    let sql = contract_sql(c, &work);
    if let Some(refused) = shown::refusal(cx, &sql) {
        return Err(refused);
    }
    for statement in &sql {
        exec(tx, statement).await?;
    }
    if !c.rename {
        recompile_trigger_functions(tx, table.oid).await?;
    }
    Ok(())
}

/// Locks the tables whose foreign keys reference the old column (other than the column's own) in
/// `mode`, before the column's table. Their writers lock them first and this table second (the key
/// check); taking this table first would make every such writer in flight a deadlock, which the
/// lock timeout breaks only to meet it again on the next attempt.
async fn lock_referencing_tables(
    tx: &mut PgConnection,
    c: &ColumnChange,
    mode: &str,
) -> Result<(), AttemptError> {
    let Some(table) = catalog::table(tx, c.table).await.map_err(catalog_error)? else {
        return Ok(());
    };
    let Some(old) = catalog::column(tx, table.oid, c.column)
        .await
        .map_err(catalog_error)?
    else {
        return Ok(());
    };
    let mut tables: Vec<String> = catalog::referencing_keys(tx, table.oid, old.attnum)
        .await
        .map_err(catalog_error)?
        .into_iter()
        .filter(|k| k.table_oid != table.oid)
        .map(|k| k.table)
        .collect();
    tables.dedup();
    if tables.is_empty() {
        return Ok(());
    }
    exec(
        tx,
        &format!("LOCK TABLE {} IN {mode} MODE", tables.join(", ")),
    )
    .await
}

/// After the type change, every PL/pgSQL function of the table's own triggers is created again from
/// its definition (`pg_get_functiondef`), so each session compiles it anew. A session that ran it
/// before keeps plans whose parameters (`OLD.id` in `INSERT .. VALUES (OLD.id)`) have the old type,
/// and PostgreSQL refuses them ("type of parameter .. does not match that when preparing the plan"),
/// as it does after an in-place `ALTER .. TYPE`. Functions the migration's role cannot replace (it
/// does not own them) are left as they are, with a warning.
async fn recompile_trigger_functions(
    tx: &mut PgConnection,
    table: i64,
) -> Result<(), AttemptError> {
    let functions: Vec<(String, bool, String)> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text, pg_has_role(p.proowner, 'USAGE'), pg_get_functiondef(p.oid)
         FROM pg_proc p
         JOIN pg_language l ON l.oid = p.prolang
         WHERE l.lanname = 'plpgsql'
           AND p.oid IN (SELECT tgfoid FROM pg_trigger WHERE tgrelid = $1::bigint::oid AND NOT tgisinternal)
         ORDER BY 1",
    )
    .bind(table)
    .fetch_all(&mut *tx)
    .await
    .map_err(catalog_error)?;
    for (name, owned, definition) in functions {
        if owned {
            exec(tx, &definition).await?;
        } else {
            tracing::warn!(
                function = %name,
                "a trigger function of the table is not the migration role's to replace: sessions that ran it before may fail with \"type of parameter .. does not match\" until they reconnect or it is replaced"
            );
        }
    }
    Ok(())
}

/// The old column's identity given to the new one (`column`, rendered), in the contract after the
/// old column and its sequence are gone: the same kind, sequence name and options, and the
/// sequence's position, so the next value is the one the old sequence would have given. A limit
/// that was the old type's own (`integer`'s 2147483647) becomes the new type's.
fn identity_sql(
    table: &str,
    column: &str,
    old_type: &str,
    id: &catalog::IdentityInfo,
) -> Vec<String> {
    let (type_min, type_max) = match old_type {
        "smallint" => (i16::MIN as i64, i16::MAX as i64),
        "integer" => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    };
    let min = if id.min == type_min {
        "NO MINVALUE".to_owned()
    } else {
        format!("MINVALUE {}", id.min)
    };
    let max = if id.max == type_max {
        "NO MAXVALUE".to_owned()
    } else {
        format!("MAXVALUE {}", id.max)
    };
    vec![
        format!(
            "ALTER TABLE {table} ALTER COLUMN {column} ADD GENERATED {} AS IDENTITY (SEQUENCE NAME {} START WITH {} INCREMENT BY {} {min} {max} CACHE {} {})",
            if id.always { "ALWAYS" } else { "BY DEFAULT" },
            id.sequence,
            id.start,
            id.increment,
            id.cache,
            if id.cycle { "CYCLE" } else { "NO CYCLE" },
        ),
        format!(
            "SELECT setval({}, {}, {})",
            quote_literal(&id.sequence),
            id.last_value,
            id.is_called
        ),
    ]
}

/// Rollback, in the step's transaction: when the sync trigger exists (it was created in one
/// transaction with the new column, so the new column is this operation's), drop it, its function and
/// the new column with everything carried onto it. Otherwise the expand never took effect.
pub(super) async fn rollback(tx: &mut PgConnection, c: &ColumnChange) -> Result<(), AttemptError> {
    let Some(table) = catalog::table(tx, c.table).await.map_err(catalog_error)? else {
        return Ok(());
    };
    if !catalog::has_trigger(tx, table.oid, c.trigger)
        .await
        .map_err(catalog_error)?
    {
        tracing::info!(
            table = c.table,
            trigger = c.trigger,
            "the sync trigger does not exist: nothing to undo"
        );
        return Ok(());
    }
    exec(
        tx,
        &format!("DROP TRIGGER {} ON {}", quote_ident(c.trigger), c.table),
    )
    .await?;
    exec(tx, &format!("DROP FUNCTION IF EXISTS {}()", c.function)).await?;
    // Foreign keys carried to the new column depend on its unique index.
    if let Some(new) = catalog::column(tx, table.oid, c.new_column)
        .await
        .map_err(catalog_error)?
    {
        for key in catalog::referencing_keys(tx, table.oid, new.attnum)
            .await
            .map_err(catalog_error)?
        {
            exec(
                tx,
                &format!(
                    "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                    key.table,
                    quote_ident(&key.name)
                ),
            )
            .await?;
        }
    }
    exec(
        tx,
        &format!(
            "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
            c.table,
            quote_ident(c.new_column)
        ),
    )
    .await?;
    Ok(())
}

/// An index on the old column as the shared SQL builders take it.
fn carried_index(ix: &catalog::IndexInfo) -> CarriedIndex<'_> {
    CarriedIndex {
        name: &ix.name,
        def: &ix.def,
        key: ix.constraint.as_ref().and_then(|k| {
            let primary = match k.kind.as_str() {
                "p" => true,
                "u" => false,
                _ => return None,
            };
            Some(KeyConstraint {
                name: &k.name,
                primary,
                deferrable: k.deferrable,
                deferred: k.deferred,
            })
        }),
    }
}

/// A foreign key referencing the old column as the shared SQL builders take it.
fn carried_referencing_key(key: &catalog::ReferencingKey) -> CarriedConstraint<'_> {
    CarriedConstraint {
        table: &key.table,
        name: &key.name,
        def: &key.def,
        validated: key.validated,
    }
}
