//! The one error type of [`localdb`](crate::localdb).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// The first line of [`Error::NoServer`]'s message: what to do when no server can be found.
pub(crate) const NO_SERVER_HELP: &str = "no PostgreSQL server found: set DATABASE_URL (or \
ZERODOWN_DATABASE_URL) to a server zerodown may create databases on, start one on 127.0.0.1:5432, \
or install the PostgreSQL server binaries (Debian: `apt-get install postgresql`; or set \
ZERODOWN_PG_BINDIR)";

/// Why a server could not be found or started, or a database not created or dropped.
///
/// Messages never contain a password: URLs in them are redacted (`postgres://user:***@host/db`).
/// The type is `Clone` because the outcome of discovery is cached for the whole process and handed
/// to every caller.
///
/// ```
/// use zerodown_runtime::localdb::Error;
///
/// let err = Error::NoServer { tried: vec!["127.0.0.1:5432: connection refused".into()] };
/// assert!(err.to_string().starts_with("no PostgreSQL server found: set DATABASE_URL"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Discovery found neither a configured server, nor a local one, nor the server binaries to start
    /// a throwaway cluster. The message says what to do, then lists what was tried.
    #[error("{NO_SERVER_HELP}{}", tried_lines(.tried))]
    NoServer {
        /// One line per place looked at, with why it did not work.
        tried: Vec<String>,
    },

    /// `ZERODOWN_DATABASE_URL` or `DATABASE_URL` is set but the server it names cannot be used.
    #[error(
        "cannot use the PostgreSQL server in `{variable}` ({url}): {reason}; check that the \
             server is running and that `{variable}` is right, or unset it to let zerodown find \
             or start a server"
    )]
    EnvServer {
        /// The variable that was read.
        variable: String,
        /// Its value with the password replaced by `***`.
        url: String,
        /// What went wrong (connection error, timeout, missing `CREATEDB` privilege).
        reason: String,
    },

    /// A URL handed to [`Server::connect`](crate::localdb::Server::connect) cannot be used.
    #[error("cannot use the PostgreSQL server at {url}: {reason}")]
    Connect {
        /// The URL with the password replaced by `***`.
        url: String,
        /// What went wrong.
        reason: String,
    },

    /// A throwaway cluster could not be created or started.
    #[error("could not start a throwaway PostgreSQL cluster with the binaries in `{}`: {reason}",
            bindir.display())]
    Cluster {
        /// The directory holding `initdb`, `pg_ctl` and `postgres`.
        bindir: PathBuf,
        /// What failed, with the tool's output or the server log.
        reason: String,
    },

    /// A database prefix (from `ZERODOWN_DATABASE_PREFIX` or
    /// [`Discovery::database_prefix`](crate::localdb::Discovery::database_prefix)) is unusable.
    #[error(
        "`{prefix}` is not a valid database name prefix; use 1 to 20 lowercase ASCII letters, \
             digits or `_`, starting with a letter"
    )]
    InvalidPrefix {
        /// The rejected prefix.
        prefix: String,
    },

    /// A statement against the server failed (creating, dropping or listing databases).
    #[error("{action} failed: {source}")]
    Database {
        /// What was being done, e.g. "create database `zd_users_123_1_ab12cd34`".
        action: String,
        /// The driver's error.
        #[source]
        source: Arc<sqlx::Error>,
    },

    /// A file-system or process operation failed.
    #[error("{action} failed: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
}

impl Error {
    pub(crate) fn database(action: impl Into<String>, source: sqlx::Error) -> Error {
        Error::Database {
            action: action.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            action: action.into(),
            source: Arc::new(source),
        }
    }
}

fn tried_lines(tried: &[String]) -> String {
    tried
        .iter()
        .map(|line| format!("\n  tried {line}"))
        .collect()
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
