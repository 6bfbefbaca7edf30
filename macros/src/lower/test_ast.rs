//! Small constructors for hand-built syntax trees in unit tests (all spans are the call site).

use proc_macro2::{Ident, Span};

use crate::ast::*;

fn span() -> Span {
    Span::call_site()
}

fn range() -> Range {
    Range::single(span())
}

pub fn name(s: &str) -> Name {
    Name {
        value: s.to_owned(),
        span: span(),
    }
}

pub fn names(list: &[&str]) -> Vec<Name> {
    list.iter().map(|s| name(s)).collect()
}

/// `"users"` or `"app.users"`.
pub fn qn(s: &str) -> QName {
    match s.split_once('.') {
        Some((schema, n)) => QName {
            schema: Some(name(schema)),
            name: name(n),
        },
        None => QName {
            schema: None,
            name: name(s),
        },
    }
}

pub fn lit(s: &str) -> Str {
    Str {
        value: s.to_owned(),
        span: span(),
    }
}

/// A type from a compact spelling: `varchar(255)`, `timestamp with time zone(3)` (modifiers anywhere),
/// `text[]`, `app.mood`.
pub fn ty(s: &str) -> Type {
    let mut rest = s.trim();
    let mut array_dims = 0;
    while let Some(r) = rest.strip_suffix("[]") {
        array_dims += 1;
        rest = r;
    }
    let mut params = Vec::new();
    let mut text = rest.to_owned();
    if let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) {
        params = rest[open + 1..close]
            .split(',')
            .map(|p| p.trim().parse().unwrap())
            .collect();
        text = format!("{}{}", &rest[..open], &rest[close + 1..]);
    }
    let (schema, words) = match text.split_once('.') {
        Some((schema, n)) => (Some(name(schema)), n.to_owned()),
        None => (None, text),
    };
    Type {
        schema,
        words: words.split_whitespace().map(str::to_owned).collect(),
        params,
        array_dims,
        range: range(),
    }
}

fn e(kind: ExprKind) -> Expr {
    Expr {
        kind,
        range: range(),
    }
}

pub fn string(s: &str) -> Expr {
    e(ExprKind::String(s.to_owned()))
}

pub fn num(s: &str) -> Expr {
    e(ExprKind::Number(s.to_owned()))
}

pub fn boolean(b: bool) -> Expr {
    e(ExprKind::Bool(b))
}

pub fn null() -> Expr {
    e(ExprKind::Null)
}

/// `col("email")` or `col("users.email")`.
pub fn col(s: &str) -> Expr {
    e(ExprKind::Column(s.split('.').map(name).collect()))
}

pub fn sql_value(s: &str) -> Expr {
    e(ExprKind::SqlValue(name(s)))
}

pub fn call(f: &str, args: Vec<Expr>) -> Expr {
    e(ExprKind::Call {
        func: qn(f),
        args,
        star: false,
    })
}

pub fn count_star() -> Expr {
    e(ExprKind::Call {
        func: qn("count"),
        args: vec![],
        star: true,
    })
}

pub fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    e(ExprKind::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    })
}

fn unary(op: UnaryOp, x: Expr) -> Expr {
    e(ExprKind::Unary {
        op,
        expr: Box::new(x),
    })
}

pub fn not(x: Expr) -> Expr {
    unary(UnaryOp::Not, x)
}

pub fn neg(x: Expr) -> Expr {
    unary(UnaryOp::Neg, x)
}

pub fn plus(x: Expr) -> Expr {
    unary(UnaryOp::Plus, x)
}

pub fn cast(x: Expr, t: &str) -> Expr {
    e(ExprKind::Cast {
        expr: Box::new(x),
        ty: ty(t),
    })
}

pub fn is_null(x: Expr, negated: bool) -> Expr {
    e(ExprKind::IsNull {
        expr: Box::new(x),
        negated,
    })
}

pub fn in_list(x: Expr, list: Vec<Expr>, negated: bool) -> Expr {
    e(ExprKind::InList {
        expr: Box::new(x),
        list,
        negated,
    })
}

pub fn between(x: Expr, low: Expr, high: Expr, negated: bool) -> Expr {
    e(ExprKind::Between {
        expr: Box::new(x),
        low: Box::new(low),
        high: Box::new(high),
        negated,
    })
}

pub fn case(operand: Option<Expr>, whens: Vec<(Expr, Expr)>, else_: Option<Expr>) -> Expr {
    e(ExprKind::Case {
        operand: operand.map(Box::new),
        whens,
        else_: else_.map(Box::new),
    })
}

pub fn array(items: Vec<Expr>) -> Expr {
    e(ExprKind::Array(items))
}

pub fn paren(x: Expr) -> Expr {
    e(ExprKind::Paren(Box::new(x)))
}

