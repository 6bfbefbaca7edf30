//! Adopting zerodown on a database that already has a schema (made by hand, by sqlx migrations, by
//! another tool): [`baseline_migration`] reads the live catalog and writes one DSL migration that
//! recreates it, for the first place of a `migrations!` set.
//!
//! Tables (columns, types, `NOT NULL`, defaults, identity, primary keys, unique, check and foreign key
//! constraints, partitioning: `partition by` and each partition created and attached with its bound),
//! their indexes and enum types become DSL statements, so the set's catalog knows them
//! and checks every later migration against them. Views, functions, triggers, extensions and
//! sequences not owned by a column become `raw` statements, one object each. An expression the DSL
//! cannot spell (a quoted mixed-case name, an `E'..'` string) keeps its table in `raw` too, and the
//! migration's doc comment lists those tables.
//!
//! On the database it was read from, record it as applied without running it: `migrate baseline 1`
//! (`Migrator::baseline`). On an empty database (a developer's, CI's, a test's) it runs like any
//! migration.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sqlx::{Connection, PgConnection};

use crate::connect::ConnectTarget;
use crate::error::Error;

/// Schemas that are PostgreSQL's or an extension's, never the application's.
const SYSTEM_SCHEMAS: &str =
    "('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";

/// The DSL text of a migration module named `module` (`m0001_baseline`) that recreates the schema of
/// the database at `db`, without zerodown's and sqlx's history tables. Reads the catalog on a
/// connection of its own; changes nothing.
pub async fn baseline_migration(db: impl ConnectTarget, module: &str) -> Result<String, Error> {
    let options = db.connect_options();
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(|source| Error::Connect { source })?;
    let result = read(&mut conn).await;
    let _ = conn.close().await;
    let schema = result.map_err(Error::db(
        "reading the schema to write a baseline migration",
    ))?;
    Ok(write(
        &schema,
        module,
        options.get_database().unwrap_or("the database"),
    ))
}

#[derive(Debug, Default)]
struct Live {
    extensions: Vec<String>,
    enums: Vec<(String, Vec<String>)>,
    tables: Vec<Table>,
    /// Indexes not behind a constraint: (table, name, definition as DSL or `None`, `CREATE INDEX` SQL).
    indexes: Vec<(String, String, String)>,
    /// Views, functions, triggers, sequences: (what, SQL).
    others: Vec<(String, String)>,
}

#[derive(Debug)]
struct Table {
    /// As the DSL names it (`users`, `app.users`).
    name: String,
    columns: Vec<Column>,
    constraints: Vec<Constraint>,
    /// A partitioned table's key, `pg_get_partkeydef` (`RANGE (at)`).
    partition_key: Option<String>,
    /// A partition's parent (as the DSL names it) and bound, `pg_get_expr(relpartbound)`
    /// (`FOR VALUES FROM ('a') TO ('b')`, `DEFAULT`).
    partition_of: Option<(String, String)>,
}

#[derive(Debug)]
struct Column {
    name: String,
    ty: String,
    not_null: bool,
    default: Option<String>,
    /// `a` always, `d` by default, empty for none.
    identity: String,
    /// `s` for a stored generated column, with its expression in `default`.
    generated: String,
    /// Its default takes values from a sequence the column owns (a `serial` column).
    serial: bool,
}

#[derive(Debug)]
struct Constraint {
    name: String,
    /// `p`, `u`, `c`, `f`.
    kind: String,
    columns: Vec<String>,
    /// `pg_get_constraintdef`.
    definition: String,
    references: Option<String>,
    referenced_columns: Vec<String>,
    on_delete: String,
    on_update: String,
    validated: bool,
}

async fn server_version(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(conn)
        .await
}

fn dsl_name(schema: &str, name: &str) -> String {
    if schema == "public" {
        name.to_owned()
    } else {
        format!("{schema}.{name}")
    }
}

fn is_history(name: &str) -> bool {
    name.starts_with("zerodown_migrations") || name == "_sqlx_migrations"
}

