//! The SQL of a backfill, generated from the plan and the key found in the catalog. Pure functions, so
//! the quoting and the composite-key comparisons are unit-tested without a server.
//!
//! Key values travel as text: every key column is read back with `::text` and sent as a `text`
//! parameter cast with `$n::text::<type>`, the type spelled by the catalog's `format_type`. Any type
//! with a text form works (integers, `uuid`, `text` with its collation, timestamps, enums, ...), and the
//! cursor stored in the history is plain text. Each batch sets `DateStyle`, `IntervalStyle` and
//! `extra_float_digits` locally (see [`SESSION_SQL`]), so a value printed by one session parses to the
//! same value in another.
//!
//! Batches also commit with `synchronous_commit = off`: a batch's commit does not wait for its WAL to
//! reach disk, which for small batches is most of their cost. Nothing is at risk: the batch and its
//! cursor are one transaction, so a server crash that loses the last batches loses their cursor with
//! them and the next run redoes exactly those; and the step is recorded done by a synchronous commit,
//! whose WAL flush covers every batch before it (WAL is flushed in order).

use crate::history::quote_ident;

/// Settings of every backfill transaction that make key values round-trip through text exactly.
pub(crate) const SESSION_SQL: &str =
    "SET LOCAL datestyle = 'ISO, YMD'; SET LOCAL intervalstyle = 'postgres'; \
     SET LOCAL extra_float_digits = 3; SET LOCAL synchronous_commit = off";

/// One column of the batching key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyColumn {
    /// The column name, unquoted (as in `pg_attribute.attname`).
    pub(crate) name: String,
    /// Its type as `format_type` spells it (`bigint`, `character varying(100)`, `"Mood"`).
    pub(crate) ty: String,
}

/// The statements of one backfill, for one table and key.
#[derive(Debug, Clone)]
pub(crate) struct BatchSql {
    table: String,
    key: Vec<KeyColumn>,
    set_sql: String,
    pending_sql: String,
}

impl BatchSql {
    /// `table` and the SQL fragments are rendered (quoted) by the macro; `key` comes from the catalog
    /// (at least one column, or the SQL is not valid).
    pub(crate) fn new(
        table: &str,
        key: Vec<KeyColumn>,
        set_sql: &str,
        pending_sql: &str,
    ) -> BatchSql {
        BatchSql {
            table: table.to_owned(),
            key,
            set_sql: set_sql.to_owned(),
            pending_sql: pending_sql.to_owned(),
        }
    }

    /// The key columns.
    pub(crate) fn key(&self) -> &[KeyColumn] {
        &self.key
    }

