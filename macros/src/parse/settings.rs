//! `set NAME = VALUE;` lines: read by [`parse_setting`], validated and applied by
//! [`resolve_settings`].

use std::collections::HashMap;

use proc_macro2::TokenTree;
use zerodown_runtime::plan::{PgVersion, Settings};

use super::cursor::{Cursor, PResult};
use crate::ast::{Range, Setting, SettingValue};
use crate::ctxt::Ctxt;
use crate::rules::Rule;

/// Settings whose value is a duration.
const DURATIONS: &[&str] = &[
    "lock_timeout",
    "statement_timeout",
    "online_lock_timeout",
    "long_statement_timeout",
    "retry_budget",
    "backfill_pause",
    "backfill_target_batch",
    "backfill_max_replica_lag",
];

/// Bounds of the backfill pacing durations, in milliseconds: (setting, min, max).
const PACING: &[(&str, u64, u64)] = &[
    ("backfill_target_batch", 1, 60_000),
    ("backfill_max_replica_lag", 100, 86_400_000),
];

/// Settings whose value is a plain integer, with their allowed range.
const INTEGERS: &[(&str, u64, u64)] = &[
    ("retry_attempts", 1, 1000),
    ("backfill_batch_size", 1, 1_000_000),
    ("backfill_busy_percent", 1, 100),
    (
        "target_postgres",
        PgVersion::OLDEST_SUPPORTED.0 as u64,
        PgVersion::NEWEST_SUPPORTED.0 as u64,
    ),
];

/// Settings that become PostgreSQL's own `lock_timeout`/`statement_timeout`, an `int` of milliseconds.
const PG_TIMEOUTS: &[&str] = &[
    "lock_timeout",
    "statement_timeout",
    "online_lock_timeout",
    "long_statement_timeout",
];
const PG_TIMEOUT_MAX_MS: u64 = i32::MAX as u64;

/// Duration units and their length in milliseconds (PostgreSQL's spellings).
const UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("min", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// `set NAME = VALUE`, without the `;`. The value's meaning is checked later, once the name is known
/// to be a setting, by [`resolve_settings`].
pub(super) fn parse_setting(c: &mut Cursor) -> PResult<Setting> {
    let start = c.expect_kw("set", "")?;
    let name = c.word("a setting name after `set`")?;
    c.expect_punct('=', &format!("after `set {}`", name.value))?;
    let value = parse_value(c, &name.value)?;
    Ok(Setting {
        name,
        value,
        range: c.range_from(start),
    })
}

/// `2s`, `500ms`, `"2s"`, `10`, `1_000`.
fn parse_value(c: &mut Cursor, setting: &str) -> PResult<SettingValue> {
    let expected = || format!("a value for `{setting}`, such as `2s` or `1000`");
    if c.peek_punct('-') {
        return Err(c.error(format!("`{setting}` cannot be negative")));
    }
    let Some(lit) = c.peek_literal() else {
        return Err(c.expected(&expected()));
    };
    let span = lit.span();
    let range = Range::single(span);
    let value = match syn::Lit::new(lit.clone()) {
        syn::Lit::Int(int) if int.suffix().is_empty() => {
            let value = int.base10_parse::<u64>().map_err(|_| {
                syn::Error::new(
                    span,
                    format!("`{}` is too large for `{setting}`", int.base10_digits()),
                )
            })?;
            SettingValue::Integer { value, range }
        }
        syn::Lit::Int(int) => {
            let ms = duration_ms(int.base10_digits(), int.suffix())
                .map_err(|msg| syn::Error::new(span, msg))?;
            SettingValue::Duration { ms, range }
        }
        syn::Lit::Str(s) if s.suffix().is_empty() => {
            let text = s.value();
            let text = text.trim();
            let digits_len = text
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b'_')
                .count();
            let (digits, unit) = text.split_at(digits_len);
            let digits: String = digits.chars().filter(|ch| *ch != '_').collect();
            if digits.is_empty() {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "expected a duration such as `\"2s\"` for `{setting}`, found `{text:?}`"
                    ),
                ));
            }
            let unit = unit.trim();
            if unit.is_empty() {
                let value = digits.parse::<u64>().map_err(|_| {
                    syn::Error::new(span, format!("`{digits}` is too large for `{setting}`"))
                })?;
                SettingValue::Integer { value, range }
            } else {
                let ms = duration_ms(&digits, unit).map_err(|msg| syn::Error::new(span, msg))?;
                SettingValue::Duration { ms, range }
            }
        }
        syn::Lit::Float(f) if !f.suffix().is_empty() => {
            return Err(syn::Error::new(
                span,
                format!(
                    "durations are whole numbers of a unit; write e.g. `1500ms` instead of `{f}`"
                ),
            ))
        }
        _ => return Err(c.expected(&expected())),
    };
    c.bump();
    if let (SettingValue::Integer { value, .. }, Some(TokenTree::Ident(unit))) = (&value, c.peek())
    {
        // `2 s`: the unit must touch the number for Rust to lex it as one literal.
        if UNITS.iter().any(|(u, _)| unit == u) {
            return Err(c.error(format!(
                "write the unit right after the number: `{value}{unit}`"
            )));
        }
    }
    Ok(value)
}

