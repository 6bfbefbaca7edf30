//! Executing the steps of one migration phase: attempts, retries, blockers, postconditions and the
//! history updates around them.

pub(crate) mod attempt;
mod chosen_names;
mod detach;
pub(crate) mod index;
pub(crate) mod monitor;
mod partitioned;
mod phased;
pub(crate) mod postcondition;

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::PgConnection;
use tokio::time::Instant;

use self::attempt::{InStep, Settled};
use crate::advisory::Fence;
use crate::backfill::{self, ProgressSink};
use crate::blockers;
use crate::connect::{self, Opened, Role};
use crate::error::{Error, Interrupted, StepError, StepErrorKind};
use crate::history::{self, RowState, StepKey, StepState, Tables};
use crate::index_progress::Tracker;
use crate::lookahead::{self, Clear, LockStrategy};
use crate::plan::{Migration, Postcondition, StepKind, Transaction};
use crate::report::{MigrationReport, StepOutcome, StepReport};
use crate::retry::backoff::Rng;
use crate::retry::policy::{classify, Class};
use crate::retry::{Decision, GiveUp, Retrier, RetryConfig};
use crate::status::{MigrationId, PhaseKind};
use crate::step_events::{StepEvent, StepProgress, StepSink};
use crate::stop::StopSignal;
use crate::timeout::{lock_timeout_for_attempt, Timeouts};

/// One phase of one migration to apply, as decided from the history.
#[derive(Debug, Clone)]
pub(crate) struct Work {
    pub(crate) migration: &'static Migration,
    pub(crate) phase: PhaseKind,
    /// No history row yet, or one to start afresh (the plan was edited after a failure that committed
    /// nothing): record the start first.
    pub(crate) new: bool,
    /// With `new`: a row exists (rolled back, or edited after a failure), which the start resets.
    pub(crate) afresh: bool,
    /// Steps not recorded done, in order, with their recorded state.
    pub(crate) steps: Vec<(usize, StepState)>,
    /// For a migration not started yet: the tables to compare with the database before it starts.
    pub(crate) expected: Vec<&'static crate::plan::schema::TableSchema>,
}

/// Runs [`Work`] on the migrator's connections.
pub(crate) struct Executor<'a> {
    /// The control connection: holds the migration lock, writes the history outside step
    /// transactions, watches steps for blockers.
    pub(crate) control: &'a mut PgConnection,
    /// How the step connection checks that the control connection still holds the lock.
    pub(crate) fence: Fence,
    pub(crate) tables: &'a Tables,
    pub(crate) options: &'a PgConnectOptions,
    pub(crate) application_name: &'a str,
    pub(crate) connect_timeout: Duration,
    /// The bound on idling inside a transaction, for the step connections it opens.
    pub(crate) idle_in_transaction: Duration,
    /// How steps whose lock blocks the application ask for it.
    pub(crate) lock_strategy: LockStrategy,
    pub(crate) rng: &'a mut dyn Rng,
    /// The step connection, opened on first use.
    pub(crate) step_conn: Option<Opened>,
    /// Where backfill progress goes, besides `tracing`.
    pub(crate) progress: Option<&'a ProgressSink>,
    /// Where step events go.
    pub(crate) steps: Option<&'a StepSink>,
    /// Asks the run to stop before its next step or backfill batch.
    pub(crate) stop: Option<&'a StopSignal>,
    /// The application's health callback, asked before every backfill batch.
    pub(crate) health: Option<&'a crate::backfill::pace::HealthCheck>,
    /// The migrator's share of the time, in percent, backfills work while other sessions use the
    /// server.
    pub(crate) busy_percent: u8,
    /// Compare the tables a migration expects with the database before it starts.
    pub(crate) verify_schema: bool,
}

/// The note of a step that waited for old transactions in vain.
const NOTHING_RAN: &str = "nothing of this step ran";

/// Logs a step's failure, records it on the step's history row, and returns it as the run's error.
///
/// `uncounted`: attempts of this run the history has not counted yet (a plain transactional step
/// counts them with its outcome, see [`InStep`]).
pub(crate) async fn record_failure(
    control: &mut PgConnection,
    tables: &Tables,
    key: StepKey,
    error: StepError,
    uncounted: u32,
) -> Error {
    tracing::warn!(version = key.version, step = key.index + 1, error = %error, "step failed");
    if let Err(e) = history::mark_failed(control, tables, key, &error.to_string(), uncounted).await
    {
        tracing::warn!(error = %e, "recording the step failure failed");
    }
    Error::Step(Box::new(error))
}

