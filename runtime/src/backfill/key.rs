//! Finding the key a backfill walks, in the catalog.
//!
//! Keyset batches need a key that orders every row and identifies it: the columns must be `NOT NULL`
//! (a row with a null key would never fall in a batch) and unique (so a batch holds at most
//! `batch_size` rows). Without `by (..)` the key is the primary key, else the unique index with the
//! fewest columns whose columns are all `NOT NULL` and that is valid, not partial and not on
//! expressions. With `by (..)` the listed columns must be `NOT NULL` and carry such a unique index, in
//! that order (so the walk is an index range scan).

use sqlx::PgConnection;

use super::sql::{unquote, KeyColumn};

/// Why no key could be used.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// A catalog query failed.
    Database(sqlx::Error),
    /// The table, the columns or the index are not what a backfill needs; the text says what to do.
    Unusable(String),
}

impl From<sqlx::Error> for KeyError {
    fn from(e: sqlx::Error) -> Self {
        KeyError::Database(e)
    }
}

/// The key of `table` (rendered, as in the plan): `by` (rendered column names) or, when empty, the
/// primary key or a unique not-null key. `server_version_num` decides how index key columns are read
/// (`indnkeyatts` exists from PostgreSQL 11).
pub(crate) async fn resolve(
    conn: &mut PgConnection,
    table: &str,
    by: &[&str],
    server_version_num: u32,
) -> Result<Vec<KeyColumn>, KeyError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Err(KeyError::Unusable(format!(
            "table {table} does not exist; create it before the backfill (or check the schema in the name and the search_path)"
        )));
    }
    let candidates = unique_keys(conn, table, server_version_num).await?;
    if by.is_empty() {
        return match candidates.into_iter().find(|c| c.not_null) {
            Some(c) => Ok(c.columns),
            None => Err(KeyError::Unusable(format!(
                "table {table} has no primary key and no unique index whose columns are all NOT NULL, so rows cannot be walked in keyset batches; name a unique not-null key with `by (..)`, or add a primary key first"
            ))),
        };
    }

    let wanted: Vec<String> = by.iter().map(|c| unquote(c)).collect();
    let mut columns = Vec::new();
    for name in &wanted {
        let row: Option<(String, bool)> = sqlx::query_as(
            "SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped",
        )
        .bind(table)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((ty, not_null)) = row else {
            return Err(KeyError::Unusable(format!(
                "`by ({})`: table {table} has no column \"{name}\"",
                wanted.join(", ")
            )));
        };
        if !not_null {
            return Err(KeyError::Unusable(format!(
                "`by ({})`: column \"{name}\" of {table} is nullable, and rows where it is null would never be backfilled; set it NOT NULL first, or backfill by the primary key (leave out `by`)",
                wanted.join(", ")
            )));
        }
        columns.push(KeyColumn {
            name: name.clone(),
            ty,
        });
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    if !candidates.iter().any(|c| {
        c.columns
            .iter()
            .map(|k| k.name.as_str())
            .eq(names.iter().copied())
    }) {
        return Err(KeyError::Unusable(format!(
            "`by ({})`: {table} has no valid unique index on exactly ({}) in this order, so batches could not be bounded; create one with `create unique index concurrently`, or backfill by the primary key (leave out `by`)",
            wanted.join(", "),
            wanted.join(", ")
        )));
    }
    Ok(columns)
}

/// A unique index usable as a key, primary key first, then by fewest columns.
#[derive(Debug)]
struct Candidate {
    columns: Vec<KeyColumn>,
    not_null: bool,
}

async fn unique_keys(
    conn: &mut PgConnection,
    table: &str,
    server_version_num: u32,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let key_atts = if server_version_num >= 110_000 {
        "i.indnkeyatts"
    } else {
        "i.indnatts"
    };
    let sql = format!(
        "SELECT array_agg(a.attname::text ORDER BY k.ord), array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.ord), bool_and(a.attnotnull)
         FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indisready
           AND i.indpred IS NULL AND i.indexprs IS NULL AND k.ord <= {key_atts}
         GROUP BY i.indexrelid, i.indisprimary
         ORDER BY i.indisprimary DESC, count(*), i.indexrelid"
    );
    let rows: Vec<(Vec<String>, Vec<String>, bool)> =
        sqlx::query_as(&sql).bind(table).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(names, types, not_null)| Candidate {
            columns: names
                .into_iter()
                .zip(types)
                .map(|(name, ty)| KeyColumn { name, ty })
                .collect(),
            not_null,
        })
        .collect())
}
