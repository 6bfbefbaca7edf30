//! Classification of raw SQL: the PostgreSQL forms issue 12 names, one by one per target version, and a
//! corpus of real statements from public projects' migration folders (source noted on each).

use zerodown_runtime::plan::{LockLevel, PgVersion};

use super::classify::{judge, Finding};
use super::{lock, read, split};

/// What zerodown makes of `sql` on `target`: the rule names and version gates it reports (gates as
/// `gate:<version>`, only those above the target), and the step's lock; `Err` when a statement is
/// unreadable.
fn verdict(sql: &str, target: u32) -> Result<(Vec<String>, LockLevel), String> {
    let target = PgVersion(target);
    let split = split(sql);
    let mut found = Vec::new();
    let mut level = LockLevel::None;
    for stmt in read(sql, &split) {
        let ops = stmt
            .outcome
            .map_err(|e| format!("{} at {}:{}", e.message, e.line, e.column))?;
        for op in &ops {
            for f in judge(op, target) {
                match f {
                    Finding::Rule(rule, _) => found.push(rule.name().to_owned()),
                    Finding::Gate(_, v) if target < PgVersion(v) => found.push(format!("gate:{v}")),
                    Finding::Gate(..) => {}
                }
            }
            level = level.max(lock::lock(op, target));
        }
    }
    Ok((found, level))
}

#[track_caller]
fn assert_verdict(sql: &str, target: u32, rules: &[&str], level: LockLevel) {
    let (found, got) = verdict(sql, target).unwrap_or_else(|e| panic!("{sql}: unreadable: {e}"));
    assert_eq!(found, rules, "{sql} (target {target})");
    assert_eq!(got, level, "{sql} (target {target}): lock");
}

use LockLevel::*;

#[test]
fn rewrites_and_scans_under_blocking_locks() {
    let cases: &[(&str, &[&str], LockLevel)] = &[
        (
            "alter table t set tablespace fast",
            &["table_rewrite"],
            AccessExclusive,
        ),
        (
            "alter table t set unlogged",
            &["table_rewrite"],
            AccessExclusive,
        ),
        (
            "ALTER TABLE t SET LOGGED",
            &["table_rewrite"],
            AccessExclusive,
        ),
        (
            "alter index i set tablespace fast",
            &["table_rewrite"],
            AccessExclusive,
        ),
        (
            "alter table t alter column a type bigint",
            &["alter_column_type"],
            AccessExclusive,
        ),
        (
            "alter table t alter a set data type text collate \"C\"",
            &["alter_column_type"],
            AccessExclusive,
        ),
        (
            "alter table t alter column a set not null",
            &["set_not_null_scan"],
            AccessExclusive,
        ),
        (
            "refresh materialized view mv",
            &["refresh_not_concurrent"],
            AccessExclusive,
        ),
        ("create index i on t (a)", &["index_not_concurrent"], Share),
        (
            "alter table t add constraint f foreign key (a) references p (id)",
            &["foreign_key_without_not_valid"],
            ShareRowExclusive,
        ),
        (
            "alter table t add constraint c check (a > 0)",
            &["check_without_not_valid"],
            AccessExclusive,
        ),
        (
            "alter table t add constraint u unique (a)",
            &["index_not_concurrent"],
            AccessExclusive,
        ),
        (
            "alter table t add constraint e exclude using gist (r with &&)",
            &["exclusion_constraint"],
            AccessExclusive,
        ),
        ("vacuum full t", &["vacuum_full"], AccessExclusive),
        (
            "vacuum (full, analyze) t",
            &["vacuum_full"],
            AccessExclusive,
        ),
        ("cluster t using t_pkey", &["cluster"], AccessExclusive),
        (
            "reindex table t",
            &["reindex_not_concurrent"],
            AccessExclusive,
        ),
        (
            "drop index i",
            &["drop_index_not_concurrent"],
            AccessExclusive,
        ),
        ("lock table t in share mode", &["lock_table"], Share),
        (
            "lock a, only b",
            &["lock_table", "lock_table"],
            AccessExclusive,
        ),
        (
            "create index i on only t (a)",
            &["index_not_concurrent"],
            Share,
        ),
        ("truncate t", &["truncate"], AccessExclusive),
        (
            "alter table t add column c serial",
            &["add_serial_column"],
            AccessExclusive,
        ),
        (
            "alter table t add column c bigint generated always as identity",
            &["add_serial_column"],
            AccessExclusive,
        ),
        (
            "alter table t add column c int unique",
            &["add_column_unique"],
            AccessExclusive,
        ),
        (
            "alter table t add column c int not null",
            &["add_column_not_null_without_default"],
            AccessExclusive,
        ),
        (
            "alter table t add column c uuid default gen_random_uuid()",
            &["volatile_default"],
            AccessExclusive,
        ),
        (
            "alter table t add column c int generated always as (a * 2) stored",
            &["add_stored_generated_column"],
            AccessExclusive,
        ),
    ];
    for (sql, rules, level) in cases {
        assert_verdict(sql, 12, rules, *level);
    }
}

