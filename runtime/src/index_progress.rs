//! Progress of a concurrent index build, read from `pg_stat_progress_create_index` (PostgreSQL 12+),
//! for [`StepEvent::Building`](crate::StepEvent::Building).
//!
//! A build goes through phases of very different lengths (two scans of the table, a sort, waits for
//! older transactions whose length nobody knows), so the estimate given is for the phase under way,
//! from its own rate: an honest number for the long scans, none for the waits.

use std::fmt;
use std::time::Duration;

use sqlx::PgConnection;
use tokio::time::Instant;

/// The phase of a concurrent build, as `pg_stat_progress_create_index.phase` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexBuildPhase {
    /// Preparing the build.
    Initializing,
    /// Waiting for transactions that could write to the table (before the build or before the
    /// validation).
    WaitingForWriters,
    /// First pass: reading the table.
    ScanningTable,
    /// Sorting what the first pass read.
    SortingTuples,
    /// Writing the sorted entries into the index.
    LoadingTuples,
    /// Validation: reading the index built so far.
    ValidationScanningIndex,
    /// Validation: sorting those entries.
    ValidationSortingTuples,
    /// Validation: reading the table again for rows written during the build.
    ValidationScanningTable,
    /// Waiting for transactions that could still see the table as before the build.
    WaitingForOldSnapshots,
    /// Waiting for readers (a build on a partitioned table, or a drop).
    WaitingForReaders,
    /// A phase this version does not know.
    Other,
}

impl IndexBuildPhase {
    fn parse(phase: &str) -> IndexBuildPhase {
        match phase {
            "initializing" => IndexBuildPhase::Initializing,
            "waiting for writers before build" | "waiting for writers before validation" => {
                IndexBuildPhase::WaitingForWriters
            }
            "building index: scanning table" => IndexBuildPhase::ScanningTable,
            "building index: sorting live tuples" => IndexBuildPhase::SortingTuples,
            "building index: loading tuples in tree" => IndexBuildPhase::LoadingTuples,
            "index validation: scanning index" => IndexBuildPhase::ValidationScanningIndex,
            "index validation: sorting tuples" => IndexBuildPhase::ValidationSortingTuples,
            "index validation: scanning table" => IndexBuildPhase::ValidationScanningTable,
            "waiting for old snapshots" => IndexBuildPhase::WaitingForOldSnapshots,
            "waiting for readers before marking dead" | "waiting for readers before dropping" => {
                IndexBuildPhase::WaitingForReaders
            }
            _ => IndexBuildPhase::Other,
        }
    }
}

impl fmt::Display for IndexBuildPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IndexBuildPhase::Initializing => "initializing",
            IndexBuildPhase::WaitingForWriters => "waiting for writers",
            IndexBuildPhase::ScanningTable => "scanning the table",
            IndexBuildPhase::SortingTuples => "sorting",
            IndexBuildPhase::LoadingTuples => "loading the index",
            IndexBuildPhase::ValidationScanningIndex => "validation: scanning the index",
            IndexBuildPhase::ValidationSortingTuples => "validation: sorting",
            IndexBuildPhase::ValidationScanningTable => "validation: scanning the table",
            IndexBuildPhase::WaitingForOldSnapshots => "waiting for old snapshots",
            IndexBuildPhase::WaitingForReaders => "waiting for readers",
            IndexBuildPhase::Other => "building",
        })
    }
}

/// What a phase's counts count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkUnit {
    /// Table or index blocks (8 kB pages).
    Blocks,
    /// Index entries.
    Tuples,
    /// Transactions waited for.
    Transactions,
}

impl fmt::Display for WorkUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkUnit::Blocks => "blocks",
            WorkUnit::Tuples => "entries",
            WorkUnit::Transactions => "transactions",
        })
    }
}

/// A snapshot of a concurrent index build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexBuildProgress {
    /// The phase under way.
    pub phase: IndexBuildPhase,
    /// Work done in the phase, and its total, in `unit`; `None` when the phase counts nothing.
    pub work: Option<(u64, u64, WorkUnit)>,
    /// Time left in this phase at its rate so far; `None` until the phase has run for a second
    /// and moved, and in phases that wait for other transactions.
    pub phase_eta: Option<Duration>,
    /// Since the build started.
    pub elapsed: Duration,
}

impl fmt::Display for IndexBuildProgress {
    /// `scanning the table 41% (10240/24800 blocks), about 12 s left in this phase, 5.0 s in`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.phase)?;
        if let Some((done, total, unit)) = self.work {
            if let Some(percent) = (done.min(total) * 100).checked_div(total) {
                write!(f, " {percent}% ({done}/{total} {unit})",)?;
            }
        }
        if let Some(eta) = self.phase_eta {
            write!(f, ", about {} left in this phase", seconds(eta))?;
        }
        write!(f, ", {} in", seconds(self.elapsed))
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

/// Follows one build: where its current phase started, for the rate.
#[derive(Debug)]
pub(crate) struct Tracker {
    started: Instant,
    phase: Option<(IndexBuildPhase, Instant, u64)>,
}

/// One row of `pg_stat_progress_create_index`.
type Row = (String, i64, i64, i64, i64, i64, i64);

impl Tracker {
    pub(crate) fn new(started: Instant) -> Tracker {
        Tracker {
            started,
            phase: None,
        }
    }

