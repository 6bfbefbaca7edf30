//! Shared support for the runtime's integration tests: a fresh database per test, hand-built plans
//! with correct checksums, and the lock/rewrite observer.
#![allow(dead_code)]

pub mod db;
pub mod locks;
pub mod plans;

/// Logs of the runtime (retries, blockers) go to the test output; visible with `--nocapture`.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_test_writer()
        .with_target(false)
        .try_init();
}
