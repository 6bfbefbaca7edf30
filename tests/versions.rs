//! Version boundaries, checked against the server the suite runs on. Each test asserts the behaviour
//! of *that* server's side of the boundary: what PostgreSQL itself does (the premise of a rule), and
//! what zerodown's plans do there (run, or be refused before anything runs). Nothing is skipped.
//!
//! `scripts/test-all-versions.sh` runs this file on every major from 10 to 18; CI runs it on 10 and
//! 18, which lie on both sides of every boundary here (11: constant defaults and `include`; 12: the
//! CHECK route to `set not null`, `reindex concurrently`, `alter type .. add value` in a transaction
//! block; 14: `client_connection_check_interval`).

mod common;

use std::sync::{Arc, Mutex};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use zerodown::{Error, Migration, Migrator, PgVersion};

// ===== migrations, one per boundary =====

zerodown::migration! {
    /// A constant default on an existing table: catalog-only from PostgreSQL 11.
    pub mod m0001_fast_default {
        set target_postgres = 11;
        alter table items add column flag int not null default 7;
    }
}

zerodown::migration! {
    /// `set not null` on an existing table, lowered to the CHECK route (PostgreSQL 12).
    pub mod m0001_not_null {
        set target_postgres = 12;
        alter table items alter column label set not null;
    }
}

zerodown::migration! {
    /// `reindex concurrently` exists from PostgreSQL 12.
    pub mod m0001_reindex {
        set target_postgres = 12;
        reindex index concurrently items_label_idx;
    }
}

zerodown::migration! {
    /// Adding an enum value: the plan runs it outside a transaction block, so it works on 10 and 11,
    /// where `ALTER TYPE .. ADD VALUE` inside one is an error.
    pub mod m0001_enum_value {
        set target_postgres = 10;
        alter type mood add value "bored" after "sad";
        alter type mood add value if not exists "happy";
    }
}

zerodown::migration! {
    /// A primary key and `set not null` over columns that are already `NOT NULL`, and over nullable
    /// ones (without NULLs). From PostgreSQL 18 a `NOT NULL` is a catalogued constraint named
    /// `<table>_<column>_not_null`: the CHECK route's helper constraints must not take that name.
    pub mod m0001_keys_over_not_null {
        set target_postgres = 12;
        alter table accounts add constraint accounts_pkey primary key (id);
        alter table accounts alter column code set not null;
        alter table accounts add constraint accounts_ref_key unique (ref);
        alter table ledgers add constraint ledgers_pkey primary key (account_id, seq);
        alter table ledgers alter column note set not null;
    }
}

zerodown::migration! {
    /// A foreign key declared on an added column without a default: its NULLs are not validated.
    pub mod m0001_inline_fk {
        set target_postgres = 10;
        alter table items add column parent_id bigint references items (id);
    }
}

zerodown::migration! {
    /// Stored timestamps read as UTC: from PostgreSQL 12, with the session time zone UTC, the change
    /// between `timestamp` and `timestamptz` keeps every stored value (no rewrite).
    pub mod m0001_utc_timestamps {
        set target_postgres = 12;
        alter table events alter column happened_at type timestamptz from timestamp using happened_at at time zone "UTC";
        alter table events alter column logged_at type timestamp from timestamptz using (logged_at at time zone "utc");
    }
}

zerodown::migration! {
    /// The same change on a column with an index, which PostgreSQL rebuilds under ACCESS EXCLUSIVE:
    /// the plan's guard stops it before anything is applied.
    pub mod m0001_utc_indexed {
        set target_postgres = 12;
        alter table events alter column happened_at type timestamptz from timestamp using happened_at at time zone "UTC";
    }
}

zerodown::migration! {
    /// `primary key using index` in a single migration, which cannot see whether the index's columns
    /// allow NULLs: the plan's guard checks on the server before attaching would scan.
    pub mod m0001_pk_using_index {
        set target_postgres = 12;
        alter table tokens add constraint tokens_pkey primary key using index tokens_id_key;
    }
}

zerodown::migration! {
    /// Renaming an index and analyzing, on an old target: the plan declares ACCESS EXCLUSIVE for the
    /// rename (what PostgreSQL 10 and 11 take).
    pub mod m0001_rename_index_old_target {
        set target_postgres = 10;
        alter index items_label_idx rename to items_label_text_idx;
        analyze items (label);
    }
}

zerodown::migration! {
    /// The same rename for a PostgreSQL 12 target: SHARE UPDATE EXCLUSIVE, writes go on.
    pub mod m0001_rename_index {
        set target_postgres = 12;
        alter index items_label_idx rename to items_label_text_idx;
    }
}

zerodown::migration! {
    /// A materialized view refreshed while it is read.
    pub mod m0001_refresh {
        set target_postgres = 10;
        refresh materialized view concurrently item_counts;
    }
}

zerodown::migration! {
    /// A statistics target and storage parameters: SHARE UPDATE EXCLUSIVE, writes go on.
    pub mod m0001_storage {
        set target_postgres = 10;
        alter table items alter column label set statistics 500, set (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02);
    }
}

zerodown::migration! {
    /// Extended statistics on two columns, gathered by the analyze after them.
    pub mod m0001_statistics {
        set target_postgres = 10;
        create statistics items_label_code (ndistinct, dependencies) on label, code from items;
        analyze items;
    }
}

zerodown::migration! {
    /// PostgreSQL 18's named `not null`, added without a scan and validated online.
    pub mod m0001_not_null_18 {
        set target_postgres = 18;
        alter table items add constraint items_label_nn not null label not valid;
        alter table items validate constraint items_label_nn;
    }
}

zerodown::migration! {
    /// A virtual generated column on an existing table (PostgreSQL 18): computed when read.
    pub mod m0001_virtual_generated {
        set target_postgres = 18;
        alter table items add column label_length int generated always as (length(label)) virtual;
    }
}

/// Partitions: a partitioned table and a partition created empty and attached in one migration, then
/// a table filled while the application runs, attached through the bound `CHECK` (PostgreSQL 12
/// target: `SHARE UPDATE EXCLUSIVE` on the parent).
mod partitions_12 {
    zerodown::migrations! {
        pub mod m0001_events {
            set target_postgres = 12;
            create table events (id bigint not null, at timestamptz not null, kind text not null, primary key (id, at)) partition by range (at);
            create index events_kind_idx on events (kind);
            create table events_2025 (id bigint not null, at timestamptz not null, kind text not null);
            alter table events attach partition events_2025 for values from ("2025-01-01 00:00:00+00") to ("2026-01-01 00:00:00+00");
            create table kinds (kind text not null, n int) partition by list (kind);
        }
        pub mod m0002_next_year {
            set target_postgres = 12;
            create table events_2026 (id bigint not null, at timestamptz not null, kind text not null);
            create table kinds_ab (kind text not null, n int);
        }
        pub mod m0003_attach {
            set target_postgres = 12;
            alter table events attach partition events_2026 for values from ("2026-01-01 00:00:00+00") to ("2027-01-01 00:00:00+00");
            alter table kinds attach partition kinds_ab for values in ("a", "b");
        }
    }
}

/// The same attach for a PostgreSQL 10 target: `ACCESS EXCLUSIVE` on the parent, still no scan.
mod partitions_10 {
    zerodown::migrations! {
        pub mod m0001_events {
            set target_postgres = 10;
            create table events (id bigint not null, at timestamptz not null, kind text not null) partition by range (at);
            create table events_2026 (id bigint not null, at timestamptz not null, kind text not null);
        }
        pub mod m0002_attach {
            set target_postgres = 10;
            alter table events attach partition events_2026 for values from ("2026-01-01 00:00:00+00") to ("2027-01-01 00:00:00+00");
        }
    }
}

/// An attach that stops part-way (a later statement fails): the rollback undoes the attach and what
/// the recipe built for it.
mod partitions_undo {
    zerodown::migrations! {
        pub mod m0001_events {
            set target_postgres = 12;
            create table events (id bigint not null, at int not null, kind text, primary key (id, at)) partition by range (at);
            create index events_kind_idx on events (kind);
            create table events_1 (id bigint not null, at int not null, kind text);
        }
        pub mod m0002_attach {
            set target_postgres = 12;
            alter table events attach partition events_1 for values from (0) to (100);
            raw(reason = "fails on purpose, after the attach", lock = access_share) "select 1 / (select count(*) - count(*) from events)";
        }
    }
}

