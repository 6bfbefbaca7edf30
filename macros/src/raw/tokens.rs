//! sqlparser's PostgreSQL tokenizer, reduced to what the word recogniser needs: words (lowercased
//! unless quoted), parentheses, commas and dots, each with its position. Literals, operators and the
//! rest become [`Tok::Other`], so quoting is handled by the real lexer, never by hand.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A token the recogniser looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A keyword or identifier: lowercased unless it was quoted.
    Word(String),
    Open,
    Close,
    Comma,
    Dot,
    Other,
}

/// A failure of the tokenizer: its message and the 1-based position within the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub(crate) message: String,
    pub(crate) line: u64,
    pub(crate) column: u64,
}

/// The tokens of `sql`, whitespace and comments left out.
pub(crate) fn tokens(sql: &str) -> Result<Vec<Tok>, LexError> {
    let toks = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| LexError {
            message: e.message,
            line: e.location.line,
            column: e.location.column,
        })?;
    Ok(toks
        .into_iter()
        .filter_map(|t| match t.token {
            Token::Whitespace(_) | Token::EOF | Token::SemiColon => None,
            Token::Word(w) if w.quote_style.is_some() => Some(Tok::Word(w.value)),
            Token::Word(w) => Some(Tok::Word(w.value.to_lowercase())),
            Token::LParen => Some(Tok::Open),
            Token::RParen => Some(Tok::Close),
            Token::Comma => Some(Tok::Comma),
            Token::Period => Some(Tok::Dot),
            _ => Some(Tok::Other),
        })
        .collect())
}

/// The first word of `sql` and the one after it, lowercased (`("alter", "table")`), for routing.
pub(crate) fn leading_words(toks: &[Tok]) -> (&str, &str) {
    let word = |i: usize| match toks.get(i) {
        Some(Tok::Word(w)) => w.as_str(),
        _ => "",
    };
    (word(0), word(1))
}
