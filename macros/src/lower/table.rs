//! `create table`, `drop table`.

use zerodown_runtime::plan::LockLevel;

use crate::ast::{ColumnConstraintKind, CreateTable, QName, TableConstraintKind};
use crate::render::{column_def, partition_by, render_qname, table_constraint};

use super::context::Context;
use super::inverse;
use super::stmt::{Lowered, TableRef};

/// `CREATE TABLE "t" (...)`: locks nothing, except `SHARE ROW EXCLUSIVE` on each existing table a
/// foreign key references (PostgreSQL adds triggers there).
pub(super) fn create_table(cx: &mut Context, ct: &CreateTable) -> Lowered {
    let table = render_qname(&ct.name);
    let mut parts: Vec<String> = ct.columns.iter().map(column_def).collect();
    parts.extend(ct.constraints.iter().map(table_constraint));
    let if_not_exists = if ct.if_not_exists {
        "IF NOT EXISTS "
    } else {
        ""
    };
    let mut sql = format!("CREATE TABLE {if_not_exists}{table} ({})", parts.join(", "));
    if let Some(p) = &ct.partition_by {
        sql = format!("{sql} {}", partition_by(p));
    }
    // Registered first: a self-reference locks nothing that exists.
    cx.add_table(&ct.name);
    let mut lowered = Lowered::new(format!("create table {table}"), sql);
    let inline = ct
        .columns
        .iter()
        .flat_map(|c| &c.constraints)
        .filter_map(|c| match &c.kind {
            ColumnConstraintKind::References(target) => Some(&target.table),
            _ => None,
        });
    let table_level = ct.constraints.iter().filter_map(|c| match &c.kind {
        TableConstraintKind::ForeignKey { target, .. } => Some(&target.table),
        _ => None,
    });
    let mut existing = Vec::new();
    for referenced in inline.chain(table_level) {
        lowered = lowered.lock_on(LockLevel::ShareRowExclusive, cx.existing(referenced));
        existing.extend(cx.existing(referenced).filter(|t| !existing.contains(t)));
    }
    if ct.if_not_exists {
        lowered.irreversible(format!(
            "`create table if not exists {table}` may have found the table before the migration"
        ))
    } else {
        lowered.undo_all(inverse::drop_new_table(&ct.name, &existing))
    }
}

/// `DROP TABLE "a", "b"` (override only): `ACCESS EXCLUSIVE` on each, and on the tables their foreign
/// keys reference, which the macro cannot name.
pub(super) fn drop_table(
    cx: &mut Context,
    if_exists: bool,
    tables: &[QName],
    cascade: bool,
) -> Lowered {
    let list: Vec<String> = tables.iter().map(render_qname).collect();
    let list = list.join(", ");
    let if_exists = if if_exists { "IF EXISTS " } else { "" };
    let cascade_sql = if cascade { " CASCADE" } else { "" };
    let mut lowered = Lowered::new(
        format!("drop table {list}"),
        format!("DROP TABLE {if_exists}{list}{cascade_sql}"),
    );
    let mut any_existing = false;
    for t in tables {
        let existing = cx.existing(t);
        any_existing |= existing.is_some();
        lowered = lowered.lock_on(LockLevel::AccessExclusive, existing);
    }
    if any_existing {
        lowered = lowered.lock_on(LockLevel::AccessExclusive, Some(TableRef::Unknown));
    }
    for t in tables {
        cx.remove_table(t);
    }
    lowered
}
