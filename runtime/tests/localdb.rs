//! `localdb` against real servers: discovery (URL, local server, throwaway cluster, nothing), fresh
//! databases, concurrency, and the watchdog that removes a killed process's cluster.
//!
//! Databases made here are prefixed `zdtest_`. The tests need the PostgreSQL server binaries (for
//! throwaway clusters) and, for `environment_server_*`, whatever server discovery finds in this
//! environment; without them they fail, with the message saying how to provide one.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;
use zerodown_runtime::localdb::{self, Discovery, Error, Server, ServerKind};

const PREFIX: &str = "zdtest_";

/// Set in the environment of the child process that `throwaway_cluster_is_removed_when_its_process_is_killed`
/// runs (this same test binary).
const CHILD_ENV: &str = "ZERODOWN_LOCALDB_TEST_CHILD";

/// A throwaway cluster shared by the tests of this binary; the watchdog removes it at exit.
async fn throwaway() -> &'static Server {
    static SERVER: OnceCell<Server> = OnceCell::const_new();
    SERVER
        .get_or_init(|| async {
            Discovery::from_env()
                .force_throwaway(true)
                .database_prefix(PREFIX)
                .discover()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .await
}

/// The server discovery finds in this environment (as `localdb::server()` would), with our prefix.
async fn environment_server() -> &'static Server {
    static SERVER: OnceCell<Server> = OnceCell::const_new();
    SERVER
        .get_or_init(|| async {
            Discovery::from_env()
                .database_prefix(PREFIX)
                .discover()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .await
}

/// A port nothing listens on (it was free a moment ago).
fn unused_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    uid_line.split_whitespace().nth(2) == Some("0")
}

/// Whether process `pid` exists and has not exited (a zombie has).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next()
                != Some("Z")
        }
        Err(_) => false,
    }
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )
    .is_ok()
}

async fn database_exists(server: &Server, name: &str) -> bool {
    let mut conn = PgConnection::connect_with(&server.admin_options())
        .await
        .unwrap();
    let found: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    found
}

/// Waits up to `limit` for `done`; false if it never held.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

/// The URL of the shared throwaway cluster with a password added (trust authentication ignores it),
/// to check that it is never shown.
async fn url_with_password(password: &str) -> String {
    let url = throwaway().await.url().to_owned();
    url.replacen("postgres@", &format!("postgres:{password}@"), 1)
}

#[tokio::test]
async fn discovery_uses_database_url_when_set() {
    let url = url_with_password("s3cret").await;
    // The local server address points nowhere: only the URL can have been used.
    let server = Discovery::from_vars([("DATABASE_URL", url.as_str())])
        .local_server("127.0.0.1", unused_port())
        .database_prefix(PREFIX)
        .discover()
        .await
        .unwrap();
    assert_eq!(
        server.kind(),
        &ServerKind::Env {
            variable: "DATABASE_URL".into()
        }
    );
    assert_eq!(server.version(), throwaway().await.version());
    assert_eq!(server.url(), url);
    assert!(!format!("{server:?}").contains("s3cret"), "{server:?}");
    assert!(
        server.redacted_url().contains(":***@"),
        "{}",
        server.redacted_url()
    );

    // Databases come from that server, and their URL keeps the password but Debug does not show it.
    let db = server.fresh_database("from_url").await.unwrap();
    assert!(
        db.url().contains("s3cret") && db.url().contains(db.name()),
        "{}",
        db.url()
    );
    assert!(!format!("{db:?}").contains("s3cret"), "{db:?}");
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let current: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(current, db.name());
    conn.close().await.unwrap();
}

#[tokio::test]
async fn zerodown_database_url_wins_over_database_url() {
    let good = throwaway().await.url().to_owned();
    let bad = format!("postgres://postgres@127.0.0.1:{}/postgres", unused_port());
    let server = Discovery::from_vars([
        ("ZERODOWN_DATABASE_URL", good.as_str()),
        ("DATABASE_URL", bad.as_str()),
    ])
    .discover()
    .await
    .unwrap();
    assert_eq!(
        server.kind(),
        &ServerKind::Env {
            variable: "ZERODOWN_DATABASE_URL".into()
        }
    );
}

#[tokio::test]
async fn unusable_database_url_is_an_error_naming_it_without_the_password() {
    let url = format!(
        "postgres://postgres:s3cret@127.0.0.1:{}/postgres",
        unused_port()
    );
    // Even with a working local server, a set but unusable URL is an error, not a fallback.
    let local_port = throwaway().await.cluster().unwrap().port();
    let err = Discovery::from_vars([("DATABASE_URL", url.as_str())])
        .local_server("127.0.0.1", local_port)
        .discover()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::EnvServer { .. }), "{err:?}");
    assert!(message.contains("`DATABASE_URL`"), "{message}");
    assert!(
        message.contains("postgres://postgres:***@127.0.0.1:"),
        "{message}"
    );
    assert!(
        !message.contains("s3cret") && !format!("{err:?}").contains("s3cret"),
        "{message}"
    );

    let err = Discovery::from_vars([("DATABASE_URL", "postgres://u:s3cret@host:notaport/db")])
        .discover()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a valid URL"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[tokio::test]
