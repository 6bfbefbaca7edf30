//! Names the macro chose for objects a plan creates.

/// A constraint an expand step creates under a name the macro chose (the helper check of the CHECK
/// route to `SET NOT NULL`). The name is picked to keep clear of the names PostgreSQL gives its own
/// constraints, but a user may have taken it: the runtime looks before the migration's first step, so
/// a clash stops the run before anything of the migration ran, instead of failing half-way.
///
/// Derived from the steps, so not part of the checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChosenName {
    /// The index of the expand step that creates it.
    pub step: usize,
    /// The table, rendered (quoted, qualified when written so).
    pub table: &'static str,
    /// The constraint name, unquoted.
    pub name: &'static str,
}