async fn read(conn: &mut PgConnection) -> Result<Live, sqlx::Error> {
    let mut live = Live {
        extensions: sqlx::query_scalar(
            "SELECT extname::text FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1",
        )
        .fetch_all(&mut *conn)
        .await?,
        ..Live::default()
    };
    let enums: Vec<(String, String, Vec<String>)> = sqlx::query_as(&format!(
        "SELECT n.nspname::text, t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
          WHERE n.nspname NOT IN {SYSTEM_SCHEMAS}
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
          GROUP BY 1, 2, t.oid ORDER BY t.oid"
    ))
    .fetch_all(&mut *conn)
    .await?;
    live.enums = enums
        .into_iter()
        .map(|(s, n, v)| (dsl_name(&s, &n), v))
        .collect();

    type TableRow = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let tables: Vec<TableRow> = sqlx::query_as(&format!(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text,
                CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
                (SELECT CASE WHEN pn.nspname = 'public' THEN p.relname::text ELSE pn.nspname || '.' || p.relname END
                   FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
                  WHERE i.inhrelid = c.oid AND c.relispartition),
                CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN {SYSTEM_SCHEMAS}
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
          ORDER BY c.oid"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut by_oid: BTreeMap<i64, usize> = BTreeMap::new();
    for (oid, schema, name, partition_key, parent, bound) in tables {
        if is_history(&name) {
            continue;
        }
        by_oid.insert(oid, live.tables.len());
        live.tables.push(Table {
            name: dsl_name(&schema, &name),
            columns: Vec::new(),
            constraints: Vec::new(),
            partition_key,
            partition_of: parent.zip(bound),
        });
    }
    let oids: Vec<i64> = by_oid.keys().copied().collect();
    type ColumnRow = (
        i64,
        String,
        String,
        bool,
        Option<String>,
        String,
        String,
        bool,
    );
    // `attgenerated` exists from PostgreSQL 12.
    let version = server_version(conn).await?;
    let generated = if version >= 120_000 {
        "a.attgenerated::text"
    } else {
        "''::text"
    };
    let columns: Vec<ColumnRow> = sqlx::query_as(&format!(
        "SELECT a.attrelid::int8, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, {generated},
                EXISTS (SELECT 1 FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
                         WHERE dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'a')
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = ANY($1::int8[]::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attrelid, a.attnum"
    ))
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await?;
    for (oid, name, ty, not_null, default, identity, generated, owns_sequence) in columns {
        if let Some(&i) = by_oid.get(&oid) {
            let serial = owns_sequence
                && identity.is_empty()
                && default
                    .as_deref()
                    .is_some_and(|d| d.starts_with("nextval("));
            live.tables[i].columns.push(Column {
                name,
                ty,
                not_null,
                default,
                identity,
                generated,
                serial,
            });
        }
    }
    type Row = (
        i64,
        String,
        String,
        Vec<String>,
        String,
        Option<String>,
        Vec<String>,
        String,
        String,
        bool,
    );
    // A partition's keys and foreign keys cloned from its parent's come with the attach (from 11).
    let cloned = if version >= 110_000 {
        "con.contype IN ('p', 'u', 'f') AND con.conparentid <> 0"
    } else {
        "false"
    };
    let constraints: Vec<Row> = sqlx::query_as(&format!(
        "SELECT con.conrelid::int8, con.conname::text, con.contype::text,
                coalesce((SELECT array_agg(a.attname::text ORDER BY k.i)
                            FROM unnest(con.conkey) WITH ORDINALITY k(attnum, i)
                            JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum), '{{}}'),
                pg_get_constraintdef(con.oid),
                (SELECT CASE WHEN fn.nspname = 'public' THEN f.relname::text ELSE fn.nspname || '.' || f.relname END
                   FROM pg_class f JOIN pg_namespace fn ON fn.oid = f.relnamespace WHERE f.oid = con.confrelid),
                coalesce((SELECT array_agg(a.attname::text ORDER BY k.i)
                            FROM unnest(con.confkey) WITH ORDINALITY k(attnum, i)
                            JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum), '{{}}'),
                con.confdeltype::text, con.confupdtype::text, con.convalidated
           FROM pg_constraint con
          WHERE con.conrelid = ANY($1::int8[]::oid[]) AND con.contype IN ('p', 'u', 'c', 'f', 'x')
            AND NOT ({cloned})
          ORDER BY con.conrelid, con.contype DESC, con.conname"
    ))
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await?;
    for (oid, name, kind, columns, definition, references, referenced, del, upd, validated) in
        constraints
    {
        if let Some(&i) = by_oid.get(&oid) {
            live.tables[i].constraints.push(Constraint {
                name,
                kind,
                columns,
                definition,
                references,
                referenced_columns: referenced,
                on_delete: del,
                on_update: upd,
                validated,
            });
        }
    }
    let indexes: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT x.indrelid::int8, i.relname::text, pg_get_indexdef(x.indexrelid)
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
          WHERE x.indrelid = ANY($1::int8[]::oid[])
            AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid AND con.contype IN ('p', 'u', 'x'))
            -- A partition's copy of its parent's index comes with the attach.
            AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = x.indexrelid)
          ORDER BY x.indexrelid",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await?;
    for (oid, name, definition) in indexes {
        if let Some(&i) = by_oid.get(&oid) {
            live.indexes
                .push((live.tables[i].name.clone(), name, definition));
        }
    }
    // Everything else the application owns, as SQL. (`prokind` exists from PostgreSQL 11.)
    let plain_function = if version >= 110_000 {
        "p.prokind IN ('f', 'p')"
    } else {
        "NOT p.proisagg AND NOT p.proiswindow"
    };
    let others: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT 'view ' || c.relname, 'CREATE VIEW ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' AS ' || pg_get_viewdef(c.oid)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'v' AND n.nspname NOT IN {SYSTEM_SCHEMAS}
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
         UNION ALL
         SELECT 'function ' || p.proname, pg_get_functiondef(p.oid)
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname NOT IN {SYSTEM_SCHEMAS} AND {plain_function}
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
         UNION ALL
         SELECT 'trigger ' || t.tgname, pg_get_triggerdef(t.oid)
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT t.tgisinternal AND n.nspname NOT IN {SYSTEM_SCHEMAS}"
    ))
    .fetch_all(&mut *conn)
    .await?;
    live.others = others;
    Ok(live)
}

