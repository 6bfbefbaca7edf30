//! PgBouncer in front of the database (Debian's `pgbouncer`, started by the test on loopback).
//!
//! - Session pooling: the whole migration set runs and converges exactly as on a direct connection,
//!   and lock timeouts set through it really apply (a step blocked by the application is retried).
//! - Transaction and statement pooling: every entry point refuses before changing anything, with an
//!   error saying a direct or session-pooled connection is needed; with PgBouncer's LIFO and
//!   round-robin server reuse, cold and warm pools, and other clients' traffic going through the pool.
//! - A session pool with one server connection: the run fails within 5 s with an error naming the
//!   full pool (not transaction pooling).
//! - No `pgbouncer` binary: the tests fail with how to install it (they never skip).

mod reliability;
mod version_gate;

use std::time::Duration;

use reliability::db::TestDb;
use reliability::pgbouncer::{self, Entry, PgBouncer, ENTRIES};
use reliability::set;
use reliability::snapshot::{self, Snapshot};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};
use zerodown::Error;

const SESSION: Entry = ENTRIES[0];
const TRANSACTION: Entry = ENTRIES[1];
const STATEMENT: Entry = ENTRIES[2];
/// Session pooling with a single server connection.
const SESSION_ONE: Entry = Entry {
    alias: "zdrel_session_one",
    pool_mode: "session",
    pool_size: Some(1),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_pooling_runs_everything() {
    reliability::init_tracing(tracing::Level::WARN);
    let db = TestDb::new("pgbouncer_session").await;
    // The set targets PostgreSQL 12 (its `set not null` takes the CHECK route); older servers refuse it.
    if version_gate::refused_as_too_new(&db.options(), &set::migrations()).await {
        return;
    }
    let (reference, _) = snapshot::reference(&db).await;
    db.reset(&set::setup()).await;
    let bouncer = PgBouncer::start(&db.options(), db.url(), &[SESSION], false);
    let through = bouncer.options(SESSION.alias);

    // The application holds a lock the foreign key step needs for a while: the step's lock timeout,
    // set through PgBouncer, must fire and the step be retried.
    let mut app = db.connect().await;
    app.execute("BEGIN; LOCK TABLE orders IN ROW EXCLUSIVE MODE")
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        app.execute("COMMIT").await.unwrap();
        app.close().await.ok();
    });
    // Queueing for locks, so that the blocked step times out and is retried through PgBouncer.
    let migrator =
        set::migrator("zdrel-pgbouncer-session").lock_strategy(zerodown::LockStrategy::Queue);
    let report = migrator
        .run(&through)
        .await
        .unwrap_or_else(|e| panic!("run through session pooling: {e}\n{}", bouncer.log()));
    migrator
        .complete(&through)
        .await
        .unwrap_or_else(|e| panic!("complete through session pooling: {e}"));
    release.await.unwrap();

    let fk = report
        .migrations
        .iter()
        .flat_map(|m| &m.steps)
        .find(|s| s.description.contains("orders_user_fk") && !s.description.contains("validate"))
        .unwrap_or_else(|| panic!("no foreign key step in {report}"));
    assert!(
        fk.attempts >= 2,
        "the blocked step timed out and was retried through PgBouncer: {fk:?}\n{report}"
    );

    let status = migrator
        .status(&through)
        .await
        .expect("status through session pooling");
    assert!(status.is_up_to_date(), "{status:?}");
    let problems = snapshot::converged(&db, &reference).await;
    assert!(problems.is_empty(), "{problems:#?}");
    drop(bouncer);
    db.fresh.drop_database().await.ok();
}

/// A session pool with one server connection: the control connection takes it, so the session
/// check's second connection is never served. The run fails within the short wait for that
/// connection, with an error naming the pool (not transaction pooling), and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_pool_fails_fast_naming_the_pool() {
    reliability::init_tracing(tracing::Level::WARN);
    let db = TestDb::new("pgbouncer_full").await;
    let bouncer = PgBouncer::start(&db.options(), db.url(), &[SESSION_ONE], false);
    let through = bouncer.options(SESSION_ONE.alias);
    let migrator = set::migrator("zdrel-pgbouncer-full");
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(45), migrator.run(&through))
        .await
        .expect("the run neither failed nor finished within 45 s");
    let took = started.elapsed();
    let err = result.expect_err("a run needs two server connections; the pool has one");
    let text = err.to_string();
    assert!(
        matches!(err, Error::NoSecondConnection { .. }),
        "after {took:?}: {err:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "the error took {took:?}: {text}"
    );
    for needle in [
        "no second server connection within 5 s",
        "pool is full",
        "`max_connections`",
        "nothing was run",
        "raise PgBouncer's `pool_size` (or `default_pool_size`) to at least 2",
    ] {
        assert!(
            text.contains(needle),
            "the message lacks {needle:?}: {text}"
        );
    }
    assert!(!text.contains("transaction pooling"), "{text}");
    assert!(
        !db.scalar::<bool>("SELECT to_regclass('zerodown_migrations') IS NOT NULL")
            .await,
        "the history table was created"
    );
    assert_eq!(db.advisory_locks().await, 0, "an advisory lock was left");
    drop(bouncer);
    db.fresh.drop_database().await.ok();
}

