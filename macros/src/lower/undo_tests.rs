//! The undo derived for each form: which expand steps get an inverse, which are irreversible, and
//! what stays in effect while a migration is unfinished.

use zerodown_runtime::plan::{Migration, Postcondition, Transaction};

use super::dsl_tests::lower_body;
use super::naming;

/// (expand step undone, statements) per inverse step, in the order a rollback runs them.
fn inverses(m: &Migration) -> Vec<(usize, Vec<&'static str>)> {
    m.undo
        .of
        .iter()
        .zip(m.undo.steps)
        .map(|(of, s)| (*of, s.statements.to_vec()))
        .collect()
}

fn irreversible(m: &Migration) -> Vec<usize> {
    m.undo.irreversible.iter().map(|r| r.step).collect()
}

#[test]
fn set_not_null_drops_its_helper_check_and_the_not_null() {
    let m = lower_body("alter table users alter column email set not null;");
    let helper = naming::not_null_check("users", "email", naming::PlanGeneration::Current);
    assert_eq!(m.expand.steps.len(), 3);
    assert_eq!(
        inverses(&m),
        [
            (
                2,
                vec!["ALTER TABLE \"users\" ALTER COLUMN \"email\" DROP NOT NULL"]
            ),
            (
                0,
                vec![&*format!(
                    "ALTER TABLE \"users\" DROP CONSTRAINT IF EXISTS \"{helper}\""
                )]
            ),
        ]
    );
    assert!(irreversible(&m).is_empty());
    assert!(m.undo.derived);
    // Stopped after the helper check (step 0) or its validation (step 1): the check is live.
    let after = |n| m.undo.live_after(n).collect::<Vec<_>>();
    let check = format!(
        "the check constraint \"{helper}\" (NOT VALID) on \"users\" stays: inserts and updates writing NULL into \"email\" fail"
    );
    assert_eq!(after(1), [check.as_str()]);
    assert_eq!(after(2), [check.as_str()]);
    assert_eq!(
        after(3),
        ["\"users\".\"email\" is NOT NULL: inserts and updates writing NULL into it fail"]
    );
    // The undo is derived, not hashed: the checksum is the plan's without it.
    let mut without = m;
    without.undo = zerodown_runtime::plan::Undo::NONE;
    assert_eq!(without.compute_checksum(), m.checksum);
}

#[test]
fn a_concurrent_index_is_dropped_concurrently_and_raw_sql_is_irreversible() {
    let m = lower_body(
        r#"create index concurrently users_email_idx on users (email);
           raw(reason = "fix data", lock = row_exclusive) "UPDATE users SET email = lower(email)";"#,
    );
    assert_eq!(m.expand.steps.len(), 2);
    assert_eq!(
        inverses(&m),
        [(
            0,
            vec!["DROP INDEX CONCURRENTLY IF EXISTS \"users_email_idx\""]
        )]
    );
    let drop = &m.undo.steps[0];
    assert_eq!(drop.transaction, Transaction::Alone);
    assert_eq!(
        drop.postcondition,
        Postcondition::IndexAbsent {
            schema: "",
            index: "users_email_idx"
        }
    );
    assert_eq!(drop.lock_timeout_ms, m.settings.online_lock_timeout_ms);
    assert_eq!(irreversible(&m), [1]);
    assert!(
        m.undo.why_irreversible(1).unwrap().contains("raw SQL"),
        "{:?}",
        m.undo.irreversible
    );
}

#[test]
fn the_volatile_default_recipe_drops_the_column_it_added() {
    let m =
        lower_body("alter table users add column token uuid default gen_random_uuid() not null;");
    // add column + set default; backfill; helper check; validate; set not null + drop helper
    assert_eq!(m.expand.steps.len(), 5);
    let helper = naming::not_null_check("users", "token", naming::PlanGeneration::Current);
    assert_eq!(
        inverses(&m),
        [
            (
                4,
                vec!["ALTER TABLE \"users\" ALTER COLUMN \"token\" DROP NOT NULL"]
            ),
            (
                2,
                vec![&*format!(
                    "ALTER TABLE \"users\" DROP CONSTRAINT IF EXISTS \"{helper}\""
                )]
            ),
            (
                0,
                vec!["ALTER TABLE \"users\" DROP COLUMN IF EXISTS \"token\""]
            ),
        ]
    );
    assert!(irreversible(&m).is_empty(), "{:?}", m.undo.irreversible);
}

#[test]
fn backfills_of_existing_columns_are_irreversible_of_added_ones_not() {
    let m = lower_body(
        "alter table users add column score int;
         backfill users set score = 0;
         backfill users set name = lower(name) where name <> lower(name);",
    );
    assert_eq!(m.expand.steps.len(), 3);
    assert_eq!(
        inverses(&m),
        [(
            0,
            vec!["ALTER TABLE \"users\" DROP COLUMN IF EXISTS \"score\""]
        )]
    );
    assert_eq!(irreversible(&m), [2]);
    assert!(m.undo.why_irreversible(2).unwrap().contains("\"name\""));
}

#[test]
fn a_created_table_is_dropped_only_when_empty() {
    let m = lower_body(
        "create table events (id bigint primary key, user_id bigint not null references users (id));
         create index events_user_idx on events (user_id);",
    );
    assert_eq!(m.expand.steps.len(), 1);
    let (of, statements) = &inverses(&m)[0];
    assert_eq!(*of, 0);
    assert_eq!(
        statements[0],
        "LOCK TABLE \"events\" IN ACCESS EXCLUSIVE MODE"
    );
    assert!(
        statements[1].starts_with("DO $zd0$ BEGIN IF EXISTS (SELECT FROM \"events\") THEN RAISE")
    );
    assert_eq!(statements[2], "DROP TABLE \"events\"");
    assert_eq!(m.undo.steps[0].tables, ["\"events\"", "\"users\""]);
}

#[test]
fn drops_and_if_not_exists_forms_are_irreversible() {
    for body in [
        "alter table users add column if not exists score int;",
        "create index concurrently if not exists users_email_idx on users (email);",
        "unsafe(reason = \"gone\", allow = [drop_column]) { alter table users drop column legacy; }",
        "alter type mood add value \"meh\";",
    ] {
        let m = lower_body(body);
        assert_eq!(irreversible(&m), [0], "{body}: {:?}", m.undo);
        assert!(m.undo.steps.is_empty(), "{body}");
    }
}
