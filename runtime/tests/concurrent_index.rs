//! Concurrent index builds: INVALID leftovers are dropped and rebuilt, duplicate keys on a unique
//! build are reported as such and leave nothing behind, and a role's `statement_timeout` does not
//! kill a long build.

mod support;

use std::time::Duration;

use sqlx::Connection;
use support::db::{fresh_database, fresh_database_owned, TestDb};
use support::plans::{cic, migration, settings};
use tokio::time::Instant;
use zerodown_runtime::{Error, Migrator, StepErrorKind};

async fn invalid_indexes(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        .await
}

async fn index_valid(db: &TestDb, name: &str) -> Option<bool> {
    db.scalar(&format!(
        "SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('\"{name}\"'))"
    ))
    .await
}

#[tokio::test]
async fn invalid_leftover_is_dropped_and_rebuilt() {
    support::init_tracing();
    let db = fresh_database("cic_leftover").await;
    db.exec("CREATE TABLE u (id serial PRIMARY KEY, email text); INSERT INTO u (email) VALUES ('a'), ('b'), ('b')").await;
    // A unique concurrent build that fails on the duplicate leaves an INVALID index behind.
    let mut c = db.connect().await;
    let err = sqlx::raw_sql("CREATE UNIQUE INDEX CONCURRENTLY u_email_idx ON u (email)")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("could not create unique index"),
        "{err}"
    );
    c.close().await.unwrap();
    assert_eq!(
        index_valid(&db, "u_email_idx").await,
        Some(false),
        "leftover made"
    );
    db.exec("DELETE FROM u WHERE id = 3").await;

    let migrator = Migrator::new(&[migration(
        1,
        "email_idx",
        settings(),
        vec![cic("u_email_idx", "u", "\"email\"", true)],
        vec![],
    )])
    .unwrap();
    let plan = migrator.plan(&db.options).await.unwrap().to_string();
    assert!(
        plan.contains("before: drops a leftover INVALID index \"u_email_idx\" concurrently"),
        "{plan}"
    );
    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(
        report.migrations[0].steps[0].attempts, 1,
        "no `already exists` failure first"
    );
    assert_eq!(index_valid(&db, "u_email_idx").await, Some(true));
    assert_eq!(invalid_indexes(&db).await, 0);
    db.drop_database().await;
}

#[tokio::test]
async fn duplicate_keys_are_reported_and_leave_no_invalid_index() {
    support::init_tracing();
    let db = fresh_database("cic_duplicates").await;
    db.exec(
        "CREATE TABLE u (id serial PRIMARY KEY, email text);
         INSERT INTO u (email) VALUES ('a@example.com'), ('dup@example.com'), ('dup@example.com')",
    )
    .await;
    let migrator = Migrator::new(&[migration(
        1,
        "email_idx",
        settings(),
        vec![cic("u_email_idx", "u", "\"email\"", true)],
        vec![],
    )])
    .unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    let text = err.to_string();
    println!("{text}");
    let Error::Step(step) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(step.kind, StepErrorKind::DuplicateKeys);
    assert_eq!(step.sqlstate.as_deref(), Some("23505"));
    assert_eq!(step.attempts, 1, "not retried");
    assert!(
        text.contains("cannot build the unique index: the table has duplicate keys"),
        "{text}"
    );
    assert!(
        text.contains("Key (email)=(dup@example.com) is duplicated."),
        "{text}"
    );
    assert!(
        text.contains("the INVALID index \"u_email_idx\" the failed build left was dropped"),
        "{text}"
    );
    assert!(
        text.contains("remove or merge the duplicate rows"),
        "{text}"
    );
    assert!(!text.contains("already exists"), "{text}");
    assert_eq!(
        index_valid(&db, "u_email_idx").await,
        None,
        "no index left behind"
    );
    assert_eq!(invalid_indexes(&db).await, 0);

    // Fix the data: the next run builds it.
    db.exec("DELETE FROM u WHERE id = 3").await;
    migrator.run(&db.options).await.unwrap();
    assert_eq!(index_valid(&db, "u_email_idx").await, Some(true));
    db.drop_database().await;
}

