//! Running one backfill step: the main pass, the verification and the sweeps, each batch one short
//! transaction with its own timeouts and retries.

use std::time::Duration;

use sqlx::{Connection, PgConnection, Row};
use tokio::time::Instant;

use super::bounds::{self, Seen};
use super::key::{self, KeyError};
use super::pace::{lag_poll, Health, HealthCheck, Rest, Share, Sizer, Watch};
use super::progress::{BackfillProgress, BackfillStage, BackfillState, Reporter, ThrottleReason};
use super::sql::{BatchSql, SESSION_SQL};
use crate::advisory::Fence;
use crate::blockers;
use crate::connect::{self, Role};
use crate::error::{Error, StepError, StepErrorKind};
use crate::execute::attempt::AttemptError;
use crate::execute::{monitor, record_failure, Executor};
use crate::history::{self, Cursor, StepKey, StepState};
use crate::plan::{Backfill, Migration, Step};
use crate::report::{StepOutcome, StepReport};
use crate::retry::policy::classify;
use crate::retry::{Decision, Retrier, RetryConfig};
use crate::status::{MigrationId, PhaseKind};
use crate::stop::StopSignal;
use crate::timeout::{lock_timeout_for_attempt, Timeouts};
use crate::triggers::{self, WriteMode};

/// Passes over the rows still pending after the main pass before the backfill gives up. Each sweep
/// only visits rows that match the pending predicate; rows keep appearing there only while something
/// writes rows without the new value.
pub(crate) const MAX_SWEEPS: u32 = 5;

/// Where the step is: everything a batch needs besides the connections.
struct Ctx {
    m: &'static Migration,
    phase: PhaseKind,
    index: usize,
    total: usize,
    step: &'static Step,
    key: StepKey,
    sql: BatchSql,
    b: Backfill,
    /// How the batches write so that they fire none of the application's triggers.
    mode: WriteMode,
    /// The key is one integer column: a main pass may reckon its bounds (see `bounds`).
    reckonable: bool,
}

/// What one transaction of the backfill does.
#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    /// The next batch after `after` (from the start when `None`) and up to `end`, the pass's last
    /// key. `save` persists the new cursor in the batch's transaction with the given counters (main
    /// pass only).
    Batch {
        after: Option<&'a [String]>,
        end: &'a [String],
        only_pending: bool,
        save: Option<(u64, u64, u64)>,
        /// Rows in the batch.
        size: u64,
        /// Reckon the upper bound as `after + size` instead of reading it off the index.
        reckon: bool,
    },
    /// Read the last key a pass visits.
    LastKey { only_pending: bool },
    /// Count the rows still pending.
    Count,
}

/// What one transaction did.
#[derive(Debug)]
enum Done {
    /// A batch committed: its last key, the rows in its key range, the rows it updated, the
    /// sessions that waited for its locks just before it committed.
    Batch {
        upper: Vec<String>,
        passed: u64,
        updated: u64,
        waiters: u64,
        /// The bound was reckoned: `passed` is the batch's width.
        reckoned: bool,
    },
    /// No key after the cursor: the pass is over.
    End,
    /// Rows still pending.
    Count(u64),
    /// The last key of the rows a pass visits; `None` when there is none.
    LastKey(Option<Vec<String>>),
    /// The batch was rolled back: the runner's control session no longer holds the migration lock.
    LockGone,
}

