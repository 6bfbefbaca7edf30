// Every overridable rule, each allowed by its own `unsafe` block whose statement breaks exactly it.
zerodown::migration! {
    pub mod m0009_overrides {
        set target_postgres = 12;

        unsafe(reason = "flags has 20 rows", allow = [index_not_concurrent]) {
            create index flags_name_idx on flags (name);
        }
        unsafe(reason = "flags has 20 rows", allow = [drop_index_not_concurrent]) {
            drop index flags_old_idx;
        }
        unsafe(reason = "flags has 20 rows", allow = [reindex_not_concurrent]) {
            reindex index flags_name_idx;
        }
        unsafe(reason = "maintenance window 02:00 UTC", allow = [vacuum_full]) {
            vacuum full flags;
        }
        unsafe(reason = "maintenance window 02:00 UTC", allow = [cluster]) {
            cluster flags using flags_name_idx;
        }
        unsafe(reason = "keeps the two updates below consistent", allow = [lock_table]) {
            lock table flags in share row exclusive mode;
        }
        unsafe(reason = "cache table, rebuilt on start", allow = [truncate]) {
            truncate flag_cache;
        }
        unsafe(reason = "schema unused since v12", allow = [drop_schema]) {
            drop schema if exists legacy cascade;
        }
        unsafe(reason = "scratch database of the import job", allow = [drop_database]) {
            drop database if exists import_scratch;
        }
        unsafe(reason = "matches the name the old tool created", allow = [unnamed_index]) {
            create index concurrently on flags (created_at);
        }
        unsafe(reason = "matches the name the old tool created", allow = [unnamed_constraint]) {
            alter table flags add check (length(name) > 0) not valid;
        }
        unsafe(reason = "flags_slug is immutable, see its definition", allow = [backfill_volatile_without_where]) {
            backfill flags set slug = flags_slug(name);
        }
        create table flag_import (name text not null, slug text);
        raw(reason = "the import tool creates this index itself elsewhere", lock = share) "create unique index flag_import_name on flag_import (name)";
        unsafe(reason = "the raw statement above gives flag_import a unique not-null key", allow = [backfill_without_key]) {
            backfill flag_import set slug = lower(name);
        }
        unsafe(reason = "flags has 20 rows", allow = [add_column_not_null_without_default]) {
            alter table flags add column owner text not null;
        }
        unsafe(reason = "flags has 20 rows", allow = [add_serial_column]) {
            alter table flags add column seq bigserial;
        }
        unsafe(reason = "flags has 20 rows", allow = [add_stored_generated_column]) {
            alter table flags add column label text generated always as (upper(name)) stored;
        }
        unsafe(reason = "flags has 20 rows", allow = [add_column_unique]) {
            alter table flags add column slug text unique;
        }
        unsafe(reason = "flags has 20 rows", allow = [alter_column_type]) {
            alter table flags alter column id type bigint from int;
        }
        unsafe(reason = "flags has 20 rows", allow = [check_without_not_valid]) {
            alter table flags add constraint flags_name_check check (name <> "");
        }
        unsafe(reason = "flags has 20 rows", allow = [foreign_key_without_not_valid]) {
            alter table flags add constraint flags_owner_fkey foreign key (owner_id) references users (id);
        }
        unsafe(reason = "flags has 20 rows", allow = [exclusion_constraint]) {
            alter table flags add constraint flags_no_overlap exclude using gist (name with =, active with &&);
        }
        unsafe(reason = "v41 reads both names", allow = [rename_column]) {
            alter table flags rename column descr to description;
        }
        unsafe(reason = "v41 reads through the feature_flags view", allow = [rename_table]) {
            alter table flags rename to feature_flags;
        }
        unsafe(reason = "unused since v40", allow = [drop_column]) {
            alter table feature_flags drop column legacy;
        }
        unsafe(reason = "unused since v40", allow = [drop_table]) {
            drop table old_flags;
        }
        unsafe(reason = "the enum value was added in m0006, this only reads it back", allow = [new_enum_value_used]) {
            alter type mood add value "tired";
            alter table users alter column mood set default "tired";
        }
        unsafe(reason = "two rules, one statement each", allow = [drop_column, rename_column]) {
            alter table feature_flags drop column legacy2;
            alter table feature_flags rename column a to b;
        }
    }
}

zerodown::migration! {
    pub mod m0010_old_target_overrides {
        set target_postgres = 10;

        unsafe(reason = "flags has 20 rows", allow = [add_column_default_before_pg11]) {
            alter table flags add column enabled boolean default false;
        }
        unsafe(reason = "flags has 20 rows", allow = [set_not_null_before_pg12]) {
            alter table flags alter column name set not null;
        }
    }
}

zerodown::migration! {
    pub mod m0011_target_11_overrides {
        set target_postgres = 11;

        unsafe(reason = "flags has 20 rows", allow = [volatile_default]) {
            alter table flags add column token uuid not null default gen_random_uuid();
        }
    }
}

zerodown::migration! {
    pub mod m0012_fires_user_triggers {
        alter table flags add column kind text;
        // Not a rule any statement breaks: it lets these batches fire the table's own triggers.
        unsafe(reason = "the audit log must record the new kind", allow = [fires_user_triggers]) {
            backfill flags set kind = "flag";
        }
        backfill flags set name = lower(name);
    }
}

zerodown::migration! {
    pub mod m0013_expand_fires_user_triggers {
        unsafe(reason = "the audit trigger must see the copy", allow = [fires_user_triggers]) {
            expand alter table flags alter column id type bigint from integer;
        }
    }
}

fn fires(m: &zerodown::Migration) -> Vec<bool> {
    m.expand
        .steps
        .iter()
        .filter_map(|s| match s.kind {
            zerodown::plan::StepKind::Backfill(b) => Some(b.fire_user_triggers),
            _ => None,
        })
        .collect()
}

fn main() {
    assert_eq!(fires(&m0012_fires_user_triggers::MIGRATION), [true, false]);
    assert_eq!(fires(&m0013_expand_fires_user_triggers::MIGRATION), [true]);
    assert!(!m0009_overrides::MIGRATION.expand.steps.is_empty());
    assert!(!m0010_old_target_overrides::MIGRATION.expand.steps.is_empty());
    assert!(!m0011_target_11_overrides::MIGRATION.expand.steps.is_empty());
}
