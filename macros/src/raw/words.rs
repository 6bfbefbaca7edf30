//! The word recogniser: reads, from sqlparser's tokens, the statements whose PostgreSQL forms sqlparser
//! 0.60's grammar does not represent, so they are judged instead of being "unreadable":
//!
//! - `alter table` and `alter index`: sqlparser lacks `set tablespace`, `set schema`, `set access
//!   method`, `set without cluster`, `cluster on`, `alter column .. set statistics|storage|compression|
//!   (..)`, `alter constraint`, `add constraint .. not null col` (18), virtual generated columns (18)
//!   and `type .. collate`; one such action makes sqlparser reject the whole statement, so every `alter
//!   table` is read here, action by action (split at top-level commas);
//! - `vacuum` with options or `analyze`, `analyze`, `cluster`, `reindex`, `drop index concurrently`,
//!   `do`, `create statistics`, `alter sequence`: missing or Redshift-flavoured in sqlparser;
//! - `lock` and `refresh materialized view` (not in sqlparser 0.60);
//! - `create table` and `create index` when sqlparser rejects them (`partition of`, `unlogged`,
//!   virtual generated columns, `on only`), and the `create` statements of objects no query uses yet
//!   (functions, procedures, triggers, views, sequences, ..., as `pg_get_functiondef` writes them).
//!
//! Only the words that decide a verdict are read (an expression or a type is skipped as a balanced
//! group), and an action that is none of PostgreSQL's is an error, as the parser's would be.

use zerodown_runtime::plan::LockLevel;

use super::model::{ConstraintKind, Generated, NewColumn, Op, OpKind};
use super::tokens::Tok;
use crate::ast::{Name, QName};
use crate::volatility::{function_volatility, Volatility};

/// The ops of `toks` when it is a statement this module reads (`None`: leave it to sqlparser), or why
/// it is not PostgreSQL.
pub(crate) fn read(toks: &[Tok]) -> Option<Result<Vec<Op>, String>> {
    let mut w = W { t: toks, i: 0 };
    let first = w.word()?;
    Some(match first.as_str() {
        "alter" if w.eat("table") => alter_table(&mut w),
        "alter" if w.eat("index") => alter_index(&mut w),
        "alter" if w.eat("sequence") => Ok(vec![Op::new(
            OpKind::Other(LockLevel::AccessExclusive),
            w.name(),
        )]),
        "vacuum" => Ok(vacuum(&mut w)),
        "analyze" | "analyse" => {
            w.skip_group();
            w.skip_words(&["verbose", "skip_locked"]);
            Ok(vec![Op::new(OpKind::Maintenance, w.name())])
        }
        "cluster" => {
            w.skip_group();
            w.eat("verbose");
            Ok(vec![Op::new(OpKind::Cluster, w.name())])
        }
        "reindex" => Ok(reindex(&mut w)),
        "drop" if w.eat("index") => {
            let concurrently = w.eat("concurrently");
            w.eat_all(&["if", "exists"]);
            Ok(vec![Op::new(OpKind::DropIndex { concurrently }, w.name())])
        }
        "do" => Ok(vec![Op::new(
            OpKind::Other(LockLevel::AccessExclusive),
            None,
        )]),
        "create" if w.eat("statistics") => Ok(vec![Op::new(OpKind::Maintenance, None)]),
        "lock" => Ok(lock(&mut w)),
        "refresh" if w.eat_all(&["materialized", "view"]) => {
            let concurrently = w.eat("concurrently");
            Ok(vec![Op::new(
                OpKind::RefreshMaterializedView { concurrently },
                w.name(),
            )])
        }
        _ => return None,
    })
}

/// `lock [table] [only] name, .. [in MODE mode] [nowait]`; without a mode, `ACCESS EXCLUSIVE`.
fn lock(w: &mut W) -> Vec<Op> {
    w.eat("table");
    let mut names = Vec::new();
    loop {
        w.eat("only");
        if let Some(name) = w.name() {
            names.push(name);
        }
        if !w.eat(Tok::Comma) {
            break;
        }
    }
    let mut level = LockLevel::AccessExclusive;
    if w.eat("in") {
        let mut mode = Vec::new();
        while let Some(word) = w.word() {
            if word == "mode" {
                break;
            }
            mode.push(word);
        }
        level = match mode.join(" ").as_str() {
            "access share" => LockLevel::AccessShare,
            "row share" => LockLevel::RowShare,
            "row exclusive" => LockLevel::RowExclusive,
            "share update exclusive" => LockLevel::ShareUpdateExclusive,
            "share" => LockLevel::Share,
            "share row exclusive" => LockLevel::ShareRowExclusive,
            "exclusive" => LockLevel::Exclusive,
            _ => LockLevel::AccessExclusive,
        };
    }
    names
        .into_iter()
        .map(|n| Op::new(OpKind::LockTable(level), Some(n)))
        .collect()
}

