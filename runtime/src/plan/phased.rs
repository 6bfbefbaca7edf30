//! Expand/contract operations: what the runtime needs to know about them to derive SQL from the
//! catalog at run time (indexes and constraints to carry over, the contract swap, the rollback).
//!
//! The macro lowers each `expand ...` statement into steps of three phases: expand (applied by
//! `Migrator::run`), contract (`Migrator::complete`) and rollback (`Migrator::rollback`, which undoes an
//! expand that was not completed). Steps whose SQL is fixed at compile time are ordinary
//! [`StepKind::Sql`](super::StepKind::Sql) steps; the others are [`StepKind::Phased`](super::StepKind::Phased)
//! steps, carrying the [`Change`] and the [`Action`] the runtime performs.

use super::PlanHasher;

/// One expand/contract operation, as far as the runtime needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// `expand alter table t alter column c type NEW from OLD [using ..]` or
    /// `expand alter table t rename column a to b`: a new column kept in sync with the old one by a
    /// trigger, swapped in at contract.
    Column(ColumnChange),
    /// `expand alter table t rename to u`: the table is renamed and a view keeps the old name.
    RenameTable(TableRename),
    /// `expand alter table t drop column c`: the column loses `NOT NULL` now and is dropped at contract.
    DropColumn(ColumnRef),
}

/// A column replaced by another (type change or rename).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnChange {
    /// The table, rendered (quoted, schema-qualified when written so): `"users"`, `"app"."users"`.
    pub table: &'static str,
    /// The column being replaced, unquoted.
    pub column: &'static str,
    /// The column replacing it, unquoted: a hidden `_zd_<c>_new` for a type change, the new name for
    /// a rename.
    pub new_column: &'static str,
    /// For a type change, the current type as the migration states it (`from`), rendered; empty for a
    /// rename. Checked against the catalog before anything changes.
    pub old_type: &'static str,
    /// The sync trigger's function, rendered (schema-qualified like the table).
    pub function: &'static str,
    /// The sync trigger's name, unquoted ([`sync_trigger_name`]): it sorts after the names of the
    /// application's triggers, so PostgreSQL fires it last and it copies what they stored.
    pub trigger: &'static str,
    /// Whether this is a rename (both columns are written by some application version, so the
    /// trigger syncs both ways) rather than a type change (only the old column is written).
    pub rename: bool,
    /// Whether the new column's value is a function of the row alone (a type change whose `using`
    /// calls nothing volatile or unknown): then a row found out of sync before the swap is simply
    /// converted again; otherwise (and for a rename, where either column may be the right one) the
    /// contract refuses, naming the rows.
    pub deterministic: bool,
}

/// A table renamed, with a view under the old name until contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableRename {
    /// The old name, rendered: the view after expand.
    pub table: &'static str,
    /// The new name, rendered, in the same schema.
    pub new_table: &'static str,
}

/// A column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnRef {
    /// The table, rendered.
    pub table: &'static str,
    /// The column, unquoted.
    pub column: &'static str,
}

/// What the runtime does for a [`StepKind::Phased`](super::StepKind::Phased) step. Every action is
/// idempotent, so a step interrupted by a crash or a lock timeout is simply run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Column change, expand, one transaction: the step's statements (add the new column, the sync
    /// function and trigger), then the catalog checks, which refuse what cannot be carried over (a
    /// foreign key referencing the column, a view, a generated column, an exclusion constraint, a
    /// partitioned or inherited table, an identity column ...) so nothing is changed; then the
    /// column's comment is copied.
    Prepare,
    /// Column change, expand: every index on the old column is built on the new one with
    /// `CREATE INDEX CONCURRENTLY` under a temporary name. Runs outside a transaction.
    CarryIndexes,
    /// Column change, expand, one transaction: the old column's check constraints and foreign keys
    /// are added on the new one `NOT VALID` under temporary names, and, if the old column is `NOT
    /// NULL`, a `CHECK (new IS NOT NULL) NOT VALID`.
    AddConstraints,
    /// Column change, expand: `VALIDATE CONSTRAINT` of each constraint added by
    /// [`Action::AddConstraints`] whose original is validated, one transaction each.
    ValidateConstraints,
    /// Column change, contract, before the swap, outside a transaction: checks, online, that the new
    /// column still equals the conversion of the old one on every row (see
    /// [`Action::Contract`] for why it is usually a catalog read): rows that differ are converted
    /// again (a deterministic type change) or reported (the step refuses). Records what the check
    /// relied on for the contract.
    Verify,
    /// Column change, contract, one transaction: checks under the lock that no write bypassed the sync
    /// trigger since [`Action::Verify`] (the table's triggers are unchanged; otherwise every row is
    /// compared and re-synced or refused, as by `Verify`), then drops the trigger and function and the old column,
    /// give the new column (for a type change) and the carried indexes and constraints their final
    /// names, set the default and `NOT NULL`, re-attach a primary key or unique constraint
    /// `USING INDEX`, move owned sequences.
    Contract,
    /// Drop column, expand, one transaction: `DROP NOT NULL` on the column when it is `NOT NULL`,
    /// remembered in the history so a rollback can restore it.
    DropNotNull,
    /// Undo of the expand, idempotent and limited to what the expand added: for a column change, the
    /// trigger, function and new column (with the indexes and constraints carried onto it); for a
    /// table rename, the view and the rename; for a drop column, the `NOT NULL` it dropped (through
    /// a validated check, so no long lock).
    Rollback,
}