/// Runs the backfill step `index` of `phase` of `m`; the step's state in the history is `state`.
pub(crate) async fn run(
    ex: &mut Executor<'_>,
    m: &'static Migration,
    phase: PhaseKind,
    index: usize,
    total: usize,
    state: StepState,
    b: Backfill,
) -> Result<StepReport, Error> {
    let step = &phase.steps(m)[index];
    let key = StepKey {
        version: m.version,
        phase,
        index,
    };
    let started = Instant::now();
    let lost = |source| Error::LockLost { source };

    history::mark_attempt(ex.control, ex.tables, key)
        .await
        .map_err(lost)?;
    if ex.step_conn.is_none() {
        ex.step_conn = Some(
            connect::open(
                ex.options,
                ex.application_name,
                Role::Step,
                ex.connect_timeout,
                ex.idle_in_transaction,
            )
            .await?,
        );
    }
    let server = ex.step_conn.as_ref().map_or(0, |c| c.server_version_num);

    let resolved = key::resolve(ex.control, b.table, b.key, server).await;
    let mut cx = Ctx {
        m,
        phase,
        index,
        total,
        step,
        key,
        sql: BatchSql::new(b.table, Vec::new(), b.set_sql, b.pending_sql),
        b,
        mode: WriteMode::Plain,
        reckonable: false,
    };
    match resolved {
        Ok(columns) => {
            cx.reckonable = matches!(columns.as_slice(), [one] if bounds::is_integer(&one.ty));
            cx.sql = BatchSql::new(b.table, columns, b.set_sql, b.pending_sql);
        }
        Err(KeyError::Database(e)) => {
            return Err(Error::db(format!("finding the key of {}", b.table))(e))
        }
        Err(KeyError::Unusable(message)) => {
            let error = step_error(&cx, StepErrorKind::BackfillKey, 0, message);
            return Err(fail(ex, key, error).await);
        }
    }
    match triggers::write_mode(ex.control, b.table, b.columns, b.fire_user_triggers, server).await {
        Ok(Ok(mode)) => cx.mode = mode,
        Ok(Err(message)) => {
            let error = step_error(&cx, StepErrorKind::Refused, 0, message);
            return Err(fail(ex, key, error).await);
        }
        Err(e) => return Err(Error::db(format!("reading the triggers of {}", b.table))(e)),
    }
    let names: Vec<String> = cx.sql.key().iter().map(|c| c.name.clone()).collect();

    // Resume from the saved cursor, when an earlier run started this step with the same key.
    let mut cursor = if state.was_started() {
        history::load_cursor(ex.control, ex.tables, key)
            .await
            .map_err(lost)?
    } else {
        history::clear_cursor(ex.control, ex.tables, key)
            .await
            .map_err(lost)?;
        None
    };
    if let Some(c) = &cursor {
        if c.key != names {
            tracing::warn!(
                table = b.table,
                saved_key = ?c.key,
                key = ?names,
                "the saved backfill cursor is for another key; starting the backfill from the beginning"
            );
            cursor = None;
        } else {
            tracing::info!(
                table = b.table,
                batches = c.batches,
                rows_updated = c.rows,
                "resuming the backfill after its last committed batch"
            );
        }
    }

    let estimated_total = estimate(ex.control, b.table).await;
    let (rows, passed, batches) = cursor
        .as_ref()
        .map_or((0, 0, 0), |c| (c.rows, c.passed, c.batches));
    let mut reporter = Reporter::new(
        BackfillProgress {
            migration: MigrationId::of(m),
            phase,
            step: index,
            description: step.description,
            table: b.table,
            stage: BackfillStage::Batches,
            rows_updated: rows,
            rows_passed: passed,
            batches,
            estimated_total,
            elapsed: Duration::ZERO,
            rows_per_second: 0.0,
            recent_rows_per_second: 0.0,
            state: BackfillState::Working,
            batch_size: b.batch_size,
            replica_lag: None,
            eta: None,
        },
        ex.progress,
    );
    reporter.stage(BackfillStage::Batches);

    // The main pass, from the cursor to the last key when the pass started.
    let mut pacing = Pacing {
        sizer: Sizer::new(&b),
        watch: Watch::default(),
        health: ex.health,
        rest: Rest::default(),
        share: Share::new(b.pace.busy_percent(ex.busy_percent)),
    };
    reporter.current.batch_size = pacing.sizer.size();
    let start: Option<Vec<String>> = cursor.map(|c| c.values);
    // The step's attempts, as a report counts them: one, plus every retried transaction.
    let mut attempts = 1;
    let end = pass_end(ex, &cx, false, &mut attempts).await?;
    if let Some(end) = end.as_deref() {
        pass(
            ex,
            &cx,
            &mut reporter,
            &mut pacing,
            start,
            end,
            false,
            &mut attempts,
        )
        .await?;
    }

    // Verification, and sweeps over rows written behind the cursor without the new value.
    let mut round = 0;
    loop {
        if cx.sql.count_pending().is_none() {
            break;
        }
        reporter.stage(BackfillStage::Verifying);
        let (done, tries) = with_retries(ex, &cx, Op::Count).await?;
        attempts += tries - 1;
        let remaining = match done {
            Done::Count(n) => n,
            Done::Batch { .. } | Done::End | Done::LastKey(_) | Done::LockGone => 0,
        };
        if remaining == 0 {
            break;
        }
        if round == MAX_SWEEPS {
            let message = format!(
                "after the last batch and {MAX_SWEEPS} sweeps, {remaining} row(s) of {} still match the pending predicate `{}`; \
                 if the application keeps writing rows without the value (the old version during a deploy), end the \
                 backfill with `keep` so a trigger fills them until `complete`: run `migrate rollback {}`, edit the \
                 migration, and run again",
                b.table, b.pending_sql, cx.m.version
            );
            let error = step_error(
                &cx,
                StepErrorKind::BackfillIncomplete { remaining },
                attempts,
                message,
            );
            return Err(fail(ex, key, error).await);
        }
        round += 1;
        tracing::info!(
            table = b.table,
            remaining,
            round,
            "rows still need the backfill after the pass; sweeping them"
        );
        reporter.stage(BackfillStage::Sweep { round });
        let end = pass_end(ex, &cx, true, &mut attempts).await?;
        if let Some(end) = end.as_deref() {
            pass(
                ex,
                &cx,
                &mut reporter,
                &mut pacing,
                None,
                end,
                true,
                &mut attempts,
            )
            .await?;
        }
    }

    history::mark_done(ex.control, ex.tables, key, started.elapsed(), 0)
        .await
        .map_err(lost)?;
    reporter.stage(BackfillStage::Done);
    let duration = started.elapsed();
    tracing::info!(
        version = m.version,
        step = index + 1,
        rows_updated = reporter.current.rows_updated,
        batches = reporter.current.batches,
        duration_ms = duration.as_millis() as u64,
        "backfill done"
    );
    Ok(StepReport {
        index,
        description: step.description,
        attempts,
        duration,
        outcome: StepOutcome::Ran,
    })
}

