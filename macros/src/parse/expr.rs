//! SQL expressions, by precedence climbing with PostgreSQL's precedence (lowest first): `or`; `and`;
//! `not`; `is [not] null` / `is [not] distinct from`; comparisons (`= <> != < > <= >=`, which do not
//! chain); `[not] like|ilike|in|between`; every other operator (`||`, `->`, `->>`, `@>`, `<@`, `&&`,
//! `~`, ...); `+ -`; `* / %`; `^`; `at time zone`; unary `- +`; `::type`.

use proc_macro2::{Delimiter, TokenTree};

use super::cursor::{ident_name, Cursor, PResult};
use super::ty::parse_type;
use crate::ast::{BinaryOp, Expr, ExprKind, Name, QName, Range, UnaryOp};

/// SQL value functions that are written without parentheses.
const SQL_VALUES: &[&str] = &[
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "current_user",
    "session_user",
];

/// Keywords that cannot be a column name in an expression (write `r#end` for a column named `end`).
const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "is",
    "in",
    "like",
    "ilike",
    "between",
    "when",
    "then",
    "else",
    "end",
    "distinct",
    "from",
    "as",
    "on",
    "using",
    "where",
    "select",
    "with",
    "default",
    "primary",
    "references",
    "check",
    "unique",
    "constraint",
    "collate",
    "include",
];

/// An expression; `context` completes "expected an expression {context}" when nothing is there.
pub(super) fn parse_expr(c: &mut Cursor, context: &str) -> PResult<Expr> {
    if c.is_end() {
        return Err(c.expected(format!("an expression {context}").trim_end()));
    }
    c.nested(or)
}

fn node(kind: ExprKind, range: Range) -> Expr {
    Expr { kind, range }
}

fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    let range = lhs.range.to(rhs.range);
    node(
        ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        range,
    )
}

fn or(c: &mut Cursor) -> PResult<Expr> {
    let mut lhs = and(c)?;
    while c.eat_kw("or").is_some() {
        let rhs = and(c)?;
        lhs = binary(BinaryOp::Or, lhs, rhs);
    }
    Ok(lhs)
}

fn and(c: &mut Cursor) -> PResult<Expr> {
    let mut lhs = not(c)?;
    while c.eat_kw("and").is_some() {
        let rhs = not(c)?;
        lhs = binary(BinaryOp::And, lhs, rhs);
    }
    Ok(lhs)
}

fn not(c: &mut Cursor) -> PResult<Expr> {
    match c.eat_kw("not") {
        Some(start) => {
            let expr = c.nested(not)?;
            let range = Range::new(start, expr.range.end);
            Ok(node(
                ExprKind::Unary {
                    op: UnaryOp::Not,
                    expr: Box::new(expr),
                },
                range,
            ))
        }
        None => is(c),
    }
}

fn is(c: &mut Cursor) -> PResult<Expr> {
    let mut expr = comparison(c)?;
    while c.eat_kw("is").is_some() {
        let negated = c.eat_kw("not").is_some();
        if c.eat_kw("null").is_some() {
            let range = c.range_from(expr.range.start);
            expr = node(
                ExprKind::IsNull {
                    expr: Box::new(expr),
                    negated,
                },
                range,
            );
        } else if c.eat_kws(&["distinct", "from"]).is_some() {
            let rhs = comparison(c)?;
            expr = binary(BinaryOp::IsDistinctFrom { negated }, expr, rhs);
        } else {
            let is = if negated { "is not" } else { "is" };
            return Err(c.expected(&format!("`null` or `distinct from` after `{is}`")));
        }
    }
    Ok(expr)
}

fn comparison_op(c: &Cursor) -> Option<BinaryOp> {
    Some(match c.peek_op()?.0 {
        "=" => BinaryOp::Eq,
        "<>" | "!=" => BinaryOp::NotEq,
        "<" => BinaryOp::Lt,
        "<=" => BinaryOp::LtEq,
        ">" => BinaryOp::Gt,
        ">=" => BinaryOp::GtEq,
        _ => return None,
    })
}

fn comparison(c: &mut Cursor) -> PResult<Expr> {
    let lhs = pattern(c)?;
    let Some(op) = comparison_op(c) else {
        return Ok(lhs);
    };
    let (text, len) = c.peek_op().unwrap_or(("", 1));
    for _ in 0..len {
        c.bump();
    }
    if text == "=" && c.peek_op_is("=") {
        return Err(c.error("comparison is a single `=` in SQL; write `=` instead of `==`"));
    }
    let rhs = pattern(c)?;
    if comparison_op(c).is_some() {
        // PostgreSQL's comparisons are non-associative: `a = b = c` is a syntax error there too.
        return Err(c.error(format!(
            "comparisons do not chain; put parentheses around `{text}` and its operands"
        )));
    }
    Ok(binary(op, lhs, rhs))
}