/// `create [or replace] function|procedure|trigger|view|sequence|..` that sqlparser rejected (0.60
/// lacks `create procedure`, and function options such as `security definer` and `cost`, which
/// PostgreSQL's own `pg_get_functiondef` writes): these only add objects no query uses yet, and their
/// bodies are opaque to every reader, so they are taken by their first words, with their lock.
pub(crate) fn create_object(toks: &[Tok]) -> Option<Op> {
    let mut w = W { t: toks, i: 0 };
    if !w.eat("create") {
        return None;
    }
    w.eat_all(&["or", "replace"]);
    w.skip_words(&[
        "constraint",
        "temp",
        "temporary",
        "recursive",
        "trusted",
        "procedural",
    ]);
    let kind = match w.word()?.as_str() {
        "function" | "procedure" | "aggregate" | "sequence" | "extension" | "type" | "domain"
        | "schema" | "collation" | "operator" | "cast" | "language" | "policy" | "publication"
        | "role" | "user" => OpKind::Catalog,
        "trigger" => OpKind::CreateTrigger,
        "view" | "materialized" => OpKind::CreateView,
        _ => return None,
    };
    Some(Op::new(kind, None))
}

/// `create [unique] index [concurrently] [if not exists] [name] on [only] table ..` that sqlparser
/// rejected (it lacks `on only`, and some index options).
pub(crate) fn create_index(toks: &[Tok]) -> Option<Op> {
    let mut w = W { t: toks, i: 0 };
    if !w.eat("create") {
        return None;
    }
    w.eat("unique");
    if !w.eat("index") {
        return None;
    }
    let concurrently = w.eat("concurrently");
    w.eat_all(&["if", "not", "exists"]);
    if !w.eat("on") {
        w.name();
        if !w.eat("on") {
            return None;
        }
    }
    w.eat("only");
    let table = w.name()?;
    let words = |seq: &[&str]| {
        toks.windows(seq.len()).any(|win| {
            win.iter()
                .zip(seq)
                .all(|(t, s)| *t == Tok::Word((*s).to_owned()))
        })
    };
    Some(Op::new(
        OpKind::CreateIndex {
            concurrently,
            include: words(&["include"]),
            nulls_not_distinct: words(&["nulls", "not", "distinct"]),
        },
        Some(table),
    ))
}

/// `create table` that sqlparser rejected (sqlparser 0.60 lacks `partition of`, `unlogged` and
/// virtual generated columns): read leniently, since a new table serves no traffic and a mistake in
/// it fails harmlessly at run time; only what the verdict needs is taken from it.
pub(crate) fn create_table(toks: &[Tok]) -> Option<Op> {
    let mut w = W { t: toks, i: 0 };
    if !w.eat("create") {
        return None;
    }
    w.skip_words(&["global", "local", "temp", "temporary", "unlogged"]);
    if !w.eat("table") {
        return None;
    }
    let if_not_exists = w.eat_all(&["if", "not", "exists"]);
    let table = w.name()?;
    let partition_of = if w.eat_all(&["partition", "of"]) {
        w.name()
    } else {
        None
    };
    let (stored, virtual_) = generated_columns(toks);
    Some(Op::new(
        OpKind::CreateTable {
            if_not_exists,
            partition_of,
            references: toks.contains(&Tok::Word("references".into())),
            stored_generated: stored,
            virtual_generated: virtual_,
        },
        Some(table),
    ))
}

/// Whether `toks` has `generated always as (..) stored`, and `.. as (..)` virtual (or bare).
fn generated_columns(toks: &[Tok]) -> (bool, bool) {
    let (mut stored, mut virtual_) = (false, false);
    let mut w = W { t: toks, i: 0 };
    while w.i < toks.len() {
        if w.eat_all(&["generated", "always", "as"]) && w.at(&Tok::Open) {
            w.skip_group();
            if w.eat("stored") {
                stored = true;
            } else {
                w.eat("virtual");
                virtual_ = true;
            }
        } else {
            w.i += 1;
        }
    }
    (stored, virtual_)
}

