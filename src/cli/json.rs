//! The `--json` documents. Field names are part of the CLI's interface: add fields, never rename or
//! remove them. The schema is documented in the module docs of `zerodown::cli`.

use serde_json::{json, Map, Value};
use zerodown_runtime::plan::{StepKind, Transaction};
use zerodown_runtime::{
    Drift, Error, MigrationId, MigrationReport, MigrationState, Plan, PlannedStep, RunReport,
    Status, StepOutcome,
};

use super::exit::Exit;

/// The envelope every document shares: `command`, `ok`, `exit_code`, `database`, then the body's
/// fields.
pub(crate) fn document(command: &str, database: Option<&str>, exit: Exit, body: Value) -> Value {
    let mut out = Map::new();
    out.insert("command".into(), json!(command));
    out.insert("ok".into(), json!(exit.is_success()));
    out.insert("exit_code".into(), json!(exit.code()));
    out.insert("database".into(), json!(database));
    if let Value::Object(fields) = body {
        out.extend(fields);
    }
    Value::Object(out)
}

fn id(id: &MigrationId) -> Value {
    json!({ "version": id.version, "name": id.name })
}

fn drift(d: &Drift) -> Value {
    json!({
        "version": d.migration.version,
        "name": d.migration.name,
        "recorded_name": d.recorded_name,
        "recorded_checksum": d.recorded_checksum,
        "checksum": d.checksum,
        "changed_steps": d.changes.iter().map(|c| json!({
            "phase": c.phase.as_str(),
            "step": c.index + 1,
            "recorded": c.recorded.as_ref().map(|(d, s)| json!({ "description": d, "sql": s })),
            "current": c.current.as_ref().map(|(d, s)| json!({ "description": d, "sql": s })),
        })).collect::<Vec<_>>(),
    })
}

/// `migrate status`.
pub(crate) fn status(status: &Status) -> Value {
    let migrations: Vec<Value> = status
        .migrations
        .iter()
        .map(|m| {
            let (done, total) = match m.state {
                MigrationState::Expanding { done, total }
                | MigrationState::Completing { done, total } => (Some(done), Some(total)),
                _ => (None, None),
            };
            json!({
                "version": m.id.version,
                "name": m.id.name,
                "description": m.description,
                "state": m.state.as_str(),
                "steps_done": done,
                "steps_total": total,
                "has_contract": m.has_contract,
                "drift": m.drift.as_ref().map(drift),
                "mid_change": m.mid_change,
                "out_of_order": m.out_of_order,
                "baseline": m.baseline,
                "last_error": m.last_error,
                "applied_at": m.applied_at,
            })
        })
        .collect();
    let unknown: Vec<Value> = status
        .unknown
        .iter()
        .map(|u| json!({ "version": u.id.version, "name": u.id.name, "state": u.state }))
        .collect();
    let run_error = status.run_error.as_deref().map(|e| {
        let exit = Exit::of(e);
        error(exit, &e.to_string(), Some(e))
    });
    json!({
        "history_exists": status.history_exists,
        "steps_table_exists": status.steps_table_exists,
        "history_schema": status.history_schema,
        "out_of_order": status.out_of_order().count(),
        "run_error": run_error,
        "up_to_date": status.is_up_to_date(),
        "pending": status.pending().count(),
        "awaiting_complete": status.awaiting_complete().count(),
        "drifted": status.drifted().count(),
        "runner": status.runner,
        "migrations": migrations,
        "unknown": unknown,
    })
}

/// `migrate baseline`.
pub(crate) fn baseline(version: u64, recorded: &[MigrationId]) -> Value {
    json!({
        "version": version,
        "recorded": recorded.iter().map(id).collect::<Vec<_>>(),
    })
}

pub(crate) fn accepted_drift(version: u64, drift: Option<&zerodown_runtime::Drift>) -> Value {
    json!({
        "version": version,
        "accepted": drift.map(|d| d.to_string()),
    })
}

fn planned_step(p: &PlannedStep) -> Value {
    let s = p.step;
    let kind = match s.kind {
        StepKind::Sql => "sql",
        StepKind::ConcurrentIndex { .. } => "concurrent_index",
        StepKind::Backfill(_) => "backfill",
        StepKind::Phased(_) => "expand_contract",
    };
    json!({
        "version": p.id.version,
        "name": p.id.name,
        "phase": p.phase.as_str(),
        "step": p.index + 1,
        "steps_total": p.total,
        "description": s.description,
        "kind": kind,
        "transaction": match s.transaction {
            Transaction::Transactional => "transactional",
            Transaction::Alone => "alone",
        },
        "lock": s.lock.as_sql(),
        "tables": s.tables,
        "rewrites": s.rewrites,
        "lock_timeout_ms": s.lock_timeout_ms,
        "first_lock_timeout_ms": p.first_lock_timeout().as_millis() as u64,
        "statement_timeout_ms": s.statement_timeout_ms,
        "resumes": p.resumes,
        "statements": s.statements,
    })
}