/// `[not] like|ilike|in|between`, non-associative.
fn pattern(c: &mut Cursor) -> PResult<Expr> {
    let lhs = other(c)?;
    let negated = c.peek_kw("not")
        && ["like", "ilike", "in", "between"]
            .iter()
            .any(|kw| c.peek_kw_at(1, kw));
    if negated {
        c.bump();
    }
    if c.eat_kw("like").is_some() {
        let rhs = other(c)?;
        let op = if negated {
            BinaryOp::NotLike
        } else {
            BinaryOp::Like
        };
        return Ok(binary(op, lhs, rhs));
    }
    if c.eat_kw("ilike").is_some() {
        let rhs = other(c)?;
        let op = if negated {
            BinaryOp::NotILike
        } else {
            BinaryOp::ILike
        };
        return Ok(binary(op, lhs, rhs));
    }
    if c.eat_kw("in").is_some() {
        let list = paren_list(c, "with the list after `in`")?;
        let range = c.range_from(lhs.range.start);
        return Ok(node(
            ExprKind::InList {
                expr: Box::new(lhs),
                list,
                negated,
            },
            range,
        ));
    }
    if c.eat_kw("between").is_some() {
        let low = other(c)?;
        c.expect_kw("and", "between the bounds of `between`")?;
        let high = other(c)?;
        let range = lhs.range.to(high.range);
        return Ok(node(
            ExprKind::Between {
                expr: Box::new(lhs),
                low: Box::new(low),
                high: Box::new(high),
                negated,
            },
            range,
        ));
    }
    Ok(lhs)
}

/// The "any other operator" level, left-associative.
fn other_op(op: &'static str) -> Option<BinaryOp> {
    Some(match op {
        "||" => BinaryOp::Concat,
        "->" => BinaryOp::JsonGet,
        "->>" => BinaryOp::JsonGetText,
        "@>" => BinaryOp::Contains,
        "<@" => BinaryOp::ContainedBy,
        "&&" => BinaryOp::Overlaps,
        "~" => BinaryOp::Match {
            case_insensitive: false,
            negated: false,
        },
        "~*" => BinaryOp::Match {
            case_insensitive: true,
            negated: false,
        },
        "!~" => BinaryOp::Match {
            case_insensitive: false,
            negated: true,
        },
        "!~*" => BinaryOp::Match {
            case_insensitive: true,
            negated: true,
        },
        "#>" | "#>>" | "#-" | "?" | "?|" | "?&" | "@?" | "@@" | "<->" | "-|-" | "<<" | ">>"
        | "&<" | "&>" | "|" | "&" | "#" => BinaryOp::Other(op),
        _ => return None,
    })
}

fn other(c: &mut Cursor) -> PResult<Expr> {
    let mut lhs = additive(c)?;
    while let Some((op, len)) = c.peek_op() {
        let Some(op) = other_op(op) else { break };
        for _ in 0..len {
            c.bump();
        }
        let rhs = additive(c)?;
        lhs = binary(op, lhs, rhs);
    }
    Ok(lhs)
}

/// One left-associative level of single-character arithmetic operators.
fn arithmetic(
    c: &mut Cursor,
    ops: &[(&str, BinaryOp)],
    next: fn(&mut Cursor) -> PResult<Expr>,
) -> PResult<Expr> {
    let mut lhs = next(c)?;
    'outer: loop {
        for (text, op) in ops {
            if c.eat_op(text).is_some() {
                let rhs = next(c)?;
                lhs = binary(*op, lhs, rhs);
                continue 'outer;
            }
        }
        return Ok(lhs);
    }
}

fn additive(c: &mut Cursor) -> PResult<Expr> {
    arithmetic(
        c,
        &[("+", BinaryOp::Add), ("-", BinaryOp::Sub)],
        multiplicative,
    )
}

fn multiplicative(c: &mut Cursor) -> PResult<Expr> {
    arithmetic(
        c,
        &[
            ("*", BinaryOp::Mul),
            ("/", BinaryOp::Div),
            ("%", BinaryOp::Mod),
        ],
        power,
    )
}

fn power(c: &mut Cursor) -> PResult<Expr> {
    arithmetic(c, &[("^", BinaryOp::Other("^"))], at_time_zone)
}

