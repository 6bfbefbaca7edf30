//! Progress of a running backfill: the [`BackfillProgress`] snapshots given to the callback set with
//! [`Migrator::on_progress`](crate::Migrator::on_progress), and the periodic `tracing` log.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::status::{MigrationId, PhaseKind};

/// Where a backfill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackfillStage {
    /// The main pass: keyset batches from the start of the key (or the saved cursor) to its end.
    Batches,
    /// Counting the rows that still match the pending predicate after a pass.
    Verifying,
    /// Another pass over the rows that still need the update (written concurrently, behind the
    /// cursor, without the new value). `round` counts from 1.
    Sweep {
        /// Which sweep this is.
        round: u32,
    },
    /// Verified: no row needs the backfill; the step is recorded done.
    Done,
}

impl fmt::Display for BackfillStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackfillStage::Batches => f.write_str("batches"),
            BackfillStage::Verifying => f.write_str("verifying"),
            BackfillStage::Sweep { round } => write!(f, "sweep {round}"),
            BackfillStage::Done => f.write_str("done"),
        }
    }
}

/// Whether a backfill is writing or holding back, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackfillState {
    /// Running batches.
    Working,
    /// Holding back (paused, or batches shrunk and spaced) because of `reason`.
    Throttled(ThrottleReason),
}

impl fmt::Display for BackfillState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackfillState::Working => f.write_str("working"),
            BackfillState::Throttled(reason) => write!(f, "throttled: {reason}"),
        }
    }
}

/// Why a backfill holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThrottleReason {
    /// A streaming replica's replay lag passed `backfill_max_replica_lag`: paused until it is
    /// below half of it.
    ReplicaLag,
    /// Sessions waited for row locks the last batch held: the batch shrinks and a short pause follows.
    LockWaits,
    /// (Auto)vacuum is running on the table: batches stop growing and are spaced.
    Autovacuum,
    /// The application's health callback ([`Migrator::backfill_health`](crate::Migrator::backfill_health))
    /// asked for a pause.
    Application,
    /// Other sessions use the server: the backfill rests so that its batches take at most their
    /// share of the time ([`Migrator::backfill_busy_percent`](crate::Migrator::backfill_busy_percent)).
    Busy,
}

impl fmt::Display for ThrottleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ThrottleReason::ReplicaLag => "replica lag",
            ThrottleReason::LockWaits => "lock waits",
            ThrottleReason::Autovacuum => "autovacuum",
            ThrottleReason::Application => "application health",
            ThrottleReason::Busy => "other sessions at work",
        })
    }
}

/// A snapshot of a running backfill, delivered after every batch and at every change of stage.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BackfillProgress {
    /// The migration.
    pub migration: MigrationId,
    /// The phase the backfill step belongs to.
    pub phase: PhaseKind,
    /// 0-based index of the step in its phase.
    pub step: usize,
    /// The step's description.
    pub description: &'static str,
    /// The table, rendered.
    pub table: &'static str,
    /// The stage.
    pub stage: BackfillStage,
    /// Rows updated so far, earlier (interrupted) runs included.
    pub rows_updated: u64,
    /// Rows whose key the main pass has passed, earlier runs included: the numerator of a
    /// percentage against [`estimated_total`](Self::estimated_total).
    pub rows_passed: u64,
    /// Batches committed, earlier runs included.
    pub batches: u64,
    /// Rows in the table when the backfill started (`pg_class.reltuples`, or a count when the
    /// table was never analyzed); `None` when unknown.
    pub estimated_total: Option<u64>,
    /// Time spent in this run.
    pub elapsed: Duration,
    /// Rows updated per second in this run.
    pub rows_per_second: f64,
    /// Rows passed per second over the last few seconds: what the [`eta`](Self::eta) uses.
    pub recent_rows_per_second: f64,
    /// Working or throttled, and why.
    pub state: BackfillState,
    /// The size of the next batch (it adapts to the target batch duration unless fixed).
    pub batch_size: u64,
    /// The largest replay lag of the streaming replicas, as last measured; `None` without
    /// replicas (or without the privilege to see their positions, `pg_monitor`).
    pub replica_lag: Option<Duration>,
    /// Time left for the main pass: rows left against [`estimated_total`](Self::estimated_total)
    /// over [`recent_rows_per_second`](Self::recent_rows_per_second); `None` without an estimate
    /// or a rate yet.
    pub eta: Option<Duration>,
}

impl BackfillProgress {
    /// [`rows_passed`](Self::rows_passed) over [`estimated_total`](Self::estimated_total), at most
    /// 1.0; `None` without an estimate.
    pub fn fraction(&self) -> Option<f64> {
        let total = self.estimated_total.filter(|t| *t > 0)?;
        Some((self.rows_passed as f64 / total as f64).min(1.0))
    }
}

