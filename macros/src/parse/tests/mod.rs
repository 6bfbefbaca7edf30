//! Unit tests of the parser. Inputs are parsed from strings (not `quote!`) so spans carry line and
//! column (proc-macro2's `span-locations`, enabled for tests), and error positions can be asserted.

mod alter;
mod corpus;
mod errors;
mod expr;
mod header;
mod settings;
mod stmt;
mod ty;

use proc_macro2::{Span, TokenStream};

use super::cursor::Cursor;
use crate::ast::{Expr, ExprKind, Item, MigrationInput, Stmt, StmtKind, Type, UnaryOp};
use crate::ctxt::Ctxt;

/// One reported error: message and the line/column of its first and last token (lines from 1,
/// columns from 0, as proc-macro2 counts).
#[derive(Debug)]
pub(super) struct Diag {
    pub(super) msg: String,
    pub(super) start: (usize, usize),
    pub(super) end: (usize, usize),
}

pub(super) fn diags(cx: Ctxt) -> Vec<Diag> {
    match cx.check() {
        Ok(()) => Vec::new(),
        Err(err) => err
            .into_iter()
            .map(|e| {
                // `syn::Error::span` joins the first and last span of the error.
                let span = e.span();
                Diag {
                    msg: e.to_string(),
                    start: (span.start().line, span.start().column),
                    end: (span.end().line, span.end().column),
                }
            })
            .collect(),
    }
}

fn tokens(src: &str) -> TokenStream {
    src.parse()
        .unwrap_or_else(|e| panic!("test input does not lex: {e}"))
}

/// Parses a whole macro input.
pub(super) fn parse_input(src: &str) -> (Option<MigrationInput>, Vec<Diag>) {
    let cx = Ctxt::new();
    let input = super::parse_migration(&cx, tokens(src));
    (input, diags(cx))
}

/// Wraps `body` in a module header; the body starts on line 2, column 0.
pub(super) fn module(body: &str) -> String {
    format!("pub mod m0001_test {{\n{body}\n}}")
}

/// Parses `body` as a migration body.
pub(super) fn parse_body(body: &str) -> (MigrationInput, Vec<Diag>) {
    let (input, diags) = parse_input(&module(body));
    (input.expect("the header is fine"), diags)
}

/// The only error for `body`.
pub(super) fn error(body: &str) -> Diag {
    let mut diags = parse_body(body).1;
    assert_eq!(
        diags.len(),
        1,
        "expected exactly one error for {body:?}, got {diags:#?}"
    );
    diags.remove(0)
}

/// Parses `body`, asserting no errors, and returns its statements (unsafe blocks flattened).
pub(super) fn stmts(body: &str) -> Vec<Stmt> {
    let (input, diags) = parse_body(body);
    assert!(
        diags.is_empty(),
        "unexpected errors for {body:?}: {diags:#?}"
    );
    input
        .body
        .into_iter()
        .flat_map(|item| match item {
            Item::Stmt(s) => vec![s],
            Item::Unsafe(u) => u.body,
        })
        .collect()
}

/// The single statement of `body`.
pub(super) fn stmt(body: &str) -> StmtKind {
    let mut all = stmts(body);
    assert_eq!(all.len(), 1, "expected one statement in {body:?}");
    all.remove(0).kind
}

/// Parses a lone expression.
pub(super) fn try_expr(src: &str) -> (Option<Expr>, Vec<Diag>) {
    let cx = Ctxt::new();
    let mut c = Cursor::new(&cx, tokens(src), Span::call_site());
    let result = super::expr::parse_expr(&mut c, "");
    let expr = match result {
        Ok(e) if c.is_end() => Some(e),
        Ok(_) => {
            cx.syn_error(c.expected("the end of the expression"));
            None
        }
        Err(err) => {
            cx.syn_error(err);
            None
        }
    };
    (expr, diags(cx))
}

pub(super) fn expr(src: &str) -> Expr {
    let (e, diags) = try_expr(src);
    assert!(
        diags.is_empty(),
        "unexpected errors for {src:?}: {diags:#?}"
    );
    e.expect("parsed")
}

/// An expression as an s-expression, to assert the tree's shape: `(= a (+ 1 (* 2 3)))`.
pub(super) fn sexp(e: &Expr) -> String {
    match &e.kind {
        ExprKind::String(s) => format!("{s:?}"),
        ExprKind::Number(n) => n.clone(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Null => "null".to_owned(),
        ExprKind::Column(parts) => parts
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>()
            .join("."),
        ExprKind::SqlValue(n) => format!("{}!", n.value),
        ExprKind::Call { func, args, star } => {
            let mut name = func.name.value.clone();
            if let Some(s) = &func.schema {
                name = format!("{}.{name}", s.value);
            }
            let mut parts = vec![format!("call {name}")];
            if *star {
                parts.push("*".to_owned());
            }
            parts.extend(args.iter().map(sexp));
            format!("({})", parts.join(" "))
        }
        ExprKind::Unary { op, expr } => {
            let op = match op {
                UnaryOp::Neg => "neg",
                UnaryOp::Plus => "pos",
                UnaryOp::Not => "not",
            };
            format!("({op} {})", sexp(expr))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", op.as_sql(), sexp(lhs), sexp(rhs))
        }
        ExprKind::Cast { expr, ty } => format!("(cast {} {})", sexp(expr), ty_str(ty)),
        ExprKind::IsNull { expr, negated } => {
            format!(
                "({} {})",
                if *negated { "is-not-null" } else { "is-null" },
                sexp(expr)
            )
        }
        ExprKind::InList {
            expr,
            list,
            negated,
        } => {
            let list: Vec<String> = list.iter().map(sexp).collect();
            format!(
                "({} {} [{}])",
                if *negated { "not-in" } else { "in" },
                sexp(expr),
                list.join(" ")
            )
        }
        ExprKind::Between {
            expr,
            low,
            high,
            negated,
        } => format!(
            "({} {} {} {})",
            if *negated { "not-between" } else { "between" },
            sexp(expr),
            sexp(low),
            sexp(high)
        ),
        ExprKind::Case {
            operand,
            whens,
            else_,
        } => {
            let mut parts = vec!["case".to_owned()];
            if let Some(o) = operand {
                parts.push(sexp(o));
            }
            for (w, t) in whens {
                parts.push(format!("[{} {}]", sexp(w), sexp(t)));
            }
            if let Some(e) = else_ {
                parts.push(format!("[else {}]", sexp(e)));
            }
            format!("({})", parts.join(" "))
        }
        ExprKind::Array(items) => {
            format!(
                "(array {})",
                items.iter().map(sexp).collect::<Vec<_>>().join(" ")
            )
        }
        ExprKind::Paren(inner) => format!("[{}]", sexp(inner)),
    }
}

/// A type as text: `app.mood(1,2)[][]`.
pub(super) fn ty_str(ty: &Type) -> String {
    let mut out = String::new();
    if let Some(s) = &ty.schema {
        out.push_str(&s.value);
        out.push('.');
    }
    out.push_str(&ty.words.join(" "));
    if !ty.params.is_empty() {
        let params: Vec<String> = ty.params.iter().map(u64::to_string).collect();
        out.push_str(&format!("({})", params.join(",")));
    }
    for _ in 0..ty.array_dims {
        out.push_str("[]");
    }
    out
}

/// `(line, column)` of the start and end of a range.
pub(super) fn pos(range: crate::ast::Range) -> ((usize, usize), (usize, usize)) {
    let (s, e) = (range.start.start(), range.end.end());
    ((s.line, s.column), (e.line, e.column))
}