/// `ts at time zone zone` (left-associative, between `^` and prefix minus).
fn at_time_zone(c: &mut Cursor) -> PResult<Expr> {
    let mut lhs = unary(c)?;
    while c.eat_kws(&["at", "time", "zone"]).is_some() {
        let rhs = c.nested(unary)?;
        lhs = binary(BinaryOp::AtTimeZone, lhs, rhs);
    }
    Ok(lhs)
}

fn unary(c: &mut Cursor) -> PResult<Expr> {
    for (text, op) in [("-", UnaryOp::Neg), ("+", UnaryOp::Plus)] {
        if let Some(at) = c.eat_op(text) {
            let expr = c.nested(unary)?;
            let range = Range::new(at.start, expr.range.end);
            return Ok(node(
                ExprKind::Unary {
                    op,
                    expr: Box::new(expr),
                },
                range,
            ));
        }
    }
    cast(c)
}

fn cast(c: &mut Cursor) -> PResult<Expr> {
    let mut expr = primary(c)?;
    while c.eat_op("::").is_some() {
        let ty = parse_type(c, "after `::`")?;
        let range = expr.range.to(ty.range);
        expr = node(
            ExprKind::Cast {
                expr: Box::new(expr),
                ty,
            },
            range,
        );
    }
    Ok(expr)
}

fn primary(c: &mut Cursor) -> PResult<Expr> {
    let start = c.span();
    match c.peek().cloned() {
        Some(TokenTree::Literal(lit)) => literal(c, lit),
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
            let mut inner = c.eat_group(Delimiter::Parenthesis).expect("peeked a group");
            let expr = parse_expr(&mut inner, "inside `(`")?;
            inner.expect_end("`)`")?;
            Ok(node(
                ExprKind::Paren(Box::new(expr)),
                Range::single(g.span()),
            ))
        }
        Some(TokenTree::Ident(ident)) => {
            let keyword = c.peek_keyword();
            match keyword.as_deref() {
                Some("null") => {
                    c.bump();
                    Ok(node(ExprKind::Null, Range::single(start)))
                }
                Some(b @ ("true" | "false")) => {
                    let value = b == "true";
                    c.bump();
                    Ok(node(ExprKind::Bool(value), Range::single(start)))
                }
                Some("case") => case(c),
                Some("array") if matches!(c.peek_nth(1), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket) =>
                {
                    c.bump();
                    let mut inner = c.eat_group(Delimiter::Bracket).expect("peeked a group");
                    let items = list(&mut inner)?;
                    inner.expect_end("`,` or `]`")?;
                    Ok(node(ExprKind::Array(items), c.range_from(start)))
                }
                Some("cast") if c.peek_nth(1).is_some_and(is_paren) => {
                    c.bump();
                    let mut inner = c.expect_paren("after `cast`")?;
                    let expr = parse_expr(&mut inner, "inside `cast(`")?;
                    inner.expect_kw("as", "after the expression in `cast(.. as type)`")?;
                    let ty = parse_type(&mut inner, "after `as`")?;
                    inner.expect_end("`)`")?;
                    Ok(node(ExprKind::Cast { expr: Box::new(expr), ty }, c.range_from(start)))
                }
                Some(kw) if SQL_VALUES.contains(&kw) && !c.peek_nth(1).is_some_and(is_paren) => {
                    c.bump();
                    Ok(node(ExprKind::SqlValue(ident_name(&ident)), Range::single(start)))
                }
                Some(kw) if RESERVED.contains(&kw) => Err(c.error(format!(
                    "expected an expression, found the keyword `{kw}`; a column named `{kw}` is written `r#{kw}`"
                ))),
                _ => column_or_call(c),
            }
        }
        _ => Err(c.expected("an expression")),
    }
}

fn is_paren(tt: &TokenTree) -> bool {
    matches!(tt, TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis)
}

/// `(expr, ..)`: a parenthesized, non-empty list (an `in` list, a partition's values).
pub(super) fn paren_list(c: &mut Cursor, context: &str) -> PResult<Vec<Expr>> {
    let mut inner = c.expect_paren(context)?;
    let mut list = vec![parse_expr(&mut inner, "in the list")?];
    while inner.eat_punct(',').is_some() {
        list.push(parse_expr(&mut inner, "after `,`")?);
    }
    inner.expect_end("`,` or `)`")?;
    Ok(list)
}

