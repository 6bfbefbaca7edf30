//! Benchmarks, each side by side in one run, printed as a table:
//!
//! - `runner`: applying 200 small migrations to an empty database, zerodown against
//!   `sqlx::migrate::Migrator` with the same SQL;
//! - `backfill`: a backfill of 1M rows, zerodown's batched backfill against a single `UPDATE` (runs
//!   the `backfill_bench` example and reads its table);
//! - `compile`: `cargo check` of a crate with 200 `migration!` invocations against the same crate with
//!   the SQL as string constants.
//!
//! ```sh
//! cargo run --release --example bench                  # everything
//! cargo run --release --example bench -- --only runner
//! ```
//!
//! Databases come from `zerodown::localdb` (`DATABASE_URL`, else 127.0.0.1:5432, else a throwaway
//! cluster). Scratch files (the sqlx migration files, the generated crates and their target
//! directory) go to `target/bench/`.

mod backfill;
mod compile;
mod migrations;
mod runner;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The two sides of a timed comparison, medians of `samples` runs each, and the median of the
/// ratios of runs made back to back (less sensitive to load that comes and goes).
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub ours: Duration,
    pub theirs: Duration,
    pub paired_ratio: f64,
    pub samples: usize,
}

/// The median (the upper one for an even count); zero for no samples.
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

const BENCHES: [&str; 3] = ["runner", "backfill", "compile"];

const USAGE: &str = "\
usage: cargo run --release --example bench -- [options]

  --only LIST     comma-separated, from runner,backfill,compile (default all)
  --rows N        backfill: rows in the table (default 1000000)
  --reps N        repetitions per side (default 5 for runner, 3 for backfill and compile;
                  backfill repeats the single UPDATE and the defaults, the other variants run once)
  --async-commit  runner: both sides with `synchronous_commit = off` (diagnostic: round trips
                  without the WAL flush of each commit)
  --queue         runner: zerodown with `LockStrategy::Queue` (diagnostic: the cost of looking
                  at `pg_locks` before each step)
";

struct Args {
    only: Vec<&'static str>,
    reps: Option<usize>,
    async_commit: bool,
    queue: bool,
    rows: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        only: BENCHES.to_vec(),
        reps: None,
        async_commit: false,
        queue: false,
        rows: 1_000_000,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--help" | "-h" => return Err(USAGE.to_owned()),
            "--async-commit" => args.async_commit = true,
            "--queue" => args.queue = true,
            "--only" => {
                let list = it.next().ok_or("`--only` needs a value")?;
                args.only = Vec::new();
                for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let b = BENCHES.into_iter().find(|b| *b == name).ok_or_else(|| {
                        format!(
                            "unknown benchmark `{name}`; choose from {}",
                            BENCHES.join(", ")
                        )
                    })?;
                    args.only.push(b);
                }
            }
            "--rows" => {
                let v = it.next().ok_or("`--rows` needs a value")?;
                args.rows = v
                    .parse()
                    .map_err(|_| format!("`--rows` takes a number, got `{v}`"))?;
                if args.rows == 0 {
                    return Err("`--rows` must be at least 1".to_owned());
                }
            }
            "--reps" => {
                let v = it.next().ok_or("`--reps` needs a value")?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("`--reps` takes a number, got `{v}`"))?;
                if n == 0 || n > 100 {
                    return Err(format!("`--reps` must be between 1 and 100, got {n}"));
                }
                args.reps = Some(n);
            }
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    Ok(args)
}

/// One row of the final table.
struct Row {
    name: String,
    ours: String,
    theirs: String,
    ratio: String,
    target: &'static str,
    verdict: String,
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
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

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let scratch = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("bench: {cpus} CPU(s), load average {}", loadavg());
    let mut rows = Vec::new();

    if args.only.contains(&"runner") {
        let server = zerodown::localdb::server().await?;
        println!(
            "\n== runner: 200 migrations on an empty database ({}, {})",
            server.version(),
            server.kind()
        );
        let strategy = if args.queue {
            zerodown::LockStrategy::Queue
        } else {
            zerodown::LockStrategy::DEFAULT
        };
        let m = runner::bench(
            args.reps.unwrap_or(5),
            &scratch,
            args.async_commit,
            strategy,
        )
        .await?;
        let ratio = m.paired_ratio;
        rows.push(Row {
            name: format!(
                "apply 200 migrations (median of {}){}{}",
                m.samples,
                if args.async_commit {
                    ", async commit"
                } else {
                    ""
                },
                if args.queue {
                    ", LockStrategy::Queue"
                } else {
                    ""
                }
            ),
            ours: secs(m.ours),
            theirs: format!("{} (sqlx::migrate)", secs(m.theirs)),
            ratio: format!(
                "{ratio:.2}x (medians: {:.2}x)",
                m.ours.as_secs_f64() / m.theirs.as_secs_f64()
            ),
            target: "<= 1.0x",
            verdict: if ratio <= 1.0 {
                "met".to_owned()
            } else {
                format!("MISSED by {:.2}x", ratio - 1.0)
            },
        });
    }