/// The batch sizer, the server's signals and the application's health callback of one backfill.
struct Pacing<'a> {
    sizer: Sizer,
    watch: Watch,
    health: Option<&'a HealthCheck>,
    rest: Rest,
    share: Share,
}

/// One keyset pass from after `start` (the beginning when `None`) to `end`: the main pass saves
/// its cursor with every batch; a sweep (`only_pending`) visits only pending rows and saves none.
#[allow(clippy::too_many_arguments)]
async fn pass(
    ex: &mut Executor<'_>,
    cx: &Ctx,
    reporter: &mut Reporter<'_>,
    pacing: &mut Pacing<'_>,
    start: Option<Vec<String>>,
    end: &[String],
    only_pending: bool,
    attempts: &mut u32,
) -> Result<(), Error> {
    let b = cx.b;
    let mut last = start;
    let mut reckon = false;
    loop {
        let HeldBack { vacuum, busy } = hold_back(ex, b, pacing, reporter).await;
        let p = &reporter.current;
        let save = (!only_pending).then_some((p.rows_updated, p.rows_passed, p.batches));
        let size = pacing.sizer.size();
        let op = Op::Batch {
            after: last.as_deref(),
            end,
            only_pending,
            save,
            size,
            reckon: reckon && cx.reckonable && !only_pending,
        };
        let began = Instant::now();
        let (done, tries) = with_retries(ex, cx, op).await?;
        let took = began.elapsed();
        *attempts += tries - 1;
        let Done::Batch {
            upper,
            passed,
            updated,
            waiters,
            reckoned,
        } = done
        else {
            return Ok(());
        };
        reckon = cx.reckonable
            && bounds::next_may_reckon(Seen {
                after: last
                    .as_deref()
                    .and_then(<[String]>::first)
                    .map(String::as_str),
                upper: upper.first().map_or("", String::as_str),
                passed,
                updated,
                reckoned,
            });
        // A retried batch, or one that made sessions wait for its row locks, is too large however
        // fast it was.
        if tries > 1 || waiters > 0 {
            pacing.sizer.shrink();
        } else {
            pacing.sizer.after_batch(passed, took, vacuum, busy);
        }
        reporter.current.batch_size = pacing.sizer.size();
        // A sweep's rows were already passed by the main pass: count them as updated only.
        reporter.batch(updated, if only_pending { 0 } else { passed });
        last = Some(upper);
        if reached_end(passed, size) {
            return Ok(());
        }
        let mut rested = Duration::ZERO;
        if waiters > 0 {
            tracing::debug!(
                table = b.table,
                waiters,
                "sessions waited for the batch's row locks; shrinking the batch and pausing"
            );
            reporter.throttled(ThrottleReason::LockWaits);
            rested += Sizer::lock_wait_pause(took);
        } else if vacuum {
            reporter.throttled(ThrottleReason::Autovacuum);
            rested += took / 4;
        }
        let rest = pacing.rest.after(took);
        if !rest.is_zero() {
            reporter.throttled(ThrottleReason::Application);
            rested += rest;
        }
        sleep_unless_stopped(ex.stop, rested).await;
        pacing.share.after_batch(took, rested);
        if b.pace.pause_set {
            sleep_unless_stopped(ex.stop, Duration::from_millis(b.pause_ms)).await;
        }
        if ex.stop_requested() {
            let p = &reporter.current;
            return Err(Executor::interrupted(
                cx.m,
                cx.phase,
                cx.index,
                Some((p.batches, p.rows_updated)),
            ));
        }
    }
}

