//! Connection loss: while the migration set runs (with an application inserting rows), the runner's
//! step connection or its lock-holding control connection is ended with `pg_terminate_backend` at a
//! random point. The run either recovers or fails with an error that says what happened and to run
//! again; the migration lock is freed; a rerun converges to what a run without faults produces.
//!
//! A third kind ends the control connection and starts a second runner at once, while the first one
//! may still be inside a step: the two must not both apply a step, and a rerun still converges.
//!
//! The seed is printed; `ZERODOWN_CRASH_SEED=<seed>` repeats the same fault plan.
//! `ZERODOWN_CONNLOSS_ITERATIONS` sets the number of iterations (default 18, in three lanes at once).

mod reliability;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reliability::db::TestDb;
use reliability::rng::Rng;
use reliability::set;
use reliability::snapshot::{self, Snapshot};
use reliability::trigger::{self, Progress, Reached};
use reliability::writer::Writer;
use sqlx::PgConnection;
use zerodown::{Error, RunReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The connection running the steps.
    Step,
    /// The connection holding the migration lock.
    Control,
    /// The control connection, with a second runner started right after.
    ControlWithRival,
}

impl Target {
    fn holds_lock(self) -> bool {
        self != Target::Step
    }
}

/// Ends the runner's `target` connection; whether one was ended.
async fn terminate(conn: &mut PgConnection, app: &str, target: Target) -> bool {
    let sql = format!(
        "SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity a
         WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()
           AND {} EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)",
        if target.holds_lock() { "" } else { "NOT" }
    );
    sqlx::query_scalar(&sql)
        .bind(app)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Whether a failed run's error says what happened and what to do.
fn clear(e: &Error) -> bool {
    let text = e.to_string();
    match e {
        Error::Step(s) => {
            let lost = s.sqlstate.is_none() || s.sqlstate.as_deref().is_some_and(|c| c.starts_with("08") || c.starts_with("57P0"));
            lost && text.contains("the connection was lost or terminated mid-step; run again")
        }
        Error::LockLost { .. } => text.contains("lost the connection holding the migration lock") && text.contains("run again"),
        // Opening or setting up a connection of the run when it was ended.
        Error::Database { .. } => text.contains("the connection was lost or terminated; run again: the next run resumes where this one stopped"),
        _ => false,
    }
}

async fn run_and_complete(
    migrator: zerodown::Migrator,
    db: sqlx::postgres::PgConnectOptions,
) -> Result<(RunReport, RunReport), Error> {
    let run = migrator.run(&db).await?;
    let complete = migrator.complete(&db).await?;
    Ok((run, complete))
}

/// Iterations run at once, each lane on a database of its own.
const LANES: usize = 3;

/// What the iterations found.
#[derive(Debug, Default)]
struct Tally {
    terminated: [usize; 3],
    recovered: usize,
    failed_clearly: usize,
    /// Rows of the application writer compared by value with its shadow.
    rows_compared: usize,
    failures: Vec<String>,
}

