//! The compile-time catalog against the server: a set of migrations covering the accepted forms is
//! run and completed on a fresh database, and the schema the macro replayed (`SCHEMA`) must equal the
//! live one, both ways (`Schema::differences`). A change made by hand afterwards is reported.
//!
//! `scripts/test-all-versions.sh --test catalog_fidelity 12 18` runs it on the boundary versions (the
//! set targets 12).

mod common;
mod version_gate;

use sqlx::Connection;
use zerodown::{Error, Migrator};

mod set {
    zerodown::migrations! {
        extern table legacy_events;

        /// Tables with identity and serial keys, foreign keys both ways, checks, uniques, an enum.
        pub mod m0001_base {
            create type order_state as enum ("new", "paid");
            create table users (
                id bigint generated always as identity primary key,
                email varchar(200) not null,
                nickname text,
                created_at timestamp default now(),
                constraint users_email_key unique (email)
            );
            create table orders (
                id serial primary key,
                user_id bigint not null references users (id),
                state order_state not null default "new",
                total numeric(10, 2) check (total >= 0),
                note text
            );
            create table order_lines (
                order_id int not null references orders (id) on delete cascade,
                line int not null,
                qty smallint not null default 1,
                sku text,
                discount int check (discount <= qty),
                primary key (order_id, line)
            );
            create index orders_user_idx on orders (user_id);
            create unique index users_lower_email_idx on users (lower(email));
            create index order_lines_sku_idx on order_lines (sku) include (qty) where sku is not null;
        }

        /// The online recipes on existing tables.
        pub mod m0002_online {
            alter table users add column last_seen timestamptz;
            alter table users add column token text not null default md5(random()::text);
            alter table users alter column nickname set not null;
            alter table orders add constraint orders_note_short check (length(note) < 500) not valid;
            alter table orders validate constraint orders_note_short;
            alter table orders add constraint orders_total_key unique (total, id);
            alter table order_lines add constraint order_lines_qty_positive check (qty > 0) not valid;
            alter type order_state add value "shipped" after "paid";
            alter table users alter column email type varchar(300) from varchar(200);
            create index concurrently users_last_seen_idx on users (last_seen desc nulls last);
            comment on table users is "people";
        }

        /// A table keyed by a unique index turned into its primary key.
        pub mod m0003_keyed_by_index {
            create table tags (name text not null, label text);
            alter table tags add column note text;
        }
        pub mod m0004_tags_key {
            create unique index concurrently tags_name_idx on tags (name);
            alter table tags add constraint tags_pkey primary key using index tags_name_idx;
        }

        /// Expand/contract: a rename, a type change, a dropped column, completed.
        pub mod m0005_rename {
            expand alter table users rename column nickname to display_name;
        }
        pub mod m0006_widen {
            expand alter table order_lines alter column qty type int from smallint;
        }
        pub mod m0007_drop_note {
            expand alter table tags drop column note;
        }
        pub mod m0008_after {
            drop index concurrently orders_user_idx;
            alter table legacy_events add column seen bool;
        }

        /// A partitioned table: one partition attached empty, one attached after it may hold rows.
        pub mod m0009_visits {
            create table visits (id bigint not null, day date not null, primary key (id, day)) partition by range (day);
            create table visits_2026 (id bigint not null, day date not null);
            alter table visits attach partition visits_2026 for values from ("2026-01-01") to ("2027-01-01");
            create table visits_2027 (id bigint not null, day date not null);
        }
        pub mod m0010_visits_2027 {
            alter table visits attach partition visits_2027 for values from ("2027-01-01") to ("2028-01-01");
        }
    }
}

mod drifted {
    zerodown::migrations! {
        pub mod m0001_accounts {
            create table accounts (id bigint primary key, email text, plan text);
            create table audit (id bigint primary key, what text);
        }
        /// Touches `accounts` only.
        pub mod m0002_accounts_note {
            alter table accounts add column note text;
            create index concurrently accounts_plan_idx on accounts (plan);
        }
    }
}

mod mid_change {
    zerodown::migrations! {
        pub mod m0001_users {
            create table users (id bigint primary key, nickname text);
        }
        pub mod m0002_rename {
            expand alter table users rename column nickname to display_name;
        }
        /// Another column of the same table, while the rename waits for `complete`.
        pub mod m0003_users_note {
            alter table users add column note text;
        }
    }
}

