//! `create table` and the pieces `alter table` shares with it: column definitions, column constraints,
//! table constraints, foreign key targets.

use proc_macro2::TokenTree;

use super::cursor::{check_nul, Cursor, PResult};
use super::expr::parse_expr;
use super::ty::parse_type;
use crate::ast::{
    ColumnConstraint, ColumnConstraintKind, ColumnDef, CreateTable, Expr, ForeignKeyTarget,
    PartitionBy, PartitionStrategy, ReferentialAction, TableConstraint, TableConstraintKind,
};

/// After `create table`: `[if not exists] name ( column | table_constraint , ... )`.
pub(super) fn create_table(c: &mut Cursor) -> PResult<CreateTable> {
    let if_not_exists = c.eat_kws(&["if", "not", "exists"]).is_some();
    let name = c.qname("the table name after `create table`")?;
    if c.peek_kws(&["partition", "of"]) {
        return Err(c.error(format!(
            "`create table .. partition of` is not in the DSL: it locks the parent ACCESS EXCLUSIVE \
             (and scans its default partition). Create `{name}` with its columns, then \
             `alter table <parent> attach partition {name} for values ..`",
            name = name.name.value
        )));
    }
    let mut inner = c.expect_paren(&format!(
        "with the columns after `create table {}`",
        name.name.value
    ))?;
    let mut columns = Vec::new();
    let mut constraints = Vec::new();
    if !inner.is_end() {
        loop {
            let expected = if starts_table_constraint(&inner) {
                constraints.push(table_constraint(&mut inner)?);
                "`,` or `)`"
            } else {
                columns.push(column_def(&mut inner)?);
                "a column constraint, `,` or `)`"
            };
            if inner.eat_punct(',').is_none() {
                inner.expect_end(expected)?;
                break;
            }
        }
    }
    let partition_by = partition_by(c)?;
    Ok(CreateTable {
        if_not_exists,
        name,
        columns,
        constraints,
        partition_by,
    })
}

/// `partition by range|list|hash (col, ..)` after a `create table`'s columns, when written.
fn partition_by(c: &mut Cursor) -> PResult<Option<PartitionBy>> {
    let start = c.span();
    if c.eat_kws(&["partition", "by"]).is_none() {
        return Ok(None);
    }
    let strategy = if c.eat_kw("range").is_some() {
        PartitionStrategy::Range
    } else if c.eat_kw("list").is_some() {
        PartitionStrategy::List
    } else if c.eat_kw("hash").is_some() {
        PartitionStrategy::Hash
    } else {
        return Err(c.expected("`range`, `list` or `hash` after `partition by`"));
    };
    let columns = c.paren_names(
        "a column name (the DSL's partition keys are columns)",
        "after the partitioning strategy",
    )?;
    Ok(Some(PartitionBy {
        strategy,
        columns,
        range: c.range_from(start),
    }))
}

/// `name type [column_constraint ...]`
pub(super) fn column_def(c: &mut Cursor) -> PResult<ColumnDef> {
    let start = c.span();
    let name = c.name("a column name")?;
    let ty = parse_type(c, &format!("after the column name `{}`", name.value))?;
    let mut constraints = Vec::new();
    while let Some(constraint) = column_constraint(c)? {
        constraints.push(constraint);
    }
    Ok(ColumnDef {
        name,
        ty,
        constraints,
        range: c.range_from(start),
    })
}

/// One column constraint, or `None` when the next token does not start one.
fn column_constraint(c: &mut Cursor) -> PResult<Option<ColumnConstraint>> {
    let start = c.span();
    let name = match c.eat_kw("constraint") {
        Some(_) => Some(c.name("the constraint name after `constraint`")?),
        None => None,
    };
    let kind = if c.eat_kw("not").is_some() {
        c.expect_kw("null", "after `not`")?;
        ColumnConstraintKind::NotNull
    } else if c.eat_kw("null").is_some() {
        ColumnConstraintKind::Null
    } else if c.eat_kw("default").is_some() {
        ColumnConstraintKind::Default(parse_expr(c, "after `default`")?)
    } else if c.eat_kw("primary").is_some() {
        c.expect_kw("key", "after `primary`")?;
        ColumnConstraintKind::PrimaryKey
    } else if c.eat_kw("unique").is_some() {
        ColumnConstraintKind::Unique
    } else if c.eat_kw("references").is_some() {
        ColumnConstraintKind::References(foreign_key_target(c, false)?)
    } else if c.eat_kw("check").is_some() {
        ColumnConstraintKind::Check(paren_expr(c, "after `check`")?)
    } else if c.eat_kw("generated").is_some() {
        generated(c)?
    } else if let Some(name) = &name {
        return Err(c.expected(&format!(
            "a constraint after `constraint {}` (`not null`, `default`, `primary key`, `unique`, `references` \
             or `check`)",
            name.value
        )));
    } else {
        return Ok(None);
    };
    Ok(Some(ColumnConstraint {
        name,
        kind,
        range: c.range_from(start),
    }))
}

