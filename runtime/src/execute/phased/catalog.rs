//! What the expand/contract steps read from the catalog: the table, the column, the indexes and
//! constraints on it, and the objects that depend on it.

use sqlx::PgConnection;

/// A table, found through the search path like the step's SQL finds it.
#[derive(Debug, Clone)]
pub(crate) struct TableInfo {
    pub(crate) oid: i64,
    /// Its schema, unquoted.
    pub(crate) schema: String,
    /// `r` table, `p` partitioned table, `v` view, ...
    pub(crate) relkind: String,
    pub(crate) is_partition: bool,
    /// Whether it inherits from, or is inherited by, another table.
    pub(crate) inheritance: bool,
}

pub(crate) async fn table(
    conn: &mut PgConnection,
    rendered: &str,
) -> Result<Option<TableInfo>, sqlx::Error> {
    let row: Option<(i64, String, String, bool, bool)> = sqlx::query_as(
        "SELECT c.oid::bigint, n.nspname::text, c.relkind::text, c.relispartition,
                EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = to_regclass($1)",
    )
    .bind(rendered)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(
        |(oid, schema, relkind, is_partition, inheritance)| TableInfo {
            oid,
            schema,
            relkind,
            is_partition,
            inheritance,
        },
    ))
}

/// A column of a table.
#[derive(Debug, Clone)]
pub(crate) struct ColumnInfo {
    pub(crate) attnum: i16,
    /// `format_type` of its type (`integer`, `character varying(100)`).
    pub(crate) type_sql: String,
    pub(crate) type_oid: i64,
    /// ` COLLATE "x"` when the column's collation is not its type's default; empty otherwise.
    pub(crate) collate_sql: String,
    pub(crate) not_null: bool,
    /// The default expression (`pg_get_expr`), if any.
    pub(crate) default: Option<String>,
    pub(crate) generated: bool,
    pub(crate) comment: Option<String>,
}

pub(crate) async fn column(
    conn: &mut PgConnection,
    table: i64,
    name: &str,
) -> Result<Option<ColumnInfo>, sqlx::Error> {
    type Row = (
        i16,
        String,
        i64,
        String,
        bool,
        Option<String>,
        bool,
        Option<String>,
    );
    // `attgenerated` exists from PostgreSQL 12; before, no column is generated.
    let server: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await?;
    let generated = if server >= 120_000 {
        "a.attgenerated <> ''"
    } else {
        "false"
    };
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT a.attnum, format_type(a.atttypid, a.atttypmod), a.atttypid::bigint,
                CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                     THEN (SELECT ' COLLATE ' || quote_ident(n.nspname) || '.' || quote_ident(co.collname)
                           FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
                           WHERE co.oid = a.attcollation)
                     ELSE '' END,
                a.attnotnull, pg_get_expr(d.adbin, d.adrelid), {generated},
                col_description(a.attrelid, a.attnum)
         FROM pg_attribute a
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = $1::bigint::oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped"
    ))
    .bind(table)
    .bind(name)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(
        |(attnum, type_sql, type_oid, collate_sql, not_null, default, generated, comment)| {
            ColumnInfo {
                attnum,
                type_sql,
                type_oid,
                collate_sql,
                not_null,
                default,
                generated,
                comment,
            }
        },
    ))
}

/// The type `rendered` names (`integer`, `"mood"`), if it exists.
pub(crate) async fn type_oid(
    conn: &mut PgConnection,
    rendered: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT to_regtype($1)::oid::bigint")
        .bind(rendered)
        .fetch_one(conn)
        .await
}

/// An index on a column.
#[derive(Debug, Clone)]
pub(crate) struct IndexInfo {
    pub(crate) name: String,
    /// `pg_get_indexdef`.
    pub(crate) def: String,
    pub(crate) valid: bool,
    /// The primary key, unique or exclusion constraint the index belongs to.
    pub(crate) constraint: Option<ConstraintOfIndex>,
}

/// A constraint implemented by an index.
#[derive(Debug, Clone)]
pub(crate) struct ConstraintOfIndex {
    pub(crate) name: String,
    /// `p`, `u` or `x`.
    pub(crate) kind: String,
    pub(crate) deferrable: bool,
    pub(crate) deferred: bool,
}

