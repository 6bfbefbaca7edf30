//! One statement: dispatch on the leading keywords, and every statement form except `create table`
//! (`table.rs`) and `alter table` (`alter.rs`).

use proc_macro2::Delimiter;
use zerodown_runtime::plan::LockLevel;

use super::alter::{alter_table_stmt, cascade};
use super::cursor::{Cursor, PResult};
use super::expand::expand;
use super::expr::{parse_call, parse_expr};
use super::table::create_table;
use crate::ast::{
    Assignment, BackfillStmt, CommentTarget, CreateIndex, EnumPosition, IndexKey, IndexKeyExpr,
    Name, QName, Range, RawSql, ReindexTarget, Stmt, StmtKind, Str,
};

/// The statements, for "unknown statement" messages.
pub(super) const STATEMENTS: &str = "`create table`, `create index`, `create unique index`, `create type`, \
    `alter table`, `alter type`, `alter index`, `drop table`, `drop index`, `comment on`, `backfill`, `expand`, \
    `analyze`, `refresh materialized view`, `raw` or `unsafe`";

/// Objects `create` makes that the DSL leaves to `raw` SQL (named in the error).
const RAW_ONLY_CREATE: &[&str] = &[
    "extension",
    "function",
    "procedure",
    "view",
    "materialized",
    "trigger",
    "sequence",
    "schema",
    "policy",
    "role",
    "domain",
    "aggregate",
    "operator",
    "publication",
    "subscription",
    "collation",
    "rule",
    "or",
];

/// Whether the next token can start a statement: after a missing `;`, parsing resumes there.
pub(super) fn starts_statement(c: &Cursor) -> bool {
    [
        "create", "alter", "drop", "comment", "raw", "reindex", "vacuum", "cluster", "lock",
        "truncate", "unsafe", "set", "backfill", "expand", "analyze", "refresh",
    ]
    .iter()
    .any(|kw| c.peek_kw(kw))
}

/// One statement, up to (not including) its `;`.
pub(super) fn parse_stmt(c: &mut Cursor) -> PResult<Stmt> {
    let start = c.span();
    let kind = stmt_kind(c)?;
    Ok(Stmt {
        kind,
        range: c.range_from(start),
    })
}

