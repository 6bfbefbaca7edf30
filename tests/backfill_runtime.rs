//! The backfill executor on hand-built plans: key discovery (primary key, unique not-null index,
//! `by (..)`, composite and non-integer keys, names that need quoting), its errors, the cursor, the
//! sweeps over rows written behind it, and the failure when rows keep needing the update.

mod backfill_support;

use std::sync::{Arc, Mutex};

use backfill_support::{backfill_step, fresh_database, init_tracing, migration};
use zerodown::{BackfillProgress, BackfillStage, Migrator, StepErrorKind};

fn recorder() -> (
    Arc<Mutex<Vec<BackfillProgress>>>,
    impl Fn(&BackfillProgress) + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    (seen, move |p: &BackfillProgress| {
        out.lock().unwrap().push(p.clone())
    })
}

#[tokio::test]
async fn primary_key_batches_update_every_row_and_record_the_cursor() {
    init_tracing();
    let db = fresh_database("rt_pk").await;
    db.exec(
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, email_lower text);
         INSERT INTO users SELECT g, 'User' || g || '@Example.COM', NULL FROM generate_series(1, 2500) g;
         UPDATE users SET email_lower = lower(email) WHERE id IN (5, 1500);
         ANALYZE users",
    )
    .await;
    let step = backfill_step(
        "\"users\"",
        &[],
        "\"email_lower\" = lower(\"email\")",
        "\"email_lower\" IS DISTINCT FROM lower(\"email\")",
        1000,
        0,
    );
    let m = migration(1, "lower_email", vec![step]);
    let plan = Migrator::new(&[m])
        .unwrap()
        .plan(&db.options)
        .await
        .unwrap()
        .to_string();
    assert!(
        plan.contains(
            "runs in batches, each one transaction with its cursor update, timeouts per batch; lock ROW EXCLUSIVE on \"users\"; lock_timeout 1s"
        ),
        "{plan}"
    );
    assert!(plan.contains("--   keyset batches of 1000 rows by the primary key (or a unique not-null key), 0s apart, then a count of the rows still pending:\nUPDATE \"users\" SET \"email_lower\" = lower(\"email\") WHERE \"email_lower\" IS DISTINCT FROM lower(\"email\");\n"), "{plan}");
    let (seen, callback) = recorder();
    let report = Migrator::new(&[m])
        .unwrap()
        .on_progress(callback)
        .run(&db.options)
        .await
        .unwrap();
    assert_eq!(report.migrations.len(), 1, "{report}");
    // Three batches and a count, none retried: one attempt.
    assert_eq!(report.migrations[0].steps[0].attempts, 1, "{report}");

    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM users WHERE email_lower IS DISTINCT FROM lower(email)"
        )
        .await,
        0
    );
    // Three batches (1000, 1000, 500); two rows already had the value.
    assert_eq!(db.saved_batches(1, 0).await, 3);
    let cursor: String = db
        .scalar("SELECT backfill_cursor::text FROM zerodown_migrations_steps")
        .await;
    assert_eq!(
        cursor,
        r#"{"key": ["id"], "rows": 2498, "passed": 2500, "values": ["2500"], "batches": 3}"#
    );
    assert_eq!(
        db.scalar::<String>("SELECT state FROM zerodown_migrations_steps")
            .await,
        "done"
    );

    let seen = seen.lock().unwrap().clone();
    let last = seen.last().unwrap();
    assert_eq!(last.stage, BackfillStage::Done);
    assert_eq!(
        (last.rows_updated, last.rows_passed, last.batches),
        (2498, 2500, 3)
    );
    assert_eq!(last.estimated_total, Some(2500));
    assert_eq!(last.fraction(), Some(1.0));
    let batches: Vec<u64> = seen
        .iter()
        .filter(|p| p.stage == BackfillStage::Batches)
        .map(|p| p.rows_passed)
        .collect();
    assert_eq!(
        batches,
        [0, 1000, 2000, 2500],
        "one report at the start, then one per batch"
    );
    assert!(seen.iter().any(|p| p.stage == BackfillStage::Verifying));
    db.drop_database().await;
}

