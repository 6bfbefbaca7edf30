//! `expand ..` operations: what makes one impossible, the one-kind-of-migration rule, and objects
//! touched twice in one migration.

use zerodown_runtime::plan::phased::touches_overlap;

use super::{show, Checker};
use crate::ast::{Expand, ExpandOp, Item, MigrationInput, Stmt, StmtKind};
use crate::types::{alter_type_rewrites, display};
use crate::volatility::first_volatile;

/// A migration with `expand` operations holds nothing else: the whole migration waits for `complete`
/// and can be rolled back, which plain statements could not follow.
pub(super) fn one_kind(ck: &Checker, input: &MigrationInput) {
    let is_expand = |s: &Stmt| matches!(s.kind, StmtKind::Expand(_));
    let stmts = || {
        input.body.iter().flat_map(|item| match item {
            Item::Stmt(s) => std::slice::from_ref(s).iter(),
            Item::Unsafe(b) => b.body.iter(),
        })
    };
    if !stmts().any(is_expand) {
        return;
    }
    for item in &input.body {
        match item {
            Item::Stmt(s) if !is_expand(s) => ck.error(
                s.range,
                "a migration with `expand` operations holds only `expand` operations, so all of it waits for \
                 `complete` and can be rolled back; move this statement to a migration of its own",
            ),
            // An override around `expand` operations (`fires_user_triggers`) keeps the migration one kind.
            Item::Unsafe(block) if block.body.iter().all(is_expand) => {}
            Item::Unsafe(block) => ck.error(
                block.keyword,
                "a migration with `expand` operations holds only `expand` operations, so all of it waits for \
                 `complete` and can be rolled back; move this `unsafe` block to a migration of its own",
            ),
            Item::Stmt(_) => {}
        }
    }
}

pub(super) fn check(ck: &mut Checker, stmt: &Stmt, e: &Expand) {
    let t = show(&e.table);
    match &e.op {
        // expand alter table users alter column id type bigint from integer [using ..];
        ExpandOp::AlterType {
            column,
            ty,
            from,
            using,
        } => {
            if !alter_type_rewrites(Some(from), ty, using.is_some()) {
                ck.error(
                    e.op_range,
                    format_args!(
                        "changing `{}` from `{}` to `{}` does not rewrite `{t}`, so it needs no expand/contract; \
                         write it in place: `alter table {t} alter column {} type {} from {}`",
                        column.value,
                        display(from),
                        display(ty),
                        column.value,
                        display(ty),
                        display(from)
                    ),
                );
            }
            if let Some(volatile) = using.as_ref().and_then(first_volatile) {
                ck.error(
                    volatile.range,
                    "a volatile `using` expression gives another value each time it is computed, so the sync \
                     trigger and the backfill could never agree; use an expression of the row's columns",
                );
            }
        }
        // expand alter table users rename column email to login;
        ExpandOp::RenameColumn { from, to } if from == to => ck.error(
            e.op_range,
            format_args!(
                "column `{}` already has that name; remove the statement",
                from.value
            ),
        ),
        // expand alter table users rename to accounts;
        ExpandOp::RenameTable { to } if *to == e.table.name => ck.error(
            e.op_range,
            format_args!("table `{t}` already has that name; remove the statement"),
        ),
        _ => {}
    }

    let touches = crate::touches::of_expand(e);
    for object in &touches {
        if let Some((_, earlier)) = ck
            .under_change
            .iter()
            .find(|(o, _)| touches_overlap(o, object))
        {
            ck.error(
                stmt.range,
                format_args!(
                    "`{object}` is already under expand/contract in this migration (`{earlier}`); change it again in \
                     a later migration, after `complete`"
                ),
            );
            break;
        }
    }
    let summary = summary(e);
    ck.under_change
        .extend(touches.into_iter().map(|o| (o, summary.clone())));
}

/// The statement, short, for messages: `expand alter table users rename column a to b`.
fn summary(e: &Expand) -> String {
    let t = show(&e.table);
    match &e.op {
        ExpandOp::AlterType { column, ty, .. } => {
            format!(
                "expand alter table {t} alter column {} type {}",
                column.value,
                display(ty)
            )
        }
        ExpandOp::RenameColumn { from, to } => {
            format!(
                "expand alter table {t} rename column {} to {}",
                from.value, to.value
            )
        }
        ExpandOp::RenameTable { to } => format!("expand alter table {t} rename to {}", to.value),
        ExpandOp::DropColumn { column } => {
            format!("expand alter table {t} drop column {}", column.value)
        }
        ExpandOp::DropTable => format!("expand drop table {t}"),
    }
}
