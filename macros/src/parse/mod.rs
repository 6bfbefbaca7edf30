//! Tokens -> [`MigrationInput`]. Errors go to the [`Ctxt`]; a statement that fails to parse is skipped
//! (up to its `;`) so later statements are still parsed and checked.
//!
//! A hand-written recursive-descent parser over `proc_macro2` token trees: SQL keywords are
//! case-insensitive, operators such as `::` or `->>` arrive as several joint puncts, and every node keeps
//! the spans of its first and last token. syn is used only for the module header and for unescaping
//! literals.
//!
//! Modules: `cursor` (token access, names, strings), `header` (`/// doc pub mod m0001_name { .. }`),
//! `settings` (`set x = v;` and their validation), `stmt` (statement dispatch and most statements),
//! `table` (`create table`, columns, constraints), `alter` (`alter table` actions), `expand`
//! (`expand ..` operations), `expr`, `ty`.

mod alter;
mod cursor;
mod expand;
mod expr;
mod header;
mod settings;
mod stmt;
mod table;
mod ty;

#[cfg(test)]
mod tests;

use proc_macro2::{Delimiter, TokenStream};

#[cfg(test)]
pub(crate) use self::cursor::MAX_NESTING;
use self::cursor::{Cursor, PResult};
pub use self::settings::resolve_settings;
use crate::ast::{Item, MigrationInput, Range, Setting, Stmt, Str, UnsafeBlock};
use crate::ctxt::Ctxt;

/// Parses the whole input. `None` only when the module header (`pub mod m0001_name`) cannot be read,
/// since then there is nothing to name in a stub.
pub fn parse_migration(cx: &Ctxt, tokens: TokenStream) -> Option<MigrationInput> {
    let header = header::parse_header(cx, tokens)?;
    let mut c = Cursor::new(cx, header.body, header.close);
    let mut settings = Vec::new();
    let body = items(&mut c, Some(&mut settings));
    Some(MigrationInput {
        doc: header.doc,
        attrs: header.attrs,
        vis: header.vis,
        ident: header.ident,
        version: header.version,
        name: header.name,
        settings,
        body,
    })
}

/// Settings (at the top level only: `settings` is `None` inside an `unsafe` block), statements and
/// `unsafe` blocks, until the end of `c`. Every error is recorded; parsing goes on after it.
fn items(c: &mut Cursor, mut settings: Option<&mut Vec<Setting>>) -> Vec<Item> {
    let nested = settings.is_none();
    let mut items = Vec::new();
    while !c.is_end() {
        // An empty statement, as PostgreSQL allows.
        if c.eat_punct(';').is_some() {
            continue;
        }
        if c.peek_kw("set") {
            match settings::parse_setting(c) {
                Ok(setting) => match settings.as_deref_mut() {
                    Some(_) if !items.is_empty() => c.cx.error(
                        setting.range,
                        "settings come before the first statement; move this `set` to the top",
                    ),
                    Some(settings) => settings.push(setting),
                    None => c.cx.error(
                        setting.range,
                        "settings cannot be inside an `unsafe` block; move this `set` to the top of the \
                         migration",
                    ),
                },
                Err(err) => {
                    c.cx.syn_error(err);
                    c.skip_past_semicolon();
                    continue;
                }
            }
            finish(c, "the setting");
            continue;
        }
        if c.peek_kw("unsafe") {
            match unsafe_block(c) {
                Ok(block) if nested => {
                    c.cx.error(
                        block.keyword,
                        "`unsafe` blocks do not nest; list every rule in the outer block's `allow`",
                    );
                    items.extend(block.body.into_iter().map(Item::Stmt));
                }
                Ok(block) => items.push(Item::Unsafe(block)),
                Err(err) => {
                    c.cx.syn_error(err);
                    // The block's statements are one `{ .. }` token: skip past it, not to the next `;`.
                    c.skip_past_block();
                }
            }
            // The block ends with `}`; a `;` after it is allowed but not needed.
            c.eat_punct(';');
            continue;
        }
        match stmt::parse_stmt(c) {
            Ok(stmt) => {
                items.push(Item::Stmt(stmt));
                finish(c, "the statement");
            }
            Err(err) => {
                c.cx.syn_error(err);
                c.skip_past_semicolon();
            }
        }
    }
    items
}

/// After a statement or setting: its `;`, or the end. When something else follows, the `;` is reported
/// missing there; parsing resumes at that token if it starts a statement, else after the next `;`.
fn finish(c: &mut Cursor, what: &str) {
    if c.is_end() || c.eat_punct(';').is_some() {
        return;
    }
    c.cx.syn_error(c.expected(&format!("`;` after {what}")));
    if !stmt::starts_statement(c) {
        c.skip_past_semicolon();
    }
}

/// `unsafe[(reason = "..", allow = [rule, ..])] { statements }`
fn unsafe_block(c: &mut Cursor) -> PResult<UnsafeBlock> {
    let keyword = Range::single(c.expect_kw("unsafe", "")?);
    let mut reason: Option<Str> = None;
    let mut allow = Vec::new();
    if let Some(mut opts) = c.eat_group(Delimiter::Parenthesis) {
        let mut seen: Vec<String> = Vec::new();
        while !opts.is_end() {
            let option = opts.word("an `unsafe` option (`reason` or `allow`)")?;
            if seen.contains(&option.value) {
                return Err(syn::Error::new(
                    option.span,
                    format!("duplicate `unsafe` option `{}`", option.value),
                ));
            }
            seen.push(option.value.clone());
            match option.value.as_str() {
                "reason" => {
                    opts.expect_punct('=', "after `reason`")?;
                    reason = Some(opts.string("the reason as a string after `reason =`")?);
                }
                "allow" => {
                    opts.expect_punct('=', "after `allow`")?;
                    let Some(mut rules) = opts.eat_group(Delimiter::Bracket) else {
                        return Err(
                            opts.expected("a list of rule names such as `[index_not_concurrent]`")
                        );
                    };
                    while !rules.is_end() {
                        allow.push(rules.word("a rule name")?);
                        if rules.eat_punct(',').is_none() {
                            rules.expect_end("`,` or `]` after the rule name")?;
                        }
                    }
                }
                other => {
                    return Err(syn::Error::new(
                        option.span,
                        format!("unknown `unsafe` option `{other}`; expected `reason` or `allow`"),
                    ))
                }
            }
            if opts.eat_punct(',').is_none() {
                opts.expect_end("`,` or `)` after the `unsafe` option")?;
            }
        }
    }
    let Some(mut inner) = c.eat_group(Delimiter::Brace) else {
        return Err(c.expected("`{` with the statements the override covers"));
    };
    let body: Vec<Stmt> = items(&mut inner, None)
        .into_iter()
        .filter_map(|item| match item {
            Item::Stmt(stmt) => Some(stmt),
            // `items` flattens nested blocks when `settings` is `None`.
            Item::Unsafe(_) => None,
        })
        .collect();
    Ok(UnsafeBlock {
        keyword,
        reason,
        allow,
        body,
    })
}
