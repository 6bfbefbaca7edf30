//! An application-like writer on `orders` while migrations run: it inserts, updates and deletes its
//! own rows (some updates as a logical-replication apply worker would make them, with
//! `session_replication_role = replica`), through the table's own triggers (one normalises
//! `amount`, one stamps `updated_at`, one audits updates), and keeps a shadow copy of every value the
//! database returned for its committed writes. After the run every row must hold exactly those values
//! (a migration that lost a write, or whose backfill fired a trigger, shows as a differing row), no
//! deleted row may be back, and the audit log must hold one entry per committed audited update.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;

use super::db::TestDb;

/// The running writer.
pub struct Writer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Written>,
}

/// What the writer meant to store.
#[derive(Debug, Default)]
pub struct Written {
    /// Each of its rows whose last write committed: `Some((amount, updated_at))` as the database
    /// returned them, `None` once deleted.
    pub shadow: HashMap<i64, Option<(String, String)>>,
    /// Rows whose last write failed in a way that leaves its outcome unknown: not compared.
    pub uncertain: Vec<i64>,
    /// Committed updates the audit trigger saw (made as `origin`).
    pub audited: i64,
    /// Audited updates whose outcome is unknown.
    pub audited_uncertain: i64,
    pub inserts: u64,
    pub updates: u64,
    pub replica_updates: u64,
    pub deletes: u64,
    /// Writes that failed because the session's cached plans predate a column type change (the
    /// contract's swap, as after any `ALTER COLUMN TYPE`): the application's own PL/pgSQL trigger
    /// then fails with 42804 until the session's plans are discarded (see `docs/deploying.md`). The
    /// writer does what the docs tell an application to do, `DISCARD PLANS`, and writes on.
    pub replanned: u64,
    /// Times the writer's connection broke (a server crash) and it reconnected; the write under
    /// way is of unknown outcome and its row is not compared.
    pub reconnects: u64,
    pub errors: Vec<String>,
}

/// Whether `e` is PostgreSQL refusing a plan cached before a column's type changed.
fn stale_plan(e: &sqlx::Error) -> bool {
    let text = e.to_string();
    text.contains("does not match that when preparing the plan")
        || text.contains("cached plan must not change result type")
}

/// One write's outcome.
enum Outcome {
    Stored(Option<(String, String)>),
    /// The statement failed: nothing changed (a constraint, a lock) or unknown (connection lost).
    Failed {
        certain: bool,
        error: String,
    },
}

/// Whether `e` means the connection is gone (the server crashed or ended the session): the write
/// may or may not have committed, and the writer must reconnect.
fn broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => true,
    }
}

