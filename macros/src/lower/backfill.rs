//! `backfill`: one [`StepKind::Backfill`] step, which the runtime executes in keyset batches.
//!
//! The step carries the rendered assignments and the **pending predicate**, the rows that still need
//! the update, which the runtime uses both to restrict each batch and to verify the end (no row may
//! match it):
//!
//! - every value the same in every transaction (no volatile or unknown function, no current time):
//!   `[(where) AND] ("a" IS DISTINCT FROM value OR "b" IS DISTINCT FROM value ..)`, which the update
//!   makes false, so rows already right are skipped and a rerun changes nothing;
//! - otherwise the `where` alone (`check` requires one that mentions a set column).
//!
//! The step takes `ROW EXCLUSIVE` on the table (and row locks on each batch's rows), runs with the
//! migration's ordinary `lock_timeout` and `statement_timeout` per batch (a batch waiting for a row lock
//! holds the row locks it already took, so it must not wait long), and never shares a step.

use zerodown_runtime::plan::phased::{fit_identifier, keep_trigger_name};
use zerodown_runtime::plan::{
    Backfill, LockLevel, Postcondition, Settings, Step, StepKind, Transaction,
};

use crate::ast::{Assignment, BackfillStmt, Expr, QName};
use crate::render::{default_expr, expr, quote_ident, render_qname};
use crate::volatility;

use super::context::Context;
use super::phased::{dollar_quote, qualify_new};
use super::stmt::{Inverse, Lowered};
use super::{leak_slice, leak_str};

/// `backfill t set .. [where ..] [by (..)] [keep]`: with `keep`, the statements creating the trigger
/// first (see [`keep_trigger`]).
pub(super) fn backfill_all(cx: &Context, b: &BackfillStmt) -> Vec<Lowered> {
    let mut out = if b.keep.is_some() {
        keep_trigger(cx, b)
    } else {
        Vec::new()
    };
    out.push(backfill(cx, b));
    out
}

/// `backfill t set .. [where ..] [by (..)]`.
fn backfill(cx: &Context, b: &BackfillStmt) -> Lowered {
    let set_sql = b
        .assignments
        .iter()
        .map(|a| format!("{} = {}", quote_ident(&a.column.value), expr(&a.value)))
        .collect::<Vec<_>>()
        .join(", ");
    let columns = b
        .assignments
        .iter()
        .map(|a| quote_ident(&a.column.value))
        .collect();
    let key = b.by.iter().map(|k| quote_ident(&k.value)).collect();
    let pending = pending(&b.assignments, b.predicate.as_ref());
    let lowered = step(cx, &b.table, columns, set_sql, pending, key);
    // Values in columns this migration added (or of a table it created) go with their column or
    // table; overwritten values of existing columns are not kept anywhere.
    let existing: Vec<String> = b
        .assignments
        .iter()
        .filter(|a| !cx.is_new(&b.table) && !cx.is_new_column(&b.table, &a.column.value))
        .map(|a| quote_ident(&a.column.value))
        .collect();
    if existing.is_empty() {
        lowered.inverse(Inverse::Nothing)
    } else {
        lowered.irreversible(format!(
            "the backfill overwrote values of {} in {}, which are not kept",
            existing.join(", "),
            render_qname(&b.table)
        ))
    }
}

