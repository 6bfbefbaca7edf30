//! What a phased step derives from the live catalog, held against what its plan showed
//! ([`PhasedStep::preview`](crate::plan::PhasedStep::preview)) before any of it runs.
//!
//! The plan of a `migrations!` set shows every statement of the expand/contract carry-over and of
//! `complete`, rendered from the schema catalog with the same builders the runtime uses here. So
//! the runtime runs exactly what a reviewer read: when the database would make it run something
//! else (an index created by hand on the column since the migrations were compiled, a carried copy
//! whose original was dropped between expand and `complete`), the step stops before it runs, naming
//! both sides. A step without a preview (a single `migration!`, a plan compiled before previews
//! existed) has nothing to compare with. The comparison is off with the schema check
//! (`Migrator::verify_schema(false)`, `--no-schema-check`), for differences the user intends.
//!
//! Statements are compared by what they do to which object, as a multiset: the text before the
//! first parenthesis (`CREATE INDEX CONCURRENTLY "_zd_x" ON "t" USING btree`, `ALTER TABLE "t" ADD
//! CONSTRAINT "_zd_c" CHECK`, `.. SET DEFAULT`), whitespace collapsed. Expressions are left out:
//! PostgreSQL prints them its own way (`(sku IS NOT NULL)` for the catalog's `"sku" IS NOT NULL`),
//! and their columns and partialness were compared when the migration started
//! (`Error::SchemaMismatch`). The order is left out too: the catalog and `pg_catalog` list objects
//! in different orders, and each builder fixes the order of its own statements. The preview's
//! comment lines stand for what only the live database can tell ([`IDENTITY_PLACEHOLDER`],
//! [`UNNAMED_PLACEHOLDER`], [`COMMENT_PLACEHOLDER`]) and accept those statements.

use super::Ctx;
use crate::execute::attempt::AttemptError;
use crate::plan::carry::{
    is_comment_sql, is_constraint_sql, is_identity_sql, COMMENT_PLACEHOLDER, IDENTITY_PLACEHOLDER,
    UNNAMED_PLACEHOLDER,
};
use crate::plan::sqltext::{tokens, Tok};

/// The refusal of the step when `derived` (everything the step would run on this database,
/// including what a resumed attempt skips as already done) differs from the step's preview.
pub(super) fn refusal(cx: &Ctx<'_>, derived: &[String]) -> Option<AttemptError> {
    if !cx.verify_schema || cx.phased.preview.is_empty() {
        return None;
    }
    let difference = compare(cx.phased.preview, derived);
    if difference.is_empty() {
        return None;
    }
    Some(AttemptError::refused(
        cx.step.description,
        format!(
            "the database needs other statements for this step than the plan shows, so it differs from the schema the migrations describe (changed by hand, or by SQL outside them); {difference}; nothing of this step ran; make the database match the migrations again (`migrate plan` shows what they expect), or, if the difference is intended, run with `--no-schema-check` (`Migrator::verify_schema(false)`) to run what the database needs"
        ),
    ))
}

/// How `derived` differs from `preview`; empty when they agree.
fn compare(preview: &[&str], derived: &[String]) -> Difference {
    let identity = preview.contains(&IDENTITY_PLACEHOLDER);
    let unnamed = preview.contains(&UNNAMED_PLACEHOLDER);
    let comment = preview.contains(&COMMENT_PLACEHOLDER);
    let mut shown: Vec<String> = preview
        .iter()
        .filter(|line| !line.starts_with("--"))
        .map(|line| normal(line))
        .collect();
    let mut unshown = Vec::new();
    for sql in derived {
        let sql = normal(sql);
        if let Some(at) = shown.iter().position(|s| what(s) == what(&sql)) {
            shown.swap_remove(at);
        } else if !(identity && is_identity_sql(&sql)
            || unnamed && is_constraint_sql(&sql)
            || comment && is_comment_sql(&sql))
        {
            unshown.push(sql);
        }
    }
    // Statements on constraints PostgreSQL named may stand in for shown ones under other names.
    if unnamed {
        shown.retain(|sql| !is_constraint_sql(sql));
    }
    shown.sort();
    Difference { shown, unshown }
}

/// Whitespace runs collapsed to one space, ends trimmed, quotes dropped around identifiers that do
/// not need them (`"holds"` and `holds` are one table: the catalog quotes every name, `regclass`
/// only those that need it).
fn normal(sql: &str) -> String {
    let plain = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
    };
    let mut out = String::with_capacity(sql.len());
    for tok in tokens(sql) {
        match tok {
            Tok::Ident {
                value,
                quoted: true,
                ..
            } if plain(&value) => out.push_str(&value),
            Tok::Ident { text, .. } => out.push_str(text),
            Tok::Other(text) if text.chars().all(char::is_whitespace) => out.push(' '),
            Tok::Other(text) => out.push_str(text),
        }
    }
    out.trim().to_owned()
}

