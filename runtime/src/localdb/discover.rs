//! Finding a server: a configured URL, the local server, or a throwaway cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;

use super::cluster::{Cluster, SERVER_BINARIES};
use super::error::{Error, Result};
use super::server::{probe, validate_prefix, Server, ServerKind, URL_CONNECT_TIMEOUT};
use super::{sys, url};

/// The environment variables discovery reads; [`Discovery::from_env`] snapshots exactly these.
pub const ENV_VARS: &[&str] = &[
    "ZERODOWN_DATABASE_URL",
    "DATABASE_URL",
    "PGUSER",
    "PGPASSWORD",
    "ZERODOWN_PG_BINDIR",
    "PATH",
    "ZERODOWN_FORCE_THROWAWAY",
    "ZERODOWN_DATABASE_PREFIX",
];

/// Variables whose values are secret or may contain a secret, never printed.
const SECRET_VARS: &[&str] = &["ZERODOWN_DATABASE_URL", "DATABASE_URL", "PGPASSWORD"];

/// Where Debian and Ubuntu install each major version's server binaries (`<root>/<N>/bin`).
pub const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The settings of server discovery, and discovery itself ([`discover`](Discovery::discover)).
///
/// [`server()`](super::server) runs `Discovery::from_env().discover()` once per process. Build one
/// yourself to discover with other settings, or, in tests, with an explicit environment instead of
/// the process's (which other threads may be changing).
///
/// The order, first match wins:
/// 1. `ZERODOWN_DATABASE_URL`, else `DATABASE_URL`: that server, which must be reachable and let the
///    role create databases; otherwise discovery fails with an error naming the variable (and the URL,
///    password redacted) rather than silently using another server.
/// 2. The local server on 127.0.0.1:5432 (see [`local_server`](Discovery::local_server)) as user
///    `$PGUSER` or `postgres`, password `$PGPASSWORD` if set, database `postgres`, within 2 s (see
///    [`connect_timeout`](Discovery::connect_timeout)).
/// 3. A throwaway [`Cluster`] started from the first directory holding `initdb`, `pg_ctl` and
///    `postgres` among: `$ZERODOWN_PG_BINDIR`; `pg_config --bindir` (`pg_config` looked up on
///    `$PATH`); the directory of the first `initdb` on `$PATH`; `/usr/lib/postgresql/<N>/bin` with
///    the highest `N`.
/// 4. Otherwise [`Error::NoServer`], whose message says what to do and lists what was tried.
///
/// `ZERODOWN_FORCE_THROWAWAY=1` (or [`force_throwaway`](Discovery::force_throwaway)) skips steps 1
/// and 2. `ZERODOWN_DATABASE_PREFIX` (or [`database_prefix`](Discovery::database_prefix)) sets the
/// prefix of database names (default `zd_`).
///
/// ```no_run
/// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
/// use zerodown_runtime::localdb::{Discovery, ServerKind};
///
/// // As a test would: an explicit environment, nothing read from the process.
/// let server = Discovery::from_vars([("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")])
///     .discover()
///     .await?;
/// assert_eq!(server.kind(), &ServerKind::Env { variable: "DATABASE_URL".into() });
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Discovery {
    vars: BTreeMap<String, String>,
    local_host: String,
    local_port: u16,
    connect_timeout: Duration,
    use_pg_config: bool,
    debian_root: Option<PathBuf>,
    force_throwaway: Option<bool>,
    prefix: Option<String>,
}

