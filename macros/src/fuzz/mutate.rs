//! Mutations of token streams at any depth. New tokens take the span of a token of the input (the one
//! they replace, or a neighbour), as tokens of real source have spans: an error pointing at
//! `Span::call_site()` is then always a bug.

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

use super::corpus::Corpus;
use super::rng::Rng;

/// A token tree whose groups are open for editing.
#[derive(Clone)]
enum Tree {
    Leaf(TokenTree),
    Group {
        delimiter: Delimiter,
        span: Span,
        children: Vec<Tree>,
    },
}

impl Tree {
    fn span(&self) -> Span {
        match self {
            Tree::Leaf(tt) => tt.span(),
            Tree::Group { span, .. } => *span,
        }
    }
}

fn open(stream: TokenStream) -> Vec<Tree> {
    stream
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(g) => Tree::Group {
                delimiter: g.delimiter(),
                span: g.span(),
                children: open(g.stream()),
            },
            leaf => Tree::Leaf(leaf),
        })
        .collect()
}

fn close(trees: Vec<Tree>) -> TokenStream {
    trees
        .into_iter()
        .map(|t| match t {
            Tree::Leaf(tt) => tt,
            Tree::Group {
                delimiter,
                span,
                children,
            } => {
                let mut g = Group::new(delimiter, close(children));
                g.set_span(span);
                TokenTree::Group(g)
            }
        })
        .collect()
}

/// Paths (child indexes from the root) of every token list: the root and each group's inside.
fn lists(trees: &[Tree], path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(path.clone());
    for (i, t) in trees.iter().enumerate() {
        if let Tree::Group { children, .. } = t {
            path.push(i);
            lists(children, path, out);
            path.pop();
        }
    }
}

fn list_at<'a>(mut trees: &'a mut Vec<Tree>, path: &[usize]) -> &'a mut Vec<Tree> {
    for &i in path {
        trees = match &mut trees[i] {
            Tree::Group { children, .. } => children,
            Tree::Leaf(_) => unreachable!("paths lead through groups"),
        };
    }
    trees
}

/// One fuzz input: a corpus entry with 1 to 6 stacked mutations (one in half the cases, so that
/// some inputs stay close enough to valid to reach the checks and lowering), or (rarely) random
/// tokens.
pub(super) fn input(rng: &mut Rng, corpus: &Corpus) -> TokenStream {
    if rng.chance(1, 50) {
        return random_stream(rng, corpus);
    }
    let mut trees = open(rng.pick(&corpus.entries).clone());
    let count = 1 + (rng.next().trailing_zeros() as usize).min(5);
    for _ in 0..count {
        mutate(rng, corpus, &mut trees);
    }
    close(trees)
}

/// Up to 40 random tokens, spanned like corpus tokens.
fn random_stream(rng: &mut Rng, corpus: &Corpus) -> TokenStream {
    let n = rng.below(40);
    (0..n)
        .map(|_| {
            let span = rng.pick(&corpus.idents).span();
            let mut tt = random_token(rng, corpus, span);
            tt.set_span(span);
            tt
        })
        .collect()
}

