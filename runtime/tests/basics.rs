//! `run`, `status`, `plan`, `complete` and the checks made before anything runs.

mod support;

use support::db::fresh_database;
use support::plans::{cic, migration, settings, tx};
use zerodown_runtime::plan::{LockLevel, Migration, PgVersion, Settings};
use zerodown_runtime::{Error, MigrationState, Migrator, PhaseKind, StepOutcome};

#[tokio::test]
async fn run_applies_records_and_is_idempotent() {
    support::init_tracing();
    let db = fresh_database("basics_run").await;
    let m1 = migration(
        1,
        "create_accounts",
        settings(),
        vec![tx(
            "create table accounts",
            &["CREATE TABLE accounts (id bigint PRIMARY KEY, name text)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    let m2 = migration(
        2,
        "add_email",
        settings(),
        vec![
            tx(
                "add column \"email\"",
                &["ALTER TABLE accounts ADD COLUMN email text"],
                LockLevel::AccessExclusive,
                &["\"accounts\""],
            ),
            tx(
                "seed",
                &[
                    "INSERT INTO accounts VALUES (1, 'a', 'a@example.com')",
                    "INSERT INTO accounts VALUES (2, 'b', NULL)",
                ],
                LockLevel::RowExclusive,
                &["\"accounts\""],
            ),
        ],
        vec![],
    );
    let migrator = Migrator::new(&[m1, m2]).unwrap();

    let status = migrator.status(&db.options).await.unwrap();
    assert!(!status.history_exists);
    assert_eq!(status.pending().count(), 2);

    let plan = migrator.plan(&db.options).await.unwrap();
    let text = plan.to_string();
    assert_eq!(plan.steps.len(), 3, "{text}");
    assert!(
        text.contains("ALTER TABLE accounts ADD COLUMN email text;"),
        "{text}"
    );
    assert!(
        text.contains("lock ACCESS EXCLUSIVE on \"accounts\""),
        "{text}"
    );
    assert!(
        text.contains("lock_timeout 1s (first attempt 250ms); statement_timeout 30s"),
        "{text}"
    );
    // A dry run creates nothing.
    assert!(!migrator.status(&db.options).await.unwrap().history_exists);

    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(report.migrations.len(), 2, "{report}");
    assert!(report
        .migrations
        .iter()
        .flat_map(|m| &m.steps)
        .all(|s| s.outcome == StepOutcome::Ran && s.attempts == 1));
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM accounts").await, 2);

    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT version, name, state, checksum FROM zerodown_migrations ORDER BY version",
    )
    .fetch_all(&mut db.connect().await)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                1,
                "create_accounts".into(),
                "completed".into(),
                m1.checksum.to_hex()
            ),
            (
                2,
                "add_email".into(),
                "completed".into(),
                m2.checksum.to_hex()
            ),
        ]
    );
    let steps: Vec<(i64, String, i32, String, String, i32)> = sqlx::query_as(
        "SELECT version, phase, step_index, sql, state, attempts FROM zerodown_migrations_steps ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut db.connect().await)
    .await
    .unwrap();
    assert_eq!(steps.len(), 3);
    assert!(steps.iter().all(|s| s.4 == "done" && s.5 == 1), "{steps:?}");
    assert_eq!(steps[2].3, "INSERT INTO accounts VALUES (1, 'a', 'a@example.com');\nINSERT INTO accounts VALUES (2, 'b', NULL);");

    // Second run: nothing to do, nothing re-run.
    let again = migrator.run(&db.options).await.unwrap();
    assert!(again.is_empty(), "{again}");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM accounts").await, 2);
    let status = migrator.status(&db.options).await.unwrap();
    assert!(status.is_up_to_date(), "{status}");
    assert!(status
        .migrations
        .iter()
        .all(|m| m.state == MigrationState::Completed));
    assert_eq!(db.advisory_locks().await, 0);
    db.drop_database().await;
}