/// The migration's text.
fn write(live: &Live, module: &str, database: &str) -> String {
    let mut body = String::new();
    for ext in &live.extensions {
        raw(
            &mut body,
            &format!("extension {ext}"),
            &format!("CREATE EXTENSION IF NOT EXISTS {ext}"),
        );
    }
    for (name, values) in &live.enums {
        let values: Vec<String> = values.iter().map(|v| rust_string(v)).collect();
        let _ = writeln!(
            body,
            "        create type {name} as enum ({});",
            values.join(", ")
        );
    }
    // Each table in the DSL, or `None` for one kept in `raw`.
    let dsl: Vec<Option<(String, Vec<String>)>> = live.tables.iter().map(table).collect();
    let raw_tables: Vec<String> = live
        .tables
        .iter()
        .zip(&dsl)
        .filter(|(_, d)| d.is_none())
        .map(|(t, _)| t.name.clone())
        .collect();
    let mut foreign_keys = Vec::new();
    let mut attaches = Vec::new();
    for (t, dsl) in live.tables.iter().zip(dsl) {
        if let Some((parent, bound_sql)) = &t.partition_of {
            let in_dsl = !raw_tables.contains(parent) && !raw_tables.contains(&t.name);
            attaches.push(match bound(bound_sql) {
                Some(b) if in_dsl => Ok(format!(
                    "alter table {parent} attach partition {} {b}",
                    t.name
                )),
                _ => Err((
                    format!("partition {} of {parent}", t.name),
                    format!(
                        "ALTER TABLE {parent} ATTACH PARTITION {} {bound_sql}",
                        t.name
                    ),
                )),
            });
        }
        match dsl {
            Some((create, fks)) => {
                body.push_str(&create);
                foreign_keys.extend(fks);
            }
            None => raw(&mut body, &format!("table {}", t.name), &table_sql(t)),
        }
    }
    for (table, name, definition) in &live.indexes {
        match index(definition) {
            Some(dsl) => {
                let _ = writeln!(body, "        {dsl};");
            }
            None => raw(&mut body, &format!("index {name} on {table}"), definition),
        }
    }
    for attach in attaches {
        match attach {
            Ok(dsl) => {
                let _ = writeln!(body, "        {dsl};");
            }
            Err((what, sql)) => raw(&mut body, &what, &sql),
        }
    }
    for fk in foreign_keys {
        let _ = writeln!(body, "        {fk};");
    }
    for (what, sql) in &live.others {
        raw(&mut body, what, sql.trim_end().trim_end_matches(';'));
    }
    let mut doc = format!(
        "    /// The schema of `{database}` as it was when zerodown was adopted (written by `migrate\n    /// baseline --write`). Recorded as applied there (`migrate baseline 1`); run on an empty database."
    );
    if !raw_tables.is_empty() {
        let _ = write!(
            doc,
            "\n    /// Tables kept as raw SQL (an expression the DSL cannot spell): {}.",
            raw_tables.join(", ")
        );
    }
    format!("{doc}\n    pub mod {module} {{\n{body}    }}\n")
}

