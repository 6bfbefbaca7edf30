//! `unsafe(reason = "..", allow = [rule, ..]) { .. }`: the per-rule override. It must say why
//! (`override_without_reason`), name only known, overridable rules, once each, and every rule it names
//! must be broken by something inside it, so an override never outlives the statement it was for.

use super::Scope;
use crate::ast::{Name, Range, UnsafeBlock};
use crate::ctxt::Ctxt;
use crate::rules::Rule;

/// The correct form, shown by the `override_without_reason` messages.
const FORM: &str = "`unsafe(reason = \"why this is safe here\", allow = [rule_name]) { .. }`";

/// Validates the block's header and returns the rules it allows. The allowed rules are honoured even
/// when the reason is missing, so the user sees the missing reason and not a second error per statement.
pub(super) fn header(cx: &Ctxt, block: &UnsafeBlock) -> Vec<(Rule, Name)> {
    match &block.reason {
        // unsafe { .. }
        None if block.allow.is_empty() => cx.error(
            block.keyword,
            Rule::OverrideWithoutReason.message(format_args!(
                "`unsafe` needs a reason and the rules it allows; write {FORM}"
            )),
        ),
        // unsafe(allow = [drop_column]) { .. }
        None => cx.error(
            block.keyword,
            Rule::OverrideWithoutReason
                .message(format_args!("`unsafe` needs a reason; write {FORM}")),
        ),
        // unsafe(reason = " ", allow = [drop_column]) { .. }
        Some(reason) if reason.value.trim().is_empty() => cx.error(
            Range::single(reason.span),
            Rule::OverrideWithoutReason.message(format_args!(
                "the reason of `unsafe` is blank; say why this is safe here: {FORM}"
            )),
        ),
        Some(_) => {}
    }
    // unsafe(reason = "..", allow = []) { .. }
    if block.allow.is_empty() && block.reason.is_some() {
        cx.error(
            block.keyword,
            Rule::OverrideWithoutReason.message(format_args!(
                "`unsafe` allows no rule; list the rules this block may break: {FORM}"
            )),
        );
    }

    allowed(cx, &block.allow)
}

/// The rules named in an `allow = [..]` list (of `unsafe` or `raw`), reporting unknown, unoverridable
/// and repeated names.
pub(super) fn allowed(cx: &Ctxt, names: &[Name]) -> Vec<(Rule, Name)> {
    let mut allowed: Vec<(Rule, Name)> = Vec::new();
    for name in names {
        match Rule::from_name(&name.value) {
            // allow = [index_not_concurent]
            None => cx.error(name.range(), unknown_rule(&name.value)),
            // allow = [raw_transaction_control]
            Some(rule) if !rule.overridable() => cx.error(
                name.range(),
                format_args!(
                    "rule `{}` cannot be overridden: it guards zerodown's own guarantees, not a trade-off; \
                     remove it from `allow`",
                    rule.name()
                ),
            ),
            // allow = [drop_column, drop_column]
            Some(rule) if allowed.iter().any(|(r, _)| *r == rule) => cx.error(
                name.range(),
                format_args!("rule `{}` is listed twice in `allow`; remove this one", rule.name()),
            ),
            Some(rule) => allowed.push((rule, name.clone())),
        }
    }
    allowed
}

/// Reports each allowed rule that no statement of the block broke.
pub(super) fn report_unused(cx: &Ctxt, scope: &Scope) {
    for (rule, name) in &scope.allowed {
        if scope.used.contains(rule) {
            continue;
        }
        match rule {
            Rule::FiresUserTriggers => cx.error(
                name.range(),
                "`fires_user_triggers` is allowed but nothing in this block updates rows in batches (a `backfill`, an `expand` type change or rename, a column added with a volatile default); remove it from `allow`",
            ),
            _ => cx.error(
                name.range(),
                format_args!(
                    "rule `{}` is allowed but nothing in this block breaks it; remove it from `allow`",
                    rule.name()
                ),
            ),
        }
    }
}

/// "unknown rule `x`; ..." with the closest rule name, when one is close enough to be a typo.
fn unknown_rule(name: &str) -> String {
    let candidates = Rule::ALL
        .iter()
        .filter(|r| r.overridable())
        .map(|r| r.name());
    let list: Vec<String> = candidates.clone().map(|n| format!("`{n}`")).collect();
    let closest = candidates
        .map(|c| (edit_distance(name, c), c))
        .min_by_key(|(d, _)| *d);
    let hint = match closest {
        Some((d, c)) if d <= (name.len() / 3).max(2) => format!("did you mean `{c}`? "),
        _ => String::new(),
    };
    format!(
        "unknown rule `{name}`; {hint}known rules: {}",
        list.join(", ")
    )
}

/// Levenshtein distance over bytes (rule names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("drop_column", "drop_column"), 0);
    }

    #[test]
    fn suggests_the_closest_rule() {
        let msg = unknown_rule("index_not_concurent");
        assert!(
            msg.starts_with(
                "unknown rule `index_not_concurent`; did you mean `index_not_concurrent`? known rules: "
            ),
            "{msg}"
        );
        assert!(msg.contains("`drop_column`"));
        // Non-overridable rules are not offered.
        assert!(!msg.contains("raw_transaction_control"));
        let msg = unknown_rule("everything");
        assert!(!msg.contains("did you mean"), "{msg}");
    }
}