/// Before a batch: waits while a replica lags more than the limit (until it is below half of
/// it), while the application's health callback asks for a pause, and, when other sessions are at
/// work, for the rest of the previous batch's share of the time.
async fn hold_back(
    ex: &mut Executor<'_>,
    b: Backfill,
    pacing: &mut Pacing<'_>,
    reporter: &mut Reporter<'_>,
) -> HeldBack {
    let limit = b.pace.max_replica_lag();
    let looking = Instant::now();
    let mut paused_at: Option<Instant> = None;
    let mut vacuum = false;
    let mut busy = false;
    while let Some(signals) = pacing
        .watch
        .read(ex.control, b.table, ex.application_name)
        .await
    {
        reporter.current.replica_lag = signals.replica_lag;
        vacuum = signals.vacuum;
        busy = signals.busy;
        let lag = signals.replica_lag.unwrap_or_default();
        let resume_below = if paused_at.is_some() {
            limit / 2
        } else {
            limit
        };
        if lag <= resume_below {
            break;
        }
        if paused_at.is_none() {
            tracing::info!(
                table = b.table,
                lag_ms = lag.as_millis() as u64,
                limit_ms = limit.as_millis() as u64,
                "a replica lags more than backfill_max_replica_lag; pausing the backfill until it is below half of it"
            );
            paused_at = Some(Instant::now());
        }
        reporter.throttled(ThrottleReason::ReplicaLag);
        tokio::time::sleep(lag_poll(limit)).await;
    }
    if let Some(at) = paused_at {
        tracing::info!(
            table = b.table,
            paused_ms = at.elapsed().as_millis() as u64,
            "the replicas caught up; resuming the backfill"
        );
    }
    if let Some(health) = pacing.health {
        while let Health::Pause(pause) = (health.0)() {
            pacing.sizer.shrink();
            pacing.rest.unhealthy();
            reporter.current.batch_size = pacing.sizer.size();
            reporter.throttled(ThrottleReason::Application);
            tokio::time::sleep(pause).await;
        }
    }
    // The time spent here paused (replica lag, the application's health) counts towards the rest.
    let share = pacing.share.rest(busy, looking.elapsed());
    if !share.is_zero() {
        reporter.throttled(ThrottleReason::Busy);
        sleep_unless_stopped(ex.stop, share).await;
    }
    HeldBack { vacuum, busy }
}

/// What the server showed before a batch, for the batch's size and the pauses after it.
struct HeldBack {
    /// A vacuum runs on the table.
    vacuum: bool,
    /// Other sessions are at work.
    busy: bool,
}

/// The last key of the rows the pass about to start visits (`only_pending`: a sweep), counting the
/// retries it took into `attempts`.
async fn pass_end(
    ex: &mut Executor<'_>,
    cx: &Ctx,
    only_pending: bool,
    attempts: &mut u32,
) -> Result<Option<Vec<String>>, Error> {
    let (done, tries) = with_retries(ex, cx, Op::LastKey { only_pending }).await?;
    *attempts += tries - 1;
    Ok(match done {
        Done::LastKey(key) => key,
        Done::Batch { .. } | Done::End | Done::Count(_) | Done::LockGone => None,
    })
}

/// Whether a batch that found `passed` rows was the last of its pass: a batch short of `batch_size`
/// saw every row left up to the pass's end, so asking for the next one would find none.
fn reached_end(passed: u64, batch_size: u64) -> bool {
    passed < batch_size
}

/// A pause between two batches, cut short when the run is asked to stop.
async fn sleep_unless_stopped(stop: Option<&StopSignal>, pause: Duration) {
    if !pause.is_zero() {
        match stop {
            Some(stop) => stop.sleep(pause).await,
            None => tokio::time::sleep(pause).await,
        }
    }
}

