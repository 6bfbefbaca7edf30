//! What "converged" means: the database a faulty run ends with equals the one a run without faults
//! ends with, in catalog, data and history, with no INVALID index and the migration lock free.

use std::time::Duration;

use sqlx::PgConnection;

use super::db::TestDb;
use super::set;

/// The schema objects of `public`, one line each, sorted: columns (type, nullability, default),
/// indexes (definition, valid/ready flags), constraints (definition, validated flag), triggers,
/// views and sequences, functions.
const CATALOG: &str = "
SELECT coalesce(array_agg(line ORDER BY line), '{}') FROM (
    SELECT format('column %s.%s %s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                  CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                  coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')) AS line
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('index %s%s%s', pg_get_indexdef(i.indexrelid),
                  CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END,
                  CASE WHEN i.indisready THEN '' ELSE ' NOT READY' END)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT format('constraint %s %s %s%s', conrelid::regclass, conname, pg_get_constraintdef(oid),
                  CASE WHEN convalidated THEN '' ELSE ' NOT VALIDATED' END)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT format('trigger %s %s', tgrelid::regclass, tgname) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT format('relation %s kind %s', relname, relkind) FROM pg_class
    WHERE relnamespace = 'public'::regnamespace AND relkind IN ('v', 'm', 'S')
    UNION ALL
    SELECT format('function %s', oid::regprocedure) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
) lines";

/// The state a run leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// See [`CATALOG`].
    pub catalog: Vec<String>,
    /// `table: md5 of its rows in key order` for the tables only migrations write (the writer's
    /// `orders` rows are checked separately).
    pub data: Vec<String>,
    /// `(version, rows in effects)`.
    pub effects: Vec<(i32, i64)>,
    /// Migration rows: `version name checksum state last_error`.
    pub migrations: Vec<String>,
    /// Step rows: `version phase index state description sql`.
    pub steps: Vec<String>,
}

