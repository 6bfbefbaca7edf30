//! Making sure the migrator's connections are real sessions, not a pooler's transaction-pooled
//! connections.
//!
//! # Why
//!
//! The migrator relies on session state twice: the migration lock is a session-level advisory lock
//! held on the control connection for the whole run, and steps that run outside a transaction
//! (`CREATE INDEX CONCURRENTLY`, ...) get their `lock_timeout` and `statement_timeout` from a
//! session-level `SET` sent just before the statement. Behind a pooler in transaction (or statement)
//! pooling mode, such as PgBouncer with `pool_mode = transaction`, each transaction of a client
//! connection may run on a different server connection: the lock would stay behind on a pooled
//! server connection (held for some other client, released by nobody), and the `SET` could land on
//! one server connection and the build on another, which would then run with no lock timeout at all
//! and block the application's writes for as long as it waits. So the migrator refuses such
//! connections with [`Error::SessionPooling`](crate::Error::SessionPooling) before it changes
//! anything.
//!
//! # How it is detected
//!
//! PgBouncer does not answer `SHOW pool_mode` on a data connection, and nothing else in the protocol
//! says a pooler is there, so the migrator observes it. When it opens its control connection it
//! marks that session (a custom setting, `zerodown.session_probe`, set to a random token) and notes
//! its server process id; then
//!
//! 1. the control connection reads its pid and the mark again,
//! 2. a second, short-lived connection reads its own pid and the mark,
//! 3. the control connection reads both once more.
//!
//! On a direct connection, or a session-pooled one, the control connection keeps its pid and its mark
//! every time and the second connection has another pid and no mark, always. Through a transaction
//! pooler the control connection's statements are served by whatever server connection is free: with
//! PgBouncer's default LIFO reuse (`server_round_robin = 0`) the second connection is served by the
//! very server connection the control connection just released (same pid, and it sees the mark);
//! with round-robin reuse the control connection's next statement goes to another server connection
//! whenever more than one is idle. Concurrent traffic through the pooler only makes a change of
//! server connection more likely. All queries of the probe use the simple query protocol, so no
//! prepared statement goes missing on the way.
//!
//! As a second line of defence, a step that runs outside a transaction reads back its server pid and
//! timeouts right before its statement; a session that changed server process since it was opened
//! stops the run with the same error.
//!
//! # With PgBouncer
//!
//! Point the migrator at PostgreSQL directly (a separate URL for migrations is common), or at a
//! PgBouncer database entry in session mode (`pool_mode = session`, per database in `[databases]`
//! or globally), whose pool has room for 2 server connections per migrator (a second connection
//! that gets no server connection within 5 s fails the run with
//! [`Error::NoSecondConnection`](crate::Error::NoSecondConnection)). The application may keep using
//! transaction pooling. sqlx sends the
//! `extra_float_digits` startup parameter, which PgBouncer refuses unless it is listed in
//! `ignore_startup_parameters`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection, PgConnection, Row};

use crate::error::Error;

/// The custom setting that marks the control connection's session.
pub(crate) const PROBE_SETTING: &str = "zerodown.session_probe";

/// The probe never waits longer than this in all.
const PROBE_LIMIT: Duration = Duration::from_secs(30);

/// How long the second connection may take to connect and answer its first query. A session pool
/// with no free server connection queues it (for PgBouncer's `query_wait_timeout`, 2 minutes by
/// default), which [`Error::NoSecondConnection`] reports; a direct server or a pooler with a free
/// server connection answers in milliseconds.
const SECOND_CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// Rounds of observations. One suffices on a quiet pooler; other clients' traffic can hand the
/// control connection its own server connection back by chance, so a few more make a miss unlikely
/// (each round is three short queries).
const ROUNDS: usize = 8;

/// A token unlikely to be anybody else's.
pub(crate) fn token(pid: u32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("zd-{pid}-{nanos}")
}

/// The query that reads a session's pid and mark.
fn read_sql() -> String {
    format!("SELECT pg_backend_pid()::text, coalesce(current_setting('{PROBE_SETTING}', true), '')")
}

/// Runs `sql` with the simple query protocol and returns the first row's text columns.
async fn texts(conn: &mut PgConnection, sql: &str) -> Result<Vec<String>, sqlx::Error> {
    let row: PgRow = sqlx::Executor::fetch_one(conn, sql).await?;
    (0..row.len())
        .map(|i| {
            row.try_get::<Option<String>, _>(i)
                .map(Option::unwrap_or_default)
        })
        .collect()
}

/// One observation: a pid and the mark seen.
async fn observe(conn: &mut PgConnection) -> Result<(i32, String), Error> {
    let row = texts(conn, &read_sql())
        .await
        .map_err(Error::db("checking that the connection keeps its session"))?;
    let pid = row[0].parse().map_err(|e: std::num::ParseIntError| {
        Error::db("checking that the connection keeps its session")(sqlx::Error::Decode(Box::new(
            e,
        )))
    })?;
    Ok((pid, row[1].clone()))
}

/// Checks that `control`, whose session was marked with `token` while served by `pid`, is a session
/// of its own (see the module docs). `options` opens the second connection.
pub(crate) async fn check(
    control: &mut PgConnection,
    pid: i32,
    token: &str,
    options: &PgConnectOptions,
) -> Result<(), Error> {
    match tokio::time::timeout(PROBE_LIMIT, probe(control, pid, token, options)).await {
        Ok(result) => result,
        Err(_) => Err(Error::SessionPooling {
            evidence: format!(
                "a second connection got no answer within {} s, as when a pooler has no free server connection",
                PROBE_LIMIT.as_secs()
            ),
        }),
    }
}

