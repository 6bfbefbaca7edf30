//! `raw(reason = "..") "SQL"`: the opaque escape hatch. It needs a reason (`raw_without_reason`) and
//! must not control transactions itself (`raw_transaction_control`), since the runtime wraps each step
//! in its own transaction and records progress in it; neither rule can be overridden.
//!
//! The SQL is not parsed, only scanned: a statement starts at the beginning of the string or after a
//! `;`, ignoring whitespace and `--`/`/* */` comments, and its first word is compared with the
//! transaction-control commands. String literals, quoted identifiers and dollar-quoted bodies are
//! skipped whole, so nothing inside a `$$ .. $$` function body is flagged: there `begin`/`end` are
//! PL/pgSQL block keywords, and a procedure that commits only does so when called. The one thing this
//! lets through is a `do $$ .. commit; .. $$` block: in a transactional step PostgreSQL itself rejects
//! it ("invalid transaction termination"), and in a `no_transaction` step it commits its own batches,
//! which is what such a block is for. SQL-standard bodies (`begin atomic .. end`) are skipped too.

use super::Checker;
use crate::ast::{Range, RawSql};
use crate::rules::Rule;

const FORM: &str = "`raw(reason = \"what this does and why it is safe\") \"..\"`";

pub(super) fn check(ck: &mut Checker, raw: &RawSql) {
    match &raw.reason {
        // raw "..";
        None => ck.report(
            Rule::RawWithoutReason,
            raw.keyword,
            format_args!(
                "`raw` SQL is opaque to zerodown's checks, so it needs a reason; write {FORM}"
            ),
        ),
        // raw(reason = "") "..";
        Some(reason) if reason.value.trim().is_empty() => ck.report(
            Rule::RawWithoutReason,
            Range::single(reason.span),
            format_args!(
                "the reason of `raw` is blank; say what the SQL does and why it is safe: {FORM}"
            ),
        ),
        Some(_) => {}
    }

    let scan = scan(&raw.sql.value);
    let sql = Range::single(raw.sql.span);
    // raw(reason = "..") "begin; update ..; commit";
    if let Some(command) = scan.control {
        ck.report(
            Rule::RawTransactionControl,
            sql,
            format_args!(
                "raw SQL contains `{command}`; zerodown runs each step in its own transaction and records its \
                 progress there, so remove the transaction control (write `no_transaction` to run a single \
                 statement outside a transaction)"
            ),
        );
    }
    // raw(reason = "..", no_transaction) "create index concurrently ..; create index concurrently ..";
    if raw.no_transaction && scan.statements > 1 {
        ck.error(
            sql,
            "`no_transaction` raw SQL must be a single statement: PostgreSQL runs a string of several \
             statements as one implicit transaction; write one `raw` per statement",
        );
    }
}

/// What the scanner found in raw SQL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The first transaction-control command at a statement start, as the message names it.
    pub(crate) control: Option<&'static str>,
    /// Statements with any content (empty ones between `;;` do not count).
    pub(crate) statements: usize,
}

/// Scans `sql` for statement starts; see the module documentation for what is skipped.
pub(crate) fn scan(sql: &str) -> Scan {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut control = None;
    let mut statements = 0;
    // Whether the next word starts a statement, and whether the current statement has content.
    let mut at_start = true;
    let mut content = false;
    // Inside `begin atomic .. end`, whose `;`s do not end the enclosing statement.
    let mut atomic = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if let Some(end) = comment_end(b, i) {
            i = end;
        } else if c == b';' {
            if !atomic {
                statements += usize::from(content);
                content = false;
            }
            at_start = true;
            i += 1;
        } else if c == b'\'' {
            // `E'..'` allows backslash escapes.
            let escapes =
                i > 0 && b[i - 1].eq_ignore_ascii_case(&b'e') && (i < 2 || !is_ident(b[i - 2]));
            i = quoted_end(b, i, b'\'', escapes);
            (at_start, content) = (false, true);
        } else if c == b'"' {
            i = quoted_end(b, i, b'"', false);
            (at_start, content) = (false, true);
        } else if let Some(end) = dollar_quote_end(b, i) {
            i = end;
            (at_start, content) = (false, true);
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
            (at_start, content) = (false, true);
            i = end;
        } else {
            (at_start, content) = (false, true);
            i += 1;
        }
    }
    statements += usize::from(content);
    Scan {
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
        scan(sql).control
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
    fn statement_count() {
        assert_eq!(scan("").statements, 0);
        assert_eq!(scan(" -- nothing\n").statements, 0);
        assert_eq!(scan("create index concurrently i on t (a)").statements, 1);
        assert_eq!(scan("create index concurrently i on t (a);").statements, 1);
        assert_eq!(scan("select 1;; ; select 2; -- end").statements, 2);
        assert_eq!(scan("select ';'; select 2").statements, 2);
        assert_eq!(
            scan("create function f() returns int language sql begin atomic select 1; end")
                .statements,
            1
        );
    }
}
