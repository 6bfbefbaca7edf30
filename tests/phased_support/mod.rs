//! Support for the expand/contract tests: the test database (`tests/support/db.rs`, with its catalog
//! snapshot to compare schemas), application-like writers, and a sampler that attributes the table
//! locks zerodown's sessions take to the step running at that moment.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use zerodown::{LockLevel, Migration, PhaseKind};

#[path = "../support/db.rs"]
mod db;

#[allow(unused_imports)]
pub use db::{fresh_database, init_tracing, Database, Db};

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
