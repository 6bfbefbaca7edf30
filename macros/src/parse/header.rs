//! The module header around the statements: `/// doc  #[attr]  pub mod m0002_name { .. }`.

use proc_macro2::{Ident, Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};

use crate::ctxt::Ctxt;

/// Everything of the input but the statements, which stay unparsed in `body`.
pub(super) struct Header {
    pub(super) doc: String,
    pub(super) attrs: Vec<syn::Attribute>,
    pub(super) vis: syn::Visibility,
    pub(super) ident: Ident,
    pub(super) version: u64,
    pub(super) name: String,
    pub(super) body: TokenStream,
    /// The closing brace, where errors about an empty body point.
    pub(super) close: Span,
}

const NAME_FORMAT: &str =
    "migration module names start with `m`, a version number and `_`, e.g. `m0002_add_email_index`";

/// Reads the header; `None` (with the error recorded) when there is no module to speak of.
pub(super) fn parse_header(cx: &Ctxt, tokens: TokenStream) -> Option<Header> {
    // At the end of the input syn would point at the whole macro call; point at the last token instead.
    let last = tokens.clone().into_iter().last().map(|tt| tt.span());
    let error = |input: ParseStream, message: String| match last {
        Some(span) if input.is_empty() => syn::Error::new(span, message),
        _ => input.error(message),
    };
    let parser = |input: ParseStream| {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis: syn::Visibility = input.parse()?;
        if !input.peek(syn::Token![mod]) {
            return Err(error(
                input,
                "expected `mod` and the migration's module, e.g. `pub mod m0002_add_email_index { .. }`"
                    .to_owned(),
            ));
        }
        input.parse::<syn::Token![mod]>()?;
        if !input.peek(Ident::peek_any) {
            return Err(error(
                input,
                format!("expected the module name; {NAME_FORMAT}"),
            ));
        }
        let ident = input.call(Ident::parse_any)?;
        if !input.peek(syn::token::Brace) {
            return Err(error(
                input,
                format!("expected `{{` and the migration's statements after `mod {ident}`"),
            ));
        }
        let content;
        let brace = syn::braced!(content in input);
        let body: TokenStream = content.parse()?;
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens after the module; `migration!` takes exactly one `mod` item",
            ));
        }
        Ok((attrs, vis, ident, body, brace.span.close()))
    };
    let (all_attrs, vis, ident, body, close) = match parser.parse2(tokens) {
        Ok(parts) => parts,
        Err(err) => {
            // syn's own end-of-input errors (inside an attribute or a visibility) point at the call
            // site too.
            let err = match last {
                Some(span) if err.to_string().starts_with("unexpected end of input") => {
                    syn::Error::new(span, err)
                }
                _ => err,
            };
            cx.syn_error(err);
            return None;
        }
    };

    let mut doc_lines = Vec::new();
    let mut attrs = Vec::new();
    for attr in all_attrs {
        match doc_line(&attr) {
            Some(line) => {
                // The doc comment is stored as the migration's description, a `text` column.
                if line.contains('\0') {
                    cx.syn_error(syn::Error::new_spanned(
                        &attr,
                        "this doc comment contains a NUL character and PostgreSQL text cannot contain NUL \
                         (it is stored as the migration's description); remove it",
                    ));
                }
                doc_lines.push(line);
            }
            None => attrs.push(attr),
        }
    }

    let (version, name) = match split_module_name(&ident.unraw().to_string()) {
        Ok(parts) => parts,
        Err(message) => {
            cx.syn_error(syn::Error::new(ident.span(), message));
            (0, ident.unraw().to_string())
        }
    };

    Some(Header {
        doc: join_doc(&doc_lines),
        attrs,
        vis,
        ident,
        version,
        name,
        body,
        close,
    })
}

/// The text of a `#[doc = "..."]` attribute (what `/// ...` becomes).
fn doc_line(attr: &syn::Attribute) -> Option<String> {
    if !attr.path().is_ident("doc") {
        return None;
    }
    match &attr.meta {
        syn::Meta::NameValue(syn::MetaNameValue {
            value:
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// Doc lines joined with `\n`: each line trimmed, blank lines at both ends dropped.
fn join_doc(lines: &[String]) -> String {
    let all: Vec<&str> = lines
        .iter()
        .flat_map(|l| l.split('\n'))
        .map(str::trim)
        .collect();
    all.join("\n").trim().to_owned()
}

/// `m0002_add_email_index` -> `(2, "add_email_index")`.
pub(super) fn split_module_name(ident: &str) -> Result<(u64, String), String> {
    let rest = ident
        .strip_prefix('m')
        .ok_or_else(|| NAME_FORMAT.to_owned())?;
    let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, rest) = rest.split_at(digits_len);
    let name = rest
        .strip_prefix('_')
        .ok_or_else(|| NAME_FORMAT.to_owned())?;
    if digits.is_empty() || name.is_empty() {
        return Err(NAME_FORMAT.to_owned());
    }
    let version = digits.parse::<u64>().map_err(|_| {
        format!(
            "version number `{digits}` is too large (at most {}); {NAME_FORMAT}",
            u64::MAX
        )
    })?;
    Ok((version, name.to_owned()))
}
