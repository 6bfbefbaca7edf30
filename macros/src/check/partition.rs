//! Partitions: `attach partition` (`attach_partition_scan`) and `detach partition .. concurrently`
//! (PostgreSQL 14, and refused by PostgreSQL while the parent has a default partition).
//!
//! Attaching an existing table normally scans it under `ACCESS EXCLUSIVE` to prove every row fits the
//! bound. The lowering avoids that by adding the bound as a `CHECK .. NOT VALID` and validating it
//! online first, which needs the parent's key from the schema catalog and a bound a `CHECK` can state.

use super::{override_hint, show, target_setting, Checker};
use crate::ast::{
    AttachPartition, ColumnConstraintKind, CreateTable, ParentKey, PartitionBound,
    PartitionStrategy, QName, Range, TableConstraintKind,
};
use crate::rules::Rule;
use zerodown_runtime::plan::PgVersion;

/// `default` partitions exist from PostgreSQL 11.
const DEFAULT_PARTITION: PgVersion = PgVersion(11);
/// `detach partition .. concurrently`.
const DETACH_CONCURRENTLY: PgVersion = PgVersion(14);

// alter table events attach partition events_2026 for values from ("2026-01-01") to ("2027-01-01");
pub(super) fn attach(ck: &mut Checker, a: &AttachPartition) {
    if matches!(a.bound, PartitionBound::Default) && ck.target < DEFAULT_PARTITION {
        ck.error(
            a.bound_range,
            format_args!(
                "default partitions need PostgreSQL 11 and the target is {}; raise {} if every server runs 11 or newer",
                ck.target,
                target_setting(DEFAULT_PARTITION.0)
            ),
        );
        return;
    }
    let parent = show(&a.parent);
    let child = show(&a.partition);
    if let ParentKey::Known {
        has_default: true, ..
    } = a.parent_key
    {
        ck.report(
            Rule::AttachPartitionScan,
            a.parent.range(),
            format_args!(
                "`{parent}` has a default partition, which PostgreSQL scans under ACCESS EXCLUSIVE while attaching \
                 `{child}` (no row there may belong to the new bound); detach the default partition first, or for a \
                 default partition known to be small use {}",
                override_hint(Rule::AttachPartitionScan)
            ),
        );
        return;
    }
    if ck.is_new_table(&a.partition) || matches!(a.parent_key, ParentKey::NotPartitioned) {
        return;
    }
    let why = match (&a.parent_key, &a.bound) {
        (_, PartitionBound::Default) => Some(format!(
            "attaching a default partition scans `{child}` for rows that belong to another partition"
        )),
        (_, PartitionBound::Hash { .. }) => Some(format!(
            "a hash bound cannot be written as the CHECK that lets PostgreSQL skip scanning `{child}`"
        )),
        (ParentKey::Unknown, _) => Some(format!(
            "zerodown writes the bound as a CHECK on `{child}` and validates it online so PostgreSQL skips that \
             scan, and needs `{parent}`'s partition key for it: put this migration in the `migrations!` set \
             that creates `{parent}` with `partition by ..`"
        )),
        (
            ParentKey::Known {
                strategy: PartitionStrategy::Range,
                columns,
                ..
            },
            _,
        ) if columns.len() > 1 => Some(format!(
            "a range over several columns cannot be written as the CHECK that lets PostgreSQL skip scanning `{child}`"
        )),
        _ => None,
    };
    if let Some(why) = why {
        ck.report(
            Rule::AttachPartitionScan,
            a.bound_range,
            format_args!(
                "attaching `{child}` to `{parent}` scans `{child}` under ACCESS EXCLUSIVE: {why}; for a table that is \
                 not in use yet, use {}",
                override_hint(Rule::AttachPartitionScan)
            ),
        );
    }
}

// alter table events detach partition events_2019 concurrently;
pub(super) fn detach(
    ck: &mut Checker,
    parent: &QName,
    concurrently: Option<Range>,
    parent_has_default: bool,
) {
    let Some(at) = concurrently else {
        return;
    };
    if ck.target < DETACH_CONCURRENTLY {
        ck.error(
            at,
            format_args!(
                "`detach partition .. concurrently` needs PostgreSQL 14 and the target is {}; raise {} if every \
                 server runs 14 or newer, or leave out `concurrently` (then the detach takes ACCESS EXCLUSIVE on `{}` \
                 for a moment, under `lock_timeout`)",
                ck.target,
                target_setting(DETACH_CONCURRENTLY.0),
                show(parent)
            ),
        );
    } else if parent_has_default {
        ck.error(
            at,
            format_args!(
                "PostgreSQL cannot detach concurrently from `{}`: it has a default partition; leave out \
                 `concurrently` (ACCESS EXCLUSIVE on `{}` for a moment, under `lock_timeout`)",
                show(parent),
                show(parent)
            ),
        );
    }
}

/// Hash partitioning and keys on a partitioned table exist from PostgreSQL 11.
const HASH_AND_KEYS: PgVersion = PgVersion(11);

// create table events (..) partition by range (at);
pub(super) fn create_table(ck: &mut Checker, ct: &CreateTable) {
    let Some(p) = &ct.partition_by else {
        return;
    };
    if p.strategy == PartitionStrategy::Hash && ck.target < HASH_AND_KEYS {
        ck.error(
            p.range,
            format_args!(
                "hash partitioning needs PostgreSQL 11 and the target is {}; raise {} if every server runs 11 or newer",
                ck.target,
                target_setting(HASH_AND_KEYS.0)
            ),
        );
    }
    // Unique keys of a partitioned table are enforced per partition, so they hold the partition key.
    let inline = ct.columns.iter().flat_map(|c| {
        c.constraints.iter().filter_map(move |k| match k.kind {
            ColumnConstraintKind::PrimaryKey | ColumnConstraintKind::Unique => {
                Some((vec![c.name.clone()], k.range))
            }
            _ => None,
        })
    });
    let table_level = ct.constraints.iter().filter_map(|k| match &k.kind {
        TableConstraintKind::PrimaryKey { columns, .. }
        | TableConstraintKind::Unique { columns, .. } => Some((columns.clone(), k.range)),
        _ => None,
    });
    for (columns, range) in inline.chain(table_level) {
        if ck.target < HASH_AND_KEYS {
            ck.error(
                range,
                format_args!(
                    "primary keys and unique constraints on a partitioned table need PostgreSQL 11 and the target is {}; \
                     raise {}, or put the key on each partition",
                    ck.target,
                    target_setting(HASH_AND_KEYS.0)
                ),
            );
            continue;
        }
        let missing: Vec<&str> = p
            .columns
            .iter()
            .filter(|k| !columns.contains(k))
            .map(|k| k.value.as_str())
            .collect();
        if !missing.is_empty() {
            ck.error(
                range,
                format_args!(
                    "a unique key of the partitioned table `{}` must include its partition key, and this one lacks {}",
                    show(&ct.name),
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
}
