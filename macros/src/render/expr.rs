//! Expressions, with the parentheses PostgreSQL's grammar needs and no more.
//!
//! Each node has a binding strength following the operator precedence table of the PostgreSQL manual
//! ("Lexical Structure", operator precedence, 9.5 and later). A child is wrapped in parentheses when it
//! binds more loosely than its position allows: for left-associative operators the right operand must
//! bind strictly tighter, for non-associative ones (comparisons, `LIKE`/`IN`/`BETWEEN`, `IS`) both.
//! Parentheses the user wrote are kept as they are.

use crate::ast::{BinaryOp, Expr, ExprKind, UnaryOp};

use super::ident::{func_name, quote_ident, quote_literal};
use super::ty::render_type;

/// Binding strength, loosest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    Not,
    /// `IS [NOT] NULL`, `IS [NOT] DISTINCT FROM`
    Is,
    /// `< > = <= >= <>`
    Cmp,
    /// `BETWEEN`, `IN`, `LIKE`, `ILIKE`
    Like,
    /// Every other operator: `||`, `~`, `@>`, `->` ...
    Other,
    Add,
    Mul,
    /// `^`
    Exp,
    /// `AT TIME ZONE`
    At,
    /// Prefix `-` and `+`.
    Unary,
    /// Postfix `::type`.
    Cast,
    /// Literals, columns, calls, `CASE`, `ARRAY[..]`, parenthesized expressions.
    Atom,
}

impl Prec {
    /// The next tighter level: what a non-associative operand (or a right operand) must reach.
    fn tighter(self) -> Prec {
        match self {
            Prec::Or => Prec::And,
            Prec::And => Prec::Not,
            Prec::Not => Prec::Is,
            Prec::Is => Prec::Cmp,
            Prec::Cmp => Prec::Like,
            Prec::Like => Prec::Other,
            Prec::Other => Prec::Add,
            Prec::Add => Prec::Mul,
            Prec::Mul => Prec::Exp,
            Prec::Exp => Prec::At,
            Prec::At => Prec::Unary,
            Prec::Unary => Prec::Cast,
            Prec::Cast | Prec::Atom => Prec::Atom,
        }
    }

    /// Whether `a op b op c` means `(a op b) op c` at this level; otherwise the grammar refuses it.
    fn left_associative(self) -> bool {
        matches!(
            self,
            Prec::Or | Prec::And | Prec::Other | Prec::Add | Prec::Mul | Prec::Exp | Prec::At
        )
    }
}

fn binary_prec(op: BinaryOp) -> Prec {
    match op {
        BinaryOp::Or => Prec::Or,
        BinaryOp::And => Prec::And,
        BinaryOp::IsDistinctFrom { .. } => Prec::Is,
        BinaryOp::Eq
        | BinaryOp::NotEq
        | BinaryOp::Lt
        | BinaryOp::LtEq
        | BinaryOp::Gt
        | BinaryOp::GtEq => Prec::Cmp,
        BinaryOp::Like | BinaryOp::NotLike | BinaryOp::ILike | BinaryOp::NotILike => Prec::Like,
        BinaryOp::Add | BinaryOp::Sub => Prec::Add,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => Prec::Mul,
        BinaryOp::Concat
        | BinaryOp::Match { .. }
        | BinaryOp::Contains
        | BinaryOp::ContainedBy
        | BinaryOp::Overlaps
        | BinaryOp::JsonGet
        | BinaryOp::JsonGetText => Prec::Other,
        BinaryOp::Other("^") => Prec::Exp,
        BinaryOp::AtTimeZone => Prec::At,
        BinaryOp::Other(_) => Prec::Other,
    }
}

