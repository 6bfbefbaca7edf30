// The catalog knows the index's columns are `NOT NULL` (declared so, or set in the same statement):
// attaching the primary key scans nothing, so it is accepted even for a PostgreSQL 10 target.
zerodown::migrations! {
    pub mod m0001_base {
        set target_postgres = 10;
        create table tokens (id int not null, value text);
        create table codes (code text, value text);
    }
    pub mod m0002_keys {
        set target_postgres = 10;
        create unique index concurrently tokens_id_key on tokens (id);
        alter table tokens add constraint tokens_pkey primary key using index tokens_id_key;
    }
    pub mod m0003_codes {
        set target_postgres = 12;
        create unique index concurrently codes_code_key on codes (code);
        alter table codes alter column code set not null, add constraint codes_pkey primary key using index codes_code_key;
    }
}

fn main() {
    let _ = &MIGRATIONS;
}
