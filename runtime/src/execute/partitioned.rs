//! `create index concurrently` on a partitioned table, which PostgreSQL refuses ("cannot create index
//! on partitioned table concurrently"), lowered at run time to the online recipe:
//!
//! 1. `CREATE [UNIQUE] INDEX name ON ONLY parent ..`: catalog only, an INVALID index on the parent;
//! 2. per partition, `CREATE [UNIQUE] INDEX CONCURRENTLY <name>_<partition> ON partition ..` (a
//!    sub-partitioned partition gets steps 1-3 itself);
//! 3. per partition, `ALTER INDEX name ATTACH PARTITION <child>`; the parent index turns valid when
//!    every partition has an attached index.
//!
//! The partitions are read from the catalog (`pg_class.relkind = 'p'`, `pg_inherits`) at every
//! attempt, so the plan does not need to know the table is partitioned. Each attempt skips what is
//! done: a parent index already there (INVALID until complete) is kept, a partition whose index is
//! attached is skipped, a valid child index is attached, an INVALID child left by an interrupted build
//! is dropped concurrently and built again. So a retry or a resumed run converges.
//!
//! Locks: the builds take `SHARE UPDATE EXCLUSIVE` on one partition at a time, which blocks no read
//! or write. Steps 1 and 3 change the catalog only, but take brief locks that conflict with writes
//! (`SHARE` on the parent for step 1; the attach locks the child index): they run with a lock timeout
//! of at most [`CATALOG_LOCK_TIMEOUT`], so they never queue writers behind them for long; a timeout
//! there is retried like any lock timeout.

use std::time::Duration;

use sqlx::PgConnection;

use super::attempt::{AttemptError, Settled};
use super::index::{self, IndexState};
use crate::connect::simple;
use crate::history::quote_ident;
use crate::plan::phased::fit_identifier;
use crate::session;
use crate::timeout::Timeouts;

/// The longest lock wait of the catalog-only statements (index on `ONLY` the parent, attach).
pub(crate) const CATALOG_LOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// The build of one concurrent index step, as found in its statement.
#[derive(Debug, Clone)]
pub(crate) struct Build<'a> {
    /// `UNIQUE ` or empty.
    pub(crate) unique: &'static str,
    /// What follows `ON <table>`: ` USING .. (keys) INCLUDE (..) WHERE ..`.
    pub(crate) rest: &'a str,
}

impl<'a> Build<'a> {
    /// Splits `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] "name" ON <table><rest>`.
    pub(crate) fn parse(statement: &'a str, table: &str, unique: bool) -> Option<Build<'a>> {
        let needle = format!(" ON {table}");
        let at = statement.find(&needle)?;
        let rest = &statement[at + needle.len()..];
        if !statement.starts_with("CREATE ") || !rest.trim_start().starts_with(['(', 'U', 'u']) {
            return None;
        }
        Some(Build {
            unique: if unique { "UNIQUE " } else { "" },
            rest,
        })
    }
}

/// Whether `table` (as rendered in the step) is a partitioned table.
pub(crate) async fn is_partitioned(
    conn: &mut PgConnection,
    table: &str,
) -> Result<bool, sqlx::Error> {
    let kind: Option<String> =
        sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)")
            .bind(table)
            .fetch_optional(conn)
            .await?;
    Ok(kind.as_deref() == Some("p"))
}

struct Relation {
    oid: i64,
    /// `oid::regclass::text`: quoted and qualified as needed.
    sql: String,
    schema: String,
    name: String,
    kind: String,
}

async fn relation(conn: &mut PgConnection, name: &str) -> Result<Option<Relation>, sqlx::Error> {
    let row: Option<(i64, String, String, String, String)> = sqlx::query_as(
        "SELECT c.oid::int8, c.oid::regclass::text, n.nspname::text, c.relname::text, c.relkind::text
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
    )
    .bind(name)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(oid, sql, schema, name, kind)| Relation {
        oid,
        sql,
        schema,
        name,
        kind,
    }))
}

async fn partitions(conn: &mut PgConnection, parent: i64) -> Result<Vec<Relation>, sqlx::Error> {
    let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
        "SELECT c.oid::int8, c.oid::regclass::text, n.nspname::text, c.relname::text, c.relkind::text
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE i.inhparent = $1::int8::oid ORDER BY c.relname",
    )
    .bind(parent)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(oid, sql, schema, name, kind)| Relation {
            oid,
            sql,
            schema,
            name,
            kind,
        })
        .collect())
}

/// Whether the index `parent_index` has an attached (valid) index on `partition`.
async fn attached(
    conn: &mut PgConnection,
    parent_index: i64,
    partition: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits h JOIN pg_index x ON x.indexrelid = h.inhrelid
                        WHERE h.inhparent = $1::int8::oid AND x.indrelid = $2::int8::oid)",
    )
    .bind(parent_index)
    .bind(partition)
    .fetch_one(conn)
    .await
}

