use super::phased::{Action, Change};
use super::{LockLevel, PlanHasher};

/// One unit of execution, retry and resume.
///
/// A step runs either as one transaction (all its statements, plus the history update) or, for
/// statements PostgreSQL refuses inside a transaction block, alone: then it has exactly one statement and
/// its effect is confirmed by its [`Postcondition`] before it is recorded as done.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// What the step does, for people (`build index "users_email_idx" concurrently`).
    pub description: &'static str,
    /// The SQL, one statement per element, identifiers quoted and literals escaped.
    pub statements: &'static [&'static str],
    /// Whether the statements run in one transaction or alone outside any.
    pub transaction: Transaction,
    /// The strongest table lock the step is expected to take on an existing table.
    pub lock: LockLevel,
    /// The existing tables (quoted, schema-qualified when written so) the step locks.
    pub tables: &'static [&'static str],
    /// Whether the step is expected to rewrite a table (change its `pg_class.relfilenode`).
    pub rewrites: bool,
    /// `lock_timeout` set on the step's connection before every attempt, in milliseconds.
    pub lock_timeout_ms: u64,
    /// `statement_timeout` set on the step's connection before every attempt, in milliseconds.
    pub statement_timeout_ms: u64,
    /// How the runtime executes the step beyond sending its SQL.
    pub kind: StepKind,
    /// What must hold in the catalog after the step for it to count as done.
    pub postcondition: Postcondition,
}

/// Transaction mode of a [`Step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transaction {
    /// All statements and the history update commit together.
    Transactional,
    /// One statement that PostgreSQL refuses inside a transaction block (`create index concurrently`,
    /// `alter type ... add value` before 12 ...). Sent alone, on its own.
    Alone,
}

/// The runtime behaviour a [`Step`] needs beyond running its SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// Run the statements.
    Sql,
    /// A `create [unique] index concurrently`: before it, a leftover INVALID index of the same name is
    /// dropped concurrently; a unique build failing on duplicates is reported with the duplicate keys.
    ConcurrentIndex {
        /// Schema of the index, empty for the search path.
        schema: &'static str,
        /// Index name, unquoted.
        index: &'static str,
        /// The indexed table, rendered (quoted).
        table: &'static str,
        /// The key list as written in the index, rendered (`"email", lower("name")`).
        key_sql: &'static str,
        /// Whether the index is unique.
        unique: bool,
    },
    /// A batched update of existing rows; `statements` is empty and the runtime generates the batches.
    Backfill(Backfill),
    /// A step of an expand/contract operation whose SQL the runtime derives from the catalog (after
    /// running `statements`, if any, in the same transaction for a transactional step).
    Phased(PhasedStep),
}

/// What a [`StepKind::Phased`] step is about and does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhasedStep {
    /// The operation.
    pub change: Change,
    /// What the runtime does.
    pub action: Action,
    /// The SQL of the step, as the schema catalog of a `migrations!` set predicts it (built by
    /// [`plan::carry`](super::carry), as the runtime builds it from the live catalog), for people
    /// reading the plan; comment lines stand for what only the live database can tell (see the
    /// placeholders of [`plan::carry`](super::carry)); empty without a catalog. The runtime runs
    /// only what is shown here: before the migration starts it checks that the tables it changes
    /// are as the catalog describes them (`Error::SchemaMismatch`), and before each such step that
    /// the statements it derives from the live catalog are these, or the step stops before it
    /// runs. Not part of the checksum.
    pub preview: &'static [&'static str],
}

/// A batched backfill, executed in keyset order over a unique not-null key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backfill {
    /// The table, rendered (quoted, qualified when written so).
    pub table: &'static str,
    /// The key columns, rendered; empty means the primary key (else a unique index on `NOT NULL`
    /// columns), looked up at run time.
    pub key: &'static [&'static str],
    /// The assignments, rendered (`"c" = now()`).
    pub set_sql: &'static str,
    /// Rows that still need the update, rendered (`"c" IS NULL`); empty means all rows.
    pub pending_sql: &'static str,
    /// Rows per batch: the first batch's size when [`pace`](Self::pace) adapts it, else every batch's.
    pub batch_size: u64,
    /// Pause between batches, in milliseconds; honoured only when [`Pace::pause_set`].
    pub pause_ms: u64,
    /// The columns the assignments set, rendered. The runtime checks them against foreign keys
    /// before it writes with `session_replication_role = replica` (which skips their checks).
    pub columns: &'static [&'static str],
    /// Whether the batches may fire the table's own (user) triggers: only when the migration says
    /// so (`unsafe(.., allow = [fires_user_triggers])`). Otherwise the runtime writes with
    /// `session_replication_role = replica`, or refuses, naming the triggers, when it may not.
    pub fire_user_triggers: bool,
    /// How the batches size and pace themselves.
    pub pace: Pace,
}