async fn assert_matches(db: &common::Db) {
    let differences = set::SCHEMA
        .differences(&db.inner.connect_options())
        .await
        .unwrap();
    let lines: Vec<String> = differences.iter().map(ToString::to_string).collect();
    assert!(
        lines.is_empty(),
        "the catalog differs from the database:\n{}\n\nthe catalog:\n{}",
        lines.join("\n"),
        set::SCHEMA
    );
}

#[tokio::test]
async fn the_compile_time_catalog_equals_the_live_schema_after_the_set() {
    let db = common::fresh_database("catalog_fidelity").await;
    let mut conn = db.connect().await;
    sqlx::raw_sql("CREATE TABLE legacy_events (id bigint primary key, payload jsonb)")
        .execute(&mut conn)
        .await
        .unwrap();
    if version_gate::refused_as_too_new(&db.inner.connect_options(), set::MIGRATIONS).await {
        return;
    }
    let migrator = Migrator::new(set::MIGRATIONS).unwrap();
    migrator
        .run_and_complete(&db.inner.connect_options())
        .await
        .unwrap();
    assert_matches(&db).await;

    // Changed by hand: each difference is reported, both ways, and nothing is changed.
    sqlx::raw_sql(
        "ALTER TABLE users ALTER COLUMN display_name DROP NOT NULL;
         ALTER TABLE orders ADD COLUMN coupon text;
         CREATE INDEX tags_label_idx ON tags (label);
         DROP INDEX users_last_seen_idx;
         CREATE TABLE scratch (id int);
         ALTER TABLE visits DETACH PARTITION visits_2027",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let lines: Vec<String> = set::SCHEMA
        .differences(&db.inner.connect_options())
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "column users.display_name: the migrations make it text not null, the database has text",
            "index users_last_seen_idx on users: the migrations make it (index (last_seen)), the database has none",
            "column orders.coupon: in the database (text), not made by the migrations",
            "index tags_label_idx on tags: in the database (index (label)), not made by the migrations",
            "partition public.visits_2027 of visits: the migrations make it (attached), the database has none",
            "table scratch: in the database (1 columns), not made by the migrations",
            "table visits_2027: in the database (2 columns), not made by the migrations",
        ],
        "{lines:#?}"
    );
    conn.close().await.unwrap();
}

#[test]
fn the_schema_prints_as_ddl() {
    let ddl = set::SCHEMA.to_string();
    for expected in [
        "CREATE TYPE \"order_state\" AS ENUM ('new', 'paid', 'shipped');",
        "\"id\" bigint GENERATED ALWAYS AS IDENTITY NOT NULL",
        "\"display_name\" text NOT NULL",
        "\"qty\" integer DEFAULT 1 NOT NULL",
        "\"id\" integer DEFAULT nextval('orders_id_seq'::regclass) NOT NULL",
        "CONSTRAINT \"orders_pkey\" PRIMARY KEY (\"id\")",
        "CONSTRAINT \"tags_pkey\" PRIMARY KEY (\"name\")",
        "CREATE INDEX \"order_lines_sku_idx\" ON \"order_lines\" USING btree (\"sku\") INCLUDE (\"qty\") WHERE \"sku\" IS NOT NULL;",
        "-- public.legacy_events: created outside the migrations (extern)",
        ") PARTITION BY RANGE (\"day\");",
        "CREATE TABLE \"visits_2026\" PARTITION OF \"visits\" FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');",
    ] {
        assert!(ddl.contains(expected), "{expected}\nnot in:\n{ddl}");
    }
}

