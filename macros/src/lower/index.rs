//! `create index`, `drop index`, and the concurrent unique index behind `add unique`/`add primary key`.

use zerodown_runtime::plan::{LockLevel, Postcondition, StepKind};

use crate::ast::{CreateIndex, Name, QName};
use crate::render::{column_list, expr, index_key, index_key_expr, quote_ident, render_qname};

use super::context::Context;
use super::naming;
use super::stmt::Inverse;
use super::stmt::{Lowered, TableRef};
use super::{inverse, leak_str};

/// `CREATE INDEX`. On an existing table with `concurrently`: a step of its own under `SHARE UPDATE
/// EXCLUSIVE` whose result is checked (`indisvalid`). On a table created in this migration: a plain
/// build inside the transaction, even when `concurrently` was written (PostgreSQL refuses
/// `CONCURRENTLY` in a transaction block, and an empty table builds instantly). On an existing table
/// without `concurrently` (override only): a plain build holding `SHARE`, which blocks writes.
pub(super) fn create_index(cx: &mut Context, ci: &CreateIndex) -> Lowered {
    let table = render_qname(&ci.table);
    let name = match &ci.name {
        Some(n) => n.value.clone(),
        None => naming::index(&ci.table.name.value, &ci.keys),
    };
    let keys: Vec<String> = ci.keys.iter().map(index_key).collect();
    let mut tail = format!("{} ON {table}", quote_ident(&name));
    if let Some(method) = &ci.method {
        tail.push_str(&format!(" USING {}", quote_ident(&method.value)));
    }
    tail.push_str(&format!(" ({})", keys.join(", ")));
    if !ci.include.is_empty() {
        tail.push_str(&format!(" INCLUDE ({})", column_list(&ci.include)));
    }
    if let Some(predicate) = &ci.predicate {
        tail.push_str(&format!(" WHERE {}", expr(predicate)));
    }
    let unique = if ci.unique { "UNIQUE " } else { "" };
    let if_not_exists = if ci.if_not_exists {
        "IF NOT EXISTS "
    } else {
        ""
    };
    let quoted = quote_ident(&name);

    let Some(existing) = cx.existing(&ci.table) else {
        cx.add_index(
            &ci.table,
            &Name {
                value: name,
                span: ci.table.name.span,
            },
        );
        let sql = format!("CREATE {unique}INDEX {if_not_exists}{tail}");
        // Dropped with its table by the undo of the `create table`.
        return Lowered::new(
            format!("create {}index {quoted} on {table}", unique.to_lowercase()),
            sql,
        )
        .inverse(Inverse::Nothing);
    };
    // Undone by dropping it, unless it may have been there before.
    let undone = |lowered: Lowered, concurrently: bool| -> Lowered {
        let lowered = if ci.unique {
            lowered.live(
                format!("index:{table}.{name}"),
                format!("the unique index {quoted} on {table} stays: inserts and updates duplicating its key fail"),
            )
        } else {
            lowered
        };
        if ci.if_not_exists {
            lowered.irreversible(format!(
                "`create index if not exists {quoted}` may have found the index before the migration"
            ))
        } else {
            lowered.undo(inverse::drop_index(
                &ci.table,
                existing.clone(),
                &name,
                concurrently,
            ))
        }
    };
    if ci.concurrently.is_none() {
        let sql = format!("CREATE {unique}INDEX {if_not_exists}{tail}");
        return undone(
            Lowered::new(
                format!("build {}index {quoted} on {table}", unique.to_lowercase()),
                sql,
            )
            .lock_on(LockLevel::Share, Some(existing.clone()))
            .slow(true),
            false,
        );
    }
    let key_sql: Vec<String> = ci.keys.iter().map(|k| index_key_expr(&k.expr)).collect();
    let sql = format!("CREATE {unique}INDEX CONCURRENTLY {if_not_exists}{tail}");
    let lowered = concurrent(
        format!("build {}index {quoted} concurrently", unique.to_lowercase()),
        sql,
        &ci.table,
        existing.clone(),
        name.clone(),
        key_sql.join(", "),
        ci.unique,
    );
    undone(lowered, true)
}

/// The step of a concurrent build on an existing table.
pub(super) fn concurrent(
    description: String,
    sql: String,
    table: &QName,
    existing: TableRef,
    index: String,
    key_sql: String,
    unique: bool,
) -> Lowered {
    // An index always lives in its table's schema.
    let schema = leak_str(
        table
            .schema
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_default(),
    );
    let index = leak_str(index);
    Lowered::new(description, sql)
        .alone()
        .lock_on(LockLevel::ShareUpdateExclusive, Some(existing))
        .slow(true)
        .kind(StepKind::ConcurrentIndex {
            schema,
            index,
            table: leak_str(render_qname(table)),
            key_sql: leak_str(key_sql),
            unique,
        })
        .postcondition(Postcondition::IndexValid { schema, index })
}

/// `CREATE UNIQUE INDEX CONCURRENTLY "name" ON "t" ("cols") [INCLUDE (..)]`: the first step of
/// `add constraint name unique|primary key (cols)` on an existing table.
pub(super) fn unique_for_constraint(
    table: &QName,
    existing: TableRef,
    name: &str,
    columns: &[Name],
    include: &[Name],
) -> Lowered {
    let cols = column_list(columns);
    let mut sql = format!(
        "CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({cols})",
        quote_ident(name),
        render_qname(table)
    );
    if !include.is_empty() {
        sql.push_str(&format!(" INCLUDE ({})", column_list(include)));
    }
    let description = format!("build unique index {} concurrently", quote_ident(name));
    concurrent(
        description,
        sql,
        table,
        existing.clone(),
        name.to_owned(),
        cols,
        true,
    )
    .undo(inverse::drop_index(table, existing, name, true))
    .live(
        format!("index:{}.{name}", render_qname(table)),
        format!(
            "the unique index {} on {} stays: inserts and updates duplicating its key fail",
            quote_ident(name),
            render_qname(table)
        ),
    )
}

/// `DROP INDEX CONCURRENTLY`: alone, `SHARE UPDATE EXCLUSIVE`, checked gone afterwards. A plain
/// `DROP INDEX` (override only) takes `ACCESS EXCLUSIVE` on the index's table, which the macro cannot
/// name unless the index was built on a table created in this migration.
pub(super) fn drop_index(
    cx: &Context,
    concurrently: bool,
    if_exists: bool,
    index: &QName,
    cascade: bool,
) -> Lowered {
    let name = render_qname(index);
    let if_exists = if if_exists { "IF EXISTS " } else { "" };
    let cascade = if cascade { " CASCADE" } else { "" };
    if concurrently {
        let schema = leak_str(
            index
                .schema
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_default(),
        );
        return Lowered::new(
            format!("drop index {name} concurrently"),
            format!("DROP INDEX CONCURRENTLY {if_exists}{name}{cascade}"),
        )
        .alone()
        .lock(if cx.is_new_index(index) {
            LockLevel::None
        } else {
            LockLevel::ShareUpdateExclusive
        })
        .slow(true)
        .postcondition(Postcondition::IndexAbsent {
            schema,
            index: leak_str(index.name.value.clone()),
        });
    }
    let lowered = Lowered::new(
        format!("drop index {name}"),
        format!("DROP INDEX {if_exists}{name}{cascade}"),
    );
    if cx.is_new_index(index) {
        lowered
    } else {
        lowered.lock_on(LockLevel::AccessExclusive, Some(TableRef::Unknown))
    }
}
