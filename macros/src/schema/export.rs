//! The catalog as the runtime's `plan::schema` values, and those values as literals: the `SCHEMA`
//! static of a set (the catalog after its last migration), and each migration's
//! `expected_tables` (the tables it changes, as the migrations before it left them).

use proc_macro2::TokenStream;
use quote::quote;
use zerodown_runtime::plan::schema::{
    ColumnSchema, ConstraintKindSchema, ConstraintSchema, EnumSchema, Identity, IndexSchema,
    PartitionSchema, Schema, TableSchema,
};

use super::catalog::{Catalog, ConstraintKind, Key, Table};
use crate::ast::{Item, MigrationInput, StmtKind};
use crate::lower::{leak_slice, leak_str};

/// The whole catalog.
pub(crate) fn schema(catalog: &Catalog) -> Schema {
    Schema {
        // A partition is read from the live schema as part of its parent, not as a table: the same
        // here (partition keys and bounds are not part of `plan::schema` yet).
        tables: leak_slice(
            catalog
                .tables
                .iter()
                .filter(|t| t.partition_of.is_none())
                .map(|t| table(catalog, t))
                .collect(),
        ),
        enums: leak_slice(
            catalog
                .enums
                .iter()
                .map(|e| EnumSchema {
                    schema: leak_str(e.key.schema.clone()),
                    name: leak_str(e.key.name.clone()),
                    values: leak_slice(e.values.iter().cloned().map(leak_str).collect()),
                })
                .collect(),
        ),
        external: leak_slice(
            catalog
                .external
                .iter()
                .map(|k| leak_str(qualified(k)))
                .collect(),
        ),
        after_raw: catalog.after_raw,
    }
}