fn stmt_kind(c: &mut Cursor) -> PResult<StmtKind> {
    let Some(keyword) = c.peek_keyword() else {
        return Err(c.expected(&format!("a statement ({STATEMENTS})")));
    };
    match keyword.as_str() {
        "create" => {
            c.bump();
            if c.eat_kw("table").is_some() {
                return Ok(StmtKind::CreateTable(create_table(c)?));
            }
            if c.eat_kw("type").is_some() {
                return create_type(c);
            }
            if c.eat_kw("statistics").is_some() {
                return create_statistics(c);
            }
            let unique = c.eat_kw("unique").is_some();
            if c.eat_kw("index").is_some() {
                return Ok(StmtKind::CreateIndex(create_index(c, unique)?));
            }
            if !unique {
                if let Some(other) = c.peek_keyword().filter(|k| RAW_ONLY_CREATE.contains(&k.as_str())) {
                    let other = if other == "or" { "or replace".to_owned() } else { other };
                    return Err(c.error(format!(
                        "`create {other}` is not a statement of the DSL; write it as raw SQL with the reason it is safe: `raw(reason = \"..\") \"create {other} ..\"`"
                    )));
                }
            }
            let expected = if unique {
                "`index` after `create unique`"
            } else {
                "`table`, `index`, `unique index`, `type` or `statistics` after `create`"
            };
            Err(c.expected(expected))
        }
        "drop" => {
            c.bump();
            drop(c)
        }
        "alter" => {
            c.bump();
            if c.eat_kw("table").is_some() {
                return alter_table_stmt(c);
            }
            if c.eat_kw("type").is_some() {
                return alter_type(c);
            }
            if c.eat_kw("index").is_some() {
                let index = c.qname("the index name after `alter index`")?;
                c.expect_kw("rename", "after the index name (the DSL's `alter index` renames)")?;
                c.expect_kw("to", "after `rename`")?;
                let to = c.name("the new index name")?;
                return Ok(StmtKind::RenameIndex { index, to });
            }
            Err(c.expected("`table`, `index` or `type` after `alter`"))
        }
        "analyze" => {
            c.bump();
            let table = c.qname("the table name after `analyze`")?;
            let columns = if c.peek_group(proc_macro2::Delimiter::Parenthesis) {
                c.paren_names("a column name", "after the table name")?
            } else {
                Vec::new()
            };
            Ok(StmtKind::Analyze { table, columns })
        }
        "refresh" => {
            c.bump();
            c.expect_kw("materialized", "after `refresh`")?;
            c.expect_kw("view", "after `refresh materialized`")?;
            let concurrently = c.eat_kw("concurrently").map(Range::single);
            let view = c.qname("the materialized view's name")?;
            Ok(StmtKind::RefreshMaterializedView { concurrently, view })
        }
        "comment" => {
            c.bump();
            comment(c)
        }
        "raw" => raw(c).map(StmtKind::Raw),
        "backfill" => {
            c.bump();
            backfill(c).map(StmtKind::Backfill)
        }
        "expand" => expand(c).map(StmtKind::Expand),
        "reindex" => {
            c.bump();
            reindex(c)
        }
        "vacuum" => {
            c.bump();
            if c.eat_kw("full").is_none() {
                return Err(syn::Error::new(
                    c.prev_span(),
                    "plain `vacuum` is not a schema change; leave it to autovacuum",
                ));
            }
            let table = if c.peek_ident() { Some(c.qname("the table name")?) } else { None };
            Ok(StmtKind::VacuumFull { table })
        }
        "cluster" => {
            c.bump();
            let table = c.qname("the table name after `cluster`")?;
            let index = match c.eat_kw("using") {
                Some(_) => Some(c.name("the index name after `using`")?),
                None => None,
            };
            Ok(StmtKind::Cluster { table, index })
        }
        "lock" => {
            c.bump();
            lock(c)
        }
        "truncate" => {
            c.bump();
            c.eat_kw("table");
            let tables = qnames(c, "the table name")?;
            let cascade = cascade(c);
            Ok(StmtKind::Truncate { tables, cascade })
        }
        "update" | "insert" | "delete" => Err(c.error(format!(
            "`{keyword}` is not a statement of the DSL; to change the rows of a live table write `backfill <table> set <column> = <expression> [where ..]` (batched, resumable, see docs/dsl.md#backfill); for a one-off write to a small table use `raw(reason = \"..\", lock = row_exclusive) \"{keyword} ..\"`"
        ))),
        _ => {
            let name = c.found();
            Err(c.error(format!("unknown statement {name}; expected one of {STATEMENTS}")))
        }
    }
}

/// After `create statistics`: `name [(kind, ..)] on col, col from table`.
fn create_statistics(c: &mut Cursor) -> PResult<StmtKind> {
    let name = c.qname("the statistics object's name")?;
    let kinds = if c.peek_group(proc_macro2::Delimiter::Parenthesis) {
        c.paren_names("a statistics kind", "after the name")?
    } else {
        Vec::new()
    };
    c.expect_kw("on", "after the statistics object's name")?;
    let mut columns = vec![c.name("a column name")?];
    while c.eat_punct(',').is_some() {
        columns.push(c.name("a column name")?);
    }
    c.expect_kw("from", "after the columns")?;
    let table = c.qname("the table name")?;
    Ok(StmtKind::CreateStatistics {
        name,
        kinds,
        columns,
        table,
    })
}

/// `a, b, c`
fn qnames(c: &mut Cursor, what: &str) -> PResult<Vec<QName>> {
    let mut names = vec![c.qname(what)?];
    while c.eat_punct(',').is_some() {
        names.push(c.qname(what)?);
    }
    Ok(names)
}

