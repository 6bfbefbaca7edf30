//! Concurrent index builds: leftover detection and cleanup.
//!
//! A failed or interrupted `CREATE INDEX CONCURRENTLY` leaves an INVALID index behind: it is not used
//! by queries but is still maintained on every write, and a rebuild under the same name fails with
//! "already exists". So before every attempt a leftover INVALID index of the step's name is dropped
//! with `DROP INDEX CONCURRENTLY` (never a plain `DROP INDEX`, which would block the table), and after
//! a build fails for good the leftover is dropped too.

use sqlx::PgConnection;

use crate::history::quote_ident;

/// The index name as SQL, schema-qualified when a schema is given.
pub(crate) fn qualified(schema: &str, index: &str) -> String {
    if schema.is_empty() {
        quote_ident(index)
    } else {
        format!("{}.{}", quote_ident(schema), quote_ident(index))
    }
}

/// An index's state in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexState {
    /// No index of that name (a relation of another kind may exist).
    Absent,
    /// Built and usable.
    Valid,
    /// Left over by a failed or interrupted concurrent build (or one still running).
    Invalid,
}

/// Looks the index up through the search path when `schema` is empty, like the step's SQL does.
pub(crate) async fn state(
    conn: &mut PgConnection,
    schema: &str,
    index: &str,
) -> Result<IndexState, sqlx::Error> {
    let valid: Option<bool> = sqlx::query_scalar(
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
    )
    .bind(qualified(schema, index))
    .fetch_optional(conn)
    .await?;
    Ok(match valid {
        None => IndexState::Absent,
        Some(true) => IndexState::Valid,
        Some(false) => IndexState::Invalid,
    })
}

/// Drops the index if it exists and is INVALID, concurrently, under the connection's current
/// timeouts. Returns whether it dropped one.
pub(crate) async fn drop_invalid_leftover(
    conn: &mut PgConnection,
    schema: &str,
    index: &str,
) -> Result<bool, sqlx::Error> {
    if state(conn, schema, index).await? != IndexState::Invalid {
        return Ok(false);
    }
    // An index on a partitioned table (`relkind = 'I'`) is INVALID until every partition has its
    // index attached: it is the kept progress of a partitioned build, and cannot be dropped
    // concurrently anyway.
    let partitioned: Option<bool> =
        sqlx::query_scalar("SELECT relkind = 'I' FROM pg_class WHERE oid = to_regclass($1)")
            .bind(qualified(schema, index))
            .fetch_optional(&mut *conn)
            .await?;
    if partitioned != Some(false) {
        return Ok(false);
    }
    let sql = format!(
        "DROP INDEX CONCURRENTLY IF EXISTS {}",
        qualified(schema, index)
    );
    crate::connect::simple(conn, &sql).await?;
    tracing::info!(index = %qualified(schema, index), "dropped a leftover INVALID index before rebuilding it");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted() {
        assert_eq!(qualified("", "users_email_idx"), "\"users_email_idx\"");
        assert_eq!(qualified("app", "Odd\"Name"), "\"app\".\"Odd\"\"Name\"");
    }
}
