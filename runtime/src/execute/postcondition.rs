//! Catalog checks run after a step (and, on resume, before re-running a step an interrupted run
//! started).

use sqlx::PgConnection;

use super::index::{self, IndexState};
use crate::plan::Postcondition;

/// Whether `pc` holds now. [`Postcondition::BackfillComplete`] is never asked here: backfill steps run
/// in the `backfill` module, which verifies it with the step's own predicate.
pub(crate) async fn holds(conn: &mut PgConnection, pc: Postcondition) -> Result<bool, sqlx::Error> {
    Ok(match pc {
        Postcondition::None => true,
        Postcondition::IndexValid { schema, index } => {
            index::state(conn, schema, index).await? == IndexState::Valid
        }
        Postcondition::IndexAbsent { schema, index } => {
            sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NULL")
                .bind(index::qualified(schema, index))
                .fetch_one(conn)
                .await?
        }
        Postcondition::ConstraintValidated { table, constraint } => {
            sqlx::query_scalar::<_, bool>(
                "SELECT coalesce(bool_and(convalidated), false) FROM pg_constraint
                 WHERE conrelid = to_regclass($1) AND conname = $2",
            )
            .bind(table)
            .bind(constraint)
            .fetch_one(conn)
            .await?
        }
        Postcondition::BackfillComplete => false,
        Postcondition::Detached { parent, partition } => {
            super::detach::state(conn, parent, partition).await? == super::detach::State::Detached
        }
    })
}

/// What `pc` expects, for error messages.
pub(crate) fn describe(pc: Postcondition) -> String {
    match pc {
        Postcondition::None => "nothing".to_owned(),
        Postcondition::IndexValid { schema, index } => {
            format!(
                "index {} should exist and be valid (`pg_index.indisvalid`)",
                index::qualified(schema, index)
            )
        }
        Postcondition::IndexAbsent { schema, index } => {
            format!("{} should no longer exist", index::qualified(schema, index))
        }
        Postcondition::ConstraintValidated { table, constraint } => {
            format!("constraint \"{constraint}\" on {table} should exist and be validated")
        }
        Postcondition::BackfillComplete => "no row should need the backfill".to_owned(),
        Postcondition::Detached { parent, partition } => {
            format!("{partition} should no longer be a partition of {parent}")
        }
    }
}
