//! The zero-downtime demo: the same schema changes applied to a busy table once as naive SQL and once
//! through zerodown, with the application's latency, throughput and failures measured throughout.
//!
//! ```sh
//! cargo run --release --example under_load              # 1M rows, about two minutes
//! cargo run --release --example under_load -- --quick   # 100k rows
//! cargo run --release --example under_load -- --help
//! ```
//!
//! Each run gets a fresh database from `zerodown::localdb` (`DATABASE_URL`, else the server on
//! 127.0.0.1:5432, else a throwaway cluster), loads the table, starts the application workload, opens
//! one long read, applies the changes and keeps the workload going a few seconds after. It prints a
//! table comparing the runs and writes `under_load.md` and `images/under_load.svg` (to
//! `target/under_load/` unless `--out DIR`; `--out docs` regenerates the committed page).

mod args;
mod changes;
mod report;
mod schema;
mod stats;
mod steps;
mod svg;
mod workload;

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor};
use tokio::time::Instant;
use zerodown::plan::Pace;
use zerodown::{LockStrategy, Migrator};

use args::{Args, RunKind};
use report::{dur, RunOutcome};
use steps::{Recorder, StepMark};
use workload::{Recorded, Workload};

/// Bucket of the picture's series.
const BUCKET: Duration = Duration::from_millis(100);

/// The lock timeout of the demo's migrations (the default: none of them sets one).
const LOCK_TIMEOUT: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let recorder = Recorder::install(args.verbose)?;
    let server = zerodown::localdb::server().await?;
    let server_name = format!("{} ({})", server.version(), server.kind());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_before = loadavg();
    println!("under_load on {server_name}, {cpus} CPU(s), load average {load_before}");
    println!(
        "  {} rows, {} requests/s over {} connections, long read {}, request timeout {}",
        args.rows,
        args.rate,
        args.connections,
        dur(args.long_read),
        dur(args.app_timeout)
    );

    let mut outcomes = Vec::new();
    let mut timelines = Vec::new();
    for &kind in &args.runs {
        // The health callback's limit: 1.5 times the baseline's p99 when this invocation measured it.
        let baseline_p99 = outcomes
            .iter()
            .find(|o: &&RunOutcome| o.kind == RunKind::Baseline)
            .map(|o| o.summary.p99);
        let (outcome, timeline) = one_run(kind, &args, &recorder, baseline_p99).await?;
        outcomes.push(outcome);
        timelines.push(timeline);
    }

    let table = report::text_table(&outcomes);
    println!("\n{table}");
    for t in report::targets(&outcomes, LOCK_TIMEOUT) {
        println!("  {t}");
    }

    let ctx = report::Context {
        server: server_name,
        cpus,
        load_before,
        load_after: loadavg(),
        lock_timeout: LOCK_TIMEOUT,
    };
    write_outputs(&args, &ctx, &outcomes, &timelines)?;
    Ok(())
}

fn write_outputs(
    args: &Args,
    ctx: &report::Context,
    outcomes: &[RunOutcome],
    timelines: &[Timeline],
) -> Result<(), Box<dyn Error>> {
    let series: Vec<stats::Series> = timelines
        .iter()
        .map(|t| stats::series(&t.ops, t.end, BUCKET))
        .collect();
    let panels = outcomes
        .iter()
        .zip(timelines)
        .zip(&series)
        .map(|((o, t), series)| {
            let s = &o.summary;
            let migration = o.migration.map(|d| format!("migration {}; ", dur(d))).unwrap_or_default();
            svg::Panel {
                title: o.kind.title().to_owned(),
                figures: format!(
                    "{migration}p50 {}, p99 {}, max {}; {} failed; longest stall {}; worst second {:.0} answered",
                    dur(s.p50),
                    dur(s.p99),
                    dur(s.max),
                    s.failed(),
                    dur(s.longest_stall),
                    s.worst_second
                ),
                series,
                marks: &o.marks,
                color: match o.kind {
                    RunKind::Naive => "#e65100",
                    _ => "#00796b",
                },
                long_read: t.long_read,
                end: t.end,
            }
        })
        .collect();
    let chart = svg::Chart {
        title: "Application latency while the schema changes: naive SQL against zerodown".to_owned(),
        subtitle: format!(
            "{} rows, {:.0} requests/s, {} connections; each run has its own time axis.\n\
             Red: slowest request per {} ms, blue: median (log scale); grey: requests answered per second; black \
             ticks: failed requests (top), step retries (step bar).",
            args.rows,
            args.rate,
            args.connections,
            BUCKET.as_millis()
        ),
        panels,
        threshold: LOCK_TIMEOUT + Duration::from_millis(100),
        threshold_label: "lock_timeout + 100 ms".to_owned(),
        rate: args.rate,
    };
    let images = args.out.join("images");
    std::fs::create_dir_all(&images).map_err(|e| format!("creating {}: {e}", images.display()))?;
    let svg_path = images.join("under_load.svg");
    std::fs::write(&svg_path, chart.render())
        .map_err(|e| format!("writing {}: {e}", svg_path.display()))?;
    let md_path = args.out.join("under_load.md");
    std::fs::write(&md_path, report::markdown(args, ctx, outcomes))
        .map_err(|e| format!("writing {}: {e}", md_path.display()))?;
    println!("\nwrote {} and {}", md_path.display(), svg_path.display());
    Ok(())
}

