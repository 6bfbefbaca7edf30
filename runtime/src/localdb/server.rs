//! A PostgreSQL server that hands out fresh databases.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::cluster::{self, Cluster};
use super::database::{self, FreshDatabase};
use super::error::{Error, Result};
use super::url;
use crate::plan::PgVersion;

/// The database name prefix used unless `ZERODOWN_DATABASE_PREFIX` or
/// [`Discovery::database_prefix`](super::Discovery::database_prefix) says otherwise.
pub const DEFAULT_DATABASE_PREFIX: &str = "zd_";

/// The longest accepted database name prefix, which leaves room in PostgreSQL's 63 bytes for a label
/// and the unique suffix.
const MAX_PREFIX_LEN: usize = 20;

/// How long to wait for a connection to a server named by a URL.
pub(crate) const URL_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a [`Server`] came from.
///
/// ```
/// use zerodown_runtime::localdb::ServerKind;
///
/// let kind = ServerKind::Env { variable: "DATABASE_URL".into() };
/// assert_eq!(kind.to_string(), "the server in `DATABASE_URL`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerKind {
    /// The server named by an environment variable (`ZERODOWN_DATABASE_URL` or `DATABASE_URL`).
    Env {
        /// The variable's name.
        variable: String,
    },
    /// The local server on 127.0.0.1:5432 (or the address given to
    /// [`Discovery::local_server`](super::Discovery::local_server)).
    LocalServer,
    /// A throwaway cluster this process started; it is deleted when the process ends.
    Throwaway {
        /// The cluster's data directory.
        data_dir: PathBuf,
    },
    /// A server given by URL to [`Server::connect`].
    Explicit,
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerKind::Env { variable } => write!(f, "the server in `{variable}`"),
            ServerKind::LocalServer => f.write_str("the local server"),
            ServerKind::Throwaway { data_dir } => {
                write!(f, "a throwaway cluster in `{}`", data_dir.display())
            }
            ServerKind::Explicit => f.write_str("the server given by URL"),
        }
    }
}

/// A PostgreSQL server zerodown may create databases on.
///
/// Get the process-wide one with [`server()`](super::server) (discovery as described in the
/// [module documentation](super)), one found with explicit settings from
/// [`Discovery::discover`](super::Discovery::discover), one for a URL from [`Server::connect`], or
/// one on a cluster of your own from [`Server::from_cluster`].
///
/// A `Server` holds connect options only, no connections, so one value can serve tests running on
/// different Tokio runtimes.
///
/// ```no_run
/// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
/// let server = zerodown_runtime::localdb::server().await?;
/// println!("using {} ({})", server.kind(), server.version());
/// let db = server.fresh_database("my_test").await?;
/// # Ok(())
/// # }
/// ```
pub struct Server {
    kind: ServerKind,
    /// The maintenance database's URL; may contain a password.
    url: String,
    admin: PgConnectOptions,
    version: PgVersion,
    prefix: String,
    cluster: Option<Arc<Cluster>>,
    leftovers_removed: tokio::sync::OnceCell<()>,
}

