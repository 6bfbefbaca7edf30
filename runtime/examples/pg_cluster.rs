//! Starts a throwaway PostgreSQL cluster from a directory of server binaries, prints its URL on
//! stdout, and keeps it running until stdin is closed (or this process is killed): then the cluster
//! is stopped and deleted.
//!
//! `scripts/test-all-versions.sh` runs the test suites against every major version this way:
//!
//! ```text
//! cargo run -p zerodown-runtime --example pg_cluster -- /var/cache/zerodown/postgres/11/bin
//! postgres://postgres@127.0.0.1:40123/postgres?sslmode=disable
//! ```

use std::io::Read;
use std::process::ExitCode;

use zerodown_runtime::localdb::Cluster;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(bindir), None) = (args.next(), args.next()) else {
        eprintln!(
            "usage: pg_cluster <bindir>   (the directory holding initdb, pg_ctl and postgres)"
        );
        return ExitCode::from(2);
    };
    let cluster = match Cluster::start(&bindir).await {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("pg_cluster: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "pg_cluster: {} on port {} from {bindir}",
        cluster.version(),
        cluster.port()
    );
    println!("{}", cluster.url());
    // Wait for EOF on stdin: the caller closes it (or dies) when it is done with the cluster.
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
    match cluster.stop() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pg_cluster: {e}");
            ExitCode::FAILURE
        }
    }
}
