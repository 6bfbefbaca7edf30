//! Command-line options of the demo (hand-parsed: an example should not pull in a CLI crate).

use std::path::PathBuf;
use std::time::Duration;

/// Which runs to make, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The workload alone, with the long read, no schema change.
    Baseline,
    /// The changes as plain SQL, one autocommit statement per change.
    Naive,
    /// The changes through `zerodown::Migrator::run` then `complete` as earlier versions ran them,
    /// for comparison: the queueing lock strategy (`LockStrategy::Queue`) and backfills at full
    /// speed (`backfill_busy_percent(100)`).
    ZerodownQueue,
    /// The changes through `zerodown::Migrator::run` then `complete` with the defaults: look before
    /// queueing, backfills working at most `Pace::DEFAULT_BUSY_PERCENT` of the time while the
    /// application runs.
    Zerodown,
    /// As [`RunKind::Zerodown`], but the application's health callback
    /// (`Migrator::backfill_health`) paces the backfills instead of a fixed share of the time
    /// (`backfill_busy_percent(100)`): they pause while the application's recent p99 is above
    /// 1.5 times the baseline's.
    ZerodownHealth,
}

impl RunKind {
    pub const ALL: [RunKind; 5] = [
        RunKind::Baseline,
        RunKind::Naive,
        RunKind::ZerodownQueue,
        RunKind::Zerodown,
        RunKind::ZerodownHealth,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RunKind::Baseline => "baseline",
            RunKind::Naive => "naive",
            RunKind::ZerodownQueue => "zerodown-queue",
            RunKind::Zerodown => "zerodown",
            RunKind::ZerodownHealth => "zerodown-health",
        }
    }

    /// How the run is titled in tables and the picture.
    pub fn title(self) -> &'static str {
        match self {
            RunKind::Baseline => "baseline (no migration)",
            RunKind::Naive => "naive SQL",
            RunKind::ZerodownQueue => "zerodown, earlier versions (queueing, full speed)",
            RunKind::Zerodown => "zerodown (defaults)",
            RunKind::ZerodownHealth => "zerodown, paced by the application's p99",
        }
    }
}

/// Everything a run depends on.
#[derive(Debug, Clone)]
pub struct Args {
    /// Rows loaded into `accounts` before each run.
    pub rows: u64,
    /// Target application rate, operations per second, all connections together.
    pub rate: f64,
    /// Application connections.
    pub connections: usize,
    /// Workload before the long read starts.
    pub warmup: Duration,
    /// How long the long read holds its transaction open.
    pub long_read: Duration,
    /// Delay between the start of the long read and the start of the migration.
    pub migration_delay: Duration,
    /// Workload after both the migration and the long read are over.
    pub cooldown: Duration,
    /// The application's request timeout: a request not started within it is given up, and a
    /// statement running longer is cancelled by the server (`statement_timeout`).
    pub app_timeout: Duration,
    /// Runs to make.
    pub runs: Vec<RunKind>,
    /// Where `under_load.md` and `images/under_load.svg` go.
    pub out: PathBuf,
    /// Seed of the operation mix.
    pub seed: u64,
    /// Print the runtime's step progress.
    pub verbose: bool,
    /// Read `balance` without the `bigint` cast (shows the prepared-statement failures).
    pub uncast_read: bool,
    /// The `zerodown` run's `backfill_busy_percent` (`None`: the runtime's default).
    pub busy_percent: Option<u8>,
    /// The command line, for the report.
    pub command: String,
}

const USAGE: &str = "\
usage: cargo run --release --example under_load -- [options]

  --quick              small run: 100k rows, 1000 ops/s, shorter phases
  --rows N             rows in the table (default 1000000)
  --rate N             application operations per second (default 2000)
  --connections N      application connections (default 8)
  --warmup SECS        workload before the long read starts (default 3)
  --long-read SECS     how long the long read keeps its transaction open (default 4)
  --cooldown SECS      workload after the migration ends (default 3)
  --app-timeout SECS   the application's request timeout (default 5)
  --runs LIST          comma-separated, from baseline,naive,zerodown-queue,zerodown,zerodown-health
                       (default all five)
  --out DIR            writes DIR/under_load.md and DIR/images/under_load.svg (default target/under_load)
  --seed N             seed of the operation mix (default 1)
  --busy-percent N     the `zerodown` run's backfill_busy_percent, 1 to 100 (default: the
                       runtime's default)
  --uncast-read        read `balance` as stored, not as `bigint`: prepared reads then fail once its
                       type changes (`cached plan must not change result type`), in both runs
  --verbose            print the runtime's step progress
";

