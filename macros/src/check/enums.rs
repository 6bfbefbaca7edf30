//! `new_enum_value_used`: PostgreSQL refuses to use an enum value added by `alter type .. add value`
//! until the transaction that added it commits ("unsafe use of new value"), and a migration's steps may
//! share one. Any string literal equal to such a value, in any expression later in the migration
//! (defaults, checks, index keys and predicates, `using`), is reported: the macro does not know column
//! types, so a different column's equal text counts too (the conservative reading). Raw SQL is opaque
//! and not searched. This rule applies on new tables as well, since it is about correctness, not locks.

use super::{show, Checker};
use crate::ast::{
    AlterActionKind, ColumnConstraintKind, ColumnDef, Expr, ExprKind, IndexKeyExpr, QName, Stmt,
    StmtKind, Str, TableConstraint, TableConstraintKind,
};
use crate::rules::Rule;

use super::NewEnumValue;

// alter type mood add value "ecstatic";
pub(super) fn add_value(ck: &mut Checker, ty: &QName, value: &Str) {
    ck.enum_values.push(NewEnumValue {
        value: value.value.clone(),
        ty: show(ty),
    });
}

// alter table users alter column mood set default "ecstatic";  (after the `add value` above)
pub(super) fn check_uses(ck: &mut Checker, stmt: &Stmt) {
    if ck.enum_values.is_empty() {
        return;
    }
    let mut hits = Vec::new();
    for expr in expressions(stmt) {
        expr.walk(&mut |e| {
            if let ExprKind::String(s) = &e.kind {
                if let Some(v) = ck.enum_values.iter().find(|v| v.value == *s) {
                    hits.push((e.range, v.value.clone(), v.ty.clone()));
                }
            }
        });
    }
    for (range, value, ty) in hits {
        ck.report(
            Rule::NewEnumValueUsed,
            range,
            format_args!(
                "enum value `{value}` is added to `{ty}` earlier in this migration, and PostgreSQL refuses to \
                 use a new enum value before the transaction that added it commits; use it in the next \
                 migration"
            ),
        );
    }
}

/// Every expression a statement contains.
fn expressions(stmt: &Stmt) -> Vec<&Expr> {
    let mut out = Vec::new();
    match &stmt.kind {
        StmtKind::CreateTable(t) => {
            for column in &t.columns {
                column_exprs(column, &mut out);
            }
            for c in &t.constraints {
                constraint_exprs(c, &mut out);
            }
        }
        StmtKind::CreateIndex(ix) => {
            for key in &ix.keys {
                if let IndexKeyExpr::Expr(e) = &key.expr {
                    out.push(e);
                }
            }
            out.extend(ix.predicate.as_ref());
        }
        StmtKind::AlterTable { actions, .. } => {
            for action in actions {
                match &action.kind {
                    AlterActionKind::AddColumn { column, .. } => column_exprs(column, &mut out),
                    AlterActionKind::AlterType { using, .. } => out.extend(using.as_ref()),
                    AlterActionKind::SetDefault { expr, .. } => out.push(expr),
                    AlterActionKind::AddConstraint(c) => constraint_exprs(c, &mut out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

fn column_exprs<'a>(column: &'a ColumnDef, out: &mut Vec<&'a Expr>) {
    for c in &column.constraints {
        match &c.kind {
            ColumnConstraintKind::Default(e)
            | ColumnConstraintKind::Check(e)
            | ColumnConstraintKind::GeneratedStored(e)
            | ColumnConstraintKind::GeneratedVirtual(e) => out.push(e),
            _ => {}
        }
    }
}

fn constraint_exprs<'a>(c: &'a TableConstraint, out: &mut Vec<&'a Expr>) {
    if let TableConstraintKind::Check(e) = &c.kind {
        out.push(e);
    }
}