fn mutate(rng: &mut Rng, corpus: &Corpus, trees: &mut Vec<Tree>) {
    let mut paths = Vec::new();
    lists(trees, &mut Vec::new(), &mut paths);
    // Favour the lists holding statements (deeper lists are many but small).
    let path = rng.pick(&paths).clone();
    let list = list_at(trees, &path);
    let n = list.len();
    let fallback_span = corpus.idents[0].span();
    let near = |list: &Vec<Tree>, i: usize| {
        list.get(i)
            .or(list.last())
            .map_or(fallback_span, Tree::span)
    };
    match rng.below(14) {
        // Delete one token, or a run of them.
        0 | 1 if n > 0 => {
            let i = rng.below(n);
            let len = if rng.chance(1, 3) {
                rng.range(1, (n - i).min(8))
            } else {
                1
            };
            list.drain(i..i + len);
        }
        // Duplicate a token (or a run) in place.
        2 if n > 0 => {
            let i = rng.below(n);
            let len = rng.range(1, (n - i).min(4));
            let copy: Vec<Tree> = list[i..i + len].to_vec();
            let at = rng.range(i, n);
            list.splice(at..at, copy);
        }
        // Swap two tokens.
        3 if n > 1 => {
            let (a, b) = (rng.below(n), rng.below(n));
            list.swap(a, b);
        }
        // Replace a leaf with a random token of any kind, or of its own kind.
        4..=6 if n > 0 => {
            let i = rng.below(n);
            let span = list[i].span();
            let same_kind = rng.chance(2, 3);
            let mut tt = match (&list[i], same_kind) {
                (Tree::Leaf(TokenTree::Ident(_)), true) => {
                    TokenTree::Ident(random_ident(rng, corpus, span))
                }
                (Tree::Leaf(TokenTree::Literal(_)), true) => {
                    TokenTree::Literal(random_literal(rng, corpus, span))
                }
                (Tree::Leaf(TokenTree::Punct(_)), true) => TokenTree::Punct(random_punct(rng)),
                _ => random_token(rng, corpus, span),
            };
            tt.set_span(span);
            list[i] = Tree::Leaf(tt);
        }
        // Insert a random token.
        7 => {
            let at = rng.range(0, n);
            let span = near(list, at);
            let mut tt = random_token(rng, corpus, span);
            tt.set_span(span);
            list.insert(at, Tree::Leaf(tt));
        }
        // Splice in a run of tokens from another corpus entry (statements, clauses, groups).
        8 => {
            let donor = open(rng.pick(&corpus.entries).clone());
            let mut donor_paths = Vec::new();
            lists(&donor, &mut Vec::new(), &mut donor_paths);
            let mut donor = donor;
            let from = list_at(&mut donor, &rng.pick(&donor_paths).clone()).clone();
            if !from.is_empty() {
                let i = rng.below(from.len());
                let len = rng.range(1, (from.len() - i).min(12));
                let at = rng.range(0, n);
                list.splice(at..at, from[i..i + len].iter().cloned());
            }
        }
        // Wrap a run in a group, once or many times (deep nesting).
        9 if n > 0 => {
            let i = rng.below(n);
            let len = rng.range(1, (n - i).min(6));
            let span = list[i].span();
            let mut inner: Vec<Tree> = list.drain(i..i + len).collect();
            let depth = if rng.chance(1, 8) {
                rng.range(2, 40)
            } else {
                1
            };
            for _ in 0..depth {
                inner = vec![Tree::Group {
                    delimiter: random_delimiter(rng),
                    span,
                    children: inner,
                }];
            }
            list.splice(i..i, inner);
        }
        // Unwrap a group, or change its delimiter.
        10 if n > 0 => {
            let i = rng.below(n);
            if let Tree::Group {
                children,
                delimiter,
                ..
            } = &mut list[i]
            {
                if rng.chance(1, 2) {
                    let children = std::mem::take(children);
                    list.splice(i..=i, children);
                } else {
                    *delimiter = random_delimiter(rng);
                }
            }
        }
        // Truncate.
        11 if n > 0 => list.truncate(rng.below(n)),
        // Flip the spacing of a punct (`::` becomes `: :`, `=` joins what follows).
        12 if n > 0 => {
            let i = rng.below(n);
            if let Tree::Leaf(TokenTree::Punct(p)) = &list[i] {
                let spacing = if p.spacing() == Spacing::Joint {
                    Spacing::Alone
                } else {
                    Spacing::Joint
                };
                let mut q = Punct::new(p.as_char(), spacing);
                q.set_span(p.span());
                list[i] = Tree::Leaf(TokenTree::Punct(q));
            }
        }
        // Swap two adjacent runs (reorders clauses and statements).
        _ if n > 2 => {
            let i = rng.below(n - 1);
            let mid = rng.range(i + 1, n - 1);
            list[i..=mid].rotate_left(mid - i);
        }
        _ => {}
    }
}

fn random_token(rng: &mut Rng, corpus: &Corpus, span: Span) -> TokenTree {
    match rng.below(4) {
        0 | 1 => TokenTree::Ident(random_ident(rng, corpus, span)),
        2 => TokenTree::Literal(random_literal(rng, corpus, span)),
        _ => TokenTree::Punct(random_punct(rng)),
    }
}

/// Names at PostgreSQL's limits and beyond, unicode, raw identifiers, Rust keywords.
const IDENTS: &[&str] = &[
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 63 bytes
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 64 bytes
    "éééééééééééééééééééééééééééééééa",                                // 63 bytes, 2-byte chars
    "éééééééééééééééééééééééééééééééé",                                // 64 bytes
    "ééééééééééééééééééééééééééééééééé",                               // 66 bytes
    "日本語",
    "Straße",
    "UPPER",
    "MiXeD",
    "_",
    "_x",
    "self",
    "Self",
    "crate",
    "super",
    "fn",
    "mod",
    "pub",
    "unsafe",
    "m0001_x",
    "m0_",
    "m18446744073709551616_x",
    "set",
    "reason",
    "allow",
    "no_transaction",
    "lock",
    "target_postgres",
];

