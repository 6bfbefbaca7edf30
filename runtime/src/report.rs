//! What `run`/`complete` did ([`RunReport`]) and what they would do ([`Plan`], the dry run).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::plan::{LockLevel, Migration, Postcondition, Step, StepKind, Transaction};
use crate::status::{MigrationId, PhaseKind};
use crate::timeout::{human, human_ms, lock_timeout_for_attempt};

/// How a step was settled in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step's statements ran and succeeded.
    Ran,
    /// The step had been started by an interrupted run and its effect was already there (its
    /// postcondition held, or its transaction had committed late): recorded done without running it
    /// again.
    AlreadyDone,
}

/// One step settled by a run.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// 0-based index in its phase.
    pub index: usize,
    /// The step's description.
    pub description: &'static str,
    /// Attempts made in this run (0 when found [`StepOutcome::AlreadyDone`] before any attempt). A
    /// backfill runs many transactions: its attempts are one plus the transactions it had to retry.
    pub attempts: u32,
    /// Wall time in this run, pauses between attempts included.
    pub duration: Duration,
    /// Ran or found done.
    pub outcome: StepOutcome,
}

/// One migration phase finished by a run.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationReport {
    /// Version and name.
    pub id: MigrationId,
    /// The phase that was applied.
    pub phase: PhaseKind,
    /// Steps settled in this run, in order (steps done by earlier runs are not listed).
    pub steps: Vec<StepReport>,
    /// Wall time of the phase in this run.
    pub duration: Duration,
}

/// The result of [`Migrator::run`](crate::Migrator::run) or
/// [`Migrator::complete`](crate::Migrator::complete).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    /// Phases finished by this run, in order; empty when there was nothing to do.
    pub migrations: Vec<MigrationReport>,
    /// How long the run waited for the migration lock (other runners).
    pub lock_wait: Duration,
}

impl RunReport {
    /// Whether the run changed nothing.
    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty()
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.migrations.is_empty() {
            return writeln!(f, "nothing to do");
        }
        for m in &self.migrations {
            writeln!(
                f,
                "{} {}: {} step(s) in {:.3} s",
                m.id,
                m.phase,
                m.steps.len(),
                m.duration.as_secs_f64()
            )?;
            for s in &m.steps {
                let how = match s.outcome {
                    StepOutcome::Ran => format!("{} attempt(s)", s.attempts),
                    StepOutcome::AlreadyDone => "found done".to_owned(),
                };
                writeln!(
                    f,
                    "  {}. {} ({how}, {:.3} s)",
                    s.index + 1,
                    s.description,
                    s.duration.as_secs_f64()
                )?;
            }
        }
        Ok(())
    }
}

/// A step `run` (or `complete`) would execute.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    /// The migration.
    pub id: MigrationId,
    /// The phase.
    pub phase: PhaseKind,
    /// 0-based index in the phase.
    pub index: usize,
    /// Steps in the phase.
    pub total: usize,
    /// The step as generated.
    pub step: &'static Step,
    /// Whether an interrupted run started this step: it is checked (postcondition) before it runs
    /// again.
    pub resumes: bool,
}

impl PlannedStep {
    /// `lock_timeout` of the first attempt (see the escalating schedule in the `timeout` module).
    pub fn first_lock_timeout(&self) -> Duration {
        lock_timeout_for_attempt(Duration::from_millis(self.step.lock_timeout_ms), 1)
    }
}

/// The dry run: the exact steps, SQL, lock levels and timeouts `run` would execute, in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Steps in execution order.
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Every step of `phase` of `migrations`, without a database: what `run` (`PhaseKind::Expand`)
    /// or `complete` (`PhaseKind::Contract`) executes on a database where none of them ran. The SQL
    /// of expand/contract steps derived from the catalog at run time is described, not shown.
    pub fn offline(migrations: &[&Migration], phase: PhaseKind) -> Plan {
        let steps = migrations
            .iter()
            .flat_map(|&m| {
                let steps = phase.steps(m);
                steps
                    .iter()
                    .enumerate()
                    .map(move |(index, step)| PlannedStep {
                        id: MigrationId::of(m),
                        phase,
                        index,
                        total: steps.len(),
                        step,
                        resumes: false,
                    })
            })
            .collect();
        Plan { steps }
    }
}

/// The migration as reviewable SQL: every step of its expand phase (what `run` executes) and, for an
/// expand/contract migration, of its contract phase (what `complete` executes), with locks, timeouts
/// and transaction boundaries; no database needed.
impl fmt::Display for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "-- {}", MigrationId::of(self))?;
        if !self.description.is_empty() {
            for line in self.description.lines() {
                writeln!(f, "-- {line}")?;
            }
        }
        writeln!(f, "-- `run` executes:")?;
        write!(f, "{}", Plan::offline(&[self], PhaseKind::Expand))?;
        if self.has_contract() {
            writeln!(
                f,
                "\n-- `complete` executes, once no instance of the old application version runs:"
            )?;
            write!(f, "{}", Plan::offline(&[self], PhaseKind::Contract))?;
        }
        Ok(())
    }
}

fn quote_name(schema: &str, name: &str) -> String {
    if schema.is_empty() {
        format!("\"{name}\"")
    } else {
        format!("\"{schema}\".\"{name}\"")
    }
}