/// On a dense integer key a batch's bound is reckoned (`cursor + size`) once a batch found by the
/// index showed the keys dense, and read off the index again where they are not: every row is
/// updated, no batch covers more rows than asked, and the rows counted as passed stay within what
/// the rules allow. Ids 1 to 1000 without 250 (dense), then every 37th id up to 20 000 (sparse),
/// then 30 001 to 31 000 (dense), in batches of 100.
#[tokio::test]
async fn bounds_are_reckoned_on_dense_integer_keys_and_read_where_keys_thin_out() {
    init_tracing();
    let db = fresh_database("rt_reckon").await;
    db.exec(
        "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, email_lower text);
         INSERT INTO users SELECT g, 'User' || g || '@Example.COM', NULL
           FROM generate_series(1, 1000) g WHERE g <> 250;
         INSERT INTO users SELECT g, 'Sparse' || g || '@Example.COM', NULL
           FROM generate_series(1001, 20000, 37) g;
         INSERT INTO users SELECT g, 'Late' || g || '@Example.COM', NULL
           FROM generate_series(30001, 31000) g;
         CREATE TABLE shadow AS SELECT id, lower(email) AS email_lower FROM users;
         ANALYZE users",
    )
    .await;
    let total: i64 = db.scalar("SELECT count(*) FROM users").await;
    let step = backfill_step(
        "\"users\"",
        &[],
        "\"email_lower\" = lower(\"email\")",
        "\"email_lower\" IS DISTINCT FROM lower(\"email\")",
        100,
        0,
    );
    let m = migration(1, "lower_email", vec![step]);
    let (seen, callback) = recorder();
    Migrator::new(&[m])
        .unwrap()
        .on_progress(callback)
        .run(&db.options)
        .await
        .unwrap();
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM users u FULL JOIN shadow s USING (id)
             WHERE u.email_lower IS DISTINCT FROM s.email_lower"
        )
        .await,
        0,
        "every row holds the value it was meant to"
    );
    let seen = seen.lock().unwrap().clone();
    let batches: Vec<&BackfillProgress> = seen
        .iter()
        .filter(|p| p.stage == BackfillStage::Batches && p.batches > 0)
        .collect();
    let updated: Vec<u64> = batches.iter().map(|p| p.rows_updated).collect();
    // The first batch ends at the 100th key, the second (found by the index) shows the keys dense,
    // so the third is reckoned: (200, 300], 99 rows without 250. Read off the index it would have
    // ended at 301, with 100.
    assert_eq!(updated[..4], [100, 200, 299, 399], "{updated:?}");
    let mut before = 0;
    for now in &updated {
        assert!(
            now - before <= 100,
            "a batch updated more than 100 rows: {updated:?}"
        );
        before = *now;
    }
    let last = seen.last().unwrap();
    assert_eq!(last.rows_updated, total as u64);
    // Each reckoned batch counts its width: at most a tenth over, plus one batch at each edge of
    // the sparse part.
    let passed = last.rows_passed;
    assert!(
        passed >= total as u64 && passed <= total as u64 * 11 / 10 + 200,
        "{passed} rows passed for {total}"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn composite_and_text_keys_with_quoted_names() {
    init_tracing();
    let db = fresh_database("rt_composite").await;
    db.exec(
        r#"CREATE SCHEMA "Shop";
         CREATE TABLE "Shop"."Order Lines" (
             "Order" uuid NOT NULL, "line ""no""" int NOT NULL, at timestamptz NOT NULL, label text NOT NULL, qty int,
             PRIMARY KEY ("Order", "line ""no""", at));
         INSERT INTO "Shop"."Order Lines"
         SELECT md5((g % 37)::text)::uuid, g % 5, timestamptz '2024-01-01 00:00:00.123456+02' + g * interval '1 minute', 'l' || g, NULL
         FROM generate_series(1, 777) g;
         CREATE TABLE tags (name text COLLATE "C" NOT NULL, weird text COLLATE "C" NOT NULL, n int);
         CREATE UNIQUE INDEX tags_name_weird ON tags (name, weird);
         INSERT INTO tags SELECT 'tag ' || (g % 13) || ' ''q''', repeat('é', g % 4) || g, NULL FROM generate_series(1, 500) g;"#,
    )
    .await;
    let lines = backfill_step(
        "\"Shop\".\"Order Lines\"",
        &[],
        "\"qty\" = length(\"label\")",
        "\"qty\" IS NULL",
        50,
        0,
    );
    // No primary key: the unique index over NOT NULL columns is the key.
    let tags = backfill_step(
        "\"tags\"",
        &[],
        "\"n\" = length(\"weird\")",
        "\"n\" IS NULL",
        7,
        0,
    );
    let m = migration(1, "composite", vec![lines, tags]);
    Migrator::new(&[m]).unwrap().run(&db.options).await.unwrap();
    assert_eq!(
        db.scalar::<i64>(
            r#"SELECT count(*) FROM "Shop"."Order Lines" WHERE qty IS DISTINCT FROM length(label)"#
        )
        .await,
        0
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM tags WHERE n IS DISTINCT FROM length(weird)")
            .await,
        0
    );
    // 777 rows in batches of 50: 16 batches, each row once.
    assert_eq!(db.saved_batches(1, 0).await, 16);
    assert_eq!(db.saved_batches(1, 1).await, 72);
    let key: String =
        db.scalar("SELECT (backfill_cursor->'key')::text FROM zerodown_migrations_steps WHERE step_index = 0").await;
    assert_eq!(key, r#"["Order", "line \"no\"", "at"]"#);
    db.drop_database().await;
}

#[tokio::test]
async fn by_key_must_be_unique_and_not_null() {
    init_tracing();
    let db = fresh_database("rt_by").await;
    db.exec(
        "CREATE TABLE events (id bigint PRIMARY KEY, code text NOT NULL, maybe int, n int);
         CREATE UNIQUE INDEX events_code ON events (code);
         INSERT INTO events SELECT g, 'c' || g, g, NULL FROM generate_series(1, 300) g;
         CREATE TABLE bag (a int, b int);
         INSERT INTO bag VALUES (1, NULL), (2, NULL);",
    )
    .await;

    let by_code = backfill_step(
        "\"events\"",
        &["\"code\""],
        "\"n\" = 1",
        "\"n\" IS NULL",
        100,
        0,
    );
    Migrator::new(&[migration(1, "by_code", vec![by_code])])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM events WHERE n = 1")
            .await,
        300
    );
    let key: String =
        db.scalar("SELECT (backfill_cursor->'key')::text FROM zerodown_migrations_steps WHERE version = 1").await;
    assert_eq!(key, r#"["code"]"#);

    let cases = [
        (
            "\"bag\"",
            vec![],
            "table \"bag\" has no primary key and no unique index whose columns are all NOT NULL",
        ),
        (
            "\"events\"",
            vec!["\"maybe\""],
            "`by (maybe)`: column \"maybe\" of \"events\" is nullable",
        ),
        (
            "\"events\"",
            vec!["\"n\"", "\"id\""],
            "`by (n, id)`: column \"n\" of \"events\" is nullable",
        ),
        (
            "\"events\"",
            vec!["\"nope\""],
            "`by (nope)`: table \"events\" has no column \"nope\"",
        ),
        ("\"missing\"", vec![], "table \"missing\" does not exist"),
    ];
    for (version, (table, by, want)) in (2..).zip(cases) {
        let step = backfill_step(table, &by, "\"b\" = 1", "\"b\" IS NULL", 10, 0);
        let m = migration(version, "bad_key", vec![step]);
        // Each case is a binary of its own with one migration: the earlier ones are not in it.
        let err = Migrator::new(&[m])
            .unwrap()
            .allow_out_of_order(true)
            .ignore_missing(true)
            .run(&db.options)
            .await
            .unwrap_err();
        let step_error = err.as_step().unwrap_or_else(|| panic!("{err}"));
        assert_eq!(step_error.kind, StepErrorKind::BackfillKey, "{err}");
        assert!(err.to_string().contains(want), "{err}\nwanted: {want}");
        assert!(
            err.to_string()
                .contains("cannot walk the table in keyset batches"),
            "{err}"
        );
    }
    db.exec("ALTER TABLE events ALTER COLUMN maybe SET NOT NULL")
        .await;
    let step = backfill_step(
        "\"events\"",
        &["\"maybe\""],
        "\"n\" = 2",
        "\"n\" = 1",
        10,
        0,
    );
    let err = Migrator::new(&[migration(9, "not_unique", vec![step])])
        .unwrap()
        .ignore_missing(true)
        .run(&db.options)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "`by (maybe)`: \"events\" has no valid unique index on exactly (maybe) in this order"
        ),
        "{err}"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn rows_written_behind_the_cursor_are_swept() {
    init_tracing();
    let db = fresh_database("rt_sweep").await;
    db.exec(
        "CREATE TABLE t (id int PRIMARY KEY, c int);
         INSERT INTO t SELECT 2 * g, NULL FROM generate_series(1, 1500) g;",
    )
    .await;
    // After the first batch, rows appear behind the cursor without the value, as an old application
    // version would write them; the pauses leave time for them to land before the pass ends.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let writer_db = db.clone();
    let writer = tokio::spawn(async move {
        rx.recv().await;
        writer_db
            .exec("INSERT INTO t SELECT 2 * g + 1, NULL FROM generate_series(0, 400) g")
            .await;
    });
    let (seen, record) = recorder();
    let sent = Mutex::new(false);
    let callback = move |p: &BackfillProgress| {
        if p.batches == 1 && !std::mem::replace(&mut *sent.lock().unwrap(), true) {
            let _ = tx.send(());
        }
        record(p);
    };
    let step = backfill_step(
        "\"t\"",
        &[],
        "\"c\" = \"id\" * 10",
        "\"c\" IS NULL",
        1000,
        400,
    );
    Migrator::new(&[migration(1, "sweep", vec![step])])
        .unwrap()
        .on_progress(callback)
        .run(&db.options)
        .await
        .unwrap();
    writer.await.unwrap();
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM t").await, 1901);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM t WHERE c IS DISTINCT FROM id * 10")
            .await,
        0
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|p| p.stage == BackfillStage::Sweep { round: 1 }),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap().rows_updated, 1901);
    db.drop_database().await;
}