async fn discovery_finds_the_local_server() {
    // The shared throwaway cluster stands in for "the local server", so this runs the same everywhere.
    let port = throwaway().await.cluster().unwrap().port();
    let server = Discovery::from_vars([("PGUSER", "postgres")])
        .local_server("127.0.0.1", port)
        .database_prefix(PREFIX)
        .discover()
        .await
        .unwrap();
    assert_eq!(server.kind(), &ServerKind::LocalServer);
    assert_eq!(server.admin_options().get_port(), port);
    assert_eq!(server.admin_options().get_database(), Some("postgres"));
    let db = server.fresh_database("local").await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&db.pool().await.unwrap())
        .await
        .unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn the_default_local_address_is_127_0_0_1_port_5432() {
    // Where nothing else is configured, the local server is asked at 127.0.0.1:5432 as `postgres`:
    // whatever the outcome here, the error or the server says so.
    let result = Discovery::from_vars([("PATH", "")])
        .debian_root(None)
        .pg_config(false)
        .discover()
        .await;
    match result {
        Ok(server) => {
            assert_eq!(server.kind(), &ServerKind::LocalServer);
            let options = server.admin_options();
            assert_eq!(
                (options.get_host(), options.get_port()),
                ("127.0.0.1", 5432)
            );
            assert_eq!(options.get_username(), "postgres");
        }
        Err(err) => assert!(
            err.to_string()
                .contains("the local server at 127.0.0.1:5432 as `postgres`"),
            "{err}"
        ),
    }
}

#[tokio::test]
async fn environment_server_fresh_databases_are_distinct_usable_and_dropped() {
    let server = environment_server().await;
    let first = server.fresh_database("Distinct Usable").await.unwrap();
    let second = server.fresh_database("Distinct Usable").await.unwrap();
    assert_ne!(first.name(), second.name());
    for db in [&first, &second] {
        assert!(
            db.name().starts_with("zdtest_distinct_usable_"),
            "{}",
            db.name()
        );
        assert!(db.name().len() <= 63);
        assert!(database_exists(server, db.name()).await);
    }

    // Usable, and separate: a table made in one is not in the other.
    let pool = first.pool().await.unwrap();
    sqlx::query("CREATE TABLE t (id int PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO t VALUES (1), (2)")
        .execute(&pool)
        .await
        .unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
    let other = second.pool().await.unwrap();
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('t') IS NOT NULL")
        .fetch_one(&other)
        .await
        .unwrap();
    assert!(!exists);

    // Dropped: explicitly (with a pool still connected), and by `Drop`.
    let (first_name, second_name) = (first.name().to_owned(), second.name().to_owned());
    first.drop_database().await.unwrap();
    assert!(!database_exists(server, &first_name).await);
    assert!(
        sqlx::query("SELECT 1").execute(&pool).await.is_err(),
        "the dropped database still answers"
    );
    drop(second);
    assert!(!database_exists(server, &second_name).await);
    other.close().await;

    // Kept on request, for inspection.
    let kept = server.fresh_database("kept").await.unwrap();
    let name = kept.keep();
    assert!(database_exists(server, &name).await);
    let mut admin = PgConnection::connect_with(&server.admin_options())
        .await
        .unwrap();
    sqlx::raw_sql(&format!(r#"DROP DATABASE "{name}""#))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn environment_server_creates_eight_databases_concurrently() {
    let server = environment_server().await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(async move {
                let db = server
                    .fresh_database(&format!("concurrent_{i}"))
                    .await
                    .unwrap();
                let pool = db.pool().await.unwrap();
                sqlx::query("CREATE TABLE t (i int)")
                    .execute(&pool)
                    .await
                    .unwrap();
                sqlx::query("INSERT INTO t VALUES ($1)")
                    .bind(i)
                    .execute(&pool)
                    .await
                    .unwrap();
                let got: i32 = sqlx::query_scalar("SELECT i FROM t")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                assert_eq!(got, i);
                pool.close().await;
                db
            })
        })
        .collect();
    let mut dbs = Vec::new();
    for task in tasks {
        dbs.push(task.await.unwrap());
    }
    let names: HashSet<String> = dbs.iter().map(|db| db.name().to_owned()).collect();
    assert_eq!(names.len(), 8);
    // Dropping many at once works too, and leaves none behind.
    let drops: Vec<_> = dbs
        .into_iter()
        .map(|db| tokio::spawn(db.drop_database()))
        .collect();
    for drop in drops {
        drop.await.unwrap().unwrap();
    }
    for name in &names {
        assert!(!database_exists(server, name).await, "{name} still exists");
    }
}

