//! `raw(reason = "..") "SQL"`: the escape hatch. It needs a reason (`raw_without_reason`) and must not
//! control transactions itself (`raw_transaction_control`), since the runtime wraps each step in its
//! own transaction and records progress in it; neither rule can be overridden.
//!
//! Each statement is read with a PostgreSQL grammar (`crate::raw`) and judged by the DSL's rules for the
//! same change on the target version: a broken rule is reported unless the `raw`'s own `allow = [..]`
//! or an enclosing `unsafe` block allows it; syntax the target lacks is an error; a statement that
//! cannot be read is `raw_unparsed`. The strongest lock of the statements is inferred, and a declared
//! `lock = ..` weaker than it is an error (the plan would understate what the step blocks). Without
//! `lock`, the step still counts as `ACCESS EXCLUSIVE` as before (so plans, and their checksums, are
//! unchanged).

use zerodown_runtime::plan::{LockLevel, PgVersion};

use super::{overrides, target_setting, Checker, Key};
use crate::ast::{Name, Range, RawSql};
use crate::raw::classify::{judge, Finding};
use crate::raw::model::{Op, OpKind};
use crate::raw::{lock, read, split};
use crate::rules::Rule;

const FORM: &str = "`raw(reason = \"what this does and why it is safe\") \"..\"`";

pub(super) fn check(ck: &mut Checker, raw: &RawSql) {
    match &raw.reason {
        // raw "..";
        None => ck.report(
            Rule::RawWithoutReason,
            raw.keyword,
            format_args!(
                "`raw` SQL is opaque to zerodown's checks, so it needs a reason; write {FORM}"
            ),
        ),
        // raw(reason = "") "..";
        Some(reason) if reason.value.trim().is_empty() => ck.report(
            Rule::RawWithoutReason,
            Range::single(reason.span),
            format_args!(
                "the reason of `raw` is blank; say what the SQL does and why it is safe: {FORM}"
            ),
        ),
        Some(_) => {}
    }

    let split = split(&raw.sql.value);
    let sql = Range::single(raw.sql.span);
    // raw(reason = "..") "begin; update ..; commit";
    if let Some(command) = split.control {
        ck.report(
            Rule::RawTransactionControl,
            sql,
            format_args!(
                "raw SQL contains `{command}`; zerodown runs each step in its own transaction and records its \
                 progress there, so remove the transaction control (write `no_transaction` to run a single \
                 statement outside a transaction)"
            ),
        );
    }
    // raw(reason = "..", no_transaction) "create index concurrently ..; create index concurrently ..";
    if raw.no_transaction && split.statements.len() > 1 {
        ck.error(
            sql,
            "`no_transaction` raw SQL must be a single statement: PostgreSQL runs a string of several \
             statements as one implicit transaction; write one `raw` per statement",
        );
    }

    let mut allow = Allow {
        rules: overrides::allowed(ck.cx, &raw.allow),
        used: Vec::new(),
    };
    let text = &raw.sql.value;
    // The strongest lock of the statements; `None` once one of them could not be read.
    let mut inferred = Some(LockLevel::None);
    let reads = read(text, &split);
    let several = reads.len() > 1;
    for (n, stmt) in reads.iter().enumerate() {
        let which = if several {
            format!(
                "statement {} (`{}`)",
                n + 1,
                snippet(&text[stmt.range.clone()])
            )
        } else {
            format!("`{}`", snippet(&text[stmt.range.clone()]))
        };
        match &stmt.outcome {
            Err(e) => {
                inferred = None;
                allow.report(
                    ck,
                    Rule::RawUnparsed,
                    sql,
                    format_args!(
                        "cannot read {which} at line {}, column {} of the SQL: {}; fix the SQL, or if it is \
                         valid PostgreSQL the parser does not know, write `raw(reason = \"..\", lock = .., \
                         allow = [raw_unparsed]) \"..\"` (zerodown then checks nothing in it)",
                        e.line, e.column, e.message
                    ),
                );
            }
            Ok(ops) => {
                for op in ops {
                    judge_op(ck, &mut allow, op, &which, sql);
                    inferred = inferred.map(|l| l.max(lock::lock(op, ck.target)));
                }
            }
        }
    }
    // raw(reason = "..", lock = row_exclusive) "alter table t add column a int";
    if let (Some((declared, range)), Some(inferred)) = (raw.lock, inferred) {
        if declared < inferred {
            ck.error(
                range,
                format_args!(
                    "`lock = {}` is weaker than the {} lock this SQL takes on PostgreSQL {}; write `lock = {}` \
                     (or leave `lock` out: the step then counts as ACCESS EXCLUSIVE)",
                    lock_name(declared),
                    inferred,
                    ck.target.0,
                    lock_name(inferred)
                ),
            );
        }
    }
    for (rule, name) in &allow.rules {
        if !allow.used.contains(rule) {
            ck.error(
                name.range(),
                format_args!(
                    "rule `{}` is allowed but nothing in this `raw` SQL breaks it; remove it from `allow`",
                    rule.name()
                ),
            );
        }
    }
}

