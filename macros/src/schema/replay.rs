//! Applying a statement to the catalog: what PostgreSQL's catalog holds after it ran.
//!
//! Best effort and never failing: a statement about a table the catalog does not know changes
//! nothing, so an error in one migration does not turn into errors in the next. An `expand` operation
//! is applied as it is after `complete`: a later migration may only touch its objects once it is
//! completed (the runtime refuses before that), so that is the state it sees.

use crate::ast::{
    AlterActionKind, ColumnConstraintKind, ColumnDef, CreateTable, ExpandOp, IndexKeyExpr, Name,
    Stmt, StmtKind, TableConstraint, TableConstraintKind,
};

use zerodown_runtime::plan::sqltext::rename_column_refs;

use super::catalog::{Catalog, Column, Constraint, ConstraintKind, EnumType, Index, Key, Table};

/// Applies one statement.
pub(crate) fn statement(catalog: &mut Catalog, stmt: &Stmt) {
    match &stmt.kind {
        StmtKind::CreateTable(ct) => create_table(catalog, ct),
        StmtKind::DropTable { tables, .. } => {
            for t in tables {
                drop_table(catalog, &Key::of(t), "dropped");
            }
        }
        StmtKind::CreateIndex(ci) => {
            if let Some(name) = &ci.name {
                let table = Key::of(&ci.table);
                if catalog.table(&table).is_some() {
                    let key = Key {
                        schema: table.schema.clone(),
                        name: name.value.clone(),
                    };
                    catalog.indexes.retain(|i| i.key != key);
                    catalog.indexes.push(Index {
                        key,
                        table,
                        columns: ci
                            .keys
                            .iter()
                            .map(|k| match &k.expr {
                                IndexKeyExpr::Column(c) => Some(c.value.clone()),
                                IndexKeyExpr::Expr(_) => None,
                            })
                            .collect(),
                        unique: ci.unique,
                        partial: ci.predicate.is_some(),
                        definition: index_definition(ci),
                        keys_sql: ci
                            .keys
                            .iter()
                            .map(|k| crate::render::index_key_expr(&k.expr))
                            .collect::<Vec<_>>()
                            .join(", "),
                        constraint: None,
                    });
                }
            }
        }
        StmtKind::DropIndex { index, .. } => {
            let key = Key::of(index);
            catalog.indexes.retain(|i| i.key != key);
        }
        StmtKind::RenameIndex { index, to } => rename_index(catalog, &Key::of(index), to),
        StmtKind::AlterTable { table, actions } => {
            let mut key = Key::of(table);
            for action in actions {
                alter(catalog, &mut key, &action.kind);
            }
        }
        StmtKind::CreateEnum { name, values } => {
            let key = Key::of(name);
            catalog.enums.retain(|e| e.key != key);
            catalog.enums.push(EnumType {
                key,
                values: values.iter().map(|v| v.value.clone()).collect(),
            });
        }
        StmtKind::AlterEnumAddValue {
            name,
            value,
            position,
            ..
        } => {
            if let Some(e) = catalog.enums.iter_mut().find(|e| e.key == Key::of(name)) {
                if !e.values.contains(&value.value) {
                    let at = position
                        .as_ref()
                        .and_then(|(pos, other)| {
                            let i = e.values.iter().position(|v| *v == other.value)?;
                            Some(match pos {
                                crate::ast::EnumPosition::Before => i,
                                crate::ast::EnumPosition::After => i + 1,
                            })
                        })
                        .unwrap_or(e.values.len());
                    e.values.insert(at, value.value.clone());
                }
            }
        }
        StmtKind::Raw(raw) => {
            if !super::raw_effect::leaves_catalog_alone(&raw.sql.value) {
                catalog.after_raw = true;
            }
        }
        StmtKind::DropSchema { name, .. } => {
            let schema = name.value.clone();
            let dropped: Vec<Key> = catalog
                .tables
                .iter()
                .filter(|t| t.key.schema == schema)
                .map(|t| t.key.clone())
                .collect();
            for key in dropped {
                drop_table(catalog, &key, "dropped with its schema");
            }
            catalog.enums.retain(|e| e.key.schema != schema);
        }
        StmtKind::Expand(e) => {
            let mut key = Key::of(&e.table);
            match &e.op {
                ExpandOp::AlterType { column, ty, .. } => {
                    if let Some(c) = catalog
                        .table_mut(&key)
                        .and_then(|t| t.column_mut(&column.value))
                    {
                        c.ty = ty.clone();
                    }
                }
                ExpandOp::RenameColumn { from, to } => rename_column(catalog, &key, from, to),
                ExpandOp::RenameTable { to } => rename_table(catalog, &mut key, to),
                ExpandOp::DropColumn { column } => drop_column(catalog, &key, &column.value),
                ExpandOp::DropTable => drop_table(catalog, &key, "dropped"),
            }
        }
        StmtKind::AttachPartition(a) => {
            let parent = Key::of(&a.parent);
            let child = Key::of(&a.partition);
            if catalog
                .table(&parent)
                .is_some_and(|p| p.partitioning.is_some())
                && catalog.table(&child).is_some()
            {
                // The parent's indexes and keys come to the partition (built by the recipe on an
                // existing table, by PostgreSQL on a new one).
                for index in catalog.partition_indexes_missing(&parent, &child) {
                    if let Some(kind) = index.constraint.clone() {
                        let columns = index.columns.iter().flatten().cloned().collect();
                        if let Some(t) = catalog.table_mut(&child) {
                            t.constraints.push(Constraint {
                                name: Some(index.key.name.clone()),
                                kind,
                                columns,
                                validated: true,
                            });
                        }
                    }
                    catalog.indexes.push(index);
                }
                if let Some(t) = catalog.table_mut(&child) {
                    t.partition_of = Some((parent, crate::render::partition_bound(&a.bound)));
                }
            }
        }
        StmtKind::DetachPartition { partition, .. } => {
            if let Some(t) = catalog.table_mut(&Key::of(partition)) {
                t.partition_of = None;
            }
        }
        StmtKind::CommentOn { .. }
        | StmtKind::Analyze { .. }
        | StmtKind::CreateStatistics { .. }
        | StmtKind::RefreshMaterializedView { .. }
        | StmtKind::Reindex { .. }
        | StmtKind::VacuumFull { .. }
        | StmtKind::Cluster { .. }
        | StmtKind::LockTable { .. }
        | StmtKind::Truncate { .. }
        | StmtKind::DropDatabase { .. }
        | StmtKind::Backfill(_) => {}
    }
}

