//! How a backfill sizes its batches and when it holds back: batches adapt to a target duration,
//! follow each other without a pause while the database is healthy, and throttle on what the
//! server shows (replica replay lag, sessions waiting for the batch's row locks, vacuum on the
//! table) and on the application's own health callback.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgConnection;
use tokio::time::Instant;

use crate::plan::{Backfill, Pace};

/// What the application's health callback
/// ([`Migrator::backfill_health`](crate::Migrator::backfill_health)) answers before each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Go on.
    Healthy,
    /// Pause this long (the batch after it is halved), then ask again.
    Pause(Duration),
}

/// The pause after an unhealthy `false` from the health callback.
pub(crate) const UNHEALTHY_PAUSE: Duration = Duration::from_millis(250);

impl From<bool> for Health {
    /// `true` is [`Health::Healthy`]; `false` pauses 250 ms.
    fn from(healthy: bool) -> Health {
        if healthy {
            Health::Healthy
        } else {
            Health::Pause(UNHEALTHY_PAUSE)
        }
    }
}

impl From<Duration> for Health {
    /// A zero duration is [`Health::Healthy`]; any other pauses that long.
    fn from(pause: Duration) -> Health {
        if pause.is_zero() {
            Health::Healthy
        } else {
            Health::Pause(pause)
        }
    }
}

/// The callback given to [`Migrator::backfill_health`](crate::Migrator::backfill_health).
#[derive(Clone)]
pub(crate) struct HealthCheck(pub(crate) Arc<dyn Fn() -> Health + Send + Sync + 'static>);

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HealthCheck(..)")
    }
}

/// The longest pause after a batch that made sessions wait for its row locks.
const LOCK_WAIT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// Sizes the batches of one backfill.
#[derive(Debug)]
pub(crate) struct Sizer {
    size: u64,
    min: u64,
    max: u64,
    adaptive: bool,
    target: Duration,
    busy_target: Duration,
}

impl Sizer {
    pub(crate) fn new(b: &Backfill) -> Sizer {
        let start = b.batch_size.max(1);
        Sizer {
            size: start,
            min: Pace::MIN_BATCH.min(start),
            max: Pace::MAX_BATCH.max(start),
            adaptive: b.pace.adaptive(),
            target: b.pace.target_batch(),
            busy_target: b.pace.busy_target_batch(),
        }
    }

    /// The size of the next batch.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Adapts to a batch of `size` rows that found `passed` rows and took `took`: towards the
    /// target duration (the shorter one while other sessions are `busy`), by at most x2 up and /2
    /// down, within the bounds. `hold` keeps it from growing (vacuum on the table). A short batch
    /// (the pass's last) says nothing about speed.
    pub(crate) fn after_batch(&mut self, passed: u64, took: Duration, hold: bool, busy: bool) {
        if !self.adaptive || passed < self.size || took.is_zero() {
            return;
        }
        let target = if busy { self.busy_target } else { self.target };
        let ratio = target.as_secs_f64() / took.as_secs_f64();
        // Within 20% of the target: stay, so the size does not oscillate around it.
        if (0.8..=1.25).contains(&ratio) || (hold && ratio > 1.0) {
            return;
        }
        let next = (self.size as f64 * ratio.clamp(0.5, 2.0)).round() as u64;
        self.size = next.clamp(self.min, self.max);
    }

    /// Halves the next batch (a retried batch, lock waits, an unhealthy application), not below the
    /// lower bound. Fixed batches keep their size.
    pub(crate) fn shrink(&mut self) {
        if self.adaptive {
            self.size = (self.size / 2).max(self.min);
        }
    }

    /// The pause after a batch that took `took` and made sessions wait for its row locks: as long
    /// as the batch held them, at most a second.
    pub(crate) fn lock_wait_pause(took: Duration) -> Duration {
        took.min(LOCK_WAIT_PAUSE_MAX)
    }
}

/// Rest after each batch while the application's health callback has recently asked for a pause:
/// a multiple of the batch's own time (a duty cycle), doubled by every pause asked for (from 1/2 up
/// to 8) and lowered by 1/10 after every batch, so it is back at zero about ten batches after the
/// last complaint per unit. Pausing only while the callback complains lets the batches hurt the
/// application again as soon as it recovers; resting in proportion keeps them spread out while
/// the application is near its limit. Without a callback, or while it never complains, nothing rests.
#[derive(Debug, Default)]
pub(crate) struct Rest {
    ratio: f64,
}

impl Rest {
    const FIRST: f64 = 0.5;
    const MAX: f64 = 8.0;
    const DECAY: f64 = 0.1;

