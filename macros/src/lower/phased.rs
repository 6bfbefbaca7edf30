//! `expand ..` operations -> steps of the expand, contract and rollback phases.
//!
//! Column type change (`c` from OLD to NEW) and column rename (`a` to `b`), expand:
//! 1. *prepare* (one transaction, brief `ACCESS EXCLUSIVE`): add the new column (the hidden
//!    `_zd_<c>_new` of type NEW, or `b` with `a`'s type, read from the catalog), a trigger function and a
//!    `BEFORE INSERT OR UPDATE` trigger keeping it in sync, then the runtime's catalog checks, which refuse
//!    what cannot be carried over before anything is committed;
//! 2. *backfill* existing rows in batches;
//! 3. *carry indexes*: each index on the old column built on the new one `CONCURRENTLY`;
//! 4. *add constraints*: check constraints, foreign keys and `NOT NULL` (as a check) on the new column,
//!    `NOT VALID` (brief);
//! 5. *validate* them (`SHARE UPDATE EXCLUSIVE`, no reads or writes blocked).
//!
//! Contract: one transaction swapping the columns (see [`Action::Contract`]). Rollback: one transaction
//! dropping the trigger, the function and the new column.
//!
//! Rename table: expand renames the table and creates a view under the old name (one transaction);
//! contract drops the view. Drop column: expand drops `NOT NULL` (so new code that no longer writes the
//! column can insert); contract drops the column. Drop table: expand checks the table exists; contract
//! drops it.

use zerodown_runtime::plan::phased::{fit_identifier, sync_trigger_name};
use zerodown_runtime::plan::{
    Action, Backfill, Change, ColumnChange, ColumnRef, LockLevel, PhasedStep, Postcondition,
    Settings, Step, StepKind, TableRename, Transaction,
};

use crate::ast::{Expand, ExpandOp, Expr, ExprKind, Name, QName};
use crate::render::{expr, quote_ident, render_qname as qname, render_type};

use super::{leak_slice, leak_str};
use crate::volatility;

/// The steps of one migration's `expand` operations, per phase.
#[derive(Default)]
pub(super) struct Phases {
    pub expand: Vec<Step>,
    pub contract: Vec<Step>,
    /// In execution order: the undo of the last operation first.
    pub rollback: Vec<Step>,
}

/// Lowers the operations, in order; each with whether its block acknowledges that its backfill fires
/// user triggers (`fires_user_triggers`).
pub(super) fn lower(ops: &[(&Expand, bool)], settings: &Settings) -> Phases {
    let mut phases = Phases::default();
    let mut rollbacks = Vec::new();
    for (op, fires) in ops {
        let lowered = operation(op, *fires, settings);
        phases.expand.extend(lowered.expand);
        phases.contract.extend(lowered.contract);
        rollbacks.push(lowered.rollback);
    }
    phases.rollback = rollbacks.into_iter().rev().flatten().collect();
    phases
}