#[test]
fn breaking_changes() {
    let cases: &[(&str, &[&str])] = &[
        ("alter table t drop column a", &["drop_column"]),
        ("alter table t drop a", &["drop_column"]),
        ("alter table t rename column a to b", &["rename_column"]),
        ("alter table t rename a to b", &["rename_column"]),
        ("alter table t rename to u", &["rename_table"]),
        ("alter table t set schema archive", &["rename_table"]),
        ("drop table t", &["drop_table"]),
        (
            "drop table if exists a, b cascade",
            &["drop_table", "drop_table"],
        ),
        ("drop schema s cascade", &["drop_schema"]),
    ];
    for (sql, rules) in cases {
        assert_verdict(sql, 12, rules, AccessExclusive);
    }
}

#[test]
fn safe_forms_break_no_rule_and_infer_their_lock() {
    let cases: &[(&str, LockLevel)] = &[
        ("create index concurrently i on t (a)", ShareUpdateExclusive),
        ("drop index concurrently if exists i", ShareUpdateExclusive),
        ("reindex index concurrently i", ShareUpdateExclusive),
        (
            "reindex (verbose) table concurrently t",
            ShareUpdateExclusive,
        ),
        ("refresh materialized view concurrently mv", Exclusive),
        (
            "alter table t add constraint f foreign key (a) references p (id) not valid",
            ShareRowExclusive,
        ),
        (
            "alter table t add constraint c check (a > 0) not valid",
            AccessExclusive,
        ),
        ("alter table t validate constraint c", ShareUpdateExclusive),
        ("alter table t set (fillfactor = 70)", ShareUpdateExclusive),
        (
            "alter table t alter column a set statistics 1000",
            ShareUpdateExclusive,
        ),
        ("alter table t cluster on t_pkey", ShareUpdateExclusive),
        (
            "create statistics s (dependencies) on a, b from t",
            ShareUpdateExclusive,
        ),
        ("analyze t", ShareUpdateExclusive),
        ("vacuum (analyze) t", ShareUpdateExclusive),
        ("vacuum (full false) t", ShareUpdateExclusive),
        ("comment on table t is 'x'", ShareUpdateExclusive),
        (
            "alter table t add column c int default 0 not null",
            AccessExclusive,
        ),
        (
            "alter table t add column c timestamptz default now()",
            AccessExclusive,
        ),
        (
            "alter table t add column c bigint references p (id)",
            AccessExclusive,
        ),
        (
            "alter table t alter column a drop not null",
            AccessExclusive,
        ),
        (
            "alter table t alter column a set default 0",
            AccessExclusive,
        ),
        ("alter table t detach partition c", AccessExclusive),
        (
            "alter table t add constraint u unique using index i",
            AccessExclusive,
        ),
        (
            "create trigger tg before update on t for each row execute function f()",
            ShareRowExclusive,
        ),
        ("alter table t disable trigger tg", ShareRowExclusive),
        ("insert into t (a) values (1)", RowExclusive),
        ("update t set a = 1 where b = 2", RowExclusive),
        ("delete from t where a = 1", RowExclusive),
        ("select 1", AccessShare),
        ("select * from t for update", RowShare),
        (
            "create table n (id bigint generated always as identity primary key)",
            None,
        ),
        (
            "create table n (p bigint references p (id))",
            ShareRowExclusive,
        ),
        (
            "create or replace function f() returns int language sql as $$ select 1 $$",
            None,
        ),
        ("create type mood as enum ('a', 'b')", None),
        ("alter type mood add value 'c'", None),
        ("create view v as select * from t", AccessShare),
        ("do $$ begin perform 1; end $$", AccessExclusive),
        // As PostgreSQL deparses them (`pg_get_functiondef`, `pg_get_triggerdef`): what `migrate
        // baseline` writes.
        ("CREATE OR REPLACE FUNCTION public.f(a integer) RETURNS TABLE(x integer, y text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path TO 'public' AS $function$ select 1, 'a' $function$", None),
        ("CREATE OR REPLACE FUNCTION public.g() RETURNS void LANGUAGE plpgsql STRICT COST 10 AS $function$ begin end $function$", None),
        ("CREATE OR REPLACE PROCEDURE public.p() LANGUAGE plpgsql AS $procedure$ begin commit; end $procedure$", None),
        ("CREATE SEQUENCE public.s START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1", None),
        ("CREATE TRIGGER t AFTER UPDATE OF a ON public.x FOR EACH ROW WHEN ((old.a IS DISTINCT FROM new.a)) EXECUTE FUNCTION f()", ShareRowExclusive),
        ("grant select on t to reader", AccessExclusive),
    ];
    for (sql, level) in cases {
        assert_verdict(sql, 12, &[], *level);
    }
}

