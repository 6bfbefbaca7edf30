//! Batched backfills: a data change applied in keyset batches, each its own short transaction.
//!
//! A [`Backfill`](crate::plan::Backfill) step names a table, the assignments (`set_sql`), the rows that
//! still need them (`pending_sql`), a batch size and a pause. The runtime:
//!
//! 1. **finds the key** in the catalog (`key`): the `by (..)` columns, else the primary key, else a
//!    unique index whose columns are all `NOT NULL`; without one the step fails naming the fix;
//! 2. **walks the key in batches** (`sql`): in one transaction with `SET LOCAL lock_timeout` and
//!    `statement_timeout` from the step, it finds the batch's upper bound (the `batch_size`-th key after
//!    the cursor, or the last key; on a dense integer key `cursor + batch_size`, see `bounds`), updates the pending rows in `(cursor, upper]`, and saves `upper` as
//!    the cursor in the history, so the cursor moves exactly when the batch commits: a killed run
//!    resumes after the last committed batch and never applies one twice. Lock timeouts, deadlocks and
//!    serialization failures retry the batch with the migration's retry policy. Batch sizes adapt
//!    to a target duration and the backfill throttles on replica lag, lock waits, vacuum and the
//!    application's health callback (`pace`); a pause follows only when the migration wrote one;
//! 3. **verifies**: `count(*)` of the rows matching the pending predicate must be 0. Rows the
//!    application wrote behind the cursor without the new value make it positive; they are swept in
//!    further keyset passes restricted to pending rows, at most 5 times,
//!    after which the step fails (something keeps writing such rows). Only then is the step recorded
//!    done.
//!
//! Progress (rows updated, batches, rows passed against an estimated total, rate, ETA, working or
//! throttled and why) is logged through
//! `tracing` every few seconds and given to the callback of
//! [`Migrator::on_progress`](crate::Migrator::on_progress) after every batch.

mod bounds;
pub(crate) mod key;
pub(crate) mod pace;
mod progress;
pub(crate) mod run;
pub(crate) mod sql;

pub use pace::Health;
pub(crate) use progress::ProgressSink;
pub use progress::{BackfillProgress, BackfillStage, BackfillState, ThrottleReason};
