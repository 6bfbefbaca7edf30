//! Splits `raw` SQL into statements and finds transaction control, without parsing: a statement
//! starts at the beginning of the string or after a `;`, ignoring whitespace and `--`/`/* */` comments,
//! and its first word is compared with the transaction-control commands. String literals, quoted
//! identifiers and dollar-quoted bodies are skipped whole, so nothing inside a `$$ .. $$` function body
//! is flagged or split: there `begin`/`end` are PL/pgSQL block keywords, and a procedure that commits
//! only does so when called. The one thing this lets through is a `do $$ .. commit; .. $$` block: in a
//! transactional step PostgreSQL itself rejects it ("invalid transaction termination"), and in a
//! `no_transaction` step it commits its own batches, which is what such a block is for. SQL-standard
//! bodies (`begin atomic .. end`) are skipped too.
//!
//! This runs before the parser so that `begin`/`commit` are rejected even in SQL the parser cannot
//! read, and so that each statement is parsed (and its errors located) on its own.

use std::ops::Range;

/// What the splitter found in raw SQL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Split {
    /// The first transaction-control command at a statement start, as the message names it.
    pub(crate) control: Option<&'static str>,
    /// The byte range of each statement with any content (empty ones between `;;` do not count),
    /// without its `;`.
    pub(crate) statements: Vec<Range<usize>>,
}

/// Splits `sql` into statements; see the module documentation for what is skipped.
pub(crate) fn split(sql: &str) -> Split {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut control = None;
    let mut statements = Vec::new();
    // Whether the next word starts a statement, and where the current statement's content starts.
    let mut at_start = true;
    let mut content: Option<usize> = None;
    // Inside `begin atomic .. end`, whose `;`s do not end the enclosing statement.
    let mut atomic = false;
    while i < b.len() {
        let c = b[i];
        // Where this token starts, should it be the statement's first.
        let here = Some(i);
        if c.is_ascii_whitespace() {
            i += 1;
        } else if let Some(end) = comment_end(b, i) {
            i = end;
        } else if c == b';' {
            if !atomic {
                if let Some(start) = content.take() {
                    statements.push(start..i);
                }
            }
            at_start = true;
            i += 1;
        } else if c == b'\'' {
            // `E'..'` allows backslash escapes.
            let escapes =
                i > 0 && b[i - 1].eq_ignore_ascii_case(&b'e') && (i < 2 || !is_ident(b[i - 2]));
            i = quoted_end(b, i, b'\'', escapes);
            (at_start, content) = (false, content.or(here));
        } else if c == b'"' {
            i = quoted_end(b, i, b'"', false);
            (at_start, content) = (false, content.or(here));
        } else if let Some(end) = dollar_quote_end(b, i) {
            i = end;
            (at_start, content) = (false, content.or(here));
        } else if is_ident_start(c) {
            let end = word_end(b, i);
            let word = sql[i..end].to_ascii_lowercase();
            let next = next_word(sql, end);
            if at_start && atomic {
                if word == "end" {
                    atomic = false;
                }
            } else if at_start && control.is_none() {
                control = control_command(&word, next.as_deref());
            }
            if word == "begin" && next.as_deref() == Some("atomic") {
                atomic = true;
            }
            (at_start, content) = (false, content.or(here));
            i = end;
        } else {
            (at_start, content) = (false, content.or(here));
            i += 1;
        }
    }
    if let Some(start) = content {
        statements.push(start..b.len());
    }
    Split {
        control,
        statements,
    }
}

/// The transaction-control command a statement starting with `word` (then `next`) is, if any.
fn control_command(word: &str, next: Option<&str>) -> Option<&'static str> {
    Some(match (word, next) {
        ("begin", _) => "begin",
        ("start", Some("transaction")) => "start transaction",
        ("commit", _) => "commit",
        ("end", _) => "end",
        ("rollback", _) => "rollback",
        ("abort", _) => "abort",
        ("savepoint", _) => "savepoint",
        ("release", _) => "release",
        ("prepare", Some("transaction")) => "prepare transaction",
        _ => return None,
    })
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ident(b[i]) {
        i += 1;
    }
    i
}

/// The next word after `i`, skipping whitespace and comments, lowercased; `None` if something else
/// comes first.
fn next_word(sql: &str, mut i: usize) -> Option<String> {
    let b = sql.as_bytes();
    loop {
        if i >= b.len() {
            return None;
        }
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if let Some(end) = comment_end(b, i) {
            i = end;
        } else if is_ident_start(b[i]) {
            return Some(sql[i..word_end(b, i)].to_ascii_lowercase());
        } else {
            return None;
        }
    }
}

/// If a comment starts at `i`, the index after it. Block comments nest, as in PostgreSQL; an
/// unterminated comment runs to the end.
fn comment_end(b: &[u8], i: usize) -> Option<usize> {
    if b[i..].starts_with(b"--") {
        let end = b[i..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |p| i + p + 1);
        return Some(end);
    }
    if !b[i..].starts_with(b"/*") {
        return None;
    }
    let (mut depth, mut j) = (0usize, i);
    while j < b.len() {
        if b[j..].starts_with(b"/*") {
            depth += 1;
            j += 2;
        } else if b[j..].starts_with(b"*/") {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return Some(j);
            }
        } else {
            j += 1;
        }
    }
    Some(b.len())
}