/// Rows in the table: `pg_class.reltuples` once the table was analyzed or vacuumed, else a count
/// (bounded by the control connection's statement timeout). `None` when neither works.
async fn estimate(control: &mut PgConnection, table: &str) -> Option<u64> {
    let stats: Result<Option<(f32, i32)>, _> =
        sqlx::query_as("SELECT reltuples, relpages FROM pg_class WHERE oid = to_regclass($1)")
            .bind(table)
            .fetch_optional(&mut *control)
            .await;
    match stats {
        // `reltuples` is -1 (PostgreSQL 14+) or 0 with no pages (older) until the first analyze.
        Ok(Some((tuples, pages))) if tuples > 0.0 || (tuples == 0.0 && pages > 0) => {
            return Some(tuples as u64)
        }
        Ok(_) => {}
        Err(e) => {
            tracing::debug!(error = %e, "reading the table's size estimate failed");
            return None;
        }
    }
    match sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(control)
        .await
    {
        Ok(n) => Some(n.max(0) as u64),
        Err(e) => {
            tracing::debug!(error = %e, "counting the table's rows failed");
            None
        }
    }
}

/// Runs `op` with the step's timeouts and the migration's retry policy, watching for blockers.
/// Returns what it did and the attempts it took.
async fn with_retries(ex: &mut Executor<'_>, cx: &Ctx, op: Op<'_>) -> Result<(Done, u32), Error> {
    let Executor {
        control,
        fence,
        tables,
        options,
        application_name,
        connect_timeout,
        idle_in_transaction,
        rng,
        step_conn,
        ..
    } = ex;
    let config = RetryConfig::from_settings(&cx.m.settings)
        .map_err(|e| Error::InvalidMigrations(e.to_string()))?;
    let mut retrier = Retrier::new(config, &mut **rng);
    let step_lock_timeout = Duration::from_millis(cx.step.lock_timeout_ms);
    loop {
        let attempt = retrier.start_attempt();
        let statement = match op {
            Op::Batch { .. } | Op::LastKey { .. } => cx.step.statement_timeout_ms,
            // A count scans the whole table under ACCESS SHARE, which blocks no application query.
            Op::Count => {
                cx.m.settings
                    .long_statement_timeout_ms
                    .max(cx.step.statement_timeout_ms)
            }
        };
        let timeouts = Timeouts {
            lock: lock_timeout_for_attempt(step_lock_timeout, attempt),
            statement: Duration::from_millis(statement),
        };
        if step_conn.is_none() {
            *step_conn = Some(
                connect::open(
                    options,
                    application_name,
                    Role::Step,
                    *connect_timeout,
                    *idle_in_transaction,
                )
                .await?,
            );
        }
        let conn = step_conn.as_mut().expect("opened above");
        let pid = conn.pid;
        let (result, observed) = monitor::watch(
            control,
            pid,
            None,
            one(&mut conn.conn, cx, tables, *fence, op, timeouts),
        )
        .await;
        let Some(result) = result else {
            // The lock may be gone: close the connection, so the server rolls the batch back.
            *step_conn = None;
            let source = observed
                .control_error
                .expect("a batch is abandoned only when the control connection broke");
            return Err(Error::LockLost { source });
        };
        if let Some(source) = observed.control_error {
            return Err(Error::LockLost { source });
        }
        let err = match result {
            Ok(Done::LockGone) => {
                *step_conn = None;
                let gone = std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "its session no longer holds the lock (checked before committing a backfill batch, which was rolled back)",
                );
                return Err(Error::LockLost {
                    source: sqlx::Error::Io(gone),
                });
            }
            Ok(done) => return Ok((done, retrier.attempts())),
            Err(err) => err,
        };
        let mut seen = observed.blockers;
        if err.sqlstate.as_deref() == Some("55P03") && seen.is_empty() {
            match blockers::holders(control, cx.step.tables, &[pid]).await {
                Ok(found) => seen = found,
                Err(e) => tracing::debug!(error = %e, "listing the sessions holding locks failed"),
            }
        }
        match retrier.after_failure(classify(err.sqlstate.as_deref())) {
            Decision::Retry { delay, reason } => {
                tracing::warn!(
                    version = cx.m.version,
                    step = cx.index + 1,
                    attempt,
                    reason = reason.as_str(),
                    lock_timeout_ms = timeouts.lock.as_millis() as u64,
                    retry_in_ms = delay.as_millis() as u64,
                    blockers = %blockers::list(&seen),
                    error = %err.message,
                    "backfill batch failed transiently; retrying it"
                );
                tokio::time::sleep(delay).await;
            }
            Decision::Stop(why) => {
                if err.connection_broken() {
                    *step_conn = None;
                }
                let mut notes = Vec::new();
                if let (Some("57014"), Op::Batch { size, .. }) = (err.sqlstate.as_deref(), op) {
                    notes.push(format!(
                        "one batch of {size} rows ran longer than statement_timeout: lower `backfill_batch_size` or `backfill_target_batch` (or raise `statement_timeout`) in the migration"
                    ));
                }
                notes.push(
                    "committed batches are kept: the next run resumes after the last one"
                        .to_owned(),
                );
                let attempts = retrier.attempts();
                let error = StepError {
                    migration: MigrationId::of(cx.m),
                    phase: cx.phase,
                    index: cx.index,
                    total: cx.total,
                    description: cx.step.description.to_owned(),
                    sql: err.sql,
                    attempts,
                    kind: StepErrorKind::Statement(why),
                    sqlstate: err.sqlstate,
                    message: err.message,
                    detail: err.detail,
                    timeouts_ms: (cx.step.lock_timeout_ms, statement),
                    blockers: seen,
                    notes,
                    source: err.source,
                };
                return Err(fail(ex, cx.key, error).await);
            }
        }
    }
}

