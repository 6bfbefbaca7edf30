// A whole set in `migrations!`: checked against the schema it builds, listed in `MIGRATIONS`.
mod migrations {
    zerodown::migrations! {
        extern table legacy_events;

        /// Users and orders.
        pub mod m0001_users_and_orders {
            create table users (id bigint generated always as identity primary key, email text, created_at timestamp);
            create table orders (id bigint primary key, user_id bigint references users (id), total numeric(10, 2));
            create type order_state as enum ("new", "paid");
        }
        pub mod m0002_email_index {
            create index concurrently users_email_idx on users (lower(email));
            alter table users add column name text;
            backfill users set name = email where name is null;
        }
        pub mod m0003_state {
            alter table orders add column state order_state;
            alter type order_state add value "shipped" after "paid";
            alter table orders add constraint orders_total_positive check (total > 0) not valid;
            alter table orders validate constraint orders_total_positive;
            alter table legacy_events add column note text;
        }
        pub mod m0004_rename {
            expand alter table users rename column name to full_name;
        }
        pub mod m0005_after_rename {
            create index concurrently users_full_name_idx on users (full_name);
            // No `from`: the set knows `total` is `numeric(10, 2)`, so this widening is free.
            alter table orders alter column total type numeric(14, 2);
            raw(reason = "a view the catalog does not model") "CREATE VIEW paid_orders AS SELECT * FROM orders WHERE state = 'paid'";
        }
    }
}

fn main() {
    let all = migrations::MIGRATIONS;
    let versions: Vec<u64> = all.iter().map(|m| m.version).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    assert_eq!(all[3].name, "rename");
    assert!(all[3].has_contract());
}
