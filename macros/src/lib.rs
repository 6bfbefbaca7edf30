//! Implementation detail of the `zerodown` crate: the `migration!` procedural macro.
//!
//! The pipeline is `parse` (tokens to `ast`) -> `check` (safety rules) -> `lower` (AST to the
//! runtime's plan model, with SQL rendered by `render`) -> `expand` (plan to tokens). Everything works on
//! `proc_macro2` so it can be unit-tested.

mod ast;
mod check;
mod collect;
mod ctxt;
mod expand;
mod fallback;
#[cfg(test)]
mod fuzz;
mod lower;
mod parse;
mod raw;
mod render;
mod rules;
mod schema;
#[cfg(test)]
mod test_corpus;
mod touches;
mod types;
mod volatility;

/// Declares a migration. Documented where the `zerodown` crate re-exports it (`zerodown::migration!`),
/// with the language in `zerodown::docs::dsl`.
#[proc_macro]
pub fn migration(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::migration(input.into()).into()
}

/// Declares the whole migration set: every `mod` item is a migration, as `migration!` takes it, checked
/// against the schema the migrations before it build, and listed in `MIGRATIONS`. Documented where the
/// `zerodown` crate re-exports it (`zerodown::migrations!`).
#[proc_macro]
pub fn migrations(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    collect::migrations(input.into()).into()
}

/// For zerodown's own tests: `__raw_lock!(TARGET, "SQL")` is the lock the checks of `raw` infer for
/// the SQL on that target (a `LockLevel`), so a server test can compare it with what PostgreSQL takes.
#[doc(hidden)]
#[proc_macro]
pub fn __raw_lock(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::raw_lock(input.into()).into()
}