    /// The health callback asked for a pause.
    pub(crate) fn unhealthy(&mut self) {
        self.ratio = (self.ratio * 2.0).clamp(Self::FIRST, Self::MAX);
    }

    /// The rest after a batch that took `took` (zero when the application did not complain lately).
    pub(crate) fn after(&mut self, took: Duration) -> Duration {
        let rest = took.mul_f64(self.ratio);
        self.ratio = (self.ratio - Self::DECAY).max(0.0);
        rest
    }
}

/// How long a backfill rests while other sessions use the server: its batches take at most
/// `percent` of the time. The rest before a batch makes up the rest of the previous batch's share,
/// less what it already rested or paused since that batch for other reasons (lock waits, vacuum,
/// replica lag, the application's health), so the pauses do not add up.
#[derive(Debug)]
pub(crate) struct Share {
    percent: u8,
    /// The previous batch's duration and what it rested after it already.
    last: Option<(Duration, Duration)>,
}

impl Share {
    pub(crate) fn new(percent: u8) -> Share {
        Share {
            percent: percent.clamp(1, 100),
            last: None,
        }
    }

    /// A batch took `took`, and `rested` followed it.
    pub(crate) fn after_batch(&mut self, took: Duration, rested: Duration) {
        self.last = Some((took, rested));
    }

    /// The rest before the next batch, when the backfill already `paused` that long since the
    /// previous one for other reasons (replica lag, the application's health): none on a server
    /// nobody else uses (`busy` false), before the first batch, or at 100%.
    pub(crate) fn rest(&mut self, busy: bool, paused: Duration) -> Duration {
        let Some((took, rested)) = self.last.take() else {
            return Duration::ZERO;
        };
        if !busy {
            return Duration::ZERO;
        }
        let idle = f64::from(100 - self.percent) / f64::from(self.percent);
        took.mul_f64(idle)
            .saturating_sub(rested)
            .saturating_sub(paused)
    }
}

/// What the server showed before a batch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Signals {
    /// The largest replica replay lag, when there are replicas whose positions are visible.
    pub(crate) replica_lag: Option<Duration>,
    /// Whether a vacuum (auto or manual) is running on the table.
    pub(crate) vacuum: bool,
    /// Whether other sessions of the database ran statements since the signals were last read (or
    /// run one now).
    pub(crate) busy: bool,
}

/// One round trip: the WAL position, the slowest replica's replay position and reported replay
/// lag, replicas whose positions are hidden (no `pg_monitor`), vacuum on the table, the client
/// sessions of this database other than the migrator's (`application_name` `$2`) that run a
/// statement or ran one since `$3` (the previous read's clock; only running ones when `NULL`),
/// the sessions of the database whose type and state the role may not see (another role's,
/// without `pg_read_all_stats`), which count as at work, and the clock. Other databases are left
/// out: a busy neighbour would slow every backfill here, and the application a backfill must not
/// disturb is the one using its table.
const SIGNALS_SQL: &str = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8, \
     (SELECT min(pg_wal_lsn_diff(replay_lsn, '0/0'))::float8 FROM pg_stat_replication WHERE replay_lsn IS NOT NULL), \
     (SELECT (extract(epoch FROM max(replay_lag)) * 1000)::float8 FROM pg_stat_replication), \
     (SELECT count(*) FROM pg_stat_replication WHERE replay_lsn IS NULL AND state = 'streaming'), \
     EXISTS (SELECT 1 FROM pg_stat_progress_vacuum WHERE relid = to_regclass($1)), \
     (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
        AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM $2 \
        AND (backend_type = 'client backend' AND (state = 'active' OR state_change >= to_timestamp($3)) \
             OR backend_type IS NULL)), \
     (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
        AND application_name IS DISTINCT FROM $2 AND backend_type IS NULL), \
     extract(epoch FROM clock_timestamp())::float8";

/// A row of [`SIGNALS_SQL`]: WAL position, slowest replay position, largest `replay_lag` in
/// milliseconds, replicas with hidden positions, vacuum on the table, other sessions at work, the
/// sessions whose state is hidden, the server's clock.
type SignalsRow = (f64, Option<f64>, Option<f64>, i64, bool, i64, i64, f64);

