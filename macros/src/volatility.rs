//! Function volatility, as far as the macro can know it: `now()` is stable, `random()` is volatile, and
//! an unknown function counts as volatile.
//!
//! Volatility matters for `add column .. default`: since PostgreSQL 11 a non-volatile default is
//! evaluated once and stored in the catalog, while a volatile one is evaluated per row, which rewrites
//! the table under `ACCESS EXCLUSIVE`. Operators, casts and SQL value functions (`current_timestamp`)
//! on built-in types are immutable or stable, so only function calls are judged.

use crate::ast::{Expr, ExprKind, QName};

/// How the macro classifies a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volatility {
    /// Immutable or stable: evaluated once for an `add column` default.
    NonVolatile,
    /// Known to be volatile (`random`, `gen_random_uuid`, `clock_timestamp`, `nextval`, ...).
    Volatile,
    /// Not in the macro's lists; treated as volatile.
    Unknown,
}

/// The first volatile sub-expression of `expr` (a call to a volatile or unknown function), if any.
///
/// Sub-expressions are visited outermost first, left to right, so in `my_fn(random())` the unknown
/// `my_fn` is reported; in `coalesce(random(), 1)` it is `random()`.
pub fn first_volatile(expr: &Expr) -> Option<&Expr> {
    let mut found = None;
    expr.walk(&mut |e| {
        if found.is_none() {
            if let ExprKind::Call { func, .. } = &e.kind {
                if function_volatility(func) != Volatility::NonVolatile {
                    found = Some(e);
                }
            }
        }
    });
    found
}

/// Why a value can differ between two evaluations in different transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unstable {
    /// A call to a volatile function, or to a function the macro does not know.
    Volatile(Volatility),
    /// The time of the transaction or statement (`now()`, `current_timestamp`, ...): stable within a
    /// transaction, different in the next one.
    Time,
}

/// Stable functions whose value is the current time, so it changes from one transaction to the next.
const TIME_FUNCTIONS: &[&str] = &["now", "transaction_timestamp", "statement_timestamp"];

/// SQL value functions that read the clock.
const TIME_VALUES: &[&str] = &[
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
];

/// The first sub-expression of `expr` whose value can change between transactions: a volatile or
/// unknown function call, or the current time. A backfill runs one transaction per batch, so such a
/// value differs from batch to batch, and `col IS DISTINCT FROM value` stays true after the update.
pub fn first_unstable(expr: &Expr) -> Option<(&Expr, Unstable)> {
    let mut found = None;
    expr.walk(&mut |e| {
        if found.is_some() {
            return;
        }
        match &e.kind {
            ExprKind::Call { func, .. } => match function_volatility(func) {
                Volatility::NonVolatile => {
                    let catalog = func
                        .schema
                        .as_ref()
                        .map_or(true, |s| s.value == "pg_catalog");
                    if catalog && TIME_FUNCTIONS.contains(&func.name.value.as_str()) {
                        found = Some((e, Unstable::Time));
                    }
                }
                v => found = Some((e, Unstable::Volatile(v))),
            },
            ExprKind::SqlValue(name) if TIME_VALUES.contains(&name.value.as_str()) => {
                found = Some((e, Unstable::Time))
            }
            _ => {}
        }
    });
    found
}

/// The volatility of a function by name. Names in the non-volatile list count only unqualified or in
/// `pg_catalog` (a `myschema.lower` is the user's own function); names in the volatile list count in any
/// schema, since extensions (`uuid-ossp`, `pgcrypto`) may be installed anywhere.
pub fn function_volatility(func: &QName) -> Volatility {
    let name = func.name.value.as_str();
    if VOLATILE.contains(&name) {
        return Volatility::Volatile;
    }
    let catalog = match &func.schema {
        None => true,
        Some(s) => s.value == "pg_catalog",
    };
    if catalog && NON_VOLATILE.contains(&name) {
        Volatility::NonVolatile
    } else {
        Volatility::Unknown
    }
}

/// Built-in functions that are volatile (`provolatile = 'v'`), plus common extension functions.
const VOLATILE: &[&str] = &[
    // Randomness and identifiers.
    "random",
    "random_normal",
    "setseed",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "gen_random_bytes",
    "gen_salt",
    // Wall-clock time, which changes during a statement.
    "clock_timestamp",
    "timeofday",
    // Sequences.
    "nextval",
    "setval",
    "currval",
    "lastval",
    // Transaction ids.
    "txid_current",
    "txid_current_if_assigned",
    "pg_current_xact_id",
    "pg_current_xact_id_if_assigned",
    // Side effects.
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "set_config",
    "pg_notify",
    "pg_advisory_lock",
    "pg_try_advisory_lock",
    "dblink",
];

