//! The shop's migrations: a crate of their own, so the `migrate` binary builds without a database
//! (the application's `sqlx::query!` calls need a migrated one to compile).
//!
//! One `migrations!` set: it generates `MIGRATIONS` (in order, none forgotten) and `SCHEMA`, and
//! checks each migration against the schema the ones before it build.

zerodown::migrations! {
    /// Products.
    pub mod m0001_products {
        create table products (
            id bigint generated always as identity primary key,
            sku text not null,
            name text not null
        );
        create unique index products_sku_idx on products (sku);
    }

    /// Prices, in cents.
    pub mod m0002_products_price {
        alter table products add column price_cents bigint not null default 0;
    }

    /// `name` becomes `title` across two deploys: `run` adds `title` kept in sync with `name`,
    /// `complete` drops `name` once no instance of the previous version runs.
    pub mod m0003_products_title {
        expand alter table products rename column name to title;
    }
}

/// The migrator of the set, with its schema (for `migrate schema`).
pub fn migrator() -> Result<zerodown::Migrator, zerodown::Error> {
    Ok(zerodown::Migrator::new(MIGRATIONS)?.with_schema(&SCHEMA))
}
