//! The DSL's syntax tree. Built by `parse`, judged by `check`, turned into a plan by `lower`.
//!
//! Every node that an error can point at keeps a [`Range`] of the user's tokens. Names are already
//! folded to lowercase, the way PostgreSQL folds unquoted identifiers.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;

/// The first and last token of a construct, so an error can underline all of it on stable Rust.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub start: Span,
    pub end: Span,
}

impl Range {
    pub fn new(start: Span, end: Span) -> Self {
        Range { start, end }
    }

    pub fn single(span: Span) -> Self {
        Range {
            start: span,
            end: span,
        }
    }

    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Range) -> Range {
        Range {
            start: self.start,
            end: other.end,
        }
    }

    /// An error covering the whole range: `syn::Error::new_spanned` takes the span of the first and the
    /// last token of what it is given, so two placeholder tokens carry the range.
    pub fn error(&self, message: impl core::fmt::Display) -> syn::Error {
        syn::Error::new_spanned(self, message)
    }
}

impl ToTokens for Range {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend([
            TokenTree::Ident(Ident::new("start", self.start)),
            TokenTree::Ident(Ident::new("end", self.end)),
        ]);
    }
}

/// A PostgreSQL identifier, folded to lowercase (a Rust raw identifier `r#type` gives `type`).
#[derive(Debug, Clone)]
pub struct Name {
    pub value: String,
    pub span: Span,
}

impl Name {
    pub fn range(&self) -> Range {
        Range::single(self.span)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// `schema.name` or `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct QName {
    pub schema: Option<Name>,
    pub name: Name,
}

impl QName {
    pub fn range(&self) -> Range {
        match &self.schema {
            Some(s) => Range::new(s.span, self.name.span),
            None => self.name.range(),
        }
    }
}

/// A string literal written as a Rust `"..."` (or raw `r"..."`) string; `value` is unescaped.
#[derive(Debug, Clone)]
pub struct Str {
    pub value: String,
    pub span: Span,
}

/// The whole `migration!` input: `/// doc  pub mod m0002_name { settings; statements }`.
#[derive(Debug)]
pub struct MigrationInput {
    /// The doc comment lines, joined with `\n` and trimmed.
    pub doc: String,
    /// Attributes other than doc comments, re-emitted on the generated module (e.g. `#[cfg(..)]`).
    pub attrs: Vec<syn::Attribute>,
    /// `pub`, `pub(crate)` or inherited.
    pub vis: syn::Visibility,
    /// The module name as written (`m0002_add_email_index`).
    pub ident: Ident,
    /// The ordering key parsed from the module name (2).
    pub version: u64,
    /// The module name without its version prefix (`add_email_index`).
    pub name: String,
    pub settings: Vec<Setting>,
    pub body: Vec<Item>,
}

/// `set NAME = VALUE;`
#[derive(Debug, Clone)]
pub struct Setting {
    pub name: Name,
    pub value: SettingValue,
    /// From `set` to the end of the value.
    pub range: Range,
}

/// The value of a setting, validated per setting by the parser.
#[derive(Debug, Clone)]
pub enum SettingValue {
    /// A duration (`2s`, `500ms`, `1min`, `1h`, `"2s"`), in milliseconds.
    Duration { ms: u64, range: Range },
    /// A plain integer (`10`, `1_000`).
    Integer { value: u64, range: Range },
}

impl SettingValue {
    pub fn range(&self) -> Range {
        match self {
            SettingValue::Duration { range, .. } | SettingValue::Integer { range, .. } => *range,
        }
    }
}

/// A top-level element of the migration body.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // built once per statement; boxing buys nothing
pub enum Item {
    Stmt(Stmt),
    /// `unsafe(reason = "...", allow = [rule, ...]) { statements }`
    Unsafe(UnsafeBlock),
}

/// A per-rule override: the statements inside may break the listed rules, and only those.
#[derive(Debug)]
pub struct UnsafeBlock {
    /// The `unsafe` keyword.
    pub keyword: Range,
    /// `None` when no `reason = "..."` was written; an empty or blank reason is kept as written.
    pub reason: Option<Str>,
    /// The rule names as written (validated against the rule list by `check`).
    pub allow: Vec<Name>,
    pub body: Vec<Stmt>,
}

/// One statement and the tokens it was written with.
#[derive(Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    /// From the first keyword to the token before `;`.
    pub range: Range,
}

