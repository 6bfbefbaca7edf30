//! The triggers of a table, as the migrator must see them: which of the application's triggers a
//! batched write would fire, whether it may write as a replica so that none fires, and a fingerprint
//! of the table's triggers that tells whether any write could have bypassed an expand's sync trigger.
//!
//! PostgreSQL fires a trigger enabled `ORIGIN` (the default) only when `session_replication_role` is
//! `origin` or `local`, one enabled `REPLICA` only when it is `replica`, one enabled `ALWAYS` in every
//! role, and a disabled one never. Internal triggers (those behind foreign keys) are enabled `ORIGIN`,
//! so writing as a replica also skips foreign-key checks: [`write_mode`] refuses it when a written
//! column is part of a foreign key.

use sqlx::PgConnection;

use crate::plan::phased::is_sync_trigger;

/// A trigger the application (or its DBA) created on a table: not internal, not a sync trigger of
/// zerodown's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserTrigger {
    pub(crate) name: String,
    /// `pg_trigger.tgenabled`: `O` origin, `R` replica, `A` always, `D` disabled.
    pub(crate) enabled: char,
    /// A `BEFORE` trigger (it may change the row being written).
    pub(crate) before: bool,
    /// A row-level trigger.
    pub(crate) row: bool,
    /// Fires on `INSERT`.
    pub(crate) on_insert: bool,
    /// Fires on `UPDATE`.
    pub(crate) on_update: bool,
}

impl UserTrigger {
    /// Whether the trigger fires in a session whose `session_replication_role` is `replica` (or not).
    pub(crate) fn fires(&self, as_replica: bool) -> bool {
        match self.enabled {
            'A' => true,
            'R' => as_replica,
            'O' => !as_replica,
            _ => false,
        }
    }
}

// `pg_trigger.tgtype` bits (`catalog/pg_trigger.h`).
const ROW: i16 = 1;
const BEFORE: i16 = 2;
const INSERT: i16 = 4;
const UPDATE: i16 = 16;

/// The user triggers of `table` (rendered), by name.
pub(crate) async fn user_triggers(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<UserTrigger>, sqlx::Error> {
    let rows: Vec<(String, String, i16)> = sqlx::query_as(
        "SELECT tgname::text, tgenabled::text, tgtype FROM pg_trigger
         WHERE tgrelid = to_regclass($1) AND NOT tgisinternal ORDER BY tgname::text COLLATE \"C\"",
    )
    .bind(table)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(name, _, _)| !is_sync_trigger(name))
        .map(|(name, enabled, ty)| UserTrigger {
            name,
            enabled: enabled.chars().next().unwrap_or('O'),
            before: ty & BEFORE != 0,
            row: ty & ROW != 0,
            on_insert: ty & INSERT != 0,
            on_update: ty & UPDATE != 0,
        })
        .collect())
}

/// The enabled user `BEFORE` row triggers on `INSERT` or `UPDATE` that PostgreSQL fires after the
/// sync trigger `ours` (it fires a table's triggers in the byte order of their names): the sync
/// trigger would copy a value they change afterwards.
pub(crate) fn firing_after<'a>(triggers: &'a [UserTrigger], ours: &str) -> Vec<&'a str> {
    triggers
        .iter()
        .filter(|t| t.before && t.row && (t.on_insert || t.on_update) && t.enabled != 'D')
        .filter(|t| t.name.as_bytes() > ours.as_bytes())
        .map(|t| t.name.as_str())
        .collect()
}

/// Whether this session may `SET session_replication_role`: a superuser, or (PostgreSQL 15+) a role
/// granted `SET ON PARAMETER session_replication_role`.
pub(crate) async fn may_write_as_replica(
    conn: &mut PgConnection,
    server_version_num: u32,
) -> Result<bool, sqlx::Error> {
    let sql = if server_version_num >= 150_000 {
        "SELECT current_setting('is_superuser') = 'on'
             OR has_parameter_privilege('session_replication_role', 'SET')"
    } else {
        "SELECT current_setting('is_superuser') = 'on'"
    };
    sqlx::query_scalar(sql).fetch_one(conn).await
}

/// How batched writes to a table go, so that they fire none of the application's triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMode {
    /// As any session writes: no user trigger would fire (or the migration said they may).
    Plain,
    /// With `SET LOCAL session_replication_role = replica` in each transaction: the user triggers
    /// enabled `ORIGIN` stay silent, and the sync triggers (enabled `ALWAYS`) still fire.
    Replica,
}

impl WriteMode {
    /// The statement that starts a batch transaction in this mode, if any.
    pub(crate) fn set_local(self) -> Option<&'static str> {
        match self {
            WriteMode::Plain => None,
            WriteMode::Replica => Some("SET LOCAL session_replication_role = replica"),
        }
    }
}

