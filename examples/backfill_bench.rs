//! Backfill throughput: zerodown's batched backfill against a single `UPDATE` of the same rows.
//!
//! ```sh
//! cargo run --release --example backfill_bench -- --rows 1000000
//! ```
//!
//! For each variant a fresh copy of the table is loaded (`id bigint primary key, email text, email_lower
//! text`, N rows, vacuumed and analyzed), then `email_lower = lower(email)` is applied to every row:
//! once as one `UPDATE` (the practical ceiling, holding row locks on the whole table until it commits),
//! and through `Migrator::run` with the default pacing (batches adapting to a 150 ms target, no
//! pause), other targets, and fixed batch sizes and pauses (each batch its own transaction,
//! with the cursor saved in the history, then the verification count). The server comes from
//! `zerodown::localdb` (`DATABASE_URL`, the local server, or a throwaway cluster).

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use zerodown::{BackfillStage, Migration, Migrator};

zerodown::migration! {
    /// The default pacing: batches sized to take about 150 ms, back to back.
    pub mod m0001_default_pacing {
        backfill bench set email_lower = lower(email);
    }
}

zerodown::migration! {
    /// Batches sized to take about 50 ms.
    pub mod m0001_target_50ms {
        set backfill_target_batch = 50ms;
        backfill bench set email_lower = lower(email);
    }
}

zerodown::migration! {
    /// Batches sized to take about 300 ms.
    pub mod m0001_target_300ms {
        set backfill_target_batch = 300ms;
        backfill bench set email_lower = lower(email);
    }
}

zerodown::migration! {
    /// The pacing before adaptive batches: batches of 1000 rows, 10 ms apart.
    pub mod m0001_old_default {
        set backfill_batch_size = 1000;
        set backfill_pause = 10ms;
        backfill bench set email_lower = lower(email);
    }
}

zerodown::migration! {
    /// Batches of 1000 rows, back to back.
    pub mod m0001_no_pause {
        set backfill_batch_size = 1000;
        set backfill_pause = 0ms;
        backfill bench set email_lower = lower(email);
    }
}

zerodown::migration! {
    /// Batches of 10000 rows, back to back.
    pub mod m0001_large_batches {
        set backfill_batch_size = 10_000;
        set backfill_pause = 0ms;
        backfill bench set email_lower = lower(email);
    }
}

/// What the progress callback saw of one run.
#[derive(Debug, Clone, Default)]
struct Watched {
    /// Batches committed and the size of the next batch, at the last report.
    batches: (u64, u64),
    /// Elapsed time and ETA at the first report past 10% of the rows.
    at_tenth: Option<(Duration, Option<Duration>)>,
    /// Elapsed time when the main pass ended.
    pass_end: Option<Duration>,
}

const SINGLE_UPDATE: &str =
    "UPDATE bench SET email_lower = lower(email) WHERE email_lower IS DISTINCT FROM lower(email)";

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
                return Err("usage: backfill_bench [--rows N]   (default 1000000)".to_owned())
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: backfill_bench [--rows N]"
                ))
            }
        }
    }
    if rows < 1 {
        return Err("`--rows` must be at least 1".to_owned());
    }
    Ok(rows)
}

/// Drops and reloads the table (and forgets the history), so every variant starts from the same state.
async fn load(conn: &mut PgConnection, rows: i64) -> Result<(), sqlx::Error> {
    conn.execute(
        "DROP TABLE IF EXISTS bench, zerodown_migrations, zerodown_migrations_steps;
         CREATE TABLE bench (id bigint PRIMARY KEY, email text NOT NULL, email_lower text)",
    )
    .await?;
    conn.execute(
        format!(
            "INSERT INTO bench (id, email) SELECT g, 'User' || g || '@Example.COM' FROM generate_series(1, {rows}) g"
        )
        .as_str(),
    )
    .await?;
    conn.execute("VACUUM ANALYZE bench").await?;
    // Flush the load's dirty pages, so no variant pays for the previous one's writes (superuser only).
    if let Err(e) = conn.execute("CHECKPOINT").await {
        eprintln!("(no CHECKPOINT between variants: {e})");
    }
    Ok(())
}

async fn remaining(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM bench WHERE email_lower IS DISTINCT FROM lower(email)")
        .fetch_one(conn)
        .await
}

fn line(what: &str, rows: i64, took: Duration) {
    let secs = took.as_secs_f64();
    println!(
        "{what:<44} {secs:>8.2} s {:>12.0} rows/s",
        rows as f64 / secs
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows = rows_arg()?;
    let db = zerodown::localdb::fresh_database("backfill_bench").await?;
    let mut conn = PgConnection::connect_with(&db.connect_options()).await?;
    println!(
        "backfill of `email_lower = lower(email)` on {rows} rows, {} ({})",
        db.version(),
        db.redacted_url()
    );
    println!("{:<44} {:>10} {:>19}", "variant", "time", "throughput");

    load(&mut conn, rows).await?;
    let started = Instant::now();
    conn.execute(SINGLE_UPDATE).await?;
    line("single UPDATE (one transaction)", rows, started.elapsed());
    assert_eq!(remaining(&mut conn).await?, 0);

    let variants: [(&str, &'static Migration); 6] = [
        (
            "zerodown, defaults (adaptive, 150 ms)",
            &m0001_default_pacing::MIGRATION,
        ),
        (
            "zerodown, adaptive, target 50 ms",
            &m0001_target_50ms::MIGRATION,
        ),
        (
            "zerodown, adaptive, target 300 ms",
            &m0001_target_300ms::MIGRATION,
        ),
        (
            "zerodown, 1000 rows + 10 ms (old default)",
            &m0001_old_default::MIGRATION,
        ),
        (
            "zerodown, batches of 1000, no pause",
            &m0001_no_pause::MIGRATION,
        ),
        (
            "zerodown, batches of 10000, no pause",
            &m0001_large_batches::MIGRATION,
        ),
    ];
    for (what, migration) in variants {
        load(&mut conn, rows).await?;
        let watched = std::sync::Arc::new(std::sync::Mutex::new(Watched::default()));
        let sink = watched.clone();
        let migrator = Migrator::new(&[migration])?.on_progress(move |p| {
            let mut w = sink
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            w.batches = (p.batches, p.batch_size);
            if w.at_tenth.is_none() && p.fraction().is_some_and(|f| f >= 0.1) {
                w.at_tenth = Some((p.elapsed, p.eta));
            }
            if p.stage != BackfillStage::Batches && w.pass_end.is_none() {
                w.pass_end = Some(p.elapsed);
            }
        });
        let started = Instant::now();
        migrator.run(&db.connect_options()).await?;
        line(what, rows, started.elapsed());
        let w = watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        eprintln!(
            "  ({what}: {} batches, last size {})",
            w.batches.0, w.batches.1
        );
        if let (Some((at, Some(eta))), Some(end)) = (w.at_tenth, w.pass_end) {
            let actual = end.saturating_sub(at).as_secs_f64();
            println!(
                "  eta at 10% of the main pass: {:.2} s predicted, {actual:.2} s actual ({:+.0}%)",
                eta.as_secs_f64(),
                (eta.as_secs_f64() / actual - 1.0) * 100.0
            );
        }
        assert_eq!(remaining(&mut conn).await?, 0);
    }
    conn.close().await?;
    db.drop_database().await?;
    Ok(())
}
