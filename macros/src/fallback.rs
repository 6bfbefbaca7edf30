//! The stub emitted after errors: the module the user named, with an empty plan, so that code using
//! `m0002_x::MIGRATION` shows no follow-on "cannot find" errors next to the real ones.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use crate::ast::MigrationInput;

pub fn module(input: &MigrationInput) -> TokenStream {
    let MigrationInput {
        vis,
        ident,
        version,
        name,
        attrs,
        ..
    } = input;
    // A keyword (`mod self`, `mod await`; already an error) cannot name a module: a stub would only
    // add a syntax error to the real one.
    if syn::parse2::<syn::Ident>(ident.to_token_stream()).is_err() {
        return TokenStream::new();
    }
    quote! {
        #(#attrs)*
        #vis mod #ident {
            #[allow(clippy::all, clippy::pedantic, unused_qualifications)]
            pub static MIGRATION: ::zerodown::__private::Migration = ::zerodown::__private::Migration {
                version: #version,
                name: #name,
                description: "",
                settings: ::zerodown::__private::Settings::DEFAULT,
                expand: ::zerodown::__private::Phase::EMPTY,
                contract: ::zerodown::__private::Phase::EMPTY,
                rollback: ::zerodown::__private::Phase::EMPTY,
                undo: ::zerodown::__private::Undo::NONE,
                touches: &[],
                chosen_names: &[],
                expected_tables: &[],
                checksum: ::zerodown::__private::Checksum([0; 32]),
                legacy_checksums: &[],
            };
            pub const VERSION: u64 = #version;
            pub const NAME: &str = #name;
        }
    }
}
