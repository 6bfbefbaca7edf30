//! The migrator's own connections.
//!
//! Steps never run on an application pool's connection: the migrator opens connections from the
//! pool's connect options, changes their session settings freely, and closes them at the end, so no
//! `lock_timeout` or `statement_timeout` ever leaks back into the application.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgRow};
use sqlx::{Connection, PgConnection, Row};
use tokio::time::Instant;

use crate::error::Error;
use crate::plan::PgVersion;
use crate::retry::backoff::{Backoff, SplitMix64};
use crate::session;

/// Where the migrator connects: a pool (its connect options are reused, never its connections) or
/// connect options.
pub trait ConnectTarget {
    /// The options the migrator opens its own connections with.
    fn connect_options(&self) -> PgConnectOptions;
}

impl ConnectTarget for PgPool {
    fn connect_options(&self) -> PgConnectOptions {
        PgPool::connect_options(self).as_ref().clone()
    }
}

impl ConnectTarget for PgConnectOptions {
    fn connect_options(&self) -> PgConnectOptions {
        self.clone()
    }
}

impl<T: ConnectTarget + ?Sized> ConnectTarget for &T {
    fn connect_options(&self) -> PgConnectOptions {
        (**self).connect_options()
    }
}

/// Sends `sql` (one or more statements, no parameters) with the simple query protocol, which is what
/// statements like `CREATE INDEX CONCURRENTLY` need (never an implicit prepared statement).
///
/// Goes through `Executor::execute` (a boxed future) rather than `sqlx::raw_sql`, whose generic
/// `async fn` makes every caller's future fail the `Send` check (rust-lang/rust#100013).
pub(crate) async fn simple(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(conn, sql).await.map(drop)
}

/// Sends `statements` as one simple query (one round trip) and, when one fails, returns its index
/// with the error: the server runs them in order, reports each completed one, and stops at the first
/// error. Inside a transaction block, as the statements of a transactional step are.
pub(crate) async fn simple_all(
    conn: &mut PgConnection,
    statements: &[&str],
) -> Result<(), (usize, sqlx::Error)> {
    if let [one] = statements {
        return simple(conn, one).await.map_err(|e| (0, e));
    }
    let joined = statements.join(";\n");
    let mut stream = sqlx::Executor::fetch_many(conn, joined.as_str());
    let mut completed = 0;
    loop {
        let next =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await;
        match next {
            None => return Ok(()),
            Some(Ok(sqlx::Either::Left(_))) => completed += 1,
            Some(Ok(sqlx::Either::Right(_))) => {}
            Some(Err(e)) => return Err((completed.min(statements.len() - 1), e)),
        }
    }
}

/// Whether `e` means the connection is gone (and with it the session's advisory locks): an I/O or
/// protocol error, or SQLSTATE class 08 (connection exception) or 57P01-57P03 (the backend was
/// terminated or the server is shutting down).
pub(crate) fn is_broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// The `SET` bounding how long a session may stay idle inside a transaction: `limit` (a runner paused
/// mid-transaction, such as a frozen VM or a stopped container, is then disconnected by the server,
/// which rolls its transaction back and releases its locks), or the configured value when that is
/// lower (the DBA's stricter setting stays). `configured_ms` is 0 when none is configured; a `limit`
/// of zero is raised to 1 ms, since 0 would mean no limit at all.
pub(crate) fn idle_in_transaction_sql(limit: Duration, configured_ms: u64) -> String {
    let ours = (limit.as_millis() as u64).max(1);
    let ms = match configured_ms {
        0 => ours,
        theirs => theirs.min(ours),
    };
    format!("SET idle_in_transaction_session_timeout = {ms}")
}

/// What a connection is for; decides its session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Holds the advisory lock, writes the history outside step transactions, watches for blockers.
    Control,
    /// Runs the steps.
    Step,
}

/// An open connection and what was learnt opening it.
pub(crate) struct Opened {
    pub(crate) conn: PgConnection,
    pub(crate) server_version_num: u32,
    pub(crate) pid: i32,
}

impl Opened {
    pub(crate) fn server(&self) -> PgVersion {
        PgVersion::from_server_version_num(self.server_version_num)
    }
}