impl Stmt {
    /// Whether the statement writes existing rows in batches (a `backfill`, an `expand` type change
    /// or rename, an added column with a volatile default): what `fires_user_triggers` acknowledges.
    pub fn writes_rows_in_batches(&self) -> bool {
        match &self.kind {
            StmtKind::Backfill(_) => true,
            StmtKind::Expand(e) => {
                matches!(
                    e.op,
                    ExpandOp::AlterType { .. } | ExpandOp::RenameColumn { .. }
                )
            }
            StmtKind::AlterTable { actions, .. } => actions.iter().any(|a| match &a.kind {
                AlterActionKind::AddColumn { column, .. } => column
                    .default()
                    .is_some_and(|e| crate::volatility::first_volatile(e).is_some()),
                _ => false,
            }),
            _ => false,
        }
    }
}

#[derive(Debug)]
pub enum StmtKind {
    CreateTable(CreateTable),
    /// `drop table [if exists] a, b [cascade]`
    DropTable {
        if_exists: bool,
        tables: Vec<QName>,
        cascade: bool,
    },
    CreateIndex(CreateIndex),
    /// `drop index [concurrently] [if exists] name [cascade]`
    DropIndex {
        concurrently: Option<Range>,
        if_exists: bool,
        index: QName,
        cascade: bool,
    },
    /// `alter table [if exists] name action [, action ...]`
    AlterTable {
        table: QName,
        actions: Vec<AlterAction>,
    },
    /// `create type name as enum ("a", "b")`
    CreateEnum {
        name: QName,
        values: Vec<Str>,
    },
    /// `alter type name add value [if not exists] "v" [before|after "w"]`
    AlterEnumAddValue {
        name: QName,
        if_not_exists: bool,
        value: Str,
        position: Option<(EnumPosition, Str)>,
    },
    /// `comment on table|column|index|type|constraint ... is "text" | null`
    CommentOn {
        target: CommentTarget,
        text: Option<Str>,
    },
    /// `raw(reason = "...", lock = access_exclusive, no_transaction) "SQL";`
    Raw(RawSql),
    /// `reindex [concurrently] index|table name`
    Reindex {
        concurrently: Option<Range>,
        target: ReindexTarget,
        name: QName,
    },
    /// `vacuum full [name]`
    VacuumFull {
        table: Option<QName>,
    },
    /// `cluster name [using index]`
    Cluster {
        table: QName,
        index: Option<Name>,
    },
    /// `lock table name [in MODE mode]`
    LockTable {
        table: QName,
        mode: Option<Vec<Name>>,
    },
    /// `truncate [table] a, b [cascade]`
    Truncate {
        tables: Vec<QName>,
        cascade: bool,
    },
    /// `drop schema [if exists] name [cascade]`
    DropSchema {
        if_exists: bool,
        name: Name,
        cascade: bool,
    },
    /// `drop database [if exists] name`
    DropDatabase {
        if_exists: bool,
        name: Name,
    },
    /// `backfill table set col = expr [, ..] [where predicate] [by (col, ..)]`
    Backfill(BackfillStmt),
    /// `alter index name rename to new`
    RenameIndex {
        index: QName,
        to: Name,
    },
    /// `create statistics name [(kind, ..)] on col, col from table`
    CreateStatistics {
        name: QName,
        kinds: Vec<Name>,
        columns: Vec<Name>,
        table: QName,
    },
    /// `analyze table [(col, ..)]`
    Analyze {
        table: QName,
        columns: Vec<Name>,
    },
    /// `refresh materialized view [concurrently] name`
    RefreshMaterializedView {
        concurrently: Option<Range>,
        view: QName,
    },
    /// `expand alter table ..` / `expand drop table ..`: an expand/contract operation.
    Expand(Expand),
    /// `alter table parent attach partition child for values ..|default`
    AttachPartition(AttachPartition),
    /// `alter table parent detach partition child [concurrently]`
    DetachPartition {
        parent: QName,
        partition: QName,
        concurrently: Option<Range>,
        /// Whether the parent has a default partition, as far as the schema catalog knows
        /// (`detach .. concurrently` is refused by PostgreSQL then).
        parent_has_default: bool,
    },
}

