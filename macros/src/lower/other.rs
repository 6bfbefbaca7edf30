//! Enum types, comments, raw SQL.

use zerodown_runtime::plan::LockLevel;

use crate::ast::{CommentTarget, EnumPosition, QName, RawSql, Str};
use crate::render::{quote_ident, quote_literal, render_qname};

use super::context::Context;
use super::inverse;
use super::stmt::{Inverse, Lowered, TableRef};

/// `CREATE TYPE "t" AS ENUM ('a', 'b')`: no table lock.
pub(super) fn create_enum(name: &QName, values: &[Str]) -> Lowered {
    let n = render_qname(name);
    let values: Vec<String> = values.iter().map(|v| quote_literal(&v.value)).collect();
    Lowered::new(
        format!("create enum type {n}"),
        format!("CREATE TYPE {n} AS ENUM ({})", values.join(", ")),
    )
    .undo(inverse::drop_type(name))
}

/// `ALTER TYPE "t" ADD VALUE 'v'`: alone, because before PostgreSQL 12 it cannot run in a transaction
/// block, and on any version the new value is unusable until its transaction commits.
pub(super) fn add_enum_value(
    name: &QName,
    if_not_exists: bool,
    value: &Str,
    position: Option<&(EnumPosition, Str)>,
) -> Lowered {
    let n = render_qname(name);
    let v = quote_literal(&value.value);
    let mut sql = format!(
        "ALTER TYPE {n} ADD VALUE {}{v}",
        if if_not_exists { "IF NOT EXISTS " } else { "" }
    );
    if let Some((position, other)) = position {
        let keyword = match position {
            EnumPosition::Before => "BEFORE",
            EnumPosition::After => "AFTER",
        };
        sql.push_str(&format!(" {keyword} {}", quote_literal(&other.value)));
    }
    Lowered::new(format!("add value {v} to enum {n}"), sql)
        .alone()
        .irreversible(format!(
            "PostgreSQL cannot remove the value {v} from {n} again"
        ))
}

/// `COMMENT ON ... IS '...' | NULL`. Comments on a table, column or constraint take `SHARE UPDATE
/// EXCLUSIVE` on the table; a comment on an index takes it on the index itself, not its table.
pub(super) fn comment(cx: &Context, target: &CommentTarget, text: Option<&Str>) -> Lowered {
    let sue = LockLevel::ShareUpdateExclusive;
    // (SQL object, description object, lock, table locked)
    let (sql_object, object, lock, table) = match target {
        CommentTarget::Table(t) => {
            let n = render_qname(t);
            (
                format!("TABLE {n}"),
                format!("table {n}"),
                sue,
                cx.existing(t),
            )
        }
        CommentTarget::Column { table, column } => {
            let n = format!("{}.{}", render_qname(table), quote_ident(&column.value));
            (
                format!("COLUMN {n}"),
                format!("column {n}"),
                sue,
                cx.existing(table),
            )
        }
        CommentTarget::Constraint { name, table } => {
            let (c, t) = (quote_ident(&name.value), render_qname(table));
            (
                format!("CONSTRAINT {c} ON {t}"),
                format!("constraint {c} on {t}"),
                sue,
                cx.existing(table),
            )
        }
        // The lock is on the index itself: no table to name, and nothing to wait for on a new index.
        CommentTarget::Index(i) => {
            let n = render_qname(i);
            let lock = if cx.is_new_index(i) {
                LockLevel::None
            } else {
                sue
            };
            (format!("INDEX {n}"), format!("index {n}"), lock, None)
        }
        CommentTarget::Type(t) => {
            let n = render_qname(t);
            (
                format!("TYPE {n}"),
                format!("type {n}"),
                LockLevel::None,
                None,
            )
        }
    };
    let text = match text {
        Some(s) => quote_literal(&s.value),
        None => "NULL".to_owned(),
    };
    // A comment changes no behaviour; the rollback leaves it (a later run writes it again).
    let lowered = Lowered::new(
        format!("comment on {object}"),
        format!("COMMENT ON {sql_object} IS {text}"),
    )
    .inverse(Inverse::Nothing);
    match target {
        CommentTarget::Table(_)
        | CommentTarget::Column { .. }
        | CommentTarget::Constraint { .. } => lowered.lock_on(lock, table),
        CommentTarget::Index(_) | CommentTarget::Type(_) => lowered.lock(lock),
    }
}

/// Raw SQL, sent as written. The macro cannot see which tables it touches: unless the user stated
/// `lock = none`, it counts as locking one table no other statement can share a step with.
pub(super) fn raw(raw: &RawSql) -> Lowered {
    let description = match &raw.reason {
        Some(reason) if !reason.value.trim().is_empty() => {
            format!("raw sql: {}", reason.value.trim())
        }
        _ => "raw sql".to_owned(),
    };
    let lock = raw
        .lock
        .map(|(l, _)| l)
        .unwrap_or(LockLevel::AccessExclusive);
    let mut lowered = Lowered::new(description, raw.sql.value.clone())
        .irreversible("raw SQL, whose effect zerodown cannot know");
    if lock > LockLevel::None {
        lowered = lowered.lock_on(lock, Some(TableRef::Unknown));
    }
    if raw.no_transaction {
        lowered = lowered.alone();
    }
    lowered
}
