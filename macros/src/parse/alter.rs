//! `alter table name action [, action ...]`.

use super::cursor::{Cursor, PResult};
use super::expr::{paren_list, parse_expr};
use super::table::{column_def, starts_table_constraint, table_constraint};
use super::ty::parse_type;
use crate::ast::{
    AlterAction, AlterActionKind, AttachPartition, ExprKind, ParentKey, PartitionBound, QName,
    RangeDatum, StmtKind,
};

/// After `alter table`: the table and its actions, or the attaching or detaching of a partition
/// (which PostgreSQL does not combine with other actions).
pub(super) fn alter_table_stmt(c: &mut Cursor) -> PResult<StmtKind> {
    let partition_kw = |n: usize| c.peek_kw_at(n, "attach") || c.peek_kw_at(n, "detach");
    if partition_kw(1) || c.peek_punct_at(1, '.') && partition_kw(3) {
        let parent = c.qname("the partitioned table's name after `alter table`")?;
        if c.eat_kw("attach").is_some() {
            c.expect_kw("partition", "after `attach`")?;
            let partition = c.qname("the partition's name after `attach partition`")?;
            let start = c.span();
            let bound = partition_bound(c)?;
            return Ok(StmtKind::AttachPartition(AttachPartition {
                parent,
                partition,
                bound,
                bound_range: c.range_from(start),
                parent_key: ParentKey::Unknown,
            }));
        }
        c.expect_kw("detach", "")?;
        c.expect_kw("partition", "after `detach`")?;
        let partition = c.qname("the partition's name after `detach partition`")?;
        let concurrently = c.eat_kw("concurrently").map(crate::ast::Range::single);
        if c.peek_kw("finalize") {
            return Err(c.error(
                "`detach partition .. finalize` is not a migration of its own: the runtime finishes an \
                 interrupted `detach partition .. concurrently` itself when the migration runs again",
            ));
        }
        return Ok(StmtKind::DetachPartition {
            parent,
            partition,
            concurrently,
            parent_has_default: false,
        });
    }
    let (table, actions) = alter_table(c)?;
    Ok(StmtKind::AlterTable { table, actions })
}

/// `for values from (..) to (..)`, `for values in (..)`, `for values with (modulus m, remainder r)`
/// or `default`.
pub(super) fn partition_bound(c: &mut Cursor) -> PResult<PartitionBound> {
    if c.eat_kw("default").is_some() {
        return Ok(PartitionBound::Default);
    }
    c.expect_kw(
        "for",
        "after the partition's name (`for values ..` or `default`)",
    )?;
    c.expect_kw("values", "after `for`")?;
    if c.eat_kw("from").is_some() {
        let from = range_datums(c, "after `from`")?;
        c.expect_kw("to", "after the lower bound")?;
        let to = range_datums(c, "after `to`")?;
        return Ok(PartitionBound::Range { from, to });
    }
    if c.eat_kw("in").is_some() {
        let values = paren_list(c, "with the values after `in`")?;
        return Ok(PartitionBound::List(values));
    }
    if c.eat_kw("with").is_some() {
        let mut inner = c.expect_paren("with `modulus m, remainder r` after `with`")?;
        inner.expect_kw("modulus", "in a hash partition's bound")?;
        let modulus = bound_integer(&mut inner, "modulus")?;
        inner.expect_punct(',', "after the modulus")?;
        inner.expect_kw("remainder", "after `modulus m,`")?;
        let remainder_at = inner.span();
        let remainder = bound_integer(&mut inner, "remainder")?;
        inner.expect_end("`)`")?;
        if modulus == 0 || remainder >= modulus {
            return Err(inner.range_from(remainder_at).error(format!(
                "a hash partition's remainder is below its modulus, which is at least 1 \
                 (here modulus {modulus}, remainder {remainder})"
            )));
        }
        return Ok(PartitionBound::Hash { modulus, remainder });
    }
    Err(c.expected(
        "`from (..) to (..)`, `in (..)` or `with (modulus m, remainder r)` after `for values`",
    ))
}

/// `(value | minvalue | maxvalue, ..)`
fn range_datums(c: &mut Cursor, context: &str) -> PResult<Vec<RangeDatum>> {
    let mut inner = c.expect_paren(&format!("with the bound's values {context}"))?;
    let mut out = Vec::new();
    loop {
        let datum = if inner.eat_kw("minvalue").is_some() {
            RangeDatum::Min
        } else if inner.eat_kw("maxvalue").is_some() {
            RangeDatum::Max
        } else {
            RangeDatum::Value(parse_expr(&mut inner, "in the bound")?)
        };
        out.push(datum);
        if inner.eat_punct(',').is_none() {
            inner.expect_end("`,` or `)`")?;
            return Ok(out);
        }
    }
}

/// A non-negative integer of a hash bound.
fn bound_integer(c: &mut Cursor, what: &str) -> PResult<u64> {
    let e = parse_expr(c, &format!("after `{what}`"))?;
    match &e.kind {
        ExprKind::Number(digits) => digits.parse::<u64>().ok(),
        _ => None,
    }
    .filter(|n| *n <= i32::MAX as u64)
    .ok_or_else(|| {
        e.range
            .error(format!("the {what} of a hash partition is a whole number"))
    })
}

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
