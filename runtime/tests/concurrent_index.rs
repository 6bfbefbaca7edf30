//! Concurrent index builds: INVALID leftovers are dropped and rebuilt, duplicate keys on a unique
//! build are reported as such and leave nothing behind, and a role's `statement_timeout` does not
//! kill a long build.

mod support;

use std::time::Duration;

use sqlx::Connection;
use support::db::{fresh_database, fresh_database_owned, TestDb};
use support::plans::{cic, migration, settings};
use tokio::time::Instant;
use zerodown_runtime::{Error, Migrator, StepErrorKind};

async fn invalid_indexes(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        .await
}

async fn index_valid(db: &TestDb, name: &str) -> Option<bool> {
    db.scalar(&format!(
        "SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('\"{name}\"'))"
    ))
    .await
}

#[tokio::test]
async fn invalid_leftover_is_dropped_and_rebuilt() {
    support::init_tracing();
    let db = fresh_database("cic_leftover").await;
    db.exec("CREATE TABLE u (id serial PRIMARY KEY, email text); INSERT INTO u (email) VALUES ('a'), ('b'), ('b')").await;
    // A unique concurrent build that fails on the duplicate leaves an INVALID index behind.
    let mut c = db.connect().await;
    let err = sqlx::raw_sql("CREATE UNIQUE INDEX CONCURRENTLY u_email_idx ON u (email)")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("could not create unique index"),
        "{err}"
    );
    c.close().await.unwrap();
    assert_eq!(
        index_valid(&db, "u_email_idx").await,
        Some(false),
        "leftover made"
    );
    db.exec("DELETE FROM u WHERE id = 3").await;

    let migrator = Migrator::new(&[migration(
        1,
        "email_idx",
        settings(),
        vec![cic("u_email_idx", "u", "\"email\"", true)],
        vec![],
    )])
    .unwrap();
    let plan = migrator.plan(&db.options).await.unwrap().to_string();
    assert!(
        plan.contains("before: drops a leftover INVALID index \"u_email_idx\" concurrently"),
        "{plan}"
    );
    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(
        report.migrations[0].steps[0].attempts, 1,
        "no `already exists` failure first"
    );
    assert_eq!(index_valid(&db, "u_email_idx").await, Some(true));
    assert_eq!(invalid_indexes(&db).await, 0);
    db.drop_database().await;
}

#[tokio::test]
async fn duplicate_keys_are_reported_and_leave_no_invalid_index() {
    support::init_tracing();
    let db = fresh_database("cic_duplicates").await;
    db.exec(
        "CREATE TABLE u (id serial PRIMARY KEY, email text);
         INSERT INTO u (email) VALUES ('a@example.com'), ('dup@example.com'), ('dup@example.com')",
    )
    .await;
    let migrator = Migrator::new(&[migration(
        1,
        "email_idx",
        settings(),
        vec![cic("u_email_idx", "u", "\"email\"", true)],
        vec![],
    )])
    .unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    let text = err.to_string();
    println!("{text}");
    let Error::Step(step) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(step.kind, StepErrorKind::DuplicateKeys);
    assert_eq!(step.sqlstate.as_deref(), Some("23505"));
    assert_eq!(step.attempts, 1, "not retried");
    assert!(
        text.contains("cannot build the unique index: the table has duplicate keys"),
        "{text}"
    );
    assert!(
        text.contains("Key (email)=(dup@example.com) is duplicated."),
        "{text}"
    );
    assert!(
        text.contains("the INVALID index \"u_email_idx\" the failed build left was dropped"),
        "{text}"
    );
    assert!(
        text.contains("remove or merge the duplicate rows"),
        "{text}"
    );
    assert!(!text.contains("already exists"), "{text}");
    assert_eq!(
        index_valid(&db, "u_email_idx").await,
        None,
        "no index left behind"
    );
    assert_eq!(invalid_indexes(&db).await, 0);

    // Fix the data: the next run builds it.
    db.exec("DELETE FROM u WHERE id = 3").await;
    migrator.run(&db.options).await.unwrap();
    assert_eq!(index_valid(&db, "u_email_idx").await, Some(true));
    db.drop_database().await;
}

#[tokio::test]
async fn role_statement_timeout_does_not_kill_a_long_build() {
    support::init_tracing();
    // A role whose every statement is limited to 1 s, like an application role often is.
    let role = format!("zdrt_cic_role_{}", std::process::id());
    support::db::admin_exec(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; ALTER ROLE {role} SET statement_timeout = '1s'"
    ))
    .await;
    let db = fresh_database_owned("cic_role", &role).await;
    // An expression index on a slow IMMUTABLE function: ~10 ms per row, 250 rows, at least 2.5 s.
    db.exec(&format!(
        "CREATE FUNCTION slow_identity(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
             $$ BEGIN PERFORM pg_sleep(0.01); RETURN i; END $$;
         CREATE TABLE slow (id int PRIMARY KEY);
         INSERT INTO slow SELECT generate_series(1, 250);
         ALTER TABLE slow OWNER TO {role};
         ALTER FUNCTION slow_identity(int) OWNER TO {role}"
    ))
    .await;
    let as_role = db.options.clone().username(&role);

    // The limit is real: the role cannot run a 1.5 s statement.
    let mut c = sqlx::PgConnection::connect_with(&as_role).await.unwrap();
    let err = sqlx::raw_sql("SELECT pg_sleep(1.5)")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    c.close().await.unwrap();

    let migrator = Migrator::new(&[migration(
        1,
        "slow_idx",
        settings(),
        vec![cic("slow_idx", "slow", "slow_identity(id)", false)],
        vec![],
    )])
    .unwrap();
    let start = Instant::now();
    migrator.run(&as_role).await.unwrap();
    let took = start.elapsed();
    println!(
        "slow concurrent build took {} ms under a role statement_timeout of 1 s",
        took.as_millis()
    );
    assert!(
        took > Duration::from_secs(2),
        "the build was slow enough to prove the point: {took:?}"
    );
    assert_eq!(index_valid(&db, "slow_idx").await, Some(true));
    db.drop_database().await;
    support::db::admin_exec(&format!("DROP ROLE IF EXISTS {role}")).await;
}
