//! The quick start: a small, realistic schema history applied the way zerodown applies it in
//! production.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It shows what the compiler says about an unsafe form, prints the plan (every step with its SQL,
//! the lock it takes and its timeouts), applies it with a line per step, shows the status, runs it a
//! second time to show that nothing is left to do, completes the expand/contract migration, and
//! prints the final status.
//!
//! # Which database
//!
//! The example never touches an existing database's tables: it asks [`zerodown::localdb`] for a
//! **fresh, empty database** and drops it at the end, so it can be run any number of times with the
//! same result. The server is found the way zerodown's own tests find it:
//!
//! 1. `ZERODOWN_DATABASE_URL`, else `DATABASE_URL`, when set (the role needs `CREATEDB`: a new database
//!    named `zd_quickstart_...` is created there and dropped afterwards);
//! 2. else the server on `127.0.0.1:5432` as user `$PGUSER` or `postgres`;
//! 3. else a throwaway cluster started from the installed PostgreSQL binaries (`initdb`, `pg_ctl`),
//!    removed when the example ends;
//! 4. else it stops with a message saying what to install or set.
//!
//! `-v` (`cargo run --example quickstart -- -v`) adds the runtime's log lines (`-vv`: debug).

use std::error::Error;

use zerodown::{localdb, Migration, Migrator};

zerodown::migration! {
    /// Accounts and their users. Everything here is new, so no online recipe is needed: the index on
    /// a table created in the same migration is built inside the migration's transaction.
    pub mod m0001_accounts_and_users {
        create table accounts (
            id bigint generated always as identity primary key,
            name text not null,
            created_at timestamptz not null default now()
        );
        create table users (
            id bigint generated always as identity primary key,
            account_id bigint not null,
            email text,
            created_at timestamptz not null default now()
        );
        create index users_account_idx on users (account_id);
    }
}

zerodown::migration! {
    /// Demo data, so the online steps below have rows to work on. Raw SQL is opaque to the checks,
    /// so it needs a reason, and says which lock it takes (the default assumes the worst).
    pub mod m0002_demo_data {
        raw(reason = "demo data for the quick start", lock = row_exclusive)
            "insert into accounts (name) select 'account ' || n from generate_series(1, 100) as n";
        raw(reason = "demo data for the quick start", lock = row_exclusive)
            "insert into users (account_id, email) select 1 + n % 100, 'user' || n || '@example.com' from generate_series(1, 20000) as n";
    }
}

zerodown::migration! {
    /// Look users up by email. `users` exists now, so the index must be built `concurrently`:
    /// without it this fails to compile (rule `index_not_concurrent`).
    pub mod m0003_users_email_index {
        create index concurrently users_email_idx on users (email);
    }
}

zerodown::migration! {
    /// Every user belongs to an existing account. `not valid` adds the foreign key without scanning
    /// (a brief lock), and `validate` scans without blocking reads or writes.
    pub mod m0004_users_account_fk {
        set lock_timeout = 2s;

        alter table users add constraint users_account_fk
            foreign key (account_id) references accounts (id) not valid;
        alter table users validate constraint users_account_fk;
    }
}

zerodown::migration! {
    /// Email is required. On an existing table `set not null` is expanded into the online recipe:
    /// a `not valid` check, its validation, then `set not null` (which PostgreSQL 12+ proves from the
    /// check without scanning) and the check's removal. Unique emails through a concurrently built
    /// index.
    pub mod m0005_users_email_required {
        alter table users alter column email set not null;
        alter table users add constraint users_email_key unique (email);
    }
}

zerodown::migration! {
    /// Every user gets an API key. The default is volatile (a different value per row), so adding
    /// it in place would rewrite the table; zerodown adds the column without it, sets the default
    /// for new rows, fills existing rows in batches, then sets `not null` online.
    pub mod m0006_users_api_key {
        alter table users add column api_key text not null default md5(random()::text);
    }
}

