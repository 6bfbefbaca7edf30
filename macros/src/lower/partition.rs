//! `attach partition` and `detach partition`.
//!
//! Attaching an existing table: PostgreSQL scans it under `ACCESS EXCLUSIVE` to prove every row fits
//! the bound, unless a valid `CHECK` already proves it. So the recipe is `ADD CONSTRAINT
//! _zd_partition_bound CHECK (<bound>) NOT VALID` (brief), `VALIDATE CONSTRAINT` (own step, the scan,
//! under `SHARE UPDATE EXCLUSIVE`: reads and writes go on), `ATTACH PARTITION` (brief: `SHARE UPDATE
//! EXCLUSIVE` on the parent from PostgreSQL 12, `ACCESS EXCLUSIVE` before; `ACCESS EXCLUSIVE` on the
//! partition), then the check is dropped. The check is written on the key column cast to its type,
//! the form PostgreSQL's proof compares with the partition constraint it derives from the bound.
//! Attaching also creates on the partition each of the parent's indexes it lacks, building it under
//! that `ACCESS EXCLUSIVE`: the recipe builds them concurrently first (and adds the keys they back
//! `USING INDEX`), so the attach adopts them.
//!
//! Detaching: plain, `ACCESS EXCLUSIVE` on both for a moment; `concurrently` (14), outside a
//! transaction block, `SHARE UPDATE EXCLUSIVE` on the parent, and `ACCESS EXCLUSIVE` on the partition
//! only in its second transaction, after waiting for the queries that may still see it.

use zerodown_runtime::plan::{LockLevel, Postcondition};

use crate::ast::{
    AttachPartition, Expr, ExprKind, ParentKey, PartitionBound, PartitionIndex, QName, RangeDatum,
};
use crate::render::{expr, partition_bound, quote_ident, render_qname, render_type};

use super::alter::{drop_helper, helper_key, validate};
use super::context::Context;
use super::index::concurrent;
use super::stmt::{Inverse, Lowered, TableRef};
use super::{inverse, leak_str, naming};

/// `alter table parent attach partition child ..`
pub(super) fn attach(cx: &Context, a: &AttachPartition) -> Vec<Lowered> {
    let parent = render_qname(&a.parent);
    let child = render_qname(&a.partition);
    let sql = format!(
        "ALTER TABLE {parent} ATTACH PARTITION {child} {}",
        partition_bound(&a.bound)
    );
    // From 12 the parent takes SHARE UPDATE EXCLUSIVE, which no read or write waits for: only the
    // partition is named, so the look before queueing does not wait for the parent's readers.
    let mut attach = Lowered::new(format!("attach {child} to {parent} as a partition"), sql)
        .lock_on(LockLevel::AccessExclusive, cx.existing(&a.partition));
    attach = if cx.target_at_least(12) {
        attach.lock(if cx.existing(&a.parent).is_some() {
            LockLevel::ShareUpdateExclusive
        } else {
            LockLevel::None
        })
    } else {
        attach.lock_on(LockLevel::AccessExclusive, cx.existing(&a.parent))
    };
    attach = if cx.is_new(&a.parent) {
        attach.inverse(Inverse::Nothing)
    } else {
        attach.undo(detach_plain(cx, &a.parent, &a.partition))
    };
    let Some(existing) = cx.existing(&a.partition) else {
        return vec![attach];
    };
    let mut out = Vec::new();
    if let ParentKey::Known {
        missing_indexes, ..
    } = &a.parent_key
    {
        out.extend(prebuilt_indexes(&a.partition, &existing, missing_indexes));
    }
    let Some(check) = bound_check(a) else {
        // Override only (`attach_partition_scan`): the attach scans.
        out.push(attach.slow(true));
        return out;
    };
    let name = naming::partition_bound_check();
    let quoted = quote_ident(&name);
    let add = Lowered::new(
        format!("add check {quoted} to {child} not valid"),
        format!("ALTER TABLE {child} ADD CONSTRAINT {quoted} CHECK ({check}) NOT VALID"),
    )
    .lock_on(LockLevel::AccessExclusive, Some(existing.clone()))
    .undo(inverse::drop_constraint(
        &a.partition,
        existing.clone(),
        &name,
    ))
    .claims(&child, &name)
    .live(
        helper_key(&child, &name),
        format!(
            "the check constraint {quoted} (NOT VALID) on {child} stays: inserts and updates of rows outside the partition's bound fail"
        ),
    );
    let checked = vec![add, validate(&a.partition, Some(existing.clone()), &name)];
    out.splice(0..0, checked);
    out.push(attach);
    out.push(drop_helper(&a.partition, existing, &name));
    out
}

