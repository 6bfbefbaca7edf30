//! The lock the checks of `raw` infer for a statement, against the lock PostgreSQL takes for it on the
//! server the suite runs on: each statement runs in a transaction, and the strongest lock its backend
//! then holds on a relation of the test schema (`pg_locks`) must equal the inferred one. The inference
//! is what a `raw` step's declared `lock = ..` is checked against, so an inference weaker than
//! PostgreSQL's lock would let a blocking statement through as harmless.
//!
//! Statements PostgreSQL refuses in a transaction block (`create index concurrently`, `vacuum`,
//! `detach .. concurrently`) cannot be observed this way; their inference is checked by the macro's
//! unit tests (`macros/src/raw/tests.rs`).

mod common;

use sqlx::{Connection, PgConnection};
use zerodown::{LockLevel, PgVersion};

/// One statement and the lock inferred for it for a target before 12 and from 12 (the only boundary
/// the inference knows).
struct Case {
    sql: &'static str,
    before_12: LockLevel,
    from_12: LockLevel,
}

macro_rules! cases {
    ($($sql:literal;)*) => {
        vec![$(Case {
            sql: $sql,
            before_12: zerodown::__private::raw_lock!(10, $sql),
            from_12: zerodown::__private::raw_lock!(12, $sql),
        },)*]
    };
}

const SCHEMA: &str = "
    CREATE TABLE items (id bigint PRIMARY KEY, label text, code varchar(20), item_id bigint);
    INSERT INTO items (id, label, code) SELECT g, 'item ' || g, 'c' || g FROM generate_series(1, 100) g;
    CREATE INDEX items_label_idx ON items (label);
    ALTER TABLE items ADD CONSTRAINT items_label_ck CHECK (label IS NOT NULL) NOT VALID;
    CREATE TABLE orders (id bigint PRIMARY KEY, item_id bigint);
    CREATE TABLE scratch (id int);
    CREATE MATERIALIZED VIEW item_counts AS SELECT code, count(*) AS n FROM items GROUP BY code;
    CREATE UNIQUE INDEX item_counts_code ON item_counts (code);
    CREATE TABLE events (id bigint NOT NULL, at int NOT NULL) PARTITION BY RANGE (at);
    CREATE TABLE events_1 (id bigint NOT NULL, at int NOT NULL);
    CREATE TABLE events_2 (id bigint NOT NULL, at int NOT NULL);
    ALTER TABLE events ATTACH PARTITION events_2 FOR VALUES FROM (10) TO (20);
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
";

/// The relations of `public`.
async fn relations(conn: &mut PgConnection) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT oid::bigint FROM pg_class WHERE relnamespace = 'public'::regnamespace",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap()
}

/// The strongest lock this backend holds on one of `existing` (relations the statement creates are
/// locked by it too, and nobody else waits for them).
async fn strongest_own_lock(conn: &mut PgConnection, existing: &[i64]) -> LockLevel {
    let modes: Vec<String> = sqlx::query_scalar(
        "SELECT mode FROM pg_locks
          WHERE pid = pg_backend_pid() AND locktype = 'relation' AND relation::bigint = ANY($1)",
    )
    .bind(existing)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    modes
        .iter()
        .map(|m| {
            LockLevel::ALL
                .into_iter()
                .find(|l| {
                    *l != LockLevel::None
                        && format!("{}lock", l.as_sql().replace(' ', "").to_lowercase())
                            == m.to_lowercase()
                })
                .unwrap_or_else(|| panic!("unknown lock mode {m}"))
        })
        .max()
        .unwrap_or(LockLevel::None)
}

#[tokio::test]
async fn inferred_locks_match_what_postgresql_takes() {
    let db = common::fresh_database("raw_locks").await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(SCHEMA).execute(&mut conn).await.unwrap();
    let num: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let version = PgVersion::from_server_version_num(num as u32);
    let cases = cases! {
        "select * from items where id = 1";
        "select * from items where id = 1 for update";
        "update items set label = 'x' where id = 1";
        "insert into items (id, label) values (100000, 'n')";
        "delete from items where id = 2";
        "create index items_code_idx on items (code)";
        "alter table items add column note text";
        "alter table items alter column label type varchar(200)";
        "alter table items rename column label to title";
        "alter table items add constraint items_order_fk foreign key (item_id) references orders (id) not valid";
        "alter table items validate constraint items_label_ck";
        "alter table items set (fillfactor = 90)";
        "alter table items alter column label set statistics 200";
        "alter table items disable trigger user";
        "create trigger items_touch before update on items for each row execute procedure touch()";
        "comment on table items is 'things'";
        "analyze items";
        "alter index items_label_idx rename to items_title_idx";
        "refresh materialized view concurrently item_counts";
        "refresh materialized view item_counts";
        "lock table items in share mode";
        "truncate scratch";
        "drop table scratch";
        "create table children (id int references items (id))";
        "create view item_labels as select label from items";
        "cluster items using items_pkey";
        "reindex index items_label_idx";
        "alter table events attach partition events_1 for values from (1) to (10)";
        "alter table events detach partition events_2";
    };
    let mut wrong = Vec::new();
    for case in &cases {
        let inferred = if version < PgVersion(12) {
            case.before_12
        } else {
            case.from_12
        };
        sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
        let existing = relations(&mut conn).await;
        sqlx::raw_sql(case.sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.sql));
        let observed = strongest_own_lock(&mut conn, &existing).await;
        sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
        println!(
            "{version}: {:<24} inferred {:<24} {}",
            observed.as_sql(),
            inferred.as_sql(),
            case.sql
        );
        if observed != inferred {
            wrong.push(format!(
                "`{}`: PostgreSQL {version} takes {}, zerodown infers {}",
                case.sql,
                observed.as_sql(),
                inferred.as_sql()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    conn.close().await.unwrap();
}
