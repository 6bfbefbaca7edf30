//! Lock contention: a step that needs `ACCESS EXCLUSIVE` while another session's old transaction holds
//! a conflicting lock. With the default strategy (look first) the step waits without ever queueing for
//! the lock, and runs once the transaction ends, or fails after its budget naming it; with the queueing
//! strategy of earlier versions it times out, retries and succeeds once the lock is released, or fails
//! after its budget naming the blocker. Either way ordinary queries are never stalled longer than the
//! step's lock timeout.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use support::db::{fresh_database, TestDb};
use support::plans::{migration, settings, tx};
use tokio::time::Instant;
use zerodown_runtime::plan::{LockLevel, Migration, Settings};
use zerodown_runtime::retry::GiveUp;
use zerodown_runtime::{Error, LockStrategy, Migrator, StepErrorKind};

const LOCK_TIMEOUT_MS: u64 = 500;

fn add_column(budget_ms: u64) -> &'static Migration {
    let mut step = tx(
        "add column \"c\"",
        &["ALTER TABLE t ADD COLUMN c int"],
        LockLevel::AccessExclusive,
        &["\"t\""],
    );
    step.lock_timeout_ms = LOCK_TIMEOUT_MS;
    step.statement_timeout_ms = 10_000;
    let settings = Settings {
        retry_attempts: 100,
        retry_budget_ms: budget_ms,
        ..settings()
    };
    migration(1, "add_c", settings, vec![step], vec![])
}

async fn setup(db: &TestDb) {
    db.exec("CREATE TABLE t (id serial PRIMARY KEY, v int); INSERT INTO t (v) SELECT g FROM generate_series(1, 1000) g")
        .await;
}

/// A session that holds `ACCESS SHARE` on `t` in an open transaction (like a long report query).
async fn blocker(db: &TestDb) -> (PgConnection, i32) {
    let mut c = db.connect_as("zdrt blocker").await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.execute("BEGIN").await.unwrap();
    c.execute("LOCK TABLE t IN ACCESS SHARE MODE")
        .await
        .unwrap();
    (c, pid)
}

/// The application: reads and writes `t` in a loop, measuring the slowest query.
struct Workload {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<(Duration, u64)>,
}

