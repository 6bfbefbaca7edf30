//! `detach partition .. concurrently`, which PostgreSQL runs as two transactions: the first marks the
//! partition as being detached and commits, the second waits for every transaction that may still see
//! it through the parent and then detaches it. Interrupted in between (a statement timeout, a lost
//! connection, a killed runner), the partition stays *pending*: queries on the parent no longer see
//! it, and running the statement again fails ("already pending detach"). `ALTER TABLE .. DETACH
//! PARTITION .. FINALIZE` finishes it; the runtime sends that instead when it finds the partition
//! pending (see [`Postcondition::Detached`](crate::plan::Postcondition::Detached)).

use sqlx::PgConnection;

/// Where a partition stands with its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// A partition of the parent.
    Attached,
    /// A `detach .. concurrently` committed its first transaction only.
    Pending,
    /// Not a partition of the parent (or either table is gone).
    Detached,
}

/// The state of `partition` (rendered) under `parent` (rendered).
pub(crate) async fn state(
    conn: &mut PgConnection,
    parent: &str,
    partition: &str,
) -> Result<State, sqlx::Error> {
    // `inhdetachpending` exists from PostgreSQL 14 (as does `concurrently`); read through jsonb so
    // the query also parses on older servers.
    let pending: Option<bool> = sqlx::query_scalar(
        "SELECT coalesce((to_jsonb(i) ->> 'inhdetachpending')::bool, false) FROM pg_inherits i
          WHERE i.inhparent = to_regclass($1) AND i.inhrelid = to_regclass($2)",
    )
    .bind(parent)
    .bind(partition)
    .fetch_optional(conn)
    .await?;
    Ok(match pending {
        None => State::Detached,
        Some(true) => State::Pending,
        Some(false) => State::Attached,
    })
}

/// The statement that finishes a pending detach.
pub(crate) fn finalize_sql(parent: &str, partition: &str) -> String {
    format!("ALTER TABLE {parent} DETACH PARTITION {partition} FINALIZE")
}