/// A comma-separated list of expressions, possibly empty (the rest of `c`).
fn list(c: &mut Cursor) -> PResult<Vec<Expr>> {
    let mut items = Vec::new();
    if c.is_end() {
        return Ok(items);
    }
    items.push(parse_expr(c, "")?);
    while c.eat_punct(',').is_some() {
        items.push(parse_expr(c, "after `,`")?);
    }
    Ok(items)
}

fn literal(c: &mut Cursor, lit: proc_macro2::Literal) -> PResult<Expr> {
    let span = lit.span();
    let kind = match syn::Lit::new(lit) {
        syn::Lit::Str(_) => {
            let s = c.string("a string")?;
            return Ok(node(ExprKind::String(s.value), Range::single(span)));
        }
        syn::Lit::Int(i) if i.suffix().is_empty() => ExprKind::Number(i.base10_digits().to_owned()),
        syn::Lit::Float(f) if f.suffix().is_empty() => {
            ExprKind::Number(f.base10_digits().to_owned())
        }
        syn::Lit::Int(i) => {
            return Err(c.error(format!(
                "numbers in SQL take no suffix; write `{}` instead of `{i}`",
                i.base10_digits()
            )))
        }
        syn::Lit::Float(f) => {
            return Err(c.error(format!(
                "numbers in SQL take no suffix; write `{}` instead of `{f}`",
                f.base10_digits()
            )))
        }
        syn::Lit::Char(ch) => {
            return Err(c.error(format!(
                "strings are written in double quotes here; write `{:?}`",
                ch.value().to_string()
            )))
        }
        _ => return Err(c.expected("an expression")),
    };
    c.bump();
    Ok(node(kind, Range::single(span)))
}

/// A function call alone, as an index key takes it (`lower(email)`): an operator after it would need
/// parentheses around the whole key in SQL, so none is read here.
pub(super) fn parse_call(c: &mut Cursor) -> PResult<Expr> {
    column_or_call(c)
}

/// `col`, `t.col`, `s.t.col`, `f(args)`, `s.f(args)`, `count(*)`.
fn column_or_call(c: &mut Cursor) -> PResult<Expr> {
    let start = c.span();
    let mut parts = vec![c.name("an expression")?];
    while c.peek_punct('.') {
        c.bump();
        parts.push(c.name(&format!(
            "a name after `{}.`",
            parts.last().map_or("", |n| &n.value)
        ))?);
    }
    let Some(mut args_cursor) = c.eat_group(Delimiter::Parenthesis) else {
        if parts.len() > 3 {
            return Err(syn::Error::new(
                start,
                "a column reference has at most three parts: `schema.table.column`",
            ));
        }
        return Ok(node(ExprKind::Column(parts), c.range_from(start)));
    };
    let func = match <[Name; 2]>::try_from(parts.clone()) {
        Ok([schema, name]) => QName {
            schema: Some(schema),
            name,
        },
        Err(_) if parts.len() == 1 => QName {
            schema: None,
            name: parts.remove(0),
        },
        Err(_) => {
            return Err(syn::Error::new(
                start,
                "a function name has at most two parts: `schema.function`",
            ))
        }
    };
    let (args, star) = if args_cursor.peek_op_is("*") && args_cursor.peek_nth(1).is_none() {
        args_cursor.bump();
        (Vec::new(), true)
    } else {
        let what = format!("`,` or `)` in the arguments of `{}`", func.name.value);
        let args = list(&mut args_cursor)?;
        args_cursor.expect_end(&what)?;
        (args, false)
    };
    Ok(node(
        ExprKind::Call { func, args, star },
        c.range_from(start),
    ))
}

/// `case [operand] when .. then .. [else ..] end`
fn case(c: &mut Cursor) -> PResult<Expr> {
    let start = c.expect_kw("case", "")?;
    let operand = if c.peek_kw("when") {
        None
    } else {
        Some(Box::new(parse_expr(c, "after `case`")?))
    };
    let mut whens = Vec::new();
    while c.eat_kw("when").is_some() {
        let condition = parse_expr(c, "after `when`")?;
        c.expect_kw("then", "after the `when` condition")?;
        let result = parse_expr(c, "after `then`")?;
        whens.push((condition, result));
    }
    if whens.is_empty() {
        return Err(c.expected("`when` in `case`"));
    }
    let else_ = match c.eat_kw("else") {
        Some(_) => Some(Box::new(parse_expr(c, "after `else`")?)),
        None => None,
    };
    c.expect_kw("end", "to close `case`")?;
    Ok(node(
        ExprKind::Case {
            operand,
            whens,
            else_,
        },
        c.range_from(start),
    ))
}