    /// `"a", "b"`
    fn columns(&self) -> String {
        self.key
            .iter()
            .map(|k| quote_ident(&k.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `("a", "b")`, or `"a"` for a one-column key (a one-element row is not a row in SQL).
    fn key_row(&self) -> String {
        if self.key.len() == 1 {
            quote_ident(&self.key[0].name)
        } else {
            format!("({})", self.columns())
        }
    }

    /// The key as parameters `$first..`, each cast from text to its column's type.
    fn param_row(&self, first: usize) -> String {
        let params: Vec<String> = self
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("${}::text::{}", first + i, k.ty))
            .collect();
        if params.len() == 1 {
            params.into_iter().next().unwrap_or_default()
        } else {
            format!("({})", params.join(", "))
        }
    }

    /// The key columns read as text: `"a"::text, "b"::text`.
    fn as_text(&self) -> String {
        self.key
            .iter()
            .map(|k| format!("{}::text", quote_ident(&k.name)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `alias."a" DESC, alias."b" DESC`. Qualified: a bare name in an `ORDER BY` next to
    /// [`as_text`](Self::as_text) would mean the `::text` output column of that name, which sorts as
    /// text ("999" after "1000").
    fn descending(&self, alias: &str) -> String {
        self.key
            .iter()
            .map(|k| format!("{alias}.{} DESC", quote_ident(&k.name)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The pending predicate in parentheses, or `None` when every row is pending.
    fn pending(&self) -> Option<String> {
        let p = self.pending_sql.trim();
        (!p.is_empty()).then(|| format!("({p})"))
    }

    /// The conditions of the rows a batch may visit: a key after the cursor (parameters `$1..$n`,
    /// when `after_cursor`), up to the pass's end (the next `n` parameters, see
    /// [`last_key`](Self::last_key)), and matching the pending predicate when `only_pending`.
    fn batch_range(&self, after_cursor: bool, only_pending: bool) -> String {
        let mut conditions = Vec::new();
        let mut end_param = 1;
        if after_cursor {
            conditions.push(format!("{} > {}", self.key_row(), self.param_row(1)));
            end_param += self.key.len();
        }
        conditions.push(format!(
            "{} <= {}",
            self.key_row(),
            self.param_row(end_param)
        ));
        if only_pending {
            conditions.extend(self.pending());
        }
        conditions.join(" AND ")
    }

    /// The upper bound of a full batch: the `limit`-th key (as text) after the cursor within the
    /// pass (see [`batch_range`](Self::batch_range)), read off the key's index without touching the
    /// others. No row: fewer than `limit` rows are left, ask [`next_bound`](Self::next_bound).
    /// The key is turned into text outside the scan, so only the one key kept is (inside, every
    /// key the `OFFSET` skips would be: a third of the query's time).
    pub(crate) fn nth_key(&self, after_cursor: bool, only_pending: bool, limit: u64) -> String {
        let columns = self.columns();
        format!(
            "SELECT {} FROM (SELECT {columns} FROM {} WHERE {} ORDER BY {columns} OFFSET {} LIMIT 1) AS zerodown_batch",
            self.as_text(),
            self.table,
            self.batch_range(after_cursor, only_pending),
            limit.saturating_sub(1),
        )
    }

    /// The upper bound of the next batch: the last key (as text) among the next `limit` keys within
    /// the pass (see [`batch_range`](Self::batch_range)), with the number of rows in that range as
    /// a last `bigint` column. `only_pending` restricts the rows to those matching the pending
    /// predicate (the sweeps after the main pass); the main pass walks every key so each batch covers
    /// `limit` rows whatever their state. No row: the pass is over. (Counting and sorting the batch
    /// costs a tenth of its update: [`nth_key`](Self::nth_key) comes first.)
    pub(crate) fn next_bound(&self, after_cursor: bool, only_pending: bool, limit: u64) -> String {
        let columns = self.columns();
        format!(
            "SELECT {}, count(*) OVER () FROM (SELECT {columns} FROM {} WHERE {} ORDER BY {columns} LIMIT {limit}) AS zerodown_batch ORDER BY {} LIMIT 1",
            self.as_text(),
            self.table,
            self.batch_range(after_cursor, only_pending),
            self.descending("zerodown_batch"),
        )
    }

    /// The last key (as text) of the rows a pass visits (those matching the pending predicate when
    /// `only_pending`), read when the pass starts: the pass ends there. Rows inserted after that with
    /// a greater key are left to the verification and the sweeps, so a pass ends even while the
    /// application inserts faster than batches go. No row: nothing to visit.
    pub(crate) fn last_key(&self, only_pending: bool) -> String {
        let filter = match self.pending() {
            Some(p) if only_pending => format!(" WHERE {p}"),
            _ => String::new(),
        };
        format!(
            "SELECT {} FROM {} AS zerodown_last{filter} ORDER BY {} LIMIT 1",
            self.as_text(),
            self.table,
            self.descending("zerodown_last")
        )
    }

    /// The update of one batch: the rows with a key after the cursor (`$1..$n`, when `after_cursor`)
    /// up to and including the batch's upper bound (the next `n` parameters), that still match the
    /// pending predicate.
    pub(crate) fn update(&self, after_cursor: bool) -> String {
        let n = self.key.len();
        let mut conditions = Vec::new();
        let upper_first = if after_cursor {
            conditions.push(format!("{} > {}", self.key_row(), self.param_row(1)));
            n + 1
        } else {
            1
        };
        conditions.push(format!(
            "{} <= {}",
            self.key_row(),
            self.param_row(upper_first)
        ));
        conditions.extend(self.pending());
        format!(
            "UPDATE {} SET {} WHERE {}",
            self.table,
            self.set_sql,
            conditions.join(" AND ")
        )
    }

    /// Rows that still need the backfill; `None` when the plan has no pending predicate (then nothing
    /// can be verified: the pass itself is the whole job).
    pub(crate) fn count_pending(&self) -> Option<String> {
        self.pending()
            .map(|p| format!("SELECT count(*) FROM {} WHERE {p}", self.table))
    }

    /// The whole backfill as one statement, for messages and the history (`UPDATE t SET .. WHERE ..`).
    pub(crate) fn describe(table: &str, set_sql: &str, pending_sql: &str) -> String {
        let p = pending_sql.trim();
        if p.is_empty() {
            format!("UPDATE {table} SET {set_sql}")
        } else {
            format!("UPDATE {table} SET {set_sql} WHERE {p}")
        }
    }
}

/// The plan's rendered key column (`"id"`, `"Weird""Name"`, or a bare `id`) as the catalog spells it.
pub(crate) fn unquote(rendered: &str) -> String {
    let s = rendered.trim();
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        // Unquoted identifiers fold to lowercase, as PostgreSQL folds them.
        None => s.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> KeyColumn {
        KeyColumn {
            name: name.to_owned(),
            ty: ty.to_owned(),
        }
    }

    fn single() -> BatchSql {
        BatchSql::new(
            "\"users\"",
            vec![col("id", "bigint")],
            "\"email_lower\" = lower(\"email\")",
            "\"email_lower\" IS DISTINCT FROM lower(\"email\")",
        )
    }

    fn composite() -> BatchSql {
        BatchSql::new(
            "\"app\".\"order lines\"",
            vec![
                col("order_id", "uuid"),
                col("Line\"No", "integer"),
                col("at", "timestamp with time zone"),
            ],
            "\"c\" = 1",
            "\"c\" IS NULL",
        )
    }

    #[test]
    fn single_column_key() {
        let b = single();
        assert_eq!(
            b.next_bound(false, false, 1000),
            "SELECT \"id\"::text, count(*) OVER () FROM (SELECT \"id\" FROM \"users\" WHERE \"id\" <= $1::text::bigint ORDER BY \"id\" LIMIT 1000) AS zerodown_batch ORDER BY zerodown_batch.\"id\" DESC LIMIT 1"
        );
        assert_eq!(
            b.next_bound(true, false, 500),
            "SELECT \"id\"::text, count(*) OVER () FROM (SELECT \"id\" FROM \"users\" WHERE \"id\" > $1::text::bigint AND \"id\" <= $2::text::bigint ORDER BY \"id\" LIMIT 500) AS zerodown_batch ORDER BY zerodown_batch.\"id\" DESC LIMIT 1"
        );
        assert_eq!(
            b.update(false),
            "UPDATE \"users\" SET \"email_lower\" = lower(\"email\") WHERE \"id\" <= $1::text::bigint AND (\"email_lower\" IS DISTINCT FROM lower(\"email\"))"
        );
        assert_eq!(
            b.update(true),
            "UPDATE \"users\" SET \"email_lower\" = lower(\"email\") WHERE \"id\" > $1::text::bigint AND \"id\" <= $2::text::bigint AND (\"email_lower\" IS DISTINCT FROM lower(\"email\"))"
        );
        assert_eq!(
            b.count_pending().unwrap(),
            "SELECT count(*) FROM \"users\" WHERE (\"email_lower\" IS DISTINCT FROM lower(\"email\"))"
        );
    }

    #[test]
    fn a_full_batch_ends_at_its_nth_key() {
        assert_eq!(
            single().nth_key(true, false, 500),
            "SELECT \"id\"::text FROM (SELECT \"id\" FROM \"users\" WHERE \"id\" > $1::text::bigint AND \"id\" <= $2::text::bigint ORDER BY \"id\" OFFSET 499 LIMIT 1) AS zerodown_batch"
        );
        // Ordered by the columns (the inner query has no text columns of the same names).
        assert_eq!(
            composite().nth_key(false, true, 10),
            "SELECT \"order_id\"::text, \"Line\"\"No\"::text, \"at\"::text FROM (SELECT \"order_id\", \"Line\"\"No\", \"at\" FROM \"app\".\"order lines\" \
             WHERE (\"order_id\", \"Line\"\"No\", \"at\") <= ($1::text::uuid, $2::text::integer, $3::text::timestamp with time zone) \
             AND (\"c\" IS NULL) ORDER BY \"order_id\", \"Line\"\"No\", \"at\" OFFSET 9 LIMIT 1) AS zerodown_batch"
        );
    }

    #[test]
    fn a_pass_ends_at_the_last_key_it_started_with() {
        let b = single();
        assert_eq!(
            b.last_key(false),
            "SELECT \"id\"::text FROM \"users\" AS zerodown_last ORDER BY zerodown_last.\"id\" DESC LIMIT 1"
        );
        assert_eq!(
            b.last_key(true),
            "SELECT \"id\"::text FROM \"users\" AS zerodown_last WHERE (\"email_lower\" IS DISTINCT FROM lower(\"email\")) ORDER BY zerodown_last.\"id\" DESC LIMIT 1"
        );
        assert_eq!(
            b.next_bound(true, false, 100),
            "SELECT \"id\"::text, count(*) OVER () FROM (SELECT \"id\" FROM \"users\" WHERE \"id\" > $1::text::bigint AND \"id\" <= $2::text::bigint ORDER BY \"id\" LIMIT 100) AS zerodown_batch ORDER BY zerodown_batch.\"id\" DESC LIMIT 1"
        );
        assert_eq!(
            b.next_bound(false, false, 100),
            "SELECT \"id\"::text, count(*) OVER () FROM (SELECT \"id\" FROM \"users\" WHERE \"id\" <= $1::text::bigint ORDER BY \"id\" LIMIT 100) AS zerodown_batch ORDER BY zerodown_batch.\"id\" DESC LIMIT 1"
        );
        let c = composite();
        assert_eq!(
            c.last_key(true),
            "SELECT \"order_id\"::text, \"Line\"\"No\"::text, \"at\"::text FROM \"app\".\"order lines\" AS zerodown_last WHERE (\"c\" IS NULL) \
             ORDER BY zerodown_last.\"order_id\" DESC, zerodown_last.\"Line\"\"No\" DESC, zerodown_last.\"at\" DESC LIMIT 1"
        );
        assert!(c
            .next_bound(true, true, 10)
            .contains("> ($1::text::uuid, $2::text::integer, $3::text::timestamp with time zone) AND (\"order_id\", \"Line\"\"No\", \"at\") <= ($4::text::uuid, $5::text::integer, $6::text::timestamp with time zone) AND (\"c\" IS NULL)"));
    }

    #[test]
    fn composite_key_uses_row_comparisons_and_quotes_names() {
        let b = composite();
        assert_eq!(
            b.update(true),
            "UPDATE \"app\".\"order lines\" SET \"c\" = 1 WHERE (\"order_id\", \"Line\"\"No\", \"at\") > ($1::text::uuid, $2::text::integer, $3::text::timestamp with time zone) \
             AND (\"order_id\", \"Line\"\"No\", \"at\") <= ($4::text::uuid, $5::text::integer, $6::text::timestamp with time zone) AND (\"c\" IS NULL)"
        );
        assert_eq!(
            b.next_bound(true, true, 10),
            "SELECT \"order_id\"::text, \"Line\"\"No\"::text, \"at\"::text, count(*) OVER () FROM (SELECT \"order_id\", \"Line\"\"No\", \"at\" FROM \"app\".\"order lines\" \
             WHERE (\"order_id\", \"Line\"\"No\", \"at\") > ($1::text::uuid, $2::text::integer, $3::text::timestamp with time zone) \
             AND (\"order_id\", \"Line\"\"No\", \"at\") <= ($4::text::uuid, $5::text::integer, $6::text::timestamp with time zone) AND (\"c\" IS NULL) \
             ORDER BY \"order_id\", \"Line\"\"No\", \"at\" LIMIT 10) AS zerodown_batch ORDER BY zerodown_batch.\"order_id\" DESC, zerodown_batch.\"Line\"\"No\" DESC, zerodown_batch.\"at\" DESC LIMIT 1"
        );
        assert_eq!(
            b.next_bound(false, true, 10),
            "SELECT \"order_id\"::text, \"Line\"\"No\"::text, \"at\"::text, count(*) OVER () FROM (SELECT \"order_id\", \"Line\"\"No\", \"at\" FROM \"app\".\"order lines\" \
             WHERE (\"order_id\", \"Line\"\"No\", \"at\") <= ($1::text::uuid, $2::text::integer, $3::text::timestamp with time zone) AND (\"c\" IS NULL) ORDER BY \"order_id\", \"Line\"\"No\", \"at\" LIMIT 10) AS zerodown_batch ORDER BY zerodown_batch.\"order_id\" DESC, zerodown_batch.\"Line\"\"No\" DESC, zerodown_batch.\"at\" DESC LIMIT 1"
        );
    }

    #[test]
    fn without_pending_predicate_every_row_is_updated_and_nothing_is_verified() {
        let b = BatchSql::new("\"t\"", vec![col("id", "integer")], "\"c\" = 0", "  ");
        assert_eq!(
            b.update(false),
            "UPDATE \"t\" SET \"c\" = 0 WHERE \"id\" <= $1::text::integer"
        );
        assert_eq!(b.next_bound(false, true, 5), b.next_bound(false, false, 5));
        assert_eq!(b.last_key(true), b.last_key(false));
        assert!(b.count_pending().is_none());
    }

    #[test]
    fn describe_for_people() {
        assert_eq!(
            BatchSql::describe("\"t\"", "\"c\" = 1", "\"c\" IS NULL"),
            "UPDATE \"t\" SET \"c\" = 1 WHERE \"c\" IS NULL"
        );
        assert_eq!(
            BatchSql::describe("\"t\"", "\"c\" = 1", ""),
            "UPDATE \"t\" SET \"c\" = 1"
        );
    }

    #[test]
    fn unquote_rendered_names() {
        assert_eq!(unquote("\"id\""), "id");
        assert_eq!(unquote("\"Weird\"\"Name\""), "Weird\"Name");
        assert_eq!(unquote("Id"), "id");
    }
}