/// Every index of `table` whose key, expressions, `INCLUDE` list or predicate uses column `attnum`,
/// by name.
pub(crate) async fn indexes_on(
    conn: &mut PgConnection,
    table: i64,
    attnum: i16,
) -> Result<Vec<IndexInfo>, sqlx::Error> {
    type Row = (
        String,
        String,
        bool,
        Option<String>,
        Option<String>,
        Option<bool>,
        Option<bool>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_indexdef(i.indexrelid), i.indisvalid,
                con.conname::text, con.contype::text, con.condeferrable, con.condeferred
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
         WHERE i.indrelid = $1::bigint::oid
           AND ($2 = ANY (i.indkey::int2[])
                OR EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                             AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid AND d.refobjsubid = $2))
         ORDER BY c.relname",
    )
    .bind(table)
    .bind(attnum)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, def, valid, conname, contype, deferrable, deferred)| IndexInfo {
                name,
                def,
                valid,
                constraint: conname.zip(contype).map(|(name, kind)| ConstraintOfIndex {
                    name,
                    kind,
                    deferrable: deferrable.unwrap_or(false),
                    deferred: deferred.unwrap_or(false),
                }),
            },
        )
        .collect())
}

/// A check constraint or foreign key of the table on a column.
#[derive(Debug, Clone)]
pub(crate) struct ConstraintInfo {
    pub(crate) name: String,
    /// `pg_get_constraintdef`.
    pub(crate) def: String,
    pub(crate) validated: bool,
}

/// The check constraints and foreign keys of `table` that use column `attnum`, by name.
pub(crate) async fn constraints_on(
    conn: &mut PgConnection,
    table: i64,
    attnum: i16,
) -> Result<Vec<ConstraintInfo>, sqlx::Error> {
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT conname::text, pg_get_constraintdef(oid), convalidated FROM pg_constraint
         WHERE conrelid = $1::bigint::oid AND contype IN ('c', 'f') AND $2 = ANY (conkey)
         ORDER BY conname",
    )
    .bind(table)
    .bind(attnum)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, def, validated)| ConstraintInfo {
            name,
            def,
            validated,
        })
        .collect())
}

/// Every constraint of `table` by name, with whether it is validated.
pub(crate) async fn constraint_names(
    conn: &mut PgConnection,
    table: i64,
) -> Result<Vec<(String, bool)>, sqlx::Error> {
    sqlx::query_as("SELECT conname::text, convalidated FROM pg_constraint WHERE conrelid = $1::bigint::oid ORDER BY conname")
        .bind(table)
        .fetch_all(conn)
        .await
}

/// Sequences owned by the column (`serial`), rendered (`regclass::text`: quoted and qualified as
/// needed).
pub(crate) async fn owned_sequences(
    conn: &mut PgConnection,
    table: i64,
    attnum: i16,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT d.objid::regclass::text FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.refobjid = $1::bigint::oid AND d.refobjsubid = $2 AND d.deptype = 'a'
         ORDER BY 1",
    )
    .bind(table)
    .bind(attnum)
    .fetch_all(conn)
    .await
}

/// An object depending on the column that an expand/contract operation cannot carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocking {
    /// `pg_describe_object`: `view v`, `constraint fk on table orders`, `column total of table t`.
    pub(crate) object: String,
    /// Why it blocks the change.
    pub(crate) why: &'static str,
    /// A foreign key referencing the column (from another table, or from the table itself): a type
    /// change or rename carries it to the new column; a drop cannot.
    pub(crate) referencing: bool,
}

/// Why a foreign key referencing the column blocks dropping it.
const REFERENCES: &str = "it references the column";

/// The objects depending on column `attnum` of `table` other than its own default, owned sequences,
/// indexes, and check, foreign key, primary key, unique and (PostgreSQL 18 catalogs them) not-null
/// constraints of the table itself: views
/// and rules, generated columns, foreign keys of other tables referencing it, exclusion constraints,
/// triggers, policies, statistics objects, and anything else recorded in `pg_depend`.
pub(crate) async fn blocking(
    conn: &mut PgConnection,
    table: i64,
    attnum: i16,
) -> Result<Vec<Blocking>, sqlx::Error> {
    let rows: Vec<(String, String, Option<String>, bool)> = sqlx::query_as(
        "SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid),
                d.classid::regclass::text,
                con.contype::text,
                d.classid = 'pg_class'::regclass AND d.objid = d.refobjid AND d.objsubid <> 0
         FROM pg_depend d
         LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass AND con.oid = d.objid
         LEFT JOIN pg_class rel ON d.classid = 'pg_class'::regclass AND rel.oid = d.objid
         WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::bigint::oid AND d.refobjsubid = $2
           AND d.classid <> 'pg_attrdef'::regclass
           AND NOT coalesce(rel.relkind IN ('i', 'I', 'S'), false)
           AND NOT coalesce(con.contype IN ('c', 'f', 'p', 'u', 'n') AND con.conrelid = d.refobjid, false)
         ORDER BY 1",
    )
    .bind(table)
    .bind(attnum)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<Blocking> = rows
        .into_iter()
        .map(|(object, class, contype, generated)| {
            let why = match (class.as_str(), contype.as_deref()) {
                _ if generated => "it is computed from the column",
                ("pg_rewrite", _) => "it reads the column and would keep reading the old one",
                ("pg_constraint", Some("f")) => REFERENCES,
                ("pg_constraint", Some("x")) => {
                    "exclusion constraints cannot be built concurrently"
                }
                ("pg_trigger", _) => "it depends on the column",
                ("pg_policy", _) => "it reads the column",
                ("pg_statistic_ext", _) => "it is built on the column",
                _ => "it depends on the column",
            };
            Blocking {
                object,
                why,
                referencing: why == REFERENCES,
            }
        })
        .collect();
    // A foreign key referencing the column depends on the referenced table's unique index, not always
    // on the column itself: look for it directly too.
    let referencing: Vec<String> = sqlx::query_scalar(
        "SELECT pg_describe_object('pg_constraint'::regclass, oid, 0) FROM pg_constraint
         WHERE contype = 'f' AND confrelid = $1::bigint::oid AND $2 = ANY (confkey) ORDER BY 1",
    )
    .bind(table)
    .bind(attnum)
    .fetch_all(&mut *conn)
    .await?;
    for object in referencing {
        let b = Blocking {
            object,
            why: REFERENCES,
            referencing: true,
        };
        if !out.contains(&b) {
            out.push(b);
        }
    }
    Ok(out)
}

