//! The seed corpus: the input of every `migration! { .. }` written in the workspace's tests, plus the
//! identifiers and literals they use (replacement material for mutations).

use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, Ident, Literal, TokenStream, TokenTree};

pub(super) struct Corpus {
    /// The inputs, with the spans of the files they come from.
    pub(super) entries: Vec<TokenStream>,
    /// Every identifier of the corpus (keywords and names), with its span.
    pub(super) idents: Vec<Ident>,
    /// Every literal of the corpus.
    pub(super) literals: Vec<Literal>,
}

/// Inputs written by hand to probe the edges: empty and partial headers, misplaced settings,
/// strings with NUL and quotes, 63/64-byte names, unicode, wrong delimiters.
pub(super) const HOSTILE: &[&str] = &[
    "",
    ";",
    "pub",
    "pub mod",
    "mod",
    "mod m0001_x",
    "mod m0001_x ;",
    "mod m0001_x ( )",
    "mod m0001_x [ ]",
    "pub mod m0001_x {}",
    "pub mod m0001_x {} extra",
    "pub mod m0001_x {} pub mod m0002_y {}",
    "#[doc = 1] pub mod m0001_x {}",
    "#![inner] pub mod m0001_x {}",
    "/// doc\n pub(crate) mod m0001_x {}",
    "pub(in crate::a) mod m0001_x {}",
    "pub mod m0001 {}",
    "pub mod m_x {}",
    "pub mod m99999999999999999999999999_x {}",
    "pub mod x0001_x {}",
    "pub mod r#m0001_type {}",
    "pub mod m0001_x { set; }",
    "pub mod m0001_x { set lock_timeout; }",
    "pub mod m0001_x { set lock_timeout = ; }",
    "pub mod m0001_x { set lock_timeout = 0s; }",
    "pub mod m0001_x { set lock_timeout = 18446744073709551615s; }",
    "pub mod m0001_x { set lock_timeout = 99999999999999999999999999999ms; }",
    "pub mod m0001_x { set lock_timeout = -1s; }",
    "pub mod m0001_x { set lock_timeout = 1.5s; }",
    "pub mod m0001_x { set lock_timeout = \"1s\"; }",
    "pub mod m0001_x { set target_postgres = 4294967306; }",
    "pub mod m0001_x { set backfill_batch_size = 0; }",
    "pub mod m0001_x { create table \"t\" (a int); }",
    "pub mod m0001_x { create table t (a int default \"\\0\"); }",
    "pub mod m0001_x { comment on table t is \"a\\0b\"; }",
    "pub mod m0001_x { create type e as enum (\"\\0\"); }",
    "pub mod m0001_x { raw(reason = \"r\") \"select 1\\0\"; }",
    "pub mod m0001_x { raw(reason = \"\\0\") \"select 1\"; }",
    "pub mod m0001_x { raw \"begin\"; }",
    "pub mod m0001_x { raw(reason = \"r\") \"commit; drop table x; --\"; }",
    "pub mod m0001_x { create table aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (a int); }",
    "pub mod m0001_x { create table aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (a int); }",
    "pub mod m0001_x { create table éééééééééééééééééééééééééééééééa (a int); }",
    "pub mod m0001_x { create table éééééééééééééééééééééééééééééééé (a int); }",
    "pub mod m0001_x { create table 日本 (列 int); }",
    "pub mod m0001_x { create table r#table (r#select int); }",
    "pub mod m0001_x { create table t (a int) ; ; ; }",
    "pub mod m0001_x { create table t (); }",
    "pub mod m0001_x { create table t (,); }",
    "pub mod m0001_x { create table t (a); }",
    "pub mod m0001_x { create table t (a int,); }",
    "pub mod m0001_x { create table t [a int]; }",
    "pub mod m0001_x { create table t {a int}; }",
    "pub mod m0001_x { create table t (a varchar(99999999999999999999)); }",
    "pub mod m0001_x { create table t (a varchar(0)); }",
    "pub mod m0001_x { create table t (a numeric(1, 2, 3)); }",
    "pub mod m0001_x { create table t (a int[][][][][][][][][][]); }",
    "pub mod m0001_x { create table t (a int default 1 default 2); }",
    "pub mod m0001_x { create table t (a int check ()); }",
    "pub mod m0001_x { create table t (a int check (a >)); }",
    "pub mod m0001_x { create table t (a int default -); }",
    "pub mod m0001_x { create table t (a int default 'c'); }",
    "pub mod m0001_x { create table t (a int default b'c'); }",
    "pub mod m0001_x { create table t (a int default b\"c\"); }",
    "pub mod m0001_x { create table t (a int default c\"c\"); }",
    "pub mod m0001_x { create table t (a int default r#\"raw \" '\"#); }",
    "pub mod m0001_x { create table t (a int default 1u8); }",
    "pub mod m0001_x { create table t (a int default 1e400); }",
    "pub mod m0001_x { create table t (a int default 0x10); }",
    "pub mod m0001_x { create table t (a text default \"$$\" || \"'\" || \"\\\\\" || \"--\" || \"/*\"); }",
    "pub mod m0001_x { unsafe {} }",
    "pub mod m0001_x { unsafe() { create index i on t (a); } }",
    "pub mod m0001_x { unsafe(reason = \"\") { } }",
    "pub mod m0001_x { unsafe(reason = \"r\", allow = []) { } }",
    "pub mod m0001_x { unsafe(reason = \"r\", allow = [no_such_rule]) { } }",
    "pub mod m0001_x { unsafe(reason = \"r\", allow = [index_not_concurrent]) { unsafe(reason = \"r\", allow = [index_not_concurrent]) { create index i on t (a); } } }",
    "pub mod m0001_x { alter table t; }",
    "pub mod m0001_x { alter table t add; }",
    "pub mod m0001_x { alter table t add column; }",
    "pub mod m0001_x { alter table t alter column a type; }",
    "pub mod m0001_x { alter table t alter column a type int from; }",
    "pub mod m0001_x { alter table t rename to; }",
    "pub mod m0001_x { alter type; }",
    "pub mod m0001_x { alter type e add value; }",
    "pub mod m0001_x { alter type e add value \"v\" before; }",
    "pub mod m0001_x { create index concurrently on t (a); }",
    "pub mod m0001_x { create index concurrently i on t (); }",
    "pub mod m0001_x { create index concurrently i on t (a) where; }",
    "pub mod m0001_x { create index concurrently i on t (a) include (); }",
    "pub mod m0001_x { drop index concurrently; }",
    "pub mod m0001_x { reindex; }",
    "pub mod m0001_x { comment on; }",
    "pub mod m0001_x { comment on column t is \"x\"; }",
    "pub mod m0001_x { comment on column a.b.c.d is \"x\"; }",
    "pub mod m0001_x { lock table t in mode; }",
    "pub mod m0001_x { select 1; }",
    "pub mod m0001_x { 1; }",
    "pub mod m0001_x { \"create table t (a int)\"; }",
    "pub mod m0001_x { create table t (a int default ((((((((((((((((1))))))))))))))))); }",
    "pub mod m0001_x { create table t (a int default f(f(f(f(f(f(f(f(f(f(1))))))))))); }",
    "pub mod m0001_x { create table t (a int default 1 + + + + 1); }",
    "pub mod m0001_x { create table t (a int default - - - - 1); }",
    "pub mod m0001_x { create table t (a int default not not not true); }",
    "pub mod m0001_x { create table t (a int default 1 :: :: int); }",
    "pub mod m0001_x { create table t (a int default case when then end); }",
    "pub mod m0001_x { create table t (a int default array[[[[]]]]); }",
    "pub mod m0001_x { create table t (a int default cast(1 as)); }",
];

