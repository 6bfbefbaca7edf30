//! Observing what a step really does to the tables it names: the strongest table lock it takes (or
//! requests) and whether it rewrites a table (`pg_class.relfilenode` changes).
//!
//! Reusable for any plan: [`observe`] runs one step's SQL against a database the way the runtime
//! would (transactional steps in a transaction, others alone) and reports what it saw; [`check`]
//! compares that with what the step declares.
//!
//! - Transactional steps: the statements run in a transaction, and before the commit our own
//!   backend's `pg_locks` rows on the step's tables are read. Exact.
//! - Steps that run alone (concurrent index builds, ...): a second session samples `pg_locks` for the
//!   step's backend while it runs, granted or waiting. To give the sampler time, a third session
//!   holds `ACCESS EXCLUSIVE` on the tables for the first 300 ms (the step queues, showing the mode it
//!   requests) and a fourth holds a snapshot for 600 ms (a concurrent build waits for it while holding
//!   its lock).

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::time::Instant;
use zerodown_runtime::plan::{LockLevel, Step, Transaction};

async fn connect(options: &PgConnectOptions, application_name: &str) -> PgConnection {
    PgConnection::connect_with(&options.clone().application_name(application_name))
        .await
        .unwrap()
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Strongest lock seen per table of the step (absent: none).
    pub per_table: BTreeMap<String, LockLevel>,
    /// Tables whose `relfilenode` changed.
    pub rewritten: Vec<String>,
}

impl Observation {
    /// The strongest lock over all the step's tables.
    pub fn strongest(&self) -> LockLevel {
        self.per_table
            .values()
            .copied()
            .max()
            .unwrap_or(LockLevel::None)
    }
}

async fn table_oids(conn: &mut PgConnection, tables: &[&str]) -> Vec<(String, i64, i64)> {
    let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    let rows: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT t, to_regclass(t)::oid::bigint, (SELECT relfilenode::bigint FROM pg_class WHERE oid = to_regclass(t))
         FROM unnest($1::text[]) AS t",
    )
    .bind(&names)
    .fetch_all(conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(t, oid, node)| {
            let oid = oid
                .unwrap_or_else(|| panic!("table {t} named by the step does not exist before it"));
            (t, oid, node.unwrap_or(0))
        })
        .collect()
}

fn record(
    seen: &mut BTreeMap<String, LockLevel>,
    tables: &[(String, i64, i64)],
    rows: Vec<(i64, String)>,
) {
    for (relation, mode) in rows {
        let Some((name, _, _)) = tables.iter().find(|(_, oid, _)| *oid == relation) else {
            continue;
        };
        let level = LockLevel::from_pg_locks_mode(&mode)
            .unwrap_or_else(|| panic!("unknown lock mode {mode}"));
        let entry = seen.entry(name.clone()).or_insert(level);
        *entry = (*entry).max(level);
    }
}

const LOCKS_OF: &str = "SELECT relation::oid::bigint, mode FROM pg_locks WHERE pid = $1 AND locktype = 'relation' AND relation IS NOT NULL";

/// Runs `step`'s SQL on the database of `options` and reports the locks it took on its tables and
/// the tables it rewrote. Errors are the step's SQL failing.
pub async fn observe(options: &PgConnectOptions, step: &Step) -> Result<Observation, String> {
    let mut observer = connect(options, "zdrt observer").await;
    let before = table_oids(&mut observer, step.tables).await;
    let mut seen = BTreeMap::new();
    match step.transaction {
        Transaction::Transactional => {
            let mut conn = connect(options, "zdrt observed step").await;
            let mut tx = conn.begin().await.unwrap();
            sqlx::raw_sql("SET LOCAL lock_timeout = '5s'")
                .execute(&mut *tx)
                .await
                .unwrap();
            for sql in step.statements {
                sqlx::raw_sql(sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| format!("{sql}: {e}"))?;
            }
            let rows: Vec<(i64, String)> = sqlx::query_as(LOCKS_OF)
                .bind(tx_pid(&mut tx).await)
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            record(&mut seen, &before, rows);
            tx.commit().await.map_err(|e| format!("COMMIT: {e}"))?;
        }
        Transaction::Alone => {
            let mut conn = connect(options, "zdrt observed step").await;
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            sqlx::raw_sql("SET lock_timeout = '10s'")
                .execute(&mut conn)
                .await
                .unwrap();
            let mut blocker = connect(options, "zdrt observer blocker").await;
            let mut snapshot = connect(options, "zdrt observer snapshot").await;
            sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
                .execute(&mut snapshot)
                .await
                .unwrap();
            let mut lock_sql = String::from("BEGIN;");
            for (t, _, _) in &before {
                lock_sql.push_str(&format!(" LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE;"));
            }
            sqlx::raw_sql(&lock_sql)
                .execute(&mut blocker)
                .await
                .unwrap();
            let run = tokio::spawn(run_statements(conn, step.statements));
            let start = Instant::now();
            let (mut blocker_done, mut snapshot_done) = (false, false);
            while !run.is_finished() {
                let rows: Vec<(i64, String)> = sqlx::query_as(LOCKS_OF)
                    .bind(pid)
                    .fetch_all(&mut observer)
                    .await
                    .unwrap();
                record(&mut seen, &before, rows);
                if !blocker_done && start.elapsed() > Duration::from_millis(300) {
                    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
                    blocker_done = true;
                }
                if !snapshot_done && start.elapsed() > Duration::from_millis(600) {
                    sqlx::raw_sql("COMMIT")
                        .execute(&mut snapshot)
                        .await
                        .unwrap();
                    snapshot_done = true;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if !blocker_done {
                sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
            }
            if !snapshot_done {
                sqlx::raw_sql("COMMIT")
                    .execute(&mut snapshot)
                    .await
                    .unwrap();
            }
            run.await.unwrap()?;
        }
    }
    let after = table_oids(&mut observer, step.tables).await;
    let rewritten = before
        .iter()
        .zip(&after)
        .filter(|((_, _, a), (_, _, b))| a != b)
        .map(|((t, _, _), _)| t.clone())
        .collect();
    Ok(Observation {
        per_table: seen,
        rewritten,
    })
}

async fn run_statements(
    mut conn: PgConnection,
    statements: &'static [&'static str],
) -> Result<(), String> {
    for &sql in statements {
        sqlx::Executor::execute(&mut conn, sql)
            .await
            .map_err(|e| format!("{sql}: {e}"))?;
    }
    Ok(())
}

async fn tx_pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Compares an observation with the step's declaration: the strongest lock must equal the declared
/// level (a weaker one means the plan overstates the risk, a stronger one that it hides it), and a
/// table must be rewritten exactly when the step says so.
pub fn check(step: &Step, seen: &Observation) -> Result<(), String> {
    let mut problems = Vec::new();
    if !step.tables.is_empty() && seen.strongest() != step.lock {
        problems.push(format!(
            "declared lock {} but observed {} ({:?})",
            step.lock,
            seen.strongest(),
            seen.per_table
        ));
    }
    let rewrote = !seen.rewritten.is_empty();
    if step.rewrites != rewrote {
        problems.push(format!(
            "declared rewrites = {} but rewritten tables are {:?}",
            step.rewrites, seen.rewritten
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "step `{}`: {}",
            step.description,
            problems.join("; ")
        ))
    }
}

/// [`observe`] then [`check`].
pub async fn observe_and_check(
    options: &PgConnectOptions,
    step: &Step,
) -> Result<Observation, String> {
    let seen = observe(options, step).await?;
    check(step, &seen)?;
    Ok(seen)
}
