//! Batched backfills written with `migration!`, run against a real PostgreSQL:
//!
//! - a 200k-row `backfill` and the volatile-default recipe, each under concurrent application writers
//!   (inserts, updates of other columns, updates of the backfilled column itself) for the whole run:
//!   afterwards every row, old and new, has the right value, and every write of the application is
//!   still there; the steps take no lock stronger than the plan declares (sampled from another session)
//!   and rewrite no table;
//! - a run killed (SIGKILL of a child process) after a seeded random number of committed batches, and
//!   a run whose connection is terminated by the server: the data always matches the saved cursor,
//!   and the rerun resumes after it and converges, updating each row exactly once.

mod backfill_support;
mod version_gate;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backfill_support::{existing_database, fresh_database, init_tracing, Db, LockSampler};
use sqlx::PgConnection;
use tokio::time::Instant;
use zerodown::{BackfillProgress, BackfillStage, LockLevel, MigrationState, Migrator};

zerodown::migration! {
    /// Lowercased emails, for case-insensitive lookups.
    pub mod m0001_email_lower {
        set backfill_batch_size = 1000;
        set backfill_pause = 2ms;
        backfill users set email_lower = lower(email);
    }
}

zerodown::migration! {
    /// Every account gets a token; new accounts get one from the default.
    pub mod m0001_account_token {
        alter table accounts add column token uuid not null default gen_random_uuid();
    }
}

zerodown::migration! {
    /// Doubled amounts, slowly (the kill tests need time to kill it).
    pub mod m0001_items_doubled {
        set backfill_batch_size = 500;
        set backfill_pause = 20ms;
        // The kill tests count each row's updates with a trigger, which must fire.
        unsafe(reason = "the test's trigger counts the updates", allow = [fires_user_triggers]) {
            backfill items set doubled = amount * 2 where doubled is null;
        }
    }
}

/// The migrator's `application_name`, which the lock sampler watches.
const MIGRATOR_APP: &str = "zerodown";
/// Rows of the tables under concurrent writers.
const ROWS: i64 = 200_000;
/// Concurrent application writers.
const WRITERS: u64 = 4;

/// A small deterministic generator (xorshift64*), so runs are reproducible from their seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// An id in `1..=ROWS` owned by writer `k` (ids are split between writers by `id % WRITERS`, so a
    /// row's final value written by the application is known).
    fn own_id(&mut self, k: u64) -> i64 {
        let id = (self.next() % (ROWS as u64 / WRITERS)) * WRITERS + k;
        if id == 0 {
            WRITERS as i64
        } else {
            id as i64
        }
    }
}

/// What the application writers did.
#[derive(Debug, Default)]
struct Writes {
    /// Rows inserted, with the value the application gave them.
    inserted: HashMap<i64, String>,
    /// The last value the application wrote per existing row.
    last: HashMap<i64, String>,
    /// Increments of a counter column.
    increments: u64,
    /// Writes of the backfilled column itself.
    own_column_writes: u64,
}

/// Runs `op` in a loop on `WRITERS` connections until `stop` is set; returns what they did.
async fn write_until<F, Fut>(
    db: &Db,
    stop: Arc<AtomicBool>,
    op: F,
) -> Vec<tokio::task::JoinHandle<Writes>>
where
    F: Fn(PgConnection, u64, Rng, Arc<AtomicBool>) -> Fut,
    Fut: std::future::Future<Output = Writes> + Send + 'static,
{
    let mut tasks = Vec::new();
    for k in 0..WRITERS {
        let conn = db.connect_as("zdbf app").await;
        tasks.push(tokio::spawn(op(conn, k, Rng::new(1000 + k), stop.clone())));
    }
    tasks
}

async fn join(tasks: Vec<tokio::task::JoinHandle<Writes>>) -> Writes {
    let mut all = Writes::default();
    for t in tasks {
        let w = t.await.unwrap();
        all.inserted.extend(w.inserted);
        all.last.extend(w.last);
        all.increments += w.increments;
        all.own_column_writes += w.own_column_writes;
    }
    all
}

