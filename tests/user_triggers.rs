//! Expand/contract and backfills on tables that look like production ones, against a real
//! PostgreSQL: user `BEFORE` triggers that normalise values, an `updated_at` trigger, an `AFTER`
//! audit trigger, and writes that bypass triggers (`session_replication_role = replica`, as logical
//! replication applies changes; a disabled trigger). A migration must never change or lose what the
//! application stored: every test compares values, not counts. The migrations target PostgreSQL 10,
//! so the suite runs on every supported version (`scripts/test-all-versions.sh --test user_triggers`).

mod phased_support;

use phased_support::{fresh_database, init_tracing, Db};
use zerodown::{Error, Migration, Migrator};

zerodown::migration! {
    /// `doc2.score` becomes `bigint`; `doc2` has a normalising `BEFORE` trigger.
    pub mod m0001_doc2_score_bigint {
        set target_postgres = 10;
        expand alter table doc2 alter column score type bigint from integer;
    }
}

zerodown::migration! {
    /// `notes.body` is renamed `text_body`; `notes` has a normalising trigger on `body`.
    pub mod m0001_notes_rename_body {
        set target_postgres = 10;
        expand alter table notes rename column body to text_body;
    }
}

zerodown::migration! {
    /// `events.updated_at` becomes `timestamptz`; the table's own trigger sets `updated_at` on every
    /// update, and an audit trigger logs every update.
    pub mod m0001_events_updated_at_tz {
        set target_postgres = 10;
        set backfill_batch_size = 100;
        expand alter table events alter column updated_at type timestamptz from timestamp;
    }
}

zerodown::migration! {
    /// A plain backfill of a new column on `events`.
    pub mod m0001_events_add_kind {
        set target_postgres = 10;
        set backfill_batch_size = 100;
        alter table events add column kind text;
        backfill events set kind = "event";
    }
}

zerodown::migration! {
    /// A plain backfill that is meant to fire the table's triggers, and says so.
    pub mod m0001_events_kind_with_triggers {
        set target_postgres = 10;
        set backfill_batch_size = 100;
        alter table events add column kind text;
        unsafe(reason = "the audit log must record the new kind", allow = [fires_user_triggers]) {
            backfill events set kind = "event";
        }
    }
}

const DOC2: &str = "
    CREATE TABLE doc2 (id bigint PRIMARY KEY, score int NOT NULL);
    CREATE FUNCTION normalize_doc2() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.score := greatest(NEW.score, 0); RETURN NEW; END $$;
    CREATE TRIGGER normalize_doc2 BEFORE INSERT OR UPDATE ON doc2 FOR EACH ROW EXECUTE PROCEDURE normalize_doc2();
    INSERT INTO doc2 SELECT g, g FROM generate_series(1, 500) g;";

const NOTES: &str = "
    CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL);
    CREATE FUNCTION normalize_notes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.body := lower(NEW.body); RETURN NEW; END $$;
    CREATE TRIGGER normalize_notes BEFORE INSERT OR UPDATE ON notes FOR EACH ROW EXECUTE PROCEDURE normalize_notes();
    INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 300) g;";

/// `events`: an `updated_at` trigger and an `AFTER UPDATE` audit trigger, 1000 rows whose
/// `updated_at` lies in the past.
const EVENTS: &str = "
    CREATE TABLE events (id bigint PRIMARY KEY, payload text NOT NULL,
        updated_at timestamp NOT NULL DEFAULT now());
    CREATE TABLE events_audit (id bigserial PRIMARY KEY, event_id bigint NOT NULL, at timestamptz NOT NULL DEFAULT now());
    CREATE FUNCTION touch_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
    CREATE TRIGGER touch_events BEFORE UPDATE ON events FOR EACH ROW EXECUTE PROCEDURE touch_events();
    CREATE FUNCTION audit_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO events_audit (event_id) VALUES (NEW.id); RETURN NULL; END $$;
    CREATE TRIGGER audit_events AFTER UPDATE ON events FOR EACH ROW EXECUTE PROCEDURE audit_events();
    INSERT INTO events (id, payload, updated_at)
        SELECT g, 'p' || g, timestamp '2020-01-01' + g * interval '1 minute' FROM generate_series(1, 1000) g;";

fn migrator(m: &'static Migration) -> Migrator {
    Migrator::new(&[m]).unwrap()
}