fn secs(flag: &str, value: &str) -> Result<Duration, String> {
    let s: f64 = value
        .parse()
        .map_err(|_| format!("`{flag}` takes seconds, got `{value}`"))?;
    if !(0.0..=3600.0).contains(&s) {
        return Err(format!(
            "`{flag}` must be between 0 and 3600 seconds, got `{value}`"
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("`{flag}` takes a number, got `{value}`"))
}

impl Args {
    /// Parses `std::env::args()`; `Err` carries the message to print (the usage for `--help`).
    pub fn parse() -> Result<Args, String> {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        Args::parse_from(&argv)
    }

    pub fn parse_from(argv: &[String]) -> Result<Args, String> {
        let quick = argv.iter().any(|a| a == "--quick");
        let mut args = Args {
            rows: if quick { 100_000 } else { 1_000_000 },
            rate: if quick { 1000.0 } else { 2000.0 },
            connections: 8,
            warmup: Duration::from_secs(if quick { 2 } else { 3 }),
            long_read: Duration::from_secs(if quick { 3 } else { 4 }),
            migration_delay: Duration::from_millis(500),
            cooldown: Duration::from_secs(if quick { 2 } else { 3 }),
            app_timeout: Duration::from_secs(5),
            runs: RunKind::ALL.to_vec(),
            out: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join("under_load"),
            seed: 1,
            verbose: false,
            uncast_read: false,
            busy_percent: None,
            command: std::iter::once("cargo run --release --example under_load".to_owned())
                .chain((!argv.is_empty()).then(|| format!("-- {}", argv.join(" "))))
                .collect::<Vec<_>>()
                .join(" "),
        };
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .ok_or_else(|| format!("`{flag}` needs a value\n\n{USAGE}"))
            };
            match flag.as_str() {
                "--quick" => {}
                "--verbose" | "-v" => args.verbose = true,
                "--uncast-read" => args.uncast_read = true,
                "--help" | "-h" => return Err(USAGE.to_owned()),
                "--rows" => args.rows = number(flag, value()?)?,
                "--rate" => args.rate = number(flag, value()?)?,
                "--connections" => args.connections = number(flag, value()?)?,
                "--warmup" => args.warmup = secs(flag, value()?)?,
                "--long-read" => args.long_read = secs(flag, value()?)?,
                "--cooldown" => args.cooldown = secs(flag, value()?)?,
                "--app-timeout" => args.app_timeout = secs(flag, value()?)?,
                "--seed" => args.seed = number(flag, value()?)?,
                "--busy-percent" => {
                    let percent: u8 = number(flag, value()?)?;
                    if !(1..=100).contains(&percent) {
                        return Err(format!(
                            "`--busy-percent` must be between 1 and 100, got {percent}"
                        ));
                    }
                    args.busy_percent = Some(percent);
                }
                "--out" => args.out = PathBuf::from(value()?),
                "--runs" => {
                    let mut runs = Vec::new();
                    for name in value()?.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let kind = RunKind::ALL
                            .into_iter()
                            .find(|k| k.name() == name)
                            .ok_or_else(|| format!("unknown run `{name}`; choose from baseline, naive, zerodown-queue, zerodown, zerodown-health"))?;
                        if !runs.contains(&kind) {
                            runs.push(kind);
                        }
                    }
                    // Always in the canonical order, so the picture reads the same way.
                    runs.sort_by_key(|k| RunKind::ALL.iter().position(|a| a == k));
                    args.runs = runs;
                }
                other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
            }
        }
        if args.rows < 1000 {
            return Err(format!("`--rows` must be at least 1000, got {}", args.rows));
        }
        if !(args.rate >= 1.0 && args.rate <= 100_000.0) {
            return Err(format!(
                "`--rate` must be between 1 and 100000 operations per second, got {}",
                args.rate
            ));
        }
        if args.connections == 0 || args.connections > 64 {
            return Err(format!(
                "`--connections` must be between 1 and 64, got {}",
                args.connections
            ));
        }
        if args.app_timeout < Duration::from_millis(100) {
            return Err("`--app-timeout` must be at least 0.1 seconds".to_owned());
        }
        if args.runs.is_empty() {
            return Err("`--runs` names no run; choose from baseline, naive, zerodown".to_owned());
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse_from(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn quick_presets_and_overrides() {
        let a = parse(&["--quick", "--rate", "500", "--runs", "zerodown,baseline"]).unwrap();
        assert_eq!((a.rows, a.rate), (100_000, 500.0));
        assert_eq!(a.runs, [RunKind::Baseline, RunKind::Zerodown]);
        assert!(a
            .command
            .ends_with("-- --quick --rate 500 --runs zerodown,baseline"));
        assert_eq!(parse(&[]).unwrap().rows, 1_000_000);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            &["--rows"][..],
            &["--rows", "ten"],
            &["--rows", "10"],
            &["--runs", "fast"],
            &["--frobnicate"],
            &["--long-read", "-1"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
