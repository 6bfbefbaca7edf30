//! Watching a running step from the control connection, to see who it waits for.

use std::future::Future;
use std::time::Duration;

use sqlx::PgConnection;

use crate::blockers::{self, Blocker};
use crate::index_progress::{IndexBuildProgress, Tracker};

/// How often the control connection asks `pg_blocking_pids` about the step's backend. Short enough
/// to catch a wait before the first (escalated, 250 ms by default) lock timeout fires; the query is
/// cheap.
const POLL: Duration = Duration::from_millis(100);

/// A concurrent index build's progress is read every this many polls (once a second).
const BUILD_EVERY: u32 = 10;

/// A concurrent index build to report on while it runs (see [`crate::index_progress`]).
pub(crate) struct Building<'a> {
    pub(crate) tracker: Tracker,
    pub(crate) report: &'a (dyn Fn(IndexBuildProgress) + Send + Sync),
}

/// What the monitor saw while the step ran.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// Sessions seen blocking the step, latest observation per pid.
    pub(crate) blockers: Vec<Blocker>,
    /// Set when the control connection broke: the migration lock may be gone.
    pub(crate) control_error: Option<sqlx::Error>,
}

/// Runs `step` to completion while polling who blocks backend `pid` on `control` (and, with
/// `building`, how far its index build is).
///
/// Returns `None` instead of the step's output when the control connection broke: the migration
/// lock may be gone and another runner may be starting, so the step is abandoned at once (the
/// caller closes its connection, which makes the server roll it back or cancel it) rather than left
/// to finish unprotected.
pub(crate) async fn watch<F: Future>(
    control: &mut PgConnection,
    pid: i32,
    mut building: Option<Building<'_>>,
    step: F,
) -> (Option<F::Output>, Observed) {
    let mut observed = Observed::default();
    let output = {
        let monitor = async {
            let mut polls = 0u32;
            loop {
                tokio::time::sleep(POLL).await;
                polls = polls.wrapping_add(1);
                if let Some(build) = building.as_mut().filter(|_| polls % BUILD_EVERY == 0) {
                    match build.tracker.sample(control, pid).await {
                        Ok(Some(progress)) => (build.report)(progress),
                        Ok(None) => {}
                        Err(e) if crate::connect::is_broken(&e) => {
                            tracing::warn!(error = %e, "the connection holding the migration lock broke; abandoning the running step");
                            observed.control_error = Some(e);
                            return;
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "reading the index build's progress failed; not reporting it");
                            building = None;
                        }
                    }
                }
                match blockers::blocking(control, pid).await {
                    Ok(found) if !found.is_empty() => {
                        if observed.blockers.is_empty() {
                            tracing::info!(blockers = %blockers::list(&found), "step is waiting for a lock");
                        }
                        blockers::merge(&mut observed.blockers, found);
                    }
                    Ok(_) => {}
                    Err(e) if crate::connect::is_broken(&e) => {
                        tracing::warn!(error = %e, "the connection holding the migration lock broke; abandoning the running step");
                        observed.control_error = Some(e);
                        return;
                    }
                    Err(e) => {
                        // The lock is still held: let the step finish, just stop watching it.
                        tracing::warn!(error = %e, "watching the step for blockers failed");
                        std::future::pending::<()>().await;
                    }
                }
            }
        };
        tokio::pin!(step);
        tokio::pin!(monitor);
        tokio::select! {
            biased;
            out = &mut step => Some(out),
            () = &mut monitor => None,
        }
    };
    (output, observed)
}
