//! The names the macro chose for constraints a migration creates, looked up before it starts.
//!
//! The helper checks of the CHECK route to `SET NOT NULL` get names that PostgreSQL never gives its
//! own constraints (`_zd_<column>_nn`), but a user may have created one of that name. Adding the
//! helper would then fail half-way through the migration, after earlier steps committed; looking
//! first turns that into a refusal before any step of the migration runs.

use sqlx::PgConnection;

use crate::error::{StepError, StepErrorKind};
use crate::history::{self, StepState};
use crate::plan::{ChosenName, Migration};
use crate::status::{MigrationId, PhaseKind};

/// The first name of `m` that a pending expand step (of `steps`) would create and that is already
/// taken on its table, with the definition of the constraint holding it.
pub(crate) async fn first_taken(
    control: &mut PgConnection,
    m: &'static Migration,
    steps: &[(usize, StepState)],
) -> Result<Option<(&'static ChosenName, String)>, sqlx::Error> {
    let pending: Vec<&'static ChosenName> = m
        .chosen_names
        .iter()
        .filter(|c| steps.iter().any(|&(index, _)| index == c.step))
        .collect();
    if pending.is_empty() {
        return Ok(None);
    }
    let tables: Vec<&str> = pending.iter().map(|c| c.table).collect();
    let names: Vec<&str> = pending.iter().map(|c| c.name).collect();
    // `to_regclass` is NULL for a table that does not exist yet: nothing can be taken on it.
    let taken: Vec<(i32, String)> = sqlx::query_as(
        "SELECT n.ord::int, pg_get_constraintdef(c.oid)
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS n(tbl, name, ord)
           JOIN pg_constraint c ON c.conrelid = to_regclass(n.tbl) AND c.conname = n.name
          ORDER BY n.ord",
    )
    .bind(&tables)
    .bind(&names)
    .fetch_all(&mut *control)
    .await?;
    Ok(taken
        .into_iter()
        .next()
        .map(|(ord, definition)| (pending[ord as usize - 1], definition)))
}

/// The refusal of the step that would create `chosen`, whose name `definition` holds.
pub(crate) fn refusal(m: &'static Migration, chosen: &ChosenName, definition: &str) -> StepError {
    let step = &m.expand.steps[chosen.step];
    StepError {
        migration: MigrationId::of(m),
        phase: PhaseKind::Expand,
        index: chosen.step,
        total: m.expand.steps.len(),
        description: step.description.to_owned(),
        sql: history::step_sql(step),
        attempts: 0,
        kind: StepErrorKind::Refused,
        sqlstate: None,
        message: format!(
            "this step creates the helper constraint \"{name}\" on {table}, but {table} already has a constraint of that name (`{definition}`), which zerodown did not create; this run ran nothing of the migration; rename that constraint (`ALTER TABLE {table} RENAME CONSTRAINT \"{name}\" TO <another name>`), or drop it if it is a leftover",
            name = chosen.name,
            table = chosen.table,
        ),
        detail: None,
        timeouts_ms: (step.lock_timeout_ms, step.statement_timeout_ms),
        blockers: Vec::new(),
        notes: Vec::new(),
        source: None,
    }
}
