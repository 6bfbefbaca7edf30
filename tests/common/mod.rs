//! Shared support for the facade's integration tests: the test database (`tests/support/db.rs`).
#![allow(dead_code)]

#[path = "../support/db.rs"]
mod db;

#[allow(unused_imports)]
pub use db::{existing_database, fresh_database, init_tracing, Database, Db};
