//! Maintenance and destructive commands that block traffic or lose data: `vacuum_full`, `cluster`,
//! `lock_table`, `truncate`, `drop_schema`, `drop_database`. None has an online form zerodown could
//! generate, so the fix is a different tool, or an override for a maintenance window. And
//! `refresh_not_concurrent`, whose fix is the `concurrently` form.

use super::{override_hint, show, Checker};
use crate::ast::{Name, QName, Range, Stmt};
use crate::rules::Rule;

// vacuum full [users];
pub(super) fn vacuum_full(ck: &mut Checker, stmt: &Stmt, table: Option<&QName>) {
    if table.is_some_and(|t| ck.is_new_table(t)) {
        return;
    }
    let what = table.map_or_else(|| "every table".to_owned(), |t| format!("`{}`", show(t)));
    ck.report(
        Rule::VacuumFull,
        stmt.range,
        format_args!(
            "`vacuum full` rewrites {what} under an ACCESS EXCLUSIVE lock, blocking reads and writes until it \
             ends; reclaim space online with pg_repack or leave it to autovacuum, or for a maintenance window \
             use {}",
            override_hint(Rule::VacuumFull)
        ),
    );
}

// cluster users [using users_created_at_idx];
pub(super) fn cluster(ck: &mut Checker, stmt: &Stmt, table: &QName) {
    if ck.is_new_table(table) {
        return;
    }
    ck.report(
        Rule::Cluster,
        stmt.range,
        format_args!(
            "`cluster` rewrites `{}` under an ACCESS EXCLUSIVE lock, blocking reads and writes until it ends; \
             reorder rows online with pg_repack, or for a maintenance window use {}",
            show(table),
            override_hint(Rule::Cluster)
        ),
    );
}

// refresh materialized view order_totals;
pub(super) fn refresh(ck: &mut Checker, stmt: &Stmt, concurrently: Option<Range>, view: &QName) {
    if concurrently.is_some() {
        return;
    }
    let v = show(view);
    ck.report(
        Rule::RefreshNotConcurrent,
        stmt.range,
        format_args!(
            "`refresh materialized view` holds ACCESS EXCLUSIVE on `{v}` while its query runs, so every \
             read of `{v}` waits; write `refresh materialized view concurrently {v}` (readers go on; it needs a \
             unique index on `{v}` without a `where`)"
        ),
    );
}

// lock table users [in share mode];
pub(super) fn lock_table(ck: &mut Checker, stmt: &Stmt, table: &QName, mode: Option<&[Name]>) {
    if ck.is_new_table(table) {
        return;
    }
    let mode = match mode {
        Some(words) => {
            let words: Vec<String> = words.iter().map(|w| w.value.to_uppercase()).collect();
            words.join(" ")
        }
        None => "ACCESS EXCLUSIVE (the default mode)".to_owned(),
    };
    ck.report(
        Rule::LockTable,
        stmt.range,
        format_args!(
            "`lock table` holds {mode} on `{}` until the step's transaction ends, and every conflicting query \
             queues behind it; let each statement take the lock it needs, or use {}",
            show(table),
            override_hint(Rule::LockTable)
        ),
    );
}

// truncate users, sessions;
pub(super) fn truncate(ck: &mut Checker, stmt: &Stmt, tables: &[QName]) {
    let live: Vec<String> = tables
        .iter()
        .filter(|t| !ck.is_new_table(t))
        .map(|t| format!("`{}`", show(t)))
        .collect();
    if live.is_empty() {
        return;
    }
    ck.report(
        Rule::Truncate,
        stmt.range,
        format_args!(
            "`truncate` deletes every row of {} under an ACCESS EXCLUSIVE lock, blocking reads and writes; \
             delete the rows in small batches (`delete .. where id in (select id .. limit 1000)`) from a job, \
             or use {}",
            live.join(", "),
            override_hint(Rule::Truncate)
        ),
    );
}

// drop schema app [cascade];
pub(super) fn drop_schema(ck: &mut Checker, stmt: &Stmt, name: &Name, cascade: bool) {
    let what = if cascade {
        "and every table in it with its data, under ACCESS EXCLUSIVE locks"
    } else {
        "and fails at run time if anything is still in it"
    };
    ck.report(
        Rule::DropSchema,
        stmt.range,
        format_args!(
            "`drop schema` removes schema `{}` {what}; drop its objects one by one once no running code uses \
             them, or use {}",
            name.value,
            override_hint(Rule::DropSchema)
        ),
    );
}

// drop database analytics;
pub(super) fn drop_database(ck: &mut Checker, stmt: &Stmt, name: &Name) {
    ck.report(
        Rule::DropDatabase,
        stmt.range,
        format_args!(
            "`drop database` deletes database `{}` with all its data, and cannot run while anyone is \
             connected to it; drop databases by hand, outside migrations, or use {}",
            name.value,
            override_hint(Rule::DropDatabase)
        ),
    );
}
