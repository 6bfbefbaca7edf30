zerodown::migration! {
    pub mod m0001_default_before_pg11 {
        set target_postgres = 10;

        alter table users add column status text default "active";
    }
}

fn main() {}
