//! One lowered SQL statement and what it costs the database.

use zerodown_runtime::plan::{LockLevel, Postcondition, StepKind};

/// A table a statement locks, for step grouping and for a step's `tables`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TableRef {
    /// An existing table, rendered (quoted, qualified when written so).
    Known(String),
    /// An existing table the macro cannot name (the table of an index given by name, the tables raw
    /// SQL touches ...). Every unknown table counts as a different table when grouping.
    Unknown,
}

/// One SQL statement, before grouping into steps.
#[derive(Debug, Clone)]
pub(crate) struct Lowered {
    /// For people: `add column "email" to "users"`.
    pub description: String,
    pub sql: String,
    /// PostgreSQL refuses it inside a transaction block, or it must commit on its own.
    pub alone: bool,
    /// The strongest lock it takes on an existing table.
    pub lock: LockLevel,
    /// The existing tables it locks.
    pub tables: Vec<TableRef>,
    /// Whether it rewrites an existing table.
    pub rewrites: bool,
    /// Whether its run time grows with the table: scans, index builds, validation, rewrites.
    pub slow: bool,
    pub kind: StepKind,
    pub postcondition: Postcondition,
    /// How a rollback undoes it when its migration stops part-way.
    pub inverse: Inverse,
    /// What it leaves in effect while the migration is unfinished: a key (for [`Lowered::removes`]
    /// of a later statement) and the text for people.
    pub live: Option<(String, String)>,
    /// The keys of earlier statements' [`Lowered::live`] effects this statement ends.
    pub removes: Vec<String>,
    /// A constraint it creates under a name the macro chose, as (table rendered, name): the runtime
    /// checks the name is free before the migration starts.
    pub claims: Option<(String, String)>,
}

/// How a rollback undoes a lowered statement (see `runtime::plan::Undo`).
#[derive(Debug, Clone)]
pub(crate) enum Inverse {
    /// Nothing is left to undo once the inverses of the later statements ran: a validation, a
    /// backfill of a column this migration added, a statement on a table it created.
    Nothing,
    /// These statements, in order, undo it.
    Sql(Vec<Lowered>),
    /// No safe inverse; why, for the refusal.
    Irreversible(String),
}

impl Lowered {
    /// A transactional statement that locks nothing and is fast; adjust with the builder methods.
    pub fn new(description: impl Into<String>, sql: impl Into<String>) -> Self {
        Lowered {
            description: description.into(),
            sql: sql.into(),
            alone: false,
            lock: LockLevel::None,
            tables: Vec::new(),
            rewrites: false,
            slow: false,
            kind: StepKind::Sql,
            postcondition: Postcondition::None,
            inverse: Inverse::Irreversible(String::new()),
            live: None,
            removes: Vec::new(),
            claims: None,
        }
    }

    /// How a rollback undoes it (the default: it cannot, for the reason the grouping states).
    pub fn inverse(mut self, inverse: Inverse) -> Self {
        self.inverse = inverse;
        self
    }

    /// Undone by `undo`.
    pub fn undo(self, undo: Lowered) -> Self {
        self.inverse(Inverse::Sql(vec![undo]))
    }

    /// Undone by the statements `undo`, in order.
    pub fn undo_all(self, undo: Vec<Lowered>) -> Self {
        self.inverse(Inverse::Sql(undo))
    }

    /// Cannot be undone, because `why`.
    pub fn irreversible(self, why: impl Into<String>) -> Self {
        self.inverse(Inverse::Irreversible(why.into()))
    }

    /// Leaves `what` in effect (for people) until a statement [`removes`](Lowered::removes) `key`.
    pub fn live(mut self, key: impl Into<String>, what: impl Into<String>) -> Self {
        self.live = Some((key.into(), what.into()));
        self
    }

    /// Creates constraint `name` on `table` (rendered) under a name the macro chose.
    pub fn claims(mut self, table: &str, name: &str) -> Self {
        self.claims = Some((table.to_owned(), name.to_owned()));
        self
    }

    /// Ends the effect an earlier statement left under `key`.
    pub fn removes(mut self, key: impl Into<String>) -> Self {
        self.removes.push(key.into());
        self
    }

    /// Takes `lock` on `table`, when the table exists before the migration (`Some`). A statement on a
    /// table created in this migration locks nothing anyone else is waiting for.
    pub fn lock_on(mut self, lock: LockLevel, table: Option<TableRef>) -> Self {
        if let Some(table) = table {
            self.lock = self.lock.max(lock);
            if !self.tables.contains(&table) || table == TableRef::Unknown {
                self.tables.push(table);
            }
        }
        self
    }

    /// Takes `lock` without a table to name (a type, an index of unknown table, a database).
    pub fn lock(mut self, lock: LockLevel) -> Self {
        self.lock = self.lock.max(lock);
        self
    }

    /// Runs outside any transaction, as a step of its own.
    pub fn alone(mut self) -> Self {
        self.alone = true;
        self
    }

    /// Marks the statement slow (when `slow`): it then never shares a step.
    pub fn slow(mut self, slow: bool) -> Self {
        self.slow |= slow;
        self
    }

    /// Marks the statement as rewriting an existing table (when `rewrites`).
    pub fn rewrites(mut self, rewrites: bool) -> Self {
        self.rewrites |= rewrites;
        self
    }

    /// How the runtime executes it beyond sending the SQL.
    pub fn kind(mut self, kind: StepKind) -> Self {
        self.kind = kind;
        self
    }

    /// What the runtime checks after it.
    pub fn postcondition(mut self, postcondition: Postcondition) -> Self {
        self.postcondition = postcondition;
        self
    }
}