/// Reads the server's signals and estimates replica lag over time.
///
/// Replay lag is the larger of `pg_stat_replication.replay_lag` and an estimate from WAL
/// positions: the WAL position is sampled before every batch, and a replica whose replay position
/// is behind the sample taken at `t` has not replayed WAL written after `t`, so it lags at least
/// `now - t` (to within one batch). The estimate also covers a replica whose replay stopped
/// (`replay_lag` only moves when the replica replays something).
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// (when, WAL position) samples newer than the slowest replica's position.
    samples: VecDeque<(Instant, f64)>,
    /// The server's clock at the previous read (seconds since the epoch): sessions that ran a statement since are at work.
    last_read: Option<f64>,
    warned_hidden: bool,
    warned_hidden_sessions: bool,
    warned_error: bool,
}

impl Watch {
    /// Reads the signals for `table`, counting the sessions of `application_name` (the migrator's)
    /// as idle; `None` when the query failed (logged once).
    pub(crate) async fn read(
        &mut self,
        control: &mut PgConnection,
        table: &str,
        application_name: &str,
    ) -> Option<Signals> {
        let row: Result<SignalsRow, _> = sqlx::query_as(SIGNALS_SQL)
            .bind(table)
            .bind(application_name)
            .bind(self.last_read)
            .fetch_one(control)
            .await;
        let (current, replay, reported_ms, hidden, vacuum, others, hidden_sessions, clock) =
            match row {
                Ok(row) => row,
                Err(e) => {
                    if !std::mem::replace(&mut self.warned_error, true) {
                        tracing::warn!(error = %e, "reading replica lag, vacuum and other sessions' activity failed; the backfill does not throttle on them");
                    }
                    return None;
                }
            };
        self.last_read = Some(clock);
        if hidden_sessions > 0 && !std::mem::replace(&mut self.warned_hidden_sessions, true) {
            tracing::warn!(
                sessions = hidden_sessions,
                "the state of some sessions of the database is hidden from the migration's role; the backfill counts them as at work and takes only its share of the time beside them (`backfill_busy_percent`); grant the role `pg_read_all_stats` (or `pg_monitor`) so it can tell whether they are"
            );
        }
        if hidden > 0 && !std::mem::replace(&mut self.warned_hidden, true) {
            tracing::warn!(
                replicas = hidden,
                "the positions of some streaming replicas are hidden from the migration's role; grant it `pg_monitor` so the backfill can throttle on their lag"
            );
        }
        let now = Instant::now();
        let replica_lag = replay.map(|replay| {
            let estimated = self.estimate(now, current, replay);
            let reported = Duration::from_secs_f64(reported_ms.unwrap_or(0.0).max(0.0) / 1000.0);
            estimated.max(reported)
        });
        if replay.is_none() {
            self.samples.clear();
        }
        Some(Signals {
            replica_lag,
            vacuum,
            busy: others > 0,
        })
    }

    fn estimate(&mut self, now: Instant, current: f64, replay: f64) -> Duration {
        self.samples.push_back((now, current));
        if replay >= current {
            self.samples.clear();
            self.samples.push_back((now, current));
            return Duration::ZERO;
        }
        // The newest sample the replica has replayed: everything after it is not replayed yet.
        let replayed = self.samples.iter().rposition(|(_, lsn)| *lsn <= replay);
        let since = match replayed {
            Some(i) => {
                self.samples.drain(..i);
                self.samples[0].0
            }
            // Behind every sample: at least as old as the oldest.
            None => self.samples[0].0,
        };
        now.duration_since(since)
    }
}

