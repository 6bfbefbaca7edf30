//! `alter table` actions: dispatch to the family of each, plus `alter_column_type` and
//! `set_not_null_before_pg12`.

use zerodown_runtime::plan::PgVersion;

use super::{breaking, column, constraint, show, target_setting, Checker};
use crate::ast::{
    AlterAction, AlterActionKind, BinaryOp, Expr, ExprKind, Name, QName, Range, Type,
};
use crate::rules::Rule;
use crate::types::{alter_type_rewrites, display, utc_reinterpretation};

/// From PostgreSQL 12 `set not null` can skip its scan when a validated `check (c is not null)` proves
/// it, which is the recipe the macro generates.
pub(super) const SET_NOT_NULL_RECIPE: PgVersion = PgVersion(12);

/// From PostgreSQL 12 `timestamp` <-> `timestamptz` keeps the stored values when the session time zone
/// is UTC, which the lowering sets for `using c at time zone 'UTC'`.
pub(crate) const UTC_TIMESTAMP_CHANGE: PgVersion = PgVersion(12);

pub(super) fn action(ck: &mut Checker, table: &QName, action: &AlterAction) {
    match &action.kind {
        AlterActionKind::AddColumn { column, .. } => column::add_column(ck, table, column),
        AlterActionKind::DropColumn { column, .. } => {
            breaking::drop_column(ck, table, column, action.range)
        }
        AlterActionKind::AlterType {
            column,
            ty,
            from,
            using,
        } => alter_type(ck, table, column, ty, from.as_ref(), using.as_ref()),
        AlterActionKind::SetNotNull { column } => set_not_null(ck, table, column, action.range),
        AlterActionKind::RenameColumn { from, to } => {
            breaking::rename_column(ck, table, from, to, action.range)
        }
        AlterActionKind::RenameTo { to } => breaking::rename_table(ck, table, to, action.range),
        AlterActionKind::AddConstraint(c) => constraint::add(ck, table, c),
        AlterActionKind::SetStatistics { target, .. } => statistics_target(ck, target),
        AlterActionKind::SetStorage { params } => storage_params(ck, params),
        // Catalog-only changes, or online by nature (`validate constraint` blocks no reads or writes).
        AlterActionKind::SetDefault { .. }
        | AlterActionKind::DropDefault { .. }
        | AlterActionKind::DropNotNull { .. }
        | AlterActionKind::ValidateConstraint { .. }
        | AlterActionKind::DropConstraint { .. } => {}
    }
}

// alter table users alter column email type text [from varchar(100)] [using ..];
fn alter_type(
    ck: &mut Checker,
    table: &QName,
    column: &Name,
    ty: &Type,
    from: Option<&Type>,
    using: Option<&Expr>,
) {
    if ck.is_new_table(table) || !alter_type_rewrites(from, ty, using.is_some()) {
        return;
    }
    let (t, c, to) = (show(table), &column.value, display(ty));
    // alter table events alter column at type timestamptz from timestamp using at at time zone "UTC";
    if let (Some(from), Some(using)) = (from, using) {
        if utc_reinterpretation(c, from, ty, using) {
            if ck.target < UTC_TIMESTAMP_CHANGE {
                let target = ck.target;
                ck.report(
                    Rule::AlterColumnType,
                    using.range,
                    format_args!(
                        "reading `{c}` as UTC needs no rewrite only from PostgreSQL 12 (the target is {target}); \
                         before 12 this rewrites `{t}` and its indexes under ACCESS EXCLUSIVE; raise {} if every \
                         server runs 12 or newer, or write `expand alter table {t} alter column {c} type {to} from {} \
                         using ..`",
                        target_setting(12),
                        display(from)
                    ),
                );
            }
            return;
        }
    }
    let old = from.map_or_else(|| "<current type>".to_owned(), display);
    let using_sql = if using.is_some() { " using .." } else { "" };
    let fix = format!(
        "write `expand alter table {t} alter column {c} type {to} from {old}{using_sql}`, which fills a new column \
         online and swaps it in at `complete`"
    );
    match (from, using) {
        (_, Some(using)) => {
            // timestamp <-> timestamptz: point to the form that keeps the stored values.
            let utc = match from {
                Some(from) if utc_reinterpretation(c, from, ty, &utc_using(column)) => format!(
                    "; if the stored values are UTC, `using {c} at time zone \"UTC\"` changes the type without a \
                     rewrite (target 12 or later)"
                ),
                _ => String::new(),
            };
            ck.report(
                Rule::AlterColumnType,
                using.range,
                format_args!(
                    "`using` computes a new value for every row, rewriting `{t}` and its indexes under ACCESS \
                     EXCLUSIVE, which blocks reads and writes until it ends; {fix}{utc}"
                ),
            )
        }
        (None, None) => ck.report(
            Rule::AlterColumnType,
            ty.range,
            format_args!(
                "without the current type of `{c}`, zerodown cannot tell whether this change rewrites `{t}`; \
                 state it: `alter column {c} type {to} from <current type>`"
            ),
        ),
        (Some(from), None) => ck.report(
            Rule::AlterColumnType,
            Range::new(ty.range.start, from.range.end),
            format_args!(
                "changing column `{c}` from `{}` to `{to}` rewrites `{t}` and its indexes under ACCESS \
                 EXCLUSIVE, which blocks reads and writes until it ends; {fix}",
                display(from)
            ),
        ),
    }
}