pub fn column(n: &str, t: &str, constraints: Vec<ColumnConstraint>) -> ColumnDef {
    ColumnDef {
        name: name(n),
        ty: ty(t),
        constraints,
        range: range(),
    }
}

fn cc(kind: ColumnConstraintKind) -> ColumnConstraint {
    ColumnConstraint {
        name: None,
        kind,
        range: range(),
    }
}

pub fn named(n: &str, kind: ColumnConstraintKind) -> ColumnConstraint {
    ColumnConstraint {
        name: Some(name(n)),
        kind,
        range: range(),
    }
}

pub fn not_null() -> ColumnConstraint {
    cc(ColumnConstraintKind::NotNull)
}

pub fn null_c() -> ColumnConstraint {
    cc(ColumnConstraintKind::Null)
}

pub fn default(x: Expr) -> ColumnConstraint {
    cc(ColumnConstraintKind::Default(x))
}

pub fn primary_key() -> ColumnConstraint {
    cc(ColumnConstraintKind::PrimaryKey)
}

pub fn unique_c() -> ColumnConstraint {
    cc(ColumnConstraintKind::Unique)
}

pub fn check_c(x: Expr) -> ColumnConstraint {
    cc(ColumnConstraintKind::Check(x))
}

pub fn identity(always: bool) -> ColumnConstraint {
    cc(ColumnConstraintKind::Identity { always })
}

pub fn generated(x: Expr) -> ColumnConstraint {
    cc(ColumnConstraintKind::GeneratedStored(x))
}

pub fn references(target: ForeignKeyTarget) -> ColumnConstraint {
    cc(ColumnConstraintKind::References(target))
}

pub fn fk(
    table: &str,
    columns: &[&str],
    on_delete: Option<ReferentialAction>,
    on_update: Option<ReferentialAction>,
) -> ForeignKeyTarget {
    ForeignKeyTarget {
        table: qn(table),
        columns: names(columns),
        on_delete,
        on_update,
    }
}

pub fn tc(n: Option<&str>, kind: TableConstraintKind, not_valid: bool) -> TableConstraint {
    TableConstraint {
        name: n.map(name),
        kind,
        not_valid: not_valid.then(range),
        range: range(),
        key_columns: Default::default(),
    }
}

pub fn key_col(c: &str) -> IndexKey {
    IndexKey {
        expr: IndexKeyExpr::Column(name(c)),
        opclass: None,
        descending: None,
        nulls_first: None,
        range: range(),
    }
}

pub fn key_expr(x: Expr) -> IndexKey {
    IndexKey {
        expr: IndexKeyExpr::Expr(x),
        opclass: None,
        descending: None,
        nulls_first: None,
        range: range(),
    }
}

// ----- statements -----

pub fn stmt(kind: StmtKind) -> Stmt {
    Stmt {
        kind,
        range: range(),
    }
}

pub fn create_table(t: &str, columns: Vec<ColumnDef>, constraints: Vec<TableConstraint>) -> Stmt {
    stmt(StmtKind::CreateTable(CreateTable {
        if_not_exists: false,
        name: qn(t),
        columns,
        constraints,
        partition_by: None,
    }))
}

/// `create [unique] index [concurrently] name on table (keys)`
pub fn create_index(
    n: &str,
    table: &str,
    keys: Vec<IndexKey>,
    concurrently: bool,
    unique: bool,
) -> CreateIndex {
    CreateIndex {
        unique,
        concurrently: concurrently.then(range),
        if_not_exists: false,
        name: Some(name(n)),
        table: qn(table),
        method: None,
        keys,
        include: vec![],
        predicate: None,
    }
}

pub fn index_stmt(ci: CreateIndex) -> Stmt {
    stmt(StmtKind::CreateIndex(ci))
}

pub fn alter(table: &str, actions: Vec<AlterActionKind>) -> Stmt {
    stmt(StmtKind::AlterTable {
        table: qn(table),
        actions: actions
            .into_iter()
            .map(|kind| AlterAction {
                kind,
                range: range(),
            })
            .collect(),
    })
}

pub fn add_constraint(c: TableConstraint) -> AlterActionKind {
    AlterActionKind::AddConstraint(c)
}

pub fn migration(body: Vec<Stmt>) -> MigrationInput {
    migration_items(body.into_iter().map(Item::Stmt).collect())
}

pub fn migration_items(body: Vec<Item>) -> MigrationInput {
    MigrationInput {
        doc: "Test migration.".to_owned(),
        attrs: vec![],
        vis: syn::Visibility::Inherited,
        ident: Ident::new("m0007_test", span()),
        version: 7,
        name: "test".to_owned(),
        settings: vec![],
        body,
    }
}

pub fn unsafe_block(rules: &[&str], body: Vec<Stmt>) -> Item {
    Item::Unsafe(UnsafeBlock {
        keyword: range(),
        reason: Some(lit("because")),
        allow: names(rules),
        body,
    })
}
