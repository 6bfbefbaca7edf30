//! Reads `raw` SQL with a real PostgreSQL grammar, so `check::raw` can judge each statement by the
//! DSL's rules. One job per file:
//!
//! - `split`: statements and transaction control, lexically (quotes, comments, `$$` bodies);
//! - `tokens`: sqlparser's tokenizer, reduced to words and brackets;
//! - `words`: the forms sqlparser 0.60 does not represent (`alter table` and `alter index` in full,
//!   `vacuum`, `analyze`, `cluster`, `reindex`, `drop index`, `lock`, `refresh`, `do`, ...), and
//!   `create table`/`create index` when sqlparser rejects them, read from tokens;
//! - `ast`: everything else, from sqlparser's AST (`PostgreSqlDialect`);
//! - `model`: the [`Op`]s both readers produce; `classify` judges them, `lock` infers their locks.
//!
//! Why sqlparser: it is pure Rust (users need no libclang or C toolchain, unlike `pg_query`, which
//! builds PostgreSQL's own parser from C); it adds about 7 s to a clean debug build of the macro crate
//! (ARCHITECTURE.md has the figures). Its gaps are listed in `words`.

mod ast;
pub(crate) mod classify;
pub(crate) mod lock;
pub(crate) mod model;
mod split;
mod tokens;
mod words;

#[cfg(test)]
mod tests;

use std::ops::Range;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

pub(crate) use model::Op;
pub(crate) use split::{split, Split};

/// One statement of `raw` SQL, read.
#[derive(Debug)]
pub(crate) struct Read {
    /// Its byte range in the SQL.
    pub(crate) range: Range<usize>,
    pub(crate) outcome: Result<Vec<Op>, Unreadable>,
}

/// Why a statement could not be read, and where (1-based, within the whole SQL string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable {
    pub(crate) message: String,
    pub(crate) line: u64,
    pub(crate) column: u64,
}

/// Reads every statement `split` found in `sql`.
pub(crate) fn read(sql: &str, split: &Split) -> Vec<Read> {
    split
        .statements
        .iter()
        .map(|range| Read {
            range: range.clone(),
            outcome: statement(&sql[range.clone()])
                .map_err(|(message, line, column)| at(sql, range.start, message, line, column)),
        })
        .collect()
}

/// The strongest lock `sql` takes on `target`, as the checks of `raw` infer it; why not, for SQL that
/// cannot be read.
pub(crate) fn inferred_lock(
    sql: &str,
    target: zerodown_runtime::plan::PgVersion,
) -> Result<zerodown_runtime::plan::LockLevel, String> {
    let mut strongest = zerodown_runtime::plan::LockLevel::None;
    for read in read(sql, &split(sql)) {
        let ops = read.outcome.map_err(|u| u.message)?;
        for op in &ops {
            strongest = strongest.max(lock::lock(op, target));
        }
    }
    Ok(strongest)
}

/// One statement: the word recogniser for its forms, sqlparser for the rest. Errors are (message,
/// line, column) within the statement.
fn statement(sql: &str) -> Result<Vec<Op>, (String, u64, u64)> {
    let toks = tokens::tokens(sql).map_err(|e| (e.message, e.line, e.column))?;
    if let Some(read) = words::read(&toks) {
        return read.map_err(|message| {
            // The recogniser does not track positions; point at the statement.
            (message, 1, 1)
        });
    }
    match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(stmts) => Ok(stmts.iter().flat_map(ast::read).collect()),
        Err(e) => {
            let fallback = match tokens::leading_words(&toks) {
                ("create", "index" | "unique") => words::create_index(&toks),
                ("create", _) => words::create_table(&toks).or_else(|| words::create_object(&toks)),
                _ => None,
            };
            fallback.map(|op| vec![op]).ok_or_else(|| located(e, sql))
        }
    }
}

/// sqlparser puts the position in the message: "sql parser error: Expected: .., found: x at Line: 1,
/// Column: 8"; an error at the end ("found: EOF") has none, so it points after the statement's last
/// character.
fn located(e: ParserError, sql: &str) -> (String, u64, u64) {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        ParserError::RecursionLimitExceeded => "the statement nests too deeply".to_owned(),
    };
    let text = text
        .strip_prefix("sql parser error: ")
        .map_or(text.clone(), str::to_owned);
    let Some(at) = text.rfind(" at Line: ") else {
        let body = sql.trim_end();
        let line = body.matches('\n').count() as u64 + 1;
        let last = body.rsplit('\n').next().unwrap_or("");
        return (text, line, last.chars().count() as u64 + 1);
    };
    let mut numbers = text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse::<u64>().ok());
    let (line, column) = (numbers.next().unwrap_or(1), numbers.next().unwrap_or(1));
    (text[..at].to_owned(), line, column)
}

/// A position within the statement starting at byte `start` of `sql`, moved to the whole SQL.
fn at(sql: &str, start: usize, message: String, line: u64, column: u64) -> Unreadable {
    let before = &sql[..start];
    let lines_before = before.matches('\n').count() as u64;
    let column = if line <= 1 {
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        before[line_start..].chars().count() as u64 + column
    } else {
        column
    };
    Unreadable {
        message,
        line: lines_before + line.max(1),
        column,
    }
}
