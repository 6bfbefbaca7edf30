//! The `migrate` command line; the same text as `docs/cli.md` in the repository. Entry points:
//! [`main`], [`main_with`], [`MigrateCommand`]; exit codes: [`Exit`].
//!
#![doc = include_str!("../../docs/cli.md")]

mod command;
mod exit;
mod json;
mod progress;
mod target;

use std::process::ExitCode;

use clap::Parser;

pub use command::{
    AcceptDriftArgs, BaselineArgs, CompleteArgs, ConnectArgs, MigrateCommand, PlanArgs,
    RollbackArgs, RunArgs, SchemaArgs, ShowArgs, StatusArgs,
};
pub use exit::Exit;

use crate::{Migration, Migrator};

/// The command line of a binary whose only job is migrating: `BINARY run|complete|status|plan|rollback|baseline`.
#[derive(Debug, Parser)]
#[command(about = "Apply and inspect the database migrations built into this binary")]
struct Standalone {
    #[command(subcommand)]
    command: MigrateCommand,
}

/// Parses the process's arguments as a `migrate` command line and runs it on `migrations`, on a
/// Tokio runtime of its own. Call it from a binary's `main`; see the [module docs](self).
///
/// Usage errors and `--help` exit the process the way clap does (code 2 and 0).
pub fn main(migrations: &[&'static Migration]) -> ExitCode {
    let command = Standalone::parse().command;
    block_on(command.execute(migrations))
}

/// [`main`] with a [`Migrator`] you configured (history table, lock wait, application name, ...).
pub fn main_with(migrator: Migrator) -> ExitCode {
    let command = Standalone::parse().command;
    block_on(command.execute_with(migrator))
}

fn block_on(future: impl std::future::Future<Output = Exit>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future).into(),
        Err(e) => {
            eprintln!("error: cannot start the Tokio runtime: {e}");
            Exit::Failed.into()
        }
    }
}
