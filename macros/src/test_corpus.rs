//! The accepted-forms corpus (`tests/corpus/accepted_forms.rs`, one `migrations!` set), for the
//! parser's and the lowering's tests: the same file the server test runs, so the forms live once.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

const FILE: &str = include_str!("../../tests/corpus/accepted_forms.rs");

/// The text of the corpus migration whose module is `module` (`m0001_create_schema`), as
/// `migration!` would take it.
pub(crate) fn migration(module: &str) -> String {
    items()
        .into_iter()
        .find(|item| {
            item.clone()
                .into_iter()
                .any(|tt| matches!(&tt, TokenTree::Ident(i) if i == module))
        })
        .unwrap_or_else(|| panic!("no migration `{module}` in the corpus"))
        .to_string()
}

/// Every migration of the corpus, in order.
pub(crate) fn items() -> Vec<TokenStream> {
    let tokens: TokenStream = FILE.parse().expect("the corpus tokenizes");
    let mut prev_bang = false;
    for tt in tokens {
        match tt {
            TokenTree::Group(g) if prev_bang && g.delimiter() == Delimiter::Brace => {
                let (externs, items) =
                    crate::collect::split(g.stream()).expect("the corpus splits");
                assert!(externs.is_empty());
                return items;
            }
            TokenTree::Punct(p) => prev_bang = p.as_char() == '!',
            _ => prev_bang = false,
        }
    }
    panic!("no `migrations! {{ .. }}` in the corpus")
}
