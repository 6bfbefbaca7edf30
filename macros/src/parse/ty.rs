//! Column types: `bigint`, `varchar(255)`, `numeric(10, 2)`, `double precision`,
//! `timestamp(3) with time zone`, `text[]`, user types `mood` / `app.mood`.

use proc_macro2::{Delimiter, TokenTree};

use super::cursor::{check_length, ident_name, Cursor, PResult};
use crate::ast::Type;

/// Words that start a column constraint or end a clause, so they cannot be a type name: catches
/// `email not null` with the type forgotten.
const NOT_A_TYPE: &[&str] = &[
    "not",
    "null",
    "default",
    "primary",
    "unique",
    "references",
    "check",
    "constraint",
    "generated",
    "collate",
    "from",
    "using",
    "as",
    "on",
    "and",
    "or",
    "with",
    "set",
    "drop",
];

/// A type; `context` completes "expected a type {context}" ("after `email`").
pub(super) fn parse_type(c: &mut Cursor, context: &str) -> PResult<Type> {
    let expected = format!("a type {context}");
    let start = c.span();
    let first = match c.peek() {
        Some(TokenTree::Ident(i)) => i.clone(),
        _ => return Err(c.expected(&expected)),
    };
    let raw = first.to_string().starts_with("r#");
    let first = ident_name(&first);
    if !raw && NOT_A_TYPE.contains(&first.value.as_str()) {
        return Err(c.expected(&expected));
    }
    c.bump();

    let mut ty = Type {
        schema: None,
        words: vec![first.value.clone()],
        params: Vec::new(),
        array_dims: 0,
        range: c.range_from(start),
    };
    match (raw, first.value.as_str()) {
        (false, "double") => {
            c.expect_kw("precision", "after `double`")?;
            ty.words.push("precision".to_owned());
        }
        (false, "character" | "char" | "bit") => {
            if c.eat_kw("varying").is_some() {
                ty.words.push("varying".to_owned());
            }
            ty.params = params(c)?;
        }
        (false, "timestamp" | "time") => {
            ty.params = params(c)?;
            for zone in [["with", "time", "zone"], ["without", "time", "zone"]] {
                if c.eat_kws(&zone).is_some() {
                    ty.words.extend(zone.iter().map(|w| (*w).to_owned()));
                    break;
                }
            }
        }
        _ => {
            if c.peek_punct('.') {
                c.bump();
                let name = c.name(&format!("a type name after `{}.`", first.value))?;
                check_length(c.cx, &first);
                ty.schema = Some(first);
                ty.words = vec![name.value];
            } else {
                check_length(c.cx, &first);
            }
            ty.params = params(c)?;
        }
    }
    while let Some(dims) = c.eat_group(Delimiter::Bracket) {
        if !dims.is_end() {
            // `int[3]` is accepted by PostgreSQL but means the same as `int[]`.
            return Err(dims.error("array sizes are ignored by PostgreSQL; write `[]`"));
        }
        ty.array_dims += 1;
    }
    ty.range = c.range_from(start);
    Ok(ty)
}

/// Optional type modifiers: `(255)`, `(10, 2)`.
fn params(c: &mut Cursor) -> PResult<Vec<u64>> {
    let Some(mut inner) = c.eat_group(Delimiter::Parenthesis) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    loop {
        let value = match inner.peek_literal().map(|l| syn::Lit::new(l.clone())) {
            Some(syn::Lit::Int(int)) if int.suffix().is_empty() => int.base10_parse::<u64>().ok(),
            _ => None,
        };
        let Some(value) = value else {
            return Err(inner.expected("a number in the type modifier"));
        };
        inner.bump();
        out.push(value);
        if inner.eat_punct(',').is_none() {
            break;
        }
    }
    inner.expect_end("`,` or `)`")?;
    Ok(out)
}