/// Every `migration!` input in the workspace's tests, and every migration of a `migrations!` set.
pub(super) fn load() -> Corpus {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no test files under {}", root.display());
    let mut corpus = Corpus {
        entries: Vec::new(),
        idents: Vec::new(),
        literals: Vec::new(),
    };
    for file in &files {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let tokens: TokenStream = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        collect(tokens, &mut corpus);
    }
    corpus
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Finds `migration ! { .. }` and the items of `migrations ! { .. }` (at any depth) and gathers
/// identifiers and literals.
fn collect(tokens: TokenStream, corpus: &mut Corpus) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Ident(ident) => {
                corpus.idents.push(ident.clone());
                let is_invocation = ident == "migration"
                    && matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                if let (true, Some(TokenTree::Group(g))) = (is_invocation, tokens.get(i + 2)) {
                    if g.delimiter() != Delimiter::None {
                        corpus.entries.push(g.stream());
                    }
                }
                // A `migrations!` set: each of its items is an input too.
                let is_set = ident == "migrations"
                    && matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                if let (true, Some(TokenTree::Group(g))) = (is_set, tokens.get(i + 2)) {
                    if let Ok((_, items)) = crate::collect::split(g.stream()) {
                        corpus.entries.extend(items);
                    }
                }
            }
            TokenTree::Literal(lit) => corpus.literals.push(lit.clone()),
            TokenTree::Group(g) => collect(g.stream(), corpus),
            TokenTree::Punct(_) => {}
        }
    }
}
