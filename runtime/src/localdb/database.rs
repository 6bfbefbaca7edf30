//! Fresh databases: naming, creating, dropping, and removing the leftovers of crashed runs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use super::cluster::Cluster;
use super::error::{Error, Result};
use super::server::{Server, URL_CONNECT_TIMEOUT};
use super::{sys, url};
use crate::plan::PgVersion;

/// PostgreSQL's limit on identifiers, in bytes.
const MAX_NAME_LEN: usize = 63;

/// How long `CREATE DATABASE` / `DROP DATABASE` keep retrying while another session holds the
/// template (or the database) open.
const BUSY_RETRY_BUDGET: Duration = Duration::from_secs(30);

/// SQLSTATE `object_in_use`: "source database is being accessed by other users", or the database
/// to drop is.
const OBJECT_IN_USE: &str = "55006";

/// SQLSTATE `duplicate_database`.
const DUPLICATE_DATABASE: &str = "42P04";

/// Start of the comment that marks databases made by [`Server::fresh_database`].
const MARKER: &str = "zerodown localdb database:";

/// Age after which a database whose creating process is gone counts as left over.
const LEFTOVER_AGE: Duration = Duration::from_secs(3 * 60 * 60);

/// Age after which a database created from another machine counts as left over.
const FOREIGN_LEFTOVER_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// A database of its own for one test (or example), dropped when this value is dropped.
///
/// Made by [`Server::fresh_database`] or [`fresh_database`](super::fresh_database). Dropping it runs
/// `DROP DATABASE ... WITH (FORCE)` (PostgreSQL 13+; before that, its sessions are terminated
/// first) on a short-lived thread, and waits for it, so the database is gone when `drop` returns;
/// connections still open to it are closed by the server. [`drop_database`](FreshDatabase::drop_database)
/// does the same and reports errors.
///
/// `Debug` output and [`redacted_url`](FreshDatabase::redacted_url) never show the password.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
/// let pool = db.pool().await?;
/// sqlx::query("CREATE TABLE orders (id bigint PRIMARY KEY)").execute(&pool).await?;
/// pool.close().await;
/// db.drop_database().await?; // or let it drop
/// # Ok(())
/// # }
/// ```
pub struct FreshDatabase {
    name: String,
    url: String,
    options: PgConnectOptions,
    admin: PgConnectOptions,
    version: PgVersion,
    dropped: bool,
    /// Keeps a throwaway cluster running while this database exists.
    _cluster: Option<Arc<Cluster>>,
}

impl FreshDatabase {
    /// The database's name.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
    /// assert!(db.name().starts_with("zd_orders_"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Options to connect to this database.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use sqlx::Connection;
    ///
    /// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
    /// let mut conn = sqlx::PgConnection::connect_with(&db.connect_options()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// A URL of this database, for tools that take one. It contains the password if the server
    /// needs one: print [`redacted_url`](FreshDatabase::redacted_url) instead.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
    /// std::process::Command::new("psql").arg(db.url()).arg("-c").arg("SELECT 1").status()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// [`url`](FreshDatabase::url) with the password replaced by `***`.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
    /// println!("testing in {}", db.redacted_url());
    /// # Ok(())
    /// # }
    /// ```
    pub fn redacted_url(&self) -> String {
        url::redact(&self.url)
    }

    /// The server's major version.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
    /// println!("on {}", db.version());
    /// # Ok(())
    /// # }
    /// ```
    pub fn version(&self) -> PgVersion {
        self.version
    }