zerodown::migration! {
    /// Email domains for reporting, filled in batches of 5000 rows, one short transaction each.
    pub mod m0007_users_email_domain {
        set backfill_batch_size = 5000;

        alter table users add column email_domain text;
        backfill users set email_domain = split_part(email, "@", 2) where email_domain is null;
    }
}

zerodown::migration! {
    /// `accounts.name` becomes `display_name` without breaking the application version that still
    /// reads `name`: `run` adds the new column and keeps both in sync; `complete` drops `name` once
    /// that version is gone.
    pub mod m0008_accounts_display_name {
        expand alter table accounts rename column name to display_name;
    }
}

/// The migrations, in version order: this list is what an application ships.
static MIGRATIONS: &[&Migration] = &[
    &m0001_accounts_and_users::MIGRATION,
    &m0002_demo_data::MIGRATION,
    &m0003_users_email_index::MIGRATION,
    &m0004_users_account_fk::MIGRATION,
    &m0005_users_email_required::MIGRATION,
    &m0006_users_api_key::MIGRATION,
    &m0007_users_email_domain::MIGRATION,
    &m0008_accounts_display_name::MIGRATION,
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    init_logging();

    let db = match localdb::fresh_database("quickstart").await {
        Ok(db) => db,
        Err(e) => {
            // The error says which servers were tried and what to install or set.
            eprintln!("cannot find a PostgreSQL server for the quick start:\n\n{e}");
            std::process::exit(1);
        }
    };
    println!(
        "database: {} ({}, fresh, dropped at the end)\n",
        db.redacted_url(),
        db.version()
    );
    let options = db.connect_options();
    let result = demo(&options).await;
    // Drop the database even when the demo failed, then report the failure.
    db.drop_database().await?;
    result
}

/// A migration the compiler rejects, and what it says: the case and its expected output from the
/// compile-fail suite (`tests/ui`), which checks on every test run that the compiler says exactly
/// this.
const REJECTED: &str = include_str!("../tests/ui/fail/index/index_not_concurrent.rs");
const REJECTED_ERROR: &str = include_str!("../tests/ui/fail/index/index_not_concurrent.stderr");

async fn demo(options: &sqlx::postgres::PgConnectOptions) -> Result<(), Box<dyn Error>> {
    heading("rejected at compile time: an index built the blocking way");
    println!(
        "{}",
        REJECTED
            .trim_end()
            .trim_end_matches("fn main() {}")
            .trim_end()
    );
    println!("\n{}", REJECTED_ERROR.trim_end());

    // A line per step (its lock, then how long it took): what a deploy log shows.
    let migrator = Migrator::new(MIGRATIONS)?.on_step(|s| match s.event {
        zerodown::StepEvent::Started => eprintln!("  {}: {s}", s.migration),
        _ => eprintln!("  {s}"),
    });

    heading("plan (dry run: nothing is changed)");
    print!("{}", migrator.plan(options).await?);

    heading("run: the expand phase of every pending migration");
    print!("{}", migrator.run(options).await?);

    heading("status");
    print!("{}", migrator.status(options).await?);

    heading("run again");
    // Recorded in the history table: nothing is left to do. Many instances of an application can
    // call `run` at startup at the same time; the advisory lock lets one of them do the work.
    print!("{}", migrator.run(options).await?);

    heading("complete: contract phases, once the previous application version is gone");
    print!("{}", migrator.plan_complete(options).await?);
    print!("{}", migrator.complete(options).await?);

    heading("final status");
    print!("{}", migrator.status(options).await?);
    Ok(())
}

fn heading(title: &str) {
    println!("\n=== {title} ===\n");
}

/// The runtime's `tracing` events: warnings only, unless `-v` (info: every step and backfill
/// batch) or `-vv` (debug).
fn init_logging() {
    let verbosity = std::env::args()
        .skip(1)
        .map(|a| match a.as_str() {
            "-v" | "--verbose" => 1,
            "-vv" => 2,
            _ => 0,
        })
        .sum::<usize>();
    let level = match verbosity {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .compact()
        .init();
}