/// `detach partition .. concurrently` (PostgreSQL 14).
mod partitions_14 {
    zerodown::migrations! {
        pub mod m0001_events {
            set target_postgres = 10;
            create table events (id bigint not null, at timestamptz not null, kind text not null) partition by range (at);
            create table events_2025 (id bigint not null, at timestamptz not null, kind text not null);
            alter table events attach partition events_2025 for values from ("2025-01-01 00:00:00+00") to ("2026-01-01 00:00:00+00");
        }
        pub mod m0002_detach {
            set target_postgres = 14;
            set online_lock_timeout = 200ms;
            set long_statement_timeout = 1s;
            set retry_budget = 1s;
            alter table events detach partition events_2025 concurrently;
        }
    }
}

// One migration per target: on a server of major N exactly those with a target above N are refused.
zerodown::migration! { pub mod m0010_target_10 { set target_postgres = 10; create table t10 (id int); } }
zerodown::migration! { pub mod m0011_target_11 { set target_postgres = 11; create table t11 (id int); } }
zerodown::migration! { pub mod m0012_target_12 { set target_postgres = 12; create table t12 (id int); } }
zerodown::migration! { pub mod m0013_target_13 { set target_postgres = 13; create table t13 (id int); } }
zerodown::migration! { pub mod m0014_target_14 { set target_postgres = 14; create table t14 (id int); } }
zerodown::migration! { pub mod m0015_target_15 { set target_postgres = 15; create table t15 (id int); } }
zerodown::migration! { pub mod m0016_target_16 { set target_postgres = 16; create table t16 (id int); } }
zerodown::migration! { pub mod m0017_target_17 { set target_postgres = 17; create table t17 (id int); } }
zerodown::migration! { pub mod m0018_target_18 { set target_postgres = 18; create table t18 (id int); } }

static BY_TARGET: &[&Migration] = &[
    &m0010_target_10::MIGRATION,
    &m0011_target_11::MIGRATION,
    &m0012_target_12::MIGRATION,
    &m0013_target_13::MIGRATION,
    &m0014_target_14::MIGRATION,
    &m0015_target_15::MIGRATION,
    &m0016_target_16::MIGRATION,
    &m0017_target_17::MIGRATION,
    &m0018_target_18::MIGRATION,
];

zerodown::migration! {
    /// Every online form a PostgreSQL 10 target accepts, on existing tables: runs on every server.
    pub mod m0002_oldest_target {
        set target_postgres = 10;

        create index concurrently items_created_idx on items (created_at desc nulls last) where label is not null;
        create unique index concurrently items_code_idx on items (lower(code));
        alter table items add column note text;
        alter table items alter column note set default "none";
        alter table items add constraint items_note_short check (length(note) < 100) not valid;
        alter table items validate constraint items_note_short;
        alter table items add constraint items_label_present check (label is not null) not valid;
        alter table items validate constraint items_label_present;
        alter table items add constraint items_code_key unique (code);
        alter table items alter column code type varchar(40) from varchar(20);
        alter table orders add constraint orders_item_fk foreign key (item_id) references items (id) not valid;
        alter table orders validate constraint orders_item_fk;
        alter type mood add value "bored" after "sad";
        comment on table items is "things";
        comment on column items.note is "free text";
        drop index concurrently items_created_idx;
    }
}

// ===== helpers =====