#[test]
fn version_gates() {
    // (sql, the version that has it, rules broken on every version)
    let cases: &[(&str, u32, &[&str])] = &[
        ("alter table p detach partition c concurrently", 14, &[]),
        ("alter table p detach partition c finalize", 14, &[]),
        (
            "alter table t add column g int generated always as (a * 2) virtual",
            18,
            &[],
        ),
        (
            "alter table t add column g int generated always as (a * 2)",
            18,
            &[],
        ),
        (
            "create table n (a int, g int generated always as (a * 2) virtual)",
            18,
            &[],
        ),
        (
            "alter table t add constraint t_a_nn not null a not valid",
            18,
            &[],
        ),
        ("reindex index concurrently i", 12, &[]),
        ("create index concurrently i on t (a) include (b)", 11, &[]),
        (
            "create unique index concurrently i on t (a) nulls not distinct",
            15,
            &[],
        ),
        (
            "alter table t set access method heap2",
            15,
            &["table_rewrite"],
        ),
        (
            "merge into t using s on t.id = s.id when matched then update set a = s.a",
            15,
            &[],
        ),
        (
            "create table n (a int, g int generated always as (a * 2) stored)",
            12,
            &[],
        ),
    ];
    for (sql, version, rules) in cases {
        let below = version - 1;
        let (found, _) = verdict(sql, below).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let gate = format!("gate:{version}");
        assert!(found.contains(&gate), "{sql} on {below}: {found:?}");
        let (found, _) = verdict(sql, *version).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(found, *rules, "{sql} on {version}");
    }
}

#[test]
fn version_dependent_verdicts() {
    let attach = "alter table p attach partition c for values from (1) to (10)";
    assert_verdict(
        attach,
        11,
        &["attach_partition_before_pg12"],
        AccessExclusive,
    );
    assert_verdict(attach, 12, &[], AccessExclusive);
    let rename = "alter index i rename to j";
    assert_verdict(rename, 11, &[], AccessExclusive);
    assert_verdict(rename, 12, &[], ShareUpdateExclusive);
    let default = "alter table t add column c int default 0";
    assert_verdict(
        default,
        10,
        &["add_column_default_before_pg11"],
        AccessExclusive,
    );
    assert_verdict(default, 11, &[], AccessExclusive);
}

