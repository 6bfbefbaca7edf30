// Every error of one invocation is reported at once, and the stub module keeps `main` free of
// follow-on "cannot find" errors.
zerodown::migration! {
    /// A migration with one mistake per line.
    pub mod m0007_several {
        create table audit_log (id bigint primary key, at timestamptz not null default now());
        create index audit_log_at_idx on audit_log (at);

        create index users_email_idx on users (email);
        backfill users set token = gen_random_uuid();
        alter table users alter column name type text;
        alter table orders add foreign key (user_id) references users (id) not valid;
        alter table users drop column legacy_flag;
        unsafe(reason = "nothing here needs it", allow = [vacuum_full]) {
            create index concurrently users_name_idx on users (name);
        }
    }
}

fn main() {
    let migration: &zerodown::Migration = &m0007_several::MIGRATION;
    assert_eq!(m0007_several::VERSION, 7);
    assert_eq!(m0007_several::NAME, "several");
    let _ = migration;
}
