//! `backfill`: `backfill_without_key`, `backfill_volatile_without_where`, and the errors of a
//! `backfill` that cannot work at all (a column set twice, a key column that is also set, a `where`
//! that the update can never make false).
//!
//! The runtime verifies a backfill by counting the rows that still match its pending predicate: the
//! `where`, and, when every value is the same in every transaction, `col IS DISTINCT FROM value` for
//! each assignment. A value that changes between transactions (a volatile or unknown function, the
//! current time) differs from batch to batch, so without a `where` that the update makes false the
//! count never reaches zero.
//!
//! The key is looked up at run time (the primary key, or a unique not-null key). Only for a table
//! created in this migration does the macro know it has none: the checker follows the keys such tables
//! get from `create table`, `alter table` and `create unique index`.

use std::collections::HashSet;

use super::{override_hint, show, Checker, Key};
use crate::ast::{
    AlterActionKind, BackfillStmt, ColumnConstraintKind, ColumnDef, ExprKind, IndexKeyExpr, Name,
    Range, Stmt, StmtKind, TableConstraint, TableConstraintKind,
};
use crate::rules::Rule;
use crate::volatility::{first_unstable, Unstable, Volatility};

/// What the checker knows about the keys of a table created in this migration.
#[derive(Debug, Default, Clone)]
pub(super) struct NewTableKeys {
    not_null: HashSet<String>,
    primary_key: bool,
    unique: Vec<Vec<String>>,
}

impl NewTableKeys {
    /// A primary key, or a unique constraint or index whose columns are all `NOT NULL`.
    fn has_key(&self) -> bool {
        self.primary_key
            || self
                .unique
                .iter()
                .any(|u| u.iter().all(|c| self.not_null.contains(c)))
    }

    fn column(&mut self, def: &ColumnDef) {
        let c = &def.name.value;
        if def.is_not_null() {
            self.not_null.insert(c.clone());
        }
        for k in &def.constraints {
            match k.kind {
                ColumnConstraintKind::PrimaryKey => self.primary_key = true,
                ColumnConstraintKind::Unique => self.unique.push(vec![c.clone()]),
                _ => {}
            }
        }
    }

    fn constraint(&mut self, k: &TableConstraint) {
        match &k.kind {
            TableConstraintKind::PrimaryKey { columns, .. } => {
                self.primary_key = true;
                self.not_null
                    .extend(columns.iter().map(|c| c.value.clone()));
            }
            TableConstraintKind::PrimaryKeyUsingIndex(_) => self.primary_key = true,
            TableConstraintKind::Unique { columns, .. } => self
                .unique
                .push(columns.iter().map(|c| c.value.clone()).collect()),
            _ => {}
        }
    }
}

/// Follows the keys of tables created in this migration. Called for every statement, after the
/// checker recorded it.
pub(super) fn track(ck: &mut Checker, stmt: &Stmt) {
    match &stmt.kind {
        StmtKind::CreateTable(t) if !t.if_not_exists => {
            let mut keys = NewTableKeys::default();
            for column in &t.columns {
                keys.column(column);
            }
            for k in &t.constraints {
                keys.constraint(k);
            }
            ck.new_table_keys.insert(Key::table(&t.name), keys);
        }
        StmtKind::DropTable { tables, .. } => {
            for t in tables {
                ck.new_table_keys.remove(&Key::table(t));
            }
        }
        StmtKind::AlterTable { table, actions } => {
            let mut key = Key::table(table);
            for action in actions {
                let Some(keys) = ck.new_table_keys.get_mut(&key) else {
                    return;
                };
                match &action.kind {
                    AlterActionKind::AddColumn { column, .. } => keys.column(column),
                    AlterActionKind::AddConstraint(k) => keys.constraint(k),
                    AlterActionKind::SetNotNull { column } => {
                        keys.not_null.insert(column.value.clone());
                    }
                    AlterActionKind::DropNotNull { column } => {
                        keys.not_null.remove(&column.value);
                    }
                    AlterActionKind::RenameTo { to } => {
                        let keys = ck.new_table_keys.remove(&key).unwrap_or_default();
                        key = Key {
                            schema: key.schema.clone(),
                            name: to.value.clone(),
                        };
                        ck.new_table_keys.insert(key.clone(), keys);
                    }
                    _ => {}
                }
            }
        }
        StmtKind::CreateIndex(ix) if ix.unique && ix.predicate.is_none() => {
            let columns: Option<Vec<String>> = ix
                .keys
                .iter()
                .map(|k| match &k.expr {
                    IndexKeyExpr::Column(c) => Some(c.value.clone()),
                    IndexKeyExpr::Expr(_) => None,
                })
                .collect();
            if let (Some(keys), Some(columns)) =
                (ck.new_table_keys.get_mut(&Key::table(&ix.table)), columns)
            {
                keys.unique.push(columns);
            }
        }
        _ => {}
    }
}

