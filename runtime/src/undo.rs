//! Rolling back a migration without `expand` operations that stopped part-way: which of its expand
//! steps committed, whether their [`Undo`](crate::plan::Undo) can take them back, and what a failed
//! step leaves in effect until then.

use crate::history::{History, StepState};
use crate::plan::{Migration, StepKind, Transaction};
use crate::status::{MigrationId, PhaseKind};

/// The expand steps of `m` that committed something: done, or started without being recorded done
/// when their effect commits on its own (a concurrent build, a statement run alone that was
/// interrupted, a backfill's batches).
pub(crate) fn committed(m: &Migration, history: &History) -> Vec<usize> {
    m.expand
        .steps
        .iter()
        .enumerate()
        .filter(|(i, step)| {
            let key = (m.version, PhaseKind::Expand, *i);
            match history.steps.get(&key) {
                None => false,
                Some(row) if row.state == StepState::Done => true,
                Some(row) => match step.kind {
                    StepKind::Backfill(_) => row.has_cursor,
                    // A failed build may leave its INVALID index (when dropping it failed too).
                    StepKind::ConcurrentIndex { .. } => row.state.was_started(),
                    // A statement run alone that failed changed nothing; one interrupted
                    // (`running`) may have taken effect.
                    _ => step.transaction == Transaction::Alone && row.state == StepState::Running,
                },
            }
        })
        .map(|(i, _)| i)
        .collect()
}

/// Why the rollback of `m` must refuse: the committed steps without an inverse, listed.
pub(crate) fn refusal(m: &Migration, committed: &[usize]) -> Option<String> {
    let stuck: Vec<String> = committed
        .iter()
        .filter_map(|&i| {
            let why = m.undo.why_irreversible(i)?;
            Some(format!(
                "step {} of {} (`{}`): {why}",
                i + 1,
                m.expand.steps.len(),
                m.expand.steps[i].description
            ))
        })
        .collect();
    (!stuck.is_empty()).then(|| {
        format!(
            "it committed steps that cannot be undone: {}; nothing was undone: fix the cause of the failure and `migrate run` again (it resumes where it stopped), or write a migration that reverses these steps",
            stuck.join("; ")
        )
    })
}

/// The undo steps a rollback of `m` runs (indexes into its undo), newest expand step first, with
/// their recorded state: those of committed steps not recorded done.
pub(crate) fn work(
    m: &Migration,
    history: &History,
    committed: &[usize],
) -> Vec<(usize, StepState)> {
    m.undo
        .of
        .iter()
        .enumerate()
        .filter(|(_, of)| committed.contains(of))
        .map(|(i, _)| (i, history.step_state(m.version, PhaseKind::Rollback, i)))
        .filter(|(_, state)| *state != StepState::Done)
        .collect()
}

/// How many undo steps a rollback of `m` runs in all (done ones included), for `status`.
pub(crate) fn planned(m: &Migration, history: &History) -> usize {
    let committed = committed(m, history);
    m.undo.of.iter().filter(|of| committed.contains(of)).count()
}

/// The note on the failure of expand step `failed` of `m` (steps before it committed): what stays
/// in effect and how to undo it, or `None` when the migration has its own rollback phase.
pub(crate) fn failure_note(m: &Migration, failed: usize) -> Option<String> {
    if !m.rolls_back_by_undo() || failed == 0 {
        return None;
    }
    let live: Vec<&str> = m.undo.live_after(failed).collect();
    let id = MigrationId::of(m);
    let stuck = (0..failed).find_map(|i| m.undo.why_irreversible(i).map(|why| (i, why)));
    let undo = match stuck {
        Some((i, why)) => format!(
            "`migrate rollback {}` cannot undo step {} (`{}`: {why})",
            id.version,
            i + 1,
            m.expand.steps[i].description
        ),
        None => format!(
            "to undo what its steps did, run `migrate rollback {}` ({id} then counts as never applied)",
            id.version
        ),
    };
    Some(if live.is_empty() {
        undo
    } else {
        format!(
            "until {id} finishes or is rolled back, {}; {undo}",
            live.join("; ")
        )
    })
}