async fn server(db: &common::Db) -> PgVersion {
    let mut conn = db.connect().await;
    let num: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let v = PgVersion::from_server_version_num(num as u32);
    assert_eq!(v, db.inner.version());
    v
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn scalar<T>(conn: &mut PgConnection, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    sqlx::query_scalar(sql)
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn relfilenode(conn: &mut PgConnection, relation: &str) -> i64 {
    sqlx::query_scalar("SELECT relfilenode::bigint FROM pg_class WHERE oid = $1::regclass")
        .bind(relation)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
}

/// A table with rows, so that a rewrite or a scan has something to do.
async fn items(conn: &mut PgConnection) {
    exec(
        conn,
        "CREATE TABLE items (id bigint PRIMARY KEY, label text, code varchar(20), created_at timestamptz DEFAULT now());
         INSERT INTO items (id, label, code) SELECT g, 'item ' || g, 'c' || g FROM generate_series(1, 2000) g;
         CREATE INDEX items_label_idx ON items (label)",
    )
    .await;
}

/// Asserts that running `migrations` on `options` is refused with `ServerTooOld` naming exactly
/// `refused` (version, target), and that the refusal created nothing but the history table.
async fn assert_refused(
    db: &common::Db,
    migrations: &[&'static Migration],
    refused: &[(u64, u32)],
) {
    const OURS: &str = "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname NOT LIKE 'zerodown\\_%'";
    let mut conn = db.connect().await;
    let before: i64 = scalar(&mut conn, OURS).await;
    let err = Migrator::new(migrations)
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap_err();
    let Error::ServerTooOld {
        server,
        migrations: listed,
    } = &err
    else {
        panic!("expected ServerTooOld, got {err}")
    };
    assert_eq!(*server, db.inner.version());
    let listed: Vec<(u64, u32)> = listed
        .iter()
        .map(|(id, target)| (id.version, target.0))
        .collect();
    assert_eq!(listed, refused, "{err}");
    assert!(err.to_string().contains("nothing was run"), "{err}");
    assert_eq!(
        scalar::<i64>(&mut conn, OURS).await,
        before,
        "a refused run created objects"
    );
    if scalar::<bool>(
        &mut conn,
        "SELECT to_regclass('zerodown_migrations') IS NOT NULL",
    )
    .await
    {
        assert_eq!(
            scalar::<i64>(&mut conn, "SELECT count(*) FROM zerodown_migrations").await,
            0,
            "a refused run recorded a migration"
        );
    }
    conn.close().await.unwrap();
}

/// Collects the server's notices (`client_min_messages`) that sqlx reports through `tracing`, on this
/// thread (the tests run on a current-thread runtime, so every connection's messages are read here).
#[derive(Clone, Default)]
struct Notices(Arc<Mutex<Vec<String>>>);

impl Notices {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl tracing::Subscriber for Notices {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "sqlx::postgres::notice"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message<'a>(&'a Mutex<Vec<String>>);
        impl tracing::field::Visit for Message<'_> {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "message" {
                    self.0.lock().unwrap().push(value.to_owned());
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0.lock().unwrap().push(format!("{value:?}"));
                }
            }
        }
        event.record(&mut Message(&self.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The message PostgreSQL 12+ logs at `DEBUG1` when a validated CHECK constraint proves a column has
/// no nulls, so `SET NOT NULL` skips its scan.
const PROVEN_BY_CHECK: &str = "are sufficient to prove that it does not contain nulls";

// ===== tests =====

#[tokio::test]
async fn constant_default_rewrites_the_table_only_before_11() {
    let db = common::fresh_database("ver_fast_default").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;

    // PostgreSQL itself: the premise of `add_column_default_before_pg11`.
    exec(&mut conn, "CREATE TABLE raw_items AS SELECT * FROM items").await;
    let before = relfilenode(&mut conn, "raw_items").await;
    exec(
        &mut conn,
        "ALTER TABLE raw_items ADD COLUMN flag int NOT NULL DEFAULT 7",
    )
    .await;
    let rewritten = relfilenode(&mut conn, "raw_items").await != before;
    assert_eq!(
        rewritten,
        version < PgVersion(11),
        "constant default on {version}: rewritten = {rewritten}"
    );
    assert_eq!(
        scalar::<i64>(&mut conn, "SELECT count(*) FROM raw_items WHERE flag = 7").await,
        2000
    );

    // zerodown's plan targets 11: it runs there without a rewrite, and is refused on 10.
    let step = &m0001_fast_default::MIGRATION.expand.steps[0];
    assert!(!step.rewrites, "the plan claims a rewrite");
    if version < PgVersion(11) {
        assert_refused(&db, &[&m0001_fast_default::MIGRATION], &[(1, 11)]).await;
        let has_flag: bool = scalar(
            &mut conn,
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'flag')",
        )
        .await;
        assert!(!has_flag);
    } else {
        let before = relfilenode(&mut conn, "items").await;
        Migrator::new(&[&m0001_fast_default::MIGRATION])
            .unwrap()
            .run(&db.inner.connect_options())
            .await
            .unwrap();
        assert_eq!(
            relfilenode(&mut conn, "items").await,
            before,
            "the plan rewrote `items` on {version}"
        );
        assert_eq!(
            scalar::<i64>(&mut conn, "SELECT count(*) FROM items WHERE flag = 7").await,
            2000
        );
    }
    conn.close().await.unwrap();
}

#[tokio::test]
async fn set_not_null_after_a_validated_check_skips_the_scan_only_from_12() {
    let db = common::fresh_database("ver_not_null").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    exec(&mut conn, "CREATE TABLE raw_items AS SELECT * FROM items").await;

    let notices = Notices::default();
    let _guard = tracing::subscriber::set_default(notices.clone());

    // PostgreSQL itself: with a validated `CHECK (label IS NOT NULL)`, 12+ proves the column has no
    // nulls from the constraint (and says so at DEBUG1); 10 and 11 scan the table.
    exec(
        &mut conn,
        "ALTER TABLE raw_items ADD CONSTRAINT raw_items_label_nn CHECK (label IS NOT NULL) NOT VALID;
         ALTER TABLE raw_items VALIDATE CONSTRAINT raw_items_label_nn",
    )
    .await;
    notices.take();
    exec(&mut conn, "SET client_min_messages = debug1").await;
    exec(
        &mut conn,
        "ALTER TABLE raw_items ALTER COLUMN label SET NOT NULL",
    )
    .await;
    exec(&mut conn, "RESET client_min_messages").await;
    let seen = notices.take();
    let proven = seen.iter().any(|m| m.contains(PROVEN_BY_CHECK));
    assert_eq!(
        proven,
        version >= PgVersion(12),
        "on {version} the server said: {seen:?}"
    );
    if version >= PgVersion(12) {
        assert!(
            seen.iter()
                .any(|m| m.contains("\"raw_items.label\"") || m.contains("\"label\"")),
            "{seen:?}"
        );
    }

    // Without the constraint, every version scans: no such message.
    exec(&mut conn, "SET client_min_messages = debug1").await;
    exec(
        &mut conn,
        "ALTER TABLE raw_items ALTER COLUMN code SET NOT NULL",
    )
    .await;
    exec(&mut conn, "RESET client_min_messages").await;
    let seen = notices.take();
    assert!(
        !seen.iter().any(|m| m.contains(PROVEN_BY_CHECK)),
        "on {version}: {seen:?}"
    );

    // zerodown's plan (the CHECK route, target 12): on 12+ its `SET NOT NULL` is proven by the check
    // (observed on the runner's own step connections), on older servers it is refused.
    if version < PgVersion(12) {
        assert_refused(&db, &[&m0001_not_null::MIGRATION], &[(1, 12)]).await;
    } else {
        let options: PgConnectOptions = db
            .inner
            .connect_options()
            .options([("client_min_messages", "debug1")]);
        Migrator::new(&[&m0001_not_null::MIGRATION])
            .unwrap()
            .run(&options)
            .await
            .unwrap();
        let seen = notices.take();
        assert!(
            seen.iter().any(|m| m.contains(PROVEN_BY_CHECK)),
            "the plan's SET NOT NULL scanned on {version}: {seen:?}"
        );
        let nullable: String = scalar(
            &mut conn,
            "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'label'",
        )
        .await;
        assert_eq!(nullable, "NO");
        // The helper constraint is gone.
        let checks: i64 = scalar(&mut conn, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'c'").await;
        assert_eq!(checks, 0);
    }
    conn.close().await.unwrap();
}

#[tokio::test]
async fn plans_newer_than_the_server_are_refused_before_anything_runs() {
    let db = common::fresh_database("ver_targets").await;
    let version = server(&db).await;
    let refused: Vec<(u64, u32)> = BY_TARGET
        .iter()
        .filter(|m| m.settings.target > version)
        .map(|m| (m.version, m.settings.target.0))
        .collect();
    let runnable: Vec<&'static Migration> = BY_TARGET
        .iter()
        .copied()
        .filter(|m| m.settings.target <= version)
        .collect();
    assert_eq!(runnable.len() + refused.len(), 9);
    assert!(
        !runnable.is_empty(),
        "every supported server runs a target-10 plan"
    );

    if !refused.is_empty() {
        // All together: refused as a whole, naming exactly the too-new ones.
        assert_refused(&db, BY_TARGET, &refused).await;
    }
    // Those the server can run, run.
    let report = Migrator::new(&runnable)
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap();
    assert_eq!(report.migrations.len(), runnable.len());
    let mut conn = db.connect().await;
    for m in BY_TARGET {
        let exists: bool = scalar(
            &mut conn,
            &format!("SELECT to_regclass('t{}') IS NOT NULL", m.settings.target.0),
        )
        .await;
        assert_eq!(
            exists,
            m.settings.target <= version,
            "table of the target-{} migration on {version}",
            m.settings.target.0
        );
    }
    conn.close().await.unwrap();
}

#[tokio::test]
async fn reindex_concurrently_exists_from_12() {
    let db = common::fresh_database("ver_reindex").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;

    // PostgreSQL itself: a syntax error before 12.
    let raw = sqlx::raw_sql("REINDEX INDEX CONCURRENTLY items_label_idx")
        .execute(&mut conn)
        .await;
    match (&raw, version < PgVersion(12)) {
        (Err(sqlx::Error::Database(e)), true) => {
            assert_eq!(e.code().as_deref(), Some("42601"), "{e}")
        }
        (Ok(_), false) => {}
        _ => panic!("`REINDEX INDEX CONCURRENTLY` on {version}: {raw:?}"),
    }

    let step = &m0001_reindex::MIGRATION.expand.steps[0];
    assert_eq!(
        step.transaction,
        zerodown::plan::Transaction::Alone,
        "REINDEX CONCURRENTLY cannot run in a transaction block"
    );
    if version < PgVersion(12) {
        assert_refused(&db, &[&m0001_reindex::MIGRATION], &[(1, 12)]).await;
    } else {
        let before = relfilenode(&mut conn, "items_label_idx").await;
        Migrator::new(&[&m0001_reindex::MIGRATION])
            .unwrap()
            .run(&db.inner.connect_options())
            .await
            .unwrap();
        assert_ne!(
            relfilenode(&mut conn, "items_label_idx").await,
            before,
            "the index was not rebuilt"
        );
        let invalid: i64 = scalar(
            &mut conn,
            "SELECT count(*) FROM pg_index WHERE NOT indisvalid",
        )
        .await;
        assert_eq!(invalid, 0, "REINDEX CONCURRENTLY left an invalid index");
    }
    conn.close().await.unwrap();
}

#[tokio::test]
async fn enum_values_are_added_outside_a_transaction_block_on_every_version() {
    let db = common::fresh_database("ver_enum").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;

    // PostgreSQL itself: inside a transaction block only from 12 on.
    exec(&mut conn, "CREATE TYPE raw_mood AS ENUM ('happy', 'sad')").await;
    let in_block = sqlx::raw_sql("BEGIN; ALTER TYPE raw_mood ADD VALUE 'bored'; COMMIT")
        .execute(&mut conn)
        .await;
    match (&in_block, version < PgVersion(12)) {
        (Err(sqlx::Error::Database(e)), true) => {
            assert_eq!(e.code().as_deref(), Some("25001"), "{e}");
            exec(&mut conn, "ROLLBACK").await;
        }
        (Ok(_), false) => {}
        _ => panic!("`ALTER TYPE .. ADD VALUE` in a transaction block on {version}: {in_block:?}"),
    }

    // zerodown's plan runs each `add value` alone, so a target-10 plan works everywhere.
    assert!(m0001_enum_value::MIGRATION
        .expand
        .steps
        .iter()
        .all(|s| s.transaction == zerodown::plan::Transaction::Alone));
    exec(&mut conn, "CREATE TYPE mood AS ENUM ('happy', 'sad')").await;
    Migrator::new(&[&m0001_enum_value::MIGRATION])
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap();
    let labels: Vec<String> =
        sqlx::query_scalar("SELECT enumlabel::text FROM pg_enum WHERE enumtypid = 'mood'::regtype ORDER BY enumsortorder")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(labels, ["happy", "sad", "bored"]);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn every_online_form_of_the_oldest_target_runs_on_every_version() {
    let db = common::fresh_database("ver_oldest_target").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    exec(
        &mut conn,
        "CREATE TABLE orders (id bigint PRIMARY KEY, item_id bigint);
         INSERT INTO orders SELECT g, g FROM generate_series(1, 500) g;
         CREATE TYPE mood AS ENUM ('happy', 'sad')",
    )
    .await;
    assert_eq!(
        m0002_oldest_target::MIGRATION.settings.target,
        PgVersion(10)
    );
    let migrator = Migrator::new(&[&m0002_oldest_target::MIGRATION]).unwrap();
    let report = migrator
        .run(&db.inner.connect_options())
        .await
        .unwrap_or_else(|e| panic!("on {version}: {e}"));
    assert_eq!(report.migrations.len(), 1);

    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'items'::regclass ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "items_code_idx",
            "items_code_key",
            "items_label_idx",
            "items_pkey"
        ]
    );
    let invalid: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_index WHERE NOT indisvalid",
    )
    .await;
    assert_eq!(invalid, 0);
    let constraints: Vec<(String, bool)> = sqlx::query_as(
        "SELECT conname::text, convalidated FROM pg_constraint WHERE conrelid IN ('items'::regclass, 'orders'::regclass)
         AND contype IN ('c', 'f', 'u') ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        constraints,
        [
            ("items_code_key".to_owned(), true),
            ("items_label_present".to_owned(), true),
            ("items_note_short".to_owned(), true),
            ("orders_item_fk".to_owned(), true),
        ]
    );
    let code_type: String = scalar(
        &mut conn,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'code'",
    )
    .await;
    assert_eq!(code_type, "character varying(40)");
    let default: String = scalar(
        &mut conn,
        "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'items'::regclass
         AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'note')",
    )
    .await;
    assert_eq!(default, "'none'::text");
    let comments: (String, String) = sqlx::query_as(
        "SELECT obj_description('items'::regclass, 'pg_class'),
                col_description('items'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'note'))",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(comments, ("things".to_owned(), "free text".to_owned()));
    let labels: Vec<String> =
        sqlx::query_scalar("SELECT enumlabel::text FROM pg_enum WHERE enumtypid = 'mood'::regtype ORDER BY enumsortorder")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(labels, ["happy", "sad", "bored"]);
    assert_eq!(
        scalar::<i64>(&mut conn, "SELECT count(*) FROM items").await,
        2000
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn keys_and_not_null_over_not_null_and_nullable_columns_run_on_every_version() {
    let db = common::fresh_database("ver_keys_not_null").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    // `accounts`: key and `code` already NOT NULL (on 18 each has a `accounts_<column>_not_null`
    // constraint); `ledgers`: nullable key columns and `note`, without NULLs.
    exec(
        &mut conn,
        "CREATE TABLE accounts (id int NOT NULL, code text NOT NULL, ref int);
         INSERT INTO accounts SELECT g, 'a' || g, g FROM generate_series(1, 500) g;
         CREATE TABLE ledgers (account_id int, seq int, note text);
         INSERT INTO ledgers SELECT g % 50, g, 'n' || g FROM generate_series(1, 500) g",
    )
    .await;
    let m: &'static Migration = &m0001_keys_over_not_null::MIGRATION;
    if version < PgVersion(12) {
        assert_refused(&db, &[m], &[(1, 12)]).await;
        conn.close().await.unwrap();
        return;
    }
    Migrator::new(&[m])
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap_or_else(|e| panic!("on {version}: {e}"));
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, conname::text FROM pg_constraint
          WHERE conrelid IN ('accounts'::regclass, 'ledgers'::regclass) AND contype IN ('p', 'u')
          ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let keys: Vec<(&str, &str)> = keys.iter().map(|(t, c)| (t.as_str(), c.as_str())).collect();
    assert_eq!(
        keys,
        [
            ("accounts", "accounts_pkey"),
            ("accounts", "accounts_ref_key"),
            ("ledgers", "ledgers_pkey")
        ]
    );
    let nullable: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
          WHERE table_name IN ('accounts', 'ledgers') AND is_nullable = 'YES' ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(nullable, [("accounts".to_owned(), "ref".to_owned())]);
    // No helper check is left behind.
    let checks: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_constraint WHERE conrelid IN ('accounts'::regclass, 'ledgers'::regclass) AND contype = 'c'",
    )
    .await;
    assert_eq!(checks, 0);
    conn.close().await.unwrap();
}

/// The checksum zerodown gave `m0001_not_null` before its helper check was renamed
/// (`items_label_not_null`, taken from PostgreSQL 18's own `NOT NULL` constraints, became
/// `_zd_label_nn`), read off the history row that the earlier version wrote.
const NOT_NULL_CHECKSUM_BEFORE_THE_RENAME: &str =
    "f5d9e25e3cadfa55aebcde5f32060b43c73d86779a1d718aa23c056fea4cf9e3";

#[test]
fn plans_with_renamed_helper_checks_keep_their_earlier_checksum_as_legacy() {
    let m = &m0001_not_null::MIGRATION;
    let sql: Vec<&str> = m
        .expand
        .steps
        .iter()
        .flat_map(|s| s.statements.iter().copied())
        .collect();
    assert!(
        sql.iter().any(|s| s.contains("\"_zd_label_nn\"")),
        "{sql:?}"
    );
    assert!(
        !sql.iter().any(|s| s.contains("items_label_not_null")),
        "{sql:?}"
    );
    assert_ne!(m.checksum.to_hex(), NOT_NULL_CHECKSUM_BEFORE_THE_RENAME);
    let legacy: Vec<String> = m.legacy_checksums.iter().map(|c| c.to_hex()).collect();
    assert_eq!(legacy, [NOT_NULL_CHECKSUM_BEFORE_THE_RENAME]);
    // A plan without helper checks has no legacy checksum.
    assert!(m0001_reindex::MIGRATION.legacy_checksums.is_empty());
}

/// The message PostgreSQL logs at `DEBUG1` when it checks the rows of a foreign key.
const VALIDATING_FK: &str = "validating foreign key constraint";

#[tokio::test]
async fn an_added_column_with_references_and_no_default_checks_no_row_on_every_version() {
    let db = common::fresh_database("ver_inline_fk").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    let notices = Notices::default();
    let _guard = tracing::subscriber::set_default(notices.clone());

    // PostgreSQL itself: a default gives every row a value to check; no default, nothing to check.
    exec(
        &mut conn,
        "CREATE TABLE raw_items AS SELECT * FROM items; ALTER TABLE raw_items ADD PRIMARY KEY (id)",
    )
    .await;
    exec(&mut conn, "SET client_min_messages = debug1").await;
    notices.take();
    exec(
        &mut conn,
        "ALTER TABLE raw_items ADD COLUMN a bigint DEFAULT 1 REFERENCES raw_items (id)",
    )
    .await;
    let seen = notices.take();
    assert!(
        seen.iter().any(|m| m.contains(VALIDATING_FK)),
        "on {version}: {seen:?}"
    );
    exec(
        &mut conn,
        "ALTER TABLE raw_items ADD COLUMN b bigint REFERENCES raw_items (id)",
    )
    .await;
    let seen = notices.take();
    assert!(
        !seen.iter().any(|m| m.contains(VALIDATING_FK)),
        "on {version}: {seen:?}"
    );
    exec(&mut conn, "RESET client_min_messages").await;

    // zerodown's plan: one short step, no validation, the foreign key valid and enforced.
    let m: &'static Migration = &m0001_inline_fk::MIGRATION;
    assert_eq!(m.expand.steps.len(), 1);
    assert_eq!(m.expand.steps[0].lock, zerodown::LockLevel::AccessExclusive);
    let options: PgConnectOptions = db
        .inner
        .connect_options()
        .options([("client_min_messages", "debug1")]);
    Migrator::new(&[m]).unwrap().run(&options).await.unwrap();
    let seen = notices.take();
    assert!(
        !seen.iter().any(|m| m.contains(VALIDATING_FK)),
        "on {version}: {seen:?}"
    );
    let valid: bool = scalar(
        &mut conn,
        "SELECT convalidated FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'f'",
    )
    .await;
    assert!(valid);
    let err = sqlx::raw_sql("UPDATE items SET parent_id = -1 WHERE id = 1")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("foreign key"), "{err}");
    conn.close().await.unwrap();
}

