//! A cursor over `proc_macro2` token trees with the helpers an SQL-like grammar needs: case-insensitive
//! keywords, multi-character operators glued from `Spacing::Joint` puncts, and the span of the last
//! consumed token so every node gets a [`Range`].

use proc_macro2::{Delimiter, Group, Literal, Spacing, Span, TokenStream, TokenTree};

use crate::ast::{Name, QName, Range, Str};
use crate::ctxt::Ctxt;
use crate::rules::Rule;

/// A fatal error inside one construct: the statement is abandoned and parsing resumes at its `;`.
pub(super) type PResult<T> = Result<T, syn::Error>;

/// PostgreSQL's `NAMEDATALEN - 1`: longer identifiers are silently truncated by the server.
const MAX_IDENT_BYTES: usize = 63;

/// How deeply expressions may nest (parentheses, calls, `not`, unary signs). The parser and the passes
/// after it recurse once per level, and a proc macro built without optimizations (the default) takes
/// some 40 KiB of stack per level: without a limit a hostile input overflows the compiler's stack.
/// Real expressions stay far below it.
pub(crate) const MAX_NESTING: usize = 32;

/// Operators the expression grammar knows, longest first within each prefix so that the first match
/// against a run of joint puncts is the longest one.
const OPERATORS: &[&str] = &[
    "->>", "!~*", "#>>", "<->", "-|-", "::", "<>", "!=", "<=", ">=", "||", "->", "@>", "<@", "&&",
    "~*", "!~", "#>", "#-", "?|", "?&", "@?", "@@", "<<", ">>", "&<", "&>", "=", "<", ">", "+",
    "-", "*", "/", "%", "^", "~", "?", "|", "&", "#",
];