impl Change {
    /// The table the change is about, rendered.
    pub fn table(&self) -> &'static str {
        match self {
            Change::Column(c) => c.table,
            Change::RenameTable(r) => r.table,
            Change::DropColumn(d) => d.table,
        }
    }

    pub(crate) fn hash_into(&self, h: &mut PlanHasher) {
        match self {
            Change::Column(c) => {
                h.str("column-change");
                h.strs(&[
                    c.table,
                    c.column,
                    c.new_column,
                    c.old_type,
                    c.function,
                    c.trigger,
                ]);
                h.bool(c.rename);
                h.bool(c.deterministic);
            }
            Change::RenameTable(r) => h.strs(&["rename-table", r.table, r.new_table]),
            Change::DropColumn(d) => h.strs(&["drop-column", d.table, d.column]),
        }
    }
}

impl Action {
    /// A stable name, for checksums and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Prepare => "prepare",
            Action::CarryIndexes => "carry-indexes",
            Action::AddConstraints => "add-constraints",
            Action::ValidateConstraints => "validate-constraints",
            Action::Verify => "verify",
            Action::Contract => "contract",
            Action::DropNotNull => "drop-not-null",
            Action::Rollback => "rollback",
        }
    }
}

/// Whether two entries of [`Migration::touches`](super::Migration::touches) overlap: equal, or one is
/// a table (`public.users`) and the other one of its columns (`public.users.email`).
pub fn touches_overlap(a: &str, b: &str) -> bool {
    fn within(long: &str, short: &str) -> bool {
        long.len() > short.len() && long.starts_with(short) && long.as_bytes()[short.len()] == b'.'
    }
    a == b || within(a, b) || within(b, a)
}

/// PostgreSQL's identifier limit (`NAMEDATALEN - 1`); longer names are silently truncated by the server.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// `name` itself when it fits in 63 bytes; otherwise its longest prefix (on a character boundary) that
/// leaves room for `_` and the first 8 hex digits of the SHA-256 of the full name. Deterministic, so
/// the macro and the runtime derive the same helper names, and distinct long names stay distinct.
pub fn fit_identifier(name: String) -> String {
    use sha2::{Digest, Sha256};
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut cut = MAX_IDENTIFIER_BYTES - 1 - hash.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}", &name[..cut])
}

/// The prefix of sync trigger names. PostgreSQL fires the `BEFORE` row triggers of a table in the
/// byte order of their names; `~` sorts after every ASCII letter, digit and `_`, so the sync trigger
/// fires after the application's own triggers (those that normalise values or set `updated_at`) and
/// copies what they produced. Names starting with `~` or a non-ASCII character would sort after it:
/// the runtime checks the table's triggers before the expand and before the contract.
pub const SYNC_TRIGGER_PREFIX: &str = "~zd_sync_";

/// Passes over the rows whose copy differs before the contract's verify step gives up (rows keep
/// differing only while something keeps bypassing the sync trigger).
pub const RESYNC_PASSES: u32 = 3;