// backfill users set email_lower = lower(email) where email_lower is null by (id);
pub(super) fn check(ck: &mut Checker, b: &BackfillStmt) {
    let t = show(&b.table);
    let mut set: Vec<&Name> = Vec::new();
    for a in &b.assignments {
        if set.iter().any(|c| c.value == a.column.value) {
            ck.error(
                a.range,
                format_args!(
                    "column `{}` is set twice in this `backfill`; set each column once",
                    a.column.value
                ),
            );
        } else {
            set.push(&a.column);
        }
    }
    let mut by: Vec<&Name> = Vec::new();
    for k in &b.by {
        if by.iter().any(|c| c.value == k.value) {
            ck.error(
                k.range(),
                format_args!(
                    "column `{}` appears twice in `by`; list each key column once",
                    k.value
                ),
            );
            continue;
        }
        by.push(k);
        if set.iter().any(|c| c.value == k.value) {
            ck.error(
                k.range(),
                format_args!(
                    "`{}` is both set and in `by`: the backfill walks `{t}` in the order of its key, so it cannot change \
                     the key; walk it by another unique not-null key, or backfill the key column in a migration of its own",
                    k.value
                ),
            );
        }
    }

    // create table events (payload jsonb);  backfill events set ...;
    let key = Key::table(&b.table);
    if b.by.is_empty()
        && ck.is_new_table(&b.table)
        && ck.new_table_keys.get(&key).is_some_and(|k| !k.has_key())
    {
        ck.report(
            Rule::BackfillWithoutKey,
            b.table.range(),
            format_args!(
                "`{t}` is created in this migration without a primary key or a unique not-null key, so the backfill \
                 has no key to walk it in batches; give `{t}` a primary key, or name a unique not-null key with `by (..)`"
            ),
        );
    }

    let unstable: Vec<_> = b
        .assignments
        .iter()
        .filter_map(|a| first_unstable(&a.value).map(|u| (a, u)))
        .collect();
    let example = set.first().map_or("col".to_owned(), |c| c.value.clone());
    if let Some(keep) = b.keep {
        check_keep(ck, b, keep, &unstable);
    }
    match &b.predicate {
        // backfill users set token = gen_random_uuid();
        None => {
            for (a, (e, why)) in unstable {
                let c = &a.column.value;
                let (what, hint) = describe(e, why);
                ck.report(
                    Rule::BackfillVolatileWithoutWhere,
                    e.range,
                    format_args!(
                        "{what}, so without `where` the backfill cannot tell the rows it updated from the others (`{c} is \
                         distinct from ..` stays true) and cannot verify that it finished; add a `where` that the update \
                         makes false, e.g. `where {c} is null`{hint}"
                    ),
                );
            }
        }
        // backfill users set token = gen_random_uuid() where created_at < "2024-01-01";
        Some(predicate) if !unstable.is_empty() => {
            let mut mentions = false;
            predicate.walk(&mut |e| {
                if let ExprKind::Column(parts) = &e.kind {
                    if parts
                        .last()
                        .is_some_and(|p| set.iter().any(|c| c.value == p.value))
                    {
                        mentions = true;
                    }
                }
            });
            if !mentions {
                let columns: Vec<String> = set.iter().map(|c| format!("`{}`", c.value)).collect();
                ck.error(
                    predicate.range,
                    format_args!(
                        "this `where` mentions none of the columns the backfill sets ({}), so the rows it updates keep \
                         matching it and the backfill never finishes (a set value changes between batches, so the macro \
                         cannot add `is distinct from` itself); write a `where` the update makes false, e.g. `where \
                         {example} is null`",
                        columns.join(", ")
                    ),
                );
            }
        }
        Some(_) => {}
    }
}

