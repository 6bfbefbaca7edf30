//! Many runners at once (8 tasks in this process and 3 child processes): every migration is applied
//! exactly once, every runner succeeds, and the migration lock is free afterwards.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::db::{fresh_database, TestDb};
use support::plans::{cic, migration, settings, tx};
use zerodown_runtime::plan::{LockLevel, Migration};
use zerodown_runtime::Migrator;

const TASKS: usize = 8;
const PROCESSES: usize = 3;
const CHILD_ENV: &str = "ZDRT_MANY_RUNNERS_DB";

/// The same plans in every process (same checksums).
fn migrations() -> Vec<&'static Migration> {
    vec![
        migration(
            1,
            "effects",
            settings(),
            vec![tx(
                "create table effects",
                &[
                    "CREATE TABLE effects (id serial PRIMARY KEY, migration int NOT NULL)",
                    "INSERT INTO effects (migration) VALUES (1)",
                ],
                LockLevel::None,
                &[],
            )],
            vec![],
        ),
        migration(
            2,
            "items",
            settings(),
            vec![tx(
                "create and fill items",
                &[
                    "CREATE TABLE items (id serial PRIMARY KEY, name text)",
                    "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 5000) g",
                    // Keeps the lock held long enough for every runner to queue for it.
                    "SELECT pg_sleep(0.5)",
                    "INSERT INTO effects (migration) VALUES (2)",
                ],
                LockLevel::None,
                &[],
            )],
            vec![],
        ),
        migration(
            3,
            "items_name_idx",
            settings(),
            vec![cic("items_name_idx", "items", "\"name\"", false)],
            vec![],
        ),
        migration(
            4,
            "items_x",
            settings(),
            vec![tx(
                "add column \"x\"",
                &[
                    "ALTER TABLE items ADD COLUMN x int",
                    "INSERT INTO effects (migration) VALUES (4)",
                ],
                LockLevel::AccessExclusive,
                &["\"items\""],
            )],
            vec![],
        ),
    ]
}

/// Runs the migrations once; returns how many this runner applied and how long it waited for the lock.
async fn run_once(db: &TestDb) -> (usize, Duration) {
    let migrator = Migrator::new(&migrations()).unwrap();
    let report = migrator
        .run(&db.options)
        .await
        .unwrap_or_else(|e| panic!("runner failed: {e}"));
    (report.migrations.len(), report.lock_wait)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_runners_apply_each_migration_once() {
    support::init_tracing();
    let db = fresh_database("many_runners").await;

    let exe = std::env::current_exe().unwrap();
    // The children must find this very server: on a machine without a running one, their own
    // discovery would start throwaway clusters of their own, without the database.
    let server_url = support::db::server().await.url().to_owned();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .args([
                    "child_runner",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(CHILD_ENV, &db.name)
                .env("ZERODOWN_DATABASE_URL", &server_url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { run_once(&db).await })
        })
        .collect();

    let (mut applied, mut longest_wait) = (0, Duration::ZERO);
    for t in tasks {
        let (n, waited) = tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("runner finished")
            .unwrap();
        applied += n;
        longest_wait = longest_wait.max(waited);
    }
    println!(
        "longest wait for the migration lock among the tasks: {} ms",
        longest_wait.as_millis()
    );
    assert!(
        longest_wait > Duration::from_millis(300),
        "the runners really overlapped: {longest_wait:?}"
    );
    for child in children {
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("child finished")
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child runner failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let count = stdout
            .split("APPLIED ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no `APPLIED n` in the child's output:\n{stdout}"));
        applied += count;
    }

    assert_eq!(applied, 4, "each migration applied by exactly one runner");
    let effects: Vec<(i32, i64)> =
        sqlx::query_as("SELECT migration, count(*) FROM effects GROUP BY 1 ORDER BY 1")
            .fetch_all(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!(effects, vec![(1, 1), (2, 1), (4, 1)]);
    let states: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, state FROM zerodown_migrations ORDER BY 1")
            .fetch_all(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!(
        states,
        (1..=4)
            .map(|v| (v, "completed".to_owned()))
            .collect::<Vec<_>>()
    );
    let attempts: Vec<i32> =
        sqlx::query_scalar("SELECT attempts FROM zerodown_migrations_steps ORDER BY version")
            .fetch_all(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!(attempts, vec![1, 1, 1, 1], "no step ran twice");
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
            .await,
        0
    );
    assert!(
        db.wait_advisory_free(Duration::from_secs(1)).await,
        "the migration lock is free afterwards"
    );
    db.drop_database().await;
}

/// Entry point of the child processes spawned by `many_runners_apply_each_migration_once`; not a
/// test of its own (it needs the database the parent created).
#[tokio::test]
#[ignore = "child process of many_runners_apply_each_migration_once"]
async fn child_runner() {
    let name =
        std::env::var(CHILD_ENV).expect("run by many_runners_apply_each_migration_once only");
    let base = support::db::existing_database(&name).await;
    let (applied, _) = run_once(&base).await;
    println!("APPLIED {applied}");
}
