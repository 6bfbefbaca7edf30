//! The pattern `docs/testing.md` recommends for an application's own tests, run as tests: a fresh
//! database with every migration applied (`run_and_complete`, so expand/contract migrations are
//! completed on the way), and a migration checked on the rows written before it.

use sqlx::Connection;

zerodown::migration! {
    /// Orders.
    pub mod m0001_orders {
        create table orders (
            id bigint generated always as identity primary key,
            quantity int not null,
            unit_price_cents bigint not null,
            note text
        );
    }
}

zerodown::migration! {
    /// The total of each order.
    pub mod m0002_orders_total {
        alter table orders add column total_cents bigint;
        backfill orders set total_cents = quantity * unit_price_cents where total_cents is null;
    }
}

zerodown::migration! {
    /// `note` becomes `comment` (expand/contract: `run` alone would leave it mid-change).
    pub mod m0003_note_to_comment {
        expand alter table orders rename column note to comment;
    }
}

zerodown::migration! {
    /// A later migration touching the renamed column: `run` alone stops before it (mid-change).
    pub mod m0004_comment_index {
        create index concurrently orders_comment_idx on orders (comment);
    }
}

static MIGRATIONS: &[&zerodown::Migration] = &[
    &m0001_orders::MIGRATION,
    &m0002_orders_total::MIGRATION,
    &m0003_note_to_comment::MIGRATION,
    &m0004_comment_index::MIGRATION,
];

#[tokio::test]
async fn a_fresh_database_with_every_migration_applied() {
    let db = zerodown::localdb::fresh_database("testing_all")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if db.version() < m0003_note_to_comment::MIGRATION.settings.target {
        panic!(
            "this suite needs PostgreSQL {} or newer",
            m0003_note_to_comment::MIGRATION.settings.target
        );
    }
    let report = zerodown::Migrator::new(MIGRATIONS)
        .unwrap()
        .run_and_complete(&db.connect_options())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Four expand phases and one contract phase.
    assert_eq!(report.migrations.len(), 5, "{report}");
    let mut conn = sqlx::PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (quantity, unit_price_cents, total_cents, comment) VALUES (2, 150, 300, 'gift') RETURNING id",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let comment: String = sqlx::query_scalar("SELECT comment FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(comment, "gift");
    let index: bool = sqlx::query_scalar("SELECT to_regclass('orders_comment_idx') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(index);
    // `run` alone would have stopped at migration 4 (mid-change): that is why tests use
    // `run_and_complete`.
    let fresh = zerodown::localdb::fresh_database("testing_run_alone")
        .await
        .unwrap();
    let err = zerodown::Migrator::new(MIGRATIONS)
        .unwrap()
        .run(&fresh.connect_options())
        .await
        .unwrap_err();
    assert!(matches!(err, zerodown::Error::MidChange { .. }), "{err}");
    conn.close().await.unwrap();
    fresh.drop_database().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_migration_checked_on_the_rows_written_before_it() {
    let db = zerodown::localdb::fresh_database("testing_before")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let options = db.connect_options();
    zerodown::Migrator::new(&MIGRATIONS[..1])
        .unwrap()
        .run_and_complete(&options)
        .await
        .unwrap();
    let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
    sqlx::query("INSERT INTO orders (quantity, unit_price_cents) VALUES (3, 250), (1, 99)")
        .execute(&mut conn)
        .await
        .unwrap();
    zerodown::Migrator::new(MIGRATIONS)
        .unwrap()
        .run_and_complete(&options)
        .await
        .unwrap();
    let totals: Vec<i64> = sqlx::query_scalar("SELECT total_cents FROM orders ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(totals, [750, 99]);
    conn.close().await.unwrap();
    db.drop_database().await.unwrap();
}