/// `events`: 2000 rows of `timestamp` and `timestamptz` values, as an application in another time
/// zone wrote them.
async fn events(conn: &mut PgConnection, index: bool) {
    exec(
        conn,
        "CREATE TABLE events (id bigint PRIMARY KEY, happened_at timestamp NOT NULL, logged_at timestamptz);
         INSERT INTO events SELECT g, timestamp '2026-03-29 00:30' + g * interval '17 min',
                                  timestamptz '2026-10-25 00:30+00' + g * interval '13 min'
           FROM generate_series(1, 2000) g",
    )
    .await;
    if index {
        exec(
            conn,
            "CREATE INDEX events_happened_idx ON events (happened_at)",
        )
        .await;
    }
}

/// Each row's instant (`happened_at` read as UTC) and wall-clock time in UTC (`logged_at`), as text
/// that does not depend on the session's time zone.
const EVENT_VALUES: &str = "SELECT string_agg(id || ' ' || extract(epoch FROM happened_at AT TIME ZONE 'UTC') || ' ' \
     || to_char(logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ',' ORDER BY id) FROM events";

/// The same values after the change: `happened_at` is the instant, `logged_at` the UTC wall clock.
const EVENT_VALUES_AFTER: &str =
    "SELECT string_agg(id || ' ' || extract(epoch FROM happened_at) || ' ' \
     || to_char(logged_at, 'YYYY-MM-DD HH24:MI:SS'), ',' ORDER BY id) FROM events";