/// The parent's indexes the partition lacks, built concurrently, and the keys they back added
/// `USING INDEX` (brief: the columns are `NOT NULL` already, as attaching requires), so the attach
/// adopts them instead of building them under `ACCESS EXCLUSIVE` on the partition.
fn prebuilt_indexes(
    partition: &QName,
    existing: &TableRef,
    missing: &[PartitionIndex],
) -> Vec<Lowered> {
    let t = render_qname(partition);
    let mut builds = Vec::new();
    let mut keys = Vec::new();
    for index in missing {
        let quoted = quote_ident(&index.name);
        let unique = if index.unique { "UNIQUE " } else { "" };
        builds.push(
            concurrent(
                format!(
                    "build {}index {quoted} concurrently for the partition",
                    unique.to_lowercase()
                ),
                format!(
                    "CREATE {unique}INDEX CONCURRENTLY {quoted} ON {t} {}",
                    index.definition
                ),
                partition,
                existing.clone(),
                index.name.clone(),
                index.keys_sql.clone(),
                index.unique,
            )
            .undo(inverse::drop_index(
                partition,
                existing.clone(),
                &index.name,
                true,
            )),
        );
        if let Some(kind) = index.constraint {
            keys.push(
                Lowered::new(
                    format!("attach index {quoted} as {} on {t}", kind.to_lowercase()),
                    format!("ALTER TABLE {t} ADD CONSTRAINT {quoted} {kind} USING INDEX {quoted}"),
                )
                .lock_on(LockLevel::AccessExclusive, Some(existing.clone()))
                .undo(inverse::drop_constraint(
                    partition,
                    existing.clone(),
                    &index.name,
                )),
            );
        }
    }
    builds.extend(keys);
    builds
}

/// `alter table parent detach partition child [concurrently]`
pub(super) fn detach(
    cx: &Context,
    parent: &QName,
    partition: &QName,
    concurrently: bool,
) -> Lowered {
    if !concurrently {
        return detach_plain(cx, parent, partition).irreversible(format!(
            "re-attaching {} needs its bound; attach it again in a new migration",
            render_qname(partition)
        ));
    }
    let p = render_qname(parent);
    let c = render_qname(partition);
    let lock = if cx.existing(parent).is_some() {
        LockLevel::ShareUpdateExclusive
    } else {
        LockLevel::None
    };
    Lowered::new(
        format!("detach {c} from {p} concurrently"),
        format!("ALTER TABLE {p} DETACH PARTITION {c} CONCURRENTLY"),
    )
    .alone()
    .slow(true)
    .lock(lock)
    .lock_on(LockLevel::AccessExclusive, cx.existing(partition))
    .postcondition(Postcondition::Detached {
        parent: leak_str(p),
        partition: leak_str(c.clone()),
    })
    .irreversible(format!(
        "re-attaching {c} needs its bound; attach it again in a new migration"
    ))
}

/// `ALTER TABLE parent DETACH PARTITION child`: `ACCESS EXCLUSIVE` on both for a moment.
fn detach_plain(cx: &Context, parent: &QName, partition: &QName) -> Lowered {
    let p = render_qname(parent);
    let c = render_qname(partition);
    Lowered::new(
        format!("detach {c} from {p}"),
        format!("ALTER TABLE {p} DETACH PARTITION {c}"),
    )
    .lock_on(LockLevel::AccessExclusive, cx.existing(parent))
    .lock_on(LockLevel::AccessExclusive, cx.existing(partition))
}

/// The bound as a `CHECK` on the key column, for a single-column range or a list; `None` for what a
/// `CHECK` cannot state so that PostgreSQL's proof accepts it (`check` refuses those by default).
fn bound_check(a: &AttachPartition) -> Option<String> {
    let ParentKey::Known { columns, .. } = &a.parent_key else {
        return None;
    };
    let [(column, ty)] = columns.as_slice() else {
        return None;
    };
    let k = quote_ident(column);
    let cast = |e: &Expr| format!("({})::{}", expr(e), render_type(ty));
    match &a.bound {
        PartitionBound::Range { from, to } => {
            let mut parts = vec![format!("{k} IS NOT NULL")];
            if let [RangeDatum::Value(lo)] = from.as_slice() {
                parts.push(format!("{k} >= {}", cast(lo)));
            }
            if let [RangeDatum::Value(hi)] = to.as_slice() {
                parts.push(format!("{k} < {}", cast(hi)));
            }
            Some(parts.join(" AND "))
        }
        PartitionBound::List(values) => {
            let is_null = |e: &&Expr| matches!(e.kind, ExprKind::Null);
            let nulls = values.iter().any(|e| is_null(&e));
            let listed: Vec<String> = values.iter().filter(|e| !is_null(e)).map(cast).collect();
            let in_list = format!("{k} IN ({})", listed.join(", "));
            Some(match (nulls, listed.is_empty()) {
                (true, true) => format!("{k} IS NULL"),
                (true, false) => format!("{k} IS NULL OR {in_list}"),
                (false, _) => format!("{k} IS NOT NULL AND {in_list}"),
            })
        }
        PartitionBound::Hash { .. } | PartitionBound::Default => None,
    }
}
