//! Resume: runs stopped between steps or during one (permanent failure, dropped future, killed
//! connection, crash after a build but before it was recorded) converge on the next run.

mod support;

use std::time::Duration;

use support::db::{fresh_database, TestDb};
use support::plans::{cic, migration, settings, tx};
use zerodown_runtime::plan::LockLevel;
use zerodown_runtime::{Error, MigrationState, Migrator, StepOutcome};

async fn effects(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT note FROM effects ORDER BY id")
        .fetch_all(&mut db.connect().await)
        .await
        .unwrap()
}

async fn step_rows(db: &TestDb) -> Vec<(i32, String, i32)> {
    sqlx::query_as(
        "SELECT step_index, state, attempts FROM zerodown_migrations_steps ORDER BY step_index",
    )
    .fetch_all(&mut db.connect().await)
    .await
    .unwrap()
}

/// Polls until `sql` returns true (bounded).
async fn wait_until(db: &TestDb, sql: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while !db.scalar::<bool>(sql).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {sql}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A step's statements go to the server in one round trip; the error still names the statement that
/// failed (the second of three here), and nothing of the step is kept.
#[tokio::test]
async fn a_failing_statement_in_the_middle_of_a_step_is_named() {
    support::init_tracing();
    let db = fresh_database("resume_middle_statement").await;
    db.exec("CREATE TABLE effects (id serial PRIMARY KEY, note text)")
        .await;
    let m = migration(
        1,
        "middle",
        settings(),
        vec![tx(
            "three statements",
            &[
                "INSERT INTO effects (note) VALUES ('a')",
                "INSERT INTO effects (id, note) VALUES (1, 'duplicate')",
                "INSERT INTO effects (note) VALUES ('c')",
            ],
            LockLevel::RowExclusive,
            &["\"effects\""],
        )],
        vec![],
    );
    let err = Migrator::new(&[m])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap_err();
    let Error::Step(step) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(step.sqlstate.as_deref(), Some("23505"), "{err}");
    assert_eq!(
        step.sql,
        "INSERT INTO effects (id, note) VALUES (1, 'duplicate')"
    );
    let kept: i64 = db.scalar("SELECT count(*) FROM effects").await;
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn permanent_failure_then_fix_resumes_at_the_failed_step() {
    support::init_tracing();
    let db = fresh_database("resume_permanent").await;
    db.exec("CREATE TABLE effects (id serial PRIMARY KEY, note text)")
        .await;
    let m = migration(
        1,
        "three_steps",
        settings(),
        vec![
            tx(
                "first",
                &["INSERT INTO effects (note) VALUES ('first')"],
                LockLevel::RowExclusive,
                &["\"effects\""],
            ),
            tx(
                "needs fixme",
                &[
                    "INSERT INTO fixme VALUES (1)",
                    "INSERT INTO effects (note) VALUES ('second')",
                ],
                LockLevel::RowExclusive,
                &[],
            ),
            tx(
                "third",
                &["INSERT INTO effects (note) VALUES ('third')"],
                LockLevel::RowExclusive,
                &["\"effects\""],
            ),
        ],
        vec![],
    );
    let migrator = Migrator::new(&[m]).unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    let Error::Step(step) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (step.index, step.sqlstate.as_deref(), step.attempts),
        (1, Some("42P01"), 1),
        "{err}"
    );
    assert_eq!(step.sql, "INSERT INTO fixme VALUES (1)");
    assert!(
        err.to_string()
            .contains("fix the cause, then run again; the run resumes at this step"),
        "{err}"
    );

    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(
        status.migrations[0].state,
        MigrationState::Expanding { done: 1, total: 3 }
    );
    assert!(status.migrations[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("42P01"));
    assert_eq!(
        effects(&db).await,
        ["first"],
        "the failed step's transaction rolled back"
    );
    let plan = migrator.plan(&db.options).await.unwrap();
    assert_eq!(
        plan.steps.iter().map(|s| s.index).collect::<Vec<_>>(),
        [1, 2]
    );

    db.exec("CREATE TABLE fixme (x int)").await;
    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(
        report.migrations[0]
            .steps
            .iter()
            .map(|s| s.index)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(effects(&db).await, ["first", "second", "third"]);
    assert_eq!(
        step_rows(&db).await,
        [
            (0, "done".into(), 1),
            (1, "done".into(), 2),
            (2, "done".into(), 1)
        ]
    );
    assert!(migrator.status(&db.options).await.unwrap().migrations[0]
        .last_error
        .is_none());
    db.drop_database().await;
}

/// A new migration's first plain step records the migration's start in its own transaction (one
/// commit per step): when that step fails, the start and the failure must still be recorded, with
/// the attempts made.
#[tokio::test]
async fn a_new_migration_whose_first_step_fails_is_recorded_failed() {
    support::init_tracing();
    let db = fresh_database("resume_first_fails").await;
    db.exec("CREATE TABLE effects (id serial PRIMARY KEY, note text)")
        .await;
    let m = migration(
        1,
        "first_fails",
        settings(),
        vec![
            tx(
                "needs fixme",
                &[
                    "INSERT INTO effects (note) VALUES ('first')",
                    "INSERT INTO fixme VALUES (1)",
                ],
                LockLevel::RowExclusive,
                &[],
            ),
            tx(
                "second",
                &["INSERT INTO effects (note) VALUES ('second')"],
                LockLevel::RowExclusive,
                &["\"effects\""],
            ),
        ],
        vec![],
    );
    let migrator = Migrator::new(&[m]).unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    assert!(matches!(&err, Error::Step(s) if s.index == 0), "{err:?}");

    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(
        status.migrations[0].state,
        MigrationState::Expanding { done: 0, total: 2 }
    );
    assert!(status.migrations[0]
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("42P01")));
    assert_eq!(
        step_rows(&db).await,
        [(0, "failed".into(), 1), (1, "pending".into(), 0)]
    );
    assert!(effects(&db).await.is_empty());

    db.exec("CREATE TABLE fixme (x int)").await;
    migrator.run(&db.options).await.unwrap();
    assert_eq!(effects(&db).await, ["first", "second"]);
    assert_eq!(
        step_rows(&db).await,
        [(0, "done".into(), 2), (1, "done".into(), 1)]
    );
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(status.migrations[0].state, MigrationState::Completed);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_run_releases_the_lock_and_converges() {
    support::init_tracing();
    let db = fresh_database("resume_dropped").await;
    db.exec("CREATE TABLE effects (id serial PRIMARY KEY, note text)")
        .await;
    let m = migration(
        1,
        "slow_middle",
        settings(),
        vec![
            tx(
                "first",
                &["INSERT INTO effects (note) VALUES ('first')"],
                LockLevel::RowExclusive,
                &["\"effects\""],
            ),
            tx(
                "slow",
                &[
                    "INSERT INTO effects (note) VALUES ('slow')",
                    "SELECT pg_sleep(5) /* zdrt slow step */",
                ],
                LockLevel::RowExclusive,
                &["\"effects\""],
            ),
            tx(
                "last",
                &["INSERT INTO effects (note) VALUES ('last')"],
                LockLevel::RowExclusive,
                &["\"effects\""],
            ),
        ],
        vec![],
    );
    let migrator = Migrator::new(&[m]).unwrap();
    let run = {
        let migrator = migrator.clone();
        let options = db.options.clone();
        tokio::spawn(async move { migrator.run(&options).await })
    };
    wait_until(
        &db,
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%zdrt slow step%' AND state = 'active' AND pid <> pg_backend_pid()",
        Duration::from_secs(10),
    )
    .await;
    let during = migrator.status(&db.options).await.unwrap();
    let runner = during
        .runner
        .as_deref()
        .expect("status sees the runner holding the lock");
    assert!(runner.contains("application `zerodown`"), "{runner}");
    assert!(
        during.to_string().contains("a run is in progress"),
        "{during}"
    );
    // The process running the migration goes away mid-step (deploy cancelled, pod killed, ...).
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());

    assert!(
        db.wait_advisory_free(Duration::from_secs(3)).await,
        "the migration lock is freed with its connection"
    );
    // From PostgreSQL 14 on, the server cancels the orphaned statement soon
    // (`client_connection_check_interval`) instead of finishing it 5 s later; before 14 it runs to its
    // end and then rolls back, as nobody is left to commit it.
    let server: i32 = db
        .scalar("SELECT current_setting('server_version_num')::int / 10000")
        .await;
    wait_until(
        &db,
        "SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE '%zdrt slow step%' AND pid <> pg_backend_pid()",
        Duration::from_secs(if server >= 14 { 4 } else { 8 }),
    )
    .await;
    assert_eq!(
        effects(&db).await,
        ["first"],
        "the interrupted step rolled back"
    );
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(
        status.migrations[0].state,
        MigrationState::Expanding { done: 1, total: 3 }
    );
    assert_eq!(status.runner, None);

    migrator.run(&db.options).await.unwrap();
    assert_eq!(
        effects(&db).await,
        ["first", "slow", "last"],
        "every step exactly once"
    );
    db.drop_database().await;
}

async fn slow_table(db: &TestDb, rows: u32) {
    db.exec(&format!(
        "CREATE FUNCTION slow_identity(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
             $$ BEGIN PERFORM pg_sleep(0.01); RETURN i; END $$;
         CREATE TABLE slow (id int PRIMARY KEY);
         INSERT INTO slow SELECT generate_series(1, {rows})"
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_concurrent_build_is_cleaned_up_and_rebuilt() {
    support::init_tracing();
    let db = fresh_database("resume_killed_build").await;
    slow_table(&db, 300).await;
    let migrator = Migrator::new(&[migration(
        1,
        "slow_idx",
        settings(),
        vec![cic("slow_idx", "slow", "slow_identity(id)", false)],
        vec![],
    )])
    .unwrap();
    let run = {
        let migrator = migrator.clone();
        let options = db.options.clone();
        tokio::spawn(async move { migrator.run(&options).await })
    };
    let find = "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'zerodown' AND state = 'active' AND query LIKE 'CREATE INDEX CONCURRENTLY%'";
    wait_until(&db, find, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed: bool = db
        .scalar(
            "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = 'zerodown' AND query LIKE 'CREATE INDEX CONCURRENTLY%'",
        )
        .await;
    assert!(killed);
    let err = run.await.unwrap().unwrap_err();
    println!("{err}");
    let Error::Step(step) = &err else {
        panic!("{err:?}")
    };
    assert!(
        step.sqlstate.is_none() || step.sqlstate.as_deref() == Some("57P01"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the connection was lost or terminated mid-step; run again"),
        "{err}"
    );
    assert!(db.wait_advisory_free(Duration::from_secs(3)).await);
    let leftover: Option<bool> = db
        .scalar(
            "SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('slow_idx'))",
        )
        .await;
    assert_eq!(
        leftover,
        Some(false),
        "the killed build left an INVALID index"
    );

    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(report.migrations[0].steps[0].outcome, StepOutcome::Ran);
    let valid: Option<bool> = db
        .scalar(
            "SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('slow_idx'))",
        )
        .await;
    assert_eq!(valid, Some(true));
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
            .await,
        0
    );
    db.drop_database().await;
}

#[tokio::test]
async fn build_finished_but_not_recorded_is_found_done() {
    support::init_tracing();
    let db = fresh_database("resume_unrecorded").await;
    db.exec("CREATE TABLE u (id serial PRIMARY KEY, email text)")
        .await;
    let migrator = Migrator::new(&[migration(
        1,
        "email_idx",
        settings(),
        vec![cic("u_email_idx", "u", "\"email\"", false)],
        vec![],
    )])
    .unwrap();
    migrator.run(&db.options).await.unwrap();
    // As if the process died after the build returned and before "done" was written.
    db.exec(
        "UPDATE zerodown_migrations SET state = 'expanding';
         UPDATE zerodown_migrations_steps SET state = 'running'",
    )
    .await;
    let relfilenode: i64 = db
        .scalar("SELECT relfilenode::bigint FROM pg_class WHERE relname = 'u_email_idx'")
        .await;
    let plan = migrator.plan(&db.options).await.unwrap().to_string();
    assert!(
        plan.contains("started by an interrupted run: its postcondition is checked first"),
        "{plan}"
    );

    let report = migrator.run(&db.options).await.unwrap();
    let step = &report.migrations[0].steps[0];
    assert_eq!((step.outcome, step.attempts), (StepOutcome::AlreadyDone, 0));
    assert_eq!(
        db.scalar::<i64>("SELECT relfilenode::bigint FROM pg_class WHERE relname = 'u_email_idx'")
            .await,
        relfilenode,
        "not rebuilt"
    );
    assert_eq!(
        migrator.status(&db.options).await.unwrap().migrations[0].state,
        MigrationState::Completed
    );
    db.drop_database().await;
}

/// A migration's first step, with its history rows, goes to the server in one query message (see
/// `execute::attempt`). A runner that lost the migration lock may be inside that same step,
/// holding the rows it inserted: the new runner waits for it, then sees the step done (it committed)
/// and applies nothing, or applies the step itself (it rolled back). Never twice, never lost.
#[tokio::test]
async fn a_first_step_another_runner_commits_late_is_applied_once() {
    support::init_tracing();
    for late_commits in [true, false] {
        let db = fresh_database(if late_commits {
            "resume_late_first_commit"
        } else {
            "resume_late_first_rollback"
        })
        .await;
        db.exec("CREATE TABLE effects (id serial PRIMARY KEY, note text)")
            .await;
        let one = migration(
            1,
            "first",
            settings(),
            vec![tx(
                "note one",
                &["INSERT INTO effects (note) VALUES ('one')"],
                LockLevel::RowExclusive,
                &["\"effects\""],
            )],
            vec![],
        );
        let two = migration(
            2,
            "second",
            settings(),
            vec![tx(
                "note two",
                &["INSERT INTO effects (note) VALUES ('two')"],
                LockLevel::RowExclusive,
                &["\"effects\""],
            )],
            vec![],
        );
        Migrator::new(&[one])
            .unwrap()
            .run(&db.options)
            .await
            .unwrap();

        // The late runner's transaction, as its first step writes it: the history rows, the
        // statement, the step done; not committed yet.
        let mut late = db.connect().await;
        let transaction = format!(
            "BEGIN;
             INSERT INTO zerodown_migrations (version, name, description, checksum, state, zerodown_version)
             SELECT 2, 'second', '{}', '{}', 'completed', zerodown_version FROM zerodown_migrations WHERE version = 1;
             INSERT INTO zerodown_migrations_steps (version, phase, step_index, description, sql, lock_level, state)
             VALUES (2, 'expand', 0, 'note two', 'INSERT INTO effects (note) VALUES (''two'')', 'ROW EXCLUSIVE', 'done');
             INSERT INTO effects (note) VALUES ('two');",
            two.description,
            two.checksum.to_hex()
        );
        sqlx::raw_sql(&transaction)
            .execute(&mut late)
            .await
            .unwrap();

        let options = db.options.clone();
        let run =
            tokio::spawn(async move { Migrator::new(&[one, two]).unwrap().run(&options).await });
        wait_until(
            &db,
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%zerodown_migrations%')",
            Duration::from_secs(10),
        )
        .await;
        let end = if late_commits { "COMMIT" } else { "ROLLBACK" };
        sqlx::raw_sql(end).execute(&mut late).await.unwrap();

        let report = run.await.unwrap().unwrap();
        let step = &report.migrations[0].steps[0];
        let expected = if late_commits {
            StepOutcome::AlreadyDone
        } else {
            StepOutcome::Ran
        };
        assert_eq!(step.outcome, expected, "{end}: {report}");
        assert_eq!(effects(&db).await, ["one", "two"], "{end}");
        let recorded: (String, String) = sqlx::query_as(
            "SELECT m.state, s.state FROM zerodown_migrations m JOIN zerodown_migrations_steps s USING (version) WHERE version = 2",
        )
        .fetch_one(&mut db.connect().await)
        .await
        .unwrap();
        assert_eq!(recorded, ("completed".into(), "done".into()), "{end}");
        db.drop_database().await;
    }
}

/// A transactional step's recorded duration includes its statements' own time (it used to hold
/// only the time before the attempt, since the history update travels with the statements): the
/// first step (sent with its history rows in one message) and a later one.
#[tokio::test]
async fn a_transactional_step_s_recorded_duration_includes_its_statements() {
    support::init_tracing();
    let db = fresh_database("resume_step_duration").await;
    let m = migration(
        1,
        "slow",
        settings(),
        vec![
            tx(
                "first",
                &["SELECT pg_sleep(0.3)"],
                LockLevel::AccessShare,
                &[],
            ),
            tx(
                "second",
                &["SELECT pg_sleep(0.3)"],
                LockLevel::AccessShare,
                &[],
            ),
        ],
        vec![],
    );
    Migrator::new(&[m]).unwrap().run(&db.options).await.unwrap();
    let steps: Vec<i64> =
        sqlx::query_scalar("SELECT duration_ms FROM zerodown_migrations_steps ORDER BY step_index")
            .fetch_all(&mut db.connect().await)
            .await
            .unwrap();
    let total: i64 = db
        .scalar("SELECT duration_ms FROM zerodown_migrations WHERE version = 1")
        .await;
    assert!(
        steps.len() == 2 && steps.iter().all(|&ms| ms >= 300),
        "{steps:?}"
    );
    assert!(total >= 600, "{total}");
    db.drop_database().await;
}