/// The raw requests and timeline of a run, for the picture.
struct Timeline {
    ops: Vec<workload::Op>,
    long_read: (Duration, Duration),
    /// When the workload stopped, since its start.
    end: Duration,
}

/// What a migration did.
struct Applied {
    marks: Vec<StepMark>,
    error: Option<String>,
    runtime_report: Option<String>,
}

async fn one_run(
    kind: RunKind,
    args: &Args,
    recorder: &Recorder,
    baseline_p99: Option<Duration>,
) -> Result<(RunOutcome, Timeline), Box<dyn Error>> {
    println!("\n== {}", kind.title());
    let db = zerodown::localdb::fresh_database(&format!("under_load_{}", kind.name())).await?;
    let options = db.connect_options();

    let started = Instant::now();
    let mut conn = schema::connect(&options).await?;
    schema::load(&mut conn, args.rows).await?;
    conn.close().await?;
    let load = started.elapsed();
    println!("  loaded {} rows in {}", args.rows, dur(load));

    let config = workload::Config {
        rate: args.rate,
        connections: args.connections,
        app_timeout: args.app_timeout,
        rows: args.rows,
        seed: args.seed,
        uncast_read: args.uncast_read,
    };
    let long_conn =
        schema::connect(&options.clone().application_name("under_load long read")).await?;
    let t0 = Instant::now() + Duration::from_millis(300);
    let work = Workload::start(&options, &config, t0).await?;
    let long_read_at = t0 + args.warmup;
    let long = tokio::spawn(workload::long_read(long_conn, long_read_at, args.long_read));
    let migration_at = long_read_at + args.migration_delay;
    tokio::time::sleep_until(migration_at).await;

    let applied = match kind {
        RunKind::Baseline => Applied {
            marks: Vec::new(),
            error: None,
            runtime_report: None,
        },
        RunKind::Naive => naive(&options, t0).await,
        RunKind::ZerodownQueue => {
            // Earlier versions: queueing for locks, and backfills at full speed.
            through_zerodown(&options, recorder, t0, LockStrategy::Queue, 100, None).await
        }
        RunKind::Zerodown => {
            let busy = args.busy_percent.unwrap_or(Pace::DEFAULT_BUSY_PERCENT);
            through_zerodown(&options, recorder, t0, LockStrategy::DEFAULT, busy, None).await
        }
        RunKind::ZerodownHealth => {
            // Without a baseline in this invocation: the baseline p99 of the committed page.
            let limit = baseline_p99
                .unwrap_or(Duration::from_micros(2280))
                .mul_f64(1.5);
            println!(
                "  backfills pause while the application's p99 over 500 ms is above {}",
                dur(limit)
            );
            let health = Health {
                probe: work.probe(),
                limit,
            };
            // The application's latency decides instead of a fixed share of the time.
            let health = Some(health);
            through_zerodown(&options, recorder, t0, LockStrategy::DEFAULT, 100, health).await
        }
    };
    let migration_end = Instant::now();
    let long_read = match long.await {
        Ok(Ok(lr)) => lr,
        Ok(Err(e)) => {
            work.stop_at(Instant::now());
            work.finish().await;
            return Err(format!("the long read failed: {e}").into());
        }
        Err(e) => return Err(format!("the long read task failed: {e}").into()),
    };
    let stop = migration_end.max(long_read.end) + args.cooldown;
    work.stop_at(stop);
    tokio::time::sleep_until(stop).await;
    let Recorded { ops, errors } = work.finish().await;
    let end = stop.saturating_duration_since(t0);

    let since = |at: Instant| at.saturating_duration_since(t0);
    let window = (since(migration_at), since(migration_end.max(long_read.end)));
    let summary = stats::summarize(&ops, window);
    let migration = (kind != RunKind::Baseline).then(|| migration_end - migration_at);
    println!(
        "  {} requests; p50 {}, p99 {}, max {}; {} failed; longest stall {}{}",
        summary.requests,
        dur(summary.p50),
        dur(summary.p99),
        dur(summary.max),
        summary.failed(),
        dur(summary.longest_stall),
        migration
            .map(|d| format!("; migration took {}", dur(d)))
            .unwrap_or_default()
    );
    if let Some(e) = &applied.error {
        println!("  the migration FAILED: {e}");
    }
    let mut errors: Vec<(String, u64)> = errors.into_iter().collect();
    errors.sort_by_key(|e| std::cmp::Reverse(e.1));
    for (msg, n) in errors.iter().take(5) {
        println!("  {n} × {msg}");
    }
    if let Err(e) = db.drop_database().await {
        eprintln!("  dropping the run's database failed: {e}");
    }
    let backfills = applied
        .marks
        .iter()
        .filter_map(|m| {
            let rows = m.backfill_rows?;
            let during = stats::latency_between(&ops, (m.start, m.end));
            println!(
                "  {}: {} rows/s; application p99 during it {}, max {} ({} requests)",
                m.label,
                (rows as f64 / (m.end - m.start).as_secs_f64().max(1e-3)).round(),
                dur(during.p99),
                dur(during.max),
                during.requests
            );
            Some(report::BackfillFigures {
                label: m.label.clone(),
                rows,
                took: m.end - m.start,
                during,
            })
        })
        .collect();
    let outcome = RunOutcome {
        kind,
        summary,
        backfills,
        marks: applied.marks,
        migration,
        migration_error: applied.error,
        runtime_report: applied.runtime_report,
        errors,
        load,
    };
    Ok((
        outcome,
        Timeline {
            ops,
            long_read: (since(long_read.start), since(long_read.end)),
            end,
        },
    ))
}

