//! A backfill holds back on what the server and the application show: sessions waiting for the
//! row locks of a batch (the next batch is halved and a pause follows), the application's health
//! callback (`Migrator::backfill_health`), a vacuum on the table, and other sessions at work in
//! the database (the backfill then takes only its share of the time). The replica-lag throttle is
//! in `replica.rs`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use zerodown::{BackfillProgress, BackfillStage, BackfillState, Migrator, ThrottleReason};

zerodown::migration! {
    /// Adaptive batches from 1000 rows; `hold(v)` (below) makes the batch holding row 1500 wait
    /// until a session waits for one of its row locks.
    pub mod m0001_contended {
        set backfill_target_batch = 150ms;
        backfill items set doubled = hold(id, v) where doubled is null;
    }
}

zerodown::migration! {
    /// The defaults.
    pub mod m0001_plain {
        backfill items set doubled = v * 2;
    }
}

zerodown::migration! {
    /// The defaults, but the whole of the time even while others work.
    pub mod m0001_greedy {
        set backfill_busy_percent = 100;
        backfill items set doubled = v * 2;
    }
}

const ROWS: i64 = 5_000;

async fn setup(name: &str) -> (zerodown::localdb::FreshDatabase, PgConnection) {
    let db = zerodown::localdb::fresh_database(name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut conn = PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    conn.execute(
        format!(
            "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, doubled int);
             INSERT INTO items (id, v) SELECT g, g % 1000 FROM generate_series(1, {ROWS}) g;
             ANALYZE items;
             -- Row 1500 waits (in the batch's transaction) until a session is blocked by it.
             CREATE FUNCTION hold(id bigint, v int) RETURNS int LANGUAGE plpgsql AS $$
             BEGIN
               IF id = 1500 THEN
                 WHILE NOT EXISTS (SELECT 1 FROM pg_stat_activity
                                   WHERE wait_event_type = 'Lock'
                                     AND pg_backend_pid() = ANY(pg_blocking_pids(pid))) LOOP
                   PERFORM pg_sleep(0.01);
                 END LOOP;
               END IF;
               RETURN v * 2;
             END $$;"
        )
        .as_str(),
    )
    .await
    .unwrap();
    (db, conn)
}

/// Rows whose `doubled` is not what the backfill meant to store.
async fn wrong_values(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM items WHERE doubled IS DISTINCT FROM v * 2")
        .fetch_one(conn)
        .await
        .unwrap()
}

fn recorder() -> (
    Arc<Mutex<Vec<BackfillProgress>>>,
    impl Fn(&BackfillProgress) + Send + Sync,
) {
    let seen: Arc<Mutex<Vec<BackfillProgress>>> = Arc::default();
    let sink = seen.clone();
    (seen, move |p: &BackfillProgress| {
        sink.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(p.clone())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_waits_on_a_batch_shrink_the_next_and_pause() {
    let (db, mut conn) = setup("throttle_locks").await;
    let (seen, sink) = recorder();
    let migrator = Migrator::new(&[&m0001_contended::MIGRATION])
        .unwrap()
        .on_progress(sink);
    let options = db.connect_options();
    let run = tokio::spawn(async move { migrator.run(&options).await });
    // The application writes rows of the batch that holds row 1500 until the backfill is done;
    // one of its updates waits for the batch's row locks (row 1500 holds the batch until then).
    let mut writer = PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    while !run.is_finished() {
        writer
            .execute("UPDATE items SET v = v WHERE id BETWEEN 1001 AND 1499")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    run.await
        .unwrap()
        .unwrap_or_else(|e| panic!("the migration failed: {e}"));

    let all = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let i = all
        .iter()
        .position(|p| p.state == BackfillState::Throttled(ThrottleReason::LockWaits))
        .unwrap_or_else(|| panic!("no lock-wait throttle reported: {all:#?}"));
    // The batch that made the writer wait is reported with the next batch's size: halved.
    let batch = &all[i - 1];
    assert_eq!(batch.state, BackfillState::Working);
    let before = all[..i - 1]
        .iter()
        .rfind(|p| p.batches + 1 == batch.batches)
        .expect("a report before the batch");
    assert_eq!(batch.batch_size, before.batch_size / 2, "{:#?}", &all[..=i]);
    let last = all.last().unwrap();
    assert_eq!(last.stage, BackfillStage::Done);
    assert_eq!(wrong_values(&mut conn).await, 0);
    writer.close().await.unwrap();
    conn.close().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_callback_pauses_the_backfill_until_healthy() {
    let (db, mut conn) = setup("throttle_health").await;
    let (seen, sink) = recorder();
    let asked = Arc::new(AtomicU32::new(0));
    let counter = asked.clone();
    // Unhealthy for the first three questions (a `false`, then pauses of 10 ms), then healthy.
    let migrator = Migrator::new(&[&m0001_plain::MIGRATION])
        .unwrap()
        .on_progress(sink)
        .backfill_health(move || match counter.fetch_add(1, Ordering::SeqCst) {
            0 => zerodown::Health::from(false),
            1 | 2 => zerodown::Health::Pause(Duration::from_millis(10)),
            _ => zerodown::Health::Healthy,
        });
    migrator
        .run(&db.connect_options())
        .await
        .unwrap_or_else(|e| panic!("the migration failed: {e}"));
    let all = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let throttled: Vec<&BackfillProgress> = all
        .iter()
        .filter(|p| p.state == BackfillState::Throttled(ThrottleReason::Application))
        .collect();
    // The three pauses asked for, before the first batch.
    let paused: Vec<&&BackfillProgress> = throttled.iter().filter(|p| p.batches == 0).collect();
    assert_eq!(paused.len(), 3, "{all:#?}");
    // Each pause halved the next batch, from 1000 to 125 (above the lower bound of 100).
    assert_eq!(paused[2].batch_size, 125);
    // Then the batches rest in proportion to their time while the application recovers (the rest
    // fades a tenth per batch: at most 20 batches after three complaints).
    let rested: Vec<u64> = throttled
        .iter()
        .filter(|p| p.batches > 0)
        .map(|p| p.batches)
        .collect();
    assert!(!rested.is_empty(), "no rest after the complaints: {all:#?}");
    assert!(rested.iter().all(|b| *b <= 20), "{rested:?}");
    assert!(asked.load(Ordering::SeqCst) > 3, "asked before every batch");
    let last = all.last().unwrap();
    assert_eq!(
        (last.stage, last.rows_updated),
        (BackfillStage::Done, ROWS as u64)
    );
    assert!(last.eta == Some(Duration::ZERO));
    assert_eq!(wrong_values(&mut conn).await, 0);
    conn.close().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vacuum_on_the_table_throttles_the_backfill() {
    let (db, mut conn) = setup("throttle_vacuum").await;
    // Dead tuples for the vacuum to work on, then a vacuum slowed to a crawl (cost-based delay: a
    // 100 ms sleep after every page), so it is still running while the backfill works.
    conn.execute("UPDATE items SET v = v").await.unwrap();
    let mut vacuum = PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    let vacuum_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut vacuum)
        .await
        .unwrap();
    vacuum
        .execute("SET vacuum_cost_delay = '100ms'; SET vacuum_cost_limit = 1")
        .await
        .unwrap();
    // Alone: VACUUM refuses to run in the implicit transaction of a multi-statement query.
    let vacuuming = tokio::spawn(async move {
        let result = vacuum.execute("VACUUM items").await;
        (vacuum, result)
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let running: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_progress_vacuum WHERE relid = 'items'::regclass)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if running {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the vacuum did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (seen, sink) = recorder();
    let migrator = Migrator::new(&[&m0001_plain::MIGRATION])
        .unwrap()
        .on_progress(sink);
    migrator
        .run(&db.connect_options())
        .await
        .unwrap_or_else(|e| panic!("the migration failed: {e}"));
    let still_vacuuming: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_progress_vacuum WHERE relid = 'items'::regclass)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query("SELECT pg_cancel_backend($1)")
        .bind(vacuum_pid)
        .execute(&mut conn)
        .await
        .unwrap();
    let (vacuum, _cancelled) = vacuuming.await.unwrap();
    vacuum.close().await.unwrap();

    let all = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert!(still_vacuuming, "the vacuum ran for the whole backfill");
    let throttled = all
        .iter()
        .filter(|p| p.state == BackfillState::Throttled(ThrottleReason::Autovacuum))
        .count();
    assert!(
        throttled > 0,
        "no report said the vacuum throttled the backfill: {all:#?}"
    );
    assert_eq!(wrong_values(&mut conn).await, 0);
    conn.close().await.unwrap();
    db.drop_database().await.unwrap();
}

/// What the application wrote beside a backfill: the rows it meant to leave (id to `v`), the ids
/// it updated, and how many updates and deletes its triggers audited.
#[derive(Default)]
struct Written {
    rows: std::collections::BTreeMap<i64, i32>,
    updated: std::collections::BTreeSet<i64>,
    audited: i64,
}

/// The application of the new version beside the backfill: it updates (writing `doubled` itself),
/// inserts and deletes rows of `items` every few milliseconds until `stop`, through user triggers
/// (`updated_at`, an audit row per update and delete).
async fn application(
    options: sqlx::postgres::PgConnectOptions,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Written {
    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    let mut written = Written {
        rows: (1..=ROWS).map(|id| (id, (id % 1000) as i32)).collect(),
        ..Written::default()
    };
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next_id = ROWS + 1;
    while !stop.load(Ordering::SeqCst) {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let id = (seed >> 33) as i64 % ROWS + 1;
        match seed % 10 {
            0 => {
                let gone = sqlx::query("DELETE FROM items WHERE id = $1")
                    .bind(id)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                if gone.rows_affected() == 1 {
                    written.rows.remove(&id);
                    written.updated.remove(&id);
                    written.audited += 1;
                }
            }
            1 => {
                sqlx::query("INSERT INTO items (id, v, doubled) VALUES ($1, 7, 14)")
                    .bind(next_id)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                written.rows.insert(next_id, 7);
                next_id += 1;
            }
            _ => {
                let changed =
                    sqlx::query("UPDATE items SET v = v + 1, doubled = (v + 1) * 2 WHERE id = $1")
                        .bind(id)
                        .execute(&mut conn)
                        .await
                        .unwrap();
                if changed.rows_affected() == 1 {
                    *written.rows.get_mut(&id).unwrap() += 1;
                    written.updated.insert(id);
                    written.audited += 1;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    conn.close().await.unwrap();
    written
}

/// Runs `migrator` (a backfill of `items`) on a fresh database while, when `writer` names an
/// `application_name`, the application of [`application`] writes the table under that name; then
/// compares every row with what the application meant to store and returns the progress reports.
async fn run_beside_a_writer(
    name: &str,
    migrator: Migrator,
    writer: Option<&'static str>,
) -> Vec<BackfillProgress> {
    let (db, mut conn) = setup(name).await;
    conn.execute(
        "ALTER TABLE items ADD COLUMN updated_at timestamptz;
         CREATE TABLE audit (id bigint, op text);
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
         CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO audit VALUES (OLD.id, TG_OP); RETURN NULL; END $$;
         CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();
         CREATE TRIGGER items_audit AFTER UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION audit();",
    )
    .await
    .unwrap();
    let (seen, sink) = recorder();
    let migrator = migrator.on_progress(sink);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = writer.map(|application_name| {
        let options = db.connect_options().application_name(application_name);
        tokio::spawn(application(options, stop.clone()))
    });
    migrator
        .run(&db.connect_options())
        .await
        .unwrap_or_else(|e| panic!("the migration failed: {e}"));
    stop.store(true, Ordering::SeqCst);
    let written = match writing {
        Some(writing) => writing.await.unwrap(),
        None => Written {
            rows: (1..=ROWS).map(|id| (id, (id % 1000) as i32)).collect(),
            ..Written::default()
        },
    };
    assert!(
        writer.is_none() || written.audited > 0,
        "the application wrote nothing"
    );
    assert_eq!(wrong_values(&mut conn).await, 0);
    // Every row as the application left it; only the rows it updated were touched by its trigger
    // (the backfill's batches fire none), and its audit saw exactly its own updates and deletes.
    let rows: Vec<(i64, i32, bool)> =
        sqlx::query_as("SELECT id, v, updated_at IS NOT NULL FROM items ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let meant: Vec<(i64, i32, bool)> = written
        .rows
        .iter()
        .map(|(id, v)| (*id, *v, written.updated.contains(id)))
        .collect();
    assert!(
        rows == meant,
        "the table differs from what the application wrote"
    );
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(audited, written.audited);
    conn.close().await.unwrap();
    db.drop_database().await.unwrap();
    let all = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert_eq!(all.last().map(|p| p.stage), Some(BackfillStage::Done));
    all
}

/// The reports saying the backfill rested because other sessions were at work.
fn busy(all: &[BackfillProgress]) -> usize {
    all.iter()
        .filter(|p| p.state == BackfillState::Throttled(ThrottleReason::Busy))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backfill_shares_the_database_only_while_other_sessions_work() {
    let plain = || Migrator::new(&[&m0001_plain::MIGRATION]).unwrap();
    // Alone: the batches follow each other.
    let alone = run_beside_a_writer("share_alone", plain(), None).await;
    assert!(alone.iter().filter(|p| p.batches > 0).count() > 2);
    assert_eq!(busy(&alone), 0, "{alone:#?}");
    // An application at work: it rests before every batch after the first.
    let shared = run_beside_a_writer("share_busy", plain(), Some("app")).await;
    let batches = shared.last().unwrap().batches;
    assert!(batches > 2, "{shared:#?}");
    assert!(
        busy(&shared) as u64 >= batches - 1,
        "{batches} batches, {} rests: {shared:#?}",
        busy(&shared)
    );
    // The migrator's own sessions (another runner waiting for the lock) are not an application.
    let own = run_beside_a_writer("share_own", plain(), Some("zerodown")).await;
    assert_eq!(busy(&own), 0, "{own:#?}");
    // 100% never rests, set on the migrator or written in the migration.
    let full = plain().backfill_busy_percent(100).unwrap();
    let full = run_beside_a_writer("share_full", full, Some("app")).await;
    assert_eq!(busy(&full), 0, "{full:#?}");
    let greedy = Migrator::new(&[&m0001_greedy::MIGRATION]).unwrap();
    let greedy = run_beside_a_writer("share_greedy", greedy, Some("app")).await;
    assert_eq!(busy(&greedy), 0, "{greedy:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_hidden_from_the_migrator_s_role_count_as_at_work() {
    let (db, mut conn) = setup("share_hidden").await;
    // A role of its own (roles are the server's: a name no other run uses), owning the table,
    // without `pg_read_all_stats`: the superuser's sessions are hidden from it.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let role = format!("zd_share_{}_{nanos}", std::process::id());
    conn.execute(
        format!(
            "CREATE ROLE {role} LOGIN; ALTER TABLE items OWNER TO {role};
             GRANT CREATE ON SCHEMA public TO {role};"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let (seen, sink) = recorder();
    let migrator = Migrator::new(&[&m0001_plain::MIGRATION])
        .unwrap()
        .on_progress(sink);
    // The test's own superuser session sits idle; the role cannot tell, so it shares.
    let ran = migrator.run(&db.connect_options().username(&role)).await;
    let all = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let wrong = wrong_values(&mut conn).await;
    conn.execute(
        format!(
            "REASSIGN OWNED BY {role} TO CURRENT_USER; DROP OWNED BY {role}; DROP ROLE {role};"
        )
        .as_str(),
    )
    .await
    .unwrap();
    conn.close().await.unwrap();
    db.drop_database().await.unwrap();
    ran.unwrap_or_else(|e| panic!("the migration failed: {e}"));
    assert_eq!(wrong, 0);
    let batches = all.last().unwrap().batches;
    assert!(batches > 2, "{all:#?}");
    assert!(busy(&all) as u64 >= batches - 1, "{all:#?}");
}

#[test]
fn a_busy_share_outside_1_to_100_percent_is_refused() {
    for percent in [0, 101, 255] {
        let error = Migrator::new(&[&m0001_plain::MIGRATION])
            .unwrap()
            .backfill_busy_percent(percent)
            .err()
            .unwrap_or_else(|| panic!("{percent}% was accepted"));
        assert_eq!(
            error.to_string(),
            format!("invalid migrator configuration: the backfill's busy share is {percent}%; use a percentage from 1 to 100 (100 never rests)"),
        );
    }
}
