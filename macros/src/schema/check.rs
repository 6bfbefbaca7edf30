//! The checks a statement gets against the catalog of the migrations before it: the errors people make
//! that only the schema can reveal (a misspelt column, a type stated wrongly, a key that is not
//! there), reported under the offending tokens with the closest known name.
//!
//! What the catalog does not know is not an error: a table declared `extern`, or anything once raw
//! SQL ran (it may have created or changed anything). A table neither created by the set nor
//! declared is an error: the set is the schema's history.

use crate::ast::{
    AlterActionKind, ColumnConstraintKind, ColumnDef, CommentTarget, ExpandOp, Expr, ExprKind,
    ForeignKeyTarget, IndexKeyExpr, Item, KeyColumns, MigrationInput, Name, ParentKey,
    PartitionBound, PartitionIndex, PartitionStrategy, QName, ReindexTarget, Stmt, StmtKind,
    TableConstraint, TableConstraintKind, Type,
};
use crate::ctxt::Ctxt;

use super::catalog::{Catalog, ConstraintKind, Key, Table};
use super::suggest::hint;

/// Checks every statement of `input` against `catalog`, applying each to it after its check, so a
/// statement sees what the ones before it in the same migration did.
pub(crate) fn migration(cx: &Ctxt, catalog: &mut Catalog, input: &mut MigrationInput) {
    catalog.version = input.version;
    for item in &mut input.body {
        let stmts: Vec<&mut Stmt> = match item {
            Item::Stmt(stmt) => vec![stmt],
            Item::Unsafe(block) => block.body.iter_mut().collect(),
        };
        for stmt in stmts {
            fill_from_catalog(catalog, stmt);
            statement(cx, catalog, stmt);
            super::replay::statement(catalog, stmt);
        }
    }
}

/// What the rules need from the catalog, written into the statement before they judge it: the
/// current type of `alter column c type T` without `from` (the type stated is checked against it
/// otherwise), and whether the columns behind `primary key using index` allow NULLs.
fn fill_from_catalog(catalog: &Catalog, stmt: &mut Stmt) {
    let (table, actions) = match &mut stmt.kind {
        StmtKind::AlterTable { table, actions } => (table, actions),
        StmtKind::AttachPartition(a) => {
            a.parent_key = parent_key(catalog, &a.parent, &a.partition);
            return;
        }
        StmtKind::DetachPartition {
            parent,
            parent_has_default,
            ..
        } => {
            *parent_has_default = catalog.has_default_partition(&Key::of(parent));
            return;
        }
        StmtKind::Expand(e) => {
            let column = match &e.op {
                ExpandOp::AlterType { column, .. } => column,
                ExpandOp::RenameColumn { from, .. } => from,
                ExpandOp::DropColumn { column } => column,
                _ => return,
            };
            if !catalog.after_raw {
                e.carry =
                    super::carry::facts(catalog, &Key::of(&e.table), &column.value).map(Box::new);
            }
            return;
        }
        _ => return,
    };
    let Some(t) = catalog.table(&Key::of(table)) else {
        return;
    };
    // Columns an earlier action of the same statement sets `NOT NULL`.
    let mut set_not_null: Vec<String> = Vec::new();
    for action in actions {
        match &mut action.kind {
            AlterActionKind::AlterType {
                column, ty, from, ..
            } if from.is_none() => {
                if let Some(c) = t.column(&column.value) {
                    let mut known = c.ty.clone();
                    // Errors about it point at the new type, the tokens written.
                    known.range = ty.range;
                    *from = Some(known);
                }
            }
            AlterActionKind::SetNotNull { column } => set_not_null.push(column.value.clone()),
            AlterActionKind::AddConstraint(c) => {
                if let TableConstraintKind::PrimaryKeyUsingIndex(index) = &c.kind {
                    c.key_columns = key_columns(catalog, t, index, &set_not_null);
                }
            }
            _ => {}
        }
    }
}