fn vacuum(w: &mut W) -> Vec<Op> {
    let mut full = false;
    if w.at(&Tok::Open) {
        // vacuum (full, analyze) t; vacuum (full false) t
        for option in w.group_items() {
            if option.first() == Some(&Tok::Word("full".into())) {
                full = !matches!(option.get(1), Some(Tok::Word(v)) if ["false", "off", "0"].contains(&v.as_str()));
            }
        }
    }
    loop {
        match w.peek() {
            Some("full") => {
                full = true;
                w.i += 1;
            }
            Some(word) if ["freeze", "verbose", "analyze", "analyse"].contains(&word) => w.i += 1,
            _ => break,
        }
    }
    vec![Op::new(OpKind::Vacuum { full }, w.name())]
}

fn reindex(w: &mut W) -> Vec<Op> {
    let mut concurrently = false;
    if w.at(&Tok::Open) {
        for option in w.group_items() {
            if option.first() == Some(&Tok::Word("concurrently".into())) {
                concurrently = !matches!(option.get(1), Some(Tok::Word(v)) if ["false", "off", "0"].contains(&v.as_str()));
            }
        }
    }
    w.skip_words(&["index", "table", "schema", "database", "system"]);
    concurrently |= w.eat("concurrently");
    vec![Op::new(OpKind::Reindex { concurrently }, w.name())]
}

fn alter_index(w: &mut W) -> Result<Vec<Op>, String> {
    w.eat_all(&["if", "exists"]);
    let index = w.name();
    let kind = if w.eat_all(&["rename", "to"]) {
        OpKind::RenameIndex
    } else if w.eat_all(&["set", "tablespace"]) {
        OpKind::Rewrite("alter index .. set tablespace")
    } else if w.eat("set") || w.eat("reset") {
        OpKind::Maintenance
    } else if w.eat("alter") {
        w.eat("column");
        w.name();
        if w.eat_all(&["set", "statistics"]) {
            OpKind::Maintenance
        } else {
            return Err("expected `set statistics` after `alter index .. alter column ..`".into());
        }
    } else if w.eat_all(&["attach", "partition"]) {
        OpKind::Maintenance
    } else {
        OpKind::Other(LockLevel::AccessExclusive)
    };
    Ok(vec![Op::new(kind, index)])
}

fn alter_table(w: &mut W) -> Result<Vec<Op>, String> {
    w.eat_all(&["if", "exists"]);
    w.eat("only");
    let table = w.name();
    if table.is_none() {
        return Err("expected a table name after `alter table`".into());
    }
    let mut ops = Vec::new();
    let actions = w.rest_items();
    if actions.iter().all(|a| a.is_empty()) {
        return Err("expected an action after `alter table <name>`".into());
    }
    for action in actions {
        let kind = action_kind(&action)?;
        ops.push(Op::new(kind, table.clone()));
    }
    Ok(ops)
}

/// One `alter table` action.
fn action_kind(a: &[Tok]) -> Result<OpKind, String> {
    let mut w = W { t: a, i: 0 };
    let Some(first) = w.word() else {
        return Err("expected an `alter table` action".into());
    };
    let ae = OpKind::Other(LockLevel::AccessExclusive);
    Ok(match first.as_str() {
        "add" => {
            if w.eat("constraint") {
                w.name();
                return constraint(&mut w);
            }
            match w.peek() {
                Some("check" | "foreign" | "unique" | "primary" | "exclude") => {
                    return constraint(&mut w)
                }
                Some("not") if w.peek_at(1) == Some("null") => return constraint(&mut w),
                _ => {}
            }
            w.eat("column");
            w.eat_all(&["if", "not", "exists"]);
            OpKind::AddColumn(column(&mut w)?)
        }
        "drop" => {
            if w.eat("constraint") {
                ae
            } else {
                w.eat("column");
                OpKind::DropColumn
            }
        }
        "alter" => {
            if w.eat("constraint") {
                return Ok(ae);
            }
            w.eat("column");
            if w.name().is_none() {
                return Err("expected a column name after `alter column`".into());
            }
            alter_column(&mut w)?
        }
        "rename" => {
            if w.eat("to") {
                OpKind::RenameTable
            } else if w.eat("constraint") {
                ae
            } else {
                OpKind::RenameColumn
            }
        }
        "set" => match w.word().as_deref() {
            Some("tablespace") => OpKind::Rewrite("set tablespace"),
            Some("logged") => OpKind::Rewrite("set logged"),
            Some("unlogged") => OpKind::Rewrite("set unlogged"),
            Some("schema") => OpKind::RenameTable,
            Some("access") => OpKind::SetAccessMethod,
            Some("without") if w.eat("cluster") => OpKind::Maintenance,
            Some("without") => ae,
            // set (fillfactor = 70)
            None if w.at(&Tok::Open) => OpKind::Maintenance,
            other => {
                return Err(format!(
                    "unknown `alter table .. set {}`",
                    other.unwrap_or("(..")
                ))
            }
        },
        "reset" => OpKind::Maintenance,
        "attach" => OpKind::AttachPartition,
        "detach" => {
            w.eat("partition");
            w.name();
            OpKind::DetachPartition {
                concurrently: w.eat("concurrently"),
                finalize: w.eat("finalize"),
            }
        }
        "validate" => OpKind::Maintenance,
        "cluster" => OpKind::Maintenance,
        "enable" | "disable" if w.eat("trigger") => OpKind::TriggerSwitch,
        "enable" | "disable" | "force" | "no" | "replica" | "owner" | "inherit" | "of" | "not" => {
            ae
        }
        other => return Err(format!("unknown `alter table` action `{other}`")),
    })
}

