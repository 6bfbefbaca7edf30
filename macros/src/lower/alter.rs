//! `alter table`: one `ALTER TABLE` statement per action, and the online recipes.
//!
//! Recipes on existing tables:
//!
//! - `set not null` (target PostgreSQL 12 or later): `ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT
//!   VALID` (brief `ACCESS EXCLUSIVE`), `VALIDATE CONSTRAINT c` (own step, `SHARE UPDATE EXCLUSIVE`,
//!   the scan happens here without blocking reads or writes), then `SET NOT NULL` and `DROP
//!   CONSTRAINT c` together (brief `ACCESS EXCLUSIVE`; PostgreSQL 12+ skips the scan because the valid
//!   check proves the column has no nulls).
//! - `add constraint n unique|primary key (cols)`: `CREATE UNIQUE INDEX CONCURRENTLY n`, then `ADD
//!   CONSTRAINT n UNIQUE|PRIMARY KEY USING INDEX n` (brief). For a primary key, PostgreSQL sets the key
//!   columns `NOT NULL` while attaching, scanning under `ACCESS EXCLUSIVE`; the same helper checks as
//!   above (added and validated before, dropped right after, in the attaching transaction) let it skip
//!   that scan.
//! - `add column c T default VOLATILE [not null]` (target PostgreSQL 11 or later; an unknown function
//!   counts as volatile): a volatile default would be computed for every existing row in a rewrite
//!   under `ACCESS EXCLUSIVE`. Instead: `ADD COLUMN c T` (no default, so no rewrite) and `ALTER COLUMN
//!   c SET DEFAULT expr` in one brief transaction, after which new rows get the default; then a
//!   batched backfill `set c = expr where c is null` of the existing rows (see `backfill`); then, when
//!   `not null` was declared, the `set not null` recipe above (from PostgreSQL 12; under an override on
//!   11, a plain `SET NOT NULL`, which scans under `ACCESS EXCLUSIVE`). The end state is the one the
//!   single statement describes, except that each existing row's value was computed when its batch ran.

use zerodown_runtime::plan::{LockLevel, Postcondition};

use crate::ast::{
    AlterAction, AlterActionKind, ColumnConstraintKind, ColumnDef, ExprKind, KeyColumns, Name,
    QName, TableConstraint, TableConstraintKind,
};
use crate::render::{
    column_def, expr, quote_ident, render_qname, render_type, table_constraint,
    table_constraint_body,
};
use crate::{types, volatility};

use super::context::Context;
use super::naming::PlanGeneration;
use super::stmt::{Inverse, Lowered, TableRef};
use super::{backfill, guard, index, inverse, leak_str, naming};

/// Every action of one `alter table`, in order.
pub(super) fn alter_table(
    cx: &mut Context,
    table: &QName,
    actions: &[AlterAction],
) -> Vec<Lowered> {
    let mut out = Vec::new();
    // Each action is its own statement, so after `rename to` the later ones name the new table.
    let mut table = table.clone();
    for action in actions {
        let mut lowered = action_statements(cx, &table, &action.kind);
        if !cx.is_new(&table)
            && on_column(&action.kind).is_some_and(|c| cx.is_new_column(&table, c))
        {
            // A column this migration added is dropped by the undo of its `add column`.
            for l in &mut lowered {
                l.inverse = Inverse::Nothing;
            }
        }
        out.extend(lowered);
        if let AlterActionKind::AddColumn {
            if_not_exists: false,
            column,
        } = &action.kind
        {
            cx.add_column(&table, &column.name.value);
        }
        if let AlterActionKind::RenameTo { to } = &action.kind {
            cx.rename_table(&table, to);
            table.name = to.clone();
        }
    }
    out
}

/// The column an action changes in place, when undoing the column's `add column` undoes the action
/// too (not a rename: the undo would then look for the column under its old name).
fn on_column(action: &AlterActionKind) -> Option<&str> {
    match action {
        AlterActionKind::DropColumn { column, .. }
        | AlterActionKind::AlterType { column, .. }
        | AlterActionKind::SetDefault { column, .. }
        | AlterActionKind::DropDefault { column }
        | AlterActionKind::SetNotNull { column }
        | AlterActionKind::DropNotNull { column } => Some(&column.value),
        _ => None,
    }
}