#[tokio::test]
async fn a_table_changed_by_hand_stops_the_migration_that_changes_it_before_it_starts() {
    let db = common::fresh_database("catalog_changed_by_hand").await;
    let options = db.inner.connect_options();
    let all = drifted::MIGRATIONS;
    if version_gate::refused_as_too_new(&options, all).await {
        return;
    }
    Migrator::new(&all[..1])
        .unwrap()
        .run(&options)
        .await
        .unwrap();
    let m2 = all[1];
    assert_eq!(
        m2.expected_tables
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>(),
        ["accounts"]
    );
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "ALTER TABLE accounts ALTER COLUMN email TYPE varchar(50);
         CREATE INDEX accounts_by_hand_idx ON accounts (email);
         ALTER TABLE audit ADD COLUMN at timestamptz",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let err = Migrator::new(all).unwrap().run(&options).await.unwrap_err();
    let Error::SchemaMismatch {
        migration,
        differences,
    } = &err
    else {
        panic!("expected SchemaMismatch, got {err}")
    };
    assert_eq!(migration.version, 2);
    let lines: Vec<String> = differences.iter().map(ToString::to_string).collect();
    // `audit` changed too, but migration 2 does not touch it.
    assert_eq!(
        lines,
        [
            "column accounts.email: the migrations make it text, the database has character varying(50)",
            "index accounts_by_hand_idx on accounts: in the database (index (email)), not made by the migrations",
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("nothing of migration 2 `accounts_note` was run"),
        "{text}"
    );
    assert!(text.contains("`--no-schema-check`"), "{text}");
    // Nothing of migration 2 ran or was recorded.
    let note: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'note'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(note, 0);
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM zerodown_migrations WHERE version = 2")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(recorded, 0);

    // Intended: the check can be skipped.
    Migrator::new(all)
        .unwrap()
        .verify_schema(false)
        .run(&options)
        .await
        .unwrap();
    let note: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'note'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(note, 1);
    conn.close().await.unwrap();
}

/// The tables a migration expects are as after `complete` of the migrations before it: a table that
/// an expand left mid-change is not compared (it differs until `complete`), and after `complete` the
/// whole set matches.
#[tokio::test]
async fn a_table_mid_change_is_not_compared_until_complete() {
    let db = common::fresh_database("catalog_mid_change").await;
    let options = db.inner.connect_options();
    if version_gate::refused_as_too_new(&options, mid_change::MIGRATIONS).await {
        return;
    }
    let migrator = Migrator::new(mid_change::MIGRATIONS).unwrap();
    let report = migrator.run(&options).await.unwrap();
    assert_eq!(report.migrations.len(), 3, "{report}");
    migrator.complete(&options).await.unwrap();
    let differences = mid_change::SCHEMA.differences(&options).await.unwrap();
    assert!(differences.is_empty(), "{differences:?}");
}

/// A column change whose carry-over touches every kind of object the catalog models: a plain partial
/// index, a unique constraint, a check, `NOT NULL` and a default, and another table's foreign key
/// referencing the column (with an action).
mod carried {
    zerodown::migrations! {
        pub mod m0001_items {
            create table items (
                id bigint primary key,
                qty int not null default 0,
                label text,
                constraint items_qty_positive check (qty >= 0),
                constraint items_qty_key unique (qty)
            );
            create index items_qty_label_idx on items (qty, label) where label is not null;
            create table holds (
                id bigint primary key,
                item_qty int,
                constraint holds_item_qty_fkey foreign key (item_qty) references items (qty) on delete cascade
            );
            create index holds_item_qty_idx on holds (item_qty);
        }
        pub mod m0002_widen {
            expand alter table items alter column qty type bigint from int;
        }
        /// A rename of a column with a foreign key and an index.
        pub mod m0003_rename {
            expand alter table holds rename column item_qty to quantity;
        }
    }
}

/// Runs `sql` in one transaction.
async fn in_transaction(conn: &mut sqlx::PgConnection, sql: &[&str]) {
    let mut tx = conn.begin().await.unwrap();
    for s in sql {
        sqlx::raw_sql(s)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_plan_shows_the_sql_the_runtime_derives_for_a_column_change() {
    use zerodown::plan::{Action, StepKind, Transaction};
    let m = carried::MIGRATIONS[1];
    let shown = m.to_string();
    let rename = carried::MIGRATIONS[2].to_string();
    assert!(
        rename.contains(r#"ALTER TABLE "holds" ADD COLUMN "quantity" integer;"#),
        "{rename}"
    );
    for expected in [
        r#"CREATE INDEX CONCURRENTLY "_zd_items_qty_label_idx" ON "items" USING btree ("_zd_qty_new", "label") WHERE "label" IS NOT NULL;"#,
        r#"CREATE UNIQUE INDEX CONCURRENTLY "_zd_items_qty_key" ON "items" USING btree ("_zd_qty_new");"#,
        r#"ALTER TABLE "items" ADD CONSTRAINT "_zd_items_qty_positive" CHECK ("_zd_qty_new" >= 0) NOT VALID;"#,
        r#"ALTER TABLE "holds" ADD CONSTRAINT "_zd_holds_item_qty_fkey" FOREIGN KEY ("item_qty") REFERENCES "items"("_zd_qty_new") ON DELETE CASCADE NOT VALID;"#,
        r#"ALTER TABLE "items" ALTER COLUMN "qty" SET NOT NULL;"#,
        r#"ALTER TABLE "items" ADD CONSTRAINT "items_qty_key" UNIQUE USING INDEX "_zd_items_qty_key";"#,
    ] {
        assert!(shown.contains(expected), "{expected}\nnot in:\n{shown}");
    }
    assert!(
        shown.contains("`contract` on \"items\": the runtime derives its SQL from the live catalog and runs it only if it is this, as the schema catalog predicts it:"),
        "{shown}"
    );

    // The runtime's work, on one database.
    let by_runtime = common::fresh_database("carried_runtime").await;
    if version_gate::refused_as_too_new(&by_runtime.inner.connect_options(), carried::MIGRATIONS)
        .await
    {
        return;
    }
    let rows =
        "INSERT INTO items (id, qty, label) SELECT g, g, 'l' || g FROM generate_series(1, 50) g;
                INSERT INTO holds (id, item_qty) SELECT g, g FROM generate_series(1, 20) g";
    Migrator::new(&carried::MIGRATIONS[..1])
        .unwrap()
        .run(&by_runtime.inner.connect_options())
        .await
        .unwrap();
    by_runtime.exec(rows).await;
    Migrator::new(carried::MIGRATIONS)
        .unwrap()
        .run_and_complete(&by_runtime.inner.connect_options())
        .await
        .unwrap();

    // The plan's statements and previews run by hand, in step order, on another.
    let by_hand = common::fresh_database("carried_by_hand").await;
    Migrator::new(&carried::MIGRATIONS[..1])
        .unwrap()
        .run(&by_hand.inner.connect_options())
        .await
        .unwrap();
    by_hand.exec(rows).await;
    let mut conn = by_hand.connect().await;
    let steps = carried::MIGRATIONS[1..]
        .iter()
        .flat_map(|m| m.expand.steps.iter().chain(m.contract.steps));
    for step in steps {
        let sql: Vec<String> = match step.kind {
            StepKind::Backfill(b) => vec![format!("UPDATE {} SET {}", b.table, b.set_sql)],
            StepKind::Phased(p) if p.action == Action::Verify => Vec::new(),
            // A prepare step derives its SQL (a rename's new column) before its statements.
            StepKind::Phased(p) if p.action == Action::Prepare => p
                .preview
                .iter()
                .chain(step.statements)
                .map(|s| (*s).to_owned())
                .collect(),
            StepKind::Phased(p) => step
                .statements
                .iter()
                .chain(p.preview)
                .map(|s| (*s).to_owned())
                .collect(),
            _ => step.statements.iter().map(|s| (*s).to_owned()).collect(),
        };
        let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
        if step.transaction == Transaction::Alone {
            for s in sql {
                sqlx::raw_sql(s)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        } else {
            in_transaction(&mut conn, &sql).await;
        }
    }
    conn.close().await.unwrap();
    assert_eq!(by_hand.catalog().await, by_runtime.catalog().await);
}

#[tokio::test]
async fn a_foreign_key_added_by_hand_elsewhere_stops_the_column_change_before_it_starts() {
    let db = common::fresh_database("carried_drifted").await;
    let options = db.inner.connect_options();
    if version_gate::refused_as_too_new(&options, carried::MIGRATIONS).await {
        return;
    }
    // The column change carries the foreign keys referencing `items`: their tables are verified.
    let names: Vec<&str> = carried::MIGRATIONS[1]
        .expected_tables
        .iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["items", "holds"]);
    Migrator::new(&carried::MIGRATIONS[..1])
        .unwrap()
        .run(&options)
        .await
        .unwrap();
    db.exec("ALTER TABLE holds ADD COLUMN spare_qty int REFERENCES items (qty)")
        .await;
    let err = Migrator::new(carried::MIGRATIONS)
        .unwrap()
        .run(&options)
        .await
        .unwrap_err();
    let Error::SchemaMismatch { differences, .. } = &err else {
        panic!("expected SchemaMismatch, got {err}")
    };
    let lines: Vec<String> = differences.iter().map(ToString::to_string).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("column holds.spare_qty")),
        "{lines:#?}"
    );
    // Nothing of the change ran.
    let added: i64 = db
        .scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = '_zd_qty_new'")
        .await;
    assert_eq!(added, 0);
}

/// An identity key referenced by a foreign key PostgreSQL names, with an index on it: the plan
/// shows the identity and the unnamed key as comments (only the live database knows the sequence's
/// position and the key's name), and the runtime runs only what the plan shows.
mod keyed {
    zerodown::migrations! {
        pub mod m0001_orders {
            create table orders (
                id int generated always as identity primary key,
                placed_at timestamptz not null default now(),
                note text
            );
            create index orders_id_note_idx on orders (id, note);
            comment on column orders.id is "the order's number";
            create table order_items (
                id bigint generated always as identity primary key,
                order_id int not null references orders (id) on delete cascade,
                qty int not null
            );
        }
        pub mod m0002_widen {
            expand alter table orders alter column id type bigint from int;
        }
    }
}

/// A fresh database with the first migration of `set` applied and `rows` inserted; `None` on a
/// server older than the set's target (after checking that it refuses the set).
async fn with_first_migration(
    label: &str,
    set: &[&'static zerodown::Migration],
    rows: &str,
) -> Option<common::Db> {
    let db = common::fresh_database(label).await;
    let options = db.inner.connect_options();
    if version_gate::refused_as_too_new(&options, set).await {
        return None;
    }
    Migrator::new(&set[..1])
        .unwrap()
        .run(&options)
        .await
        .unwrap();
    db.exec(rows).await;
    Some(db)
}

/// The widened key's catalog after `complete`, for comparing runs.
async fn key_catalog(db: &common::Db) -> String {
    db.scalar(
        "SELECT string_agg(x, E'\n' ORDER BY x) FROM (
            SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated AS x
              FROM pg_constraint WHERE conrelid IN ('orders'::regclass, 'order_items'::regclass)
            UNION ALL SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'orders'::regclass
            UNION ALL SELECT attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attidentity::text
              FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0 AND NOT attisdropped
        ) s",
    )
    .await
}

#[tokio::test]
async fn the_runtime_runs_the_identity_and_unnamed_keys_the_plan_stands_in_for() {
    let shown = keyed::MIGRATIONS[1].to_string();
    assert!(
        shown.contains("-- then the identity is re-created"),
        "{shown}"
    );
    assert!(
        shown.contains("-- and the same for the constraints on it PostgreSQL named"),
        "{shown}"
    );
    // The column's comment (not in the catalog) and the verify step, which runs what it reads.
    for expected in [
        "-- and the column's comment, if it has one, is copied to the new column",
        "`verify` on \"orders\": what the runtime runs depends on what it reads:",
        r#"SELECT count(*) FROM "orders" WHERE "_zd_id_new" IS DISTINCT FROM CAST(("id") AS bigint);"#,
        r#"UPDATE "orders" SET "_zd_id_new" = CAST(("id") AS bigint) WHERE "_zd_id_new" IS DISTINCT FROM CAST(("id") AS bigint);"#,
    ] {
        assert!(shown.contains(expected), "{expected}\nnot in:\n{shown}");
    }
    let Some(db) = with_first_migration(
        "keyed_runtime",
        keyed::MIGRATIONS,
        "INSERT INTO orders (note) SELECT 'o' || g FROM generate_series(1, 30) g;
         INSERT INTO order_items (order_id, qty) SELECT 1 + g % 30, 1 FROM generate_series(1, 60) g",
    )
    .await
    else {
        return;
    };
    let options = db.inner.connect_options();
    Migrator::new(keyed::MIGRATIONS)
        .unwrap()
        .run_and_complete(&options)
        .await
        .unwrap();
    let catalog = key_catalog(&db).await;
    assert!(catalog.contains("id bigint a"), "{catalog}");
    assert!(
        catalog.contains("order_items order_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE true"),
        "{catalog}"
    );
    let next: i64 = db
        .scalar("INSERT INTO orders (note) VALUES ('next') RETURNING id")
        .await;
    assert_eq!(next, 31);
    let comment: String = db
        .scalar("SELECT col_description('orders'::regclass, attnum) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'id'")
        .await;
    assert_eq!(comment, "the order's number");
    let differences = keyed::SCHEMA.differences(&options).await.unwrap();
    assert!(differences.is_empty(), "{differences:?}");
}

/// Between `run` and `complete` an index on the old column is dropped by hand: `complete` would
/// have to run statements the plan does not show (dropping the orphaned copy) and skip one it shows
/// (renaming it), so it stops before it runs, naming both, and changes nothing; with the schema
/// check off it runs what the database needs.
#[tokio::test]
async fn complete_stops_when_the_database_needs_other_statements_than_the_plan_shows() {
    let db = common::fresh_database("keyed_drifted").await;
    let options = db.inner.connect_options();
    if version_gate::refused_as_too_new(&options, keyed::MIGRATIONS).await {
        return;
    }
    let migrator = Migrator::new(keyed::MIGRATIONS).unwrap();
    migrator.run(&options).await.unwrap();
    db.exec("DROP INDEX orders_id_note_idx").await;
    let before = key_catalog(&db).await;
    let err = migrator.complete(&options).await.unwrap_err();
    let text = err.to_string();
    for expected in [
        "the database needs other statements for this step than the plan shows",
        r#"the database needs `DROP INDEX public._zd_orders_id_note_idx` which the plan does not show"#,
        r#"the plan shows `ALTER INDEX public._zd_orders_id_note_idx RENAME TO orders_id_note_idx` which the database does not need"#,
        "nothing of this step ran",
        "--no-schema-check",
    ] {
        assert!(text.contains(expected), "{expected}\nnot in:\n{text}");
    }
    assert_eq!(
        key_catalog(&db).await,
        before,
        "the refused complete changed the catalog"
    );
    Migrator::new(keyed::MIGRATIONS)
        .unwrap()
        .verify_schema(false)
        .complete(&options)
        .await
        .unwrap();
    let after = key_catalog(&db).await;
    assert!(after.contains("id bigint a"), "{after}");
    assert!(!after.contains("_zd_"), "{after}");
}

/// Column changes whose statements depend on what PostgreSQL chose or stores: keys, checks and
/// foreign keys declared without a name (PostgreSQL names them), a `serial` key (its sequence), a
/// table in a schema of its own (made by raw SQL). The runtime's statements match the plan's (the
/// unnamed ones through its placeholder), so nothing is refused, and the schema after `complete`
/// is the catalog's.
mod unnamed {
    zerodown::migrations! {
        pub mod m0001_tables {
            create table parts (
                id bigint primary key,
                code int not null unique,
                qty int check (qty > 0),
                bin int,
                unique (bin, qty)
            );
            create index parts_qty_idx on parts (qty) where qty > 10;
            create table uses (id bigint primary key, part_code int references parts (code));
            create table tickets (id serial primary key, note text default "none");
            raw(reason = "a schema of its own") "create schema stock";
            create table stock.bins (
                id bigint primary key,
                size int not null,
                constraint bins_size_positive check (size > 0)
            );
            create index bins_size_idx on stock.bins (size);
        }
        pub mod m0002_code {
            expand alter table parts alter column code type bigint from int;
        }
        pub mod m0003_qty {
            expand alter table parts alter column qty type bigint from int;
        }
        /// A serial key: its sequence moves to the new column.
        pub mod m0004_tickets {
            expand alter table tickets alter column id type bigint from int;
        }
        /// A table outside `public`.
        pub mod m0005_bins {
            expand alter table stock.bins alter column size type bigint from int;
        }
    }
}

#[tokio::test]
async fn column_changes_on_what_postgresql_named_run_as_the_plan_shows() {
    let shown = unnamed::MIGRATIONS[1].to_string();
    for expected in [
        r#"CREATE UNIQUE INDEX CONCURRENTLY "_zd_parts_code_key" ON "parts" USING btree ("_zd_code_new");"#,
        "-- and the same for the constraints on it PostgreSQL named",
    ] {
        assert!(shown.contains(expected), "{expected}\nnot in:\n{shown}");
    }
    // The schema's table is known to the catalog after the raw `create schema`.
    let bins = unnamed::MIGRATIONS[4].to_string();
    assert!(
        bins.contains(r#"ALTER INDEX "stock"."_zd_bins_size_idx" RENAME TO "bins_size_idx";"#),
        "{bins}"
    );
    let Some(db) = with_first_migration(
        "unnamed_carried",
        unnamed::MIGRATIONS,
        "INSERT INTO parts SELECT g, g, g % 50 + 1, g FROM generate_series(1, 40) g;
         INSERT INTO uses SELECT g, g FROM generate_series(1, 20) g;
         INSERT INTO tickets (note) SELECT 'n' || g FROM generate_series(1, 5) g;
         INSERT INTO stock.bins SELECT g, g FROM generate_series(1, 5) g",
    )
    .await
    else {
        return;
    };
    let options = db.inner.connect_options();
    Migrator::new(unnamed::MIGRATIONS)
        .unwrap()
        .run_and_complete(&options)
        .await
        .unwrap();
    let differences = unnamed::SCHEMA.differences(&options).await.unwrap();
    assert!(differences.is_empty(), "{differences:?}");
    let leftovers: i64 = db
        .scalar(
            "SELECT (SELECT count(*) FROM pg_constraint WHERE conname LIKE '\\_zd\\_%')
                  + (SELECT count(*) FROM pg_class WHERE relname LIKE '\\_zd\\_%')",
        )
        .await;
    assert_eq!(leftovers, 0);
}
