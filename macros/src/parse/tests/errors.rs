//! Error recovery, spans, identifier length and string checks.

use super::*;
use proc_macro2::TokenStream;

use crate::ast::{Item, StmtKind};

#[test]
fn two_bad_statements_give_two_errors_and_good_ones_still_parse() {
    let (input, diags) = parse_body(
        "create index foo users (email);\n\
         drop table a;\n\
         frobnicate the table;\n\
         create index concurrently i on t (a);",
    );
    let msgs: Vec<&str> = diags.iter().map(|d| d.msg.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "expected `on` after the index name, found `users`",
            "unknown statement `frobnicate`; expected one of `create table`, `create index`, `create unique index`, \
             `create type`, `alter table`, `alter type`, `alter index`, `drop table`, `drop index`, `comment on`, \
             `backfill`, `expand`, `analyze`, `refresh materialized view`, `raw` or `unsafe`",
        ]
    );
    assert_eq!(diags[0].start, (2, 17));
    assert_eq!(diags[1].start, (4, 0));
    assert_eq!(input.body.len(), 2);
}

#[test]
fn errors_inside_groups_skip_to_the_statement_end() {
    let (input, diags) = parse_body("create table t (a int, b);\ndrop table t2;");
    assert_eq!(diags.len(), 1);
    assert_eq!(
        diags[0].msg,
        "expected a type after the column name `b`, found `)`"
    );
    assert_eq!(input.body.len(), 1);
}

#[test]
fn missing_semicolon_between_statements() {
    let (input, diags) = parse_body("drop table a\ndrop table b;\ndrop table c");
    assert_eq!(diags.len(), 1);
    assert_eq!(
        diags[0].msg,
        "expected `;` after the statement, found `drop`"
    );
    assert_eq!((diags[0].start, diags[0].end), ((3, 0), (3, 4)));
    // Parsing resumed at the statement that followed.
    assert_eq!(input.body.len(), 3);

    let (input, diags) = parse_body("create index concurrently i on t (a) wher x; drop table b;");
    assert_eq!(diags.len(), 1);
    assert_eq!(
        diags[0].msg,
        "expected `;` after the statement, found `wher`"
    );
    assert_eq!(input.body.len(), 2);
}

#[test]
fn unexpected_end_points_at_the_last_token() {
    let d = error("drop table a;\ncreate index i on");
    assert_eq!(
        d.msg,
        "expected the table name after `on`, found end of input"
    );
    assert_eq!((d.start, d.end), ((3, 15), (3, 17)));
    let d = error("create");
    assert_eq!(
        d.msg,
        "expected `table`, `index`, `unique index`, `type` or `statistics` after `create`, found end of input"
    );
    assert_eq!(d.start, (2, 0));
}

#[test]
fn unknown_statement_forms() {
    assert_eq!(
        error("create view v as select 1;").msg,
        "`create view` is not a statement of the DSL; write it as raw SQL with the reason it is safe: `raw(reason = \"..\") \"create view ..\"`"
    );
    assert_eq!(
        error("create unique table t ();").msg,
        "expected `index` after `create unique`, found `table`"
    );
    assert_eq!(
        error("drop view v;").msg,
        "expected `table`, `index`, `schema` or `database` after `drop`, found `view`"
    );
    assert_eq!(
        error("alter view v rename to w;").msg,
        "expected `table`, `index` or `type` after `alter`, found `view`"
    );
    assert_eq!(
        error("alter index i set tablespace t;").msg,
        "expected `rename` after the index name (the DSL's `alter index` renames), found `set`"
    );
    assert_eq!(
        error("refresh view v;").msg,
        "expected `materialized` after `refresh`, found `view`"
    );
    assert!(error("\"create table\";")
        .msg
        .starts_with("expected a statement (`create table`"));
    assert_eq!(
        error("create type t as range (subtype = int);").msg,
        "expected `enum` after `as` (only enum types are supported), found `range`"
    );
    assert_eq!(
        error("alter type t rename value \"a\" to \"b\";").msg,
        "expected `add` after `alter type t` (only `add value` is supported), found `rename`"
    );
}

#[test]
fn identifier_length_limits_count_bytes() {
    let ok = "a".repeat(63);
    assert_eq!(
        stmts(&format!("create index concurrently {ok} on t (a)")).len(),
        1
    );

    let long = "a".repeat(64);
    let d = error(&format!("create index concurrently {long} on t (a)"));
    assert_eq!(
        d.msg,
        format!(
            "identifier `{long}` is 64 bytes long; PostgreSQL truncates identifiers to 63 bytes, so rename it \
             [rule: identifier_too_long]"
        )
    );
    assert_eq!((d.start, d.end), ((2, 26), (2, 90)));

    // `é` is two bytes: 31 of them and one ASCII letter make 63 bytes in 32 characters.
    let ok = format!("{}x", "é".repeat(31));
    assert_eq!(ok.len(), 63);
    assert_eq!(stmts(&format!("drop table {ok}")).len(), 1);
    let long = "é".repeat(32);
    assert_eq!(long.chars().count(), 32);
    let d = error(&format!("drop table {long}"));
    assert!(d.msg.contains("is 64 bytes long"), "{}", d.msg);

    // Every kind of name is checked, and the parse goes on.
    let (input, diags) = parse_body(&format!(
        "create table t ({long} int, b int references {long}, constraint {long} check (b > 0));\n\
         alter table t add column c int default {long}.x;"
    ));
    assert_eq!(diags.len(), 4, "{diags:#?}");
    assert_eq!(input.body.len(), 2);
}

