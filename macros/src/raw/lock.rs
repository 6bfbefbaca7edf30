//! The lock each op takes, from PostgreSQL's documentation of each command ("Explicit Locking" and the
//! command pages), per target version where it changed. The step's lock is the strongest of its ops';
//! an op zerodown cannot judge counts as `ACCESS EXCLUSIVE`, the worst case.

use zerodown_runtime::plan::{LockLevel, PgVersion};

use super::model::{ConstraintKind, Op, OpKind};

/// The strongest lock `op` takes on `target`.
pub(crate) fn lock(op: &Op, target: PgVersion) -> LockLevel {
    use LockLevel::*;
    match &op.kind {
        OpKind::Catalog => None,
        OpKind::Read { for_update: false } | OpKind::CreateView => AccessShare,
        OpKind::Read { for_update: true } => RowShare,
        OpKind::Write { .. } => RowExclusive,
        OpKind::CreateIndex {
            concurrently: true, ..
        }
        | OpKind::DropIndex { concurrently: true }
        | OpKind::Reindex { concurrently: true }
        | OpKind::Vacuum { full: false }
        | OpKind::Maintenance
        | OpKind::Comment
        | OpKind::DetachPartition {
            concurrently: true, ..
        } => ShareUpdateExclusive,
        OpKind::CreateIndex {
            concurrently: false,
            ..
        } => Share,
        OpKind::CreateTrigger | OpKind::TriggerSwitch => ShareRowExclusive,
        OpKind::AddConstraint {
            kind: ConstraintKind::ForeignKey,
            ..
        } => ShareRowExclusive,
        OpKind::RefreshMaterializedView { concurrently: true } => Exclusive,
        OpKind::RenameIndex if target >= PgVersion(12) => ShareUpdateExclusive,
        // A table created here is new; its parent (`partition of`) is locked ACCESS EXCLUSIVE.
        OpKind::CreateTable {
            partition_of: Option::None,
            references: true,
            ..
        } => ShareRowExclusive,
        OpKind::CreateTable {
            partition_of: Option::None,
            ..
        } => None,
        OpKind::LockTable(level) | OpKind::Other(level) => *level,
        _ => AccessExclusive,
    }
}
