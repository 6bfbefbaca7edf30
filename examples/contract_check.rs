//! What the contract's copy check costs on a large table: the type change of `score` (int to bigint)
//! on two tables of N rows each (with a normalising `BEFORE` trigger, as applications have), completed
//! once with the tables' triggers untouched since the expand (the check is a comparison of trigger
//! fingerprints) and once after a trigger was disabled and enabled again (the check compares every row
//! online first). Also times the full comparison the contract makes under its lock when the triggers
//! change between the online check and the lock (rare; shown for scale).
//!
//! ```sh
//! cargo run --release --example contract_check -- --rows 1000000
//! ```
//!
//! The server comes from `zerodown::localdb` (`DATABASE_URL`, the local server, or a throwaway cluster).

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use zerodown::{Migration, MigrationReport, Migrator};

zerodown::migration! {
    /// `untouched.score` becomes `bigint`.
    pub mod m0001_untouched_score {
        set backfill_batch_size = 10_000;
        set backfill_pause = 0ms;
        expand alter table untouched alter column score type bigint from integer;
    }
}

zerodown::migration! {
    /// `touched.score` becomes `bigint`.
    pub mod m0002_touched_score {
        set backfill_batch_size = 10_000;
        set backfill_pause = 0ms;
        expand alter table touched alter column score type bigint from integer;
    }
}

fn rows_arg() -> Result<i64, String> {
    let mut args = std::env::args().skip(1);
    let mut rows = 1_000_000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rows" => {
                let value = args.next().ok_or("`--rows` needs a number")?;
                rows = value
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("`--rows {value}`: not a number"))?;
            }
            "-h" | "--help" => {
                return Err("usage: contract_check [--rows N]   (default 1000000)".to_owned())
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: contract_check [--rows N]"
                ))
            }
        }
    }
    Ok(rows)
}

fn table(name: &str, rows: i64) -> String {
    format!(
        "CREATE TABLE {name} (id bigint PRIMARY KEY, score int NOT NULL, note text NOT NULL DEFAULT '');
         CREATE FUNCTION normalize_{name}() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN NEW.score := greatest(NEW.score, 0); RETURN NEW; END $$;
         CREATE TRIGGER normalize_{name} BEFORE INSERT OR UPDATE ON {name} FOR EACH ROW EXECUTE FUNCTION normalize_{name}();
         INSERT INTO {name} (id, score) SELECT g, g % 1000 FROM generate_series(1, {rows}) g;"
    )
}

/// `(verify step, contract step)` durations of migration `version` in a `complete` report.
fn steps(report: &MigrationReport) -> (Duration, Duration) {
    (report.steps[0].duration, report.steps[1].duration)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows = match rows_arg() {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    let db = zerodown::localdb::fresh_database("contract_check").await?;
    let mut conn = PgConnection::connect_with(&db.connect_options()).await?;
    println!("loading 2 tables of {rows} rows ...");
    for name in ["untouched", "touched"] {
        conn.execute(table(name, rows).as_str()).await?;
        conn.execute(format!("VACUUM ANALYZE {name}").as_str())
            .await?;
    }
    let migrations: [&'static Migration; 2] = [
        &m0001_untouched_score::MIGRATION,
        &m0002_touched_score::MIGRATION,
    ];
    let migrator = Migrator::new(&migrations)?;
    let started = Instant::now();
    migrator.run(&db.connect_options()).await?;
    println!(
        "expand of both (backfills of {} rows): {:.1} s",
        2 * rows,
        started.elapsed().as_secs_f64()
    );

    // A trigger disabled for a moment on one table: a bulk load, `pg_restore --disable-triggers`.
    conn.execute("ALTER TABLE touched DISABLE TRIGGER ALL; UPDATE touched SET score = -1 WHERE id = 7; ALTER TABLE touched ENABLE TRIGGER ALL")
        .await?;
    let report = migrator.complete(&db.connect_options()).await?;
    let (v1, c1) = steps(&report.migrations[0]);
    let (v2, c2) = steps(&report.migrations[1]);

    // What the contract's comparison under the lock scans when triggers change after the online check.
    conn.execute("CREATE TABLE scan AS SELECT id, score, score::bigint AS score_new FROM touched")
        .await?;
    conn.execute("VACUUM ANALYZE scan").await?;
    let t = Instant::now();
    let differing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scan WHERE score_new IS DISTINCT FROM CAST(score AS bigint)",
    )
    .fetch_one(&mut conn)
    .await?;
    let scan = t.elapsed();
    assert_eq!(differing, 0);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!("{rows} rows per table | online check (verify step) | contract step (ACCESS EXCLUSIVE, incl. the check)");
    println!(
        "triggers untouched    | {:>10.1} ms               | {:>10.1} ms",
        ms(v1),
        ms(c1)
    );
    println!(
        "a trigger disabled    | {:>10.1} ms               | {:>10.1} ms",
        ms(v2),
        ms(c2)
    );
    println!();
    println!(
        "a full comparison under the lock (only when triggers change between the check and the lock): {:.1} ms for {rows} rows",
        ms(scan)
    );
    let kept: String = sqlx::query_scalar("SELECT score::text FROM touched WHERE id = 7")
        .fetch_one(&mut conn)
        .await?;
    println!("the write made with the trigger disabled survived the contract: score = {kept}");
    conn.close().await?;
    db.drop_database().await?;
    Ok(())
}
