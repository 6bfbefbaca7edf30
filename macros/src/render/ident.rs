//! Identifiers and string literals.

use crate::ast::QName;

/// `name` as a quoted identifier: always double-quoted, embedded `"` doubled. Quoting keeps the exact
/// (already lowercase) spelling and makes keywords such as `user` or `order` safe as names.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `"schema"."name"`, or `"name"` when no schema was written (then the search path decides).
pub fn render_qname(q: &QName) -> String {
    match &q.schema {
        Some(schema) => format!(
            "{}.{}",
            quote_ident(&schema.value),
            quote_ident(&q.name.value)
        ),
        None => quote_ident(&q.name.value),
    }
}

/// A function name: plain lowercase identifiers stay unquoted, because the SQL-standard functions
/// with special grammar (`coalesce`, `nullif`, `greatest`, `left` ...) only resolve unquoted; anything
/// else is quoted.
pub fn func_name(q: &QName) -> String {
    let part = |s: &str| {
        if is_plain_ident(s) {
            s.to_owned()
        } else {
            quote_ident(s)
        }
    };
    match &q.schema {
        Some(schema) => format!("{}.{}", part(&schema.value), part(&q.name.value)),
        None => part(&q.name.value),
    }
}

/// `[a-z_][a-z0-9_$]*`: an identifier PostgreSQL reads back unchanged without quotes.
fn is_plain_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '$'))
}

/// `value` as an SQL string literal: `'...'` with `'` doubled. When the value contains a backslash the
/// escape-string form `E'...'` is used with `\` doubled too: a plain `'a\b'` means a different string
/// under `standard_conforming_strings = off`, `E'a\\b'` means `a\b` under either setting.
pub fn quote_literal(value: &str) -> String {
    let escape_backslash = value.contains('\\');
    let mut out = String::with_capacity(value.len() + 3);
    if escape_backslash {
        out.push('E');
    }
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::test_ast::{name, qn};

    #[test]
    fn ident_is_always_quoted() {
        assert_eq!(quote_ident("users"), r#""users""#);
        assert_eq!(quote_ident("user"), r#""user""#);
        assert_eq!(quote_ident(""), r#""""#);
    }

    #[test]
    fn ident_doubles_quotes() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_ident(r#"""#), r#""""""#);
    }

    #[test]
    fn ident_keeps_unicode_and_other_characters() {
        assert_eq!(quote_ident("größe"), "\"größe\"");
        assert_eq!(quote_ident("名前"), "\"名前\"");
        assert_eq!(quote_ident("a'b c;"), "\"a'b c;\"");
    }

    #[test]
    fn ident_of_63_bytes_is_kept_whole() {
        let long = "a".repeat(63);
        assert_eq!(quote_ident(&long), format!("\"{long}\""));
        // 21 three-byte characters: 63 bytes.
        let wide = "語".repeat(21);
        assert_eq!(wide.len(), 63);
        assert_eq!(quote_ident(&wide), format!("\"{wide}\""));
    }

    #[test]
    fn qualified_names() {
        assert_eq!(render_qname(&qn("users")), r#""users""#);
        assert_eq!(render_qname(&qn("app.users")), r#""app"."users""#);
    }

    #[test]
    fn function_names() {
        assert_eq!(func_name(&qn("lower")), "lower");
        assert_eq!(func_name(&qn("pg_catalog.now")), "pg_catalog.now");
        assert_eq!(func_name(&qn("_f$1")), "_f$1");
        let odd = crate::ast::QName {
            schema: None,
            name: name("Weird Name"),
        };
        assert_eq!(func_name(&odd), r#""Weird Name""#);
        let digit = crate::ast::QName {
            schema: Some(name("1s")),
            name: name("f"),
        };
        assert_eq!(func_name(&digit), r#""1s".f"#);
    }

    #[test]
    fn literal_plain() {
        assert_eq!(quote_literal("hello"), "'hello'");
        assert_eq!(quote_literal(""), "''");
    }

    #[test]
    fn literal_doubles_single_quotes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("''"), "''''''");
    }

    #[test]
    fn literal_with_backslash_uses_escape_form() {
        assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
        assert_eq!(quote_literal(r"\'"), r"E'\\'''");
        assert_eq!(quote_literal(r"C:\dir\n"), r"E'C:\\dir\\n'");
    }

    #[test]
    fn literal_dollar_quotes_and_semicolons_need_nothing() {
        assert_eq!(
            quote_literal("$$; drop table users; $$"),
            "'$$; drop table users; $$'"
        );
        assert_eq!(quote_literal("$tag$"), "'$tag$'");
        assert_eq!(quote_literal(";"), "';'");
    }

    #[test]
    fn literal_keeps_newlines_and_unicode() {
        assert_eq!(quote_literal("a\nb\r\n\tc"), "'a\nb\r\n\tc'");
        assert_eq!(quote_literal("naïve ☕ 🐘"), "'naïve ☕ 🐘'");
        // A newline next to a backslash: still the escape form, and the newline stays raw (valid in E'').
        assert_eq!(quote_literal("\\\n"), "E'\\\\\n'");
    }
}
