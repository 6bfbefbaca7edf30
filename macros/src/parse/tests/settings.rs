use zerodown_runtime::plan::{PgVersion, Settings};

use super::*;
use crate::ast::SettingValue;
use crate::parse::resolve_settings;

/// Parses `body` and resolves its settings; returns them and every error (parse and resolve).
fn resolve(body: &str) -> (Settings, Vec<Diag>) {
    let cx = Ctxt::new();
    let input = crate::parse::parse_migration(&cx, tokens(&module(body))).expect("header");
    let settings = resolve_settings(&cx, &input.settings);
    (settings, diags(cx))
}

fn resolved(body: &str) -> Settings {
    let (s, diags) = resolve(body);
    assert!(
        diags.is_empty(),
        "unexpected errors for {body:?}: {diags:#?}"
    );
    s
}

fn resolve_error(body: &str) -> Diag {
    let (_, mut diags) = resolve(body);
    assert_eq!(
        diags.len(),
        1,
        "expected one error for {body:?}: {diags:#?}"
    );
    diags.remove(0)
}

#[test]
fn defaults_without_settings() {
    assert_eq!(
        resolved("create index concurrently i on t (a);"),
        Settings::DEFAULT
    );
}

#[test]
fn duration_units() {
    let s = resolved(
        "set lock_timeout = 500ms; set statement_timeout = 2min; set online_lock_timeout = 3s;
         set long_statement_timeout = 1h; set retry_budget = 1d; set backfill_pause = 0;",
    );
    assert_eq!(s.lock_timeout_ms, 500);
    assert_eq!(s.statement_timeout_ms, 120_000);
    assert_eq!(s.online_lock_timeout_ms, 3_000);
    assert_eq!(s.long_statement_timeout_ms, 3_600_000);
    assert_eq!(s.retry_budget_ms, 86_400_000);
    assert_eq!(s.backfill_pause_ms, 0);
    assert_eq!(s.retry_attempts, Settings::DEFAULT.retry_attempts);
}

