//! `alter table .. add constraint`: `unnamed_constraint`, `check_without_not_valid`,
//! `foreign_key_without_not_valid`, `exclusion_constraint`, `set_not_null_scan` (a primary key using
//! an index over columns the catalog knows to be nullable).
//!
//! `unique` and `primary key` need no rule: the macro builds their index concurrently and attaches it
//! with `using index`. The `using index` forms and `validate constraint` are online as written.

use zerodown_runtime::plan::PgVersion;

use super::alter::SET_NOT_NULL_RECIPE;
use super::{join_names, override_hint, show, target_setting, Checker};
use crate::ast::{ExprKind, KeyColumns, QName, TableConstraint, TableConstraintKind};
use crate::rules::Rule;

pub(super) fn add(ck: &mut Checker, table: &QName, c: &TableConstraint) {
    let t = show(table);
    let kind = keyword(&c.kind);
    let name = match &c.name {
        Some(n) => n.value.clone(),
        None => suggest_name(table, &c.kind),
    };

    // alter table users add check (age >= 0);
    // `validate constraint`, a retry after a failure, and any later change need a name the migration
    // knows, so names are required on new tables too (`create table` constraints may stay unnamed).
    let using_index = matches!(
        c.kind,
        TableConstraintKind::UniqueUsingIndex(_) | TableConstraintKind::PrimaryKeyUsingIndex(_)
    );
    if c.name.is_none() && !using_index {
        ck.report(
            Rule::UnnamedConstraint,
            c.range,
            format_args!(
                "`{kind}` constraint added to `{t}` without a name: validating, dropping or retrying it needs \
                 a predictable name; write `add constraint {name} {kind} ..`"
            ),
        );
    }

    // alter table users add constraint users_email_key unique (email) not valid;
    if let (Some(not_valid), false) = (
        c.not_valid,
        matches!(
            c.kind,
            TableConstraintKind::Check(_)
                | TableConstraintKind::ForeignKey { .. }
                | TableConstraintKind::NotNull(_)
        ),
    ) {
        ck.error(
            not_valid,
            format_args!(
                "`not valid` applies only to `check`, `foreign key` and `not null` constraints, not `{kind}`; remove it"
            ),
        );
    }

    // alter table users add constraint users_email_not_null not null email not valid;  (target below 18)
    if let TableConstraintKind::NotNull(column) = &c.kind {
        if ck.target < PgVersion(18) {
            let target = ck.target;
            ck.error(
                c.range,
                format_args!(
                    "a named `not null` constraint exists from PostgreSQL 18 (the target is {target}); raise {} \
                     if every server runs 18, or write `alter table {t} alter column {} set not null`, which takes \
                     the online CHECK route from 12",
                    target_setting(18),
                    column.value
                ),
            );
            return;
        }
    }
    if ck.is_new_table(table) {
        return;
    }
    let validate = format!(
        "then `alter table {t} validate constraint {name}`, which blocks no reads or writes"
    );
    match &c.kind {
        // alter table users add constraint users_age_check check (age >= 0);
        TableConstraintKind::Check(_) if c.not_valid.is_none() => ck.report(
            Rule::CheckWithoutNotValid,
            c.range,
            format_args!(
                "adding `check` constraint `{name}` scans all of `{t}` under ACCESS EXCLUSIVE to validate it; \
                 add `not valid`, {validate}"
            ),
        ),
        // alter table orders add constraint orders_user_id_fkey foreign key (user_id) references users (id);
        TableConstraintKind::ForeignKey { target, .. } if c.not_valid.is_none() => ck.report(
            Rule::ForeignKeyWithoutNotValid,
            c.range,
            format_args!(
                "adding foreign key `{name}` checks every row of `{t}` while blocking writes to `{t}` and `{}`; \
                 add `not valid`, {validate}",
                show(&target.table)
            ),
        ),
        // alter table users add constraint users_pkey primary key (id);  (target below 12)
        // Attaching a primary key sets its columns `not null`; from PostgreSQL 12 the macro proves that
        // with validated checks first, before 12 PostgreSQL scans the table under ACCESS EXCLUSIVE.
        // alter table users add constraint users_pkey primary key using index users_id_key;
        // In a `migrations!` set the catalog knows the index's columns: already `NOT NULL`, attaching
        // scans nothing on any version; nullable, PostgreSQL sets them `NOT NULL` with a scan under
        // ACCESS EXCLUSIVE on every version (the macro cannot add helper checks for columns it only
        // learns from the index). Unknown: judged by the target, and checked at run time.
        TableConstraintKind::PrimaryKeyUsingIndex(index)
            if matches!(c.key_columns, KeyColumns::Nullable(_)) =>
        {
            let KeyColumns::Nullable(columns) = &c.key_columns else {
                unreachable!("matched above")
            };
            let list = columns
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let first = &columns[0];
            ck.report(
                Rule::SetNotNullScan,
                c.range,
                format_args!(
                    "attaching primary key `{name}` sets {list} of `{t}` `not null` (index `{}` allows NULLs there), \
                     which scans all of `{t}` under ACCESS EXCLUSIVE; make {} `not null` first, in an earlier \
                     statement (`alter table {t} alter column {first} set not null`, online from PostgreSQL 12)",
                    index.value,
                    if columns.len() == 1 { "it" } else { "them" },
                ),
            )
        }
        TableConstraintKind::PrimaryKeyUsingIndex(_) if c.key_columns == KeyColumns::NotNull => {}
        TableConstraintKind::PrimaryKey { .. } | TableConstraintKind::PrimaryKeyUsingIndex(_)
            if ck.target < SET_NOT_NULL_RECIPE =>
        {
            let target = ck.target;
            ck.report(
                Rule::SetNotNullBeforePg12,
                c.range,
                format_args!(
                    "a primary key sets its columns `not null`, which scans all of `{t}` under ACCESS \
                     EXCLUSIVE before PostgreSQL 12 (the target is {target}) unless they already are; raise \
                     {} if every server runs 12 or newer, or add a `unique` constraint instead",
                    target_setting(12)
                ),
            )
        }
        // alter table users add constraint users_email_not_null not null email;  (scans under ACCESS EXCLUSIVE)
        TableConstraintKind::NotNull(column) if c.not_valid.is_none() => ck.report(
            Rule::SetNotNullScan,
            c.range,
            format_args!(
                "adding `not null` constraint `{name}` scans all of `{t}` under ACCESS EXCLUSIVE to prove `{}` has \
                 no NULLs; add `not valid`, {validate}",
                column.value
            ),
        ),
        // alter table bookings add constraint no_overlap exclude using gist (room with =, during with &&);
        TableConstraintKind::Exclude { .. } => ck.report(
            Rule::ExclusionConstraint,
            c.range,
            format_args!(
                "an exclusion constraint builds its index under ACCESS EXCLUSIVE on `{t}`, blocking reads and \
                 writes, and has no `not valid` form; for a maintenance window use {}",
                override_hint(Rule::ExclusionConstraint)
            ),
        ),
        _ => {}
    }
}