fn create_table(catalog: &mut Catalog, ct: &CreateTable) {
    let key = Key::of(&ct.name);
    // PostgreSQL keeps the table that exists (`if not exists`), or fails.
    if catalog.table(&key).is_some() {
        return;
    }
    catalog.gone.retain(|(k, _, _)| *k != key);
    catalog.tables.push(Table {
        key: key.clone(),
        columns: Vec::new(),
        constraints: Vec::new(),
        unnamed_constraints: false,
        partitioning: ct.partition_by.as_ref().map(|p| {
            (
                p.strategy,
                p.columns.iter().map(|c| c.value.clone()).collect(),
            )
        }),
        partition_of: None,
    });
    for def in &ct.columns {
        add_column(catalog, &key, def);
    }
    for c in &ct.constraints {
        add_constraint(catalog, &key, c);
    }
}

fn alter(catalog: &mut Catalog, key: &mut Key, action: &AlterActionKind) {
    match action {
        AlterActionKind::AddColumn { column, .. } => {
            let exists = catalog
                .table(key)
                .is_some_and(|t| t.column(&column.name.value).is_some());
            if !exists {
                add_column(catalog, key, column);
            }
        }
        AlterActionKind::DropColumn { column, .. } => drop_column(catalog, key, &column.value),
        AlterActionKind::AlterType { column, ty, .. } => {
            if let Some(c) = catalog
                .table_mut(key)
                .and_then(|t| t.column_mut(&column.value))
            {
                c.ty = ty.clone();
            }
        }
        AlterActionKind::SetNotNull { column } | AlterActionKind::DropNotNull { column } => {
            let not_null = matches!(action, AlterActionKind::SetNotNull { .. });
            if let Some(c) = catalog
                .table_mut(key)
                .and_then(|t| t.column_mut(&column.value))
            {
                c.not_null = not_null;
            }
        }
        AlterActionKind::SetDefault { column, expr } => {
            if let Some(c) = catalog
                .table_mut(key)
                .and_then(|t| t.column_mut(&column.value))
            {
                c.default = Some(crate::render::default_expr(expr));
            }
        }
        AlterActionKind::DropDefault { column } => {
            if let Some(c) = catalog
                .table_mut(key)
                .and_then(|t| t.column_mut(&column.value))
            {
                c.default = None;
            }
        }
        AlterActionKind::RenameColumn { from, to } => rename_column(catalog, key, from, to),
        AlterActionKind::RenameTo { to } => rename_table(catalog, key, to),
        AlterActionKind::AddConstraint(c) => add_constraint(catalog, key, c),
        AlterActionKind::ValidateConstraint { name } => {
            let Some(t) = catalog.table_mut(key) else {
                return;
            };
            let mut not_null = None;
            if let Some(c) = t
                .constraints
                .iter_mut()
                .find(|c| c.name.as_deref() == Some(&name.value))
            {
                c.validated = true;
                if c.kind == ConstraintKind::NotNull {
                    not_null = c.columns.first().cloned();
                }
            }
            // A validated `not null` constraint is the column's NOT NULL.
            if let Some(col) = not_null.and_then(|n| t.column_mut(&n)) {
                col.not_null = true;
            }
        }
        AlterActionKind::DropConstraint { name, .. } => {
            let Some(table) = catalog.table_mut(key) else {
                return;
            };
            table
                .constraints
                .retain(|c| c.name.as_deref() != Some(&name.value));
            // A primary key or unique constraint takes its index with it.
            let index = Key {
                schema: key.schema.clone(),
                name: name.value.clone(),
            };
            catalog.indexes.retain(|i| i.key != index);
        }
        // Not modelled: how the planner and vacuum treat the table.
        AlterActionKind::SetStatistics { .. } | AlterActionKind::SetStorage { .. } => {}
    }
}

