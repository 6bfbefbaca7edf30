// The catalog knows `tokens.id` allows NULLs: attaching the primary key would scan under ACCESS
// EXCLUSIVE to set it `not null`, on every version.
zerodown::migrations! {
    pub mod m0001_base {
        create table tokens (id int, value text);
    }
    pub mod m0002_key {
        set target_postgres = 15;
        create unique index concurrently tokens_id_key on tokens (id);
        alter table tokens add constraint tokens_pkey primary key using index tokens_id_key;
    }
}

fn main() {}
