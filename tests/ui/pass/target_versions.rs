// What older targets accept: columns without defaults on 10, `set not null` through a check on 11.
zerodown::migration! {
    pub mod m0008_pg10 {
        set target_postgres = 10;
        alter table users add column last_seen timestamptz;
        alter table users add constraint users_email_not_null check (email is not null) not valid;
        alter table users validate constraint users_email_not_null;
    }
}

fn main() {
    assert_eq!(m0008_pg10::MIGRATION.settings.target.0, 10);
}
