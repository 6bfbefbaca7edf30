//! Drift: an applied migration whose plan changed is reported with what changed and how to resolve
//! it, and `accept_drift` records a deliberate change.

mod support;

use support::db::fresh_database;
use support::plans::{migration, settings, tx};
use zerodown_runtime::plan::{LockLevel, Settings};
use zerodown_runtime::{Error, Migrator};

#[tokio::test]
async fn changed_plan_of_an_applied_migration_is_refused_then_accepted() {
    support::init_tracing();
    let db = fresh_database("drift").await;
    db.exec("CREATE TABLE t (id int PRIMARY KEY, a text, b text)")
        .await;
    let step_a = || {
        tx(
            "index t",
            &["CREATE INDEX t_idx ON t (a)"],
            LockLevel::Share,
            &["\"t\""],
        )
    };
    let other = || {
        tx(
            "comment",
            &["COMMENT ON TABLE t IS 'x'"],
            LockLevel::ShareUpdateExclusive,
            &["\"t\""],
        )
    };
    let original = migration(1, "t_idx", settings(), vec![other(), step_a()], vec![]);
    let later = migration(
        2,
        "later",
        settings(),
        vec![tx(
            "create z",
            &["CREATE TABLE z (id int)"],
            LockLevel::None,
            &[],
        )],
        vec![],
    );
    Migrator::new(&[original])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap();

    // Someone edits the applied migration instead of writing a new one.
    let edited = migration(
        1,
        "t_idx",
        settings(),
        vec![
            other(),
            tx(
                "index t",
                &["CREATE INDEX t_idx ON t (b)"],
                LockLevel::Share,
                &["\"t\""],
            ),
        ],
        vec![],
    );
    let migrator = Migrator::new(&[edited, later]).unwrap();
    let err = migrator.run(&db.options).await.unwrap_err();
    let text = err.to_string();
    println!("{text}");
    let Error::Drift(drifts) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(drifts.len(), 1);
    assert_eq!(drifts[0].changes.len(), 1);
    assert_eq!(drifts[0].changes[0].index, 1);
    assert!(
        text.contains("migration 1 `t_idx` was recorded with a different plan"),
        "{text}"
    );
    assert!(text.contains("expand step 2 `index t`: SQL was `CREATE INDEX t_idx ON t (a);`, now `CREATE INDEX t_idx ON t (b);`"), "{text}");
    assert!(
        text.contains("revert the edit and put the change in a new migration"),
        "{text}"
    );
    assert!(
        text.contains("`migrate accept-drift 1` (`Migrator::accept_drift`)"),
        "{text}"
    );
    // Nothing ran: migration 2 is still pending.
    assert!(
        !db.scalar::<bool>("SELECT to_regclass('z') IS NOT NULL")
            .await
    );
    assert!(matches!(
        migrator.plan(&db.options).await.unwrap_err(),
        Error::Drift(_)
    ));
    let status = migrator.status(&db.options).await.unwrap();
    assert_eq!(status.drifted().count(), 1);
    assert!(status.to_string().contains("DRIFTED"), "{status}");

    // The operator made the same change by hand and accepts the new plan.
    db.exec("DROP INDEX t_idx; CREATE INDEX t_idx ON t (b)")
        .await;
    let accepted = migrator.accept_drift(&db.options, 1).await.unwrap();
    assert_eq!(accepted.map(|d| d.migration.version), Some(1));
    assert_eq!(
        migrator.accept_drift(&db.options, 1).await.unwrap(),
        None,
        "nothing left to accept"
    );
    let report = migrator.run(&db.options).await.unwrap();
    assert_eq!(report.migrations.len(), 1, "only migration 2 ran: {report}");
    assert!(migrator.status(&db.options).await.unwrap().is_up_to_date());
    let sql: String = db
        .scalar("SELECT sql FROM zerodown_migrations_steps WHERE version = 1 AND step_index = 1")
        .await;
    assert_eq!(sql, "CREATE INDEX t_idx ON t (b);");
    db.drop_database().await;
}

#[tokio::test]
async fn changed_settings_are_drift_too() {
    let db = fresh_database("drift_settings").await;
    let step = || {
        tx(
            "create a",
            &["CREATE TABLE a (id int)"],
            LockLevel::None,
            &[],
        )
    };
    Migrator::new(&[migration(1, "a", settings(), vec![step()], vec![])])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap();
    let slower = migration(
        1,
        "a",
        Settings {
            retry_attempts: 3,
            ..settings()
        },
        vec![step()],
        vec![],
    );
    let err = Migrator::new(&[slower])
        .unwrap()
        .run(&db.options)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the steps' descriptions and SQL are the same, so its settings, timeouts, lock levels or step kinds changed"),
        "{err}"
    );
    db.drop_database().await;
}