/// The rules a `raw`'s own `allow = [..]` list allows, and which of them its SQL broke.
struct Allow {
    rules: Vec<(Rule, Name)>,
    used: Vec<Rule>,
}

impl Allow {
    /// Reports `rule` unless this `raw` or the enclosing `unsafe` block allows it.
    fn report(&mut self, ck: &mut Checker, rule: Rule, range: Range, text: impl std::fmt::Display) {
        if self.rules.iter().any(|(r, _)| *r == rule) {
            if !self.used.contains(&rule) {
                self.used.push(rule);
            }
            return;
        }
        ck.report(rule, range, text);
    }
}

fn judge_op(ck: &mut Checker, allow: &mut Allow, op: &Op, which: &str, sql: Range) {
    // A table created earlier in this migration is not live yet: no locking rule applies to it.
    let new = op
        .table
        .as_deref()
        .is_some_and(|t| ck.new_tables.contains(&key(t)));
    for finding in judge(op, ck.target) {
        match finding {
            Finding::Rule(rule, text) if !new => {
                allow.report(ck, rule, sql, format_args!("{which}: {text}"))
            }
            Finding::Rule(..) => {}
            // raw(reason = "..") "alter table p detach partition c concurrently"  (target 13)
            Finding::Gate(form, version) if ck.target < PgVersion(version) => ck.error(
                sql,
                format_args!(
                    "{which}: {form} is PostgreSQL {version} syntax and the target is {}; raise {} if \
                     every server runs {version} or newer",
                    ck.target,
                    target_setting(version)
                ),
            ),
            Finding::Gate(..) => {}
        }
    }
    if let OpKind::CreateTable {
        if_not_exists: false,
        partition_of: _,
        ..
    } = &op.kind
    {
        if let Some(t) = &op.table {
            ck.new_tables.insert(key(t));
        }
    }
}

/// The checker's key of a table named in raw SQL (`users`, `app.users`).
fn key(table: &str) -> Key {
    let (schema, name) = table.rsplit_once('.').unwrap_or(("public", table));
    Key {
        schema: schema.to_owned(),
        name: name.to_owned(),
    }
}

/// How `lock = ..` spells a level.
fn lock_name(level: LockLevel) -> String {
    level.to_string().to_lowercase().replace(' ', "_")
}