/// After `generated`: `always as identity`, `by default as identity`, `always as (expr) stored`.
fn generated(c: &mut Cursor) -> PResult<ColumnConstraintKind> {
    if c.eat_kw("always").is_some() {
        c.expect_kw("as", "after `generated always`")?;
        if c.eat_kw("identity").is_some() {
            return Ok(ColumnConstraintKind::Identity { always: true });
        }
        if c.peek_group(proc_macro2::Delimiter::Parenthesis) {
            let expr = paren_expr(c, "")?;
            if c.eat_kw("virtual").is_some() {
                return Ok(ColumnConstraintKind::GeneratedVirtual(expr));
            }
            c.expect_kw("stored", "or `virtual` after the generation expression")?;
            return Ok(ColumnConstraintKind::GeneratedStored(expr));
        }
        return Err(c.expected("`identity` or `(` after `generated always as`"));
    }
    if c.eat_kws(&["by", "default"]).is_some() {
        c.expect_kw("as", "after `generated by default`")?;
        c.expect_kw("identity", "after `generated by default as`")?;
        return Ok(ColumnConstraintKind::Identity { always: false });
    }
    Err(c.expected("`always` or `by default` after `generated`"))
}

/// `(expr)`: the parentheses are the syntax of `check (..)`, not part of the expression.
fn paren_expr(c: &mut Cursor, context: &str) -> PResult<Expr> {
    let mut inner = c.expect_paren(context)?;
    let expr = parse_expr(&mut inner, "inside `(`")?;
    inner.expect_end("`)`")?;
    Ok(expr)
}

/// After `references`: `table [(col, ..)] [on delete action] [on update action]`. A column constraint
/// names at most one column.
pub(super) fn foreign_key_target(c: &mut Cursor, many: bool) -> PResult<ForeignKeyTarget> {
    let table = c.qname("the referenced table after `references`")?;
    let columns = if c.peek_group(proc_macro2::Delimiter::Parenthesis) {
        let at = c.span();
        let columns = c.paren_names("a column name", "")?;
        if !many && columns.len() > 1 {
            return Err(syn::Error::new(
                at,
                "a column's `references` names one column; use a table constraint \
                 `foreign key (a, b) references t (x, y)` for several",
            ));
        }
        columns
    } else {
        Vec::new()
    };
    let mut on_delete = None;
    let mut on_update = None;
    loop {
        let (slot, event) = if c.peek_kws(&["on", "delete"]) {
            (&mut on_delete, "delete")
        } else if c.peek_kws(&["on", "update"]) {
            (&mut on_update, "update")
        } else {
            break;
        };
        let at = c.span();
        c.bump();
        c.bump();
        if slot.is_some() {
            return Err(syn::Error::new(
                at,
                format!("duplicate `on {event}`; write it once"),
            ));
        }
        *slot = Some(referential_action(c, event)?);
    }
    Ok(ForeignKeyTarget {
        table,
        columns,
        on_delete,
        on_update,
    })
}

fn referential_action(c: &mut Cursor, event: &str) -> PResult<ReferentialAction> {
    let action = if c.eat_kws(&["no", "action"]).is_some() {
        ReferentialAction::NoAction
    } else if c.eat_kw("restrict").is_some() {
        ReferentialAction::Restrict
    } else if c.eat_kw("cascade").is_some() {
        ReferentialAction::Cascade
    } else if c.eat_kws(&["set", "null"]).is_some() {
        ReferentialAction::SetNull
    } else if c.eat_kws(&["set", "default"]).is_some() {
        ReferentialAction::SetDefault
    } else {
        return Err(c.expected(&format!(
            "`no action`, `restrict`, `cascade`, `set null` or `set default` after `on {event}`"
        )));
    };
    Ok(action)
}

