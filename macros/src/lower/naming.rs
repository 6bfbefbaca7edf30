//! Names the macro makes up: helper constraints of the online recipes, and the index behind a
//! constraint or index the user left unnamed (only reachable under an override).

use sha2::{Digest, Sha256};

use crate::ast::{IndexKey, IndexKeyExpr, Name};

/// PostgreSQL's identifier limit (`NAMEDATALEN - 1`); longer names are silently truncated by the server.
const MAX_IDENT_BYTES: usize = 63;

/// Which zerodown's plans a lowering reproduces: this one's, or (only to compute the checksums
/// recorded by earlier versions, `Migration::legacy_checksums`) those of the versions before helper
/// checks were renamed and guards added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanGeneration {
    /// Helper checks named `_zd_<column>_nn` ([`not_null_check`]); guards before statements whose
    /// safety depends on what only the live schema knows (`lower::guard`).
    Current,
    /// Helper checks named `<table>_<column>_not_null`: from PostgreSQL 18 also the name of the
    /// catalogued `NOT NULL` constraint of an already `NOT NULL` column, so adding the helper failed
    /// there. No guards.
    Legacy,
}

/// `_zd_<column>_nn`: the `CHECK ("column" IS NOT NULL)` that lets `SET NOT NULL` skip its scan,
/// fitted to 63 bytes (see [`fit`]). Constraint names are unique per table, and PostgreSQL names its
/// own constraints `<table>_<column>_<suffix>` with the suffixes `not_null` (18+), `check`, `key`,
/// `fkey`, `excl` and `pkey`, so the leading `_zd_` and the `nn` suffix keep it apart from every name
/// the server chooses. A user's constraint of the same name is caught at run time before the
/// migration starts.
pub(super) fn not_null_check(table: &str, column: &str, names: PlanGeneration) -> String {
    match names {
        PlanGeneration::Current => fit(format!("_zd_{column}_nn")),
        PlanGeneration::Legacy => fit(format!("{table}_{column}_not_null")),
    }
}

/// `_zd_partition_bound`: the `CHECK` stating a partition's bound, which lets `attach partition` skip
/// its scan. A table has one at a time (it is dropped right after the attach), and the `_zd_` prefix
/// keeps it apart from the names PostgreSQL chooses (see [`not_null_check`]).
pub(super) fn partition_bound_check() -> String {
    "_zd_partition_bound".to_owned()
}

/// The name PostgreSQL would give an unnamed `unique` (`<table>_<cols>_key`) or primary key
/// (`<table>_pkey`) constraint, fitted to 63 bytes. The macro names it itself because the concurrent
/// index build and its postcondition need the name.
pub(super) fn constraint_index(table: &str, columns: &[Name], primary_key: bool) -> String {
    if primary_key {
        return fit(format!("{table}_pkey"));
    }
    let cols: Vec<&str> = columns.iter().map(|c| c.value.as_str()).collect();
    fit(format!("{table}_{}_key", cols.join("_")))
}

/// `<table>_<cols>_idx` for an unnamed index, as PostgreSQL would name it (`expr` for an expression).
pub(super) fn index(table: &str, keys: &[IndexKey]) -> String {
    let cols: Vec<&str> = keys
        .iter()
        .map(|k| match &k.expr {
            IndexKeyExpr::Column(c) => c.value.as_str(),
            IndexKeyExpr::Expr(_) => "expr",
        })
        .collect();
    fit(format!("{table}_{}_idx", cols.join("_")))
}

/// `name` itself when it fits in 63 bytes; otherwise its longest prefix (on a character boundary) that
/// leaves room for `_` and the first 8 hex digits of the SHA-256 of the full name. Deterministic, so a
/// recompiled migration produces the same plan, and distinct long names stay distinct.
pub(super) fn fit(name: String) -> String {
    if name.len() <= MAX_IDENT_BYTES {
        return name;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let mut cut = MAX_IDENT_BYTES - 1 - hash.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}", &name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::test_ast::{col, key_col, key_expr, names};

    #[test]
    fn short_names_are_kept() {
        assert_eq!(
            not_null_check("users", "email", PlanGeneration::Current),
            "_zd_email_nn"
        );
        assert_eq!(
            not_null_check("users", "email", PlanGeneration::Legacy),
            "users_email_not_null"
        );
        assert_eq!(
            constraint_index("users", &names(&["a", "b"]), false),
            "users_a_b_key"
        );
        assert_eq!(
            constraint_index("users", &names(&["id"]), true),
            "users_pkey"
        );
        assert_eq!(
            index("users", &[key_col("a"), key_expr(col("b"))]),
            "users_a_expr_idx"
        );
    }

    #[test]
    fn name_of_exactly_63_bytes_is_kept() {
        // "t_" + 49 + "_not_null" (9) = 2 + 49 + 9 = 60; make it 63 with a 52-byte column.
        let column = "c".repeat(52);
        let name = not_null_check("t", &column, PlanGeneration::Legacy);
        assert_eq!(name.len(), 63);
        assert_eq!(name, format!("t_{column}_not_null"));
    }

    #[test]
    fn name_over_63_bytes_is_truncated_with_a_hash() {
        let column = "c".repeat(53);
        let full = format!("t_{column}_not_null");
        assert_eq!(full.len(), 64);
        let name = not_null_check("t", &column, PlanGeneration::Legacy);
        assert_eq!(name.len(), 63);
        assert_eq!(&name[..54], &full[..54]);
        assert_eq!(&name[54..55], "_");
        let hex = &name[55..];
        assert_eq!(hex.len(), 8);
        assert!(hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        // SHA-256 of the full name, first four bytes.
        let digest = Sha256::digest(full.as_bytes());
        assert_eq!(
            hex,
            format!(
                "{:02x}{:02x}{:02x}{:02x}",
                digest[0], digest[1], digest[2], digest[3]
            )
        );
        // Deterministic, and another long name with the same prefix gets another hash.
        assert_eq!(not_null_check("t", &column, PlanGeneration::Legacy), name);
        let other = not_null_check("t", &format!("{column}x"), PlanGeneration::Legacy);
        assert_eq!(other[..54], name[..54]);
        assert_ne!(other, name);
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        // 'é' is two bytes; after the leading "a", a cut at byte 54 would split one.
        let table = format!("a{}", "é".repeat(40));
        let name = not_null_check(&table, "x", PlanGeneration::Legacy);
        assert_eq!(name, format!("a{}_{}", "é".repeat(26), &name[54..]));
        assert_eq!(name.len(), 1 + 26 * 2 + 1 + 8);
    }
}
