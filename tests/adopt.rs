//! Adopting zerodown on a database with a schema and a sqlx history: the baseline migration written
//! from the live catalog (`zerodown::adopt`) is the committed `tests/corpus/adopted.rs`, which this
//! file also compiles. Run on an empty database it builds the same schema (compared through the
//! set's `SCHEMA`, both ways); on the original database it is recorded as applied without running,
//! and zerodown migrations continue from it.
//!
//! When the writer changes on purpose: `ZERODOWN_OVERWRITE=1 cargo test --test adopt`, then read the
//! diff of `tests/corpus/adopted.rs`.

mod common;
mod version_gate;

use sqlx::Connection;
use zerodown::{Migration, Migrator};

mod adopted {
    include!("corpus/adopted.rs");
}

zerodown::migration! {
    /// The first migration written with zerodown after adopting it.
    pub mod m0002_orders_note {
        alter table orders add column note text;
        create index concurrently orders_note_idx on orders (note);
    }
}

/// A schema as years of hand-written (sqlx) migrations leave it.
const HAND_WRITTEN: &str = r#"
CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text NOT NULL, installed_on timestamptz NOT NULL DEFAULT now(), success boolean NOT NULL, checksum bytea NOT NULL, execution_time bigint NOT NULL);
INSERT INTO _sqlx_migrations VALUES (20240101000000, 'init', now(), true, '\x00', 1);
CREATE TYPE order_state AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    email varchar(320) NOT NULL,
    name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_email_key UNIQUE (email),
    CONSTRAINT customers_name_not_blank CHECK (name <> '')
);
CREATE TABLE orders (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    state order_state NOT NULL DEFAULT 'new',
    total numeric(12, 2) NOT NULL DEFAULT 0,
    tags text[] NOT NULL DEFAULT '{}',
    placed_at timestamp(3) without time zone
);
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
CREATE TABLE order_lines (
    order_id integer NOT NULL,
    line smallint NOT NULL,
    sku text NOT NULL,
    qty integer NOT NULL DEFAULT 1 CHECK (qty > 0),
    PRIMARY KEY (order_id, line),
    FOREIGN KEY (order_id) REFERENCES orders (id)
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE UNIQUE INDEX customers_lower_email_idx ON customers (lower(email::text));
CREATE INDEX order_lines_sku_idx ON order_lines (sku) WHERE qty > 1;
CREATE VIEW paid_orders AS SELECT id, total FROM orders WHERE state = 'paid';
CREATE FUNCTION touch_created() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.created_at := coalesce(NEW.created_at, now());
    RETURN NEW;
END
$fn$;
CREATE TRIGGER customers_touch BEFORE INSERT ON customers FOR EACH ROW EXECUTE PROCEDURE touch_created();
"#;

/// Partitioned tables, from PostgreSQL 12 (the baseline's target): keys, a check and a foreign key
/// on the parent (cloned onto each partition by PostgreSQL), an index on the parent and one of a
/// partition's own, range (with a default partition), hash and list partitioning.
const PARTITIONED: &str = r#"
CREATE TABLE events (
    id bigint NOT NULL,
    day date NOT NULL,
    kind text NOT NULL CHECK (kind <> ''),
    customer_id bigint REFERENCES customers (id),
    PRIMARY KEY (id, day)
) PARTITION BY RANGE (day);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_rest PARTITION OF events DEFAULT;
CREATE INDEX events_kind_idx ON events (kind);
CREATE TABLE shards (id bigint NOT NULL, v text) PARTITION BY HASH (id);
CREATE TABLE shards_0 PARTITION OF shards FOR VALUES WITH (modulus 2, remainder 0);
CREATE TABLE shards_1 PARTITION OF shards FOR VALUES WITH (modulus 2, remainder 1);
CREATE TABLE regions (code text NOT NULL, name text) PARTITION BY LIST (code);
CREATE TABLE regions_eu PARTITION OF regions FOR VALUES IN ('de', 'fr');
CREATE INDEX regions_eu_name_idx ON regions_eu (name);
"#;

/// Whether the server is at least PostgreSQL 12, where [`PARTITIONED`] is built.
async fn partitions_supported(conn: &mut sqlx::PgConnection) -> bool {
    let num: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
        .fetch_one(conn)
        .await
        .unwrap();
    num.parse::<u32>().unwrap() >= 120_000
}

async fn hand_written_database(label: &str) -> common::Db {
    let db = common::fresh_database(label).await;
    hand_write(&db).await;
    db
}

async fn hand_write(db: &common::Db) {
    let mut conn = db.connect().await;
    sqlx::raw_sql(HAND_WRITTEN)
        .execute(&mut conn)
        .await
        .unwrap();
    if partitions_supported(&mut conn).await {
        sqlx::raw_sql(PARTITIONED).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
}

fn lines(differences: &[zerodown::SchemaDifference]) -> String {
    differences
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_baseline_written_from_the_database_is_the_committed_one() {
    let db = hand_written_database("adopt_write").await;
    let text = zerodown::adopt::baseline_migration(&db.inner.connect_options(), "m0001_baseline")
        .await
        .unwrap();
    let file = format!(
        "// Written by `tests/adopt.rs` (`zerodown::adopt::baseline_migration`) from the schema it builds\n\
         // by hand; regenerate with `ZERODOWN_OVERWRITE=1 cargo test --test adopt`.\n\n\
         zerodown::migrations! {{\n{text}}}\n"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/adopted.rs");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    // The database name is in the doc comment: compare without it.
    let name = db.inner.name().to_owned();
    let normalised = file.replace(&name, "adopted_db");
    let mut conn = db.connect().await;
    let partitioned = partitions_supported(&mut conn).await;
    conn.close().await.unwrap();
    if std::env::var_os("ZERODOWN_OVERWRITE").is_some() {
        assert!(
            partitioned,
            "write the baseline from PostgreSQL 12 or later"
        );
        std::fs::write(path, &normalised).unwrap();
    } else if !partitioned {
        // Before 12 the database has no partitioned tables, so its baseline is the committed one
        // without them (which targets 12 and cannot run there anyway).
        assert!(!normalised.contains("partition"), "{normalised}");
        assert!(committed.contains("attach partition"), "{committed}");
    } else {
        // The `raw` bodies are PostgreSQL's own deparse of views, functions and triggers, which
        // varies between versions: the DSL before them is compared, and how many there are.
        let dsl = |text: &str| -> (String, usize) {
            let mut parts = text.split("        raw(");
            (parts.next().unwrap_or_default().to_owned(), parts.count())
        };
        assert_eq!(
            dsl(&normalised),
            dsl(&committed),
            "the written baseline differs from tests/corpus/adopted.rs (ZERODOWN_OVERWRITE=1 to accept)"
        );
    }
}

#[tokio::test]
async fn the_baseline_on_an_empty_database_builds_the_same_schema() {
    let original = hand_written_database("adopt_original").await;
    // The committed baseline describes the hand-written database (history tables aside) ...
    let differences = adopted::SCHEMA
        .differences(&original.inner.connect_options())
        .await
        .unwrap();
    // sqlx's history table is not the application's schema. Before 12 the database lacks the
    // partitioned tables, and only them.
    let mut conn = original.connect().await;
    let partitioned = partitions_supported(&mut conn).await;
    conn.close().await.unwrap();
    let unexpected: Vec<_> = differences
        .iter()
        .filter(|d| {
            partitioned
                || !["table events", "table shards", "table regions"]
                    .iter()
                    .any(|t| d.to_string().starts_with(&format!("{t}:")))
        })
        .cloned()
        .collect();
    assert!(unexpected.is_empty(), "{}", lines(&unexpected));
    // ... and builds it on an empty one.
    let empty = common::fresh_database("adopt_empty").await;
    if version_gate::refused_as_too_new(&empty.inner.connect_options(), adopted::MIGRATIONS).await {
        return;
    }
    Migrator::new(adopted::MIGRATIONS)
        .unwrap()
        .run(&empty.inner.connect_options())
        .await
        .unwrap();
    let differences = adopted::SCHEMA
        .differences(&empty.inner.connect_options())
        .await
        .unwrap();
    assert!(differences.is_empty(), "{}", lines(&differences));
    // The view, function and trigger came along.
    let mut conn = empty.connect().await;
    let objects: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_views WHERE viewname = 'paid_orders'),
                (SELECT count(*) FROM pg_proc WHERE proname = 'touch_created'),
                (SELECT count(*) FROM pg_trigger WHERE tgname = 'customers_touch')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(objects, (1, 1, 1));
    conn.close().await.unwrap();
}

#[tokio::test]
async fn the_original_database_records_the_baseline_and_continues_with_zerodown() {
    let db = common::fresh_database("adopt_continue").await;
    let options = db.inner.connect_options();
    let all: Vec<&'static Migration> = adopted::MIGRATIONS
        .iter()
        .copied()
        .chain([&m0002_orders_note::MIGRATION])
        .collect();
    if version_gate::refused_as_too_new(&options, &all).await {
        return;
    }
    hand_write(&db).await;
    let migrator = Migrator::new(&all).unwrap();
    migrator.baseline(&options, 1).await.unwrap();
    let report = migrator.run(&options).await.unwrap();
    let applied: Vec<u64> = report.migrations.iter().map(|m| m.id.version).collect();
    assert_eq!(applied, [2]);
    let mut conn = db.connect().await;
    let (note, sqlx_rows): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'note'),
                (SELECT count(*) FROM _sqlx_migrations)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (note, sqlx_rows),
        (1, 1),
        "sqlx's history is left as it was"
    );
    conn.close().await.unwrap();
}
