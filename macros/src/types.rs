//! What the macro knows about PostgreSQL types: which type changes are free of a table rewrite.
//!
//! PostgreSQL skips the rewrite of `alter column .. type` when the old and new types are binary
//! coercible and the length/precision coercion is a no-op (`ATColumnChangeRequiresRewrite` and the
//! types' support functions). Even a free change takes `ACCESS EXCLUSIVE` for a moment, which the
//! plan bounds with `lock_timeout`. Indexes on the column are kept when the change is binary coercible
//! and the operator family stays the same (e.g. `varchar` -> `text`), so a free change rebuilds no
//! index either. Everything not listed here counts as a rewrite: the macro cannot prove otherwise.

use crate::ast::{BinaryOp, Expr, ExprKind, Type};

/// Whether `alter column ... type to [using ..]` rewrites the table, given the stated current type.
/// `from == None` (current type not stated) counts as rewriting: the macro cannot prove otherwise.
pub fn alter_type_rewrites(from: Option<&Type>, to: &Type, has_using: bool) -> bool {
    // `using` recomputes every row, whatever the types.
    if has_using {
        return true;
    }
    let Some(from) = from else { return true };
    // Arrays: the element rule applies when the dimensions agree.
    if from.array_dims != to.array_dims {
        return true;
    }
    !free_change(&Canonical::of(from), &Canonical::of(to))
}

/// Whether `a` and `b` are the same type (aliases and modifier spellings aside).
pub fn same(a: &Type, b: &Type) -> bool {
    a.array_dims == b.array_dims && Canonical::of(a) == Canonical::of(b)
}

/// Whether `using` only reads the stored `timestamp` values of `column` as UTC (or a `timestamptz`
/// as UTC wall-clock time), `using column at time zone 'UTC'`, while the type changes between
/// `timestamp` and `timestamptz` at the same or a higher precision. With the session time zone UTC
/// the plain cast computes the same values, and PostgreSQL 12 and later then keep every stored value
/// as it is: no rewrite (indexes on the column are rebuilt all the same).
pub fn utc_reinterpretation(column: &str, from: &Type, to: &Type, using: &Expr) -> bool {
    let (f, t) = (Canonical::of(from), Canonical::of(to));
    let bases = matches!(
        (f.base.as_str(), t.base.as_str()),
        ("timestamp", "timestamptz") | ("timestamptz", "timestamp")
    );
    let ExprKind::Binary {
        op: BinaryOp::AtTimeZone,
        lhs,
        rhs,
    } = &unparen(using).kind
    else {
        return false;
    };
    let reads_column = matches!(&unparen(lhs).kind, ExprKind::Column(parts)
        if parts.last().is_some_and(|p| p.value == column));
    let utc = matches!(&unparen(rhs).kind, ExprKind::String(zone)
        if zone.eq_ignore_ascii_case("utc") || zone.eq_ignore_ascii_case("etc/utc"));
    from.array_dims == 0
        && to.array_dims == 0
        && bases
        && widens_single(&f.params, &t.params)
        && reads_column
        && utc
}

/// `e` without the parentheses around it.
fn unparen(e: &Expr) -> &Expr {
    match &e.kind {
        ExprKind::Paren(inner) => unparen(inner),
        _ => e,
    }
}

/// Whether a foreign key from a column of type `a` to one of type `b` works as an index lookup:
/// the same type, or two integer types (PostgreSQL compares them across widths).
pub fn comparable_keys(a: &Type, b: &Type) -> bool {
    const INTEGERS: [&str; 3] = ["int2", "int4", "int8"];
    let (ca, cb) = (Canonical::of(a), Canonical::of(b));
    let serial = |c: &Canonical| match c.base.as_str() {
        "smallserial" | "serial2" => "int2".to_owned(),
        "serial" | "serial4" => "int4".to_owned(),
        "bigserial" | "serial8" => "int8".to_owned(),
        other => other.to_owned(),
    };
    let (ba, bb) = (serial(&ca), serial(&cb));
    a.array_dims == b.array_dims
        && (same(a, b)
            || ba == bb
            || (INTEGERS.contains(&ba.as_str()) && INTEGERS.contains(&bb.as_str()))
            // `varchar(n)` and `text` share their operators.
            || (["text", "varchar"].contains(&ba.as_str()) && ["text", "varchar"].contains(&bb.as_str())))
}