/// Connects, retrying while the server restarts (a crash test), until `stop`. Commits are made
/// synchronous: the shadow must hold only what survives a server crash.
async fn connect(options: &PgConnectOptions, stop: &AtomicBool) -> Option<PgConnection> {
    loop {
        match PgConnection::connect_with(options).await {
            Ok(mut conn) => {
                if sqlx::query("SET synchronous_commit = on")
                    .execute(&mut conn)
                    .await
                    .is_ok()
                {
                    return Some(conn);
                }
            }
            Err(_) if stop.load(Ordering::Relaxed) => return None,
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn outcome(r: Result<Option<(String, String)>, sqlx::Error>) -> Outcome {
    match r {
        Ok(row) => Outcome::Stored(row),
        Err(e) => Outcome::Failed {
            // A database error inside a working connection rolled the statement back; a broken
            // connection may have broken after the commit.
            certain: !broken(&e),
            error: if stale_plan(&e) {
                format!("stale plan: {e}")
            } else if broken(&e) {
                format!("connection lost: {e}")
            } else {
                e.to_string()
            },
        },
    }
}

impl Writer {
    /// Starts writing every few milliseconds.
    pub async fn start(db: &TestDb) -> Writer {
        let options = db.options();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = tokio::spawn(async move {
            let mut w = Written::default();
            let Some(mut conn) = connect(&options, &flag).await else {
                return w;
            };
            let mut live: Vec<i64> = Vec::new();
            let mut n: i64 = 0;
            while !flag.load(Ordering::Relaxed) {
                if w.errors.last().is_some_and(|e| e.starts_with("stale plan")) {
                    w.errors.pop();
                    w.replanned += 1;
                    sqlx::query("DISCARD PLANS").execute(&mut conn).await.ok();
                }
                if w.errors
                    .last()
                    .is_some_and(|e| e.starts_with("connection lost"))
                {
                    w.errors.pop();
                    w.reconnects += 1;
                    match connect(&options, &flag).await {
                        Some(c) => conn = c,
                        None => break,
                    }
                }
                n += 1;
                // Deterministic variety: 6 inserts, 2 updates, 1 replica update, 1 delete in 10.
                let pick = live.get((n as usize * 7919) % live.len().max(1)).copied();
                match (n % 10, pick) {
                    (6 | 7, Some(id)) => {
                        let r = sqlx::query_as::<_, (String, String)>(
                            "UPDATE orders SET amount = $1 WHERE id = $2 RETURNING amount::text, updated_at::text",
                        )
                        .bind(-(n as i32))
                        .bind(id)
                        .fetch_optional(&mut conn)
                        .await;
                        w.settle(id, outcome(r), true);
                        w.updates += 1;
                    }
                    (8, Some(id)) => {
                        let r = replica_update(&mut conn, id, n as i32).await;
                        w.settle(id, outcome(r), false);
                        w.replica_updates += 1;
                    }
                    (9, Some(id)) => {
                        let r = sqlx::query("DELETE FROM orders WHERE id = $1")
                            .bind(id)
                            .execute(&mut conn)
                            .await
                            .map(|_| None);
                        w.settle(id, outcome(r), false);
                        live.retain(|&l| l != id);
                        w.deletes += 1;
                    }
                    _ => {
                        let r = sqlx::query_as::<_, (i64, String, String)>(
                            "INSERT INTO orders (user_id, amount) VALUES ($1, $2) RETURNING id, amount::text, updated_at::text",
                        )
                        .bind(1 + n % super::set::USERS)
                        .bind(-(n as i32))
                        .fetch_one(&mut conn)
                        .await;
                        match r {
                            Ok((id, amount, at)) => {
                                w.shadow.insert(id, Some((amount, at)));
                                live.push(id);
                            }
                            Err(e) if stale_plan(&e) => w.errors.push(format!("stale plan: {e}")),
                            Err(e) if broken(&e) => {
                                w.errors.push(format!("connection lost: {e}"));
                                // The insert may have committed: the row is unknown, not compared.
                            }
                            Err(e) => w.errors.push(format!("insert: {e}")),
                        }
                        w.inserts += 1;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            conn.close().await.ok();
            w
        });
        Writer { stop, handle }
    }

    pub async fn stop(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.expect("the writer task")
    }
}

/// An update as a logical-replication apply worker makes it: `origin` triggers do not fire.
async fn replica_update(
    conn: &mut PgConnection,
    id: i64,
    n: i32,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query_as::<_, (String, String)>(
        "UPDATE orders SET amount = $1 WHERE id = $2 RETURNING amount::text, updated_at::text",
    )
    .bind(n)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

impl Written {
    /// Records the outcome of a write to row `id` (`audited`: an `origin` update, which the audit
    /// trigger logs).
    fn settle(&mut self, id: i64, outcome: Outcome, audited: bool) {
        match outcome {
            Outcome::Stored(row) => {
                if audited && row.is_some() {
                    self.audited += 1;
                }
                self.shadow.insert(id, row);
            }
            Outcome::Failed { certain, error } => {
                if !certain {
                    self.uncertain.push(id);
                    self.audited_uncertain += i64::from(audited);
                }
                self.errors.push(error);
            }
        }
    }

    /// Rows whose values are compared.
    pub fn compared(&self) -> usize {
        self.shadow
            .keys()
            .filter(|id| !self.uncertain.contains(id))
            .count()
    }

    /// Problems: errors the writer got, rows whose values differ from the shadow, deleted rows that
    /// are back, audit entries nobody made or missing.
    pub async fn check(&self, db: &TestDb) -> Vec<String> {
        let mut problems: Vec<String> = self
            .errors
            .iter()
            .take(3)
            .map(|e| format!("the application's write failed: {e}"))
            .collect();
        let mut conn = db.connect().await;
        let ids: Vec<i64> = self.shadow.keys().copied().collect();
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, amount::text, updated_at::text FROM orders WHERE id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let stored: HashMap<i64, (String, String)> =
            rows.into_iter().map(|(id, a, t)| (id, (a, t))).collect();
        let mut differing = Vec::new();
        for (id, meant) in &self.shadow {
            if self.uncertain.contains(id) {
                continue;
            }
            if stored.get(id) != meant.as_ref() {
                differing.push(format!(
                    "id {id}: stored {:?}, the application wrote {meant:?}",
                    stored.get(id)
                ));
            }
        }
        if !differing.is_empty() {
            differing.sort();
            problems.push(format!(
                "{} of the {} rows the application wrote differ from what it stored (first: {})",
                differing.len(),
                self.compared(),
                differing[..differing.len().min(3)].join("; ")
            ));
        }
        let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM orders_audit")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if audit < self.audited || audit > self.audited + self.audited_uncertain {
            problems.push(format!(
                "the audit trigger logged {audit} updates; the application made {} (and {} of unknown outcome): a migration fired it, or lost updates",
                self.audited, self.audited_uncertain
            ));
        }
        problems
    }
}
