//! Whether a `raw` statement can change what the catalog knows.
//!
//! Raw SQL is opaque to the catalog: after it, names the catalog does not know are no longer errors.
//! One kind is recognised and leaves the catalog as it was: a single statement that only creates an
//! object the catalog does not model (an extension, a view, a function or procedure, a trigger, a
//! sequence, a comment, an empty schema), as a baseline migration writes them. Statements are found by the raw-SQL
//! splitter (`raw::split`, which knows SQL's quoting), so a second statement after a `;` is never
//! missed. (SQL whose quoting does not end is rejected by the raw-SQL checks before this matters.)

use crate::raw::split;

/// The statement kinds that create only objects the catalog does not model.
const ADDITIVE: &[&[&str]] = &[
    &["create", "extension"],
    &["create", "view"],
    &["create", "or", "replace", "view"],
    &["create", "function"],
    &["create", "or", "replace", "function"],
    &["create", "procedure"],
    &["create", "or", "replace", "procedure"],
    &["create", "trigger"],
    &["create", "or", "replace", "trigger"],
    &["create", "sequence"],
    &["comment", "on"],
];

/// Whether `sql` is one statement of an [`ADDITIVE`] kind.
pub(crate) fn leaves_catalog_alone(sql: &str) -> bool {
    let split = split(sql);
    let ([statement], None) = (split.statements.as_slice(), split.control) else {
        return false;
    };
    // The first words, lowercase; a comment between them makes the statement opaque (no match).
    let words: Vec<String> = sql[statement.clone()]
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_lowercase)
        .collect();
    // `comment on table|column` does not change the schema either; every `comment on` is fine.
    ADDITIVE
        .iter()
        .any(|kind| words.len() >= kind.len() && words.iter().zip(kind.iter()).all(|(w, k)| w == k))
        || empty_schema(&sql[statement.clone()])
}

/// `create schema [if not exists] NAME [authorization ROLE]`, nothing else: a schema created with
/// elements (`create schema app create table ..`) creates tables.
fn empty_schema(statement: &str) -> bool {
    let words: Vec<String> = statement
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let rest = match words.as_slice() {
        ["create", "schema", "if", "not", "exists", rest @ ..] => rest,
        ["create", "schema", rest @ ..] => rest,
        _ => return false,
    };
    matches!(rest, [_] | [_, "authorization", _] | ["authorization", _])
}

#[cfg(test)]
mod tests {
    use super::leaves_catalog_alone;

    #[test]
    fn single_creations_of_unmodelled_objects_leave_the_catalog_alone() {
        assert!(leaves_catalog_alone(
            "CREATE EXTENSION IF NOT EXISTS pgcrypto"
        ));
        assert!(leaves_catalog_alone(
            "CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $fn$ BEGIN NEW.x := 1; RETURN NEW; END $fn$ LANGUAGE plpgsql;"
        ));
        assert!(leaves_catalog_alone(
            "create view v as select 'a;b' as x -- trailing; comment"
        ));
        assert!(leaves_catalog_alone(
            "CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION f()"
        ));
        // A second statement, a table change: opaque.
        assert!(!leaves_catalog_alone(
            "CREATE VIEW v AS SELECT 1; ALTER TABLE users DROP COLUMN email"
        ));
        assert!(!leaves_catalog_alone("ALTER TABLE users ADD COLUMN x int"));
        assert!(leaves_catalog_alone("create schema app"));
        assert!(leaves_catalog_alone(
            "CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION owner;"
        ));
        assert!(!leaves_catalog_alone(
            "create schema app create table t (id int)"
        ));
        assert!(!leaves_catalog_alone(
            "insert into accounts (name) values ('seed')"
        ));
    }
}
