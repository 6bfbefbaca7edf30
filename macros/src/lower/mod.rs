//! Accepted AST -> the runtime's plan model, with the online recipes.
//!
//! Lowering runs in two passes. First every statement becomes one or more [`Lowered`] SQL statements,
//! each with what it costs the database: its lock, the existing tables it locks, whether it is slow or
//! rewrites a table, whether PostgreSQL lets it run in a transaction. Recipes (`set not null` through a
//! `CHECK`, `add unique` through a concurrently built index) expand here. Then [`group`] packs the
//! statements into steps, the unit the runtime executes, retries and resumes.
//!
//! Statements inside `unsafe` blocks lower like any other: the override only silenced `check`. Forms
//! that are rejected by default still get correct SQL and an honest lock level and `rewrites` flag.
//!
//! The plan types hold `&'static` data, so the strings and slices built here are leaked with
//! `Box::leak`: a proc macro runs in a short-lived compiler process, and what leaks is bounded by the
//! size of the macro's input.

mod alter;
mod backfill;
mod carry;
mod context;
#[cfg(test)]
mod dsl_tests;
mod group;
mod guard;
mod index;
mod inverse;
mod maintenance;
mod naming;
mod other;
mod partition;
mod phased;
#[cfg(test)]
mod phased_tests;
mod stmt;
mod table;
#[cfg(test)]
pub(crate) mod test_ast;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod undo_tests;

use zerodown_runtime::plan::{Checksum, Migration, Phase, Settings, Undo};

use crate::ast::{Expand, Item, MigrationInput, Stmt, StmtKind};
use crate::rules::Rule;

use self::context::Context;
use self::naming::PlanGeneration;
use self::stmt::{Inverse, Lowered};

/// Lowers an input that passed `check`. Infallible by construction.
///
/// A migration of `expand` operations (`check` makes sure it holds nothing else) gets expand, contract
/// and rollback phases from [`phased`]; any other migration only an expand phase.
pub fn lower(input: &MigrationInput, settings: Settings) -> Migration {
    let mut migration = lower_with(input, settings, PlanGeneration::Current);
    // The same plan under the helper names of earlier versions: a migration they applied is not drift.
    if !migration.chosen_names.is_empty() {
        let legacy = lower_with(input, settings, PlanGeneration::Legacy);
        if legacy.checksum != migration.checksum {
            migration.legacy_checksums = leak_slice(vec![legacy.checksum]);
        }
    }
    migration
}

fn lower_with(input: &MigrationInput, settings: Settings, names: PlanGeneration) -> Migration {
    // Each statement, with whether its block acknowledges that its batches fire user triggers.
    let stmts: Vec<(&Stmt, bool)> = input
        .body
        .iter()
        .flat_map(|item| match item {
            Item::Stmt(stmt) => vec![(stmt, false)],
            Item::Unsafe(block) => {
                let fires = block
                    .allow
                    .iter()
                    .any(|r| r.value == Rule::FiresUserTriggers.name());
                block.body.iter().map(|stmt| (stmt, fires)).collect()
            }
        })
        .collect();
    let mut touches = Vec::new();
    for (stmt, _) in &stmts {
        crate::touches::extend_unique(&mut touches, crate::touches::of_stmt(stmt));
    }
    let ops: Vec<(&Expand, bool)> = stmts
        .iter()
        .filter_map(|(s, fires)| match &s.kind {
            StmtKind::Expand(e) => Some((e, *fires)),
            _ => None,
        })
        .collect();
    let mut undo = Undo::NONE;
    let mut chosen_names = Vec::new();
    let phases = if ops.is_empty() {
        let mut cx = Context::new(settings);
        cx.generation = names;
        let lowered = stmts
            .iter()
            .flat_map(|(stmt, fires)| {
                cx.fire_user_triggers = *fires;
                statement(&mut cx, stmt)
            })
            .collect();
        let grouped = group::steps(lowered, &settings);
        undo = grouped.undo;
        chosen_names = grouped.chosen_names;
        // `backfill .. keep`: its trigger is dropped by `complete`, newest first.
        let contract = stmts
            .iter()
            .rev()
            .filter_map(|(stmt, _)| match &stmt.kind {
                StmtKind::Backfill(b) if b.keep.is_some() => {
                    Some(backfill::keep_contract(&settings, b))
                }
                _ => None,
            })
            .collect();
        phased::Phases {
            expand: grouped.steps,
            contract,
            ..Default::default()
        }
    } else {
        phased::lower(&ops, &settings)
    };
    let mut migration = Migration {
        version: input.version,
        name: leak_str(input.name.clone()),
        description: leak_str(input.doc.clone()),
        settings,
        expand: Phase {
            steps: leak_slice(phases.expand),
        },
        contract: Phase {
            steps: leak_slice(phases.contract),
        },
        rollback: Phase {
            steps: leak_slice(phases.rollback),
        },
        undo,
        touches: leak_slice(touches.into_iter().map(leak_str).collect()),
        chosen_names: leak_slice(chosen_names),
        expected_tables: &[],
        checksum: Checksum([0; 32]),
        legacy_checksums: &[],
    };
    migration.checksum = migration.compute_checksum();
    migration
}

