zerodown::migrations! {
    pub mod m0001_base {
        create table users (id bigint generated always as identity primary key, email text);
        create table orders (id bigint primary key, user_id bigint references users (id), total numeric(10, 2));
        create type mood as enum ("happy", "sad");
        create index orders_user_idx on orders (user_id);
    }
    pub mod m0002_typo {
        alter table orders validate constraint orders_totl_positive;
    }
}

fn main() {}
