// Index builds, drops and rebuilds in their online forms, and plain forms on a table created in the
// same migration.
zerodown::migration! {
    /// Indexes without blocking writes.
    pub mod m0001_indexes {
        create index concurrently users_email_idx on users (email);
        create unique index concurrently if not exists users_lower_email_key on users (lower(email))
            where deleted_at is null;
        create index concurrently users_org_created_idx on users using btree (org_id, created_at desc nulls last)
            include (name);
        reindex index concurrently users_email_idx;
        reindex concurrently table users;
        drop index concurrently if exists users_old_idx;

        create table sessions (id bigint primary key, user_id bigint not null);
        create index sessions_user_id_idx on sessions (user_id);
        reindex index sessions_user_id_idx;
        drop index sessions_user_id_idx;
    }
}

fn main() {
    assert!(!m0001_indexes::MIGRATION.expand.steps.is_empty());
}