/// One transaction: `SET LOCAL` timeouts and text formats, then the batch (bound, update, cursor) or
/// the count. Committed only when everything in it succeeded.
async fn one(
    conn: &mut PgConnection,
    cx: &Ctx,
    tables: &history::Tables,
    fence: Fence,
    op: Op<'_>,
    timeouts: Timeouts,
) -> Result<Done, AttemptError> {
    // The settings go with `BEGIN`, in one round trip.
    let mut begin = format!("BEGIN; {}; {SESSION_SQL}", timeouts.set_sql(true));
    if let Some(replica) = cx.mode.set_local() {
        begin = format!("{begin}; {replica}");
    }
    let mut tx = conn
        .begin_with(begin.clone())
        .await
        .map_err(|e| AttemptError::new(e, &begin))?;
    let result = async {
        match op {
            Op::Count => {
                let sql = cx.sql.count_pending().unwrap_or_default();
                let n: i64 = sqlx::query_scalar(&sql)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| AttemptError::new(e, &sql))?;
                Ok(Done::Count(n.max(0) as u64))
            }
            Op::LastKey { only_pending } => {
                let sql = cx.sql.last_key(only_pending);
                let row = sqlx::query(&sql)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| AttemptError::new(e, &sql))?;
                let Some(row) = row else {
                    return Ok(Done::LastKey(None));
                };
                let mut key = Vec::with_capacity(cx.sql.key().len());
                for i in 0..cx.sql.key().len() {
                    key.push(
                        row.try_get::<String, _>(i)
                            .map_err(|e| AttemptError::new(e, &sql))?,
                    );
                }
                Ok(Done::LastKey(Some(key)))
            }
            Op::Batch {
                after,
                end,
                only_pending,
                save,
                size,
                reckon,
            } => {
                let reckoned = match (reckon, after, end) {
                    (true, Some([after]), [end]) => bounds::reckon(after, end, size),
                    _ => None,
                };
                let (upper, passed) = match &reckoned {
                    Some((upper, width)) => (vec![upper.clone()], *width),
                    None => match batch_bound(&mut tx, cx, after, end, only_pending, size).await? {
                        Some(found) => found,
                        None => return Ok(Done::End),
                    },
                };

                let update = cx.sql.update(after.is_some());
                let mut q = sqlx::query(&update);
                for v in after.unwrap_or_default().iter().chain(&upper) {
                    q = q.bind(v.as_str());
                }
                let updated = q
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| AttemptError::new(e, &update))?
                    .rows_affected();

                if let Some((rows, passed_before, batches)) = save {
                    let cursor = Cursor {
                        key: cx.sql.key().iter().map(|k| k.name.clone()).collect(),
                        values: upper.clone(),
                        rows: rows + updated,
                        passed: passed_before + passed,
                        batches: batches + 1,
                    };
                    history::save_cursor(&mut tx, tables, cx.key, &cursor)
                        .await
                        .map_err(|e| AttemptError::new(e, "saving the backfill cursor"))?;
                }
                // Sessions waiting for the locks this batch holds: the backfill is in their way.
                // Sessions waiting for the locks this batch holds (the backfill is in their way),
                // and whether the migration lock is still this runner's, asked last so the window
                // in which its loss can go unnoticed is as short as it gets.
                let check = format!("SELECT ({WAITERS_SQL}), {}", fence.holds_sql());
                let (waiters, held): (i64, bool) = sqlx::query_as(&check)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| {
                        AttemptError::new(e, "checking for lock waiters and the migration lock")
                    })?;
                if !held {
                    return Ok(Done::LockGone);
                }
                Ok(Done::Batch {
                    upper,
                    passed,
                    updated,
                    waiters: waiters.max(0) as u64,
                    reckoned: reckoned.is_some(),
                })
            }
        }
    }
    .await;
    match result {
        Ok(Done::LockGone) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rolling back a batch after the lock was lost failed");
            }
            Ok(Done::LockGone)
        }
        Ok(done) => {
            tx.commit()
                .await
                .map_err(|e| AttemptError::new(e, "COMMIT"))?;
            Ok(done)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rollback after a failed backfill batch failed");
            }
            Err(e)
        }
    }
}