/// After `drop`.
fn drop(c: &mut Cursor) -> PResult<StmtKind> {
    if c.eat_kw("table").is_some() {
        let if_exists = c.eat_kws(&["if", "exists"]).is_some();
        let tables = qnames(c, "the table name after `drop table`")?;
        let cascade = cascade(c);
        return Ok(StmtKind::DropTable {
            if_exists,
            tables,
            cascade,
        });
    }
    if c.eat_kw("index").is_some() {
        let concurrently = c.eat_kw("concurrently").map(Range::single);
        let if_exists = c.eat_kws(&["if", "exists"]).is_some();
        let index = c.qname("the index name after `drop index`")?;
        let cascade = cascade(c);
        return Ok(StmtKind::DropIndex {
            concurrently,
            if_exists,
            index,
            cascade,
        });
    }
    if c.eat_kw("schema").is_some() {
        let if_exists = c.eat_kws(&["if", "exists"]).is_some();
        let name = c.name("the schema name after `drop schema`")?;
        let cascade = cascade(c);
        return Ok(StmtKind::DropSchema {
            if_exists,
            name,
            cascade,
        });
    }
    if c.eat_kw("database").is_some() {
        let if_exists = c.eat_kws(&["if", "exists"]).is_some();
        let name = c.name("the database name after `drop database`")?;
        return Ok(StmtKind::DropDatabase { if_exists, name });
    }
    Err(c.expected("`table`, `index`, `schema` or `database` after `drop`"))
}

/// After `create [unique] index`.
fn create_index(c: &mut Cursor, unique: bool) -> PResult<CreateIndex> {
    let concurrently = c.eat_kw("concurrently").map(Range::single);
    let if_not_exists = c.eat_kws(&["if", "not", "exists"]).is_some();
    let name = if c.peek_kw("on") {
        None
    } else {
        Some(c.name("the index name or `on`")?)
    };
    c.expect_kw(
        "on",
        if name.is_some() {
            "after the index name"
        } else {
            ""
        },
    )?;
    let table = c.qname("the table name after `on`")?;
    let method = match c.eat_kw("using") {
        Some(_) => Some(c.name("the index method after `using`")?),
        None => None,
    };
    let mut inner = c.expect_paren(&format!(
        "with the index keys after `on {}`",
        table.name.value
    ))?;
    let mut keys = vec![index_key(&mut inner)?];
    while inner.eat_punct(',').is_some() {
        keys.push(index_key(&mut inner)?);
    }
    inner.expect_end(
        "`,` or `)` after the index key (an expression key goes in parentheses: `((a || b))`)",
    )?;
    let include = if c.eat_kw("include").is_some() {
        c.paren_names("a column name", "after `include`")?
    } else {
        Vec::new()
    };
    let predicate = match c.eat_kw("where") {
        Some(_) => Some(parse_expr(c, "after `where`")?),
        None => None,
    };
    Ok(CreateIndex {
        unique,
        concurrently,
        if_not_exists,
        name,
        table,
        method,
        keys,
        include,
        predicate,
    })
}

