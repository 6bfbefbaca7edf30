//! Reads sqlparser's AST of one statement into the model. Statements that the word recogniser reads
//! (`alter table`, `vacuum`, `reindex`, ...) never get here.

use sqlparser::ast::{
    AlterTypeOperation, ColumnOption, GeneratedExpressionMode, ObjectName, ObjectType, Statement,
    TableConstraint,
};
use zerodown_runtime::plan::LockLevel;

use super::model::{Op, OpKind};

/// The ops of one parsed statement.
pub(crate) fn read(stmt: &Statement) -> Vec<Op> {
    let op = |kind: OpKind, table: Option<&ObjectName>| vec![Op::new(kind, table.map(name))];
    match stmt {
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => op(OpKind::TransactionControl, None),
        Statement::Query(q) => op(
            OpKind::Read {
                for_update: !q.locks.is_empty(),
            },
            None,
        ),
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
            op(OpKind::Write { merge: false }, None)
        }
        Statement::Merge { .. } => op(OpKind::Write { merge: true }, None),
        Statement::CreateIndex(ix) => op(
            OpKind::CreateIndex {
                concurrently: ix.concurrently,
                include: !ix.include.is_empty(),
                nulls_not_distinct: ix.nulls_distinct == Some(false),
            },
            Some(&ix.table_name),
        ),
        Statement::CreateTable(t) => {
            let generated = |mode: GeneratedExpressionMode| {
                t.columns.iter().any(|c| {
                    c.options.iter().any(|o| {
                        matches!(
                            &o.option,
                            ColumnOption::Generated {
                                generation_expr: Some(_),
                                generation_expr_mode,
                                ..
                            } if generation_expr_mode.as_ref().unwrap_or(&GeneratedExpressionMode::Virtual) == &mode
                        )
                    })
                })
            };
            op(
                OpKind::CreateTable {
                    if_not_exists: t.if_not_exists,
                    // sqlparser 0.60 rejects `partition of`: such tables are read by `words`.
                    partition_of: None,
                    references: t
                        .constraints
                        .iter()
                        .any(|c| matches!(c, TableConstraint::ForeignKey(_)))
                        || t.columns.iter().any(|c| {
                            c.options
                                .iter()
                                .any(|o| matches!(o.option, ColumnOption::ForeignKey(_)))
                        }),
                    stored_generated: generated(GeneratedExpressionMode::Stored),
                    virtual_generated: generated(GeneratedExpressionMode::Virtual),
                },
                Some(&t.name),
            )
        }
        Statement::Drop {
            object_type, names, ..
        } => {
            let kind = match object_type {
                ObjectType::Table => OpKind::DropTable,
                ObjectType::Schema => OpKind::DropSchema,
                ObjectType::Database => OpKind::DropDatabase,
                ObjectType::Index => OpKind::DropIndex {
                    concurrently: false,
                },
                _ => OpKind::DropOther,
            };
            names
                .iter()
                .map(|n| Op::new(kind.clone(), Some(name(n))))
                .collect()
        }
        Statement::Truncate(t) => t
            .table_names
            .iter()
            .map(|target| Op::new(OpKind::Truncate, Some(name(&target.name))))
            .collect(),
        Statement::CreateTrigger(_) => op(OpKind::CreateTrigger, None),
        Statement::CreateView(_) => op(OpKind::CreateView, None),
        Statement::Comment { .. } => op(OpKind::Comment, None),
        Statement::AlterType(t) => match t.operation {
            AlterTypeOperation::AddValue(_) | AlterTypeOperation::RenameValue(_) => {
                op(OpKind::Catalog, None)
            }
            AlterTypeOperation::Rename(_) => op(OpKind::Other(LockLevel::AccessExclusive), None),
        },
        Statement::CreateFunction(_)
        | Statement::CreateType { .. }
        | Statement::CreateSchema { .. }
        | Statement::CreateSequence { .. }
        | Statement::CreateExtension(_)
        | Statement::CreateDomain(_)
        | Statement::CreateRole(_)
        | Statement::CreatePolicy { .. }
        | Statement::Set(_)
        | Statement::Reset(_) => op(OpKind::Catalog, None),
        // Anything else (grant, alter function, ...): judged by its lock alone, the worst case unless
        // the `raw` states one.
        _ => op(OpKind::Other(LockLevel::AccessExclusive), None),
    }
}

/// A relation name as the model keeps it: lowercased unless quoted, quotes removed.
fn name(n: &ObjectName) -> String {
    let text = n.to_string();
    if text.contains('"') {
        text.replace('"', "")
    } else {
        text.to_lowercase()
    }
}
