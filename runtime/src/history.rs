//! The history tables: what was applied, with which plan, and how far each step got.
//!
//! Two tables, created on first use (under the migration lock, so concurrent first runs do not race):
//!
//! - `<table>` (default `zerodown_migrations`): one row per migration: version, name, description,
//!   plan checksum, state (`expanding` → `expanded` → `completing` → `completed`; a migration without
//!   a contract phase goes from `expanding` to `completed`; `rollback` takes an expanded or expanding
//!   one through `rolling_back` to `rolled_back`, after which it counts as never applied), timestamps,
//!   accumulated run time, the last error, the zerodown version that recorded it, and `baseline`
//!   (true when `Migrator::baseline` recorded it as applied without running it).
//! - `<table>_steps`: one row per step of every phase, inserted when the migration starts: phase,
//!   index, description, SQL (so a drift error can show what changed), state (`pending`, `running`,
//!   `failed`, `done`), attempts, timestamps, duration, a backfill cursor (a batched backfill's
//!   position, written in the same transaction as each batch), a memo (what a step found and changed,
//!   for its rollback: `not null` when an `expand .. drop column` dropped `NOT NULL`) and the last error.

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::backfill::sql::BatchSql;
use crate::error::{Drift, Error, StepChange};
use crate::plan::{Migration, Step, StepKind};
use crate::status::{MigrationId, PhaseKind};

/// The history tables' names, resolved and quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tables {
    /// Unquoted schema.
    pub(crate) schema: String,
    /// Unquoted table.
    pub(crate) table: String,
    migrations: String,
    steps: String,
}

/// Quotes an identifier for SQL.
pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Tables {
    pub(crate) fn new(schema: &str, table: &str) -> Tables {
        Tables {
            schema: schema.to_owned(),
            table: table.to_owned(),
            migrations: format!("{}.{}", quote_ident(schema), quote_ident(table)),
            steps: format!(
                "{}.{}",
                quote_ident(schema),
                quote_ident(&format!("{table}_steps"))
            ),
        }
    }
}

/// A step's state in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepState {
    Pending,
    Running,
    Failed,
    Done,
}

impl StepState {
    fn parse(s: &str) -> Option<StepState> {
        Some(match s {
            "pending" => StepState::Pending,
            "running" => StepState::Running,
            "failed" => StepState::Failed,
            "done" => StepState::Done,
            _ => return None,
        })
    }

    /// Whether an earlier run started the step without recording it done.
    pub(crate) fn was_started(self) -> bool {
        matches!(self, StepState::Running | StepState::Failed)
    }
}

/// A migration's state in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowState {
    Expanding,
    Expanded,
    Completing,
    Completed,
    RollingBack,
    RolledBack,
}

