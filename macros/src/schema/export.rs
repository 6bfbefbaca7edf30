//! The catalog after the last migration as the runtime's `plan::schema::Schema` literal, the
//! `SCHEMA` static of a set.

use proc_macro2::TokenStream;
use quote::quote;

use super::catalog::{Catalog, ConstraintKind, Key};

/// `::zerodown::__private::Schema { .. }` describing `catalog`.
pub(crate) fn literal(catalog: &Catalog) -> TokenStream {
    let tables = catalog.tables.iter().map(|t| {
        let (schema, name) = (&t.key.schema, &t.key.name);
        let columns = t.columns.iter().map(|c| {
            let name = &c.name;
            let ty = crate::types::format_type(&c.ty);
            let not_null = c.not_null;
            let default = option(c.default.as_deref());
            let identity = match c.identity {
                None => quote!(::zerodown::__private::Identity::None),
                Some(true) => quote!(::zerodown::__private::Identity::Always),
                Some(false) => quote!(::zerodown::__private::Identity::ByDefault),
            };
            quote! {
                ::zerodown::__private::ColumnSchema {
                    name: #name, ty: #ty, not_null: #not_null, default: #default, identity: #identity,
                }
            }
        });
        let constraints = t.constraints.iter().map(|c| {
            let name = option(c.name.as_deref());
            let kind = match &c.kind {
                ConstraintKind::PrimaryKey => {
                    quote!(::zerodown::__private::ConstraintKindSchema::PrimaryKey)
                }
                ConstraintKind::Unique => quote!(::zerodown::__private::ConstraintKindSchema::Unique),
                ConstraintKind::Check(expr) => {
                    quote!(::zerodown::__private::ConstraintKindSchema::Check(#expr))
                }
                ConstraintKind::ForeignKey { table, columns } => {
                    let table = qualified(table);
                    quote! {
                        ::zerodown::__private::ConstraintKindSchema::ForeignKey {
                            table: #table, columns: &[#(#columns),*],
                        }
                    }
                }
            };
            let columns = &c.columns;
            let validated = c.validated;
            quote! {
                ::zerodown::__private::ConstraintSchema {
                    name: #name, kind: #kind, columns: &[#(#columns),*], validated: #validated,
                }
            }
        });
        let indexes = catalog.indexes.iter().filter(|i| i.table == t.key).map(|i| {
            let name = &i.key.name;
            let columns = i.columns.iter().map(|c| option(c.as_deref()));
            let (unique, partial, definition) = (i.unique, i.partial, &i.definition);
            quote! {
                ::zerodown::__private::IndexSchema {
                    name: #name, columns: &[#(#columns),*], unique: #unique, partial: #partial,
                    definition: #definition,
                }
            }
        });
        quote! {
            ::zerodown::__private::TableSchema {
                schema: #schema, name: #name,
                columns: &[#(#columns),*],
                constraints: &[#(#constraints),*],
                indexes: &[#(#indexes),*],
            }
        }
    });
    let enums = catalog.enums.iter().map(|e| {
        let (schema, name, values) = (&e.key.schema, &e.key.name, &e.values);
        quote! {
            ::zerodown::__private::EnumSchema { schema: #schema, name: #name, values: &[#(#values),*] }
        }
    });
    let external = catalog.external.iter().map(qualified);
    let after_raw = catalog.after_raw;
    quote! {
        ::zerodown::__private::Schema {
            tables: &[#(#tables),*],
            enums: &[#(#enums),*],
            external: &[#(#external),*],
            after_raw: #after_raw,
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
