//! Guards: a statement that stops its step with an error of its own when a condition only the live
//! database can answer holds, before the statement after it does harm. It runs in the step's
//! transaction, so nothing of the step is applied when it fires.
//!
//! Used where the macro cannot see the schema (a single `migration!`, or an object the catalog of a
//! `migrations!` set does not know) and the next statement would otherwise scan or rebuild under
//! `ACCESS EXCLUSIVE` for as long as the table takes.

use zerodown_runtime::plan::LockLevel;

use crate::ast::QName;
use crate::render::{quote_ident, quote_literal, render_qname};

use super::phased::dollar_quote;
use super::stmt::{Inverse, Lowered, TableRef};

/// SQLSTATE of a guard that found the columns behind `primary key using index` nullable.
pub(super) const NULLABLE_KEY: &str = "ZD002";
/// SQLSTATE of a guard that found an index on a column whose type change would rebuild it.
pub(super) const INDEX_REBUILT: &str = "ZD003";

/// Where the guard's message names what it found.
const FOUND: &str = "{found}";

/// `DO` block raising `errcode` with `message` (its [`FOUND`] replaced by what was found) when `query`
/// (selecting one `text` value, `NULL` for "all is well") returns a value. On `table` (an existing
/// table, for step grouping); locks nothing itself.
fn guard(
    description: String,
    table: Option<TableRef>,
    query: &str,
    errcode: &str,
    message: &str,
) -> Lowered {
    // `format` reads `%` as a placeholder: every other one is doubled.
    let message = format!(
        "format({}, found)",
        quote_literal(&message.replace('%', "%%").replace(FOUND, "%s"))
    );
    let body = format!(
        "DECLARE found text;\nBEGIN\n  {query} INTO found;\n  IF found IS NOT NULL THEN\n    \
         RAISE EXCEPTION USING ERRCODE = '{errcode}', MESSAGE = {message};\n  END IF;\nEND"
    );
    Lowered::new(description, format!("DO {}", dollar_quote(&body)))
        .lock_on(LockLevel::None, table)
        .inverse(Inverse::Nothing)
}

/// The index `index` in the schema of `table`, as a `regclass` literal.
fn index_regclass(table: &QName, index: &str) -> String {
    let qualified = match &table.schema {
        Some(schema) => format!("{}.{}", quote_ident(&schema.value), quote_ident(index)),
        None => quote_ident(index),
    };
    format!("to_regclass({})", quote_literal(&qualified))
}

/// Before `ADD CONSTRAINT .. PRIMARY KEY USING INDEX index`: stops when a column of the index allows
/// NULLs (PostgreSQL would set it `NOT NULL`, scanning the table under `ACCESS EXCLUSIVE`).
pub(super) fn key_columns_not_null(
    table: &QName,
    existing: Option<TableRef>,
    index: &str,
) -> Lowered {
    let t = render_qname(table);
    let query = format!(
        "SELECT string_agg(a.attname, ', ' ORDER BY a.attnum) FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
         WHERE i.indexrelid = {} AND NOT a.attnotnull",
        index_regclass(table, index)
    );
    let message = format!(
        "index {index} allows NULLs in column(s) {FOUND} of table {t}: attaching it as the primary key would set \
         them NOT NULL with a scan of the whole table under ACCESS EXCLUSIVE; nothing of this step was applied; \
         make them NOT NULL first (the online recipe: `alter table {t} alter column <column> set not null` in \
         the migration, before the primary key), then run again"
    );
    guard(
        format!(
            "check that the columns of index {} allow no NULLs",
            quote_ident(index)
        ),
        existing,
        &query,
        NULLABLE_KEY,
        &message,
    )
}

/// Before a type change PostgreSQL makes without rewriting the table: stops when an index is built
/// on `column` (it would be rebuilt under `ACCESS EXCLUSIVE` all the same).
pub(super) fn no_index_on(table: &QName, existing: Option<TableRef>, column: &str) -> Lowered {
    let t = render_qname(table);
    let query = format!(
        "SELECT string_agg(DISTINCT d.objid::regclass::text, ', ') FROM pg_depend d \
         JOIN pg_class i ON i.oid = d.objid AND i.relkind IN ('i', 'I') \
         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
         AND d.refobjid = {}::regclass AND a.attname = {}",
        quote_literal(&t),
        quote_literal(column)
    );
    let message = format!(
        "index(es) {FOUND} on {t} use column {column}, and this type change rebuilds them under ACCESS EXCLUSIVE \
         (the table itself is not rewritten); nothing of this step was applied; use `expand alter table {t} \
         alter column {column} ..` instead, or drop the index(es) concurrently before the change and build \
         them concurrently after it",
        column = quote_ident(column)
    );
    guard(
        format!("check that no index uses {t}.{}", quote_ident(column)),
        existing,
        &query,
        INDEX_REBUILT,
        &message,
    )
}
