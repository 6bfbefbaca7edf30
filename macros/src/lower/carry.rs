//! The SQL an expand/contract column change derives at run time, rendered at compile time from what
//! the schema catalog knows ([`CarryFacts`]) with the runtime's own builders (`plan::carry`), for
//! the plan's readers (`PhasedStep::preview`).

use zerodown_runtime::plan::carry::{
    constraint_sql, contract_sql, index_sql, not_null_sql, referencing_sql, rename_column_sql,
    validate_sql, CarriedConstraint, CarriedIndex, Contract, KeyConstraint, COMMENT_PLACEHOLDER,
    IDENTITY_PLACEHOLDER, NOTHING_PLACEHOLDER, UNNAMED_PLACEHOLDER,
};
use zerodown_runtime::plan::phased::{carried_name, not_null_helper};
use zerodown_runtime::plan::ColumnChange;

use crate::ast::CarryFacts;

/// The previews of the four derived steps of a column change.
#[derive(Debug, Default)]
pub(super) struct Previews {
    /// A rename's new column, added before the step's statements.
    pub prepare: Vec<String>,
    pub carry_indexes: Vec<String>,
    pub add_constraints: Vec<String>,
    pub validate: Vec<String>,
    pub contract: Vec<String>,
}

pub(super) fn previews(c: &ColumnChange, f: &CarryFacts) -> Previews {
    let indexes: Vec<CarriedIndex> = f
        .indexes
        .iter()
        .map(|(name, def, key)| CarriedIndex {
            name,
            def,
            key: key.map(|primary| KeyConstraint {
                name,
                primary,
                deferrable: false,
                deferred: false,
            }),
        })
        .collect();
    let constraints: Vec<CarriedConstraint> = f
        .constraints
        .iter()
        .map(|(name, def, validated)| CarriedConstraint {
            table: c.table,
            name,
            def,
            validated: *validated,
        })
        .collect();
    let referencing: Vec<CarriedConstraint> = f
        .referencing
        .iter()
        .map(|(table, name, def, validated)| CarriedConstraint {
            table,
            name,
            def,
            validated: *validated,
        })
        .collect();
    let mut out = Previews {
        // The catalog does not model collations: a column with its own would show without it.
        prepare: if c.rename {
            vec![
                rename_column_sql(c, &f.type_sql, ""),
                COMMENT_PLACEHOLDER.to_owned(),
            ]
        } else {
            vec![COMMENT_PLACEHOLDER.to_owned()]
        },
        carry_indexes: indexes.iter().filter_map(|ix| index_sql(c, ix)).collect(),
        ..Previews::default()
    };
    out.add_constraints
        .extend(constraints.iter().map(|k| constraint_sql(c, k)));
    if f.not_null {
        out.add_constraints.push(not_null_sql(c));
    }
    out.add_constraints
        .extend(referencing.iter().filter_map(|k| referencing_sql(c, k)));
    out.validate.extend(
        constraints
            .iter()
            .filter(|k| k.validated)
            .map(|k| validate_sql(c.table, &carried_name(k.name))),
    );
    if f.not_null {
        out.validate
            .push(validate_sql(c.table, &not_null_helper(c.new_column)));
    }
    out.validate.extend(
        referencing
            .iter()
            .filter(|k| k.validated)
            .map(|k| validate_sql(k.table, &carried_name(k.name))),
    );
    let identity = if f.identity {
        vec![IDENTITY_PLACEHOLDER.to_owned()]
    } else {
        Vec::new()
    };
    out.contract = vec![format!(
        "-- first, under the lock: the fingerprint of the triggers on {} compared with the one the verify step recorded; changed since, every row is compared (and converted again) as there",
        c.table
    )];
    out.contract.extend(contract_sql(
        c,
        &Contract {
            schema: &f.schema,
            indexes,
            constraints,
            referencing,
            sequences: f.sequences.clone(),
            default: f.default.as_deref(),
            not_null: f.not_null,
            identity,
            stale_referencing: Vec::new(),
            stale: Vec::new(),
        },
    ));
    if f.unnamed {
        for step in [
            &mut out.add_constraints,
            &mut out.validate,
            &mut out.contract,
        ] {
            step.push(UNNAMED_PLACEHOLDER.to_owned());
        }
    }
    // An empty preview means "no catalog": say so when the catalog predicts nothing.
    for step in [
        &mut out.carry_indexes,
        &mut out.add_constraints,
        &mut out.validate,
    ] {
        if step.is_empty() {
            step.push(NOTHING_PLACEHOLDER.to_owned());
        }
    }
    out
}
