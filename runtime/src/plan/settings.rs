/// A PostgreSQL major version (10, 11, ..., 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgVersion(pub u32);

impl PgVersion {
    /// The oldest major version zerodown plans for.
    pub const OLDEST_SUPPORTED: PgVersion = PgVersion(10);
    /// The newest major version zerodown has been tested against.
    pub const NEWEST_SUPPORTED: PgVersion = PgVersion(18);
    /// The default target when a migration does not `set target_postgres`: the oldest version on which
    /// every online recipe zerodown generates works (the `set not null` route needs 12).
    pub const DEFAULT_TARGET: PgVersion = PgVersion(12);

    /// The major version from `server_version_num` (e.g. `150004` is 15; `90624` is 9).
    pub fn from_server_version_num(num: u32) -> PgVersion {
        PgVersion(num / 10000)
    }
}

impl core::fmt::Display for PgVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PostgreSQL {}", self.0)
    }
}

/// Per-migration settings, validated at compile time by `migration!` (`set NAME = VALUE;`).
///
/// Durations are in milliseconds. Per-step timeouts are already derived from these into each
/// [`Step`](crate::plan::Step); the runtime uses the retry and backfill fields directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Settings {
    /// `lock_timeout` for steps that take a lock blocking reads or writes. Default 1 s.
    pub lock_timeout_ms: u64,
    /// `statement_timeout` for ordinary steps and for each backfill batch. Default 30 s.
    pub statement_timeout_ms: u64,
    /// `lock_timeout` for steps whose lock does not block reads or writes (concurrent index builds,
    /// `validate constraint`): waiting in the lock queue for them stalls no application query, and a
    /// concurrent build also waits for older transactions under this limit. Default 1 min.
    pub online_lock_timeout_ms: u64,
    /// `statement_timeout` for long online steps (concurrent index builds, `validate constraint`).
    /// Default 6 h.
    pub long_statement_timeout_ms: u64,
    /// Attempts per step, the first included, before a transient failure becomes permanent. Default 10.
    pub retry_attempts: u32,
    /// Total time spent retrying one step before giving up. Default 5 min.
    pub retry_budget_ms: u64,
    /// Rows per backfill batch. Default 1000.
    pub backfill_batch_size: u64,
    /// Pause between backfill batches, honoured only when written (`backfill_pause_set`). Default
    /// 10 ms, kept for the checksums of existing plans; without `set backfill_pause` batches follow
    /// each other without a pause while the database is healthy.
    pub backfill_pause_ms: u64,
    /// Target duration of a backfill batch (`set backfill_target_batch`); 0 for the runtime's
    /// default, [`Pace::DEFAULT_TARGET_BATCH_MS`](crate::plan::Pace::DEFAULT_TARGET_BATCH_MS).
    pub backfill_target_batch_ms: u64,
    /// Replica replay lag above which a backfill pauses (`set backfill_max_replica_lag`); 0 for the
    /// runtime's default,
    /// [`Pace::DEFAULT_MAX_REPLICA_LAG_MS`](crate::plan::Pace::DEFAULT_MAX_REPLICA_LAG_MS).
    pub backfill_max_replica_lag_ms: u64,
    /// The share of the time, in percent, a backfill works while other sessions use the server
    /// (`set backfill_busy_percent`); 0 for the migrator's setting, by default
    /// [`Pace::DEFAULT_BUSY_PERCENT`](crate::plan::Pace::DEFAULT_BUSY_PERCENT).
    pub backfill_busy_percent: u8,
    /// Whether the migration wrote `set backfill_batch_size` (see
    /// [`Pace::batch_size_set`](crate::plan::Pace::batch_size_set)).
    pub backfill_batch_size_set: bool,
    /// Whether the migration wrote `set backfill_pause`.
    pub backfill_pause_set: bool,
    /// The oldest server the plan is valid for; the runtime refuses older servers.
    pub target: PgVersion,
}

impl Settings {
    /// The defaults documented on each field.
    pub const DEFAULT: Settings = Settings {
        lock_timeout_ms: 1_000,
        statement_timeout_ms: 30_000,
        online_lock_timeout_ms: 60_000,
        long_statement_timeout_ms: 6 * 60 * 60 * 1000,
        retry_attempts: 10,
        retry_budget_ms: 5 * 60 * 1000,
        backfill_batch_size: 1_000,
        backfill_pause_ms: 10,
        backfill_target_batch_ms: 0,
        backfill_max_replica_lag_ms: 0,
        backfill_busy_percent: 0,
        backfill_batch_size_set: false,
        backfill_pause_set: false,
        target: PgVersion::DEFAULT_TARGET,
    };
}

impl Settings {
    /// The backfill pacing these settings ask for.
    pub fn pace(&self) -> crate::plan::Pace {
        crate::plan::Pace {
            target_batch_ms: self.backfill_target_batch_ms,
            max_replica_lag_ms: self.backfill_max_replica_lag_ms,
            batch_size_set: self.backfill_batch_size_set,
            pause_set: self.backfill_pause_set,
            busy_percent: self.backfill_busy_percent,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}
