//! `alter table name action [, action ...]`.

use super::cursor::{Cursor, PResult};
use super::expr::parse_expr;
use super::table::{column_def, starts_table_constraint, table_constraint};
use super::ty::parse_type;
use crate::ast::{AlterAction, AlterActionKind, QName};

/// After `alter table`: the table and its actions.
pub(super) fn alter_table(c: &mut Cursor) -> PResult<(QName, Vec<AlterAction>)> {
    if c.peek_kws(&["if", "exists"]) {
        return Err(c.error(
            "`alter table if exists` is not supported; a migration should know its tables, so remove \
             `if exists`",
        ));
    }
    let table = c.qname("the table name after `alter table`")?;
    let mut actions = vec![action(c)?];
    while c.eat_punct(',').is_some() {
        actions.push(action(c)?);
    }
    Ok((table, actions))
}

fn action(c: &mut Cursor) -> PResult<AlterAction> {
    let start = c.span();
    let kind = if c.eat_kw("add").is_some() {
        add(c)?
    } else if c.eat_kw("drop").is_some() {
        drop(c)?
    } else if c.eat_kw("alter").is_some() {
        alter_column(c)?
    } else if c.eat_kw("rename").is_some() {
        rename(c)?
    } else if c.peek_kw("set") && c.peek_nth(1).is_some_and(|t| matches!(t, proc_macro2::TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)) {
        c.bump();
        storage_params(c)?
    } else if c.eat_kw("validate").is_some() {
        c.expect_kw("constraint", "after `validate`")?;
        AlterActionKind::ValidateConstraint {
            name: c.name("the constraint name after `validate constraint`")?,
        }
    } else {
        return Err(c.expected(
            "an `alter table` action (`add`, `drop`, `alter`, `rename`, `set (..)` or `validate constraint`)",
        ));
    };
    Ok(AlterAction {
        kind,
        range: c.range_from(start),
    })
}

/// After `add`: `[column] [if not exists] coldef` or a table constraint.
fn add(c: &mut Cursor) -> PResult<AlterActionKind> {
    let column_kw = c.eat_kw("column").is_some();
    if !column_kw && starts_table_constraint(c) {
        return Ok(AlterActionKind::AddConstraint(table_constraint(c)?));
    }
    let if_not_exists = c.eat_kws(&["if", "not", "exists"]).is_some();
    Ok(AlterActionKind::AddColumn {
        if_not_exists,
        column: column_def(c)?,
    })
}

/// After `drop`: `constraint [if exists] name [cascade]` or `[column] [if exists] name [cascade]`.
fn drop(c: &mut Cursor) -> PResult<AlterActionKind> {
    if c.eat_kw("constraint").is_some() {
        let if_exists = c.eat_kws(&["if", "exists"]).is_some();
        let name = c.name("the constraint name after `drop constraint`")?;
        let cascade = cascade(c);
        return Ok(AlterActionKind::DropConstraint {
            if_exists,
            name,
            cascade,
        });
    }
    c.eat_kw("column");
    let if_exists = c.eat_kws(&["if", "exists"]).is_some();
    let column = c.name("the column name after `drop column`")?;
    let cascade = cascade(c);
    Ok(AlterActionKind::DropColumn {
        if_exists,
        column,
        cascade,
    })
}

/// `[cascade | restrict]`: `restrict` is the default, so it is accepted and dropped.
pub(super) fn cascade(c: &mut Cursor) -> bool {
    if c.eat_kw("cascade").is_some() {
        return true;
    }
    c.eat_kw("restrict");
    false
}

/// After `alter`: `[column] name` and what to change.
fn alter_column(c: &mut Cursor) -> PResult<AlterActionKind> {
    c.eat_kw("column");
    let column = c.name("the column name after `alter column`")?;
    if c.eat_kws(&["set", "data", "type"]).is_some() || c.eat_kw("type").is_some() {
        let ty = parse_type(c, "after `type`")?;
        let from = match c.eat_kw("from") {
            Some(_) => Some(parse_type(c, "after `from`")?),
            None => None,
        };
        let using = match c.eat_kw("using") {
            Some(_) => Some(parse_expr(c, "after `using`")?),
            None => None,
        };
        return Ok(AlterActionKind::AlterType {
            column,
            ty,
            from,
            using,
        });
    }
    if c.eat_kws(&["set", "default"]).is_some() {
        return Ok(AlterActionKind::SetDefault {
            column,
            expr: parse_expr(c, "after `set default`")?,
        });
    }
    if c.eat_kws(&["drop", "default"]).is_some() {
        return Ok(AlterActionKind::DropDefault { column });
    }
    if c.eat_kws(&["set", "not", "null"]).is_some() {
        return Ok(AlterActionKind::SetNotNull { column });
    }
    if c.eat_kws(&["drop", "not", "null"]).is_some() {
        return Ok(AlterActionKind::DropNotNull { column });
    }
    if c.eat_kws(&["set", "statistics"]).is_some() {
        return Ok(AlterActionKind::SetStatistics {
            column,
            target: parse_expr(c, "after `set statistics`")?,
        });
    }
    Err(c.expected(&format!(
        "`type`, `set default`, `drop default`, `set not null`, `drop not null` or `set statistics` after `alter column {}`",
        column.value
    )))
}

/// After `set`: `(parameter = value, ..)`.
fn storage_params(c: &mut Cursor) -> PResult<AlterActionKind> {
    let mut inner = c.expect_paren("after `set`")?;
    let mut params = Vec::new();
    loop {
        let name = inner.word("a storage parameter")?;
        inner.expect_punct('=', "after the parameter's name")?;
        let value = parse_expr(&mut inner, "after `=`")?;
        params.push((name, value));
        if inner.eat_punct(',').is_none() {
            break;
        }
    }
    inner.expect_end("after the storage parameters")?;
    Ok(AlterActionKind::SetStorage { params })
}

/// After `rename`: `to new` or `[column] old to new`.
fn rename(c: &mut Cursor) -> PResult<AlterActionKind> {
    if c.eat_kw("to").is_some() {
        return Ok(AlterActionKind::RenameTo {
            to: c.name("the new table name after `rename to`")?,
        });
    }
    if c.peek_kw("constraint") {
        return Err(c.error(
            "`rename constraint` is not supported; add the constraint under the new name and drop the old one",
        ));
    }
    c.eat_kw("column");
    let from = c.name("the column name after `rename column`")?;
    c.expect_kw("to", &format!("after `rename column {}`", from.value))?;
    let to = c.name("the new column name after `to`")?;
    Ok(AlterActionKind::RenameColumn { from, to })
}
