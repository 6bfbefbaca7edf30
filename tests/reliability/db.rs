//! The database of one test, reset to the application's starting state between iterations (cheaper
//! than a new database per iteration: `DROP DATABASE` forces a checkpoint).

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};
use tokio::time::Instant;
use zerodown::localdb::FreshDatabase;

/// A fresh database from `zerodown::localdb` (set `ZERODOWN_DATABASE_PREFIX` to choose its prefix).
pub struct TestDb {
    pub fresh: FreshDatabase,
}

impl TestDb {
    /// Creates the database; panics with the discovery error (which says what to install or set) when
    /// no server is found: these tests never skip.
    pub async fn new(label: &str) -> TestDb {
        match zerodown::localdb::fresh_database(label).await {
            Ok(fresh) => {
                super::set::for_server(fresh.version());
                TestDb { fresh }
            }
            Err(e) => panic!("{e}"),
        }
    }

    pub fn options(&self) -> PgConnectOptions {
        self.fresh.connect_options()
    }

    pub fn url(&self) -> &str {
        self.fresh.url()
    }

    pub fn name(&self) -> &str {
        self.fresh.name()
    }

    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.options())
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.fresh.redacted_url()))
    }

    /// Runs SQL (one or more statements) on a new connection.
    pub async fn exec(&self, sql: &str) {
        let mut c = self.connect().await;
        c.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.close().await.ok();
    }

    /// A scalar query on a new connection.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        let mut c = self.connect().await;
        let v = sqlx::query_scalar(sql)
            .fetch_one(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.close().await.ok();
        v
    }

    /// Terminates every other session on this database (the orphans of killed runners) and waits
    /// until they are gone.
    pub async fn terminate_others(&self) {
        let mut c = self.connect().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            if left == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sessions on {} do not go away",
                self.name()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        c.close().await.ok();
    }

    /// Back to the application's starting state: no other session, an empty `public` schema, `setup`.
    pub async fn reset(&self, setup: &str) {
        self.terminate_others().await;
        self.exec(&format!(
            "DROP SCHEMA public CASCADE; CREATE SCHEMA public; {setup}"
        ))
        .await;
    }

    /// Advisory locks held in this database.
    pub async fn advisory_locks(&self) -> i64 {
        self.scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await
    }

    /// Waits (bounded) until no advisory lock is held in this database; whether that happened.
    pub async fn wait_advisory_free(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.advisory_locks().await == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The other sessions on this database and what they wait for, one line each: for a failure
    /// message that has to say why a runner got stuck.
    pub async fn sessions(&self) -> String {
        let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT a.application_name, coalesce(a.state, ''),
                    coalesce(a.wait_event_type || ':' || a.wait_event, ''), left(coalesce(a.query, ''), 160),
                    coalesce((SELECT string_agg(l.locktype || ' ' || l.mode || CASE WHEN l.granted THEN '' ELSE ' (waiting)' END, ', ')
                              FROM pg_locks l WHERE l.pid = a.pid AND l.locktype IN ('advisory', 'relation', 'transactionid')), '')
             FROM pg_stat_activity a
             WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
             ORDER BY a.backend_start",
        )
        .fetch_all(&mut self.connect().await)
        .await
        .unwrap_or_default();
        rows.iter()
            .map(|(app, state, wait, query, locks)| {
                format!("[{app}] {state} {wait} locks: {locks}; {query}")
            })
            .collect::<Vec<_>>()
            .join("\n    ")
    }
}
