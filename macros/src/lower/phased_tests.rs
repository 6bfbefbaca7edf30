//! `expand ..` operations from DSL text through the real parser and checks: the steps of each phase,
//! their SQL, kinds and locks, the touched objects, and the errors.

use proc_macro2::TokenStream;
use zerodown_runtime::plan::{
    Action, Change, ColumnChange, LockLevel, Migration, PhasedStep, Postcondition, Step, StepKind,
    Transaction,
};

use crate::ctxt::Ctxt;
use crate::{check, parse};

use super::lower;

/// Parses, checks and lowers `body` in a migration module: the plan, or every error message.
fn try_lower(body: &str) -> Result<Migration, Vec<String>> {
    let tokens: TokenStream = format!("pub mod m0001_test {{ {body} }}")
        .parse()
        .expect("tokens");
    let cx = Ctxt::new();
    let input = parse::parse_migration(&cx, tokens);
    let settings = input
        .as_ref()
        .map(|i| parse::resolve_settings(&cx, &i.settings));
    if let (Some(input), Some(settings)) = (&input, &settings) {
        if !cx.has_errors() {
            check::check(&cx, input, settings);
        }
    }
    match cx.check() {
        Ok(()) => Ok(lower(&input.unwrap(), settings.unwrap())),
        Err(e) => Err(e.into_iter().map(|e| e.to_string()).collect()),
    }
}

fn lower_body(body: &str) -> Migration {
    try_lower(body).unwrap_or_else(|e| panic!("not accepted: {e:?}"))
}

fn errors(body: &str) -> Vec<String> {
    match try_lower(body) {
        Ok(_) => panic!("accepted: {body}"),
        Err(e) => e,
    }
}

fn phased(step: &Step) -> PhasedStep {
    match step.kind {
        StepKind::Phased(p) => p,
        other => panic!("not a phased step: {other:?}"),
    }
}