    /// Reads the build running on backend `pid`; `None` when none is (not started yet, or over).
    pub(crate) async fn sample(
        &mut self,
        conn: &mut PgConnection,
        pid: i32,
    ) -> Result<Option<IndexBuildProgress>, sqlx::Error> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT phase, lockers_total, lockers_done, blocks_total, blocks_done, tuples_total, tuples_done
             FROM pg_stat_progress_create_index WHERE pid = $1",
        )
        .bind(pid)
        .fetch_optional(conn)
        .await?;
        Ok(row.map(|row| self.read(row, Instant::now())))
    }

    fn read(&mut self, row: Row, now: Instant) -> IndexBuildProgress {
        let (
            phase,
            lockers_total,
            lockers_done,
            blocks_total,
            blocks_done,
            tuples_total,
            tuples_done,
        ) = row;
        let phase = IndexBuildPhase::parse(&phase);
        let count = |done: i64, total: i64, unit| {
            (total > 0).then(|| (done.max(0) as u64, total as u64, unit))
        };
        let work = match phase {
            IndexBuildPhase::WaitingForWriters
            | IndexBuildPhase::WaitingForOldSnapshots
            | IndexBuildPhase::WaitingForReaders => {
                count(lockers_done, lockers_total, WorkUnit::Transactions)
            }
            IndexBuildPhase::ScanningTable | IndexBuildPhase::ValidationScanningTable => {
                count(blocks_done, blocks_total, WorkUnit::Blocks)
            }
            _ => count(tuples_done, tuples_total, WorkUnit::Tuples)
                .or_else(|| count(blocks_done, blocks_total, WorkUnit::Blocks)),
        };
        let done = work.map_or(0, |(done, _, _)| done);
        let since = match self.phase {
            Some((seen, since, first)) if seen == phase && first <= done => (since, first),
            _ => {
                self.phase = Some((phase, now, done));
                (now, done)
            }
        };
        IndexBuildProgress {
            phase,
            work,
            phase_eta: eta(phase, work, since, now),
            elapsed: now.saturating_duration_since(self.started),
        }
    }
}

/// Time left in the phase from its rate since `(since, first)`: only for phases that do work (a
/// wait's length depends on other transactions), after a second of it, once something moved.
fn eta(
    phase: IndexBuildPhase,
    work: Option<(u64, u64, WorkUnit)>,
    (since, first): (Instant, u64),
    now: Instant,
) -> Option<Duration> {
    let (done, total, unit) = work?;
    if unit == WorkUnit::Transactions || phase == IndexBuildPhase::Other {
        return None;
    }
    let ran = now.saturating_duration_since(since);
    if ran < Duration::from_secs(1) || done <= first {
        return None;
    }
    let rate = (done - first) as f64 / ran.as_secs_f64();
    Some(Duration::from_secs_f64(
        total.saturating_sub(done) as f64 / rate,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(phase: &str, blocks: (i64, i64), tuples: (i64, i64)) -> Row {
        (
            phase.to_owned(),
            0,
            0,
            blocks.1,
            blocks.0,
            tuples.1,
            tuples.0,
        )
    }

    #[test]
    fn the_estimate_is_the_phases_rate_applied_to_what_is_left() {
        let start = Instant::now();
        let mut t = Tracker::new(start);
        let first = t.read(
            row("building index: scanning table", (100, 1000), (0, 0)),
            start,
        );
        assert_eq!(first.phase, IndexBuildPhase::ScanningTable);
        assert_eq!(first.work, Some((100, 1000, WorkUnit::Blocks)));
        assert_eq!(first.phase_eta, None, "no rate yet");
        // 200 blocks in 2 s: 100 blocks/s, 700 left.
        let later = t.read(
            row("building index: scanning table", (300, 1000), (0, 0)),
            start + Duration::from_secs(2),
        );
        assert_eq!(later.phase_eta, Some(Duration::from_secs(7)));
        assert_eq!(later.elapsed, Duration::from_secs(2));
        assert_eq!(
            later.to_string(),
            "scanning the table 30% (300/1000 blocks), about 7.0 s left in this phase, 2.0 s in"
        );
        // A new phase starts its own rate.
        let loading = t.read(
            row(
                "building index: loading tuples in tree",
                (1000, 1000),
                (10, 5000),
            ),
            start + Duration::from_secs(3),
        );
        assert_eq!(loading.work, Some((10, 5000, WorkUnit::Tuples)));
        assert_eq!(loading.phase_eta, None);
    }

    #[test]
    fn waits_get_no_estimate() {
        let start = Instant::now();
        let mut t = Tracker::new(start);
        let waiting = ("waiting for old snapshots".to_owned(), 3, 1, 0, 0, 0, 0);
        t.read(waiting.clone(), start);
        let later = t.read(waiting, start + Duration::from_secs(5));
        assert_eq!(later.phase, IndexBuildPhase::WaitingForOldSnapshots);
        assert_eq!(later.work, Some((1, 3, WorkUnit::Transactions)));
        assert_eq!(later.phase_eta, None);
    }
}