fn add_column(catalog: &mut Catalog, key: &Key, def: &ColumnDef) {
    let Some(table) = catalog.table_mut(key) else {
        return;
    };
    let serial = def.ty.schema.is_none()
        && def.ty.array_dims == 0
        && matches!(def.ty.words.as_slice(), [w] if matches!(w.as_str(), "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8"));
    let mut column = Column {
        name: def.name.value.clone(),
        ty: def.ty.clone(),
        not_null: serial,
        default: None,
        identity: None,
        generated: false,
    };
    let mut constraints = Vec::new();
    for c in &def.constraints {
        let name = c.name.as_ref().map(|n| n.value.clone());
        let columns = vec![def.name.value.clone()];
        match &c.kind {
            ColumnConstraintKind::NotNull => column.not_null = true,
            ColumnConstraintKind::Null => {}
            ColumnConstraintKind::Default(e) => {
                column.default = Some(crate::render::default_expr(e));
            }
            ColumnConstraintKind::Identity { always } => {
                column.identity = Some(*always);
                column.not_null = true;
            }
            ColumnConstraintKind::GeneratedStored(_)
            | ColumnConstraintKind::GeneratedVirtual(_) => column.generated = true,
            ColumnConstraintKind::PrimaryKey => {
                column.not_null = true;
                constraints.push((name, ConstraintKind::PrimaryKey, columns));
            }
            ColumnConstraintKind::Unique => {
                constraints.push((name, ConstraintKind::Unique, columns))
            }
            ColumnConstraintKind::Check(e) => {
                constraints.push((name, ConstraintKind::Check(crate::render::expr(e)), columns))
            }
            ColumnConstraintKind::References(target) => constraints.push((
                name,
                ConstraintKind::ForeignKey {
                    table: Key::of(&target.table),
                    columns: target.columns.iter().map(|c| c.value.clone()).collect(),
                    actions: fk_actions(target),
                },
                columns,
            )),
        }
    }
    if serial {
        // The owned sequence PostgreSQL creates and names.
        let sequence = match key.schema.as_str() {
            "public" => format!("{}_{}_seq", key.name, column.name),
            schema => format!("{schema}.{}_{}_seq", key.name, column.name),
        };
        column.default = Some(format!("nextval('{sequence}'::regclass)"));
    }
    table.columns.retain(|c| c.name != column.name);
    table.columns.push(column);
    for (name, kind, columns) in constraints {
        push_constraint(catalog, key, name, kind, columns, true, None);
    }
}

