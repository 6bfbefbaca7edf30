//! Sixteen runner processes started at the same moment against one database (as when every replica
//! of a deployment runs migrations on start), with an application inserting rows meanwhile: each
//! migration is applied exactly once, every process exits successfully, nobody deadlocks, and the
//! migration lock is free afterwards. The database ends exactly as after a single runner.

mod reliability;
mod version_gate;

use std::time::Duration;

use reliability::db::TestDb;
use reliability::snapshot;
use reliability::writer::Writer;
use reliability::{child, set};
use tokio::time::Instant;

const RUNNERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_processes_apply_each_migration_once() {
    reliability::init_tracing(tracing::Level::WARN);
    let db = TestDb::new("runners").await;
    // The set targets PostgreSQL 12 (its `set not null` takes the CHECK route); older servers refuse it.
    if version_gate::refused_as_too_new(&db.options(), &set::migrations()).await {
        return;
    }
    let (reference, _) = snapshot::reference(&db).await;
    db.reset(&set::setup()).await;
    let writer = Writer::start(&db).await;

    // Spawning takes a moment per process: all of them wait for the same instant, then connect.
    let start_at = child::now_ms() + 1500;
    let children: Vec<_> = (0..RUNNERS)
        .map(|i| child::spawn(db.url(), &format!("zdrel-runner-{i}"), Some(start_at)))
        .collect();
    let started = Instant::now();
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        match tokio::time::timeout(Duration::from_secs(180), c.wait_with_output()).await {
            Err(_) => failures.push(format!(
                "runner {i} did not finish within 180 s (deadlock?)"
            )),
            Ok(out) => {
                let out = out.expect("reaping a runner");
                let stdout = String::from_utf8_lossy(&out.stdout);
                match child::parse(&stdout) {
                    Some(r) if out.status.success() => results.push(r),
                    _ => failures.push(format!(
                        "runner {i} failed ({}):\n{stdout}\n{}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    )),
                }
            }
        }
    }
    let took = started.elapsed();
    let written = writer.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let applied: usize = results.iter().map(|r| r.applied).sum();
    let completed: usize = results.iter().map(|r| r.completed).sum();
    let contracts = set::migrations()
        .iter()
        .filter(|m| m.has_contract())
        .count();
    assert_eq!(
        applied,
        set::migrations().len(),
        "each migration's expand phase applied by exactly one runner: {results:?}"
    );
    assert_eq!(
        completed, contracts,
        "each contract phase applied by exactly one runner: {results:?}"
    );
    let workers = results
        .iter()
        .filter(|r| r.applied + r.completed > 0)
        .count();
    let waited = results.iter().filter(|r| r.lock_wait_ms >= 100).count();
    let longest = results.iter().map(|r| r.lock_wait_ms).max().unwrap_or(0);
    assert!(waited > 0, "the runners overlapped: {results:?}");

    let mut problems = snapshot::converged(&db, &reference).await;
    problems.extend(written.check(&db).await);
    assert!(problems.is_empty(), "{problems:#?}");
    println!(
        "concurrent_runners: {RUNNERS} processes started together, all exited successfully in {:.1} s; {workers} of them applied \
         migrations, {waited} waited for the migration lock (longest {longest} ms); each migration applied once; lock free",
        took.as_secs_f64()
    );
    db.fresh.drop_database().await.ok();
}

/// A runner process; not a test of its own.
#[tokio::test]
#[ignore = "child process of the concurrent runners test"]
async fn child() {
    child::main().await;
}