#[tokio::test]
async fn utc_timestamps_change_type_without_a_rewrite_from_12() {
    let db = common::fresh_database("ver_utc_timestamps").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;

    // PostgreSQL itself: with the session in UTC the plain cast keeps the table's file from 12 on.
    exec(
        &mut conn,
        "CREATE TABLE raw_events (at timestamp); INSERT INTO raw_events SELECT now() FROM generate_series(1, 100)",
    )
    .await;
    let before = relfilenode(&mut conn, "raw_events").await;
    exec(
        &mut conn,
        "BEGIN; SET LOCAL TimeZone = 'UTC'; ALTER TABLE raw_events ALTER COLUMN at TYPE timestamptz; COMMIT",
    )
    .await;
    let rewritten = relfilenode(&mut conn, "raw_events").await != before;
    assert_eq!(rewritten, version < PgVersion(12), "on {version}");

    events(&mut conn, false).await;
    let m: &'static Migration = &m0001_utc_timestamps::MIGRATION;
    if version < PgVersion(12) {
        assert_refused(&db, &[m], &[(1, 12)]).await;
        conn.close().await.unwrap();
        return;
    }
    let values: String = scalar(&mut conn, EVENT_VALUES).await;
    let table = relfilenode(&mut conn, "events").await;
    // The runner's session in a time zone far from UTC: the plan must not depend on it.
    let options = db
        .inner
        .connect_options()
        .options([("TimeZone", "America/St_Johns")]);
    Migrator::new(&[m]).unwrap().run(&options).await.unwrap();
    assert_eq!(
        relfilenode(&mut conn, "events").await,
        table,
        "on {version}: rewritten"
    );
    let types: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
          WHERE table_name = 'events' AND column_name <> 'id' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        types,
        [
            (
                "happened_at".to_owned(),
                "timestamp with time zone".to_owned()
            ),
            (
                "logged_at".to_owned(),
                "timestamp without time zone".to_owned()
            ),
        ]
    );
    exec(&mut conn, "SET TimeZone = 'Asia/Kathmandu'").await;
    assert_eq!(
        scalar::<String>(&mut conn, EVENT_VALUES_AFTER).await,
        values
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_utc_type_change_over_an_indexed_column_is_stopped_before_it_applies() {
    let db = common::fresh_database("ver_utc_indexed").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    events(&mut conn, true).await;
    let m: &'static Migration = &m0001_utc_indexed::MIGRATION;
    if version < PgVersion(12) {
        assert_refused(&db, &[m], &[(1, 12)]).await;
        conn.close().await.unwrap();
        return;
    }
    let index = relfilenode(&mut conn, "events_happened_idx").await;
    let err = Migrator::new(&[m])
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap_err();
    let step = err.as_step().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(step.sqlstate.as_deref(), Some("ZD003"), "{err}");
    let text = err.to_string();
    assert!(text.contains("events_happened_idx"), "{text}");
    assert!(text.contains("expand alter table"), "{text}");
    assert_eq!(relfilenode(&mut conn, "events_happened_idx").await, index);
    let ty: String = scalar(
        &mut conn,
        "SELECT data_type::text FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'happened_at'",
    )
    .await;
    assert_eq!(ty, "timestamp without time zone", "the change was applied");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn primary_key_using_index_over_nullable_columns_is_stopped_before_it_scans() {
    let db = common::fresh_database("ver_pk_using_index").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    exec(
        &mut conn,
        "CREATE TABLE tokens (id int, value text);
         INSERT INTO tokens SELECT g, 't' || g FROM generate_series(1, 500) g;
         CREATE UNIQUE INDEX tokens_id_key ON tokens (id)",
    )
    .await;
    let m: &'static Migration = &m0001_pk_using_index::MIGRATION;
    if version < PgVersion(12) {
        assert_refused(&db, &[m], &[(1, 12)]).await;
        conn.close().await.unwrap();
        return;
    }
    let migrator = Migrator::new(&[m]).unwrap();
    let err = migrator.run(&db.inner.connect_options()).await.unwrap_err();
    let step = err.as_step().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(step.sqlstate.as_deref(), Some("ZD002"), "{err}");
    let text = err.to_string();
    assert!(text.contains("column(s) id of table"), "{text}");
    assert!(text.contains("set not null"), "{text}");
    let keys: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'tokens'::regclass AND contype = 'p'",
    )
    .await;
    assert_eq!(keys, 0);
    // With the column made NOT NULL, the same plan attaches the key (the failed step ran nothing).
    exec(&mut conn, "ALTER TABLE tokens ALTER COLUMN id SET NOT NULL").await;
    migrator.run(&db.inner.connect_options()).await.unwrap();
    let keys: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'tokens'::regclass AND contype = 'p'",
    )
    .await;
    assert_eq!(keys, 1);
    conn.close().await.unwrap();
}

/// The lock this session holds on `relation` (its mode as `pg_locks` names it).
async fn own_lock(conn: &mut PgConnection, relation: &str) -> String {
    scalar(
        conn,
        &format!(
            "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' \
             AND relation = '{relation}'::regclass"
        ),
    )
    .await
}