impl Discovery {
    /// Discovery reading the process environment (the variables in [`ENV_VARS`], read now).
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// let server = zerodown_runtime::localdb::Discovery::from_env().discover().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> Discovery {
        Discovery::from_vars(
            ENV_VARS
                .iter()
                .filter_map(|name| Some((*name, std::env::var(name).ok()?))),
        )
    }

    /// Discovery seeing only the environment variables in `vars` (names as in [`ENV_VARS`]; others
    /// are ignored). Without `PATH` among them, nothing is looked up on a `PATH`.
    ///
    /// ```
    /// use zerodown_runtime::localdb::Discovery;
    ///
    /// let discovery = Discovery::from_vars([("PGUSER", "ci"), ("ZERODOWN_PG_BINDIR", "/opt/pg/bin")]);
    /// ```
    pub fn from_vars<I, K, V>(vars: I) -> Discovery
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Discovery {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            local_host: "127.0.0.1".to_owned(),
            local_port: 5432,
            connect_timeout: Duration::from_secs(2),
            use_pg_config: true,
            debian_root: Some(PathBuf::from(DEBIAN_ROOT)),
            force_throwaway: None,
            prefix: None,
        }
    }

    /// Where step 2 looks for the local server (default 127.0.0.1:5432).
    ///
    /// ```
    /// let discovery = zerodown_runtime::localdb::Discovery::from_env().local_server("127.0.0.1", 5433);
    /// ```
    pub fn local_server(mut self, host: impl Into<String>, port: u16) -> Discovery {
        self.local_host = host.into();
        self.local_port = port;
        self
    }

    /// How long step 2 waits for the local server (default 2 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let discovery = zerodown_runtime::localdb::Discovery::from_env().connect_timeout(Duration::from_secs(5));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Discovery {
        self.connect_timeout = timeout;
        self
    }

    /// Whether step 3 asks `pg_config --bindir` (default yes).
    ///
    /// ```
    /// let discovery = zerodown_runtime::localdb::Discovery::from_env().pg_config(false);
    /// ```
    pub fn pg_config(mut self, ask: bool) -> Discovery {
        self.use_pg_config = ask;
        self
    }

    /// The directory whose `<N>/bin` subdirectories step 3 searches last (default
    /// `/usr/lib/postgresql`); `None` skips it.
    ///
    /// ```
    /// let discovery = zerodown_runtime::localdb::Discovery::from_env().debian_root(None);
    /// ```
    pub fn debian_root(mut self, root: Option<PathBuf>) -> Discovery {
        self.debian_root = root;
        self
    }

    /// Skip steps 1 and 2 and always start a throwaway cluster; overrides `ZERODOWN_FORCE_THROWAWAY`.
    ///
    /// ```
    /// let discovery = zerodown_runtime::localdb::Discovery::from_env().force_throwaway(true);
    /// ```
    pub fn force_throwaway(mut self, force: bool) -> Discovery {
        self.force_throwaway = Some(force);
        self
    }

    /// The prefix of the names of the databases the server creates (see
    /// [`Server::with_database_prefix`]); overrides `ZERODOWN_DATABASE_PREFIX`.
    ///
    /// ```
    /// let discovery = zerodown_runtime::localdb::Discovery::from_env().database_prefix("myapp_");
    /// ```
    pub fn database_prefix(mut self, prefix: impl Into<String>) -> Discovery {
        self.prefix = Some(prefix.into());
        self
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn forced_throwaway(&self) -> bool {
        self.force_throwaway.unwrap_or_else(|| {
            self.var("ZERODOWN_FORCE_THROWAWAY").is_some_and(|v| {
                !matches!(
                    v.to_ascii_lowercase().as_str(),
                    "0" | "false" | "no" | "off"
                )
            })
        })
    }

    /// Finds (or starts) a server as described on [`Discovery`], and logs the choice at info level.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), zerodown_runtime::localdb::Error> {
    /// use zerodown_runtime::localdb::Discovery;
    ///
    /// let server = Discovery::from_env().force_throwaway(true).discover().await?;
    /// assert!(server.cluster().is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn discover(&self) -> Result<Server> {
        let prefix = self
            .prefix
            .clone()
            .or_else(|| self.var("ZERODOWN_DATABASE_PREFIX").map(str::to_owned));
        if let Some(prefix) = &prefix {
            validate_prefix(prefix)?;
        }
        let server = self.find().await?;
        let server = match prefix {
            Some(prefix) => server.with_database_prefix(&prefix)?,
            None => server,
        };
        tracing::info!(
            url = %server.redacted_url(),
            version = %server.version(),
            "zerodown localdb: using {}",
            server.kind()
        );
        Ok(server)
    }

    async fn find(&self) -> Result<Server> {
        let mut tried = Vec::new();
        if self.forced_throwaway() {
            tried.push(
                "nothing but a throwaway cluster: ZERODOWN_FORCE_THROWAWAY is set".to_owned(),
            );
        } else {
            for variable in ["ZERODOWN_DATABASE_URL", "DATABASE_URL"] {
                if let Some(url) = self.var(variable) {
                    return env_server(variable, url).await;
                }
            }
            match self.local().await {
                Ok(server) => return Ok(server),
                Err(reason) => tried.push(format!(
                    "the local server at {}:{} as `{}`: {reason}",
                    self.local_host,
                    self.local_port,
                    self.local_user()
                )),
            }
        }
        match self.find_bindir(&mut tried) {
            Some(bindir) => Ok(Server::from_cluster(Cluster::start(bindir).await?)),
            None => Err(Error::NoServer { tried }),
        }
    }

    fn local_user(&self) -> &str {
        self.var("PGUSER").unwrap_or("postgres")
    }

    async fn local(&self) -> Result<Server, String> {
        let user = url::encode(self.local_user());
        let password = self
            .var("PGPASSWORD")
            .map(|p| format!(":{}", url::encode(p)))
            .unwrap_or_default();
        let host = if self.local_host.contains(':') {
            format!("[{}]", self.local_host)
        } else {
            self.local_host.clone()
        };
        let url = format!(
            "postgres://{user}{password}@{host}:{}/postgres",
            self.local_port
        );
        let options = PgConnectOptions::from_str(&url)
            .map_err(|e| format!("cannot build connect options: {e}"))?;
        let version = probe(&options, self.connect_timeout).await?;
        Ok(Server::new(
            ServerKind::LocalServer,
            url,
            options,
            version,
            None,
        ))
    }

    /// The directory step 3 would start a throwaway cluster from, if any.
    ///
    /// ```no_run
    /// let bindir = zerodown_runtime::localdb::Discovery::from_env().server_bindir();
    /// println!("{bindir:?}");
    /// ```
    pub fn server_bindir(&self) -> Option<PathBuf> {
        self.find_bindir(&mut Vec::new())
    }

    fn find_bindir(&self, tried: &mut Vec<String>) -> Option<PathBuf> {
        if let Some(dir) = self.var("ZERODOWN_PG_BINDIR") {
            match missing_binaries(Path::new(dir)) {
                None => return Some(PathBuf::from(dir)),
                Some(missing) => tried.push(format!("ZERODOWN_PG_BINDIR=`{dir}`: {missing}")),
            }
        }
        let path = self.var("PATH");
        if self.use_pg_config {
            match path.and_then(|p| sys::find_in_path(p, "pg_config")) {
                None => tried.push("`pg_config --bindir`: no `pg_config` on PATH".to_owned()),
                Some(pg_config) => match pg_config_bindir(&pg_config) {
                    Ok(dir) => match missing_binaries(&dir) {
                        None => return Some(dir),
                        Some(missing) => tried.push(format!(
                            "`{} --bindir` = `{}`: {missing} (only the client may be installed)",
                            pg_config.display(),
                            dir.display()
                        )),
                    },
                    Err(reason) => {
                        tried.push(format!("`{} --bindir`: {reason}", pg_config.display()))
                    }
                },
            }
        }
        match path.and_then(|p| sys::find_in_path(p, "initdb")) {
            None => tried.push("PATH: no `initdb` on it".to_owned()),
            Some(initdb) => {
                // Symlinked binaries (e.g. in /usr/local/bin) belong with their targets.
                let initdb = initdb.canonicalize().unwrap_or(initdb);
                if let Some(dir) = initdb.parent() {
                    match missing_binaries(dir) {
                        None => return Some(dir.to_path_buf()),
                        Some(missing) => tried.push(format!(
                            "PATH: `{}` has `initdb` but {missing}",
                            dir.display()
                        )),
                    }
                }
            }
        }
        if let Some(root) = &self.debian_root {
            let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    Some((
                        entry.file_name().to_str()?.parse().ok()?,
                        entry.path().join("bin"),
                    ))
                })
                .collect();
            versions.sort_by_key(|v| std::cmp::Reverse(v.0));
            match versions
                .into_iter()
                .find(|(_, dir)| missing_binaries(dir).is_none())
            {
                Some((_, dir)) => return Some(dir),
                None => tried.push(format!("`{}/<N>/bin`: no server binaries", root.display())),
            }
        }
        None
    }
}

