//! SQL text from AST pieces: identifiers quoted, literals escaped, types and expressions rendered.
//!
//! Everything the macro sends to PostgreSQL goes through here, so the rules are in one place:
//! identifiers are always double-quoted (they are already folded to lowercase by the parser), string
//! literals are escaped so they mean the same whatever `standard_conforming_strings` is, SQL keywords
//! are uppercase, and expressions get exactly the parentheses PostgreSQL's grammar needs to read them
//! back as the tree the user wrote.

mod ddl;
mod expr;
mod ident;
mod ty;

pub use ddl::{
    column_def, column_list, fk_target, index_key, index_key_expr, partition_bound, partition_by,
    table_constraint, table_constraint_body,
};
pub use expr::{default_expr, expr};
pub use ident::{quote_ident, quote_literal, render_qname};
pub use ty::render_type;
pub(crate) use ty::BUILTIN as BUILTIN_TYPES;