#[tokio::test]
async fn renaming_an_index_takes_share_update_exclusive_only_from_12() {
    let db = common::fresh_database("ver_rename_index").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;

    // PostgreSQL itself: the lock an index rename takes on the index.
    exec(
        &mut conn,
        "BEGIN; ALTER INDEX items_label_idx RENAME TO items_x",
    )
    .await;
    let mode = own_lock(&mut conn, "items_x").await;
    exec(&mut conn, "ROLLBACK").await;
    let expected = if version < PgVersion(12) {
        "AccessExclusiveLock"
    } else {
        "ShareUpdateExclusiveLock"
    };
    assert_eq!(mode, expected, "on {version}");

    // The old target's plan declares what 10 and 11 take, and runs everywhere; `analyze` updates the
    // planner's statistics (`reltuples`, written by the analyze itself).
    let old: &'static Migration = &m0001_rename_index_old_target::MIGRATION;
    assert_eq!(
        old.expand.steps[0].lock,
        zerodown::LockLevel::AccessExclusive
    );
    assert_eq!(
        old.expand.steps[1].lock,
        zerodown::LockLevel::ShareUpdateExclusive
    );
    Migrator::new(&[old])
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap_or_else(|e| panic!("on {version}: {e}"));
    let tuples: f64 = scalar(
        &mut conn,
        "SELECT reltuples::float8 FROM pg_class WHERE oid = 'items'::regclass",
    )
    .await;
    assert_eq!(tuples, 2000.0);
    conn.close().await.unwrap();

    // For a 12 target the plan declares SHARE UPDATE EXCLUSIVE, and runs while a writer's
    // transaction is open on the table (it holds ROW EXCLUSIVE on the table and its indexes).
    let db = common::fresh_database("ver_rename_index_12").await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    let new: &'static Migration = &m0001_rename_index::MIGRATION;
    assert_eq!(
        new.expand.steps[0].lock,
        zerodown::LockLevel::ShareUpdateExclusive
    );
    if version < PgVersion(12) {
        assert_refused(&db, &[new], &[(1, 12)]).await;
        conn.close().await.unwrap();
        return;
    }
    let mut writer = db.connect().await;
    exec(
        &mut writer,
        "BEGIN; INSERT INTO items (id, label) VALUES (5000, 'open')",
    )
    .await;
    let ran = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Migrator::new(&[new])
            .unwrap()
            .run(&db.inner.connect_options()),
    )
    .await
    .expect("the rename waited for the writer");
    ran.unwrap_or_else(|e| panic!("on {version}: {e}"));
    exec(&mut writer, "COMMIT").await;
    assert!(
        scalar::<bool>(
            &mut conn,
            "SELECT to_regclass('items_label_text_idx') IS NOT NULL"
        )
        .await
    );
    writer.close().await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_materialized_view_is_refreshed_concurrently_while_it_is_read() {
    let db = common::fresh_database("ver_refresh").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    exec(
        &mut conn,
        "CREATE MATERIALIZED VIEW item_counts AS SELECT label, count(*) AS n FROM items GROUP BY label;
         CREATE UNIQUE INDEX item_counts_label ON item_counts (label);
         INSERT INTO items (id, label) VALUES (5000, 'new')",
    )
    .await;
    // A reader with the view open: a plain refresh would wait for it (and every reader after).
    let mut reader = db.connect().await;
    exec(&mut reader, "BEGIN; SELECT count(*) FROM item_counts").await;
    let m: &'static Migration = &m0001_refresh::MIGRATION;
    assert_eq!(m.expand.steps[0].lock, zerodown::LockLevel::Exclusive);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Migrator::new(&[m])
            .unwrap()
            .run(&db.inner.connect_options()),
    )
    .await
    .expect("the refresh waited for the reader")
    .unwrap_or_else(|e| panic!("on {version}: {e}"));
    exec(&mut reader, "COMMIT").await;
    let n: i64 = scalar(&mut conn, "SELECT n FROM item_counts WHERE label = 'new'").await;
    assert_eq!(n, 1);
    reader.close().await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn statistics_targets_and_storage_parameters_change_while_writers_work() {
    let db = common::fresh_database("ver_storage").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    let m: &'static Migration = &m0001_storage::MIGRATION;
    assert_eq!(
        m.expand.steps[0].lock,
        zerodown::LockLevel::ShareUpdateExclusive
    );
    // PostgreSQL itself: the lock on the table.
    exec(&mut conn, "BEGIN; ALTER TABLE items SET (fillfactor = 80)").await;
    assert_eq!(
        own_lock(&mut conn, "items").await,
        "ShareUpdateExclusiveLock",
        "on {version}"
    );
    exec(&mut conn, "ROLLBACK").await;
    // A writer's transaction stays open on the table while the migration runs.
    let mut writer = db.connect().await;
    exec(
        &mut writer,
        "BEGIN; INSERT INTO items (id, label) VALUES (5000, 'open')",
    )
    .await;
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Migrator::new(&[m])
            .unwrap()
            .run(&db.inner.connect_options()),
    )
    .await
    .expect("the step waited for the writer")
    .unwrap_or_else(|e| panic!("on {version}: {e}"));
    exec(&mut writer, "COMMIT").await;
    let target: i32 = scalar(
        &mut conn,
        "SELECT attstattarget::int FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'label'",
    )
    .await;
    assert_eq!(target, 500);
    let options: String = scalar(
        &mut conn,
        "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'items'::regclass",
    )
    .await;
    assert_eq!(options, "fillfactor=70,autovacuum_vacuum_scale_factor=0.02");
    writer.close().await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn extended_statistics_are_created_while_writers_work() {
    let db = common::fresh_database("ver_statistics").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    // PostgreSQL itself: the lock on the table.
    exec(
        &mut conn,
        "BEGIN; CREATE STATISTICS s_probe ON label, code FROM items",
    )
    .await;
    assert_eq!(
        own_lock(&mut conn, "items").await,
        "ShareUpdateExclusiveLock",
        "on {version}"
    );
    exec(&mut conn, "ROLLBACK").await;
    let m: &'static Migration = &m0001_statistics::MIGRATION;
    assert!(m
        .expand
        .steps
        .iter()
        .all(|s| s.lock == zerodown::LockLevel::ShareUpdateExclusive));
    let mut writer = db.connect().await;
    exec(
        &mut writer,
        "BEGIN; INSERT INTO items (id, label) VALUES (5000, 'open')",
    )
    .await;
    // Both steps run while the writer's transaction is open on the table.
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Migrator::new(&[m])
            .unwrap()
            .run(&db.inner.connect_options()),
    )
    .await
    .expect("a step waited for the writer")
    .unwrap_or_else(|e| panic!("on {version}: {e}"));
    exec(&mut writer, "COMMIT").await;
    let kinds: String = scalar(
        &mut conn,
        "SELECT array_to_string(stxkind, ',') FROM pg_statistic_ext WHERE stxname = 'items_label_code'",
    )
    .await;
    assert_eq!(kinds, "d,f");
    writer.close().await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_named_not_null_is_added_without_a_scan_and_validated_online_on_18() {
    let db = common::fresh_database("ver_not_null_18").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    let m: &'static Migration = &m0001_not_null_18::MIGRATION;
    if version < PgVersion(18) {
        assert_refused(&db, &[m], &[(1, 18)]).await;
        conn.close().await.unwrap();
        return;
    }
    // PostgreSQL itself: `not valid` checks no existing row (a NULL is there and it succeeds);
    // validating scans under SHARE UPDATE EXCLUSIVE and finds it.
    exec(
        &mut conn,
        "INSERT INTO items (id, label) VALUES (5000, NULL)",
    )
    .await;
    exec(
        &mut conn,
        "BEGIN; ALTER TABLE items ADD CONSTRAINT probe NOT NULL label NOT VALID",
    )
    .await;
    let err = sqlx::raw_sql("ALTER TABLE items VALIDATE CONSTRAINT probe")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("null"), "{err}");
    exec(&mut conn, "ROLLBACK").await;
    exec(
        &mut conn,
        "BEGIN; ALTER TABLE items ADD CONSTRAINT probe NOT NULL label NOT VALID",
    )
    .await;
    exec(&mut conn, "DELETE FROM items WHERE id = 5000; COMMIT").await;
    exec(
        &mut conn,
        "BEGIN; ALTER TABLE items VALIDATE CONSTRAINT probe",
    )
    .await;
    assert_eq!(
        own_lock(&mut conn, "items").await,
        "ShareUpdateExclusiveLock"
    );
    exec(
        &mut conn,
        "ROLLBACK; ALTER TABLE items DROP CONSTRAINT probe",
    )
    .await;

    assert_eq!(
        m.expand.steps[1].lock,
        zerodown::LockLevel::ShareUpdateExclusive
    );
    Migrator::new(&[m])
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap_or_else(|e| panic!("on {version}: {e}"));
    let (not_null, valid): (bool, bool) = sqlx::query_as(
        "SELECT a.attnotnull, c.convalidated FROM pg_attribute a
           JOIN pg_constraint c ON c.conrelid = a.attrelid AND c.conname = 'items_label_nn'
          WHERE a.attrelid = 'items'::regclass AND a.attname = 'label'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(not_null && valid);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_virtual_generated_column_is_added_without_a_rewrite_on_18() {
    let db = common::fresh_database("ver_virtual").await;
    let version = server(&db).await;
    let mut conn = db.connect().await;
    items(&mut conn).await;
    let m: &'static Migration = &m0001_virtual_generated::MIGRATION;
    if version < PgVersion(18) {
        assert_refused(&db, &[m], &[(1, 18)]).await;
        conn.close().await.unwrap();
        return;
    }
    assert!(!m.expand.steps[0].rewrites);
    let before = relfilenode(&mut conn, "items").await;
    Migrator::new(&[m])
        .unwrap()
        .run(&db.inner.connect_options())
        .await
        .unwrap_or_else(|e| panic!("on {version}: {e}"));
    assert_eq!(relfilenode(&mut conn, "items").await, before, "rewritten");
    let wrong: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM items WHERE label_length IS DISTINCT FROM length(label)",
    )
    .await;
    assert_eq!(wrong, 0);
    conn.close().await.unwrap();
}

