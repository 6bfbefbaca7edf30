//! The rules `migration!` enforces. Each has a stable snake_case name, used in messages
//! (`[rule: index_not_concurrent]`) and in overrides (`unsafe(reason = "..", allow = [rule])`).

macro_rules! rules {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// A safety rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rule {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The snake_case name used in messages and overrides.
            pub fn name(self) -> &'static str {
                match self {
                    $(Rule::$variant => $name,)*
                }
            }
        }
    };
}

rules! {
    /// `create index` without `concurrently` on a table that exists before the migration.
    IndexNotConcurrent => "index_not_concurrent",
    /// `drop index` without `concurrently`.
    DropIndexNotConcurrent => "drop_index_not_concurrent",
    /// `reindex` without `concurrently`.
    ReindexNotConcurrent => "reindex_not_concurrent",
    /// `vacuum full`: rewrites the table under `ACCESS EXCLUSIVE`.
    VacuumFull => "vacuum_full",
    /// `cluster`: rewrites the table under `ACCESS EXCLUSIVE`.
    Cluster => "cluster",
    /// `lock table`: holds a lock for the rest of the transaction.
    LockTable => "lock_table",
    /// `truncate`: `ACCESS EXCLUSIVE` and data loss.
    Truncate => "truncate",
    /// `drop schema`.
    DropSchema => "drop_schema",
    /// `drop database`.
    DropDatabase => "drop_database",
    /// An index without a name.
    UnnamedIndex => "unnamed_index",
    /// A constraint added to an existing table without a name.
    UnnamedConstraint => "unnamed_constraint",
    /// `add column .. not null` with a volatile default when the target is older than PostgreSQL 12:
    /// the default is backfilled in batches, but `not null` could then only be set with a scan under
    /// `ACCESS EXCLUSIVE`. (From 12 the whole recipe is online; before 11 any default rewrites.)
    VolatileDefault => "volatile_default",
    /// `add column` with any default when the target is older than PostgreSQL 11.
    DefaultBeforePg11 => "add_column_default_before_pg11",
    /// `add column ... not null` without a default.
    NotNullWithoutDefault => "add_column_not_null_without_default",
    /// `serial`, `bigserial`, `smallserial` or identity columns added to an existing table.
    AddSerialColumn => "add_serial_column",
    /// `generated always as (..) stored` columns added to an existing table.
    AddStoredGeneratedColumn => "add_stored_generated_column",
    /// `unique`/`primary key` declared inline on a column added to an existing table.
    AddColumnUnique => "add_column_unique",
    /// `alter column ... type` that rewrites the table or whose current type is not stated.
    AlterColumnType => "alter_column_type",
    /// `set not null` on an existing table when the target is older than PostgreSQL 12.
    SetNotNullBeforePg12 => "set_not_null_before_pg12",
    /// A check constraint added to an existing table without `not valid`.
    CheckWithoutNotValid => "check_without_not_valid",
    /// A foreign key added to an existing table without `not valid`.
    ForeignKeyWithoutNotValid => "foreign_key_without_not_valid",
    /// An exclusion constraint on an existing table.
    ExclusionConstraint => "exclusion_constraint",
    /// Raw SQL that rewrites a table under `ACCESS EXCLUSIVE` with no DSL counterpart: `alter table ..
    /// set tablespace|logged|unlogged|access method`, `alter index .. set tablespace`, `alter column ..
    /// set expression`.
    TableRewrite => "table_rewrite",
    /// Raw `alter column .. set not null` or `add constraint .. not null` without `not valid`, or
    /// `primary key using index` over columns the catalog knows to be nullable: a scan under `ACCESS
    /// EXCLUSIVE` (the DSL's `set not null` uses the online recipe instead).
    SetNotNullScan => "set_not_null_scan",
    /// Raw `refresh materialized view` without `concurrently`: `ACCESS EXCLUSIVE` for the whole refresh.
    RefreshNotConcurrent => "refresh_not_concurrent",
    /// Raw `alter table .. attach partition` when the target is older than PostgreSQL 12: the parent is
    /// locked `ACCESS EXCLUSIVE` while the partition is scanned.
    AttachPartitionBeforePg12 => "attach_partition_before_pg12",
    /// `attach partition` of an existing table that PostgreSQL would scan under `ACCESS EXCLUSIVE`:
    /// its bound cannot be written as the `CHECK` that lets the attach skip the scan (hash, a range
    /// over several columns, `default`, or a parent key the schema catalog does not know), or the
    /// parent has a default partition, which is scanned instead.
    AttachPartitionScan => "attach_partition_scan",
    /// A raw statement zerodown's SQL parser cannot read, so no rule could judge it.
    RawUnparsed => "raw_unparsed",
    /// `rename column`.
    RenameColumn => "rename_column",
    /// `alter table ... rename to`.
    RenameTable => "rename_table",
    /// `drop column`.
    DropColumn => "drop_column",
    /// `drop table`.
    DropTable => "drop_table",
    /// An enum value added by `alter type ... add value` used in the same migration.
    NewEnumValueUsed => "new_enum_value_used",
    /// `backfill` of a table created in this migration that has neither a primary key nor a unique
    /// not-null key, without `by (..)`: the runtime would find no key to walk it in batches.
    BackfillWithoutKey => "backfill_without_key",
    /// `backfill` without `where` setting a value that changes between evaluations (a volatile or
    /// unknown function, or the time): the implicit pending predicate `col IS DISTINCT FROM value` would
    /// never become false, so the backfill could not be verified.
    BackfillVolatileWithoutWhere => "backfill_volatile_without_where",
    /// Not a check but an acknowledgement: the batched writes of the statements in the block (a
    /// `backfill`, an `expand`'s backfill, a volatile default's backfill) may fire the table's own
    /// triggers. Without it the runtime writes with `session_replication_role = replica`, so no user
    /// trigger fires, and refuses when the role may not set it.
    FiresUserTriggers => "fires_user_triggers",
    /// Raw SQL that ends or starts transactions. Not overridable.
    RawTransactionControl => "raw_transaction_control",
    /// Raw SQL without a written reason. Not overridable.
    RawWithoutReason => "raw_without_reason",
    /// An `unsafe` override without a written reason, or with no rules listed. Not overridable.
    OverrideWithoutReason => "override_without_reason",
    /// An identifier longer than 63 bytes (PostgreSQL would silently truncate it). Not overridable.
    IdentifierTooLong => "identifier_too_long",
    /// A zero (unbounded) lock timeout. Not overridable.
    LockTimeoutUnbounded => "lock_timeout_unbounded",
    /// A lock timeout not below the statement timeout. Not overridable.
    LockTimeoutNotBelowStatementTimeout => "lock_timeout_not_below_statement_timeout",
    /// An unknown or misspelled setting. Not overridable.
    UnknownSetting => "unknown_setting",
}

impl Rule {
    /// Finds a rule by its snake_case name.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.name() == name)
    }

    /// Whether an `unsafe(reason = "..", allow = [..])` block may allow this rule.
    pub fn overridable(self) -> bool {
        !matches!(
            self,
            Rule::RawTransactionControl
                | Rule::RawWithoutReason
                | Rule::OverrideWithoutReason
                | Rule::IdentifierTooLong
                | Rule::LockTimeoutUnbounded
                | Rule::LockTimeoutNotBelowStatementTimeout
                | Rule::UnknownSetting
        )
    }

    /// The message shown to the user: what is wrong and the fix, tagged with the rule name.
    ///
    /// `text` is lowercase, without a trailing period, in the form "what is wrong; what to do".
    pub fn message(self, text: impl core::fmt::Display) -> String {
        format!("{text} [rule: {}]", self.name())
    }
}