/// Milliseconds in `digits` of `unit`, or a message saying what is wrong.
fn duration_ms(digits: &str, unit: &str) -> Result<u64, String> {
    let Some((_, factor)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(format!(
            "unknown duration unit `{unit}`; use `ms`, `s`, `min`, `h` or `d`, e.g. `2s` or `500ms`"
        ));
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(*factor))
        .ok_or_else(|| format!("duration `{digits}{unit}` is too large"))
}

/// A duration the way a user would write it: `30s`, `1min`, `6h`, `1500ms`.
pub(super) fn format_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    UNITS
        .iter()
        .rev()
        .find(|(_, factor)| ms % factor == 0)
        .map_or_else(
            || format!("{ms}ms"),
            |(unit, factor)| format!("{}{unit}", ms / factor),
        )
}

/// Validates the `set` lines and applies them over [`Settings::DEFAULT`]. Invalid settings are
/// reported on their value and left at the default.
pub fn resolve_settings(cx: &Ctxt, settings: &[Setting]) -> Settings {
    let mut out = Settings::DEFAULT;
    // Where each setting that was applied was written, for the cross-setting rules.
    let mut written: HashMap<&'static str, Range> = HashMap::new();
    let mut seen: Vec<&str> = Vec::new();

    for setting in settings {
        let name = setting.name.value.as_str();
        let Some(known) = known_name(name) else {
            cx.error(setting.name.range(), unknown_setting_message(name));
            continue;
        };
        if seen.contains(&name) {
            cx.error(
                setting.range,
                format!("duplicate setting `{name}`; set it once"),
            );
            continue;
        }
        seen.push(name);
        match apply(&mut out, known, &setting.value) {
            Ok(()) => {
                written.insert(known, setting.value.range());
            }
            Err(message) => cx.error(setting.value.range(), message),
        }
    }

    check_timeouts(
        cx,
        &written,
        ("lock_timeout", out.lock_timeout_ms),
        ("statement_timeout", out.statement_timeout_ms),
    );
    check_timeouts(
        cx,
        &written,
        ("online_lock_timeout", out.online_lock_timeout_ms),
        ("long_statement_timeout", out.long_statement_timeout_ms),
    );
    out
}

/// The setting's canonical name, when `name` is one.
fn known_name(name: &str) -> Option<&'static str> {
    DURATIONS
        .iter()
        .copied()
        .chain(INTEGERS.iter().map(|(n, _, _)| *n))
        .find(|n| *n == name)
}

fn all_names() -> impl Iterator<Item = &'static str> {
    DURATIONS
        .iter()
        .copied()
        .chain(INTEGERS.iter().map(|(n, _, _)| *n))
}

fn unknown_setting_message(name: &str) -> String {
    let known: Vec<String> = all_names().map(|n| format!("`{n}`")).collect();
    let suggestion = all_names()
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, n)| *d <= 3 && *d < n.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| format!("did you mean `{n}`? "))
        .unwrap_or_default();
    Rule::UnknownSetting.message(format_args!(
        "unknown setting `{name}`; {suggestion}known settings: {}",
        known.join(", ")
    ))
}