/// The rows that still need the update (see the module docs).
pub(super) fn pending(assignments: &[Assignment], predicate: Option<&Expr>) -> String {
    let stable = assignments
        .iter()
        .all(|a| volatility::first_unstable(&a.value).is_none());
    let distinct = || {
        assignments
            .iter()
            .map(|a| {
                format!(
                    "{} IS DISTINCT FROM {}",
                    quote_ident(&a.column.value),
                    default_expr(&a.value)
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    match predicate {
        Some(p) if stable => format!("({}) AND ({})", expr(p), distinct()),
        Some(p) => expr(p),
        // Only reachable with stable values, or under an override of
        // `backfill_volatile_without_where`.
        None => distinct(),
    }
}

/// The backfill step of `table`: `set_sql` (assigning the rendered `columns`) on the rows matching
/// `pending_sql`, walked by `key` (rendered columns; empty for the primary key).
pub(super) fn step(
    cx: &Context,
    table: &QName,
    columns: Vec<String>,
    set_sql: String,
    pending_sql: String,
    key: Vec<String>,
) -> Lowered {
    let t = render_qname(table);
    let description = format!("backfill {t} set {} in batches", columns.join(", "));
    let kind = StepKind::Backfill(Backfill {
        table: leak_str(t),
        key: leak_slice(key.into_iter().map(leak_str).collect()),
        set_sql: leak_str(set_sql),
        pending_sql: leak_str(pending_sql),
        batch_size: cx.settings.backfill_batch_size,
        pause_ms: cx.settings.backfill_pause_ms,
        columns: leak_slice(columns.into_iter().map(leak_str).collect()),
        fire_user_triggers: cx.fire_user_triggers,
        pace: cx.settings.pace(),
    });
    // The runtime generates the batches: the statement itself is empty.
    Lowered::new(description, String::new())
        .lock_on(LockLevel::RowExclusive, cx.existing(table))
        .slow(true)
        .kind(kind)
        .postcondition(Postcondition::BackfillComplete)
}

/// The trigger of `backfill .. keep`: its function (rendered, in the table's schema) and its name
/// (unquoted).
fn keep_names(b: &BackfillStmt) -> (String, String) {
    let first = &b.assignments[0].column.value;
    let base = fit_identifier(format!("_zd_keep_{}_{first}", b.table.name.value));
    let function = match &b.table.schema {
        Some(schema) => format!("{}.{}", quote_ident(&schema.value), quote_ident(&base)),
        None => quote_ident(&base),
    };
    (function, keep_trigger_name(&b.table.name.value, first))
}

/// `keep`: a function and a `BEFORE INSERT OR UPDATE` trigger, enabled `ALWAYS`, that set every
/// assigned column to its value on every row the application writes (within the `where`), so rows the
/// old application version writes during and after the backfill need no further sweep. Created in one
/// short transaction before the backfill (`SHARE ROW EXCLUSIVE`, under the migration's
/// `lock_timeout`); dropped by `complete` ([`keep_contract`]) or by a rollback.
///
/// Always, not only when the writer left the column empty: the backfill defines the column as the
/// expression and verifies every row equals it, so a different value written by anyone would only
/// be overwritten by the next sweep (`where c is null` limits it to rows without a value). Enabled
/// `ALWAYS` so that rows a logical-replication subscriber applies (as a replica) are filled too; it
/// also fires for the backfill's own batches, which write as a replica, and sets the same value.
fn keep_trigger(cx: &Context, b: &BackfillStmt) -> Vec<Lowered> {
    let t = render_qname(&b.table);
    let (function, name) = keep_names(b);
    let trigger = quote_ident(&name);
    let assign: String = b
        .assignments
        .iter()
        .map(|a| {
            format!(
                "    NEW.{} := {};\n",
                quote_ident(&a.column.value),
                expr(&qualify_new(&a.value))
            )
        })
        .collect();
    let condition = b
        .predicate
        .as_ref()
        .map_or("true".to_owned(), |p| expr(&qualify_new(p)));
    let body = format!("BEGIN\n  IF {condition} THEN\n{assign}  END IF;\n  RETURN NEW;\nEND");
    let execute = if cx.settings.target.0 >= 11 {
        "FUNCTION"
    } else {
        "PROCEDURE"
    };
    let columns = b
        .assignments
        .iter()
        .map(|a| quote_ident(&a.column.value))
        .collect::<Vec<_>>()
        .join(", ");
    let live = format!(
        "trigger {trigger} on {t} sets {columns} on every insert and update until `complete` (a value written \
         to {columns} is replaced by the expression)"
    );
    vec![
        Lowered::new(
            format!("create function {function} computing {columns} of {t}"),
            format!(
                "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS {}",
                dollar_quote(&body)
            ),
        )
        .undo(Lowered::new(
            format!("drop function {function}"),
            format!("DROP FUNCTION IF EXISTS {function}()"),
        )),
        Lowered::new(
            format!("create trigger {trigger} on {t} keeping {columns} filled until `complete`"),
            format!(
                "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE {execute} {function}()"
            ),
        )
        .lock_on(LockLevel::ShareRowExclusive, cx.existing(&b.table))
        .live(format!("keep {t} {name}"), live)
        .undo(
            Lowered::new(
                format!("drop trigger {trigger} on {t}"),
                format!("DROP TRIGGER IF EXISTS {trigger} ON {t}"),
            )
            .lock_on(LockLevel::AccessExclusive, cx.existing(&b.table)),
        ),
        // Fires whatever `session_replication_role` says (logical replication applies as a replica).
        Lowered::new(
            format!("enable trigger {trigger} on {t} always, for replicated writes too"),
            format!("ALTER TABLE {t} ENABLE ALWAYS TRIGGER {trigger}"),
        )
        .lock_on(LockLevel::ShareRowExclusive, cx.existing(&b.table))
        .inverse(Inverse::Nothing),
    ]
}

/// The contract step of `backfill .. keep`: drop the trigger and its function (`complete`).
pub(super) fn keep_contract(settings: &Settings, b: &BackfillStmt) -> Step {
    let t = render_qname(&b.table);
    let (function, name) = keep_names(b);
    let trigger = quote_ident(&name);
    super::phased::step(
        format!("drop trigger {trigger} on {t} and its function, which kept the backfilled values filled"),
        vec![
            format!("DROP TRIGGER IF EXISTS {trigger} ON {t}"),
            format!("DROP FUNCTION IF EXISTS {function}()"),
        ],
        Transaction::Transactional,
        LockLevel::AccessExclusive,
        &t,
        false,
        StepKind::Sql,
        settings,
    )
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use zerodown_runtime::plan::{
        Backfill, LockLevel, Migration, Pace, Postcondition, Step, StepKind, Transaction,
    };

    use crate::ctxt::Ctxt;
    use crate::parse;

    /// Parses and lowers `body` in a migration module (no `check`: overrides are not needed here).
    fn lower_body(body: &str) -> Migration {
        let tokens: TokenStream = format!("pub mod m0001_test {{ {body} }}")
            .parse()
            .expect("tokens");
        let cx = Ctxt::new();
        let input = parse::parse_migration(&cx, tokens);
        let settings = input
            .as_ref()
            .map(|i| parse::resolve_settings(&cx, &i.settings));
        if let Err(e) = cx.check() {
            panic!("does not parse: {e}");
        }
        super::super::lower(&input.unwrap(), settings.unwrap())
    }

    fn backfill_of(step: &Step) -> Backfill {
        match step.kind {
            StepKind::Backfill(b) => b,
            other => panic!("not a backfill: {other:?}"),
        }
    }

    #[test]
    fn one_step_without_statements() {
        let m = lower_body("backfill users set email_lower = lower(email);");
        assert_eq!(m.expand.steps.len(), 1);
        let s = &m.expand.steps[0];
        assert_eq!(
            s.description,
            "backfill \"users\" set \"email_lower\" in batches"
        );
        assert!(s.statements.is_empty());
        assert_eq!(s.transaction, Transaction::Transactional);
        assert_eq!(s.lock, LockLevel::RowExclusive);
        assert_eq!(s.tables, ["\"users\""]);
        assert!(!s.rewrites);
        // Per batch: the ordinary limits, not the long online ones.
        assert_eq!((s.lock_timeout_ms, s.statement_timeout_ms), (1_000, 30_000));
        assert_eq!(s.postcondition, Postcondition::BackfillComplete);
        assert_eq!(
            backfill_of(s),
            Backfill {
                table: "\"users\"",
                key: &[],
                set_sql: "\"email_lower\" = lower(\"email\")",
                pending_sql: "\"email_lower\" IS DISTINCT FROM lower(\"email\")",
                batch_size: 1_000,
                pause_ms: 10,
                columns: &["\"email_lower\""],
                fire_user_triggers: false,
                pace: Pace::DEFAULT,
            }
        );
    }

    #[test]
    fn settings_where_and_by() {
        let m = lower_body(
            "set backfill_batch_size = 5_000;
             set backfill_pause = 0ms;
             backfill app.users set a = 1, flag = b > 2 or c where a is null by (tenant_id, id);",
        );
        let b = backfill_of(&m.expand.steps[0]);
        assert_eq!(b.table, "\"app\".\"users\"");
        assert_eq!(b.key, ["\"tenant_id\"", "\"id\""]);
        assert_eq!(b.set_sql, "\"a\" = 1, \"flag\" = \"b\" > 2 OR \"c\"");
        assert_eq!(
            b.pending_sql,
            "(\"a\" IS NULL) AND (\"a\" IS DISTINCT FROM 1 OR \"flag\" IS DISTINCT FROM (\"b\" > 2 OR \"c\"))"
        );
        assert_eq!((b.batch_size, b.pause_ms), (5_000, 0));
        assert_eq!(b.pace, Pace::FIXED);
    }

    #[test]
    fn values_that_change_use_the_where_alone() {
        let m = lower_body(
            "backfill users set token = gen_random_uuid(), n = 1 where token is null;
             backfill users set seen = now() where seen is null;",
        );
        assert_eq!(
            backfill_of(&m.expand.steps[0]).pending_sql,
            "\"token\" IS NULL"
        );
        assert_eq!(
            backfill_of(&m.expand.steps[1]).pending_sql,
            "\"seen\" IS NULL"
        );
    }

    #[test]
    fn a_backfill_never_shares_a_step() {
        let m = lower_body(
            "alter table users add column x int;
             backfill users set x = 1;
             alter table users alter column x set default 2;",
        );
        let kinds: Vec<(usize, bool)> = m
            .expand
            .steps
            .iter()
            .map(|s| (s.statements.len(), matches!(s.kind, StepKind::Backfill(_))))
            .collect();
        assert_eq!(kinds, [(1, false), (0, true), (1, false)]);
        // On a table created in this migration nothing existing is locked.
        let m = lower_body("create table t (id int primary key, x int); backfill t set x = 1;");
        assert_eq!(m.expand.steps.len(), 2);
        assert_eq!(m.expand.steps[1].lock, LockLevel::None);
        assert!(m.expand.steps[1].tables.is_empty());
    }

    #[test]
    fn volatile_default_recipe() {
        let m = lower_body(
            "alter table users add column token uuid not null default gen_random_uuid();",
        );
        let steps: Vec<(Vec<&str>, LockLevel)> = m
            .expand
            .steps
            .iter()
            .map(|s| (s.statements.to_vec(), s.lock))
            .collect();
        assert_eq!(
            steps,
            [
                (
                    vec![
                        "ALTER TABLE \"users\" ADD COLUMN \"token\" uuid",
                        "ALTER TABLE \"users\" ALTER COLUMN \"token\" SET DEFAULT gen_random_uuid()",
                    ],
                    LockLevel::AccessExclusive
                ),
                (vec![], LockLevel::RowExclusive),
                (
                    vec!["ALTER TABLE \"users\" ADD CONSTRAINT \"_zd_token_nn\" CHECK (\"token\" IS NOT NULL) NOT VALID"],
                    LockLevel::AccessExclusive
                ),
                (
                    vec!["ALTER TABLE \"users\" VALIDATE CONSTRAINT \"_zd_token_nn\""],
                    LockLevel::ShareUpdateExclusive
                ),
                (
                    vec![
                        "ALTER TABLE \"users\" ALTER COLUMN \"token\" SET NOT NULL",
                        "ALTER TABLE \"users\" DROP CONSTRAINT \"_zd_token_nn\"",
                    ],
                    LockLevel::AccessExclusive
                ),
            ]
        );
        assert!(m.expand.steps.iter().all(|s| !s.rewrites));
        let b = backfill_of(&m.expand.steps[1]);
        assert_eq!(
            (b.set_sql, b.pending_sql, b.key),
            (
                "\"token\" = gen_random_uuid()",
                "\"token\" IS NULL",
                &[][..]
            )
        );

        // Nullable, with an unknown function and other constraints kept on the column.
        let m = lower_body("alter table users add column if not exists score int references scores (id) default app_score(id);");
        // (The inline foreign key scans and locks two tables, so it is a step of its own.)
        assert_eq!(
            m.expand.steps[..2].iter().map(|s| s.statements).collect::<Vec<_>>(),
            [
                ["ALTER TABLE \"users\" ADD COLUMN IF NOT EXISTS \"score\" int REFERENCES \"scores\" (\"id\")"],
                ["ALTER TABLE \"users\" ALTER COLUMN \"score\" SET DEFAULT app_score(\"id\")"],
            ]
        );
        assert_eq!(m.expand.steps.len(), 3);

        // Target 11 (an override of `volatile_default`): a plain `SET NOT NULL`, slow.
        let m = lower_body("set target_postgres = 11; alter table users add column token uuid not null default gen_random_uuid();");
        assert_eq!(m.expand.steps.len(), 3);
        assert_eq!(
            m.expand.steps[2].statements,
            ["ALTER TABLE \"users\" ALTER COLUMN \"token\" SET NOT NULL"]
        );

        // Not the recipe: a new table, a non-volatile default, or a target before 11 (override only).
        for body in [
            "create table users (id int primary key); alter table users add column token uuid default gen_random_uuid();",
            "alter table users add column at timestamptz default now();",
            "set target_postgres = 10; alter table users add column token uuid default gen_random_uuid();",
        ] {
            let m = lower_body(body);
            assert!(
                m.expand.steps.iter().all(|s| !matches!(s.kind, StepKind::Backfill(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn checksum_covers_the_backfill() {
        let a = lower_body("backfill users set x = 1;");
        let b = lower_body("set backfill_batch_size = 10; backfill users set x = 1;");
        let c = lower_body("backfill users set x = 2;");
        assert_ne!(a.checksum, b.checksum);
        assert_ne!(a.checksum, c.checksum);
        assert_eq!(a.checksum, a.compute_checksum());
    }

    #[test]
    fn keep_creates_the_trigger_first_and_drops_it_on_complete() {
        let m = lower_body(
            "alter table app.orders add column total bigint;
             backfill app.orders set total = quantity * price where total is null keep;",
        );
        // The column and the trigger share one short transaction, before the backfill.
        assert_eq!(m.expand.steps.len(), 2);
        assert_eq!(
            m.expand.steps[0].statements,
            [
                "ALTER TABLE \"app\".\"orders\" ADD COLUMN \"total\" bigint",
                "CREATE FUNCTION \"app\".\"_zd_keep_orders_total\"() RETURNS trigger LANGUAGE plpgsql AS $zd$\nBEGIN\n  \
                 IF \"new\".\"total\" IS NULL THEN\n    NEW.\"total\" := \"new\".\"quantity\" * \"new\".\"price\";\n  END IF;\n  \
                 RETURN NEW;\nEND\n$zd$",
                "CREATE TRIGGER \"~zd_sync_keep_orders_total\" BEFORE INSERT OR UPDATE ON \"app\".\"orders\" FOR EACH ROW \
                 EXECUTE FUNCTION \"app\".\"_zd_keep_orders_total\"()",
                "ALTER TABLE \"app\".\"orders\" ENABLE ALWAYS TRIGGER \"~zd_sync_keep_orders_total\"",
            ]
        );
        assert!(matches!(m.expand.steps[1].kind, StepKind::Backfill(_)));
        assert_eq!(m.contract.steps.len(), 1);
        assert_eq!(
            m.contract.steps[0].statements,
            [
                "DROP TRIGGER IF EXISTS \"~zd_sync_keep_orders_total\" ON \"app\".\"orders\"",
                "DROP FUNCTION IF EXISTS \"app\".\"_zd_keep_orders_total\"()",
            ]
        );
        assert_eq!(m.contract.steps[0].lock, LockLevel::AccessExclusive);
        // Rolled back by the derived undo, which drops the trigger, the function and the column.
        assert!(m.rolls_back_by_undo());
        let undo: Vec<&str> = m
            .undo
            .steps
            .iter()
            .flat_map(|s| s.statements.to_vec())
            .collect();
        assert_eq!(
            undo,
            [
                "DROP TRIGGER IF EXISTS \"~zd_sync_keep_orders_total\" ON \"app\".\"orders\"",
                "DROP FUNCTION IF EXISTS \"app\".\"_zd_keep_orders_total\"()",
                "ALTER TABLE \"app\".\"orders\" DROP COLUMN IF EXISTS \"total\"",
            ]
        );
        // Without `keep`: no contract phase, and the plan (and checksum) of before.
        let plain = lower_body(
            "alter table app.orders add column total bigint;
             backfill app.orders set total = quantity * price where total is null;",
        );
        assert!(plain.contract.steps.is_empty());
        assert_ne!(plain.checksum, m.checksum);
        // Target 10: `EXECUTE PROCEDURE`.
        let old = lower_body("set target_postgres = 10; backfill t set x = a + 1 keep;");
        assert!(old.expand.steps[0].statements[1].ends_with("EXECUTE PROCEDURE \"_zd_keep_t_x\"()"));
    }
}