/// How a [`Backfill`] sizes and paces its batches, and when it throttles itself.
///
/// Pacing changes how fast rows are written, never which rows or what values: only the fields a
/// migration writes explicitly and that plans before them did not have (non-zero
/// `target_batch_ms`, `max_replica_lag_ms`) go into the checksum, so existing plans keep theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pace {
    /// The duration each batch aims at, in milliseconds (`set backfill_target_batch`); 0 for the
    /// runtime's default ([`Pace::DEFAULT_TARGET_BATCH_MS`]).
    pub target_batch_ms: u64,
    /// Replica replay lag above which the backfill pauses, in milliseconds
    /// (`set backfill_max_replica_lag`); 0 for the runtime's default
    /// ([`Pace::DEFAULT_MAX_REPLICA_LAG_MS`]).
    pub max_replica_lag_ms: u64,
    /// Whether the migration wrote `set backfill_batch_size`: then, unless it also wrote
    /// `set backfill_target_batch`, every batch has exactly that size (the behaviour before
    /// adaptive batches).
    pub batch_size_set: bool,
    /// Whether the migration wrote `set backfill_pause`: then the pause follows every batch;
    /// otherwise batches follow each other without a pause while the database is healthy.
    pub pause_set: bool,
    /// The share of the time, in percent, an adaptive backfill works while other sessions use the
    /// server (`set backfill_busy_percent`); 0 for the migrator's setting
    /// ([`Migrator::backfill_busy_percent`](crate::Migrator::backfill_busy_percent)), by default
    /// [`Pace::DEFAULT_BUSY_PERCENT`].
    pub busy_percent: u8,
}

impl Pace {
    /// The default target duration of a batch: long enough that a batch's fixed costs (round
    /// trips, the cursor update, the commit) are a few percent of it, short enough that the row
    /// locks it holds delay a concurrent writer of the same rows by little more than that.
    pub const DEFAULT_TARGET_BATCH_MS: u64 = 150;
    /// The default target duration of a batch while other sessions use the server: a writer of
    /// a row the batch has updated waits for the batch to commit, so the batch's duration bounds
    /// the application's longest wait (measured: 150 ms batches made it wait up to 140 ms, 50 ms
    /// batches up to 50 ms, at the same share of the time and p99).
    pub const BUSY_TARGET_BATCH_MS: u64 = 50;
    /// The default replica replay lag above which the backfill pauses.
    pub const DEFAULT_MAX_REPLICA_LAG_MS: u64 = 10_000;
    /// The smallest batch an adaptive backfill shrinks to (or the plan's `batch_size`, if smaller).
    pub const MIN_BATCH: u64 = 100;
    /// The largest batch an adaptive backfill grows to (or the plan's `batch_size`, if larger).
    pub const MAX_BATCH: u64 = 100_000;
    /// The default share of the time, in percent, an adaptive backfill works while other sessions
    /// use the server: after each batch it rests about 32 times as long as the batch took.
    /// Measured with the `under_load` example (`docs/under_load.md`): at 2000 requests/s on 2
    /// cores, a backfill at full speed made the application's p99 2 to 20 times its baseline's;
    /// resting 3 times a batch (25%) still 1.5 to 1.8 times on a table with a trigger, 12% 1.3 to
    /// 1.6 times, 8% 1.2 to 1.7 times (1.5 or more in a third of this session's windows), 5% no
    /// better in one run, 3% 1.17 and 1.19 times (and 2% 1.13 and 1.19 times on a 200 000-row
    /// table, where 8% gave 1.7 and 2.0). 3% makes a busy database's backfills slower (7 000 and
    /// 3 400 rows/s there, against 18 000 and 9 000 at 8%); raise it where cores are to spare.
    pub const DEFAULT_BUSY_PERCENT: u8 = 3;

    /// Pacing before adaptive batches: fixed batch size and pause, as written.
    pub const FIXED: Pace = Pace {
        target_batch_ms: 0,
        max_replica_lag_ms: 0,
        batch_size_set: true,
        pause_set: true,
        busy_percent: 0,
    };
    /// Nothing written: adaptive batches of the default target, no pause.
    pub const DEFAULT: Pace = Pace {
        target_batch_ms: 0,
        max_replica_lag_ms: 0,
        batch_size_set: false,
        pause_set: false,
        busy_percent: 0,
    };