/// Checks one value against its setting and stores it.
fn apply(out: &mut Settings, name: &'static str, value: &SettingValue) -> Result<(), String> {
    if DURATIONS.contains(&name) {
        let ms = match *value {
            SettingValue::Duration { ms, .. } => ms,
            // Zero is zero in any unit; the zero-timeout rules below then apply.
            SettingValue::Integer { value: 0, .. } => 0,
            SettingValue::Integer { .. } => {
                return Err(format!("`{name}` needs a unit, e.g. `2s` or `500ms`"))
            }
        };
        if PG_TIMEOUTS.contains(&name) && ms > PG_TIMEOUT_MAX_MS {
            return Err(format!(
                "`{name}` of {} is above PostgreSQL's limit of {PG_TIMEOUT_MAX_MS}ms (about 24 days); \
                 use a shorter duration",
                format_ms(ms)
            ));
        }
        if let Some((_, min, max)) = PACING.iter().copied().find(|(n, _, _)| *n == name) {
            if !(min..=max).contains(&ms) {
                return Err(format!(
                    "`{name}` of {} is out of range; use a duration from {} to {}",
                    format_ms(ms),
                    format_ms(min),
                    format_ms(max)
                ));
            }
        }
        *duration_field(out, name) = ms;
        if name == "backfill_pause" {
            out.backfill_pause_set = true;
        }
        return Ok(());
    }
    let (_, min, max) = INTEGERS
        .iter()
        .copied()
        .find(|(n, _, _)| *n == name)
        .unwrap_or((name, 0, u64::MAX));
    let n = match *value {
        SettingValue::Integer { value, .. } => value,
        SettingValue::Duration { .. } => {
            return Err(format!(
                "`{name}` takes a plain number, e.g. `{min}`; remove the unit"
            ))
        }
    };
    if !(min..=max).contains(&n) {
        return Err(if name == "target_postgres" {
            format!(
                "`target_postgres` is {n}, which zerodown does not support; use a PostgreSQL major version from {min} to {max}"
            )
        } else if name == "backfill_busy_percent" {
            format!(
                "`backfill_busy_percent` is {n}, out of range; use a percentage of the time from {min} to {max} (100 never rests while other sessions work)"
            )
        } else {
            format!("`{name}` is {n}, out of range; use a value from {min} to {max}")
        });
    }
    match name {
        // They fit: the ranges above are far below `u32::MAX` (and the percent below `u8::MAX`).
        "retry_attempts" => out.retry_attempts = n as u32,
        "target_postgres" => out.target = PgVersion(n as u32),
        "backfill_busy_percent" => out.backfill_busy_percent = n as u8,
        _ => {
            out.backfill_batch_size = n;
            out.backfill_batch_size_set = true;
        }
    }
    Ok(())
}

fn duration_field<'s>(out: &'s mut Settings, name: &str) -> &'s mut u64 {
    match name {
        "lock_timeout" => &mut out.lock_timeout_ms,
        "statement_timeout" => &mut out.statement_timeout_ms,
        "online_lock_timeout" => &mut out.online_lock_timeout_ms,
        "long_statement_timeout" => &mut out.long_statement_timeout_ms,
        "retry_budget" => &mut out.retry_budget_ms,
        "backfill_target_batch" => &mut out.backfill_target_batch_ms,
        "backfill_max_replica_lag" => &mut out.backfill_max_replica_lag_ms,
        _ => &mut out.backfill_pause_ms,
    }
}

/// A lock timeout must be bounded and below its statement timeout, or a lock wait could outlast the
/// statement limit (or wait forever) while every query queued behind it stalls.
fn check_timeouts(
    cx: &Ctxt,
    written: &HashMap<&'static str, Range>,
    (lock, lock_ms): (&str, u64),
    (stmt, stmt_ms): (&str, u64),
) {
    let lock_at = written.get(lock).copied();
    let stmt_at = written.get(stmt).copied();
    if lock_ms == 0 {
        if let Some(at) = lock_at {
            cx.error(
                at,
                Rule::LockTimeoutUnbounded.message(format_args!(
                    "a zero `{lock}` waits forever; use a bounded value such as `{}`",
                    format_ms(default_ms(lock))
                )),
            );
        }
    }
    if stmt_ms == 0 {
        if let Some(at) = stmt_at {
            cx.error(
                at,
                format!(
                    "a zero `{stmt}` never times out; use a bounded value such as `{}`",
                    format_ms(default_ms(stmt))
                ),
            );
        }
    }
    if lock_ms == 0 || stmt_ms == 0 || lock_ms < stmt_ms {
        return;
    }
    let fix = format!(
        "a lock wait must give up before the statement does, so lower `{lock}` or raise `{stmt}`"
    );
    let (at, text) = match (lock_at, stmt_at) {
        (Some(at), Some(_)) => (
            at,
            format!(
                "`{lock}` of {} is not below `{stmt}` of {}",
                format_ms(lock_ms),
                format_ms(stmt_ms)
            ),
        ),
        (Some(at), None) => (
            at,
            format!(
                "`{lock}` of {} is not below the default `{stmt}` of {}",
                format_ms(lock_ms),
                format_ms(stmt_ms)
            ),
        ),
        (None, Some(at)) => (
            at,
            format!(
                "`{stmt}` of {} is not above the default `{lock}` of {}",
                format_ms(stmt_ms),
                format_ms(lock_ms)
            ),
        ),
        // The defaults are consistent.
        (None, None) => return,
    };
    cx.error(
        at,
        Rule::LockTimeoutNotBelowStatementTimeout.message(format_args!("{text}; {fix}")),
    );
}

fn default_ms(name: &str) -> u64 {
    let mut defaults = Settings::DEFAULT;
    *duration_field(&mut defaults, name)
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