/// One iteration on `db`: reset, run with a connection ended at a random point, rerun, check.
async fn iteration(
    db: &TestDb,
    i: usize,
    mut rng: Rng,
    reference: &Snapshot,
    horizon: Duration,
    tally: &Mutex<Tally>,
) {
    let targets = [Target::Step, Target::Control, Target::ControlWithRival];
    let target = targets[i % targets.len()];
    db.reset(&set::setup()).await;
    let mut poll = db.connect().await;
    let writer = Writer::start(db).await;
    let progress = Progress::read(&mut poll).await;
    let point = trigger::choose(&mut rng, &progress, horizon);
    let app = format!("zdrel-connloss-{i}");
    let runner = tokio::spawn(run_and_complete(set::migrator(&app), db.options()));
    let mut rival = None;
    let mut ended = false;
    let mut problems = Vec::new();
    // The point may come before the target connection exists (the step connection opens with the
    // first step): keep trying for a short while. The runner may also end (finish, or fail) before
    // the point, or between two tries.
    for _ in 0..50 {
        match trigger::reach(
            &mut poll,
            &point,
            &app,
            || runner.is_finished(),
            Duration::from_secs(30),
        )
        .await
        {
            Reached::Yes => {}
            Reached::Ended => break,
            Reached::TimedOut => {
                problems.push(format!(
                    "the runner neither reached {point} nor ended within 30 s; sessions:\n    {}",
                    db.sessions().await
                ));
                break;
            }
        }
        if terminate(&mut poll, &app, target).await {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if ended {
        tally.lock().unwrap().terminated[i % targets.len()] += 1;
        if target == Target::ControlWithRival {
            rival = Some(tokio::spawn(run_and_complete(
                set::migrator(&format!("{app}-rival")),
                db.options(),
            )));
        }
    }
    let mut results = Vec::new();
    match tokio::time::timeout(Duration::from_secs(90), runner).await {
        Ok(r) => results.push(("the runner", r)),
        Err(_) => problems.push("the runner did not end within 90 s".to_owned()),
    }
    if let Some(rival) = rival {
        match tokio::time::timeout(Duration::from_secs(90), rival).await {
            Ok(r) => results.push(("the rival runner", r)),
            Err(_) => problems.push("the rival runner did not end within 90 s".to_owned()),
        }
    }
    for (name, result) in results {
        match result {
            Ok(Ok(_)) => tally.lock().unwrap().recovered += 1,
            Ok(Err(e)) if clear(&e) => tally.lock().unwrap().failed_clearly += 1,
            Ok(Err(e)) => problems.push(format!("{name} failed with an unclear error: {e}")),
            Err(e) => problems.push(format!("{name} panicked: {e}")),
        }
    }
    problems.extend(snapshot::invariants(db).await);
    let migrator = set::migrator(&format!("{app}-rerun"));
    match tokio::time::timeout(
        Duration::from_secs(90),
        run_and_complete(migrator, db.options()),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => problems.push(format!("the rerun failed: {e}")),
        Err(_) => problems.push("the rerun did not finish within 90 s".into()),
    }
    let written = writer.stop().await;
    problems.extend(snapshot::converged(db, reference).await);
    problems.extend(written.check(db).await);
    tally.lock().unwrap().rows_compared += written.compared();
    if !problems.is_empty() {
        tally.lock().unwrap().failures.push(format!(
            "iteration {i}: {target:?} ended {point} (ended: {ended}):\n  {}",
            problems.join("\n  ")
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_fail_clearly_and_rerun_converges() {
    reliability::init_tracing(tracing::Level::WARN);
    let (mut rng, seed) = Rng::from_env("connection_loss");
    let iterations: usize = std::env::var("ZERODOWN_CONNLOSS_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(18);
    let mut dbs = Vec::new();
    for lane in 0..LANES {
        dbs.push(TestDb::new(&format!("connloss{lane}")).await);
    }
    let (reference, took) = snapshot::reference(&dbs[0]).await;
    let reference = Arc::new(reference);
    let horizon = took + Duration::from_millis(100);
    let started = tokio::time::Instant::now();

    // Iteration i runs in lane i % LANES, with the i-th seed drawn from the master seed.
    let seeds: Vec<Rng> = (0..iterations).map(|_| rng.fork()).collect();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let lanes: Vec<_> = dbs
        .into_iter()
        .enumerate()
        .map(|(lane, db)| {
            let mine: Vec<(usize, Rng)> = seeds
                .iter()
                .cloned()
                .enumerate()
                .filter(|(i, _)| i % LANES == lane)
                .collect();
            let (reference, tally) = (reference.clone(), tally.clone());
            tokio::spawn(async move {
                for (i, seed) in mine {
                    if tally.lock().unwrap().failures.len() >= 3 {
                        break;
                    }
                    iteration(&db, i, seed, &reference, horizon, &tally).await;
                }
                db
            })
        })
        .collect();
    let mut dbs = Vec::new();
    for lane in lanes {
        dbs.push(lane.await.expect("a lane panicked"));
    }
    let t = std::mem::take(&mut *tally.lock().unwrap());
    println!(
        "connection_loss: {} rows of the application writer compared by value with its shadow",
        t.rows_compared
    );
    println!(
        "connection_loss: {} step connections and {} lock connections ({} of them with a rival runner started at once) terminated; \
         {} runs recovered, {} failed with a clear error; {:.0} s, seed {seed}",
        t.terminated[0],
        t.terminated[1] + t.terminated[2],
        t.terminated[2],
        t.recovered,
        t.failed_clearly,
        started.elapsed().as_secs_f64()
    );
    assert!(
        t.failures.is_empty(),
        "seed {seed} (reproduce with ZERODOWN_CRASH_SEED={seed}):\n{}",
        t.failures.join("\n")
    );
    assert!(
        t.terminated.iter().sum::<usize>() >= iterations * 2 / 3,
        "too few terminations: {:?}",
        t.terminated
    );
    for db in dbs {
        if let Err(e) = db.fresh.drop_database().await {
            println!("connection_loss: dropping a test database failed: {e}");
        }
    }
}
