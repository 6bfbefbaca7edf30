//! Where the next batch of a main pass ends, reckoned without a query when the key allows it.
//!
//! A batch's upper bound is normally read off the key's index: the `size`-th key after the cursor
//! (`BatchSql::nth_key`), which also tells exactly how many rows the batch covers. That read walks
//! every key it skips, a few percent of a batch's time. On a key of one integer column whose values
//! are dense (a serial or identity key with few gaps) the bound is simply `cursor + size`: distinct
//! integers in `(cursor, cursor + size]` are at most `size`, so the batch never holds more row
//! locks than asked, and with dense keys it holds about that many.
//!
//! Reckoning starts only after a batch found by the index showed its keys dense (their span at
//! most a tenth wider than their number), and stays on only while each reckoned batch updates at
//! least nine tenths of its width: then the rows it covers are within a tenth of its width, which
//! is what it counts as passed (for progress and for sizing the next batch). Anything else (gaps,
//! rows that already have their value, a key near the end) goes back to the index. Sweeps, which
//! visit only pending rows, always use the index.

/// Whether `ty` (as `format_type` spells it) is an integer type whose values reckoning can add to.
pub(crate) fn is_integer(ty: &str) -> bool {
    matches!(ty, "smallint" | "integer" | "bigint")
}

/// The reckoned bound of a batch of `size` after `after`, capped at the pass's `end`: the upper key
/// (as text) and the width of `(after, upper]`. `None` when nothing is left before `end`, or a value
/// is not an integer (the caller then asks the index).
pub(crate) fn reckon(after: &str, end: &str, size: u64) -> Option<(String, u64)> {
    let after: i128 = after.trim().parse::<i64>().ok()?.into();
    let end: i128 = end.trim().parse::<i64>().ok()?.into();
    let upper = end.min(after + i128::from(size));
    if upper <= after {
        return None;
    }
    Some((upper.to_string(), u64::try_from(upper - after).ok()?))
}

/// What the batch just committed tells about the next one's bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seen<'a> {
    /// The cursor before the batch (`None` for a pass's first batch).
    pub(crate) after: Option<&'a str>,
    /// The batch's upper key.
    pub(crate) upper: &'a str,
    /// Rows the batch covered (its width, when reckoned).
    pub(crate) passed: u64,
    /// Rows it updated.
    pub(crate) updated: u64,
    /// Whether its bound was reckoned.
    pub(crate) reckoned: bool,
}

/// Whether the next batch's bound may be reckoned (see the module's rules).
pub(crate) fn next_may_reckon(seen: Seen<'_>) -> bool {
    let Some(after) = seen.after.and_then(|a| a.trim().parse::<i64>().ok()) else {
        return false;
    };
    let Ok(upper) = seen.upper.trim().parse::<i64>() else {
        return false;
    };
    if seen.passed == 0 {
        return false;
    }
    if seen.reckoned {
        // Rows updated >= 9/10 of the width.
        u128::from(seen.updated) * 10 >= u128::from(seen.passed) * 9
    } else {
        // Key span <= 11/10 of the rows found.
        let span = i128::from(upper) - i128::from(after);
        span > 0 && span * 10 <= i128::from(seen.passed) * 11
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_types_only() {
        assert!(is_integer("bigint") && is_integer("integer") && is_integer("smallint"));
        assert!(!is_integer("numeric") && !is_integer("text") && !is_integer("\"MyInt\""));
    }

    #[test]
    fn a_reckoned_bound_is_capped_at_the_end() {
        assert_eq!(reckon("100", "100000", 500), Some(("600".into(), 500)));
        assert_eq!(reckon("99900", "100000", 500), Some(("100000".into(), 100)));
        assert_eq!(reckon("100000", "100000", 500), None);
        assert_eq!(reckon("-10", "5", 100), Some(("5".into(), 15)));
        assert_eq!(
            reckon(&(i64::MAX - 1).to_string(), &i64::MAX.to_string(), 500),
            Some((i64::MAX.to_string(), 1))
        );
        assert_eq!(reckon("1.5", "10", 5), None);
        assert_eq!(reckon("abc", "10", 5), None);
    }

    fn seen<'a>(
        after: Option<&'a str>,
        upper: &'a str,
        passed: u64,
        updated: u64,
        reckoned: bool,
    ) -> Seen<'a> {
        Seen {
            after,
            upper,
            passed,
            updated,
            reckoned,
        }
    }

    #[test]
    fn reckoning_starts_after_a_dense_batch_found_by_the_index() {
        // 1000 keys spanning 1000 or 1100 values: dense; 1101 or more: not.
        assert!(next_may_reckon(seen(Some("0"), "1000", 1000, 0, false)));
        assert!(next_may_reckon(seen(Some("0"), "1100", 1000, 0, false)));
        assert!(!next_may_reckon(seen(Some("0"), "1101", 1000, 1000, false)));
        // A pass's first batch has no lower key to measure from; text keys never reckon.
        assert!(!next_may_reckon(seen(None, "1000", 1000, 1000, false)));
        assert!(!next_may_reckon(seen(Some("a"), "b", 1000, 1000, false)));
        assert!(!next_may_reckon(seen(Some("0"), "0", 0, 0, false)));
    }

    #[test]
    fn reckoning_stays_on_while_batches_update_nine_tenths_of_their_width() {
        assert!(next_may_reckon(seen(Some("0"), "1000", 1000, 900, true)));
        assert!(!next_may_reckon(seen(Some("0"), "1000", 1000, 899, true)));
    }
}
