//! The application: requests arriving at a steady rate, served by a fixed set of connections, and one
//! long read.
//!
//! Arrivals are open-loop: request `k` arrives at `t0 + k / rate` whether or not earlier requests
//! were answered, and the connections take them in order. So when the database stalls, requests queue
//! up as they would in front of a real application's pool, and a request's latency is measured from
//! its scheduled arrival, queueing included (measuring from when a connection got to it would hide
//! the stall: "coordinated omission").

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::schema::{self, ORGS};

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `SELECT` of one row by primary key.
    Read,
    /// `UPDATE` of one row by primary key.
    Update,
    /// `INSERT` of a new row.
    Insert,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered.
    Ok,
    /// Waited for a connection longer than the application timeout: the client gave up, the request
    /// was never sent.
    GaveUp,
    /// Cancelled by the server's `statement_timeout` (the application timeout).
    TimedOut,
    /// Any other error.
    Error,
}

/// One request.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Scheduled arrival, since the start of the workload.
    pub arrival: Duration,
    /// From arrival to the answer (or the failure; the timeout for a request given up).
    pub latency: Duration,
    pub outcome: Outcome,
}

impl Op {
    /// When the answer (or failure) came, since the start of the workload.
    pub fn done(&self) -> Duration {
        self.arrival + self.latency
    }
}

/// The workload's parameters.
#[derive(Debug, Clone)]
pub struct Config {
    pub rate: f64,
    pub connections: usize,
    pub app_timeout: Duration,
    /// Rows present at the start: reads and updates pick ids in `1..=rows`.
    pub rows: u64,
    pub seed: u64,
    /// Read `balance` as stored instead of as `bigint` (see [`READ_SQL`]).
    pub uncast_read: bool,
}

/// The read. `balance` is read as `bigint`, as an application must while the column changes from
/// `integer` to `bigint` (sqlx decodes an `i64` only from `int8`): then the prepared statement's
/// result type is the same before and after the change. Read uncast, every connection's prepared
/// read fails with `cached plan must not change result type` (SQLSTATE 0A000) once the type changes
/// (naive `ALTER TYPE`, or zerodown's `complete` swapping the columns), until it reconnects.
pub const READ_SQL: &str =
    "SELECT id, org_id, email, balance::bigint AS balance FROM accounts WHERE id = $1";

/// [`READ_SQL`] without the cast (`--uncast-read`).
pub const READ_UNCAST_SQL: &str = "SELECT id, org_id, email, balance FROM accounts WHERE id = $1";

/// What the workload recorded.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Every request, in no particular order.
    pub ops: Vec<Op>,
    /// Error messages of failed requests (SQLSTATE and text), with counts.
    pub errors: BTreeMap<String, u64>,
}

struct Shared {
    t0: Instant,
    rate: f64,
    /// The next request to take.
    next: AtomicU64,
    /// No request arriving at or after this offset (µs since `t0`) is taken.
    stop_us: AtomicU64,
    /// Requests answered lately, for [`Workload::probe`]: (answered at, latency).
    recent: std::sync::Mutex<std::collections::VecDeque<(Instant, Duration)>>,
}

/// How long [`Probe`] looks back.
const RECENT: Duration = Duration::from_millis(500);

/// The application's view of its own latency, as a service would keep it for its health check: the
/// p99 of the requests answered in the last 500 ms.
#[derive(Clone)]
pub struct Probe(Arc<Shared>);

impl Probe {
    /// The p99 of the requests answered in the last 500 ms (zero when none were).
    pub fn recent_p99(&self) -> Duration {
        let recent = self.0.recent.lock().unwrap_or_else(|e| e.into_inner());
        let since = Instant::now() - RECENT;
        let mut latencies: Vec<Duration> = recent
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, l)| *l)
            .collect();
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        latencies.sort_unstable();
        latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
    }
}

/// A running workload.
pub struct Workload {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<Recorded>>,
}

/// SplitMix64: a tiny, good-enough mixer so request `k` is the same request in every run.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Request `k`: 70% reads, 20% updates, 10% inserts, over random rows.
fn request(seed: u64, k: u64, rows: u64) -> (OpKind, i64) {
    let h = mix(seed ^ mix(k));
    let kind = match h % 100 {
        0..=69 => OpKind::Read,
        70..=89 => OpKind::Update,
        _ => OpKind::Insert,
    };
    (kind, 1 + ((h >> 8) % rows) as i64)
}

/// The options of the application's connections: the request timeout as `statement_timeout`.
pub fn app_options(base: &PgConnectOptions, timeout: Duration) -> PgConnectOptions {
    base.clone()
        .application_name("under_load app")
        .options([("statement_timeout", format!("{}ms", timeout.as_millis()))])
}

impl Workload {
    /// Opens the connections, then starts taking requests from `t0` on.
    pub async fn start(
        options: &PgConnectOptions,
        config: &Config,
        t0: Instant,
    ) -> Result<Workload, sqlx::Error> {
        let options = app_options(options, config.app_timeout);
        let shared = Arc::new(Shared {
            t0,
            rate: config.rate,
            next: AtomicU64::new(0),
            stop_us: AtomicU64::new(u64::MAX),
            recent: Default::default(),
        });
        let mut conns = Vec::with_capacity(config.connections);
        for _ in 0..config.connections {
            conns.push(schema::connect(&options).await?);
        }
        let workers = conns
            .into_iter()
            .map(|conn| {
                tokio::spawn(worker(
                    conn,
                    options.clone(),
                    shared.clone(),
                    config.clone(),
                ))
            })
            .collect();
        Ok(Workload { shared, workers })
    }

