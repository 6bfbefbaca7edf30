//! Strings and names at the edges of what PostgreSQL stores, in every place the DSL takes them: what
//! must be a compile error (a NUL character, a name or enum label over 63 bytes), spanned on the
//! offending token, and what must be accepted unchanged (63 bytes, multi-byte characters at the
//! boundary, quotes, backslashes, `$$`, comment markers). `tests/hostile.rs` runs the accepted ones
//! against a server and reads the stored values back.

use proc_macro2::TokenStream;

use super::oracle::{self, Verdict};

/// The messages of `expand::migration(src)` and the source text each error starts at.
fn errors(src: &str) -> Vec<(String, String)> {
    let input: TokenStream = src.parse().unwrap_or_else(|e| panic!("{src}: {e}"));
    let output = crate::expand::migration(input.clone());
    assert!(
        matches!(
            oracle::judge(&input, output.clone()),
            Ok(Verdict::Rejected(_) | Verdict::Accepted)
        ),
        "{src}: {:?}",
        oracle::judge(&input, output.clone()).err()
    );
    oracle::compile_errors(&output)
        .unwrap()
        .into_iter()
        .map(|e| {
            let start = e.start.start();
            let line = src.lines().nth(start.line - 1).unwrap_or("");
            let at: String = line.chars().skip(start.column).collect();
            (e.message, at)
        })
        .collect()
}

fn module(body: &str) -> String {
    format!("pub mod m0001_edges {{\n{body}\n}}")
}

/// 63 bytes: 31 two-byte characters and one ASCII letter.
fn multibyte_63() -> String {
    format!("{}x", "é".repeat(31))
}

/// 64 bytes: 32 two-byte characters.
fn multibyte_64() -> String {
    "é".repeat(32)
}

#[test]
fn nul_is_refused_in_every_string() {
    let places = [
        r#"create type mood as enum ("a\0b");"#,
        r#"alter type mood add value "a\0b";"#,
        r#"alter type mood add value "x" after "a\0b";"#,
        r#"create table t (a text default "a\0b");"#,
        r#"create table t (a text check (a <> "a\0b"));"#,
        r#"alter table t add constraint t_a check (a <> "a\0b") not valid;"#,
        r#"comment on table t is "a\0b";"#,
        r#"comment on column t.a is "a\0b";"#,
        r#"raw(reason = "a\0b") "select 1";"#,
        r#"raw(reason = "r") "select 'a\0b'";"#,
        r#"raw(reason = "r") "select 1" ; comment on table t is "\u{0}";"#,
        // Kept verbatim, so checked token by token.
        r#"create table t (a int, constraint t_ex exclude using gist (a with &&) where (a <> "a\0b"));"#,
    ];
    for place in places {
        let errors = errors(&module(place));
        let nul: Vec<_> = errors.iter().filter(|(m, _)| m.contains("NUL")).collect();
        assert_eq!(nul.len(), 1, "{place}: {errors:?}");
        assert!(
            nul[0].0.starts_with("this string contains a NUL character"),
            "{place}: {errors:?}"
        );
        assert!(
            nul[0].1.starts_with('"'),
            "{place}: the error is not on the string: {errors:?}"
        );
    }
}

#[test]
fn nul_in_the_doc_comment_is_refused() {
    // The doc comment is the migration's description, stored in the history table.
    let errors = errors("#[doc = \"a\\0b\"]\npub mod m0001_edges { create table t (a int); }");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .0
            .starts_with("this doc comment contains a NUL character"),
        "{errors:?}"
    );
    assert!(errors[0].1.starts_with("#[doc"), "{errors:?}");
}

#[test]
fn names_over_63_bytes_are_refused_wherever_they_appear() {
    let long = "a".repeat(64);
    let wide = multibyte_64();
    for name in [long.as_str(), wide.as_str()] {
        let places = [
            format!("create table {name} (a int);"),
            format!("create table t ({name} int);"),
            format!("create index concurrently {name} on t (a);"),
            format!("create type {name} as enum (\"a\");"),
            format!("alter table t add constraint {name} check (a > 0) not valid;"),
            format!("alter table t add column {name} int;"),
            format!("comment on column t.{name} is \"x\";"),
        ];
        for place in places {
            let errors = errors(&module(&place));
            let long: Vec<_> = errors
                .iter()
                .filter(|(m, _)| m.contains("[rule: identifier_too_long]"))
                .collect();
            assert_eq!(long.len(), 1, "{place}: {errors:?}");
            assert!(
                long[0].0.contains("is 64 bytes long"),
                "{place}: {errors:?}"
            );
            assert!(
                long[0].1.starts_with(name),
                "{place}: the error is not on the name: {errors:?}"
            );
        }
    }
}

#[test]
fn enum_labels_over_63_bytes_are_refused() {
    for label in ["b".repeat(64), multibyte_64()] {
        for place in [
            format!("create type mood as enum (\"{label}\");"),
            format!("alter type mood add value \"{label}\";"),
        ] {
            let errors = errors(&module(&place));
            assert_eq!(errors.len(), 1, "{place}: {errors:?}");
            assert!(
                errors[0]
                    .0
                    .contains("is 64 bytes long; PostgreSQL allows at most 63 bytes"),
                "{errors:?}"
            );
            assert!(errors[0].1.starts_with('"'), "{errors:?}");
        }
    }
}

#[test]
fn edges_that_postgres_stores_are_accepted() {
    let name = multibyte_63();
    let ascii = "a".repeat(63);
    // As raw SQL it is no statement at all, hence `allow = [raw_unparsed]`: the point is that it
    // reaches the plan intact.
    let hostile = r#""it's \"quoted\" \\ $$ $x$ ; -- /* */ \n\r\t é日本🦀""#;
    let body = format!(
        "create type {name} as enum ({hostile}, \"{name}\");
         create table {ascii} ({name} text default {hostile} check ({name} <> {hostile}), r#select int);
         create index hostile_idx on {ascii} (r#select);
         comment on table {ascii} is {hostile};
         comment on column {ascii}.{name} is {hostile};
         raw(reason = {hostile}, allow = [raw_unparsed]) {hostile};"
    );
    let errors = errors(&module(&body));
    assert_eq!(errors, Vec::<(String, String)>::new());
}

#[test]
fn empty_raw_sql_is_refused() {
    for sql in [r#""""#, r#"" ;\n ;""#] {
        let errors = errors(&module(&format!("raw(reason = \"nothing\") {sql};")));
        assert_eq!(errors.len(), 1, "{sql}: {errors:?}");
        assert!(
            errors[0].0.starts_with("this `raw` SQL is empty"),
            "{errors:?}"
        );
        assert!(errors[0].1.starts_with(sql), "{errors:?}");
    }
}