fn alter_column(w: &mut W) -> Result<OpKind, String> {
    let ae = OpKind::Other(LockLevel::AccessExclusive);
    Ok(if w.eat("type") || w.eat_all(&["set", "data", "type"]) {
        OpKind::AlterColumnType
    } else if w.eat_all(&["set", "not", "null"]) {
        OpKind::SetNotNull
    } else if w.eat_all(&["set", "statistics"]) || w.eat("reset") {
        OpKind::Maintenance
    } else if w.peek() == Some("set") && w.t.get(w.i + 1) == Some(&Tok::Open) {
        // set (n_distinct = 100)
        OpKind::Maintenance
    } else if w.eat("set") || w.eat("drop") || w.eat("add") {
        // set default|storage|compression|generated|expression, drop default|not null|identity|expression,
        // add generated .. as identity: catalog changes under ACCESS EXCLUSIVE.
        if w.peek() == Some("expression") && w.peek_at(1) == Some("as") {
            // `set expression as (..)` (PostgreSQL 17) recomputes every row.
            OpKind::Rewrite("alter column .. set expression")
        } else {
            ae
        }
    } else {
        return Err("unknown `alter column` action".into());
    })
}

/// `[constraint name]` already read; the constraint's body.
fn constraint(w: &mut W) -> Result<OpKind, String> {
    let kind = match w.word().as_deref() {
        Some("check") => ConstraintKind::Check,
        Some("foreign") => ConstraintKind::ForeignKey,
        Some("unique") | Some("primary") => {
            w.eat("key");
            w.eat_all(&["nulls", "not", "distinct"]);
            if w.eat_all(&["using", "index"]) {
                ConstraintKind::UniqueUsingIndex
            } else {
                ConstraintKind::Unique
            }
        }
        Some("exclude") => ConstraintKind::Exclusion,
        Some("not") if w.eat("null") => ConstraintKind::NotNull,
        other => {
            return Err(format!(
            "expected `check`, `foreign key`, `unique`, `primary key`, `exclude` or `not null` in \
                 `add constraint`, found `{}`",
            other.unwrap_or("..")
        ))
        }
    };
    let not_valid =
        w.t.ends_with(&[Tok::Word("not".into()), Tok::Word("valid".into())]);
    Ok(OpKind::AddConstraint { kind, not_valid })
}

/// Words that end a column's type or default expression.
const COLUMN_KEYWORDS: &[&str] = &[
    "not",
    "null",
    "default",
    "constraint",
    "check",
    "unique",
    "primary",
    "references",
    "generated",
    "collate",
];

/// `name type [constraints]` of `add column`.
fn column(w: &mut W) -> Result<NewColumn, String> {
    let Some(name) = w.word() else {
        return Err("expected a column name after `add column`".into());
    };
    let mut c = NewColumn {
        name,
        ..NewColumn::default()
    };
    let ty = w.word().unwrap_or_default();
    c.serial = [
        "serial",
        "bigserial",
        "smallserial",
        "serial2",
        "serial4",
        "serial8",
    ]
    .contains(&ty.as_str());
    while w.i < w.t.len() {
        match w.word().as_deref() {
            Some("default") => {
                c.has_default = true;
                let start = w.i;
                while w.i < w.t.len()
                    && !matches!(w.peek(), Some(k) if COLUMN_KEYWORDS.contains(&k))
                {
                    if w.at(&Tok::Open) {
                        w.skip_group();
                    } else {
                        w.i += 1;
                    }
                }
                c.volatile_default = first_volatile(&w.t[start..w.i]);
            }
            Some("not") if w.eat("null") => c.not_null = true,
            Some("unique") => c.unique = true,
            Some("primary") if w.eat("key") => c.unique = true,
            Some("generated") => {
                w.skip_words(&["always", "by", "default"]);
                w.eat("as");
                if w.eat("identity") {
                    c.serial = true;
                } else if w.at(&Tok::Open) {
                    w.skip_group();
                    c.generated = Some(if w.eat("stored") {
                        Generated::Stored
                    } else {
                        w.eat("virtual");
                        Generated::Virtual
                    });
                }
            }
            _ => {
                if w.at(&Tok::Open) {
                    w.skip_group();
                } else {
                    w.i += 1;
                }
            }
        }
    }
    Ok(c)
}

