//! Syntax the target PostgreSQL version does not have: index `include` columns (11) and stored
//! generated columns (12). Such a statement fails on every server of the target version, so this is
//! an error, not a rule an override could allow. (`reindex concurrently`, also 12, is checked with the
//! other reindex rules in `index`.)

use zerodown_runtime::plan::PgVersion;

use super::{target_setting, Checker};
use crate::ast::{
    AlterActionKind, ColumnConstraintKind, ColumnDef, Name, Range, Stmt, StmtKind, TableConstraint,
    TableConstraintKind,
};

/// `include (..)` on indexes, unique and primary key constraints.
const INCLUDE: PgVersion = PgVersion(11);
/// `generated always as (..) stored`.
const GENERATED_STORED: PgVersion = PgVersion(12);
/// Virtual generated columns: computed when read, added without a rewrite.
const GENERATED_VIRTUAL: PgVersion = PgVersion(18);

pub(super) fn stmt(ck: &Checker, stmt: &Stmt) {
    match &stmt.kind {
        StmtKind::CreateIndex(ix) => include(ck, &ix.include),
        StmtKind::CreateTable(t) => {
            t.columns.iter().for_each(|c| column(ck, c));
            t.constraints.iter().for_each(|c| constraint(ck, c));
        }
        StmtKind::AlterTable { actions, .. } => {
            for action in actions {
                match &action.kind {
                    AlterActionKind::AddColumn { column: c, .. } => column(ck, c),
                    AlterActionKind::AddConstraint(c) => constraint(ck, c),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn include(ck: &Checker, columns: &[Name]) {
    let (Some(first), Some(last)) = (columns.first(), columns.last()) else {
        return;
    };
    if ck.target < INCLUDE {
        // create index concurrently i on t (a) include (b);  (target 10)
        ck.error(
            Range::new(first.span, last.span),
            format_args!(
                "`include` columns need PostgreSQL 11 and the target is {}; raise {} if every server runs 11 \
                 or newer, or index the columns as keys",
                ck.target,
                target_setting(INCLUDE.0)
            ),
        );
    }
}

fn constraint(ck: &Checker, c: &TableConstraint) {
    if let TableConstraintKind::Unique { include: cols, .. }
    | TableConstraintKind::PrimaryKey { include: cols, .. } = &c.kind
    {
        include(ck, cols);
    }
}

fn column(ck: &Checker, c: &ColumnDef) {
    for constraint in &c.constraints {
        if matches!(constraint.kind, ColumnConstraintKind::GeneratedStored(_))
            && ck.target < GENERATED_STORED
        {
            // create table t (a int, b int generated always as (a * 2) stored);  (target 11)
            ck.error(
                constraint.range,
                format_args!(
                    "stored generated column `{}` needs PostgreSQL 12 and the target is {}; raise {} if every \
                     server runs 12 or newer, or fill the column from the application",
                    c.name.value,
                    ck.target,
                    target_setting(GENERATED_STORED.0)
                ),
            );
        }
        if matches!(constraint.kind, ColumnConstraintKind::GeneratedVirtual(_))
            && ck.target < GENERATED_VIRTUAL
        {
            // alter table t add column b int generated always as (a * 2) virtual;  (target 17)
            ck.error(
                constraint.range,
                format_args!(
                    "virtual generated column `{}` needs PostgreSQL 18 and the target is {}; raise {} if every \
                     server runs 18, or compute the value in a view or in the application",
                    c.name.value,
                    ck.target,
                    target_setting(GENERATED_VIRTUAL.0)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ctxt::Ctxt;
    use crate::{check, parse};

    /// The messages of checking `body` in a migration with `set target_postgres = target;`.
    fn errors(target: u32, body: &str) -> Vec<String> {
        let src = format!("pub mod m0001_test {{ set target_postgres = {target}; {body} }}");
        let cx = Ctxt::new();
        let input = parse::parse_migration(&cx, src.parse().unwrap()).unwrap();
        let settings = parse::resolve_settings(&cx, &input.settings);
        check::check(&cx, &input, &settings);
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn include_needs_11() {
        let forms = [
            "create index concurrently t_a_idx on t (a) include (b, c);",
            "create table n (a int, b int, constraint n_a_key unique (a) include (b));",
            "create table n (a int, b int, constraint n_pkey primary key (a) include (b));",
        ];
        for form in forms {
            let e = errors(10, form);
            assert_eq!(e.len(), 1, "{form}: {e:?}");
            assert!(
                e[0].starts_with(
                    "`include` columns need PostgreSQL 11 and the target is PostgreSQL 10; raise \
                     `set target_postgres = 11;`"
                ),
                "{form}: {e:?}"
            );
            assert_eq!(errors(11, form), Vec::<String>::new(), "{form}");
        }
    }

    #[test]
    fn stored_generated_columns_need_12() {
        let form = "create table n (a int, b int generated always as (a * 2) stored);";
        for target in [10, 11] {
            let e = errors(target, form);
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(
                e[0].starts_with(&format!(
                    "stored generated column `b` needs PostgreSQL 12 and the target is PostgreSQL {target}; raise \
                     `set target_postgres = 12;`"
                )),
                "{e:?}"
            );
        }
        assert_eq!(errors(12, form), Vec::<String>::new());
    }

    #[test]
    fn spans_cover_the_offending_tokens() {
        let src = "pub mod m0001_test { set target_postgres = 10;\ncreate index concurrently i on t (a) include (bb, cc); }";
        let cx = Ctxt::new();
        let input = parse::parse_migration(&cx, src.parse().unwrap()).unwrap();
        let settings = parse::resolve_settings(&cx, &input.settings);
        check::check(&cx, &input, &settings);
        let err = cx.check().unwrap_err();
        let span = err.span();
        assert_eq!((span.start().line, span.start().column), (2, 46));
        assert_eq!((span.end().line, span.end().column), (2, 52));
    }
}