/// Runs the recipe for the index `schema`.`index` on the partitioned `table`. `pid` and `timeouts` are
/// the step's: each build runs with them, checked right before it, as a step that runs alone does.
/// (A resumed step whose index is already valid was settled by the caller.)
pub(crate) async fn build(
    conn: &mut PgConnection,
    pid: i32,
    timeouts: Timeouts,
    build: &Build<'_>,
    schema: &str,
    index: &str,
    table: &str,
) -> Result<Settled, AttemptError> {
    let parent_index = index::qualified(schema, index);
    let existing = index::state(conn, schema, index)
        .await
        .map_err(|e| AttemptError::new(e, "looking up the index"))?;
    let parent = relation(conn, table)
        .await
        .map_err(|e| AttemptError::new(e, "looking up the partitioned table"))?
        .ok_or_else(|| AttemptError::refused(table, format!("table {table} does not exist")))?;
    level(conn, pid, timeouts, build, &parent_index, &parent, existing).await?;
    Ok(Settled::Ran)
}

/// Steps 1-3 for one partitioned table whose index is `index_sql` (state `existing`).
async fn level(
    conn: &mut PgConnection,
    pid: i32,
    timeouts: Timeouts,
    build: &Build<'_>,
    index_sql: &str,
    table: &Relation,
    existing: IndexState,
) -> Result<(), AttemptError> {
    let catalog = Timeouts {
        lock: timeouts.lock.min(CATALOG_LOCK_TIMEOUT),
        statement: timeouts.statement,
    };
    if existing == IndexState::Absent || existing == IndexState::Valid {
        // Valid and not resumed: let PostgreSQL say "already exists", as for a plain table.
        let sql = format!(
            "CREATE {}INDEX {index_sql} ON ONLY {}{}",
            build.unique, table.sql, build.rest
        );
        run(conn, pid, catalog, &sql).await?;
    }
    let index = relation(conn, index_sql)
        .await
        .map_err(|e| AttemptError::new(e, "looking up the index"))?
        .ok_or_else(|| AttemptError::refused(index_sql, format!("index {index_sql} vanished")))?;
    let parts = partitions(conn, table.oid)
        .await
        .map_err(|e| AttemptError::new(e, "listing the partitions"))?;
    for part in parts {
        if attached(conn, index.oid, part.oid)
            .await
            .map_err(|e| AttemptError::new(e, "looking up the partition's index"))?
        {
            continue;
        }
        if part.kind == "f" {
            return Err(AttemptError::refused(
                &part.sql,
                format!(
                    "partition {} of {} is a foreign table, which cannot have an index; build the index on the other partitions by hand, or detach it",
                    part.sql, table.sql
                ),
            ));
        }
        let child_name = fit_identifier(format!("{}_{}", index.name, part.name));
        let child_sql = format!("{}.{}", quote_ident(&part.schema), quote_ident(&child_name));
        let child = index::state(conn, &part.schema, &child_name)
            .await
            .map_err(|e| AttemptError::new(e, "looking up the partition's index"))?;
        if part.kind == "p" {
            // A sub-partitioned partition: its own index on ONLY it, built the same way.
            Box::pin(level(conn, pid, timeouts, build, &child_sql, &part, child)).await?;
        } else {
            if child == IndexState::Invalid {
                // Left by an interrupted build: drop it without blocking the partition.
                run(
                    conn,
                    pid,
                    timeouts,
                    &format!("DROP INDEX CONCURRENTLY IF EXISTS {child_sql}"),
                )
                .await?;
            }
            if child != IndexState::Valid {
                let sql = format!(
                    "CREATE {}INDEX CONCURRENTLY {} ON {}{}",
                    build.unique,
                    quote_ident(&child_name),
                    part.sql,
                    build.rest
                );
                run(conn, pid, timeouts, &sql).await?;
            }
        }
        run(
            conn,
            pid,
            catalog,
            &format!("ALTER INDEX {} ATTACH PARTITION {child_sql}", index.sql),
        )
        .await?;
    }
    Ok(())
}

/// Sets `timeouts` on the session, checks the session is still the step's with them, runs `sql`.
async fn run(
    conn: &mut PgConnection,
    pid: i32,
    timeouts: Timeouts,
    sql: &str,
) -> Result<(), AttemptError> {
    let set = timeouts.set_sql(false);
    simple(conn, &set)
        .await
        .map_err(|e| AttemptError::new(e, &set))?;
    let changed = session::verify_step_session(conn, pid, timeouts.lock, timeouts.statement)
        .await
        .map_err(|e| AttemptError::new(e, "checking the step's session"))?;
    if let Some(evidence) = changed {
        return Err(AttemptError::session_changed(sql, evidence));
    }
    tracing::info!(sql, "partitioned index build");
    simple(conn, sql)
        .await
        .map_err(|e| AttemptError::new(e, sql))
}

#[cfg(test)]
mod tests {
    use super::Build;

    #[test]
    fn splits_the_statement() {
        let b = Build::parse(
            "CREATE UNIQUE INDEX CONCURRENTLY \"e_idx\" ON \"events\" USING \"btree\" (\"id\", \"at\") WHERE (\"id\" > 0)",
            "\"events\"",
            true,
        )
        .unwrap();
        assert_eq!(b.unique, "UNIQUE ");
        assert_eq!(
            b.rest,
            " USING \"btree\" (\"id\", \"at\") WHERE (\"id\" > 0)"
        );
        assert!(Build::parse("DROP INDEX x", "\"events\"", false).is_none());
    }
}