/// Built-in functions that are immutable or stable, so safe in an `add column` default.
const NON_VOLATILE: &[&str] = &[
    // Time fixed for the transaction or statement (stable).
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "timezone",
    "age",
    "date_trunc",
    "date_part",
    "date_bin",
    "extract",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "to_char",
    "to_date",
    "to_number",
    "to_timestamp",
    "isfinite",
    "justify_days",
    "justify_hours",
    "justify_interval",
    // Session and server information (stable).
    "current_setting",
    "current_database",
    "current_schema",
    "current_schemas",
    "version",
    "pg_backend_pid",
    "inet_client_addr",
    "inet_server_addr",
    // Conditionals.
    "coalesce",
    "nullif",
    "greatest",
    "least",
    // Strings.
    "lower",
    "upper",
    "initcap",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "bit_length",
    "trim",
    "btrim",
    "ltrim",
    "rtrim",
    "lpad",
    "rpad",
    "substring",
    "substr",
    "left",
    "right",
    "replace",
    "translate",
    "reverse",
    "repeat",
    "split_part",
    "strpos",
    "position",
    "overlay",
    "concat",
    "concat_ws",
    "format",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "regexp_replace",
    "regexp_match",
    "regexp_matches",
    "regexp_split_to_array",
    "starts_with",
    "chr",
    "ascii",
    "to_hex",
    "encode",
    "decode",
    "md5",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "uuid_nil",
    "uuid_ns_dns",
    "uuid_ns_url",
    "uuid_ns_oid",
    "uuid_ns_x500",
    "uuid_generate_v3",
    "uuid_generate_v5",
    "to_tsvector",
    // Numbers.
    "abs",
    "round",
    "floor",
    "ceil",
    "ceiling",
    "trunc",
    "sign",
    "mod",
    "div",
    "power",
    "pow",
    "sqrt",
    "cbrt",
    "exp",
    "ln",
    "log",
    "log10",
    "pi",
    "width_bucket",
    // JSON.
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "to_json",
    "to_jsonb",
    "json_object",
    "jsonb_object",
    "jsonb_set",
    "jsonb_strip_nulls",
    "json_strip_nulls",
    "row_to_json",
    "array_to_json",
    // Arrays.
    "array_length",
    "array_upper",
    "array_lower",
    "array_ndims",
    "array_dims",
    "cardinality",
    "array_append",
    "array_prepend",
    "array_cat",
    "array_remove",
    "array_replace",
    "array_position",
    "array_fill",
    "array_to_string",
    "string_to_array",
    // Range constructors.
    "int4range",
    "int8range",
    "numrange",
    "tsrange",
    "tstzrange",
    "daterange",
];

#[cfg(test)]
mod tests {
    use proc_macro2::Span;

    use super::*;
    use crate::ast::{BinaryOp, Name, Range, Type};

    fn name(v: &str) -> Name {
        Name {
            value: v.to_owned(),
            span: Span::call_site(),
        }
    }

    fn expr(kind: ExprKind) -> Expr {
        Expr {
            kind,
            range: Range::single(Span::call_site()),
        }
    }

    fn call(func: &str, args: Vec<Expr>) -> Expr {
        let func = match func.split_once('.') {
            Some((s, f)) => QName {
                schema: Some(name(s)),
                name: name(f),
            },
            None => QName {
                schema: None,
                name: name(func),
            },
        };
        expr(ExprKind::Call {
            func,
            args,
            star: false,
        })
    }

    fn num(n: &str) -> Expr {
        expr(ExprKind::Number(n.to_owned()))
    }

    fn text(s: &str) -> Expr {
        expr(ExprKind::String(s.to_owned()))
    }

    /// The function name of the first volatile call, if any.
    fn first(e: &Expr) -> Option<String> {
        first_volatile(e).map(|e| match &e.kind {
            ExprKind::Call { func, .. } => func.name.value.clone(),
            other => panic!("not a call: {other:?}"),
        })
    }