/// One DSL statement as SQL statements, in execution order.
fn statement(cx: &mut Context, stmt: &Stmt) -> Vec<Lowered> {
    match &stmt.kind {
        StmtKind::CreateTable(ct) => vec![table::create_table(cx, ct)],
        StmtKind::DropTable {
            if_exists,
            tables,
            cascade,
        } => {
            vec![table::drop_table(cx, *if_exists, tables, *cascade)]
        }
        StmtKind::CreateIndex(ci) => vec![index::create_index(cx, ci)],
        StmtKind::DropIndex {
            concurrently,
            if_exists,
            index,
            cascade,
        } => {
            vec![index::drop_index(
                cx,
                concurrently.is_some(),
                *if_exists,
                index,
                *cascade,
            )]
        }
        StmtKind::AlterTable { table, actions } => alter::alter_table(cx, table, actions),
        StmtKind::CreateEnum { name, values } => vec![other::create_enum(name, values)],
        StmtKind::AlterEnumAddValue {
            name,
            if_not_exists,
            value,
            position,
        } => {
            vec![other::add_enum_value(
                name,
                *if_not_exists,
                value,
                position.as_ref(),
            )]
        }
        StmtKind::CommentOn { target, text } => vec![other::comment(cx, target, text.as_ref())],
        StmtKind::Raw(raw) => vec![other::raw(raw)],
        // Maintenance changes how data is stored, not what it is: nothing to undo.
        StmtKind::Reindex {
            concurrently,
            target,
            name,
        } => {
            vec![
                maintenance::reindex(cx, concurrently.is_some(), *target, name)
                    .inverse(Inverse::Nothing),
            ]
        }
        StmtKind::VacuumFull { table } => {
            vec![maintenance::vacuum_full(cx, table.as_ref()).inverse(Inverse::Nothing)]
        }
        StmtKind::Cluster { table, index } => {
            vec![maintenance::cluster(cx, table, index.as_ref()).inverse(Inverse::Nothing)]
        }
        StmtKind::RenameIndex { index, to } => vec![maintenance::rename_index(cx, index, to)],
        StmtKind::CreateStatistics {
            name,
            kinds,
            columns,
            table,
        } => vec![maintenance::create_statistics(
            cx, name, kinds, columns, table,
        )],
        StmtKind::Analyze { table, columns } => {
            vec![maintenance::analyze(cx, table, columns).inverse(Inverse::Nothing)]
        }
        StmtKind::RefreshMaterializedView { concurrently, view } => {
            vec![maintenance::refresh(view, concurrently.is_some()).inverse(Inverse::Nothing)]
        }
        StmtKind::LockTable { table, mode } => {
            vec![maintenance::lock_table(cx, table, mode.as_deref()).inverse(Inverse::Nothing)]
        }
        StmtKind::Truncate { tables, cascade } => vec![maintenance::truncate(cx, tables, *cascade)],
        StmtKind::DropSchema {
            if_exists,
            name,
            cascade,
        } => {
            vec![maintenance::drop_schema(*if_exists, name, *cascade)]
        }
        StmtKind::DropDatabase { if_exists, name } => {
            vec![maintenance::drop_database(*if_exists, name)]
        }
        StmtKind::Backfill(b) => backfill::backfill_all(cx, b),
        StmtKind::AttachPartition(a) => partition::attach(cx, a),
        StmtKind::DetachPartition {
            parent,
            partition,
            concurrently,
            ..
        } => vec![partition::detach(
            cx,
            parent,
            partition,
            concurrently.is_some(),
        )],
        // Lowered by `phased`; `check` keeps them out of migrations with other statements.
        StmtKind::Expand(_) => Vec::new(),
    }
}

/// `name` fitted to PostgreSQL's 63-byte identifiers the way the macro's own names are (see
/// `naming::fit`), for the names the schema catalog predicts.
pub(crate) fn fit_name(name: String) -> String {
    naming::fit(name)
}

/// A `'static` copy of `s` (see the module docs for why leaking is fine here).
pub(crate) fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A `'static` copy of `items`.
pub(crate) fn leak_slice<T>(items: Vec<T>) -> &'static [T] {
    Box::leak(items.into_boxed_slice())
}
