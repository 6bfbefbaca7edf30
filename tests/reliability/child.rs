//! Runners in child processes: the test binary re-invokes itself to run one ignored test, `child`,
//! which applies the migration set (`run`, then `complete`) and prints a one-line result. Killing such
//! a process with SIGKILL is the crash the tests inject.

use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use tokio::process::{Child, Command};

use super::set;

const URL: &str = "ZDREL_CHILD_URL";
const APP: &str = "ZDREL_CHILD_APP";
const START_AT: &str = "ZDREL_CHILD_START_AT_MS";

/// Starts `child` of the current test binary against `url`, with connections named `app`; with
/// `start_at` (ms since the epoch) it waits until then before connecting, so many children start
/// together.
pub fn spawn(url: &str, app: &str, start_at: Option<u64>) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(URL, url)
    .env(APP, app)
    .env(set::SERVER_VAR, set::server().0.to_string())
    .env_remove(START_AT)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    if let Some(at) = start_at {
        cmd.env(START_AT, at.to_string());
    }
    cmd.spawn().expect("spawning a child runner")
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What a child that ran to its end printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildResult {
    /// Migrations whose expand phase this child applied.
    pub applied: usize,
    /// Migrations whose contract phase this child applied.
    pub completed: usize,
    /// How long it waited for the migration lock, over both calls.
    pub lock_wait_ms: u64,
}

/// Parses the `CHILD OK ...` line of a child's output.
pub fn parse(stdout: &str) -> Option<ChildResult> {
    // libtest prints `test child ... ` on the same line first.
    let line = stdout
        .lines()
        .find_map(|l| l.find("CHILD OK ").map(|at| &l[at..]))?;
    let field = |name: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    Some(ChildResult {
        applied: field("applied")? as usize,
        completed: field("completed")? as usize,
        lock_wait_ms: field("lock_wait_ms")?,
    })
}

/// The body of the `child` test: applies the set and prints `CHILD OK applied=N completed=N
/// lock_wait_ms=N`, or `CHILD ERROR <message>` and exits with status 2.
pub async fn main() {
    super::init_tracing(tracing::Level::WARN);
    let url = std::env::var(URL).expect("run by a parent test only");
    let app = std::env::var(APP).unwrap_or_else(|_| "zdrel-child".into());
    if let Some(at) = std::env::var(START_AT)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        let now = now_ms();
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
    }
    let options = PgConnectOptions::from_str(&url).expect("a valid URL");
    let migrator = set::migrator(&app);
    let result = async {
        let run = migrator.run(&options).await?;
        let complete = migrator.complete(&options).await?;
        Ok::<_, zerodown::Error>((run, complete))
    }
    .await;
    match result {
        Ok((run, complete)) => println!(
            "CHILD OK applied={} completed={} lock_wait_ms={}",
            run.migrations.len(),
            complete.migrations.len(),
            (run.lock_wait + complete.lock_wait).as_millis()
        ),
        Err(e) => {
            println!("CHILD ERROR {e}");
            std::process::exit(2);
        }
    }
}
