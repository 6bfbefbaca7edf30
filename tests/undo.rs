//! Rolling back a migration without `expand` operations that stopped part-way, against a real
//! PostgreSQL: a failed `set not null` leaves its `NOT VALID` helper check, which the rollback drops
//! (NULL writes work again, a later migration runs); a committed raw step makes the rollback refuse
//! before it runs anything; a runner killed during the rollback leaves it to the next, which goes
//! on where it stopped.

mod phased_support;
mod version_gate;

use std::time::Duration;

use phased_support::{fresh_database, init_tracing, Db};
use zerodown::{Error, Migration, MigrationState, Migrator, PhaseKind};

zerodown::migration! {
    /// Users must have an email. Fails at the validation when some have none.
    pub mod m0001_users_email_not_null {
        alter table users alter column email set not null;
    }
}

zerodown::migration! {
    /// A score for every user: the backfill updates every row, the ones without email too.
    pub mod m0002_users_score {
        alter table users add column score int;
        backfill users set score = 0;
    }
}

const USERS: &str = "
    CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
    INSERT INTO users SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'u' || g || '@example.com' END, 'user ' || g
    FROM generate_series(1, 2000) g;";

/// Constraints on `users` other than its primary key and `NOT NULL` (which PostgreSQL 18 lists).
async fn checks(db: &Db) -> Vec<String> {
    let mut c = db.connect().await;
    sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype NOT IN ('p', 'n') ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

async fn insert_null_email(db: &Db, id: i64) -> Result<(), String> {
    let mut c = db.connect().await;
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, NULL)")
        .bind(id)
        .execute(&mut c)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn rollback_of_an_interrupted_set_not_null_removes_its_helper_check() {
    init_tracing();
    let m1: &'static Migration = &m0001_users_email_not_null::MIGRATION;
    let m2: &'static Migration = &m0002_users_score::MIGRATION;
    let db = fresh_database("undo_not_null").await;
    if version_gate::refused_as_too_new(&db.options, &[m1]).await {
        return;
    }
    db.exec(USERS).await;

    let migrator = Migrator::new(&[m1]).unwrap();
    let Error::Step(failed) = migrator.run(&db.options).await.unwrap_err() else {
        panic!("the validation fails");
    };
    assert_eq!(
        (failed.index, failed.sqlstate.as_deref()),
        (1, Some("23514")),
        "{failed}"
    );
    let text = failed.to_string();
    let helper = m1.undo.live_after(1).next().expect("the helper is live");
    assert!(
        text.contains(&format!(
            "until migration 1 `users_email_not_null` finishes or is rolled back, {helper}"
        )),
        "{text}"
    );
    assert!(text.contains("run `migrate rollback 1`"), "{text}");
    assert!(
        helper.contains("inserts and updates writing NULL into \"email\" fail"),
        "{helper}"
    );
    // The helper check is live: the application's NULL writes fail, and so does a later backfill.
    assert_eq!(checks(&db).await.len(), 1);
    let refused = insert_null_email(&db, 100_001).await.unwrap_err();
    assert!(refused.contains("violates check constraint"), "{refused}");
    // Any update of a row without email fails too (what a later backfill of `users` does).
    let touch = "UPDATE users SET name = name || '.' WHERE id = 10";
    let refused = db.exec_err(touch).await;
    assert!(refused.contains("violates check constraint"), "{refused}");
    // And `run` never gets past it to a later migration: it resumes the failing validation.
    let both = Migrator::new(&[m1, m2]).unwrap();
    let Error::Step(again) = both.run(&db.options).await.unwrap_err() else {
        panic!("the validation fails again");
    };
    assert_eq!(again.migration.version, 1, "{again}");

    let report = migrator.rollback(&db.options, 1).await.unwrap();
    assert_eq!(report.phase, PhaseKind::Rollback);
    assert_eq!(report.steps.len(), 1, "{report:?}");
    assert!(
        report.steps[0].description.starts_with("drop constraint"),
        "{report:?}"
    );
    assert_eq!(checks(&db).await, Vec::<String>::new());
    insert_null_email(&db, 100_002).await.unwrap();
    db.exec(touch).await;
    let state: String = db
        .scalar("SELECT state FROM zerodown_migrations WHERE version = 1")
        .await;
    assert_eq!(state, "rolled_back");
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(
        status.migrations[0].state,
        MigrationState::Pending,
        "{status}"
    );

    // The later migration runs (its backfill writes rows without email), and, finished, cannot be
    // rolled back.
    let later = Migrator::new(&[m2]).unwrap();
    later.run(&db.options).await.unwrap();
    let scored: i64 = db
        .scalar("SELECT count(*) FROM users WHERE score = 0")
        .await;
    assert_eq!(scored, 2001);
    let Error::CannotRollback { reason, .. } = later.rollback(&db.options, 2).await.unwrap_err()
    else {
        panic!("a finished migration is not rolled back");
    };
    assert!(reason.contains("it finished"), "{reason}");

    // With the NULLs fixed, the rolled-back migration runs afresh from its first step.
    db.exec("UPDATE users SET email = 'none' WHERE email IS NULL")
        .await;
    // (After migration 2, it is out of order: the list says so.)
    let both = both.allow_out_of_order(true);
    both.run(&db.options).await.unwrap();
    let not_null: bool = db
        .scalar("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email'")
        .await;
    assert!(not_null);
    assert_eq!(checks(&db).await, Vec::<String>::new());
}

zerodown::migration! {
    /// An index, a raw data fix, then `set not null`, which fails.
    pub mod m0001_users_with_raw {
        create index concurrently users_name_idx on users (name);
        raw(reason = "lowercase names", lock = row_exclusive) "UPDATE users SET name = lower(name)";
        alter table users alter column email set not null;
    }
}

#[tokio::test]
async fn rollback_refuses_when_a_committed_step_is_raw() {
    init_tracing();
    let m: &'static Migration = &m0001_users_with_raw::MIGRATION;
    let db = fresh_database("undo_raw").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(USERS).await;
    let migrator = Migrator::new(&[m]).unwrap();
    let Error::Step(failed) = migrator.run(&db.options).await.unwrap_err() else {
        panic!("the validation fails");
    };
    assert_eq!(failed.index, 3, "{failed}");
    let text = failed.to_string();
    assert!(
        text.contains("`migrate rollback 1` cannot undo step 2 (`raw sql: lowercase names`"),
        "{text}"
    );

    let Error::CannotRollback { reason, .. } = migrator.rollback(&db.options, 1).await.unwrap_err()
    else {
        panic!("refused");
    };
    assert!(
        reason.starts_with(
            "it committed steps that cannot be undone: step 2 of 5 (`raw sql: lowercase names`): raw SQL"
        ),
        "{reason}"
    );
    assert!(reason.contains("nothing was undone"), "{reason}");
    // Nothing ran: the index and the helper check are there, the migration still `expanding`.
    let index: bool = db
        .scalar("SELECT to_regclass('users_name_idx') IS NOT NULL")
        .await;
    assert!(index);
    assert_eq!(checks(&db).await.len(), 1);
    let state: String = db
        .scalar("SELECT state FROM zerodown_migrations WHERE version = 1")
        .await;
    assert_eq!(state, "expanding");
}

zerodown::migration! {
    /// An index on `orders`, then `set not null` on `users`, which fails: two things to undo.
    pub mod m0001_orders_index_users_not_null {
        create index concurrently orders_note_idx on orders (note);
        alter table users alter column email set not null;
    }
}

const CHILD_URL: &str = "ZDUNDO_CHILD_URL";

/// Started by [`a_rollback_killed_part_way_resumes_where_it_stopped`]: rolls back migration 1.
#[tokio::test]
#[ignore = "run by a_rollback_killed_part_way_resumes_where_it_stopped in a child process"]
async fn undo_child() {
    let url = std::env::var(CHILD_URL).expect("started by the crash test");
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let migrator = Migrator::new(&[&m0001_orders_index_users_not_null::MIGRATION]).unwrap();
    let result = migrator.rollback(&options, 1).await;
    println!("CHILD DONE {result:?}");
}

#[tokio::test]
async fn a_rollback_killed_part_way_resumes_where_it_stopped() {
    init_tracing();
    let m: &'static Migration = &m0001_orders_index_users_not_null::MIGRATION;
    let db = fresh_database("undo_crash").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(USERS).await;
    db.exec("CREATE TABLE orders (id bigint PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'n' FROM generate_series(1, 1000) g")
        .await;
    let migrator = Migrator::new(&[m]).unwrap();
    migrator.run(&db.options).await.unwrap_err();
    assert_eq!(checks(&db).await.len(), 1);

    // An open transaction that read `orders` makes the concurrent drop of its index wait: the child
    // is killed while it waits, after it dropped the helper check on `users`.
    let mut reader = db.connect().await;
    sqlx::Executor::execute(&mut reader, "BEGIN; SELECT count(*) FROM orders")
        .await
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = tokio::process::Command::new(exe)
        .args([
            "undo_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_URL, db.inner.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'DROP INDEX CONCURRENTLY%' AND state = 'active'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if db.scalar::<i64>(waiting).await > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the child never reached the index drop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("CHILD DONE"),
        "killed before it finished"
    );
    sqlx::Executor::execute(&mut reader, "COMMIT")
        .await
        .unwrap();

    // The killed rollback dropped the helper check and recorded it; the migration is rolling back.
    assert_eq!(checks(&db).await, Vec::<String>::new());
    let state: String = db
        .scalar("SELECT state FROM zerodown_migrations WHERE version = 1")
        .await;
    assert_eq!(state, "rolling_back");
    let status = migrator.status(&db.options).await.unwrap();
    assert!(
        matches!(
            status.migrations[0].state,
            MigrationState::RollingBack { done: 1, total: 2 }
        ),
        "{status}"
    );
    // `run` refuses while a rollback is under way.
    assert!(matches!(
        migrator.run(&db.options).await.unwrap_err(),
        Error::RollingBack { .. }
    ));

    let report = migrator.rollback(&db.options, 1).await.unwrap();
    assert_eq!(
        report.steps.len(),
        1,
        "only the index drop is left: {report:?}"
    );
    let index: bool = db
        .scalar("SELECT to_regclass('orders_note_idx') IS NOT NULL")
        .await;
    assert!(!index);
    let attempts: Vec<(i32, String, i32)> = sqlx::query_as(
        "SELECT step_index, state, attempts FROM zerodown_migrations_steps WHERE version = 1 AND phase = 'rollback' ORDER BY 1",
    )
    .fetch_all(&mut db.connect().await)
    .await
    .unwrap();
    // The undo of the `set not null` (never reached) is not run; the check's drop ran once, before
    // the kill; the index drop, killed, ran again.
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert_eq!(attempts[0], (0, "pending".to_owned(), 0), "{attempts:?}");
    assert_eq!(attempts[1], (1, "done".to_owned(), 1), "{attempts:?}");
    assert_eq!(
        (attempts[2].0, attempts[2].1.as_str()),
        (2, "done"),
        "{attempts:?}"
    );
    let state: String = db
        .scalar("SELECT state FROM zerodown_migrations WHERE version = 1")
        .await;
    assert_eq!(state, "rolled_back");
}

zerodown::migration! {
    /// A table, a column with a volatile default, a unique constraint, then `set not null`, which
    /// fails: every kind of inverse in one rollback.
    pub mod m0001_users_many {
        create table events (id bigint primary key, user_id bigint references users (id));
        alter table users add column token float8 default random();
        alter table users add constraint users_name_key unique (name);
        alter table users alter column email set not null;
    }
}

#[tokio::test]
async fn rollback_restores_the_catalog_and_keeps_rows_it_did_not_write() {
    init_tracing();
    let m: &'static Migration = &m0001_users_many::MIGRATION;
    let db = fresh_database("undo_many").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(USERS).await;
    let before = db.catalog().await;
    let migrator = Migrator::new(&[m]).unwrap();
    let Error::Step(failed) = migrator.run(&db.options).await.unwrap_err() else {
        panic!("the validation fails");
    };
    let text = failed.to_string();
    // Named by the macro (`naming::not_null_check`): read from the catalog.
    let helper: String = db
        .scalar("SELECT conname::text FROM pg_constraint WHERE conrelid = 'users'::regclass AND contype = 'c'")
        .await;
    for live in [
        "the column \"token\" of \"users\" stays".to_owned(),
        "the unique index \"users_name_key\" on \"users\" stays: inserts and updates duplicating its key fail".to_owned(),
        format!("the check constraint \"{helper}\" (NOT VALID) on \"users\" stays"),
    ] {
        assert!(text.contains(&live), "{live}: {text}");
    }
    // The new version wrote a row into the new table: the rollback keeps it, stopping there.
    db.exec("INSERT INTO events VALUES (1, 1)").await;
    let Error::Step(stuck) = migrator.rollback(&db.options, 1).await.unwrap_err() else {
        panic!("the table's drop refuses");
    };
    assert_eq!(stuck.sqlstate.as_deref(), Some("ZD001"), "{stuck}");
    assert!(
        stuck
            .message
            .contains("table \"events\" holds rows written since the migration created it"),
        "{stuck}"
    );
    assert!(
        stuck.to_string().ends_with(
            "fix the cause, then run `migrate rollback 1` again; the rollback resumes at this step"
        ),
        "{stuck}"
    );
    let rows: i64 = db.scalar("SELECT count(*) FROM events").await;
    assert_eq!(rows, 1);
    let token: bool = db
        .scalar("SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'token' AND NOT attisdropped)")
        .await;
    // The column was added in the table's step (one transaction), so its drop rolled back with it.
    assert!(token, "undone together with the table");
    let unique: bool = db
        .scalar("SELECT to_regclass('users_name_key') IS NOT NULL")
        .await;
    assert!(!unique, "the later steps were undone before");

    db.exec("DELETE FROM events").await;
    let report = migrator.rollback(&db.options, 1).await.unwrap();
    assert_eq!(
        report.steps.len(),
        1,
        "only the table's drop was left: {report:?}"
    );
    assert_eq!(db.catalog().await, before);
    let state: String = db
        .scalar("SELECT state FROM zerodown_migrations WHERE version = 1")
        .await;
    assert_eq!(state, "rolled_back");
}

zerodown::migration! {
    /// An expand/contract migration whose rollback phase is empty: nothing changes before `complete`.
    pub mod m0001_drop_sessions {
        expand drop table sessions;
    }
}

/// The undo is for migrations without a contract phase; an expand/contract migration keeps its own
/// rollback, even an empty one.
#[tokio::test]
async fn an_expand_with_an_empty_rollback_phase_still_rolls_back() {
    let m: &'static Migration = &m0001_drop_sessions::MIGRATION;
    assert!(m.rollback.steps.is_empty() && m.has_contract());
    let db = fresh_database("undo_expand_drop").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec("CREATE TABLE sessions (id int PRIMARY KEY)").await;
    let migrator = Migrator::new(&[m]).unwrap();
    migrator.run(&db.options).await.unwrap();
    let report = migrator.rollback(&db.options, 1).await.unwrap();
    assert!(report.steps.is_empty(), "{report:?}");
    let state: String = db
        .scalar("SELECT state FROM zerodown_migrations WHERE version = 1")
        .await;
    assert_eq!(state, "rolled_back");
    let exists: bool = db
        .scalar("SELECT to_regclass('sessions') IS NOT NULL")
        .await;
    assert!(exists);
}

/// A user constraint holding the name the macro chose for the helper check: the run is refused before
/// any step of the migration ran, naming the constraint and the rename that clears the way; after it,
/// the run succeeds.
#[tokio::test]
async fn a_user_constraint_holding_the_helper_name_is_refused_before_anything_runs() {
    init_tracing();
    let m1: &'static Migration = &m0001_users_email_not_null::MIGRATION;
    let db = fresh_database("undo_name_taken").await;
    if version_gate::refused_as_too_new(&db.options, &[m1]).await {
        return;
    }
    db.exec(USERS).await;
    db.exec("UPDATE users SET email = 'x' || id WHERE email IS NULL")
        .await;
    let helper = m1.chosen_names[0].name;
    assert_eq!(helper, "_zd_email_nn");
    db.exec(&format!(
        "ALTER TABLE users ADD CONSTRAINT \"{helper}\" CHECK (length(name) < 100)"
    ))
    .await;
    let migrator = Migrator::new(&[m1]).unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    let Error::Step(step) = &err else {
        panic!("expected a step refusal, got {err}")
    };
    assert_eq!(step.index, m1.chosen_names[0].step, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("already has a constraint of that name (`CHECK ((length(name) < 100))`)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ALTER TABLE \"users\" RENAME CONSTRAINT \"{helper}\" TO <another name>"
        )),
        "{text}"
    );
    // Nothing ran: the user's constraint is the only check, the column still nullable, every step
    // of the migration pending but the refused one.
    assert_eq!(checks(&db).await, [helper.to_owned()]);
    let nullable: String = db
        .scalar("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email'")
        .await;
    assert_eq!(nullable, "YES");
    let done: i64 = db
        .scalar("SELECT count(*) FROM zerodown_migrations_steps WHERE state = 'done'")
        .await;
    assert_eq!(done, 0);

    db.exec(&format!(
        "ALTER TABLE users RENAME CONSTRAINT \"{helper}\" TO users_name_short"
    ))
    .await;
    migrator.run(&db.options).await.unwrap();
    assert_eq!(checks(&db).await, ["users_name_short"]);
}

/// A migration recorded under the checksum an earlier zerodown gave it (helper checks named
/// `<table>_<column>_not_null`) is not drift once finished; while it is under way it is, since its
/// remaining steps would use the new names.
#[tokio::test]
async fn a_finished_migration_recorded_under_its_legacy_checksum_is_not_drift() {
    init_tracing();
    let m1: &'static Migration = &m0001_users_email_not_null::MIGRATION;
    assert_eq!(m1.legacy_checksums.len(), 1);
    let legacy = m1.legacy_checksums[0].to_hex();
    let db = fresh_database("undo_legacy_checksum").await;
    if version_gate::refused_as_too_new(&db.options, &[m1]).await {
        return;
    }
    db.exec(USERS).await;
    db.exec("UPDATE users SET email = 'x' || id WHERE email IS NULL")
        .await;
    let migrator = Migrator::new(&[m1]).unwrap();
    migrator.run(&db.options).await.unwrap();
    db.exec(&format!(
        "UPDATE zerodown_migrations SET checksum = '{legacy}' WHERE version = 1"
    ))
    .await;
    let report = migrator.run(&db.options).await.unwrap();
    assert!(report.is_empty(), "{report:?}");

    // The same row under way: drift.
    db.exec("UPDATE zerodown_migrations SET state = 'expanding' WHERE version = 1")
        .await;
    let err = migrator.run(&db.options).await.unwrap_err();
    assert!(matches!(err, Error::Drift(_)), "{err}");
    // Any other checksum is drift, finished or not.
    db.exec("UPDATE zerodown_migrations SET state = 'completed', checksum = repeat('0', 64) WHERE version = 1")
        .await;
    let err = migrator.run(&db.options).await.unwrap_err();
    assert!(matches!(err, Error::Drift(_)), "{err}");
}