/// Reads a sequence of token trees. Non-fatal problems (an identifier that is too long, a string with a
/// NUL) go straight to the [`Ctxt`]; fatal ones are returned as [`PResult`] errors.
pub(super) struct Cursor<'a> {
    pub(super) cx: &'a Ctxt,
    tokens: Vec<TokenTree>,
    pos: usize,
    /// Where "found end of input" errors point: the closing delimiter of a group, or the last token.
    end_span: Span,
    /// How the end is described in messages: "end of input", "`)`".
    end_desc: &'static str,
    /// The span of the last consumed token (the end of the construct being parsed).
    prev: Span,
    /// Expression nesting at this point, carried into the cursors of inner groups.
    depth: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over a whole token stream; the end is reported at its last token (or `fallback`).
    pub(super) fn new(cx: &'a Ctxt, tokens: TokenStream, fallback: Span) -> Self {
        let tokens = flatten(tokens);
        let end_span = tokens.last().map_or(fallback, TokenTree::span);
        Cursor {
            cx,
            tokens,
            pos: 0,
            end_span,
            end_desc: "end of input",
            prev: fallback,
            depth: 0,
        }
    }

    /// A cursor over the inside of `group`; its end is the closing delimiter.
    fn inside(cx: &'a Ctxt, group: &Group, depth: usize) -> Self {
        let end_desc = match group.delimiter() {
            Delimiter::Parenthesis => "`)`",
            Delimiter::Bracket => "`]`",
            Delimiter::Brace => "`}`",
            Delimiter::None => "end of group",
        };
        Cursor {
            cx,
            tokens: flatten(group.stream()),
            pos: 0,
            end_span: group.span_close(),
            end_desc,
            prev: group.span_open(),
            depth,
        }
    }

    // ===== looking =====

    /// Whether every token has been read.
    pub(super) fn is_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// The next token, not consumed.
    pub(super) fn peek(&self) -> Option<&TokenTree> {
        self.tokens.get(self.pos)
    }

    /// The token `n` places ahead (0 is the next one).
    pub(super) fn peek_nth(&self, n: usize) -> Option<&TokenTree> {
        self.tokens.get(self.pos + n)
    }

    /// The span of the next token, or of the end when there is none.
    pub(super) fn span(&self) -> Span {
        self.peek().map_or(self.end_span, TokenTree::span)
    }

    /// The span of the last consumed token.
    pub(super) fn prev_span(&self) -> Span {
        self.prev
    }

    /// A range from `start` to the last consumed token.
    pub(super) fn range_from(&self, start: Span) -> Range {
        Range::new(start, self.prev)
    }

    /// Whether the `n`th next token is the keyword `kw` (case-insensitive; raw identifiers such as
    /// `r#end` are never keywords, so they can name columns).
    pub(super) fn peek_kw_at(&self, n: usize, kw: &str) -> bool {
        matches!(self.peek_nth(n), Some(TokenTree::Ident(i)) if is_kw(&i.to_string(), kw))
    }

    /// Whether the next token is the keyword `kw`.
    pub(super) fn peek_kw(&self, kw: &str) -> bool {
        self.peek_kw_at(0, kw)
    }

    /// Whether the next tokens are the keywords `kws`, in order.
    pub(super) fn peek_kws(&self, kws: &[&str]) -> bool {
        kws.iter().enumerate().all(|(n, kw)| self.peek_kw_at(n, kw))
    }

    /// The next token as a lowercase keyword, when it is a non-raw identifier.
    pub(super) fn peek_keyword(&self) -> Option<String> {
        match self.peek() {
            Some(TokenTree::Ident(i)) => {
                let s = i.to_string();
                (!s.starts_with("r#")).then(|| s.to_ascii_lowercase())
            }
            _ => None,
        }
    }

    /// Whether the token `n` places ahead is the punct `ch`.
    pub(super) fn peek_punct_at(&self, n: usize, ch: char) -> bool {
        matches!(self.peek_nth(n), Some(TokenTree::Punct(p)) if p.as_char() == ch)
    }

    /// Whether the next token is the punct `ch`.
    pub(super) fn peek_punct(&self, ch: char) -> bool {
        self.peek_punct_at(0, ch)
    }

    /// Whether the next token is a group delimited by `delim`.
    pub(super) fn peek_group(&self, delim: Delimiter) -> bool {
        matches!(self.peek(), Some(TokenTree::Group(g)) if g.delimiter() == delim)
    }

    /// Whether the next token is an identifier (keyword or name).
    pub(super) fn peek_ident(&self) -> bool {
        matches!(self.peek(), Some(TokenTree::Ident(_)))
    }

    /// The operator starting at the next token: the longest known operator spelled by the run of
    /// joint puncts there, and how many puncts it takes.
    pub(super) fn peek_op(&self) -> Option<(&'static str, usize)> {
        let mut run = String::new();
        for tt in &self.tokens[self.pos.min(self.tokens.len())..] {
            let TokenTree::Punct(p) = tt else { break };
            run.push(p.as_char());
            if p.spacing() == Spacing::Alone {
                break;
            }
        }
        OPERATORS
            .iter()
            .find(|op| run.starts_with(**op))
            .map(|op| (*op, op.chars().count()))
    }

    /// Whether the next operator is exactly `op` (so `<` does not match the start of `<=`).
    pub(super) fn peek_op_is(&self, op: &str) -> bool {
        self.peek_op().is_some_and(|(o, _)| o == op)
    }

    /// A description of the next token for "expected .., found .." messages.
    pub(super) fn found(&self) -> String {
        match self.peek() {
            None => self.end_desc.to_owned(),
            // Show a whole operator (`::`), not just its first punct.
            Some(TokenTree::Punct(_)) if self.peek_op().is_some_and(|(_, n)| n > 1) => {
                format!("`{}`", self.peek_op().map_or("", |(op, _)| op))
            }
            Some(tt) => describe(tt),
        }
    }

    // ===== consuming =====

    /// Consumes the next token.
    pub(super) fn bump(&mut self) -> Option<TokenTree> {
        let tt = self.tokens.get(self.pos).cloned()?;
        self.pos += 1;
        self.prev = tt.span();
        Some(tt)
    }

    /// Consumes the keyword `kw` when it is next.
    pub(super) fn eat_kw(&mut self, kw: &str) -> Option<Span> {
        if self.peek_kw(kw) {
            self.bump().map(|t| t.span())
        } else {
            None
        }
    }

    /// Consumes the keywords `kws` when they are all next, in order.
    pub(super) fn eat_kws(&mut self, kws: &[&str]) -> Option<Range> {
        if !self.peek_kws(kws) {
            return None;
        }
        let start = self.span();
        for _ in kws {
            self.bump();
        }
        Some(self.range_from(start))
    }

    /// Consumes the keyword `kw` or fails with "expected `kw` {context}, found ..".
    pub(super) fn expect_kw(&mut self, kw: &str, context: &str) -> PResult<Span> {
        match self.eat_kw(kw) {
            Some(span) => Ok(span),
            None => Err(self.expected(&format!("`{kw}`{}", spaced(context)))),
        }
    }

    /// Consumes the punct `ch` when it is next.
    pub(super) fn eat_punct(&mut self, ch: char) -> Option<Span> {
        if self.peek_punct(ch) {
            self.bump().map(|t| t.span())
        } else {
            None
        }
    }

    /// Consumes the punct `ch` or fails with "expected `ch` {context}, found ..".
    pub(super) fn expect_punct(&mut self, ch: char, context: &str) -> PResult<Span> {
        match self.eat_punct(ch) {
            Some(span) => Ok(span),
            None => Err(self.expected(&format!("`{ch}`{}", spaced(context)))),
        }
    }

    /// Consumes the operator `op` (all its puncts) when it is next.
    pub(super) fn eat_op(&mut self, op: &str) -> Option<Range> {
        let (found, len) = self.peek_op()?;
        if found != op {
            return None;
        }
        let start = self.span();
        for _ in 0..len {
            self.bump();
        }
        Some(self.range_from(start))
    }

    /// Runs `parse` one nesting level deeper, or fails at the next token when that is deeper than
    /// [`MAX_NESTING`].
    pub(super) fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            return Err(syn::Error::new(
                self.span(),
                format!("expression nested more than {MAX_NESTING} levels deep; split it up or simplify it"),
            ));
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    /// Consumes a group with the delimiter `delim` and returns a cursor over its inside.
    pub(super) fn eat_group(&mut self, delim: Delimiter) -> Option<Cursor<'a>> {
        match self.peek() {
            Some(TokenTree::Group(g)) if g.delimiter() == delim => {
                let inner = Cursor::inside(self.cx, g, self.depth);
                self.bump();
                Some(inner)
            }
            _ => None,
        }
    }

    /// Consumes a parenthesized group or fails with "expected `(` {context}, found ..".
    pub(super) fn expect_paren(&mut self, context: &str) -> PResult<Cursor<'a>> {
        match self.eat_group(Delimiter::Parenthesis) {
            Some(c) => Ok(c),
            None => Err(self.expected(&format!("`(`{}", spaced(context)))),
        }
    }

    /// Skips past the next `;` at this level (error recovery); returns whether one was found.
    pub(super) fn skip_past_semicolon(&mut self) -> bool {
        while let Some(tt) = self.bump() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ';') {
                return true;
            }
        }
        false
    }

    /// Skips past the next `{ .. }` group or `;` at this level, whichever comes first (recovery
    /// inside the header of an `unsafe` block).
    pub(super) fn skip_past_block(&mut self) {
        while let Some(tt) = self.bump() {
            match &tt {
                TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => return,
                TokenTree::Punct(p) if p.as_char() == ';' => return,
                _ => {}
            }
        }
    }

    // ===== errors =====

    /// An error at the next token (or at the end).
    pub(super) fn error(&self, message: impl core::fmt::Display) -> syn::Error {
        syn::Error::new(self.span(), message)
    }

    /// "expected {what}, found {next token}" at the next token.
    pub(super) fn expected(&self, what: &str) -> syn::Error {
        self.error(format!("expected {what}, found {}", self.found()))
    }

    /// Fails unless every token of this cursor has been read ("expected {what}, found ..").
    pub(super) fn expect_end(&self, what: &str) -> PResult<()> {
        if self.is_end() {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    // ===== names and literals =====

    /// An identifier, folded to lowercase; `what` names it in the error ("the table name").
    /// An identifier longer than 63 bytes is reported (not fatal).
    pub(super) fn name(&mut self, what: &str) -> PResult<Name> {
        let name = self.word(what)?;
        check_length(self.cx, &name);
        Ok(name)
    }

    /// An identifier folded to lowercase, without the length rule (rule names, option names).
    pub(super) fn word(&mut self, what: &str) -> PResult<Name> {
        match self.peek() {
            Some(TokenTree::Ident(i)) => {
                let name = ident_name(i);
                self.bump();
                Ok(name)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// `name` or `schema.name`.
    pub(super) fn qname(&mut self, what: &str) -> PResult<QName> {
        let first = self.name(what)?;
        if self.peek_punct('.') {
            self.bump();
            let name = self.name(&format!("a name after `{}.`", first.value))?;
            Ok(QName {
                schema: Some(first),
                name,
            })
        } else {
            Ok(QName {
                schema: None,
                name: first,
            })
        }
    }

    /// A comma-separated list of names inside parentheses: `(a, b)`.
    pub(super) fn paren_names(&mut self, what: &str, context: &str) -> PResult<Vec<Name>> {
        let mut inner = self.expect_paren(context)?;
        let mut names = vec![inner.name(what)?];
        while inner.eat_punct(',').is_some() {
            names.push(inner.name(what)?);
        }
        inner.expect_end("`,` or `)`")?;
        Ok(names)
    }

    /// A string literal (`"..."` or `r"..."`), unescaped. A NUL inside is reported (not fatal).
    pub(super) fn string(&mut self, what: &str) -> PResult<Str> {
        let Some(TokenTree::Literal(lit)) = self.peek() else {
            return Err(self.expected(what));
        };
        let span = lit.span();
        let syn::Lit::Str(s) = syn::Lit::new(lit.clone()) else {
            return Err(self.expected(what));
        };
        if !s.suffix().is_empty() {
            return Err(self.error(format!(
                "unexpected suffix `{}` on a string; remove it",
                s.suffix()
            )));
        }
        self.bump();
        let value = s.value();
        check_nul(self.cx, &value, span);
        Ok(Str { value, span })
    }

    /// The next token as a literal, when it is one.
    pub(super) fn peek_literal(&self) -> Option<&Literal> {
        match self.peek() {
            Some(TokenTree::Literal(l)) => Some(l),
            _ => None,
        }
    }
}

/// The tokens with invisible groups (`Delimiter::None`, which `macro_rules!` fragments such as `$e:expr`
/// arrive in) opened, so a migration written through another macro parses the same.
fn flatten(tokens: TokenStream) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for tt in tokens {
        match tt {
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                out.extend(flatten(g.stream()))
            }
            tt => out.push(tt),
        }
    }
    out
}

/// Whether an identifier's text is the keyword `kw` (raw identifiers never are).
fn is_kw(text: &str, kw: &str) -> bool {
    !text.starts_with("r#") && text.eq_ignore_ascii_case(kw)
}

/// `" context"` or nothing, to append to "expected `x`".
fn spaced(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!(" {context}")
    }
}

/// The identifier without `r#`, folded the way PostgreSQL folds unquoted names (ASCII letters only).
pub(super) fn ident_name(ident: &proc_macro2::Ident) -> Name {
    let text = ident.to_string();
    let text = text.strip_prefix("r#").unwrap_or(&text);
    Name {
        value: text.to_ascii_lowercase(),
        span: ident.span(),
    }
}

/// Reports identifiers PostgreSQL would silently truncate.
pub(super) fn check_length(cx: &Ctxt, name: &Name) {
    let len = name.value.len();
    if len > MAX_IDENT_BYTES {
        cx.error(
            name.range(),
            Rule::IdentifierTooLong.message(format_args!(
                "identifier `{}` is {len} bytes long; PostgreSQL truncates identifiers to {MAX_IDENT_BYTES} \
                 bytes, so rename it",
                name.value
            )),
        );
    }
}

/// Reports strings PostgreSQL cannot store.
pub(super) fn check_nul(cx: &Ctxt, value: &str, span: Span) {
    if value.contains('\0') {
        cx.error(
            Range::single(span),
            "this string contains a NUL character and PostgreSQL text cannot contain NUL; remove it",
        );
    }
}

/// A token as shown in messages: "`users`", "`(`", "`\"text\"`".
pub(super) fn describe(tt: &TokenTree) -> String {
    match tt {
        TokenTree::Group(g) => match g.delimiter() {
            Delimiter::Parenthesis => "`(`".to_owned(),
            Delimiter::Bracket => "`[`".to_owned(),
            Delimiter::Brace => "`{`".to_owned(),
            Delimiter::None => "a group".to_owned(),
        },
        TokenTree::Ident(i) => format!("`{}`", i),
        TokenTree::Punct(p) => format!("`{}`", p.as_char()),
        TokenTree::Literal(l) => {
            let text = l.to_string();
            if text.chars().count() > 40 {
                let short: String = text.chars().take(37).collect();
                format!("`{short}...`")
            } else {
                format!("`{text}`")
            }
        }
    }
}
