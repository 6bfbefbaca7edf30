//! Rewriting SQL the catalog gives back (`pg_get_indexdef`, `pg_get_constraintdef`) for the new column
//! of an expand/contract change; shared by the runtime (definitions read from the live catalog) and
//! the macro (definitions from its schema catalog, to render the plan before it runs):
//! the old column's name replaced wherever it is a column reference, the way PostgreSQL itself
//! re-parses those definitions when it changes a column's type in place.
//!
//! A small lexer is enough: the definitions are PostgreSQL's own deparsed output, so identifiers are
//! quoted exactly when needed, string literals are `'..'` (or `E'..'`), and the only names that can
//! equal a column's without being one are function names (followed by `(`), qualified names (next to
//! `.`), type names (after `::` or `AS`) and collation names (after `COLLATE`).

/// One token; whitespace and punctuation come through as [`Tok::Other`], unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// An identifier or keyword: its text as written and its value (unquoted names folded to lowercase).
    Ident {
        text: &'a str,
        value: String,
        quoted: bool,
    },
    /// Anything else: a literal, a number, an operator, whitespace.
    Other(&'a str),
}

impl<'a> Tok<'a> {
    fn text(&self) -> &'a str {
        match self {
            Tok::Ident { text, .. } | Tok::Other(text) => text,
        }
    }

    fn is_space(&self) -> bool {
        matches!(self, Tok::Other(t) if t.chars().all(char::is_whitespace))
    }

    /// Whether this is the unquoted keyword `kw` (lowercase).
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Tok::Ident { value, quoted: false, .. } if value == kw)
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_char(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == '$'
}

/// Splits `sql` into tokens whose texts concatenate back to `sql`.
pub(crate) fn tokens(sql: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let end_of = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
            chars.peek().map_or(sql.len(), |&(i, _)| i)
        };
        if c == '\'' || ((c == 'E' || c == 'e') && sql[start + 1..].starts_with('\'')) {
            // A string literal; `E'..'` also escapes with backslashes.
            let escapes = c != '\'';
            chars.next();
            if escapes {
                chars.next();
            }
            while let Some((_, ch)) = chars.next() {
                if escapes && ch == '\\' {
                    chars.next();
                } else if ch == '\'' {
                    if chars.peek().map(|&(_, n)| n) == Some('\'') {
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            out.push(Tok::Other(&sql[start..end_of(&mut chars)]));
        } else if c == '"' {
            chars.next();
            let mut value = String::new();
            while let Some((_, ch)) = chars.next() {
                if ch == '"' {
                    if chars.peek().map(|&(_, n)| n) == Some('"') {
                        chars.next();
                        value.push('"');
                    } else {
                        break;
                    }
                } else {
                    value.push(ch);
                }
            }
            out.push(Tok::Ident {
                text: &sql[start..end_of(&mut chars)],
                value,
                quoted: true,
            });
        } else if is_ident_start(c) {
            while chars.peek().is_some_and(|&(_, ch)| is_ident_char(ch)) {
                chars.next();
            }
            let text = &sql[start..end_of(&mut chars)];
            out.push(Tok::Ident {
                text,
                value: text.to_ascii_lowercase(),
                quoted: false,
            });
        } else if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|&(_, ch)| ch.is_ascii_alphanumeric() || ch == '.' || ch == '_')
            {
                chars.next();
            }
            out.push(Tok::Other(&sql[start..end_of(&mut chars)]));
        } else if c.is_whitespace() {
            while chars.peek().is_some_and(|&(_, ch)| ch.is_whitespace()) {
                chars.next();
            }
            out.push(Tok::Other(&sql[start..end_of(&mut chars)]));
        } else if c == ':' && sql[start + 1..].starts_with(':') {
            chars.next();
            chars.next();
            out.push(Tok::Other("::"));
        } else {
            chars.next();
            out.push(Tok::Other(&sql[start..end_of(&mut chars)]));
        }
    }
    out
}

/// Quotes an identifier for SQL.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `value` as an SQL string literal, meaning the same under any `standard_conforming_strings`.
pub fn quote_literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

/// The index of the nearest non-space token before / after `i`.
fn prev(toks: &[Tok], i: usize) -> Option<usize> {
    (0..i).rev().find(|&j| !toks[j].is_space())
}

fn next(toks: &[Tok], i: usize) -> Option<usize> {
    (i + 1..toks.len()).find(|&j| !toks[j].is_space())
}

/// Whether identifier token `i` is a reference to a column (not a function, type, collation or
/// qualified name that happens to be spelled the same).
fn is_column_ref(toks: &[Tok], i: usize) -> bool {
    let before = prev(toks, i).map(|j| &toks[j]);
    let after = next(toks, i).map(|j| &toks[j]);
    let after_is = |s: &str| after.is_some_and(|t| t.text() == s);
    let before_is = |s: &str| before.is_some_and(|t| t.text() == s);
    !(after_is("(")
        || after_is(".")
        || before_is(".")
        || before_is("::")
        || before.is_some_and(|t| t.is_kw("collate") || t.is_kw("as")))
}