#[test]
fn upper_case_names_fold_before_length() {
    let StmtKind::DropTable { tables, .. } = stmt("drop table ÄBC") else {
        panic!()
    };
    // PostgreSQL folds only ASCII letters.
    assert_eq!(tables[0].name.value, "Äbc");
}

#[test]
fn strings_with_nul_are_rejected() {
    let d = error(r#"comment on table t is "a\0b";"#);
    assert_eq!(
        d.msg,
        "this string contains a NUL character and PostgreSQL text cannot contain NUL; remove it"
    );
    assert_eq!(d.start, (2, 22));
    let d = error(r#"alter table t add column a text default "x\u{0}";"#);
    assert!(d.msg.contains("NUL"));
    let d = error(r#"create type m as enum ("a", "\x00");"#);
    assert!(d.msg.contains("NUL"));
}

#[test]
fn statement_range_excludes_the_semicolon() {
    let all = stmts("drop table a ;\n  create index concurrently i on t (a) where b > 1;");
    assert_eq!(pos(all[0].range), ((2, 0), (2, 12)));
    assert_eq!(pos(all[1].range), ((3, 2), (3, 50)));
}

#[test]
fn messages_name_expected_and_found() {
    let d = error("create index concurrently i t (a);");
    assert_eq!(d.msg, "expected `on` after the index name, found `t`");
    let d = error("create index i on t;");
    assert_eq!(
        d.msg,
        "expected `(` with the index keys after `on t`, found `;`"
    );
    let d = error("create index i on t (a nulls middle);");
    assert_eq!(
        d.msg,
        "expected `first` or `last` after `nulls`, found `middle`"
    );
    let d = error("create table t (a int references u (x) on delete explode);");
    assert_eq!(
        d.msg,
        "expected `no action`, `restrict`, `cascade`, `set null` or `set default` after `on delete`, found `explode`"
    );
    let d = error("create table t (a int references u (x, y));");
    assert!(
        d.msg
            .starts_with("a column's `references` names one column"),
        "{}",
        d.msg
    );
    let d = error("create table t (a int references u on delete cascade on delete restrict);");
    assert_eq!(d.msg, "duplicate `on delete`; write it once");
    let d = error("create table t (a int constraint c);");
    assert!(
        d.msg
            .starts_with("expected a constraint after `constraint c`"),
        "{}",
        d.msg
    );
    let d = error("create table t (a int nul);");
    assert_eq!(
        d.msg,
        "expected a column constraint, `,` or `)`, found `nul`"
    );
    let d = error("create table t (a int generated always as identity stored);");
    assert_eq!(
        d.msg,
        "expected a column constraint, `,` or `)`, found `stored`"
    );
    let d = error("create table t (a int generated always as (1));");
    assert_eq!(
        d.msg,
        "expected `stored` or `virtual` after the generation expression, found `)`"
    );
    let d = error("create table t (a int default);");
    assert_eq!(d.msg, "expected an expression after `default`, found `)`");
    let d = error("create table t (a int default primary key);");
    assert_eq!(d.msg, "expected an expression, found the keyword `primary`; a column named `primary` is written `r#primary`");
    let d = error("comment on table t \"x\";");
    assert_eq!(
        d.msg,
        "expected `is` before the comment text, found `\"x\"`"
    );
    let d = error("lock table t in mode;");
    assert_eq!(d.msg, "expected a lock mode after `in`, found `mode`");
    let d = error("create index i on t (a) where a::;");
    assert_eq!(d.msg, "expected a type after `::`, found `;`");
}

#[test]
fn a_bad_unsafe_header_skips_only_its_block() {
    let (input, diags) = parse_body(
        "unsafe(reason = 1) { drop table a; drop table b; }\ncreate index concurrently i on t (a);",
    );
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(
        diags[0].msg,
        "expected the reason as a string after `reason =`, found `1`"
    );
    assert_eq!(diags[0].start, (2, 16));
    assert_eq!(input.body.len(), 1);
}

#[test]
fn double_equals_gets_a_hint() {
    let d = error("create index concurrently i on t (a) where a == 1;");
    assert_eq!(
        d.msg,
        "comparison is a single `=` in SQL; write `=` instead of `==`"
    );
    assert_eq!(d.start, (2, 46));
}

#[test]
fn enum_labels_longer_than_63_bytes() {
    let ok = "x".repeat(63);
    assert_eq!(stmts(&format!("create type m as enum (\"{ok}\")")).len(), 1);
    let long = "é".repeat(32);
    let d = error(&format!("alter type m add value \"{long}\""));
    assert_eq!(
        d.msg,
        format!("enum label `{long}` is 64 bytes long; PostgreSQL allows at most 63 bytes, so shorten it")
    );
    assert_eq!(d.start, (2, 23));
}

#[test]
fn invisible_groups_from_macro_rules_are_transparent() {
    use proc_macro2::{Delimiter, Group, TokenTree};
    // `drop table ⟦a⟧` as `macro_rules!` would pass `$t:ident` / `$e:expr`.
    let inner: TokenStream = "a".parse().unwrap();
    let mut body: TokenStream = "drop table".parse().unwrap();
    body.extend([TokenTree::Group(Group::new(Delimiter::None, inner))]);
    let src: TokenStream = "pub mod m0001_x".parse().unwrap();
    let mut all = src;
    all.extend([TokenTree::Group(Group::new(Delimiter::Brace, body))]);
    let cx = Ctxt::new();
    let input = crate::parse::parse_migration(&cx, all).unwrap();
    assert!(diags(cx).is_empty());
    let Item::Stmt(s) = &input.body[0] else {
        panic!()
    };
    let StmtKind::DropTable { tables, .. } = &s.kind else {
        panic!()
    };
    assert_eq!(tables[0].name.value, "a");
}
