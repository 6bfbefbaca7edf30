//! Expand/contract operations across deploys, against a real PostgreSQL: a type change and a column
//! rename under concurrent writes from the old and the new application version, whose contract must
//! leave the catalog the in-place statement would have left; rename table, drop column and drop table
//! phases; rollback of an expand; refusals (a later migration touching an object mid-change, a view
//! on the column); a contract step committed late by a runner that lost its lock. Every run samples
//! the locks zerodown's sessions take and checks them against the steps' declarations, and the
//! tables' `relfilenode` shows no rewrite.

mod phased_support;
mod version_gate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use phased_support::{fresh_database, init_tracing, Db, LockSampler, Writers};
use zerodown::{Error, Migration, MigrationState, Migrator, StepErrorKind};

zerodown::migration! {
    /// `items.n` (the primary key, with a sequence default, a check, two more indexes and a comment)
    /// becomes `bigint`.
    pub mod m0001_items_n_bigint {
        set backfill_batch_size = 2_000;
        set backfill_pause = 2ms;
        expand alter table items alter column n type bigint from integer using abs(n)::bigint;
    }
}

const ITEMS: &str = "
    CREATE SEQUENCE items_n_seq AS integer;
    CREATE TABLE items (
        n integer NOT NULL DEFAULT nextval('items_n_seq') CONSTRAINT items_n_check CHECK (n >= 0),
        payload text NOT NULL DEFAULT '',
        touched integer NOT NULL DEFAULT 0,
        CONSTRAINT items_pkey PRIMARY KEY (n)
    );
    ALTER SEQUENCE items_n_seq OWNED BY items.n;
    CREATE INDEX items_payload_n_idx ON items (payload, n) WHERE n > 10;
    CREATE INDEX items_n_mod_idx ON items ((n % 7));
    COMMENT ON COLUMN items.n IS 'the item''s number';";

/// Old-application writers on `items`: inserts (the key from the sequence), updates of other
/// columns, and updates of the key itself.
fn item_writers(pool: &sqlx::PgPool, writers: &mut Writers) {
    for w in 0..2u64 {
        let pool = pool.clone();
        writers.spawn(move |i| {
            let pool = pool.clone();
            async move {
                sqlx::query("INSERT INTO items (payload) VALUES ($1)")
                    .bind(format!("w{w}-{i}"))
                    .execute(&pool)
                    .await
                    .map(drop)
                    .map_err(|e| format!("insert: {e}"))
            }
        });
    }
    let pool2 = pool.clone();
    writers.spawn(move |i| {
        let pool = pool2.clone();
        async move {
            let n = (i * 7919 % 20_000 + 1) as i32;
            sqlx::query(
                "UPDATE items SET payload = payload || 'u', touched = touched + 1 WHERE n = $1",
            )
            .bind(n)
            .execute(&pool)
            .await
            .map(drop)
            .map_err(|e| format!("update: {e}"))
        }
    });
    let pool3 = pool.clone();
    writers.spawn(move |i| {
        let pool = pool3.clone();
        async move {
            // Moves a row's key out of the way of the sequence: the trigger must follow.
            let n = (i * 104_729 % 20_000 + 1) as i32;
            sqlx::query("UPDATE items SET n = n + 1000000 WHERE n = $1")
                .bind(n)
                .execute(&pool)
                .await
                .map(drop)
                .map_err(|e| format!("update key: {e}"))
        }
    });
}

