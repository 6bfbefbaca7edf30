//! Progress while `run`/`complete`/`rollback` work: on a terminal, an indicatif spinner naming the
//! step under way, a line per finished step and a bar per backfill; otherwise (a deploy job's log)
//! plain lines; nothing with `--json`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use zerodown_runtime::{
    BackfillProgress, BackfillStage, BackfillState, IndexBuildPhase, Migrator, PhaseKind,
    StepEvent, StepProgress,
};

/// A writer shared between the command and the progress callbacks.
pub(crate) type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Writes one line to `sink`; a failing stderr is not worth failing a migration for.
pub(crate) fn line(sink: &Sink, text: &str) {
    let mut w = sink.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = writeln!(w, "{text}");
    let _ = w.flush();
}

/// In plain-line mode, a running backfill prints at most this often (and at every change of stage).
const LINE_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Spinner and bars drawn on the terminal's stderr.
    Bar,
    /// One line per event on the error sink.
    Lines,
    /// Nothing (JSON output).
    Off,
}

/// Which backfill a progress report is about.
type Key = (u64, PhaseKind, usize);

/// What is on screen (bar mode) or was last printed (line mode) for one backfill.
struct Shown {
    bar: Option<ProgressBar>,
    stage: BackfillStage,
    state: BackfillState,
    printed: Instant,
}

#[derive(Default)]
struct State {
    multi: Option<MultiProgress>,
    spinner: Option<ProgressBar>,
    backfills: HashMap<Key, Shown>,
    /// Line mode: the index build phase last printed, and when.
    build_line: Option<(IndexBuildPhase, Instant)>,
}

/// The progress display of one command. Clones share the display.
#[derive(Clone)]
pub(crate) struct Progress {
    mode: Mode,
    err: Sink,
    state: Arc<Mutex<State>>,
}

impl Progress {
    pub(crate) fn new(mode: Mode, err: Sink) -> Progress {
        Progress {
            mode,
            err,
            state: Arc::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `migrator`, reporting its steps and its backfills' progress here.
    pub(crate) fn attach(&self, migrator: Migrator) -> Migrator {
        if self.mode == Mode::Off {
            return migrator;
        }
        let (this, that) = (self.clone(), self.clone());
        migrator
            .on_progress(move |p| this.backfill(p))
            .on_step(move |s| that.step(s))
    }

    /// A step started (the spinner names it), is building an index (the spinner says where; in
    /// line mode a line at each phase and at most every few seconds) or settled (a line stays).
    fn step(&self, s: &StepProgress) {
        let text = format!("{}: {s}", s.migration);
        match self.mode {
            Mode::Off => {}
            Mode::Lines => {
                if let StepEvent::Building(build) = s.event {
                    let mut state = self.state();
                    let due = state.build_line.map_or(true, |(phase, printed)| {
                        phase != build.phase || printed.elapsed() >= LINE_EVERY
                    });
                    if !due {
                        return;
                    }
                    state.build_line = Some((build.phase, Instant::now()));
                }
                line(&self.err, &text)
            }
            Mode::Bar => {
                let state = self.state();
                match s.event {
                    StepEvent::Started | StepEvent::Building(_) => {
                        if let Some(spinner) = &state.spinner {
                            spinner.set_message(text);
                        }
                    }
                    _ => {
                        if let Some(multi) = &state.multi {
                            let _ = multi.println(text);
                        }
                    }
                }
            }
        }
    }

    /// A line of its own, above the spinner and bars when they are shown; nothing with `--json`.
    pub(crate) fn note(&self, text: &str) {
        match self.mode {
            Mode::Off => {}
            Mode::Lines => line(&self.err, text),
            Mode::Bar => match &self.state().multi {
                Some(multi) => {
                    let _ = multi.println(text);
                }
                None => line(&self.err, text),
            },
        }
    }

    /// Shows that `what` is under way until [`finish`](Progress::finish).
    pub(crate) fn begin(&self, what: &str) {
        match self.mode {
            Mode::Off => {}
            Mode::Lines => line(&self.err, &format!("{what}...")),
            Mode::Bar => {
                let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                let spinner = multi.add(ProgressBar::new_spinner());
                spinner.set_style(style(
                    "{spinner} {msg} ({elapsed})",
                    ProgressStyle::default_spinner(),
                ));
                spinner.set_message(what.to_owned());
                spinner.enable_steady_tick(Duration::from_millis(120));
                let mut state = self.state();
                state.multi = Some(multi);
                state.spinner = Some(spinner);
            }
        }
    }

    /// Removes the spinner and bars, leaving the terminal clean for the report.
    pub(crate) fn finish(&self) {
        let mut state = self.state();
        for (_, shown) in state.backfills.drain() {
            if let Some(bar) = shown.bar {
                bar.finish_and_clear();
            }
        }
        if let Some(spinner) = state.spinner.take() {
            spinner.finish_and_clear();
        }
        state.multi = None;
    }

    fn backfill(&self, p: &BackfillProgress) {
        let key = (p.migration.version, p.phase, p.step);
        let mut state = self.state();
        let State {
            multi, backfills, ..
        } = &mut *state;
        let is_new = !backfills.contains_key(&key);
        let shown = backfills.entry(key).or_insert_with(|| Shown {
            bar: None,
            stage: p.stage,
            state: p.state,
            printed: Instant::now(),
        });
        // A change of state (working, throttled and why) is printed at once, like one of stage.
        let stage_changed = is_new || shown.stage != p.stage || shown.state != p.state;
        shown.stage = p.stage;
        shown.state = p.state;
        match self.mode {
            Mode::Off => {}
            Mode::Lines => {
                if stage_changed || shown.printed.elapsed() >= LINE_EVERY {
                    shown.printed = Instant::now();
                    line(&self.err, &format!("{}: {p}", p.migration));
                }
            }
            Mode::Bar => {
                let Some(multi) = multi.as_ref() else { return };
                let bar = shown.bar.get_or_insert_with(|| {
                    let bar = multi.add(match p.estimated_total {
                        Some(total) if total > 0 => ProgressBar::new(total),
                        _ => ProgressBar::new_spinner(),
                    });
                    bar.set_style(if bar.length().is_some() {
                        style(
                            "  {prefix} [{bar:30}] {pos}/~{len} rows ({percent}%) {msg}",
                            ProgressStyle::default_bar(),
                        )
                        .progress_chars("=> ")
                    } else {
                        style(
                            "  {prefix} {pos} rows {msg}",
                            ProgressStyle::default_spinner(),
                        )
                    });
                    bar.set_prefix(format!("backfill {}", p.table));
                    bar
                });
                if let Some(len) = bar.length() {
                    // The estimate comes from the planner's statistics and may be low.
                    if p.rows_passed > len {
                        bar.set_length(p.rows_passed);
                    }
                }
                bar.set_position(p.rows_passed);
                let eta = p
                    .eta
                    .map(|e| format!(", eta {}s", e.as_secs()))
                    .unwrap_or_default();
                bar.set_message(format!(
                    "{}, {} updated, {:.0} rows/s{eta}, {}",
                    p.stage, p.rows_updated, p.recent_rows_per_second, p.state
                ));
                if p.stage == BackfillStage::Done {
                    // Leave a line in the terminal's history, and room for the next backfill's bar.
                    let _ = multi.println(format!("{}: {p}", p.migration));
                    bar.finish_and_clear();
                    multi.remove(bar);
                    shown.bar = None;
                }
            }
        }
    }
}

fn style(template: &str, fallback: ProgressStyle) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or(fallback)
}
