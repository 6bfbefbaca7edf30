//! What zerodown needs to know of a `raw` statement: one [`Op`] per effect (a statement such as `alter
//! table t add column a int, drop column b` has several). Both readers (the sqlparser AST in `ast`, the
//! word recogniser in `words`) produce this model; `classify` and `lock` judge it, so a form reads the
//! same whichever reader saw it.

use zerodown_runtime::plan::LockLevel;

/// One effect of a statement on one relation (`table`, when the statement names one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Op {
    pub(crate) kind: OpKind,
    /// The relation it acts on, as written and lowercased unless quoted: `users`, `app.users`.
    pub(crate) table: Option<String>,
}

/// A constraint added by `alter table .. add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConstraintKind {
    Check,
    ForeignKey,
    /// `unique`/`primary key (..)`, which builds its index under the table's lock.
    Unique,
    /// `unique`/`primary key using index i`: adopts an index built beforehand.
    UniqueUsingIndex,
    Exclusion,
    /// `not null col` as a named table constraint (PostgreSQL 18).
    NotNull,
}

/// How a generated column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generated {
    Stored,
    /// `virtual`, or no keyword (PostgreSQL 18's default).
    Virtual,
}

/// A column added by `alter table .. add column`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NewColumn {
    pub(crate) name: String,
    pub(crate) has_default: bool,
    /// The first function of the default that is volatile or unknown (`gen_random_uuid`).
    pub(crate) volatile_default: Option<String>,
    pub(crate) not_null: bool,
    /// `serial` types or `generated .. as identity`.
    pub(crate) serial: bool,
    pub(crate) generated: Option<Generated>,
    /// Inline `unique` or `primary key`.
    pub(crate) unique: bool,
}

/// The effects zerodown tells apart. Each names the PostgreSQL form in its doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// `begin`, `commit`, `savepoint`, ... (the splitter reports them; kept for completeness).
    TransactionControl,
    /// `create table`; `partition_of` attaches it to a parent (`ACCESS EXCLUSIVE` on the parent).
    CreateTable {
        if_not_exists: bool,
        partition_of: Option<String>,
        /// A foreign key to another table (`SHARE ROW EXCLUSIVE` on it).
        references: bool,
        stored_generated: bool,
        virtual_generated: bool,
    },
    CreateIndex {
        concurrently: bool,
        include: bool,
        nulls_not_distinct: bool,
    },
    DropIndex {
        concurrently: bool,
    },
    Reindex {
        concurrently: bool,
    },
    /// `vacuum` (`full` rewrites).
    Vacuum {
        full: bool,
    },
    /// `analyze`, `create statistics`, and the `alter table` actions PostgreSQL runs under `SHARE
    /// UPDATE EXCLUSIVE` (`set statistics`, `set (fillfactor = ..)`, `cluster on`, `validate
    /// constraint`).
    Maintenance,
    Cluster,
    /// `lock table .. in MODE mode`.
    LockTable(LockLevel),
    Truncate,
    DropTable,
    DropSchema,
    DropDatabase,
    /// `drop view|function|type|sequence|..`: `ACCESS EXCLUSIVE` on the object.
    DropOther,
    RefreshMaterializedView {
        concurrently: bool,
    },
    /// `insert`, `update`, `delete`, `merge` (`merge` is PostgreSQL 15).
    Write {
        merge: bool,
    },
    /// `select`, `select .. for update` (`for_update`: `ROW SHARE`).
    Read {
        for_update: bool,
    },
    /// `create trigger`: `SHARE ROW EXCLUSIVE`.
    CreateTrigger,
    /// `create view|materialized view`: reads the tables it selects from.
    CreateView,
    /// New objects that lock nothing live (`create function|type|schema|sequence|extension|..`),
    /// `set`, `alter type .. add value`.
    Catalog,
    /// `comment on`: `SHARE UPDATE EXCLUSIVE`.
    Comment,
    /// `alter index .. rename to`: `SHARE UPDATE EXCLUSIVE` from PostgreSQL 12, before it `ACCESS
    /// EXCLUSIVE`.
    RenameIndex,
    /// `enable|disable trigger`: `SHARE ROW EXCLUSIVE`.
    TriggerSwitch,
    // `alter table` actions.
    /// `set tablespace`, `set logged|unlogged` (the form, for messages): a full rewrite.
    Rewrite(&'static str),
    /// `set access method` (PostgreSQL 15), also a rewrite.
    SetAccessMethod,
    AlterColumnType,
    SetNotNull,
    AttachPartition,
    DetachPartition {
        concurrently: bool,
        finalize: bool,
    },
    AddConstraint {
        kind: ConstraintKind,
        not_valid: bool,
    },
    AddColumn(NewColumn),
    DropColumn,
    RenameColumn,
    /// `rename to`, and `set schema` (which moves it out of the names running code uses).
    RenameTable,
    /// Any other effect, judged by nothing but its lock: `ACCESS EXCLUSIVE` unless `lock` says
    /// otherwise (a `do` block, `set default`, `drop constraint`, `grant`, ...).
    Other(LockLevel),
}

impl Op {
    pub(crate) fn new(kind: OpKind, table: Option<String>) -> Op {
        Op { kind, table }
    }
}
