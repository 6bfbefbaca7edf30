//! The inverses a rollback runs for statements of a migration that stopped part-way (see
//! `runtime::plan::Undo`). Each undoes only what is there (`IF EXISTS`), so running one again after
//! an interruption is harmless, and each takes its locks like any step: briefly, under the
//! migration's `lock_timeout`, or online (`DROP INDEX CONCURRENTLY`).

use zerodown_runtime::plan::{LockLevel, Postcondition};

use crate::ast::QName;
use crate::render::{quote_ident, render_qname};

use super::leak_str;
use super::stmt::{Lowered, TableRef};

/// `ALTER TABLE t DROP CONSTRAINT IF EXISTS c` (a helper check, a constraint this migration added;
/// for a unique or primary key constraint the index goes with it).
pub(super) fn drop_constraint(table: &QName, existing: TableRef, name: &str) -> Lowered {
    let t = render_qname(table);
    let c = quote_ident(name);
    Lowered::new(
        format!("drop constraint {c} from {t}"),
        format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {c}"),
    )
    .lock_on(LockLevel::AccessExclusive, Some(existing))
}

/// `ALTER TABLE t DROP COLUMN IF EXISTS c` (a column this migration added, with the values it wrote).
pub(super) fn drop_column(table: &QName, existing: TableRef, column: &str) -> Lowered {
    let t = render_qname(table);
    let c = quote_ident(column);
    Lowered::new(
        format!("drop column {c} from {t}"),
        format!("ALTER TABLE {t} DROP COLUMN IF EXISTS {c}"),
    )
    .lock_on(LockLevel::AccessExclusive, Some(existing))
}

/// `ALTER TABLE t ALTER COLUMN c DROP NOT NULL`.
pub(super) fn drop_not_null(table: &QName, existing: TableRef, column: &str) -> Lowered {
    let t = render_qname(table);
    let c = quote_ident(column);
    Lowered::new(
        format!("drop not null on {t}.{c}"),
        format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL"),
    )
    .lock_on(LockLevel::AccessExclusive, Some(existing))
}

/// `DROP INDEX [CONCURRENTLY] IF EXISTS schema.index` of an index on `table` (an index lives in its
/// table's schema). Concurrently: alone, online, checked gone afterwards.
pub(super) fn drop_index(
    table: &QName,
    existing: TableRef,
    index: &str,
    concurrently: bool,
) -> Lowered {
    let schema = table.schema.as_ref().map(|s| s.value.clone());
    let name = match &schema {
        Some(s) => format!("{}.{}", quote_ident(s), quote_ident(index)),
        None => quote_ident(index),
    };
    if !concurrently {
        return Lowered::new(
            format!("drop index {name}"),
            format!("DROP INDEX IF EXISTS {name}"),
        )
        .lock_on(LockLevel::AccessExclusive, Some(existing));
    }
    Lowered::new(
        format!("drop index {name} concurrently"),
        format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"),
    )
    .alone()
    .lock_on(LockLevel::ShareUpdateExclusive, Some(existing))
    .slow(true)
    .postcondition(Postcondition::IndexAbsent {
        schema: leak_str(schema.unwrap_or_default()),
        index: leak_str(index.to_owned()),
    })
}

/// Drops a table this migration created, but only while it is empty: rows in it were written by
/// someone else (the new application version), and a rollback never drops data it did not write.
/// Locks the table first, so no insert slips in between the check and the drop, and the existing
/// tables its foreign keys reference (their triggers go).
pub(super) fn drop_new_table(table: &QName, referenced: &[TableRef]) -> Vec<Lowered> {
    let t = render_qname(table);
    let literal = t.replace('\'', "''");
    // A dollar-quote tag the table's name cannot end early.
    let tag = (0..)
        .map(|n| format!("$zd{n}$"))
        .find(|tag| !t.contains(tag.as_str()))
        .expect("some tag is free");
    let mut drop = Lowered::new(format!("drop table {t}"), format!("DROP TABLE {t}"))
        .lock_on(LockLevel::AccessExclusive, Some(TableRef::Known(t.clone())));
    for r in referenced {
        drop = drop.lock_on(LockLevel::AccessExclusive, Some(r.clone()));
    }
    vec![
        Lowered::new(
            format!("lock table {t}"),
            format!("LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE"),
        )
        .lock_on(LockLevel::AccessExclusive, Some(TableRef::Known(t.clone()))),
        Lowered::new(
            format!("check that {t} is empty"),
            format!(
                "DO {tag} BEGIN IF EXISTS (SELECT FROM {t}) THEN RAISE EXCEPTION USING ERRCODE = 'ZD001', \
                 MESSAGE = 'table {literal} holds rows written since the migration created it, which a rollback does not drop: \
                 move or drop them yourself, then run `migrate rollback` again'; END IF; END {tag}"
            ),
        ),
        drop,
    ]
}

/// `DROP TYPE IF EXISTS t` of a type this migration created (columns using it, added by this
/// migration, were dropped before).
pub(super) fn drop_type(name: &QName) -> Lowered {
    let t = render_qname(name);
    Lowered::new(format!("drop type {t}"), format!("DROP TYPE IF EXISTS {t}"))
        .lock(LockLevel::AccessExclusive)
}