/// The upper bound of the next batch (key values as text) and the number of rows up to it: the
/// `size`-th key when there are that many, else the last key and a count (the pass's last batch).
/// `None`: no row is left in the pass.
async fn batch_bound(
    tx: &mut PgConnection,
    cx: &Ctx,
    after: Option<&[String]>,
    end: &[String],
    only_pending: bool,
    size: u64,
) -> Result<Option<(Vec<String>, u64)>, AttemptError> {
    let n = cx.sql.key().len();
    let keys = |row: &sqlx::postgres::PgRow| {
        (0..n)
            .map(|i| row.try_get::<String, _>(i))
            .collect::<Result<Vec<String>, sqlx::Error>>()
    };
    let nth = cx.sql.nth_key(after.is_some(), only_pending, size);
    let mut q = sqlx::query(&nth);
    for v in after.unwrap_or_default().iter().chain(end) {
        q = q.bind(v.as_str());
    }
    if let Some(row) = q
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| AttemptError::new(e, &nth))?
    {
        return Ok(Some((
            keys(&row).map_err(|e| AttemptError::new(e, &nth))?,
            size,
        )));
    }
    let bound = cx.sql.next_bound(after.is_some(), only_pending, size);
    let mut q = sqlx::query(&bound);
    for v in after.unwrap_or_default().iter().chain(end) {
        q = q.bind(v.as_str());
    }
    let Some(row) = q
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| AttemptError::new(e, &bound))?
    else {
        return Ok(None);
    };
    let passed: i64 = row.try_get(n).map_err(|e| AttemptError::new(e, &bound))?;
    Ok(Some((
        keys(&row).map_err(|e| AttemptError::new(e, &bound))?,
        passed.max(0) as u64,
    )))
}

/// Sessions waiting for a lock this session holds; `pg_blocking_pids` only for sessions waiting
/// for a lock at all, so it costs nothing while nobody waits.
const WAITERS_SQL: &str =
    "SELECT count(*) FROM pg_stat_activity WHERE CASE WHEN wait_event_type = 'Lock' \
     THEN pg_backend_pid() = ANY(pg_blocking_pids(pid)) ELSE false END";

/// A failure of the backfill as a whole (no usable key, rows that keep needing it), not of a statement.
fn step_error(cx: &Ctx, kind: StepErrorKind, attempts: u32, message: String) -> StepError {
    let step = cx.step;
    StepError {
        migration: MigrationId::of(cx.m),
        phase: cx.phase,
        index: cx.index,
        total: cx.total,
        description: step.description.to_owned(),
        sql: history::step_sql(step),
        attempts,
        kind,
        sqlstate: None,
        message,
        detail: None,
        timeouts_ms: (step.lock_timeout_ms, step.statement_timeout_ms),
        blockers: Vec::new(),
        notes: Vec::new(),
        source: None,
    }
}

/// Records the failure on the step and returns it as the run's error.
async fn fail(ex: &mut Executor<'_>, key: StepKey, error: StepError) -> Error {
    record_failure(ex.control, ex.tables, key, error, 0).await
}