/// The type as PostgreSQL's `format_type` spells it for a column of the `public` schema:
/// `integer`, `character varying(20)`, `timestamp(3) with time zone`, `numeric(10,2)`, `app.mood`,
/// `text[]` (an array shows one `[]` whatever its dimensions).
pub fn format_type(ty: &Type) -> String {
    let c = Canonical::of(ty);
    let params = |p: &[u64]| {
        if p.is_empty() {
            String::new()
        } else {
            let p: Vec<String> = p.iter().map(u64::to_string).collect();
            format!("({})", p.join(","))
        }
    };
    let p = params(&c.params);
    let base = match c.base.as_str() {
        "int4" | "serial" | "serial4" => "integer".to_owned(),
        "int8" | "bigserial" | "serial8" => "bigint".to_owned(),
        "int2" | "smallserial" | "serial2" => "smallint".to_owned(),
        "float4" => "real".to_owned(),
        "float8" => "double precision".to_owned(),
        "bool" => "boolean".to_owned(),
        "varchar" => format!("character varying{p}"),
        "bpchar" => format!("character{p}"),
        "varbit" => format!("bit varying{p}"),
        "timestamptz" => format!("timestamp{p} with time zone"),
        "timestamp" => format!("timestamp{p} without time zone"),
        "timetz" => format!("time{p} with time zone"),
        "time" => format!("time{p} without time zone"),
        other => match other.strip_prefix("public.") {
            Some(unqualified) => format!("{unqualified}{p}"),
            None => format!("{other}{p}"),
        },
    };
    if ty.array_dims > 0 {
        format!("{base}[]")
    } else {
        base
    }
}

/// Built-in types that render quoted (they are catalog names, not grammar; see
/// `render::BUILTIN_TYPES`, which the rendering of existing plans depends on), for telling a misspelt
/// type from an extension's.
const MORE_BUILTIN: &[&str] = &[
    "regtype",
    "regproc",
    "name",
    "int4multirange",
    "int8multirange",
    "nummultirange",
    "tsmultirange",
    "tstzmultirange",
    "datemultirange",
    "pg_lsn",
    "pg_snapshot",
    "txid_snapshot",
    "jsonpath",
    "xid",
    "xid8",
    "cid",
    "tid",
    "regnamespace",
    "regrole",
    "regconfig",
    "regdictionary",
    "regoper",
    "regoperator",
    "regprocedure",
    "regcollation",
    "int2vector",
    "oidvector",
    "refcursor",
];

/// The one-word names of PostgreSQL's built-in types (and of the `serial` pseudo-types).
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    crate::render::BUILTIN_TYPES
        .iter()
        .chain(MORE_BUILTIN)
        .copied()
        .filter(|name| !name.contains(' '))
}

/// The type as written, for messages: `varchar(100)`, `timestamp with time zone`, `app.mood[]`.
pub fn display(ty: &Type) -> String {
    let mut out = String::new();
    if let Some(schema) = &ty.schema {
        out.push_str(&schema.value);
        out.push('.');
    }
    // PostgreSQL writes the modifiers after the first word: `timestamp(3) with time zone`.
    for (i, word) in ty.words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if i == 0 && !ty.params.is_empty() {
            let params: Vec<String> = ty.params.iter().map(u64::to_string).collect();
            out.push('(');
            out.push_str(&params.join(", "));
            out.push(')');
        }
    }
    for _ in 0..ty.array_dims {
        out.push_str("[]");
    }
    out
}

/// A type with aliases resolved (`int` = `integer` = `int4`) and modifiers normalised
/// (`numeric(10)` = `numeric(10, 0)`), without array dimensions.
#[derive(Debug, PartialEq, Eq)]
struct Canonical {
    /// The internal name for built-in types (`int4`, `varchar`, `timestamptz`), or the schema-qualified
    /// name as written for any other type.
    base: String,
    /// Type modifiers; empty when unconstrained.
    params: Vec<u64>,
}

impl Canonical {
    fn of(ty: &Type) -> Canonical {
        let words: Vec<&str> = ty.words.iter().map(String::as_str).collect();
        let builtin = match &ty.schema {
            None => true,
            Some(s) => s.value == "pg_catalog",
        };
        let mut params = ty.params.clone();
        let base = if builtin {
            builtin_name(&words, &mut params)
        } else {
            None
        };
        let base = base.unwrap_or_else(|| {
            let name = words.join(" ");
            match (&ty.schema, builtin) {
                (Some(schema), false) => format!("{}.{name}", schema.value),
                _ => name,
            }
        });
        Canonical { base, params }
    }
}