    /// A new connection pool (up to 10 connections) for this database. Each call makes a new pool,
    /// bound to the Tokio runtime it is first used on.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
    /// let pool = db.pool().await?;
    /// let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn pool(&self) -> Result<PgPool> {
        PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(URL_CONNECT_TIMEOUT)
            .connect_with(self.connect_options())
            .await
            .map_err(|e| Error::database(format!("connecting to database `{}`", self.name), e))
    }

    /// Keeps the database instead of dropping it, e.g. to look at what a failing test left, and
    /// returns its name. A later run removes it once it is a leftover (see
    /// [`Server::remove_leftover_databases`]); on a throwaway cluster it goes with the cluster.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
    /// eprintln!("kept {}", db.keep());
    /// # Ok(())
    /// # }
    /// ```
    pub fn keep(mut self) -> String {
        self.dropped = true;
        std::mem::take(&mut self.name)
    }

    /// Drops the database now, closing the connections still open to it, and reports failure.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let db = zerodown_runtime::localdb::fresh_database("orders").await?;
    /// db.drop_database().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn drop_database(mut self) -> Result<()> {
        self.dropped = true;
        drop_database(&self.admin, self.version, &self.name).await
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // `Drop` cannot await and may run inside a runtime (where `block_on` panics): drop on a
        // thread with a runtime of its own, and wait so the database is gone when we return.
        let admin = self.admin.clone();
        let version = self.version;
        let name = self.name.clone();
        let dropper = std::thread::Builder::new()
            .name("zerodown-drop-db".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::io("building a runtime to drop a database", e))?;
                runtime.block_on(drop_database(&admin, version, &name))
            });
        let outcome = match dropper {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(Error::io(
                    "dropping a database",
                    std::io::Error::other("the thread panicked"),
                ))
            }),
            Err(e) => Err(Error::io("starting a thread to drop a database", e)),
        };
        if let Err(err) = outcome {
            tracing::warn!("zerodown localdb: {err}");
        }
    }
}

impl fmt::Debug for FreshDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshDatabase")
            .field("name", &self.name)
            .field("url", &self.redacted_url())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Creates a fresh database on `server`, see [`Server::fresh_database`].