/// The tables `input` changes that the catalog knows, as it knows them before `input`. Empty after
/// raw SQL, when the catalog cannot vouch for anything.
pub(crate) fn expected_tables(catalog: &Catalog, input: &MigrationInput) -> Vec<TableSchema> {
    if catalog.after_raw {
        return Vec::new();
    }
    let mut keys: Vec<Key> = Vec::new();
    for item in &input.body {
        let stmts = match item {
            Item::Stmt(stmt) => vec![stmt],
            Item::Unsafe(block) => block.body.iter().collect(),
        };
        for stmt in stmts {
            for touched in crate::touches::of_stmt(stmt) {
                let mut parts = touched.splitn(3, '.');
                let (Some(schema), Some(name)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let key = Key {
                    schema: schema.to_owned(),
                    name: name.to_owned(),
                };
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            // A column change also carries the foreign keys of other tables referencing its table:
            // those tables are verified too, so the plan's preview of that SQL holds.
            if let StmtKind::Expand(e) = &stmt.kind {
                let target = Key::of(&e.table);
                for t in &catalog.tables {
                    let references = t.constraints.iter().any(|c| {
                        matches!(&c.kind, ConstraintKind::ForeignKey { table, .. } if *table == target)
                    });
                    if references && !keys.contains(&t.key) {
                        keys.push(t.key.clone());
                    }
                }
            }
        }
    }
    keys.iter()
        .filter_map(|k| catalog.table(k))
        .filter(|t| t.partition_of.is_none())
        .map(|t| table(catalog, t))
        .collect()
}

fn table(catalog: &Catalog, t: &Table) -> TableSchema {
    TableSchema {
        schema: leak_str(t.key.schema.clone()),
        name: leak_str(t.key.name.clone()),
        columns: leak_slice(
            t.columns
                .iter()
                .map(|c| ColumnSchema {
                    name: leak_str(c.name.clone()),
                    ty: leak_str(crate::types::format_type(&c.ty)),
                    not_null: c.not_null,
                    default: c.default.clone().map(leak_str),
                    identity: match c.identity {
                        None => Identity::None,
                        Some(true) => Identity::Always,
                        Some(false) => Identity::ByDefault,
                    },
                })
                .collect(),
        ),
        constraints: leak_slice(
            t.constraints
                .iter()
                .filter_map(|c| {
                    let kind = match &c.kind {
                        ConstraintKind::PrimaryKey => ConstraintKindSchema::PrimaryKey,
                        ConstraintKind::Unique => ConstraintKindSchema::Unique,
                        ConstraintKind::Check(expr) => {
                            ConstraintKindSchema::Check(leak_str(expr.clone()))
                        }
                        ConstraintKind::ForeignKey { table, columns, .. } => {
                            ConstraintKindSchema::ForeignKey {
                                table: leak_str(qualified(table)),
                                columns: leak_slice(
                                    columns.iter().cloned().map(leak_str).collect(),
                                ),
                            }
                        }
                        // A named `not null` shows as the column's NOT NULL once validated.
                        ConstraintKind::NotNull => return None,
                    };
                    Some(ConstraintSchema {
                        name: c.name.clone().map(leak_str),
                        kind,
                        columns: leak_slice(c.columns.iter().cloned().map(leak_str).collect()),
                        validated: c.validated,
                    })
                })
                .collect(),
        ),
        indexes: leak_slice(
            catalog
                .indexes
                .iter()
                .filter(|i| i.table == t.key)
                .map(|i| IndexSchema {
                    name: leak_str(i.key.name.clone()),
                    columns: leak_slice(
                        i.columns.iter().map(|c| c.clone().map(leak_str)).collect(),
                    ),
                    unique: i.unique,
                    partial: i.partial,
                    definition: leak_str(i.definition.clone()),
                })
                .collect(),
        ),
        partitioning: t
            .partitioning
            .as_ref()
            .map(|(strategy, columns)| PartitionSchema {
                strategy: strategy.as_sql(),
                columns: leak_slice(columns.iter().cloned().map(leak_str).collect()),
                partitions: leak_slice(
                    catalog
                        .tables
                        .iter()
                        .filter_map(|p| match &p.partition_of {
                            Some((parent, bound)) if *parent == t.key => {
                                Some((leak_str(qualified(&p.key)), leak_str(bound.clone())))
                            }
                            _ => None,
                        })
                        .collect(),
                ),
            }),
    }
}

/// `::zerodown::__private::Schema { .. }`.
pub(crate) fn schema_literal(s: &Schema) -> TokenStream {
    let tables = s.tables.iter().map(table_literal);
    let enums = s.enums.iter().map(|e| {
        let (schema, name, values) = (e.schema, e.name, e.values);
        quote! {
            ::zerodown::__private::EnumSchema { schema: #schema, name: #name, values: &[#(#values),*] }
        }
    });
    let external = s.external;
    let after_raw = s.after_raw;
    quote! {
        ::zerodown::__private::Schema {
            tables: &[#(#tables),*],
            enums: &[#(#enums),*],
            external: &[#(#external),*],
            after_raw: #after_raw,
        }
    }
}

/// `::zerodown::__private::TableSchema { .. }`.
pub(crate) fn table_literal(t: &TableSchema) -> TokenStream {
    let (schema, name) = (t.schema, t.name);
    let columns = t.columns.iter().map(|c| {
        let (name, ty, not_null) = (c.name, c.ty, c.not_null);
        let default = option(c.default);
        let identity = match c.identity {
            Identity::None => quote!(::zerodown::__private::Identity::None),
            Identity::Always => quote!(::zerodown::__private::Identity::Always),
            Identity::ByDefault => quote!(::zerodown::__private::Identity::ByDefault),
        };
        quote! {
            ::zerodown::__private::ColumnSchema {
                name: #name, ty: #ty, not_null: #not_null, default: #default, identity: #identity,
            }
        }
    });
    let constraints = t.constraints.iter().map(|c| {
        let name = option(c.name);
        let kind = match c.kind {
            ConstraintKindSchema::PrimaryKey => {
                quote!(::zerodown::__private::ConstraintKindSchema::PrimaryKey)
            }
            ConstraintKindSchema::Unique => {
                quote!(::zerodown::__private::ConstraintKindSchema::Unique)
            }
            ConstraintKindSchema::Check(expr) => {
                quote!(::zerodown::__private::ConstraintKindSchema::Check(#expr))
            }
            ConstraintKindSchema::ForeignKey { table, columns } => quote! {
                ::zerodown::__private::ConstraintKindSchema::ForeignKey {
                    table: #table, columns: &[#(#columns),*],
                }
            },
        };
        let (columns, validated) = (c.columns, c.validated);
        quote! {
            ::zerodown::__private::ConstraintSchema {
                name: #name, kind: #kind, columns: &[#(#columns),*], validated: #validated,
            }
        }
    });
    let indexes = t.indexes.iter().map(|i| {
        let name = i.name;
        let columns = i.columns.iter().map(|c| option(*c));
        let (unique, partial, definition) = (i.unique, i.partial, i.definition);
        quote! {
            ::zerodown::__private::IndexSchema {
                name: #name, columns: &[#(#columns),*], unique: #unique, partial: #partial,
                definition: #definition,
            }
        }
    });
    let partitioning = match &t.partitioning {
        None => quote!(::core::option::Option::None),
        Some(p) => {
            let (strategy, columns) = (p.strategy, p.columns);
            let partitions = p
                .partitions
                .iter()
                .map(|(name, bound)| quote!((#name, #bound)));
            quote! {
                ::core::option::Option::Some(::zerodown::__private::PartitionSchema {
                    strategy: #strategy, columns: &[#(#columns),*], partitions: &[#(#partitions),*],
                })
            }
        }
    };
    quote! {
        ::zerodown::__private::TableSchema {
            schema: #schema, name: #name,
            columns: &[#(#columns),*],
            constraints: &[#(#constraints),*],
            indexes: &[#(#indexes),*],
            partitioning: #partitioning,
        }
    }
}

fn option(value: Option<&str>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// `schema.name`.
fn qualified(key: &Key) -> String {
    format!("{}.{}", key.schema, key.name)
}