/// The internal name of a built-in type written as `words`, adjusting `params` where the spelling
/// implies a modifier (`float(10)` is `real`, `numeric(10)` is `numeric(10, 0)`, `char` is `char(1)`).
fn builtin_name(words: &[&str], params: &mut Vec<u64>) -> Option<String> {
    let name = match words {
        ["int" | "integer" | "int4"] => "int4",
        ["bigint" | "int8"] => "int8",
        ["smallint" | "int2"] => "int2",
        ["real" | "float4"] => "float4",
        ["double", "precision"] | ["float8"] => "float8",
        ["float"] => {
            // `float(p)`: 1..=24 is `real`, 25..=53 (or none) is `double precision`.
            let single = matches!(params.as_slice(), [p] if *p <= 24);
            params.clear();
            if single {
                "float4"
            } else {
                "float8"
            }
        }
        ["numeric" | "decimal"] => {
            if params.len() == 1 {
                params.push(0);
            }
            "numeric"
        }
        ["bool" | "boolean"] => "bool",
        ["varchar"] | ["character" | "char", "varying"] => "varchar",
        ["char" | "character"] => {
            if params.is_empty() {
                params.push(1);
            }
            "bpchar"
        }
        ["bpchar"] => "bpchar",
        ["varbit"] | ["bit", "varying"] => "varbit",
        ["bit"] => {
            if params.is_empty() {
                params.push(1);
            }
            "bit"
        }
        ["timestamptz"] | ["timestamp", "with", "time", "zone"] => "timestamptz",
        ["timestamp"] | ["timestamp", "without", "time", "zone"] => "timestamp",
        ["timetz"] | ["time", "with", "time", "zone"] => "timetz",
        ["time"] | ["time", "without", "time", "zone"] => "time",
        _ => return None,
    };
    Some(name.to_owned())
}

/// Whether changing a column from `from` to `to` (same array dimensions) keeps every stored value as
/// it is, so PostgreSQL skips the rewrite.
fn free_change(from: &Canonical, to: &Canonical) -> bool {
    if from == to {
        return true;
    }
    let (f, t) = (from.params.as_slice(), to.params.as_slice());
    match (from.base.as_str(), to.base.as_str()) {
        // A longer limit or none at all: `varchar_support` / `varbit_support` call it a no-op.
        ("varchar", "varchar") | ("varbit", "varbit") => widens_single(f, t),
        // `varchar` and `text` share their representation; `text` -> `varchar` is free only without a
        // limit (a limit would need checking every value).
        ("varchar", "text") => true,
        ("text", "varchar") => t.is_empty(),
        // More digits before the point at the same scale, or unconstrained.
        ("numeric", "numeric") => match (f, t) {
            (_, []) => true,
            ([p, s], [q, r]) => s == r && q >= p,
            _ => false,
        },
        // A higher fractional-seconds precision, or none (PostgreSQL 9.2's `TemporalSimplify`).
        ("timestamp", "timestamp") | ("timestamptz", "timestamptz") => widens_single(f, t),
        // Every `cidr` value is a valid `inet` with the same bytes.
        ("cidr", "inet") => true,
        // `timestamp` <-> `timestamptz` is free only when the session time zone is UTC, which the macro
        // cannot know; `char(n)` -> `text` strips trailing blanks; `xml` -> `text` goes through a function.
        _ => false,
    }
}