/// How long opening a connection may take by default (TCP, TLS, authentication): a host that drops
/// packets would otherwise hang the runner for as long as the operating system keeps retrying.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The first pause before connecting again after the server refused a connection.
const CONNECT_FIRST_PAUSE: Duration = Duration::from_millis(50);
/// The longest pause between connection attempts.
const CONNECT_MAX_PAUSE: Duration = Duration::from_secs(2);

/// The SQLSTATE of a refusal worth trying again: `53300` too_many_connections (the server's
/// `max_connections`, or a role's or database's connection limit, is reached) or `57P03`
/// cannot_connect_now (the server is starting up, or not yet accepting connections in recovery).
pub(crate) fn refusal_code(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .filter(|c| matches!(c.as_ref(), "53300" | "57P03"))
            .map(|c| c.into_owned()),
        _ => None,
    }
}

/// How one attempt at opening a connection ended.
enum Attempt {
    Opened(Opened),
    /// The server refused for now (see [`refusal_code`]), on the connection or on the session
    /// check's second connection; nothing is held any more.
    Refused(sqlx::Error),
    /// No answer in the time left.
    TimedOut,
    Failed(Error),
}

/// Opens a connection for `role` with `application_name` set, and sets its session up. A control
/// connection is first checked to be a session of its own (not a transaction-pooled connection, see
/// the `session` module); nothing is changed on the server before that check.
///
/// A server that refuses connections for now (`53300` too many connections, `57P03` starting up,
/// see [`refusal_code`]) is asked again after a pause (backoff with jitter, each retry logged at
/// `WARN`), for at most `timeout` in all. A refusal of the session check's second connection closes
/// the first one before the pause: runners that each held one connection while waiting for a second
/// could otherwise fill every slot and wait on each other until their timeouts. Fails with
/// [`Error::ConnectRefused`] when the server still refused at the end of `timeout`, with
/// [`Error::Connect`] when nothing answered in time or on any other connection failure.
///
/// `idle_in_transaction` bounds how long the session may sit idle inside a transaction (see
/// [`idle_in_transaction_sql`]).
pub(crate) async fn open(
    options: &PgConnectOptions,
    application_name: &str,
    role: Role,
    timeout: Duration,
    idle_in_transaction: Duration,
) -> Result<Opened, Error> {
    let options = options.clone().application_name(application_name);
    let start = Instant::now();
    let mut backoff = Backoff::new(CONNECT_FIRST_PAUSE, CONNECT_MAX_PAUSE);
    let mut rng = SplitMix64::from_entropy();
    let mut attempts = 0u32;
    let mut refused: Option<sqlx::Error> = None;
    loop {
        attempts += 1;
        let left = timeout.saturating_sub(start.elapsed());
        let error = match open_once(&options, role, left, idle_in_transaction).await {
            Attempt::Opened(opened) => return Ok(opened),
            Attempt::Failed(e) => return Err(e),
            Attempt::Refused(e) => e,
            Attempt::TimedOut => {
                return Err(match refused {
                    Some(source) => Error::ConnectRefused {
                        waited: start.elapsed(),
                        attempts,
                        source,
                    },
                    None => Error::Connect {
                        source: sqlx::Error::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "no answer from {}:{} within {} ms (raise it with `Migrator::connect_timeout` or the CLI's `--connect-timeout`)",
                                options.get_host(),
                                options.get_port(),
                                timeout.as_millis()
                            ),
                        )),
                    },
                })
            }
        };
        let pause = backoff.next_delay(&mut rng);
        let waited = start.elapsed();
        if waited + pause >= timeout {
            return Err(Error::ConnectRefused {
                waited,
                attempts,
                source: error,
            });
        }
        tracing::warn!(
            code = refusal_code(&error).unwrap_or_default(),
            attempt = attempts,
            pause_ms = pause.as_millis() as u64,
            left_ms = (timeout - waited).as_millis() as u64,
            error = %error,
            "the server refused a connection; trying again"
        );
        refused = Some(error);
        tokio::time::sleep(pause).await;
    }
}

