//! Statements rejected by default, lowered for when an override allows them: `reindex`, `vacuum full`,
//! `cluster`, `lock table`, `truncate`, `drop schema`, `drop database`. The SQL is what the user wrote;
//! the lock level and `rewrites` flag say honestly what it costs. And the maintenance statements that
//! are online as written: `alter index .. rename`, `analyze`, `refresh materialized view
//! concurrently`.

use zerodown_runtime::plan::{LockLevel, Postcondition};

use crate::ast::{Name, QName, ReindexTarget};
use crate::render::{quote_ident, render_qname};

use super::context::Context;
use super::leak_str;
use super::stmt::{Lowered, TableRef};

/// `REINDEX INDEX|TABLE [CONCURRENTLY] name`. Concurrently: alone under `SHARE UPDATE EXCLUSIVE`,
/// and a reindexed index is checked valid afterwards (a failed run leaves an invalid copy behind).
/// Otherwise `ACCESS EXCLUSIVE` on the index, which blocks every query planning to use it.
pub(super) fn reindex(
    cx: &Context,
    concurrently: bool,
    target: ReindexTarget,
    name: &QName,
) -> Lowered {
    let n = render_qname(name);
    let (keyword, table) = match target {
        ReindexTarget::Index => ("INDEX", Some(TableRef::Unknown)),
        ReindexTarget::Table => ("TABLE", cx.existing(name)),
    };
    let what = keyword.to_lowercase();
    if !concurrently {
        return Lowered::new(
            format!("reindex {what} {n}"),
            format!("REINDEX {keyword} {n}"),
        )
        .lock_on(LockLevel::AccessExclusive, table)
        .slow(true);
    }
    let lowered = Lowered::new(
        format!("reindex {what} {n} concurrently"),
        format!("REINDEX {keyword} CONCURRENTLY {n}"),
    )
    .alone()
    .slow(true);
    match target {
        ReindexTarget::Index => {
            lowered
                .lock(LockLevel::ShareUpdateExclusive)
                .postcondition(Postcondition::IndexValid {
                    schema: leak_str(
                        name.schema
                            .as_ref()
                            .map(|s| s.value.clone())
                            .unwrap_or_default(),
                    ),
                    index: leak_str(name.name.value.clone()),
                })
        }
        ReindexTarget::Table => lowered.lock_on(LockLevel::ShareUpdateExclusive, table),
    }
}

/// `VACUUM FULL [t]`: rewrites under `ACCESS EXCLUSIVE`; PostgreSQL refuses it in a transaction block.
/// Without a table it rewrites every table of the database.
pub(super) fn vacuum_full(cx: &Context, table: Option<&QName>) -> Lowered {
    let (target, tables) = match table {
        Some(t) => (format!(" {}", render_qname(t)), cx.existing(t)),
        None => (String::new(), Some(TableRef::Unknown)),
    };
    let rewrites = tables.is_some();
    Lowered::new(
        format!("vacuum full{target}"),
        format!("VACUUM FULL{target}"),
    )
    .alone()
    .lock_on(LockLevel::AccessExclusive, tables)
    .rewrites(rewrites)
    .slow(rewrites)
}

/// `CLUSTER t [USING i]`: rewrites under `ACCESS EXCLUSIVE`.
pub(super) fn cluster(cx: &Context, table: &QName, index: Option<&Name>) -> Lowered {
    let t = render_qname(table);
    let using = index
        .map(|i| format!(" USING {}", quote_ident(&i.value)))
        .unwrap_or_default();
    let existing = cx.existing(table);
    let rewrites = existing.is_some();
    Lowered::new(format!("cluster {t}"), format!("CLUSTER {t}{using}"))
        .lock_on(LockLevel::AccessExclusive, existing)
        .rewrites(rewrites)
        .slow(rewrites)
}

/// `LOCK TABLE t [IN mode MODE]`: the lock named, `ACCESS EXCLUSIVE` when none is (as in PostgreSQL).
pub(super) fn lock_table(cx: &Context, table: &QName, mode: Option<&[Name]>) -> Lowered {
    let t = render_qname(table);
    let words: Vec<&str> = mode
        .unwrap_or_default()
        .iter()
        .map(|w| w.value.as_str())
        .filter(|w| !matches!(*w, "in" | "mode"))
        .collect();
    let spelled = words.join(" ").to_uppercase();
    // An unrecognised mode is PostgreSQL's to reject; assume the strongest meanwhile.
    let lock = LockLevel::ALL
        .into_iter()
        .find(|l| *l != LockLevel::None && l.as_sql() == spelled)
        .unwrap_or(LockLevel::AccessExclusive);
    let sql = if words.is_empty() {
        format!("LOCK TABLE {t}")
    } else {
        format!("LOCK TABLE {t} IN {spelled} MODE")
    };
    Lowered::new(
        format!("lock table {t} in {} mode", lock.as_sql().to_lowercase()),
        sql,
    )
    .lock_on(lock, cx.existing(table))
}

/// `TRUNCATE a, b [CASCADE]`: `ACCESS EXCLUSIVE` on each, each gets a new (empty) file; `CASCADE` also
/// truncates referencing tables the macro cannot name.
pub(super) fn truncate(cx: &Context, tables: &[QName], cascade: bool) -> Lowered {
    let list: Vec<String> = tables.iter().map(render_qname).collect();
    let list = list.join(", ");
    let mut lowered = Lowered::new(
        format!("truncate {list}"),
        format!("TRUNCATE {list}{}", if cascade { " CASCADE" } else { "" }),
    );
    for t in tables {
        let existing = cx.existing(t);
        lowered = lowered
            .rewrites(existing.is_some())
            .lock_on(LockLevel::AccessExclusive, existing);
    }
    if cascade {
        lowered = lowered.lock_on(LockLevel::AccessExclusive, Some(TableRef::Unknown));
    }
    lowered
}

