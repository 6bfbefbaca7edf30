//! The undo of a migration that stopped part-way: the inverse of each expand step that has one,
//! derived by the macro from the forward steps at compile time.
//!
//! `Migrator::rollback` runs the inverses of the steps that committed, newest first, as the
//! migration's rollback phase. A step whose effect has no safe inverse (raw SQL, a drop, a type
//! change, a backfill of existing values ...) is listed in [`Undo::irreversible`]: when such a step
//! committed, the rollback refuses before it runs anything.
//!
//! The undo is derived from the forward steps, so it is not part of the checksum: migrations recorded
//! before undo existed keep their checksums, and a better inverse in a later zerodown version is not
//! drift.

use super::Step;

/// The undo of a migration's expand phase (migrations without `expand` operations; those have their
/// own rollback phase).
#[derive(Debug, Clone, Copy)]
pub struct Undo {
    /// The inverse steps in the order a full undo runs them: the inverse of the last expand step
    /// first.
    pub steps: &'static [Step],
    /// For each of [`steps`](Undo::steps), the index of the expand step it undoes.
    pub of: &'static [usize],
    /// The expand steps that cannot be undone, with why.
    pub irreversible: &'static [Irreversible],
    /// What the expand steps leave in effect until the migration finishes or is undone, for the
    /// message of a step that fails after them.
    pub live: &'static [Live],
    /// Whether the macro derived this undo. A plan built otherwise has none: rolling it back is
    /// refused once any of its steps committed.
    pub derived: bool,
}

impl Undo {
    /// No undo known: rolling back is refused once a step committed.
    pub const NONE: Undo = Undo {
        steps: &[],
        of: &[],
        irreversible: &[],
        live: &[],
        derived: false,
    };

    /// The inverse steps of expand step `index`, in the order they run.
    pub fn inverses_of(&self, index: usize) -> impl Iterator<Item = (usize, &'static Step)> + '_ {
        self.of
            .iter()
            .zip(self.steps)
            .enumerate()
            .filter(move |(_, (of, _))| **of == index)
            .map(|(i, (_, step))| (i, step))
    }

    /// Why expand step `index` cannot be undone, if it cannot.
    pub fn why_irreversible(&self, index: usize) -> Option<&'static str> {
        if !self.derived {
            return Some("the plan has no undo (it was not built by `migration!`)");
        }
        self.irreversible
            .iter()
            .find(|r| r.step == index)
            .map(|r| r.why)
    }

    /// What is in effect once expand steps `0..done` committed and the rest did not.
    pub fn live_after(&self, done: usize) -> impl Iterator<Item = &'static str> + '_ {
        self.live
            .iter()
            .filter(move |l| l.step < done && l.until.map_or(true, |u| u >= done))
            .map(|l| l.what)
    }
}

/// An expand step without a safe inverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Irreversible {
    /// The expand step's index.
    pub step: usize,
    /// Why it cannot be undone (`raw SQL`, `drops column "c" of "t"` ...).
    pub why: &'static str,
}

/// Something an expand step leaves in effect while the migration is unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// The expand step that creates it.
    pub step: usize,
    /// The expand step that removes it again, if a later one does (the helper check of `set not
    /// null` is dropped by the step that sets `NOT NULL`).
    pub until: Option<usize>,
    /// What it is and what it does to the application's writes, for people.
    pub what: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_after_counts_what_is_created_and_not_yet_removed() {
        let undo = Undo {
            live: &[
                Live {
                    step: 0,
                    until: Some(2),
                    what: "check",
                },
                Live {
                    step: 1,
                    until: None,
                    what: "index",
                },
            ],
            ..Undo::NONE
        };
        let after = |n| undo.live_after(n).collect::<Vec<_>>();
        assert_eq!(after(0), Vec::<&str>::new());
        assert_eq!(after(1), ["check"]);
        assert_eq!(after(2), ["check", "index"]);
        assert_eq!(after(3), ["index"]);
    }
}