/// `alter table parent attach partition child for values ..|default`.
#[derive(Debug)]
pub struct AttachPartition {
    pub parent: QName,
    pub partition: QName,
    pub bound: PartitionBound,
    /// The bound, from `for values` or `default` to its end.
    pub bound_range: Range,
    /// What the schema catalog knows of the parent's partition key, filled before the checks: the
    /// online recipe writes the partition's bound as a `CHECK` on its key columns.
    pub parent_key: ParentKey,
}

/// A partition's bound.
#[derive(Debug, Clone)]
pub enum PartitionBound {
    /// `for values from (a, ..) to (b, ..)`; `minvalue`/`maxvalue` are [`RangeDatum::Min`]/`Max`.
    Range {
        from: Vec<RangeDatum>,
        to: Vec<RangeDatum>,
    },
    /// `for values in (a, ..)`
    List(Vec<Expr>),
    /// `for values with (modulus m, remainder r)`
    Hash { modulus: u64, remainder: u64 },
    /// `default`
    Default,
}

/// One value of a range bound.
#[derive(Debug, Clone)]
pub enum RangeDatum {
    Value(Expr),
    /// `minvalue`
    Min,
    /// `maxvalue`
    Max,
}

/// `partition by range|list|hash (col, ..)` of a `create table`.
#[derive(Debug, Clone)]
pub struct PartitionBy {
    pub strategy: PartitionStrategy,
    pub columns: Vec<Name>,
    pub range: Range,
}

/// How a partitioned table splits its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionStrategy {
    Range,
    List,
    Hash,
}

impl PartitionStrategy {
    /// The SQL keyword.
    pub fn as_sql(self) -> &'static str {
        match self {
            PartitionStrategy::Range => "RANGE",
            PartitionStrategy::List => "LIST",
            PartitionStrategy::Hash => "HASH",
        }
    }
}

/// What the schema catalog knows of a partitioned table's key, for `attach partition`.
#[derive(Debug, Clone, Default)]
pub enum ParentKey {
    /// A single `migration!`, a table declared `extern` or one raw SQL may have changed.
    #[default]
    Unknown,
    /// The catalog knows the table, and it is not partitioned (reported by the catalog's checks).
    NotPartitioned,
    Known {
        strategy: PartitionStrategy,
        /// The key columns with their types, as the catalog has them.
        columns: Vec<(String, Type)>,
        /// The parent has a default partition: attaching scans it under `ACCESS EXCLUSIVE`.
        has_default: bool,
        /// The parent's indexes the partition has no equivalent of: attaching would build them
        /// under `ACCESS EXCLUSIVE` on the partition, so the recipe builds them concurrently first.
        missing_indexes: Vec<PartitionIndex>,
    },
}

/// An index a partition needs before it is attached (see [`ParentKey::Known`]).
#[derive(Debug, Clone)]
pub struct PartitionIndex {
    /// The name PostgreSQL would give it on the partition.
    pub name: String,
    pub unique: bool,
    /// What follows `ON table` in its `CREATE INDEX`, rendered.
    pub definition: String,
    /// Its key list, rendered.
    pub keys_sql: String,
    /// `PRIMARY KEY` or `UNIQUE` when it backs such a constraint of the parent.
    pub constraint: Option<&'static str>,
}

/// An expand/contract operation: its expand phase runs with `run`, its contract phase with `complete`.
#[derive(Debug)]
pub struct Expand {
    pub table: QName,
    pub op: ExpandOp,
    /// The `alter table` action, or `drop table name`.
    pub op_range: Range,
    /// For a type change, rename or drop of a column: what the schema catalog knows of the column,
    /// filled before the checks, so the plan shows the SQL the runtime derives (`None` without a
    /// catalog).
    pub carry: Option<Box<CarryFacts>>,
}