#[tokio::test]
async fn type_change_under_concurrent_writes_ends_like_the_in_place_change() {
    init_tracing();
    let m: &'static Migration = &m0001_items_n_bigint::MIGRATION;
    let db = fresh_database("type_change").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(ITEMS).await;
    db.exec("INSERT INTO items (payload) SELECT 'p' || g FROM generate_series(1, 20000) g; ANALYZE items").await;
    let node = db.relfilenode("items").await;

    let pool = db.pool(6).await;
    let mut writers = Writers::new();
    item_writers(&pool, &mut writers);
    writers.wait_for(50).await;

    let sampler = LockSampler::start(&db, "items").await;
    let migrator = Migrator::new(&[m]).unwrap();
    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(report.migrations.len(), 1, "{report}");
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(
        status.migrations[0].state,
        MigrationState::Expanded,
        "{status}"
    );
    assert_eq!(
        status.migrations[0].mid_change,
        ["public.items.n"],
        "{status}"
    );
    assert_eq!(status.awaiting_complete().count(), 1);

    // Between expand and complete the old version keeps writing `n`; the new column follows.
    writers.wait_for(300).await;
    let errors = writers.stop().await;
    assert!(errors.is_empty(), "application errors: {errors:?}");
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM items WHERE _zd_n_new IS DISTINCT FROM abs(n)::bigint"
        )
        .await,
        0,
        "rows whose new column does not follow the old one"
    );
    assert!(
        db.scalar::<i64>("SELECT count(*) FROM items WHERE n > 1000000")
            .await
            > 0,
        "key updates happened"
    );
    let fingerprint = "SELECT count(*)::text || ':' || md5(string_agg(n::text || '/' || payload || '/' || touched, ',' ORDER BY n)) FROM items";
    let before: String = db.scalar(fingerprint).await;

    let report = migrator.complete(&db.options).await.unwrap();
    assert_eq!(report.migrations.len(), 1, "{report}");
    let seen = sampler.finish_and_check(&[m]).await;
    // The backfill runs for about a second: the sampler sees it take exactly what it declares.
    assert_eq!(
        seen.get(&(1, "expand".to_owned(), 1)),
        Some(&zerodown::LockLevel::RowExclusive),
        "{seen:?}"
    );

    // Every row's value is right, no row lost, the table never rewritten.
    assert_eq!(db.scalar::<String>(fingerprint).await, before);
    assert_eq!(
        db.relfilenode("items").await,
        node,
        "the table was rewritten"
    );
    assert_eq!(
        migrator.status(&db.options).await.unwrap().migrations[0].state,
        MigrationState::Completed
    );
    // The sequence still feeds the column.
    db.exec("INSERT INTO items (payload) VALUES ('after')")
        .await;

    // The catalog equals the one the in-place statement leaves.
    let scratch = fresh_database("type_change_scratch").await;
    scratch.exec(ITEMS).await;
    scratch
        .exec("ALTER TABLE items ALTER COLUMN n TYPE bigint USING abs(n)::bigint")
        .await;
    assert_eq!(db.catalog().await, scratch.catalog().await);
}

zerodown::migration! {
    /// `people.email` is renamed `login`.
    pub mod m0001_people_login {
        set backfill_batch_size = 1_000;
        expand alter table people rename column email to login;
    }
}

const PEOPLE: &str = "
    CREATE TABLE people (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        email text NOT NULL DEFAULT '' CONSTRAINT people_email_length CHECK (length(email) < 200),
        name text
    );
    CREATE UNIQUE INDEX people_email_key ON people (email) WHERE email <> '';
    CREATE INDEX people_lower_email_idx ON people (lower(email));
    COMMENT ON COLUMN people.email IS 'login';";

