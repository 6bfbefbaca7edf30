//! Shared support for the facade's integration tests: a fresh database per test from
//! `zerodown::localdb` (the same discovery users and the examples get).
#![allow(dead_code)]

use sqlx::{Connection, PgConnection};
use zerodown::localdb::FreshDatabase;

/// A fresh, empty database; dropped when the value is dropped.
pub struct Db {
    pub inner: FreshDatabase,
}

impl Db {
    /// A new connection to the database.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.inner.connect_options())
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.inner.redacted_url()))
    }
}

/// Creates a fresh database. Panics with the discovery error (which says what to install or set)
/// when no server can be found: these tests never skip.
pub async fn fresh_database(label: &str) -> Db {
    match zerodown::localdb::fresh_database(label).await {
        Ok(inner) => Db { inner },
        Err(e) => panic!("{e}"),
    }
}
