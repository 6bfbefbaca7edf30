//! [`MigrateCommand`]: the clap subcommands and what each one does.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use zerodown_runtime::plan::Migration;
use zerodown_runtime::{
    Error, MigrationId, MigrationReport, MigrationState, Migrator, PhaseKind, RunReport, StopSignal,
};

use super::exit::Exit;
use super::json;
use super::progress::{self, Mode, Progress, Sink};
use super::target;

/// The `migrate` subcommands: `run`, `complete`, `status`, `plan`, `rollback`, `baseline`.
///
/// Put it in your application's own clap parser:
///
/// ```no_run
/// use clap::{Parser, Subcommand};
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(subcommand)]
///     command: Command,
/// }
///
/// #[derive(Subcommand)]
/// enum Command {
///     /// Serve HTTP.
///     Serve,
///     /// Database migrations.
///     #[command(subcommand)]
///     Migrate(zerodown::cli::MigrateCommand),
/// }
///
/// # static MIGRATIONS: &[&zerodown::Migration] = &[];
/// #[tokio::main]
/// async fn main() -> zerodown::cli::Exit {
///     match Cli::parse().command {
///         Command::Serve => zerodown::cli::Exit::Success,
///         Command::Migrate(cmd) => cmd.execute(MIGRATIONS).await,
///     }
/// }
/// ```
///
/// `myapp migrate run`, `myapp migrate status --json`, ... then work as described in the
/// [module docs](crate::cli).
#[derive(Debug, Clone, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations (their expand phase) and resume interrupted ones.
    Run(RunArgs),
    /// Apply the contract phase of expanded migrations (the drops that finish an expand/contract
    /// change); run it only once no instance of the previous application version is running.
    Complete(CompleteArgs),
    /// Show every migration's state, drift, and migrations the database knows but this binary does
    /// not. Exits with the code `run` would exit with before applying anything (4 for a drifted or
    /// out-of-order migration or a lost history, 8 mid-change, ...), 0 when `run` would succeed; with
    /// `--check`, also non-zero when a migration failed or was interrupted (1) or a recorded one is
    /// missing from this binary (4).
    Status(StatusArgs),
    /// Dry run: print the exact SQL, locks and timeouts of what `run` (or `complete`) would execute;
    /// with `--offline`, of every migration, without a database.
    Plan(PlanArgs),
    /// Print one migration's plan, without a database: every step of what `run` and `complete`
    /// execute for it, with locks, timeouts and transactions.
    Show(ShowArgs),
    /// Print the schema the migrations build as SQL DDL, without a database (the binary must give
    /// its migrator the `SCHEMA` of its `migrations!` set); with `--check`, compare a database with it.
    Schema(SchemaArgs),
    /// Undo a migration that stopped part-way (the inverses of its committed steps), or the expand
    /// phase of an expand/contract migration that was not completed; deploy the previous
    /// application version first.
    Rollback(RollbackArgs),
    /// Record every migration up to VERSION as applied without running it, for a database whose
    /// schema already has them (made before zerodown, or whose history was lost); with `--write`,
    /// print a migration that recreates the database's schema instead (adopting zerodown).
    Baseline(BaselineArgs),
    /// Record this binary's plan of migration VERSION, changed after some of its steps committed, as
    /// its plan: steps already done are not run again, the others run with the new plan at the next
    /// `run`.
    AcceptDrift(AcceptDriftArgs),
}

/// Where to connect and how to print; shared by every subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectArgs {
    /// PostgreSQL URL of the database to migrate, e.g. postgres://app@db.internal:5432/app.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// How long opening a connection may take, e.g. 5s, 1min [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,
    /// How long a migrator session may sit idle inside a transaction before the server ends it and
    /// releases its locks (a frozen runner), e.g. 2s [default: 5s; a lower server setting stays].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_in_transaction_timeout: Option<Duration>,
    /// Print one JSON document on stdout instead of text (no progress output).
    #[arg(long)]
    pub json: bool,
    /// Schema of the history table and of the migration lock [default: `public` when it exists,
    /// else the first schema of the search path].
    #[arg(long, value_name = "SCHEMA")]
    pub history_schema: Option<String>,
    /// Go on although the history records migrations this binary lacks among its versions
    /// (deleted, renumbered, squashed into a baseline); without it that is an error (4).
    #[arg(long)]
    pub ignore_missing: bool,
}