fn raw(body: &mut String, what: &str, sql: &str) {
    let _ = writeln!(
        body,
        "        raw(reason = {}) {};",
        rust_string(&format!("baseline: {what}")),
        rust_raw_string(sql)
    );
}

/// `create table` in the DSL and the foreign keys as `alter table .. add constraint` (after every
/// table exists); `None` when an expression cannot be spelt in the DSL.
fn table(t: &Table) -> Option<(String, Vec<String>)> {
    let mut lines = Vec::new();
    for c in &t.columns {
        // A `serial` column: the type makes the sequence, which an empty database lacks.
        let ty = match (c.serial, c.ty.as_str()) {
            (true, "integer") => "serial",
            (true, "bigint") => "bigserial",
            (true, "smallint") => "smallserial",
            (true, _) => return None,
            (false, ty) => ty,
        };
        let mut line = format!("{} {ty}", ident(&c.name)?);
        match c.identity.as_str() {
            "a" => line.push_str(" generated always as identity"),
            "d" => line.push_str(" generated by default as identity"),
            _ => {}
        }
        if c.generated == "s" {
            let expr = sql_to_dsl(c.default.as_deref()?)?;
            line.push_str(&format!(" generated always as ({expr}) stored"));
        } else if let Some(default) = c.default.as_ref().filter(|_| !c.serial) {
            line.push_str(&format!(" default {}", sql_to_dsl(default)?));
        }
        if c.not_null && c.identity.is_empty() && !c.serial {
            line.push_str(" not null");
        }
        lines.push(line);
    }
    let mut fks = Vec::new();
    for c in &t.constraints {
        let columns: Option<Vec<String>> = c.columns.iter().map(|c| ident(c)).collect();
        let columns = columns?.join(", ");
        let name = ident(&c.name)?;
        match c.kind.as_str() {
            "p" => lines.push(format!("constraint {name} primary key ({columns})")),
            "u" => lines.push(format!("constraint {name} unique ({columns})")),
            "c" => {
                let expr = c.definition.strip_prefix("CHECK ")?;
                let expr = expr.strip_suffix(" NOT VALID").unwrap_or(expr);
                let expr = sql_to_dsl(expr)?;
                if c.validated {
                    lines.push(format!("constraint {name} check {expr}"));
                } else {
                    // `create table` validates every constraint: a NOT VALID one is added after.
                    fks.push(format!(
                        "alter table {} add constraint {name} check {expr} not valid",
                        t.name
                    ));
                }
            }
            "f" => {
                let referenced: Option<Vec<String>> =
                    c.referenced_columns.iter().map(|c| ident(c)).collect();
                let mut fk = format!(
                    "alter table {} add constraint {name} foreign key ({columns}) references {} ({})",
                    t.name,
                    c.references.as_deref()?,
                    referenced?.join(", ")
                );
                for (action, code) in [("on delete", &c.on_delete), ("on update", &c.on_update)] {
                    let what = match code.as_str() {
                        "c" => "cascade",
                        "n" => "set null",
                        "d" => "set default",
                        "r" => "restrict",
                        _ => continue,
                    };
                    fk.push_str(&format!(" {action} {what}"));
                }
                if !c.validated {
                    fk.push_str(" not valid");
                }
                fks.push(fk);
            }
            _ => return None,
        }
    }
    let partitioning = match &t.partition_key {
        Some(key) => format!(" {}", partition_by(key)?),
        None => String::new(),
    };
    let create = format!(
        "        create table {} (\n            {}\n        ){partitioning};\n",
        t.name,
        lines.join(",\n            ")
    );
    Some((create, fks))
}