pub(crate) async fn create(server: &Server, label: &str) -> Result<FreshDatabase> {
    let admin = server.admin_options();
    let mut conn = connect(&admin).await?;
    let deadline = Instant::now() + BUSY_RETRY_BUDGET;
    let mut pause = Duration::from_millis(20);
    let mut duplicates = 0;
    let name = loop {
        let name = database_name(server.database_prefix(), label);
        // `template1` explicitly: it is PostgreSQL's default, but a server may be set up otherwise.
        let sql = format!(r#"CREATE DATABASE "{name}" TEMPLATE template1"#);
        match conn.execute(sql.as_str()).await {
            Ok(_) => break name,
            Err(e)
                if sqlstate(&e).as_deref() == Some(OBJECT_IN_USE) && Instant::now() < deadline =>
            {
                tracing::debug!(
                    "zerodown localdb: template1 is busy, retrying CREATE DATABASE: {e}"
                );
                tokio::time::sleep(jittered(pause)).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(e) if sqlstate(&e).as_deref() == Some(DUPLICATE_DATABASE) && duplicates < 3 => {
                duplicates += 1
            }
            Err(e) => {
                let _ = conn.close().await;
                return Err(Error::database(format!("creating database `{name}`"), e));
            }
        }
    };
    let marker = Marker::for_this_process().to_string();
    let comment = format!(r#"COMMENT ON DATABASE "{name}" IS '{marker}'"#);
    if let Err(e) = conn.execute(comment.as_str()).await {
        let _ = conn.close().await;
        let _ = drop_database(&admin, server.version(), &name).await;
        return Err(Error::database(format!("marking database `{name}`"), e));
    }
    let _ = conn.close().await;
    let options = admin.clone().database(&name);
    let url = url::with_database(server.url(), &name)
        .unwrap_or_else(|| options.to_url_lossy().to_string());
    tracing::debug!(database = %name, "zerodown localdb: created database");
    Ok(FreshDatabase {
        name,
        url,
        options,
        admin,
        version: server.version(),
        dropped: false,
        _cluster: server.cluster_arc(),
    })
}

/// Drops database `name`, closing its connections first.
pub(crate) async fn drop_database(
    admin: &PgConnectOptions,
    version: PgVersion,
    name: &str,
) -> Result<()> {
    let action = || format!("dropping database `{name}`");
    let mut conn = connect(admin).await?;
    let deadline = Instant::now() + BUSY_RETRY_BUDGET;
    let mut pause = Duration::from_millis(20);
    let result = loop {
        match drop_once(&mut conn, version, name).await {
            Ok(()) => break Ok(()),
            // Terminated sessions take a moment to go; a new one may have connected meanwhile.
            Err(e)
                if sqlstate(&e).as_deref() == Some(OBJECT_IN_USE) && Instant::now() < deadline =>
            {
                tokio::time::sleep(jittered(pause)).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(e) => break Err(Error::database(action(), e)),
        }
    };
    let _ = conn.close().await;
    if result.is_ok() {
        tracing::debug!(database = %name, "zerodown localdb: dropped database");
    }
    result
}

async fn drop_once(
    conn: &mut PgConnection,
    version: PgVersion,
    name: &str,
) -> Result<(), sqlx::Error> {
    if version >= PgVersion(13) {
        conn.execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
            .await?;
    } else {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
            .bind(name)
            .execute(&mut *conn)
            .await?;
        conn.execute(format!(r#"DROP DATABASE IF EXISTS "{name}""#).as_str())
            .await?;
    }
    Ok(())
}

/// See [`Server::remove_leftover_databases`].
pub(crate) async fn remove_leftovers(
    admin: &PgConnectOptions,
    version: PgVersion,
    prefix: &str,
) -> Result<Vec<String>> {
    let mut conn = connect(admin).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT d.datname::text, s.description FROM pg_database d \
         JOIN pg_shdescription s ON s.objoid = d.oid AND s.classoid = 'pg_database'::regclass \
         WHERE left(d.datname, length($1)) = $1 AND left(s.description, length($2)) = $2",
    )
    .bind(prefix)
    .bind(MARKER)
    .fetch_all(&mut conn)
    .await
    .map_err(|e| Error::database("listing leftover databases", e))?;
    let _ = conn.close().await;
    let now = sys::unix_now();
    let here = sys::machine_identity();
    let mut removed = Vec::new();
    for (name, description) in rows {
        let Some(marker) = Marker::parse(&description) else {
            continue;
        };
        if !marker.is_leftover(now, &here, |pid, start| {
            sys::process_start(pid) == Some(start)
        }) {
            continue;
        }
        match drop_database(admin, version, &name).await {
            Ok(()) => removed.push(name),
            Err(err) => tracing::warn!("zerodown localdb: removing leftover database: {err}"),
        }
    }
    Ok(removed)
}

/// What the comment on a fresh database records about its creator.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Marker {
    /// [`sys::machine_identity`] of the creator.
    machine: String,
    pid: u32,
    /// The creator's start time ([`sys::process_start`]); 0 when unknown.
    start: u64,
    /// Creation time, Unix seconds.
    created: u64,
}

impl Marker {
    fn for_this_process() -> Marker {
        let pid = std::process::id();
        Marker {
            machine: sys::machine_identity(),
            pid,
            start: sys::process_start(pid).unwrap_or(0),
            created: sys::unix_now(),
        }
    }

    fn parse(description: &str) -> Option<Marker> {
        let fields = description.strip_prefix(MARKER)?;
        let get = |key: &str| {
            fields
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
        };
        Some(Marker {
            machine: get("machine")?.to_owned(),
            pid: get("pid")?.parse().ok()?,
            start: get("start")?.parse().ok()?,
            created: get("created")?.parse().ok()?,
        })
    }

    /// Whether the database this marks is a leftover: old, and its creator is gone (or, for another
    /// machine whose processes we cannot see, very old).
    fn is_leftover(&self, now: u64, here: &str, alive: impl Fn(u32, u64) -> bool) -> bool {
        let age = now.saturating_sub(self.created);
        if age < LEFTOVER_AGE.as_secs() {
            return false;
        }
        let same_machine = self.machine == here && self.start != 0 && sys::has_proc();
        if same_machine {
            !alive(self.pid, self.start)
        } else {
            age >= FOREIGN_LEFTOVER_AGE.as_secs()
        }
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{MARKER} machine={} pid={} start={} created={}",
            self.machine, self.pid, self.start, self.created
        )
    }
}

/// A unique database name: `<prefix><label>_<pid>_<counter>_<random>`, at most 63 bytes.
pub(crate) fn database_name(prefix: &str, label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let suffix = format!(
        "_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        sys::random_u64() as u32
    );
    let room = MAX_NAME_LEN.saturating_sub(prefix.len() + suffix.len());
    let mut label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(room)
        .collect();
    if label.is_empty() {
        label = "db".chars().take(room).collect();
    }
    format!("{prefix}{label}{suffix}")
}

async fn connect(admin: &PgConnectOptions) -> Result<PgConnection> {
    let database = admin.get_database().unwrap_or("(default)").to_owned();
    let action = || format!("connecting to maintenance database `{database}`");
    // Our bookkeeping statements are not the user's: keep them out of sqlx's statement log (a
    // `CREATE DATABASE` waiting for template1 would otherwise be logged as a slow statement).
    let admin = admin.clone().disable_statement_logging();
    match tokio::time::timeout(URL_CONNECT_TIMEOUT, PgConnection::connect_with(&admin)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(Error::database(action(), e)),
        Err(_) => Err(Error::io(
            action(),
            std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 10 s"),
        )),
    }
}

fn sqlstate(err: &sqlx::Error) -> Option<String> {
    err.as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

/// `pause` plus up to 50 % random jitter, so that concurrent retries spread out.
fn jittered(pause: Duration) -> Duration {
    let extra = pause.as_millis() as u64 * (sys::random_u64() % 50) / 100;
    pause + Duration::from_millis(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_valid_and_short() {
        let a = database_name("zd_", "Users: email index!");
        let b = database_name("zd_", "Users: email index!");
        assert_ne!(a, b);
        assert!(a.starts_with("zd_users__email_index__"), "{a}");
        let long = database_name("zd_", &"x".repeat(200));
        assert!(long.len() <= MAX_NAME_LEN, "{long}");
        assert!(long.starts_with("zd_xxx"));
        assert!(database_name("zd_", "").starts_with("zd_db_"));
        let max = database_name("abcdefghijklmnopqrst", "label");
        assert!(max.len() <= MAX_NAME_LEN);
        for name in [a, long, max] {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn markers_round_trip() {
        let marker = Marker {
            machine: "host/boot-1".into(),
            pid: 42,
            start: 7,
            created: 1_000,
        };
        assert_eq!(Marker::parse(&marker.to_string()), Some(marker));
        assert_eq!(Marker::parse("some other comment"), None);
        assert_eq!(Marker::parse("zerodown localdb database: pid=1"), None);
    }

    #[test]
    fn leftovers_are_old_and_orphaned() {
        let hour = 3600;
        let marker = |machine: &str, created: u64| Marker {
            machine: machine.into(),
            pid: 42,
            start: 7,
            created,
        };
        let dead = |_, _| false;
        let alive = |_, _| true;
        let now = 100 * hour;
        // Young databases stay, whatever their creator's state.
        assert!(!marker("here", now - hour).is_leftover(now, "here", dead));
        // On this machine, an old database whose creator is gone is a leftover (with `/proc`).
        #[cfg(target_os = "linux")]
        {
            assert!(marker("here", now - 4 * hour).is_leftover(now, "here", dead));
            assert!(!marker("here", now - 30 * hour).is_leftover(now, "here", alive));
        }
        // Another machine's processes cannot be checked: only age counts.
        assert!(!marker("there", now - 4 * hour).is_leftover(now, "here", dead));
        assert!(marker("there", now - 25 * hour).is_leftover(now, "here", alive));
    }
}