/// Options of `complete`.
#[derive(Debug, Clone, Default, Args)]
pub struct CompleteArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How long to wait for another runner's migration lock, e.g. 30s, 10min [default: 10min].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait: Option<Duration>,
    /// Complete only this migration (`12` for `m0012_...`) [default: every migration waiting for
    /// `complete`].
    pub version: Option<u64>,
    /// Run what the database needs even where it differs from the statements the plan shows
    /// (migrations declared with `migrations!`); for a difference that is intended.
    #[arg(long)]
    pub no_schema_check: bool,
}

/// Options of `status`.
#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Exit non-zero also when a migration failed or was interrupted (1), or a recorded migration is
    /// missing from this binary (4), not only when `run` would fail: for a deploy job's health check.
    #[arg(long)]
    pub check: bool,
}

/// Options of `run` and `complete`.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How long to wait for another runner's migration lock, e.g. 30s, 10min [default: 10min].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait: Option<Duration>,
    /// `run` only: complete each expand/contract migration as soon as its expand is done, before the
    /// next one (replaying the history where no old application version runs: development, CI,
    /// tests). Never in production during a deploy.
    #[arg(long)]
    pub complete: bool,
    /// `run` only: apply a pending migration even when the history already has a newer one (two
    /// branches merged); only when their order does not matter.
    #[arg(long)]
    pub allow_out_of_order: bool,
    /// `run` only: the share of the time, in percent (1 to 100), backfills work while other
    /// sessions use the database; 100 never rests. A migration's `set backfill_busy_percent` wins
    /// [default: 8].
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub backfill_busy_percent: Option<u8>,
    /// Do not compare the tables a migration changes with what the migrations before it built
    /// (migrations declared with `migrations!`); for a difference that is intended.
    #[arg(long)]
    pub no_schema_check: bool,
}

/// Options of `plan`.
#[derive(Debug, Clone, Default, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Show what `complete` would execute instead of `run`.
    #[arg(long)]
    pub complete: bool,
    /// Without a database: every step of every migration of this binary, as on a database where
    /// none ran (the SQL expand/contract steps derive from the catalog is shown as the schema
    /// catalog of a `migrations!` set predicts it).
    #[arg(long)]
    pub offline: bool,
}

/// Options of `schema`.
#[derive(Debug, Clone, Default, Args)]
pub struct SchemaArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Compare the database (`--database-url`) with the schema instead of printing it: exits 4 and
    /// lists each difference, both ways, when they differ.
    #[arg(long)]
    pub check: bool,
}

/// Options of `show`.
#[derive(Debug, Clone, Default, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The migration to show (`12` for `m0012_...`).
    pub version: u64,
}

/// Options of `rollback`.
#[derive(Debug, Clone, Default, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How long to wait for another runner's migration lock, e.g. 30s, 10min [default: 10min].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait: Option<Duration>,
    /// The version of the migration to roll back (`12` for `m0012_...`).
    pub version: u64,
}

/// Options of `baseline`.
#[derive(Debug, Clone, Default, Args)]
pub struct BaselineArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How long to wait for another runner's migration lock, e.g. 30s, 10min [default: 10min].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait: Option<Duration>,
    /// The newest migration the schema already has (`12` for `m0012_...`): it and every migration
    /// before it are recorded as applied. With `--write`, the version of the migration to write
    /// (default 1).
    pub version: Option<u64>,
    /// Write a migration that recreates the database's schema, on stdout, instead of recording
    /// anything: the first migration of a `migrations!` set for a database that has a schema already.
    #[arg(long)]
    pub write: bool,
}

/// Options of `accept-drift`.
#[derive(Debug, Clone, Default, Args)]
pub struct AcceptDriftArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// How long to wait for another runner's migration lock, e.g. 30s, 10min [default: 10min].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_wait: Option<Duration>,
    /// The migration whose changed plan to record (`12` for `m0012_...`).
    pub version: u64,
}