/// `(id, value as text)` of every row, ordered by id.
async fn rows(db: &Db, sql: &str) -> Vec<(i64, String)> {
    let mut conn = db.connect().await;
    sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
}

#[tokio::test]
async fn the_sync_trigger_copies_what_the_applications_trigger_stored() {
    init_tracing();
    let m = &m0001_doc2_score_bigint::MIGRATION;
    let db = fresh_database("trig_normalize").await;
    db.exec(DOC2).await;
    migrator(m).run(&db.options).await.unwrap();
    // The application's trigger stores 0 for -5.
    db.exec("UPDATE doc2 SET score = -5 WHERE id = 1; INSERT INTO doc2 VALUES (1000, -7)")
        .await;
    let before = rows(&db, "SELECT id, score::text FROM doc2 ORDER BY id").await;
    assert_eq!(before[0], (1, "0".to_owned()));
    migrator(m).complete(&db.options).await.unwrap();
    let after = rows(&db, "SELECT id, score::text FROM doc2 ORDER BY id").await;
    assert_eq!(
        after, before,
        "complete changed the values the application stored"
    );
    let ty: String = db
        .scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'doc2'::regclass AND attname = 'score'")
        .await;
    assert_eq!(ty, "bigint");
}

#[tokio::test]
async fn writes_that_bypass_triggers_survive_complete() {
    init_tracing();
    let m = &m0001_doc2_score_bigint::MIGRATION;
    let db = fresh_database("trig_replica").await;
    db.exec(DOC2).await;
    migrator(m).run(&db.options).await.unwrap();
    // How a logical-replication apply worker writes: triggers enabled `ORIGIN` do not fire.
    db.exec(
        "SET session_replication_role = replica; UPDATE doc2 SET score = 41 WHERE id = 2; \
         INSERT INTO doc2 VALUES (2000, 42); RESET session_replication_role",
    )
    .await;
    // A write while the triggers are disabled (a bulk load, `pg_restore --disable-triggers`).
    db.exec(
        "ALTER TABLE doc2 DISABLE TRIGGER ALL; UPDATE doc2 SET score = 43 WHERE id = 3; \
         ALTER TABLE doc2 ENABLE TRIGGER ALL",
    )
    .await;
    let before = rows(&db, "SELECT id, score::text FROM doc2 ORDER BY id").await;
    migrator(m).complete(&db.options).await.unwrap();
    let after = rows(&db, "SELECT id, score::text FROM doc2 ORDER BY id").await;
    assert_eq!(
        after, before,
        "complete lost writes that bypassed the triggers"
    );
}

#[tokio::test]
async fn a_rename_whose_columns_differ_is_refused_changing_nothing() {
    init_tracing();
    let m = &m0001_notes_rename_body::MIGRATION;
    let db = fresh_database("trig_rename").await;
    db.exec(NOTES).await;
    migrator(m).run(&db.options).await.unwrap();
    db.exec("UPDATE notes SET body = 'MIXED Case' WHERE id = 7")
        .await;
    let synced: String = db.scalar("SELECT text_body FROM notes WHERE id = 7").await;
    assert_eq!(
        synced, "mixed case",
        "the sync trigger must copy the normalised value"
    );
    // The trigger is disabled for a moment: the two columns now differ on one row, and which of
    // them is right only the application knows.
    db.exec(
        "ALTER TABLE notes DISABLE TRIGGER ALL; UPDATE notes SET body = 'bypassed' WHERE id = 9; \
         ALTER TABLE notes ENABLE TRIGGER ALL",
    )
    .await;
    let err = migrator(m).complete(&db.options).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Step(_)), "{text}");
    assert!(text.contains("1 row"), "{text}");
    assert!(
        text.contains("9"),
        "the message names a sample of keys: {text}"
    );
    // Nothing changed: both columns are still there, and the row keeps both values.
    let (body, text_body): (String, String) = {
        let mut conn = db.connect().await;
        sqlx::query_as("SELECT body, text_body FROM notes WHERE id = 9")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!((body.as_str(), text_body.as_str()), ("bypassed", "note 9"));
    // Once the user settles the row, `complete` goes through.
    db.exec("UPDATE notes SET text_body = body WHERE id = 9")
        .await;
    migrator(m).complete(&db.options).await.unwrap();
    let body: String = db.scalar("SELECT text_body FROM notes WHERE id = 9").await;
    assert_eq!(body, "bypassed");
}