/// Writers of one application version: each inserts rows through `column` and updates its own rows,
/// recording the last value it wrote per id.
fn people_writers(
    pool: &sqlx::PgPool,
    writers: &mut Writers,
    column: &'static str,
    tag: &'static str,
    expected: &Arc<Mutex<HashMap<i64, String>>>,
) {
    for w in 0..2u64 {
        let (pool, expected) = (pool.clone(), expected.clone());
        writers.spawn(move |i| {
            let (pool, expected) = (pool.clone(), expected.clone());
            async move {
                let value = format!("{tag}{w}-{i}@example.com");
                if i % 3 == 0 {
                    let id: i64 = sqlx::query_scalar(&format!(
                        "INSERT INTO people ({column}, name) VALUES ($1, 'x') RETURNING id"
                    ))
                    .bind(&value)
                    .fetch_one(&pool)
                    .await
                    .map_err(|e| format!("{tag} insert: {e}"))?;
                    expected.lock().unwrap().insert(id, value);
                } else {
                    // One of this writer's own rows, so the last value written is known.
                    let mine: Vec<i64> = {
                        let e = expected.lock().unwrap();
                        let prefix = format!("{tag}{w}-");
                        let mut ids: Vec<i64> = e
                            .iter()
                            .filter(|(_, v)| v.starts_with(&prefix))
                            .map(|(k, _)| *k)
                            .collect();
                        ids.sort();
                        ids
                    };
                    let Some(&id) = mine.get(i as usize % mine.len().max(1)) else {
                        return Ok(());
                    };
                    sqlx::query(&format!("UPDATE people SET {column} = $1 WHERE id = $2"))
                        .bind(&value)
                        .bind(id)
                        .execute(&pool)
                        .await
                        .map_err(|e| format!("{tag} update: {e}"))?;
                    expected.lock().unwrap().insert(id, value);
                }
                Ok(())
            }
        });
    }
}

#[tokio::test]
async fn rename_column_under_old_and_new_writers_ends_like_the_in_place_rename() {
    init_tracing();
    let m: &'static Migration = &m0001_people_login::MIGRATION;
    let db = fresh_database("rename_column").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(PEOPLE).await;
    db.exec("INSERT INTO people (email, name) SELECT 'user' || g || '@example.com', 'n' || g FROM generate_series(1, 10000) g; ANALYZE people").await;
    let node = db.relfilenode("people").await;
    let expected: Arc<Mutex<HashMap<i64, String>>> = Arc::new(Mutex::new(HashMap::new()));

    let pool = db.pool(6).await;
    let mut old = Writers::new();
    people_writers(&pool, &mut old, "email", "old", &expected);
    old.wait_for(30).await;

    let sampler = LockSampler::start(&db, "people").await;
    let migrator = Migrator::new(&[m]).unwrap();
    migrator.run(&db.options).await.unwrap();

    // The new version is deployed next to the old one: both write, each its own column.
    let mut new = Writers::new();
    people_writers(&pool, &mut new, "login", "new", &expected);
    new.wait_for(300).await;
    let mut errors = old.stop().await;
    errors.extend(new.stop().await);
    assert!(errors.is_empty(), "application errors: {errors:?}");

    let check_values = |column: &'static str| {
        let expected = expected.clone();
        let db = &db;
        async move {
            let rows: Vec<(i64, String)> =
                sqlx::query_as(&format!("SELECT id, {column} FROM people"))
                    .fetch_all(&mut db.connect().await)
                    .await
                    .unwrap();
            let rows: HashMap<i64, String> = rows.into_iter().collect();
            let expected = expected.lock().unwrap();
            assert!(!expected.is_empty());
            for (id, value) in expected.iter() {
                assert_eq!(rows.get(id), Some(value), "{column} of row {id}");
            }
        }
    };
    // Before `complete`, old-style and new-style writes are both visible in both columns.
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM people WHERE email IS DISTINCT FROM login")
            .await,
        0
    );
    check_values("email").await;
    check_values("login").await;
    assert!(expected
        .lock()
        .unwrap()
        .values()
        .any(|v| v.starts_with("new")));
    assert!(expected
        .lock()
        .unwrap()
        .values()
        .any(|v| v.starts_with("old")));

    migrator.complete(&db.options).await.unwrap();
    sampler.finish_and_check(&[m]).await;
    check_values("login").await;
    assert_eq!(
        db.relfilenode("people").await,
        node,
        "the table was rewritten"
    );

    let scratch = fresh_database("rename_column_scratch").await;
    scratch.exec(PEOPLE).await;
    scratch
        .exec("ALTER TABLE people RENAME COLUMN email TO login")
        .await;
    assert_eq!(db.catalog().await, scratch.catalog().await);
}

zerodown::migration! {
    /// Renames `orders`, drops `customers.legacy` and the `sessions` table, across a deploy.
    pub mod m0001_tables {
        expand alter table orders rename to purchases;
        expand alter table customers drop column legacy;
        expand drop table sessions;
    }
}

