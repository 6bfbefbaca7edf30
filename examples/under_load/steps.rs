//! When each migration step ran: recorded from the runtime's `tracing` events (for zerodown) or timed
//! around each statement (for the naive run), as marks on the run's timeline.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// One step (or naive statement) on the timeline.
#[derive(Debug, Clone)]
pub struct StepMark {
    /// `m0004_org_fk 2/2: validate constraint ...` or the naive statement's label.
    pub label: String,
    /// The strongest lock the step takes, as the plan says (naive: as PostgreSQL documents).
    pub lock: String,
    /// Since the start of the workload.
    pub start: Duration,
    pub end: Duration,
    /// Attempts made (1 for naive statements).
    pub attempts: u32,
    /// When failed attempts ended (lock timeouts that were retried).
    pub retries: Vec<Duration>,
    /// Whether the step succeeded.
    pub ok: bool,
    /// For a backfill step: the rows it updated.
    pub backfill_rows: Option<u64>,
}

/// One event of the runtime.
#[derive(Debug, Clone)]
struct Recorded {
    at: Instant,
    message: String,
    fields: BTreeMap<&'static str, String>,
}

#[derive(Default)]
struct FieldsVisitor {
    message: String,
    fields: BTreeMap<&'static str, String>,
}

impl Visit for FieldsVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields.insert(field.name(), value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.insert(field.name(), format!("{value:?}"));
        }
    }
}

/// A `tracing` layer keeping the events of `zerodown_runtime` (and nothing else: sqlx logs every
/// application query, which must not cost anything here).
#[derive(Clone)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Recorded>>>,
    echo: bool,
}

impl Recorder {
    /// Installs the recorder as the global subscriber; `echo` also prints the events to stderr.
    pub fn install(echo: bool) -> Result<Recorder, String> {
        use tracing_subscriber::layer::SubscriberExt;
        let recorder = Recorder {
            events: Arc::default(),
            echo,
        };
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|e| format!("installing the tracing recorder: {e}"))?;
        Ok(recorder)
    }

    fn wanted(metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("zerodown_runtime")
            && *metadata.level() <= tracing::Level::INFO
    }

    /// Takes the events recorded so far and turns the step events into marks relative to `t0`.
    pub fn take_marks(&self, t0: Instant) -> Vec<StepMark> {
        let events = std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()));
        marks(&events, t0)
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if Recorder::wanted(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        Recorder::wanted(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut v = FieldsVisitor::default();
        event.record(&mut v);
        if self.echo {
            let fields: Vec<String> = v
                .fields
                .iter()
                .map(|(k, val)| format!("{k}={val}"))
                .collect();
            eprintln!("    [zerodown] {} {}", v.message, fields.join(" "));
        }
        let rec = Recorded {
            at: Instant::now(),
            message: v.message,
            fields: v.fields,
        };
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rec);
    }
}