/// The strongest lock this backend holds on `relation`.
async fn strongest_lock(conn: &mut PgConnection, relation: &str) -> String {
    scalar(
        conn,
        &format!(
            "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'
                AND relation = '{relation}'::regclass
              ORDER BY array_position(ARRAY['AccessShareLock', 'RowShareLock', 'RowExclusiveLock',
                'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock',
                'AccessExclusiveLock'], mode) DESC
              LIMIT 1"
        ),
    )
    .await
}

/// Rows in the next year's partition-to-be, written before it is attached.
async fn fill_2026(conn: &mut PgConnection) {
    exec(
        conn,
        "INSERT INTO events_2026 (id, at, kind)
         SELECT g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', 'k' || (g % 7)
           FROM generate_series(1, 5000) g",
    )
    .await;
}

/// Runs `statements` in a transaction and returns how many rows of `relation` they read by sequential
/// scans (in this session, this transaction) and the locks they hold on `parent` and `relation`; then
/// rolls back.
async fn scanned_and_locks(
    conn: &mut PgConnection,
    statements: &[&str],
    parent: &str,
    relation: &str,
) -> (i64, String, String) {
    let read = format!("SELECT pg_stat_get_xact_tuples_returned('{relation}'::regclass)");
    exec(conn, "BEGIN").await;
    let before: i64 = scalar(conn, &read).await;
    for sql in statements {
        exec(conn, sql).await;
    }
    let after: i64 = scalar(conn, &read).await;
    let locks = (
        strongest_lock(conn, parent).await,
        strongest_lock(conn, relation).await,
    );
    exec(conn, "ROLLBACK").await;
    (after - before, locks.0, locks.1)
}

#[tokio::test]
async fn attaching_a_partition_checks_its_bound_online_and_locks_the_parent_lightly_from_12() {
    let db = common::fresh_database("ver_attach").await;
    let version = server(&db).await;
    let set12: Vec<&'static Migration> = partitions_12::MIGRATIONS.to_vec();
    let set10: Vec<&'static Migration> = partitions_10::MIGRATIONS.to_vec();
    if version < PgVersion(12) {
        assert_refused(&db, &set12, &[(1, 12), (2, 12), (3, 12)]).await;
    }
    let (set, attach) = if version < PgVersion(12) {
        (&set10, set10[1])
    } else {
        (&set12, set12[2])
    };
    let opts = db.inner.connect_options();
    Migrator::new(&set[..attach_index(set)])
        .unwrap()
        .run(&opts)
        .await
        .unwrap_or_else(|e| panic!("on {version}: {e}"));
    let mut conn = db.connect().await;
    fill_2026(&mut conn).await;

    // The plan: the bound as a CHECK (NOT VALID, brief), validated in a step of its own (the scan,
    // under SHARE UPDATE EXCLUSIVE); on 12 the parent's key and index built concurrently on the
    // partition and the key added `USING INDEX`; the attach; the CHECK dropped.
    let steps = attach.expand.steps;
    let statements: Vec<&str> = steps
        .iter()
        .flat_map(|s| s.statements.iter().copied())
        .collect();
    let check = r#"ALTER TABLE "events_2026" ADD CONSTRAINT "_zd_partition_bound" CHECK ("at" IS NOT NULL AND "at" >= ('2026-01-01 00:00:00+00')::timestamptz AND "at" < ('2027-01-01 00:00:00+00')::timestamptz) NOT VALID"#;
    let attach_sql = r#"ALTER TABLE "events" ATTACH PARTITION "events_2026" FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')"#;
    let mut expected = vec![
        check,
        r#"ALTER TABLE "events_2026" VALIDATE CONSTRAINT "_zd_partition_bound""#,
    ];
    if version >= PgVersion(12) {
        expected.extend([
            r#"CREATE UNIQUE INDEX CONCURRENTLY "events_2026_pkey" ON "events_2026" USING btree ("id", "at")"#,
            r#"CREATE INDEX CONCURRENTLY "events_2026_kind_idx" ON "events_2026" USING btree ("kind")"#,
            r#"ALTER TABLE "events_2026" ADD CONSTRAINT "events_2026_pkey" PRIMARY KEY USING INDEX "events_2026_pkey""#,
        ]);
    }
    expected.extend([
        attach_sql,
        r#"ALTER TABLE "events_2026" DROP CONSTRAINT "_zd_partition_bound""#,
    ]);
    assert_eq!(
        statements[..expected.len()],
        expected[..],
        "{statements:#?}"
    );
    let validate = steps
        .iter()
        .find(|s| s.statements[0].contains("VALIDATE"))
        .unwrap();
    assert_eq!(validate.lock, zerodown::LockLevel::ShareUpdateExclusive);
    let attaching = steps
        .iter()
        .find(|s| s.statements.iter().any(|q| q.contains("ATTACH")))
        .unwrap();
    assert_eq!(attaching.lock, zerodown::LockLevel::AccessExclusive);
    let parent_declared = attaching.tables.contains(&r#""events""#);
    assert_eq!(
        parent_declared,
        version < PgVersion(12),
        "{:?}",
        attaching.tables
    );

    // PostgreSQL itself, with the plan's statements: without them the attach reads every row of the
    // partition (a scan for the bound, and a build per index of the parent); after them it reads
    // none. (The builds run here without `CONCURRENTLY`, which a transaction block refuses: same
    // index, same reads.) And the locks the attach holds: ACCESS EXCLUSIVE on the partition; on the
    // parent SHARE UPDATE EXCLUSIVE from 12.
    let builds = statements
        .iter()
        .filter(|s| s.contains("CONCURRENTLY"))
        .count() as i64;
    let (scanned, parent_lock, partition_lock) =
        scanned_and_locks(&mut conn, &[attach_sql], "events", "events_2026").await;
    assert_eq!(
        scanned,
        5000 * (1 + builds),
        "on {version}: the attach alone read {scanned} rows"
    );
    let before_attach: Vec<String> = expected[..expected.len() - 2]
        .iter()
        .map(|s| s.replace("INDEX CONCURRENTLY", "INDEX"))
        .collect();
    let mut prepared: Vec<&str> = before_attach.iter().map(String::as_str).collect();
    prepared.push(attach_sql);
    let (scanned, _, _) = scanned_and_locks(&mut conn, &prepared, "events", "events_2026").await;
    // The validation and each build read the rows once; the attach after them none.
    assert_eq!(
        scanned,
        5000 * (1 + builds),
        "on {version}: the attach after the plan's statements read rows"
    );
    assert_eq!(partition_lock, "AccessExclusiveLock");
    let expected = if version < PgVersion(12) {
        "AccessExclusiveLock"
    } else {
        "ShareUpdateExclusiveLock"
    };
    assert_eq!(parent_lock, expected, "on {version}");

    // The application's own triggers on the table (normalising `kind`, auditing updates), and a
    // writer updating, deleting and inserting its rows while the migration runs, each change also
    // applied, as the application means it, to a shadow copy.
    exec(
        &mut conn,
        "CREATE TABLE events_audit (id bigint, kind text);
         CREATE FUNCTION events_lower() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN NEW.kind := lower(NEW.kind); RETURN NEW; END $$;
         CREATE FUNCTION events_audit() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN INSERT INTO events_audit VALUES (NEW.id, NEW.kind); RETURN NULL; END $$;
         CREATE TRIGGER events_2026_lower BEFORE INSERT OR UPDATE ON events_2026
           FOR EACH ROW EXECUTE PROCEDURE events_lower();
         CREATE TRIGGER events_2026_audit AFTER UPDATE ON events_2026
           FOR EACH ROW EXECUTE PROCEDURE events_audit();
         CREATE TABLE shadow_2026 AS SELECT id, at, kind FROM events_2026",
    )
    .await;
    let app_options = opts.clone();
    let written = Arc::new(Mutex::new(0));
    let progress = written.clone();
    // Joined with the migration below, on this task (the runtime is current-thread).
    let app = async move {
        let mut c = PgConnection::connect_with(&app_options).await.unwrap();
        for i in 1..=300 {
            let sql = format!(
                "BEGIN;
                 UPDATE events_2026 SET kind = 'K{i}' WHERE id = {i};
                 UPDATE shadow_2026 SET kind = 'k{i}' WHERE id = {i};
                 DELETE FROM events_2026 WHERE id = {d}; DELETE FROM shadow_2026 WHERE id = {d};
                 INSERT INTO events_2026 (id, at, kind) VALUES ({n}, '2026-06-01 00:00:00+00', 'NEW');
                 INSERT INTO shadow_2026 VALUES ({n}, '2026-06-01 00:00:00+00', 'new');
                 COMMIT",
                d = 2000 + i,
                n = 100_000 + i
            );
            sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
            *progress.lock().unwrap() = i;
            tokio::task::yield_now().await;
        }
        c.close().await.unwrap();
    };

    // The runtime: from 12 it attaches while a writer's transaction on the parent stays open.
    let mut writer = db.connect().await;
    if version >= PgVersion(12) {
        exec(
            &mut writer,
            "BEGIN; INSERT INTO events (id, at, kind) VALUES (900001, '2025-06-01 00:00:00+00', 'open')",
        )
        .await;
    }
    let migrate = async {
        let ran = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            Migrator::new(set).unwrap().run(&opts),
        )
        .await
        .expect("the attach waited for the writer");
        println!(
            "on {version}: the writer had committed {} of 300 changes when the migration ended",
            *written.lock().unwrap()
        );
        ran
    };
    let (ran, ()) = tokio::join!(migrate, app);
    ran.unwrap_or_else(|e| panic!("on {version}: {e}"));
    if version >= PgVersion(12) {
        exec(&mut writer, "COMMIT").await;
    }
    writer.close().await.unwrap();
    // Every row, read through the parent, holds what the application meant; each update audited.
    let differ: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM (
           (SELECT id, at, kind FROM events WHERE at >= '2026-01-01 00:00:00+00' EXCEPT SELECT * FROM shadow_2026)
           UNION ALL
           (SELECT * FROM shadow_2026 EXCEPT SELECT id, at, kind FROM events WHERE at >= '2026-01-01 00:00:00+00')) d",
    )
    .await;
    assert_eq!(
        differ, 0,
        "on {version}: rows differ from what the application wrote"
    );
    assert_eq!(
        scalar::<i64>(&mut conn, "SELECT count(*) FROM events_audit").await,
        300
    );
    let through_parent: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM events WHERE at >= '2026-01-01 00:00:00+00'",
    )
    .await;
    assert_eq!(through_parent, 5000);
    let helpers: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_constraint WHERE conname = '_zd_partition_bound'",
    )
    .await;
    assert_eq!(helpers, 0, "a helper check was left behind");
    let bound: String = scalar(
        &mut conn,
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = 'events_2026'::regclass",
    )
    .await;
    assert!(bound.starts_with("FOR VALUES FROM ('2026-01-01"), "{bound}");
    if version >= PgVersion(12) {
        // The partition's indexes are the two the plan built, adopted by the parent's (no copy
        // built by the attach).
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
              WHERE x.indrelid = 'events_2026'::regclass ORDER BY 1",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(indexes, ["events_2026_kind_idx", "events_2026_pkey"]);
        // The list partition: attached with its rows, through its CHECK.
        let kinds: i64 = scalar(
            &mut conn,
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'kinds_ab'::regclass",
        )
        .await;
        assert_eq!(kinds, 1);
    }
    conn.close().await.unwrap();
}

