//! `zerodown::cli` against a real server: commands parsed the way an application embeds them, run on a
//! fresh database, with their human output, JSON documents and exit codes checked.

mod common;
mod version_gate;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use zerodown::cli::{ConnectArgs, Exit, MigrateCommand};
use zerodown::{Migration, Migrator};

/// An application's command line with the `migrate` command embedded, as the docs show.
#[derive(Parser)]
struct App {
    #[command(subcommand)]
    command: AppCommand,
}

#[derive(Subcommand)]
enum AppCommand {
    #[command(subcommand)]
    Migrate(MigrateCommand),
}

fn parse(args: &[&str]) -> MigrateCommand {
    let argv = std::iter::once("myapp").chain(args.iter().copied());
    match App::try_parse_from(argv) {
        Ok(App {
            command: AppCommand::Migrate(cmd),
        }) => cmd,
        Err(e) => panic!("{args:?} did not parse: {e}"),
    }
}

/// A writer whose bytes the test reads afterwards.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// What one command did.
struct Outcome {
    exit: Exit,
    out: String,
    err: String,
}

impl Outcome {
    fn json(&self) -> Value {
        serde_json::from_str(&self.out)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.out))
    }
}

async fn cli_with(migrator: Migrator, args: &[&str]) -> Outcome {
    let (out, err) = (Buf::default(), Buf::default());
    let exit = parse(args)
        .execute_with_io(migrator, out.clone(), err.clone())
        .await;
    Outcome {
        exit,
        out: out.text(),
        err: err.text(),
    }
}