fn action_statements(cx: &Context, table: &QName, action: &AlterActionKind) -> Vec<Lowered> {
    let mut lowered = action_lowered(cx, table, action);
    if cx.is_new(table) {
        // The undo of the `create table` drops the table with everything on it; a renamed table
        // would not be found under its name.
        for l in &mut lowered {
            l.inverse = match action {
                AlterActionKind::RenameTo { .. } => Inverse::Irreversible(format!(
                    "`{}` renames a table this migration created, which its undo drops by the old name",
                    l.description
                )),
                _ => Inverse::Nothing,
            };
        }
    }
    lowered
}

fn action_lowered(cx: &Context, table: &QName, action: &AlterActionKind) -> Vec<Lowered> {
    let t = render_qname(table);
    let existing = cx.existing(table);
    let alter = |sql: String| format!("ALTER TABLE {t} {sql}");
    let column = |c: &Name| format!("{t}.{}", quote_ident(&c.value));
    // The common case: one statement under `ACCESS EXCLUSIVE`.
    let simple = |description: String, sql: String| {
        Lowered::new(description, alter(sql)).lock_on(LockLevel::AccessExclusive, existing.clone())
    };
    match action {
        AlterActionKind::AddColumn {
            if_not_exists,
            column: def,
        } => match (&existing, volatile_default(cx, def)) {
            (Some(existing), Some(default)) => {
                volatile_default_recipe(cx, table, existing, *if_not_exists, def, default)
            }
            _ => vec![add_column(cx, table, existing.clone(), *if_not_exists, def)],
        },
        AlterActionKind::DropColumn {
            if_exists,
            column: c,
            cascade,
        } => vec![simple(
            format!("drop column {} from {t}", quote_ident(&c.value)),
            format!(
                "DROP COLUMN {}{}{}",
                if *if_exists { "IF EXISTS " } else { "" },
                quote_ident(&c.value),
                if *cascade { " CASCADE" } else { "" }
            ),
        )],
        AlterActionKind::AlterType {
            column: c,
            ty,
            from,
            using,
        } => {
            let utc = match (from, using) {
                (Some(from), Some(using)) => types::utc_reinterpretation(&c.value, from, ty, using),
                _ => false,
            };
            if utc && existing.is_some() && cx.target_at_least(12) {
                return utc_type_change(table, existing, c, ty);
            }
            let rewrites = existing.is_some()
                && types::alter_type_rewrites(from.as_ref(), ty, using.is_some());
            let mut sql = format!(
                "ALTER COLUMN {} TYPE {}",
                quote_ident(&c.value),
                render_type(ty)
            );
            if let Some(using) = using {
                sql.push_str(&format!(" USING {}", expr(using)));
            }
            vec![simple(
                format!("change type of {} to {}", column(c), render_type(ty)),
                sql,
            )
            .rewrites(rewrites)
            .slow(rewrites)]
        }
        AlterActionKind::SetDefault { column: c, expr: e } => vec![simple(
            format!("set default of {}", column(c)),
            format!(
                "ALTER COLUMN {} SET DEFAULT {}",
                quote_ident(&c.value),
                expr(e)
            ),
        )],
        AlterActionKind::DropDefault { column: c } => vec![simple(
            format!("drop default of {}", column(c)),
            format!("ALTER COLUMN {} DROP DEFAULT", quote_ident(&c.value)),
        )],
        AlterActionKind::SetNotNull { column: c } => match existing {
            Some(existing) if cx.target_at_least(12) => set_not_null_recipe(cx, table, existing, c),
            // New table, or (override only) a target without the CHECK shortcut: a plain
            // `SET NOT NULL`, which scans an existing table under `ACCESS EXCLUSIVE`.
            _ => vec![set_not_null(table, existing.clone(), c).slow(existing.is_some())],
        },
        AlterActionKind::DropNotNull { column: c } => vec![simple(
            format!("drop not null on {}", column(c)),
            format!("ALTER COLUMN {} DROP NOT NULL", quote_ident(&c.value)),
        )],
        AlterActionKind::RenameColumn { from, to } => vec![simple(
            format!(
                "rename column {} to {}",
                column(from),
                quote_ident(&to.value)
            ),
            format!(
                "RENAME COLUMN {} TO {}",
                quote_ident(&from.value),
                quote_ident(&to.value)
            ),
        )],
        AlterActionKind::RenameTo { to } => vec![simple(
            format!("rename table {t} to {}", quote_ident(&to.value)),
            format!("RENAME TO {}", quote_ident(&to.value)),
        )],
        AlterActionKind::AddConstraint(c) => add_constraint(cx, table, existing, c),
        // Statistics and storage parameters: how the planner and vacuum treat the table, not its
        // data; brief SHARE UPDATE EXCLUSIVE; nothing a rollback restores.
        AlterActionKind::SetStatistics {
            column: col,
            target,
        } => vec![Lowered::new(
            format!("set statistics of {} to {}", column(col), expr(target)),
            alter(format!(
                "ALTER COLUMN {} SET STATISTICS {}",
                quote_ident(&col.value),
                expr(target)
            )),
        )
        .lock_on(LockLevel::ShareUpdateExclusive, existing.clone())
        .inverse(Inverse::Nothing)],
        AlterActionKind::SetStorage { params } => {
            let list: Vec<String> = params
                .iter()
                .map(|(n, v)| format!("{} = {}", n.value, expr(v)))
                .collect();
            vec![Lowered::new(
                format!("set storage parameters of {t}: {}", list.join(", ")),
                alter(format!("SET ({})", list.join(", "))),
            )
            .lock_on(LockLevel::ShareUpdateExclusive, existing.clone())
            .inverse(Inverse::Nothing)]
        }
        AlterActionKind::ValidateConstraint { name } => {
            vec![validate(table, existing, &name.value)]
        }
        AlterActionKind::DropConstraint {
            if_exists,
            name,
            cascade,
        } => vec![simple(
            format!("drop constraint {} from {t}", quote_ident(&name.value)),
            format!(
                "DROP CONSTRAINT {}{}{}",
                if *if_exists { "IF EXISTS " } else { "" },
                quote_ident(&name.value),
                if *cascade { " CASCADE" } else { "" }
            ),
        )],
    }
}

