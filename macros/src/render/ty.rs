//! Column types.

use crate::ast::Type;

use super::ident::quote_ident;

/// Built-in type names PostgreSQL's grammar knows, as their lowercase words joined by one space. These
/// render unquoted: several (`integer`, `double precision`, `character varying`, `timestamp with time
/// zone` ...) are grammar, not catalog names, and would not resolve quoted.
pub(crate) const BUILTIN: &[&str] = &[
    "int",
    "integer",
    "int2",
    "int4",
    "int8",
    "smallint",
    "bigint",
    "serial",
    "serial2",
    "serial4",
    "serial8",
    "smallserial",
    "bigserial",
    "real",
    "float",
    "float4",
    "float8",
    "double precision",
    "numeric",
    "decimal",
    "money",
    "text",
    "varchar",
    "character varying",
    "char",
    "character",
    "bpchar",
    "boolean",
    "bool",
    "bytea",
    "date",
    "time",
    "time with time zone",
    "time without time zone",
    "timestamp",
    "timestamp with time zone",
    "timestamp without time zone",
    "timestamptz",
    "timetz",
    "interval",
    "uuid",
    "json",
    "jsonb",
    "xml",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "bit",
    "bit varying",
    "varbit",
    "tsvector",
    "tsquery",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
    "int4range",
    "int8range",
    "numrange",
    "tsrange",
    "tstzrange",
    "daterange",
    "oid",
    "regclass",
];

/// The field qualifiers `interval` accepts (`interval day to second`).
const INTERVAL_FIELDS: &[&str] = &["year", "month", "day", "hour", "minute", "second", "to"];

/// A column type as SQL: built-in names unquoted and lowercase with their modifiers where the grammar
/// wants them (`varchar(255)`, `timestamp(3) with time zone`, `interval day to second(3)`), user types
/// quoted (`"mood"`, `"app"."mood"`), then one `[]` per array dimension.
pub fn render_type(ty: &Type) -> String {
    let words: Vec<&str> = ty.words.iter().map(String::as_str).collect();
    let params = (!ty.params.is_empty()).then(|| {
        let list: Vec<String> = ty.params.iter().map(u64::to_string).collect();
        format!("({})", list.join(", "))
    });
    let params = params.as_deref().unwrap_or("");
    let mut out = if ty.schema.is_none() && is_builtin(&words) {
        match words.as_slice() {
            // `time(p) with time zone`: the precision belongs to the first word.
            [first @ ("time" | "timestamp"), rest @ ..] if !rest.is_empty() => {
                format!("{first}{params} {}", rest.join(" "))
            }
            _ => format!("{}{params}", words.join(" ")),
        }
    } else {
        // A user type is one name; several words cannot form one, but they still render as one quoted
        // name rather than as something PostgreSQL would read differently.
        let name = quote_ident(&words.join(" "));
        match &ty.schema {
            Some(schema) => format!("{}.{name}{params}", quote_ident(&schema.value)),
            None => format!("{name}{params}"),
        }
    };
    for _ in 0..ty.array_dims {
        out.push_str("[]");
    }
    out
}

fn is_builtin(words: &[&str]) -> bool {
    match words {
        ["interval", fields @ ..] if !fields.is_empty() => {
            fields.iter().all(|f| INTERVAL_FIELDS.contains(f))
        }
        _ => BUILTIN.contains(&words.join(" ").as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::test_ast::ty;

    fn r(s: &str) -> String {
        render_type(&ty(s))
    }

    #[test]
    fn simple_builtins_are_unquoted() {
        for name in [
            "int", "integer", "bigint", "smallint", "text", "boolean", "bool", "uuid", "jsonb",
            "bytea",
        ] {
            assert_eq!(r(name), name);
        }
        for name in [
            "int2",
            "int4",
            "int8",
            "float4",
            "float8",
            "real",
            "money",
            "date",
            "timestamptz",
        ] {
            assert_eq!(r(name), name);
        }
        for name in [
            "inet", "cidr", "macaddr", "macaddr8", "tsvector", "tsquery", "xml", "oid", "regclass",
        ] {
            assert_eq!(r(name), name);
        }
        for name in [
            "point", "line", "box", "path", "polygon", "circle", "varbit", "bpchar", "timetz",
        ] {
            assert_eq!(r(name), name);
        }
        for name in [
            "int4range",
            "int8range",
            "numrange",
            "tsrange",
            "tstzrange",
            "daterange",
        ] {
            assert_eq!(r(name), name);
        }
        for name in [
            "serial",
            "bigserial",
            "smallserial",
            "serial2",
            "serial4",
            "serial8",
        ] {
            assert_eq!(r(name), name);
        }
    }

    #[test]
    fn multi_word_builtins() {
        assert_eq!(r("double precision"), "double precision");
        assert_eq!(r("character varying"), "character varying");
        assert_eq!(r("bit varying"), "bit varying");
        assert_eq!(r("timestamp with time zone"), "timestamp with time zone");
        assert_eq!(
            r("timestamp without time zone"),
            "timestamp without time zone"
        );
        assert_eq!(r("time with time zone"), "time with time zone");
        assert_eq!(r("time without time zone"), "time without time zone");
        assert_eq!(r("interval"), "interval");
        assert_eq!(r("interval day to second"), "interval day to second");
    }

    #[test]
    fn params_go_where_the_grammar_wants_them() {
        assert_eq!(r("varchar(255)"), "varchar(255)");
        assert_eq!(r("numeric(10,2)"), "numeric(10, 2)");
        assert_eq!(r("character varying(20)"), "character varying(20)");
        assert_eq!(r("char(3)"), "char(3)");
        assert_eq!(r("bit varying(8)"), "bit varying(8)");
        assert_eq!(
            r("timestamp with time zone(3)"),
            "timestamp(3) with time zone"
        );
        assert_eq!(r("time without time zone(0)"), "time(0) without time zone");
        assert_eq!(r("timestamp(6)"), "timestamp(6)");
        assert_eq!(r("interval day to second(3)"), "interval day to second(3)");
        assert_eq!(r("float(53)"), "float(53)");
    }

    #[test]
    fn arrays() {
        assert_eq!(r("text[]"), "text[]");
        assert_eq!(r("int[][]"), "int[][]");
        assert_eq!(r("varchar(10)[]"), "varchar(10)[]");
        assert_eq!(
            r("timestamp with time zone(3)[]"),
            "timestamp(3) with time zone[]"
        );
        assert_eq!(r("mood[]"), r#""mood"[]"#);
    }

    #[test]
    fn user_types_are_quoted() {
        assert_eq!(r("mood"), r#""mood""#);
        assert_eq!(r("citext"), r#""citext""#);
        assert_eq!(r("app.mood"), r#""app"."mood""#);
        // A schema makes any name a user type, even a built-in spelling.
        assert_eq!(r("pg_catalog.int4"), r#""pg_catalog"."int4""#);
        assert_eq!(r("interval fortnight"), r#""interval fortnight""#);
        assert_eq!(r("geometry(4326)"), r#""geometry"(4326)"#);
    }
}
