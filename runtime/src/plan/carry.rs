//! The SQL of an expand/contract column change that depends on the schema: the indexes and
//! constraints carried to the new column and the statements of the `complete` transaction. It has one
//! home for its two users: the runtime builds it from the live catalog when it runs the steps, and the
//! macro from its schema catalog, so the plan shows it before anything runs
//! ([`PhasedStep::preview`](super::PhasedStep::preview)). Definitions are given as PostgreSQL prints
//! them (`pg_get_indexdef`, `pg_get_constraintdef`) or in the same shape.

use super::phased::{carried_name, not_null_helper, ColumnChange};

/// The preview line standing for the statements that re-create an identity on the new column: they
/// need the sequence's options and position, which only the live database knows.
pub const IDENTITY_PLACEHOLDER: &str = "-- then the identity is re-created on the column with the kind, sequence name, options and last value read from its sequence";

/// The preview line standing for the copy of the old column's comment onto the new one (`COMMENT
/// ON COLUMN`): the schema catalog does not model comments.
pub const COMMENT_PLACEHOLDER: &str =
    "-- and the column's comment, if it has one, is copied to the new column";

/// The preview line standing for the statements on constraints whose names PostgreSQL chose
/// (declared without a name), which the schema catalog cannot name.
pub const UNNAMED_PLACEHOLDER: &str = "-- and the same for the constraints on it PostgreSQL named, which the schema catalog cannot name";

/// The preview of a step for which the schema catalog predicts no statement (no index on the
/// column to carry over, say); a step without any preview line has no catalog behind it.
pub const NOTHING_PLACEHOLDER: &str =
    "-- nothing: the schema catalog knows of nothing on the column for this step";

/// Whether `sql` is one of the statements [`IDENTITY_PLACEHOLDER`] stands for.
pub fn is_identity_sql(sql: &str) -> bool {
    (sql.starts_with("ALTER TABLE ") && sql.contains(" ADD GENERATED "))
        || sql.starts_with("SELECT setval(")
}

/// Whether `sql` is the statement [`COMMENT_PLACEHOLDER`] stands for.
pub fn is_comment_sql(sql: &str) -> bool {
    sql.starts_with("COMMENT ON COLUMN ")
}

/// The statement that drops `NOT NULL` from a column an `expand .. drop column` drops at
/// `complete` (`table` rendered), so code that no longer writes it can insert.
pub fn drop_not_null_sql(table: &str, column: &str) -> String {
    format!(
        "ALTER TABLE {table} ALTER COLUMN {} DROP NOT NULL",
        quote_ident(column)
    )
}

/// The comment copying the old column's comment to the new one.
pub fn comment_sql(c: &ColumnChange, comment: &str) -> String {
    format!(
        "COMMENT ON COLUMN {}.{} IS {}",
        c.table,
        quote_ident(c.new_column),
        super::sqltext::quote_literal(comment)
    )
}

/// Whether `sql` is one of the statements [`UNNAMED_PLACEHOLDER`] stands for: adding, validating,
/// renaming or dropping a constraint.
pub fn is_constraint_sql(sql: &str) -> bool {
    sql.starts_with("ALTER TABLE ")
        && [
            " ADD CONSTRAINT ",
            " VALIDATE CONSTRAINT ",
            " RENAME CONSTRAINT ",
            " DROP CONSTRAINT ",
        ]
        .iter()
        .any(|action| sql.contains(action))
}
use super::sqltext::{constraint_for, index_for, quote_ident, referencing_for};

/// An index on the old column.
#[derive(Debug, Clone, Copy)]
pub struct CarriedIndex<'a> {
    /// Its name.
    pub name: &'a str,
    /// `CREATE [UNIQUE] INDEX name ON table USING method (..) ..`.
    pub def: &'a str,
    /// The primary key or unique constraint it implements.
    pub key: Option<KeyConstraint<'a>>,
}

/// A primary key or unique constraint implemented by a [`CarriedIndex`].
#[derive(Debug, Clone, Copy)]
pub struct KeyConstraint<'a> {
    /// The constraint's name.
    pub name: &'a str,
    /// A primary key (else a unique constraint).
    pub primary: bool,
    /// `DEFERRABLE`.
    pub deferrable: bool,
    /// `INITIALLY DEFERRED`.
    pub deferred: bool,
}