async fn probe(
    control: &mut PgConnection,
    pid: i32,
    token: &str,
    options: &PgConnectOptions,
) -> Result<(), Error> {
    let own = |seen: (i32, String)| -> Result<(), Error> {
        if seen.0 != pid {
            return Err(Error::SessionPooling {
                evidence: format!(
                    "this connection's statements were served by server process {} and then by {}",
                    pid, seen.0
                ),
            });
        }
        if seen.1 != token {
            return Err(Error::SessionPooling {
                evidence:
                    "a session setting made on this connection was gone at its next statement"
                        .to_owned(),
            });
        }
        Ok(())
    };
    own(observe(control).await?)?;
    // Named apart, so other sessions can tell it from the control and step connections.
    let name = format!(
        "{} session check",
        options.get_application_name().unwrap_or("zerodown")
    );
    let options = options.clone().application_name(&name);
    let first = async {
        let mut other = PgConnection::connect_with(&options)
            .await
            .map_err(|source| Error::Connect { source })?;
        let seen = observe(&mut other).await?;
        Ok::<_, Error>((other, seen))
    };
    let (mut other, mut seen) = match tokio::time::timeout(SECOND_CONNECTION_WAIT, first).await {
        Ok(opened) => opened?,
        Err(_) => {
            return Err(Error::NoSecondConnection {
                waited: SECOND_CONNECTION_WAIT,
            })
        }
    };
    let result = async {
        for round in 0..ROUNDS {
            if round > 0 {
                seen = observe(&mut other).await?;
            }
            let (other_pid, other_mark) = std::mem::take(&mut seen);
            if other_pid == pid {
                return Err(Error::SessionPooling {
                    evidence: format!("a second connection was served by the same server process ({pid}) as this one"),
                });
            }
            if other_mark == token {
                return Err(Error::SessionPooling { evidence: "a second connection saw a session setting made on this one".to_owned() });
            }
            own(observe(control).await?)?;
            own(observe(control).await?)?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = other.close().await {
        tracing::debug!(error = %e, "closing the session probe's connection failed");
    }
    result
}

/// The step connection's check right before a statement that runs outside a transaction: the server
/// process is still `pid` and the timeouts are the ones just set. Returns what is wrong, if anything.
pub(crate) async fn verify_step_session(
    conn: &mut PgConnection,
    pid: i32,
    lock_timeout: Duration,
    statement_timeout: Duration,
) -> Result<Option<String>, sqlx::Error> {
    // `pg_settings.setting` is in milliseconds for both, whatever unit the `SET` used.
    let row = texts(
        conn,
        "SELECT pg_backend_pid()::text,
                (SELECT setting FROM pg_settings WHERE name = 'lock_timeout'),
                (SELECT setting FROM pg_settings WHERE name = 'statement_timeout')",
    )
    .await?;
    let now: i32 = row[0].parse().unwrap_or(-1);
    if now != pid {
        return Ok(Some(format!("the step's connection was opened on server process {pid} but its statements now run on {now}")));
    }
    let (lock, statement) = (
        lock_timeout.as_millis().to_string(),
        statement_timeout.as_millis().to_string(),
    );
    if row[1] != lock || row[2] != statement {
        return Ok(Some(format!(
            "the timeouts set for the step are not in effect on its session (lock_timeout {} ms, statement_timeout {} ms expected, {} and {} found)",
            lock, statement, row[1], row[2]
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct connection to the test server's maintenance database (nothing is created).
    async fn direct() -> (PgConnection, PgConnectOptions, i32) {
        let server = crate::localdb::server()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let options = server.admin_options();
        let mut conn = PgConnection::connect_with(&options).await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        (conn, options, pid)
    }

    #[tokio::test]
    async fn a_direct_connection_passes_and_a_lost_mark_is_caught() {
        let (mut conn, options, pid) = direct().await;
        let token = token(std::process::id());
        sqlx::Executor::execute(
            &mut conn,
            format!("SELECT set_config('{PROBE_SETTING}', '{token}', false)").as_str(),
        )
        .await
        .unwrap();
        check(&mut conn, pid, &token, &options)
            .await
            .expect("a direct connection is a session of its own");
        // As if the next statement had been served by another server connection.
        let err = check(&mut conn, pid, "zd-another-token", &options)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("a session setting made on this connection was gone"),
            "{err}"
        );
        let err = check(&mut conn, pid + 1, &token, &options)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "served by server process {} and then by {pid}",
                pid + 1
            )),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was run"), "{err}");
    }

    #[tokio::test]
    async fn the_step_session_check_sees_lost_timeouts() {
        let (mut conn, _, pid) = direct().await;
        sqlx::Executor::execute(
            &mut conn,
            "SET lock_timeout = '250ms'; SET statement_timeout = '6h'",
        )
        .await
        .unwrap();
        let (lock, statement) = (Duration::from_millis(250), Duration::from_secs(6 * 3600));
        assert_eq!(
            verify_step_session(&mut conn, pid, lock, statement)
                .await
                .unwrap(),
            None
        );
        let moved = verify_step_session(&mut conn, pid + 1, lock, statement)
            .await
            .unwrap()
            .expect("a changed pid");
        assert!(
            moved.contains(&format!(
                "opened on server process {} but its statements now run on {pid}",
                pid + 1
            )),
            "{moved}"
        );
        sqlx::Executor::execute(&mut conn, "RESET lock_timeout")
            .await
            .unwrap();
        let lost = verify_step_session(&mut conn, pid, lock, statement)
            .await
            .unwrap()
            .expect("a lost timeout");
        assert!(
            lost.contains(
                "lock_timeout 250 ms, statement_timeout 21600000 ms expected, 0 and 21600000 found"
            ),
            "{lost}"
        );
    }
}
