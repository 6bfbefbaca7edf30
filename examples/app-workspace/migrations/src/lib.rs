//! The shop's migrations: a crate of their own, so the `migrate` binary builds without a database
//! (the application's `sqlx::query!` calls need a migrated one to compile).

zerodown::migration! {
    /// Products.
    pub mod m0001_products {
        create table products (
            id bigint generated always as identity primary key,
            sku text not null,
            name text not null
        );
        create unique index products_sku_idx on products (sku);
    }
}

zerodown::migration! {
    /// Prices, in cents.
    pub mod m0002_products_price {
        alter table products add column price_cents bigint not null default 0;
    }
}

zerodown::migration! {
    /// `name` becomes `title` across two deploys: `run` adds `title` kept in sync with `name`,
    /// `complete` drops `name` once no instance of the previous version runs.
    pub mod m0003_products_title {
        expand alter table products rename column name to title;
    }
}

/// Every migration, in version order.
pub static MIGRATIONS: &[&zerodown::Migration] = &[
    &m0001_products::MIGRATION,
    &m0002_products_price::MIGRATION,
    &m0003_products_title::MIGRATION,
];
