//! Watching a running step from the control connection, to see who it waits for.

use std::future::Future;
use std::time::Duration;

use sqlx::PgConnection;

use crate::blockers::{self, Blocker};

/// How often the control connection asks `pg_blocking_pids` about the step's backend. Short enough
/// to catch a wait before the first (escalated, 250 ms by default) lock timeout fires; the query is
/// cheap.
const POLL: Duration = Duration::from_millis(100);

/// What the monitor saw while the step ran.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// Sessions seen blocking the step, latest observation per pid.
    pub(crate) blockers: Vec<Blocker>,
    /// Set when the control connection broke: the migration lock may be gone.
    pub(crate) control_error: Option<sqlx::Error>,
}

/// Runs `step` to completion while polling who blocks backend `pid` on `control`.
///
/// Returns `None` instead of the step's output when the control connection broke: the migration
/// lock may be gone and another runner may be starting, so the step is abandoned at once (the
/// caller closes its connection, which makes the server roll it back or cancel it) rather than left
/// to finish unprotected.
pub(crate) async fn watch<F: Future>(
    control: &mut PgConnection,
    pid: i32,
    step: F,
) -> (Option<F::Output>, Observed) {
    let mut observed = Observed::default();
    let output = {
        let monitor = async {
            loop {
                tokio::time::sleep(POLL).await;
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