async fn strings(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

impl Snapshot {
    pub async fn take(db: &TestDb) -> Snapshot {
        let mut c = db.connect().await;
        let catalog = strings(&mut c, CATALOG).await;
        let mut data = Vec::new();
        for (table, filter) in [
            ("users", String::new()),
            ("events", String::new()),
            ("accounts", String::new()),
            ("orders", format!("WHERE id <= {}", set::ORDERS)),
        ] {
            let sql = format!("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), 'empty') FROM {table} t {filter}");
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(table)
                .fetch_one(&mut c)
                .await
                .unwrap();
            let md5: String = if exists {
                sqlx::query_scalar(&sql).fetch_one(&mut c).await.unwrap()
            } else {
                "absent".into()
            };
            data.push(format!("{table}: {md5}"));
        }
        let effects = sqlx::query_as("SELECT version, count(*) FROM effects GROUP BY 1 ORDER BY 1")
            .fetch_all(&mut c)
            .await
            .unwrap();
        let history: bool =
            sqlx::query_scalar("SELECT to_regclass('zerodown_migrations_steps') IS NOT NULL")
                .fetch_one(&mut c)
                .await
                .unwrap();
        let (migrations, steps) = if history {
            (
                strings(
                    &mut c,
                    "SELECT coalesce(array_agg(format('%s %s %s %s %s', version, name, checksum, state, coalesce(last_error, '-')) ORDER BY version), '{}')
                     FROM zerodown_migrations",
                )
                .await,
                strings(
                    &mut c,
                    "SELECT coalesce(array_agg(format('%s %s %s %s `%s` `%s`', version, phase, step_index, state, description, sql)
                                               ORDER BY version, phase, step_index), '{}')
                     FROM zerodown_migrations_steps",
                )
                .await,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Snapshot {
            catalog,
            data,
            effects,
            migrations,
            steps,
        }
    }

    /// What differs from `expected`, as readable lines; empty when equal.
    pub fn diff(&self, expected: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        diff_lines("catalog", &self.catalog, &expected.catalog, &mut out);
        diff_lines("data", &self.data, &expected.data, &mut out);
        let fmt = |e: &[(i32, i64)]| {
            e.iter()
                .map(|(v, n)| format!("version {v} x{n}"))
                .collect::<Vec<_>>()
        };
        diff_lines(
            "effects",
            &fmt(&self.effects),
            &fmt(&expected.effects),
            &mut out,
        );
        diff_lines("history", &self.migrations, &expected.migrations, &mut out);
        diff_lines("steps", &self.steps, &expected.steps, &mut out);
        out
    }
}

fn diff_lines(what: &str, got: &[String], want: &[String], out: &mut Vec<String>) {
    for line in want.iter().filter(|l| !got.contains(l)) {
        out.push(format!("{what}: missing   {line}"));
    }
    for line in got.iter().filter(|l| !want.contains(l)) {
        out.push(format!("{what}: unexpected {line}"));
    }
}

/// Checks that `db` converged to `expected`: same snapshot, no INVALID index, the migration lock
/// free, every migration completed and recorded without error. Returns the problems.
pub async fn converged(db: &TestDb, expected: &Snapshot) -> Vec<String> {
    let got = Snapshot::take(db).await;
    let mut problems = got.diff(expected);
    let invalid: i64 = db
        .scalar("SELECT count(*) FROM pg_index WHERE NOT indisvalid OR NOT indisready")
        .await;
    if invalid > 0 {
        problems.push(format!("{invalid} INVALID index(es) left"));
    }
    if !db.wait_advisory_free(Duration::from_secs(5)).await {
        problems.push("the migration lock is still held 5 s after the run".into());
    }
    problems
}

/// Checks what must hold at any moment, even right after a kill: each migration's effect at most once,
/// rows of the tables no migration deletes from all there, and (once the killed runner's sessions are
/// gone) the migration lock free.
pub async fn invariants(db: &TestDb) -> Vec<String> {
    let mut problems = Vec::new();
    let effects: Vec<(i32, i64)> =
        sqlx::query_as("SELECT version, count(*) FROM effects GROUP BY 1 HAVING count(*) > 1")
            .fetch_all(&mut db.connect().await)
            .await
            .unwrap();
    if !effects.is_empty() {
        problems.push(format!("a migration's transaction ran twice: {effects:?}"));
    }
    let users: i64 = db.scalar("SELECT count(*) FROM users").await;
    if users != set::USERS {
        problems.push(format!("users has {users} rows, expected {}", set::USERS));
    }
    let orders: i64 = db
        .scalar(&format!(
            "SELECT count(*) FROM orders WHERE id <= {}",
            set::ORDERS
        ))
        .await;
    if orders != set::ORDERS {
        problems.push(format!(
            "orders has {orders} of its {} original rows",
            set::ORDERS
        ));
    }
    if !db.wait_advisory_free(Duration::from_secs(5)).await {
        problems.push("the migration lock is still held 5 s after the runner died".into());
    }
    problems
}

/// Runs the set on `db` from the starting state without faults and returns what it ends with and how
/// long it took.
pub async fn reference(db: &TestDb) -> (Snapshot, Duration) {
    if set::server() < zerodown::PgVersion(12) {
        // The not-null recipe needs 12: the full set must be refused before anything runs.
        db.reset(&set::setup()).await;
        let all = zerodown::Migrator::new(&set::all()).expect("the set is valid");
        let err = all
            .run(&db.options())
            .await
            .expect_err("the full set on a server older than 12");
        assert!(
            matches!(err, zerodown::Error::ServerTooOld { .. })
                && err.to_string().contains("name_not_null"),
            "{err}"
        );
        assert_eq!(
            db.scalar::<i64>("SELECT count(*) FROM effects").await,
            0,
            "nothing ran"
        );
        println!("PostgreSQL {}: the set runs without its not-null recipe (12+), which the runtime refused: {err}", set::server().0);
    }
    db.reset(&set::setup()).await;
    let started = tokio::time::Instant::now();
    let migrator = set::migrator("zdrel-reference");
    migrator
        .run(&db.options())
        .await
        .expect("the reference run");
    migrator
        .complete(&db.options())
        .await
        .expect("the reference complete");
    let took = started.elapsed();
    let reference = Snapshot::take(db).await;
    assert_eq!(
        reference.effects,
        set::effect_versions()
            .into_iter()
            .map(|v| (v, 1))
            .collect::<Vec<_>>()
    );
    let sane = converged(db, &reference).await;
    assert!(sane.is_empty(), "the reference run itself: {sane:?}");
    (reference, took)
}