/// `migrate plan`.
pub(crate) fn plan(phase: &str, plan: &Plan) -> Value {
    json!({
        "phase": phase,
        "steps": plan.steps.iter().map(planned_step).collect::<Vec<_>>(),
    })
}

fn migration_report(m: &MigrationReport) -> Value {
    json!({
        "version": m.id.version,
        "name": m.id.name,
        "phase": m.phase.as_str(),
        "duration_ms": m.duration.as_millis() as u64,
        "steps": m.steps.iter().map(|s| json!({
            "step": s.index + 1,
            "description": s.description,
            "outcome": match s.outcome {
                StepOutcome::Ran => "ran",
                StepOutcome::AlreadyDone => "already_done",
            },
            "attempts": s.attempts,
            "duration_ms": s.duration.as_millis() as u64,
        })).collect::<Vec<_>>(),
    })
}

/// `migrate rollback`.
pub(crate) fn rollback(report: &MigrationReport) -> Value {
    json!({ "migration": migration_report(report) })
}

/// The migration phases a failed `run`/`complete` applied before its error.
pub(crate) fn applied(migrations: &[MigrationReport]) -> Value {
    Value::Array(migrations.iter().map(migration_report).collect())
}

/// `migrate run` and `migrate complete`.
pub(crate) fn report(report: &RunReport, awaiting_complete: &[MigrationId]) -> Value {
    let migrations: Vec<Value> = report.migrations.iter().map(migration_report).collect();
    json!({
        "lock_wait_ms": report.lock_wait.as_millis() as u64,
        "migrations": migrations,
        "awaiting_complete": awaiting_complete.iter().map(id).collect::<Vec<_>>(),
    })
}

/// The `error` object of a failed command.
pub(crate) fn error(exit: Exit, message: &str, error: Option<&Error>) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(exit.as_str()));
    out.insert("message".into(), json!(message));
    match error {
        Some(Error::Step(s)) => {
            out.insert("migration".into(), id(&s.migration));
            out.insert("phase".into(), json!(s.phase.as_str()));
            out.insert("step".into(), json!(s.index + 1));
            out.insert("steps_total".into(), json!(s.total));
            out.insert("description".into(), json!(s.description));
            out.insert("sql".into(), json!(s.sql));
            out.insert("attempts".into(), json!(s.attempts));
            out.insert("sqlstate".into(), json!(s.sqlstate));
            out.insert("detail".into(), json!(s.detail));
            out.insert(
                "blockers".into(),
                s.blockers
                    .iter()
                    .map(|b| {
                        json!({
                            "pid": b.pid,
                            "application_name": b.application_name,
                            "state": b.state,
                            "query": b.query,
                            "transaction_age_ms": b.transaction_age.map(|d| d.as_millis() as u64),
                        })
                    })
                    .collect(),
            );
        }
        Some(Error::Drift(drifts)) => {
            out.insert("drifts".into(), drifts.iter().map(drift).collect());
        }
        Some(Error::OutOfOrder { pending, newest }) => {
            out.insert("migration".into(), id(pending));
            out.insert("newest_applied".into(), id(newest));
        }
        Some(Error::MidChange {
            migration,
            waiting,
            objects,
        }) => {
            out.insert("migration".into(), id(migration));
            out.insert("waiting".into(), id(waiting));
            out.insert("objects".into(), json!(objects));
        }
        Some(Error::RollingBack { migration } | Error::CannotRollback { migration, .. }) => {
            out.insert("migration".into(), id(migration));
        }
        Some(Error::Interrupted(stopped)) => {
            out.insert("migration".into(), id(&stopped.migration));
            out.insert("phase".into(), json!(stopped.phase.as_str()));
            out.insert("step".into(), json!(stopped.index + 1));
            out.insert("steps_total".into(), json!(stopped.total));
            out.insert(
                "backfill".into(),
                match stopped.backfill {
                    Some((batches, rows)) => json!({ "batches": batches, "rows_updated": rows }),
                    None => Value::Null,
                },
            );
            out.insert("finished".into(), stopped.finished.iter().map(id).collect());
        }
        Some(Error::LockTimeout { waited, holder }) => {
            out.insert("waited_ms".into(), json!(waited.as_millis() as u64));
            out.insert("holder".into(), json!(holder));
        }
        Some(Error::ServerTooOld { server, migrations }) => {
            out.insert("server_version".into(), json!(server.0));
            out.insert(
                "migrations".into(),
                migrations
                    .iter()
                    .map(|(m, target)| json!({ "version": m.version, "name": m.name, "target_postgres": target.0 }))
                    .collect(),
            );
        }
        _ => {}
    }
    Value::Object(out)
}
