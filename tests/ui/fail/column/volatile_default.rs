zerodown::migration! {
    pub mod m0001_volatile_default {
        set target_postgres = 11;

        alter table users add column token uuid not null default gen_random_uuid();
    }
}

fn main() {}
