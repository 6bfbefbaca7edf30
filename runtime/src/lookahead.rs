//! Looking before queueing for a lock that blocks the application.
//!
//! A statement waiting for a lock blocks every later query on the table that needs a conflicting
//! lock, for as long as it waits. So a step whose lock blocks reads or writes first looks at who holds
//! or awaits a conflicting lock on its tables (`pg_locks` joined with `pg_stat_activity`, from the
//! control connection, so without queueing):
//!
//! - while any of them has had its transaction open for longer than [`LockStrategy::LookFirst`]'s
//!   `old_after` (it will not finish soon: a report, a forgotten `BEGIN`), the step waits, polling,
//!   without asking for the lock, for as long as the migration's retry budget allows, and names those
//!   sessions if the budget runs out;
//! - when only young transactions hold conflicting locks (they will be done in a moment), it asks for
//!   the lock with a lock timeout of `attempt_lock_timeout`, so the application waits behind the step
//!   at most that long, plus the step's own work.
//!
//! A long transaction that starts between the look and the attempt still makes the attempt wait, for
//! at most one `attempt_lock_timeout`; the attempt then fails, is retried like any lock timeout, and
//! the next look sees it. [`LockStrategy::Queue`] is the strategy of earlier versions (ask right away,
//! with the escalating lock timeout of [`crate::timeout`]), kept for comparison.

use std::time::Duration;

use sqlx::PgConnection;
use tokio::time::Instant;

use crate::blockers::{self, Blocker};
use crate::plan::LockLevel;

/// How a step whose lock blocks reads or writes asks for it. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockStrategy {
    /// Look at the conflicting lock holders first; wait without queueing while an old transaction
    /// holds one, then ask with a short lock timeout. The default: [`LockStrategy::DEFAULT`].
    LookFirst {
        /// A transaction open this long is old: the step waits for it without queueing.
        old_after: Duration,
        /// The lock timeout of an attempt made when no old transaction holds a conflicting lock (the
        /// step's own lock timeout when that is shorter).
        attempt_lock_timeout: Duration,
        /// How often to look again while waiting.
        poll: Duration,
    },
    /// Ask for the lock at once, with the step's escalating lock timeout, queueing behind whoever
    /// holds a conflicting lock (earlier versions' strategy).
    Queue,
}

impl LockStrategy {
    /// `LookFirst` with transactions old after 100 ms, attempts of 150 ms, a look every 20 ms
    /// (chosen with the `under_load` example, see ARCHITECTURE.md).
    pub const DEFAULT: LockStrategy = LockStrategy::LookFirst {
        old_after: Duration::from_millis(100),
        attempt_lock_timeout: Duration::from_millis(150),
        poll: Duration::from_millis(20),
    };
}

impl Default for LockStrategy {
    fn default() -> Self {
        LockStrategy::DEFAULT
    }
}

/// The outcome of waiting for the old transactions to end.
#[derive(Debug)]
pub(crate) enum Clear {
    /// No old transaction holds or awaits a conflicting lock: attempt now, with this lock timeout.
    Attempt(Duration),
    /// Old transactions still held conflicting locks when `deadline` passed.
    Blocked(Vec<Blocker>),
}

/// The sessions, other than `exclude` and the control connection itself, that hold or await a lock
/// conflicting with `lock` on one of `tables` (rendered names), with their transaction's age.
pub(crate) async fn conflicting(
    conn: &mut PgConnection,
    tables: &[&str],
    lock: LockLevel,
    exclude: &[i32],
) -> Result<Vec<Blocker>, sqlx::Error> {
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    // A blocker's row (see `blockers::Row`) and the lock mode.
    type Row = (i32, String, Option<String>, String, Option<f64>, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.pid, coalesce(a.application_name, ''), a.state, coalesce(a.query, ''),
                (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8, l.mode
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'relation'
           AND l.relation IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)
           AND l.pid <> ALL ($2::int4[]) AND l.pid <> pg_backend_pid()
         ORDER BY a.xact_start NULLS LAST, a.pid",
    )
    .bind(&tables)
    .bind(exclude)
    .fetch_all(conn)
    .await?;
    let mut found: Vec<Blocker> = Vec::new();
    for (pid, app, state, query, age, mode) in rows {
        let conflicts =
            LockLevel::from_pg_locks_mode(&mode).is_some_and(|m| m.conflicts_with(lock));
        if conflicts && !found.iter().any(|b| b.pid == pid) {
            found.extend(blockers::from_rows(vec![(pid, app, state, query, age)]));
        }
    }
    Ok(found)
}

/// Waits, polling, until no transaction older than `old_after` holds or awaits a lock conflicting
/// with the step's on its tables, or until `deadline`. `exclude`: the migrator's own step session.
pub(crate) async fn wait_until_clear(
    control: &mut PgConnection,
    tables: &[&str],
    lock: LockLevel,
    exclude: &[i32],
    strategy: LockStrategy,
    step_lock_timeout: Duration,
    deadline: Instant,
) -> Result<Clear, sqlx::Error> {
    let LockStrategy::LookFirst {
        old_after,
        attempt_lock_timeout,
        poll,
    } = strategy
    else {
        return Ok(Clear::Attempt(step_lock_timeout));
    };
    let attempt = attempt_lock_timeout.min(step_lock_timeout);
    if !lock.blocks_writes() || tables.is_empty() {
        return Ok(Clear::Attempt(step_lock_timeout));
    }
    let mut reported = None::<Instant>;
    loop {
        let old: Vec<Blocker> = conflicting(control, tables, lock, exclude)
            .await?
            .into_iter()
            .filter(|b| b.transaction_age.is_some_and(|age| age >= old_after))
            .collect();
        if old.is_empty() {
            return Ok(Clear::Attempt(attempt));
        }
        if Instant::now() + poll >= deadline {
            return Ok(Clear::Blocked(old));
        }
        if reported.map_or(true, |at| at.elapsed() >= Duration::from_secs(5)) {
            tracing::warn!(
                tables = %tables.join(", "),
                lock = %lock,
                blockers = %blockers::list(&old),
                "waiting, without queueing for the lock, for old transactions holding conflicting locks to end"
            );
            reported = Some(Instant::now());
        }
        tokio::time::sleep(poll).await;
    }
}
