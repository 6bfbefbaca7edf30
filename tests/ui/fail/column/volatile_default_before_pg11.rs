zerodown::migration! {
    pub mod m0001_volatile_default_before_pg11 {
        set target_postgres = 10;

        alter table users add column token uuid default gen_random_uuid();
    }
}

fn main() {}
