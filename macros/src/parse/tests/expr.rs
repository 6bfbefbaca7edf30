use super::*;

fn shape(src: &str) -> String {
    sexp(&expr(src))
}

fn expr_error(src: &str) -> Diag {
    let (_, mut diags) = try_expr(src);
    assert_eq!(diags.len(), 1, "expected one error for {src:?}: {diags:#?}");
    diags.remove(0)
}

#[test]
fn literals() {
    assert_eq!(shape(r#""it's""#), r#""it's""#);
    assert_eq!(shape(r##"r#"a "b""#"##), r#""a \"b\"""#);
    assert_eq!(shape(r#""tab\tnew\n""#), r#""tab\tnew\n""#);
    assert_eq!(shape("42"), "42");
    assert_eq!(shape("1_000"), "1000");
    assert_eq!(shape("1.5"), "1.5");
    assert_eq!(shape("0x10"), "16");
    assert_eq!(shape("true"), "true");
    assert_eq!(shape("FALSE"), "false");
    assert_eq!(shape("NULL"), "null");
}

#[test]
fn suffixed_numbers_are_rejected() {
    let d = expr_error("5u8");
    assert_eq!(
        d.msg,
        "numbers in SQL take no suffix; write `5` instead of `5u8`"
    );
    let d = expr_error("2.5f32");
    assert_eq!(
        d.msg,
        "numbers in SQL take no suffix; write `2.5` instead of `2.5f32`"
    );
    let d = expr_error("'a'");
    assert_eq!(
        d.msg,
        "strings are written in double quotes here; write `\"a\"`"
    );
}

#[test]
fn columns_calls_and_sql_values() {
    assert_eq!(shape("a"), "a");
    assert_eq!(shape("T.A"), "t.a");
    assert_eq!(shape("s.t.a"), "s.t.a");
    assert_eq!(shape("r#end"), "end");
    assert_eq!(shape("now()"), "(call now)");
    assert_eq!(shape("coalesce(a, 1, \"x\")"), "(call coalesce a 1 \"x\")");
    assert_eq!(shape("pg_catalog.lower(a)"), "(call pg_catalog.lower a)");
    assert_eq!(shape("count(*)"), "(call count *)");
    assert_eq!(shape("CURRENT_TIMESTAMP"), "current_timestamp!");
    for v in [
        "current_date",
        "current_time",
        "localtimestamp",
        "localtime",
        "current_user",
        "session_user",
    ] {
        assert_eq!(shape(v), format!("{v}!"));
    }
    // With parentheses it is an ordinary call.
    assert_eq!(shape("current_timestamp(3)"), "(call current_timestamp 3)");
    assert_eq!(shape("cast(a as bigint)"), "(cast a bigint)");
    assert_eq!(shape("array[1, 2 + 3]"), "(array 1 (+ 2 3))");
    assert_eq!(shape("array[]"), "(array )");
}

#[test]
fn arithmetic_precedence() {
    assert_eq!(shape("1 + 2 * 3"), "(+ 1 (* 2 3))");
    assert_eq!(shape("(1 + 2) * 3"), "(* [(+ 1 2)] 3)");
    assert_eq!(shape("1 - 2 - 3"), "(- (- 1 2) 3)");
    assert_eq!(shape("a / b % c"), "(% (/ a b) c)");
    assert_eq!(shape("-a * b"), "(* (neg a) b)");
    assert_eq!(shape("- -a"), "(neg (neg a))");
    assert_eq!(shape("+a"), "(pos a)");
    assert_eq!(shape("2 ^ 3 * 4"), "(* (^ 2 3) 4)");
    assert_eq!(shape("a=-1"), "(= a (neg 1))");
}

#[test]
fn at_time_zone_binds_between_exponent_and_prefix_minus() {
    assert_eq!(
        shape(r#"at at time zone "UTC""#),
        r#"(AT TIME ZONE at "UTC")"#
    );
    assert_eq!(
        shape(r#"a at time zone "UTC" at time zone z"#),
        r#"(AT TIME ZONE (AT TIME ZONE a "UTC") z)"#
    );
    assert_eq!(
        shape(r#"a + b at time zone "UTC""#),
        r#"(+ a (AT TIME ZONE b "UTC"))"#
    );
    assert_eq!(shape("-a at time zone z"), "(AT TIME ZONE (neg a) z)");
    assert_eq!(
        shape("a::timestamp at time zone z ^ 2"),
        "(^ (AT TIME ZONE (cast a timestamp) z) 2)"
    );
    // `at` alone stays a column name.
    assert_eq!(shape("at + 1"), "(+ at 1)");
}

#[test]
fn cast_binds_tightest() {
    assert_eq!(shape("-a::int"), "(neg (cast a int))");
    assert_eq!(
        shape("a::text::varchar(3)"),
        "(cast (cast a text) varchar(3))"
    );
    assert_eq!(shape("\"{}\"::jsonb || b"), "(|| (cast \"{}\" jsonb) b)");
    assert_eq!(
        shape("x::timestamp with time zone"),
        "(cast x timestamp with time zone)"
    );
    assert_eq!(shape("a::int[]"), "(cast a int[])");
}

#[test]
fn other_operators_sit_between_additive_and_comparison() {
    assert_eq!(shape("a || b + c"), "(|| a (+ b c))");
    assert_eq!(shape("a || b || c"), "(|| (|| a b) c)");
    assert_eq!(
        shape("data->\"a\"->>\"b\" = \"x\""),
        r#"(= (->> (-> data "a") "b") "x")"#
    );
    assert_eq!(
        shape("tags @> array[\"a\"] and tags <@ b"),
        r#"(AND (@> tags (array "a")) (<@ tags b))"#
    );
    assert_eq!(shape("a && b"), "(&& a b)");
    assert_eq!(
        shape("a ~ \"x\" or a ~* \"y\" or a !~ \"z\" or a !~* \"w\""),
        r#"(OR (OR (OR (~ a "x") (~* a "y")) (!~ a "z")) (!~* a "w"))"#
    );
    assert_eq!(shape("doc #>> b"), "(#>> doc b)");
    assert_eq!(shape("a ? \"k\""), r#"(? a "k")"#);
    assert_eq!(shape("a <-> b < 3"), "(< (<-> a b) 3)");
}

#[test]
fn comparisons() {
    assert_eq!(shape("a = 1"), "(= a 1)");
    assert_eq!(shape("a <> 1"), "(<> a 1)");
    assert_eq!(shape("a != 1"), "(<> a 1)");
    assert_eq!(shape("a < 1"), "(< a 1)");
    assert_eq!(shape("a <= 1"), "(<= a 1)");
    assert_eq!(shape("a > 1"), "(> a 1)");
    assert_eq!(shape("a >= 1 + 2"), "(>= a (+ 1 2))");
    let d = expr_error("a = b = c");
    assert_eq!(
        d.msg,
        "comparisons do not chain; put parentheses around `=` and its operands"
    );
    assert_eq!(d.start, (1, 6));
}

#[test]
fn pattern_operators() {
    assert_eq!(shape("a like \"x%\""), r#"(LIKE a "x%")"#);
    assert_eq!(shape("a not like \"x%\""), r#"(NOT LIKE a "x%")"#);
    assert_eq!(shape("a ilike b"), "(ILIKE a b)");
    assert_eq!(shape("a NOT ILIKE b"), "(NOT ILIKE a b)");
    assert_eq!(shape("a in (1, 2, 3)"), "(in a [1 2 3])");
    assert_eq!(shape("a not in (\"x\")"), r#"(not-in a ["x"])"#);
    assert_eq!(shape("a between 1 and 2 + 3"), "(between a 1 (+ 2 3))");
    assert_eq!(
        shape("a not between 1 and 2 and b"),
        "(AND (not-between a 1 2) b)"
    );
    // `like` binds tighter than `=`, looser than `||`.
    assert_eq!(shape("a || b like c = true"), "(= (LIKE (|| a b) c) true)");
}

#[test]
fn is_null_and_distinct() {
    assert_eq!(shape("a is null"), "(is-null a)");
    assert_eq!(shape("a IS NOT NULL"), "(is-not-null a)");
    assert_eq!(shape("a = b is null"), "(is-null (= a b))");
    assert_eq!(shape("a is distinct from b"), "(IS DISTINCT FROM a b)");
    assert_eq!(
        shape("a is not distinct from b + 1"),
        "(IS NOT DISTINCT FROM a (+ b 1))"
    );
    let d = expr_error("a is true");
    assert_eq!(
        d.msg,
        "expected `null` or `distinct from` after `is`, found `true`"
    );
}

#[test]
fn boolean_precedence() {
    assert_eq!(shape("a or b and c"), "(OR a (AND b c))");
    assert_eq!(shape("a and b or c"), "(OR (AND a b) c)");
    assert_eq!(shape("not a and b"), "(AND (not a) b)");
    assert_eq!(shape("not a = b"), "(not (= a b))");
    assert_eq!(shape("not a is null"), "(not (is-null a))");
    assert_eq!(shape("not not a"), "(not (not a))");
    assert_eq!(shape("(a or b) and c"), "(AND [(OR a b)] c)");
}

#[test]
fn case_expressions() {
    assert_eq!(
        shape("case when a > 0 then \"pos\" when a < 0 then \"neg\" else \"zero\" end"),
        r#"(case [(> a 0) "pos"] [(< a 0) "neg"] [else "zero"])"#
    );
    assert_eq!(shape("CASE a WHEN 1 THEN 2 END"), "(case a [1 2])");
    let d = expr_error("case a end");
    assert_eq!(d.msg, "expected `when` in `case`, found `end`");
    let d = expr_error("case when a then b");
    assert_eq!(d.msg, "expected `end` to close `case`, found end of input");
}

#[test]
fn ranges_cover_first_to_last_token() {
    let e = expr("a + f(b, c)::int");
    assert_eq!(pos(e.range), ((1, 0), (1, 16)));
    let crate::ast::ExprKind::Binary { rhs, .. } = &e.kind else {
        panic!()
    };
    assert_eq!(pos(rhs.range), ((1, 4), (1, 16)));
    let e = expr("x is not null");
    assert_eq!(pos(e.range), ((1, 0), (1, 13)));
    let e = expr("(a)");
    assert_eq!(pos(e.range), ((1, 0), (1, 3)));
    let e = expr("a in (1, 2)");
    assert_eq!(pos(e.range), ((1, 0), (1, 11)));
    let e = expr("-5");
    assert_eq!(pos(e.range), ((1, 0), (1, 2)));
}

#[test]
fn expression_errors() {
    let d = expr_error("a +");
    assert_eq!(d.msg, "expected an expression, found end of input");
    let d = expr_error("f(a b)");
    assert_eq!(
        d.msg,
        "expected `,` or `)` in the arguments of `f`, found `b`"
    );
    assert_eq!(d.start, (1, 4));
    let d = expr_error("(a, b)");
    assert_eq!(d.msg, "expected `)`, found `,`");
    let d = expr_error("a = end");
    assert_eq!(
        d.msg,
        "expected an expression, found the keyword `end`; a column named `end` is written `r#end`"
    );
    let d = expr_error("()");
    assert_eq!(d.msg, "expected an expression inside `(`, found `)`");
    assert_eq!(d.start, (1, 1));
    let d = expr_error("a between 1");
    assert_eq!(
        d.msg,
        "expected `and` between the bounds of `between`, found end of input"
    );
    let d = expr_error("a.b.c.d");
    assert!(
        d.msg
            .starts_with("a column reference has at most three parts"),
        "{}",
        d.msg
    );
    let d = expr_error("a.b.c(1)");
    assert!(
        d.msg.starts_with("a function name has at most two parts"),
        "{}",
        d.msg
    );
    let d = expr_error("a::");
    assert_eq!(d.msg, "expected a type after `::`, found end of input");
}