/// Decides how batched `UPDATE`s of `columns` (rendered) of `table` are written so they fire none of
/// the application's triggers; `Err` is the refusal, saying which triggers would fire, why they cannot
/// be kept silent, and what the user can do. `fire_user_triggers`: the migration acknowledged that
/// they may fire (`unsafe(.., allow = [fires_user_triggers])`).
pub(crate) async fn write_mode(
    conn: &mut PgConnection,
    table: &str,
    columns: &[&str],
    fire_user_triggers: bool,
    server_version_num: u32,
) -> Result<Result<WriteMode, String>, sqlx::Error> {
    let triggers = user_triggers(conn, table).await?;
    let firing: Vec<&str> = triggers
        .iter()
        .filter(|t| t.on_update && t.fires(false))
        .map(|t| t.name.as_str())
        .collect();
    if firing.is_empty() {
        return Ok(Ok(WriteMode::Plain));
    }
    if fire_user_triggers {
        tracing::info!(
            table,
            triggers = %firing.join(", "),
            "the batches fire the table's own triggers, as the migration allows (fires_user_triggers)"
        );
        return Ok(Ok(WriteMode::Plain));
    }
    let refuse = |why: String| {
        Ok(Err(format!(
            "updating {table} in batches would fire the table's own trigger(s) {} and change data nobody asked to change ({why}); nothing was written; {}",
            firing.join(", "),
            "if firing them is intended, wrap the statement in `unsafe(reason = \"..\", allow = [fires_user_triggers]) { .. }`"
        )))
    };
    if !may_write_as_replica(conn, server_version_num).await? {
        return refuse(format!(
            "zerodown keeps them silent by writing with `session_replication_role = replica`, which this role may not set: run migrations as a superuser{}",
            if server_version_num >= 150_000 {
                ", or `GRANT SET ON PARAMETER session_replication_role TO <role>`"
            } else {
                ""
            }
        ));
    }
    let always: Vec<&str> = triggers
        .iter()
        .filter(|t| t.on_update && t.fires(true))
        .map(|t| t.name.as_str())
        .collect();
    if !always.is_empty() {
        return refuse(format!(
            "{} fire(s) even for a replica (enabled ALWAYS or REPLICA), so `session_replication_role = replica` cannot keep them silent",
            always.join(", ")
        ));
    }
    let names: Vec<String> = columns
        .iter()
        .map(|c| crate::backfill::sql::unquote(c))
        .collect();
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint c WHERE contype = 'f' AND (
             (conrelid = to_regclass($1) AND EXISTS (SELECT FROM pg_attribute a
                 WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) AND a.attname::text = ANY ($2)))
          OR (confrelid = to_regclass($1) AND EXISTS (SELECT FROM pg_attribute a
                 WHERE a.attrelid = c.confrelid AND a.attnum = ANY (c.confkey) AND a.attname::text = ANY ($2))))
         ORDER BY 1",
    )
    .bind(table)
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?;
    if !keys.is_empty() {
        return refuse(format!(
            "writing as a replica would also skip the checks of foreign key(s) {} on the written column(s)",
            keys.join(", ")
        ));
    }
    Ok(Ok(WriteMode::Replica))
}

/// A fingerprint of `table`'s triggers and of the sync trigger's `function` (rendered, without
/// arguments): each non-internal trigger's oid, row version (`xmin`) and enabled state, and the
/// function's row version. Disabling, enabling, creating, dropping or replacing any of them changes
/// it. While it stays the same and the sync trigger fires `ALWAYS` and last, every write went through
/// the sync trigger, so the copy cannot have fallen out of sync; when it changed, the rows must be
/// compared. (Freezing a catalog row also changes it: a false alarm, never a miss.)
///
/// Other expands' sync triggers (`ours` is this one's) are left out: creating or dropping them is no
/// bypass of this one.
pub(crate) async fn fingerprint(
    conn: &mut PgConnection,
    table: &str,
    function: &str,
    ours: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce((SELECT string_agg(oid::text || ':' || xmin::text || ':' || tgenabled::text, ',' ORDER BY oid)
                          FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal
                              AND (tgname = $3 OR NOT (tgname::text LIKE '~zd\\_sync\\_%'
                                                       OR tgname::text LIKE '\\_zd\\_sync\\_%'))), '')
             || '|' || coalesce((SELECT xmin::text FROM pg_proc WHERE oid = to_regprocedure($2 || '()')), '-')",
    )
    .bind(table)
    .bind(function)
    .bind(ours)
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(name: &str, enabled: char, before: bool) -> UserTrigger {
        UserTrigger {
            name: name.to_owned(),
            enabled,
            before,
            row: true,
            on_insert: true,
            on_update: true,
        }
    }

    #[test]
    fn which_triggers_fire_for_a_replica() {
        assert!(trigger("t", 'O', true).fires(false));
        assert!(!trigger("t", 'O', true).fires(true));
        assert!(trigger("t", 'A', true).fires(true));
        assert!(trigger("t", 'R', true).fires(true));
        assert!(!trigger("t", 'R', true).fires(false));
        assert!(!trigger("t", 'D', true).fires(false));
    }

    #[test]
    fn only_enabled_before_row_triggers_sorting_after_ours_are_reported() {
        let all = [
            trigger("normalize", 'O', true),
            trigger("~~late", 'O', true),
            trigger("~~late_disabled", 'D', true),
            trigger("~~late_after", 'O', false),
            trigger("é_accented", 'A', true),
        ];
        assert_eq!(firing_after(&all, "~zd_sync_t_c"), ["~~late", "é_accented"]);
    }
}