/// Records every progress report; sets `gate` while the backfill's batches run.
fn progress_recorder(
    gate: Arc<AtomicBool>,
) -> (
    Arc<Mutex<Vec<BackfillProgress>>>,
    impl Fn(&BackfillProgress) + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    let callback = move |p: &BackfillProgress| {
        gate.store(p.stage != BackfillStage::Done, Ordering::SeqCst);
        out.lock().unwrap().push(p.clone());
    };
    (seen, callback)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backfill_under_concurrent_writers_keeps_every_write() {
    init_tracing();
    let db = fresh_database("bf_writers").await;
    db.exec(&format!(
        "CREATE TABLE users (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email text NOT NULL,
                             email_lower text, score int NOT NULL DEFAULT 0);
         INSERT INTO users (email) SELECT 'User' || g || '@Example.COM' FROM generate_series(1, {ROWS}) g;
         ANALYZE users;"
    ))
    .await;
    let relfilenode = db.relfilenode("users").await;
    if version_gate::refused_as_too_new(&db.options, &[&m0001_email_lower::MIGRATION]).await {
        return;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let writers = write_until(&db, stop.clone(), |mut conn, k, mut rng, stop| async move {
        let mut w = Writes::default();
        let mut i = 0u64;
        while !stop.load(Ordering::SeqCst) {
            i += 1;
            match i % 4 {
                // A new row, written by an application version that fills the new column.
                0 => {
                    let email = format!("New{k}-{i}@Example.ORG");
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO users (email, email_lower) VALUES ($1, lower($1)) RETURNING id",
                    )
                    .bind(&email)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                    w.inserted.insert(id, email);
                }
                // Another column.
                1 => {
                    let n = sqlx::query("UPDATE users SET score = score + 1 WHERE id = $1")
                        .bind(rng.own_id(k))
                        .execute(&mut conn)
                        .await
                        .unwrap()
                        .rows_affected();
                    w.increments += n;
                }
                // The column the backfill reads, keeping the new column in step.
                2 => {
                    let id = rng.own_id(k);
                    let email = format!("Changed{k}-{i}@Example.NET");
                    sqlx::query("UPDATE users SET email = $2, email_lower = lower($2) WHERE id = $1")
                        .bind(id)
                        .bind(&email)
                        .execute(&mut conn)
                        .await
                        .unwrap();
                    w.last.insert(id, email);
                }
                // The backfilled column itself.
                _ => {
                    sqlx::query("UPDATE users SET email_lower = lower(email) WHERE id = $1")
                        .bind(rng.own_id(k))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                    w.own_column_writes += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        w
    })
    .await;

    let gate = Arc::new(AtomicBool::new(false));
    let sampler = LockSampler::start(&db, MIGRATOR_APP, &["users"], None).await;
    let (progress, callback) = progress_recorder(gate);
    let started = Instant::now();
    let report = Migrator::new(&[&m0001_email_lower::MIGRATION])
        .unwrap()
        .on_progress(callback)
        .run(&db.options)
        .await
        .unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let writes = join(writers).await;
    let (locks, _, samples) = sampler.finish().await;
    eprintln!("{report}backfill took {took:?} beside {} inserts, {} increments, {} email changes, {} writes of email_lower; {samples} lock samples",
        writes.inserted.len(), writes.increments, writes.last.len(), writes.own_column_writes);

    // The writers really ran during the backfill.
    assert!(
        writes.inserted.len() > 10
            && writes.increments > 10
            && writes.last.len() > 10
            && writes.own_column_writes > 10,
        "{writes:?}"
    );
    // Every row, old and new, has the right value.
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM users WHERE email_lower IS DISTINCT FROM lower(email)"
        )
        .await,
        0
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM users").await,
        ROWS + writes.inserted.len() as i64
    );
    // Nothing the application wrote was lost or overwritten.
    assert_eq!(
        db.scalar::<i64>("SELECT sum(score)::bigint FROM users")
            .await,
        writes.increments as i64
    );
    let mut expected: HashMap<i64, String> = writes.last;
    expected.extend(writes.inserted);
    let ids: Vec<i64> = expected.keys().copied().collect();
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, email FROM users WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(&mut db.connect().await)
        .await
        .unwrap();
    assert_eq!(rows.len(), expected.len());
    for (id, email) in rows {
        assert_eq!(Some(&email), expected.get(&id), "row {id}");
    }

    // Locks and rewrites: the step declares ROW EXCLUSIVE on "users" and no rewrite.
    let step = &m0001_email_lower::MIGRATION.expand.steps[0];
    assert_eq!((step.lock, step.rewrites), (LockLevel::RowExclusive, false));
    assert_eq!(
        locks.get("users"),
        Some(&LockLevel::RowExclusive),
        "{locks:?} in {samples} samples"
    );
    assert_eq!(db.relfilenode("users").await, relfilenode);

    let progress = progress.lock().unwrap().clone();
    let last = progress.last().unwrap();
    assert_eq!(last.stage, BackfillStage::Done);
    assert!(last.batches >= (ROWS as u64) / 1000, "{last:?}");
    assert!(
        last.rows_updated
            >= (ROWS as u64).saturating_sub(writes.own_column_writes + expected.len() as u64),
        "{last:?}"
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn volatile_default_recipe_under_concurrent_writers() {
    init_tracing();
    let db = fresh_database("bf_volatile_default").await;
    db.exec(&format!(
        "CREATE TABLE accounts (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL,
                                touched int NOT NULL DEFAULT 0);
         INSERT INTO accounts (name) SELECT 'account ' || g FROM generate_series(1, {ROWS}) g;
         ANALYZE accounts;"
    ))
    .await;
    let relfilenode = db.relfilenode("accounts").await;
    if version_gate::refused_as_too_new(&db.options, &[&m0001_account_token::MIGRATION]).await {
        return;
    }
    // `gen_random_uuid()` is built in from PostgreSQL 13; before, pgcrypto has it.
    if db
        .scalar::<i32>("SELECT current_setting('server_version_num')::int")
        .await
        < 130_000
    {
        db.exec("CREATE EXTENSION IF NOT EXISTS pgcrypto").await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let writers = write_until(&db, stop.clone(), |mut conn, k, mut rng, stop| async move {
        let mut w = Writes::default();
        let mut i = 0u64;
        while !stop.load(Ordering::SeqCst) {
            i += 1;
            match i % 3 {
                // Old and new application versions insert without the column: the default fills it.
                0 => {
                    let name = format!("new {k}-{i}");
                    let id: i64 =
                        sqlx::query_scalar("INSERT INTO accounts (name) VALUES ($1) RETURNING id")
                            .bind(&name)
                            .fetch_one(&mut conn)
                            .await
                            .unwrap();
                    w.inserted.insert(id, name);
                }
                1 => {
                    let n = sqlx::query("UPDATE accounts SET touched = touched + 1 WHERE id = $1")
                        .bind(rng.own_id(k))
                        .execute(&mut conn)
                        .await
                        .unwrap()
                        .rows_affected();
                    w.increments += n;
                }
                // The new application version sets tokens of its own, once the column exists.
                _ => {
                    let id = rng.own_id(k);
                    let token = format!("00000000-0000-4000-8000-{:04x}{:08x}", k, i);
                    match sqlx::query("UPDATE accounts SET token = $2::uuid WHERE id = $1")
                        .bind(id)
                        .bind(&token)
                        .execute(&mut conn)
                        .await
                    {
                        Ok(_) => {
                            w.last.insert(id, token);
                            w.own_column_writes += 1;
                        }
                        Err(e) if e.to_string().contains("column \"token\"") => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        w
    })
    .await;

    let gate = Arc::new(AtomicBool::new(false));
    let sampler = LockSampler::start(&db, MIGRATOR_APP, &["accounts"], Some(gate.clone())).await;
    let (progress, callback) = progress_recorder(gate);
    let migration = &m0001_account_token::MIGRATION;
    let report = Migrator::new(&[migration])
        .unwrap()
        .on_progress(callback)
        .run(&db.options)
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let writes = join(writers).await;
    let (locks, during_backfill, samples) = sampler.finish().await;
    eprintln!(
        "{report}beside {} inserts, {} increments, {} token writes; {samples} lock samples",
        writes.inserted.len(),
        writes.increments,
        writes.own_column_writes
    );
    assert!(
        writes.inserted.len() > 10 && writes.increments > 10 && writes.own_column_writes > 10,
        "{writes:?}"
    );

    // The recipe: add + set default, backfill, the CHECK route to NOT NULL.
    let kinds: Vec<bool> = migration
        .expand
        .steps
        .iter()
        .map(|s| matches!(s.kind, zerodown::plan::StepKind::Backfill(_)))
        .collect();
    assert_eq!(kinds, [false, true, false, false, false]);
    // Every row has a token, the column is NOT NULL with its default, and the helper check is gone.
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM accounts WHERE token IS NULL")
            .await,
        0
    );
    let (not_null, default): (bool, String) = sqlx::query_as(
        "SELECT a.attnotnull, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a
         JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = 'accounts'::regclass AND a.attname = 'token'",
    )
    .fetch_one(&mut db.connect().await)
    .await
    .unwrap();
    assert_eq!((not_null, default.as_str()), (true, "gen_random_uuid()"));
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND contype = 'c'").await, 0);
    // Each row got its own value (a volatile default, evaluated per row), and nothing was lost.
    assert_eq!(
        db.scalar::<i64>("SELECT count(DISTINCT token) FROM accounts")
            .await,
        ROWS + writes.inserted.len() as i64
    );
    assert_eq!(
        db.scalar::<i64>("SELECT sum(touched)::bigint FROM accounts")
            .await,
        writes.increments as i64
    );
    // Tokens the application wrote are kept, whether before or after the backfill reached the row.
    let ids: Vec<i64> = writes.last.keys().copied().collect();
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, token::text FROM accounts WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut db.connect().await)
            .await
            .unwrap();
    assert_eq!(rows.len(), writes.last.len());
    for (id, token) in rows {
        assert_eq!(Some(&token), writes.last.get(&id), "row {id}");
    }

    // Locks: while the backfill's batches ran, nothing stronger than its ROW EXCLUSIVE; over the whole
    // run, nothing stronger than the plan's strongest step; and no rewrite.
    let strongest = migration.expand.steps.iter().map(|s| s.lock).max().unwrap();
    assert_eq!(strongest, LockLevel::AccessExclusive);
    assert_eq!(
        during_backfill.get("accounts"),
        Some(&LockLevel::RowExclusive),
        "{during_backfill:?}"
    );
    assert!(
        locks.get("accounts").is_some_and(|l| *l <= strongest),
        "{locks:?}"
    );
    assert!(migration.expand.steps.iter().all(|s| !s.rewrites));
    assert_eq!(db.relfilenode("accounts").await, relfilenode);
    assert_eq!(
        progress.lock().unwrap().last().unwrap().stage,
        BackfillStage::Done
    );
    db.drop_database().await;
}

/// The kill tests' table: 20k rows, 40 batches of 500; a trigger counts the updates of each row.
const ITEMS: i64 = 20_000;
const ITEM_BATCHES: i64 = ITEMS / 500;

async fn items_table(db: &Db) {
    // `EXECUTE PROCEDURE`: the spelling every supported version takes (`EXECUTE FUNCTION` is 11+).
    db.exec(&format!(
        "CREATE TABLE items (id int PRIMARY KEY, amount int NOT NULL, doubled int, updates int NOT NULL DEFAULT 0);
         CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN NEW.updates := OLD.updates + 1; RETURN NEW; END $$;
         CREATE TRIGGER items_count_update BEFORE UPDATE ON items FOR EACH ROW EXECUTE PROCEDURE count_update();
         INSERT INTO items (id, amount) SELECT g, g % 1000 FROM generate_series(1, {ITEMS}) g;"
    ))
    .await;
}

/// Waits until no session of the migrator is left (a killed process's backends end when the server
/// notices), so nothing can commit behind the test's back.
async fn wait_migrator_gone(db: &Db) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: i64 = db
            .scalar(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{MIGRATOR_APP}'"
            ))
            .await;
        if n == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the migrator's sessions did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// After an interrupted run: the committed data is exactly the saved cursor's batches.
async fn assert_data_matches_cursor(db: &Db) -> i64 {
    let batches = db.saved_batches(1, 0).await;
    let cursor: String = db
        .scalar("SELECT coalesce((SELECT backfill_cursor->'values'->>0 FROM zerodown_migrations_steps), '0')")
        .await;
    assert_eq!(
        cursor.parse::<i64>().unwrap(),
        batches * 500,
        "the cursor is the last key of the last committed batch"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM items WHERE doubled IS NOT NULL")
            .await,
        batches * 500
    );
    assert_eq!(
        db.scalar::<i64>(&format!(
            "SELECT count(*) FROM items WHERE id <= {} AND doubled = amount * 2",
            batches * 500
        ))
        .await,
        batches * 500
    );
    batches
}

/// Reruns the migration and checks it resumed at the cursor and converged, each row updated once.
async fn rerun_converges(db: &Db, batches_before: i64) {
    let (progress, callback) = progress_recorder(Arc::new(AtomicBool::new(false)));
    let migrator = Migrator::new(&[&m0001_items_doubled::MIGRATION])
        .unwrap()
        .on_progress(callback);
    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(report.migrations.len(), 1, "{report}");
    let first = progress.lock().unwrap()[0].clone();
    assert_eq!(
        (first.batches, first.rows_passed),
        (batches_before as u64, batches_before as u64 * 500),
        "{first:?}"
    );

    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM items WHERE doubled IS DISTINCT FROM amount * 2")
            .await,
        0
    );
    // No batch before the cursor was applied again: every row was updated exactly once, and the
    // batches of both runs add up to those of one uninterrupted run.
    assert_eq!(
        db.scalar::<i64>("SELECT min(updates)::bigint FROM items")
            .await,
        1
    );
    assert_eq!(
        db.scalar::<i64>("SELECT max(updates)::bigint FROM items")
            .await,
        1
    );
    assert_eq!(db.saved_batches(1, 0).await, ITEM_BATCHES);
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(status.migrations[0].state, MigrationState::Completed);
}

/// The child process of the SIGKILL test: runs the migration on the database in `ZDBF_CHILD_URL`.
/// Not a test of its own (ignored); the parent runs it with `--ignored`.
#[tokio::test]
#[ignore = "run by `killed_at_a_random_batch_resumes_after_the_cursor` in a child process"]
async fn child_runs_the_migration() {
    let url =
        std::env::var("ZDBF_CHILD_URL").expect("run by the kill test, which sets ZDBF_CHILD_URL");
    let db = existing_database(&url);
    let mut migrator = Migrator::new(&[&m0001_items_doubled::MIGRATION]).unwrap();
    if let Some(ms) = std::env::var("ZDBF_IDLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        migrator = migrator.idle_in_transaction_timeout(Duration::from_millis(ms));
    }
    migrator.run(&db.options).await.unwrap();
    panic!("the migration finished before the parent killed this process");
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to process `pid` with kill(1).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}

#[tokio::test]
async fn a_runner_frozen_inside_a_batch_loses_its_session_and_its_locks() {
    init_tracing();
    let db = fresh_database("bf_frozen").await;
    items_table(&db).await;
    if version_gate::refused_as_too_new(&db.options, &[&m0001_items_doubled::MIGRATION]).await {
        return;
    }
    // Batches that take a while (2 ms a row), so the runner is inside one most of the time.
    db.exec(
        "CREATE FUNCTION slow_update() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END $$;
         CREATE TRIGGER items_slow BEFORE UPDATE ON items FOR EACH ROW EXECUTE PROCEDURE slow_update();",
    )
    .await;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_runs_the_migration",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZDBF_CHILD_URL", &db.url)
        .env("ZDBF_IDLE_MS", "1000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Freeze the runner (as a paused VM or container would be) while its step session is inside a
    // batch's transaction: stop it while a transaction is open. A statement under way finishes, then
    // the session sits idle in its transaction; if the batch committed in between, let the runner go
    // on and try again.
    let open = format!(
        "SELECT pid, backend_xid::text, state FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = '{MIGRATOR_APP}' AND backend_xid IS NOT NULL"
    );
    let mut conn = db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (frozen_pid, xid) = 'caught: loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended before it was frozen"
        );
        assert!(
            Instant::now() < deadline,
            "never caught the runner inside a batch"
        );
        let found: Vec<(i32, String, String)> =
            sqlx::query_as(&open).fetch_all(&mut conn).await.unwrap();
        if found.is_empty() || db.saved_batches(1, 0).await < 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        signal(pid, "STOP");
        loop {
            let found: Vec<(i32, String, String)> =
                sqlx::query_as(&open).fetch_all(&mut conn).await.unwrap();
            match found
                .iter()
                .find(|(_, _, state)| state == "idle in transaction")
            {
                Some((pid, xid, _)) => break 'caught (*pid, xid.clone()),
                None if found.is_empty() => break,
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        signal(pid, "CONT");
    };
    // One of the rows the frozen batch updated: the application wants to write it.
    let row: i32 = db
        .scalar(&format!(
            "SELECT id FROM items WHERE xmax::text = '{xid}' LIMIT 1"
        ))
        .await;
    let started = Instant::now();
    let write = {
        let mut conn = db.connect().await;
        async move {
            sqlx::query("UPDATE items SET amount = amount WHERE id = $1")
                .bind(row)
                .execute(&mut conn)
                .await
                .map(drop)
        }
    };
    let written = tokio::time::timeout(Duration::from_secs(30), write).await;
    let waited = started.elapsed();
    signal(pid, "KILL");
    child.wait().unwrap();
    assert!(
        matches!(written, Ok(Ok(()))),
        "the application's write stayed blocked behind the frozen runner: {written:?}"
    );
    eprintln!("the application's write waited {waited:?} behind the frozen runner (limit 1 s)");
    let gone: i64 = db
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = {frozen_pid}"
        ))
        .await;
    assert_eq!(gone, 0, "the server did not end the frozen session");
    wait_migrator_gone(&db).await;

    // A new runner resumes after the last committed batch and converges.
    db.exec("DROP TRIGGER items_slow ON items").await;
    let report = Migrator::new(&[&m0001_items_doubled::MIGRATION])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap();
    assert_eq!(report.migrations.len(), 1, "{report}");
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM items WHERE doubled IS DISTINCT FROM amount * 2")
            .await,
        0
    );
    db.drop_database().await;
}

