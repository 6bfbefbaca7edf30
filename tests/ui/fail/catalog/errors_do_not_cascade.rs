zerodown::migrations! {
    pub mod m0001_users {
        create table users (id bigint primary key, born dat);
    }
    pub mod m0002_index {
        create index concurrently users_born_idx on users (born);
        alter table users alter column brn set not null;
    }
}

// The set still lists both migrations: no follow-on error here.
static _ALL: &[&zerodown::Migration] = MIGRATIONS;

fn main() {}