#[tokio::test]
async fn an_expand_backfill_fires_no_user_trigger_and_converges() {
    init_tracing();
    let m = &m0001_events_updated_at_tz::MIGRATION;
    let db = fresh_database("trig_updated_at").await;
    db.exec(EVENTS).await;
    let before = rows(
        &db,
        "SELECT id, to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US') FROM events ORDER BY id",
    )
    .await;
    migrator(m).run(&db.options).await.unwrap();
    let audited: i64 = db.scalar("SELECT count(*) FROM events_audit").await;
    assert_eq!(audited, 0, "the backfill fired the audit trigger");
    migrator(m).complete(&db.options).await.unwrap();
    // The session time zone of the test's connections is the server's; compare in UTC.
    let after = rows(
        &db,
        "SELECT id, to_char(updated_at AT TIME ZONE current_setting('TimeZone'), 'YYYY-MM-DD HH24:MI:SS.US') FROM events ORDER BY id",
    )
    .await;
    assert_eq!(after, before, "the migration changed updated_at");
    let audited: i64 = db.scalar("SELECT count(*) FROM events_audit").await;
    assert_eq!(audited, 0, "the migration fired the audit trigger");
}

#[tokio::test]
async fn a_plain_backfill_fires_no_user_trigger() {
    init_tracing();
    let m = &m0001_events_add_kind::MIGRATION;
    let db = fresh_database("trig_backfill").await;
    db.exec(EVENTS).await;
    let before = rows(&db, "SELECT id, updated_at::text FROM events ORDER BY id").await;
    migrator(m).run(&db.options).await.unwrap();
    let after = rows(&db, "SELECT id, updated_at::text FROM events ORDER BY id").await;
    assert_eq!(after, before, "the backfill changed updated_at");
    let audited: i64 = db.scalar("SELECT count(*) FROM events_audit").await;
    assert_eq!(audited, 0, "the backfill fired the audit trigger");
    let missing: i64 = db
        .scalar("SELECT count(*) FROM events WHERE kind IS DISTINCT FROM 'event'")
        .await;
    assert_eq!(missing, 0);
}

#[tokio::test]
async fn a_backfill_that_says_so_fires_the_user_triggers() {
    init_tracing();
    let m = &m0001_events_kind_with_triggers::MIGRATION;
    let db = fresh_database("trig_backfill_fire").await;
    db.exec(EVENTS).await;
    migrator(m).run(&db.options).await.unwrap();
    let audited: i64 = db.scalar("SELECT count(*) FROM events_audit").await;
    assert_eq!(
        audited, 1000,
        "the acknowledged backfill fires the audit trigger"
    );
}

#[tokio::test]
async fn without_the_right_to_bypass_triggers_a_backfill_is_refused_naming_them() {
    init_tracing();
    let m = &m0001_events_add_kind::MIGRATION;
    let db = fresh_database("trig_backfill_refused").await;
    db.exec(EVENTS).await;
    // A role that owns the table but may not set `session_replication_role`.
    let role = format!("zd_owner_{}", std::process::id());
    db.exec(&format!(
        "DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
         ALTER TABLE events OWNER TO {role}; ALTER TABLE events_audit OWNER TO {role}; \
         ALTER SEQUENCE events_audit_id_seq OWNER TO {role}; GRANT CREATE, USAGE ON SCHEMA public TO {role}"
    ))
    .await;
    let options = db.options.clone().username(&role);
    let before = rows(&db, "SELECT id, updated_at::text FROM events ORDER BY id").await;
    let err = migrator(m).run(&options).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("touch_events"), "{text}");
    assert!(text.contains("audit_events"), "{text}");
    assert!(text.contains("fires_user_triggers"), "{text}");
    assert!(text.contains("session_replication_role"), "{text}");
    let after = rows(&db, "SELECT id, updated_at::text FROM events ORDER BY id").await;
    assert_eq!(after, before);
    let audited: i64 = db.scalar("SELECT count(*) FROM events_audit").await;
    assert_eq!(audited, 0);
}

