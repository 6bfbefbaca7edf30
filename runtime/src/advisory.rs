//! One runner at a time: a session-level advisory lock on the migrator's dedicated control connection.
//!
//! - **Key.** The first 8 bytes (big-endian, as `i64`) of SHA-256 of
//!   `zerodown-migrator-lock:<schema>.<table>` of the history table, so runners sharing a history
//!   table exclude each other and nothing else. Advisory locks are per database already.
//! - **Waiting.** `pg_try_advisory_lock` is polled (200 ms, growing to 1 s) up to a bounded wait
//!   (default [`DEFAULT_LOCK_WAIT`], 10 min). A blocking `pg_advisory_lock` call would be a running
//!   statement with a snapshot, which a `CREATE INDEX CONCURRENTLY` of the runner holding the lock
//!   waits for: a deadlock that only the timeouts would break.
//! - **No connection held while waiting.** Between two polls a waiting runner closes its connection
//!   and opens (and checks) a fresh one for the next poll, so N waiting runners do not take N of the
//!   server's connection slots for the whole wait: on a server near `max_connections`, the runner
//!   holding the lock would otherwise find no slot for its step connection until every waiter gave
//!   up. Each poll costs a connection (two for a moment, with the session check).
//! - **Release.** [`RunnerLock`] owns the connection. [`RunnerLock::release`] unlocks and closes it;
//!   if the guard is dropped instead (error, panic, cancelled future) the connection is dropped with
//!   it, the socket closes, and the server frees the session's locks. No path leaves the lock on a
//!   connection that lives on.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio::time::Instant;

use crate::error::Error;

/// How long a runner waits for another runner's lock by default.
pub(crate) const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10 * 60);

const FIRST_POLL: Duration = Duration::from_millis(200);
const MAX_POLL: Duration = Duration::from_secs(1);
/// Waiting runners log who they wait for this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The advisory lock key for a history table.
pub fn lock_key(schema: &str, table: &str) -> i64 {
    let digest = Sha256::digest(format!("zerodown-migrator-lock:{schema}.{table}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The held lock and the connection holding it.
pub(crate) struct RunnerLock {
    conn: PgConnection,
    key: i64,
    pid: i32,
}

/// What another connection of the runner checks to know the lock is still this runner's: the
/// control session's backend pid and the key. A runner whose control connection died no longer
/// holds the lock, though its step connection may not have noticed yet; a backfill checks this
/// before committing each batch, so it stops at its next batch instead of running on beside the
/// runner that took the lock over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fence {
    pid: i32,
    key: i64,
}

impl Fence {
    /// Whether the control session still holds the lock, as a boolean expression that any session
    /// of the database can evaluate (its values, integers, written in), for a statement that asks
    /// it along with other things.
    pub(crate) fn holds_sql(&self) -> String {
        let (high, low) = split_key(self.key);
        format!(
            "EXISTS (SELECT 1 FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND pid = {}
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid::bigint = {high} AND objid::bigint = {low})",
            self.pid
        )
    }
}

/// A bigint advisory key as `pg_locks` shows it: `classid` = high 32 bits, `objid` = low 32 bits
/// (with `objsubid` = 1).
fn split_key(key: i64) -> (i64, i64) {
    ((key >> 32) & 0xFFFF_FFFF, key & 0xFFFF_FFFF)
}

impl std::fmt::Debug for RunnerLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerLock")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl RunnerLock {
    /// Polls for the lock for at most `wait`: first on `conn`, then, after closing it and pausing, on
    /// a fresh connection from `reopen` per poll, so a waiting runner holds no connection between
    /// polls. On failure the connection is closed (dropped).
    pub(crate) async fn acquire<F, Fut>(
        mut conn: PgConnection,
        key: i64,
        wait: Duration,
        mut reopen: F,
    ) -> Result<RunnerLock, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<PgConnection, Error>>,
    {
        let start = Instant::now();
        let mut poll = FIRST_POLL;
        let mut last_log: Option<Instant> = None;
        loop {
            let (got, pid): (bool, i32) =
                sqlx::query_as("SELECT pg_try_advisory_lock($1), pg_backend_pid()")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(Error::db("taking the migration lock"))?;
            if got {
                return Ok(RunnerLock { conn, key, pid });
            }
            let waited = start.elapsed();
            if waited >= wait {
                let holder = holder(&mut conn, key).await.ok().flatten();
                return Err(Error::LockTimeout { waited, holder });
            }
            if last_log.map_or(waited >= Duration::from_secs(1), |t| {
                t.elapsed() >= LOG_EVERY
            }) {
                let holder = holder(&mut conn, key).await.ok().flatten();
                tracing::info!(
                    waited_s = waited.as_secs_f64(),
                    holder = holder.as_deref().unwrap_or("not visible"),
                    "waiting for the migration lock held by another runner"
                );
                last_log = Some(Instant::now());
            }
            if let Err(e) = conn.close().await {
                tracing::debug!(error = %e, "closing the connection of a lock poll failed");
            }
            tokio::time::sleep(
                poll.min(wait.saturating_sub(waited))
                    .max(Duration::from_millis(1)),
            )
            .await;
            poll = (poll * 3 / 2).min(MAX_POLL);
            conn = reopen().await?;
        }
    }

    /// The control connection.
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// How the runner's other connections check that the lock is still held.
    pub(crate) fn fence(&self) -> Fence {
        Fence {
            pid: self.pid,
            key: self.key,
        }
    }

    /// Unlocks and closes the connection. Failures are logged only: closing the connection frees
    /// the lock whatever happened.
    pub(crate) async fn release(mut self) {
        match sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .fetch_one(&mut self.conn)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "the migration lock was not held at release (the session was reset?)"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "unlocking the migration lock failed; closing the connection frees it")
            }
        }
        if let Err(e) = self.conn.close().await {
            tracing::debug!(error = %e, "closing the control connection failed");
        }
    }
}

/// Who holds the lock: `pid N, application `x`, connected since ...`.
pub(crate) async fn holder(
    conn: &mut PgConnection,
    key: i64,
) -> Result<Option<String>, sqlx::Error> {
    let (high, low) = split_key(key);
    type Row = (i32, Option<String>, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT l.pid, a.application_name, a.backend_start::text, a.state
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.classid::bigint = $1 AND l.objid::bigint = $2
         LIMIT 1",
    )
    .bind(high)
    .bind(low)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(pid, app, since, state)| {
        let mut s = format!("pid {pid}");
        if let Some(app) = app.filter(|a| !a.is_empty()) {
            s.push_str(&format!(", application `{app}`"));
        }
        if let Some(state) = state {
            s.push_str(&format!(", {state}"));
        }
        if let Some(since) = since {
            s.push_str(&format!(", connected since {since}"));
        }
        s
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_depends_on_the_table() {
        // Pinned: changing the derivation would let an old and a new runner run together.
        assert_eq!(
            lock_key("public", "zerodown_migrations"),
            lock_key("public", "zerodown_migrations")
        );
        assert_ne!(
            lock_key("public", "zerodown_migrations"),
            lock_key("app", "zerodown_migrations")
        );
        assert_ne!(lock_key("public", "a"), lock_key("public", "b"));
        let digest = Sha256::digest(b"zerodown-migrator-lock:public.zerodown_migrations");
        assert_eq!(
            lock_key("public", "zerodown_migrations").to_be_bytes(),
            digest[..8]
        );
    }
}
