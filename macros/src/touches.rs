//! What a statement changes, as `schema.table` or `schema.table.column` (an unqualified table counts as
//! `public`, the conservative reading when the search path is unknown). The plan's `touches` list: the
//! runtime refuses a migration touching an object that an earlier migration left under
//! expand/contract, and `check` refuses two statements of one migration touching the same such object.

use crate::ast::{
    AlterActionKind, CommentTarget, Expand, ExpandOp, Expr, ExprKind, IndexKeyExpr, Name, QName,
    Stmt, StmtKind, TableConstraintKind,
};

/// `schema.table`.
pub fn table(q: &QName) -> String {
    format!(
        "{}.{}",
        q.schema.as_ref().map_or("public", |s| s.value.as_str()),
        q.name.value
    )
}

/// `schema.table.column`.
pub fn column(q: &QName, column: &Name) -> String {
    format!("{}.{}", table(q), column.value)
}

/// The objects an `expand` operation puts under expand/contract.
pub fn of_expand(e: &Expand) -> Vec<String> {
    let t = &e.table;
    match &e.op {
        ExpandOp::AlterType { column: c, .. } | ExpandOp::DropColumn { column: c } => {
            vec![column(t, c)]
        }
        ExpandOp::RenameColumn { from, to } => vec![column(t, from), column(t, to)],
        ExpandOp::RenameTable { to } => vec![
            table(t),
            table(&QName {
                schema: t.schema.clone(),
                name: to.clone(),
            }),
        ],
        ExpandOp::DropTable => vec![table(t)],
    }
}

/// The objects a statement changes. Raw SQL, indexes and constraints named without their table, and
/// enum types touch nothing the macro can name.
pub fn of_stmt(stmt: &Stmt) -> Vec<String> {
    let mut out = Vec::new();
    match &stmt.kind {
        StmtKind::CreateTable(ct) => out.push(table(&ct.name)),
        StmtKind::DropTable { tables, .. } | StmtKind::Truncate { tables, .. } => {
            out.extend(tables.iter().map(table))
        }
        StmtKind::CreateIndex(ix) => {
            for key in &ix.keys {
                match &key.expr {
                    IndexKeyExpr::Column(c) => out.push(column(&ix.table, c)),
                    IndexKeyExpr::Expr(e) => columns_of(&ix.table, e, &mut out),
                }
            }
            out.extend(ix.include.iter().map(|c| column(&ix.table, c)));
            if let Some(p) = &ix.predicate {
                columns_of(&ix.table, p, &mut out);
            }
        }
        StmtKind::AlterTable { table: t, actions } => {
            // After `rename to`, later actions name the new table.
            let mut t = t.clone();
            for action in actions {
                match &action.kind {
                    AlterActionKind::AddColumn { column: def, .. } => {
                        out.push(column(&t, &def.name))
                    }
                    AlterActionKind::DropColumn { column: c, .. }
                    | AlterActionKind::AlterType { column: c, .. }
                    | AlterActionKind::SetDefault { column: c, .. }
                    | AlterActionKind::DropDefault { column: c }
                    | AlterActionKind::SetNotNull { column: c }
                    | AlterActionKind::DropNotNull { column: c } => out.push(column(&t, c)),
                    AlterActionKind::RenameColumn { from, to } => {
                        out.push(column(&t, from));
                        out.push(column(&t, to));
                    }
                    AlterActionKind::RenameTo { to } => {
                        out.push(table(&t));
                        t.name = to.clone();
                        out.push(table(&t));
                    }
                    AlterActionKind::AddConstraint(c) => match &c.kind {
                        TableConstraintKind::Check(e) => columns_of(&t, e, &mut out),
                        TableConstraintKind::Unique { columns, include }
                        | TableConstraintKind::PrimaryKey { columns, include } => {
                            out.extend(columns.iter().chain(include).map(|c| column(&t, c)))
                        }
                        TableConstraintKind::ForeignKey { columns, .. } => {
                            out.extend(columns.iter().map(|c| column(&t, c)))
                        }
                        TableConstraintKind::Exclude { .. } => out.push(table(&t)),
                        TableConstraintKind::NotNull(c) => out.push(column(&t, c)),
                        TableConstraintKind::UniqueUsingIndex(_)
                        | TableConstraintKind::PrimaryKeyUsingIndex(_) => {}
                    },
                    AlterActionKind::ValidateConstraint { .. }
                    | AlterActionKind::DropConstraint { .. }
                    | AlterActionKind::SetStatistics { .. }
                    | AlterActionKind::SetStorage { .. } => {}
                }
            }
        }
        StmtKind::CommentOn {
            target:
                CommentTarget::Column {
                    table: t,
                    column: c,
                },
            ..
        } => out.push(column(t, c)),
        StmtKind::VacuumFull { table: Some(t) }
        | StmtKind::Cluster { table: t, .. }
        | StmtKind::LockTable { table: t, .. } => out.push(table(t)),
        StmtKind::Expand(e) => out.extend(of_expand(e)),
        StmtKind::AttachPartition(a) => {
            out.push(table(&a.parent));
            out.push(table(&a.partition));
        }
        StmtKind::DetachPartition {
            parent, partition, ..
        } => {
            out.push(table(parent));
            out.push(table(partition));
        }
        StmtKind::Backfill(b) => {
            out.extend(b.assignments.iter().map(|a| column(&b.table, &a.column)))
        }
        StmtKind::CommentOn { .. }
        | StmtKind::RenameIndex { .. }
        | StmtKind::Analyze { .. }
        | StmtKind::CreateStatistics { .. }
        | StmtKind::RefreshMaterializedView { .. }
        | StmtKind::VacuumFull { table: None }
        | StmtKind::DropIndex { .. }
        | StmtKind::CreateEnum { .. }
        | StmtKind::AlterEnumAddValue { .. }
        | StmtKind::Raw(_)
        | StmtKind::Reindex { .. }
        | StmtKind::DropSchema { .. }
        | StmtKind::DropDatabase { .. } => {}
    }
    out
}

/// The columns an expression refers to, as columns of `t` (an expression in an index or a check can
/// only refer to its own table).
fn columns_of(t: &QName, e: &Expr, out: &mut Vec<String>) {
    e.walk(&mut |e| {
        if let ExprKind::Column(parts) = &e.kind {
            if let Some(c) = parts.last() {
                out.push(column(t, c));
            }
        }
    });
}

/// Appends `items` to `out`, skipping those already there.
pub fn extend_unique(out: &mut Vec<String>, items: Vec<String>) {
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
}