#[tokio::test]
async fn killed_at_a_random_batch_resumes_after_the_cursor() {
    init_tracing();
    let db = fresh_database("bf_kill").await;
    items_table(&db).await;
    if version_gate::refused_as_too_new(&db.options, &[&m0001_items_doubled::MIGRATION]).await {
        return;
    }
    let seed: u64 = std::env::var("ZDBF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_241_123);
    let kill_after = 3 + (Rng::new(seed).next() % (ITEM_BATCHES as u64 - 10)) as i64;
    eprintln!("seed {seed}: SIGKILL after {kill_after} committed batches (set ZDBF_SEED to vary)");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_runs_the_migration",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZDBF_CHILD_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.saved_batches(1, 0).await < kill_after {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended before it was killed"
        );
        assert!(Instant::now() < deadline, "the child made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    wait_migrator_gone(&db).await;

    let batches = assert_data_matches_cursor(&db).await;
    assert!(
        batches >= kill_after && batches < ITEM_BATCHES,
        "killed after {batches} batches"
    );
    assert_eq!(
        db.scalar::<String>("SELECT state FROM zerodown_migrations_steps")
            .await,
        "running"
    );
    rerun_converges(&db, batches).await;
    db.drop_database().await;
}

#[tokio::test]
async fn terminated_connection_mid_backfill_then_rerun_converges() {
    init_tracing();
    let db = fresh_database("bf_terminate").await;
    items_table(&db).await;
    if version_gate::refused_as_too_new(&db.options, &[&m0001_items_doubled::MIGRATION]).await {
        return;
    }
    let options = db.options.clone();
    let run = tokio::spawn(async move {
        Migrator::new(&[&m0001_items_doubled::MIGRATION])
            .unwrap()
            .run(&options)
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.saved_batches(1, 0).await < 5 {
        assert!(!run.is_finished(), "the run ended early");
        assert!(Instant::now() < deadline, "the run made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The step connection: the migrator's session that does not hold the migration lock.
    let terminated: i64 = db
        .scalar(&format!(
            "SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a
             WHERE a.datname = current_database() AND a.application_name = '{MIGRATOR_APP}'
               AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory')"
        ))
        .await;
    assert_eq!(terminated, 1);
    let err = run.await.unwrap().unwrap_err();
    let step = err.as_step().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(
        step.description,
        "backfill \"items\" set \"doubled\" in batches"
    );
    assert!(
        err.to_string()
            .contains("committed batches are kept: the next run resumes after the last one"),
        "{err}"
    );
    wait_migrator_gone(&db).await;

    let batches = assert_data_matches_cursor(&db).await;
    assert!((5..ITEM_BATCHES).contains(&batches), "{batches}");
    assert_eq!(
        db.scalar::<String>("SELECT state FROM zerodown_migrations_steps")
            .await,
        "failed"
    );
    rerun_converges(&db, batches).await;
    db.drop_database().await;
}
