//! The text table printed at the end and the Markdown page written next to the picture.

use std::fmt::Write;
use std::time::Duration;

use crate::args::{Args, RunKind};
use crate::stats::{Latency, Summary};
use crate::steps::StepMark;

/// Everything one run produced that the report shows.
pub struct RunOutcome {
    pub kind: RunKind,
    pub summary: Summary,
    pub marks: Vec<StepMark>,
    /// Wall time of the migration (naive statements, or `run` + `complete`); `None` for the baseline.
    pub migration: Option<Duration>,
    /// The migration's error, when it failed.
    pub migration_error: Option<String>,
    /// The runtime's own report (zerodown only).
    pub runtime_report: Option<String>,
    /// Error messages of failed requests, with counts.
    pub errors: Vec<(String, u64)>,
    /// Rows the load took, and how long it took.
    pub load: Duration,
    /// The backfill steps of the run, with the application's latency while each ran.
    pub backfills: Vec<BackfillFigures>,
}

/// One backfill step of a zerodown run.
pub struct BackfillFigures {
    pub label: String,
    pub rows: u64,
    pub took: Duration,
    /// The application's requests arriving while it ran.
    pub during: Latency,
}

/// `1.23 s`, `456 ms`, `0.42 ms`.
pub fn dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{s:.1} s")
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.01 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

const HEADERS: [&str; 10] = [
    "run",
    "migration",
    "ops/s",
    "worst 1 s",
    "p50",
    "p99",
    "max",
    "> 1 s",
    "failed",
    "longest stall",
];

fn row(r: &RunOutcome) -> [String; 10] {
    let s = &r.summary;
    let migration = match (&r.migration, &r.migration_error) {
        (None, _) => "-".to_owned(),
        (Some(d), None) => dur(*d),
        (Some(d), Some(_)) => format!("{} FAILED", dur(*d)),
    };
    [
        r.kind.title().to_owned(),
        migration,
        format!("{:.0}", s.throughput),
        format!("{:.0}", s.worst_second),
        dur(s.p50),
        dur(s.p99),
        dur(s.max),
        s.over_1s.to_string(),
        s.failed().to_string(),
        dur(s.longest_stall),
    ]
}

/// The comparison as an aligned text table.
pub fn text_table(runs: &[RunOutcome]) -> String {
    let rows: Vec<[String; 10]> = runs.iter().map(row).collect();
    let mut widths = HEADERS.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                let _ = write!(out, "{c:<w$}");
            } else {
                let _ = write!(out, "  {c:>w$}");
            }
        }
        out.push('\n');
    };
    line(&mut out, &HEADERS.map(str::to_owned));
    line(&mut out, &widths.map(|w| "-".repeat(w)));
    for r in &rows {
        line(&mut out, r);
    }
    out
}

/// The comparison as a Markdown table.
pub fn markdown_table(runs: &[RunOutcome]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for r in runs {
        let _ = writeln!(out, "| {} |", row(r).join(" | "));
    }
    out
}

/// The targets of the zerodown runs, checked against the baseline: today's (no failure, max latency
/// within the lock timeout + 100 ms, throughput) for both strategies, and for looking before queueing
/// the tighter ones (max latency <= 200 ms, p99 <= 3x the baseline's).
pub fn targets(runs: &[RunOutcome], lock_timeout: Duration) -> Vec<String> {
    let Some(base) = runs.iter().find(|r| r.kind == RunKind::Baseline) else {
        return vec!["targets need the baseline run".to_owned()];
    };
    let limit = lock_timeout + Duration::from_millis(100);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut out = Vec::new();
    for zd in runs.iter().filter(|r| {
        matches!(
            r.kind,
            RunKind::Zerodown | RunKind::ZerodownQueue | RunKind::ZerodownHealth
        )
    }) {
        let z = &zd.summary;
        let name = zd.kind.name();
        let ratio = z.throughput / base.summary.throughput.max(1e-9);
        out.push(format!(
            "{name}: failed application requests: {} (target 0): {}",
            z.failed(),
            verdict(z.failed() == 0)
        ));
        out.push(format!(
            "{name}: max latency: {} (target <= lock_timeout {} + 100 ms = {}): {}",
            dur(z.max),
            dur(lock_timeout),
            dur(limit),
            verdict(z.max <= limit)
        ));
        let looks_first = matches!(zd.kind, RunKind::Zerodown | RunKind::ZerodownHealth);
        if looks_first {
            let tight = Duration::from_millis(200);
            out.push(format!(
                "{name}: max latency: {} (target <= 200 ms): {}",
                dur(z.max),
                verdict(z.max <= tight)
            ));
            out.push(format!(
                "{name}: max latency: {} (stretch: <= baseline max {} + 100 ms): {}",
                dur(z.max),
                dur(base.summary.max),
                verdict(z.max <= base.summary.max + Duration::from_millis(100))
            ));
            out.push(format!(
                "{name}: p99: {} (target <= 3 x baseline p99 {}): {}",
                dur(z.p99),
                dur(base.summary.p99),
                verdict(z.p99 <= base.summary.p99 * 3)
            ));
        }
        if looks_first {
            for b in &zd.backfills {
                out.push(format!(
                    "{name}: application p99 during \"{}\" ({:.0} rows/s): {} (target <= 1.5 x baseline p99 {}): {}",
                    b.label,
                    b.rows as f64 / b.took.as_secs_f64().max(1e-3),
                    dur(b.during.p99),
                    dur(base.summary.p99),
                    verdict(b.during.p99.as_secs_f64() <= base.summary.p99.as_secs_f64() * 1.5)
                ));
            }
        }
        out.push(format!(
            "{name}: throughput during the migration: {:.0}/s = {:.1}% of the baseline's {:.0}/s (target >= 90%): {}",
            z.throughput,
            ratio * 100.0,
            base.summary.throughput,
            verdict(ratio >= 0.9)
        ));
    }
    if out.is_empty() {
        out.push("targets need a zerodown run".to_owned());
    }
    out
}