async fn cli(migrations: &[&'static Migration], args: &[&str]) -> Outcome {
    cli_with(Migrator::new(migrations).unwrap(), args).await
}

zerodown::migration! {
    /// Products.
    pub mod m0001_products {
        create table products (
            id bigint generated always as identity primary key,
            sku text not null,
            name text
        );
        raw(reason = "test rows", lock = row_exclusive)
            "insert into products (sku, name) select 'sku' || n, 'product ' || n from generate_series(1, 100) as n";
    }
}

zerodown::migration! {
    /// Search by name.
    pub mod m0002_products_name_index {
        create index concurrently products_name_idx on products (name);
    }
}

static BASIC: &[&Migration] = &[
    &m0001_products::MIGRATION,
    &m0002_products_name_index::MIGRATION,
];

#[tokio::test]
async fn status_plan_run_in_text_and_json() {
    let db = common::fresh_database("cli_basic").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();

    // Before anything ran: everything pending, no history table.
    let o = cli(BASIC, &["migrate", "status", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(o.out.contains("no history table yet"), "{}", o.out);
    assert!(
        o.out.contains("products_name_index") && o.out.contains("pending"),
        "{}",
        o.out
    );
    assert!(
        o.out.contains(&format!("/{}", db.inner.name())),
        "names the database: {}",
        o.out
    );

    let o = cli(
        BASIC,
        &["migrate", "status", "--json", "--database-url", url],
    )
    .await;
    let j = o.json();
    assert_eq!(j["command"], "status");
    assert_eq!(j["ok"], true);
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["history_exists"], false);
    assert_eq!(j["up_to_date"], false);
    assert_eq!(j["pending"], 2);
    assert_eq!(j["migrations"][1]["version"], 2);
    assert_eq!(j["migrations"][1]["name"], "products_name_index");
    assert_eq!(j["migrations"][1]["state"], "pending");
    assert_eq!(j["migrations"][1]["description"], "Search by name.");
    assert!(
        o.err.is_empty(),
        "--json prints nothing on stderr: {}",
        o.err
    );

    // The dry run: SQL, locks, timeouts; changes nothing.
    let o = cli(BASIC, &["migrate", "plan", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success);
    assert!(
        o.out.contains(
            "CREATE INDEX CONCURRENTLY \"products_name_idx\" ON \"products\" (\"name\");"
        ),
        "{}",
        o.out
    );
    assert!(
        o.out
            .contains("lock SHARE UPDATE EXCLUSIVE on \"products\""),
        "{}",
        o.out
    );
    let o = cli(BASIC, &["migrate", "plan", "--json", "--database-url", url]).await;
    let j = o.json();
    assert_eq!(j["phase"], "expand");
    let steps = j["steps"].as_array().unwrap();
    let index = steps
        .iter()
        .find(|s| s["version"] == 2)
        .expect("the index step");
    assert_eq!(index["kind"], "concurrent_index");
    assert_eq!(index["transaction"], "alone");
    assert_eq!(index["lock"], "SHARE UPDATE EXCLUSIVE");
    assert_eq!(index["tables"][0], "\"products\"");
    assert_eq!(index["step"], 1);
    assert!(index["lock_timeout_ms"].as_u64().unwrap() > 0);
    assert!(index["statements"][0]
        .as_str()
        .unwrap()
        .starts_with("CREATE INDEX CONCURRENTLY"));
    let status = cli(
        BASIC,
        &["migrate", "status", "--json", "--database-url", url],
    )
    .await
    .json();
    assert_eq!(status["history_exists"], false, "plan changed nothing");

    // Apply, with progress lines on stderr (not a terminal) and the report on stdout.
    let o = cli(BASIC, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(o.err.contains("applying migrations"), "{}", o.err);
    assert!(
        o.out
            .contains("migration 2 `products_name_index` expand: 1 step(s)"),
        "{}",
        o.out
    );
    let count: i64 = sqlx::query_scalar("select count(*) from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'products_name_idx' and i.indisvalid")
        .fetch_one(&mut db.connect().await)
        .await
        .unwrap();
    assert_eq!(count, 1);

    // Again: nothing to do, in JSON.
    let o = cli(BASIC, &["migrate", "run", "--json", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success);
    let j = o.json();
    assert_eq!(j["command"], "run");
    assert_eq!(j["migrations"].as_array().unwrap().len(), 0);
    assert!(j["lock_wait_ms"].is_u64());

    let j = cli(
        BASIC,
        &["migrate", "status", "--json", "--database-url", url],
    )
    .await
    .json();
    assert_eq!(j["up_to_date"], true);
    assert_eq!(j["migrations"][0]["state"], "completed");
    assert_eq!(j["migrations"][1]["state"], "completed");
}

#[tokio::test]
async fn run_reports_steps_in_json() {
    let db = common::fresh_database("cli_run_json").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let o = cli(
        BASIC,
        &["migrate", "run", "--json", "--database-url", db.inner.url()],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}", o.out);
    let j = o.json();
    let keys: Vec<&str> = j
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .take(4)
        .collect();
    assert_eq!(
        keys,
        ["command", "ok", "exit_code", "database"],
        "the envelope comes first"
    );
    let migrations = j["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 2);
    assert_eq!(migrations[0]["phase"], "expand");
    let step = &migrations[1]["steps"][0];
    assert_eq!(step["step"], 1);
    assert_eq!(step["outcome"], "ran");
    assert_eq!(step["attempts"], 1);
    assert_eq!(
        step["description"],
        "build index \"products_name_idx\" concurrently"
    );
}

mod edited {
    zerodown::migration! {
        /// Products, edited after it was applied.
        pub mod m0001_products {
            create table products (
                id bigint generated always as identity primary key,
                sku text not null,
                name text not null
            );
        }
    }
}

static EDITED: &[&Migration] = &[
    &edited::m0001_products::MIGRATION,
    &m0002_products_name_index::MIGRATION,
];

#[tokio::test]
async fn drift_exits_4_and_nothing_runs() {
    let db = common::fresh_database("cli_drift").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    assert_eq!(
        cli(&BASIC[..1], &["migrate", "run", "--database-url", url])
            .await
            .exit,
        Exit::Success
    );

    let changed = EDITED;
    let o = cli(changed, &["migrate", "status", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Drift, "{}{}", o.out, o.err);
    assert!(o.out.contains("DRIFTED"), "{}", o.out);

    let o = cli(
        changed,
        &["migrate", "run", "--json", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Drift);
    assert_eq!(o.exit.code(), 4);
    let j = o.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["exit_code"], 4);
    assert_eq!(j["error"]["kind"], "drift");
    assert_eq!(j["error"]["drifts"][0]["version"], 1);
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`migrate accept-drift 1`"),
        "{j}"
    );

    let o = cli(changed, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Drift);
    assert!(
        o.err
            .contains("\nerror: 1 already applied or started migration(s) changed"),
        "{}",
        o.err
    );
    // Nothing ran: the index of migration 2 does not exist.
    let exists: bool = sqlx::query_scalar("select to_regclass('products_name_idx') is not null")
        .fetch_one(&mut db.connect().await)
        .await
        .unwrap();
    assert!(!exists);
}

zerodown::migration! {
    /// Fails: a division by zero.
    pub mod m0002_broken {
        raw(reason = "a step that fails") "select 1 / 0";
    }
}

static BROKEN: &[&Migration] = &[&m0001_products::MIGRATION, &m0002_broken::MIGRATION];

#[tokio::test]
async fn failed_step_exits_1_with_the_sqlstate() {
    let db = common::fresh_database("cli_failed").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let broken = BROKEN;
    let o = cli(
        broken,
        &["migrate", "run", "--json", "--database-url", db.inner.url()],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.out);
    let e = &o.json()["error"];
    assert_eq!(e["kind"], "failed");
    assert_eq!(e["migration"]["version"], 2);
    assert_eq!(e["migration"]["name"], "broken");
    assert_eq!(e["phase"], "expand");
    assert_eq!(e["step"], 1);
    assert_eq!(e["sqlstate"], "22012");
    assert_eq!(e["sql"], "select 1 / 0");
    assert_eq!(e["attempts"], 1);

    // The first migration was applied and the second is recorded as interrupted.
    let j = cli(
        broken,
        &[
            "migrate",
            "status",
            "--json",
            "--database-url",
            db.inner.url(),
        ],
    )
    .await
    .json();
    assert_eq!(j["migrations"][0]["state"], "completed");
    assert_eq!(j["migrations"][1]["state"], "expanding");
    assert!(
        j["migrations"][1]["last_error"]
            .as_str()
            .unwrap()
            .contains("division by zero"),
        "{j}"
    );
}

zerodown::migration! {
    /// Needs `ACCESS EXCLUSIVE` on products; gives up quickly: it waits (without queueing) for an old
    /// transaction at most its retry budget.
    pub mod m0002_products_note {
        set lock_timeout = 100ms;
        set retry_attempts = 2;
        set retry_budget = 1s;

        alter table products add column note text;
    }
}

zerodown::migration! {
    /// Needs `ACCESS EXCLUSIVE` on products; keeps trying for a while.
    pub mod m0002_products_patient_note {
        set lock_timeout = 100ms;
        set retry_attempts = 1000;
        set retry_budget = 1min;

        alter table products add column note text;
    }
}

static IMPATIENT: &[&Migration] = &[&m0001_products::MIGRATION, &m0002_products_note::MIGRATION];
static PATIENT: &[&Migration] = &[
    &m0001_products::MIGRATION,
    &m0002_products_patient_note::MIGRATION,
];

/// A session holding `ACCESS SHARE` on `products` in an open transaction, like a long report.
async fn reader(db: &common::Db) -> (PgConnection, i32) {
    let mut conn = db.connect().await;
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.execute("begin").await.unwrap();
    conn.execute("lock table products in access share mode")
        .await
        .unwrap();
    (conn, pid)
}

#[tokio::test]
async fn blocked_step_exits_6_naming_the_blocker() {
    let db = common::fresh_database("cli_blocked").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    assert_eq!(
        cli(&BASIC[..1], &["migrate", "run", "--database-url", url])
            .await
            .exit,
        Exit::Success
    );
    let (reader, pid) = reader(&db).await;
    // An old transaction by the time the step looks: the step waits for it without queueing.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let list = IMPATIENT;
    let o = cli(list, &["migrate", "run", "--json", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Blocked, "{}", o.out);
    assert_eq!(o.exit.code(), 6);
    let e = &o.json()["error"];
    assert_eq!(e["kind"], "blocked");
    // It never asked for the lock: no lock timeout, one attempt (not made).
    assert_eq!(e["sqlstate"], serde_json::Value::Null, "{e}");
    assert_eq!(e["attempts"], 1);
    assert!(
        e["message"].as_str().unwrap().contains("without queueing"),
        "{e}"
    );
    let pids: Vec<i64> = e["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["pid"].as_i64().unwrap())
        .collect();
    assert!(
        pids.contains(&i64::from(pid)),
        "blockers {pids:?} name the reader {pid}: {e}"
    );

    // Once the reader is gone, running again succeeds.
    reader.close().await.unwrap();
    let o = cli(list, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
}

#[tokio::test]
async fn another_runner_exits_5() {
    let db = common::fresh_database("cli_locked").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url().to_owned();
    assert_eq!(
        cli(&BASIC[..1], &["migrate", "run", "--database-url", &url])
            .await
            .exit,
        Exit::Success
    );
    let (reader, _) = reader(&db).await;

    // Runner A holds the migration lock while its step waits for the reader.
    let list = PATIENT;
    let a = tokio::spawn({
        let url = url.clone();
        async move { cli(list, &["migrate", "run", "--database-url", &url]).await }
    });
    // `status` names the runner once it holds the migration lock (polled: A starts in the background).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let j = cli(
            list,
            &["migrate", "status", "--json", "--database-url", &url],
        )
        .await
        .json();
        if let Some(runner) = j["runner"].as_str() {
            assert!(runner.contains("pid"), "{j}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runner A never took the migration lock: {j}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Runner B gives up waiting for it.
    let o = cli(
        list,
        &[
            "migrate",
            "run",
            "--lock-wait",
            "300ms",
            "--json",
            "--database-url",
            &url,
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Locked, "{}", o.out);
    assert_eq!(o.exit.code(), 5);
    let e = &o.json()["error"];
    assert_eq!(e["kind"], "locked");
    assert!(e["waited_ms"].as_u64().unwrap() >= 300, "{e}");

    // The reader leaves; runner A finishes.
    reader.close().await.unwrap();
    let a = a.await.unwrap();
    assert_eq!(a.exit, Exit::Success, "{}{}", a.out, a.err);
    assert!(
        a.out.contains("migration 2 `products_patient_note`"),
        "{}",
        a.out
    );
}

#[tokio::test]
async fn unreachable_server_exits_3() {
    // Nothing listens on port 1; the password must not be printed.
    let url = "postgres://app:s3cret@127.0.0.1:1/app";
    let o = cli(BASIC, &["migrate", "status", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Connect, "{}{}", o.out, o.err);
    assert_eq!(o.exit.code(), 3);
    assert!(
        o.err.starts_with("error: cannot connect to PostgreSQL"),
        "{}",
        o.err
    );
    assert!(!o.err.contains("s3cret"), "{}", o.err);

    let o = cli(BASIC, &["migrate", "run", "--json", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Connect);
    let j = o.json();
    assert_eq!(j["error"]["kind"], "connect");
    assert_eq!(j["database"], "postgres://app@127.0.0.1:1/app");
    assert!(!o.out.contains("s3cret"), "{}", o.out);
}

#[tokio::test]
async fn a_server_that_never_answers_exits_3_after_the_connect_timeout() {
    // Accepts TCP connections (the kernel completes the handshake) and never says a word, like a
    // hung server or a host behind a firewall that drops packets.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("postgres://app@127.0.0.1:{port}/app");
    let started = std::time::Instant::now();
    let o = cli(
        BASIC,
        &[
            "migrate",
            "run",
            "--connect-timeout",
            "1s",
            "--database-url",
            &url,
        ],
    )
    .await;
    let took = started.elapsed();
    assert_eq!(o.exit, Exit::Connect, "{}{}", o.out, o.err);
    assert!(
        o.err
            .contains(&format!("no answer from 127.0.0.1:{port} within 1000 ms")),
        "{}",
        o.err
    );
    assert!(o.err.contains("--connect-timeout"), "{}", o.err);
    // Bounded by the timeout, not by the operating system's TCP retries (generous for a busy machine).
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    drop(silent);
}

#[tokio::test]
async fn usage_errors_exit_2() {
    // No URL at all (built directly: `DATABASE_URL` may be set in the test's environment).
    let cmd = MigrateCommand::Status(zerodown::cli::StatusArgs {
        connect: ConnectArgs {
            database_url: None,
            json: true,
            ..ConnectArgs::default()
        },
        check: false,
    });
    let (out, err) = (Buf::default(), Buf::default());
    let exit = cmd
        .execute_with_io(Migrator::new(BASIC).unwrap(), out.clone(), err.clone())
        .await;
    assert_eq!(exit, Exit::Usage);
    assert_eq!(exit.code(), 2);
    let j: Value = serde_json::from_str(&out.text()).unwrap();
    assert_eq!(j["error"]["kind"], "usage");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DATABASE_URL"),
        "{j}"
    );

    let o = cli(
        BASIC,
        &[
            "migrate",
            "plan",
            "--database-url",
            "mysql://root:hunter2@localhost/db",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(o.err.contains("must start with `postgres://`"), "{}", o.err);
    assert!(!o.err.contains("hunter2"), "{}", o.err);

    // A bad option value is clap's usage error, exit code 2 too.
    let e = App::try_parse_from(["myapp", "migrate", "run", "--lock-wait", "ten"])
        .err()
        .expect("rejected");
    assert_eq!(e.exit_code(), 2);
    for percent in ["0", "101"] {
        let e = App::try_parse_from([
            "myapp",
            "migrate",
            "run",
            "--backfill-busy-percent",
            percent,
        ])
        .err()
        .expect("rejected");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("1..=100"), "{e}");
    }
    App::try_parse_from(["myapp", "migrate", "run", "--backfill-busy-percent", "100"])
        .expect("a share of 100% is accepted");
}

zerodown::migration! {
    /// Slugs for every product, filled in batches.
    pub mod m0003_products_slug {
        set backfill_batch_size = 10;

        alter table products add column slug text;
        backfill products set slug = lower(sku) where slug is null;
    }
}

static BACKFILL: &[&Migration] = &[&m0001_products::MIGRATION, &m0003_products_slug::MIGRATION];

#[tokio::test]
async fn backfill_progress_as_plain_lines() {
    let db = common::fresh_database("cli_backfill").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let o = cli(
        BACKFILL,
        &["migrate", "run", "--database-url", db.inner.url()],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    // Not a terminal: one line per stage, not one per batch (100 rows in batches of 10).
    let lines: Vec<&str> = o
        .err
        .lines()
        .filter(|l| l.contains("backfill of"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l
                .starts_with("migration 3 `products_slug`: backfill of \"products\" (batches)")),
        "{}",
        o.err
    );
    assert!(
        lines.iter().any(|l| l.contains("(done): 100 rows updated")),
        "{}",
        o.err
    );
    assert!(lines.len() < 10, "{}", o.err);
    // Each step: a line when it starts (with its lock), one when it is done.
    assert!(
        o.err.lines().any(|l| l
            == "migration 3 `products_slug`: step 2/2 (expand): backfill \"products\" set \"slug\" in batches [ROW EXCLUSIVE]"),
        "{}",
        o.err
    );
    assert!(
        o.err.lines().any(|l| l
            .starts_with("migration 3 `products_slug`: step 2/2 (expand) done in ")
            && l.ends_with("(1 attempt)")),
        "{}",
        o.err
    );
    let pending: i64 = sqlx::query_scalar("select count(*) from products where slug is null")
        .fetch_one(&mut db.connect().await)
        .await
        .unwrap();
    assert_eq!(pending, 0);

    // With --json, nothing but the document.
    let db = common::fresh_database("cli_backfill_json").await;
    let o = cli(
        BACKFILL,
        &["migrate", "run", "--json", "--database-url", db.inner.url()],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}", o.out);
    assert!(o.err.is_empty(), "{}", o.err);
    let steps = &o.json()["migrations"][1]["steps"];
    assert!(
        steps
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["description"].as_str().unwrap().contains("backfill")),
        "{steps}"
    );
}

zerodown::migration! {
    /// `name` becomes `title`, without breaking the version that still uses `name`.
    pub mod m0003_products_title {
        expand alter table products rename column name to title;
    }
}

zerodown::migration! {
    /// Touches `products.title` while the rename is mid-change.
    pub mod m0004_products_note {
        alter table products alter column title set default "untitled";
    }
}

static EXPAND: &[&Migration] = &[&m0001_products::MIGRATION, &m0003_products_title::MIGRATION];
static EXPAND_THEN_MORE: &[&Migration] = &[
    &m0001_products::MIGRATION,
    &m0003_products_title::MIGRATION,
    &m0004_products_note::MIGRATION,
];

#[tokio::test]
async fn expand_then_complete_with_mid_change_exit_8() {
    let db = common::fresh_database("cli_expand").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();

    let o = cli(EXPAND, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(
        o.out
            .contains("waiting for `complete`: migration 3 `products_title`"),
        "{}",
        o.out
    );
    let j = cli(
        EXPAND,
        &["migrate", "status", "--json", "--database-url", url],
    )
    .await
    .json();
    assert_eq!(j["migrations"][1]["state"], "expanded");
    assert_eq!(j["awaiting_complete"], 1);
    assert!(
        j["migrations"][1]["mid_change"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{j}"
    );

    // The contract phase, as a dry run.
    let j = cli(
        EXPAND,
        &[
            "migrate",
            "plan",
            "--complete",
            "--json",
            "--database-url",
            url,
        ],
    )
    .await
    .json();
    assert_eq!(j["phase"], "contract");
    assert_eq!(j["steps"][0]["kind"], "expand_contract");

    // A later migration touching `products` waits for `complete`.
    let o = cli(
        EXPAND_THEN_MORE,
        &["migrate", "run", "--json", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::MidChange, "{}", o.out);
    assert_eq!(o.exit.code(), 8);
    let e = &o.json()["error"];
    assert_eq!(e["kind"], "mid_change");
    assert_eq!(e["migration"]["version"], 4);
    assert_eq!(e["waiting"]["version"], 3);

    let o = cli(
        EXPAND_THEN_MORE,
        &["migrate", "complete", "--json", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}", o.out);
    let j = o.json();
    assert_eq!(j["command"], "complete");
    assert_eq!(j["migrations"][0]["phase"], "contract");
    assert_eq!(j["migrations"][0]["version"], 3);

    let o = cli(EXPAND_THEN_MORE, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let columns: Vec<String> = sqlx::query_scalar(
        "select column_name::text from information_schema.columns where table_name = 'products' order by ordinal_position",
    )
    .fetch_all(&mut db.connect().await)
    .await
    .unwrap();
    assert!(
        columns.contains(&"title".to_owned()) && !columns.contains(&"name".to_owned()),
        "{columns:?}"
    );
}

#[tokio::test]
async fn run_complete_replays_the_whole_history_in_one_command() {
    let db = common::fresh_database("cli_run_complete").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    let o = cli(
        EXPAND_THEN_MORE,
        &[
            "migrate",
            "run",
            "--complete",
            "--json",
            "--database-url",
            url,
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let j = o.json();
    let phases: Vec<(u64, String)> = j["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["version"].as_u64().unwrap(),
                m["phase"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            (1, "expand".to_owned()),
            (3, "expand".to_owned()),
            (3, "contract".to_owned()),
            (4, "expand".to_owned())
        ],
        "{j}"
    );
}

#[tokio::test]
async fn rollback_undoes_an_expand() {
    let db = common::fresh_database("cli_rollback").await;
    // Every command here runs `m0001_products` (target 12) first; older servers refuse it.
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    assert_eq!(
        cli(EXPAND, &["migrate", "run", "--database-url", url])
            .await
            .exit,
        Exit::Success
    );

    let o = cli(
        EXPAND,
        &["migrate", "rollback", "3", "--json", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}", o.out);
    let j = o.json();
    assert_eq!(j["command"], "rollback");
    assert_eq!(j["migration"]["version"], 3);
    assert_eq!(j["migration"]["phase"], "rollback");
    let title: bool = sqlx::query_scalar(
        "select exists (select from information_schema.columns where table_name = 'products' and column_name = 'title')",
    )
    .fetch_one(&mut db.connect().await)
    .await
    .unwrap();
    assert!(!title, "the new column is gone");

    // Migration 1 has no expand/contract operation: nothing to roll back.
    let o = cli(EXPAND, &["migrate", "rollback", "1", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Usage, "{}{}", o.out, o.err);
    assert!(o.err.contains("cannot roll back migration 1"), "{}", o.err);
}

zerodown::migration! {
    /// Tags.
    pub mod m0003_tags {
        create table tags (id bigint primary key, label text);
    }
}

/// `status` and `run` make one decision: a migration `run` refuses as out of order makes `status` exit
/// with the same code and name it; a missing steps table is not "no history".
#[tokio::test]
async fn status_exits_with_the_code_run_would() {
    let db = common::fresh_database("cli_status_run").await;
    let url = db.inner.url();
    let applied: &[&'static Migration] = &[&m0001_products::MIGRATION, &m0003_tags::MIGRATION];
    if version_gate::refused_as_too_new(&db.inner.connect_options(), applied).await {
        return;
    }
    let o = cli(applied, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);

    // Migration 2 is older than the newest recorded one (3): `run` refuses it, so `status` says so.
    let all: &[&'static Migration] = &[
        &m0001_products::MIGRATION,
        &m0002_products_name_index::MIGRATION,
        &m0003_tags::MIGRATION,
    ];
    let status = cli(all, &["migrate", "status", "--database-url", url]).await;
    let run = cli(all, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(run.exit, Exit::Drift, "{}{}", run.out, run.err);
    assert_eq!(status.exit, run.exit, "{}{}", status.out, status.err);
    assert!(status.out.contains("OUT OF ORDER"), "{}", status.out);
    assert!(
        status
            .err
            .contains("is pending but the history already has migration 3"),
        "{}",
        status.err
    );
    let j = cli(all, &["migrate", "status", "--json", "--database-url", url])
        .await
        .json();
    assert_eq!(j["exit_code"], 4, "{j}");
    assert_eq!(j["out_of_order"], 1, "{j}");
    assert_eq!(j["migrations"][1]["out_of_order"], true, "{j}");
    assert_eq!(j["run_error"]["kind"], "drift", "{j}");

    // The steps table is gone but nothing is under way: not "no history"; `run` recreates it.
    sqlx::raw_sql("DROP TABLE zerodown_migrations_steps")
        .execute(&mut db.connect().await)
        .await
        .unwrap();
    let o = cli(applied, &["migrate", "status", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(!o.out.contains("no history"), "{}", o.out);
    assert!(o.out.contains("steps table is missing"), "{}", o.out);
    assert!(o.out.contains("completed"), "{}", o.out);

    // ... and with a migration under way, `status` and `run` both refuse, and nothing is created.
    sqlx::raw_sql("UPDATE zerodown_migrations SET state = 'expanding' WHERE version = 3")
        .execute(&mut db.connect().await)
        .await
        .unwrap();
    let status = cli(applied, &["migrate", "status", "--database-url", url]).await;
    let run = cli(applied, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(run.exit, Exit::Failed, "{}{}", run.out, run.err);
    assert_eq!(status.exit, run.exit, "{}{}", status.out, status.err);
    for o in [&status, &run] {
        assert!(
            o.err.contains("the history is incomplete: the table `public.zerodown_migrations` exists but its steps table `public.zerodown_migrations_steps` does not, and migration 3 `tags` (expanding) is under way"),
            "{}",
            o.err
        );
    }
    let steps_exist: bool =
        sqlx::query_scalar("SELECT to_regclass('zerodown_migrations_steps') IS NOT NULL")
            .fetch_one(&mut db.connect().await)
            .await
            .unwrap();
    assert!(
        !steps_exist,
        "run must not recreate the steps table while a migration is under way"
    );
}

/// `migrate baseline VERSION` records what a hand-made schema already has; `run` refused before and
/// goes on after. `--history-schema` puts the history where it says.
#[tokio::test]
async fn baseline_command_and_history_schema_flag() {
    let db = common::fresh_database("cli_baseline").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), BASIC).await {
        return;
    }
    let url = db.inner.url();
    sqlx::raw_sql(
        "CREATE SCHEMA ops;
         CREATE TABLE products (id bigint generated always as identity primary key, sku text not null, name text);
         INSERT INTO products (sku, name) VALUES ('x', 'y')",
    )
    .execute(&mut db.connect().await)
    .await
    .unwrap();
    let flags = ["--history-schema", "ops", "--database-url", url];
    let args = |cmd: &[&'static str]| -> Vec<&str> {
        ["migrate"]
            .iter()
            .chain(cmd)
            .chain(flags.iter())
            .copied()
            .collect()
    };
    let o = cli(BASIC, &args(&["run"])).await;
    assert_eq!(o.exit, Exit::Drift, "{}{}", o.out, o.err);
    assert!(o.err.contains("`migrate baseline <VERSION>`"), "{}", o.err);
    let o = cli(BASIC, &args(&["status"])).await;
    assert_eq!(o.exit, Exit::Drift, "{}{}", o.out, o.err);

    let o = cli(BASIC, &args(&["baseline", "1", "--json"])).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let j = o.json();
    assert_eq!(j["command"], "baseline");
    assert_eq!(j["recorded"][0]["version"], 1, "{j}");
    let o = cli(BASIC, &args(&["baseline", "1"])).await;
    assert!(o.out.contains("nothing to record"), "{}", o.out);

    let o = cli(BASIC, &args(&["run", "--json"])).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let j = o.json();
    assert_eq!(j["migrations"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["migrations"][0]["version"], 2, "{j}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&mut db.connect().await)
        .await
        .unwrap();
    assert_eq!(rows, 1, "migration 1 ran again");
    let baselined: bool =
        sqlx::query_scalar("SELECT baseline FROM ops.zerodown_migrations WHERE version = 1")
            .fetch_one(&mut db.connect().await)
            .await
            .unwrap();
    assert!(baselined);
    let o = cli(BASIC, &args(&["status", "--json"])).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let j = o.json();
    assert_eq!(j["history_schema"], "ops", "{j}");
    assert_eq!(j["migrations"][0]["baseline"], true, "{j}");
}

zerodown::migration! {
    /// 2000 items.
    pub mod m0001_items {
        set target_postgres = 10;
        create table items (
            id bigint primary key,
            label text
        );
        raw(reason = "test rows", lock = row_exclusive)
            "insert into items (id) select n from generate_series(1, 2000) as n";
    }
}

zerodown::migration! {
    /// Labels filled in 100 batches of 20, 50 ms apart (over 5 s).
    pub mod m0002_items_label {
        set target_postgres = 10;
        set backfill_batch_size = 20;
        set backfill_pause = 50ms;

        backfill items set label = "item " || id where label is null;
    }
}

zerodown::migration! {
    /// A step after the backfill, which an interrupted run must not reach.
    pub mod m0003_items_label_index {
        set target_postgres = 10;
        create index concurrently items_label_idx on items (label);
    }
}

zerodown::migration! {
    /// A step that takes 4 s: a stop request waits for it, a second signal does not.
    pub mod m0004_items_slow {
        set target_postgres = 10;
        raw(reason = "a slow step", lock = access_share) "select pg_sleep(4)";
    }
}

static INTERRUPTIBLE: &[&Migration] = &[
    &m0001_items::MIGRATION,
    &m0002_items_label::MIGRATION,
    &m0003_items_label_index::MIGRATION,
];

static SLOW: &[&Migration] = &[&m0001_items::MIGRATION, &m0004_items_slow::MIGRATION];

/// The environment variable that makes `cli_child` run `migrate run` on this URL.
const CHILD_URL: &str = "ZERODOWN_TEST_CLI_CHILD_URL";
/// Which list `cli_child` runs: `interruptible` or `slow`.
const CHILD_SET: &str = "ZERODOWN_TEST_CLI_CHILD_SET";

/// `migrate run` in a process of its own (this test binary running `cli_child`), as a deploy job
/// runs it, so that signals reach it.
fn spawn_cli(url: &str, set: &str) -> tokio::process::Child {
    tokio::process::Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "cli_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_URL, url)
        .env(CHILD_SET, set)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning the CLI child")
}

fn send(signal: &str, child: &tokio::process::Child) {
    let pid = child.id().expect("the child runs").to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("running `kill`");
    assert!(status.success(), "kill {signal} {pid}: {status}");
}

/// Polls `sql` (a count) until it reaches `at_least`, for at most 60 s; the table may not exist yet.
async fn wait_for_count(db: &common::Db, sql: &str, at_least: i64) {
    let started = std::time::Instant::now();
    let mut conn = db.connect().await;
    loop {
        if let Ok(n) = sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut conn).await {
            if n >= at_least {
                return;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "`{sql}` did not reach {at_least} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What an exited CLI child left: exit code, stderr.
async fn reap(child: tokio::process::Child, within: Duration) -> (Option<i32>, String) {
    let out = tokio::time::timeout(within, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the CLI did not exit within {within:?}"))
        .expect("reaping the CLI child");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    use std::os::unix::process::ExitStatusExt;
    (
        out.status.code().or(out.status.signal().map(|s| 128 + s)),
        format!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_after_the_current_batch_and_run_resumes() {
    let db = common::fresh_database("cli_sigterm").await;
    let url = db.inner.url().to_owned();
    let child = spawn_cli(&url, "interruptible");
    // A few batches in: the backfill is running.
    wait_for_count(
        &db,
        "select count(*) from items where label is not null",
        200,
    )
    .await;
    send("-TERM", &child);
    let (code, output) = reap(child, Duration::from_secs(30)).await;
    assert_eq!(code, Some(Exit::Interrupted.code().into()), "{output}");
    for needle in [
        "received SIGTERM: stopping after the current backfill batch or step",
        "error: stopped on request in step 1/1 (expand) of migration 2 `items_label`",
        "after batch ",
        "finished first: migration 1 `items`",
        "the migration lock was released",
        "the next `run` resumes from there",
    ] {
        assert!(
            output.contains(needle),
            "the output lacks {needle:?}:\n{output}"
        );
    }

    let mut conn = db.connect().await;
    let (labelled, last, wrong): (i64, Option<i64>, i64) = sqlx::query_as(
        "select count(*) filter (where label is not null),
                max(id) filter (where label is not null),
                count(*) filter (where label is distinct from 'item ' || id and label is not null)
         from items",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    // Whole batches only, in key order, and not all of them.
    assert!((200..2000).contains(&labelled), "{labelled} rows labelled");
    assert_eq!(
        labelled % 20,
        0,
        "a batch was half applied: {labelled} rows labelled"
    );
    assert_eq!(
        last,
        Some(labelled),
        "labelled rows are not the first {labelled}"
    );
    assert_eq!(wrong, 0);
    let (locks, sessions): (i64, i64) = sqlx::query_as(
        "select (select count(*) from pg_locks where locktype = 'advisory'
                 and database = (select oid from pg_database where datname = current_database())),
                (select count(*) from pg_stat_activity
                 where datname = current_database() and pid <> pg_backend_pid())",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (locks, sessions),
        (0, 0),
        "the lock or a session was left behind"
    );
    let index: bool = sqlx::query_scalar("select to_regclass('items_label_idx') is not null")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!index, "the step after the backfill ran");
    let cursor_rows: i64 = sqlx::query_scalar(
        "select (backfill_cursor::jsonb ->> 'rows')::bigint from zerodown_migrations_steps
         where version = 2 and state <> 'done'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        cursor_rows, labelled,
        "the saved cursor matches the committed batches"
    );

    // `run` resumes from the cursor and finishes.
    let o = cli(INTERRUPTIBLE, &["migrate", "run", "--database-url", &url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let (labelled, wrong): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where label is not null),
                count(*) filter (where label is distinct from 'item ' || id)
         from items",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((labelled, wrong), (2000, 0));
    let index: bool = sqlx::query_scalar("select to_regclass('items_label_idx') is not null")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(index, "the rest of the migrations ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once() {
    let db = common::fresh_database("cli_sigterm_twice").await;
    let url = db.inner.url().to_owned();
    let child = spawn_cli(&url, "slow");
    wait_for_count(
        &db,
        "select count(*) from pg_stat_activity where query like '%pg_sleep(4)%' and state = 'active' and pid <> pg_backend_pid()",
        1,
    )
    .await;
    send("-INT", &child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    send("-INT", &child);
    let (code, output) = reap(child, Duration::from_secs(30)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the second signal took {:?}:\n{output}",
        started.elapsed()
    );
    assert_eq!(code, Some(130), "{output}");
    assert!(
        output.contains("received SIGINT again: stopping at once"),
        "{output}"
    );
    let o = cli(SLOW, &["migrate", "run", "--database-url", &url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
}

/// The CLI process of the signal tests; not a test of its own.
#[tokio::test]
#[ignore = "child process of the signal tests"]
async fn cli_child() {
    let url = std::env::var(CHILD_URL).expect("started by a signal test");
    let set = match std::env::var(CHILD_SET).as_deref() {
        Ok("slow") => SLOW,
        _ => INTERRUPTIBLE,
    };
    let exit = parse(&["migrate", "run", "--database-url", &url])
        .execute(set)
        .await;
    std::process::exit(exit.code().into());
}

mod typo {
    zerodown::migration! {
        /// A typo in the type: `run` fails (42704) before anything commits.
        pub mod m0002_products_birthday {
            alter table products add column birthday dat;
        }
    }
}

mod fixed {
    zerodown::migration! {
        /// The typo fixed in place.
        pub mod m0002_products_birthday {
            alter table products add column birthday date;
        }
    }
}

mod half {
    zerodown::migration! {
        /// Its first step commits; its second fails on a typo in the column name.
        pub mod m0002_products_half {
            alter table products add column rank int;
            create index concurrently products_rank_idx on products (rnak);
        }
    }
}

mod half_fixed {
    zerodown::migration! {
        /// The index fixed in place, after the first step committed.
        pub mod m0002_products_half {
            alter table products add column rank int;
            create index concurrently products_rank_idx on products (rank);
        }
    }
}

/// A migration that failed before any step committed may be edited: the next `run` runs the new plan.
/// One that failed after a step committed is drift, and `accept-drift` records the edit.
#[tokio::test]
async fn a_failed_migration_is_fixed_in_place() {
    let db = common::fresh_database("cli_fix_in_place").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    let broken: &[&Migration] = &[
        &m0001_products::MIGRATION,
        &typo::m0002_products_birthday::MIGRATION,
    ];
    let repaired: &[&Migration] = &[
        &m0001_products::MIGRATION,
        &fixed::m0002_products_birthday::MIGRATION,
    ];
    let o = cli(broken, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.out, o.err);
    assert!(o.err.contains("42704"), "{}", o.err);
    assert!(
        o.err.contains("no step of migration 2 `products_birthday` committed anything, so the cause may be fixed in the migration itself: edit it, and the next `run` runs its new plan from the start"),
        "{}",
        o.err
    );
    let o = cli(repaired, &["migrate", "status", "--database-url", url]).await;
    assert_eq!(
        o.exit,
        Exit::Success,
        "status agrees that `run` may go on: {}{}",
        o.out,
        o.err
    );
    let o = cli(repaired, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let ty: String = sqlx::query_scalar(
        "select data_type::text from information_schema.columns where table_name = 'products' and column_name = 'birthday'",
    )
    .fetch_one(&mut db.connect().await)
    .await
    .unwrap();
    assert_eq!(ty, "date");

    // A step committed before the failure: the edit is drift, named with the command that records it.
    let broken: &[&Migration] = &[
        &m0001_products::MIGRATION,
        &half::m0002_products_half::MIGRATION,
    ];
    let repaired: &[&Migration] = &[
        &m0001_products::MIGRATION,
        &half_fixed::m0002_products_half::MIGRATION,
    ];
    let db = common::fresh_database("cli_fix_half").await;
    let url = db.inner.url();
    let o = cli(broken, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.out, o.err);
    assert!(
        !o.err.contains("may be fixed in the migration itself"),
        "{}",
        o.err
    );
    let o = cli(repaired, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Drift, "{}{}", o.out, o.err);
    assert!(o.err.contains("`migrate accept-drift 2`"), "{}", o.err);
    let o = cli(
        repaired,
        &["migrate", "accept-drift", "2", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(
        o.out.contains("the steps already done are not run again"),
        "{}",
        o.out
    );
    let o = cli(repaired, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let valid: bool = sqlx::query_scalar(
        "select indisvalid from pg_index where indexrelid = 'products_rank_idx'::regclass",
    )
    .fetch_one(&mut db.connect().await)
    .await
    .unwrap();
    assert!(valid);
}

/// The out-of-order refusal names the flag that allows it, and the flag does.
#[tokio::test]
async fn run_allow_out_of_order_applies_an_older_pending_migration() {
    let db = common::fresh_database("cli_out_of_order").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    let applied: &[&'static Migration] = &[&m0001_products::MIGRATION, &m0003_tags::MIGRATION];
    assert_eq!(
        cli(applied, &["migrate", "run", "--database-url", url])
            .await
            .exit,
        Exit::Success
    );
    let all: &[&'static Migration] = &[
        &m0001_products::MIGRATION,
        &m0002_products_name_index::MIGRATION,
        &m0003_tags::MIGRATION,
    ];
    let o = cli(all, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Drift, "{}{}", o.out, o.err);
    assert!(
        o.err.contains("`migrate run --allow-out-of-order`"),
        "{}",
        o.err
    );
    let o = cli(
        all,
        &[
            "migrate",
            "run",
            "--allow-out-of-order",
            "--json",
            "--database-url",
            url,
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert_eq!(o.json()["migrations"][0]["version"], 2);
}

/// `status --check` also fails on a failed migration, and on a recorded one missing from the binary.
#[tokio::test]
async fn status_check_fails_on_failed_and_missing_migrations() {
    let db = common::fresh_database("cli_status_check").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    let broken: &[&Migration] = &[
        &m0001_products::MIGRATION,
        &typo::m0002_products_birthday::MIGRATION,
    ];
    assert_eq!(
        cli(broken, &["migrate", "run", "--database-url", url])
            .await
            .exit,
        Exit::Failed
    );
    // `run` would go on (it may retry the failed step), so plain `status` exits 0; `--check` does not.
    let o = cli(broken, &["migrate", "status", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(
        o.out
            .contains("expanding, stopped by an error (0 of 1 steps done)"),
        "{}",
        o.out
    );
    let o = cli(
        broken,
        &["migrate", "status", "--check", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.out, o.err);
    assert!(
        o.err
            .contains("check failed: failed or interrupted: migration 2 `products_birthday`"),
        "{}",
        o.err
    );
    // Migration 2 deleted from the binary: recorded, missing.
    let o = cli(
        &BASIC[..1],
        &["migrate", "status", "--check", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Drift, "{}{}", o.out, o.err);
    assert!(
        o.err
            .contains("recorded but missing from this binary: migration 2 `products_birthday`"),
        "{}",
        o.err
    );
}

zerodown::migration! {
    /// A second expand/contract change on another table.
    pub mod m0005_tags_label_to_name {
        expand alter table tags rename column label to name;
    }
}

/// `complete VERSION` applies one migration's contract phase, not every waiting one.
#[tokio::test]
async fn complete_one_version() {
    let db = common::fresh_database("cli_complete_one").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    // Two expand/contract changes, both waiting for `complete` after `run`.
    let list: [&'static Migration; 3] = [
        &m0001_products::MIGRATION,
        &m0003_products_title::MIGRATION,
        &m0005_tags_label_to_name::MIGRATION,
    ];
    sqlx::raw_sql("create table tags (id bigint primary key, label text)")
        .execute(&mut db.connect().await)
        .await
        .unwrap();
    let o = cli(&list, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let o = cli(
        &list,
        &["migrate", "complete", "5", "--json", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let j = o.json();
    assert_eq!(j["migrations"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["migrations"][0]["version"], 5, "{j}");
    let j = cli(
        &list,
        &["migrate", "status", "--json", "--database-url", url],
    )
    .await
    .json();
    assert_eq!(j["migrations"][1]["state"], "expanded", "{j}");
    assert_eq!(j["migrations"][2]["state"], "completed", "{j}");
    // Not waiting (any more): refused, nothing run.
    let o = cli(&list, &["migrate", "complete", "5", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Usage, "{}{}", o.out, o.err);
    assert!(
        o.err
            .contains("migration 5 is not waiting for `complete` (its state: completed)"),
        "{}",
        o.err
    );
    let o = cli(&list, &["migrate", "complete", "1", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Usage, "{}{}", o.out, o.err);
    assert!(o.err.contains("nothing to complete"), "{}", o.err);
}

/// A failed `run --json` lists the migrations it applied before the failure; the text form says so on
/// stderr.
#[tokio::test]
async fn a_failed_run_lists_what_it_applied_before() {
    let db = common::fresh_database("cli_applied_before").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), &BASIC[..1]).await {
        return;
    }
    let url = db.inner.url();
    let broken: &[&Migration] = &[
        &m0001_products::MIGRATION,
        &typo::m0002_products_birthday::MIGRATION,
    ];
    let o = cli(broken, &["migrate", "run", "--json", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.out, o.err);
    let j = o.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["error"]["migration"]["version"], 2, "{j}");
    let applied = j["applied"].as_array().expect("an `applied` list");
    assert_eq!(applied.len(), 1, "{j}");
    assert_eq!(
        (applied[0]["version"].as_u64(), applied[0]["phase"].as_str()),
        (Some(1), Some("expand"))
    );

    // Nothing applied before this failure: an empty list, and no line about it.
    let o = cli(broken, &["migrate", "run", "--json", "--database-url", url]).await;
    assert_eq!(o.json()["applied"], serde_json::json!([]));
    let o = cli(broken, &["migrate", "run", "--database-url", url]).await;
    assert!(!o.err.contains("applied before the failure"), "{}", o.err);

    let db2 = common::fresh_database("cli_applied_before_text").await;
    let o = cli(
        broken,
        &["migrate", "run", "--database-url", db2.inner.url()],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.out, o.err);
    assert!(
        o.err
            .contains("applied before the failure: migration 1 `products` (expand)"),
        "{}",
        o.err
    );
}

/// `status` shows when each migration was applied and the first line of its doc comment.
#[tokio::test]
async fn status_shows_when_and_what() {
    let db = common::fresh_database("cli_status_when").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), BASIC).await {
        return;
    }
    let url = db.inner.url();
    assert_eq!(
        cli(&BASIC[..1], &["migrate", "run", "--database-url", url])
            .await
            .exit,
        Exit::Success
    );
    let o = cli(BASIC, &["migrate", "status", "--database-url", url]).await;
    let lines: Vec<&str> = o.out.lines().collect();
    let first = lines
        .iter()
        .find(|l| l.contains("products "))
        .expect("migration 1's line");
    let when = regex_like_timestamp(first);
    assert!(when, "an applied-at time on {first:?}");
    assert!(first.ends_with("-- Products."), "{first}");
    let second = lines
        .iter()
        .find(|l| l.contains("products_name_index"))
        .expect("migration 2's line");
    assert!(second.contains("pending -- Search by name."), "{second}");
    let j = cli(
        BASIC,
        &["migrate", "status", "--json", "--database-url", url],
    )
    .await
    .json();
    assert!(
        j["migrations"][0]["applied_at"]
            .as_str()
            .is_some_and(|s| s.ends_with(" UTC")),
        "{j}"
    );
    assert_eq!(j["migrations"][1]["applied_at"], serde_json::Value::Null);
}

/// `YYYY-MM-DD HH:MM:SS UTC` somewhere in `line`.
fn regex_like_timestamp(line: &str) -> bool {
    line.split(' ')
        .zip(line.split(' ').skip(1))
        .zip(line.split(' ').skip(2))
        .any(|((d, t), z)| {
            let digits = |s: &str, at: &[usize]| {
                s.char_indices().all(|(i, c)| {
                    if at.contains(&i) {
                        !c.is_ascii_digit()
                    } else {
                        c.is_ascii_digit()
                    }
                })
            };
            d.len() == 10 && digits(d, &[4, 7]) && t.len() == 8 && digits(t, &[2, 5]) && z == "UTC"
        })
}

/// A recorded migration deleted from the binary (among its versions) stops `run` (exit 4) naming it
/// and `--ignore-missing`; a newer one (an older binary during a rollout) does not.
#[tokio::test]
async fn a_migration_missing_from_the_binary_is_an_error_unless_ignored() {
    let db = common::fresh_database("cli_missing").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), BASIC).await {
        return;
    }
    let url = db.inner.url();
    assert_eq!(
        cli(BASIC, &["migrate", "run", "--database-url", url])
            .await
            .exit,
        Exit::Success
    );
    // Migration 2 deleted, migration 3 added.
    let later: &[&Migration] = &[&m0001_products::MIGRATION, &m0003_later::MIGRATION];
    let o = cli(later, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Drift, "{}{}", o.out, o.err);
    assert!(
        o.err.contains("migration 2 `products_name_index`"),
        "{}",
        o.err
    );
    assert!(o.err.contains("--ignore-missing"), "{}", o.err);
    assert!(o.err.contains("nothing was run"), "{}", o.err);
    let o = cli(later, &["migrate", "status", "--database-url", url]).await;
    assert_eq!(
        o.exit,
        Exit::Drift,
        "status exits as `run` would: {}{}",
        o.out,
        o.err
    );
    let o = cli(
        later,
        &[
            "migrate",
            "run",
            "--ignore-missing",
            "--json",
            "--database-url",
            url,
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert_eq!(o.json()["migrations"][0]["version"], 3);
    // An older binary (only migration 1) meets versions 2 and 3: nothing to do, no error.
    let o = cli(&BASIC[..1], &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
}

zerodown::migration! {
    /// A later table.
    pub mod m0003_later {
        create table later (id int primary key);
    }
}

mod undo {
    zerodown::migration! {
        /// Every customer has an email.
        pub mod m0001_customers_email_not_null {
            alter table customers alter column email set not null;
        }
    }

    zerodown::migration! {
        /// An index, a raw data fix, then `set not null`.
        pub mod m0001_customers_with_raw {
            create index concurrently customers_email_idx on customers (email);
            raw(reason = "trim emails", lock = row_exclusive) "update customers set email = trim(email)";
            alter table customers alter column email set not null;
        }
    }
}

/// `migrate rollback` of a plain migration whose `set not null` failed: the failure names what stays
/// live and the command; the rollback drops the helper check (exit 0) and NULL writes work again; a
/// migration whose committed steps include raw SQL is refused (exit 2), nothing run. With
/// `--nocapture` the test prints the session as a user sees it.
#[tokio::test]
async fn rollback_undoes_an_interrupted_plain_migration() {
    let db = common::fresh_database("cli_undo").await;
    let set: &[&Migration] = &[&undo::m0001_customers_email_not_null::MIGRATION];
    if version_gate::refused_as_too_new(&db.inner.connect_options(), set).await {
        return;
    }
    let url = db.inner.url();
    let mut conn = db.connect().await;
    conn.execute(
        "create table customers (id bigint primary key, email text);
         insert into customers select g, case when g % 100 = 0 then null else 'c' || g || '@example.com' end
         from generate_series(1, 1000) g",
    )
    .await
    .unwrap();
    let mut transcript = String::new();
    let mut show = |args: &[&str], o: &Outcome| {
        let shown: Vec<&str> = args
            .iter()
            .enumerate()
            .filter(|(i, a)| {
                **a != "--database-url" && (*i == 0 || args[i - 1] != "--database-url")
            })
            .map(|(_, a)| *a)
            .collect();
        transcript.push_str(&format!(
            "$ myapp {}\n{}{}[exit {}]\n\n",
            shown.join(" "),
            o.out,
            o.err,
            o.exit.code()
        ));
    };

    let args = ["migrate", "run", "--database-url", url];
    let o = cli(set, &args).await;
    show(&args, &o);
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.out, o.err);
    assert!(o.err.contains("23514"), "{}", o.err);
    // The helper check's name is the macro's (`naming::not_null_check`): read it from the catalog.
    let helper: String = sqlx::query_scalar(
        "select conname::text from pg_constraint where conrelid = 'customers'::regclass and contype = 'c'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        o.err.contains(&format!("until migration 1 `customers_email_not_null` finishes or is rolled back, the check constraint \"{helper}\" (NOT VALID) on \"customers\" stays: inserts and updates writing NULL into \"email\" fail; to undo what its steps did, run `migrate rollback 1`")),
        "{}",
        o.err
    );
    let insert_null = "insert into customers values (5000, null)";
    assert!(
        conn.execute(insert_null).await.is_err(),
        "the helper check refuses NULLs"
    );

    let args = ["migrate", "status", "--database-url", url];
    let o = cli(set, &args).await;
    show(&args, &o);
    assert!(
        o.out.contains(&format!(
            "the check constraint \"{helper}\" (NOT VALID) on \"customers\" stays"
        )),
        "{}",
        o.out
    );

    let args = ["migrate", "rollback", "1", "--database-url", url];
    let o = cli(set, &args).await;
    show(&args, &o);
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(
        o.out
            .contains(&format!("drop constraint \"{helper}\" from \"customers\"")),
        "{}",
        o.out
    );
    assert!(
        o.out.contains("is rolled back and counts as never applied"),
        "{}",
        o.out
    );
    conn.execute(insert_null).await.unwrap();

    let args = ["migrate", "status", "--database-url", url];
    let o = cli(set, &args).await;
    show(&args, &o);
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(o.out.contains("pending"), "{}", o.out);

    let args = ["migrate", "rollback", "1", "--database-url", url];
    let o = cli(set, &args).await;
    show(&args, &o);
    assert_eq!(o.exit, Exit::Usage, "{}{}", o.out, o.err);
    assert!(o.err.contains("it is not applied"), "{}", o.err);

    // Raw SQL committed before the failure: the rollback refuses, naming the step, and runs nothing.
    let db = common::fresh_database("cli_undo_raw").await;
    let url = db.inner.url();
    let set: &[&Migration] = &[&undo::m0001_customers_with_raw::MIGRATION];
    let mut conn = db.connect().await;
    conn.execute("create table customers (id bigint primary key, email text); insert into customers values (1, null)")
        .await
        .unwrap();
    let o = cli(set, &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.out, o.err);
    assert!(
        o.err
            .contains("`migrate rollback 1` cannot undo step 2 (`raw sql: trim emails`"),
        "{}",
        o.err
    );
    let args = ["migrate", "rollback", "1", "--database-url", url];
    let o = cli(set, &args).await;
    show(&args, &o);
    assert_eq!(o.exit, Exit::Usage, "{}{}", o.out, o.err);
    assert!(
        o.err.contains("cannot roll back migration 1 `customers_with_raw`: it committed steps that cannot be undone: step 2 of 5 (`raw sql: trim emails`): raw SQL, whose effect zerodown cannot know"),
        "{}",
        o.err
    );
    let index: bool = sqlx::query_scalar("select to_regclass('customers_email_idx') is not null")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(index, "nothing was undone");
    println!("{transcript}");
}

/// `plan --offline` and `show` need no database: no `--database-url`, nothing connects.
#[tokio::test]
async fn plan_offline_and_show_need_no_database() {
    let set: &[&'static Migration] = &[
        &m0001_products::MIGRATION,
        &m0002_products_name_index::MIGRATION,
        &m0003_products_title::MIGRATION,
    ];
    let o = cli(set, &["migrate", "plan", "--offline"]).await;
    assert_eq!(o.exit, Exit::Success, "{}", o.err);
    assert!(
        o.out.starts_with(
            "-- offline: what `run` executes on a database where none of these migrations ran\n"
        ),
        "{}",
        o.out
    );
    assert!(
        o.out.contains(
            "CREATE INDEX CONCURRENTLY \"products_name_idx\" ON \"products\" (\"name\");"
        ),
        "{}",
        o.out
    );
    assert!(
        o.out
            .contains("-- migration 3 `products_title`, expand step 1 of"),
        "{}",
        o.out
    );

    let o = cli(set, &["migrate", "show", "3"]).await;
    assert_eq!(o.exit, Exit::Success, "{}", o.err);
    assert!(
        o.out.starts_with("-- migration 3 `products_title`\n"),
        "{}",
        o.out
    );
    assert!(o.out.contains("-- `run` executes:\n"), "{}", o.out);
    assert!(
        o.out.contains(
            "-- `complete` executes, once no instance of the old application version runs:\n"
        ),
        "{}",
        o.out
    );
    assert!(o.out.contains("lock_timeout"), "{}", o.out);

    let o = cli(set, &["migrate", "show", "3", "--json"]).await;
    assert_eq!(o.exit, Exit::Success, "{}", o.err);
    let doc = o.json();
    assert_eq!(doc["command"], "show");
    assert!(
        doc["run"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{doc}"
    );
    assert!(
        doc["complete"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{doc}"
    );

    let o = cli(set, &["migrate", "show", "9"]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.err
            .contains("this binary has no migration 9; its versions: 1, 2, 3"),
        "{}",
        o.err
    );
}

mod set {
    zerodown::migrations! {
        pub mod m0001_shop {
            create table customers (id bigint primary key, email text not null);
            create index customers_email_idx on customers (email);
        }
    }
}

/// `schema` prints the set's schema without a database; `schema --check` compares a database with it
/// (exit 4 and each difference when they differ); without a schema the command says how to give one.
#[tokio::test]
async fn schema_prints_the_set_and_checks_a_database() {
    let with_schema = || {
        Migrator::new(set::MIGRATIONS)
            .unwrap()
            .with_schema(&set::SCHEMA)
    };
    let o = cli_with(with_schema(), &["migrate", "schema"]).await;
    assert_eq!(o.exit, Exit::Success, "{}", o.err);
    assert!(
        o.out.contains("CREATE TABLE \"customers\" (\n    \"id\" bigint NOT NULL,\n    \"email\" text NOT NULL,"),
        "{}",
        o.out
    );

    let db = common::fresh_database("cli_schema").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), set::MIGRATIONS).await {
        return;
    }
    let url = db.inner.url();
    let o = cli_with(with_schema(), &["migrate", "run", "--database-url", url]).await;
    assert_eq!(o.exit, Exit::Success, "{}", o.err);
    let o = cli_with(
        with_schema(),
        &["migrate", "schema", "--check", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    assert!(
        o.out
            .contains("the database matches the schema the migrations build"),
        "{}",
        o.out
    );

    let mut conn = db.connect().await;
    sqlx::raw_sql("ALTER TABLE customers ADD COLUMN phone text")
        .execute(&mut conn)
        .await
        .unwrap();
    let o = cli_with(
        with_schema(),
        &[
            "migrate",
            "schema",
            "--check",
            "--database-url",
            url,
            "--json",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Drift, "{}{}", o.out, o.err);
    assert_eq!(
        o.json()["differences"],
        serde_json::json!([
            "column customers.phone: in the database (text), not made by the migrations"
        ])
    );

    let o = cli(set::MIGRATIONS, &["migrate", "schema"]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.err
            .contains("`Migrator::new(MIGRATIONS)?.with_schema(&SCHEMA)`"),
        "{}",
        o.err
    );
}

mod drifting {
    zerodown::migrations! {
        pub mod m0001_parcels {
            create table parcels (id bigint primary key, weight int not null, label text);
            create index parcels_weight_idx on parcels (weight);
        }
        pub mod m0002_widen {
            expand alter table parcels alter column weight type bigint from int;
        }
    }
}

/// `complete` stops (exit 1, nothing run) when the database needs other statements than the plan
/// shows (an index on the column dropped by hand since `run`); `--no-schema-check` runs them.
#[tokio::test]
async fn complete_runs_only_what_the_plan_shows_unless_told_otherwise() {
    let db = common::fresh_database("cli_complete_drift").await;
    if version_gate::refused_as_too_new(&db.inner.connect_options(), drifting::MIGRATIONS).await {
        return;
    }
    let url = db.inner.url();
    let o = cli(
        drifting::MIGRATIONS,
        &["migrate", "run", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    db.exec("DROP INDEX parcels_weight_idx").await;
    let o = cli(
        drifting::MIGRATIONS,
        &["migrate", "complete", "--database-url", url],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.out, o.err);
    assert!(
        o.err
            .contains("the database needs other statements for this step than the plan shows")
            && o.err.contains("--no-schema-check"),
        "{}",
        o.err
    );
    let weight: String = db
        .scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'parcels'::regclass AND attname = 'weight'")
        .await;
    assert_eq!(weight, "integer", "the refused complete changed nothing");
    let o = cli(
        drifting::MIGRATIONS,
        &[
            "migrate",
            "complete",
            "--no-schema-check",
            "--database-url",
            url,
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Success, "{}{}", o.out, o.err);
    let weight: String = db
        .scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'parcels'::regclass AND attname = 'weight'")
        .await;
    assert_eq!(weight, "bigint");
}
