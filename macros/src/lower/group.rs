//! How SQL statements are grouped into steps.
//!
//! A step is what the runtime runs, retries and records as done: either one transaction or one
//! statement run alone outside any transaction. The lowered statements are walked in order; a
//! statement joins the step before it when
//!
//! 1. both run in a transaction (statements PostgreSQL refuses in a transaction block, such as
//!    `create index concurrently`, `drop index concurrently`, `alter type ... add value`, always form
//!    a step of their own),
//! 2. neither is slow (`validate constraint`, a backfill, a statement that rewrites or scans a table,
//!    a plain index build), and
//! 3. together they lock at most one table that existed before the migration.
//!
//! Otherwise it starts a new step. Statements that only touch objects created in this migration lock
//! no existing table, so a `create table`, its indexes and its comments run as one transaction.
//!
//! Consequence: a transaction that holds a lock blocking reads or writes runs nothing slow after
//! taking it, and never holds such locks on two existing tables at once. The only exception is a
//! single statement that PostgreSQL itself runs against two tables (a foreign key, or a `create table`
//! referencing existing tables), and such a statement is alone in its step.
//!
//! A step's lock is the strongest of its statements' locks, its tables the union of theirs. Slow steps
//! whose lock blocks neither reads nor writes (`SHARE UPDATE EXCLUSIVE` or weaker: concurrent index
//! builds, `drop index concurrently`, `reindex concurrently`, `validate constraint`) run with the
//! online timeouts (`online_lock_timeout`, `long_statement_timeout`); every other step with
//! `lock_timeout` and `statement_timeout`.

use zerodown_runtime::plan::{
    ChosenName, Irreversible, Live, LockLevel, Postcondition, Settings, Step, StepKind,
    Transaction, Undo,
};

use super::stmt::{Inverse, Lowered, TableRef};
use super::{leak_slice, leak_str};

/// Statements packed into steps, with what the steps derive.
pub(super) struct Grouped {
    pub steps: Vec<Step>,
    pub undo: Undo,
    /// The constraints the steps create under names the macro chose.
    pub chosen_names: Vec<ChosenName>,
}

/// Packs `statements` into steps by the rule in the module docs, and derives the steps' undo.
pub(super) fn steps(statements: Vec<Lowered>, settings: &Settings) -> Grouped {
    let mut groups: Vec<Vec<Lowered>> = Vec::new();
    for stmt in statements {
        match groups.last_mut() {
            Some(group) if joins(group, &stmt) => group.push(stmt),
            _ => groups.push(vec![stmt]),
        }
    }
    let undo = undo(&groups, settings);
    let chosen_names = groups
        .iter()
        .enumerate()
        .flat_map(|(step, g)| {
            g.iter().filter_map(move |s| {
                let (table, name) = s.claims.as_ref()?;
                Some(ChosenName {
                    step,
                    table: leak_str(table.clone()),
                    name: leak_str(name.clone()),
                })
            })
        })
        .collect();
    Grouped {
        steps: groups.into_iter().map(|g| step(g, settings)).collect(),
        undo,
        chosen_names,
    }
}

