// Raw SQL that the parser reads and accepts: online forms with the lock they take, overrides on the
// `raw` itself and in an `unsafe` block, tables new in this migration, newer syntax on a target that
// has it, and SQL the parser cannot read when `raw_unparsed` is allowed.
zerodown::migration! {
    pub mod m0001_raw_sql_checked {
        set target_postgres = 18;

        raw(reason = "covering index for the orders page", lock = share_update_exclusive, no_transaction)
            "create index concurrently orders_user_idx on orders (user_id) include (total)";
        raw(reason = "fk without blocking writes", lock = share_row_exclusive)
            "alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid";
        raw(reason = "validate without blocking writes", lock = share_update_exclusive)
            "alter table orders validate constraint orders_user_fk";
        raw(reason = "online not null on 18", lock = access_exclusive)
            "alter table users add constraint users_email_not_null not null email not valid";
        raw(reason = "old partition", lock = share_update_exclusive, no_transaction)
            "alter table events detach partition events_2020 concurrently";
        raw(reason = "refresh without blocking readers", lock = exclusive)
            "refresh materialized view concurrently user_stats";
        raw(reason = "the archive is idle", allow = [table_rewrite]) "alter table archive set unlogged";
        unsafe(reason = "admin-only table with 12 rows", allow = [index_not_concurrent]) {
            raw(reason = "lookup by name", lock = share) "create index plans_name_idx on plans (name)";
        }
        raw(reason = "staging table") "create table staging (id bigint, payload jsonb)";
        raw(reason = "index the new table", lock = share) "create index staging_id_idx on staging (id)";
        raw(reason = "an extension's own syntax", lock = row_exclusive, allow = [raw_unparsed])
            "select * from cypher('graph', $$ match (n) return n $$) as (n agtype)";
    }
}

fn main() {
    let m = &m0001_raw_sql_checked::MIGRATION;
    assert_eq!(m.settings.target.0, 18);
}