/// Steps run one at a time, so each "running step" is closed by the next "step done" / "step
/// failed"; retries in between belong to it. A backfill step logs no "running step": its mark is
/// made from "backfill done" and the duration it reports (or from the first "backfill progress"
/// when it fails).
fn marks(events: &[Recorded], t0: Instant) -> Vec<StepMark> {
    let since = |at: Instant| at.saturating_duration_since(t0);
    let mut out: Vec<StepMark> = Vec::new();
    let mut open: Option<StepMark> = None;
    let mut migration = String::new();
    for e in events {
        let field = |name: &str| e.fields.get(name).cloned().unwrap_or_default();
        match e.message.as_str() {
            "applying migration" => {
                migration = format!("m{:0>4}_{}", field("version"), field("name"));
                let phase = field("phase");
                if phase != "expand" && !phase.is_empty() {
                    migration = format!("{migration} ({phase})");
                }
            }
            "running step" => {
                if let Some(m) = open.take() {
                    out.push(m);
                }
                open = Some(StepMark {
                    label: format!(
                        "{migration} {}/{}: {}",
                        field("step"),
                        field("total"),
                        field("description")
                    ),
                    lock: field("lock"),
                    start: since(e.at),
                    end: since(e.at),
                    attempts: 1,
                    retries: Vec::new(),
                    ok: false,
                    backfill_rows: None,
                });
            }
            "step failed transiently; retrying"
            | "backfill batch failed transiently; retrying it" => {
                if let Some(m) = open.as_mut() {
                    m.retries.push(since(e.at));
                }
            }
            "backfill progress" if open.is_none() => {
                open = Some(StepMark {
                    label: format!(
                        "{migration} {}: backfill of {}",
                        field("step"),
                        field("table")
                    ),
                    lock: "ROW EXCLUSIVE (batches)".to_owned(),
                    start: since(e.at),
                    end: since(e.at),
                    attempts: 1,
                    retries: Vec::new(),
                    ok: false,
                    backfill_rows: None,
                });
            }
            "backfill done" => {
                let took = Duration::from_millis(field("duration_ms").parse().unwrap_or(0));
                let retries = open.take().map(|m| m.retries).unwrap_or_default();
                let attempts = retries.len() as u32 + 1;
                out.push(StepMark {
                    label: format!(
                        "{migration} {}: backfill, {} rows in {} batches",
                        field("step"),
                        field("rows_updated"),
                        field("batches")
                    ),
                    lock: "ROW EXCLUSIVE (batches)".to_owned(),
                    start: since(e.at).saturating_sub(took),
                    end: since(e.at),
                    attempts,
                    retries,
                    ok: true,
                    backfill_rows: field("rows_updated").parse().ok(),
                });
            }
            "step done" | "step failed" | "backfill step failed" => {
                if let Some(mut m) = open.take() {
                    m.end = since(e.at);
                    m.ok = e.message == "step done";
                    if !m.ok {
                        m.label = format!("{} (failed: {})", m.label, field("error"));
                    }
                    m.attempts = field("attempts")
                        .parse()
                        .unwrap_or(m.retries.len() as u32 + 1);
                    out.push(m);
                }
            }
            _ => {}
        }
    }
    out.extend(open);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t0: Instant, ms: u64, message: &str, fields: &[(&'static str, &str)]) -> Recorded {
        Recorded {
            at: t0 + Duration::from_millis(ms),
            message: message.to_owned(),
            fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    #[test]
    fn steps_retries_and_backfills_become_marks() {
        let t0 = Instant::now();
        let events = [
            event(
                t0,
                0,
                "applying migration",
                &[("version", "2"), ("name", "add_token"), ("phase", "expand")],
            ),
            event(
                t0,
                10,
                "running step",
                &[
                    ("step", "1"),
                    ("total", "3"),
                    ("description", "add column"),
                    ("lock", "ACCESS EXCLUSIVE"),
                ],
            ),
            event(
                t0,
                300,
                "step failed transiently; retrying",
                &[("attempt", "1")],
            ),
            event(t0, 900, "step done", &[("attempts", "2")]),
            event(
                t0,
                950,
                "backfill progress",
                &[("step", "2"), ("table", "accounts")],
            ),
            event(
                t0,
                2000,
                "backfill done",
                &[
                    ("step", "2"),
                    ("rows_updated", "10"),
                    ("batches", "1"),
                    ("duration_ms", "1080"),
                ],
            ),
            event(
                t0,
                2100,
                "running step",
                &[
                    ("step", "3"),
                    ("total", "3"),
                    ("description", "set not null"),
                    ("lock", "ACCESS EXCLUSIVE"),
                ],
            ),
            event(t0, 2200, "step failed", &[("error", "boom")]),
        ];
        let m = marks(&events, t0);
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].label, "m0002_add_token 1/3: add column");
        assert_eq!(
            (m[0].start, m[0].end, m[0].attempts),
            (Duration::from_millis(10), Duration::from_millis(900), 2)
        );
        assert_eq!(m[0].retries, [Duration::from_millis(300)]);
        assert_eq!(
            (m[1].start, m[1].end),
            (Duration::from_millis(920), Duration::from_millis(2000))
        );
        assert!(m[1].label.contains("10 rows in 1 batches"));
        assert!(!m[2].ok && m[2].label.ends_with("(failed: boom)"));
    }
}
