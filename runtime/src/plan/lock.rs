/// The strongest table-level lock a step is expected to take, in PostgreSQL's order of strength.
///
/// See <https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES>.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockLevel {
    /// No table lock (e.g. `create type`, `comment on` a type).
    None,
    /// `ACCESS SHARE`: plain reads.
    AccessShare,
    /// `ROW SHARE`: `select for update`.
    RowShare,
    /// `ROW EXCLUSIVE`: `insert`, `update`, `delete` (backfill batches).
    RowExclusive,
    /// `SHARE UPDATE EXCLUSIVE`: concurrent index builds, `validate constraint`, comments.
    /// Does not block reads or writes.
    ShareUpdateExclusive,
    /// `SHARE`: plain `create index`; blocks writes.
    Share,
    /// `SHARE ROW EXCLUSIVE`: adding a foreign key or a trigger; blocks writes.
    ShareRowExclusive,
    /// `EXCLUSIVE`: blocks everything but plain reads.
    Exclusive,
    /// `ACCESS EXCLUSIVE`: most `alter table` forms; blocks reads and writes.
    AccessExclusive,
}

impl LockLevel {
    /// Every level, weakest first.
    pub const ALL: [LockLevel; 9] = [
        LockLevel::None,
        LockLevel::AccessShare,
        LockLevel::RowShare,
        LockLevel::RowExclusive,
        LockLevel::ShareUpdateExclusive,
        LockLevel::Share,
        LockLevel::ShareRowExclusive,
        LockLevel::Exclusive,
        LockLevel::AccessExclusive,
    ];

    /// The mode name as `pg_locks.mode` spells it (`AccessExclusiveLock`); `None` for [`LockLevel::None`].
    pub fn pg_locks_mode(self) -> Option<&'static str> {
        Some(match self {
            LockLevel::None => return None,
            LockLevel::AccessShare => "AccessShareLock",
            LockLevel::RowShare => "RowShareLock",
            LockLevel::RowExclusive => "RowExclusiveLock",
            LockLevel::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockLevel::Share => "ShareLock",
            LockLevel::ShareRowExclusive => "ShareRowExclusiveLock",
            LockLevel::Exclusive => "ExclusiveLock",
            LockLevel::AccessExclusive => "AccessExclusiveLock",
        })
    }

    /// Parses a `pg_locks.mode` value.
    pub fn from_pg_locks_mode(mode: &str) -> Option<LockLevel> {
        LockLevel::ALL
            .into_iter()
            .find(|l| l.pg_locks_mode() == Some(mode))
    }

    /// The SQL spelling (`ACCESS EXCLUSIVE`), used in plans shown to people.
    pub fn as_sql(self) -> &'static str {
        match self {
            LockLevel::None => "NONE",
            LockLevel::AccessShare => "ACCESS SHARE",
            LockLevel::RowShare => "ROW SHARE",
            LockLevel::RowExclusive => "ROW EXCLUSIVE",
            LockLevel::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockLevel::Share => "SHARE",
            LockLevel::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockLevel::Exclusive => "EXCLUSIVE",
            LockLevel::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// Whether holding this lock blocks ordinary `insert`/`update`/`delete` on the table.
    pub fn blocks_writes(self) -> bool {
        self >= LockLevel::Share
    }

    /// Whether holding this lock blocks plain `select` on the table.
    pub fn blocks_reads(self) -> bool {
        self == LockLevel::AccessExclusive
    }

    /// Whether a session holding `self` on a table and one asking for `other` on it must wait for
    /// each other (PostgreSQL's table-level conflict matrix; symmetric).
    pub fn conflicts_with(self, other: LockLevel) -> bool {
        use LockLevel::*;
        let (weak, strong) = if self <= other {
            (self, other)
        } else {
            (other, self)
        };
        match weak {
            None => false,
            AccessShare => strong == AccessExclusive,
            RowShare => strong >= Exclusive,
            RowExclusive => strong >= Share,
            // `SHARE UPDATE EXCLUSIVE` conflicts with itself, `SHARE` not with itself.
            ShareUpdateExclusive => strong >= ShareUpdateExclusive,
            Share => strong >= ShareRowExclusive,
            ShareRowExclusive | Exclusive | AccessExclusive => true,
        }
    }

    /// A stable name used in checksums.
    pub(crate) fn stable_name(self) -> &'static str {
        self.as_sql()
    }
}

impl core::fmt::Display for LockLevel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_sql())
    }
}

#[cfg(test)]
mod tests {
    use super::LockLevel::{self, *};

    #[test]
    fn the_conflict_matrix_is_postgresqls() {
        // Rows of the table in "Explicit Locking", in the order of `LockLevel::ALL` without `None`.
        let table: [(LockLevel, &[LockLevel]); 8] = [
            (AccessShare, &[AccessExclusive]),
            (RowShare, &[Exclusive, AccessExclusive]),
            (
                RowExclusive,
                &[Share, ShareRowExclusive, Exclusive, AccessExclusive],
            ),
            (
                ShareUpdateExclusive,
                &[
                    ShareUpdateExclusive,
                    Share,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
            ),
            (
                Share,
                &[
                    RowExclusive,
                    ShareUpdateExclusive,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
            ),
            (
                ShareRowExclusive,
                &[
                    RowExclusive,
                    ShareUpdateExclusive,
                    Share,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
            ),
            (
                Exclusive,
                &[
                    RowShare,
                    RowExclusive,
                    ShareUpdateExclusive,
                    Share,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
            ),
            (
                AccessExclusive,
                &[
                    AccessShare,
                    RowShare,
                    RowExclusive,
                    ShareUpdateExclusive,
                    Share,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
            ),
        ];
        for (held, conflicting) in table {
            for asked in LockLevel::ALL {
                assert_eq!(
                    held.conflicts_with(asked),
                    conflicting.contains(&asked),
                    "{held} vs {asked}"
                );
                assert_eq!(
                    asked.conflicts_with(held),
                    conflicting.contains(&asked),
                    "{asked} vs {held}"
                );
            }
        }
        assert!(!LockLevel::None.conflicts_with(AccessExclusive));
    }
}
