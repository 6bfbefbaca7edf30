//! What the catalog knows of a column an `expand` type change or rename replaces
//! ([`CarryFacts`]): the indexes, check constraints and foreign keys on it, the foreign keys
//! referencing it, its default, `NOT NULL`, owned sequence and identity, with definitions in the shape
//! PostgreSQL prints them, so `lower` renders the SQL the runtime will derive from the live catalog.

use zerodown_runtime::plan::sqltext::{quote_ident, rename_column_refs};

use super::catalog::{Catalog, ConstraintKind, Key};
use crate::ast::CarryFacts;

/// The facts for column `column` of `table`, or `None` when the catalog does not know them.
pub(crate) fn facts(catalog: &Catalog, table: &Key, column: &str) -> Option<CarryFacts> {
    let t = catalog.table(table)?;
    let col = t.column(column)?;
    let rendered = table.rendered();
    // Whether SQL text refers to the column (renaming it changes the text).
    let mentions = |sql: &str| rename_column_refs(sql, column, "\u{1}") != sql;
    let mut out = CarryFacts {
        schema: table.schema.clone(),
        not_null: col.not_null,
        default: col.default.clone(),
        identity: col.identity.is_some(),
        type_sql: crate::types::format_type(&col.ty),
        ..CarryFacts::default()
    };
    for ix in catalog.indexes.iter().filter(|i| i.table == *table) {
        if ix.columns.iter().flatten().any(|c| c == column) || mentions(&ix.definition) {
            out.indexes.push((
                ix.key.name.clone(),
                format!(
                    "CREATE {}INDEX {} ON {rendered} {}",
                    if ix.unique { "UNIQUE " } else { "" },
                    quote_ident(&ix.key.name),
                    ix.definition
                ),
                match ix.constraint {
                    Some(ConstraintKind::PrimaryKey) => Some(true),
                    Some(ConstraintKind::Unique) => Some(false),
                    _ => None,
                },
            ));
        }
    }
    for c in &t.constraints {
        let def = match &c.kind {
            ConstraintKind::Check(e) if mentions(e) => format!("CHECK ({e})"),
            ConstraintKind::ForeignKey {
                table: target,
                columns,
                actions,
            } if c.columns.iter().any(|c| c == column) => {
                foreign_key(&c.columns, target, columns, actions)
            }
            _ => continue,
        };
        match &c.name {
            Some(name) => out.constraints.push((name.clone(), def, c.validated)),
            None => out.unnamed = true,
        }
    }
    // Foreign keys of any table (this one included) referencing the column.
    let primary: Option<Vec<String>> = t
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .map(|c| c.columns.clone());
    for other in &catalog.tables {
        for c in &other.constraints {
            let ConstraintKind::ForeignKey {
                table: target,
                columns,
                actions,
            } = &c.kind
            else {
                continue;
            };
            let referenced = if columns.is_empty() {
                primary.clone().unwrap_or_default()
            } else {
                columns.clone()
            };
            if target != table || !referenced.iter().any(|r| r == column) {
                continue;
            }
            match &c.name {
                Some(name) => out.referencing.push((
                    other.key.rendered(),
                    name.clone(),
                    foreign_key(&c.columns, target, &referenced, actions),
                    c.validated,
                )),
                None => out.unnamed = true,
            }
        }
    }
    if let Some(sequence) = col
        .default
        .as_deref()
        .and_then(|d| d.strip_prefix("nextval('"))
        .and_then(|d| d.strip_suffix("'::regclass)"))
    {
        out.sequences.push(sequence.to_owned());
    }
    Some(out)
}

/// `FOREIGN KEY ("a") REFERENCES "t" ("id") ON DELETE ..`
fn foreign_key(columns: &[String], target: &Key, referenced: &[String], actions: &str) -> String {
    let list = |c: &[String]| {
        c.iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let to = if referenced.is_empty() {
        String::new()
    } else {
        format!("({})", list(referenced))
    };
    format!(
        "FOREIGN KEY ({}) REFERENCES {}{to}{actions}",
        list(columns),
        target.rendered()
    )
}