/// How many migrations of `set` run before its attach (the last one).
fn attach_index(set: &[&'static Migration]) -> usize {
    set.len() - 1
}

#[tokio::test]
async fn a_concurrent_detach_interrupted_midway_is_finished_by_the_next_run_from_14() {
    let db = common::fresh_database("ver_detach").await;
    let version = server(&db).await;
    let set: Vec<&'static Migration> = partitions_14::MIGRATIONS.to_vec();
    if version < PgVersion(14) {
        assert_refused(&db, &set, &[(2, 14)]).await;
        return;
    }
    let step = &set[1].expand.steps[0];
    assert_eq!(step.transaction, zerodown::plan::Transaction::Alone);
    assert_eq!(step.tables, [r#""events_2025""#]);
    let opts = db.inner.connect_options();
    Migrator::new(&set[..1]).unwrap().run(&opts).await.unwrap();
    let mut conn = db.connect().await;
    exec(
        &mut conn,
        "INSERT INTO events (id, at, kind) SELECT g, '2025-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', 'k' FROM generate_series(1, 3000) g",
    )
    .await;

    // A reader of the parent keeps its transaction open: the detach's second transaction waits for
    // it, times out, and leaves the partition pending (queries on the parent no longer see it).
    let mut reader = db.connect().await;
    exec(&mut reader, "BEGIN; SELECT count(*) FROM events").await;
    let err = Migrator::new(&set).unwrap().run(&opts).await.unwrap_err();
    let pending: bool = scalar(
        &mut conn,
        "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'events_2025'::regclass",
    )
    .await;
    assert!(pending, "not pending after: {err}");
    // The error says so, and does not suggest editing the migration (a step committed something).
    let message = err.to_string();
    assert!(message.contains("is pending detach from"), "{message}");
    assert!(message.contains("FINALIZE"), "{message}");
    assert!(!message.contains("edit it"), "{message}");
    // Run again while the reader is still there: the finalize waits for it in vain, and the error
    // still says the detach is half done (not that nothing of the step ran).
    let again = Migrator::new(&set)
        .unwrap()
        .run(&opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(again.contains("is pending detach from"), "{again}");
    assert!(!again.contains("nothing of this step ran"), "{again}");
    // While pending, the application's writes to the parent go on (its SHARE UPDATE EXCLUSIVE blocks
    // none), and the rows stay in the partition.
    exec(&mut reader, "COMMIT").await;
    reader.close().await.unwrap();

    // The next run finishes the detach (`FINALIZE`; running the statement again would fail with
    // "already pending detach").
    Migrator::new(&set)
        .unwrap()
        .run(&opts)
        .await
        .unwrap_or_else(|e| panic!("on {version}: {e}"));
    let attached: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'events_2025'::regclass",
    )
    .await;
    assert_eq!(attached, 0);
    assert_eq!(
        scalar::<i64>(&mut conn, "SELECT count(*) FROM events_2025").await,
        3000
    );
    assert_eq!(
        scalar::<i64>(&mut conn, "SELECT count(*) FROM events").await,
        0
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn an_attach_stopped_part_way_is_rolled_back_with_what_it_built() {
    let db = common::fresh_database("ver_attach_undo").await;
    let version = server(&db).await;
    let set: Vec<&'static Migration> = partitions_undo::MIGRATIONS.to_vec();
    if version < PgVersion(12) {
        assert_refused(&db, &set, &[(1, 12), (2, 12)]).await;
        return;
    }
    let opts = db.inner.connect_options();
    Migrator::new(&set[..1]).unwrap().run(&opts).await.unwrap();
    let mut conn = db.connect().await;
    exec(
        &mut conn,
        "INSERT INTO events_1 SELECT g, g % 100, 'k' FROM generate_series(1, 1000) g",
    )
    .await;
    let err = Migrator::new(&set).unwrap().run(&opts).await.unwrap_err();
    assert!(err.to_string().contains("division by zero"), "{err}");
    let attached: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'events_1'::regclass",
    )
    .await;
    assert_eq!(attached, 1, "the attach had not committed: {err}");

    Migrator::new(&set)
        .unwrap()
        .rollback(&opts, 2)
        .await
        .unwrap_or_else(|e| panic!("on {version}: {e}"));
    let attached: i64 = scalar(
        &mut conn,
        "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'events_1'::regclass",
    )
    .await;
    assert_eq!(attached, 0);
    // The indexes, the key and the bound CHECK the recipe added are gone; the rows stay.
    let left: i64 = scalar(
        &mut conn,
        "SELECT (SELECT count(*) FROM pg_index WHERE indrelid = 'events_1'::regclass)
              + (SELECT count(*) FROM pg_constraint WHERE conrelid = 'events_1'::regclass AND contype <> 'n')",
    )
    .await;
    assert_eq!(left, 0);
    assert_eq!(
        scalar::<i64>(&mut conn, "SELECT count(*) FROM events_1").await,
        1000
    );
    conn.close().await.unwrap();
}