/// The table as SQL, for a table kept in `raw`.
fn table_sql(t: &Table) -> String {
    let mut lines: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let mut line = format!("\"{}\" {}", c.name.replace('"', "\"\""), c.ty);
            match c.identity.as_str() {
                "a" => line.push_str(" GENERATED ALWAYS AS IDENTITY"),
                "d" => line.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
                _ => {}
            }
            match (&c.default, c.generated.as_str()) {
                (Some(d), "s") => line.push_str(&format!(" GENERATED ALWAYS AS ({d}) STORED")),
                (Some(d), _) => line.push_str(&format!(" DEFAULT {d}")),
                (None, _) => {}
            }
            if c.not_null {
                line.push_str(" NOT NULL");
            }
            line
        })
        .collect();
    for c in t.constraints.iter().filter(|c| c.kind != "f") {
        lines.push(format!(
            "CONSTRAINT \"{}\" {}",
            c.name.replace('"', "\"\""),
            c.definition
        ));
    }
    let partitioning = t
        .partition_key
        .as_ref()
        .map(|key| format!(" PARTITION BY {key}"))
        .unwrap_or_default();
    format!(
        "CREATE TABLE {} ({}){partitioning}",
        t.name,
        lines.join(", ")
    )
}

/// `pg_get_partkeydef` (`RANGE (at)`, `LIST (region, kind)`) as the DSL's `partition by range (at)`;
/// `None` for a key the DSL cannot spell (an expression, a quoted name, an operator class).
fn partition_by(key: &str) -> Option<String> {
    let (strategy, columns) = key.split_once(' ')?;
    let strategy = strategy.to_ascii_lowercase();
    if !["range", "list", "hash"].contains(&strategy.as_str()) {
        return None;
    }
    let columns = columns.strip_prefix('(')?.strip_suffix(')')?;
    let columns: Option<Vec<String>> = columns.split(", ").map(ident).collect();
    Some(format!("partition by {strategy} ({})", columns?.join(", ")))
}