/// Checks a refusal: the error and that nothing changed on the server.
async fn assert_refused(db: &TestDb, result: Result<impl std::fmt::Debug, Error>, what: &str) {
    let err = match result {
        Ok(v) => panic!("{what}: ran through a transaction-pooled connection: {v:?}"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        matches!(err, Error::SessionPooling { .. }),
        "{what}: {err:?}"
    );
    for needle in [
        "does not keep one server session",
        "transaction or statement pooling mode",
        "pool_mode = transaction",
        "nothing was run",
        "connect the migrator directly to PostgreSQL or through a session-pooled connection (PgBouncer `pool_mode = session`)",
    ] {
        assert!(text.contains(needle), "{what}: the message lacks {needle:?}: {text}");
    }
    assert!(
        !db.scalar::<bool>("SELECT to_regclass('zerodown_migrations') IS NOT NULL")
            .await,
        "{what}: the history table was created"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM effects").await,
        0,
        "{what}: a step ran"
    );
    assert_eq!(
        db.advisory_locks().await,
        0,
        "{what}: an advisory lock was left on a pooled server connection"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query ILIKE 'create%index%'")
            .await,
        0,
        "{what}: a build is running"
    );
}

/// Opens `n` connections through `options` and runs a slow query on all of them at once, so the pool
/// has that many server connections (idle afterwards).
async fn warm(options: &PgConnectOptions, n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let options = options.clone();
            tokio::spawn(async move {
                let mut c = PgConnection::connect_with(&options)
                    .await
                    .expect("connect through pgbouncer");
                c.execute("SELECT pg_sleep(0.2)").await.unwrap();
                c.close().await.ok();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Application-like traffic through the pool until dropped.
fn traffic(options: PgConnectOptions) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(
                PgConnection::connect_with(&options)
                    .await
                    .expect("connect through pgbouncer"),
            );
        }
        loop {
            for c in conns.iter_mut() {
                let _ = c.execute("SELECT count(*) FROM users").await;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_and_statement_pooling_are_refused() {
    reliability::init_tracing(tracing::Level::ERROR);
    let db = TestDb::new("pgbouncer_tx").await;
    // The set targets PostgreSQL 12 (its `set not null` takes the CHECK route); older servers refuse it.
    if version_gate::refused_as_too_new(&db.options(), &set::migrations()).await {
        return;
    }
    db.reset(&set::setup()).await;
    let migrator = set::migrator("zdrel-pgbouncer-tx");
    let mut refusals = 0;
    for round_robin in [false, true] {
        let bouncer = PgBouncer::start(
            &db.options(),
            db.url(),
            &[TRANSACTION, STATEMENT],
            round_robin,
        );
        for entry in [TRANSACTION, STATEMENT] {
            let through = bouncer.options(entry.alias);
            for (setting, busy) in [
                ("cold pool", false),
                ("warm pool", false),
                ("warm pool with traffic", true),
            ] {
                if setting != "cold pool" {
                    warm(&through, 6).await;
                }
                let load = busy.then(|| traffic(through.clone()));
                let what = |call: &str| {
                    format!(
                        "{call} through {} pooling, server_round_robin = {}, {setting}",
                        entry.pool_mode,
                        u8::from(round_robin)
                    )
                };
                // Other clients' traffic makes the observation less deterministic: try more often.
                for _ in 0..if busy { 12 } else { 3 } {
                    assert_refused(&db, migrator.run(&through).await, &what("run")).await;
                    refusals += 1;
                }
                assert_refused(&db, migrator.complete(&through).await, &what("complete")).await;
                assert_refused(&db, migrator.status(&through).await, &what("status")).await;
                assert_refused(&db, migrator.plan(&through).await, &what("plan")).await;
                refusals += 3;
                if let Some(load) = load {
                    load.abort();
                    let _ = load.await;
                }
            }
        }
    }
    println!(
        "pgbouncer: {refusals} calls through transaction or statement pooling refused, nothing run"
    );

    // The same database through session pooling works, so the refusals were about the mode.
    let bouncer = PgBouncer::start(&db.options(), db.url(), &[SESSION], false);
    let report = migrator
        .run(&bouncer.options(SESSION.alias))
        .await
        .expect("run through session pooling");
    assert_eq!(report.migrations.len(), set::migrations().len());
    let _ = Snapshot::take(&db).await;
    drop(bouncer);
    db.fresh.drop_database().await.ok();
}

#[test]
fn a_missing_pgbouncer_fails_with_how_to_install_it() {
    let err =
        pgbouncer::locate(None, &[std::env::temp_dir().join("zdrel-no-such-dir")]).unwrap_err();
    assert!(
        err.contains("not installed") && err.contains("apt-get install -y pgbouncer"),
        "{err}"
    );
    let err = pgbouncer::locate(Some("/nonexistent/pgbouncer"), &[]).unwrap_err();
    assert!(
        err.contains("ZERODOWN_PGBOUNCER") && err.contains("apt-get install -y pgbouncer"),
        "{err}"
    );
    // And on this machine it is there: the other tests of this file need it (CI installs it).
    pgbouncer::locate(
        std::env::var(pgbouncer::BINARY_VAR).ok().as_deref(),
        &pgbouncer::search_dirs(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}
