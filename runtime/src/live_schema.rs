//! Comparing the schema a migration set builds ([`Schema`], computed at compile time) with a live
//! database, both ways: what the set describes and the database lacks or holds otherwise, and what
//! the database holds in the set's schemas that the set does not describe.
//!
//! Compared: tables, columns (type as `format_type` spells it, `NOT NULL`, identity), constraints
//! (named ones by name, kind, columns, referenced table and validity; unnamed ones by kind and
//! columns), indexes (by name: unique, partial, key columns), enum values in order. Not compared:
//! defaults and check and index expressions (PostgreSQL stores them rewritten), and anything in the
//! history tables or the tables declared `extern`. After raw SQL in the set, objects the set does not
//! describe are not reported.

use std::collections::BTreeMap;

use sqlx::{Connection, PgConnection};

use crate::connect::ConnectTarget;
use crate::error::Error;
use crate::plan::schema::{ConstraintKindSchema, Identity, Schema, TableSchema};

/// One way a live database differs from a [`Schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDifference {
    /// The object: `table users`, `column users.email`, `index users_email_idx` ...
    pub object: String,
    /// What the set describes (`None`: nothing; the database has something the set does not).
    pub expected: Option<String>,
    /// What the database holds (`None`: nothing).
    pub found: Option<String>,
}

impl std::fmt::Display for SchemaDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.expected, &self.found) {
            (Some(e), Some(g)) => write!(
                f,
                "{}: the migrations make it {e}, the database has {g}",
                self.object
            ),
            (Some(e), None) => write!(
                f,
                "{}: the migrations make it ({e}), the database has none",
                self.object
            ),
            (None, Some(g)) => write!(
                f,
                "{}: in the database ({g}), not made by the migrations",
                self.object
            ),
            (None, None) => write!(f, "{}", self.object),
        }
    }
}

#[derive(Debug)]
struct LiveColumn {
    ty: String,
    not_null: bool,
    identity: Identity,
}

#[derive(Debug)]
struct LiveConstraint {
    name: String,
    kind: String,
    columns: Vec<String>,
    /// `schema.name` of the referenced table, for a foreign key.
    references: Option<String>,
    referenced_columns: Vec<String>,
    validated: bool,
}

#[derive(Debug)]
struct LiveIndex {
    name: String,
    columns: Vec<Option<String>>,
    unique: bool,
    partial: bool,
}

#[derive(Debug, Default)]
struct LiveTable {
    columns: Vec<(String, LiveColumn)>,
    constraints: Vec<LiveConstraint>,
    indexes: Vec<LiveIndex>,
    /// A partitioned table's strategy (`RANGE`, `LIST`, `HASH`) and key columns.
    partitioning: Option<(String, Vec<String>)>,
    /// Its partitions, `schema.name`.
    partitions: Vec<String>,
}

impl Schema {
    /// How the database at `db` differs from this schema (empty when it matches). Reads the catalog
    /// on a connection of its own; changes nothing.
    pub async fn differences(
        &self,
        db: impl ConnectTarget,
    ) -> Result<Vec<SchemaDifference>, Error> {
        let mut conn = PgConnection::connect_with(&db.connect_options())
            .await
            .map_err(|source| Error::Connect { source })?;
        let result = self.differences_on(&mut conn).await;
        let _ = conn.close().await;
        result.map_err(Error::db("reading the schema of the database"))
    }