#[tokio::test]
async fn complete_runs_contract_phases_of_expanded_migrations() {
    support::init_tracing();
    let db = fresh_database("basics_complete").await;
    db.exec("CREATE TABLE t (id int PRIMARY KEY, old_name text, new_name text)")
        .await;
    let m1 = migration(
        1,
        "rename_column",
        settings(),
        vec![tx(
            "copy names",
            &["UPDATE t SET new_name = old_name"],
            LockLevel::RowExclusive,
            &["\"t\""],
        )],
        vec![tx(
            "drop column \"old_name\"",
            &["ALTER TABLE t DROP COLUMN old_name"],
            LockLevel::AccessExclusive,
            &["\"t\""],
        )],
    );
    let migrator = Migrator::new(&[m1]).unwrap();
    assert!(
        migrator
            .plan_complete(&db.options)
            .await
            .unwrap()
            .is_empty(),
        "nothing expanded yet"
    );
    migrator.run(&db.options).await.unwrap();
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(status.migrations[0].state, MigrationState::Expanded);
    assert!(
        status
            .to_string()
            .contains("expanded, waiting for complete"),
        "{status}"
    );
    assert_eq!(status.awaiting_complete().count(), 1);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM information_schema.columns WHERE table_name = 't'")
            .await,
        3
    );

    // `run` does not touch contract phases.
    assert!(migrator.run(&db.options).await.unwrap().is_empty());
    let plan = migrator.plan_complete(&db.options).await.unwrap();
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].phase, PhaseKind::Contract);

    let report = migrator.complete(&db.options).await.unwrap();
    assert_eq!(report.migrations.len(), 1);
    assert_eq!(report.migrations[0].phase, PhaseKind::Contract);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM information_schema.columns WHERE table_name = 't'")
            .await,
        2
    );
    assert_eq!(
        migrator.status(&db.options).await.unwrap().migrations[0].state,
        MigrationState::Completed
    );
    assert!(migrator.complete(&db.options).await.unwrap().is_empty());
    db.drop_database().await;
}