/// The partition key of `parent` with its columns' types, when the catalog knows them all.
fn parent_key(catalog: &Catalog, parent: &QName, partition: &QName) -> ParentKey {
    let key = Key::of(parent);
    let Some(t) = catalog.table(&key) else {
        return ParentKey::Unknown;
    };
    let Some((strategy, names)) = &t.partitioning else {
        return ParentKey::NotPartitioned;
    };
    let columns: Option<Vec<(String, Type)>> = names
        .iter()
        .map(|n| t.column(n).map(|c| (n.clone(), c.ty.clone())))
        .collect();
    match columns {
        Some(columns) if !catalog.after_raw => ParentKey::Known {
            strategy: *strategy,
            columns,
            has_default: catalog.has_default_partition(&key),
            missing_indexes: catalog
                .partition_indexes_missing(&key, &Key::of(partition))
                .into_iter()
                .map(|i| PartitionIndex {
                    name: i.key.name,
                    unique: i.unique,
                    definition: i.definition,
                    keys_sql: i.keys_sql,
                    constraint: match i.constraint {
                        Some(ConstraintKind::PrimaryKey) => Some("PRIMARY KEY"),
                        Some(_) => Some("UNIQUE"),
                        None => None,
                    },
                })
                .collect(),
        },
        _ => ParentKey::Unknown,
    }
}

/// Whether the columns of `index` on `t` allow NULLs (`Unknown` for an index the catalog does not
/// know, or one over expressions, which PostgreSQL refuses as a key anyway).
fn key_columns(catalog: &Catalog, t: &Table, index: &Name, set_not_null: &[String]) -> KeyColumns {
    let key = Key {
        schema: t.key.schema.clone(),
        name: index.value.clone(),
    };
    let Some(ix) = catalog.index(&key).filter(|ix| ix.table == t.key) else {
        return KeyColumns::Unknown;
    };
    let mut nullable = Vec::new();
    for column in &ix.columns {
        let Some(c) = column.as_deref().and_then(|c| t.column(c)) else {
            return KeyColumns::Unknown;
        };
        if !c.not_null && !set_not_null.contains(&c.name) {
            nullable.push(c.name.clone());
        }
    }
    if nullable.is_empty() {
        KeyColumns::NotNull
    } else {
        KeyColumns::Nullable(nullable)
    }
}

/// What a table name refers to.
enum Found<'a> {
    Known(&'a Table),
    /// Declared `extern`, or raw SQL ran: nothing about it can be checked.
    Outside,
    /// Not there; the error is reported.
    Missing,
}

impl<'a> Found<'a> {
    fn known(self) -> Option<&'a Table> {
        match self {
            Found::Known(t) => Some(t),
            Found::Outside | Found::Missing => None,
        }
    }
}

fn table<'a>(cx: &Ctxt, catalog: &'a Catalog, q: &QName) -> Found<'a> {
    let key = Key::of(q);
    if let Some(t) = catalog.table(&key) {
        return Found::Known(t);
    }
    if catalog.is_external(&key) || catalog.after_raw {
        return Found::Outside;
    }
    if let Some((_, what, version)) = catalog.gone.iter().rev().find(|(k, _, _)| *k == key) {
        cx.error(
            q.range(),
            format!(
                "table `{}` was {what} by migration {version}",
                key.display()
            ),
        );
        return Found::Missing;
    }
    let names: Vec<String> = catalog.tables.iter().map(|t| t.key.display()).collect();
    cx.error(
        q.range(),
        format!(
            "no table `{name}` in the schema the earlier migrations build{hint} (a table created outside these migrations is declared at the top of the set: `extern table {name};`)",
            name = key.display(),
            hint = hint(&key.display(), names.iter().map(String::as_str)),
        ),
    );
    Found::Missing
}

/// Reports `column` missing from `table` (unless raw SQL may have added it).
fn column(cx: &Ctxt, catalog: &Catalog, table: &Table, column: &Name) -> bool {
    if table.column(&column.value).is_some() {
        return true;
    }
    if !catalog.after_raw {
        cx.error(
            column.range(),
            format!(
                "table `{}` has no column `{}`{}",
                table.key.display(),
                column.value,
                hint(&column.value, table.columns.iter().map(|c| c.name.as_str()))
            ),
        );
    }
    false
}

fn columns(cx: &Ctxt, catalog: &Catalog, table: &Table, names: &[Name]) {
    for n in names {
        column(cx, catalog, table, n);
    }
}

