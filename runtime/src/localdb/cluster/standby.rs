//! A streaming replica of a throwaway cluster, made with `pg_basebackup -R`.

use super::*;

impl Cluster {
    /// Starts a hot standby of this cluster: `pg_basebackup -R -X stream` from this server over
    /// 127.0.0.1 (as its superuser; `initdb`'s trust rules allow replication connections from
    /// loopback, and its defaults `wal_level = replica` and `max_wal_senders = 10` allow streaming)
    /// into a new temporary directory, then `pg_ctl start` on a free port, as the same operating
    /// system user as this cluster. The standby is a [`Cluster`] of its own: stopped and deleted
    /// like one, read-only, following this server until it stops.
    ///
    /// For tests of what a migration does to replicas (replay lag with
    /// `SELECT pg_wal_replay_pause()` on the standby). Needs `pg_basebackup` next to `initdb`.
    ///
    /// ```no_run
    /// # async fn example(primary: zerodown_runtime::localdb::Cluster) -> Result<(), zerodown_runtime::localdb::Error> {
    /// let standby = primary.start_standby().await?;
    /// println!("standby on port {}", standby.port());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_standby(&self) -> Result<Cluster> {
        let bindir = self.bindir.clone();
        let run_as = self.run_as.clone();
        let primary_port = self.port;
        let task = tokio::task::spawn_blocking(move || -> Result<Cluster> {
            let tool = bindir.join("pg_basebackup");
            if !sys::is_executable(&tool) {
                return Err(cluster_error(
                    &bindir,
                    "there is no `pg_basebackup` in that directory; install the PostgreSQL client tools of the same version",
                ));
            }
            let mut standby = Cluster::in_new_dir(bindir, run_as, "")?;
            let mut cmd = standby.tool("pg_basebackup");
            cmd.arg("-D")
                .arg(&standby.data_dir)
                .args([
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "--no-sync",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    SUPERUSER,
                ])
                .arg("-p")
                .arg(primary_port.to_string());
            standby.run("pg_basebackup", cmd)?;
            standby.pg_ctl_start()?;
            Ok(standby)
        });
        let mut standby = task.await.map_err(|e| {
            cluster_error(
                &self.bindir,
                format!("the standby's start-up task failed: {e}"),
            )
        })??;
        standby.version = standby.wait_ready().await?;
        Ok(standby)
    }
}
