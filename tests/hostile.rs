//! Hostile strings and names, round-tripped through `migration!` and `Migrator::run` into a real
//! server: what is stored (enum labels, defaults, check constraints, comments, identifiers, the
//! description and raw reasons in the history) equals exactly what was written, and nothing else ran
//! (a canary table keeps its rows, and no object exists but the expected ones).
//!
//! The refusals (NUL anywhere, names and labels over 63 bytes) are compile errors, tested in the
//! macros crate (`fuzz::edges`).

mod common;

use sqlx::{Connection, PgConnection};
use zerodown::{Migration, Migrator};

// The literals below are written twice, once in the DSL and once here; a typo in either fails the test.

/// Quotes of both kinds, backslashes, dollar quotes, statement and comment markers, line breaks,
/// multi-byte characters.
const HOSTILE: &str = "it's \"quoted\" back\\slash \\' $$ $x$ ; -- not /* a */ comment\nnew line\r\n\ttab é日本🦀 E'x' U&'y'";
/// What the check constraint forbids: an injection attempt, verbatim.
const FORBIDDEN: &str = "'); DROP TABLE canary; --";
const DEFAULT_SELECT: &str = "x'; DELETE FROM canary; --";
const NEW_DEFAULT: &str = "new 'default' $$ \\ \\\\ $body$";
const ADDED_DEFAULT: &str = "$$; TRUNCATE canary; $$";
/// 63 bytes: 31 two-byte characters and one ASCII letter (a label and an identifier at the limit).
const WIDE_63: &str = "éééééééééééééééééééééééééééééééx";
const ASCII_63: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const LABELS: &[&str] = &[
    "it's",
    "say \"hi\"",
    "back\\slash",
    "$$",
    "$tag$",
    "semi;colon",
    "--dash",
    "/*c*/",
    "line\nbreak",
    "tab\there",
    "é日本🦀",
    WIDE_63,
];
const ADDED_LABEL: &str = "add'ed \"value\" $$ \\";
const DOC: &str = "Hostile doc: it's \"quoted\", back\\slash, $$dollar$$; -- not /* a */ comment";
const REASON: &str = "reason with 'quotes'; -- and $$ and \\ and \"doubles\"";
const COMMENT_TABLE: &str =
    "comment with 'quotes' and \"doubles\" and \\ and $$ and ; -- /* */\nsecond line";
const COMMENT_COLUMN: &str = "';COMMENT ON TABLE canary IS 'pwned";
const COMMENT_TYPE: &str = "$$ type comment $$";
const COMMENT_INDEX: &str = "index \\ comment";
const COMMENT_CONSTRAINT: &str = "constraint */ comment /*";

