//! PostgreSQL schema changes that are safe on live, busy tables.
//!
//! A statement that needs a strong lock on a busy table queues behind one long query, and every
//! query after it queues too: that is how a one-line migration becomes an outage. zerodown prevents
//! it in two places:
//!
//! - **At compile time**, [`migration!`] takes schema changes in a PostgreSQL-like language and
//!   rejects the forms that would block reads or writes on a live table, with an error under the
//!   offending tokens naming the safe form. Safe statements are lowered into multi-step online plans
//!   (`not valid` + `validate`, the check-constraint route to `set not null`, concurrently built unique
//!   indexes, batched backfills, expand/contract).
//! - **At run time**, [`Migrator`] executes those plans with a `lock_timeout` on every step, retries
//!   with backoff and jitter, a history table, an advisory lock so that many instances can start at
//!   once, and step-level resume after a crash.
//!
//! # Example
//!
//! ```
//! zerodown::migration! {
//!     /// Look users up by email without blocking writes.
//!     pub mod m0002_users_email_index {
//!         set lock_timeout = 2s;
//!
//!         create index concurrently users_email_idx on users (email);
//!         alter table users alter column email set not null;
//!     }
//! }
//!
//! // The plan is plain data, built at compile time: the exact SQL, locks and timeouts of each step.
//! let plan = &m0002_users_email_index::MIGRATION;
//! assert_eq!(plan.version, 2);
//! let first = &plan.expand.steps[0];
//! assert_eq!(first.statements, ["CREATE INDEX CONCURRENTLY \"users_email_idx\" ON \"users\" (\"email\")"]);
//! assert_eq!(first.lock, zerodown::LockLevel::ShareUpdateExclusive);
//! // `set not null` became the online recipe: a `not valid` check, its validation, then the change.
//! assert_eq!(plan.expand.steps.len(), 4);
//! ```
//!
//! Forget `concurrently` and the build fails, with the fix in the message:
//!
//! ```compile_fail
//! zerodown::migration! {
//!     pub mod m0002_users_email_index {
//!         create index users_email_idx on users (email);
//!     }
//! }
//! ```
//!
//! ```text
//! error: `create index` on existing table `users` blocks writes while it builds; write `create index concurrently` [rule: index_not_concurrent]
//!  --> src/migrations.rs:3:9
//!   |
//! 3 |         create index users_email_idx on users (email);
//!   |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
//! ```
//!
//! An application lists its migrations in order and runs them at startup or from a deploy job:
//!
//! ```no_run
//! # zerodown::migration! { pub mod m0001_users { create table users (id bigint primary key, email text); } }
//! # zerodown::migration! { pub mod m0002_users_email_index { create index concurrently users_email_idx on users (email); } }
//! use zerodown::{Migration, Migrator};
//!
//! static MIGRATIONS: &[&Migration] = &[
//!     &m0001_users::MIGRATION,
//!     &m0002_users_email_index::MIGRATION,
//! ];
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let pool = sqlx::PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
//!     let migrator = Migrator::new(MIGRATIONS)?;
//!
//!     print!("{}", migrator.plan(&pool).await?);   // dry run: steps, SQL, locks, timeouts
//!     let report = migrator.run(&pool).await?;     // expand phases; safe to call from every instance
//!     print!("{report}");
//!     print!("{}", migrator.status(&pool).await?);
//!
//!     // Later, once no instance of the previous application version runs:
//!     migrator.complete(&pool).await?;             // contract phases
//!     Ok(())
//! }
//! ```
//!
//! The migrator never runs anything on the pool's connections: it opens its own from the pool's
//! connect options, so no setting leaks into the application.
//!
//! # Where to go next
//!
//! - `cargo run --example quickstart` in the repository applies a small realistic schema history to a
//!   throwaway database and prints the plan, progress and status.
//! - [`docs::dsl`]: every statement, setting and override; [`docs::rules`]: every rule, why it
//!   exists, the safe form; [`docs::deploying`]: expand/contract deploys; [`docs::pgbouncer`]:
//!   poolers.
//! - `zerodown::cli` (feature `cli`): a `migrate run|complete|status|plan` command to embed in your
//!   binary, with JSON output and exit codes for deploy scripts.
//! - [`localdb`]: a fresh database for your tests of migrations, found or started with no
//!   configuration.
//!
//! # Features
//!
//! - `runtime` (default): the sqlx/tokio executor ([`Migrator`]) and [`localdb`]. Without it only
//!   the macro and the plan model are compiled.
//! - `cli`: the `zerodown::cli` module (clap, indicatif, serde_json).
#![forbid(unsafe_code)]

