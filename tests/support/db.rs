//! The database of one integration test, shared by every test-support module (`common`,
//! `phased_support`, `backfill_support`): a fresh database from `zerodown::localdb` (the discovery
//! users and the examples get), or one named by URL (in a child process), with the small query
//! helpers the tests use. Each test crate includes it once, through one of those modules.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};
use zerodown::localdb::{Discovery, FreshDatabase, Server};
use zerodown::PgVersion;

/// Logs of the runtime go to the test output (visible with `--nocapture`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_test_writer()
        .with_target(false)
        .try_init();
}

static SERVER: tokio::sync::OnceCell<Server> = tokio::sync::OnceCell::const_new();

/// A database for one test: created by [`fresh_database`] (and dropped with the last clone), or one
/// named by URL ([`existing_database`]).
#[derive(Debug, Clone)]
pub struct Db {
    /// Where it came from: its URL, name, server version.
    pub inner: Database,
    /// Options to connect, statement logging off.
    pub options: PgConnectOptions,
    /// The URL, for a child process; it may contain a password, so never print it.
    pub url: String,
}

/// A test's database as `zerodown::localdb` describes it.
#[derive(Debug, Clone)]
pub struct Database {
    fresh: Option<Arc<FreshDatabase>>,
    options: PgConnectOptions,
    url: String,
}

impl Database {
    /// Options to connect to it.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// Its URL (may contain a password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its URL without a password, for messages.
    pub fn redacted_url(&self) -> String {
        match &self.fresh {
            Some(db) => db.redacted_url().to_string(),
            None => "<a database named by URL>".to_owned(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match &self.fresh {
            Some(db) => db.name(),
            None => self.options.get_database().unwrap_or_default(),
        }
    }

    /// The server's major version (only for a database this process created).
    pub fn version(&self) -> PgVersion {
        self.fresh
            .as_ref()
            .expect("the version of a database named by URL is not known")
            .version()
    }
}

/// A fresh, empty database on the server `zerodown::localdb` finds (named with the prefix
/// `ZERODOWN_DATABASE_PREFIX` sets). Panics with the discovery error (which says what to install or
/// set) when there is none: these tests never skip.
pub async fn fresh_database(label: &str) -> Db {
    let server = SERVER
        .get_or_try_init(|| async { Discovery::from_env().discover().await })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fresh = server
        .fresh_database(label)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let options = fresh.connect_options().disable_statement_logging();
    let url = fresh.url().to_owned();
    Db {
        inner: Database {
            options: options.clone(),
            url: url.clone(),
            fresh: Some(Arc::new(fresh)),
        },
        options,
        url,
    }
}

/// The database at `url`, created by another process.
pub fn existing_database(url: &str) -> Db {
    let options: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    Db {
        inner: Database {
            fresh: None,
            options: options.clone(),
            url: url.to_owned(),
        },
        options,
        url: url.to_owned(),
    }
}

impl Db {
    /// A new connection.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.options)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.inner.redacted_url()))
    }

    /// A new connection with `application_name` set.
    pub async fn connect_as(&self, application_name: &str) -> PgConnection {
        PgConnection::connect_with(&self.options.clone().application_name(application_name))
            .await
            .unwrap()
    }

    /// A pool of up to `max` connections, named `zd test app`.
    pub async fn pool(&self, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(self.options.clone().application_name("zd test app"))
            .await
            .unwrap()
    }

    /// Runs SQL (one or more statements).
    pub async fn exec(&self, sql: &str) {
        let mut c = self.connect().await;
        // `Executor::execute` (a boxed future) rather than `raw_sql`, whose future is not `Send`
        // (rust-lang/rust#100013), so this can run in spawned tasks.
        c.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.close().await.unwrap();
    }

    /// Runs SQL and returns its error.
    pub async fn exec_err(&self, sql: &str) -> String {
        let mut c = self.connect().await;
        let e = c.execute(sql).await.expect_err(sql).to_string();
        c.close().await.unwrap();
        e
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

    /// `pg_class.relfilenode` of `table`: changes when the table is rewritten.
    pub async fn relfilenode(&self, table: &str) -> i64 {
        self.scalar(&format!(
            "SELECT relfilenode::bigint FROM pg_class WHERE oid = '{table}'::regclass"
        ))
        .await
    }

    /// The schema `public` as sorted lines (columns without their position, constraints, indexes
    /// with their definitions and validity, triggers, views, functions, sequences and their owners,
    /// column comments), leaving out zerodown's history tables.
    pub async fn catalog(&self) -> Vec<String> {
        let mut c = self.connect().await;
        let rows: Vec<String> = sqlx::query_scalar(CATALOG).fetch_all(&mut c).await.unwrap();
        c.close().await.unwrap();
        rows
    }

    /// The saved cursor's batch count of a backfill step, 0 without a cursor (or history).
    pub async fn saved_batches(&self, version: i64, step: i32) -> i64 {
        if !self
            .scalar::<bool>("SELECT to_regclass('zerodown_migrations_steps') IS NOT NULL")
            .await
        {
            return 0;
        }
        self.scalar(&format!(
            "SELECT coalesce((SELECT (backfill_cursor->>'batches')::bigint FROM zerodown_migrations_steps
              WHERE version = {version} AND phase = 'expand' AND step_index = {step}), 0)"
        ))
        .await
    }

    /// Drops the database now (it is also dropped when the last clone goes).
    pub async fn drop_database(self) {
        if let Some(db) = self.inner.fresh.and_then(|db| Arc::try_unwrap(db).ok()) {
            db.drop_database().await.unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

const CATALOG: &str = "
SELECT line FROM (
  SELECT format('column %s.%s %s%s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                coalesce(' comment ' || col_description(c.oid, a.attnum), '')) AS line
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped
    AND c.relname NOT LIKE 'zerodown%'
  UNION ALL
  -- PostgreSQL 18 catalogs NOT NULL constraints. Their names differ between an in-place rename (which
  -- keeps `<table>_<old>_not_null`) and the expand/contract route (`<table>_<new>_not_null`) and say
  -- nothing about the schema: the constraint itself is compared, its name is not.
  SELECT format('constraint %s.%s %s%s', c.relname,
                CASE WHEN con.contype = 'n' THEN '(not null)' ELSE con.conname::text END,
                pg_get_constraintdef(con.oid),
                CASE WHEN con.convalidated THEN '' ELSE ' (not validated)' END)
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relname NOT LIKE 'zerodown%'
  UNION ALL
  SELECT format('index %s %s%s', ic.relname, pg_get_indexdef(i.indexrelid), CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END)
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relname NOT LIKE 'zerodown%'
  UNION ALL
  SELECT format('trigger %s on %s', t.tgname, c.relname)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND NOT t.tgisinternal
  UNION ALL
  SELECT format('view %s %s', c.relname, pg_get_viewdef(c.oid))
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'v'
  UNION ALL
  SELECT format('function %s', p.proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'public'
  UNION ALL
  SELECT format('sequence %s%s', s.relname, coalesce(' owned by ' || t.relname || '.' || a.attname, ''))
  FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_class t ON t.oid = d.refobjid
  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  WHERE n.nspname = 'public' AND s.relkind = 'S'
) lines ORDER BY line";
