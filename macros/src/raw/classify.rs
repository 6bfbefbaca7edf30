//! Judges one op by the DSL's rules for the same change, per target version: what rewrites or scans a
//! table under a blocking lock or breaks running code is a [`Rule`] (overridable, as in the DSL); what
//! the target version does not have is a [`Finding::Gate`] (an error: the statement would fail on every
//! server of that version).

use zerodown_runtime::plan::PgVersion;

use super::model::{ConstraintKind, Generated, Op, OpKind};
use crate::rules::Rule;

/// A verdict on one op; the text is lowercase, "what is wrong; what to do".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    Rule(Rule, String),
    /// Syntax the target version lacks: (the form, the version that has it).
    Gate(&'static str, u32),
}

/// The findings of `op` on `target`.
pub(crate) fn judge(op: &Op, target: PgVersion) -> Vec<Finding> {
    let mut out = Vec::new();
    let t = op.table.as_deref().unwrap_or("the table");
    let mut rule = |rule: Rule, text: String| out.push(Finding::Rule(rule, text));
    match &op.kind {
        OpKind::Rewrite(form) => rule(
            Rule::TableRewrite,
            format!("`{form}` rewrites `{t}` under ACCESS EXCLUSIVE, blocking reads and writes for the whole copy"),
        ),
        OpKind::SetAccessMethod => rule(
            Rule::TableRewrite,
            format!("`set access method` rewrites `{t}` under ACCESS EXCLUSIVE, blocking reads and writes for the whole copy"),
        ),
        OpKind::AlterColumnType => rule(
            Rule::AlterColumnType,
            format!("`alter column .. type` on `{t}` rewrites the table under ACCESS EXCLUSIVE unless the old type converts without one, which raw SQL cannot show; use the DSL's `alter column .. type` with the current type stated, or `expand`"),
        ),
        OpKind::SetNotNull => rule(
            Rule::SetNotNullScan,
            format!("`set not null` scans `{t}` under ACCESS EXCLUSIVE unless a validated check constraint proves it; use the DSL's `alter table {t} alter column .. set not null` (online from PostgreSQL 12)"),
        ),
        OpKind::RefreshMaterializedView { concurrently: false } => rule(
            Rule::RefreshNotConcurrent,
            format!("refreshing `{t}` holds ACCESS EXCLUSIVE on it while the query runs, blocking its readers; write `refresh materialized view concurrently {t}` with `lock = exclusive` (it needs a unique index on the view)"),
        ),
        OpKind::AttachPartition if target < PgVersion(12) => rule(
            Rule::AttachPartitionBeforePg12,
            format!("before PostgreSQL 12 `attach partition` holds ACCESS EXCLUSIVE on `{t}` while it scans the new partition; raise the target to 12 or attach while the table is idle"),
        ),
        OpKind::CreateIndex { concurrently: false, .. } => rule(
            Rule::IndexNotConcurrent,
            format!("`create index` without `concurrently` blocks writes to `{t}` for the whole build; write `create index concurrently` with `no_transaction`, or the DSL's `create index`"),
        ),
        OpKind::DropIndex { concurrently: false } => rule(
            Rule::DropIndexNotConcurrent,
            "`drop index` without `concurrently` takes ACCESS EXCLUSIVE on the index's table; write `drop index concurrently` with `no_transaction`".to_owned(),
        ),
        OpKind::Reindex { concurrently: false } => rule(
            Rule::ReindexNotConcurrent,
            "`reindex` without `concurrently` blocks writes, and reads that use the index; write `reindex .. concurrently` with `no_transaction`".to_owned(),
        ),
        OpKind::Vacuum { full: true } => rule(
            Rule::VacuumFull,
            format!("`vacuum full` rewrites `{t}` under ACCESS EXCLUSIVE; use plain `vacuum`, or pg_repack outside migrations"),
        ),
        OpKind::Cluster => rule(
            Rule::Cluster,
            format!("`cluster` rewrites `{t}` under ACCESS EXCLUSIVE; use pg_repack outside migrations"),
        ),
        OpKind::LockTable(_) => rule(
            Rule::LockTable,
            format!("`lock table {t}` holds its lock until the step commits"),
        ),
        OpKind::Truncate => rule(
            Rule::Truncate,
            format!("`truncate {t}` takes ACCESS EXCLUSIVE and deletes every row"),
        ),
        OpKind::DropTable => rule(
            Rule::DropTable,
            format!("`drop table {t}` breaks running code that still uses it; drop it in a later release, once no code reads it"),
        ),
        OpKind::DropSchema => rule(Rule::DropSchema, format!("`drop schema {t}` drops everything in it")),
        OpKind::DropDatabase => rule(Rule::DropDatabase, format!("`drop database {t}` drops a database")),
        OpKind::DropColumn => rule(
            Rule::DropColumn,
            format!("dropping a column of `{t}` breaks running code that reads it; drop it in a later release, once no code uses it"),
        ),
        OpKind::RenameColumn => rule(
            Rule::RenameColumn,
            format!("renaming a column of `{t}` breaks running code; use the DSL's `expand .. rename` instead"),
        ),
        OpKind::RenameTable => rule(
            Rule::RenameTable,
            format!("renaming `{t}` (or moving it to another schema) breaks running code that names it"),
        ),
        OpKind::AddConstraint { kind, not_valid } => match (kind, not_valid) {
            (ConstraintKind::Check, false) => rule(
                Rule::CheckWithoutNotValid,
                format!("a check constraint added without `not valid` scans `{t}` under ACCESS EXCLUSIVE; add it `not valid`, then `validate constraint` in a later statement"),
            ),
            (ConstraintKind::ForeignKey, false) => rule(
                Rule::ForeignKeyWithoutNotValid,
                format!("a foreign key added without `not valid` scans `{t}` while blocking writes to both tables; add it `not valid`, then `validate constraint` in a later statement"),
            ),
            (ConstraintKind::NotNull, false) => rule(
                Rule::SetNotNullScan,
                format!("a `not null` constraint added without `not valid` scans `{t}` under ACCESS EXCLUSIVE; add it `not valid`, then `validate constraint`"),
            ),
            (ConstraintKind::Unique, _) => rule(
                Rule::IndexNotConcurrent,
                format!("a unique or primary key constraint builds its index under ACCESS EXCLUSIVE on `{t}`; build the index with `create unique index concurrently`, then `add constraint .. using index`"),
            ),
            (ConstraintKind::Exclusion, _) => rule(
                Rule::ExclusionConstraint,
                format!("an exclusion constraint builds its index and checks every row of `{t}` under ACCESS EXCLUSIVE"),
            ),
            _ => {}
        },
        OpKind::AddColumn(c) => {
            if c.unique {
                rule(Rule::AddColumnUnique, format!("`unique`/`primary key` on added column `{}` builds an index under ACCESS EXCLUSIVE on `{t}`; add the column, then build the index concurrently", c.name));
            }
            if c.serial {
                rule(Rule::AddSerialColumn, format!("serial or identity column `{}` fills every row of `{t}` under ACCESS EXCLUSIVE (a rewrite)", c.name));
            }
            if c.generated == Some(Generated::Stored) {
                rule(Rule::AddStoredGeneratedColumn, format!("stored generated column `{}` rewrites `{t}` under ACCESS EXCLUSIVE", c.name));
            }
            if c.has_default && target < PgVersion(11) {
                rule(Rule::DefaultBeforePg11, format!("before PostgreSQL 11 a default on added column `{}` rewrites `{t}` under ACCESS EXCLUSIVE; add the column without a default and backfill it", c.name));
            } else if let Some(func) = &c.volatile_default {
                rule(Rule::VolatileDefault, format!("the default of added column `{}` calls `{func}`, which is volatile (or unknown to zerodown), so PostgreSQL rewrites `{t}` under ACCESS EXCLUSIVE; use the DSL's `add column`, which backfills it in batches", c.name));
            }
            if c.not_null && !c.has_default && c.generated.is_none() && !c.serial {
                rule(Rule::NotNullWithoutDefault, format!("`not null` on added column `{}` without a default fails on a table with rows; give it a default", c.name));
            }
        }
        _ => {}
    }
    gates(op, &mut out);
    out
}