fn prec(e: &Expr) -> Prec {
    match &e.kind {
        // A number is digits; should one ever carry a sign, it binds like a prefix minus.
        ExprKind::Number(n) if n.starts_with(['-', '+']) => Prec::Unary,
        ExprKind::String(_)
        | ExprKind::Number(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::Column(_)
        | ExprKind::SqlValue(_)
        | ExprKind::Call { .. }
        | ExprKind::Case { .. }
        | ExprKind::Array(_)
        | ExprKind::Paren(_) => Prec::Atom,
        ExprKind::Cast { .. } => Prec::Cast,
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => Prec::Not,
        ExprKind::Unary { .. } => Prec::Unary,
        ExprKind::Binary { op, .. } => binary_prec(*op),
        ExprKind::IsNull { .. } => Prec::Is,
        ExprKind::InList { .. } | ExprKind::Between { .. } => Prec::Like,
    }
}

/// An expression as SQL, for any position that takes a full expression (`CHECK (..)`, `WHERE ..`,
/// function arguments, `USING ..`, `SET DEFAULT ..`).
pub fn expr(e: &Expr) -> String {
    let mut out = String::new();
    write(e, &mut out);
    out
}

/// An expression for a column's `DEFAULT` clause, where the grammar takes only a restricted expression
/// (no `AND`/`OR`/`NOT`, `IS NULL`, `LIKE`, `IN`, `BETWEEN`): anything that binds more loosely than an
/// ordinary operator is parenthesized.
pub fn default_expr(e: &Expr) -> String {
    let mut out = String::new();
    operand(e, Prec::Other, &mut out);
    out
}

/// Writes `e`, parenthesized when it binds more loosely than `min`.
fn operand(e: &Expr, min: Prec, out: &mut String) {
    if prec(e) < min {
        out.push('(');
        write(e, out);
        out.push(')');
    } else {
        write(e, out);
    }
}

fn list(items: &[Expr], out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write(item, out);
    }
}