/// [`record_failure`] for a step of [`Executor::run_step`]: first records the migration's start when
/// the step's transaction was to (`start`, see [`InStep`]) and so never did, then the failure with the
/// attempts the history has not counted (`uncounted`, for a step that counts them itself).
async fn fail_step(
    control: &mut PgConnection,
    tables: &Tables,
    key: StepKey,
    error: StepError,
    start: Option<&'static Migration>,
    uncounted: Option<u32>,
) -> Error {
    if let Some(m) = start {
        if let Err(e) = history::begin_migration(control, tables, m).await {
            tracing::warn!(error = %e, "recording the start of the migration failed");
        }
    }
    record_failure(control, tables, key, error, uncounted.unwrap_or(0)).await
}

/// Gives `sink`, if any, the event of step `index` of `phase` of `m`.
fn tell_step(
    sink: Option<&StepSink>,
    m: &'static Migration,
    phase: PhaseKind,
    index: usize,
    total: usize,
    event: StepEvent,
) {
    let Some(sink) = sink else { return };
    let step = &phase.steps(m)[index];
    (sink.0)(&StepProgress {
        migration: MigrationId::of(m),
        phase,
        step: index,
        total,
        description: step.description,
        lock: step.lock,
        event,
    });
}

fn lock_lost(source: sqlx::Error) -> Error {
    Error::LockLost { source }
}

