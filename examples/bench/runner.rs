//! Applying 200 small migrations to an empty database: `zerodown::Migrator::run` against
//! `sqlx::migrate::Migrator::run` with the same SQL.
//!
//! The sqlx migrations are files written from the zerodown plans (one file per migration, its steps'
//! statements joined), so both sides send the same statements; each side gets a fresh database per
//! repetition, and the sides alternate which goes first.

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::time::Instant;
use zerodown::{localdb, LockStrategy, Migration, Migrator};

use crate::migrations::MIGRATIONS;
use crate::Measured;

/// The SQL of one migration as a sqlx migration file: every expand step's statements, in order.
pub fn migration_sql(m: &Migration) -> String {
    let mut sql = String::new();
    for step in m.expand.steps {
        for statement in step.statements {
            sql.push_str(statement);
            sql.push_str(";\n");
        }
    }
    sql
}

/// Writes the migrations as sqlx migration files (`<version>_<name>.sql`) into `dir`.
fn write_sqlx_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("clearing {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    for m in MIGRATIONS {
        let path = dir.join(format!("{:04}_{}.sql", m.version, m.name));
        std::fs::write(&path, migration_sql(m))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The connect options of a side: with `async_commit`, commits do not wait for the WAL flush (a
/// diagnostic, to tell round trips from fsyncs).
fn side_options(db: &localdb::FreshDatabase, async_commit: bool) -> PgConnectOptions {
    let options = db.connect_options();
    if async_commit {
        options.options([("synchronous_commit", "off")])
    } else {
        options
    }
}

async fn zerodown_once(
    async_commit: bool,
    strategy: LockStrategy,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let db = localdb::fresh_database("bench_runner_zd").await?;
    let options = side_options(&db, async_commit);
    let migrator = Migrator::new(MIGRATIONS)?.lock_strategy(strategy);
    let started = Instant::now();
    let report = migrator.run(&options).await?;
    let took = started.elapsed();
    if report.migrations.len() != MIGRATIONS.len() {
        return Err(format!(
            "zerodown applied {} migrations, expected {}",
            report.migrations.len(),
            MIGRATIONS.len()
        )
        .into());
    }
    check_tables(&options).await?;
    db.drop_database().await?;
    Ok(took)
}

async fn sqlx_once(
    migrator: &sqlx::migrate::Migrator,
    async_commit: bool,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let db = localdb::fresh_database("bench_runner_sqlx").await?;
    let options = side_options(&db, async_commit);
    let started = Instant::now();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await?;
    migrator.run(&pool).await?;
    let took = started.elapsed();
    pool.close().await;
    check_tables(&options).await?;
    db.drop_database().await?;
    Ok(took)
}

/// Both sides must end with the same schema: 200 tables and 200 name indexes.
async fn check_tables(options: &PgConnectOptions) -> Result<(), Box<dyn std::error::Error>> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(options).await?;
    let (tables, indexes): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]{4}$'),
                (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname ~ '^t[0-9]{4}_name_idx$')",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    if (tables, indexes) != (200, 200) {
        return Err(
            format!("expected 200 tables and 200 indexes, found {tables} and {indexes}").into(),
        );
    }
    Ok(())
}

/// Runs `reps` repetitions of each side and returns the medians.
/// `strategy`: how zerodown's steps ask for their locks (the default looks at `pg_locks` first).
pub async fn bench(
    reps: usize,
    scratch: &Path,
    async_commit: bool,
    strategy: LockStrategy,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let dir = scratch.join("sqlx_migrations");
    write_sqlx_dir(&dir)?;
    // Resolved before timing, as `sqlx::migrate!` does at compile time.
    let sqlx_migrator = sqlx::migrate::Migrator::new(dir.as_path()).await?;
    if sqlx_migrator.iter().count() != MIGRATIONS.len() {
        return Err("sqlx did not resolve 200 migrations".into());
    }
    let statements: usize = MIGRATIONS
        .iter()
        .map(|m| {
            m.expand
                .steps
                .iter()
                .map(|s| s.statements.len())
                .sum::<usize>()
        })
        .sum();
    let steps: usize = MIGRATIONS.iter().map(|m| m.expand.steps.len()).sum();
    println!(
        "  {} migrations, {steps} steps, {statements} statements, {reps} repetitions per side",
        MIGRATIONS.len()
    );

    let (mut zd, mut sq) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        // Alternate the order so a warm-up or a burst of load from elsewhere hits both sides alike.
        if rep % 2 == 0 {
            zd.push(zerodown_once(async_commit, strategy).await?);
            sq.push(sqlx_once(&sqlx_migrator, async_commit).await?);
        } else {
            sq.push(sqlx_once(&sqlx_migrator, async_commit).await?);
            zd.push(zerodown_once(async_commit, strategy).await?);
        }
        println!(
            "  repetition {}: zerodown {:.3} s, sqlx {:.3} s",
            rep + 1,
            zd[rep].as_secs_f64(),
            sq[rep].as_secs_f64()
        );
    }
    let mut ratios: Vec<f64> = zd
        .iter()
        .zip(&sq)
        .map(|(z, s)| z.as_secs_f64() / s.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    Ok(Measured {
        ours: crate::median(&mut zd),
        theirs: crate::median(&mut sq),
        paired_ratio: ratios[ratios.len() / 2],
        samples: reps,
    })
}