/// `500ms`, `30s`, `10min`, `2h`, or a number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. `30s` or `10min`"))?;
    let ms = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "min" | "m" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(format!(
                "unknown unit `{other}`; use `ms`, `s`, `min` or `h`"
            ))
        }
    };
    n.checked_mul(ms)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// Where a command writes: stdout for results, stderr for progress and human-readable errors.
struct Console {
    out: Box<dyn Write + Send>,
    err: Sink,
    progress: Progress,
    json: bool,
    /// Whether `run`, `complete` and `rollback` handle `SIGTERM` and `SIGINT` (see [`on_signals`]).
    signals: bool,
}

impl Console {
    fn print(&mut self, text: &str) {
        // A closed stdout (`| head`) must not turn a successful migration into a panic.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn print_json(&mut self, value: &Value) {
        let text = serde_json::to_string_pretty(value)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        self.print(&format!("{text}\n"));
    }
}

impl MigrateCommand {
    /// The subcommand's name: `run`, `complete`, `status`, `plan`, `rollback`, `baseline` or
    /// `accept-drift`.
    pub fn name(&self) -> &'static str {
        match self {
            MigrateCommand::Run(_) => "run",
            MigrateCommand::Complete(_) => "complete",
            MigrateCommand::Status(_) => "status",
            MigrateCommand::Plan(_) => "plan",
            MigrateCommand::Show(_) => "show",
            MigrateCommand::Schema(_) => "schema",
            MigrateCommand::Rollback(_) => "rollback",
            MigrateCommand::Baseline(_) => "baseline",
            MigrateCommand::AcceptDrift(_) => "accept-drift",
        }
    }

    /// The connection and output options.
    pub fn connect_args(&self) -> &ConnectArgs {
        match self {
            MigrateCommand::Run(a) => &a.connect,
            MigrateCommand::Complete(a) => &a.connect,
            MigrateCommand::Status(a) => &a.connect,
            MigrateCommand::Plan(a) => &a.connect,
            MigrateCommand::Show(a) => &a.connect,
            MigrateCommand::Schema(a) => &a.connect,
            MigrateCommand::Rollback(a) => &a.connect,
            MigrateCommand::Baseline(a) => &a.connect,
            MigrateCommand::AcceptDrift(a) => &a.connect,
        }
    }

    /// Runs the command on `migrations` with a default [`Migrator`], printing to stdout and stderr.
    /// Needs a Tokio runtime.
    pub async fn execute(&self, migrations: &[&'static Migration]) -> Exit {
        match Migrator::new(migrations) {
            Ok(migrator) => self.execute_with(migrator).await,
            Err(e) => {
                let mut console =
                    self.console(Box::new(std::io::stdout()), stderr_sink(), terminal(), true);
                report_error(&mut console, self.name(), None, &e, None)
            }
        }
    }

    /// Runs the command with `migrator` (configured with your history table, lock wait, ...),
    /// printing to stdout and stderr: a progress bar when stderr is a terminal, plain lines
    /// otherwise.
    ///
    /// While `run`, `complete` or `rollback` works, the process's `SIGTERM` and `SIGINT` are
    /// handled here: the first one stops the run after the current backfill batch or step (it
    /// releases the migration lock, prints where it stopped and exits with
    /// [`Exit::Interrupted`], 9; the next `run` resumes there), a second one exits at once with
    /// 128 + the signal's number (143, 130), as the default handling would.
    pub async fn execute_with(&self, migrator: Migrator) -> Exit {
        let console = self.console(Box::new(std::io::stdout()), stderr_sink(), terminal(), true);
        self.dispatch(migrator, console).await
    }

    /// Runs the command with `migrator`, writing results to `out` and progress and errors to `err`
    /// (progress as plain lines). For tests, and for applications that route the output themselves.
    /// Signals are left to the application: give `migrator` a [`StopSignal`]
    /// ([`Migrator::stop_signal`]) to stop it early.
    pub async fn execute_with_io(
        &self,
        migrator: Migrator,
        out: impl Write + Send + 'static,
        err: impl Write + Send + 'static,
    ) -> Exit {
        let console = self.console(
            Box::new(out),
            Arc::new(Mutex::new(Box::new(err))),
            false,
            false,
        );
        self.dispatch(migrator, console).await
    }

    fn console(
        &self,
        out: Box<dyn Write + Send>,
        err: Sink,
        terminal: bool,
        signals: bool,
    ) -> Console {
        let json = self.connect_args().json;
        let mode = match (json, terminal) {
            (true, _) => Mode::Off,
            (false, true) => Mode::Bar,
            (false, false) => Mode::Lines,
        };
        Console {
            out,
            err: err.clone(),
            progress: Progress::new(mode, err),
            json,
            signals,
        }
    }

    async fn dispatch(&self, migrator: Migrator, mut console: Console) -> Exit {
        let command = self.name();
        // What needs no database.
        match self {
            MigrateCommand::Plan(args) if args.offline => {
                return offline_plan(&migrator, args.complete, &mut console)
            }
            MigrateCommand::Show(args) => return show(&migrator, args.version, &mut console),
            MigrateCommand::Schema(args) if !args.check => {
                return print_schema(&migrator, &mut console)
            }
            _ => {}
        }
        let Some(url) = self.connect_args().database_url.as_deref() else {
            return usage(
                &mut console,
                command,
                "no database to migrate; pass `--database-url postgres://USER@HOST:PORT/DATABASE` or set `DATABASE_URL`",
            );
        };
        let options = match target::parse(url) {
            Ok(options) => options,
            Err(message) => return usage(&mut console, command, &message),
        };
        let database = target::describe(&options);
        let migrator = match self.connect_args().connect_timeout {
            Some(timeout) => migrator.connect_timeout(timeout),
            None => migrator,
        };
        let migrator = match self.connect_args().idle_in_transaction_timeout {
            Some(timeout) => migrator.idle_in_transaction_timeout(timeout),
            None => migrator,
        };
        let migrator = match self.connect_args().history_schema.as_deref() {
            Some(schema) => match migrator.history_schema(schema) {
                Ok(migrator) => migrator,
                Err(e) => return usage(&mut console, command, &format!("--history-schema: {e}")),
            },
            None => migrator,
        };
        let migrator = migrator.ignore_missing(self.connect_args().ignore_missing);
        let with_lock_wait = |migrator: Migrator, wait: Option<Duration>| match wait {
            Some(wait) => migrator.lock_wait(wait),
            None => migrator,
        };
        let changes = matches!(
            self,
            MigrateCommand::Run(_) | MigrateCommand::Complete(_) | MigrateCommand::Rollback(_)
        );
        let (migrator, listener) = if changes && console.signals {
            let stop = StopSignal::new();
            let listener = on_signals(stop.clone(), console.progress.clone());
            (migrator.stop_signal(stop), listener)
        } else {
            (migrator, None)
        };
        let result = match self {
            MigrateCommand::Status(args) => {
                status(&migrator, &options, &database, args.check, &mut console).await
            }
            MigrateCommand::Plan(args) => {
                plan(&migrator, &options, &database, args.complete, &mut console).await
            }
            // Needs no database: handled above.
            MigrateCommand::Show(args) => Ok(show(&migrator, args.version, &mut console)),
            MigrateCommand::Schema(args) if !args.check => {
                Ok(print_schema(&migrator, &mut console))
            }
            MigrateCommand::Schema(_) => {
                check_schema(&migrator, &options, &database, &mut console).await
            }
            MigrateCommand::Run(args) => {
                let migrator = console
                    .progress
                    .attach(with_lock_wait(migrator, args.lock_wait))
                    .allow_out_of_order(args.allow_out_of_order)
                    .verify_schema(!args.no_schema_check);
                let migrator = match args.backfill_busy_percent {
                    Some(percent) => match migrator.backfill_busy_percent(percent) {
                        Ok(migrator) => migrator,
                        Err(e) => {
                            let message = format!("--backfill-busy-percent: {e}");
                            return usage(&mut console, command, &message);
                        }
                    },
                    None => migrator,
                };
                let which = if args.complete {
                    Apply::RunAndComplete
                } else {
                    Apply::Run
                };
                apply(&migrator, &options, &database, which, &mut console).await
            }
            MigrateCommand::Complete(args) => {
                let migrator = console
                    .progress
                    .attach(with_lock_wait(migrator, args.lock_wait))
                    .verify_schema(!args.no_schema_check);
                let which = match args.version {
                    Some(version) => Apply::CompleteOnly(version),
                    None => Apply::Complete,
                };
                apply(&migrator, &options, &database, which, &mut console).await
            }
            MigrateCommand::Rollback(args) => {
                let migrator = console
                    .progress
                    .attach(with_lock_wait(migrator, args.lock_wait));
                rollback(&migrator, &options, &database, args.version, &mut console).await
            }
            MigrateCommand::Baseline(args) if args.write => {
                write_baseline(&options, args.version.unwrap_or(1), &mut console).await
            }
            MigrateCommand::Baseline(args) => match args.version {
                Some(version) => {
                    let migrator = with_lock_wait(migrator, args.lock_wait);
                    baseline(&migrator, &options, &database, version, &mut console).await
                }
                None => Ok(usage(
                    &mut console,
                    "baseline",
                    "name the newest migration the schema already has: `baseline VERSION`; or write a migration from the database's schema with `baseline --write`",
                )),
            },
            MigrateCommand::AcceptDrift(args) => {
                let migrator = with_lock_wait(migrator, args.lock_wait);
                accept_drift(&migrator, &options, &database, args.version, &mut console).await
            }
        };
        if let Some(listener) = listener {
            listener.abort();
        }
        match result {
            Ok(exit) => exit,
            Err(e) => report_error(&mut console, command, Some(&database), &e, None),
        }
    }
}