/// `DROP SCHEMA [IF EXISTS] s [CASCADE]`: `ACCESS EXCLUSIVE` on whatever it drops.
pub(super) fn drop_schema(if_exists: bool, name: &Name, cascade: bool) -> Lowered {
    let n = quote_ident(&name.value);
    Lowered::new(
        format!("drop schema {n}"),
        format!(
            "DROP SCHEMA {}{n}{}",
            if if_exists { "IF EXISTS " } else { "" },
            if cascade { " CASCADE" } else { "" }
        ),
    )
    .lock_on(LockLevel::AccessExclusive, Some(TableRef::Unknown))
}

/// `DROP DATABASE [IF EXISTS] d`: PostgreSQL refuses it in a transaction block.
pub(super) fn drop_database(if_exists: bool, name: &Name) -> Lowered {
    let n = quote_ident(&name.value);
    Lowered::new(
        format!("drop database {n}"),
        format!(
            "DROP DATABASE {}{n}",
            if if_exists { "IF EXISTS " } else { "" }
        ),
    )
    .alone()
    .lock(LockLevel::AccessExclusive)
}

/// `ALTER INDEX i RENAME TO n`: for a moment, `SHARE UPDATE EXCLUSIVE` on the index from PostgreSQL 12,
/// `ACCESS EXCLUSIVE` before (which also stops every query on the table from planning, as planning
/// opens the table's indexes). The index's table is not named, so the step stands alone. Undone by
/// renaming it back.
pub(super) fn rename_index(cx: &Context, index: &QName, to: &Name) -> Lowered {
    let i = render_qname(index);
    let lock = if cx.target_at_least(12) {
        LockLevel::ShareUpdateExclusive
    } else {
        LockLevel::AccessExclusive
    };
    let renamed = QName {
        schema: index.schema.clone(),
        name: to.clone(),
    };
    Lowered::new(
        format!("rename index {i} to {}", quote_ident(&to.value)),
        format!("ALTER INDEX {i} RENAME TO {}", quote_ident(&to.value)),
    )
    .lock_on(lock, Some(TableRef::Unknown))
    .undo(
        Lowered::new(
            format!(
                "rename index {} back to {}",
                render_qname(&renamed),
                quote_ident(&index.name.value)
            ),
            format!(
                "ALTER INDEX IF EXISTS {} RENAME TO {}",
                render_qname(&renamed),
                quote_ident(&index.name.value)
            ),
        )
        .lock_on(lock, Some(TableRef::Unknown)),
    )
}

/// `ANALYZE t [(cols)]`: samples the table under `SHARE UPDATE EXCLUSIVE` (blocks no reads or writes),
/// in a step of its own with the online timeouts.
pub(super) fn analyze(cx: &Context, table: &QName, columns: &[Name]) -> Lowered {
    let t = render_qname(table);
    let cols = if columns.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = columns.iter().map(|c| quote_ident(&c.value)).collect();
        format!(" ({})", names.join(", "))
    };
    Lowered::new(format!("analyze {t}{cols}"), format!("ANALYZE {t}{cols}"))
        .lock_on(LockLevel::ShareUpdateExclusive, cx.existing(table))
        .slow(true)
}

/// `REFRESH MATERIALIZED VIEW [CONCURRENTLY] v`: concurrently, `EXCLUSIVE` on the view (readers go
/// on) while the query runs and the differences are applied; otherwise (override only) `ACCESS
/// EXCLUSIVE` for the whole refresh. Either way slow, in a step of its own.
pub(super) fn refresh(view: &QName, concurrently: bool) -> Lowered {
    let v = render_qname(view);
    let (keyword, lock) = if concurrently {
        (" CONCURRENTLY", LockLevel::Exclusive)
    } else {
        ("", LockLevel::AccessExclusive)
    };
    Lowered::new(
        format!("refresh materialized view {v}{}", keyword.to_lowercase()),
        format!("REFRESH MATERIALIZED VIEW{keyword} {v}"),
    )
    .lock_on(lock, Some(TableRef::Unknown))
    .slow(true)
}

/// `CREATE STATISTICS n [(kinds)] ON a, b FROM t`: `SHARE UPDATE EXCLUSIVE` on the table for a moment
/// (the statistics are gathered by the next `analyze`). Undone by dropping it.
pub(super) fn create_statistics(
    cx: &Context,
    name: &QName,
    kinds: &[Name],
    columns: &[Name],
    table: &QName,
) -> Lowered {
    let n = render_qname(name);
    let t = render_qname(table);
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        let k: Vec<&str> = kinds.iter().map(|k| k.value.as_str()).collect();
        format!(" ({})", k.join(", "))
    };
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(&c.value)).collect();
    let existing = cx.existing(table);
    Lowered::new(
        format!("create statistics {n} on {t}"),
        format!(
            "CREATE STATISTICS {n}{kinds} ON {} FROM {t}",
            cols.join(", ")
        ),
    )
    .lock_on(LockLevel::ShareUpdateExclusive, existing.clone())
    .undo(
        Lowered::new(
            format!("drop statistics {n}"),
            format!("DROP STATISTICS IF EXISTS {n}"),
        )
        .lock_on(LockLevel::ShareUpdateExclusive, existing),
    )
}