impl fmt::Debug for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vars: BTreeMap<&str, String> = self
            .vars
            .iter()
            .map(|(k, v)| {
                let shown = if k == "PGPASSWORD" {
                    "***".to_owned()
                } else if SECRET_VARS.contains(&k.as_str()) {
                    url::redact(v)
                } else {
                    v.clone()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("Discovery")
            .field("vars", &vars)
            .field(
                "local_server",
                &format_args!("{}:{}", self.local_host, self.local_port),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("pg_config", &self.use_pg_config)
            .field("debian_root", &self.debian_root)
            .field("force_throwaway", &self.force_throwaway)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Step 1: the server named by `variable`, or an error naming it.
async fn env_server(variable: &str, url: &str) -> Result<Server> {
    let fail = |reason: String| Error::EnvServer {
        variable: variable.to_owned(),
        url: url::redact(url),
        reason,
    };
    let options =
        PgConnectOptions::from_str(url).map_err(|e| fail(format!("not a valid URL: {e}")))?;
    let version = probe(&options, URL_CONNECT_TIMEOUT).await.map_err(fail)?;
    Ok(Server::new(
        ServerKind::Env {
            variable: variable.to_owned(),
        },
        url.to_owned(),
        options,
        version,
        None,
    ))
}

/// `None` if `dir` holds every server binary, else which are missing.
fn missing_binaries(dir: &Path) -> Option<String> {
    let missing: Vec<String> = SERVER_BINARIES
        .iter()
        .filter(|tool| !sys::is_executable(&dir.join(tool)))
        .map(|tool| format!("`{tool}`"))
        .collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!("no {}", missing.join(", ")))
    }
}

fn pg_config_bindir(pg_config: &Path) -> Result<PathBuf, String> {
    let output = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("failed ({})", output.status));
    }
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if dir.is_empty() {
        Err("printed nothing".to_owned())
    } else {
        Ok(PathBuf::from(dir))
    }
}