impl RowState {
    fn parse(s: &str) -> Option<RowState> {
        Some(match s {
            "expanding" => RowState::Expanding,
            "expanded" => RowState::Expanded,
            "completing" => RowState::Completing,
            "completed" => RowState::Completed,
            "rolling_back" => RowState::RollingBack,
            "rolled_back" => RowState::RolledBack,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RowState::Expanding => "expanding",
            RowState::Expanded => "expanded",
            RowState::Completing => "completing",
            RowState::Completed => "completed",
            RowState::RollingBack => "rolling_back",
            RowState::RolledBack => "rolled_back",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MigrationRow {
    pub(crate) version: u64,
    pub(crate) name: String,
    pub(crate) checksum: String,
    pub(crate) state: RowState,
    pub(crate) raw_state: String,
    pub(crate) last_error: Option<String>,
    /// Recorded by `Migrator::baseline`: marked applied, never run.
    pub(crate) baseline: bool,
    /// When its last phase finished (completed, else expanded), as `YYYY-MM-DD HH:MM:SS UTC`.
    pub(crate) applied_at: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct StepRow {
    pub(crate) description: String,
    pub(crate) sql: String,
    pub(crate) state: StepState,
    /// A backfill cursor is saved: batches of the step committed.
    pub(crate) has_cursor: bool,
}

/// Everything recorded, keyed by version and by (version, phase, index). Rolled-back migrations count
/// as never applied: they are only listed in `rolled_back`.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    /// Which of the two tables exist (nothing is read from a missing one).
    pub(crate) present: Presence,
    pub(crate) migrations: BTreeMap<u64, MigrationRow>,
    pub(crate) rolled_back: BTreeMap<u64, MigrationRow>,
    pub(crate) steps: BTreeMap<(u64, PhaseKind, usize), StepRow>,
}

/// Which history tables exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Presence {
    /// The migrations table (`<table>`).
    pub(crate) migrations: bool,
    /// The steps table (`<table>_steps`).
    pub(crate) steps: bool,
}

impl History {
    /// Whether nothing at all is recorded: no migrations table, or one without a row (rolled-back
    /// rows included).
    pub(crate) fn is_empty(&self) -> bool {
        self.migrations.is_empty() && self.rolled_back.is_empty()
    }

    /// Whether migration `m` was started (`expanding`) and none of its steps committed anything: no
    /// step done, none interrupted mid-way (`running`, whose effect is unknown), no backfill batch
    /// saved. Such a migration may be edited: the next `run` starts it afresh with the new plan.
    pub(crate) fn nothing_committed(&self, m: &Migration) -> bool {
        self.migrations
            .get(&m.version)
            .is_some_and(|row| row.state == RowState::Expanding && !row.baseline)
            && self
                .steps
                .range(
                    (m.version, PhaseKind::Expand, 0)
                        ..=(m.version, PhaseKind::Rollback, usize::MAX),
                )
                .all(|(_, s)| {
                    matches!(s.state, StepState::Pending | StepState::Failed) && !s.has_cursor
                })
    }

    pub(crate) fn step_state(&self, version: u64, phase: PhaseKind, index: usize) -> StepState {
        self.steps
            .get(&(version, phase, index))
            .map_or(StepState::Pending, |s| s.state)
    }

    /// Steps of `phase` recorded done.
    pub(crate) fn done_count(&self, version: u64, phase: PhaseKind) -> usize {
        self.steps
            .range((version, phase, 0)..=(version, phase, usize::MAX))
            .filter(|(_, s)| s.state == StepState::Done)
            .count()
    }

    /// The drift of `m` against its recorded row, if any.
    pub(crate) fn drift(&self, m: &Migration) -> Option<Drift> {
        let row = self.migrations.get(&m.version)?;
        let checksum = m.checksum.to_hex();
        if row.checksum == checksum {
            return None;
        }
        // Recorded by an earlier zerodown that named its helper objects differently: the same plan.
        // Only once nothing of it is left under way, since its remaining steps would use the new names.
        let finished = matches!(row.state, RowState::Completed | RowState::RolledBack);
        if finished
            && m.legacy_checksums
                .iter()
                .any(|legacy| legacy.to_hex() == row.checksum)
        {
            return None;
        }
        let mut changes = Vec::new();
        for phase in recorded_phases(m) {
            let steps = phase.steps(m);
            let recorded: Vec<(usize, &StepRow)> = self
                .steps
                .range((m.version, phase, 0)..=(m.version, phase, usize::MAX))
                .map(|(k, v)| (k.2, v))
                .collect();
            let n = steps
                .len()
                .max(recorded.iter().map(|(i, _)| i + 1).max().unwrap_or(0));
            for index in 0..n {
                let old = recorded
                    .iter()
                    .find(|(i, _)| *i == index)
                    .map(|(_, r)| (r.description.clone(), r.sql.clone()));
                let new = steps
                    .get(index)
                    .map(|s| (s.description.to_owned(), step_sql(s)));
                if old != new {
                    changes.push(StepChange {
                        phase,
                        index,
                        recorded: old,
                        current: new,
                    });
                }
            }
        }
        Some(Drift {
            migration: MigrationId::of(m),
            recorded_name: (row.name != m.name).then(|| row.name.clone()),
            recorded_checksum: row.checksum.clone(),
            checksum,
            changes,
        })
    }
}

/// The phases whose steps are recorded from the start and compared for drift: all of them, except
/// the undo of a migration without `expand` operations, which is derived from its expand steps (not
/// part of its checksum) and recorded only when a rollback starts ([`record_undo`]).
fn recorded_phases(m: &Migration) -> impl Iterator<Item = PhaseKind> {
    let undo = m.rolls_back_by_undo();
    PhaseKind::ALL
        .into_iter()
        .filter(move |p| !(undo && *p == PhaseKind::Rollback))
}

/// Records the steps of `m`'s undo (rows that exist keep their state, so a resumed rollback goes on
/// where it stopped) and moves the migration to `rolling_back`, in one transaction.
pub(crate) async fn record_undo(
    conn: &mut PgConnection,
    t: &Tables,
    m: &Migration,
) -> Result<(), Error> {
    let context = || Error::db(format!("recording the rollback of migration {}", m.version));
    let mut tx = conn.begin().await.map_err(context())?;
    let mut rows = StepRows::default();
    for (index, step) in m.undo.steps.iter().enumerate() {
        rows.push(PhaseKind::Rollback, index, step, "pending");
    }
    rows.insert(&mut tx, t, m.version, "DO NOTHING")
        .await
        .map_err(context())?;
    sqlx::query(&format!(
        "UPDATE {} SET state = 'rolling_back', updated_at = now() WHERE version = $1",
        t.migrations
    ))
    .bind(as_i64(m.version))
    .execute(&mut *tx)
    .await
    .map_err(context())?;
    tx.commit().await.map_err(context())?;
    Ok(())
}

/// The SQL recorded for a step: its statements, one per line, each ending with `;`. A backfill, whose
/// batches the runtime generates, is recorded as the single `UPDATE` it amounts to.
pub(crate) fn step_sql(step: &Step) -> String {
    if let StepKind::Backfill(b) = step.kind {
        return format!(
            "{}; -- in keyset batches of {}",
            BatchSql::describe(b.table, b.set_sql, b.pending_sql),
            b.batch_size
        );
    }
    step.statements
        .iter()
        .map(|s| format!("{s};"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Creates the tables when missing (and adds columns newer versions need). Run under the migration
/// lock. When everything is there, nothing but a catalog read runs: `ALTER TABLE .. ADD COLUMN IF NOT
/// EXISTS` takes an `ACCESS EXCLUSIVE` lock even when the column exists, which would queue every
/// runner's start behind any open transaction that read the history.
pub(crate) async fn ensure(conn: &mut PgConnection, t: &Tables) -> Result<(), Error> {
    let complete: bool = sqlx::query_scalar(
        "SELECT to_regclass($1) IS NOT NULL
         AND EXISTS (SELECT 1 FROM pg_attribute
             WHERE attrelid = to_regclass($2) AND attname = 'memo' AND NOT attisdropped)
         AND EXISTS (SELECT 1 FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attname = 'baseline' AND NOT attisdropped)",
    )
    .bind(&t.migrations)
    .bind(&t.steps)
    .fetch_one(&mut *conn)
    .await
    .map_err(Error::db("looking for the history tables"))?;
    if complete {
        return Ok(());
    }
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {m} (
            version bigint PRIMARY KEY,
            name text NOT NULL,
            description text NOT NULL,
            checksum text NOT NULL,
            state text NOT NULL,
            started_at timestamptz NOT NULL DEFAULT now(),
            expanded_at timestamptz,
            completed_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now(),
            duration_ms bigint NOT NULL DEFAULT 0,
            last_error text,
            zerodown_version text NOT NULL,
            baseline boolean NOT NULL DEFAULT false
        );
        CREATE TABLE IF NOT EXISTS {s} (
            version bigint NOT NULL,
            phase text NOT NULL,
            step_index integer NOT NULL,
            description text NOT NULL,
            sql text NOT NULL,
            lock_level text NOT NULL,
            state text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            started_at timestamptz,
            finished_at timestamptz,
            duration_ms bigint,
            backfill_cursor jsonb,
            memo text,
            last_error text,
            PRIMARY KEY (version, phase, step_index)
        );
        ALTER TABLE {s} ADD COLUMN IF NOT EXISTS memo text;
        ALTER TABLE {m} ADD COLUMN IF NOT EXISTS baseline boolean NOT NULL DEFAULT false",
        m = t.migrations,
        s = t.steps
    );
    crate::connect::simple(conn, &sql)
        .await
        .map_err(Error::db("creating the history tables"))?;
    Ok(())
}

/// Which history tables exist (`status`, `plan` and the decision before `run` never create them).
pub(crate) async fn presence(conn: &mut PgConnection, t: &Tables) -> Result<Presence, Error> {
    let (migrations, steps): (bool, bool) =
        sqlx::query_as("SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL")
            .bind(&t.migrations)
            .bind(&t.steps)
            .fetch_one(conn)
            .await
            .map_err(Error::db("looking for the history tables"))?;
    Ok(Presence { migrations, steps })
}

fn version_of(v: i64) -> Result<u64, Error> {
    u64::try_from(v).map_err(|_| Error::HistoryCorrupt(format!("negative version {v}")))
}

/// Reads everything there is: a missing table reads as empty, and [`History::present`] says which
/// exist. Changes nothing.
pub(crate) async fn load(conn: &mut PgConnection, t: &Tables) -> Result<History, Error> {
    let present = presence(&mut *conn, t).await?;
    let mut history = History {
        present,
        ..History::default()
    };
    if present.migrations {
        load_migrations(&mut *conn, t, &mut history).await?;
    }
    if present.steps {
        load_steps(&mut *conn, t, &mut history).await?;
    }
    Ok(history)
}

async fn load_migrations(
    conn: &mut PgConnection,
    t: &Tables,
    history: &mut History,
) -> Result<(), Error> {
    // `baseline` through `to_jsonb`: tables created by older versions lack the column until `ensure`.
    type Row = (
        i64,
        String,
        String,
        String,
        Option<String>,
        bool,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT version, name, checksum, state, last_error,
                coalesce((to_jsonb(m) ->> 'baseline')::boolean, false),
                to_char(coalesce(completed_at, expanded_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"')
         FROM {} m ORDER BY version",
        t.migrations
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db("reading the history"))?;
    for (version, name, checksum, raw_state, last_error, baseline, applied_at) in rows {
        let version = version_of(version)?;
        let state = RowState::parse(&raw_state).ok_or_else(|| {
            Error::HistoryCorrupt(format!(
                "migration {version} has unknown state {raw_state:?}"
            ))
        })?;
        let row = MigrationRow {
            version,
            name,
            checksum,
            state,
            raw_state,
            last_error,
            baseline,
            applied_at,
        };
        if state == RowState::RolledBack {
            history.rolled_back.insert(version, row);
        } else {
            history.migrations.insert(version, row);
        }
    }
    Ok(())
}

async fn load_steps(
    conn: &mut PgConnection,
    t: &Tables,
    history: &mut History,
) -> Result<(), Error> {
    let steps: Vec<(i64, String, i32, String, String, String, bool)> = sqlx::query_as(&format!(
        "SELECT version, phase, step_index, description, sql, state, backfill_cursor IS NOT NULL
         FROM {} ORDER BY version, phase, step_index",
        t.steps
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(Error::db("reading the history of steps"))?;
    for (version, phase, index, description, sql, state, has_cursor) in steps {
        let version = version_of(version)?;
        let bad = |what: &str| {
            Error::HistoryCorrupt(format!("step {index} of migration {version} has {what}"))
        };
        let phase =
            PhaseKind::parse(&phase).ok_or_else(|| bad(&format!("unknown phase {phase:?}")))?;
        let index = usize::try_from(index).map_err(|_| bad("a negative index"))?;
        let state =
            StepState::parse(&state).ok_or_else(|| bad(&format!("unknown state {state:?}")))?;
        if history.rolled_back.contains_key(&version) {
            continue;
        }
        history.steps.insert(
            (version, phase, index),
            StepRow {
                description,
                sql,
                state,
                has_cursor,
            },
        );
    }
    Ok(())
}

fn as_i64(n: u64) -> i64 {
    // Versions are checked to fit by `Migrator::new`; saturate instead of wrapping anyway.
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records a migration as started, with all its steps pending, in one transaction. A row left by a
/// rollback is started afresh.
pub(crate) async fn begin_migration(
    conn: &mut PgConnection,
    t: &Tables,
    m: &Migration,
) -> Result<(), Error> {
    let context = || Error::db(format!("recording the start of migration {}", m.version));
    let mut tx = conn.begin().await.map_err(context())?;
    sqlx::query(&format!("DELETE FROM {} WHERE version = $1", t.steps))
        .bind(as_i64(m.version))
        .execute(&mut *tx)
        .await
        .map_err(context())?;
    sqlx::query(&format!(
        "INSERT INTO {} (version, name, description, checksum, state, zerodown_version) VALUES ($1, $2, $3, $4, 'expanding', $5)
         ON CONFLICT (version) DO UPDATE SET name = excluded.name, description = excluded.description,
             checksum = excluded.checksum, state = excluded.state, zerodown_version = excluded.zerodown_version,
             started_at = now(), expanded_at = NULL, completed_at = NULL, updated_at = now(), duration_ms = 0,
             last_error = NULL",
        t.migrations
    ))
    .bind(as_i64(m.version))
    .bind(m.name)
    .bind(m.description)
    .bind(m.checksum.to_hex())
    .bind(env!("CARGO_PKG_VERSION"))
    .execute(&mut *tx)
    .await
    .map_err(context())?;
    insert_steps(&mut tx, t, m, &|_, _| "pending")
        .await
        .map_err(context())?;
    tx.commit().await.map_err(context())?;
    Ok(())
}

/// Records `m` as completed without running it (`Migrator::baseline`): the row marked `baseline`, every
/// step `done` with no attempt, in one transaction.
pub(crate) async fn record_baseline(
    conn: &mut PgConnection,
    t: &Tables,
    m: &Migration,
) -> Result<(), Error> {
    let context = || Error::db(format!("recording migration {} as a baseline", m.version));
    let mut tx = conn.begin().await.map_err(context())?;
    sqlx::query(&format!("DELETE FROM {} WHERE version = $1", t.steps))
        .bind(as_i64(m.version))
        .execute(&mut *tx)
        .await
        .map_err(context())?;
    sqlx::query(&format!(
        "INSERT INTO {} (version, name, description, checksum, state, zerodown_version, expanded_at, completed_at, baseline)
         VALUES ($1, $2, $3, $4, 'completed', $5, now(), now(), true)",
        t.migrations
    ))
    .bind(as_i64(m.version))
    .bind(m.name)
    .bind(m.description)
    .bind(m.checksum.to_hex())
    .bind(env!("CARGO_PKG_VERSION"))
    .execute(&mut *tx)
    .await
    .map_err(context())?;
    let state = |phase: PhaseKind, _| match phase {
        PhaseKind::Rollback => "pending",
        PhaseKind::Expand | PhaseKind::Contract => "done",
    };
    insert_steps(&mut tx, t, m, &state)
        .await
        .map_err(context())?;
    tx.commit().await.map_err(context())?;
    Ok(())
}

/// The step rows of a migration as columns, bound as arrays (`$2`..`$7` of [`StepRows::sql`]).
#[derive(Default)]
struct StepRows {
    phases: Vec<&'static str>,
    indexes: Vec<i32>,
    descriptions: Vec<&'static str>,
    sqls: Vec<String>,
    locks: Vec<&'static str>,
    states: Vec<&'static str>,
}

/// A query being built, for [`StepRows::bind`].
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

impl StepRows {
    /// The rows of every recorded phase of `m`, in the state `state` gives.
    fn of(m: &Migration, state: &(dyn Fn(PhaseKind, usize) -> &'static str + Sync)) -> StepRows {
        let mut rows = StepRows::default();
        for phase in recorded_phases(m) {
            for (index, step) in phase.steps(m).iter().enumerate() {
                rows.push(phase, index, step, state(phase, index));
            }
        }
        rows
    }

    fn push(&mut self, phase: PhaseKind, index: usize, step: &Step, state: &'static str) {
        self.phases.push(phase.as_str());
        self.indexes.push(index as i32);
        self.descriptions.push(step.description);
        self.sqls.push(step_sql(step));
        self.locks.push(step.lock.as_sql());
        self.states.push(state);
    }

    /// Inserts the rows bound by [`bind`](StepRows::bind) into `t`'s steps table; `conflict` is the
    /// `ON CONFLICT` action.
    fn sql(t: &Tables, conflict: &str) -> String {
        format!(
            "INSERT INTO {} (version, phase, step_index, description, sql, lock_level, state)
             SELECT $1, s.* FROM unnest($2::text[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[]) AS s
             ON CONFLICT (version, phase, step_index) {conflict}",
            t.steps
        )
    }

    /// Binds `$1` (the migration's version) and the rows as `$2`..`$7`.
    fn bind<'q>(&'q self, version: u64, query: PgQuery<'q>) -> PgQuery<'q> {
        query
            .bind(as_i64(version))
            .bind(&self.phases)
            .bind(&self.indexes)
            .bind(&self.descriptions)
            .bind(&self.sqls)
            .bind(&self.locks)
            .bind(&self.states)
    }

    /// Writes the rows in one statement (one round trip, however many rows).
    async fn insert(
        &self,
        conn: &mut PgConnection,
        t: &Tables,
        version: u64,
        conflict: &str,
    ) -> Result<(), sqlx::Error> {
        if self.phases.is_empty() {
            return Ok(());
        }
        let sql = StepRows::sql(t, conflict);
        self.bind(version, sqlx::query(&sql)).execute(conn).await?;
        Ok(())
    }
}

/// Writes every step row of `m`; an existing row keeps its state and gets the plan's text.
async fn insert_steps(
    conn: &mut PgConnection,
    t: &Tables,
    m: &Migration,
    state: &(dyn Fn(PhaseKind, usize) -> &'static str + Sync),
) -> Result<(), sqlx::Error> {
    StepRows::of(m, state)
        .insert(
            conn,
            t,
            m.version,
            "DO UPDATE SET description = excluded.description, sql = excluded.sql, lock_level = excluded.lock_level",
        )
        .await
}

/// Records a migration that has no history row as started, inside the transaction of its first step
/// (a transactional one), so the start commits with the step and costs no commit of its own.
///
/// Unlike [`begin_migration`] it never deletes or overwrites: a row that appeared since the history
/// was read (a runner that lost the lock committing late) is left alone, and the step's
/// [`lock_step`] then sees what that runner recorded. Returns whether it inserted the row of `step`:
/// then the row is this transaction's (locked by it, pending) and needs no [`lock_step`].
pub(crate) async fn record_start_in_step(
    conn: &mut PgConnection,
    t: &Tables,
    m: &Migration,
    step: StepKey,
) -> Result<bool, sqlx::Error> {
    let rows = StepRows::of(m, &|_, _| "pending");
    // One statement: both inserts wait for a concurrent transaction inserting the same keys, then
    // do nothing.
    let sql = format!(
        "WITH started AS (
             INSERT INTO {} (version, name, description, checksum, state, zerodown_version)
             VALUES ($1, $8, $9, $10, 'expanding', $11)
             ON CONFLICT (version) DO NOTHING)
         {} RETURNING phase, step_index",
        t.migrations,
        StepRows::sql(t, "DO NOTHING")
    );
    let inserted = rows
        .bind(m.version, sqlx::query(&sql))
        .bind(m.name)
        .bind(m.description)
        .bind(m.checksum.to_hex())
        .bind(env!("CARGO_PKG_VERSION"))
        .fetch_all(&mut *conn)
        .await?;
    Ok(inserted.iter().any(|row| {
        use sqlx::Row;
        row.get::<String, _>(0) == step.phase.as_str()
            && row.get::<i32, _>(1) as usize == step.index
    }))
}

/// [`record_start_in_step`] as one statement with its values written in (quoted literals), so it can
/// go to the server in the simple query that carries a whole first step (see
/// `execute::attempt::transactional`). Without `ON CONFLICT`: a history row that appeared since the
/// history was read fails the statement with a unique violation (SQLSTATE `23505`), its transaction
/// rolls back with nothing applied, and the caller takes the usual way ([`record_start_in_step`],
/// then [`lock_step`]).
pub(crate) fn start_inline(t: &Tables, m: &Migration) -> String {
    use crate::plan::sqltext::quote_literal;
    let rows = StepRows::of(m, &|_, _| "pending");
    let version = as_i64(m.version);
    let mut sql = format!(
        "WITH started AS (
             INSERT INTO {} (version, name, description, checksum, state, zerodown_version)
             VALUES ({version}, {}, {}, {}, 'expanding', {}))
         INSERT INTO {} (version, phase, step_index, description, sql, lock_level, state) VALUES ",
        t.migrations,
        quote_literal(m.name),
        quote_literal(m.description),
        quote_literal(&m.checksum.to_hex()),
        quote_literal(env!("CARGO_PKG_VERSION")),
        t.steps
    );
    for i in 0..rows.phases.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "({version}, {}, {}, {}, {}, {}, {})",
            quote_literal(rows.phases[i]),
            rows.indexes[i],
            quote_literal(rows.descriptions[i]),
            quote_literal(&rows.sqls[i]),
            quote_literal(rows.locks[i]),
            quote_literal(rows.states[i]),
        ));
    }
    sql
}

/// A step's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StepKey {
    pub(crate) version: u64,
    pub(crate) phase: PhaseKind,
    pub(crate) index: usize,
}

/// Counts an attempt and marks the step running.
///
/// A step already recorded done stays done: an interrupted run's last transaction may commit after
/// the next run read the history.
pub(crate) async fn mark_attempt(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET state = CASE WHEN state = 'done' THEN state ELSE 'running' END,
                attempts = attempts + 1, started_at = coalesce(started_at, now())
         WHERE version = $1 AND phase = $2 AND step_index = $3",
        t.steps
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the step's row for the rest of the transaction and returns its state. A transactional step
/// calls it first: if another session's transaction applied the step (the last transaction of an
/// interrupted run, committing late, or a runner that lost the migration lock without noticing yet),
/// the row lock waits for it and the step is seen done instead of being applied twice.
pub(crate) async fn lock_step(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
) -> Result<Option<StepState>, sqlx::Error> {
    let state: Option<String> = sqlx::query_scalar(&format!(
        "SELECT state FROM {} WHERE version = $1 AND phase = $2 AND step_index = $3 FOR UPDATE",
        t.steps
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .fetch_optional(conn)
    .await?;
    Ok(state.as_deref().and_then(StepState::parse))
}

/// Marks the step done. Inside the step's transaction for transactional steps. `uncounted`: attempts
/// of this run that [`mark_attempt`] did not count (plain transactional steps count them here).
pub(crate) async fn mark_done(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
    duration: Duration,
    uncounted: u32,
) -> Result<(), sqlx::Error> {
    sqlx::query(&done_sql(t))
        .bind(as_i64(k.version))
        .bind(k.phase.as_str())
        .bind(k.index as i32)
        .bind(duration.as_millis() as i64)
        .bind(uncounted as i32)
        .execute(conn)
        .await?;
    Ok(())
}

/// [`mark_done`] and [`write_state`] in one statement (one round trip), for the last step of a phase
/// that records the migration's new state in its own transaction.
pub(crate) async fn mark_done_with_state(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
    duration: Duration,
    uncounted: u32,
    state: RowState,
    ran: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "WITH done AS ({}) {}",
        done_sql(t),
        state_sql(t, state, "$6", "$7")
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .bind(duration.as_millis() as i64)
    .bind(uncounted as i32)
    .bind(state.as_str())
    .bind(ran.as_millis() as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Milliseconds since the query message that carries the statement arrived (`statement_timestamp()`
/// is that arrival for every statement of a simple query).
const MS_SINCE_MESSAGE: &str =
    "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::bigint";

/// [`mark_done`], or with `finish` [`mark_done_with_state`], as one statement with its values
/// written in (integers and the fixed names of phases and states, nothing from the user), so it can
/// go to the server with the step's own statements in one simple query. `duration` and the `finish`
/// time are what passed before that query; the time the query took so far is added by the server.
pub(crate) fn done_inline(
    t: &Tables,
    k: StepKey,
    duration: Duration,
    uncounted: u32,
    finish: Option<(RowState, Duration)>,
) -> String {
    let mut sql = match finish {
        None => done_sql(t),
        Some((state, _)) => format!(
            "WITH done AS ({}) {}",
            done_sql(t),
            state_sql(t, state, "$6", "$7")
        ),
    };
    let (state, ran) = finish.map_or((String::new(), 0), |(state, ran)| {
        (format!("'{}'", state.as_str()), ran.as_millis() as i64)
    });
    // The durations known before the statements ran, plus their own time, which only the server
    // knows when this statement runs in the same query message as they do.
    let values = [
        as_i64(k.version).to_string(),
        format!("'{}'", k.phase.as_str()),
        (k.index as i32).to_string(),
        format!("({} + {MS_SINCE_MESSAGE})", duration.as_millis() as i64),
        (uncounted as i32).to_string(),
        state,
        format!("({ran} + {MS_SINCE_MESSAGE})"),
    ];
    // `$7` first: no placeholder here has two digits, so `$1` never matches the start of another.
    for (i, value) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), value);
    }
    sql
}

/// Marks step (`$1` version, `$2` phase, `$3` index) done after `$4` ms, counting `$5` attempts.
fn done_sql(t: &Tables) -> String {
    format!(
        "UPDATE {} SET state = 'done', finished_at = now(), duration_ms = $4, last_error = NULL,
                attempts = attempts + $5, started_at = coalesce(started_at, now())
         WHERE version = $1 AND phase = $2 AND step_index = $3",
        t.steps
    )
}

/// Marks the step failed, on the step row and on its migration. `uncounted` as for [`mark_done`].
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
    error: &str,
    uncounted: u32,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET state = 'failed', last_error = $4, attempts = attempts + $5,
                started_at = coalesce(started_at, now())
         WHERE version = $1 AND phase = $2 AND step_index = $3 AND state <> 'done'",
        t.steps
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .bind(error)
    .bind(uncounted as i32)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "UPDATE {} SET last_error = $2, updated_at = now() WHERE version = $1",
        t.migrations
    ))
    .bind(as_i64(k.version))
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the recorded error of a failed step (and its migration's) with `error`: the failure with
/// the notes added after [`mark_failed`] recorded it, so `status` shows them too.
pub(crate) async fn amend_error(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "WITH step AS (
             UPDATE {} SET last_error = $4
             WHERE version = $1 AND phase = $2 AND step_index = $3 AND state = 'failed'
         )
         UPDATE {} SET last_error = $4 WHERE version = $1",
        t.steps, t.migrations
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a migration to `state`, adding `ran` to its accumulated run time.
pub(crate) async fn set_state(
    conn: &mut PgConnection,
    t: &Tables,
    version: u64,
    state: RowState,
    ran: Duration,
) -> Result<(), Error> {
    write_state(conn, t, version, state, ran)
        .await
        .map_err(Error::db(format!(
            "recording migration {version} as {}",
            state.as_str()
        )))
}

/// [`set_state`]'s statement, for callers inside a step's transaction (which report `sqlx` errors).
async fn write_state(
    conn: &mut PgConnection,
    t: &Tables,
    version: u64,
    state: RowState,
    ran: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(&state_sql(t, state, "$2", "$3"))
        .bind(as_i64(version))
        .bind(state.as_str())
        .bind(ran.as_millis() as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves migration `$1` to `state` (bound as `state_param`), adding `ran_param` ms to its run time.
fn state_sql(t: &Tables, state: RowState, state_param: &str, ran_param: &str) -> String {
    let stamp = match state {
        RowState::Expanded => ", expanded_at = now()",
        RowState::Completed => ", expanded_at = coalesce(expanded_at, now()), completed_at = now()",
        RowState::Expanding
        | RowState::Completing
        | RowState::RollingBack
        | RowState::RolledBack => "",
    };
    format!(
        "UPDATE {} SET state = {state_param}, updated_at = now(), duration_ms = duration_ms + {ran_param},
                last_error = NULL{stamp}
         WHERE version = $1",
        t.migrations
    )
}

/// Records the binary's plan of `m` as the applied one (see `Migrator::accept_drift`).
pub(crate) async fn accept(
    conn: &mut PgConnection,
    t: &Tables,
    m: &Migration,
    state: RowState,
) -> Result<(), Error> {
    let context = || Error::db(format!("accepting the new plan of migration {}", m.version));
    let mut tx = conn.begin().await.map_err(context())?;
    sqlx::query(&format!(
        "UPDATE {} SET name = $2, description = $3, checksum = $4, updated_at = now() WHERE version = $1",
        t.migrations
    ))
    .bind(as_i64(m.version))
    .bind(m.name)
    .bind(m.description)
    .bind(m.checksum.to_hex())
    .execute(&mut *tx)
    .await
    .map_err(context())?;
    for phase in PhaseKind::ALL {
        sqlx::query(&format!(
            "DELETE FROM {} WHERE version = $1 AND phase = $2 AND step_index >= $3",
            t.steps
        ))
        .bind(as_i64(m.version))
        .bind(phase.as_str())
        .bind(phase.steps(m).len() as i32)
        .execute(&mut *tx)
        .await
        .map_err(context())?;
    }
    // Steps the new plan adds are done when their phase is, pending otherwise; existing steps keep
    // their state (the upsert leaves it alone).
    let expand_done = state != RowState::Expanding;
    let contract_done = state == RowState::Completed;
    let new_state = move |phase: PhaseKind, _| match phase {
        PhaseKind::Expand if expand_done => "done",
        PhaseKind::Contract if contract_done => "done",
        _ => "pending",
    };
    insert_steps(&mut tx, t, m, &new_state)
        .await
        .map_err(context())?;
    tx.commit().await.map_err(context())?;
    Ok(())
}

/// Where a backfill stopped: its key columns (unquoted), the last key of the last committed batch (as
/// text), and its counters. Stored as JSON in the steps table's `backfill_cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) key: Vec<String>,
    pub(crate) values: Vec<String>,
    pub(crate) rows: u64,
    pub(crate) passed: u64,
    pub(crate) batches: u64,
}

/// Saves a backfill's cursor. Called inside the batch's transaction, so the cursor moves if and only
/// if the batch commits.
pub(crate) async fn save_cursor(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
    c: &Cursor,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET backfill_cursor = jsonb_build_object('key', $4::text[], 'values', $5::text[], 'rows', $6::bigint, 'passed', $7::bigint, 'batches', $8::bigint)
         WHERE version = $1 AND phase = $2 AND step_index = $3",
        t.steps
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .bind(&c.key)
    .bind(&c.values)
    .bind(as_i64(c.rows))
    .bind(as_i64(c.passed))
    .bind(as_i64(c.batches))
    .execute(conn)
    .await?;
    Ok(())
}

/// A `backfill_cursor` as read back: key, values, rows, passed, batches.
type CursorRow = (Vec<String>, Vec<String>, i64, i64, i64);

/// The saved cursor of a backfill step, if any.
pub(crate) async fn load_cursor(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
) -> Result<Option<Cursor>, sqlx::Error> {
    let row: Option<CursorRow> = sqlx::query_as(&format!(
        "SELECT ARRAY(SELECT jsonb_array_elements_text(backfill_cursor->'key')),
                ARRAY(SELECT jsonb_array_elements_text(backfill_cursor->'values')),
                coalesce((backfill_cursor->>'rows')::bigint, 0),
                coalesce((backfill_cursor->>'passed')::bigint, 0),
                coalesce((backfill_cursor->>'batches')::bigint, 0)
         FROM {} WHERE version = $1 AND phase = $2 AND step_index = $3 AND backfill_cursor IS NOT NULL",
        t.steps
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(key, values, rows, passed, batches)| Cursor {
        key,
        values,
        rows: rows.max(0) as u64,
        passed: passed.max(0) as u64,
        batches: batches.max(0) as u64,
    }))
}

/// Forgets a backfill's cursor (a fresh start).
pub(crate) async fn clear_cursor(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET backfill_cursor = NULL WHERE version = $1 AND phase = $2 AND step_index = $3",
        t.steps
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records what a step found and changed, for its rollback. Inside the step's transaction.
pub(crate) async fn set_memo(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
    memo: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET memo = $4 WHERE version = $1 AND phase = $2 AND step_index = $3",
        t.steps
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .bind(memo)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether no step of migration `version` committed anything, as [`History::nothing_committed`]
/// decides it, read from the database (after a step failed in this run).
pub(crate) async fn committed_nothing(
    conn: &mut PgConnection,
    t: &Tables,
    version: u64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT NOT EXISTS (SELECT FROM {} WHERE version = $1
             AND (state NOT IN ('pending', 'failed') OR backfill_cursor IS NOT NULL))",
        t.steps
    ))
    .bind(as_i64(version))
    .fetch_one(conn)
    .await
}

/// The memo a step recorded, if any.
pub(crate) async fn memo(
    conn: &mut PgConnection,
    t: &Tables,
    k: StepKey,
) -> Result<Option<String>, sqlx::Error> {
    let memo: Option<Option<String>> = sqlx::query_scalar(&format!(
        "SELECT memo FROM {} WHERE version = $1 AND phase = $2 AND step_index = $3",
        t.steps
    ))
    .bind(as_i64(k.version))
    .bind(k.phase.as_str())
    .bind(k.index as i32)
    .fetch_optional(conn)
    .await?;
    Ok(memo.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inline_done_statement_has_every_value_written_in() {
        let t = Tables::new("public", "zerodown_migrations");
        let key = StepKey {
            version: 12,
            phase: PhaseKind::Expand,
            index: 3,
        };
        let sql = done_inline(
            &t,
            key,
            Duration::from_millis(250),
            2,
            Some((RowState::Completed, Duration::from_millis(1234))),
        );
        assert!(!sql.contains('$'), "{sql}");
        for part in [
            "duration_ms = (250 + (extract(epoch FROM clock_timestamp() - statement_timestamp())",
            "attempts = attempts + 2",
            "WHERE version = 12 AND phase = 'expand' AND step_index = 3",
            "SET state = 'completed'",
            "duration_ms = duration_ms + (1234 + (extract(epoch",
        ] {
            assert!(sql.contains(part), "{part} not in {sql}");
        }
        let sql = done_inline(&t, key, Duration::from_millis(5), 0, None);
        assert!(!sql.contains('$') && !sql.contains("WITH done"), "{sql}");
    }
}