/// `(n)` -> `(m)` with `m >= n`, or -> unconstrained. Unconstrained -> `(m)` needs every value checked.
fn widens_single(from: &[u64], to: &[u64]) -> bool {
    match (from, to) {
        (_, []) => true,
        ([n], [m]) => m >= n,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::build::ty;
    use crate::lower::test_ast::{bin, col, paren, string};

    #[test]
    fn utc_reinterpretations() {
        let at = |c: &str, zone: &str| bin(BinaryOp::AtTimeZone, col(c), string(zone));
        let yes =
            |from: &str, to: &str, using| utc_reinterpretation("at", &ty(from), &ty(to), &using);
        assert!(yes("timestamp", "timestamptz", at("at", "UTC")));
        assert!(yes("timestamptz", "timestamp", at("at", "utc")));
        assert!(yes(
            "timestamp(3)",
            "timestamp with time zone",
            at("at", "Etc/UTC")
        ));
        assert!(yes("timestamp", "timestamptz", paren(at("at", "UTC"))));
        // Another zone, another column, a lower precision, the same type, arrays.
        assert!(!yes("timestamp", "timestamptz", at("at", "Europe/Paris")));
        assert!(!yes("timestamp", "timestamptz", at("other", "UTC")));
        assert!(!yes("timestamp", "timestamptz(3)", at("at", "UTC")));
        assert!(!yes("timestamp", "timestamp", at("at", "UTC")));
        assert!(!yes("timestamp[]", "timestamptz[]", at("at", "UTC")));
        assert!(!yes("date", "timestamptz", at("at", "UTC")));
    }

    #[test]
    fn free_and_rewriting_changes() {
        // (from, to, rewrites)
        let cases = [
            // Same type, aliases, no modifier change.
            ("text", "text", false),
            ("int", "integer", false),
            ("int4", "integer", false),
            ("bigint", "int8", false),
            ("smallint", "int2", false),
            ("bool", "boolean", false),
            ("decimal(10,2)", "numeric(10,2)", false),
            ("numeric(10)", "numeric(10,0)", false),
            ("character varying(20)", "varchar(20)", false),
            ("timestamptz", "timestamp with time zone", false),
            ("timestamp", "timestamp without time zone", false),
            ("float8", "double precision", false),
            ("float", "double precision", false),
            ("float(10)", "real", false),
            ("float(30)", "float8", false),
            ("pg_catalog.int4", "int", false),
            ("app.mood", "app.mood", false),
            ("mood", "mood", false),
            ("uuid", "uuid", false),
            // varchar widening and to text.
            ("varchar(10)", "varchar(20)", false),
            ("varchar(10)", "varchar(10)", false),
            ("varchar(10)", "varchar", false),
            ("varchar(20)", "varchar(10)", true),
            ("varchar", "varchar(10)", true),
            ("varchar(100)", "text", false),
            ("varchar", "text", false),
            ("character varying(5)", "text", false),
            ("text", "varchar", false),
            ("text", "varchar(10)", true),
            // numeric precision.
            ("numeric(10,2)", "numeric(12,2)", false),
            ("numeric(10,2)", "numeric", false),
            ("numeric(10,2)", "numeric(12,3)", true),
            ("numeric(10,2)", "numeric(8,2)", true),
            ("numeric", "numeric(10,2)", true),
            ("numeric(10)", "numeric(12)", false),
            // bit varying.
            ("varbit(8)", "varbit(16)", false),
            ("bit varying(8)", "varbit", false),
            ("varbit(16)", "varbit(8)", true),
            // Timestamps.
            ("timestamp(3)", "timestamp(6)", false),
            ("timestamptz(3)", "timestamptz", false),
            ("timestamptz(6)", "timestamptz(3)", true),
            ("timestamp", "timestamptz", true),
            ("timestamptz", "timestamp", true),
            // Network types.
            ("cidr", "inet", false),
            ("inet", "cidr", true),
            // Not binary coercible.
            ("char(10)", "text", true),
            ("char", "char(2)", true),
            ("xml", "text", true),
            ("int", "bigint", true),
            ("int2", "int4", true),
            ("float4", "float8", true),
            ("json", "jsonb", true),
            ("text", "mood", true),
            ("app.mood", "mood", true),
            ("other.mood", "app.mood", true),
            // Arrays: element-wise with the same dimensions.
            ("varchar(10)[]", "text[]", false),
            ("int[]", "integer[]", false),
            ("int[]", "bigint[]", true),
            ("text[]", "text", true),
            ("text[][]", "text[]", true),
        ];
        for (from, to, rewrites) in cases {
            assert_eq!(
                alter_type_rewrites(Some(&ty(from)), &ty(to), false),
                rewrites,
                "`{from}` -> `{to}` should {}rewrite",
                if rewrites { "" } else { "not " }
            );
        }
    }

    #[test]
    fn using_or_unknown_current_type_rewrites() {
        assert!(alter_type_rewrites(Some(&ty("text")), &ty("text"), true));
        assert!(alter_type_rewrites(
            Some(&ty("varchar(10)")),
            &ty("text"),
            true
        ));
        assert!(alter_type_rewrites(None, &ty("text"), false));
    }

    #[test]
    fn display_as_written() {
        assert_eq!(display(&ty("varchar(100)")), "varchar(100)");
        assert_eq!(display(&ty("numeric(10, 2)[]")), "numeric(10, 2)[]");
        assert_eq!(display(&ty("app.mood")), "app.mood");
        assert_eq!(
            display(&ty("timestamp(3) with time zone")),
            "timestamp(3) with time zone"
        );
    }
}
