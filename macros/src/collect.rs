//! `migrations! { .. }`: the whole migration set in one invocation.
//!
//! Each `mod` item is one migration, expanded exactly as `migration!` expands it, plus a
//! `MIGRATIONS` slice listing them in order, so a migration cannot be left out of the list. Because
//! the one invocation sees every migration, it can judge each against the schema the earlier ones
//! build ([`crate::schema`]), and it checks the versions: listed in increasing order, each used once,
//! with the error under both module names. Every migration is checked whatever happened to the ones
//! before it: an error in one gives that one a stub module (as `migration!` does) and is not repeated
//! by the ones after it.

use proc_macro2::{Delimiter, Ident, TokenStream, TokenTree};
use quote::quote;

use crate::expand;
use crate::schema::{Catalog, Key};

/// Expands the set.
pub fn migrations(tokens: TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    let (externs, items) = match split(tokens) {
        Ok(parts) => parts,
        Err(err) => return err.into_compile_error(),
    };
    let mut catalog = Catalog::default();
    for decl in externs {
        match extern_tables(decl) {
            Ok(tables) => catalog.external.extend(tables),
            Err(err) => out.extend(err.into_compile_error()),
        }
    }
    // (version, module ident) of every migration that got a module, in order.
    let mut listed: Vec<(u64, Ident)> = Vec::new();
    for item in items {
        let expanded = expand::one(item, Some(&mut catalog));
        out.extend(expanded.tokens);
        let Some(input) = expanded.input else {
            continue;
        };
        if let Some(attr) = input.attrs.iter().find(|a| a.path().is_ident("cfg")) {
            out.extend(
                syn::Error::new_spanned(
                    attr,
                    "a migration of the set cannot be conditional: every build must carry the same history; move the condition into the migration's statements' effect, or out of the set",
                )
                .into_compile_error(),
            );
            continue;
        }
        if input.version == 0 {
            // The module name was not `m<version>_<name>`: already an error.
            continue;
        }
        if let Some((_, earlier)) = listed.iter().find(|(v, _)| *v == input.version) {
            out.extend(duplicate(input.version, earlier, &input.ident));
        } else if let Some((newest, before)) = listed.iter().max_by_key(|(v, _)| *v) {
            if input.version < *newest {
                out.extend(out_of_order(before, *newest, &input.ident, input.version));
            }
        }
        listed.push((input.version, input.ident));
    }
    let idents = listed.iter().map(|(_, ident)| ident);
    let schema = crate::schema::schema_literal(&crate::schema::schema(&catalog));
    out.extend(quote! {
        /// Every migration of this set, in version order: give it to `Migrator::new`.
        pub static MIGRATIONS: &[&::zerodown::__private::Migration] = &[#(&#idents::MIGRATION),*];
        /// The schema these migrations build, as the compiler replayed it: what the database holds
        /// once every migration ran and was completed.
        #[allow(clippy::all, clippy::pedantic)]
        pub static SCHEMA: ::zerodown::__private::Schema = #schema;
    });
    out
}

/// The invocation's `extern table ..;` declarations and its `mod` items, each item with its
/// attributes and doc comments.
pub(crate) fn split(tokens: TokenStream) -> syn::Result<(Vec<TokenStream>, Vec<TokenStream>)> {
    let mut externs = Vec::new();
    let mut items = Vec::new();
    let mut current: Vec<TokenTree> = Vec::new();
    for tt in tokens {
        let in_extern = matches!(current.first(), Some(TokenTree::Ident(i)) if i == "extern");
        if in_extern {
            let ends = matches!(&tt, TokenTree::Punct(p) if p.as_char() == ';');
            current.push(tt);
            if ends {
                if !items.is_empty() {
                    let range = crate::ast::Range::new(
                        current[0].span(),
                        current[current.len() - 1].span(),
                    );
                    return Err(range.error("`extern table ..;` declarations come first in the set, before its first migration"));
                }
                externs.push(current.drain(..).collect());
            }
            continue;
        }
        let ends_item = matches!(&tt, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace);
        current.push(tt);
        if ends_item {
            items.push(current.drain(..).collect());
        }
    }
    if let Some(first) = current.first() {
        let last = current.last().unwrap_or(first);
        let range = crate::ast::Range::new(first.span(), last.span());
        return Err(range.error(
            "expected a migration module, e.g. `pub mod m0002_add_email_index { .. }`, or `extern table name;` before the first one: `migrations!` holds nothing else",
        ));
    }
    Ok((externs, items))
}

/// `extern table a, app.b;`: tables created outside the set, which the catalog does not check.
fn extern_tables(decl: TokenStream) -> syn::Result<Vec<Key>> {
    use syn::parse::Parser;
    let parser = |input: syn::parse::ParseStream| {
        input.parse::<syn::Token![extern]>()?;
        let kw: Ident = input.parse()?;
        if kw != "table" {
            return Err(syn::Error::new(
                kw.span(),
                "expected `table`: `extern table name, ..;` declares tables created outside these migrations",
            ));
        }
        let mut keys = Vec::new();
        loop {
            let first: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            let key = if input.peek(syn::Token![.]) {
                input.parse::<syn::Token![.]>()?;
                let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
                Key {
                    schema: fold(&first),
                    name: fold(&name),
                }
            } else {
                Key {
                    schema: "public".to_owned(),
                    name: fold(&first),
                }
            };
            keys.push(key);
            if input.peek(syn::Token![,]) {
                input.parse::<syn::Token![,]>()?;
                continue;
            }
            input.parse::<syn::Token![;]>()?;
            return Ok(keys);
        }
    };
    parser.parse2(decl)
}

/// An identifier as PostgreSQL folds it (`r#type` is `type`).
fn fold(ident: &Ident) -> String {
    use syn::ext::IdentExt;
    ident.unraw().to_string().to_lowercase()
}

/// The errors of a version used twice: one under each module name.
fn duplicate(version: u64, earlier: &Ident, later: &Ident) -> TokenStream {
    let message = format!(
        "version {version} is used by two migrations, `{earlier}` and `{later}`; each migration needs its own version: renumber `{later}` after the newest migration of the set"
    );
    let mut out = syn::Error::new(earlier.span(), &message).into_compile_error();
    out.extend(syn::Error::new(later.span(), message).into_compile_error());
    out
}

/// The errors of a migration listed after a newer one: under both module names.
fn out_of_order(newer: &Ident, newest: u64, older: &Ident, version: u64) -> TokenStream {
    let message = format!(
        "`{older}` (version {version}) comes after `{newer}` (version {newest}): the set lists migrations in version order, the order they run in; move `{older}` before `{newer}`, or renumber it after the newest migration if it is new"
    );
    let mut out = syn::Error::new(older.span(), &message).into_compile_error();
    out.extend(syn::Error::new(newer.span(), message).into_compile_error());
    out
}