#[tokio::test]
async fn server_older_than_target_is_refused_before_anything_runs() {
    let db = fresh_database("basics_server_version").await;
    let ok = migration(
        1,
        "first",
        settings(),
        vec![tx(
            "create a",
            &["CREATE TABLE a (id int)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    let future = migration(
        2,
        "needs_pg_99",
        Settings {
            target: PgVersion(99),
            ..settings()
        },
        vec![tx(
            "create b",
            &["CREATE TABLE b (id int)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    let migrator = Migrator::new(&[ok, future]).unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::ServerTooOld { .. }), "{text}");
    let server: i32 = db
        .scalar("SELECT current_setting('server_version_num')::int / 10000")
        .await;
    let expected = format!("the server runs PostgreSQL {server} but migration 2 `needs_pg_99` targets PostgreSQL 99 or newer; nothing was run");
    assert!(text.starts_with(&expected), "{text}");
    // Not even the first migration ran.
    assert!(
        !db.scalar::<bool>("SELECT to_regclass('a') IS NOT NULL")
            .await
    );
    // A refused run creates nothing, not even the history tables.
    assert!(
        !db.scalar::<bool>("SELECT to_regclass('zerodown_migrations') IS NOT NULL")
            .await
    );
    assert!(matches!(
        migrator.plan(&db.options).await.unwrap_err(),
        Error::ServerTooOld { .. }
    ));
    assert_eq!(db.advisory_locks().await, 0);
    db.drop_database().await;
}

#[tokio::test]
async fn pending_migration_older_than_the_history_is_refused_unless_allowed() {
    let db = fresh_database("basics_out_of_order").await;
    let m1 = migration(
        1,
        "one",
        settings(),
        vec![tx(
            "create a",
            &["CREATE TABLE a (id int)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    let m2 = migration(
        2,
        "two",
        settings(),
        vec![tx(
            "create b",
            &["CREATE TABLE b (id int)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    let m3 = migration(
        3,
        "three",
        settings(),
        vec![tx(
            "create c",
            &["CREATE TABLE c (id int)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    Migrator::new(&[m1, m3])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap();

    // A binary that only knows 1 and 2 meets a history with 3: 2 was written before 3 ran.
    let late = Migrator::new(&[m1, m2]).unwrap();
    let err = late.run(&db.options).await.unwrap_err();
    assert!(matches!(err, Error::OutOfOrder { .. }), "{err}");
    assert!(
        err.to_string().contains(
            "migration 2 `two` is pending but the history already has migration 3 `three`"
        ),
        "{err}"
    );
    let status = late.status(&db.options).await.unwrap();
    assert_eq!(status.unknown.len(), 1, "{status}");
    assert!(
        status.to_string().contains("(not in this binary)"),
        "{status}"
    );

    // An older binary with nothing pending is fine (rolling deploys).
    assert!(Migrator::new(&[m1])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap()
        .is_empty());

    let report = late
        .allow_out_of_order(true)
        .run(&db.options)
        .await
        .unwrap();
    assert_eq!(report.migrations.len(), 1);
    assert!(
        db.scalar::<bool>("SELECT to_regclass('b') IS NOT NULL")
            .await
    );
    db.drop_database().await;
}

#[tokio::test]
async fn application_pool_keeps_its_settings() {
    let db = fresh_database("basics_pool").await;
    let pool = db.pool(1).await;
    let before: (String, String) = sqlx::query_as(
        "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let m1 = migration(
        1,
        "one",
        settings(),
        vec![tx(
            "create a",
            &["CREATE TABLE a (id int)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    Migrator::new(&[m1]).unwrap().run(&pool).await.unwrap();
    let after: (String, String) = sqlx::query_as(
        "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(before, after);
    // The steps ran on the migrator's own connection, not on the pool's. Its backends end a moment
    // after the connections close (the server notices asynchronously): wait for that, bounded.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let runner: String = sqlx::query_scalar(
            "SELECT coalesce(string_agg(DISTINCT application_name, ','), '') FROM pg_stat_activity WHERE datname = current_database()",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if !runner.contains("zerodown") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "migrator connections are closed after the run: {runner}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    pool.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn custom_history_table_and_schema() {
    let db = fresh_database("basics_history_table").await;
    db.exec("CREATE SCHEMA ops").await;
    let m1 = migration(
        1,
        "one",
        settings(),
        vec![tx(
            "create a",
            &["CREATE TABLE a (id int)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    let migrator = Migrator::new(&[m1])
        .unwrap()
        .history_schema("ops")
        .unwrap()
        .history_table("schema_history")
        .unwrap();
    migrator.run(&db.options).await.unwrap();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM ops.schema_history")
            .await,
        1
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM ops.schema_history_steps")
            .await,
        1
    );
    assert!(
        !db.scalar::<bool>("SELECT to_regclass('public.zerodown_migrations') IS NOT NULL")
            .await
    );
    assert!(Migrator::new(&[m1])
        .unwrap()
        .history_table(&"x".repeat(58))
        .is_err());
    db.drop_database().await;
}

#[test]
fn invalid_lists_are_refused() {
    let a = migration(
        1,
        "a",
        settings(),
        vec![tx("s", &["SELECT 1"], LockLevel::None, &[])],
        vec![],
    );
    let b = migration(
        2,
        "b",
        settings(),
        vec![tx("s", &["SELECT 1"], LockLevel::None, &[])],
        vec![],
    );
    let a_again = migration(
        1,
        "a_again",
        settings(),
        vec![tx("s", &["SELECT 1"], LockLevel::None, &[])],
        vec![],
    );

    let msg = |r: Result<Migrator, Error>| r.unwrap_err().to_string();
    assert_eq!(
        msg(Migrator::new(&[b, a])),
        "invalid migration list: migration 1 `a` is listed after migration 2 `b`; list migrations in ascending version order"
    );
    assert_eq!(
        msg(Migrator::new(&[a, a_again])),
        "invalid migration list: migrations `a` and `a_again` both have version 1; give each migration its own number"
    );

    // Edited after generation: the checksum no longer matches.
    let mut edited = *b;
    edited.name = "b_edited";
    let edited: &'static _ = Box::leak(Box::new(edited));
    assert!(msg(Migrator::new(&[a, edited])).contains("does not match its checksum"));

    let mut zero = tx("no lock limit", &["SELECT 1"], LockLevel::None, &[]);
    zero.lock_timeout_ms = 0;
    let z = migration(3, "zero", settings(), vec![zero], vec![]);
    assert!(msg(Migrator::new(&[z])).contains("has a zero timeout"));

    let mut inverted = tx("inverted", &["SELECT 1"], LockLevel::None, &[]);
    inverted.lock_timeout_ms = 40_000;
    let i = migration(4, "inverted", settings(), vec![inverted], vec![]);
    assert!(msg(Migrator::new(&[i])).contains("not shorter than statement_timeout"));

    let mut two = tx(
        "two statements alone",
        &["SELECT 1", "SELECT 2"],
        LockLevel::None,
        &[],
    );
    two.transaction = zerodown_runtime::plan::Transaction::Alone;
    let t = migration(5, "two", settings(), vec![two], vec![]);
    assert!(msg(Migrator::new(&[t])).contains("must have exactly one"));

    let s = migration(
        6,
        "no_attempts",
        Settings {
            retry_attempts: 0,
            ..settings()
        },
        vec![],
        vec![],
    );
    assert!(msg(Migrator::new(&[s])).contains("`retry_attempts` must be at least 1"));
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let m = migration(
        1,
        "a",
        settings(),
        vec![tx("s", &["SELECT 1"], LockLevel::None, &[])],
        vec![],
    );
    let migrator = Migrator::new(&[m]).unwrap();
    let options = sqlx::postgres::PgConnectOptions::new();
    assert_send(&migrator.run(&options));
    assert_send(&migrator.complete(&options));
    assert_send(&migrator.status(&options));
    assert_send(&migrator.plan(&options));
}

/// Migration 1 creates `t`; migration 2 adds a column (`ACCESS EXCLUSIVE`) and seeds a row.
fn table_t_then_two_steps() -> (&'static Migration, &'static Migration) {
    let m1 = migration(
        1,
        "create_t",
        settings(),
        vec![tx(
            "create table t",
            &["CREATE TABLE t (id int PRIMARY KEY)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    let m2 = migration(
        2,
        "two_steps",
        settings(),
        vec![
            tx(
                "add column \"c\"",
                &["ALTER TABLE t ADD COLUMN c int"],
                LockLevel::AccessExclusive,
                &["\"t\""],
            ),
            tx(
                "seed",
                &["INSERT INTO t VALUES (1, 1)"],
                LockLevel::RowExclusive,
                &["\"t\""],
            ),
        ],
        vec![],
    );
    (m1, m2)
}

#[tokio::test]
async fn on_step_reports_each_step_starting_and_settled_in_order() {
    use std::sync::{Arc, Mutex};
    use zerodown_runtime::{StepEvent, StepProgress};

    support::init_tracing();
    let db = fresh_database("basics_on_step").await;
    let (m1, m2) = table_t_then_two_steps();
    let seen: Arc<Mutex<Vec<StepProgress>>> = Arc::default();
    let record = seen.clone();
    let migrator = Migrator::new(&[m1, m2])
        .unwrap()
        .on_step(move |s| record.lock().unwrap().push(s.clone()));
    migrator.run(&db.options).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let summary: Vec<(u64, usize, usize, &str, bool)> = seen
        .iter()
        .map(|s| {
            let started = s.event == StepEvent::Started;
            (s.migration.version, s.step, s.total, s.description, started)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, 0, 1, "create table t", true),
            (1, 0, 1, "create table t", false),
            (2, 0, 2, "add column \"c\"", true),
            (2, 0, 2, "add column \"c\"", false),
            (2, 1, 2, "seed", true),
            (2, 1, 2, "seed", false),
        ]
    );
    assert!(seen.iter().all(|s| s.phase == PhaseKind::Expand));
    assert_eq!(seen[2].lock, LockLevel::AccessExclusive);
    assert_eq!(
        seen[2].to_string(),
        "step 1/2 (expand): add column \"c\" [ACCESS EXCLUSIVE]"
    );
    match seen[3].event {
        StepEvent::Settled {
            outcome, attempts, ..
        } => assert_eq!((outcome, attempts), (StepOutcome::Ran, 1)),
        other => panic!("{other:?}"),
    }
    // Nothing left to do: no events.
    let again: Arc<Mutex<usize>> = Arc::default();
    let count = again.clone();
    Migrator::new(&[m1, m2])
        .unwrap()
        .on_step(move |_| *count.lock().unwrap() += 1)
        .run(&db.options)
        .await
        .unwrap();
    assert_eq!(*again.lock().unwrap(), 0);
    db.drop_database().await;
}

#[tokio::test]
async fn a_runner_starts_while_a_reader_holds_the_history_open() {
    support::init_tracing();
    let db = fresh_database("basics_history_reader").await;
    let (m1, m2) = table_t_then_two_steps();
    Migrator::new(&[m1])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap();
    // A dashboard or a psql session left in an open transaction after reading the history.
    let mut reader = db.connect().await;
    sqlx::raw_sql("BEGIN; SELECT count(*) FROM zerodown_migrations_steps; SELECT count(*) FROM zerodown_migrations")
        .execute(&mut reader)
        .await
        .unwrap();
    let migrator = Migrator::new(&[m1, m2]).unwrap();
    let report = tokio::time::timeout(std::time::Duration::from_secs(5), migrator.run(&db.options))
        .await
        .expect("the runner queued behind the reader's transaction")
        .unwrap();
    assert_eq!(report.migrations.len(), 1, "{report}");
    sqlx::raw_sql("COMMIT").execute(&mut reader).await.unwrap();
    db.drop_database().await;
}

/// Two one-table migrations for the history tests: create `accounts` with a row (not idempotent),
/// then add a column.
fn accounts_migrations() -> (&'static Migration, &'static Migration) {
    let m1 = migration(
        1,
        "create_accounts",
        settings(),
        vec![tx(
            "create table accounts",
            &[
                "CREATE TABLE \"accounts\" (id bigint PRIMARY KEY, name text)",
                "INSERT INTO accounts VALUES (1, 'a')",
            ],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    let m2 = migration(
        2,
        "add_email",
        settings(),
        vec![tx(
            "add column \"email\"",
            &["ALTER TABLE accounts ADD COLUMN email text"],
            LockLevel::AccessExclusive,
            &["\"accounts\""],
        )],
        vec![],
    );
    (m1, m2)
}

/// The history and the lock do not follow `current_schema()`: runners whose `search_path` differs
/// share one history (in `public`) and one lock.
#[tokio::test]
async fn runners_with_different_search_paths_share_one_history_and_lock() {
    support::init_tracing();
    let db = fresh_database("basics_search_paths").await;
    db.exec("CREATE SCHEMA app").await;
    let on_app = db.options.clone().options([("search_path", "app,public")]);
    let on_public = db.options.clone().options([("search_path", "public")]);
    let (m1, _) = accounts_migrations();
    let report = Migrator::new(&[m1]).unwrap().run(&on_app).await.unwrap();
    assert_eq!(report.migrations.len(), 1, "{report}");
    // The other runner sees the same history: nothing to do.
    let again = Migrator::new(&[m1]).unwrap().run(&on_public).await.unwrap();
    assert!(again.is_empty(), "the second runner ran again: {again}");
    assert!(
        !db.scalar::<bool>("SELECT to_regclass('app.zerodown_migrations') IS NOT NULL")
            .await
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM public.zerodown_migrations")
            .await,
        1
    );
    let status = Migrator::new(&[m1]).unwrap().status(&on_app).await.unwrap();
    assert_eq!(status.history_schema, "public");
    assert!(status.is_up_to_date(), "{status}");

    // One lock: while a runner on one search path is inside a slow step, a runner on the other waits.
    let slow = migration(
        2,
        "slow",
        settings(),
        vec![tx("sleep", &["SELECT pg_sleep(3)"], LockLevel::None, &[])],
        vec![],
    );
    let first = tokio::spawn({
        let on_app = on_app.clone();
        async move { Migrator::new(&[m1, slow]).unwrap().run(&on_app).await }
    });
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.advisory_locks().await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first runner never took the lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let second = Migrator::new(&[m1, slow])
        .unwrap()
        .lock_wait(std::time::Duration::from_millis(300))
        .run(&on_public)
        .await;
    assert!(
        matches!(second, Err(Error::LockTimeout { .. })),
        "the second runner did not wait for the first one's lock: {second:?}"
    );
    let report = first.await.unwrap().unwrap();
    assert_eq!(report.migrations.len(), 1, "{report}");
    db.drop_database().await;
}

/// Without an explicit schema, a history table in another schema of the search path than the chosen
/// one is refused, naming both schemas and how to choose.
#[tokio::test]
async fn a_history_in_another_schema_of_the_search_path_is_refused() {
    let db = fresh_database("basics_history_elsewhere").await;
    db.exec("CREATE SCHEMA app").await;
    let on_app = db.options.clone().options([("search_path", "app,public")]);
    let (m1, _) = accounts_migrations();
    Migrator::new(&[m1])
        .unwrap()
        .history_schema("app")
        .unwrap()
        .run(&on_app)
        .await
        .unwrap();
    let expected = "the history table `zerodown_migrations` exists in schema `app` but this runner would use schema `public`";
    let how = "`Migrator::history_schema(\"app\")` or the command line's `--history-schema app`";
    let e = Migrator::new(&[m1])
        .unwrap()
        .run(&on_app)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains(expected) && text.contains(how), "{text}");
    let e = Migrator::new(&[m1])
        .unwrap()
        .status(&on_app)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(expected), "{e}");
    // Nothing ran, and no second history was created.
    assert!(
        !db.scalar::<bool>("SELECT to_regclass('public.zerodown_migrations') IS NOT NULL")
            .await
    );
    // Naming the schema goes on.
    let status = Migrator::new(&[m1])
        .unwrap()
        .history_schema("app")
        .unwrap()
        .status(&on_app)
        .await
        .unwrap();
    assert!(status.is_up_to_date(), "{status}");
    db.drop_database().await;
}

/// A lost history (no history table, or an empty one) on a database that already has the tables the
/// migrations create is refused before anything runs, naming `baseline`.
#[tokio::test]
async fn a_lost_history_is_refused_naming_baseline() {
    let db = fresh_database("basics_lost_history").await;
    let (m1, m2) = accounts_migrations();
    let migrator = Migrator::new(&[m1, m2]).unwrap();
    migrator.run(&db.options).await.unwrap();
    let expected = "the history is empty but the database already has table `public.accounts` (created by migration 1 `create_accounts`)";
    for lose in [
        "DROP TABLE zerodown_migrations, zerodown_migrations_steps",
        "TRUNCATE zerodown_migrations, zerodown_migrations_steps",
    ] {
        if lose.starts_with("TRUNCATE") {
            // An empty history table: made by a run of an empty list.
            Migrator::new(&[]).unwrap().run(&db.options).await.unwrap();
        }
        db.exec(lose).await;
        let e = migrator.run(&db.options).await.unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(expected)
                && text.contains("`migrate baseline <VERSION>` (`Migrator::baseline`)"),
            "{lose}: {text}"
        );
        assert_eq!(db.scalar::<i64>("SELECT count(*) FROM accounts").await, 1);
    }
    db.drop_database().await;
}

/// The look for existing tables (one query for every table the migrations create) names each one
/// found with its own migration, schema-qualified ones included, and leaves out the missing ones.
#[tokio::test]
async fn a_lost_history_names_each_existing_table_with_its_migration() {
    let db = fresh_database("basics_lost_tables").await;
    let creates = |version: u64, name: &str, sql: &'static str| {
        migration(
            version,
            name,
            settings(),
            vec![tx(name, &[sql], LockLevel::AccessExclusive, &[])],
            vec![],
        )
    };
    let m1 = creates(1, "create_missing", "CREATE TABLE missing (id int)");
    let m2 = creates(2, "create_things", "CREATE TABLE app.things (id int)");
    let m3 = creates(3, "create_more", "CREATE TABLE more (id int)");
    let m4 = creates(4, "create_other", "CREATE TABLE other.things (id int)");
    db.exec("CREATE SCHEMA app; CREATE SCHEMA other; CREATE TABLE app.things (id int); CREATE TABLE more (id int)")
        .await;
    let e = Migrator::new(&[m1, m2, m3, m4])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("the database already has table `app.things` (created by migration 2 `create_things`), table `public.more` (created by migration 3 `create_more`); the history"),
        "{e}"
    );
    db.drop_database().await;
}

/// `baseline` records the migrations the schema already has, marked so; `run` then applies only the
/// later ones.
#[tokio::test]
async fn baseline_then_run_runs_only_the_later_migrations() {
    let db = fresh_database("basics_baseline").await;
    let (m1, m2) = accounts_migrations();
    let m3 = migration(
        3,
        "add_phone",
        settings(),
        vec![tx(
            "add column \"phone\"",
            &["ALTER TABLE accounts ADD COLUMN phone text"],
            LockLevel::AccessExclusive,
            &["\"accounts\""],
        )],
        vec![],
    );
    // The schema of migrations 1 and 2, made by hand.
    db.exec("CREATE TABLE accounts (id bigint PRIMARY KEY, name text, email text); INSERT INTO accounts VALUES (1, 'a', NULL)")
        .await;
    let migrator = Migrator::new(&[m1, m2, m3]).unwrap();
    assert!(matches!(
        migrator.run(&db.options).await,
        Err(Error::HistoryLost { .. })
    ));
    let status = migrator.status(&db.options).await.unwrap();
    assert!(
        matches!(status.run_error.as_deref(), Some(Error::HistoryLost { .. })),
        "{status}"
    );
    assert!(matches!(
        migrator.baseline(&db.options, 7).await,
        Err(Error::CannotBaseline { version: 7, .. })
    ));
    let recorded = migrator.baseline(&db.options, 2).await.unwrap();
    let versions: Vec<u64> = recorded.iter().map(|id| id.version).collect();
    assert_eq!(versions, [1, 2]);
    assert!(migrator.baseline(&db.options, 2).await.unwrap().is_empty());

    let report = migrator.run(&db.options).await.unwrap();
    let ran: Vec<u64> = report.migrations.iter().map(|m| m.id.version).collect();
    assert_eq!(ran, [3], "{report}");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM accounts").await, 1);
    let rows: Vec<(i64, String, bool)> =
        sqlx::query_as("SELECT version, state, baseline FROM zerodown_migrations ORDER BY version")
            .fetch_all(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            (1, "completed".to_owned(), true),
            (2, "completed".to_owned(), true),
            (3, "completed".to_owned(), false)
        ]
    );
    let status = migrator.status(&db.options).await.unwrap();
    assert!(status.is_up_to_date(), "{status}");
    assert!(status.migrations[0].baseline && !status.migrations[2].baseline);
    assert!(
        status
            .to_string()
            .contains("(baseline: recorded, never run)"),
        "{status}"
    );
    db.drop_database().await;
}

/// A step's own `statement_timeout` bounds its statements, whatever the step connection's session
/// was left with: a concurrent index build sets 150 ms on the session (it runs outside a
/// transaction), then a migration's first step (sent with its history in one query message on
/// PostgreSQL 13 and later; before 13 the timeout a message starts with would bound it all) and a
/// later one, each a 0.4 s sleep with the steps' 30 s, succeed. A step's own 150 ms cuts its sleep.
#[tokio::test]
async fn a_step_s_statement_timeout_bounds_it_whatever_the_session_was_left_with() {
    support::init_tracing();
    let db = fresh_database("step_statement_timeout").await;
    db.exec("CREATE TABLE t (id integer)").await;
    let sleep = |description: &str| {
        tx(
            description,
            &["SELECT pg_sleep(0.4)"],
            LockLevel::AccessShare,
            &[],
        )
    };
    let mut build = cic("t_id_idx", "t", "\"id\"", false);
    (build.statement_timeout_ms, build.lock_timeout_ms) = (150, 100);
    let index = migration(1, "index", settings(), vec![build], vec![]);
    let patient = migration(
        2,
        "patient",
        settings(),
        vec![sleep("first"), sleep("second")],
        vec![],
    );
    Migrator::new(&[index, patient])
        .unwrap()
        .run(&db.options)
        .await
        .expect("the build's 150 ms must not cut the steps' own 30 s");

    for (version, first) in [(3, true), (4, false)] {
        let mut steps = vec![sleep("first"), sleep("second")];
        let hasty = if first { 0 } else { 1 };
        (
            steps[hasty].statement_timeout_ms,
            steps[hasty].lock_timeout_ms,
        ) = (150, 100);
        let m = migration(version, "hasty", settings(), steps, vec![]);
        let err = Migrator::new(&[index, patient, m])
            .unwrap()
            .run(&db.options)
            .await
            .unwrap_err();
        let Error::Step(step) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (step.sqlstate.as_deref(), step.index),
            (Some("57014"), hasty),
            "{err}"
        );
        // Only the failed migration is left to fix: drop it from the history before the next.
        db.exec(&format!(
            "DELETE FROM zerodown_migrations_steps WHERE version = {version};
             DELETE FROM zerodown_migrations WHERE version = {version}"
        ))
        .await;
    }
    db.drop_database().await;
}