/// `ADD COLUMN`. Brief under `ACCESS EXCLUSIVE` unless PostgreSQL has to rewrite the table (a serial
/// or identity column, a stored generated column, a volatile default, or any non-null default before
/// PostgreSQL 11) or scan it (an inline check, unique, primary key or foreign key, or `NOT NULL`
/// without a default).
fn add_column(
    cx: &Context,
    table: &QName,
    existing: Option<TableRef>,
    if_not_exists: bool,
    def: &ColumnDef,
) -> Lowered {
    let t = render_qname(table);
    let sql = format!(
        "ALTER TABLE {t} ADD COLUMN {}{}",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        column_def(def)
    );
    let is_serial = is_serial(def);
    let default = def.default().filter(|e| !matches!(e.kind, ExprKind::Null));
    let mut rewrites = is_serial
        || default.is_some_and(|e| volatility::first_volatile(e).is_some())
        || (default.is_some() && !cx.target_at_least(11));
    let mut scans = def.is_not_null() && default.is_none();
    let mut lowered = Lowered::new(
        format!("add column {} to {t}", quote_ident(&def.name.value)),
        sql,
    )
    .lock_on(LockLevel::AccessExclusive, existing.clone());
    for constraint in &def.constraints {
        match &constraint.kind {
            ColumnConstraintKind::Identity { .. } | ColumnConstraintKind::GeneratedStored(_) => {
                rewrites = true
            }
            ColumnConstraintKind::Check(_)
            | ColumnConstraintKind::Unique
            | ColumnConstraintKind::PrimaryKey => scans = true,
            ColumnConstraintKind::References(target) => {
                // Only values are validated: a column added without one holds NULLs, and nothing is
                // scanned.
                scans |= default.is_some();
                // The foreign key also adds triggers on the referenced table.
                lowered = lowered.lock_on(LockLevel::ShareRowExclusive, cx.existing(&target.table));
            }
            // A virtual column is computed when read: nothing is written or checked.
            ColumnConstraintKind::NotNull
            | ColumnConstraintKind::Null
            | ColumnConstraintKind::GeneratedVirtual(_)
            | ColumnConstraintKind::Default(_) => {}
        }
    }
    let on_existing = existing.is_some();
    let name = quote_ident(&def.name.value);
    let lowered = match existing {
        // The column and the values this migration wrote into it go (see `docs/failures.md`).
        Some(existing) if !if_not_exists => lowered
            .undo(inverse::drop_column(table, existing, &def.name.value))
            .live(
                format!("column:{t}.{name}"),
                if def.is_not_null() && def.default().is_none() {
                    format!("the column {name} of {t} (NOT NULL, no default) stays: inserts not naming it fail")
                } else {
                    format!("the column {name} of {t} stays (writes not naming it are unaffected)")
                },
            ),
        Some(_) => lowered.irreversible(format!(
            "`add column if not exists {name}` may have found the column on {t} before the migration"
        )),
        None => lowered.inverse(Inverse::Nothing),
    };
    lowered
        .rewrites(on_existing && rewrites)
        .slow(on_existing && (rewrites || scans))
}