/// What the schema catalog knows of a column an `expand` replaces: the objects carried to the new
/// column and what the `complete` transaction restores. Definitions are in PostgreSQL's shape.
#[derive(Debug, Clone, Default)]
pub struct CarryFacts {
    /// The table's schema.
    pub schema: String,
    /// Indexes on the column: (name, `CREATE [UNIQUE] INDEX name ON table ..`, the primary key
    /// (`true`) or unique constraint (`false`) it implements).
    pub indexes: Vec<(String, String, Option<bool>)>,
    /// Its check constraints and foreign keys: (name, definition, validated).
    pub constraints: Vec<(String, String, bool)>,
    /// Foreign keys referencing it: (table rendered, name, definition, validated).
    pub referencing: Vec<(String, String, String, bool)>,
    /// Sequences it owns (`serial`).
    pub sequences: Vec<String>,
    /// Its default, as SQL.
    pub default: Option<String>,
    pub not_null: bool,
    /// `generated .. as identity`: re-created by `complete` from the sequence's state.
    pub identity: bool,
    /// A constraint on it has the name PostgreSQL chose, which the catalog does not know.
    pub unnamed: bool,
    /// Its type, as `format_type` spells it (a rename's new column gets it).
    pub type_sql: String,
}

// One per statement: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ExpandOp {
    /// `expand alter table t alter [column] c [set data] type NEW from OLD [using expr]`
    AlterType {
        column: Name,
        ty: Type,
        from: Type,
        using: Option<Expr>,
    },
    /// `expand alter table t rename [column] a to b`
    RenameColumn { from: Name, to: Name },
    /// `expand alter table t rename to u`
    RenameTable { to: Name },
    /// `expand alter table t drop [column] c`
    DropColumn { column: Name },
    /// `expand drop table t`
    DropTable,
}

/// A data change applied in keyset batches by the runtime.
#[derive(Debug)]
pub struct BackfillStmt {
    pub table: QName,
    /// `col = expr`, in order; at least one.
    pub assignments: Vec<Assignment>,
    /// `where predicate`: the rows that still need the change.
    pub predicate: Option<Expr>,
    /// `by (a, b)`: the key to walk; empty for the primary key (found at run time).
    pub by: Vec<Name>,
    /// `keep`: a trigger keeps the set columns filled from their expressions from before the backfill
    /// until `complete` (the old application version keeps writing rows without them).
    pub keep: Option<Range>,
}