#[test]
fn durations_as_strings_and_case_insensitive_set() {
    let s = resolved(r#"SET lock_timeout = "1_500 ms"; Set statement_timeout = " 2s ";"#);
    assert_eq!((s.lock_timeout_ms, s.statement_timeout_ms), (1_500, 2_000));
}

#[test]
fn integer_settings() {
    let s = resolved(
        "set retry_attempts = 3; set backfill_batch_size = 5_000; set target_postgres = 15;",
    );
    assert_eq!(s.retry_attempts, 3);
    assert_eq!(s.backfill_batch_size, 5_000);
    assert_eq!(s.target, PgVersion(15));
    let s = resolved(
        "set retry_attempts = 1000; set backfill_batch_size = 1_000_000; set target_postgres = 10;",
    );
    assert_eq!(
        (s.retry_attempts, s.backfill_batch_size, s.target),
        (1000, 1_000_000, PgVersion(10))
    );
}

#[test]
fn setting_values_keep_their_range() {
    let (input, diags) = parse_body("set lock_timeout = 2s;\nset retry_attempts = 4;");
    assert!(diags.is_empty());
    assert_eq!(input.settings.len(), 2);
    let first = &input.settings[0];
    assert_eq!(first.name.value, "lock_timeout");
    assert!(matches!(
        first.value,
        SettingValue::Duration { ms: 2000, .. }
    ));
    assert_eq!(pos(first.range), ((2, 0), (2, 21)));
    assert_eq!(pos(first.value.range()), ((2, 19), (2, 21)));
    assert!(matches!(
        input.settings[1].value,
        SettingValue::Integer { value: 4, .. }
    ));
}

#[test]
fn bare_integer_duration_needs_a_unit() {
    let d = resolve_error("set lock_timeout = 2;");
    assert_eq!(d.msg, "`lock_timeout` needs a unit, e.g. `2s` or `500ms`");
    assert_eq!(d.start, (2, 19));
    let d = resolve_error("set retry_budget = 2 s;");
    assert_eq!(d.msg, "write the unit right after the number: `2s`");
}

#[test]
fn unknown_units_and_overflow() {
    let d = resolve_error("set lock_timeout = 2sec;");
    assert!(
        d.msg
            .starts_with("unknown duration unit `sec`; use `ms`, `s`, `min`, `h` or `d`"),
        "{}",
        d.msg
    );
    assert_eq!(d.start, (2, 19));
    let d = resolve_error(r#"set lock_timeout = "2 weeks";"#);
    assert!(
        d.msg.starts_with("unknown duration unit `weeks`"),
        "{}",
        d.msg
    );
    let d = resolve_error("set retry_budget = 18446744073709551615d;");
    assert_eq!(d.msg, "duration `18446744073709551615d` is too large");
    let d = resolve_error("set retry_budget = 99999999999999999999999ms;");
    assert!(d.msg.contains("too large"), "{}", d.msg);
    let d = resolve_error("set statement_timeout = 25d;");
    assert!(
        d.msg.contains("above PostgreSQL's limit of 2147483647ms"),
        "{}",
        d.msg
    );
    let d = resolve_error("set lock_timeout = 1.5s;");
    assert!(
        d.msg.starts_with("durations are whole numbers of a unit"),
        "{}",
        d.msg
    );
    let d = resolve_error(r#"set lock_timeout = "soon";"#);
    assert!(
        d.msg.starts_with("expected a duration such as"),
        "{}",
        d.msg
    );
    let d = resolve_error("set lock_timeout = -1s;");
    assert_eq!(d.msg, "`lock_timeout` cannot be negative");
    let d = resolve_error("set lock_timeout = fast;");
    assert_eq!(
        d.msg,
        "expected a value for `lock_timeout`, such as `2s` or `1000`, found `fast`"
    );
}

#[test]
fn integer_settings_reject_units_and_out_of_range() {
    let d = resolve_error("set retry_attempts = 3s;");
    assert_eq!(
        d.msg,
        "`retry_attempts` takes a plain number, e.g. `1`; remove the unit"
    );
    let d = resolve_error("set retry_attempts = 0;");
    assert_eq!(
        d.msg,
        "`retry_attempts` is 0, out of range; use a value from 1 to 1000"
    );
    let d = resolve_error("set retry_attempts = 1001;");
    assert_eq!(
        d.msg,
        "`retry_attempts` is 1001, out of range; use a value from 1 to 1000"
    );
    let d = resolve_error("set backfill_batch_size = 1_000_001;");
    assert_eq!(
        d.msg,
        "`backfill_batch_size` is 1000001, out of range; use a value from 1 to 1000000"
    );
    let d = resolve_error("set target_postgres = 9;");
    assert_eq!(d.msg, "`target_postgres` is 9, which zerodown does not support; use a PostgreSQL major version from 10 to 18");
    assert_eq!(d.start, (2, 22));
    let d = resolve_error("set target_postgres = 19;");
    assert!(d.msg.starts_with("`target_postgres` is 19,"), "{}", d.msg);
}

#[test]
fn unknown_setting_suggests_the_closest() {
    let d = resolve_error("set lock_timout = 2s;");
    assert!(
        d.msg.starts_with(
            "unknown setting `lock_timout`; did you mean `lock_timeout`? known settings: `lock_timeout`, "
        ),
        "{}",
        d.msg
    );
    assert!(d.msg.ends_with("[rule: unknown_setting]"));
    assert_eq!((d.start, d.end), ((2, 4), (2, 15)));
    let d = resolve_error("set colour = 2;");
    assert!(
        d.msg
            .starts_with("unknown setting `colour`; known settings:"),
        "{}",
        d.msg
    );
}

#[test]
fn duplicates_are_reported_on_the_second() {
    let (s, diags) = resolve("set lock_timeout = 2s;\nset lock_timeout = 3s;");
    assert_eq!(diags.len(), 1);
    assert_eq!(
        diags[0].msg,
        "duplicate setting `lock_timeout`; set it once"
    );
    assert_eq!(diags[0].start, (3, 0));
    assert_eq!(s.lock_timeout_ms, 2000);
}

#[test]
fn zero_lock_timeouts_are_unbounded() {
    let d = resolve_error("set lock_timeout = 0s;");
    assert_eq!(d.msg, "a zero `lock_timeout` waits forever; use a bounded value such as `1s` [rule: lock_timeout_unbounded]");
    assert_eq!(d.start, (2, 19));
    let d = resolve_error("set online_lock_timeout = 0;");
    assert_eq!(
        d.msg,
        "a zero `online_lock_timeout` waits forever; use a bounded value such as `1min` [rule: lock_timeout_unbounded]"
    );
}

#[test]
fn zero_statement_timeouts_are_unbounded() {
    let d = resolve_error("set statement_timeout = 0ms;");
    assert_eq!(
        d.msg,
        "a zero `statement_timeout` never times out; use a bounded value such as `30s`"
    );
    let d = resolve_error("set long_statement_timeout = 0h;");
    assert_eq!(
        d.msg,
        "a zero `long_statement_timeout` never times out; use a bounded value such as `6h`"
    );
}

#[test]
fn lock_timeout_must_be_below_statement_timeout() {
    let d = resolve_error("set lock_timeout = 5s;\nset statement_timeout = 5s;");
    assert_eq!(
        d.msg,
        "`lock_timeout` of 5s is not below `statement_timeout` of 5s; a lock wait must give up before the \
         statement does, so lower `lock_timeout` or raise `statement_timeout` \
         [rule: lock_timeout_not_below_statement_timeout]"
    );
    assert_eq!(d.start, (2, 19), "on the lock timeout when both are set");

    let d = resolve_error("set lock_timeout = 1min;");
    assert!(
        d.msg.starts_with(
            "`lock_timeout` of 1min is not below the default `statement_timeout` of 30s;"
        ),
        "{}",
        d.msg
    );

    let d = resolve_error("set statement_timeout = 500ms;");
    assert!(
        d.msg.starts_with(
            "`statement_timeout` of 500ms is not above the default `lock_timeout` of 1s;"
        ),
        "{}",
        d.msg
    );
    assert_eq!(d.start, (2, 24));

    let d = resolve_error("set long_statement_timeout = 30s;");
    assert!(
        d.msg.starts_with(
            "`long_statement_timeout` of 30s is not above the default `online_lock_timeout` of 1min;"
        ),
        "{}",
        d.msg
    );
    assert!(d
        .msg
        .ends_with("[rule: lock_timeout_not_below_statement_timeout]"));

    let s = resolved("set lock_timeout = 29s;");
    assert_eq!(s.lock_timeout_ms, 29_000);
}

#[test]
fn settings_must_come_first() {
    let d = error("create index concurrently i on t (a);\nset lock_timeout = 2s;");
    assert_eq!(
        d.msg,
        "settings come before the first statement; move this `set` to the top"
    );
    assert_eq!(d.start, (3, 0));
}

#[test]
fn setting_syntax_errors() {
    let d = error("set lock_timeout 2s;");
    assert_eq!(d.msg, "expected `=` after `set lock_timeout`, found `2s`");
    let d = error("set = 2s;");
    assert_eq!(d.msg, "expected a setting name after `set`, found `=`");
    let d = error("set lock_timeout = 2s set retry_attempts = 3;");
    assert_eq!(d.msg, "expected `;` after the setting, found `set`");
    assert_eq!(d.start, (2, 22));
}

#[test]
fn durations_format_back() {
    use crate::parse::settings::format_ms;
    assert_eq!(format_ms(0), "0s");
    assert_eq!(format_ms(1500), "1500ms");
    assert_eq!(format_ms(30_000), "30s");
    assert_eq!(format_ms(90_000), "90s");
    assert_eq!(format_ms(120_000), "2min");
    assert_eq!(format_ms(21_600_000), "6h");
    assert_eq!(format_ms(172_800_000), "2d");
}

#[test]
fn backfill_pacing_settings() {
    let s = resolved("set backfill_target_batch = 200ms; set backfill_max_replica_lag = 5s;");
    assert_eq!(
        (s.backfill_target_batch_ms, s.backfill_max_replica_lag_ms),
        (200, 5_000)
    );
    assert!(!s.backfill_batch_size_set && !s.backfill_pause_set);
    assert!(s.pace().adaptive());
    let s = resolved("set backfill_batch_size = 500; set backfill_pause = 5ms;");
    assert!(s.backfill_batch_size_set && s.backfill_pause_set);
    assert!(
        !s.pace().adaptive(),
        "a written batch size without a target is fixed"
    );
    let d = resolve_error("set backfill_target_batch = 2min;");
    assert_eq!(
        d.msg,
        "`backfill_target_batch` of 2min is out of range; use a duration from 1ms to 1min"
    );
    let d = resolve_error("set backfill_max_replica_lag = 10ms;");
    assert_eq!(
        d.msg,
        "`backfill_max_replica_lag` of 10ms is out of range; use a duration from 100ms to 1d"
    );
    let d = resolve_error("set backfill_max_replica_lag = 5;");
    assert_eq!(
        d.msg,
        "`backfill_max_replica_lag` needs a unit, e.g. `2s` or `500ms`"
    );
    let s = resolved("set backfill_busy_percent = 40;");
    assert_eq!(s.pace().busy_percent, 40);
    let d = resolve_error("set backfill_busy_percent = 0;");
    assert_eq!(
        d.msg,
        "`backfill_busy_percent` is 0, out of range; use a percentage of the time from 1 to 100 (100 never rests while other sessions work)"
    );
    let d = resolve_error("set backfill_busy_percent = 50ms;");
    assert_eq!(
        d.msg,
        "`backfill_busy_percent` takes a plain number, e.g. `1`; remove the unit"
    );
}