/// `column | (expr) | f(args)`, then `[opclass] [asc|desc] [nulls first|last]`.
fn index_key(c: &mut Cursor) -> PResult<IndexKey> {
    let start = c.span();
    let is_call = c.peek_ident()
        && (matches!(c.peek_nth(1), Some(proc_macro2::TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
            || (c.peek_punct_at(1, '.')
                && matches!(c.peek_nth(3), Some(proc_macro2::TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)));
    let expr = if c.peek_group(Delimiter::Parenthesis) {
        IndexKeyExpr::Expr(parse_expr(c, "")?)
    } else if is_call {
        IndexKeyExpr::Expr(parse_call(c)?)
    } else {
        IndexKeyExpr::Column(c.name("a column name or `(expression)`")?)
    };
    let ordering = ["asc", "desc", "nulls"];
    let opclass = if c.peek_ident() && !ordering.iter().any(|kw| c.peek_kw(kw)) {
        Some(c.name("an operator class")?)
    } else {
        None
    };
    let descending = if c.eat_kw("asc").is_some() {
        Some(false)
    } else if c.eat_kw("desc").is_some() {
        Some(true)
    } else {
        None
    };
    let nulls_first = if c.eat_kw("nulls").is_some() {
        if c.eat_kw("first").is_some() {
            Some(true)
        } else if c.eat_kw("last").is_some() {
            Some(false)
        } else {
            return Err(c.expected("`first` or `last` after `nulls`"));
        }
    } else {
        None
    };
    Ok(IndexKey {
        expr,
        opclass,
        descending,
        nulls_first,
        range: c.range_from(start),
    })
}

/// After `create type`: `name as enum ("a", ..)`.
fn create_type(c: &mut Cursor) -> PResult<StmtKind> {
    let name = c.qname("the type name after `create type`")?;
    c.expect_kw("as", &format!("after `create type {}`", name.name.value))?;
    c.expect_kw("enum", "after `as` (only enum types are supported)")?;
    let mut inner = c.expect_paren("with the labels after `enum`")?;
    let mut values = Vec::new();
    if !inner.is_end() {
        values.push(enum_label(
            &mut inner,
            "an enum label as a string, e.g. `\"happy\"`",
        )?);
        while inner.eat_punct(',').is_some() {
            values.push(enum_label(
                &mut inner,
                "an enum label as a string, e.g. `\"happy\"`",
            )?);
        }
    }
    inner.expect_end("`,` or `)`")?;
    Ok(StmtKind::CreateEnum { name, values })
}

/// An enum label: a string of at most 63 bytes (PostgreSQL rejects longer ones when the statement runs;
/// better to hear it now). Reported, not fatal.
fn enum_label(c: &mut Cursor, what: &str) -> PResult<Str> {
    let label = c.string(what)?;
    if label.value.len() > 63 {
        c.cx.error(
            Range::single(label.span),
            format!(
                "enum label `{}` is {} bytes long; PostgreSQL allows at most 63 bytes, so shorten it",
                label.value,
                label.value.len()
            ),
        );
    }
    Ok(label)
}

/// After `alter type`: `name add value [if not exists] "v" [before|after "w"]`.
fn alter_type(c: &mut Cursor) -> PResult<StmtKind> {
    let name = c.qname("the type name after `alter type`")?;
    c.expect_kw(
        "add",
        &format!(
            "after `alter type {}` (only `add value` is supported)",
            name.name.value
        ),
    )?;
    c.expect_kw("value", "after `add`")?;
    let if_not_exists = c.eat_kws(&["if", "not", "exists"]).is_some();
    let value = enum_label(c, "the new label as a string, e.g. `\"happy\"`")?;
    let position = if c.eat_kw("before").is_some() {
        Some((
            EnumPosition::Before,
            c.string("a label as a string after `before`")?,
        ))
    } else if c.eat_kw("after").is_some() {
        Some((
            EnumPosition::After,
            c.string("a label as a string after `after`")?,
        ))
    } else {
        None
    };
    Ok(StmtKind::AlterEnumAddValue {
        name,
        if_not_exists,
        value,
        position,
    })
}

/// After `comment`: `on target is "text" | null`.
fn comment(c: &mut Cursor) -> PResult<StmtKind> {
    c.expect_kw("on", "after `comment`")?;
    let target = if c.eat_kw("table").is_some() {
        CommentTarget::Table(c.qname("the table name")?)
    } else if c.eat_kw("column").is_some() {
        let start = c.span();
        let mut parts = vec![c.name("`table.column`")?];
        while c.eat_punct('.').is_some() {
            parts.push(c.name("a name after `.`")?);
        }
        let column = parts
            .pop()
            .filter(|_| (1..=2).contains(&parts.len()))
            .ok_or_else(|| {
                syn::Error::new(
                    start,
                    "expected `table.column` or `schema.table.column` after `comment on column`",
                )
            })?;
        let name = parts.pop().expect("one or two parts left");
        CommentTarget::Column {
            table: QName {
                schema: parts.pop(),
                name,
            },
            column,
        }
    } else if c.eat_kw("index").is_some() {
        CommentTarget::Index(c.qname("the index name")?)
    } else if c.eat_kw("type").is_some() {
        CommentTarget::Type(c.qname("the type name")?)
    } else if c.eat_kw("constraint").is_some() {
        let name = c.name("the constraint name")?;
        c.expect_kw("on", &format!("after `constraint {}`", name.value))?;
        CommentTarget::Constraint {
            name,
            table: c.qname("the table name")?,
        }
    } else {
        return Err(
            c.expected("`table`, `column`, `index`, `type` or `constraint` after `comment on`")
        );
    };
    c.expect_kw("is", "before the comment text")?;
    let text = if c.eat_kw("null").is_some() {
        None
    } else {
        Some(c.string("a string or `null` after `is`")?)
    };
    Ok(StmtKind::CommentOn { target, text })
}

/// `raw[(reason = "..", lock = level, no_transaction, allow = [rule, ..])] "SQL"`
fn raw(c: &mut Cursor) -> PResult<RawSql> {
    let keyword = Range::single(c.expect_kw("raw", "")?);
    let mut reason: Option<Str> = None;
    let mut allow = Vec::new();
    let mut lock = None;
    let mut no_transaction = false;
    if let Some(mut opts) = c.eat_group(Delimiter::Parenthesis) {
        let mut seen: Vec<String> = Vec::new();
        while !opts.is_end() {
            let option =
                opts.word("a `raw` option (`reason`, `lock`, `no_transaction` or `allow`)")?;
            if seen.contains(&option.value) {
                return Err(syn::Error::new(
                    option.span,
                    format!("duplicate `raw` option `{}`", option.value),
                ));
            }
            seen.push(option.value.clone());
            match option.value.as_str() {
                "reason" => {
                    opts.expect_punct('=', "after `reason`")?;
                    reason = Some(opts.string("the reason as a string after `reason =`")?);
                }
                "lock" => {
                    opts.expect_punct('=', "after `lock`")?;
                    let level = opts.word("a lock level after `lock =`")?;
                    lock = Some((lock_level(&level)?, level.range()));
                }
                "no_transaction" => no_transaction = true,
                "allow" => {
                    opts.expect_punct('=', "after `allow`")?;
                    let Some(mut rules) = opts.eat_group(Delimiter::Bracket) else {
                        return Err(
                            opts.expected("a list of rule names such as `[table_rewrite]`")
                        );
                    };
                    while !rules.is_end() {
                        allow.push(rules.word("a rule name")?);
                        if rules.eat_punct(',').is_none() {
                            rules.expect_end("`,` or `]` after the rule name")?;
                        }
                    }
                }
                other => {
                    return Err(syn::Error::new(
                        option.span,
                        format!(
                            "unknown `raw` option `{other}`; expected `reason`, `lock`, `no_transaction` or `allow`"
                        ),
                    ))
                }
            }
            if opts.eat_punct(',').is_none() {
                opts.expect_end("`,` or `)` after the `raw` option")?;
            }
        }
    }
    let sql = c.string("the SQL as a string after `raw(..)`")?;
    if sql
        .value
        .trim_matches(|ch: char| ch.is_whitespace() || ch == ';')
        .is_empty()
    {
        c.cx.error(
            Range::single(sql.span),
            "this `raw` SQL is empty; write the statement to run, or remove the `raw`",
        );
    }
    Ok(RawSql {
        keyword,
        reason,
        lock,
        no_transaction,
        allow,
        sql,
    })
}

const LOCK_LEVELS: &[(&str, LockLevel)] = &[
    ("none", LockLevel::None),
    ("access_share", LockLevel::AccessShare),
    ("row_share", LockLevel::RowShare),
    ("row_exclusive", LockLevel::RowExclusive),
    ("share_update_exclusive", LockLevel::ShareUpdateExclusive),
    ("share", LockLevel::Share),
    ("share_row_exclusive", LockLevel::ShareRowExclusive),
    ("exclusive", LockLevel::Exclusive),
    ("access_exclusive", LockLevel::AccessExclusive),
];

fn lock_level(name: &Name) -> PResult<LockLevel> {
    LOCK_LEVELS
        .iter()
        .find(|(n, _)| *n == name.value)
        .map(|(_, l)| *l)
        .ok_or_else(|| {
            let all: Vec<String> = LOCK_LEVELS.iter().map(|(n, _)| format!("`{n}`")).collect();
            syn::Error::new(
                name.span,
                format!(
                    "unknown lock level `{}`; expected one of {}",
                    name.value,
                    all.join(", ")
                ),
            )
        })
}

/// After `reindex`: `[concurrently] index|table [concurrently] name` (PostgreSQL's own order puts
/// `concurrently` after the kind; both are accepted).
fn reindex(c: &mut Cursor) -> PResult<StmtKind> {
    let mut concurrently = c.eat_kw("concurrently").map(Range::single);
    let target = if c.eat_kw("index").is_some() {
        ReindexTarget::Index
    } else if c.eat_kw("table").is_some() {
        ReindexTarget::Table
    } else {
        return Err(c.expected("`index` or `table` after `reindex`"));
    };
    if concurrently.is_none() {
        concurrently = c.eat_kw("concurrently").map(Range::single);
    }
    let name = c.qname("the name to reindex")?;
    Ok(StmtKind::Reindex {
        concurrently,
        target,
        name,
    })
}

/// After `lock`: `[table] name [in MODE mode]`.
fn lock(c: &mut Cursor) -> PResult<StmtKind> {
    c.eat_kw("table");
    let table = c.qname("the table name after `lock table`")?;
    let mode = if c.eat_kw("in").is_some() {
        let mut words = Vec::new();
        while !c.peek_kw("mode") {
            words.push(c.word("a lock mode, e.g. `in access exclusive mode`")?);
        }
        if words.is_empty() {
            return Err(c.expected("a lock mode after `in`"));
        }
        c.expect_kw("mode", "after the lock mode")?;
        Some(words)
    } else {
        None
    };
    Ok(StmtKind::LockTable { table, mode })
}

/// After `backfill`: `table set col = expr [, col = expr ..] [where predicate] [by (col, ..)] [keep]`.
fn backfill(c: &mut Cursor) -> PResult<BackfillStmt> {
    let table = c.qname("the table name after `backfill`")?;
    c.expect_kw("set", &format!("after `backfill {}`", table.name.value))?;
    let mut assignments = vec![assignment(c)?];
    while c.eat_punct(',').is_some() {
        assignments.push(assignment(c)?);
    }
    let predicate = match c.eat_kw("where") {
        Some(_) => Some(parse_expr(c, "after `where`")?),
        None => None,
    };
    let by = if c.eat_kw("by").is_some() {
        c.paren_names("a key column", "with the key columns after `by`")?
    } else {
        Vec::new()
    };
    let keep = c.eat_kw("keep").map(Range::single);
    if !c.is_end() && !c.peek_punct(';') {
        return Err(c.expected("`,`, `where`, `by`, `keep` or `;` after the assignment"));
    }
    Ok(BackfillStmt {
        table,
        assignments,
        predicate,
        by,
        keep,
    })
}

/// `col = expr` (a column of the table, unqualified).
fn assignment(c: &mut Cursor) -> PResult<Assignment> {
    let start = c.span();
    let column = c.name("a column name to set")?;
    if c.peek_punct('.') {
        return Err(c.error("write the column without its table in `set`: `set col = ..`"));
    }
    c.expect_punct('=', &format!("after `set {}`", column.value))?;
    let value = parse_expr(c, &format!("after `{} =`", column.value))?;
    Ok(Assignment {
        column,
        value,
        range: c.range_from(start),
    })
}