impl Executor<'_> {
    /// Whether the run was asked to stop (see [`StopSignal`]).
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.is_some_and(StopSignal::is_stopped)
    }

    /// The error of a run that stops before step `index` of `phase` of `m` (or, with `backfill`'s
    /// batches and rows, inside that backfill step, between two batches).
    pub(crate) fn interrupted(
        m: &'static Migration,
        phase: PhaseKind,
        index: usize,
        backfill: Option<(u64, u64)>,
    ) -> Error {
        let stopped = Interrupted {
            finished: Vec::new(),
            migration: MigrationId::of(m),
            phase,
            index,
            total: phase.steps(m).len(),
            backfill,
        };
        tracing::warn!(%stopped, "stopping on request");
        Error::Interrupted(Box::new(stopped))
    }

    /// Applies `work` and records the migration's new state.
    pub(crate) async fn run(&mut self, work: &Work) -> Result<MigrationReport, Error> {
        let m = work.migration;
        let started = Instant::now();
        if let Some(&(first, _)) = work.steps.first() {
            if self.stop_requested() {
                return Err(Self::interrupted(m, work.phase, first, None));
            }
        }
        tracing::info!(version = m.version, name = m.name, phase = %work.phase, steps = work.steps.len(), "applying migration");
        let in_step = |index: usize| attempt::records_in_step(&work.phase.steps(m)[index]);
        // A migration with no row yet whose first step is plain and transactional records its start in
        // that step's transaction (see `InStep`).
        let start_in_step = work.new
            && !work.afresh
            && work.steps.first().is_some_and(|&(first, _)| in_step(first));
        // A migration not started yet: its tables must be as the migrations before it left them.
        if work.new && self.verify_schema && !work.expected.is_empty() {
            let differences = crate::live_schema::table_differences(self.control, &work.expected)
                .await
                .map_err(Error::db(format!(
                    "comparing the tables migration {} changes with what it expects",
                    m.version
                )))?;
            if !differences.is_empty() {
                return Err(Error::SchemaMismatch {
                    migration: MigrationId::of(m),
                    differences,
                });
            }
        }
        if work.new && !start_in_step {
            history::begin_migration(self.control, self.tables, m)
                .await
                .map_err(Error::on_lock_connection)?;
        }
        if work.phase == PhaseKind::Expand {
            let taken = chosen_names::first_taken(self.control, m, &work.steps)
                .await
                .map_err(Error::db(format!(
                    "looking up the constraint names migration {} chooses",
                    m.version
                )))?;
            if let Some((chosen, definition)) = taken {
                let key = StepKey {
                    version: m.version,
                    phase: PhaseKind::Expand,
                    index: chosen.step,
                };
                let error = chosen_names::refusal(m, chosen, &definition);
                let start = start_in_step.then_some(m);
                return Err(fail_step(self.control, self.tables, key, error, start, None).await);
            }
        }
        match work.phase {
            PhaseKind::Contract => history::set_state(
                self.control,
                self.tables,
                m.version,
                RowState::Completing,
                Duration::ZERO,
            )
            .await
            .map_err(Error::on_lock_connection)?,
            PhaseKind::Rollback => history::set_state(
                self.control,
                self.tables,
                m.version,
                RowState::RollingBack,
                Duration::ZERO,
            )
            .await
            .map_err(Error::on_lock_connection)?,
            PhaseKind::Expand => {}
        }
        let total = work.phase.steps(m).len();
        let done = match work.phase {
            PhaseKind::Expand if m.has_contract() => RowState::Expanded,
            PhaseKind::Expand | PhaseKind::Contract => RowState::Completed,
            PhaseKind::Rollback => RowState::RolledBack,
        };
        let last = work.steps.last().map(|&(index, _)| index);
        let mut finished_in_step = false;
        let mut steps = Vec::with_capacity(work.steps.len());
        for (position, &(index, state)) in work.steps.iter().enumerate() {
            if self.stop_requested() {
                return Err(Self::interrupted(m, work.phase, index, None));
            }
            self.step_event(m, work.phase, index, total, StepEvent::Started);
            // The expand phase's last step, plain and transactional, also records the migration's
            // new state (`InStep`); other phases move through states of their own first.
            let finish = (work.phase == PhaseKind::Expand && Some(index) == last && in_step(index))
                .then_some((done, started));
            let start = (start_in_step && position == 0).then_some(m);
            let report = match self
                .run_step(m, work.phase, index, total, state, start, finish)
                .await
            {
                Ok(report) => report,
                Err(Error::Step(mut error)) if work.phase == PhaseKind::Expand => {
                    if let Some(note) = self.pending_detach(m, error.index).await {
                        // Its first transaction committed: editing the migration is no way out,
                        // and "nothing of this step ran" is true of this attempt only.
                        for n in &mut error.notes {
                            if let Some(rest) = n.strip_prefix(NOTHING_RAN) {
                                *n = format!("this attempt changed nothing{rest}");
                            }
                        }
                        error.notes.push(note);
                        return Err(Error::Step(error));
                    }
                    if history::committed_nothing(self.control, self.tables, m.version)
                        .await
                        .unwrap_or(false)
                    {
                        error.notes.push(format!(
                            "no step of {} committed anything, so the cause may be fixed in the migration itself: edit it, and the next `run` runs its new plan from the start",
                            MigrationId::of(m)
                        ));
                    } else if let Some(note) = crate::undo::failure_note(m, error.index) {
                        // What stays live until the migration is finished or undone: in `status`
                        // too, where the next person looking will see it.
                        error.notes.push(note);
                        let key = StepKey {
                            version: m.version,
                            phase: work.phase,
                            index: error.index,
                        };
                        if let Err(e) =
                            history::amend_error(self.control, self.tables, key, &error.to_string())
                                .await
                        {
                            tracing::warn!(error = %e, "recording what the failed migration leaves live failed");
                        }
                    }
                    return Err(Error::Step(error));
                }
                Err(e) => return Err(e),
            };
            let settled = StepEvent::Settled {
                outcome: report.outcome,
                attempts: report.attempts,
                duration: report.duration,
            };
            finished_in_step = finish.is_some() && report.outcome == StepOutcome::Ran;
            self.step_event(m, work.phase, index, total, settled);
            steps.push(report);
        }
        if !finished_in_step {
            history::set_state(
                self.control,
                self.tables,
                m.version,
                done,
                started.elapsed(),
            )
            .await
            .map_err(Error::on_lock_connection)?;
        }
        let duration = started.elapsed();
        tracing::info!(
            version = m.version,
            name = m.name,
            phase = %work.phase,
            state = done.as_str(),
            duration_ms = duration.as_millis() as u64,
            "migration phase done"
        );
        Ok(MigrationReport {
            id: MigrationId::of(m),
            phase: work.phase,
            steps,
            duration,
        })
    }

    /// Tells the [`on_step`](crate::Migrator::on_step) callback, if any.
    fn step_event(
        &self,
        m: &'static Migration,
        phase: PhaseKind,
        index: usize,
        total: usize,
        event: StepEvent,
    ) {
        tell_step(self.steps, m, phase, index, total, event);
    }

    /// Closes the step connection, if one was opened.
    pub(crate) async fn close(&mut self) {
        if let Some(opened) = self.step_conn.take() {
            use sqlx::Connection;
            if let Err(e) = opened.conn.close().await {
                tracing::debug!(error = %e, "closing the step connection failed");
            }
        }
    }

    /// When expand step `index` of `m` is a `detach partition .. concurrently` that an attempt left
    /// pending (its first transaction committed), what that means and the way on.
    async fn pending_detach(&mut self, m: &Migration, index: usize) -> Option<String> {
        let Postcondition::Detached { parent, partition } =
            m.expand.steps.get(index)?.postcondition
        else {
            return None;
        };
        let state = detach::state(self.control, parent, partition).await.ok()?;
        (state == detach::State::Pending).then(|| {
            format!(
                "{partition} is pending detach from {parent}: an attempt committed the detach's first transaction, so queries on {parent} no longer see {partition} (its rows stay in it); the next `run` finishes the detach with `{}`",
                detach::finalize_sql(parent, partition)
            )
        })
    }

    /// Runs one step. `start` and `finish`: the history writes the step's transaction makes for the
    /// migration (see [`InStep`]); only given for a step [`attempt::records_in_step`] accepts.
    #[allow(clippy::too_many_arguments)]
    async fn run_step(
        &mut self,
        m: &'static Migration,
        phase: PhaseKind,
        index: usize,
        total: usize,
        state: StepState,
        start: Option<&'static Migration>,
        finish: Option<(RowState, Instant)>,
    ) -> Result<StepReport, Error> {
        let step = &phase.steps(m)[index];
        tracing::info!(
            version = m.version,
            phase = %phase,
            step = index + 1,
            total,
            description = step.description,
            lock = %step.lock,
            "running step"
        );
        if let StepKind::Backfill(b) = step.kind {
            return backfill::run::run(self, m, phase, index, total, state, b).await;
        }
        let Executor {
            control,
            tables,
            options,
            application_name,
            connect_timeout,
            idle_in_transaction,
            lock_strategy,
            rng,
            step_conn,
            steps: step_sink,
            verify_schema,
            ..
        } = self;
        let step_sink = *step_sink;
        let key = StepKey {
            version: m.version,
            phase,
            index,
        };
        let started = Instant::now();

        // An interrupted run started this step outside a transaction: its effect may be complete.
        if step.transaction == Transaction::Alone
            && state.was_started()
            && step.postcondition != Postcondition::None
        {
            if postcondition::holds(control, step.postcondition)
                .await
                .map_err(lock_lost)?
            {
                history::mark_done(control, tables, key, Duration::ZERO, 0)
                    .await
                    .map_err(lock_lost)?;
                tracing::info!(
                    step = index + 1,
                    description = step.description,
                    "step was completed by an interrupted run; recorded it done"
                );
                return Ok(StepReport {
                    index,
                    description: step.description,
                    attempts: 0,
                    duration: started.elapsed(),
                    outcome: StepOutcome::AlreadyDone,
                });
            }
            tracing::info!(
                step = index + 1,
                description = step.description,
                "step was interrupted before it took effect; running it again"
            );
        }

        let config = RetryConfig::from_settings(&m.settings)
            .map_err(|e| Error::InvalidMigrations(e.to_string()))?;
        let step_lock_timeout = Duration::from_millis(step.lock_timeout_ms);
        let resumed = state.was_started();
        let mut retrier = Retrier::new(config, &mut **rng);
        // A plain transactional step counts its attempts with its outcome (`InStep`); a failure
        // records the migration's start if the step's transaction was to.
        let counts_in_step = attempt::records_in_step(step);
        let settled = loop {
            let attempt = retrier.start_attempt();
            if !counts_in_step {
                history::mark_attempt(control, tables, key)
                    .await
                    .map_err(lock_lost)?;
            }
            let timeouts = Timeouts {
                lock: lock_timeout_for_attempt(step_lock_timeout, attempt),
                statement: Duration::from_millis(step.statement_timeout_ms),
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
            let server_version_num = conn.server_version_num;
            // Look before queueing (see `lookahead`): wait, not queued, while old transactions hold
            // conflicting locks, within the retry budget.
            let deadline = Instant::now() + config.budget().saturating_sub(retrier.elapsed());
            let clear = lookahead::wait_until_clear(
                control,
                step.tables,
                step.lock,
                &[pid],
                *lock_strategy,
                timeouts.lock,
                deadline,
            )
            .await
            .map_err(lock_lost)?;
            let timeouts = match clear {
                Clear::Attempt(lock) => Timeouts { lock, ..timeouts },
                Clear::Blocked(old) => {
                    let error = StepError {
                        migration: MigrationId::of(m),
                        phase,
                        index,
                        total,
                        description: step.description.to_owned(),
                        sql: history::step_sql(step),
                        attempts: retrier.attempts(),
                        kind: StepErrorKind::Statement(GiveUp::Budget),
                        sqlstate: None,
                        message: format!(
                            "waited {:.1} s, without queueing for the {} lock, for old transactions holding conflicting locks on {} to end; they did not within the retry budget",
                            retrier.elapsed().as_secs_f64(),
                            step.lock,
                            step.tables.join(", ")
                        ),
                        detail: None,
                        timeouts_ms: (step.lock_timeout_ms, step.statement_timeout_ms),
                        blockers: old,
                        notes: vec![
                            format!("{NOTHING_RAN}; end the sessions named (or wait for them), then run again"),
                        ],
                        source: None,
                    };
                    return Err(fail_step(
                        control,
                        tables,
                        key,
                        error,
                        start,
                        counts_in_step.then(|| retrier.attempts()),
                    )
                    .await);
                }
            };
            let elapsed = started.elapsed();
            let run = async {
                match (step.kind, step.transaction) {
                    (StepKind::Phased(phased), _) => {
                        let cx = phased::Ctx {
                            migration: m,
                            step,
                            phased,
                            timeouts,
                            tables,
                            key,
                            elapsed,
                            server_version_num: conn.server_version_num,
                            verify_schema: *verify_schema,
                        };
                        phased::attempt(&mut conn.conn, &cx).await
                    }
                    (_, Transaction::Transactional) => {
                        let in_step = InStep {
                            start,
                            finish,
                            attempts: if counts_in_step { attempt } else { 0 },
                            waited: elapsed,
                        };
                        attempt::transactional(
                            &mut conn.conn,
                            step,
                            timeouts,
                            tables,
                            key,
                            server_version_num,
                            in_step,
                        )
                        .await
                    }
                    (_, Transaction::Alone) => {
                        attempt::alone(&mut conn.conn, pid, step, timeouts, resumed).await
                    }
                }
            };
            let report_build = |build| {
                tell_step(
                    step_sink,
                    m,
                    phase,
                    index,
                    total,
                    StepEvent::Building(build),
                )
            };
            // PostgreSQL 12 added `pg_stat_progress_create_index`.
            let building = (matches!(step.kind, StepKind::ConcurrentIndex { .. })
                && step_sink.is_some()
                && server_version_num >= 120_000)
                .then(|| monitor::Building {
                    tracker: Tracker::new(Instant::now()),
                    report: &report_build,
                });
            let (result, observed) = monitor::watch(control, pid, building, run).await;
            let Some(result) = result else {
                // The lock may be gone: close the step's connection, so the server rolls back (or
                // cancels) what the step was doing instead of finishing it beside another runner.
                *step_conn = None;
                let source = observed
                    .control_error
                    .expect("a step is abandoned only when the control connection broke");
                return Err(lock_lost(source));
            };
            if let Some(source) = observed.control_error {
                return Err(lock_lost(source));
            }
            let err = match result {
                Ok(settled) => break settled,
                Err(err) => err,
            };
            if let Some(evidence) = err.session_changed {
                *step_conn = None;
                return Err(Error::SessionPooling { evidence });
            }
            // A build an interrupted run left going may have finished during this attempt (which then
            // failed with "already exists", or on its leftover): the step is done.
            if resumed
                && step.transaction == Transaction::Alone
                && step.postcondition != Postcondition::None
                && postcondition::holds(control, step.postcondition)
                    .await
                    .map_err(lock_lost)?
            {
                tracing::info!(
                    step = index + 1,
                    error = %err.message,
                    "the interrupted run's statement completed meanwhile; the step is done"
                );
                if err.connection_broken() {
                    *step_conn = None;
                }
                break Settled::AlreadyDone;
            }
            let mut seen = observed.blockers;
            if err.sqlstate.as_deref() == Some("55P03") && seen.is_empty() {
                match blockers::holders(control, step.tables, &[pid]).await {
                    Ok(found) => seen = found,
                    Err(e) => {
                        tracing::debug!(error = %e, "listing the sessions holding locks failed")
                    }
                }
            }
            let broken = err.connection_broken();
            let class = if err.postcondition_failed || err.refused {
                Class::Permanent
            } else {
                classify(err.sqlstate.as_deref())
            };
            match retrier.after_failure(class) {
                Decision::Retry { delay, reason } => {
                    tracing::warn!(
                        version = m.version,
                        step = index + 1,
                        attempt,
                        reason = reason.as_str(),
                        lock_timeout_ms = timeouts.lock.as_millis() as u64,
                        retry_in_ms = delay.as_millis() as u64,
                        blockers = %blockers::list(&seen),
                        error = %err.message,
                        "step failed transiently; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Decision::Stop(why) => {
                    let mut notes = Vec::new();
                    if broken {
                        *step_conn = None;
                    } else if let (
                        StepKind::ConcurrentIndex {
                            schema,
                            index: name,
                            ..
                        },
                        Some(conn),
                    ) = (step.kind, step_conn.as_mut())
                    {
                        // A failed concurrent build leaves an INVALID index that slows every write:
                        // drop it now rather than at the next run.
                        match index::drop_invalid_leftover(&mut conn.conn, schema, name).await {
                            Ok(true) => notes.push(format!("the INVALID index {} the failed build left was dropped", index::qualified(schema, name))),
                            Ok(false) => {}
                            Err(e) => notes.push(format!(
                                "the INVALID index {} the failed build left could not be dropped ({e}); the next run drops it",
                                index::qualified(schema, name)
                            )),
                        }
                    }
                    let kind = if err.refused {
                        StepErrorKind::Refused
                    } else if err.postcondition_failed {
                        StepErrorKind::Postcondition
                    } else if matches!(step.kind, StepKind::ConcurrentIndex { unique: true, .. })
                        && err.sqlstate.as_deref() == Some("23505")
                    {
                        StepErrorKind::DuplicateKeys
                    } else {
                        StepErrorKind::Statement(why)
                    };
                    let error = StepError {
                        migration: MigrationId::of(m),
                        phase,
                        index,
                        total,
                        description: step.description.to_owned(),
                        sql: err.sql,
                        attempts: retrier.attempts(),
                        kind,
                        sqlstate: err.sqlstate,
                        message: err.message,
                        detail: err.detail,
                        timeouts_ms: (step.lock_timeout_ms, step.statement_timeout_ms),
                        blockers: seen,
                        notes,
                        source: err.source,
                    };
                    return Err(fail_step(
                        control,
                        tables,
                        key,
                        error,
                        start,
                        counts_in_step.then(|| retrier.attempts()),
                    )
                    .await);
                }
            }
        };

        if step.transaction == Transaction::Alone {
            if !postcondition::holds(control, step.postcondition)
                .await
                .map_err(lock_lost)?
            {
                let error = StepError {
                    migration: MigrationId::of(m),
                    phase,
                    index,
                    total,
                    description: step.description.to_owned(),
                    sql: history::step_sql(step),
                    attempts: retrier.attempts(),
                    kind: StepErrorKind::Postcondition,
                    sqlstate: None,
                    message: format!(
                        "after the step, {}",
                        postcondition::describe(step.postcondition)
                    ),
                    detail: None,
                    timeouts_ms: (step.lock_timeout_ms, step.statement_timeout_ms),
                    blockers: Vec::new(),
                    notes: Vec::new(),
                    source: None,
                };
                return Err(fail_step(
                    control,
                    tables,
                    key,
                    error,
                    start,
                    counts_in_step.then(|| retrier.attempts()),
                )
                .await);
            }
            history::mark_done(control, tables, key, started.elapsed(), 0)
                .await
                .map_err(lock_lost)?;
        }
        let duration = started.elapsed();
        let outcome = match settled {
            Settled::Ran => StepOutcome::Ran,
            Settled::AlreadyDone => StepOutcome::AlreadyDone,
        };
        tracing::info!(
            version = m.version,
            step = index + 1,
            attempts = retrier.attempts(),
            duration_ms = duration.as_millis() as u64,
            outcome = ?outcome,
            "step done"
        );
        Ok(StepReport {
            index,
            description: step.description,
            attempts: retrier.attempts(),
            duration,
            outcome,
        })
    }
}