/// The columns an expression on `table` reads (`col`, or `table.col`).
fn expr_columns(cx: &Ctxt, catalog: &Catalog, table: &Table, e: &Expr) {
    e.walk(&mut |e| {
        if let ExprKind::Column(parts) = &e.kind {
            match parts.as_slice() {
                [c] => {
                    column(cx, catalog, table, c);
                }
                [t, c] if t.value == table.key.name => {
                    column(cx, catalog, table, c);
                }
                _ => {}
            }
        }
    });
}

fn statement(cx: &Ctxt, catalog: &Catalog, stmt: &Stmt) {
    match &stmt.kind {
        StmtKind::CreateTable(ct) => {
            let key = Key::of(&ct.name);
            if !ct.if_not_exists && catalog.table(&key).is_some() {
                cx.error(
                    ct.name.range(),
                    format!("table `{}` already exists", key.display()),
                );
            }
            for def in &ct.columns {
                column_def(cx, catalog, def);
            }
            // Constraints over its own columns: the table as it will be.
            let mut scratch = catalog.clone();
            super::replay::statement(&mut scratch, stmt);
            if let Some(t) = scratch.table(&key) {
                for c in &ct.constraints {
                    table_constraint(cx, &scratch, t, c, false);
                }
                if let Some(p) = &ct.partition_by {
                    columns(cx, &scratch, t, &p.columns);
                }
            }
        }
        StmtKind::AttachPartition(a) => attach_partition(cx, catalog, a),
        StmtKind::DetachPartition {
            parent, partition, ..
        } => {
            let p = table(cx, catalog, parent).known();
            let c = table(cx, catalog, partition).known();
            if let (Some(p), Some(c)) = (p, c) {
                if c.partition_of.as_ref().map(|(k, _)| k) != Some(&p.key) {
                    cx.error(
                        partition.range(),
                        format!(
                            "`{}` is not a partition of `{}`",
                            c.key.display(),
                            p.key.display()
                        ),
                    );
                }
            }
        }
        StmtKind::DropTable {
            if_exists, tables, ..
        } => {
            if !if_exists {
                for t in tables {
                    table(cx, catalog, t);
                }
            }
        }
        StmtKind::CreateIndex(ci) => {
            if let Some(t) = table(cx, catalog, &ci.table).known() {
                for k in &ci.keys {
                    match &k.expr {
                        IndexKeyExpr::Column(c) => {
                            column(cx, catalog, t, c);
                        }
                        IndexKeyExpr::Expr(e) => expr_columns(cx, catalog, t, e),
                    }
                }
                columns(cx, catalog, t, &ci.include);
                if let Some(p) = &ci.predicate {
                    expr_columns(cx, catalog, t, p);
                }
                if let Some(name) = &ci.name {
                    let key = Key {
                        schema: t.key.schema.clone(),
                        name: name.value.clone(),
                    };
                    if !ci.if_not_exists && catalog.index(&key).is_some() {
                        cx.error(
                            name.range(),
                            format!("index `{}` already exists", key.display()),
                        );
                    }
                }
            }
        }
        StmtKind::DropIndex {
            if_exists, index, ..
        } => {
            if !if_exists {
                index_exists(cx, catalog, index);
            }
        }
        StmtKind::AlterTable { table: q, actions } => {
            if let Some(t) = table(cx, catalog, q).known() {
                for action in actions {
                    alter(cx, catalog, t, &action.kind);
                }
            }
        }
        StmtKind::CreateEnum { name, .. } => {
            if catalog.enum_type(&Key::of(name)).is_some() {
                cx.error(
                    name.range(),
                    format!("type `{}` already exists", Key::of(name).display()),
                );
            }
        }
        StmtKind::AlterEnumAddValue {
            name,
            if_not_exists,
            value,
            position,
        } => {
            if let Some(e) = catalog.enum_type(&Key::of(name)) {
                if !if_not_exists && e.values.contains(&value.value) {
                    cx.error(
                        crate::ast::Range::single(value.span),
                        format!(
                            "enum `{}` already has the value \"{}\"; write `add value if not exists` if that is expected",
                            e.key.display(),
                            value.value
                        ),
                    );
                }
                if let Some((_, other)) = position {
                    if !e.values.contains(&other.value) && !catalog.after_raw {
                        cx.error(
                            crate::ast::Range::single(other.span),
                            format!(
                                "enum `{}` has no value \"{}\"{}",
                                e.key.display(),
                                other.value,
                                hint(&other.value, e.values.iter().map(String::as_str))
                            ),
                        );
                    }
                }
            }
        }
        StmtKind::CommentOn { target, .. } => match target {
            CommentTarget::Table(q) => {
                table(cx, catalog, q);
            }
            CommentTarget::Column {
                table: q,
                column: c,
            } => {
                if let Some(t) = table(cx, catalog, q).known() {
                    column(cx, catalog, t, c);
                }
            }
            CommentTarget::Index(q) => index_exists(cx, catalog, q),
            CommentTarget::Type(_) => {}
            CommentTarget::Constraint { name, table: q } => {
                if let Some(t) = table(cx, catalog, q).known() {
                    constraint_exists(cx, catalog, t, name);
                }
            }
        },
        StmtKind::Reindex { target, name, .. } => match target {
            ReindexTarget::Index => index_exists(cx, catalog, name),
            ReindexTarget::Table => {
                table(cx, catalog, name);
            }
        },
        StmtKind::VacuumFull { table: Some(q) } | StmtKind::LockTable { table: q, .. } => {
            table(cx, catalog, q);
        }
        StmtKind::Cluster { table: q, .. } => {
            table(cx, catalog, q);
        }
        StmtKind::RenameIndex { index, to } => {
            index_exists(cx, catalog, index);
            let new = Key {
                schema: Key::of(index).schema,
                name: to.value.clone(),
            };
            if catalog.index(&new).is_some() {
                cx.error(
                    to.range(),
                    format!("an index `{}` already exists", new.display()),
                );
            }
        }
        StmtKind::CreateStatistics {
            table: q,
            columns: cols,
            ..
        }
        | StmtKind::Analyze {
            table: q,
            columns: cols,
        } => {
            if let Some(t) = table(cx, catalog, q).known() {
                columns(cx, catalog, t, cols);
            }
        }
        // Materialized views are not modelled.
        StmtKind::RefreshMaterializedView { .. } => {}
        StmtKind::Truncate { tables, .. } => {
            for t in tables {
                table(cx, catalog, t);
            }
        }
        StmtKind::Backfill(b) => {
            if let Some(t) = table(cx, catalog, &b.table).known() {
                for a in &b.assignments {
                    column(cx, catalog, t, &a.column);
                    expr_columns(cx, catalog, t, &a.value);
                }
                if let Some(p) = &b.predicate {
                    expr_columns(cx, catalog, t, p);
                }
                columns(cx, catalog, t, &b.by);
                if b.by.is_empty() && !catalog.after_raw && !has_usable_key(catalog, t) {
                    cx.error(
                        b.table.range(),
                        format!(
                            "`{}` has no primary key and no unique index over NOT NULL columns, so the backfill has no key to walk its batches by; add a primary key first, or name a unique NOT NULL key with `by (..)`",
                            t.key.display()
                        ),
                    );
                }
            }
        }
        StmtKind::Expand(e) => {
            let Some(t) = table(cx, catalog, &e.table).known() else {
                return;
            };
            let member = if t.partitioning.is_some() {
                Some("is partitioned")
            } else if t.partition_of.is_some() {
                Some("is a partition of a partitioned table")
            } else {
                None
            };
            if let (Some(why), false) = (member, matches!(e.op, ExpandOp::DropTable)) {
                cx.error(
                    e.table.range(),
                    format!(
                        "`{}` {why}: expand/contract changes one plain table through triggers and cannot change every partition; change the column in place (`alter table ..`) or under an override",
                        t.key.display()
                    ),
                );
                return;
            }
            match &e.op {
                ExpandOp::AlterType {
                    column: c, from, ..
                } => {
                    if let Some(col) = t.column(&c.value) {
                        stated_type(cx, t, c, &col.ty, from);
                        if col.generated {
                            cx.error(
                                c.range(),
                                format!(
                                    "`{}`.`{}` is a generated column: its values come from its expression, so there is nothing to copy to a new column; change the expression with `raw` instead",
                                    t.key.display(),
                                    c.value
                                ),
                            );
                        }
                    } else {
                        column(cx, catalog, t, c);
                    }
                }
                ExpandOp::RenameColumn { from, to } => {
                    column(cx, catalog, t, from);
                    column_free(cx, t, to);
                }
                ExpandOp::RenameTable { to } => table_free(cx, catalog, t, to),
                ExpandOp::DropColumn { column: c } => {
                    column(cx, catalog, t, c);
                }
                ExpandOp::DropTable => {}
            }
        }
        StmtKind::Raw(_)
        | StmtKind::VacuumFull { table: None }
        | StmtKind::DropSchema { .. }
        | StmtKind::DropDatabase { .. } => {}
    }
}

