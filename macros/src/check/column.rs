//! `alter table .. add column` on an existing table: `volatile_default` (from PostgreSQL 11 a volatile
//! default is lowered to add column, `set default` and a batched backfill; only `not null` before 12
//! is left to reject),
//! `add_column_default_before_pg11`, `add_column_not_null_without_default`, `add_serial_column`,
//! `add_stored_generated_column`, `add_column_unique`, and the inline forms of
//! `foreign_key_without_not_valid` / `check_without_not_valid`.

use zerodown_runtime::plan::PgVersion;

use super::{show, target_setting, Checker};
use crate::ast::{ColumnConstraint, ColumnConstraintKind, ColumnDef, ExprKind, QName};
use crate::rules::Rule;
use crate::volatility::{first_volatile, function_volatility, Volatility};

/// From PostgreSQL 11 a non-volatile default is stored in the catalog instead of written to every row.
const FAST_DEFAULT: PgVersion = PgVersion(11);

/// The serial pseudo-types: a sequence plus a `nextval` default.
const SERIAL_TYPES: &[&str] = &[
    "serial",
    "serial4",
    "bigserial",
    "serial8",
    "smallserial",
    "serial2",
];

pub(super) fn add_column(ck: &mut Checker, table: &QName, column: &ColumnDef) {
    if ck.is_new_table(table) {
        return;
    }
    let t = show(table);
    let c = &column.name.value;
    let target = ck.target;

    let serial = column.ty.array_dims == 0
        && column.ty.schema.is_none()
        && matches!(column.ty.words.as_slice(), [w] if SERIAL_TYPES.contains(&w.as_str()));
    // add column id bigserial;
    if serial {
        ck.report(
            Rule::AddSerialColumn,
            column.ty.range,
            format_args!(
                "`{}` fills every existing row of `{t}` from a sequence, rewriting the table under ACCESS \
                 EXCLUSIVE; add a nullable integer column, set its default to the sequence with `set default`, \
                 backfill in batches, then `set not null`",
                column.ty.words[0]
            ),
        );
    }

    if let Some(default) = column.default() {
        if target < FAST_DEFAULT {
            // add column status text default "new";  (target 10)
            ck.report(
                Rule::DefaultBeforePg11,
                default.range,
                format_args!(
                    "before PostgreSQL 11 (the target is {}) adding column `{c}` with a default rewrites \
                     `{t}` under ACCESS EXCLUSIVE; raise {} if every server runs 11 or newer, or add the \
                     column without a default, `alter column {c} set default ..`, then `backfill {t} set {c} = .. \
                     where {c} is null`",
                    target,
                    target_setting(11)
                ),
            );
        } else if let Some((call, func)) = first_volatile(default).and_then(|e| match &e.kind {
            ExprKind::Call { func, .. } => Some((e, func)),
            _ => None,
        }) {
            // add column token uuid not null default gen_random_uuid();  (target 11)
            // From 11 the recipe adds the column, sets the default and backfills the existing rows in
            // batches; `not null` then goes through a CHECK, which needs 12 to spare the scan.
            if column.is_not_null() && target < PgVersion(12) {
                let what = match function_volatility(func) {
                    Volatility::Unknown => format!(
                        "`{}` is unknown to zerodown and counts as volatile",
                        show(func)
                    ),
                    _ => format!("`{}()` is volatile", show(func)),
                };
                ck.report(
                    Rule::VolatileDefault,
                    call.range,
                    format_args!(
                        "{what}, so the existing rows of `{t}` get the default of column `{c}` from a batched \
                         backfill, and before PostgreSQL 12 (the target is {target}) `not null` could then only be set \
                         by scanning `{t}` under ACCESS EXCLUSIVE; raise {} if every server runs 12 or newer, or add \
                         the column without `not null`",
                        target_setting(12)
                    ),
                );
            }
        }
    }

    let has_value_source = column.default().is_some()
        || serial
        || column.constraints.iter().any(|k| {
            matches!(
                k.kind,
                ColumnConstraintKind::Identity { .. }
                    | ColumnConstraintKind::GeneratedStored(_)
                    | ColumnConstraintKind::GeneratedVirtual(_)
            )
        });
    for constraint in &column.constraints {
        inline_constraint(ck, &t, column, constraint, has_value_source);
    }
}

