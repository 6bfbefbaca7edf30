//! Fault points: conditions the parent polls for (on the database the runner works on), then a
//! random extra delay, then the fault.

use std::time::Duration;

use sqlx::PgConnection;
use tokio::time::Instant;

use super::rng::Rng;
use super::set;

/// Where to inject a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// While the runner's session builds `index` concurrently, `delay` after the build was seen.
    DuringBuild {
        index: &'static str,
        delay: Duration,
    },
    /// While a batch of the backfill runs, `delay` after it was seen.
    DuringBackfill { delay: Duration },
    /// Once a contract phase started (`complete`), `delay` later.
    DuringComplete { delay: Duration },
    /// Once at least `steps` steps are recorded done, `delay` later (between steps, or early in the
    /// next one).
    AfterSteps { steps: i64, delay: Duration },
    /// `delay` after the runner started.
    After { delay: Duration },
}

/// The slow concurrent builds of the set.
pub const SLOW_BUILDS: [&str; 3] = [
    "events_slow_idx",
    "events_slow_uniq",
    "events_kind_slow_uniq",
];

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Point::DuringBuild { index, delay } => {
                write!(f, "{} ms into the build of {index}", delay.as_millis())
            }
            Point::DuringBackfill { delay } => {
                write!(f, "{} ms into a backfill batch", delay.as_millis())
            }
            Point::DuringComplete { delay } => {
                write!(f, "{} ms into `complete`", delay.as_millis())
            }
            Point::AfterSteps { steps, delay } => write!(
                f,
                "{} ms after step {steps} was recorded done",
                delay.as_millis()
            ),
            Point::After { delay } => write!(f, "{} ms after the start", delay.as_millis()),
        }
    }
}

/// How far the database is: steps recorded done, the slow indexes already valid, whether the
/// backfill and the contract phases are still ahead.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub done_steps: i64,
    pub valid: Vec<String>,
    pub backfill_ahead: bool,
    pub complete_ahead: bool,
}

impl Progress {
    pub async fn read(conn: &mut PgConnection) -> Progress {
        let done_steps = done_steps(conn).await;
        let valid: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indisvalid AND c.relnamespace = 'public'::regnamespace",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let column: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email_lower')")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        let backfill_ahead = !column
            || sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM users WHERE email_lower IS NULL)",
            )
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let exists: bool =
            sqlx::query_scalar("SELECT to_regclass('zerodown_migrations') IS NOT NULL")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        let completed: i64 = if exists {
            sqlx::query_scalar("SELECT count(*) FROM zerodown_migrations WHERE state = 'completed'")
                .fetch_one(&mut *conn)
                .await
                .unwrap()
        } else {
            0
        };
        Progress {
            done_steps,
            valid,
            backfill_ahead,
            complete_ahead: completed < set::migrations().len() as i64,
        }
    }
}

async fn done_steps(conn: &mut PgConnection) -> i64 {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('zerodown_migrations_steps') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    if !exists {
        return 0;
    }
    sqlx::query_scalar("SELECT count(*) FROM zerodown_migrations_steps WHERE state = 'done'")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A random point still ahead of `progress`: during a slow build not done yet (30 %), during a
/// backfill batch (12 %), during `complete` (12 %), after a later step (26 %), or at a random time
/// within `horizon` (20 %).
pub fn choose(rng: &mut Rng, progress: &Progress, horizon: Duration) -> Point {
    let pending_builds: Vec<&'static str> = SLOW_BUILDS
        .iter()
        .copied()
        .filter(|i| !progress.valid.iter().any(|v| v == i))
        .collect();
    let total = set::total_steps() as i64;
    let roll = rng.below(100);
    if roll < 30 && !pending_builds.is_empty() {
        let index = pending_builds[rng.below(pending_builds.len() as u64) as usize];
        return Point::DuringBuild {
            index,
            delay: rng.delay(Duration::from_millis(230)),
        };
    }
    if (30..42).contains(&roll) && progress.backfill_ahead {
        return Point::DuringBackfill {
            delay: rng.delay(Duration::from_millis(40)),
        };
    }
    if (42..54).contains(&roll) && progress.complete_ahead {
        return Point::DuringComplete {
            delay: rng.delay(Duration::from_millis(30)),
        };
    }
    if roll < 80 && progress.done_steps < total - 1 {
        let steps = rng.between(progress.done_steps as u64 + 1, total as u64 - 1) as i64;
        return Point::AfterSteps {
            steps,
            delay: rng.delay(Duration::from_millis(15)),
        };
    }
    Point::After {
        delay: rng.delay(horizon),
    }
}

/// What happened while waiting for a point.
#[derive(Debug)]
pub enum Reached {
    /// The point was reached and the runner still runs.
    Yes,
    /// The runner ended first.
    Ended,
    /// Neither within the limit.
    TimedOut,
}

/// Waits until `point` is reached by the runner whose sessions are named `app`, or until `ended`
/// says the runner (a child process or a task) has ended: a runner that fails or finishes before the
/// point must not leave the caller waiting for a point that never comes.
pub async fn reach(
    conn: &mut PgConnection,
    point: &Point,
    app: &str,
    mut ended: impl FnMut() -> bool,
    limit: Duration,
) -> Reached {
    let deadline = Instant::now() + limit;
    let poll = Duration::from_millis(3);
    loop {
        if ended() {
            return Reached::Ended;
        }
        let hit = match point {
            Point::DuringBuild { index, .. } => sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                 AND application_name = $1 AND state = 'active' AND query LIKE 'CREATE %INDEX CONCURRENTLY \"' || $2 || '\"%')",
            )
            .bind(app)
            .bind(index)
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
            Point::DuringBackfill { .. } => sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                 AND application_name = $1 AND state = 'active' AND query LIKE 'UPDATE \"users\" SET \"email_lower\"%')",
            )
            .bind(app)
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
            Point::DuringComplete { .. } => {
                let exists: bool =
                    sqlx::query_scalar("SELECT to_regclass('zerodown_migrations') IS NOT NULL").fetch_one(&mut *conn).await.unwrap();
                exists
                    && sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM zerodown_migrations WHERE state = 'completing')")
                        .fetch_one(&mut *conn)
                        .await
                        .unwrap()
            }
            Point::AfterSteps { steps, .. } => done_steps(conn).await >= *steps,
            Point::After { .. } => true,
        };
        if hit {
            let delay = match point {
                Point::DuringBuild { delay, .. }
                | Point::DuringBackfill { delay }
                | Point::DuringComplete { delay }
                | Point::AfterSteps { delay, .. }
                | Point::After { delay } => *delay,
            };
            tokio::time::sleep(delay).await;
            if ended() {
                return Reached::Ended;
            }
            return Reached::Yes;
        }
        if Instant::now() >= deadline {
            return Reached::TimedOut;
        }
        tokio::time::sleep(poll).await;
    }
}
