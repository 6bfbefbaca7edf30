//! The safety rules that need the whole migration (which tables are new, the target version, the
//! enclosing overrides). Each violation is reported with its [`Rule`](crate::rules::Rule).
//!
//! The body is walked in order, keeping what earlier statements established:
//! - **new tables**: created by `create table` (without `if not exists`, which may find an existing
//!   table) earlier in this migration. Nothing reads or writes them yet, so statements on them need no
//!   online recipe and break no locking rule; only naming rules (`unnamed_index`,
//!   `unnamed_constraint`) and `new_enum_value_used` still apply;
//! - **new indexes**: created on new tables, so dropping or reindexing them needs no `concurrently`;
//! - **new enum values**: added by `alter type .. add value`, unusable until that transaction commits;
//! - the **target** PostgreSQL version (`settings.target`);
//! - the enclosing **`unsafe` block**: the rules it allows are silent inside it, and each must be
//!   broken at least once so overrides stay honest.
//!
//! Families of rules live in submodules: `index` (index builds, drops, reindex), `blocking`
//! (maintenance commands that block traffic), `column` (`add column`), `alter` (the other `alter
//! table` actions), `constraint` (`add constraint`), `breaking` (renames and drops), `expand`
//! (expand/contract operations), `partition` (attach and detach), `enums`, `raw`, `backfill`,
//! `overrides`, and `versions` (syntax the target version lacks).

mod alter;
mod backfill;
mod blocking;
mod breaking;
mod column;
mod constraint;
mod enums;
mod expand;
mod index;
mod overrides;
mod partition;
mod raw;
mod versions;

#[cfg(test)]
pub(crate) mod build;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt::Display;

use zerodown_runtime::plan::{PgVersion, Settings};

use crate::ast::{Item, MigrationInput, Name, QName, Range, Stmt, StmtKind};
use crate::ctxt::Ctxt;
use crate::rules::Rule;

/// Checks every statement of `input` against the safety rules, in order, recording each violation the
/// enclosing `unsafe` block does not allow in `cx`.
pub fn check(cx: &Ctxt, input: &MigrationInput, settings: &Settings) {
    let mut ck = Checker::new(cx, settings);
    expand::one_kind(&ck, input);
    for item in &input.body {
        match item {
            Item::Stmt(stmt) => ck.stmt(stmt),
            Item::Unsafe(block) => {
                let allowed = overrides::header(cx, block);
                ck.scope = Some(Scope {
                    allowed,
                    used: Vec::new(),
                });
                for stmt in &block.body {
                    ck.stmt(stmt);
                }
                if let Some(scope) = ck.scope.take() {
                    overrides::report_unused(cx, &scope);
                }
            }
        }
    }
}

/// A table or index identity: `(schema, name)`, with an unqualified name taken as `public`.
///
/// A table created as `app.users` and later written as `users` counts as a different table, so the
/// rules apply to it: the conservative reading when `search_path` is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    schema: String,
    name: String,
}

impl Key {
    fn table(q: &QName) -> Key {
        Key::in_schema(q.schema.as_ref(), &q.name)
    }

    /// An index lives in its table's schema.
    fn index(table: &QName, index: &Name) -> Key {
        Key::in_schema(table.schema.as_ref(), index)
    }

    fn in_schema(schema: Option<&Name>, name: &Name) -> Key {
        let schema = schema.map_or("public", |s| s.value.as_str()).to_owned();
        Key {
            schema,
            name: name.value.clone(),
        }
    }
}

/// The rules an `unsafe` block allows, and which of them its statements actually broke.
#[derive(Debug)]
struct Scope {
    /// Each allowed rule with its name as written in `allow`, for the "nothing breaks it" error.
    allowed: Vec<(Rule, Name)>,
    used: Vec<Rule>,
}

/// An enum value added earlier in this migration.
#[derive(Debug)]
struct NewEnumValue {
    value: String,
    /// The enum type, as written (`mood`, `app.mood`).
    ty: String,
}

/// The walk's state: what earlier statements established, and where errors go.
struct Checker<'a> {
    cx: &'a Ctxt,
    target: PgVersion,
    new_tables: HashSet<Key>,
    new_indexes: HashSet<Key>,
    /// The keys of new tables, for `backfill_without_key`.
    new_table_keys: HashMap<Key, backfill::NewTableKeys>,
    enum_values: Vec<NewEnumValue>,
    scope: Option<Scope>,
    /// Objects under expand/contract (`public.users.email`), with the statement that put them there.
    under_change: Vec<(String, String)>,
}

impl<'a> Checker<'a> {
    fn new(cx: &'a Ctxt, settings: &Settings) -> Self {
        Checker {
            cx,
            target: settings.target,
            new_tables: HashSet::new(),
            new_indexes: HashSet::new(),
            new_table_keys: HashMap::new(),
            enum_values: Vec::new(),
            scope: None,
            under_change: Vec::new(),
        }
    }