    async fn differences_on(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Vec<SchemaDifference>, sqlx::Error> {
        let mut schemas: Vec<&str> = self.tables.iter().map(|t| t.schema).collect();
        schemas.extend(self.enums.iter().map(|e| e.schema));
        schemas.push("public");
        schemas.sort_unstable();
        schemas.dedup();
        let live = read_tables(conn, &schemas, None).await?;
        let enums = read_enums(conn, &schemas).await?;
        let mut out = Vec::new();
        for t in self.tables {
            let key = format!("{}.{}", t.schema, t.name);
            match live.get(&key) {
                None => out.push(SchemaDifference {
                    object: format!("table {}", display(t.schema, t.name)),
                    expected: Some(format!("{} columns", t.columns.len())),
                    found: None,
                }),
                Some(l) => compare_table(t, l, &mut out),
            }
        }
        if !self.after_raw {
            for (key, l) in &live {
                let described = self
                    .tables
                    .iter()
                    .any(|t| format!("{}.{}", t.schema, t.name) == *key);
                let external = self.external.contains(&key.as_str());
                let (schema, name) = key.split_once('.').unwrap_or(("public", key));
                if !described && !external && !is_history_table(name) {
                    out.push(SchemaDifference {
                        object: format!("table {}", display(schema, name)),
                        expected: None,
                        found: Some(format!("{} columns", l.columns.len())),
                    });
                }
            }
        }
        for e in self.enums {
            let key = format!("{}.{}", e.schema, e.name);
            let found = enums.get(&key);
            let expected: Vec<String> = e.values.iter().map(|v| (*v).to_owned()).collect();
            if found != Some(&expected) {
                out.push(SchemaDifference {
                    object: format!("type {}", display(e.schema, e.name)),
                    expected: Some(format!("enum ({})", expected.join(", "))),
                    found: found.map(|v| format!("enum ({})", v.join(", "))),
                });
            }
        }
        if !self.after_raw {
            for (key, values) in &enums {
                if !self
                    .enums
                    .iter()
                    .any(|e| format!("{}.{}", e.schema, e.name) == *key)
                {
                    let (schema, name) = key.split_once('.').unwrap_or(("public", key));
                    out.push(SchemaDifference {
                        object: format!("type {}", display(schema, name)),
                        expected: None,
                        found: Some(format!("enum ({})", values.join(", "))),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// How the `tables` a migration expects differ from the database, on a connection already open.
/// Objects on other tables are not looked at.
pub(crate) async fn table_differences(
    conn: &mut PgConnection,
    tables: &[&TableSchema],
) -> Result<Vec<SchemaDifference>, sqlx::Error> {
    let mut schemas: Vec<&str> = tables.iter().map(|t| t.schema).collect();
    schemas.sort_unstable();
    schemas.dedup();
    let only: Vec<String> = tables
        .iter()
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    let live = read_tables(conn, &schemas, Some(&only)).await?;
    let mut out = Vec::new();
    for t in tables {
        match live.get(&format!("{}.{}", t.schema, t.name)) {
            None => out.push(SchemaDifference {
                object: format!("table {}", display(t.schema, t.name)),
                expected: Some(format!("{} columns", t.columns.len())),
                found: None,
            }),
            Some(l) => compare_table(t, l, &mut out),
        }
    }
    Ok(out)
}

/// zerodown's own history tables (any name the migrator may be given ends like these).
fn is_history_table(name: &str) -> bool {
    name.starts_with("zerodown_migrations") || name.starts_with("_sqlx_migrations")
}

fn display(schema: &str, name: &str) -> String {
    if schema == "public" {
        name.to_owned()
    } else {
        format!("{schema}.{name}")
    }
}

fn compare_table(t: &TableSchema, l: &LiveTable, out: &mut Vec<SchemaDifference>) {
    let table = display(t.schema, t.name);
    let describe = |ty: &str, not_null: bool, identity: Identity| {
        let mut s = ty.to_owned();
        if not_null {
            s.push_str(" not null");
        }
        match identity {
            Identity::None => {}
            Identity::Always => s.push_str(" generated always as identity"),
            Identity::ByDefault => s.push_str(" generated by default as identity"),
        }
        s
    };
    for c in t.columns {
        let expected = describe(c.ty, c.not_null, c.identity);
        let found = l
            .columns
            .iter()
            .find(|(n, _)| n == c.name)
            .map(|(_, lc)| describe(&lc.ty, lc.not_null, lc.identity));
        if found.as_deref() != Some(expected.as_str()) {
            out.push(SchemaDifference {
                object: format!("column {table}.{}", c.name),
                expected: Some(expected),
                found,
            });
        }
    }
    for (name, lc) in &l.columns {
        if !t.columns.iter().any(|c| c.name == name) {
            out.push(SchemaDifference {
                object: format!("column {table}.{name}"),
                expected: None,
                found: Some(describe(&lc.ty, lc.not_null, lc.identity)),
            });
        }
    }

    let kind_of = |k: &ConstraintKindSchema| match k {
        ConstraintKindSchema::PrimaryKey => "p",
        ConstraintKindSchema::Unique => "u",
        ConstraintKindSchema::Check(_) => "c",
        ConstraintKindSchema::ForeignKey { .. } => "f",
    };
    let describe_constraint = |kind: &str, columns: &[String], validated: bool| {
        let what = match kind {
            "p" => "primary key",
            "u" => "unique",
            "c" => "check",
            "f" => "foreign key",
            _ => "constraint",
        };
        let mut s = format!("{what} ({})", columns.join(", "));
        if !validated {
            s.push_str(" not valid");
        }
        s
    };
    // Named constraints by name first, then each unnamed one to a live one of its kind and columns
    // that no named one took.
    let mut matched: Vec<&str> = t.constraints.iter().filter_map(|c| c.name).collect();
    let ordered = t
        .constraints
        .iter()
        .filter(|c| c.name.is_some())
        .chain(t.constraints.iter().filter(|c| c.name.is_none()));
    for c in ordered {
        let kind = kind_of(&c.kind);
        let columns: Vec<String> = c.columns.iter().map(|c| (*c).to_owned()).collect();
        let found = match c.name {
            Some(name) => l.constraints.iter().find(|lc| lc.name == name),
            None => l.constraints.iter().find(|lc| {
                lc.kind == kind
                    && (kind == "c" || same_set(&lc.columns, &columns))
                    && !matched.contains(&lc.name.as_str())
            }),
        };
        let expected = describe_constraint(kind, &columns, c.validated);
        let object = format!(
            "constraint {} on {table}",
            c.name.map_or_else(|| "(unnamed)".to_owned(), str::to_owned)
        );
        let Some(lc) = found else {
            out.push(SchemaDifference {
                object,
                expected: Some(expected),
                found: None,
            });
            continue;
        };
        matched.push(&lc.name);
        // PostgreSQL lists the columns a check reads; the catalog, the column it was declared on (or
        // none): checks are compared by name, kind and validity only.
        let (live_columns, columns) = if kind == "c" {
            (Vec::new(), Vec::new())
        } else {
            (lc.columns.clone(), columns)
        };
        let mut same =
            lc.kind == kind && lc.validated == c.validated && same_set(&live_columns, &columns);
        if let ConstraintKindSchema::ForeignKey {
            table: target,
            columns: target_columns,
        } = c.kind
        {
            same &= lc.references.as_deref() == Some(target);
            if !target_columns.is_empty() {
                let target_columns: Vec<String> =
                    target_columns.iter().map(|c| (*c).to_owned()).collect();
                same &= same_set(&lc.referenced_columns, &target_columns);
            }
        }
        if !same {
            out.push(SchemaDifference {
                object,
                expected: Some(expected),
                found: Some(describe_constraint(&lc.kind, &live_columns, lc.validated)),
            });
        }
    }
    for lc in &l.constraints {
        if !matched.contains(&lc.name.as_str()) {
            out.push(SchemaDifference {
                object: format!("constraint {} on {table}", lc.name),
                expected: None,
                found: Some(describe_constraint(&lc.kind, &lc.columns, lc.validated)),
            });
        }
    }

    let describe_index = |unique: bool, partial: bool, columns: &[Option<String>]| {
        let cols: Vec<&str> = columns
            .iter()
            .map(|c| c.as_deref().unwrap_or("(expression)"))
            .collect();
        format!(
            "{}index ({}){}",
            if unique { "unique " } else { "" },
            cols.join(", "),
            if partial { " where .." } else { "" }
        )
    };
    for i in t.indexes {
        let columns: Vec<Option<String>> = i.columns.iter().map(|c| c.map(str::to_owned)).collect();
        let expected = describe_index(i.unique, i.partial, &columns);
        let found = l
            .indexes
            .iter()
            .find(|li| li.name == i.name)
            .map(|li| describe_index(li.unique, li.partial, &li.columns));
        if found.as_deref() != Some(expected.as_str()) {
            out.push(SchemaDifference {
                object: format!("index {} on {table}", i.name),
                expected: Some(expected),
                found,
            });
        }
    }
    for li in &l.indexes {
        if !t.indexes.iter().any(|i| i.name == li.name) {
            out.push(SchemaDifference {
                object: format!("index {} on {table}", li.name),
                expected: None,
                found: Some(describe_index(li.unique, li.partial, &li.columns)),
            });
        }
    }
    compare_partitioning(t, l, &table, out);
}

/// The partition key, and the partitions by name (bounds are stored rewritten, so not compared).
fn compare_partitioning(
    t: &TableSchema,
    l: &LiveTable,
    table: &str,
    out: &mut Vec<SchemaDifference>,
) {
    let describe = |strategy: &str, columns: &[String]| {
        format!("partition by {strategy} ({})", columns.join(", "))
    };
    let expected = t.partitioning.map(|p| {
        describe(
            p.strategy,
            &p.columns
                .iter()
                .map(|c| (*c).to_owned())
                .collect::<Vec<_>>(),
        )
    });
    let found = l.partitioning.as_ref().map(|(s, c)| describe(s, c));
    if expected != found {
        out.push(SchemaDifference {
            object: format!("partitioning of {table}"),
            expected,
            found,
        });
    }
    let expected: Vec<&str> = t
        .partitioning
        .iter()
        .flat_map(|p| p.partitions.iter().map(|(name, _)| *name))
        .collect();
    for name in &expected {
        if !l.partitions.iter().any(|p| p == name) {
            out.push(SchemaDifference {
                object: format!("partition {name} of {table}"),
                expected: Some("attached".to_owned()),
                found: None,
            });
        }
    }
    for name in &l.partitions {
        if !expected.contains(&name.as_str()) {
            out.push(SchemaDifference {
                object: format!("partition {name} of {table}"),
                expected: None,
                found: Some("attached".to_owned()),
            });
        }
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// (table, name, contype, columns, referenced table, referenced columns, validated).
type ConstraintRow = (
    String,
    String,
    String,
    Vec<String>,
    Option<String>,
    Vec<String>,
    bool,
);

/// (table, name, key columns (`None` for an expression), unique, partial).
type IndexRow = (String, String, Vec<Option<String>>, bool, bool);

/// Tables, their columns, constraints and indexes in `schemas`, keyed `schema.name`.
async fn read_tables(
    conn: &mut PgConnection,
    schemas: &[&str],
    only: Option<&[String]>,
) -> Result<BTreeMap<String, LiveTable>, sqlx::Error> {
    // Only the tables asked for (a migration's expected tables), else every table of `schemas`.
    let only: Option<Vec<String>> = only.map(<[String]>::to_vec);
    let mut tables: BTreeMap<String, LiveTable> = BTreeMap::new();
    let tables_sql = "SELECT n.nspname || '.' || c.relname
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) AND NOT c.relispartition
            AND ($2::text[] IS NULL OR n.nspname || '.' || c.relname = ANY($2))";
    let names: Vec<String> = sqlx::query_scalar(tables_sql)
        .bind(schemas)
        .bind(&only)
        .fetch_all(&mut *conn)
        .await?;
    for name in names {
        tables.entry(name).or_default();
    }
    let columns: Vec<(String, String, String, bool, String)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname, a.attname::text, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, a.attidentity::text
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
            AND ($2::text[] IS NULL OR n.nspname || '.' || c.relname = ANY($2))
          ORDER BY 1, a.attnum",
    )
    .bind(schemas)
    .bind(&only)
    .fetch_all(&mut *conn)
    .await?;
    for (table, name, ty, not_null, identity) in columns {
        let identity = match identity.as_str() {
            "a" => Identity::Always,
            "d" => Identity::ByDefault,
            _ => Identity::None,
        };
        if let Some(t) = tables.get_mut(&table) {
            t.columns.push((
                name,
                LiveColumn {
                    ty,
                    not_null,
                    identity,
                },
            ));
        }
    }
    // `contype` 'n' (PostgreSQL 18's catalogued NOT NULL) is the column's `NOT NULL`, compared above.
    let constraints: Vec<ConstraintRow> =
        sqlx::query_as(
            "SELECT n.nspname || '.' || c.relname, con.conname::text, con.contype::text,
                    coalesce((SELECT array_agg(a.attname::text ORDER BY k.i)
                                FROM unnest(con.conkey) WITH ORDINALITY k(attnum, i)
                                JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum), '{}'),
                    (SELECT fn.nspname || '.' || f.relname FROM pg_class f
                       JOIN pg_namespace fn ON fn.oid = f.relnamespace WHERE f.oid = con.confrelid),
                    coalesce((SELECT array_agg(a.attname::text ORDER BY k.i)
                                FROM unnest(con.confkey) WITH ORDINALITY k(attnum, i)
                                JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum), '{}'),
                    con.convalidated
               FROM pg_constraint con
               JOIN pg_class c ON c.oid = con.conrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = ANY($1) AND con.contype IN ('p', 'u', 'c', 'f', 'x')
                AND ($2::text[] IS NULL OR n.nspname || '.' || c.relname = ANY($2))
              ORDER BY 1, 2",
        )
        .bind(schemas)
        .bind(&only)
        .fetch_all(&mut *conn)
        .await?;
    for (table, name, kind, columns, references, referenced_columns, validated) in constraints {
        if let Some(t) = tables.get_mut(&table) {
            t.constraints.push(LiveConstraint {
                name,
                kind,
                columns,
                references,
                referenced_columns,
                validated,
            });
        }
    }
    // The key columns come first in `indkey`; `indnkeyatts` (11+) counts them, before 11 every
    // column is a key column.
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await?;
    let keys = if version >= 110_000 {
        "x.indnkeyatts"
    } else {
        "x.indnatts"
    };
    let indexes: Vec<IndexRow> = sqlx::query_as(&format!(
        "SELECT n.nspname || '.' || c.relname, ic.relname::text,
                (SELECT array_agg(a.attname::text ORDER BY k.i)
                   FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, i)
                   LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum AND k.attnum > 0
                  WHERE k.i <= {keys}),
                x.indisunique, x.indpred IS NOT NULL
           FROM pg_index x
           JOIN pg_class c ON c.oid = x.indrelid
           JOIN pg_class ic ON ic.oid = x.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ANY($1)
            AND ($2::text[] IS NULL OR n.nspname || '.' || c.relname = ANY($2))
          ORDER BY 1, 2"
    ))
    .bind(schemas)
    .bind(&only)
    .fetch_all(&mut *conn)
    .await?;
    for (table, name, columns, unique, partial) in indexes {
        if let Some(t) = tables.get_mut(&table) {
            t.indexes.push(LiveIndex {
                name,
                columns,
                unique,
                partial,
            });
        }
    }
    // Partition keys (columns only: an expression key shows as `(expression)`), and partitions.
    let keys: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname,
                CASE p.partstrat WHEN 'r' THEN 'RANGE' WHEN 'l' THEN 'LIST' ELSE 'HASH' END,
                (SELECT array_agg(coalesce(a.attname::text, '(expression)') ORDER BY k.i)
                   FROM unnest(p.partattrs::int2[]) WITH ORDINALITY k(attnum, i)
                   LEFT JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum AND k.attnum > 0)
           FROM pg_partitioned_table p
           JOIN pg_class c ON c.oid = p.partrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ANY($1)",
    )
    .bind(schemas)
    .fetch_all(&mut *conn)
    .await?;
    for (table, strategy, columns) in keys {
        if let Some(t) = tables.get_mut(&table) {
            t.partitioning = Some((strategy, columns));
        }
    }
    let partitions: Vec<(String, String)> = sqlx::query_as(
        "SELECT pn.nspname || '.' || p.relname, cn.nspname || '.' || c.relname
           FROM pg_inherits i
           JOIN pg_class p ON p.oid = i.inhparent
           JOIN pg_namespace pn ON pn.oid = p.relnamespace
           JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_namespace cn ON cn.oid = c.relnamespace
          WHERE p.relkind = 'p' AND c.relkind IN ('r', 'p') AND pn.nspname = ANY($1)
          ORDER BY 1, 2",
    )
    .bind(schemas)
    .fetch_all(&mut *conn)
    .await?;
    for (parent, partition) in partitions {
        if let Some(t) = tables.get_mut(&parent) {
            t.partitions.push(partition);
        }
    }
    Ok(tables)
}

/// Enum types in `schemas` and their values in sort order, keyed `schema.name`.
async fn read_enums(
    conn: &mut PgConnection,
    schemas: &[&str],
) -> Result<BTreeMap<String, Vec<String>>, sqlx::Error> {
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT n.nspname || '.' || t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
           FROM pg_type t
           JOIN pg_namespace n ON n.oid = t.typnamespace
           JOIN pg_enum e ON e.enumtypid = t.oid
          WHERE n.nspname = ANY($1)
          GROUP BY 1",
    )
    .bind(schemas)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}