/// `toks[range]` with every reference to column `from` replaced by `to` (quoted).
fn rewrite(toks: &[Tok], range: std::ops::Range<usize>, from: &str, to: &str, out: &mut String) {
    for i in range {
        match &toks[i] {
            Tok::Ident { value, .. } if value == from && is_column_ref(toks, i) => {
                out.push_str(&quote_ident(to))
            }
            t => out.push_str(t.text()),
        }
    }
}

/// Tokens up to a trailing `NOT VALID` (which `pg_get_constraintdef` appends to an unvalidated
/// constraint), and whether there was one.
fn without_not_valid<'a>(toks: &'a [Tok<'a>]) -> &'a [Tok<'a>] {
    let words: Vec<usize> = (0..toks.len()).filter(|&i| !toks[i].is_space()).collect();
    if let [.., n, v] = words.as_slice() {
        if toks[*n].is_kw("not") && toks[*v].is_kw("valid") {
            return &toks[..*n];
        }
    }
    toks
}

/// `sql` with every reference to column `from` replaced by `to` (quoted): an expression or index
/// definition after a column rename.
pub fn rename_column_refs(sql: &str, from: &str, to: &str) -> String {
    let toks = tokens(sql);
    let mut out = String::with_capacity(sql.len() + 8);
    rewrite(&toks, 0..toks.len(), from, to, &mut out);
    out
}

/// A check constraint or foreign key definition (`pg_get_constraintdef`) for the new column, without
/// `NOT VALID`. In a foreign key only the referencing columns (before `REFERENCES`) are renamed.
pub fn constraint_for(def: &str, from: &str, to: &str) -> String {
    let all = tokens(def);
    let toks = without_not_valid(&all);
    let end = (0..toks.len())
        .find(|&i| toks[i].is_kw("references"))
        .unwrap_or(toks.len());
    let mut out = String::with_capacity(def.len() + 16);
    rewrite(toks, 0..end, from, to, &mut out);
    for t in &toks[end..] {
        out.push_str(t.text());
    }
    out.trim_end().to_owned()
}

/// A foreign key definition (`pg_get_constraintdef`) referencing column `to` where it referenced
/// `from`, without `NOT VALID`: only the referenced columns (the list after `REFERENCES table`) are
/// renamed. `None` when `def` is not in that shape.
pub fn referencing_for(def: &str, from: &str, to: &str) -> Option<String> {
    let all = tokens(def);
    let toks = without_not_valid(&all);
    let references = (0..toks.len()).find(|&i| toks[i].is_kw("references"))?;
    let open = (references..toks.len()).find(|&i| toks[i].text() == "(")?;
    let close = (open..toks.len()).find(|&i| toks[i].text() == ")")?;
    let mut out = String::with_capacity(def.len() + 16);
    for t in &toks[..=open] {
        out.push_str(t.text());
    }
    for t in &toks[open + 1..close] {
        match t {
            Tok::Ident { value, .. } if value == from => out.push_str(&quote_ident(to)),
            t => out.push_str(t.text()),
        }
    }
    for t in &toks[close..] {
        out.push_str(t.text());
    }
    Some(out.trim_end().to_owned())
}

/// The `CREATE INDEX CONCURRENTLY` building, under the name `name` on table `table` (rendered), the
/// index defined by `def` (`pg_get_indexdef`) with column `from` replaced by `to`. `None` when `def` is
/// not in the shape PostgreSQL deparses indexes to.
pub fn index_for(def: &str, name: &str, table: &str, from: &str, to: &str) -> Option<String> {
    let toks = tokens(def);
    // `CREATE [UNIQUE] INDEX name ON [ONLY] table USING method (keys) [INCLUDE (..)] [NULLS NOT DISTINCT]
    // [WITH (..)] [TABLESPACE t] [WHERE predicate]`: the header has no parenthesis.
    let open = (0..toks.len()).find(|&i| toks[i].text() == "(")?;
    let header = &toks[..open];
    let unique = header.iter().any(|t| t.is_kw("unique"));
    let using = header.iter().position(|t| t.is_kw("using"))?;
    let method = next(header, using).map(|j| header[j].text())?;
    let mut out = format!(
        "CREATE {}INDEX CONCURRENTLY {} ON {table} USING {method} ",
        if unique { "UNIQUE " } else { "" },
        quote_ident(name)
    );
    // Storage parameters and the tablespace name are not column references.
    let mut depth = 0usize;
    let mut with_depth = None;
    let mut i = open;
    while i < toks.len() {
        let t = &toks[i];
        match t.text() {
            "(" => depth += 1,
            ")" => {
                depth = depth.saturating_sub(1);
                if with_depth == Some(depth) {
                    with_depth = None;
                }
            }
            _ => {}
        }
        if depth == 0 && t.is_kw("with") {
            with_depth = Some(0);
        }
        if depth == 0 && t.is_kw("tablespace") {
            out.push_str(t.text());
            if let Some(j) = next(&toks, i) {
                for tok in &toks[i + 1..=j] {
                    out.push_str(tok.text());
                }
                i = j + 1;
                continue;
            }
        }
        if with_depth.is_some() {
            out.push_str(t.text());
        } else {
            rewrite(&toks, i..i + 1, from, to, &mut out);
        }
        i += 1;
    }
    Some(out)
}

/// The last name of a rendered, possibly qualified name: `"app"."users"` gives `"users"`.
pub fn last_name(rendered: &str) -> String {
    tokens(rendered)
        .iter()
        .rev()
        .find_map(|t| match t {
            Tok::Ident { text, .. } => Some((*text).to_owned()),
            Tok::Other(_) => None,
        })
        .unwrap_or_else(|| rendered.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let sql = r#"CREATE INDEX "a""b" ON public.t USING btree (lower((email)::text), 'it''s', E'a\'b') WHERE (x > 1.5e3)"#;
        let joined: String = tokens(sql).iter().map(Tok::text).collect();
        assert_eq!(joined, sql);
        assert!(tokens(sql).contains(&Tok::Ident {
            text: r#""a""b""#,
            value: "a\"b".into(),
            quoted: true
        }));
    }

    #[test]
    fn index_definitions_are_rebuilt_for_the_new_column() {
        assert_eq!(
            index_for("CREATE INDEX users_email_idx ON public.users USING btree (email)", "_zd_users_email_idx", "\"users\"", "email", "_zd_email_new").unwrap(),
            "CREATE INDEX CONCURRENTLY \"_zd_users_email_idx\" ON \"users\" USING btree (\"_zd_email_new\")"
        );
        // A table named like the column, an expression key, a function named like the column, a
        // partial index, storage parameters and a tablespace named like the column.
        assert_eq!(
            index_for(
                "CREATE UNIQUE INDEX i ON public.email USING btree (lower((email)::text), email(x), org_id DESC) INCLUDE (email) WITH (fillfactor='70', email='1') TABLESPACE email WHERE (email IS NOT NULL)",
                "_zd_i",
                "\"email\"",
                "email",
                "e2"
            )
            .unwrap(),
            "CREATE UNIQUE INDEX CONCURRENTLY \"_zd_i\" ON \"email\" USING btree (lower((\"e2\")::text), email(x), org_id DESC) INCLUDE (\"e2\") WITH (fillfactor='70', email='1') TABLESPACE email WHERE (\"e2\" IS NOT NULL)"
        );
        // Quoted names, and a name only equal to the column once unquoted.
        assert_eq!(
            index_for(
                r#"CREATE INDEX "Odd" ON public.t USING gin ("Email", email gin_trgm_ops)"#,
                "n",
                "t",
                "email",
                "x"
            )
            .unwrap(),
            r#"CREATE INDEX CONCURRENTLY "n" ON t USING gin ("Email", "x" gin_trgm_ops)"#
        );
    }

    #[test]
    fn constraint_definitions_are_rebuilt_for_the_new_column() {
        assert_eq!(
            constraint_for("CHECK ((score >= 0))", "score", "_zd_score_new"),
            "CHECK ((\"_zd_score_new\" >= 0))"
        );
        assert_eq!(
            constraint_for("CHECK ((score >= 0)) NOT VALID", "score", "n"),
            "CHECK ((\"n\" >= 0))"
        );
        assert_eq!(
            constraint_for(
                "CHECK (((code)::text ~ 'code'::text) AND (length(code) < 5)) NO INHERIT",
                "code",
                "n"
            ),
            "CHECK (((\"n\")::text ~ 'code'::text) AND (length(\"n\") < 5)) NO INHERIT"
        );
        assert_eq!(
            constraint_for(
                "FOREIGN KEY (org_id) REFERENCES orgs(org_id) ON DELETE CASCADE NOT VALID",
                "org_id",
                "n"
            ),
            "FOREIGN KEY (\"n\") REFERENCES orgs(org_id) ON DELETE CASCADE"
        );
        // Casts to a type spelled like the column, and collations.
        assert_eq!(
            constraint_for("CHECK ((x)::x <> ''::text COLLATE x)", "x", "n"),
            "CHECK ((\"n\")::x <> ''::text COLLATE x)"
        );
    }

    #[test]
    fn a_foreign_key_is_pointed_at_the_new_referenced_column() {
        assert_eq!(
            referencing_for(
                "FOREIGN KEY (id) REFERENCES app.orders(tenant, id) ON DELETE CASCADE NOT VALID",
                "id",
                "_zd_id_new"
            )
            .unwrap(),
            "FOREIGN KEY (id) REFERENCES app.orders(tenant, \"_zd_id_new\") ON DELETE CASCADE"
        );
        assert_eq!(
            referencing_for(
                "FOREIGN KEY (\"Id\") REFERENCES \"Orders\"(\"Id\")",
                "Id",
                "n"
            )
            .unwrap(),
            "FOREIGN KEY (\"Id\") REFERENCES \"Orders\"(\"n\")"
        );
        assert!(referencing_for("CHECK ((id > 0))", "id", "n").is_none());
    }

    #[test]
    fn literals_and_names() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(last_name("\"app\".\"users\""), "\"users\"");
        assert_eq!(last_name("\"users\""), "\"users\"");
    }
}
