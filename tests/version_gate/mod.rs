//! For tests whose migrations target a newer PostgreSQL than the server the suite runs on (the suites
//! run on 10 to 18, see `scripts/test-all-versions.sh`): on such a server the test's subject is the
//! refusal, which [`refused_as_too_new`] asserts. The test then ends there; it never passes silently.
#![allow(dead_code)]

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use zerodown::{Error, Migration, Migrator, PgVersion};

/// Relations of the test's own in `public`, i.e. everything but the history tables.
const OURS: &str =
    "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname NOT LIKE 'zerodown\\_%'";

/// Whether the server at `options` is older than the target of one of `migrations`. If it is,
/// asserts that running them is refused before anything runs: `Error::ServerTooOld` naming the first
/// migration whose target is newer than the server and none that is not, and no relation created or
/// dropped. The caller returns when this is true.
pub async fn refused_as_too_new(
    options: &PgConnectOptions,
    migrations: &[&'static Migration],
) -> bool {
    let mut conn = PgConnection::connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let num: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let server = PgVersion::from_server_version_num(num.parse().unwrap());
    let too_new: Vec<(u64, u32)> = migrations
        .iter()
        .filter(|m| m.settings.target > server)
        .map(|m| (m.version, m.settings.target.0))
        .collect();
    if too_new.is_empty() {
        conn.close().await.unwrap();
        return false;
    }
    let before: i64 = sqlx::query_scalar(OURS).fetch_one(&mut conn).await.unwrap();
    let err = Migrator::new(migrations)
        .unwrap()
        .run(options)
        .await
        .unwrap_err();
    let Error::ServerTooOld {
        server: seen,
        migrations: listed,
    } = &err
    else {
        panic!("on {server}, expected the plans targeting a newer server to be refused, got: {err}")
    };
    assert_eq!(*seen, server);
    let listed: Vec<(u64, u32)> = listed
        .iter()
        .map(|(id, target)| (id.version, target.0))
        .collect();
    // The runtime names the too-new migrations of the work it planned (which may stop at an
    // expand/contract migration left waiting for `complete`): at least the first, and no other.
    assert!(!listed.is_empty() && listed[0] == too_new[0], "{err}");
    assert!(listed.iter().all(|l| too_new.contains(l)), "{err}");
    let after: i64 = sqlx::query_scalar(OURS).fetch_one(&mut conn).await.unwrap();
    assert_eq!(before, after, "the refused run changed the schema");
    conn.close().await.unwrap();
    eprintln!("{server} is older than the target of {too_new:?}: refused before anything ran, as it must be");
    true
}