/// The changes as one would write them by hand: one autocommit statement each, no timeouts.
async fn naive(options: &PgConnectOptions, t0: Instant) -> Applied {
    let mut marks = Vec::new();
    let mut conn = match schema::connect(
        &options
            .clone()
            .application_name("under_load naive migration"),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            return Applied {
                marks,
                error: Some(e.to_string()),
                runtime_report: None,
            }
        }
    };
    for change in changes::CHANGES {
        let start = Instant::now();
        let result = conn.execute(change.naive_sql).await;
        let end = Instant::now();
        marks.push(StepMark {
            label: change.naive_sql.to_owned(),
            lock: change.naive_lock.to_owned(),
            start: start.saturating_duration_since(t0),
            end: end.saturating_duration_since(t0),
            attempts: 1,
            retries: Vec::new(),
            ok: result.is_ok(),
            backfill_rows: None,
        });
        if let Err(e) = result {
            return Applied {
                marks,
                error: Some(e.to_string()),
                runtime_report: None,
            };
        }
    }
    let _ = conn.close().await;
    Applied {
        marks,
        error: None,
        runtime_report: None,
    }
}

/// The application's health, as a backfill callback sees it.
struct Health {
    probe: workload::Probe,
    /// Healthy while the recent p99 is at most this.
    limit: Duration,
}

/// The changes through `Migrator::run`, then `complete` (contract phases).
async fn through_zerodown(
    options: &PgConnectOptions,
    recorder: &Recorder,
    t0: Instant,
    strategy: LockStrategy,
    busy_percent: u8,
    health: Option<Health>,
) -> Applied {
    recorder.take_marks(t0);
    let result = async {
        let mut migrator = Migrator::new(&changes::migrations())?
            .application_name("under_load zerodown")
            .lock_strategy(strategy)
            .backfill_busy_percent(busy_percent)?;
        if let Some(Health { probe, limit }) = health {
            migrator = migrator.backfill_health(move || probe.recent_p99() <= limit);
        }
        let ran = migrator.run(options).await?;
        let completed = migrator.complete(options).await?;
        Ok::<_, zerodown::Error>(format!("{ran}{completed}"))
    }
    .await;
    let marks = recorder.take_marks(t0);
    if marks.is_empty() {
        eprintln!(
            "  warning: no step events were recorded from the runtime; the picture shows no steps"
        );
    }
    match result {
        Ok(report) => Applied {
            marks,
            error: None,
            runtime_report: Some(report),
        },
        Err(e) => Applied {
            marks,
            error: Some(e.to_string()),
            runtime_report: None,
        },
    }
}