/// The default of an added column that needs the volatile-default recipe: volatile (or unknown), on
/// a target where the recipe applies (before 11 every default rewrites; that is rejected, or allowed
/// as written under an override), and not on a column that fills itself some other way.
fn volatile_default<'a>(cx: &Context, def: &'a ColumnDef) -> Option<&'a crate::ast::Expr> {
    let fills_itself = def.constraints.iter().any(|k| {
        matches!(
            k.kind,
            ColumnConstraintKind::Identity { .. }
                | ColumnConstraintKind::GeneratedStored(_)
                | ColumnConstraintKind::GeneratedVirtual(_)
        )
    });
    let default = def
        .default()
        .filter(|e| !matches!(e.kind, ExprKind::Null))?;
    let volatile = volatility::first_volatile(default).is_some();
    (volatile && cx.target_at_least(11) && !fills_itself && !is_serial(def)).then_some(default)
}

/// The volatile-default recipe (see the module docs).
fn volatile_default_recipe(
    cx: &Context,
    table: &QName,
    existing: &TableRef,
    if_not_exists: bool,
    def: &ColumnDef,
    default: &crate::ast::Expr,
) -> Vec<Lowered> {
    let t = render_qname(table);
    let c = quote_ident(&def.name.value);
    let mut bare = def.clone();
    bare.constraints.retain(|k| {
        !matches!(
            k.kind,
            ColumnConstraintKind::Default(_) | ColumnConstraintKind::NotNull
        )
    });
    let mut out = vec![
        add_column(cx, table, Some(existing.clone()), if_not_exists, &bare),
        // The default and the values the backfill writes go with the column.
        Lowered::new(
            format!("set default of {t}.{c}"),
            format!(
                "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {}",
                expr(default)
            ),
        )
        .lock_on(LockLevel::AccessExclusive, Some(existing.clone()))
        .inverse(Inverse::Nothing),
        backfill::step(
            cx,
            table,
            vec![c.clone()],
            format!("{c} = {}", expr(default)),
            format!("{c} IS NULL"),
            Vec::new(),
        )
        .inverse(Inverse::Nothing),
    ];
    if def.is_not_null() {
        if cx.target_at_least(12) {
            out.extend(set_not_null_recipe(cx, table, existing.clone(), &def.name));
        } else {
            // Override of `volatile_default` only: scans under `ACCESS EXCLUSIVE`.
            out.push(set_not_null(table, Some(existing.clone()), &def.name).slow(true));
        }
    }
    out
}

fn is_serial(def: &ColumnDef) -> bool {
    def.ty.schema.is_none()
        && def.ty.array_dims == 0
        && matches!(
            def.ty.words.as_slice(),
            [w] if matches!(w.as_str(), "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8")
        )
}

