//! Support for the expand/contract tests: fresh databases (named `zdph_..`, from `zerodown::localdb`),
//! query helpers, a catalog snapshot to compare schemas, application-like writers, and a sampler that
//! attributes the table locks zerodown's sessions take to the step running at that moment.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};
use zerodown::localdb::{Discovery, FreshDatabase, Server};
use zerodown::{LockLevel, Migration, PhaseKind};

/// Logs of the runtime go to the test output (visible with `--nocapture`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_test_writer()
        .with_target(false)
        .try_init();
}

static SERVER: tokio::sync::OnceCell<Server> = tokio::sync::OnceCell::const_new();

/// A database created for one test, dropped with the value.
pub struct Db {
    pub inner: FreshDatabase,
    pub options: PgConnectOptions,
}

/// A fresh database `zdph_<label>_..` (or with the prefix `ZERODOWN_DATABASE_PREFIX` sets) on the
/// server `zerodown::localdb` finds. Panics with the discovery error (which says what to install or
/// set) when there is none: these tests never skip.
pub async fn fresh_database(label: &str) -> Db {
    let server = SERVER
        .get_or_try_init(|| async {
            let discovery = Discovery::from_env();
            let discovery = match std::env::var_os("ZERODOWN_DATABASE_PREFIX") {
                Some(_) => discovery,
                None => discovery.database_prefix("zdph_"),
            };
            discovery.discover().await
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let inner = server
        .fresh_database(label)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let options = inner.connect_options().disable_statement_logging();
    Db { inner, options }
}

impl Db {
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.options).await.unwrap()
    }

    pub async fn pool(&self, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(self.options.clone().application_name("zdph app"))
            .await
            .unwrap()
    }

    /// Runs SQL (one or more statements).
    pub async fn exec(&self, sql: &str) {
        let mut c = self.connect().await;
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

/// Application-like writers: tasks running `op` in a loop until stopped, counting operations and
/// collecting every error.
pub struct Writers {
    stop: Arc<AtomicBool>,
    pub ops: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    pub fn new() -> Writers {
        Writers {
            stop: Arc::new(AtomicBool::new(false)),
            ops: Arc::new(AtomicU64::new(0)),
            errors: Arc::new(Mutex::new(Vec::new())),
            tasks: Vec::new(),
        }
    }

    /// Starts a writer calling `op(i)` with i = 0, 1, 2 .. until stopped (a short pause between
    /// calls, so the writers share the table with the migration rather than flood it).
    pub fn spawn<F, Fut>(&mut self, op: F)
    where
        F: Fn(u64) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send,
    {
        let (stop, ops, errors) = (self.stop.clone(), self.ops.clone(), self.errors.clone());
        self.tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = op(i).await {
                    errors.lock().unwrap().push(e);
                }
                ops.fetch_add(1, Ordering::Relaxed);
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }

    pub fn count(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Waits until the writers made at least `n` more operations (so they really overlap a phase).
    pub async fn wait_for(&self, n: u64) {
        let target = self.count() + n;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.count() < target {
            assert!(
                tokio::time::Instant::now() < deadline,
                "writers made no progress"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the writers; their errors (none expected).
    pub async fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let errors = self.errors.lock().unwrap().clone();
        errors
    }
}

/// A step, as the sampler saw it running: (version, phase, index).
pub type StepId = (i64, String, i32);

/// One sampled lock: the running step (if any) and the lock mode.
type SampleRow = (Option<i64>, Option<String>, Option<i32>, String);

/// Samples, from its own session, the locks that zerodown's sessions (application name `zerodown`)
/// hold or wait for on `table` (by oid, so renames do not matter), with the step running at that
/// moment according to the history. The strongest mode per step.
pub struct LockSampler {
    seen: Arc<Mutex<BTreeMap<StepId, LockLevel>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<u64>,
}

impl LockSampler {
    pub async fn start(db: &Db, table: &str) -> LockSampler {
        let mut conn =
            PgConnection::connect_with(&db.options.clone().application_name("zdph lock sampler"))
                .await
                .unwrap();
        let oid: i64 = sqlx::query_scalar(&format!("SELECT '{table}'::regclass::oid::bigint"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let out = seen.clone();
        let task = tokio::spawn(async move {
            let mut samples = 0u64;
            while !*stopped.borrow() {
                // The history table exists once the first run started; until then the query fails.
                let rows: Vec<SampleRow> = sqlx::query_as(
                    "SELECT s.version, s.phase, s.step_index, l.mode FROM pg_locks l
                     JOIN pg_stat_activity a ON a.pid = l.pid
                     LEFT JOIN LATERAL (SELECT version, phase, step_index FROM zerodown_migrations_steps
                                        WHERE state = 'running') s ON true
                     WHERE l.locktype = 'relation' AND l.relation = $1::bigint::oid AND a.application_name = 'zerodown'",
                )
                .bind(oid)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_default();
                samples += 1;
                {
                    let mut seen = out.lock().unwrap();
                    for (version, phase, index, mode) in rows {
                        let (Some(version), Some(phase), Some(index)) = (version, phase, index)
                        else {
                            continue;
                        };
                        let level = LockLevel::from_pg_locks_mode(&mode)
                            .unwrap_or_else(|| panic!("unknown lock mode {mode}"));
                        let e = seen.entry((version, phase, index)).or_insert(level);
                        *e = (*e).max(level);
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(1)) => {}
                    _ = stopped.changed() => {}
                }
            }
            samples
        });
        LockSampler { seen, stop, task }
    }

    /// Stops sampling and checks every observed lock against the step's declaration; returns what
    /// was seen.
    pub async fn finish_and_check(self, migrations: &[&Migration]) -> BTreeMap<StepId, LockLevel> {
        let _ = self.stop.send(true);
        let samples = self.task.await.unwrap();
        assert!(samples > 10, "the lock sampler took only {samples} samples");
        let seen = self.seen.lock().unwrap().clone();
        for ((version, phase, index), level) in &seen {
            let m = migrations
                .iter()
                .find(|m| m.version as i64 == *version)
                .expect("a known migration");
            let phase = match phase.as_str() {
                "expand" => PhaseKind::Expand,
                "contract" => PhaseKind::Contract,
                _ => PhaseKind::Rollback,
            };
            let step = &phase.steps(m)[*index as usize];
            assert!(
                *level <= step.lock,
                "{phase} step {} (`{}`) declares {} but took {level}",
                index + 1,
                step.description,
                step.lock
            );
        }
        seen
    }
}
