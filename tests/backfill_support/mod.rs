//! Support for the backfill tests: a fresh database per test (from `zerodown::localdb`), small query
//! helpers, hand-built backfill plans, and a sampler of the locks a session holds.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};
use zerodown::localdb::FreshDatabase;
use zerodown::plan::{
    Backfill, Checksum, LockLevel, Migration, Pace, Phase, Postcondition, Settings, Step, StepKind,
    Transaction, Undo,
};

/// Logs of the runtime go to the test output (visible with `--nocapture`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_test_writer()
        .with_target(false)
        .try_init();
}

/// A database for one test: created by [`fresh_database`] (and dropped with the last clone), or one
/// named by URL (in a child process).
#[derive(Debug, Clone)]
pub struct Db {
    pub options: PgConnectOptions,
    /// The URL, for a child process; it may contain a password, so never print it.
    pub url: String,
    owned: Option<Arc<FreshDatabase>>,
}

/// A fresh, empty database. Panics with the discovery error (which says what to install or set)
/// when no server can be found: these tests never skip.
pub async fn fresh_database(label: &str) -> Db {
    let db = zerodown::localdb::fresh_database(label)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Db {
        options: db.connect_options(),
        url: db.url().to_owned(),
        owned: Some(Arc::new(db)),
    }
}

/// The database at `url`, created by another process.
pub fn existing_database(url: &str) -> Db {
    Db {
        options: url.parse().expect("a PostgreSQL URL"),
        url: url.to_owned(),
        owned: None,
    }
}

impl Db {
    /// A new connection.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.options).await.unwrap()
    }

    /// A new connection with `application_name` set.
    pub async fn connect_as(&self, application_name: &str) -> PgConnection {
        PgConnection::connect_with(&self.options.clone().application_name(application_name))
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

    /// The saved cursor's batch count of the step, 0 without a cursor (or history).
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
        if let Some(db) = self.owned.and_then(|db| Arc::try_unwrap(db).ok()) {
            db.drop_database().await.unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

pub fn leak(s: impl Into<String>) -> &'static str {
    Box::leak(s.into().into_boxed_str())
}

/// A backfill step as the macro lowers it.
pub fn backfill_step(
    table: &str,
    key: &[&str],
    set_sql: &str,
    pending_sql: &str,
    batch_size: u64,
    pause_ms: u64,
) -> Step {
    let table = leak(table);
    let key: Vec<&'static str> = key.iter().map(|k| leak(*k)).collect();
    Step {
        description: leak(format!("backfill {table}")),
        statements: &[],
        transaction: Transaction::Transactional,
        lock: LockLevel::RowExclusive,
        tables: Box::leak(vec![table].into_boxed_slice()),
        rewrites: false,
        lock_timeout_ms: 1_000,
        statement_timeout_ms: 30_000,
        kind: StepKind::Backfill(Backfill {
            table,
            key: Box::leak(key.into_boxed_slice()),
            set_sql: leak(set_sql),
            pending_sql: leak(pending_sql),
            batch_size,
            pause_ms,
            // Only checked against foreign keys, which these tests' tables do not have.
            columns: &[],
            fire_user_triggers: false,
            // Fixed batches and pause, as given: these tests count batches.
            pace: Pace::FIXED,
        }),
        postcondition: Postcondition::BackfillComplete,
    }
}

/// A migration with the checksum `migration!` would compute.
pub fn migration(version: u64, name: &str, expand: Vec<Step>) -> &'static Migration {
    let mut m = Migration {
        version,
        name: leak(name),
        description: "",
        // The runtime generates a backfill's SQL, and it runs on every supported server: target the
        // oldest, so the suites exercise it on 10 to 18.
        settings: Settings {
            retry_budget_ms: 20_000,
            target: zerodown::PgVersion::OLDEST_SUPPORTED,
            ..Settings::DEFAULT
        },
        expand: Phase {
            steps: Box::leak(expand.into_boxed_slice()),
        },
        contract: Phase::EMPTY,
        rollback: Phase::EMPTY,
        undo: Undo::NONE,
        touches: &[],
        chosen_names: &[],
        expected_tables: &[],
        checksum: Checksum([0; 32]),
        legacy_checksums: &[],
    };
    m.checksum = m.compute_checksum();
    Box::leak(Box::new(m))
}

/// The strongest table lock seen per table.
pub type Seen = BTreeMap<String, LockLevel>;

/// Samples, from its own session, the table locks held or requested by sessions whose
/// `application_name` is `application`, on `tables`, until stopped: the strongest mode per table over
/// the whole run, and over the samples taken while `gate` was set (checked before and after each
/// sample, so a sample is attributed to the gated period only if it lies inside it).
pub struct LockSampler {
    seen: Arc<Mutex<(Seen, Seen)>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<u64>,
}

fn record(seen: &mut Seen, rows: &[(String, String)]) {
    for (table, mode) in rows {
        let level = LockLevel::from_pg_locks_mode(mode)
            .unwrap_or_else(|| panic!("unknown lock mode {mode}"));
        let e = seen.entry(table.clone()).or_insert(level);
        *e = (*e).max(level);
    }
}

impl LockSampler {
    pub async fn start(
        db: &Db,
        application: &str,
        tables: &[&str],
        gate: Option<Arc<AtomicBool>>,
    ) -> LockSampler {
        let mut conn = db.connect_as("zdbf lock sampler").await;
        let seen = Arc::new(Mutex::new((Seen::new(), Seen::new())));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
        let application = application.to_owned();
        let out = seen.clone();
        let gated = move || gate.as_ref().is_some_and(|g| g.load(Ordering::SeqCst));
        let task = tokio::spawn(async move {
            let mut samples = 0u64;
            while !*stopped.borrow() {
                let before = gated();
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT c.relname::text, l.mode FROM pg_locks l
                     JOIN pg_stat_activity a ON a.pid = l.pid
                     JOIN pg_class c ON c.oid = l.relation
                     WHERE l.locktype = 'relation' AND a.application_name = $1 AND c.relname = ANY($2)",
                )
                .bind(&application)
                .bind(&tables)
                .fetch_all(&mut conn)
                .await
                .unwrap();
                let inside = before && gated();
                samples += 1;
                {
                    let mut seen = out.lock().unwrap();
                    record(&mut seen.0, &rows);
                    if inside {
                        record(&mut seen.1, &rows);
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

    /// Stops sampling; the strongest lock seen per table (all samples, gated samples), and the number
    /// of samples taken.
    pub async fn finish(self) -> (Seen, Seen, u64) {
        let _ = self.stop.send(true);
        let samples = self.task.await.unwrap();
        let (all, gated) = self.seen.lock().unwrap().clone();
        (all, gated, samples)
    }
}