fn alter(cx: &Ctxt, catalog: &Catalog, t: &Table, action: &AlterActionKind) {
    match action {
        AlterActionKind::AddColumn {
            if_not_exists,
            column: def,
        } => {
            if !if_not_exists && t.column(&def.name.value).is_some() {
                cx.error(
                    def.name.range(),
                    format!(
                        "table `{}` already has a column `{}`",
                        t.key.display(),
                        def.name.value
                    ),
                );
            }
            column_def(cx, catalog, def);
        }
        AlterActionKind::DropColumn {
            if_exists,
            column: c,
            ..
        } => {
            if !if_exists {
                column(cx, catalog, t, c);
            }
        }
        AlterActionKind::AlterType {
            column: c, from, ..
        } => match (t.column(&c.value), from) {
            (Some(col), Some(from)) => stated_type(cx, t, c, &col.ty, from),
            (Some(_), None) => {}
            (None, _) => {
                column(cx, catalog, t, c);
            }
        },
        AlterActionKind::SetDefault { column: c, .. }
        | AlterActionKind::DropDefault { column: c }
        | AlterActionKind::SetNotNull { column: c }
        | AlterActionKind::DropNotNull { column: c } => {
            column(cx, catalog, t, c);
        }
        AlterActionKind::RenameColumn { from, to } => {
            column(cx, catalog, t, from);
            column_free(cx, t, to);
        }
        AlterActionKind::RenameTo { to } => table_free(cx, catalog, t, to),
        AlterActionKind::AddConstraint(c) => table_constraint(cx, catalog, t, c, true),
        AlterActionKind::ValidateConstraint { name } => constraint_exists(cx, catalog, t, name),
        AlterActionKind::DropConstraint {
            if_exists, name, ..
        } => {
            if !if_exists {
                constraint_exists(cx, catalog, t, name);
            }
        }
        AlterActionKind::SetStatistics { column: c, .. } => {
            column(cx, catalog, t, c);
        }
        AlterActionKind::SetStorage { .. } => {}
    }
}

