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
        write!(f, ", {:.0} rows/s", self.rows_per_second)
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
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(current: BackfillProgress, sink: Option<&'a ProgressSink>) -> Reporter<'a> {
        let now = Instant::now();
        Reporter {
            current,
            sink,
            started: now,
            rows_this_run: 0,
            last_log: now,
        }
    }

    /// Counts a committed batch.
    pub(crate) fn batch(&mut self, updated: u64, passed: u64) {
        self.current.rows_updated += updated;
        self.current.rows_passed += passed;
        self.current.batches += 1;
        self.rows_this_run += updated;
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
                rows_per_second = p.rows_per_second as u64,
                "backfill progress"
            );
        }
        if let Some(sink) = self.sink {
            (sink.0)(&self.current);
        }
    }
}
