//! An application binary with its own clap command line, into which zerodown's `migrate` command is
//! embedded in a few lines (feature `cli`).
//!
//! ```sh
//! createdb shop                                  # any database you may change
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop
//! cargo run --example cli -- migrate plan        # dry run: SQL, locks, timeouts
//! cargo run --example cli -- migrate run         # apply, with progress
//! cargo run --example cli -- migrate status --json
//! cargo run --example cli -- migrate complete    # contract phases, after the old version is gone
//! echo $?                                        # exit codes: see `zerodown::cli::Exit`
//! ```
//!
//! `--database-url URL` works instead of `DATABASE_URL`. In a real service `Serve` would start the
//! server; a deploy runs `myapp migrate run` once (or every instance does at startup: the migration
//! lock lets one of them work while the others wait), then starts the new version.

use clap::{Parser, Subcommand};
use zerodown::cli::{Exit, MigrateCommand};
use zerodown::Migration;

zerodown::migration! {
    /// Products and their prices.
    pub mod m0001_products {
        create table products (
            id bigint generated always as identity primary key,
            sku text not null,
            name text not null,
            price_cents bigint not null default 0 check (price_cents >= 0)
        );
        create unique index products_sku_idx on products (sku);
    }
}

zerodown::migration! {
    /// Search products by name without blocking writes while the index builds.
    pub mod m0002_products_name_index {
        create index concurrently products_name_idx on products (lower(name));
    }
}

zerodown::migration! {
    /// Every product has a description, possibly empty.
    pub mod m0003_products_description {
        alter table products add column description text not null default "";
    }
}

zerodown::migration! {
    /// URL slugs, filled in batches for existing products.
    pub mod m0004_products_slug {
        alter table products add column slug text;
        backfill products set slug = lower(sku) where slug is null;
    }
}

zerodown::migration! {
    /// `price_cents` becomes `price_minor` (currencies without cents). The version running during
    /// the deploy keeps using `price_cents`; `migrate complete` drops it once that version is gone.
    pub mod m0005_products_price_minor {
        expand alter table products rename column price_cents to price_minor;
    }
}

static MIGRATIONS: &[&Migration] = &[
    &m0001_products::MIGRATION,
    &m0002_products_name_index::MIGRATION,
    &m0003_products_description::MIGRATION,
    &m0004_products_slug::MIGRATION,
    &m0005_products_price_minor::MIGRATION,
];

/// The application's command line.
#[derive(Parser)]
#[command(
    name = "myapp",
    about = "A service that embeds zerodown's migrate command"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve requests (a stand-in for the application's real work).
    Serve,
    /// Database migrations: run, complete, status, plan.
    #[command(subcommand)]
    Migrate(MigrateCommand),
}

#[tokio::main]
async fn main() -> Exit {
    // The runtime also logs through `tracing`; a real service keeps its own subscriber (a terminal
    // progress bar reads best with `zerodown_runtime` logs at `error` level). This example installs
    // none: the command prints its own progress and errors.
    match Cli::parse().command {
        Command::Serve => {
            println!("serving (not really: this is an example)");
            Exit::Success
        }
        Command::Migrate(cmd) => cmd.execute(MIGRATIONS).await,
    }
}
