//! A backfill against a real streaming replica: a throwaway primary and a hot standby made from it
//! with `pg_basebackup -R`, on loopback. Replay is paused on the standby (`pg_wal_replay_pause()`),
//! so its replay lag grows while the backfill writes: the backfill pauses before the batch after
//! the lag passes `backfill_max_replica_lag` (its progress says "throttled: replica lag"), commits
//! nothing while paused, resumes once replay resumes and the lag is below half the limit, and
//! completes; the standby then holds exactly the primary's data.
//!
//! Needs the server binaries (`initdb`, `pg_ctl`, `postgres`, `pg_basebackup`; found like
//! `zerodown::localdb` finds them). Never skipped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use tokio::time::Instant;
use zerodown::localdb::{Cluster, Discovery};
use zerodown::{BackfillProgress, BackfillStage, BackfillState, Migrator, ThrottleReason};

const ROWS: i64 = 20_000;
const LIMIT: Duration = Duration::from_millis(500);

zerodown::migration! {
    /// Small batches (100 rows, 20 ms apart: several seconds in all) so that the lag passes the
    /// limit long before the end, however fast the machine.
    pub mod m0001_double {
        set backfill_batch_size = 100;
        set backfill_target_batch = 1ms;
        set backfill_pause = 20ms;
        set backfill_max_replica_lag = 500ms;
        backfill items set doubled = v * 2;
    }
}

/// Not a timed assertion: how long to wait for something before failing with a message.
const PATIENCE: Duration = Duration::from_secs(60);

async fn connect(cluster: &Cluster) -> PgConnection {
    PgConnection::connect_with(&cluster.admin_options())
        .await
        .unwrap_or_else(|e| panic!("connecting to the cluster on port {}: {e}", cluster.port()))
}