/// `from` as stated against the type the catalog knows. A `serial` column is stored as an
/// `integer` (and so on), which is what `from` states.
fn stated_type(cx: &Ctxt, t: &Table, c: &Name, known: &Type, from: &Type) {
    use crate::types::{display, format_type, same};
    let stored = format_type(known);
    if !same(known, from) && stored != format_type(from) {
        cx.error(
            from.range,
            format!(
                "`{}`.`{}` is `{}` in the schema the earlier migrations build, not `{}`; write `from {}`",
                t.key.display(),
                c.value,
                display(known),
                display(from),
                // A `serial` is stated by the type it is stored as.
                if display(known).contains("serial") {
                    stored.clone()
                } else {
                    display(known)
                }
            ),
        );
    }
}

fn column_free(cx: &Ctxt, t: &Table, to: &Name) {
    if t.column(&to.value).is_some() {
        cx.error(
            to.range(),
            format!(
                "table `{}` already has a column `{}`",
                t.key.display(),
                to.value
            ),
        );
    }
}

fn table_free(cx: &Ctxt, catalog: &Catalog, t: &Table, to: &Name) {
    let key = Key {
        schema: t.key.schema.clone(),
        name: to.value.clone(),
    };
    if catalog.table(&key).is_some() {
        cx.error(
            to.range(),
            format!("table `{}` already exists", key.display()),
        );
    }
}