fn write(e: &Expr, out: &mut String) {
    match &e.kind {
        ExprKind::String(s) => out.push_str(&quote_literal(s)),
        ExprKind::Number(n) => out.push_str(n),
        ExprKind::Bool(true) => out.push_str("TRUE"),
        ExprKind::Bool(false) => out.push_str("FALSE"),
        ExprKind::Null => out.push_str("NULL"),
        ExprKind::Column(parts) => {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(&quote_ident(&part.value));
            }
        }
        ExprKind::SqlValue(name) => out.push_str(&name.value.to_uppercase()),
        ExprKind::Call { func, args, star } => {
            out.push_str(&func_name(func));
            out.push('(');
            if *star {
                out.push('*');
            } else {
                list(args, out);
            }
            out.push(')');
        }
        ExprKind::Unary {
            op: UnaryOp::Not,
            expr,
        } => {
            out.push_str("NOT ");
            operand(expr, Prec::Not, out);
        }
        ExprKind::Unary { op, expr } => {
            out.push(if *op == UnaryOp::Neg { '-' } else { '+' });
            let mut inner = String::new();
            operand(expr, Prec::Unary, &mut inner);
            // `--x` would start a comment and `+-x`/`-+x` would lex as one operator.
            if inner.starts_with(['-', '+']) {
                out.push('(');
                out.push_str(&inner);
                out.push(')');
            } else {
                out.push_str(&inner);
            }
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let p = binary_prec(*op);
            let left_min = if p.left_associative() { p } else { p.tighter() };
            operand(lhs, left_min, out);
            out.push(' ');
            out.push_str(op.as_sql());
            out.push(' ');
            operand(rhs, p.tighter(), out);
        }
        ExprKind::Cast { expr, ty } => {
            operand(expr, Prec::Cast, out);
            out.push_str("::");
            out.push_str(&render_type(ty));
        }
        ExprKind::IsNull { expr, negated } => {
            operand(expr, Prec::Is.tighter(), out);
            out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
        }
        ExprKind::InList {
            expr,
            list: items,
            negated,
        } => {
            operand(expr, Prec::Like.tighter(), out);
            out.push_str(if *negated { " NOT IN (" } else { " IN (" });
            list(items, out);
            out.push(')');
        }
        ExprKind::Between {
            expr,
            low,
            high,
            negated,
        } => {
            // The bounds are restricted expressions in the grammar; `Other` and tighter all qualify.
            operand(expr, Prec::Like.tighter(), out);
            out.push_str(if *negated {
                " NOT BETWEEN "
            } else {
                " BETWEEN "
            });
            operand(low, Prec::Like.tighter(), out);
            out.push_str(" AND ");
            operand(high, Prec::Like.tighter(), out);
        }
        ExprKind::Case {
            operand: subject,
            whens,
            else_,
        } => {
            out.push_str("CASE");
            if let Some(subject) = subject {
                out.push(' ');
                write(subject, out);
            }
            for (when, then) in whens {
                out.push_str(" WHEN ");
                write(when, out);
                out.push_str(" THEN ");
                write(then, out);
            }
            if let Some(e) = else_ {
                out.push_str(" ELSE ");
                write(e, out);
            }
            out.push_str(" END");
        }
        ExprKind::Array(items) => {
            out.push_str("ARRAY[");
            list(items, out);
            out.push(']');
        }
        ExprKind::Paren(inner) => {
            out.push('(');
            write(inner, out);
            out.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::BinaryOp as B;
    use crate::lower::test_ast::*;

    #[test]
    fn atoms() {
        assert_eq!(expr(&string("it's")), "'it''s'");
        assert_eq!(expr(&string(r"a\b")), r"E'a\\b'");
        assert_eq!(expr(&num("42")), "42");
        assert_eq!(expr(&num("1.5")), "1.5");
        assert_eq!(expr(&boolean(true)), "TRUE");
        assert_eq!(expr(&boolean(false)), "FALSE");
        assert_eq!(expr(&null()), "NULL");
        assert_eq!(expr(&col("email")), r#""email""#);
        assert_eq!(expr(&col("users.email")), r#""users"."email""#);
        assert_eq!(expr(&sql_value("current_timestamp")), "CURRENT_TIMESTAMP");
    }

    #[test]
    fn calls() {
        assert_eq!(expr(&call("now", vec![])), "now()");
        assert_eq!(
            expr(&call("lower", vec![col("email")])),
            r#"lower("email")"#
        );
        assert_eq!(
            expr(&call("coalesce", vec![col("a"), num("0")])),
            r#"coalesce("a", 0)"#
        );
        assert_eq!(expr(&call("app.f", vec![string("x")])), "app.f('x')");
        assert_eq!(expr(&count_star()), "count(*)");
        // Arguments are full expressions: no parentheses needed between commas.
        assert_eq!(
            expr(&call(
                "f",
                vec![bin(B::Or, col("a"), col("b")), is_null(col("c"), true)]
            )),
            r#"f("a" OR "b", "c" IS NOT NULL)"#
        );
    }

    #[test]
    fn precedence_needs_no_parens_when_tree_matches_grammar() {
        // a + b * c
        let e = bin(B::Add, col("a"), bin(B::Mul, col("b"), col("c")));
        assert_eq!(expr(&e), r#""a" + "b" * "c""#);
        // a = 1 AND b > 2 OR c
        let e = bin(
            B::Or,
            bin(
                B::And,
                bin(B::Eq, col("a"), num("1")),
                bin(B::Gt, col("b"), num("2")),
            ),
            col("c"),
        );
        assert_eq!(expr(&e), r#""a" = 1 AND "b" > 2 OR "c""#);
        // a - b - c is (a - b) - c
        let e = bin(B::Sub, bin(B::Sub, col("a"), col("b")), col("c"));
        assert_eq!(expr(&e), r#""a" - "b" - "c""#);
    }

    #[test]
    fn at_time_zone_is_parenthesized_only_where_needed() {
        let at = |e, z| bin(B::AtTimeZone, e, z);
        assert_eq!(
            expr(&at(col("t"), string("UTC"))),
            r#""t" AT TIME ZONE 'UTC'"#
        );
        // (a + b) AT TIME ZONE z
        let e = at(bin(B::Add, col("a"), col("b")), col("z"));
        assert_eq!(expr(&e), r#"("a" + "b") AT TIME ZONE "z""#);
        // a + b AT TIME ZONE z needs none
        let e = bin(B::Add, col("a"), at(col("b"), col("z")));
        assert_eq!(expr(&e), r#""a" + "b" AT TIME ZONE "z""#);
        // (a AT TIME ZONE z)::text
        let e = cast(at(col("a"), col("z")), "text");
        assert_eq!(expr(&e), r#"("a" AT TIME ZONE "z")::text"#);
    }

    #[test]
    fn precedence_adds_parens_where_required() {
        // (a + b) * c
        let e = bin(B::Mul, bin(B::Add, col("a"), col("b")), col("c"));
        assert_eq!(expr(&e), r#"("a" + "b") * "c""#);
        // a - (b - c): the right operand of a left-associative operator
        let e = bin(B::Sub, col("a"), bin(B::Sub, col("b"), col("c")));
        assert_eq!(expr(&e), r#""a" - ("b" - "c")"#);
        // (a OR b) AND c
        let e = bin(B::And, bin(B::Or, col("a"), col("b")), col("c"));
        assert_eq!(expr(&e), r#"("a" OR "b") AND "c""#);
        // comparisons are non-associative: (a = b) = c
        let e = bin(B::Eq, bin(B::Eq, col("a"), col("b")), col("c"));
        assert_eq!(expr(&e), r#"("a" = "b") = "c""#);
        // (a || b) LIKE c needs none: `||` binds tighter than LIKE
        let e = bin(B::Like, bin(B::Concat, col("a"), col("b")), string("x%"));
        assert_eq!(expr(&e), r#""a" || "b" LIKE 'x%'"#);
        // a || (b LIKE c)
        let e = bin(B::Concat, col("a"), bin(B::Like, col("b"), string("x")));
        assert_eq!(expr(&e), r#""a" || ("b" LIKE 'x')"#);
        // (a = b) IS NULL needs none: IS binds more loosely than `=`
        assert_eq!(
            expr(&is_null(bin(B::Eq, col("a"), col("b")), false)),
            r#""a" = "b" IS NULL"#
        );
        // (a IS NULL) = b
        let e = bin(B::Eq, is_null(col("a"), false), col("b"));
        assert_eq!(expr(&e), r#"("a" IS NULL) = "b""#);
        // a IS DISTINCT FROM b is at IS level: (x IS DISTINCT FROM y) = z
        let e = bin(
            B::Eq,
            bin(B::IsDistinctFrom { negated: false }, col("x"), col("y")),
            col("z"),
        );
        assert_eq!(expr(&e), r#"("x" IS DISTINCT FROM "y") = "z""#);
        // json operators bind tighter than comparison, more loosely than +
        let e = bin(
            B::Eq,
            bin(B::JsonGetText, col("p"), string("k")),
            string("v"),
        );
        assert_eq!(expr(&e), r#""p" ->> 'k' = 'v'"#);
        let e = bin(B::JsonGet, col("p"), bin(B::Add, num("1"), num("2")));
        assert_eq!(expr(&e), r#""p" -> 1 + 2"#);
        let e = bin(B::Add, bin(B::JsonGet, col("p"), num("1")), num("2"));
        assert_eq!(expr(&e), r#"("p" -> 1) + 2"#);
    }

    #[test]
    fn exponent_binds_tighter_than_multiplication() {
        let pow = |a, b| bin(B::Other("^"), a, b);
        assert_eq!(
            expr(&bin(B::Mul, col("a"), pow(col("b"), num("2")))),
            r#""a" * "b" ^ 2"#
        );
        assert_eq!(
            expr(&pow(bin(B::Mul, col("a"), col("b")), num("2"))),
            r#"("a" * "b") ^ 2"#
        );
        // left-associative: (2 ^ 3) ^ 2 needs nothing, 2 ^ (3 ^ 2) does
        assert_eq!(expr(&pow(pow(num("2"), num("3")), num("2"))), "2 ^ 3 ^ 2");
        assert_eq!(expr(&pow(num("2"), pow(num("3"), num("2")))), "2 ^ (3 ^ 2)");
        // prefix minus binds tighter still: -2 ^ 2 is (-2) ^ 2, -(2 ^ 2) keeps its parentheses
        assert_eq!(expr(&pow(neg(num("2")), num("2"))), "-2 ^ 2");
        assert_eq!(expr(&neg(pow(num("2"), num("2")))), "-(2 ^ 2)");
        // other operators bind more loosely: a #> b || c is (a #> b) || c
        let e = bin(B::Concat, bin(B::Other("#>"), col("a"), col("b")), col("c"));
        assert_eq!(expr(&e), r#""a" #> "b" || "c""#);
        let e = bin(B::Other("#>"), col("a"), bin(B::Concat, col("b"), col("c")));
        assert_eq!(expr(&e), r#""a" #> ("b" || "c")"#);
    }

    #[test]
    fn not_and_unary() {
        // NOT (a AND b)
        let e = not(bin(B::And, col("a"), col("b")));
        assert_eq!(expr(&e), r#"NOT ("a" AND "b")"#);
        // NOT a = b is NOT (a = b)
        assert_eq!(
            expr(&not(bin(B::Eq, col("a"), col("b")))),
            r#"NOT "a" = "b""#
        );
        // (NOT a) = b
        assert_eq!(
            expr(&bin(B::Eq, not(col("a")), col("b"))),
            r#"(NOT "a") = "b""#
        );
        // NOT a AND b
        assert_eq!(
            expr(&bin(B::And, not(col("a")), col("b"))),
            r#"NOT "a" AND "b""#
        );
        // (NOT a) IS NULL
        assert_eq!(expr(&is_null(not(col("a")), false)), r#"(NOT "a") IS NULL"#);
        assert_eq!(expr(&not(not(col("a")))), r#"NOT NOT "a""#);
        // -a * b, -(a * b)
        assert_eq!(expr(&bin(B::Mul, neg(col("a")), col("b"))), r#"-"a" * "b""#);
        assert_eq!(
            expr(&neg(bin(B::Mul, col("a"), col("b")))),
            r#"-("a" * "b")"#
        );
        // never `--` (a comment) or `-+`
        assert_eq!(expr(&neg(neg(num("1")))), "-(-1)");
        assert_eq!(expr(&neg(plus(num("1")))), "-(+1)");
        assert_eq!(expr(&bin(B::Sub, col("a"), neg(num("1")))), r#""a" - -1"#);
    }

    #[test]
    fn casts() {
        assert_eq!(expr(&cast(string("{}"), "jsonb")), "'{}'::jsonb");
        assert_eq!(expr(&cast(col("a"), "text")), r#""a"::text"#);
        assert_eq!(
            expr(&cast(cast(col("a"), "int"), "text")),
            r#""a"::int::text"#
        );
        assert_eq!(expr(&cast(neg(num("1")), "int")), "(-1)::int");
        assert_eq!(expr(&neg(cast(num("1"), "int"))), "-1::int");
        assert_eq!(
            expr(&cast(bin(B::Add, col("a"), num("1")), "text")),
            r#"("a" + 1)::text"#
        );
        assert_eq!(expr(&cast(call("now", vec![]), "date")), "now()::date");
        assert_eq!(
            expr(&cast(array(vec![string("a"), string("b")]), "text[]")),
            "ARRAY['a', 'b']::text[]"
        );
        assert_eq!(expr(&cast(string("happy"), "mood")), r#"'happy'::"mood""#);
        assert_eq!(expr(&cast(paren(col("a")), "text")), r#"("a")::text"#);
    }

    #[test]
    fn is_in_between() {
        assert_eq!(expr(&is_null(col("a"), true)), r#""a" IS NOT NULL"#);
        assert_eq!(
            expr(&in_list(col("a"), vec![num("1"), num("2")], false)),
            r#""a" IN (1, 2)"#
        );
        assert_eq!(
            expr(&in_list(col("a"), vec![string("x")], true)),
            r#""a" NOT IN ('x')"#
        );
        // (a + 1) IN (..) needs none; (a = 1) IN (..) does
        assert_eq!(
            expr(&in_list(
                bin(B::Add, col("a"), num("1")),
                vec![num("2")],
                false
            )),
            r#""a" + 1 IN (2)"#
        );
        assert_eq!(
            expr(&in_list(
                bin(B::Eq, col("a"), num("1")),
                vec![boolean(true)],
                false
            )),
            r#"("a" = 1) IN (TRUE)"#
        );
        assert_eq!(
            expr(&between(col("a"), num("1"), num("10"), false)),
            r#""a" BETWEEN 1 AND 10"#
        );
        assert_eq!(
            expr(&between(col("a"), num("1"), num("10"), true)),
            r#""a" NOT BETWEEN 1 AND 10"#
        );
        // a bound containing AND is parenthesized, otherwise it would end the BETWEEN
        let e = between(col("a"), col("lo"), bin(B::And, col("hi"), col("x")), false);
        assert_eq!(expr(&e), r#""a" BETWEEN "lo" AND ("hi" AND "x")"#);
        let e = between(col("a"), bin(B::Eq, col("b"), num("1")), num("2"), false);
        assert_eq!(expr(&e), r#""a" BETWEEN ("b" = 1) AND 2"#);
        let e = between(
            col("a"),
            bin(B::Sub, col("b"), num("1")),
            bin(B::Add, col("b"), num("1")),
            false,
        );
        assert_eq!(expr(&e), r#""a" BETWEEN "b" - 1 AND "b" + 1"#);
        // BETWEEN inside AND
        let e = bin(
            B::And,
            between(col("a"), num("1"), num("2"), false),
            col("c"),
        );
        assert_eq!(expr(&e), r#""a" BETWEEN 1 AND 2 AND "c""#);
        // (a BETWEEN 1 AND 2) = b: BETWEEN binds tighter than =
        let e = bin(
            B::Eq,
            between(col("a"), num("1"), num("2"), false),
            col("b"),
        );
        assert_eq!(expr(&e), r#""a" BETWEEN 1 AND 2 = "b""#);
    }

    #[test]
    fn case_array_paren() {
        let e = case(
            None,
            vec![(bin(B::Gt, col("a"), num("0")), string("pos"))],
            Some(string("neg")),
        );
        assert_eq!(expr(&e), r#"CASE WHEN "a" > 0 THEN 'pos' ELSE 'neg' END"#);
        let e = case(
            Some(col("k")),
            vec![(num("1"), string("one")), (num("2"), string("two"))],
            None,
        );
        assert_eq!(
            expr(&e),
            r#"CASE "k" WHEN 1 THEN 'one' WHEN 2 THEN 'two' END"#
        );
        assert_eq!(expr(&array(vec![])), "ARRAY[]");
        // user parentheses are kept even where not needed
        assert_eq!(
            expr(&paren(bin(B::Mul, col("a"), col("b")))),
            r#"("a" * "b")"#
        );
        let e = bin(B::Mul, paren(bin(B::Add, col("a"), col("b"))), col("c"));
        assert_eq!(expr(&e), r#"("a" + "b") * "c""#);
    }

    #[test]
    fn operators_spelled_out() {
        let cases = [
            (B::NotEq, "<>"),
            (B::LtEq, "<="),
            (B::GtEq, ">="),
            (B::Mod, "%"),
            (B::Div, "/"),
            (B::ILike, "ILIKE"),
            (B::NotLike, "NOT LIKE"),
            (B::NotILike, "NOT ILIKE"),
            (
                B::Match {
                    case_insensitive: true,
                    negated: true,
                },
                "!~*",
            ),
            (B::IsDistinctFrom { negated: true }, "IS NOT DISTINCT FROM"),
            (B::Contains, "@>"),
            (B::ContainedBy, "<@"),
            (B::Overlaps, "&&"),
            (B::Other("#>>"), "#>>"),
            (B::Other("?|"), "?|"),
            (B::Other("<->"), "<->"),
        ];
        for (op, sql) in cases {
            assert_eq!(
                expr(&bin(op, col("a"), col("b"))),
                format!(r#""a" {sql} "b""#)
            );
        }
    }

    #[test]
    fn default_expressions_are_restricted() {
        assert_eq!(default_expr(&call("now", vec![])), "now()");
        assert_eq!(default_expr(&cast(string("{}"), "jsonb")), "'{}'::jsonb");
        assert_eq!(default_expr(&bin(B::Add, num("1"), num("2"))), "1 + 2");
        assert_eq!(default_expr(&neg(num("1"))), "-1");
        assert_eq!(
            default_expr(&bin(B::Eq, col("a"), num("1"))),
            r#"("a" = 1)"#
        );
        assert_eq!(
            default_expr(&bin(B::And, boolean(true), boolean(false))),
            "(TRUE AND FALSE)"
        );
        assert_eq!(default_expr(&is_null(null(), false)), "(NULL IS NULL)");
    }
}