/// Host and parameters, for the page.
pub struct Context {
    pub server: String,
    pub cpus: usize,
    pub load_before: String,
    pub load_after: String,
    pub lock_timeout: Duration,
}

/// The Markdown page: parameters, table, targets, steps of each run.
pub fn markdown(args: &Args, ctx: &Context, runs: &[RunOutcome]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Under load: naive SQL against zerodown\n");
    let _ = writeln!(md, "Generated by `{}`.\n", args.command);
    let _ = writeln!(md, "![latency over time](images/under_load.svg)\n");
    let _ = writeln!(md, "{}", markdown_table(runs));
    let _ = writeln!(
        md,
        "Latency is measured from each request's scheduled arrival to its answer, so time spent queueing for a \
         connection counts; `ops/s`, `worst 1 s`, the percentiles and `> 1 s` cover the window from the start of \
         the migration to the end of the migration or of the long read, whichever is later (for the baseline: the \
         long read); `failed` and `longest stall` (the longest time with no request answered) cover the whole run.\n"
    );
    for r in runs {
        let s = &r.summary;
        let _ = writeln!(
            md,
            "- {}: window {} to {}; {} requests in the run, {} given up waiting for a connection, {} cancelled by the \
             timeout, {} other errors; longest stall from {}",
            r.kind.title(),
            dur(s.window.0),
            dur(s.window.1),
            s.requests,
            s.gave_up,
            s.timed_out,
            s.errors,
            dur(s.stall_at)
        );
    }
    let _ = writeln!(md, "\n## The changes\n");
    let _ = writeln!(
        md,
        "| change | naive SQL (lock on `accounts`) | zerodown migration |\n|---|---|---|"
    );
    for c in crate::changes::CHANGES {
        let _ = writeln!(
            md,
            "| {} | `{}` ({}) | `m{:04}_{}`: {} step(s) |",
            c.label,
            c.naive_sql,
            c.naive_lock,
            c.migration.version,
            c.migration.name,
            c.migration.expand.steps.len() + c.migration.contract.steps.len()
        );
    }
    let _ = writeln!(md, "\n## Targets (zerodown run)\n");
    for t in targets(runs, ctx.lock_timeout) {
        let _ = writeln!(md, "- {t}");
    }
    let _ = writeln!(md, "\n## Setup\n");
    let _ = writeln!(
        md,
        "- server: {}; {} CPU(s); load average before {}, after {}",
        ctx.server, ctx.cpus, ctx.load_before, ctx.load_after
    );
    let _ = writeln!(
        md,
        "- table `accounts`: {} rows (fresh database per run, loaded in {}); `orgs`: 1000 rows",
        args.rows,
        runs.first().map(|r| dur(r.load)).unwrap_or_default()
    );
    let _ = writeln!(
        md,
        "- application: {} requests/s paced over {} connections (70% reads by primary key, 20% updates, 10% \
         inserts); request timeout {} (a request waiting longer for a connection is given up; `statement_timeout` \
         on the application's connections); reads {}",
        args.rate,
        args.connections,
        dur(args.app_timeout),
        if args.uncast_read {
            "`balance` as stored (`--uncast-read`)"
        } else {
            "`balance::bigint`, so their prepared statements survive the type change"
        }
    );
    let _ = writeln!(
        md,
        "- long read: a transaction reading `accounts` held open {} from {} into the run; the migration starts {} \
         later",
        dur(args.long_read),
        dur(args.warmup),
        dur(args.migration_delay)
    );
    for r in runs.iter().filter(|r| r.kind != RunKind::Baseline) {
        let _ = writeln!(md, "\n## {}\n", r.kind.title());
        if let Some(e) = &r.migration_error {
            let _ = writeln!(md, "The migration failed: {e}\n");
        }
        let _ = writeln!(
            md,
            "| # | step | lock | start | duration | attempts |\n|---|---|---|---|---|---|"
        );
        for (i, m) in r.marks.iter().enumerate() {
            let retries = if m.retries.is_empty() {
                String::new()
            } else {
                let at: Vec<String> = m
                    .retries
                    .iter()
                    .map(|t| format!("{:.2}", t.as_secs_f64()))
                    .collect();
                format!(" (failed attempts ended at {} s)", at.join(", "))
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {}{retries} |",
                i + 1,
                m.label.replace('|', "\\|"),
                m.lock,
                dur(m.start),
                dur(m.end - m.start),
                m.attempts
            );
        }
        if !r.errors.is_empty() {
            let _ = writeln!(md, "\nErrors of failed requests:\n");
            for (msg, n) in &r.errors {
                let _ = writeln!(md, "- {n} × `{msg}`");
            }
        }
        if let Some(rep) = &r.runtime_report {
            let _ = writeln!(md, "\nThe runtime's report:\n\n```text\n{}```", rep);
        }
    }
    md
}
