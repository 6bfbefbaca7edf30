//! Implementation detail of the [`zerodown`](https://docs.rs/zerodown) crate: the plan model that
//! `migration!` generates and, with the `executor` feature, the sqlx/tokio executor that runs it.
//!
//! Depend on `zerodown` instead; this crate's API follows it and is re-exported there.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod plan;

#[cfg(feature = "executor")]
pub mod adopt;

#[cfg(feature = "executor")]
mod advisory;
#[cfg(feature = "executor")]
pub mod backfill;
#[cfg(feature = "executor")]
pub mod blockers;
#[cfg(feature = "executor")]
mod connect;
#[cfg(feature = "executor")]
mod error;
#[cfg(feature = "executor")]
mod execute;
#[cfg(feature = "executor")]
mod history;
#[cfg(feature = "executor")]
mod index_progress;
#[cfg(feature = "executor")]
mod live_schema;
#[cfg(feature = "executor")]
pub mod localdb;
#[cfg(feature = "executor")]
mod lookahead;
#[cfg(feature = "executor")]
mod migrator;
#[cfg(feature = "executor")]
pub mod report;
#[cfg(feature = "executor")]
pub mod retry;
#[cfg(feature = "executor")]
mod session;
#[cfg(feature = "executor")]
pub mod status;
#[cfg(feature = "executor")]
pub mod step_events;
#[cfg(feature = "executor")]
mod stop;
#[cfg(feature = "executor")]
pub mod timeout;
#[cfg(feature = "executor")]
mod triggers;
#[cfg(feature = "executor")]
mod undo;

#[cfg(feature = "executor")]
pub use advisory::lock_key;
#[cfg(feature = "executor")]
pub use backfill::{BackfillProgress, BackfillStage, BackfillState, Health, ThrottleReason};
#[cfg(feature = "executor")]
pub use blockers::Blocker;
#[cfg(feature = "executor")]
pub use connect::ConnectTarget;
#[cfg(feature = "executor")]
pub use error::{Drift, Error, Interrupted, StepChange, StepError, StepErrorKind};
#[cfg(feature = "executor")]
pub use index_progress::{IndexBuildPhase, IndexBuildProgress, WorkUnit};
#[cfg(feature = "executor")]
pub use live_schema::SchemaDifference;
#[cfg(feature = "executor")]
pub use lookahead::LockStrategy;
#[cfg(feature = "executor")]
pub use migrator::Migrator;
#[cfg(feature = "executor")]
pub use report::{MigrationReport, Plan, PlannedStep, RunReport, StepOutcome, StepReport};
#[cfg(feature = "executor")]
pub use status::{
    MigrationId, MigrationState, MigrationStatus, PhaseKind, Status, UnknownMigration,
};
#[cfg(feature = "executor")]
pub use step_events::{StepEvent, StepProgress};
#[cfg(feature = "executor")]
pub use stop::StopSignal;

#[doc(hidden)]
pub mod private;
