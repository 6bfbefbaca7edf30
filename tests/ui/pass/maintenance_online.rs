// Maintenance that is online as written: renaming an index, analyzing, refreshing a materialized
// view concurrently. In a set, a renamed index is known under its new name.
zerodown::migrations! {
    pub mod m0001_base {
        create table users (id bigint primary key, email text);
        create index users_email_idx on users (email);
    }
    pub mod m0002_maintenance {
        alter index users_email_idx rename to users_mail_idx;
        analyze users (email);
        refresh materialized view concurrently user_counts;
    }
    pub mod m0003_after {
        drop index concurrently users_mail_idx;
    }
}

fn main() {
    assert_eq!(MIGRATIONS.len(), 3);
}
