//! More runners than the server has connection slots (as when every replica of a large deployment
//! runs migrations on start): refused connections (SQLSTATE 53300, "sorry, too many clients
//! already") are retried within the connect timeout, waiting runners hold no connection between two
//! polls of the migration lock, and every runner succeeds, each migration applied once. A server
//! whose slots stay taken for the whole connect timeout gets an error saying what to change.
//!
//! The server is a throwaway cluster (`localdb::Cluster`) with `max_connections = 8`, from the
//! installed PostgreSQL binaries (`pg_config --bindir`, `PATH`, `ZERODOWN_PG_BINDIR`); without them
//! the test fails saying so.

use std::time::Duration;

use sqlx::{Connection, PgConnection};
use zerodown::localdb::{Cluster, Discovery, Server};
use zerodown::{Migration, Migrator};

zerodown::migration! {
    /// A table.
    pub mod m0001_items {
        set target_postgres = 10;
        create table items (
            id bigint primary key,
            label text
        );
    }
}

zerodown::migration! {
    /// An index built concurrently: it needs the step connection as well as the control connection.
    pub mod m0002_items_label {
        set target_postgres = 10;
        create index concurrently items_label_idx on items (label);
    }
}

const MIGRATIONS: &[&Migration] = &[&m0001_items::MIGRATION, &m0002_items_label::MIGRATION];

/// Connection slots of the server (no slot reserved for superusers: the runners connect as one).
const SLOTS: usize = 8;
/// Runners started at once: twice the slots.
const RUNNERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_runners_than_connection_slots_all_succeed() {
    let bindir = Discovery::from_env().server_bindir().unwrap_or_else(|| {
        panic!(
            "this test starts a throwaway cluster and needs the PostgreSQL server binaries \
             (initdb, pg_ctl, postgres); install them (`apt-get install -y postgresql`) or set \
             ZERODOWN_PG_BINDIR"
        )
    });
    let slots = SLOTS.to_string();
    let cluster = Cluster::start_with_settings(
        &bindir,
        &[
            ("max_connections", slots.as_str()),
            ("superuser_reserved_connections", "0"),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let server = Server::from_cluster(cluster);
    let fresh = server
        .fresh_database("slots")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let options = fresh.connect_options();

    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    let max: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(max, slots, "the cluster's max_connections");
    conn.close().await.unwrap();

    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RUNNERS));
    let runners: Vec<_> = (0..RUNNERS)
        .map(|i| {
            let options = options.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let migrator = Migrator::new(MIGRATIONS)
                    .expect("a valid list")
                    .application_name(&format!("zd-slots-{i}"))
                    .lock_wait(Duration::from_secs(120));
                barrier.wait().await;
                migrator.run(&options).await
            })
        })
        .collect();
    let mut applied = 0;
    let mut failures = Vec::new();
    for (i, runner) in runners.into_iter().enumerate() {
        match runner.await.expect("a runner panicked") {
            Ok(report) => applied += report.migrations.len(),
            Err(e) => failures.push(format!("runner {i}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {RUNNERS} runners failed against max_connections = {SLOTS}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(applied, MIGRATIONS.len(), "each migration applied once");

    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    let valid: bool = sqlx::query_scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_label_idx'::regclass",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(valid, "the concurrent index is valid");
    let locks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(locks, 0, "the migration lock is free");

    // Every slot taken for longer than the connect timeout: the error says so, and what to do.
    let mut held = vec![conn];
    while held.len() < SLOTS {
        held.push(PgConnection::connect_with(&options).await.unwrap());
    }
    let started = std::time::Instant::now();
    let err = Migrator::new(MIGRATIONS)
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .run(&options)
        .await
        .expect_err("no slot was free");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "gave up after {:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, zerodown::Error::ConnectRefused { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    for needle in [
        "the server refused every connection for",
        "too many clients",
        "raise `max_connections`",
        "run fewer instances at once",
        "raise the connect timeout",
        "--connect-timeout",
    ] {
        assert!(
            text.contains(needle),
            "the message lacks {needle:?}: {text}"
        );
    }
    for conn in held {
        conn.close().await.unwrap();
    }
    fresh
        .drop_database()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