/// `column at time zone 'UTC'`, to ask whether a change would be a UTC reinterpretation.
fn utc_using(column: &Name) -> Expr {
    let node = |kind| Expr {
        kind,
        range: column.range(),
    };
    node(ExprKind::Binary {
        op: BinaryOp::AtTimeZone,
        lhs: Box::new(node(ExprKind::Column(vec![column.clone()]))),
        rhs: Box::new(node(ExprKind::String("UTC".to_owned()))),
    })
}

/// The storage parameters `alter table .. set (..)` changes under SHARE UPDATE EXCLUSIVE (PostgreSQL's
/// `ALTER TABLE` reference: fillfactor, the toast and autovacuum parameters, `parallel_workers`);
/// every other one takes ACCESS EXCLUSIVE or is not a table's.
fn weak_lock_parameter(name: &str) -> bool {
    name == "fillfactor"
        || name == "toast_tuple_target"
        || name == "parallel_workers"
        || name.starts_with("autovacuum_")
}

// alter table events set (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01);
fn storage_params(ck: &mut Checker, params: &[(Name, Expr)]) {
    for (name, _) in params {
        if !weak_lock_parameter(&name.value) {
            ck.error(
                name.range(),
                format_args!(
                    "`{}` is not a storage parameter `set (..)` changes online; the DSL takes `fillfactor`, \
                     `toast_tuple_target`, `parallel_workers` and the `autovacuum_*` parameters (SHARE UPDATE \
                     EXCLUSIVE); for another, write raw SQL with the lock it takes",
                    name.value
                ),
            );
        }
    }
}

// alter table events alter column kind set statistics 1000;
fn statistics_target(ck: &mut Checker, target: &Expr) {
    let value = match &target.kind {
        ExprKind::Number(n) => n.parse::<i64>().ok(),
        ExprKind::Unary {
            op: crate::ast::UnaryOp::Neg,
            expr,
        } => match &expr.kind {
            ExprKind::Number(n) => n.parse::<i64>().ok().map(|v| -v),
            _ => None,
        },
        _ => None,
    };
    if !value.is_some_and(|v| (-1..=10_000).contains(&v)) {
        ck.error(
            target.range,
            "the statistics target is a whole number from 0 to 10000, or -1 for the server's default",
        );
    }
}

// alter table users alter column email set not null;  (target below 12)
fn set_not_null(ck: &mut Checker, table: &QName, column: &Name, range: Range) {
    if ck.is_new_table(table) || ck.target >= SET_NOT_NULL_RECIPE {
        return;
    }
    let (c, target) = (&column.value, ck.target);
    ck.report(
        Rule::SetNotNullBeforePg12,
        range,
        format_args!(
            "`set not null` scans all of `{}` under ACCESS EXCLUSIVE before PostgreSQL 12 (the target is {}); \
             raise {} if every server runs 12 or newer, or instead keep a `check ({c} is not null) not valid` \
             constraint and `validate constraint` it",
            show(table),
            target,
            target_setting(12)
        ),
    );
}