/// One attempt of [`open`]; connecting may take at most `left`.
async fn open_once(
    options: &PgConnectOptions,
    role: Role,
    left: Duration,
    idle_in_transaction: Duration,
) -> Attempt {
    let conn = match tokio::time::timeout(left, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) if refusal_code(&e).is_some() => return Attempt::Refused(e),
        Ok(Err(source)) => return Attempt::Failed(Error::Connect { source }),
        Err(_) => return Attempt::TimedOut,
    };
    match set_up(conn, options, role, idle_in_transaction).await {
        Ok(opened) => Attempt::Opened(opened),
        Err(Error::Connect { source }) if refusal_code(&source).is_some() => {
            Attempt::Refused(source)
        }
        Err(e) => Attempt::Failed(e),
    }
}

/// Checks and sets up the session of a new connection (see [`open`]).
async fn set_up(
    mut conn: PgConnection,
    options: &PgConnectOptions,
    role: Role,
    idle_in_transaction: Duration,
) -> Result<Opened, Error> {
    // Simple query protocol until the session check passed: through a transaction pooler a prepared
    // statement may be missing on the next server connection, which would hide the real problem.
    let token = session::token(std::process::id());
    let sql = format!(
        "SELECT current_setting('server_version_num'), pg_backend_pid()::text, set_config('{}', '{token}', false), \
         (SELECT setting FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout')",
        session::PROBE_SETTING
    );
    let row: PgRow = sqlx::Executor::fetch_one(&mut conn, sql.as_str())
        .await
        .map_err(Error::db("reading the server version"))?;
    let (version, pid): (String, String) = (
        row.try_get(0)
            .map_err(Error::db("reading the server version"))?,
        row.try_get(1)
            .map_err(Error::db("reading the server version"))?,
    );
    let server_version_num: u32 = version.trim().parse().map_err(|_| {
        Error::HistoryCorrupt(format!("unexpected `server_version_num` {version:?}"))
    })?;
    let pid: i32 = pid
        .trim()
        .parse()
        .map_err(|_| Error::HistoryCorrupt(format!("unexpected `pg_backend_pid()` {pid:?}")))?;
    // The role's, database's or server's value, in milliseconds (0: none).
    let configured: Option<String> = row.try_get(3).ok().flatten();
    let configured_ms = configured
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if role == Role::Control {
        session::check(&mut conn, pid, &token, options).await?;
    }

    // The role's or database's defaults must not end our sessions: an idle control connection holds
    // the lock during a long step, and a step must never be killed by a default meant for the
    // application. Steps set their own timeouts before every attempt; the control connection's
    // bookkeeping gets bounded limits of its own. Idle *inside a transaction* is different: the
    // migrator only ever idles there between its own round trips, so a long idle means a frozen
    // runner holding locks (see `idle_in_transaction_sql`).
    let idle = idle_in_transaction_sql(idle_in_transaction, configured_ms);
    let mut setup = vec![idle.as_str()];
    if server_version_num >= 140_000 {
        setup.push("SET idle_session_timeout = 0");
    }
    match role {
        Role::Control => {
            // `CREATE TABLE IF NOT EXISTS` notices would show in every application's log.
            setup.push("SET client_min_messages = warning");
            setup.push("SET statement_timeout = '60s'");
            setup.push("SET lock_timeout = '10s'");
        }
        Role::Step => {
            setup.push("SET statement_timeout = 0");
            if server_version_num >= 140_000 {
                // If this process dies mid-statement, the server notices within a second and cancels
                // the statement instead of finishing it after the migration lock is gone.
                setup.push("SET client_connection_check_interval = '1s'");
            }
        }
    }
    simple(&mut conn, &setup.join("; "))
        .await
        .map_err(Error::db("setting up the migrator's session"))?;
    Ok(Opened {
        conn,
        server_version_num,
        pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_in_transaction_keeps_the_lower_of_ours_and_the_configured_value() {
        let five = Duration::from_secs(5);
        assert_eq!(
            idle_in_transaction_sql(five, 0),
            "SET idle_in_transaction_session_timeout = 5000"
        );
        assert_eq!(
            idle_in_transaction_sql(five, 2000),
            "SET idle_in_transaction_session_timeout = 2000"
        );
        assert_eq!(
            idle_in_transaction_sql(five, 60_000),
            "SET idle_in_transaction_session_timeout = 5000"
        );
        assert_eq!(
            idle_in_transaction_sql(Duration::ZERO, 0),
            "SET idle_in_transaction_session_timeout = 1"
        );
    }
}