#[tokio::test]
async fn role_statement_timeout_does_not_kill_a_long_build() {
    support::init_tracing();
    // A role whose every statement is limited to 1 s, like an application role often is.
    let role = format!("zdrt_cic_role_{}", std::process::id());
    support::db::admin_exec(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; ALTER ROLE {role} SET statement_timeout = '1s'"
    ))
    .await;
    let db = fresh_database_owned("cic_role", &role).await;
    // An expression index on a slow IMMUTABLE function: ~10 ms per row, 250 rows, at least 2.5 s.
    db.exec(&format!(
        "CREATE FUNCTION slow_identity(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
             $$ BEGIN PERFORM pg_sleep(0.01); RETURN i; END $$;
         CREATE TABLE slow (id int PRIMARY KEY);
         INSERT INTO slow SELECT generate_series(1, 250);
         ALTER TABLE slow OWNER TO {role};
         ALTER FUNCTION slow_identity(int) OWNER TO {role}"
    ))
    .await;
    let as_role = db.options.clone().username(&role);

    // The limit is real: the role cannot run a 1.5 s statement.
    let mut c = sqlx::PgConnection::connect_with(&as_role).await.unwrap();
    let err = sqlx::raw_sql("SELECT pg_sleep(1.5)")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    c.close().await.unwrap();

    let migrator = Migrator::new(&[migration(
        1,
        "slow_idx",
        settings(),
        vec![cic("slow_idx", "slow", "slow_identity(id)", false)],
        vec![],
    )])
    .unwrap();
    let start = Instant::now();
    migrator.run(&as_role).await.unwrap();
    let took = start.elapsed();
    println!(
        "slow concurrent build took {} ms under a role statement_timeout of 1 s",
        took.as_millis()
    );
    assert!(
        took > Duration::from_secs(2),
        "the build was slow enough to prove the point: {took:?}"
    );
    assert_eq!(index_valid(&db, "slow_idx").await, Some(true));
    db.drop_database().await;
    support::db::admin_exec(&format!("DROP ROLE IF EXISTS {role}")).await;
}

/// A partitioned table `ev` (list by region) with 3 partitions and `rows` rows; the payloads of `ev_2`
/// repeat, so a unique build there fails.
async fn partitioned_events(label: &str, rows: i64) -> TestDb {
    let db = fresh_database(label).await;
    db.exec(&format!(
        "CREATE TABLE ev (id bigint NOT NULL, region int NOT NULL, payload text) PARTITION BY LIST (region);
         CREATE TABLE ev_1 PARTITION OF ev FOR VALUES IN (1);
         CREATE TABLE ev_2 PARTITION OF ev FOR VALUES IN (2);
         CREATE TABLE ev_3 PARTITION OF ev FOR VALUES IN (3);
         INSERT INTO ev SELECT n, n % 3 + 1, CASE WHEN n % 3 + 1 = 2 THEN 'same' ELSE md5(n::text) END
         FROM generate_series(1, {rows}) AS n"
    ))
    .await;
    db
}

/// The parent index is valid, and each of the 3 partitions has a valid index attached to it.
async fn assert_partitioned_index_complete(db: &TestDb) {
    assert_eq!(index_valid(db, "ev_payload_idx").await, Some(true));
    let attached: i64 = db
        .scalar(
            "SELECT count(*) FROM pg_inherits h JOIN pg_index x ON x.indexrelid = h.inhrelid
             WHERE h.inhparent = 'ev_payload_idx'::regclass AND x.indisvalid",
        )
        .await;
    assert_eq!(attached, 3);
    let partitions_indexed: i64 = db
        .scalar(
            "SELECT count(DISTINCT x.indrelid) FROM pg_inherits h JOIN pg_index x ON x.indexrelid = h.inhrelid
             WHERE h.inhparent = 'ev_payload_idx'::regclass
             AND x.indrelid IN ('ev_1'::regclass, 'ev_2'::regclass, 'ev_3'::regclass)",
        )
        .await;
    assert_eq!(partitions_indexed, 3);
    assert_eq!(invalid_indexes(db).await, 0);
}