fn operation(e: &Expand, fires: bool, s: &Settings) -> Phases {
    let t = qname(&e.table);
    match &e.op {
        ExpandOp::AlterType {
            column,
            ty,
            from,
            using,
        } => {
            let new_column = fit_identifier(format!("_zd_{}_new", column.value));
            let new_type = render_type(ty);
            // The value of the new column for a row: `using`, or the old column, cast to the new type.
            let source = using.clone().unwrap_or_else(|| column_expr(column));
            let value = |e: &Expr| format!("CAST(({}) AS {new_type})", expr(e));
            let mut watched = Vec::new();
            source.walk(&mut |e| {
                if let ExprKind::Column(parts) = &e.kind {
                    if let Some(c) = parts.last() {
                        if !watched.contains(&c.value) {
                            watched.push(c.value.clone());
                        }
                    }
                }
            });
            let body = type_change_body(&new_column, &value(&qualify_new(&source)), &watched);
            // A conversion that calls nothing volatile or unknown can be run again on a row found
            // out of sync before the swap; another could give another value.
            let deterministic = using
                .as_ref()
                .map_or(true, |u| volatility::first_unstable(u).is_none());
            let change = column_change(
                e,
                column,
                &new_column,
                &render_type(from),
                false,
                deterministic,
            );
            let add = format!(
                "ALTER TABLE {t} ADD COLUMN {} {new_type}",
                quote_ident(&new_column)
            );
            column_phases(
                e,
                change,
                vec![add],
                body,
                Fill {
                    set_sql: format!("{} = {}", quote_ident(&new_column), value(&source)),
                    value: value(&source),
                    fire_user_triggers: fires,
                },
                format!("column {} with type {new_type}", quote_ident(&new_column)),
                s,
            )
        }
        ExpandOp::RenameColumn { from, to } => {
            let body = rename_body(&from.value, &to.value);
            let change = column_change(e, from, &to.value, "", true, false);
            let (a, b) = (quote_ident(&from.value), quote_ident(&to.value));
            column_phases(
                e,
                change,
                Vec::new(),
                body,
                Fill {
                    set_sql: format!("{b} = {a}"),
                    value: a.clone(),
                    fire_user_triggers: fires,
                },
                format!("column {b} (the type of {a})"),
                s,
            )
        }
        ExpandOp::RenameTable { to } => {
            let new_table = QName {
                schema: e.table.schema.clone(),
                name: to.clone(),
            };
            let u = qname(&new_table);
            let change = Change::RenameTable(TableRename {
                table: leak_str(t.clone()),
                new_table: leak_str(u.clone()),
            });
            Phases {
                expand: vec![step(
                    format!(
                        "rename table {t} to {}, leaving a view {t} for the old name",
                        quote_ident(&to.value)
                    ),
                    vec![
                        format!("ALTER TABLE {t} RENAME TO {}", quote_ident(&to.value)),
                        format!("CREATE VIEW {t} AS SELECT * FROM {u}"),
                    ],
                    Transaction::Transactional,
                    LockLevel::AccessExclusive,
                    &t,
                    false,
                    StepKind::Sql,
                    s,
                )],
                contract: vec![step(
                    format!("drop view {t}, which kept the old name of {u}"),
                    vec![format!("DROP VIEW {t}")],
                    Transaction::Transactional,
                    LockLevel::AccessExclusive,
                    &t,
                    false,
                    StepKind::Sql,
                    s,
                )],
                rollback: vec![step(
                    format!(
                        "drop view {t} and rename {u} back to {}",
                        quote_ident(&e.table.name.value)
                    ),
                    Vec::new(),
                    Transaction::Transactional,
                    LockLevel::AccessExclusive,
                    &t,
                    false,
                    phased(change, Action::Rollback),
                    s,
                )],
            }
        }
        ExpandOp::DropColumn { column } => {
            let c = quote_ident(&column.value);
            let change = Change::DropColumn(ColumnRef {
                table: leak_str(t.clone()),
                column: leak_str(column.value.clone()),
            });
            Phases {
                expand: vec![step(
                    format!("drop not null on {t}.{c}, if set, so code that stops writing it can insert"),
                    Vec::new(),
                    Transaction::Transactional,
                    LockLevel::AccessExclusive,
                    &t,
                    false,
                    previewed(change, Action::DropNotNull, drop_not_null_preview(e, &t, &column.value)),
                    s,
                )],
                contract: vec![step(
                    format!("drop column {c} from {t}"),
                    vec![format!("ALTER TABLE {t} DROP COLUMN {c}")],
                    Transaction::Transactional,
                    LockLevel::AccessExclusive,
                    &t,
                    false,
                    StepKind::Sql,
                    s,
                )],
                // Several transactions (restoring `NOT NULL` goes through a validated check).
                rollback: vec![step(
                    format!("restore not null on {t}.{c} if the expand dropped it"),
                    Vec::new(),
                    Transaction::Alone,
                    LockLevel::AccessExclusive,
                    &t,
                    false,
                    phased(change, Action::Rollback),
                    s,
                )],
            }
        }
        ExpandOp::DropTable => Phases {
            // Nothing changes before `complete`; checking the table exists catches a wrong name now.
            expand: vec![step(
                format!("check that table {t} exists (it is dropped by `complete`)"),
                vec![format!("SELECT FROM {t} LIMIT 0")],
                Transaction::Transactional,
                LockLevel::AccessShare,
                &t,
                false,
                StepKind::Sql,
                s,
            )],
            contract: vec![step(
                format!("drop table {t}"),
                vec![format!("DROP TABLE {t}")],
                Transaction::Transactional,
                LockLevel::AccessExclusive,
                &t,
                false,
                StepKind::Sql,
                s,
            )],
            rollback: Vec::new(),
        },
    }
}

