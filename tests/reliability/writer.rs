//! An application-like writer inserting into `orders` while migrations run, remembering every id it
//! saw committed: after the run, each of them must still be there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;

use super::db::TestDb;

/// The running writer.
pub struct Writer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Vec<i64>, Vec<String>)>,
}

/// What the writer did.
#[derive(Debug)]
pub struct Written {
    pub committed: Vec<i64>,
    pub errors: Vec<String>,
}

impl Writer {
    /// Starts inserting a row every few milliseconds.
    pub async fn start(db: &TestDb) -> Writer {
        let options = db.options();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = tokio::spawn(async move {
            let mut committed = Vec::new();
            let mut errors = Vec::new();
            let mut conn = PgConnection::connect_with(&options)
                .await
                .expect("writer connects");
            let mut n: i64 = 0;
            while !flag.load(Ordering::Relaxed) {
                n += 1;
                let r: Result<i64, sqlx::Error> = sqlx::query_scalar(
                    "INSERT INTO orders (user_id, amount) VALUES ($1, $2) RETURNING id",
                )
                .bind(1 + n % super::set::USERS)
                .bind(-(n as i32))
                .fetch_one(&mut conn)
                .await;
                match r {
                    Ok(id) => committed.push(id),
                    Err(e) => errors.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            conn.close().await.ok();
            (committed, errors)
        });
        Writer { stop, handle }
    }

    pub async fn stop(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        let (committed, errors) = self.handle.await.expect("the writer task");
        Written { committed, errors }
    }
}

impl Written {
    /// Problems: errors the writer got, committed rows that are gone.
    pub async fn check(&self, db: &TestDb) -> Vec<String> {
        let mut problems: Vec<String> = self
            .errors
            .iter()
            .take(3)
            .map(|e| format!("the application's insert failed: {e}"))
            .collect();
        let present: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE id = ANY($1)")
            .bind(&self.committed)
            .fetch_one(&mut db.connect().await)
            .await
            .unwrap();
        if present != self.committed.len() as i64 {
            problems.push(format!(
                "{} of the {} rows the application committed are gone",
                self.committed.len() as i64 - present,
                self.committed.len()
            ));
        }
        problems
    }
}