/// The first call in `toks` to a function that is volatile or not known to the macro.
fn first_volatile(toks: &[Tok]) -> Option<String> {
    /// Keywords that take parentheses like calls but are not functions.
    const NOT_CALLS: &[&str] = &[
        "cast",
        "array",
        "row",
        "extract",
        "coalesce",
        "nullif",
        "greatest",
        "least",
        "interval",
        "timestamp",
        "timestamptz",
        "varchar",
        "numeric",
        "decimal",
        "char",
        "character",
        "time",
        "bit",
        "any",
        "all",
        "case",
    ];
    for (i, t) in toks.iter().enumerate() {
        let (Tok::Word(name), Some(Tok::Open)) = (t, toks.get(i + 1)) else {
            continue;
        };
        let schema = match (i >= 2).then(|| (&toks[i - 2], &toks[i - 1])) {
            Some((Tok::Word(s), Tok::Dot)) => Some(s.clone()),
            _ => None,
        };
        if schema.is_none() && NOT_CALLS.contains(&name.as_str()) {
            continue;
        }
        let span = proc_macro2::Span::call_site();
        let func = QName {
            schema: schema.clone().map(|value| Name { value, span }),
            name: Name {
                value: name.clone(),
                span,
            },
        };
        if function_volatility(&func) != Volatility::NonVolatile {
            return Some(match schema {
                Some(s) => format!("{s}.{name}"),
                None => name.clone(),
            });
        }
    }
    None
}

/// A cursor over tokens.
struct W<'a> {
    t: &'a [Tok],
    i: usize,
}

impl W<'_> {
    fn peek(&self) -> Option<&str> {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Option<&str> {
        match self.t.get(self.i + n) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn at(&self, tok: &Tok) -> bool {
        self.t.get(self.i) == Some(tok)
    }

    fn word(&mut self) -> Option<String> {
        let w = self.peek()?.to_owned();
        self.i += 1;
        Some(w)
    }

    fn eat(&mut self, word: impl Into<Tok>) -> bool {
        let tok = word.into();
        if self.at(&tok) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Eats `words` in order, or nothing.
    fn eat_all(&mut self, words: &[&str]) -> bool {
        let matches = words
            .iter()
            .enumerate()
            .all(|(n, w)| self.peek_at(n) == Some(*w));
        if matches {
            self.i += words.len();
        }
        matches
    }

    fn skip_words(&mut self, words: &[&str]) {
        while matches!(self.peek(), Some(w) if words.contains(&w)) {
            self.i += 1;
        }
    }

    /// Skips a parenthesised group, if one starts here.
    fn skip_group(&mut self) {
        if !self.at(&Tok::Open) {
            return;
        }
        let mut depth = 0usize;
        while let Some(t) = self.t.get(self.i) {
            self.i += 1;
            match t {
                Tok::Open => depth += 1,
                Tok::Close => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// A possibly qualified name (`app.users`), as written.
    fn name(&mut self) -> Option<String> {
        let mut name = self.word()?;
        while self.at(&Tok::Dot) {
            self.i += 1;
            match self.word() {
                Some(part) => {
                    name.push('.');
                    name.push_str(&part);
                }
                None => break,
            }
        }
        Some(name)
    }

    /// The comma-separated items of the group starting here, consumed.
    fn group_items(&mut self) -> Vec<Vec<Tok>> {
        let start = self.i;
        self.skip_group();
        let inner = &self.t[start + 1..self.i.saturating_sub(1).max(start + 1)];
        split_commas(inner)
    }

    /// The comma-separated items of the rest of the statement.
    fn rest_items(&mut self) -> Vec<Vec<Tok>> {
        let rest = &self.t[self.i..];
        self.i = self.t.len();
        split_commas(rest)
    }
}

impl From<&str> for Tok {
    fn from(word: &str) -> Tok {
        Tok::Word(word.to_owned())
    }
}

/// Splits at commas outside parentheses.
fn split_commas(toks: &[Tok]) -> Vec<Vec<Tok>> {
    let mut items = vec![Vec::new()];
    let mut depth = 0usize;
    for t in toks {
        match t {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.saturating_sub(1),
            Tok::Comma if depth == 0 => {
                items.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = items.last_mut() {
            last.push(t.clone());
        }
    }
    items
}