fn column_def(cx: &Ctxt, catalog: &Catalog, def: &ColumnDef) {
    known_type(cx, catalog, &def.ty);
    for c in &def.constraints {
        if let ColumnConstraintKind::References(target) = &c.kind {
            foreign_key(
                cx,
                catalog,
                std::slice::from_ref(&def.name),
                std::slice::from_ref(&def.ty),
                target,
            );
        }
    }
}

/// `is_new`: the constraint is added to `t` (not part of the `create table` that `t` already holds).
fn table_constraint(cx: &Ctxt, catalog: &Catalog, t: &Table, c: &TableConstraint, is_new: bool) {
    if let Some(name) = c.name.as_ref().filter(|_| is_new) {
        if t.constraint(&name.value).is_some() {
            cx.error(
                name.range(),
                format!(
                    "table `{}` already has a constraint `{}`",
                    t.key.display(),
                    name.value
                ),
            );
        }
    }
    match &c.kind {
        TableConstraintKind::Check(e) => expr_columns(cx, catalog, t, e),
        TableConstraintKind::Unique {
            columns: cols,
            include,
        }
        | TableConstraintKind::PrimaryKey {
            columns: cols,
            include,
        } => {
            columns(cx, catalog, t, cols);
            columns(cx, catalog, t, include);
        }
        TableConstraintKind::UniqueUsingIndex(index)
        | TableConstraintKind::PrimaryKeyUsingIndex(index) => {
            let key = Key {
                schema: t.key.schema.clone(),
                name: index.value.clone(),
            };
            match catalog.index(&key) {
                Some(i) if i.table != t.key => cx.error(
                    index.range(),
                    format!(
                        "index `{}` is on `{}`, not on `{}`",
                        index.value,
                        i.table.display(),
                        t.key.display()
                    ),
                ),
                Some(_) => {}
                None if catalog.after_raw => {}
                None => {
                    let names: Vec<&str> = catalog
                        .indexes
                        .iter()
                        .filter(|i| i.table == t.key)
                        .map(|i| i.key.name.as_str())
                        .collect();
                    cx.error(
                        index.range(),
                        format!(
                            "table `{}` has no index `{}`{}",
                            t.key.display(),
                            index.value,
                            hint(&index.value, names)
                        ),
                    );
                }
            }
        }
        TableConstraintKind::ForeignKey {
            columns: cols,
            target,
        } => {
            columns(cx, catalog, t, cols);
            let types: Option<Vec<Type>> = cols
                .iter()
                .map(|c| t.column(&c.value).map(|c| c.ty.clone()))
                .collect();
            if let Some(types) = types {
                foreign_key(cx, catalog, cols, &types, target);
            }
        }
        TableConstraintKind::Exclude { .. } => {}
        TableConstraintKind::NotNull(c) => {
            column(cx, catalog, t, c);
        }
    }
}

/// The referenced side of a foreign key: the table and columns exist, carry a primary key or unique
/// constraint (or a unique index), and have the referencing columns' types.
fn foreign_key(
    cx: &Ctxt,
    catalog: &Catalog,
    from: &[Name],
    from_types: &[Type],
    target: &ForeignKeyTarget,
) {
    let Some(p) = table(cx, catalog, &target.table).known() else {
        return;
    };
    columns(cx, catalog, p, &target.columns);
    let referenced: Vec<String> = if target.columns.is_empty() {
        // `references p`: its primary key.
        match p
            .constraints
            .iter()
            .find(|c| c.kind == super::catalog::ConstraintKind::PrimaryKey)
        {
            Some(pk) => pk.columns.clone(),
            None => {
                if !catalog.after_raw {
                    cx.error(
                        target.table.range(),
                        format!(
                            "`{}` has no primary key for this foreign key to reference; name the referenced columns: `references {} (..)`",
                            p.key.display(),
                            p.key.display()
                        ),
                    );
                }
                return;
            }
        }
    } else {
        target.columns.iter().map(|c| c.value.clone()).collect()
    };
    if referenced.iter().any(|c| p.column(c).is_none()) {
        return;
    }
    let unique_index = catalog.indexes.iter().any(|i| {
        i.table == p.key
            && i.unique
            && !i.partial
            && i.columns.iter().all(Option::is_some)
            && super::catalog::same_set(
                &i.columns.iter().flatten().cloned().collect::<Vec<_>>(),
                &referenced,
            )
    });
    if !p.has_unique_on(&referenced) && !unique_index && !catalog.after_raw {
        cx.error(
            target.table.range(),
            format!(
                "the referenced columns ({}) of `{}` carry no primary key or unique constraint, which a foreign key needs; add `unique ({})` to `{}` first",
                referenced.join(", "),
                p.key.display(),
                referenced.join(", "),
                p.key.display()
            ),
        );
        return;
    }
    for ((name, ty), r) in from.iter().zip(from_types).zip(&referenced) {
        let Some(rc) = p.column(r) else { continue };
        if !crate::types::comparable_keys(ty, &rc.ty) {
            cx.error(
                name.range(),
                format!(
                    "`{}` is `{}` but the column it references, `{}`.`{}`, is `{}`; a foreign key needs the same type (or two integer types)",
                    name.value,
                    crate::types::display(ty),
                    p.key.display(),
                    r,
                    crate::types::display(&rc.ty)
                ),
            );
        }
    }
}