/// How often a paused backfill looks at replica lag again: a tenth of the limit, within bounds.
pub(crate) fn lag_poll(limit: Duration) -> Duration {
    (limit / 10).clamp(Duration::from_millis(20), Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Backfill;

    fn backfill(batch_size: u64, pace: Pace) -> Backfill {
        Backfill {
            table: "t",
            key: &[],
            set_sql: "",
            pending_sql: "",
            batch_size,
            pause_ms: 0,
            columns: &[],
            fire_user_triggers: false,
            pace,
        }
    }

    #[test]
    fn grows_and_shrinks_by_bounded_factors_within_bounds() {
        let mut s = Sizer::new(&backfill(1_000, Pace::DEFAULT));
        let ms = Duration::from_millis;
        s.after_batch(1_000, ms(15), false, false);
        assert_eq!(s.size(), 2_000, "x2 at most");
        s.after_batch(2_000, ms(100), false, false);
        assert_eq!(s.size(), 3_000, "towards 150 ms");
        s.after_batch(3_000, ms(140), false, false);
        assert_eq!(s.size(), 3_000, "close enough");
        s.after_batch(3_000, ms(3_000), false, false);
        assert_eq!(s.size(), 1_500, "/2 at most");
        s.after_batch(10, ms(1), false, false);
        assert_eq!(s.size(), 1_500, "a short batch says nothing");
        s.after_batch(1_500, ms(50), true, false);
        assert_eq!(s.size(), 1_500, "held: no growth");
        s.after_batch(1_500, ms(150), false, true);
        assert_eq!(s.size(), 750, "others at work: towards 50 ms");
        s.after_batch(750, ms(50), false, true);
        assert_eq!(s.size(), 750);
        s.after_batch(750, ms(50), false, false);
        assert_eq!(s.size(), 1_500, "alone again: towards 150 ms");
        for _ in 0..30 {
            let size = s.size();
            s.after_batch(size, ms(1), false, false);
        }
        assert_eq!(s.size(), Pace::MAX_BATCH);
        for _ in 0..30 {
            s.shrink();
        }
        assert_eq!(s.size(), Pace::MIN_BATCH);
    }

    #[test]
    fn a_written_batch_size_is_fixed_unless_a_target_is_written_too() {
        let mut s = Sizer::new(&backfill(500, Pace::FIXED));
        s.after_batch(500, Duration::from_millis(1), false, true);
        s.shrink();
        assert_eq!(s.size(), 500);
        let pace = Pace {
            target_batch_ms: 10,
            ..Pace::FIXED
        };
        let mut s = Sizer::new(&backfill(50, pace));
        s.after_batch(50, Duration::from_millis(1), false, false);
        assert_eq!(s.size(), 100);
        for _ in 0..10 {
            s.shrink();
        }
        assert_eq!(
            s.size(),
            50,
            "the lower bound is the written size when it is smaller"
        );
    }

    #[test]
    fn rest_grows_with_complaints_and_fades_after_them() {
        let ms = Duration::from_millis;
        let mut r = Rest::default();
        assert_eq!(r.after(ms(100)), Duration::ZERO, "never asked: no rest");
        r.unhealthy();
        assert_eq!(r.after(ms(100)), ms(50));
        r.unhealthy();
        r.unhealthy();
        assert_eq!(r.after(ms(100)), ms(160), "0.4 doubled twice");
        for _ in 0..10 {
            r.unhealthy();
        }
        assert_eq!(r.after(ms(10)), ms(80), "at most 8 times the batch");
        for _ in 0..100 {
            r.after(ms(10));
        }
        assert_eq!(r.after(ms(100)), Duration::ZERO, "faded");
    }

    #[test]
    fn a_busy_server_gets_the_rest_of_each_batch_s_share() {
        let ms = Duration::from_millis;
        let mut share = Share::new(20);
        let zero = Duration::ZERO;
        assert_eq!(share.rest(true, zero), zero, "before the first batch");
        share.after_batch(ms(100), zero);
        assert_eq!(share.rest(true, zero), ms(400), "20%: four times the batch");
        assert_eq!(share.rest(true, zero), zero, "once per batch");
        share.after_batch(ms(100), ms(150));
        assert_eq!(
            share.rest(true, zero),
            ms(250),
            "less what it rested already"
        );
        share.after_batch(ms(100), ms(150));
        assert_eq!(
            share.rest(true, ms(200)),
            ms(50),
            "and what it paused since"
        );
        share.after_batch(ms(100), ms(500));
        assert_eq!(share.rest(true, zero), zero);
        share.after_batch(ms(100), zero);
        assert_eq!(share.rest(false, zero), zero, "nobody else at work");
        let mut all = Share::new(100);
        all.after_batch(ms(100), zero);
        assert_eq!(all.rest(true, zero), zero);
        let mut default = Share::new(Pace::DEFAULT_BUSY_PERCENT);
        default.after_batch(ms(80), zero);
        assert_eq!(
            default.rest(true, zero),
            ms(80).mul_f64(97.0 / 3.0),
            "3%: 32 times the batch and a third"
        );
    }

    #[test]
    fn lag_from_positions_counts_from_the_newest_replayed_sample() {
        let mut w = Watch::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(w.estimate(t0, 100.0, 100.0), Duration::ZERO);
        assert_eq!(w.estimate(t0 + s(1), 200.0, 100.0), s(1));
        assert_eq!(w.estimate(t0 + s(2), 300.0, 100.0), s(2));
        // Replayed up to the sample at 1 s.
        assert_eq!(w.estimate(t0 + s(3), 400.0, 200.0), s(2));
        assert_eq!(w.estimate(t0 + s(4), 400.0, 400.0), Duration::ZERO);
        // Behind every sample (WAL written before the first one): at least as old as the oldest.
        let mut w = Watch::default();
        assert_eq!(w.estimate(t0, 100.0, 50.0), Duration::ZERO);
        assert_eq!(w.estimate(t0 + s(5), 100.0, 50.0), s(5));
    }
}
