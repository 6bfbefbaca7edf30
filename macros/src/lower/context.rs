//! What lowering knows about objects created earlier in the same migration.

use zerodown_runtime::plan::{PgVersion, Settings};

use crate::ast::{Name, QName};
use crate::render::render_qname;

use super::naming::PlanGeneration;
use super::stmt::TableRef;

/// Tables and indexes created earlier in this migration. Statements on them lock no existing table, so
/// they need no online recipe and group freely. Names compare as written: `app.users` and `users` are
/// different tables here, since the search path is only known at run time.
pub(super) struct Context {
    pub settings: Settings,
    /// Whether the statement being lowered sits in an `unsafe` block allowing
    /// `fires_user_triggers`: its backfill batches may fire the table's own triggers.
    pub fire_user_triggers: bool,
    /// Whose plan this lowering reproduces (the legacy one only to compute the checksums earlier
    /// versions gave the plan).
    pub generation: PlanGeneration,
    new_tables: Vec<QName>,
    /// Indexes built on new tables, as (schema of the table, index name).
    new_indexes: Vec<(Option<String>, String)>,
    /// Columns added earlier in this migration to existing tables, as (table, column).
    new_columns: Vec<(QName, String)>,
}

impl Context {
    /// Nothing created yet.
    pub fn new(settings: Settings) -> Self {
        Context {
            settings,
            fire_user_triggers: false,
            generation: PlanGeneration::Current,
            new_tables: Vec::new(),
            new_indexes: Vec::new(),
            new_columns: Vec::new(),
        }
    }

    /// Whether the migration's target server has the features of `major`.
    pub fn target_at_least(&self, major: u32) -> bool {
        self.settings.target >= PgVersion(major)
    }

    /// Whether `table` was created earlier in this migration.
    pub fn is_new(&self, table: &QName) -> bool {
        self.new_tables.contains(table)
    }

    /// The table as an entry of a step's `tables`, or `None` when it was created in this migration.
    pub fn existing(&self, table: &QName) -> Option<TableRef> {
        (!self.is_new(table)).then(|| TableRef::Known(render_qname(table)))
    }

    /// Records a `create table`.
    pub fn add_table(&mut self, table: &QName) {
        if !self.is_new(table) {
            self.new_tables.push(table.clone());
        }
    }

    /// Records a `drop table`: a table of that name created later is new again, one used later exists.
    pub fn remove_table(&mut self, table: &QName) {
        self.new_tables.retain(|t| t != table);
    }

    /// `alter table t rename to n`: a new table stays new under its new name (same schema).
    pub fn rename_table(&mut self, table: &QName, to: &Name) {
        for t in &mut self.new_tables {
            if t == table {
                t.name = to.clone();
            }
        }
    }

    /// Records an `add column` (without `if not exists`) on an existing table.
    pub fn add_column(&mut self, table: &QName, column: &str) {
        self.new_columns.push((table.clone(), column.to_owned()));
    }

    /// Whether `column` of `table` was added earlier in this migration: it holds only what the
    /// migration wrote (see `docs/failures.md`).
    pub fn is_new_column(&self, table: &QName, column: &str) -> bool {
        self.new_columns
            .iter()
            .any(|(t, c)| t == table && c == column)
    }

    /// Records an index built on a new table (it lives in the table's schema).
    pub fn add_index(&mut self, table: &QName, index: &Name) {
        let schema = table.schema.as_ref().map(|s| s.value.clone());
        self.new_indexes.push((schema, index.value.clone()));
    }

    /// Whether `index` was built in this migration on a table created in it.
    pub fn is_new_index(&self, index: &QName) -> bool {
        let schema = index.schema.as_ref().map(|s| s.value.clone());
        self.new_indexes
            .iter()
            .any(|(s, n)| *s == schema && *n == index.name.value)
    }
}