zerodown::migration! {
    #[doc = "Hostile doc: it's \"quoted\", back\\slash, $$dollar$$; -- not /* a */ comment"]
    pub mod m0001_hostile {
        set target_postgres = 10;
        create type hostile_mood as enum (
            "it's", "say \"hi\"", "back\\slash", "$$", "$tag$", "semi;colon", "--dash", "/*c*/",
            "line\nbreak", "tab\there", "é日本🦀", "éééééééééééééééééééééééééééééééx"
        );
        create table hostile_täble (
            id bigint primary key,
            r#select text default "x'; DELETE FROM canary; --",
            quote text default "it's \"quoted\" back\\slash \\' $$ $x$ ; -- not /* a */ comment\nnew line\r\n\ttab é日本🦀 E'x' U&'y'",
            éééééééééééééééééééééééééééééééx text,
            aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa int,
            Mixed_Case int,
            mood hostile_mood default "it's",
            constraint hostile_forbidden check (r#select <> "'); DROP TABLE canary; --" and quote <> "$$")
        );
        create index índice_日本 on hostile_täble (éééééééééééééééééééééééééééééééx);
        comment on table hostile_täble is "comment with 'quotes' and \"doubles\" and \\ and $$ and ; -- /* */\nsecond line";
        comment on column hostile_täble.r#select is "';COMMENT ON TABLE canary IS 'pwned";
        comment on type hostile_mood is "$$ type comment $$";
        comment on index índice_日本 is "index \\ comment";
        comment on constraint hostile_forbidden on hostile_täble is "constraint */ comment /*";
        raw(reason = "reason with 'quotes'; -- and $$ and \\ and \"doubles\"", lock = row_exclusive)
            "INSERT INTO hostile_täble (id) VALUES (1)";
    }
}

zerodown::migration! {
    /// The online forms on existing tables, with hostile strings (on every server from 10 on).
    pub mod m0002_hostile_online {
        set target_postgres = 10;
        alter table existing add column tag text;
        alter table existing alter column tag set default "$$; TRUNCATE canary; $$";
        alter table hostile_täble alter column quote set default "new 'default' $$ \\ \\\\ $body$";
        alter type hostile_mood add value "add'ed \"value\" $$ \\" after "it's";
        alter table existing add constraint existing_tag_check check (tag <> "'); DROP TABLE canary; --") not valid;
        alter table existing validate constraint existing_tag_check;
    }
}

static ALL: &[&Migration] = &[&m0001_hostile::MIGRATION, &m0002_hostile_online::MIGRATION];

async fn texts(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn text(conn: &mut PgConnection, sql: &str, bind: &str) -> Option<String> {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Inserting a row whose `column` is `value` fails with a check violation.
async fn rejected(conn: &mut PgConnection, table: &str, column: &str, value: &str) -> bool {
    static NEXT_ID: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1000);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sql = format!("INSERT INTO \"{table}\" (id, \"{column}\") VALUES ($1, $2)");
    match sqlx::query(&sql)
        .bind(id)
        .bind(value)
        .execute(&mut *conn)
        .await
    {
        Ok(_) => false,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23514") => true,
        Err(e) => panic!("{sql}: {e}"),
    }
}

#[tokio::test]
async fn hostile_strings_and_names_are_stored_exactly_and_nothing_else_runs() {
    let db = common::fresh_database("hostile").await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE canary (id int PRIMARY KEY, note text);
         INSERT INTO canary VALUES (1, 'untouched'), (2, 'still here');
         CREATE TABLE existing (id bigint PRIMARY KEY);
         INSERT INTO existing SELECT generate_series(1, 100)",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let report = Migrator::new(ALL)
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap();
    assert_eq!(report.migrations.len(), 2);

    // Enum labels, in order (the added one after "it's").
    let labels = texts(&mut conn, "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = 'hostile_mood'::regtype ORDER BY enumsortorder").await;
    let mut expected: Vec<&str> = LABELS.to_vec();
    expected.insert(1, ADDED_LABEL);
    assert_eq!(labels, expected);
    assert_eq!(WIDE_63.len(), 63);

    // Identifiers: folded ASCII, kept unicode, keywords, 63 bytes.
    let table = "hostile_täble";
    let columns = texts(
        &mut conn,
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'hostile_täble' ORDER BY ordinal_position",
    )
    .await;
    assert_eq!(
        columns,
        [
            "id",
            "select",
            "quote",
            WIDE_63,
            ASCII_63,
            "mixed_case",
            "mood"
        ]
    );
    assert_eq!(ASCII_63.len(), 63);
    let indexes = texts(
        &mut conn,
        "SELECT relname::text FROM pg_class WHERE relkind = 'i' AND relname LIKE '%日本' ",
    )
    .await;
    assert_eq!(indexes, ["índice_日本"]);

    // Defaults, evaluated: a row with every default.
    sqlx::query("INSERT INTO hostile_täble (id) VALUES (2)")
        .execute(&mut conn)
        .await
        .unwrap();
    let row: (Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT \"select\", quote, mood::text FROM hostile_täble WHERE id = 2")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        row,
        (
            Some(DEFAULT_SELECT.into()),
            Some(NEW_DEFAULT.into()),
            Some("it's".into())
        )
    );
    // The row the raw statement inserted got the defaults of the time.
    let row: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT \"select\", quote FROM hostile_täble WHERE id = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(row, (Some(DEFAULT_SELECT.into()), Some(HOSTILE.into())));
    sqlx::query("INSERT INTO existing (id) VALUES (101)")
        .execute(&mut conn)
        .await
        .unwrap();
    let tags = texts(&mut conn, "SELECT tag FROM existing WHERE id = 101").await;
    assert_eq!(tags, [ADDED_DEFAULT]);
    // And as the catalog keeps them: `pg_get_expr` deparses to a literal equal to the value.
    for (column, value) in [("select", DEFAULT_SELECT), ("quote", NEW_DEFAULT)] {
        let stored = text(
            &mut conn,
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
             WHERE d.adrelid = 'hostile_täble'::regclass AND a.attname = $1",
            column,
        )
        .await
        .unwrap();
        let evaluated: String = sqlx::query_scalar(&format!("SELECT {stored}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(evaluated, value, "default of {column}: {stored}");
    }

    // Check constraints compare against exactly the written string: it is refused, a near miss is not.
    assert!(rejected(&mut conn, table, "select", FORBIDDEN).await);
    assert!(!rejected(&mut conn, table, "select", &format!("{FORBIDDEN} ")).await);
    assert!(rejected(&mut conn, table, "quote", "$$").await);
    assert!(!rejected(&mut conn, table, "quote", "$").await);
    let existing_check = sqlx::query("UPDATE existing SET tag = $1 WHERE id = 1")
        .bind(FORBIDDEN)
        .execute(&mut conn)
        .await;
    assert!(
        matches!(&existing_check, Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23514")),
        "{existing_check:?}"
    );

    // Comments.
    let t = "hostile_täble";
    assert_eq!(
        text(
            &mut conn,
            "SELECT obj_description(oid, 'pg_class') FROM pg_class WHERE relname = $1",
            t
        )
        .await
        .as_deref(),
        Some(COMMENT_TABLE)
    );
    assert_eq!(
        text(&mut conn, "SELECT col_description('hostile_täble'::regclass, attnum) FROM pg_attribute WHERE attrelid = 'hostile_täble'::regclass AND attname = $1", "select").await.as_deref(),
        Some(COMMENT_COLUMN)
    );
    assert_eq!(
        text(
            &mut conn,
            "SELECT obj_description(oid, 'pg_type') FROM pg_type WHERE typname = $1",
            "hostile_mood"
        )
        .await
        .as_deref(),
        Some(COMMENT_TYPE)
    );
    assert_eq!(
        text(
            &mut conn,
            "SELECT obj_description(oid, 'pg_class') FROM pg_class WHERE relname = $1",
            "índice_日本"
        )
        .await
        .as_deref(),
        Some(COMMENT_INDEX)
    );
    assert_eq!(
        text(
            &mut conn,
            "SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint WHERE conname = $1",
            "hostile_forbidden"
        )
        .await
        .as_deref(),
        Some(COMMENT_CONSTRAINT)
    );

    // The history keeps the description and the raw reason as written.
    assert_eq!(
        text(
            &mut conn,
            "SELECT description FROM zerodown_migrations WHERE name = $1",
            "hostile"
        )
        .await
        .as_deref(),
        Some(DOC)
    );
    // The raw statement shares a step with the statements before it; descriptions join with "; ".
    let steps = texts(
        &mut conn,
        "SELECT description FROM zerodown_migrations_steps WHERE version = 1 ORDER BY step_index",
    )
    .await;
    let raw = format!("raw sql: {REASON}");
    assert!(
        steps
            .iter()
            .any(|d| d == &raw || d.ends_with(&format!("; {raw}"))),
        "{steps:?}"
    );

    // Nothing else ran: the canary is intact, `canary` has no comment, and the schema holds exactly
    // the objects the migrations describe.
    let canary: Vec<(i32, String)> = sqlx::query_as("SELECT id, note FROM canary ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        canary,
        [(1, "untouched".to_owned()), (2, "still here".to_owned())]
    );
    assert_eq!(
        text(
            &mut conn,
            "SELECT obj_description(oid, 'pg_class') FROM pg_class WHERE relname = $1",
            "canary"
        )
        .await,
        None
    );
    let relations = texts(
        &mut conn,
        "SELECT relname::text COLLATE \"C\" AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname NOT LIKE 'zerodown\\_migrations%' ORDER BY n",
    )
    .await;
    assert_eq!(
        relations,
        [
            "canary",
            "canary_pkey",
            "existing",
            "existing_pkey",
            "hostile_täble",
            "hostile_täble_pkey",
            "índice_日本"
        ]
    );
    let enums = texts(
        &mut conn,
        "SELECT typname::text FROM pg_type WHERE typtype = 'e' ORDER BY 1",
    )
    .await;
    assert_eq!(enums, ["hostile_mood"]);
    let constraints = texts(
        &mut conn,
        // PostgreSQL 18 also lists NOT NULL constraints (`n`); they are not what this is about.
        "SELECT conname::text COLLATE \"C\" AS n FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype <> 'n'
         AND conrelid::regclass::text NOT LIKE 'zerodown\\_migrations%' ORDER BY n",
    )
    .await;
    assert_eq!(
        constraints,
        [
            "canary_pkey",
            "existing_pkey",
            "existing_tag_check",
            "hostile_forbidden",
            "hostile_täble_pkey"
        ]
    );
    let functions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(functions, 0);
    let schemas = texts(&mut conn, "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1").await;
    assert_eq!(schemas, ["public"]);
    conn.close().await.unwrap();
}