/// `ADD CONSTRAINT`: check and foreign key as written (`NOT VALID` keeps them brief), unique and
/// primary key through a concurrently built index on existing tables.
fn add_constraint(
    cx: &Context,
    table: &QName,
    existing: Option<TableRef>,
    c: &TableConstraint,
) -> Vec<Lowered> {
    let t = render_qname(table);
    let what = match &c.name {
        Some(name) => format!(" {}", quote_ident(&name.value)),
        None => String::new(),
    };
    let not_valid = if c.not_valid.is_some() {
        " not valid"
    } else {
        ""
    };
    let validates = existing.is_some() && c.not_valid.is_none();
    let sql = format!("ALTER TABLE {t} ADD {}", table_constraint(c));
    // A named constraint added to an existing table is undone by dropping it; PostgreSQL names an
    // unnamed one (override only), so the macro cannot.
    let undone = |lowered: Lowered, what_kind: &str| -> Lowered {
        match (&existing, &c.name) {
            (Some(existing), Some(name)) => lowered
                .undo(inverse::drop_constraint(
                    table,
                    existing.clone(),
                    &name.value,
                ))
                .live(
                    format!("constraint:{t}.{}", name.value),
                    format!(
                        "the {what_kind} {} on {t} stays: inserts and updates violating it fail",
                        quote_ident(&name.value)
                    ),
                ),
            (Some(_), None) => lowered.irreversible(format!(
                "the unnamed {what_kind} added to {t} has a name PostgreSQL chose"
            )),
            (None, _) => lowered.inverse(Inverse::Nothing),
        }
    };
    match &c.kind {
        TableConstraintKind::Check(_) => {
            vec![undone(
                Lowered::new(format!("add check{what} to {t}{not_valid}"), sql)
                    .lock_on(LockLevel::AccessExclusive, existing.clone())
                    .slow(validates),
                "check constraint",
            )]
        }
        // PostgreSQL 18: `NOT VALID` is catalog-only; `validate constraint` scans online.
        TableConstraintKind::NotNull(_) => {
            vec![undone(
                Lowered::new(format!("add not null{what} to {t}{not_valid}"), sql)
                    .lock_on(LockLevel::AccessExclusive, existing.clone())
                    .slow(validates),
                "not-null constraint",
            )]
        }
        TableConstraintKind::ForeignKey { target, .. } => {
            // `SHARE ROW EXCLUSIVE` on both tables: PostgreSQL adds triggers to each.
            let mut fk = undone(
                Lowered::new(format!("add foreign key{what} to {t}{not_valid}"), sql)
                    .lock_on(LockLevel::ShareRowExclusive, existing.clone())
                    .lock_on(LockLevel::ShareRowExclusive, cx.existing(&target.table))
                    .slow(validates),
                "foreign key",
            );
            // Dropping it removes the triggers on the referenced table too.
            if let Inverse::Sql(undo) = &mut fk.inverse {
                for u in undo {
                    *u = u
                        .clone()
                        .lock_on(LockLevel::AccessExclusive, cx.existing(&target.table));
                }
            }
            vec![fk]
        }
        TableConstraintKind::Unique { columns, include }
        | TableConstraintKind::PrimaryKey { columns, include } => {
            let primary_key = matches!(c.kind, TableConstraintKind::PrimaryKey { .. });
            match existing.clone() {
                Some(existing) => {
                    unique_recipe(cx, table, existing, c, columns, include, primary_key)
                }
                None => vec![Lowered::new(format!("add constraint{what} to {t}"), sql)],
            }
        }
        TableConstraintKind::UniqueUsingIndex(_) | TableConstraintKind::PrimaryKeyUsingIndex(_) => {
            let lowered = Lowered::new(format!("attach index as constraint{what} to {t}"), sql)
                .lock_on(LockLevel::AccessExclusive, existing.clone());
            let mut out = Vec::new();
            // Columns the catalog did not know: the server checks them before attaching would scan.
            // (Known `NOT NULL` needs no check; known nullable was judged at compile time, and under
            // an override the scan is what the user allowed.)
            if let (
                TableConstraintKind::PrimaryKeyUsingIndex(index),
                Some(_),
                KeyColumns::Unknown,
            ) = (&c.kind, &existing, &c.key_columns)
            {
                if cx.generation == PlanGeneration::Current {
                    out.push(guard::key_columns_not_null(
                        table,
                        existing.clone(),
                        &index.value,
                    ));
                }
            }
            out.push(match existing {
                Some(_) => lowered.irreversible(format!(
                    "dropping the constraint{what} on {t} would drop the index it took over, built before this migration"
                )),
                None => lowered.inverse(Inverse::Nothing),
            });
            out
        }
        // Override only: builds an index under `ACCESS EXCLUSIVE`.
        TableConstraintKind::Exclude { .. } => {
            let on_existing = existing.is_some();
            vec![undone(
                Lowered::new(format!("add exclusion constraint{what} to {t}"), sql)
                    .lock_on(LockLevel::AccessExclusive, existing.clone())
                    .slow(on_existing),
                "exclusion constraint",
            )]
        }
    }
}

