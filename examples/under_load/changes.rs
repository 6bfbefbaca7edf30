//! The schema changes, written twice: as the plain SQL one would write by hand, and as `migration!`
//! invocations that reach the same end state online.

use zerodown::Migration;

zerodown::migration! {
    /// A nullable column without default: a catalog-only change.
    pub mod m0001_add_note {
        alter table accounts add column note text;
    }
}

zerodown::migration! {
    /// Every account gets a random token; new accounts get one from the default. Lowered to: add the
    /// column without default, set the default, backfill existing rows in batches, then `not null`
    /// through a `NOT VALID` check.
    pub mod m0002_add_token {
        alter table accounts add column token uuid not null default gen_random_uuid();
    }
}

zerodown::migration! {
    /// Look accounts up by email.
    pub mod m0003_email_index {
        create index concurrently accounts_email_idx on accounts (email);
    }
}

zerodown::migration! {
    /// Every account belongs to an organisation that exists.
    pub mod m0004_org_fk {
        alter table accounts add constraint accounts_org_fk foreign key (org_id) references orgs (id) not valid;
        alter table accounts validate constraint accounts_org_fk;
    }
}

zerodown::migration! {
    /// Every account has an organisation.
    pub mod m0005_org_not_null {
        alter table accounts alter column org_id set not null;
    }
}

zerodown::migration! {
    /// Balances outgrow `integer`. Expand: a `bigint` column kept in sync by a trigger and backfilled;
    /// contract (`complete`): swapped in under the old name.
    pub mod m0006_widen_balance {
        expand alter table accounts alter column balance type bigint from integer;
    }
}

zerodown::migration! {
    /// Organisation ids outgrow `integer`: the identity key of `orgs`, which every account references.
    /// Expand: a `bigint` column kept in sync, its unique index built concurrently, the foreign key of
    /// `accounts` added again referencing it and validated; contract: the key, the identity and the
    /// foreign key swapped in.
    pub mod m0007_widen_org_id {
        expand alter table orgs alter column id type bigint from integer;
    }
}

/// One change: the hand-written statement and the migration doing the same online.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    /// Short name, used in the picture's legend.
    pub label: &'static str,
    /// What one would write by hand, run as one autocommit statement (one migration file each).
    pub naive_sql: &'static str,
    /// The strongest lock the naive statement takes on `accounts` (PostgreSQL documentation, "Explicit
    /// Locking"), for the report.
    pub naive_lock: &'static str,
    /// The same change through zerodown.
    pub migration: &'static Migration,
}

/// The changes, in order.
pub static CHANGES: &[Change] = &[
    Change {
        label: "add column note",
        naive_sql: "ALTER TABLE accounts ADD COLUMN note text",
        naive_lock: "ACCESS EXCLUSIVE",
        migration: &m0001_add_note::MIGRATION,
    },
    Change {
        label: "add column token, volatile default",
        naive_sql: "ALTER TABLE accounts ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
        naive_lock: "ACCESS EXCLUSIVE, rewrites the table",
        migration: &m0002_add_token::MIGRATION,
    },
    Change {
        label: "index on email",
        naive_sql: "CREATE INDEX accounts_email_idx ON accounts (email)",
        naive_lock: "SHARE",
        migration: &m0003_email_index::MIGRATION,
    },
    Change {
        label: "foreign key org_id",
        naive_sql: "ALTER TABLE accounts ADD CONSTRAINT accounts_org_fk FOREIGN KEY (org_id) REFERENCES orgs (id)",
        naive_lock: "SHARE ROW EXCLUSIVE",
        migration: &m0004_org_fk::MIGRATION,
    },
    Change {
        label: "org_id not null",
        naive_sql: "ALTER TABLE accounts ALTER COLUMN org_id SET NOT NULL",
        naive_lock: "ACCESS EXCLUSIVE",
        migration: &m0005_org_not_null::MIGRATION,
    },
    Change {
        label: "widen balance to bigint",
        naive_sql: "ALTER TABLE accounts ALTER COLUMN balance TYPE bigint",
        naive_lock: "ACCESS EXCLUSIVE, rewrites the table and its indexes",
        migration: &m0006_widen_balance::MIGRATION,
    },
    Change {
        label: "widen orgs.id to bigint",
        naive_sql: "ALTER TABLE orgs ALTER COLUMN id TYPE bigint",
        naive_lock: "SHARE ROW EXCLUSIVE while accounts_org_fk is checked again (ACCESS EXCLUSIVE on orgs, rewritten)",
        migration: &m0007_widen_org_id::MIGRATION,
    },
];

/// Every migration, in version order, for the migrator.
pub fn migrations() -> Vec<&'static Migration> {
    CHANGES.iter().map(|c| c.migration).collect()
}