#[tokio::test]
async fn rename_table_drop_column_and_drop_table_keep_old_code_working_until_complete() {
    init_tracing();
    let m: &'static Migration = &m0001_tables::MIGRATION;
    let db = fresh_database("tables").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(
        "CREATE TABLE orders (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, note text NOT NULL DEFAULT 'none');
         INSERT INTO orders (note) VALUES ('a'), ('b');
         CREATE TABLE customers (id bigint PRIMARY KEY, name text, legacy text NOT NULL);
         INSERT INTO customers VALUES (1, 'one', 'x');
         CREATE TABLE sessions (id int PRIMARY KEY);
         INSERT INTO sessions VALUES (1)",
    )
    .await;
    let nodes = (
        db.relfilenode("orders").await,
        db.relfilenode("customers").await,
    );
    let sampler = LockSampler::start(&db, "customers").await;
    let migrator = Migrator::new(&[m]).unwrap();
    migrator.run(&db.options).await.unwrap();
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(
        status.migrations[0].mid_change,
        [
            "public.orders",
            "public.purchases",
            "public.customers.legacy",
            "public.sessions"
        ],
        "{status}"
    );

    // Old code: the old table name (a view), the column it still writes, the table it still uses.
    db.exec("INSERT INTO orders (note) VALUES ('old'); UPDATE orders SET note = 'old2' WHERE note = 'a'; DELETE FROM orders WHERE note = 'b'").await;
    db.exec("INSERT INTO customers VALUES (2, 'two', 'y')")
        .await;
    db.exec("INSERT INTO sessions VALUES (2)").await;
    // New code: the new name, no `legacy`, no `sessions`.
    db.exec("INSERT INTO purchases (note) VALUES ('new')").await;
    db.exec("INSERT INTO customers (id, name) VALUES (3, 'three')")
        .await;
    assert_eq!(
        db.scalar::<String>("SELECT string_agg(note, ',' ORDER BY id) FROM orders")
            .await,
        "old2,old,new"
    );
    assert_eq!(
        db.scalar::<String>("SELECT string_agg(note, ',' ORDER BY id) FROM purchases")
            .await,
        "old2,old,new"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM sessions").await, 2);

    migrator.complete(&db.options).await.unwrap();
    sampler.finish_and_check(&[m]).await;
    assert!(
        db.scalar::<bool>(
            "SELECT to_regclass('orders') IS NULL AND to_regclass('sessions') IS NULL"
        )
        .await
    );
    assert_eq!(
        db.scalar::<String>("SELECT string_agg(note, ',' ORDER BY id) FROM purchases")
            .await,
        "old2,old,new"
    );
    assert!(
        db.scalar::<bool>("SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attname = 'legacy' AND NOT attisdropped)")
            .await
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM customers").await, 3);
    assert_eq!(
        (
            db.relfilenode("purchases").await,
            db.relfilenode("customers").await
        ),
        nodes
    );
}

zerodown::migration! {
    /// Three operations to undo.
    pub mod m0001_to_undo {
        expand alter table accounts alter column balance type bigint from int;
        expand alter table ledgers rename to journals;
        expand alter table accounts drop column legacy;
    }
}

#[tokio::test]
async fn rollback_removes_everything_the_expand_added() {
    init_tracing();
    let m: &'static Migration = &m0001_to_undo::MIGRATION;
    let db = fresh_database("rollback").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(
        "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL DEFAULT 0 CHECK (balance > -1000), legacy text NOT NULL DEFAULT 'l');
         CREATE INDEX accounts_balance_idx ON accounts (balance);
         INSERT INTO accounts (id, balance) SELECT g, g FROM generate_series(1, 5000) g;
         CREATE TABLE ledgers (id int PRIMARY KEY, account_id int REFERENCES accounts (id));",
    )
    .await;
    let before = db.catalog().await;
    let sampler = LockSampler::start(&db, "accounts").await;
    let migrator = Migrator::new(&[m]).unwrap();
    migrator.run(&db.options).await.unwrap();
    let expanded = db.catalog().await;
    for added in [
        "column accounts._zd_balance_new bigint",
        "index _zd_accounts_balance_idx",
        "view ledgers",
        "trigger ~zd_sync_accounts_balance",
    ] {
        assert!(
            expanded.iter().any(|l| l.starts_with(added)),
            "{added} missing after expand:\n{}",
            expanded.join("\n")
        );
    }
    db.exec("INSERT INTO accounts (id, balance, legacy) VALUES (6000, 1, 'x')")
        .await;

    let report = migrator.rollback(&db.options, 1).await.unwrap();
    assert_eq!(report.steps.len(), 3, "{report:?}");
    sampler.finish_and_check(&[m]).await;
    assert_eq!(db.catalog().await, before);
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(
        status.migrations[0].state,
        MigrationState::Pending,
        "{status}"
    );
    let recorded: String = db
        .scalar("SELECT state FROM zerodown_migrations WHERE version = 1")
        .await;
    assert_eq!(recorded, "rolled_back");

    // Rolling back again, or completing, finds nothing to do; running applies it afresh.
    assert!(matches!(
        migrator.rollback(&db.options, 1).await.unwrap_err(),
        Error::CannotRollback { .. }
    ));
    assert!(migrator.complete(&db.options).await.unwrap().is_empty());
    migrator.run(&db.options).await.unwrap();
    migrator.complete(&db.options).await.unwrap();
    assert_eq!(db.scalar::<String>("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'balance'").await, "bigint");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM journals").await, 0);
    assert!(matches!(
        migrator.rollback(&db.options, 1).await.unwrap_err(),
        Error::CannotRollback { .. }
    ));
}

zerodown::migration! {
    /// `users.score` becomes bigint.
    pub mod m0001_users_score_bigint {
        expand alter table users alter column score type bigint from integer;
    }
}

zerodown::migration! {
    /// Touches `users.score` while it is mid-change.
    pub mod m0002_users_score_index {
        create index concurrently users_score_idx on users (score);
    }
}

zerodown::migration! {
    /// Touches another column of the same table: allowed.
    pub mod m0003_users_name_index {
        create index concurrently users_name_idx on users (name);
    }
}

#[tokio::test]
async fn a_later_migration_touching_an_object_mid_change_is_refused() {
    init_tracing();
    let (m1, m2): (&'static Migration, &'static Migration) = (
        &m0001_users_score_bigint::MIGRATION,
        &m0002_users_score_index::MIGRATION,
    );
    let db = fresh_database("conflict").await;
    if version_gate::refused_as_too_new(&db.options, &[m1, m2, &m0003_users_name_index::MIGRATION])
        .await
    {
        return;
    }
    db.exec("CREATE TABLE users (id int PRIMARY KEY, name text, score int); INSERT INTO users SELECT g, 'n', g FROM generate_series(1, 100) g").await;

    // Both pending in one run: the first is applied, the second refused.
    let both = Migrator::new(&[m1, m2]).unwrap();
    let err = both.run(&db.options).await.unwrap_err();
    assert!(matches!(err, Error::MidChange { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "`public.users.score` is mid-change in migration 1 `users_score_bigint` (expanded, waiting for `complete`), and \
         migration 2 `users_score_index` touches it; nothing was run from migration 2 `users_score_index` on; run \
         `complete` first, once no instance of the old application version runs (or undo the expand with \
         `migrate rollback 1`); where no old version ever runs (development, CI, tests), `run --complete` \
         (`Migrator::run_and_complete`) replays the history in one go"
    );
    assert!(
        db.scalar::<bool>("SELECT to_regclass('users_score_idx') IS NULL")
            .await
    );
    // Again, with the first recorded as expanded; the dry run says the same.
    assert!(matches!(
        both.run(&db.options).await.unwrap_err(),
        Error::MidChange { .. }
    ));
    assert!(matches!(
        both.plan(&db.options).await.unwrap_err(),
        Error::MidChange { .. }
    ));

    // Another column of the table is fine.
    let other = Migrator::new(&[m1, &m0003_users_name_index::MIGRATION]).unwrap();
    other.run(&db.options).await.unwrap();

    both.complete(&db.options).await.unwrap();
    let report = Migrator::new(&[m1, m2])
        .unwrap()
        .allow_out_of_order(true)
        .run(&db.options)
        .await
        .unwrap();
    assert_eq!(report.migrations.len(), 1);
    assert!(
        db.scalar::<bool>("SELECT to_regclass('users_score_idx') IS NOT NULL")
            .await
    );
}

#[tokio::test]
async fn run_and_complete_replays_a_history_that_run_alone_stops_in() {
    init_tracing();
    let list: [&'static Migration; 3] = [
        &m0001_users_score_bigint::MIGRATION,
        &m0002_users_score_index::MIGRATION,
        &m0003_users_name_index::MIGRATION,
    ];
    let db = fresh_database("run_and_complete").await;
    if version_gate::refused_as_too_new(&db.options, &list).await {
        return;
    }
    db.exec("CREATE TABLE users (id int PRIMARY KEY, name text, score int); INSERT INTO users SELECT g, 'n', g FROM generate_series(1, 100) g").await;
    let migrator = Migrator::new(&list).unwrap();
    let report = migrator.run_and_complete(&db.options).await.unwrap();
    // Expand and contract of the type change, then the two index migrations (one `run` each side of
    // the `complete`).
    let phases: Vec<(u64, zerodown::PhaseKind)> = report
        .migrations
        .iter()
        .map(|m| (m.id.version, m.phase))
        .collect();
    assert_eq!(
        phases,
        [
            (1, zerodown::PhaseKind::Expand),
            (1, zerodown::PhaseKind::Contract),
            (2, zerodown::PhaseKind::Expand),
            (3, zerodown::PhaseKind::Expand),
        ],
        "{report:?}"
    );
    let ty: String = db
        .scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'score'")
        .await;
    assert_eq!(ty, "bigint");
    assert!(
        db.scalar::<bool>("SELECT to_regclass('users_score_idx') IS NOT NULL")
            .await
    );
    let states: Vec<String> = {
        let mut c = db.connect().await;
        sqlx::query_scalar("SELECT state FROM zerodown_migrations ORDER BY version")
            .fetch_all(&mut c)
            .await
            .unwrap()
    };
    assert_eq!(states, ["completed", "completed", "completed"]);
    // Nothing left to do.
    assert!(migrator
        .run_and_complete(&db.options)
        .await
        .unwrap()
        .is_empty());
}

zerodown::migration! {
    /// `scores.points` becomes bigint, but a view reads it.
    pub mod m0001_scores_points_bigint {
        expand alter table scores alter column points type bigint from integer;
    }
}

#[tokio::test]
async fn what_cannot_be_carried_over_is_refused_before_anything_changes() {
    init_tracing();
    let m: &'static Migration = &m0001_scores_points_bigint::MIGRATION;
    let db: Db = fresh_database("refused").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(
        "CREATE TABLE scores (id int PRIMARY KEY, points int NOT NULL);
         CREATE VIEW top_scores AS SELECT id FROM scores WHERE points > 10;
         CREATE TABLE awards (id int PRIMARY KEY, points int REFERENCES scores (id))",
    )
    .await;
    let before = db.catalog().await;
    let migrator = Migrator::new(&[m]).unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    let step = err.as_step().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(step.kind, StepErrorKind::Refused, "{err}");
    assert!(
        step.message
            .contains("view top_scores (it reads the column and would keep reading the old one)"),
        "{err}"
    );
    assert_eq!(
        db.catalog().await,
        before,
        "the refused step changed the catalog"
    );

    // Without the view, the foreign key of `awards` referencing `scores.id` does not matter (other
    // column), and the change goes through.
    db.exec("DROP VIEW top_scores").await;
    migrator.run(&db.options).await.unwrap();
    migrator.complete(&db.options).await.unwrap();
}

zerodown::migration! {
    /// A foreign key column, also part of a deferrable unique constraint, becomes bigint.
    pub mod m0001_orders_customer_bigint {
        expand alter table orders alter column customer_id type bigint from int;
    }
}

const ORDERS: &str = "
    CREATE TABLE customers (id int PRIMARY KEY);
    CREATE TABLE orders (
        id int PRIMARY KEY,
        customer_id int CONSTRAINT orders_customer_fk REFERENCES customers (id) ON DELETE CASCADE,
        code text NOT NULL,
        CONSTRAINT orders_customer_code_key UNIQUE (customer_id, code) DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT orders_code_check CHECK (customer_id IS NULL OR code <> '') NOT VALID
    );";

#[tokio::test]
async fn foreign_keys_and_deferrable_unique_constraints_are_carried_over() {
    init_tracing();
    let m: &'static Migration = &m0001_orders_customer_bigint::MIGRATION;
    let db = fresh_database("foreign_key").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    db.exec(ORDERS).await;
    db.exec("INSERT INTO customers SELECT g FROM generate_series(1, 100) g; INSERT INTO orders SELECT g, g % 100 + 1, 'c' || g FROM generate_series(1, 2000) g").await;
    let migrator = Migrator::new(&[m]).unwrap();
    migrator.run(&db.options).await.unwrap();
    // The carried foreign key is enforced on the new column already.
    let err = db
        .exec_err("INSERT INTO orders VALUES (5000, 999, 'x')")
        .await;
    assert!(err.contains("orders_customer_fk"), "{err}");
    migrator.complete(&db.options).await.unwrap();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id")
            .await,
        2000
    );

    let scratch = fresh_database("foreign_key_scratch").await;
    scratch.exec(ORDERS).await;
    scratch
        .exec("ALTER TABLE orders ALTER COLUMN customer_id TYPE bigint")
        .await;
    assert_eq!(db.catalog().await, scratch.catalog().await);
}

zerodown::migration! {
    /// Stops at its index build the first time.
    pub mod m0001_tags_name {
        expand alter table tags rename column label to name;
    }
}

#[tokio::test]
async fn an_expand_that_failed_resumes_where_it_stopped() {
    init_tracing();
    let m: &'static Migration = &m0001_tags_name::MIGRATION;
    let db = fresh_database("resume").await;
    if version_gate::refused_as_too_new(&db.options, &[m]).await {
        return;
    }
    let tags = "CREATE TABLE tags (id int PRIMARY KEY, label text NOT NULL);
                CREATE UNIQUE INDEX tags_label_idx ON tags (label);";
    db.exec(tags).await;
    db.exec("INSERT INTO tags SELECT g, 't' || g FROM generate_series(1, 3000) g")
        .await;
    // A table squatting the carried index's name makes the build fail.
    db.exec("CREATE TABLE _zd_tags_label_idx (x int)").await;
    let migrator = Migrator::new(&[m]).unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    let step = err.as_step().unwrap_or_else(|| panic!("{err}"));
    assert_eq!(step.index, 2, "{err}");
    assert!(step.message.contains("already exists"), "{err}");
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(
        status.migrations[0].state,
        MigrationState::Expanding { done: 2, total: 5 },
        "{status}"
    );
    // Both columns are kept in sync meanwhile.
    db.exec("INSERT INTO tags (id, label) VALUES (5000, 'old'); INSERT INTO tags (id, name) VALUES (5001, 'new')")
        .await;

    db.exec("DROP TABLE _zd_tags_label_idx").await;
    let report = migrator.run(&db.options).await.unwrap();
    let resumed: Vec<usize> = report.migrations[0].steps.iter().map(|s| s.index).collect();
    assert_eq!(resumed, [2, 3, 4], "{report}");
    migrator.complete(&db.options).await.unwrap();
    assert_eq!(
        db.scalar::<String>("SELECT string_agg(name, ',' ORDER BY id) FROM tags WHERE id >= 5000")
            .await,
        "old,new"
    );

    let scratch = fresh_database("resume_scratch").await;
    scratch.exec(tags).await;
    scratch
        .exec("ALTER TABLE tags RENAME COLUMN label TO name")
        .await;
    assert_eq!(db.catalog().await, scratch.catalog().await);
}

zerodown::migration! {
    /// `other.a` becomes `other.b`: its contract runs first and is held up by a reader.
    pub mod m0001_other_a_to_b {
        expand alter table other rename column a to b;
    }
}

zerodown::migration! {
    /// `ledger.amount` becomes bigint.
    pub mod m0002_ledger_amount_bigint {
        expand alter table ledger alter column amount type bigint from integer;
    }
}

#[tokio::test]
async fn a_late_commit_of_a_contract_step_is_seen_done_not_refused() {
    init_tracing();
    let (m1, m2): (&'static Migration, &'static Migration) = (
        &m0001_other_a_to_b::MIGRATION,
        &m0002_ledger_amount_bigint::MIGRATION,
    );
    let db = fresh_database("late_contract").await;
    if version_gate::refused_as_too_new(&db.options, &[m1, m2]).await {
        return;
    }
    db.exec(
        "CREATE TABLE other (id int PRIMARY KEY, a text);
         CREATE TABLE ledger (id int PRIMARY KEY, amount int NOT NULL);
         INSERT INTO ledger SELECT g, g FROM generate_series(1, 50) g",
    )
    .await;
    // Queueing, so the held-up step makes attempts (lock timeouts) the test can wait for: looking
    // first, it would wait without attempting whenever the reader is already 100 ms old.
    let migrator = Migrator::new(&[m1, m2])
        .unwrap()
        .lock_strategy(zerodown::LockStrategy::Queue);
    migrator.run(&db.options).await.unwrap();

    // `complete` starts and is held up in migration 1's contract step by a reader of `other` (lock
    // timeouts and retries), after it read the history: migration 2's contract step is pending.
    let mut reader = db.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE other IN ACCESS SHARE MODE")
        .execute(&mut reader)
        .await
        .unwrap();
    let options = db.options.clone();
    let complete = tokio::spawn(async move { migrator.complete(&options).await });
    let attempts = "SELECT coalesce(max(attempts), 0)::bigint FROM zerodown_migrations_steps WHERE version = 1 AND phase = 'contract'";
    while db.scalar::<i64>(attempts).await < 2 {
        assert!(
            !complete.is_finished(),
            "`complete` ended before it was held up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Meanwhile a runner that lost the migration lock is inside migration 2's contract step (step 2:
    // step 1 verifies the copy online): it holds the step's history row, has changed the catalog
    // (here, the hidden column renamed) and recorded the step done, and commits late.
    let mut late = db.connect().await;
    sqlx::raw_sql(
        "BEGIN;
         SELECT 1 FROM zerodown_migrations_steps WHERE version = 2 AND phase = 'contract' AND step_index = 1 FOR UPDATE;
         ALTER TABLE ledger RENAME COLUMN _zd_amount_new TO amount_swapped;
         UPDATE zerodown_migrations_steps SET state = 'done' WHERE version = 2 AND phase = 'contract' AND step_index = 1;",
    )
    .execute(&mut late)
    .await
    .unwrap();
    sqlx::raw_sql("COMMIT").execute(&mut reader).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !complete.is_finished(),
        "`complete` did not wait for migration 2's step row"
    );
    sqlx::raw_sql("COMMIT").execute(&mut late).await.unwrap();

    // The runner waited for the row, saw the step done, and did not read the catalog it changed
    // (which it would refuse: "the new column is missing").
    let report = complete.await.unwrap().unwrap();
    let late_step = &report.migrations[1].steps[1];
    assert_eq!(
        late_step.outcome,
        zerodown::StepOutcome::AlreadyDone,
        "{report}"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM zerodown_migrations WHERE state = 'completed'")
            .await,
        2
    );
}