/// `alter column c type timestamptz from timestamp using c at time zone 'UTC'` (or back), target 12+:
/// the same values as the plain cast with the session time zone UTC, which PostgreSQL then makes
/// without rewriting the table. In one transaction: `SET LOCAL TimeZone = 'UTC'`, a guard that no
/// index uses the column (it would be rebuilt under `ACCESS EXCLUSIVE`), the change without `USING`,
/// and the session's own time zone back for the rest of the step.
fn utc_type_change(
    table: &QName,
    existing: Option<TableRef>,
    c: &Name,
    ty: &crate::ast::Type,
) -> Vec<Lowered> {
    let t = render_qname(table);
    let session = |description: &str, sql: &str| {
        Lowered::new(description, sql)
            .lock_on(LockLevel::None, existing.clone())
            .inverse(Inverse::Nothing)
    };
    vec![
        session(
            "read timestamps in UTC for the type change",
            "SET LOCAL TimeZone = 'UTC'",
        ),
        guard::no_index_on(table, existing.clone(), &c.value),
        Lowered::new(
            format!(
                "change type of {t}.{} to {} (stored values read as UTC: no rewrite)",
                quote_ident(&c.value),
                render_type(ty)
            ),
            format!(
                "ALTER TABLE {t} ALTER COLUMN {} TYPE {}",
                quote_ident(&c.value),
                render_type(ty)
            ),
        )
        .lock_on(LockLevel::AccessExclusive, existing.clone()),
        session(
            "restore the session's time zone",
            "SET LOCAL TimeZone TO DEFAULT",
        ),
    ]
}

/// `ALTER TABLE t VALIDATE CONSTRAINT c`: its own step, scanning under `SHARE UPDATE EXCLUSIVE` (a
/// foreign key's validation also takes `ROW SHARE` on the referenced table, which the macro cannot
/// name here), with the long online timeouts.
pub(super) fn validate(table: &QName, existing: Option<TableRef>, constraint: &str) -> Lowered {
    let t = render_qname(table);
    let c = quote_ident(constraint);
    // Validation changes what the constraint proves, not what it lets the application write.
    let lowered = Lowered::new(
        format!("validate constraint {c} on {t}"),
        format!("ALTER TABLE {t} VALIDATE CONSTRAINT {c}"),
    )
    .inverse(Inverse::Nothing);
    match existing {
        Some(existing) => lowered
            .lock_on(LockLevel::ShareUpdateExclusive, Some(existing))
            .slow(true)
            .postcondition(Postcondition::ConstraintValidated {
                table: leak_str(t),
                constraint: leak_str(constraint.to_owned()),
            }),
        // On a table created in this migration it runs inside the creating transaction.
        None => lowered,
    }
}

/// `SET NOT NULL`; undone by `DROP NOT NULL` (the column was nullable before, or the migration would
/// not set it).
fn set_not_null(table: &QName, existing: Option<TableRef>, column: &Name) -> Lowered {
    let t = render_qname(table);
    let c = quote_ident(&column.value);
    let lowered = Lowered::new(
        format!("set not null on {t}.{c}"),
        format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"),
    )
    .lock_on(LockLevel::AccessExclusive, existing.clone());
    match existing {
        Some(existing) => lowered
            .undo(inverse::drop_not_null(table, existing, &column.value))
            .live(
                format!("not-null:{t}.{c}"),
                format!("{t}.{c} is NOT NULL: inserts and updates writing NULL into it fail"),
            ),
        None => lowered.inverse(Inverse::Nothing),
    }
}