/// `create index concurrently` on a partitioned table runs as the online recipe: index on ONLY the
/// parent, a concurrent build per partition, attach. A writer inserting through the parent all along
/// is never held up, and no lock blocking writes is seen on a partition.
#[tokio::test]
async fn concurrent_index_on_a_partitioned_table_builds_online() {
    support::init_tracing();
    let db = partitioned_events("cic_partitioned", 300_000).await;
    let migrator = Migrator::new(&[migration(
        1,
        "ev_payload_idx",
        settings(),
        vec![cic("ev_payload_idx", "ev", "\"payload\"", false)],
        vec![],
    )])
    .unwrap();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let (db, stop) = (db.clone(), stop.clone());
        async move {
            let mut c = db.connect_as("writer").await;
            let (mut n, mut slowest) = (0i64, Duration::ZERO);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                sqlx::query("INSERT INTO ev VALUES (-$1, $1 % 3 + 1, 'w')")
                    .bind(n)
                    .execute(&mut c)
                    .await
                    .unwrap();
                slowest = slowest.max(started.elapsed());
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (n, slowest)
        }
    });
    // Locks the migrator's sessions hold on the partitions, sampled all along.
    let watcher = tokio::spawn({
        let (db, stop) = (db.clone(), stop.clone());
        async move {
            let mut c = db.connect_as("watcher").await;
            let mut seen: Vec<(String, String)> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT c.relname::text, l.mode FROM pg_locks l
                     JOIN pg_stat_activity a ON a.pid = l.pid
                     JOIN pg_class c ON c.oid = l.relation
                     WHERE a.application_name = 'zerodown' AND l.granted
                     AND c.relname IN ('ev_1', 'ev_2', 'ev_3')",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                for r in rows {
                    if !seen.contains(&r) {
                        seen.push(r);
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen
        }
    });
    let result = migrator.run(&db.options).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (inserts, slowest) = writer.await.unwrap();
    let seen = watcher.await.unwrap();
    let report = result.unwrap();
    assert_eq!(report.migrations[0].steps.len(), 1, "{report}");
    assert_partitioned_index_complete(&db).await;
    assert!(inserts > 0);
    assert!(
        slowest < Duration::from_millis(1500),
        "a writer waited {slowest:?} during the build"
    );
    let blocking = [
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ];
    assert!(
        seen.iter()
            .all(|(_, mode)| !blocking.contains(&mode.as_str())),
        "locks blocking writes on partitions: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(_, mode)| mode == "ShareUpdateExclusiveLock"),
        "the builds were not observed: {seen:?}"
    );
    db.drop_database().await;
}

/// A partial build (parent index on ONLY the table, one partition's index built and attached, an
/// INVALID leftover on another) converges: the attached index is kept, the leftover rebuilt.
#[tokio::test]
async fn partitioned_index_build_resumes_after_a_partial_build() {
    support::init_tracing();
    let db = partitioned_events("cic_partitioned_resume", 3_000).await;
    db.exec(
        "CREATE INDEX ev_payload_idx ON ONLY ev (payload);
         CREATE INDEX ev_payload_idx_ev_1 ON ev_1 (payload);
         ALTER INDEX ev_payload_idx ATTACH PARTITION ev_payload_idx_ev_1",
    )
    .await;
    let mut c = db.connect().await;
    let err =
        sqlx::raw_sql("CREATE UNIQUE INDEX CONCURRENTLY ev_payload_idx_ev_2 ON ev_2 (payload)")
            .execute(&mut c)
            .await
            .unwrap_err();
    assert!(
        err.to_string().contains("could not create unique index"),
        "{err}"
    );
    c.close().await.unwrap();
    assert_eq!(index_valid(&db, "ev_payload_idx_ev_2").await, Some(false));
    let kept: i64 = db
        .scalar("SELECT 'ev_payload_idx_ev_1'::regclass::oid::int8")
        .await;

    let migrator = Migrator::new(&[migration(
        1,
        "ev_payload_idx",
        settings(),
        vec![cic("ev_payload_idx", "ev", "\"payload\"", false)],
        vec![],
    )])
    .unwrap();
    migrator.run(&db.options).await.unwrap();
    assert_partitioned_index_complete(&db).await;
    let still: i64 = db
        .scalar("SELECT 'ev_payload_idx_ev_1'::regclass::oid::int8")
        .await;
    assert_eq!(kept, still, "the attached partition index was rebuilt");
    assert!(migrator.run(&db.options).await.unwrap().is_empty());
    db.drop_database().await;
}