fn add_constraint(catalog: &mut Catalog, key: &Key, c: &TableConstraint) {
    let name = c.name.as_ref().map(|n| n.value.clone());
    let validated = c.not_valid.is_none();
    let names = |cols: &[Name]| cols.iter().map(|c| c.value.clone()).collect::<Vec<_>>();
    let (kind, columns, using) = match &c.kind {
        TableConstraintKind::Check(e) => (
            ConstraintKind::Check(crate::render::expr(e)),
            Vec::new(),
            None,
        ),
        TableConstraintKind::Unique { columns, .. } => {
            (ConstraintKind::Unique, names(columns), None)
        }
        TableConstraintKind::PrimaryKey { columns, .. } => {
            (ConstraintKind::PrimaryKey, names(columns), None)
        }
        TableConstraintKind::UniqueUsingIndex(index) => {
            (ConstraintKind::Unique, Vec::new(), Some(index))
        }
        TableConstraintKind::PrimaryKeyUsingIndex(index) => {
            (ConstraintKind::PrimaryKey, Vec::new(), Some(index))
        }
        TableConstraintKind::ForeignKey { columns, target } => (
            ConstraintKind::ForeignKey {
                table: Key::of(&target.table),
                columns: names(&target.columns),
                actions: fk_actions(target),
            },
            names(columns),
            None,
        ),
        // Kept as a check: the catalog models no exclusion constraints.
        TableConstraintKind::Exclude { .. } => {
            (ConstraintKind::Check(String::new()), Vec::new(), None)
        }
        TableConstraintKind::NotNull(column) => {
            (ConstraintKind::NotNull, vec![column.value.clone()], None)
        }
    };
    push_constraint(catalog, key, name, kind, columns, validated, using);
}