impl Workload {
    async fn start(db: &TestDb) -> Workload {
        let mut c = db.connect_as("zdrt workload").await;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = tokio::spawn(async move {
            let (mut worst, mut queries) = (Duration::ZERO, 0u64);
            while !flag.load(Ordering::Relaxed) {
                let start = Instant::now();
                let _: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
                worst = worst.max(start.elapsed());
                let start = Instant::now();
                sqlx::query("INSERT INTO t (v) VALUES (0)")
                    .execute(&mut c)
                    .await
                    .unwrap();
                worst = worst.max(start.elapsed());
                queries += 2;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (worst, queries)
        });
        Workload { stop, handle }
    }

    async fn finish(self) -> (Duration, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap()
    }
}

fn assert_bounded(worst: Duration, queries: u64) {
    let bound = Duration::from_millis(LOCK_TIMEOUT_MS) + Duration::from_secs(1);
    println!("ordinary queries under contention: {queries} ran, worst wait {} ms (lock_timeout {LOCK_TIMEOUT_MS} ms)", worst.as_millis());
    assert!(queries > 50, "the workload ran: {queries}");
    assert!(
        worst < bound,
        "an ordinary query waited {worst:?}, more than lock_timeout + 1 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queueing_step_retries_until_the_lock_is_released() {
    support::init_tracing();
    let db = fresh_database("contention_released").await;
    setup(&db).await;
    let workload = Workload::start(&db).await;
    let (mut holder, _) = blocker(&db).await;

    let migrator = Migrator::new(&[add_column(20_000)])
        .unwrap()
        .jitter_seed(1)
        .lock_strategy(LockStrategy::Queue);
    let options = db.options.clone();
    let run = tokio::spawn(async move { migrator.run(&options).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !run.is_finished(),
        "the step must wait while the lock is held"
    );
    holder.execute("COMMIT").await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("run finished")
        .unwrap()
        .unwrap();

    let (worst, queries) = workload.finish().await;
    let step = &report.migrations[0].steps[0];
    println!(
        "step succeeded after {} attempts in {} ms",
        step.attempts,
        step.duration.as_millis()
    );
    assert!(
        step.attempts >= 3,
        "several lock timeouts before the release: {}",
        step.attempts
    );
    assert!(db.scalar::<bool>("SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'").await);
    let attempts: i32 = db
        .scalar("SELECT attempts FROM zerodown_migrations_steps")
        .await;
    assert_eq!(attempts as u32, step.attempts);
    assert_bounded(worst, queries);
    assert_eq!(db.advisory_locks().await, 0);
    holder.close().await.unwrap();
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queueing_step_gives_up_after_its_budget_naming_the_blocker() {
    support::init_tracing();
    let db = fresh_database("contention_never_released").await;
    setup(&db).await;
    let workload = Workload::start(&db).await;
    let (mut holder, holder_pid) = blocker(&db).await;

    let budget = Duration::from_millis(3_000);
    let migrator = Migrator::new(&[add_column(budget.as_millis() as u64)])
        .unwrap()
        .jitter_seed(2)
        .lock_strategy(LockStrategy::Queue);
    let start = Instant::now();
    let err = migrator.run(&db.options).await.unwrap_err();
    let elapsed = start.elapsed();
    let (worst, queries) = workload.finish().await;

    let text = err.to_string();
    println!("{text}");
    let Error::Step(step) = &err else {
        panic!("expected a step error, got {err:?}")
    };
    assert_eq!(step.sqlstate.as_deref(), Some("55P03"));
    assert!(step.attempts >= 3, "{}", step.attempts);
    assert!(
        step.blockers.iter().any(|b| b.pid == holder_pid),
        "blocker {holder_pid} named: {:?}",
        step.blockers
    );
    assert!(
        text.contains(&format!(
            "pid {holder_pid} (application `zdrt blocker`, idle in transaction"
        )),
        "{text}"
    );
    assert!(
        text.contains("`LOCK TABLE t IN ACCESS SHARE MODE`"),
        "{text}"
    );
    assert!(text.contains("the retry time budget is spent"), "{text}");
    assert!(
        text.contains("sql: `ALTER TABLE t ADD COLUMN c int`"),
        "{text}"
    );
    assert!(
        elapsed < budget + Duration::from_millis(LOCK_TIMEOUT_MS) + Duration::from_secs(2),
        "gave up in time: {elapsed:?}"
    );
    assert_bounded(worst, queries);
    assert_eq!(
        db.advisory_locks().await,
        0,
        "the migration lock is released after a failure"
    );
    let (state, last_error): (String, String) =
        sqlx::query_as("SELECT state, last_error FROM zerodown_migrations_steps")
            .fetch_one(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!(state, "failed");
    assert!(last_error.contains("55P03"), "{last_error}");

    // Once the blocker is gone the next run resumes and succeeds.
    holder.execute("COMMIT").await.unwrap();
    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(report.migrations.len(), 1);
    assert!(db.scalar::<bool>("SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'").await);
    holder.close().await.unwrap();
    db.drop_database().await;
}

/// Samples `pg_locks` until stopped: did a session of the migrator ever wait for a lock on `t`?
struct QueueWatch {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<(u64, u64)>,
}

impl QueueWatch {
    async fn start(db: &TestDb) -> QueueWatch {
        let mut c = db.connect_as("zdrt queue watch").await;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = tokio::spawn(async move {
            let (mut samples, mut queued) = (0u64, 0u64);
            while !flag.load(Ordering::Relaxed) {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE NOT l.granted AND l.relation = 't'::regclass AND a.application_name = 'zerodown'
                       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .fetch_one(&mut c)
                .await
                .unwrap();
                samples += 1;
                queued += u64::from(waiting > 0);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            (samples, queued)
        });
        QueueWatch { stop, handle }
    }

    /// `(samples, samples that saw the migrator queued)`.
    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn looking_first_the_step_never_queues_behind_an_old_transaction() {
    support::init_tracing();
    let db = fresh_database("contention_look_first").await;
    setup(&db).await;
    let workload = Workload::start(&db).await;
    let (mut holder, _) = blocker(&db).await;
    let watch = QueueWatch::start(&db).await;
    // The holder's transaction is old by the time the step looks (a young one is expected to end
    // within a short lock timeout, so the step would ask for the lock once).
    tokio::time::sleep(Duration::from_millis(300)).await;

    let migrator = Migrator::new(&[add_column(20_000)]).unwrap().jitter_seed(3);
    let options = db.options.clone();
    let run = tokio::spawn(async move { migrator.run(&options).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !run.is_finished(),
        "the step must wait while the old transaction holds its lock"
    );
    holder.execute("COMMIT").await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("run finished")
        .unwrap()
        .unwrap();
    let (samples, queued) = watch.finish().await;
    let (worst, queries) = workload.finish().await;
    let step = &report.migrations[0].steps[0];
    println!(
        "look first: {} attempt(s), {} ms; {queued} of {samples} samples saw the migrator queued; worst ordinary query {} ms of {queries}",
        step.attempts,
        step.duration.as_millis(),
        worst.as_millis()
    );
    assert_eq!(
        queued, 0,
        "the migrator queued for the lock behind the old transaction"
    );
    assert!(samples > 100, "the watch sampled: {samples}");
    assert_eq!(
        step.attempts, 1,
        "no lock timeout: the step asked once the transaction ended"
    );
    assert!(db.scalar::<bool>("SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'").await);
    assert_bounded(worst, queries);
    holder.close().await.unwrap();
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn looking_first_the_step_gives_up_after_its_budget_naming_the_old_transaction() {
    support::init_tracing();
    let db = fresh_database("contention_look_first_budget").await;
    setup(&db).await;
    let (mut holder, holder_pid) = blocker(&db).await;
    let watch = QueueWatch::start(&db).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let budget = Duration::from_millis(2_000);
    let migrator = Migrator::new(&[add_column(budget.as_millis() as u64)])
        .unwrap()
        .jitter_seed(4);
    let start = Instant::now();
    let err = migrator.run(&db.options).await.unwrap_err();
    let elapsed = start.elapsed();
    let (_, queued) = watch.finish().await;
    let text = err.to_string();
    println!("{text}");
    let Error::Step(step) = &err else {
        panic!("expected a step error, got {err:?}")
    };
    assert_eq!(step.kind, StepErrorKind::Statement(GiveUp::Budget));
    assert!(
        step.blockers.iter().any(|b| b.pid == holder_pid),
        "{:?}",
        step.blockers
    );
    assert!(text.contains("without queueing"), "{text}");
    assert!(
        text.contains(&format!("pid {holder_pid} (application `zdrt blocker`")),
        "{text}"
    );
    assert_eq!(queued, 0, "the migrator queued for the lock");
    assert!(
        elapsed < budget + Duration::from_secs(2),
        "gave up in time: {elapsed:?}"
    );
    let state: String = db
        .scalar("SELECT state FROM zerodown_migrations_steps")
        .await;
    assert_eq!(state, "failed");
    holder.execute("COMMIT").await.unwrap();
    migrator.run(&db.options).await.unwrap();
    holder.close().await.unwrap();
    db.drop_database().await;
}
