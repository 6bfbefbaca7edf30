//! [`StopSignal`]: asking a run to stop early, at the next point where stopping leaves nothing
//! half-done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A request to stop a [`Migrator`](crate::Migrator) run early, shared between the code that decides
/// to stop (a signal handler, a shutdown hook) and the migrator it was given to with
/// [`Migrator::stop_signal`](crate::Migrator::stop_signal).
///
/// Once [`stop`](StopSignal::stop) was called, the run stops at its next safe point: before its next
/// step, or after the backfill batch in progress commits (a pause between batches is cut short). What
/// is running then (a statement, a concurrent index build, one batch, a backfill's verification) is
/// not interrupted: it finishes, or fails, as usual. The run then releases the migration lock and
/// fails with [`Error::Interrupted`](crate::Error::Interrupted), which says what was done and where it
/// stopped; the next run resumes there (a backfill from its saved cursor).
///
/// ```
/// let stop = zerodown_runtime::StopSignal::new();
/// let handle = stop.clone(); // e.g. moved into a SIGTERM handler
/// assert!(!stop.is_stopped());
/// handle.stop();
/// assert!(stop.is_stopped());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stopped: AtomicBool,
    notify: Notify,
}

impl StopSignal {
    /// A signal not stopped yet.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Asks every run given this signal (or a clone of it) to stop at its next safe point. Calling
    /// it again changes nothing.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`stop`](StopSignal::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps for `pause`, or less when a stop is asked for meanwhile.
    pub(crate) async fn sleep(&self, pause: std::time::Duration) {
        let notified = self.inner.notify.notified();
        if self.is_stopped() {
            return;
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_stop_cuts_a_pause_short() {
        let stop = StopSignal::new();
        let started = tokio::time::Instant::now();
        stop.sleep(Duration::from_millis(50)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(50));

        let handle = stop.clone();
        let waiting = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            handle.sleep(Duration::from_secs(3600)).await;
            started.elapsed()
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.stop();
        assert!(waiting.await.unwrap() < Duration::from_secs(2));
        // Stopped already: no pause at all.
        let started = tokio::time::Instant::now();
        stop.sleep(Duration::from_secs(10)).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