#[tokio::test]
async fn a_predicate_that_never_becomes_false_fails_after_the_sweeps() {
    init_tracing();
    let db = fresh_database("rt_diverge").await;
    db.exec("CREATE TABLE t (id int PRIMARY KEY, c int NOT NULL DEFAULT 0); INSERT INTO t (id) SELECT generate_series(1, 30)").await;
    let step = backfill_step("\"t\"", &[], "\"c\" = \"c\" + 1", "\"c\" >= 0", 10, 0);
    let err = Migrator::new(&[migration(1, "diverge", vec![step])])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap_err();
    let step_error = err.as_step().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(
        step_error.kind,
        StepErrorKind::BackfillIncomplete { remaining: 30 },
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("did not converge: 30 row(s) still need the backfill"),
        "{text}"
    );
    assert!(text.contains("deploy the version that writes it"), "{text}");
    // The main pass and five sweeps each updated every row once.
    assert_eq!(db.scalar::<i64>("SELECT min(c)::bigint FROM t").await, 6);
    assert_eq!(
        db.scalar::<String>("SELECT state FROM zerodown_migrations_steps")
            .await,
        "failed"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn the_pass_ends_while_the_application_keeps_inserting() {
    init_tracing();
    let db = fresh_database("rt_tail").await;
    db.exec(
        "CREATE TABLE t (id bigserial PRIMARY KEY, c bigint);
         INSERT INTO t (c) SELECT NULL FROM generate_series(1, 300);",
    )
    .await;
    // The application inserts rows with the new value already set (as the expand trigger or the new
    // version does), as fast as it can, for as long as the backfill runs: a pass that followed the key
    // to its current end would never finish.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let mut conn = db.connect().await;
            let mut inserted = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sqlx::query("INSERT INTO t (c) SELECT -1 FROM generate_series(1, 3)")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                inserted += 3;
            }
            inserted
        })
    };
    while db.scalar::<i64>("SELECT count(*) FROM t").await < 400 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let step = backfill_step("\"t\"", &[], "\"c\" = \"id\" * 10", "\"c\" IS NULL", 10, 2);
    let (seen, record) = recorder();
    let migrator = Migrator::new(&[migration(1, "tail", vec![step])])
        .unwrap()
        .on_progress(record);
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        migrator.run(&db.options),
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let inserted = writer.await.unwrap();
    outcome
        .expect("the backfill chased the inserted rows for 60 s instead of ending its pass")
        .unwrap();
    assert!(inserted > 100, "the writer inserted only {inserted} rows");
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM t WHERE c IS NULL OR (c <> -1 AND c <> id * 10)")
            .await,
        0
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM t WHERE c = id * 10")
            .await,
        300
    );
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.stage, BackfillStage::Done);
    assert_eq!(last.rows_updated, 300);
    db.drop_database().await;
}

