// Constraints added the online way: `not valid` then `validate`, and unique keys through an index.
zerodown::migration! {
    pub mod m0004_constraints {
        alter table users add constraint users_age_check check (age >= 0) not valid;
        alter table users validate constraint users_age_check;
        alter table orders add constraint orders_user_id_fkey
            foreign key (user_id) references users (id) on delete cascade not valid;
        alter table orders validate constraint orders_user_id_fkey;
        alter table users add constraint users_email_key unique (email);
        alter table accounts add constraint accounts_pkey primary key (id);
        create unique index concurrently users_handle_idx on users (handle);
        alter table users add constraint users_handle_key unique using index users_handle_idx;
        create unique index concurrently events_id_idx on events (id);
        alter table events add constraint events_pkey primary key using index events_id_idx;
    }
}

fn main() {
    assert!(!m0004_constraints::MIGRATION.expand.steps.is_empty());
}
