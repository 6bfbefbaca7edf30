//! Backfill throughput: zerodown's batched backfill against a single `UPDATE` of the same rows.
//!
//! ```sh
//! cargo run --release --example backfill_bench -- --rows 1000000 --reps 3
//! ```
//!
//! For each variant a fresh copy of the table is loaded (`id bigint primary key, email text, email_lower
//! text`, N rows, vacuumed and analyzed), then `email_lower = lower(email)` is applied to every row:
//! as one `UPDATE` (the practical ceiling, holding row locks on the whole table until it commits),
//! and through `Migrator::run` with the default pacing (batches adapting to a 150 ms target, no
//! pause), other targets, and fixed batch sizes and pauses (each batch its own transaction,
//! with the cursor saved in the history, then the verification count). The single `UPDATE` and the
//! defaults run `--reps` times in alternating order and print their medians and the median of the
//! paired speed ratios; the other variants run once. The server comes from `zerodown::localdb`
//! (`DATABASE_URL`, the local server, or a throwaway cluster).

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
    /// Progress reports that said the backfill was throttled, and why (none expected here).
    throttled: Vec<String>,
}

const SINGLE_UPDATE: &str =
    "UPDATE bench SET email_lower = lower(email) WHERE email_lower IS DISTINCT FROM lower(email)";

/// The command line: rows in the table, and how many times the single `UPDATE` and the defaults run.
struct Args {
    rows: i64,
    reps: usize,
}

const USAGE: &str = "usage: backfill_bench [--rows N] [--reps N]   (defaults 1000000 and 3)";

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        rows: 1_000_000,
        reps: 3,
    };
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> Result<i64, String> {
            let value = args.next().ok_or(format!("`{flag}` needs a number"))?;
            value
                .replace('_', "")
                .parse()
                .map_err(|_| format!("`{flag} {value}`: not a number"))
        };
        match arg.as_str() {
            "--rows" => parsed.rows = number("--rows")?,
            "--reps" => parsed.reps = number("--reps")?.clamp(0, 100) as usize,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    if parsed.rows < 1 {
        return Err("`--rows` must be at least 1".to_owned());
    }
    if parsed.reps < 1 {
        return Err("`--reps` must be between 1 and 100".to_owned());
    }
    Ok(parsed)
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
    let Args { rows, reps } = parse_args()?;
    let db = zerodown::localdb::fresh_database("backfill_bench").await?;
    let mut conn = PgConnection::connect_with(&db.connect_options()).await?;
    println!(
        "backfill of `email_lower = lower(email)` on {rows} rows, {} ({})",
        db.version(),
        db.redacted_url()
    );
    println!("{:<44} {:>10} {:>19}", "variant", "time", "throughput");

    // The single UPDATE and the defaults, `reps` times each, in turns whose order alternates, so a
    // burst of load or a checkpoint from elsewhere falls on both alike; each line is their median.
    let defaults = (
        "zerodown, defaults (adaptive, 150 ms)",
        &m0001_default_pacing::MIGRATION,
    );
    let (mut single, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut watched_defaults = Watched::default();
    for rep in 0..reps {
        let (mut s, mut z) = (Duration::ZERO, Duration::ZERO);
        for first in [rep % 2 == 0, rep % 2 != 0] {
            if first {
                s = single_update(&mut conn, rows).await?;
            } else {
                let (took, watched) = backfill(&db, &mut conn, rows, defaults.1).await?;
                (z, watched_defaults) = (took, watched);
            }
        }
        eprintln!(
            "  (repetition {}: single UPDATE {:.2} s, defaults {:.2} s, {:.2}x)",
            rep + 1,
            s.as_secs_f64(),
            z.as_secs_f64(),
            s.as_secs_f64() / z.as_secs_f64()
        );
        single.push(s);
        ours.push(z);
        ratios.push(s.as_secs_f64() / z.as_secs_f64());
    }
    line("single UPDATE (one transaction)", rows, median(&mut single));
    line(defaults.0, rows, median(&mut ours));
    report(defaults.0, &watched_defaults);
    ratios.sort_by(f64::total_cmp);
    println!(
        "  speed of the defaults against the single UPDATE: {:.2}x (median of {reps} paired runs; from {:.2}x to {:.2}x)",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );

    let variants: [(&str, &'static Migration); 5] = [
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
        let (took, watched) = backfill(&db, &mut conn, rows, migration).await?;
        line(what, rows, took);
        report(what, &watched);
    }
    conn.close().await?;
    db.drop_database().await?;
    Ok(())
}

/// The median (the upper one for an even count).
fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Loads the table and times the single `UPDATE`.
async fn single_update(
    conn: &mut PgConnection,
    rows: i64,
) -> Result<Duration, Box<dyn std::error::Error>> {
    load(conn, rows).await?;
    let started = Instant::now();
    conn.execute(SINGLE_UPDATE).await?;
    let took = started.elapsed();
    assert_eq!(remaining(conn).await?, 0);
    Ok(took)
}

/// Loads the table and times `Migrator::run` of `migration`, watching its progress.
async fn backfill(
    db: &zerodown::localdb::FreshDatabase,
    conn: &mut PgConnection,
    rows: i64,
    migration: &'static Migration,
) -> Result<(Duration, Watched), Box<dyn std::error::Error>> {
    load(conn, rows).await?;
    let watched = std::sync::Arc::new(std::sync::Mutex::new(Watched::default()));
    let sink = watched.clone();
    let migrator = Migrator::new(&[migration])?.on_progress(move |p| {
        let mut w = sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        w.batches = (p.batches, p.batch_size);
        if let zerodown::BackfillState::Throttled(reason) = p.state {
            w.throttled.push(reason.to_string());
        }
        if w.at_tenth.is_none() && p.fraction().is_some_and(|f| f >= 0.1) {
            w.at_tenth = Some((p.elapsed, p.eta));
        }
        if p.stage != BackfillStage::Batches && w.pass_end.is_none() {
            w.pass_end = Some(p.elapsed);
        }
    });
    let started = Instant::now();
    migrator.run(&db.connect_options()).await?;
    let took = started.elapsed();
    assert_eq!(remaining(conn).await?, 0);
    let w = watched
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok((took, w))
}

/// What a variant's progress showed: its batches on stderr, its ETA at 10% on stdout.
fn report(what: &str, w: &Watched) {
    eprintln!(
        "  ({what}: {} batches, last size {}, main pass {:.2} s, throttled {} times)",
        w.batches.0,
        w.batches.1,
        w.pass_end.unwrap_or_default().as_secs_f64(),
        w.throttled.len()
    );
    if let (Some((at, Some(eta))), Some(end)) = (w.at_tenth, w.pass_end) {
        let actual = end.saturating_sub(at).as_secs_f64();
        println!(
            "  eta at 10% of the main pass: {:.2} s predicted, {actual:.2} s actual ({:+.0}%)",
            eta.as_secs_f64(),
            (eta.as_secs_f64() / actual - 1.0) * 100.0
        );
    }
}
