//! The model: what the migrations before a statement have built.
//!
//! Names are kept folded, as the parser gives them. A table or type written without a schema is in
//! `public` here: the catalog cannot know the run-time search path, and `public` is where an
//! unqualified name lands unless the application changed it.

use crate::ast::{PartitionStrategy, QName, Type};

/// A schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub schema: String,
    pub name: String,
}

impl Key {
    /// `public` for an unqualified name.
    pub fn of(q: &QName) -> Key {
        Key {
            schema: q
                .schema
                .as_ref()
                .map_or_else(|| "public".to_owned(), |s| s.value.clone()),
            name: q.name.value.clone(),
        }
    }

    /// Quoted as the plan renders tables: `"name"`, or `"schema"."name"` outside `public`.
    pub fn rendered(&self) -> String {
        let name = crate::render::quote_ident(&self.name);
        if self.schema == "public" {
            name
        } else {
            format!("{}.{name}", crate::render::quote_ident(&self.schema))
        }
    }

    /// As the user would write it: without `public.`.
    pub fn display(&self) -> String {
        if self.schema == "public" {
            self.name.clone()
        } else {
            format!("{}.{}", self.schema, self.name)
        }
    }
}

/// The schema built so far by the migrations of a set.
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    pub tables: Vec<Table>,
    pub indexes: Vec<Index>,
    pub enums: Vec<EnumType>,
    /// Tables the set declares as created outside it (`extern table ..;`): their columns, indexes
    /// and constraints are unknown, and nothing about them is checked.
    pub external: Vec<Key>,
    /// Raw SQL ran: it may have created, changed or dropped anything, so a name the catalog does not
    /// know is not an error any more (what the catalog does know is still used).
    pub after_raw: bool,
    /// Where each dropped or renamed table went, for the message about a later use of its old name:
    /// (old name, what happened, version of the migration).
    pub gone: Vec<(Key, String, u64)>,
    /// The version of the migration being replayed, for [`Catalog::gone`].
    pub version: u64,
}

/// A table created by the set.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub key: Key,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    /// Some constraint was created without a name, so PostgreSQL chose it: a constraint name the
    /// catalog does not know may be one of those.
    pub unnamed_constraints: bool,
    /// `partition by ..`: the strategy and key columns of a partitioned table.
    pub partitioning: Option<(PartitionStrategy, Vec<String>)>,
    /// Attached as a partition: the parent and the bound, rendered (`FOR VALUES ..` or `DEFAULT`).
    pub partition_of: Option<(Key, String)>,
}

/// A column of a [`Table`].
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub name: String,
    pub ty: Type,
    pub not_null: bool,
    /// The default, rendered as SQL.
    pub default: Option<String>,
    /// `generated always as identity` (`Some(true)`) or `by default` (`Some(false)`).
    pub identity: Option<bool>,
    /// `generated always as (..) stored`.
    pub generated: bool,
}

/// A constraint of a [`Table`].
#[derive(Debug, Clone)]
pub(crate) struct Constraint {
    /// `None` when PostgreSQL chose the name.
    pub name: Option<String>,
    pub kind: ConstraintKind,
    pub columns: Vec<String>,
    pub validated: bool,
}

/// What a [`Constraint`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConstraintKind {
    PrimaryKey,
    Unique,
    /// With its expression, rendered.
    Check(String),
    ForeignKey {
        table: Key,
        columns: Vec<String>,
        /// ` ON DELETE ..` / ` ON UPDATE ..` as written, or empty.
        actions: String,
    },
    /// A named `not null` (PostgreSQL 18) on its one column; validated, the column is `NOT NULL`,
    /// which is how the schema shows it (it is not exported as a constraint).
    NotNull,
}

/// An index, built by `create index` or behind a primary key or unique constraint.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    /// In the schema of its table.
    pub key: Key,
    pub table: Key,
    /// Each key column, `None` for an expression.
    pub columns: Vec<Option<String>>,
    pub unique: bool,
    /// `where ..`: not usable as a key.
    pub partial: bool,
    /// What follows `ON table` in its `CREATE INDEX`, rendered.
    pub definition: String,
    /// Its key list, rendered (`"email", lower("name")`).
    pub keys_sql: String,
    /// The primary key or unique constraint it backs, if any.
    pub constraint: Option<ConstraintKind>,
}

/// An enum type created by the set.
#[derive(Debug, Clone)]
pub(crate) struct EnumType {
    pub key: Key,
    pub values: Vec<String>,
}

impl Catalog {
    pub fn table(&self, key: &Key) -> Option<&Table> {
        self.tables.iter().find(|t| t.key == *key)
    }

    pub fn table_mut(&mut self, key: &Key) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| t.key == *key)
    }

    pub fn is_external(&self, key: &Key) -> bool {
        self.external.contains(key)
    }

    pub fn index(&self, key: &Key) -> Option<&Index> {
        self.indexes.iter().find(|i| i.key == *key)
    }

    /// The indexes of `parent` that `child` has no equivalent of (same definition and uniqueness,
    /// and for a key the same kind of constraint), each as the index attaching `child` would create
    /// on it, under the name PostgreSQL gives it (`<child>_pkey`, `<child>_<columns>_key`,
    /// `<child>_<columns>_idx`).
    pub fn partition_indexes_missing(&self, parent: &Key, child: &Key) -> Vec<Index> {
        self.indexes
            .iter()
            .filter(|i| i.table == *parent)
            .filter(|p| {
                !self.indexes.iter().filter(|i| i.table == *child).any(|c| {
                    c.definition == p.definition
                        && c.unique == p.unique
                        && c.constraint == p.constraint
                })
            })
            .map(|p| {
                let columns: Vec<&str> = p
                    .columns
                    .iter()
                    .map(|c| c.as_deref().unwrap_or("expr"))
                    .collect();
                let name = match p.constraint {
                    Some(ConstraintKind::PrimaryKey) => format!("{}_pkey", child.name),
                    Some(_) => format!("{}_{}_key", child.name, columns.join("_")),
                    None => format!("{}_{}_idx", child.name, columns.join("_")),
                };
                Index {
                    key: Key {
                        schema: child.schema.clone(),
                        name: crate::lower::fit_name(name),
                    },
                    table: child.clone(),
                    ..p.clone()
                }
            })
            .collect()
    }

    /// Whether the partitioned table `parent` has a default partition.
    pub fn has_default_partition(&self, parent: &Key) -> bool {
        self.tables.iter().any(|t| {
            t.partition_of
                .as_ref()
                .is_some_and(|(p, bound)| p == parent && bound == "DEFAULT")
        })
    }

    pub fn enum_type(&self, key: &Key) -> Option<&EnumType> {
        self.enums.iter().find(|e| e.key == *key)
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    pub fn constraint(&self, name: &str) -> Option<&Constraint> {
        self.constraints
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
    }

    /// Whether `columns` are exactly the columns of the primary key or of a unique constraint.
    pub fn has_unique_on(&self, columns: &[String]) -> bool {
        self.constraints.iter().any(|c| {
            matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique)
                && same_set(&c.columns, columns)
        })
    }
}

/// The same names, in any order.
pub(crate) fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}