#[test]
fn unreadable_statements_are_located() {
    let sql = "select 1;\n  alter table t frobnicate;";
    let e = verdict(sql, 12).unwrap_err();
    assert_eq!(e, "unknown `alter table` action `frobnicate` at 2:3");
    let sql = "insert into t values (1);\nupdate t set a = = 1";
    let e = verdict(sql, 12).unwrap_err();
    assert!(e.ends_with("at 2:18"), "{e}");
    // An error at the end of the statement points there.
    let sql = "select 1;\n  insert into t values (1, 2";
    let e = verdict(sql, 12).unwrap_err();
    assert!(e.ends_with("found: EOF at 2:29"), "{e}");
    let sql = "create tabel t (a int)";
    let e = verdict(sql, 12).unwrap_err();
    assert!(e.ends_with("at 1:8"), "{e}");
    // An unterminated string: the tokenizer's position.
    let e = verdict("select 'abc", 12).unwrap_err();
    assert!(e.contains("Unterminated string literal"), "{e}");
}

#[test]
fn transaction_control_is_found_before_parsing() {
    for sql in [
        "begin; update t set a = 1; commit",
        "update t set a = 1; commit",
        "savepoint a",
    ] {
        assert!(split(sql).control.is_some(), "{sql}");
    }
}

/// Real statements from public projects' migration folders, with the verdict on PostgreSQL 12.
#[test]
fn corpus_of_real_migrations() {
    let corpus: &[(&str, &str, &[&str], LockLevel)] = &[
        // zulip/zulip zerver/migrations/0745_index_fts_message_id.py (sql and reverse_sql)
        ("zulip 0745", "CREATE INDEX CONCURRENTLY IF NOT EXISTS fts_update_log_message_id\n                ON fts_update_log(message_id)", &[], ShareUpdateExclusive),
        ("zulip 0745 reverse", "DROP INDEX CONCURRENTLY IF EXISTS fts_update_log_message_id", &[], ShareUpdateExclusive),
        // zulip/zulip zerver/migrations/0095_index_unread_user_messages.py (reverse_sql)
        ("zulip 0095 reverse", "DROP INDEX zerver_usermessage_unread_message_id;", &["drop_index_not_concurrent"], AccessExclusive),
        // zitadel/zitadel cmd/setup/25.sql
        ("zitadel 25", "ALTER TABLE IF EXISTS projections.users13_notifications ADD COLUMN IF NOT EXISTS verified_email_lower TEXT GENERATED ALWAYS AS (lower(verified_email)) STORED;", &["add_stored_generated_column"], AccessExclusive),
        ("zitadel 25", "CREATE INDEX IF NOT EXISTS users13_notifications_email_search ON projections.users13_notifications (instance_id, verified_email_lower);", &["index_not_concurrent"], Share),
        ("zitadel 25", "CREATE INDEX CONCURRENTLY IF NOT EXISTS users10_notifications_email_search ON projections.users10_notifications (instance_id, verified_email_lower);", &[], ShareUpdateExclusive),
        // gitlabhq/gitlabhq db/migrate/20240604051641_create_partitions_for_p_ci_build_sources.rb
        ("gitlab 20240604051641", "LOCK TABLE p_ci_builds IN SHARE ROW EXCLUSIVE MODE;\n      LOCK TABLE ONLY p_ci_build_sources IN ACCESS EXCLUSIVE MODE;\n\n      CREATE TABLE IF NOT EXISTS gitlab_partitions_dynamic.ci_build_sources_100\n        PARTITION OF p_ci_build_sources\n        FOR VALUES IN (100);", &["lock_table", "lock_table"], AccessExclusive),
        ("gitlab 20240604051641 down", "DROP TABLE IF EXISTS gitlab_partitions_dynamic.ci_build_sources_100;", &["drop_table"], AccessExclusive),
        // sbdchd/squawk docs/docs/adding-foreign-key-constraint.md (its before/after migration)
        ("squawk fk", "ALTER TABLE \"email\" ADD CONSTRAINT \"fk_user\"\n    FOREIGN KEY (\"user_id\") REFERENCES \"user\" (\"id\");", &["foreign_key_without_not_valid"], ShareRowExclusive),
        ("squawk fk", "ALTER TABLE \"email\" ADD CONSTRAINT \"fk_user\"\n    FOREIGN KEY (\"user_id\") REFERENCES \"user\" (\"id\") NOT VALID;\nALTER TABLE \"email\" VALIDATE CONSTRAINT \"fk_user\";", &[], ShareRowExclusive),
        // Karma3Labs/ts-lens migrations/20230225190012_follow_views.js
        ("ts-lens follow_views", "create index k3l_follow_counts_profile_id_idx on k3l_follow_counts(to_profile_id);\n\n\t\trefresh materialized view k3l_follow_counts;", &["index_not_concurrent", "refresh_not_concurrent"], AccessExclusive),
        // LemmyNet/lemmy migrations/2020-06-30-135809_remove_mat_views/down.sql
        ("lemmy remove_mat_views", "DROP TABLE user_fast;\n\nDROP VIEW post_fast_view;", &["drop_table"], AccessExclusive),
        ("lemmy remove_mat_views", "CREATE UNIQUE INDEX idx_private_message_mview_id ON private_message_mview (id);", &["index_not_concurrent"], Share),
        ("lemmy remove_mat_views", "CREATE OR REPLACE FUNCTION refresh_private_message ()\n    RETURNS TRIGGER\n    LANGUAGE plpgsql\n    AS $$\nBEGIN\n    REFRESH MATERIALIZED VIEW CONCURRENTLY private_message_mview;\n    RETURN NULL;\nEND\n$$;", &[], None),
        ("lemmy remove_mat_views", "CREATE TRIGGER refresh_private_message\n    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON private_message\n    FOR EACH statement\n    EXECUTE PROCEDURE refresh_private_message ();", &[], ShareRowExclusive),
        // hyouhyan/jojihouse-system script/db-init/postgres/init99-contact2discordid.sql
        ("jojihouse init99", "ALTER TABLE users RENAME COLUMN contact TO discord_id;\n\nALTER TABLE users ALTER COLUMN discord_id TYPE BIGINT USING discord_id::BIGINT;\n\nALTER TABLE users ADD CONSTRAINT unique_discord_id UNIQUE (discord_id);", &["rename_column", "alter_column_type", "index_not_concurrent"], AccessExclusive),
        // Belwalpradeep15/app Added/db/migrate/20201110224000_update_events_id_bigint.rb
        ("events bigint", "ALTER TABLE events\n      ALTER COLUMN id TYPE bigint;", &["alter_column_type"], AccessExclusive),
        // DetactiveApp/api drizzle/0001_wooden_ultron.sql
        ("drizzle 0001_wooden_ultron", "ALTER TABLE \"users\" ALTER COLUMN \"id\" SET DEFAULT gen_random_uuid();", &[], AccessExclusive),
        ("drizzle 0001_wooden_ultron", "ALTER TABLE \"users\" ALTER COLUMN \"username\" SET NOT NULL;", &["set_not_null_scan"], AccessExclusive),
        ("drizzle 0001_wooden_ultron", "ALTER TABLE \"users\" ADD CONSTRAINT \"users_username_unique\" UNIQUE(\"username\");", &["index_not_concurrent"], AccessExclusive),
        // sulemanahmadzai/DanceOne-Onboarding drizzle/0001_yummy_kree.sql
        ("drizzle 0001_yummy_kree", "ALTER TABLE \"users\" ALTER COLUMN \"password_hash\" DROP NOT NULL;", &[], AccessExclusive),
        ("drizzle 0001_yummy_kree", "ALTER TABLE \"users\" ADD COLUMN \"supabase_auth_id\" varchar(100);", &[], AccessExclusive),
        ("drizzle 0001_yummy_kree", "ALTER TABLE \"users\" ADD COLUMN \"is_active\" boolean DEFAULT true NOT NULL;", &[], AccessExclusive),
        // TomoyukiMatsuda/Runmie apps/backend/prisma/migrations/20250112005727_/migration.sql
        ("prisma 20250112005727", "-- AlterTable\nALTER TABLE \"users\" ADD COLUMN     \"supabaseId\" CHAR(28) NOT NULL;\n\n-- CreateIndex\nCREATE UNIQUE INDEX \"users_supabaseId_key\" ON \"users\"(\"supabaseId\");", &["add_column_not_null_without_default", "index_not_concurrent"], AccessExclusive),
        // datacycle-engine/dataCycle-CORE db/migrate/20230810101627_vacuum_after_cleanup.rb
        ("dataCycle vacuum", "VACUUM things, thing_translations, thing_histories, thing_history_translations;", &[], ShareUpdateExclusive),
        // NFTEarth/indexer packages/indexer/src/migrations/1676810415295_optimize-tables.sql
        ("indexer optimize-tables", "ALTER TABLE \"attribute_keys\" SET (autovacuum_vacuum_scale_factor = 0.0);\nALTER TABLE \"attribute_keys\" SET (autovacuum_vacuum_threshold = 5000);", &[], ShareUpdateExclusive),
        // oxford-pharmacoepi/etl_ndorms sql_scripts/5a4_cdm_pk_idx_metadata.sql ({TARGET_SCHEMA} written as cdm)
        ("etl_ndorms 5a4", "CLUSTER cdm.metadata USING idx_metadata_id_1;", &["cluster"], AccessExclusive),
        // kkehl-usgs/schema-wqp-core liquibase/changeLogs/wqp/schemaLoad/tables/orgGrouping/detachPartitions.sql
        ("wqp detachPartitions", "ALTER TABLE wqp.org_grouping DETACH PARTITION wqp.org_grouping_nwis;\nALTER TABLE wqp.org_grouping_nwis set logged;", &["table_rewrite"], AccessExclusive),
        // lctech-roy/ForumDataMigration ScriptSchema/Attachment/BeforeCopy.sql
        ("ForumDataMigration BeforeCopy", "ALTER TABLE \"Attachment\"\n    DROP CONSTRAINT IF EXISTS \"PK_Attachment\" CASCADE;\n\nDROP INDEX IF EXISTS \"IX_Attachment_Bucket_StoragePath_Name\";\n\nALTER TABLE \"Attachment\"\n    SET UNLOGGED;", &["drop_index_not_concurrent", "table_rewrite"], AccessExclusive),
        // danbooru/danbooru db/migrate/20160820003534_create_post_updates.rb
        ("danbooru post_updates", "create unlogged table post_updates ( post_id integer, constraint unique_post_id unique(post_id) )", &[], None),
    ];
    for (source, sql, rules, level) in corpus {
        let (found, got) = verdict(sql, 12).unwrap_or_else(|e| panic!("{source}: unreadable: {e}"));
        assert_eq!(found, *rules, "{source}: {sql}");
        assert_eq!(got, *level, "{source}: {sql}: lock");
    }
    // jmarbasura/exercise deploy/alter_table_only/music.streaming_plays-music.streaming_plays_y2024m02.sql:
    // a sqitch change with its own BEGIN/COMMIT, and an attach that scans under ACCESS EXCLUSIVE before 12.
    let sqitch = "BEGIN;\n\nALTER TABLE ONLY music.streaming_plays ATTACH PARTITION music.streaming_plays_y2024m02 FOR VALUES FROM ('2024-02-01 00:00:00') TO ('2024-03-01 00:00:00');\n\nCOMMIT;";
    assert_eq!(split(sqitch).control, Some("begin"));
    let attach = "ALTER TABLE ONLY music.streaming_plays ATTACH PARTITION music.streaming_plays_y2024m02 FOR VALUES FROM ('2024-02-01 00:00:00') TO ('2024-03-01 00:00:00');";
    assert_verdict(
        attach,
        11,
        &["attach_partition_before_pg12"],
        AccessExclusive,
    );
    assert_verdict(attach, 12, &[], AccessExclusive);
}