    /// The application's recent latency, for a backfill health callback.
    pub fn probe(&self) -> Probe {
        Probe(self.shared.clone())
    }

    /// Takes no request arriving at or after `at`.
    pub fn stop_at(&self, at: Instant) {
        let us = at.saturating_duration_since(self.shared.t0).as_micros() as u64;
        self.shared.stop_us.store(us, Ordering::Release);
    }

    /// Waits for the requests taken so far and returns what was recorded.
    pub async fn finish(self) -> Recorded {
        let mut all = Recorded::default();
        for w in self.workers {
            match w.await {
                Ok(r) => {
                    all.ops.extend(r.ops);
                    for (msg, n) in r.errors {
                        *all.errors.entry(msg).or_default() += n;
                    }
                }
                Err(e) => {
                    *all.errors
                        .entry(format!("worker task failed: {e}"))
                        .or_default() += 1
                }
            }
        }
        all
    }
}

async fn run_op(
    conn: &mut PgConnection,
    kind: OpKind,
    id: i64,
    k: u64,
    uncast: bool,
) -> Result<(), sqlx::Error> {
    match kind {
        OpKind::Read => {
            sqlx::query(if uncast { READ_UNCAST_SQL } else { READ_SQL })
                .bind(id)
                .fetch_optional(conn)
                .await?;
        }
        OpKind::Update => {
            sqlx::query(
                "UPDATE accounts SET balance = balance + 1, updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .execute(conn)
            .await?;
        }
        OpKind::Insert => {
            sqlx::query("INSERT INTO accounts (org_id, email) VALUES ($1, $2)")
                .bind(1 + (id % i64::from(ORGS)) as i32)
                .bind(format!("new{k}@example.com"))
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

async fn worker(
    mut conn: PgConnection,
    options: PgConnectOptions,
    shared: Arc<Shared>,
    config: Config,
) -> Recorded {
    let mut rec = Recorded::default();
    let mut broken = false;
    loop {
        let k = shared.next.fetch_add(1, Ordering::Relaxed);
        let arrival = Duration::from_secs_f64(k as f64 / shared.rate);
        let stop = Duration::from_micros(shared.stop_us.load(Ordering::Acquire));
        if arrival >= stop {
            break;
        }
        tokio::time::sleep_until(shared.t0 + arrival).await;
        let (kind, id) = request(config.seed, k, config.rows);
        let waited = shared.t0.elapsed().saturating_sub(arrival);
        if waited > config.app_timeout {
            rec.ops.push(Op {
                arrival,
                latency: config.app_timeout,
                outcome: Outcome::GaveUp,
            });
            continue;
        }
        if broken {
            match schema::connect(&options).await {
                Ok(c) => {
                    conn = c;
                    broken = false;
                }
                Err(e) => {
                    *rec.errors.entry(format!("reconnecting: {e}")).or_default() += 1;
                    let latency = shared.t0.elapsed().saturating_sub(arrival);
                    rec.ops.push(Op {
                        arrival,
                        latency,
                        outcome: Outcome::Error,
                    });
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let result = run_op(&mut conn, kind, id, k, config.uncast_read).await;
        let latency = shared.t0.elapsed().saturating_sub(arrival);
        let outcome = match result {
            Ok(()) => Outcome::Ok,
            Err(e) => {
                let code = e
                    .as_database_error()
                    .and_then(|d| d.code())
                    .map(|c| c.into_owned());
                let outcome = if code.as_deref() == Some("57014") {
                    Outcome::TimedOut
                } else {
                    Outcome::Error
                };
                let msg = match (&code, e.as_database_error()) {
                    (Some(code), Some(d)) => format!("{code} {}", d.message()),
                    _ => {
                        // Not an error from the server: the connection is unusable.
                        broken = true;
                        e.to_string()
                    }
                };
                *rec.errors.entry(msg).or_default() += 1;
                outcome
            }
        };
        {
            let mut recent = shared.recent.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            recent.push_back((now, latency));
            while recent.front().is_some_and(|(at, _)| *at + RECENT < now) {
                recent.pop_front();
            }
        }
        rec.ops.push(Op {
            arrival,
            latency,
            outcome,
        });
    }
    if !broken {
        let _ = conn.close().await;
    }
    rec
}

/// When the long read held its transaction open.
#[derive(Debug, Clone, Copy)]
pub struct LongRead {
    pub start: Instant,
    pub end: Instant,
}

/// A report query as real traffic has them: a transaction that reads `accounts` (taking `ACCESS
/// SHARE`) and stays open for `hold`, from `at` on. Any `ACCESS EXCLUSIVE` request queues behind it,
/// and every later query on the table queues behind that request.
pub async fn long_read(
    mut conn: PgConnection,
    at: Instant,
    hold: Duration,
) -> Result<LongRead, sqlx::Error> {
    tokio::time::sleep_until(at).await;
    let start = Instant::now();
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT count(*) FROM accounts WHERE id <= 1000")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_sleep($1)")
        .bind(hold.as_secs_f64())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let end = Instant::now();
    let _ = conn.close().await;
    Ok(LongRead { start, end })
}