/// Declares one migration: a module `m<version>_<name>` whose statements, in a PostgreSQL-like
/// language, are checked at compile time and lowered to the plan the runtime executes.
///
/// ```
/// zerodown::migration! {
///     /// Look users up by email (this doc comment is the migration's description).
///     pub mod m0002_users_email_index {
///         set lock_timeout = 2s;
///         create index concurrently users_email_idx on users (email);
///         alter table users add column last_seen timestamptz;
///     }
/// }
///
/// // The module holds the plan, its version and its name.
/// let m: &zerodown::Migration = &m0002_users_email_index::MIGRATION;
/// assert_eq!((m.version, m.name), (2, "users_email_index"));
/// assert_eq!(m.expand.steps.len(), 2);
/// ```
///
/// A statement that would block a live table is a compile error naming the rule and the safe form
/// (`create index` without `concurrently`, `set not null`, a volatile default, a type change, ...);
/// an `unsafe(rule, reason = "..") { .. }` block accepts it when you know better.
///
/// - The language, statement by statement, with the settings: [`docs::dsl`].
/// - The rules, what each catches and the safe form: [`docs::rules`].
/// - Renames, type changes and drops across deploys (`expand ..`): [`docs::deploying`].
/// - Running the migrations: `Migrator` (feature `runtime`), the `migrate` command line (feature
///   `cli`), and tests: [`docs::testing`].
#[doc(inline)]
pub use zerodown_macros::migration;

/// Declares the whole migration set in one place: each `mod` item is a migration (the same input
/// `migration!` takes), and the set gets a `MIGRATIONS` slice listing them in order, so none can be
/// left out of the list.
///
/// Because it sees every migration, it checks each against the schema the ones before it build: a
/// table, column, index, constraint or enum value that is not there (with the closest known name), a
/// `from` type that is not the column's, a column added twice, a foreign key to columns without a
/// key or of another type, a backfill with no key to walk. Versions must increase down the set, each
/// used once. Every migration is checked whatever happened to the others, and an error in one does
/// not cascade into the ones after it.
///
/// ```
/// mod migrations {
///     zerodown::migrations! {
///         /// Users and their orders.
///         pub mod m0001_users_and_orders {
///             create table users (id bigint generated always as identity primary key, email text);
///             create table orders (id bigint primary key, user_id bigint references users (id));
///         }
///         /// Look users up by email.
///         pub mod m0002_users_email_index {
///             create index concurrently users_email_idx on users (email);
///         }
///     }
/// }
///
/// assert_eq!(migrations::MIGRATIONS.len(), 2);
/// assert_eq!(migrations::MIGRATIONS[1].name, "users_email_index");
/// // Then: `Migrator::new(migrations::MIGRATIONS)?.run(&pool).await?`.
/// ```
///
/// A typo is an error under it, with the name it probably meant:
///
/// ```compile_fail
/// zerodown::migrations! {
///     pub mod m0001_users { create table users (id bigint primary key, email text); }
///     pub mod m0002_users_email_index {
///         create index concurrently users_email_idx on users (emial);
///     }
/// }
/// ```
///
/// ```text
/// error: table `users` has no column `emial`; did you mean `email`?
/// ```
///
/// Tables created before the set (by hand, another tool) are declared first, and not checked:
/// `extern table legacy_orders, app.audit;`. After a `raw` statement, names the catalog does not know
/// are no longer errors (the SQL may have created them). A single `migration!` is checked on its own,
/// without the schema around it.
#[doc(inline)]
pub use zerodown_macros::migrations;
#[cfg(feature = "runtime")]
pub use zerodown_runtime::localdb;
pub use zerodown_runtime::plan;
pub use zerodown_runtime::plan::{LockLevel, Migration, PgVersion, Settings};

#[cfg(feature = "runtime")]
pub use zerodown_runtime::{
    blockers::Blocker, BackfillProgress, BackfillStage, BackfillState, ConnectTarget, Drift, Error,
    Health, IndexBuildPhase, IndexBuildProgress, Interrupted, LockStrategy, MigrationId,
    MigrationReport, MigrationState, MigrationStatus, Migrator, PhaseKind, Plan, PlannedStep,
    RunReport, SchemaDifference, Status, StepChange, StepError, StepErrorKind, StepEvent,
    StepOutcome, StepProgress, StepReport, StopSignal, ThrottleReason, UnknownMigration, WorkUnit,
};

/// Retry policy and backoff of the runtime, for reference and tests.
#[cfg(feature = "runtime")]
pub use zerodown_runtime::retry;

/// Adopting zerodown on a database that already has a schema: a baseline migration written from it.
#[cfg(feature = "runtime")]
pub use zerodown_runtime::adopt;

#[cfg(feature = "cli")]
pub mod cli;

pub mod docs;

#[doc(hidden)]
pub mod __private {
    pub use zerodown_macros::__raw_lock as raw_lock;
    pub use zerodown_runtime::private::*;
}