/// Handles `SIGTERM` and `SIGINT` until aborted: the first asks `stop` to stop the run at its next
/// safe point, the second exits the process at once with 128 + the signal's number. `None` when the
/// handlers cannot be installed (the signals then keep their default effect).
#[cfg(unix)]
fn on_signals(stop: StopSignal, progress: Progress) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            progress.note(&format!(
                "warning: cannot handle SIGTERM and SIGINT ({e}); they stop the run at once"
            ));
            return None;
        }
    };
    Some(tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        progress.note(&format!(
            "received {name}: stopping after the current backfill batch or step, then releasing the migration lock (send it again to stop at once)"
        ));
        stop.stop();
        let (name, number) = tokio::select! {
            _ = term.recv() => ("SIGTERM", 15),
            _ = int.recv() => ("SIGINT", 2),
        };
        progress.note(&format!(
            "received {name} again: stopping at once; the server rolls back what was under way, and the next `run` resumes"
        ));
        std::process::exit(128 + number);
    }))
}

/// Handles Ctrl-C until aborted, as [the Unix version](on_signals) handles `SIGINT`.
#[cfg(not(unix))]
fn on_signals(stop: StopSignal, progress: Progress) -> Option<tokio::task::JoinHandle<()>> {
    Some(tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        progress.note("received Ctrl-C: stopping after the current backfill batch or step, then releasing the migration lock (press it again to stop at once)");
        stop.stop();
        if tokio::signal::ctrl_c().await.is_ok() {
            progress.note("received Ctrl-C again: stopping at once");
            std::process::exit(130);
        }
    }))
}