/// The constraint keyword for messages.
fn keyword(kind: &TableConstraintKind) -> &'static str {
    match kind {
        TableConstraintKind::Check(_) => "check",
        TableConstraintKind::Unique { .. } | TableConstraintKind::UniqueUsingIndex(_) => "unique",
        TableConstraintKind::PrimaryKey { .. } | TableConstraintKind::PrimaryKeyUsingIndex(_) => {
            "primary key"
        }
        TableConstraintKind::ForeignKey { .. } => "foreign key",
        TableConstraintKind::Exclude { .. } => "exclude",
        TableConstraintKind::NotNull(_) => "not null",
    }
}

/// The name PostgreSQL would pick: `users_age_check`, `users_email_key`, `users_pkey`,
/// `orders_user_id_fkey`, `bookings_excl`.
fn suggest_name(table: &QName, kind: &TableConstraintKind) -> String {
    let t = &table.name.value;
    match kind {
        TableConstraintKind::Check(e) => {
            let mut column = None;
            e.walk(&mut |e| {
                if let (None, ExprKind::Column(path)) = (&column, &e.kind) {
                    column = path.last().map(|n| n.value.clone());
                }
            });
            match column {
                Some(c) => format!("{t}_{c}_check"),
                None => format!("{t}_check"),
            }
        }
        TableConstraintKind::Unique { columns, .. } => format!("{t}_{}_key", join_names(columns)),
        TableConstraintKind::PrimaryKey { .. } => format!("{t}_pkey"),
        TableConstraintKind::ForeignKey { columns, .. } => {
            format!("{t}_{}_fkey", join_names(columns))
        }
        TableConstraintKind::Exclude { .. } => format!("{t}_excl"),
        TableConstraintKind::NotNull(c) => format!("{t}_{}_not_null", c.value),
        TableConstraintKind::UniqueUsingIndex(index)
        | TableConstraintKind::PrimaryKeyUsingIndex(index) => index.value.clone(),
    }
}