    /// Whether batch sizes adapt to the target duration.
    pub fn adaptive(&self) -> bool {
        self.target_batch_ms != 0 || !self.batch_size_set
    }

    /// The target duration of a batch while other sessions use the server: the written target,
    /// else [`Pace::BUSY_TARGET_BATCH_MS`].
    pub fn busy_target_batch(&self) -> core::time::Duration {
        core::time::Duration::from_millis(if self.target_batch_ms == 0 {
            Pace::BUSY_TARGET_BATCH_MS
        } else {
            self.target_batch_ms
        })
    }

    /// The target duration of a batch on a server nobody else uses.
    pub fn target_batch(&self) -> core::time::Duration {
        core::time::Duration::from_millis(if self.target_batch_ms == 0 {
            Pace::DEFAULT_TARGET_BATCH_MS
        } else {
            self.target_batch_ms
        })
    }

    /// The replica replay lag above which the backfill pauses.
    pub fn max_replica_lag(&self) -> core::time::Duration {
        core::time::Duration::from_millis(if self.max_replica_lag_ms == 0 {
            Pace::DEFAULT_MAX_REPLICA_LAG_MS
        } else {
            self.max_replica_lag_ms
        })
    }

    /// The share of the time, in percent, the backfill works while other sessions use the server:
    /// the migration's `backfill_busy_percent`, else `migrator`'s setting for adaptive batches;
    /// 100 (no rest) for fixed batches whose migration did not write it, which keep the pace
    /// written.
    pub fn busy_percent(&self, migrator: u8) -> u8 {
        match self.busy_percent {
            0 if self.adaptive() => migrator,
            0 => 100,
            written => written,
        }
    }

    /// Hashes what plans before pacing did not have, only when set (see the type's docs).
    pub(crate) fn hash_into(&self, h: &mut PlanHasher) {
        if self.target_batch_ms != 0 {
            h.str("target-batch");
            h.u64(self.target_batch_ms);
        }
        if self.max_replica_lag_ms != 0 {
            h.str("max-replica-lag");
            h.u64(self.max_replica_lag_ms);
        }
        if self.busy_percent != 0 {
            h.str("busy-percent");
            h.u64(u64::from(self.busy_percent));
        }
    }
}

/// A catalog condition checked after a step (and, on resume, before re-running a step whose outcome
/// was not recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Postcondition {
    /// Nothing beyond the statements succeeding.
    None,
    /// The index exists and `pg_index.indisvalid` is true.
    IndexValid {
        /// Schema, empty for the search path.
        schema: &'static str,
        /// Index name, unquoted.
        index: &'static str,
    },
    /// No relation of this name exists.
    IndexAbsent {
        /// Schema, empty for the search path.
        schema: &'static str,
        /// Index name, unquoted.
        index: &'static str,
    },
    /// The constraint exists on the table and `pg_constraint.convalidated` is true.
    ConstraintValidated {
        /// The table, rendered.
        table: &'static str,
        /// Constraint name, unquoted.
        constraint: &'static str,
    },
    /// No row of the backfill's table matches its pending predicate.
    BackfillComplete,
    /// `partition` is no longer a partition of `parent`, not even one whose detach is pending. A
    /// `detach partition .. concurrently` interrupted between its two transactions leaves it pending:
    /// the runtime then finishes it with `.. FINALIZE` instead of running the step's statement again.
    Detached {
        /// The partitioned table, rendered.
        parent: &'static str,
        /// The partition, rendered.
        partition: &'static str,
    },
}