/// Adds a constraint; a primary key sets its columns `NOT NULL`, and a primary key or unique
/// constraint gets its index (the one it was given with `using index`, renamed to the constraint).
fn push_constraint(
    catalog: &mut Catalog,
    key: &Key,
    mut name: Option<String>,
    kind: ConstraintKind,
    mut columns: Vec<String>,
    validated: bool,
    using: Option<&Name>,
) {
    if catalog.table(key).is_none() {
        return;
    }
    let with_index = matches!(kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique);
    if let Some(index) = using {
        let index_key = Key {
            schema: key.schema.clone(),
            name: index.value.clone(),
        };
        if let Some(i) = catalog.indexes.iter_mut().find(|i| i.key == index_key) {
            columns = i.columns.iter().flatten().cloned().collect();
            i.constraint = Some(kind.clone());
            // The index takes the constraint's name.
            if let Some(name) = &name {
                i.key.name = name.clone();
            }
        }
    } else if with_index {
        // PostgreSQL names an unnamed key `<table>_pkey` or `<table>_<columns>_key`, and its index
        // after it.
        let index_name = name.clone().unwrap_or_else(|| match kind {
            ConstraintKind::PrimaryKey => format!("{}_pkey", key.name),
            _ => format!("{}_{}_key", key.name, columns.join("_")),
        });
        name = Some(index_name.clone());
        let keys_sql = columns
            .iter()
            .map(|c| crate::render::quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        catalog.indexes.push(Index {
            key: Key {
                schema: key.schema.clone(),
                name: index_name,
            },
            table: key.clone(),
            columns: columns.iter().cloned().map(Some).collect(),
            unique: true,
            partial: false,
            definition: format!("USING btree ({keys_sql})"),
            keys_sql,
            constraint: Some(kind.clone()),
        });
    }
    let Some(table) = catalog.table_mut(key) else {
        return;
    };
    if kind == ConstraintKind::PrimaryKey {
        for c in &columns {
            if let Some(col) = table.column_mut(c) {
                col.not_null = true;
            }
        }
    }
    table.unnamed_constraints |= name.is_none();
    table.constraints.push(Constraint {
        name,
        kind,
        columns,
        validated,
    });
}

fn drop_column(catalog: &mut Catalog, key: &Key, column: &str) {
    {
        let Some(table) = catalog.table_mut(key) else {
            return;
        };
        table.columns.retain(|c| c.name != column);
        // Constraints and indexes over the column go with it (PostgreSQL drops them, or refuses
        // without `cascade`, which fails the migration instead).
        table
            .constraints
            .retain(|c| !c.columns.iter().any(|c| c == column));
    }
    catalog
        .indexes
        .retain(|i| !(i.table == *key && i.columns.iter().flatten().any(|c| c == column)));
}

fn rename_column(catalog: &mut Catalog, key: &Key, from: &Name, to: &Name) {
    let rename = |c: &mut String| {
        if *c == from.value {
            *c = to.value.clone();
        }
    };
    {
        let Some(table) = catalog.table_mut(key) else {
            return;
        };
        if let Some(c) = table.column_mut(&from.value) {
            c.name = to.value.clone();
        }
        for c in &mut table.constraints {
            c.columns.iter_mut().for_each(rename);
            if let ConstraintKind::Check(e) = &mut c.kind {
                *e = rename_column_refs(e, &from.value, &to.value);
            }
        }
    }
    for i in catalog.indexes.iter_mut().filter(|i| i.table == *key) {
        i.columns.iter_mut().flatten().for_each(rename);
        i.definition = rename_column_refs(&i.definition, &from.value, &to.value);
        i.keys_sql = rename_column_refs(&i.keys_sql, &from.value, &to.value);
    }
    for t in &mut catalog.tables {
        for c in &mut t.constraints {
            if let ConstraintKind::ForeignKey { table, columns, .. } = &mut c.kind {
                if table == key {
                    columns.iter_mut().for_each(rename);
                }
            }
        }
    }
}

/// `alter index i rename to n`: the index, and the primary key or unique constraint it backs
/// (PostgreSQL renames that constraint with it).
fn rename_index(catalog: &mut Catalog, key: &Key, to: &Name) {
    let Some(index) = catalog.indexes.iter_mut().find(|i| i.key == *key) else {
        return;
    };
    index.key.name = to.value.clone();
    let table = index.table.clone();
    if let Some(t) = catalog.table_mut(&table) {
        for c in &mut t.constraints {
            if c.name.as_deref() == Some(key.name.as_str()) {
                c.name = Some(to.value.clone());
            }
        }
    }
}

fn rename_table(catalog: &mut Catalog, key: &mut Key, to: &Name) {
    if catalog.table(key).is_none() {
        return;
    }
    let new = Key {
        schema: key.schema.clone(),
        name: to.value.clone(),
    };
    let what = format!("renamed to `{}`", new.display());
    catalog.gone.push((key.clone(), what, catalog.version));
    catalog.gone.retain(|(k, _, _)| *k != new);
    if let Some(t) = catalog.table_mut(key) {
        t.key = new.clone();
    }
    for i in &mut catalog.indexes {
        if i.table == *key {
            i.table = new.clone();
        }
    }
    for t in &mut catalog.tables {
        for c in &mut t.constraints {
            if let ConstraintKind::ForeignKey { table, .. } = &mut c.kind {
                if table == key {
                    *table = new.clone();
                }
            }
        }
    }
    *key = new;
}

fn drop_table(catalog: &mut Catalog, key: &Key, what: &str) {
    if catalog.table(key).is_none() {
        return;
    }
    catalog.tables.retain(|t| t.key != *key);
    catalog.indexes.retain(|i| i.table != *key);
    catalog.gone.retain(|(k, _, _)| k != key);
    catalog
        .gone
        .push((key.clone(), what.to_owned(), catalog.version));
}

/// `USING method (keys) INCLUDE (..) WHERE ..`, as PostgreSQL's `pg_get_indexdef` writes what
/// follows the table (`USING btree` when no method is written).
fn index_definition(ci: &crate::ast::CreateIndex) -> String {
    let method = ci.method.as_ref().map_or("btree", |m| m.value.as_str());
    let keys: Vec<String> = ci.keys.iter().map(crate::render::index_key).collect();
    let mut out = format!("USING {method} ({})", keys.join(", "));
    if !ci.include.is_empty() {
        out.push_str(&format!(
            " INCLUDE ({})",
            crate::render::column_list(&ci.include)
        ));
    }
    if let Some(p) = &ci.predicate {
        out.push_str(&format!(" WHERE {}", crate::render::expr(p)));
    }
    out
}

/// A foreign key's ` ON DELETE ..` / ` ON UPDATE ..` as written.
fn fk_actions(target: &crate::ast::ForeignKeyTarget) -> String {
    let full = crate::render::fk_target(target);
    full.find(" ON ")
        .map_or_else(String::new, |i| full[i..].to_owned())
}