/// "`random()` is volatile" and the override hint for unknown functions.
fn describe(e: &crate::ast::Expr, why: Unstable) -> (String, String) {
    match (&e.kind, why) {
        (ExprKind::Call { func, .. }, Unstable::Volatile(Volatility::Unknown)) => (
            format!(
                "`{}` is unknown to zerodown and counts as volatile",
                show(func)
            ),
            format!(
                " (if `{}` is immutable, use {})",
                show(func),
                override_hint(Rule::BackfillVolatileWithoutWhere)
            ),
        ),
        (ExprKind::Call { func, .. }, Unstable::Volatile(_)) => (
            format!(
                "`{}()` is volatile (its value differs from row to row)",
                show(func)
            ),
            String::new(),
        ),
        (ExprKind::Call { func, .. }, Unstable::Time) => (
            format!(
                "`{}()` is the time of the transaction and each batch is a transaction of its own",
                show(func)
            ),
            String::new(),
        ),
        (ExprKind::SqlValue(name), _) => (
            format!(
                "`{}` is the time of the transaction and each batch is a transaction of its own",
                name.value
            ),
            String::new(),
        ),
        _ => (
            "this value changes between batches".to_owned(),
            String::new(),
        ),
    }
}

/// `keep`: the trigger computes the same values as the backfill, from the row alone, on a table the
/// running application version writes.
fn check_keep(
    ck: &mut Checker,
    b: &BackfillStmt,
    keep: Range,
    unstable: &[(&crate::ast::Assignment, (&crate::ast::Expr, Unstable))],
) {
    let t = show(&b.table);
    // create table t (..); backfill t set .. keep;
    if ck.is_new_table(&b.table) {
        ck.error(
            keep,
            format_args!(
                "`{t}` is created in this migration, so no running application version writes it yet and there is \
                 nothing for `keep` to fill; remove `keep`"
            ),
        );
    }
    // backfill t set token = gen_random_uuid() keep;
    for (a, (e, why)) in unstable {
        let (what, _) = describe(e, *why);
        ck.error(
            e.range,
            format_args!(
                "{what}, so with `keep` the trigger and the backfill could store different values for `{}` and the \
                 backfill could never verify that every row equals it; `keep` needs a value computed from the row \
                 alone: remove `keep`, or compute `{}` from the row's columns",
                a.column.value, a.column.value
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::ctxt::Ctxt;
    use crate::parse;

    /// Every error of `body` (a migration's statements) through the real parser and checker.
    fn errors(body: &str) -> Vec<String> {
        let tokens = format!("pub mod m0001_test {{ {body} }}")
            .parse()
            .expect("tokens");
        let cx = Ctxt::new();
        if let Some(input) = parse::parse_migration(&cx, tokens) {
            let settings = parse::resolve_settings(&cx, &input.settings);
            super::super::check(&cx, &input, &settings);
        }
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn safe_forms_pass() {
        for body in [
            "backfill users set email_lower = lower(email);",
            "backfill app.users set a = 1, b = lower(c) || \"x\" where a is null by (id);",
            "backfill users set token = gen_random_uuid() where token is null;",
            "backfill users set seen_at = now() where seen_at is null or seen_at < \"2020-01-01\";",
            "backfill users set n = coalesce(n, 0) + 1 where n is null by (tenant_id, id)",
            // A new table with a key of some kind.
            "create table t (id int primary key, b text); backfill t set b = \"x\";",
            "create table t (a int not null, b text, constraint t_a unique (a)); backfill t set b = \"x\";",
            "create table t (a int unique, b text); alter table t alter column a set not null; backfill t set b = \"x\";",
            "create table t (a int not null, b text); create unique index t_a on t (a); backfill t set b = \"x\";",
            "create table t (a int, b text); alter table t add constraint t_pkey primary key (a); backfill t set b = \"x\";",
            "create table t (a int, b text); backfill t set b = \"x\" by (a);",
            "create table t (id int primary key, b text); alter table t rename to u; backfill u set b = \"x\";",
            "unsafe(reason = \"my_fn is immutable\", allow = [backfill_volatile_without_where]) { backfill users set x = my_fn(); }",
        ] {
            assert_eq!(errors(body), Vec::<String>::new(), "{body}");
        }
    }

    #[test]
    fn values_that_change_between_batches_need_a_where() {
        let msgs = errors(
            "backfill users set token = gen_random_uuid();
             backfill users set score = app_score(id);
             backfill users set seen_at = now(), n = 1;
             backfill users set seen_on = current_date;",
        );
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
        assert_eq!(
            msgs[0],
            "`gen_random_uuid()` is volatile (its value differs from row to row), so without `where` the backfill \
             cannot tell the rows it updated from the others (`token is distinct from ..` stays true) and cannot verify \
             that it finished; add a `where` that the update makes false, e.g. `where token is null` \
             [rule: backfill_volatile_without_where]"
        );
        assert!(
            msgs[1].starts_with(
                "`app_score` is unknown to zerodown and counts as volatile, so without `where`"
            ),
            "{}",
            msgs[1]
        );
        assert!(msgs[1].ends_with("e.g. `where score is null` (if `app_score` is immutable, use `unsafe(reason = \"..\", allow = [backfill_volatile_without_where]) { .. }`) [rule: backfill_volatile_without_where]"), "{}", msgs[1]);
        assert!(
            msgs[2].starts_with(
                "`now()` is the time of the transaction and each batch is a transaction of its own, so without `where`"
            ),
            "{}",
            msgs[2]
        );
        assert!(
            msgs[3].starts_with("`current_date` is the time of the transaction and"),
            "{}",
            msgs[3]
        );
    }

    #[test]
    fn keep_needs_a_value_of_the_row_on_an_existing_table() {
        let msgs = errors(
            "backfill users set token = gen_random_uuid() where token is null keep;
             create table t (id int primary key, a int, b int);
             backfill t set b = a + 1 keep;",
        );
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        assert!(
            msgs[0].starts_with("`gen_random_uuid()` is volatile (its value differs from row to row), so with `keep` the trigger"),
            "{}",
            msgs[0]
        );
        assert!(msgs[0].contains("remove `keep`"), "{}", msgs[0]);
        assert!(
            msgs[1].starts_with(
                "`t` is created in this migration, so no running application version writes it"
            ),
            "{}",
            msgs[1]
        );
        assert_eq!(
            errors("backfill users set total = quantity * price keep; backfill users set b = lower(a) where b is null by (id) keep;"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_where_must_mention_a_set_column_when_values_change() {
        let msgs = errors(
            "backfill users set token = gen_random_uuid() where created_at < \"2024-01-01\";",
        );
        assert_eq!(
            msgs,
            ["this `where` mentions none of the columns the backfill sets (`token`), so the rows it updates keep matching \
              it and the backfill never finishes (a set value changes between batches, so the macro cannot add `is \
              distinct from` itself); write a `where` the update makes false, e.g. `where token is null`"]
        );
        // With values that do not change, the macro adds `is distinct from` to the `where` itself.
        assert!(errors("backfill users set n = 1 where created_at < \"2024-01-01\";").is_empty());
        assert!(
            errors("backfill users set token = gen_random_uuid() where users.token is null;")
                .is_empty()
        );
    }

    #[test]
    fn assignments_and_keys_must_be_distinct() {
        let msgs =
            errors("backfill users set a = 1, b = 2, a = 3 by (id, id);\nbackfill users set id = id + 1 by (id);");
        assert_eq!(
            msgs,
            [
                "column `a` is set twice in this `backfill`; set each column once",
                "column `id` appears twice in `by`; list each key column once",
                "`id` is both set and in `by`: the backfill walks `users` in the order of its key, so it cannot change the \
                 key; walk it by another unique not-null key, or backfill the key column in a migration of its own",
            ]
        );
    }

    #[test]
    fn a_new_table_without_a_key_needs_by() {
        let msgs = errors(
            "create table t (a int, b text);
             backfill t set b = \"x\";
             create table u (a int unique, b text);
             backfill u set b = \"x\";",
        );
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        assert_eq!(
            msgs[0],
            "`t` is created in this migration without a primary key or a unique not-null key, so the backfill has no key \
             to walk it in batches; give `t` a primary key, or name a unique not-null key with `by (..)` \
             [rule: backfill_without_key]"
        );
        // An existing table's key is found at run time.
        assert!(errors("backfill t set b = \"x\";").is_empty());
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            errors("backfill users email = 1;"),
            ["expected `set` after `backfill users`, found `email`"]
        );
        assert_eq!(
            errors("backfill users set email = 1 order by id;"),
            ["expected `,`, `where`, `by`, `keep` or `;` after the assignment, found `order`"]
        );
        assert_eq!(
            errors("backfill users set users.email = 1;"),
            ["write the column without its table in `set`: `set col = ..`"]
        );
        assert_eq!(
            errors("backfill users set email;"),
            ["expected `=` after `set email`, found `;`"]
        );
        assert_eq!(
            errors("backfill users set a = 1 by id;"),
            ["expected `(` with the key columns after `by`, found `id`"]
        );
    }
}