/// Rust keywords usable as raw identifiers.
const RAW_IDENTS: &[&str] = &[
    "type", "table", "end", "select", "match", "fn", "async", "default",
];

fn random_ident(rng: &mut Rng, corpus: &Corpus, span: Span) -> Ident {
    match rng.below(4) {
        0 | 1 => {
            let mut ident = rng.pick(&corpus.idents).clone();
            ident.set_span(span);
            ident
        }
        2 => Ident::new(rng.pick::<&str>(IDENTS), span),
        _ => Ident::new_raw(rng.pick::<&str>(RAW_IDENTS), span),
    }
}

/// String contents that must survive rendering as SQL, and some that must be refused.
const STRINGS: &[&str] = &[
    "",
    "'",
    "''",
    "\"",
    "\\",
    "\\'",
    "$$",
    "$tag$",
    ";",
    "; drop table users; --",
    "--",
    "/*",
    "*/",
    "\n",
    "\r\n",
    "\t",
    "\0",
    "a\0b",
    "é",
    "日本語",
    "🦀",
    "\u{202e}",
    "\u{feff}",
    "%s",
    "{}",
    "{0}",
    "E'",
    "U&'",
];

/// Literal forms: durations, numbers at and beyond the limits, other literal kinds.
const LITERALS: &[&str] = &[
    "0",
    "1",
    "7",
    "10",
    "11",
    "12",
    "18",
    "19",
    "63",
    "64",
    "1_000",
    "0s",
    "1s",
    "10ms",
    "2min",
    "1h",
    "1d",
    "1us",
    "5xs",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "99999999999999999999999999999999999ms",
    "1.5",
    "1.5s",
    "1e3",
    "1e400",
    "0x10",
    "0b1",
    "0o7",
    "1u8",
    "1i128",
    "'c'",
    "'\\''",
    "b'c'",
    "b\"bytes\"",
    "c\"cstr\"",
    "r\"raw\"",
    "r#\"raw \" quote\"#",
    "\"\\u{0}\"",
    "\"\\x00\"",
    "\"\\\\\"",
];

fn random_literal(rng: &mut Rng, corpus: &Corpus, span: Span) -> Literal {
    let mut lit = match rng.below(6) {
        0 | 1 => rng.pick(&corpus.literals).clone(),
        2 => Literal::string(rng.pick::<&str>(STRINGS)),
        3 => {
            // A long string, possibly mixing hostile pieces.
            let mut s = String::new();
            for _ in 0..rng.range(1, 40) {
                s.push_str(rng.pick::<&str>(STRINGS));
            }
            Literal::string(&s)
        }
        4 => match rng.below(4) {
            0 => Literal::i64_unsuffixed(-(rng.below(100) as i64)),
            1 => Literal::u64_unsuffixed(rng.next()),
            2 => Literal::f64_unsuffixed(rng.below(1000) as f64 / 7.0),
            _ => Literal::u128_unsuffixed(u128::from(rng.next()) << 64),
        },
        _ => match rng
            .pick(LITERALS)
            .parse::<TokenStream>()
            .ok()
            .and_then(|ts| ts.into_iter().next())
        {
            Some(TokenTree::Literal(lit)) => lit,
            _ => Literal::string("unparsable literal form"),
        },
    };
    lit.set_span(span);
    lit
}

const PUNCTS: &[char] = &[
    ';', ',', '.', ':', '=', '!', '#', '$', '%', '&', '*', '+', '-', '/', '<', '>', '?', '@', '^',
    '|', '~', '\'',
];

fn random_punct(rng: &mut Rng) -> Punct {
    let spacing = if rng.chance(1, 3) {
        Spacing::Joint
    } else {
        Spacing::Alone
    };
    Punct::new(*rng.pick(PUNCTS), spacing)
}

fn random_delimiter(rng: &mut Rng) -> Delimiter {
    *rng.pick(&[
        Delimiter::Parenthesis,
        Delimiter::Bracket,
        Delimiter::Brace,
        Delimiter::None,
    ])
}
