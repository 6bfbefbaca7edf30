use super::*;
use crate::ast::StmtKind;

/// The type of column `c` in `create table t (c TYPE)`.
fn column_type(ty: &str) -> crate::ast::Type {
    let StmtKind::CreateTable(mut t) = stmt(&format!("create table t (c {ty})")) else {
        panic!()
    };
    t.columns.remove(0).ty
}

fn ty(src: &str) -> String {
    ty_str(&column_type(src))
}

#[test]
fn single_word_types() {
    for t in [
        "int",
        "integer",
        "bigint",
        "smallint",
        "serial",
        "bigserial",
        "text",
        "boolean",
        "uuid",
        "jsonb",
        "bytea",
        "date",
        "timestamptz",
        "interval",
    ] {
        assert_eq!(ty(t), t);
    }
    assert_eq!(ty("BIGINT"), "bigint");
    assert_eq!(ty("r#type"), "type");
}

#[test]
fn multi_word_types() {
    assert_eq!(ty("double precision"), "double precision");
    assert_eq!(ty("Character Varying(20)"), "character varying(20)");
    assert_eq!(ty("character(3)"), "character(3)");
    assert_eq!(ty("bit varying(8)"), "bit varying(8)");
    assert_eq!(ty("timestamp with time zone"), "timestamp with time zone");
    assert_eq!(
        ty("timestamp(3) without time zone"),
        "timestamp without time zone(3)"
    );
    assert_eq!(ty("timestamp"), "timestamp");
    assert_eq!(ty("time with time zone"), "time with time zone");
    assert_eq!(ty("interval(6)"), "interval(6)");
}

#[test]
fn params_arrays_and_user_types() {
    assert_eq!(ty("varchar(255)"), "varchar(255)");
    assert_eq!(ty("numeric(10, 2)"), "numeric(10,2)");
    assert_eq!(ty("text[]"), "text[]");
    assert_eq!(ty("int[][]"), "int[][]");
    assert_eq!(ty("numeric(5,1)[]"), "numeric(5,1)[]");
    assert_eq!(ty("mood"), "mood");
    assert_eq!(ty("App.Mood[]"), "app.mood[]");
    let t = column_type("app.mood");
    assert_eq!(
        (t.schema.unwrap().value.as_str(), t.words.as_slice()),
        ("app", &["mood".to_owned()][..])
    );
}

#[test]
fn type_range() {
    let t = column_type("timestamp(3) with time zone[]");
    // `create table t (c ` is 18 characters on line 2; the type is 29.
    assert_eq!(pos(t.range), ((2, 18), (2, 47)));
}

#[test]
fn type_errors() {
    let d = error("create table t (email not null)");
    assert_eq!(
        d.msg,
        "expected a type after the column name `email`, found `not`"
    );
    assert_eq!(d.start, (2, 22));
    let d = error("create table t (a)");
    assert_eq!(
        d.msg,
        "expected a type after the column name `a`, found `)`"
    );
    assert_eq!(d.start, (2, 17));
    let d = error("create table t (a int[3])");
    assert_eq!(d.msg, "array sizes are ignored by PostgreSQL; write `[]`");
    let d = error("create table t (a varchar(n))");
    assert_eq!(d.msg, "expected a number in the type modifier, found `n`");
    let d = error("create table t (a double)");
    assert_eq!(d.msg, "expected `precision` after `double`, found `)`");
    let d = error("create table t (a numeric(1 2))");
    assert_eq!(d.msg, "expected `,` or `)`, found `2`");
}