    #[test]
    fn constants_and_stable_functions_are_not_volatile() {
        assert_eq!(first(&num("0")), None);
        assert_eq!(first(&text("draft")), None);
        assert_eq!(first(&expr(ExprKind::Null)), None);
        assert_eq!(first(&call("now", vec![])), None);
        assert_eq!(first(&call("pg_catalog.now", vec![])), None);
        assert_eq!(first(&call("statement_timestamp", vec![])), None);
        assert_eq!(
            first(&call("current_setting", vec![text("app.tenant")])),
            None
        );
        assert_eq!(first(&call("lower", vec![text("X")])), None);
        assert_eq!(
            first(&call("jsonb_build_object", vec![text("a"), num("1")])),
            None
        );
    }

    #[test]
    fn sql_value_functions_are_stable() {
        for v in [
            "current_timestamp",
            "current_date",
            "localtimestamp",
            "current_user",
        ] {
            assert_eq!(first(&expr(ExprKind::SqlValue(name(v)))), None, "{v}");
        }
        let shifted = expr(ExprKind::Binary {
            op: BinaryOp::Add,
            lhs: Box::new(expr(ExprKind::SqlValue(name("current_timestamp")))),
            rhs: Box::new(expr(ExprKind::Cast {
                expr: Box::new(text("1 day")),
                ty: Type {
                    schema: None,
                    words: vec!["interval".into()],
                    params: vec![],
                    array_dims: 0,
                    range: Range::single(Span::call_site()),
                },
            })),
        });
        assert_eq!(first(&shifted), None);
    }

    #[test]
    fn volatile_functions() {
        for f in [
            "random",
            "gen_random_uuid",
            "uuid_generate_v4",
            "clock_timestamp",
            "timeofday",
            "nextval",
        ] {
            assert_eq!(first(&call(f, vec![])).as_deref(), Some(f));
            assert_eq!(
                function_volatility(&QName {
                    schema: None,
                    name: name(f)
                }),
                Volatility::Volatile
            );
        }
        // Extension functions count in any schema.
        assert_eq!(
            first(&call("extensions.uuid_generate_v4", vec![])).as_deref(),
            Some("uuid_generate_v4")
        );
    }

    #[test]
    fn nested_volatile_call_is_found() {
        // coalesce(random(), 1)
        let e = call("coalesce", vec![call("random", vec![]), num("1")]);
        assert_eq!(first(&e).as_deref(), Some("random"));
        // (random() * 10)::int
        let e = expr(ExprKind::Cast {
            expr: Box::new(expr(ExprKind::Paren(Box::new(expr(ExprKind::Binary {
                op: BinaryOp::Mul,
                lhs: Box::new(call("random", vec![])),
                rhs: Box::new(num("10")),
            }))))),
            ty: Type {
                schema: None,
                words: vec!["int".into()],
                params: vec![],
                array_dims: 0,
                range: Range::single(Span::call_site()),
            },
        });
        assert_eq!(first(&e).as_deref(), Some("random"));
        // case when true then gen_random_uuid() end
        let e = expr(ExprKind::Case {
            operand: None,
            whens: vec![(expr(ExprKind::Bool(true)), call("gen_random_uuid", vec![]))],
            else_: None,
        });
        assert_eq!(first(&e).as_deref(), Some("gen_random_uuid"));
        // lower(md5(clock_timestamp()::text))
        let e = call(
            "lower",
            vec![call(
                "md5",
                vec![expr(ExprKind::Cast {
                    expr: Box::new(call("clock_timestamp", vec![])),
                    ty: Type {
                        schema: None,
                        words: vec!["text".into()],
                        params: vec![],
                        array_dims: 0,
                        range: Range::single(Span::call_site()),
                    },
                })],
            )],
        );
        assert_eq!(first(&e).as_deref(), Some("clock_timestamp"));
    }

    #[test]
    fn unknown_functions_count_as_volatile() {
        assert_eq!(first(&call("my_fn", vec![])).as_deref(), Some("my_fn"));
        assert_eq!(
            function_volatility(&QName {
                schema: None,
                name: name("my_fn")
            }),
            Volatility::Unknown
        );
        // A user function shadowing a built-in name is the user's own.
        assert_eq!(
            first(&call("app.lower", vec![text("X")])).as_deref(),
            Some("lower")
        );
        // The outermost offender is reported first.
        assert_eq!(
            first(&call("my_fn", vec![call("random", vec![])])).as_deref(),
            Some("my_fn")
        );
        assert_eq!(
            first(&call("coalesce", vec![call("my_fn", vec![])])).as_deref(),
            Some("my_fn")
        );
    }
}
