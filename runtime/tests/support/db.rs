//! A fresh database per test, from `zerodown_runtime::localdb` (the same discovery users get:
//! `DATABASE_URL`, else the local server, else a throwaway cluster; a clear failure otherwise), with
//! this suite's own database prefix `zdrt_`.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use zerodown_runtime::localdb::{self, FreshDatabase, Server};

/// A database created for one test; dropped with the last clone (or by [`TestDb::drop_database`]).
#[derive(Debug, Clone)]
pub struct TestDb {
    pub name: String,
    pub options: PgConnectOptions,
    fresh: Option<Arc<FreshDatabase>>,
}

static SERVER: tokio::sync::OnceCell<Server> = tokio::sync::OnceCell::const_new();

/// The server the tests use, with database names prefixed `zdrt_`.
pub async fn server() -> &'static Server {
    SERVER
        .get_or_init(|| async {
            let found = localdb::server().await.unwrap_or_else(|e| panic!("{e}"));
            Server::connect(found.url())
                .await
                .and_then(|s| {
                    // The suite's own prefix, unless the environment chooses one for every suite.
                    let prefix = std::env::var("ZERODOWN_DATABASE_PREFIX")
                        .unwrap_or_else(|_| "zdrt_".to_owned());
                    s.with_database_prefix(&prefix)
                })
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .await
}

/// A fresh, empty database.
pub async fn fresh_database(label: &str) -> TestDb {
    let fresh = server()
        .await
        .fresh_database(label)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    TestDb {
        name: fresh.name().to_owned(),
        options: fresh.connect_options(),
        fresh: Some(Arc::new(fresh)),
    }
}

/// A fresh database owned by `owner` (who then may create tables in its `public` schema).
pub async fn fresh_database_owned(label: &str, owner: &str) -> TestDb {
    let db = fresh_database(label).await;
    let mut admin = PgConnection::connect_with(&server().await.admin_options())
        .await
        .unwrap();
    admin
        .execute(format!("ALTER DATABASE \"{}\" OWNER TO \"{owner}\"", db.name).as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    db
}

/// A handle on a database another process created (never dropped from here).
pub async fn existing_database(name: &str) -> TestDb {
    TestDb {
        name: name.to_owned(),
        options: server().await.admin_options().database(name),
        fresh: None,
    }
}

/// Runs SQL on the server's maintenance database (roles, ...).
pub async fn admin_exec(sql: &str) {
    let mut admin = PgConnection::connect_with(&server().await.admin_options())
        .await
        .unwrap();
    sqlx::raw_sql(sql)
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    admin.close().await.unwrap();
}

impl TestDb {
    /// A new connection as `postgres`.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.options).await.unwrap()
    }

    /// A new connection with `application_name` set.
    pub async fn connect_as(&self, application_name: &str) -> PgConnection {
        PgConnection::connect_with(&self.options.clone().application_name(application_name))
            .await
            .unwrap()
    }

    /// A small pool.
    pub async fn pool(&self, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(self.options.clone())
            .await
            .unwrap()
    }

    /// Runs SQL (one or more statements).
    pub async fn exec(&self, sql: &str) {
        let mut c = self.connect().await;
        sqlx::raw_sql(sql)
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.close().await.unwrap();
    }

    /// A scalar query.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        let mut c = self.connect().await;
        let v = sqlx::query_scalar(sql)
            .fetch_one(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.close().await.unwrap();
        v
    }

    /// Advisory locks held in this database (the migration lock must be free after every run).
    pub async fn advisory_locks(&self) -> i64 {
        self.scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await
    }

    /// Waits (bounded) until no advisory lock is held, and returns whether that happened.
    pub async fn wait_advisory_free(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.advisory_locks().await == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Drops the database now (the last clone also drops it when dropped).
    pub async fn drop_database(self) {
        if let Some(fresh) = self.fresh.and_then(|f| Arc::try_unwrap(f).ok()) {
            fresh
                .drop_database()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