/// Waits until the standby has replayed everything the primary has written so far.
async fn caught_up(primary: &mut PgConnection, standby: &mut PgConnection) {
    let target: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(&mut *primary)
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let behind: f64 = sqlx::query_scalar(
            "SELECT pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())::float8",
        )
        .bind(&target)
        .fetch_one(&mut *standby)
        .await
        .unwrap();
        if behind <= 0.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the standby did not replay up to {target} ({behind} bytes behind)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn digest(conn: &mut PgConnection) -> (i64, String) {
    sqlx::query_as(
        "SELECT count(*), md5(string_agg(id || ':' || v || ':' || coalesce(doubled::text, '-'), ',' ORDER BY id)) FROM items",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

fn snapshots(seen: &Mutex<Vec<BackfillProgress>>) -> Vec<BackfillProgress> {
    seen.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

fn is_lag_throttle(p: &BackfillProgress) -> bool {
    p.state == BackfillState::Throttled(ThrottleReason::ReplicaLag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_pauses_on_replica_lag_resumes_and_the_replica_matches() {
    let bindir = Discovery::from_env().server_bindir().expect(
        "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) found: put `pg_config` on PATH or install the server package; this test streams to a replica of a throwaway cluster",
    );
    let primary = Cluster::start(&bindir).await.unwrap_or_else(|e| {
        panic!(
            "starting a throwaway primary from {}: {e}",
            bindir.display()
        )
    });
    let standby = primary
        .start_standby()
        .await
        .unwrap_or_else(|e| panic!("starting a standby with pg_basebackup: {e}"));
    let mut p = connect(&primary).await;
    let mut s = connect(&standby).await;
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut s)
        .await
        .unwrap();
    assert!(in_recovery, "the standby is not in recovery");

    p.execute(
        format!(
            "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, doubled int);
             INSERT INTO items (id, v) SELECT g, g % 1000 FROM generate_series(1, {ROWS}) g;
             ANALYZE items;"
        )
        .as_str(),
    )
    .await
    .unwrap();
    caught_up(&mut p, &mut s).await;
    let streaming: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            .fetch_one(&mut p)
            .await
            .unwrap();
    assert_eq!(streaming, 1, "the primary streams to one standby");

    // Replay stops: from now on every byte the backfill writes adds to the standby's lag.
    s.execute("SELECT pg_wal_replay_pause()").await.unwrap();

    let seen: Arc<Mutex<Vec<BackfillProgress>>> = Arc::default();
    let sink = seen.clone();
    let migrator = Migrator::new(&[&m0001_double::MIGRATION])
        .unwrap()
        .on_progress(move |p| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(p.clone())
        });
    let options = primary.admin_options();
    let run = tokio::spawn(async move { migrator.run(&options).await });

    // Wait for the pause, then watch it hold over several more looks at the lag.
    let deadline = Instant::now() + PATIENCE;
    let paused_at = loop {
        let all = snapshots(&seen);
        if let Some(i) = all.iter().position(is_lag_throttle) {
            break i;
        }
        assert!(
            !run.is_finished() && Instant::now() < deadline,
            "the backfill never paused for replica lag; progress: {:#?}",
            all.last()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    loop {
        let all = snapshots(&seen);
        if all[paused_at..]
            .iter()
            .filter(|p| is_lag_throttle(p))
            .count()
            >= 5
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backfill did not stay paused"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let behind: f64 = sqlx::query_scalar(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 FROM pg_stat_replication",
    )
    .fetch_one(&mut p)
    .await
    .unwrap();
    assert!(behind > 0.0, "the standby is behind while replay is paused");

    s.execute("SELECT pg_wal_replay_resume()").await.unwrap();
    let report = run.await.unwrap();
    report.unwrap_or_else(|e| panic!("the migration failed: {e}"));

    let all = snapshots(&seen);
    let first = &all[paused_at];
    assert!(
        first.replica_lag.is_some_and(|lag| lag > LIMIT),
        "paused with a lag above the limit: {first:#?}"
    );
    assert!(
        first.stage == BackfillStage::Batches && first.batches > 0,
        "paused during the main pass: {first:#?}"
    );
    // Within one batch: every committed batch was started with the lag at or below the limit (the
    // lag is measured before each batch; a batch report carries the lag measured before it), so
    // the batch after the lag passed it was not started.
    for p in all.iter().filter(|p| p.state == BackfillState::Working) {
        assert!(
            p.replica_lag.is_none_or(|lag| lag <= LIMIT),
            "a batch ran with the replica lagging over the limit: {p:#?}"
        );
    }
    // Nothing committed while paused; the first batch after the pause started below half the limit.
    let resumed = paused_at
        + all[paused_at..]
            .iter()
            .position(|p| p.state == BackfillState::Working)
            .expect("the backfill resumed");
    assert!(
        all[paused_at..resumed]
            .iter()
            .all(|p| p.batches == first.batches && is_lag_throttle(p)),
        "batches committed while paused for replica lag"
    );
    assert_eq!(all[resumed].batches, first.batches + 1);
    assert!(
        all[resumed].replica_lag.is_some_and(|lag| lag <= LIMIT / 2),
        "resumed only below half the limit: {:#?}",
        all[resumed]
    );
    let last = all.last().unwrap();
    assert_eq!(last.stage, BackfillStage::Done);
    assert_eq!(last.rows_updated, ROWS as u64);

    // The standby replays everything and holds exactly the primary's rows.
    let remaining: i64 =
        sqlx::query_scalar("SELECT count(*) FROM items WHERE doubled IS DISTINCT FROM v * 2")
            .fetch_one(&mut p)
            .await
            .unwrap();
    assert_eq!(remaining, 0);
    caught_up(&mut p, &mut s).await;
    let on_primary = digest(&mut p).await;
    let on_standby = digest(&mut s).await;
    assert_eq!(on_primary.0, ROWS);
    assert_eq!(
        on_standby, on_primary,
        "the standby's rows differ from the primary's"
    );

    p.close().await.unwrap();
    s.close().await.unwrap();
    standby.stop().unwrap();
    primary.stop().unwrap();
}