/// The index after the quoted token starting at `i` (a doubled quote is an escaped quote).
fn quoted_end(b: &[u8], i: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if backslash_escapes && b[j] == b'\\' {
            j += 2;
        } else if b[j] == quote {
            if b.get(j + 1) == Some(&quote) {
                j += 2;
            } else {
                return j + 1;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// If a dollar quote (`$$` or `$tag$`) opens at `i`, the index after its closing delimiter (or the
/// end of the string when it is never closed). A `$` after an identifier character or before a digit
/// (`$1`) opens nothing.
fn dollar_quote_end(b: &[u8], i: usize) -> Option<usize> {
    if b[i] != b'$' || (i > 0 && is_ident(b[i - 1])) {
        return None;
    }
    let mut j = i + 1;
    if j < b.len() && is_ident_start(b[j]) {
        while j < b.len() && (is_ident_start(b[j]) || b[j].is_ascii_digit()) {
            j += 1;
        }
    }
    if b.get(j) != Some(&b'$') {
        return None;
    }
    let tag = &b[i..=j];
    let body = j + 1;
    Some(
        b[body..]
            .windows(tag.len())
            .position(|w| w == tag)
            .map_or(b.len(), |p| body + p + tag.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(sql: &str) -> Option<&'static str> {
        split(sql).control
    }

    #[test]
    fn transaction_control_at_statement_start() {
        assert_eq!(control("begin; update t set a = 1; commit;"), Some("begin"));
        assert_eq!(control("update t set a = 1; COMMIT"), Some("commit"));
        assert_eq!(control("  \n\tBegin"), Some("begin"));
        assert_eq!(control("update t set a = 1;end;"), Some("end"));
        assert_eq!(
            control("select 1; start transaction isolation level serializable"),
            Some("start transaction")
        );
        assert_eq!(
            control("select 1; rollback to savepoint a"),
            Some("rollback")
        );
        assert_eq!(control("abort"), Some("abort"));
        assert_eq!(control("savepoint a"), Some("savepoint"));
        assert_eq!(control("release savepoint a"), Some("release"));
        assert_eq!(
            control("prepare transaction 'x'"),
            Some("prepare transaction")
        );
        assert_eq!(control("commit prepared 'x'"), Some("commit"));
        // After comments.
        assert_eq!(control("-- the fix\ncommit"), Some("commit"));
        assert_eq!(control("/* a /* nested */ comment */ begin"), Some("begin"));
        assert_eq!(
            control("select 1; -- done\n  /* really */ commit;"),
            Some("commit")
        );
    }

    #[test]
    fn words_elsewhere_are_not_control() {
        assert_eq!(
            control("update t set ended = true where status = 'begin'"),
            None
        );
        assert_eq!(control("select 'a; commit'"), None);
        assert_eq!(control("select E'it\\'s; commit'"), None);
        assert_eq!(control("select 'it''s; commit'"), None);
        assert_eq!(control("select \"weird;commit\" from t"), None);
        assert_eq!(control("-- commit\nselect 1"), None);
        assert_eq!(control("/* ; commit */ select 1"), None);
        assert_eq!(control("prepare q as select 1; start_job()"), None);
        assert_eq!(control("update t set x = 1 -- ; commit"), None);
        assert_eq!(control("select commit_ts from t"), None);
        assert_eq!(control("endpoint"), None);
    }

    #[test]
    fn function_bodies_are_skipped() {
        let f = "create function f() returns trigger language plpgsql as $$ begin new.x := 1; return new; end $$;";
        assert_eq!(control(f), None);
        let f = "create function f() returns int as $body$ begin; end; $body$ language plpgsql";
        assert_eq!(control(f), None);
        assert_eq!(control("do $$ begin perform 1; end $$"), None);
        assert_eq!(
            control("create function f() returns int language sql begin atomic select 1; select 2; end;"),
            None
        );
        assert_eq!(
            control(
                "create function f() returns int language sql begin atomic select 1; end; commit"
            ),
            Some("commit")
        );
        // An unterminated body swallows the rest.
        assert_eq!(control("select $$; commit"), None);
        // `$1` is a parameter, not a dollar quote.
        assert_eq!(
            control("prepare q(int) as select $1; commit"),
            Some("commit")
        );
        assert_eq!(control("select a$b; commit"), Some("commit"));
    }

    #[test]
    fn statement_ranges() {
        let sql = "select 1; /* c */ select ';' ;\n  vacuum t -- end";
        let parts: Vec<&str> = split(sql)
            .statements
            .iter()
            .map(|r| &sql[r.clone()])
            .collect();
        assert_eq!(parts, ["select 1", "select ';' ", "vacuum t -- end"]);
    }

    #[test]
    fn statement_count() {
        assert_eq!(split("").statements.len(), 0);
        assert_eq!(split(" -- nothing\n").statements.len(), 0);
        assert_eq!(
            split("create index concurrently i on t (a)")
                .statements
                .len(),
            1
        );
        assert_eq!(
            split("create index concurrently i on t (a);")
                .statements
                .len(),
            1
        );
        assert_eq!(split("select 1;; ; select 2; -- end").statements.len(), 2);
        assert_eq!(split("select ';'; select 2").statements.len(), 2);
        assert_eq!(
            split("create function f() returns int language sql begin atomic select 1; end")
                .statements
                .len(),
            1
        );
    }
}