fn index_exists(cx: &Ctxt, catalog: &Catalog, q: &QName) {
    let key = Key::of(q);
    if catalog.index(&key).is_some() || catalog.after_raw {
        return;
    }
    let names: Vec<String> = catalog.indexes.iter().map(|i| i.key.display()).collect();
    let hint = hint(&key.display(), names.iter().map(String::as_str));
    // An index of a table declared `extern` is unknown: only a near miss is reported.
    if !catalog.external.is_empty() && hint.is_empty() {
        return;
    }
    cx.error(
        q.range(),
        format!(
            "no index `{}` in the schema the earlier migrations build{hint}",
            key.display()
        ),
    );
}

fn constraint_exists(cx: &Ctxt, catalog: &Catalog, t: &Table, name: &Name) {
    if t.constraint(&name.value).is_some() || catalog.after_raw {
        return;
    }
    // PostgreSQL named the unnamed ones (`<table>_<column>_check`, `_key`, `_fkey`, `_pkey`, and on 18
    // `_not_null`): a name of that shape may be one of them.
    let generated = ["_pkey", "_key", "_fkey", "_check", "_not_null", "_excl"]
        .iter()
        .any(|s| {
            name.value
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .ends_with(s)
        });
    if generated && name.value.starts_with(&t.key.name) {
        return;
    }
    let names: Vec<&str> = t
        .constraints
        .iter()
        .filter_map(|c| c.name.as_deref())
        .collect();
    cx.error(
        name.range(),
        format!(
            "table `{}` has no constraint `{}`{}",
            t.key.display(),
            name.value,
            hint(&name.value, names)
        ),
    );
}

fn has_usable_key(catalog: &Catalog, t: &Table) -> bool {
    let not_null = |c: &str| t.column(c).is_some_and(|c| c.not_null);
    t.constraints
        .iter()
        .any(|c| c.kind == super::catalog::ConstraintKind::PrimaryKey)
        || catalog.indexes.iter().any(|i| {
            i.table == t.key
                && i.unique
                && !i.partial
                && i.columns.iter().all(|c| c.as_deref().is_some_and(not_null))
        })
}

/// A misspelt type: close to a built-in type or an enum of the set. Any other name may be an
/// extension's type (`citext`, `geometry`), which the catalog cannot know.
fn known_type(cx: &Ctxt, catalog: &Catalog, ty: &Type) {
    if catalog.after_raw || ty.words.len() != 1 {
        return;
    }
    let word = ty.words[0].as_str();
    let key = Key {
        schema: ty
            .schema
            .as_ref()
            .map_or_else(|| "public".to_owned(), |s| s.value.clone()),
        name: word.to_owned(),
    };
    if catalog.enum_type(&key).is_some() {
        return;
    }
    if ty.schema.is_none() && crate::types::builtin_names().any(|b| b == word) {
        return;
    }
    let enums: Vec<String> = catalog.enums.iter().map(|e| e.key.display()).collect();
    let builtin: Vec<&str> = match ty.schema {
        None => crate::types::builtin_names().collect(),
        Some(_) => Vec::new(),
    };
    let candidates = builtin.into_iter().chain(enums.iter().map(String::as_str));
    // One edit only: extensions' types sit two edits from built-in ones (`citext`, `text`).
    if let Some(near) = super::suggest::closest_within(&key.display(), candidates, 1) {
        cx.error(
            ty.range,
            format!(
                "unknown type `{}`; did you mean `{near}`?",
                crate::types::display(ty)
            ),
        );
    }
}

