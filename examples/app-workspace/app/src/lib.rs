//! The application's queries, checked at compile time against the migrated schema.

use sqlx::PgPool;

/// Adds a product and returns its id.
pub async fn add_product(
    pool: &PgPool,
    sku: &str,
    title: &str,
    price_cents: i64,
) -> sqlx::Result<i64> {
    let row = sqlx::query!(
        "INSERT INTO products (sku, title, price_cents) VALUES ($1, $2, $3) RETURNING id",
        sku,
        title,
        price_cents
    )
    .fetch_one(pool)
    .await?;
    Ok(row.id)
}

/// Titles and prices, cheapest first.
pub async fn price_list(pool: &PgPool) -> sqlx::Result<Vec<(String, i64)>> {
    // `title!`: not null. Between `run` and `complete` the catalog has `title` nullable (a checked
    // copy of `name`), after `complete` NOT NULL; the application's type is the same either way.
    let rows = sqlx::query!(
        r#"SELECT title AS "title!", price_cents FROM products ORDER BY price_cents, id"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.title, r.price_cents)).collect())
}