fn column_change(
    e: &Expand,
    column: &Name,
    new_column: &str,
    old_type: &str,
    rename: bool,
    deterministic: bool,
) -> ColumnChange {
    let base = fit_identifier(format!("_zd_sync_{}_{}", e.table.name.value, column.value));
    let trigger = sync_trigger_name(&e.table.name.value, &column.value);
    let function = match &e.table.schema {
        Some(schema) => format!("{}.{}", quote_ident(&schema.value), quote_ident(&base)),
        None => quote_ident(&base),
    };
    ColumnChange {
        table: leak_str(qname(&e.table)),
        column: leak_str(column.value.clone()),
        new_column: leak_str(new_column.to_owned()),
        old_type: leak_str(old_type.to_owned()),
        function: leak_str(function),
        trigger: leak_str(trigger),
        rename,
        deterministic,
    }
}

/// How the backfill of a column change fills the new column.
struct Fill {
    /// The assignment (`"_zd_c_new" = CAST(..)`).
    set_sql: String,
    /// The value the new column must equal.
    value: String,
    /// Whether the batches may fire the table's own triggers (`fires_user_triggers`).
    fire_user_triggers: bool,
}

/// The phases of a column change. `statements` run first in the prepare step (the type change's `ADD
/// COLUMN`; a rename's is derived from the catalog); `fill` is how the backfill fills the new column.
fn column_phases(
    e: &Expand,
    cc: ColumnChange,
    mut statements: Vec<String>,
    body: String,
    fill: Fill,
    added: String,
    s: &Settings,
) -> Phases {
    let change = Change::Column(cc);
    let preview = e
        .carry
        .as_ref()
        .map(|f| super::carry::previews(&cc, f))
        .unwrap_or_default();
    let t = qname(&e.table);
    let (c, n) = (quote_ident(cc.column), quote_ident(cc.new_column));
    let trigger = quote_ident(cc.trigger);
    statements.push(format!(
        "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {}",
        cc.function,
        dollar_quote(&body)
    ));
    let execute = if s.target.0 >= 11 {
        "FUNCTION"
    } else {
        "PROCEDURE"
    };
    statements.push(format!(
        "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE {execute} {}()",
        cc.function
    ));
    // Fires whatever `session_replication_role` says, so rows written by a logical-replication
    // subscriber (or by our own backfill, which writes as a replica) are kept in sync too.
    statements.push(format!("ALTER TABLE {t} ENABLE ALWAYS TRIGGER {trigger}"));
    let Fill {
        set_sql,
        value,
        fire_user_triggers,
    } = fill;
    let differs = format!("{n} IS DISTINCT FROM {value}");
    let verify = zerodown_runtime::plan::phased::verify_preview(&cc, &set_sql, &differs);
    let sync = if cc.rename {
        "both ways".to_owned()
    } else {
        format!("from {c}")
    };
    Phases {
        expand: vec![
            step(
                format!("add {added} to {t}, and trigger {trigger} keeping it in sync {sync}"),
                statements,
                Transaction::Transactional,
                LockLevel::AccessExclusive,
                &t,
                false,
                previewed(change, Action::Prepare, preview.prepare),
                s,
            ),
            Step {
                kind: StepKind::Backfill(Backfill {
                    table: leak_str(t.clone()),
                    key: &[],
                    set_sql: leak_str(set_sql),
                    pending_sql: leak_str(differs),
                    batch_size: s.backfill_batch_size,
                    pause_ms: s.backfill_pause_ms,
                    columns: leak_slice(vec![leak_str(n.clone())]),
                    fire_user_triggers,
                    pace: s.pace(),
                }),
                postcondition: Postcondition::BackfillComplete,
                ..step(
                    format!("backfill {t}.{n} from {c} in batches"),
                    Vec::new(),
                    Transaction::Transactional,
                    LockLevel::RowExclusive,
                    &t,
                    false,
                    StepKind::Sql,
                    s,
                )
            },
            step(
                format!("build the indexes on {t}.{c} again on {n}, concurrently"),
                Vec::new(),
                Transaction::Alone,
                LockLevel::ShareUpdateExclusive,
                &t,
                true,
                previewed(change, Action::CarryIndexes, preview.carry_indexes),
                s,
            ),
            step(
                format!("add the check constraints, foreign keys and not null of {t}.{c} to {n}, not valid"),
                Vec::new(),
                Transaction::Transactional,
                LockLevel::AccessExclusive,
                &t,
                false,
                previewed(change, Action::AddConstraints, preview.add_constraints),
                s,
            ),
            step(
                format!("validate the constraints carried to {t}.{n}"),
                Vec::new(),
                Transaction::Alone,
                LockLevel::ShareUpdateExclusive,
                &t,
                true,
                previewed(change, Action::ValidateConstraints, preview.validate),
                s,
            ),
        ],
        contract: vec![
            step(
                format!(
                    "check that {t}.{n} equals {} on every row, online, before the swap",
                    if cc.rename { c.clone() } else { format!("the conversion of {c}") }
                ),
                Vec::new(),
                Transaction::Alone,
                LockLevel::RowExclusive,
                &t,
                true,
                previewed(change, Action::Verify, verify),
                s,
            ),
            step(
                if cc.rename {
                    format!("drop trigger {trigger} and column {c} of {t}; give the indexes and constraints carried to {n} their names")
                } else {
                    format!("drop trigger {trigger} and column {c} of {t}; rename {n} to {c} with its indexes, constraints, default and not null")
                },
                Vec::new(),
                Transaction::Transactional,
                LockLevel::AccessExclusive,
                &t,
                false,
                previewed(change, Action::Contract, preview.contract),
                s,
            ),
        ],
        rollback: vec![step(
            format!("drop trigger {trigger}, its function and column {n} of {t}"),
            Vec::new(),
            Transaction::Transactional,
            LockLevel::AccessExclusive,
            &t,
            false,
            phased(change, Action::Rollback),
            s,
        )],
    }
}

