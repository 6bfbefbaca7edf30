//! Hand-built syntax trees for unit tests, independent of the parser. Every span is `call_site`.

use proc_macro2::{Ident, Span};
use zerodown_runtime::plan::{PgVersion, Settings};

use crate::ast::*;
use crate::ctxt::Ctxt;

fn sp() -> Range {
    Range::single(Span::call_site())
}

pub(crate) fn name(v: &str) -> Name {
    Name {
        value: v.to_owned(),
        span: Span::call_site(),
    }
}

/// `users` or `app.users`.
pub(crate) fn qname(v: &str) -> QName {
    match v.split_once('.') {
        Some((s, n)) => QName {
            schema: Some(name(s)),
            name: name(n),
        },
        None => QName {
            schema: None,
            name: name(v),
        },
    }
}

pub(crate) fn string(v: &str) -> Str {
    Str {
        value: v.to_owned(),
        span: Span::call_site(),
    }
}

/// `"varchar(10)[]"`, `"timestamp with time zone"`, `"app.mood"`, `"numeric(10,2)"`.
pub(crate) fn ty(text: &str) -> Type {
    let mut rest = text.trim();
    let mut array_dims = 0;
    while let Some(r) = rest.strip_suffix("[]") {
        rest = r.trim_end();
        array_dims += 1;
    }
    let (head, params) = match (rest.find('('), rest.find(')')) {
        (Some(open), Some(close)) => {
            let params = rest[open + 1..close]
                .split(',')
                .map(|p| p.trim().parse().expect("number"))
                .collect();
            (format!("{}{}", &rest[..open], &rest[close + 1..]), params)
        }
        _ => (rest.to_owned(), Vec::new()),
    };
    let (schema, head) = match head.split_once('.') {
        Some((s, h)) => (Some(name(s)), h.to_owned()),
        None => (None, head),
    };
    Type {
        schema,
        words: head.split_whitespace().map(str::to_owned).collect(),
        params,
        array_dims,
        range: sp(),
    }
}

pub(crate) fn expr(kind: ExprKind) -> Expr {
    Expr { kind, range: sp() }
}

pub(crate) fn call(func: &str, args: Vec<Expr>) -> Expr {
    expr(ExprKind::Call {
        func: qname(func),
        args,
        star: false,
    })
}

pub(crate) fn text(v: &str) -> Expr {
    expr(ExprKind::String(v.to_owned()))
}

pub(crate) fn num(v: &str) -> Expr {
    expr(ExprKind::Number(v.to_owned()))
}

pub(crate) fn col(v: &str) -> Expr {
    expr(ExprKind::Column(vec![name(v)]))
}

pub(crate) fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    expr(ExprKind::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    })
}

pub(crate) fn column(n: &str, t: &str, constraints: Vec<ColumnConstraintKind>) -> ColumnDef {
    ColumnDef {
        name: name(n),
        ty: ty(t),
        constraints: constraints
            .into_iter()
            .map(|kind| ColumnConstraint {
                name: None,
                kind,
                range: sp(),
            })
            .collect(),
        range: sp(),
    }
}

pub(crate) fn stmt(kind: StmtKind) -> Item {
    Item::Stmt(Stmt { kind, range: sp() })
}

pub(crate) fn create_table(table: &str, columns: Vec<ColumnDef>) -> Item {
    stmt(StmtKind::CreateTable(CreateTable {
        if_not_exists: false,
        name: qname(table),
        columns,
        constraints: Vec::new(),
        partition_by: None,
    }))
}

pub(crate) fn alter(table: &str, actions: Vec<AlterActionKind>) -> Item {
    stmt(alter_kind(table, actions))
}

pub(crate) fn alter_kind(table: &str, actions: Vec<AlterActionKind>) -> StmtKind {
    StmtKind::AlterTable {
        table: qname(table),
        actions: actions
            .into_iter()
            .map(|kind| AlterAction { kind, range: sp() })
            .collect(),
    }
}

pub(crate) fn add_column(c: ColumnDef) -> AlterActionKind {
    AlterActionKind::AddColumn {
        if_not_exists: false,
        column: c,
    }
}

/// `[constraint name] kind [not valid]`
pub(crate) fn constraint(
    n: Option<&str>,
    kind: TableConstraintKind,
    not_valid: bool,
) -> AlterActionKind {
    AlterActionKind::AddConstraint(TableConstraint {
        name: n.map(name),
        kind,
        not_valid: not_valid.then(sp),
        range: sp(),
        key_columns: Default::default(),
    })
}

pub(crate) fn fk_target(table: &str, cols: &[&str]) -> ForeignKeyTarget {
    ForeignKeyTarget {
        table: qname(table),
        columns: cols.iter().map(|c| name(c)).collect(),
        on_delete: None,
        on_update: None,
    }
}

pub(crate) fn create_index(
    n: Option<&str>,
    table: &str,
    concurrently: bool,
    cols: &[&str],
) -> StmtKind {
    StmtKind::CreateIndex(CreateIndex {
        unique: false,
        concurrently: concurrently.then(sp),
        if_not_exists: false,
        name: n.map(name),
        table: qname(table),
        method: None,
        keys: cols
            .iter()
            .map(|c| IndexKey {
                expr: IndexKeyExpr::Column(name(c)),
                opclass: None,
                descending: None,
                nulls_first: None,
                range: sp(),
            })
            .collect(),
        include: Vec::new(),
        predicate: None,
    })
}

pub(crate) fn raw(reason: Option<&str>, sql: &str, no_transaction: bool) -> StmtKind {
    StmtKind::Raw(RawSql {
        keyword: sp(),
        reason: reason.map(string),
        lock: None,
        no_transaction,
        allow: Vec::new(),
        sql: string(sql),
    })
}

pub(crate) fn unsafe_block(reason: Option<&str>, allow: &[&str], body: Vec<StmtKind>) -> Item {
    Item::Unsafe(UnsafeBlock {
        keyword: sp(),
        reason: reason.map(string),
        allow: allow.iter().map(|a| name(a)).collect(),
        body: body
            .into_iter()
            .map(|kind| Stmt { kind, range: sp() })
            .collect(),
    })
}

/// Runs `check` over `body` with the given target and returns the messages, in order.
pub(crate) fn run_on(target: u32, body: Vec<Item>) -> Vec<String> {
    let input = MigrationInput {
        doc: String::new(),
        attrs: Vec::new(),
        vis: syn::Visibility::Inherited,
        ident: Ident::new("m0001_test", Span::call_site()),
        version: 1,
        name: "test".to_owned(),
        settings: Vec::new(),
        body,
    };
    let cx = Ctxt::new();
    let settings = Settings {
        target: PgVersion(target),
        ..Settings::DEFAULT
    };
    super::check(&cx, &input, &settings);
    match cx.check() {
        Ok(()) => Vec::new(),
        Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// [`run_on`] with the default target.
pub(crate) fn run(body: Vec<Item>) -> Vec<String> {
    run_on(Settings::DEFAULT.target.0, body)
}