/// Whether the next token starts a table constraint rather than a column definition.
pub(super) fn starts_table_constraint(c: &Cursor) -> bool {
    [
        "constraint",
        "check",
        "unique",
        "primary",
        "foreign",
        "exclude",
    ]
    .iter()
    .any(|kw| c.peek_kw(kw))
}

/// `[constraint name] kind [not valid]`
pub(super) fn table_constraint(c: &mut Cursor) -> PResult<TableConstraint> {
    let start = c.span();
    let name = match c.eat_kw("constraint") {
        Some(_) => Some(c.name("the constraint name after `constraint`")?),
        None => None,
    };
    let kind = if c.eat_kw("check").is_some() {
        TableConstraintKind::Check(paren_expr(c, "after `check`")?)
    } else if c.eat_kw("unique").is_some() {
        if c.eat_kws(&["using", "index"]).is_some() {
            TableConstraintKind::UniqueUsingIndex(c.name("the index name after `using index`")?)
        } else {
            let columns = c.paren_names("a column name", "with the columns after `unique`")?;
            TableConstraintKind::Unique {
                columns,
                include: include(c)?,
            }
        }
    } else if c.eat_kw("primary").is_some() {
        c.expect_kw("key", "after `primary`")?;
        if c.eat_kws(&["using", "index"]).is_some() {
            TableConstraintKind::PrimaryKeyUsingIndex(c.name("the index name after `using index`")?)
        } else {
            let columns = c.paren_names("a column name", "with the columns after `primary key`")?;
            TableConstraintKind::PrimaryKey {
                columns,
                include: include(c)?,
            }
        }
    } else if c.eat_kw("foreign").is_some() {
        c.expect_kw("key", "after `foreign`")?;
        let columns = c.paren_names("a column name", "with the columns after `foreign key`")?;
        c.expect_kw("references", "after the foreign key columns")?;
        TableConstraintKind::ForeignKey {
            columns,
            target: foreign_key_target(c, true)?,
        }
    } else if c.eat_kw("exclude").is_some() {
        // Only parsed to be rejected (or allowed by an override): keep the tokens as written.
        let mut tokens = proc_macro2::TokenStream::new();
        while let Some(tt) = c.peek() {
            if matches!(tt, TokenTree::Punct(p) if p.as_char() == ',' || p.as_char() == ';') {
                break;
            }
            tokens.extend(c.bump());
        }
        check_nul_in(c, &tokens);
        TableConstraintKind::Exclude { tokens }
    } else if name.is_some() && c.eat_kws(&["not", "null"]).is_some() {
        TableConstraintKind::NotNull(c.name("the column name after `not null`")?)
    } else {
        let after = name
            .as_ref()
            .map_or_else(String::new, |n| format!(" after `constraint {}`", n.value));
        let not_null = if name.is_some() { ", `not null`" } else { "" };
        return Err(c.expected(&format!(
            "`check`, `unique`, `primary key`, `foreign key`{not_null} or `exclude`{after}"
        )));
    };
    let not_valid = c.eat_kws(&["not", "valid"]);
    Ok(TableConstraint {
        name,
        kind,
        not_valid,
        range: c.range_from(start),
        key_columns: Default::default(),
    })
}

/// `[include (cols)]`
fn include(c: &mut Cursor) -> PResult<Vec<crate::ast::Name>> {
    if c.eat_kw("include").is_some() {
        c.paren_names("a column name", "after `include`")
    } else {
        Ok(Vec::new())
    }
}

/// Reports a NUL in any string of tokens kept verbatim (an `exclude` constraint): they are rendered
/// into the SQL as they are.
fn check_nul_in(c: &Cursor, tokens: &proc_macro2::TokenStream) {
    for tt in tokens.clone() {
        match tt {
            TokenTree::Group(g) => check_nul_in(c, &g.stream()),
            TokenTree::Literal(lit) => {
                if let syn::Lit::Str(s) = syn::Lit::new(lit.clone()) {
                    check_nul(c.cx, &s.value(), lit.span());
                }
            }
            _ => {}
        }
    }
}