/// A check constraint or foreign key on the old column, or a foreign key of another table
/// referencing it.
#[derive(Debug, Clone, Copy)]
pub struct CarriedConstraint<'a> {
    /// The table it is on, rendered.
    pub table: &'a str,
    /// Its name.
    pub name: &'a str,
    /// `CHECK (..)` or `FOREIGN KEY (..) REFERENCES ..`.
    pub def: &'a str,
    /// `pg_constraint.convalidated`: its carried copy is validated too.
    pub validated: bool,
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY` of `index` on the new column, under its carried name; `None`
/// when the definition is not in PostgreSQL's shape.
pub fn index_sql(c: &ColumnChange, index: &CarriedIndex) -> Option<String> {
    index_for(
        index.def,
        &carried_name(index.name),
        c.table,
        c.column,
        c.new_column,
    )
}

/// A rename's new column, added with the old one's type (`format_type`) and collation clause
/// (` COLLATE ".."` or empty) before the step's statements.
pub fn rename_column_sql(c: &ColumnChange, type_sql: &str, collate_sql: &str) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN {} {type_sql}{collate_sql}",
        c.table,
        quote_ident(c.new_column)
    )
}

/// `ADD CONSTRAINT .. NOT VALID` of `constraint` (on the changed table) for the new column.
pub fn constraint_sql(c: &ColumnChange, constraint: &CarriedConstraint) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID",
        c.table,
        quote_ident(&carried_name(constraint.name)),
        constraint_for(constraint.def, c.column, c.new_column)
    )
}

/// The `CHECK (new IS NOT NULL) NOT VALID` that carries the old column's `NOT NULL`.
pub fn not_null_sql(c: &ColumnChange) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID",
        c.table,
        quote_ident(&not_null_helper(c.new_column)),
        quote_ident(c.new_column)
    )
}

/// `ADD CONSTRAINT .. NOT VALID` of a foreign key of another table (`key.table`) referencing the old
/// column, pointed at the new one; `None` when the definition is not in PostgreSQL's shape.
pub fn referencing_sql(c: &ColumnChange, key: &CarriedConstraint) -> Option<String> {
    let def = referencing_for(key.def, c.column, c.new_column)?;
    Some(format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {def} NOT VALID",
        key.table,
        quote_ident(&carried_name(key.name))
    ))
}

/// `VALIDATE CONSTRAINT name` on `table` (rendered): a carried copy, or the `NOT NULL` helper.
pub fn validate_sql(table: &str, name: &str) -> String {
    format!(
        "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
        quote_ident(name)
    )
}

/// What the `complete` transaction of a column change works from.
#[derive(Debug, Clone, Default)]
pub struct Contract<'a> {
    /// The table's schema, for index names.
    pub schema: &'a str,
    /// The indexes on the old column (each has a carried copy).
    pub indexes: Vec<CarriedIndex<'a>>,
    /// Its check constraints and foreign keys (each has a carried copy).
    pub constraints: Vec<CarriedConstraint<'a>>,
    /// Foreign keys of other tables referencing it (each has a carried copy).
    pub referencing: Vec<CarriedConstraint<'a>>,
    /// Sequences it owns (`serial`), rendered.
    pub sequences: Vec<String>,
    /// Its default, as SQL.
    pub default: Option<&'a str>,
    /// Whether it is `NOT NULL` (the new column's helper check is then validated).
    pub not_null: bool,
    /// Statements re-creating its identity on the new column (they need the sequence's state).
    pub identity: Vec<String>,
    /// Drops of carried foreign keys whose original was dropped since the expand: first.
    pub stale_referencing: Vec<String>,
    /// Drops of carried indexes and constraints whose original was dropped since the expand.
    pub stale: Vec<String>,
}

/// The statements of the `complete` transaction, in order: the referencing foreign keys dropped (they
/// depend on the old column's unique index), the trigger and function, the old column, the new one
/// renamed (a type change), the carried objects given their names, the default and `NOT NULL`, the
/// keys re-attached `USING INDEX`, sequence ownership and identity.
pub fn contract_sql(c: &ColumnChange, k: &Contract) -> Vec<String> {
    let t = c.table;
    let mut sql = k.stale_referencing.clone();
    for key in &k.referencing {
        sql.push(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            key.table,
            quote_ident(key.name)
        ));
    }
    sql.extend(k.stale.iter().cloned());
    sql.push(format!("DROP TRIGGER {} ON {t}", quote_ident(c.trigger)));
    sql.push(format!("DROP FUNCTION {}()", c.function));
    for s in &k.sequences {
        sql.push(format!("ALTER SEQUENCE {s} OWNED BY NONE"));
    }
    sql.push(format!(
        "ALTER TABLE {t} DROP COLUMN {}",
        quote_ident(c.column)
    ));
    let final_name = if c.rename {
        c.new_column
    } else {
        sql.push(format!(
            "ALTER TABLE {t} RENAME COLUMN {} TO {}",
            quote_ident(c.new_column),
            quote_ident(c.column)
        ));
        c.column
    };
    let column = quote_ident(final_name);
    for ix in k.indexes.iter().filter(|ix| ix.key.is_none()) {
        sql.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(k.schema, &carried_name(ix.name)),
            quote_ident(ix.name)
        ));
    }
    for con in &k.constraints {
        sql.push(format!(
            "ALTER TABLE {t} RENAME CONSTRAINT {} TO {}",
            quote_ident(&carried_name(con.name)),
            quote_ident(con.name)
        ));
    }
    if let Some(default) = k.default {
        sql.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {column} SET DEFAULT {default}"
        ));
    }
    if k.not_null {
        // PostgreSQL 12+ sees the validated check and skips the scan.
        sql.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {column} SET NOT NULL"
        ));
        sql.push(format!(
            "ALTER TABLE {t} DROP CONSTRAINT {}",
            quote_ident(&not_null_helper(c.new_column))
        ));
    }
    for ix in &k.indexes {
        let Some(key) = ix.key else { continue };
        let what = if key.primary { "PRIMARY KEY" } else { "UNIQUE" };
        let deferrable = match (key.deferrable, key.deferred) {
            (true, true) => " DEFERRABLE INITIALLY DEFERRED",
            (true, false) => " DEFERRABLE",
            _ => "",
        };
        sql.push(format!(
            "ALTER TABLE {t} ADD CONSTRAINT {} {what} USING INDEX {}{deferrable}",
            quote_ident(key.name),
            quote_ident(&carried_name(ix.name))
        ));
    }
    for key in &k.referencing {
        sql.push(format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            key.table,
            quote_ident(&carried_name(key.name)),
            quote_ident(key.name)
        ));
    }
    for s in &k.sequences {
        sql.push(format!("ALTER SEQUENCE {s} OWNED BY {t}.{column}"));
    }
    sql.extend(k.identity.iter().cloned());
    sql
}

/// An index name in its table's schema (unqualified for an empty schema).
fn qualified(schema: &str, name: &str) -> String {
    if schema.is_empty() {
        quote_ident(name)
    } else {
        format!("{}.{}", quote_ident(schema), quote_ident(name))
    }
}
