//! The schema catalog: the schema a migration set builds, replayed at compile time from its
//! migrations, without a database.
//!
//! `migrations!` (see [`crate::collect`]) keeps one [`Catalog`] for the whole set. Each migration's
//! statements are checked against the catalog of the migrations before it ([`check`]), then applied to
//! it ([`replay`]), so a typo in a column, a `from` type that is not the column's, a foreign key to
//! columns without a key are errors under the user's tokens, with the closest known name. A single
//! `migration!` has no set around it and gets none of these checks.
//!
//! What the catalog does not model, and what happens then: raw SQL (after it, names the catalog does
//! not know are no longer errors), tables created outside the set (declared `extern table ..;` and
//! not checked), the run-time search path (an unqualified name is in `public`), views, functions,
//! triggers, sequences other than those of `serial` columns, and the names PostgreSQL chooses for
//! unnamed constraints (a constraint name of that shape is not reported missing).

mod carry;
mod catalog;
mod check;
mod export;
mod raw_effect;
mod replay;
mod suggest;

pub(crate) use catalog::{Catalog, Key};
pub(crate) use export::{expected_tables, schema, schema_literal, table_literal};

use crate::ast::MigrationInput;
use crate::ctxt::Ctxt;

/// Checks `input` against `catalog`, recording errors in `cx`, fills in what the catalog knows and
/// the statement left out (the current type of `alter column .. type`), and applies it to the catalog
/// (best effort, errors or not).
pub(crate) fn check_and_apply(cx: &Ctxt, catalog: &mut Catalog, input: &mut MigrationInput) {
    check::migration(cx, catalog, input);
}
