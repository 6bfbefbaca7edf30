//! Who a step is waiting for.
//!
//! While a step runs, the migrator's control connection polls `pg_blocking_pids(step pid)`: the most
//! accurate answer, because it sees the exact sessions PostgreSQL queues the step behind. When a lock
//! timeout arrives before a poll saw anything, `holders` lists the sessions holding locks on the
//! step's tables instead.

use std::fmt;
use std::time::Duration;

use sqlx::PgConnection;

/// The longest query text kept per blocker.
const QUERY_CHARS: usize = 200;

/// A session that held a lock a step waited for.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocker {
    /// Backend process id (`pg_terminate_backend(pid)` ends it).
    pub pid: i32,
    /// `application_name` of the session; empty when unset.
    pub application_name: String,
    /// `pg_stat_activity.state` (`active`, `idle in transaction`, ...), when visible.
    pub state: Option<String>,
    /// The session's current or last query, whitespace collapsed and truncated.
    pub query: String,
    /// How long the session's transaction has been open, when it is in one.
    pub transaction_age: Option<Duration>,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.pid)?;
        let mut parts = Vec::new();
        if !self.application_name.is_empty() {
            parts.push(format!("application `{}`", self.application_name));
        }
        if let Some(state) = &self.state {
            parts.push(state.clone());
        }
        if let Some(age) = self.transaction_age {
            parts.push(format!("transaction open {:.1} s", age.as_secs_f64()));
        }
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        if !self.query.is_empty() {
            write!(f, ": `{}`", self.query)?;
        }
        Ok(())
    }
}

/// Formats a list of blockers on one line, for logs and errors.
pub(crate) fn list(blockers: &[Blocker]) -> String {
    if blockers.is_empty() {
        return "no blocking session seen".to_owned();
    }
    blockers
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Adds `new` to `seen`, replacing entries of the same pid (the later observation is more current).
pub(crate) fn merge(seen: &mut Vec<Blocker>, new: Vec<Blocker>) {
    for b in new {
        match seen.iter_mut().find(|s| s.pid == b.pid) {
            Some(s) => *s = b,
            None => seen.push(b),
        }
    }
}

fn shorten(query: &str) -> String {
    let collapsed = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= QUERY_CHARS {
        return collapsed;
    }
    let mut s: String = collapsed.chars().take(QUERY_CHARS).collect();
    s.push('…');
    s
}

pub(crate) type Row = (i32, String, Option<String>, String, Option<f64>);

pub(crate) fn from_rows(rows: Vec<Row>) -> Vec<Blocker> {
    rows.into_iter()
        .map(|(pid, application_name, state, query, age_ms)| Blocker {
            pid,
            application_name,
            state,
            query: shorten(&query),
            transaction_age: age_ms
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| Duration::from_millis(ms as u64)),
        })
        .collect()
}

/// Sessions `pid` is waiting for right now, oldest transaction first.
pub(crate) async fn blocking(
    conn: &mut PgConnection,
    pid: i32,
) -> Result<Vec<Blocker>, sqlx::Error> {
    // language=SQL
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.pid, coalesce(a.application_name, ''), a.state, coalesce(a.query, ''),
                (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8
         FROM pg_stat_activity a
         WHERE a.pid = ANY (pg_blocking_pids($1))
         ORDER BY a.xact_start NULLS LAST, a.pid",
    )
    .bind(pid)
    .fetch_all(conn)
    .await?;
    Ok(from_rows(rows))
}

/// Sessions other than `exclude` (and this one) holding any lock on one of `tables` (rendered names,
/// resolved with `to_regclass`; tables that do not exist are ignored), oldest transaction first.
pub(crate) async fn holders(
    conn: &mut PgConnection,
    tables: &[&str],
    exclude: &[i32],
) -> Result<Vec<Blocker>, sqlx::Error> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    // language=SQL
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.pid, coalesce(a.application_name, ''), a.state, coalesce(a.query, ''),
                (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8
         FROM pg_stat_activity a
         WHERE a.pid IN (
             SELECT l.pid FROM pg_locks l
             WHERE l.locktype = 'relation' AND l.granted
               AND l.relation IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)
               AND l.pid <> ALL ($2::int4[]) AND l.pid <> pg_backend_pid())
         ORDER BY a.xact_start NULLS LAST, a.pid",
    )
    .bind(&tables)
    .bind(exclude)
    .fetch_all(conn)
    .await?;
    Ok(from_rows(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocker(pid: i32, query: &str) -> Blocker {
        Blocker {
            pid,
            application_name: "psql".into(),
            state: Some("idle in transaction".into()),
            query: query.into(),
            transaction_age: Some(Duration::from_millis(12_345)),
        }
    }

    #[test]
    fn display_names_everything_useful() {
        assert_eq!(
            blocker(42, "LOCK TABLE t").to_string(),
            "pid 42 (application `psql`, idle in transaction, transaction open 12.3 s): `LOCK TABLE t`"
        );
        let bare = Blocker {
            pid: 7,
            application_name: String::new(),
            state: None,
            query: String::new(),
            transaction_age: None,
        };
        assert_eq!(bare.to_string(), "pid 7");
        assert_eq!(list(&[]), "no blocking session seen");
    }

    #[test]
    fn queries_are_collapsed_and_truncated() {
        assert_eq!(shorten("select\n   1\tfrom  t"), "select 1 from t");
        let long = "x".repeat(500);
        let s = shorten(&long);
        assert_eq!(s.chars().count(), QUERY_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn merge_keeps_the_latest_per_pid() {
        let mut seen = vec![blocker(1, "a"), blocker(2, "b")];
        merge(&mut seen, vec![blocker(2, "b2"), blocker(3, "c")]);
        let got: Vec<_> = seen.iter().map(|b| (b.pid, b.query.as_str())).collect();
        assert_eq!(got, [(1, "a"), (2, "b2"), (3, "c")]);
    }
}