/// Whether `table` has a trigger named `name`.
pub(crate) async fn has_trigger(
    conn: &mut PgConnection,
    table: i64,
    name: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::bigint::oid AND tgname = $2)",
    )
    .bind(table)
    .bind(name)
    .fetch_one(conn)
    .await
}

/// A foreign key referencing a column (from any table, the column's own included).
#[derive(Debug, Clone)]
pub(crate) struct ReferencingKey {
    pub(crate) name: String,
    /// The referencing table, rendered (`regclass::text`).
    pub(crate) table: String,
    pub(crate) table_oid: i64,
    /// `pg_get_constraintdef`.
    pub(crate) def: String,
    pub(crate) validated: bool,
}

/// The foreign keys referencing column `attnum` of `table`, by table and name.
pub(crate) async fn referencing_keys(
    conn: &mut PgConnection,
    table: i64,
    attnum: i16,
) -> Result<Vec<ReferencingKey>, sqlx::Error> {
    let rows: Vec<(String, String, i64, String, bool)> = sqlx::query_as(
        "SELECT conname::text, conrelid::regclass::text, conrelid::bigint, pg_get_constraintdef(oid), convalidated
         FROM pg_constraint
         WHERE contype = 'f' AND confrelid = $1::bigint::oid AND $2 = ANY (confkey)
         ORDER BY 2, 1",
    )
    .bind(table)
    .bind(attnum)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, table, table_oid, def, validated)| ReferencingKey {
            name,
            table,
            table_oid,
            def,
            validated,
        })
        .collect())
}

/// An identity column's kind and sequence, with the sequence's options and position.
#[derive(Debug, Clone)]
pub(crate) struct IdentityInfo {
    /// `GENERATED ALWAYS` (else `BY DEFAULT`).
    pub(crate) always: bool,
    /// The sequence, rendered (`regclass::text`).
    pub(crate) sequence: String,
    pub(crate) start: i64,
    pub(crate) increment: i64,
    pub(crate) min: i64,
    pub(crate) max: i64,
    pub(crate) cache: i64,
    pub(crate) cycle: bool,
    pub(crate) last_value: i64,
    pub(crate) is_called: bool,
}

/// The identity of column `attnum` of `table`, `None` when it is not an identity column.
pub(crate) async fn identity(
    conn: &mut PgConnection,
    table: i64,
    attnum: i16,
) -> Result<Option<IdentityInfo>, sqlx::Error> {
    type Row = (String, String, i64, i64, i64, i64, i64, bool);
    let row: Option<Row> = sqlx::query_as(
        "SELECT a.attidentity::text, s.seqrelid::regclass::text, s.seqstart, s.seqincrement, s.seqmin,
                s.seqmax, s.seqcache, s.seqcycle
         FROM pg_attribute a
         JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid
              AND d.refobjsubid = a.attnum AND d.classid = 'pg_class'::regclass AND d.deptype = 'i'
         JOIN pg_sequence s ON s.seqrelid = d.objid
         WHERE a.attrelid = $1::bigint::oid AND a.attnum = $2 AND a.attidentity <> ''",
    )
    .bind(table)
    .bind(attnum)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((kind, sequence, start, increment, min, max, cache, cycle)) = row else {
        return Ok(None);
    };
    let (last_value, is_called): (i64, bool) =
        sqlx::query_as(&format!("SELECT last_value, is_called FROM {sequence}"))
            .fetch_one(&mut *conn)
            .await?;
    Ok(Some(IdentityInfo {
        always: kind == "a",
        sequence,
        start,
        increment,
        min,
        max,
        cache,
        cycle,
        last_value,
        is_called,
    }))
}