fn terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn stderr_sink() -> Sink {
    Arc::new(Mutex::new(Box::new(std::io::stderr())))
}

fn usage(console: &mut Console, command: &str, message: &str) -> Exit {
    let exit = Exit::Usage;
    if console.json {
        let doc = json::document(
            command,
            None,
            exit,
            json!({ "error": json::error(exit, message, None) }),
        );
        console.print_json(&doc);
    } else {
        progress::line(&console.err, &format!("error: {message}"));
    }
    exit
}

/// Reports a failed command. `applied`, for `run`/`complete`: the migration phases finished before
/// the failure (so a deploy job knows what changed), in the JSON document's `applied` or a line on
/// stderr.
fn report_error(
    console: &mut Console,
    command: &str,
    database: Option<&str>,
    error: &Error,
    applied: Option<&[MigrationReport]>,
) -> Exit {
    let exit = Exit::of(error);
    let message = error.to_string();
    if console.json {
        let mut body = json!({ "error": json::error(exit, &message, Some(error)) });
        if let Some(applied) = applied {
            body["applied"] = json::applied(applied);
        }
        console.print_json(&json::document(command, database, exit, body));
    } else {
        if let Some(applied) = applied.filter(|a| !a.is_empty()) {
            let list: Vec<String> = applied
                .iter()
                .map(|m| format!("{} ({})", m.id, m.phase))
                .collect();
            progress::line(
                &console.err,
                &format!("applied before the failure: {}", list.join(", ")),
            );
        }
        progress::line(&console.err, &format!("error: {message}"));
    }
    exit
}

