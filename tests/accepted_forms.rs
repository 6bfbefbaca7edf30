//! Every statement form `migration!` accepts, expanded by the real macro, and its generated SQL run in
//! order against a real PostgreSQL: proves the rendered SQL is valid and does what it says.

mod common;
#[path = "../runtime/tests/support/locks.rs"]
mod locks;
mod version_gate;

use zerodown::Migration;

include!("corpus/accepted_forms.rs");

static ALL: &[&Migration] = MIGRATIONS;

#[tokio::test]
async fn every_accepted_form_runs_on_postgres() {
    let db = common::fresh_database("accepted_forms").await;
    let mut conn = db.connect().await;
    // These plans target PostgreSQL 12 (and use `include`, 11+): an older server refuses them;
    // `tests/versions.rs` runs the forms of older targets there.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), ALL).await {
        return;
    }
    for migration in ALL {
        assert_eq!(
            migration.checksum,
            migration.compute_checksum(),
            "checksum of {}",
            migration.name
        );
        for step in migration.expand.steps {
            for sql in step.statements {
                if let Err(e) = sqlx::raw_sql(sql).execute(&mut conn).await {
                    panic!(
                        "migration {} step `{}` failed:\n{sql}\n{e}",
                        migration.name, step.description
                    );
                }
            }
        }
    }
    // The end state the statements describe.
    let (nullable, ty): (String, String) = sqlx::query_as(
        "select is_nullable, data_type from information_schema.columns
         where table_name = 'users' and column_name = 'email'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((nullable.as_str(), ty.as_str()), ("NO", "text"));
    let seed: String = sqlx::query_scalar("select name from accounts where name like 'seed%'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(seed, "seed; 'quoted' $$ \\ ");
    // The schema the statements built is the one the compile-time catalog replayed.
    let differences = SCHEMA
        .differences(&db.inner.connect_options())
        .await
        .unwrap();
    assert!(
        differences.is_empty(),
        "{}",
        differences
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let invalid: i64 = sqlx::query_scalar("select count(*) from pg_index where not indisvalid")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(invalid, 0);
}

/// Every generated step of every accepted form, on tables holding rows: the strongest lock observed
/// equals the declared level and no table is rewritten unless the plan says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_form_takes_the_locks_it_declares() {
    let db = common::fresh_database("accepted_locks").await;
    let options = db.inner.connect_options();
    if version_gate::refused_as_too_new(&options, ALL).await {
        return;
    }
    let mut conn = db.connect().await;
    let mut failures = Vec::new();
    let mut observed = 0;
    for migration in ALL {
        for step in migration.expand.steps {
            match locks::observe_and_check(&options, step).await {
                Ok(seen) => {
                    observed += 1;
                    println!(
                        "{:<60} declared {:<24} seen {}",
                        step.description,
                        step.lock,
                        seen.strongest()
                    )
                }
                Err(e) => failures.push(format!("{}: {e}", migration.name)),
            }
        }
        if migration.version == 1 {
            // Rows, so scans and rewrites would show.
            sqlx::raw_sql(
                "insert into accounts (name) select 'a' || g from generate_series(1, 500) g;
                 insert into users (account_id, email, nickname, score)
                     select 1 + g % 500, 'u' || g || '@example.com', 'n' || g, 1 from generate_series(1, 2000) g;
                 insert into events (user_id, kind) select 1 + g % 2000, 'k' from generate_series(1, 2000) g;",
            )
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(observed > 15, "only {observed} steps observed");
}
