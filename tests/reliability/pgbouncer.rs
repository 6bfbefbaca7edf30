//! A PgBouncer of the test's own: Debian's `pgbouncer` binary started on a free loopback port with a
//! generated configuration (trust authentication, one database entry per pooling mode, all pointing
//! at the test's database), stopped and removed when dropped.
//!
//! Without the binary the tests fail, saying how to install it: they never skip. `.ci/run` installs it.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;

/// Environment variable naming the binary, when it is not on `PATH` or in `/usr/sbin`.
pub const BINARY_VAR: &str = "ZERODOWN_PGBOUNCER";

/// How to get PgBouncer, for the failure message.
pub const HOW_TO_INSTALL: &str =
    "install it with `apt-get install -y pgbouncer` (Debian, Ubuntu; `.ci/run` does this) or `brew install pgbouncer`, or set ZERODOWN_PGBOUNCER to its path";

/// Finds the `pgbouncer` binary in `ZERODOWN_PGBOUNCER`, else in `dirs`.
pub fn locate(explicit: Option<&str>, dirs: &[PathBuf]) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{BINARY_VAR}={} is not a file; {HOW_TO_INSTALL}",
                path.display()
            ))
        };
    }
    dirs.iter()
        .map(|d| d.join("pgbouncer"))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("the PgBouncer tests need the `pgbouncer` binary, which is not installed (looked in $PATH, /usr/sbin, /usr/local/sbin, /usr/local/bin); {HOW_TO_INSTALL}"))
}

/// Where `pgbouncer` may be: `PATH`, then the usual sbin directories (Debian installs it in `/usr/sbin`,
/// which is not on every user's `PATH`).
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from));
    dirs
}

/// A database entry: the name clients use, and its pooling mode.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub alias: &'static str,
    pub pool_mode: &'static str,
    /// The entry's `pool_size` (server connections), when not the default 40.
    pub pool_size: Option<u32>,
}

/// Entries for the three pooling modes.
pub const ENTRIES: [Entry; 3] = [
    Entry {
        alias: "zdrel_session",
        pool_mode: "session",
        pool_size: None,
    },
    Entry {
        alias: "zdrel_transaction",
        pool_mode: "transaction",
        pool_size: None,
    },
    Entry {
        alias: "zdrel_statement",
        pool_mode: "statement",
        pool_size: None,
    },
];

/// A running PgBouncer.
pub struct PgBouncer {
    child: Child,
    port: u16,
    dir: PathBuf,
    user: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Whether this process runs as root (PgBouncer refuses to, unless told which user to become).
fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

/// The password in a `postgres://user:password@...` URL, if any (not percent-decoded; test servers
/// use trust or plain passwords).
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    userinfo
        .split_once(':')
        .map(|(_, p)| p.to_owned())
        .filter(|p| !p.is_empty())
}

impl PgBouncer {
    /// Starts PgBouncer in front of `upstream` (the test database, reached with `url`'s password if
    /// it has one), with one entry per item of `entries`; `round_robin` sets `server_round_robin`.
    /// Panics, saying how to install it, when the binary is missing.
    pub fn start(
        upstream: &PgConnectOptions,
        url: &str,
        entries: &[Entry],
        round_robin: bool,
    ) -> PgBouncer {
        let binary = locate(std::env::var(BINARY_VAR).ok().as_deref(), &search_dirs())
            .unwrap_or_else(|e| panic!("{e}"));
        let user = upstream.get_username().to_owned();
        let password = url_password(url)
            .map(|p| format!(" password={p}"))
            .unwrap_or_default();
        let host = upstream.get_host().to_owned();
        let database = upstream
            .get_database()
            .expect("the test database has a name")
            .to_owned();
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let dir =
                std::env::temp_dir().join(format!("zdrel-pgbouncer-{}-{port}", std::process::id()));
            fs::create_dir_all(&dir).expect("pgbouncer directory");
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                .expect("pgbouncer directory permissions");
            let databases: String = entries
                .iter()
                .map(|e| {
                    format!(
                        "{} = host={host} port={} dbname={database} user={user}{password} pool_mode={}{}\n",
                        e.alias,
                        upstream.get_port(),
                        e.pool_mode,
                        e.pool_size
                            .map(|n| format!(" pool_size={n}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            let config = format!(
                "[databases]\n{databases}\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {auth}\n\
                 pool_mode = session\nmax_client_conn = 500\ndefault_pool_size = 40\n\
                 server_round_robin = {rr}\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 log_connections = 0\nlog_disconnections = 0\nlog_pooler_errors = 1\n",
                auth = dir.join("userlist.txt").display(),
                rr = u8::from(round_robin),
            );
            fs::write(dir.join("userlist.txt"), format!("\"{user}\" \"\"\n")).expect("userlist");
            fs::write(dir.join("pgbouncer.ini"), config).expect("pgbouncer.ini");
            for f in ["userlist.txt", "pgbouncer.ini"] {
                fs::set_permissions(dir.join(f), fs::Permissions::from_mode(0o644))
                    .expect("permissions");
            }
            let log = fs::File::create(dir.join("pgbouncer.log")).expect("pgbouncer log");
            let mut cmd = Command::new(&binary);
            if running_as_root() {
                cmd.arg("-u").arg(if user_exists("postgres") {
                    "postgres"
                } else {
                    "nobody"
                });
            }
            let child = cmd
                .arg(dir.join("pgbouncer.ini"))
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().expect("log handle")))
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            let mut bouncer = PgBouncer {
                child,
                port,
                dir,
                user: user.clone(),
            };
            match bouncer.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return bouncer,
                Err(e) => last_error = e,
            }
        }
        panic!("PgBouncer did not start: {last_error}");
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling pgbouncer") {
                return Err(format!("it exited with {status}: {}", self.log()));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "port {} not open after {within:?}: {}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    /// Connect options for an entry.
    pub fn options(&self, alias: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username(&self.user)
            .database(alias)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