/// The undo of the grouped steps: per step, the inverses of its statements in reverse order as one
/// step (the statements of a step share its transaction mode and table, so their inverses do too);
/// a step with a statement that has no inverse is irreversible. The inverses run newest step first.
fn undo(groups: &[Vec<Lowered>], settings: &Settings) -> Undo {
    let mut steps = Vec::new();
    let mut of = Vec::new();
    let mut irreversible = Vec::new();
    for (index, group) in groups.iter().enumerate().rev() {
        let mut inverses = Vec::new();
        let mut why = Vec::new();
        for stmt in group.iter().rev() {
            match &stmt.inverse {
                Inverse::Nothing => {}
                Inverse::Sql(undo) => inverses.extend(undo.iter().cloned()),
                Inverse::Irreversible(reason) if reason.is_empty() => {
                    why.push(format!("`{}` has no known inverse", stmt.description))
                }
                Inverse::Irreversible(reason) => why.push(reason.clone()),
            }
        }
        if !why.is_empty() {
            why.reverse();
            irreversible.push(Irreversible {
                step: index,
                why: leak_str(why.join("; ")),
            });
        } else if !inverses.is_empty() {
            steps.push(step(inverses, settings));
            of.push(index);
        }
    }
    irreversible.reverse();
    // Where each statement ended up, for the lifetime of what it leaves in effect.
    let at: Vec<(usize, &Lowered)> = groups
        .iter()
        .enumerate()
        .flat_map(|(i, g)| g.iter().map(move |s| (i, s)))
        .collect();
    let live = at
        .iter()
        .enumerate()
        .filter_map(|(n, (step, stmt))| {
            let (key, what) = stmt.live.as_ref()?;
            let until = at[n + 1..]
                .iter()
                .find(|(_, later)| later.removes.contains(key))
                .map(|(i, _)| *i);
            Some(Live {
                step: *step,
                until,
                what: leak_str(what.clone()),
            })
        })
        .collect();
    Undo {
        steps: leak_slice(steps),
        of: leak_slice(of),
        irreversible: leak_slice(irreversible),
        live: leak_slice(live),
        derived: true,
    }
}

fn joins(group: &[Lowered], stmt: &Lowered) -> bool {
    let transactional = !stmt.alone && group.iter().all(|s| !s.alone);
    let fast = !stmt.slow && group.iter().all(|s| !s.slow);
    let tables = group.iter().flat_map(|s| &s.tables).chain(&stmt.tables);
    transactional && fast && distinct(tables) <= 1
}

/// How many different tables: known ones by name, each unknown one as another table.
fn distinct<'a>(tables: impl Iterator<Item = &'a TableRef>) -> usize {
    let mut known: Vec<&str> = Vec::new();
    let mut unknown = 0;
    for t in tables {
        match t {
            TableRef::Known(name) if !known.contains(&name.as_str()) => known.push(name),
            TableRef::Known(_) => {}
            TableRef::Unknown => unknown += 1,
        }
    }
    known.len() + unknown
}

fn step(group: Vec<Lowered>, settings: &Settings) -> Step {
    let lock = group
        .iter()
        .map(|s| s.lock)
        .max()
        .unwrap_or(LockLevel::None);
    let slow = group.iter().any(|s| s.slow);
    // A backfill is slow but runs as many short transactions, each bounded by the ordinary limits.
    let backfill = group
        .iter()
        .any(|s| matches!(s.kind, StepKind::Backfill(_)));
    let online = slow && lock <= LockLevel::ShareUpdateExclusive && !backfill;
    let mut tables: Vec<&'static str> = Vec::new();
    for t in group.iter().flat_map(|s| &s.tables) {
        if let TableRef::Known(name) = t {
            if !tables.contains(&name.as_str()) {
                tables.push(leak_str(name.clone()));
            }
        }
    }
    let description: Vec<&str> = group.iter().map(|s| s.description.as_str()).collect();
    Step {
        description: leak_str(description.join("; ")),
        // A backfill has no statement: the runtime generates its batches.
        statements: leak_slice(
            group
                .iter()
                .filter(|s| !matches!(s.kind, StepKind::Backfill(_)))
                .map(|s| leak_str(s.sql.clone()))
                .collect(),
        ),
        transaction: if group.iter().any(|s| s.alone) {
            Transaction::Alone
        } else {
            Transaction::Transactional
        },
        lock,
        tables: leak_slice(tables),
        rewrites: group.iter().any(|s| s.rewrites),
        lock_timeout_ms: if online {
            settings.online_lock_timeout_ms
        } else {
            settings.lock_timeout_ms
        },
        statement_timeout_ms: if online {
            settings.long_statement_timeout_ms
        } else {
            settings.statement_timeout_ms
        },
        // Only statements that always end up alone in their step (run alone, or slow) carry a kind or
        // a postcondition; in a joined step every statement has neither.
        kind: group
            .iter()
            .map(|s| s.kind)
            .find(|k| *k != StepKind::Sql)
            .unwrap_or(StepKind::Sql),
        postcondition: group
            .iter()
            .map(|s| s.postcondition)
            .find(|p| *p != Postcondition::None)
            .unwrap_or(Postcondition::None),
    }
}