/// Syntax of newer versions; each is reported when the target is older (see `check/raw.rs`).
fn gates(op: &Op, out: &mut Vec<Finding>) {
    let mut gate = |form: &'static str, version: u32| out.push(Finding::Gate(form, version));
    match &op.kind {
        OpKind::DetachPartition {
            concurrently: true, ..
        } => gate("`detach partition .. concurrently`", 14),
        OpKind::DetachPartition { finalize: true, .. } => {
            gate("`detach partition .. finalize`", 14)
        }
        OpKind::Reindex { concurrently: true } => gate("`reindex concurrently`", 12),
        OpKind::CreateIndex {
            include,
            nulls_not_distinct,
            ..
        } => {
            if *include {
                gate("an index `include` list", 11);
            }
            if *nulls_not_distinct {
                gate("`nulls not distinct`", 15);
            }
        }
        OpKind::AddColumn(c) => match c.generated {
            Some(Generated::Virtual) => gate("a virtual generated column", 18),
            Some(Generated::Stored) => gate("a stored generated column", 12),
            None => {}
        },
        OpKind::CreateTable {
            stored_generated,
            virtual_generated,
            ..
        } => {
            if *stored_generated {
                gate("a stored generated column", 12);
            }
            if *virtual_generated {
                gate("a virtual generated column", 18);
            }
        }
        OpKind::AddConstraint {
            kind: ConstraintKind::NotNull,
            not_valid,
        } => gate(
            if *not_valid {
                "`add constraint .. not null .. not valid`"
            } else {
                "`add constraint .. not null`"
            },
            18,
        ),
        OpKind::SetAccessMethod => gate("`set access method`", 15),
        OpKind::Write { merge: true } => gate("`merge`", 15),
        _ => {}
    }
}