/// What the drop-column expand derives: `DROP NOT NULL` when the catalog says the column has it.
fn drop_not_null_preview(e: &Expand, table: &str, column: &str) -> Vec<String> {
    use zerodown_runtime::plan::carry::{drop_not_null_sql, NOTHING_PLACEHOLDER};
    match &e.carry {
        None => Vec::new(),
        Some(f) if f.not_null => vec![drop_not_null_sql(table, column)],
        Some(_) => vec![NOTHING_PLACEHOLDER.to_owned()],
    }
}

fn phased(change: Change, action: Action) -> StepKind {
    previewed(change, action, Vec::new())
}

/// A phased step with the SQL the catalog predicts for it.
fn previewed(change: Change, action: Action, preview: Vec<String>) -> StepKind {
    StepKind::Phased(PhasedStep {
        change,
        action,
        preview: leak_slice(preview.into_iter().map(leak_str).collect()),
    })
}

/// A step on table `t`. `online` steps (their lock blocks no reads or writes, their work grows with the
/// table) get the online timeouts.
#[allow(clippy::too_many_arguments)]
pub(super) fn step(
    description: String,
    statements: Vec<String>,
    transaction: Transaction,
    lock: LockLevel,
    t: &str,
    online: bool,
    kind: StepKind,
    s: &Settings,
) -> Step {
    Step {
        description: leak_str(description),
        statements: leak_slice(statements.into_iter().map(leak_str).collect()),
        transaction,
        lock,
        tables: leak_slice(vec![leak_str(t.to_owned())]),
        rewrites: false,
        lock_timeout_ms: if online {
            s.online_lock_timeout_ms
        } else {
            s.lock_timeout_ms
        },
        statement_timeout_ms: if online {
            s.long_statement_timeout_ms
        } else {
            s.statement_timeout_ms
        },
        kind,
        postcondition: Postcondition::None,
    }
}

/// The trigger function of a type change: on insert, and on update when a column the value depends on
/// changed, set the new column.
fn type_change_body(new_column: &str, value: &str, watched: &[String]) -> String {
    let n = quote_ident(new_column);
    let changed: Vec<String> = watched
        .iter()
        .map(|c| format!("NEW.{q} IS DISTINCT FROM OLD.{q}", q = quote_ident(c)))
        .collect();
    let changed = if changed.is_empty() {
        "false".to_owned()
    } else {
        changed.join(" OR ")
    };
    // A write to the new column itself (nothing should write it) is overwritten as well.
    format!(
        "BEGIN\n  IF TG_OP = 'INSERT' THEN\n    NEW.{n} := {value};\n  ELSIF {changed} OR NEW.{n} IS DISTINCT FROM OLD.{n} THEN\n    \
         NEW.{n} := {value};\n  END IF;\n  RETURN NEW;\nEND"
    )
}