/// The start of a statement, on one line, for messages.
fn snippet(stmt: &str) -> String {
    let one_line: String = stmt.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 60 {
        let cut: String = one_line.chars().take(57).collect();
        format!("{cut}...")
    } else {
        one_line
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
    fn statements_are_judged_by_the_dsl_rules() {
        let e = errors(
            12,
            r#"raw(reason = "move it") "alter table t set tablespace fast";"#,
        );
        assert_eq!(
            e,
            ["`alter table t set tablespace fast`: `set tablespace` rewrites `t` under ACCESS EXCLUSIVE, \
              blocking reads and writes for the whole copy [rule: table_rewrite]"]
        );
        // Several statements: the message says which.
        let e = errors(
            12,
            r#"raw(reason = "x", lock = access_exclusive) "select 1; refresh materialized view mv";"#,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("statement 2 (`refresh materialized view mv`): "),
            "{e:?}"
        );
        assert!(e[0].ends_with("[rule: refresh_not_concurrent]"), "{e:?}");
    }

    #[test]
    fn allow_on_the_raw_or_an_unsafe_block_overrides() {
        let ok = [
            r#"raw(reason = "idle table", allow = [table_rewrite]) "alter table t set unlogged";"#,
            r#"unsafe(reason = "idle table", allow = [table_rewrite]) { raw(reason = "x") "alter table t set unlogged"; }"#,
            r#"raw(reason = "x", allow = [drop_column, rename_column]) "alter table t drop column a, rename b to c";"#,
        ];
        for body in ok {
            assert_eq!(errors(12, body), Vec::<String>::new(), "{body}");
        }
        // An allowed rule nothing breaks.
        let e = errors(
            12,
            r#"raw(reason = "x", allow = [table_rewrite]) "select 1";"#,
        );
        assert_eq!(
            e,
            ["rule `table_rewrite` is allowed but nothing in this `raw` SQL breaks it; remove it from `allow`"]
        );
        // Unknown and unoverridable names.
        let e = errors(
            12,
            r#"raw(reason = "x", allow = [raw_transaction_control]) "select 1";"#,
        );
        assert!(
            e[0].starts_with("rule `raw_transaction_control` cannot be overridden"),
            "{e:?}"
        );
        let e = errors(
            12,
            r#"raw(reason = "x", allow = [table_rewrit]) "select 1";"#,
        );
        assert!(e[0].contains("did you mean `table_rewrite`?"), "{e:?}");
    }

    #[test]
    fn tables_created_in_the_migration_are_not_live() {
        let bodies = [
            r#"create table n (a int); raw(reason = "x") "create index n_a on n (a)";"#,
            r#"raw(reason = "x") "create table n (a int)"; raw(reason = "x") "create index n_a on n (a); alter table n alter column a set not null";"#,
        ];
        for body in bodies {
            assert_eq!(errors(12, body), Vec::<String>::new(), "{body}");
        }
        // `if not exists` may meet a live table.
        let e = errors(
            12,
            r#"raw(reason = "x") "create table if not exists n (a int)"; raw(reason = "x") "create index n_a on n (a)";"#,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].ends_with("[rule: index_not_concurrent]"), "{e:?}");
    }

    #[test]
    fn declared_lock_must_not_be_weaker_than_the_inferred_one() {
        let e = errors(
            12,
            r#"raw(reason = "x", lock = row_exclusive) "alter table t add column a int";"#,
        );
        assert_eq!(
            e,
            ["`lock = row_exclusive` is weaker than the ACCESS EXCLUSIVE lock this SQL takes on PostgreSQL 12; \
              write `lock = access_exclusive` (or leave `lock` out: the step then counts as ACCESS EXCLUSIVE)"]
        );
        let e = errors(
            12,
            r#"raw(reason = "x", lock = share_update_exclusive) "refresh materialized view concurrently mv";"#,
        );
        assert!(
            e[0].starts_with("`lock = share_update_exclusive` is weaker than the EXCLUSIVE lock"),
            "{e:?}"
        );
        // The lock of `alter index .. rename` depends on the version.
        let body =
            r#"raw(reason = "x", lock = share_update_exclusive) "alter index i rename to j";"#;
        assert_eq!(errors(12, body), Vec::<String>::new());
        assert_eq!(errors(11, body).len(), 1);
        let ok = [
            r#"raw(reason = "x", lock = share_update_exclusive, no_transaction) "create index concurrently i on t (a)";"#,
            r#"raw(reason = "x", lock = row_exclusive) "insert into t values (1); update t set a = 2";"#,
            r#"raw(reason = "x", lock = access_share) "select pg_sleep(1)";"#,
            r#"raw(reason = "x", lock = none) "create function f() returns int language sql as $$ select 1 $$";"#,
            r#"raw(reason = "x", lock = exclusive) "refresh materialized view concurrently mv";"#,
        ];
        for body in ok {
            assert_eq!(errors(12, body), Vec::<String>::new(), "{body}");
        }
    }

    #[test]
    fn syntax_of_newer_versions_is_an_error_no_override_silences() {
        let body =
            r#"raw(reason = "x", no_transaction) "alter table p detach partition c concurrently";"#;
        let e = errors(13, body);
        assert_eq!(
            e,
            ["`alter table p detach partition c concurrently`: `detach partition .. concurrently` is \
              PostgreSQL 14 syntax and the target is PostgreSQL 13; raise `set target_postgres = 14;` if \
              every server runs 14 or newer"]
        );
        assert_eq!(errors(14, body), Vec::<String>::new());
        let e = errors(
            17,
            r#"raw(reason = "x") "alter table t add constraint t_a_nn not null a not valid";"#,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("`add constraint .. not null .. not valid` is PostgreSQL 18 syntax"),
            "{e:?}"
        );
    }

    #[test]
    fn unreadable_sql_is_located_and_can_be_allowed() {
        let e = errors(
            12,
            "raw(reason = \"x\") \"select 1;\n  update t set a = = 1\";",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "cannot read statement 2 (`update t set a = = 1`) at line 2, column 20 of the SQL: \
                 Expected: an expression, found: =; "
            ),
            "{e:?}"
        );
        assert!(e[0].ends_with("[rule: raw_unparsed]"), "{e:?}");
        // Allowed: the declared lock is then taken at its word.
        let body = r#"raw(reason = "x", lock = row_exclusive, allow = [raw_unparsed]) "update t set a = = 1";"#;
        assert_eq!(errors(12, body), Vec::<String>::new());
    }
}