/// `col = expr` in a `backfill`.
#[derive(Debug)]
pub struct Assignment {
    pub column: Name,
    pub value: Expr,
    /// From the column to the end of the value.
    pub range: Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumPosition {
    Before,
    After,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReindexTarget {
    Index,
    Table,
}

#[derive(Debug)]
pub enum CommentTarget {
    Table(QName),
    /// `column table.col` (or `schema.table.col`)
    Column {
        table: QName,
        column: Name,
    },
    Index(QName),
    Type(QName),
    /// `constraint name on table`
    Constraint {
        name: Name,
        table: QName,
    },
}

#[derive(Debug)]
pub struct RawSql {
    /// The `raw` keyword.
    pub keyword: Range,
    pub reason: Option<Str>,
    /// `lock = access_exclusive`: the strongest lock the user expects; `None` means assume
    /// `ACCESS EXCLUSIVE`.
    pub lock: Option<(zerodown_runtime::plan::LockLevel, Range)>,
    /// `no_transaction`: run alone, outside a transaction (then it must be a single statement).
    pub no_transaction: bool,
    /// `allow = [rule, ..]`: the rules this SQL may break, as in `unsafe(.., allow = [..])`.
    pub allow: Vec<Name>,
    pub sql: Str,
}

/// `create table [if not exists] name ( column | table_constraint , ... )`
#[derive(Debug)]
pub struct CreateTable {
    pub if_not_exists: bool,
    pub name: QName,
    pub columns: Vec<ColumnDef>,
    pub constraints: Vec<TableConstraint>,
    /// `partition by ..`: a partitioned table (its rows live in its partitions).
    pub partition_by: Option<PartitionBy>,
}

/// `name type [column_constraint ...]`
#[derive(Debug, Clone)]
pub struct ColumnDef {
    pub name: Name,
    pub ty: Type,
    pub constraints: Vec<ColumnConstraint>,
    #[allow(dead_code)] // kept so future rules can point at the whole column/key
    pub range: Range,
}

impl ColumnDef {
    pub fn default(&self) -> Option<&Expr> {
        self.constraints.iter().find_map(|c| match &c.kind {
            ColumnConstraintKind::Default(e) => Some(e),
            _ => None,
        })
    }

    pub fn is_not_null(&self) -> bool {
        self.constraints.iter().any(|c| {
            matches!(
                c.kind,
                ColumnConstraintKind::NotNull | ColumnConstraintKind::PrimaryKey
            )
        })
    }
}

/// `[constraint name] kind`
#[derive(Debug, Clone)]
pub struct ColumnConstraint {
    pub name: Option<Name>,
    pub kind: ColumnConstraintKind,
    pub range: Range,
}

#[derive(Debug, Clone)]
pub enum ColumnConstraintKind {
    NotNull,
    Null,
    Default(Expr),
    PrimaryKey,
    Unique,
    /// `references table [(col)] [on delete ..] [on update ..]`
    References(ForeignKeyTarget),
    Check(Expr),
    /// `generated always|by default as identity`
    Identity {
        always: bool,
    },
    /// `generated always as (expr) stored`
    GeneratedStored(Expr),
    /// `generated always as (expr) virtual` (PostgreSQL 18): computed when read, nothing stored.
    GeneratedVirtual(Expr),
}

/// The referenced side of a foreign key.
#[derive(Debug, Clone)]
pub struct ForeignKeyTarget {
    pub table: QName,
    pub columns: Vec<Name>,
    pub on_delete: Option<ReferentialAction>,
    pub on_update: Option<ReferentialAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferentialAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

/// `[constraint name] kind [not valid]` at table level (in `create table` or `add constraint`).
#[derive(Debug, Clone)]
pub struct TableConstraint {
    pub name: Option<Name>,
    pub kind: TableConstraintKind,
    /// The `not valid` keywords, when written.
    pub not_valid: Option<Range>,
    pub range: Range,
    /// For `primary key using index`: what the schema catalog of a `migrations!` set knows of the
    /// index's columns (attaching the key sets them `NOT NULL`, scanning when one allows NULLs).
    pub key_columns: KeyColumns,
}

/// Whether the columns of the index a `primary key using index` takes over allow NULLs, as far as
/// the schema catalog knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeyColumns {
    /// A single `migration!`, or an index the catalog does not know: the runtime checks.
    #[default]
    Unknown,
    /// Every column is `NOT NULL`: attaching sets nothing and scans nothing.
    NotNull,
    /// These columns allow NULLs.
    Nullable(Vec<String>),
}

#[derive(Debug, Clone)]
pub enum TableConstraintKind {
    Check(Expr),
    Unique {
        columns: Vec<Name>,
        include: Vec<Name>,
    },
    PrimaryKey {
        columns: Vec<Name>,
        include: Vec<Name>,
    },
    /// `unique using index name`
    UniqueUsingIndex(Name),
    /// `primary key using index name`
    PrimaryKeyUsingIndex(Name),
    ForeignKey {
        columns: Vec<Name>,
        target: ForeignKeyTarget,
    },
    /// `exclude ...`: parsed only to be rejected; the tokens are kept for an override.
    Exclude {
        tokens: TokenStream,
    },
    /// `not null column` (PostgreSQL 18): a named, catalogued `NOT NULL`, which can be added
    /// `not valid` and validated later.
    NotNull(Name),
}

/// One action of `alter table`.
#[derive(Debug)]
pub struct AlterAction {
    pub kind: AlterActionKind,
    pub range: Range,
}

#[derive(Debug)]
pub enum AlterActionKind {
    /// `add [column] [if not exists] def`
    AddColumn {
        if_not_exists: bool,
        column: ColumnDef,
    },
    /// `drop [column] [if exists] name [cascade]`
    DropColumn {
        if_exists: bool,
        column: Name,
        cascade: bool,
    },
    /// `alter [column] name [set data] type T [from OLD] [using expr]`: `from` states the current type so
    /// the macro can tell whether the change rewrites the table.
    AlterType {
        column: Name,
        ty: Type,
        from: Option<Type>,
        using: Option<Expr>,
    },
    /// `alter [column] name set default expr`
    SetDefault { column: Name, expr: Expr },
    /// `alter [column] name drop default`
    DropDefault { column: Name },
    /// `alter [column] name set not null`
    SetNotNull { column: Name },
    /// `alter [column] name drop not null`
    DropNotNull { column: Name },
    /// `rename [column] a to b`
    RenameColumn { from: Name, to: Name },
    /// `rename to b`
    RenameTo { to: Name },
    /// `add table_constraint`
    AddConstraint(TableConstraint),
    /// `validate constraint name`
    ValidateConstraint { name: Name },
    /// `drop constraint [if exists] name [cascade]`
    DropConstraint {
        if_exists: bool,
        name: Name,
        cascade: bool,
    },
    /// `alter [column] name set statistics N`
    SetStatistics { column: Name, target: Expr },
    /// `set (parameter = value, ..)`: storage parameters.
    SetStorage { params: Vec<(Name, Expr)> },
}

/// A column type: `bigint`, `varchar(255)`, `numeric(10, 2)`, `timestamp with time zone`, `text[]`,
/// `double precision`, or a user type `mood` / `app.mood`.
#[derive(Debug, Clone)]
pub struct Type {
    /// Schema of a user-defined type.
    pub schema: Option<Name>,
    /// The type name's words, lowercase (`["timestamp", "with", "time", "zone"]`).
    pub words: Vec<String>,
    /// Type modifiers: `varchar(255)` gives `[255]`.
    pub params: Vec<u64>,
    /// Number of `[]` suffixes.
    pub array_dims: usize,
    pub range: Range,
}

/// An index key: a column or a parenthesized expression, with optional opclass/order/nulls.
#[derive(Debug, Clone)]
pub struct IndexKey {
    pub expr: IndexKeyExpr,
    /// `text_pattern_ops` and the like.
    pub opclass: Option<Name>,
    /// `asc` (false) / `desc` (true)
    pub descending: Option<bool>,
    /// `nulls first` (true) / `nulls last` (false)
    pub nulls_first: Option<bool>,
    #[allow(dead_code)] // kept so future rules can point at the whole column/key
    pub range: Range,
}

#[derive(Debug, Clone)]
pub enum IndexKeyExpr {
    Column(Name),
    /// `(expr)` or a function call `lower(email)`
    Expr(Expr),
}

/// `create [unique] index [concurrently] [if not exists] [name] on table [using method] (keys)
/// [include (cols)] [where predicate]`
#[derive(Debug)]
pub struct CreateIndex {
    pub unique: bool,
    pub concurrently: Option<Range>,
    pub if_not_exists: bool,
    /// `None` when the user left the index unnamed (rejected by `check`).
    pub name: Option<Name>,
    pub table: QName,
    pub method: Option<Name>,
    pub keys: Vec<IndexKey>,
    pub include: Vec<Name>,
    pub predicate: Option<Expr>,
}

/// An SQL expression.
#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub range: Range,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    /// `"text"`, rendered as an escaped SQL string.
    String(String),
    /// `42`, `1.5`, written as digits (underscores removed).
    Number(String),
    Bool(bool),
    Null,
    /// `col` or `tbl.col`.
    Column(Vec<Name>),
    /// A niladic SQL value function written without parentheses: `current_timestamp`, `current_date`,
    /// `current_time`, `localtimestamp`, `localtime`, `current_user`, `session_user`.
    SqlValue(Name),
    /// `f(a, b)`, `schema.f(x)`, `count(*)`.
    Call {
        func: QName,
        args: Vec<Expr>,
        star: bool,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `expr::type`
    Cast {
        expr: Box<Expr>,
        ty: Type,
    },
    /// `expr is [not] null`
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `expr [not] in (a, b)`
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `expr [not] between low and high`
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    /// `case [operand] when .. then .. [else ..] end`
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
    /// `array[a, b]`
    Array(Vec<Expr>),
    /// `(expr)`, kept so rendering preserves the user's grouping.
    Paren(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// `||`
    Concat,
    Like,
    NotLike,
    ILike,
    NotILike,
    /// `~`, `~*`, `!~`, `!~*`: regular expression matches.
    Match {
        case_insensitive: bool,
        negated: bool,
    },
    /// `is distinct from` / `is not distinct from`
    IsDistinctFrom {
        negated: bool,
    },
    /// `@>`, `<@`, `&&`: containment and overlap for arrays, ranges, json.
    Contains,
    ContainedBy,
    Overlaps,
    /// `->`, `->>`: json access.
    JsonGet,
    JsonGetText,
    /// `ts at time zone zone`: the timestamp read in, or shown in, another time zone.
    AtTimeZone,
    /// Any other operator PostgreSQL knows at the "other operator" precedence level (`#>`, `#>>`, `?`,
    /// `?|`, `?&`, `@@`, `<->`, `-|-`, `<<`, `>>`, `|`, `&`, ...) or `^`, spelled as written.
    Other(&'static str),
}

impl BinaryOp {
    /// The SQL spelling.
    pub fn as_sql(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Concat => "||",
            BinaryOp::Like => "LIKE",
            BinaryOp::NotLike => "NOT LIKE",
            BinaryOp::ILike => "ILIKE",
            BinaryOp::NotILike => "NOT ILIKE",
            BinaryOp::Match {
                case_insensitive: false,
                negated: false,
            } => "~",
            BinaryOp::Match {
                case_insensitive: true,
                negated: false,
            } => "~*",
            BinaryOp::Match {
                case_insensitive: false,
                negated: true,
            } => "!~",
            BinaryOp::Match {
                case_insensitive: true,
                negated: true,
            } => "!~*",
            BinaryOp::IsDistinctFrom { negated: false } => "IS DISTINCT FROM",
            BinaryOp::IsDistinctFrom { negated: true } => "IS NOT DISTINCT FROM",
            BinaryOp::Contains => "@>",
            BinaryOp::ContainedBy => "<@",
            BinaryOp::Overlaps => "&&",
            BinaryOp::JsonGet => "->",
            BinaryOp::JsonGetText => "->>",
            BinaryOp::AtTimeZone => "AT TIME ZONE",
            BinaryOp::Other(op) => op,
        }
    }
}

impl Expr {
    /// Calls `f` on this expression and every sub-expression, outermost first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::String(_)
            | ExprKind::Number(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::Column(_)
            | ExprKind::SqlValue(_) => {}
            ExprKind::Call { args, .. } | ExprKind::Array(args) => {
                for a in args {
                    a.walk(f);
                }
            }
            ExprKind::Unary { expr, .. }
            | ExprKind::Cast { expr, .. }
            | ExprKind::IsNull { expr, .. }
            | ExprKind::Paren(expr) => expr.walk(f),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.walk(f);
                rhs.walk(f);
            }
            ExprKind::InList { expr, list, .. } => {
                expr.walk(f);
                for a in list {
                    a.walk(f);
                }
            }
            ExprKind::Between {
                expr, low, high, ..
            } => {
                expr.walk(f);
                low.walk(f);
                high.walk(f);
            }
            ExprKind::Case {
                operand,
                whens,
                else_,
            } => {
                if let Some(o) = operand {
                    o.walk(f);
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f);
                }
                if let Some(e) = else_ {
                    e.walk(f);
                }
            }
        }
    }
}