#[tokio::test]
async fn throwaway_cluster_starts_and_serves_databases() {
    let server = throwaway().await;
    let cluster = server.cluster().expect("a throwaway server has a cluster");
    assert_eq!(
        server.kind(),
        &ServerKind::Throwaway {
            data_dir: cluster.data_dir().to_path_buf()
        }
    );
    assert!(cluster.data_dir().join("PG_VERSION").is_file());
    assert!(cluster.postmaster_pid().is_some_and(process_alive));
    assert!(server.version().0 >= 10);

    // initdb refuses to run as root: as root, the cluster belongs to an unprivileged user.
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(cluster.data_dir()).unwrap().uid();
    if running_as_root() {
        assert_eq!(cluster.os_user(), Some("postgres"));
        assert_ne!(owner, 0);
    } else {
        assert_eq!(cluster.os_user(), None);
    }

    // The settings that make it fast, and nothing else is listening on its socket directory.
    let db = server.fresh_database("throwaway").await.unwrap();
    let pool = db.pool().await.unwrap();
    for (setting, expected) in [
        ("fsync", "off"),
        ("full_page_writes", "off"),
        ("synchronous_commit", "off"),
    ] {
        let value: String = sqlx::query_scalar("SELECT current_setting($1)")
            .bind(setting)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(value, expected, "{setting}");
    }
    let sockets: String = sqlx::query_scalar("SELECT current_setting('unix_socket_directories')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(Path::new(&sockets), cluster.dir());
}

#[tokio::test]
async fn create_database_waits_while_template1_is_in_use() {
    // Only on our own cluster: holding template1 would make others' CREATE DATABASE fail.
    let server = throwaway().await;
    let hold = Duration::from_millis(1500);
    let template1 = server.admin_options().database("template1");
    let blocker = PgConnection::connect_with(&template1).await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        blocker.close().await.unwrap();
    });
    let started = Instant::now();
    let db = server.fresh_database("busy_template").await.unwrap();
    assert!(
        started.elapsed() >= hold - Duration::from_millis(200),
        "created before template1 was free"
    );
    release.await.unwrap();
    assert!(database_exists(server, db.name()).await);
}

#[tokio::test]
async fn dropping_a_cluster_stops_and_deletes_it() {
    let bindir = Discovery::from_env()
        .server_bindir()
        .expect("PostgreSQL server binaries");
    let server = Server::from_cluster(localdb::Cluster::start(&bindir).await.unwrap());
    let cluster = server.cluster().unwrap();
    let (dir, port, pid) = (
        cluster.dir().to_path_buf(),
        cluster.port(),
        cluster.postmaster_pid().unwrap(),
    );
    let watchdog = cluster.watchdog_pid().unwrap();
    let db = server.fresh_database("short_lived").await.unwrap();
    let pool = db.pool().await.unwrap();
    assert!(dir.exists() && process_alive(pid) && port_open(port));

    // The database keeps the cluster alive after the server is gone; the last one stops it.
    drop(server);
    assert!(dir.exists() && process_alive(pid));
    drop(pool);
    drop(db);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(
        eventually(Duration::from_secs(5), || !process_alive(pid)),
        "postmaster {pid} still runs"
    );
    assert!(!port_open(port));
    assert!(!process_alive(watchdog), "watchdog {watchdog} still runs");
}

/// Re-runs this test binary as a child that starts a throwaway cluster (through `localdb::server()`
/// and the environment variables) and then kills itself with `SIGKILL`: no destructor runs, and the
/// watchdog must remove the cluster.
#[tokio::test]
async fn throwaway_cluster_is_removed_when_its_process_is_killed() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return killed_child().await;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "throwaway_cluster_is_removed_when_its_process_is_killed",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("ZERODOWN_FORCE_THROWAWAY", "1")
        .env("ZERODOWN_DATABASE_PREFIX", PREFIX)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        output.status.signal(),
        Some(9),
        "the child was not killed\n{stdout}\n{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|l| Some(l.split_once("CHILD ")?.1))
        .unwrap_or_else(|| panic!("no report from the child\n{stdout}\n{stderr}"));
    let field = |key: &str| -> String {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap()
            .to_owned()
    };
    let dir = PathBuf::from(field("dir"));
    let port: u16 = field("port").parse().unwrap();
    let postmaster: u32 = field("postmaster").parse().unwrap();
    let watchdog: u32 = field("watchdog").parse().unwrap();
    assert!(dir.starts_with(std::env::temp_dir()), "{}", dir.display());

    assert!(
        eventually(Duration::from_secs(20), || !dir.exists()
            && !process_alive(postmaster)),
        "after the child was killed: dir exists {}, postmaster {postmaster} alive {}",
        dir.exists(),
        process_alive(postmaster)
    );
    assert!(!port_open(port), "port {port} still open");
    assert!(
        eventually(Duration::from_secs(5), || !process_alive(watchdog)),
        "watchdog {watchdog} still runs"
    );
}