impl Server {
    /// Connects to the server at `url` to check that it is usable (reachable within 10 s, and the
    /// role may create databases). The URL's database is the one connected to for creating and
    /// dropping databases.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// use zerodown_runtime::localdb::Server;
    ///
    /// let server = Server::connect("postgres://postgres@db.internal:5432/postgres").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Server> {
        let fail = |reason: String| Error::Connect {
            url: url::redact(url),
            reason,
        };
        let options =
            PgConnectOptions::from_str(url).map_err(|e| fail(format!("not a valid URL: {e}")))?;
        let version = probe(&options, URL_CONNECT_TIMEOUT).await.map_err(fail)?;
        Ok(Server::new(
            ServerKind::Explicit,
            url.to_owned(),
            options,
            version,
            None,
        ))
    }

    /// A server for databases on `cluster`, which it keeps running until the `Server` and every
    /// [`FreshDatabase`] made from it are dropped.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// use zerodown_runtime::localdb::{Cluster, Server};
    ///
    /// let server = Server::from_cluster(Cluster::start("/opt/pg/13/bin").await?);
    /// let db = server.fresh_database("on_13").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_cluster(cluster: Cluster) -> Server {
        let kind = ServerKind::Throwaway {
            data_dir: cluster.data_dir().to_path_buf(),
        };
        let url = cluster.url().to_owned();
        let admin = cluster.admin_options();
        let version = cluster.version();
        Server::new(kind, url, admin, version, Some(Arc::new(cluster)))
    }

    pub(crate) fn new(
        kind: ServerKind,
        url: String,
        admin: PgConnectOptions,
        version: PgVersion,
        cluster: Option<Arc<Cluster>>,
    ) -> Server {
        Server {
            kind,
            url,
            admin,
            version,
            prefix: DEFAULT_DATABASE_PREFIX.to_owned(),
            cluster,
            leftovers_removed: tokio::sync::OnceCell::new(),
        }
    }

    /// Where this server came from.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// use zerodown_runtime::localdb::ServerKind;
    ///
    /// let server = zerodown_runtime::localdb::server().await?;
    /// if let ServerKind::Throwaway { data_dir } = server.kind() {
    ///     println!("throwaway cluster in {}", data_dir.display());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn kind(&self) -> &ServerKind {
        &self.kind
    }

    /// The server's major version.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::server().await?;
    /// assert!(server.version() >= zerodown_runtime::plan::PgVersion(10));
    /// # Ok(())
    /// # }
    /// ```
    pub fn version(&self) -> PgVersion {
        self.version
    }

    /// Connect options for the maintenance database (the one databases are created from).
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = zerodown_runtime::localdb::server().await?;
    /// let admin = sqlx::PgPool::connect_with(server.admin_options()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn admin_options(&self) -> PgConnectOptions {
        self.admin.clone()
    }

    /// The maintenance database's URL. It contains the password if there is one: print
    /// [`redacted_url`](Server::redacted_url) instead.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::server().await?;
    /// std::process::Command::new("psql").arg(server.url()).arg("-l").status().unwrap();
    /// # Ok(())
    /// # }
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// [`url`](Server::url) with the password replaced by `***`, for messages and logs.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::server().await?;
    /// println!("using {}", server.redacted_url());
    /// # Ok(())
    /// # }
    /// ```
    pub fn redacted_url(&self) -> String {
        url::redact(&self.url)
    }

    /// The throwaway cluster behind this server, if it is one.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::server().await?;
    /// if let Some(cluster) = server.cluster() {
    ///     println!("server log in {}", cluster.dir().join("postgres.log").display());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_deref()
    }

    /// The prefix of the names of databases this server creates (default `zd_`).
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::server().await?;
    /// assert!(server.fresh_database("x").await?.name().starts_with(server.database_prefix()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn database_prefix(&self) -> &str {
        &self.prefix
    }

    /// Sets the prefix of the names of the databases this server creates and of the leftovers it
    /// removes: 1 to 20 lowercase ASCII letters, digits or `_`, starting with a letter. Use it to keep
    /// test suites sharing one server out of each other's way.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::Server::from_cluster(cluster).with_database_prefix("myapp_")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_database_prefix(mut self, prefix: &str) -> Result<Server> {
        validate_prefix(prefix)?;
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// Creates a new, empty database (from `template1`) named
    /// `<prefix><label>_<pid>_<counter>_<random>`, at most 63 bytes, the label lowercased with
    /// anything but `[a-z0-9_]` replaced by `_` and shortened as needed.
    ///
    /// Safe to call from many tasks, threads and processes at once: a failure because someone is
    /// connected to `template1` is retried for up to 30 s. The first call on a server also removes
    /// leftover databases of crashed runs (see
    /// [`remove_leftover_databases`](Server::remove_leftover_databases)).
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::server().await?;
    /// let db = server.fresh_database("users_email_index").await?;
    /// let pool = db.pool().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn fresh_database(&self, label: &str) -> Result<FreshDatabase> {
        self.leftovers_removed
            .get_or_init(|| async {
                match self.remove_leftover_databases().await {
                    Ok(removed) if !removed.is_empty() => {
                        tracing::info!(
                            ?removed,
                            "zerodown localdb: removed leftover databases of earlier runs"
                        )
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!("zerodown localdb: removing leftover databases: {err}")
                    }
                }
            })
            .await;
        database::create(self, label).await
    }

    /// Drops the databases with this server's prefix that an earlier process created with
    /// [`fresh_database`](Server::fresh_database) and never dropped (it crashed or was killed), and
    /// returns their names.
    ///
    /// A database counts as left over when it is more than 3 hours old and its creating process
    /// (recognized by pid and start time, on this machine) has ended; databases created from other
    /// machines count after 24 hours. Databases without zerodown's marker comment are never touched.
    /// A throwaway cluster has none, so nothing is done there.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::server().await?;
    /// for name in server.remove_leftover_databases().await? {
    ///     println!("dropped {name}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn remove_leftover_databases(&self) -> Result<Vec<String>> {
        if self.cluster.is_some() {
            return Ok(Vec::new());
        }
        database::remove_leftovers(&self.admin, self.version, &self.prefix).await
    }

    pub(crate) fn cluster_arc(&self) -> Option<Arc<Cluster>> {
        self.cluster.clone()
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("kind", &self.kind)
            .field("url", &self.redacted_url())
            .field("version", &self.version)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Checks a database name prefix: it must leave the name valid unquoted and leave room for the rest.
pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX_LEN
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidPrefix {
            prefix: prefix.to_owned(),
        })
    }
}

/// Connects within `timeout` and checks that the role may create databases; returns the major
/// version, or why the server cannot be used.
pub(crate) async fn probe(
    options: &PgConnectOptions,
    timeout: Duration,
) -> Result<PgVersion, String> {
    let options = options.clone().disable_statement_logging();
    let attempt = async {
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(|e| e.to_string())?;
        let version = cluster::server_version(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let (role, may_create): (String, bool) =
            sqlx::query_as("SELECT current_user::text, rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        let _ = conn.close().await;
        if may_create {
            Ok(version)
        } else {
            Err(format!(
                "role `{role}` may not create databases; grant it `CREATEDB` or use a superuser"
            ))
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f32())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(validate_prefix("zd_").is_ok());
        assert!(validate_prefix("zdtest_").is_ok());
        for bad in [
            "",
            "_zd",
            "1zd",
            "Zd_",
            "zd-",
            "zd\"",
            "abcdefghijklmnopqrstu",
        ] {
            assert!(validate_prefix(bad).is_err(), "{bad:?} accepted");
        }
    }
}