#[tokio::test]
async fn a_write_around_the_sync_trigger_after_the_online_check_is_caught_under_the_lock() {
    init_tracing();
    let m = &m0001_doc2_score_bigint::MIGRATION;
    let db = fresh_database("trig_under_lock").await;
    db.exec(DOC2).await;
    migrator(m).run(&db.options).await.unwrap();
    // A reader holds up the contract's transaction after its online check passed.
    let mut reader = db.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE doc2 IN ACCESS SHARE MODE")
        .execute(&mut reader)
        .await
        .unwrap();
    let options = db.options.clone();
    let complete = tokio::spawn(async move { migrator(m).complete(&options).await });
    let waiting = "SELECT coalesce(max(attempts), 0)::bigint FROM zerodown_migrations_steps WHERE phase = 'contract' AND step_index = 1";
    while db.scalar::<i64>(waiting).await < 1 {
        assert!(
            !complete.is_finished(),
            "`complete` ended before it was held up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Meanwhile the reader's session writes with the triggers disabled (it holds a lock the
    // contract waits for, so its own lock upgrade is granted first), then lets go.
    sqlx::raw_sql(
        "ALTER TABLE doc2 DISABLE TRIGGER ALL; UPDATE doc2 SET score = 99 WHERE id = 5; \
         ALTER TABLE doc2 ENABLE TRIGGER ALL; COMMIT",
    )
    .execute(&mut reader)
    .await
    .unwrap();
    complete.await.unwrap().unwrap();
    let score: String = db.scalar("SELECT score::text FROM doc2 WHERE id = 5").await;
    assert_eq!(
        score, "99",
        "the contract lost a write made after its online check"
    );
}

#[tokio::test]
async fn an_expand_is_refused_when_a_user_trigger_would_fire_after_the_sync_trigger() {
    init_tracing();
    let m = &m0001_doc2_score_bigint::MIGRATION;
    let db = fresh_database("trig_late_name").await;
    db.exec(DOC2).await;
    db.exec(
        r#"CREATE TRIGGER "~~late_normalize" BEFORE UPDATE ON doc2 FOR EACH ROW EXECUTE PROCEDURE normalize_doc2()"#,
    )
    .await;
    let err = migrator(m).run(&db.options).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("~~late_normalize"), "{text}");
    assert!(text.contains("fire after the sync trigger"), "{text}");
    let columns: i64 = db
        .scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 'doc2'::regclass AND attnum > 0 AND NOT attisdropped")
        .await;
    assert_eq!(columns, 2, "the refused expand changed the table");
}

zerodown::migration! {
    /// `memos.body` is renamed `text_body` while the application writes the table.
    pub mod m0001_memos_rename_body {
        set target_postgres = 10;
        set backfill_batch_size = 50;
        set backfill_pause = 2ms;
        expand alter table memos rename column body to text_body;
    }
}

/// `memos`: a trigger normalising `title` and `body`, an `updated_at` trigger, an audit trigger.
const MEMOS: &str = "
    CREATE TABLE memos (id bigserial PRIMARY KEY, title text NOT NULL, body text NOT NULL,
        updated_at timestamp NOT NULL DEFAULT '2020-01-01');
    CREATE TABLE memos_audit (id bigserial PRIMARY KEY, memo_id bigint NOT NULL);
    CREATE FUNCTION normalize_memos() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.title := upper(NEW.title); NEW.body := lower(NEW.body); RETURN NEW; END $$;
    CREATE TRIGGER normalize_memos BEFORE INSERT OR UPDATE ON memos FOR EACH ROW EXECUTE PROCEDURE normalize_memos();
    CREATE FUNCTION touch_memos() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
    CREATE TRIGGER touch_memos BEFORE UPDATE ON memos FOR EACH ROW EXECUTE PROCEDURE touch_memos();
    CREATE FUNCTION audit_memos() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO memos_audit (memo_id) VALUES (NEW.id); RETURN NULL; END $$;
    CREATE TRIGGER audit_memos AFTER UPDATE ON memos FOR EACH ROW EXECUTE PROCEDURE audit_memos();
    INSERT INTO memos (title, body) SELECT 'title ' || g, 'Body ' || g FROM generate_series(1, 2000) g;";

/// What the memo writer stored: `(title, text, updated_at)` per row (`None` once deleted), and its
/// audited (origin) updates.
#[derive(Default)]
struct MemoShadow {
    rows: std::collections::HashMap<i64, Option<(String, String, String)>>,
    audited: i64,
    writes: u64,
}

/// The application writing `memos` through `column` (`body` for the old version, `text_body` for the
/// new one) until `stop`: inserts, updates (some as a replica), deletes, each recorded as returned.
async fn memo_writer(
    db: &Db,
    column: &'static str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    mut shadow: MemoShadow,
) -> MemoShadow {
    use std::sync::atomic::Ordering;
    let mut conn = db.connect().await;
    let mut mine: Vec<i64> = shadow
        .rows
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| *k)
        .collect();
    mine.sort_unstable();
    let mut n: u64 = shadow.writes;
    let returning = format!("RETURNING id, title, {column}, updated_at::text");
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let pick = mine.get((n as usize * 7919) % mine.len().max(1)).copied();
        let text = format!("MiXeD {n}");
        match (n % 10, pick) {
            (6..=8, Some(id)) => {
                let replica = n % 10 == 8;
                let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
                if replica {
                    sqlx::query("SET LOCAL session_replication_role = replica")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                let row: (i64, String, String, String) = sqlx::query_as(&format!(
                    "UPDATE memos SET title = $1, {column} = $2 WHERE id = $3 {returning}"
                ))
                .bind(format!("t{n}"))
                .bind(&text)
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
                tx.commit().await.unwrap();
                shadow.rows.insert(id, Some((row.1, row.2, row.3)));
                shadow.audited += i64::from(!replica);
            }
            (9, Some(id)) => {
                sqlx::query("DELETE FROM memos WHERE id = $1")
                    .bind(id)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                shadow.rows.insert(id, None);
                mine.retain(|&m| m != id);
            }
            _ => {
                let row: (i64, String, String, String) = sqlx::query_as(&format!(
                    "INSERT INTO memos (title, {column}) VALUES ($1, $2) {returning}"
                ))
                .bind(format!("t{n}"))
                .bind(&text)
                .fetch_one(&mut conn)
                .await
                .unwrap();
                shadow.rows.insert(row.0, Some((row.1, row.2, row.3)));
                mine.push(row.0);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    shadow.writes = n;
    shadow
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_under_writers_with_triggers_keeps_every_value() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    init_tracing();
    let m = &m0001_memos_rename_body::MIGRATION;
    let db = fresh_database("trig_rename_writers").await;
    db.exec(MEMOS).await;
    let before = rows(&db, "SELECT id, updated_at::text FROM memos ORDER BY id").await;
    let db = Arc::new(db);

    // The old application version writes `body` while the expand runs.
    let stop = Arc::new(AtomicBool::new(false));
    let old = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move { memo_writer(&db, "body", stop, MemoShadow::default()).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    migrator(m).run(&db.options).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let shadow = old.await.unwrap();

    // The new version is deployed (its trigger normalises the new column) and writes `text_body`
    // while `complete` runs.
    db.exec(
        "CREATE OR REPLACE FUNCTION normalize_memos() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN NEW.title := upper(NEW.title); NEW.text_body := lower(NEW.text_body); RETURN NEW; END $$",
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let new = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move { memo_writer(&db, "text_body", stop, shadow).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    migrator(m).complete(&db.options).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    let shadow = new.await.unwrap();

    // Every row the application wrote holds what it stored; the rest kept their `updated_at`.
    let stored: std::collections::HashMap<i64, (String, String, String)> = {
        let mut c = db.connect().await;
        sqlx::query_as::<_, (i64, String, String, String)>(
            "SELECT id, title, text_body, updated_at::text FROM memos",
        )
        .fetch_all(&mut c)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, t, b, u)| (id, (t, b, u)))
        .collect()
    };
    let mut differing = Vec::new();
    for (id, meant) in &shadow.rows {
        if stored.get(id) != meant.as_ref() {
            differing.push(format!(
                "id {id}: stored {:?}, written {meant:?}",
                stored.get(id)
            ));
        }
    }
    assert!(
        differing.is_empty(),
        "{} of {} rows differ from what the application stored: {:?}",
        differing.len(),
        shadow.rows.len(),
        &differing[..differing.len().min(3)]
    );
    for (id, at) in &before {
        if !shadow.rows.contains_key(id) {
            assert_eq!(
                stored.get(id).map(|r| &r.2),
                Some(at),
                "the migration changed row {id}"
            );
        }
    }
    let audited: i64 = db.scalar("SELECT count(*) FROM memos_audit").await;
    assert_eq!(
        audited, shadow.audited,
        "audit entries the application did not make"
    );
    eprintln!(
        "rename under writers: {} writes, {} rows compared, {} audited updates",
        shadow.writes,
        shadow.rows.len(),
        shadow.audited
    );
}
