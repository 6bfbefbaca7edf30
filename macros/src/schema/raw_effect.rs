//! Whether a `raw` statement can change what the catalog knows.
//!
//! Raw SQL is opaque to the catalog: after it, names the catalog does not know are no longer errors.
//! One kind is recognised and leaves the catalog as it was: a single statement that only creates an
//! object the catalog does not model (an extension, a view, a function or procedure, a trigger, a
//! sequence, a comment), as a baseline migration writes them. The statement is found with a small
//! scanner that knows SQL's quoting (strings, quoted names, dollar-quoted bodies, comments), so a
//! second statement after a `;` is never missed.

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
    let Some(words) = single_statement_words(sql) else {
        return false;
    };
    // `comment on table|column` does not change the schema either; every `comment on` is fine.
    ADDITIVE
        .iter()
        .any(|kind| words.len() >= kind.len() && words.iter().zip(kind.iter()).all(|(w, k)| w == k))
}

/// The first words (lowercase) of `sql` when it is exactly one statement (a trailing `;` allowed);
/// `None` when a second statement follows or the quoting does not end.
fn single_statement_words(sql: &str) -> Option<Vec<String>> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut words = Vec::new();
    let mut ended = false;
    while i < b.len() {
        let c = b[i];
        if ended
            && !c.is_ascii_whitespace()
            && !(c == b'-' && b.get(i + 1) == Some(&b'-'))
            && c != b'/'
        {
            return None;
        }
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = find(b, i + 2, b"*/")?;
                i = end + 2;
            }
            b'\'' | b'"' => {
                // `''` and `""` inside are escaped quotes: skipping to each next quote handles them.
                let end = b[i + 1..].iter().position(|x| *x == c)? + i + 1;
                i = end + 1;
            }
            b'$' => {
                // `$tag$ .. $tag$` (or a parameter `$1`, which a migration does not have).
                let close = b[i + 1..].iter().position(|x| *x == b'$')? + i + 1;
                let tag = &b[i..=close];
                if !tag[1..tag.len() - 1]
                    .iter()
                    .all(|x| x.is_ascii_alphanumeric() || *x == b'_')
                {
                    return None;
                }
                let end = find(b, close + 1, tag)?;
                i = end + tag.len();
            }
            b';' => {
                ended = true;
                i += 1;
            }
            c if c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if words.len() < 4 {
                    words.push(sql[start..i].to_ascii_lowercase());
                }
            }
            _ => i += 1,
        }
    }
    Some(words)
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
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
        // A second statement, a table change, or broken quoting: opaque.
        assert!(!leaves_catalog_alone(
            "CREATE VIEW v AS SELECT 1; ALTER TABLE users DROP COLUMN email"
        ));
        assert!(!leaves_catalog_alone("ALTER TABLE users ADD COLUMN x int"));
        assert!(!leaves_catalog_alone(
            "CREATE VIEW v AS SELECT 'unterminated"
        ));
        assert!(!leaves_catalog_alone("CREATE FUNCTION f() AS $x$ body"));
        assert!(!leaves_catalog_alone(
            "insert into accounts (name) values ('seed')"
        ));
    }
}