/// The preview of the contract's verify step (`Action::Verify`), which runs statements depending on
/// what it reads: `differs` selects the rows whose copy is wrong, `set_sql` converts them again.
pub fn verify_preview(c: &ColumnChange, set_sql: &str, differs: &str) -> Vec<String> {
    let mut out = vec![
        format!("-- reads the fingerprint of the triggers on {} (pg_trigger, pg_proc): unchanged since the expand, every write went through the sync trigger and nothing else runs; changed, it compares every row, online:", c.table),
        format!("SELECT count(*) FROM {} WHERE {differs}", c.table),
    ];
    if c.deterministic {
        out.push(format!("-- and converts the rows that differ again, in keyset batches (up to {RESYNC_PASSES} passes; rows that still differ stop it, named):"));
        out.push(format!("UPDATE {} SET {set_sql} WHERE {differs}", c.table));
    } else {
        out.push("-- and stops, naming rows that differ (the conversion is not deterministic, or either column of a rename may be right)".to_owned());
    }
    out
}

/// The sync trigger's name for `table`'s `column` (unquoted names), fitted to 63 bytes.
pub fn sync_trigger_name(table: &str, column: &str) -> String {
    fit_identifier(format!("{SYNC_TRIGGER_PREFIX}{table}_{column}"))
}

/// The name of the trigger of `backfill .. keep` on `table` whose first set column is `column`
/// (unquoted names), fitted to 63 bytes. It has the [`SYNC_TRIGGER_PREFIX`] so that, like a sync
/// trigger, it fires after the application's own triggers and is not taken for one of them.
pub fn keep_trigger_name(table: &str, column: &str) -> String {
    fit_identifier(format!("{SYNC_TRIGGER_PREFIX}keep_{table}_{column}"))
}

/// Whether `name` is the name of a trigger zerodown created to keep an expand's columns in sync (this
/// version's [`SYNC_TRIGGER_PREFIX`] or the `_zd_sync_` of earlier versions).
pub fn is_sync_trigger(name: &str) -> bool {
    name.starts_with(SYNC_TRIGGER_PREFIX) || name.starts_with("_zd_sync_")
}

/// The temporary name of an index or constraint carried over from the old column to the new one:
/// `_zd_<original>`, fitted to 63 bytes. The contract renames it back to the original.
pub fn carried_name(original: &str) -> String {
    fit_identifier(format!("_zd_{original}"))
}

/// Whether `name` is a temporary name of a carried object ([`carried_name`]).
pub fn is_carried_name(name: &str) -> bool {
    name.starts_with("_zd_")
}

/// The `CHECK (new IS NOT NULL)` helper that lets the contract `SET NOT NULL` without a scan.
pub fn not_null_helper(new_column: &str) -> String {
    match new_column.starts_with("_zd_") {
        true => fit_identifier(format!("{new_column}_not_null")),
        false => fit_identifier(format!("_zd_{new_column}_not_null")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touches_overlap_by_table_and_column() {
        assert!(touches_overlap("public.users.email", "public.users.email"));
        assert!(touches_overlap("public.users", "public.users.email"));
        assert!(touches_overlap("public.users.email", "public.users"));
        assert!(!touches_overlap("public.users.email", "public.users.name"));
        assert!(!touches_overlap("public.users", "public.users2"));
        assert!(!touches_overlap("public.users2.email", "public.users"));
    }

    #[test]
    fn long_names_are_fitted_deterministically() {
        let long = "x".repeat(70);
        let a = carried_name(&long);
        assert_eq!(a.len(), 63);
        assert!(a.starts_with("_zd_xxx"));
        assert_eq!(a, carried_name(&long));
        assert_ne!(a, carried_name(&format!("{long}y")));
        assert_eq!(carried_name("users_pkey"), "_zd_users_pkey");
        assert!(is_carried_name(&a));
        assert_eq!(not_null_helper("_zd_id_new"), "_zd_id_new_not_null");
        assert_eq!(not_null_helper("email"), "_zd_email_not_null");
    }

    #[test]
    fn sync_triggers_sort_after_application_trigger_names() {
        let ours = sync_trigger_name("doc2", "score");
        assert_eq!(ours, "~zd_sync_doc2_score");
        for theirs in [
            "normalize_doc2",
            "zzz_last",
            "Z",
            "_audit",
            "9",
            "set_updated_at",
        ] {
            assert!(ours.as_bytes() > theirs.as_bytes(), "{theirs}");
        }
        assert!(is_sync_trigger(&ours));
        assert!(is_sync_trigger("_zd_sync_doc2_score"));
        assert!(!is_sync_trigger("zd_sync"));
        let long = sync_trigger_name(&"t".repeat(40), &"c".repeat(40));
        assert_eq!(long.len(), 63);
        assert!(long.starts_with(SYNC_TRIGGER_PREFIX));
    }
}