/// A concurrent build reports where it is about once a second (PostgreSQL 12+): its phases in the
/// order PostgreSQL runs them, block counts while it scans the table, and, once the scan has run for
/// a second, the time left in it.
#[tokio::test]
async fn a_long_build_reports_its_phases_and_the_time_left_in_the_scan() {
    use std::sync::{Arc, Mutex};
    use zerodown_runtime::{IndexBuildPhase, StepEvent, StepProgress, WorkUnit};

    support::init_tracing();
    let db = fresh_database("cic_progress").await;
    let version: i32 = db
        .scalar("SELECT current_setting('server_version_num')::int")
        .await;
    // About 4 s of scanning: an index expression that sleeps 2 ms per row over 2000 rows spread
    // over 2000 pages (fillfactor 10 and wide rows), so the block count moves while it scans.
    db.exec(
        "CREATE FUNCTION slow_key(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS
           $$ BEGIN PERFORM pg_sleep(0.002); RETURN x; END $$;
         CREATE TABLE wide (id int, pad text) WITH (fillfactor = 10);
         INSERT INTO wide SELECT g, repeat('x', 1000) FROM generate_series(1, 2000) g;",
    )
    .await;
    let seen: Arc<Mutex<Vec<StepProgress>>> = Arc::default();
    let record = seen.clone();
    let m = migration(
        1,
        "slow_index",
        settings(),
        vec![cic("wide_slow_idx", "wide", "slow_key(id)", false)],
        vec![],
    );
    Migrator::new(&[m])
        .unwrap()
        .on_step(move |s| record.lock().unwrap().push(s.clone()))
        .run(&db.options)
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    let builds: Vec<_> = seen
        .iter()
        .filter_map(|s| match s.event {
            StepEvent::Building(b) => Some(b),
            _ => None,
        })
        .collect();
    for b in &builds {
        println!("{b}");
    }
    if version < 120_000 {
        // No `pg_stat_progress_create_index` before 12: nothing is reported.
        assert!(builds.is_empty(), "{builds:?}");
        db.drop_database().await;
        return;
    }
    assert!(matches!(
        seen.first().map(|s| s.event),
        Some(StepEvent::Started)
    ));
    assert!(matches!(
        seen.last().map(|s| s.event),
        Some(StepEvent::Settled { .. })
    ));
    let scanning: Vec<_> = builds
        .iter()
        .filter(|b| b.phase == IndexBuildPhase::ScanningTable)
        .collect();
    assert!(
        scanning.len() >= 2,
        "the scan was seen several times: {builds:?}"
    );
    assert!(scanning
        .iter()
        .all(|b| matches!(b.work, Some((done, total, WorkUnit::Blocks)) if done <= total && total >= 1000)));
    assert!(
        scanning.iter().any(|b| b.phase_eta.is_some()),
        "an estimate once the scan ran for a second: {builds:?}"
    );
    assert!(builds.windows(2).all(|w| w[0].elapsed <= w[1].elapsed));
    db.drop_database().await;
}