#[test]
fn type_change_phases() {
    let m = lower_body(
        "set backfill_batch_size = 500;
         expand alter table app.items alter column n type bigint from integer using abs(n) + items.base;",
    );
    let kinds: Vec<(Transaction, LockLevel, bool)> = m
        .expand
        .steps
        .iter()
        .map(|s| (s.transaction, s.lock, s.statements.is_empty()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                Transaction::Transactional,
                LockLevel::AccessExclusive,
                false
            ),
            (Transaction::Transactional, LockLevel::RowExclusive, true),
            (Transaction::Alone, LockLevel::ShareUpdateExclusive, true),
            (Transaction::Transactional, LockLevel::AccessExclusive, true),
            (Transaction::Alone, LockLevel::ShareUpdateExclusive, true),
        ]
    );
    assert!(m
        .expand
        .steps
        .iter()
        .chain(m.contract.steps)
        .all(|s| s.tables == ["\"app\".\"items\""] && !s.rewrites));
    let change = ColumnChange {
        table: "\"app\".\"items\"",
        column: "n",
        new_column: "_zd_n_new",
        old_type: "integer",
        function: "\"app\".\"_zd_sync_items_n\"",
        trigger: "~zd_sync_items_n",
        rename: false,
        deterministic: true,
    };
    let actions: Vec<Option<Action>> = m
        .expand
        .steps
        .iter()
        .map(|s| match s.kind {
            StepKind::Phased(p) => {
                assert_eq!(p.change, Change::Column(change));
                Some(p.action)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        [
            Some(Action::Prepare),
            None,
            Some(Action::CarryIndexes),
            Some(Action::AddConstraints),
            Some(Action::ValidateConstraints)
        ]
    );
    let prepare = &m.expand.steps[0];
    assert_eq!(
        prepare.statements[0],
        "ALTER TABLE \"app\".\"items\" ADD COLUMN \"_zd_n_new\" bigint"
    );
    // The trigger reads the row through `NEW` and watches every column the value depends on.
    assert!(prepare.statements[1].starts_with(
        "CREATE FUNCTION \"app\".\"_zd_sync_items_n\"() RETURNS trigger LANGUAGE plpgsql AS $zd$\n"
    ));
    assert!(prepare.statements[1].contains(
        "    NEW.\"_zd_n_new\" := CAST((abs(\"new\".\"n\") + \"new\".\"base\") AS bigint);\n  ELSIF NEW.\"n\" IS DISTINCT FROM OLD.\"n\" OR NEW.\"base\" IS DISTINCT FROM OLD.\"base\" OR NEW.\"_zd_n_new\" IS DISTINCT FROM OLD.\"_zd_n_new\" THEN"
    ), "{}", prepare.statements[1]);
    assert_eq!(
        prepare.statements[2],
        "CREATE TRIGGER \"~zd_sync_items_n\" BEFORE INSERT OR UPDATE ON \"app\".\"items\" FOR EACH ROW EXECUTE FUNCTION \"app\".\"_zd_sync_items_n\"()"
    );
    // Logical-replication subscribers and our own replica-mode batches fire it too.
    assert_eq!(
        prepare.statements[3],
        "ALTER TABLE \"app\".\"items\" ENABLE ALWAYS TRIGGER \"~zd_sync_items_n\""
    );
    let StepKind::Backfill(b) = m.expand.steps[1].kind else {
        panic!("not a backfill")
    };
    assert_eq!(
        b.set_sql,
        "\"_zd_n_new\" = CAST((abs(\"n\") + \"items\".\"base\") AS bigint)"
    );
    assert_eq!(
        b.pending_sql,
        "\"_zd_n_new\" IS DISTINCT FROM CAST((abs(\"n\") + \"items\".\"base\") AS bigint)"
    );
    assert_eq!((b.batch_size, b.key), (500, &[][..]));
    assert_eq!(
        (b.columns, b.fire_user_triggers),
        (&["\"_zd_n_new\""][..], false)
    );
    assert_eq!(
        m.expand.steps[1].postcondition,
        Postcondition::BackfillComplete
    );
    // Online steps get the online timeouts.
    assert_eq!(
        (
            m.expand.steps[2].lock_timeout_ms,
            m.expand.steps[2].statement_timeout_ms
        ),
        (60_000, 6 * 3_600_000)
    );
    assert_eq!(
        (
            m.expand.steps[3].lock_timeout_ms,
            m.expand.steps[3].statement_timeout_ms
        ),
        (1_000, 30_000)
    );

    // The copy is verified online, then once more under the contract's lock.
    assert_eq!(m.contract.steps.len(), 2);
    assert_eq!(phased(&m.contract.steps[0]).action, Action::Verify);
    assert_eq!(
        (m.contract.steps[0].transaction, m.contract.steps[0].lock),
        (Transaction::Alone, LockLevel::RowExclusive)
    );
    assert_eq!(phased(&m.contract.steps[1]).action, Action::Contract);
    assert_eq!(m.rollback.steps.len(), 1);
    assert_eq!(phased(&m.rollback.steps[0]).action, Action::Rollback);
    assert_eq!(m.touches, ["app.items.n"]);
    assert_eq!(m.checksum, m.compute_checksum());
}

#[test]
fn rename_column_syncs_both_ways() {
    let m = lower_body("expand alter table users rename column email to login;");
    let prepare = &m.expand.steps[0];
    // `login`'s type is read from the catalog, so the macro adds no column itself: the function, the
    // trigger and its `ENABLE ALWAYS`.
    assert_eq!(prepare.statements.len(), 3);
    assert!(prepare.statements[0].contains(
        "  IF TG_OP = 'INSERT' THEN\n    IF NEW.\"login\" IS NULL THEN\n      NEW.\"login\" := NEW.\"email\";\n    ELSIF NEW.\"email\" IS DISTINCT FROM NEW.\"login\" THEN\n      NEW.\"email\" := NEW.\"login\";"
    ), "{}", prepare.statements[0]);
    let StepKind::Backfill(b) = m.expand.steps[1].kind else {
        panic!("not a backfill")
    };
    assert_eq!(
        (b.set_sql, b.pending_sql),
        (
            "\"login\" = \"email\"",
            "\"login\" IS DISTINCT FROM \"email\""
        )
    );
    let Change::Column(c) = phased(prepare).change else {
        panic!("not a column change")
    };
    assert!(c.rename && c.new_column == "login" && c.old_type.is_empty());
    assert_eq!(m.touches, ["public.users.email", "public.users.login"]);
}

#[test]
fn table_operations_and_their_order() {
    let m = lower_body(
        "expand alter table orders rename to purchases;
         expand alter table users drop column legacy;
         expand drop table sessions;",
    );
    let sql: Vec<Vec<&str>> = m
        .expand
        .steps
        .iter()
        .map(|s| s.statements.to_vec())
        .collect();
    assert_eq!(
        sql,
        [
            vec![
                "ALTER TABLE \"orders\" RENAME TO \"purchases\"",
                "CREATE VIEW \"orders\" AS SELECT * FROM \"purchases\""
            ],
            vec![],
            vec!["SELECT FROM \"sessions\" LIMIT 0"],
        ]
    );
    assert_eq!(phased(&m.expand.steps[1]).action, Action::DropNotNull);
    let contract: Vec<&str> = m
        .contract
        .steps
        .iter()
        .flat_map(|s| s.statements.iter().copied())
        .collect();
    assert_eq!(
        contract,
        [
            "DROP VIEW \"orders\"",
            "ALTER TABLE \"users\" DROP COLUMN \"legacy\"",
            "DROP TABLE \"sessions\""
        ]
    );
    // Undone in reverse order; a drop table has nothing to undo.
    let rollback: Vec<&'static str> = m.rollback.steps.iter().map(|s| s.description).collect();
    assert_eq!(
        rollback,
        [
            "restore not null on \"users\".\"legacy\" if the expand dropped it",
            "drop view \"orders\" and rename \"purchases\" back to \"orders\""
        ]
    );
    assert_eq!(m.expand.steps[2].lock, LockLevel::AccessShare);
}

#[test]
fn long_names_are_fitted() {
    let long = "c".repeat(60);
    let m = lower_body(&format!(
        "expand alter table users alter column {long} type bigint from int;"
    ));
    let Change::Column(c) = phased(&m.expand.steps[0]).change else {
        panic!("not a column change")
    };
    assert_eq!(c.new_column.len(), 63);
    assert!(c.new_column.starts_with("_zd_ccc"));
    assert_eq!(c.trigger.len(), 63);
}

#[test]
fn a_body_holding_the_dollar_quote_tag_gets_another() {
    let m = lower_body(
        "expand alter table t alter column c type text from int using c::text || \"$zd$\";",
    );
    let function = m.expand.steps[0].statements[1];
    assert!(
        function.contains("AS $zd1$\n") && function.ends_with("\n$zd1$"),
        "{function}"
    );
}

#[test]
fn plain_statements_touch_what_they_change() {
    let m = lower_body(
        "create index concurrently users_lower_email_idx on users (lower(email), id) where active;
         alter table users add column nickname text, alter column name set not null;
         unsafe(reason = \"test\", allow = [rename_table, rename_column]) {
             alter table users rename to accounts, rename column a to b;
         }
         comment on column orders.total is \"sum\";
         raw(reason = \"opaque\") \"update users set name = 'x'\";",
    );
    assert_eq!(
        m.touches,
        [
            "public.users.email",
            "public.users.id",
            "public.users.active",
            "public.users.nickname",
            "public.users.name",
            "public.users",
            "public.accounts",
            "public.accounts.a",
            "public.accounts.b",
            "public.orders.total",
        ]
    );
    assert!(m.rollback.steps.is_empty() && m.contract.steps.is_empty());
}

#[test]
fn errors_name_the_problem() {
    let e = errors(
        "expand alter table users rename column email to login;
         create index concurrently users_name_idx on users (name);",
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("a migration with `expand` operations holds only `expand` operations"),
        "{e:?}"
    );

    let e = errors("expand alter table users alter column email type text from varchar(10);");
    assert!(
        e[0].contains("does not rewrite `users`, so it needs no expand/contract"),
        "{e:?}"
    );

    let e = errors(
        "expand alter table users alter column n type bigint from int using n + random()::int;",
    );
    assert!(e[0].starts_with("a volatile `using` expression"), "{e:?}");

    let e = errors(
        "expand alter table users alter column n type bigint from int;
         expand alter table users rename to accounts;",
    );
    assert!(
        e[0].starts_with("`public.users` is already under expand/contract in this migration"),
        "{e:?}"
    );

    let e = errors("expand alter table users rename column a to a;");
    assert!(
        e[0].starts_with("column `a` already has that name"),
        "{e:?}"
    );

    let e = errors("expand alter table users drop column if exists legacy;");
    assert!(e[0].starts_with("`if exists` does not go with"), "{e:?}");

    let e = errors("expand create table x (id int);");
    assert!(
        e[0].starts_with("expected `alter table` or `drop table` after `expand`"),
        "{e:?}"
    );
}
