//! Support for the backfill tests: the test database (`tests/support/db.rs`), hand-built backfill
//! plans, and a sampler of the locks a session holds.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zerodown::plan::{
    Backfill, Checksum, LockLevel, Migration, Pace, Phase, Postcondition, Settings, Step, StepKind,
    Transaction, Undo,
};

#[path = "../support/db.rs"]
mod db;

#[allow(unused_imports)]
pub use db::{existing_database, fresh_database, init_tracing, Database, Db};

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