impl Step {
    /// Feeds every field that affects execution into the checksum, in a fixed order.
    pub(crate) fn hash_into(&self, h: &mut PlanHasher) {
        h.str("step");
        h.str(self.description);
        h.strs(self.statements);
        h.str(match self.transaction {
            Transaction::Transactional => "transactional",
            Transaction::Alone => "alone",
        });
        h.str(self.lock.stable_name());
        h.strs(self.tables);
        h.bool(self.rewrites);
        h.u64(self.lock_timeout_ms);
        h.u64(self.statement_timeout_ms);
        match self.kind {
            StepKind::Sql => h.str("sql"),
            StepKind::ConcurrentIndex {
                schema,
                index,
                table,
                key_sql,
                unique,
            } => {
                h.str("concurrent-index");
                h.strs(&[schema, index, table, key_sql]);
                h.bool(unique);
            }
            StepKind::Backfill(b) => {
                h.str("backfill");
                h.str(b.table);
                h.strs(b.key);
                h.str(b.set_sql);
                h.str(b.pending_sql);
                h.u64(b.batch_size);
                h.u64(b.pause_ms);
                // Hashed only when set, so plans written before it keep their checksums.
                if b.fire_user_triggers {
                    h.str("fires-user-triggers");
                }
                b.pace.hash_into(h);
            }
            StepKind::Phased(p) => {
                h.str("phased");
                h.str(p.action.as_str());
                p.change.hash_into(h);
            }
        }
        match self.postcondition {
            Postcondition::None => h.str("none"),
            Postcondition::IndexValid { schema, index } => h.strs(&["index-valid", schema, index]),
            Postcondition::IndexAbsent { schema, index } => {
                h.strs(&["index-absent", schema, index])
            }
            Postcondition::ConstraintValidated { table, constraint } => {
                h.strs(&["constraint-validated", table, constraint])
            }
            Postcondition::BackfillComplete => h.str("backfill-complete"),
            Postcondition::Detached { parent, partition } => {
                h.strs(&["detached", parent, partition])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(pace: Pace) -> Step {
        Step {
            description: "backfill t",
            statements: &[],
            transaction: Transaction::Transactional,
            lock: LockLevel::RowExclusive,
            tables: &["t"],
            rewrites: false,
            lock_timeout_ms: 1_000,
            statement_timeout_ms: 30_000,
            kind: StepKind::Backfill(Backfill {
                table: "t",
                key: &[],
                set_sql: "\"c\" = 1",
                pending_sql: "\"c\" IS DISTINCT FROM 1",
                batch_size: 1_000,
                pause_ms: 10,
                columns: &["\"c\""],
                fire_user_triggers: false,
                pace,
            }),
            postcondition: Postcondition::BackfillComplete,
        }
    }

    fn digest(s: &Step) -> super::super::Checksum {
        let mut h = PlanHasher::new();
        s.hash_into(&mut h);
        h.finish()
    }

    /// What `hash_into` fed for a backfill step before pacing existed.
    fn digest_before_pacing(s: &Step) -> super::super::Checksum {
        let StepKind::Backfill(b) = s.kind else {
            unreachable!()
        };
        let mut h = PlanHasher::new();
        h.str("step");
        h.str(s.description);
        h.strs(s.statements);
        h.str("transactional");
        h.str(s.lock.stable_name());
        h.strs(s.tables);
        h.bool(s.rewrites);
        h.u64(s.lock_timeout_ms);
        h.u64(s.statement_timeout_ms);
        h.str("backfill");
        h.str(b.table);
        h.strs(b.key);
        h.str(b.set_sql);
        h.str(b.pending_sql);
        h.u64(b.batch_size);
        h.u64(b.pause_ms);
        h.str("backfill-complete");
        h.finish()
    }

    #[test]
    fn the_busy_share_is_the_migration_s_else_the_migrator_s_unless_batches_are_fixed() {
        assert_eq!(Pace::DEFAULT.busy_percent(8), 8, "the migrator's");
        let written = Pace {
            busy_percent: 30,
            ..Pace::FIXED
        };
        assert_eq!(
            written.busy_percent(8),
            30,
            "written wins, fixed batches too"
        );
        assert_eq!(
            Pace::FIXED.busy_percent(8),
            100,
            "fixed batches keep their pace"
        );
        let targeted = Pace {
            target_batch_ms: 200,
            ..Pace::FIXED
        };
        assert_eq!(
            targeted.busy_percent(8),
            8,
            "a written target makes them adaptive"
        );
        assert_eq!(Pace::DEFAULT.busy_target_batch().as_millis(), 50);
        assert_eq!(
            targeted.busy_target_batch().as_millis(),
            200,
            "a written target wins"
        );
    }

    #[test]
    fn plans_without_pacing_settings_keep_their_checksums() {
        for pace in [
            Pace::DEFAULT,
            Pace::FIXED,
            Pace {
                pause_set: true,
                ..Pace::DEFAULT
            },
        ] {
            let s = step(pace);
            assert_eq!(digest(&s), digest_before_pacing(&s), "{pace:?}");
        }
        let target = step(Pace {
            target_batch_ms: 200,
            ..Pace::DEFAULT
        });
        let lag = step(Pace {
            max_replica_lag_ms: 5_000,
            ..Pace::DEFAULT
        });
        let busy = step(Pace {
            busy_percent: 50,
            ..Pace::DEFAULT
        });
        assert_ne!(digest(&target), digest_before_pacing(&target));
        assert_ne!(digest(&lag), digest(&target));
        assert_ne!(digest(&busy), digest_before_pacing(&busy));
        assert_ne!(digest(&busy), digest(&lag));
    }
}