#[tokio::test]
async fn a_runner_that_lost_the_lock_stops_at_its_next_batch() {
    init_tracing();
    let db = fresh_database("rt_fence").await;
    db.exec(
        "CREATE TABLE t (id int PRIMARY KEY, c int);
         INSERT INTO t SELECT g, NULL FROM generate_series(1, 2000) g;",
    )
    .await;
    // 200 batches 20 ms apart: about five seconds of backfill.
    let step = backfill_step("\"t\"", &[], "\"c\" = \"id\"", "\"c\" IS NULL", 10, 20);
    let m = migration(1, "fence", vec![step]);
    let migrator = Migrator::new(&[m])
        .unwrap()
        .application_name("zd-fence-test");
    let options = db.options.clone();
    let run = tokio::spawn(async move { migrator.run(&options).await });
    while db.saved_batches(1, 0).await < 3 {
        assert!(!run.is_finished(), "the run ended before its third batch");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // End the session holding the migration lock; the step connection lives on.
    let ended: bool = db
        .scalar(
            "SELECT coalesce(bool_or(pg_terminate_backend(a.pid)), false) FROM pg_stat_activity a
             WHERE a.application_name = 'zd-fence-test' AND a.datname = current_database()
               AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)",
        )
        .await;
    assert!(ended, "no session held the migration lock");
    let at_termination = db.saved_batches(1, 0).await;
    let err = tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("the run did not stop")
        .unwrap()
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, zerodown::Error::LockLost { .. }), "{text}");
    assert!(text.contains("no longer holds the lock"), "{text}");
    // At most the batch in flight when the lock went committed after it.
    let after = db.saved_batches(1, 0).await;
    assert!(
        after <= at_termination + 1,
        "{after} batches saved, {at_termination} when the lock went"
    );
    assert!(
        db.scalar::<i64>("SELECT count(*) FROM t WHERE c IS NULL")
            .await
            > 1500
    );
    // A new runner resumes after the last committed batch and finishes.
    let migrator = Migrator::new(&[m]).unwrap();
    migrator.run(&db.options).await.unwrap();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM t WHERE c IS DISTINCT FROM id")
            .await,
        0
    );
    db.drop_database().await;
}