impl fmt::Display for BackfillProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backfill of {} ({}): {} rows updated in {} batches",
            self.table, self.stage, self.rows_updated, self.batches
        )?;
        if let (Some(total), Some(fraction)) = (self.estimated_total, self.fraction()) {
            write!(
                f,
                ", {} of ~{total} rows passed ({:.1}%)",
                self.rows_passed,
                fraction * 100.0
            )?;
        }
        write!(f, ", {:.0} rows/s", self.recent_rows_per_second)?;
        if let Some(eta) = self.eta {
            write!(f, ", eta {}s", eta.as_secs())?;
        }
        write!(f, ", {}", self.state)
    }
}

/// The callback given to [`Migrator::on_progress`](crate::Migrator::on_progress).
#[derive(Clone)]
pub(crate) struct ProgressSink(pub(crate) Arc<dyn Fn(&BackfillProgress) + Send + Sync + 'static>);

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressSink(..)")
    }
}

/// How often the progress is logged through `tracing` while batches run.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Keeps the counters of one backfill run and reports them.
pub(crate) struct Reporter<'a> {
    pub(crate) current: BackfillProgress,
    sink: Option<&'a ProgressSink>,
    started: Instant,
    rows_this_run: u64,
    last_log: Instant,
    /// (when, rows passed) at recent batches, for the recent rate.
    window: std::collections::VecDeque<(Instant, u64)>,
}

/// How far back the recent rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(10);

impl<'a> Reporter<'a> {
    pub(crate) fn new(current: BackfillProgress, sink: Option<&'a ProgressSink>) -> Reporter<'a> {
        let now = Instant::now();
        Reporter {
            current,
            sink,
            started: now,
            rows_this_run: 0,
            last_log: now,
            window: std::collections::VecDeque::new(),
        }
    }

    /// Counts a committed batch.
    pub(crate) fn batch(&mut self, updated: u64, passed: u64) {
        self.current.rows_updated += updated;
        self.current.rows_passed += passed;
        self.current.batches += 1;
        self.rows_this_run += updated;
        self.current.state = BackfillState::Working;
        let now = Instant::now();
        if self.window.is_empty() {
            self.window
                .push_back((self.started, self.current.rows_passed - passed));
        }
        self.window.push_back((now, self.current.rows_passed));
        while self.window.len() > 2 && now.duration_since(self.window[1].0) >= RATE_WINDOW {
            self.window.pop_front();
        }
        self.emit(false);
    }

    /// Reports that the backfill holds back for `reason`.
    pub(crate) fn throttled(&mut self, reason: ThrottleReason) {
        self.current.state = BackfillState::Throttled(reason);
        self.emit(false);
    }

    /// Moves to `stage` and reports it.
    pub(crate) fn stage(&mut self, stage: BackfillStage) {
        self.current.stage = stage;
        self.emit(true);
    }

    fn emit(&mut self, force_log: bool) {
        let elapsed = self.started.elapsed();
        self.current.elapsed = elapsed;
        let secs = elapsed.as_secs_f64();
        self.current.rows_per_second = if secs > 0.0 {
            self.rows_this_run as f64 / secs
        } else {
            0.0
        };
        if let (Some(&(t0, p0)), Some(&(t1, p1))) = (self.window.front(), self.window.back()) {
            let secs = t1.duration_since(t0).as_secs_f64();
            if secs > 0.0 {
                self.current.recent_rows_per_second = (p1 - p0) as f64 / secs;
            }
        }
        let rate = self.current.recent_rows_per_second;
        self.current.eta = match (self.current.estimated_total, self.current.stage) {
            (Some(total), BackfillStage::Batches) if rate > 0.0 => Some(Duration::from_secs_f64(
                total.saturating_sub(self.current.rows_passed) as f64 / rate,
            )),
            (_, BackfillStage::Done) => Some(Duration::ZERO),
            _ => None,
        };
        if force_log || self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let p = &self.current;
            tracing::info!(
                version = p.migration.version,
                step = p.step + 1,
                table = p.table,
                stage = %p.stage,
                rows_updated = p.rows_updated,
                rows_passed = p.rows_passed,
                batches = p.batches,
                estimated_total = p.estimated_total,
                rows_per_second = p.recent_rows_per_second as u64,
                eta_s = p.eta.map(|e| e.as_secs()),
                batch_size = p.batch_size,
                state = %p.state,
                "backfill progress"
            );
        }
        if let Some(sink) = self.sink {
            (sink.0)(&self.current);
        }
    }
}
