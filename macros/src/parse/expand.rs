//! `expand alter table ..` and `expand drop table ..`: the in-place statement, prefixed with `expand`,
//! restricted to the forms that have an expand/contract operation.

use super::alter::{alter_table, cascade};
use super::cursor::{Cursor, PResult};
use crate::ast::{AlterActionKind, Expand, ExpandOp};

/// The forms, for messages.
const FORMS: &str = "`expand alter table t alter column c type NEW from OLD`, `expand alter table t rename column \
    a to b`, `expand alter table t rename to u`, `expand alter table t drop column c` or `expand drop table t`";

/// From the `expand` keyword.
pub(super) fn expand(c: &mut Cursor) -> PResult<Expand> {
    c.expect_kw("expand", "")?;
    // expand drop table users;
    if c.peek_kw("drop") {
        let start = c.span();
        c.bump();
        c.expect_kw("table", "after `expand drop` (`expand drop table t`)")?;
        if c.peek_kws(&["if", "exists"]) {
            return Err(c.error(
                "`if exists` does not go with `expand drop table`: the table must exist until `complete` drops it; \
                 remove `if exists`",
            ));
        }
        let table = c.qname("the table name after `expand drop table`")?;
        if c.peek_punct(',') {
            return Err(
                c.error("`expand drop table` takes one table; write one statement per table")
            );
        }
        let cascade_at = c.span();
        if cascade(c) {
            return Err(syn::Error::new(
                cascade_at,
                "`cascade` does not go with `expand drop table`: it would drop other objects at `complete`; drop \
                 them explicitly first",
            ));
        }
        return Ok(Expand {
            carry: None,
            table,
            op: ExpandOp::DropTable,
            op_range: c.range_from(start),
        });
    }
    // expand alter table users <action>;
    if c.eat_kw("alter").is_some() {
        c.expect_kw("table", "after `expand alter`")?;
        let (table, mut actions) = alter_table(c)?;
        if actions.len() > 1 {
            return Err(actions[1].range.error(
                "`expand alter table` takes one action; write each as its own `expand` statement",
            ));
        }
        let action = actions.remove(0);
        let op = match action.kind {
            AlterActionKind::AlterType { column, ty, from: Some(from), using } => {
                ExpandOp::AlterType { column, ty, from, using }
            }
            AlterActionKind::AlterType { column, ty, from: None, .. } => {
                return Err(ty.range.error(format!(
                    "`expand` needs the current type of `{}`, to check it before anything changes; write `type {} \
                     from <current type>`",
                    column.value,
                    crate::types::display(&ty)
                )))
            }
            AlterActionKind::RenameColumn { from, to } => ExpandOp::RenameColumn { from, to },
            AlterActionKind::RenameTo { to } => ExpandOp::RenameTable { to },
            AlterActionKind::DropColumn { if_exists: false, column, cascade: false } => ExpandOp::DropColumn { column },
            AlterActionKind::DropColumn { if_exists: true, .. } => {
                return Err(action.range.error(
                    "`if exists` does not go with `expand alter table .. drop column`: the column must exist until \
                     `complete` drops it; remove `if exists`",
                ))
            }
            AlterActionKind::DropColumn { .. } => {
                return Err(action.range.error(
                    "`cascade` does not go with `expand alter table .. drop column`: it would drop other objects at \
                     `complete`; drop them explicitly first",
                ))
            }
            _ => {
                return Err(action.range.error(format!(
                    "this action has no expand/contract form; write it without `expand` (the `expand` forms are \
                     {FORMS})"
                )))
            }
        };
        return Ok(Expand {
            carry: None,
            table,
            op,
            op_range: action.range,
        });
    }
    Err(c.expected(&format!(
        "`alter table` or `drop table` after `expand` ({FORMS})"
    )))
}