    /// Reports a broken rule, unless the enclosing `unsafe` block allows it.
    fn report(&mut self, rule: Rule, range: Range, text: impl Display) {
        if rule.overridable() {
            if let Some(scope) = &mut self.scope {
                if scope.allowed.iter().any(|(r, _)| *r == rule) {
                    if !scope.used.contains(&rule) {
                        scope.used.push(rule);
                    }
                    return;
                }
            }
        }
        self.cx.error(range, rule.message(text));
    }

    /// Reports an error that is not a safety rule (the statement cannot work at all), so no override
    /// applies.
    fn error(&self, range: Range, text: impl Display) {
        self.cx.error(range, text);
    }

    fn is_new_table(&self, table: &QName) -> bool {
        self.new_tables.contains(&Key::table(table))
    }

    /// Marks an acknowledgement rule (one no statement breaks, see [`Rule::FiresUserTriggers`]) as
    /// used by the enclosing `unsafe` block, if it allows it.
    fn acknowledge(&mut self, rule: Rule) {
        if let Some(scope) = &mut self.scope {
            if scope.allowed.iter().any(|(r, _)| *r == rule) && !scope.used.contains(&rule) {
                scope.used.push(rule);
            }
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        if stmt.writes_rows_in_batches() {
            self.acknowledge(Rule::FiresUserTriggers);
        }
        // Uses come first: a statement cannot use a value it adds itself.
        enums::check_uses(self, stmt);
        versions::stmt(self, stmt);
        match &stmt.kind {
            StmtKind::CreateTable(t) => {
                partition::create_table(self, t);
                // `if not exists` may meet a table that is already live: not new.
                if !t.if_not_exists {
                    self.new_tables.insert(Key::table(&t.name));
                }
            }
            StmtKind::DropTable { tables, .. } => breaking::drop_table(self, stmt, tables),
            StmtKind::CreateIndex(ix) => index::create(self, stmt, ix),
            StmtKind::DropIndex {
                concurrently,
                index,
                cascade,
                ..
            } => index::drop(self, stmt, *concurrently, index, *cascade),
            StmtKind::Reindex {
                concurrently,
                target,
                name,
            } => index::reindex(self, stmt, *concurrently, *target, name),
            StmtKind::AlterTable { table, actions } => {
                for action in actions {
                    alter::action(self, table, action);
                }
            }
            StmtKind::AlterEnumAddValue { name, value, .. } => enums::add_value(self, name, value),
            StmtKind::Raw(raw) => raw::check(self, raw),
            StmtKind::VacuumFull { table } => blocking::vacuum_full(self, stmt, table.as_ref()),
            StmtKind::Cluster { table, .. } => blocking::cluster(self, stmt, table),
            StmtKind::LockTable { table, mode } => {
                blocking::lock_table(self, stmt, table, mode.as_deref())
            }
            StmtKind::Truncate { tables, .. } => blocking::truncate(self, stmt, tables),
            StmtKind::DropSchema { name, cascade, .. } => {
                blocking::drop_schema(self, stmt, name, *cascade)
            }
            StmtKind::DropDatabase { name, .. } => blocking::drop_database(self, stmt, name),
            StmtKind::Expand(e) => expand::check(self, stmt, e),
            StmtKind::Backfill(b) => backfill::check(self, b),
            StmtKind::CreateStatistics { kinds, columns, .. } => {
                index::create_statistics(self, kinds, columns)
            }
            StmtKind::RefreshMaterializedView { concurrently, view } => {
                blocking::refresh(self, stmt, *concurrently, view)
            }
            StmtKind::AttachPartition(a) => partition::attach(self, a),
            StmtKind::DetachPartition {
                parent,
                concurrently,
                parent_has_default,
                ..
            } => partition::detach(self, parent, *concurrently, *parent_has_default),
            // Catalog-only changes, or online by nature: nothing to check. (`alter index .. rename`
            // takes ACCESS EXCLUSIVE on the index before PostgreSQL 12, for a moment, under
            // `lock_timeout`; `analyze` SHARE UPDATE EXCLUSIVE.)
            StmtKind::CreateEnum { .. }
            | StmtKind::CommentOn { .. }
            | StmtKind::RenameIndex { .. }
            | StmtKind::Analyze { .. } => {}
        }
        backfill::track(self, stmt);
    }
}

/// A name as the user wrote it, for messages: `users` or `app.users`.
fn show(q: &QName) -> String {
    match &q.schema {
        Some(s) => format!("{}.{}", s.value, q.name.value),
        None => q.name.value.clone(),
    }
}

/// The column list of a suggested name: `email`, `org_id_email`.
fn join_names(names: &[Name]) -> String {
    names
        .iter()
        .map(|n| n.value.as_str())
        .collect::<Vec<_>>()
        .join("_")
}

/// How messages show the fix of the rules that only an override can get past.
fn override_hint(rule: Rule) -> String {
    format!(
        "`unsafe(reason = \"..\", allow = [{}]) {{ .. }}`",
        rule.name()
    )
}

/// `set target_postgres = N;`, how messages name the setting.
fn target_setting(version: u32) -> String {
    format!("`set target_postgres = {version};`")
}