/// `ADD CONSTRAINT _zd_<col>_nn CHECK ("col" IS NOT NULL) NOT VALID`; returns the statement and the
/// helper's name, which the runtime checks is free on the table before the migration starts.
fn add_not_null_check(
    cx: &Context,
    table: &QName,
    existing: TableRef,
    column: &Name,
) -> (Lowered, String) {
    let t = render_qname(table);
    let name = naming::not_null_check(&table.name.value, &column.value, cx.generation);
    let c = quote_ident(&name);
    let sql = format!(
        "ALTER TABLE {t} ADD CONSTRAINT {c} CHECK ({} IS NOT NULL) NOT VALID",
        quote_ident(&column.value)
    );
    let lowered = Lowered::new(format!("add check {c} to {t} not valid"), sql)
        .lock_on(LockLevel::AccessExclusive, Some(existing.clone()))
        .undo(inverse::drop_constraint(table, existing, &name))
        .claims(&t, &name)
        .live(
            helper_key(&t, &name),
            format!(
                "the check constraint {c} (NOT VALID) on {t} stays: inserts and updates writing NULL into {} fail",
                quote_ident(&column.value)
            ),
        );
    (lowered, name)
}

/// The key under which a helper check is [`live`](Lowered::live) until its drop.
pub(super) fn helper_key(table: &str, name: &str) -> String {
    format!("helper:{table}.{name}")
}

/// Drops a helper check; nothing to undo, the check was this migration's own.
pub(super) fn drop_helper(table: &QName, existing: TableRef, name: &str) -> Lowered {
    let t = render_qname(table);
    let c = quote_ident(name);
    Lowered::new(
        format!("drop helper constraint {c} from {t}"),
        format!("ALTER TABLE {t} DROP CONSTRAINT {c}"),
    )
    .lock_on(LockLevel::AccessExclusive, Some(existing))
    .inverse(Inverse::Nothing)
    .removes(helper_key(&t, name))
}

fn set_not_null_recipe(
    cx: &Context,
    table: &QName,
    existing: TableRef,
    column: &Name,
) -> Vec<Lowered> {
    let (add, helper) = add_not_null_check(cx, table, existing.clone(), column);
    vec![
        add,
        validate(table, Some(existing.clone()), &helper),
        set_not_null(table, Some(existing.clone()), column),
        drop_helper(table, existing, &helper),
    ]
}

fn unique_recipe(
    cx: &Context,
    table: &QName,
    existing: TableRef,
    c: &TableConstraint,
    columns: &[Name],
    include: &[Name],
    primary_key: bool,
) -> Vec<Lowered> {
    let t = render_qname(table);
    let name = match &c.name {
        Some(n) => n.value.clone(),
        // Override only (`unnamed_constraint`): the name PostgreSQL would choose.
        None => naming::constraint_index(&table.name.value, columns, primary_key),
    };
    let quoted = quote_ident(&name);
    let mut out = vec![index::unique_for_constraint(
        table,
        existing.clone(),
        &name,
        columns,
        include,
    )];
    // Helper checks prove the key columns non-null, so attaching the primary key skips its scan.
    let mut helpers = Vec::new();
    if primary_key && cx.target_at_least(12) {
        for column in columns {
            let (add, helper) = add_not_null_check(cx, table, existing.clone(), column);
            out.push(add);
            helpers.push(helper);
        }
        for helper in &helpers {
            out.push(validate(table, Some(existing.clone()), helper));
        }
    }
    let kind = if primary_key {
        TableConstraintKind::PrimaryKeyUsingIndex(Name {
            value: name.clone(),
            span: table.name.span,
        })
    } else {
        TableConstraintKind::UniqueUsingIndex(Name {
            value: name.clone(),
            span: table.name.span,
        })
    };
    let sql = format!(
        "ALTER TABLE {t} ADD CONSTRAINT {quoted} {}",
        table_constraint_body(&kind)
    );
    let as_what = if primary_key {
        "primary key"
    } else {
        "unique constraint"
    };
    // Undone by dropping the constraint, which drops its index (built by this migration). The key
    // columns of a primary key keep the `NOT NULL` PostgreSQL set when attaching it.
    out.push(
        Lowered::new(format!("attach index {quoted} as {as_what} on {t}"), sql)
            .lock_on(LockLevel::AccessExclusive, Some(existing.clone()))
            // Before PostgreSQL 12 nothing spares the primary key's `NOT NULL` scan.
            .slow(primary_key && helpers.is_empty())
            .undo(inverse::drop_constraint(table, existing.clone(), &name)),
    );
    for helper in &helpers {
        out.push(drop_helper(table, existing.clone(), helper));
    }
    out
}