#[cfg(test)]
mod tests;

/// `attach partition`: both tables known, the parent partitioned, the child not yet a partition and
/// with exactly the parent's columns (PostgreSQL refuses otherwise), the bound of the parent's kind.
fn attach_partition(cx: &Ctxt, catalog: &Catalog, a: &crate::ast::AttachPartition) {
    let p = table(cx, catalog, &a.parent).known();
    let c = table(cx, catalog, &a.partition).known();
    if let Some(p) = p {
        match &p.partitioning {
            None => cx.error(
                a.parent.range(),
                format!(
                    "`{}` is not partitioned; a partitioned table is created with `partition by range|list|hash (..)`",
                    p.key.display()
                ),
            ),
            Some((strategy, keys)) => bound_fits(cx, a, *strategy, keys.len()),
        }
    }
    if let Some(c) = c {
        if let Some((owner, _)) = &c.partition_of {
            cx.error(
                a.partition.range(),
                format!(
                    "`{}` is already a partition of `{}`; detach it first",
                    c.key.display(),
                    owner.display()
                ),
            );
        }
    }
    let (Some(p), Some(c)) = (p, c) else {
        return;
    };
    let mut problems = Vec::new();
    for pc in &p.columns {
        match c.column(&pc.name) {
            None => problems.push(format!("has no column `{}`", pc.name)),
            Some(cc) if !crate::types::same(&cc.ty, &pc.ty) => problems.push(format!(
                "has `{}` of type {} where the parent's is {}",
                pc.name,
                crate::types::display(&cc.ty),
                crate::types::display(&pc.ty)
            )),
            Some(cc) if pc.not_null && !cc.not_null => problems.push(format!(
                "allows NULLs in `{}`, which the parent has NOT NULL",
                pc.name
            )),
            Some(_) => {}
        }
    }
    for cc in &c.columns {
        if p.column(&cc.name).is_none() {
            problems.push(format!("has a column `{}` the parent lacks", cc.name));
        }
    }
    if !problems.is_empty() && !catalog.after_raw {
        cx.error(
            a.partition.range(),
            format!(
                "a partition has exactly its parent's columns, and `{}` {}",
                c.key.display(),
                problems.join(", ")
            ),
        );
    }
}

/// The bound is of the parent's kind, with one value per key column for a range.
fn bound_fits(
    cx: &Ctxt,
    a: &crate::ast::AttachPartition,
    strategy: PartitionStrategy,
    keys: usize,
) {
    let wanted = match strategy {
        PartitionStrategy::Range => "`for values from (..) to (..)`",
        PartitionStrategy::List => "`for values in (..)`",
        PartitionStrategy::Hash => "`for values with (modulus m, remainder r)`",
    };
    let fits = match (&a.bound, strategy) {
        (PartitionBound::Range { from, to }, PartitionStrategy::Range) => {
            if from.len() != keys || to.len() != keys {
                cx.error(
                    a.bound_range,
                    format!(
                        "`{}` is partitioned by {keys} column(s), so each side of the bound has {keys} value(s)",
                        Key::of(&a.parent).display()
                    ),
                );
            }
            true
        }
        (PartitionBound::List(_), PartitionStrategy::List)
        | (PartitionBound::Hash { .. }, PartitionStrategy::Hash)
        | (PartitionBound::Default, PartitionStrategy::Range | PartitionStrategy::List) => true,
        _ => false,
    };
    if !fits {
        cx.error(
            a.bound_range,
            format!(
                "`{}` is partitioned by {}, so its partitions' bounds are {wanted}",
                Key::of(&a.parent).display(),
                strategy.as_sql().to_lowercase()
            ),
        );
    }
}