async fn killed_child() {
    let server = localdb::server().await.unwrap_or_else(|e| panic!("{e}"));
    let cluster = server
        .cluster()
        .expect("ZERODOWN_FORCE_THROWAWAY gives a throwaway cluster");
    let db = localdb::fresh_database("killed").await.unwrap();
    assert!(db.name().starts_with(PREFIX));
    let mut conn = PgConnection::connect_with(&db.connect_options())
        .await
        .unwrap();
    sqlx::query("SELECT 1").execute(&mut conn).await.unwrap();
    let postmaster = cluster.postmaster_pid().unwrap();
    assert!(cluster.dir().exists() && process_alive(postmaster));
    println!(
        "CHILD dir={} port={} postmaster={postmaster} watchdog={}",
        cluster.dir().display(),
        cluster.port(),
        cluster.watchdog_pid().unwrap()
    );
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status()
        .unwrap();
    unreachable!("the child survived SIGKILL");
}

#[tokio::test]
async fn no_server_error_says_what_to_do() {
    let empty = std::env::temp_dir().join(format!("zdtest-empty-bindir-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let empty_str = empty.to_str().unwrap();
    let err = Discovery::from_vars([("ZERODOWN_PG_BINDIR", empty_str), ("PATH", empty_str)])
        .local_server("127.0.0.1", unused_port())
        .debian_root(Some(empty.clone()))
        .discover()
        .await
        .unwrap_err();
    std::fs::remove_dir(&empty).unwrap();
    let message = err.to_string();
    assert!(matches!(err, Error::NoServer { .. }), "{err:?}");
    assert!(
        message.starts_with(
            "no PostgreSQL server found: set DATABASE_URL (or ZERODOWN_DATABASE_URL) to a server zerodown may \
             create databases on, start one on 127.0.0.1:5432, or install the PostgreSQL server binaries \
             (Debian: `apt-get install postgresql`; or set ZERODOWN_PG_BINDIR)"
        ),
        "{message}"
    );
    // Then what was tried, one line each.
    for tried in [
        "tried the local server at 127.0.0.1:",
        "tried ZERODOWN_PG_BINDIR=",
        "tried `pg_config --bindir`",
        "tried PATH",
        "/<N>/bin`",
    ] {
        assert!(
            message.contains(tried),
            "{tried:?} missing from:\n{message}"
        );
    }
}

#[tokio::test]
async fn the_process_wide_server_is_discovered_once() {
    let first = localdb::server().await.unwrap_or_else(|e| panic!("{e}"));
    let second = localdb::server().await.unwrap();
    assert!(std::ptr::eq(first, second));
}

#[tokio::test]
async fn leftover_databases_are_removed_and_others_kept() {
    // A server by URL, not the cluster-backed one (a fresh cluster has no leftovers to look for).
    let server = &Server::connect(throwaway().await.url())
        .await
        .unwrap()
        .with_database_prefix(PREFIX)
        .unwrap();
    assert_eq!(server.kind(), &ServerKind::Explicit);
    let mut admin = PgConnection::connect_with(&server.admin_options())
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tag = std::process::id();
    // The marker `fresh_database` writes; a creator on another machine counts as gone after 24 h.
    let old = format!("zdtest_leftover_old_{tag}");
    let young = format!("zdtest_leftover_young_{tag}");
    let unmarked = format!("zdtest_leftover_unmarked_{tag}");
    let marker = |age_hours: u64| {
        format!(
            "zerodown localdb database: machine=elsewhere/0 pid=1 start=1 created={}",
            now - age_hours * 3600
        )
    };
    for (name, comment) in [
        (&old, Some(marker(25))),
        (&young, Some(marker(1))),
        (&unmarked, None),
    ] {
        sqlx::raw_sql(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .await
            .unwrap();
        if let Some(comment) = comment {
            sqlx::raw_sql(&format!(r#"COMMENT ON DATABASE "{name}" IS '{comment}'"#))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
    let removed = server.remove_leftover_databases().await.unwrap();
    let result = (
        removed.contains(&old),
        removed.contains(&young) || removed.contains(&unmarked),
        database_exists(server, &old).await,
        database_exists(server, &young).await && database_exists(server, &unmarked).await,
    );
    for name in [&old, &young, &unmarked] {
        sqlx::raw_sql(&format!(r#"DROP DATABASE IF EXISTS "{name}""#))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
    assert_eq!(
        result,
        (true, false, false, true),
        "(removed old, removed others, old exists, others exist)"
    );
}