async fn status(
    migrator: &Migrator,
    options: &PgConnectOptions,
    database: &str,
    check: bool,
    console: &mut Console,
) -> Result<Exit, Error> {
    let status = migrator.status(options).await?;
    // The decision `run` makes, so the code is the one `run` would exit with.
    let mut exit = status.run_error.as_deref().map_or(Exit::Success, Exit::of);
    let mut findings = Vec::new();
    if check && exit == Exit::Success {
        let failed: Vec<String> = status
            .migrations
            .iter()
            .filter(|m| {
                m.last_error.is_some()
                    || (status.runner.is_none()
                        && matches!(
                            m.state,
                            MigrationState::Expanding { .. }
                                | MigrationState::Completing { .. }
                                | MigrationState::RollingBack { .. }
                        ))
            })
            .map(|m| m.id.to_string())
            .collect();
        let missing: Vec<String> = status.unknown.iter().map(|u| u.id.to_string()).collect();
        if !missing.is_empty() {
            exit = Exit::Drift;
            findings.push(format!(
                "recorded but missing from this binary: {} (a migration deleted or renamed after it ran, or a binary older than the database)",
                missing.join(", ")
            ));
        }
        if !failed.is_empty() {
            if exit == Exit::Success {
                exit = Exit::Failed;
            }
            findings.push(format!(
                "failed or interrupted: {} (`run` resumes them; read the last error above)",
                failed.join(", ")
            ));
        }
    }
    if console.json {
        console.print_json(&json::document(
            "status",
            Some(database),
            exit,
            json::status(&status),
        ));
    } else {
        console.print(&format!("database: {database}\n{status}"));
        if let Some(e) = &status.run_error {
            progress::line(&console.err, &format!("error: `run` would fail: {e}"));
        }
        for finding in &findings {
            progress::line(&console.err, &format!("check failed: {finding}"));
        }
    }
    Ok(exit)
}

async fn plan(
    migrator: &Migrator,
    options: &PgConnectOptions,
    database: &str,
    complete: bool,
    console: &mut Console,
) -> Result<Exit, Error> {
    let (phase, plan) = if complete {
        ("contract", migrator.plan_complete(options).await?)
    } else {
        ("expand", migrator.plan(options).await?)
    };
    if console.json {
        console.print_json(&json::document(
            "plan",
            Some(database),
            Exit::Success,
            json::plan(phase, &plan),
        ));
    } else {
        let what = if complete { "complete" } else { "run" };
        console.print(&format!(
            "-- database: {database}\n-- dry run: what `{what}` would execute\n{plan}"
        ));
    }
    Ok(Exit::Success)
}

/// `plan --offline`: the plan of every migration, as on a database where none ran.
fn offline_plan(migrator: &Migrator, complete: bool, console: &mut Console) -> Exit {
    let (phase, what) = if complete {
        (PhaseKind::Contract, "complete")
    } else {
        (PhaseKind::Expand, "run")
    };
    let plan = zerodown_runtime::Plan::offline(migrator.migrations(), phase);
    if console.json {
        console.print_json(&json::document(
            "plan",
            None,
            Exit::Success,
            json::plan(phase.as_str(), &plan),
        ));
    } else {
        console.print(&format!(
            "-- offline: what `{what}` executes on a database where none of these migrations ran\n{plan}"
        ));
    }
    Exit::Success
}

const NO_SCHEMA: &str = "this binary's migrator has no schema: declare the migrations with `zerodown::migrations!` and give the migrator the set's schema, `Migrator::new(MIGRATIONS)?.with_schema(&SCHEMA)`, then `zerodown::cli::main_with(migrator)`";