/// The trigger function of a rename: the old application version writes `a`, the new one `b`. On
/// insert, a missing `b` is taken from `a`, else `a` from `b` (`a` may hold its default); on update,
/// the column that changed is copied to the other, `b` winning when both changed.
fn rename_body(a: &str, b: &str) -> String {
    let (a, b) = (quote_ident(a), quote_ident(b));
    format!(
        "BEGIN\n  IF TG_OP = 'INSERT' THEN\n    IF NEW.{b} IS NULL THEN\n      NEW.{b} := NEW.{a};\n    ELSIF NEW.{a} IS \
         DISTINCT FROM NEW.{b} THEN\n      NEW.{a} := NEW.{b};\n    END IF;\n  ELSIF NEW.{b} IS DISTINCT FROM OLD.{b} \
         THEN\n    NEW.{a} := NEW.{b};\n  ELSIF NEW.{a} IS DISTINCT FROM OLD.{a} THEN\n    NEW.{b} := NEW.{a};\n  END \
         IF;\n  RETURN NEW;\nEND"
    )
}

/// `$zd$body$zd$`, with a tag the body does not contain.
pub(super) fn dollar_quote(body: &str) -> String {
    let mut tag = "$zd$".to_owned();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$zd{n}$");
    }
    format!("{tag}\n{body}\n{tag}")
}

fn column_expr(c: &Name) -> Expr {
    Expr {
        kind: ExprKind::Column(vec![c.clone()]),
        range: c.range(),
    }
}

/// `e` with every column reference read from the trigger's `NEW` row: `"new"."c"` (PL/pgSQL matches the
/// quoted lowercase name to its `NEW` variable).
pub(super) fn qualify_new(e: &Expr) -> Expr {
    let kind = match &e.kind {
        ExprKind::Column(parts) => {
            let last = parts
                .last()
                .cloned()
                .expect("a column reference has a name");
            ExprKind::Column(vec![
                Name {
                    value: "new".to_owned(),
                    span: last.span,
                },
                last,
            ])
        }
        ExprKind::String(_)
        | ExprKind::Number(_)
        | ExprKind::Bool(_)
        | ExprKind::Null
        | ExprKind::SqlValue(_) => e.kind.clone(),
        ExprKind::Call { func, args, star } => ExprKind::Call {
            func: func.clone(),
            args: args.iter().map(qualify_new).collect(),
            star: *star,
        },
        ExprKind::Unary { op, expr } => ExprKind::Unary {
            op: *op,
            expr: Box::new(qualify_new(expr)),
        },
        ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
            op: *op,
            lhs: Box::new(qualify_new(lhs)),
            rhs: Box::new(qualify_new(rhs)),
        },
        ExprKind::Cast { expr, ty } => ExprKind::Cast {
            expr: Box::new(qualify_new(expr)),
            ty: ty.clone(),
        },
        ExprKind::IsNull { expr, negated } => ExprKind::IsNull {
            expr: Box::new(qualify_new(expr)),
            negated: *negated,
        },
        ExprKind::InList {
            expr,
            list,
            negated,
        } => ExprKind::InList {
            expr: Box::new(qualify_new(expr)),
            list: list.iter().map(qualify_new).collect(),
            negated: *negated,
        },
        ExprKind::Between {
            expr,
            low,
            high,
            negated,
        } => ExprKind::Between {
            expr: Box::new(qualify_new(expr)),
            low: Box::new(qualify_new(low)),
            high: Box::new(qualify_new(high)),
            negated: *negated,
        },
        ExprKind::Case {
            operand,
            whens,
            else_,
        } => ExprKind::Case {
            operand: operand.as_ref().map(|o| Box::new(qualify_new(o))),
            whens: whens
                .iter()
                .map(|(w, t)| (qualify_new(w), qualify_new(t)))
                .collect(),
            else_: else_.as_ref().map(|e| Box::new(qualify_new(e))),
        },
        ExprKind::Array(items) => ExprKind::Array(items.iter().map(qualify_new).collect()),
        ExprKind::Paren(inner) => ExprKind::Paren(Box::new(qualify_new(inner))),
    };
    Expr {
        kind,
        range: e.range,
    }
}