/// A partition bound as `pg_get_expr` prints it (`FOR VALUES FROM ('2025-01-01') TO (MAXVALUE)`,
/// `FOR VALUES IN ('a', 'b')`, `FOR VALUES WITH (modulus 4, remainder 0)`, `DEFAULT`) in the DSL:
/// keywords lowercase, strings as Rust strings; `None` for anything else (a cast, an expression).
fn bound(sql: &str) -> Option<String> {
    const WORDS: &[&str] = &[
        "for",
        "values",
        "from",
        "to",
        "in",
        "with",
        "modulus",
        "remainder",
        "minvalue",
        "maxvalue",
        "default",
        "true",
        "false",
        "null",
    ];
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            out.push_str(&rust_string(&sql_string(&chars, &mut i)?));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word = chars[start..i]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
            if !WORDS.contains(&word.as_str()) {
                return None;
            }
            out.push_str(&word);
        } else if c.is_ascii_digit() || " (),.-".contains(c) {
            out.push(c);
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// A `CREATE [UNIQUE] INDEX name ON table USING method (keys) [INCLUDE ..] [WHERE ..]` from
/// `pg_get_indexdef`, as the DSL's `create index` (a plain build: the table is new in the baseline).
fn index(definition: &str) -> Option<String> {
    let (head, rest) = definition.split_once(" USING ")?;
    let (unique, head) = match head.strip_prefix("CREATE UNIQUE INDEX ") {
        Some(h) => (true, h),
        None => (false, head.strip_prefix("CREATE INDEX ")?),
    };
    let (name, table) = head.split_once(" ON ")?;
    let table = table.strip_prefix("ONLY ").unwrap_or(table);
    let table = table.strip_prefix("public.").unwrap_or(table);
    let (method, keys) = rest.split_once(' ')?;
    Some(format!(
        "create {}index {} on {} using {} {}",
        if unique { "unique " } else { "" },
        ident(name)?,
        table,
        method,
        sql_to_dsl(keys)?
    ))
}

/// A name as the DSL writes it, when it can: lowercase, no quotes needed (the DSL folds names).
fn ident(name: &str) -> Option<String> {
    let simple = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !simple {
        return None;
    }
    // A Rust keyword, or a word the DSL reads as a keyword in an expression (`end`, `case`), is a
    // raw identifier.
    Some(
        if RUST_KEYWORDS.contains(&name) || SQL_KEYWORDS.contains(&name) {
            format!("r#{name}")
        } else {
            name.to_owned()
        },
    )
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// The value of the `'..'` literal starting at `chars[*i]`, with `*i` moved past it; `None` when it
/// does not end.
fn sql_string(chars: &[char], i: &mut usize) -> Option<String> {
    let mut value = String::new();
    *i += 1;
    loop {
        match chars.get(*i) {
            None => return None,
            Some('\'') if chars.get(*i + 1) == Some(&'\'') => {
                value.push('\'');
                *i += 2;
            }
            Some('\'') => {
                *i += 1;
                return Some(value);
            }
            Some(ch) => {
                value.push(*ch);
                *i += 1;
            }
        }
    }
}

/// An SQL expression as PostgreSQL deparses it, spelt in the DSL: keywords lowercase, `'text'`
/// literals as Rust strings, quoted names unquoted. `None` for what the DSL cannot spell (a name that
/// needs its quotes, an `E'..'` string, a dollar-quoted string, a parameter).
fn sql_to_dsl(sql: &str) -> Option<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            out.push_str(&rust_string(&sql_string(&chars, &mut i)?));
        } else if c == '"' {
            let end = chars[i + 1..].iter().position(|ch| *ch == '"')? + i + 1;
            let name: String = chars[i + 1..end].iter().collect();
            out.push_str(&ident(&name)?);
            i = end + 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // `E'..'` strings and `$1` parameters have no DSL spelling.
            if (word == "E" || word == "e") && chars.get(i) == Some(&'\'') {
                return None;
            }
            let lower = word.to_ascii_lowercase();
            if word != lower && !SQL_KEYWORDS.contains(&lower.as_str()) {
                return None;
            }
            if RUST_KEYWORDS.contains(&lower.as_str()) && !SQL_KEYWORDS.contains(&lower.as_str()) {
                out.push_str("r#");
            }
            out.push_str(&lower);
        } else if c == '$' {
            return None;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(out)
}

/// The uppercase words PostgreSQL's deparser writes, which the DSL reads lowercase.
const SQL_KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "is",
    "null",
    "true",
    "false",
    "case",
    "when",
    "then",
    "else",
    "end",
    "in",
    "between",
    "like",
    "ilike",
    "similar",
    "to",
    "array",
    "any",
    "all",
    "some",
    "distinct",
    "from",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "current_user",
    "session_user",
    "collate",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "include",
    "where",
    "with",
    "without",
    "time",
    "zone",
    "varying",
    "character",
    "double",
    "precision",
    "timestamp",
    "interval",
    "text",
    "integer",
    "bigint",
    "smallint",
    "numeric",
    "boolean",
];

