//! Shared support of the reliability tests (crashes, lost connections, concurrent runners, PgBouncer):
//! the migration set, a database reset between iterations, the convergence check against a run without
//! faults, child processes of the test binary, a seeded random source, an application-like writer,
//! and a PgBouncer started on loopback.
#![allow(dead_code)]

pub mod child;
pub mod db;
pub mod pgbouncer;
pub mod rng;
pub mod set;
pub mod snapshot;
pub mod trigger;
pub mod writer;

/// Logs of the runtime at `level` (or `ZDREL_LOG`: `info`, `debug`, ...) to the test output
/// (visible with `--nocapture`).
pub fn init_tracing(level: tracing::Level) {
    let level = std::env::var("ZDREL_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(level);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_test_writer()
        .with_target(false)
        .try_init();
}
