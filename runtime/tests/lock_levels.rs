//! Every step's declared lock level and `rewrites` flag against what PostgreSQL really does, using the
//! reusable observer in `support::locks`. Applied here to hand-built plans covering the kinds of steps
//! the macro generates; the same helper checks the macro's own output.

mod support;

use support::db::{fresh_database, TestDb};
use support::locks::{check, observe, observe_and_check};
use support::plans::{cic, migration, settings, tx};
use zerodown_runtime::plan::{LockLevel, Postcondition, Step, StepKind, Transaction};
use zerodown_runtime::Migrator;

fn alone(description: &str, sql: &str, lock: LockLevel, tables: &[&str]) -> Step {
    Step {
        transaction: Transaction::Alone,
        lock_timeout_ms: 60_000,
        statement_timeout_ms: 3_600_000,
        ..tx(description, &[sql], lock, tables)
    }
}

fn rewriting(mut step: Step) -> Step {
    step.rewrites = true;
    step
}

/// The steps, in order, of an online schema change on existing tables `users` and `orders`, as
/// they behave on a server of major version `server`.
fn steps(server: i32) -> Vec<Step> {
    use LockLevel::*;
    let users = &["\"users\""][..];
    let orders = &["\"orders\""][..];
    let both = &["\"orders\"", "\"users\""][..];
    vec![
        tx("create table \"audit\"", &["CREATE TABLE audit (id bigint PRIMARY KEY)"], None, &[]),
        tx("add column \"nickname\"", &["ALTER TABLE users ADD COLUMN nickname text"], AccessExclusive, users),
        // Before PostgreSQL 11 a non-null default is written into every row: a rewrite.
        {
            let step = tx("add column \"active\" with a constant default", &["ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true"], AccessExclusive, users);
            if server < 11 { rewriting(step) } else { step }
        },
        tx("set default", &["ALTER TABLE users ALTER COLUMN nickname SET DEFAULT ''"], AccessExclusive, users),
        tx("widen varchar", &["ALTER TABLE users ALTER COLUMN email TYPE varchar(200)"], AccessExclusive, users),
        rewriting(tx("change type int to bigint", &["ALTER TABLE orders ALTER COLUMN qty TYPE bigint"], AccessExclusive, orders)),
        rewriting(tx("add column with a volatile default", &["ALTER TABLE orders ADD COLUMN token float8 DEFAULT random()"], AccessExclusive, orders)),
        tx(
            "add check not valid",
            &["ALTER TABLE users ADD CONSTRAINT users_nickname_nn CHECK (nickname IS NOT NULL) NOT VALID"],
            AccessExclusive,
            users,
        ),
        tx("fill nicknames", &["UPDATE users SET nickname = '' WHERE nickname IS NULL"], RowExclusive, users),
        Step {
            postcondition: Postcondition::ConstraintValidated { table: "\"users\"", constraint: "users_nickname_nn" },
            ..tx("validate check", &["ALTER TABLE users VALIDATE CONSTRAINT users_nickname_nn"], ShareUpdateExclusive, users)
        },
        tx(
            "add foreign key not valid",
            &["ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID"],
            ShareRowExclusive,
            both,
        ),
        tx("validate foreign key", &["ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk"], ShareUpdateExclusive, both),
        tx("comment on table", &["COMMENT ON TABLE users IS 'people'"], ShareUpdateExclusive, users),
        cic("users_email_idx", "users", "\"email\"", true),
        // Brief (no scan, no rewrite) but ACCESS EXCLUSIVE all the same.
        tx(
            "attach unique constraint using the index",
            &["ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx"],
            AccessExclusive,
            users,
        ),
        cic("orders_user_idx", "orders", "\"user_id\"", false),
        Step {
            kind: StepKind::Sql,
            postcondition: Postcondition::IndexAbsent { schema: "", index: "orders_user_idx" },
            ..alone("drop index concurrently", "DROP INDEX CONCURRENTLY orders_user_idx", ShareUpdateExclusive, orders)
        },
        tx("drop column", &["ALTER TABLE orders DROP COLUMN token"], AccessExclusive, orders),
    ]
}

async fn server_major(db: &TestDb) -> i32 {
    db.scalar("SELECT current_setting('server_version_num')::int / 10000")
        .await
}

async fn schema(db: &TestDb) {
    db.exec(
        "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100) NOT NULL);
         CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, qty int);
         INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 2000) g;
         INSERT INTO orders SELECT g, g % 2000 + 1, g FROM generate_series(1, 5000) g",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_locks_and_rewrites_match_what_postgres_does() {
    let db = fresh_database("lock_levels").await;
    schema(&db).await;
    let mut failures = Vec::new();
    for step in steps(server_major(&db).await) {
        match observe_and_check(&db.options, &step).await {
            Ok(seen) => println!(
                "{:<45} {:<24} rewrites: {:?}",
                step.description,
                seen.strongest().to_string(),
                seen.rewritten
            ),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    db.drop_database().await;
}

#[tokio::test]
async fn the_same_plan_runs_through_the_migrator() {
    let db = fresh_database("lock_levels_migrator").await;
    schema(&db).await;
    let server = server_major(&db).await;
    let m = migration(1, "online_changes", settings(), steps(server), vec![]);
    let report = Migrator::new(&[m]).unwrap().run(&db.options).await.unwrap();
    assert_eq!(report.migrations[0].steps.len(), steps(server).len());
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
            .await,
        0
    );
    db.drop_database().await;
}

#[tokio::test]
async fn the_observer_catches_wrong_declarations() {
    let db = fresh_database("lock_levels_wrong").await;
    schema(&db).await;
    // Understated lock: adding a column takes ACCESS EXCLUSIVE, not SHARE UPDATE EXCLUSIVE.
    let understated = tx(
        "add column",
        &["ALTER TABLE users ADD COLUMN x int"],
        LockLevel::ShareUpdateExclusive,
        &["\"users\""],
    );
    let err = observe_and_check(&db.options, &understated)
        .await
        .unwrap_err();
    assert!(
        err.contains("declared lock SHARE UPDATE EXCLUSIVE but observed ACCESS EXCLUSIVE"),
        "{err}"
    );
    // Hidden rewrite.
    let hidden = tx(
        "change type",
        &["ALTER TABLE orders ALTER COLUMN qty TYPE numeric"],
        LockLevel::AccessExclusive,
        &["\"orders\""],
    );
    let err = observe_and_check(&db.options, &hidden).await.unwrap_err();
    assert!(
        err.contains("declared rewrites = false but rewritten tables are [\"\\\"orders\\\"\"]"),
        "{err}"
    );
    // Overstated lock of a step run alone.
    let overstated = Step {
        lock: LockLevel::Share,
        ..cic("users_x_idx", "users", "\"x\"", false)
    };
    let seen = observe(&db.options, &overstated).await.unwrap();
    assert_eq!(seen.strongest(), LockLevel::ShareUpdateExclusive);
    assert!(check(&overstated, &seen).is_err());
    db.drop_database().await;
}