/// `schema`: the schema the migrations build, as SQL DDL.
fn print_schema(migrator: &Migrator, console: &mut Console) -> Exit {
    let Some(schema) = migrator.schema() else {
        return usage(console, "schema", NO_SCHEMA);
    };
    if console.json {
        console.print_json(&json::document(
            "schema",
            None,
            Exit::Success,
            json!({ "ddl": schema.to_string() }),
        ));
    } else {
        console.print(&schema.to_string());
    }
    Exit::Success
}

/// `schema --check`: how the database differs from the schema the migrations build.
async fn check_schema(
    migrator: &Migrator,
    options: &PgConnectOptions,
    database: &str,
    console: &mut Console,
) -> Result<Exit, Error> {
    let Some(schema) = migrator.schema() else {
        return Ok(usage(console, "schema", NO_SCHEMA));
    };
    let differences = schema.differences(options).await?;
    let exit = if differences.is_empty() {
        Exit::Success
    } else {
        Exit::Drift
    };
    let lines: Vec<String> = differences.iter().map(ToString::to_string).collect();
    if console.json {
        console.print_json(&json::document(
            "schema",
            Some(database),
            exit,
            json!({ "differences": lines }),
        ));
    } else if lines.is_empty() {
        console.print(&format!(
            "-- database: {database}\nthe database matches the schema the migrations build\n"
        ));
    } else {
        console.print(&format!(
            "-- database: {database}\nthe database differs from the schema the migrations build:\n{}\n",
            lines.join("\n")
        ));
    }
    Ok(exit)
}

/// `baseline --write`: a migration that recreates the database's schema, on stdout.
async fn write_baseline(
    options: &PgConnectOptions,
    version: u64,
    console: &mut Console,
) -> Result<Exit, Error> {
    let module = format!("m{version:04}_baseline");
    let text = zerodown_runtime::adopt::baseline_migration(options, &module).await?;
    if console.json {
        console.print_json(&json::document(
            "baseline",
            None,
            Exit::Success,
            json!({ "migration": text }),
        ));
    } else {
        console.print(&text);
    }
    Ok(Exit::Success)
}

/// `show VERSION`: one migration's plan, without a database.
fn show(migrator: &Migrator, version: u64, console: &mut Console) -> Exit {
    let Some(m) = migrator.migrations().iter().find(|m| m.version == version) else {
        let known: Vec<String> = migrator
            .migrations()
            .iter()
            .map(|m| m.version.to_string())
            .collect();
        return usage(
            console,
            "show",
            &format!(
                "this binary has no migration {version}; its versions: {}",
                known.join(", ")
            ),
        );
    };
    if console.json {
        let mut phases = serde_json::Map::new();
        phases.insert(
            "run".to_owned(),
            json::plan(
                "expand",
                &zerodown_runtime::Plan::offline(&[*m], PhaseKind::Expand),
            ),
        );
        if m.has_contract() {
            phases.insert(
                "complete".to_owned(),
                json::plan(
                    "contract",
                    &zerodown_runtime::Plan::offline(&[*m], PhaseKind::Contract),
                ),
            );
        }
        console.print_json(&json::document(
            "show",
            None,
            Exit::Success,
            Value::Object(phases),
        ));
    } else {
        console.print(&m.to_string());
    }
    Exit::Success
}

/// The two commands that apply phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Apply {
    Run,
    Complete,
    CompleteOnly(u64),
    RunAndComplete,
}