/// What a statement does to which object: its text before the first parenthesis, or up to `SET
/// DEFAULT`.
fn what(sql: &str) -> &str {
    let end = sql
        .find(" SET DEFAULT ")
        .map(|at| at + " SET DEFAULT".len())
        .or_else(|| sql.find('('))
        .unwrap_or(sql.len());
    sql[..end].trim_end()
}

/// Statements the plan shows that the database does not need, and the reverse.
#[derive(Debug, Default, PartialEq, Eq)]
struct Difference {
    shown: Vec<String>,
    unshown: Vec<String>,
}

impl Difference {
    fn is_empty(&self) -> bool {
        self.shown.is_empty() && self.unshown.is_empty()
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| {
            v.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        if !self.unshown.is_empty() {
            parts.push(format!(
                "the database needs {} which the plan does not show",
                list(&self.unshown)
            ));
        }
        if !self.shown.is_empty() {
            parts.push(format!(
                "the plan shows {} which the database does not need",
                list(&self.shown)
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derived(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_same_statements_in_another_order_and_spacing_agree() {
        let preview = [
            "ALTER TABLE t ADD  CONSTRAINT a CHECK (x > 0) NOT VALID",
            "DROP TRIGGER g ON t",
        ];
        let d = compare(
            &preview,
            &derived(&[
                "DROP TRIGGER g ON t",
                "ALTER TABLE t ADD CONSTRAINT a CHECK (x > 0) NOT VALID",
            ]),
        );
        assert!(d.is_empty(), "{d}");
    }

    #[test]
    fn expressions_are_left_to_postgresql() {
        let preview = [
            "CREATE INDEX CONCURRENTLY \"_zd_i\" ON \"t\" USING btree (\"sku\") WHERE \"sku\" IS NOT NULL",
            "ALTER TABLE \"t\" ALTER COLUMN \"c\" SET DEFAULT 'x'",
        ];
        let d = compare(
            &preview,
            &derived(&[
                "CREATE INDEX CONCURRENTLY \"_zd_i\" ON \"t\" USING btree (sku) WHERE (sku IS NOT NULL)",
                "ALTER TABLE \"t\" ALTER COLUMN \"c\" SET DEFAULT 'x'::text",
            ]),
        );
        assert!(d.is_empty(), "{d}");
        let other_method = derived(&[
            "CREATE INDEX CONCURRENTLY \"_zd_i\" ON \"t\" USING hash (sku)",
            "ALTER TABLE \"t\" ALTER COLUMN \"c\" SET DEFAULT 'x'",
        ]);
        assert!(!compare(&preview, &other_method).is_empty());
    }

    #[test]
    fn names_quoted_or_not_are_one_name() {
        assert_eq!(
            normal("ALTER TABLE \"holds\" ADD CONSTRAINT \"_zd_k\" FOREIGN KEY"),
            "ALTER TABLE holds ADD CONSTRAINT _zd_k FOREIGN KEY"
        );
        assert_eq!(
            normal("DROP INDEX \"Odd\"\"name\""),
            "DROP INDEX \"Odd\"\"name\""
        );
        assert_eq!(normal("SET DEFAULT '\"x\"'"), "SET DEFAULT '\"x\"'");
    }

    #[test]
    fn a_statement_on_either_side_only_is_named() {
        let d = compare(
            &["CREATE INDEX CONCURRENTLY a ON t (x)"],
            &derived(&["CREATE INDEX CONCURRENTLY b ON t (x)"]),
        );
        assert_eq!(
            d.to_string(),
            "the database needs `CREATE INDEX CONCURRENTLY b ON t (x)` which the plan does not show; the plan shows `CREATE INDEX CONCURRENTLY a ON t (x)` which the database does not need"
        );
    }

    #[test]
    fn placeholders_accept_only_what_they_stand_for() {
        let identity = [IDENTITY_PLACEHOLDER];
        let id_sql = derived(&[
            "ALTER TABLE t ALTER COLUMN \"id\" ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME s)",
            "SELECT setval('s', 10, true)",
        ]);
        assert!(compare(&identity, &id_sql).is_empty());
        assert!(!compare(&[], &id_sql).is_empty());
        let renamed =
            derived(&["ALTER TABLE t RENAME CONSTRAINT \"_zd_t_x_check\" TO \"t_x_check\""]);
        assert!(compare(&[UNNAMED_PLACEHOLDER], &renamed).is_empty());
        assert!(!compare(&identity, &renamed).is_empty());
        let comment = derived(&["COMMENT ON COLUMN t.\"_zd_x_new\" IS 'x'"]);
        assert!(compare(&[COMMENT_PLACEHOLDER], &comment).is_empty());
        assert!(!compare(&[UNNAMED_PLACEHOLDER], &comment).is_empty());
        let index = derived(&["CREATE INDEX CONCURRENTLY a ON t (x)"]);
        assert!(!compare(&[UNNAMED_PLACEHOLDER], &index).is_empty());
    }
}