/// `"text"` as a Rust string literal.
fn rust_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// SQL as a Rust raw string literal, with enough `#` to hold it.
fn rust_raw_string(sql: &str) -> String {
    let mut hashes = 1;
    while sql.contains(&format!("\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let h = "#".repeat(hashes);
    format!("r{h}\"{sql}\"{h}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_spelt_in_the_dsl() {
        assert_eq!(
            sql_to_dsl("(total >= (0)::numeric)").as_deref(),
            Some("(total >= (0)::numeric)")
        );
        assert_eq!(
            sql_to_dsl("'it''s'::text").as_deref(),
            Some("\"it's\"::text")
        );
        assert_eq!(
            sql_to_dsl("((state IS NOT NULL) AND (\"end\" > start))").as_deref(),
            Some("((state is not null) and (r#end > start))")
        );
        assert_eq!(
            sql_to_dsl("nextval('orders_id_seq'::regclass)").as_deref(),
            Some("nextval(\"orders_id_seq\"::regclass)")
        );
        assert_eq!(sql_to_dsl("\"Name\" = 'x'"), None);
        assert_eq!(sql_to_dsl("E'\\\\n'"), None);
        assert_eq!(
            index("CREATE UNIQUE INDEX users_email_idx ON public.users USING btree (lower(email)) WHERE (active IS TRUE)").as_deref(),
            Some("create unique index users_email_idx on users using btree (lower(email)) where (active is true)")
        );
        assert_eq!(
            index("CREATE INDEX l_sku_idx ON app.lines USING btree (sku) INCLUDE (qty) WHERE (qty > 1)").as_deref(),
            Some("create index l_sku_idx on app.lines using btree (sku) include (qty) where (qty > 1)")
        );
        assert_eq!(rust_raw_string("a \"# b"), "r##\"a \"# b\"##");
    }

    #[test]
    fn partition_keys_and_bounds_are_spelt_in_the_dsl() {
        assert_eq!(
            partition_by("RANGE (at)").as_deref(),
            Some("partition by range (at)")
        );
        assert_eq!(
            partition_by("LIST (region, kind)").as_deref(),
            Some("partition by list (region, kind)")
        );
        assert_eq!(partition_by("RANGE (lower(name))"), None);
        assert_eq!(partition_by("HASH (\"Id\")"), None);
        assert_eq!(
            bound("FOR VALUES FROM ('2025-01-01 00:00:00+00') TO (MAXVALUE)").as_deref(),
            Some("for values from (\"2025-01-01 00:00:00+00\") to (maxvalue)")
        );
        assert_eq!(
            bound("FOR VALUES IN ('it''s', 'b')").as_deref(),
            Some("for values in (\"it's\", \"b\")")
        );
        assert_eq!(
            bound("FOR VALUES WITH (modulus 4, remainder 0)").as_deref(),
            Some("for values with (modulus 4, remainder 0)")
        );
        assert_eq!(bound("DEFAULT").as_deref(), Some("default"));
        assert_eq!(bound("FOR VALUES IN ((1 + 2))"), None);
    }

    #[test]
    fn a_partition_of_a_parent_kept_in_raw_is_attached_in_raw() {
        let column = |name: &str| Column {
            name: name.to_owned(),
            ty: "text".to_owned(),
            not_null: false,
            default: None,
            identity: String::new(),
            generated: String::new(),
            serial: false,
        };
        let table = |name: &str, key: Option<&str>, of: Option<(&str, &str)>| Table {
            name: name.to_owned(),
            columns: vec![column("name")],
            constraints: Vec::new(),
            partition_key: key.map(str::to_owned),
            partition_of: of.map(|(p, b)| (p.to_owned(), b.to_owned())),
        };
        let live = Live {
            tables: vec![
                table("people", Some("RANGE (lower(name))"), None),
                table(
                    "people_a",
                    None,
                    Some(("people", "FOR VALUES FROM ('a') TO ('b')")),
                ),
                table("kinds", Some("LIST (name)"), None),
                table("kinds_x", None, Some(("kinds", "FOR VALUES IN ('x')"))),
            ],
            ..Live::default()
        };
        let text = write(&live, "m0001_baseline", "db");
        for expected in [
            "raw(reason = \"baseline: table people\") r#\"CREATE TABLE people (\"name\" text) PARTITION BY RANGE (lower(name))\"#;",
            "create table people_a (",
            "raw(reason = \"baseline: partition people_a of people\") r#\"ALTER TABLE people ATTACH PARTITION people_a FOR VALUES FROM ('a') TO ('b')\"#;",
            ") partition by list (name);",
            "alter table kinds attach partition kinds_x for values in (\"x\");",
            "Tables kept as raw SQL (an expression the DSL cannot spell): people.",
        ] {
            assert!(text.contains(expected), "{expected}\nnot in:\n{text}");
        }
    }
}