async fn apply(
    migrator: &Migrator,
    options: &PgConnectOptions,
    database: &str,
    which: Apply,
    console: &mut Console,
) -> Result<Exit, Error> {
    let (command, doing) = match which {
        Apply::Run => ("run", "applying migrations"),
        Apply::Complete | Apply::CompleteOnly(_) => ("complete", "completing migrations"),
        Apply::RunAndComplete => ("run", "applying and completing migrations"),
    };
    // What was applied before a failure, for its report.
    let applied: Arc<Mutex<Vec<MigrationReport>>> = Arc::default();
    let sink = applied.clone();
    let migrator = migrator.clone().on_applied(move |m| {
        sink.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(m.clone())
    });
    console.progress.begin(&format!("{doing} on {database}"));
    let result = match which {
        Apply::Run => migrator.run(options).await,
        Apply::Complete => migrator.complete(options).await,
        Apply::CompleteOnly(version) => migrator.complete_only(options, version).await,
        Apply::RunAndComplete => migrator.run_and_complete(options).await,
    };
    console.progress.finish();
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            let applied =
                std::mem::take(&mut *applied.lock().unwrap_or_else(PoisonError::into_inner));
            return Ok(report_error(
                console,
                command,
                Some(database),
                &error,
                Some(&applied),
            ));
        }
    };
    let waiting = awaiting_complete(&migrator, &report);
    if console.json {
        console.print_json(&json::document(
            command,
            Some(database),
            Exit::Success,
            json::report(&report, &waiting),
        ));
    } else {
        console.print(&format!("database: {database}\n{report}"));
        if !waiting.is_empty() {
            let list: Vec<String> = waiting.iter().map(|id| id.to_string()).collect();
            console.print(&format!(
                "waiting for `complete`: {}; run `migrate complete` once no instance of the previous application version is running\n",
                list.join(", ")
            ));
        }
    }
    Ok(Exit::Success)
}

async fn rollback(
    migrator: &Migrator,
    options: &PgConnectOptions,
    database: &str,
    version: u64,
    console: &mut Console,
) -> Result<Exit, Error> {
    console
        .progress
        .begin(&format!("rolling back migration {version} on {database}"));
    let result = migrator.rollback(options, version).await;
    console.progress.finish();
    let report = result?;
    if console.json {
        console.print_json(&json::document(
            "rollback",
            Some(database),
            Exit::Success,
            json::rollback(&report),
        ));
    } else {
        let single = RunReport {
            migrations: vec![report.clone()],
            ..RunReport::default()
        };
        console.print(&format!(
            "database: {database}\n{single}{} is rolled back and counts as never applied: remove it from the binary's list, or the next `run` applies it again\n",
            report.id
        ));
    }
    Ok(Exit::Success)
}

async fn baseline(
    migrator: &Migrator,
    options: &PgConnectOptions,
    database: &str,
    version: u64,
    console: &mut Console,
) -> Result<Exit, Error> {
    let recorded = migrator.baseline(options, version).await?;
    if console.json {
        console.print_json(&json::document(
            "baseline",
            Some(database),
            Exit::Success,
            json::baseline(version, &recorded),
        ));
    } else if recorded.is_empty() {
        console.print(&format!(
            "database: {database}\nnothing to record: every migration up to {version} is recorded already\n"
        ));
    } else {
        let list: Vec<String> = recorded.iter().map(|id| format!("{id}\n")).collect();
        console.print(&format!(
            "database: {database}\nrecorded as applied without running them (baseline):\n{}`run` applies the migrations after {version}\n",
            list.concat()
        ));
    }
    Ok(Exit::Success)
}

async fn accept_drift(
    migrator: &Migrator,
    options: &PgConnectOptions,
    database: &str,
    version: u64,
    console: &mut Console,
) -> Result<Exit, Error> {
    let accepted = migrator.accept_drift(options, version).await?;
    if console.json {
        console.print_json(&json::document(
            "accept-drift",
            Some(database),
            Exit::Success,
            json::accepted_drift(version, accepted.as_ref()),
        ));
    } else {
        match accepted {
            None => console.print(&format!(
                "database: {database}
nothing to accept: migration {version} was recorded with this plan
"
            )),
            Some(drift) => console.print(&format!(
                "database: {database}
accepted: {drift}
the steps already done are not run again (the database is taken to match their new SQL); the others run with the new plan at the next `run`
"
            )),
        }
    }
    Ok(Exit::Success)
}

/// Migrations whose expand phase this run finished and whose contract phase is still to run.
fn awaiting_complete(migrator: &Migrator, report: &RunReport) -> Vec<MigrationId> {
    report
        .migrations
        .iter()
        .filter(|m| m.phase == PhaseKind::Expand)
        .filter(|m| {
            migrator
                .migrations()
                .iter()
                .any(|x| x.version == m.id.version && x.has_contract())
        })
        .map(|m| m.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10min"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").unwrap_err().contains("unknown unit"));
    }
}
