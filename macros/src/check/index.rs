//! Index builds, drops and rebuilds: `index_not_concurrent`, `unnamed_index`,
//! `drop_index_not_concurrent`, `reindex_not_concurrent`.

use zerodown_runtime::plan::PgVersion;

use super::{join_names, show, target_setting, Checker, Key};
use crate::ast::{CreateIndex, ExprKind, IndexKeyExpr, Name, QName, Range, ReindexTarget, Stmt};
use crate::rules::Rule;

/// `reindex concurrently` exists from PostgreSQL 12.
const REINDEX_CONCURRENTLY: PgVersion = PgVersion(12);

pub(super) fn create(ck: &mut Checker, stmt: &Stmt, ix: &CreateIndex) {
    let new_table = ck.is_new_table(&ix.table);
    let create = if ix.unique {
        "create unique index"
    } else {
        "create index"
    };
    // The keywords up to the index name (or up to the table when the name is missing).
    let head = match &ix.name {
        Some(name) => Range::new(stmt.range.start, name.span),
        None => Range::new(stmt.range.start, ix.table.range().end),
    };

    // create index on users (email);
    // A failed concurrent build leaves an INVALID index behind that must be found and dropped by name;
    // names are required on new tables too, so every index can be referred to later.
    if ix.name.is_none() {
        let suggested = suggest_name(ix);
        let concurrently = if new_table { "" } else { " concurrently" };
        ck.report(
            Rule::UnnamedIndex,
            head,
            format_args!(
                "`{create}` without a name: recovering from a failed concurrent build needs a predictable \
                 name; name the index, e.g. `{create}{concurrently} {suggested} on {} (..)`",
                show(&ix.table)
            ),
        );
    }

    // create index users_email_idx on users (email);
    if !new_table && ix.concurrently.is_none() {
        ck.report(
            Rule::IndexNotConcurrent,
            head,
            format_args!(
                "`{create}` on existing table `{}` blocks writes while it builds; write `{create} concurrently`",
                show(&ix.table)
            ),
        );
    }

    if let (true, Some(name)) = (new_table, &ix.name) {
        ck.new_indexes.insert(Key::index(&ix.table, name));
    }
}

/// `<table>_<columns>_idx`, the way PostgreSQL names indexes (an expression key contributes its
/// function name, or `expr`).
fn suggest_name(ix: &CreateIndex) -> String {
    let parts: Vec<String> = ix
        .keys
        .iter()
        .map(|key| match &key.expr {
            IndexKeyExpr::Column(name) => name.value.clone(),
            IndexKeyExpr::Expr(e) => match &e.kind {
                ExprKind::Call { func, .. } => func.name.value.clone(),
                _ => "expr".to_owned(),
            },
        })
        .collect();
    let mut name = ix.table.name.value.clone();
    if !parts.is_empty() {
        name.push('_');
        name.push_str(&parts.join("_"));
    }
    if !ix.include.is_empty() {
        name.push('_');
        name.push_str(&join_names(&ix.include));
    }
    name.push_str(if ix.unique { "_key" } else { "_idx" });
    name
}

pub(super) fn drop(
    ck: &mut Checker,
    stmt: &Stmt,
    concurrently: Option<Range>,
    index: &QName,
    cascade: bool,
) {
    let key = Key::table(index);
    let head = Range::new(stmt.range.start, index.range().end);
    // drop index users_email_idx;
    if concurrently.is_none() && !ck.new_indexes.contains(&key) {
        ck.report(
            Rule::DropIndexNotConcurrent,
            head,
            "`drop index` takes an ACCESS EXCLUSIVE lock on the index's table, blocking reads and writes \
             while it waits and runs; write `drop index concurrently`",
        );
    }
    // drop index concurrently users_email_idx cascade;
    if let (Some(concurrently), true) = (concurrently, cascade) {
        ck.error(
            concurrently,
            "`drop index concurrently` does not support `cascade`; drop the dependent objects first, then the \
             index without `cascade`",
        );
    }
    ck.new_indexes.remove(&key);
}

pub(super) fn reindex(
    ck: &mut Checker,
    stmt: &Stmt,
    concurrently: Option<Range>,
    target: ReindexTarget,
    name: &QName,
) {
    let on_new = match target {
        ReindexTarget::Table => ck.is_new_table(name),
        ReindexTarget::Index => ck.new_indexes.contains(&Key::table(name)),
    };
    let what = match target {
        ReindexTarget::Table => "table",
        ReindexTarget::Index => "index",
    };
    match concurrently {
        // reindex concurrently index users_email_idx;  (target below 12)
        Some(keyword) if ck.target < REINDEX_CONCURRENTLY => ck.error(
            keyword,
            format_args!(
                "`reindex concurrently` needs PostgreSQL 12 and the target is {}; build a new index with \
                 `create index concurrently`, then `drop index concurrently` the old one, or raise {}",
                ck.target,
                target_setting(12)
            ),
        ),
        Some(_) => {}
        None if on_new => {}
        // reindex index users_email_idx;
        None => {
            let fix = if ck.target >= REINDEX_CONCURRENTLY {
                format!("write `reindex {what} concurrently`")
            } else {
                format!(
                    "`reindex concurrently` needs PostgreSQL 12 and the target is {}: build a new index with \
                     `create index concurrently`, then `drop index concurrently` the old one",
                    ck.target
                )
            };
            ck.report(
                Rule::ReindexNotConcurrent,
                stmt.range,
                format_args!(
                    "`reindex` blocks writes to the table, and reads that use the index, while it rebuilds; {fix}"
                ),
            );
        }
    }
}

// create statistics orders_stats (dependencies) on customer_id, region from orders;
pub(super) fn create_statistics(ck: &mut Checker, kinds: &[Name], columns: &[Name]) {
    for kind in kinds {
        match kind.value.as_str() {
            "ndistinct" | "dependencies" => {}
            "mcv" if ck.target >= PgVersion(12) => {}
            "mcv" => {
                let target = ck.target;
                ck.error(
                    kind.range(),
                    format_args!(
                        "`mcv` statistics exist from PostgreSQL 12 (the target is {target}); raise {} or leave it out",
                        target_setting(12)
                    ),
                )
            }
            other => ck.error(
                kind.range(),
                format_args!("unknown statistics kind `{other}`; the kinds are `ndistinct`, `dependencies` and `mcv`"),
            ),
        }
    }
    if columns.len() < 2 {
        ck.error(
            columns[0].range(),
            "extended statistics need at least two columns (`on a, b from t`)",
        );
    }
}