fn inline_constraint(
    ck: &mut Checker,
    t: &str,
    column: &ColumnDef,
    k: &ColumnConstraint,
    has_value: bool,
) {
    let c = &column.name.value;
    let table = t.rsplit('.').next().unwrap_or(t);
    let name_or = |suffix: &str| match &k.name {
        Some(n) => n.value.clone(),
        None => format!("{table}_{c}_{suffix}"),
    };
    match &k.kind {
        // add column email text not null;
        ColumnConstraintKind::NotNull if !has_value => ck.report(
            Rule::NotNullWithoutDefault,
            k.range,
            format_args!(
                "adding column `{c}` as `not null` without a default fails as soon as `{t}` has rows; add it \
                 with a constant default (`default ..`), or add it nullable, backfill, then `set not null`"
            ),
        ),
        // add column id bigint generated always as identity;
        ColumnConstraintKind::Identity { .. } => ck.report(
            Rule::AddSerialColumn,
            k.range,
            format_args!(
                "an identity column fills every existing row of `{t}` from a sequence, rewriting the table \
                 under ACCESS EXCLUSIVE; add a nullable integer column, set its default to a sequence with \
                 `set default`, backfill in batches, then `set not null`"
            ),
        ),
        // add column total numeric generated always as (price * qty) stored;
        ColumnConstraintKind::GeneratedStored(_) => ck.report(
            Rule::AddStoredGeneratedColumn,
            k.range,
            format_args!(
                "a stored generated column is computed for every existing row of `{t}`, rewriting the table \
                 under ACCESS EXCLUSIVE; add a plain column, backfill it in batches, and keep it up to date \
                 from the application or a trigger"
            ),
        ),
        // add column email text unique;  /  add column id bigint primary key;
        ColumnConstraintKind::Unique | ColumnConstraintKind::PrimaryKey => {
            let (what, name, attach) = match k.kind {
                ColumnConstraintKind::Unique => ("unique", name_or("key"), "unique"),
                _ => (
                    "primary key",
                    k.name.as_ref().map_or(format!("{table}_pkey"), |n| n.value.clone()),
                    "primary key",
                ),
            };
            ck.report(
                Rule::AddColumnUnique,
                k.range,
                format_args!(
                    "inline `{what}` on an added column builds its index under ACCESS EXCLUSIVE on `{t}`; add \
                     the column, then `create unique index concurrently {name} on {t} ({c})` and `add \
                     constraint {name} {attach} using index {name}`"
                ),
            );
        }
        // add column org_id bigint references orgs (id): a new column holds only NULLs, which
        // PostgreSQL does not validate, so without a default nothing is scanned; with one, every row is.
        ColumnConstraintKind::References(target) if has_value => {
            let name = name_or("fkey");
            let cols = if target.columns.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    target.columns.iter().map(|n| n.value.as_str()).collect::<Vec<_>>().join(", ")
                )
            };
            ck.report(
                Rule::ForeignKeyWithoutNotValid,
                k.range,
                format_args!(
                    "inline `references` on an added column with a value checks every row of `{t}` while \
                     blocking writes to `{t}` and `{}`; add the column without a default (its NULLs are not \
                     checked), or add it, then `add constraint {name} foreign key ({c}) references {}{cols} \
                     not valid` and `validate constraint {name}`",
                    show(&target.table),
                    show(&target.table),
                ),
            );
        }
        // add column age int check (age >= 0);
        ColumnConstraintKind::Check(_) => {
            let name = name_or("check");
            ck.report(
                Rule::CheckWithoutNotValid,
                k.range,
                format_args!(
                    "inline `check` on an added column scans `{t}` under ACCESS EXCLUSIVE to validate it; add \
                     the column, then `add constraint {name} check (..) not valid` and `validate constraint \
                     {name}`"
                ),
            );
        }
        _ => {}
    }
}
