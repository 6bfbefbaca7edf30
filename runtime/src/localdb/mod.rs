//! A PostgreSQL server for tests and examples, found or started with no configuration, handing out
//! fresh databases.
//!
//! One implementation serves zerodown's own integration tests, your tests of your migrations, and
//! the examples: [`fresh_database`] gives you an empty database of your own, on
//!
//! 1. the server in `ZERODOWN_DATABASE_URL`, else `DATABASE_URL`, when one is set (it must work:
//!    a set but unusable URL is an error naming the variable, not a reason to look elsewhere);
//! 2. else the local server on 127.0.0.1:5432, as user `$PGUSER` or `postgres`;
//! 3. else a throwaway [`Cluster`] started from the PostgreSQL server binaries (found through
//!    `ZERODOWN_PG_BINDIR`, `pg_config --bindir`, `PATH`, or Debian's `/usr/lib/postgresql/<N>/bin`),
//!    deleted when the process ends, even if it is killed;
//! 4. else the call fails with an [`Error::NoServer`] saying how to provide a server. Tests using it
//!    then fail loudly: they never skip.
//!
//! Discovery runs once per process ([`server`]); [`Discovery`] has the details and runs it with
//! other settings. Databases are named `zd_<label>_<pid>_<counter>_<random>` and dropped when their
//! [`FreshDatabase`] is dropped; those of crashed runs are removed later (see
//! [`Server::remove_leftover_databases`]). Set `ZERODOWN_DATABASE_PREFIX` to use another prefix than
//! `zd_`.
//!
//! Passwords are never printed: `Debug` output, log lines and error messages show URLs with the
//! password replaced by `***`. The server chosen is logged through `tracing` at info level.
//!
//! # Example
//!
//! ```no_run
//! use zerodown_runtime::localdb;
//!
//! #[tokio::test]
//! async fn adds_an_index() -> Result<(), Box<dyn std::error::Error>> {
//!     let db = localdb::fresh_database("adds_an_index").await?;
//!     let pool = db.pool().await?;
//!     sqlx::query("CREATE TABLE users (id bigint PRIMARY KEY, email text)").execute(&pool).await?;
//!     // ... run migrations against `pool`, assert on the schema ...
//!     Ok(())
//! } // the database is dropped here
//! # fn main() {}
//! ```
//!
//! # Environment variables
//!
//! | variable | effect |
//! |---|---|
//! | `ZERODOWN_DATABASE_URL`, `DATABASE_URL` | use this server (the first one set) |
//! | `PGUSER`, `PGPASSWORD` | user and password for the local server |
//! | `ZERODOWN_PG_BINDIR` | where the server binaries for a throwaway cluster are |
//! | `ZERODOWN_FORCE_THROWAWAY` | `1`: always use a throwaway cluster |
//! | `ZERODOWN_DATABASE_PREFIX` | prefix of database names instead of `zd_` |

mod cluster;
mod database;
mod discover;
mod error;
mod server;
mod sys;
mod url;

pub use cluster::Cluster;
pub use database::FreshDatabase;
pub use discover::{Discovery, DEBIAN_ROOT, ENV_VARS};
pub use error::{Error, Result};
pub use server::{Server, ServerKind, DEFAULT_DATABASE_PREFIX};

/// The outcome of discovery, kept for the whole process (failures too, so that every test reports
/// the same error quickly instead of searching again).
static SERVER: tokio::sync::OnceCell<Result<Server>> = tokio::sync::OnceCell::const_new();

/// The process-wide server: on first call, [`Discovery::from_env`]`().discover()`; afterwards the same
/// server (or the same error).
///
/// Safe to call from tests on different Tokio runtimes: the server holds no connections, and a
/// throwaway cluster it started lives until the process ends.
///
/// ```no_run
/// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
/// let server = zerodown_runtime::localdb::server().await?;
/// println!("tests run on {} ({})", server.kind(), server.version());
/// # Ok(())
/// # }
/// ```
pub async fn server() -> Result<&'static Server> {
    SERVER
        .get_or_init(|| async { Discovery::from_env().discover().await })
        .await
        .as_ref()
        .map_err(Clone::clone)
}

/// A fresh database on the process-wide [`server`]; see [`Server::fresh_database`].
///
/// ```no_run
/// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
/// let db = zerodown_runtime::localdb::fresh_database("my_test").await?;
/// let pool = db.pool().await?;
/// # Ok(())
/// # }
/// ```
pub async fn fresh_database(label: &str) -> Result<FreshDatabase> {
    server().await?.fresh_database(label).await
}

/// Futures that tests spawn on multi-threaded runtimes must be `Send` (sqlx's `raw_sql` would make
/// them fail to be, with a "not general enough" error in the caller).
#[cfg(test)]
#[allow(dead_code)]
fn futures_are_send(shared: &'static Server, db: FreshDatabase) {
    fn is_send<T: Send>(_: T) {}
    is_send(shared.fresh_database("x"));
    is_send(shared.remove_leftover_databases());
    is_send(db.drop_database());
    is_send(fresh_database("x"));
    is_send(server());
    is_send(Server::connect("x"));
    is_send(Cluster::start("x"));
    is_send(Discovery::from_env().discover());
}