impl fmt::Display for PlannedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.step;
        writeln!(
            f,
            "-- {}, {} step {} of {}: {}",
            self.id,
            self.phase,
            self.index + 1,
            self.total,
            s.description
        )?;
        let tx = match (s.kind, s.transaction) {
            (StepKind::Backfill(_), _) => {
                "in batches, each one transaction with its cursor update, timeouts per batch"
            }
            (_, Transaction::Transactional) => "in one transaction with its history update",
            (_, Transaction::Alone) => "alone, outside any transaction",
        };
        let lock = if s.lock == LockLevel::None || s.tables.is_empty() {
            format!("lock {}", s.lock)
        } else {
            format!("lock {} on {}", s.lock, s.tables.join(", "))
        };
        writeln!(
            f,
            "--   runs {tx}; {lock}{}; lock_timeout {} (first attempt {}); statement_timeout {}",
            if s.rewrites {
                "; REWRITES the table"
            } else {
                ""
            },
            human_ms(s.lock_timeout_ms),
            human(self.first_lock_timeout()),
            human_ms(s.statement_timeout_ms),
        )?;
        if self.resumes {
            writeln!(
                f,
                "--   started by an interrupted run: its postcondition is checked first"
            )?;
        }
        if let StepKind::ConcurrentIndex { schema, index, .. } = s.kind {
            writeln!(
                f,
                "--   before: drops a leftover INVALID index {} concurrently",
                quote_name(schema, index)
            )?;
        }
        match s.postcondition {
            Postcondition::None => {}
            Postcondition::IndexValid { schema, index } => writeln!(
                f,
                "--   after: checks that index {} exists and is valid",
                quote_name(schema, index)
            )?,
            Postcondition::IndexAbsent { schema, index } => writeln!(
                f,
                "--   after: checks that {} no longer exists",
                quote_name(schema, index)
            )?,
            Postcondition::ConstraintValidated { table, constraint } => writeln!(
                f,
                "--   after: checks that constraint \"{constraint}\" on {table} is validated"
            )?,
            Postcondition::BackfillComplete => {
                writeln!(f, "--   after: checks that no row needs the backfill")?
            }
            Postcondition::Detached { parent, partition } => {
                writeln!(
                    f,
                    "--   before: finishes a detach an earlier run left pending (`ALTER TABLE {parent} DETACH PARTITION {partition} FINALIZE`)"
                )?;
                writeln!(
                    f,
                    "--   after: checks that {partition} is no longer a partition of {parent}"
                )?
            }
        }
        if let StepKind::Backfill(b) = s.kind {
            let key = if b.key.is_empty() {
                "the primary key (or a unique not-null key)".to_owned()
            } else {
                format!("({})", b.key.join(", "))
            };
            let pause = if b.pace.pause_set { b.pause_ms } else { 0 };
            if b.pace.adaptive() {
                writeln!(
                    f,
                    "--   keyset batches by {key} sized to take about {} (from {} rows), {} apart, throttled on replica lag over {}, then a count of the rows still pending:",
                    human(b.pace.target_batch()),
                    b.batch_size,
                    human_ms(pause),
                    human(b.pace.max_replica_lag())
                )?;
            } else {
                writeln!(
                    f,
                    "--   keyset batches of {} rows by {key}, {} apart, then a count of the rows still pending:",
                    b.batch_size,
                    human_ms(pause)
                )?;
            }
            writeln!(
                f,
                "{};",
                crate::backfill::sql::BatchSql::describe(b.table, b.set_sql, b.pending_sql)
            )?;
        }
        if let StepKind::Phased(p) = s.kind {
            let how = if p.preview.is_empty() {
                "the runtime reads the catalog and derives {}SQL"
            } else if p.action == crate::plan::Action::Verify {
                "what the runtime runs depends on what it reads:"
            } else {
                "the runtime derives {}SQL from the live catalog and runs it only if it is this, as the schema catalog predicts it:"
            };
            writeln!(
                f,
                "--   expand/contract step `{}` on {}: {}",
                p.action.as_str(),
                p.change.table(),
                how.replace(
                    "{}",
                    if s.statements.is_empty() {
                        "its "
                    } else {
                        "more "
                    }
                )
            )?;
        }
        // A prepare step derives a rename's new column before its statements and copies the
        // comment (a comment line) after them; the others derive their SQL after them.
        let (before, after): (Vec<&str>, Vec<&str>) = match s.kind {
            StepKind::Phased(p) if p.action == crate::plan::Action::Prepare => {
                p.preview.iter().partition(|sql| !sql.starts_with("--"))
            }
            StepKind::Phased(p) => (Vec::new(), p.preview.to_vec()),
            _ => (Vec::new(), Vec::new()),
        };
        for sql in before.iter().chain(s.statements).chain(&after) {
            // A preview may hold a comment (what only the run can tell).
            let end = if sql.starts_with("--") { "" } else { ";" };
            writeln!(f, "{sql}{end}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return writeln!(f, "-- nothing to do");
        }
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// The callback of [`Migrator::on_applied`](crate::Migrator::on_applied).
#[derive(Clone)]
pub(crate) struct AppliedSink(pub(crate) Arc<dyn Fn(&MigrationReport) + Send + Sync + 'static>);

impl fmt::Debug for AppliedSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppliedSink(..)")
    }
}