    if args.only.contains(&"backfill") {
        println!(
            "\n== backfill: {} rows, batched against a single UPDATE (the backfill_bench example)",
            args.rows
        );
        let n = args.rows;
        let reps = args.reps.unwrap_or(3);
        let variants = tokio::task::spawn_blocking(move || backfill::bench(n, reps)).await??;
        let single = variants
            .iter()
            .find(|v| v.name.starts_with("single UPDATE"))
            .ok_or("backfill_bench reported no single UPDATE")?
            .clone();
        for v in variants.iter().filter(|v| v.name.starts_with("zerodown")) {
            // The defaults are judged on the median of their paired runs against the single UPDATE.
            let speed = v
                .paired_speed
                .unwrap_or(single.took.as_secs_f64() / v.took.as_secs_f64());
            // The target is about what users get: the default pacing.
            let judged = v.name.contains("defaults");
            rows.push(Row {
                name: format!(
                    "backfill {} rows: {}",
                    args.rows,
                    v.name.trim_start_matches("zerodown, ")
                ),
                ours: format!("{} ({:.0} rows/s)", secs(v.took), v.rows_per_second),
                theirs: format!("{} (single UPDATE)", secs(single.took)),
                ratio: match v.paired_speed {
                    Some(_) => format!("{speed:.2}x speed (median of {reps} pairs)"),
                    None => format!("{speed:.2}x speed"),
                },
                target: if judged { ">= 0.9x" } else { "-" },
                verdict: match (judged, speed >= 0.9) {
                    (false, _) => "-".to_owned(),
                    (true, true) => "met".to_owned(),
                    (true, false) => format!("MISSED by {:.2}x", 0.9 - speed),
                },
            });
            if let Some((predicted, actual)) = v.eta_at_tenth.filter(|_| judged) {
                let error = predicted.as_secs_f64() / actual.as_secs_f64().max(1e-9) - 1.0;
                rows.push(Row {
                    name: format!("backfill {} rows: ETA at 10% of the pass", args.rows),
                    ours: format!("{} predicted", secs(predicted)),
                    theirs: format!("{} actual", secs(actual)),
                    ratio: format!("{:+.0}%", error * 100.0),
                    target: "within 20%",
                    verdict: if error.abs() <= 0.2 {
                        "met".to_owned()
                    } else {
                        "MISSED".to_owned()
                    },
                });
            }
        }
    }

    if args.only.contains(&"compile") {
        println!("\n== compile: cargo check, 200 `migration!` and a `migrations!` set of 200 against 200 string constants");
        let reps = args.reps.unwrap_or(3);
        let dir = scratch.clone();
        let m = tokio::task::spawn_blocking(move || compile::bench(reps, &dir)).await??;
        let cost = m.macro_incremental.as_secs_f64() - m.strings_incremental.as_secs_f64();
        rows.push(Row {
            name: format!("cargo check after an edit (median of {})", m.samples),
            ours: secs(m.macro_incremental),
            theirs: format!("{} (string constants)", secs(m.strings_incremental)),
            ratio: format!("+{cost:.3} s"),
            target: "<= +1 s",
            verdict: if cost <= 1.0 {
                "met".to_owned()
            } else {
                format!("MISSED by {:.3} s", cost - 1.0)
            },
        });
        let cost = m.set_incremental.as_secs_f64() - m.strings_incremental.as_secs_f64();
        rows.push(Row {
            name: format!(
                "`migrations!` set of 200: check after editing the newest (median of {})",
                m.samples
            ),
            ours: secs(m.set_incremental),
            theirs: format!("{} (string constants)", secs(m.strings_incremental)),
            ratio: format!("+{cost:.3} s"),
            target: "<= +1 s",
            verdict: if cost <= 1.0 {
                "met".to_owned()
            } else {
                format!("MISSED by {:.3} s", cost - 1.0)
            },
        });
        let clean = m.set_clean.as_secs_f64();
        rows.push(Row {
            name: format!(
                "`migrations!` set of 200: clean check (median of {})",
                m.samples
            ),
            ours: secs(m.set_clean),
            theirs: "-".to_owned(),
            ratio: "-".to_owned(),
            target: "<= 3 s",
            verdict: if clean <= 3.0 {
                "met".to_owned()
            } else {
                format!("MISSED by {:.3} s", clean - 3.0)
            },
        });
    }

    println!("\nload average {}\n", loadavg());
    let headers = [
        "benchmark",
        "zerodown",
        "baseline",
        "ratio / cost",
        "target",
        "result",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.ours.clone(),
                r.theirs.clone(),
                r.ratio.clone(),
                r.target.to_owned(),
                r.verdict.clone(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let print = |cells: &[String]| {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    };
    print(&headers.map(str::to_owned));
    print(&widths.map(|w| "-".repeat(w)));
    for c in &cells {
        print(c);
    }
    Ok(())
}
